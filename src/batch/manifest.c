/* Batch manifests (docs/BATCH.md): a YAML file (the same strict parser and error lines as
 * presets) or a CSV file with the same columns, expanded into a plan of jobs with stable
 * ids derived from each job's content (its input, preset, overrides, targets, tags and
 * output folder), never from its position.  Every preset and target the plan names is
 * loaded and validated here, so a bad manifest is refused before any job starts. */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "album/album.h"
#include "batch/batch.h"
#include "core/text.h"
#include "config/node.h"
#include "config/preset.h"

/* ---- small helpers --------------------------------------------------------------- */

char *lq_bstrdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

char *lq_bjoin(const char *a, const char *b)
{
    if (!a || !a[0] || !strcmp(a, ".") || b[0] == '/') return lq_bstrdup(b);
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", a, a[strlen(a) - 1] == '/' ? "" : "/", b);
    return p;
}

void lq_bsha256_hex(const void *data, size_t n, char out[65])
{
    struct sha256_ctx c;
    uint8_t dig[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    sha256_update(&c, n, data);
    sha256_digest(&c, sizeof dig, dig);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) snprintf(out + 2 * i, 3, "%02x", dig[i]);
}

int lq_bsha256_file(const char *path, char out[65], long long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    struct sha256_ctx c;
    sha256_init(&c);
    unsigned char buf[1 << 16];
    size_t got;
    long long total = 0;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        sha256_update(&c, got, buf);
        total += (long long)got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) return -1;
    uint8_t dig[SHA256_DIGEST_SIZE];
    sha256_digest(&c, sizeof dig, dig);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) snprintf(out + 2 * i, 3, "%02x", dig[i]);
    if (size) *size = total;
    return 0;
}

/* Scalars quoted as JSON strings (unambiguous), keys in written order. */
/* s with '"' and '\\' escaped by a backslash (NULL: nothing). */
static void put_escaped(lq_text *b, const char *s)
{
    for (const char *p = s; p && *p; p++) {
        if (*p == '"' || *p == '\\') lq_text_put(b, "\\", 1);
        lq_text_put(b, p, 1);
    }
}

static void canon(lq_text *b, const lq_node *n)
{
    char tmp[32];
    switch (n->type) {
    case LQ_NODE_SCALAR: {
        lq_text_str(b, n->plain ? "p\"" : "q\"");
        put_escaped(b, n->value);
        lq_text_str(b, "\"");
        break;
    }
    case LQ_NODE_MAP:
        lq_text_str(b, "{");
        for (size_t i = 0; i < n->count; i++) {
            lq_text_str(b, n->keys[i]);
            lq_text_str(b, ":");
            canon(b, n->items[i]);
            lq_text_str(b, ";");
        }
        lq_text_str(b, "}");
        break;
    case LQ_NODE_SEQ:
        snprintf(tmp, sizeof tmp, "[%zu:", n->count);
        lq_text_str(b, tmp);
        for (size_t i = 0; i < n->count; i++) {
            canon(b, n->items[i]);
            lq_text_str(b, ",");
        }
        lq_text_str(b, "]");
        break;
    }
}

char *lq_bnode_canon(const lq_node *n)
{
    lq_text b = {0};
    if (n) canon(&b, n);
    return lq_text_take(&b);
}

/* A node back as flow YAML, for `set:` values ("-16", "[mp3, opus]", "{a: 1}"). */
static void flow(lq_text *b, const lq_node *n)
{
    switch (n->type) {
    case LQ_NODE_SCALAR:
        if (n->plain) {
            lq_text_str(b, n->value ? n->value : "");
        } else {
            lq_text_str(b, "\"");
            put_escaped(b, n->value);
            lq_text_str(b, "\"");
        }
        break;
    case LQ_NODE_MAP:
        lq_text_str(b, "{");
        for (size_t i = 0; i < n->count; i++) {
            if (i) lq_text_str(b, ", ");
            lq_text_str(b, n->keys[i]);
            lq_text_str(b, ": ");
            flow(b, n->items[i]);
        }
        lq_text_str(b, "}");
        break;
    case LQ_NODE_SEQ:
        lq_text_str(b, "[");
        for (size_t i = 0; i < n->count; i++) {
            if (i) lq_text_str(b, ", ");
            flow(b, n->items[i]);
        }
        lq_text_str(b, "]");
        break;
    }
}

/* ---- the job specs, as written ------------------------------------------------------ */

typedef struct strlist {
    char **v;
    size_t n;
} strlist;

static int sl_add(strlist *l, const char *s)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v) return 0;
    l->v = v;
    if (!(v[l->n] = lq_bstrdup(s))) return 0;
    l->n++;
    return 1;
}

static void sl_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Set "key=value": replaces a line with the same key. */
static int set_put(strlist *l, const char *line)
{
    size_t klen = strcspn(line, "=");
    for (size_t i = 0; i < l->n; i++)
        if (strncmp(l->v[i], line, klen) == 0 && l->v[i][klen] == '=') {
            char *s = lq_bstrdup(line);
            if (!s) return 0;
            free(l->v[i]);
            l->v[i] = s;
            return 1;
        }
    return sl_add(l, line);
}

typedef struct spec {
    char where[1200];       /* "FILE:LINE:COL: jobs[2]" */
    char in_where[1400];    /* location of the input */
    char own_where[1400];   /* the job's own preset, set or tags (not the defaults'):
                               where the first is, "" when none (album jobs refuse them) */
    char *input;
    char *preset;
    int has_targets;
    strlist targets;
    strlist sets;
    char *out;
    char *title, *artist, *album;
} spec;

