/* The album report (docs/REPORT.md, "Album reports"): report.json with the album's
 * figures per target, the CD layout, a row per track (with each track's own job report
 * nested), and warnings in plain words when a track stands out from the record;
 * report.txt the same for people.  Built from an lq_album's results only. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "album/run.h"
#include "report/report.h"

#define STANDS_OUT_LU 3.0      /* a track this much louder than the album's median */
#define DENSER_DB 3.0          /* PLR this much lower than the album's median */
#define LOW_END_DB 4.0         /* low-end balance this far from the album's median */
#define LEVEL_KEPT_LU 0.1      /* a track's level difference changed by more than this */

static json_t *num(double v)
{
    return isfinite(v) ? json_real(round(v * 1e4) / 1e4) : json_null();
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) v[m++] = v[i];
    if (!m) return NAN;
    qsort(v, m, sizeof *v, cmp_d);
    return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

static void msf(long long samples, char *buf, size_t n)
{
    long long f = samples / LQ_CD_FRAME;
    snprintf(buf, n, "%02lld:%02lld:%02lld", f / (75 * 60), f / 75 % 60, f % 75);
}

/* Plain-words warnings on the record: a track much louder, much denser or with a
 * different low-end balance than the album's median track (mastered levels), and any
 * track whose level difference to the loudest was changed by its limiter. */
static size_t album_warnings(const lq_album *a, char (*w)[400], size_t max)
{
    const size_t n = a->n_jobs;
    size_t nw = 0;
    double *v = malloc(3 * n * sizeof *v);
    if (!v || n < 3) {
        free(v);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const lq_meter_result *m = &a->jobs[i]->master_meas;
        v[i] = m->integrated_lufs;
        v[n + i] = m->true_peak_16x_dbtp - m->integrated_lufs;
        v[2 * n + i] = a->jobs[i]->in_meas.low_end_balance_db;
    }
    double ml = median(v, n), mp = median(v + n, n), mb = median(v + 2 * n, n);
    for (size_t i = 0; i < n && nw < max; i++) {
        const lq_job *j = a->jobs[i];
        const lq_meter_result *m = &j->master_meas;
        double plr = m->true_peak_16x_dbtp - m->integrated_lufs;
        if (m->integrated_lufs - ml > STANDS_OUT_LU)
            snprintf(w[nw++], 400, "track %zu (%s) is much louder than the rest of the record "
                     "(%.1f LU above the median track)", i + 1, j->title, m->integrated_lufs - ml);
        if (nw < max && mp - plr > DENSER_DB)
            snprintf(w[nw++], 400, "track %zu (%s) is much denser than the rest of the record "
                     "(peak-to-loudness %.1f dB against %.1f dB for the median track)", i + 1,
                     j->title, plr, mp);
        double b = j->in_meas.low_end_balance_db;
        if (nw < max && isfinite(b) && isfinite(mb) && fabs(b - mb) > LOW_END_DB)
            snprintf(w[nw++], 400, "track %zu (%s) has a different low-end balance from the "
                     "rest of the record (%+.1f dB against the median track)", i + 1, j->title,
                     b - mb);
    }
    free(v);
    return nw;
}

