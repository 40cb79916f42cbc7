/* aimc_cost.h - the cost layer: every formula that turns what the machine does into time,
 * energy, static power and area, written once.
 *
 * Nothing else in aimc turns a count into pJ or ns or a duration into clock cycles. The
 * device model (sim/device) books the durations given here on the event engine's
 * resources, the mapper's estimate (mapping/estimate.c) adds the same durations up without
 * contention, `aimc info` derives its peak from the same crossbar pipeline, and every energy
 * comes from aimc_cost_energy() applied to counted events. docs/engine.md gives the model.
 *
 * Units: time in cycles of clock.frequency_mhz (integers: what a clocked machine counts),
 * energy in pJ, power in mW (pJ per ns), area in um^2. Prints nothing; allocating calls
 * return AIMC_OK or AIMC_ERR_NOMEM.
 */
#ifndef AIMC_COST_H
#define AIMC_COST_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_arch.h"
#include "aimc_status.h"
#include "aimc_tile.h"
#include "aimc_api.h"

AIMC_API_BEGIN

/* ---- time ------------------------------------------------------------------------------ */

/* ns -> clock cycles, rounded up; a hair above an integer (binary fractions of decimal ns)
 * is that integer. 0 for ns <= 0. The one rounding of time in aimc. */
uint64_t aimc_cost_cycles(const aimc_arch *a, double ns);
/* Clock cycles -> ns. */
double aimc_cost_ns(const aimc_arch *a, double cycles);

/* ---- counted events and their energy ----------------------------------------------------- */

/* What the machine did, counted. Doubles: exact for integer counts below 2^53, and the array
 * charge is a real number. */
typedef struct aimc_cost_events {
    double dac_drives;       /* word lines driven for one input step */
    double xbar_charge;      /* array read charge: sum over driven rows and steps of
                              * (v / v_read)^2 x (fraction of the step driven) x the row's
                              * conductance in uS; energy V_read^2 x that x integration_ns */
    double xbar_reads;       /* crossbar activations (one tile, one input step) */
    double adc_conversions;
    double digital_ops;      /* the cores' shift-and-add and accumulate operations */
    double program_pulses;   /* programming pulses of one device */
    double buffer_accesses;  /* bank accesses of buffer.bytes_per_access bytes */
    double bus_bytes;        /* bytes over a buffer-to-core bus */
    double noc_bytes;        /* bytes sent over a chip's mesh (each transfer once) */
    double noc_byte_hops;    /* bytes x mesh hops */
    double units_ops;        /* the clusters' digital units */
    double link_bytes;       /* bytes over chip-to-chip links */
    double host_bytes;       /* bytes between host memory and the machine */
    double kv_bytes;         /* bytes read and written in the off-chip KV memory */
} aimc_cost_events;

void aimc_cost_events_add(aimc_cost_events *acc, const aimc_cost_events *e);
/* acc += k x e. */
void aimc_cost_events_add_scaled(aimc_cost_events *acc, const aimc_cost_events *e, double k);

/* Dynamic energy of the events, per part (pJ), added into pj:
 *   dac       drives x dac.energy_pj
 *   xbar      charge x read_voltage_v^2 x integration_ns x 1e-3 + pulses x pulse_energy_pj
 *   adc       conversions x aimc_cost_adc_energy_pj
 *   digital   ops x digital.energy_pj_per_op
 *   buffer    accesses x buffer.energy_pj
 *   bus       bytes x 8 x bus.energy_pj_per_bit
 *   noc       byte-hops / 4 x mapping.noc_hop_energy_pj       (per 32-bit value per hop)
 *   units     ops x units.energy_pj_per_op
 *   chip_link bytes / 4 x mapping.chip_link_energy_pj          (per 32-bit value)
 *   host_dma  bytes x host_dma.energy_pj_per_byte
 *   buffer    + off-chip KV bytes x kv_cache.energy_pj_per_byte (the machine's memories) */
void aimc_cost_energy(const aimc_arch *a, const aimc_cost_events *e,
                      double pj[AIMC_PART_COUNT]);

/* ---- what a chip is made of ------------------------------------------------------------- */

