// aimc_axil.sv - the register window's AXI4-Lite slave (32-bit data, 4 KiB of addresses).
//
// AXI4-Lite rather than APB: the device's DMA is an AXI4 master on the SoC's AXI
// interconnect, so the registers hang off the same fabric without an AXI-to-APB bridge, and a
// host's AXI4 master reaches them directly. One access at a time, as sim/device's register
// model takes them: a write needs its address and data beat together (taken in one cycle);
// a read waits while a write is offered. The access goes to aimc_regblock one cycle after the
// handshake (registered, so no bus signal reaches the core combinationally); the response
// (B or R, OKAY) follows when the register block answers. A write whose WSTRB is not 4'hF is
// answered SLVERR and changes nothing: the registers are 32-bit words with side effects (RW1C,
// DOORBELL, the ring rules), and a partial write has no meaning for them.
`default_nettype none
module aimc_axil (
  input  wire         clk,
  input  wire         rst_n,
  // AXI4-Lite slave
  input  wire         s_awvalid,
  output logic        s_awready,
  input  wire  [11:0] s_awaddr,
  input  wire         s_wvalid,
  output logic        s_wready,
  input  wire  [31:0] s_wdata,
  input  wire  [3:0]  s_wstrb,
  output logic        s_bvalid,
  input  wire         s_bready,
  output logic [1:0]  s_bresp,
  input  wire         s_arvalid,
  output logic        s_arready,
  input  wire  [11:0] s_araddr,
  output logic        s_rvalid,
  input  wire         s_rready,
  output logic [31:0] s_rdata,
  output logic [1:0]  s_rresp,
  // one access to the register block
  output logic        acc_valid,
  output logic        acc_write,
  output logic [11:0] acc_addr,
  output logic [31:0] acc_wdata,
  input  wire         acc_done,
  input  wire  [31:0] acc_rdata
);
  localparam [1:0] RESP_OKAY = 2'b00, RESP_SLVERR = 2'b10;
  localparam [1:0] AX_IDLE = 2'd0, AX_BUSY = 2'd1, AX_RESP = 2'd2;

  logic [1:0] st;
  logic       take_w, take_r;
  assign take_w    = st == AX_IDLE && s_awvalid && s_wvalid;
  assign take_r    = st == AX_IDLE && !take_w && s_arvalid;
  assign s_awready = take_w;
  assign s_wready  = take_w;
  assign s_arready = take_r;

  always_ff @(posedge clk) begin
    acc_valid <= 1'b0;
    if (!rst_n) begin
      st        <= AX_IDLE;
      acc_write <= 1'b0;
      acc_addr  <= 12'd0;
      acc_wdata <= 32'd0;
      s_bvalid  <= 1'b0;
      s_bresp   <= RESP_OKAY;
      s_rvalid  <= 1'b0;
      s_rdata   <= 32'd0;
      s_rresp   <= RESP_OKAY;
    end else begin
      case (st)
        AX_IDLE: begin
          if (take_w && s_wstrb != 4'hF) begin
            s_bvalid <= 1'b1;              // a partial write: refused, nothing changes
            s_bresp  <= RESP_SLVERR;
            st       <= AX_RESP;
          end else if (take_w || take_r) begin
            acc_valid <= 1'b1;
            acc_write <= take_w;
            acc_addr  <= take_w ? s_awaddr : s_araddr;
            acc_wdata <= take_w ? s_wdata : 32'd0;
            st        <= AX_BUSY;
          end
        end
        AX_BUSY: begin
          if (acc_done) begin
            if (acc_write) begin
              s_bvalid <= 1'b1;
              s_bresp  <= RESP_OKAY;
            end else begin
              s_rvalid <= 1'b1;
              s_rdata  <= acc_rdata;
              s_rresp  <= RESP_OKAY;
            end
            st <= AX_RESP;
          end
        end
        default: begin   // AX_RESP: until the master takes the response
          if (s_bvalid && s_bready) s_bvalid <= 1'b0;
          if (s_rvalid && s_rready) s_rvalid <= 1'b0;
          if ((s_bvalid && s_bready) || (s_rvalid && s_rready)) st <= AX_IDLE;
        end
      endcase
    end
  end
endmodule : aimc_axil
`default_nettype wire
