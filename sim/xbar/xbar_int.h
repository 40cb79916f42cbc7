/* xbar_int.h - what the files of sim/xbar share and nobody else sees: the machine's state,
 * tiles and matrices, the storage formats, the MVM's scratch and the kernels' entry points.
 * The contract is aimc_xbar.h; the model is docs/simulator.md and docs/devices.md.
 */
#ifndef AIMC_XBAR_INT_H
#define AIMC_XBAR_INT_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_xbar.h"
#include "xbar_znorm.h"

/* Calibration inputs of the ADC range: their own random domain (common/rng.h lists 1..7). */
#define SIM_RNG_DOMAIN_CALIB 16
#define SIM_CALIB_VECTORS 64

/* Storage formats of a tile's read data (docs/simulator.md, "Storage"). */
enum {
    SIM_FMT_PK14 = 0, /* 14 bits per pair: target field (3 bits) + residual (11 bits), planar */
    SIM_FMT_WIDE = 1, /* int16 D per pair, then int16 signed target level per pair */
};
#define PK_RES_BITS 11
#define PK_RES_MAX 1023  /* residual in [-1024, 1023] units of 2^-q */
#define PK_TD_FIELDS 8   /* 3 bits of target */
#define PK_Q_MIN 8       /* PK14 only keeps at least 2^-8 level resolution (or q, if lower) */
/* PK14 groups: 64 pairs in 112 bytes, planar so that a group decodes with whole-vector
 * operations: 64 bytes of bits 0-7, 32 bytes of bits 8-11 (pair b in the low nibble of byte
 * b, pair b + 32 in its high nibble), 16 bytes of bits 12-13 (pairs b, b + 16, b + 32, b + 48
 * in byte b from its low bits). */
#define PK_GROUP 64
#define PK_GROUP_BYTES 112

/* How a tile's read noise is kept (docs/devices.md, "Read noise"). */
enum {
    SIM_VAR_NONE = 0,    /* no read noise (ideal devices) */
    SIM_VAR_UNIFORM = 1, /* every pair has the same read variance, vpair */
    SIM_VAR_COLUMN = 2,  /* one sigma per device type, clipping near 0: per column, the mean
                          * of its pairs' clipped variances, vcol */
    SIM_VAR_PLANE = 3,   /* per pair, uint16 in 2^-qs level^2 units (sigma per device) */
};

/* Lanes of the kernels' vector loops: rows of accumulators are padded to a multiple. */
#define SIM_LANES 16

/* One crossbar: the number of program calls that wrote it, and the activations it served. */
typedef struct sim_xbar {
    uint64_t gen;
    uint64_t reads;
} sim_xbar;

/* One tile of a programmed matrix with what a read needs. */
typedef struct sim_tile {
    aimc_tile t;
    uint8_t *pk;       /* read data and targets, fmt: PK14 or WIDE */
    uint16_t *vq;      /* nrows x ncols: read variance of the pair (both devices, clipped at
                        * g >= 0), 2^-qs level^2 units; NULL unless vmode is SIM_VAR_PLANE */
    int vmode;         /* SIM_VAR_* */
    double vpair;      /* SIM_VAR_UNIFORM: the read variance of every pair, level^2 */
    double *vcol;      /* SIM_VAR_COLUMN: ncols, the mean pair variance of each column */
    int noiseless;     /* every pair reads exactly its integer target level, no noise, comp 1 */
    float *row_g_us;   /* nrows: sum of the conductances (uS) of the tile's devices in row i */
    float *cscale;     /* weight scale per column (crossbar.weight_scale: column), else NULL */
    double scale;      /* weight scale of the tile's block (tile mode); 1 otherwise */
    int fmt;
    int32_t pkc;       /* PK14: D = (field << q) + (word & 2047) - pkc */
    uint64_t wgen;     /* the crossbar generation this tile's program call made */
    uint64_t epoch;    /* machine read-option epoch its read data was built at */
    uint32_t vrounds;  /* program-and-verify rounds of its program call */
    double vtol_lv;    /* and the tolerance, level units */
    int q, qs;
    int f32;           /* D sums are exact in float (else double) */
    double comp;       /* drift compensation factor (1 when off) */
    double lsb;        /* ADC LSB of this tile, level units */
    double off_scale;  /* offset encoding: the part of 2^(Wb-1) this slice stores, weighted */
    int shift;         /* slice * bits_per_cell */
    uint32_t xbar_slot;  /* rank by first column among the matrix's tiles on its crossbar */
    uint32_t xbar_tiles; /* the matrix's tiles on that crossbar */
} sim_tile;

