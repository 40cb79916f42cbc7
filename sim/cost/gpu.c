/* gpu.c - a GPU beside the simulated machine: presets of published figures and a roofline
 * of the same workload (aimc_cost.h, "A GPU beside it"). */
#include "aimc_cost.h"

#include <string.h>

/* NVIDIA's data sheets: dense (no structured sparsity) BF16 tensor-core peak, HBM bandwidth
 * and the board's maximum power, SXM form factor. */
static const aimc_gpu gpus[] = {
    {"a100", 312.0, 2039.0, 400.0, 80.0,
     "NVIDIA A100 Tensor Core GPU data sheet (SXM4 80GB): BF16 312 TFLOPS dense, 2,039 GB/s, 400 W"},
    {"h100", 989.4, 3350.0, 700.0, 80.0,
     "NVIDIA H100 Tensor Core GPU data sheet (SXM5): BF16 989 TFLOPS dense (1,979 with sparsity), "
     "3.35 TB/s, up to 700 W"},
    {"h200", 989.4, 4800.0, 700.0, 141.0,
     "NVIDIA H200 Tensor Core GPU data sheet (SXM): BF16 989 TFLOPS dense, 4.8 TB/s, up to 700 W"},
};

size_t aimc_gpu_count(void) { return sizeof gpus / sizeof gpus[0]; }

const aimc_gpu *aimc_gpu_at(size_t i) { return i < aimc_gpu_count() ? &gpus[i] : NULL; }

const aimc_gpu *aimc_gpu_find(const char *name)
{
    for (size_t i = 0; name && i < aimc_gpu_count(); i++)
        if (!strcmp(gpus[i].name, name)) return &gpus[i];
    return NULL;
}

void aimc_gpu_roofline(const aimc_gpu *g, double step_bytes, double step_flops, double tokens,
                       aimc_gpu_estimate *out)
{
    memset(out, 0, sizeof *out);
    if (!g || !(tokens > 0)) return;
    const double t_mem = step_bytes / g->hbm_gbytes_per_s;    /* bytes / (GB/s) = ns */
    const double t_cmp = step_flops / (g->tflops * 1e3);      /* flops / (TFLOP/s) = ns */
    out->compute_bound = t_cmp > t_mem;
    out->step_ns = out->compute_bound ? t_cmp : t_mem;
    out->token_ns = out->step_ns / tokens;
    out->tokens_per_s = out->token_ns > 0 ? 1e9 / out->token_ns : 0.0;
    out->token_pj = g->board_w * out->token_ns * 1e3;          /* W x ns = nJ = 1e3 pJ */
}
