/* lq_album_run: the album run.  An album is a list of lq_jobs, one per track, that run
 * their phases (engine/job.h) through one task queue and one publisher:
 *   1. claim every name (each track's files, the CD image, CUE, TOC, reports)
 *   2. the tracks' master buses, in parallel (tasks; each spooled on disk)
 *   3. the loudness policy (policy.c) sets every export's aim
 *   4. every track's finishing chains (tasks); each final render also goes, limited and
 *      undithered, into a spool per track and target
 *   5. per target (tasks): the continuous render, dithered once, split into per-track
 *      files and the CD image (assemble.c); every file re-measured
 *   6. publish everything, then report.json / report.txt / report.html (report/)
 * Any error or cancellation rolls the publisher back: the folder is left as it was.
 * This file sits above the album's parts (album.c, policy.c, assemble.c, cuesheet.c)
 * and the report module, which read the album's results. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "album/run.h"
#include "engine/naming.h"
#include "io/tags.h"
#include "lacquer/lacquer.h"

#define DEFAULT_PRESET "gentle"

/* ---- progress: the jobs report per track; the album reports the mean ------------- */

typedef struct job_ctx {
    lq_album *a;
    size_t i;
} job_ctx;

static int job_progress(void *user, const char *phase, double frac)
{
    job_ctx *c = user;
    lq_album *a = c->a;
    if (strcmp(phase, "resample") == 0) return lq_album_cancelled(a);
    pthread_mutex_lock(&a->lock);
    a->progress_frac[c->i] = frac;
    double sum = 0;
    for (size_t i = 0; i < a->n_jobs; i++) sum += a->progress_frac[i];
    int stop = 0;
    if (a->progress) stop = a->progress(a->progress_user, phase, sum / (double)a->n_jobs);
    pthread_mutex_unlock(&a->lock);
    if (stop) a->cancel = 1;
    return lq_album_cancelled(a);
}

static void reset_progress(lq_album *a)
{
    for (size_t i = 0; i < a->n_jobs; i++) a->progress_frac[i] = 0;
}

/* ---- 0. presets, targets, jobs ------------------------------------------------------- */

