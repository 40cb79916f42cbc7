/* sweep_run.c - running a sweep's points: one point as `aimc run` runs it (cli_evaluate),
 * a pool of forked local workers, the MPI master and worker loops, and the progress line.
 *
 * Each point's line depends on (spec, model, point index) only, never on which worker ran
 * it or when, so the results do not depend on the number of workers or ranks. Only the
 * parent process (rank 0 under MPI) writes the log. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sweep.h"

/* ---- progress ---------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sweep_progress_start(sweep_progress *pg, uint64_t total, int mode)
{
    pg->on = mode > 0 || (mode == 0 && isatty(STDERR_FILENO));
    pg->total = total;
    pg->done = 0;
    pg->t0 = now_s();
    pg->last = 0;
}

static void progress_print(sweep_progress *pg)
{
    double el = now_s() - pg->t0, rate = el > 0 ? (double)pg->done / el : 0;
    char left[32] = "?";
    if (rate > 0) {
        double s = (double)(pg->total - pg->done) / rate;
        if (s < 120) snprintf(left, sizeof left, "%.0f s", s);
        else if (s < 7200) snprintf(left, sizeof left, "%.0f min", s / 60);
        else snprintf(left, sizeof left, "%.1f h", s / 3600);
    }
    fprintf(stderr, "\r%s sweep: %" PRIu64 "/%" PRIu64 " points, %.2f points/s, %s left   ",
            cli_prog, pg->done, pg->total, rate, left);
    fflush(stderr);
}

void sweep_progress_step(sweep_progress *pg)
{
    pg->done++;
    if (!pg->on) return;
    double t = now_s();
    if (t - pg->last < 0.2 && pg->done < pg->total) return;
    pg->last = t;
    progress_print(pg);
}

void sweep_progress_end(sweep_progress *pg)
{
    if (!pg->on) return;
    progress_print(pg);
    fputc('\n', stderr);
}

int sweep_mpi_env_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            long n = strtol(v, NULL, 10);
            return n > 1 && n < 1 << 24 ? (int)n : 1;
        }
    }
    return 1;
}

/* ---- one point --------------------------------------------------------------------------- */

