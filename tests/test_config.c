/* test_config.c - tests of the YAML tree, machine configs, --set and the config docs. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_arch.h"
#include "aimc_config.h"
#include "aimc_yaml.h"
#include "tests.h"

#define BAD_DIR "tests/configs/bad"
#define MIN_BAD_CONFIGS 12

/* The whole file as a NUL-terminated string, or NULL. The caller frees it. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

/* ---- malformed configs -------------------------------------------------------------- */

static void test_bad_configs(void)
{
    DIR *dir = opendir(BAD_DIR);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    int pairs = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0) continue;
        char yaml[512], expect_path[512];
        snprintf(yaml, sizeof yaml, "%s/%s", BAD_DIR, e->d_name);
        snprintf(expect_path, sizeof expect_path, "%s/%.*s.expect", BAD_DIR, (int)(len - 5),
                 e->d_name);
        char *expect = read_text(expect_path);
        CU_ASSERT_PTR_NOT_NULL(expect);
        if (!expect) {
            fprintf(stderr, "\n  missing %s\n", expect_path);
            continue;
        }
        expect[strcspn(expect, "\n")] = '\0';
        aimc_arch a;
        aimc_diag d;
        memset(&d, 0, sizeof d);
        int rc = aimc_cfg_load(yaml, NULL, 0, &a, &d);
        CU_ASSERT(rc == AIMC_ERR_PARSE || rc == AIMC_ERR_CONFIG);
        CU_ASSERT_STRING_EQUAL(d.msg, expect);
        if (strcmp(d.msg, expect) != 0)
            fprintf(stderr, "\n  %s:\n    got:    %s\n    expect: %s\n", yaml, d.msg, expect);
        free(expect);
        pairs++;
    }
    closedir(dir);
    CU_ASSERT(pairs >= MIN_BAD_CONFIGS);

    /* Every .expect has its .yaml. */
    dir = opendir(BAD_DIR);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 8 || strcmp(e->d_name + len - 7, ".expect") != 0) continue;
        char yaml[512];
        snprintf(yaml, sizeof yaml, "%s/%.*s.yaml", BAD_DIR, (int)(len - 7), e->d_name);
        FILE *f = fopen(yaml, "r");
        CU_ASSERT_PTR_NOT_NULL(f);
        if (f) fclose(f);
    }
    closedir(dir);
}

/* Syntax errors are AIMC_ERR_PARSE, broken rules AIMC_ERR_CONFIG, missing files AIMC_ERR_IO. */
static void test_status_codes(void)
{
    aimc_arch a;
    aimc_diag d;
    CU_ASSERT_EQUAL(aimc_cfg_load(BAD_DIR "/syntax.yaml", NULL, 0, &a, &d), AIMC_ERR_PARSE);
    CU_ASSERT_EQUAL(aimc_cfg_load(BAD_DIR "/adc_bits_word.yaml", NULL, 0, &a, &d),
                    AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_cfg_load("tests/configs/no-such-file.yaml", NULL, 0, &a, &d),
                    AIMC_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "tests/configs/no-such-file.yaml: cannot open"));
    CU_ASSERT_EQUAL(aimc_cfg_load(NULL, NULL, 0, NULL, &d), AIMC_ERR_INVALID);
}

/* ---- good configs ------------------------------------------------------------------- */

