/* cmd_sweep.c - `aimc sweep SPEC.yaml`: run a design-space sweep on every local core or
 * across MPI ranks, resumable from its append log; write CSV, JSON and an SVG plot
 * (docs/dse.md). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sweep.h"

void cli_usage_sweep(FILE *f)
{
    fprintf(f,
            "usage: aimc sweep SPEC.yaml [--out PREFIX] [--jobs N] [--plot FILE] [--restart]\n"
            "                  [--quiet | --progress]\n"
            "       mpirun -np N aimc sweep SPEC.yaml [options]\n"
            "\n"
            "Run every point of a design-space sweep (a base config and model, the keys to vary,\n"
            "the sampling, the metrics and objectives: docs/dse.md) and write one row per point\n"
            "to PREFIX.csv and PREFIX.json, sorted by point, with the Pareto front marked.\n"
            "Each finished point is appended to PREFIX.log at once: run the same command again\n"
            "after an interruption and only the unfinished points run.\n"
            "\n"
            "  --out PREFIX    result files PREFIX.csv, PREFIX.json, PREFIX.log (default: the\n"
            "                  spec's name in the current directory)\n"
            "  --jobs N        local worker processes, 1..1024 (default: the online cores);\n"
            "                  under mpirun each rank but rank 0 evaluates points one at a time\n"
            "  --plot FILE     also draw the points and the front as an SVG scatter plot\n"
            "  --restart       discard PREFIX.log and run every point again\n"
            "  --quiet         no progress line (it is shown only on a terminal anyway)\n"
            "  --progress      the progress line also when stderr is not a terminal\n");
}

typedef struct sweep_opts {
    const char *spec;
    const char *out;
    const char *plot;
    long jobs;
    int restart, quiet, progress;
} sweep_opts;

/* 0 go on, 1 help printed, -1 usage error (printed). */
static int parse(int argc, char **argv, sweep_opts *o)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},  {"jobs", required_argument, NULL, 'j'},
        {"plot", required_argument, NULL, 'p'}, {"restart", no_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},      {"progress", no_argument, NULL, 'P'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->jobs = ncpu > 0 ? ncpu : 1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == ':') return cli_needs_value("sweep", cli_long_name(longopts, optopt), NULL);
        if (strchr("opj", c) && cli_missing_value(optarg))
            return cli_needs_value("sweep", cli_long_name(longopts, c), optarg);
        switch (c) {
        case 'h': cli_usage_sweep(stdout); return 1;
        case 'o': o->out = optarg; break;
        case 'p': o->plot = optarg; break;
        case 'r': o->restart = 1; break;
        case 'q': o->quiet = 1; break;
        case 'P': o->progress = 1; break;
        case 'j':
            if (cli_parse_count("--jobs", optarg, 1, 1024, &o->jobs)) return -1;
            break;
        default:
            fprintf(stderr, "%s sweep: unknown option %s\n", cli_prog, argv[optind - 1]);
            cli_usage_sweep(stderr);
            return -1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "%s sweep: %s\n", cli_prog,
                optind >= argc ? "expected one SPEC.yaml" : "expected one SPEC.yaml only");
        cli_usage_sweep(stderr);
        return -1;
    }
    o->spec = argv[optind];
    return 0;
}

/* Load spec and model; print (on rank 0) and return an exit code on failure. */
static int load(const sweep_opts *o, int rank, sweep_spec *s, aimc_model **m)
{
    aimc_diag d = {{0}};
    char buf[PATH_MAX + 64];
    int rc = sweep_spec_load(o->spec, s, &d);
    if (!rc) rc = sweep_spec_add_model(s, cli_default_model(buf, sizeof buf), &d);
    if (!rc) rc = aimc_model_load(s->model_path, 1, m, &d);
    if (rc) {
        if (rank == 0) fprintf(stderr, "%s\n", d.msg[0] ? d.msg : aimc_strerror(rc));
        return rc == AIMC_ERR_NOMEM ? CLI_EXIT_WORK : CLI_EXIT_USAGE;
    }
    return 0;
}

