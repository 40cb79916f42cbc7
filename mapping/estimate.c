/* estimate.c - a plan's summary under routing statistics: crossbar and cell use, per-core
 * load, partial-sum hops on the mesh, tier conflicts, and the estimate of one token's latency
 * and energy: the workload's steps (aimc_workload.h) booked with the cost layer's schedules
 * without contention, as the device books them with it (docs/mapping.md).
 */
#include "map_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_cost.h"
#include "aimc_regs.h"
#include "aimc_workload.h"

typedef struct {
    uint64_t lo, hi; /* sites */
    int tier;        /* the one tier used, or -1 for several */
    int layer, gid;  /* group: routed expert e, shared n_experts + s */
} interval;

static int by_interval(const void *a, const void *b)
{
    const interval *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* P(group a and group b both active) in model layer l. */
static double pair_p(const aimc_model *m, const aimc_routing *r, int l, int a, int b)
{
    int E = m->n_experts, ml = l - m->dense_layers;
    if (a >= E && b >= E) return 1.0;
    if (a >= E) return r->p[(size_t)ml * E + b];
    if (b >= E) return r->p[(size_t)ml * E + a];
    return aimc_routing_pair(r, ml, a, b);
}

/* Expected tier conflicts per token, per layer into per_layer (model layers). */
static int tier_conflicts(const aimc_arch *a, const aimc_model *m, const aimc_plan *p,
                          const aimc_routing *r, double *per_layer)
{
    const uint64_t T = (uint64_t)p->tiers, cols = (uint64_t)a->crossbar.cols;
    if (T <= 1) return AIMC_OK;
    size_t n = 0;
    interval *iv = malloc((p->n_runs ? p->n_runs : 1) * sizeof *iv);
    const int G = m->n_experts + m->n_shared;
    unsigned char *mark = calloc((size_t)G * G, 1);
    if (!iv || !mark) {
        free(iv);
        free(mark);
        return AIMC_ERR_NOMEM;
    }
    for (size_t k = 0; k < p->n_runs; k++) {
        const aimc_run *ru = &p->runs[k];
        const aimc_matrix *mx = &m->m[ru->matrix];
        if (mx->expert < 0) continue;
        uint32_t kk = (uint32_t)(cols / ru->width), f = (uint32_t)((cols - ru->col0) / ru->width);
        uint64_t x0 = ru->xbar0, x1 = ru->n <= f ? x0 : x0 + (uint64_t)ru->stride * (1 + (ru->n - f - 1) / kk);
        iv[n].lo = x0 / T;
        iv[n].hi = x1 / T;
        iv[n].tier = (x0 == x1 || ru->stride % T == 0) ? (int)(x0 % T) : -1;
        iv[n].layer = mx->layer;
        iv[n].gid = mx->expert;
        n++;
    }
    qsort(iv, n, sizeof *iv, by_interval);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && iv[j].layer == iv[i].layer) j++;
        memset(mark, 0, (size_t)G * G);
        for (size_t u = i; u < j; u++)
            for (size_t v = u + 1; v < j && iv[v].lo <= iv[u].hi; v++) {
                if (iv[u].gid == iv[v].gid) continue;
                if (iv[u].tier >= 0 && iv[u].tier == iv[v].tier) continue;
                mark[(size_t)iv[u].gid * G + iv[v].gid] = 1;
                mark[(size_t)iv[v].gid * G + iv[u].gid] = 1;
            }
        double c = 0;
        for (int x = 0; x < G; x++)
            for (int y = x + 1; y < G; y++)
                if (mark[(size_t)x * G + y]) c += pair_p(m, r, iv[i].layer, x, y);
        per_layer[iv[i].layer] = c;
        i = j;
    }
    free(iv);
    free(mark);
    return AIMC_OK;
}

/* Activation probability of matrix i per token (routed experts from r). */
static double matrix_p(const aimc_model *m, const aimc_routing *r, const aimc_matrix *mx)
{
    if (mx->expert < 0 || mx->expert >= m->n_experts) return 1.0;
    return r->p[(size_t)(mx->layer - m->dense_layers) * m->n_experts + mx->expert];
}

int aimc_map_summarise(const aimc_arch *arch, const aimc_model *model, const aimc_plan *plan,
                       const aimc_routing *routing, aimc_map_summary *s, aimc_diag *d)
{
    return aimc_map_summarise_at(arch, model, plan, routing, 0, s, d);
}

