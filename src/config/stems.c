/* Stems files (stems.h): loading and validating. */
#include "config/stems.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEMS 32

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}

/* FILE relative to the folder of `base` (absolute paths stay as they are). */
static char *relative_to(const char *base, const char *file)
{
    const char *slash = strrchr(base, '/');
    if (file[0] == '/' || !slash) return dup_str(file);
    size_t dl = (size_t)(slash - base), n = dl + 1 + strlen(file) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%.*s/%s", (int)dl, base, file);
    return p;
}

static lq_error parse_stem(lq_stems_spec *s, lq_stem_spec *st, const lq_node *n, lq_diag *d)
{
    static const char *const keys[] = {"file", "name", "gain_db", "mute", "pan", "width",
                                       "chain", NULL};
    st->node = n;
    st->width = 1.0;
    lq_error e = lq_cfg_expect_map(n, keys, "stem", d);
    if (e) return e;
    if (!lq_node_get(n, "file")) return lq_cfg_missing(d, n, "file", "the stem's audio file");
    char *file = NULL;
    if ((e = lq_cfg_string(n, "file", 4000, &file, d))) return e;
    st->file = relative_to(s->file, file);
    if ((e = lq_cfg_string(n, "name", 64, &st->name, d))) goto out;
    if (!st->name) st->name = dup_str(file);
    if (!st->file || !st->name) {
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((e = lq_cfg_number(n, "gain_db", -60.0, 24.0, "dB", &st->gain_db, d))) goto out;
    if ((e = lq_cfg_bool(n, "mute", &st->mute, d))) goto out;
    if ((e = lq_cfg_number(n, "pan", -1.0, 1.0, "", &st->pan, d))) goto out;
    if ((e = lq_cfg_number(n, "width", 0.0, 2.0, "", &st->width, d))) goto out;
    const lq_node *chain = lq_node_get(n, "chain");
    if (chain && !lq_node_is_null(chain))
        e = lq_stage_list_parse(chain, &st->chain, &st->n_chain, d);
out:
    free(file);
    return e;
}

static lq_error validate(lq_stems_spec *s, lq_diag *d)
{
    static const char *const keys[] = {"lacquer", "title", "stems", NULL};
    const lq_node *r = s->root;
    lq_error e = lq_config_check_root(r, "stems", d);
    if (!e) e = lq_cfg_expect_map(r, keys, "stems file", d);
    if (!e) e = lq_cfg_string(r, "title", 200, &s->title, d);
    if (e) return e;
    const lq_node *list = lq_node_get(r, "stems");
    if (!list) return lq_cfg_missing(d, r, "stems", "a list of stems, each with a file");
    if ((e = lq_cfg_expect_seq(list, 1, MAX_STEMS, "stems", d))) return e;
    if (!(s->stems = calloc(list->count, sizeof *s->stems)))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < list->count; i++) {
        s->n = i + 1;
        if ((e = parse_stem(s, &s->stems[i], list->items[i], d))) return e;
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->stems[k].name, s->stems[i].name) == 0)
                return lq_cfg_error(d, lq_node_get(list->items[i], "name")
                                           ? lq_node_get(list->items[i], "name")
                                           : list->items[i],
                                    "a second stem named \"%.64s\" (expected distinct stem "
                                    "names)", s->stems[i].name);
    }
    return LQ_OK;
}

lq_error lq_stems_load(lq_stems_spec **out, const char *path, lq_diag *d)
{
    *out = NULL;
    lq_stems_spec *s = calloc(1, sizeof *s);
    if (!s || !(s->file = dup_str(path))) {
        free(s);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    FILE *probe = fopen(path, "rb");
    lq_error e = LQ_OK;
    if (!probe)
        e = lq_diag_set(d, LQ_ERR_PRESET_NOT_FOUND, "%s: cannot open stems file (%s)", path,
                        strerror(errno));
    else
        fclose(probe);
    if (!e) e = lq_node_parse_file(&s->root, path, d);
    if (!e) e = validate(s, d);
    if (e) {
        lq_stems_free(&s);
        return e;
    }
    *out = s;
    return LQ_OK;
}

void lq_stems_free(lq_stems_spec **ps)
{
    lq_stems_spec *s = *ps;
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        lq_stem_spec *st = &s->stems[i];
        for (size_t k = 0; k < st->n_chain; k++) lq_stage_spec_free(&st->chain[k]);
        free(st->chain);
        free(st->file);
        free(st->name);
    }
    free(s->stems);
    free(s->title);
    free(s->file);
    lq_node_free(s->root);
    free(s);
    *ps = NULL;
}
