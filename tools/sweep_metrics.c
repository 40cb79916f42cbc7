/* sweep_metrics.c - the one table of what a sweep can record per point: name, unit, axis
 * label, meaning and how to get it from the run's report, the plan and the peak figures.
 * A new metric is one row here and one row in docs/dse.md. */
#include <math.h>
#include <string.h>

#include "aimc_cost.h"
#include "cli.h"
#include "sweep.h"

/* Declared in cli.h: what `aimc run` reports and a sweep records. */
void cli_run_figures(const aimc_arch *a, const aimc_rt_report *r, cli_figures *f)
{
    memset(f, 0, sizeof *f);
    const double tokens = r->tokens ? (double)r->tokens : 1.0;
    f->makespan_ns = aimc_cost_ns(a, (double)r->makespan_cycles);
    f->first_ns = aimc_cost_ns(a, (double)r->first_cycles);
    /* Steady state: between the quarter and three-quarter completions (the runtime's marks),
     * else after the first group, else the run. */
    const double after = tokens - (double)r->first_tokens;
    if (r->steady_tokens > 0) {
        f->token_ns = aimc_cost_ns(a, (double)r->steady_cycles) / (double)r->steady_tokens;
        f->token_ns_sem = r->steady_intervals > 1
                              ? aimc_cost_ns(a, r->steady_sd_cycles) /
                                    sqrt((double)r->steady_intervals)
                              : 0.0;
    } else {
        f->token_ns = r->groups > 1 && after > 0 ? (f->makespan_ns - f->first_ns) / after
                                                 : f->makespan_ns / tokens;
    }
    f->tokens_per_s = f->token_ns > 0 ? 1e9 / f->token_ns : 0.0;
    aimc_cost_powered on = r->powered;
    if (on.chips <= 0) aimc_cost_powered_chips(a, (double)a->hierarchy.chips, &on);
    double mw[AIMC_PART_COUNT];
    aimc_cost_static_mw(a, &on, mw);
    for (int p = 0; p < AIMC_PART_COUNT; p++) {
        f->dyn_pj[p] = r->cost.energy_pj[p];
        f->static_pj[p] = mw[p] * f->makespan_ns;
        f->tok_dyn_pj[p] = f->dyn_pj[p] / tokens;
        f->tok_static_pj[p] = mw[p] * f->token_ns;
        f->dyn_total_pj += f->dyn_pj[p];
        f->static_total_pj += f->static_pj[p];
        f->static_mw += mw[p];
        f->tok_dyn_total_pj += f->tok_dyn_pj[p];
        f->tok_static_total_pj += f->tok_static_pj[p];
    }
    f->tok_pj = f->tok_dyn_total_pj + f->tok_static_total_pj;
    const double ops = 2.0 * (double)r->macs / tokens; /* per token */
    f->tops = f->token_ns > 0 ? ops / f->token_ns * 1e-3 : 0.0;
    f->tops_per_w = f->tok_pj > 0 ? ops / f->tok_pj : 0.0;
}

static void figures(const sweep_measure *m, cli_figures *f) { cli_run_figures(m->arch, m->rep, f); }

static double g_energy(const sweep_measure *m)
{
    cli_figures f;
    figures(m, &f);
    return f.tok_pj;
}
static double g_energy_dyn(const sweep_measure *m)
{
    cli_figures f;
    figures(m, &f);
    return f.tok_dyn_total_pj;
}
static double g_energy_static(const sweep_measure *m)
{
    cli_figures f;
    figures(m, &f);
    return f.tok_static_total_pj;
}
/* A part's energy per token, dynamic + static. */
#define PART_GETTER(name, part)                                                                   \
    static double name(const sweep_measure *m)                                                    \
    {                                                                                             \
        cli_figures f;                                                                            \
        figures(m, &f);                                                                           \
        return f.tok_dyn_pj[part] + f.tok_static_pj[part];                                        \
    }
