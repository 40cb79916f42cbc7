/* aimc_config.h - machine configs: YAML file + command-line overrides -> aimc_arch.
 *
 * The key table (name, type, range, default, unit) is one static table in config.c; the
 * loader, the --set overrides, aimc_arch_validate() and docs/config.md all follow it.
 */
#ifndef AIMC_CONFIG_H
#define AIMC_CONFIG_H

#include <stddef.h>

#include "aimc_arch.h"
#include "aimc_status.h"
#include "aimc_api.h"

AIMC_API_BEGIN

/* Fill *out from aimc_arch_defaults(), then the file at path (NULL: defaults only), then
 * each "key=value" of sets[0..n_sets-1] in order, then aimc_arch_validate(). Every error
 * names where (file:line:col, or "--set adc.bits=eight") and the rule, in d:
 *   configs/x.yaml:12:9: adc.bits: expected an integer in 1..16, got "eight"
 *   configs/x.yaml:3:3: adc.bitz: unknown key; did you mean adc.bits?
 *   configs/x.yaml: missing required key version
 *   --set adc.bits=eight: adc.bits: expected an integer in 1..16, got "eight"
 * Returns AIMC_OK, AIMC_ERR_IO, AIMC_ERR_PARSE or AIMC_ERR_CONFIG. *out is unspecified on
 * failure. */
int aimc_cfg_load(const char *path, const char *const *sets, size_t n_sets, aimc_arch *out,
                  aimc_diag *d);

/* The same, from YAML text in memory; name stands for the file name in messages. */
int aimc_cfg_load_string(const char *text, const char *name, const char *const *sets,
                         size_t n_sets, aimc_arch *out, aimc_diag *d);

/* Apply one "dotted.key=value" override to a (with the same checks as the file). */
int aimc_cfg_set(aimc_arch *a, const char *assignment, aimc_diag *d);

/* The key table, for tools and docs: the number of keys, and the dotted name of key i
 * (NULL when i is out of range), in the table's order. */
size_t aimc_cfg_key_count(void);
const char *aimc_cfg_key_name(size_t i);

AIMC_API_END

#endif /* AIMC_CONFIG_H */
