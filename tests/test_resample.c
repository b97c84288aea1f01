/* The sample-rate converters a target can choose (engine/resample.c), measured on the
 * same signals, spool to spool as the engine runs them: tone spurs, pass-band ripple to
 * 20 kHz, stop-band rejection, aliasing/imaging of a sweep, alignment (length, burst
 * centroid, round-trip lag) and a round-trip null on a generated mix.  Every converter
 * must pass the spur and alignment limits; the other figures are asserted at limits a
 * little under what each converter measures, and printed (docs/RESAMPLING.md has the
 * table). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fftw3.h>

#include "engine/resample.h"
#include "lqtest.h"
#include "synth.h"

static char *g_tmp;

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    return g_tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

/* Mono x (n frames at rin) through converter w to rout; *m frames returned (malloc'd). */
static double *resample(const double *x, size_t n, double rin, double rout, lq_resampler w,
                        size_t *m)
{
    lq_spool a, b;
    lq_diag d = {{0}};
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.fd = b.fd = -1;
    const double *pl[1] = {x};
    if (lq_spool_create(&a, g_tmp, 1, rin, &d) || lq_spool_write(&a, pl, n, &d) ||
        lq_spool_finish(&a, &d) || lq_spool_create(&b, g_tmp, 1, rout, &d) ||
        lq_resample_spool(&a, &b, rout, w, NULL, NULL, &d))
        fail_msg("resampling %g -> %g Hz: %s", rin, rout, d.msg);
    *m = (size_t)b.frames;
    double *y = malloc((*m + 1) * sizeof *y);
    double *py[1] = {y};
    lq_spool_reader rd;
    assert_int_equal(lq_spool_reader_init(&rd, &b, *m + 1), 0);
    assert_int_equal(lq_spool_read(&rd, py, *m + 1), *m);
    lq_spool_reader_free(&rd);
    lq_spool_destroy(&a);
    lq_spool_destroy(&b);
    return y;
}

/* ---- spectra ------------------------------------------------------------------------ */

static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 200 && term > 1e-20 * sum; k++) {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
    }
    return sum;
}

/* Worst spectral line (amplitude of a sine, dBFS) of the middle 64k frames, away from
 * +-16 bins of f0 (f0 <= 0: nowhere skipped) and from DC: Kaiser window, beta 24
 * (sidelobes under -200 dB, so the window hides nothing), as test_job's SRC test. */
static double worst_line_db(const double *y, size_t n, double rate, double f0)
{
    const size_t nfft = 65536;
    assert_true(n >= nfft);
    const double *x = y + (n - nfft) / 2;
    double *in = fftw_malloc(nfft * sizeof *in);
    fftw_complex *out = fftw_malloc((nfft / 2 + 1) * sizeof *out);
    fftw_plan p = fftw_plan_dft_r2c_1d((int)nfft, in, out, FFTW_ESTIMATE);
    double wsum = 0;
    for (size_t i = 0; i < nfft; i++) {
        double r = 2.0 * (double)i / (double)(nfft - 1) - 1.0;
        double w = bessel_i0(24.0 * sqrt(1.0 - r * r)) / bessel_i0(24.0);
        in[i] = x[i] * w;
        wsum += w;
    }
    fftw_execute(p);
    double bin = rate / (double)nfft, level = -HUGE_VAL;
    for (size_t k = 16; k < nfft / 2; k++) {
        if (f0 > 0 && fabs((double)k * bin - f0) < 16 * bin) continue;
        double db = 20 * log10(2.0 * hypot(out[k][0], out[k][1]) / wsum + 1e-300);
        if (db > level) level = db;
    }
    fftw_destroy_plan(p);
    fftw_free(in);
    fftw_free(out);
    return level;
}

/* Energy of y in [f0, f1), and of all of it, from a rectangular DFT of the whole buffer
 * (Parseval: both in units of sum y^2): exact for a signal that starts and ends in
 * silence (no window needed). */
