/* Long-term average spectrum and the reference-matching curve (ltas.h, docs/REFERENCE.md).
 *
 * Analysis.  Mid M = (L+R)/2 and side S = (L-R)/2 (a mono file: M = x, S = 0) are cut
 * into Hann-windowed frames of N samples, N = rate / 2.5 Hz (17640 at 44.1 kHz, 19200
 * at 48 kHz: FFTW takes any size): bins of 2.5 Hz at every rate, fine enough for
 * sixth-octave bands from 20 Hz, and the SAME in Hz at every rate, so that a tonal
 * peak near a band edge spreads over the bands alike (with power-of-two frames, the
 * 44.1 and 48 kHz readings of one song differed by up to 2.6 dB in single bands below
 * 400 Hz).  The frames overlap by 75 %, not 50 %: a power spectrum weighs each sample
 * by the window SQUARED, and Hann^2 = sin^4 adds up to a constant only with a hop of
 * N/4 (with N/2 it swings between 0.5 and 1); the signal is primed and flushed with
 * N - hop zeros so its first and last samples weigh the same too (without these, a
 * rhythm's transients, or a crash at the very end, read up to 3 dB apart above 4 kHz
 * at 44.1 and 48 kHz).  Each frame's power spectrum |X_k|^2 is taken with FFTW; a
 * band's power is the mean of the bins whose centre lies in it (a band narrower than
 * one bin: the power interpolated linearly at its centre), divided by the rate: a
 * power density per Hz, so that files at different rates compare directly.
 *
 * Gating.  ITU-R BS.1770-4 gates 400 ms blocks at -70 LUFS (absolute) and at 10 LU
 * below the mean of the blocks above that (relative).  Here each analysis frame (400 ms,
 * every 100 ms: the standard's block and step) is the gating block: its loudness is -0.691 + 10 log10 of the
 * K-weighted mean square summed over L and R, computed from its spectrum (Parseval,
 * with the window's energy divided out; K-weighting's |H(f)|^2 from the biquads of
 * dsp/kmeter.c; L^2 + R^2 = 2 (M^2 + S^2)).  As in dsp/kmeter.c the gates are applied at
 * the end on a histogram of frame loudness (0.1 LU bins from -70 to +10 LUFS), each bin
 * keeping the count, the energy sum and the summed band powers of its frames: memory is
 * fixed (about 0.8 MB) whatever the length.  The file's integrated loudness itself is
 * measured exactly by the BS.1770-4 meter of dsp/kmeter.c on the same samples.
 *
 * The curve (lq_match_design): per reference, (ref_dB - ref_LUFS) - (mix_dB - mix_LUFS)
 * per band, mid and side; the references averaged in dB with their weights; smoothed
 * over a third of an octave (weights 1/4, 1/2, 1/4 over neighbouring sixth-octave
 * bands); side = mid + width_strength * (side - mid) (where the side is 40 dB or more
 * under the mid, in the mix or a reference, the side difference is the mid's); limited
 * to +max_boost / -max_cut dB, with no boost below boost_lo_hz or above boost_hi_hz;
 * scaled by strength.
 *
 * The closed loop (lq_match_refine, run by engine/master.c on the master bus's measured
 * output): per band, the target is the references' third-octave power around it (1/4,
 * 1/2, 1/4 of the neighbouring bands' powers) relative to the mix's, level-aligned,
 * times the strength, and the miss is what the output lacks of it.  The update is found
 * by fixed-point iteration on a model of the bus (each band's power moves with its
 * gain; the loudness with the K-weighted power sum, ITU-R BS.1770-4), the miss smoothed
 * like the curve; the curve's level (a constant changes nothing level-aligned) is set
 * where the eq keeps the loudness, or, when the curve does not fit the limits, where the
 * least is clipped (golden-section search on the convex sum of squares). */
#include "core/text.h"
#include "engine/ltas.h"

#include <fftw3.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/fftw_lock.h"
#include "dsp/kmeter.h"
#include "io/audio_in.h"

#define HIST_LO -70.0
#define HIST_BIN 0.1
#define HIST_N 800
#define MIN_SECONDS 3.0
#define READ_BLOCK 4096
#define BIN_HZ 2.5 /* analysis resolution */

typedef struct hist_bin {
    long long count;
    double energy;
    double mid[LQ_LTAS_BANDS], side[LQ_LTAS_BANDS];
} hist_bin;