int aimc_map_summarise_at(const aimc_arch *arch, const aimc_model *model, const aimc_plan *plan,
                          const aimc_routing *routing, uint32_t position, aimc_map_summary *s,
                          aimc_diag *d)
{
    if (!arch || !model || !plan || !s)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_map_summarise: NULL argument");
    memset(s, 0, sizeof *s);
    aimc_routing *own = NULL;
    int rc;
    if (!routing) {
        if ((rc = aimc_routing_uniform(model, &own, d))) return rc;
        routing = own;
    }
    if (routing->layers != model->layers - model->dense_layers ||
        routing->experts != model->n_experts) {
        aimc_routing_free(own);
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "routing statistics of %d layers x %d experts do not fit model %s",
                             routing->layers, routing->experts, model->name);
    }
    const uint64_t T = (uint64_t)plan->tiers;
    const uint64_t per_core = (uint64_t)arch->hierarchy.crossbars_per_core * T;
    const uint64_t cpc = (uint64_t)arch->hierarchy.cores_per_chip;
    const uint32_t cols = (uint32_t)arch->crossbar.cols, R = (uint32_t)arch->crossbar.rows;
    const uint64_t n_cores = plan->xbars_span ? (plan->xbars_span + per_core - 1) / per_core : 1;
    uint32_t gw = 1;
    while ((uint64_t)gw * gw < cpc) gw++;

    float *load = calloc(n_cores, sizeof *load);
    uint64_t *home = NULL;   /* per column block: chip << 32 | gy << 16 | gx of its home core */
    uint32_t *gxy = malloc(cpc * sizeof *gxy); /* core in chip -> gy << 16 | gx */
    if (gxy)
        for (uint64_t c = 0; c < cpc; c++) gxy[c] = (uint32_t)((c / gw) << 16 | (c % gw));
    double *layer_conf = calloc((size_t)model->layers, sizeof *layer_conf);
    if (!load || !gxy || !layer_conf) goto nomem;
    size_t home_cap = 0;

    double hop_sum = 0;
    uint64_t tiles = 0;
    for (size_t k = 0; k < plan->n_runs; k++) {
        const aimc_run *ru = &plan->runs[k];
        const aimc_matrix *mx = &model->m[ru->matrix];
        uint32_t rb, cb, S;
        aimc_map_blocks(arch, mx, &rb, &cb, &S);
        if (k == 0 || ru->matrix != plan->runs[k - 1].matrix ||
            ru->replica != plan->runs[k - 1].replica) {
            if (cb > home_cap) {
                uint64_t *nh = realloc(home, cb * sizeof *nh);
                if (!nh) goto nomem;
                home = nh;
                home_cap = cb;
            }
        }
        int copies = plan->replicas && plan->replicas[ru->matrix] > 0 ? plan->replicas[ru->matrix] : 1;
        double pm = matrix_p(model, routing, mx) / copies;
        /* Walk the tiles: position, core, chip incrementally. */
        uint32_t t = ru->tile0, s_i = t % S, c_i = (t / S) % cb, b_i = t / (S * cb);
        uint64_t x = ru->xbar0;
        uint32_t c = ru->col0;
        uint64_t core = x / per_core, xin = x % per_core;
        uint64_t chip = core / cpc, cin = core % cpc;
        uint32_t maxh = 0;
        for (uint32_t j = 0; j < ru->n; j++) {
            load[core] += (float)pm;
            uint32_t gx = gxy[cin] & 0xffff, gy = gxy[cin] >> 16, h;
            if (b_i == 0 && s_i == 0) home[c_i] = chip << 32 | gxy[cin];
            uint64_t hv = home[c_i], hchip = hv >> 32;
            uint32_t hx = (uint32_t)hv & 0xffff, hy = ((uint32_t)hv >> 16) & 0xffff;
            if (hchip == chip) {
                h = (gx > hx ? gx - hx : hx - gx) + (gy > hy ? gy - hy : hy - gy);
            } else { /* over chip 0's port at core (0,0) of both chips */
                h = gx + gy + hx + hy;
                s->chip_crossings++;
            }
            if (h > maxh) maxh = h;
            hop_sum += h;
            tiles++;
            /* next tile */
            if (++s_i == S) {
                s_i = 0;
                if (++c_i == cb) {
                    c_i = 0;
                    b_i++;
                }
            }
            c += ru->width;
            if (c + ru->width > cols) {
                c = 0;
                x += ru->stride;
                xin += ru->stride;
                while (xin >= per_core) {
                    xin -= per_core;
                    core++;
                    if (++cin == cpc) {
                        cin = 0;
                        chip++;
                    }
                }
            }
        }
        if (maxh > s->hops_max) s->hops_max = maxh;
    }
    s->hops_mean = tiles ? hop_sum / (double)tiles : 0;
    for (uint64_t i = 0; i < n_cores; i++)
        if (load[i] > 0) {
            s->cores_used++;
            s->core_load_mean += load[i];
            if (load[i] > s->core_load_max) s->core_load_max = load[i];
        }
    if (s->cores_used) s->core_load_mean /= (double)s->cores_used;

    if ((rc = tier_conflicts(arch, model, plan, routing, layer_conf))) goto nomem;

    for (size_t l = 0; l < (size_t)model->layers; l++) s->tier_conflicts += layer_conf[l];
    /* Latency and energy: one token through the workload's steps (aimc_map_estimate_token_at)
     * at its context position. */
    {
        aimc_map_estimate est;
        s->position = position;
        if ((rc = aimc_map_estimate_token_at(arch, model, plan, NULL, routing, s->position, &est,
                                             d)))
            goto out;
        s->estimated = 1;
        s->latency_ns = est.latency_ns;
        s->energy_pj = est.energy_pj_total;
        memcpy(s->energy_pj_by_part, est.energy_pj, sizeof s->energy_pj_by_part);
    }
    s->xbars_used = (uint64_t)plan->xbars_used;
    s->xbars_total = (uint64_t)plan->xbars_total;
    s->xbars_span = plan->xbars_span;
    s->chips = plan->chips;
    s->cell_util_machine = plan->cells_total ? (double)plan->cells_used / (double)plan->cells_total : 0;
    s->cell_util_used = plan->xbars_used ? (double)plan->cells_used /
                                               ((double)plan->xbars_used * R * cols)
                                         : 0;
    rc = AIMC_OK;
    goto out;
