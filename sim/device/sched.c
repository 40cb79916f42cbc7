/* sched.c - the accelerator's command processor on the event engine: descriptor fetch,
 * dependencies between commands, the work of each command booked on the machine's
 * resources with the cost layer's schedules, completion and the interrupt, the watchdog
 * (aimc_accel.h; the model in docs/engine.md, "The device owns time").
 *
 * A command goes through these events: fetched (in bursts, by DMA over the host link),
 * dispatched in ring order (exec.c computes its values, its operands and its work; it waits
 * for every earlier unfinished command that writes what it reads or touches what it writes),
 * then its stages in (operands brought to where it runs), run (cores or units), out (partial
 * sums reduced, results to the host when FLAG_TO_HOST), finished (later commands waiting
 * for it start), and retired when its status word has reached host memory. Every booking
 * is made by the event that needs the resource, at that event's time, so resources serve
 * requests in simulated-time order.
 *
 * A dispatch does the command's values work in pieces (exec.c, dev_exec_step). When the
 * piece's budget runs out with a command open, the dispatch event stops the engine (it
 * returns a negative code, so the events behind it stay queued) and aimc_accel_run resumes
 * the burst at its next call before anything else: the events run in the order, and at the
 * cycles, they would have run in had the burst been dispatched at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel_int.h"

enum { EV_FETCH = 0, EV_DISPATCH, EV_IN, EV_RUN, EV_OUT, EV_FINISH, EV_RETIRE };

static int event(aimc_eng *e, void *payload, uint64_t arg);

/* The scheduler cannot go on (out of memory, or a time past 2^64 cycles): the command
 * processor stops, as on a ring fault (ERROR.INTERNAL and ERROR.RING: the driver's waits end
 * with a device error, and a soft reset recovers). */
static void sched_fail(aimc_accel *dev)
{
    if (dev->eng_err) return;
    dev->eng_err = 1;
    dev->ring_stopped = 1;
    dev_raise_error(dev, AIMC_REG_ERROR_INTERNAL | AIMC_REG_ERROR_RING, 0, 0);
}

static void schedule(aimc_accel *dev, uint64_t cycle, int kind, uint64_t x)
{
    if (aimc_eng_at(dev->eng, cycle, event, dev, x << 8 | (uint64_t)kind) != AIMC_OK)
        sched_fail(dev);
}

/* ---- resources ------------------------------------------------------------------------ */

static int res_array(aimc_accel *dev, const char *name, uint32_t track, uint64_t units,
                     int *id)
{
    if (units < 1) units = 1;
    if (units > AIMC_ENG_ARRAY_UNITS_MAX) units = AIMC_ENG_ARRAY_UNITS_MAX;
    return aimc_eng_array_add(dev->eng, name, track, (uint32_t)units, id, NULL);
}

static const dev_chip *chip_get(aimc_accel *dev, uint32_t chip)
{
    if (chip >= dev->n_chips) return NULL;
    dev_chip *c = &dev->chips[chip];
    if (c->cores < 0) {
        const aimc_arch *a = &dev->arch;
        const uint64_t clusters = aimc_cost_clusters_per_chip(a);
        char name[AIMC_ENG_NAME_MAX];
        int rc = 0;
        snprintf(name, sizeof name, "chip%u.link", chip);
        rc |= res_array(dev, name, chip, 1, &c->link);
        snprintf(name, sizeof name, "chip%u.noc", chip);
        rc |= res_array(dev, name, chip, 1, &c->noc);
        snprintf(name, sizeof name, "chip%u.buffer", chip);
        rc |= res_array(dev, name, chip, clusters, &c->buffer);
        snprintf(name, sizeof name, "chip%u.bus", chip);
        rc |= res_array(dev, name, chip, clusters, &c->bus);
        snprintf(name, sizeof name, "chip%u.units", chip);
        rc |= res_array(dev, name, chip, clusters, &c->units);
        snprintf(name, sizeof name, "chip%u.cores", chip);
        rc |= res_array(dev, name, chip, (uint64_t)a->hierarchy.cores_per_chip, &c->cores);
        snprintf(name, sizeof name, "chip%u.kv", chip);
        rc |= res_array(dev, name, chip, 1, &c->kv);
        if (rc) {
            c->cores = -1;
            return NULL;
        }
    }
    return c;
}