static void band_energy(const double *y, size_t n, double rate, double f0, double f1,
                        double *band, double *all)
{
    double *in = fftw_malloc(n * sizeof *in);
    fftw_complex *out = fftw_malloc((n / 2 + 1) * sizeof *out);
    fftw_plan p = fftw_plan_dft_r2c_1d((int)n, in, out, FFTW_ESTIMATE);
    memcpy(in, y, n * sizeof *in);
    fftw_execute(p);
    *band = *all = 0;
    for (size_t k = 0; k <= n / 2; k++) {
        double e = (k == 0 || 2 * k == n ? 1.0 : 2.0) *
                   (out[k][0] * out[k][0] + out[k][1] * out[k][1]) / (double)n;
        double f = (double)k * rate / (double)n;
        *all += e;
        if (f >= f0 && f < f1) *band += e;
    }
    fftw_destroy_plan(p);
    fftw_free(in);
    fftw_free(out);
}

/* Raised-cosine fades of `ms` at both ends, and `pad` frames of silence either side. */
static double *faded(const double *x, size_t n, double rate, double ms, size_t pad,
                     size_t *total)
{
    *total = n + 2 * pad;
    double *y = calloc(*total, sizeof *y);
    size_t f = (size_t)(ms * 1e-3 * rate);
    for (size_t i = 0; i < n; i++) {
        double g = 1.0;
        if (i < f) g = 0.5 - 0.5 * cos(M_PI * (double)i / (double)f);
        if (n - 1 - i < f) g = 0.5 - 0.5 * cos(M_PI * (double)(n - 1 - i) / (double)f);
        y[pad + i] = g * x[i];
    }
    return y;
}

/* ---- the measurements --------------------------------------------------------------- */

typedef struct conv {
    double rin, rout;
} conv;

static const conv convs[] = {{44100, 48000}, {44100, 96000}, {96000, 44100}};
#define N_CONV (sizeof convs / sizeof convs[0])

/* Worst spur of a -6 dBFS tone at f (2 s) converted rin -> rout. */
static double tone_spur_db(lq_resampler w, conv c, double f)
{
    size_t n = (size_t)(2 * c.rin), m;
    double *x = malloc(n * sizeof *x);
    lqs_sine(x, n, c.rin, f, 0.5, 0.0);
    double *y = resample(x, n, c.rin, c.rout, w, &m);
    double s = worst_line_db(y, m, c.rout, f < c.rout / 2 ? f : -1);
    free(x);
    free(y);
    return s;
}

/* Pass-band ripple to 20 kHz: 32 tones, 20 Hz..20 kHz log-spaced, at -30 dBFS each, in
 * one 2 s signal; the gain of each (output level - input level, Blackman-Harris +-6
 * bins, lqt_sine_level_db); max - min over the tones, dB. */
static double ripple_db(lq_resampler w, conv c, double *gain_min, double *gain_max)
{
    enum { NT = 32 };
    size_t n = (size_t)(2 * c.rin), m;
    double *x = calloc(n, sizeof *x), *t = malloc(n * sizeof *t);
    double f[NT];
    for (int k = 0; k < NT; k++) {
        f[k] = 20.0 * pow(1000.0, (double)k / (NT - 1));
        lqs_sine(t, n, c.rin, f[k], 0.0316, 0.7 * k);
        for (size_t i = 0; i < n; i++) x[i] += t[i];
    }
    double *y = resample(x, n, c.rin, c.rout, w, &m);
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (int k = 0; k < NT; k++) {
        double g = lqt_sine_level_db(y, m, c.rout, f[k]) - lqt_sine_level_db(x, n, c.rin, f[k]);
        if (g < lo) lo = g;
        if (g > hi) hi = g;
    }
    *gain_min = lo, *gain_max = hi;
    free(x);
    free(t);
    free(y);
    return hi - lo;
}

/* Stop-band rejection, downsampling 96 -> 44.1 kHz: a -6 dBFS tone at each of 22.6, 24,
 * 30, 40 and 47 kHz (none belongs in the output); the worst line left, dBFS re the
 * tone's own level (so -150 means 150 dB of rejection). */
static double stopband_db(lq_resampler w)
{
    static const double fs[] = {22600, 24000, 30000, 40000, 47000};
    double worst = -HUGE_VAL;
    for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++) {
        double s = tone_spur_db(w, (conv){96000, 44100}, fs[k]) + 6.02;
        if (s > worst) worst = s;
    }
    return worst;
}