static lq_error prepare(lq_album *a, lq_diag *d)
{
    const lq_album_spec *s = a->spec;
    const size_t n = s->n_tracks;
    char err[1024] = "";
    if (!(a->jobs = calloc(n, sizeof *a->jobs)) || !(a->presets = calloc(n, sizeof *a->presets)) ||
        !(a->track_ov = calloc(n, sizeof *a->track_ov)) ||
        !(a->track_targets = calloc(n, sizeof *a->track_targets)) ||
        !(a->job_err = calloc(n, sizeof *a->job_err)) ||
        !(a->job_diag = calloc(n, sizeof *a->job_diag)) ||
        !(a->progress_frac = calloc(n, sizeof *a->progress_frac)) ||
        !(a->mastered_lufs = calloc(n, sizeof *a->mastered_lufs)) ||
        !(a->parked = malloc(n * sizeof *a->parked)))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    a->n_jobs = n;
    for (size_t i = 0; i < n; i++) a->parked[i] = -1;
    for (size_t i = 0; i < n; i++) {
        const lq_album_track *t = &s->tracks[i];
        lq_overrides *ov = NULL;
        /* `set:` as --set overrides (album_file.c checked them when the album was read) */
        lq_error e = lq_album_track_overrides(t, &ov, d);
        if (e) return e;
        const char *pn = t->preset ? t->preset : s->preset ? s->preset : DEFAULT_PRESET;
        if (!e) e = lq_preset_load(&a->presets[i], pn, a->preset_dir, ov, err, sizeof err);
        if (t->set) a->track_ov[i] = ov;
        else lq_overrides_destroy(&ov);
        if (e) return lq_diag_set(d, e, "%s", err[0] ? err : lq_strerror(e));
    }
    /* the record's dither (one over the continuous render): the album's, not a track's */
    lq_error de = lq_album_record_dither(a, d);
    if (de) return de;
    /* the run's targets: the caller's, else the album file's, else the first preset's */
    if (a->n_extra) {
        if (!(a->targets = malloc(a->n_extra * sizeof *a->targets)))
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        memcpy(a->targets, a->extra_targets, a->n_extra * sizeof *a->targets);
        a->n_targets = a->n_extra;
    } else {
        size_t nt = s->n_targets ? s->n_targets : n ? lq_preset_target_count(a->presets[0]) : 0;
        if (!(a->targets = calloc(nt ? nt : 1, sizeof *a->targets)) ||
            !(a->owned_targets = calloc(nt ? nt : 1, sizeof *a->owned_targets)))
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < nt; k++) {
            const char *name = s->n_targets ? s->targets[k] : lq_preset_target_name(a->presets[0], k);
            lq_error e = lq_target_load(&a->owned_targets[k], name, a->preset_dir, NULL, err,
                                        sizeof err);
            if (e) return lq_diag_set(d, e, "%s", err);
            a->targets[k] = a->owned_targets[k];
            a->n_targets = k + 1;
        }
    }
    if (a->n_targets == 0)
        return lq_diag_set(d, LQ_ERR_ARG, "%s: no targets (expected `targets:` in the album "
                           "file or --target)", s->file ? s->file : "album");
    if (!(a->at = calloc(a->n_targets, sizeof *a->at)) ||
        !(a->spools = calloc(a->n_targets * n, sizeof *a->spools)))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < a->n_targets * n; i++) a->spools[i].fd = -1;
    if (!(a->aims = calloc(a->n_targets * n, sizeof *a->aims)) ||
        !(a->redo = calloc(a->n_targets * n, sizeof *a->redo)))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < a->n_targets; k++) {
        a->at[k].target = a->targets[k];
        a->at[k].image.fd = -1;
        a->at[k].is_cd = lq_album_target_is_cd(a->targets[k]);
    }
    /* Red Book limits, before any work */
    for (size_t k = 0; k < a->n_targets; k++)
        if (a->at[k].is_cd) {
            lq_error e = lq_album_check_cd(s, d);
            if (e) return e;
            break;
        }
    for (size_t i = 0; i < n; i++) {
        const lq_album_track *t = &s->tracks[i];
        lq_job *j = NULL;
        lq_error e = lq_job_new(&j);
        if (e) return lq_diag_set(d, e, "out of memory");
        a->jobs[i] = j;
        if (!e && t->stems) {
            char err[1024];
            if ((e = lq_job_set_stems(j, t->file, 0, err, sizeof err)))
                return lq_diag_set(d, e, "%s", err);
        } else if (!e) {
            e = lq_job_set_input(j, t->file);
        }
        if (!e) e = lq_job_set_preset(j, a->presets[i]);
        /* reference matching: the track's `reference:`, else the release's, else (in the
         * render) the track's preset's own; an album key sets every match setting, so
         * nothing of the preset's reference is left under it (docs/ALBUM.md) */
        const lq_ref_spec *rf = t->ref ? t->ref : s->ref;
        for (size_t q = 0; rf && !e && q < rf->n; q++)
            if ((e = lq_job_add_reference(j, rf->files[q], rf->weights[q], err, sizeof err)))
                return lq_diag_set(d, e, "%s", err);
        if (rf && !e) e = lq_job_set_match(j, rf->strength, rf->width_strength);
        if (rf && !e) e = lq_job_set_match_limits(j, rf->max_boost_db, rf->max_cut_db,
                                                  rf->boost_lo_hz, rf->boost_hi_hz);
        /* a track with `set:` gets its own copy of each target with its overrides (the
         * album's figures stay the album's targets': the policy and the CD image) */
        if (a->track_ov[i] && !e) {
            if (!(a->track_targets[i] = calloc(a->n_targets, sizeof *a->track_targets[i])))
                return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
            for (size_t k = 0; k < a->n_targets; k++) {
                const lq_target *tg = a->targets[k];
                e = lq_target_load(&a->track_targets[i][k], tg->file ? tg->file : tg->name,
                                   a->preset_dir, a->track_ov[i], err, sizeof err);
                if (e) return lq_diag_set(d, e, "%s", err);
            }
        }
        for (size_t k = 0; k < a->n_targets && !e; k++)
            e = lq_job_add_target(j, a->track_targets[i] ? a->track_targets[i][k] : a->targets[k]);
        if (!e) e = lq_job_set_output_dir(j, a->out_dir);
        if (!e) e = lq_job_set_metadata(j, t->title, t->artist ? t->artist : s->artist, s->title);
        if (e) return lq_diag_set(d, e, "out of memory");
        j->track = (int)i + 1;
        j->track_total = (int)n;
        j->track_prefix = 1;
        j->force = a->force;
        j->threads = a->threads;
        j->ebur128_peak = a->ebur128_peak;
        j->user_cancel = a->user_cancel;
    }
    return LQ_OK;
}

