/* main.c - bench/lm: how fast the simulator runs a whole transformer.
 *
 * 1. models/bytes-lm.yaml (attention, MoE blocks, norms, head: the language model of
 *    docs/codesign.md) on the default machine with values: 256 held-out bytes in its windows
 *    of 64, each prefilled at once, as `aimc run --model models/bytes-lm.yaml` runs them.
 *    Prints the host's CPU seconds per token and the weight multiply-accumulates it simulates
 *    per second against the host's BLAS sgemm on the model's largest matrix (the head, 64 x
 *    256, a batch of 64): how many times slower than a plain float product one simulated MAC
 *    is, with every device's noise, the ADC and the cycle and energy accounting.
 * 2. models/mixtral-8x7b.yaml, all of it (attention, MoE, norms, head), timing-only on
 *    configs/hermes.yaml with as many chips as it needs: a prompt of 128 tokens, then 4
 *    tokens decoded one at a time (docs/mapping.md's table); CPU seconds per decoded token
 *    (the run less the prefill alone, over 4) and, as the ratio, the 64-bit keys qsort sorts
 *    in that time, measured in the same run.
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc.h"
#include "aimc_config.h"
#include "aimc_map.h"
#include "aimc_rt.h"
#include "aimc_train.h"
#include "bench_util.h"

#define LM_TOKENS 256

void openblas_set_num_threads(int n); /* OpenBLAS's own entry point */

/* Open a device on a, program m's plan p; *dev NULL on failure. */
static int open_programmed(const aimc_arch *a, const aimc_model *m, const aimc_plan *p,
                           int timing_only, aimc_dev **dev, aimc_diag *d)
{
    aimc_open_opts o = {.arch = a, .seed = 1, .timing_only = timing_only, .diag = d};
    int rc = aimc_open("sim:", &o, dev);
    if (!rc) rc = aimc_rt_program(*dev, a, m, p, NULL, NULL, d);
    if (rc && *dev) {
        aimc_close(*dev);
        *dev = NULL;
    }
    return rc;
}

/* Part 1: the language model with values. */
static int bench_lm(aimc_diag *d)
{
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_dev *dev = NULL;
    uint8_t *text = NULL, *tr = NULL, *te = NULL;
    size_t len = 0, ntr = 0, nte = 0;
    float *x0 = NULL;
    int *lab = NULL;
    aimc_rt_report *r = calloc(1, sizeof *r);
    int rc = r ? aimc_cfg_load("configs/default.yaml", NULL, 0, &a, d) : AIMC_ERR_NOMEM;
    if (!rc) rc = aimc_model_load("models/bytes-lm.yaml", 1, &m, d);
    if (!rc) rc = aimc_map_plan_ex(&a, m, &(aimc_map_opts){0}, &p, d);
    if (!rc) rc = open_programmed(&a, m, p, 0, &dev, d);
    if (!rc) rc = aimc_text_load(m->eval.text, &text, &len, d);
    if (!rc) rc = aimc_text_split(text, len, 512, (size_t)m->eval.test_every, &tr, &ntr, &te, &nte);
    const size_t W = (size_t)m->eval.context, dm = (size_t)m->d_model;
    if (!rc && (nte < LM_TOKENS || W == 0)) rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "too little text");
    if (!rc && (!(x0 = malloc(W * dm * sizeof *x0)) || !(lab = malloc(W * sizeof *lab))))
        rc = AIMC_ERR_NOMEM;
    double cpu = 0, nll = 0;
    uint64_t macs = 0;
    size_t scored = 0;
    for (size_t w0 = 0; !rc && w0 < LM_TOKENS; w0 += W) {
        const size_t wn = LM_TOKENS - w0 < W ? LM_TOKENS - w0 : W;
        for (size_t t = 0; t < wn; t++) {
            memcpy(x0 + t * dm, m->embed + (size_t)te[w0 + t] * dm, dm * sizeof *x0);
            lab[t] = t + 1 < wn ? te[w0 + t + 1] : -1;
        }
        aimc_rt_opts ro = {.prompt = wn, .seed = 3};
        const double t0 = bench_now_s();
        rc = aimc_rt_run(dev, m, x0, wn, lab, &ro, r, d);
        cpu += bench_now_s() - t0;
        macs += r->macs;
        if (!rc && r->lm) {
            nll += log(r->perplexity_hw) * (double)r->scored;
            scored += r->scored;
        }
    }
    if (!rc) {
        /* the reference: the head's product for a window, 64 x 64 times 64 x 256, in float */
        const int M = (int)W, K = (int)dm, N = m->vocab;
        float *A = malloc((size_t)M * K * sizeof *A), *B = malloc((size_t)K * N * sizeof *B),
              *C = malloc((size_t)M * N * sizeof *C);
        double ref = 0;
        if (A && B && C) {
            for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)((i * 37 % 101) - 50) / 64;
            for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)((i * 53 % 97) - 48) / 64;
            int reps = 0;
            const double t0 = bench_now_s();
            double t = 0;
            do {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B,
                            N, 0.0f, C, N);
                reps++;
            } while ((t = bench_now_s() - t0) < 0.5);
            ref = (double)reps * M * N * K / t;
        }
        free(A);
        free(B);
        free(C);
        const double sim = (double)macs / cpu;
        printf("# bytes-lm on the default machine: %d held-out bytes in windows of %zu, "
               "perplexity %.4f on the machine, %.3g weight MACs simulated\n",
               LM_TOKENS, W, scored ? exp(nll / (double)scored) : 0.0, (double)macs);
        printf("BENCH lm_s_per_token %.4g s\n", cpu / LM_TOKENS);
        printf("BENCH lm_sim_macs_per_s %.4g 1/s\n", sim);
        printf("BENCH lm_sgemm_macs_per_s %.4g 1/s\n", ref);
        printf("BENCH lm_sgemm_vs_sim %.4g ratio\n", ref > 0 ? ref / sim : 0.0);
    }
    free(x0);
    free(lab);
    free(text);
    free(tr);
    free(te);
    free(r);
    aimc_close(dev);
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}

