// aimc_tb_macro.sv - the stand-alone testbench's model of the analog half (no C, no DPI): a
// fixed matrix of four tiles whose ADC codes follow a formula, a few commands with simple
// integer semantics, and checks of what the control path does on the mac_* ports.
//
// The matrix (rows 4, 38 columns): tiles k0 (crossbar 0, 10 columns), k1 (crossbar 0, 3),
// k2 (crossbar 1, 17), k3 (crossbar 3, 8), already sorted by crossbar. Rounds: k1 shares
// crossbar 0 with k0, so round 0 = {k0, k2, k3}, round 1 = {k1}.
// Codes: code(v, k, s, c) = ((7v + 5k + 3s + c) mod 23) - 11, the column c of tile k, vector v,
// input step s. The output stage writes y[v][colbase(k) + c] = the sum's low 32 bits.
// Commands: NOP and FENCE do nothing; PROGRAM is busy PROG_BUSY cycles and writes a 40-byte
// report (byte i = i ^ 8'hA5) when asked; MVM is the analog job above (it checks that its input
// was staged and matches host memory); SILU_MUL writes out[i] = g[i] + u[i] (32-bit integers).
// An operand range that is not staged, or an output range whose first or last byte faulted,
// is answered DMA_FAULT with the field's offset, as the C device does.
//
// Checks counted in `errors` (the testbench requires 0): every drive comes in item order
// (vector, round, step); every conversion request comes after its item was driven and its
// integration and conversion window ended; codes are asked only for columns of the tile.
`timescale 1ns/1ps
`default_nettype none
module aimc_tb_macro #(
  parameter [63:0] MEM_BASE   = 64'h0000_0010_0000_0000,
  parameter        MEM_BYTES  = 65536,
  parameter        INT_CYCLES = 5,
  parameter        STEPS      = 3,
  parameter        PROG_BUSY  = 77
) (
  input  wire          clk,
  input  wire          rst_n,
  input  wire          mac_cmd_valid,
  input  wire  [511:0] mac_cmd_desc,
  input  wire          mac_fin_valid,
  input  wire          mac_abort,
  output logic         mac_done,
  output logic [31:0]  mac_err,
  output logic [31:0]  mac_info,
  output logic         mac_kind,
  output logic         mac_computed,
  output logic [31:0]  mac_n_vec,
  output logic [31:0]  mac_n_tiles,
  output logic [63:0]  mac_busy,
  input  wire          mac_opd_clear,
  input  wire          mac_opd_valid,
  input  wire  [63:0]  mac_opd_base,
  input  wire  [63:0]  mac_opd_len,
  input  wire  [63:0]  mac_opd_addr,
  input  wire  [63:0]  mac_opd_data,
  input  wire  [7:0]   mac_opd_strb,
  input  wire          mac_opd_err,
  input  wire          mac_outq_valid,
  input  wire  [63:0]  mac_outq_addr,
  input  wire  [63:0]  mac_outq_len,
  output logic         mac_outq_done,
  output logic         mac_outq_hit,
  input  wire          mac_out_valid,
  input  wire  [63:0]  mac_out_addr,
  output logic [63:0]  mac_out_data,
  output logic [7:0]   mac_out_strb,
  input  wire          mac_cnt_valid,
  input  wire  [11:0]  mac_cnt_off,
  output logic         mac_cnt_done,
  output logic [63:0]  mac_cnt_val,
  input  wire          mac_cnt_clear,
  input  wire          mac_soft_reset,
  output logic         mac_machine_bad,
  input  wire          mac_tile_valid,
  input  wire  [7:0]   mac_tile_k,
  output logic         mac_tile_done,
  output logic [31:0]  mac_tile_xbar,
  output logic [31:0]  mac_tile_ncols,
  input  wire          mac_drive,
  input  wire  [31:0]  mac_drive_vec,
  input  wire  [7:0]   mac_drive_round,
  input  wire  [4:0]   mac_drive_step,
  input  wire          mac_integrate,
  input  wire          mac_conv_valid,
  output logic         mac_conv_ready,
  input  wire  [31:0]  mac_conv_vec,
  input  wire  [7:0]   mac_conv_tile,
  input  wire  [4:0]   mac_conv_step,
  input  wire  [11:0]  mac_conv_col,
  output logic [255:0] mac_codes,
  input  wire          mac_sum_valid,
  input  wire  [31:0]  mac_sum_vec,
  input  wire  [7:0]   mac_sum_tile,
  input  wire  [11:0]  mac_sum_col,
  input  wire  [511:0] mac_sums
);
  localparam NCOLS = 38, ROWS = 4, NT = 4, ROUNDS = 2, MAXB = 4;

  // ---- the matrix ----
  function automatic integer t_xbar(input integer k);
    t_xbar = k == 0 ? 0 : k == 1 ? 0 : k == 2 ? 1 : 3;
  endfunction
  function automatic integer t_ncols(input integer k);
    t_ncols = k == 0 ? 10 : k == 1 ? 3 : k == 2 ? 17 : 8;
  endfunction
  function automatic integer t_round(input integer k);
    t_round = k == 1 ? 1 : 0;
  endfunction
  function automatic integer t_colbase(input integer k);
    t_colbase = k == 0 ? 0 : k == 1 ? 10 : k == 2 ? 13 : 30;
  endfunction
  // a round's conversion window: ceil(ceil(ncols / 2 ADCs) x 1.5 cycles), the slowest tile
  function automatic integer r_conv(input integer r);
    r_conv = r == 0 ? 14 : 3;
  endfunction
  function automatic integer code(input integer v, input integer k, input integer s,
                                  input integer c);
    code = ((7 * v + 5 * k + 3 * s + c) % 23) - 11;
  endfunction

  // ---- counters and checks the testbench reads ----
  integer errors = 0, n_starts = 0, n_fin = 0, n_aborts = 0, n_soft = 0, n_clear = 0;
  integer n_drives = 0, n_conv = 0, n_sums = 0, n_integrate = 0, cyc = 0;
  integer x_mismatch = 0;

  // ---- the operand buffers ----
  // staged input bytes of this command (gen == cur_gen), the ranges they came in, the writes
  logic [7:0]  s_data [0:MEM_BYTES-1];
  logic [15:0] s_gen  [0:MEM_BYTES-1];
  logic [7:0]  o_data [0:MEM_BYTES-1];
  logic [15:0] o_gen  [0:MEM_BYTES-1];
  logic [15:0] cur_gen = 16'd1;
  localparam NREC = 16;
  logic [63:0] rec_base [0:NREC-1];
  logic [63:0] rec_len  [0:NREC-1];
  logic [63:0] rec_ok   [0:NREC-1];   // bytes read without a fault
  logic        rec_fault[0:NREC-1];
  integer      nrec = 0;
  logic [63:0] w_addr [0:NREC-1];     // output ranges written
  logic [63:0] w_len  [0:NREC-1];
  integer      nw = 0;

  function automatic logic in_mem(input logic [63:0] a);
    in_mem = a >= MEM_BASE && a < MEM_BASE + MEM_BYTES;
  endfunction

  // [a, a + n) was read without a fault: inside a staged range, before its fault
  function automatic logic staged(input logic [63:0] a, input logic [63:0] n);
    staged = 1'b0;
    for (int i = 0; i < NREC; i++)
      if (i < nrec && a >= rec_base[i] && a + n <= rec_base[i] + rec_ok[i]) staged = 1'b1;
  endfunction

  task automatic out_byte(input logic [63:0] a, input logic [7:0] b);
    if (in_mem(a)) begin
      o_data[a - MEM_BASE] = b;
      o_gen[a - MEM_BASE]  = cur_gen;
    end
  endtask
  task automatic out_range(input logic [63:0] a, input logic [63:0] n);
    if (nw < NREC) begin
      w_addr[nw] = a;
      w_len[nw]  = n;
      nw = nw + 1;
    end
  endtask
  function automatic logic [7:0] in_byte(input logic [63:0] a);
    in_byte = in_mem(a) ? s_data[a - MEM_BASE] : 8'd0;
  endfunction
  function automatic logic [31:0] in_word(input logic [63:0] a);
    in_word = {in_byte(a + 3), in_byte(a + 2), in_byte(a + 1), in_byte(a)};
  endfunction

  // ---- the analog job ----
  logic [63:0] job_y;
  integer      job_b = 0;
  logic [63:0] sums [0:MAXB * NT * 32 - 1];
  integer      drv_at [0:MAXB * ROUNDS * STEPS - 1];   // the cycle each item was driven
  integer      next_item = 0;                          // the item the next drive must be

  assign mac_conv_ready = 1'b1;
  assign mac_machine_bad = 1'b0;

  always @(posedge clk) cyc <= cyc + 1;

  always @(posedge clk) begin : p_macro
    logic [31:0] op, cnt;
    logic [63:0] a, b, n, x_addr, y_addr;
    integer      it, v, r, s, k, col, c0;
    mac_done      <= 1'b0;
    mac_cnt_done  <= 1'b0;
    mac_tile_done <= 1'b0;
    mac_outq_done <= 1'b0;
    if (!rst_n) begin
      mac_err <= 32'd0;
      mac_info <= 32'd0;
      mac_kind <= 1'b0;
      mac_computed <= 1'b0;
      mac_n_vec <= 32'd0;
      mac_n_tiles <= 32'd0;
      mac_busy <= 64'd0;
      mac_codes <= 256'd0;
    end else begin
      if (mac_soft_reset) n_soft = n_soft + 1;
      if (mac_cnt_clear) n_clear = n_clear + 1;
      if (mac_abort) n_aborts = n_aborts + 1;
      // ---- operands ----
      if (mac_opd_clear) begin
        cur_gen = cur_gen + 16'd1;
        nrec = 0;
        nw = 0;
      end
      if (mac_opd_valid) begin
        if (nrec == 0 || rec_base[nrec - 1] != mac_opd_base || rec_len[nrec - 1] != mac_opd_len ||
            rec_fault[nrec - 1]) begin
          if (nrec < NREC) begin
            rec_base[nrec] = mac_opd_base;
            rec_len[nrec] = mac_opd_len;
            rec_ok[nrec] = 64'd0;
            rec_fault[nrec] = 1'b0;
            nrec = nrec + 1;
          end else errors = errors + 1;
        end
        if (mac_opd_err) begin
          rec_fault[nrec - 1] = 1'b1;
        end else begin
          for (int i = 0; i < 8; i++)
            if (mac_opd_strb[i]) begin
              a = {mac_opd_addr[63:3], 3'd0} + i;
              if (a != rec_base[nrec - 1] + rec_ok[nrec - 1]) errors = errors + 1;  // in order
              rec_ok[nrec - 1] = rec_ok[nrec - 1] + 64'd1;
              if (in_mem(a)) begin
                s_data[a - MEM_BASE] = mac_opd_data[8 * i +: 8];
                s_gen[a - MEM_BASE] = cur_gen;
              end
            end
        end
      end
      if (mac_outq_valid) begin
        mac_outq_hit <= 1'b0;
        for (int i = 0; i < NREC; i++)
          if (i < nw && w_addr[i] < mac_outq_addr + mac_outq_len &&
              mac_outq_addr < w_addr[i] + w_len[i])
            mac_outq_hit <= 1'b1;
        mac_outq_done <= 1'b1;
      end
      if (mac_out_valid) begin
        for (int i = 0; i < 8; i++) begin
          a = {mac_out_addr[63:3], 3'd0} + i;
          mac_out_strb[i] <= in_mem(a) && o_gen[a - MEM_BASE] == cur_gen;
          mac_out_data[8 * i +: 8] <= in_mem(a) ? o_data[a - MEM_BASE] : 8'd0;
        end
      end
      // ---- counters the analog half keeps: a value that says which one was read ----
      if (mac_cnt_valid) begin
        mac_cnt_val  <= {20'hC0DE0, mac_cnt_off, {20'd0, mac_cnt_off} * 32'd3};
        mac_cnt_done <= 1'b1;
      end
      // ---- commands ----
      if (mac_cmd_valid) begin
        n_starts = n_starts + 1;
        op = {16'd0, mac_cmd_desc[15:0]};
        mac_err <= 32'd0;
        mac_info <= 32'd0;
        mac_kind <= 1'b0;
        mac_computed <= 1'b0;
        mac_busy <= 64'd0;
        mac_done <= 1'b1;
        if (op == aimc_regs_pkg::AIMC_DESC_OP_PROGRAM) begin
          a = mac_cmd_desc[8 * 32'h38 +: 64];        // REPORT_ADDR
          n = {32'd0, mac_cmd_desc[8 * 32'h14 +: 32]} * {32'd0, mac_cmd_desc[8 * 32'h18 +: 32]} * 4;
          if (!staged(mac_cmd_desc[8 * 32'h20 +: 64], n)) begin
            mac_err <= aimc_regs_pkg::AIMC_REG_ERROR_DMA_FAULT;
            mac_info <= 32'h20;
          end else if (a != 64'd0 && (!staged(a, 1) || !staged(a + 39, 1))) begin
            mac_err <= aimc_regs_pkg::AIMC_REG_ERROR_DMA_FAULT;
            mac_info <= 32'h38;
          end else begin
            mac_busy <= PROG_BUSY;
            if (a != 64'd0) begin
              for (int i = 0; i < 40; i++) out_byte(a + i, i[7:0] ^ 8'hA5);
              out_range(a, 40);
            end
          end
        end else if (op == aimc_regs_pkg::AIMC_DESC_OP_MVM) begin
          x_addr = mac_cmd_desc[8 * 32'h20 +: 64];
          y_addr = mac_cmd_desc[8 * 32'h28 +: 64];
          b = {32'd0, mac_cmd_desc[8 * 32'h14 +: 32]};
          if (mac_cmd_desc[8 * 32'h18 +: 32] != ROWS || mac_cmd_desc[8 * 32'h1C +: 32] != NCOLS) begin
            mac_err <= aimc_regs_pkg::AIMC_REG_ERROR_SHAPE;
          end else if (!staged(x_addr, b * ROWS * 4)) begin
            mac_err <= aimc_regs_pkg::AIMC_REG_ERROR_DMA_FAULT;
            mac_info <= 32'h20;
          end else if (!staged(y_addr, 1) || !staged(y_addr + b * NCOLS * 4 - 1, 1)) begin
            mac_err <= aimc_regs_pkg::AIMC_REG_ERROR_DMA_FAULT;
            mac_info <= 32'h28;
          end else begin
            // the input the RTL moved is host memory's
            for (int i = 0; i < MAXB * ROWS * 4; i++)
              if (i < b * ROWS * 4 && in_byte(x_addr + i) != aimc_tb.mem[x_addr + i - MEM_BASE])
                x_mismatch = x_mismatch + 1;
            mac_kind <= 1'b1;
            mac_n_vec <= b[31:0];
            mac_n_tiles <= NT;
            job_y = y_addr;
            job_b = b;
            next_item = 0;
          end
        end else if (op == aimc_regs_pkg::AIMC_DESC_OP_SILU_MUL) begin
          cnt = mac_cmd_desc[8 * 32'h10 +: 32];
          a = mac_cmd_desc[8 * 32'h28 +: 64];          // OUT_ADDR
          if (!staged(mac_cmd_desc[8 * 32'h18 +: 64], cnt * 4)) begin
            mac_err <= aimc_regs_pkg::AIMC_REG_ERROR_DMA_FAULT;
            mac_info <= 32'h18;
          end else if (!staged(mac_cmd_desc[8 * 32'h20 +: 64], cnt * 4)) begin
            mac_err <= aimc_regs_pkg::AIMC_REG_ERROR_DMA_FAULT;
            mac_info <= 32'h20;
          end else if (!staged(a, 1) || !staged(a + cnt * 4 - 1, 1)) begin
            mac_err <= aimc_regs_pkg::AIMC_REG_ERROR_DMA_FAULT;
            mac_info <= 32'h28;
          end else begin
            for (int i = 0; i < 64; i++)
              if (i < cnt) begin
                n = {32'd0, in_word(mac_cmd_desc[8 * 32'h18 +: 64] + 4 * i) +
                            in_word(mac_cmd_desc[8 * 32'h20 +: 64] + 4 * i)};
                for (int j = 0; j < 4; j++) out_byte(a + 4 * i + j, n[8 * j +: 8]);
              end
            out_range(a, cnt * 4);
            mac_computed <= 1'b1;
          end
        end
      end
      if (mac_fin_valid) begin
        // the output stage: the sums' low halves, column after column
        n_fin = n_fin + 1;
        for (int vv = 0; vv < MAXB; vv++)
          for (int kk = 0; kk < NT; kk++)
            for (int cc = 0; cc < 32; cc++)
              if (vv < job_b && cc < t_ncols(kk)) begin
                a = job_y + 4 * (vv * NCOLS + t_colbase(kk) + cc);
                n = sums[(vv * NT + kk) * 32 + cc];
                for (int j = 0; j < 4; j++) out_byte(a + j, n[8 * j +: 8]);
              end
        out_range(job_y, job_b * NCOLS * 4);
        mac_err <= 32'd0;
        mac_info <= 32'd0;
        mac_done <= 1'b1;
      end
      // ---- the tile table ----
      if (mac_tile_valid) begin
        mac_tile_xbar  <= t_xbar(mac_tile_k);
        mac_tile_ncols <= t_ncols(mac_tile_k);
        mac_tile_done  <= 1'b1;
      end
      // ---- drive, integrate, convert ----
      if (mac_integrate) n_integrate = n_integrate + 1;
      if (mac_drive) begin
        it = next_item;
        s = it % STEPS;
        r = (it / STEPS) % ROUNDS;
        v = it / (STEPS * ROUNDS);
        if (mac_drive_vec != v || mac_drive_round != r || mac_drive_step != s) begin
          errors = errors + 1;
          $display("tb macro: drive %0d/%0d/%0d, expected item %0d = %0d/%0d/%0d", mac_drive_vec,
                   mac_drive_round, mac_drive_step, it, v, r, s);
        end
        if (it < MAXB * ROUNDS * STEPS) drv_at[it] = cyc;
        next_item = next_item + 1;
        n_drives = n_drives + 1;
      end
      if (mac_conv_valid) begin
        n_conv = n_conv + 1;
        k = mac_conv_tile;
        v = mac_conv_vec;
        s = mac_conv_step;
        c0 = mac_conv_col;
        r = t_round(k);
        it = (v * ROUNDS + r) * STEPS + s;
        // the item was driven, integrated for INT_CYCLES and converted (window conv_r)
        if (k >= NT || c0 >= t_ncols(k) || it >= next_item ||
            cyc < drv_at[it] + INT_CYCLES + r_conv(r) - 1) begin
          errors = errors + 1;
          $display("tb macro: conversion of v%0d k%0d s%0d col %0d at %0d before its time", v, k,
                   s, c0, cyc);
        end
        for (int i = 0; i < 8; i++)
          mac_codes[32 * i +: 32] <= c0 + i < t_ncols(k) ? code(v, k, s, c0 + i) : 0;
      end
      if (mac_sum_valid) begin
        n_sums = n_sums + 1;
        for (int i = 0; i < 8; i++)
          if (mac_sum_col + i < t_ncols(mac_sum_tile) && mac_sum_vec < MAXB)
            sums[(mac_sum_vec * NT + mac_sum_tile) * 32 + mac_sum_col + i] = mac_sums[64 * i +: 64];
      end
    end
  end
endmodule : aimc_tb_macro
`default_nettype wire
