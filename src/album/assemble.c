/* One target's continuous render: every track's finished signal (gain and limiter at
 * the target rate, not yet dithered: engine/finish.c spools it) laid end to end with
 * its gap of silence, fades and crossfades; dithered ONCE over the whole render (so a
 * gapless or crossfaded join carries no dither discontinuity), then split at the track
 * starts into the per-track files, and for a CD target also written whole as the image.
 *
 * CD layout (Red Book, IEC 60908): a CD addresses audio in frames of 588 samples
 * (1/75 s).  Every INDEX 01 lies on a frame boundary: a gap is rounded to whole frames
 * and the track after it starts on a frame; across a gapless or crossfaded join the
 * audio runs on unchanged and the INDEX is the nearest frame boundary.  The render is
 * padded with silence to a whole frame.  Files are split at INDEX 01: the gap before a
 * track belongs to the end of the track before it (as shnsplit cuts by default), so
 * the per-track files concatenate back to the image bit for bit.
 *
 * Crossfades and the ceiling.  Each track arrives limited to its export's ceiling, but
 * a crossfade sums two of them: with equal-power fades (sin/cos, both 0.707 at the
 * middle) correlated material sums to up to +3 dB over either track.  So each
 * crossfade's summed overlap is measured (16x true peak, as the exports are verified)
 * and, when it passes the lower of the two tracks' limiter ceilings, the region around
 * it (from the limiter's lookahead before the overlap to ~16 release time constants
 * after it) goes through the true-peak limiter of the incoming track's finishing chain
 * (its preset's finish.limiter with the target's overrides, at that ceiling), as the
 * record would through a limiter on the continuous render.  Outside those regions the
 * render is the tracks' own samples; at a region's edges the limited signal is blended
 * into the unlimited one over a few ms (a convex mix of two signals under the ceiling
 * stays under it; where the limiter has let go they are equal anyway).  The limited
 * regions are spooled, so memory does not grow with the crossfade's length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "album/run.h"
#include "engine/chain.h"
#include "dsp/truepeak.h"
#include "io/tags.h"
#include "stages/dither.h"
#include "stages/limiter.h"

#define BLOCK 4096

lq_error lq_album_record_dither(lq_album *a, lq_diag *d)
{
    const lq_album_spec *s = a->spec;
    lq_stage_spec_free(&a->dither);
    lq_preset *p = NULL;
    char err[1024] = "";
    lq_error e = lq_preset_load(&p, s->preset ? s->preset : "gentle", a->preset_dir, NULL, err,
                                sizeof err);
    if (e) return lq_diag_set(d, e, "%s", err[0] ? err : lq_strerror(e));
    e = lq_stage_spec_override(&a->dither, &p->dither, s->dither, d);
    lq_preset_destroy(&p);
    return e;
}

void lq_album_layout_free(lq_album_layout *L)
{
    free(L->start);
    free(L->join_peak_dbtp);
    memset(L, 0, sizeof *L);
}

static long long round_up(long long x, long long m) { return (x + m - 1) / m * m; }
static long long round_near(long long x, long long m) { return (x + m / 2) / m * m; }

/* The layout of target k's render, its tracks `frames` long (NULL: their spools'). */
static lq_error plan_layout(const lq_album *a, size_t k, const long long *frames,
                            lq_album_layout *L)
{
    const size_t n = a->n_jobs;
    const lq_album_spec *s = a->spec;
    memset(L, 0, sizeof *L);
    long long *mem = calloc(6 * n, sizeof *mem);
    double *jm = malloc(3 * n * sizeof *jm);
    if (!mem || !jm) {
        free(mem);
        free(jm);
        return LQ_ERR_NOMEM;
    }
    for (size_t i = 0; i < 3 * n; i++) jm[i] = NAN;
    L->join_peak_dbtp = jm;
    L->join_ceiling_dbtp = jm + n;
    L->join_gr_db = jm + 2 * n;
    L->n_tracks = n;
    L->start = mem;
    L->frames = mem + n;
    L->gap = mem + 2 * n;
    L->xfade = mem + 3 * n;
    L->index00 = mem + 4 * n;
    L->index01 = mem + 5 * n;
    L->cd = a->at[k].is_cd;
    const double rate = a->jobs[0]->exports[k].rate;
    for (size_t i = 0; i < n; i++) L->frames[i] = frames ? frames[i] : a->spools[k * n + i].frames;
    for (size_t i = 0; i + 1 < n; i++) {
        long long x = llround(s->tracks[i].crossfade_ms * rate / 1000.0);
        long long lim = (L->frames[i] < L->frames[i + 1] ? L->frames[i] : L->frames[i + 1]) / 2;
        L->xfade[i] = x < 0 ? 0 : x > lim ? lim : x;
    }
    long long pos = 0;   /* the end of what came before */
    for (size_t i = 0; i < n; i++) {
        L->index00[i] = -1;
        if (i > 0 && L->xfade[i - 1] > 0) {
            L->start[i] = pos - L->xfade[i - 1];
        } else {
            long long gap = llround(s->tracks[i].gap_s * rate);
            if (L->cd) gap = llround(s->tracks[i].gap_s * 75.0) * LQ_CD_FRAME;
            L->start[i] = pos + gap;
            if (L->cd && gap > 0) L->start[i] = round_up(pos + gap, LQ_CD_FRAME);
            L->gap[i] = L->start[i] - pos;
            if (gap > 0) L->index00[i] = L->start[i] - gap;
        }
        if (i == 0) {
            /* the render begins with track 1's gap, if any (INDEX 00 at 0); the disc's
             * own 2 s pre-gap is the player's or burner's, not in the image */
            L->index01[i] = L->start[i];
        } else {
            L->index01[i] = L->cd ? round_near(L->start[i], LQ_CD_FRAME) : L->start[i];
            if (L->index01[i] <= L->index01[i - 1]) L->index01[i] = L->index01[i - 1] + (L->cd ? LQ_CD_FRAME : 1);
        }
        pos = L->start[i] + L->frames[i];
    }
    L->total = L->cd ? round_up(pos, LQ_CD_FRAME) : pos;
    return LQ_OK;
}