/* Compare every field of two archs; report the first difference by name. */
static int arch_equal(const aimc_arch *x, const aimc_arch *y)
{
#define SAME(f)                                                                \
    if (x->f != y->f) {                                                        \
        fprintf(stderr, "\n  field " #f " differs\n");                         \
        return 0;                                                              \
    }
    SAME(version);
    SAME(device.type);
    SAME(device.g_min_us);
    SAME(device.g_max_us);
    SAME(device.levels);
    SAME(device.program_sigma_us);
    SAME(device.read_sigma_us);
    SAME(device.read_voltage_v);
    SAME(device.program_sigma_rel);
    SAME(device.read_sigma_rel);
    SAME(device.read_time_s);
    SAME(device.drift_compensation);
    SAME(device.stuck_on_rate);
    SAME(device.stuck_off_rate);
    SAME(device.pulse_energy_pj);
    SAME(device.pulse_ns);
    SAME(crossbar.wire_resistance_ohm);
    SAME(crossbar.weight_scale);
    SAME(adc.offset_lsb);
    SAME(adc.gain_error);
    SAME(crossbar.rows);
    SAME(crossbar.cols);
    SAME(crossbar.bits_per_cell);
    SAME(crossbar.weight_bits);
    SAME(crossbar.sign_encoding);
    SAME(crossbar.integration_ns);
    SAME(crossbar.area_um2);
    SAME(dac.bits);
    SAME(dac.mode);
    SAME(dac.energy_pj);
    SAME(dac.area_um2);
    SAME(adc.bits);
    SAME(adc.per_crossbar);
    SAME(adc.conversion_ns);
    SAME(adc.energy_pj);
    SAME(adc.area_um2);
    SAME(adc.conversion_auto);
    SAME(adc.energy_auto);
    SAME(adc.area_auto);
    SAME(digital.energy_pj_per_op);
    SAME(digital.area_um2_per_core);
    SAME(digital.ops_per_cycle);
    SAME(hierarchy.crossbars_per_core);
    SAME(hierarchy.cores_per_chip);
    SAME(hierarchy.chips);
    SAME(clock.frequency_mhz);
    SAME(hierarchy.chips_auto);
    SAME(hierarchy.tiers);
    SAME(mapping.strategy);
    SAME(mapping.replicate_threshold);
    SAME(mapping.fault_threshold);
    SAME(mapping.noc_hop_ns);
    SAME(mapping.noc_hop_energy_pj);
    SAME(mapping.chip_link_ns);
    SAME(mapping.chip_link_energy_pj);
    SAME(program.verify_iterations);
    SAME(program.verify_tolerance_us);
    SAME(dac.leakage_mw);
    SAME(adc.leakage_mw);
    SAME(adc.range);
    SAME(adc.range_percentile);
    SAME(digital.leakage_mw_per_core);
    SAME(hierarchy.cores_per_cluster);
    SAME(buffer.kb);
    SAME(buffer.banks);
    SAME(buffer.bytes_per_access);
    SAME(buffer.access_ns);
    SAME(buffer.energy_pj);
    SAME(buffer.leakage_mw);
    SAME(buffer.area_um2);
    SAME(bus.width_bits);
    SAME(bus.transfer_ns);
    SAME(bus.energy_pj_per_bit);
    SAME(bus.area_um2);
    SAME(noc.flit_bytes);
    SAME(noc.ports);
    SAME(noc.clusters_per_router);
    SAME(noc.leakage_mw);
    SAME(noc.area_um2);
    SAME(chip_link.count);
    SAME(chip_link.count_auto);
    SAME(chip_link.gbytes_per_s);
    SAME(chip_link.leakage_mw);
    SAME(chip_link.area_um2);
    SAME(units.energy_pj_per_op);
    SAME(units.ops_per_cycle);
    SAME(units.leakage_mw);
    SAME(units.area_um2);
    SAME(host_dma.gbytes_per_s);
    SAME(host_dma.latency_ns);
    SAME(host_dma.energy_pj_per_byte);
    SAME(kv_cache.memory);
    SAME(kv_cache.gbytes_per_s);
    SAME(kv_cache.latency_ns);
    SAME(kv_cache.energy_pj_per_byte);
    SAME(kv_cache.gbytes);
    SAME(simulator.threads);
    SAME(power.gating);
    SAME(calibration.chips);
#undef SAME
    if (strcmp(x->name, y->name) != 0) {
        fprintf(stderr, "\n  field name differs\n");
        return 0;
    }
    return 1;
}

static void test_default_yaml(void)
{
    aimc_arch file, def;
    aimc_diag d = {""};
    int rc = aimc_cfg_load("configs/default.yaml", NULL, 0, &file, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    aimc_arch_defaults(&def);
    CU_ASSERT(arch_equal(&file, &def));
    CU_ASSERT_EQUAL(aimc_arch_validate(&def, &d), AIMC_OK);

    /* Every key is present in the file: walk it and count the leaves. */
    aimc_ydoc *doc = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_ydoc_load_file("configs/default.yaml", &doc, &d), AIMC_OK);
    size_t leaves = 0;
    for (size_t i = 0; i < doc->root->n; i++) {
        const aimc_ynode *v = doc->root->items[i];
        leaves += v->kind == AIMC_YNODE_MAP ? v->n : 1;
    }
    CU_ASSERT_EQUAL(leaves, 95); /* the fields of aimc_arch, counted in arch_equal + name */
    aimc_ydoc_free(doc);
}

static void test_good_config(void)
{
    aimc_arch a;
    aimc_diag d = {""};
    int rc = aimc_cfg_load("tests/configs/good/small.yaml", NULL, 0, &a, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    CU_ASSERT_STRING_EQUAL(a.name, "small");
    CU_ASSERT_EQUAL(a.crossbar.rows, 128);
    CU_ASSERT_EQUAL(a.crossbar.cols, 128);
    CU_ASSERT_EQUAL(a.crossbar.sign_encoding, AIMC_SIGN_OFFSET);
    CU_ASSERT_EQUAL(a.adc.bits, 6);
    CU_ASSERT_EQUAL(a.adc.per_crossbar, 4);
    CU_ASSERT_EQUAL(a.device.type, AIMC_DEVICE_IDEAL);
    /* untouched keys keep their defaults */
    CU_ASSERT_EQUAL(a.dac.bits, 8);
    CU_ASSERT_DOUBLE_EQUAL(a.adc.energy_pj, 2.38, 0.0);
    CU_ASSERT_EQUAL(aimc_arch_logical_cols(&a), 128);

    rc = aimc_cfg_load_string("version: 1\nadc:\n  bits: 12\n  energy_pj: 2.5e0\n", "mem.yaml",
                              NULL, 0, &a, &d);
    CU_ASSERT_EQUAL(rc, AIMC_OK);
    CU_ASSERT_EQUAL(a.adc.bits, 12);
    CU_ASSERT_DOUBLE_EQUAL(a.adc.energy_pj, 2.5, 0.0);

    /* The name given stands for the file in messages. */
    rc = aimc_cfg_load_string("version: 1\nadc:\n  bits: 0\n", "mem.yaml", NULL, 0, &a, &d);
    CU_ASSERT_EQUAL(rc, AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "mem.yaml:3:9: adc.bits: expected an integer in 1..16, got 0");
}

/* ---- --set -------------------------------------------------------------------------- */

static void test_set_valid(void)
{
    const char *sets[] = {"adc.bits=6", "name=sweep point 3", "dac.mode=multi_bit",
                          "device.g_max_us=30.5", "crossbar.sign_encoding=offset"};
    aimc_arch a;
    aimc_diag d = {""};
    int rc = aimc_cfg_load("configs/default.yaml", sets, 5, &a, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    CU_ASSERT_EQUAL(a.adc.bits, 6);
    CU_ASSERT_STRING_EQUAL(a.name, "sweep point 3");
    CU_ASSERT_EQUAL(a.dac.mode, AIMC_DAC_MULTI_BIT);
    CU_ASSERT_DOUBLE_EQUAL(a.device.g_max_us, 30.5, 0.0);
    CU_ASSERT_EQUAL(a.crossbar.sign_encoding, AIMC_SIGN_OFFSET);

    /* Without a file: defaults, then the overrides. */
    rc = aimc_cfg_load(NULL, sets, 1, &a, &d);
    CU_ASSERT_EQUAL(rc, AIMC_OK);
    CU_ASSERT_EQUAL(a.adc.bits, 6);
    CU_ASSERT_STRING_EQUAL(a.name, "default");

    /* aimc_cfg_set alone. */
    aimc_arch_defaults(&a);
    CU_ASSERT_EQUAL(aimc_cfg_set(&a, "hierarchy.chips=4", &d), AIMC_OK);
    CU_ASSERT_EQUAL(a.hierarchy.chips, 4);
    CU_ASSERT_EQUAL(aimc_arch_total_crossbars(&a), 16L * 64 * 4);
}

static void test_set_order(void)
{
    const char *sets[] = {"adc.bits=6", "adc.bits=7"};
    aimc_arch a;
    aimc_diag d = {""};
    CU_ASSERT_EQUAL_FATAL(aimc_cfg_load("configs/default.yaml", sets, 2, &a, &d), AIMC_OK);
    CU_ASSERT_EQUAL(a.adc.bits, 7);
    const char *rev[] = {"adc.bits=7", "adc.bits=6"};
    CU_ASSERT_EQUAL_FATAL(aimc_cfg_load("configs/default.yaml", rev, 2, &a, &d), AIMC_OK);
    CU_ASSERT_EQUAL(a.adc.bits, 6);
    /* A --set wins over the file. */
    const char *over[] = {"crossbar.rows=64"};
    CU_ASSERT_EQUAL_FATAL(aimc_cfg_load("tests/configs/good/small.yaml", over, 1, &a, &d),
                          AIMC_OK);
    CU_ASSERT_EQUAL(a.crossbar.rows, 64);
    /* Rules are checked after all overrides, so an intermediate state may break them. */
    const char *steps[] = {"crossbar.bits_per_cell=4", "device.levels=16"};
    aimc_arch_defaults(&a);
    CU_ASSERT_EQUAL(aimc_cfg_load(NULL, steps, 2, &a, &d), AIMC_OK);
    CU_ASSERT_EQUAL(a.crossbar.bits_per_cell, 4);
}

static void check_set_error(const char *assignment, int want_rc, const char *want)
{
    aimc_arch a;
    aimc_diag d = {""};
    const char *sets[] = {assignment};
    int rc = aimc_cfg_load("configs/default.yaml", sets, 1, &a, &d);
    CU_ASSERT_EQUAL(rc, want_rc);
    CU_ASSERT_STRING_EQUAL(d.msg, want);
    if (strcmp(d.msg, want) != 0) fprintf(stderr, "\n  got:    %s\n  expect: %s\n", d.msg, want);
}

static void test_set_errors(void)
{
    check_set_error("adc.bits=eight", AIMC_ERR_CONFIG,
                    "--set adc.bits=eight: adc.bits: expected an integer in 1..16, got \"eight\"");
    check_set_error("adc.bits=17", AIMC_ERR_CONFIG,
                    "--set adc.bits=17: adc.bits: expected an integer in 1..16, got 17");
    check_set_error("adc.bits=8.0", AIMC_ERR_CONFIG,
                    "--set adc.bits=8.0: adc.bits: expected an integer in 1..16, got \"8.0\"");
    check_set_error("adc.energy_pj=nan", AIMC_ERR_CONFIG,
                    "--set adc.energy_pj=nan: adc.energy_pj: expected a number in 0..1e+06, got "
                    "\"nan\"");
    check_set_error("adc.energy_pj=", AIMC_ERR_CONFIG,
                    "--set adc.energy_pj=: adc.energy_pj: expected a number in 0..1e+06, got an "
                    "empty value");
    check_set_error("dac.mode=serial", AIMC_ERR_CONFIG,
                    "--set dac.mode=serial: dac.mode: expected one of bit_serial, multi_bit, pulse_width, "
                    "got "
                    "\"serial\"");
    check_set_error("device.type=flash", AIMC_ERR_CONFIG,
                    "--set device.type=flash: device.type: expected one of ideal, pcm, rram, "
                    "generic, got \"flash\"");
    check_set_error("version=2", AIMC_ERR_CONFIG,
                    "--set version=2: version: unsupported config version 2; this aimc reads "
                    "version 1");
}

static void test_set_unknown_and_malformed(void)
{
    check_set_error("adc.bitz=8", AIMC_ERR_CONFIG,
                    "--set adc.bitz=8: adc.bitz: unknown key; did you mean adc.bits?");
    check_set_error("frobnicate=1", AIMC_ERR_CONFIG,
                    "--set frobnicate=1: frobnicate: unknown key (docs/config.md lists the keys)");
    check_set_error("adc.bits", AIMC_ERR_CONFIG,
                    "--set adc.bits: expected key=value, e.g. adc.bits=8");
    check_set_error("=8", AIMC_ERR_CONFIG,
                    "--set =8: expected key=value, e.g. adc.bits=8");
    check_set_error("clock=1", AIMC_ERR_CONFIG,
                    "--set clock=1: clock: is a section; set one of its keys: "
                    "clock.frequency_mhz");
    /* A rule broken by a --set names the --set. */
    check_set_error("device.levels=3", AIMC_ERR_CONFIG,
                    "--set device.levels=3: device.levels: must be at least "
                    "2^crossbar.bits_per_cell = 4, got 3");
    /* aimc_cfg_set alone leaves the arch unchanged on error. */
    aimc_arch a, b;
    aimc_diag d = {""};
    aimc_arch_defaults(&a);
    aimc_arch_defaults(&b);
    CU_ASSERT_EQUAL(aimc_cfg_set(&a, "adc.bits=99", &d), AIMC_ERR_CONFIG);
    CU_ASSERT(arch_equal(&a, &b));
}

/* ---- validation --------------------------------------------------------------------- */

static void check_validate(const aimc_arch *a, const char *want)
{
    aimc_diag d = {""};
    CU_ASSERT_EQUAL(aimc_arch_validate(a, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, want);
    if (strcmp(d.msg, want) != 0) fprintf(stderr, "\n  got:    %s\n  expect: %s\n", d.msg, want);
}

static void test_validate(void)
{
    aimc_arch a;
    aimc_diag d = {""};
    aimc_arch_defaults(&a);
    CU_ASSERT_EQUAL(aimc_arch_validate(&a, &d), AIMC_OK);

    aimc_arch_defaults(&a);
    a.device.type = (aimc_device_type)7;
    check_validate(&a, "device.type: expected one of ideal, pcm, rram, generic, got 7");

    aimc_arch_defaults(&a);
    a.adc.energy_pj = NAN;
    check_validate(&a, "adc.energy_pj: expected a number in 0..1e+06, got nan");

    aimc_arch_defaults(&a);
    a.crossbar.rows = 0;
    check_validate(&a, "crossbar.rows: expected an integer in 1..4096, got 0");

    aimc_arch_defaults(&a);
    a.version = 3;
    check_validate(&a, "version: unsupported config version 3; this aimc reads version 1");

    aimc_arch_defaults(&a);
    a.crossbar.cols = 255;
    check_validate(&a, "crossbar.cols: must be even for crossbar.sign_encoding differential, "
                       "got 255");
    a.crossbar.sign_encoding = AIMC_SIGN_OFFSET; /* offset: odd columns are fine */
    CU_ASSERT_EQUAL(aimc_arch_validate(&a, &d), AIMC_OK);

    /* bits_per_cell against the stored bits: 7 for differential 8-bit, 8 for offset. */
    aimc_arch_defaults(&a);
    a.crossbar.bits_per_cell = 8;
    a.device.levels = 256;
    check_validate(&a, "crossbar.bits_per_cell: must be at most the stored weight bits "
                       "(crossbar.weight_bits - 1 for differential) = 7, got 8");
    a.crossbar.sign_encoding = AIMC_SIGN_OFFSET;
    CU_ASSERT_EQUAL(aimc_arch_validate(&a, &d), AIMC_OK);

    /* g_min == g_max breaks the rule too (boundary). */
    aimc_arch_defaults(&a);
    a.device.g_min_us = a.device.g_max_us;
    check_validate(&a, "device.g_min_us: must be less than device.g_max_us = 25, got 25");

    /* adc.per_crossbar at the limit is fine, one above is not. */
    aimc_arch_defaults(&a);
    a.adc.per_crossbar = 64;
    CU_ASSERT_EQUAL(aimc_arch_validate(&a, &d), AIMC_OK);
    a.adc.per_crossbar = 65;
    check_validate(&a, "adc.per_crossbar: must be at most the crossbar's logical columns "
                       "(crossbar.cols / 2 for differential) = 64, got 65");

    /* Total crossbars: 2^31-1 is the limit. */
    aimc_arch_defaults(&a);
    a.hierarchy.crossbars_per_core = 1 << 20;
    a.hierarchy.cores_per_chip = 1 << 11;
    a.hierarchy.chips = 1;
    check_validate(&a, "hierarchy: crossbars_per_core * cores_per_chip * chips must be at most "
                       "2147483647, got 2147483648");
    a.hierarchy.crossbars_per_core = 1;
    a.hierarchy.cores_per_chip = 2147483647 / (1 << 20);
    a.hierarchy.chips = 1 << 20;
    CU_ASSERT_EQUAL(aimc_arch_validate(&a, &d), AIMC_OK);

    CU_ASSERT_EQUAL(aimc_arch_validate(NULL, &d), AIMC_ERR_INVALID);
}

/* ---- docs --------------------------------------------------------------------------- */

/* docs/config.md names every key of the table as `section.key`, and configs/default.yaml,
 * which must hold every key, holds exactly the table's keys. */
static void test_docs_list_every_key(void)
{
    char *docs = read_text("docs/config.md");
    CU_ASSERT_PTR_NOT_NULL_FATAL(docs);
    size_t n = aimc_cfg_key_count();
    CU_ASSERT_EQUAL(n, 95);
    CU_ASSERT_PTR_NULL(aimc_cfg_key_name(n));
    for (size_t i = 0; i < n; i++) {
        char want[128];
        snprintf(want, sizeof want, "`%s`", aimc_cfg_key_name(i));
        CU_ASSERT_PTR_NOT_NULL(strstr(docs, want));
        if (!strstr(docs, want)) fprintf(stderr, "\n  docs lack %s\n", want);
    }
    aimc_ydoc *doc = NULL;
    aimc_diag d = {""};
    CU_ASSERT_EQUAL_FATAL(aimc_ydoc_load_file("configs/default.yaml", &doc, &d), AIMC_OK);
    size_t in_file = 0;
    for (size_t i = 0; i < doc->root->n; i++) {
        const aimc_ynode *v = doc->root->items[i];
        if (v->kind != AIMC_YNODE_MAP) {
            in_file++;
            continue;
        }
        for (size_t j = 0; j < v->n; j++) {
            char key[128];
            snprintf(key, sizeof key, "%s.%s", doc->root->keys[i], v->keys[j]);
            int found = 0;
            for (size_t k = 0; k < n; k++) found |= !strcmp(aimc_cfg_key_name(k), key);
            CU_ASSERT(found);
            in_file++;
        }
    }
    CU_ASSERT_EQUAL(in_file, n);
    aimc_ydoc_free(doc);
    free(docs);
}

/* ---- the YAML tree ------------------------------------------------------------------ */

static void test_yaml_tree(void)
{
    const char *text = "top: 1\n"
                       "sec:\n"
                       "  inner: \"q\"\n"
                       "  list: [a, 'b']\n"
                       "  deep:\n"
                       "    - x: 1\n"
                       "empty:\n";
    aimc_ydoc *doc = NULL;
    aimc_diag d = {""};
    CU_ASSERT_EQUAL_FATAL(aimc_ydoc_load_string(text, strlen(text), "t.yaml", &doc, &d), AIMC_OK);
    const aimc_ynode *r = doc->root;
    CU_ASSERT_STRING_EQUAL(doc->name, "t.yaml");
    CU_ASSERT_EQUAL_FATAL(r->kind, AIMC_YNODE_MAP);
    CU_ASSERT_EQUAL_FATAL(r->n, 3);
    CU_ASSERT_STRING_EQUAL(r->keys[1], "sec");
    CU_ASSERT_EQUAL(r->key_line[1], 2);
    CU_ASSERT_EQUAL(r->key_col[1], 1);
    const aimc_ynode *top = aimc_ymap_get(r, "top");
    CU_ASSERT_PTR_NOT_NULL_FATAL(top);
    CU_ASSERT_EQUAL(top->kind, AIMC_YNODE_SCALAR);
    CU_ASSERT_STRING_EQUAL(top->scalar, "1");
    CU_ASSERT_EQUAL(top->quoted, 0);
    CU_ASSERT_EQUAL(top->line, 1);
    CU_ASSERT_EQUAL(top->col, 6);
    const aimc_ynode *sec = aimc_ymap_get(r, "sec");
    CU_ASSERT_EQUAL_FATAL(sec->kind, AIMC_YNODE_MAP);
    CU_ASSERT_EQUAL(sec->key_line[0], 3);
    CU_ASSERT_EQUAL(sec->key_col[0], 3);
    const aimc_ynode *inner = aimc_ymap_get(sec, "inner");
    CU_ASSERT_EQUAL(inner->quoted, 1);
    CU_ASSERT_STRING_EQUAL(inner->scalar, "q");
    CU_ASSERT_EQUAL(inner->col, 10);
    const aimc_ynode *list = aimc_ymap_get(sec, "list");
    CU_ASSERT_EQUAL_FATAL(list->kind, AIMC_YNODE_SEQ);
    CU_ASSERT_EQUAL_FATAL(list->n, 2);
    CU_ASSERT_STRING_EQUAL(list->items[0]->scalar, "a");
    CU_ASSERT_EQUAL(list->items[0]->quoted, 0);
    CU_ASSERT_EQUAL(list->items[1]->quoted, 1);
    CU_ASSERT_EQUAL(list->items[1]->line, 4);
    CU_ASSERT_EQUAL(list->items[1]->col, 13);
    const aimc_ynode *deep = aimc_ymap_get(sec, "deep");
    CU_ASSERT_EQUAL_FATAL(deep->kind, AIMC_YNODE_SEQ);
    CU_ASSERT_EQUAL_FATAL(deep->n, 1);
    CU_ASSERT_EQUAL(deep->items[0]->kind, AIMC_YNODE_MAP);
    CU_ASSERT_EQUAL(deep->items[0]->key_line[0], 6);
    CU_ASSERT_EQUAL(deep->items[0]->key_col[0], 7);
    const aimc_ynode *empty = aimc_ymap_get(r, "empty");
    CU_ASSERT_EQUAL(empty->kind, AIMC_YNODE_SCALAR);
    CU_ASSERT_STRING_EQUAL(empty->scalar, "");
    CU_ASSERT_PTR_NULL(aimc_ymap_get(r, "nope"));
    CU_ASSERT_PTR_NULL(aimc_ymap_get(top, "x"));

    /* Typed getters on the tree. */
    long lv = 0;
    CU_ASSERT_EQUAL(aimc_ynode_int(doc, top, "top", 0, 5, &lv, &d), AIMC_OK);
    CU_ASSERT_EQUAL(lv, 1);
    CU_ASSERT_EQUAL(aimc_ynode_int(doc, top, "top", 2, 5, &lv, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "t.yaml:1:6: top: expected an integer in 2..5, got 1");
    CU_ASSERT_EQUAL(aimc_ynode_int(doc, NULL, "sec.gone", 0, 5, &lv, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "t.yaml: missing required key sec.gone");
    CU_ASSERT_EQUAL(aimc_ynode_expect_map(doc, list, "sec.list", &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "t.yaml:4:9: sec.list: expected a mapping, got a sequence");
    char buf[4];
    CU_ASSERT_EQUAL(aimc_ynode_str(doc, inner, "sec.inner", buf, sizeof buf, &d), AIMC_OK);
    CU_ASSERT_STRING_EQUAL(buf, "q");
    static const char *const known[] = {"inner", "list", "deep"};
    CU_ASSERT_EQUAL(aimc_ymap_check_keys(doc, sec, "sec", known, 3, &d), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_ymap_check_keys(doc, sec, "sec", known, 2, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "t.yaml:5:3: sec.deep: unknown key; known keys here: inner, "
                                  "list");
    aimc_ydoc_free(doc);
    aimc_ydoc_free(NULL);
}

static void test_yaml_rejects(void)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"a: 1\nb: [1, 2\n", "s.yaml:3:1: did not find expected ',' or ']'"},
        {"a: &x 1\nb: *x\n", "s.yaml:1:4: a: anchors (&x) are not supported"},
        {"a: 1\nb: *x\n", "s.yaml:2:4: b: aliases (*x) are not supported"},
        {"a: !!str 1\n", "s.yaml:1:4: a: tags (!!str) are not supported"},
        {"a:\n  b: 1\n  b: 2\n", "s.yaml:3:3: a.b: duplicate key (first at line 2, column 3)"},
        {"? [x]\n: 1\n", "s.yaml:1:3: keys must be plain scalars"},
        {"a: 1\n---\nb: 2\n", "s.yaml:2:1: only one YAML document is allowed per file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aimc_ydoc *doc = (aimc_ydoc *)&doc; /* must be reset to NULL on failure */
        aimc_diag d = {""};
        int rc = aimc_ydoc_load_string(cases[i].text, strlen(cases[i].text), "s.yaml", &doc, &d);
        CU_ASSERT_EQUAL(rc, AIMC_ERR_PARSE);
        CU_ASSERT_PTR_NULL(doc);
        CU_ASSERT_STRING_EQUAL(d.msg, cases[i].msg);
        if (strcmp(d.msg, cases[i].msg) != 0)
            fprintf(stderr, "\n  got:    %s\n  expect: %s\n", d.msg, cases[i].msg);
    }

    /* Nesting is bounded: 1000 '[' never reach the stack limit. */
    char deep[2001];
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    aimc_ydoc *doc = NULL;
    aimc_diag d = {""};
    CU_ASSERT_EQUAL(aimc_ydoc_load_string(deep, 2000, "deep.yaml", &doc, &d), AIMC_ERR_PARSE);
    CU_ASSERT_PTR_NULL(doc);

    /* Empty input and comments only: no root. */
    CU_ASSERT_EQUAL(aimc_ydoc_load_string("# nothing\n", 10, "e.yaml", &doc, &d), AIMC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    CU_ASSERT_PTR_NULL(doc->root);
    aimc_ydoc_free(doc);
    CU_ASSERT_EQUAL(aimc_ydoc_load_file("tests/configs/none.yaml", &doc, &d), AIMC_ERR_IO);
}

static void test_yaml_numbers(void)
{
    long l = 0;
    double x = 0;
    CU_ASSERT_EQUAL(aimc_parse_long("42", &l), AIMC_OK);
    CU_ASSERT_EQUAL(l, 42);
    CU_ASSERT_EQUAL(aimc_parse_long("-7", &l), AIMC_OK);
    CU_ASSERT_EQUAL(l, -7);
    CU_ASSERT_EQUAL(aimc_parse_long("+3", &l), AIMC_OK);
    CU_ASSERT_EQUAL(l, 3);
    CU_ASSERT_EQUAL(aimc_parse_long("8.5", &l), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_long("8.0", &l), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_long("0x10", &l), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_long(" 8", &l), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_long("", &l), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_long("-", &l), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_long("99999999999999999999", &l), AIMC_ERR_CONFIG);

    CU_ASSERT_EQUAL(aimc_parse_double("0.78", &x), AIMC_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 0.78, 0.0);
    CU_ASSERT_EQUAL(aimc_parse_double("1e3", &x), AIMC_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 1000.0, 0.0);
    CU_ASSERT_EQUAL(aimc_parse_double("-.5", &x), AIMC_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, -0.5, 0.0);
    CU_ASSERT_EQUAL(aimc_parse_double("5.", &x), AIMC_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 5.0, 0.0);
    CU_ASSERT_EQUAL(aimc_parse_double("25", &x), AIMC_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 25.0, 0.0);
    CU_ASSERT_EQUAL(aimc_parse_double("nan", &x), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_double(".nan", &x), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_double("inf", &x), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_double("-.inf", &x), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_double("1e999", &x), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_double("0x1p3", &x), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_double("1e", &x), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_double(".", &x), AIMC_ERR_CONFIG);
    CU_ASSERT_EQUAL(aimc_parse_double("1.5x", &x), AIMC_ERR_CONFIG);
}

static void test_edit_distance(void)
{
    CU_ASSERT_EQUAL(aimc_edit_distance("", ""), 0);
    CU_ASSERT_EQUAL(aimc_edit_distance("", "abc"), 3);
    CU_ASSERT_EQUAL(aimc_edit_distance("abc", ""), 3);
    CU_ASSERT_EQUAL(aimc_edit_distance("bits", "bits"), 0);
    CU_ASSERT_EQUAL(aimc_edit_distance("bitz", "bits"), 1);
    CU_ASSERT_EQUAL(aimc_edit_distance("adcc", "adc"), 1);
    CU_ASSERT_EQUAL(aimc_edit_distance("kitten", "sitting"), 3);
    CU_ASSERT_EQUAL(aimc_edit_distance("flaw", "lawn"), 2);
    CU_ASSERT_EQUAL(aimc_edit_distance("ab", "ba"), 2); /* Levenshtein: no transpositions */
}

int test_config_register(void)
{
    AIMC_SUITE("config",
               {"malformed configs give their exact messages", test_bad_configs},
               {"status codes of config errors", test_status_codes},
               {"configs/default.yaml equals aimc_arch_defaults", test_default_yaml},
               {"a small config and load_string", test_good_config},
               {"--set overrides apply", test_set_valid},
               {"--set order: later wins", test_set_order},
               {"--set bad values", test_set_errors},
               {"--set unknown keys and malformed assignments", test_set_unknown_and_malformed},
               {"aimc_arch_validate ranges and rules", test_validate},
               {"docs/config.md lists every key", test_docs_list_every_key},
               {"yaml tree: positions, maps, sequences, getters", test_yaml_tree},
               {"yaml rejects syntax, anchors, aliases, tags, duplicates", test_yaml_rejects},
               {"yaml number syntax", test_yaml_numbers},
               {"edit distance", test_edit_distance});
    return 0;
}
