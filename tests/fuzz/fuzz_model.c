/* fuzz_model.c - libFuzzer target: model files (mapping/model.c, common/yaml.c).
 *
 * The input is a model file's text, loaded without weights (shapes only). A model that
 * loads must have consistent shapes (every matrix non-empty, the count the file implies);
 * when it is small (at most FUZZ_MODEL_WEIGHTS weights) it is loaded again with its
 * weights (generated, or read from the safetensors file it names), and mapped on the
 * default machine with as many chips as it needs. A model that does not load must say why.
 */
#include "aimc_map.h"
#include "fuzz_util.h"

#define FUZZ_MODEL_WEIGHTS 200000u

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    int rc = aimc_model_load_string(text, "models/fuzz.yaml", 0, &m, &d);
    if (rc) {
        fuzz_check_error(rc, &d, NULL);
        if (m) abort(); /* *out stays NULL on failure */
        free(text);
        return 0;
    }
    size_t per_layer = (size_t)m->n_experts * 3 + (size_t)m->n_shared * (3 + (m->shared_gate != 0)) + 1;
    /* per layer its attention (mha: q, k, v, o; mla: q_a, kv_a and q_b, o per group of heads) */
    const size_t attn = m->attn.kind == AIMC_ATTN_MHA   ? 4
                        : m->attn.kind == AIMC_ATTN_MLA ? 2 + 2 * (size_t)m->attn.groups
                                                        : 0;
    size_t want = (size_t)m->dense_layers * 3 + (size_t)(m->layers - m->dense_layers) * per_layer +
                  attn * (size_t)m->layers + (m->n_classes > 0 ? (size_t)m->head_parts : 0);
    if (m->n_matrices != want) {
        fprintf(stderr, "fuzz: %zu matrices, the model's sizes give %zu\n", m->n_matrices, want);
        abort();
    }
    for (size_t i = 0; i < m->n_matrices; i++)
        if (m->m[i].rows == 0 || m->m[i].cols == 0 || m->m[i].w) abort();
    if (aimc_model_weight_count(m) <= FUZZ_MODEL_WEIGHTS) {
        aimc_model *w = NULL;
        rc = aimc_model_load_string(text, "models/fuzz.yaml", 1, &w, &d);
        if (rc) fuzz_check_error(rc, &d, NULL);
        else
            for (size_t i = 0; i < w->n_matrices; i++)
                if (!w->m[i].w) abort();
        if (!rc)
            for (size_t i = 0; i < w->n_vectors; i++)
                if (!w->v[i].v) abort();
        if (!rc && w->vocab && !w->embed) abort();
        aimc_model_free(w);
        aimc_arch a;
        aimc_arch_defaults(&a);
        a.hierarchy.chips_auto = 1;
        aimc_plan *p = NULL;
        aimc_map_opts o = {NULL, NULL, 0, 1};
        rc = aimc_map_plan_ex(&a, m, &o, &p, &d);
        if (rc) fuzz_check_error(rc, &d, NULL);
        aimc_plan_free(p);
    }
    aimc_model_free(m);
    free(text);
    return 0;
}