typedef struct sim_matrix {
    uint32_t rows, cols;
    double w_scale;    /* matrix mode: the scale; otherwise 1 (the tiles hold theirs) */
    size_t n_tiles;
    sim_tile *tiles;
    uint32_t *order;   /* tile indices in crossbar order (by crossbar, first column) */
    uint32_t max_tile_rows, max_tile_cols;
    int stale;         /* a later program call of another matrix overwrote some of its devices */
    uint32_t stale_by;
    /* The exact path (docs/simulator.md): the weight codes, rows x cols, int8 when
     * weight_bits <= 8 else int16 (NULL: the matrix can never take it), and whether it
     * applies now. */
    void *codes;
    int code_bytes;
    int exact;         /* SIM_EXACT_* */
} sim_matrix;

enum {
    SIM_EXACT_NONE = 0,
    SIM_EXACT_SUM = 1,  /* lossless ADCs, one weight scale: y is the integer GEMM, rescaled */
    SIM_EXACT_TILE = 2, /* one step, one slice: per tile, the integer GEMM then the ADC */
};

/* A worker's scratch: one block, grown to the largest need seen and kept until the machine
 * is destroyed, so that an MVM in the steady state allocates nothing. */
typedef struct xbar_arena {
    unsigned char *base;
    size_t cap;
} xbar_arena;

struct aimc_xbar {
    aimc_arch arch;
    uint64_t seed;
    long n_xbars;
    sim_xbar *xbars;
    sim_matrix **mats; /* indexed by id, mats_cap entries */
    uint32_t mats_cap;
    int threads;
    int exact_ok;      /* aimc_xbar_set_exact_path */
    uint64_t epoch;    /* bumped when a read option (time, compensation) changes */
    const aimc_znorm_tables *zn;
    /* The MVM's scratch (mvm.c): one arena per worker, the per-chunk counters, the jobs. */
    xbar_arena *arenas;
    int n_arenas;
    void *chunks;      /* mvm_chunk[chunks_cap] */
    uint32_t chunks_cap;
    void *jobs;        /* mvm_job[n_arenas] */
    /* Derived from arch once. */
    int bits;      /* B */
    int level_max; /* L = 2^B - 1 */
    int slices;    /* S_w */
    int cpw;       /* physical columns per weight column */
    int steps;     /* input steps per vector */
    int n_dev;     /* devices per weight column per row: 2 or 1 */
    int td_off;    /* PK14 target field = signed level + td_off */
    int pk_ok;     /* the target levels fit the 3-bit field */
    int32_t w_code_max; /* 2^(Wb-1) - 1 */
    int32_t x_code_max; /* 2^(Db-1) - 1 */
    int32_t u_max;      /* 1 or x_code_max */
    double dg_us;       /* dG */
    double snapped[256]; /* level l -> its point of the device grid, level units */
};

/* The drive of word line with code p at step `step`: bit-serial, one magnitude bit with the
 * sign as polarity; multi-bit and pulse width, the code itself. */
static inline int32_t xbar_drive_of(int serial, int32_t p, int step)
{
    if (!serial) return p;
    int32_t mag = p < 0 ? -p : p;
    int32_t bit = (mag >> step) & 1;
    return p < 0 ? -bit : bit;
}

/* Vectors processed together: their (input step, vector) rows against a tile are one GEMM.
 * Results do not depend on it (every product is exact, every draw keyed by its event). */
#define SIM_CHUNK 64

/* What an MVM keeps for a shift-and-add done elsewhere (aimc_xbar_mvm_run, the RTL): every ADC
 * code, by vector, tile (m->tiles order) and step; the input codes and scale of each vector. */
typedef struct mvm_capture {
    int32_t *codes;       /* batch x per_vec */
    const size_t *off;    /* per tile: its codes' offset within a vector's (steps x ncols each) */
    size_t per_vec;
    int32_t *p;           /* batch x rows */
    double *x_scale;      /* batch */
} mvm_capture;

/* What one worker needs: scratch, sized for the matrix's largest tile and a full chunk
 * (kern.c lays it out in the worker's arena). npad: the largest tile's columns rounded up to
 * SIM_LANES; M: steps x vectors. */
