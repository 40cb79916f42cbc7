/* config.c - machine configs: one key table drives the YAML loader, --set, validation, docs.
 *
 * Every field of aimc_arch has one row in cfg_keys[]: its dotted YAML key (section = the
 * struct's sub-struct), its type, its allowed range or names, where it lives in the struct,
 * its unit and a one-line meaning. aimc_cfg_load() reads a file through aimc_yaml.h and fills
 * the struct row by row; aimc_cfg_set() applies "key=value" with the same checks;
 * aimc_arch_validate() checks every row's range and then the rules that join keys.
 * docs/config.md is the same table in prose (tests/test_config.c checks it names every key).
 */
#include "aimc_config.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_yaml.h"

/* Enum fields are stored through an int pointer. */
_Static_assert(sizeof(aimc_device_type) == sizeof(int), "enum size");
_Static_assert(sizeof(aimc_sign_encoding) == sizeof(int), "enum size");
_Static_assert(sizeof(aimc_dac_mode) == sizeof(int), "enum size");

typedef enum { CFG_INT, CFG_DOUBLE, CFG_ENUM, CFG_STRING } cfg_type;

typedef struct {
    const char *const *names; /* the names a config may use */
    const int *values;        /* the C value of names[i] */
    int n;
    const char *const *all;   /* the name of every C value 0..n_all-1, for messages */
    int n_all;
} cfg_enum;

typedef struct {
    const char *key;   /* dotted: "adc.bits" */
    cfg_type type;
    double lo, hi;     /* CFG_INT, CFG_DOUBLE: the closed range */
    const cfg_enum *en;/* CFG_ENUM */
    size_t offset;     /* into aimc_arch */
    size_t size;       /* CFG_STRING: buffer size */
    int is_version;    /* the format version: required, checked first, own message */
    const char *unit;
    const char *doc;
    size_t auto_offset; /* CFG_INT: non-zero when the plain scalar `auto` is allowed; the int
                         * flag at this offset becomes 1 (a number sets it back to 0) */
} cfg_key;

static const char *const device_names[] = {"ideal", "pcm", "rram", "generic"};
static const int device_values[] = {AIMC_DEVICE_IDEAL, AIMC_DEVICE_PCM, AIMC_DEVICE_RRAM,
                                    AIMC_DEVICE_GENERIC};
static const cfg_enum device_enum = {device_names, device_values, 4, device_names, 4};

static const char *const onoff_names[] = {"off", "on"};
static const int onoff_values[] = {0, 1};
static const cfg_enum onoff_enum = {onoff_names, onoff_values, 2, onoff_names, 2};

static const char *const sign_names[] = {"differential", "offset"};
static const int sign_values[] = {AIMC_SIGN_DIFFERENTIAL, AIMC_SIGN_OFFSET};
static const cfg_enum sign_enum = {sign_names, sign_values, 2, sign_names, 2};

static const char *const dac_names[] = {"bit_serial", "multi_bit", "pulse_width"};
static const int dac_values[] = {AIMC_DAC_BIT_SERIAL, AIMC_DAC_MULTI_BIT, AIMC_DAC_PULSE_WIDTH};
static const cfg_enum dac_enum = {dac_names, dac_values, 3, dac_names, 3};

static const char *const adc_range_names[] = {"full_scale", "max", "percentile"};
static const int adc_range_values[] = {AIMC_ADC_RANGE_FULL_SCALE, AIMC_ADC_RANGE_MAX,
                                       AIMC_ADC_RANGE_PERCENTILE};
static const cfg_enum adc_range_enum = {adc_range_names, adc_range_values, 3, adc_range_names, 3};

static const char *const wscale_names[] = {"matrix", "tile", "column"};
static const int wscale_values[] = {AIMC_WSCALE_MATRIX, AIMC_WSCALE_TILE, AIMC_WSCALE_COLUMN};
static const cfg_enum wscale_enum = {wscale_names, wscale_values, 3, wscale_names, 3};

static const char *const gating_names[] = {"none", "unused"};
static const int gating_values[] = {AIMC_GATING_NONE, AIMC_GATING_UNUSED};
static const cfg_enum gating_enum = {gating_names, gating_values, 2, gating_names, 2};
static const char *const kvmem_names[] = {"offchip", "buffer"};
static const int kvmem_values[] = {AIMC_KV_OFFCHIP, AIMC_KV_BUFFER};
static const cfg_enum kvmem_enum = {kvmem_names, kvmem_values, 2, kvmem_names, 2};

static const char *const strategy_names[] = {"pack", "locality", "balance", "replicate",
                                             "tiered"};
static const int strategy_values[] = {AIMC_STRATEGY_PACK, AIMC_STRATEGY_LOCALITY,
                                      AIMC_STRATEGY_BALANCE, AIMC_STRATEGY_REPLICATE,
                                      AIMC_STRATEGY_TIERED};
static const cfg_enum strategy_enum = {strategy_names, strategy_values, 5, strategy_names, 5};

