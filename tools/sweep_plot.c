/* sweep_plot.c - an SVG scatter plot of a sweep: metric plot_y against plot_x for every
 * error-free point, coloured by one varied dimension, the Pareto front ringed and (for two
 * objectives on the plot's axes) joined by its staircase. Axes are logarithmic when the
 * values are positive and span more than a factor of 30. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sweep.h"

#define W 800.0
#define H 520.0
#define PL 96.0   /* plot area: left, right, top, bottom edges */
#define PR 600.0
#define PT 56.0
#define PB 450.0
#define LOG_SPAN 30.0
#define MAX_TICKS 24

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define N_PALETTE (sizeof palette / sizeof palette[0])

typedef struct axis {
    int log;
    double lo, hi;          /* data range after padding (log10 units when log) */
    double ticks[MAX_TICKS];
    int n_ticks;
} axis;

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void axis_make(axis *a, double lo, double hi)
{
    a->log = lo > 0 && hi / lo > LOG_SPAN;
    a->n_ticks = 0;
    if (a->log) {
        double l = log10(lo), h = log10(hi), pad = 0.05 * (h - l);
        a->lo = l - pad;
        a->hi = h + pad;
        int few = h - l < 2.5;
        for (int e = (int)floor(a->lo); e <= (int)ceil(a->hi); e++) {
            static const double mult[] = {1, 2, 5};
            for (int k = 0; k < (few ? 3 : 1); k++) {
                double t = log10(mult[k]) + e;
                if (t >= a->lo && t <= a->hi && a->n_ticks < MAX_TICKS) a->ticks[a->n_ticks++] = t;
            }
        }
        return;
    }
    if (hi == lo) {
        double w = lo != 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= w;
        hi += w;
    }
    double pad = 0.05 * (hi - lo);
    a->lo = lo - pad;
    a->hi = hi + pad;
    double raw = (a->hi - a->lo) / 6.0, mag = pow(10, floor(log10(raw))), step = mag;
    if (raw / mag > 5) step = 10 * mag;
    else if (raw / mag > 2) step = 5 * mag;
    else if (raw / mag > 1) step = 2 * mag;
    for (double t = ceil(a->lo / step) * step; t <= a->hi && a->n_ticks < MAX_TICKS; t += step)
        a->ticks[a->n_ticks++] = fabs(t) < 1e-9 * step ? 0.0 : t;
}