PART_GETTER(g_e_dac, AIMC_PART_DAC)
PART_GETTER(g_e_xbar, AIMC_PART_XBAR)
PART_GETTER(g_e_adc, AIMC_PART_ADC)
PART_GETTER(g_e_digital, AIMC_PART_DIGITAL)
PART_GETTER(g_e_buffer, AIMC_PART_BUFFER)
PART_GETTER(g_e_bus, AIMC_PART_BUS)
PART_GETTER(g_e_noc, AIMC_PART_NOC)
PART_GETTER(g_e_units, AIMC_PART_UNITS)
PART_GETTER(g_e_link, AIMC_PART_CHIP_LINK)
PART_GETTER(g_e_host, AIMC_PART_HOST_DMA)
static double g_time(const sweep_measure *m)
{
    cli_figures f;
    figures(m, &f);
    return f.token_ns;
}
static double g_first(const sweep_measure *m)
{
    cli_figures f;
    figures(m, &f);
    return f.first_ns;
}
static double g_makespan(const sweep_measure *m)
{
    cli_figures f;
    figures(m, &f);
    return f.makespan_ns;
}
static double g_tokens_per_s(const sweep_measure *m)
{
    cli_figures f;
    figures(m, &f);
    return f.tokens_per_s;
}
static double g_achieved_tops(const sweep_measure *m)
{
    cli_figures f;
    figures(m, &f);
    return f.tops;
}
static double g_achieved_tops_w(const sweep_measure *m)
{
    cli_figures f;
    figures(m, &f);
    return f.tops_per_w;
}
static double g_deploy_time(const sweep_measure *m) { return m->deploy ? m->deploy->time_ns : NAN; }
static double g_deploy_energy(const sweep_measure *m)
{
    if (!m->deploy) return NAN;
    double e = 0;
    for (int p = 0; p < AIMC_PART_COUNT; p++) e += m->deploy->energy_pj[p];
    return e;
}
static double g_error(const sweep_measure *m) { return m->rep->rel_rms_error; }
static double g_routing(const sweep_measure *m) { return m->rep->routing_agreement; }
static double g_sat(const sweep_measure *m) { return (double)m->rep->cost.adc_saturations; }
static double g_sat_rate(const sweep_measure *m)
{
    uint64_t c = m->rep->cost.adc_conversions;
    return c ? (double)m->rep->cost.adc_saturations / (double)c : 0.0;
}
static double g_xbars(const sweep_measure *m) { return (double)m->plan->xbars_used; }
static double g_cells(const sweep_measure *m)
{
    return (double)m->plan->cells_used / (double)m->plan->cells_total;
}
static double g_chip_area(const sweep_measure *m) { return m->peak->chip_area_mm2; }
static double g_area(const sweep_measure *m) { return m->peak->area_mm2; }
static double g_chip_power(const sweep_measure *m) { return m->peak->chip_power_w; }
static double g_tops(const sweep_measure *m) { return m->peak->tops; }
static double g_tops_w(const sweep_measure *m) { return m->peak->tops_per_w; }
static double g_tops_mm2(const sweep_measure *m) { return m->peak->tops_per_mm2; }
/* A classifier's accuracy; NaN (an empty cell) for models that are not classifiers. */
static double g_acc_hw(const sweep_measure *m)
{
    return m->rep->classified ? m->rep->accuracy_hw : NAN;
}
static double g_acc_float(const sweep_measure *m)
{
    return m->rep->classified ? m->rep->accuracy_float : NAN;
}
static double g_verify_failed(const sweep_measure *m)
{
    const aimc_weights_report *p = &m->rep->program;
    return p->devices ? (double)p->devices_failed / (double)p->devices : 0.0;
}
static double g_pulses(const sweep_measure *m) { return (double)m->rep->program.pulses; }
/* The ADC's dynamic energy per conversion in the run (the device's counters). */
static double g_adc_pj(const sweep_measure *m)
{
    const uint64_t c = m->rep->cost.adc_conversions;
    return c ? m->rep->cost.energy_pj[AIMC_PART_ADC] / (double)c : NAN;
}
static double g_adc_ns(const sweep_measure *m) { return aimc_cost_adc_conversion_ns(m->arch); }
static double g_adc_um2(const sweep_measure *m) { return aimc_cost_adc_area_um2(m->arch); }