json_t *lq_album_report_build(const lq_album *a)
{
    const lq_album_spec *s = a->spec;
    json_t *r = json_object();
    json_t *meta = json_object();
    json_object_set_new(meta, "version", json_string(lq_version()));
    json_object_set_new(meta, "report_schema", json_integer(1));
    json_object_set_new(meta, "kind", json_string("album"));
    json_object_set_new(r, "lacquer", meta);
    json_t *al = json_object();
    json_object_set_new(al, "file", json_string(s->file ? s->file : ""));
    json_object_set_new(al, "title", json_string(s->title ? s->title : ""));
    json_object_set_new(al, "artist", json_string(s->artist ? s->artist : ""));
    json_object_set_new(al, "loudness", json_string(s->loudness == LQ_ALBUM_LOUDNESS_TRACK ? "track" : "album"));
    json_object_set_new(al, "album_anchor", json_string(s->anchor == LQ_ANCHOR_INTEGRATED ? "integrated" : "loudest"));
    json_object_set_new(al, "tracks", json_integer((json_int_t)a->n_jobs));
    double longest = 0;
    for (size_t i = 1; i < a->n_jobs; i++) longest = fmax(longest, s->tracks[i].gap_s);
    json_object_set_new(al, "longest_gap_s", num(longest));
    json_object_set_new(r, "album", al);

    json_t *targets = json_array();
    for (size_t k = 0; k < a->n_targets; k++) {
        const lq_album_target *at = &a->at[k];
        const lq_album_layout *L = &at->layout;
        const double rate = a->jobs[0]->exports[k].rate;
        json_t *o = json_object();
        json_object_set_new(o, "target", json_string(at->target->name));
        json_object_set_new(o, "sample_rate", json_integer((json_int_t)rate));
        json_object_set_new(o, "album_gain_db", num(at->album_gain_db));
        json_object_set_new(o, "anchor_lufs", num(at->anchor_lufs));
        json_object_set_new(o, "aim_lufs", at->has_aim ? num(at->aim_lufs) : json_null());
        json_object_set_new(o, "album_integrated_lufs", num(at->album_lufs));
        json_object_set_new(o, "track_loudness_spread_lu", num(at->spread_lu));
        json_object_set_new(o, "dithered_once", json_boolean(at->dithered));
        json_object_set_new(o, "dither_clipped", json_integer(at->dither_clipped));
        /* the record's dither as it ran: the album's (`dither:` on the default preset's) */
        json_object_set_new(o, "dither", at->dither_report ? json_deep_copy(at->dither_report)
                                                           : json_null());
        json_object_set_new(o, "total_frames", json_integer(L->total));
        json_object_set_new(o, "duration_s", num((double)L->total / rate));
        /* the crossfades: the summed overlap's true peak, and the join limiter's work
         * where it passed the ceiling (album/assemble.c) */
        json_t *xf = json_array();
        for (size_t i = 0; L->join_peak_dbtp && i + 1 < L->n_tracks; i++) {
            if (!isfinite(L->join_ceiling_dbtp[i])) continue;
            json_t *x = json_object();
            json_object_set_new(x, "from_track", json_integer((json_int_t)i + 1));
            json_object_set_new(x, "to_track", json_integer((json_int_t)i + 2));
            json_object_set_new(x, "overlap_true_peak_dbtp", num(L->join_peak_dbtp[i]));
            json_object_set_new(x, "ceiling_dbtp", num(L->join_ceiling_dbtp[i]));
            json_object_set_new(x, "limiter_reduction_db", num(L->join_gr_db[i]));
            json_array_append_new(xf, x);
        }
        json_object_set_new(o, "crossfades", xf);
        if (at->is_cd) {
            json_t *cd = json_object();
            json_object_set_new(cd, "image", json_string(at->image_path ? at->image_path : ""));
            json_object_set_new(cd, "image_true_peak_dbtp", num(at->image_meas.true_peak_16x_dbtp));
            json_object_set_new(cd, "image_integrated_lufs", num(at->image_meas.integrated_lufs));
            json_t *rows = json_array();
            for (size_t i = 0; i < L->n_tracks; i++) {
                json_t *t = json_object();
                char m[32];
                json_object_set_new(t, "track", json_integer((json_int_t)i + 1));
                if (L->index00[i] >= 0) {
                    msf(L->index00[i], m, sizeof m);
                    json_object_set_new(t, "index00_msf", json_string(m));
                    json_object_set_new(t, "index00_sample", json_integer(L->index00[i]));
                }
                msf(L->index01[i], m, sizeof m);
                json_object_set_new(t, "index01_msf", json_string(m));
                json_object_set_new(t, "index01_sample", json_integer(L->index01[i]));
                json_array_append_new(rows, t);
            }
            json_object_set_new(cd, "tracks", rows);
            json_object_set_new(o, "cd", cd);
        }
        json_array_append_new(targets, o);
    }
    json_object_set_new(r, "targets", targets);

    json_t *tracks = json_array();
    for (size_t i = 0; i < a->n_jobs; i++) {
        const lq_job *j = a->jobs[i];
        const lq_album_track *tr = &s->tracks[i];
        json_t *t = json_object();
        json_object_set_new(t, "track", json_integer((json_int_t)i + 1));
        json_object_set_new(t, "title", json_string(j->title));
        json_object_set_new(t, "mastered_lufs", num(a->mastered_lufs[i]));
        json_object_set_new(t, "offset_db", num(tr->offset_db));
        json_object_set_new(t, "gap_s", num(tr->gap_s));
        json_object_set_new(t, "crossfade_ms", num(tr->crossfade_ms));
        json_t *per = json_array();
        for (size_t k = 0; k < a->n_targets; k++) {
            const lq_export *ex = &j->exports[k];
            const lq_album_layout *L = &a->at[k].layout;
            json_t *p = json_object();
            json_object_set_new(p, "target", json_string(ex->target->name));
            json_object_set_new(p, "file", json_string(ex->file_name));
            json_object_set_new(p, "integrated_lufs", num(ex->meas.integrated_lufs));
            json_object_set_new(p, "loudness_range_lu", num(ex->meas.lra_lu));
            json_object_set_new(p, "true_peak_dbtp", num(ex->meas.true_peak_16x_dbtp));
            json_object_set_new(p, "plr_db", num(ex->meas.true_peak_16x_dbtp - ex->meas.integrated_lufs));
            json_object_set_new(p, "aim_lufs", ex->has_aim ? num(ex->aim_lufs) : json_null());
            json_object_set_new(p, "gain_db", num(ex->gain_db));
            json_object_set_new(p, "limiter_reduction_db", num(ex->max_gr_db));
            json_object_set_new(p, "start_frame", json_integer(L->n_tracks ? L->index01[i] : 0));
            json_object_set_new(p, "met", json_boolean(ex->met));
            json_array_append_new(per, p);
        }
        json_object_set_new(t, "targets", per);
        json_object_set_new(t, "report", lq_report_build(j));
        json_array_append_new(tracks, t);
    }
    json_object_set_new(r, "tracks", tracks);
    char w[16][400];
    size_t nw = album_warnings(a, w, 16);
    json_t *wa = json_array();
    for (size_t i = 0; i < nw; i++) json_array_append_new(wa, json_string(w[i]));
    json_object_set_new(r, "album_warnings", wa);
    json_object_set_new(r, "all_met", json_boolean(lq_album_targets_met(a)));
    return r;
}