uint64_t aimc_cost_clusters_per_chip(const aimc_arch *a); /* ceil(cores / cores_per_cluster) */
uint64_t aimc_cost_routers_per_chip(const aimc_arch *a);  /* ceil(clusters / per router) */
/* Chip-to-chip links per chip: chip_link.count, or with `count: auto` none on a machine of
 * one chip (it has nothing to link to) and chip_link's default count otherwise. */
uint32_t aimc_cost_links_per_chip(const aimc_arch *a);

/* The ADC's figures: the config's, or with `auto` a survey model of SAR converters
 * (docs/config.md, "The ADC model"; REFERENCES: Murmann's survey, ISAAC's 8-bit ADC):
 *   energy per conversion  E = F_W 2^b for b <= 9 bits (Walden: doubles per bit),
 *                          E = F_W 2^9 4^(b-9) above (thermal noise: quadruples per bit),
 *                          F_W = 10 fJ per step (2.56 pJ at 8 bits: ISAAC's SAR 2.55 pJ);
 *   conversion time        b x 0.0977 ns (one comparison per bit: 8 bits in 0.78125 ns);
 *   area                   1500 um^2 x 2^(b-8) (the capacitor array: ISAAC's 8-bit 0.0015 mm^2). */
double aimc_cost_adc_energy_pj(const aimc_arch *a);
double aimc_cost_adc_conversion_ns(const aimc_arch *a);
double aimc_cost_adc_area_um2(const aimc_arch *a);

/* What of the machine is powered (leaks): units of each kind over the whole machine. */
typedef struct aimc_cost_powered {
    double chips;      /* chips (their links) */
    double xbars;      /* crossbars with their DACs and ADCs (a site counts once over tiers) */
    double cores;      /* cores' digital logic */
    double clusters;   /* buffers and units */
    double routers;
} aimc_cost_powered;
/* Every unit of `chips` chips (power.gating: none; the peak's one chip). */
void aimc_cost_powered_chips(const aimc_arch *a, double chips, aimc_cost_powered *p);

/* Static (leakage) power per part of what is powered, mW: DACs (every row driver of a
 * crossbar), ADCs, the cores' digital logic, buffers, routers, units, chip links; 0 for the
 * arrays, buses, host DMA. */
void aimc_cost_static_mw(const aimc_arch *a, const aimc_cost_powered *p,
                         double mw[AIMC_PART_COUNT]);
/* Static energy of what is powered over ns, per part (pJ = mW x ns), into pj (overwritten). */
void aimc_cost_static_pj(const aimc_arch *a, const aimc_cost_powered *p, double ns,
                         double pj[AIMC_PART_COUNT]);
/* Area of one chip per part, um^2: every tier's arrays (hierarchy.tiers stacked arrays per
 * crossbar site share its DACs and ADCs). */
void aimc_cost_area_um2(const aimc_arch *a, double um2[AIMC_PART_COUNT]);

/* ---- the crossbar pipeline ----------------------------------------------------------------
 *
 * An MVM streams input steps through the matrix's crossbars in lockstep: each step of S
 * (input steps per vector) drives and integrates for t_int cycles on every crossbar of the
 * current round (the tiles of one crossbar take turns: a tile's round is its rank on its
 * crossbar, aimc_tile_order), then the round's columns convert on each crossbar's ADCs,
 * t_conv,r cycles (ceil(columns / adc.per_crossbar) conversions, seen done at a clock edge).
 * Sample-and-hold keeps a step's column values while the next step integrates, so the next
 * step may start max(t_int, t_conv,r) cycles after this one: the steps of every round of
 * every vector stream without draining. After a vector's last conversion the cores' digital
 * units shift-and-add and accumulate it in D cycles, overlapped with the next vector's
 * steps. B vectors take
 *     T(B) = m + max(B P + D, P + B D),  P = sum_r S max(t_int, t_conv,r),
 *                                        m = min(t_int, t_conv,last round)
 * cycles (P: a vector's steps back to back; D: ceil(the busiest core's ops /
 * digital.ops_per_cycle), ops (S + 1) x columns per tile). The RTL's tile sequencer
 * (rtl/aimc_tileseq.sv) counts the same integers. */