nomem:
    rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "aimc_map_summarise: out of memory");
out:
    free(load);
    free(gxy);
    free(home);
    free(layer_conf);
    aimc_routing_free(own);
    return rc;
}

/* ---- the estimate of one token ------------------------------------------------------------ */

/* A range of a tensor's bytes: where it lies, when its last writer finished and when its
 * readers since did. */
typedef struct {
    uint64_t lo, hi;
    aimc_loc loc;
    uint64_t wfin, rfin;
} est_seg;

/* A tensor of the token (one buffer of the runtime), in ranges split where commands read or
 * write parts of it (a group of heads' block, the values after the keys), as the device
 * keeps where data lies and what waits for what by address. */
typedef struct {
    est_seg *s;
    size_t n, cap;
} est_tensor;

typedef struct {
    const aimc_arch *a;
    const aimc_model *m;
    const aimc_plan *p;
    aimc_cost_mvm **mvm;    /* per matrix, built when first needed */
    size_t *run_first;      /* per matrix: its first run of replica 0 */
    aimc_cost_events ev;
    uint64_t last_retire;   /* the retire cycle of the latest command */
    uint64_t commands;
    uint32_t position;      /* the token's position in its sequence (ATTN's pos0) */
    est_tensor *lt;         /* the group's tensors (AIMC_WL_NONE) */
    uint64_t *cache_fin;    /* per layer: when the last ATTN on its KV cache finished */
    aimc_diag *d;
} est_ctx;

/* A batch of commands the host issues at once: steps with their tensors. */
typedef struct {
    const aimc_wl_step **st;
    est_tensor **ts; /* 4 per step: in[0..2], out */
    size_t n, cap;
} est_batch_t;

/* What a command reads or writes: bytes [off, off + bytes) of tensor t. */
typedef struct {
    est_tensor *t;
    uint64_t off, bytes;
    int write, move;
} est_opd;

static int ten_reset(est_tensor *t, aimc_loc loc, uint64_t fin)
{
    if (!t->cap) {
        if (!(t->s = malloc(4 * sizeof *t->s))) return AIMC_ERR_NOMEM;
        t->cap = 4;
    }
    t->s[0] = (est_seg){0, UINT64_MAX, loc, fin, fin};
    t->n = 1;
    return AIMC_OK;
}

/* A range boundary at x. */
static int ten_split(est_tensor *t, uint64_t x)
{
    size_t i = 0;
    while (i < t->n && t->s[i].hi <= x) i++;
    if (i == t->n || t->s[i].lo == x) return AIMC_OK;
    if (t->n == t->cap) {
        est_seg *ns = realloc(t->s, 2 * t->cap * sizeof *ns);
        if (!ns) return AIMC_ERR_NOMEM;
        t->s = ns;
        t->cap *= 2;
    }
    memmove(t->s + i + 1, t->s + i, (t->n - i) * sizeof *t->s);
    t->n++;
    t->s[i].hi = x;
    t->s[i + 1].lo = x;
    return AIMC_OK;
}

