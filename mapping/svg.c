/* svg.c - a picture of a plan: chips as grids of cores, cores as grids of crossbars, each
 * crossbar coloured by the layer and expert of its first tile (docs/mapping.md, "Picture").
 */
#include "map_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SVG_MAX_CELLS (1u << 18) /* drawn units; above this, one square per core, then chip */
#define SVG_MAX_CHIPS 64

/* Owner of a crossbar: matrix index + 1, 0 = empty. */
static void hsl_rgb(double h, double s, double l, int *r, int *g, int *b)
{
    double c = (1 - fabs(2 * l - 1)) * s, hp = fmod(h, 360.0) / 60.0;
    double x = c * (1 - fabs(fmod(hp, 2.0) - 1)), m = l - c / 2, rr = 0, gg = 0, bb = 0;
    if (hp < 1) rr = c, gg = x;
    else if (hp < 2) rr = x, gg = c;
    else if (hp < 3) gg = c, bb = x;
    else if (hp < 4) gg = x, bb = c;
    else if (hp < 5) rr = x, bb = c;
    else rr = c, bb = x;
    *r = (int)lround((rr + m) * 255);
    *g = (int)lround((gg + m) * 255);
    *b = (int)lround((bb + m) * 255);
}

/* Hue by expert (golden angle), lightness by layer; routers grey, dense and shared dark. */
static void colour(const aimc_model *m, const aimc_matrix *mx, char *out, size_t cap)
{
    int r, g, b;
    double lf = m->layers > 1 ? (double)mx->layer / (m->layers - 1) : 0.5;
    if (mx->expert == AIMC_EXPERT_ROUTER) {
        int v = (int)lround(90 + 120 * lf);
        r = g = b = v;
    } else if (mx->expert < 0 || mx->expert >= m->n_experts) {
        hsl_rgb(20.0 + 40.0 * lf, 0.25, 0.25 + 0.2 * lf, &r, &g, &b);
    } else {
        hsl_rgb(fmod(mx->expert * 137.508, 360.0), 0.75, 0.30 + 0.45 * lf, &r, &g, &b);
    }
    snprintf(out, cap, "#%02x%02x%02x", r, g, b);
}

int aimc_plan_svg(const aimc_plan *plan, const aimc_arch *arch, const aimc_model *model,
                  const char *path, aimc_diag *d)
{
    if (!plan || !arch || !model || !path)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_plan_svg: NULL argument");
    const uint64_t T = (uint64_t)plan->tiers;
    const uint64_t xpc = (uint64_t)arch->hierarchy.crossbars_per_core, cpc = (uint64_t)arch->hierarchy.cores_per_chip;
    const uint64_t per_core = xpc * T, per_chip = per_core * cpc;
    uint64_t chips = plan->chips > 0 ? (uint64_t)plan->chips : 1;
    int clipped = chips > SVG_MAX_CHIPS;
    if (clipped) chips = SVG_MAX_CHIPS;
    /* Units drawn: crossbar sites, else cores. */
    int per_core_only = chips * cpc * xpc > SVG_MAX_CELLS;
    uint64_t unit = per_core_only ? per_core : T; /* arrays per drawn square */
    uint64_t n_units = chips * per_chip / unit;
    uint32_t *own = calloc(n_units ? n_units : 1, sizeof *own);
    if (!own) return aimc_diag_set(d, AIMC_ERR_NOMEM, "aimc_plan_svg: out of memory");
    const uint32_t cols = (uint32_t)arch->crossbar.cols;
    for (size_t k = 0; k < plan->n_runs; k++) {
        const aimc_run *r = &plan->runs[k];
        uint32_t kk = cols / r->width, f = (cols - r->col0) / r->width;
        uint64_t nx = r->n <= f ? 1 : 2 + (r->n - f - 1) / kk;
        for (uint64_t i = 0; i < nx; i++) {
            uint64_t x = r->xbar0 + r->stride * i, u = x / unit;
            if (u >= n_units) break;
            if (!own[u]) own[u] = r->matrix + 1;
        }
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        free(own);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    /* Layout: cores in a square-ish grid (the mesh of docs/mapping.md), crossbars of a core
     * in a square-ish grid inside it, chips in rows of up to 8. */
    uint32_t gw = 1, xw = 1;
    while ((uint64_t)gw * gw < cpc) gw++;
    while ((uint64_t)xw * xw < xpc) xw++;
    uint32_t gh = (uint32_t)((cpc + gw - 1) / gw), xh = (uint32_t)((xpc + xw - 1) / xw);
    double cell = per_core_only ? 8.0 : (xw > 8 ? 3.0 : 6.0);
    double core_w = per_core_only ? cell : xw * cell + 2, core_h = per_core_only ? cell : xh * cell + 2;
    double chip_w = gw * (core_w + 1) + 10, chip_h = gh * (core_h + 1) + 24;
    uint32_t per_row = chips < 8 ? (uint32_t)chips : 8;
    uint64_t rows = (chips + per_row - 1) / per_row;
    double W = per_row * chip_w + 20, H = rows * chip_h + 70;
    if (W < 820) W = 820; /* room for the title and the legend */
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "font-family=\"sans-serif\" font-size=\"11\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"10\" y=\"16\" font-size=\"13\">%s: %llu of %ld crossbars on %d chip(s), "
            "strategy %s%s</text>\n"
            "<text x=\"10\" y=\"32\" fill=\"#444\">colour: hue = routed expert, lighter = later "
            "layer; grey = router; brown = shared or dense; white = empty%s</text>\n",
            W, H, model->name, (unsigned long long)plan->xbars_used, plan->xbars_total,
            plan->chips,
            (const char *[]){"pack", "locality", "balance", "replicate", "tiered"}[plan->strategy],
            clipped ? " (first 64 chips drawn)" : "",
            per_core_only ? "; one square per core (first tile's owner)" : "");
    char col[16];
    for (uint64_t ch = 0; ch < chips; ch++) {
        double cx = 10 + (double)(ch % per_row) * chip_w, cy = 45 + (double)(ch / per_row) * chip_h;
        fprintf(f, "<g><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                   "stroke=\"#888\"/>\n<text x=\"%.1f\" y=\"%.1f\">chip %llu</text>\n",
                cx, cy, chip_w - 6, chip_h - 6, cx + 3, cy + 13, (unsigned long long)ch);
        for (uint64_t c = 0; c < cpc; c++) {
            double ox = cx + 3 + (double)(c % gw) * (core_w + 1);
            double oy = cy + 18 + (double)(c / gw) * (core_h + 1);
            if (per_core_only) {
                uint64_t u = ch * cpc + c;
                if (own[u]) colour(model, &model->m[own[u] - 1], col, sizeof col);
                else snprintf(col, sizeof col, "#ffffff");
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                           "stroke=\"#ddd\" stroke-width=\"0.3\"/>\n",
                        ox, oy, cell, cell, col);
                continue;
            }
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#f4f4f4\"/>\n",
                    ox, oy, core_w, core_h);
            for (uint64_t x = 0; x < xpc; x++) {
                uint64_t u = (ch * cpc + c) * xpc + x;
                if (!own[u]) continue;
                colour(model, &model->m[own[u] - 1], col, sizeof col);
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                           "<title>%s</title></rect>\n",
                        ox + 1 + (double)(x % xw) * cell, oy + 1 + (double)(x / xw) * cell,
                        cell - 0.5, cell - 0.5, col, model->m[own[u] - 1].name);
            }
        }
        fprintf(f, "</g>\n");
    }
    fprintf(f, "</svg>\n");
    free(own);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return AIMC_OK;
}