static void spec_free(spec *s)
{
    free(s->input);
    free(s->preset);
    sl_free(&s->targets);
    sl_free(&s->sets);
    free(s->out);
    free(s->title);
    free(s->artist);
    free(s->album);
    memset(s, 0, sizeof *s);
}

static int spec_copy(spec *dst, const spec *src)
{
    memset(dst, 0, sizeof *dst);
    int ok = 1;
#define DUP(f) if (src->f && !(dst->f = lq_bstrdup(src->f))) ok = 0
    DUP(input);
    DUP(preset);
    DUP(out);
    DUP(title);
    DUP(artist);
    DUP(album);
#undef DUP
    dst->has_targets = src->has_targets;
    for (size_t i = 0; ok && i < src->targets.n; i++) ok = sl_add(&dst->targets, src->targets.v[i]);
    for (size_t i = 0; ok && i < src->sets.n; i++) ok = sl_add(&dst->sets, src->sets.v[i]);
    return ok;
}

static void loc_of(char *buf, size_t len, const lq_node *n)
{
    if (n->line == 0)
        snprintf(buf, len, "%s: %s", n->file, n->path ? n->path : "");
    else if (n->path && n->path[0])
        snprintf(buf, len, "%s:%zu:%zu: %s", n->file, n->line, n->col, n->path);
    else
        snprintf(buf, len, "%s:%zu:%zu", n->file, n->line, n->col);
}

/* ---- YAML ------------------------------------------------------------------------------ */

static const char *const job_keys[] = {"input", "preset", "targets", "out", "set", "tags", NULL};
static const char *const default_keys[] = {"preset", "targets", "out", "set", "tags", NULL};
static const char *const tag_keys[] = {"title", "artist", "album", NULL};

/* A tag field of the CSV manifest must be UTF-8, as the tags written are (lq_job). */
static lq_error check_tag(const char *where, const char *v, lq_diag *d)
{
    long at = lq_utf8_invalid_at(v);
    if (at < 0) return LQ_OK;
    return lq_diag_set(d, LQ_ERR_PRESET, "%s: invalid UTF-8 at byte offset %ld (0x%02x) "
                       "(expected UTF-8 text)", where, at, (unsigned char)v[at]);
}
static const char *const top_keys[] = {"lacquer", "defaults", "jobs", NULL};

/* A string key replacing a default (lq_cfg_string leaves *out alone when the key is
 * absent, and does not free what was there). */
static lq_error str_field(const lq_node *map, const char *key, size_t len, char **field,
                          lq_diag *d)
{
    char *v = NULL;
    lq_error e = lq_cfg_string(map, key, len, &v, d);
    if (e) return e;
    if (v) {
        free(*field);
        *field = v;
    }
    return LQ_OK;
}

/* Read the keys of a job or defaults map on top of s. */
static lq_error read_fields(const lq_node *m, spec *s, lq_diag *d)
{
    lq_error e;
    char desc[128];
    if ((e = str_field(m, "preset", 4000, &s->preset, d))) return e;
    const lq_node *t = lq_node_get(m, "targets");
    if (t) {
        if ((e = lq_cfg_expect_seq(t, 1, 64, "target names", d))) return e;
        sl_free(&s->targets);
        s->has_targets = 1;
        for (size_t i = 0; i < t->count; i++) {
            const lq_node *it = t->items[i];
            if (it->type != LQ_NODE_SCALAR || lq_node_is_null(it) || !it->value[0])
                return lq_cfg_error(d, it, "%s is not a target name (expected a shipped "
                                    "target name or a target file)",
                                    lq_cfg_describe(it, desc, sizeof desc));
            if (!sl_add(&s->targets, it->value)) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        }
    }
    if ((e = str_field(m, "out", 4000, &s->out, d))) return e;
    const lq_node *set = lq_node_get(m, "set");
    if (set && !lq_node_is_null(set)) {
        if (set->type != LQ_NODE_MAP)
            return lq_cfg_error(d, set, "%s is not a map (expected a map of preset or target "
                                "keys, e.g. {loudness_lufs: -16})",
                                lq_cfg_describe(set, desc, sizeof desc));
        lq_overrides *probe = NULL;
        if (lq_overrides_new(&probe)) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < set->count; i++) {
            lq_text b = {0};
            lq_text_str(&b, set->keys[i]);
            lq_text_str(&b, "=");
            flow(&b, set->items[i]);
            char *line = lq_text_take(&b), err[600];
            if (!line) {
                lq_overrides_destroy(&probe);
                return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
            }
            e = lq_overrides_add(probe, line, err, sizeof err);
            if (e == LQ_OK && !set_put(&s->sets, line)) e = LQ_ERR_NOMEM;
            free(line);
            if (e) {
                lq_overrides_destroy(&probe);
                if (e == LQ_ERR_NOMEM) return lq_diag_set(d, e, "out of memory");
                return lq_cfg_error_at_key(d, set, i, "%s", err);
            }
        }
        lq_overrides_destroy(&probe);
    }
    const lq_node *tags = lq_node_get(m, "tags");
    if (tags) {
        if ((e = lq_cfg_expect_map(tags, tag_keys, "tag", d))) return e;
        if ((e = str_field(tags, "title", 1000, &s->title, d))) return e;
        if ((e = str_field(tags, "artist", 1000, &s->artist, d))) return e;
        if ((e = str_field(tags, "album", 1000, &s->album, d))) return e;
    }
    return LQ_OK;
}

