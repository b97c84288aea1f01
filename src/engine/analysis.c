/* The deeper analysis of a mix, streamed in bounded memory (see analysis.h).
 *
 * Definitions (docs/REPORT.md "analysis" lists them for users):
 * - PSR: short-term loudness (3 s, EBU Tech 3341) against the largest true peak of the
 *   same 3 s, every 100 ms; its minimum over the file.  The true peak is lacquer's own
 *   16x meter (dsp/oversample.h, BS.1770-4 Annex 2 style), exact over its grid, and the
 *   file's true peak (true_peak_16x_dbtp) comes from the same pass.  It stays cheap
 *   because each 100 ms hop is metered 3 s late (its audio waits in a ring), once the
 *   sample peaks of every 3 s window holding it are known: the meter starts from T, the
 *   smallest of those windows' sample peaks, and interpolates only where its bounds
 *   exceed T.  A hop whose true peak is <= T cannot be the largest true peak of any of
 *   its windows (a sample of that window is >= T), so it keeps its sample peak and every
 *   window's maximum is still exact.  Interval [s, s+1) belongs to the hop of sample s.
 * - Crest factor: sample peak over RMS (both channels), dB.
 * - Balance: energy of L over energy of R, dB (positive: leans left).
 * - Correlation over time: Pearson correlation of L and R over 400 ms windows every
 *   100 ms (windows where both channels are below -60 dBFS RMS are skipped); the 5th
 *   percentile of those values (a histogram of 0.001 steps: bounded memory).
 * - Mono fold-down loss: energy of L and R against twice the energy of (L+R)/2, dB (0
 *   for identical channels, 3.01 for independent ones, +inf when they cancel).
 * - Below 120 Hz (2nd-order Butterworth low-pass on each channel, RBJ Audio EQ
 *   Cookbook): the side share S^2/(M^2+S^2) of the energy and the correlation.
 * - Effective bit depth: the coarsest grid 2^-(b-1) every sample lies on (a 16-bit
 *   signal in a 24-bit file gives 16; 32 when the samples are on no 31-bit grid).
 * - Head and tail silence: before the first and after the last sample above -60 dBFS.
 * - Inter-sample overs: sample intervals (per channel) where the 16x-oversampled
 *   reconstruction (dsp/oversample.h) exceeds full scale, counted by the true-peak meter
 *   of PSR below (before the first sample and after the last, zeros).
 * - Spectrum: Welch average (Hann window, 50 % overlap, ~0.34 s frames) of the power
 *   spectrum of each channel, summed into IEC 61260 third-octave bands (centres
 *   1000*10^(k/10) Hz, edges at 10^(+-1/20) times the centre; partial bins weighted by
 *   their overlap), as dBFS RMS per band.  Tilt: least-squares slope of the band levels
 *   against log2(frequency) from 50 Hz to 16 kHz (white noise +3.01 dB/oct, pink 0).
 *   Sub-bass: 20-50 Hz bands against 100-400 Hz; harshness: 2-8 kHz against 200-800 Hz
 *   (power per band, dB; 0 for pink noise). */
#include "engine/analysis.h"

#include <fftw3.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/fftw_lock.h"
#include "dsp/oversample.h"

#define CORR_BINS 2001
#define TP_RING 30 /* hops in a short-term window (3 s) */
#define HOP_RING 64 /* hop records kept: the window before a hop and the one after */
#define CORR_RING 4
#define SILENCE_THR 0.001 /* -60 dBFS */

typedef struct biquad {
    double b0, b1, b2, a1, a2;
} biquad;

