// aimc_tileseq.sv - the aimc tile sequencer: timing of an analog job (input steps,
// integration, ADC conversion slots) and its shift-and-add accumulation.
//
// An analog job is n_vec input vectors through the n_tiles tiles of one matrix (the tile
// table comes from C, sorted by crossbar). Tiles on one crossbar take turns (their rank on
// the crossbar is their round); the tiles of one round run in parallel on their crossbars.
// The job is a stream of items (vector v, round r, input step s), in that order, each
// integrating for int cycles and then converting for conv_r cycles (the round's conversion
// window, conv_r = max over its tiles of their conversion slots x the conversion time).
// Sample-and-hold lets an item integrate while the one before it converts, so item i+1
// starts P_r = max(int, conv_r) cycles after item i (r: item i's round); item i converts in
// the last cycle of its window, I_i + int + conv_r - 1, when every conversion slot of every
// tile of the round delivers its ADC codes (aimc_dpi_convert) and the shift-and-add datapath
// (aimc_sacc_pkg) adds them into the column sums; after a round's last step the sums go to C
// (aimc_dpi_accumulate). A vector's conversions end at A_v = (v + 1) P + m, P = sum_r S P_r,
// m = min(int, conv_last). Beside the stream, the cores' digital units take vector v for
// D = ceil(max core ops / cfg_ops_per_cycle) cycles from max(A_v, the end of vector v-1's).
// So n_vec = B vectors take exactly m + max(B P + D, P + B D) counted cycles, the integers
// of the cost layer's aimc_cost_mvm_cycles (sim/cost). Reading the tile table (one tile per
// cycle) is setup, not counted.
//
// States:
//   IDLE    wait for start.
//   LOAD    tile k: aimc_dpi_tile(); its round, conversion slots, conversion time, core ops.
//   PLAN    the digital phase length D; the stream begins at item (0, 0, 0).
//   RUN     the counted cycles: the stream's conversions and the digital units, side by side;
//           the job ends in the cycle the last vector's digital phase ends.
//   DONE    one cycle: done (with err when a tile exceeded this RTL's limits).
module aimc_tileseq
  import aimc_rtl_pkg::*;
  import aimc_dpi_pkg::*;
  import aimc_sacc_pkg::*;
