/* aimc_arch.h - the machine description: a plain struct, its defaults and its rules.
 *
 * An aimc_arch is what a configs/NAME.yaml file describes (docs/config.md, key by key). It is plain
 * data: the simulator and the mapper read it, never YAML. Units are in the field names,
 * as in the YAML keys (g_max_us, conversion_ns, energy_pj, area_um2).
 *
 * Loading (aimc_cfg_load) and command-line overrides (aimc_cfg_set) live in
 * common/config.c; they fill the struct from aimc_arch_defaults() and then check it with
 * aimc_arch_validate(), which also checks rules that join two keys.
 */
#ifndef AIMC_ARCH_H
#define AIMC_ARCH_H

#include <stdint.h>

#include "aimc_status.h"
#include "aimc_api.h"

AIMC_API_BEGIN

#define AIMC_ARCH_VERSION 1

typedef enum {
    AIMC_DEVICE_IDEAL = 0, /* exact conductances, no noise */
    AIMC_DEVICE_PCM,       /* phase-change memory: aihwkit's statistics (docs/devices.md) */
    AIMC_DEVICE_RRAM,      /* resistive RAM: absolute + proportional sigmas */
    AIMC_DEVICE_GENERIC,   /* every sigma set by the user */
} aimc_device_type;

typedef enum {
    AIMC_SIGN_DIFFERENTIAL = 0, /* w = G+ - G-: two devices, two physical columns per weight */
    AIMC_SIGN_OFFSET,           /* w + bias on one device; the bias is removed digitally */
} aimc_sign_encoding;

typedef enum {
    AIMC_DAC_BIT_SERIAL = 0, /* one input bit per step (ISAAC, PUMA) */
    AIMC_DAC_MULTI_BIT,      /* all input bits in one step */
    AIMC_DAC_PULSE_WIDTH,    /* one step, each input code a pulse duration (HERMES) */
} aimc_dac_mode;

/* How the ADC's input range is set (adc.range, docs/simulator.md). */
typedef enum {
    AIMC_ADC_RANGE_FULL_SCALE = 0, /* the worst case of the tile: every row at full scale */
    AIMC_ADC_RANGE_MAX,            /* the largest |column signal| of calibration inputs */
    AIMC_ADC_RANGE_PERCENTILE,     /* a percentile of |column signal| of calibration inputs */
} aimc_adc_range;

/* What one weight scale covers (crossbar.weight_scale, docs/simulator.md). */
typedef enum {
    AIMC_WSCALE_MATRIX = 0, /* one scale per matrix: max |w| maps to the largest code */
    AIMC_WSCALE_TILE,       /* one per tile block (row block x column block) */
    AIMC_WSCALE_COLUMN,     /* one per column of each tile block */
} aimc_weight_scale;

/* Placement strategies of the mapper (mapping.strategy, docs/mapping.md). */
typedef enum {
    AIMC_STRATEGY_PACK = 0, /* first fit in crossbar order (the default) */
    AIMC_STRATEGY_LOCALITY, /* an expert's tiles on as few cores as possible */
    AIMC_STRATEGY_BALANCE,  /* no two experts share a core; hot and cold alternate */
    AIMC_STRATEGY_REPLICATE,/* pack, then copy the hottest experts into spare crossbars */
    AIMC_STRATEGY_TIERED,   /* a layer's experts in different tiers of the same sites */
} aimc_map_strategy;

/* Power gating: which units leak (static power). */
typedef enum {
    AIMC_GATING_NONE = 0, /* every unit of every chip of the machine */
    AIMC_GATING_UNUSED    /* only units that hold weights or serve them: the crossbars, their
                           * DACs and ADCs, cores, clusters, routers and chips in use */
} aimc_power_gating;

/* kv_cache.memory */
typedef enum { AIMC_KV_OFFCHIP = 0, AIMC_KV_BUFFER } aimc_kv_memory;