/* ---- expansion ------------------------------------------------------------------------- */

static int is_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static int is_config_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 5 && !strcmp(s + n - 5, ".yaml"));
}

static int is_album_file(const char *s)
{
    size_t n = strlen(s);
    return (n > 5 && !strcmp(s + n - 5, ".yaml")) || (n > 4 && !strcmp(s + n - 4, ".yml"));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a/./b//c/" -> "a/b/c" (for comparing folders; no symlinks resolved) */
static void normalize(char *p)
{
    char *o = p;
    const char *s = p;
    int abs = *s == '/';
    if (abs) *o++ = '/';
    while (*s) {
        while (*s == '/') s++;
        if (!*s) break;
        size_t n = strcspn(s, "/");
        if (n == 1 && s[0] == '.') {
            s += 1;
            continue;
        }
        if (o > p + abs) *o++ = '/';
        memmove(o, s, n);
        o += n;
        s += n;
    }
    if (o == p) *o++ = '.';
    *o = 0;
}

/* {name}: the input's file name without extension; {preset}: the preset's name. */
static char *expand_out(const char *pattern, const char *input, const char *preset)
{
    const char *base = strrchr(input, '/');
    base = base ? base + 1 : input;
    size_t blen = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) blen = (size_t)(dot - base);
    const char *pbase = strrchr(preset, '/');
    pbase = pbase ? pbase + 1 : preset;
    size_t plen = strlen(pbase);
    if (plen > 5 && !strcmp(pbase + plen - 5, ".yaml")) plen -= 5;
    lq_text b = {0};
    for (const char *p = pattern; *p;) {
        if (!strncmp(p, "{name}", 6)) {
            lq_text_put(&b, base, blen);
            p += 6;
        } else if (!strncmp(p, "{preset}", 8)) {
            lq_text_put(&b, pbase, plen);
            p += 8;
        } else {
            lq_text_put(&b, p, 1);
            p++;
        }
    }
    return lq_text_take(&b);
}

/* A preset or target by its resolved name (a shipped name or a path as opened), with
 * the job's `set:` lines: loaded once per batch. */
static lq_bconf *conf_find(lq_batch *b, int is_target, const char *resolved, const lq_bjob *j,
                           lq_error *e, lq_diag *d);

static lq_bconf *conf_get(lq_batch *b, int is_target, const char *name, const lq_bjob *j,
                          lq_error *e, lq_diag *d)
{
    /* a path is relative to the manifest; a name is a shipped preset/target */
    char *resolved = is_config_path(name) ? lq_bjoin(b->manifest_dir, name) : lq_bstrdup(name);
    if (!resolved) {
        *e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        return NULL;
    }
    lq_bconf *c = conf_find(b, is_target, resolved, j, e, d);
    free(resolved);
    return c;
}