/* The booker of the device: every booking on the engine resource it names. */
static uint64_t dev_book(void *ctx, const aimc_cost_booking *b, int probe)
{
    aimc_accel *dev = ctx;
    int id = -1;
    uint32_t first = b->unit, count = b->count ? b->count : 1;
    if (b->res == AIMC_RES_HOST_IN || b->res == AIMC_RES_HOST_OUT) {
        id = b->res == AIMC_RES_HOST_IN ? dev->host_in : dev->host_out;
        first = 0;
        count = 1;
    } else {
        const dev_chip *c = chip_get(dev, b->chip);
        if (c) switch (b->res) {
            case AIMC_RES_LINK: id = c->link; first = 0; count = 1; break;
            case AIMC_RES_NOC: id = c->noc; first = 0; count = 1; break;
            case AIMC_RES_BUFFER: id = c->buffer; break;
            case AIMC_RES_BUS: id = c->bus; break;
            case AIMC_RES_UNITS: id = c->units; break;
            case AIMC_RES_CORES: id = c->cores; break;
            case AIMC_RES_KV: id = c->kv; first = 0; count = 1; break;
            default: break;
            }
    }
    uint64_t t = b->ready;
    if (id < 0) {
        sched_fail(dev);
        return probe ? t : (t > UINT64_MAX - b->busy ? t : t + b->busy);
    }
    if (probe) {
        if (aimc_eng_array_free_at(dev->eng, id, first, count, b->ready, &t)) sched_fail(dev);
        return t;
    }
    if (aimc_eng_array_reserve(dev->eng, id, first, count, b->ready, b->busy, &t)) {
        sched_fail(dev);
        return b->ready;
    }
    return t;
}

int dev_sched_init(aimc_accel *dev, aimc_diag *d)
{
    int rc = aimc_eng_create(&dev->eng);
    if (rc) return aimc_diag_set(d, rc, "device: cannot create the event engine");
    dev->n_chips = (uint64_t)dev->arch.hierarchy.chips;
    dev->chips = malloc(dev->n_chips * sizeof *dev->chips);
    if (!dev->chips) return aimc_diag_set(d, AIMC_ERR_NOMEM, "device: out of memory");
    for (uint64_t i = 0; i < dev->n_chips; i++)
        dev->chips[i] = (dev_chip){-1, -1, -1, -1, -1, -1, -1};
    if ((rc = res_array(dev, "host_in", UINT32_MAX, 1, &dev->host_in)) ||
        (rc = res_array(dev, "host_out", UINT32_MAX, 1, &dev->host_out)))
        return aimc_diag_set(d, rc, "device: cannot create the host link");
    if (dev->trace_path[0] &&
        (rc = aimc_eng_trace_open(dev->eng, dev->trace_path, dev->arch.clock.frequency_mhz, d)))
        return rc;
    return AIMC_OK;
}

void dev_sched_fini(aimc_accel *dev)
{
    dev_exec_drop(&dev->work); /* a command being dispatched is dropped: nothing more is written */
    dev->burst_n = dev->burst_i = 0;
    if (dev->eng && dev->trace_path[0]) (void)aimc_eng_trace_close(dev->eng, NULL);
    aimc_eng_destroy(dev->eng);
    dev->eng = NULL;
    free(dev->chips);
    dev->chips = NULL;
    if (dev->cmds)
        for (uint32_t i = 0; i < dev->cmds_cap; i++) free(dev->cmds[i].waiters);
    free(dev->cmds);
    dev->cmds = NULL;
    dev->cmds_cap = 0;
    free(dev->where);
    dev->where = NULL;
    dev->n_where = dev->cap_where = 0;
    dev->fetching = 0;
    dev->eng_err = 0;
}

int dev_ring_alloc(aimc_accel *dev, uint32_t size)
{
    if (dev->cmds_cap >= size) return 0;
    dev_cmd *c = calloc(size, sizeof *c);
    if (!c) return -1;
    if (dev->cmds)
        for (uint32_t i = 0; i < dev->cmds_cap; i++) free(dev->cmds[i].waiters);
    free(dev->cmds);
    dev->cmds = c;
    dev->cmds_cap = size;
    return 0;
}

/* ---- where data lies ---------------------------------------------------------------------- */

aimc_loc dev_where_is(const aimc_accel *dev, uint64_t addr)
{
    size_t lo = 0, hi = dev->n_where;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (dev->where[mid].hi <= addr) lo = mid + 1;
        else hi = mid;
    }
    if (lo < dev->n_where && dev->where[lo].lo <= addr) return dev->where[lo].loc;
    return (aimc_loc){AIMC_LOC_HOST, 0};
}

