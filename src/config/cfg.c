/* Strict schema helpers for configs parsed into lq_node trees.  Every error is one line
 * "FILE:LINE:COL: PATH: PROBLEM (expected EXPECTATION)" (see docs/PRESETS.md). */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/node.h"

/* Location prefix of a node: "FILE:LINE:COL: " or "FILE: " for a --set graft. */
static int location(char *buf, size_t len, const char *file, size_t line, size_t col)
{
    const char *f = file ? file : "(unknown)";
    if (line == 0) return snprintf(buf, len, "%s: ", f);
    return snprintf(buf, len, "%s:%zu:%zu: ", f, line, col);
}

static lq_error verror(lq_diag *d, const char *file, size_t line, size_t col,
                       const char *path, const char *fmt, va_list ap)
{
    if (!d) return LQ_ERR_PRESET;
    int k = location(d->msg, sizeof d->msg, file, line, col);
    if (k < 0 || (size_t)k >= sizeof d->msg) return LQ_ERR_PRESET;
    size_t off = (size_t)k;
    if (path && path[0]) {
        k = snprintf(d->msg + off, sizeof d->msg - off, "%s: ", path);
        if (k < 0 || (size_t)k >= sizeof d->msg - off) return LQ_ERR_PRESET;
        off += (size_t)k;
    }
    vsnprintf(d->msg + off, sizeof d->msg - off, fmt, ap);
    return LQ_ERR_PRESET;
}

lq_error lq_cfg_error(lq_diag *d, const lq_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lq_error e = verror(d, n ? n->file : NULL, n ? n->line : 0, n ? n->col : 0,
                        n ? n->path : "", fmt, ap);
    va_end(ap);
    return e;
}

lq_error lq_cfg_error_at_key(lq_diag *d, const lq_node *map, size_t i, const char *fmt, ...)
{
    const char *file = map->file;
    size_t line = map->line, col = map->col;
    if (i < map->count) {
        /* A key grafted by --set lives in the child's file ("--set"), line 0. */
        file = map->items[i]->file;
        if (map->key_marks) {
            line = map->key_marks[i].line;
            col = map->key_marks[i].col;
        } else {
            line = map->items[i]->line;
            col = map->items[i]->col;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    lq_error e = verror(d, file, line, col, map->path, fmt, ap);
    va_end(ap);
    return e;
}

lq_error lq_cfg_missing(lq_diag *d, const lq_node *map, const char *key,
                        const char *expected)
{
    char path[512];
    if (map->path[0])
        snprintf(path, sizeof path, "%s.%s", map->path, key);
    else
        snprintf(path, sizeof path, "%s", key);
    char prefix[600];
    location(prefix, sizeof prefix, map->file, map->line, map->col);
    return lq_diag_set(d, LQ_ERR_PRESET, "%s%s: missing required key (expected %s)", prefix,
                       path, expected);
}

const char *lq_cfg_describe(const lq_node *n, char *buf, size_t len)
{
    if (!n) {
        snprintf(buf, len, "nothing");
    } else if (n->type == LQ_NODE_MAP) {
        snprintf(buf, len, "a map");
    } else if (n->type == LQ_NODE_SEQ) {
        snprintf(buf, len, "a sequence");
    } else if (n->plain && n->value[0] == '\0') {
        snprintf(buf, len, "an empty value");
    } else {
        size_t l = strlen(n->value);
        int cut = l > 60;
        snprintf(buf, len, "%s%.60s%s%s", n->plain ? "" : "\"", n->value, cut ? "..." : "",
                 n->plain ? "" : "\"");
    }
    return buf;
}

int lq_cfg_scalar_number(const lq_node *n, double *out)
{
    if (!n || n->type != LQ_NODE_SCALAR || !n->plain || n->value[0] == '\0') return 0;
    for (const char *p = n->value; *p; p++)
        if (!strchr("0123456789+-.eE", *p)) return 0;
    char *end = NULL;
    double v = strtod(n->value, &end);
    if (!end || *end != '\0' || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static void range_text(char *buf, size_t len, const char *unit, double min, double max)
{
    if (unit && unit[0])
        snprintf(buf, len, "%s from %.10g to %.10g", unit, min, max);
    else
        snprintf(buf, len, "a number from %.10g to %.10g", min, max);
}

static lq_error number_check(const lq_node *n, double min, double max, const char *unit,
                             int allow_null, double *out, int *is_null, lq_diag *d)
{
    char what[128], expect[160];
    range_text(expect, sizeof expect, unit, min, max);
    if (allow_null && lq_node_is_null(n)) {
        *is_null = 1;
        return LQ_OK;
    }
    double v;
    if (!lq_cfg_scalar_number(n, &v))
        return lq_cfg_error(d, n, "%s is not a number (expected %s%s)",
                            lq_cfg_describe(n, what, sizeof what), expect,
                            allow_null ? ", or null" : "");
    if (!(v >= min && v <= max))
        return lq_cfg_error(d, n, "%s is out of range (expected %s%s)", n->value, expect,
                            allow_null ? ", or null" : "");
    *out = v;
    if (is_null) *is_null = 0;
    return LQ_OK;
}

lq_error lq_cfg_node_number(const lq_node *n, double min, double max, const char *unit,
                            double *out, lq_diag *d)
{
    return number_check(n, min, max, unit, 0, out, NULL, d);
}

lq_error lq_cfg_number(const lq_node *map, const char *key, double min, double max,
                       const char *unit, double *out, lq_diag *d)
{
    const lq_node *n = lq_node_get(map, key);
    if (!n) return LQ_OK;
    return number_check(n, min, max, unit, 0, out, NULL, d);
}

lq_error lq_cfg_number_or_null(const lq_node *map, const char *key, double min, double max,
                               const char *unit, double *out, int *is_null, lq_diag *d)
{
    const lq_node *n = lq_node_get(map, key);
    if (!n) return LQ_OK;
    return number_check(n, min, max, unit, 1, out, is_null, d);
}

lq_error lq_cfg_int(const lq_node *map, const char *key, long min, long max, long *out,
                    lq_diag *d)
{
    const lq_node *n = lq_node_get(map, key);
    if (!n) return LQ_OK;
    char what[128];
    int ok = n->type == LQ_NODE_SCALAR && n->plain && n->value[0] != '\0';
    const char *p = ok ? n->value : "";
    if (*p == '-' || *p == '+') p++;
    if (!*p) ok = 0;
    for (; ok && *p; p++)
        if (!isdigit((unsigned char)*p)) ok = 0;
    if (!ok)
        return lq_cfg_error(d, n, "%s is not an integer (expected an integer from %ld to %ld)",
                            lq_cfg_describe(n, what, sizeof what), min, max);
    long v = strlen(n->value) > 18 ? 0 : strtol(n->value, NULL, 10);
    if (strlen(n->value) > 18 || v < min || v > max)
        return lq_cfg_error(d, n, "%s is out of range (expected an integer from %ld to %ld)",
                            n->value, min, max);
    *out = v;
    return LQ_OK;
}

static void list_names(char *buf, size_t len, const char *const *names)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i]; i++) {
        int k = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
        if (k < 0 || (size_t)k >= len - off) break;
        off += (size_t)k;
    }
}

lq_error lq_cfg_enum(const lq_node *map, const char *key, const char *const *names,
                     int *out, lq_diag *d)
{
    const lq_node *n = lq_node_get(map, key);
    if (!n) return LQ_OK;
    char list[512], what[128];
    list_names(list, sizeof list, names);
    if (n->type != LQ_NODE_SCALAR)
        return lq_cfg_error(d, n, "%s is not a name (expected one of: %s)",
                            lq_cfg_describe(n, what, sizeof what), list);
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], n->value) == 0) {
            *out = i;
            return LQ_OK;
        }
    return lq_cfg_error(d, n, "unknown value %s (expected one of: %s)",
                        lq_cfg_describe(n, what, sizeof what), list);
}

