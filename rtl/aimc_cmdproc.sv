// aimc_cmdproc.sv - the aimc command processor: command ring, descriptor fetch over the AXI4
// master (aimc_dma), decode and checks, dispatch to the analog half / the digital units / the
// tile sequencer, status write-back, completion, the hang knob and the watchdog.
//
// Semantics are those of sim/device/accel.c process_ring, exec.c's checks and
// aimc_accel_advance, spread over clock cycles:
//   IDLE    not running. A doorbell (ENABLE, not halted, not hung) starts the ring, or raises
//           ERROR.RING when the ring configuration is bad. The watchdog counts here.
//   NEXT    command boundary: stop when ENABLE fell or head == tail (RING_TAIL read live);
//           apply the hang knob; else fetch the slot's descriptor.
//   FETCH   the 64-byte descriptor, one 8-beat burst (AXI ID 0); a fault stops the ring with
//           ERROR.RING|DMA_FAULT (fence 0, info = slot), head unchanged.
//   EXEC    the RTL's descriptor checks (opcode, flags, reserved bytes, field ranges); if they
//           pass, the operands move in (OPD), then the analog half starts the command
//           (mac_cmd_valid) and CSTART waits for it.
//   OPD     operand DMA in (AXI ID 1): every range the command reads, whole, into the analog
//           half's operand buffers (mac_opd_*), and the first and last byte of every range it
//           writes (the checks exec.c makes before it computes). A range that faults is read up
//           to its first faulting transaction: the analog half answers the command's own
//           accesses from these buffers, so it reports DMA_FAULT with the field's offset,
//           in its order of checks, exactly as sim: does.
//   BUSY    a command the analog half carried out that takes busy_cycles cycles (PROGRAM).
//   DIGITAL a digital command's ops retire at cfg_unit_ops_per_cycle per cycle (a cluster's
//           digital units, units.ops_per_cycle).
//   ANALOG  the tile sequencer runs the analog job; FINISH: the analog half's output stage.
//   OUT     operand DMA out (AXI ID 1): every range the command wrote in the analog half's
//           buffers (mac_outq_*, mac_out_*), in the command's order; a write answered with an
//           error adds DMA_FAULT (info: the field's offset, unless the command failed already).
//   WB      write the status word (4 bytes at slot + 4, AXI ID 0); a fault adds
//           DMA_FAULT|RING. Then the command completes (head++, DONE_FENCE, its errors, IRQ
//           DONE) and the processor goes back to NEXT.
`default_nettype none
module aimc_cmdproc (
  input  wire          clk,
  input  wire          rst_n,
  // configuration straps
  input  wire  [31:0]  cfg_unit_ops_per_cycle,
  input  wire  [31:0]  cfg_cycles_per_us,
  // from the register block
  input  wire          soft_reset,
  input  wire          doorbell,
  input  wire          wd_write,
  input  wire          ctrl_enable,
  input  wire  [63:0]  ring_base,
  input  wire  [31:0]  ring_size,
  input  wire  [31:0]  ring_head,
  input  wire  [31:0]  ring_tail,
  input  wire  [31:0]  watchdog_us,
  // fault injection
  input  wire          dbg_hang_load,
  input  wire  [31:0]  dbg_hang_after,
  // the DMA engine (aimc_dma)
  output logic         dma_req_valid,
  output logic         dma_req_write,
  output logic [63:0]  dma_req_addr,
  output logic [63:0]  dma_req_len,
  output logic         dma_req_id,
  input  wire          dma_busy,
  input  wire          dma_done,
  input  wire          dma_err,
  input  wire          dma_rd_valid,
  input  wire  [63:0]  dma_rd_addr,
  input  wire  [63:0]  dma_rd_data,
  input  wire  [7:0]   dma_rd_strb,
  input  wire          dma_rd_err,
  input  wire          dma_wr_req,
  input  wire  [63:0]  dma_wr_addr,
  output logic [63:0]  dma_wr_data,
  output logic [7:0]   dma_wr_strb,
  // events for the register block (combinational, at this edge)
  output logic         ev_err,
  output logic [31:0]  ev_err_bits,
  output logic [63:0]  ev_err_fence,
  output logic [31:0]  ev_err_info,
  output logic         ev_done,
  output logic [31:0]  ev_done_bits,
  output logic [63:0]  ev_done_fence,
  output logic [31:0]  ev_done_info,
  output logic         ev_done_irq,
  output logic [63:0]  inc_cycles,
  output logic [63:0]  inc_digital_ops,
  // the analog half: start a command, finish or drop an analog job
  output logic         mac_cmd_valid,
  output logic [511:0] mac_cmd_desc,
  output logic         mac_fin_valid,
  output logic         mac_abort,
  input  wire          mac_done,       // answers mac_cmd_valid or mac_fin_valid
  input  wire  [31:0]  mac_err,        // ERROR bits, 0 = OK
  input  wire  [31:0]  mac_info,
  input  wire          mac_kind,       // 1: an analog job for the tile sequencer
  input  wire          mac_computed,   // a digital command did its work (its ops are due)
  input  wire  [31:0]  mac_n_vec,
  input  wire  [31:0]  mac_n_tiles,
  input  wire  [63:0]  mac_busy,       // cycles the arrays are busy (PROGRAM)
  // the analog half's operand buffers
  output logic         mac_opd_clear,  // a new command: drop the last one's operands
  output logic         mac_opd_valid,  // a beat read from host memory for the range below
  output logic [63:0]  mac_opd_base,   //   the range (a whole operand, or one probed byte)
  output logic [63:0]  mac_opd_len,
  output logic [63:0]  mac_opd_addr,   //   the beat: its aligned address, data, bytes
  output logic [63:0]  mac_opd_data,
  output logic [7:0]   mac_opd_strb,
  output logic         mac_opd_err,    //   not host memory
  output logic         mac_outq_valid, // did the command write into [addr, addr + len)?
  output logic [63:0]  mac_outq_addr,
  output logic [63:0]  mac_outq_len,
  input  wire          mac_outq_done,
  input  wire          mac_outq_hit,
  output logic         mac_out_valid,  // the written bytes of one beat (answer next cycle)
  output logic [63:0]  mac_out_addr,
  input  wire  [63:0]  mac_out_data,
  input  wire  [7:0]   mac_out_strb,
  // tile sequencer
  output logic         ts_start,
  output logic [31:0]  ts_n_vec,
  output logic [31:0]  ts_n_tiles,
  input  wire          ts_done,
  input  wire          ts_err,
  input  wire  [31:0]  ts_err_info,
  // status
  output logic         busy,           // running the ring (STATUS.BUSY)
  output logic         hung,           // the hang knob fired
  output logic         halted,         // the watchdog fired
  output logic         active,         // work to do without a register write
  output logic         wd_armed        // the watchdog could fire
);
  // ---- the register map's names used here ----
  localparam [31:0] E_BAD_OPCODE = aimc_regs_pkg::AIMC_REG_ERROR_BAD_OPCODE;
  localparam [31:0] E_BAD_DESC   = aimc_regs_pkg::AIMC_REG_ERROR_BAD_DESC;
  localparam [31:0] E_DMA_FAULT  = aimc_regs_pkg::AIMC_REG_ERROR_DMA_FAULT;
  localparam [31:0] E_RING       = aimc_regs_pkg::AIMC_REG_ERROR_RING;
  localparam [31:0] E_INTERNAL   = aimc_regs_pkg::AIMC_REG_ERROR_INTERNAL;
  localparam [31:0] E_WATCHDOG   = aimc_regs_pkg::AIMC_REG_ERROR_WATCHDOG;
  localparam [31:0] D_BYTES      = aimc_regs_pkg::AIMC_DESC_BYTES;
  localparam [31:0] D_FLAGS      = aimc_regs_pkg::AIMC_DESC_FLAGS;
  localparam [31:0] D_STATUS     = aimc_regs_pkg::AIMC_DESC_STATUS;
  localparam [31:0] OP_NOP       = aimc_regs_pkg::AIMC_DESC_OP_NOP;
  localparam [31:0] OP_FENCE     = aimc_regs_pkg::AIMC_DESC_OP_FENCE;
  localparam [31:0] OP_PROGRAM   = aimc_regs_pkg::AIMC_DESC_OP_PROGRAM;
  localparam [31:0] OP_MVM       = aimc_regs_pkg::AIMC_DESC_OP_MVM;
  localparam [31:0] OP_READBACK  = aimc_regs_pkg::AIMC_DESC_OP_READBACK;
  localparam [31:0] OP_RMSNORM   = aimc_regs_pkg::AIMC_DESC_OP_RMSNORM;
  localparam [31:0] OP_TOPK      = aimc_regs_pkg::AIMC_DESC_OP_TOPK;
  localparam [31:0] OP_SILU_MUL  = aimc_regs_pkg::AIMC_DESC_OP_SILU_MUL;
  localparam [31:0] OP_GATHER    = aimc_regs_pkg::AIMC_DESC_OP_GATHER;
  localparam [31:0] OP_SCALE_ACC = aimc_regs_pkg::AIMC_DESC_OP_SCALE_ACC;
  localparam [31:0] MAX_MATRICES = aimc_rtl_pkg::DEV_MAX_MATRICES;
  localparam [31:0] MAX_DIM      = aimc_rtl_pkg::DEV_MAX_DIM;
  localparam [31:0] MAX_BATCH    = aimc_rtl_pkg::DEV_MAX_BATCH;
  localparam [31:0] MAX_ELEMS    = aimc_rtl_pkg::DEV_MAX_ELEMS;
  localparam [31:0] NEVER        = aimc_rtl_pkg::HANG_NEVER;

  localparam [3:0] CP_IDLE = 4'd0, CP_NEXT = 4'd1, CP_FETCH = 4'd2, CP_EXEC = 4'd3,
                   CP_CSTART = 4'd4, CP_BUSY = 4'd5, CP_DIGITAL = 4'd6, CP_ANALOG = 4'd7,
                   CP_FINISH = 4'd8, CP_WB = 4'd9, CP_OPD = 4'd10, CP_OPDW = 4'd11,
                   CP_OUTQ = 4'd12, CP_OUTQW = 4'd13, CP_OUTW = 4'd14;
  localparam [2:0] N_OPD = 3'd5;   // operand ranges of one command, at most

  logic [3:0]   state;
  logic [511:0] desc;         // the fetched descriptor, byte i in bits 8i+7:8i
  logic [31:0]  slot;         // head & (size - 1)
  logic [63:0]  cmd_addr;     // ring_base + slot * 64
  logic [31:0]  bits, info;   // the command's result so far
  logic [63:0]  count;        // BUSY: cycles left; DIGITAL: ops left
  logic         issued;       // FETCH/WB: the DMA request went out
  logic [31:0]  hang_knob;    // commands left before the processor hangs; NEVER = never
  logic [63:0]  idle_cycles;  // watchdog: cycles pending commands waited without progress
  logic [2:0]   opd_e;        // OPD/OUT: the operand range
  logic         probe2;       // OPD: the last byte of an output range is probed next
  logic [63:0]  wb_data;      // the status word's beat

  // ---- descriptor fields: constant part-selects of desc ----
`define AIMC_F16(off) desc[8 * aimc_regs_pkg::off +: 16]
`define AIMC_F32(off) desc[8 * aimc_regs_pkg::off +: 32]
`define AIMC_F64(off) desc[8 * aimc_regs_pkg::off +: 64]
  logic [31:0] op, flags;
  assign op    = {16'd0, `AIMC_F16(AIMC_DESC_OPCODE)};
  assign flags = {16'd0, `AIMC_F16(AIMC_DESC_FLAGS)};

  // exec.c field_in: 1 when a u32 field lies outside lo..hi.
  function automatic logic out_of(input logic [31:0] x, input logic [31:0] lo,
                                  input logic [31:0] hi);
    out_of = x < lo || x > hi;
  endfunction

  // a * b > DEV_MAX_ELEMS in 64 bits (the size checks of the digital commands)
  function automatic logic too_many(input logic [31:0] a, input logic [31:0] b);
    too_many = {32'd0, a} * {32'd0, b} > {32'd0, MAX_ELEMS};
  endfunction

  // ---- reserved bytes (exec.c dev_reserved): a mask of the bytes that must be 0 ----
  // rsv2: the opcode's RSVD field (checked first), rsv1: the tail from its RESERVED offset
  logic [63:0] nz, rsv1, rsv2, bad1, bad2;
  genvar gi;
  generate
    for (gi = 0; gi < 64; gi = gi + 1) begin : g_nz
      assign nz[gi] = desc[8 * gi +: 8] != 8'd0;
    end
  endgenerate
  always_comb begin
    rsv1 = 64'd0;
    rsv2 = 64'd0;
    case (op)
      OP_NOP:       rsv1 = ~64'd0 << aimc_regs_pkg::AIMC_DESC_NOP_RESERVED;
      OP_FENCE:     rsv1 = ~64'd0 << aimc_regs_pkg::AIMC_DESC_FENCE_RESERVED;
      OP_MVM:       rsv1 = ~64'd0 << aimc_regs_pkg::AIMC_DESC_MVM_RESERVED;
      OP_READBACK:  rsv1 = ~64'd0 << aimc_regs_pkg::AIMC_DESC_RDBK_RESERVED;
      OP_RMSNORM:   rsv1 = ~64'd0 << aimc_regs_pkg::AIMC_DESC_RMS_RESERVED;
      OP_TOPK: begin
        rsv1 = ~64'd0 << aimc_regs_pkg::AIMC_DESC_TOPK_RESERVED;
        rsv2 = 64'hF << aimc_regs_pkg::AIMC_DESC_TOPK_RSVD;
      end
      OP_SILU_MUL: begin
        rsv1 = ~64'd0 << aimc_regs_pkg::AIMC_DESC_SILU_RESERVED;
        rsv2 = 64'hF << aimc_regs_pkg::AIMC_DESC_SILU_RSVD;
      end
      OP_GATHER: begin
        rsv1 = ~64'd0 << aimc_regs_pkg::AIMC_DESC_GATH_RESERVED;
        rsv2 = 64'hF << aimc_regs_pkg::AIMC_DESC_GATH_RSVD;
      end
      OP_SCALE_ACC: rsv2 = 64'hF << aimc_regs_pkg::AIMC_DESC_SACC_RSVD;
      default: ;    // PROGRAM: none
    endcase
  end
  assign bad1 = nz & rsv1;
  assign bad2 = nz & rsv2;

  // the lowest set bit's index (exec.c nonzero_at's answer)
  function automatic logic [31:0] lowest(input logic [63:0] x);
    lowest = 32'd0;
    for (int i = 63; i >= 0; i--)
      if (x[i]) lowest = i;
  endfunction

  // ---- the RTL's checks, in exec.c's order (dev_check_header, then the field_in checks at
  // the top of each exec_*): chk = {bits, info}, bits 0 when the analog half may have it ----
  // (always @*, not always_comb: Icarus 11 cannot infer an always_comb's sensitivity to
  // constant part-selects of desc)
  logic [63:0] chk;
  always @* begin : p_chk
    logic        f;      // a check failed
    logic [31:0] n;      // its detail (BAD_DESC unless said otherwise)
    logic [31:0] tol;
    f   = 1'b0;
    n   = 32'd0;
    tol = `AIMC_F32(AIMC_DESC_PROG_VERIFY_TOL);
    case (op)
      OP_PROGRAM:
        if (out_of(`AIMC_F32(AIMC_DESC_PROG_MATRIX), 32'd0, MAX_MATRICES - 32'd1))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_PROG_MATRIX; end
        else if (out_of(`AIMC_F32(AIMC_DESC_PROG_ROWS), 32'd1, MAX_DIM))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_PROG_ROWS; end
        else if (out_of(`AIMC_F32(AIMC_DESC_PROG_COLS), 32'd1, MAX_DIM))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_PROG_COLS; end
        else if (out_of(`AIMC_F32(AIMC_DESC_PROG_NTILES), 32'd1, aimc_rtl_pkg::DEV_MAX_TILES))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_PROG_NTILES; end
        else if (out_of(`AIMC_F32(AIMC_DESC_PROG_VERIFY_ITERS), 32'd0,
                        aimc_rtl_pkg::DEV_MAX_VERIFY))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_PROG_VERIFY_ITERS; end
        // VERIFY_TOL (f32): not finite (exponent all ones), or below zero (-0.0 is fine)
        else if (tol[30:23] == 8'hFF || (tol[31] && tol != 32'h8000_0000))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_PROG_VERIFY_TOL; end
      OP_MVM:
        if (out_of(`AIMC_F32(AIMC_DESC_MVM_MATRIX), 32'd0, MAX_MATRICES - 32'd1))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_MVM_MATRIX; end
        else if (out_of(`AIMC_F32(AIMC_DESC_MVM_BATCH), 32'd1, MAX_BATCH))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_MVM_BATCH; end
      OP_READBACK:
        if (out_of(`AIMC_F32(AIMC_DESC_RDBK_MATRIX), 32'd0, MAX_MATRICES - 32'd1))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_RDBK_MATRIX; end
        else if (out_of(`AIMC_F32(AIMC_DESC_RDBK_NROWS), 32'd1, MAX_BATCH))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_RDBK_NROWS; end
      OP_RMSNORM:
        if (out_of(`AIMC_F32(AIMC_DESC_RMS_BATCH), 32'd1, MAX_BATCH))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_RMS_BATCH; end
        else if (out_of(`AIMC_F32(AIMC_DESC_RMS_DIM), 32'd1, MAX_DIM))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_RMS_DIM; end
        else if (too_many(`AIMC_F32(AIMC_DESC_RMS_BATCH), `AIMC_F32(AIMC_DESC_RMS_DIM)))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_RMS_BATCH; end
      OP_TOPK:
        if (out_of(`AIMC_F32(AIMC_DESC_TOPK_BATCH), 32'd1, MAX_BATCH))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_TOPK_BATCH; end
        else if (out_of(`AIMC_F32(AIMC_DESC_TOPK_N), 32'd1, MAX_DIM))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_TOPK_N; end
        else if (out_of(`AIMC_F32(AIMC_DESC_TOPK_K), 32'd1, `AIMC_F32(AIMC_DESC_TOPK_N)))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_TOPK_K; end
        else if (too_many(`AIMC_F32(AIMC_DESC_TOPK_BATCH), `AIMC_F32(AIMC_DESC_TOPK_N)))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_TOPK_BATCH; end
      OP_SILU_MUL:
        if (out_of(`AIMC_F32(AIMC_DESC_SILU_COUNT), 32'd1, MAX_ELEMS))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_SILU_COUNT; end
      OP_GATHER:
        if (out_of(`AIMC_F32(AIMC_DESC_GATH_BATCH), 32'd1, MAX_BATCH))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_GATH_BATCH; end
        else if (out_of(`AIMC_F32(AIMC_DESC_GATH_DIM), 32'd1, MAX_DIM))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_GATH_DIM; end
        else if (out_of(`AIMC_F32(AIMC_DESC_GATH_SRC_ROWS), 32'd1, MAX_BATCH))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_GATH_SRC_ROWS; end
        else if (too_many(`AIMC_F32(AIMC_DESC_GATH_BATCH), `AIMC_F32(AIMC_DESC_GATH_DIM)) ||
                 too_many(`AIMC_F32(AIMC_DESC_GATH_SRC_ROWS), `AIMC_F32(AIMC_DESC_GATH_DIM)))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_GATH_BATCH; end
      OP_SCALE_ACC:
        if (out_of(`AIMC_F32(AIMC_DESC_SACC_BATCH), 32'd1, MAX_BATCH))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_SACC_BATCH; end
        else if (out_of(`AIMC_F32(AIMC_DESC_SACC_DIM), 32'd1, MAX_DIM))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_SACC_DIM; end
        else if (out_of(`AIMC_F32(AIMC_DESC_SACC_DST_ROWS), 32'd1, MAX_BATCH))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_SACC_DST_ROWS; end
        else if (too_many(`AIMC_F32(AIMC_DESC_SACC_BATCH), `AIMC_F32(AIMC_DESC_SACC_DIM)) ||
                 too_many(`AIMC_F32(AIMC_DESC_SACC_DST_ROWS), `AIMC_F32(AIMC_DESC_SACC_DIM)))
          begin f = 1'b1; n = aimc_regs_pkg::AIMC_DESC_SACC_BATCH; end
      default: ;   // NOP, FENCE: no fields
    endcase
    // the header and reserved-byte checks come first
    if (op > OP_SCALE_ACC)
      chk = {E_BAD_OPCODE, op};
    else if ((flags & ~aimc_regs_pkg::AIMC_DESC_FLAGS_ALL) != 32'd0)
      chk = {E_BAD_DESC, D_FLAGS};
    else if (bad2 != 64'd0)
      chk = {E_BAD_DESC, lowest(bad2)};
    else if (bad1 != 64'd0)
      chk = {E_BAD_DESC, lowest(bad1)};
    else if (f)
      chk = {E_BAD_DESC, n};
    else
      chk = 64'd0;
  end

  // The ops of a digital command, from its descriptor (exec.c count_dig calls).
  logic [63:0] dig_ops, topk_nk;
  assign topk_nk = {32'd0, `AIMC_F32(AIMC_DESC_TOPK_N)} * {32'd0, `AIMC_F32(AIMC_DESC_TOPK_K)};
  always @* begin : p_dig_ops
    case (op)
      OP_RMSNORM:
        dig_ops = {32'd0, `AIMC_F32(AIMC_DESC_RMS_BATCH)} *
                  ({31'd0, `AIMC_F32(AIMC_DESC_RMS_DIM), 1'b0} + 64'd1);
      OP_TOPK:
        dig_ops = {32'd0, `AIMC_F32(AIMC_DESC_TOPK_BATCH)} *
                  (topk_nk + {30'd0, `AIMC_F32(AIMC_DESC_TOPK_K), 2'b00} -
                   {32'd0, `AIMC_F32(AIMC_DESC_TOPK_K)});   // n k + 3 k
      OP_SILU_MUL: dig_ops = {30'd0, `AIMC_F32(AIMC_DESC_SILU_COUNT), 2'b00};
      OP_GATHER:   dig_ops = {32'd0, `AIMC_F32(AIMC_DESC_GATH_BATCH)};
      OP_SCALE_ACC:
        dig_ops = {31'd0, `AIMC_F32(AIMC_DESC_SACC_BATCH), 1'b0} *
                  {32'd0, `AIMC_F32(AIMC_DESC_SACC_DIM)};
      default: dig_ops = 64'd0;
    endcase
  end

  // ---- operands: the ranges a command reads (IN) and writes (OUT), in exec.c's order ----
  // Range opd_e: o_on (the command has it), o_out, its descriptor field, its address, and its
  // length o_a * o_b * 4 bytes. Lengths come from the descriptor alone (a shape exec.c refuses
  // still has its range read: the analog half finds the fault or the mismatch itself).
  logic        o_on, o_out;
  logic [31:0] o_field, o_a, o_b;
  logic [63:0] o_addr, o_len, o_prod;
  always @* begin : p_opd
    o_on    = 1'b1;
    o_out   = 1'b0;
    o_field = 32'd0;
    o_a     = 32'd0;
    o_b     = 32'd1;
    case (op)
      OP_PROGRAM:
        case (opd_e)
          3'd0: begin   // weights
            o_field = aimc_regs_pkg::AIMC_DESC_PROG_W_ADDR;
            o_a = `AIMC_F32(AIMC_DESC_PROG_ROWS); o_b = `AIMC_F32(AIMC_DESC_PROG_COLS);
          end
          3'd1: begin   // the tile table
            o_field = aimc_regs_pkg::AIMC_DESC_PROG_TILES_ADDR;
            o_a = `AIMC_F32(AIMC_DESC_PROG_NTILES);
            o_b = aimc_regs_pkg::AIMC_REC_TILE_BYTES / 32'd4;
          end
          3'd2: begin   // the program-and-verify report, when asked for
            o_field = aimc_regs_pkg::AIMC_DESC_PROG_REPORT_ADDR;
            o_out = 1'b1;
            o_on  = `AIMC_F64(AIMC_DESC_PROG_REPORT_ADDR) != 64'd0;
            o_a = 32'd1; o_b = aimc_regs_pkg::AIMC_REC_PREP_BYTES / 32'd4;
          end
          default: o_on = 1'b0;
        endcase
      OP_MVM:
        case (opd_e)
          3'd0: begin
            o_field = aimc_regs_pkg::AIMC_DESC_MVM_X_ADDR;
            o_a = `AIMC_F32(AIMC_DESC_MVM_BATCH); o_b = `AIMC_F32(AIMC_DESC_MVM_ROWS);
          end
          3'd1: begin
            o_field = aimc_regs_pkg::AIMC_DESC_MVM_Y_ADDR; o_out = 1'b1;
            o_a = `AIMC_F32(AIMC_DESC_MVM_BATCH); o_b = `AIMC_F32(AIMC_DESC_MVM_COLS);
          end
          default: o_on = 1'b0;
        endcase
      OP_READBACK:
        if (opd_e == 3'd0) begin
          o_field = aimc_regs_pkg::AIMC_DESC_RDBK_OUT_ADDR; o_out = 1'b1;
          o_a = `AIMC_F32(AIMC_DESC_RDBK_NROWS); o_b = `AIMC_F32(AIMC_DESC_RDBK_COLS);
        end else o_on = 1'b0;
      OP_RMSNORM:
        if (opd_e < 3'd2) begin
          o_field = opd_e == 3'd0 ? aimc_regs_pkg::AIMC_DESC_RMS_IN_ADDR
                                  : aimc_regs_pkg::AIMC_DESC_RMS_OUT_ADDR;
          o_out = opd_e == 3'd1;
          o_a = `AIMC_F32(AIMC_DESC_RMS_BATCH); o_b = `AIMC_F32(AIMC_DESC_RMS_DIM);
        end else o_on = 1'b0;
      OP_TOPK:
        case (opd_e)
          3'd0: begin
            o_field = aimc_regs_pkg::AIMC_DESC_TOPK_IN_ADDR;
            o_a = `AIMC_F32(AIMC_DESC_TOPK_BATCH); o_b = `AIMC_F32(AIMC_DESC_TOPK_N);
          end
          3'd1, 3'd2: begin   // the indices, then the weights
            o_field = opd_e == 3'd1 ? aimc_regs_pkg::AIMC_DESC_TOPK_IDX_ADDR
                                    : aimc_regs_pkg::AIMC_DESC_TOPK_W_ADDR;
            o_out = 1'b1;
            o_a = `AIMC_F32(AIMC_DESC_TOPK_BATCH); o_b = `AIMC_F32(AIMC_DESC_TOPK_K);
          end
          default: o_on = 1'b0;
        endcase
      OP_SILU_MUL:
        if (opd_e < 3'd3) begin
          o_field = opd_e == 3'd0 ? aimc_regs_pkg::AIMC_DESC_SILU_G_ADDR :
                    opd_e == 3'd1 ? aimc_regs_pkg::AIMC_DESC_SILU_U_ADDR
                                  : aimc_regs_pkg::AIMC_DESC_SILU_OUT_ADDR;
          o_out = opd_e == 3'd2;
          o_a = `AIMC_F32(AIMC_DESC_SILU_COUNT);
        end else o_on = 1'b0;
      OP_GATHER:
        case (opd_e)
          3'd0: begin   // the index table
            o_field = aimc_regs_pkg::AIMC_DESC_GATH_IDX_ADDR;
            o_a = `AIMC_F32(AIMC_DESC_GATH_BATCH);
          end
          3'd1: begin
            o_field = aimc_regs_pkg::AIMC_DESC_GATH_SRC_ADDR;
            o_a = `AIMC_F32(AIMC_DESC_GATH_SRC_ROWS); o_b = `AIMC_F32(AIMC_DESC_GATH_DIM);
          end
          3'd2: begin
            o_field = aimc_regs_pkg::AIMC_DESC_GATH_DST_ADDR; o_out = 1'b1;
            o_a = `AIMC_F32(AIMC_DESC_GATH_BATCH); o_b = `AIMC_F32(AIMC_DESC_GATH_DIM);
          end
          default: o_on = 1'b0;
        endcase
      OP_SCALE_ACC:
        case (opd_e)
          3'd0: begin   // the index table, when there is one
            o_field = aimc_regs_pkg::AIMC_DESC_SACC_IDX_ADDR;
            o_on = `AIMC_F64(AIMC_DESC_SACC_IDX_ADDR) != 64'd0;
            o_a = `AIMC_F32(AIMC_DESC_SACC_BATCH);
          end
          3'd1: begin   // the weights, when there are
            o_field = aimc_regs_pkg::AIMC_DESC_SACC_W_ADDR;
            o_on = `AIMC_F64(AIMC_DESC_SACC_W_ADDR) != 64'd0;
            o_a = `AIMC_F32(AIMC_DESC_SACC_BATCH);
          end
          3'd2: begin
            o_field = aimc_regs_pkg::AIMC_DESC_SACC_SRC_ADDR;
            o_a = `AIMC_F32(AIMC_DESC_SACC_BATCH); o_b = `AIMC_F32(AIMC_DESC_SACC_DIM);
          end
          default: begin   // the target: read, then written back
            o_field = aimc_regs_pkg::AIMC_DESC_SACC_DST_ADDR;
            o_out = opd_e == 3'd4;
            o_a = `AIMC_F32(AIMC_DESC_SACC_DST_ROWS); o_b = `AIMC_F32(AIMC_DESC_SACC_DIM);
          end
        endcase
      default: o_on = 1'b0;   // NOP, FENCE
    endcase
  end
  // every address field is a u64 at a multiple of 8 in the payload
  assign o_addr = o_field[5:3] == 3'd2 ? desc[64 * 2 +: 64] :
                  o_field[5:3] == 3'd3 ? desc[64 * 3 +: 64] :
                  o_field[5:3] == 3'd4 ? desc[64 * 4 +: 64] :
                  o_field[5:3] == 3'd5 ? desc[64 * 5 +: 64] :
                  o_field[5:3] == 3'd6 ? desc[64 * 6 +: 64] : desc[64 * 7 +: 64];
  assign o_prod = {32'd0, o_a} * {32'd0, o_b};   // < 2^48: one factor is checked <= 2^20
  assign o_len  = {o_prod[61:0], 2'b00};

  // the beats of an operand range to the analog half
  logic opd_rd;
  assign opd_rd        = state == CP_OPDW;
  assign mac_opd_valid = opd_rd && dma_rd_valid;
  assign mac_opd_base  = dma_req_addr;
  assign mac_opd_len   = dma_req_len;
  assign mac_opd_addr  = dma_rd_addr;
  assign mac_opd_data  = dma_rd_data;
  assign mac_opd_strb  = dma_rd_strb;
  assign mac_opd_err   = dma_rd_err;
  // the bytes of an output range, from the analog half (it answers one cycle later, when the
  // DMA takes them)
  assign mac_out_valid = state == CP_OUTW && dma_wr_req;
  assign mac_out_addr  = dma_wr_addr;
  assign dma_wr_data   = state == CP_OUTW ? mac_out_data : wb_data;
  assign dma_wr_strb   = state == CP_OUTW ? mac_out_strb : 8'hF0;
  assign mac_outq_addr = o_addr;
  assign mac_outq_len  = o_len;

  // ---- ring configuration (accel.c ring_config_ok) ----
  logic        ring_ok;
  logic [63:0] ring_bytes;
  assign ring_bytes = {26'd0, ring_size, 6'd0};   // ring_size * AIMC_DESC_BYTES
  assign ring_ok = ring_size != 32'd0 && (ring_size & (ring_size - 32'd1)) == 32'd0 &&
                   ring_size <= aimc_rtl_pkg::DEV_MAX_RING && ring_base[5:0] == 6'd0 &&
                   ring_base != 64'd0 && ring_base <= ~ring_bytes; // base <= 2^64-1 - size*64

  // ---- watchdog (accel.c aimc_accel_advance, in clock cycles) ----
  logic [63:0] wd_limit;
  logic        wd_count, wd_fire;
  assign wd_limit = {32'd0, watchdog_us} * {32'd0, cfg_cycles_per_us};
  assign wd_armed = ctrl_enable && !halted && watchdog_us != 32'd0 && ring_head != ring_tail;
  // counts only while no command is in flight (the processor idle or hung)
  assign wd_count = wd_armed && state == CP_IDLE && !wd_write;
  assign wd_fire  = wd_count && idle_cycles + 64'd1 >= wd_limit;

  // the doorbell acts in IDLE when the device may run; a watchdog firing at the same edge wins
  logic db_go;
  assign db_go = state == CP_IDLE && doorbell && ctrl_enable && !halted && !hung && !wd_fire;

  // ---- the DMA's results in FETCH and WB ----
  logic fetch_end, wb_end;
  assign fetch_end = state == CP_FETCH && issued && dma_done;
  assign wb_end    = state == CP_WB && issued && dma_done;

  logic [31:0] wb_bits, wb_info;
  assign wb_bits = dma_err ? bits | E_DMA_FAULT | E_RING : bits;
  assign wb_info = dma_err && bits == 32'd0 ? slot : info;

  // ---- events for the register block ----
  always_comb begin
    ev_err       = 1'b0;
    ev_err_bits  = 32'd0;
    ev_err_fence = 64'd0;
    ev_err_info  = 32'd0;
    if (soft_reset) begin
      ev_err = 1'b0;                                   // the reset clears everything
    end else if (wd_fire) begin
      ev_err      = 1'b1;
      ev_err_bits = E_WATCHDOG;
      ev_err_info = ring_head;
    end else if (db_go && !ring_ok) begin
      ev_err      = 1'b1;
      ev_err_bits = E_RING;
    end else if (fetch_end && dma_err) begin
      ev_err      = 1'b1;
      ev_err_bits = E_RING | E_DMA_FAULT;
      ev_err_info = slot;
    end
  end

  assign ev_done       = wb_end && !soft_reset;
  assign ev_done_bits  = wb_bits;
  assign ev_done_info  = wb_info;
  assign ev_done_fence = `AIMC_F64(AIMC_DESC_FENCE);
  assign ev_done_irq   = (flags & aimc_regs_pkg::AIMC_DESC_FLAG_IRQ) != 32'd0 || op == OP_FENCE;

  // digital units: cfg_unit_ops_per_cycle ops retire per cycle (at least 1)
  logic [63:0] ppc, retire;
  logic        ops_last;
  assign ppc      = cfg_unit_ops_per_cycle == 32'd0 ? 64'd1 : {32'd0, cfg_unit_ops_per_cycle};
  assign retire   = count < ppc ? count : ppc;
  assign ops_last = count == retire;

  assign inc_cycles      = state == CP_BUSY || state == CP_DIGITAL ? 64'd1 : 64'd0;
  assign inc_digital_ops = state == CP_DIGITAL ? retire : 64'd0;

  assign busy         = state != CP_IDLE;
  assign active       = state != CP_IDLE || dma_busy;
  assign mac_cmd_desc = desc;

  // the status word's beat (slot + 0..7): the command's ERROR bits and STATUS_DONE at + 4
  always_ff @(posedge clk) begin
    if (dma_wr_req) wb_data <= {bits | aimc_regs_pkg::AIMC_DESC_STATUS_DONE, 32'd0};
  end

  always_ff @(posedge clk) begin
    logic [31:0] s;
    dma_req_valid  <= 1'b0;
    mac_cmd_valid  <= 1'b0;
    mac_opd_clear  <= 1'b0;
    mac_outq_valid <= 1'b0;
    mac_fin_valid <= 1'b0;
    mac_abort     <= 1'b0;
    ts_start      <= 1'b0;

    // hang knob: power-on "never"; the model loads it at any edge; a soft reset keeps it
    if (!rst_n) hang_knob <= NEVER;
    else if (dbg_hang_load) hang_knob <= dbg_hang_after;
    else if (state == CP_NEXT && !dma_busy && ctrl_enable && !halted &&
             ring_head != ring_tail && !soft_reset) begin
      if (hang_knob == 32'd0) hang_knob <= NEVER;
      else if (hang_knob != NEVER) hang_knob <= hang_knob - 32'd1;
    end

    // watchdog idle time
    if (!rst_n || soft_reset || wd_write || ev_done) idle_cycles <= 64'd0;
    else if (wd_count) idle_cycles <= idle_cycles + 64'd1;

    if (!rst_n || soft_reset) begin
      // power-on / soft reset: abandon any command (the DMA drops its request); a soft reset
      // ends a hang and a halt
      state         <= CP_IDLE;
      hung          <= 1'b0;
      halted        <= 1'b0;
      slot          <= 32'd0;
      cmd_addr      <= 64'd0;
      bits          <= 32'd0;
      info          <= 32'd0;
      count         <= 64'd0;
      issued        <= 1'b0;
      desc          <= '0;
      ts_n_vec      <= 32'd0;
      ts_n_tiles    <= 32'd0;
      dma_req_write <= 1'b0;
      dma_req_addr  <= 64'd0;
      dma_req_len   <= 64'd0;
      dma_req_id    <= 1'b0;
      opd_e         <= 3'd0;
      probe2        <= 1'b0;
    end else begin
      case (state)
        CP_IDLE: begin
          if (wd_fire) begin
            halted <= 1'b1;        // the watchdog stops the processor
            hung   <= 1'b0;
          end else if (db_go && ring_ok) begin
            state <= CP_NEXT;      // doorbell: run the ring
          end
        end

        CP_NEXT: begin
          if (!ctrl_enable || ring_head == ring_tail) begin
            state <= CP_IDLE;      // nothing more to do (or the host disabled the device)
          end else if (dma_busy) begin
            state <= CP_NEXT;      // a transfer a soft reset abandoned is still on the bus
          end else if (hang_knob == 32'd0) begin
            hung  <= 1'b1;         // injected fault: the processor stops here, head unchanged
            state <= CP_IDLE;
          end else begin
            s              = ring_head & (ring_size - 32'd1);
            slot          <= s;
            cmd_addr      <= ring_base + {26'd0, s, 6'd0};
            dma_req_valid <= 1'b1;
            dma_req_write <= 1'b0;
            dma_req_addr  <= ring_base + {26'd0, s, 6'd0};
            dma_req_len   <= {32'd0, D_BYTES};
            dma_req_id    <= 1'b0;
            issued        <= 1'b1;
            state         <= CP_FETCH;
          end
        end

        CP_FETCH: begin
          if (dma_rd_valid && !dma_rd_err) desc[64 * dma_rd_addr[5:3] +: 64] <= dma_rd_data;
          if (fetch_end) begin
            issued <= 1'b0;
            state  <= dma_err ? CP_IDLE : CP_EXEC;   // a fetch fault stops the ring (event above)
          end
        end

        CP_EXEC: begin
          if (chk[63:32] != 32'd0) begin
            bits  <= chk[63:32];   // malformed: the analog half never sees it, no cycles
            info  <= chk[31:0];
            state <= CP_WB;
          end else begin
            mac_opd_clear <= 1'b1;   // the operands move in first
            opd_e         <= 3'd0;
            probe2        <= 1'b0;
            state         <= CP_OPD;
          end
        end

        CP_OPD: begin
          if (opd_e == N_OPD) begin
            // Without arrays (a soft reset failed) the analog half answers as exec.c does:
            // ERROR.INTERNAL for what needs them, NOP/FENCE/digital commands still run.
            mac_cmd_valid <= 1'b1;
            state         <= CP_CSTART;
          end else if (!o_on) begin
            opd_e <= opd_e + 3'd1;
          end else begin
            // an input range whole; an output range's first, then last byte
            dma_req_valid <= 1'b1;
            dma_req_write <= 1'b0;
            dma_req_addr  <= !o_out ? o_addr : probe2 ? o_addr + o_len - 64'd1 : o_addr;
            dma_req_len   <= !o_out ? o_len : 64'd1;
            dma_req_id    <= 1'b1;
            issued        <= 1'b1;
            state         <= CP_OPDW;
          end
        end

        CP_OPDW: begin
          if (issued && dma_done) begin
            issued <= 1'b0;
            state  <= CP_OPD;
            if (o_out && !probe2) begin
              probe2 <= 1'b1;
            end else begin
              probe2 <= 1'b0;
              opd_e  <= opd_e + 3'd1;
            end
          end
        end

        CP_CSTART: begin
          if (mac_done) begin
            bits  <= mac_err;
            info  <= mac_info;
            opd_e <= 3'd0;                        // for OUT, after the command
            if (mac_kind) begin
              if (mac_err != 32'd0) begin
                state <= CP_OUTQ;                 // the analog job did not start
              end else if (mac_n_tiles > aimc_rtl_pkg::RTL_MAX_TILES) begin
                mac_abort <= 1'b1;                // beyond this RTL's tile tables
                bits      <= E_INTERNAL;
                info      <= mac_n_tiles;
                state     <= CP_OUTQ;
              end else begin
                ts_start   <= 1'b1;
                ts_n_vec   <= mac_n_vec;
                ts_n_tiles <= mac_n_tiles;
                state      <= CP_ANALOG;
              end
            end else if (mac_busy != 64'd0) begin
              count <= mac_busy;                  // PROGRAM: the arrays are busy this long
              state <= CP_BUSY;
            end else if (mac_computed && dig_ops != 64'd0) begin
              count <= dig_ops;                   // digital command: its ops retire
              state <= CP_DIGITAL;
            end else begin
              state <= CP_OUTQ;
            end
          end
        end

        CP_BUSY: begin
          count <= count - 64'd1;
          if (count == 64'd1) state <= CP_OUTQ;
        end

        CP_DIGITAL: begin
          count <= count - retire;
          if (ops_last) state <= CP_OUTQ;
        end

        CP_ANALOG: begin
          if (ts_done) begin
            if (ts_err) begin
              mac_abort <= 1'b1;                  // a tile beyond this RTL's limits
              bits      <= E_INTERNAL;
              info      <= ts_err_info;
              state     <= CP_OUTQ;
            end else begin
              mac_fin_valid <= 1'b1;              // the output stage: sums to outputs
              state         <= CP_FINISH;
            end
          end
        end

        CP_FINISH: begin
          if (mac_done) begin
            bits  <= mac_err;
            info  <= mac_info;
            state <= CP_OUTQ;
          end
        end

        CP_OUTQ: begin
          // the output ranges the command wrote go out; then the status word
          if (opd_e == N_OPD) begin
            state <= CP_WB;
          end else if (!o_on || !o_out) begin
            opd_e <= opd_e + 3'd1;
          end else begin
            mac_outq_valid <= 1'b1;
            state          <= CP_OUTQW;
          end
        end

        CP_OUTQW: begin
          if (mac_outq_done) begin
            if (mac_outq_hit) begin
              dma_req_valid <= 1'b1;
              dma_req_write <= 1'b1;
              dma_req_addr  <= o_addr;
              dma_req_len   <= o_len;
              dma_req_id    <= 1'b1;
              issued        <= 1'b1;
              state         <= CP_OUTW;
            end else begin
              opd_e <= opd_e + 3'd1;
              state <= CP_OUTQ;
            end
          end
        end

        CP_OUTW: begin
          if (issued && dma_done) begin
            issued <= 1'b0;
            if (dma_err) begin
              bits <= bits | E_DMA_FAULT;
              if (bits == 32'd0) info <= o_field;
            end
            opd_e <= opd_e + 3'd1;
            state <= CP_OUTQ;
          end
        end

        CP_WB: begin
          if (!issued) begin
            dma_req_valid <= 1'b1;
            dma_req_write <= 1'b1;
            dma_req_addr  <= cmd_addr + {32'd0, D_STATUS};
            dma_req_len   <= 64'd4;
            dma_req_id    <= 1'b0;
            issued        <= 1'b1;
          end else if (wb_end) begin
            issued <= 1'b0;
            state  <= CP_NEXT;                    // completed (event above)
          end
        end

        default: state <= CP_IDLE;
      endcase
    end
  end
  // descriptor beats are 64-byte aligned: the beat's index is all of its address used
  logic unused;
  assign unused = ^{dma_rd_addr[63:6], dma_rd_addr[2:0], o_prod[63:62]};
`undef AIMC_F16
`undef AIMC_F32
`undef AIMC_F64
endmodule : aimc_cmdproc
`default_nettype wire
