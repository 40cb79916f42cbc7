/* estimate.c - a plan's summary under routing statistics: crossbar and cell use, per-core
 * load, partial-sum hops on the mesh, tier conflicts, and the analytical latency and energy
 * per token from the simulator's closed-form tile cost (sim/cost/aimc_cost.h; docs/mapping.md).
 */
#include "map_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_cost.h"

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
    const uint32_t cols = (uint32_t)arch->crossbar.cols, P = (uint32_t)aimc_arch_cols_per_weight(arch);
    const uint32_t L = (uint32_t)aimc_arch_logical_cols(arch), R = (uint32_t)arch->crossbar.rows;
    const uint64_t n_cores = plan->xbars_span ? (plan->xbars_span + per_core - 1) / per_core : 1;
    uint32_t gw = 1;
    while ((uint64_t)gw * gw < cpc) gw++;

    float *load = calloc(n_cores, sizeof *load);
    uint64_t *home = NULL;   /* per column block: chip << 32 | gy << 16 | gx of its home core */
    uint32_t *gxy = malloc(cpc * sizeof *gxy); /* core in chip -> gy << 16 | gx */
    if (gxy)
        for (uint64_t c = 0; c < cpc; c++) gxy[c] = (uint32_t)((c / gw) << 16 | (c % gw));
    double *mat_hops_ns = calloc(model->n_matrices ? model->n_matrices : 1, sizeof *mat_hops_ns);
    double *mat_ns = calloc(model->n_matrices ? model->n_matrices : 1, sizeof *mat_ns);
    double *layer_conf = calloc((size_t)model->layers, sizeof *layer_conf);
    if (!load || !gxy || !mat_hops_ns || !mat_ns || !layer_conf) goto nomem;
    size_t home_cap = 0;

    aimc_activity act;
    aimc_activity_peak(arch, &act);
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
        uint32_t ncols = ru->width / P;
        aimc_tile_cost tc;
        aimc_cost_tile(arch, R, ncols, &act, &tc);
        /* Time of the busiest crossbar of the run: tiles side by side share its ADCs. */
        uint32_t kk = cols / ru->width, f = (cols - ru->col0) / ru->width;
        uint32_t per_x = ru->n < (f > kk ? f : kk) ? ru->n : (f > kk ? f : kk);
        /* A site runs one tier at a time: a run along consecutive arrays (stride 1) puts up
         * to T of its crossbars on one site, and they take turns. */
        uint64_t per_site = per_x;
        if (T > 1 && ru->stride % T != 0) {
            per_site = (uint64_t)per_x * T;
            if (per_site > ru->n) per_site = ru->n;
        }
        if (per_site * tc.analog_ns > mat_ns[ru->matrix])
            mat_ns[ru->matrix] = (double)per_site * tc.analog_ns;
        /* Walk the tiles: position, core, chip incrementally. */
        uint32_t t = ru->tile0, s_i = t % S, c_i = (t / S) % cb, b_i = t / (S * cb);
        uint64_t x = ru->xbar0;
        uint32_t c = ru->col0;
        uint64_t core = x / per_core, xin = x % per_core;
        uint64_t chip = core / cpc, cin = core % cpc;
        uint32_t maxh = 0;
        int cross = 0;
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
                cross = 1;
                s->energy_noc_pj += pm * ncols * arch->mapping.chip_link_energy_pj;
            }
            if (h > maxh) maxh = h;
            hop_sum += h;
            s->energy_noc_pj += pm * ncols * h * arch->mapping.noc_hop_energy_pj;
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
        double hns = maxh * arch->mapping.noc_hop_ns + (cross ? arch->mapping.chip_link_ns : 0);
        if (hns > mat_hops_ns[ru->matrix]) mat_hops_ns[ru->matrix] = hns;
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

    /* Energy: every tile of every active matrix once per token (replicas share the work). */
    double energy = 0;
    for (size_t i = 0; i < model->n_matrices; i++) {
        const aimc_matrix *mx = &model->m[i];
        uint32_t rb, cb, S;
        aimc_map_blocks(arch, mx, &rb, &cb, &S);
        uint32_t lr = mx->rows - (rb - 1) * R, lc = mx->cols - (cb - 1) * L;
        double e = 0;
        for (int bt = 0; bt < 2; bt++)
            for (int ct = 0; ct < 2; ct++) {
                double nb = bt ? 1 : rb - 1, nc = ct ? 1 : cb - 1;
                if (nb <= 0 || nc <= 0) continue;
                aimc_tile_cost tc;
                aimc_cost_tile(arch, bt ? lr : R, ct ? lc : L, &act, &tc);
                double et = 0;
                for (int q = 0; q < AIMC_COMP_COUNT; q++) et += tc.energy_pj[q];
                e += nb * nc * S * et;
            }
        energy += matrix_p(model, routing, mx) * e;
    }
    s->energy_pj = energy + s->energy_noc_pj;

    /* Latency: layers in sequence; a layer is its router, then its slowest active expert
     * (gate and up in parallel, then down, then the partial sums' hops), plus one expert
     * time per expected tier conflict. */
    double lat = 0;
    for (size_t i = 0; i < model->n_matrices;) {
        int l = model->m[i].layer;
        double t_router = 0, t_max = 0, t_sum = 0;
        int n_routed = 0;
        size_t j = i;
        while (j < model->n_matrices && model->m[j].layer == l) {
            const aimc_matrix *mx = &model->m[j];
            if (mx->kind == AIMC_MAT_ROUTER) {
                t_router = mat_ns[j] + mat_hops_ns[j];
                j++;
                continue;
            }
            /* gate, up, down of one group */
            double tg = 0;
            size_t g0 = j;
            while (j < model->n_matrices && model->m[j].layer == l &&
                   model->m[j].expert == mx->expert && model->m[j].kind != AIMC_MAT_ROUTER) {
                double tm = mat_ns[j] + mat_hops_ns[j];
                if (model->m[j].kind == AIMC_MAT_DOWN) tg += tm;
                else if (tm > tg) tg = tm;
                j++;
            }
            if (matrix_p(model, routing, &model->m[g0]) > 0 && tg > t_max) t_max = tg;
            if (mx->expert >= 0 && mx->expert < model->n_experts) {
                t_sum += tg;
                n_routed++;
            }
        }
        double conf = layer_conf[l];
        s->tier_conflicts += conf;
        lat += t_router + t_max + (n_routed ? conf * t_sum / n_routed : 0);
        i = j;
    }
    s->latency_ns = lat;
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
    free(mat_hops_ns);
    free(mat_ns);
    free(layer_conf);
    aimc_routing_free(own);
    return rc;
}
