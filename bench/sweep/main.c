/* main.c - bench/sweep: points per second of `aimc sweep` on 1 and 2 local worker processes
 * (and on 2 MPI worker ranks when mpirun is there), against the same points run one by one
 * as separate `aimc run` processes in the same run (the reference).
 *
 *   BENCH sweep_points_per_s_np1 <n> 1/s       --jobs 1: one forked worker process
 *   BENCH sweep_points_per_s_np2 <n> 1/s       --jobs 2: two forked worker processes
 *   BENCH sweep_points_per_s_mpi_np2 <n> 1/s   mpirun -np 3: rank 0 hands out, 2 ranks work
 *   BENCH run_points_per_s <n> 1/s             the reference: one `aimc run` per point
 *   BENCH sweep_np1_vs_run <r> x               np1 rate / reference rate (1 = no overhead)
 *   BENCH sweep_np2_vs_np1 <r> x               the speed-up of the second worker
 *
 * Run by `make bench-sweep` from the repository root, after build/aimc is built. Each figure
 * is the best of REPEATS runs, the variants interleaved (the least disturbed by other load on
 * a shared machine). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AIMC "build/aimc"
#define SPEC "tests/sweeps/small.yaml"
#define REPEATS 5
#define MAX_COLS 32

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Run cmd once; keep the shortest wall time in *best (< 0 before the first run). Returns
 * -1 when the command failed. */
static int time_once(const char *cmd, double *best)
{
    double t0 = now_s();
    if (system(cmd) != 0) {
        fprintf(stderr, "bench-sweep: failed: %s\n", cmd);
        return -1;
    }
    double t = now_s() - t0;
    if (*best < 0 || t < *best) *best = t;
    return 0;
}

/* The points of the CSV at path as one shell script of `aimc run` commands (the columns
 * before "status" are the varied keys). Returns the number of points, or -1. */
static int write_runs(const char *csv, const char *script)
{
    FILE *f = fopen(csv, "r");
    if (!f) return -1;
    FILE *sh = fopen(script, "w");
    if (!sh) {
        fclose(f);
        return -1;
    }
    char line[4096], keys[MAX_COLS][64];
    int nk = 0, npts = 0;
    if (fgets(line, sizeof line, f)) {
        char *tok = strtok(line, ",\n");
        for (tok = strtok(NULL, ",\n"); tok && strcmp(tok, "status") && nk < MAX_COLS;
             tok = strtok(NULL, ",\n"))
            snprintf(keys[nk++], sizeof keys[0], "%s", tok);
    }
    fprintf(sh, "set -e\n");
    while (fgets(line, sizeof line, f)) {
        char *tok = strtok(line, ",\n"); /* the point index */
        fprintf(sh, AIMC " run --model models/tiny-moe.yaml --tokens 2 --seed 3");
        for (int k = 0; k < nk && (tok = strtok(NULL, ",\n")); k++)
            fprintf(sh, " --set %s=%s", keys[k], tok);
        fprintf(sh, " >/dev/null\n");
        npts++;
    }
    fclose(f);
    fclose(sh);
    return npts;
}

int main(void)
{
    char dir[] = "/tmp/aimc-bench-sweep-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench-sweep: mkdtemp");
        return 1;
    }
    char c1[512], c2[512], cm[640], cr[256], csv[160], script[160];
    snprintf(c1, sizeof c1,
             AIMC " sweep " SPEC " --out %s/s --jobs 1 --quiet --restart >/dev/null", dir);
    snprintf(c2, sizeof c2,
             AIMC " sweep " SPEC " --out %s/s --jobs 2 --quiet --restart >/dev/null", dir);
    snprintf(cm, sizeof cm,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe "
             "-np 3 " AIMC " sweep " SPEC " --out %s/m --quiet --restart >/dev/null 2>&1",
             dir);
    snprintf(csv, sizeof csv, "%s/s.csv", dir);
    snprintf(script, sizeof script, "%s/runs.sh", dir);
    snprintf(cr, sizeof cr, "sh %s", script);
    int rc = 1, npts;
    int mpi = system("command -v mpirun >/dev/null 2>&1") == 0;
    double t1 = -1, t2 = -1, tm = -1, tr = -1;
    if (time_once(c1, &t1) || (npts = write_runs(csv, script)) <= 0) goto out;
    /* interleaved, so that a change of the machine's load hits every variant alike */
    for (int r = 0; r < REPEATS; r++) {
        if ((r > 0 && time_once(c1, &t1)) || time_once(c2, &t2) || time_once(cr, &tr)) goto out;
        if (mpi && time_once(cm, &tm)) mpi = 0;
    }
    double r1 = npts / t1, r2 = npts / t2, rr = npts / tr;
    printf("BENCH sweep_points_per_s_np1 %.3f 1/s\n", r1);
    printf("BENCH sweep_points_per_s_np2 %.3f 1/s\n", r2);
    if (mpi) printf("BENCH sweep_points_per_s_mpi_np2 %.3f 1/s\n", npts / tm);
    printf("BENCH run_points_per_s %.3f 1/s\n", rr);
    printf("BENCH sweep_np1_vs_run %.3f x\n", r1 / rr);
    printf("BENCH sweep_np2_vs_np1 %.3f x\n", r2 / r1);
    printf("(%d points of %s, best of %d interleaved runs each; %ld online cores)\n", npts, SPEC,
           REPEATS, sysconf(_SC_NPROCESSORS_ONLN));
    rc = 0;
out:;
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (system(rm) != 0) rc = 1;
    return rc;
}