lq_error lq_cfg_bool(const lq_node *map, const char *key, int *out, lq_diag *d)
{
    const lq_node *n = lq_node_get(map, key);
    if (!n) return LQ_OK;
    if (n->type == LQ_NODE_SCALAR && n->plain) {
        const char *v = n->value;
        if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) {
            *out = 1;
            return LQ_OK;
        }
        if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) {
            *out = 0;
            return LQ_OK;
        }
    }
    char what[128];
    return lq_cfg_error(d, n, "%s is not a boolean (expected true or false)",
                        lq_cfg_describe(n, what, sizeof what));
}

lq_error lq_cfg_string(const lq_node *map, const char *key, size_t max_len, char **out,
                       lq_diag *d)
{
    const lq_node *n = lq_node_get(map, key);
    if (!n) return LQ_OK;
    char what[128];
    if (n->type != LQ_NODE_SCALAR || lq_node_is_null(n))
        return lq_cfg_error(d, n, "%s is not a string (expected a string of at most %zu "
                            "characters)", lq_cfg_describe(n, what, sizeof what), max_len);
    size_t l = strlen(n->value);
    if (l > max_len)
        return lq_cfg_error(d, n, "a string of %zu characters is too long (expected at most "
                            "%zu characters)", l, max_len);
    char *s = malloc(l + 1);
    if (!s) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    memcpy(s, n->value, l + 1);
    *out = s;
    return LQ_OK;
}

lq_error lq_cfg_expect_map(const lq_node *n, const char *const *allowed, const char *what,
                           lq_diag *d)
{
    char desc[128], list[512];
    if (!n) return LQ_OK;
    if (lq_node_is_null(n)) return LQ_OK; /* `stage:` with no settings: all defaults */
    if (n->type != LQ_NODE_MAP)
        return lq_cfg_error(d, n, "%s is not a map (expected a map of %s settings)",
                            lq_cfg_describe(n, desc, sizeof desc), what);
    for (size_t i = 0; i < n->count; i++) {
        int known = 0;
        for (size_t k = 0; allowed[k]; k++)
            if (strcmp(allowed[k], n->keys[i]) == 0) known = 1;
        if (!known) {
            list_names(list, sizeof list, allowed);
            return lq_cfg_error_at_key(d, n, i, "unknown key \"%.200s\" (expected one of: %s)",
                                       n->keys[i], list);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(n->keys[j], n->keys[i]) == 0)
                return lq_cfg_error_at_key(d, n, i, "duplicate key \"%.200s\" (expected each "
                                           "key once)", n->keys[i]);
    }
    return LQ_OK;
}

lq_error lq_cfg_expect_seq(const lq_node *n, size_t min, size_t max, const char *what,
                           lq_diag *d)
{
    char desc[128], expect[256];
    if (!n) return LQ_OK;
    if (min == max)
        snprintf(expect, sizeof expect, "%s: a sequence of exactly %zu items", what, min);
    else
        snprintf(expect, sizeof expect, "%s: a sequence of %zu to %zu items", what, min, max);
    if (lq_node_is_null(n) && min == 0) return LQ_OK; /* `key:` left empty: no items */
    if (n->type != LQ_NODE_SEQ)
        return lq_cfg_error(d, n, "%s is not a sequence (expected %s)",
                            lq_cfg_describe(n, desc, sizeof desc), expect);
    if (n->count < min || n->count > max)
        return lq_cfg_error(d, n, "%zu items are too %s (expected %s)", n->count,
                            n->count < min ? "few" : "many", expect);
    return LQ_OK;
}
