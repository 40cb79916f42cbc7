/* sweep.h - design-space sweeps: the spec, its points, the metric table, the append log,
 * the Pareto front and the result files of `aimc sweep` (docs/dse.md).
 *
 * The parts here print nothing and keep no global state: a spec is parsed into a sweep_spec,
 * a point's values are a pure function of (spec, point index), a finished point becomes one
 * checksummed line of the append log, and the result files are written from the results
 * gathered out of that log, sorted by point index. The running of points (local worker
 * processes, MPI ranks) lives in sweep_run.c and the MPI transport in sweep_mpi.c (or
 * sweep_nompi.c when the build has no MPI).
 */
#ifndef AIMC_SWEEP_H
#define AIMC_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aimc_arch.h"
#include "aimc_map.h"
#include "aimc_cost.h"
#include "aimc_rt.h"
#include "aimc_status.h"

#define SWEEP_MAX_DIMS 16       /* varied dimensions */
#define SWEEP_MAX_KEYS 8        /* keys set together by one dimension */
#define SWEEP_MAX_VALUES 100000 /* values of one dimension (after expanding a range) */
#define SWEEP_MAX_POINTS 10000000
#define SWEEP_MAX_METRICS 32
#define SWEEP_MAX_OBJECTIVES 8
#define SWEEP_MAX_SETS 64       /* fixed base overrides */
#define SWEEP_KEY_LEN 64
#define SWEEP_VALUE_LEN 48
#define SWEEP_PATH_LEN 4096
#define SWEEP_LINE_MAX 8192     /* longest log line */
#define SWEEP_SEED_KEY "seed"   /* the varied key that sets the run's seed, not a config key */

typedef enum { SWEEP_GRID = 0, SWEEP_RANDOM, SWEEP_LHS } sweep_method;

/* One varied dimension: one key, or several keys set together (tied). A discrete dimension
 * has n_values tuples of n_keys strings (a list, or a range or log range with a step); a
 * continuous one (a range or log range without a step) is sampled between lo and hi. */
typedef struct sweep_dim {
    int n_keys;
    char keys[SWEEP_MAX_KEYS][SWEEP_KEY_LEN];
    int key_is_int[SWEEP_MAX_KEYS]; /* the key takes integers only: sampled values rounded */
    int continuous;
    int log_scale;                  /* continuous: log-uniform between lo and hi */
    double lo, hi;                  /* continuous */
    size_t n_values;                /* discrete */
    char (*values)[SWEEP_VALUE_LEN];/* discrete: values[v * n_keys + k] */
    int line, col;                  /* where the dimension is written */
} sweep_dim;

typedef struct sweep_spec {
    char path[SWEEP_PATH_LEN];   /* the spec file as given */
    char name[64];
    char config_path[SWEEP_PATH_LEN]; /* "" = built-in defaults */
    char *config_text;           /* the base config's bytes (NULL: defaults) */
    char model_path[SWEEP_PATH_LEN];
    size_t n_sets;               /* fixed overrides applied before the varied keys */
    char sets[SWEEP_MAX_SETS][160];
    uint64_t seed;               /* run seed (noise and tokens), unless the key "seed" varies */
    long tokens;
    char backend[64];

    sweep_method method;
    uint64_t sample_seed;        /* random and lhs */
    uint64_t n_points;

    size_t n_dims;
    sweep_dim dims[SWEEP_MAX_DIMS];

    size_t n_metrics;
    int metrics[SWEEP_MAX_METRICS];      /* indices into the metric table */
    size_t n_objectives;
    int obj[SWEEP_MAX_OBJECTIVES];       /* index into metrics[] */
    int obj_max[SWEEP_MAX_OBJECTIVES];   /* 1: maximise, 0: minimise */

    int plot_x, plot_y;                  /* index into metrics[] */
    int plot_color;                      /* dimension colouring the points, -1: none */

    uint64_t hash;  /* of the spec, base config and model files' bytes: names the log */
    size_t *lhs_perm; /* SWEEP_LHS: n_dims x n_points strata */
} sweep_spec;

/* Parse a spec file. Paths in it (base.config, base.model) are relative to the spec file's
 * directory. Every error names file:line:col and the key:
 *   sweeps/x.yaml:9:14: vary[1].values[2]: --set adc.bits=99: adc.bits: expected ...
 * Returns AIMC_OK, AIMC_ERR_IO, AIMC_ERR_PARSE or AIMC_ERR_CONFIG. Free with
 * sweep_spec_free() (also after a failure). */