/* Make room at index i for k more entries. */
static int where_open(aimc_accel *dev, size_t i, size_t k)
{
    if (dev->n_where + k > dev->cap_where) {
        size_t cap = dev->cap_where ? 2 * dev->cap_where : 64;
        while (cap < dev->n_where + k) cap *= 2;
        dev_where *w = realloc(dev->where, cap * sizeof *w);
        if (!w) return -1;
        dev->where = w;
        dev->cap_where = cap;
    }
    memmove(dev->where + i + k, dev->where + i, (dev->n_where - i) * sizeof *dev->where);
    dev->n_where += k;
    return 0;
}

void dev_where_set(aimc_accel *dev, uint64_t addr, uint64_t bytes, aimc_loc loc)
{
    if (bytes == 0 || addr > UINT64_MAX - bytes) return;
    const uint64_t lo = addr, hi = addr + bytes;
    /* Cut the entries that overlap [lo, hi): keep their parts outside it. */
    size_t i = 0;
    while (i < dev->n_where && dev->where[i].hi <= lo) i++;
    size_t j = i;
    while (j < dev->n_where && dev->where[j].lo < hi) j++;
    dev_where left = {0}, right = {0};
    int has_left = 0, has_right = 0;
    if (i < j && dev->where[i].lo < lo) {
        left = dev->where[i];
        left.hi = lo;
        has_left = 1;
    }
    if (i < j && dev->where[j - 1].hi > hi) {
        right = dev->where[j - 1];
        right.lo = hi;
        has_right = 1;
    }
    /* Remove [i, j), insert left, the new range (unless it is host memory), right. */
    if (dev->n_where > j)
        memmove(dev->where + i, dev->where + j, (dev->n_where - j) * sizeof *dev->where);
    dev->n_where -= j - i;
    const int host = loc.chip == AIMC_LOC_HOST;
    const size_t k = (size_t)has_left + (size_t)!host + (size_t)has_right;
    if (k == 0) return;
    if (where_open(dev, i, k)) { /* out of memory: forget the range (it reads from the host) */
        return;
    }
    if (has_left) dev->where[i++] = left;
    if (!host) dev->where[i++] = (dev_where){lo, hi, loc};
    if (has_right) dev->where[i] = right;
}

void aimc_accel_host_wrote(aimc_accel *dev, uint64_t addr, uint64_t bytes)
{
    if (dev) dev_where_set(dev, addr, bytes, (aimc_loc){AIMC_LOC_HOST, 0});
}

/* ---- counting ---------------------------------------------------------------------------- */

static void prof_add(aimc_accel_prof *p, const dev_cmd *c, const double pj[AIMC_PART_COUNT])
{
    p->commands++;
    p->vectors += c->cnt.mvms;
    p->busy_cycles += c->cnt.cycles;
    for (int q = 0; q < AIMC_PART_COUNT; q++) p->energy_pj[q] += pj[q];
}

int aimc_accel_profile(const aimc_accel *dev, int kind, uint32_t id, aimc_accel_prof *out)
{
    if (!dev || !out) return AIMC_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if (kind == AIMC_ACCEL_PROF_MATRIX) {
        if (id < dev->prof_cap) *out = dev->prof_mat[id];
        return AIMC_OK;
    }
    if (kind != AIMC_ACCEL_PROF_OPCODE || id >= AIMC_ACCEL_PROF_OPS) return AIMC_ERR_INVALID;
    *out = dev->prof_op[id];
    return AIMC_OK;
}

void dev_count(aimc_accel *dev, const dev_cmd *c)
{
    double pj[AIMC_PART_COUNT] = {0};
    aimc_cost_energy(&dev->arch, &c->ev, pj);
    if (c->op < AIMC_ACCEL_PROF_OPS) prof_add(&dev->prof_op[c->op], c, pj);
    const int on_matrix = c->op == AIMC_DESC_OP_MVM || c->op == AIMC_DESC_OP_READBACK ||
                          c->op == AIMC_DESC_OP_PROGRAM;
    if (on_matrix && !(c->err & ~AIMC_REG_ERROR_VERIFY)) {
        if (c->matrix >= dev->prof_cap) {
            uint32_t cap = dev->prof_cap ? dev->prof_cap : 16;
            while (cap <= c->matrix && cap < UINT32_MAX / 2) cap *= 2;
            aimc_accel_prof *p = cap > c->matrix ? realloc(dev->prof_mat, cap * sizeof *p) : NULL;
            if (p) {
                memset(p + dev->prof_cap, 0, (cap - dev->prof_cap) * sizeof *p);
                dev->prof_mat = p;
                dev->prof_cap = cap;
            }
        }
        if (c->matrix < dev->prof_cap) prof_add(&dev->prof_mat[c->matrix], c, pj);
    }
    dev_counters *t = &dev->cnt;
    t->cycles += c->cnt.cycles;
    t->mvms += c->cnt.mvms;
    t->adc_conv += c->cnt.adc_conv;
    t->adc_sat += c->cnt.adc_sat;
    t->xbar_reads += c->cnt.xbar_reads;
    t->digital_ops += c->cnt.digital_ops;
    t->cells_prog += c->cnt.cells_prog;
    t->dac_drives += c->ev.dac_drives;
    dev_add_events(dev, &c->ev);
}