static double axis_pos(const axis *a, double v, double p0, double p1)
{
    double x = a->log ? log10(v) : v;
    return p0 + (x - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

/* Plain numbers, or "1.2e6" (not "1.2e+06") for large and small ones. */
static void tick_label(const axis *a, double t, char *buf, size_t cap)
{
    double v = a->log ? pow(10, t) : t, m = fabs(v);
    if (v == 0 || (m >= 1e-3 && m < 1e5)) {
        snprintf(buf, cap, "%.6g", v);
        return;
    }
    int e = (int)floor(log10(m));
    double mant = v / pow(10, e);
    if (fabs(mant) >= 9.9995) mant /= 10, e++;
    snprintf(buf, cap, "%.4ge%d", mant, e);
}

static void axis_title(const sweep_metric *m, char *buf, size_t cap)
{
    if (!strcmp(m->unit, "1"))
        snprintf(buf, cap, "%s (%s)", m->label, m->name);
    else
        snprintf(buf, cap, "%s [%s] (%s)", m->label, m->unit, m->name);
}

typedef struct pt {
    double x, y;
    uint64_t i;
} pt;

static int cmp_x(const void *a, const void *b)
{
    const pt *p = a, *q = b;
    return p->x < q->x ? -1 : p->x > q->x ? 1 : (p->y < q->y ? -1 : p->y > q->y);
}

int sweep_write_svg(const sweep_spec *s, const sweep_results *r, const char *path,
                    aimc_diag *d)
{
    if (s->n_metrics < 2 || s->plot_x == s->plot_y)
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%s: a plot needs two different metrics (plot.x, plot.y)", s->path);
    size_t nm = r->n_metrics, mx = (size_t)s->plot_x, my = (size_t)s->plot_y;
    const sweep_metric *xm = sweep_metric_at((size_t)s->metrics[mx]);
    const sweep_metric *ym = sweep_metric_at((size_t)s->metrics[my]);
    pt *pts = malloc(((size_t)r->n_points + 1) * sizeof *pts);
    if (!pts) return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    size_t n = 0, n_front = 0;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (uint64_t i = 0; i < r->n_points; i++) {
        if (!r->done[i] || !r->ok[i]) continue;
        double x = r->m[i * nm + mx], y = r->m[i * nm + my];
        if (!isfinite(x) || !isfinite(y)) continue;
        pts[n++] = (pt){x, y, i};
        x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
        n_front += r->pareto[i];
    }
    axis ax, ay;
    if (n == 0) x0 = x1 = y0 = y1 = 0;
    axis_make(&ax, x0, x1);
    axis_make(&ay, y0, y1);
    /* log axes need positive values: a point at or below 0 switches that axis to linear */
    if (ax.log && x0 <= 0) ax.log = 0;

    char tmp[SWEEP_PATH_LEN + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(pts);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    }
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
            "viewBox=\"0 0 %g %g\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
            "font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    /* title */
    fprintf(f, "<text x=\"%g\" y=\"26\" font-size=\"15\" font-weight=\"bold\">", PL);
    xml_text(f, s->name);
    fprintf(f, ": %zu points, %zu on the Pareto front</text>\n", n, n_front);
    /* grid, ticks, labels */
    fprintf(f, "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n");
    for (int t = 0; t < ax.n_ticks; t++) {
        double x = PL + (ax.ticks[t] - ax.lo) / (ax.hi - ax.lo) * (PR - PL);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\"/>\n", x, PT, x, PB);
    }
    for (int t = 0; t < ay.n_ticks; t++) {
        double y = PB - (ay.ticks[t] - ay.lo) / (ay.hi - ay.lo) * (PB - PT);
        fprintf(f, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\"/>\n", PL, y, PR, y);
    }
    fprintf(f, "</g>\n<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
               "stroke=\"#333\"/>\n",
            PL, PT, PR - PL, PB - PT);
    char lab[160];
    for (int t = 0; t < ax.n_ticks; t++) {
        double x = PL + (ax.ticks[t] - ax.lo) / (ax.hi - ax.lo) * (PR - PL);
        tick_label(&ax, ax.ticks[t], lab, sizeof lab);
        fprintf(f, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", x, PB + 18,
                lab);
    }
    for (int t = 0; t < ay.n_ticks; t++) {
        double y = PB - (ay.ticks[t] - ay.lo) / (ay.hi - ay.lo) * (PB - PT);
        tick_label(&ay, ay.ticks[t], lab, sizeof lab);
        fprintf(f, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", PL - 6, y + 4,
                lab);
    }
    axis_title(xm, lab, sizeof lab);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\" font-size=\"13\">",
            (PL + PR) / 2, PB + 44);
    xml_text(f, lab);
    fprintf(f, "%s</text>\n", ax.log ? ", log scale" : "");
    axis_title(ym, lab, sizeof lab);
    fprintf(f, "<text transform=\"translate(%g %g) rotate(-90)\" text-anchor=\"middle\" "
               "font-size=\"13\">",
            PL - 62, (PT + PB) / 2);
    xml_text(f, lab);
    fprintf(f, "%s</text>\n", ay.log ? ", log scale" : "");

    /* the front's staircase, when the plot's axes are the two objectives */
    int stair = s->n_objectives == 2 && ((s->obj[0] == s->plot_x && s->obj[1] == s->plot_y) ||
                                         (s->obj[1] == s->plot_x && s->obj[0] == s->plot_y));
    if (stair && n_front > 1) {
        pt *fr = malloc(n_front * sizeof *fr);
        if (fr) {
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (r->pareto[pts[i].i]) fr[k++] = pts[i];
            qsort(fr, k, sizeof *fr, cmp_x);
            fprintf(f, "<polyline fill=\"none\" stroke=\"#222\" stroke-width=\"1.5\" "
                       "stroke-dasharray=\"5 3\" points=\"");
            for (size_t i = 0; i < k; i++)
                fprintf(f, "%.1f,%.1f ", axis_pos(&ax, fr[i].x, PL, PR),
                        axis_pos(&ay, fr[i].y, PB, PT));
            fprintf(f, "\"/>\n");
            free(fr);
        }
    }
    /* points: the others first, the front on top */
    sweep_point p;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            int front = r->pareto[pts[i].i];
            if (front != pass) continue;
            sweep_point_get(s, pts[i].i, &p);
            const char *col = s->plot_color >= 0
                                  ? palette[p.dim_value[s->plot_color] % N_PALETTE]
                                  : (front ? "#d62728" : "#1f77b4");
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%g\" fill=\"%s\" %s>",
                    axis_pos(&ax, pts[i].x, PL, PR), axis_pos(&ay, pts[i].y, PB, PT),
                    front ? 6.0 : 4.5, col,
                    front ? "stroke=\"black\" stroke-width=\"2\""
                          : "fill-opacity=\"0.6\" stroke=\"none\"");
            fprintf(f, "<title>point %llu:", (unsigned long long)pts[i].i);
            for (size_t c = 0; c < p.n; c++) {
                fputc(' ', f);
                xml_text(f, sweep_value_column(s, c));
                fputc('=', f);
                xml_text(f, p.vals[c]);
            }
            fprintf(f, "; %s %.6g, %s %.6g</title></circle>\n", xm->name, pts[i].x, ym->name,
                    pts[i].y);
        }
    }
    /* legend */
    double ly = PT + 8;
    if (s->plot_color >= 0) {
        const sweep_dim *dm = &s->dims[s->plot_color];
        /* the dimension's first key names the colours; keys tied to it are listed below */
        fprintf(f, "<text x=\"%g\" y=\"%.1f\" font-weight=\"bold\">", PR + 20, ly);
        xml_text(f, dm->keys[0]);
        fprintf(f, "</text>\n");
        for (int k = 1; k < dm->n_keys; k++) {
            ly += 13;
            fprintf(f, "<text x=\"%g\" y=\"%.1f\" font-size=\"10\">with ", PR + 20, ly);
            xml_text(f, dm->keys[k]);
            fprintf(f, "</text>\n");
        }
        ly += 20;
        for (size_t v = 0; v < dm->n_values && v < 24; v++, ly += 18) {
            fprintf(f, "<circle cx=\"%g\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", PR + 26, ly - 4,
                    palette[v % N_PALETTE]);
            fprintf(f, "<text x=\"%g\" y=\"%.1f\">", PR + 38, ly);
            xml_text(f, dm->values[v * (size_t)dm->n_keys]);
            fprintf(f, "</text>\n");
        }
        ly += 10;
    }
    fprintf(f, "<circle cx=\"%g\" cy=\"%.1f\" r=\"6\" fill=\"white\" stroke=\"black\" "
               "stroke-width=\"2\"/>\n<text x=\"%g\" y=\"%.1f\">Pareto front",
            PR + 26, ly - 4, PR + 38, ly);
    fprintf(f, "</text>\n");
    for (size_t j = 0; j < s->n_objectives; j++)
        fprintf(f, "<text x=\"%g\" y=\"%.1f\" font-size=\"10\">%s %s</text>\n", PR + 38,
                ly + 15 * (double)(j + 1), s->obj_max[j] ? "max" : "min",
                sweep_metric_at((size_t)s->metrics[s->obj[j]])->name);
    fprintf(f, "</svg>\n");
    free(pts);
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return AIMC_OK;
}
