/* Album files as batch jobs (docs/BATCH.md, "Album jobs"): the fingerprint of an album
 * job, and its run through the album API (lq_album_*, src/album/album.c) into the job's
 * staging folder.  batch.c publishes what it leaves there like any job's files.
 *
 * The fingerprint of an album job's target k covers everything that decides the bytes
 * of its files: the album file's bytes (order, gaps, fades, crossfades, tags, policy),
 * every track's input bytes (a stems track: its stems file and every stem's audio), each
 * track's preset and the target after the track's `set:` overrides (as parsed trees, so
 * comments and spacing do not count) and the lacquer version. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "album/album.h"
#include "batch/batch.h"
#include "config/stems.h"
#include "core/text.h"
#include "lacquer/lacquer.h"

static const char *preset_dir_of(const lq_batch *b)
{
    return b->preset_dir ? b->preset_dir : lq_preset_default_dir();
}

/* "sha256 of the file's bytes", or "unreadable" (the run then fails with its error). */
static void put_file_sha(lq_text *t, const char *what, const char *path)
{
    char sha[65];
    if (lq_bsha256_file(path, sha, NULL) != 0) snprintf(sha, sizeof sha, "unreadable");
    lq_text_add(t, "%s %s\n", what, sha);
}

static void put_canon(lq_text *t, const char *what, const lq_node *root)
{
    char *c = lq_bnode_canon(root);
    if (!c) t->oom = 1;
    lq_text_add(t, "%s %s\n", what, c ? c : "");
    free(c);
}

long long lq_balbum_input_bytes(const lq_batch *b, const lq_bjob *j)
{
    struct stat st;
    long long own = stat(j->input_path, &st) == 0 ? (long long)st.st_size : 0, sum = 0;
    lq_album_spec *s = NULL;
    lq_diag d = {{0}};
    if (j->plan_err || lq_album_spec_load_dir(&s, j->input_path, preset_dir_of(b), &d))
        return own;
    for (size_t i = 0; i < s->n_tracks; i++) {
        const lq_album_track *t = &s->tracks[i];
        lq_stems_spec *st_spec = NULL;
        lq_diag sd = {{0}};
        if (t->stems && lq_stems_load(&st_spec, t->file, &sd) == LQ_OK) {
            for (size_t k = 0; k < st_spec->n; k++)
                if (stat(st_spec->stems[k].file, &st) == 0) sum += (long long)st.st_size;
        } else if (!t->stems && stat(t->file, &st) == 0) {
            sum += (long long)st.st_size;
        }
        lq_stems_free(&st_spec);
    }
    lq_album_spec_free(&s);
    return sum ? sum : own;
}

