// aimc_accum.sv - the accumulation engine: the ADC codes of every converted item, bank by bank,
// shift-and-added into column sums held in SRAM.
//
// The tile sequencer converts items (vector v, round r, input step s) in order and counts them
// (items). For each converted item this engine walks the round's tiles in L (round-major order,
// aimc_tileseq) and, for each tile, its columns in beats of NL: it asks the analog half for
// the codes of one beat (the conversion handshake: mac_conv_valid / mac_conv_ready; the codes
// come exactly one cycle after the request is taken), reads the beat's NL sums from the
// accumulator SRAM at the same edge, and one cycle later writes back
//     sum = (s == 0 ? 0 : sum) + (sign-extended code << (serial ? s : 0))
// for every lane: two's-complement, exact (31 steps of |code| < 2^31 shifted by at most 30
// bits stay below 2^62). A tile's beats start on an SRAM word; the words of one round's tiles
// follow each other, and every round reuses them (a round's sums are complete after its last
// step, before the next round's first step overwrites them). After the last step the sums of
// each beat go to the analog half's output stage (mac_sum_valid).
//
// The SRAM's read of a word written at the same edge returns the old word: the write of the
// previous beat is bypassed into the next beat when both are the same word (a round of one
// beat, step after step).
//
// The engine takes one beat per cycle (a tile costs its beats plus two cycles of table reads),
// behind the conversions: the codes of an item stay with the analog half until it asks. The
// counted cycles are the conversion schedule's; a round whose beats do not fit in its step
// period makes the engine finish after the last conversion (docs/rtl.md, "Limits").
`default_nettype none
module aimc_accum (
  input  wire         clk,
  input  wire         rst_n,
  input  wire         abort,
  input  wire         start,              // a job's RUN begins
  input  wire  [31:0] n_vec,
  input  wire  [8:0]  n_tiles,
  input  wire  [4:0]  steps,              // S, 1 .. 31
  input  wire         serial,             // step s weighs 2^s
  input  wire  [31:0] items,              // items converted so far
  output logic        idle,
  // L, the tiles in round-major order: {k, round, ncols}
  output logic [7:0]  l_raddr,
  input  wire  [28:0] l_rdata,
  // the analog half
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
  localparam NL   = aimc_rtl_pkg::NL;
  localparam NL_W = aimc_rtl_pkg::NL_W;
  localparam AW   = aimc_rtl_pkg::ACC_AW;
  localparam [2:0] E_IDLE = 3'd0, E_GATE = 3'd1, E_LRD = 3'd2, E_TILE = 3'd3, E_BEAT = 3'd4,
                   E_DRAIN = 3'd5;

  logic [2:0]    st;
  logic [31:0]   v, item;       // the item being taken: vector, its index in the job
  logic [4:0]    s;             //   step
  logic [7:0]    round;         //   round
  logic [8:0]    pos, rstart;   // L position; the round's first
  logic [7:0]    k;             // the tile
  logic [9:0]    beats, b;      // its beats; the next one
  logic [AW-1:0] wbase;         // its first SRAM word

  assign l_raddr = pos[7:0];
  assign idle    = st == E_IDLE;

  // ---- the accumulator SRAM ----
  logic          a_we;
  logic [AW-1:0] a_waddr, a_raddr;
  logic [NL*64-1:0] a_wdata, a_rdata;
  aimc_sram #(.W(NL * 64), .DEPTH(aimc_rtl_pkg::ACC_WORDS), .AW(AW)) u_acc (
    .clk, .we(a_we), .waddr(a_waddr), .wdata(a_wdata), .re(1'b1), .raddr(a_raddr),
    .rdata(a_rdata));

  // ---- issue (E_BEAT): one beat's codes and sums requested ----
  logic issue;
  assign mac_conv_valid = st == E_BEAT;
  assign issue          = mac_conv_valid && mac_conv_ready;
  assign mac_conv_vec   = v;
  assign mac_conv_tile  = k;
  assign mac_conv_step  = s;
  assign mac_conv_col   = {b[8:0], {NL_W{1'b0}}};
  assign a_raddr        = wbase + {{(AW-10){1'b0}}, b};

  // ---- stage 1: the codes and the old sums are here; add, write back ----
  logic          p_valid, p_first, p_last;
  logic [4:0]    p_shift;
  logic [AW-1:0] p_addr;
  logic [31:0]   p_vec;
  logic [7:0]    p_tile;
  logic [11:0]   p_col;
  logic          byp_valid;
  logic [AW-1:0] byp_addr;
  logic [NL*64-1:0] byp_data, old;

  assign old = byp_valid && byp_addr == p_addr ? byp_data : a_rdata;
  always_comb begin
    logic [63:0] term;
    for (int i = 0; i < NL; i++) begin
      term = {{32{mac_codes[32 * i + 31]}}, mac_codes[32 * i +: 32]} << p_shift;
      a_wdata[64 * i +: 64] = (p_first ? 64'd0 : old[64 * i +: 64]) + term;
    end
  end
  assign a_we    = p_valid;
  assign a_waddr = p_addr;

  always_ff @(posedge clk) begin
    mac_sum_valid <= 1'b0;
    if (!rst_n) begin
      p_valid   <= 1'b0;
      byp_valid <= 1'b0;
    end else begin
      // stage 1 -> the bypass and the output stage
      byp_valid <= p_valid;
      byp_addr  <= p_addr;
      byp_data  <= a_wdata;
      if (p_valid && p_last && !abort) begin
        mac_sum_valid <= 1'b1;
        mac_sum_vec   <= p_vec;
        mac_sum_tile  <= p_tile;
        mac_sum_col   <= p_col;
        mac_sums      <= a_wdata;
      end
      // issue -> stage 1
      p_valid <= issue && !abort;
      p_addr  <= a_raddr;
      p_first <= s == 5'd0;
      p_last  <= s + 5'd1 == steps;
      p_shift <= serial ? s : 5'd0;
      p_vec   <= v;
      p_tile  <= k;
      p_col   <= mac_conv_col;
    end
  end

  // ---- the walk: items, the round's tiles, their beats ----
  logic [28:0] ent;
  logic        round_over;
  assign ent        = l_rdata;
  assign round_over = pos == n_tiles || ent[20:13] != round;

  always_ff @(posedge clk) begin
    if (!rst_n || abort) begin
      st <= E_IDLE;
    end else begin
      case (st)
        E_IDLE: begin
          if (start) begin
            v      <= 32'd0;
            item   <= 32'd0;
            s      <= 5'd0;
            round  <= 8'd0;
            pos    <= 9'd0;
            rstart <= 9'd0;
            wbase  <= '0;
            st     <= E_GATE;
          end
        end

        E_GATE: if (item < items) st <= E_LRD;   // the item has converted

        E_LRD: st <= E_TILE;                     // L[pos] is read

        E_TILE: begin
          if (round_over) begin
            // the item's round is done: the next step, round or vector
            item  <= item + 32'd1;
            wbase <= '0;
            if (s + 5'd1 != steps) begin
              s   <= s + 5'd1;
              pos <= rstart;
              st  <= E_GATE;
            end else begin
              s <= 5'd0;
              if (pos == n_tiles) begin
                v      <= v + 32'd1;
                round  <= 8'd0;
                pos    <= 9'd0;
                rstart <= 9'd0;
                st     <= v + 32'd1 == n_vec ? E_DRAIN : E_GATE;
              end else begin
                round  <= ent[20:13];
                rstart <= pos;
                st     <= E_GATE;
              end
            end
          end else begin
            k     <= ent[28:21];
            beats <= ent[12:NL_W] + {9'd0, ent[NL_W-1:0] != {NL_W{1'b0}}};  // ceil(ncols / NL)
            b     <= 10'd0;
            st    <= E_BEAT;
          end
        end

        E_BEAT: begin
          if (issue) begin
            b <= b + 10'd1;
            if (b + 10'd1 == beats) begin
              wbase <= wbase + {{(AW-10){1'b0}}, beats};
              pos   <= pos + 9'd1;
              st    <= E_LRD;
            end
          end
        end

        default: if (!p_valid) st <= E_IDLE;    // E_DRAIN: the last beat written
      endcase
    end
  end
endmodule : aimc_accum
`default_nettype wire
