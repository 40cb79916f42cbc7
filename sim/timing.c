/* timing.c - the timing-only mode and the fill workload (aimc_timing.h): the discrete-event
 * engine driven from a plan, without values. The model is in docs/engine.md, "Timing-only
 * mode"; per-tile timing and energy come from aimc_cost_tile (sim/cost/aimc_cost.h).
 */
#include "aimc_timing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_engine.h"
#include "rng.h"

#define TICKS_PER_NS 1000.0        /* engine ticks are picoseconds */
#define PSUM_BYTES 4               /* a partial sum: 32 bits */
#define TIMING_RNG_DOMAIN 100      /* expert choice: (seed, token, layer), counter = draw */

static uint64_t ticks(double ns)
{
    return ns <= 0 ? 0 : (uint64_t)llround(ns * TICKS_PER_NS);
}

/* ---- the model's resources, per chip, created when the chip first works ---------------- */

typedef struct {
    int arrays;   /* server: one unit per core (its crossbars work in parallel) */
    int noc;      /* link: the reduction router's input ports */
    int units;    /* server: one unit per tile's digital units */
    int link;     /* link: the chip's chip-to-chip links together */
} chip_res;

/* One matrix's tiles on one chip: identical parallel work, one reservation. */
typedef struct {
    uint32_t chip;
    uint32_t cores;       /* cores holding tiles of the matrix on this chip */
    uint64_t core_ticks;  /* the busiest core: its crossbars' tiles in sequence + digital */
    uint64_t in_bytes;    /* inputs the chip needs */
    uint64_t out_bytes;   /* partial sums the chip's cores send to its reduction router */
    uint64_t red_bytes;   /* partial sums the chip sends on (reduced within the chip) */
    uint64_t tiles;
} mat_chip;

typedef struct {
    int ready;            /* summary computed */
    uint32_t home;        /* chip of the first tile */
    size_t n;
    mat_chip *c;
    double energy_pj[4];  /* one vector: dac, xbar, adc, digital */
    uint64_t tiles;
} mat_sum;

typedef struct {
    const aimc_arch *a;
    const aimc_model *m;
    const aimc_plan *p;
    const aimc_timing_opts *o;
    aimc_timing_report *r;
    aimc_eng *e;
    chip_res *chips;      /* per chip; arrays == -1 until created */
    mat_sum *mats;
    size_t *run_first;    /* per matrix: first run of replica 0 */
    uint64_t cycle_ticks; /* one digital clock cycle */
    double hops_mean;     /* mean mesh hops to a chip's reduction router */
    uint64_t *token_end;
    int rc;
    aimc_diag *d;
} tm;

static int chip_get(tm *t, uint32_t chip, chip_res **out)
{
    chip_res *c = &t->chips[chip];
    if (c->arrays < 0) {
        const aimc_arch *a = t->a;
        char name[AIMC_ENG_NAME_MAX];
        int rc;
        snprintf(name, sizeof name, "chip%u.cores", chip);
        if ((rc = aimc_eng_server_add(t->e, name, chip, (uint32_t)a->hierarchy.cores_per_chip,
                                      &c->arrays, t->d)))
            return rc;
        /* The reduction router takes ports x flit_bytes per hop time. */
        aimc_eng_link_params np = {
            (double)a->noc.ports * a->noc.flit_bytes / (double)t->cycle_ticks,
            ticks(t->hops_mean * fmax(a->mapping.noc_hop_ns, 1000.0 / a->clock.frequency_mhz))};
        snprintf(name, sizeof name, "chip%u.noc", chip);
        if ((rc = aimc_eng_link_add(t->e, name, chip, &np, &c->noc, t->d))) return rc;
        snprintf(name, sizeof name, "chip%u.units", chip);
        uint64_t tiles = aimc_arch_clusters_per_chip(a);
        if ((rc = aimc_eng_server_add(t->e, name, chip,
                                      (uint32_t)(tiles < AIMC_ENG_UNITS_MAX ? tiles
                                                                            : AIMC_ENG_UNITS_MAX),
                                      &c->units, t->d)))
            return rc;
        aimc_eng_link_params lp = {a->chip_link.count * a->chip_link.gbytes_per_s / TICKS_PER_NS,
                                   ticks(a->mapping.chip_link_ns)};
        snprintf(name, sizeof name, "chip%u.link", chip);
        if ((rc = aimc_eng_link_add(t->e, name, chip, &lp, &c->link, t->d))) return rc;
        t->r->chips_used++;
    }
    *out = c;
    return AIMC_OK;
}

