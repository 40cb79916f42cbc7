// aimc_cmdproc.sv - the aimc command processor: command ring, descriptor fetch over the
// memory port, decode and checks, dispatch to C / the digital unit / the tile sequencer,
// status write-back, completion, the hang knob and the watchdog.
//
// Semantics are those of sim/device/accel.c process_ring, exec_cmd and aimc_accel_advance,
// spread over clock cycles:
//   IDLE      not running. A doorbell (ENABLE, not halted, not hung) starts the ring, or
//             raises ERROR.RING when the ring configuration is bad. The watchdog counts here.
//   NEXT      command boundary: stop when ENABLE fell or head == tail (RING_TAIL read live);
//             apply the hang knob; else compute the slot address and fetch.
//   FETCH_REQ/FETCH_RSP  read the 64-byte descriptor as 8 beats; a faulting beat stops the
//             ring with ERROR.RING|DMA_FAULT (fence 0, info = slot), head unchanged.
//   EXEC      the RTL's descriptor checks (opcode, flags, reserved bytes, field ranges); if
//             they pass, aimc_dpi_cmd_start() and dispatch on its kind.
//   BUSY      a command executed in C that takes busy_cycles cycles (PROGRAM).
//   DIGITAL   a digital command's ops retire at cfg_unit_ops_per_cycle per cycle (a
//             cluster's digital units, units.ops_per_cycle).
//   ANALOG    the tile sequencer runs the analog job; then aimc_dpi_cmd_finish().
//   WB_REQ/WB_RSP  write the status word (strobes of bytes 4..7 of the descriptor's first
//             beat); a fault adds DMA_FAULT|RING. Then the command completes (head++,
//             DONE_FENCE, its errors, IRQ DONE) and the processor goes back to NEXT.
module aimc_cmdproc
  import aimc_regs_pkg::*;
  import aimc_rtl_pkg::*;
  import aimc_dpi_pkg::*;