/* When a command may touch o: after the writers of what it reads, and after the readers and
 * writers of what it writes. */
static uint64_t opd_ready(const est_opd *o)
{
    uint64_t t = 0;
    for (size_t i = 0; i < o->t->n; i++) {
        const est_seg *s = &o->t->s[i];
        if (s->hi <= o->off || s->lo >= o->off + o->bytes) continue;
        if (s->wfin > t) t = s->wfin;
        if (o->write && s->rfin > t) t = s->rfin;
    }
    return t;
}

/* Where o lies: where its first byte does (the device's dev_where_is). */
static aimc_loc opd_loc(const est_opd *o)
{
    for (size_t i = 0; i < o->t->n; i++)
        if (o->t->s[i].lo <= o->off && o->off < o->t->s[i].hi) return o->t->s[i].loc;
    return (aimc_loc){AIMC_LOC_HOST, 0};
}

/* A command that finished at fin has read o, or written it at `at`. */
static int opd_done(const est_opd *o, uint64_t fin, aimc_loc at)
{
    if (ten_split(o->t, o->off) || ten_split(o->t, o->off + o->bytes)) return AIMC_ERR_NOMEM;
    for (size_t i = 0; i < o->t->n; i++) {
        est_seg *s = &o->t->s[i];
        if (s->hi <= o->off || s->lo >= o->off + o->bytes) continue;
        if (o->write) {
            s->wfin = fin;
            s->loc = at;
        } else if (s->rfin < fin) {
            s->rfin = fin;
        }
    }
    return AIMC_OK;
}

static const aimc_cost_mvm *est_mvm(est_ctx *e, long mi)
{
    if (e->mvm[mi]) return e->mvm[mi];
    const aimc_matrix *mx = &e->m->m[mi];
    const aimc_tile *tiles = e->p->tiles ? e->p->tiles + e->p->first[mi] : NULL;
    const size_t n = e->p->count[mi];
    aimc_tile *made = NULL;
    if (!tiles) {
        made = malloc((n ? n : 1) * sizeof *made);
        if (!made) return NULL;
        size_t k = 0;
        for (size_t r = e->run_first[mi];
             r < e->p->n_runs && e->p->runs[r].matrix == (uint32_t)mi && e->p->runs[r].replica == 0;
             r++)
            for (uint32_t j = 0; j < e->p->runs[r].n && k < n; j++)
                aimc_run_tile(e->a, e->m, &e->p->runs[r], j, &made[k++]);
        tiles = made;
    }
    if (aimc_cost_mvm_build(e->a, mx->rows, mx->cols, tiles, n, &e->mvm[mi]) != AIMC_OK)
        e->mvm[mi] = NULL;
    free(made);
    return e->mvm[mi];
}

static aimc_dig est_dig(aimc_wl_op op)
{
    switch (op) {
    case AIMC_WL_RMSNORM: return AIMC_DIG_RMSNORM;
    case AIMC_WL_TOPK: return AIMC_DIG_TOPK;
    case AIMC_WL_GATHER: return AIMC_DIG_GATHER;
    case AIMC_WL_SILU_MUL: return AIMC_DIG_SILU_MUL;
    case AIMC_WL_NORM: return AIMC_DIG_NORM;
    case AIMC_WL_ROUTE: return AIMC_DIG_ROUTE;
    case AIMC_WL_SIGMOID: return AIMC_DIG_ACT;
    case AIMC_WL_ATTN: return AIMC_DIG_ATTN;
    default: return AIMC_DIG_SCALE_ACC;
    }
}

/* The attention step s's bytes (the group's heads of the layer's record; the first group
 * appends the new keys and values), at the token's position. */
static void est_attn_io(const est_ctx *e, const aimc_wl_step *s, aimc_cost_attn_bytes *io)
{
    const aimc_model *m = e->m;
    const uint64_t heads = s->dim / (uint32_t)m->attn.dk;
    aimc_cost_attn_io(s->rows, e->position, heads, (uint64_t)m->attn.kv_heads,
                      (uint64_t)m->attn.dk, (uint64_t)m->attn.dv, m->attn.kind == AIMC_ATTN_MLA,
                      s->part == 0, io);
}

/* The operands of step s's command as the device notes them (sim/device/exec.c, exec_ext.c):
 * its reads, then its writes, each a range of one of the tensors ts (in[0..2], out). */
