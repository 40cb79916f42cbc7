/* driver_example.c - program one 8 x 5 matrix and run y = x W through the driver (the
 * example of docs/driver.md; make test builds and runs it). */
#include <stdio.h>

#include "aimc.h"

int main(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);                 /* the machine of configs/default.yaml */
    float w[8 * 5], x[8], y[5], ref[5] = {0};
    for (int i = 0; i < 8 * 5; i++) w[i] = (float)((i * 7) % 11 - 5) / 8.0f;
    for (int r = 0; r < 8; r++) x[r] = (float)(r - 3) / 4.0f;
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 5; c++) ref[c] += x[r] * w[r * 5 + c];
    aimc_tile t[16];                        /* one bit slice per crossbar */
    int n = aimc_arch_slices(&a);
    for (int s = 0; s < n; s++)
        t[s] = (aimc_tile){.matrix = 0, .row0 = 0, .nrows = 8, .col0 = 0, .ncols = 5,
                           .slice = (uint32_t)s, .xbar = (uint32_t)s, .xbar_col0 = 0};
    aimc_diag why = {{0}};
    aimc_open_opts opts = {.arch = &a, .seed = 42, .diag = &why};
    aimc_dev *dev;
    uint64_t fence;
    int rc = aimc_open("sim:", &opts, &dev);
    if (rc) return fprintf(stderr, "open: %s\n", why.msg), 1;
    rc = aimc_weights_program(dev, 0, w, 8, 5, t, (size_t)n, NULL, NULL);
    if (!rc) rc = aimc_submit_mvm(dev, 0, x, 1, y, &fence);
    if (!rc) rc = aimc_fence_wait(dev, fence, 1000000000); /* at most 1 s */
    if (rc) fprintf(stderr, "%s: %s\n", aimc_strerror(rc), aimc_error_text(dev));
    for (int c = 0; !rc && c < 5; c++) printf("y[%d] = %8.4f  (exact %8.4f)\n", c, y[c], ref[c]);
    aimc_close(dev);
    return rc ? 1 : 0;
}