typedef struct aimc_arch {
    int version;   /* must be AIMC_ARCH_VERSION */
    char name[64]; /* free text, e.g. "default" */

    struct {
        aimc_device_type type;
        double g_min_us;         /* lowest programmable conductance, uS */
        double g_max_us;         /* highest programmable conductance, uS */
        int levels;              /* distinct programmable conductance levels, >= 2 */
        double program_sigma_us; /* Gaussian programming error, per device, uS */
        double read_sigma_us;    /* Gaussian read noise, per device per read, uS */
        double read_voltage_v;   /* read voltage of a full-scale input step, V */
        double program_sigma_rel;/* rram: programming error proportional to g (fraction) */
        double read_sigma_rel;   /* rram: read noise proportional to g (fraction) */
        double read_time_s;      /* reads happen this long after programming, s (pcm drift) */
        int drift_compensation;  /* 1: global drift compensation by a calibration read */
        double stuck_on_rate;    /* fraction of devices stuck at g_max, any type */
        double stuck_off_rate;   /* fraction of devices stuck at g_min, any type */
        double pulse_energy_pj;  /* one programming pulse of one device, pJ */
        double pulse_ns;         /* one programming pulse, ns */
    } device;

    struct {
        int rows;            /* physical word lines (inputs) */
        int cols;            /* physical bit lines (devices per row) */
        int bits_per_cell;   /* weight bits one device holds; levels used = 2^bits */
        int weight_bits;     /* signed weight precision, sign included */
        aimc_sign_encoding sign_encoding;
        double integration_ns; /* one input step: drive, settle and integrate, ns */
        double area_um2;       /* one crossbar array, um^2 */
        double wire_resistance_ohm; /* IR drop: wire resistance of one cell segment; 0 = off */
        aimc_weight_scale weight_scale; /* what one weight-to-conductance scale covers */
    } crossbar;

    struct {
        int bits;            /* signed input precision, sign included */
        aimc_dac_mode mode;
        double energy_pj;    /* one row driven for one step, pJ */
        double area_um2;     /* one row driver, um^2 */
        double leakage_mw;   /* static power of one row driver, mW */
    } dac;

    struct {
        int bits;              /* output code width */
        int per_crossbar;      /* ADCs shared by a crossbar's columns */
        double conversion_ns;  /* one conversion, ns */
        double energy_pj;      /* one conversion, pJ */
        double area_um2;       /* one ADC, um^2 */
        int conversion_auto;   /* 1: the three above from the survey model of the cost layer */
        int energy_auto;       /*    (aimc_cost_adc_*), from adc.bits; the config said `auto` */
        int area_auto;
        double offset_lsb;     /* systematic offset of every conversion, LSB */
        double gain_error;     /* systematic relative gain error (0.01 = +1 %) */
        double leakage_mw;     /* static power of one ADC, mW */
        aimc_adc_range range;  /* full scale, or calibrated (max or percentile) */
        double range_percentile; /* adc.range percentile: percent of calibration outputs kept */
    } adc;

    struct {
        double energy_pj_per_op; /* one shift-and-add or accumulate, pJ */
        double area_um2_per_core;/* digital logic of one core (S+A, registers), um^2 */
        int ops_per_cycle;       /* adds one core's digital unit retires per clock */
        double leakage_mw_per_core; /* static power of a core's digital logic and registers */
    } digital;

    struct {
        int crossbars_per_core;
        int cores_per_chip;
        int chips;
        int chips_auto;      /* 1 when the config said `chips: auto`: the mapper plans on as
                              * many chips as the model needs (chips keeps its last number) */
        int tiers;           /* stacked arrays (3D tiers) per crossbar site; 1 = planar */
        int cores_per_cluster;  /* cores sharing one tile's buffer, bus and router port */
    } hierarchy;

    struct {
        double frequency_mhz;    /* digital clock; cycles = time_ns * MHz / 1000 */
    } clock;

    struct {                        /* the mapper (docs/mapping.md) */
        aimc_map_strategy strategy;
        double replicate_threshold; /* replicate: copy experts activated at least this often */
        double fault_threshold;     /* skip crossbars whose fault fraction is above this */
        double noc_hop_ns;          /* one partial sum over one mesh hop, ns */
        double noc_hop_energy_pj;   /* one 32-bit partial sum over one mesh hop, pJ */
        double chip_link_ns;        /* one partial sum over a chip-to-chip link, ns */
        double chip_link_energy_pj; /* one 32-bit partial sum over a chip-to-chip link, pJ */
    } mapping;

    struct {                        /* how the runtime programs weights (docs/devices.md) */
        int verify_iterations;      /* program-and-verify rounds after the first write; 0: none */
        double verify_tolerance_us; /* a device passes when within this of its target */
    } program;

    /* The periphery of the timing and energy model (docs/engine.md, docs/calibration.md).
     * Per tile: one buffer, one bus to its cores, digital units; routers are shared by
     * noc.clusters_per_router tiles; chip links and host DMA per chip. */
    struct {
        int kb;                  /* capacity, KiB */
        int banks;
        int bytes_per_access;    /* bank width */
        double access_ns;        /* one access keeps its bank busy this long */
        double energy_pj;        /* one access */
        double leakage_mw;       /* static power of the whole buffer */
        double area_um2;         /* the whole buffer */
    } buffer;
    struct {
        int width_bits;          /* wires from the buffer to the cores */
        double transfer_ns;      /* one transfer of width_bits */
        double energy_pj_per_bit;
        double area_um2;
    } bus;
    struct {                     /* hop latency and energy: mapping.noc_hop_ns/_energy_pj */
        int flit_bytes;          /* link width: bytes per hop per noc_hop_ns */
        int ports;               /* router ports (links that can be busy at once) */
        int clusters_per_router;
        double leakage_mw;       /* per router */
        double area_um2;         /* per router */
    } noc;
    struct {                     /* latency and energy: mapping.chip_link_ns/_energy_pj */
        int count;               /* links per chip */
        int count_auto;          /* `count: auto`: none on a one-chip machine, else count */
        double gbytes_per_s;     /* per link */
        double leakage_mw;       /* per link */
        double area_um2;         /* per link */
    } chip_link;
    struct {                     /* activation, top-k, pooling, accumulation; per tile */
        double energy_pj_per_op;
        int ops_per_cycle;
        double leakage_mw;
        double area_um2;
    } units;
    struct {                     /* host <-> chip DMA; not part of the chip's power or area */
        double gbytes_per_s;
        double latency_ns;
        double energy_pj_per_byte;
    } host_dma;
    struct {                     /* where attention keeps its key-value cache (docs/config.md) */
        aimc_kv_memory memory;   /* the buffer of the cluster that attends, or off-chip memory */
        double gbytes_per_s;     /* off-chip: per chip */
        double latency_ns;       /* off-chip: one transfer */
        double energy_pj_per_byte; /* off-chip: one byte read or written */
        double gbytes;           /* off-chip: capacity per chip */
    } kv_cache;
    struct {                     /* what is powered (docs/config.md, "power") */
        aimc_power_gating gating;
    } power;
    struct {                     /* what a preset's figures were published for (docs/config.md) */
        int chips;               /* chips of the published machine; 0: not stated. A run on more
                                  * is reported with a warning */
    } calibration;
    struct {                     /* the simulator process, not the machine (docs/simulator.md) */
        int threads;             /* threads one MVM may use; results identical for any count */
    } simulator;
} aimc_arch;

