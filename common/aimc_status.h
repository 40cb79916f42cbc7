/* aimc_status.h - status codes shared by every aimc layer.
 *
 * Every function of every aimc library that can fail returns an int: AIMC_OK (0) on
 * success, one of the negative codes below on failure. aimc_strerror() maps a code to a
 * short constant text; the longer, situation-specific message (file:line:col, key, allowed
 * range) travels in an aimc_diag filled by the failing call. Libraries never print and never
 * exit; only the CLI does.
 */
#ifndef AIMC_STATUS_H
#define AIMC_STATUS_H

#include <stddef.h>

#include "aimc_api.h"

AIMC_API_BEGIN

enum {
    AIMC_OK = 0,
    AIMC_ERR_INVALID = -1,     /* an argument is out of its documented domain */
    AIMC_ERR_NOMEM = -2,       /* an allocation failed */
    AIMC_ERR_IO = -3,          /* a file could not be opened, read or written */
    AIMC_ERR_PARSE = -4,       /* a file is not well-formed (YAML syntax, truncated data) */
    AIMC_ERR_CONFIG = -5,      /* a well-formed file breaks a rule: unknown key, bad value */
    AIMC_ERR_NOFIT = -6,       /* the model does not fit the machine */
    AIMC_ERR_STATE = -7,       /* call out of order, e.g. an MVM on an unprogrammed matrix */
    AIMC_ERR_BADHANDLE = -8,   /* NULL or foreign handle (a closed one is freed memory) */
    AIMC_ERR_DEVICE = -9,      /* the device reported an error (see its error register) */
    AIMC_ERR_TIMEOUT = -10,    /* a wait expired */
    AIMC_ERR_UNSUPPORTED = -11,/* a valid request this build or backend cannot serve */
    AIMC_ERR_NOTFOUND = -12,   /* a named thing (URI scheme, matrix, key) does not exist */
    AIMC_ERR_RANGE = -13,      /* an index or address lies outside the object it names */
    AIMC_ERR_ABORTED = -14,    /* a reset ended the job before it completed */
};

/* Constant English text for a status code; never NULL, also for unknown codes. */
const char *aimc_strerror(int rc);

/* A detailed diagnostic, filled by the call that fails. Callers may pass NULL where a
 * diagnostic is accepted; then only the status code is returned. */
typedef struct aimc_diag {
    char msg[1024];
} aimc_diag;

/* Fill d->msg (if d is not NULL) like snprintf and return rc, so that an error path reads
 * `return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: ...", ...);`. */
int aimc_diag_set(aimc_diag *d, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

AIMC_API_END

#endif /* AIMC_STATUS_H */