lq_error lq_album_plan_layout(const lq_album *a, size_t k, lq_album_layout *L)
{
    return plan_layout(a, k, NULL, L);
}

/* Fade gain at t in [0, 1] (0: silent, 1: full). */
static double fade_gain(lq_fade_curve c, double t)
{
    if (t <= 0.0) return 0.0;
    if (t >= 1.0) return 1.0;
    switch (c) {
    case LQ_FADE_EQUAL_POWER: return sin(t * M_PI / 2.0);   /* sin^2 + cos^2 = 1 */
    case LQ_FADE_LOG: return pow(10.0, -3.0 * (1.0 - t));   /* linear in dB, -60 dB .. 0 */
    default: return t;
    }
}

/* The envelope of a track's fades at frame t (as gen_fn applies it). */
static double shape_gain(const lq_meter_shape *s, long long t)
{
    double g = 1.0;
    if (t < s->fade_in) g *= fade_gain((lq_fade_curve)s->curve_in, ((double)t + 0.5) / (double)s->fade_in);
    long long left = s->frames - t;
    if (left <= s->fade_out)
        g *= fade_gain((lq_fade_curve)s->curve_out, ((double)left - 0.5) / (double)s->fade_out);
    return g;
}

/* Fade lengths of track i in layout L at rate `rate` (frames, within the track). */
static void fade_lengths(const lq_album *a, const lq_album_layout *L, size_t i, int rate,
                         long long *fin, long long *fout)
{
    const lq_album_track *tr = &a->spec->tracks[i];
    long long fi = llround(tr->fade_in_ms * rate / 1000.0);
    long long fo = llround(tr->fade_out_ms * rate / 1000.0);
    if (i > 0 && L->xfade[i - 1] > fi) fi = L->xfade[i - 1];
    if (L->xfade[i] > fo) fo = L->xfade[i];
    *fin = fi < L->frames[i] ? fi : L->frames[i];
    *fout = fo < L->frames[i] ? fo : L->frames[i];
}