#define FIELD(f) offsetof(aimc_arch, f), sizeof(((aimc_arch *)0)->f)
#define KEY_INT(k, f, lo, hi, unit, doc) {k, CFG_INT, lo, hi, NULL, FIELD(f), 0, unit, doc}
#define KEY_DBL(k, f, lo, hi, unit, doc) {k, CFG_DOUBLE, lo, hi, NULL, FIELD(f), 0, unit, doc}
#define KEY_ENUM(k, f, en, doc) {k, CFG_ENUM, 0, 0, &en, FIELD(f), 0, "", doc}
/* A number or the plain scalar `auto` (flag field af). */
#define KEY_DBL_AUTO(k, f, af, lo, hi, unit, doc) \
    {k, CFG_DOUBLE, lo, hi, NULL, FIELD(f), 0, unit, doc, offsetof(aimc_arch, af)}

#define AREA_MAX_UM2 1e12   /* 1 m^2: anything above is a typo */
#define ENERGY_MAX_PJ 1e6   /* 1 uJ per event */
#define TIME_MIN_NS 1e-3    /* 1 ps */
#define TIME_MAX_NS 1e9     /* 1 s */
#define COND_MAX_US 1e6     /* 1 S */
#define POWER_MAX_MW 1e7    /* 10 kW */
#define HIER_MAX (1 << 20)  /* per level; the product is capped at INT_MAX by a rule */