uint64_t aimc_cost_integrate_cycles(const aimc_arch *a);   /* t_int >= 1 */
uint32_t aimc_cost_conv_fp16(const aimc_arch *a);          /* one ADC conversion, 16.16 cycles */
uint64_t aimc_cost_convert_cycles(const aimc_arch *a, uint32_t ncols); /* t_conv >= 1 */
/* D: a core's digital unit retiring `core_ops` shift-and-add and accumulate operations,
 * ceil(core_ops / digital.ops_per_cycle). */
uint64_t aimc_cost_shift_add_cycles(const aimc_arch *a, uint64_t core_ops);

/* Data at rest: where a value lives. chip AIMC_LOC_HOST is host memory. */
#define AIMC_LOC_HOST UINT32_MAX
typedef struct aimc_loc {
    uint32_t chip;
    uint32_t cluster; /* within the chip */
} aimc_loc;
int aimc_loc_eq(aimc_loc x, aimc_loc y);

/* Bytes of one value on the machine's buses, NoC and links (activations, partial sums and
 * the digital units' operands are float32 / int32), and of one input code on the bus into a
 * core (ceil(dac.bits / 8)). */
#define AIMC_COST_VALUE_BYTES 4u
uint32_t aimc_cost_code_bytes(const aimc_arch *a);

/* One matrix as placed: the pipeline's figures and where its tiles sit. Built from the tile
 * table a PROGRAM carries (or a plan's runs); see docs/engine.md "An MVM on the machine". */
typedef struct aimc_cost_range {
    uint32_t first, count; /* cores of one chip */
} aimc_cost_range;

typedef struct aimc_cost_cluster_use {
    uint32_t cluster;        /* within its chip */
    uint32_t hops;           /* mesh hops to its chip's home cluster */
    uint64_t rows;           /* distinct matrix rows its cores need (input values) */
    uint64_t code_bytes;     /* input codes over its bus to its cores, per vector */
    uint64_t psum_values;    /* partial-sum values its cores write into its buffer, per vector */
    uint64_t out_values;     /* values it sends to its chip's home (0 for the home), per vector */
    uint64_t adds;           /* partial sums it adds up, per vector */
} aimc_cost_cluster_use;

typedef struct aimc_cost_chip_use {
    uint32_t chip;
    uint32_t home_cluster;   /* the chip's reduction point: the cluster of its first tile */
    uint64_t rows;           /* distinct matrix rows the chip needs */
    uint64_t noc_in_bytes;   /* input values the home multicasts to its other clusters */
    uint64_t noc_in_byte_hops;
    uint64_t noc_out_bytes;  /* partial sums its other clusters send the home */
    uint64_t noc_out_byte_hops;
    uint64_t out_values;     /* values it sends to the matrix's home chip (0 for the home) */
    uint64_t adds;           /* partial sums its home adds, from its other clusters */
    uint32_t max_hops;       /* farthest cluster from the home */
    size_t range0, n_ranges; /* its cores: ranges[range0 .. +n_ranges) */
    size_t cluster0, n_clusters;
} aimc_cost_chip_use;

typedef struct aimc_cost_mvm {
    uint32_t rows, cols;     /* the matrix */
    uint64_t tiles;
    /* the pipeline, per vector */
    uint32_t rounds;
    uint64_t period;         /* P */
    uint64_t tail;           /* m */
    uint64_t shift_add;      /* D */
    uint64_t xbar_reads;     /* tiles x S */
    uint64_t conversions;    /* sum of columns x S */
    uint64_t digital_ops;    /* sum of (S + 1) x columns */
    uint64_t row_steps;      /* sum of rows x S: the word-line drives with every row driven */
    uint64_t device_rows;    /* sum of rows x columns x devices per weight: devices of the
                              * matrix (the array charge with every device at one value) */
    /* placement */
    aimc_loc home;           /* the matrix's output: the home cluster of its first chip */
    uint64_t home_adds;      /* partial sums the home adds, from the other chips */
    size_t n_chips;
    aimc_cost_chip_use *chips;
    aimc_cost_range *ranges;
    aimc_cost_cluster_use *clusters;
} aimc_cost_mvm;