lq_error lq_album_plan_shapes(lq_album *a, size_t k)
{
    const size_t n = a->n_jobs;
    long long *frames = calloc(n, sizeof *frames);
    if (!frames) return LQ_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const lq_job *j = a->jobs[i];
        const int rate = j->exports[k].rate;
        /* the resampler's length (engine/resample.c), or the master's at its own rate */
        frames[i] = rate == j->in_rate ? j->master.frames
                                       : llround((double)j->master.frames * rate / j->in_rate);
    }
    lq_album_layout L;
    lq_error e = plan_layout(a, k, frames, &L);
    free(frames);
    if (e) return e;
    for (size_t i = 0; i < n; i++) {
        lq_export *ex = &a->jobs[i]->exports[k];
        lq_meter_shape *sh = &ex->shape;
        /* a lossy target's loop is corrected on its decoded check file, whole and
         * unshaped (finish.c): the album's correction round moves it instead */
        if (lq_format_is_lossy(ex->target->format)) continue;
        /* the file holds render frames [fb, fe): the gap before a track ends the file
         * before it (track 1's file begins with its own) */
        const long long fb = i == 0 ? 0 : L.index01[i];
        const long long fe = i + 1 < n ? L.index01[i + 1] : L.total;
        const long long b = fb - L.start[i], e1 = fe - L.start[i];
        memset(sh, 0, sizeof *sh);
        sh->frames = L.frames[i];
        sh->lead = b < 0 ? -b : 0;
        sh->skip = b > 0 ? b : 0;
        const long long end = e1 < L.frames[i] ? e1 : L.frames[i];
        sh->keep = end > sh->skip ? end - sh->skip : 0;
        sh->tail = e1 > L.frames[i] ? e1 - L.frames[i] : 0;
        fade_lengths(a, &L, i, ex->rate, &sh->fade_in, &sh->fade_out);
        const lq_album_track *tr = &a->spec->tracks[i];
        sh->curve_out = (int)tr->fade_curve;
        sh->curve_in = (int)(i > 0 && L.xfade[i - 1] > 0 ? a->spec->tracks[i - 1].fade_curve
                                                          : tr->fade_curve);
        sh->gain = shape_gain;
        ex->has_shape = 1;
    }
    lq_album_layout_free(&L);
    return LQ_OK;
}

/* A crossfade's region of the render after the join limiter, spooled. */
typedef struct join_patch {
    long long r0, r1;         /* the region in the render */
    lq_spool spool;
    lq_spool_reader rd;
    int have_rd;
} join_patch;

typedef struct asm_ctx {
    lq_album *a;
    size_t k;
    const lq_album_layout *L;
    int channels;
    lq_spool_reader *rd;      /* per track */
    long long *fin, *fout;    /* fade lengths per track (frames) */
    long long pos;            /* frames generated */
    double *tmp[2];
    double *rbuf[2], *obuf[2]; /* the join limiter's unlimited and blended blocks */
    join_patch *patch;        /* per crossfade that went through the limiter */
    size_t n_patch;
    /* the split */
    long long put;            /* frames written */
    size_t cur;               /* the track file being written */
    lq_meter *meter;          /* album loudness of the whole render (a CD target: all
                                 of the image's figures, on its 16-bit samples) */
    double *q[2];             /* a block on the image's grid, for the meter */
    lq_diag *d;
} asm_ctx;

/* The render's frames [lo, lo + n) (n <= BLOCK) before the join limiter: every track
 * that sounds there, with its fades, summed.  Random access (each reader is sought). */
static lq_error mix_range(asm_ctx *c, long long lo, size_t n, double *const *buf)
{
    const lq_album_layout *L = c->L;
    for (int ch = 0; ch < c->channels; ch++) memset(buf[ch], 0, n * sizeof(double));
    const long long hi = lo + (long long)n;
    for (size_t i = 0; i < L->n_tracks; i++) {
        long long a0 = L->start[i], a1 = L->start[i] + L->frames[i];
        if (a1 <= lo || a0 >= hi) continue;
        long long from = a0 > lo ? a0 : lo, to = a1 < hi ? a1 : hi;
        size_t m = (size_t)(to - from);
        /* a track's reader lives while the render passes it (memory: the tracks in a
         * join, not the album); reads are random access (the join limiter reads the
         * crossfades first), so each is sought */
        if (!c->rd[i].buf && lq_spool_reader_init(&c->rd[i], &c->a->spools[c->k * L->n_tracks + i],
                                                  BLOCK))
            return lq_diag_set(c->d, LQ_ERR_NOMEM, "out of memory");
        lq_spool_reader_seek(&c->rd[i], from - a0);
        size_t got = lq_spool_read(&c->rd[i], c->tmp, m);
        if (to == a1) lq_spool_reader_free(&c->rd[i]);
        if (got != m) return lq_diag_set(c->d, LQ_ERR_OUTPUT, "cannot read back a temporary file");
        const lq_fade_curve curve = c->a->spec->tracks[i].fade_curve;
        const lq_fade_curve curve_in = i > 0 && L->xfade[i - 1] > 0
                                           ? c->a->spec->tracks[i - 1].fade_curve : curve;
        for (size_t s = 0; s < m; s++) {
            long long t = from + (long long)s - a0;   /* frame within the track */
            double g = 1.0;
            if (t < c->fin[i]) g *= fade_gain(curve_in, ((double)t + 0.5) / (double)c->fin[i]);
            long long left = L->frames[i] - t;       /* frames to the end, >= 1 */
            if (left <= c->fout[i]) g *= fade_gain(curve, ((double)left - 0.5) / (double)c->fout[i]);
            for (int ch = 0; ch < c->channels; ch++)
                buf[ch][from - lo + (long long)s] += g * c->tmp[ch][s];
        }
    }
    return LQ_OK;
}

