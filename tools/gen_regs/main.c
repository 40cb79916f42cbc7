/* main.c - gen_regs: generate the register map outputs from common/aimc_regs.yaml.
 *
 * Usage: gen_regs YAML ROOT     write common/aimc_regs.h, rtl/aimc_regs_pkg.sv and
 *                               docs/registers.md under ROOT (a file is rewritten only when
 *                               its content changes)
 *        gen_regs --check YAML ROOT   exit 1 and name each output under ROOT that differs
 * A build tool (make runs it), not part of build/aimc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regs_gen.h"

/* The whole file, or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    size_t n = 0, cap = 0;
    if (!f) return NULL;
    for (;;) {
        if (cap - n < 4096) {
            char *ns = realloc(s, cap + 65536);
            if (!ns) break;
            s = ns;
            cap += 65536;
        }
        size_t k = fread(s + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
    }
    fclose(f);
    if (s) s[n] = '\0';
    return s;
}

int main(int argc, char **argv)
{
    char *out[AIMC_REGS_GEN_COUNT];
    aimc_diag d = {{0}};
    int check = argc == 4 && !strcmp(argv[1], "--check");
    int status = 0;

    if (argc != 3 && !check) {
        fprintf(stderr, "usage: gen_regs [--check] YAML ROOT\n");
        return 2;
    }
    const char *yaml = argv[check ? 2 : 1], *root = argv[check ? 3 : 2];
    if (aimc_regs_generate(yaml, out, &d) != 0) {
        fprintf(stderr, "gen_regs: %s\n", d.msg);
        return 1;
    }
    for (int i = 0; i < AIMC_REGS_GEN_COUNT; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", root, aimc_regs_gen_paths[i]);
        char *old = slurp(path);
        int same = old && !strcmp(old, out[i]);
        free(old);
        if (check) {
            if (!same) {
                fprintf(stderr, "gen_regs: %s is stale: run make\n", path);
                status = 1;
            }
            continue;
        }
        if (same) continue;
        FILE *f = fopen(path, "wb");
        if (!f || fputs(out[i], f) == EOF || fclose(f) != 0) {
            fprintf(stderr, "gen_regs: cannot write %s\n", path);
            status = 1;
        }
    }
    for (int i = 0; i < AIMC_REGS_GEN_COUNT; i++) free(out[i]);
    return status;
}