(
  input  logic        clk,
  input  logic        rst_n,
  // configuration straps
  input  logic [31:0] cfg_unit_ops_per_cycle,
  input  logic [31:0] cfg_cycles_per_us,
  // from the register block
  input  logic        soft_reset,
  input  logic        doorbell,
  input  logic        wd_write,
  input  logic        ctrl_enable,
  input  logic [63:0] ring_base,
  input  logic [31:0] ring_size,
  input  logic [31:0] ring_head,
  input  logic [31:0] ring_tail,
  input  logic [31:0] watchdog_us,
  // fault injection
  input  logic        dbg_hang_load,
  input  logic [31:0] dbg_hang_after,
  // memory port
  output logic        mem_req_valid,
  input  logic        mem_req_ready,
  output logic        mem_req_write,
  output logic [63:0] mem_req_addr,
  output logic [63:0] mem_req_wdata,
  output logic [7:0]  mem_req_strb,
  input  logic        mem_rsp_valid,
  input  logic [63:0] mem_rsp_rdata,
  input  logic        mem_rsp_err,
  // events for the register block (combinational, at this edge)
  output logic        ev_err,
  output logic [31:0] ev_err_bits,
  output logic [63:0] ev_err_fence,
  output logic [31:0] ev_err_info,
  output logic        ev_done,
  output logic [31:0] ev_done_bits,
  output logic [63:0] ev_done_fence,
  output logic [31:0] ev_done_info,
  output logic        ev_done_irq,
  output logic [63:0] inc_cycles,
  output logic [63:0] inc_digital_ops,
  // tile sequencer
  output logic        ts_start,
  output logic [31:0] ts_n_vec,
  output logic [31:0] ts_n_tiles,
  input  logic        ts_done,
  input  logic        ts_err,
  input  logic [31:0] ts_err_info,
  // status
  output logic        busy,           // running the ring (STATUS.BUSY)
  output logic        hung,           // the hang knob fired
  output logic        halted,         // the watchdog fired
  output logic        active,         // work to do without a register write
  output logic        wd_armed        // the watchdog could fire
);
  typedef enum logic [3:0] {
    CP_IDLE, CP_NEXT, CP_FETCH_REQ, CP_FETCH_RSP, CP_EXEC, CP_BUSY, CP_DIGITAL, CP_ANALOG,
    CP_WB_REQ, CP_WB_RSP
  } cp_state_t;

  typedef struct packed {
    logic [31:0] bits;
    logic [31:0] info;
  } result_t;

  cp_state_t   state;
  logic [511:0] desc;         // the fetched descriptor, byte i in bits 8i+7:8i
  logic [2:0]  beat;          // fetch beat 0..7
  logic [31:0] slot;          // head & (size - 1)
  logic [63:0] cmd_addr;      // ring_base + slot * 64
  logic [31:0] bits, info;    // the command's result so far
  logic [63:0] count;         // BUSY: cycles left; DIGITAL: ops left
  logic        rsp_owed;      // a request was accepted and its response has not come yet
  logic [31:0] hang_knob;     // commands left before the processor hangs; HANG_NEVER = never
  logic [63:0] idle_cycles;   // watchdog: cycles pending commands waited without progress

  // ---- descriptor fields ----
  function automatic logic [7:0] d8(input logic [511:0] d, input int unsigned off);
    return d[8 * off +: 8];
  endfunction
  function automatic logic [15:0] d16(input logic [511:0] d, input int unsigned off);
    return d[8 * off +: 16];
  endfunction
  function automatic logic [31:0] d32(input logic [511:0] d, input int unsigned off);
    return d[8 * off +: 32];
  endfunction
  function automatic logic [63:0] d64(input logic [511:0] d, input int unsigned off);
    return d[8 * off +: 64];
  endfunction

  // device.c nonzero_at: the offset of the first nonzero byte of [from, to), or 0.
  function automatic logic [31:0] nonzero_at(input logic [511:0] d, input int unsigned from,
                                             input int unsigned to);
    for (int unsigned i = 0; i < AIMC_DESC_BYTES; i++)
      if (i >= from && i < to && d8(d, i) != 8'd0) return i;
    return 32'd0;
  endfunction

  // device.c field_in: 1 when the u32 at off lies outside lo..hi.
  function automatic logic field_bad(input logic [511:0] d, input int unsigned off,
                                     input logic [31:0] lo, input logic [31:0] hi);
    return d32(d, off) < lo || d32(d, off) > hi;
  endfunction

  // a * b > DEV_MAX_ELEMS in 64 bits (the size checks of the digital commands).
  function automatic logic too_many(input logic [31:0] a, input logic [31:0] b);
    return {32'd0, a} * {32'd0, b} > {32'd0, DEV_MAX_ELEMS};
  endfunction

  // The RTL's checks of a descriptor, in device.c's order (exec_cmd, then the field_in
  // checks at the top of each exec_*): {0, 0} when the descriptor may go to the C side.
  function automatic result_t check_desc(input logic [511:0] d);
    logic [31:0] op, flags, bad;
    int unsigned from, to, from2, to2;
    op    = {16'd0, d16(d, AIMC_DESC_OPCODE)};
    flags = {16'd0, d16(d, AIMC_DESC_FLAGS)};
    if (op > AIMC_DESC_OP_SCALE_ACC) return '{AIMC_REG_ERROR_BAD_OPCODE, op};
    if ((flags & ~AIMC_DESC_FLAGS_ALL) != 0) return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_FLAGS};

    // reserved bytes (device.c dev_reserved): the RSVD field [from2, to2), then the tail
    from2 = 0;
    to2   = 0;
    from  = 0;
    to    = 0;
    case (op)
      AIMC_DESC_OP_NOP:       begin from = AIMC_DESC_NOP_RESERVED;   to = AIMC_DESC_BYTES; end
      AIMC_DESC_OP_FENCE:     begin from = AIMC_DESC_FENCE_RESERVED; to = AIMC_DESC_BYTES; end
      AIMC_DESC_OP_MVM:       begin from = AIMC_DESC_MVM_RESERVED;   to = AIMC_DESC_BYTES; end
      AIMC_DESC_OP_READBACK:  begin from = AIMC_DESC_RDBK_RESERVED;  to = AIMC_DESC_BYTES; end
      AIMC_DESC_OP_RMSNORM:   begin from = AIMC_DESC_RMS_RESERVED;   to = AIMC_DESC_BYTES; end
      AIMC_DESC_OP_TOPK: begin
        from2 = AIMC_DESC_TOPK_RSVD;
        to2   = AIMC_DESC_TOPK_RSVD + 4;
        from  = AIMC_DESC_TOPK_RESERVED;
        to    = AIMC_DESC_BYTES;
      end
      AIMC_DESC_OP_SILU_MUL: begin
        from2 = AIMC_DESC_SILU_RSVD;
        to2   = AIMC_DESC_SILU_RSVD + 4;
        from  = AIMC_DESC_SILU_RESERVED;
        to    = AIMC_DESC_BYTES;
      end
      AIMC_DESC_OP_GATHER: begin
        from2 = AIMC_DESC_GATH_RSVD;
        to2   = AIMC_DESC_GATH_RSVD + 4;
        from  = AIMC_DESC_GATH_RESERVED;
        to    = AIMC_DESC_BYTES;
      end
      AIMC_DESC_OP_SCALE_ACC: begin
        from2 = AIMC_DESC_SACC_RSVD;
        to2   = AIMC_DESC_SACC_RSVD + 4;
      end
      default: ;   // PROGRAM: no reserved bytes
    endcase
    bad = nonzero_at(d, from2, to2);
    if (bad == 32'd0) bad = nonzero_at(d, from, to);
    if (bad != 32'd0) return '{AIMC_REG_ERROR_BAD_DESC, bad};

    // field ranges, stopping at the first failure
    case (op)
      AIMC_DESC_OP_PROGRAM: begin
        logic [31:0] tol;
        if (field_bad(d, AIMC_DESC_PROG_MATRIX, 0, DEV_MAX_MATRICES - 1))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_PROG_MATRIX};
        if (field_bad(d, AIMC_DESC_PROG_ROWS, 1, DEV_MAX_DIM))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_PROG_ROWS};
        if (field_bad(d, AIMC_DESC_PROG_COLS, 1, DEV_MAX_DIM))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_PROG_COLS};
        if (field_bad(d, AIMC_DESC_PROG_NTILES, 1, DEV_MAX_TILES))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_PROG_NTILES};
        if (field_bad(d, AIMC_DESC_PROG_VERIFY_ITERS, 0, DEV_MAX_VERIFY))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_PROG_VERIFY_ITERS};
        // VERIFY_TOL (f32): not finite (exponent all ones), or below zero (-0.0 is fine)
        tol = d32(d, AIMC_DESC_PROG_VERIFY_TOL);
        if (tol[30:23] == 8'hFF || (tol[31] && tol != 32'h8000_0000))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_PROG_VERIFY_TOL};
      end
      AIMC_DESC_OP_MVM: begin
        if (field_bad(d, AIMC_DESC_MVM_MATRIX, 0, DEV_MAX_MATRICES - 1))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_MVM_MATRIX};
        if (field_bad(d, AIMC_DESC_MVM_BATCH, 1, DEV_MAX_BATCH))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_MVM_BATCH};
      end
      AIMC_DESC_OP_READBACK: begin
        if (field_bad(d, AIMC_DESC_RDBK_MATRIX, 0, DEV_MAX_MATRICES - 1))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_RDBK_MATRIX};
        if (field_bad(d, AIMC_DESC_RDBK_NROWS, 1, DEV_MAX_BATCH))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_RDBK_NROWS};
      end
      AIMC_DESC_OP_RMSNORM: begin
        if (field_bad(d, AIMC_DESC_RMS_BATCH, 1, DEV_MAX_BATCH))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_RMS_BATCH};
        if (field_bad(d, AIMC_DESC_RMS_DIM, 1, DEV_MAX_DIM))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_RMS_DIM};
        if (too_many(d32(d, AIMC_DESC_RMS_BATCH), d32(d, AIMC_DESC_RMS_DIM)))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_RMS_BATCH};
      end
      AIMC_DESC_OP_TOPK: begin
        if (field_bad(d, AIMC_DESC_TOPK_BATCH, 1, DEV_MAX_BATCH))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_TOPK_BATCH};
        if (field_bad(d, AIMC_DESC_TOPK_N, 1, DEV_MAX_DIM))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_TOPK_N};
        if (field_bad(d, AIMC_DESC_TOPK_K, 1, d32(d, AIMC_DESC_TOPK_N)))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_TOPK_K};
        if (too_many(d32(d, AIMC_DESC_TOPK_BATCH), d32(d, AIMC_DESC_TOPK_N)))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_TOPK_BATCH};
      end
      AIMC_DESC_OP_SILU_MUL: begin
        if (field_bad(d, AIMC_DESC_SILU_COUNT, 1, DEV_MAX_ELEMS))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_SILU_COUNT};
      end
      AIMC_DESC_OP_GATHER: begin
        if (field_bad(d, AIMC_DESC_GATH_BATCH, 1, DEV_MAX_BATCH))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_GATH_BATCH};
        if (field_bad(d, AIMC_DESC_GATH_DIM, 1, DEV_MAX_DIM))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_GATH_DIM};
        if (field_bad(d, AIMC_DESC_GATH_SRC_ROWS, 1, DEV_MAX_BATCH))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_GATH_SRC_ROWS};
        if (too_many(d32(d, AIMC_DESC_GATH_BATCH), d32(d, AIMC_DESC_GATH_DIM)) ||
            too_many(d32(d, AIMC_DESC_GATH_SRC_ROWS), d32(d, AIMC_DESC_GATH_DIM)))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_GATH_BATCH};
      end
      AIMC_DESC_OP_SCALE_ACC: begin
        if (field_bad(d, AIMC_DESC_SACC_BATCH, 1, DEV_MAX_BATCH))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_SACC_BATCH};
        if (field_bad(d, AIMC_DESC_SACC_DIM, 1, DEV_MAX_DIM))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_SACC_DIM};
        if (field_bad(d, AIMC_DESC_SACC_DST_ROWS, 1, DEV_MAX_BATCH))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_SACC_DST_ROWS};
        if (too_many(d32(d, AIMC_DESC_SACC_BATCH), d32(d, AIMC_DESC_SACC_DIM)) ||
            too_many(d32(d, AIMC_DESC_SACC_DST_ROWS), d32(d, AIMC_DESC_SACC_DIM)))
          return '{AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_SACC_BATCH};
      end
      default: ;   // NOP, FENCE: no fields
    endcase
    return '{32'd0, 32'd0};
  endfunction

  // The ops of a digital command, from its descriptor (device.c count_digital calls).
  function automatic logic [63:0] digital_ops(input logic [511:0] d);
    case ({16'd0, d16(d, AIMC_DESC_OPCODE)})
      AIMC_DESC_OP_RMSNORM:
        return {32'd0, d32(d, AIMC_DESC_RMS_BATCH)} *
               ({31'd0, d32(d, AIMC_DESC_RMS_DIM), 1'b0} + 64'd1);
      AIMC_DESC_OP_TOPK: begin
        logic [63:0] n, k;
        n = {32'd0, d32(d, AIMC_DESC_TOPK_N)};
        k = {32'd0, d32(d, AIMC_DESC_TOPK_K)};
        return {32'd0, d32(d, AIMC_DESC_TOPK_BATCH)} * (n * k + 64'd3 * k);
      end
      AIMC_DESC_OP_SILU_MUL: return {30'd0, d32(d, AIMC_DESC_SILU_COUNT), 2'b00};
      AIMC_DESC_OP_GATHER:   return {32'd0, d32(d, AIMC_DESC_GATH_BATCH)};
      AIMC_DESC_OP_SCALE_ACC:
        return {31'd0, d32(d, AIMC_DESC_SACC_BATCH), 1'b0} * {32'd0, d32(d, AIMC_DESC_SACC_DIM)};
      default: return 64'd0;
    endcase
  endfunction

  // ---- ring configuration (device.c ring_config_ok) ----
  logic ring_ok;
  always_comb begin
    logic [63:0] ring_bytes;
    ring_bytes = {26'd0, ring_size, 6'd0};   // ring_size * AIMC_DESC_BYTES
    ring_ok = ring_size != 32'd0 && (ring_size & (ring_size - 32'd1)) == 32'd0 &&
              ring_size <= DEV_MAX_RING && ring_base[5:0] == 6'd0 && ring_base != 64'd0 &&
              ring_base <= ~ring_bytes;       // base <= UINT64_MAX - size * 64
  end

  // ---- watchdog (device.c aimc_accel_advance, in clock cycles) ----
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

  // ---- status write-back result ----
  logic [31:0] wb_bits, wb_info;
  assign wb_bits = mem_rsp_err ? bits | AIMC_REG_ERROR_DMA_FAULT | AIMC_REG_ERROR_RING : bits;
  assign wb_info = mem_rsp_err && bits == 32'd0 ? slot : info;

  // ---- events for the register block ----
  logic fetch_fault, ops_last;
  logic [63:0] ppc, retire;
  assign fetch_fault = state == CP_FETCH_RSP && mem_rsp_valid && mem_rsp_err;
  always_comb begin
    ev_err       = 1'b0;
    ev_err_bits  = 32'd0;
    ev_err_fence = 64'd0;
    ev_err_info  = 32'd0;
    if (soft_reset) begin
      ev_err = 1'b0;                                   // the reset clears everything
    end else if (wd_fire) begin
      ev_err      = 1'b1;
      ev_err_bits = AIMC_REG_ERROR_WATCHDOG;
      ev_err_info = ring_head;
    end else if (db_go && !ring_ok) begin
      ev_err      = 1'b1;
      ev_err_bits = AIMC_REG_ERROR_RING;
    end else if (fetch_fault) begin
      ev_err      = 1'b1;
      ev_err_bits = AIMC_REG_ERROR_RING | AIMC_REG_ERROR_DMA_FAULT;
      ev_err_info = slot;
    end
  end

  assign ev_done       = state == CP_WB_RSP && mem_rsp_valid && !soft_reset;
  assign ev_done_bits  = wb_bits;
  assign ev_done_info  = wb_info;
  assign ev_done_fence = d64(desc, AIMC_DESC_FENCE);
  assign ev_done_irq   = (d16(desc, AIMC_DESC_FLAGS) & 16'(AIMC_DESC_FLAG_IRQ)) != 16'd0 ||
                         {16'd0, d16(desc, AIMC_DESC_OPCODE)} == AIMC_DESC_OP_FENCE;

  // digital units: cfg_unit_ops_per_cycle ops retire per cycle (at least 1)
  assign ppc      = cfg_unit_ops_per_cycle == 32'd0 ? 64'd1 : {32'd0, cfg_unit_ops_per_cycle};
  assign retire   = count < ppc ? count : ppc;
  assign ops_last = count == retire;

  assign inc_cycles      = state == CP_BUSY || state == CP_DIGITAL ? 64'd1 : 64'd0;
  assign inc_digital_ops = state == CP_DIGITAL ? retire : 64'd0;

  // ---- memory port: one request at a time, never while a response is owed ----
  assign mem_req_valid = (state == CP_FETCH_REQ || state == CP_WB_REQ) && !rsp_owed;
  assign mem_req_write = state == CP_WB_REQ;
  assign mem_req_addr  = state == CP_WB_REQ ? cmd_addr : cmd_addr + {58'd0, beat, 3'd0};
  // the status word at addr + 4: the command's ERROR bits and STATUS_DONE
  assign mem_req_wdata = state == CP_WB_REQ ? {bits | AIMC_DESC_STATUS_DONE, 32'd0} : 64'd0;
  assign mem_req_strb  = state == CP_WB_REQ ? 8'hF0 : 8'h00;

  assign busy   = state != CP_IDLE;
  assign active = state != CP_IDLE;

  always_ff @(posedge clk) begin
    // aimc_dpi_cmd_start outputs
    int unsigned     r_bits, r_info, r_kind, r_computed, r_nvec, r_ntiles;
    longint unsigned r_busy;
    result_t         chk;

    ts_start <= 1'b0;

    // responses: a response settles the owed request (one abandoned by a soft reset is dropped)
    if (!rst_n) rsp_owed <= 1'b0;
    else if (mem_req_valid && mem_req_ready) rsp_owed <= 1'b1;
    else if (mem_rsp_valid) rsp_owed <= 1'b0;

    // hang knob: power-on "never"; the model loads it at any edge; a soft reset keeps it
    if (!rst_n) hang_knob <= HANG_NEVER;
    else if (dbg_hang_load) hang_knob <= dbg_hang_after;
    else if (state == CP_NEXT && ctrl_enable && !halted && ring_head != ring_tail &&
             !soft_reset) begin
      if (hang_knob == 32'd0) hang_knob <= HANG_NEVER;
      else if (hang_knob != HANG_NEVER) hang_knob <= hang_knob - 32'd1;
    end

    // watchdog idle time
    if (!rst_n || soft_reset || wd_write || ev_done) idle_cycles <= 64'd0;
    else if (wd_count) idle_cycles <= idle_cycles + 64'd1;

    if (!rst_n || soft_reset) begin
      // power-on / soft reset: abandon any command; a soft reset ends a hang and a halt
      state    <= CP_IDLE;
      hung     <= 1'b0;
      halted   <= 1'b0;
      beat     <= 3'd0;
      slot     <= 32'd0;
      cmd_addr <= 64'd0;
      bits     <= 32'd0;
      info     <= 32'd0;
      count    <= 64'd0;
      desc     <= '0;
      ts_n_vec   <= 32'd0;
      ts_n_tiles <= 32'd0;
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
          end else if (hang_knob == 32'd0) begin
            hung  <= 1'b1;         // injected fault: the processor stops here, head unchanged
            state <= CP_IDLE;
          end else begin
            slot     <= ring_head & (ring_size - 32'd1);
            cmd_addr <= ring_base + {26'd0, ring_head & (ring_size - 32'd1), 6'd0};
            beat     <= 3'd0;
            state    <= CP_FETCH_REQ;
          end
        end

        CP_FETCH_REQ: if (mem_req_valid && mem_req_ready) state <= CP_FETCH_RSP;

        CP_FETCH_RSP: begin
          if (mem_rsp_valid) begin
            if (mem_rsp_err) begin
              state <= CP_IDLE;    // descriptor fetch fault: the ring stops (event above)
            end else begin
              desc[64 * beat +: 64] <= mem_rsp_rdata;
              beat  <= beat + 3'd1;
              state <= beat == 3'd7 ? CP_EXEC : CP_FETCH_REQ;
            end
          end
        end

        CP_EXEC: begin
          chk = check_desc(desc);
          if (chk.bits != 32'd0) begin
            bits  <= chk.bits;     // malformed: no DPI call, no cycles
            info  <= chk.info;
            state <= CP_WB_REQ;
          end else begin
            // Without a C machine (a soft reset failed) C answers as device.c does:
            // ERROR.INTERNAL for what needs the arrays, NOP/FENCE/digital commands still run.
            r_bits = aimc_dpi_cmd_start(desc, r_info, r_kind, r_computed, r_nvec, r_ntiles,
                                        r_busy);
            bits <= r_bits;
            info <= r_info;
            if (r_kind == 32'd1) begin
              if (r_bits != 32'd0) begin
                state <= CP_WB_REQ;               // the analog job did not start
              end else if (r_ntiles > RTL_MAX_TILES) begin
                aimc_dpi_cmd_abort();             // beyond this RTL's tile table
                bits  <= AIMC_REG_ERROR_INTERNAL;
                info  <= r_ntiles;
                state <= CP_WB_REQ;
              end else begin
                ts_start   <= 1'b1;
                ts_n_vec   <= r_nvec;
                ts_n_tiles <= r_ntiles;
                state      <= CP_ANALOG;
              end
            end else if (r_busy != 64'd0) begin
              count <= r_busy;                    // PROGRAM: the array is busy this long
              state <= CP_BUSY;
            end else if (r_computed != 32'd0 && digital_ops(desc) != 64'd0) begin
              count <= digital_ops(desc);         // digital command: its ops retire
              state <= CP_DIGITAL;
            end else begin
              state <= CP_WB_REQ;
            end
          end
        end

        CP_BUSY: begin
          count <= count - 64'd1;
          if (count == 64'd1) state <= CP_WB_REQ;
        end

        CP_DIGITAL: begin
          count <= count - retire;
          if (ops_last) state <= CP_WB_REQ;
        end

        CP_ANALOG: begin
          if (ts_done) begin
            if (ts_err) begin
              aimc_dpi_cmd_abort();               // a tile beyond this RTL's limits
              bits <= AIMC_REG_ERROR_INTERNAL;
              info <= ts_err_info;
            end else begin
              r_bits = aimc_dpi_cmd_finish(r_info);
              bits <= r_bits;
              info <= r_info;
            end
            state <= CP_WB_REQ;
          end
        end

        CP_WB_REQ: if (mem_req_valid && mem_req_ready) state <= CP_WB_RSP;

        CP_WB_RSP: if (mem_rsp_valid) state <= CP_NEXT;   // completed (event above)

        default: state <= CP_IDLE;
      endcase
    end
  end
endmodule : aimc_cmdproc
