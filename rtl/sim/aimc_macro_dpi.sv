// aimc_macro_dpi.sv - SIMULATION ONLY: the analog half of the device (the "macro": crossbar
// arrays with their DACs and ADC banks, the programming engine, the float units, the counters
// of analog events) as DPI-C calls into the C device (sim/device's split execution, through
// rtl/aimc_vl_dpi.c). Not synthesizable and not read by `make synth`; the digital control
// path (rtl/aimc_top.sv) sees only its ports.
//
// Every request is taken at a clock edge, where the C function runs; its answer is registered
// and stands in the next cycle (done pulses then). Conversion requests are always ready; their
// codes come exactly one cycle after. drive and integrate carry no data C needs (the codes of
// a job are drawn when it starts, as sim: draws them); they are here so that a waveform shows
// the analog timing and a testbench can check it.
`default_nettype none
module aimc_macro_dpi (
  input  wire          clk,
  input  wire          rst_n,
  // commands
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
  // operand buffers
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
  // counters, soft reset
  input  wire          mac_cnt_valid,
  input  wire  [11:0]  mac_cnt_off,
  output logic         mac_cnt_done,
  output logic [63:0]  mac_cnt_val,
  input  wire          mac_cnt_clear,
  input  wire          mac_soft_reset,
  output logic         mac_machine_bad,
  // tile table
  input  wire          mac_tile_valid,
  input  wire  [7:0]   mac_tile_k,
  output logic         mac_tile_done,
  output logic [31:0]  mac_tile_xbar,
  output logic [31:0]  mac_tile_ncols,
  // drive, integrate, convert, sums
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
  output logic [aimc_rtl_pkg::NL*32-1:0] mac_codes,
  input  wire          mac_sum_valid,
  input  wire  [31:0]  mac_sum_vec,
  input  wire  [7:0]   mac_sum_tile,
  input  wire  [11:0]  mac_sum_col,
  input  wire  [aimc_rtl_pkg::NL*64-1:0] mac_sums
);
  localparam NL = aimc_rtl_pkg::NL;

  // Start a command whose descriptor passed the RTL's checks (byte i in bits 8i+7:8i): its
  // ERROR bits (0 = OK) with the detail in info. kind 0: done in C (busy_cycles: cycles it
  // takes, computed: a digital command did its work); kind 1: an analog job of n_vec vectors
  // over n_tiles tiles for the tile sequencer.
  import "DPI-C" function int unsigned aimc_dpi_cmd_start(
      input  bit [511:0]      desc,
      output int unsigned     info,
      output int unsigned     kind,
      output int unsigned     computed,
      output int unsigned     n_vec,
      output int unsigned     n_tiles,
      output longint unsigned busy_cycles);
  // Tile k of the current analog job: its crossbar and weight columns (sorted by crossbar).
  import "DPI-C" function void aimc_dpi_tile(input int unsigned k,
      output int unsigned xbar, output int unsigned ncols);
  // One beat of tile k's ADC bank, vector v, step: the codes of columns col.. col+NL-1
  // (lane i, 32-bit signed, in bits 32i+31:32i; 0 beyond the tile).
  import "DPI-C" function void aimc_dpi_convert(input int unsigned v, input int unsigned k,
      input int unsigned step, input int unsigned col, output bit [NL*32-1:0] codes);
  // The shift-and-added sums of one beat after the last step (lane i, 64-bit signed, in
  // bits 64i+63:64i; lanes beyond the tile's columns ignored).
  import "DPI-C" function void aimc_dpi_accumulate(input int unsigned v, input int unsigned k,
      input int unsigned col, input bit [NL*64-1:0] sums);
  // End of the analog job: its ERROR bits and detail (outputs stored by the output stage).
  import "DPI-C" function int unsigned aimc_dpi_cmd_finish(output int unsigned info);
  // Abandon the analog job started by aimc_dpi_cmd_start.
  import "DPI-C" function void aimc_dpi_cmd_abort();
  // A 64-bit counter kept in C, by the offset of its LO register.
  import "DPI-C" function longint unsigned aimc_dpi_counter(input int unsigned lo_off);
  // CNT_CTRL.RESET: zero the counters kept in C.
  import "DPI-C" function void aimc_dpi_counters_reset();
  // CTRL.SOFT_RESET: recreate the C machine; nonzero when that failed (machine_bad).
  import "DPI-C" function int unsigned aimc_dpi_soft_reset();
  // The operand buffers the C half's DMA works on (rtl/aimc_vl.cpp): drop them (a new
  // command); one beat read from host memory for range [base, base + len) (its bytes in the
  // strobe's lanes; err: they are not host memory); whether the command wrote into a range;
  // the bytes it wrote in one beat.
  import "DPI-C" function void aimc_dpi_stage_clear();
  import "DPI-C" function void aimc_dpi_stage_in(input longint unsigned base,
      input longint unsigned len, input longint unsigned addr, input longint unsigned data,
      input int unsigned strb, input int unsigned err);
  import "DPI-C" function int unsigned aimc_dpi_stage_written(input longint unsigned addr,
      input longint unsigned len);
  import "DPI-C" function void aimc_dpi_stage_out(input longint unsigned addr,
      output longint unsigned data, output int unsigned strb);

  assign mac_conv_ready = 1'b1;
  longint unsigned o_data;   // aimc_dpi_stage_out's answer
  int unsigned     o_strb;

  always_ff @(posedge clk) begin
    int unsigned     r_err, r_info, r_kind, r_comp, r_nvec, r_ntiles, x, n;
    longint unsigned r_busy;
    bit [NL*32-1:0]  codes;
    mac_done      <= 1'b0;
    mac_outq_done <= 1'b0;
    mac_cnt_done  <= 1'b0;
    mac_tile_done <= 1'b0;
    if (!rst_n) begin
      mac_machine_bad <= 1'b0;
      mac_err         <= 32'd0;
      mac_info        <= 32'd0;
      mac_kind        <= 1'b0;
      mac_computed    <= 1'b0;
      mac_n_vec       <= 32'd0;
      mac_n_tiles     <= 32'd0;
      mac_busy        <= 64'd0;
      mac_cnt_val     <= 64'd0;
      mac_tile_xbar   <= 32'd0;
      mac_tile_ncols  <= 32'd0;
      mac_codes       <= '0;
      mac_outq_hit    <= 1'b0;
      mac_out_data    <= 64'd0;
      mac_out_strb    <= 8'd0;
    end else begin
      // operands: the buffers the C half reads and writes instead of host memory
      if (mac_opd_clear) aimc_dpi_stage_clear();
      if (mac_opd_valid)
        aimc_dpi_stage_in(mac_opd_base, mac_opd_len, mac_opd_addr, mac_opd_data,
                          {24'd0, mac_opd_strb}, {31'd0, mac_opd_err});
      if (mac_outq_valid) begin
        mac_outq_hit  <= aimc_dpi_stage_written(mac_outq_addr, mac_outq_len) != 0;
        mac_outq_done <= 1'b1;
      end
      if (mac_out_valid) begin
        aimc_dpi_stage_out(mac_out_addr, o_data, o_strb);
        mac_out_data <= o_data;
        mac_out_strb <= o_strb[7:0];
      end
      // the output stage takes a beat's sums
      if (mac_sum_valid)
        aimc_dpi_accumulate(mac_sum_vec, {24'd0, mac_sum_tile}, {20'd0, mac_sum_col}, mac_sums);
      if (mac_soft_reset) begin
        aimc_dpi_cmd_abort();
        mac_machine_bad <= aimc_dpi_soft_reset() != 0;
      end
      if (mac_cnt_clear) aimc_dpi_counters_reset();
      if (mac_cnt_valid) begin
        mac_cnt_val  <= aimc_dpi_counter({20'd0, mac_cnt_off});
        mac_cnt_done <= 1'b1;
      end
      if (mac_abort) aimc_dpi_cmd_abort();
      if (mac_cmd_valid) begin
        r_err = aimc_dpi_cmd_start(mac_cmd_desc, r_info, r_kind, r_comp, r_nvec, r_ntiles,
                                   r_busy);
        mac_err      <= r_err;
        mac_info     <= r_info;
        mac_kind     <= r_kind != 0;
        mac_computed <= r_comp != 0;
        mac_n_vec    <= r_nvec;
        mac_n_tiles  <= r_ntiles;
        mac_busy     <= r_busy;
        mac_done     <= 1'b1;
      end
      if (mac_fin_valid) begin
        r_err = aimc_dpi_cmd_finish(r_info);
        mac_err  <= r_err;
        mac_info <= r_info;
        mac_done <= 1'b1;
      end
      if (mac_tile_valid) begin
        aimc_dpi_tile({24'd0, mac_tile_k}, x, n);
        mac_tile_xbar  <= x;
        mac_tile_ncols <= n;
        mac_tile_done  <= 1'b1;
      end
      if (mac_conv_valid) begin
        aimc_dpi_convert(mac_conv_vec, {24'd0, mac_conv_tile}, {27'd0, mac_conv_step},
                         {20'd0, mac_conv_col}, codes);
        mac_codes <= codes;
      end
    end
  end

  // drive, integrate and the round carry nothing C needs (see the header)
  logic unused;
  assign unused = ^{mac_drive, mac_drive_vec, mac_drive_round, mac_drive_step, mac_integrate,
                    o_strb[31:8]};
endmodule : aimc_macro_dpi
`default_nettype wire