/* Aliasing of a sweep, downsampling: a linear -6 dBFS sweep over 2 s from 23 kHz (above
 * the output's Nyquist frequency) to 47.5 kHz, 100 ms fades, at 96 kHz: none of it
 * belongs in the output, and its aliases of 24.1..47.5 kHz land in 0..20 kHz; the output
 * power there re the sweep's, dB (the method's floor, the sweep's own energy under
 * 20 kHz from its fades, is -177 dB).  Imaging, upsampling: a sweep from 20 Hz to 99 %
 * of the input's Nyquist frequency, 20 ms fades; the output's energy above the input's
 * Nyquist frequency (images, nothing else) re all of it, dB. */
static double sweep_alias_db(lq_resampler w, conv c)
{
    const int down = c.rout < c.rin;
    size_t n = (size_t)(2 * c.rin), tot, m;
    double *s = malloc(n * sizeof *s);
    double f0 = down ? 23000 : 20, f1 = down ? 47500 : 0.99 * c.rin / 2;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / c.rin, T = (double)n / c.rin;
        s[i] = 0.5 * sin(2 * M_PI * (f0 * t + (f1 - f0) * t * t / (2 * T)));
    }
    double *x = faded(s, n, c.rin, down ? 100 : 20, (size_t)(0.1 * c.rin), &tot);
    double *y = resample(x, tot, c.rin, c.rout, w, &m);
    double band, all, r;
    if (down) {
        double ex = 0;
        for (size_t i = 0; i < tot; i++) ex += x[i] * x[i];
        band_energy(y, m, c.rout, 0, 20000, &band, &all);
        r = 10 * log10((band / (double)m) / (ex / (double)tot) + 1e-300);
    } else {
        band_energy(y, m, c.rout, c.rin / 2, c.rout, &band, &all);
        r = 10 * log10(band / all + 1e-300);
    }
    free(s);
    free(x);
    free(y);
    return r;
}

/* Alignment: a 6 ms Hann-windowed 2 kHz burst at 0.3 s in 0.8 s + 13 frames (odd on
 * purpose): output length round(n * ratio) exactly; burst centroid moved by *shift
 * output frames; a round trip back to rin has cross-correlation lag 0 with the input. */
static double centroid(const double *x, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (double)i * x[i] * x[i];
        den += x[i] * x[i];
    }
    return num / den;
}

static void alignment(lq_resampler w, conv c, double *shift, long *lag, long *len_err)
{
    size_t n = (size_t)(0.8 * c.rin) + 13, m, back;
    double *x = calloc(n, sizeof *x);
    size_t half = (size_t)(0.003 * c.rin), c0 = (size_t)llround(0.3 * c.rin);
    for (size_t i = c0 - half; i <= c0 + half; i++) {
        double win = 0.5 + 0.5 * cos(M_PI * ((double)i - (double)c0) / (double)half);
        x[i] = 0.5 * win * sin(2 * M_PI * 2000.0 * ((double)i - (double)c0) / c.rin);
    }
    double *y = resample(x, n, c.rin, c.rout, w, &m);
    *len_err = (long)m - (long)llround((double)n * c.rout / c.rin);
    *shift = centroid(y, m) - centroid(x, n) * c.rout / c.rin;
    double *z = resample(y, m, c.rout, c.rin, w, &back);
    assert_int_equal(back, n);
    *lag = lqt_xcorr_lag(z, x, n, 64);
    free(x);
    free(y);
    free(z);
}

/* A generated mix (src/synth/mix.c, 2 s) up to rout and back: the difference below
 * 19 kHz re the mix there, dB (Hann-windowed band energies, lqt_band_db). */
static double mix_null_db(lq_resampler w, conv c)
{
    size_t n = (size_t)(2 * c.rin), m, back;
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    lqs_mix(l, r, n, c.rin, 7, 0.9);
    double *y = resample(l, n, c.rin, c.rout, w, &m);
    double *z = resample(y, m, c.rout, c.rin, w, &back);
    assert_int_equal(back, n);
    for (size_t i = 0; i < n; i++) r[i] = z[i] - l[i];
    double db = lqt_band_db(r, n, c.rin, 20, 19000) - lqt_band_db(l, n, c.rin, 20, 19000);
    free(l);
    free(r);
    free(y);
    free(z);
    return db;
}