static size_t gen_fn(void *u, double *const *buf, size_t n, lq_error *err)
{
    asm_ctx *c = u;
    const lq_album_layout *L = c->L;
    if (c->pos >= L->total) return 0;
    if ((long long)n > L->total - c->pos) n = (size_t)(L->total - c->pos);
    const long long lo = c->pos, hi = c->pos + (long long)n;
    if ((*err = mix_range(c, lo, n, buf))) return 0;
    /* the crossfades that went through the join limiter */
    for (size_t q = 0; q < c->n_patch; q++) {
        join_patch *p = &c->patch[q];
        long long from = p->r0 > lo ? p->r0 : lo, to = p->r1 < hi ? p->r1 : hi;
        if (from >= to) continue;
        size_t m = (size_t)(to - from);
        lq_spool_reader_seek(&p->rd, from - p->r0);
        if (lq_spool_read(&p->rd, c->tmp, m) != m) {
            *err = lq_diag_set(c->d, LQ_ERR_OUTPUT, "cannot read back a temporary file");
            return 0;
        }
        for (int ch = 0; ch < c->channels; ch++)
            memcpy(buf[ch] + (from - lo), c->tmp[ch], m * sizeof(double));
    }
    c->pos = hi;
    return n;
}

/* ---- the join limiter ---------------------------------------------------------------- */

typedef struct region {
    asm_ctx *c;
    join_patch *p;
    long long pos, put;       /* frames generated / written, from r0 */
    long long head, tail;     /* blend lengths at the region's edges */
} region;

static size_t region_gen(void *u, double *const *buf, size_t n, lq_error *err)
{
    region *g = u;
    const long long len = g->p->r1 - g->p->r0;
    if (g->pos >= len) return 0;
    if ((long long)n > len - g->pos) n = (size_t)(len - g->pos);
    if ((*err = mix_range(g->c, g->p->r0 + g->pos, n, buf))) return 0;
    g->pos += (long long)n;
    return n;
}

/* The limited block, blended into the unlimited render over `head` frames at the
 * region's start and `tail` frames at its end (raised cosine; a convex mix). */
static lq_error region_sink(void *u, const double *const *buf, size_t n)
{
    region *g = u;
    asm_ctx *c = g->c;
    const long long len = g->p->r1 - g->p->r0, q0 = g->put;
    const int edge = q0 < g->head || q0 + (long long)n > len - g->tail;
    lq_error e = edge ? mix_range(c, g->p->r0 + q0, n, c->rbuf) : LQ_OK;
    if (e) return e;
    for (int ch = 0; ch < c->channels; ch++)
        for (size_t s = 0; s < n; s++) {
            const long long q = q0 + (long long)s;
            double w = 1.0;
            if (q < g->head) w = 0.5 - 0.5 * cos(M_PI * ((double)q + 0.5) / (double)g->head);
            if (q >= len - g->tail)
                w = fmin(w, 0.5 - 0.5 * cos(M_PI * ((double)(len - q) - 0.5) / (double)g->tail));
            c->obuf[ch][s] = w == 1.0 ? buf[ch][s] : w * buf[ch][s] + (1.0 - w) * c->rbuf[ch][s];
        }
    g->put += (long long)n;
    const double *pl[2] = {c->obuf[0], c->obuf[1]};
    return lq_spool_write(&g->p->spool, pl, n, c->d);
}

/* Every crossfade of target k: its summed overlap measured at 16x; where it passes the
 * ceiling, its region through the true-peak limiter into a patch (see the top). */