lq_error lq_balbum_fingerprints(const lq_batch *b, const lq_bjob *j, char **efp, lq_diag *d)
{
    if (j->plan_err) return lq_diag_set(d, j->plan_err, "%s", j->plan_error);
    lq_album_spec *s = NULL;
    lq_error e = lq_album_spec_load_dir(&s, j->input_path, preset_dir_of(b), d);
    if (e) return e;
    /* per track: its input bytes and its preset after its overrides (shared by all
     * targets), then per target the target after the track's overrides */
    lq_text common = {0};
    lq_text_add(&common, "lacquer %s\n", lq_version());
    put_file_sha(&common, "album", j->input_path);
    lq_overrides **ov = calloc(s->n_tracks ? s->n_tracks : 1, sizeof *ov);
    if (!ov) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n_tracks && !e; i++) {
        const lq_album_track *t = &s->tracks[i];
        char what[64], err[1024] = "";
        snprintf(what, sizeof what, "track %zu %s", i + 1, t->stems ? "stems" : "input");
        put_file_sha(&common, what, t->file);
        if (t->stems) {
            lq_stems_spec *st = NULL;
            lq_diag sd = {{0}};
            if (lq_stems_load(&st, t->file, &sd) == LQ_OK)
                for (size_t k = 0; k < st->n; k++) {
                    snprintf(what, sizeof what, "track %zu stem %zu", i + 1, k + 1);
                    put_file_sha(&common, what, st->stems[k].file);
                }
            lq_stems_free(&st);
        }
        if ((e = lq_album_track_overrides(t, &ov[i], d))) break;
        lq_preset *p = NULL;
        const char *pn = t->preset ? t->preset : s->preset ? s->preset : "gentle";
        if ((e = lq_preset_load(&p, pn, preset_dir_of(b), ov[i], err, sizeof err))) {
            lq_diag_set(d, e, "%s", err);
            break;
        }
        snprintf(what, sizeof what, "track %zu preset", i + 1);
        put_canon(&common, what, p->root);
        lq_preset_destroy(&p);
    }
    if (!e && common.oom) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < j->n_targets && !e; k++) {
        lq_text t = {0};
        lq_text_str(&t, common.s ? common.s : "");
        const lq_target *tg = j->tconf[k]->target;
        for (size_t i = 0; i < s->n_tracks && !e; i++) {
            char what[64], err[1024] = "";
            snprintf(what, sizeof what, "track %zu target", i + 1);
            if (!s->tracks[i].set) {
                lq_text_add(&t, "%s %s\n", what, j->tconf[k]->canon);
                continue;
            }
            /* the track's own copy of the target, as the album run loads it */
            lq_target *own = NULL;
            if ((e = lq_target_load(&own, tg->file ? tg->file : tg->name, preset_dir_of(b),
                                    ov[i], err, sizeof err)))
                lq_diag_set(d, e, "%s", err);
            else
                put_canon(&t, what, own->root);
            lq_target_destroy(&own);
        }
        char *text = lq_text_take(&t);
        if (!e && !text) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        if (!e) lq_bsha256_hex(text, strlen(text), efp[k]);
        free(text);
    }
    for (size_t i = 0; ov && i < s->n_tracks; i++) lq_overrides_destroy(&ov[i]);
    free(ov);
    free(lq_text_take(&common));
    lq_album_spec_free(&s);
    return e;
}