static lq_bconf *conf_find(lq_batch *b, int is_target, const char *resolved, const lq_bjob *j,
                           lq_error *e, lq_diag *d)
{
    lq_text k = {0};
    lq_text_str(&k, resolved);
    for (size_t i = 0; i < j->n_sets; i++) {
        lq_text_str(&k, "\n");
        lq_text_str(&k, j->sets[i]);
    }
    char *key = lq_text_take(&k);
    if (!key) {
        *e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < b->n_confs; i++)
        if (b->confs[i]->is_target == is_target && !strcmp(b->confs[i]->key, key)) {
            free(key);
            return b->confs[i];
        }
    lq_bconf *c = calloc(1, sizeof *c);
    lq_bconf **v = realloc(b->confs, (b->n_confs + 1) * sizeof *v);
    lq_overrides *ov = NULL;
    char err[1024];
    if (!c || !v || lq_overrides_new(&ov)) {
        free(c);
        if (v) b->confs = v;
        free(key);
        *e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        return NULL;
    }
    b->confs = v;
    b->confs[b->n_confs++] = c;
    c->is_target = is_target;
    c->key = key;
    for (size_t i = 0; i < j->n_sets && !*e; i++)
        if ((*e = lq_overrides_add(ov, j->sets[i], err, sizeof err)))
            lq_diag_set(d, *e, "%s: %s", j->where, err);
    if (!*e) {
        *e = is_target ? lq_target_load(&c->target, resolved, b->preset_dir, ov, err, sizeof err)
                       : lq_preset_load(&c->preset, resolved, b->preset_dir, ov, err, sizeof err);
        if (*e) lq_diag_set(d, *e, "%s: %s", j->where, err);
    }
    lq_overrides_destroy(&ov);
    if (*e) return NULL;
    c->canon = lq_bnode_canon(is_target ? c->target->root : c->preset->root);
    if (!c->canon) {
        *e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return c;
}

/* The job's folder: `out` with {name} and {preset} expanded, under the root. */
static lq_error set_out(lq_batch *b, const spec *s, lq_bjob *j, const char *input, lq_diag *d)
{
    j->out_rel = expand_out(s->out ? s->out : "{name}", input, j->preset_name);
    if (!j->out_rel) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    normalize(j->out_rel);
    j->out_dir = lq_bjoin(b->root, j->out_rel);
    if (!j->out_dir) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    normalize(j->out_dir);
    return LQ_OK;
}

/* An album file as a job (album_job.c runs it): its tracks, presets, `set:` and tags
 * are the album file's; the manifest gives its targets (else the album file's, else its
 * first track's preset's) and its folder.  The album file is read here for its preset
 * and targets; one that cannot be read fails its own job when the batch runs. */
static lq_error add_album_job(lq_batch *b, const spec *s, lq_bjob *j, lq_diag *d)
{
    if (s->own_where[0])
        return lq_diag_set(d, LQ_ERR_PRESET, "%s: %s is an album file: its presets, overrides "
                           "and tags are the album file's (expected only input, targets and "
                           "out for an album job)", s->own_where, j->input);
    j->kind = LQ_BJOB_ALBUM;
    j->sets = calloc(1, sizeof *j->sets);
    if (!j->sets) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    lq_album_spec *as = NULL;
    lq_diag ad = {{0}};
    lq_error e = lq_album_spec_load_dir(&as, j->input_path, b->preset_dir, &ad);
    if (e == LQ_ERR_NOMEM) return lq_diag_set(d, e, "out of memory");
    if (e) {
        j->plan_err = e;
        if (!(j->plan_error = lq_bstrdup(ad.msg[0] ? ad.msg : lq_strerror(e))))
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    j->preset_name = lq_bstrdup(as && as->preset ? as->preset : "gentle");
    if (!j->preset_name) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    else e = LQ_OK;
    /* the targets: the manifest's as written, else the album file's (paths already
     * resolved against its folder) */
    const lq_bconf *first = NULL;
    size_t nt = s->has_targets ? s->targets.n : as ? as->n_targets : 0;
    if (!e && !s->has_targets && as && nt == 0 && as->n_tracks) {
        const char *pn = as->tracks[0].preset ? as->tracks[0].preset : as->preset;
        first = conf_find(b, 0, pn ? pn : "gentle", j, &e, d);
        if (first) nt = lq_preset_target_count(first->preset);
    }
    if (!e && nt == 0 && !j->plan_err) {
        j->plan_err = LQ_ERR_PRESET;
        char msg[1400];
        snprintf(msg, sizeof msg, "%s: no targets (expected targets: in the album file or the "
                 "manifest)", j->input_path);
        if (!(j->plan_error = lq_bstrdup(msg))) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    if (!e) {
        j->targets = calloc(nt + 1, sizeof *j->targets);
        j->tconf = calloc(nt + 1, sizeof *j->tconf);
        if (!j->targets || !j->tconf) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nt && !e; i++) {
        const char *tn = s->has_targets ? s->targets.v[i]
                         : first ? lq_preset_target_name(first->preset, i) : as->targets[i];
        if (!(j->targets[i] = lq_bstrdup(tn))) {
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
            break;
        }
        j->n_targets++;
        j->tconf[i] = s->has_targets ? conf_get(b, 1, tn, j, &e, d) : conf_find(b, 1, tn, j, &e, d);
    }
    lq_album_spec_free(&as);
    return e;
}

/* Turn one spec (one input, already expanded) into a plan job. */
static lq_error add_job(lq_batch *b, const spec *s, const char *input, lq_diag *d)
{
    lq_bjob *v = realloc(b->jobs, (b->n_jobs + 1) * sizeof *v);
    if (!v) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    b->jobs = v;
    lq_bjob *j = &b->jobs[b->n_jobs++];
    memset(j, 0, sizeof *j);
    j->index = b->n_jobs - 1;
    j->where = lq_bstrdup(s->where);
    j->input = lq_bstrdup(input);
    j->input_path = lq_bjoin(b->manifest_dir, input);
    if (!j->where || !j->input || !j->input_path)
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (is_album_file(input)) {
        lq_error e = add_album_job(b, s, j, d);
        return e ? e : set_out(b, s, j, input, d);
    }
    j->preset_name = lq_bstrdup(s->preset ? s->preset : "gentle");
    j->title = lq_bstrdup(s->title);
    j->artist = lq_bstrdup(s->artist);
    j->album = lq_bstrdup(s->album);
    if (!j->where || !j->input || !j->input_path || !j->preset_name ||
        (s->title && !j->title) || (s->artist && !j->artist) || (s->album && !j->album))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    j->sets = calloc(s->sets.n + 1, sizeof *j->sets);
    if (!j->sets) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->sets.n; i++)
        if (!(j->sets[j->n_sets++] = lq_bstrdup(s->sets.v[i])))
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    qsort(j->sets, j->n_sets, sizeof *j->sets, cmp_str);

    lq_error e = LQ_OK;
    j->preset = conf_get(b, 0, j->preset_name, j, &e, d);
    if (e) return e;
    size_t nt = s->has_targets ? s->targets.n : lq_preset_target_count(j->preset->preset);
    if (nt == 0)
        return lq_diag_set(d, LQ_ERR_PRESET, "%s: preset %s names no targets (expected "
                           "targets: [NAME, ...])", j->where, j->preset_name);
    j->targets = calloc(nt, sizeof *j->targets);
    j->tconf = calloc(nt, sizeof *j->tconf);
    if (!j->targets || !j->tconf) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nt; i++) {
        const char *tn = s->has_targets ? s->targets.v[i]
                                        : lq_preset_target_name(j->preset->preset, i);
        if (!(j->targets[i] = lq_bstrdup(tn))) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        j->n_targets++;
        j->tconf[i] = conf_get(b, 1, tn, j, &e, d);
        if (e) return e;
    }

    return set_out(b, s, j, input, d);
}

/* The id: what the job is, not where it sits in the manifest. */
static lq_error job_id(lq_bjob *j, lq_diag *d)
{
    const char *input = j->input;
    lq_text k = {0};
    if (j->kind == LQ_BJOB_ALBUM) lq_text_str(&k, "album\n");
    lq_text_str(&k, "input\n");
    lq_text_str(&k, input);
    lq_text_str(&k, "\npreset\n");
    lq_text_str(&k, j->preset_name);
    for (size_t i = 0; i < j->n_sets; i++) {
        lq_text_str(&k, "\nset\n");
        lq_text_str(&k, j->sets[i]);
    }
    for (size_t i = 0; i < j->n_targets; i++) {
        lq_text_str(&k, "\ntarget\n");
        lq_text_str(&k, j->targets[i]);
    }
    lq_text_str(&k, "\nout\n");
    lq_text_str(&k, j->out_rel);
    const char *tags[3] = {j->title, j->artist, j->album};
    for (int i = 0; i < 3; i++) {
        lq_text_str(&k, "\ntag\n");
        lq_text_str(&k, tags[i] ? tags[i] : "\x01");
    }
    char *key = lq_text_take(&k), hex[65];
    if (!key) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    lq_bsha256_hex(key, strlen(key), hex);
    free(key);
    memcpy(j->id, hex, LQ_BATCH_ID_HEX);
    j->id[LQ_BATCH_ID_HEX] = 0;
    return LQ_OK;
}

/* A second manifest entry for the same input, preset, overrides, tags and folder adds
 * its targets to the first job: one master-bus render for all of them. */
static int same_job(const lq_bjob *a, const lq_bjob *b)
{
    if (strcmp(a->input_path, b->input_path) || strcmp(a->preset_name, b->preset_name) ||
        strcmp(a->out_dir, b->out_dir) || a->n_sets != b->n_sets)
        return 0;
    for (size_t i = 0; i < a->n_sets; i++)
        if (strcmp(a->sets[i], b->sets[i])) return 0;
    const char *x[3] = {a->title, a->artist, a->album}, *y[3] = {b->title, b->artist, b->album};
    for (int i = 0; i < 3; i++)
        if ((x[i] == NULL) != (y[i] == NULL) || (x[i] && strcmp(x[i], y[i]))) return 0;
    return 1;
}

void lq_bjob_free(lq_bjob *j)
{
    free(j->where);
    free(j->input);
    free(j->input_path);
    free(j->preset_name);
    for (size_t k = 0; k < j->n_targets; k++) free(j->targets[k]);
    free(j->targets);
    free(j->tconf);
    for (size_t k = 0; k < j->n_sets; k++) free(j->sets[k]);
    free(j->sets);
    free(j->title);
    free(j->artist);
    free(j->album);
    free(j->out_rel);
    free(j->out_dir);
    free(j->plan_error);
    memset(j, 0, sizeof *j);
}

static lq_error fold_job(lq_batch *b, lq_diag *d)
{
    lq_bjob *j = &b->jobs[b->n_jobs - 1];
    for (size_t k = 0; k + 1 < b->n_jobs; k++) {
        lq_bjob *o = &b->jobs[k];
        if (!same_job(o, j)) continue;
        char **t = realloc(o->targets, (o->n_targets + j->n_targets) * sizeof *t);
        if (t) o->targets = t;
        lq_bconf **c = realloc(o->tconf, (o->n_targets + j->n_targets) * sizeof *c);
        if (c) o->tconf = c;
        if (!t || !c) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < j->n_targets; i++) {
            for (size_t q = 0; q < o->n_targets; q++)
                if (o->tconf[q] == j->tconf[i])
                    return lq_diag_set(d, LQ_ERR_PRESET, "%s: %s to target %s is also made by "
                                       "%s (two jobs writing the same file; expected each "
                                       "target once per input and out folder)", j->where,
                                       j->input, j->targets[i], o->where);
            o->targets[o->n_targets] = j->targets[i];
            o->tconf[o->n_targets++] = j->tconf[i];
            j->targets[i] = NULL;
        }
        lq_bjob_free(j);
        b->n_jobs--;
        return job_id(o, d);
    }
    return job_id(j, d);
}