/* Build the figures of a matrix of rows x cols from its n tiles (any order; each tile's
 * crossbar must lie in the machine). *out is freed with aimc_cost_mvm_free. */
int aimc_cost_mvm_build(const aimc_arch *a, uint32_t rows, uint32_t cols,
                        const aimc_tile *tiles, size_t n, aimc_cost_mvm **out);
void aimc_cost_mvm_free(aimc_cost_mvm *m); /* NULL is a no-op */

/* T(B) above, and the busy cycles of the crossbar work alone. */
uint64_t aimc_cost_mvm_cycles(const aimc_cost_mvm *m, uint64_t vectors);

/* The events of `vectors` vectors through m that follow from its shape: crossbar reads,
 * conversions, the cores' shift-and-add operations. Added into e. */
void aimc_cost_mvm_events(const aimc_arch *a, const aimc_cost_mvm *m, uint64_t vectors,
                          aimc_cost_events *e);
/* The data-dependent events (word-line drives, array charge) of `vectors` vectors when the
 * data is not known: AIMC_COST_DRIVE_FRACTION of the word lines driven per step,
 * AIMC_COST_V2_MEAN of full scale squared on average, devices at (g_min + g_max) / 2. */
#define AIMC_COST_DRIVE_FRACTION 0.5
#define AIMC_COST_V2_MEAN 0.5
void aimc_cost_mvm_activity(const aimc_arch *a, const aimc_cost_mvm *m, uint64_t vectors,
                            aimc_cost_events *e);

/* ---- resources and bookings --------------------------------------------------------------
 *
 * The resources work is booked on (the event engine's, in the device; none in an estimate):
 * per machine the host DMA link into and out of the machine, per chip its cores, its
 * clusters' buffers, buses and units, its NoC (the routers' ports) and its chip links. */
typedef enum aimc_res {
    AIMC_RES_HOST_IN = 0, /* host memory -> machine */
    AIMC_RES_HOST_OUT,    /* machine -> host memory */
    AIMC_RES_LINK,        /* a chip's chip-to-chip links, together */
    AIMC_RES_NOC,         /* a chip's mesh: bytes through the busiest router's ports */
    AIMC_RES_BUFFER,      /* a cluster's buffer (unit: cluster) */
    AIMC_RES_BUS,         /* a cluster's bus to its cores (unit: cluster) */
    AIMC_RES_UNITS,       /* a cluster's digital units (unit: cluster) */
    AIMC_RES_CORES,       /* cores (units first .. first + count - 1): arrays, ADCs, digital */
    AIMC_RES_KV,          /* a chip's off-chip KV memory port (kv_cache.*) */
    AIMC_RES_COUNT
} aimc_res;

const char *aimc_res_name(aimc_res r);

/* Cycles `amount` (bytes; accesses for a buffer; ops for units) keeps a resource busy, and
 * the latency after it (cycles) for `hops` mesh hops (NoC) or one transfer (links). */
uint64_t aimc_cost_busy(const aimc_arch *a, aimc_res r, uint64_t amount);
uint64_t aimc_cost_latency(const aimc_arch *a, aimc_res r, uint32_t hops);
/* Mesh hops between two clusters of a chip (routers in a near-square mesh, port at router 0). */
uint32_t aimc_cost_hops(const aimc_arch *a, uint32_t cluster_a, uint32_t cluster_b);

/* One booking: busy cycles on a resource unit (or a range of cores), not before `ready`. */
typedef struct aimc_cost_booking {
    aimc_res res;
    uint32_t chip;        /* AIMC_RES_HOST_*: unused */
    uint32_t unit, count; /* cluster, or cores unit .. unit + count - 1 */
    uint64_t ready;
    uint64_t busy;
} aimc_cost_booking;

/* Whoever keeps time: returns the cycle the booking ends (start + busy). probe = 1 asks when
 * it would start, without booking (the cores of a lockstep MVM start together). */
typedef struct aimc_cost_booker {
    uint64_t (*book)(void *ctx, const aimc_cost_booking *b, int probe);
    void *ctx;
} aimc_cost_booker;

