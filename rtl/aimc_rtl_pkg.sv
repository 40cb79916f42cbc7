// aimc_rtl_pkg.sv - limits and shared constants of the aimc control-path RTL.
//
// The DEV_MAX_* values are the device limits of sim/device/accel.c (DEV_MAX_*), reported by the
// CAP_MAX_* registers and used by the descriptor checks. The RTL_* values are limits of this
// RTL only (sizes of its on-chip tables and datapaths); docs/rtl.md documents them.
//
// Plain [31:0] parameters, referenced as aimc_rtl_pkg::NAME: the subset of SystemVerilog
// that all three of Verilator 5, Yosys 0.23 (read_verilog -sv) and Icarus 11 (-g2012) read
// (no imports, no int-typed parameters).
package aimc_rtl_pkg;
  // ---- device limits (sim/device/accel.c DEV_MAX_*; AIMC_XBAR_MAX_MATRICES = 65536) ----
  localparam [31:0] DEV_MAX_MATRICES = 32'd65536;
  localparam [31:0] DEV_MAX_DIM      = 32'd65536;
  localparam [31:0] DEV_MAX_BATCH    = 32'd65536;
  localparam [31:0] DEV_MAX_TILES    = 32'd1048576;
  localparam [31:0] DEV_MAX_RING     = 32'd65536;
  localparam [31:0] DEV_MAX_ELEMS    = 32'd16777216;
  localparam [31:0] DEV_MAX_VERIFY   = 32'd1000;

  // The hang knob's "never" value (AIMC_ACCEL_HANG_NEVER in sim/device/aimc_accel.h).
  localparam [31:0] HANG_NEVER = 32'hFFFF_FFFF;

  // ---- limits of this RTL ----
  // Tiles of one analog job (the MVM's or READBACK's matrix) the tile tables hold; a job with
  // more ends with ERROR.INTERNAL, info = its tile count (C refuses it before the arrays run).
  localparam [31:0] RTL_MAX_TILES = 32'd256;
  // ADCs per crossbar the sequencer's timing tables take (cfg_adcs <= RTL_MAX_ADCS).
  localparam [31:0] RTL_MAX_ADCS = 32'd256;
  // Weight columns of one tile: crossbar.cols <= 4096 (common/config.c), so no legal tile is
  // wider. A wider or empty tile ends the job with ERROR.INTERNAL, info = its index.
  localparam [31:0] RTL_MAX_TILE_COLS = 32'd4096;
  // Lanes of the accumulation datapath: the codes of NL adjacent columns of one tile per cycle
  // (one beat of an ADC bank's conversion), each added into its 64-bit column sum.
  localparam        NL     = 8;
  localparam        NL_W   = 3;                   // log2(NL)
  // Accumulator SRAM words of NL column sums: one round's tiles at most, every tile starting
  // on a word, so 256 tiles of 4096 columns fit (no job is refused for it).
  localparam        ACC_AW    = 17;
  localparam [31:0] ACC_WORDS = 32'd131072;       // 2^ACC_AW = 256 * 4096 / NL
endpackage : aimc_rtl_pkg