/* One spec: check its input (a file or a glob) and add its jobs. */
static lq_error expand_spec(lq_batch *b, const spec *s, lq_diag *d)
{
    if (!is_glob(s->input)) {
        char *p = lq_bjoin(b->manifest_dir, s->input);
        if (!p) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        struct stat st;
        int rc = stat(p, &st);
        int err = errno;
        free(p);
        if (rc != 0)
            return lq_diag_set(d, LQ_ERR_PRESET, "%s: %s: %s (expected an audio file or a "
                               "glob such as \"mixes/*.wav\")", s->in_where, s->input,
                               strerror(err));
        if (!S_ISREG(st.st_mode))
            return lq_diag_set(d, LQ_ERR_PRESET, "%s: %s: not a regular file (expected an "
                               "audio file or a glob such as \"mixes/*.wav\")", s->in_where,
                               s->input);
        lq_error e = add_job(b, s, s->input, d);
        return e ? e : fold_job(b, d);
    }
    char *pat = lq_bjoin(b->manifest_dir, s->input);
    if (!pat) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    glob_t g;
    memset(&g, 0, sizeof g);
    int rc = glob(pat, GLOB_MARK, NULL, &g);
    size_t prefix = (pat != s->input && strcmp(pat, s->input)) ? strlen(pat) - strlen(s->input) : 0;
    free(pat);
    if (rc == GLOB_NOSPACE) {
        globfree(&g);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    /* files only (GLOB_MARK puts a '/' after folders), in byte order */
    char **names = calloc(g.gl_pathc + 1, sizeof *names);
    size_t n = 0;
    if (!names) {
        globfree(&g);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
        const char *m = g.gl_pathv[i];
        size_t l = strlen(m);
        if (l && m[l - 1] == '/') continue;
        names[n++] = (char *)m + (prefix <= l ? prefix : 0);
    }
    qsort(names, n, sizeof *names, cmp_str);
    lq_error e = LQ_OK;
    if (n == 0)
        e = lq_diag_set(d, LQ_ERR_PRESET, "%s: \"%s\" matches no file (expected a glob that "
                        "matches at least one input)", s->in_where, s->input);
    for (size_t i = 0; i < n && !e; i++) {
        e = add_job(b, s, names[i], d);
        if (!e) e = fold_job(b, d);
    }
    free(names);
    globfree(&g);
    return e;
}

static lq_error load_yaml(lq_batch *b, lq_diag *d)
{
    lq_node *root = NULL;
    lq_error e = lq_node_parse_file(&root, b->manifest, d);
    if (e == LQ_ERR_PRESET_NOT_FOUND)
        lq_diag_set(d, e, "%s: cannot open the manifest (%s)", b->manifest, strerror(errno));
    if (e) return e;
    char desc[128];
    spec defs = {0}, s = {0};
    if (root->type != LQ_NODE_MAP) {
        e = lq_cfg_error(d, root, "%s is not a map (expected a batch manifest: lacquer: 1, "
                         "defaults:, jobs:)", lq_cfg_describe(root, desc, sizeof desc));
        goto done;
    }
    if ((e = lq_cfg_expect_map(root, top_keys, "batch manifest", d))) goto done;
    const lq_node *ver = lq_node_get(root, "lacquer");
    double v = 0;
    if (!ver) {
        e = lq_cfg_missing(d, root, "lacquer", "lacquer: 1 as the format version");
        goto done;
    }
    if (!lq_cfg_scalar_number(ver, &v) || v != LQ_SCHEMA_VERSION) {
        e = lq_cfg_error(d, ver, "%s is not a format version this build reads (expected 1)",
                         lq_cfg_describe(ver, desc, sizeof desc));
        goto done;
    }
    const lq_node *dn = lq_node_get(root, "defaults");
    if (dn) {
        if ((e = lq_cfg_expect_map(dn, default_keys, "batch defaults", d))) goto done;
        if (!lq_node_is_null(dn) && (e = read_fields(dn, &defs, d))) goto done;
    }
    const lq_node *jobs = lq_node_get(root, "jobs");
    if (!jobs) {
        e = lq_cfg_missing(d, root, "jobs", "a sequence of jobs, each with an input");
        goto done;
    }
    if ((e = lq_cfg_expect_seq(jobs, 1, 1000000, "jobs, each with an input", d))) goto done;
    for (size_t i = 0; i < jobs->count && !e; i++) {
        const lq_node *jn = jobs->items[i];
        if (jn->type != LQ_NODE_MAP) {
            e = lq_cfg_error(d, jn, "%s is not a map (expected a job such as {input: "
                             "mixes/song.wav})", lq_cfg_describe(jn, desc, sizeof desc));
            break;
        }
        if ((e = lq_cfg_expect_map(jn, job_keys, "job", d))) break;
        if (!spec_copy(&s, &defs)) {
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
            break;
        }
        loc_of(s.where, sizeof s.where, jn);
        const lq_node *in = lq_node_get(jn, "input");
        if (!in) {
            e = lq_cfg_missing(d, jn, "input", "an audio file, a glob such as "
                               "\"mixes/*.wav\", or an album file");
        } else if (in->type != LQ_NODE_SCALAR || lq_node_is_null(in) || !in->value[0]) {
            e = lq_cfg_error(d, in, "%s is not a file name (expected an audio file, a glob or "
                             "an album file)", lq_cfg_describe(in, desc, sizeof desc));
        } else {
            loc_of(s.in_where, sizeof s.in_where, in);
            free(s.input);
            s.input = lq_bstrdup(in->value);
            if (!s.input) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        }
        if (!e) e = read_fields(jn, &s, d);
        static const char *const own_keys[] = {"preset", "set", "tags", NULL};
        for (size_t k = 0; own_keys[k] && !s.own_where[0]; k++) {
            const lq_node *on = lq_node_get(jn, own_keys[k]);
            if (on) loc_of(s.own_where, sizeof s.own_where, on);
        }
        if (!e) e = expand_spec(b, &s, d);
        spec_free(&s);
    }
done:
    spec_free(&s);
    spec_free(&defs);
    lq_node_free(root);
    return e;
}

/* ---- CSV (RFC 4180 quoting) ----------------------------------------------------------- */

static const char *const csv_cols[] = {"input", "preset", "targets", "out", "set",
                                       "title", "artist", "album", NULL};

/* Split one record into fields; col[i] is the 1-based column where field i starts.
 * Returns the number of fields, or -1 on an unterminated quote (-2: out of memory);
 * *count is always the number of fields allocated, for csv_free. */
static int csv_split(const char *line, char ***fields, size_t **cols, int *count)
{
    *fields = NULL;
    *cols = NULL;
    int n = 0;
    *count = 0;
    const char *p = line;
    for (;;) {
        char **f = realloc(*fields, (size_t)(n + 1) * sizeof *f);
        if (f) *fields = f;
        size_t *c = realloc(*cols, (size_t)(n + 1) * sizeof *c);
        if (c) *cols = c;
        if (!f || !c) return -2;
        (*cols)[n] = (size_t)(p - line) + 1;
        lq_text b = {0};
        lq_text_put(&b, "", 0);
        while (*p == ' ') p++;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) {
                    (*fields)[n++] = lq_text_take(&b);
                    *count = n;
                    return -1;
                }
                if (*p == '"' && p[1] == '"') {
                    lq_text_put(&b, "\"", 1);
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    lq_text_put(&b, p++, 1);
                }
            }
            while (*p && *p != ',') p++;
        } else {
            const char *e = p + strcspn(p, ",");
            const char *t = e;
            while (t > p && (t[-1] == ' ' || t[-1] == '\r')) t--;
            lq_text_put(&b, p, (size_t)(t - p));
            p = e;
        }
        (*fields)[n++] = lq_text_take(&b);
        *count = n;
        if (!(*fields)[n - 1]) return -2;
        if (*p != ',') break;
        p++;
    }
    return n;
}

