/* main.c - the one CUnit runner for every aimc suite.
 *
 * Usage: test_aimc [SUITE...]   (no argument: every suite)
 * Prints CUnit's report and then one line "unit: N passed, M failed" (tests, not asserts);
 * exits non-zero when any test failed.
 */
#include <stdio.h>
#include <string.h>

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
    if (argc > 1) {
        for (int a = 1; a < argc; a++) {
            CU_pSuite s = CU_get_suite(argv[a]);
            if (!s) {
                fprintf(stderr, "test_aimc: no suite %s\n", argv[a]);
                CU_cleanup_registry();
                return 2;
            }
            CU_basic_run_suite(s);
        }
    } else {
        CU_basic_run_tests();
    }
    unsigned run = CU_get_number_of_tests_run();
    unsigned failed = CU_get_number_of_tests_failed();
    printf("unit: %u passed, %u failed\n", run - failed, failed);
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