/* Part 2: Mixtral-8x7B's decode steps, timing-only. *cpu: the run's CPU seconds. */
static int mixtral_run(const aimc_arch *a, const aimc_model *m, const aimc_plan *p, size_t n,
                       int generate, double *cpu, aimc_diag *d)
{
    aimc_dev *dev = NULL;
    aimc_rt_report *r = calloc(1, sizeof *r);
    int rc = r ? open_programmed(a, m, p, 1, &dev, d) : AIMC_ERR_NOMEM;
    aimc_rt_opts ro = {.prompt = 128, .generate = generate, .batch = 1, .seed = 3};
    const double t0 = bench_now_s();
    if (!rc) rc = aimc_rt_run(dev, m, NULL, n, NULL, &ro, r, d);
    *cpu = bench_now_s() - t0;
    free(r);
    aimc_close(dev);
    return rc;
}

static int bench_mixtral(aimc_diag *d)
{
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    const char *const sets[] = {"hierarchy.chips=auto"};
    int rc = aimc_cfg_load("configs/hermes.yaml", sets, 1, &a, d);
    if (!rc) rc = aimc_model_load("models/mixtral-8x7b.yaml", 0, &m, d);
    if (!rc) rc = aimc_map_plan_ex(&a, m, &(aimc_map_opts){.shape_only = 1}, &p, d);
    if (!rc) rc = aimc_map_fit_chips(&a, p);
    double c_prefill = 0, c_all = 0;
    if (!rc) rc = mixtral_run(&a, m, p, 128, 0, &c_prefill, d);
    if (!rc) rc = mixtral_run(&a, m, p, 132, 1, &c_all, d);
    if (!rc) {
        const double ref = bench_qsort_keys_per_s(4000000);
        printf("# mixtral-8x7b, all of it, timing-only on hermes (%d chips): prefill of 128 "
               "in %.3f s, then 4 decoded tokens\n", p->chips, c_prefill);
        printf("BENCH transformer_mixtral_decode_s_per_token %.4g s\n", (c_all - c_prefill) / 4);
        printf("BENCH transformer_mixtral_prefill_s_per_token %.4g s\n", c_prefill / 128);
        printf("BENCH transformer_qsort_keys_per_s %.4g 1/s\n", ref);
        /* the ratio: qsort keys sorted in the time of one decode step (lower is faster) */
        printf("BENCH transformer_mixtral_decode_vs_qsort %.4g keys\n",
               (c_all - c_prefill) / 4 * ref);
    }
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}

int main(void)
{
    /* One core, as bench/mvm: OpenBLAS's helper threads would count their spinning in the
     * process's CPU time (about half of it on these small products) and share the core. */
    openblas_set_num_threads(1);
    aimc_diag d = {{0}};
    int rc = bench_lm(&d);
    if (!rc) rc = bench_mixtral(&d);
    if (rc) {
        fprintf(stderr, "bench/lm: %s\n", d.msg[0] ? d.msg : aimc_strerror(rc));
        return 1;
    }
    return 0;
}
