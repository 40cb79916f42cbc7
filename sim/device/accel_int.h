/* accel_int.h - the accelerator model's state, shared by sim/device/accel.c (registers, reset,
 * split execution), exec.c (checks and values of each command) and sched.c (the command
 * processor on the event engine). Not API: callers use aimc_accel.h. */
#ifndef AIMC_ACCEL_INT_H
#define AIMC_ACCEL_INT_H

#include <stdint.h>

#include "aimc_accel.h"
#include "aimc_cost.h"
#include "aimc_engine.h"
#include "aimc_regs.h"
#include "aimc_xbar.h"

/* Device limits, reported by the CAP_MAX_* registers. They keep every size product far
 * below 2^63: rows * cols * 4 <= 2^34 bytes, batch * dim * 4 <= 2^34 bytes; a digital
 * command or a readback touches at most DEV_MAX_ELEMS floats (64 MiB) per buffer. */
#define DEV_MAX_MATRICES ((uint32_t)AIMC_XBAR_MAX_MATRICES)
#define DEV_MAX_DIM 65536u
#define DEV_MAX_BATCH 65536u
#define DEV_MAX_TILES (1u << 20)
#define DEV_MAX_RING 65536u
#define DEV_MAX_ELEMS (1u << 24)
#define DEV_MAX_VERIFY 1000u
#define DEV_RMS_EPS 1e-6 /* the runtime's RMS norm epsilon (driver/runtime/aimc_rt.h) */
#define DEV_MAX_OPERANDS 5

/* How a command's values work is bounded in host time (docs/engine.md, "How work is
 * bounded"). The work is done in pieces: a piece does about DEV_WORK_PIECE operations, an
 * operation being about as much host work as a byte of a DMA transfer into fresh memory or
 * an element of a digital command's pass (TOPK's heap: 8 per level an entry moves; SILU: 16
 * per element; an MVM: a physical cell per vector, at least one vector per piece), and
 * aimc_accel_run does one piece's worth per call, so the host looks at its clock between
 * pieces (about 3 ms apart on the development machine). A DMA transfer goes in callbacks of
 * at most DEV_DMA_PIECE bytes. */
#define DEV_WORK_PIECE (1u << 20)
#define DEV_DMA_PIECE (1u << 20)

/* The performance counters (CNT_*); energies in pJ, the registers read fJ. */
typedef struct dev_counters {
    uint64_t cycles, mvms, adc_conv, adc_sat, xbar_reads, digital_ops, cells_prog;
    double dac_drives;
    double energy_pj[AIMC_PART_COUNT];
    double noc_bytes, link_bytes, host_bytes; /* traffic (CNT_*_BYTES) */
} dev_counters;

/* A programmed matrix, as the device knows it (the values live in the aimc_xbar). */
typedef struct dev_mat {
    uint32_t rows, cols;
    aimc_cost_mvm *cost; /* NULL: not programmed */
} dev_mat;

/* A host address range a command reads or writes. */
typedef struct dev_operand {
    uint64_t addr, bytes;
    int write;
    uint64_t move;  /* reads: bytes the command brings to where it runs (0: none) */
    aimc_loc loc;   /* reads: where the data lies when the command is fetched */
} dev_operand;

typedef enum { CMD_FREE = 0, CMD_WAIT, CMD_RUN, CMD_FINISHED, CMD_RETIRED } dev_cmd_state;

/* A command: what exec.c found (its errors, its operands, its work) and where sched.c has it. */
typedef struct dev_cmd {
    dev_cmd_state state;
    uint64_t fence;
    uint32_t slot;
    uint32_t op, flags;
    uint32_t err, info;       /* ERROR bits (0 = OK) and the detail */
    dev_operand opd[DEV_MAX_OPERANDS];
    int n_opd;
    /* the work */
    uint32_t matrix;          /* MVM, READBACK, PROGRAM */
    const aimc_cost_mvm *mcost; /* that matrix's placement when the command was dispatched */
    uint64_t vectors;         /* MVM, READBACK */
    aimc_dig dig;             /* digital commands */
    uint64_t dig_ops;
    uint64_t dig_in, dig_out; /* bytes the units read and write in their buffer */
    uint64_t kv_read, kv_write; /* ATTN: bytes of its KV cache (aimc_cost_kv) */
    int anchor;               /* the operand whose data decides where a digital command runs
                              * (-1: a matrix's home) */
    aimc_loc at;              /* where it runs; its outputs lie there */
    uint64_t out_bytes;       /* outputs (to the host when FLAG_TO_HOST) */
    uint64_t prog_cycles;     /* PROGRAM */
    uint64_t prog_bytes;      /* PROGRAM: weights and tile table from the host */
    /* what it counts, added to the counters when it completes */
    dev_counters cnt;
    aimc_cost_events ev;
    /* dependencies */
    uint32_t n_deps;          /* unfinished earlier commands it waits for */
    uint32_t *waiters;        /* slots of later commands waiting for it */
    uint32_t n_waiters, cap_waiters;
} dev_cmd;