struct lq_ltas {
    int channels;
    double rate;
    size_t n, hop, fill;       /* frame length, hop, samples in the frame buffers */
    double *m, *s;             /* frame buffers (n) */
    double *win, win_e;        /* Hann window, sum of its squares */
    double *kw2;               /* K-weighting |H|^2 per bin (n/2+1) */
    double *tin;               /* windowed frame (n) */
    fftw_complex *tout;        /* n/2+1 */
    fftw_plan plan;
    int lo[LQ_LTAS_BANDS], hi[LQ_LTAS_BANDS];  /* bin range, lo > hi: interpolate */
    double at[LQ_LTAS_BANDS];                  /* fractional bin of the centre */
    int valid[LQ_LTAS_BANDS];
    double pm[LQ_LTAS_BANDS], ps[LQ_LTAS_BANDS];
    double *pw;                /* bin powers scratch (n/2+1) */
    hist_bin *hist;            /* HIST_N */
    long long frames_in;
    int flushed;
    lq_kmeter *km;
};

static double band_centre(int b) { return 1000.0 * pow(2.0, (LQ_LTAS_K0 + b) / 6.0); }

lq_error lq_ltas_new(lq_ltas **out, int channels, double rate, lq_diag *d)
{
    *out = NULL;
    if (channels < 1 || channels > 2 || !(rate >= 8000))
        return lq_diag_set(d, LQ_ERR_ARG, "ltas: %d channels at %g Hz", channels, rate);
    lq_ltas *a = calloc(1, sizeof *a);
    if (!a) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (spectrum)");
    a->channels = channels;
    a->rate = rate;
    /* N = the multiple of 4 nearest rate / BIN_HZ: bins of the same width in Hz at every
     * rate, so a file reads the same at 44.1 and 48 kHz (see the top of the file) */
    a->n = 4 * (size_t)llround(rate / (4.0 * BIN_HZ));
    a->hop = a->n / 4;
    const size_t nb = a->n / 2 + 1;
    a->m = calloc(a->n, sizeof(double));
    a->s = calloc(a->n, sizeof(double));
    a->win = malloc(a->n * sizeof(double));
    a->kw2 = malloc(nb * sizeof(double));
    a->pw = malloc(nb * sizeof(double));
    a->hist = calloc(HIST_N, sizeof(hist_bin));
    a->tin = fftw_malloc(a->n * sizeof(double));
    a->tout = fftw_malloc(nb * sizeof(fftw_complex));
    if (!a->m || !a->s || !a->win || !a->kw2 || !a->pw || !a->hist || !a->tin || !a->tout ||
        lq_kmeter_new(&a->km, channels, rate) != LQ_OK) {
        lq_ltas_destroy(&a);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (spectrum)");
    }
    lq_fftw_lock();
    a->plan = fftw_plan_dft_r2c_1d((int)a->n, a->tin, a->tout, FFTW_ESTIMATE);
    lq_fftw_unlock();
    if (!a->plan) {
        lq_ltas_destroy(&a);
        return lq_diag_set(d, LQ_ERR_DSP, "FFTW could not plan a %zu-point transform", a->n);
    }
    /* periodic Hann: its 50 % overlaps sum to a constant */
    a->win_e = 0.0;
    for (size_t i = 0; i < a->n; i++) {
        a->win[i] = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)a->n);
        a->win_e += a->win[i] * a->win[i];
    }
    const double df = rate / (double)a->n;
    for (size_t k = 0; k < nb; k++) a->kw2[k] = lq_kmeter_weight2(rate, (double)k * df);
    for (int b = 0; b < LQ_LTAS_BANDS; b++) {
        const double fc = band_centre(b), flo = fc * pow(2.0, -1.0 / 12.0),
                     fhi = fc * pow(2.0, 1.0 / 12.0);
        a->valid[b] = fhi <= 0.49 * rate;
        a->lo[b] = (int)ceil(flo / df);
        a->hi[b] = (int)ceil(fhi / df) - 1;
        if (a->hi[b] > (int)nb - 2) a->hi[b] = (int)nb - 2;
        a->at[b] = fc / df;
    }
    /* primed with N - hop zeros, and flushed with as many at the end (lq_ltas_get), so
     * that every sample, the first and the last too, is in four frames and weighs the
     * same */
    a->fill = a->n - a->hop;
    *out = a;
    return LQ_OK;
}