void dev_add_events(aimc_accel *dev, const aimc_cost_events *ev)
{
    aimc_cost_energy(&dev->arch, ev, dev->cnt.energy_pj);
    dev->cnt.noc_bytes += ev->noc_bytes;
    dev->cnt.link_bytes += ev->link_bytes;
    dev->cnt.host_bytes += ev->host_bytes;
}

/* ---- a command's work ------------------------------------------------------------------------ */

static const aimc_cost_mvm *mat_cost(const aimc_accel *dev, const dev_cmd *c)
{
    (void)dev;
    return c->mcost;
}

static int is_mvm(const dev_cmd *c)
{
    return c->op == AIMC_DESC_OP_MVM || c->op == AIMC_DESC_OP_READBACK;
}

static int is_dig(const dev_cmd *c)
{
    return c->op == AIMC_DESC_OP_RMSNORM || c->op == AIMC_DESC_OP_TOPK ||
           c->op == AIMC_DESC_OP_SILU_MUL || c->op == AIMC_DESC_OP_GATHER ||
           c->op == AIMC_DESC_OP_SCALE_ACC || dev_ext_is_dig(c->op);
}

/* Stage `stage` of c, from `now` with booker bk: returns when it is done. */
static uint64_t stage(aimc_accel *dev, dev_cmd *c, int stage, uint64_t now,
                      const aimc_cost_booker *bk)
{
    const aimc_arch *a = &dev->arch;
    const aimc_cost_mvm *m = mat_cost(dev, c);
    const int failed = c->err & ~AIMC_REG_ERROR_VERIFY;
    const int to_host = (c->flags & AIMC_DESC_FLAG_TO_HOST) != 0;
    const aimc_loc host = {AIMC_LOC_HOST, 0};
    uint64_t t = now;
    if (failed) return now;
    switch (stage) {
    case EV_IN:
        if (is_mvm(c) && m) {
            const aimc_loc from = c->op == AIMC_DESC_OP_MVM && c->n_opd > 0 ? c->opd[0].loc
                                                                             : m->home;
            t = aimc_cost_mvm_in(a, m, c->vectors, from, now, bk, &c->ev);
        } else if (c->op == AIMC_DESC_OP_PROGRAM && m) {
            t = aimc_cost_move(a, host, m->home, c->prog_bytes, now, bk, &c->ev);
        } else if (is_dig(c)) {
            for (int i = 0; i < c->n_opd; i++) {
                const dev_operand *o = &c->opd[i];
                if (o->write || o->move == 0) continue;
                const uint64_t ti = aimc_cost_move(a, o->loc, c->at, o->move, now, bk, &c->ev);
                if (ti > t) t = ti;
            }
        }
        return t;
    case EV_RUN:
        if (is_mvm(c) && m) return aimc_cost_mvm_run(a, m, c->vectors, now, bk);
        if (c->op == AIMC_DESC_OP_PROGRAM && m) return aimc_cost_cores_book(m, c->prog_cycles, now, bk);
        if (is_dig(c) && (c->kv_read || c->kv_write))
            return aimc_cost_attn_run(a, c->at, c->dig_ops, c->dig_in, c->dig_out, c->kv_read,
                                      c->kv_write, now, bk, &c->ev);
        if (is_dig(c))
            return aimc_cost_dig_run(a, c->at, c->dig_ops, c->dig_in, c->dig_out, now, bk, &c->ev);
        return now;
    case EV_OUT:
        if (is_mvm(c) && m) t = aimc_cost_mvm_out(a, m, c->vectors, now, bk, &c->ev);
        if ((to_host || c->op == AIMC_DESC_OP_PROGRAM) && c->out_bytes)
            t = aimc_cost_move(a, c->at, host, c->out_bytes, t, bk, &c->ev);
        return t;
    default: return now;
    }
}

void dev_account_free(aimc_accel *dev, dev_cmd *c)
{
    for (int s = EV_IN; s <= EV_OUT; s++) (void)stage(dev, c, s, 0, &aimc_cost_free_booker);
}

