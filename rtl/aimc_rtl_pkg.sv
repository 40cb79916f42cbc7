// aimc_rtl_pkg.sv - limits and shared constants of the aimc control-path RTL.
//
// The DEV_MAX_* values are the device limits of sim/device/accel.c (DEV_MAX_*), reported by the
// CAP_MAX_* registers and used by the descriptor checks. The RTL_* values are limits of this
// RTL model only (sizes of its on-chip tables); docs/rtl.md documents them.
package aimc_rtl_pkg;
  // ---- device limits (sim/device/accel.c DEV_MAX_*; AIMC_XBAR_MAX_MATRICES = 65536) ----
  localparam int unsigned DEV_MAX_MATRICES = 32'd65536;
  localparam int unsigned DEV_MAX_DIM      = 32'd65536;
  localparam int unsigned DEV_MAX_BATCH    = 32'd65536;
  localparam int unsigned DEV_MAX_TILES    = 32'd1 << 20;
  localparam int unsigned DEV_MAX_RING     = 32'd65536;
  localparam int unsigned DEV_MAX_ELEMS    = 32'd1 << 24;
  localparam int unsigned DEV_MAX_VERIFY   = 32'd1000;

  // The hang knob's "never" value (AIMC_ACCEL_HANG_NEVER in sim/device/aimc_accel.h).
  localparam int unsigned HANG_NEVER = 32'hFFFF_FFFF;

  // ---- limits of this RTL model ----
  // Tiles of one analog job (MVM/READBACK matrix) the tile sequencer's table holds; a job
  // with more tiles ends with ERROR.INTERNAL, info = its tile count.
  localparam int unsigned RTL_MAX_TILES = 256;
  localparam int unsigned RTL_TILE_IDX_W = $clog2(RTL_MAX_TILES);
  // ADC lanes of one conversion slot (cfg_adcs <= RTL_LANES).
  localparam int unsigned RTL_LANES = 256;
  // Weight columns of one tile the accumulator holds: crossbar.cols <= 4096 (common/config.c),
  // so no legal tile is wider. A wider tile ends the job with ERROR.INTERNAL, info = tile index.
  localparam int unsigned RTL_MAX_TILE_COLS = 4096;
  localparam int unsigned RTL_COL_W = $clog2(RTL_MAX_TILE_COLS);
endpackage : aimc_rtl_pkg