/* Power spectrum of one frame buffer into a->pw (windowed, |X_k|^2). */
static void frame_power(lq_ltas *a, const double *x)
{
    for (size_t i = 0; i < a->n; i++) a->tin[i] = x[i] * a->win[i];
    fftw_execute_dft_r2c(a->plan, a->tin, a->tout);
    const size_t nb = a->n / 2 + 1;
    for (size_t k = 0; k < nb; k++)
        a->pw[k] = a->tout[k][0] * a->tout[k][0] + a->tout[k][1] * a->tout[k][1];
}

/* Band powers of a->pw into p, and the K-weighted one-sided sum. */
static double bands_of(const lq_ltas *a, double *p)
{
    const size_t nb = a->n / 2 + 1;
    for (int b = 0; b < LQ_LTAS_BANDS; b++) {
        if (!a->valid[b]) {
            p[b] = 0.0;
        } else if (a->lo[b] <= a->hi[b]) {
            double s = 0.0;
            for (int k = a->lo[b]; k <= a->hi[b]; k++) s += a->pw[k];
            p[b] = s / (a->hi[b] - a->lo[b] + 1);
        } else {
            const int k = (int)floor(a->at[b]);
            const double t = a->at[b] - k;
            p[b] = (1.0 - t) * a->pw[k] + t * a->pw[k + 1];
        }
    }
    double e = a->pw[0] * a->kw2[0] + a->pw[nb - 1] * a->kw2[nb - 1];
    for (size_t k = 1; k + 1 < nb; k++) e += 2.0 * a->pw[k] * a->kw2[k];
    return e / ((double)a->n * a->win_e); /* Parseval: the window-weighted mean square */
}

static void frame_done(lq_ltas *a)
{
    frame_power(a, a->m);
    double e = bands_of(a, a->pm);
    if (a->channels == 2) {
        frame_power(a, a->s);
        e += bands_of(a, a->ps);
        e *= 2.0; /* L^2 + R^2 = 2 (M^2 + S^2) */
    } else {
        memset(a->ps, 0, sizeof a->ps);
    }
    const double l = -0.691 + 10.0 * log10(e);
    if (l > HIST_LO) { /* the absolute gate */
        int b = (int)((l - HIST_LO) / HIST_BIN);
        if (b >= HIST_N) b = HIST_N - 1;
        hist_bin *h = &a->hist[b];
        h->count++;
        h->energy += e;
        for (int k = 0; k < LQ_LTAS_BANDS; k++) {
            h->mid[k] += a->pm[k];
            h->side[k] += a->ps[k];
        }
    }
    memmove(a->m, a->m + a->hop, (a->n - a->hop) * sizeof(double));
    memmove(a->s, a->s + a->hop, (a->n - a->hop) * sizeof(double));
    a->fill = a->n - a->hop;
}

static void push_frames(lq_ltas *a, const double *const *p, size_t n);

void lq_ltas_push(lq_ltas *a, const double *const *p, size_t n)
{
    if (a->flushed) return;
    lq_kmeter_push(a->km, p, n);
    a->frames_in += (long long)n;
    push_frames(a, p, n);
}

static void push_frames(lq_ltas *a, const double *const *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = a->n - a->fill;
        if (k > n - i) k = n - i;
        if (a->channels == 2) {
            for (size_t t = 0; t < k; t++) {
                a->m[a->fill + t] = 0.5 * (p[0][i + t] + p[1][i + t]);
                a->s[a->fill + t] = 0.5 * (p[0][i + t] - p[1][i + t]);
            }
        } else {
            memcpy(a->m + a->fill, p[0] + i, k * sizeof(double));
        }
        a->fill += k;
        i += k;
        if (a->fill == a->n) frame_done(a);
    }
}