struct lq_deep {
    int nc;
    double rate;
    size_t max_block;
    long long frames;
    /* energies */
    double ee[2], elr, peak, hop_peak;
    double low_state[2][4], low_ll, low_rr, low_lr;
    biquad lp;
    /* correlation over time */
    double hop_s[3], ring_s[CORR_RING][3];
    int ring_n, ring_pos;
    long long corr_hist[CORR_BINS], corr_count;
    /* PSR and the true peak (the 3 s delayed 16x meter, see the top of this file) */
    struct hop_rec {
        long long start;    /* first frame */
        long long len;
        double sp, st, tp;  /* sample peak, short-term LUFS, true peak (linear) */
    } hops[HOP_RING];
    long long nh, done;     /* hops completed, hops metered */
    long long hop_start;    /* first frame of the hop being pushed */
    lq_os_filter tpf;       /* 16x */
    lq_os_stream tps[2];
    double *ring[2];        /* the last ring_cap frames: frame t at t % ring_cap */
    size_t ring_cap;
    long long fed;          /* frames fed to tps */
    double tp_max;          /* largest true peak metered (linear) */
    int flushed;
    double psr_min;
    /* bit depth */
    uint64_t bits_or;
    int offgrid, bits_done;
    /* silence */
    long long first_loud, last_loud;
    /* overs (counted by the true-peak meter) */
    long long overs;
    int lite;
    /* spectrum */
    size_t nfft, fill;
    double *buf[2], *win, *fin, *psd;
    fftw_complex *fout;
    fftw_plan plan;
    long long nframes_fft;
    /* series */
    lq_series st, psr, corr;
};

double lq_third_octave_hz(int i)
{
    return 1000.0 * pow(10.0, (i - 17) / 10.0);
}

void lq_series_init(lq_series *s, double step_s, int merge_min)
{
    memset(s, 0, sizeof *s);
    s->step_s = step_s;
    s->merge_min = merge_min;
    s->acc_per = 1;
    s->acc = NAN;
}

static float merge(const lq_series *s, float a, float b)
{
    if (isnan(a)) return b;
    if (isnan(b)) return a;
    return s->merge_min ? fminf(a, b) : fmaxf(a, b);
}

void lq_series_add(lq_series *s, double v)
{
    s->acc = merge(s, s->acc, (float)v);
    if (++s->acc_k < s->acc_per) return;
    if (s->n == LQ_SERIES_MAX) {
        for (int i = 0; i < LQ_SERIES_MAX / 2; i++)
            s->v[i] = merge(s, s->v[2 * i], s->v[2 * i + 1]);
        s->n = LQ_SERIES_MAX / 2;
        s->step_s *= 2;
        s->acc_per *= 2;
        /* the point just completed covered the old step: keep accumulating it */
        if (s->acc_k < s->acc_per) return;
    }
    s->v[s->n++] = s->acc;
    s->acc_k = 0;
    s->acc = NAN;
}

/* RBJ Audio EQ Cookbook low-pass, Q = 1/sqrt(2) (Butterworth). */
static biquad lowpass(double f, double rate)
{
    double w = 2 * M_PI * f / rate, al = sin(w) / (2 * M_SQRT1_2), c = cos(w);
    double a0 = 1 + al;
    return (biquad){(1 - c) / 2 / a0, (1 - c) / a0, (1 - c) / 2 / a0, -2 * c / a0,
                    (1 - al) / a0};
}

lq_error lq_deep_new(lq_deep **out, int channels, double rate, size_t max_block, int lite,
                     lq_diag *d)
{
    lq_deep *a = calloc(1, sizeof *a);
    if (!a) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    a->nc = channels;
    a->rate = rate;
    a->max_block = max_block;
    a->first_loud = a->last_loud = -1;
    a->lite = lite;
    a->bits_done = lite;
    a->psr_min = HUGE_VAL;
    a->lp = lowpass(120.0, rate);
    a->nfft = 1024;
    while ((double)a->nfft < rate / 3.0) a->nfft <<= 1;
    lq_series_init(&a->st, 0.1, 0);
    lq_series_init(&a->psr, 0.1, 1);
    lq_series_init(&a->corr, 0.1, 1);
    lq_os_stream_reset(&a->tps[0]);
    lq_os_stream_reset(&a->tps[1]);
    if (!lite) {
        /* a hop waits for the 29 after it (and 32 frames of the next), while the
         * caller may push up to max_block more */
        a->ring_cap = (size_t)(TP_RING + 2) * ((size_t)llround(rate / 10.0) + 1) + max_block +
                      LQ_OS_DELAY;
        for (int c = 0; c < channels; c++) {
            a->ring[c] = malloc(a->ring_cap * sizeof(double));
            if (!a->ring[c]) goto fail;
        }
        if (lq_os_design(&a->tpf, 16) != LQ_OK) goto fail;
    }
    a->win = malloc(a->nfft * sizeof *a->win);
    a->psd = calloc(a->nfft / 2 + 1, sizeof *a->psd);
    for (int c = 0; c < channels; c++) a->buf[c] = calloc(a->nfft, sizeof(double));
    a->fin = fftw_malloc(a->nfft * sizeof(double));
    a->fout = fftw_malloc((a->nfft / 2 + 1) * sizeof(fftw_complex));
    if (!a->win || !a->psd || !a->buf[0] || (channels > 1 && !a->buf[1]) ||
        !a->fin || !a->fout)
        goto fail;
    for (size_t i = 0; i < a->nfft; i++)
        a->win[i] = 0.5 - 0.5 * cos(2 * M_PI * (double)i / (double)a->nfft); /* periodic Hann */
    lq_fftw_lock();
    a->plan = fftw_plan_dft_r2c_1d((int)a->nfft, a->fin, a->fout, FFTW_ESTIMATE);
    lq_fftw_unlock();
    if (!a->plan) goto fail;
    *out = a;
    return LQ_OK;
fail:
    lq_deep_destroy(&a);
    return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (analysis)");
}

