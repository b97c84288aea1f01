/* lq_job: the public mastering API, and one job's phases.
 *   1. claim every output name with the run's publisher (engine/publish.c): nothing
 *      is done if one would be overwritten
 *   2. decode the input, run the master bus once, spool it (engine/master.c) and
 *      check the mix (engine/mixcheck.c)
 *   3. tasks for the run's queue (engine/queue.c): resample the spool once per distinct
 *      target rate, then each target's finishing chain (engine/finish.c)
 *   4. publish every export
 * engine/job_run.c does these for one job with its own queue and publisher and writes
 * its reports; an album or a batch runs the same phases of many jobs through one queue
 * and one publisher.  Any
 * error or cancellation on the way leaves the output folder as it was. */
#include "engine/job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "engine/naming.h"
#include "engine/resample.h"

#define MAX_BLOCK 4096

static char *dupstr(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

lq_error lq_job_new(lq_job **out)
{
    lq_job *j = calloc(1, sizeof *j);
    if (!j) return LQ_ERR_NOMEM;
    j->block = MAX_BLOCK;
    j->master.fd = -1; /* no spool yet: never close descriptor 0 (another job's file) */
    lq_match_opts_default(&j->match);
    for (int i = 0; i < 6; i++) j->match_req[i] = NAN;
    pthread_mutex_init(&j->progress_lock, NULL);
    *out = j;
    return LQ_OK;
}

lq_error lq_job_set_input(lq_job *j, const char *path)
{
    if (!j || !path) return LQ_ERR_ARG;
    free(j->input);
    return (j->input = dupstr(path)) ? LQ_OK : LQ_ERR_NOMEM;
}

lq_error lq_job_set_stems(lq_job *j, const char *stems_file, int pad, char *err,
                          size_t errlen)
{
    if (!j || !stems_file) return LQ_ERR_ARG;
    lq_diag d = {{0}};
    lq_stems_spec *s = NULL;
    lq_error e = lq_stems_load(&s, stems_file, &d);
    if (e) {
        if (err && errlen) snprintf(err, errlen, "%s", d.msg);
        return e;
    }
    lq_stems_free(&j->stems);
    j->stems = s;
    j->stems_pad = pad;
    free(j->input);
    j->input = dupstr(stems_file);
    return j->input ? LQ_OK : LQ_ERR_NOMEM;
}

lq_error lq_job_set_preset(lq_job *j, const lq_preset *p)
{
    if (!j || !p) return LQ_ERR_ARG;
    j->preset = p;
    return LQ_OK;
}

lq_error lq_job_add_target(lq_job *j, const lq_target *t)
{
    if (!j || !t) return LQ_ERR_ARG;
    const lq_target **n = realloc(j->targets, (j->n_targets + 1) * sizeof *n);
    if (!n) return LQ_ERR_NOMEM;
    n[j->n_targets++] = t;
    j->targets = n;
    return LQ_OK;
}

lq_error lq_job_set_output_dir(lq_job *j, const char *dir)
{
    if (!j || !dir) return LQ_ERR_ARG;
    free(j->out_dir);
    return (j->out_dir = dupstr(dir)) ? LQ_OK : LQ_ERR_NOMEM;
}

lq_error lq_job_set_metadata(lq_job *j, const char *title, const char *artist,
                             const char *album)
{
    if (!j) return LQ_ERR_ARG;
    /* tags are UTF-8 (Vorbis comments, ID3v2, RIFF INFO as written): refuse the rest
     * with the field and the byte, rather than drop the tag */
    const char *val[3] = {title, artist, album}, *name[3] = {"title", "artist", "album"};
    for (int k = 0; k < 3; k++) {
        long at = lq_utf8_invalid_at(val[k]);
        if (at >= 0) {
            snprintf(j->errmsg, sizeof j->errmsg,
                     "%s: invalid UTF-8 at byte offset %ld (0x%02x) (expected UTF-8 text)",
                     name[k], at, (unsigned char)val[k][at]);
            return LQ_ERR_ARG;
        }
    }
    if (title) {
        free(j->title);
        j->title_owned = NULL;
        if (!(j->title = dupstr(title))) return LQ_ERR_NOMEM;
    }
    if (artist) {
        free(j->artist);
        if (!(j->artist = dupstr(artist))) return LQ_ERR_NOMEM;
    }
    if (album) {
        free(j->album);
        if (!(j->album = dupstr(album))) return LQ_ERR_NOMEM;
    }
    return LQ_OK;
}

lq_error lq_job_add_reference(lq_job *j, const char *path, double weight, char *err,
                              size_t errlen)
{
    if (!j || !path) return LQ_ERR_ARG;
    if (j->n_refs == LQ_MATCH_MAX_REFS) {
        if (err && errlen) snprintf(err, errlen, "%s: too many references (at most %d)", path,
                                    LQ_MATCH_MAX_REFS);
        return LQ_ERR_ARG;
    }
    if (!(weight > 0.0 && weight <= 1000.0)) {
        if (err && errlen) snprintf(err, errlen, "%s: weight %g (expected more than 0, at "
                                    "most 1000)", path, weight);
        return LQ_ERR_ARG;
    }
    if (j->refs_from_preset) { /* the job's own references replace the preset's */
        for (size_t i = 0; i < j->n_refs; i++) free(j->ref_path[i]);
        j->n_refs = 0;
        j->refs_from_preset = 0;
    }
    if (!(j->ref_path[j->n_refs] = dupstr(path))) return LQ_ERR_NOMEM;
    j->ref_weight[j->n_refs++] = weight;
    return LQ_OK;
}

/* A setting given (>= 0, within lo..hi) or kept (negative); 0 when out of range. */
static int match_arg(double *slot, double v, double hi)
{
    if (v < 0.0) return 1;
    if (!(v <= hi)) return 0;
    *slot = v;
    return 1;
}

lq_error lq_job_set_match(lq_job *j, double strength, double width_strength)
{
    if (!j) return LQ_ERR_ARG;
    double req[6];
    memcpy(req, j->match_req, sizeof req);
    if (!match_arg(&req[0], strength, 1.0) || !match_arg(&req[1], width_strength, 1.0))
        return LQ_ERR_ARG;
    memcpy(j->match_req, req, sizeof req);
    return LQ_OK;
}

lq_error lq_job_set_match_limits(lq_job *j, double max_boost_db, double max_cut_db,
                                 double boost_lo_hz, double boost_hi_hz)
{
    if (!j) return LQ_ERR_ARG;
    double req[6];
    memcpy(req, j->match_req, sizeof req);
    if (!match_arg(&req[2], max_boost_db, 24.0) || !match_arg(&req[3], max_cut_db, 24.0) ||
        !match_arg(&req[4], boost_lo_hz, 96000.0) || !match_arg(&req[5], boost_hi_hz, 96000.0))
        return LQ_ERR_ARG;
    memcpy(j->match_req, req, sizeof req);
    return LQ_OK;
}

void lq_job_set_force(lq_job *j, int force) { j->force = force; }
void lq_job_set_threads(lq_job *j, int threads) { j->threads = threads; }
void lq_job_set_ebur128_peak(lq_job *j, int on) { j->ebur128_peak = on != 0; }
void lq_job_set_block_size(lq_job *j, size_t frames)
{
    j->block = frames > MAX_BLOCK ? MAX_BLOCK : frames;
}
void lq_job_set_progress(lq_job *j, lq_progress_fn fn, void *user)
{
    j->progress = fn;
    j->progress_user = user;
}
void lq_job_set_cancel_flag(lq_job *j, const volatile sig_atomic_t *flag)
{
    j->user_cancel = flag;
}
const char *lq_job_error_message(const lq_job *j) { return j->errmsg; }

int lq_job_targets_met(const lq_job *j)
{
    if (!j->ran) return 0;
    for (size_t i = 0; i < j->n_targets; i++)
        if (!j->exports[i].met) return 0;
    return 1;
}

static void free_results(lq_job *j)
{
    if (j->exports) {
        for (size_t i = 0; i < j->n_targets; i++) {
            lq_export *ex = &j->exports[i];
            if (ex->have_out) lq_audio_out_discard(&ex->out);
            free(ex->path);
            free(ex->file_name);
            if (ex->limiter_report) json_decref(ex->limiter_report);
            if (ex->dither_report) json_decref(ex->dither_report);
        }
        free(j->exports);
        j->exports = NULL;
    }
    if (j->groups) {
        for (size_t i = 0; i < j->n_groups; i++)
            if (j->groups[i].own) lq_spool_destroy(&j->groups[i].spool);
        free(j->groups);
        j->groups = NULL;
    }
    j->n_groups = 0;
    lq_spool_destroy(&j->master);
    if (j->master_reports) json_decref(j->master_reports);
    j->master_reports = NULL;
    if (j->stems_report) json_decref(j->stems_report);
    j->stems_report = NULL;
    j->ran = 0;
}

void lq_job_destroy(lq_job **pj)
{
    lq_job *j = *pj;
    if (!j) return;
    free_results(j);
    lq_stems_free(&j->stems);
    free(j->input);
    free(j->targets);
    free(j->out_dir);
    free(j->title);
    free(j->artist);
    free(j->album);
    for (size_t i = 0; i < j->n_refs; i++) free(j->ref_path[i]);
    free(j->ref_ltas);
    free(j->match_yaml);
    pthread_mutex_destroy(&j->progress_lock);
    free(j);
    *pj = NULL;
}

/* ---- shared helpers of the phases --------------------------------------------- */

int lq_job_cancelled(lq_job *j)
{
    if (j->user_cancel && *j->user_cancel) j->cancel = 1;
    return j->cancel;
}

void lq_job_progress(lq_job *j, const char *phase, double frac)
{
    if (!j->progress) return;
    pthread_mutex_lock(&j->progress_lock);
    if (j->progress(j->progress_user, phase, frac)) j->cancel = 1;
    pthread_mutex_unlock(&j->progress_lock);
}

/* ---- 1. names ----------------------------------------------------------------- */

lq_error lq_job_begin(lq_job *j, lq_publisher *pub, lq_diag *d)
{
    free_results(j);
    j->errmsg[0] = 0;
    j->cancel = 0;
    j->n_mix_warnings = 0;
    j->n_stem_warnings = 0;
    j->targets_done = 0;
    j->title_owned = NULL;
    if (!j->title && j->stems && j->stems->title)
        j->title = j->title_owned = dupstr(j->stems->title);
    if (!j->title && !(j->title = j->title_owned = lq_name_default_title(j->input)))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    /* a default title from a file name that is not UTF-8 (a legacy Latin-1 name):
     * its stray bytes are read as Latin-1, so "Caf\xe9.wav" is titled "Caf\u00e9" */
    if (j->title_owned && !(j->stems && j->stems->title) &&
        lq_utf8_invalid_at(j->title_owned) >= 0) {
        char *fixed = lq_utf8_latin1_fallback(j->title_owned);
        if (!fixed) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        free(j->title_owned);
        j->title = j->title_owned = fixed;
    }
    if (!(j->exports = calloc(j->n_targets, sizeof *j->exports)))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < j->n_targets; i++) {
        lq_export *ex = &j->exports[i];
        ex->target = j->targets[i];
        lq_name_fields f = {.title = j->title, .artist = j->artist, .album = j->album,
                            .target = ex->target->name,
                            .ext = lq_format_ext[ex->target->format],
                            .track = j->track, .track_total = j->track_total};
        /* an album's track files carry their number even when the pattern has none */
        if (!(ex->file_name = lq_name_track_file(ex->target->filename, &f, j->track_prefix)))
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        char who[300];
        snprintf(who, sizeof who, "target %s", ex->target->name);
        lq_error e = lq_publisher_claim(pub, ex->file_name, who, j->input, &ex->path, d);
        if (e) return e;
    }
    return LQ_OK;
}

