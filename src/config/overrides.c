/* Command-line overrides: --set KEY=VALUE, grafted into preset and target trees before
 * they are validated (so a bad value is reported like a bad file value, as "--set: ..."). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/preset.h"

struct lq_overrides {
    char **keys, **values;
    size_t count;
};

/* Keys --set may change.  `lacquer`, `name` and `description` are not overridable: a
 * name is what identifies a preset or target in reports and file names. */
const char *const lq_preset_override_keys[] = {"master", "finish", "targets", "reference",
                                               NULL};
const char *const lq_target_override_keys[] = {
    "sample_rate", "format", "bit_depth", "loudness_lufs", "true_peak_dbtp", "codec_check",
    "bitrate_kbps", "filename", "limiter", "dither", "min_sample_rate", "resampler",
    /* issue 15: codec checks */
    "codec_guard_db", "aac_kbps", NULL};

static int in_list(const char *const *list, const char *s, size_t len)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == len && strncmp(list[i], s, len) == 0) return 1;
    return 0;
}

static void join(char *buf, size_t len, const char *const *list)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; list[i]; i++) {
        int k = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", list[i]);
        if (k < 0 || (size_t)k >= len - off) break;
        off += (size_t)k;
    }
}

/* Length of the first component of a dotted key ("finish" in "finish.limiter.x",
 * "master" in "master[0].gain"). */
static size_t first_len(const char *key)
{
    return strcspn(key, ".[");
}

lq_error lq_overrides_new(lq_overrides **out)
{
    if (!out) return LQ_ERR_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? LQ_OK : LQ_ERR_NOMEM;
}

void lq_overrides_destroy(lq_overrides **o)
{
    if (!o || !*o) return;
    for (size_t i = 0; i < (*o)->count; i++) {
        free((*o)->keys[i]);
        free((*o)->values[i]);
    }
    free((*o)->keys);
    free((*o)->values);
    free(*o);
    *o = NULL;
}

lq_error lq_overrides_add(lq_overrides *o, const char *kv, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!o || !kv) return LQ_ERR_ARG;
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : 0;
    if (!eq || klen == 0) {
        if (err && errlen)
            snprintf(err, errlen, "--set %s: not KEY=VALUE (expected KEY=VALUE, as in "
                     "loudness_lufs=-16 or finish.limiter.release_ms=120)", kv);
        return LQ_ERR_PRESET;
    }
    size_t flen = first_len(kv);
    if (flen > klen) flen = klen;
    int known = in_list(lq_preset_override_keys, kv, flen) ||
                in_list(lq_target_override_keys, kv, flen);
    if (!known) {
        char pk[256], tk[512];
        join(pk, sizeof pk, lq_preset_override_keys);
        join(tk, sizeof tk, lq_target_override_keys);
        static const char *const fixed[] = {"lacquer", "name", "description", NULL};
        int is_fixed = in_list(fixed, kv, flen);
        if (err && errlen)
            snprintf(err, errlen, "--set %s: %s \"%.*s\" (expected a preset key: %s or a "
                     "target key: %s)", kv, is_fixed ? "cannot override" : "unknown key",
                     (int)flen, kv, pk, tk);
        return LQ_ERR_PRESET;
    }
    char *k = malloc(klen + 1);
    char *v = malloc(strlen(eq + 1) + 1);
    char **nk = realloc(o->keys, (o->count + 1) * sizeof *nk);
    if (nk) o->keys = nk;
    char **nv = realloc(o->values, (o->count + 1) * sizeof *nv);
    if (nv) o->values = nv;
    if (!k || !v || !nk || !nv) {
        free(k);
        free(v);
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return LQ_ERR_NOMEM;
    }
    memcpy(k, kv, klen);
    k[klen] = '\0';
    strcpy(v, eq + 1);
    o->keys[o->count] = k;
    o->values[o->count] = v;
    o->count++;
    return LQ_OK;
}

lq_error lq_overrides_apply(const lq_overrides *ov, lq_node *root, int for_target, lq_diag *d)
{
    if (!ov) return LQ_OK;
    const char *const *keys = for_target ? lq_target_override_keys : lq_preset_override_keys;
    for (size_t i = 0; i < ov->count; i++) {
        const char *k = ov->keys[i];
        if (!in_list(keys, k, first_len(k))) continue;
        char buf[512];
        /* `master:` has two forms (preset.c): the sequence of stages, or the map
         * {input_lufs, stages}.  master.KEY turns a sequence into the map form, and
         * master[N] reaches into the stages of a map. */
        const lq_node *m = !for_target ? lq_node_get(root, "master") : NULL;
        if (m && strncmp(k, "master.", 7) == 0 && m->type == LQ_NODE_SEQ) {
            lq_error e = lq_node_wrap(root, "master", "stages", d);
            if (e) return e;
        } else if (m && strncmp(k, "master[", 7) == 0 && m->type == LQ_NODE_MAP) {
            snprintf(buf, sizeof buf, "master.stages%.490s", k + 6);
            k = buf;
        }
        lq_error e = lq_node_set_path(root, k, ov->values[i], "--set", d);
        if (e) return e;
    }
    return LQ_OK;
}
