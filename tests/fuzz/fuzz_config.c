/* fuzz_config.c - libFuzzer target: machine configs (common/config.c, common/yaml.c).
 *
 * The input is a config file's text; after a NUL byte, if any, one --set assignment
 * (KEY=VALUE) applied over it. A config that loads must pass aimc_arch_validate and give
 * finite peak figures (sim/cost/peak.c, what `aimc info` prints); one that does not must say why.
 */
#include <math.h>

#include "aimc_config.h"
#include "aimc_cost.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    size_t len = strlen(text);
    const char *set = len < size ? text + len + 1 : NULL; /* fuzz_text ends it with a NUL */
    aimc_arch a;
    aimc_diag d = {{0}};
    int rc = aimc_cfg_load_string(text, "fuzz.yaml", set ? &set : NULL, set ? 1 : 0, &a, &d);
    if (rc) {
        fuzz_check_error(rc, &d, NULL);
    } else {
        aimc_diag v = {{0}};
        if (aimc_arch_validate(&a, &v) != AIMC_OK) {
            fprintf(stderr, "fuzz: a loaded config fails validation: %s\n", v.msg);
            abort();
        }
        aimc_peak p;
        aimc_peak_compute(&a, &p);
        if (!isfinite(p.tops) || !isfinite(p.chip_power_w) || !(p.tops >= 0)) {
            fprintf(stderr, "fuzz: peak figures not finite: %g TOPS, %g W\n", p.tops,
                    p.chip_power_w);
            abort();
        }
    }
    free(text);
    return 0;
}