/* The parts of the machine whose energy, static power and area are counted, in report order.
 * One enum for every report: the device's energy counters, aimc info's power and area, the
 * run's energy by part (the cost layer, sim/cost/aimc_cost.h, holds every formula). */
typedef enum {
    AIMC_PART_DAC = 0,   /* word-line drivers */
    AIMC_PART_XBAR,      /* the arrays: reads (V^2 G t) and programming pulses */
    AIMC_PART_ADC,
    AIMC_PART_DIGITAL,   /* the cores' shift-and-add, accumulators and registers */
    AIMC_PART_BUFFER,    /* the clusters' buffers (eDRAM, SRAM) */
    AIMC_PART_BUS,       /* buffer-to-core buses */
    AIMC_PART_NOC,       /* routers and mesh links */
    AIMC_PART_UNITS,     /* the clusters' digital units (activation, top-k, norm, accumulate) */
    AIMC_PART_CHIP_LINK, /* chip-to-chip links */
    AIMC_PART_HOST_DMA,  /* host <-> machine transfers (not part of a chip's power or area) */
    AIMC_PART_COUNT
} aimc_part;

/* Names as used in reports and JSON keys: "dac", "xbar", "adc", "digital", "buffer", "bus",
 * "noc", "units", "chip_link", "host_dma"; "unknown" for anything else. */
const char *aimc_part_name(aimc_part p);

/* The built-in defaults: the machine of configs/default.yaml. Never fails. */
void aimc_arch_defaults(aimc_arch *a);

/* Check every field's range and the rules that join fields (for example levels >= 2^bits
 * per cell). On failure returns AIMC_ERR_CONFIG and names the key and the rule in d. */
int aimc_arch_validate(const aimc_arch *a, aimc_diag *d);

/* Derived quantities, for an arch that passed aimc_arch_validate(). */
int aimc_arch_stored_bits(const aimc_arch *a);     /* weight bits held in devices: the magnitude
                                                    * bits (differential) or the biased code */
int aimc_arch_slices(const aimc_arch *a);          /* devices (crossbars) per weight magnitude */
int aimc_arch_cols_per_weight(const aimc_arch *a); /* physical columns per weight column: 2 or 1 */
int aimc_arch_logical_cols(const aimc_arch *a);    /* weight columns one crossbar holds */
int aimc_arch_input_steps(const aimc_arch *a);     /* DAC steps per input vector */
long aimc_arch_total_crossbars(const aimc_arch *a);
/* The ADC LSB at full scale (adc.range full_scale) of a tile of nrows rows, in units of one
 * conductance level times one input code: the smallest power of two with
 * (2^(adc.bits-1) - 1) x LSB >= nrows x u_max x (2^bits_per_cell - 1), u_max the largest
 * input a step drives (1 bit-serial, else the DAC's largest code); 1 for no rows. The
 * simulated ADC and hardware-aware training's noise model both take it from here. */
double aimc_arch_full_scale_lsb(const aimc_arch *a, uint32_t nrows);

AIMC_API_END

#endif /* AIMC_ARCH_H */