void lq_deep_destroy(lq_deep **pa)
{
    lq_deep *a = *pa;
    if (!a) return;
    if (a->plan) {
        lq_fftw_lock();
        fftw_destroy_plan(a->plan);
        lq_fftw_unlock();
    }
    fftw_free(a->fin);
    fftw_free(a->fout);
    free(a->buf[0]);
    free(a->buf[1]);
    free(a->win);
    free(a->psd);
    free(a->ring[0]);
    free(a->ring[1]);
    lq_os_filter_free(&a->tpf);
    free(a);
    *pa = NULL;
}

/* One Welch frame from the first nfft samples of each channel's buffer. */
static void spectrum_frame(lq_deep *a)
{
    const size_t n = a->nfft;
    for (int c = 0; c < a->nc; c++) {
        for (size_t i = 0; i < n; i++) a->fin[i] = a->buf[c][i] * a->win[i];
        fftw_execute(a->plan);
        for (size_t k = 0; k <= n / 2; k++)
            a->psd[k] += a->fout[k][0] * a->fout[k][0] + a->fout[k][1] * a->fout[k][1];
    }
    a->nframes_fft++;
}

static void bits_scan(lq_deep *a, const double *x, size_t n)
{
    const double scale = 2147483648.0; /* 2^31 */
    uint64_t acc = a->bits_or;
    for (size_t i = 0; i < n; i++) {
        const double v = x[i] * scale;
        /* on the grid: an integer (a conversion and back, no libm call) within 2^31 */
        const long long iv = fabs(v) <= scale ? (long long)v : 0;
        if (!(fabs(v) <= scale) || (double)iv != v) {
            a->offgrid = 1;
            a->bits_done = 1;
            return;
        }
        acc |= (uint64_t)llabs(iv);
        if (acc & 1) break;
    }
    a->bits_or = acc;
    if (acc & 1) a->bits_done = 1;
}

