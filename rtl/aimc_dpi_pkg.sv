// aimc_dpi_pkg.sv - the DPI-C imports through which the RTL reaches the C side of aimc.
//
// The C side (the analog arrays, the digital commands' data work and the energy counters)
// implements these functions; docs/rtl.md describes the contract. The RTL calls them only
// from clocked logic (always_ff), at the clock edge at which the hardware event happens.
package aimc_dpi_pkg;
  // Start a command whose descriptor passed the RTL's checks (byte i in bits 8i+7:8i).
  // Returns its ERROR bits (0 = OK) with the detail in info. kind 0: done in C (busy_cycles:
  // cycles it takes, computed: a digital command did its work); kind 1: an analog job of
  // n_vec vectors over n_tiles tiles for the tile sequencer.
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
  // One conversion slot: the ADC codes of columns slot*adcs.. of tile k, vector v, step.
  // Lane i (32-bit signed) in bits 32i+31:32i.
  import "DPI-C" function void aimc_dpi_convert(input int unsigned v, input int unsigned k,
      input int unsigned step, input int unsigned slot, output bit [8191:0] codes);
  // The shift-and-added sums of one slot of tile k after the last step (lane i, 64-bit
  // signed, in bits 64i+63:64i; lanes beyond the tile's columns are 0).
  import "DPI-C" function void aimc_dpi_accumulate(input int unsigned v, input int unsigned k,
      input int unsigned slot, input bit [16383:0] acc);
  // End of the analog job: its ERROR bits and detail.
  import "DPI-C" function int unsigned aimc_dpi_cmd_finish(output int unsigned info);
  // Abandon the analog job started by aimc_dpi_cmd_start (the RTL cannot run it).
  import "DPI-C" function void aimc_dpi_cmd_abort();
  // A 64-bit counter kept in C, by the offset of its LO register.
  import "DPI-C" function longint unsigned aimc_dpi_counter(input int unsigned lo_off);
  // CNT_CTRL.RESET: zero the counters kept in C.
  import "DPI-C" function void aimc_dpi_counters_reset();
  // CTRL.SOFT_RESET: recreate the C machine; nonzero when that failed (machine_bad).
  import "DPI-C" function int unsigned aimc_dpi_soft_reset();
endpackage : aimc_dpi_pkg