static lq_error limit_joins(asm_ctx *c, lq_album_layout *L, int rate)
{
    lq_album *a = c->a;
    lq_diag *d = c->d;
    const size_t n = L->n_tracks, k = c->k;
    const lq_stage_vt *lim_vt = lq_stage_find("limiter");
    long long prev_r1 = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (L->xfade[i] <= 0) continue;
        const lq_export *e0 = &a->jobs[i]->exports[k], *e1 = &a->jobs[i + 1]->exports[k];
        const double ceil = fmin(e0->ceiling_dbtp, e1->ceiling_dbtp);
        const long long ov0 = L->start[i + 1], ov1 = ov0 + L->xfade[i];
        lq_tp_meter *tp = NULL;
        lq_error e = lq_tp_meter_new(&tp, c->channels, rate, 16);
        if (e) return lq_diag_set(d, e, "out of memory");
        for (long long pos = ov0; pos < ov1 && !e;) {
            size_t m = ov1 - pos < BLOCK ? (size_t)(ov1 - pos) : BLOCK;
            e = mix_range(c, pos, m, c->rbuf);
            const double *pl[2] = {c->rbuf[0], c->rbuf[1]};
            if (!e) lq_tp_meter_push(tp, pl, m);
            pos += (long long)m;
        }
        const double peak = lq_tp_meter_max_dbtp(tp);
        lq_tp_meter_destroy(&tp);
        if (e) return e;
        L->join_peak_dbtp[i] = peak;
        L->join_ceiling_dbtp[i] = ceil;
        L->join_gr_db[i] = 0.0;
        if (!(peak > ceil) || !lim_vt) continue;
        /* the incoming track's limiter (a preset without one: the defaults) */
        const lq_preset *pr = a->presets[i + 1];
        lq_stage_spec lim = {0};
        e = pr->limiter.vt ? lq_stage_spec_override(&lim, &pr->limiter, e1->target->limiter_node, d)
                           : lq_stage_spec_parse(&lim, lim_vt, e1->target->limiter_node, d);
        if (e) return e;
        lq_limiter_config *lc = lim.cfg;
        lc->ceiling_dbtp = ceil;
        const double tau_ms = lc->release_ms * (lc->auto_release ? 2.0 : 1.0);
        const long long pre = llround((lc->lookahead_ms + 20.0) * rate / 1000.0) + 64;
        const long long post = llround((16.0 * tau_ms + lc->lookahead_ms + 20.0) * rate / 1000.0);
        long long r0 = ov0 - pre, r1 = ov1 + post;
        if (r0 < L->start[i]) r0 = L->start[i];
        if (r0 < prev_r1) r0 = prev_r1;
        long long stop = i + 2 < n && L->xfade[i + 1] > 0 ? L->start[i + 2] - pre : L->total;
        if (r1 > stop) r1 = stop;
        if (r1 < ov1) r1 = ov1;
        prev_r1 = r1;
        join_patch *p = &c->patch[c->n_patch];
        memset(p, 0, sizeof *p);
        p->spool.fd = -1;
        p->r0 = r0;
        p->r1 = r1;
        c->n_patch++;
        const long long blend = llround(0.005 * rate);
        region g = {.c = c, .p = p,
                    .head = ov0 - r0 < 2 * blend ? (ov0 - r0) / 2 : blend,
                    .tail = r1 - ov1 < 2 * blend ? (r1 - ov1) / 2 : 2 * blend};
        lq_stage_env env = {.sample_rate = rate, .channels = c->channels, .max_block = BLOCK};
        lq_chain chain;
        memset(&chain, 0, sizeof chain);
        e = lq_spool_create(&p->spool, a->out_dir, c->channels, rate, d);
        if (!e) e = lq_chain_create(&chain, &lim, 1, &env, d);
        if (!e) {
            lq_blocker bl;
            lq_blocker_init(&bl, BLOCK, BLOCK);
            lq_run_ctl ctl = {.blocks = &bl, .cancel = &a->cancel};
            e = lq_chain_run(&chain, region_gen, &g, region_sink, &g, &ctl, NULL);
            if (e == LQ_ERR_CANCELLED) lq_diag_set(d, e, "cancelled");
            double mx = 0.0;
            if (!e && chain.n == 1) lq_limiter_stats(chain.state[0], &mx, NULL, NULL);
            L->join_gr_db[i] = mx;
            lq_chain_destroy(&chain);
        }
        lq_stage_spec_free(&lim);
        if (!e) e = lq_spool_finish(&p->spool, d);
        if (!e && lq_spool_reader_init(&p->rd, &p->spool, BLOCK))
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        p->have_rd = !e;
        if (e) return e;
    }
    return LQ_OK;
}

/* Track i's file: opened when the split reaches it, closed as soon as it is complete,
 * so one encoder per target is open at a time whatever the album's length. */
