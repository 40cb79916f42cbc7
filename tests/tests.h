/* tests.h - the one table of aimc's CUnit suites.
 *
 * Each tests/test_<module>.c defines one registration function that adds its suite(s) and
 * returns 0, or CUE_* on failure. tests/main.c calls all of them. Tests use public headers
 * only and run from the repository root (paths like "configs/default.yaml").
 */
#ifndef AIMC_TESTS_H
#define AIMC_TESTS_H

#include <CUnit/CUnit.h>

int test_config_register(void);  /* common: YAML, configs, --set (tests/test_config.c) */
int test_mapping_register(void); /* mapping: models, plans (tests/test_mapping.c) */
int test_mapper_register(void);  /* mapping: strategies, routing, plan files, safetensors */
int test_sim_register(void);     /* sim: crossbar MVM, noise, cost (tests/test_sim.c) */
int test_noise_register(void);   /* sim: devices, verify, per-cell noise, drift (test_noise.c) */
int test_driver_register(void);  /* sim/device + driver (tests/test_driver.c) */
int test_run_register(void);     /* end to end: run, report (tests/test_run.c) */
int test_train_register(void);   /* mapping: data sets, classifier training (test_train.c) */
int test_sweep_register(void);   /* tools: sweep specs, sampling, Pareto, log (test_sweep.c) */
int test_engine_register(void);  /* sim: discrete-event engine (tests/test_engine.c) */
int test_calibration_register(void); /* sim: presets, peak, timing-only (test_calibration.c) */
int test_model_register(void);   /* one model: value = timing-only, estimate, overlap (test_model.c) */
int test_conformance_register(void); /* driver conformance per backend URI (tests/conformance/) */
int test_fuzz_register(void);    /* device + driver: bad command buffers (tests/test_fuzz.c) */
int test_bound_register(void);   /* device: work bounded by pieces and limits (test_bound.c) */
int test_sysc_register(void);    /* sim/sysc: SystemC platform, sysc: backend (test_sysc.c) */
int test_rtl_register(void);     /* rtl: Verilated RTL against sim:, co-simulation (test_rtl.c) */
int test_report_register(void);  /* tools: aimc run's figures, deploy, gating, GPU (test_report.c) */

/* Add a suite and its tests: AIMC_SUITE("name", {"test a", fn_a}, {"test b", fn_b}). */
typedef struct {
    const char *name;
    void (*fn)(void);
} aimc_test_case;
int aimc_test_add_suite(const char *name, const aimc_test_case *cases, size_t n);
#define AIMC_SUITE(name, ...)                                                           \
    do {                                                                                \
        static const aimc_test_case cases_[] = {__VA_ARGS__};                           \
        int rc_ = aimc_test_add_suite((name), cases_, sizeof cases_ / sizeof cases_[0]); \
        if (rc_) return rc_;                                                            \
    } while (0)

/* A scratch file NAME in this run's own directory ($TMPDIR or /tmp, made on first use and
 * removed with everything in it when the run ends); NULL if the directory cannot be made.
 * The string lives until 16 more calls; copy it to keep it longer. */
const char *aimc_test_path(const char *name);
/* 1 when MSG is PATH followed by REST (an error message that names a scratch file). */
int aimc_test_msg_is(const char *msg, const char *path, const char *rest);

#endif /* AIMC_TESTS_H */