int sweep_spec_load(const char *path, sweep_spec *s, aimc_diag *d);
int sweep_spec_load_string(const char *text, const char *name, sweep_spec *s, aimc_diag *d);
void sweep_spec_free(sweep_spec *s);
/* Set the model (base.model, else default_model) and fold its bytes into the spec's hash. */
int sweep_spec_add_model(sweep_spec *s, const char *default_model, aimc_diag *d);

/* Total columns of varied values (sum of n_keys) and the name of column c. */
size_t sweep_value_columns(const sweep_spec *s);
const char *sweep_value_column(const sweep_spec *s, size_t c);

/* The values of point idx (< n_points): vals[c] for each value column, as the text given
 * to --set. A pure function of the spec and idx. */
typedef struct sweep_point {
    uint64_t index;
    size_t n;
    char vals[SWEEP_MAX_DIMS * SWEEP_MAX_KEYS][SWEEP_VALUE_LEN];
    size_t dim_value[SWEEP_MAX_DIMS]; /* discrete dims: the value's index */
} sweep_point;
int sweep_point_get(const sweep_spec *s, uint64_t idx, sweep_point *p);

/* The config of a point: base config, base.set, then the point's config keys as --set
 * assignments (through aimc_cfg_load_string, so every key of the config table can vary).
 * *seed receives the run seed. Errors (an invalid combination) come back in d. */
int sweep_point_arch(const sweep_spec *s, const sweep_point *p, aimc_arch *a, uint64_t *seed,
                     aimc_diag *d);

/* ---- metrics --------------------------------------------------------------------------- */

/* What one evaluated point offers to the metric table. */
typedef struct sweep_measure {
    const aimc_arch *arch;
    const aimc_plan *plan;
    const aimc_rt_report *rep;
    const aimc_peak *peak;
    const struct cli_deploy *deploy; /* NULL: not measured */
} sweep_measure;

typedef struct sweep_metric {
    const char *name;  /* CSV column and JSON key */
    const char *unit;  /* "pJ", "ns", "1" (ratio), "mm^2", ... */
    const char *label; /* axis label text, without the unit */
    const char *doc;   /* one line, docs/dse.md */
    double (*get)(const sweep_measure *m);
} sweep_metric;

size_t sweep_metric_count(void);
const sweep_metric *sweep_metric_at(size_t i); /* NULL when out of range */
int sweep_metric_find(const char *name);       /* index, or -1 */

/* ---- results and the append log --------------------------------------------------------- */

typedef struct sweep_results {
    uint64_t n_points;
    size_t n_metrics;
    unsigned char *done;   /* per point: 1 when its line was read or appended */
    unsigned char *ok;     /* per point: evaluated without error */
    unsigned char *pareto; /* per point: on the Pareto front (sweep_pareto) */
    double *m;             /* n_points x n_metrics */
    char **error;          /* per point: the error text of a failed point, else NULL */
    uint64_t n_done;
    uint64_t n_corrupt;    /* log lines rejected (bad checksum, torn, malformed) */
    uint64_t n_duplicate;  /* valid lines for an already finished point (ignored) */
} sweep_results;

int sweep_results_init(sweep_results *r, uint64_t n_points, size_t n_metrics);
void sweep_results_free(sweep_results *r);

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as in zlib and PNG). */
uint32_t sweep_crc32(const void *data, size_t len);

/* One log line for a finished point, checksum and newline included:
 *   "<index>\tok\t<metric>\t...\t<crc32 hex>\n" or "<index>\terror\t<message>\t<crc32>\n"
 * Metrics are written with the fewest digits that read back to the same double. Returns the
 * length, or -1 when cap is too small. */
int sweep_log_format(const sweep_spec *s, uint64_t idx, int ok, const double *m,
                     const char *err, char *buf, size_t cap);
/* The log's first line: "aimc-sweep-log 1\t<hash>\t<points>\t<metrics>\t<crc>\n". */
int sweep_log_header(const sweep_spec *s, char *buf, size_t cap);

/* Read one line (without its newline) into r. Returns AIMC_OK, or AIMC_ERR_PARSE for a
 * corrupt line (checksum, fields, index out of range), counted in r->n_corrupt by the
 * caller. A valid line of a point already done counts as a duplicate and changes nothing. */
int sweep_log_read_line(const sweep_spec *s, const char *line, size_t len, sweep_results *r);

/* Open the append log at path for spec s: create it with its header, or read the finished
 * points of an existing one into r (cut a torn last line off first). A log of another spec
 * (different hash) is AIMC_ERR_CONFIG ("...: written for another spec ..."), unless restart
 * is set, which empties it. *fd receives the descriptor, opened O_APPEND. */
