// aimc_regblock.sv - the aimc register file: CAP straps, CTRL/STATUS, ERROR and IRQ logic,
// ring registers, the 64-bit LO/HI read latch and the performance counters.
//
// Semantics are those of sim/device/accel.c (aimc_accel_reg_read32/reg_write32, raise_error,
// update_irq, aimc_accel_reset); docs/registers.md documents every register. The bus side
// (aimc_axil, AXI4-Lite) hands over one access at a time: acc_valid for one cycle takes it;
// acc_done pulses when it is answered (a write at the next edge, a read with acc_rdata one
// cycle later, or once the analog half answered for a counter it keeps).
//
// Within one clock edge the updates apply in the order: register write, then the command
// processor's events (error, command completion), then the counter increments. A soft
// reset (CTRL.SOFT_RESET written) overrides everything else at its edge.
`default_nettype none
module aimc_regblock (
  input  wire         clk,
  input  wire         rst_n,
  // CAP straps
  input  wire  [31:0] cap_xbar_rows,
  input  wire  [31:0] cap_xbar_cols,
  input  wire  [31:0] cap_xbars,
  input  wire  [31:0] cap_adc_bits,
  input  wire  [31:0] cap_dac_bits,
  input  wire  [31:0] cap_bits_per_cell,
  input  wire  [31:0] cap_weight_bits,
  // one register access (from aimc_axil)
  input  wire         acc_valid,
  input  wire         acc_write,
  input  wire  [11:0] acc_addr,
  input  wire  [31:0] acc_wdata,
  output logic        acc_done,
  output logic [31:0] acc_rdata,
  // strobes of the write taken at this edge (combinational), for the command processor
  output logic        soft_reset,      // CTRL written with SOFT_RESET
  output logic        doorbell,        // DOORBELL written
  output logic        wd_write,        // WATCHDOG_US written
  // register state the command processor works with
  output logic        ctrl_enable,
  output logic [63:0] ring_base,
  output logic [31:0] ring_size,
  output logic [31:0] ring_head,
  output logic [31:0] ring_tail,
  output logic [31:0] watchdog_us,
  // command processor state for STATUS
  input  wire         cp_busy,
  input  wire         cp_hung,
  input  wire         cp_halted,
  // raise_error(bits, fence, info) from the command processor at this edge
  input  wire         ev_err,
  input  wire  [31:0] ev_err_bits,
  input  wire  [63:0] ev_err_fence,
  input  wire  [31:0] ev_err_info,
  // a command completed at this edge: head++, DONE_FENCE, its error bits, IRQ DONE
  input  wire         ev_done,
  input  wire  [31:0] ev_done_bits,
  input  wire  [63:0] ev_done_fence,
  input  wire  [31:0] ev_done_info,
  input  wire         ev_done_irq,
  // counter increments at this edge
  input  wire  [63:0] inc_cycles,
  input  wire  [63:0] inc_mvms,
  input  wire  [63:0] inc_adc_conv,
  input  wire  [63:0] inc_xbar_reads,
  input  wire  [63:0] inc_digital_ops,
  // the analog half: counters it keeps (energy, drives, ...), their reset, the soft reset
  output logic        mac_cnt_valid,   // read the counter whose LO offset is mac_cnt_off
  output logic [11:0] mac_cnt_off,
  input  wire         mac_cnt_done,    // with its value
  input  wire  [63:0] mac_cnt_val,
  output logic        mac_cnt_clear,   // CNT_CTRL.RESET (combinational, this edge)
  output logic        mac_soft_reset,  // CTRL.SOFT_RESET (combinational, this edge)
  input  wire         mac_machine_bad, // the last soft reset could not recreate the arrays
  output logic        irq
);
  // ---- register map (aimc_regs_pkg) ----
  localparam [31:0] R_ID         = aimc_regs_pkg::AIMC_REG_ID;
  localparam [31:0] R_VERSION    = aimc_regs_pkg::AIMC_REG_VERSION;
  // The register map this RTL implements: 2.1's registers and descriptors, the commands of
  // 2.0 (ROUTE, NORM, ACT and ATTN are refused as BAD_OPCODE; docs/rtl.md, "Limits"), so
  // VERSION says 2.0 and the runtime refuses models that need them.
  localparam [31:0] RTL_MAP_VERSION = 32'h00020000;
  localparam [31:0] R_CTRL       = aimc_regs_pkg::AIMC_REG_CTRL;
  localparam [31:0] R_STATUS     = aimc_regs_pkg::AIMC_REG_STATUS;
  localparam [31:0] R_ERROR      = aimc_regs_pkg::AIMC_REG_ERROR;
  localparam [31:0] R_ERROR_INFO = aimc_regs_pkg::AIMC_REG_ERROR_INFO;
  localparam [31:0] R_IRQ_STATUS = aimc_regs_pkg::AIMC_REG_IRQ_STATUS;
  localparam [31:0] R_IRQ_MASK   = aimc_regs_pkg::AIMC_REG_IRQ_MASK;
  localparam [31:0] R_RING_SIZE  = aimc_regs_pkg::AIMC_REG_RING_SIZE;
  localparam [31:0] R_RING_HEAD  = aimc_regs_pkg::AIMC_REG_RING_HEAD;
  localparam [31:0] R_RING_TAIL  = aimc_regs_pkg::AIMC_REG_RING_TAIL;
  localparam [31:0] R_DOORBELL   = aimc_regs_pkg::AIMC_REG_DOORBELL;
  localparam [31:0] R_WATCHDOG   = aimc_regs_pkg::AIMC_REG_WATCHDOG_US;
  localparam [31:0] R_CNT_CTRL   = aimc_regs_pkg::AIMC_REG_CNT_CTRL;
  localparam [31:0] R_BASE_LO    = aimc_regs_pkg::AIMC_REG_RING_BASE_LO;
  localparam [31:0] R_BASE_HI    = aimc_regs_pkg::AIMC_REG_RING_BASE_HI;
  localparam [31:0] CTRL_ENABLE  = aimc_regs_pkg::AIMC_REG_CTRL_ENABLE;
  localparam [31:0] CTRL_SOFT_RESET = aimc_regs_pkg::AIMC_REG_CTRL_SOFT_RESET;
  localparam [31:0] ERR_RING     = aimc_regs_pkg::AIMC_REG_ERROR_RING;
  localparam [31:0] IRQ_ERROR    = aimc_regs_pkg::AIMC_REG_IRQ_ERROR;
  localparam [31:0] IRQ_DONE     = aimc_regs_pkg::AIMC_REG_IRQ_DONE;
  localparam [31:0] IRQ_ALL      = aimc_regs_pkg::AIMC_REG_IRQ_ALL;
  localparam [31:0] CNT_RESET    = aimc_regs_pkg::AIMC_REG_CNT_CTRL_RESET;
  localparam [31:0] MAX_RING     = aimc_rtl_pkg::DEV_MAX_RING;

  // ---- architectural state ----
  logic [31:0] err_bits;        // ERROR
  logic [63:0] err_fence;       // ERROR_FENCE: the first error's fence
  logic [31:0] err_info;        // ERROR_INFO: the first error's detail
  logic [31:0] irq_status, irq_mask;
  logic [63:0] done_fence;
  logic [31:0] latch_off;       // HI offset whose half is latched; 0 = none
  logic [31:0] latch_hi;
  logic [63:0] cnt_cycles, cnt_mvms, cnt_adc_conv, cnt_xbar_reads, cnt_digital_ops;
  logic [63:0] cnt_time;        // the device clock: every cycle since reset (not CNT_CTRL's)

  // a read waiting for the analog half: its offset, and whether it is the LO half
  logic        c_wait, c_lo;
  logic [31:0] c_addr;

  // ---- the access taken at this edge ----
  logic        wr, rd;
  logic [31:0] addr;
  assign wr   = acc_valid && acc_write;
  assign rd   = acc_valid && !acc_write;
  assign addr = {20'd0, acc_addr};   // the whole 4 KiB window; unaligned offsets match nothing

  assign soft_reset = wr && addr == R_CTRL && (acc_wdata & CTRL_SOFT_RESET) != 32'd0;
  assign doorbell   = wr && addr == R_DOORBELL;
  assign wd_write   = wr && addr == R_WATCHDOG;
  assign mac_soft_reset = soft_reset;
  assign mac_cnt_clear  = wr && !soft_reset && addr == R_CNT_CTRL &&
                          (acc_wdata & CNT_RESET) != 32'd0;

  assign irq = (irq_status & irq_mask) != 32'd0;

  // ---- 64-bit registers (device.c reg64) ----
  // Counters the analog half keeps: read through the mac_cnt port.
  function automatic logic is_c_counter(input logic [31:0] a);
    is_c_counter =
      a == aimc_regs_pkg::AIMC_REG_CNT_ADC_SAT_LO || a == aimc_regs_pkg::AIMC_REG_CNT_DAC_DRIVES_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_CELLS_PROG_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_ENERGY_DAC_FJ_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_ENERGY_XBAR_FJ_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_ENERGY_ADC_FJ_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_ENERGY_DIG_FJ_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_ENERGY_BUFFER_FJ_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_ENERGY_BUS_FJ_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_ENERGY_NOC_FJ_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_ENERGY_UNITS_FJ_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_ENERGY_LINK_FJ_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_ENERGY_HOST_FJ_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_NOC_BYTES_LO || a == aimc_regs_pkg::AIMC_REG_CNT_LINK_BYTES_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_HOST_BYTES_LO;
  endfunction

  // 64-bit registers held here.
  function automatic logic is_rtl64(input logic [31:0] a);
    is_rtl64 =
      a == aimc_regs_pkg::AIMC_REG_ERROR_FENCE_LO || a == R_BASE_LO ||
      a == aimc_regs_pkg::AIMC_REG_DONE_FENCE_LO || a == aimc_regs_pkg::AIMC_REG_CNT_CYCLES_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_MVMS_LO || a == aimc_regs_pkg::AIMC_REG_CNT_ADC_CONV_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_XBAR_READS_LO ||
      a == aimc_regs_pkg::AIMC_REG_CNT_DIGITAL_OPS_LO || a == aimc_regs_pkg::AIMC_REG_CNT_TIME_LO;
  endfunction

  // ---- read data (values before this edge) ----
  logic [31:0] hi_off;          // the LO offset of a HI read
  logic        rd_lo, rd_hi, rd_c;
  logic [63:0] v64;
  logic [31:0] v32, rd_value;
  assign hi_off = addr - 32'd4;
  assign rd_lo  = is_rtl64(addr) || is_c_counter(addr);
  assign rd_hi  = addr >= 32'd4 && (is_rtl64(hi_off) || is_c_counter(hi_off));
  // a read the analog half answers: a LO half, or a HI half that was not latched
  assign rd_c   = (rd_lo && is_c_counter(addr)) || (rd_hi && latch_off != addr && is_c_counter(hi_off));

  always_comb begin
    case (rd_lo ? addr : hi_off)
      aimc_regs_pkg::AIMC_REG_ERROR_FENCE_LO:     v64 = err_fence;
      R_BASE_LO:                                  v64 = ring_base;
      aimc_regs_pkg::AIMC_REG_DONE_FENCE_LO:      v64 = done_fence;
      aimc_regs_pkg::AIMC_REG_CNT_CYCLES_LO:      v64 = cnt_cycles;
      aimc_regs_pkg::AIMC_REG_CNT_MVMS_LO:        v64 = cnt_mvms;
      aimc_regs_pkg::AIMC_REG_CNT_ADC_CONV_LO:    v64 = cnt_adc_conv;
      aimc_regs_pkg::AIMC_REG_CNT_XBAR_READS_LO:  v64 = cnt_xbar_reads;
      aimc_regs_pkg::AIMC_REG_CNT_DIGITAL_OPS_LO: v64 = cnt_digital_ops;
      aimc_regs_pkg::AIMC_REG_CNT_TIME_LO:        v64 = cnt_time;
      default:                                    v64 = 64'd0;
    endcase
  end

  // 32-bit registers (device.c reg_read32's switch)
  always_comb begin
    case (addr)
      R_ID:                                     v32 = aimc_regs_pkg::AIMC_REG_ID_VALUE;
      R_VERSION:                                v32 = RTL_MAP_VERSION;
      aimc_regs_pkg::AIMC_REG_CAP_XBAR_ROWS:     v32 = cap_xbar_rows;
      aimc_regs_pkg::AIMC_REG_CAP_XBAR_COLS:     v32 = cap_xbar_cols;
      aimc_regs_pkg::AIMC_REG_CAP_XBARS:         v32 = cap_xbars;
      aimc_regs_pkg::AIMC_REG_CAP_ADC_BITS:      v32 = cap_adc_bits;
      aimc_regs_pkg::AIMC_REG_CAP_DAC_BITS:      v32 = cap_dac_bits;
      aimc_regs_pkg::AIMC_REG_CAP_BITS_PER_CELL: v32 = cap_bits_per_cell;
      aimc_regs_pkg::AIMC_REG_CAP_WEIGHT_BITS:   v32 = cap_weight_bits;
      aimc_regs_pkg::AIMC_REG_CAP_MAX_MATRICES:  v32 = aimc_rtl_pkg::DEV_MAX_MATRICES;
      aimc_regs_pkg::AIMC_REG_CAP_MAX_DIM:       v32 = aimc_rtl_pkg::DEV_MAX_DIM;
      aimc_regs_pkg::AIMC_REG_CAP_MAX_BATCH:     v32 = aimc_rtl_pkg::DEV_MAX_BATCH;
      aimc_regs_pkg::AIMC_REG_CAP_MAX_TILES:     v32 = aimc_rtl_pkg::DEV_MAX_TILES;
      aimc_regs_pkg::AIMC_REG_CAP_MAX_RING:      v32 = aimc_rtl_pkg::DEV_MAX_RING;
      aimc_regs_pkg::AIMC_REG_CAP_MAX_ELEMS:     v32 = aimc_rtl_pkg::DEV_MAX_ELEMS;
      aimc_regs_pkg::AIMC_REG_CAP_MAX_VERIFY:    v32 = aimc_rtl_pkg::DEV_MAX_VERIFY;
      aimc_regs_pkg::AIMC_REG_CAP_FLAGS:         v32 = 32'd0;   // a model with values
      R_CTRL:                                   v32 = ctrl_enable ? CTRL_ENABLE : 32'd0;
      R_STATUS:
        v32 = (ctrl_enable && !cp_halted && !mac_machine_bad ?
                 aimc_regs_pkg::AIMC_REG_STATUS_READY : 32'd0) |
              (cp_busy || cp_hung ? aimc_regs_pkg::AIMC_REG_STATUS_BUSY : 32'd0) |
              (err_bits != 32'd0 ? aimc_regs_pkg::AIMC_REG_STATUS_ERROR : 32'd0) |
              (cp_halted ? aimc_regs_pkg::AIMC_REG_STATUS_HALTED : 32'd0);
      R_ERROR:                                  v32 = err_bits;
      R_ERROR_INFO:                             v32 = err_info;
      R_IRQ_STATUS:                             v32 = irq_status;
      R_IRQ_MASK:                               v32 = irq_mask;
      R_RING_SIZE:                              v32 = ring_size;
      R_RING_HEAD:                              v32 = ring_head;
      R_RING_TAIL:                              v32 = ring_tail;
      R_WATCHDOG:                               v32 = watchdog_us;
      default:                                  v32 = 32'd0;   // unknown, write-only
    endcase
  end

  assign rd_value = rd_lo ? v64[31:0] : rd_hi ? (latch_off == addr ? latch_hi : v64[63:32]) : v32;

  // ---- next state: register write, then events, then counters ----
  logic [31:0] n_err_bits, n_err_info, n_irq_status, n_irq_mask, n_size, n_head, n_tail, n_wd;
  logic [63:0] n_err_fence, n_base, n_done_fence;
  logic        n_enable;
  logic [63:0] n_cycles, n_mvms, n_adc_conv, n_xbar_reads, n_digital_ops;

  always_comb begin
    logic        e_on;    // the write raises ERROR.RING
    logic [31:0] e_info;
    n_err_bits    = err_bits;
    n_err_fence   = err_fence;
    n_err_info    = err_info;
    n_irq_status  = irq_status;
    n_irq_mask    = irq_mask;
    n_enable      = ctrl_enable;
    n_base        = ring_base;
    n_size        = ring_size;
    n_head        = ring_head;
    n_tail        = ring_tail;
    n_wd          = watchdog_us;
    n_done_fence  = done_fence;
    n_cycles      = cnt_cycles;
    n_mvms        = cnt_mvms;
    n_adc_conv    = cnt_adc_conv;
    n_xbar_reads  = cnt_xbar_reads;
    n_digital_ops = cnt_digital_ops;
    e_on          = 1'b0;
    e_info        = 32'd0;

    // ---- register write (device.c aimc_accel_reg_write32) ----
    if (wr) begin
      case (addr)
        R_CTRL:       n_enable = (acc_wdata & CTRL_ENABLE) != 32'd0;
        R_ERROR:      n_err_bits = n_err_bits & ~acc_wdata;
        R_IRQ_STATUS: n_irq_status = n_irq_status & ~acc_wdata;
        R_IRQ_MASK:   n_irq_mask = acc_wdata & IRQ_ALL;
        R_BASE_LO:
          if (ctrl_enable) e_on = 1'b1;
          else             n_base[31:0] = acc_wdata;
        R_BASE_HI:
          if (ctrl_enable) e_on = 1'b1;
          else             n_base[63:32] = acc_wdata;
        R_RING_SIZE:
          // device.c ring_setup_allowed is "ENABLE is 0"; a power of two in 1..MAX_RING
          if (ctrl_enable) begin
            e_on = 1'b1;
          end else if (acc_wdata == 32'd0 || (acc_wdata & (acc_wdata - 32'd1)) != 32'd0 ||
                       acc_wdata > MAX_RING) begin
            e_on   = 1'b1;
            e_info = acc_wdata;
          end else begin
            n_size = acc_wdata;
            n_head = 32'd0;
            n_tail = 32'd0;
          end
        R_RING_TAIL:
          // free-running: at most RING_SIZE commands may be outstanding (u32 arithmetic)
          if (ring_size == 32'd0 || acc_wdata - ring_head > ring_size) begin
            e_on   = 1'b1;
            e_info = acc_wdata;
          end else begin
            n_tail = acc_wdata;
          end
        R_WATCHDOG: n_wd = acc_wdata;   // the command processor zeroes its idle time
        R_CNT_CTRL:
          if ((acc_wdata & CNT_RESET) != 32'd0) begin
            n_cycles      = 64'd0;
            n_mvms        = 64'd0;
            n_adc_conv    = 64'd0;
            n_xbar_reads  = 64'd0;
            n_digital_ops = 64'd0;
          end
        default: ;   // DOORBELL (the command processor acts on it), read-only or unknown
      endcase
    end
    // device.c raise_error: the first error since ERROR was 0 latches its fence and detail
    if (e_on) begin
      if (n_err_bits == 32'd0) begin
        n_err_fence = 64'd0;
        n_err_info  = e_info;
      end
      n_err_bits   = n_err_bits | ERR_RING;
      n_irq_status = n_irq_status | IRQ_ERROR;
    end

    // ---- command processor events ----
    if (ev_err && ev_err_bits != 32'd0) begin
      if (n_err_bits == 32'd0) begin
        n_err_fence = ev_err_fence;
        n_err_info  = ev_err_info;
      end
      n_err_bits   = n_err_bits | ev_err_bits;
      n_irq_status = n_irq_status | IRQ_ERROR;
    end
    if (ev_done) begin
      n_head       = n_head + 32'd1;
      n_done_fence = ev_done_fence;
      if (ev_done_bits != 32'd0) begin
        if (n_err_bits == 32'd0) begin
          n_err_fence = ev_done_fence;
          n_err_info  = ev_done_info;
        end
        n_err_bits   = n_err_bits | ev_done_bits;
        n_irq_status = n_irq_status | IRQ_ERROR;
      end
      if (ev_done_irq) n_irq_status = n_irq_status | IRQ_DONE;
    end

    // ---- performance counters ----
    n_cycles      = n_cycles + inc_cycles;
    n_mvms        = n_mvms + inc_mvms;
    n_adc_conv    = n_adc_conv + inc_adc_conv;
    n_xbar_reads  = n_xbar_reads + inc_xbar_reads;
    n_digital_ops = n_digital_ops + inc_digital_ops;
  end

  // ---- the bus side: answers ----
  always_ff @(posedge clk) begin
    acc_done      <= 1'b0;
    mac_cnt_valid <= 1'b0;
    if (!rst_n) begin
      acc_rdata   <= 32'd0;
      c_wait      <= 1'b0;
      c_lo        <= 1'b0;
      c_addr      <= 32'd0;
      mac_cnt_off <= 12'd0;
    end else if (c_wait) begin
      // a counter of the analog half: its value, then the answer (LO latches the HI half)
      if (mac_cnt_done) begin
        acc_rdata <= c_lo ? mac_cnt_val[31:0] : mac_cnt_val[63:32];
        acc_done  <= 1'b1;
        c_wait    <= 1'b0;
      end
    end else if (rd && rd_c) begin
      c_wait        <= 1'b1;
      c_lo          <= rd_lo;
      c_addr        <= addr;
      mac_cnt_valid <= 1'b1;
      mac_cnt_off   <= rd_lo ? addr[11:0] : hi_off[11:0];
    end else if (acc_valid) begin
      acc_rdata <= rd ? rd_value : 32'd0;
      acc_done  <= 1'b1;   // a write (a soft reset's too) is answered at the next edge
    end
  end

  // ---- the LO/HI latch (reset with the registers) ----
  always_ff @(posedge clk) begin
    if (!rst_n || soft_reset) begin
      latch_off <= 32'd0;
      latch_hi  <= 32'd0;
    end else if (c_wait && mac_cnt_done) begin
      if (c_lo) begin
        latch_off <= c_addr + 32'd4;
        latch_hi  <= mac_cnt_val[63:32];
      end
    end else if (rd && !rd_c && rd_lo) begin
      latch_off <= addr + 32'd4;
      latch_hi  <= v64[63:32];
    end
  end

  // ---- architectural registers ----
  always_ff @(posedge clk) begin
    if (!rst_n || soft_reset) begin
      // power-on reset, or CTRL.SOFT_RESET: every register to its reset value (device.c
      // aimc_accel_reset); the analog half recreates its arrays at the same edge
      err_bits        <= 32'd0;
      err_fence       <= 64'd0;
      err_info        <= 32'd0;
      irq_status      <= 32'd0;
      irq_mask        <= 32'd0;
      ctrl_enable     <= 1'b0;
      ring_base       <= 64'd0;
      ring_size       <= 32'd0;
      ring_head       <= 32'd0;
      ring_tail       <= 32'd0;
      done_fence      <= 64'd0;
      watchdog_us     <= 32'd0;
      cnt_cycles      <= 64'd0;
      cnt_mvms        <= 64'd0;
      cnt_adc_conv    <= 64'd0;
      cnt_xbar_reads  <= 64'd0;
      cnt_digital_ops <= 64'd0;
      cnt_time        <= 64'd0;
    end else begin
      err_bits        <= n_err_bits;
      err_fence       <= n_err_fence;
      err_info        <= n_err_info;
      irq_status      <= n_irq_status;
      irq_mask        <= n_irq_mask;
      ctrl_enable     <= n_enable;
      ring_base       <= n_base;
      ring_size       <= n_size;
      ring_head       <= n_head;
      ring_tail       <= n_tail;
      watchdog_us     <= n_wd;
      done_fence      <= n_done_fence;
      cnt_cycles      <= n_cycles;
      cnt_mvms        <= n_mvms;
      cnt_adc_conv    <= n_adc_conv;
      cnt_xbar_reads  <= n_xbar_reads;
      cnt_digital_ops <= n_digital_ops;
      cnt_time        <= cnt_time + 64'd1;
    end
  end
endmodule : aimc_regblock
`default_nettype wire
