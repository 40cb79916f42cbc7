// aimc_top.sv - top of the aimc device's digital control path: register block, command
// processor and tile sequencer.
//
// The C++ wrapper (rtl/aimc_vl.*) drives the clock, reset, straps, register port and
// memory port; the analog arrays and the digital commands' data work stay in C, reached
// through the DPI-C functions of aimc_dpi_pkg. docs/rtl.md describes the ports.
module aimc_top
  import aimc_regs_pkg::*;
(
  input  logic        clk,
  input  logic        rst_n,              // power-on reset, synchronous, active low
  // straps: constant after reset
  input  logic [31:0] cap_xbar_rows,
  input  logic [31:0] cap_xbar_cols,
  input  logic [31:0] cap_xbars,
  input  logic [31:0] cap_adc_bits,
  input  logic [31:0] cap_dac_bits,
  input  logic [31:0] cap_bits_per_cell,
  input  logic [31:0] cap_weight_bits,
  input  logic [31:0] cfg_int_cycles,     // integration cycles of one input step, >= 1
  input  logic [31:0] cfg_conv_fp16,      // one ADC round in cycles, unsigned 16.16, >= 1
  input  logic [31:0] cfg_adcs,           // ADCs per crossbar, 1 .. 256
  input  logic [31:0] cfg_steps,          // input steps per vector, 1 .. 31
  input  logic        cfg_serial,         // 1: bit-serial DAC, step s has weight 2^s
  input  logic [31:0] cfg_ops_per_cycle,  // digital ops one core retires per cycle, >= 1
  input  logic [31:0] cfg_unit_ops_per_cycle, // ops a cluster's digital units retire per cycle, >= 1
  input  logic [31:0] cfg_xbars_per_core, // crossbars per core, >= 1
  input  logic [31:0] cfg_cycles_per_us,  // clock cycles per microsecond (watchdog), >= 1
  // register port
  input  logic        reg_valid,
  input  logic        reg_write,
  input  logic [11:0] reg_addr,
  input  logic [31:0] reg_wdata,
  output logic        reg_ready,
  output logic [31:0] reg_rdata,
  // memory port (8-byte beats, one outstanding request)
  output logic        mem_req_valid,
  input  logic        mem_req_ready,
  output logic        mem_req_write,
  output logic [63:0] mem_req_addr,
  output logic [63:0] mem_req_wdata,
  output logic [7:0]  mem_req_strb,
  input  logic        mem_rsp_valid,
  input  logic [63:0] mem_rsp_rdata,
  input  logic        mem_rsp_err,
  output logic        irq,
  // status for the wrapper
  output logic        cp_active,
  output logic        quiescent,
  // fault injection
  input  logic        dbg_hang_load,
  input  logic [31:0] dbg_hang_after
);
  // register block <-> command processor
  logic        soft_reset, doorbell, wd_write, ctrl_enable;
  logic [63:0] ring_base;
  logic [31:0] ring_size, ring_head, ring_tail, watchdog_us;
  logic        cp_busy, cp_hung, cp_halted, cp_wd_armed;
  logic        ev_err, ev_done, ev_done_irq;
  logic [31:0] ev_err_bits, ev_err_info, ev_done_bits, ev_done_info;
  logic [63:0] ev_err_fence, ev_done_fence;
  // command processor <-> tile sequencer
  logic        ts_start, ts_done, ts_err;
  logic [31:0] ts_n_vec, ts_n_tiles, ts_err_info;
  // counter increments
  logic [63:0] cp_inc_cycles, cp_inc_digital_ops;
  logic [63:0] ts_inc_cycles, ts_inc_mvms, ts_inc_adc_conv, ts_inc_xbar_reads, ts_inc_digital_ops;

  aimc_regblock u_regs (
    .clk, .rst_n,
    .cap_xbar_rows, .cap_xbar_cols, .cap_xbars, .cap_adc_bits, .cap_dac_bits,
    .cap_bits_per_cell, .cap_weight_bits,
    .reg_valid, .reg_write, .reg_addr, .reg_wdata, .reg_ready, .reg_rdata,
    .soft_reset, .doorbell, .wd_write,
    .ctrl_enable, .ring_base, .ring_size, .ring_head, .ring_tail, .watchdog_us,
    .cp_busy, .cp_hung, .cp_halted,
    .ev_err, .ev_err_bits, .ev_err_fence, .ev_err_info,
    .ev_done, .ev_done_bits, .ev_done_fence, .ev_done_info, .ev_done_irq,
    // the two sources never count in the same cycle (one command at a time); summed anyway
    .inc_cycles      (cp_inc_cycles + ts_inc_cycles),
    .inc_mvms        (ts_inc_mvms),
    .inc_adc_conv    (ts_inc_adc_conv),
    .inc_xbar_reads  (ts_inc_xbar_reads),
    .inc_digital_ops (cp_inc_digital_ops + ts_inc_digital_ops),
    .irq
  );

  aimc_cmdproc u_cmdproc (
    .clk, .rst_n,
    .cfg_unit_ops_per_cycle, .cfg_cycles_per_us,
    .soft_reset, .doorbell, .wd_write,
    .ctrl_enable, .ring_base, .ring_size, .ring_head, .ring_tail, .watchdog_us,
    .dbg_hang_load, .dbg_hang_after,
    .mem_req_valid, .mem_req_ready, .mem_req_write, .mem_req_addr, .mem_req_wdata,
    .mem_req_strb, .mem_rsp_valid, .mem_rsp_rdata, .mem_rsp_err,
    .ev_err, .ev_err_bits, .ev_err_fence, .ev_err_info,
    .ev_done, .ev_done_bits, .ev_done_fence, .ev_done_info, .ev_done_irq,
    .inc_cycles      (cp_inc_cycles),
    .inc_digital_ops (cp_inc_digital_ops),
    .ts_start, .ts_n_vec, .ts_n_tiles, .ts_done, .ts_err, .ts_err_info,
    .busy     (cp_busy),
    .hung     (cp_hung),
    .halted   (cp_halted),
    .active   (cp_active),
    .wd_armed (cp_wd_armed)
  );

  aimc_tileseq u_tileseq (
    .clk, .rst_n,
    .abort   (soft_reset),
    .start   (ts_start),
    .n_vec   (ts_n_vec),
    .n_tiles (ts_n_tiles),
    .cfg_int_cycles, .cfg_conv_fp16, .cfg_adcs, .cfg_steps, .cfg_serial,
    .cfg_ops_per_cycle, .cfg_xbars_per_core,
    .done            (ts_done),
    .err             (ts_err),
    .err_info        (ts_err_info),
    .inc_cycles      (ts_inc_cycles),
    .inc_mvms        (ts_inc_mvms),
    .inc_adc_conv    (ts_inc_adc_conv),
    .inc_xbar_reads  (ts_inc_xbar_reads),
    .inc_digital_ops (ts_inc_digital_ops)
  );

  // Nothing changes until a register write: no ring work, and the watchdog cannot fire.
  assign quiescent = !cp_active && !cp_wd_armed;
endmodule : aimc_top
