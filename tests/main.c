/* main.c - the one CUnit runner for every aimc suite.
 *
 * Usage: test_aimc [SUITE...]   (no argument: every suite)
 * Prints CUnit's report and then one line "unit: N passed, M failed" (tests, not asserts) over
 * every suite run; exits non-zero when any test failed. Scratch files live in one directory
 * made for the run (aimc_test_path) and removed at its end, so two runs at once (the plain
 * and the sanitizer build under make -j2) never share a file.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "tests.h"

int aimc_test_add_suite(const char *name, const aimc_test_case *cases, size_t n)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    if (!s) return CU_get_error();
    for (size_t i = 0; i < n; i++)
        if (!CU_add_test(s, cases[i].name, cases[i].fn)) return CU_get_error();
    return 0;
}

/* ---- scratch files: one directory per run ---------------------------------------------- */

static char test_dir[400];

const char *aimc_test_path(const char *name)
{
    static char ring[16][512];
    static unsigned next;
    if (!test_dir[0]) {
        const char *t = getenv("TMPDIR");
        /* a TMPDIR too long to hold the directory and a file name: /tmp */
        snprintf(test_dir, sizeof test_dir, "%s/aimc-test-XXXXXX",
                 t && *t && strlen(t) < sizeof test_dir - 32 ? t : "/tmp");
        if (!mkdtemp(test_dir)) {
            test_dir[0] = '\0';
            return NULL;
        }
    }
    char *p = ring[next++ % 16];
    if (snprintf(p, sizeof ring[0], "%s/%s", test_dir, name) >= (int)sizeof ring[0]) return NULL;
    return p;
}

int aimc_test_msg_is(const char *msg, const char *path, const char *rest)
{
    if (!msg || !path || !rest) return 0;
    const size_t n = strlen(path);
    int ok = strncmp(msg, path, n) == 0 && strcmp(msg + n, rest) == 0;
    if (!ok) fprintf(stderr, "\n  got      \"%s\"\n  expected \"%s%s\"\n", msg, path, rest);
    return ok;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) ? -1 : 0;
}

static void test_dir_remove(void)
{
    if (test_dir[0]) nftw(test_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int (*const registry[])(void) = {
    test_config_register, test_mapping_register, test_mapper_register, test_sim_register, test_noise_register,
    test_driver_register, test_run_register, test_sweep_register, test_train_register,
    test_engine_register, test_calibration_register, test_model_register, test_conformance_register, test_fuzz_register, test_bound_register, test_sysc_register,
    test_rtl_register, test_report_register,
};

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if (registry[i]() != 0) {
            fprintf(stderr, "test_aimc: registering suite %zu failed: %s\n", i,
                    CU_get_error_msg());
            CU_cleanup_registry();
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_NORMAL);
    /* CUnit's counts are of the last run only: each named suite's are added up here, so a
     * failure in an earlier suite is neither lost from the summary nor from the exit code. */
    unsigned run = 0, failed = 0;
    if (argc > 1) {
        for (int a = 1; a < argc; a++)
            if (!CU_get_suite(argv[a])) {
                fprintf(stderr, "test_aimc: no suite %s\n", argv[a]);
                CU_cleanup_registry();
                return 2;
            }
        for (int a = 1; a < argc; a++) {
            CU_basic_run_suite(CU_get_suite(argv[a]));
            run += CU_get_number_of_tests_run();
            failed += CU_get_number_of_tests_failed();
        }
    } else {
        CU_basic_run_tests();
        run = CU_get_number_of_tests_run();
        failed = CU_get_number_of_tests_failed();
    }
    printf("unit: %u passed, %u failed\n", run - failed, failed);
    CU_cleanup_registry();
    test_dir_remove();
    return failed ? 1 : 0;
}