void lq_ltas_get(lq_ltas *a, lq_ltas_result *r)
{
    if (!a->flushed) { /* the tail: N - hop zeros, so the last samples are in 4 frames */
        static const double zeros[1024];
        const double *z[2] = {zeros, zeros};
        for (size_t left = a->n - a->hop; left > 0;) {
            const size_t k = left < 1024 ? left : 1024;
            push_frames(a, z, k);
            left -= k;
        }
        a->flushed = 1;
    }
    memset(r, 0, sizeof *r);
    r->rate = a->rate;
    r->channels = a->channels;
    r->seconds = (double)a->frames_in / a->rate;
    r->lufs = lq_kmeter_integrated(a->km);
    double sum = 0.0;
    long long cnt = 0;
    for (int b = 0; b < HIST_N; b++) {
        sum += a->hist[b].energy;
        cnt += a->hist[b].count;
    }
    double mid[LQ_LTAS_BANDS] = {0}, side[LQ_LTAS_BANDS] = {0};
    if (cnt) {
        const double gate = -0.691 + 10.0 * log10(sum / (double)cnt) - 10.0;
        for (int b = 0; b < HIST_N; b++) {
            const hist_bin *h = &a->hist[b];
            if (!h->count || !(HIST_LO + (b + 0.5) * HIST_BIN > gate)) continue;
            r->gated_frames += h->count;
            for (int k = 0; k < LQ_LTAS_BANDS; k++) {
                mid[k] += h->mid[k];
                side[k] += h->side[k];
            }
        }
    }
    /* power density per Hz (mean square per Hz of one-sided spectrum, up to a constant
     * factor): per frame, per unit of window energy, per rate (a bin's power grows with
     * the rate for the same signal), so that files at different rates compare */
    const double norm = r->gated_frames
                            ? 1.0 / ((double)r->gated_frames * a->win_e * a->rate) : 0.0;
    double side_total = 0.0, mid_total = 0.0;
    for (int k = 0; k < LQ_LTAS_BANDS; k++) {
        r->freq_hz[k] = band_centre(k);
        r->valid[k] = a->valid[k] && r->gated_frames > 0;
        r->mid_db[k] = r->valid[k] ? 10.0 * log10(mid[k] * norm + 1e-30) : -300.0;
        r->side_db[k] = r->valid[k] ? 10.0 * log10(side[k] * norm + 1e-30) : -300.0;
        if (r->valid[k]) {
            mid_total += mid[k];
            side_total += side[k];
        }
    }
    /* a side more than 80 dB below the mid is no side to match (mono, or L == R) */
    r->side_valid = a->channels == 2 && side_total > 1e-8 * mid_total;
}

void lq_ltas_destroy(lq_ltas **pa)
{
    lq_ltas *a = *pa;
    if (!a) return;
    if (a->plan) {
        lq_fftw_lock();
        fftw_destroy_plan(a->plan);
        lq_fftw_unlock();
    }
    fftw_free(a->tin);
    fftw_free(a->tout);
    free(a->m);
    free(a->s);
    free(a->win);
    free(a->kw2);
    free(a->pw);
    free(a->hist);
    lq_kmeter_destroy(&a->km);
    free(a);
    *pa = NULL;
}

lq_error lq_ltas_file(const char *path, lq_ltas_result *r, lq_diag *d)
{
    lq_audio_in in;
    lq_error e = lq_audio_in_open(&in, path, READ_BLOCK, d);
    if (e) return e;
    lq_ltas *a = NULL;
    double *buf[2] = {malloc(READ_BLOCK * sizeof(double)), malloc(READ_BLOCK * sizeof(double))};
    if (!buf[0] || !buf[1]) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (reference)");
    if (!e) e = lq_ltas_new(&a, in.channels, in.rate, d);
    while (!e) {
        size_t got = 0;
        if ((e = lq_audio_in_read(&in, buf, READ_BLOCK, &got, d)) || got == 0) break;
        lq_ltas_push(a, (const double *const *)buf, got);
    }
    if (!e) {
        lq_ltas_get(a, r);
        if (r->seconds < MIN_SECONDS)
            e = lq_diag_set(d, LQ_ERR_INPUT_EMPTY,
                            "%s: reference is %.2f s long (expected at least %.0f s of music)",
                            path, r->seconds, MIN_SECONDS);
        else if (!r->gated_frames || !isfinite(r->lufs))
            e = lq_diag_set(d, LQ_ERR_INPUT_EMPTY,
                            "%s: reference is silent (expected music above -70 LUFS)", path);
    }
    lq_ltas_destroy(&a);
    free(buf[0]);
    free(buf[1]);
    lq_audio_in_close(&in);
    return e;
}

/* ---- the matching curve ---------------------------------------------------------- */

