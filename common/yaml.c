/* yaml.c - a YAML document tree with 1-based source positions, built on libyaml's event API.
 *
 * The tree (aimc_yaml.h) keeps every scalar as text and whether it was quoted, so the typed
 * getters can tell the integer 8 from the string "8". What libyaml accepts but aimc does not
 * (anchors, aliases, tags, duplicate keys, non-scalar keys, more than one document, nesting
 * deeper than AIMC_YAML_MAX_DEPTH) is refused while the tree is built, with the position of
 * the offending token.
 *
 * Message prefixes: "name:line:col: " when the node has a position (line > 0), "name: " when
 * it has none (a node made up by the caller with line 0, as config.c does for --set), and
 * nothing when the document has no name either.
 */
#include "aimc_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#define AIMC_YAML_MAX_DEPTH 64   /* deeper nesting is refused (no input may exhaust the stack) */
#define AIMC_YAML_QUOTE_MAX 60   /* offending scalars longer than this are cut in messages */

/* ---- messages ------------------------------------------------------------------------ */

static int diag_vat(aimc_diag *d, int rc, const aimc_ydoc *doc, int line, int col,
                    const char *fmt, va_list ap)
{
    char body[900];
    vsnprintf(body, sizeof body, fmt, ap);
    const char *name = doc && doc->name ? doc->name : "";
    if (name[0] && line > 0) return aimc_diag_set(d, rc, "%s:%d:%d: %s", name, line, col, body);
    if (name[0]) return aimc_diag_set(d, rc, "%s: %s", name, body);
    return aimc_diag_set(d, rc, "%s", body);
}

static int diag_at(aimc_diag *d, int rc, const aimc_ydoc *doc, int line, int col,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int diag_at(aimc_diag *d, int rc, const aimc_ydoc *doc, int line, int col,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = diag_vat(d, rc, doc, line, col, fmt, ap);
    va_end(ap);
    return r;
}

/* The scalar as the user wrote it, for "got ..." (control characters shown as '?', long
 * text cut with "..."). */
static void scalar_show(const char *s, char *buf, size_t cap)
{
    size_t n = 0, len = strlen(s);
    for (size_t i = 0; i < len && i < AIMC_YAML_QUOTE_MAX && n + 1 < cap; i++)
        buf[n++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    buf[n] = '\0';
    if (len > AIMC_YAML_QUOTE_MAX && n + 4 < cap) strcat(buf, "...");
}

/* What a node that is not of the expected type is: 'a mapping', '"eight"', ... */
static void node_show(const aimc_ynode *n, char *buf, size_t cap)
{
    if (n->kind == AIMC_YNODE_MAP) {
        snprintf(buf, cap, "a mapping");
    } else if (n->kind == AIMC_YNODE_SEQ) {
        snprintf(buf, cap, "a sequence");
    } else if (!n->quoted && n->scalar[0] == '\0') {
        snprintf(buf, cap, "an empty value");
    } else {
        char s[AIMC_YAML_QUOTE_MAX + 8];
        scalar_show(n->scalar, s, sizeof s);
        snprintf(buf, cap, "\"%s\"%s", s, n->quoted ? " (quoted, so a string)" : "");
    }
}

static void join_path(char *buf, size_t cap, const char *prefix, const char *key)
{
    if (prefix && prefix[0])
        snprintf(buf, cap, "%s.%s", prefix, key);
    else
        snprintf(buf, cap, "%s", key);
}

/* ---- the tree -------------------------------------------------------------------------- */

static void node_free(aimc_ynode *n)
{
    if (!n) return;
    free(n->scalar);
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) free(n->keys[i]);
        node_free(n->items[i]);
    }
    free(n->keys);
    free(n->key_line);
    free(n->key_col);
    free(n->items);
    free(n);
}

void aimc_ydoc_free(aimc_ydoc *doc)
{
    if (!doc) return;
    node_free(doc->root);
    free(doc->name);
    free(doc);
}