static const cfg_key cfg_keys[] = {
    {"version", CFG_INT, AIMC_ARCH_VERSION, AIMC_ARCH_VERSION, NULL, FIELD(version), 1, "",
     "config format version; must be 1"},
    {"name", CFG_STRING, 0, 0, NULL, FIELD(name), 0, "", "free text naming the machine"},

    KEY_ENUM("device.type", device.type, device_enum,
             "device model: ideal (exact), pcm, rram or generic"),
    KEY_DBL("device.g_min_us", device.g_min_us, 0, COND_MAX_US, "uS",
            "lowest programmable conductance"),
    KEY_DBL("device.g_max_us", device.g_max_us, 1e-3, COND_MAX_US, "uS",
            "highest programmable conductance"),
    KEY_INT("device.levels", device.levels, 2, 65536, "",
            "distinct programmable conductance levels"),
    KEY_DBL("device.program_sigma_us", device.program_sigma_us, 0, COND_MAX_US, "uS",
            "Gaussian programming error per device"),
    KEY_DBL("device.read_sigma_us", device.read_sigma_us, 0, COND_MAX_US, "uS",
            "Gaussian read noise per device per read"),
    KEY_DBL("device.read_voltage_v", device.read_voltage_v, 1e-3, 10, "V",
            "read voltage of a full-scale input step"),
    KEY_DBL("device.program_sigma_rel", device.program_sigma_rel, 0, 10, "",
            "rram: programming error proportional to the conductance"),
    KEY_DBL("device.read_sigma_rel", device.read_sigma_rel, 0, 10, "",
            "rram: read noise proportional to the conductance"),
    KEY_DBL("device.read_time_s", device.read_time_s, 0, 1e10, "s",
            "time since programming at which reads happen (pcm drift, 1/f noise)"),
    KEY_ENUM("device.drift_compensation", device.drift_compensation, onoff_enum,
             "global drift compensation by a calibration read: off or on"),
    KEY_DBL("device.stuck_on_rate", device.stuck_on_rate, 0, 1, "",
            "fraction of devices stuck at g_max"),
    KEY_DBL("device.stuck_off_rate", device.stuck_off_rate, 0, 1, "",
            "fraction of devices stuck at g_min"),
    KEY_DBL("device.pulse_energy_pj", device.pulse_energy_pj, 0, ENERGY_MAX_PJ, "pJ",
            "one programming pulse of one device"),
    KEY_DBL("device.pulse_ns", device.pulse_ns, TIME_MIN_NS, TIME_MAX_NS, "ns",
            "one programming pulse"),

    KEY_INT("crossbar.rows", crossbar.rows, 1, 4096, "", "physical word lines (inputs)"),
    KEY_INT("crossbar.cols", crossbar.cols, 1, 4096, "", "physical bit lines"),
    KEY_INT("crossbar.bits_per_cell", crossbar.bits_per_cell, 1, 8, "bit",
            "weight bits one device holds"),
    KEY_INT("crossbar.weight_bits", crossbar.weight_bits, 2, 16, "bit",
            "signed weight precision, sign included"),
    KEY_ENUM("crossbar.sign_encoding", crossbar.sign_encoding, sign_enum,
             "differential (G+ - G-, two columns) or offset (one column, bias removed)"),
    KEY_DBL("crossbar.integration_ns", crossbar.integration_ns, TIME_MIN_NS, TIME_MAX_NS, "ns",
            "one input step: drive, settle, integrate"),
    KEY_DBL("crossbar.area_um2", crossbar.area_um2, 0, AREA_MAX_UM2, "um^2",
            "one crossbar array"),
    KEY_DBL("crossbar.wire_resistance_ohm", crossbar.wire_resistance_ohm, 0, 1e6, "ohm",
            "IR drop: wire resistance of one cell segment; 0 = off"),
    KEY_ENUM("crossbar.weight_scale", crossbar.weight_scale, wscale_enum,
             "one weight-to-conductance scale per matrix, tile or column (of each tile)"),

    KEY_INT("dac.bits", dac.bits, 2, 17, "bit",
            "signed input precision, sign included (17: 16-bit magnitudes, as ISAAC's inputs)"),
    KEY_ENUM("dac.mode", dac.mode, dac_enum,
             "bit_serial (one input bit per step), multi_bit (one step) or pulse_width (one "
             "step, codes as pulse durations)"),
    KEY_DBL("dac.energy_pj", dac.energy_pj, 0, ENERGY_MAX_PJ, "pJ",
            "one row driven for one step"),
    KEY_DBL("dac.area_um2", dac.area_um2, 0, AREA_MAX_UM2, "um^2", "one row driver"),
    KEY_DBL("dac.leakage_mw", dac.leakage_mw, 0, POWER_MAX_MW, "mW",
            "static power of one row driver"),

    KEY_INT("adc.bits", adc.bits, 1, 16, "bit", "output code width"),
    KEY_INT("adc.per_crossbar", adc.per_crossbar, 1, 4096, "",
            "ADCs shared by one crossbar's columns"),
    KEY_DBL_AUTO("adc.conversion_ns", adc.conversion_ns, adc.conversion_auto, TIME_MIN_NS, TIME_MAX_NS, "ns",
            "one conversion"),
    KEY_DBL_AUTO("adc.energy_pj", adc.energy_pj, adc.energy_auto, 0, ENERGY_MAX_PJ, "pJ",
                 "one conversion; auto: from adc.bits (docs/config.md, the ADC model)"),
    KEY_DBL_AUTO("adc.area_um2", adc.area_um2, adc.area_auto, 0, AREA_MAX_UM2, "um^2",
                 "one ADC; auto: from adc.bits"),
    KEY_DBL("adc.offset_lsb", adc.offset_lsb, -1e6, 1e6, "LSB",
            "systematic offset of every conversion"),
    KEY_DBL("adc.gain_error", adc.gain_error, -0.5, 0.5, "",
            "systematic relative gain error (0.01 = +1 %)"),
    KEY_DBL("adc.leakage_mw", adc.leakage_mw, 0, POWER_MAX_MW, "mW", "static power of one ADC"),
    KEY_ENUM("adc.range", adc.range, adc_range_enum,
             "full_scale (worst case of the tile), or calibrated at programming: max or "
             "percentile of the outputs of calibration inputs"),
    KEY_DBL("adc.range_percentile", adc.range_percentile, 50, 100, "%",
            "adc.range percentile: the percentile of |column signal| that sets the range"),

    KEY_DBL("digital.energy_pj_per_op", digital.energy_pj_per_op, 0, ENERGY_MAX_PJ, "pJ",
            "one shift-and-add or accumulate"),
    KEY_DBL("digital.area_um2_per_core", digital.area_um2_per_core, 0, AREA_MAX_UM2, "um^2",
            "digital logic of one core"),
    KEY_INT("digital.ops_per_cycle", digital.ops_per_cycle, 1, 65536, "",
            "adds one core's digital unit retires per clock"),
    KEY_DBL("digital.leakage_mw_per_core", digital.leakage_mw_per_core, 0, POWER_MAX_MW, "mW",
            "static power of one core's digital logic and registers"),

    KEY_INT("hierarchy.crossbars_per_core", hierarchy.crossbars_per_core, 1, HIER_MAX, "",
            "crossbars in one core"),
    KEY_INT("hierarchy.cores_per_chip", hierarchy.cores_per_chip, 1, HIER_MAX, "",
            "cores on one chip"),
    {"hierarchy.chips", CFG_INT, 1, HIER_MAX, NULL, FIELD(hierarchy.chips), 0, "",
     "chips in the machine, or auto: as many as the mapped model needs",
     offsetof(aimc_arch, hierarchy.chips_auto)},
    KEY_INT("hierarchy.tiers", hierarchy.tiers, 1, HIER_MAX, "",
            "stacked arrays (3D tiers) per crossbar site, sharing their site's periphery"),
    KEY_INT("hierarchy.cores_per_cluster", hierarchy.cores_per_cluster, 1, HIER_MAX, "",
            "cores sharing one cluster's buffer, bus and router"),

    KEY_DBL("clock.frequency_mhz", clock.frequency_mhz, 1e-3, 1e6, "MHz", "digital clock"),

    KEY_ENUM("mapping.strategy", mapping.strategy, strategy_enum,
             "placement: pack, locality, balance, replicate or tiered"),
    KEY_DBL("mapping.replicate_threshold", mapping.replicate_threshold, 0, 1, "",
            "replicate: copy experts activated at least this often per token"),
    KEY_DBL("mapping.fault_threshold", mapping.fault_threshold, 0, 1, "",
            "skip crossbars whose fault fraction is above this"),
    KEY_DBL("mapping.noc_hop_ns", mapping.noc_hop_ns, 0, TIME_MAX_NS, "ns",
            "one partial sum over one mesh hop"),
    KEY_DBL("mapping.noc_hop_energy_pj", mapping.noc_hop_energy_pj, 0, ENERGY_MAX_PJ, "pJ",
            "one 32-bit partial sum over one mesh hop"),
    KEY_DBL("mapping.chip_link_ns", mapping.chip_link_ns, 0, TIME_MAX_NS, "ns",
            "one partial sum over a chip-to-chip link"),
    KEY_DBL("mapping.chip_link_energy_pj", mapping.chip_link_energy_pj, 0, ENERGY_MAX_PJ, "pJ",
            "one 32-bit partial sum over a chip-to-chip link"),

    KEY_INT("program.verify_iterations", program.verify_iterations, 0, 100, "",
            "program-and-verify rounds after the first write when the runtime programs weights"),
    KEY_DBL("program.verify_tolerance_us", program.verify_tolerance_us, 0, COND_MAX_US, "uS",
            "a device passes verify when within this of its target conductance"),

    KEY_INT("buffer.kb", buffer.kb, 1, HIER_MAX, "KiB", "capacity of a tile's buffer"),
    KEY_INT("buffer.banks", buffer.banks, 1, 65536, "", "banks of a tile's buffer"),
    KEY_INT("buffer.bytes_per_access", buffer.bytes_per_access, 1, 65536, "B",
            "bytes one bank moves per access"),
    KEY_DBL("buffer.access_ns", buffer.access_ns, TIME_MIN_NS, TIME_MAX_NS, "ns",
            "one access keeps its bank busy"),
    KEY_DBL("buffer.energy_pj", buffer.energy_pj, 0, ENERGY_MAX_PJ, "pJ", "one buffer access"),
    KEY_DBL("buffer.leakage_mw", buffer.leakage_mw, 0, POWER_MAX_MW, "mW",
            "static power of a tile's buffer"),
    KEY_DBL("buffer.area_um2", buffer.area_um2, 0, AREA_MAX_UM2, "um^2", "a tile's buffer"),

    KEY_INT("bus.width_bits", bus.width_bits, 1, 65536, "bit",
            "wires of the bus from a tile's buffer to its cores"),
    KEY_DBL("bus.transfer_ns", bus.transfer_ns, TIME_MIN_NS, TIME_MAX_NS, "ns",
            "one transfer of width_bits"),
    KEY_DBL("bus.energy_pj_per_bit", bus.energy_pj_per_bit, 0, ENERGY_MAX_PJ, "pJ",
            "one bit over the bus"),
    KEY_DBL("bus.area_um2", bus.area_um2, 0, AREA_MAX_UM2, "um^2", "a tile's bus"),

    KEY_INT("noc.flit_bytes", noc.flit_bytes, 1, 65536, "B",
            "link width: bytes a link moves per mapping.noc_hop_ns"),
    KEY_INT("noc.ports", noc.ports, 1, 64, "", "router ports that can move a flit at once"),
    KEY_INT("noc.clusters_per_router", noc.clusters_per_router, 1, HIER_MAX, "",
            "clusters sharing one router"),
    KEY_DBL("noc.leakage_mw", noc.leakage_mw, 0, POWER_MAX_MW, "mW", "static power of a router"),
    KEY_DBL("noc.area_um2", noc.area_um2, 0, AREA_MAX_UM2, "um^2", "one router"),

    {"chip_link.count", CFG_INT, 1, 1024, NULL, FIELD(chip_link.count), 0, "",
     "chip-to-chip links per chip; auto: none on a machine of one chip, 4 otherwise",
     offsetof(aimc_arch, chip_link.count_auto)},
    KEY_DBL("chip_link.gbytes_per_s", chip_link.gbytes_per_s, 1e-6, 1e6, "GB/s",
            "bandwidth of one chip-to-chip link"),
    KEY_DBL("chip_link.leakage_mw", chip_link.leakage_mw, 0, POWER_MAX_MW, "mW",
            "static power of one chip-to-chip link"),
    KEY_DBL("chip_link.area_um2", chip_link.area_um2, 0, AREA_MAX_UM2, "um^2",
            "one chip-to-chip link (PHY and controller)"),

    KEY_DBL("units.energy_pj_per_op", units.energy_pj_per_op, 0, ENERGY_MAX_PJ, "pJ",
            "one operation of a tile's digital units (activation, top-k, pooling, accumulate)"),
    KEY_INT("units.ops_per_cycle", units.ops_per_cycle, 1, 65536, "",
            "operations a tile's digital units retire per clock"),
    KEY_DBL("units.leakage_mw", units.leakage_mw, 0, POWER_MAX_MW, "mW",
            "static power of a tile's digital units and output registers"),
    KEY_DBL("units.area_um2", units.area_um2, 0, AREA_MAX_UM2, "um^2",
            "a tile's digital units and output registers"),

    KEY_DBL("host_dma.gbytes_per_s", host_dma.gbytes_per_s, 1e-6, 1e6, "GB/s",
            "host-to-chip DMA bandwidth"),
    KEY_DBL("host_dma.latency_ns", host_dma.latency_ns, 0, TIME_MAX_NS, "ns",
            "latency of one DMA transfer"),
    KEY_DBL("host_dma.energy_pj_per_byte", host_dma.energy_pj_per_byte, 0, ENERGY_MAX_PJ, "pJ",
            "one byte moved by host DMA"),

    KEY_ENUM("kv_cache.memory", kv_cache.memory, kvmem_enum,
             "where attention keeps its key-value cache: offchip memory or the buffer of the "
             "cluster that attends"),
    KEY_DBL("kv_cache.gbytes_per_s", kv_cache.gbytes_per_s, 1e-6, 1e6, "GB/s",
            "off-chip KV memory bandwidth per chip"),
    KEY_DBL("kv_cache.latency_ns", kv_cache.latency_ns, 0, TIME_MAX_NS, "ns",
            "latency of one off-chip KV memory transfer"),
    KEY_DBL("kv_cache.energy_pj_per_byte", kv_cache.energy_pj_per_byte, 0, ENERGY_MAX_PJ, "pJ",
            "one byte read or written in off-chip KV memory"),
    KEY_DBL("kv_cache.gbytes", kv_cache.gbytes, 1e-6, 1e9, "GB",
            "off-chip KV memory capacity per chip"),

    KEY_ENUM("power.gating", power.gating, gating_enum,
             "none: every unit of every chip leaks; unused: units without weights are off"),
    KEY_INT("calibration.chips", calibration.chips, 0, 1 << 20, "",
            "chips of the machine the preset's figures were published for (0: not stated); "
            "a run on more is reported with a warning"),
    KEY_INT("simulator.threads", simulator.threads, 1, 1024, "",
            "threads one simulated MVM may use (results identical for any count)"),
};