void lq_match_opts_default(lq_match_opts *o)
{
    o->strength = 1.0;
    o->width_strength = 0.0;
    o->max_boost_db = 6.0;
    o->max_cut_db = 6.0;
    o->boost_lo_hz = 30.0;
    o->boost_hi_hz = 18000.0;
}

/* 1/4, 1/2, 1/4 over neighbouring bands (edges: the band itself stands in). */
static void smooth(const double *x, double *y)
{
    for (int k = 0; k < LQ_LTAS_BANDS; k++) {
        const double l = k > 0 ? x[k - 1] : x[k], r = k + 1 < LQ_LTAS_BANDS ? x[k + 1] : x[k];
        y[k] = 0.25 * l + 0.5 * x[k] + 0.25 * r;
    }
}

static double limit(const lq_match_opts *o, double f, double g)
{
    double hi = o->max_boost_db;
    if (f < o->boost_lo_hz || f > o->boost_hi_hz) hi = 0.0;
    if (g > hi) g = hi;
    if (g < -o->max_cut_db) g = -o->max_cut_db;
    return g;
}

void lq_match_design(const lq_ltas_result *mix, const lq_ltas_result *refs,
                     const double *weights, size_t n_refs, const lq_match_opts *o,
                     lq_match_curve *c)
{
    memset(c, 0, sizeof *c);
    double wl = 0.0, sl = 0.0;
    for (size_t i = 0; i < n_refs; i++) {
        const double w = weights ? weights[i] : 1.0;
        wl += w;
        sl += w * refs[i].lufs;
    }
    c->ref_lufs = wl > 0 ? sl / wl : mix->lufs;
    double rm[LQ_LTAS_BANDS], rs[LQ_LTAS_BANDS];
    for (int k = 0; k < LQ_LTAS_BANDS; k++) {
        c->freq_hz[k] = band_centre(k);
        double wm = 0, sm = 0, ws = 0, ss = 0;
        for (size_t i = 0; i < n_refs; i++) {
            const lq_ltas_result *r = &refs[i];
            const double w = weights ? weights[i] : 1.0;
            if (!r->valid[k] || !mix->valid[k]) continue;
            const double dm = (r->mid_db[k] - r->lufs) - (mix->mid_db[k] - mix->lufs);
            wm += w;
            sm += w * dm;
            /* a band whose side lies 40 dB or more under its mid (mono bass) carries no
             * width to match: its side follows the mid */
            if (r->side_valid && mix->side_valid && r->side_db[k] > r->mid_db[k] - 40.0 &&
                mix->side_db[k] > mix->mid_db[k] - 40.0) {
                ws += w;
                ss += w * ((r->side_db[k] - r->lufs) - (mix->side_db[k] - mix->lufs));
            }
        }
        rm[k] = wm > 0 ? sm / wm : 0.0;
        rs[k] = ws > 0 ? ss / ws : rm[k];
    }
    /* bands nobody measured (above a low rate's Nyquist) continue the last measured one */
    for (int k = 1; k < LQ_LTAS_BANDS; k++) {
        int any = 0;
        for (size_t i = 0; i < n_refs; i++) any |= refs[i].valid[k] && mix->valid[k];
        if (!any) {
            rm[k] = rm[k - 1];
            rs[k] = rs[k - 1];
        }
    }
    memcpy(c->raw_mid_db, rm, sizeof rm);
    memcpy(c->raw_side_db, rs, sizeof rs);
    double sm[LQ_LTAS_BANDS], ss[LQ_LTAS_BANDS];
    smooth(rm, sm);
    smooth(rs, ss);
    for (int k = 0; k < LQ_LTAS_BANDS; k++) {
        const double f = c->freq_hz[k];
        const double m = limit(o, f, sm[k]);
        const double s = limit(o, f, sm[k] + o->width_strength * (ss[k] - sm[k]));
        c->mid_db[k] = o->strength * m;
        c->side_db[k] = o->strength * s;
    }
}

/* A band's bounds: the limits scaled by the strength (the open-loop curve is
 * strength x limit(...): the same bounds), no boost outside boost_lo..hi_hz. */
static void bounds(const lq_match_opts *o, double f, double *lo, double *hi)
{
    *hi = o->strength * o->max_boost_db;
    *lo = -o->strength * o->max_cut_db;
    if (f < o->boost_lo_hz || f > o->boost_hi_hz) *hi = 0.0;
}

