/* hal_uio.c - the "uio:" driver backend: silicon through Linux UIO (Documentation/
 * driver-api/uio-howto.rst), built on every Linux host and tested against a file.
 *
 * URIs:
 *   uio:/dev/uioN?dma=/dev/udmabufM
 *       Registers: map 0 of the UIO device, mmap'ed at offset 0 (its size from
 *       /sys/class/uio/uioN/maps/map0/size, at least AIMC_REG_WINDOW_BYTES).
 *       Interrupt: the UIO protocol: write a 1 (u32) to the fd to unmask, poll() it for
 *       POLLIN, read() the u32 event count.
 *       DMA: a physically contiguous buffer from the u-dma-buf kernel module
 *       (github.com/ikwzm/udmabuf), mmap'ed whole; its bus address is
 *       /sys/class/u-dma-buf/udmabufM/phys_addr and its size .../size. The backend hands
 *       out 4 KiB-aligned pieces of it (first fit) and the device sees phys_addr + offset.
 *       A reserved-memory region exposed by another UIO map works the same way.
 *   uio:file=PATH[?dma_bytes=N]
 *       Registers: the first AIMC_REG_WINDOW_BYTES of the regular file PATH, mmap'ed shared,
 *       so a test (or a co-simulation writing the file) plays the device. Interrupts never
 *       come (irq_wait sleeps); DMA comes from an anonymous pool of N bytes (default
 *       AIMC_HAL_UIO_FILE_POOL) at addresses from AIMC_HAL_UIO_FILE_DMA_BASE, which no
 *       hardware can reach: for tests of the driver's register protocol only.
 * The caches of x86-64 and arm64 DMA with u-dma-buf's sync_mode default are coherent for
 * such buffers, so aimc_bo_sync is a barrier; a non-coherent platform needs the module's
 * sync_for_cpu/sync_for_device files here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aimc_hal.h"
#include "aimc_regs.h"

#define AIMC_HAL_UIO_ALIGN 4096ull
#define AIMC_HAL_UIO_FILE_POOL (16u << 20)
#define AIMC_HAL_UIO_FILE_DMA_BASE 0x300000000ull
#define AIMC_HAL_UIO_WAIT_SLICE_NS 1000000LL
#define AIMC_HAL_UIO_PATH 512

typedef struct uio_piece {
    size_t off, size;
} uio_piece;

typedef struct hal_uio {
    int fd;                 /* the UIO device, or the register file */
    int is_file;
    volatile uint32_t *regs;
    size_t regs_bytes;
    int dma_fd;             /* the u-dma-buf device, -1 for the anonymous pool */
    uint8_t *pool;
    size_t pool_bytes;
    uint64_t pool_addr;     /* device address of pool[0] */
    uio_piece *pieces;      /* allocated pieces, sorted by offset */
    size_t n_pieces, cap_pieces;
} hal_uio;

/* Read one unsigned number (decimal or 0x hex) from a sysfs file. */
static int read_sysfs_u64(const char *path, uint64_t *out)
{
    char buf[64];
    FILE *f = fopen(path, "r");
    if (!f) return AIMC_ERR_IO;
    char *s = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!s) return AIMC_ERR_IO;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, 0);
    if (errno || end == buf) return AIMC_ERR_PARSE;
    *out = v;
    return AIMC_OK;
}

static void hal_uio_close(void *ctx)
{
    hal_uio *h = ctx;
    if (!h) return;
    if (h->regs) munmap((void *)h->regs, h->regs_bytes);
    if (h->pool) munmap(h->pool, h->pool_bytes);
    if (h->dma_fd >= 0) close(h->dma_fd);
    if (h->fd >= 0) close(h->fd);
    free(h->pieces);
    free(h);
}

