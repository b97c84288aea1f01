/* YAML → lq_node tree with locations and key paths (libyaml event parser), and the
 * --set graft (lq_node_set_path). */
#include "config/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define MAX_DEPTH 64

/* ---- small helpers ---------------------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}

static char *path_key(const char *parent, const char *key)
{
    size_t a = strlen(parent), b = strlen(key);
    char *r = malloc(a + b + 2);
    if (!r) return NULL;
    if (a) {
        memcpy(r, parent, a);
        r[a] = '.';
        memcpy(r + a + 1, key, b + 1);
    } else {
        memcpy(r, key, b + 1);
    }
    return r;
}

static char *path_index(const char *parent, size_t i)
{
    size_t a = strlen(parent);
    char *r = malloc(a + 24);
    if (!r) return NULL;
    snprintf(r, a + 24, "%s[%zu]", parent, i);
    return r;
}

static lq_node *node_new(lq_node_type type, const char *file, size_t line, size_t col,
                         char *path)
{
    lq_node *n = calloc(1, sizeof *n);
    if (!n) {
        free(path);
        return NULL;
    }
    n->type = type;
    n->file = file;
    n->line = line;
    n->col = col;
    n->path = path;
    return n;
}

void lq_node_free(lq_node *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->count; i++) {
        if (n->keys) free(n->keys[i]);
        lq_node_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->key_marks);
    free(n->value);
    free(n->path);
    free(n->file_owned);
    free(n);
}

/* Append a child (key may be NULL for sequences; key is taken over). */
static int node_append(lq_node *n, char *key, lq_node_mark mark, lq_node *child)
{
    size_t c = n->count + 1;
    lq_node **items = realloc(n->items, c * sizeof *items);
    if (!items) return 0;
    n->items = items;
    if (n->type == LQ_NODE_MAP) {
        char **keys = realloc(n->keys, c * sizeof *keys);
        if (!keys) return 0;
        n->keys = keys;
        lq_node_mark *marks = realloc(n->key_marks, c * sizeof *marks);
        if (!marks) return 0;
        n->key_marks = marks;
        keys[n->count] = key;
        marks[n->count] = mark;
    }
    items[n->count] = child;
    n->count = c;
    return 1;
}

const lq_node *lq_node_get(const lq_node *map, const char *key)
{
    if (!map || map->type != LQ_NODE_MAP) return NULL;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i], key) == 0) return map->items[i];
    return NULL;
}

int lq_node_is_null(const lq_node *n)
{
    if (!n || n->type != LQ_NODE_SCALAR || !n->plain) return 0;
    const char *v = n->value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* ---- the parser --------------------------------------------------------------------- */

typedef struct pctx {
    yaml_parser_t parser;
    const char *file;   /* for messages */
    const char *origin; /* file string stored in the nodes */
    lq_diag *d;
    int flat;           /* 1: give every node line 0 (a --set value) */
    FILE *in_file;      /* the input, to locate reader (encoding) errors */
    const char *in_text;
} pctx;

/* libyaml reports reader errors (bad UTF-8, control characters) by byte offset only:
 * turn the offset into a 1-based line and column (columns counted in bytes). */
static void offset_to_mark(pctx *c, size_t offset, size_t *line, size_t *col)
{
    size_t l = 1, k = 1;
    if (c->in_file && fseek(c->in_file, 0, SEEK_SET) == 0) {
        for (size_t i = 0; i < offset; i++) {
            int ch = fgetc(c->in_file);
            if (ch == EOF) break;
            if (ch == '\n') l++, k = 1;
            else k++;
        }
    } else if (c->in_text) {
        for (size_t i = 0; i < offset && c->in_text[i]; i++) {
            if (c->in_text[i] == '\n') l++, k = 1;
            else k++;
        }
    }
    *line = l;
    *col = k;
}

static lq_error syntax_error(pctx *c)
{
    const char *problem = c->parser.problem ? c->parser.problem : "cannot parse";
    if (c->flat)
        return lq_diag_set(c->d, LQ_ERR_PRESET, "%s: syntax error: %s", c->file, problem);
    if (c->parser.error == YAML_READER_ERROR) {
        size_t line, col;
        offset_to_mark(c, c->parser.problem_offset, &line, &col);
        return lq_diag_set(c->d, LQ_ERR_PRESET, "%s:%zu:%zu: syntax error: %s", c->file, line,
                           col, problem);
    }
    return lq_diag_set(c->d, LQ_ERR_PRESET, "%s:%zu:%zu: syntax error: %s", c->file,
                       (size_t)c->parser.problem_mark.line + 1,
                       (size_t)c->parser.problem_mark.column + 1, problem);
}

static lq_error next_event(pctx *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->parser, ev)) {
        memset(ev, 0, sizeof *ev);
        return syntax_error(c);
    }
    return LQ_OK;
}