/* ---- 3. resampling and targets, as tasks --------------------------------------- */

/* One output rate: resample the master spool (the source rate's group borrows the
 * master spool, already measured while it was rendered), measuring loudness and 16x
 * true peak on the way: the closed loop starts from these. */
static void group_fn(void *ctx, size_t i)
{
    lq_job *j = ctx;
    lq_rate_group *g = &j->groups[i];
    if (!g->own) {
        g->meas = j->master_meas;
        return;
    }
    lq_meter *m = NULL;
    g->err = lq_meter_new(&m, j->in_channels, g->rate, LQ_METER_LOUDNESS | LQ_METER_TP16,
                          MAX_BLOCK, &g->diag);
    if (!g->err) g->err = lq_spool_create(&g->spool, j->out_dir, j->in_channels, g->rate, &g->diag);
    double t0 = lq_now_s();
    if (!g->err)
        g->err = lq_resample_spool(&j->master, &g->spool, g->rate, g->resampler, m,
                                   &j->cancel, &g->diag);
    g->time_s = lq_now_s() - t0;
    if (g->err == LQ_ERR_CANCELLED) lq_diag_set(&g->diag, g->err, "cancelled");
    if (!g->err) {
        lq_meter_result_get(m, &g->meas);
        lq_job_progress(j, "resample", 1.0);
    }
    lq_meter_destroy(&m);
}

