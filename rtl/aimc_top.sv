// aimc_top.sv - top of the aimc device's digital control path: the register window (AXI4-Lite
// slave), the command processor and its DMA (AXI4 master), the tile sequencer and the
// accumulation engine. Synthesizable; `make synth` runs Yosys on it (docs/rtl.md).
//
// Around it: the host's buses, and the analog half (the "macro": the crossbar arrays with
// their DACs and ADC banks, the programming engine, the float units) on the mac_* ports. In
// simulation rtl/sim/aimc_macro_dpi.sv models the macro by DPI-C calls into the C device
// (rtl/sim/aimc_sim.sv puts the two together for Verilator); tests/rtl/ has a stand-alone
// testbench with an SV model of it. docs/rtl.md describes every port.
`default_nettype none
module aimc_top (
  input  wire         clk,
  input  wire         rst_n,              // power-on reset, synchronous, active low
  // straps: constant after reset
  input  wire  [31:0] cap_xbar_rows,
  input  wire  [31:0] cap_xbar_cols,
  input  wire  [31:0] cap_xbars,
  input  wire  [31:0] cap_adc_bits,
  input  wire  [31:0] cap_dac_bits,
  input  wire  [31:0] cap_bits_per_cell,
  input  wire  [31:0] cap_weight_bits,
  input  wire  [31:0] cfg_int_cycles,     // integration cycles of one input step, >= 1
  input  wire  [31:0] cfg_conv_fp16,      // one ADC round in cycles, unsigned 16.16, >= 1
  input  wire  [31:0] cfg_adcs,           // ADCs per crossbar, 1 .. 256
  input  wire  [31:0] cfg_steps,          // input steps per vector, 1 .. 31
  input  wire         cfg_serial,         // 1: bit-serial DAC, step s has weight 2^s
  input  wire  [31:0] cfg_ops_per_cycle,  // digital ops one core retires per cycle, >= 1
  input  wire  [31:0] cfg_unit_ops_per_cycle, // ops a cluster's digital units retire per cycle
  input  wire  [31:0] cfg_xbars_per_core, // crossbars per core, >= 1
  input  wire  [31:0] cfg_cycles_per_us,  // clock cycles per microsecond (watchdog), >= 1
  // registers: AXI4-Lite slave
  input  wire         s_axil_awvalid,
  output logic        s_axil_awready,
  input  wire  [11:0] s_axil_awaddr,
  input  wire         s_axil_wvalid,
  output logic        s_axil_wready,
  input  wire  [31:0] s_axil_wdata,
  input  wire  [3:0]  s_axil_wstrb,
  output logic        s_axil_bvalid,
  input  wire         s_axil_bready,
  output logic [1:0]  s_axil_bresp,
  input  wire         s_axil_arvalid,
  output logic        s_axil_arready,
  input  wire  [11:0] s_axil_araddr,
  output logic        s_axil_rvalid,
  input  wire         s_axil_rready,
  output logic [31:0] s_axil_rdata,
  output logic [1:0]  s_axil_rresp,
  // host memory: AXI4 master, 64-bit data
  output logic        m_axi_arvalid,
  input  wire         m_axi_arready,
  output logic [63:0] m_axi_araddr,
  output logic [7:0]  m_axi_arlen,
  output logic [2:0]  m_axi_arsize,
  output logic [1:0]  m_axi_arburst,
  output logic        m_axi_arid,
  input  wire         m_axi_rvalid,
  output logic        m_axi_rready,
  input  wire  [63:0] m_axi_rdata,
  input  wire  [1:0]  m_axi_rresp,
  input  wire         m_axi_rlast,
  input  wire         m_axi_rid,
  output logic        m_axi_awvalid,
  input  wire         m_axi_awready,
  output logic [63:0] m_axi_awaddr,
  output logic [7:0]  m_axi_awlen,
  output logic [2:0]  m_axi_awsize,
  output logic [1:0]  m_axi_awburst,
  output logic        m_axi_awid,
  output logic        m_axi_wvalid,
  input  wire         m_axi_wready,
  output logic [63:0] m_axi_wdata,
  output logic [7:0]  m_axi_wstrb,
  output logic        m_axi_wlast,
  input  wire         m_axi_bvalid,
  output logic        m_axi_bready,
  input  wire  [1:0]  m_axi_bresp,
  input  wire         m_axi_bid,
  output logic        irq,
  // status for a simulator: the command processor has work; nothing changes until a
  // register write
  output logic        cp_active,
  output logic        quiescent,
  // fault injection (no register reaches it; tie dbg_hang_load low in silicon)
  input  wire         dbg_hang_load,
  input  wire  [31:0] dbg_hang_after,
  // ---- the analog half (the macro) ----
  // commands: start one, finish or drop an analog job
  output logic         mac_cmd_valid,
  output logic [511:0] mac_cmd_desc,
  output logic         mac_fin_valid,
  output logic         mac_abort,
  input  wire          mac_done,
  input  wire  [31:0]  mac_err,
  input  wire  [31:0]  mac_info,
  input  wire          mac_kind,
  input  wire          mac_computed,
  input  wire  [31:0]  mac_n_vec,
  input  wire  [31:0]  mac_n_tiles,
  input  wire  [63:0]  mac_busy,
  // operand buffers: ranges read from host memory, ranges the command wrote
  output logic         mac_opd_clear,
  output logic         mac_opd_valid,
  output logic [63:0]  mac_opd_base,
  output logic [63:0]  mac_opd_len,
  output logic [63:0]  mac_opd_addr,
  output logic [63:0]  mac_opd_data,
  output logic [7:0]   mac_opd_strb,
  output logic         mac_opd_err,
  output logic         mac_outq_valid,
  output logic [63:0]  mac_outq_addr,
  output logic [63:0]  mac_outq_len,
  input  wire          mac_outq_done,
  input  wire          mac_outq_hit,
  output logic         mac_out_valid,
  output logic [63:0]  mac_out_addr,
  input  wire  [63:0]  mac_out_data,
  input  wire  [7:0]   mac_out_strb,
  // counters it keeps, their reset, the soft reset
  output logic         mac_cnt_valid,
  output logic [11:0]  mac_cnt_off,
  input  wire          mac_cnt_done,
  input  wire  [63:0]  mac_cnt_val,
  output logic         mac_cnt_clear,
  output logic         mac_soft_reset,
  input  wire          mac_machine_bad,
  // the tile table of the analog job
  output logic         mac_tile_valid,
  output logic [7:0]   mac_tile_k,
  input  wire          mac_tile_done,
  input  wire  [31:0]  mac_tile_xbar,
  input  wire  [31:0]  mac_tile_ncols,
  // drive, integrate, convert (per ADC bank, NL columns a beat), and the sums
  output logic         mac_drive,
  output logic [31:0]  mac_drive_vec,
  output logic [7:0]   mac_drive_round,
  output logic [4:0]   mac_drive_step,
  output logic         mac_integrate,
  output logic         mac_conv_valid,
  input  wire          mac_conv_ready,
  output logic [31:0]  mac_conv_vec,
  output logic [7:0]   mac_conv_tile,
  output logic [4:0]   mac_conv_step,
  output logic [11:0]  mac_conv_col,
  input  wire  [aimc_rtl_pkg::NL*32-1:0] mac_codes,
  output logic         mac_sum_valid,
  output logic [31:0]  mac_sum_vec,
  output logic [7:0]   mac_sum_tile,
  output logic [11:0]  mac_sum_col,
  output logic [aimc_rtl_pkg::NL*64-1:0] mac_sums
);
  // register access
  logic        acc_valid, acc_write, acc_done;
  logic [11:0] acc_addr;
  logic [31:0] acc_wdata, acc_rdata;
  // register block <-> command processor
  logic        soft_reset, doorbell, wd_write, ctrl_enable;
  logic [63:0] ring_base;
  logic [31:0] ring_size, ring_head, ring_tail, watchdog_us;
  logic        cp_busy, cp_hung, cp_halted, cp_wd_armed;
  logic        ev_err, ev_done, ev_done_irq;
  logic [31:0] ev_err_bits, ev_err_info, ev_done_bits, ev_done_info;
  logic [63:0] ev_err_fence, ev_done_fence;
  // command processor <-> DMA
  logic        dma_req_valid, dma_req_write, dma_req_id, dma_busy, dma_done, dma_err;
  logic [63:0] dma_req_addr, dma_req_len;
  logic        dma_rd_valid, dma_rd_err, dma_wr_req;
  logic [63:0] dma_rd_addr, dma_rd_data, dma_wr_addr, dma_wr_data;
  logic [7:0]  dma_rd_strb, dma_wr_strb;
  // command processor <-> tile sequencer
  logic        ts_start, ts_done, ts_err;
  logic [31:0] ts_n_vec, ts_n_tiles, ts_err_info;
  // counter increments
  logic [63:0] cp_inc_cycles, cp_inc_digital_ops;
  logic [63:0] ts_inc_cycles, ts_inc_mvms, ts_inc_adc_conv, ts_inc_xbar_reads, ts_inc_digital_ops;

  aimc_axil u_axil (
    .clk, .rst_n,
    .s_awvalid (s_axil_awvalid), .s_awready (s_axil_awready), .s_awaddr (s_axil_awaddr),
    .s_wvalid  (s_axil_wvalid),  .s_wready  (s_axil_wready),  .s_wdata  (s_axil_wdata),
    .s_wstrb   (s_axil_wstrb),
    .s_bvalid  (s_axil_bvalid),  .s_bready  (s_axil_bready),  .s_bresp  (s_axil_bresp),
    .s_arvalid (s_axil_arvalid), .s_arready (s_axil_arready), .s_araddr (s_axil_araddr),
    .s_rvalid  (s_axil_rvalid),  .s_rready  (s_axil_rready),  .s_rdata  (s_axil_rdata),
    .s_rresp   (s_axil_rresp),
    .acc_valid, .acc_write, .acc_addr, .acc_wdata, .acc_done, .acc_rdata
  );

  aimc_regblock u_regs (
    .clk, .rst_n,
    .cap_xbar_rows, .cap_xbar_cols, .cap_xbars, .cap_adc_bits, .cap_dac_bits,
    .cap_bits_per_cell, .cap_weight_bits,
    .acc_valid, .acc_write, .acc_addr, .acc_wdata, .acc_done, .acc_rdata,
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
    .mac_cnt_valid, .mac_cnt_off, .mac_cnt_done, .mac_cnt_val, .mac_cnt_clear,
    .mac_soft_reset, .mac_machine_bad,
    .irq
  );

  aimc_cmdproc u_cmdproc (
    .clk, .rst_n,
    .cfg_unit_ops_per_cycle, .cfg_cycles_per_us,
    .soft_reset, .doorbell, .wd_write,
    .ctrl_enable, .ring_base, .ring_size, .ring_head, .ring_tail, .watchdog_us,
    .dbg_hang_load, .dbg_hang_after,
    .dma_req_valid, .dma_req_write, .dma_req_addr, .dma_req_len, .dma_req_id,
    .dma_busy, .dma_done, .dma_err,
    .dma_rd_valid, .dma_rd_addr, .dma_rd_data, .dma_rd_strb, .dma_rd_err,
    .dma_wr_req, .dma_wr_addr, .dma_wr_data, .dma_wr_strb,
    .ev_err, .ev_err_bits, .ev_err_fence, .ev_err_info,
    .ev_done, .ev_done_bits, .ev_done_fence, .ev_done_info, .ev_done_irq,
    .inc_cycles      (cp_inc_cycles),
    .inc_digital_ops (cp_inc_digital_ops),
    .mac_cmd_valid, .mac_cmd_desc, .mac_fin_valid, .mac_abort,
    .mac_done, .mac_err, .mac_info, .mac_kind, .mac_computed, .mac_n_vec, .mac_n_tiles,
    .mac_busy,
    .mac_opd_clear, .mac_opd_valid, .mac_opd_base, .mac_opd_len, .mac_opd_addr, .mac_opd_data,
    .mac_opd_strb, .mac_opd_err, .mac_outq_valid, .mac_outq_addr, .mac_outq_len,
    .mac_outq_done, .mac_outq_hit, .mac_out_valid, .mac_out_addr, .mac_out_data, .mac_out_strb,
    .ts_start, .ts_n_vec, .ts_n_tiles, .ts_done, .ts_err, .ts_err_info,
    .busy     (cp_busy),
    .hung     (cp_hung),
    .halted   (cp_halted),
    .active   (cp_active),
    .wd_armed (cp_wd_armed)
  );

  aimc_dma u_dma (
    .clk, .rst_n,
    .abort     (soft_reset),
    .req_valid (dma_req_valid),
    .req_write (dma_req_write),
    .req_addr  (dma_req_addr),
    .req_len   (dma_req_len),
    .req_id    (dma_req_id),
    .busy      (dma_busy),
    .done      (dma_done),
    .err       (dma_err),
    .rd_valid  (dma_rd_valid),
    .rd_addr   (dma_rd_addr),
    .rd_data   (dma_rd_data),
    .rd_strb   (dma_rd_strb),
    .rd_err    (dma_rd_err),
    .wr_req    (dma_wr_req),
    .wr_addr   (dma_wr_addr),
    .wr_data   (dma_wr_data),
    .wr_strb   (dma_wr_strb),
    .m_arvalid (m_axi_arvalid), .m_arready (m_axi_arready), .m_araddr (m_axi_araddr),
    .m_arlen   (m_axi_arlen),   .m_arsize  (m_axi_arsize),  .m_arburst (m_axi_arburst),
    .m_arid    (m_axi_arid),
    .m_rvalid  (m_axi_rvalid),  .m_rready  (m_axi_rready),  .m_rdata  (m_axi_rdata),
    .m_rresp   (m_axi_rresp),   .m_rlast   (m_axi_rlast),   .m_rid    (m_axi_rid),
    .m_awvalid (m_axi_awvalid), .m_awready (m_axi_awready), .m_awaddr (m_axi_awaddr),
    .m_awlen   (m_axi_awlen),   .m_awsize  (m_axi_awsize),  .m_awburst (m_axi_awburst),
    .m_awid    (m_axi_awid),
    .m_wvalid  (m_axi_wvalid),  .m_wready  (m_axi_wready),  .m_wdata  (m_axi_wdata),
    .m_wstrb   (m_axi_wstrb),   .m_wlast   (m_axi_wlast),
    .m_bvalid  (m_axi_bvalid),  .m_bready  (m_axi_bready),  .m_bresp  (m_axi_bresp),
    .m_bid     (m_axi_bid)
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
    .inc_digital_ops (ts_inc_digital_ops),
    .mac_tile_valid, .mac_tile_k, .mac_tile_done, .mac_tile_xbar, .mac_tile_ncols,
    .mac_drive, .mac_drive_vec, .mac_drive_round, .mac_drive_step, .mac_integrate,
    .mac_conv_valid, .mac_conv_ready, .mac_conv_vec, .mac_conv_tile, .mac_conv_step,
    .mac_conv_col, .mac_codes,
    .mac_sum_valid, .mac_sum_vec, .mac_sum_tile, .mac_sum_col, .mac_sums
  );

  // Nothing changes until a register write: no ring work, and the watchdog cannot fire.
  assign quiescent = !cp_active && !cp_wd_armed;
endmodule : aimc_top
`default_nettype wire