/* Average activity of random data: half the input bits set, devices at the mean. */
static void activity_avg(const aimc_arch *a, aimc_activity *act)
{
    aimc_activity_peak(a, act);
    act->drive_fraction = 0.5;
    act->v2_mean = 0.5;
}

static int in_bytes_per_value(const aimc_arch *a)
{
    return (a->dac.bits + 7) / 8;
}

/* Walk the matrix's tiles (replica 0) once: per chip, the cores and their busiest crossbar. */
static int mat_summarise(tm *t, uint32_t mi)
{
    mat_sum *s = &t->mats[mi];
    const aimc_arch *a = t->a;
    const aimc_plan *p = t->p;
    const aimc_matrix *mx = &t->m->m[mi];
    const uint64_t tiers = (uint64_t)p->tiers > 0 ? (uint64_t)p->tiers : 1;
    const uint64_t xpc = (uint64_t)a->hierarchy.crossbars_per_core * tiers;
    const uint64_t cpc = (uint64_t)a->hierarchy.cores_per_chip;
    const uint32_t cols = (uint32_t)a->crossbar.cols, cpw = (uint32_t)aimc_arch_cols_per_weight(a);
    uint32_t rb, cb, S;
    aimc_map_blocks(a, mx, &rb, &cb, &S);
    aimc_activity act;
    activity_avg(a, &act);
    aimc_tile_cost tc;
    aimc_cost_tile(a, mx->rows, mx->cols, &act, &tc);
    s->energy_pj[0] = tc.energy_pj[0] * cb * S;
    s->energy_pj[1] = tc.energy_pj[1] * S;
    s->energy_pj[2] = tc.energy_pj[2] * rb * S;
    s->energy_pj[3] = tc.energy_pj[3] * rb * S;
    size_t cap = 0;
    uint64_t cur_x = UINT64_MAX, cur_core = UINT64_MAX, x_tiles = 0;
    double x_ns = 0, core_ns = 0, core_ops = 0;
    uint32_t last_rb = UINT32_MAX;
    const uint32_t R = (uint32_t)a->crossbar.rows;
    const int ibytes = in_bytes_per_value(a);
    for (size_t k = t->run_first[mi]; k < p->n_runs && p->runs[k].matrix == mi &&
                                      p->runs[k].replica == 0; k++) {
        const aimc_run *ru = &p->runs[k];
        const uint32_t ncols = ru->width / cpw;
        aimc_cost_tile(a, R, ncols, &act, &tc);
        const uint32_t kk = cols / ru->width, f = (cols - ru->col0) / ru->width;
        for (uint32_t j = 0; j < ru->n; j++) {
            const uint64_t x = j < f ? ru->xbar0
                                     : (uint64_t)ru->xbar0 + (uint64_t)ru->stride * (1 + (j - f) / kk);
            const uint64_t core = x / xpc;
            const uint32_t chip = (uint32_t)(core / cpc);
            const uint32_t tile = ru->tile0 + j, b = tile / (S * cb);
            if (core != cur_core) {
                if (s->n == 0 || s->c[s->n - 1].chip != chip) {
                    if (s->n == cap) {
                        cap = cap ? 2 * cap : 16;
                        mat_chip *nc = realloc(s->c, cap * sizeof *nc);
                        if (!nc) return aimc_diag_set(t->d, AIMC_ERR_NOMEM, "timing: out of memory");
                        s->c = nc;
                    }
                    memset(&s->c[s->n], 0, sizeof s->c[s->n]);
                    s->c[s->n++].chip = chip;
                    last_rb = UINT32_MAX;
                }
                s->c[s->n - 1].cores++;
                cur_core = core;
                core_ns = core_ops = 0;
                cur_x = UINT64_MAX;
            }
            mat_chip *mc = &s->c[s->n - 1];
            if (x != cur_x) {
                cur_x = x;
                x_tiles = 0;
                x_ns = 0;
            }
            /* Tiles of one crossbar in sequence: one vector each, back to back. */
            x_tiles++;
            x_ns = x_tiles == 1 ? tc.latency_ns : x_ns + tc.analog_ns;
            if (x_ns > core_ns) core_ns = x_ns;
            core_ops += tc.digital_ops;
            const uint64_t ct = ticks(core_ns) + (uint64_t)ceil(core_ops / a->digital.ops_per_cycle) *
                                                     t->cycle_ticks;
            if (ct > mc->core_ticks) mc->core_ticks = ct;
            if (b != last_rb) {
                mc->in_bytes += (uint64_t)R * ibytes;
                last_rb = b;
            }
            mc->out_bytes += (uint64_t)ncols * PSUM_BYTES;
            mc->tiles++;
            s->tiles++;
        }
    }
    if (s->n == 0)
        return aimc_diag_set(t->d, AIMC_ERR_INVALID, "timing: matrix %s has no tiles in the plan",
                             mx->name);
    for (size_t i = 0; i < s->n; i++) {
        mat_chip *mc = &s->c[i];
        /* Slices and row blocks of a column reduce at the chip's router. */
        const uint64_t red = (uint64_t)mx->cols * PSUM_BYTES;
        mc->red_bytes = mc->out_bytes / (S > 0 ? S : 1);
        if (mc->red_bytes > red) mc->red_bytes = red;
        if (mc->red_bytes == 0) mc->red_bytes = PSUM_BYTES;
        if (mc->in_bytes > (uint64_t)mx->rows * ibytes) mc->in_bytes = (uint64_t)mx->rows * ibytes;
    }
    s->home = s->c[0].chip;
    s->ready = 1;
    return AIMC_OK;
}