static void target_fn(void *ctx, size_t i)
{
    lq_job *j = ctx;
    lq_export *ex = &j->exports[i];
    const lq_rate_group *g = &j->groups[ex->group];
    if (g->err) return; /* its rate's resampling failed: collect reports that */
    if (lq_job_cancelled(j)) {
        ex->err = lq_diag_set(&ex->diag, LQ_ERR_CANCELLED, "cancelled");
        return;
    }
    lq_finish_target(j, ex, g);
    pthread_mutex_lock(&j->progress_lock);
    size_t done = ++j->targets_done;
    pthread_mutex_unlock(&j->progress_lock);
    lq_job_progress(j, "targets", (double)done / (double)j->n_targets);
}


/* One rate group per distinct output rate and converter (the source rate's borrows the
 * master). */
static lq_error plan_rates(lq_job *j, lq_diag *d)
{
    if (!(j->groups = calloc(j->n_targets, sizeof *j->groups)))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < j->n_targets; i++) {
        lq_export *ex = &j->exports[i];
        ex->rate = lq_target_rate(ex->target, j->in_rate);
        if (ex->rate > 48000 && j->in_rate <= 48000) /* a hi-res file from a CD-rate mix */
            lq_export_warn(ex, "upsampled from %g kHz: not a hi-res source", j->in_rate / 1e3);
        size_t k = 0;
        while (k < j->n_groups && (j->groups[k].rate != ex->rate ||
               (ex->rate != j->in_rate && j->groups[k].resampler != ex->target->resampler)))
            k++;
        ex->group = k;
        if (k == j->n_groups) {
            lq_rate_group *g = &j->groups[j->n_groups++];
            g->rate = ex->rate;
            g->resampler = ex->target->resampler;
            g->own = ex->rate != j->in_rate;
            g->task = LQ_TASK_NONE;
            g->spool.fd = -1;
            if (!g->own) g->spool = j->master;
            else g->spool.fd = -1;
        }
    }
    return LQ_OK;
}