typedef struct mvm_scratch {
    int32_t *p;      /* SIM_CHUNK x rows: input codes */
    double *Y;       /* SIM_CHUNK x cols: outputs */
    double *xs;      /* SIM_CHUNK: input scales */
    double *Ad;      /* npad: one vector's shift-and-add accumulators of a tile (exact) */
    double *satl;    /* SIM_LANES: ADC clips counted per lane */
    float *uf;       /* M x max_rows: drives (GEMM path, float) */
    double *ud;      /* M x max_rows: drives (GEMM path, double) */
    double *u2;      /* SIM_CHUNK x max_rows: squared drives (one step, variance plane) */
    float *df;       /* max_rows x max_cols: D of one tile, float */
    double *dd;      /* the same, double; also the variance plane as doubles */
    float *af;       /* M x npad: products, float (GEMM or fused) */
    double *ad;      /* M x npad: products, double */
    double *vd;      /* SIM_CHUNK x npad: one step's read variances (variance plane) */
    float *drow;     /* npad: one decoded row */
    double *drowd;   /* npad: the same as doubles (tiles with double sums) */
    double *nz;      /* steps x npad: one vector's read noise, level units */
    uint32_t *W;     /* 2^steps x npad (bit-serial, steps <= 8): variance buckets */
    double *C;       /* steps (steps + 1) / 2 x npad: per column covariances (double) */
    double *L;       /* SIM_CHUNK x steps x steps: Cholesky factors of the drives' Gram */
    double *usq;     /* max_rows: sum over the chunk's drives of u^2 (energy weights) */
    float *qf;       /* the exact path: the codes of the largest GEMM block, float or double */
    float *pf;       /* the exact path: SIM_CHUNK x rows input codes, float or double */
    size_t npad;
    /* What the chunk holds for the row block (row0, nrows) of the current tile. */
    uint32_t rb_row0, rb_nrows;
    int rb_valid, rb_uf, rb_ud, rb_u2;
    unsigned char *rb_l; /* SIM_CHUNK: L of vector v is computed */
    unsigned char *rb_lz;/* SIM_CHUNK: vector v drives nothing (no noise) */
    uint64_t rb_nnz;
} mvm_scratch;

/* The work of one chunk and what it counted. */
typedef struct mvm_chunk {
    uint64_t drives, sats;
    double xbar_e; /* sum of u^2 row_g_us (pulse width: |u| u_max row_g_us) over activations */
} mvm_chunk;


/* ---- kern.c: storage formats, DAC, the chunk kernel -------------------------------- */

size_t xbar_pk_bytes(int fmt, size_t n);
/* Store the 14-bit word w of pair k in a zeroed PK14 buffer. */
void xbar_pk_put(uint8_t *pk, size_t k, uint32_t w);
int xbar_tile_td(const aimc_xbar *s, const sim_tile *tl, size_t k);
void xbar_unpack_f(const sim_tile *tl, float *out);
void xbar_unpack_d(const sim_tile *tl, float *tmp, double *out);
double xbar_dac_codes(const aimc_xbar *s, const float *xv, uint32_t n, int32_t *p);
int xbar_all_finite(const float *x, size_t n);
void xbar_tile_output(const sim_tile *tl, const int64_t *A, const int32_t *pt, double *Yt);
/* Point sc's buffers into arena a, growing it when the matrix or batch needs more. */
int xbar_scratch_carve(mvm_scratch *sc, xbar_arena *a, const aimc_xbar *s, const sim_matrix *m,
                       uint32_t batch);
size_t xbar_scratch_bytes_of(const aimc_xbar *s);
void xbar_scratch_release(aimc_xbar *s);
void xbar_chunk_run(const aimc_xbar *s, const sim_matrix *m, const float *x, float *y,
                    uint32_t b0, uint32_t nb, mvm_scratch *sc, mvm_chunk *out,
                    const mvm_capture *cap);

/* Whether matrix m can take the exact path now, and how (SIM_EXACT_*). */
int xbar_exact_mode(const aimc_xbar *s, const sim_matrix *m);

/* ---- xbar.c ------------------------------------------------------------------------ */

int xbar_uniform_sigma(const aimc_xbar *s);
/* Rebuild the read data of every tile of m built before the last read-option change. */
int xbar_refresh_matrix(const aimc_xbar *s, sim_matrix *m);

#endif /* AIMC_XBAR_INT_H */