/* Energy of bytes through a chip's buffer and bus. */
static void count_buffer_bus(tm *t, uint64_t bytes)
{
    const aimc_arch *a = t->a;
    t->r->energy_pj[AIMC_PART_BUFFER] +=
        ceil((double)bytes / a->buffer.bytes_per_access) * a->buffer.energy_pj;
    t->r->energy_pj[AIMC_PART_BUS] += (double)bytes * 8.0 * a->bus.energy_pj_per_bit;
}

static int units_ops(tm *t, uint32_t chip, uint64_t ops, uint64_t ready, uint64_t *done)
{
    chip_res *c;
    int rc = chip_get(t, chip, &c);
    if (rc) return rc;
    const aimc_arch *a = t->a;
    const uint64_t cyc = (ops + (uint64_t)a->units.ops_per_cycle - 1) / (uint64_t)a->units.ops_per_cycle;
    t->r->energy_pj[AIMC_PART_UNITS] += (double)ops * a->units.energy_pj_per_op;
    t->r->reservations++;
    return aimc_eng_server_reserve(t->e, c->units, ready, cyc * t->cycle_ticks, done);
}

/* Move bytes from chip `from` to chip `to` over from's chip links (nothing on one chip). */
static int chip_send(tm *t, uint32_t from, uint32_t to, uint64_t bytes, uint64_t ready,
                     uint64_t *arrive)
{
    if (from == to || bytes == 0) {
        *arrive = ready;
        return AIMC_OK;
    }
    chip_res *c;
    int rc = chip_get(t, from, &c);
    if (rc) return rc;
    t->r->energy_pj[AIMC_PART_CHIP_LINK] +=
        ceil((double)bytes / PSUM_BYTES) * t->a->mapping.chip_link_energy_pj;
    t->r->reservations++;
    return aimc_eng_link_send(t->e, c->link, ready, bytes, arrive);
}

/* One vector through matrix mi, its input on chip src at `ready`; *done when the reduced
 * output is on the matrix's home chip, *home that chip. */
static int mat_mvm(tm *t, uint32_t mi, uint32_t src, uint64_t ready, uint64_t *done,
                   uint32_t *home)
{
    int rc;
    mat_sum *s = &t->mats[mi];
    if (!s->ready && (rc = mat_summarise(t, mi))) return rc;
    const aimc_arch *a = t->a;
    uint64_t end = ready, red_values = 0;
    for (size_t i = 0; i < s->n; i++) {
        const mat_chip *mc = &s->c[i];
        chip_res *c;
        uint64_t tin, tc, tn, tr;
        if ((rc = chip_send(t, src, mc->chip, mc->in_bytes, ready, &tin))) return rc;
        if ((rc = chip_get(t, mc->chip, &c))) return rc;
        count_buffer_bus(t, mc->in_bytes + mc->out_bytes);
        /* Identical parallel work: the chip's cores as one batch. */
        if ((rc = aimc_eng_server_batch(t->e, c->arrays, tin, mc->cores, mc->core_ticks, &tc)))
            return rc;
        if ((rc = aimc_eng_link_send(t->e, c->noc, tc, mc->out_bytes, &tn))) return rc;
        t->r->energy_pj[AIMC_PART_NOC] += (double)mc->out_bytes / PSUM_BYTES * t->hops_mean *
                                          a->mapping.noc_hop_energy_pj;
        if ((rc = chip_send(t, mc->chip, s->home, mc->red_bytes, tn, &tr))) return rc;
        t->r->reservations += 2;
        t->r->tile_mvms += mc->tiles;
        red_values += mc->red_bytes / PSUM_BYTES;
        if (tr > end) end = tr;
    }
    for (int c = 0; c < 4; c++) t->r->energy_pj[c] += s->energy_pj[c];
    /* Accumulate what arrived from the chips (one value per column when alone). */
    if ((rc = units_ops(t, s->home, red_values, end, done))) return rc;
    *home = s->home;
    return AIMC_OK;
}

