/* map_int.h - what the mapper's own files share (not public API). */
#ifndef AIMC_MAP_INT_H
#define AIMC_MAP_INT_H

#include "aimc_map.h"

/* Sort the runs and derive the statistics and (unless shape_only) the tile array of p from
 * p->runs, p->chips, p->xbars_*; map.c and plan loading use it. */
int aimc_map_finish_plan(const aimc_arch *a, const aimc_model *m, aimc_plan *p, int shape_only,
                         aimc_diag *d);

/* A whole file into memory (NUL-terminated); NULL on failure with errno set. */
char *aimc_map_read_file(const char *path, size_t *len);

#endif /* AIMC_MAP_INT_H */