/* Rank 0 (or the only process): open the log, run what is left, write the results. */
static int master(const sweep_opts *o, sweep_spec *s, const aimc_model *m, int size)
{
    char prefix[SWEEP_PATH_LEN], path[SWEEP_PATH_LEN + 8];
    snprintf(prefix, sizeof prefix, "%s", o->out ? o->out : s->name);
    sweep_results r;
    aimc_diag d = {{0}};
    int fd = -1, ex = CLI_EXIT_WORK;
    if (sweep_results_init(&r, s->n_points, s->n_metrics)) {
        fprintf(stderr, "%s: out of memory for %llu points\n", cli_prog,
                (unsigned long long)s->n_points);
        return CLI_EXIT_WORK;
    }
    snprintf(path, sizeof path, "%s.log", prefix);
    int rc = sweep_log_open(s, path, o->restart, &r, &fd, &d);
    if (rc) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        ex = rc == AIMC_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_WORK;
        goto out;
    }
    if (r.n_corrupt)
        fprintf(stderr, "%s: %s: %llu corrupt or torn line(s) ignored; their points run again\n",
                cli_prog, path, (unsigned long long)r.n_corrupt);
    uint64_t left = r.n_points - r.n_done;
    printf("sweep    %s: %llu points (%s), %llu already done, %llu to run on %s %ld\n", s->name,
           (unsigned long long)s->n_points,
           s->method == SWEEP_GRID ? "grid" : s->method == SWEEP_RANDOM ? "random" : "lhs",
           (unsigned long long)r.n_done, (unsigned long long)left,
           size > 1 ? "MPI ranks, workers:" : "local workers:",
           size > 1 ? (long)size - 1 : (o->jobs < (long)left ? o->jobs : (long)(left ? left : 1)));
    fflush(stdout);
    sweep_progress pg;
    sweep_progress_start(&pg, left, o->quiet ? -1 : o->progress ? 1 : 0);
    if (left > 0 || size > 1) { /* under MPI the workers wait for their stop even then */
        long jobs = o->jobs < (long)left ? o->jobs : (long)left;
        rc = size > 1 ? sweep_run_master(s, &r, fd, size, &pg, &d)
                      : sweep_run_local(s, m, &r, fd, (int)jobs, &pg, &d);
        if (left > 0) sweep_progress_end(&pg);
        if (rc) {
            fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
            goto out;
        }
    }
    sweep_pareto(s, &r);
    uint64_t errors = 0, front = 0;
    for (uint64_t i = 0; i < r.n_points; i++) {
        errors += r.done[i] && !r.ok[i];
        front += r.pareto[i];
    }
    snprintf(path, sizeof path, "%s.csv", prefix);
    if ((rc = sweep_write_csv(s, &r, path, &d))) goto fail;
    snprintf(path, sizeof path, "%s.json", prefix);
    if ((rc = sweep_write_json(s, &r, path, &d))) goto fail;
    if (o->plot && (rc = sweep_write_svg(s, &r, o->plot, &d))) goto fail;
    printf("results  %llu points, %llu failed, %llu on the Pareto front: %s.csv, %s.json%s%s\n",
           (unsigned long long)r.n_done, (unsigned long long)errors, (unsigned long long)front,
           prefix, prefix, o->plot ? ", " : "", o->plot ? o->plot : "");
    ex = 0;
    goto out;
fail:
    fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
out:
    if (fd >= 0) close(fd);
    sweep_results_free(&r);
    return ex;
}

int cli_cmd_sweep(int argc, char **argv)
{
    sweep_opts o;
    int r = parse(argc, argv, &o);
    if (r) return r > 0 ? 0 : CLI_EXIT_USAGE;
    int rank = 0, size = 1;
    aimc_diag d = {{0}};
    if (sweep_mpi_init(&argc, &argv, &rank, &size, &d)) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        return CLI_EXIT_WORK;
    }
    sweep_spec *s = calloc(1, sizeof *s);
    aimc_model *m = NULL;
    int ex = CLI_EXIT_WORK;
    if (!s) {
        fprintf(stderr, "%s: out of memory\n", cli_prog);
        goto out;
    }
    if ((ex = load(&o, rank, s, &m))) goto out;
    if (rank == 0) {
        ex = master(&o, s, m, size);
        if (ex && size > 1) {
            /* workers may still wait for points: end the job */
            sweep_mpi_abort(ex);
        }
    } else if (sweep_run_worker(s, m, &d)) {
        ex = CLI_EXIT_WORK;
    }
out:
    aimc_model_free(m);
    sweep_spec_free(s);
    free(s);
    sweep_mpi_finalize();
    return ex;
}