typedef struct {
    yaml_parser_t parser;
    aimc_ydoc *doc;
    aimc_diag *d;
    int depth;
} ybuild;

static int syntax_error(ybuild *b)
{
    const yaml_parser_t *p = &b->parser;
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return diag_at(b->d, AIMC_ERR_NOMEM, b->doc, 0, 0, "out of memory while parsing");
    if (p->error == YAML_READER_ERROR)
        return diag_at(b->d, AIMC_ERR_PARSE, b->doc, 0, 0, "byte %zu: %s", p->problem_offset,
                       problem);
    return diag_at(b->d, AIMC_ERR_PARSE, b->doc, (int)p->problem_mark.line + 1,
                   (int)p->problem_mark.column + 1, "%s", problem);
}

static int next_event(ybuild *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev)) return syntax_error(b);
    return AIMC_OK;
}

static int mark_line(const yaml_event_t *ev) { return (int)ev->start_mark.line + 1; }
static int mark_col(const yaml_event_t *ev) { return (int)ev->start_mark.column + 1; }

/* Refuse anchors and tags on a node event; path names the node ("" at the root). */
static int check_plain(ybuild *b, const yaml_event_t *ev, const char *path)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    }
    const char *sep = path[0] ? ": " : "";
    if (anchor)
        return diag_at(b->d, AIMC_ERR_PARSE, b->doc, mark_line(ev), mark_col(ev),
                       "%s%sanchors (&%s) are not supported", path, sep, (const char *)anchor);
    if (tag) {
        /* Show the standard tags as written: "!!int", not "tag:yaml.org,2002:int". */
        static const char std_prefix[] = "tag:yaml.org,2002:";
        const char *t = (const char *)tag;
        int std = strncmp(t, std_prefix, sizeof std_prefix - 1) == 0;
        return diag_at(b->d, AIMC_ERR_PARSE, b->doc, mark_line(ev), mark_col(ev),
                       "%s%stags (%s%s) are not supported", path, sep, std ? "!!" : "",
                       std ? t + sizeof std_prefix - 1 : t);
    }
    return AIMC_OK;
}

static int parse_node(ybuild *b, yaml_event_t *ev, const char *path, aimc_ynode **out);

/* Grow the arrays of a container node to hold at least want entries. */
static int node_reserve(aimc_ynode *n, size_t *cap, size_t want, int is_map)
{
    if (want <= *cap) return AIMC_OK;
    size_t nc = *cap ? *cap * 2 : 8;
    aimc_ynode **items = realloc(n->items, nc * sizeof *items);
    if (!items) return AIMC_ERR_NOMEM;
    n->items = items;
    if (is_map) {
        char **keys = realloc(n->keys, nc * sizeof *keys);
        if (!keys) return AIMC_ERR_NOMEM;
        n->keys = keys;
        int *kl = realloc(n->key_line, nc * sizeof *kl);
        if (!kl) return AIMC_ERR_NOMEM;
        n->key_line = kl;
        int *kc = realloc(n->key_col, nc * sizeof *kc);
        if (!kc) return AIMC_ERR_NOMEM;
        n->key_col = kc;
    }
    *cap = nc;
    return AIMC_OK;
}

static int parse_seq(ybuild *b, aimc_ynode *n, const char *path)
{
    size_t cap = 0;
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(b, &ev);
        if (rc) return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return AIMC_OK;
        }
        rc = node_reserve(n, &cap, n->n + 1, 0);
        if (rc) {
            yaml_event_delete(&ev);
            return diag_at(b->d, rc, b->doc, 0, 0, "out of memory");
        }
        char sub[512];
        snprintf(sub, sizeof sub, "%s[%zu]", path, n->n);
        aimc_ynode *child = NULL;
        rc = parse_node(b, &ev, sub, &child);
        if (rc) return rc;
        n->items[n->n++] = child;
    }
}