/* Sum of the squared amounts by which u - off leaves the bounds. */
static double excess2(const double *u, const double *lo, const double *hi, int n, double off)
{
    double s = 0.0;
    for (int k = 0; k < n; k++) {
        const double v = u[k] - off;
        const double x = v > hi[k] ? v - hi[k] : v < lo[k] ? lo[k] - v : 0.0;
        s += x * x;
    }
    return s;
}

/* The level offset of the curve: the spectra are compared level-aligned, so a constant
 * added to the whole curve changes nothing but the level, which the finishing stage sets
 * anyway.  The one that leaves the least outside the limits (sum of squares, a convex
 * function of the offset: golden-section search); when the whole curve fits, the one
 * nearest pref. */
static double best_offset(const double *u, const double *lo, const double *hi, int n,
                          double pref)
{
    double a = -INFINITY, b = INFINITY;   /* offsets for which everything fits */
    for (int k = 0; k < n; k++) {
        a = fmax(a, u[k] - hi[k]);
        b = fmin(b, u[k] - lo[k]);
    }
    if (n == 0) return 0.0;
    if (a <= b) return a > pref ? a : b < pref ? b : pref;
    double x0 = b, x1 = a;                 /* the minimum lies between them */
    const double g = (sqrt(5.0) - 1.0) / 2.0;
    for (int it = 0; it < 80; it++) {
        const double m1 = x1 - g * (x1 - x0), m2 = x0 + g * (x1 - x0);
        if (excess2(u, lo, hi, n, m1) <= excess2(u, lo, hi, n, m2)) x1 = m2;
        else x0 = m1;
    }
    return 0.5 * (x0 + x1);
}

/* A band's power smoothed over a third of an octave in power (1/4, 1/2, 1/4 over its
 * neighbours, the valid ones), in dB. */
static double wband(const lq_ltas_result *r, const double *db, int k)
{
    double p = 0.0, w = 0.0;
    for (int i = -1; i <= 1; i++) {
        const int b = k + i;
        if (b < 0 || b >= LQ_LTAS_BANDS || !r->valid[b]) continue;
        const double h = i ? 0.25 : 0.5;
        p += h * pow(10.0, db[b] / 10.0);
        w += h;
    }
    return 10.0 * log10(p / w + 1e-30);
}

/* A reference's (or the references' weighted mean) target for band k, and what the bus
 * did, both as third-octave power ratios (wband) to the mix, level-aligned. */
static double want_at(const lq_ltas_result *mix, const lq_ltas_result *refs,
                      const double *weights, size_t n_refs, int side, int k, double dflt)
{
    double sw = 0.0, sd = 0.0;
    const double mx = wband(mix, side ? mix->side_db : mix->mid_db, k) - mix->lufs;
    for (size_t i = 0; i < n_refs; i++) {
        const lq_ltas_result *r = &refs[i];
        if (!r->valid[k] || (side && !r->side_valid)) continue;
        const double w = weights ? weights[i] : 1.0;
        sw += w;
        sd += w * (wband(r, side ? r->side_db : r->mid_db, k) - r->lufs - mx);
    }
    return sw > 0.0 ? sd / sw : dflt;
}

