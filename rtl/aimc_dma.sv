// aimc_dma.sv - the device's AXI4 master: moves one byte range per request between host
// memory and the device, in bursts.
//
// A request (req_valid for one cycle while idle) names a range [req_addr, req_addr + req_len)
// of bytes, a direction and an AXI ID (0: the command processor's ring, descriptors and status
// words; 1: operands). The range is cut into transactions, one outstanding at a time: an
// unaligned head and tail as narrow transfers (1, 2 or 4 bytes, naturally aligned, ARSIZE or
// AWSIZE below 3), the aligned body as INCR bursts of 8-byte beats, at most MAX_BEATS long and
// never across a 4 KiB boundary. So every byte the master reads or writes lies inside the range:
// a fault (RRESP or BRESP not OKAY) means the range is not all host memory.
//
// Reads: each beat comes out on rd_* (its 8-byte-aligned address, data, the byte lanes that
// belong to the range, and rd_err for a faulted beat). After the first faulted transaction the
// rest of the range is not read; done pulses with err.
// Writes: for each beat the engine asks the source (wr_req for one cycle, wr_addr: the aligned
// address; the source registers its answer at that edge: wr_data, and wr_strb, the bytes to
// write); the beat's WSTRB is that strobe within the transfer's lanes. After a transaction
// answered with an error the rest is not written; done pulses with err.
// A range running past the end of the address space is moved up to that end; done then
// pulses with err.
// abort (a soft reset) ends the request: a transaction in flight finishes on the bus (AXI
// cannot take it back), its remaining write beats with WSTRB 0, and no further data is
// delivered or written; done does not pulse.
`default_nettype none
module aimc_dma #(
  parameter MAX_BEATS = 16           // beats per burst, a power of two <= 256
) (
  input  wire         clk,
  input  wire         rst_n,
  input  wire         abort,
  // request
  input  wire         req_valid,
  input  wire         req_write,
  input  wire  [63:0] req_addr,
  input  wire  [63:0] req_len,        // bytes, >= 1
  input  wire         req_id,
  output logic        busy,
  output logic        done,           // one cycle: the range is moved (or failed: err)
  output logic        err,
  // read data
  output logic        rd_valid,
  output logic [63:0] rd_addr,
  output logic [63:0] rd_data,
  output logic [7:0]  rd_strb,
  output logic        rd_err,
  // write data source
  output logic        wr_req,
  output logic [63:0] wr_addr,
  input  wire  [63:0] wr_data,
  input  wire  [7:0]  wr_strb,
  // AXI4 master: read address, read data
  output logic        m_arvalid,
  input  wire         m_arready,
  output logic [63:0] m_araddr,
  output logic [7:0]  m_arlen,
  output logic [2:0]  m_arsize,
  output logic [1:0]  m_arburst,
  output logic        m_arid,
  input  wire         m_rvalid,
  output logic        m_rready,
  input  wire  [63:0] m_rdata,
  input  wire  [1:0]  m_rresp,
  input  wire         m_rlast,
  input  wire         m_rid,
  // write address, write data, write response
  output logic        m_awvalid,
  input  wire         m_awready,
  output logic [63:0] m_awaddr,
  output logic [7:0]  m_awlen,
  output logic [2:0]  m_awsize,
  output logic [1:0]  m_awburst,
  output logic        m_awid,
  output logic        m_wvalid,
  input  wire         m_wready,
  output logic [63:0] m_wdata,
  output logic [7:0]  m_wstrb,
  output logic        m_wlast,
  input  wire         m_bvalid,
  output logic        m_bready,
  input  wire  [1:0]  m_bresp,
  input  wire         m_bid
);
  localparam [3:0] D_IDLE = 4'd0, D_PLAN = 4'd1, D_AR = 4'd2, D_R = 4'd3, D_AW = 4'd4,
                   D_WREQ = 4'd5, D_WDATA = 4'd6, D_W = 4'd7, D_B = 4'd8;
  localparam [61:0] MAXB62 = MAX_BEATS;
  localparam [8:0]  MAXB9  = MAX_BEATS;

  logic [3:0]  st;
  logic        wr, id, failed, aborted, ovf;
  logic [63:0] cur;            // the next byte to move
  logic [64:0] left;           // bytes left to move
  logic [64:0] fin;            // the request's end (bit 64: past the address space)
  // the transaction being moved
  logic [63:0] t_addr;         // its first byte
  logic [2:0]  t_size;         // log2 of its beat size
  logic [8:0]  t_beats;        // beats in it
  logic [8:0]  t_n;            // beats done
  logic        t_err;          // a beat or the response was not OKAY
  logic [7:0]  wstrb_q;        // the beat's strobe, as the source answered

  // ---- the next transaction of [cur, cur + left) ----
  logic [9:0]  to_page;        // 8-byte beats to the next 4 KiB boundary
  logic [8:0]  fit;            // full beats that fit in a burst, the range and the page
  logic        narrow;
  logic [2:0]  n_size;
  logic [8:0]  n_beats;
  assign fin     = {1'b0, req_addr} + {1'b0, req_len};
  assign to_page = 10'd512 - {1'b0, cur[11:3]};
  assign fit     = left[64:3] >= MAXB62 ? MAXB9 : {1'b0, left[10:3]};
  assign narrow  = cur[2:0] != 3'd0 || left < 65'd8;
  // narrow: the largest naturally aligned size that fits; else 8-byte beats
  assign n_size  = !narrow ? 3'd3 :
                   cur[1:0] == 2'd0 && left >= 65'd4 ? 3'd2 :
                   cur[0] == 1'b0 && left >= 65'd2 ? 3'd1 : 3'd0;
  assign n_beats = narrow ? 9'd1 : {1'b0, fit} > to_page ? to_page[8:0] : fit;
  logic [63:0] n_bytes;
  assign n_bytes = n_size == 3'd3 ? {52'd0, n_beats, 3'd0} : 64'd1 << n_size;

  // the byte lanes of beat address a (aligned) that this transaction moves
  logic [7:0] lanes;
  logic [63:0] beat_addr;
  assign beat_addr = t_size == 3'd3 ? {t_addr[63:3], 3'd0} + {52'd0, t_n, 3'd0}
                                    : {t_addr[63:3], 3'd0};
  assign lanes = t_size == 3'd0 ? 8'b0000_0001 << t_addr[2:0] :
                 t_size == 3'd1 ? 8'b0000_0011 << {t_addr[2:1], 1'b0} :
                 t_size == 3'd2 ? 8'b0000_1111 << {t_addr[2], 2'b00} : 8'hFF;

  assign busy      = st != D_IDLE;
  assign m_arburst = 2'b01;    // INCR
  assign m_awburst = 2'b01;
  assign m_arid    = id;
  assign m_awid    = id;
  assign m_araddr  = t_addr;
  assign m_awaddr  = t_addr;
  assign m_arlen   = t_beats[7:0] - 8'd1;
  assign m_awlen   = t_beats[7:0] - 8'd1;
  assign m_arsize  = t_size;
  assign m_awsize  = t_size;
  assign m_arvalid = st == D_AR;
  assign m_awvalid = st == D_AW;
  assign m_rready  = st == D_R;
  assign m_bready  = st == D_B;
  assign m_wvalid  = st == D_W;
  assign m_wlast   = t_n + 9'd1 == t_beats;
  // from the edge of a soft reset on, no byte is written (a beat in flight goes out empty)
  assign m_wstrb   = aborted || abort ? 8'd0 : wstrb_q;

  assign rd_valid = st == D_R && m_rvalid && !aborted;
  assign rd_addr  = beat_addr;
  assign rd_data  = m_rdata;
  assign rd_strb  = lanes;
  assign rd_err   = m_rresp != 2'b00;
  assign wr_addr  = beat_addr;
  assign wr_req   = st == D_WREQ && !aborted && !abort;

  // bid, rid and rlast: one transaction at a time, so the beat count says which is last
  logic unused;
  assign unused = m_bid ^ m_rid ^ m_rlast;

  always_ff @(posedge clk) begin
    done <= 1'b0;
    if (!rst_n) begin
      st       <= D_IDLE;
      wr       <= 1'b0;
      id       <= 1'b0;
      failed   <= 1'b0;
      aborted  <= 1'b0;
      err      <= 1'b0;
      cur      <= 64'd0;
      left     <= 65'd0;
      ovf      <= 1'b0;
      t_addr   <= 64'd0;
      t_size   <= 3'd0;
      t_beats  <= 9'd0;
      t_n      <= 9'd0;
      t_err    <= 1'b0;
      m_wdata  <= 64'd0;
      wstrb_q  <= 8'd0;
    end else begin
      if (abort && st != D_IDLE) aborted <= 1'b1;
      case (st)
        D_IDLE: begin
          aborted <= 1'b0;
          if (req_valid && !abort) begin
            wr     <= req_write;
            id     <= req_id;
            cur    <= req_addr;
            ovf    <= fin[64] && fin[63:0] != 64'd0;
            left   <= fin[64] && fin[63:0] != 64'd0 ? {1'b1, 64'd0} - {1'b0, req_addr}
                                                    : {1'b0, req_len};
            failed <= 1'b0;
            err    <= 1'b0;
            st     <= D_PLAN;
          end
        end

        D_PLAN: begin
          if (aborted || abort) begin
            st <= D_IDLE;                      // dropped by a soft reset
          end else if (failed || left == 65'd0) begin
            // the range is moved, or failed (or ran past the end of the address space)
            err  <= failed || ovf;
            done <= 1'b1;
            st   <= D_IDLE;
          end else begin
            t_addr  <= cur;
            t_size  <= n_size;
            t_beats <= n_beats;
            t_n     <= 9'd0;
            t_err   <= 1'b0;
            cur     <= cur + n_bytes;
            left    <= left - {1'b0, n_bytes};
            st      <= wr ? D_AW : D_AR;
          end
        end

        D_AR: if (m_arready) st <= D_R;

        D_R: begin
          if (m_rvalid) begin
            if (m_rresp != 2'b00) t_err <= 1'b1;
            t_n <= t_n + 9'd1;
            if (t_n + 9'd1 == t_beats) begin
              failed <= t_err || m_rresp != 2'b00;
              st     <= D_PLAN;
            end
          end
        end

        D_AW: if (m_awready) st <= D_WREQ;

        D_WREQ: st <= D_WDATA;                 // wr_req: the source answers next cycle

        D_WDATA: begin
          // the beat's data; an aborted request writes nothing
          m_wdata <= wr_data;
          wstrb_q <= wr_strb & lanes;
          st      <= D_W;
        end

        D_W: if (m_wready) begin
          t_n <= t_n + 9'd1;
          st  <= t_n + 9'd1 == t_beats ? D_B : D_WREQ;
        end

        default: if (m_bvalid) begin         // D_B
          failed <= m_bresp != 2'b00;
          st     <= D_PLAN;
        end
      endcase
    end
  end
endmodule : aimc_dma
`default_nettype wire