static int parse_map(ybuild *b, aimc_ynode *n, const char *path)
{
    size_t cap = 0;
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(b, &ev);
        if (rc) return rc;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return AIMC_OK;
        }
        int line = mark_line(&ev), col = mark_col(&ev);
        if (ev.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&ev);
            return diag_at(b->d, AIMC_ERR_PARSE, b->doc, line, col,
                           "%s%skeys must be plain scalars", path, path[0] ? ": " : "");
        }
        rc = check_plain(b, &ev, path);
        if (rc) {
            yaml_event_delete(&ev);
            return rc;
        }
        char *key = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
        yaml_event_delete(&ev);
        if (!key) return diag_at(b->d, AIMC_ERR_NOMEM, b->doc, 0, 0, "out of memory");
        char sub[512];
        join_path(sub, sizeof sub, path, key);
        for (size_t i = 0; i < n->n; i++) {
            if (strcmp(n->keys[i], key) == 0) {
                free(key);
                return diag_at(b->d, AIMC_ERR_PARSE, b->doc, line, col,
                               "%s: duplicate key (first at line %d, column %d)", sub,
                               n->key_line[i], n->key_col[i]);
            }
        }
        rc = node_reserve(n, &cap, n->n + 1, 1);
        if (rc) {
            free(key);
            return diag_at(b->d, rc, b->doc, 0, 0, "out of memory");
        }
        rc = next_event(b, &ev);
        if (rc) {
            free(key);
            return rc;
        }
        aimc_ynode *child = NULL;
        rc = parse_node(b, &ev, sub, &child);
        if (rc) {
            free(key);
            return rc;
        }
        n->keys[n->n] = key;
        n->key_line[n->n] = line;
        n->key_col[n->n] = col;
        n->items[n->n++] = child;
    }
}

/* Build the node that starts with event ev (which this function deletes). */
static int parse_node(ybuild *b, yaml_event_t *ev, const char *path, aimc_ynode **out)
{
    int rc = AIMC_OK;
    aimc_ynode *n = NULL;
    int line = mark_line(ev), col = mark_col(ev);
    const char *sep = path[0] ? ": " : "";

    if (ev->type == YAML_ALIAS_EVENT) {
        rc = diag_at(b->d, AIMC_ERR_PARSE, b->doc, line, col,
                     "%s%saliases (*%s) are not supported", path, sep,
                     (const char *)ev->data.alias.anchor);
        goto out_event;
    }
    if (ev->type != YAML_SCALAR_EVENT && ev->type != YAML_SEQUENCE_START_EVENT &&
        ev->type != YAML_MAPPING_START_EVENT) {
        rc = diag_at(b->d, AIMC_ERR_PARSE, b->doc, line, col, "%s%sunexpected YAML event",
                     path, sep);
        goto out_event;
    }
    rc = check_plain(b, ev, path);
    if (rc) goto out_event;

    n = calloc(1, sizeof *n);
    if (!n) {
        rc = diag_at(b->d, AIMC_ERR_NOMEM, b->doc, 0, 0, "out of memory");
        goto out_event;
    }
    n->line = line;
    n->col = col;

    if (ev->type == YAML_SCALAR_EVENT) {
        n->kind = AIMC_YNODE_SCALAR;
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        n->scalar = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (!n->scalar) rc = diag_at(b->d, AIMC_ERR_NOMEM, b->doc, 0, 0, "out of memory");
        goto out_event;
    }

    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    n->kind = is_map ? AIMC_YNODE_MAP : AIMC_YNODE_SEQ;
    yaml_event_delete(ev);
    if (++b->depth > AIMC_YAML_MAX_DEPTH) {
        rc = diag_at(b->d, AIMC_ERR_PARSE, b->doc, line, col,
                     "%s%snesting deeper than %d levels", path, sep, AIMC_YAML_MAX_DEPTH);
        goto out_node;
    }
    rc = is_map ? parse_map(b, n, path) : parse_seq(b, n, path);
    b->depth--;
    if (rc) goto out_node;
    *out = n;
    return AIMC_OK;

out_event:
    yaml_event_delete(ev);
    if (rc == AIMC_OK) {
        *out = n;
        return AIMC_OK;
    }
out_node:
    node_free(n);
    return rc;
}