static int est_operands(const est_ctx *e, const aimc_wl_step *s, est_tensor *const *ts,
                        est_opd *o)
{
    const uint64_t v = AIMC_COST_VALUE_BYTES, rows = s->rows, dim = s->dim;
    int n = 0;
#define OPD(t_, off_, bytes_, w_)                                                                 \
    do {                                                                                          \
        if ((t_) && (bytes_) > 0) o[n++] = (est_opd){(t_), (off_), (bytes_), (w_), !(w_)};        \
    } while (0)
    switch (s->op) {
    case AIMC_WL_RMSNORM:
    case AIMC_WL_SIGMOID:
        OPD(ts[0], 0, rows * dim * v, 0);
        OPD(ts[3], 0, rows * dim * v, 1);
        break;
    case AIMC_WL_SILU_MUL:
        OPD(ts[0], 0, rows * dim * v, 0);
        OPD(ts[1], 0, rows * dim * v, 0);
        OPD(ts[3], 0, rows * dim * v, 1);
        break;
    case AIMC_WL_NORM: {
        const uint64_t bytes = ((rows - 1) * (s->stride ? s->stride : dim) + dim) * v;
        OPD(ts[0], (uint64_t)s->in_off * v, bytes, 0);
        OPD(ts[3], (uint64_t)s->out_off * v, bytes, 1);
        break;
    }
    case AIMC_WL_MVM: {
        const aimc_matrix *mx = &e->m->m[s->matrix];
        OPD(ts[0], (uint64_t)s->in_off * v, rows * mx->rows * v, 0);
        if (n) o[0].move = 0; /* the MVM's own input stage moves it (aimc_cost_mvm_in) */
        OPD(ts[3], (uint64_t)s->out_off * v, rows * mx->cols * v, 1);
        break;
    }
    case AIMC_WL_TOPK:
    case AIMC_WL_ROUTE:
        OPD(ts[0], 0, rows * dim * v, 0);
        OPD(ts[3], 0, rows * s->k * v, 1);
        OPD(&e->lt[AIMC_WL_P], 0, rows * s->k * v, 1);
        break;
    case AIMC_WL_GATHER:
        OPD(ts[0], 0, (uint64_t)s->src_rows * dim * v, 0);
        OPD(ts[1], 0, rows * v, 0);
        OPD(ts[3], 0, rows * dim * v, 1);
        break;
    case AIMC_WL_SCALE_ACC:
        OPD(ts[0], 0, rows * dim * v, 0);
        OPD(ts[3], 0, (uint64_t)s->src_rows * dim * v, 0);
        OPD(ts[1], 0, rows * v, 0);
        OPD(ts[2], 0, rows * v, 0);
        OPD(ts[3], 0, (uint64_t)s->src_rows * dim * v, 1);
        break;
    case AIMC_WL_ATTN: {
        aimc_cost_attn_bytes io;
        est_attn_io(e, s, &io);
        OPD(ts[0], (uint64_t)s->in_off * v, io.q, 0);
        OPD(ts[1], 0, io.kv, 0);
        OPD(ts[3], (uint64_t)s->out_off * v, io.out, 1);
        break;
    }
    }
#undef OPD
    /* a digital command runs where its first operand lies: the device's anchor */
    if (n == 0 || o[0].write)
        return aimc_diag_set(e->d, AIMC_ERR_INVALID, "estimate: a step without its input");
    return n;
}

/* Append the steps of ph to b; the tensors of the layer in lt, an expert's own in et. */
static int batch_add(est_batch_t *b, const aimc_wl_phase *ph, est_tensor *lt, est_tensor *et)
{
    if (b->n + (size_t)ph->n > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        while (cap < b->n + (size_t)ph->n) cap *= 2;
        const aimc_wl_step **st = realloc(b->st, cap * sizeof *st);
        if (st) b->st = st;
        est_tensor **ts = realloc(b->ts, 4 * cap * sizeof *ts);
        if (ts) b->ts = ts;
        if (!st || !ts) return AIMC_ERR_NOMEM;
        b->cap = cap;
    }
    for (int i = 0; i < ph->n; i++) {
        const aimc_wl_step *s = &ph->s[i];
        b->st[b->n] = s;
        for (int q = 0; q < 4; q++) {
            const aimc_wl_tensor tn = q < 3 ? s->in[q] : s->out;
            est_tensor *tp = NULL;
            if (tn != AIMC_WL_NONE) tp = et && aimc_wl_expert_tensor(tn) ? &et[tn] : &lt[tn];
            b->ts[4 * b->n + (size_t)q] = tp;
        }
        b->n++;
    }
    return AIMC_OK;
}