/* Experts token `tok` picks in MoE layer `ml` (0-based among MoE layers): top_k distinct
 * experts drawn by probability without replacement (seeded by (seed, token, layer)). */
static void pick_experts(tm *t, uint64_t tok, int ml, int *out)
{
    const aimc_model *m = t->m;
    const int E = m->n_experts, k = m->top_k;
    const uint64_t key = aimc_rng_key(t->o->seed, TIMING_RNG_DOMAIN, tok, (uint64_t)ml);
    int taken[256] = {0};
    for (int i = 0; i < k; i++) {
        double total = 0;
        for (int e = 0; e < E && e < 256; e++)
            if (!taken[e])
                total += t->o->routing ? t->o->routing->p[(size_t)ml * E + e] : 1.0;
        double u = aimc_rng_uniform(key, (uint64_t)i) * total;
        int pick = -1;
        for (int e = 0; e < E && e < 256; e++) {
            if (taken[e]) continue;
            pick = e;
            u -= t->o->routing ? t->o->routing->p[(size_t)ml * E + e] : 1.0;
            if (u <= 0) break;
        }
        taken[pick] = 1;
        out[i] = pick;
    }
}

/* A feed-forward block (gate, up in parallel; activation; down) from chip src; the output
 * lands on chip dst. */
static int ffn(tm *t, int layer, int expert, uint32_t src, uint32_t dst, uint64_t ready,
               uint64_t *done)
{
    const aimc_model *m = t->m;
    long g = aimc_model_find(m, layer, AIMC_MAT_GATE, expert);
    long u = aimc_model_find(m, layer, AIMC_MAT_UP, expert);
    long dn = aimc_model_find(m, layer, AIMC_MAT_DOWN, expert);
    if (g < 0 || u < 0 || dn < 0)
        return aimc_diag_set(t->d, AIMC_ERR_INVALID, "timing: layer %d expert %d: no FFN",
                             layer, expert);
    uint64_t tg, tu, tact, td, tout;
    uint32_t hg, hu, hd;
    int rc;
    if ((rc = mat_mvm(t, (uint32_t)g, src, ready, &tg, &hg))) return rc;
    if ((rc = mat_mvm(t, (uint32_t)u, src, ready, &tu, &hu))) return rc;
    const uint64_t ff = m->m[g].cols;
    if ((rc = chip_send(t, hu, hg, ff * PSUM_BYTES, tu, &tu))) return rc;
    /* SiLU(gate) x up: two operations per element. */
    if ((rc = units_ops(t, hg, 2 * ff, tg > tu ? tg : tu, &tact))) return rc;
    if ((rc = mat_mvm(t, (uint32_t)dn, hg, tact, &td, &hd))) return rc;
    if ((rc = chip_send(t, hd, dst, (uint64_t)m->d_model * PSUM_BYTES, td, &tout))) return rc;
    *done = tout;
    return AIMC_OK;
}