/* The booker without contention: every booking starts at its ready cycle. */
extern const aimc_cost_booker aimc_cost_free_booker;

/* ---- schedules: the one description of how work and data move on the machine -------------
 * Each books its steps in order with `bk` from `ready`, adds what it moved and did into ev,
 * and returns the cycle it is done. */

/* Move `bytes` from `from` to `to`: buffer read, NoC to the chip's port, chip link or host
 * link, NoC to the destination cluster, buffer write (each part only where the route has it). */
uint64_t aimc_cost_move(const aimc_arch *a, aimc_loc from, aimc_loc to, uint64_t bytes,
                        uint64_t ready, const aimc_cost_booker *bk, aimc_cost_events *ev);

/* An MVM of `vectors` vectors in three stages, between which the device lets other work
 * run: in (the input from `from` to every chip of the matrix, then over the NoC to the
 * clusters and over the buses to the cores), run (the cores of every chip, in lockstep,
 * aimc_cost_mvm_cycles), out (partial sums into the clusters' buffers, up the NoC to each
 * chip's home, over chip links to the matrix's home, added by the units on the way; the
 * result lies at m->home). run adds no analog events: the value model counts those, or
 * aimc_cost_mvm_events. */
uint64_t aimc_cost_mvm_in(const aimc_arch *a, const aimc_cost_mvm *m, uint64_t vectors,
                          aimc_loc from, uint64_t ready, const aimc_cost_booker *bk,
                          aimc_cost_events *ev);
uint64_t aimc_cost_mvm_run(const aimc_arch *a, const aimc_cost_mvm *m, uint64_t vectors,
                           uint64_t ready, const aimc_cost_booker *bk);
/* The cores of m's tiles, every chip's together (they start in lockstep), busy for `busy`
 * cycles from the first cycle all are free at or after `ready`; returns the end. */
uint64_t aimc_cost_cores_book(const aimc_cost_mvm *m, uint64_t busy, uint64_t ready,
                              const aimc_cost_booker *bk);
uint64_t aimc_cost_mvm_out(const aimc_arch *a, const aimc_cost_mvm *m, uint64_t vectors,
                           uint64_t ready, const aimc_cost_booker *bk, aimc_cost_events *ev);

/* The digital commands, run by the units of one cluster on float32 data there. */
typedef enum aimc_dig {
    AIMC_DIG_RMSNORM = 0, /* batch vectors of n: sum of squares, scale: 2n + 1 ops each */
    AIMC_DIG_TOPK,        /* batch vectors of n: top k, softmax of k (n k + 3 k ops each) */
    AIMC_DIG_SILU_MUL,    /* n elements: silu(g) u, 4 ops each */
    AIMC_DIG_GATHER,      /* batch rows: one address each (the copy is data movement) */
    AIMC_DIG_SCALE_ACC,   /* batch rows of n: multiply and add, 2 ops per element */
    AIMC_DIG_ROUTE,       /* batch vectors of n: a routing rule (scores, bias, groups,
                           * choice, weights): 4 n + n k + 3 k ops each */
    AIMC_DIG_NORM,        /* batch vectors of n: RMS norm with a learned weight when k is 1:
                           * 2 n + 1 ops each, n more with the weight */
    AIMC_DIG_ACT,         /* n elements: sigmoid, 3 ops each */
    AIMC_DIG_ATTN,        /* attention: aimc_cost_attn_ops */
} aimc_dig;
uint64_t aimc_cost_dig_ops(aimc_dig op, uint64_t batch, uint64_t n, uint64_t k);
/* The bytes a digital command reads from and writes to its cluster's buffer (float32 and u32
 * values): rmsnorm batch n in and out; top-k batch n in, batch k indices and weights out;
 * silu_mul 2n in, n out; gather batch rows of n copied; scale_acc batch rows of n and the
 * rows they add into in, those rows out; route as top-k, plus the rule's constants (n biases
 * and 6 fields); norm as rmsnorm, plus the n weights when k is 1; act n in, n out. */
void aimc_cost_dig_io(aimc_dig op, uint64_t batch, uint64_t n, uint64_t k, uint64_t *in,
                      uint64_t *out);
