// aimc_regblock.sv - the aimc register file: CAP straps, CTRL/STATUS, ERROR and IRQ logic,
// ring registers, the 64-bit LO/HI read latch and the performance counters.
//
// Semantics are those of sim/device/accel.c (aimc_accel_reg_read32/reg_write32, raise_error,
// update_irq, aimc_accel_reset); docs/registers.md documents every register. One register
// access at a time: an access is taken at the edge where reg_valid is high and reg_ready low;
// reg_ready pulses for one cycle after it with reg_rdata.
//
// Within one clock edge the updates apply in the order: register write, then the command
// processor's events (error, command completion), then the counter increments. A soft
// reset (CTRL.SOFT_RESET written) overrides everything else at its edge.
module aimc_regblock
  import aimc_regs_pkg::*;
  import aimc_rtl_pkg::*;
  import aimc_dpi_pkg::*;
(
  input  logic        clk,
  input  logic        rst_n,
  // CAP straps
  input  logic [31:0] cap_xbar_rows,
  input  logic [31:0] cap_xbar_cols,
  input  logic [31:0] cap_xbars,
  input  logic [31:0] cap_adc_bits,
  input  logic [31:0] cap_dac_bits,
  input  logic [31:0] cap_bits_per_cell,
  input  logic [31:0] cap_weight_bits,
  // register port
  input  logic        reg_valid,
  input  logic        reg_write,
  input  logic [11:0] reg_addr,
  input  logic [31:0] reg_wdata,
  output logic        reg_ready,
  output logic [31:0] reg_rdata,
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
  input  logic        cp_busy,
  input  logic        cp_hung,
  input  logic        cp_halted,
  // raise_error(bits, fence, info) from the command processor at this edge
  input  logic        ev_err,
  input  logic [31:0] ev_err_bits,
  input  logic [63:0] ev_err_fence,
  input  logic [31:0] ev_err_info,
  // a command completed at this edge: head++, DONE_FENCE, its error bits, IRQ DONE
  input  logic        ev_done,
  input  logic [31:0] ev_done_bits,
  input  logic [63:0] ev_done_fence,
  input  logic [31:0] ev_done_info,
  input  logic        ev_done_irq,
  // counter increments at this edge
  input  logic [63:0] inc_cycles,
  input  logic [63:0] inc_mvms,
  input  logic [63:0] inc_adc_conv,
  input  logic [63:0] inc_xbar_reads,
  input  logic [63:0] inc_digital_ops,
  output logic        irq
);
  // ERROR, its first fence and detail, and IRQ_STATUS: the state raise_error updates.
  typedef struct packed {
    logic [31:0] error;
    logic [63:0] fence;
    logic [31:0] info;
    logic [31:0] irq_status;
  } err_state_t;

  // device.c raise_error: the first error since ERROR was 0 latches its fence and detail.
  function automatic err_state_t raise_error(input err_state_t s, input logic [31:0] bits,
                                             input logic [63:0] fence, input logic [31:0] info);
    err_state_t r = s;
    if (bits != 32'd0) begin
      if (s.error == 32'd0) begin
        r.fence = fence;
        r.info  = info;
      end
      r.error      = s.error | bits;
      r.irq_status = s.irq_status | AIMC_REG_IRQ_ERROR;
    end
    return r;
  endfunction

  // ---- architectural state ----
  err_state_t  es;
  logic [31:0] irq_mask;
  logic [63:0] done_fence;
  logic [31:0] latch_off;       // HI offset whose half is latched; 0 = none
  logic [31:0] latch_hi;
  logic [63:0] cnt_cycles, cnt_mvms, cnt_adc_conv, cnt_xbar_reads, cnt_digital_ops;
  logic [63:0] cnt_time;        // the device clock: every cycle since reset (not CNT_CTRL's)
  logic        machine_bad;     // the last soft reset could not recreate the C machine

  // ---- the access taken at this edge ----
  logic        take, wr, rd;
  logic [31:0] addr;
  assign take = reg_valid && !reg_ready;
  assign wr   = take && reg_write;
  assign rd   = take && !reg_write;
  assign addr = {20'd0, reg_addr};   // the whole 4 KiB window; unaligned offsets match nothing

  assign soft_reset = wr && addr == AIMC_REG_CTRL && (reg_wdata & AIMC_REG_CTRL_SOFT_RESET) != 0;
  assign doorbell   = wr && addr == AIMC_REG_DOORBELL;
  assign wd_write   = wr && addr == AIMC_REG_WATCHDOG_US;

  assign irq = (es.irq_status & irq_mask) != 32'd0;

  // ---- 64-bit registers (device.c reg64) ----
  // Counters kept in C: read through aimc_dpi_counter().
  function automatic logic is_c_counter(input logic [31:0] lo_off);
    return lo_off == AIMC_REG_CNT_ADC_SAT_LO || lo_off == AIMC_REG_CNT_DAC_DRIVES_LO ||
           lo_off == AIMC_REG_CNT_CELLS_PROG_LO || lo_off == AIMC_REG_CNT_ENERGY_DAC_FJ_LO ||
           lo_off == AIMC_REG_CNT_ENERGY_XBAR_FJ_LO || lo_off == AIMC_REG_CNT_ENERGY_ADC_FJ_LO ||
           lo_off == AIMC_REG_CNT_ENERGY_DIG_FJ_LO || lo_off == AIMC_REG_CNT_ENERGY_BUFFER_FJ_LO ||
           lo_off == AIMC_REG_CNT_ENERGY_BUS_FJ_LO || lo_off == AIMC_REG_CNT_ENERGY_NOC_FJ_LO ||
           lo_off == AIMC_REG_CNT_ENERGY_UNITS_FJ_LO || lo_off == AIMC_REG_CNT_ENERGY_LINK_FJ_LO ||
           lo_off == AIMC_REG_CNT_ENERGY_HOST_FJ_LO || lo_off == AIMC_REG_CNT_NOC_BYTES_LO ||
           lo_off == AIMC_REG_CNT_LINK_BYTES_LO || lo_off == AIMC_REG_CNT_HOST_BYTES_LO;
  endfunction

  // 64-bit registers held here.
  function automatic logic is_rtl64(input logic [31:0] lo_off);
    return lo_off == AIMC_REG_ERROR_FENCE_LO || lo_off == AIMC_REG_RING_BASE_LO ||
           lo_off == AIMC_REG_DONE_FENCE_LO || lo_off == AIMC_REG_CNT_CYCLES_LO ||
           lo_off == AIMC_REG_CNT_MVMS_LO || lo_off == AIMC_REG_CNT_ADC_CONV_LO ||
           lo_off == AIMC_REG_CNT_XBAR_READS_LO || lo_off == AIMC_REG_CNT_DIGITAL_OPS_LO ||
           lo_off == AIMC_REG_CNT_TIME_LO;
  endfunction

  function automatic logic [63:0] rtl64_value(input logic [31:0] lo_off);
    case (lo_off)
      AIMC_REG_ERROR_FENCE_LO:     return es.fence;
      AIMC_REG_RING_BASE_LO:       return ring_base;
      AIMC_REG_DONE_FENCE_LO:      return done_fence;
      AIMC_REG_CNT_CYCLES_LO:      return cnt_cycles;
      AIMC_REG_CNT_MVMS_LO:        return cnt_mvms;
      AIMC_REG_CNT_ADC_CONV_LO:    return cnt_adc_conv;
      AIMC_REG_CNT_XBAR_READS_LO:  return cnt_xbar_reads;
      AIMC_REG_CNT_DIGITAL_OPS_LO: return cnt_digital_ops;
      AIMC_REG_CNT_TIME_LO:        return cnt_time;
      default:                     return 64'd0;
    endcase
  endfunction

  // 32-bit registers (device.c reg_read32's switch).
  function automatic logic [31:0] reg32_value(input logic [31:0] off);
    case (off)
      AIMC_REG_ID:                return AIMC_REG_ID_VALUE;
      AIMC_REG_VERSION:           return AIMC_REG_VERSION_VALUE;
      AIMC_REG_CAP_XBAR_ROWS:     return cap_xbar_rows;
      AIMC_REG_CAP_XBAR_COLS:     return cap_xbar_cols;
      AIMC_REG_CAP_XBARS:         return cap_xbars;
      AIMC_REG_CAP_ADC_BITS:      return cap_adc_bits;
      AIMC_REG_CAP_DAC_BITS:      return cap_dac_bits;
      AIMC_REG_CAP_BITS_PER_CELL: return cap_bits_per_cell;
      AIMC_REG_CAP_WEIGHT_BITS:   return cap_weight_bits;
      AIMC_REG_CAP_MAX_MATRICES:  return DEV_MAX_MATRICES;
      AIMC_REG_CAP_MAX_DIM:       return DEV_MAX_DIM;
      AIMC_REG_CAP_MAX_BATCH:     return DEV_MAX_BATCH;
      AIMC_REG_CAP_MAX_TILES:     return DEV_MAX_TILES;
      AIMC_REG_CAP_MAX_RING:      return DEV_MAX_RING;
      AIMC_REG_CAP_MAX_ELEMS:     return DEV_MAX_ELEMS;
      AIMC_REG_CAP_MAX_VERIFY:    return DEV_MAX_VERIFY;
      AIMC_REG_CAP_FLAGS:         return 32'd0;   // a model with values
      AIMC_REG_CTRL:              return ctrl_enable ? AIMC_REG_CTRL_ENABLE : 32'd0;
      AIMC_REG_STATUS:
        return (ctrl_enable && !cp_halted && !machine_bad ? AIMC_REG_STATUS_READY : 32'd0) |
               (cp_busy || cp_hung ? AIMC_REG_STATUS_BUSY : 32'd0) |
               (es.error != 32'd0 ? AIMC_REG_STATUS_ERROR : 32'd0) |
               (cp_halted ? AIMC_REG_STATUS_HALTED : 32'd0);
      AIMC_REG_ERROR:             return es.error;
      AIMC_REG_ERROR_INFO:        return es.info;
      AIMC_REG_IRQ_STATUS:        return es.irq_status;
      AIMC_REG_IRQ_MASK:          return irq_mask;
      AIMC_REG_RING_SIZE:         return ring_size;
      AIMC_REG_RING_HEAD:         return ring_head;
      AIMC_REG_RING_TAIL:         return ring_tail;
      AIMC_REG_WATCHDOG_US:       return watchdog_us;
      default:                    return 32'd0;   // unknown, write-only, CTRL reads no SOFT_RESET
    endcase
  endfunction

  // device.c ring_setup_allowed is "ENABLE is 0"; RING_SIZE: a power of two in 1..MAX_RING.
  function automatic logic ring_size_ok(input logic [31:0] n);
    return n != 32'd0 && (n & (n - 32'd1)) == 32'd0 && n <= DEV_MAX_RING;
  endfunction

  always_ff @(posedge clk) begin
    // next-state copies, updated in order below
    err_state_t  n_es;
    logic        n_enable;
    logic [31:0] n_irq_mask, n_size, n_head, n_tail, n_wd;
    logic [63:0] n_base, n_done_fence;
    logic [63:0] n_cycles, n_mvms, n_adc_conv, n_xbar_reads, n_digital_ops;
    logic [63:0] v64;

    if (!rst_n || soft_reset) begin
      // Power-on reset, or CTRL.SOFT_RESET: every register to its reset value (device.c
      // aimc_accel_reset). The soft reset also recreates the C machine.
      es              <= '0;
      ctrl_enable     <= 1'b0;
      irq_mask        <= 32'd0;
      ring_base       <= 64'd0;
      ring_size       <= 32'd0;
      ring_head       <= 32'd0;
      ring_tail       <= 32'd0;
      done_fence      <= 64'd0;
      watchdog_us     <= 32'd0;
      latch_off       <= 32'd0;
      latch_hi        <= 32'd0;
      cnt_cycles      <= 64'd0;
      cnt_mvms        <= 64'd0;
      cnt_adc_conv    <= 64'd0;
      cnt_xbar_reads  <= 64'd0;
      cnt_digital_ops <= 64'd0;
      cnt_time        <= 64'd0;
      reg_rdata       <= 32'd0;
      if (!rst_n) begin
        machine_bad <= 1'b0;
        reg_ready   <= 1'b0;
      end else begin
        machine_bad <= aimc_dpi_soft_reset() != 32'd0;
        reg_ready   <= 1'b1;          // the CTRL write is answered
      end
    end else begin
      n_es          = es;
      n_enable      = ctrl_enable;
      n_irq_mask    = irq_mask;
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

      reg_ready <= take;

      // ---- register read: values before this edge; LO reads latch the HI half ----
      if (rd) begin
        if (is_rtl64(addr) || is_c_counter(addr)) begin
          if (is_c_counter(addr)) v64 = aimc_dpi_counter(addr);
          else                    v64 = rtl64_value(addr);
          reg_rdata <= v64[31:0];
          latch_off <= addr + 32'd4;
          latch_hi  <= v64[63:32];
        end else if (addr >= 32'd4 && (is_rtl64(addr - 32'd4) || is_c_counter(addr - 32'd4))) begin
          if (latch_off == addr) begin
            reg_rdata <= latch_hi;
          end else begin
            if (is_c_counter(addr - 32'd4)) v64 = aimc_dpi_counter(addr - 32'd4);
            else                            v64 = rtl64_value(addr - 32'd4);
            reg_rdata <= v64[63:32];
          end
        end else begin
          reg_rdata <= reg32_value(addr);
        end
      end else if (wr) begin
        reg_rdata <= 32'd0;
      end

      // ---- register write (device.c aimc_accel_reg_write32) ----
      if (wr) begin
        case (addr)
          AIMC_REG_CTRL:       n_enable = (reg_wdata & AIMC_REG_CTRL_ENABLE) != 0;
          AIMC_REG_ERROR:      n_es.error = n_es.error & ~reg_wdata;
          AIMC_REG_IRQ_STATUS: n_es.irq_status = n_es.irq_status & ~reg_wdata;
          AIMC_REG_IRQ_MASK:   n_irq_mask = reg_wdata & AIMC_REG_IRQ_ALL;
          AIMC_REG_RING_BASE_LO:
            if (ctrl_enable) n_es = raise_error(n_es, AIMC_REG_ERROR_RING, 64'd0, 32'd0);
            else             n_base[31:0] = reg_wdata;
          AIMC_REG_RING_BASE_HI:
            if (ctrl_enable) n_es = raise_error(n_es, AIMC_REG_ERROR_RING, 64'd0, 32'd0);
            else             n_base[63:32] = reg_wdata;
          AIMC_REG_RING_SIZE:
            if (ctrl_enable) begin
              n_es = raise_error(n_es, AIMC_REG_ERROR_RING, 64'd0, 32'd0);
            end else if (!ring_size_ok(reg_wdata)) begin
              n_es = raise_error(n_es, AIMC_REG_ERROR_RING, 64'd0, reg_wdata);
            end else begin
              n_size = reg_wdata;
              n_head = 32'd0;
              n_tail = 32'd0;
            end
          AIMC_REG_RING_TAIL:
            // free-running: at most RING_SIZE commands may be outstanding (u32 arithmetic)
            if (ring_size == 32'd0 || reg_wdata - ring_head > ring_size)
              n_es = raise_error(n_es, AIMC_REG_ERROR_RING, 64'd0, reg_wdata);
            else
              n_tail = reg_wdata;
          AIMC_REG_WATCHDOG_US: n_wd = reg_wdata;   // the command processor zeroes its idle time
          AIMC_REG_CNT_CTRL:
            if ((reg_wdata & AIMC_REG_CNT_CTRL_RESET) != 0) begin
              n_cycles      = 64'd0;
              n_mvms        = 64'd0;
              n_adc_conv    = 64'd0;
              n_xbar_reads  = 64'd0;
              n_digital_ops = 64'd0;
              aimc_dpi_counters_reset();
            end
          default: ;   // DOORBELL (the command processor acts on it), read-only or unknown
        endcase
      end

      // ---- command processor events ----
      if (ev_err) n_es = raise_error(n_es, ev_err_bits, ev_err_fence, ev_err_info);
      if (ev_done) begin
        n_head       = n_head + 32'd1;
        n_done_fence = ev_done_fence;
        n_es         = raise_error(n_es, ev_done_bits, ev_done_fence, ev_done_info);
        if (ev_done_irq) n_es.irq_status = n_es.irq_status | AIMC_REG_IRQ_DONE;
      end

      // ---- performance counters ----
      n_cycles      = n_cycles + inc_cycles;
      n_mvms        = n_mvms + inc_mvms;
      n_adc_conv    = n_adc_conv + inc_adc_conv;
      n_xbar_reads  = n_xbar_reads + inc_xbar_reads;
      n_digital_ops = n_digital_ops + inc_digital_ops;

      es              <= n_es;
      ctrl_enable     <= n_enable;
      irq_mask        <= n_irq_mask;
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
