/* map_int.h - what the mapper's own files share (not public API). */
#ifndef AIMC_MAP_INT_H
#define AIMC_MAP_INT_H

#include "aimc_map.h"

/* Sort the runs and derive the statistics and (unless shape_only) the tile array of p from
 * p->runs, p->chips, p->xbars_*; map.c and plan loading use it. */
int aimc_map_finish_plan(const aimc_arch *a, const aimc_model *m, aimc_plan *p, int shape_only,
                         aimc_diag *d);

/* Runs with a replica above this are refused (aimc_plan_validate). */
#define AIMC_PLAN_MAX_REPLICA 65535u

/* Files read whole (plans, routing statistics, safetensors indexes) are at most this long. */
#define AIMC_MAP_MAX_FILE (1 << 30)

/* A whole file into memory (NUL-terminated) in *text, its length in *len; the caller frees
 * *text. AIMC_ERR_IO with "PATH: cannot open: REASON", "PATH: is a directory, not a file",
 * "PATH: read error: REASON" or "PATH: larger than 1024 MiB"; AIMC_ERR_NOMEM. */
int aimc_map_read_file(const char *path, char **text, size_t *len, aimc_diag *d);

#endif /* AIMC_MAP_INT_H */