static void csv_free(char **f, size_t *c, int n)
{
    for (int i = 0; i < n; i++) free(f[i]);
    free(f);
    free(c);
}

static lq_error load_csv(lq_batch *b, lq_diag *d)
{
    FILE *f = fopen(b->manifest, "r");
    if (!f)
        return lq_diag_set(d, LQ_ERR_PRESET_NOT_FOUND, "%s: cannot open the manifest (%s)",
                           b->manifest, strerror(errno));
    char line[16384];
    int map[16];
    int ncols = -1, have_jobs = 0;
    size_t lineno = 0;
    lq_error e = LQ_OK;
    while (!e && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\n")] = 0;
        const char *t = line;
        while (*t == ' ' || *t == '\r') t++;
        if (!*t || *t == '#') continue;
        char **fl = NULL;
        size_t *cl = NULL;
        int nalloc = 0;
        int n = csv_split(line, &fl, &cl, &nalloc);
        if (n == -2) {
            csv_free(fl, cl, nalloc);
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
            break;
        }
        if (n < 0) {
            e = lq_diag_set(d, LQ_ERR_PRESET, "%s:%zu:%zu: unterminated quoted field "
                            "(expected a closing \")", b->manifest, lineno, cl && nalloc ? cl[nalloc - 1] : 1);
            csv_free(fl, cl, nalloc);
            break;
        }
        if (ncols < 0) { /* the header */
            if (n > 8) n = 9;
            for (int i = 0; i < n && !e; i++) {
                map[i] = -1;
                for (int k = 0; csv_cols[k]; k++)
                    if (!strcmp(fl[i], csv_cols[k])) map[i] = k;
                if (map[i] < 0)
                    e = lq_diag_set(d, LQ_ERR_PRESET, "%s:%zu:%zu: unknown column \"%.200s\" "
                                    "(expected input, preset, targets, out, set, title, "
                                    "artist, album)", b->manifest, lineno, cl[i], fl[i]);
                for (int k = 0; k < i && !e; k++)
                    if (map[k] == map[i])
                        e = lq_diag_set(d, LQ_ERR_PRESET, "%s:%zu:%zu: duplicate column "
                                        "\"%s\" (expected each column once)", b->manifest,
                                        lineno, cl[i], fl[i]);
            }
            int has_input = 0;
            for (int i = 0; i < n; i++) has_input |= map[i] == 0;
            if (!e && !has_input)
                e = lq_diag_set(d, LQ_ERR_PRESET, "%s:%zu:1: no \"input\" column (expected "
                                "a header line such as input,preset,targets,out)",
                                b->manifest, lineno);
            ncols = n;
            csv_free(fl, cl, nalloc);
            continue;
        }
        spec s = {0};
        snprintf(s.where, sizeof s.where, "%s:%zu:1: row %zu", b->manifest, lineno, lineno);
        if (n > ncols)
            e = lq_diag_set(d, LQ_ERR_PRESET, "%s:%zu:%zu: %d fields (expected at most %d, "
                            "as in the header)", b->manifest, lineno, cl[ncols], n, ncols);
        for (int i = 0; i < n && !e; i++) {
            const char *v = fl[i];
            char where[1300];
            snprintf(where, sizeof where, "%s:%zu:%zu: %s", b->manifest, lineno, cl[i],
                     csv_cols[map[i]]);
            if (map[i] != 0 && map[i] != 2 && map[i] != 3 && v[0] && !s.own_where[0])
                snprintf(s.own_where, sizeof s.own_where, "%s", where); /* album jobs refuse it */
            switch (map[i]) {
            case 0:
                snprintf(s.in_where, sizeof s.in_where, "%s", where);
                if (!v[0])
                    e = lq_diag_set(d, LQ_ERR_PRESET, "%s: empty (expected an audio file or "
                                    "a glob)", where);
                s.input = lq_bstrdup(v);
                break;
            case 1:
                if (v[0]) s.preset = lq_bstrdup(v);
                break;
            case 2: { /* names separated by spaces or ';' */
                char tmp[4096];
                snprintf(tmp, sizeof tmp, "%s", v);
                for (char *tok = strtok(tmp, " ;"); tok && !e; tok = strtok(NULL, " ;")) {
                    s.has_targets = 1;
                    if (!sl_add(&s.targets, tok)) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
                }
                break;
            }
            case 3:
                if (v[0]) s.out = lq_bstrdup(v);
                break;
            case 4: { /* KEY=VALUE;KEY=VALUE */
                char tmp[4096], err[600];
                snprintf(tmp, sizeof tmp, "%s", v);
                lq_overrides *probe = NULL;
                if (lq_overrides_new(&probe)) {
                    e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
                    break;
                }
                for (char *tok = strtok(tmp, ";"); tok && !e; tok = strtok(NULL, ";")) {
                    while (*tok == ' ') tok++;
                    if (!*tok) continue;
                    if (lq_overrides_add(probe, tok, err, sizeof err))
                        e = lq_diag_set(d, LQ_ERR_PRESET, "%s: %s", where, err);
                    else if (!set_put(&s.sets, tok))
                        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
                }
                lq_overrides_destroy(&probe);
                break;
            }
            case 5:
                if (v[0]) s.title = lq_bstrdup(v);
                e = check_tag(where, v, d);
                break;
            case 6:
                if (v[0]) s.artist = lq_bstrdup(v);
                e = check_tag(where, v, d);
                break;
            case 7:
                if (v[0]) s.album = lq_bstrdup(v);
                e = check_tag(where, v, d);
                break;
            }
        }
        if (!e && !s.input)
            e = lq_diag_set(d, LQ_ERR_PRESET, "%s:%zu:1: input: missing (expected an audio "
                            "file or a glob)", b->manifest, lineno);
        if (!e) {
            have_jobs = 1;
            e = expand_spec(b, &s, d);
        }
        spec_free(&s);
        csv_free(fl, cl, nalloc);
    }
    fclose(f);
    if (!e && ncols < 0)
        e = lq_diag_set(d, LQ_ERR_PRESET, "%s: empty (expected a header line such as "
                        "input,preset,targets,out and one line per job)", b->manifest);
    else if (!e && !have_jobs)
        e = lq_diag_set(d, LQ_ERR_PRESET, "%s: no jobs (expected one line per job after the "
                        "header)", b->manifest);
    return e;
}

