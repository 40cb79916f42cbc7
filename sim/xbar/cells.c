/* devices.c - the statistics of the device models: PCM (aihwkit's model after Nandakumar et
 * al. 2019), RRAM and generic sigmas, stuck-at faults, IR drop. Pure functions of their
 * arguments; docs/devices.md gives every formula and its source.
 */
#include "aimc_xbar.h"

#include <math.h>

#include "rng.h"

/* PCM constants: aihwkit's PCMLikeNoiseModel (REFERENCES.md, "PCM device statistics"). */
#define PCM_T0_S 20.0        /* drift reference time, s */
#define PCM_T_READ_S 250e-9  /* read duration, s */
#define PCM_G_MAX_REF_US 25.0 /* the g_max the polynomial was fitted for, uS */

double aimc_pcm_program_sigma_us(double g_target_us, double g_max_us)
{
    double gr = g_target_us / g_max_us;
    double s = (0.26348 + 1.9650 * gr - 1.1731 * gr * gr) * (g_max_us / PCM_G_MAX_REF_US);
    return s > 0.0 ? s : 0.0;
}

static double clip(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void aimc_pcm_drift_params(double g_target_us, double g_max_us, double *mu, double *sigma)
{
    double gr = fabs(g_target_us / g_max_us);
    if (gr < 1e-7) gr = 1e-7;
    *mu = clip(-0.0155 * log(gr) + 0.0244, 0.049, 0.1);
    *sigma = clip(-0.0125 * log(gr) - 0.0059, 0.008, 0.045);
}

double aimc_pcm_drift_factor(double nu, double read_time_s)
{
    double t = read_time_s + PCM_T0_S;
    return t > PCM_T0_S ? pow(t / PCM_T0_S, -nu) : 1.0;
}

double aimc_pcm_read_rel_sigma(double g_prog_us, double g_max_us, double read_time_s)
{
    double gr = fabs(g_prog_us) / g_max_us;
    double den = pow(gr, 0.65);
    if (den < 1e-3) den = 1e-3;
    double q = 0.0088 / den;
    if (q > 0.2) q = 0.2;
    double t = read_time_s + PCM_T0_S;
    return q * sqrt(log((t + PCM_T_READ_S) / (2.0 * PCM_T_READ_S)));
}

int aimc_xbar_fault_of(const aimc_arch *a, uint64_t seed, uint32_t xbar, uint64_t cell)
{
    double on = a->device.stuck_on_rate, off = a->device.stuck_off_rate;
    if (on <= 0.0 && off <= 0.0) return AIMC_FAULT_NONE;
    double u = aimc_rng_uniform(aimc_rng_key(seed, AIMC_RNG_DOMAIN_FAULT, xbar, 0), cell);
    if (u < on) return AIMC_FAULT_STUCK_ON;
    if (u < on + off) return AIMC_FAULT_STUCK_OFF;
    return AIMC_FAULT_NONE;
}

double aimc_xbar_fault_fraction(const aimc_arch *a, uint64_t seed, uint32_t xbar)
{
    if (!a || (a->device.stuck_on_rate <= 0.0 && a->device.stuck_off_rate <= 0.0)) return 0.0;
    uint64_t n = (uint64_t)a->crossbar.rows * (uint64_t)a->crossbar.cols, bad = 0;
    for (uint64_t c = 0; c < n; c++) bad += aimc_xbar_fault_of(a, seed, xbar, c) != AIMC_FAULT_NONE;
    return n ? (double)bad / (double)n : 0.0;
}