char *lq_album_report_json(const lq_album *a)
{
    if (!a || !a->ran) return NULL;
    return lq_report_dump(lq_album_report_build(a));
}

char *lq_album_report_text(const lq_album *a)
{
    if (!a || !a->ran) return NULL;
    const lq_album_spec *s = a->spec;
    lq_text b = {0};
    lq_text_add(&b, "lacquer %s album report\n\n", lq_version());
    lq_text_add(&b, "album     %s%s%s (%zu tracks)\n", s->title ? s->title : "", s->artist ? " — " : "",
        s->artist ? s->artist : "", a->n_jobs);
    lq_text_add(&b, "loudness  %s%s\n\n", s->loudness == LQ_ALBUM_LOUDNESS_TRACK ? "track (every track to the target)"
                                   : "album (one gain for the record), anchor: ",
        s->loudness == LQ_ALBUM_LOUDNESS_TRACK ? ""
        : s->anchor == LQ_ANCHOR_INTEGRATED ? "album integrated" : "loudest track");
    /* the mix check first, per track (the same findings as `lacquer check`) */
    int any = 0;
    for (size_t i = 0; i < a->n_jobs; i++) {
        const lq_job *j = a->jobs[i];
        for (size_t f = 0; f < j->n_findings; f++) {
            if (!any) lq_text_add(&b, "The mixes (mastering cannot fix these; see `lacquer check`):\n");
            any = 1;
            lq_text_add(&b, "  track %zu (%s): %s\n    fix: %s\n", i + 1, j->title,
                j->findings[f].message, j->findings[f].fix);
        }
    }
    lq_text_add(&b, any ? "\n" : "The mixes: every track ready for mastering (no finding of "
                          "`lacquer check`).\n\n");
    for (size_t k = 0; k < a->n_targets; k++) {
        const lq_album_target *at = &a->at[k];
        const lq_album_layout *L = &at->layout;
        const double rate = a->jobs[0]->exports[k].rate;
        const char *dt = json_string_value(json_object_get(at->dither_report, "type"));
        const char *ds = json_string_value(json_object_get(at->dither_report, "shaping"));
        lq_text_add(&b, "target %s: album %.2f LUFS, track spread %.2f LU, album gain %+.2f dB, "
                        "%.1f s%s%s%s%s%s",
            at->target->name, at->album_lufs, at->spread_lu, at->album_gain_db,
            (double)L->total / rate, at->dithered ? ", dithered once over the record" : "",
            dt ? " (" : "", dt ? dt : "", dt && ds ? ", shaping " : "", dt ? (ds ? ds : "") : "");
        if (dt) lq_text_add(&b, "%s", ")\n");
        else lq_text_add(&b, "%s", "\n");
        lq_text_add(&b, "   # %-28s %8s %6s %7s %6s %7s %7s  %s\n", "track", "LUFS", "LRA", "dBTP", "PLR",
            "gain", "lim GR", "verdict");
        for (size_t i = 0; i < a->n_jobs; i++) {
            const lq_export *ex = &a->jobs[i]->exports[k];
            char m[32] = "";
            if (at->is_cd) msf(L->index01[i], m, sizeof m);
            lq_text_add(&b, "  %2zu %-28.28s %8.2f %6.2f %7.2f %6.2f %+7.2f %7.2f  %s%s%s\n", i + 1,
                a->jobs[i]->title, ex->meas.integrated_lufs, ex->meas.lra_lu,
                ex->meas.true_peak_16x_dbtp, ex->meas.true_peak_16x_dbtp - ex->meas.integrated_lufs,
                ex->gain_db, ex->max_gr_db, ex->met ? "met" : "NOT MET", m[0] ? "  at " : "", m);
            for (int w = 0; w < ex->n_warnings; w++) lq_text_add(&b, "       ! %s\n", ex->warnings[w]);
        }
        for (size_t i = 0; L->join_peak_dbtp && i + 1 < L->n_tracks; i++)
            if (isfinite(L->join_ceiling_dbtp[i]) && L->join_gr_db[i] > 0)
                lq_text_add(&b, "  crossfade %zu -> %zu: the two tracks summed to %.2f dBTP, "
                    "over the %.2f dBTP ceiling: limited by up to %.2f dB\n", i + 1, i + 2,
                    L->join_peak_dbtp[i], L->join_ceiling_dbtp[i], L->join_gr_db[i]);
        if (at->is_cd)
            lq_text_add(&b, "  CD image %s: %lld samples (%lld frames), true peak %.2f dBTP\n",
                at->image_name ? at->image_name : "", L->total, L->total / LQ_CD_FRAME,
                at->image_meas.true_peak_16x_dbtp);
        lq_text_add(&b, "\n");
    }
    /* the limiter's work per track: a level difference that changed is never silent */
    lq_text_add(&b, "limiter per track (largest reduction over the targets):\n");
    int pulled = 0;
    for (size_t i = 0; i < a->n_jobs; i++) {
        double gr = 0;
        for (size_t k = 0; k < a->n_targets; k++) gr = fmax(gr, a->jobs[i]->exports[k].max_gr_db);
        if (gr > 0.05) {
            lq_text_add(&b, "  track %zu (%s): pulled down by up to %.1f dB on peaks\n", i + 1,
                a->jobs[i]->title, gr);
            pulled = 1;
        }
    }
    if (!pulled) lq_text_add(&b, "  none: no track needed the limiter\n");
    char w[16][400];
    size_t nw = album_warnings(a, w, 16);
    if (nw) lq_text_add(&b, "\nthe record:\n");
    for (size_t i = 0; i < nw; i++) lq_text_add(&b, "  ! %s\n", w[i]);
    lq_text_add(&b, "\n%s\n", lq_album_targets_met(a) ? "every track met every target"
                                              : "at least one track did not meet a target");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
