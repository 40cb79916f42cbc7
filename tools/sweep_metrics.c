/* sweep_metrics.c - the one table of what a sweep can record per point: name, unit, axis
 * label, meaning and how to get it from the run's report, the plan and the peak figures.
 * A new metric is one row here and one row in docs/dse.md. */
#include <math.h>
#include <string.h>

#include "aimc_cost.h"
#include "cli.h"
#include "sweep.h"

/* Declared in cli.h: `aimc run` reports the same split. */
void cli_run_energy(const aimc_arch *a, const aimc_rt_report *r, double dyn[AIMC_PART_COUNT],
                    double stat[AIMC_PART_COUNT], double *dyn_total, double *stat_total)
{
    double td = 0, ts = 0;
    aimc_cost_static_pj(a, (uint64_t)a->hierarchy.chips,
                        aimc_cost_ns(a, (double)r->makespan_cycles), stat);
    for (int p = 0; p < AIMC_PART_COUNT; p++) {
        dyn[p] = r->cost.energy_pj[p];
        td += dyn[p];
        ts += stat[p];
    }
    if (dyn_total) *dyn_total = td;
    if (stat_total) *stat_total = ts;
}

static double tokens(const sweep_measure *m) { return (double)m->rep->tokens; }

/* The run's energy by part (dynamic, static) and in all (pJ). */
static double energy(const sweep_measure *m, int part, int dynamic, int stat)
{
    double dyn[AIMC_PART_COUNT], st[AIMC_PART_COUNT], e = 0;
    cli_run_energy(m->arch, m->rep, dyn, st, NULL, NULL);
    for (int p = 0; p < AIMC_PART_COUNT; p++)
        if (part < 0 || part == p) e += (dynamic ? dyn[p] : 0) + (stat ? st[p] : 0);
    return e;
}

static double g_energy(const sweep_measure *m) { return energy(m, -1, 1, 1) / tokens(m); }
static double g_energy_dyn(const sweep_measure *m) { return energy(m, -1, 1, 0) / tokens(m); }
static double g_energy_static(const sweep_measure *m) { return energy(m, -1, 0, 1) / tokens(m); }
static double g_energy_dac(const sweep_measure *m) { return energy(m, AIMC_PART_DAC, 1, 0) / tokens(m); }
static double g_energy_xbar(const sweep_measure *m) { return energy(m, AIMC_PART_XBAR, 1, 0) / tokens(m); }
static double g_energy_adc(const sweep_measure *m) { return energy(m, AIMC_PART_ADC, 1, 0) / tokens(m); }
static double g_energy_digital(const sweep_measure *m)
{
    return energy(m, AIMC_PART_DIGITAL, 1, 0) / tokens(m);
}
static double g_time(const sweep_measure *m)
{
    return aimc_cost_ns(m->arch, (double)m->rep->makespan_cycles) / tokens(m);
}
static double g_first(const sweep_measure *m)
{
    return aimc_cost_ns(m->arch, (double)m->rep->first_cycles);
}
static double g_tokens_per_s(const sweep_measure *m)
{
    const double ns = aimc_cost_ns(m->arch, (double)m->rep->makespan_cycles);
    return ns > 0 ? tokens(m) / (ns * 1e-9) : 0.0;
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

static const sweep_metric metrics[] = {
    {"energy_pj_per_token", "pJ", "energy per token",
     "energy of the inference, dynamic and static, every part, divided by the tokens run",
     g_energy},
    {"energy_pj_per_token_dynamic", "pJ", "dynamic energy per token",
     "the device's energy counters of the inference divided by the tokens", g_energy_dyn},
    {"energy_pj_per_token_static", "pJ", "static energy per token",
     "every chip's leakage over the run divided by the tokens", g_energy_static},
    {"energy_pj_per_token_dac", "pJ", "DAC energy per token", "the DAC part of the dynamic energy",
     g_energy_dac},
    {"energy_pj_per_token_xbar", "pJ", "crossbar energy per token", "the crossbar part of it",
     g_energy_xbar},
    {"energy_pj_per_token_adc", "pJ", "ADC energy per token", "the ADC part of it", g_energy_adc},
    {"energy_pj_per_token_digital", "pJ", "digital energy per token",
     "the cores' shift-and-add part of it", g_energy_digital},
    {"time_ns_per_token", "ns", "time per token",
     "the run's makespan on the device clock divided by the tokens", g_time},
    {"first_token_ns", "ns", "first-token latency",
     "device time until the first group of tokens completed every layer", g_first},
    {"tokens_per_s", "1/s", "throughput", "tokens divided by the run's makespan",
     g_tokens_per_s},
    {"rel_rms_error", "1", "relative rms output error",
     "sqrt(sum (y - y_ref)^2 / sum y_ref^2) over every layer's block output and token",
     g_error},
    {"routing_agreement", "1", "routing agreement",
     "fraction of (token, layer) whose top-k experts equal the exact reference's", g_routing},
    {"adc_saturations", "events", "ADC saturations", "ADC conversions clamped at the range",
     g_sat},
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
