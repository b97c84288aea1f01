/* A YAML document as a small tree that remembers where each node came from, so every
 * validation error can name FILE:LINE:COL and the key path.  Built with libyaml by
 * lq_node_parse_file(); --set overrides are grafted in with lq_node_set_path(). */
#ifndef LQ_CONFIG_NODE_H
#define LQ_CONFIG_NODE_H

#include <stddef.h>

#include "core/diag.h"

typedef enum lq_node_type { LQ_NODE_SCALAR, LQ_NODE_MAP, LQ_NODE_SEQ } lq_node_type;

/* Where a map key was written (1-based; line 0 for a key grafted by --set). */
typedef struct lq_node_mark {
    size_t line, col;
} lq_node_mark;

typedef struct lq_node {
    lq_node_type type;
    const char *file;     /* shared, owned by the root: the file name, or "--set" */
    size_t line, col;     /* 1-based */
    char *path;           /* key path from the root, e.g. "finish.limiter.release_ms" or
                             "master[0].eq.bands[2].freq_hz" */
    char *value;          /* scalar text (LQ_NODE_SCALAR) */
    int plain;            /* scalar was unquoted (so "null", "true", numbers are typed) */
    size_t count;         /* children of a map or sequence */
    char **keys;          /* map keys, count of them */
    struct lq_node **items;
    lq_node_mark *key_marks;  /* map only: where each key was written (may be NULL) */
    char *file_owned;         /* non-NULL on the node that owns `file` (root, grafts) */
} lq_node;

/* Parse a YAML file.  Errors: LQ_ERR_PRESET with "FILE:LINE:COL: syntax error: ...",
 * LQ_ERR_PRESET_NOT_FOUND when the file cannot be opened. */
lq_error lq_node_parse_file(lq_node **out, const char *path, lq_diag *d);
lq_error lq_node_parse_string(lq_node **out, const char *text, const char *name, lq_diag *d);
void lq_node_free(lq_node *n);

/* Child of a map by key, or NULL (also NULL when map is not a map). */
const lq_node *lq_node_get(const lq_node *map, const char *key);

/* 1 when n is a plain scalar meaning null: empty, "~", "null", "Null" or "NULL". */
int lq_node_is_null(const lq_node *n);

/* Set "a.b.c" (or "a[0].b") = value in a map tree.  The value is parsed as one YAML
 * document ("-16", "null", "[mp3, opus]", "{release_ms: 50}") and replaces the scalar or
 * subtree at the key; missing maps on the way are created, a null placeholder becomes a
 * map, "[N]" must index an existing sequence item.  The new nodes have file `origin`
 * (e.g. "--set") and line 0, so their errors read "--set: PATH: ...".  Errors in the key
 * or value: LQ_ERR_PRESET with "ORIGIN KEY=VALUE: PROBLEM (expected ...)". */
lq_error lq_node_set_path(lq_node *root, const char *dotted_key, const char *value,
                          const char *origin, lq_diag *d);
/* Replace map[key] (when present) by a new map {inner: old value}, key paths updated
 * ("master[0]" becomes "master.stages[0]"); LQ_ERR_NOMEM is the only error. */
lq_error lq_node_wrap(lq_node *map, const char *key, const char *inner, lq_diag *d);

/* ---- Strict schema helpers.  Each error is LQ_ERR_PRESET with the line
 * "FILE:LINE:COL: PATH: PROBLEM (expected EXPECTED)". ---- */

/* Report an error at node n: "FILE:LINE:COL: PATH: " followed by fmt.  The "PATH: "
 * part is left out for the document root (empty path); for a node grafted by --set
 * (line 0) the location is just "--set: ". */
lq_error lq_cfg_error(lq_diag *d, const lq_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, located at the i-th key of map n (the path stays the map's). */
lq_error lq_cfg_error_at_key(lq_diag *d, const lq_node *map, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "PATH.KEY: missing required key (expected EXPECTED)", located at the map. */
lq_error lq_cfg_missing(lq_diag *d, const lq_node *map, const char *key,
                        const char *expected);
/* Short description of a node for messages: the scalar as written ("5000", "\"loud\"",
 * "null") or "a map" / "a sequence".  Writes into buf. */
const char *lq_cfg_describe(const lq_node *n, char *buf, size_t len);
/* Parse a plain scalar as a finite number (strtod, no trailing junk); 0 on failure. */
int lq_cfg_scalar_number(const lq_node *n, double *out);

/* n must be a map whose keys are all in allowed (NULL-terminated); unknown keys and
 * duplicates are errors.  `what` names the map for the message ("eq band"). */
lq_error lq_cfg_expect_map(const lq_node *n, const char *const *allowed, const char *what,
                           lq_diag *d);
lq_error lq_cfg_expect_seq(const lq_node *n, size_t min, size_t max, const char *what,
                           lq_diag *d);

/* Typed getters: if key is absent, *out is left unchanged (the caller set the default)
 * and LQ_OK is returned.  `unit` is used in messages ("milliseconds", "Hz", "dB"). */
lq_error lq_cfg_number(const lq_node *map, const char *key, double min, double max,
                       const char *unit, double *out, lq_diag *d);
/* Like lq_cfg_number but also accepts null (sets *is_null = 1). */
lq_error lq_cfg_number_or_null(const lq_node *map, const char *key, double min, double max,
                               const char *unit, double *out, int *is_null, lq_diag *d);
lq_error lq_cfg_int(const lq_node *map, const char *key, long min, long max,
                    long *out, lq_diag *d);
/* One of names (NULL-terminated); *out is the index. */
lq_error lq_cfg_enum(const lq_node *map, const char *key, const char *const *names,
                     int *out, lq_diag *d);
lq_error lq_cfg_bool(const lq_node *map, const char *key, int *out, lq_diag *d);
/* A string (scalar); *out is malloc'd (free the old value yourself). */
lq_error lq_cfg_string(const lq_node *map, const char *key, size_t max_len, char **out,
                       lq_diag *d);
/* A scalar node as a number, with range check (for sequence items). */
lq_error lq_cfg_node_number(const lq_node *n, double min, double max, const char *unit,
                            double *out, lq_diag *d);

#endif
