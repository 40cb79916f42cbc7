/* regs_gen.c - the register map generator: common/aimc_regs.yaml to common/aimc_regs.h,
 * rtl/aimc_regs_pkg.sv and docs/registers.md (regs_gen.h). Reads the YAML through the
 * project's libyaml front end (common/aimc_yaml.h), so a bad map gets file:line:col errors.
 */
#include "regs_gen.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_yaml.h"

const char *const aimc_regs_gen_paths[AIMC_REGS_GEN_COUNT] = {
    "common/aimc_regs.h", "rtl/aimc_regs_pkg.sv", "docs/registers.md"};

#define RG_NAME 48
#define RG_DOC 256
#define RG_MAX_ITEMS 64
#define RG_MAX_CMDS 32
#define RG_MAX_REGS 96
#define RG_MAX_RECS 8
#define RG_MAX_NAMES 1024
#define RG_NAME_COL 36 /* column where a #define's value starts */

typedef struct rg_item { /* a bit, a constant or a field */
    char name[RG_NAME];
    char doc[RG_DOC];
    uint64_t value;      /* bit number, constant value or byte offset */
    char type[8];        /* fields: u16 u32 u64 f32 f64 */
    int zero;            /* field must be zero */
} rg_item;

typedef struct rg_reg {
    char name[RG_NAME], prefix[RG_NAME], access[8], doc[RG_DOC];
    uint64_t offset;
    int width, all;
    rg_item bits[RG_MAX_ITEMS];
    size_t n_bits;
    rg_item consts[RG_MAX_ITEMS];
    size_t n_consts;
} rg_reg;

typedef struct rg_group { /* a command or a record */
    char name[RG_NAME], prefix[RG_NAME], doc[RG_DOC];
    uint64_t opcode, reserved, bytes;
    int has_reserved;
    rg_item fields[RG_MAX_ITEMS];
    size_t n_fields;
} rg_group;

typedef struct rg_map {
    char device[RG_NAME];
    uint64_t window;
    rg_reg regs[RG_MAX_REGS];
    size_t n_regs;
    uint64_t desc_bytes, payload;
    rg_item header[RG_MAX_ITEMS];
    size_t n_header;
    rg_item flags[RG_MAX_ITEMS];
    size_t n_flags;
    rg_item status[RG_MAX_ITEMS]; /* bits of the STATUS word beside the ERROR bits */
    size_t n_status;
    rg_group cmds[RG_MAX_CMDS];
    size_t n_cmds;
    rg_group recs[RG_MAX_RECS];
    size_t n_recs;
    char *names[RG_MAX_NAMES]; /* every generated C name, for the uniqueness check */
    size_t n_names;
} rg_map;

typedef struct rg_ctx {
    const aimc_ydoc *doc;
    aimc_diag *d;
    rg_map *m;
} rg_ctx;

/* ---- a growable text ---- */

typedef struct rg_buf {
    char *s;
    size_t n, cap;
    int oom;
} rg_buf;

static void bprintf(rg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(rg_buf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->oom) return;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if ((size_t)k < room) { b->n += (size_t)k; return; }
        size_t cap = (b->cap + (size_t)k + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (!ns) { b->oom = 1; return; }
        b->s = ns;
        b->cap = cap;
    }
}

/* ---- reading ---- */

