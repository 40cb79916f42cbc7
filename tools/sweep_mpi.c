/* sweep_mpi.c - the MPI transport of `aimc sweep` (sweep.h), built when OpenMPI is installed
 * (the Makefile compiles this file with `mpicc --showme:compile` and links with
 * `--showme:link`; otherwise it builds sweep_nompi.c). Rank 0 is the master: workers send a
 * line (empty at first: a request for work) and receive the next point index, or -1. */
#include <mpi.h>
#include <stdint.h>

#include "sweep.h"

enum { TAG_LINE = 1, TAG_INDEX = 2 };

int sweep_mpi_init(int *argc, char ***argv, int *rank, int *size, aimc_diag *d)
{
    *rank = 0;
    *size = 1;
    if (sweep_mpi_env_size() <= 1) return AIMC_OK; /* not under a launcher: MPI untouched */
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        return aimc_diag_set(d, AIMC_ERR_IO, "MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return AIMC_OK;
}

int sweep_mpi_send_index(int dest, int64_t idx)
{
    return MPI_Send(&idx, 1, MPI_INT64_T, dest, TAG_INDEX, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int sweep_mpi_recv_index(int64_t *idx)
{
    return MPI_Recv(idx, 1, MPI_INT64_T, 0, TAG_INDEX, MPI_COMM_WORLD, MPI_STATUS_IGNORE) ==
                   MPI_SUCCESS
               ? 0
               : -1;
}

int sweep_mpi_send_line(const char *line, size_t len)
{
    return MPI_Send(line, (int)len, MPI_CHAR, 0, TAG_LINE, MPI_COMM_WORLD) == MPI_SUCCESS ? 0
                                                                                          : -1;
}

int sweep_mpi_recv_line(int *src, char *buf, size_t cap, size_t *len)
{
    MPI_Status st;
    if (MPI_Recv(buf, (int)cap, MPI_CHAR, MPI_ANY_SOURCE, TAG_LINE, MPI_COMM_WORLD, &st) !=
        MPI_SUCCESS)
        return -1;
    int n = 0;
    MPI_Get_count(&st, MPI_CHAR, &n);
    *src = st.MPI_SOURCE;
    *len = (size_t)n;
    return 0;
}

void sweep_mpi_finalize(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) MPI_Finalize();
}

void sweep_mpi_abort(int code)
{
    int init = 0;
    MPI_Initialized(&init);
    if (init) MPI_Abort(MPI_COMM_WORLD, code);
}