/* ---- limits per converter ----------------------------------------------------------- */

typedef struct limits {
    double spur_1k, spur_20k;  /* dBFS, the tone at -6 dBFS (test_job's SRC limits) */
    double ripple;             /* dB, to 20 kHz */
    double stopband;           /* dB re the tone */
    double alias_down, image_up;
    double null;
} limits;

static const limits lim[LQ_RESAMPLER_COUNT] = {
    [LQ_RESAMPLER_SOXR_VHQ] = {-140, -120, 0.01, -180, -170, -180, -160},
    [LQ_RESAMPLER_LSR_BEST] = {-140, -120, 0.001, -145, -145, -140, -135},
};

static void measure(lq_resampler w)
{
    const limits *L = &lim[w];
    const char *name = lq_resampler_names[w];
    for (size_t k = 0; k < N_CONV; k++) {
        conv c = convs[k];
        double s1 = tone_spur_db(w, c, 1000), s20 = tone_spur_db(w, c, 20000);
        double gmin, gmax, rip = ripple_db(w, c, &gmin, &gmax);
        double al = sweep_alias_db(w, c);
        double shift;
        long lag, len;
        alignment(w, c, &shift, &lag, &len);
        printf("%-18s %5.1f -> %5.1f kHz: spur 1k %6.1f dBFS, 20k %6.1f dBFS; ripple %.4f dB "
               "(%+.4f..%+.4f); sweep %s %6.1f dB; length %+ld, centroid %+.4f frames, "
               "round-trip lag %ld\n",
               name, c.rin / 1e3, c.rout / 1e3, s1, s20, rip, gmin, gmax,
               c.rout < c.rin ? "alias" : "image", al, len, shift, lag);
        assert_true(s1 < L->spur_1k);
        assert_true(s20 < L->spur_20k);
        assert_true(rip < L->ripple);
        assert_true(al < (c.rout < c.rin ? L->alias_down : L->image_up));
        assert_int_equal(len, 0);
        assert_true(fabs(shift) < 0.05);
        assert_int_equal(lag, 0);
        if (c.rin == 44100) {
            double nl = mix_null_db(w, c);
            printf("%-18s 44.1 -> %.1f -> 44.1 kHz, generated mix: null below 19 kHz %.1f dB\n",
                   name, c.rout / 1e3, nl);
            assert_true(nl < L->null);
        }
    }
    double sb = stopband_db(w);
    printf("%-18s 96 -> 44.1 kHz: stop band (22.6..47 kHz tones) %.1f dB\n", name, sb);
    assert_true(sb < L->stopband);
}

static void test_soxr_vhq(void **state)
{
    (void)state;
    measure(LQ_RESAMPLER_SOXR_VHQ);
}

static void test_libsamplerate_best(void **state)
{
    (void)state;
    measure(LQ_RESAMPLER_LSR_BEST);
}

/* The two converters are different code: their outputs differ (the choice is real), and
 * each is deterministic (same input, same bytes). */
static void test_distinct_and_deterministic(void **state)
{
    (void)state;
    size_t n = 44100, m1, m2, m3;
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    lqs_mix(l, r, n, 44100, 3, 0.9);
    double *a = resample(l, n, 44100, 48000, LQ_RESAMPLER_SOXR_VHQ, &m1);
    double *b = resample(l, n, 44100, 48000, LQ_RESAMPLER_SOXR_VHQ, &m2);
    double *c = resample(l, n, 44100, 48000, LQ_RESAMPLER_LSR_BEST, &m3);
    assert_int_equal(m1, 48000);
    assert_int_equal(m2, 48000);
    assert_int_equal(m3, 48000);
    assert_memory_equal(a, b, m1 * sizeof *a);
    size_t diff = 0;
    for (size_t i = 0; i < m1; i++) diff += a[i] != c[i];
    assert_true(diff > m1 / 2);
    free(l), free(r), free(a), free(b), free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soxr_vhq),
        cmocka_unit_test(test_libsamplerate_best),
        cmocka_unit_test(test_distinct_and_deterministic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