/* Run a batch the host issues at `issue` as the device's command processor does: fetched in
 * bursts, each command started when it has arrived and what it touches is ready, its stages
 * booked with the cost layer's schedules, completed when its status word is back. The retire
 * cycle of the batch's routing step goes to *retire_topk. */
static int est_run(est_ctx *e, const est_batch_t *b, uint64_t issue, uint64_t *retire_topk)
{
    const aimc_arch *a = e->a;
    const aimc_cost_booker *bk = &aimc_cost_free_booker;
    const aimc_loc host = {AIMC_LOC_HOST, 0};
    uint64_t arrival = issue;
    for (size_t i = 0; i < b->n; i++) {
        if (i % AIMC_COST_FETCH_BURST == 0) {
            const size_t burst = b->n - i < AIMC_COST_FETCH_BURST ? b->n - i : AIMC_COST_FETCH_BURST;
            arrival = aimc_cost_fetch(a, (uint32_t)burst, AIMC_DESC_BYTES, arrival, bk, &e->ev);
        }
        const aimc_wl_step *s = b->st[i];
        est_opd o[8];
        aimc_loc loc[8];
        const int no = est_operands(e, s, b->ts + 4 * i, o);
        if (no < 0) return no;
        uint64_t start = arrival;
        for (int q = 0; q < no; q++) {
            const uint64_t t = opd_ready(&o[q]);
            if (t > start) start = t;
            loc[q] = opd_loc(&o[q]);
        }
        /* ATTN also writes its layer's cache: after the ATTNs before it on that cache */
        if (s->op == AIMC_WL_ATTN && e->cache_fin[s->layer] > start) start = e->cache_fin[s->layer];
        uint64_t fin = start, out_bytes = 0;
        aimc_loc at;
        if (s->op == AIMC_WL_MVM) {
            const aimc_cost_mvm *mv = est_mvm(e, s->matrix);
            if (!mv) return aimc_diag_set(e->d, AIMC_ERR_NOMEM, "estimate: out of memory");
            at = mv->home;
            fin = aimc_cost_mvm_in(a, mv, s->rows, loc[0], start, bk, &e->ev);
            fin = aimc_cost_mvm_run(a, mv, s->rows, fin, bk);
            fin = aimc_cost_mvm_out(a, mv, s->rows, fin, bk, &e->ev);
            aimc_cost_mvm_events(a, mv, s->rows, &e->ev);
            aimc_cost_mvm_activity(a, mv, s->rows, &e->ev);
            out_bytes = (uint64_t)s->rows * e->m->m[s->matrix].cols * AIMC_COST_VALUE_BYTES;
        } else {
            const aimc_dig op = est_dig(s->op);
            /* It runs at its first input (aimc_cost_site); the others, and that one when it
             * lies in host memory, come to it. */
            at = aimc_cost_site(loc[0]);
            uint64_t ready = start;
            for (int q = 0; q < no; q++) {
                if (!o[q].move) continue;
                const uint64_t tq = aimc_cost_move(a, loc[q], at, o[q].bytes, start, bk, &e->ev);
                if (tq > ready) ready = tq;
            }
            if (op == AIMC_DIG_ATTN) {
                aimc_cost_attn_bytes io;
                est_attn_io(e, s, &io);
                const aimc_model *m = e->m;
                const uint64_t ops = aimc_cost_attn_ops(
                    s->rows, e->position, s->dim / (uint32_t)m->attn.dk,
                    s->part == 0 ? (uint64_t)m->attn.kv_heads : 0, (uint64_t)m->attn.dk,
                    (uint64_t)m->attn.dv, (uint64_t)m->attn.rope_dim);
                fin = aimc_cost_attn_run(a, at, ops, io.q + io.kv, io.out, io.kv_read, io.kv_write,
                                         ready, bk, &e->ev);
            } else {
                const int elementwise = s->op == AIMC_WL_SILU_MUL || s->op == AIMC_WL_SIGMOID;
                const uint64_t nn = elementwise ? (uint64_t)s->rows * s->dim : s->dim;
                const uint64_t batch = elementwise ? 1 : s->rows;
                uint64_t din, dout;
                aimc_cost_dig_io(op, batch, nn, s->k, &din, &dout);
                fin = aimc_cost_dig_run(a, at, aimc_cost_dig_ops(op, batch, nn, s->k), din, dout,
                                        ready, bk, &e->ev);
            }
            if (aimc_wl_routes(s->op)) out_bytes = 2 * (uint64_t)s->rows * s->k * AIMC_COST_VALUE_BYTES;
        }
        if (aimc_wl_routes(s->op) || aimc_wl_host_reads(s->out))
            fin = aimc_cost_move(a, at, host, out_bytes, fin, bk, &e->ev);
        for (int q = 0; q < no; q++)
            if (opd_done(&o[q], fin, at))
                return aimc_diag_set(e->d, AIMC_ERR_NOMEM, "estimate: out of memory");
        if (s->op == AIMC_WL_ATTN) e->cache_fin[s->layer] = fin;
        const uint64_t retire = aimc_cost_complete(a, fin, bk, &e->ev);
        if (retire > e->last_retire) e->last_retire = retire;
        if (aimc_wl_routes(s->op)) *retire_topk = retire;
        e->commands++;
    }
    return AIMC_OK;
}

