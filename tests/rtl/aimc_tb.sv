// aimc_tb.sv - stand-alone testbench of the aimc control path (rtl/aimc_top.sv): no C model.
//
// An AXI4-Lite master drives the register window; an AXI4 slave with a 64 KiB memory (random
// ready and response gaps, protocol checks) answers the DMA master; aimc_tb_macro.sv models
// the analog half. Every expected value below is worked out by hand from the machine in the
// straps and the matrix in the macro model (the comments show the arithmetic), not taken from
// the C device. Icarus (iverilog -g2012) runs it: tests/rtl/run.sh. The last line is
// "rtl-tb: N passed, M failed".
`timescale 1ns/1ps
`default_nettype none
module aimc_tb;
  localparam [63:0] MEM_BASE  = 64'h0000_0010_0000_0000;
  localparam        MEM_BYTES = 65536;
  // the machine (straps): 5 integration cycles, an ADC round of 1.5 cycles (16.16: 0x18000),
  // 2 ADCs per crossbar, 3 bit-serial input steps, 4 digital ops per core and cycle, 8 per
  // cycle in the units, 2 crossbars per core
  localparam INT_CYCLES = 5, STEPS = 3, PROG_BUSY = 77;

  logic clk = 1'b0, rst_n = 1'b0;
  always #5 clk = ~clk;

  // ---- the DUT's buses ----
  logic        s_awvalid = 0, s_awready, s_wvalid = 0, s_wready, s_bvalid, s_bready = 0;
  logic [11:0] s_awaddr = 0, s_araddr = 0;
  logic [31:0] s_wdata = 0, s_rdata;
  logic [3:0]  s_wstrb = 0;
  logic [1:0]  s_bresp, s_rresp;
  logic        s_arvalid = 0, s_arready, s_rvalid, s_rready = 0;
  logic        m_arvalid, m_arready, m_rvalid, m_rready, m_rlast, m_arid, m_rid;
  logic [63:0] m_araddr, m_rdata, m_awaddr, m_wdata;
  logic [7:0]  m_arlen, m_awlen, m_wstrb;
  logic [2:0]  m_arsize, m_awsize;
  logic [1:0]  m_arburst, m_awburst, m_rresp, m_bresp;
  logic        m_awvalid, m_awready, m_awid, m_wvalid, m_wready, m_wlast, m_bvalid, m_bready, m_bid;
  logic        irq, cp_active, quiescent;
  logic        dbg_hang_load = 0;

  // ---- the macro ports ----
  logic          mac_cmd_valid, mac_fin_valid, mac_abort, mac_done, mac_kind, mac_computed;
  logic [511:0]  mac_cmd_desc;
  logic [31:0]   mac_err, mac_info, mac_n_vec, mac_n_tiles;
  logic [63:0]   mac_busy;
  logic          mac_opd_clear, mac_opd_valid, mac_opd_err, mac_outq_valid, mac_outq_done;
  logic          mac_outq_hit, mac_out_valid;
  logic [63:0]   mac_opd_base, mac_opd_len, mac_opd_addr, mac_opd_data, mac_outq_addr;
  logic [63:0]   mac_outq_len, mac_out_addr, mac_out_data;
  logic [7:0]    mac_opd_strb, mac_out_strb;
  logic          mac_cnt_valid, mac_cnt_done, mac_cnt_clear, mac_soft_reset, mac_machine_bad;
  logic [11:0]   mac_cnt_off;
  logic [63:0]   mac_cnt_val;
  logic          mac_tile_valid, mac_tile_done;
  logic [7:0]    mac_tile_k;
  logic [31:0]   mac_tile_xbar, mac_tile_ncols;
  logic          mac_drive, mac_integrate, mac_conv_valid, mac_conv_ready, mac_sum_valid;
  logic [31:0]   mac_drive_vec, mac_conv_vec, mac_sum_vec;
  logic [7:0]    mac_drive_round, mac_conv_tile, mac_sum_tile;
  logic [4:0]    mac_drive_step, mac_conv_step;
  logic [11:0]   mac_conv_col, mac_sum_col;
  logic [255:0]  mac_codes;
  logic [511:0]  mac_sums;

  aimc_top dut (
    .clk, .rst_n,
    .cap_xbar_rows(32'd64), .cap_xbar_cols(32'd64), .cap_xbars(32'd8), .cap_adc_bits(32'd8),
    .cap_dac_bits(32'd4), .cap_bits_per_cell(32'd2), .cap_weight_bits(32'd4),
    .cfg_int_cycles(INT_CYCLES), .cfg_conv_fp16(32'h0001_8000), .cfg_adcs(32'd2),
    .cfg_steps(STEPS), .cfg_serial(1'b1), .cfg_ops_per_cycle(32'd4),
    .cfg_unit_ops_per_cycle(32'd8), .cfg_xbars_per_core(32'd2), .cfg_cycles_per_us(32'd100),
    .s_axil_awvalid(s_awvalid), .s_axil_awready(s_awready), .s_axil_awaddr(s_awaddr),
    .s_axil_wvalid(s_wvalid), .s_axil_wready(s_wready), .s_axil_wdata(s_wdata),
    .s_axil_wstrb(s_wstrb), .s_axil_bvalid(s_bvalid), .s_axil_bready(s_bready),
    .s_axil_bresp(s_bresp), .s_axil_arvalid(s_arvalid), .s_axil_arready(s_arready),
    .s_axil_araddr(s_araddr), .s_axil_rvalid(s_rvalid), .s_axil_rready(s_rready),
    .s_axil_rdata(s_rdata), .s_axil_rresp(s_rresp),
    .m_axi_arvalid(m_arvalid), .m_axi_arready(m_arready), .m_axi_araddr(m_araddr),
    .m_axi_arlen(m_arlen), .m_axi_arsize(m_arsize), .m_axi_arburst(m_arburst),
    .m_axi_arid(m_arid), .m_axi_rvalid(m_rvalid), .m_axi_rready(m_rready),
    .m_axi_rdata(m_rdata), .m_axi_rresp(m_rresp), .m_axi_rlast(m_rlast), .m_axi_rid(m_rid),
    .m_axi_awvalid(m_awvalid), .m_axi_awready(m_awready), .m_axi_awaddr(m_awaddr),
    .m_axi_awlen(m_awlen), .m_axi_awsize(m_awsize), .m_axi_awburst(m_awburst),
    .m_axi_awid(m_awid), .m_axi_wvalid(m_wvalid), .m_axi_wready(m_wready),
    .m_axi_wdata(m_wdata), .m_axi_wstrb(m_wstrb), .m_axi_wlast(m_wlast),
    .m_axi_bvalid(m_bvalid), .m_axi_bready(m_bready), .m_axi_bresp(m_bresp),
    .m_axi_bid(m_bid),
    .irq, .cp_active, .quiescent, .dbg_hang_load, .dbg_hang_after(32'hFFFF_FFFF),
    .mac_cmd_valid, .mac_cmd_desc, .mac_fin_valid, .mac_abort, .mac_done, .mac_err, .mac_info,
    .mac_kind, .mac_computed, .mac_n_vec, .mac_n_tiles, .mac_busy,
    .mac_opd_clear, .mac_opd_valid, .mac_opd_base, .mac_opd_len, .mac_opd_addr, .mac_opd_data,
    .mac_opd_strb, .mac_opd_err, .mac_outq_valid, .mac_outq_addr, .mac_outq_len,
    .mac_outq_done, .mac_outq_hit, .mac_out_valid, .mac_out_addr, .mac_out_data, .mac_out_strb,
    .mac_cnt_valid, .mac_cnt_off, .mac_cnt_done, .mac_cnt_val, .mac_cnt_clear, .mac_soft_reset,
    .mac_machine_bad,
    .mac_tile_valid, .mac_tile_k, .mac_tile_done, .mac_tile_xbar, .mac_tile_ncols,
    .mac_drive, .mac_drive_vec, .mac_drive_round, .mac_drive_step, .mac_integrate,
    .mac_conv_valid, .mac_conv_ready, .mac_conv_vec, .mac_conv_tile, .mac_conv_step,
    .mac_conv_col, .mac_codes,
    .mac_sum_valid, .mac_sum_vec, .mac_sum_tile, .mac_sum_col, .mac_sums
  );

  aimc_tb_macro #(.MEM_BASE(MEM_BASE), .MEM_BYTES(MEM_BYTES), .INT_CYCLES(INT_CYCLES),
                  .STEPS(STEPS), .PROG_BUSY(PROG_BUSY)) mac (
    .clk, .rst_n,
    .mac_cmd_valid, .mac_cmd_desc, .mac_fin_valid, .mac_abort, .mac_done, .mac_err, .mac_info,
    .mac_kind, .mac_computed, .mac_n_vec, .mac_n_tiles, .mac_busy,
    .mac_opd_clear, .mac_opd_valid, .mac_opd_base, .mac_opd_len, .mac_opd_addr, .mac_opd_data,
    .mac_opd_strb, .mac_opd_err, .mac_outq_valid, .mac_outq_addr, .mac_outq_len,
    .mac_outq_done, .mac_outq_hit, .mac_out_valid, .mac_out_addr, .mac_out_data, .mac_out_strb,
    .mac_cnt_valid, .mac_cnt_off, .mac_cnt_done, .mac_cnt_val, .mac_cnt_clear, .mac_soft_reset,
    .mac_machine_bad,
    .mac_tile_valid, .mac_tile_k, .mac_tile_done, .mac_tile_xbar, .mac_tile_ncols,
    .mac_drive, .mac_drive_vec, .mac_drive_round, .mac_drive_step, .mac_integrate,
    .mac_conv_valid, .mac_conv_ready, .mac_conv_vec, .mac_conv_tile, .mac_conv_step,
    .mac_conv_col, .mac_codes,
    .mac_sum_valid, .mac_sum_vec, .mac_sum_tile, .mac_sum_col, .mac_sums
  );

  // ---- host memory: an AXI4 slave ----
  logic [7:0] mem [0:MEM_BYTES-1];
  logic [15:0] lfsr = 16'hACE1;
  integer axi_errors = 0, id0_read_bytes = 0, id1_read_bytes = 0, id1_written_bytes = 0;
  integer n_bursts = 0;
  // writes with a strobe at or after a soft reset's edge (dut.soft_reset), since `armed`
  logic   reset_seen = 0;
  integer writes_after_reset = 0, id1_aw = 0;
  // read burst
  logic        rd_on = 0, rd_id = 0;
  logic [63:0] rd_addr = 0;
  logic [2:0]  rd_size = 0;
  integer      rd_beats = 0, rd_n = 0, rd_gap = 0;
  logic        rvalid_q = 0, arready_q = 0, rlast_q = 0;
  logic [63:0] rdata_q = 0;
  logic [1:0]  rresp_q = 0;
  // write burst
  logic        wr_on = 0, wr_id = 0, wr_err = 0;
  logic [63:0] wr_addr = 0;
  logic [2:0]  wr_size = 0;
  integer      wr_beats = 0, wr_n = 0, wr_gap = 0;
  logic        awready_q = 0, wready_q = 0, bvalid_q = 0;

  assign m_arready = arready_q;
  assign m_rvalid  = rvalid_q;
  assign m_rdata   = rdata_q;
  assign m_rresp   = rresp_q;
  assign m_rlast   = rlast_q;
  assign m_rid     = rd_id;
  assign m_awready = awready_q;
  assign m_wready  = wready_q;
  assign m_bvalid  = bvalid_q;
  assign m_bresp   = wr_err ? 2'b10 : 2'b00;
  assign m_bid     = wr_id;

  function automatic logic in_mem(input logic [63:0] a);
    in_mem = a >= MEM_BASE && a < MEM_BASE + MEM_BYTES;
  endfunction
  // beat i of a burst: its address (narrow bursts are one beat at their own address)
  function automatic logic [63:0] beat_at(input logic [63:0] a, input logic [2:0] size,
                                          input integer i);
    beat_at = i == 0 ? a : {a[63:3], 3'd0} + 64'd8 * i;
  endfunction
  // an address phase the master may send: INCR, aligned, at most 16 beats, within 4 KiB
  task automatic check_ax(input logic [63:0] a, input logic [7:0] len, input logic [2:0] size,
                          input logic [1:0] burst);
    logic [63:0] last;
    last = size == 3'd3 ? a + 64'd8 * len + 64'd7 : a + (64'd1 << size) - 64'd1;
    if (burst != 2'b01 || size > 3'd3 || len > 8'd15 || (size < 3'd3 && len != 8'd0) ||
        (a & ((64'd1 << size) - 64'd1)) != 64'd0 || last[63:12] != a[63:12]) begin
      axi_errors = axi_errors + 1;
      $display("tb: bad AXI burst at %h len %0d size %0d burst %0d", a, len, size, burst);
    end
  endtask

  always @(posedge clk) begin : p_mem
    logic [63:0] a;
    logic        bad;
    lfsr = {lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]};
    if (!rst_n) begin
      rd_on = 0; wr_on = 0;
      rvalid_q <= 0; arready_q <= 0; awready_q <= 0; wready_q <= 0; bvalid_q <= 0;
    end else begin
      // ---- reads ----
      if (rvalid_q && m_rready) begin
        rd_n = rd_n + 1;
        if (rd_n == rd_beats) rd_on = 0;
        rd_gap = lfsr[1:0] == 2'd0 ? 1 : 0;
      end
      if (m_arvalid && arready_q) begin
        check_ax(m_araddr, m_arlen, m_arsize, m_arburst);
        rd_on = 1; rd_addr = m_araddr; rd_size = m_arsize; rd_beats = m_arlen + 1;
        rd_n = 0; rd_id = m_arid; rd_gap = lfsr[3:2];
        n_bursts = n_bursts + 1;
      end
      if (rvalid_q && !m_rready) begin
        rvalid_q <= 1;                         // hold the beat
      end else if (rd_on && rd_gap == 0) begin
        a = beat_at(rd_addr, rd_size, rd_n);
        bad = 0;
        for (int i = 0; i < 8; i++) begin
          if (i >= a[2:0] && i < a[2:0] + (1 << rd_size) && !in_mem({a[63:3], 3'd0} + i)) bad = 1;
          rdata_q[8 * i +: 8] <= in_mem({a[63:3], 3'd0} + i) ? mem[{a[63:3], 3'd0} + i - MEM_BASE]
                                                                 : 8'hEE;
        end
        if (!bad) begin
          if (rd_id) id1_read_bytes = id1_read_bytes + (1 << rd_size) - (rd_size == 3'd3 ? 0 : 0);
          else       id0_read_bytes = id0_read_bytes + (1 << rd_size);
        end
        rresp_q  <= bad ? 2'b10 : 2'b00;
        rlast_q  <= rd_n + 1 == rd_beats;
        rvalid_q <= 1;
      end else begin
        rvalid_q <= 0;
        if (rd_gap > 0) rd_gap = rd_gap - 1;
      end
      arready_q <= !rd_on && !(m_arvalid && arready_q) && lfsr[4];
      // ---- writes ----
      if (bvalid_q && m_bready) begin
        bvalid_q <= 0;
        wr_on = 0;
      end
      if (m_awvalid && awready_q) begin
        check_ax(m_awaddr, m_awlen, m_awsize, m_awburst);
        wr_on = 1; wr_addr = m_awaddr; wr_size = m_awsize; wr_beats = m_awlen + 1;
        wr_n = 0; wr_id = m_awid; wr_err = 0;
        n_bursts = n_bursts + 1;
      end
      if (m_wvalid && wready_q && m_wstrb != 8'd0 && (reset_seen || dut.soft_reset))
        writes_after_reset = writes_after_reset + 1;
      if (dut.soft_reset) reset_seen = 1;
      if (m_awvalid && awready_q && m_awid) id1_aw = id1_aw + 1;
      if (m_wvalid && wready_q) begin
        a = beat_at(wr_addr, wr_size, wr_n);
        if (m_wlast != (wr_n + 1 == wr_beats)) begin
          axi_errors = axi_errors + 1;
          $display("tb: WLAST wrong on beat %0d of %0d", wr_n, wr_beats);
        end
        for (int i = 0; i < 8; i++)
          if (m_wstrb[i]) begin
            if (i < a[2:0] || i >= a[2:0] + (1 << wr_size)) axi_errors = axi_errors + 1;
            if (!in_mem({a[63:3], 3'd0} + i)) wr_err = 1;
          end
        if (!wr_err)
          for (int i = 0; i < 8; i++)
            if (m_wstrb[i]) begin
              mem[{a[63:3], 3'd0} + i - MEM_BASE] = m_wdata[8 * i +: 8];
              if (wr_id) id1_written_bytes = id1_written_bytes + 1;
            end
        wr_n = wr_n + 1;
        if (wr_n == wr_beats) wr_gap = lfsr[6:5];
      end
      if (wr_on && wr_n == wr_beats && !bvalid_q) begin
        if (wr_gap == 0) bvalid_q <= 1;
        else wr_gap = wr_gap - 1;
      end
      awready_q <= !wr_on && !(m_awvalid && awready_q) && lfsr[7];
      wready_q  <= wr_on && wr_n < wr_beats && !(m_wvalid && wready_q && wr_n == wr_beats) &&
                   lfsr[8];
    end
  end

  // ---- results ----
  integer passed = 0, failed = 0;
  task automatic check(input logic ok, input string what);
    if (ok) passed = passed + 1;
    else begin
      failed = failed + 1;
      $display("FAIL: %s", what);
    end
  endtask
  task automatic check_eq(input logic [63:0] got, input logic [63:0] want, input string what);
    if (got === want) passed = passed + 1;
    else begin
      failed = failed + 1;
      $display("FAIL: %s: got %0d (0x%h), want %0d (0x%h)", what, got, got, want, want);
    end
  endtask

  // ---- the AXI4-Lite master ----
  task automatic reg_write_s(input logic [11:0] a, input logic [31:0] d, input logic [3:0] strb,
                             output logic [1:0] resp);
    @(negedge clk);
    s_awvalid = 1; s_awaddr = a; s_wvalid = 1; s_wdata = d; s_wstrb = strb;
    do @(posedge clk); while (!(s_awready && s_wready));
    @(negedge clk);
    s_awvalid = 0; s_wvalid = 0; s_bready = 1;
    do @(posedge clk); while (!s_bvalid);
    resp = s_bresp;
    @(negedge clk);
    s_bready = 0;
  endtask
  task automatic reg_write(input logic [11:0] a, input logic [31:0] d);
    logic [1:0] resp;
    reg_write_s(a, d, 4'hF, resp);
    if (resp != 2'b00) check(0, "register write answered OKAY");
  endtask
  task automatic reg_read(input logic [11:0] a, output logic [31:0] d);
    @(negedge clk);
    s_arvalid = 1; s_araddr = a;
    do @(posedge clk); while (!s_arready);
    @(negedge clk);
    s_arvalid = 0; s_rready = 1;
    do @(posedge clk); while (!s_rvalid);
    d = s_rdata;
    @(negedge clk);
    s_rready = 0;
  endtask
  task automatic reg_read64(input logic [11:0] lo, output logic [63:0] d);
    logic [31:0] l, h;
    reg_read(lo, l);
    reg_read(lo + 12'd4, h);   // the LO read latched this half
    d = {h, l};
  endtask

  // ---- host memory helpers ----
  task automatic mem_w32(input logic [63:0] a, input logic [31:0] v);
    for (int i = 0; i < 4; i++) mem[a - MEM_BASE + i] = v[8 * i +: 8];
  endtask
  function automatic logic [31:0] mem_r32(input logic [63:0] a);
    mem_r32 = {mem[a - MEM_BASE + 3], mem[a - MEM_BASE + 2], mem[a - MEM_BASE + 1],
               mem[a - MEM_BASE]};
  endfunction

  // ---- the ring: 8 slots at the start of memory ----
  localparam [63:0] RING = MEM_BASE;
  logic [31:0] tail = 0;
  logic [511:0] d;   // the descriptor being built
  task automatic desc_clear(input logic [15:0] op, input logic [15:0] flags,
                            input logic [63:0] fence);
    d = 512'd0;
    d[15:0] = op;
    d[31:16] = flags;
    d[8 * 8 +: 64] = fence;
  endtask
  // submit d at the tail and ring the doorbell
  task automatic submit_nowait;
    logic [63:0] slot;
    slot = RING + 64 * (tail % 8);
    for (int i = 0; i < 64; i++) mem[slot - MEM_BASE + i] = d[8 * i +: 8];
    tail = tail + 1;
    reg_write(aimc_regs_pkg::AIMC_REG_RING_TAIL[11:0], tail);
    reg_write(aimc_regs_pkg::AIMC_REG_DOORBELL[11:0], 32'd1);
  endtask
  // ... and wait until the processor is idle
  task automatic submit;
    logic [31:0] st;
    integer      n;
    submit_nowait;
    n = 0;
    do begin
      reg_read(aimc_regs_pkg::AIMC_REG_STATUS[11:0], st);
      n = n + 1;
    end while ((st & aimc_regs_pkg::AIMC_REG_STATUS_BUSY) != 0 && n < 100000);
    check(n < 100000, "the command processor went idle");
  endtask
  function automatic logic [31:0] status_word(input integer k);   // of the k-th command
    status_word = mem_r32(RING + 64 * (k % 8) + 4);
  endfunction

  // y = the shift-and-added codes of vector v, tile k, column c (aimc_tb_macro's formula)
  function automatic logic [31:0] y_want(input integer v, input integer k, input integer c);
    integer acc;
    acc = 0;
    for (int s = 0; s < STEPS; s++) acc = acc + (mac.code(v, k, s, c) << s);
    y_want = acc;
  endfunction

  localparam [11:0] R_ERROR = aimc_regs_pkg::AIMC_REG_ERROR[11:0];
  localparam [11:0] R_INFO  = aimc_regs_pkg::AIMC_REG_ERROR_INFO[11:0];
  localparam [11:0] R_CYC   = aimc_regs_pkg::AIMC_REG_CNT_CYCLES_LO[11:0];

  initial begin : p_test
    logic [31:0] r;
    logic [63:0] v64, c0, c1, m0, m1, a0, a1, x0, x1, o0, o1, x_addr, y_addr;
    logic [1:0]  resp;
    integer      starts, k, bad;
    for (int i = 0; i < MEM_BYTES; i++) mem[i] = i[7:0] ^ 8'h5A;
    repeat (4) @(posedge clk);
    @(negedge clk) rst_n = 1;

    // ---- registers ----
    reg_read(aimc_regs_pkg::AIMC_REG_ID[11:0], r);
    check_eq(r, aimc_regs_pkg::AIMC_REG_ID_VALUE, "ID");
    reg_read(aimc_regs_pkg::AIMC_REG_CAP_XBAR_ROWS[11:0], r);
    check_eq(r, 64, "CAP_XBAR_ROWS is the strap");
    reg_write_s(aimc_regs_pkg::AIMC_REG_IRQ_MASK[11:0], 32'h3, 4'h3, resp);
    check_eq(resp, 2'b10, "a partial write is answered SLVERR");
    reg_read(aimc_regs_pkg::AIMC_REG_IRQ_MASK[11:0], r);
    check_eq(r, 0, "a partial write changes nothing");
    reg_write(aimc_regs_pkg::AIMC_REG_RING_SIZE[11:0], 32'd3);
    reg_read(R_ERROR, r);
    check_eq(r, aimc_regs_pkg::AIMC_REG_ERROR_RING, "RING_SIZE 3 raises ERROR.RING");
    reg_read(R_INFO, r);
    check_eq(r, 3, "... with the size as ERROR_INFO");
    reg_write(R_ERROR, 32'hFFFF_FFFF);
    reg_read(R_ERROR, r);
    check_eq(r, 0, "ERROR is write-1-to-clear");

    // ---- the ring ----
    reg_write(aimc_regs_pkg::AIMC_REG_RING_BASE_LO[11:0], RING[31:0]);
    reg_write(aimc_regs_pkg::AIMC_REG_RING_BASE_LO[11:0] + 12'd4, RING[63:32]);
    reg_write(aimc_regs_pkg::AIMC_REG_RING_SIZE[11:0], 32'd8);
    reg_write(aimc_regs_pkg::AIMC_REG_IRQ_MASK[11:0], 32'h3);
    reg_write(aimc_regs_pkg::AIMC_REG_IRQ_STATUS[11:0], 32'h3);   // the RING_SIZE error's
    @(posedge clk);
    check(!irq, "no interrupt pending");
    reg_write(aimc_regs_pkg::AIMC_REG_CTRL[11:0], aimc_regs_pkg::AIMC_REG_CTRL_ENABLE);

    // a NOP with IRQ: completes, fence 11, IRQ DONE, the status word written
    desc_clear(aimc_regs_pkg::AIMC_DESC_OP_NOP, 16'd1, 64'd11);
    submit;
    reg_read64(aimc_regs_pkg::AIMC_REG_DONE_FENCE_LO[11:0], v64);
    check_eq(v64, 11, "NOP: DONE_FENCE");
    reg_read(aimc_regs_pkg::AIMC_REG_RING_HEAD[11:0], r);
    check_eq(r, 1, "NOP: RING_HEAD");
    check_eq(status_word(0), aimc_regs_pkg::AIMC_DESC_STATUS_DONE, "NOP: status word DONE");
    check(irq, "NOP: the interrupt line");
    reg_write(aimc_regs_pkg::AIMC_REG_IRQ_STATUS[11:0], 32'h1);
    @(posedge clk);
    check(!irq, "IRQ_STATUS W1C drops the line");
    check_eq(id0_read_bytes, 64, "a descriptor is 64 bytes read (ID 0)");

    // malformed: the analog half never sees them
    starts = mac.n_starts;
    desc_clear(16'h55, 16'd0, 64'd12);
    submit;
    reg_read(R_ERROR, r);
    check_eq(r, aimc_regs_pkg::AIMC_REG_ERROR_BAD_OPCODE, "opcode 0x55: BAD_OPCODE");
    reg_read(R_INFO, r);
    check_eq(r, 32'h55, "... ERROR_INFO the opcode");
    reg_read64(aimc_regs_pkg::AIMC_REG_ERROR_FENCE_LO[11:0], v64);
    check_eq(v64, 12, "... ERROR_FENCE its fence");
    check_eq(status_word(1), aimc_regs_pkg::AIMC_DESC_STATUS_DONE |
             aimc_regs_pkg::AIMC_REG_ERROR_BAD_OPCODE, "... its status word");
    reg_write(R_ERROR, 32'hFFFF_FFFF);
    desc_clear(aimc_regs_pkg::AIMC_DESC_OP_NOP, 16'd0, 64'd13);
    d[8 * 8'h30 +: 8] = 8'h01;                  // a reserved byte
    submit;
    reg_read(R_ERROR, r);
    check_eq(r, aimc_regs_pkg::AIMC_REG_ERROR_BAD_DESC, "reserved byte: BAD_DESC");
    reg_read(R_INFO, r);
    check_eq(r, 32'h30, "... ERROR_INFO its offset");
    check_eq(mac.n_starts, starts, "malformed commands never reach the analog half");
    reg_write(R_ERROR, 32'hFFFF_FFFF);

    // ---- PROGRAM: busy 77 cycles, its report written back ----
    reg_read64(R_CYC, c0);
    desc_clear(aimc_regs_pkg::AIMC_DESC_OP_PROGRAM, 16'd0, 64'd14);
    d[8 * 8'h14 +: 32] = 4;                     // rows
    d[8 * 8'h18 +: 32] = 38;                    // cols: weights 4 x 38 x 4 = 608 bytes
    d[8 * 8'h1C +: 32] = 4;                     // tiles: 4 x 32 = 128 bytes
    d[8 * 8'h20 +: 64] = MEM_BASE + 64'h4000;   // W
    d[8 * 8'h28 +: 64] = MEM_BASE + 64'h5000;   // tile table
    d[8 * 8'h38 +: 64] = MEM_BASE + 64'h6003;   // the report (40 bytes, unaligned)
    submit;
    reg_read(R_ERROR, r);
    check_eq(r, 0, "PROGRAM: no error");
    reg_read64(R_CYC, c1);
    check_eq(c1 - c0, PROG_BUSY, "PROGRAM: CNT_CYCLES counts its busy cycles");
    bad = 0;
    for (int i = 0; i < 40; i++) if (mem[16'h6003 + i] != (i[7:0] ^ 8'hA5)) bad = bad + 1;
    check_eq(bad, 0, "PROGRAM: the report is in host memory");
    check_eq({mem[16'h6002], mem[16'h602B]}, {8'h02 ^ 8'h5A, 8'h2B ^ 8'h5A},
             "PROGRAM: the bytes around the report untouched");
    // weights and tiles read (608 + 128), the report probed twice (2 x 1)
    check_eq(id1_read_bytes, 608 + 128 + 2, "PROGRAM: operand bytes read (ID 1)");

    // ---- MVM: 3 vectors through the 4-tile matrix ----
    // P_r0 = max(5, 14) = 14, P_r1 = max(5, 3) = 5, P = 3 steps x (14 + 5) = 57;
    // m = min(int 5, conv of the last round 3) = 3; core 0 = crossbars 0, 1: (3 + 1) x (10 +
    // 3 + 17) = 120 ops, core 1 = crossbar 3: 4 x 8 = 32, D = ceil(120 / 4) = 30;
    // 3 vectors: m + max(3 P + D, P + 3 D) = 3 + max(201, 147) = 204 cycles.
    // X: 3 x 4 x 4 = 48 bytes from 0x0FF4: unaligned by 4, across the 4 KiB line at 0x1000.
    // Y: 3 x 38 x 4 = 456 bytes at 0x3004.
    reg_write(aimc_regs_pkg::AIMC_REG_IRQ_STATUS[11:0], 32'h3);   // the malformed commands'
    x_addr = MEM_BASE + 64'h0FF4;
    y_addr = MEM_BASE + 64'h3004;
    reg_read64(R_CYC, c0);
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_MVMS_LO[11:0], m0);
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_ADC_CONV_LO[11:0], a0);
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_XBAR_READS_LO[11:0], x0);
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_DIGITAL_OPS_LO[11:0], o0);
    desc_clear(aimc_regs_pkg::AIMC_DESC_OP_MVM, 16'd1, 64'd15);
    d[8 * 8'h14 +: 32] = 3;                     // batch
    d[8 * 8'h18 +: 32] = 4;                     // rows
    d[8 * 8'h1C +: 32] = 38;                    // cols
    d[8 * 8'h20 +: 64] = x_addr;
    d[8 * 8'h28 +: 64] = y_addr;
    submit;
    reg_read(R_ERROR, r);
    check_eq(r, 0, "MVM: no error");
    reg_read64(R_CYC, c1);
    check_eq(c1 - c0, 204, "MVM: CNT_CYCLES = m + max(B P + D, P + B D) = 204");
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_MVMS_LO[11:0], m1);
    check_eq(m1 - m0, 3, "MVM: CNT_MVMS += 3 vectors");
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_ADC_CONV_LO[11:0], a1);
    check_eq(a1 - a0, 342, "MVM: CNT_ADC_CONV += 3 vectors x 3 steps x 38 columns");
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_XBAR_READS_LO[11:0], x1);
    check_eq(x1 - x0, 36, "MVM: CNT_XBAR_READS += 3 x 3 steps x 4 tiles");
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_DIGITAL_OPS_LO[11:0], o1);
    check_eq(o1 - o0, 456, "MVM: CNT_DIGITAL_OPS += 3 x (3 + 1) x 38");
    check_eq(mac.x_mismatch, 0, "MVM: the input the analog half got is host memory's");
    check_eq(mac.n_drives, 18, "MVM: 18 items driven (3 vectors x 2 rounds x 3 steps)");
    check_eq(mac.n_integrate, 90, "MVM: 18 integration windows of 5 cycles");
    // beats of 8 columns: k0 2, k1 1, k2 3, k3 1: 7 per vector and step
    check_eq(mac.n_conv, 63, "MVM: 63 conversion beats (3 x 3 x 7)");
    check_eq(mac.n_sums, 21, "MVM: 21 beats of sums after the last steps (3 x 7)");
    check_eq(mac.errors, 0, "MVM: drives in order, conversions after their windows");
    // y[v][colbase(k) + c] = sum over s of code(v, k, s, c) << s; three by hand:
    //   v0 k0 c0: codes -11, -8, -5: -11 - 16 - 20 = -47
    //   v1 k2 c16 (y column 29): 7 + 10 + 16 = 33 mod 23 = 10 -> -1; s1: 13 -> 2; s2: 16 -> 5:
    //   -1 + 4 + 20 = 23
    //   v2 k3 c7 (y column 37): 14 + 15 + 7 = 36 mod 23 = 13 -> 2; s1: 16 -> 5; s2: 19 -> 8:
    //   2 + 10 + 32 = 44
    check_eq(mem_r32(y_addr), 32'hFFFF_FFD1, "MVM: y[0][0] = -47");
    check_eq(mem_r32(y_addr + 4 * (38 + 29)), 23, "MVM: y[1][29] = 23");
    check_eq(mem_r32(y_addr + 4 * (76 + 37)), 44, "MVM: y[2][37] = 44");
    bad = 0;
    for (int v = 0; v < 3; v++)
      for (int kk = 0; kk < 4; kk++)
        for (int c = 0; c < 17; c++)
          if (c < mac.t_ncols(kk) &&
              mem_r32(y_addr + 4 * (v * 38 + mac.t_colbase(kk) + c)) != y_want(v, kk, c))
            bad = bad + 1;
    check_eq(bad, 0, "MVM: all 114 outputs are the shift-and-added codes");
    check_eq({mem[16'h3003], mem[16'h31CC]}, {8'h03 ^ 8'h5A, 8'hCC ^ 8'h5A},
             "MVM: the bytes around y untouched");
    check(irq, "MVM with IRQ: the interrupt line");
    reg_write(aimc_regs_pkg::AIMC_REG_IRQ_STATUS[11:0], 32'h3);

    // ---- SILU_MUL (the model's integer version): out = g + u, ceil(4 x 5 / 8) = 3 cycles ----
    for (int i = 0; i < 5; i++) begin
      mem_w32(MEM_BASE + 64'h7000 + 4 * i, 1000 + i);
      mem_w32(MEM_BASE + 64'h7100 + 4 * i, 20 * i);
    end
    reg_read64(R_CYC, c0);
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_DIGITAL_OPS_LO[11:0], o0);
    desc_clear(aimc_regs_pkg::AIMC_DESC_OP_SILU_MUL, 16'd0, 64'd16);
    d[8 * 8'h10 +: 32] = 5;
    d[8 * 8'h18 +: 64] = MEM_BASE + 64'h7000;
    d[8 * 8'h20 +: 64] = MEM_BASE + 64'h7100;
    d[8 * 8'h28 +: 64] = MEM_BASE + 64'h7204;
    submit;
    reg_read64(R_CYC, c1);
    check_eq(c1 - c0, 3, "SILU_MUL: 20 ops at 8 per cycle: 3 cycles");
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_DIGITAL_OPS_LO[11:0], o1);
    check_eq(o1 - o0, 20, "SILU_MUL: 4 ops per element");
    bad = 0;
    for (int i = 0; i < 5; i++) if (mem_r32(MEM_BASE + 64'h7204 + 4 * i) != 1000 + 21 * i) bad++;
    check_eq(bad, 0, "SILU_MUL: its output written back");

    // ---- faults ----
    // an MVM whose output lies outside host memory: DMA_FAULT at Y_ADDR, no cycles
    reg_read64(R_CYC, c0);
    desc_clear(aimc_regs_pkg::AIMC_DESC_OP_MVM, 16'd0, 64'd17);
    d[8 * 8'h14 +: 32] = 1;
    d[8 * 8'h18 +: 32] = 4;
    d[8 * 8'h1C +: 32] = 38;
    d[8 * 8'h20 +: 64] = x_addr;
    d[8 * 8'h28 +: 64] = MEM_BASE + 64'h2_0000;
    submit;
    reg_read(R_ERROR, r);
    check_eq(r, aimc_regs_pkg::AIMC_REG_ERROR_DMA_FAULT, "Y outside memory: DMA_FAULT");
    reg_read(R_INFO, r);
    check_eq(r, 32'h28, "... ERROR_INFO the Y_ADDR field");
    reg_read64(R_CYC, c1);
    check_eq(c1 - c0, 0, "... no cycles counted");
    reg_write(R_ERROR, 32'hFFFF_FFFF);
    // a counter the analog half keeps: the LO read latches the HI half
    reg_read64(aimc_regs_pkg::AIMC_REG_CNT_ENERGY_ADC_FJ_LO[11:0], v64);
    check_eq(v64, {20'hC0DE0, 12'h150, 32'd1008}, "a counter of the analog half, LO then HI");
    // a descriptor outside host memory: ERROR.RING | DMA_FAULT, info = the slot
    reg_write(aimc_regs_pkg::AIMC_REG_CTRL[11:0], 32'd0);
    reg_write(aimc_regs_pkg::AIMC_REG_RING_BASE_LO[11:0], 32'h0010_0000);   // 1 MiB above
    reg_write(aimc_regs_pkg::AIMC_REG_RING_SIZE[11:0], 32'd8);
    reg_write(aimc_regs_pkg::AIMC_REG_CTRL[11:0], aimc_regs_pkg::AIMC_REG_CTRL_ENABLE);
    reg_write(aimc_regs_pkg::AIMC_REG_RING_TAIL[11:0], 32'd3);
    tail = 0;
    reg_write(aimc_regs_pkg::AIMC_REG_DOORBELL[11:0], 32'd1);
    repeat (50) @(posedge clk);
    reg_read(R_ERROR, r);
    check_eq(r, aimc_regs_pkg::AIMC_REG_ERROR_RING | aimc_regs_pkg::AIMC_REG_ERROR_DMA_FAULT,
             "descriptor fetch fault: RING | DMA_FAULT");
    reg_read(R_INFO, r);
    check_eq(r, 0, "... ERROR_INFO the slot");
    reg_read(aimc_regs_pkg::AIMC_REG_RING_HEAD[11:0], r);
    check_eq(r, 0, "... the head stays");

    // ---- soft reset ----
    reg_write(aimc_regs_pkg::AIMC_REG_CTRL[11:0], aimc_regs_pkg::AIMC_REG_CTRL_SOFT_RESET);
    reg_read(R_ERROR, r);
    check_eq(r, 0, "soft reset: ERROR 0");
    reg_read(aimc_regs_pkg::AIMC_REG_RING_SIZE[11:0], r);
    check_eq(r, 0, "soft reset: RING_SIZE 0");
    check_eq(mac.n_soft, 1, "soft reset: the analog half recreated its arrays");

    // ---- a soft reset in the middle of a job: nothing lands in host memory after it ----
    for (int pass = 0; pass < 2; pass++) begin
      // the ring again (the reset cleared it); y marked (the descriptor's status word is 0)
      reg_write(aimc_regs_pkg::AIMC_REG_RING_BASE_LO[11:0], RING[31:0]);
      reg_write(aimc_regs_pkg::AIMC_REG_RING_BASE_LO[11:0] + 12'd4, RING[63:32]);
      reg_write(aimc_regs_pkg::AIMC_REG_RING_SIZE[11:0], 32'd8);
      reg_write(aimc_regs_pkg::AIMC_REG_CTRL[11:0], aimc_regs_pkg::AIMC_REG_CTRL_ENABLE);
      tail = 0;
      for (int i = 0; i < 456; i++) mem[16'h3004 + i] = 8'h77;
      desc_clear(aimc_regs_pkg::AIMC_DESC_OP_MVM, 16'd0, 64'd20 + pass);
      d[8 * 8'h14 +: 32] = 3;
      d[8 * 8'h18 +: 32] = 4;
      d[8 * 8'h1C +: 32] = 38;
      d[8 * 8'h20 +: 64] = x_addr;
      d[8 * 8'h28 +: 64] = y_addr;
      starts = mac.n_fin;
      k = id1_aw;
      submit_nowait;
      if (pass == 0) begin
        // while the sequencer runs (some codes converted, no output yet)
        while (mac.n_conv < 10) @(posedge clk);
      end else begin
        // as the output's first burst is announced
        while (id1_aw == k) @(posedge clk);
      end
      reset_seen = 0;
      writes_after_reset = 0;
      reg_write(aimc_regs_pkg::AIMC_REG_CTRL[11:0], aimc_regs_pkg::AIMC_REG_CTRL_SOFT_RESET);
      repeat (200) @(posedge clk);
      check(reset_seen, "reset in a job: the reset took effect");
      check_eq(writes_after_reset, 0, pass == 0 ?
               "reset while converting: no write after the reset" :
               "reset during the output's write: no write after the reset");
      check_eq(mem_r32(RING + 4), 32'd0, "reset in a job: no status word written");
      check_eq(mem_r32(y_addr + 4 * 113), 32'h7777_7777, "reset in a job: y's end not written");
      if (pass == 0) check_eq(mac.n_fin, starts, "reset while converting: no output stage");
      check(!dut.cp_active, "reset in a job: the processor is idle");
      check_eq(mac.n_soft, 2 + pass, "reset in a job: the analog half reset");
    end
    // usable after: a NOP completes
    reg_write(aimc_regs_pkg::AIMC_REG_RING_BASE_LO[11:0], RING[31:0]);
    reg_write(aimc_regs_pkg::AIMC_REG_RING_BASE_LO[11:0] + 12'd4, RING[63:32]);
    reg_write(aimc_regs_pkg::AIMC_REG_RING_SIZE[11:0], 32'd8);
    reg_write(aimc_regs_pkg::AIMC_REG_CTRL[11:0], aimc_regs_pkg::AIMC_REG_CTRL_ENABLE);
    tail = 0;
    desc_clear(aimc_regs_pkg::AIMC_DESC_OP_NOP, 16'd0, 64'd30);
    submit;
    reg_read64(aimc_regs_pkg::AIMC_REG_DONE_FENCE_LO[11:0], v64);
    check_eq(v64, 30, "after resets in jobs: a NOP completes");
    reg_read(R_ERROR, r);
    check_eq(r, 0, "after resets in jobs: no error");

    check_eq(axi_errors, 0, "the AXI master kept the protocol (INCR, aligned, <= 16 beats, 4 KiB)");
    check(n_bursts > 20, "the memory saw bursts");
    $display("rtl-tb: %0d passed, %0d failed", passed, failed);
    $finish;
  end

  // a watchdog of the testbench itself
  initial begin
    #20_000_000;
    $display("FAIL: the testbench timed out");
    $display("rtl-tb: %0d passed, %0d failed", passed, failed + 1);
    $finish;
  end
endmodule : aimc_tb
`default_nettype wire