/* Event: token `arg >> 16`, layer `arg & 0xffff` starts now. */
static int layer_event(aimc_eng *e, void *payload, uint64_t arg)
{
    tm *t = payload;
    const aimc_model *m = t->m;
    const uint64_t tok = arg >> 16;
    const int l = (int)(arg & 0xffff);
    const uint64_t now = aimc_eng_now(e);
    uint64_t end = now, tr, tk, te;
    uint32_t home;
    int rc;
    long r = aimc_model_find(m, l, AIMC_MAT_ROUTER, -1);
    if (r < 0) { /* a dense layer */
        long g = aimc_model_find(m, l, AIMC_MAT_GATE, m->n_experts + m->n_shared);
        if (g < 0) {
            for (size_t i = 0; i < m->n_matrices; i++)
                if (m->m[i].layer == l && m->m[i].kind == AIMC_MAT_GATE) g = (long)i;
        }
        if (g < 0) return aimc_diag_set(t->d, AIMC_ERR_INVALID, "timing: layer %d: no FFN", l);
        if (!t->mats[g].ready && (rc = mat_summarise(t, (uint32_t)g))) return rc;
        home = t->mats[g].home;
        if ((rc = ffn(t, l, m->m[g].expert, home, home, now, &end))) return rc;
    } else {
        if ((rc = mat_mvm(t, (uint32_t)r, 0, now, &tr, &home))) return rc;
        /* Top-k over the router's outputs: one comparison per expert and pick. */
        if ((rc = units_ops(t, home, (uint64_t)m->n_experts * m->top_k, tr, &tk))) return rc;
        int ex[256];
        pick_experts(t, tok, l - m->dense_layers, ex);
        for (int i = 0; i < m->top_k + m->n_shared; i++) {
            int expert = i < m->top_k ? ex[i] : m->n_experts + (i - m->top_k);
            if ((rc = ffn(t, l, expert, home, home, tk, &te))) return rc;
            if (te > end) end = te;
        }
        /* Weighted accumulation of the experts' outputs. */
        if ((rc = units_ops(t, home, (uint64_t)m->d_model * (m->top_k + m->n_shared), end, &end)))
            return rc;
    }
    if (l + 1 < m->layers) return aimc_eng_at(e, end, layer_event, t, (tok << 16) | (uint64_t)(l + 1));
    t->token_end[tok] = end;
    return AIMC_OK;
}

static void part_busy(tm *t, uint64_t makespan)
{
    size_t n = aimc_eng_res_count(t->e);
    double busy[AIMC_PART_COUNT] = {0}, cap[AIMC_PART_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        aimc_eng_res_stats s;
        if (aimc_eng_res_stats_get(t->e, (int)i, &s)) continue;
        const char *dot = strchr(s.name, '.');
        int part = -1;
        if (!dot) continue;
        if (!strcmp(dot, ".cores")) part = AIMC_PART_XBAR;
        if (!strcmp(dot, ".noc")) part = AIMC_PART_NOC;
        if (!strcmp(dot, ".units")) part = AIMC_PART_UNITS;
        if (!strcmp(dot, ".link")) part = AIMC_PART_CHIP_LINK;
        if (part < 0) continue;
        busy[part] += (double)s.busy_cycles;
        cap[part] += (double)s.units * (double)makespan;
    }
    for (int p = 0; p < AIMC_PART_COUNT; p++)
        t->r->utilisation[p] = cap[p] > 0 ? busy[p] / cap[p] : 0.0;
    /* The arrays' DACs and ADCs work when their crossbars do. */
    t->r->utilisation[AIMC_PART_DAC] = t->r->utilisation[AIMC_PART_ADC] =
        t->r->utilisation[AIMC_PART_DIGITAL] = t->r->utilisation[AIMC_PART_XBAR];
}