lq_error lq_job_add_rate_tasks(lq_job *j, lq_tasks *t, lq_diag *d)
{
    lq_error e = plan_rates(j, d);
    if (e) return e;
    /* the source rate needs no work; the others, slowest (highest rate) first */
    size_t *ord = malloc((j->n_groups + 1) * sizeof *ord), n = 0;
    if (!ord) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t g = 0; g < j->n_groups; g++) {
        if (!j->groups[g].own) {
            group_fn(j, g);
            continue;
        }
        size_t at = n++;
        while (at > 0 && j->groups[ord[at - 1]].rate < j->groups[g].rate) {
            ord[at] = ord[at - 1];
            at--;
        }
        ord[at] = g;
    }
    for (size_t k = 0; k < n && !e; k++)
        if ((j->groups[ord[k]].task = lq_tasks_add(t, group_fn, j, ord[k], LQ_TASK_NONE)) ==
            LQ_TASK_NONE)
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    free(ord);
    return e;
}

lq_error lq_job_add_target_tasks(lq_job *j, lq_tasks *t, lq_diag *d)
{
    /* those at the source rate first: they can start at once */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < j->n_targets; i++) {
            if ((j->exports[i].rate == j->in_rate) != (pass == 0)) continue;
            size_t g = j->exports[i].group;
            if (lq_tasks_add(t, target_fn, j, i, j->groups[g].task) == LQ_TASK_NONE)
                return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        }
    return LQ_OK;
}

lq_error lq_job_collect(lq_job *j, lq_diag *d)
{
    for (size_t k = 0; k < j->n_groups; k++)
        if (j->groups[k].err) {
            *d = j->groups[k].diag;
            return j->groups[k].err;
        }
    for (size_t i = 0; i < j->n_targets; i++)
        if (j->exports[i].err) {
            *d = j->exports[i].diag;
            return j->exports[i].err;
        }
    if (lq_job_cancelled(j)) return lq_diag_set(d, LQ_ERR_CANCELLED, "cancelled");
    return LQ_OK;
}

/* ---- 4. publishing ---------------------------------------------------------------- */

lq_error lq_job_publish_exports(lq_job *j, lq_publisher *pub, lq_diag *d)
{
    lq_error e = LQ_OK;
    for (size_t i = 0; i < j->n_targets && !e; i++) {
        lq_export *ex = &j->exports[i];
        e = lq_publisher_export(pub, &ex->out, ex->path, d);
        lq_audio_out_discard(&ex->out);
        ex->have_out = 0;
    }
    return e;
}

void lq_job_end(lq_job *j, lq_error e)
{
    if (e) {
        /* keep the figures of a failed run out of reach */
        j->ran = 0;
        if (j->exports)
            for (size_t i = 0; i < j->n_targets; i++)
                if (j->exports[i].have_out) {
                    lq_audio_out_discard(&j->exports[i].out);
                    j->exports[i].have_out = 0;
                }
        if (j->title_owned) {
            free(j->title_owned);
            j->title = j->title_owned = NULL;
        }
    }
    /* spools are not needed after the run */
    if (j->groups)
        for (size_t k = 0; k < j->n_groups; k++)
            if (j->groups[k].own) {
                lq_spool_destroy(&j->groups[k].spool);
                j->groups[k].own = 0;
            }
    lq_spool_destroy(&j->master);
}