static lq_error open_track(asm_ctx *c, size_t i)
{
    lq_job *j = c->a->jobs[i];
    lq_export *ex = &j->exports[c->k];
    const lq_target *t = ex->target;
    char desc[512];
    snprintf(desc, sizeof desc, "%s mastered by lacquer for %s", j->title, t->name);
    lq_out_meta meta = {j->title, j->artist, j->album, desc};
    lq_error e = lq_audio_out_open(&ex->out, c->a->out_dir, t->format, ex->rate, c->channels,
                                   t->bit_depth, t->bitrate_kbps, &meta, BLOCK, c->d);
    ex->have_out = !e;
    return e;
}

static lq_error split_fn(void *u, const double *const *buf, size_t n)
{
    asm_ctx *c = u;
    const lq_album_layout *L = c->L;
    lq_album_target *at = &c->a->at[c->k];
    if (at->have_image) {
        lq_error e = lq_audio_out_write(&at->image, buf, n, c->d);
        if (e) return e;
        /* the image is measured on exactly the samples written (lq_audio_out_write's
         * 16-bit rounding and clamp; the dither already put them on that grid) */
        for (int ch = 0; ch < c->channels; ch++)
            for (size_t i = 0; i < n; i++) {
                double v = rint(buf[ch][i] * 32768.0);
                c->q[ch][i] = (v > 32767.0 ? 32767.0 : v < -32768.0 ? -32768.0 : v) / 32768.0;
            }
        lq_meter_push(c->meter, (const double *const *)c->q, n);
    } else {
        lq_meter_push(c->meter, buf, n);
    }
    size_t off = 0;
    while (off < n) {
        long long end = c->cur + 1 < L->n_tracks ? L->index01[c->cur + 1] : L->total;
        size_t m = n - off;
        if ((long long)m > end - c->put) m = (size_t)(end - c->put);
        lq_export *ex = &c->a->jobs[c->cur]->exports[c->k];
        lq_error e = ex->have_out ? LQ_OK : open_track(c, c->cur);
        if (!e && m > 0) {
            const double *pl[2] = {buf[0] + off, c->channels > 1 ? buf[1] + off : NULL};
            e = lq_audio_out_write(&ex->out, pl, m, c->d);
        }
        if (e) return e;
        off += m;
        c->put += (long long)m;
        if (c->put >= end) {
            if ((e = lq_audio_out_close(&ex->out, c->d))) return e;
            if (c->cur + 1 < L->n_tracks) c->cur++;
        }
    }
    return LQ_OK;
}

static lq_error poll_cancel(void *u, long long done)
{
    (void)done;
    asm_ctx *c = u;
    return lq_album_cancelled(c->a) ? LQ_ERR_CANCELLED : LQ_OK;
}

/* A per-track file's verdict, as finish.c judges an export, from the file as split. */
static void judge(lq_album *a, size_t i, size_t k)
{
    lq_export *ex = &a->jobs[i]->exports[k];
    const lq_target *t = ex->target;
    const double finished = ex->n_passes ? ex->passes[ex->n_passes - 1].lufs : NAN;
    ex->n_warnings = 0;
    ex->peak_ok = ex->meas.true_peak_16x_dbtp <= t->true_peak_dbtp;
    ex->clip_ok = ex->clipped == 0;
    /* the loudness is judged on the finished track (fades and a neighbour's crossfade
     * belong to the record, not to the track's level), and said when the file differs */
    (void)finished;
    ex->loudness_ok = !ex->has_aim || fabs(ex->meas.integrated_lufs - ex->aim_lufs) <= 0.05;
    ex->met = ex->loudness_ok && ex->peak_ok && ex->clip_ok && ex->codec_ok && ex->format_ok;
    if (!ex->loudness_ok)
        lq_export_warn(ex, "the track file measures %.2f LUFS against its %.2f (its fades, "
                           "gap or a crossfade move the file's loudness)",
                       ex->meas.integrated_lufs, ex->aim_lufs);
    if (!ex->peak_ok)
        lq_export_warn(ex, "the track file peaks at %.2f dBTP, over the %.1f dBTP ceiling "
                           "(a crossfade adds two tracks)", ex->meas.true_peak_16x_dbtp,
                       t->true_peak_dbtp);
}