/* A command being executed (exec.c): its descriptor, where its checks and its values work
 * have got to, and the host copies of its operands. Opened by dev_exec_begin, advanced by
 * dev_exec_step within a budget of operations, closed when the command is complete (its
 * outputs stored, its dev_cmd filled) or dropped (a reset). */
typedef struct dev_work {
    int open;
    dev_cmd *c;
    uint8_t desc[AIMC_DESC_BYTES];
    int64_t budget;           /* operations left for this piece; <= 0: stop at the next check */
    int phase;                /* the command's own step */
    uint32_t err, info;       /* ERROR bits (0 = OK) and the detail, as in dev_cmd */
    /* a DMA transfer under way */
    int dma_open;
    uint64_t dma_done;
    /* shapes and loop positions */
    uint32_t id, batch, n, k, dim, rows, cols, src_rows, row0;
    uint64_t i, j, bytes;
    double acc;
    /* host copies of operands and results */
    float *x, *y, *u, *wt;
    uint8_t *ix, *ox;
    /* TOPK: a heap of the k best of a vector, the chosen ones in order, NaN bookkeeping */
    void *heap;               /* k entries of exec.c's topk_ent */
    uint32_t *sel, hn, nsel, nnan;
    uint8_t *taken;
    double *p;
    aimc_xbar_stats st;
    /* ROUTE, NORM, ACT, ATTN (exec_ext.c) */
    uint8_t rec[48];          /* the RULE or ATTN record, as read (AIMC_REC_*_BYTES) */
    uint32_t pos0;            /* ATTN: the first query's position */
    uint64_t t, h;            /* ATTN: the query (token) and head being attended */
    double sum;               /* ROUTE: a softmax's sum; ATTN: the head's (acc: its max score) */
    float *kc, *vc;           /* ATTN: the cache's keys and values, positions 0 .. pos0 + batch - 1 */
    double *pv;               /* ATTN: a head's output sums (dv) */
    void *aux;                /* ROUTE: the group scores */
} dev_work;

/* A chip's resources on the engine, created when the chip first works. */
typedef struct dev_chip {
    int link, noc, buffer, bus, units, cores; /* -1 until created */
    int kv;                                   /* the off-chip KV memory port */
} dev_chip;

/* Where the data of an address range lies (the latest writer's output), for ranges the
 * device wrote; everything else is in host memory. Sorted, disjoint. */
typedef struct dev_where {
    uint64_t lo, hi;
    aimc_loc loc;
} dev_where;

struct aimc_accel {
    aimc_arch arch;
    uint64_t seed;
    aimc_accel_host host;
    aimc_accel_opts opts;
    char trace_path[4096];
    aimc_xbar *xbar;          /* values; NULL when timing-only or when a reset failed */
    int machine_ok;           /* 0 only when a reset could not recreate the machine */

    /* registers */
    uint32_t ctrl;
    uint32_t error;
    uint64_t error_fence;
    uint32_t error_info;
    uint32_t irq_status;
    uint32_t irq_mask;
    uint64_t ring_base;
    uint32_t ring_size;
    uint32_t ring_head;       /* completed prefix */
    uint32_t ring_tail;
    uint32_t ring_fetch;      /* dispatched */
    uint32_t ring_fetched;    /* past the last descriptor fetched (a burst fetched but not all
                               * dispatched lies between ring_fetch and it) */
    uint64_t done_fence;
    uint32_t watchdog_us;
    dev_counters cnt;
    int halted;               /* the watchdog fired */
    int irq_line;
    uint64_t irq_raised;      /* interrupt causes raised since creation (aimc_accel_run's edge) */
    uint32_t latch_off;       /* HI offset whose half is latched; 0 = none */
    uint32_t latch_hi;
    uint64_t idle_ns;         /* idle device time while commands are pending */
    uint32_t hang_after;      /* fault injection: commands left before the processor hangs */
    int hung;
    int ring_stopped;         /* a descriptor fetch faulted: no further fetch until reset */
    int64_t dma_slot;         /* the command whose dispatch is calling DMA, or -1 */
    aimc_accel_done_fn done_hook; /* aimc_accel_set_done_hook */

    /* matrices */
    dev_mat *mats;
    uint32_t mats_cap;
    aimc_accel_prof *prof_mat;   /* per matrix id, prof_cap entries (aimc_accel_profile) */
    uint32_t prof_cap;
    aimc_accel_prof prof_op[AIMC_ACCEL_PROF_OPS]; /* per opcode */
    aimc_cost_mvm **stale;    /* placements a PROGRAM replaced while commands were in flight */
    uint32_t n_stale, cap_stale;

    /* the command processor */
    aimc_eng *eng;
    int fetching;             /* a fetch event is scheduled or a burst is in flight */
    dev_cmd *cmds;            /* ring_size entries, by slot */
    uint32_t cmds_cap;
    int host_in, host_out;    /* engine resources */
    dev_chip *chips;
    uint64_t n_chips;
    int eng_err;              /* an engine call failed (overflow, out of memory) */
    dev_where *where;
    size_t n_where, cap_where;
    /* a fetched burst being dispatched: while a command of it is open (work.open), no
     * event runs and the clock stands still (sched.c) */
    uint8_t burst[AIMC_COST_FETCH_BURST * AIMC_DESC_BYTES];
    uint32_t burst_n, burst_i; /* descriptors in the burst (0: none), the next to dispatch */
    dev_work work;