int sweep_eval_point(const sweep_spec *s, const aimc_model *m, uint64_t idx, char *line,
                     size_t cap)
{
    sweep_point p;
    aimc_arch a;
    aimc_diag d = {{0}};
    aimc_plan *plan = NULL;
    aimc_rt_report *rep = NULL;
    uint64_t seed;
    double mv[SWEEP_MAX_METRICS];
    int n;
    int rc = sweep_point_get(s, idx, &p);
    if (rc) {
        aimc_diag_set(&d, rc, "point %" PRIu64 " is not in the sweep", idx);
        goto fail;
    }
    if ((rc = sweep_point_arch(s, &p, &a, &seed, &d))) goto fail;
    if (!(rep = malloc(sizeof *rep))) {
        rc = aimc_diag_set(&d, AIMC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    cli_eval_opts eo = {.backend = s->backend, .seed = seed, .ntok = (size_t)s->tokens,
                        .batch = 1}; /* as aimc run */
    aimc_arch used;
    cli_eval_out ex;
    if ((rc = cli_evaluate(&a, m, &eo, &plan, &used, rep, &ex, &d))) goto fail;
    aimc_peak pk;
    aimc_peak_compute(&used, &pk);
    sweep_measure ms = {&used, plan, rep, &pk, &ex.deploy};
    for (size_t i = 0; i < s->n_metrics; i++) mv[i] = sweep_metric_at((size_t)s->metrics[i])->get(&ms);
    cli_breakdown_free(&ex.breakdown);
    n = sweep_log_format(s, idx, 1, mv, NULL, line, cap);
    goto out;
fail:
    if (!d.msg[0]) aimc_diag_set(&d, rc, "%s", aimc_strerror(rc));
    n = sweep_log_format(s, idx, 0, NULL, d.msg, line, cap);
out:
    free(rep);
    aimc_plan_free(plan);
    return n;
}

/* ---- local workers ----------------------------------------------------------------------- */

typedef struct worker {
    pid_t pid;
    int to, from;   /* pipes: indices to the worker, lines from it */
    int busy;
    uint64_t idx;
    size_t len;
    char buf[SWEEP_LINE_MAX];
} worker;

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The worker process: read "index\n", answer with the point's line, until EOF. */
static void worker_main(const sweep_spec *s, const aimc_model *m, int in, int out)
{
    char ib[64];
    size_t il = 0;
    char *line = malloc(SWEEP_LINE_MAX);
    if (!line) _exit(3);
    for (;;) {
        ssize_t n = read(in, ib + il, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (ib[il] != '\n') {
            if (++il == sizeof ib) _exit(3);
            continue;
        }
        ib[il] = '\0';
        il = 0;
        uint64_t idx = strtoull(ib, NULL, 10);
        int len = sweep_eval_point(s, m, idx, line, SWEEP_LINE_MAX);
        if (len < 0) _exit(3);
        if (write_all(out, line, (size_t)len)) break;
    }
    free(line);
    _exit(0);
}

static int spawn(worker *ws, int jobs, int k, int log_fd, const sweep_spec *s,
                 const aimc_model *m)
{
    int a[2], b[2];
    if (pipe(a)) return -1;
    if (pipe(b)) {
        close(a[0]);
        close(a[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(a[0]), close(a[1]), close(b[0]), close(b[1]);
        return -1;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        close(log_fd); /* the parent alone writes (and locks) the log */
        for (int i = 0; i < jobs; i++) {
            if (ws[i].pid <= 0) continue;
            close(ws[i].to);
            close(ws[i].from);
        }
        close(a[1]);
        close(b[0]);
        worker_main(s, m, a[0], b[1]);
    }
    close(a[0]);
    close(b[1]);
    ws[k] = (worker){.pid = pid, .to = a[1], .from = b[0]};
    return 0;
}

static void retire(worker *w)
{
    if (w->pid <= 0) return;
    close(w->to);
    close(w->from);
    int st;
    while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR) {
    }
    w->pid = 0;
}

/* Record a finished line: log first, then the results. */
static int take_line(const sweep_spec *s, sweep_results *r, int log_fd, const char *line,
                     size_t len, uint64_t want, sweep_progress *pg, aimc_diag *d)
{
    uint64_t before = r->n_done;
    char ib[32];
    int il = snprintf(ib, sizeof ib, "%" PRIu64 "\t", want);
    if (len < (size_t)il || memcmp(line, ib, (size_t)il) ||
        sweep_results_add(s, r, line, len) != AIMC_OK || r->n_done != before + 1)
        return aimc_diag_set(d, AIMC_ERR_STATE, "a worker returned a malformed line for point %" PRIu64,
                             want);
    int rc = sweep_log_append(log_fd, line, len, d);
    if (rc) return rc;
    sweep_progress_step(pg);
    return AIMC_OK;
}

int sweep_run_local(const sweep_spec *s, const aimc_model *m, sweep_results *r, int log_fd,
                    int jobs, sweep_progress *pg, aimc_diag *d)
{
    int rc = AIMC_OK;
    uint64_t next = 0; /* scan position over the points */
    worker *ws = calloc((size_t)jobs, sizeof *ws);
    struct pollfd *pf = calloc((size_t)jobs, sizeof *pf);
    int *who = calloc((size_t)jobs, sizeof *who);
    if (!ws || !pf || !who) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
        goto out;
    }
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    for (;;) {
        /* hand a point to every idle worker */
        for (int k = 0; k < jobs; k++) {
            while (next < r->n_points && r->done[next]) next++;
            if (next >= r->n_points) break;
            if (ws[k].pid > 0 && ws[k].busy) continue;
            if (ws[k].pid <= 0 && spawn(ws, jobs, k, log_fd, s, m)) {
                rc = aimc_diag_set(d, AIMC_ERR_IO, "cannot start a worker: %s", strerror(errno));
                goto stop;
            }
            char ib[32];
            int il = snprintf(ib, sizeof ib, "%" PRIu64 "\n", next);
            if (write_all(ws[k].to, ib, (size_t)il)) {
                retire(&ws[k]); /* died idle: start another */
                continue;
            }
            ws[k].busy = 1;
            ws[k].idx = next++;
            ws[k].len = 0;
        }
        int np = 0;
        for (int k = 0; k < jobs; k++)
            if (ws[k].pid > 0 && ws[k].busy) {
                pf[np] = (struct pollfd){.fd = ws[k].from, .events = POLLIN};
                who[np++] = k;
            }
        if (np == 0) break;
        if (poll(pf, (nfds_t)np, -1) < 0) {
            if (errno == EINTR) continue;
            rc = aimc_diag_set(d, AIMC_ERR_IO, "poll: %s", strerror(errno));
            goto stop;
        }
        for (int i = 0; i < np; i++) {
            if (!pf[i].revents) continue;
            worker *w = &ws[who[i]];
            ssize_t n = read(w->from, w->buf + w->len, sizeof w->buf - w->len);
            if (n < 0 && errno == EINTR) continue;
            if (n > 0) {
                w->len += (size_t)n;
                char *nl = memchr(w->buf, '\n', w->len);
                if (nl) {
                    if ((rc = take_line(s, r, log_fd, w->buf, (size_t)(nl - w->buf) + 1, w->idx,
                                        pg, d)))
                        goto stop;
                    w->busy = 0;
                } else if (w->len == sizeof w->buf) {
                    rc = aimc_diag_set(d, AIMC_ERR_STATE, "a worker's line is too long");
                    goto stop;
                }
                continue;
            }
            /* EOF while busy: the worker died on this point; record why */
            pid_t pid = w->pid;
            close(w->to);
            close(w->from);
            int st = 0;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
            }
            w->pid = 0;
            w->busy = 0;
            char msg[128], line[512];
            if (WIFSIGNALED(st))
                snprintf(msg, sizeof msg, "the worker died of signal %d (%s)", WTERMSIG(st),
                         strsignal(WTERMSIG(st)));
            else
                snprintf(msg, sizeof msg, "the worker exited with status %d",
                         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            int len = sweep_log_format(s, w->idx, 0, NULL, msg, line, sizeof line);
            if ((rc = take_line(s, r, log_fd, line, (size_t)len, w->idx, pg, d))) goto stop;
        }
    }
stop:
    for (int k = 0; k < jobs; k++) retire(&ws[k]);
    signal(SIGPIPE, old_pipe);
out:
    free(ws);
    free(pf);
    free(who);
    return rc;
}

/* ---- MPI --------------------------------------------------------------------------------- */

int sweep_run_master(const sweep_spec *s, sweep_results *r, int log_fd, int size,
                     sweep_progress *pg, aimc_diag *d)
{
    char *buf = malloc(SWEEP_LINE_MAX);
    uint64_t *held = calloc((size_t)size, sizeof *held);
    if (!buf || !held) {
        free(buf);
        free(held);
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    }
    int rc = AIMC_OK, active = size - 1;
    uint64_t next = 0;
    while (active > 0) {
        int src;
        size_t len;
        if (sweep_mpi_recv_line(&src, buf, SWEEP_LINE_MAX, &len)) {
            rc = aimc_diag_set(d, AIMC_ERR_IO, "MPI receive failed");
            break;
        }
        if (src <= 0 || src >= size) continue;
        if (len > 0 && (rc = take_line(s, r, log_fd, buf, len, held[src], pg, d))) break;
        while (next < r->n_points && r->done[next]) next++;
        if (next < r->n_points) {
            held[src] = next;
            if (sweep_mpi_send_index(src, (int64_t)next++)) {
                rc = aimc_diag_set(d, AIMC_ERR_IO, "MPI send failed");
                break;
            }
        } else {
            sweep_mpi_send_index(src, -1);
            active--;
        }
    }
    free(buf);
    free(held);
    return rc;
}

int sweep_run_worker(const sweep_spec *s, const aimc_model *m, aimc_diag *d)
{
    char *line = malloc(SWEEP_LINE_MAX);
    if (!line) return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    int rc = AIMC_OK;
    if (sweep_mpi_send_line("", 0)) rc = AIMC_ERR_IO;
    while (!rc) {
        int64_t idx;
        if (sweep_mpi_recv_index(&idx)) {
            rc = AIMC_ERR_IO;
            break;
        }
        if (idx < 0) break;
        int len = sweep_eval_point(s, m, (uint64_t)idx, line, SWEEP_LINE_MAX);
        if (len < 0 || sweep_mpi_send_line(line, (size_t)len)) rc = AIMC_ERR_IO;
    }
    free(line);
    if (rc) aimc_diag_set(d, rc, "MPI worker: communication failed");
    return rc;
}