void lq_deep_push(lq_deep *a, const double *const *p, size_t n)
{
    const int nc = a->nc;
    const double *L = p[0], *R = p[nc > 1 ? 1 : 0];
    /* energies, peaks, silence, low end */
    double eL = 0, eR = 0, eLR = 0, pk = a->hop_peak;
    double s0 = a->low_state[0][0], s1 = a->low_state[0][1], t0 = a->low_state[1][0],
           t1 = a->low_state[1][1];
    double lll = 0, lrr = 0, llr = 0;
    const biquad q = a->lp;
    for (size_t i = 0; i < n; i++) {
        double l = L[i], r = R[i];
        eL += l * l;
        eR += r * r;
        eLR += l * r;
        double m = fmax(fabs(l), fabs(r));
        if (m > pk) pk = m;
        if (m > SILENCE_THR) {
            if (a->first_loud < 0) a->first_loud = a->frames + (long long)i;
            a->last_loud = a->frames + (long long)i;
        }
        /* transposed direct form II */
        double yl = q.b0 * l + s0;
        s0 = q.b1 * l - q.a1 * yl + s1;
        s1 = q.b2 * l - q.a2 * yl;
        double yr = q.b0 * r + t0;
        t0 = q.b1 * r - q.a1 * yr + t1;
        t1 = q.b2 * r - q.a2 * yr;
        lll += yl * yl;
        lrr += yr * yr;
        llr += yl * yr;
    }
    a->low_state[0][0] = s0, a->low_state[0][1] = s1;
    a->low_state[1][0] = t0, a->low_state[1][1] = t1;
    a->low_ll += lll, a->low_rr += lrr, a->low_lr += llr;
    a->ee[0] += eL, a->ee[1] += eR, a->elr += eLR;
    a->hop_s[0] += eL, a->hop_s[1] += eR, a->hop_s[2] += eLR;
    a->hop_peak = pk;
    if (pk > a->peak) a->peak = pk;
    /* bit depth */
    for (int c = 0; c < nc && !a->bits_done; c++) bits_scan(a, p[c], n);
    /* the audio waits in the ring for the true peak and the overs (finish_hop) */
    for (int c = 0; c < nc && !a->lite; c++) {
        for (size_t i = 0, w = (size_t)(a->frames % (long long)a->ring_cap); i < n;) {
            size_t k = a->ring_cap - w < n - i ? a->ring_cap - w : n - i;
            memcpy(a->ring[c] + w, p[c] + i, k * sizeof(double));
            i += k;
            w = 0;
        }
    }
    /* spectrum */
    for (size_t off = 0; off < n;) {
        size_t k = a->nfft - a->fill;
        if (k > n - off) k = n - off;
        for (int c = 0; c < nc; c++) memcpy(a->buf[c] + a->fill, p[c] + off, k * sizeof(double));
        a->fill += k;
        off += k;
        if (a->fill == a->nfft) {
            spectrum_frame(a);
            const size_t h = a->nfft / 2;
            for (int c = 0; c < nc; c++) memmove(a->buf[c], a->buf[c] + h, h * sizeof(double));
            a->fill = h;
        }
    }
    a->frames += (long long)n;
}

/* Feed the 16x meter up to frame `to` (zeros after the last frame pushed), starting
 * from mx; returns the largest value above mx, or mx, and counts the overs. */
static double feed_tp(lq_deep *a, long long to, double mx)
{
    double r = mx;
    for (int c = 0; c < a->nc; c++) {
        long long t = a->fed;
        while (t < to) {
            if (t < a->frames) {
                size_t w = (size_t)(t % (long long)a->ring_cap);
                long long k = (long long)(a->ring_cap - w);
                if (k > a->frames - t) k = a->frames - t;
                if (k > to - t) k = to - t;
                r = lq_os_stream_meter_over(&a->tps[c], &a->tpf, a->ring[c] + w, (size_t)k, r,
                                            1.0, &a->overs);
                t += k;
            } else {
                static const double zeros[LQ_OS_DELAY];
                long long k = to - t < LQ_OS_DELAY ? to - t : LQ_OS_DELAY;
                r = lq_os_stream_meter_over(&a->tps[c], &a->tpf, zeros, (size_t)k, r, 1.0,
                                            &a->overs);
                t += k;
            }
        }
    }
    if (to > a->fed) a->fed = to;
    return r;
}

/* Meter hop `done` (every hop of the 3 s windows holding it is complete, or the file
 * ended) and give the PSR of the window that ends with it. */
static void finish_hop(lq_deep *a)
{
    const long long h = a->done, last = a->nh - 1;
    struct hop_rec *r = &a->hops[h % HOP_RING];
    double tp = r->sp;
    if (!a->lite) {
        /* T: the smallest sample peak of the windows [e-29, e] that hold h */
        double thr = HUGE_VAL;
        for (long long e = h; e <= last && e < h + TP_RING; e++) {
            double m = 0;
            for (long long j = e - TP_RING + 1 < 0 ? 0 : e - TP_RING + 1; j <= e; j++)
                if (a->hops[j % HOP_RING].sp > m) m = a->hops[j % HOP_RING].sp;
            if (m < thr) thr = m;
        }
        /* the intervals of the hop's samples: the meter's output lags by LQ_OS_DELAY */
        double v = feed_tp(a, r->start + r->len + LQ_OS_DELAY, thr);
        if (v > thr) tp = v;
        if (tp > a->tp_max) a->tp_max = tp;
    }
    r->tp = tp;
    double psr = NAN;
    if (isfinite(r->st) && r->st > -70.0) {
        double mx = 0;
        for (long long j = h - TP_RING + 1 < 0 ? 0 : h - TP_RING + 1; j <= h; j++)
            if (a->hops[j % HOP_RING].tp > mx) mx = a->hops[j % HOP_RING].tp;
        psr = 20.0 * log10(mx) - r->st;
        if (psr < a->psr_min) a->psr_min = psr;
    }
    lq_series_add(&a->psr, psr);
    a->done++;
}