void lq_match_refine(lq_match_curve *c, const lq_ltas_result *mix, const lq_ltas_result *out,
                     const lq_ltas_result *refs, const double *weights, size_t n_refs,
                     const lq_match_opts *o)
{
    if (!(o->strength > 0.0) || !out->gated_frames || !mix->gated_frames) return;
    const int side = o->width_strength > 0.0 && mix->side_valid && out->side_valid;
    enum { NB = LQ_LTAS_BANDS };
    /* per band: the bounds; whether it is measured (on), whether the side has its own
     * target (own); the targets and what the bus did (level-aligned, dB); the output's
     * K-weighted power of mid and side (for the loudness model) */
    double lo[NB], hi[NB], wm[NB], ws[NB], em[NB], es[NB], mxm[NB], mxs[NB];
    int on[NB], own[NB];
    double e0 = 0.0;
    for (int k = 0; k < NB; k++) {
        const double f = c->freq_hz[k];
        bounds(o, f, &lo[k], &hi[k]);
        /* refined: measured bands whose third of an octave lies where the curve may both
         * boost and cut (a band beside one that may not be boosted would be driven to
         * make up for it) */
        on[k] = mix->valid[k] && out->valid[k] && k > 0 && k + 1 < NB &&
                c->freq_hz[k - 1] >= o->boost_lo_hz && c->freq_hz[k + 1] <= o->boost_hi_hz;
        own[k] = 0;
        em[k] = es[k] = 0.0;
        if (!on[k]) continue;
        const double wk = lq_kmeter_weight2(out->rate, f) * f; /* bands are f wide, x const */
        em[k] = wk * pow(10.0, out->mid_db[k] / 10.0);
        es[k] = out->channels == 2 ? wk * pow(10.0, out->side_db[k] / 10.0) : 0.0;
        e0 += em[k] + es[k];
        mxm[k] = wband(mix, mix->mid_db, k) - mix->lufs;
        wm[k] = o->strength * want_at(mix, refs, weights, n_refs, 0, k, c->raw_mid_db[k]);
        own[k] = side && out->side_db[k] > out->mid_db[k] - 40.0 &&
                 mix->side_db[k] > mix->mid_db[k] - 40.0;
        if (own[k]) {
            mxs[k] = wband(mix, mix->side_db, k) - mix->lufs;
            const double rs = want_at(mix, refs, weights, n_refs, 1, k, c->raw_side_db[k]);
            ws[k] = wm[k] + o->strength * o->width_strength * (rs - wm[k] / o->strength);
        }
    }
    if (!(e0 > 0.0)) return;
    /* The update d (dB per band, mid and side) that would make the output meet the
     * targets, on a model of the bus: each band's power moves by its change of gain, and
     * the loudness (the level alignment) by the K-weighted power sum, BS.1770-4.  Solved
     * by fixed-point iteration: a band that the bounds hold back (or that the loudness
     * drags) is retried with what it still misses, and the level offset of the whole
     * curve (best_offset) is chosen anew each time. */
    double dm[NB] = {0}, ds[NB] = {0}, nm[NB], ns[NB], pm[NB], ps[NB];
    lq_ltas_result pred = *out;
    double fu[2 * NB], flo[2 * NB], fhi[2 * NB];
    for (int it = 0; it < 40; it++) {
        int nf = 0;
        for (int k = 0; k < NB; k++) {
            nm[k] = c->mid_db[k] + dm[k];
            ns[k] = c->side_db[k] + (own[k] ? ds[k] : dm[k]);
            /* the bands the level offset answers to: where both boost and cut are open */
            if (!on[k] || c->freq_hz[k] < o->boost_lo_hz || c->freq_hz[k] > o->boost_hi_hz)
                continue;
            fu[nf] = nm[k], flo[nf] = lo[k], fhi[nf++] = hi[k];
            if (own[k]) fu[nf] = ns[k], flo[nf] = lo[k], fhi[nf++] = hi[k];
        }
        /* a constant added to the whole curve changes nothing level-aligned (the loudness
         * moves by as much): the level is pinned where the eq leaves the loudness as it
         * is, unless the bounds ask for another */
        double x0 = -48.0, x1 = 48.0;   /* the loudness change falls as the offset rises */
        for (int b = 0; b < 48; b++) {
            const double x = 0.5 * (x0 + x1);
            double eu = 0.0;
            for (int k = 0; k < NB; k++)
                eu += em[k] * pow(10.0, (fmin(hi[k], fmax(lo[k], nm[k] - x)) - c->mid_db[k]) / 10.0) +
                      es[k] * pow(10.0, (fmin(hi[k], fmax(lo[k], ns[k] - x)) - c->side_db[k]) / 10.0);
            if (eu > e0) x0 = x;
            else x1 = x;
        }
        const double off = best_offset(fu, flo, fhi, nf, 0.5 * (x0 + x1));
        double e1 = 0.0;
        for (int k = 0; k < NB; k++) {
            nm[k] = fmin(hi[k], fmax(lo[k], nm[k] - off));
            ns[k] = fmin(hi[k], fmax(lo[k], ns[k] - off));
            e1 += em[k] * pow(10.0, (nm[k] - c->mid_db[k]) / 10.0) +
                  es[k] * pow(10.0, (ns[k] - c->side_db[k]) / 10.0);
        }
        const double dl = 10.0 * log10(e1 / e0);   /* the loudness change */
        /* the output's bands as the model predicts them, then third-octave smoothed */
        lq_ltas_result *pr = &pred;
        for (int k = 0; k < NB; k++) {
            pr->mid_db[k] = out->mid_db[k] + (nm[k] - c->mid_db[k]);
            pr->side_db[k] = out->side_db[k] + (ns[k] - c->side_db[k]);
        }
        for (int k = 0; k < NB; k++) {
            if (!on[k]) continue;
            pm[k] = wband(pr, pr->mid_db, k) - out->lufs - dl - mxm[k];
            if (own[k]) ps[k] = wband(pr, pr->side_db, k) - out->lufs - dl - mxs[k];
        }
        /* next: from where the band now stands (held at its bound, if so), by what it
         * still misses; so a band that cannot get there asks no further than that */
        double mm[NB], ms[NB], sm[NB], ss[NB];
        for (int k = 0; k < NB; k++) {
            mm[k] = on[k] ? wm[k] - pm[k] : 0.0;
            ms[k] = own[k] ? ws[k] - ps[k] : mm[k];
        }
        /* smoothed like the open-loop curve: the targets are third-octave power sums, which
         * cannot tell a curve from one with a zig-zag added, so no zig-zag is asked for */
        smooth(mm, sm);
        smooth(ms, ss);
        for (int k = 0; k < NB; k++) {
            if (!on[k]) continue;
            dm[k] = nm[k] - c->mid_db[k] + sm[k];
            if (own[k]) ds[k] = ns[k] - c->side_db[k] + ss[k];
        }
    }
    for (int k = 0; k < NB; k++) {
        c->mid_db[k] = nm[k];
        c->side_db[k] = side ? ns[k] : nm[k];
    }
}