/* ---- the plan ------------------------------------------------------------------------- */

lq_error lq_bmanifest_load(lq_batch *b, lq_diag *d)
{
    size_t n = strlen(b->manifest);
    int csv = n > 4 && !strcasecmp(b->manifest + n - 4, ".csv");
    lq_error e = csv ? load_csv(b, d) : load_yaml(b, d);
    if (e) return e;
    /* one output folder per job: each job writes its report.json there */
    for (size_t i = 0; i < b->n_jobs; i++)
        for (size_t k = 0; k < i; k++)
            if (!strcmp(b->jobs[i].out_dir, b->jobs[k].out_dir))
                return lq_diag_set(d, LQ_ERR_PRESET,
                                   "%s: %s and %s (%s) would both write %s/report.json "
                                   "(expected one out folder per job: put {name} or {preset} "
                                   "in out)", b->jobs[i].where, b->jobs[i].input,
                                   b->jobs[k].input, b->jobs[k].where, b->jobs[i].out_dir);
    /* input groups, in order of first appearance */
    for (size_t i = 0; i < b->n_jobs; i++) {
        size_t k = 0;
        while (k < i && strcmp(b->jobs[k].input_path, b->jobs[i].input_path)) k++;
        b->jobs[i].group = k < i ? b->jobs[k].group : b->n_groups++;
    }
    return LQ_OK;
}