void lq_deep_hop(lq_deep *a, double st)
{
    /* correlation over the last 400 ms */
    memcpy(a->ring_s[a->ring_pos], a->hop_s, sizeof a->hop_s);
    a->ring_pos = (a->ring_pos + 1) % CORR_RING;
    if (a->ring_n < CORR_RING) a->ring_n++;
    memset(a->hop_s, 0, sizeof a->hop_s);
    double corr = NAN;
    if (a->nc == 2 && a->ring_n == CORR_RING) {
        double s[3] = {0, 0, 0};
        for (int i = 0; i < CORR_RING; i++)
            for (int k = 0; k < 3; k++) s[k] += a->ring_s[i][k];
        double frames = 0.4 * a->rate, floor_e = SILENCE_THR * SILENCE_THR * frames;
        if (s[0] > floor_e || s[1] > floor_e) {
            double den = sqrt(s[0] * s[1]);
            corr = den > 0 ? s[2] / den : 0.0;
            if (corr > 1) corr = 1;
            if (corr < -1) corr = -1;
            a->corr_hist[lround((corr + 1.0) * 1000.0)]++;
            a->corr_count++;
        }
    }
    lq_series_add(&a->corr, corr);
    /* the hop's record; hops are metered (and their PSR known) 3 s later */
    struct hop_rec *h = &a->hops[a->nh % HOP_RING];
    h->start = a->hop_start;
    h->len = a->frames - a->hop_start;
    h->sp = a->hop_peak;
    h->st = st;
    h->tp = 0;
    a->hop_peak = 0;
    a->hop_start = a->frames;
    a->nh++;
    while (a->done + TP_RING <= a->nh) finish_hop(a);
    lq_series_add(&a->st, isfinite(st) && st > -70.0 ? st : NAN);
}

/* Power of the spectrum between f0 and f1 Hz, bins weighted by their overlap. */
static double band_power(const lq_deep *a, const double *pw, double f0, double f1)
{
    const double df = a->rate / (double)a->nfft;
    double sum = 0;
    long k0 = (long)floor(f0 / df - 0.5), k1 = (long)ceil(f1 / df + 0.5);
    if (k0 < 0) k0 = 0;
    if (k1 > (long)(a->nfft / 2)) k1 = (long)(a->nfft / 2);
    for (long k = k0; k <= k1; k++) {
        double lo = ((double)k - 0.5) * df, hi = ((double)k + 0.5) * df;
        double o = fmin(hi, f1) - fmax(lo, f0);
        if (o > 0) sum += pw[k] * o / df;
    }
    return sum;
}

static double bands_mean(const double *bp, int i0, int i1)
{
    double s = 0;
    for (int i = i0; i <= i1; i++) s += bp[i];
    return s / (i1 - i0 + 1);
}