/* The album's own files: per CD target the image, its CUE sheet and TOC. */
static lq_error claim_album_files(lq_album *a, lq_publisher *pub, lq_diag *d)
{
    const char *album = a->spec->title ? a->spec->title : "album";
    for (size_t k = 0; k < a->n_targets; k++) {
        lq_album_target *t = &a->at[k];
        if (!t->is_cd) continue;
        lq_name_fields f = {.title = album, .artist = a->spec->artist, .album = album,
                            .target = t->target->name, .ext = "wav"};
        if (!(t->image_name = lq_name_expand(LQ_ALBUM_IMAGE_PATTERN, &f)))
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        f.ext = "cue";
        t->cue_name = lq_name_expand(LQ_ALBUM_IMAGE_PATTERN, &f);
        f.ext = "toc";
        t->toc_name = lq_name_expand(LQ_ALBUM_IMAGE_PATTERN, &f);
        if (!t->cue_name || !t->toc_name) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        char who[300];
        snprintf(who, sizeof who, "target %s (image)", t->target->name);
        lq_error e = lq_publisher_claim(pub, t->image_name, who, NULL, &t->image_path, d);
        snprintf(who, sizeof who, "target %s (CUE sheet)", t->target->name);
        if (!e) e = lq_publisher_claim(pub, t->cue_name, who, NULL, NULL, d);
        snprintf(who, sizeof who, "target %s (TOC)", t->target->name);
        if (!e) e = lq_publisher_claim(pub, t->toc_name, who, NULL, NULL, d);
        if (e) return e;
    }
    lq_error e = lq_publisher_claim(pub, "report.json", "report", NULL, NULL, d);
    if (!e) e = lq_publisher_claim(pub, "report.txt", "report", NULL, NULL, d);
    if (!e && !a->no_html) e = lq_publisher_claim(pub, "report.html", "report", NULL, NULL, d);
    return e;
}

/* ---- tasks ------------------------------------------------------------------------- */

/* A track's master-stage reports (a multiband's gain-reduction envelopes are thousands
 * of numbers, some 200 KB as JSON) wait in an unlinked temporary file in the output
 * folder while the other tracks run, so the album's memory does not grow with each
 * track; unpark_reports reads them back before the reports are written (the same JSON:
 * jansson writes reals with 17 digits, which read back exactly).  When the file cannot
 * be made the reports simply stay in memory. */
static void park_reports(lq_album *a, size_t i)
{
    lq_job *j = a->jobs[i];
    if (!j->master_reports) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/.lacquer-album-XXXXXX", a->out_dir);
    int fd = mkstemp(path);
    if (fd < 0) return;
    unlink(path);
    if (json_dumpfd(j->master_reports, fd, JSON_COMPACT) != 0) {
        close(fd);
        return;
    }
    json_decref(j->master_reports);
    j->master_reports = NULL;
    a->parked[i] = fd;
}

static lq_error unpark_reports(lq_album *a, lq_diag *d)
{
    lq_error e = LQ_OK;
    for (size_t i = 0; i < a->n_jobs; i++) {
        const int fd = a->parked[i];
        if (fd < 0) continue;
        json_error_t je;
        if (!e && (lseek(fd, 0, SEEK_SET) != 0 ||
                   !(a->jobs[i]->master_reports = json_loadfd(fd, 0, &je))))
            e = lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot read back a temporary file",
                            a->out_dir);
        close(fd);
        a->parked[i] = -1;
    }
    return e;
}