/* Attention of `tokens` queries at positions pos0 .. pos0 + tokens - 1, each over the keys of
 * positions 0 .. its own (causal), `heads` query heads over `kv_heads` key-value heads of
 * query-key width dk and value width dv, rope_dim dims of every query and new key rotated:
 *   RoPE      6 per rotated pair (two products and a sum each way) of the queries and the
 *             new keys;
 *   scores    2 dk per (query, head, key), softmax 3 per (query, head, key), the weighted sum
 *             of the values 2 dv per (query, head, key).
 * The units read the queries and the new keys and values from the buffer and write the
 * outputs (aimc_cost_dig_io's in and out); the cache is aimc_cost_kv's. */
uint64_t aimc_cost_attn_ops(uint64_t tokens, uint64_t pos0, uint64_t heads, uint64_t kv_heads,
                            uint64_t dk, uint64_t dv, uint64_t rope_dim);
/* The bytes an attention command moves, from its shape: the queries it reads, the new keys
 * and values it reads and appends (append: the first command of a layer's groups of heads;
 * 0 otherwise), its outputs, and its KV cache traffic (aimc_cost_kv): the cache's rows before
 * the tokens when it appends them (it writes them), every row up to its last token when they
 * are there already. Rows of kv_heads x dk keys and, unless v_in_k (MLA: the values are part
 * of the keys), kv_heads x dv values, float32. The device's ATTN and the mapper's estimate
 * both take their bytes from here. */
typedef struct aimc_cost_attn_bytes {
    uint64_t q, kv, out;          /* operands: queries, new keys and values, outputs */
    uint64_t kv_read, kv_write;   /* the cache */
} aimc_cost_attn_bytes;
void aimc_cost_attn_io(uint64_t tokens, uint64_t pos0, uint64_t heads, uint64_t kv_heads,
                       uint64_t dk, uint64_t dv, int v_in_k, int append,
                       aimc_cost_attn_bytes *out);
/* The KV cache traffic of an attention at cluster `at`: read_bytes then write_bytes. With
 * kv_cache.memory buffer, accesses of at's buffer; offchip, the chip's KV memory port
 * (AIMC_RES_KV: bytes / kv_cache.gbytes_per_s + kv_cache.latency_ns per transfer) and
 * ev->kv_bytes. Returns when the last byte is there. */
uint64_t aimc_cost_kv(const aimc_arch *a, aimc_loc at, uint64_t read_bytes, uint64_t write_bytes,
                      uint64_t ready, const aimc_cost_booker *bk, aimc_cost_events *ev);
/* A digital command with KV cache traffic (attention): the inputs from at's buffer, the cache
 * read, the units' ops, the cache write, the outputs to the buffer. */
uint64_t aimc_cost_attn_run(const aimc_arch *a, aimc_loc at, uint64_t ops, uint64_t in_bytes,
                            uint64_t out_bytes, uint64_t kv_read, uint64_t kv_write,
                            uint64_t ready, const aimc_cost_booker *bk, aimc_cost_events *ev);

/* The units' cycles for ops: ceil(ops / units.ops_per_cycle). */
uint64_t aimc_cost_units_cycles(const aimc_arch *a, uint64_t ops);
/* `ops` on the units of `at`, reading in_bytes and writing out_bytes of its buffer. */
uint64_t aimc_cost_dig_run(const aimc_arch *a, aimc_loc at, uint64_t ops, uint64_t in_bytes,
                           uint64_t out_bytes, uint64_t ready, const aimc_cost_booker *bk,
                           aimc_cost_events *ev);

/* Where a digital command runs, given where its first input lies: at that cluster (the data
 * it works on: rmsnorm's and top-k's input, silu_mul's gate values, gather's source rows,
 * scale_acc's source rows, so that the residual stream follows the experts' outputs), or on
 * chip 0's cluster 0 when that input is in host memory. Its other inputs come to it. */
aimc_loc aimc_cost_site(aimc_loc data);

/* The command processor: it reads up to AIMC_COST_FETCH_BURST descriptors (of desc_bytes
 * each) in one DMA over the host link; a command completes when its status word (4 bytes)
 * has reached host memory. Each returns when the transfer has arrived. */