/* The stream: at most one document. */
static int parse_stream(ybuild *b)
{
    yaml_event_t ev;
    int rc = next_event(b, &ev); /* STREAM-START */
    if (rc) return rc;
    yaml_event_delete(&ev);
    rc = next_event(b, &ev);
    if (rc) return rc;
    if (ev.type == YAML_STREAM_END_EVENT) { /* nothing but comments or blanks */
        yaml_event_delete(&ev);
        return AIMC_OK;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    rc = next_event(b, &ev);
    if (rc) return rc;
    rc = parse_node(b, &ev, "", &b->doc->root);
    if (rc) return rc;
    rc = next_event(b, &ev); /* DOCUMENT-END */
    if (rc) return rc;
    yaml_event_delete(&ev);
    rc = next_event(b, &ev);
    if (rc) return rc;
    if (ev.type != YAML_STREAM_END_EVENT) {
        int line = mark_line(&ev), col = mark_col(&ev);
        yaml_event_delete(&ev);
        return diag_at(b->d, AIMC_ERR_PARSE, b->doc, line, col,
                       "only one YAML document is allowed per file");
    }
    yaml_event_delete(&ev);
    return AIMC_OK;
}

int aimc_ydoc_load_string(const char *text, size_t len, const char *name, aimc_ydoc **out,
                          aimc_diag *d)
{
    int rc;
    ybuild b;
    memset(&b, 0, sizeof b);
    *out = NULL;
    b.d = d;
    b.doc = calloc(1, sizeof *b.doc);
    if (!b.doc) return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    b.doc->name = strdup(name ? name : "<string>");
    if (!b.doc->name) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
        goto out_doc;
    }
    if (!yaml_parser_initialize(&b.parser)) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
        goto out_doc;
    }
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    rc = parse_stream(&b);
    yaml_parser_delete(&b.parser);
    if (rc) goto out_doc;
    *out = b.doc;
    return AIMC_OK;

out_doc:
    aimc_ydoc_free(b.doc);
    return rc;
}

int aimc_ydoc_load_file(const char *path, aimc_ydoc **out, aimc_diag *d)
{
    int rc;
    char *text = NULL;
    size_t len = 0, cap = 0;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: is a directory, not a file", path);
    }
    for (;;) {
        if (cap - len < 4096) {
            size_t nc = cap ? cap * 2 : 65536;
            char *t = realloc(text, nc);
            if (!t) {
                rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
                goto out_file;
            }
            text = t;
            cap = nc;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
        if (len > AIMC_YAML_MAX_FILE) { /* e.g. /dev/zero: refuse, do not read forever */
            rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: larger than %d MiB", path,
                               AIMC_YAML_MAX_FILE >> 20);
            goto out_file;
        }
    }
    if (ferror(f)) {
        rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: read error: %s", path, strerror(errno));
        goto out_file;
    }
    rc = aimc_ydoc_load_string(text, len, path, out, d);
out_file:
    free(text);
    fclose(f);
    return rc;
}

/* ---- lookups and typed getters --------------------------------------------------------- */

const aimc_ynode *aimc_ymap_get(const aimc_ynode *map, const char *key)
{
    if (!map || map->kind != AIMC_YNODE_MAP || !key) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) return map->items[i];
    return NULL;
}

size_t aimc_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = malloc((lb + 1) * sizeof *row);
    if (!row) return la > lb ? la : lb; /* an upper bound: no suggestion will be made */
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0]; /* row[i-1][j-1] */
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j]; /* row[i-1][j] */
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t r = row[lb];
    free(row);
    return r;
}

