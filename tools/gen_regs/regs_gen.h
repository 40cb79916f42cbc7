/* regs_gen.h - the register map generator: common/aimc_regs.yaml to C, SystemVerilog and
 * Markdown (tools/gen_regs). A host tool of the build, not part of libaimc or build/aimc;
 * the test suite links it to check that the checked-in outputs are current.
 */
#ifndef AIMC_REGS_GEN_H
#define AIMC_REGS_GEN_H

#include "aimc_status.h"

/* The three outputs, named by their path in the repository. */
enum { AIMC_REGS_GEN_HEADER, AIMC_REGS_GEN_SV, AIMC_REGS_GEN_DOC, AIMC_REGS_GEN_COUNT };
extern const char *const aimc_regs_gen_paths[AIMC_REGS_GEN_COUNT];

/* Read the register map yaml_path, check it (unique names and offsets, aligned offsets
 * inside the window, bits 0..31, descriptor and record fields inside their size without
 * overlap) and generate the outputs into out[i] (malloc'd NUL-terminated texts the caller
 * frees). On failure every out[i] is NULL and d says "file:line:col: key: rule".
 * Returns AIMC_OK, AIMC_ERR_IO, AIMC_ERR_PARSE, AIMC_ERR_CONFIG or AIMC_ERR_NOMEM. */
int aimc_regs_generate(const char *yaml_path, char *out[AIMC_REGS_GEN_COUNT], aimc_diag *d);

#endif /* AIMC_REGS_GEN_H */