static void cmd_start(aimc_accel *dev, dev_cmd *c, uint64_t now)
{
    c->state = CMD_RUN;
    schedule(dev, now, EV_IN, c->slot);
}

static int ranges_meet(const dev_operand *x, const dev_operand *y)
{
    return x->addr < y->addr + y->bytes && y->addr < x->addr + x->bytes;
}

/* Does later command c have to wait for earlier command p? */
static int depends(const dev_cmd *c, const dev_cmd *p)
{
    if (c->op == AIMC_DESC_OP_FENCE) return 1;
    /* A PROGRAM changes crossbars that any MVM may read and that another PROGRAM may share. */
    if (c->op == AIMC_DESC_OP_PROGRAM && (is_mvm(p) || p->op == AIMC_DESC_OP_PROGRAM)) return 1;
    if (is_mvm(c) && p->op == AIMC_DESC_OP_PROGRAM) return 1;
    for (int i = 0; i < c->n_opd; i++)
        for (int j = 0; j < p->n_opd; j++)
            if ((c->opd[i].write || p->opd[j].write) && ranges_meet(&c->opd[i], &p->opd[j]))
                return 1;
    return 0;
}

static int waiter_add(dev_cmd *p, uint32_t slot)
{
    if (p->n_waiters == p->cap_waiters) {
        uint32_t cap = p->cap_waiters ? 2 * p->cap_waiters : 4;
        uint32_t *w = realloc(p->waiters, cap * sizeof *w);
        if (!w) return -1;
        p->waiters = w;
        p->cap_waiters = cap;
    }
    p->waiters[p->n_waiters++] = slot;
    return 0;
}

static int ring_ok(const aimc_accel *dev)
{
    uint32_t n = dev->ring_size;
    return n != 0 && (n & (n - 1)) == 0 && n <= DEV_MAX_RING && dev->cmds_cap >= n &&
           (dev->ring_base % AIMC_DESC_BYTES) == 0 && dev->ring_base != 0 &&
           dev->ring_base <= UINT64_MAX - (uint64_t)n * AIMC_DESC_BYTES;
}

/* Dispatch, first half: the next slot's command opens on descriptor desc (dev->work; its
 * checks and values work follow in dev_exec_step). 0, or -1 when the processor stopped. */
static int dispatch_begin(aimc_accel *dev, const uint8_t *desc)
{
    const uint32_t slot = dev->ring_fetch & (dev->ring_size - 1);
    if (dev->hang_after == 0) { /* injected fault: the processor stops here */
        dev->hung = 1;
        dev->hang_after = AIMC_ACCEL_HANG_NEVER;
        return -1;
    }
    if (dev->hang_after != AIMC_ACCEL_HANG_NEVER) dev->hang_after--;
    dev_cmd *c = &dev->cmds[slot];
    uint32_t *waiters = c->waiters, cap = c->cap_waiters;
    memset(c, 0, sizeof *c);
    c->waiters = waiters;
    c->cap_waiters = cap;
    c->slot = slot;
    c->state = CMD_WAIT;
    dev_exec_begin(dev, &dev->work, desc, c);
    return 0;
}

/* Dispatch, second half, once the command is complete (its values computed): where its
 * data lies, what it waits for; it starts at `now` when nothing. */
static void dispatch_end(aimc_accel *dev, uint64_t now)
{
    const uint32_t slot = dev->ring_fetch & (dev->ring_size - 1);
    dev_cmd *c = &dev->cmds[slot];
    /* Where its inputs lie now, where it runs, where its outputs will lie. */
    for (int i = 0; i < c->n_opd; i++)
        if (!c->opd[i].write) c->opd[i].loc = dev_where_is(dev, c->opd[i].addr);
    if (c->anchor >= 0 && c->anchor < c->n_opd) c->at = aimc_cost_site(c->opd[c->anchor].loc);
    for (int i = 0; i < c->n_opd; i++)
        if (c->opd[i].write) dev_where_set(dev, c->opd[i].addr, c->opd[i].bytes, c->at);
    /* Earlier unfinished commands it must wait for. */
    for (uint32_t q = dev->ring_head; q != dev->ring_fetch; q++) {
        dev_cmd *p = &dev->cmds[q & (dev->ring_size - 1)];
        if (p->state != CMD_WAIT && p->state != CMD_RUN) continue;
        if (!depends(c, p)) continue;
        if (waiter_add(p, slot)) { /* out of memory: the processor stops */
            sched_fail(dev);
            continue;
        }
        c->n_deps++;
    }
    dev->ring_fetch++;
    if (c->n_deps == 0) cmd_start(dev, c, now);
}

