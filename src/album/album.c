/* lq_album: the public album API (include/lacquer/lacquer.h): an album file loaded,
 * its targets, output folder and settings, its results once run, and its state freed.
 * The run itself is album_run.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "album/run.h"
#include "lacquer/lacquer.h"


static char *dupstr(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

lq_error lq_album_new(lq_album **out)
{
    if (!out) return LQ_ERR_ARG;
    lq_album *a = calloc(1, sizeof *a);
    if (!a) return LQ_ERR_NOMEM;
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return LQ_OK;
}

lq_error lq_album_load(lq_album *a, const char *album_file, const char *preset_dir, char *err,
                       size_t errlen)
{
    if (!a || !album_file || !preset_dir) return LQ_ERR_ARG;
    lq_diag d = {{0}};
    lq_album_spec *spec = NULL;
    lq_error e = lq_album_spec_load_dir(&spec, album_file, preset_dir, &d);
    if (e) {
        if (err && errlen) snprintf(err, errlen, "%s", d.msg[0] ? d.msg : lq_strerror(e));
        return e;
    }
    if (a->own_spec) lq_album_spec_free(&a->spec);
    a->spec = spec;
    a->own_spec = 1;
    free(a->preset_dir);
    return (a->preset_dir = dupstr(preset_dir)) ? LQ_OK : LQ_ERR_NOMEM;
}

lq_error lq_album_set_output_dir(lq_album *a, const char *dir)
{
    if (!a || !dir) return LQ_ERR_ARG;
    free(a->out_dir);
    return (a->out_dir = dupstr(dir)) ? LQ_OK : LQ_ERR_NOMEM;
}

lq_error lq_album_add_target(lq_album *a, const lq_target *t)
{
    if (!a || !t) return LQ_ERR_ARG;
    const lq_target **n = realloc(a->extra_targets, (a->n_extra + 1) * sizeof *n);
    if (!n) return LQ_ERR_NOMEM;
    n[a->n_extra++] = t;
    a->extra_targets = n;
    return LQ_OK;
}

void lq_album_set_threads(lq_album *a, int threads) { a->threads = threads; }
void lq_album_set_ebur128_peak(lq_album *a, int on) { a->ebur128_peak = on != 0; }
void lq_album_set_force(lq_album *a, int force) { a->force = force; }
void lq_album_set_progress(lq_album *a, lq_progress_fn fn, void *user)
{
    a->progress = fn;
    a->progress_user = user;
}
void lq_album_set_cancel_flag(lq_album *a, const volatile sig_atomic_t *flag)
{
    a->user_cancel = flag;
}
const char *lq_album_error_message(const lq_album *a) { return a->errmsg; }

int lq_album_targets_met(const lq_album *a)
{
    if (!a || !a->ran) return 0;
    for (size_t i = 0; i < a->n_jobs; i++)
        if (!lq_job_targets_met(a->jobs[i])) return 0;
    return 1;
}

int lq_album_cancelled(lq_album *a)
{
    if (a->user_cancel && *a->user_cancel) a->cancel = 1;
    return a->cancel;
}

/* ---- the run's state ------------------------------------------------------------- */

/* A layout (plan_layout in assemble.c allocates it) */
void lq_album_layout_free(lq_album_layout *L)
{
    free(L->start);
    free(L->join_peak_dbtp);
    memset(L, 0, sizeof *L);
}

void lq_album_free_run(lq_album *a)
{
    lq_stage_spec_free(&a->dither);
    if (a->at) {
        for (size_t k = 0; k < a->n_targets; k++) {
            lq_album_target *t = &a->at[k];
            lq_album_layout_free(&t->layout);
            json_decref(t->dither_report);
            if (t->have_image) lq_audio_out_discard(&t->image);
            free(t->image_name);
            free(t->image_path);
            free(t->cue_name);
            free(t->toc_name);
        }
        free(a->at);
        a->at = NULL;
    }
    if (a->spools) {
        for (size_t i = 0; i < a->n_targets * a->n_jobs; i++) lq_spool_destroy(&a->spools[i]);
        free(a->spools);
        a->spools = NULL;
    }
    for (size_t i = 0; i < a->n_jobs; i++) {
        if (a->jobs) lq_job_destroy(&a->jobs[i]);
        if (a->presets) lq_preset_destroy(&a->presets[i]);
        if (a->track_ov) lq_overrides_destroy(&a->track_ov[i]);
        if (a->track_targets && a->track_targets[i]) {
            for (size_t k = 0; k < a->n_targets; k++) lq_target_destroy(&a->track_targets[i][k]);
            free(a->track_targets[i]);
        }
    }
    free(a->track_ov);
    free(a->track_targets);
    a->track_ov = NULL;
    a->track_targets = NULL;
    free(a->jobs);
    free(a->presets);
    free(a->job_err);
    free(a->job_diag);
    free(a->progress_frac);
    free(a->mastered_lufs);
    free(a->aims);
    free(a->redo);
    if (a->parked)
        for (size_t i = 0; i < a->n_jobs; i++)
            if (a->parked[i] >= 0) close(a->parked[i]);
    free(a->parked);
    a->parked = NULL;
    a->aims = NULL;
    a->redo = NULL;
    a->jobs = NULL;
    a->presets = NULL;
    a->job_err = NULL;
    a->job_diag = NULL;
    a->progress_frac = NULL;
    a->mastered_lufs = NULL;
    a->n_jobs = 0;
    if (a->owned_targets) {
        for (size_t k = 0; k < a->n_targets; k++) lq_target_destroy(&a->owned_targets[k]);
        free(a->owned_targets);
        a->owned_targets = NULL;
    }
    free(a->targets);
    a->targets = NULL;
    a->n_targets = 0;
    a->ran = 0;
}

void lq_album_destroy(lq_album **pa)
{
    lq_album *a = *pa;
    if (!a) return;
    lq_album_free_run(a);
    if (a->own_spec) lq_album_spec_free(&a->spec);
    free(a->preset_dir);
    free(a->out_dir);
    free(a->extra_targets);
    pthread_mutex_destroy(&a->lock);
    free(a);
    *pa = NULL;
}