(
  input  logic        clk,
  input  logic        rst_n,
  input  logic        abort,              // soft reset: abandon the job
  input  logic        start,              // begin a job (IDLE only)
  input  logic [31:0] n_vec,
  input  logic [31:0] n_tiles,            // 0 .. RTL_MAX_TILES
  // timing configuration
  input  logic [31:0] cfg_int_cycles,
  input  logic [31:0] cfg_conv_fp16,
  input  logic [31:0] cfg_adcs,
  input  logic [31:0] cfg_steps,
  input  logic        cfg_serial,
  input  logic [31:0] cfg_ops_per_cycle,
  input  logic [31:0] cfg_xbars_per_core,
  // results
  output logic        done,               // one cycle: the job is over
  output logic        err,                // with done: a tile exceeded this RTL's limits
  output logic [31:0] err_info,           //   the tile's index
  output logic [63:0] inc_cycles,
  output logic [63:0] inc_mvms,
  output logic [63:0] inc_adc_conv,
  output logic [63:0] inc_xbar_reads,
  output logic [63:0] inc_digital_ops
);
  localparam int unsigned IW = RTL_TILE_IDX_W;
  localparam int unsigned CW = RTL_COL_W;

  typedef enum logic [2:0] {TS_IDLE, TS_LOAD, TS_PLAN, TS_RUN, TS_DONE} ts_state_t;
  ts_state_t state;

  // ---- job ----
  logic [31:0] job_vec, job_tiles;

  // ---- tile table (per tile k) ----
  logic [31:0] t_ncols [RTL_MAX_TILES];   // weight columns
  logic [31:0] t_round [RTL_MAX_TILES];   // rank among the tiles of its crossbar
  logic [31:0] t_slots [RTL_MAX_TILES];   // conversion slots: ceil(ncols / adcs)

  // ---- round table (per round r) ----
  logic [63:0] r_conv  [RTL_MAX_TILES];   // conversion window: max over its tiles
  logic [63:0] r_tiles [RTL_MAX_TILES];   // tiles in the round (crossbar reads per step)
  logic [63:0] r_cols  [RTL_MAX_TILES];   // their columns (ADC conversions per step)
  logic [31:0] n_rounds;

  // ---- setup accumulators ----
  logic [31:0] ld_k;                       // tile being loaded
  logic [31:0] prev_xbar, prev_core, prev_round;
  logic [63:0] core_ops, max_core_ops, vec_ops;
  logic [63:0] d_cycles;                   // digital phase D

  // ---- the stream of items (analog) ----
  logic        a_on;                       // items left
  logic [31:0] v, r, s;                    // the next item to convert: vector, round, step
  logic [63:0] t;                          // counted cycle since the stream began
  logic [63:0] conv_at;                    // the cycle that item converts in
  logic [31:0] a_done;                     // vectors whose conversions have all ended

  // ---- the digital units ----
  logic        d_busy;                     // a vector in its digital phase
  logic [63:0] dcnt;                       // its cycles left (this one included)
  logic [31:0] v_d;                        // vectors whose digital phase has ended

  // Column sums, tile k's column c at {k, c}. Private to the always_ff below.
  logic [63:0] acc [RTL_MAX_TILES * RTL_MAX_TILE_COLS];

  // cfg_steps >= 1 by contract; 0 is taken as 1 so that a bad strap cannot hang a round.
  logic [31:0] steps;
  logic [63:0] int64, steps64;
  assign steps   = cfg_steps == 32'd0 ? 32'd1 : cfg_steps;
  assign int64   = {32'd0, cfg_int_cycles};
  assign steps64 = {32'd0, steps};

  // ---- counted events (combinational on the state) ----
  // The digital units work in a cycle when a vector is in its phase or one waits whose
  // conversions ended in an earlier cycle; d_left is that vector's cycles left.
  logic conv_now, dig_now, vec_end;
  logic [63:0] d_left;
  assign conv_now = state == TS_RUN && a_on && t == conv_at;
  assign dig_now  = state == TS_RUN && (d_busy || v_d < a_done);
  assign d_left   = d_busy ? dcnt : d_cycles;
  assign vec_end  = dig_now && d_left == 64'd1;

  assign done            = state == TS_DONE;
  assign inc_cycles      = state == TS_RUN ? 64'd1 : 64'd0;
  assign inc_xbar_reads  = conv_now ? r_tiles[IW'(r)] : 64'd0;   // 1 per tile per step
  assign inc_adc_conv    = conv_now ? r_cols[IW'(r)] : 64'd0;    // ncols per tile per step
  assign inc_mvms        = vec_end ? 64'd1 : 64'd0;
  assign inc_digital_ops = vec_end ? vec_ops : 64'd0;            // sum (S+1) * ncols

  function automatic logic [63:0] max64(input logic [63:0] a, input logic [63:0] b);
    return a > b ? a : b;
  endfunction

  // The step period of round rr.
  function automatic logic [63:0] period(input logic [IW-1:0] rr);
    return max64(int64, r_conv[rr]);
  endfunction

  always_ff @(posedge clk) begin
    logic [31:0]  xb, nc, rk, core, slots, adcs, ppc, xpc;
    logic [63:0]  conv, ops, cops, col;
    logic [31:0]  nr;
    bit [8191:0]  codes;
    bit [16383:0] lanes;
    logic [IW+CW-1:0] ai;

    adcs = cfg_adcs == 32'd0 ? 32'd1 : cfg_adcs;
    ppc  = cfg_ops_per_cycle == 32'd0 ? 32'd1 : cfg_ops_per_cycle;
    xpc  = cfg_xbars_per_core == 32'd0 ? 32'd1 : cfg_xbars_per_core;

    if (!rst_n || abort) begin
      state    <= TS_IDLE;
      err      <= 1'b0;
      err_info <= 32'd0;
    end else begin
      case (state)
        TS_IDLE: begin
          if (start) begin
            job_vec      <= n_vec;
            job_tiles    <= n_tiles;
            ld_k         <= 32'd0;
            n_rounds     <= 32'd0;
            max_core_ops <= 64'd0;
            vec_ops      <= 64'd0;
            err          <= 1'b0;
            err_info     <= 32'd0;
            if (n_tiles == 32'd0 || n_vec == 32'd0 || n_tiles > RTL_MAX_TILES)
              state <= TS_DONE;          // nothing to run (the command processor never asks)
            else if (cfg_adcs > RTL_LANES) begin
              err   <= 1'b1;             // more ADCs than the slot datapath has lanes
              state <= TS_DONE;
            end else
              state <= TS_LOAD;
          end
        end

        TS_LOAD: begin
          // Tile ld_k: tiles come sorted by crossbar, so a crossbar's tiles are adjacent
          // and one core's crossbars too.
          aimc_dpi_tile(ld_k, xb, nc);
          rk    = ld_k != 32'd0 && xb == prev_xbar ? prev_round + 32'd1 : 32'd0;
          slots = (nc + adcs - 32'd1) / adcs;
          conv  = ({32'd0, slots} * {32'd0, cfg_conv_fp16} + 64'd65535) >> 16;
          core  = xb / xpc;
          ops   = (steps64 + 64'd1) * {32'd0, nc};
          cops  = ld_k == 32'd0 || core != prev_core ? ops : core_ops + ops;
          if (nc == 32'd0 || nc > RTL_MAX_TILE_COLS) begin
            err      <= 1'b1;            // wider than the accumulator (never for a legal tile)
            err_info <= ld_k;
            state    <= TS_DONE;
          end else begin
            t_ncols[IW'(ld_k)] <= nc;
            t_round[IW'(ld_k)] <= rk;
            t_slots[IW'(ld_k)] <= slots;
            if (rk == n_rounds) begin    // the first tile of a new round
              r_conv[IW'(rk)]  <= conv;
              r_tiles[IW'(rk)] <= 64'd1;
              r_cols[IW'(rk)]  <= {32'd0, nc};
              n_rounds         <= n_rounds + 32'd1;
            end else begin
              r_conv[IW'(rk)]  <= max64(r_conv[IW'(rk)], conv);
              r_tiles[IW'(rk)] <= r_tiles[IW'(rk)] + 64'd1;
              r_cols[IW'(rk)]  <= r_cols[IW'(rk)] + {32'd0, nc};
            end
            prev_xbar    <= xb;
            prev_round   <= rk;
            prev_core    <= core;
            core_ops     <= cops;
            max_core_ops <= max64(max_core_ops, cops);
            vec_ops      <= vec_ops + ops;
            ld_k         <= ld_k + 32'd1;
            if (ld_k + 32'd1 == job_tiles) state <= TS_PLAN;
          end
        end

        TS_PLAN: begin
          d_cycles <= (max_core_ops + {32'd0, ppc} - 64'd1) / {32'd0, ppc};
          a_on     <= 1'b1;
          v        <= 32'd0;
          r        <= 32'd0;
          s        <= 32'd0;
          t        <= 64'd0;
          conv_at  <= int64 + r_conv[IW'(0)] - 64'd1;   // item 0 integrates from cycle 0
          a_done   <= 32'd0;
          d_busy   <= 1'b0;
          v_d      <= 32'd0;
          state    <= TS_RUN;
        end

        TS_RUN: begin
          t <= t + 64'd1;
          if (conv_now) begin
            // Item (v, r, s) converts: every slot of every tile of round r.
            for (int unsigned k = 0; k < RTL_MAX_TILES; k++) begin
              if (k < job_tiles && t_round[IW'(k)] == r) begin
                for (int unsigned j = 0; j < t_slots[IW'(k)]; j++) begin
                  aimc_dpi_convert(v, k, s, j, codes);
                  // The crossbar's ADCs (adcs <= RTL_LANES, checked at start): the loop
                  // stops at the last lane that exists, not at the datapath's width.
                  for (int unsigned i = 0; i < adcs; i++) begin
                    col = {32'd0, j} * {32'd0, adcs} + 64'(i);
                    if (col < {32'd0, t_ncols[IW'(k)]}) begin
                      ai = {IW'(k), CW'(col)};
                      // Blocking: Verilator 5.006 cannot write an array non-blocking in a
                      // loop (BLKLOOPINIT); acc is read and written only in this process.
                      /* verilator lint_off BLKSEQ */
                      acc[ai] = sacc_lane(acc[ai], codes[32 * i +: 32],
                                          cfg_serial ? s[4:0] : 5'd0, s == 32'd0);
                      /* verilator lint_on BLKSEQ */
                    end
                  end
                end
              end
            end
            if (s + 32'd1 == steps) begin
              // The round's last step: its column sums go to C, slot by slot.
              for (int unsigned k = 0; k < RTL_MAX_TILES; k++) begin
                if (k < job_tiles && t_round[IW'(k)] == r) begin
                  for (int unsigned j = 0; j < t_slots[IW'(k)]; j++) begin
                    // Lanes of ADCs that do not exist are never written (they stay 0).
                    for (int unsigned i = 0; i < adcs; i++) begin
                      col = {32'd0, j} * {32'd0, adcs} + 64'(i);
                      if (col < {32'd0, t_ncols[IW'(k)]})
                        lanes[64 * i +: 64] = acc[{IW'(k), CW'(col)}];
                      else
                        lanes[64 * i +: 64] = 64'd0;   // beyond the tile's columns
                    end
                    aimc_dpi_accumulate(v, k, j, lanes);
                  end
                end
              end
              // The next item: the next round's first step, or the next vector's. It
              // integrates P_r cycles after this one did and converts int + its own
              // round's window after that.
              nr = r + 32'd1 == n_rounds ? 32'd0 : r + 32'd1;
              conv_at <= conv_at + period(IW'(r)) - r_conv[IW'(r)] + r_conv[IW'(nr)];
              r       <= nr;
              s       <= 32'd0;
              if (nr == 32'd0) begin
                a_done <= a_done + 32'd1;          // vector v's conversions have ended
                v      <= v + 32'd1;
                if (v + 32'd1 == job_vec) a_on <= 1'b0;
              end
            end else begin
              s       <= s + 32'd1;
              conv_at <= conv_at + period(IW'(r));
            end
          end
          if (dig_now) begin
            // D >= 1: every tile has (S+1) * ncols >= 2 ops, so vec_end always comes.
            if (vec_end) begin
              d_busy <= 1'b0;
              v_d    <= v_d + 32'd1;
              if (v_d + 32'd1 == job_vec) state <= TS_DONE;
            end else begin
              d_busy <= 1'b1;
              dcnt   <= d_left - 64'd1;
            end
          end
        end

        TS_DONE: state <= TS_IDLE;

        default: state <= TS_IDLE;
      endcase
    end
  end
endmodule : aimc_tileseq