void lq_album_assemble_target(lq_album *a, size_t k)
{
    lq_album_target *at = &a->at[k];
    const lq_target *t = at->target;
    const size_t n = a->n_jobs;
    lq_diag *d = &at->diag;
    lq_album_layout *L = &at->layout;
    const int ch = a->jobs[0]->in_channels;
    const int rate = a->jobs[0]->exports[k].rate;
    /* assembled again after a correction: start afresh */
    lq_album_layout_free(L);
    if (at->have_image) lq_audio_out_discard(&at->image);
    at->have_image = 0;
    at->err = LQ_OK;
    for (size_t i = 1; i < n; i++)
        if (a->jobs[i]->exports[k].rate != rate || a->jobs[i]->in_channels != ch) {
            at->err = lq_diag_set(d, LQ_ERR_ARG,
                                  "%s: track %zu (%s) has %d Hz, %d channels where track 1 has "
                                  "%d Hz, %d channels (expected one rate and channel count per "
                                  "target: give target %s a sample_rate)",
                                  a->spec->file ? a->spec->file : "album", i + 1,
                                  a->jobs[i]->input, a->jobs[i]->exports[k].rate,
                                  a->jobs[i]->in_channels, rate, ch, t->name);
            return;
        }
    if ((at->err = lq_album_plan_layout(a, k, L))) {
        lq_diag_set(d, at->err, "out of memory");
        return;
    }
    asm_ctx c = {.a = a, .k = k, .L = L, .channels = ch, .d = d};
    lq_stage_spec dspec = {0};
    lq_chain chain;
    memset(&chain, 0, sizeof chain);
    int have_chain = 0;
    const int lossy = lq_format_is_lossy(t->format);
    const int out_bits = lossy || t->bit_depth == 32 ? 0 : t->bit_depth;
    double *mem = malloc((size_t)8 * BLOCK * sizeof *mem);
    c.rd = calloc(n, sizeof *c.rd);
    c.fin = calloc(2 * n, sizeof *c.fin);
    c.patch = calloc(n, sizeof *c.patch);
    lq_error e = mem && c.rd && c.fin && c.patch ? LQ_OK
                                                 : lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    c.fout = c.fin ? c.fin + n : NULL;
    for (int q = 0; q < 2 && mem; q++) {
        c.tmp[q] = mem + q * BLOCK;
        c.q[q] = mem + (2 + q) * BLOCK;
        c.rbuf[q] = mem + (4 + q) * BLOCK;
        c.obuf[q] = mem + (6 + q) * BLOCK;
    }
    const size_t n_rd = c.rd ? n : 0;   /* readers opened by mix_range as it goes */
    for (size_t i = 0; i < n && !e; i++) fade_lengths(a, L, i, rate, &c.fin[i], &c.fout[i]);
    /* crossfades that would pass the ceiling: through the limiter first */
    if (!e) e = limit_joins(&c, L, rate);
    /* dither once over the whole render, seeded from every track's input */
    if (!e && out_bits && a->dither.vt) {
        e = lq_stage_spec_override(&dspec, &a->dither, t->dither_node, d);
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < n; i++) h = (h ^ a->jobs[i]->in_hash) * 0x100000001b3ull;
        char ident[64];
        snprintf(ident, sizeof ident, "album:%016llx", (unsigned long long)h);
        lq_stage_env env = {.sample_rate = rate, .channels = ch, .max_block = BLOCK,
                            .seed = lq_dither_seed(ident, t->name), .out_bits = out_bits};
        if (!e) e = lq_chain_create(&chain, &dspec, 1, &env, d);
        have_chain = !e;
        at->dithered = !e;
    } else if (!e) {
        lq_stage_env env = {.sample_rate = rate, .channels = ch, .max_block = BLOCK};
        e = lq_chain_create(&chain, NULL, 0, &env, d);
        have_chain = !e;
    }
    /* the files: each track's export (replacing the finishing chain's check file,
     * opened by the split) and the CD image */
    char desc[512];
    for (size_t i = 0; i < n && !e; i++) {
        lq_export *ex = &a->jobs[i]->exports[k];
        if (ex->have_out) lq_audio_out_discard(&ex->out);
        ex->have_out = 0;
        ex->dithered = at->dithered;
        ex->clipped = 0;
    }
    if (!e && at->is_cd) {
        snprintf(desc, sizeof desc, "%s mastered by lacquer for %s (CD image)",
                 a->spec->title ? a->spec->title : "album", t->name);
        lq_out_meta meta = {a->spec->title, a->spec->artist, a->spec->title, desc};
        e = lq_audio_out_open(&at->image, a->out_dir, LQ_FMT_WAV, rate, ch, 16, 0, &meta, BLOCK, d);
        at->have_image = !e;
    }
    if (!e) e = lq_meter_new(&c.meter, ch, rate,
                             at->have_image ? LQ_METER_FULL | LQ_METER_TP16 : LQ_METER_LOUDNESS,
                             BLOCK, d);
    if (!e) {
        lq_blocker bl;
        lq_blocker_init(&bl, BLOCK, BLOCK);
        lq_run_ctl ctl = {.blocks = &bl, .cancel = &a->cancel, .progress = poll_cancel,
                          .progress_user = &c};
        e = lq_chain_run(&chain, gen_fn, &c, split_fn, &c, &ctl, NULL);
        if (e == LQ_ERR_CANCELLED) lq_diag_set(d, e, "cancelled");
    }
    if (!e) {
        lq_meter_result r;
        lq_meter_result_get(c.meter, &r);
        at->album_lufs = r.integrated_lufs;
        if (at->have_image) at->image_meas = r;
        for (size_t s = 0; s < chain.n; s++)
            if (!strcmp(chain.vt[s]->name, "dither")) {
                at->dither_clipped = lq_dither_clipped(chain.state[s]);
                json_decref(at->dither_report);
                at->dither_report = json_object();
                if (at->dither_report && chain.vt[s]->report)
                    chain.vt[s]->report(chain.state[s], at->dither_report);
            }
    }
    /* every track file is complete (the split closed them); lq_album_measure_file
     * re-reads each */
    for (size_t i = 0; i < n && !e; i++) e = lq_audio_out_close(&a->jobs[i]->exports[k].out, d);
    if (!e && at->have_image) {
        e = lq_audio_out_close(&at->image, d);
        if (!e) e = lq_audio_out_patch_bext(&at->image, at->image_meas.integrated_lufs,
                                            at->image_meas.lra_lu,
                                            at->image_meas.true_peak_16x_dbtp,
                                            at->image_meas.max_momentary_lufs,
                                            at->image_meas.max_short_term_lufs, d);
    }
    for (size_t i = 0; i < n_rd; i++) lq_spool_reader_free(&c.rd[i]);
    for (size_t q = 0; q < c.n_patch; q++) {
        if (c.patch[q].have_rd) lq_spool_reader_free(&c.patch[q].rd);
        lq_spool_destroy(&c.patch[q].spool);
    }
    free(c.patch);
    if (have_chain) lq_chain_destroy(&chain);
    lq_stage_spec_free(&dspec);
    lq_meter_destroy(&c.meter);
    free(c.rd);
    free(c.fin);
    free(mem);
    at->err = e;
}

