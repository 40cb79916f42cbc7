/* status.c - text for aimc status codes and the diagnostic helper. */
#include "aimc_status.h"

#include <stdarg.h>
#include <stdio.h>

const char *aimc_strerror(int rc)
{
    switch (rc) {
    case AIMC_OK: return "success";
    case AIMC_ERR_INVALID: return "invalid argument";
    case AIMC_ERR_NOMEM: return "out of memory";
    case AIMC_ERR_IO: return "input/output error";
    case AIMC_ERR_PARSE: return "malformed input";
    case AIMC_ERR_CONFIG: return "invalid configuration";
    case AIMC_ERR_NOFIT: return "model does not fit the machine";
    case AIMC_ERR_STATE: return "operation not allowed in this state";
    case AIMC_ERR_BADHANDLE: return "bad handle";
    case AIMC_ERR_DEVICE: return "device error";
    case AIMC_ERR_TIMEOUT: return "timed out";
    case AIMC_ERR_UNSUPPORTED: return "not supported";
    case AIMC_ERR_NOTFOUND: return "not found";
    case AIMC_ERR_RANGE: return "out of range";
    case AIMC_ERR_ABORTED: return "aborted by a reset";
    default: return "unknown error";
    }
}

int aimc_diag_set(aimc_diag *d, int rc, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return rc;
}
