/* sweep_nompi.c - the transport of `aimc sweep` in a build without MPI (sweep.h): one
 * process; started by an MPI launcher with more than one process it refuses to run rather
 * than have every rank run the whole sweep. */
#include <stdint.h>

#include "sweep.h"

int sweep_mpi_init(int *argc, char ***argv, int *rank, int *size, aimc_diag *d)
{
    (void)argc;
    (void)argv;
    *rank = 0;
    *size = 1;
    int n = sweep_mpi_env_size();
    if (n > 1)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED,
                             "started by an MPI launcher with %d processes, but this aimc was "
                             "built without MPI (install openmpi-bin and libopenmpi-dev, then "
                             "make clean all)",
                             n);
    return AIMC_OK;
}

int sweep_mpi_send_index(int dest, int64_t idx)
{
    (void)dest;
    (void)idx;
    return AIMC_ERR_UNSUPPORTED;
}

int sweep_mpi_recv_index(int64_t *idx)
{
    (void)idx;
    return AIMC_ERR_UNSUPPORTED;
}

int sweep_mpi_send_line(const char *line, size_t len)
{
    (void)line;
    (void)len;
    return AIMC_ERR_UNSUPPORTED;
}

int sweep_mpi_recv_line(int *src, char *buf, size_t cap, size_t *len)
{
    (void)src;
    (void)buf;
    (void)cap;
    (void)len;
    return AIMC_ERR_UNSUPPORTED;
}

void sweep_mpi_finalize(void) {}

void sweep_mpi_abort(int code) { (void)code; }