void lq_album_measure_file(lq_album *a, size_t k, size_t i)
{
    lq_export *ex = &a->jobs[i]->exports[k];
    const lq_target *t = ex->target;
    lq_diag *d = &ex->diag;
    /* (the series and spectrum for report.html's plots too) */
    lq_error e = lq_meter_file(ex->out.read_path, LQ_METER_FULL | LQ_METER_TP16 | LQ_METER_OWN |
                               (a->no_html ? 0 : LQ_METER_PLOTS), &ex->meas, d);
    if (!e) {
        ex->clipped = ex->out.clipped;
        judge(a, i, k);
    }
    if (!e && t->format == LQ_FMT_WAV)
        e = lq_audio_out_patch_bext(&ex->out, ex->meas.integrated_lufs, ex->meas.lra_lu,
                                    ex->meas.true_peak_16x_dbtp, ex->meas.max_momentary_lufs,
                                    ex->meas.max_short_term_lufs, d);
    /* the release's tags (TagLib, io/tags.c) */
    const lq_album_spec *sp = a->spec;
    const lq_album_track *tr = &sp->tracks[i];
    lq_tags tags = {.title = a->jobs[i]->title, .artist = a->jobs[i]->artist,
                    .album = sp->title, .album_artist = sp->artist, .genre = sp->genre,
                    .label = sp->label, .isrc = tr->isrc[0] ? tr->isrc : NULL,
                    .year = sp->year, .track = (int)i + 1, .track_total = (int)a->n_jobs};
    if (!e) e = lq_tags_write(ex->out.read_path, t->format, &tags, d);
    ex->err = e;
}

void lq_album_target_spread(lq_album *a, size_t k)
{
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (size_t i = 0; i < a->n_jobs; i++) {
        const double l = a->jobs[i]->exports[k].meas.integrated_lufs;
        if (isfinite(l)) {
            lo = fmin(lo, l);
            hi = fmax(hi, l);
        }
    }
    a->at[k].spread_lu = hi >= lo ? hi - lo : 0.0;
}
