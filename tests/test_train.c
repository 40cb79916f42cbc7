/* test_train.c - data sets, the MoE classifier's gradient, training and its noise model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_train.h"
#include "tests.h"

/* A small random data set: n samples of dim features, labels from a fixed linear rule. */
static aimc_dataset *toy(size_t n, int dim, int classes)
{
    aimc_dataset *ds = calloc(1, sizeof *ds);
    ds->n = n;
    ds->dim = dim;
    ds->n_classes = classes;
    ds->x = malloc(n * (size_t)dim * sizeof *ds->x);
    ds->label = malloc(n * sizeof *ds->label);
    unsigned s = 12345;
    for (size_t i = 0; i < n * (size_t)dim; i++) {
        s = s * 1103515245u + 12345u;
        ds->x[i] = (float)((s >> 8) % 1000) / 1000.0f;
    }
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        for (int j = 0; j < dim; j++) v += ds->x[i * (size_t)dim + (size_t)j] * (j % 3 - 1);
        ds->label[i] = (int)((v + dim) * 7) % classes;
    }
    return ds;
}

/* Central differences agree with the analytic gradient. In float the loss carries relative
 * rounding of about 1e-7, so with h = 1e-2 the difference quotient is good to ~1e-5 of the
 * loss's scale plus O(h^2) curvature; 2e-3 absolute + 2 % relative bounds both with margin. */
static void test_gradient(void)
{
    aimc_dataset *ds = toy(6, 5, 3);
    aimc_classifier *c = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_classifier_create(5, 3, 2, 4, 3, 9, &c), AIMC_OK);
    float *g = malloc(c->n_params * sizeof *g), *g2 = malloc(c->n_params * sizeof *g2);
    double l0 = aimc_classifier_loss_grad(c, ds, 0, ds->n, g);
    CU_ASSERT(isfinite(l0) && l0 > 0);
    size_t checked = 0, bad = 0;
    const double h = 1e-2;
    for (size_t i = 0; i < c->n_params; i += 3) {
        float keep = c->storage[i];
        c->storage[i] = (float)(keep + h);
        double lp = aimc_classifier_loss_grad(c, ds, 0, ds->n, g2);
        c->storage[i] = (float)(keep - h);
        double lm = aimc_classifier_loss_grad(c, ds, 0, ds->n, g2);
        c->storage[i] = keep;
        double fd = (lp - lm) / (2 * h);
        checked++;
        if (fabs(fd - g[i]) > 2e-3 + 0.02 * fabs(fd)) {
            bad++;
            fprintf(stderr, "\n  param %zu: analytic %g, numeric %g", i, g[i], fd);
        }
    }
    CU_ASSERT(checked > 20);
    CU_ASSERT_EQUAL(bad, 0);
    free(g);
    free(g2);
    aimc_classifier_free(c);
    aimc_dataset_free(ds);
}

/* The digits: 1797 samples, every 5th for test; a short training reaches > 90 %. */
static void test_digits_training(void)
{
    aimc_dataset *all = NULL, *tr = NULL, *te = NULL;
    aimc_diag d;
    CU_ASSERT_EQUAL_FATAL(aimc_dataset_load_csv("models/data/digits.csv", 64, 16.0, &all, &d),
                          AIMC_OK);
    CU_ASSERT_EQUAL(all->n, 1797);
    CU_ASSERT_EQUAL(all->n_classes, 10);
    CU_ASSERT_EQUAL_FATAL(aimc_dataset_split(all, 5, &tr, &te), AIMC_OK);
    CU_ASSERT_EQUAL(te->n, 360);
    CU_ASSERT_EQUAL(tr->n, 1437);
    CU_ASSERT_EQUAL(te->label[1], all->label[5]);
    CU_ASSERT_EQUAL(tr->label[3], all->label[4]);
    aimc_classifier *c = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_classifier_create(64, 4, 2, 16, 10, 1, &c), AIMC_OK);
    double before = aimc_classifier_accuracy(c, te);
    aimc_train_opts o = {.epochs = 5, .batch = 32, .lr = 0.01, .seed = 1};
    CU_ASSERT_EQUAL(aimc_classifier_train(c, tr, &o, &d), AIMC_OK);
    double after = aimc_classifier_accuracy(c, te);
    CU_ASSERT(before < 0.5);
    CU_ASSERT(after > 0.9);
    aimc_classifier_free(c);
    aimc_dataset_free(te);
    aimc_dataset_free(tr);
    aimc_dataset_free(all);
}