/* "uio:file=PATH[?dma_bytes=N]" */
static int open_file(hal_uio *h, const char *spec, aimc_diag *d)
{
    char path[AIMC_HAL_UIO_PATH];
    const char *q = strchr(spec, '?');
    size_t n = q ? (size_t)(q - spec) : strlen(spec);
    unsigned long long pool = AIMC_HAL_UIO_FILE_POOL;
    struct stat st;

    if (n == 0 || n >= sizeof path)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "uio:file=: expected a file name");
    memcpy(path, spec, n);
    path[n] = '\0';
    if (q) {
        int used = 0;
        if (sscanf(q, "?dma_bytes=%llu%n", &pool, &used) != 1 || q[used] || pool == 0 ||
            pool > (1ull << 34))
            return aimc_diag_set(d, AIMC_ERR_INVALID, "uio:file=%s: expected ?dma_bytes=N "
                                 "(1..2^34), got \"%s\"", path, q);
    }
    h->is_file = 1;
    if ((h->fd = open(path, O_RDWR)) < 0)
        return aimc_diag_set(d, AIMC_ERR_IO, "uio:file=%s: %s", path, strerror(errno));
    if (fstat(h->fd, &st) || !S_ISREG(st.st_mode) || st.st_size < (off_t)AIMC_REG_WINDOW_BYTES)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "uio:file=%s: not a regular file of at least "
                             "%u bytes", path, AIMC_REG_WINDOW_BYTES);
    h->regs_bytes = AIMC_REG_WINDOW_BYTES;
    void *p = mmap(NULL, h->regs_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
    if (p == MAP_FAILED)
        return aimc_diag_set(d, AIMC_ERR_IO, "uio:file=%s: mmap: %s", path, strerror(errno));
    h->regs = p;
    h->pool_bytes = (size_t)pool;
    p = mmap(NULL, h->pool_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "uio:file=%s: no DMA pool of %zu bytes", path,
                             h->pool_bytes);
    h->pool = p;
    h->pool_addr = AIMC_HAL_UIO_FILE_DMA_BASE;
    return AIMC_OK;
}