#define N_KEYS (sizeof cfg_keys / sizeof cfg_keys[0])
#define MAX_NAMES 64 /* sections or keys of one level; the table has far fewer */

/* Where a key's value came from, for messages of the rules that join keys. */
typedef enum { ORIG_DEFAULT = 0, ORIG_FILE, ORIG_SET } orig_kind;
typedef struct {
    orig_kind kind;
    int line, col;      /* ORIG_FILE */
    const char *set;    /* ORIG_SET: the assignment as given */
} cfg_origin;

typedef struct {
    const char *file;   /* NULL when no file */
    cfg_origin org[N_KEYS];
} cfg_origins;

static int key_index(const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(cfg_keys[i].key, key) == 0) return (int)i;
    return -1;
}

/* The part before the dot ("adc" of "adc.bits"), or "" for a top-level key. */
static size_t section_len(const char *key)
{
    const char *dot = strchr(key, '.');
    return dot ? (size_t)(dot - key) : 0;
}

static int is_section(const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < N_KEYS; i++)
        if (section_len(cfg_keys[i].key) == len && strncmp(cfg_keys[i].key, name, len) == 0)
            return 1;
    return 0;
}

/* The names allowed at the top level: top-level keys and section names, in table order.
 * Section names are written into buf (one row each). */