/* Go on dispatching the burst in dev->burst while the piece's budget lasts: 1 while a
 * command of it is still open (nothing else may happen before it completes: the engine
 * waits, the clock stands still), 0 when the burst is done. */
static int burst_run(aimc_accel *dev)
{
    const uint64_t now = aimc_eng_now(dev->eng);
    while (dev->burst_i < dev->burst_n) {
        if (!dev->work.open &&
            dispatch_begin(dev, dev->burst + (size_t)dev->burst_i * AIMC_DESC_BYTES)) {
            dev->burst_n = dev->burst_i = 0; /* hung: no further fetch */
            dev->fetching = 0;
            return 0;
        }
        /* its DMA belongs to it (aimc_accel_dma_slot) */
        dev->dma_slot = (int64_t)(dev->ring_fetch & (dev->ring_size - 1));
        const int done = dev_exec_step(dev, &dev->work);
        dev->dma_slot = -1;
        if (!done) return 1;
        dispatch_end(dev, now);
        dev->burst_i++;
    }
    dev->burst_n = dev->burst_i = 0;
    dev->fetching = 0;
    if (dev->ring_tail != dev->ring_fetch) {
        dev->fetching = 1;
        schedule(dev, now, EV_FETCH, 0);
    }
    return 0;
}

static void fetch(aimc_accel *dev, uint64_t now)
{
    dev->fetching = 0;
    if (!(dev->ctrl & AIMC_REG_CTRL_ENABLE) || dev->halted || dev->hung || dev->ring_stopped)
        return;
    if (!ring_ok(dev)) {
        dev_raise_error(dev, AIMC_REG_ERROR_RING, 0, 0);
        return;
    }
    uint32_t n = dev->ring_tail - dev->ring_fetch;
    if (n == 0) return;
    if (n > dev->ring_size) { /* a tail behind the fetched ones (RING_TAIL refuses it) */
        dev->ring_stopped = 1;
        dev_raise_error(dev, AIMC_REG_ERROR_RING, 0, dev->ring_tail);
        return;
    }
    if (n > AIMC_COST_FETCH_BURST) n = AIMC_COST_FETCH_BURST;
    /* Descriptors are contiguous up to the ring's end; one burst stops there. */
    const uint32_t slot = dev->ring_fetch & (dev->ring_size - 1);
    if (n > dev->ring_size - slot) n = dev->ring_size - slot;
    aimc_cost_events ev = {0};
    const aimc_cost_booker bk = {dev_book, dev};
    const uint64_t t = aimc_cost_fetch(&dev->arch, n, AIMC_DESC_BYTES, now, &bk, &ev);
    dev_add_events(dev, &ev);
    dev->fetching = 1;
    dev->ring_fetched = dev->ring_fetch + n;
    schedule(dev, t, EV_DISPATCH, n);
}

static void retire_prefix(aimc_accel *dev)
{
    while (dev->ring_head != dev->ring_fetch) {
        dev_cmd *c = &dev->cmds[dev->ring_head & (dev->ring_size - 1)];
        if (c->state != CMD_RETIRED) break;
        dev->done_fence = c->fence;
        c->state = CMD_FREE;
        c->n_waiters = 0;
        dev->ring_head++;
    }
    if (dev->ring_head == dev->ring_fetch && dev->n_stale) dev_cost_reap(dev);
}

static void finish(aimc_accel *dev, dev_cmd *c, uint64_t now)
{
    c->state = CMD_FINISHED;
    /* A host holding the command's results back writes them now (aimc_accel_set_done_hook). */
    if (dev->done_hook && dev->done_hook(dev->host.ctx, c->slot)) {
        if (!c->err) c->info = 0;
        c->err |= AIMC_REG_ERROR_DMA_FAULT;
    }
    for (uint32_t i = 0; i < c->n_waiters; i++) {
        dev_cmd *w = &dev->cmds[c->waiters[i]];
        if (w->state == CMD_WAIT && w->n_deps > 0 && --w->n_deps == 0) cmd_start(dev, w, now);
    }
    c->n_waiters = 0;
    /* The status word goes to the host; the command completes when it is there. */
    const aimc_cost_booker bk = {dev_book, dev};
    schedule(dev, aimc_cost_complete(&dev->arch, now, &bk, &c->ev), EV_RETIRE, c->slot);
}