static lq_error at_error(pctx *c, const yaml_mark_t *m, const char *path, const char *msg)
{
    if (c->flat)
        return lq_diag_set(c->d, LQ_ERR_PRESET, "%s: %s%s%s", c->file, path,
                           path[0] ? ": " : "", msg);
    return lq_diag_set(c->d, LQ_ERR_PRESET, "%s:%zu:%zu: %s%s%s", c->file,
                       (size_t)m->line + 1, (size_t)m->column + 1, path,
                       path[0] ? ": " : "", msg);
}

static lq_error parse_node(pctx *c, yaml_event_t *ev, char *path, int depth, lq_node **out);

static lq_error parse_map(pctx *c, lq_node *n, int depth)
{
    for (;;) {
        yaml_event_t kev;
        lq_error e = next_event(c, &kev);
        if (e) return e;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return LQ_OK;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            e = at_error(c, &kev.start_mark, n->path,
                         kev.type == YAML_ALIAS_EVENT
                             ? "aliases (*name) are not supported (expected the value "
                               "written out)"
                             : "a map or sequence used as a key is not supported "
                               "(expected a plain key)");
            yaml_event_delete(&kev);
            return e;
        }
        char *key = dup_str((const char *)kev.data.scalar.value);
        lq_node_mark mark = {c->flat ? 0 : kev.start_mark.line + 1,
                             c->flat ? 0 : kev.start_mark.column + 1};
        yaml_mark_t kmark = kev.start_mark;
        yaml_event_delete(&kev);
        if (!key) return lq_diag_set(c->d, LQ_ERR_NOMEM, "out of memory");
        if (lq_node_get(n, key)) {
            char msg[300];
            snprintf(msg, sizeof msg, "duplicate key \"%.200s\" (expected each key once)",
                     key);
            free(key);
            return at_error(c, &kmark, n->path, msg);
        }
        char *cpath = path_key(n->path, key);
        if (!cpath) {
            free(key);
            return lq_diag_set(c->d, LQ_ERR_NOMEM, "out of memory");
        }
        yaml_event_t vev;
        e = next_event(c, &vev);
        if (e) {
            free(key);
            free(cpath);
            return e;
        }
        lq_node *child = NULL;
        e = parse_node(c, &vev, cpath, depth + 1, &child);
        if (e) {
            free(key);
            return e;
        }
        if (!node_append(n, key, mark, child)) {
            free(key);
            lq_node_free(child);
            return lq_diag_set(c->d, LQ_ERR_NOMEM, "out of memory");
        }
    }
}

static lq_error parse_seq(pctx *c, lq_node *n, int depth)
{
    for (;;) {
        yaml_event_t iev;
        lq_error e = next_event(c, &iev);
        if (e) return e;
        if (iev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&iev);
            return LQ_OK;
        }
        char *cpath = path_index(n->path, n->count);
        if (!cpath) {
            yaml_event_delete(&iev);
            return lq_diag_set(c->d, LQ_ERR_NOMEM, "out of memory");
        }
        lq_node *child = NULL;
        e = parse_node(c, &iev, cpath, depth + 1, &child);
        if (e) return e;
        lq_node_mark none = {0, 0};
        if (!node_append(n, NULL, none, child)) {
            lq_node_free(child);
            return lq_diag_set(c->d, LQ_ERR_NOMEM, "out of memory");
        }
    }
}