static void master_fn(void *ctx, size_t i)
{
    lq_album *a = ctx;
    lq_job *j = a->jobs[i];
    if (lq_album_cancelled(a)) {
        a->job_err[i] = lq_diag_set(&a->job_diag[i], LQ_ERR_CANCELLED, "cancelled");
        return;
    }
    double t0 = lq_now_s();
    a->job_err[i] = lq_job_render_master(j, &a->job_diag[i]);
    j->time_master_s = lq_now_s() - t0;
    if (!a->job_err[i]) {
        lq_job_check_mix(j);
        a->mastered_lufs[i] = j->master_meas.integrated_lufs;
    }
    /* and its resamplings, in the same task: they need no other track, so the master
     * phase's last tasks overlap them instead of leaving threads idle at the policy's
     * barrier (the album gain needs every track's mastered level) */
    lq_tasks rt = {0};
    if (!a->job_err[i]) a->job_err[i] = lq_job_add_rate_tasks(j, &rt, &a->job_diag[i]);
    if (!a->job_err[i] && lq_queue_run(&rt, 1))
        a->job_err[i] = lq_diag_set(&a->job_diag[i], LQ_ERR_NOMEM, "out of memory");
    lq_tasks_free(&rt);
    for (size_t g = 0; g < j->n_groups; g++) {
        j->groups[g].task = LQ_TASK_NONE;   /* done: the targets wait for nothing */
        if (j->groups[g].err && !a->job_err[i]) {
            a->job_diag[i] = j->groups[g].diag;
            a->job_err[i] = j->groups[g].err;
        }
    }
    if (!a->job_err[i]) park_reports(a, i);
}

static void album_step_done(lq_album *a)
{
    pthread_mutex_lock(&a->lock);
    a->assembled++;
    double f = (double)a->assembled / (double)(a->n_targets * (a->n_jobs + 1));
    if (a->progress && a->progress(a->progress_user, "album", f > 1.0 ? 1.0 : f)) a->cancel = 1;
    pthread_mutex_unlock(&a->lock);
}

static void assemble_fn(void *ctx, size_t k)
{
    lq_album *a = ctx;
    lq_album_assemble_target(a, k);
    album_step_done(a);
}

static void measure_fn(void *ctx, size_t arg)
{
    lq_album *a = ctx;
    const size_t k = arg / a->n_jobs, i = arg % a->n_jobs;
    if (a->at[k].err) return;   /* its assembly failed: collect_assembly reports that */
    lq_export *ex = &a->jobs[i]->exports[k];
    if (lq_album_cancelled(a)) {
        ex->err = lq_diag_set(&ex->diag, LQ_ERR_CANCELLED, "cancelled");
        return;
    }
    lq_album_measure_file(a, k, i);
    album_step_done(a);
}

/* Queue the assembly of each target with need[k] (NULL: every target), the slowest
 * (highest rate) first, then the re-measuring of its files, each waiting only for its
 * own target's assembly: the files of the target assembled first come first. */
static lq_error add_assembly(lq_album *a, lq_tasks *t, const int *need, lq_diag *d)
{
    const size_t nt = a->n_targets, n = a->n_jobs;
    size_t *ord = malloc(2 * nt * sizeof *ord), *task = ord ? ord + nt : NULL, m = 0;
    if (!ord) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < nt; k++) {
        if (need && !need[k]) continue;
        const int rk = a->jobs[0]->exports[k].rate;
        size_t at = m++;
        while (at > 0 && a->jobs[0]->exports[ord[at - 1]].rate < rk) {
            ord[at] = ord[at - 1];
            at--;
        }
        ord[at] = k;
    }
    lq_error e = LQ_OK;
    for (size_t q = 0; q < m && !e; q++)
        if ((task[ord[q]] = lq_tasks_add(t, assemble_fn, a, ord[q], LQ_TASK_NONE)) == LQ_TASK_NONE)
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t q = m; q-- > 0 && !e;)
        for (size_t i = 0; i < n && !e; i++)
            if (lq_tasks_add(t, measure_fn, a, ord[q] * n + i, task[ord[q]]) == LQ_TASK_NONE)
                e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    free(ord);
    return e;
}

/* After the assembly tasks ran: the first error (an assembly's, then a file's); each
 * target's spread of track loudness. */
static lq_error collect_assembly(lq_album *a, const int *need, lq_diag *d)
{
    for (size_t k = 0; k < a->n_targets; k++)
        if ((!need || need[k]) && a->at[k].err) {
            *d = a->at[k].diag;
            return a->at[k].err;
        }
    for (size_t k = 0; k < a->n_targets; k++)
        for (size_t i = 0; i < a->n_jobs && (!need || need[k]); i++)
            if (a->jobs[i]->exports[k].err) {
                *d = a->jobs[i]->exports[k].diag;
                return a->jobs[i]->exports[k].err;
            }
    for (size_t k = 0; k < a->n_targets; k++) lq_album_target_spread(a, k);
    return LQ_OK;
}

