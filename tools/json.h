/* json.h - a small streaming JSON writer for the CLI's reports.
 *
 * Calls nest objects and arrays; commas and escaping are handled here. Errors (a failed
 * write) are remembered and returned by aimc_json_close(), so report code stays linear.
 */
#ifndef AIMC_JSON_H
#define AIMC_JSON_H

#include <stdint.h>
#include <stdio.h>

#define AIMC_JSON_MAX_DEPTH 32

typedef struct aimc_json {
    FILE *f;
    int depth;
    int first[AIMC_JSON_MAX_DEPTH]; /* no member written yet at this depth */
    int failed;
} aimc_json;

/* Start writing to a new file at path; returns 0 or -1 (errno set). */
int aimc_json_open(aimc_json *j, const char *path);
/* Start writing to an open stream (a memory stream: the Python package), which
 * aimc_json_close closes. Returns 0, or -1 for a NULL f. */
int aimc_json_open_file(aimc_json *j, FILE *f);
/* Finish (newline, close); returns 0, or -1 when any write failed. */
int aimc_json_close(aimc_json *j);

/* key may be NULL inside arrays. */
void aimc_json_obj_begin(aimc_json *j, const char *key);
void aimc_json_obj_end(aimc_json *j);
void aimc_json_arr_begin(aimc_json *j, const char *key);
void aimc_json_arr_end(aimc_json *j);
void aimc_json_str(aimc_json *j, const char *key, const char *v);
void aimc_json_num(aimc_json *j, const char *key, double v);   /* NaN/inf become null */
void aimc_json_u64(aimc_json *j, const char *key, uint64_t v);

#endif /* AIMC_JSON_H */
