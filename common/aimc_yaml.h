/* aimc_yaml.h - a small YAML document tree with source positions, built on libyaml's
 * event API, and typed getters whose errors name file:line:col, the key and the rule.
 *
 * Every aimc input in YAML (machine configs, model files, sweep specs, the register map)
 * is read through this module, so every such file reports errors the same way:
 *
 *     configs/x.yaml:12:9: adc.bits: expected an integer in 1..16, got "eight"
 *
 * Lines and columns are 1-based (libyaml's marks are 0-based; this module adds 1).
 * Anchors, aliases and tags are rejected with a positioned error; duplicate keys too.
 */
#ifndef AIMC_YAML_H
#define AIMC_YAML_H

#include <stddef.h>

#include "aimc_status.h"

typedef enum { AIMC_YNODE_SCALAR, AIMC_YNODE_MAP, AIMC_YNODE_SEQ } aimc_ynode_kind;

typedef struct aimc_ynode aimc_ynode;
struct aimc_ynode {
    aimc_ynode_kind kind;
    int line, col;          /* where the node starts, 1-based */
    char *scalar;           /* SCALAR: its text, NUL-terminated */
    int quoted;             /* SCALAR: written in quotes (so "8" is a string, not a number) */
    size_t n;               /* MAP: number of pairs; SEQ: number of items */
    char **keys;            /* MAP: keys[i] */
    int *key_line, *key_col;/* MAP: where keys[i] stands, 1-based */
    aimc_ynode **items;     /* MAP: values; SEQ: items */
};

typedef struct aimc_ydoc {
    char *name;        /* file name as given, used in messages */
    aimc_ynode *root;  /* NULL for an empty document */
} aimc_ydoc;

/* Files longer than this are refused (AIMC_ERR_IO "FILE: larger than 64 MiB"): configs,
 * models and specs are a few kilobytes, and /dev/zero would otherwise be read forever. */
#define AIMC_YAML_MAX_FILE (64 << 20)

/* Parse a whole file or string into a tree. On a syntax error returns AIMC_ERR_PARSE with
 * "file:line:col: <libyaml's problem>" in d; on an unreadable file AIMC_ERR_IO ("is a
 * directory, not a file", "larger than 64 MiB", ...). The caller frees *out with
 * aimc_ydoc_free(). */
int aimc_ydoc_load_file(const char *path, aimc_ydoc **out, aimc_diag *d);
int aimc_ydoc_load_string(const char *text, size_t len, const char *name, aimc_ydoc **out,
                          aimc_diag *d);
void aimc_ydoc_free(aimc_ydoc *doc); /* NULL is a no-op */

/* The value of key in a MAP node, or NULL when absent (or when map is not a MAP). */
const aimc_ynode *aimc_ymap_get(const aimc_ynode *map, const char *key);

/* Reject keys of map that are not in known[0..n_known-1]:
 *   "file:L:C: adc.bitz: unknown key; did you mean adc.bits?"
 * prefix is the path of map ("adc"; "" at the top). The suggestion is the known key at the
 * smallest edit distance, offered when that distance is at most max(2, len/3). */
int aimc_ymap_check_keys(const aimc_ydoc *doc, const aimc_ynode *map, const char *prefix,
                         const char *const *known, size_t n_known, aimc_diag *d);

/* Expect map to be a MAP: "file:L:C: adc: expected a mapping, got a scalar". */
int aimc_ynode_expect_map(const aimc_ydoc *doc, const aimc_ynode *n, const char *path,
                          aimc_diag *d);

/* Typed scalars with range checks; path is the dotted key for the message:
 *   "file:L:C: adc.bits: expected an integer in 1..16, got \"eight\""
 *   "file:L:C: device.g_max_us: expected a number in 0.001..1e+06, got 1e9" */
int aimc_ynode_int(const aimc_ydoc *doc, const aimc_ynode *n, const char *path, long lo,
                   long hi, long *out, aimc_diag *d);
int aimc_ynode_double(const aimc_ydoc *doc, const aimc_ynode *n, const char *path, double lo,
                      double hi, double *out, aimc_diag *d);
/* One of names[0..n_names-1]; *out is its index:
 *   "file:L:C: dac.mode: expected one of bit_serial, multi_bit, got \"serial\"" */
int aimc_ynode_enum(const aimc_ydoc *doc, const aimc_ynode *n, const char *path,
                    const char *const *names, int n_names, int *out, aimc_diag *d);
/* Any scalar, copied into buf (cap bytes, NUL-terminated); too long is an error. */
int aimc_ynode_str(const aimc_ydoc *doc, const aimc_ynode *n, const char *path, char *buf,
                   size_t cap, aimc_diag *d);

/* Parse a scalar's text the way the typed getters do (no position needed); for --set.
 * Return AIMC_OK or AIMC_ERR_CONFIG without a message. */
int aimc_parse_long(const char *s, long *out);
int aimc_parse_double(const char *s, double *out);

/* The index of the entry of known[0..n-1] to suggest for a misspelt word: the nearest by
 * edit distance, when that distance is 1..max(2, strlen(word)/3); else -1. */
long aimc_suggest(const char *word, const char *const *known, size_t n);

/* Levenshtein distance, for "did you mean" suggestions. */
size_t aimc_edit_distance(const char *a, const char *b);

#endif /* AIMC_YAML_H */