static int at(rg_ctx *c, const aimc_ynode *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int at(rg_ctx *c, const aimc_ynode *n, const char *path, const char *fmt, ...)
{
    char rule[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    return aimc_diag_set(c->d, AIMC_ERR_CONFIG, "%s:%d:%d: %s: %s", c->doc->name,
                         n ? n->line : 1, n ? n->col : 1, path, rule);
}

static const aimc_ynode *need(rg_ctx *c, const aimc_ynode *map, const char *key,
                              const char *path)
{
    const aimc_ynode *v = aimc_ymap_get(map, key);
    if (!v) at(c, map, path, "missing key %s", key);
    return v;
}

/* An unsigned integer, decimal or 0x hex, in lo..hi. */
static int get_uint(rg_ctx *c, const aimc_ynode *n, const char *path, uint64_t lo, uint64_t hi,
                    uint64_t *out)
{
    const char *s = n && n->kind == AIMC_YNODE_SCALAR && !n->quoted ? n->scalar : NULL;
    char *end = NULL;
    int hex = s && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    unsigned long long v = 0;
    int ok = s && s[0] >= '0' && s[0] <= '9';
    if (ok) v = strtoull(hex ? s + 2 : s, &end, hex ? 16 : 10);
    if (!ok || !end || *end || (hex && !s[2]) || v < lo || v > hi)
        return at(c, n, path, "expected an integer in %llu..%llu (decimal or 0x hex), got %s",
                  (unsigned long long)lo, (unsigned long long)hi,
                  s ? s : "a non-scalar");
    *out = v;
    return AIMC_OK;
}

static int get_str(rg_ctx *c, const aimc_ynode *n, const char *path, char *buf, size_t cap)
{
    return aimc_ynode_str(c->doc, n, path, buf, cap, c->d);
}

/* A C identifier part: upper case letters, digits and '_', starting with a letter. */
static int get_name(rg_ctx *c, const aimc_ynode *n, const char *path, char *buf)
{
    int rc = get_str(c, n, path, buf, RG_NAME);
    if (rc) return rc;
    if (!(buf[0] >= 'A' && buf[0] <= 'Z'))
        return at(c, n, path, "expected a name of A-Z, 0-9 and _, starting with a letter, got "
                  "\"%s\"", buf);
    for (const char *p = buf; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return at(c, n, path, "expected a name of A-Z, 0-9 and _, got \"%s\"", buf);
    return AIMC_OK;
}

static int opt_doc(rg_ctx *c, const aimc_ynode *map, const char *path, char *buf)
{
    const aimc_ynode *v = aimc_ymap_get(map, "doc");
    buf[0] = '\0';
    return v ? get_str(c, v, path, buf, RG_DOC) : AIMC_OK;
}

static int check_keys(rg_ctx *c, const aimc_ynode *n, const char *path,
                      const char *const *known, size_t nk)
{
    int rc = aimc_ynode_expect_map(c->doc, n, path, c->d);
    if (rc) return rc;
    return aimc_ymap_check_keys(c->doc, n, path, known, nk, c->d);
}

static int expect_seq(rg_ctx *c, const aimc_ynode *n, const char *path)
{
    if (n->kind != AIMC_YNODE_SEQ) return at(c, n, path, "expected a list");
    return AIMC_OK;
}

/* Record a generated name; a second use of one is an error at node n. */
static int name_add(rg_ctx *c, const aimc_ynode *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int name_add(rg_ctx *c, const aimc_ynode *n, const char *path, const char *fmt, ...)
{
    char name[3 * RG_NAME];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < c->m->n_names; i++)
        if (!strcmp(c->m->names[i], name)) return at(c, n, path, "%s is defined twice", name);
    if (c->m->n_names == RG_MAX_NAMES) return at(c, n, path, "more than %d names", RG_MAX_NAMES);
    c->m->names[c->m->n_names] = strdup(name);
    if (!c->m->names[c->m->n_names]) return aimc_diag_set(c->d, AIMC_ERR_NOMEM, "out of memory");
    c->m->n_names++;
    return AIMC_OK;
}

static int type_bytes(const char *t)
{
    if (!strcmp(t, "u16")) return 2;
    if (!strcmp(t, "u32") || !strcmp(t, "f32")) return 4;
    if (!strcmp(t, "u64") || !strcmp(t, "f64")) return 8;
    return 0;
}

/* A list of bits: {name, bit, doc}. */
static int read_bits(rg_ctx *c, const aimc_ynode *seq, const char *path, rg_item *out,
                     size_t *n_out)
{
    static const char *const keys[] = {"name", "bit", "doc"};
    uint32_t used = 0;
    int rc = expect_seq(c, seq, path);
    if (rc) return rc;
    if (seq->n > 32) return at(c, seq, path, "more than 32 bits");
    for (size_t i = 0; i < seq->n; i++) {
        const aimc_ynode *it = seq->items[i], *v;
        rg_item *b = &out[i];
        if ((rc = check_keys(c, it, path, keys, 3))) return rc;
        if (!(v = need(c, it, "name", path))) return AIMC_ERR_CONFIG;
        if ((rc = get_name(c, v, path, b->name))) return rc;
        if (!(v = need(c, it, "bit", path))) return AIMC_ERR_CONFIG;
        if ((rc = get_uint(c, v, path, 0, 31, &b->value))) return rc;
        if (used & (1u << b->value)) return at(c, v, path, "bit %llu is used twice",
                                                (unsigned long long)b->value);
        used |= 1u << b->value;
        if ((rc = opt_doc(c, it, path, b->doc))) return rc;
    }
    *n_out = seq->n;
    return AIMC_OK;
}

/* A list of fields {name, offset, type, zero?, doc} inside [from, bytes), no overlap. */
static int read_fields(rg_ctx *c, const aimc_ynode *seq, const char *path, uint64_t from,
                       uint64_t bytes, rg_item *out, size_t *n_out)
{
    static const char *const keys[] = {"name", "offset", "type", "zero", "doc"};
    uint8_t taken[256] = {0};
    int rc = expect_seq(c, seq, path);
    if (rc) return rc;
    if (seq->n > RG_MAX_ITEMS) return at(c, seq, path, "more than %d fields", RG_MAX_ITEMS);
    for (size_t i = 0; i < seq->n; i++) {
        const aimc_ynode *it = seq->items[i], *v;
        rg_item *f = &out[i];
        if ((rc = check_keys(c, it, path, keys, 5))) return rc;
        if (!(v = need(c, it, "name", path))) return AIMC_ERR_CONFIG;
        if ((rc = get_name(c, v, path, f->name))) return rc;
        if (!(v = need(c, it, "type", path))) return AIMC_ERR_CONFIG;
        if ((rc = get_str(c, v, path, f->type, sizeof f->type))) return rc;
        int nb = type_bytes(f->type);
        if (!nb) return at(c, v, path, "expected one of u16, u32, u64, f32, f64, got \"%s\"",
                           f->type);
        if (!(v = need(c, it, "offset", path))) return AIMC_ERR_CONFIG;
        if ((rc = get_uint(c, v, path, from, bytes - (uint64_t)nb, &f->value))) return rc;
        if (f->value % (uint64_t)(nb > 4 ? 4 : nb))
            return at(c, v, path, "offset 0x%llx is not aligned to its type",
                      (unsigned long long)f->value);
        for (uint64_t b = f->value; b < f->value + (uint64_t)nb; b++) {
            if (taken[b]) return at(c, v, path, "field %s overlaps another at byte 0x%llx",
                                    f->name, (unsigned long long)b);
            taken[b] = 1;
        }
        if ((v = aimc_ymap_get(it, "zero"))) {
            uint64_t z;
            if ((rc = get_uint(c, v, path, 0, 1, &z))) return rc;
            f->zero = (int)z;
        }
        if ((rc = opt_doc(c, it, path, f->doc))) return rc;
    }
    *n_out = seq->n;
    return AIMC_OK;
}

static int read_reg(rg_ctx *c, const aimc_ynode *n, rg_reg *r)
{
    static const char *const keys[] = {"name", "offset", "access", "width", "doc",
                                       "bits", "consts", "prefix", "all"};
    static const char *const access[] = {"RO", "RW", "WO", "RW1C"};
    const char *path = "registers";
    const aimc_ynode *v;
    int rc, acc;

    if ((rc = check_keys(c, n, path, keys, 9))) return rc;
    if (!(v = need(c, n, "name", path))) return AIMC_ERR_CONFIG;
    if ((rc = get_name(c, v, path, r->name))) return rc;
    if (!(v = need(c, n, "offset", path))) return AIMC_ERR_CONFIG;
    if ((rc = get_uint(c, v, r->name, 0, c->m->window - 4, &r->offset))) return rc;
    if (r->offset % 4) return at(c, v, r->name, "offset 0x%llx is not 4-byte aligned",
                                 (unsigned long long)r->offset);
    if (!(v = need(c, n, "access", path))) return AIMC_ERR_CONFIG;
    if ((rc = aimc_ynode_enum(c->doc, v, r->name, access, 4, &acc, c->d))) return rc;
    snprintf(r->access, sizeof r->access, "%s", access[acc]);
    r->width = 32;
    if ((v = aimc_ymap_get(n, "width"))) {
        uint64_t w;
        if ((rc = get_uint(c, v, r->name, 32, 64, &w))) return rc;
        if (w != 32 && w != 64) return at(c, v, r->name, "width is 32 or 64, got %llu",
                                          (unsigned long long)w);
        r->width = (int)w;
        if (r->offset + 8 > c->m->window) return at(c, v, r->name, "the HI half lies outside "
                                                    "the window");
    }
    if ((rc = opt_doc(c, n, r->name, r->doc))) return rc;
    snprintf(r->prefix, sizeof r->prefix, "%s", r->name);
    if ((v = aimc_ymap_get(n, "prefix")) && (rc = get_name(c, v, r->name, r->prefix))) return rc;
    if ((v = aimc_ymap_get(n, "all"))) {
        uint64_t a;
        if ((rc = get_uint(c, v, r->name, 0, 1, &a))) return rc;
        r->all = (int)a;
    }
    if ((v = aimc_ymap_get(n, "bits")) && (rc = read_bits(c, v, r->name, r->bits, &r->n_bits)))
        return rc;
    if ((v = aimc_ymap_get(n, "consts"))) {
        static const char *const ckeys[] = {"name", "value", "doc"};
        if ((rc = expect_seq(c, v, r->name))) return rc;
        if (v->n > RG_MAX_ITEMS) return at(c, v, r->name, "too many constants");
        for (size_t i = 0; i < v->n; i++) {
            const aimc_ynode *it = v->items[i], *w;
            rg_item *k = &r->consts[i];
            if ((rc = check_keys(c, it, r->name, ckeys, 3))) return rc;
            if (!(w = need(c, it, "name", r->name))) return AIMC_ERR_CONFIG;
            if ((rc = get_name(c, w, r->name, k->name))) return rc;
            if (!(w = need(c, it, "value", r->name))) return AIMC_ERR_CONFIG;
            if ((rc = get_uint(c, w, r->name, 0, UINT32_MAX, &k->value))) return rc;
            if ((rc = opt_doc(c, it, r->name, k->doc))) return rc;
            if ((rc = name_add(c, w, r->name, "AIMC_REG_%s_%s", r->name, k->name))) return rc;
        }
        r->n_consts = v->n;
    }
    /* generated names and the offsets they take */
    if (r->width == 64) {
        if ((rc = name_add(c, n, r->name, "AIMC_REG_%s_LO", r->name)) ||
            (rc = name_add(c, n, r->name, "AIMC_REG_%s_HI", r->name)))
            return rc;
    } else if ((rc = name_add(c, n, r->name, "AIMC_REG_%s", r->name))) {
        return rc;
    }
    for (size_t i = 0; i < r->n_bits; i++)
        if ((rc = name_add(c, n, r->name, "AIMC_REG_%s_%s", r->prefix, r->bits[i].name)))
            return rc;
    if (r->all && (rc = name_add(c, n, r->name, "AIMC_REG_%s_ALL", r->prefix))) return rc;
    return AIMC_OK;
}

static int read_group(rg_ctx *c, const aimc_ynode *n, rg_group *g, int is_cmd)
{
    static const char *const ckeys[] = {"name", "opcode", "prefix", "doc", "reserved", "fields"};
    static const char *const rkeys[] = {"name", "bytes", "doc", "fields"};
    const char *path = is_cmd ? "descriptor.commands" : "records";
    const aimc_ynode *v;
    int rc;

    if ((rc = is_cmd ? check_keys(c, n, path, ckeys, 6) : check_keys(c, n, path, rkeys, 4)))
        return rc;
    if (!(v = need(c, n, "name", path))) return AIMC_ERR_CONFIG;
    if ((rc = get_name(c, v, path, g->name))) return rc;
    if ((rc = opt_doc(c, n, g->name, g->doc))) return rc;
    if (is_cmd) {
        g->bytes = c->m->desc_bytes;
        if (!(v = need(c, n, "opcode", g->name))) return AIMC_ERR_CONFIG;
        if ((rc = get_uint(c, v, g->name, 0, 0xFFFF, &g->opcode))) return rc;
        for (rg_group *o = c->m->cmds; o < g; o++)
            if (o->opcode == g->opcode)
                return at(c, v, g->name, "opcode %llu is also %s's", (unsigned long long)g->opcode,
                          o->name);
        if (!(v = need(c, n, "prefix", g->name))) return AIMC_ERR_CONFIG;
        if ((rc = get_name(c, v, g->name, g->prefix))) return rc;
        if ((v = aimc_ymap_get(n, "reserved"))) {
            if ((rc = get_uint(c, v, g->name, c->m->payload, g->bytes - 1, &g->reserved)))
                return rc;
            g->has_reserved = 1;
        }
        if ((rc = name_add(c, n, g->name, "AIMC_DESC_OP_%s", g->name))) return rc;
    } else {
        if (!(v = need(c, n, "bytes", g->name))) return AIMC_ERR_CONFIG;
        if ((rc = get_uint(c, v, g->name, 4, 256, &g->bytes))) return rc;
        snprintf(g->prefix, sizeof g->prefix, "%s", g->name);
        if ((rc = name_add(c, n, g->name, "AIMC_REC_%s_BYTES", g->name))) return rc;
    }
    if ((v = aimc_ymap_get(n, "fields"))) {
        uint64_t end = g->has_reserved ? g->reserved : g->bytes;
        if ((rc = read_fields(c, v, g->name, is_cmd ? c->m->payload : 0, end, g->fields,
                              &g->n_fields)))
            return rc;
    }
    /* a command's payload is covered by its fields and reserved bytes, without gaps */
    if (is_cmd) {
        uint8_t cov[256] = {0};
        uint64_t end = g->has_reserved ? g->reserved : g->bytes;
        for (size_t i = 0; i < g->n_fields; i++)
            for (int b = 0; b < type_bytes(g->fields[i].type); b++)
                cov[g->fields[i].value + (uint64_t)b] = 1;
        for (uint64_t b = c->m->payload; b < end; b++)
            if (!cov[b]) return at(c, n, g->name, "byte 0x%llx of the payload is neither a field "
                                   "nor reserved", (unsigned long long)b);
        if (g->has_reserved &&
            (rc = name_add(c, n, g->name, "AIMC_DESC_%s_RESERVED", g->prefix)))
            return rc;
    }
    for (size_t i = 0; i < g->n_fields; i++)
        if ((rc = name_add(c, n, g->name, is_cmd ? "AIMC_DESC_%s_%s" : "AIMC_REC_%s_%s",
                           g->prefix, g->fields[i].name)))
            return rc;
    return AIMC_OK;
}

static int read_map(rg_ctx *c)
{
    static const char *const top[] = {"device", "window_bytes", "registers", "descriptor",
                                      "records"};
    static const char *const dkeys[] = {"bytes", "header", "payload", "flags", "status",
                                        "commands"};
    const aimc_ynode *root = c->doc->root, *v, *desc;
    rg_map *m = c->m;
    int rc;

    if (!root) return aimc_diag_set(c->d, AIMC_ERR_CONFIG, "%s:1:1: the file is empty",
                                    c->doc->name);
    if ((rc = check_keys(c, root, "", top, 5))) return rc;
    if (!(v = need(c, root, "device", "device"))) return AIMC_ERR_CONFIG;
    if ((rc = get_str(c, v, "device", m->device, sizeof m->device))) return rc;
    if (!(v = need(c, root, "window_bytes", "window_bytes"))) return AIMC_ERR_CONFIG;
    if ((rc = get_uint(c, v, "window_bytes", 16, 1u << 24, &m->window))) return rc;
    if ((rc = name_add(c, v, "window_bytes", "AIMC_REG_WINDOW_BYTES"))) return rc;

    if (!(v = need(c, root, "registers", "registers"))) return AIMC_ERR_CONFIG;
    if ((rc = expect_seq(c, v, "registers"))) return rc;
    if (v->n > RG_MAX_REGS) return at(c, v, "registers", "more than %d", RG_MAX_REGS);
    for (size_t i = 0; i < v->n; i++) {
        if ((rc = read_reg(c, v->items[i], &m->regs[i]))) return rc;
        m->n_regs = i + 1;
        /* offsets: no two registers share a word */
        rg_reg *r = &m->regs[i];
        for (size_t j = 0; j < i; j++) {
            const rg_reg *o = &m->regs[j];
            uint64_t a0 = r->offset, a1 = r->offset + (uint64_t)r->width / 8;
            uint64_t b0 = o->offset, b1 = o->offset + (uint64_t)o->width / 8;
            if (a0 < b1 && b0 < a1)
                return at(c, v->items[i], r->name, "offset 0x%llx overlaps %s",
                          (unsigned long long)r->offset, o->name);
        }
    }

    if (!(desc = need(c, root, "descriptor", "descriptor"))) return AIMC_ERR_CONFIG;
    if ((rc = check_keys(c, desc, "descriptor", dkeys, 6))) return rc;
    if (!(v = need(c, desc, "bytes", "descriptor"))) return AIMC_ERR_CONFIG;
    if ((rc = get_uint(c, v, "descriptor.bytes", 16, 256, &m->desc_bytes))) return rc;
    if ((rc = name_add(c, v, "descriptor", "AIMC_DESC_BYTES"))) return rc;
    if (!(v = need(c, desc, "payload", "descriptor"))) return AIMC_ERR_CONFIG;
    if ((rc = get_uint(c, v, "descriptor.payload", 0, m->desc_bytes, &m->payload))) return rc;
    if ((rc = name_add(c, v, "descriptor", "AIMC_DESC_PAYLOAD"))) return rc;
    if (!(v = need(c, desc, "header", "descriptor"))) return AIMC_ERR_CONFIG;
    if ((rc = read_fields(c, v, "descriptor.header", 0, m->payload, m->header, &m->n_header)))
        return rc;
    for (size_t i = 0; i < m->n_header; i++)
        if ((rc = name_add(c, v, "descriptor.header", "AIMC_DESC_%s", m->header[i].name)))
            return rc;
    if (!(v = need(c, desc, "flags", "descriptor"))) return AIMC_ERR_CONFIG;
    if ((rc = read_bits(c, v, "descriptor.flags", m->flags, &m->n_flags))) return rc;
    for (size_t i = 0; i < m->n_flags; i++) {
        if (m->flags[i].value > 15) return at(c, v, "descriptor.flags", "flags are 16 bits");
        if ((rc = name_add(c, v, "descriptor.flags", "AIMC_DESC_FLAG_%s", m->flags[i].name)))
            return rc;
    }
    if ((rc = name_add(c, v, "descriptor.flags", "AIMC_DESC_FLAGS_ALL"))) return rc;
    if (!(v = need(c, desc, "status", "descriptor"))) return AIMC_ERR_CONFIG;
    if ((rc = read_bits(c, v, "descriptor.status", m->status, &m->n_status))) return rc;
    for (size_t i = 0; i < m->n_status; i++) {
        if (m->status[i].value > 31) return at(c, v, "descriptor.status", "the status is 32 bits");
        if ((rc = name_add(c, v, "descriptor.status", "AIMC_DESC_STATUS_%s",
                           m->status[i].name)))
            return rc;
    }
    if (!(v = need(c, desc, "commands", "descriptor"))) return AIMC_ERR_CONFIG;
    if ((rc = expect_seq(c, v, "descriptor.commands"))) return rc;
    if (v->n > RG_MAX_CMDS) return at(c, v, "descriptor.commands", "more than %d", RG_MAX_CMDS);
    for (size_t i = 0; i < v->n; i++) {
        if ((rc = read_group(c, v->items[i], &m->cmds[i], 1))) return rc;
        m->n_cmds = i + 1;
    }

    if ((v = aimc_ymap_get(root, "records"))) {
        if ((rc = expect_seq(c, v, "records"))) return rc;
        if (v->n > RG_MAX_RECS) return at(c, v, "records", "more than %d", RG_MAX_RECS);
        for (size_t i = 0; i < v->n; i++) {
            if ((rc = read_group(c, v->items[i], &m->recs[i], 0))) return rc;
            m->n_recs = i + 1;
        }
    }
    return AIMC_OK;
}

/* ---- output: C ---- */

static const char *const rg_banner =
    "GENERATED by tools/gen_regs from common/aimc_regs.yaml: do not edit; edit the YAML\n"
    " * and run make.";

static void c_def(rg_buf *b, const char *name, const char *value, const char *doc)
{
    int pad = RG_NAME_COL - 8 - (int)strlen(name);
    bprintf(b, "#define %s%*s %s", name, pad > 0 ? pad : 0, "", value);
    if (doc && doc[0]) bprintf(b, " /* %s */", doc);
    bprintf(b, "\n");
}

static void c_hex(rg_buf *b, const char *name, uint64_t v, int digits, const char *doc)
{
    char val[32];
    snprintf(val, sizeof val, "0x%0*llXu", digits, (unsigned long long)v);
    c_def(b, name, val, doc);
}

static void emit_c(const rg_map *m, rg_buf *b)
{
    char name[3 * RG_NAME], doc[RG_DOC + 32];

    bprintf(b, "/* aimc_regs.h - the %s device's register map, command descriptors and DMA "
               "records.\n *\n * %s\n *\n * docs/registers.md lists the same; docs/driver.md "
               "explains the protocol. Every\n * register is 32 bits; a 64-bit value is a "
               "LO/HI pair (HI = LO + 4), and reading LO\n * latches HI, so LO then HI gives "
               "one consistent value.\n */\n#ifndef AIMC_REGS_H\n#define AIMC_REGS_H\n\n",
            m->device, rg_banner);
    c_hex(b, "AIMC_REG_WINDOW_BYTES", m->window, 4, "size of the register window");
    for (size_t i = 0; i < m->n_regs; i++) {
        const rg_reg *r = &m->regs[i];
        bprintf(b, "\n/* %s (%s%s): %s */\n", r->name, r->access,
                r->width == 64 ? ", 64-bit" : "", r->doc);
        if (r->width == 64) {
            snprintf(name, sizeof name, "AIMC_REG_%s_LO", r->name);
            c_hex(b, name, r->offset, 3, NULL);
            snprintf(name, sizeof name, "AIMC_REG_%s_HI", r->name);
            c_hex(b, name, r->offset + 4, 3, NULL);
        } else {
            snprintf(name, sizeof name, "AIMC_REG_%s", r->name);
            c_hex(b, name, r->offset, 3, NULL);
        }
        uint64_t all = 0;
        for (size_t k = 0; k < r->n_bits; k++) {
            snprintf(name, sizeof name, "AIMC_REG_%s_%s", r->prefix, r->bits[k].name);
            c_hex(b, name, 1ull << r->bits[k].value, 8, r->bits[k].doc);
            all |= 1ull << r->bits[k].value;
        }
        if (r->all) {
            snprintf(name, sizeof name, "AIMC_REG_%s_ALL", r->prefix);
            c_hex(b, name, all, 8, "every bit above");
        }
        for (size_t k = 0; k < r->n_consts; k++) {
            snprintf(name, sizeof name, "AIMC_REG_%s_%s", r->name, r->consts[k].name);
            c_hex(b, name, r->consts[k].value, 8, r->consts[k].doc);
        }
    }
    bprintf(b, "\n/* ---- command descriptor: %llu bytes, little-endian, byte offsets ---- */\n",
            (unsigned long long)m->desc_bytes);
    char val[32];
    snprintf(val, sizeof val, "%lluu", (unsigned long long)m->desc_bytes);
    c_def(b, "AIMC_DESC_BYTES", val, NULL);
    for (size_t i = 0; i < m->n_header; i++) {
        snprintf(name, sizeof name, "AIMC_DESC_%s", m->header[i].name);
        snprintf(doc, sizeof doc, "%s: %s", m->header[i].type, m->header[i].doc);
        c_hex(b, name, m->header[i].value, 2, doc);
    }
    c_hex(b, "AIMC_DESC_PAYLOAD", m->payload, 2, "start of the per-command fields");
    uint64_t fall = 0;
    for (size_t i = 0; i < m->n_flags; i++) {
        snprintf(name, sizeof name, "AIMC_DESC_FLAG_%s", m->flags[i].name);
        c_hex(b, name, 1ull << m->flags[i].value, 4, m->flags[i].doc);
        fall |= 1ull << m->flags[i].value;
    }
    c_hex(b, "AIMC_DESC_FLAGS_ALL", fall, 4, "every flag");
    for (size_t i = 0; i < m->n_status; i++) {
        snprintf(name, sizeof name, "AIMC_DESC_STATUS_%s", m->status[i].name);
        c_hex(b, name, 1ull << m->status[i].value, 8, m->status[i].doc);
    }
    for (size_t i = 0; i < m->n_cmds; i++) {
        const rg_group *g = &m->cmds[i];
        bprintf(b, "\n/* %s: %s */\n", g->name, g->doc);
        snprintf(name, sizeof name, "AIMC_DESC_OP_%s", g->name);
        c_hex(b, name, g->opcode, 4, NULL);
        for (size_t k = 0; k < g->n_fields; k++) {
            snprintf(name, sizeof name, "AIMC_DESC_%s_%s", g->prefix, g->fields[k].name);
            snprintf(doc, sizeof doc, "%s%s: %s", g->fields[k].type,
                     g->fields[k].zero ? ", must be 0" : "", g->fields[k].doc);
            c_hex(b, name, g->fields[k].value, 2, doc);
        }
        if (g->has_reserved) {
            snprintf(name, sizeof name, "AIMC_DESC_%s_RESERVED", g->prefix);
            snprintf(doc, sizeof doc, "bytes from here to %llu must be 0",
                     (unsigned long long)g->bytes);
            c_hex(b, name, g->reserved, 2, doc);
        }
    }
    for (size_t i = 0; i < m->n_recs; i++) {
        const rg_group *g = &m->recs[i];
        bprintf(b, "\n/* record %s: %s */\n", g->name, g->doc);
        snprintf(name, sizeof name, "AIMC_REC_%s_BYTES", g->name);
        snprintf(val, sizeof val, "%lluu", (unsigned long long)g->bytes);
        c_def(b, name, val, NULL);
        for (size_t k = 0; k < g->n_fields; k++) {
            snprintf(name, sizeof name, "AIMC_REC_%s_%s", g->name, g->fields[k].name);
            snprintf(doc, sizeof doc, "%s: %s", g->fields[k].type, g->fields[k].doc);
            c_hex(b, name, g->fields[k].value, 2, doc);
        }
    }
    bprintf(b, "\n#endif /* AIMC_REGS_H */\n");
}

/* ---- output: SystemVerilog ---- */

static void sv_p(rg_buf *b, const char *name, uint64_t v, const char *doc)
{
    int pad = RG_NAME_COL - (int)strlen(name);
    bprintf(b, "  localparam [31:0] %s%*s = 32'h%08llX;", name, pad > 0 ? pad : 0, "",
            (unsigned long long)v);
    if (doc && doc[0]) bprintf(b, " // %s", doc);
    bprintf(b, "\n");
}

static void emit_sv(const rg_map *m, rg_buf *b)
{
    char name[3 * RG_NAME];
    bprintf(b, "// aimc_regs_pkg.sv - the %s device's register map, command descriptors and "
               "DMA records\n// for the RTL (byte offsets, bit masks, opcodes).\n//\n// GENERATED "
               "by tools/gen_regs from common/aimc_regs.yaml: do not edit; edit the YAML\n// and "
               "run make. docs/registers.md documents every entry.\n//\n// The whole map is "
               "here; an RTL uses part of it (the HI halves of 64-bit registers, the DMA\n// "
               "records are the host's), so Verilator's unused-parameter lint is off for this "
               "file. Plain\n// [31:0] parameters, referenced as aimc_regs_pkg::NAME: the subset "
               "Verilator, Yosys and\n// Icarus all read (docs/rtl.md).\n"
               "/* verilator lint_off UNUSEDPARAM */\npackage aimc_regs_pkg;\n",
            m->device);
    sv_p(b, "AIMC_REG_WINDOW_BYTES", m->window, NULL);
    for (size_t i = 0; i < m->n_regs; i++) {
        const rg_reg *r = &m->regs[i];
        bprintf(b, "\n  // %s (%s)\n", r->name, r->access);
        if (r->width == 64) {
            snprintf(name, sizeof name, "AIMC_REG_%s_LO", r->name);
            sv_p(b, name, r->offset, NULL);
            snprintf(name, sizeof name, "AIMC_REG_%s_HI", r->name);
            sv_p(b, name, r->offset + 4, NULL);
        } else {
            snprintf(name, sizeof name, "AIMC_REG_%s", r->name);
            sv_p(b, name, r->offset, NULL);
        }
        uint64_t all = 0;
        for (size_t k = 0; k < r->n_bits; k++) {
            snprintf(name, sizeof name, "AIMC_REG_%s_%s", r->prefix, r->bits[k].name);
            sv_p(b, name, 1ull << r->bits[k].value, NULL);
            all |= 1ull << r->bits[k].value;
        }
        if (r->all) {
            snprintf(name, sizeof name, "AIMC_REG_%s_ALL", r->prefix);
            sv_p(b, name, all, NULL);
        }
        for (size_t k = 0; k < r->n_consts; k++) {
            snprintf(name, sizeof name, "AIMC_REG_%s_%s", r->name, r->consts[k].name);
            sv_p(b, name, r->consts[k].value, NULL);
        }
    }
    bprintf(b, "\n  // command descriptor\n");
    sv_p(b, "AIMC_DESC_BYTES", m->desc_bytes, NULL);
    for (size_t i = 0; i < m->n_header; i++) {
        snprintf(name, sizeof name, "AIMC_DESC_%s", m->header[i].name);
        sv_p(b, name, m->header[i].value, m->header[i].type);
    }
    sv_p(b, "AIMC_DESC_PAYLOAD", m->payload, NULL);
    uint64_t fall = 0;
    for (size_t i = 0; i < m->n_flags; i++) {
        snprintf(name, sizeof name, "AIMC_DESC_FLAG_%s", m->flags[i].name);
        sv_p(b, name, 1ull << m->flags[i].value, NULL);
        fall |= 1ull << m->flags[i].value;
    }
    sv_p(b, "AIMC_DESC_FLAGS_ALL", fall, NULL);
    for (size_t i = 0; i < m->n_status; i++) {
        snprintf(name, sizeof name, "AIMC_DESC_STATUS_%s", m->status[i].name);
        sv_p(b, name, 1ull << m->status[i].value, NULL);
    }
    for (size_t i = 0; i < m->n_cmds; i++) {
        const rg_group *g = &m->cmds[i];
        bprintf(b, "\n  // %s\n", g->name);
        snprintf(name, sizeof name, "AIMC_DESC_OP_%s", g->name);
        sv_p(b, name, g->opcode, NULL);
        for (size_t k = 0; k < g->n_fields; k++) {
            snprintf(name, sizeof name, "AIMC_DESC_%s_%s", g->prefix, g->fields[k].name);
            sv_p(b, name, g->fields[k].value, g->fields[k].type);
        }
        if (g->has_reserved) {
            snprintf(name, sizeof name, "AIMC_DESC_%s_RESERVED", g->prefix);
            sv_p(b, name, g->reserved, NULL);
        }
    }
    for (size_t i = 0; i < m->n_recs; i++) {
        const rg_group *g = &m->recs[i];
        bprintf(b, "\n  // record %s\n", g->name);
        snprintf(name, sizeof name, "AIMC_REC_%s_BYTES", g->name);
        sv_p(b, name, g->bytes, NULL);
        for (size_t k = 0; k < g->n_fields; k++) {
            snprintf(name, sizeof name, "AIMC_REC_%s_%s", g->name, g->fields[k].name);
            sv_p(b, name, g->fields[k].value, g->fields[k].type);
        }
    }
    bprintf(b, "endpackage : aimc_regs_pkg\n/* verilator lint_on UNUSEDPARAM */\n");
}

/* ---- output: Markdown ---- */

static void md_text(rg_buf *b, const char *s) /* table cell: escape '|' */
{
    for (; *s; s++) {
        if (*s == '|')
            bprintf(b, "\\|");
        else
            bprintf(b, "%c", *s);
    }
}

static void md_fields(rg_buf *b, const rg_group *g, int is_cmd)
{
    bprintf(b, "| Bytes | Field | Type | Meaning |\n|---|---|---|---|\n");
    for (size_t k = 0; k < g->n_fields; k++) {
        const rg_item *f = &g->fields[k];
        bprintf(b, "| %llu..%llu | %s | %s | ", (unsigned long long)f->value,
                (unsigned long long)(f->value + (uint64_t)type_bytes(f->type) - 1), f->name,
                f->type);
        md_text(b, f->doc);
        bprintf(b, "%s |\n", f->zero ? " (must be 0)" : "");
    }
    if (is_cmd && g->has_reserved)
        bprintf(b, "| %llu..%llu | reserved | | must be 0 |\n", (unsigned long long)g->reserved,
                (unsigned long long)g->bytes - 1);
}

static void emit_md(const rg_map *m, rg_buf *b)
{
    bprintf(b, "# aimc register map\n\n<!-- GENERATED by tools/gen_regs from common/aimc_regs.yaml:"
               " do not edit; edit the YAML and run make. -->\n\n"
               "The %s device's registers, command descriptors and DMA records, as "
               "`common/aimc_regs.h` (C)\nand `rtl/aimc_regs_pkg.sv` (SystemVerilog) define them. "
               "The protocol (ring, fences,\ninterrupts, errors) is in [driver.md](driver.md).\n\n"
               "All registers are 32 bits, at byte offsets in a window of 0x%llX bytes. Unknown "
               "or unaligned\noffsets read 0 and ignore writes; writes to read-only registers are "
               "ignored. Reset values are\n0 unless given. A 64-bit register is a LO/HI pair "
               "(HI = LO + 4); reading LO latches HI, so\nLO then HI reads one consistent "
               "value.\n\n## Registers\n\n| Offset | Name | Access | Meaning |\n|---|---|---|---|\n",
            m->device, (unsigned long long)m->window);
    for (size_t i = 0; i < m->n_regs; i++) {
        const rg_reg *r = &m->regs[i];
        if (r->width == 64)
            bprintf(b, "| 0x%03llX/0x%03llX | %s_LO/HI | %s | ", (unsigned long long)r->offset,
                    (unsigned long long)r->offset + 4, r->name, r->access);
        else
            bprintf(b, "| 0x%03llX | %s | %s | ", (unsigned long long)r->offset, r->name,
                    r->access);
        md_text(b, r->doc);
        for (size_t k = 0; k < r->n_consts; k++) {
            bprintf(b, "; %s = 0x%08llX (", r->consts[k].name,
                    (unsigned long long)r->consts[k].value);
            md_text(b, r->consts[k].doc);
            bprintf(b, ")");
        }
        bprintf(b, " |\n");
    }
    for (size_t i = 0; i < m->n_regs; i++) {
        const rg_reg *r = &m->regs[i];
        if (!r->n_bits) continue;
        bprintf(b, "\n### %s bits (`AIMC_REG_%s_*`)\n\n| Bit | Mask | Name | Meaning |\n"
                   "|---|---|---|---|\n", r->name, r->prefix);
        for (size_t k = 0; k < r->n_bits; k++) {
            bprintf(b, "| %llu | 0x%03llX | %s | ", (unsigned long long)r->bits[k].value,
                    1ull << r->bits[k].value, r->bits[k].name);
            md_text(b, r->bits[k].doc);
            bprintf(b, " |\n");
        }
    }
    bprintf(b, "\n## Command descriptor\n\n%llu bytes, little-endian.\n\n| Bytes | Field | Type "
               "| Meaning |\n|---|---|---|---|\n", (unsigned long long)m->desc_bytes);
    for (size_t i = 0; i < m->n_header; i++) {
        const rg_item *f = &m->header[i];
        bprintf(b, "| %llu..%llu | %s | %s | ", (unsigned long long)f->value,
                (unsigned long long)(f->value + (uint64_t)type_bytes(f->type) - 1), f->name,
                f->type);
        md_text(b, f->doc);
        bprintf(b, " |\n");
    }
    bprintf(b, "| %llu..%llu | per command | | below |\n\nFlags:", (unsigned long long)m->payload,
            (unsigned long long)m->desc_bytes - 1);
    for (size_t i = 0; i < m->n_flags; i++) {
        bprintf(b, " bit %llu %s: ", (unsigned long long)m->flags[i].value, m->flags[i].name);
        md_text(b, m->flags[i].doc);
        bprintf(b, ".");
    }
    bprintf(b, " Other bits must be 0.\n\nStatus:");
    for (size_t i = 0; i < m->n_status; i++) {
        bprintf(b, " bit %llu %s: ", (unsigned long long)m->status[i].value, m->status[i].name);
        md_text(b, m->status[i].doc);
        bprintf(b, ".");
    }
    bprintf(b, " The other bits are the ERROR bits of the command.\n\n| Opcode | Command | "
               "What it does |\n|---|---|---|\n");
    for (size_t i = 0; i < m->n_cmds; i++) {
        bprintf(b, "| %llu | %s | ", (unsigned long long)m->cmds[i].opcode, m->cmds[i].name);
        md_text(b, m->cmds[i].doc);
        bprintf(b, " |\n");
    }
    for (size_t i = 0; i < m->n_cmds; i++) {
        const rg_group *g = &m->cmds[i];
        bprintf(b, "\n### %s (opcode %llu, `AIMC_DESC_%s_*`)\n\n", g->name,
                (unsigned long long)g->opcode, g->prefix);
        if (!g->n_fields) {
            bprintf(b, "Bytes %llu..%llu must be 0.\n", (unsigned long long)g->reserved,
                    (unsigned long long)g->bytes - 1);
            continue;
        }
        md_fields(b, g, 1);
    }
    if (m->n_recs) bprintf(b, "\n## DMA records\n");
    for (size_t i = 0; i < m->n_recs; i++) {
        const rg_group *g = &m->recs[i];
        bprintf(b, "\n### %s (%llu bytes, `AIMC_REC_%s_*`)\n\n", g->name,
                (unsigned long long)g->bytes, g->name);
        md_text(b, g->doc);
        bprintf(b, ".\n\n");
        md_fields(b, g, 0);
    }
}

int aimc_regs_generate(const char *yaml_path, char *out[AIMC_REGS_GEN_COUNT], aimc_diag *d)
{
    aimc_ydoc *doc = NULL;
    rg_map *m = NULL;
    rg_buf b[AIMC_REGS_GEN_COUNT] = {{0}};
    int rc;

    for (int i = 0; i < AIMC_REGS_GEN_COUNT; i++) out[i] = NULL;
    if ((rc = aimc_ydoc_load_file(yaml_path, &doc, d))) return rc;
    m = calloc(1, sizeof *m);
    if (!m) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
        goto out;
    }
    rg_ctx c = {doc, d, m};
    if ((rc = read_map(&c))) goto out;
    emit_c(m, &b[AIMC_REGS_GEN_HEADER]);
    emit_sv(m, &b[AIMC_REGS_GEN_SV]);
    emit_md(m, &b[AIMC_REGS_GEN_DOC]);
    for (int i = 0; i < AIMC_REGS_GEN_COUNT; i++)
        if (b[i].oom || !b[i].s) rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    if (rc) goto out;
    for (int i = 0; i < AIMC_REGS_GEN_COUNT; i++) {
        out[i] = b[i].s;
        b[i].s = NULL;
    }
out:
    for (int i = 0; i < AIMC_REGS_GEN_COUNT; i++) free(b[i].s);
    if (m)
        for (size_t i = 0; i < m->n_names; i++) free(m->names[i]);
    free(m);
    aimc_ydoc_free(doc);
    return rc;
}