static size_t top_names(const char **names, char (*buf)[32])
{
    size_t n = 0;
    for (size_t i = 0; i < N_KEYS && n < MAX_NAMES; i++) {
        const char *key = cfg_keys[i].key;
        size_t len = section_len(key);
        if (len == 0) {
            names[n++] = key;
            continue;
        }
        if (i > 0 && section_len(cfg_keys[i - 1].key) == len &&
            strncmp(cfg_keys[i - 1].key, key, len) == 0)
            continue; /* the table keeps a section's keys together */
        snprintf(buf[n], sizeof buf[n], "%.*s", (int)len, key);
        names[n] = buf[n];
        n++;
    }
    return n;
}

/* The keys of section (without the section prefix), in table order. */
static size_t section_keys(const char *section, const char **names)
{
    size_t n = 0, len = strlen(section);
    for (size_t i = 0; i < N_KEYS && n < MAX_NAMES; i++)
        if (section_len(cfg_keys[i].key) == len && strncmp(cfg_keys[i].key, section, len) == 0)
            names[n++] = cfg_keys[i].key + len + 1;
    return n;
}

static int *int_field(aimc_arch *a, const cfg_key *k) { return (int *)((char *)a + k->offset); }
static double *dbl_field(aimc_arch *a, const cfg_key *k)
{
    return (double *)((char *)a + k->offset);
}
static int int_value(const aimc_arch *a, const cfg_key *k)
{
    return *(const int *)((const char *)a + k->offset);
}
static double dbl_value(const aimc_arch *a, const cfg_key *k)
{
    return *(const double *)((const char *)a + k->offset);
}

static int version_error(aimc_diag *d, const char *where, long got)
{
    return aimc_diag_set(d, AIMC_ERR_CONFIG,
                         "%sversion: unsupported config version %ld; this aimc reads version %d",
                         where, got, AIMC_ARCH_VERSION);
}

/* Parse node n as the value of key k into a. */
static int parse_value(const aimc_ydoc *doc, const aimc_ynode *n, const cfg_key *k,
                       aimc_arch *a, aimc_diag *d)
{
    int rc;
    long lv;
    int ev;
    switch (k->type) {
    case CFG_INT:
        if (k->is_version && n && n->kind == AIMC_YNODE_SCALAR && !n->quoted &&
            aimc_parse_long(n->scalar, &lv) == AIMC_OK && lv != AIMC_ARCH_VERSION) {
            /* version: a well-formed other version gets its own message */
            char at[600] = "";
            if (doc->name && doc->name[0] && n->line > 0)
                snprintf(at, sizeof at, "%s:%d:%d: ", doc->name, n->line, n->col);
            else if (doc->name && doc->name[0])
                snprintf(at, sizeof at, "%s: ", doc->name);
            return version_error(d, at, lv);
        }
        if (k->auto_offset && n && n->kind == AIMC_YNODE_SCALAR && !n->quoted && n->scalar &&
            strcmp(n->scalar, "auto") == 0) {
            *(int *)((char *)a + k->auto_offset) = 1;
            return AIMC_OK;
        }
        rc = aimc_ynode_int(doc, n, k->key, (long)k->lo, (long)k->hi, &lv, d);
        if (rc) return rc;
        *int_field(a, k) = (int)lv;
        if (k->auto_offset) *(int *)((char *)a + k->auto_offset) = 0;
        return AIMC_OK;
    case CFG_DOUBLE:
        if (k->auto_offset && n && n->kind == AIMC_YNODE_SCALAR && !n->quoted && n->scalar &&
            strcmp(n->scalar, "auto") == 0) {
            *(int *)((char *)a + k->auto_offset) = 1;
            return AIMC_OK;
        }
        rc = aimc_ynode_double(doc, n, k->key, k->lo, k->hi, dbl_field(a, k), d);
        if (!rc && k->auto_offset) *(int *)((char *)a + k->auto_offset) = 0;
        return rc;
    case CFG_ENUM:
        rc = aimc_ynode_enum(doc, n, k->key, k->en->names, k->en->n, &ev, d);
        if (rc) return rc;
        *int_field(a, k) = k->en->values[ev];
        return AIMC_OK;
    case CFG_STRING:
        return aimc_ynode_str(doc, n, k->key, (char *)a + k->offset, k->size, d);
    }
    return aimc_diag_set(d, AIMC_ERR_INVALID, "%s: bad key table entry", k->key);
}