int sweep_log_open(const sweep_spec *s, const char *path, int restart, sweep_results *r,
                   int *fd, aimc_diag *d);
/* Append one formatted line with a single write(2); a short write is AIMC_ERR_IO. */
int sweep_log_append(int fd, const char *line, size_t len, aimc_diag *d);
/* Record a formatted line in r too (the writer of the log keeps r current). */
int sweep_results_add(const sweep_spec *s, sweep_results *r, const char *line, size_t len);

/* Mark r->pareto: the finished, error-free points with finite objectives that no other such
 * point dominates (at least as good in every objective, better in one). */
void sweep_pareto(const sweep_spec *s, sweep_results *r);

/* The result files, each written to PATH.tmp and renamed, sorted by point index.
 * CSV columns: point, every value column, status, every metric, pareto. */
int sweep_write_csv(const sweep_spec *s, const sweep_results *r, const char *path,
                    aimc_diag *d);
int sweep_write_json(const sweep_spec *s, const sweep_results *r, const char *path,
                     aimc_diag *d);
/* An SVG scatter of metric plot_y against plot_x, the front highlighted. */
int sweep_write_svg(const sweep_spec *s, const sweep_results *r, const char *path,
                    aimc_diag *d);

/* The shortest "%.*g" text of v that strtod reads back exactly. */
void sweep_format_double(double v, char *buf, size_t cap);

/* ---- running points (sweep_run.c) and the MPI transport (sweep_mpi.c / sweep_nompi.c) ----- */

/* Progress on a terminal: "\r  12/28 points, 3.4/s, 5 s left" on stderr, at most 5 times a
 * second; nothing when stderr is not a terminal or quiet is set. */
typedef struct sweep_progress {
    int on;
    uint64_t total, done;
    double t0, last;
} sweep_progress;
/* mode: -1 never (--quiet), 0 on a terminal (stderr), 1 always (--progress). */
void sweep_progress_start(sweep_progress *pg, uint64_t total, int mode);
void sweep_progress_step(sweep_progress *pg);
void sweep_progress_end(sweep_progress *pg);

/* Evaluate point idx (base config + varied keys, cli_evaluate, peak figures) into its log
 * line; a point that fails (an invalid combination, a model that does not fit) gives an
 * error line. Returns the line's length, or -1 when cap is too small. */
int sweep_eval_point(const sweep_spec *s, const aimc_model *m, uint64_t idx, char *line,
                     size_t cap);

/* Run every point not yet done in r on `jobs` forked worker processes (points handed out one
 * at a time as workers become free), appending each finished line to the log at log_fd and
 * recording it in r. A worker that dies is recorded as an error of its point. */
int sweep_run_local(const sweep_spec *s, const aimc_model *m, sweep_results *r, int log_fd,
                    int jobs, sweep_progress *pg, aimc_diag *d);

/* MPI: rank 0 hands the points not done out to ranks 1..size-1 on request and appends the
 * lines they return; the workers evaluate until told to stop. */
int sweep_run_master(const sweep_spec *s, sweep_results *r, int log_fd, int size,
                     sweep_progress *pg, aimc_diag *d);
int sweep_run_worker(const sweep_spec *s, const aimc_model *m, aimc_diag *d);

/* The transport. sweep_mpi_init initialises MPI only when the process was started by an MPI
 * launcher with more than one process (OMPI_COMM_WORLD_SIZE or PMI_SIZE above 1); otherwise
 * *rank = 0, *size = 1 and MPI is never touched. A build without MPI fails there with
 * AIMC_ERR_UNSUPPORTED. Indices go master -> worker (-1: stop), lines worker -> master (an
 * empty line asks for work). */
int sweep_mpi_init(int *argc, char ***argv, int *rank, int *size, aimc_diag *d);
int sweep_mpi_send_index(int dest, int64_t idx);
int sweep_mpi_recv_index(int64_t *idx);
int sweep_mpi_send_line(const char *line, size_t len);
int sweep_mpi_recv_line(int *src, char *buf, size_t cap, size_t *len);
void sweep_mpi_finalize(void);
void sweep_mpi_abort(int code);
/* The size an MPI launcher announced in the environment, or 1. */
int sweep_mpi_env_size(void);

/* The subcommand (tools/cmd_sweep.c), listed in the command table of tools/aimc.c. */
int cli_cmd_sweep(int argc, char **argv);
void cli_usage_sweep(FILE *f);

#endif /* AIMC_SWEEP_H */