/* "uio:/dev/uioN?dma=/dev/udmabufM" */
static int open_dev(hal_uio *h, const char *spec, aimc_diag *d)
{
    char dev[AIMC_HAL_UIO_PATH], dma[AIMC_HAL_UIO_PATH], sys[AIMC_HAL_UIO_PATH + 64];
    const char *q = strstr(spec, "?dma=");
    uint64_t size = 0;
    int rc;

    if (!q || (size_t)(q - spec) >= sizeof dev || strlen(q + 5) >= sizeof dma || q == spec ||
        !q[5])
        return aimc_diag_set(d, AIMC_ERR_INVALID, "uio:%s: expected uio:/dev/uioN?dma="
                             "/dev/udmabufM or uio:file=PATH", spec);
    memcpy(dev, spec, (size_t)(q - spec));
    dev[q - spec] = '\0';
    strcpy(dma, q + 5);
    const char *dn = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
    const char *mn = strrchr(dma, '/') ? strrchr(dma, '/') + 1 : dma;

    if ((h->fd = open(dev, O_RDWR)) < 0)
        return aimc_diag_set(d, AIMC_ERR_IO, "uio:%s: %s", dev, strerror(errno));
    snprintf(sys, sizeof sys, "/sys/class/uio/%s/maps/map0/size", dn);
    if ((rc = read_sysfs_u64(sys, &size)) || size < AIMC_REG_WINDOW_BYTES || size > SIZE_MAX)
        return aimc_diag_set(d, rc ? rc : AIMC_ERR_DEVICE, "uio:%s: cannot read the size of "
                             "map 0 from %s (or below %u bytes)", dev, sys,
                             AIMC_REG_WINDOW_BYTES);
    h->regs_bytes = (size_t)size;
    void *p = mmap(NULL, h->regs_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
    if (p == MAP_FAILED)
        return aimc_diag_set(d, AIMC_ERR_IO, "uio:%s: mmap of map 0: %s", dev, strerror(errno));
    h->regs = p;

    if ((h->dma_fd = open(dma, O_RDWR | O_SYNC)) < 0)
        return aimc_diag_set(d, AIMC_ERR_IO, "uio:%s: DMA buffer %s: %s", dev, dma,
                             strerror(errno));
    snprintf(sys, sizeof sys, "/sys/class/u-dma-buf/%s/size", mn);
    if ((rc = read_sysfs_u64(sys, &size)) || size == 0 || size > SIZE_MAX)
        return aimc_diag_set(d, rc ? rc : AIMC_ERR_DEVICE, "uio:%s: cannot read %s", dev, sys);
    h->pool_bytes = (size_t)size;
    snprintf(sys, sizeof sys, "/sys/class/u-dma-buf/%s/phys_addr", mn);
    if ((rc = read_sysfs_u64(sys, &h->pool_addr)) || h->pool_addr == 0)
        return aimc_diag_set(d, rc ? rc : AIMC_ERR_DEVICE, "uio:%s: cannot read %s", dev, sys);
    p = mmap(NULL, h->pool_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, h->dma_fd, 0);
    if (p == MAP_FAILED)
        return aimc_diag_set(d, AIMC_ERR_IO, "uio:%s: mmap of %s: %s", dev, dma, strerror(errno));
    h->pool = p;
    return AIMC_OK;
}

static int hal_uio_open(const char *rest, const aimc_open_opts *opts, void **ctx, aimc_diag *d)
{
    hal_uio *h = calloc(1, sizeof *h);
    int rc;
    (void)opts;
    if (!h) return aimc_diag_set(d, AIMC_ERR_NOMEM, "uio: out of memory");
    h->fd = -1;
    h->dma_fd = -1;
    if (!strncmp(rest, "file=", 5))
        rc = open_file(h, rest + 5, d);
    else
        rc = open_dev(h, rest, d);
    if (rc != AIMC_OK) {
        hal_uio_close(h);
        return rc;
    }
    *ctx = h;
    return AIMC_OK;
}

static uint32_t hal_uio_reg_read32(void *ctx, uint32_t off)
{
    hal_uio *h = ctx;
    if (off >= AIMC_REG_WINDOW_BYTES || (off & 3u)) return 0;
    return h->regs[off / 4];
}

static void hal_uio_reg_write32(void *ctx, uint32_t off, uint32_t val)
{
    hal_uio *h = ctx;
    if (off >= AIMC_REG_WINDOW_BYTES || (off & 3u)) return;
    __atomic_thread_fence(__ATOMIC_RELEASE); /* earlier DMA-buffer writes first */
    h->regs[off / 4] = val;
}

/* First fit in the pool, 4 KiB aligned. */
static int hal_uio_dma_alloc(void *ctx, size_t size, void **cpu, uint64_t *dev_addr)
{
    hal_uio *h = ctx;
    if (size == 0) return AIMC_ERR_INVALID;
    if (size > h->pool_bytes) return AIMC_ERR_NOMEM;
    size_t need = (size + AIMC_HAL_UIO_ALIGN - 1) & ~(size_t)(AIMC_HAL_UIO_ALIGN - 1);
    size_t at = 0, i = 0;
    for (; i < h->n_pieces; i++) {
        if (h->pieces[i].off - at >= need) break;
        at = h->pieces[i].off + h->pieces[i].size;
    }
    if (at > h->pool_bytes || h->pool_bytes - at < need) return AIMC_ERR_NOMEM;
    if (h->n_pieces == h->cap_pieces) {
        size_t cap = h->cap_pieces ? 2 * h->cap_pieces : 16;
        uio_piece *np = realloc(h->pieces, cap * sizeof *np);
        if (!np) return AIMC_ERR_NOMEM;
        h->pieces = np;
        h->cap_pieces = cap;
    }
    memmove(&h->pieces[i + 1], &h->pieces[i], (h->n_pieces - i) * sizeof *h->pieces);
    h->pieces[i] = (uio_piece){at, need};
    h->n_pieces++;
    memset(h->pool + at, 0, size);
    *cpu = h->pool + at;
    *dev_addr = h->pool_addr + at;
    return AIMC_OK;
}

static void hal_uio_dma_free(void *ctx, void *cpu)
{
    hal_uio *h = ctx;
    if (!cpu) return;
    size_t off = (size_t)((uint8_t *)cpu - h->pool);
    for (size_t i = 0; i < h->n_pieces; i++)
        if (h->pieces[i].off == off) {
            memmove(&h->pieces[i], &h->pieces[i + 1], (h->n_pieces - i - 1) * sizeof *h->pieces);
            h->n_pieces--;
            return;
        }
}

static int hal_uio_irq_wait(void *ctx, int64_t timeout_ns)
{
    hal_uio *h = ctx;
    if (h->is_file) { /* no interrupt line: sleep a slice, the caller polls registers */
        int64_t ns = timeout_ns < AIMC_HAL_UIO_WAIT_SLICE_NS ? timeout_ns
                                                             : AIMC_HAL_UIO_WAIT_SLICE_NS;
        if (ns > 0) {
            struct timespec ts = {0, (long)ns};
            nanosleep(&ts, NULL);
        }
        return AIMC_ERR_TIMEOUT;
    }
    uint32_t one = 1, count;
    if (write(h->fd, &one, sizeof one) != (ssize_t)sizeof one) return AIMC_ERR_IO;
    struct pollfd p = {.fd = h->fd, .events = POLLIN};
    int ms = (int)((timeout_ns + 999999) / 1000000);
    if (poll(&p, 1, ms) <= 0) return AIMC_ERR_TIMEOUT;
    if (read(h->fd, &count, sizeof count) != (ssize_t)sizeof count) return AIMC_ERR_IO;
    return AIMC_OK;
}

static uint64_t hal_uio_time_ns(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const aimc_hal_ops aimc_hal_uio_ops = {
    .scheme = "uio",
    .open = hal_uio_open,
    .close = hal_uio_close,
    .reg_read32 = hal_uio_reg_read32,
    .reg_write32 = hal_uio_reg_write32,
    .dma_alloc = hal_uio_dma_alloc,
    .dma_free = hal_uio_dma_free,
    .irq_wait = hal_uio_irq_wait,
    .time_ns = hal_uio_time_ns,
};
