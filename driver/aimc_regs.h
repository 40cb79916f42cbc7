/* aimc_regs.h - the aimc device's register map and command descriptor format.
 *
 * One flat list, shared by the driver (driver/driver.c) and the device model
 * (sim/device.c); docs/driver.md documents every entry. A later issue generates this file
 * from a YAML source, so keep it regular: AIMC_REG_<NAME> is a byte offset into the 4 KiB
 * register window (every register is 32 bits wide), AIMC_REG_<NAME>_<FIELD> a bit mask or a
 * constant of that register, AIMC_DESC_* the layout of a 64-byte command descriptor.
 *
 * 64-bit values are LO/HI register pairs (HI = LO + 4). Reading LO latches the HI half of
 * that same pair; the next read of that HI returns the latched half, so LO-then-HI always
 * gives one consistent 64-bit value. A HI read with no LO read of the same pair in between
 * returns the current HI half.
 */
#ifndef AIMC_REGS_H
#define AIMC_REGS_H

/* Size of the register window in bytes. Reads outside or of unknown offsets return 0,
 * writes there are ignored. */
#define AIMC_REG_WINDOW_BYTES           0x1000u

/* ---- identification and capabilities (read-only) ---- */
#define AIMC_REG_ID                     0x000u /* RO: constant AIMC_REG_ID_VALUE */
#define AIMC_REG_ID_VALUE               0x41494D43u /* "AIMC" */
#define AIMC_REG_VERSION                0x004u /* RO: major << 16 | minor */
#define AIMC_REG_VERSION_VALUE          0x00010000u /* 1.0: this register map */
#define AIMC_REG_CAP_XBAR_ROWS          0x008u /* RO: word lines per crossbar */
#define AIMC_REG_CAP_XBAR_COLS          0x00Cu /* RO: physical bit lines per crossbar */
#define AIMC_REG_CAP_XBARS              0x010u /* RO: crossbars in the device */
#define AIMC_REG_CAP_ADC_BITS           0x014u /* RO: ADC output code width */
#define AIMC_REG_CAP_DAC_BITS           0x018u /* RO: signed input precision */
#define AIMC_REG_CAP_BITS_PER_CELL      0x01Cu /* RO: weight bits one device holds */
#define AIMC_REG_CAP_WEIGHT_BITS        0x020u /* RO: signed weight precision */
#define AIMC_REG_CAP_MAX_MATRICES       0x024u /* RO: matrix ids are 0 .. value-1 */
#define AIMC_REG_CAP_MAX_DIM            0x028u /* RO: largest rows or cols of a matrix */
#define AIMC_REG_CAP_MAX_BATCH          0x02Cu /* RO: largest batch of one MVM command */
#define AIMC_REG_CAP_MAX_TILES          0x030u /* RO: largest tile table of one PROGRAM */
#define AIMC_REG_CAP_MAX_RING           0x034u /* RO: largest RING_SIZE (entries) */

/* ---- control and status ---- */
#define AIMC_REG_CTRL                   0x040u /* RW */
#define AIMC_REG_CTRL_ENABLE            0x00000001u /* 1: the doorbell processes commands */
#define AIMC_REG_CTRL_SOFT_RESET        0x00000002u /* write 1: reset; reads as 0 */
#define AIMC_REG_STATUS                 0x044u /* RO */
#define AIMC_REG_STATUS_READY           0x00000001u /* enabled and able to take commands */
#define AIMC_REG_STATUS_BUSY            0x00000002u /* a command is executing */
#define AIMC_REG_STATUS_ERROR           0x00000004u /* ERROR != 0 */
#define AIMC_REG_ERROR                  0x048u /* RW1C: sticky OR of every error since cleared */
#define AIMC_REG_ERROR_BAD_OPCODE       0x00000001u /* unknown opcode */
#define AIMC_REG_ERROR_BAD_DESC         0x00000002u /* reserved field or flag nonzero, size 0 or
                                                      * above its CAP_MAX_*, matrix id too big */