int aimc_ymap_check_keys(const aimc_ydoc *doc, const aimc_ynode *map, const char *prefix,
                         const char *const *known, size_t n_known, aimc_diag *d)
{
    if (!map || map->kind != AIMC_YNODE_MAP) return AIMC_OK;
    for (size_t i = 0; i < map->n; i++) {
        const char *key = map->keys[i];
        int known_key = 0;
        for (size_t k = 0; k < n_known && !known_key; k++) known_key = !strcmp(key, known[k]);
        if (known_key) continue;
        char full[512], sugg[512];
        join_path(full, sizeof full, prefix, key);
        long near = aimc_suggest(key, known, n_known);
        if (near >= 0) {
            join_path(sugg, sizeof sugg, prefix, known[near]);
            return diag_at(d, AIMC_ERR_CONFIG, doc, map->key_line[i], map->key_col[i],
                           "%s: unknown key; did you mean %s?", full, sugg);
        }
        char list[400] = "";
        size_t used = 0;
        for (size_t k = 0; k < n_known && used < sizeof list; k++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "",
                                     known[k]);
        return diag_at(d, AIMC_ERR_CONFIG, doc, map->key_line[i], map->key_col[i],
                       "%s: unknown key; known keys here: %s", full, list);
    }
    return AIMC_OK;
}

static int missing(const aimc_ydoc *doc, const char *path, aimc_diag *d)
{
    return diag_at(d, AIMC_ERR_CONFIG, doc, 0, 0, "missing required key %s", path);
}

int aimc_ynode_expect_map(const aimc_ydoc *doc, const aimc_ynode *n, const char *path,
                          aimc_diag *d)
{
    if (!n) return missing(doc, path, d);
    if (n->kind == AIMC_YNODE_MAP) return AIMC_OK;
    char got[128];
    if (n->kind == AIMC_YNODE_SCALAR && !(!n->quoted && n->scalar[0] == '\0'))
        snprintf(got, sizeof got, "a scalar");
    else
        node_show(n, got, sizeof got);
    return diag_at(d, AIMC_ERR_CONFIG, doc, n->line, n->col, "%s%sexpected a mapping, got %s",
                   path, path[0] ? ": " : "", got);
}

int aimc_parse_long(const char *s, long *out)
{
    const char *p = s;
    if (!s) return AIMC_ERR_CONFIG;
    if (*p == '+' || *p == '-') p++;
    if (*p == '\0') return AIMC_ERR_CONFIG;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return AIMC_ERR_CONFIG;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end) return AIMC_ERR_CONFIG;
    *out = v;
    return AIMC_OK;
}

/* YAML 1.2 core-schema float syntax: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?;
 * so no NaN, no infinities, no hexadecimal. */
int aimc_parse_double(const char *s, double *out)
{
    const char *p = s;
    if (!s) return AIMC_ERR_CONFIG;
    if (*p == '+' || *p == '-') p++;
    size_t int_digits = 0, frac_digits = 0;
    while (*p >= '0' && *p <= '9') {
        p++;
        int_digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            frac_digits++;
        }
    }
    if (int_digits == 0 && frac_digits == 0) return AIMC_ERR_CONFIG;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (*p < '0' || *p > '9') return AIMC_ERR_CONFIG;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p) return AIMC_ERR_CONFIG;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return AIMC_ERR_CONFIG;
    *out = v;
    return AIMC_OK;
}