void lq_deep_result_get(lq_deep *a, lq_deep_result *r)
{
    memset(r, 0, sizeof *r);
    if (!a->flushed) {
        /* the last hops, then the frames after the last hop and the interpolator's tail
         * (as if zeros followed), against the largest true peak found */
        while (a->done < a->nh) finish_hop(a);
        if (!a->lite) a->tp_max = feed_tp(a, a->frames + LQ_OS_DELAY, a->tp_max);
        a->flushed = 1;
    }
    r->true_peak = a->lite ? NAN : a->tp_max;
    r->sample_peak = a->peak;
    const double nf = a->frames > 0 ? (double)a->frames : 1.0;
    const int nc = a->nc;
    double e = nc == 2 ? (a->ee[0] + a->ee[1]) / (2 * nf) : a->ee[0] / nf;
    r->crest_db = e > 0 && a->peak > 0 ? 20 * log10(a->peak) - 10 * log10(e) : NAN;
    r->psr_min_db = isfinite(a->psr_min) ? a->psr_min : NAN;
    if (nc == 2) {
        r->balance_db = 10 * log10((a->ee[0] + 1e-30) / (a->ee[1] + 1e-30));
        double mono = (a->ee[0] + a->ee[1] + 2 * a->elr) / 4.0; /* energy of (L+R)/2 */
        double tot = a->ee[0] + a->ee[1];
        r->mono_loss_db = tot <= 0 ? 0.0
                          : mono <= tot * 1e-12 ? HUGE_VAL
                                                : 10 * log10(tot / (2 * mono));
        double m2 = a->low_ll + a->low_rr + 2 * a->low_lr, s2 = a->low_ll + a->low_rr - 2 * a->low_lr;
        r->low_side_ratio = m2 + s2 > 0 ? s2 / (m2 + s2) : 0.0;
        double den = sqrt(a->low_ll * a->low_rr);
        r->low_correlation = den > 0 ? a->low_lr / den : 1.0;
        if (a->corr_count) {
            long long want = (a->corr_count * 5 + 99) / 100, cum = 0;
            int i = 0;
            while (i < CORR_BINS - 1 && (cum += a->corr_hist[i]) < want) i++;
            r->correlation_p5 = i / 1000.0 - 1.0;
        } else {
            r->correlation_p5 = NAN;
        }
    } else {
        r->balance_db = 0;
        r->mono_loss_db = 0;
        r->low_side_ratio = 0;
        r->low_correlation = 1;
        r->correlation_p5 = 1;
    }
    if (a->offgrid) r->effective_bits = 32;
    else if (!a->bits_or) r->effective_bits = 0;
    else {
        int tz = 0;
        while (!((a->bits_or >> tz) & 1)) tz++;
        r->effective_bits = 32 - tz;
    }
    const double ms = 1000.0 / a->rate;
    if (a->first_loud < 0) {
        r->head_silence_ms = r->tail_silence_ms = (double)a->frames * ms;
    } else {
        r->head_silence_ms = (double)a->first_loud * ms;
        r->tail_silence_ms = (double)(a->frames - 1 - a->last_loud) * ms;
    }
    r->intersample_overs = a->overs;
    /* spectrum: a short file gets one zero-padded frame */
    if (!a->nframes_fft && a->fill) {
        for (int c = 0; c < nc; c++)
            memset(a->buf[c] + a->fill, 0, (a->nfft - a->fill) * sizeof(double));
        spectrum_frame(a);
    }
    double wss = 0;
    for (size_t i = 0; i < a->nfft; i++) wss += a->win[i] * a->win[i];
    /* |X_k|^2 * 2 / (N * sum w^2) is the mean-square power in bin k (one-sided) */
    const double norm = a->nframes_fft ? 2.0 / (wss * (double)a->nfft * (double)a->nframes_fft * nc)
                                       : 0.0;
    double bp[LQ_THIRD_OCTAVES];
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int nfit = 0;
    for (int i = 0; i < LQ_THIRD_OCTAVES; i++) {
        double fc = lq_third_octave_hz(i);
        double lo = fc * pow(10, -0.05), hi = fc * pow(10, 0.05);
        bp[i] = hi < a->rate / 2 ? norm * band_power(a, a->psd, lo, hi) : 0.0;
        r->third_octave_db[i] = bp[i] > 1e-20 ? 10 * log10(bp[i]) : -200.0;
        if (fc >= 49 && fc <= 16500 && hi < 0.45 * a->rate && bp[i] > 1e-20) {
            double x = log2(fc / 1000.0), y = r->third_octave_db[i];
            sx += x, sy += y, sxx += x * x, sxy += x * y;
            nfit++;
        }
    }
    r->tilt_db_oct = nfit > 2 ? (nfit * sxy - sx * sy) / (nfit * sxx - sx * sx) : NAN;
    double ref_lo = bands_mean(bp, 7, 13), ref_mid = bands_mean(bp, 10, 16);
    r->sub_bass_db = ref_lo > 0 ? 10 * log10((bands_mean(bp, 0, 4) + 1e-30) / ref_lo) : NAN;
    r->harsh_db = ref_mid > 0 && a->rate > 17000
                      ? 10 * log10((bands_mean(bp, 20, 26) + 1e-30) / ref_mid)
                      : NAN;
    r->short_term = a->st;
    r->psr = a->psr;
    r->correlation = a->corr;
}
