/* The album's loudness policy: where each track's export lands, per target.
 *   track: every track on the target's loudness, as `lacquer master` does;
 *   album: one gain for the whole record against the tracks' mastered levels (the
 *          master bus's integrated loudness), so that the anchor lands on the target:
 *          the loudest track (plus its offset_db), or the album's integrated loudness
 *          (gated over all tracks' blocks together, ITU-R BS.1770-4 section 2; the
 *          album gain of ReplayGain 2.0 and of the services' album mode).  Each track
 *          keeps its level relative to the others plus its offset_db; its finishing
 *          chain (engine/finish.c) lands it there, limiter and ceilings per track.
 *   A target without a loudness figure: the anchor lands on the reference's level when
 *   the tracks were matched to a reference (the release's first), as `master` does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "album/run.h"

#define BLOCK 4096

/* Integrated loudness of all tracks' master spools played one after the other, each
 * with its offset: one meter, so the gating runs over every block of the album. */
static lq_error album_integrated(lq_album *a, double *lufs, lq_diag *d)
{
    const int ch = a->jobs[0]->in_channels;
    const double rate = a->jobs[0]->in_rate;
    int same = 1;
    for (size_t i = 1; i < a->n_jobs; i++)
        same &= a->jobs[i]->in_channels == ch && a->jobs[i]->in_rate == rate;
    if (!same) {
        /* different rates or channel counts: the duration-weighted power mean of the
         * tracks' loudness (equal to the gated figure when no block is gated away) */
        double num = 0, den = 0;
        for (size_t i = 0; i < a->n_jobs; i++) {
            double l = a->mastered_lufs[i] + a->spec->tracks[i].offset_db;
            double dur = (double)a->jobs[i]->in_frames / a->jobs[i]->in_rate;
            if (isfinite(l)) num += dur * pow(10.0, l / 10.0);
            den += dur;
        }
        *lufs = num > 0 && den > 0 ? 10.0 * log10(num / den) : -HUGE_VAL;
        return LQ_OK;
    }
    lq_meter *m = NULL;
    double *mem = malloc((size_t)2 * BLOCK * sizeof *mem);
    double *pl[2] = {mem, mem ? mem + BLOCK : NULL};
    lq_error e = mem ? lq_meter_new(&m, ch, rate, LQ_METER_LOUDNESS, BLOCK, d)
                     : lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < a->n_jobs && !e; i++) {
        lq_spool_reader rd;
        if (lq_spool_reader_init(&rd, &a->jobs[i]->master, BLOCK)) {
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
            break;
        }
        const double g = pow(10.0, a->spec->tracks[i].offset_db / 20.0);
        size_t n;
        while ((n = lq_spool_read(&rd, pl, BLOCK)) > 0 && n != (size_t)-1) {
            for (int c = 0; c < ch; c++)
                for (size_t s = 0; s < n; s++) pl[c][s] *= g;
            lq_meter_push(m, (const double *const *)pl, n);
        }
        if (n == (size_t)-1) e = lq_diag_set(d, LQ_ERR_OUTPUT, "cannot read back a temporary file");
        lq_spool_reader_free(&rd);
    }
    if (!e) {
        lq_meter_result r;
        lq_meter_result_get(m, &r);
        *lufs = r.integrated_lufs;
    }
    lq_meter_destroy(&m);
    free(mem);
    return e;
}

lq_error lq_album_apply_policy(lq_album *a, lq_diag *d)
{
    const lq_album_spec *s = a->spec;
    double integ = -HUGE_VAL;
    if (s->loudness == LQ_ALBUM_LOUDNESS_ALBUM && s->anchor == LQ_ANCHOR_INTEGRATED) {
        lq_error e = album_integrated(a, &integ, d);
        if (e) return e;
    }
    /* the references' level (docs/ALBUM.md): the release's reference when the album has
     * one, else the first track's (in album order) that matched to a reference of its own
     * or of its preset; none: -inf */
    double ref_lufs = -HUGE_VAL;
    for (int pass = 0; pass < 2 && !isfinite(ref_lufs); pass++)
        for (size_t i = 0; i < a->n_jobs; i++) {
            const int release = s->ref && !s->tracks[i].ref;
            if ((pass == 0 && !release) || !a->jobs[i]->has_ref_level) continue;
            ref_lufs = a->jobs[i]->ref_level_lufs;
            break;
        }
    double loudest = -HUGE_VAL;
    for (size_t i = 0; i < a->n_jobs; i++)
        loudest = fmax(loudest, a->mastered_lufs[i] + s->tracks[i].offset_db);
    for (size_t k = 0; k < a->n_targets; k++) {
        lq_album_target *at = &a->at[k];
        const lq_target *t = a->targets[k];
        /* the level the anchor lands on: the target's, else the references' (as
         * `master`), else the album preset's own */
        const lq_preset *p0 = a->presets[0];
        const int from_ref = !t->has_loudness && isfinite(ref_lufs);
        at->has_aim = t->has_loudness || from_ref || p0->has_level;
        at->aim_lufs = t->has_loudness ? t->loudness_lufs : from_ref ? ref_lufs : p0->level_lufs;
        at->anchor_lufs = s->anchor == LQ_ANCHOR_INTEGRATED ? integ : loudest;
        at->album_gain_db = at->has_aim && isfinite(at->anchor_lufs)
                                ? at->aim_lufs - at->anchor_lufs : 0.0;
        for (size_t i = 0; i < a->n_jobs; i++) {
            lq_export *ex = &a->jobs[i]->exports[k];
            const double m = a->mastered_lufs[i];
            if (s->loudness == LQ_ALBUM_LOUDNESS_TRACK) {
                ex->aim_set = 0;   /* finish.c: the target's figure, as `master` */
                continue;
            }
            ex->aim_set = 1;
            ex->aim_from_preset = !t->has_loudness && !from_ref && p0->has_level;
            ex->aim_from_reference = from_ref;
            ex->has_aim = isfinite(m);
            /* with no level to land on, the album gain is 0: each track keeps its
             * mastered level, moved by its offset */
            ex->aim_lufs = m + s->tracks[i].offset_db + at->album_gain_db;
        }
    }
    return LQ_OK;
}