static void retire(aimc_accel *dev, dev_cmd *c)
{
    uint8_t st[4];
    uint32_t bits = c->err, info = c->info;
    const uint64_t addr = dev->ring_base + (uint64_t)c->slot * AIMC_DESC_BYTES;
    aimc_le_put32(st, bits | AIMC_DESC_STATUS_DONE);
    if (dev_dma_write(dev, addr + AIMC_DESC_STATUS, st, sizeof st)) {
        if (!bits) info = c->slot;
        bits |= AIMC_REG_ERROR_DMA_FAULT | AIMC_REG_ERROR_RING;
    }
    c->state = CMD_RETIRED;
    dev_count(dev, c);
    dev->idle_ns = 0;
    dev_raise_error(dev, bits, c->fence, info);
    if ((c->flags & AIMC_DESC_FLAG_IRQ) || c->op == AIMC_DESC_OP_FENCE) {
        dev->irq_status |= AIMC_REG_IRQ_DONE;
        dev->irq_raised++;
    }
    retire_prefix(dev);
    dev_update_irq(dev);
}

static int event(aimc_eng *e, void *payload, uint64_t arg)
{
    aimc_accel *dev = payload;
    const uint64_t now = aimc_eng_now(e);
    const int kind = (int)(arg & 0xff);
    const uint64_t x = arg >> 8;
    const aimc_cost_booker bk = {dev_book, dev};
    if (kind == EV_FETCH) {
        fetch(dev, now);
        return AIMC_OK;
    }
    if (kind == EV_DISPATCH) {
        /* The burst arrives: one DMA read of its x descriptors (contiguous: a burst stops at
         * the ring's end). The processor counts as fetching until all are dispatched. */
        const uint32_t slot = dev->ring_fetch & (dev->ring_size - 1);
        if (x == 0 || x > AIMC_COST_FETCH_BURST ||
            dev_dma_read(dev, dev->ring_base + (uint64_t)slot * AIMC_DESC_BYTES, dev->burst,
                         (size_t)x * AIMC_DESC_BYTES)) {
            dev->fetching = 0;
            dev->ring_stopped = 1;
            dev_raise_error(dev, AIMC_REG_ERROR_RING | AIMC_REG_ERROR_DMA_FAULT, 0, slot);
            return AIMC_OK;
        }
        dev->burst_n = (uint32_t)x;
        dev->burst_i = 0;
        /* A command whose work outlasts the piece stops the engine here: the events after
         * this one, at this cycle and later, wait until the burst is dispatched, so they run
         * in the same order as if the whole burst had been dispatched at once. */
        return burst_run(dev) ? AIMC_ERR_STATE : AIMC_OK;
    }
    if (!dev->cmds || x >= dev->cmds_cap) return AIMC_OK;
    dev_cmd *c = &dev->cmds[x];
    switch (kind) {
    case EV_IN: schedule(dev, stage(dev, c, EV_IN, now, &bk), EV_RUN, x); break;
    case EV_RUN: schedule(dev, stage(dev, c, EV_RUN, now, &bk), EV_OUT, x); break;
    case EV_OUT: schedule(dev, stage(dev, c, EV_OUT, now, &bk), EV_FINISH, x); break;
    case EV_FINISH: finish(dev, c, now); break;
    case EV_RETIRE: retire(dev, c); break;
    default: break;
    }
    return AIMC_OK;
}

void aimc_accel_set_done_hook(aimc_accel *dev, aimc_accel_done_fn done)
{
    if (dev) dev->done_hook = done;
}

int64_t aimc_accel_dma_slot(const aimc_accel *dev)
{
    return dev ? dev->dma_slot : -1;
}

void dev_doorbell(aimc_accel *dev)
{
    if (!dev->eng || dev->fetching) return;
    if (!(dev->ctrl & AIMC_REG_CTRL_ENABLE) || dev->halted || dev->hung) return;
    if (!ring_ok(dev)) {
        dev_raise_error(dev, AIMC_REG_ERROR_RING, 0, 0);
        return;
    }
    if (dev->ring_tail == dev->ring_fetch) return;
    dev->fetching = 1;
    schedule(dev, aimc_eng_now(dev->eng), EV_FETCH, 0);
}

/* ---- time ---------------------------------------------------------------------------------- */

uint64_t aimc_accel_now(const aimc_accel *dev)
{
    return dev && dev->eng ? aimc_eng_now(dev->eng) : 0;
}