static void note_file(cfg_origins *o, int idx, const aimc_ynode *n)
{
    if (!o) return;
    o->org[idx].kind = ORIG_FILE;
    o->org[idx].line = n->line;
    o->org[idx].col = n->col;
}

/* Keys that were renamed: a config that uses the old name is told the new one. */
static const struct {
    const char *old_key, *new_key, *why;
} cfg_renamed[] = {
    {"hierarchy.cores_per_tile", "hierarchy.cores_per_cluster",
     "a group of cores sharing a buffer is a cluster; a tile is a block of a weight matrix"},
    {"noc.tiles_per_router", "noc.clusters_per_router",
     "a group of cores sharing a buffer is a cluster; a tile is a block of a weight matrix"},
};

static int renamed_key(const aimc_ydoc *doc, const aimc_ynode *map, const char *section,
                       aimc_diag *d)
{
    for (size_t i = 0; i < map->n; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s.%s", section, map->keys[i]);
        for (size_t r = 0; r < sizeof cfg_renamed / sizeof cfg_renamed[0]; r++)
            if (strcmp(full, cfg_renamed[r].old_key) == 0) {
                return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: %s: renamed %s (%s)",
                                     doc->name, map->key_line[i], map->key_col[i], full,
                                     cfg_renamed[r].new_key, cfg_renamed[r].why);
            }
    }
    return AIMC_OK;
}

static int load_section(const aimc_ydoc *doc, const aimc_ynode *map, const char *section,
                        aimc_arch *a, cfg_origins *o, aimc_diag *d)
{
    const char *names[MAX_NAMES];
    int rc = aimc_ynode_expect_map(doc, map, section, d);
    if (rc) return rc;
    rc = renamed_key(doc, map, section, d);
    if (rc) return rc;
    rc = aimc_ymap_check_keys(doc, map, section, names, section_keys(section, names), d);
    if (rc) return rc;
    for (size_t i = 0; i < map->n; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s.%s", section, map->keys[i]);
        int idx = key_index(full);
        if (idx < 0) continue; /* cannot happen after the key check */
        rc = parse_value(doc, map->items[i], &cfg_keys[idx], a, d);
        if (rc) return rc;
        note_file(o, idx, map->items[i]);
    }
    return AIMC_OK;
}

static const char *kind_name(const aimc_ynode *n)
{
    if (n->kind == AIMC_YNODE_SEQ) return "a sequence";
    if (n->kind == AIMC_YNODE_MAP) return "a mapping";
    return "a scalar";
}

static int load_doc(const aimc_ydoc *doc, aimc_arch *a, cfg_origins *o, aimc_diag *d)
{
    const aimc_ynode *root = doc->root;
    const char *names[MAX_NAMES];
    char sections[MAX_NAMES][32];
    int rc;

    if (!root || (root->kind == AIMC_YNODE_SCALAR && !root->quoted && root->scalar[0] == '\0'))
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%s:1:1: empty config; expected a mapping with at least the key "
                             "version",
                             doc->name);
    if (root->kind != AIMC_YNODE_MAP)
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%s:%d:%d: expected a mapping of config keys at the top, got %s",
                             doc->name, root->line, root->col, kind_name(root));

    /* The version first: a file of another version may well have keys this one lacks. */
    const aimc_ynode *ver = aimc_ymap_get(root, "version");
    if (!ver)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: missing required key version",
                             doc->name, root->line, root->col);
    int vidx = key_index("version");
    rc = parse_value(doc, ver, &cfg_keys[vidx], a, d);
    if (rc) return rc;
    note_file(o, vidx, ver);

    rc = aimc_ymap_check_keys(doc, root, "", names, top_names(names, sections), d);
    if (rc) return rc;
    for (size_t i = 0; i < root->n; i++) {
        const char *key = root->keys[i];
        int idx = key_index(key);
        if (idx == vidx) continue;
        if (idx >= 0) {
            rc = parse_value(doc, root->items[i], &cfg_keys[idx], a, d);
            if (rc) return rc;
            note_file(o, idx, root->items[i]);
            continue;
        }
        rc = load_section(doc, root->items[i], key, a, o, d);
        if (rc) return rc;
    }
    return AIMC_OK;
}

