/* fuzz_safetensors.c - libFuzzer target: the safetensors reader (aimc_st_read_tensor,
 * mapping/safetensors.c).
 *
 * The input is a safetensors image. Each tensor name of the seeds (tests/fuzz/seeds.sh's
 * small images and models/digits-moe.safetensors) is read with its shape, straight and
 * transposed: a read either fails with a message naming the image or succeeds, and then
 * the transposed read holds exactly the transposed values (bit for bit, NaNs included).
 */
#include "aimc_map.h"
#include "fuzz_util.h"

static const struct {
    const char *name;
    uint32_t rows, cols; /* as stored: rows x cols, row-major */
} tensors[] = {
    {"w", 2, 3},  {"h", 3, 2},  {"b", 1, 4},  {"layers.0.router", 64, 4},
    {"head", 64, 10}, {"layers.0.experts.0.down", 32, 64}, {"layers.0.experts.3.up", 64, 32},
};

static float straight[64 * 64], flipped[64 * 64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that any read past the image is a heap overflow. */
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) abort();
    memcpy(buf, data, size);
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) {
        const uint32_t R = tensors[i].rows, C = tensors[i].cols;
        aimc_diag d = {{0}};
        int a = aimc_st_read_tensor(buf, size, "fuzz", tensors[i].name, R, C, 0, straight, &d);
        if (a) fuzz_check_error(a, &d, "fuzz: ");
        /* transposed: the image holds [out = R, in = C]; we want in x out = C x R */
        int b = aimc_st_read_tensor(buf, size, "fuzz", tensors[i].name, C, R, 1, flipped, &d);
        if (b) fuzz_check_error(b, &d, "fuzz: ");
        if ((a == AIMC_OK) != (b == AIMC_OK)) {
            fprintf(stderr, "fuzz: %s reads %s straight but %s transposed\n", tensors[i].name,
                    a ? "not" : "fine", b ? "not" : "fine");
            abort();
        }
        if (a == AIMC_OK)
            for (uint32_t r = 0; r < R; r++)
                for (uint32_t c = 0; c < C; c++)
                    if (memcmp(&straight[r * C + c], &flipped[c * R + r], sizeof(float)) != 0) {
                        fprintf(stderr, "fuzz: %s [%u][%u] differs transposed\n",
                                tensors[i].name, r, c);
                        abort();
                    }
    }
    free(buf);
    return 0;
}