int aimc_ynode_int(const aimc_ydoc *doc, const aimc_ynode *n, const char *path, long lo,
                   long hi, long *out, aimc_diag *d)
{
    long v;
    char got[160];
    if (!n) return missing(doc, path, d);
    if (n->kind != AIMC_YNODE_SCALAR || n->quoted || aimc_parse_long(n->scalar, &v)) {
        node_show(n, got, sizeof got);
        return diag_at(d, AIMC_ERR_CONFIG, doc, n->line, n->col,
                       "%s: expected an integer in %ld..%ld, got %s", path, lo, hi, got);
    }
    if (v < lo || v > hi) {
        scalar_show(n->scalar, got, sizeof got);
        return diag_at(d, AIMC_ERR_CONFIG, doc, n->line, n->col,
                       "%s: expected an integer in %ld..%ld, got %s", path, lo, hi, got);
    }
    *out = v;
    return AIMC_OK;
}

int aimc_ynode_double(const aimc_ydoc *doc, const aimc_ynode *n, const char *path, double lo,
                      double hi, double *out, aimc_diag *d)
{
    double v;
    char got[160];
    if (!n) return missing(doc, path, d);
    if (n->kind != AIMC_YNODE_SCALAR || n->quoted || aimc_parse_double(n->scalar, &v)) {
        node_show(n, got, sizeof got);
        return diag_at(d, AIMC_ERR_CONFIG, doc, n->line, n->col,
                       "%s: expected a number in %g..%g, got %s", path, lo, hi, got);
    }
    if (!(v >= lo && v <= hi)) {
        scalar_show(n->scalar, got, sizeof got);
        return diag_at(d, AIMC_ERR_CONFIG, doc, n->line, n->col,
                       "%s: expected a number in %g..%g, got %s", path, lo, hi, got);
    }
    *out = v;
    return AIMC_OK;
}

int aimc_ynode_enum(const aimc_ydoc *doc, const aimc_ynode *n, const char *path,
                    const char *const *names, int n_names, int *out, aimc_diag *d)
{
    char got[160], list[400] = "";
    if (!n) return missing(doc, path, d);
    if (n->kind == AIMC_YNODE_SCALAR) {
        for (int i = 0; i < n_names; i++) {
            if (strcmp(n->scalar, names[i]) == 0) {
                *out = i;
                return AIMC_OK;
            }
        }
    }
    size_t used = 0;
    for (int i = 0; i < n_names && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                 names[i]);
    if (n->kind == AIMC_YNODE_SCALAR) {
        char s[AIMC_YAML_QUOTE_MAX + 8];
        scalar_show(n->scalar, s, sizeof s);
        snprintf(got, sizeof got, "\"%s\"", s);
    } else {
        node_show(n, got, sizeof got);
    }
    return diag_at(d, AIMC_ERR_CONFIG, doc, n->line, n->col, "%s: expected one of %s, got %s",
                   path, list, got);
}

int aimc_ynode_str(const aimc_ydoc *doc, const aimc_ynode *n, const char *path, char *buf,
                   size_t cap, aimc_diag *d)
{
    char got[160];
    if (!n) return missing(doc, path, d);
    if (n->kind != AIMC_YNODE_SCALAR) {
        node_show(n, got, sizeof got);
        return diag_at(d, AIMC_ERR_CONFIG, doc, n->line, n->col, "%s: expected a string, got %s",
                       path, got);
    }
    size_t len = strlen(n->scalar);
    if (cap == 0 || len >= cap)
        return diag_at(d, AIMC_ERR_CONFIG, doc, n->line, n->col,
                       "%s: expected a string of at most %zu characters, got %zu", path,
                       cap ? cap - 1 : 0, len);
    memcpy(buf, n->scalar, len + 1);
    return AIMC_OK;
}

long aimc_suggest(const char *word, const char *const *known, size_t n)
{
    size_t best = (size_t)-1, best_k = 0;
    for (size_t k = 0; k < n; k++) {
        size_t dist = aimc_edit_distance(word, known[k]);
        if (dist < best) {
            best = dist;
            best_k = k;
        }
    }
    size_t limit = strlen(word) / 3;
    if (limit < 2) limit = 2;
    return (n > 0 && best > 0 && best <= limit) ? (long)best_k : -1;
}