/* Build the node that starts with *ev (consumed and deleted here); path is taken over. */
static lq_error parse_node(pctx *c, yaml_event_t *ev, char *path, int depth, lq_node **out)
{
    lq_error e = LQ_OK;
    size_t line = c->flat ? 0 : ev->start_mark.line + 1;
    size_t col = c->flat ? 0 : ev->start_mark.column + 1;
    *out = NULL;
    if (depth > MAX_DEPTH) {
        e = at_error(c, &ev->start_mark, path,
                     "nested more than 64 levels deep (expected a flatter document)");
        yaml_event_delete(ev);
        free(path);
        return e;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        lq_node *n = node_new(LQ_NODE_SCALAR, c->origin, line, col, path);
        if (n && !(n->value = malloc(ev->data.scalar.length + 1))) {
            lq_node_free(n);
            n = NULL;
        }
        if (!n) { /* out of memory: the event (libyaml's copy of the scalar) goes too */
            yaml_event_delete(ev);
            break;
        }
        memcpy(n->value, ev->data.scalar.value, ev->data.scalar.length);
        n->value[ev->data.scalar.length] = '\0';
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        yaml_event_delete(ev);
        *out = n;
        return LQ_OK;
    }
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_delete(ev);
        lq_node *n = node_new(is_map ? LQ_NODE_MAP : LQ_NODE_SEQ, c->origin, line, col, path);
        if (!n) break;
        e = is_map ? parse_map(c, n, depth) : parse_seq(c, n, depth);
        if (e) {
            lq_node_free(n);
            return e;
        }
        *out = n;
        return LQ_OK;
    }
    case YAML_ALIAS_EVENT:
        e = at_error(c, &ev->start_mark, path,
                     "aliases (*name) are not supported (expected the value written out)");
        yaml_event_delete(ev);
        free(path);
        return e;
    default:
        e = at_error(c, &ev->start_mark, path, "unexpected YAML event (expected a value)");
        yaml_event_delete(ev);
        free(path);
        return e;
    }
    return lq_diag_set(c->d, LQ_ERR_NOMEM, "out of memory");
}

/* Parse the stream set up in c->parser into one tree.  An empty stream gives a plain
 * empty scalar (null) at 1:1. */
