/* aimc_mock.h - test hooks of the "mock:" backend: a register file that records every
 * register access the driver makes, for unit tests of the driver itself.
 *
 * "mock:"      completes every command at the doorbell: for each descriptor from RING_HEAD
 *              to RING_TAIL it writes status 0 into the descriptor (by DMA), advances
 *              RING_HEAD and DONE_FENCE and raises IRQ_STATUS.DONE; no command does work.
 * "mock:hang"  consumes nothing: STATUS.BUSY reads 1 while commands are pending (a hung
 *              device; fences time out).
 * The ID, VERSION and CAP_* registers hold a small plausible device (docs/driver.md).
 */
#ifndef AIMC_MOCK_H
#define AIMC_MOCK_H

#include <stddef.h>
#include <stdint.h>

#include "aimc.h"

typedef struct aimc_mock_access {
    char op;      /* 'R' or 'W' */
    uint32_t off; /* register byte offset */
    uint32_t val; /* the value read or written */
} aimc_mock_access;

/* Copy up to cap of the accesses since open or the last clear into out (may be NULL with
 * cap 0); returns how many there are, or 0 when dev is not a mock device. */
size_t aimc_mock_log(aimc_dev *dev, aimc_mock_access *out, size_t cap);
int aimc_mock_log_clear(aimc_dev *dev);

/* Set a register's value as the device would (e.g. ERROR bits or DONE_FENCE), without
 * the driver's side effects; not logged. AIMC_ERR_BADHANDLE when dev is not a mock
 * device, AIMC_ERR_RANGE for an offset outside the window. */
int aimc_mock_set_reg(aimc_dev *dev, uint32_t off, uint32_t val);

#endif /* AIMC_MOCK_H */
