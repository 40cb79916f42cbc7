// aimc_tileseq.sv - the aimc tile sequencer: timing of an analog job (input steps, integration,
// ADC conversions) and the stream of its ADC codes into the accumulation engine (aimc_accum).
//
// An analog job is n_vec input vectors through the n_tiles tiles of one matrix (the tile table
// comes from the analog half, sorted by crossbar). Tiles on one crossbar take turns (their rank
// on the crossbar is their round); the tiles of one round run in parallel on their crossbars.
// The job is a stream of items (vector v, round r, input step s), in that order, each
// integrating for int cycles and then converting for conv_r cycles (the round's conversion
// window, conv_r = max over its tiles of ceil(slots x the ADC round time), slots =
// ceil(ncols / ADCs per crossbar)). Sample-and-hold lets an item integrate while the one before
// it converts, so item i+1 starts P_r = max(int, conv_r) cycles after item i; item i converts
// in the last cycle of its window, I_i + int + conv_r - 1. A vector's conversions end at
// A_v = (v + 1) P + m, P = sum_r S P_r, m = min(int, conv_last). Beside the stream, the cores'
// digital units take vector v for D = ceil(max core ops / cfg_ops_per_cycle) cycles from
// max(A_v, the end of vector v-1's). So n_vec = B vectors take exactly m + max(B P + D, P + B D)
// counted cycles, the integers of the cost layer's aimc_cost_mvm_cycles (sim/cost).
//
// Setup (not counted) builds three tables in SRAM, one entry per cycle or two:
//   LOAD    tile k from the analog half: its round (rank on its crossbar), its core's digital
//           ops; T[k] = {round, ncols}; tiles per round counted.
//   PREFIX  the first position of every round in round-major order.
//   SORT    L[pos] = {k, round, ncols}: the tiles in round-major order (a counting sort).
//   ROUNDS  R[r] = {conv_r, tiles, columns} from L, round by round.
//   PLAN    D (a division, one bit per cycle); round 0's record.
// Then:
//   RUN     the counted cycles: drive and integrate each item, its conversion (items counted
//           for the engine), the digital units; it ends in the cycle the last vector's
//           digital phase ends. The round records come from R one item ahead (the read address
//           is the next round after the one the next state holds), so a step as short as one
//           cycle needs no wait.
//   DRAIN   the engine finishes the codes of the items converted (not counted: it runs behind
//           the conversions, see aimc_accum), then DONE for one cycle.
`default_nettype none
module aimc_tileseq (
  input  wire         clk,
  input  wire         rst_n,
  input  wire         abort,              // soft reset: abandon the job
  input  wire         start,              // begin a job (IDLE only)
  input  wire  [31:0] n_vec,
  input  wire  [31:0] n_tiles,            // 0 .. RTL_MAX_TILES
  // timing configuration
  input  wire  [31:0] cfg_int_cycles,
  input  wire  [31:0] cfg_conv_fp16,
  input  wire  [31:0] cfg_adcs,
  input  wire  [31:0] cfg_steps,
  input  wire         cfg_serial,
  input  wire  [31:0] cfg_ops_per_cycle,
  input  wire  [31:0] cfg_xbars_per_core,
  // results
  output logic        done,               // one cycle: the job is over
  output logic        err,                // with done: a tile exceeded this RTL's limits
  output logic [31:0] err_info,           //   the tile's index
  output logic [63:0] inc_cycles,
  output logic [63:0] inc_mvms,
  output logic [63:0] inc_adc_conv,
  output logic [63:0] inc_xbar_reads,
  output logic [63:0] inc_digital_ops,
  // the analog half: the tile table
  output logic        mac_tile_valid,     // read tile mac_tile_k
  output logic [7:0]  mac_tile_k,
  input  wire         mac_tile_done,      // its crossbar and weight columns
  input  wire  [31:0] mac_tile_xbar,
  input  wire  [31:0] mac_tile_ncols,
  // the analog half: drive and integrate
  output logic        mac_drive,          // one cycle: the DACs take this item's inputs
  output logic [31:0] mac_drive_vec,
  output logic [7:0]  mac_drive_round,
  output logic [4:0]  mac_drive_step,
  output logic        mac_integrate,      // the item driven last integrates
  // the analog half: conversions (aimc_accum)
  output logic        mac_conv_valid,
  input  wire         mac_conv_ready,
  output logic [31:0] mac_conv_vec,
  output logic [7:0]  mac_conv_tile,
  output logic [4:0]  mac_conv_step,
  output logic [11:0] mac_conv_col,
  input  wire  [aimc_rtl_pkg::NL*32-1:0] mac_codes,
  output logic        mac_sum_valid,
  output logic [31:0] mac_sum_vec,
  output logic [7:0]  mac_sum_tile,
  output logic [11:0] mac_sum_col,
  output logic [aimc_rtl_pkg::NL*64-1:0] mac_sums
);
  localparam [3:0] TS_IDLE = 4'd0, TS_LOAD = 4'd1, TS_LWAIT = 4'd2, TS_LDIV = 4'd3,
                   TS_LUPD = 4'd4, TS_PREFIX = 4'd5, TS_SORT = 4'd6, TS_SORTW = 4'd7,
                   TS_ROUNDS = 4'd8, TS_ROUNDSW = 4'd9, TS_PLAN = 4'd10, TS_PLANC = 4'd11,
                   TS_PLANW = 4'd12, TS_RUN = 4'd13, TS_DRAIN = 4'd14, TS_DONE = 4'd15;
  localparam [31:0] MAX_TILES = aimc_rtl_pkg::RTL_MAX_TILES;
  localparam [31:0] MAX_COLS  = aimc_rtl_pkg::RTL_MAX_TILE_COLS;

  logic [3:0]  state;
  logic [31:0] job_vec;
  logic [8:0]  job_tiles;                 // 1 .. 256

  // cfg_steps >= 1, cfg_adcs >= 1, ... by contract; 0 is taken as 1 so a bad strap cannot hang
  logic [31:0] steps, adcs, ppc, xpc;
  logic [63:0] int64;
  assign steps = cfg_steps == 32'd0 ? 32'd1 : cfg_steps;
  assign adcs  = cfg_adcs == 32'd0 ? 32'd1 : cfg_adcs;
  assign ppc   = cfg_ops_per_cycle == 32'd0 ? 32'd1 : cfg_ops_per_cycle;
  assign xpc   = cfg_xbars_per_core == 32'd0 ? 32'd1 : cfg_xbars_per_core;
  assign int64 = {32'd0, cfg_int_cycles};

  // ---- tables ----
  // T[k] = {round, ncols}; L[pos] = {k, round, ncols}; R[r] = {conv, tiles, columns}
  logic        t_we, l_we, r_we;
  logic [7:0]  t_waddr, t_raddr, l_waddr, l_raddr, r_waddr, r_raddr;
  logic [20:0] t_wdata, t_rdata;
  logic [28:0] l_wdata, l_rdata;
  logic [61:0] r_wdata, r_rdata;
  aimc_sram #(.W(21), .DEPTH(256), .AW(8)) u_t (
    .clk, .we(t_we), .waddr(t_waddr), .wdata(t_wdata), .re(1'b1), .raddr(t_raddr),
    .rdata(t_rdata));
  aimc_sram #(.W(29), .DEPTH(256), .AW(8)) u_l (
    .clk, .we(l_we), .waddr(l_waddr), .wdata(l_wdata), .re(1'b1), .raddr(l_raddr),
    .rdata(l_rdata));
  aimc_sram #(.W(62), .DEPTH(256), .AW(8)) u_r (
    .clk, .we(r_we), .waddr(r_waddr), .wdata(r_wdata), .re(1'b1), .raddr(r_raddr),
    .rdata(r_rdata));
  // tiles per round, then (PREFIX) each round's next position in L
  logic [8:0]  rcnt [0:255];

  // ---- LOAD ----
  logic [8:0]  ld_k;
  logic [31:0] ld_xb;
  logic [12:0] ld_nc;
  logic [7:0]  ld_rk;
  logic [31:0] prev_xb, prev_core, core;
  logic [7:0]  prev_rk;
  logic [8:0]  n_rounds;                  // 1 .. 256
  logic [63:0] core_ops, max_core_ops, vec_ops;
  logic        cdiv_start, cdiv_done;
  logic [31:0] cdiv_q;
  aimc_divu #(.W(32)) u_cdiv (
    .clk, .rst_n, .start(cdiv_start), .a(ld_xb), .b(xpc), .done(cdiv_done),
    .q(cdiv_q));
  logic [63:0] ld_ops, ld_cops;
  assign ld_ops  = {51'd0, ld_nc} * ({32'd0, steps} + 64'd1);   // (S + 1) ncols
  assign ld_cops = ld_k == 9'd0 || core != prev_core ? ld_ops : core_ops + ld_ops;

  // ---- PREFIX, SORT, ROUNDS ----
  logic [8:0]  px_r, px_sum;              // PREFIX: round, positions so far
  logic [8:0]  so_k;                      // SORT: tile
  logic [8:0]  ro_pos;                    // ROUNDS: position
  logic [7:0]  ro_r;                      // ROUNDS: the round being summed
  logic [31:0] ro_conv;
  logic [8:0]  ro_tiles;
  logic [20:0] ro_cols;
  logic [12:0] ro_nc;
  logic [12:0] ro_slots;
  logic [44:0] ro_prod;
  logic [31:0] ro_tconv;                  // the tile's conversion window
  assign ro_nc    = l_rdata[12:0];
  assign ro_slots = (ro_nc + adcs[12:0] - 13'd1) / adcs[12:0];   // adcs <= 256 (checked)
  assign ro_prod  = {32'd0, ro_slots} * {13'd0, cfg_conv_fp16} + 45'd65535;
  assign ro_tconv = {3'd0, ro_prod[44:16]};   // < 2^29: slots <= 4096, the round < 2^16 cycles

  // ---- PLAN: D ----
  logic        ddiv_start, ddiv_done;
  logic [63:0] ddiv_q, d_cycles;
  aimc_divu #(.W(64)) u_ddiv (
    .clk, .rst_n, .start(ddiv_start), .a(max_core_ops + {32'd0, ppc} - 64'd1),
    .b({32'd0, ppc}), .done(ddiv_done), .q(ddiv_q));

  // ---- RUN: the stream of items (analog) ----
  logic        a_on;                      // items left
  logic [31:0] v, s;                      // the next item to convert: vector, round, step
  logic [7:0]  r;
  logic [63:0] t;                         // counted cycle since the stream began
  logic [63:0] conv_at;                   // the cycle that item converts in
  logic [63:0] i_at;                      // the cycle that item began integrating
  logic [63:0] int_end;                   // the integration window of the item driven last
  logic [31:0] a_done;                    // vectors whose conversions have all ended
  logic [31:0] items;                     // items converted (the engine may take them)
  logic [31:0] cur_conv;                  // round r's record
  logic [8:0]  cur_tiles;
  logic [20:0] cur_cols;
  logic [31:0] nxt_conv;                  // the next round's record (R's read port)
  logic [63:0] period;                    // P_r
  // ---- RUN: the digital units ----
  logic        d_busy;                    // a vector in its digital phase
  logic [63:0] dcnt;                      // its cycles left (this one included)
  logic [31:0] v_d;                       // vectors whose digital phase has ended

  assign nxt_conv = r_rdata[61:30];
  assign period   = int64 > {32'd0, cur_conv} ? int64 : {32'd0, cur_conv};

  // counted events
  logic        run, conv_now, dig_now, vec_end, last_step, wrap, last_item;
  logic [7:0]  nr;
  logic [63:0] d_left;
  assign run       = state == TS_RUN;
  assign conv_now  = run && a_on && t == conv_at;
  assign last_step = s + 32'd1 == steps;
  assign wrap      = {1'b0, r} + 9'd1 == n_rounds;
  assign nr        = wrap ? 8'd0 : r + 8'd1;
  assign last_item = last_step && wrap && v + 32'd1 == job_vec;
  assign dig_now   = run && (d_busy || v_d < a_done);
  assign d_left    = d_busy ? dcnt : d_cycles;
  assign vec_end   = dig_now && d_left == 64'd1;

  assign done            = state == TS_DONE;
  assign inc_cycles      = run ? 64'd1 : 64'd0;
  assign inc_xbar_reads  = conv_now ? {55'd0, cur_tiles} : 64'd0;   // 1 per tile per step
  assign inc_adc_conv    = conv_now ? {43'd0, cur_cols} : 64'd0;    // ncols per tile per step
  assign inc_mvms        = vec_end ? 64'd1 : 64'd0;
  assign inc_digital_ops = vec_end ? vec_ops : 64'd0;               // sum (S+1) * ncols

  // drive: item 0 at the first counted cycle; the item after the current one P_r after the
  // current one began (never after the current one converts: min(int, conv_r) >= 1)
  logic drive_first, drive_next;
  assign drive_first   = run && t == 64'd0;
  assign drive_next    = run && a_on && !last_item && t == i_at + period;
  assign mac_drive     = drive_first || drive_next;
  assign mac_integrate = run && (mac_drive || t < int_end);   // cycles I .. I + int - 1
  assign mac_drive_vec   = drive_next && last_step && wrap ? v + 32'd1 : v;
  assign mac_drive_round = drive_next && last_step ? nr : r;
  assign mac_drive_step  = !drive_next ? s[4:0] : last_step ? 5'd0 : s[4:0] + 5'd1;

  // ---- the accumulation engine ----
  logic        e_start, e_idle;
  logic [7:0]  e_l_raddr;
  aimc_accum u_accum (
    .clk, .rst_n, .abort,
    .start     (e_start),
    .n_vec     (job_vec),
    .n_tiles   (job_tiles),
    .steps     (steps[4:0]),
    .serial    (cfg_serial),
    .items     (items),
    .idle      (e_idle),
    .l_raddr   (e_l_raddr),
    .l_rdata   (l_rdata),
    .mac_conv_valid, .mac_conv_ready, .mac_conv_vec, .mac_conv_tile, .mac_conv_step,
    .mac_conv_col, .mac_codes,
    .mac_sum_valid, .mac_sum_vec, .mac_sum_tile, .mac_sum_col, .mac_sums
  );

  // ---- table ports ----
  assign t_we    = state == TS_LUPD;
  assign t_waddr = ld_k[7:0];
  assign t_wdata = {ld_rk, ld_nc};
  assign t_raddr = so_k[7:0];
  assign l_we    = state == TS_SORTW;
  assign l_waddr = rcnt[t_rdata[20:13]][7:0];
  assign l_wdata = {so_k[7:0], t_rdata[20:0]};
  assign l_raddr = state == TS_RUN || state == TS_DRAIN ? e_l_raddr : ro_pos[7:0];
  assign mac_tile_k = ld_k[7:0];

  // R: written by ROUNDS at a round's end; read round 0 in PLAN, then one round ahead in RUN
  logic ro_end;   // ROUNDSW: the entry read ends the round being summed (or the list ended)
  assign ro_end  = ro_pos == job_tiles || l_rdata[20:13] != ro_r;
  assign r_we    = state == TS_ROUNDSW && ro_end && ro_pos != 9'd0;
  assign r_waddr = ro_r;
  assign r_wdata = {ro_conv, ro_tiles, ro_cols};
  always_comb begin
    logic [7:0] rd;   // the round the next state holds (round 0 before RUN)
    rd = state == TS_RUN ? (conv_now && last_step ? nr : r) : 8'd0;
    if (state == TS_PLAN) r_raddr = 8'd0;                      // round 0, for PLANC
    else r_raddr = {1'b0, rd} + 9'd1 == n_rounds ? 8'd0 : rd + 8'd1;   // the round after it
  end

  always_ff @(posedge clk) begin
    mac_tile_valid <= 1'b0;
    cdiv_start     <= 1'b0;
    ddiv_start     <= 1'b0;
    e_start        <= 1'b0;
    if (!rst_n || abort) begin
      state    <= TS_IDLE;
      err      <= 1'b0;
      err_info <= 32'd0;
      a_on     <= 1'b0;
      int_end  <= 64'd0;
      t        <= 64'd0;
    end else begin
      case (state)
        TS_IDLE: begin
          if (start) begin
            job_vec      <= n_vec;
            job_tiles    <= n_tiles[8:0];
            ld_k         <= 9'd0;
            n_rounds     <= 9'd0;
            max_core_ops <= 64'd0;
            vec_ops      <= 64'd0;
            err          <= 1'b0;
            err_info     <= 32'd0;
            if (n_tiles == 32'd0 || n_vec == 32'd0 || n_tiles > MAX_TILES) begin
              state <= TS_DONE;          // nothing to run (the command processor never asks)
            end else if (cfg_adcs > aimc_rtl_pkg::RTL_MAX_ADCS) begin
              err   <= 1'b1;             // more ADCs than the timing tables take
              state <= TS_DONE;
            end else begin
              mac_tile_valid <= 1'b1;
              state          <= TS_LWAIT;
            end
          end
        end

        TS_LOAD: begin
          mac_tile_valid <= 1'b1;
          state          <= TS_LWAIT;
        end

        TS_LWAIT: begin
          if (mac_tile_done) begin
            // tiles come sorted by crossbar: a crossbar's tiles are adjacent, one core's too
            ld_xb <= mac_tile_xbar;
            ld_nc <= mac_tile_ncols[12:0];
            ld_rk <= ld_k != 9'd0 && mac_tile_xbar == prev_xb ? prev_rk + 8'd1 : 8'd0;
            if (mac_tile_ncols == 32'd0 || mac_tile_ncols > MAX_COLS) begin
              err      <= 1'b1;          // wider than the accumulator (never a legal tile)
              err_info <= {23'd0, ld_k};
              state    <= TS_DONE;
            end else if (ld_k == 9'd0 || mac_tile_xbar != prev_xb) begin
              cdiv_start <= 1'b1;        // a new crossbar: its core
              state      <= TS_LDIV;
            end else begin
              state <= TS_LUPD;          // the same crossbar, the same core
            end
          end
        end

        TS_LDIV: begin
          if (cdiv_done) begin
            core  <= cdiv_q;
            state <= TS_LUPD;
          end
        end

        TS_LUPD: begin
          // T[k] written (t_we); the tile counted in its round
          if ({1'b0, ld_rk} == n_rounds) begin
            rcnt[ld_rk] <= 9'd1;         // the first tile of a new round
            n_rounds    <= n_rounds + 9'd1;
          end else begin
            rcnt[ld_rk] <= rcnt[ld_rk] + 9'd1;
          end
          prev_xb      <= ld_xb;
          prev_rk      <= ld_rk;
          prev_core    <= core;
          core_ops     <= ld_cops;
          max_core_ops <= max_core_ops > ld_cops ? max_core_ops : ld_cops;
          vec_ops      <= vec_ops + ld_ops;
          ld_k         <= ld_k + 9'd1;
          if (ld_k + 9'd1 == job_tiles) begin
            px_r   <= 9'd0;
            px_sum <= 9'd0;
            state  <= TS_PREFIX;
          end else begin
            state <= TS_LOAD;
          end
        end

        TS_PREFIX: begin
          // round px_r starts at the positions of the rounds before it
          rcnt[px_r[7:0]] <= px_sum;
          px_sum          <= px_sum + rcnt[px_r[7:0]];
          px_r            <= px_r + 9'd1;
          if (px_r + 9'd1 == n_rounds) begin
            so_k  <= 9'd0;
            state <= TS_SORT;
          end
        end

        TS_SORT: state <= TS_SORTW;      // T[so_k] is read

        TS_SORTW: begin
          // L[rcnt[round]] written (l_we); the round's next position
          rcnt[t_rdata[20:13]] <= rcnt[t_rdata[20:13]] + 9'd1;
          so_k                 <= so_k + 9'd1;
          if (so_k + 9'd1 == job_tiles) begin
            ro_pos <= 9'd0;
            state  <= TS_ROUNDS;
          end else begin
            state <= TS_SORT;
          end
        end

        TS_ROUNDS: state <= TS_ROUNDSW;  // L[ro_pos] is read

        TS_ROUNDSW: begin
          // R[ro_r] written (r_we) when this entry ends the round
          if (ro_pos == job_tiles) begin
            state <= TS_PLAN;
          end else begin
            if (ro_pos == 9'd0 || ro_end) begin
              ro_r     <= l_rdata[20:13];
              ro_conv  <= ro_tconv;
              ro_tiles <= 9'd1;
              ro_cols  <= {8'd0, ro_nc};
            end else begin
              ro_conv  <= ro_conv > ro_tconv ? ro_conv : ro_tconv;
              ro_tiles <= ro_tiles + 9'd1;
              ro_cols  <= ro_cols + {8'd0, ro_nc};
            end
            ro_pos <= ro_pos + 9'd1;
            state  <= TS_ROUNDS;
          end
        end

        TS_PLAN: begin
          ddiv_start <= 1'b1;            // D = ceil(max core ops / ops per cycle)
          state      <= TS_PLANC;        // R[0] is read
        end

        TS_PLANC: begin
          cur_conv  <= r_rdata[61:30];
          cur_tiles <= r_rdata[29:21];
          cur_cols  <= r_rdata[20:0];
          state     <= TS_PLANW;
        end

        TS_PLANW: begin
          if (ddiv_done) begin
            d_cycles <= ddiv_q;
            a_on     <= 1'b1;
            v        <= 32'd0;
            r        <= 8'd0;
            s        <= 32'd0;
            t        <= 64'd0;
            i_at     <= 64'd0;
            conv_at  <= int64 + {32'd0, cur_conv} - 64'd1;   // item 0 integrates from cycle 0
            int_end  <= 64'd0;
            a_done   <= 32'd0;
            items    <= 32'd0;
            d_busy   <= 1'b0;
            v_d      <= 32'd0;
            e_start  <= 1'b1;
            state    <= TS_RUN;
          end
        end

        TS_RUN: begin
          t <= t + 64'd1;
          if (mac_drive) int_end <= t + int64;
          if (conv_now) begin
            // item (v, r, s) converts: the engine may take its codes
            items <= items + 32'd1;
            i_at  <= i_at + period;
            if (last_step) begin
              // the next item: the next round's first step, or the next vector's. It
              // integrates P_r cycles after this one did and converts int + its own round's
              // window after that.
              conv_at   <= conv_at + period - {32'd0, cur_conv} + {32'd0, nxt_conv};
              cur_conv  <= nxt_conv;
              cur_tiles <= r_rdata[29:21];
              cur_cols  <= r_rdata[20:0];
              r         <= nr;
              s         <= 32'd0;
              if (wrap) begin
                a_done <= a_done + 32'd1;          // vector v's conversions have ended
                v      <= v + 32'd1;
                if (v + 32'd1 == job_vec) a_on <= 1'b0;
              end
            end else begin
              s       <= s + 32'd1;
              conv_at <= conv_at + period;
            end
          end
          if (dig_now) begin
            // D >= 1: every tile has (S+1) * ncols >= 2 ops, so vec_end always comes
            if (vec_end) begin
              d_busy <= 1'b0;
              v_d    <= v_d + 32'd1;
              if (v_d + 32'd1 == job_vec) state <= TS_DRAIN;
            end else begin
              d_busy <= 1'b1;
              dcnt   <= d_left - 64'd1;
            end
          end
        end

        TS_DRAIN: if (e_idle && !e_start) state <= TS_DONE;

        default: state <= TS_IDLE;     // TS_DONE
      endcase
    end
  end
  // adcs <= 256 (checked at start); a round's cycles are the product's integer part
  logic unused;
  assign unused = ^{adcs[31:13], ro_prod[15:0]};
endmodule : aimc_tileseq
`default_nettype wire