int aimc_timing_run(const aimc_arch *a, const aimc_model *m, const aimc_plan *p,
                    const aimc_timing_opts *opts, aimc_timing_report *rep, aimc_diag *d)
{
    if (!a || !m || !p || !opts || !rep || opts->tokens < 1 || opts->tokens > (UINT64_C(1) << 40))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "timing: bad arguments (tokens 1..2^40)");
    if (m->layers > 0xffff || m->top_k + m->n_shared > 256 || m->n_experts > 256)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "timing: at most 65535 layers, 256 experts and 256 active");
    if (opts->routing && (opts->routing->experts != m->n_experts ||
                          opts->routing->layers != m->layers - m->dense_layers))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "timing: routing statistics of another model");
    memset(rep, 0, sizeof *rep);
    tm t;
    memset(&t, 0, sizeof t);
    t.a = a;
    t.m = m;
    t.p = p;
    t.o = opts;
    t.r = rep;
    t.d = d;
    t.cycle_ticks = ticks(1000.0 / a->clock.frequency_mhz);
    if (t.cycle_ticks == 0) t.cycle_ticks = 1;
    /* Mean XY distance from a core of a near-square mesh of routers to its centre. */
    {
        uint64_t routers = aimc_arch_routers_per_chip(a), w = 1;
        while (w * w < routers) w++;
        t.hops_mean = (double)w / 2.0;
    }
    const uint64_t chips = p->chips > 0 ? (uint64_t)p->chips : (uint64_t)a->hierarchy.chips;
    int rc = AIMC_OK;
    t.chips = malloc(chips * sizeof *t.chips);
    t.mats = calloc(m->n_matrices, sizeof *t.mats);
    t.run_first = malloc(m->n_matrices * sizeof *t.run_first);
    t.token_end = calloc(opts->tokens, sizeof *t.token_end);
    if (!t.chips || !t.mats || !t.run_first || !t.token_end) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "timing: out of memory");
        goto out;
    }
    for (uint64_t c = 0; c < chips; c++) t.chips[c].arrays = -1;
    for (size_t i = 0; i < m->n_matrices; i++) t.run_first[i] = p->n_runs;
    for (size_t k = p->n_runs; k-- > 0;)
        if (p->runs[k].replica == 0) t.run_first[p->runs[k].matrix] = k;
    if ((rc = aimc_eng_create(&t.e))) {
        aimc_diag_set(d, rc, "timing: cannot create the engine");
        goto out;
    }
    if (opts->trace_path && (rc = aimc_eng_trace_open(t.e, opts->trace_path, TICKS_PER_NS * 1000.0, d)))
        goto out;
    /* Tokens arrive from the host by DMA, one after another. */
    {
        int dma;
        aimc_eng_link_params hp = {a->host_dma.gbytes_per_s / TICKS_PER_NS, ticks(a->host_dma.latency_ns)};
        if ((rc = aimc_eng_link_add(t.e, "host_dma", UINT32_MAX, &hp, &dma, d))) goto out;
        const uint64_t bytes = (uint64_t)m->d_model * in_bytes_per_value(a);
        for (uint64_t k = 0; k < opts->tokens; k++) {
            uint64_t arr;
            if ((rc = aimc_eng_link_send(t.e, dma, 0, bytes, &arr))) goto out;
            rep->energy_pj[AIMC_PART_CHIP_LINK] += 0; /* host side: not the chip's */
            if ((rc = aimc_eng_at(t.e, arr, layer_event, &t, k << 16))) goto out;
        }
    }
    rc = aimc_eng_run(t.e, UINT64_MAX);
    if (rc) {
        if (d && !d->msg[0]) aimc_diag_set(d, rc, "timing: the engine stopped: %s", aimc_strerror(rc));
        goto out;
    }
    if (opts->trace_path) {
        rc = aimc_eng_trace_close(t.e, d);
        if (rc) goto out;
    }
    {
        uint64_t makespan = 0;
        for (uint64_t k = 0; k < opts->tokens; k++)
            if (t.token_end[k] > makespan) makespan = t.token_end[k];
        rep->tokens = opts->tokens;
        rep->layers = (uint64_t)m->layers;
        rep->ticks = makespan;
        rep->time_ns = (double)makespan / TICKS_PER_NS;
        rep->cycles = rep->time_ns * a->clock.frequency_mhz / 1000.0;
        rep->first_token_ns = (double)t.token_end[0] / TICKS_PER_NS;
        rep->tokens_per_s = makespan ? (double)opts->tokens / (rep->time_ns * 1e-9) : 0.0;
        rep->events = aimc_eng_events_run(t.e);
        /* Static power of the chips that worked, over the makespan (pJ = mW x ns). */
        aimc_peak pk;
        aimc_peak_compute(a, &pk);
        (void)pk;
        const double tiles = (double)aimc_arch_clusters_per_chip(a);
        const double routers = (double)aimc_arch_routers_per_chip(a);
        const double xb = (double)a->hierarchy.crossbars_per_core * a->hierarchy.cores_per_chip;
        double st[AIMC_PART_COUNT] = {0};
        st[AIMC_PART_DAC] = xb * a->crossbar.rows * a->dac.leakage_mw;
        st[AIMC_PART_ADC] = xb * a->adc.per_crossbar * a->adc.leakage_mw;
        st[AIMC_PART_DIGITAL] = a->hierarchy.cores_per_chip * a->digital.leakage_mw_per_core;
        st[AIMC_PART_BUFFER] = tiles * a->buffer.leakage_mw;
        st[AIMC_PART_NOC] = routers * a->noc.leakage_mw;
        st[AIMC_PART_UNITS] = tiles * a->units.leakage_mw;
        st[AIMC_PART_CHIP_LINK] = a->chip_link.count * a->chip_link.leakage_mw;
        for (int c = 0; c < AIMC_PART_COUNT; c++) {
            rep->static_pj[c] = st[c] * (double)rep->chips_used * rep->time_ns;
            rep->energy_pj[c] += rep->static_pj[c];
        }
        part_busy(&t, makespan);
    }
