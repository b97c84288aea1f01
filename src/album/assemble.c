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
 * the per-track files concatenate back to the image bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "album/run.h"
#include "engine/chain.h"
#include "io/tags.h"
#include "stages/dither.h"

#define BLOCK 4096

void lq_album_layout_free(lq_album_layout *L)
{
    free(L->start);
    memset(L, 0, sizeof *L);
}

static long long round_up(long long x, long long m) { return (x + m - 1) / m * m; }
static long long round_near(long long x, long long m) { return (x + m / 2) / m * m; }

lq_error lq_album_plan_layout(const lq_album *a, size_t k, lq_album_layout *L)
{
    const size_t n = a->n_jobs;
    const lq_album_spec *s = a->spec;
    memset(L, 0, sizeof *L);
    long long *mem = calloc(6 * n, sizeof *mem);
    if (!mem) return LQ_ERR_NOMEM;
    L->n_tracks = n;
    L->start = mem;
    L->frames = mem + n;
    L->gap = mem + 2 * n;
    L->xfade = mem + 3 * n;
    L->index00 = mem + 4 * n;
    L->index01 = mem + 5 * n;
    L->cd = a->at[k].is_cd;
    const double rate = a->jobs[0]->exports[k].rate;
    for (size_t i = 0; i < n; i++) L->frames[i] = a->spools[k * n + i].frames;
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

typedef struct asm_ctx {
    lq_album *a;
    size_t k;
    const lq_album_layout *L;
    int channels;
    lq_spool_reader *rd;      /* per track */
    long long *fin, *fout;    /* fade lengths per track (frames) */
    long long pos;            /* frames generated */
    double *tmp[2];
    /* the split */
    long long put;            /* frames written */
    size_t cur;               /* the track file being written */
    lq_meter *meter;          /* album loudness of the whole render */
    lq_diag *d;
} asm_ctx;

static size_t gen_fn(void *u, double *const *buf, size_t n, lq_error *err)
{
    asm_ctx *c = u;
    const lq_album_layout *L = c->L;
    if (c->pos >= L->total) return 0;
    if ((long long)n > L->total - c->pos) n = (size_t)(L->total - c->pos);
    for (int ch = 0; ch < c->channels; ch++) memset(buf[ch], 0, n * sizeof(double));
    const long long lo = c->pos, hi = c->pos + (long long)n;
    for (size_t i = 0; i < L->n_tracks; i++) {
        long long a0 = L->start[i], a1 = L->start[i] + L->frames[i];
        if (a1 <= lo || a0 >= hi) continue;
        long long from = a0 > lo ? a0 : lo, to = a1 < hi ? a1 : hi;
        size_t m = (size_t)(to - from);
        size_t got = lq_spool_read(&c->rd[i], c->tmp, m);
        if (got != m) {
            *err = lq_diag_set(c->d, LQ_ERR_OUTPUT, "cannot read back a temporary file");
            return 0;
        }
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
    c->pos = hi;
    return n;
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
    if (c->meter) lq_meter_push(c->meter, buf, n);
    if (at->have_image) {
        lq_error e = lq_audio_out_write(&at->image, buf, n, c->d);
        if (e) return e;
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
    double *mem = malloc((size_t)2 * BLOCK * sizeof *mem);
    c.rd = calloc(n, sizeof *c.rd);
    c.fin = calloc(2 * n, sizeof *c.fin);
    lq_error e = mem && c.rd && c.fin ? LQ_OK : lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    c.fout = c.fin ? c.fin + n : NULL;
    c.tmp[0] = mem;
    c.tmp[1] = mem ? mem + BLOCK : NULL;
    size_t n_rd = 0;
    for (; n_rd < n && !e; n_rd++)
        if (lq_spool_reader_init(&c.rd[n_rd], &a->spools[k * n + n_rd], BLOCK))
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !e; i++) {
        const lq_album_track *tr = &a->spec->tracks[i];
        long long fi = llround(tr->fade_in_ms * rate / 1000.0);
        long long fo = llround(tr->fade_out_ms * rate / 1000.0);
        if (i > 0 && L->xfade[i - 1] > fi) fi = L->xfade[i - 1];
        if (L->xfade[i] > fo) fo = L->xfade[i];
        c.fin[i] = fi < L->frames[i] ? fi : L->frames[i];
        c.fout[i] = fo < L->frames[i] ? fo : L->frames[i];
    }
    /* dither once over the whole render, seeded from every track's input */
    if (!e && out_bits && a->presets[0]->dither.vt) {
        e = lq_stage_spec_override(&dspec, &a->presets[0]->dither, t->dither_node, d);
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
    if (!e) e = lq_meter_new(&c.meter, ch, rate, LQ_METER_LOUDNESS, BLOCK, d);
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
        for (size_t s = 0; s < chain.n; s++)
            if (!strcmp(chain.vt[s]->name, "dither"))
                at->dither_clipped = lq_dither_clipped(chain.state[s]);
    }
    /* close and re-measure every file as written */
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (size_t i = 0; i < n && !e; i++) {
        lq_export *ex = &a->jobs[i]->exports[k];
        e = lq_audio_out_close(&ex->out, d);   /* (closed by the split already) */
        if (!e)
            e = lq_meter_file(ex->out.read_path, LQ_METER_FULL | LQ_METER_TP16 | LQ_METER_OWN,
                              &ex->meas, d);
        if (e) break;
        ex->clipped = ex->out.clipped;
        judge(a, i, k);
        if (isfinite(ex->meas.integrated_lufs)) {
            lo = fmin(lo, ex->meas.integrated_lufs);
            hi = fmax(hi, ex->meas.integrated_lufs);
        }
        if (t->format == LQ_FMT_WAV)
            e = lq_audio_out_patch_bext(&ex->out, ex->meas.integrated_lufs, ex->meas.lra_lu,
                                        ex->meas.true_peak_16x_dbtp, ex->meas.max_momentary_lufs,
                                        ex->meas.max_short_term_lufs, d);
        /* the release's tags (TagLib, io/tags.c) */
        const lq_album_spec *sp = a->spec;
        const lq_album_track *tr = &sp->tracks[i];
        lq_tags tags = {.title = a->jobs[i]->title, .artist = a->jobs[i]->artist,
                        .album = sp->title, .album_artist = sp->artist, .genre = sp->genre,
                        .label = sp->label, .isrc = tr->isrc[0] ? tr->isrc : NULL,
                        .year = sp->year, .track = (int)i + 1, .track_total = (int)n};
        if (!e) e = lq_tags_write(ex->out.read_path, t->format, &tags, d);
    }
    at->spread_lu = hi >= lo ? hi - lo : 0.0;
    if (!e && at->have_image) {
        e = lq_audio_out_close(&at->image, d);
        if (!e) e = lq_meter_file(at->image.read_path, LQ_METER_FULL | LQ_METER_TP16,
                                  &at->image_meas, d);
        if (!e) e = lq_audio_out_patch_bext(&at->image, at->image_meas.integrated_lufs,
                                            at->image_meas.lra_lu,
                                            at->image_meas.true_peak_16x_dbtp,
                                            at->image_meas.max_momentary_lufs,
                                            at->image_meas.max_short_term_lufs, d);
    }
    for (size_t i = 0; i < n_rd; i++) lq_spool_reader_free(&c.rd[i]);
    if (have_chain) lq_chain_destroy(&chain);
    lq_stage_spec_free(&dspec);
    lq_meter_destroy(&c.meter);
    free(c.rd);
    free(c.fin);
    free(mem);
    at->err = e;
}