static const sweep_metric metrics[] = {
    {"energy_pj_per_token", "pJ", "energy per token",
     "dynamic (the device's counters / tokens) + static (what is powered x the steady-state "
     "time per token), every part", g_energy},
    {"energy_pj_per_token_dynamic", "pJ", "dynamic energy per token",
     "the device's energy counters of the inference divided by the tokens", g_energy_dyn},
    {"energy_pj_per_token_static", "pJ", "static energy per token",
     "the leakage of what is powered (power.gating) over the steady-state time per token",
     g_energy_static},
    {"energy_pj_per_token_dac", "pJ", "DAC energy per token", "DAC drives and row-driver leakage",
     g_e_dac},
    {"energy_pj_per_token_xbar", "pJ", "crossbar energy per token", "the arrays' read charge",
     g_e_xbar},
    {"energy_pj_per_token_adc", "pJ", "ADC energy per token", "conversions and ADC leakage",
     g_e_adc},
    {"energy_pj_per_token_digital", "pJ", "digital energy per token",
     "the cores' shift-and-add and their leakage", g_e_digital},
    {"energy_pj_per_token_buffer", "pJ", "buffer energy per token", "accesses and leakage",
     g_e_buffer},
    {"energy_pj_per_token_bus", "pJ", "bus energy per token", "bytes to the cores", g_e_bus},
    {"energy_pj_per_token_noc", "pJ", "NoC energy per token", "byte-hops and router leakage",
     g_e_noc},
    {"energy_pj_per_token_units", "pJ", "units energy per token",
     "the clusters' digital units and their leakage", g_e_units},
    {"energy_pj_per_token_chip_link", "pJ", "chip-link energy per token",
     "bytes over chip links and their leakage", g_e_link},
    {"energy_pj_per_token_host_dma", "pJ", "host-link energy per token",
     "bytes between host memory and the machine", g_e_host},
    {"time_ns_per_token", "ns", "time per token",
     "steady state: between the quarter and three-quarter completions of the run's groups",
     g_time},
    {"first_token_ns", "ns", "first-token latency",
     "device time until the first group of tokens completed every layer", g_first},
    {"makespan_ns", "ns", "makespan", "device time of the whole inference", g_makespan},
    {"tokens_per_s", "1/s", "throughput", "1 / time_ns_per_token", g_tokens_per_s},
    {"achieved_tops", "TOPS", "achieved throughput",
     "2 x the MVMs' multiply-accumulates per token / time per token", g_achieved_tops},
    {"achieved_tops_per_w", "TOPS/W", "achieved energy efficiency",
     "2 x multiply-accumulates per token / energy per token", g_achieved_tops_w},
    {"deploy_time_ns", "ns", "time to program the model",
     "device time of programming every matrix (program-and-verify)", g_deploy_time},
    {"deploy_energy_pj", "pJ", "energy to program the model",
     "pulses and verify reads of programming every matrix", g_deploy_energy},
    {"rel_rms_error", "1", "relative rms output error",
     "sqrt(sum (y - y_ref)^2 / sum y_ref^2) over every layer's block output and token",
     g_error},
    {"routing_agreement", "1", "routing agreement",
     "fraction of (token, layer) whose top-k experts equal the exact reference's", g_routing},
    {"adc_saturations", "events", "ADC saturations", "ADC conversions clamped at the range",
     g_sat},
    {"adc_energy_pj_per_conversion", "pJ", "ADC energy per conversion",
     "the run's ADC dynamic energy / its conversions (adc.energy_pj, or the survey model)",
     g_adc_pj},
    {"adc_conversion_ns", "ns", "ADC conversion time", "adc.conversion_ns or the survey model",
     g_adc_ns},
    {"adc_area_um2", "um^2", "ADC area", "one ADC: adc.area_um2 or the survey model", g_adc_um2},
    {"adc_saturation_rate", "1", "ADC saturation rate", "adc_saturations / ADC conversions",
     g_sat_rate},
    {"crossbars_used", "crossbars", "crossbars used", "crossbars holding at least one tile",
     g_xbars},
    {"cell_utilisation", "1", "cell utilisation",
     "devices holding a weight slice / devices of the machine", g_cells},
    {"chip_area_mm2", "mm^2", "chip area", "one chip: arrays, DACs, ADCs, digital (aimc info)",
     g_chip_area},
    {"area_mm2", "mm^2", "machine area", "every chip", g_area},
    {"chip_power_w", "W", "chip peak power", "one chip at peak load (aimc info)", g_chip_power},
    {"peak_tops", "TOPS", "peak throughput", "whole machine, weight-precision ops (aimc info)",
     g_tops},
    {"peak_tops_per_w", "TOPS/W", "peak energy efficiency", "peak TOPS / peak power (aimc info)",
     g_tops_w},
    {"peak_tops_per_mm2", "TOPS/mm^2", "peak area efficiency", "peak TOPS / area (aimc info)",
     g_tops_mm2},
    {"accuracy_hw", "1", "accuracy on the machine",
     "a classifier's test accuracy on the simulated machine (empty for other models)", g_acc_hw},
    {"accuracy_float", "1", "accuracy in float",
     "the same classifier's test accuracy in float on the host", g_acc_float},
    {"program_failed_fraction", "1", "devices outside the verify tolerance",
     "after programming (program.verify_* keys)", g_verify_failed},
    {"program_pulses", "pulses", "programming pulses", "every write of every verify round",
     g_pulses},
};

size_t sweep_metric_count(void) { return sizeof metrics / sizeof metrics[0]; }

const sweep_metric *sweep_metric_at(size_t i)
{
    return i < sweep_metric_count() ? &metrics[i] : NULL;
}

int sweep_metric_find(const char *name)
{
    for (size_t i = 0; i < sweep_metric_count(); i++)
        if (!strcmp(metrics[i].name, name)) return (int)i;
    return -1;
}