/* Apply one assignment; *idx_out is the key's row. */
static int set_one(aimc_arch *a, const char *assignment, int *idx_out, aimc_diag *d)
{
    if (!assignment) return aimc_diag_set(d, AIMC_ERR_INVALID, "--set: NULL assignment");
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "--set %s: expected key=value, e.g. adc.bits=8",
                             assignment);
    char key[128];
    size_t klen = (size_t)(eq - assignment);
    if (klen >= sizeof key) klen = sizeof key - 1;
    memcpy(key, assignment, klen);
    key[klen] = '\0';
    const char *value = eq + 1;

    int idx = key_index(key);
    for (size_t r = 0; idx < 0 && r < sizeof cfg_renamed / sizeof cfg_renamed[0]; r++)
        if (strcmp(key, cfg_renamed[r].old_key) == 0)
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "--set %s: %s: renamed %s (%s)", assignment,
                                 key, cfg_renamed[r].new_key, cfg_renamed[r].why);
    if (idx < 0 && key[0] && is_section(key)) {
        const char *names[MAX_NAMES];
        size_t n = section_keys(key, names);
        char list[600] = "";
        size_t used = 0;
        for (size_t i = 0; i < n && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s.%s", i ? ", " : "",
                                     key, names[i]);
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "--set %s: %s: is a section; set one of its keys: %s", assignment,
                             key, list);
    }
    if (idx < 0) {
        const char *all[N_KEYS];
        for (size_t i = 0; i < N_KEYS; i++) all[i] = cfg_keys[i].key;
        long near = aimc_suggest(key, all, N_KEYS);
        if (near >= 0)
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "--set %s: %s: unknown key; did you mean %s?",
                                 assignment, key, all[near]);
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "--set %s: %s: unknown key (docs/config.md lists the keys)",
                             assignment, key);
    }

    /* The value goes through the same getters as a file's, as a plain scalar with no
     * position, in a document named after the assignment. */
    char name[600];
    snprintf(name, sizeof name, "--set %s", assignment);
    aimc_ydoc doc = {name, NULL};
    aimc_ynode node;
    memset(&node, 0, sizeof node);
    node.kind = AIMC_YNODE_SCALAR;
    node.scalar = (char *)value;
    int rc = parse_value(&doc, &node, &cfg_keys[idx], a, d);
    if (rc) return rc;
    *idx_out = idx;
    return AIMC_OK;
}

int aimc_cfg_set(aimc_arch *a, const char *assignment, aimc_diag *d)
{
    int idx;
    if (!a) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_cfg_set: NULL arch");
    return set_one(a, assignment, &idx, d);
}

/* ---- validation ------------------------------------------------------------------------ */

/* "file:L:C: " or "--set k=v: " for where key idx was set, or "" for a default. */
static void where(const cfg_origins *o, int idx, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (!o || idx < 0) return;
    const cfg_origin *g = &o->org[idx];
    if (g->kind == ORIG_FILE)
        snprintf(buf, cap, "%s:%d:%d: ", o->file, g->line, g->col);
    else if (g->kind == ORIG_SET)
        snprintf(buf, cap, "--set %s: ", g->set);
}

/* The place to name for a rule joining key a (named in the message) and key b: a's when the
 * user set a, else b's. */
static void where2(const cfg_origins *o, const char *ka, const char *kb, char *buf, size_t cap)
{
    int ia = key_index(ka), ib = key_index(kb);
    where(o, ia, buf, cap);
    if (!buf[0]) where(o, ib, buf, cap);
}

static int check_ranges(const aimc_arch *a, const cfg_origins *o, aimc_diag *d)
{
    char at[700];
    for (size_t i = 0; i < N_KEYS; i++) {
        const cfg_key *k = &cfg_keys[i];
        where(o, (int)i, at, sizeof at);
        if (k->type == CFG_INT) {
            int v = int_value(a, k);
            if (k->is_version && v != AIMC_ARCH_VERSION) return version_error(d, at, v);
            if (v < k->lo || v > k->hi)
                return aimc_diag_set(d, AIMC_ERR_CONFIG,
                                     "%s%s: expected an integer in %ld..%ld, got %d", at, k->key,
                                     (long)k->lo, (long)k->hi, v);
        } else if (k->type == CFG_DOUBLE) {
            double v = dbl_value(a, k);
            if (!(v >= k->lo && v <= k->hi))
                return aimc_diag_set(d, AIMC_ERR_CONFIG,
                                     "%s%s: expected a number in %g..%g, got %g", at, k->key, k->lo,
                                     k->hi, v);
        } else if (k->type == CFG_ENUM) {
            int v = int_value(a, k), ok = 0;
            for (int e = 0; e < k->en->n; e++) ok |= k->en->values[e] == v;
            if (!ok) {
                char list[300] = "", got[32];
                size_t used = 0;
                for (int e = 0; e < k->en->n && used < sizeof list; e++)
                    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                             e ? ", " : "", k->en->names[e]);
                if (v >= 0 && v < k->en->n_all)
                    snprintf(got, sizeof got, "\"%s\"", k->en->all[v]);
                else
                    snprintf(got, sizeof got, "%d", v);
                return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s%s: expected one of %s, got %s", at,
                                     k->key, list, got);
            }
        } else if (!memchr((const char *)a + k->offset, '\0', k->size)) {
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s%s: not NUL-terminated within %zu bytes",
                                 at, k->key, k->size);
        }
    }
    return AIMC_OK;
}