out:
    aimc_eng_destroy(t.e);
    if (t.mats)
        for (size_t i = 0; i < m->n_matrices; i++) free(t.mats[i].c);
    free(t.mats);
    free(t.chips);
    free(t.run_first);
    free(t.token_end);
    return rc;
}

/* ---- the fill workload ------------------------------------------------------------------ */

typedef struct {
    const aimc_arch *a;
    uint64_t vectors;
    int *array, *adc;     /* per crossbar */
    int *digital;         /* per core */
    int *buffer, *bus;    /* per tile */
    aimc_eng_tile tile;
    uint64_t in_bytes, out_bytes;
    uint64_t *finish;     /* per vector: the last core's end */
} fill;

/* Event: core `arg / vectors` writes vector `arg % vectors`'s outputs back over its bus
 * into the tile's buffer. */
static int fill_out_event(aimc_eng *e, void *payload, uint64_t arg)
{
    fill *f = payload;
    const uint64_t core = arg / f->vectors, v = arg % f->vectors;
    const uint64_t tile = core / (uint64_t)f->a->hierarchy.cores_per_cluster;
    uint64_t tout, tw;
    int rc;
    if ((rc = aimc_eng_link_send(e, f->bus[tile], aimc_eng_now(e), f->out_bytes, &tout)))
        return rc;
    if ((rc = aimc_eng_mem_access(e, f->buffer[tile], core * f->out_bytes, f->out_bytes, tout, &tw)))
        return rc;
    if (tw > f->finish[v]) f->finish[v] = tw;
    return AIMC_OK;
}

/* Event: core `arg / vectors` fetches and runs vector `arg % vectors`. */
static int fill_event(aimc_eng *e, void *payload, uint64_t arg)
{
    fill *f = payload;
    const aimc_arch *a = f->a;
    const uint64_t core = arg / f->vectors, v = arg % f->vectors;
    const uint64_t tile = core / (uint64_t)a->hierarchy.cores_per_cluster;
    const uint64_t xpc = (uint64_t)a->hierarchy.crossbars_per_core;
    const uint64_t now = aimc_eng_now(e);
    const uint32_t lcols = (uint32_t)aimc_arch_logical_cols(a);
    uint64_t tb, tin, done = 0;
    int rc;
    /* Inputs from the tile's buffer over its bus (one vector's rows, shared by the core's
     * crossbars: they hold the slices of one weight group). */
    if ((rc = aimc_eng_mem_access(e, f->buffer[tile], core * f->in_bytes, f->in_bytes, now, &tb)))
        return rc;
    if ((rc = aimc_eng_link_send(e, f->bus[tile], tb, f->in_bytes, &tin))) return rc;
    /* The next vector's inputs may be fetched once these are in the input register. */
    if (v + 1 < f->vectors && (rc = aimc_eng_at(e, tin, fill_event, f, arg + 1))) return rc;
    for (uint64_t k = 0; k < xpc; k++) {
        aimc_eng_tile t = f->tile;
        uint64_t dk;
        t.array = f->array[core * xpc + k];
        t.adc = f->adc[core * xpc + k];
        t.dac = t.array; /* the drive is part of integration_ns: 0 ticks */
        t.shift_add = f->digital[core];
        if ((rc = aimc_eng_tile_mvm(e, &t, lcols, (uint32_t)aimc_arch_input_steps(a), tin, &dk)))
            return rc;
        if (dk > done) done = dk;
    }
    /* The outputs leave when they are there: an event, so that the bus and the buffer serve
     * requests in time order. */
    return aimc_eng_at(e, done, fill_out_event, f, arg);
}