#define AIMC_COST_FETCH_BURST 16u
uint64_t aimc_cost_fetch(const aimc_arch *a, uint32_t n, uint32_t desc_bytes, uint64_t ready,
                         const aimc_cost_booker *bk, aimc_cost_events *ev);
uint64_t aimc_cost_complete(const aimc_arch *a, uint64_t ready, const aimc_cost_booker *bk,
                            aimc_cost_events *ev);

/* Programming (docs/devices.md): each crossbar writes its devices' pulses one after another,
 * then each verify round reads all its rows (one integration each) and converts every
 * device's column; crossbars work in parallel, so the busiest sets the time.
 * pulses_max: pulses of the busiest crossbar. */
uint64_t aimc_cost_program_cycles(const aimc_arch *a, uint64_t pulses_max, uint32_t rounds);
/* Events of programming: pulses, and per verify round every row of every crossbar driven
 * (`xbars` crossbars) and every written device converted (`cells`). */
void aimc_cost_program_events(const aimc_arch *a, uint64_t pulses, uint64_t xbars,
                              uint64_t cells, uint32_t rounds, aimc_cost_events *e);

/* ---- a GPU beside it ------------------------------------------------------------------------
 * `aimc run --compare gpu:NAME`: the same workload on a GPU, by a roofline. A step (a group
 * of `tokens` tokens through every layer) reads step_bytes from HBM (the weights its tokens
 * touch, once, and the activations) and does step_flops: it takes max(bytes / bandwidth,
 * flops / peak) (memory-bound at small batches, compute-bound at large ones), at the
 * board's full power. Figures: the presets' data sheets (gpu.c). */
typedef struct aimc_gpu {
    const char *name;        /* "a100" */
    double tflops;           /* dense BF16 tensor peak, TFLOP/s */
    double hbm_gbytes_per_s;
    double board_w;          /* maximum board power */
    double hbm_gbytes;
    const char *source;
} aimc_gpu;
size_t aimc_gpu_count(void);
const aimc_gpu *aimc_gpu_at(size_t i);
const aimc_gpu *aimc_gpu_find(const char *name); /* NULL when unknown */

typedef struct aimc_gpu_estimate {
    double step_ns;          /* one step */
    double token_ns;         /* step / tokens */
    double tokens_per_s;
    double token_pj;         /* board power x token_ns */
    int compute_bound;
} aimc_gpu_estimate;
void aimc_gpu_roofline(const aimc_gpu *g, double step_bytes, double step_flops, double tokens,
                       aimc_gpu_estimate *out);

/* ---- peak ---------------------------------------------------------------------------------- */

/* The peak of a machine: every core streaming full tiles (every crossbar of a core holding
 * one full tile of one group of bit slices), vectors back to back: a vector per
 * max(P, D) cycles per core, P and D of one full core (the crossbar pipeline above). */
typedef struct aimc_peak {
    double ops_per_mvm;        /* 2 x rows x logical columns, per crossbar group of one weight */
    double mvm_ns;             /* one input vector per core at steady state: max(P, D) */
    double mvm_latency_ns;     /* one input vector alone through a full core: T(1) */
    double tops;               /* whole machine, weight-precision ops (MAC = 2 ops) per second */
    double tops_per_chip;
    double chip_power_w;       /* one chip at peak: every part busy all the time + static */
    double chip_static_w;      /* of which static (leakage) power */
    double chip_area_mm2;      /* one chip, every part */
    double power_w;            /* whole machine */
    double area_mm2;           /* whole machine */
    double tops_per_w;
    double tops_per_mm2;
    double power_w_by_part[AIMC_PART_COUNT]; /* per chip */
    double area_mm2_by_part[AIMC_PART_COUNT];
    double weights_capacity;   /* weights the machine can hold */
    uint64_t clusters_per_chip, routers_per_chip;
} aimc_peak;

/* Fill *p for an arch that passed aimc_arch_validate(). */
void aimc_peak_compute(const aimc_arch *a, aimc_peak *p);

AIMC_API_END

#endif /* AIMC_COST_H */