int lq_bjob_in_shard(const lq_batch *b, const lq_bjob *j)
{
    /* lq_batch_set_shard deals every input (batch.c) before it sets a count */
    return b->shard_count == 0 || b->group_slice[j->group] == b->shard_index;
}

json_t *lq_bjob_plan_json(const lq_batch *b, const lq_bjob *j)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(j->id));
    json_object_set_new(o, "index", json_integer((json_int_t)j->index));
    if (j->kind == LQ_BJOB_ALBUM) json_object_set_new(o, "kind", json_string("album"));
    json_object_set_new(o, "input", json_string(j->input));
    json_object_set_new(o, "preset", json_string(j->preset_name));
    json_t *t = json_array();
    for (size_t i = 0; i < j->n_targets; i++) json_array_append_new(t, json_string(j->targets[i]));
    json_object_set_new(o, "targets", t);
    json_t *s = json_object();
    for (size_t i = 0; i < j->n_sets; i++) {
        size_t k = strcspn(j->sets[i], "=");
        char key[512];
        snprintf(key, sizeof key, "%.*s", (int)(k < 511 ? k : 511), j->sets[i]);
        json_object_set_new(s, key, json_string(j->sets[i] + k + (j->sets[i][k] ? 1 : 0)));
    }
    json_object_set_new(o, "set", s);
    json_t *tags = json_object();
    if (j->title) json_object_set_new(tags, "title", json_string(j->title));
    if (j->artist) json_object_set_new(tags, "artist", json_string(j->artist));
    if (j->album) json_object_set_new(tags, "album", json_string(j->album));
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "out", json_string(j->out_rel));
    json_object_set_new(o, "input_group", json_integer((json_int_t)j->group));
    (void)b;
    return o;
}