static lq_error first_job_error(lq_album *a, lq_diag *d);
static lq_error run_queue(lq_tasks *t, int threads, lq_diag *d);

/* Finish one track for one target again, aiming past its file's error. */
static void refinish_fn(void *ctx, size_t arg)
{
    lq_album *a = ctx;
    const size_t i = arg % a->n_jobs, k = arg / a->n_jobs;
    lq_job *j = a->jobs[i];
    lq_export *ex = &j->exports[k];
    const lq_rate_group *g = NULL;
    for (size_t q = 0; q < j->n_groups; q++)
        if (j->groups[q].rate == ex->rate) g = &j->groups[q];
    ex->n_warnings = 0;
    lq_finish_target(j, ex, g);
    ex->aim_lufs = a->aims[arg];
}

/* A track file whose fades, gap or a neighbour's crossfade moved it off its level (a
 * crossfade puts the neighbour's tail into the file, which the track's own gain does not
 * move): that track is finished again at a corrected aim (the aim plus an offset that
 * accumulates over the rounds) and its target assembled again.  The file's loudness
 * moves with the aim at a slope below 1 when part of the file is the neighbour's: from
 * the second round on the step is the secant's (the last two rounds; slope held to
 * 0.2..2), so a long crossfade lands in a few rounds. */
#define CORRECT_ROUNDS 4
static lq_error correct_rounds(lq_album *a, double *prev, size_t nq, lq_diag *d);
static lq_error correct_levels(lq_album *a, lq_diag *d)
{
    const size_t n = a->n_jobs;
    const size_t nq = a->n_targets * n;
    /* per file: the aim and the measured loudness of the last round, and the offset */
    double *prev = malloc(3 * (nq ? nq : 1) * sizeof *prev);
    if (!prev) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t q = 0; q < 2 * nq; q++) prev[q] = NAN;
    for (size_t q = 2 * nq; q < 3 * nq; q++) prev[q] = 0.0;
    lq_error e = correct_rounds(a, prev, nq, d);
    free(prev);
    return e;
}

static lq_error correct_rounds(lq_album *a, double *prev, size_t nq, lq_diag *d)
{
    const size_t n = a->n_jobs;
    for (int round = 0; round < CORRECT_ROUNDS; round++) {
        lq_tasks tasks = {0};
        int any = 0;
        for (size_t k = 0; k < a->n_targets; k++)
            for (size_t i = 0; i < n; i++) {
                lq_export *ex = &a->jobs[i]->exports[k];
                const size_t q = k * n + i;
                a->redo[q] = 0;
                if (!ex->has_aim || !isfinite(ex->meas.integrated_lufs)) continue;
                double err = a->aims[q] - ex->meas.integrated_lufs;
                if (fabs(err) <= 0.02) continue;
                a->redo[q] = 1;
                any = 1;
                if (ex->have_out) lq_audio_out_discard(&ex->out);
                ex->have_out = 0;
                ex->aim_set = 1;
                const double used = a->aims[q] + prev[2 * nq + q]; /* gave this file */
                double step = err;
                const double da = used - prev[q], dm = ex->meas.integrated_lufs - prev[nq + q];
                if (isfinite(da) && isfinite(dm) && fabs(da) > 1e-6) {
                    const double slope = dm / da;
                    if (slope >= 0.2 && slope <= 2.0) step = err / slope;
                }
                prev[q] = used;
                prev[nq + q] = ex->meas.integrated_lufs;
                prev[2 * nq + q] += step;
                ex->aim_lufs = a->aims[q] + prev[2 * nq + q];
                if (lq_tasks_add(&tasks, refinish_fn, a, q, LQ_TASK_NONE) == LQ_TASK_NONE) {
                    lq_tasks_free(&tasks);
                    return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
                }
            }
        if (!any) return LQ_OK;
        lq_error e = run_queue(&tasks, a->threads, d);
        for (size_t q = 0; q < a->n_targets * n && !e; q++) {
            const lq_export *ex = &a->jobs[q % n]->exports[q / n];
            if (a->redo[q] && ex->err) {
                *d = ex->diag;
                e = ex->err;
            }
        }
        a->assembled = 0;
        int *need = e ? NULL : calloc(a->n_targets, sizeof *need);
        if (!e && !need) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < a->n_targets && !e; k++)
            for (size_t i = 0; i < n; i++) need[k] |= a->redo[k * n + i];
        if (!e) e = add_assembly(a, &tasks, need, d);
        if (!e) e = run_queue(&tasks, a->threads, d);
        if (!e) e = collect_assembly(a, need, d);
        free(need);
        lq_tasks_free(&tasks);
        if (!e && lq_album_cancelled(a)) e = lq_diag_set(d, LQ_ERR_CANCELLED, "cancelled");
        if (e) return e;
    }
    return LQ_OK;
}

