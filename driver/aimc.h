/* aimc.h - the aimc driver API: the one interface that drives the simulated machine today
 * and the chip later. This header is the contract: what it does not declare is not API.
 *
 * A device is opened by URI; the scheme picks the backend (its HAL):
 *   "sim:"   the in-process device model (sim/device over sim/aimc_sim)
 * Later backends (sysc:, rtl:, uio:/dev/uioN) plug in below the same calls.
 *
 * Every call returns AIMC_OK (0) or a negative AIMC_ERR_* code (aimc_status.h); the
 * detailed text of a device's last error is aimc_error_text(dev). No call prints or exits.
 * Work is asynchronous: a submit returns a fence; aimc_fence_wait() waits for it with a
 * timeout and finishes the job (copies results out), so output buffers given to a submit
 * must stay valid until its fence is waited for.
 */
#ifndef AIMC_H
#define AIMC_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_arch.h"
#include "aimc_status.h"
#include "aimc_tile.h"

typedef struct aimc_dev aimc_dev;

typedef struct aimc_open_opts {
    const aimc_arch *arch; /* sim: the machine to simulate; NULL = built-in defaults */
    uint64_t seed;         /* sim: seed of every random draw of the device */
} aimc_open_opts;

/* What the device says about itself, read from its ID and capability registers. */
typedef struct aimc_dev_info {
    uint32_t id;            /* AIMC_REG_ID_VALUE */
    uint32_t version;       /* device model / silicon revision */
    uint32_t xbar_rows, xbar_cols;
    uint32_t crossbars;     /* in the whole device */
    uint32_t adc_bits, dac_bits;
} aimc_dev_info;

/* The device's performance counters. Energy counters are kept by the device in fJ. */
typedef struct aimc_counters {
    uint64_t cycles;
    uint64_t mvms;
    uint64_t adc_conversions;
    uint64_t adc_saturations;
    uint64_t dac_drives;
    uint64_t xbar_reads;
    uint64_t digital_ops;
    uint64_t cells_programmed;
    double energy_pj[AIMC_COMP_COUNT]; /* per component (aimc_arch.h), pJ */
} aimc_counters;

/* Open the device named by uri. AIMC_ERR_NOTFOUND for an unknown scheme. */
int aimc_open(const char *uri, const aimc_open_opts *opts, aimc_dev **out);
void aimc_close(aimc_dev *dev); /* NULL is a no-op */

int aimc_query(aimc_dev *dev, aimc_dev_info *info);

/* Program matrix `matrix_id`: w is rows x cols float32, row-major (row = input), and tiles
 * are the plan's tiles of that matrix. Synchronous: returns when the device has finished
 * (or failed: AIMC_ERR_DEVICE, details in aimc_error_text). */
int aimc_weights_program(aimc_dev *dev, uint32_t matrix_id, const float *w, uint32_t rows,
                         uint32_t cols, const aimc_tile *tiles, size_t n_tiles);

/* Queue y = x W for `batch` vectors (x: batch x rows, y: batch x cols, float32) on a
 * programmed matrix. *fence identifies the job. Errors found by the device (matrix not
 * programmed, bad address) are reported by aimc_fence_wait() as AIMC_ERR_DEVICE. */
int aimc_submit_mvm(aimc_dev *dev, uint32_t matrix_id, const float *x, uint32_t batch,
                    float *y, uint64_t *fence);

/* Queue a raw command descriptor (docs/driver.md) as it is, for tests and tools that must
 * send what the driver would never build. len must be the descriptor size. */
int aimc_submit_raw(aimc_dev *dev, const void *desc, size_t len, uint64_t *fence);

/* Wait until job `fence` has completed, at most timeout_ns (negative: no limit).
 * AIMC_OK; AIMC_ERR_TIMEOUT; AIMC_ERR_DEVICE when the job failed (the device's error
 * register is decoded into aimc_error_text and cleared; the device stays usable). */
int aimc_fence_wait(aimc_dev *dev, uint64_t fence, int64_t timeout_ns);

int aimc_counters_read(aimc_dev *dev, aimc_counters *c);

/* The last detailed error of dev ("" when none); the pointer stays valid until the next
 * call on dev. For a NULL dev, a constant text. */
const char *aimc_error_text(aimc_dev *dev);

#endif /* AIMC_H */
