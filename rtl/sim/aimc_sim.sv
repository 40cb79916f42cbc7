// aimc_sim.sv - SIMULATION ONLY: the device as Verilator builds it for the rtl: backend:
// the digital control path (aimc_top) with the analog half modelled by DPI-C calls into the C
// device (aimc_macro_dpi). Its ports are aimc_top's buses, straps and status; the C wrapper
// (rtl/aimc_vl.cpp) drives them. docs/rtl.md.
`default_nettype none
module aimc_sim (
  input  wire          clk,
  input  wire          rst_n,  // power-on reset, synchronous, active low
  input  wire  [31:0]  cap_xbar_rows,
  input  wire  [31:0]  cap_xbar_cols,
  input  wire  [31:0]  cap_xbars,
  input  wire  [31:0]  cap_adc_bits,
  input  wire  [31:0]  cap_dac_bits,
  input  wire  [31:0]  cap_bits_per_cell,
  input  wire  [31:0]  cap_weight_bits,
  input  wire  [31:0]  cfg_int_cycles,  // integration cycles of one input step, >= 1
  input  wire  [31:0]  cfg_conv_fp16,  // one ADC round in cycles, unsigned 16.16, >= 1
  input  wire  [31:0]  cfg_adcs,  // ADCs per crossbar, 1 .. 256
  input  wire  [31:0]  cfg_steps,  // input steps per vector, 1 .. 31
  input  wire          cfg_serial,  // 1: bit-serial DAC, step s has weight 2^s
  input  wire  [31:0]  cfg_ops_per_cycle,  // digital ops one core retires per cycle, >= 1
  input  wire  [31:0]  cfg_unit_ops_per_cycle,  // ops a cluster's digital units retire per cycle
  input  wire  [31:0]  cfg_xbars_per_core,  // crossbars per core, >= 1
  input  wire  [31:0]  cfg_cycles_per_us,  // clock cycles per microsecond (watchdog), >= 1
  input  wire          s_axil_awvalid,
  output logic         s_axil_awready,
  input  wire  [11:0]  s_axil_awaddr,
  input  wire          s_axil_wvalid,
  output logic         s_axil_wready,
  input  wire  [31:0]  s_axil_wdata,
  input  wire  [3:0]   s_axil_wstrb,
  output logic         s_axil_bvalid,
  input  wire          s_axil_bready,
  output logic [1:0]   s_axil_bresp,
  input  wire          s_axil_arvalid,
  output logic         s_axil_arready,
  input  wire  [11:0]  s_axil_araddr,
  output logic         s_axil_rvalid,
  input  wire          s_axil_rready,
  output logic [31:0]  s_axil_rdata,
  output logic [1:0]   s_axil_rresp,
  output logic         m_axi_arvalid,
  input  wire          m_axi_arready,
  output logic [63:0]  m_axi_araddr,
  output logic [7:0]   m_axi_arlen,
  output logic [2:0]   m_axi_arsize,
  output logic [1:0]   m_axi_arburst,
  output logic         m_axi_arid,
  input  wire          m_axi_rvalid,
  output logic         m_axi_rready,
  input  wire  [63:0]  m_axi_rdata,
  input  wire  [1:0]   m_axi_rresp,
  input  wire          m_axi_rlast,
  input  wire          m_axi_rid,
  output logic         m_axi_awvalid,
  input  wire          m_axi_awready,
  output logic [63:0]  m_axi_awaddr,
  output logic [7:0]   m_axi_awlen,
  output logic [2:0]   m_axi_awsize,
  output logic [1:0]   m_axi_awburst,
  output logic         m_axi_awid,
  output logic         m_axi_wvalid,
  input  wire          m_axi_wready,
  output logic [63:0]  m_axi_wdata,
  output logic [7:0]   m_axi_wstrb,
  output logic         m_axi_wlast,
  input  wire          m_axi_bvalid,
  output logic         m_axi_bready,
  input  wire  [1:0]   m_axi_bresp,
  input  wire          m_axi_bid,
  output logic         irq,
  output logic         cp_active,
  output logic         quiescent,
  input  wire          dbg_hang_load,
  input  wire  [31:0]  dbg_hang_after
);
  // the macro ports between the two
  logic                                mac_cmd_valid;
  logic [511:0]                        mac_cmd_desc;
  logic                                mac_fin_valid;
  logic                                mac_abort;
  logic                                mac_done;
  logic [31:0]                         mac_err;
  logic [31:0]                         mac_info;
  logic                                mac_kind;
  logic                                mac_computed;
  logic [31:0]                         mac_n_vec;
  logic [31:0]                         mac_n_tiles;
  logic [63:0]                         mac_busy;
  logic                                mac_opd_clear;
  logic                                mac_opd_valid;
  logic [63:0]                         mac_opd_base;
  logic [63:0]                         mac_opd_len;
  logic [63:0]                         mac_opd_addr;
  logic [63:0]                         mac_opd_data;
  logic [7:0]                          mac_opd_strb;
  logic                                mac_opd_err;
  logic                                mac_outq_valid;
  logic [63:0]                         mac_outq_addr;
  logic [63:0]                         mac_outq_len;
  logic                                mac_outq_done;
  logic                                mac_outq_hit;
  logic                                mac_out_valid;
  logic [63:0]                         mac_out_addr;
  logic [63:0]                         mac_out_data;
  logic [7:0]                          mac_out_strb;
  logic                                mac_cnt_valid;
  logic [11:0]                         mac_cnt_off;
  logic                                mac_cnt_done;
  logic [63:0]                         mac_cnt_val;
  logic                                mac_cnt_clear;
  logic                                mac_soft_reset;
  logic                                mac_machine_bad;
  logic                                mac_tile_valid;
  logic [7:0]                          mac_tile_k;
  logic                                mac_tile_done;
  logic [31:0]                         mac_tile_xbar;
  logic [31:0]                         mac_tile_ncols;
  logic                                mac_drive;
  logic [31:0]                         mac_drive_vec;
  logic [7:0]                          mac_drive_round;
  logic [4:0]                          mac_drive_step;
  logic                                mac_integrate;
  logic                                mac_conv_valid;
  logic                                mac_conv_ready;
  logic [31:0]                         mac_conv_vec;
  logic [7:0]                          mac_conv_tile;
  logic [4:0]                          mac_conv_step;
  logic [11:0]                         mac_conv_col;
  logic [aimc_rtl_pkg::NL*32-1:0]      mac_codes;
  logic                                mac_sum_valid;
  logic [31:0]                         mac_sum_vec;
  logic [7:0]                          mac_sum_tile;
  logic [11:0]                         mac_sum_col;
  logic [aimc_rtl_pkg::NL*64-1:0]      mac_sums;

  aimc_top u_top (.*);

  aimc_macro_dpi u_mac (.*);
endmodule : aimc_sim
`default_nettype wire