int aimc_accel_run(aimc_accel *dev, uint64_t max_events)
{
    if (!dev || !dev->eng) return AIMC_ACCEL_IDLE;
    const uint64_t raised = dev->irq_raised;
    dev->work.budget = DEV_WORK_PIECE; /* the values work of this call */
    for (uint64_t i = 0; i < (max_events ? max_events : 1); i++) {
        if (dev->burst_n) {
            /* A burst being dispatched comes first; its command's piece ends the call. */
            if (burst_run(dev)) return AIMC_ACCEL_MORE;
        } else {
            const uint64_t next = aimc_eng_next_cycle(dev->eng);
            if (next == UINT64_MAX) return AIMC_ACCEL_IDLE;
            (void)aimc_eng_run(dev->eng, next);
        }
        if (dev->irq_raised != raised && dev->irq_line) return AIMC_ACCEL_IRQ;
        if (dev->burst_n) return AIMC_ACCEL_MORE; /* the piece is spent */
    }
    return dev->burst_n || aimc_eng_next_cycle(dev->eng) != UINT64_MAX ? AIMC_ACCEL_MORE
                                                                       : AIMC_ACCEL_IDLE;
}

uint64_t aimc_accel_next_event(const aimc_accel *dev)
{
    if (!dev || !dev->eng) return UINT64_MAX;
    return dev->burst_n ? aimc_eng_now(dev->eng) : aimc_eng_next_cycle(dev->eng);
}

int aimc_accel_advance_to(aimc_accel *dev, uint64_t cycle)
{
    if (!dev || !dev->eng) return AIMC_ACCEL_IDLE;
    const uint64_t raised = dev->irq_raised;
    /* A burst being dispatched completes first, piece after piece: time does not pass
     * while a command is dispatched. */
    while (dev->burst_n) {
        dev->work.budget = DEV_WORK_PIECE;
        (void)burst_run(dev);
    }
    const uint64_t now = aimc_eng_now(dev->eng), next = aimc_eng_next_cycle(dev->eng);
    if (cycle > now) {
        /* With commands pending and nothing scheduled at all, the device waits: that time
         * counts towards the watchdog (a long stage scheduled later is work, not waiting). */
        const int waiting = next == UINT64_MAX && !dev->halted &&
                            (dev->ctrl & AIMC_REG_CTRL_ENABLE) && dev->ring_head != dev->ring_tail;
        dev->work.budget = DEV_WORK_PIECE;
        while (aimc_eng_run(dev->eng, cycle) != AIMC_OK || dev->burst_n) {
            while (dev->burst_n) { /* a dispatch stopped the engine: finish it, go on */
                dev->work.budget = DEV_WORK_PIECE;
                (void)burst_run(dev);
            }
        }
        if (waiting && dev->watchdog_us) {
            const double ns = aimc_cost_ns(&dev->arch, (double)(cycle - now));
            dev->idle_ns = ns >= (double)(UINT64_MAX - dev->idle_ns) ? UINT64_MAX
                                                                    : dev->idle_ns + (uint64_t)ns;
            if (dev->idle_ns >= (uint64_t)dev->watchdog_us * 1000u) {
                dev->halted = 1;
                dev->hung = 0;
                dev_raise_error(dev, AIMC_REG_ERROR_WATCHDOG, 0, dev->ring_head);
            }
        }
    }
    if (dev->irq_raised != raised && dev->irq_line) return AIMC_ACCEL_IRQ;
    return aimc_eng_next_cycle(dev->eng) == UINT64_MAX ? AIMC_ACCEL_IDLE : AIMC_ACCEL_MORE;
}

int aimc_accel_advance(aimc_accel *dev, uint64_t ns)
{
    if (!dev || !dev->eng || dev->burst_n || aimc_eng_pending(dev->eng) > 0)
        return AIMC_ACCEL_MORE;
    if (dev->halted || !(dev->ctrl & AIMC_REG_CTRL_ENABLE) || dev->ring_head == dev->ring_tail)
        return AIMC_ACCEL_IDLE;
    /* The device waits with commands pending: its clock runs on. */
    const uint64_t now = aimc_eng_now(dev->eng), cyc = aimc_cost_cycles(&dev->arch, (double)ns);
    (void)aimc_eng_run(dev->eng, now > UINT64_MAX - cyc ? UINT64_MAX - 1 : now + cyc);
    if (!dev->watchdog_us) return AIMC_ACCEL_IDLE;
    dev->idle_ns = ns > UINT64_MAX - dev->idle_ns ? UINT64_MAX : dev->idle_ns + ns;
    if (dev->idle_ns < (uint64_t)dev->watchdog_us * 1000u) return AIMC_ACCEL_IDLE;
    dev->halted = 1;
    dev->hung = 0;
    dev_raise_error(dev, AIMC_REG_ERROR_WATCHDOG, 0, dev->ring_head);
    return dev->irq_line ? AIMC_ACCEL_IRQ : AIMC_ACCEL_IDLE;
}
