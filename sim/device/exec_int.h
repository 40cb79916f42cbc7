/* exec_int.h - how a command works in pieces, shared by the command files exec.c and
 * exec_ext.c (docs/engine.md, "How work is bounded"). Not API.
 *
 * Each command is a phase machine on a dev_work (accel_int.h): a step takes the work it does
 * from w->budget (w_take), reads and writes host memory in DMA pieces (w_read, w_write),
 * returns W_MORE to go on at the next piece and W_DONE when the command is complete (w->err
 * 0, or what it failed with: w_fail). One copy of each helper: exec.c defines the functions
 * declared here. */
#ifndef AIMC_EXEC_INT_H
#define AIMC_EXEC_INT_H

#include <stdint.h>
#include <string.h>

#include "accel_int.h"

enum { W_MORE = 0, W_DONE = 1 };

/* Values are computed (not a timing-only device). */
static inline int values(const aimc_accel *dev)
{
    return !dev->opts.timing_only;
}

/* Note that c reads (write 0) or writes [addr, addr + n). */
static inline void operand(dev_cmd *c, uint64_t addr, uint64_t n, int write)
{
    if (c->n_opd >= DEV_MAX_OPERANDS || n == 0) return;
    dev_operand *o = &c->opd[c->n_opd++];
    memset(o, 0, sizeof *o);
    o->addr = addr;
    o->bytes = n;
    o->write = write;
    o->move = write ? 0 : n;
}

/* A u32 field in lo..hi, else BAD_DESC with its offset. */
static inline uint32_t field_in(const uint8_t *desc, uint32_t off, uint32_t lo, uint32_t hi,
                                uint32_t *out, uint32_t *info)
{
    *out = aimc_le_get32(desc + off);
    if (*out < lo || *out > hi) {
        *info = off;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    return 0;
}

/* The command failed with these ERROR bits and detail: it is complete. */
static inline int w_fail(dev_work *w, uint32_t err, uint32_t info)
{
    w->err = err;
    w->info = info;
    return W_DONE;
}

/* How many of `want` items of `cost` operations each this piece still does: at least one
 * while any budget is left, none when it is spent. Takes their cost from the budget. */
static inline uint64_t w_take(dev_work *w, uint64_t want, uint64_t cost)
{
    if (w->budget <= 0 || want == 0) return 0;
    if (cost == 0) cost = 1;
    uint64_t n = (uint64_t)w->budget / cost;
    if (n == 0) n = 1;
    if (n > want) n = want;
    w->budget -= (int64_t)(n * cost);
    return n;
}

/* A step that reads, writes or allocates: go on only once it is done and OK. Each such step
 * that can return W_MORE is a phase of its own (a phase is entered again from its start). */
#define W_STEP(call)                                                                       \
    do {                                                                                   \
        if ((call) == W_MORE) return W_MORE;                                               \
        if (w->err) return W_DONE;                                                         \
    } while (0)

/* Check that the first and last byte of [addr, addr + n) can be read, before the device
 * allocates a buffer of n bytes for it (the full transfer is still checked). 0 or -1. */
int dev_dma_probe(aimc_accel *dev, uint64_t addr, uint64_t n);

/* A digital command's counts from the cost layer (dig, dig_ops, dig_in/out, cycles). */
void dev_count_dig(aimc_accel *dev, dev_cmd *c, aimc_dig op, uint64_t batch, uint64_t n,
                   uint64_t k);

/* Read n bytes at addr into dst (a buffer of the caller's), at most DEV_DMA_PIECE bytes per
 * callback as the budget pays: W_MORE until all are read, then W_DONE with w->err 0 or
 * DMA_FAULT (info `field`). w_dma_out writes n bytes of src to addr the same way. No probe,
 * and in every mode: the caller decides whether values are moved. */
int w_dma_in(aimc_accel *dev, dev_work *w, uint64_t addr, uint32_t field, void *dst, uint64_t n);
int w_dma_out(aimc_accel *dev, dev_work *w, uint64_t addr, uint32_t field, const void *src,
              uint64_t n);

/* Read n bytes at the address in descriptor field `field` into a new buffer *out, at most
 * DEV_DMA_PIECE bytes per callback: W_MORE until all are read, then W_DONE, with w->err 0
 * or the failure (DMA_FAULT: the field's offset; INTERNAL: out of memory; *out NULL). The
 * range's first and last bytes are probed before the buffer is allocated. Without values
 * only the range is checked (*out stays NULL), unless `always` (the tables that decide what
 * a command does are read in every mode). w_read_at: the same at addr, failing with info
 * `field` (a range that lies behind the one a field names). */
int w_read(aimc_accel *dev, dev_work *w, uint32_t field, uint64_t n, void **out, int always);
int w_read_at(aimc_accel *dev, dev_work *w, uint64_t addr, uint32_t field, uint64_t n,
              void **out, int always);

/* Write n bytes of src to the address in field `field` (nothing without values), at most
 * DEV_DMA_PIECE bytes per callback: W_MORE until all are written, then W_DONE with w->err 0
 * or DMA_FAULT (the field's offset). A range the probe passed but whose middle is not host
 * memory faults at the piece that reaches it, after the pieces before it were written. */
int w_write(aimc_accel *dev, dev_work *w, uint32_t field, const void *src, uint64_t n);

/* An output buffer of n bytes (NULL without values), after probing the range. It is not
 * cleared: each command computes every byte of its outputs before it stores them (zeroing
 * 64 MiB at once would be a long piece). */
int w_outbuf(aimc_accel *dev, dev_work *w, uint32_t field, uint64_t n, void **out);

/* Free host copy *p (bytes long) as soon as the command is done with it, so that a command's
 * big buffers are not all freed in its last piece; the budget pays for it. */
void w_release(dev_work *w, void *p, uint64_t bytes);

/* ---- exec_ext.c: ROUTE, NORM, ACT, ATTN in pieces ---- */
int dev_run_route(aimc_accel *dev, dev_work *w);
int dev_run_norm(aimc_accel *dev, dev_work *w);
int dev_run_act(aimc_accel *dev, dev_work *w);
int dev_run_attn(aimc_accel *dev, dev_work *w);

#endif /* AIMC_EXEC_INT_H */