#define AIMC_REG_ERROR_DMA_FAULT        0x00000004u /* a DMA address range not backed by host
                                                      * memory (descriptor, weights, tiles, x, y) */
#define AIMC_REG_ERROR_XBAR_RANGE       0x00000008u /* a tile outside the device's crossbars */
#define AIMC_REG_ERROR_NOT_PROGRAMMED   0x00000010u /* MVM on a matrix id never programmed */
#define AIMC_REG_ERROR_RING             0x00000020u /* ring overflow, bad tail, bad ring setup */
#define AIMC_REG_ERROR_PROGRAM_FAILED   0x00000040u /* tiles overlap or do not cover the matrix */
#define AIMC_REG_ERROR_SHAPE            0x00000080u /* MVM rows/cols differ from the matrix's */
#define AIMC_REG_ERROR_INTERNAL         0x00000100u /* device out of resources */
#define AIMC_REG_ERROR_ALL              0x000001FFu
#define AIMC_REG_ERROR_FENCE_LO         0x04Cu /* RO: fence of the first failing command since */
#define AIMC_REG_ERROR_FENCE_HI         0x050u /*     ERROR was last 0 (ring errors: 0) */
#define AIMC_REG_ERROR_INFO             0x054u /* RO: detail of that first error, see docs */
#define AIMC_REG_IRQ_STATUS             0x058u /* RW1C: pending interrupt causes */
#define AIMC_REG_IRQ_DONE               0x00000001u /* a command with FLAG_IRQ, or a FENCE, done */
#define AIMC_REG_IRQ_ERROR              0x00000002u /* a command or the ring failed */
#define AIMC_REG_IRQ_ALL                0x00000003u
#define AIMC_REG_IRQ_MASK               0x05Cu /* RW: 1 = cause drives the interrupt line */

/* ---- command ring ---- */
#define AIMC_REG_RING_BASE_LO           0x060u /* RW: device address of the ring, 64-byte */
#define AIMC_REG_RING_BASE_HI           0x064u /*     aligned; written while CTRL.ENABLE = 0 */
#define AIMC_REG_RING_SIZE              0x068u /* RW: entries, power of two; a write (while
                                                 * disabled) sets RING_HEAD and RING_TAIL to 0 */
#define AIMC_REG_RING_HEAD              0x06Cu /* RO: free-running count of consumed commands */
#define AIMC_REG_RING_TAIL              0x070u /* RW: free-running count of written commands */
#define AIMC_REG_DOORBELL               0x074u /* WO: any value: process HEAD .. TAIL */
#define AIMC_REG_DONE_FENCE_LO          0x078u /* RO: fence of the last completed command */
#define AIMC_REG_DONE_FENCE_HI          0x07Cu

/* ---- 64-bit performance counters (RO, LO/HI pairs), since create or reset ---- */
#define AIMC_REG_CNT_CYCLES_LO          0x100u /* digital clock cycles of the work */
#define AIMC_REG_CNT_CYCLES_HI          0x104u
#define AIMC_REG_CNT_MVMS_LO            0x108u /* matrix-vector products */
#define AIMC_REG_CNT_MVMS_HI            0x10Cu
#define AIMC_REG_CNT_ADC_CONV_LO        0x110u /* ADC conversions */
#define AIMC_REG_CNT_ADC_CONV_HI        0x114u
#define AIMC_REG_CNT_ADC_SAT_LO         0x118u /* conversions clipped at the ADC range */
#define AIMC_REG_CNT_ADC_SAT_HI         0x11Cu
#define AIMC_REG_CNT_DAC_DRIVES_LO      0x120u /* word-line drives */
#define AIMC_REG_CNT_DAC_DRIVES_HI      0x124u
#define AIMC_REG_CNT_XBAR_READS_LO      0x128u /* crossbar activations */
#define AIMC_REG_CNT_XBAR_READS_HI      0x12Cu
#define AIMC_REG_CNT_DIGITAL_OPS_LO     0x130u /* shift-and-add and accumulate operations */
#define AIMC_REG_CNT_DIGITAL_OPS_HI     0x134u
#define AIMC_REG_CNT_CELLS_PROG_LO      0x138u /* devices written */
#define AIMC_REG_CNT_CELLS_PROG_HI      0x13Cu
#define AIMC_REG_CNT_ENERGY_DAC_FJ_LO   0x140u /* energy per component, fJ */
#define AIMC_REG_CNT_ENERGY_DAC_FJ_HI   0x144u
#define AIMC_REG_CNT_ENERGY_XBAR_FJ_LO  0x148u
#define AIMC_REG_CNT_ENERGY_XBAR_FJ_HI  0x14Cu
#define AIMC_REG_CNT_ENERGY_ADC_FJ_LO   0x150u
#define AIMC_REG_CNT_ENERGY_ADC_FJ_HI   0x154u
#define AIMC_REG_CNT_ENERGY_DIG_FJ_LO   0x158u
#define AIMC_REG_CNT_ENERGY_DIG_FJ_HI   0x15Cu

