// aimc_sram.sv - a synchronous SRAM: one write port, one read port with one cycle of latency.
//
// The behavioural body infers a memory (Verilator and Icarus simulate it; FPGA tools map it to
// block RAM). `make synth` reads this file with `read_verilog -lib`, so Yosys keeps every
// instance as a macro cell (an SRAM from a memory compiler) instead of mapping a memory of
// millions of bits to flip-flops; its own run on this module shows the memory it infers.
// A read of the word written at the same edge returns the old word (the users bypass it).
`default_nettype none
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
  logic [W-1:0] mem [0:DEPTH-1];

  always_ff @(posedge clk) begin
    if (we) mem[waddr] <= wdata;
    if (re) rdata <= mem[raddr];
  end
endmodule : aimc_sram
`default_nettype wire