int aimc_timing_fill(const aimc_arch *a, uint64_t vectors, aimc_timing_fill_report *rep,
                     aimc_diag *d)
{
    if (!a || !rep || vectors < 2 || vectors > 1000000)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "timing fill: bad arguments (vectors 2..1e6)");
    memset(rep, 0, sizeof *rep);
    const uint64_t cores = (uint64_t)a->hierarchy.cores_per_chip;
    const uint64_t xpc = (uint64_t)a->hierarchy.crossbars_per_core;
    const uint64_t xb = cores * xpc, tiles = aimc_arch_clusters_per_chip(a);
    const uint64_t cyc = ticks(1000.0 / a->clock.frequency_mhz) ? ticks(1000.0 / a->clock.frequency_mhz) : 1;
    const uint32_t lcols = (uint32_t)aimc_arch_logical_cols(a);
    fill f;
    memset(&f, 0, sizeof f);
    aimc_eng *e = NULL;
    int rc;
    f.a = a;
    f.vectors = vectors;
    f.array = malloc(xb * sizeof *f.array);
    f.adc = malloc(xb * sizeof *f.adc);
    f.digital = malloc(cores * sizeof *f.digital);
    f.buffer = malloc(tiles * sizeof *f.buffer);
    f.bus = malloc(tiles * sizeof *f.bus);
    f.finish = calloc(vectors, sizeof *f.finish);
    if (!f.array || !f.adc || !f.digital || !f.buffer || !f.bus || !f.finish) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "timing fill: out of memory");
        goto out;
    }
    if ((rc = aimc_eng_create(&e))) goto out;
    for (uint64_t x = 0; x < xb; x++) {
        uint32_t core = (uint32_t)(x / xpc);
        if ((rc = aimc_eng_server_add(e, "array", core, 1, &f.array[x], d)) ||
            (rc = aimc_eng_server_add(e, "adc", core, (uint32_t)a->adc.per_crossbar, &f.adc[x], d)))
            goto out;
    }
    for (uint64_t c = 0; c < cores; c++)
        if ((rc = aimc_eng_server_add(e, "digital", (uint32_t)c, 1, &f.digital[c], d))) goto out;
    for (uint64_t t = 0; t < tiles; t++) {
        aimc_eng_mem_params mp = {(uint32_t)a->buffer.banks, (uint32_t)a->buffer.bytes_per_access,
                                  (uint32_t)a->buffer.bytes_per_access, ticks(a->buffer.access_ns)};
        aimc_eng_link_params bp = {a->bus.width_bits / 8.0 / (double)ticks(a->bus.transfer_ns), 0};
        if ((rc = aimc_eng_mem_add(e, "buffer", (uint32_t)t, &mp, &f.buffer[t], d)) ||
            (rc = aimc_eng_link_add(e, "bus", (uint32_t)t, &bp, &f.bus[t], d)))
            goto out;
    }
    f.tile.dac_cycles = 0;
    f.tile.integrate_cycles = ticks(a->crossbar.integration_ns);
    f.tile.conversion_cycles = ticks(a->adc.conversion_ns);
    f.tile.shift_add_cycles =
        (uint64_t)((lcols + a->digital.ops_per_cycle - 1) / a->digital.ops_per_cycle) * cyc;
    f.in_bytes = (uint64_t)a->crossbar.rows * in_bytes_per_value(a);
    f.out_bytes = (uint64_t)lcols * PSUM_BYTES;
    for (uint64_t c = 0; c < cores; c++)
        if ((rc = aimc_eng_at(e, 0, fill_event, &f, c * vectors))) goto out;
    if ((rc = aimc_eng_run(e, UINT64_MAX))) goto out;
    rep->vectors = vectors;
    rep->first_ns = (double)f.finish[0] / TICKS_PER_NS;
    rep->last_ns = (double)f.finish[vectors - 1] / TICKS_PER_NS;
    rep->steady_ns_per_vector = (rep->last_ns - rep->first_ns) / (double)(vectors - 1);
    rep->tops = (double)xb / aimc_arch_slices(a) * 2.0 * a->crossbar.rows * lcols /
                (rep->steady_ns_per_vector * 1e-9) / 1e12;
    rep->events = aimc_eng_events_run(e);
out:
    if (rc && d && !d->msg[0]) aimc_diag_set(d, rc, "timing fill: %s", aimc_strerror(rc));
    aimc_eng_destroy(e);
    free(f.array);
    free(f.adc);
    free(f.digital);
    free(f.buffer);
    free(f.bus);
    free(f.finish);
    return rc;
}