/* The runtime's order (driver/runtime/runtime.c, advance): from layer l on, each layer's
 * attention, a dense layer's FFN, up to the route phase of the next MoE layer, whose routing
 * the host waits for; after the last layer the head. Appends the phases to b (their steps in
 * ph from *np on) and returns that MoE layer, or the layers when none is left (an error: its code, < 0). */
static int est_advance(est_ctx *e, est_batch_t *b, aimc_wl_phase *ph, int *np, int l)
{
    const aimc_model *m = e->m;
    int rc;
    for (; l < m->layers; l++) {
        if (m->attn.kind != AIMC_ATTN_NONE &&
            ((rc = aimc_wl_attention(m, l, 1, &ph[*np], e->d)) ||
             (rc = batch_add(b, &ph[(*np)++], e->lt, NULL))))
            return rc;
        if (l < m->dense_layers) {
            if ((rc = aimc_wl_dense(m, l, 1, &ph[*np], e->d)) ||
                (rc = batch_add(b, &ph[(*np)++], e->lt, NULL)))
                return rc;
            continue;
        }
        if ((rc = aimc_wl_route(m, l, 1, &ph[*np], e->d)) ||
            (rc = batch_add(b, &ph[(*np)++], e->lt, NULL)))
            return rc;
        return l;
    }
    if (aimc_model_head(m) >= 0 &&
        ((rc = aimc_wl_head(m, 1, &ph[*np], e->d)) || (rc = batch_add(b, &ph[(*np)++], e->lt, NULL))))
        return rc;
    return m->layers;
}

int aimc_map_estimate_token(const aimc_arch *arch, const aimc_model *model,
                            const aimc_plan *plan, const int *experts,
                            const aimc_routing *routing, aimc_map_estimate *out, aimc_diag *d)
{
    return aimc_map_estimate_token_at(arch, model, plan, experts, routing, 0, out, d);
}