static int check_rules(const aimc_arch *a, const cfg_origins *o, aimc_diag *d)
{
    char at[700];
    const int diff = a->crossbar.sign_encoding == AIMC_SIGN_DIFFERENTIAL;

    if (!(a->device.g_min_us < a->device.g_max_us)) {
        where2(o, "device.g_min_us", "device.g_max_us", at, sizeof at);
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%sdevice.g_min_us: must be less than device.g_max_us = %g, got %g",
                             at, a->device.g_max_us, a->device.g_min_us);
    }
    long need = 1L << a->crossbar.bits_per_cell;
    if (a->device.levels < need) {
        where2(o, "device.levels", "crossbar.bits_per_cell", at, sizeof at);
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%sdevice.levels: must be at least 2^crossbar.bits_per_cell = %ld, "
                             "got %d",
                             at, need, a->device.levels);
    }
    int stored = aimc_arch_stored_bits(a);
    if (a->crossbar.bits_per_cell > stored) {
        where2(o, "crossbar.bits_per_cell", "crossbar.weight_bits", at, sizeof at);
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%scrossbar.bits_per_cell: must be at most the stored weight bits "
                             "(%s) = %d, got %d",
                             at,
                             diff ? "crossbar.weight_bits - 1 for differential"
                                  : "crossbar.weight_bits for offset",
                             stored, a->crossbar.bits_per_cell);
    }
    if (diff && a->crossbar.cols % 2 != 0) {
        where2(o, "crossbar.cols", "crossbar.sign_encoding", at, sizeof at);
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%scrossbar.cols: must be even for crossbar.sign_encoding "
                             "differential, got %d",
                             at, a->crossbar.cols);
    }
    int logical = aimc_arch_logical_cols(a);
    if (a->adc.per_crossbar > logical) {
        where2(o, "adc.per_crossbar", "crossbar.cols", at, sizeof at);
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%sadc.per_crossbar: must be at most the crossbar's logical "
                             "columns (%s) = %d, got %d",
                             at, diff ? "crossbar.cols / 2 for differential" : "crossbar.cols",
                             logical, a->adc.per_crossbar);
    }
    long long total = (long long)a->hierarchy.crossbars_per_core * a->hierarchy.cores_per_chip *
                      a->hierarchy.chips;
    if (total > INT_MAX) {
        where2(o, "hierarchy.chips", "hierarchy.cores_per_chip", at, sizeof at);
        if (!at[0]) where2(o, "hierarchy.crossbars_per_core", "hierarchy.chips", at, sizeof at);
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%shierarchy: crossbars_per_core * cores_per_chip * chips must be "
                             "at most %d, got %lld",
                             at, INT_MAX, total);
    }
    return AIMC_OK;
}

static int validate(const aimc_arch *a, const cfg_origins *o, aimc_diag *d)
{
    int rc = check_ranges(a, o, d);
    if (rc) return rc;
    return check_rules(a, o, d);
}

int aimc_arch_validate(const aimc_arch *a, aimc_diag *d)
{
    if (!a) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_arch_validate: NULL arch");
    return validate(a, NULL, d);
}

/* ---- loading --------------------------------------------------------------------------- */

static int finish(const aimc_ydoc *doc, const char *const *sets, size_t n_sets, aimc_arch *out,
                  aimc_diag *d)
{
    int rc;
    cfg_origins *o = calloc(1, sizeof *o);
    if (!o) return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    aimc_arch_defaults(out);
    if (doc) {
        o->file = doc->name;
        rc = load_doc(doc, out, o, d);
        if (rc) goto out_free;
    }
    for (size_t i = 0; i < n_sets; i++) {
        int idx;
        rc = set_one(out, sets[i], &idx, d);
        if (rc) goto out_free;
        o->org[idx].kind = ORIG_SET;
        o->org[idx].set = sets[i];
    }
    rc = validate(out, o, d);
out_free:
    free(o);
    return rc;
}

int aimc_cfg_load(const char *path, const char *const *sets, size_t n_sets, aimc_arch *out,
                  aimc_diag *d)
{
    aimc_ydoc *doc = NULL;
    if (!out || (n_sets && !sets))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_cfg_load: NULL argument");
    if (path) {
        int rc = aimc_ydoc_load_file(path, &doc, d);
        if (rc) return rc;
    }
    int rc = finish(doc, sets, n_sets, out, d);
    aimc_ydoc_free(doc);
    return rc;
}

int aimc_cfg_load_string(const char *text, const char *name, const char *const *sets,
                         size_t n_sets, aimc_arch *out, aimc_diag *d)
{
    aimc_ydoc *doc = NULL;
    if (!text || !out || (n_sets && !sets))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_cfg_load_string: NULL argument");
    int rc = aimc_ydoc_load_string(text, strlen(text), name, &doc, d);
    if (rc) return rc;
    rc = finish(doc, sets, n_sets, out, d);
    aimc_ydoc_free(doc);
    return rc;
}

size_t aimc_cfg_key_count(void) { return N_KEYS; }

const char *aimc_cfg_key_name(size_t i) { return i < N_KEYS ? cfg_keys[i].key : NULL; }
