/* fuzz_regs.c - libFuzzer target: the register map generator's reader
 * (tools/gen_regs/regs_gen.c), which turns common/aimc_regs.yaml into the C header, the
 * SystemVerilog package and docs/registers.md.
 *
 * The input is a register map file. One that is accepted must generate three non-empty
 * outputs; one that is refused must leave every output NULL and say why.
 */
#include "fuzz_util.h"
#include "regs_gen.h"

static const char *path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    path = fuzz_temp_path(".yaml");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(path, data, size);
    char *out[AIMC_REGS_GEN_COUNT];
    aimc_diag d = {{0}};
    int rc = aimc_regs_generate(path, out, &d);
    for (int i = 0; i < AIMC_REGS_GEN_COUNT; i++) {
        if (rc && out[i]) {
            fprintf(stderr, "fuzz: output %d left behind after an error\n", i);
            abort();
        }
        if (!rc && (!out[i] || !out[i][0])) {
            fprintf(stderr, "fuzz: output %d empty\n", i);
            abort();
        }
        if (!rc) free(out[i]);
    }
    if (rc) fuzz_check_error(rc, &d, NULL);
    return 0;
}