static double num(const json_t *o, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(o, a);
    if (b) v = json_object_get(v, b);
    if (c) v = json_object_get(v, c);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* batch.json figures of track file `tt` (album report tracks[].targets[k]) with the
 * track job report's export `ex` (format, rate, ceiling, warnings).  The loudness aim of
 * a track file is the album's loudness policy's (`aim_lufs`), not the target's. */
static json_t *track_figures(const json_t *track, const json_t *tt, const json_t *ex)
{
    json_t *o = json_object();
    json_object_set(o, "target", json_object_get(tt, "target"));
    json_object_set(o, "track", json_object_get(track, "track"));
    json_object_set(o, "file", json_object_get(tt, "file"));
    json_object_set(o, "format", json_object_get(ex, "format"));
    json_object_set(o, "sample_rate", json_object_get(ex, "sample_rate"));
    json_object_set(o, "bit_depth", json_object_get(ex, "bit_depth"));
    double lufs = num(tt, "integrated_lufs", NULL, NULL), aim = num(tt, "aim_lufs", NULL, NULL);
    json_object_set_new(o, "integrated_lufs", num_or_null(lufs));
    json_object_set_new(o, "target_lufs", num_or_null(aim));
    json_object_set_new(o, "loudness_error_lu", num_or_null(lufs - aim));
    json_object_set_new(o, "true_peak_dbtp", num_or_null(num(tt, "true_peak_dbtp", NULL, NULL)));
    json_object_set_new(o, "ceiling_dbtp",
                        num_or_null(num(ex, "requirements", "true_peak", "ceiling_dbtp")));
    json_object_set(o, "met", json_object_get(tt, "met"));
    json_t *w = json_object_get(ex, "warnings");
    json_object_set_new(o, "warnings", w ? json_deep_copy(w) : json_array());
    return o;
}

static int cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The files the album run left in the stage (its published files), sorted. */
static lq_error list_stage(const char *stage, json_t *names, lq_diag *d)
{
    DIR *dh = opendir(stage);
    if (!dh) return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot read (expected the album's files)", stage);
    struct dirent *de;
    size_t n = 0;
    json_t **v = NULL;
    lq_error e = LQ_OK;
    while ((de = readdir(dh)) && !e) {
        if (de->d_name[0] == '.') continue;
        json_t **w = realloc(v, (n + 1) * sizeof *w);
        if (!w) {
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
            break;
        }
        v = w;
        v[n++] = json_string(de->d_name);
    }
    closedir(dh);
    if (!e) qsort(v, n, sizeof *v, cmp_json_str);
    for (size_t i = 0; i < n; i++) {
        if (!e) json_array_append(names, v[i]);
        json_decref(v[i]);
    }
    free(v);
    return e;
}

lq_error lq_balbum_run(const lq_batch *b, lq_bjob *j, const char *stage, char *const *efp,
                       char **report_json, char **report_txt, json_t *names, int *met,
                       lq_diag *d)
{
    *report_json = *report_txt = NULL;
    *met = 0;
    lq_album *a = NULL;
    char err[1024] = "";
    lq_error e = lq_album_new(&a);
    if (e) return lq_diag_set(d, e, "out of memory");
    if ((e = lq_album_load(a, j->input_path, preset_dir_of(b), err, sizeof err))) {
        lq_diag_set(d, e, "%s", err[0] ? err : lq_strerror(e));
        goto out;
    }
    if ((e = lq_album_set_output_dir(a, stage))) {
        lq_diag_set(d, e, "out of memory");
        goto out;
    }
    /* the plan's targets (the manifest's, else the album file's): the same loaded
     * targets the fingerprints were taken of */
    for (size_t k = 0; k < j->n_targets && !e; k++)
        if ((e = lq_album_add_target(a, j->tconf[k]->target))) lq_diag_set(d, e, "out of memory");
    if (e) goto out;
    lq_album_set_threads(a, b->threads_per_job);
    lq_album_set_html(a, 0); /* batch jobs write report.json and report.txt, as mix jobs do */
    if (b->cancel) lq_album_set_cancel_flag(a, b->cancel);
    if ((e = lq_album_run(a))) {
        lq_diag_set(d, e, "%s", lq_album_error_message(a)[0] ? lq_album_error_message(a)
                                                              : lq_strerror(e));
        goto out;
    }
    *met = lq_album_targets_met(a);
    char *js = lq_album_report_json(a);
    json_t *rep = js ? json_loads(js, 0, NULL) : NULL;
    free(js);
    *report_txt = lq_album_report_text(a);
    json_t *targets = json_object_get(rep, "targets");
    if (!rep || !*report_txt || json_array_size(targets) != j->n_targets) {
        if (rep) json_decref(rep);
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* the report says what made each target's files */
    for (size_t k = 0; k < j->n_targets; k++)
        json_object_set_new(json_array_get(targets, k), "fingerprint", json_string(efp[k]));
    /* batch.json: every track file, per target in track order */
    for (size_t k = 0; k < j->n_targets; k++) {
        size_t i;
        json_t *track;
        json_array_foreach(json_object_get(rep, "tracks"), i, track) {
            json_t *tt = json_array_get(json_object_get(track, "targets"), k);
            json_t *ex = json_array_get(json_object_get(json_object_get(track, "report"),
                                                        "exports"), k);
            json_array_append_new(j->exports, track_figures(track, tt, ex));
        }
    }
    json_t *w = json_object_get(rep, "album_warnings");
    j->warnings = w ? json_deep_copy(w) : json_array();
    *report_json = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(rep);
    if (!*report_json) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (!e) e = list_stage(stage, names, d);
out:
    lq_album_destroy(&a);
    return e;
}