double lq_match_figure(const lq_ltas_result *a, const lq_ltas_result *b)
{
    /* third-octave bands: pairs of sixth-octave bands' power, centred on the even k */
    double s2 = 0.0;
    int n = 0;
    for (int k = 0; k + 1 < LQ_LTAS_BANDS; k += 2) {
        const double f = band_centre(k) * pow(2.0, 1.0 / 12.0);
        if (f < 40.0 || f > 16000.0 || !a->valid[k + 1] || !b->valid[k + 1]) continue;
        const double pa =
            10.0 * log10(pow(10.0, a->mid_db[k] / 10) + pow(10.0, a->mid_db[k + 1] / 10));
        const double pb =
            10.0 * log10(pow(10.0, b->mid_db[k] / 10) + pow(10.0, b->mid_db[k + 1] / 10));
        const double dd = (pa - a->lufs) - (pb - b->lufs);
        s2 += dd * dd;
        n++;
    }
    return n ? sqrt(s2 / n) : 0.0;
}

static void curve_points(lq_text *b, const double *f, const double *g, int indent)
{
    lq_text_add(b, "[");
    for (int k = 0; k < LQ_LTAS_BANDS; k++) {
        if (k % 3 == 0) lq_text_add(b, "%s\n%*s", k ? "," : "", indent, "");
        else lq_text_add(b, ", ");
        lq_text_add(b, "[%.17g, %.17g]", f[k], g[k]);
    }
    lq_text_add(b, "]");
}

char *lq_match_eq_yaml(const lq_match_curve *c, int indent)
{
    lq_text b = {0};
    int same = 1;
    for (int k = 0; k < LQ_LTAS_BANDS; k++) same &= c->mid_db[k] == c->side_db[k];
    lq_text_add(&b, "%*s- eq:\n%*s    bands:\n", indent, "", indent, "");
    if (same) {
        lq_text_add(&b, "%*s      - type: curve\n%*s        channels: stereo\n%*s        points: ",
               indent, "", indent, "", indent, "");
        curve_points(&b, c->freq_hz, c->mid_db, indent + 10);
        lq_text_add(&b, "\n");
    } else {
        const char *names[2] = {"mid", "side"};
        const double *g[2] = {c->mid_db, c->side_db};
        for (int i = 0; i < 2; i++) {
            lq_text_add(&b, "%*s      - type: curve\n%*s        channels: %s\n%*s        points: ",
                   indent, "", indent, "", names[i], indent, "");
            curve_points(&b, c->freq_hz, g[i], indent + 10);
            lq_text_add(&b, "\n");
        }
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