    /* split execution (aimc_accel_cmd_*): the analog job in flight */
    aimc_xbar_mvm_run *job;
    uint8_t job_desc[AIMC_DESC_BYTES];
    uint32_t job_out_field;   /* descriptor field of the output address */
    uint64_t job_out_bytes;
    uint32_t job_tiles_max;   /* the control path's tile table: larger jobs fail; 0 = none */
    dev_cmd split_cmd;        /* the open command's counts */
};

/* ---- exec.c ---- */

/* Check the descriptor and, with values, execute it (reading and writing host memory now):
 * fills c (errors, operands, work, what it counts). matrix state changes here (PROGRAM).
 * The data locations of its reads are looked up by the caller. All at once. */
void dev_exec(aimc_accel *dev, const uint8_t *desc, dev_cmd *c);
/* The same in pieces: begin opens w on desc for c (nothing done yet); each step does the
 * command's checks and work until w->budget is spent (an MVM's vectors and a PROGRAM may
 * overrun it by one piece) and returns 1 when the command is complete (w closed, c filled as
 * dev_exec fills it), 0 when more remains. The results do not depend on where the pieces
 * end. dev_exec_drop frees an open command's work (nothing more is written). */
void dev_exec_begin(aimc_accel *dev, dev_work *w, const uint8_t *desc, dev_cmd *c);
int dev_exec_step(aimc_accel *dev, dev_work *w);
void dev_exec_drop(dev_work *w);
/* The checks every descriptor gets: opcode, flags, reserved bytes; ERROR bits or 0. */
uint32_t dev_check_header(const uint8_t *desc, uint32_t *info);
/* An MVM's or READBACK's checks and input (split execution opens the job itself). */
uint32_t dev_mvm_prepare(aimc_accel *dev, const uint8_t *desc, uint32_t *info, uint32_t *id,
                         uint32_t *batch, float **x, float **y, uint64_t *y_bytes);
uint32_t dev_readback_prepare(aimc_accel *dev, const uint8_t *desc, uint32_t *info,
                              uint32_t *id, uint32_t *nrows, float **x, float **y,
                              uint64_t *y_bytes);
uint32_t dev_dma_store(aimc_accel *dev, const uint8_t *desc, uint32_t field, const void *src,
                       uint64_t n, uint32_t *info);
int dev_dma_read(aimc_accel *dev, uint64_t addr, void *dst, size_t n);
int dev_dma_write(aimc_accel *dev, uint64_t addr, const void *src, size_t n);
void dev_mats_clear(aimc_accel *dev);
/* A matrix's placement was replaced: keep the old one until nothing in flight can use it. */
void dev_cost_retire(aimc_accel *dev, aimc_cost_mvm *m);
/* Free the replaced placements (nothing in flight). */
void dev_cost_reap(aimc_accel *dev);
/* The MVM part of a command's counts: shape events from the cost layer, drives and charge
 * from the values (st) or the assumed activity. */
void dev_count_mvm(aimc_accel *dev, dev_cmd *c, const aimc_cost_mvm *m, uint64_t vectors,
                   const aimc_xbar_stats *st);

/* ---- exec_ext.c: ROUTE, NORM, ACT, ATTN (run in pieces: exec_int.h) ---- */

/* The reserved ranges [from, to) and [from2, to2) of opcode op: 1 when it is one of them. */
int dev_ext_reserved(uint32_t op, uint32_t *from, uint32_t *to, uint32_t *from2, uint32_t *to2);
/* Whether opcode op is one of them (a digital command). */
int dev_ext_is_dig(uint32_t op);

/* ---- sched.c ---- */

int dev_sched_init(aimc_accel *dev, aimc_diag *d);   /* engine and resources */
void dev_sched_fini(aimc_accel *dev);
void dev_doorbell(aimc_accel *dev);
int dev_ring_alloc(aimc_accel *dev, uint32_t size); /* the command table; 0 or -1 */
/* Where the data of [addr, addr + bytes) lies (its first byte's). */
aimc_loc dev_where_is(const aimc_accel *dev, uint64_t addr);
void dev_where_set(aimc_accel *dev, uint64_t addr, uint64_t bytes, aimc_loc loc);
/* The data movement of c with the free booker (no time): for split execution's energy. */
void dev_account_free(aimc_accel *dev, dev_cmd *c);
/* Add a completed command's counts and energy to the counters. */
void dev_count(aimc_accel *dev, const dev_cmd *c);
/* Add what ev moved and did to the device's energy and traffic counters. */
void dev_add_events(aimc_accel *dev, const aimc_cost_events *ev);

/* ---- accel.c ---- */
void dev_update_irq(aimc_accel *dev);
void dev_raise_error(aimc_accel *dev, uint32_t bits, uint64_t fence, uint32_t info);

#endif /* AIMC_ACCEL_INT_H */
