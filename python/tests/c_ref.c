/* c_ref.c - the C API's answer to an MVM, for python/tests: program a matrix and run one
 * batch through the crossbar kernel (aimc_xbar_*) or the driver (aimc_* on "sim:"), with the
 * default machine and a seed, and write y's bytes.
 *
 *   c_ref xbar|drv SEED ROWS COLS BATCH W.bin X.bin TILES.bin NTILES Y.bin
 *
 * W is ROWS x COLS float32, X BATCH x ROWS float32, TILES NTILES x 8 uint32 (aimc_tile). Uses
 * the public headers and libaimc only. Exit 0, or 1 with the reason on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc.h"
#include "aimc_xbar.h"

static void *slurp(const char *path, size_t bytes)
{
    FILE *f = fopen(path, "rb");
    void *p = malloc(bytes ? bytes : 1);
    if (!f || !p || fread(p, 1, bytes, f) != bytes) {
        fprintf(stderr, "%s: cannot read %zu bytes\n", path, bytes);
        exit(1);
    }
    fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 11) {
        fprintf(stderr, "usage: c_ref xbar|drv SEED ROWS COLS BATCH W X TILES NTILES Y\n");
        return 1;
    }
    const uint64_t seed = strtoull(argv[2], NULL, 10);
    const uint32_t rows = (uint32_t)atoi(argv[3]), cols = (uint32_t)atoi(argv[4]),
                   batch = (uint32_t)atoi(argv[5]);
    const size_t nt = (size_t)atoi(argv[9]);
    float *w = slurp(argv[6], (size_t)rows * cols * 4), *x = slurp(argv[7], (size_t)batch * rows * 4);
    aimc_tile *t = slurp(argv[8], nt * sizeof *t);
    float *y = calloc((size_t)batch * cols, sizeof *y);
    aimc_arch a;
    aimc_arch_defaults(&a);
    int rc;
    if (!strcmp(argv[1], "xbar")) {
        aimc_xbar *xb = NULL;
        aimc_diag d = {{0}};
        rc = aimc_xbar_create(&a, seed, &xb);
        if (!rc) rc = aimc_xbar_program(xb, 0, w, rows, cols, t, nt, NULL, &d);
        if (!rc) rc = aimc_xbar_mvm(xb, 0, x, batch, y, NULL);
        if (rc) fprintf(stderr, "xbar: %s %s\n", aimc_strerror(rc), d.msg);
        aimc_xbar_destroy(xb);
    } else {
        aimc_dev *dev = NULL;
        aimc_open_opts o = {.arch = &a, .seed = seed};
        uint64_t fence;
        rc = aimc_open("sim:", &o, &dev);
        if (!rc) rc = aimc_weights_program(dev, 0, w, rows, cols, t, nt, NULL, NULL);
        if (!rc) rc = aimc_submit_mvm(dev, 0, x, batch, y, &fence);
        if (!rc) rc = aimc_fence_wait(dev, fence, -1);
        if (rc) fprintf(stderr, "drv: %s %s\n", aimc_strerror(rc), aimc_error_text(dev));
        aimc_close(dev);
    }
    FILE *f = fopen(argv[10], "wb");
    if (rc || !f || fwrite(y, 4, (size_t)batch * cols, f) != (size_t)batch * cols || fclose(f))
        return 1;
    free(w);
    free(x);
    free(t);
    free(y);
    return 0;
}