/* Malformed CSV: the position of the problem. */
static void test_csv_errors(void)
{
    const char *path = aimc_test_path("bad.csv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("1,2,3\n4,x,6\n", f);
    fclose(f);
    aimc_dataset *ds = NULL;
    aimc_diag d;
    CU_ASSERT_EQUAL(aimc_dataset_load_csv(path, 2, 1.0, &ds, &d), AIMC_ERR_PARSE);
    CU_ASSERT(aimc_test_msg_is(d.msg, path, ":2:3: expected a number"));
    CU_ASSERT_PTR_NULL(ds);
    f = fopen(path, "w");
    fputs("1,2,3.5\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(aimc_dataset_load_csv(path, 2, 1.0, &ds, &d), AIMC_ERR_PARSE);
    CU_ASSERT(aimc_test_msg_is(d.msg, path, ":1:5: label: expected an integer >= 0, got 3.5"));
    remove(path);
}

/* The noise model: nothing but weight rounding on an ideal machine whose ADC resolves every
 * level; fewer ADC bits and device noise add output and weight noise. */
static void test_noise_model(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.device.type = AIMC_DEVICE_IDEAL;
    aimc_hw_noise n0, n1, n2;
    aimc_hw_noise_of(&a, 64, &n0);
    CU_ASSERT_DOUBLE_EQUAL(n0.weight_rel, sqrt(1.0 / 12) / 127, 1e-12);
    CU_ASSERT_EQUAL(n0.output_rel, 0.0);
    a.adc.bits = 5;
    aimc_hw_noise_of(&a, 64, &n1);
    CU_ASSERT(n1.output_rel > 0);
    aimc_arch_defaults(&a);
    aimc_hw_noise_of(&a, 64, &n2);
    CU_ASSERT(n2.weight_rel > n0.weight_rel);
    CU_ASSERT(n2.output_rel > 0);
}

/* The safetensors file: an 8-byte header length, a JSON header, then every parameter. */
static void test_save(void)
{
    aimc_classifier *c = NULL;
    aimc_diag d;
    CU_ASSERT_EQUAL_FATAL(aimc_classifier_create(4, 2, 1, 3, 2, 5, &c), AIMC_OK);
    const char *path = aimc_test_path("cls.safetensors");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_EQUAL_FATAL(aimc_classifier_save(c, path, &d), AIMC_OK);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned char b[8];
    CU_ASSERT_EQUAL(fread(b, 1, 8, f), 8);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)b[i] << (8 * i);
    CU_ASSERT(hl % 8 == 0 && hl < 4096);
    char *h = calloc(hl + 1, 1);
    CU_ASSERT_EQUAL(fread(h, 1, hl, f), hl);
    CU_ASSERT_EQUAL(h[0], '{');
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "\"layers.0.experts.1.down\":{\"dtype\":\"F32\",\"shape\":[3,4]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "\"head\":{\"dtype\":\"F32\",\"shape\":[4,2]"));
    float v;
    size_t n = 0;
    while (fread(&v, 4, 1, f) == 1) {
        if (n < c->n_params) CU_ASSERT_EQUAL(v, c->storage[n]);
        n++;
    }
    CU_ASSERT_EQUAL(n, c->n_params);
    fclose(f);
    free(h);
    remove(path);
    aimc_classifier_free(c);
}

int test_train_register(void)
{
    AIMC_SUITE("train", {"gradient matches finite differences", test_gradient},
               {"digits: short training", test_digits_training},
               {"csv errors", test_csv_errors}, {"noise model", test_noise_model},
               {"safetensors file", test_save});
    return 0;
}