int aimc_map_estimate_token_at(const aimc_arch *arch, const aimc_model *model,
                               const aimc_plan *plan, const int *experts,
                               const aimc_routing *routing, uint32_t position,
                               aimc_map_estimate *out, aimc_diag *d)
{
    if (!arch || !model || !plan || !out)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_map_estimate_token: NULL argument");
    memset(out, 0, sizeof *out);
    if (model->attn.kind != AIMC_ATTN_NONE && position >= 65536)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: position %u: at most 65536 positions "
                             "in the KV cache", model->name, position);
    const int ne = model->n_experts, k = model->top_k, ns = model->n_shared;
    const int moe = model->layers - model->dense_layers;
    if (routing && (routing->layers != moe || routing->experts != ne || !routing->p))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "%s: routing statistics of %d layers x %d "
                             "experts for a model of %d MoE layers x %d experts",
                             model->name, routing->layers, routing->experts, moe, ne);
    if (experts)
        for (int i = 0; i < moe * k; i++)
            if (experts[i] < 0 || experts[i] >= ne)
                return aimc_diag_set(d, AIMC_ERR_INVALID, "%s: expert %d of the token's choices "
                                     "is not one of the %d experts", model->name, experts[i], ne);
    est_ctx e = {arch, model, plan, NULL, NULL, {0}, 0, 0, position, NULL, NULL, d};
    est_batch_t b = {0};
    est_tensor lt[AIMC_WL_NONE];
    memset(lt, 0, sizeof lt);
    const size_t n_et = (size_t)(k + ns > 0 ? k + ns : 1) * AIMC_WL_NONE;
    const size_t n_ph = (size_t)(k + ns) + 2 * (size_t)model->layers + 2;
    int rc = AIMC_OK;
    int *pick = malloc((size_t)(k > 0 ? k : 1) * sizeof *pick);
    unsigned char *taken = calloc((size_t)(ne > 0 ? ne : 1), 1);
    aimc_wl_phase *ph = malloc(n_ph * sizeof *ph);
    est_tensor *et = calloc(n_et, sizeof *et);
    e.mvm = calloc(model->n_matrices ? model->n_matrices : 1, sizeof *e.mvm);
    e.run_first = malloc((model->n_matrices ? model->n_matrices : 1) * sizeof *e.run_first);
    e.cache_fin = calloc((size_t)(model->layers > 0 ? model->layers : 1), sizeof *e.cache_fin);
    e.lt = lt;
    if (!pick || !taken || !ph || !et || !e.mvm || !e.run_first || !e.cache_fin) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "estimate: out of memory");
        goto out;
    }
    for (size_t i = 0; i < model->n_matrices; i++) e.run_first[i] = plan->n_runs;
    for (size_t r = plan->n_runs; r-- > 0;)
        if (plan->runs[r].replica == 0) e.run_first[plan->runs[r].matrix] = r;

    /* The token's tensors: X comes from host memory (a language model's token as its
     * embedding row, which the host looks up and writes, as the runtime does). */
    for (int i = 0; i < AIMC_WL_NONE; i++)
        if (ten_reset(&lt[i], (aimc_loc){AIMC_LOC_HOST, 0}, 0)) {
            rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "estimate: out of memory");
            goto out;
        }
    uint64_t retire_topk = 0;
    int np = 0;
    int l = est_advance(&e, &b, ph, &np, 0);
    if (l < 0) {
        rc = l;
        goto out;
    }
    if ((rc = est_run(&e, &b, 0, &retire_topk))) goto out;
    while (l < model->layers) {
        /* The host sees the routing when it completes, then issues every active expert's
         * steps and the next layers' steps up to the next route (or the head) at once. */
        const uint64_t issue = retire_topk;
        const int ml = l - model->dense_layers;
        for (int j = 0; j < k; j++) pick[j] = j;
        if (experts) {
            memcpy(pick, experts + (size_t)ml * (size_t)k, (size_t)k * sizeof *pick);
        } else if (routing) {
            memset(taken, 0, (size_t)ne);
            for (int j = 0; j < k; j++) { /* the k most probable, the lower index on a tie */
                int best = -1;
                for (int x = 0; x < ne; x++)
                    if (!taken[x] && (best < 0 || routing->p[(size_t)ml * ne + x] >
                                                      routing->p[(size_t)ml * ne + best]))
                        best = x;
                taken[best] = 1;
                pick[j] = best;
            }
        }
        /* The workload's order (aimc_workload.h): ascending expert index. */
        for (int j = 1; j < k; j++)
            for (int q = j; q > 0 && pick[q - 1] > pick[q]; q--) {
                const int t = pick[q];
                pick[q] = pick[q - 1];
                pick[q - 1] = t;
            }
        b.n = 0;
        np = 0;
        for (int j = 0; j < k + ns; j++) {
            const int ex = j < k ? pick[j] : ne + (j - k);
            if ((rc = aimc_wl_expert(model, l, ex, 1, 1, &ph[np], d))) goto out;
            /* its own buffers, its token list and weights written by the host at issue */
            est_tensor *mine = et + (size_t)j * AIMC_WL_NONE;
            for (int i = 0; i < AIMC_WL_NONE; i++)
                if (ten_reset(&mine[i], (aimc_loc){AIMC_LOC_HOST, 0}, issue)) {
                    rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "estimate: out of memory");
                    goto out;
                }
            if ((rc = batch_add(&b, &ph[np], lt, mine))) goto out;
            np++;
        }
        if ((l = est_advance(&e, &b, ph, &np, l + 1)) < 0) {
            rc = l;
            goto out;
        }
        if ((rc = est_run(&e, &b, issue, &retire_topk))) goto out;
    }
    out->latency_cycles = e.last_retire;
    out->latency_ns = aimc_cost_ns(arch, (double)e.last_retire);
    aimc_cost_energy(arch, &e.ev, out->energy_pj);
    for (int p = 0; p < AIMC_PART_COUNT; p++) out->energy_pj_total += out->energy_pj[p];
    out->commands = e.commands;
out:
    if (rc == AIMC_ERR_NOMEM) aimc_diag_set(d, rc, "estimate: out of memory");
    if (e.mvm)
        for (size_t i = 0; i < model->n_matrices; i++) aimc_cost_mvm_free(e.mvm[i]);
    free(e.mvm);
    free(e.run_first);
    free(e.cache_fin);
    for (int i = 0; i < AIMC_WL_NONE; i++) free(lt[i].s);
    if (et)
        for (size_t i = 0; i < n_et; i++) free(et[i].s);
    free(pick);
    free(taken);
    free(ph);
    free(et);
    free(b.st);
    free(b.ts);
    return rc;
}