static lq_error parse_stream(pctx *c, lq_node **out)
{
    yaml_event_t ev;
    lq_node *root = NULL;
    lq_error e;
    *out = NULL;
    for (;;) {
        e = next_event(c, &ev);
        if (e) goto fail;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (root) {
                e = at_error(c, &ev.start_mark, "",
                             "a second YAML document (expected one document per file)");
                yaml_event_delete(&ev);
                goto fail;
            }
            yaml_event_delete(&ev);
            continue;
        }
        char *path = dup_str("");
        if (!path) {
            yaml_event_delete(&ev);
            e = lq_diag_set(c->d, LQ_ERR_NOMEM, "out of memory");
            goto fail;
        }
        e = parse_node(c, &ev, path, 0, &root);
        if (e) goto fail;
    }
    if (!root) {
        char *path = dup_str("");
        root = path ? node_new(LQ_NODE_SCALAR, c->origin, c->flat ? 0 : 1, c->flat ? 0 : 1,
                               path)
                    : NULL;
        if (root) root->plain = 1;
        if (root) root->value = dup_str("");
        if (!root || !root->value) {
            e = lq_diag_set(c->d, LQ_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    *out = root;
    return LQ_OK;
fail:
    lq_node_free(root);
    return e;
}

static lq_error parse_with(pctx *c, lq_node **out, const char *origin)
{
    char *owned = dup_str(origin);
    if (!owned) return lq_diag_set(c->d, LQ_ERR_NOMEM, "out of memory");
    c->origin = owned;
    lq_error e = parse_stream(c, out);
    if (e) {
        free(owned);
        return e;
    }
    (*out)->file_owned = owned;
    return LQ_OK;
}

lq_error lq_node_parse_file(lq_node **out, const char *path, lq_diag *d)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return lq_diag_set(d, LQ_ERR_PRESET_NOT_FOUND, "%s: cannot open file (%s)", path,
                           strerror(errno));
    pctx c = {.file = path, .d = d, .in_file = f};
    if (!yaml_parser_initialize(&c.parser)) {
        fclose(f);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    yaml_parser_set_input_file(&c.parser, f);
    lq_error e = parse_with(&c, out, path);
    yaml_parser_delete(&c.parser);
    fclose(f);
    return e;
}

static lq_error parse_string_impl(lq_node **out, const char *text, const char *msg_name,
                                  const char *origin, int flat, lq_diag *d)
{
    *out = NULL;
    pctx c = {.file = msg_name, .d = d, .flat = flat, .in_text = text};
    if (!yaml_parser_initialize(&c.parser)) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, strlen(text));
    lq_error e = parse_with(&c, out, origin);
    yaml_parser_delete(&c.parser);
    return e;
}

lq_error lq_node_parse_string(lq_node **out, const char *text, const char *name, lq_diag *d)
{
    return parse_string_impl(out, text, name, name, 0, d);
}

/* ---- --set grafting ----------------------------------------------------------------- */

/* Give n and its subtree the path `path` (taken over) and file `file`. */
static int node_repath(lq_node *n, char *path, const char *file)
{
    free(n->path);
    n->path = path;
    if (!n->file_owned) n->file = file;
    for (size_t i = 0; i < n->count; i++) {
        char *cp = n->type == LQ_NODE_MAP ? path_key(path, n->keys[i])
                                          : path_index(path, i);
        if (!cp || !node_repath(n->items[i], cp, n->file)) return 0;
    }
    return 1;
}

/* Split one component "key[1][2]" of a dotted key: key length, then indices. */
static int parse_component(const char *s, size_t len, size_t *key_len, size_t *idx,
                           size_t max_idx, size_t *n_idx)
{
    size_t k = 0;
    while (k < len && s[k] != '[') k++;
    *key_len = k;
    *n_idx = 0;
    while (k < len) {
        if (s[k] != '[' || *n_idx == max_idx) return 0;
        k++;
        if (k >= len || s[k] < '0' || s[k] > '9') return 0;
        size_t v = 0;
        while (k < len && s[k] >= '0' && s[k] <= '9') {
            if (v > 100000) return 0;
            v = v * 10 + (size_t)(s[k] - '0');
            k++;
        }
        if (k >= len || s[k] != ']') return 0;
        k++;
        idx[(*n_idx)++] = v;
    }
    return *key_len > 0;
}

lq_error lq_node_set_path(lq_node *root, const char *dotted_key, const char *value,
                          const char *origin, lq_diag *d)
{
    char where[600];
    snprintf(where, sizeof where, "%s %.250s=%.250s", origin, dotted_key, value);
    if (!root || root->type != LQ_NODE_MAP)
        return lq_diag_set(d, LQ_ERR_PRESET, "%s: the file is not a map of keys (expected "
                           "a map to set keys in)", where);

    lq_node *val = NULL;
    /* The graft owns its own copy of the origin (val->file_owned). */
    lq_error e = parse_string_impl(&val, value, where, origin, 1, d);
    if (e) return e;

    lq_node *cur = root;
    const char *s = dotted_key;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        size_t idx[8], n_idx, key_len;
        if (!parse_component(s, len, &key_len, idx, 8, &n_idx)) {
            lq_node_free(val);
            return lq_diag_set(d, LQ_ERR_PRESET, "%s: \"%.*s\" is not a valid key "
                               "(expected KEY, KEY.SUBKEY or KEY[INDEX])", where, (int)len, s);
        }
        char *key = malloc(key_len + 1);
        if (!key) goto nomem;
        memcpy(key, s, key_len);
        key[key_len] = '\0';
        int last = !dot && n_idx == 0;

        /* Find or create the map entry. */
        size_t i;
        for (i = 0; i < cur->count; i++)
            if (strcmp(cur->keys[i], key) == 0) break;
        if (i == cur->count) {
            if (n_idx > 0) {
                lq_diag_set(d, LQ_ERR_PRESET, "%s: %s%s%s has no sequence to index "
                            "(expected an existing sequence)", where, cur->path,
                            cur->path[0] ? "." : "", key);
                free(key);
                lq_node_free(val);
                return LQ_ERR_PRESET;
            }
            lq_node *child;
            if (last) {
                child = val;
                val = NULL;
            } else {
                child = node_new(LQ_NODE_MAP, NULL, 0, 0, dup_str(""));
                if (child) child->file_owned = dup_str(origin);
                if (!child || !child->path || !child->file_owned) {
                    lq_node_free(child);
                    free(key);
                    goto nomem;
                }
                child->file = child->file_owned;
            }
            lq_node_mark none = {0, 0};
            char *cp = path_key(cur->path, key);
            if (!cp || !node_append(cur, key, none, child)) {
                free(cp);
                free(key);
                lq_node_free(child);
                goto nomem;
            }
            if (!node_repath(child, cp, child->file)) goto nomem;
            if (last) return LQ_OK;
            cur = child;
            s = dot + 1;
            continue;
        }
        free(key);

        /* Existing entry: descend through the indices. */
        lq_node **slot = &cur->items[i];
        for (size_t k = 0; k < n_idx; k++) {
            if ((*slot)->type != LQ_NODE_SEQ || idx[k] >= (*slot)->count) {
                lq_diag_set(d, LQ_ERR_PRESET, "%s: %s has no item [%zu] (expected an "
                            "index into an existing sequence)", where, (*slot)->path, idx[k]);
                lq_node_free(val);
                return LQ_ERR_PRESET;
            }
            slot = &(*slot)->items[idx[k]];
        }
        if (!dot) {
            char *cp = dup_str((*slot)->path);
            if (!cp) goto nomem;
            lq_node_free(*slot);
            *slot = val;
            if (!node_repath(val, cp, val->file)) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
            return LQ_OK;
        }
        if ((*slot)->type != LQ_NODE_MAP) {
            if (!lq_node_is_null(*slot)) {
                lq_diag_set(d, LQ_ERR_PRESET, "%s: %s is not a map (expected a map to set "
                            "%s in)", where, (*slot)->path, dot + 1);
                lq_node_free(val);
                return LQ_ERR_PRESET;
            }
            /* null placeholder (e.g. `finish:` left empty): becomes a map. */
            lq_node *m = node_new(LQ_NODE_MAP, (*slot)->file, (*slot)->line, (*slot)->col,
                                  dup_str((*slot)->path));
            if (!m || !m->path) {
                lq_node_free(m);
                goto nomem;
            }
            if ((*slot)->file_owned) {
                m->file_owned = (*slot)->file_owned;
                (*slot)->file_owned = NULL;
            }
            lq_node_free(*slot);
            *slot = m;
        }
        cur = *slot;
        s = dot + 1;
    }
nomem:
    lq_node_free(val);
    return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
}

lq_error lq_node_wrap(lq_node *map, const char *key, const char *inner, lq_diag *d)
{
    if (!map || map->type != LQ_NODE_MAP) return LQ_OK;
    size_t i;
    for (i = 0; i < map->count; i++)
        if (strcmp(map->keys[i], key) == 0) break;
    if (i == map->count) return LQ_OK;
    lq_node *old = map->items[i];
    lq_node *m = node_new(LQ_NODE_MAP, old->file, old->line, old->col, dup_str(old->path));
    char *k = dup_str(inner);
    lq_node_mark mark = {old->line, old->col};
    if (!m || !m->path || !k || !node_append(m, k, mark, old)) {
        free(k);
        if (m) m->count = 0; /* old stays in map */
        lq_node_free(m);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    map->items[i] = m;
    char *cp = dup_str(m->path);
    if (!cp || !node_repath(m, cp, m->file)) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    return LQ_OK;
}
