/* fuzz_util.h - what the libFuzzer targets of tests/fuzz/ share: the input as a C string
 * or as a file, and the check every failing parser call must pass (a message).
 *
 * The targets run from the repository root (tests/fuzz/run.sh), so that they can read the
 * repository's models and configs. Every rule they check aborts, which libFuzzer reports
 * as a finding with the input that caused it.
 */
#ifndef AIMC_FUZZ_UTIL_H
#define AIMC_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aimc_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input as a NUL-terminated string (cut at its first NUL byte); the caller frees it. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (!t) abort();
    memcpy(t, data, size);
    t[size] = '\0';
    return t;
}

/* The input written to this process's own file `path` (created by fuzz_temp_path). */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        abort();
    }
}

static char fuzz_path_buf[4][64];
static int fuzz_paths;

static void fuzz_remove_paths(void)
{
    for (int i = 0; i < fuzz_paths; i++) remove(fuzz_path_buf[i]);
}

/* A file name of this process under /tmp ending in suffix, removed at exit. */
static inline const char *fuzz_temp_path(const char *suffix)
{
    if (fuzz_paths == 4) abort();
    char *p = fuzz_path_buf[fuzz_paths];
    snprintf(p, sizeof fuzz_path_buf[0], "/tmp/aimc-fuzz-%ld-%d%s", (long)getpid(), fuzz_paths,
             suffix);
    if (fuzz_paths++ == 0) atexit(fuzz_remove_paths);
    return p;
}

/* A failing call must say why: rc is a documented error code and the message is not empty
 * (and starts with `prefix` when one is given). */
static inline void fuzz_check_error(int rc, const aimc_diag *d, const char *prefix)
{
    if (rc >= 0 || rc < AIMC_ERR_ABORTED) {
        fprintf(stderr, "fuzz: return code %d is not an AIMC_ERR_*\n", rc);
        abort();
    }
    if (!d->msg[0]) {
        fprintf(stderr, "fuzz: error %d without a message\n", rc);
        abort();
    }
    if (prefix && strncmp(d->msg, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "fuzz: message does not start with \"%s\": %s\n", prefix, d->msg);
        abort();
    }
}

#endif /* AIMC_FUZZ_UTIL_H */