/* ---- command descriptor: 64 bytes, little-endian, byte offsets ---- */
#define AIMC_DESC_BYTES                 64u
#define AIMC_DESC_OPCODE                0x00u /* u16 */
#define AIMC_DESC_FLAGS                 0x02u /* u16 */
#define AIMC_DESC_STATUS                0x04u /* u32: written by the device: 0 or ERROR bits */
#define AIMC_DESC_FENCE                 0x08u /* u64: written by the driver, echoed to
                                                * DONE_FENCE when the command completes */
#define AIMC_DESC_PAYLOAD               0x10u /* start of the per-opcode fields */

#define AIMC_DESC_OP_NOP                0x0000u /* no fields */
#define AIMC_DESC_OP_FENCE              0x0001u /* no fields; always raises IRQ_DONE */
#define AIMC_DESC_OP_PROGRAM            0x0002u
#define AIMC_DESC_OP_MVM                0x0003u

#define AIMC_DESC_FLAG_IRQ              0x0001u /* raise IRQ_DONE when this command completes */
#define AIMC_DESC_FLAGS_ALL             0x0001u

/* PROGRAM: rows x cols float32 weights (row-major) and a table of n_tiles aimc_tile records */
#define AIMC_DESC_PROG_MATRIX           0x10u /* u32 matrix id */
#define AIMC_DESC_PROG_ROWS             0x14u /* u32 */
#define AIMC_DESC_PROG_COLS             0x18u /* u32 */
#define AIMC_DESC_PROG_NTILES           0x1Cu /* u32 */
#define AIMC_DESC_PROG_W_ADDR           0x20u /* u64 device address of the weights */
#define AIMC_DESC_PROG_TILES_ADDR       0x28u /* u64 device address of the tile table */
#define AIMC_DESC_PROG_RESERVED         0x30u /* 0x30..0x3F must be zero */

/* MVM: y (batch x cols float32) = x (batch x rows float32) W */
#define AIMC_DESC_MVM_MATRIX            0x10u /* u32 matrix id */
#define AIMC_DESC_MVM_BATCH             0x14u /* u32 vectors */
#define AIMC_DESC_MVM_ROWS              0x18u /* u32: must equal the programmed rows */
#define AIMC_DESC_MVM_COLS              0x1Cu /* u32: must equal the programmed cols */
#define AIMC_DESC_MVM_X_ADDR            0x20u /* u64 device address of x */
#define AIMC_DESC_MVM_Y_ADDR            0x28u /* u64 device address of y */
#define AIMC_DESC_MVM_RESERVED          0x30u /* 0x30..0x3F must be zero */

/* NOP and FENCE: 0x10..0x3F must be zero */
#define AIMC_DESC_NOP_RESERVED          0x10u

#endif /* AIMC_REGS_H */
