// aimc_sram.sv - a synchronous SRAM: one write port, one read port with one cycle of latency.
//
// Simulators (Verilator, Icarus) run the behavioural body, which infers a memory. Under Yosys
// (read_verilog defines SYNTHESIS) the module is a black box: the SRAM macro a memory compiler
// provides, so that `synth -top aimc_top` keeps each SRAM as one cell instead of mapping
// millions of bits to flip-flops. Define AIMC_SRAM_INFER (read_verilog -DAIMC_SRAM_INFER) to
// synthesize the body instead, as an FPGA flow that maps memories to block RAM would;
// rtl/synth.sh does so on a small instance to show that it infers a memory, no flip-flops.
// A read of the word written at the same edge returns the old word (the users bypass it).
`ifdef SYNTHESIS
`ifndef AIMC_SRAM_INFER
`define AIMC_SRAM_MACRO
`endif
`endif
`default_nettype none
`ifdef AIMC_SRAM_MACRO
(* blackbox *)
`endif
module aimc_sram #(
  parameter W     = 64,        // bits per word
  parameter DEPTH = 256,       // words
  parameter AW    = 8          // address bits, 2^AW >= DEPTH
) (
  input  wire          clk,
  input  wire          we,
  input  wire [AW-1:0] waddr,
  input  wire [W-1:0]  wdata,
  input  wire          re,
  input  wire [AW-1:0] raddr,
  output logic [W-1:0] rdata
);
`ifndef AIMC_SRAM_MACRO
  logic [W-1:0] mem [0:DEPTH-1];

  always_ff @(posedge clk) begin
    if (we) mem[waddr] <= wdata;
    if (re) rdata <= mem[raddr];
  end
`endif
endmodule : aimc_sram
`undef AIMC_SRAM_MACRO
`default_nettype wire