static lq_error first_job_error(lq_album *a, lq_diag *d)
{
    for (size_t i = 0; i < a->n_jobs; i++)
        if (a->job_err[i]) {
            *d = a->job_diag[i];
            return a->job_err[i];
        }
    return LQ_OK;
}

static lq_error run_queue(lq_tasks *t, int threads, lq_diag *d)
{
    lq_error e = lq_queue_run(t, threads) ? lq_diag_set(d, LQ_ERR_NOMEM, "out of memory") : LQ_OK;
    lq_tasks_free(t);
    return e;
}

/* The CUE sheet and cdrdao TOC of a CD target's image (cuesheet.c), from its layout. */
static lq_error write_cue_toc(lq_album *a, lq_album_target *t, lq_publisher *pub, lq_diag *d)
{
    const lq_album_layout *L = &t->layout;
    lq_cd_layout cd;
    memset(&cd, 0, sizeof cd);
    if (L->n_tracks > LQ_CD_MAX_TRACKS)
        return lq_diag_set(d, LQ_ERR_ARG, "%zu tracks are too many for a CD", L->n_tracks);
    cd.n = L->n_tracks;
    for (size_t i = 0; i < L->n_tracks; i++) {
        cd.index0[i] = L->index00[i];
        cd.index1[i] = L->index01[i];
    }
    cd.end = L->total;
    char *cue = NULL, *toc = NULL;
    lq_error e = lq_cd_layout_check(a->spec, &cd, d);
    if (!e) e = lq_cd_cue_write(a->spec, &cd, t->image_name, &cue, d);
    if (!e) e = lq_cd_toc_write(a->spec, &cd, t->image_name, &toc, d);
    if (!e) e = lq_publisher_text(pub, t->cue_name, cue, d);
    if (!e) e = lq_publisher_text(pub, t->toc_name, toc, d);
    free(cue);
    free(toc);
    return e;
}

static lq_error write_reports(lq_album *a, lq_publisher *pub, lq_diag *d)
{
    char *js = lq_album_report_json(a), *tx = lq_album_report_text(a);
    lq_error e = js && tx ? LQ_OK : lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (!e) e = lq_publisher_text(pub, "report.json", js, d);
    if (!e) e = lq_publisher_text(pub, "report.txt", tx, d);
    free(js);
    free(tx);
    if (!e && !a->no_html) {   /* report/report_album_html.c */
        char *ht = lq_album_report_html(a);
        e = ht ? lq_publisher_text(pub, "report.html", ht, d)
               : lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        free(ht);
    }
    return e;
}

lq_error lq_album_run(lq_album *a)
{
    if (!a) return LQ_ERR_ARG;
    lq_diag d = {{0}};
    lq_album_free_run(a);
    a->errmsg[0] = 0;
    a->cancel = 0;
    a->assembled = 0;
    if (!a->spec || !a->out_dir || a->spec->n_tracks == 0) {
        snprintf(a->errmsg, sizeof a->errmsg, "an album run needs an album file with at least "
                                              "one track and an output folder");
        return LQ_ERR_ARG;
    }
    lq_publisher pub;
    memset(&pub, 0, sizeof pub);
    lq_tasks tasks = {0};
    job_ctx *ctx = calloc(a->spec->n_tracks, sizeof *ctx);
    lq_error e = ctx ? prepare(a, &d) : lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
    if (!e) e = lq_publisher_open(&pub, a->out_dir, a->force, &d);
    /* 1. names */
    for (size_t i = 0; i < a->n_jobs && !e; i++) e = lq_job_begin(a->jobs[i], &pub, &d);
    if (!e) e = claim_album_files(a, &pub, &d);
    for (size_t i = 0; i < a->n_jobs && !e; i++) {
        ctx[i] = (job_ctx){a, i};
        lq_job_set_progress(a->jobs[i], job_progress, &ctx[i]);
    }
    /* 2. every track's master bus and resamplings, in parallel */
    for (size_t i = 0; i < a->n_jobs && !e; i++)
        if (lq_tasks_add(&tasks, master_fn, a, i, LQ_TASK_NONE) == LQ_TASK_NONE)
            e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
    if (!e) e = run_queue(&tasks, a->threads, &d);
    if (!e) e = first_job_error(a, &d);
    if (!e && lq_album_cancelled(a)) e = lq_diag_set(&d, LQ_ERR_CANCELLED, "cancelled");
    /* 3. the loudness policy; every final render also spooled for the album */
    if (!e) e = lq_album_apply_policy(a, &d);
    for (size_t i = 0; i < a->n_jobs && !e; i++)
        for (size_t k = 0; k < a->n_targets; k++) {
            a->jobs[i]->exports[k].spool_out = &a->spools[k * a->n_jobs + i];
            a->jobs[i]->exports[k].album_dither = &a->dither;
        }
    /* the closed loops meter each track as its file will hold it */
    for (size_t k = 0; k < a->n_targets && !e; k++)
        if (lq_album_plan_shapes(a, k)) e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
    /* 4. every track's targets, through one queue (resamplings ran in the master tasks) */
    if (!e) reset_progress(a);
    for (size_t i = 0; i < a->n_jobs && !e; i++) e = lq_job_add_target_tasks(a->jobs[i], &tasks, &d);
    if (!e) e = run_queue(&tasks, a->threads, &d);
    for (size_t i = 0; i < a->n_jobs && !e; i++) e = lq_job_collect(a->jobs[i], &d);
    for (size_t i = 0; i < a->n_jobs && !e; i++)
        for (size_t k = 0; k < a->n_targets; k++) {
            const lq_export *ex = &a->jobs[i]->exports[k];
            a->aims[k * a->n_jobs + i] = ex->has_aim ? ex->aim_lufs : NAN;
        }
    if (!e && lq_album_cancelled(a)) e = lq_diag_set(&d, LQ_ERR_CANCELLED, "cancelled");
    /* 5. per target: the continuous render, dithered once, split; every file measured */
    if (!e) e = add_assembly(a, &tasks, NULL, &d);
    if (!e) e = run_queue(&tasks, a->threads, &d);
    if (!e) e = collect_assembly(a, NULL, &d);
    if (!e && lq_album_cancelled(a)) e = lq_diag_set(&d, LQ_ERR_CANCELLED, "cancelled");
    if (!e) e = correct_levels(a, &d);
    /* 6. publish, then the reports */
    if (!e) {
        a->ran = 1;
        for (size_t i = 0; i < a->n_jobs; i++) a->jobs[i]->ran = 1;
    }
    for (size_t i = 0; i < a->n_jobs && !e; i++) e = lq_job_publish_exports(a->jobs[i], &pub, &d);
    for (size_t k = 0; k < a->n_targets && !e; k++)
        if (a->at[k].have_image) {
            e = lq_publisher_export(&pub, &a->at[k].image, a->at[k].image_path, &d);
            lq_audio_out_discard(&a->at[k].image);
            a->at[k].have_image = 0;
            if (!e) e = write_cue_toc(a, &a->at[k], &pub, &d);
        }
    if (!e) e = unpark_reports(a, &d);
    if (!e) e = write_reports(a, &pub, &d);
    if (e) {
        lq_publisher_rollback(&pub);
        a->ran = 0;
        snprintf(a->errmsg, sizeof a->errmsg, "%s", d.msg[0] ? d.msg : lq_strerror(e));
    }
    for (size_t i = 0; i < a->n_jobs; i++)
        if (a->jobs[i]) lq_job_end(a->jobs[i], e);   /* (prepare may stop before all exist) */
    for (size_t i = 0; i < a->n_targets * a->n_jobs; i++) lq_spool_destroy(&a->spools[i]);
    for (size_t k = 0; k < a->n_targets && a->at; k++)
        if (a->at[k].have_image) {
            lq_audio_out_discard(&a->at[k].image);
            a->at[k].have_image = 0;
        }
    for (size_t i = 0; i < a->n_jobs; i++)
        if (a->jobs[i]) lq_job_set_progress(a->jobs[i], NULL, NULL);
    lq_tasks_free(&tasks);
    lq_publisher_free(&pub);
    free(ctx);
    return e;
}
