/* The deeper analysis (lq_analyze_file, engine/analysis.c): every figure on a generated
 * signal whose value is known. */
#include <math.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsp/oversample.h"
#include "dsp/truepeak.h"
#include "engine/analysis.h"
#include "engine/meter.h"
#include "lacquer/lacquer.h"
#include "lqtest.h"
#include "synth/synth.h"

static char *g_tmp;
enum { RATE = 48000 };

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

/* Write l/r (r may be NULL: mono) and analyse the file. */
static lq_analysis analyse(const char *name, const double *l, const double *r, size_t n,
                           int subtype)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(path, pl, r ? 2 : 1, n, RATE, subtype), 0);
    lq_analysis a;
    char err[512];
    assert_int_equal(lq_analyze_file(path, &a, err, sizeof err), LQ_OK);
    return a;
}

static double *buf(size_t n)
{
    double *x = calloc(n, sizeof *x);
    assert_non_null(x);
    return x;
}

/* DC per channel: a 1 kHz sine (whole periods: mean 0) plus 0.01 on L and -0.001 on R. */
static void test_dc_per_channel(void **state)
{
    (void)state;
    size_t n = 2 * RATE;
    double *l = buf(n), *r = buf(n);
    lqs_sine(l, n, RATE, 1000, 0.5, 0);
    lqs_sine(r, n, RATE, 1000, 0.5, 0);
    for (size_t i = 0; i < n; i++) l[i] += 0.01, r[i] -= 0.001;
    lq_analysis a = analyse("dc.wav", l, r, n, SF_FORMAT_DOUBLE);
    assert_float_equal(a.dc_offset_db[0], -40.0, 0.01);
    assert_float_equal(a.dc_offset_db[1], -60.0, 0.01);
    free(l);
    free(r);
}

/* Correlation (whole file and the 5th percentile of 400 ms windows), mono fold-down loss
 * and the low-end side share of identical, inverted and independent channels. */
static void test_correlation_and_mono(void **state)
{
    (void)state;
    size_t n = 4 * RATE;
    double *l = buf(n), *r = buf(n);
    lqs_white(l, n, 0.1, 1);
    memcpy(r, l, n * sizeof *r);
    lq_analysis same = analyse("same.wav", l, r, n, SF_FORMAT_DOUBLE);
    for (size_t i = 0; i < n; i++) r[i] = -l[i];
    lq_analysis inv = analyse("inv.wav", l, r, n, SF_FORMAT_DOUBLE);
    lqs_white(r, n, 0.1, 2);
    lq_analysis ind = analyse("ind.wav", l, r, n, SF_FORMAT_DOUBLE);
    printf("corr %.4f %.4f %.4f p5 %.4f %.4f %.4f mono %.3f %.3f %.3f side %.3f %.3f %.3f\n",
           same.correlation, inv.correlation, ind.correlation, same.correlation_p5,
           inv.correlation_p5, ind.correlation_p5, same.mono_loss_db, inv.mono_loss_db,
           ind.mono_loss_db, same.low_side_ratio, inv.low_side_ratio, ind.low_side_ratio);
    assert_float_equal(same.correlation, 1.0, 1e-9);
    assert_float_equal(inv.correlation, -1.0, 1e-9);
    assert_true(fabs(ind.correlation) < 0.01);
    assert_float_equal(same.correlation_p5, 1.0, 1e-9);
    assert_float_equal(inv.correlation_p5, -1.0, 1e-9);
    /* 400 ms of independent noise: the window correlations spread by 1/sqrt(19200) */
    assert_true(ind.correlation_p5 < -0.005 && ind.correlation_p5 > -0.03);
    assert_float_equal(same.mono_loss_db, 0.0, 1e-9);
    assert_true(isinf(inv.mono_loss_db) && inv.mono_loss_db > 0);
    assert_float_equal(ind.mono_loss_db, 3.01, 0.05);
    assert_float_equal(same.low_side_ratio, 0.0, 1e-9);
    assert_float_equal(inv.low_side_ratio, 1.0, 1e-9);
    assert_float_equal(ind.low_side_ratio, 0.5, 0.05);
    free(l);
    free(r);
}

/* Effective bit depth: 16-bit audio in a 24-bit file reads 16; 24-bit noise 24; float
 * noise (on no integer grid) 32. */
static void test_bit_depth(void **state)
{
    (void)state;
    size_t n = RATE;
    double *l = buf(n), *r = buf(n);
    lqs_white(l, n, 0.1, 3);
    lqs_white(r, n, 0.1, 4);
    lq_analysis f = analyse("float.wav", l, r, n, SF_FORMAT_FLOAT);
    lq_analysis b24 = analyse("b24.wav", l, r, n, SF_FORMAT_PCM_24);
    for (size_t i = 0; i < n; i++) {
        l[i] = round(l[i] * 32768.0) / 32768.0;
        r[i] = round(r[i] * 32768.0) / 32768.0;
    }
    lq_analysis b16in24 = analyse("b16in24.wav", l, r, n, SF_FORMAT_PCM_24);
    lq_analysis b16 = analyse("b16.wav", l, r, n, SF_FORMAT_PCM_16);
    assert_int_equal(f.file_bits, 0);
    assert_int_equal(f.effective_bits, 32);
    assert_int_equal(b24.file_bits, 24);
    assert_int_equal(b24.effective_bits, 24);
    assert_int_equal(b16in24.file_bits, 24);
    assert_int_equal(b16in24.effective_bits, 16);
    assert_int_equal(b16.file_bits, 16);
    assert_int_equal(b16.effective_bits, 16);
    free(l);
    free(r);
}

/* A known clipping pattern: 12 runs of 4 full-scale samples (counted) and 7 runs of 2
 * (not counted: a run is 3 or more). */
static void test_clipping_pattern(void **state)
{
    (void)state;
    size_t n = 2 * RATE;
    double *l = buf(n), *r = buf(n);
    lqs_sine(l, n, RATE, 220, 0.5, 0);
    lqs_sine(r, n, RATE, 330, 0.5, 0);
    for (int k = 0; k < 12; k++)
        for (int i = 0; i < 4; i++) l[1000 + (size_t)k * 5000 + (size_t)i] = k % 2 ? -1.0 : 1.0;
    for (int k = 0; k < 7; k++)
        for (int i = 0; i < 2; i++) r[3000 + (size_t)k * 7000 + (size_t)i] = 1.0;
    lq_analysis a = analyse("clip.wav", l, r, n, SF_FORMAT_FLOAT);
    assert_int_equal(a.clipped_runs, 12);
    free(l);
    free(r);
}

/* Inter-sample overs: a sine at fs/4 and 45 degrees has its samples at +-A/sqrt(2)
 * (+, +, -, -, ...) and its peaks, +-A, in every other interval (the others hold a zero
 * crossing).  A = 1.2: half the intervals are over (samples at 0.85); A = 0.95: none. */
static void test_intersample_overs(void **state)
{
    (void)state;
    size_t n = RATE / 2;
    double *l = buf(n), *r = buf(n);
    lqs_sine(l, n, RATE, RATE / 4.0, 1.2, M_PI / 4);
    lqs_sine(r, n, RATE, RATE / 4.0, 0.95, M_PI / 4);
    lq_analysis a = analyse("isp.wav", l, r, n, SF_FORMAT_DOUBLE);
    printf("overs %lld of %zu intervals, sample peak %.2f dBFS\n", a.intersample_overs, n,
           a.sample_peak_dbfs);
    assert_true(a.sample_peak_dbfs < -1.4);
    /* every other interval of the left channel, but a few at the abrupt start and end */
    assert_true(a.intersample_overs >= (long long)n / 2 - 20 &&
                a.intersample_overs <= (long long)n / 2 + 20);
    free(l);
    free(r);
}

/* The long-term third-octave spectrum: pink noise is flat per band (0 dB/oct), white
 * noise rises 3.01 dB/oct; each within 0.3. */
static void test_spectral_tilt(void **state)
{
    (void)state;
    size_t n = 10 * RATE;
    double *l = buf(n), *r = buf(n);
    lqs_pink(l, n, 0.1, 5);
    lqs_pink(r, n, 0.1, 6);
    lq_analysis pink = analyse("pink.wav", l, r, n, SF_FORMAT_FLOAT);
    lqs_white(l, n, 0.1, 7);
    lqs_white(r, n, 0.1, 8);
    lq_analysis white = analyse("white.wav", l, r, n, SF_FORMAT_FLOAT);
    printf("tilt pink %.3f white %.3f; pink sub-bass %.2f harsh %.2f\n",
           pink.spectral_tilt_db_oct, white.spectral_tilt_db_oct, pink.sub_bass_db,
           pink.harshness_db);
    assert_float_equal(pink.spectral_tilt_db_oct, 0.0, 0.3);
    assert_float_equal(white.spectral_tilt_db_oct, 3.01, 0.3);
    assert_float_equal(pink.sub_bass_db, 0.0, 1.0);
    assert_float_equal(pink.harshness_db, 0.0, 0.5);
    /* the bands of white noise add up to its power: rms 0.1 = -20 dBFS over 0..fs/2,
     * so the 1 kHz band (231.6 Hz wide) holds 231.6/24000 of it */
    assert_float_equal(white.third_octave_db[17], -20.0 + 10 * log10(231.57 / 24000.0), 0.3);
    assert_float_equal(lq_third_octave_center_hz(17), 1000.0, 1e-9);
    free(l);
    free(r);
}

/* Head and tail silence to the millisecond: 1234 ms of zeros, 3 s of noise, 567 ms. */
static void test_silence_padding(void **state)
{
    (void)state;
    size_t head = 1234 * RATE / 1000, body = 3 * RATE, tail = 567 * RATE / 1000;
    size_t n = head + body + tail;
    double *l = buf(n), *r = buf(n);
    lqs_white(l + head, body, 0.1, 9);
    lqs_white(r + head, body, 0.1, 10);
    /* the noise's first and last samples well above -60 dBFS */
    l[head] = 0.2;
    r[head + body - 1] = -0.2;
    lq_analysis a = analyse("pad.wav", l, r, n, SF_FORMAT_PCM_24);
    assert_float_equal(a.head_silence_ms, 1234.0, 0.5);
    assert_float_equal(a.tail_silence_ms, 567.0, 0.5);
    free(l);
    free(r);
}

/* Crest factor, PSR and balance of steady sines: a 1 kHz sine of amplitude 0.5 on L and
 * 0.25 on R has crest 3.01 dB (peak over RMS of both channels: 20log(0.5) -
 * 10log((0.125+0.03125)/2) = 5.05 dB), balance +6.02 dB, and PSR = true peak - short-term
 * loudness = -6.02 - (-3.01 + 10log10(1 + 1/4) - 0.691 + K(1 kHz)). */
static void test_crest_psr_balance(void **state)
{
    (void)state;
    size_t n = 6 * RATE;
    double *l = buf(n), *r = buf(n);
    lqs_sine(l, n, RATE, 1000, 0.5, 0);
    lqs_sine(r, n, RATE, 1000, 0.25, 0);
    lq_analysis a = analyse("sine.wav", l, r, n, SF_FORMAT_DOUBLE);
    printf("crest %.3f balance %.3f psr %.3f plr %.3f\n", a.crest_db, a.balance_db,
           a.psr_min_db, a.plr_db);
    assert_float_equal(a.crest_db, 20 * log10(0.5) - 10 * log10((0.125 + 0.03125) / 2), 0.01);
    assert_float_equal(a.balance_db, 6.0206, 0.01);
    /* steady: the short-term PSR equals the whole-file PLR */
    assert_float_equal(a.psr_min_db, a.plr_db, 0.05);
    free(l);
    free(r);
}

/* The time series stay bounded: 10 minutes of 100 ms hops (6000) fold into at most
 * LQ_SERIES_MAX points, merging pairs by max (loudness) or min (PSR). */
static void test_series_bounded(void **state)
{
    (void)state;
    lq_series s, m;
    lq_series_init(&s, 0.1, 0);
    lq_series_init(&m, 0.1, 1);
    for (int i = 0; i < 6000; i++) {
        lq_series_add(&s, i);
        lq_series_add(&m, i);
    }
    assert_true(s.n <= LQ_SERIES_MAX && s.n >= LQ_SERIES_MAX / 2);
    assert_float_equal(s.step_s, 0.4, 1e-12);
    assert_int_equal(s.n, 1500);
    assert_float_equal(s.v[0], 3.0, 0);  /* max of 0..3 */
    assert_float_equal(m.v[0], 0.0, 0);  /* min of 0..3 */
    assert_float_equal(s.v[1499], 5999.0, 0);
}

/* PSR's true peak, the file's 16x true peak and the inter-sample overs come from one 16x
 * meter that skips whatever cannot be the largest true peak of a 3 s window (engine/
 * analysis.c).  Against the reference on a generated mix driven into overs (every phase
 * of every sample interval, lq_os_phases): each PSR point + its short-term loudness is
 * the window's exact 16x maximum, the file's true peak equals lq_tp_meter's exactly and
 * the overs count is exact.  The mix is quiet for its first 4 s (low thresholds there). */
static void test_psr_true_peak_exact(void **state)
{
    (void)state;
    enum { R = 44100, N = 9 * R + 1234, H = R / 10 };
    double *l = buf(N), *r = buf(N);
    lqs_mix(l, r, N, R, 5, 1.3);
    for (size_t i = 0; i < 4 * R; i++) l[i] *= 0.05, r[i] *= 0.05;
    lq_meter *m = NULL;
    lq_diag d = {{0}};
    assert_int_equal(lq_meter_new(&m, 2, R, LQ_METER_FULL | LQ_METER_TP16 | LQ_METER_DEEP,
                                  4096, &d), LQ_OK);
    for (size_t off = 0; off < N; off += 3000) {
        const double *p[2] = {l + off, r + off};
        lq_meter_push(m, p, N - off < 3000 ? N - off : 3000);
    }
    lq_meter_result *res = malloc(sizeof *res);
    assert_non_null(res);
    lq_meter_result_get(m, res);
    lq_meter_destroy(&m);
    /* the reference: every interval [s, s+1), s = t - LQ_OS_DELAY, of each hop */
    lq_os_filter f;
    assert_int_equal(lq_os_design(&f, 16), LQ_OK);
    const size_t nh = N / H;
    double *hop_tp = calloc(nh, sizeof *hop_tp), file_tp = 0;
    long long overs = 0;
    double *xp = calloc(N + 2 * LQ_OS_TAPS, sizeof *xp);
    assert_true(hop_tp && xp);
    for (int c = 0; c < 2; c++) {
        memcpy(xp + LQ_OS_TAPS - 1, c ? r : l, N * sizeof *xp);
        for (size_t t = 0; t < N + LQ_OS_DELAY; t++) {
            const double *w = xp + t; /* x[t-63] .. x[t] */
            double y[LQ_OS_MAX_FACTOR], v = fabs(w[LQ_OS_TAPS - 1 - LQ_OS_DELAY]);
            lq_os_phases(&f, w, y);
            for (int p = 1; p < 16; p++) v = fmax(v, fabs(y[p]));
            long long s = (long long)t - LQ_OS_DELAY;
            size_t h = s < 0 ? 0 : (size_t)s / H;
            if (h < nh) hop_tp[h] = fmax(hop_tp[h], v);
            file_tp = fmax(file_tp, v);
            overs += v > 1.0;
        }
    }
    const lq_series *ps = &res->deep.psr, *st = &res->deep.short_term;
    assert_int_equal(ps->n, (int)nh);
    int checked = 0;
    for (size_t e = 0; e < nh; e++) {
        if (isnan(ps->v[e])) continue;
        double mx = 0;
        for (size_t j = e < 29 ? 0 : e - 29; j <= e; j++) mx = fmax(mx, hop_tp[j]);
        assert_float_equal((double)ps->v[e] + (double)st->v[e], 20 * log10(mx), 2e-3);
        checked++;
    }
    printf("PSR windows checked %d, file true peak %.4f dBTP, overs %lld\n", checked,
           20 * log10(file_tp), overs);
    assert_true(checked >= 55);
    assert_true(res->true_peak_16x_dbtp == 20 * log10(file_tp));
    assert_true(overs > 100);
    assert_int_equal(res->deep.intersample_overs, overs);
    /* lacquer's standalone 16x meter agrees to the bit */
    lq_tp_meter *tm = NULL;
    assert_int_equal(lq_tp_meter_new(&tm, 2, R, 16), LQ_OK);
    const double *p[2] = {l, r};
    lq_tp_meter_push(tm, p, N);
    assert_true(lq_tp_meter_max_dbtp(tm) == res->true_peak_16x_dbtp);
    lq_tp_meter_destroy(&tm);
    lq_os_filter_free(&f);
    free(res);
    free(xp);
    free(hop_tp);
    free(l);
    free(r);
}

/* libebur128's own true peak is measured only when asked (LQ_ANALYZE_EBUR128_PEAK): NaN
 * by default, and then within 0.3 dB of the 16x figure (4x reads a little lower). */
static void test_ebur128_peak_option(void **state)
{
    (void)state;
    size_t n = 5 * RATE;
    double *l = buf(n), *r = buf(n);
    lqs_mix(l, r, n, RATE, 9, 0.9);
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/ebur.wav", g_tmp);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(path, pl, 2, n, RATE, SF_FORMAT_FLOAT), 0);
    lq_analysis a, b;
    assert_int_equal(lq_analyze_file(path, &a, err, sizeof err), LQ_OK);
    assert_int_equal(lq_analyze_file_ex(path, LQ_ANALYZE_EBUR128_PEAK, &b, err, sizeof err), LQ_OK);
    printf("16x %.3f dBTP, libebur128 %.3f dBTP\n", b.true_peak_16x_dbtp, b.true_peak_dbtp);
    assert_true(isnan(a.true_peak_dbtp));
    assert_true(isfinite(b.true_peak_dbtp));
    assert_float_equal(b.true_peak_dbtp, b.true_peak_16x_dbtp, 0.3);
    /* everything else is the same measurement */
    assert_true(a.true_peak_16x_dbtp == b.true_peak_16x_dbtp && a.psr_min_db == b.psr_min_db &&
                a.integrated_lufs == b.integrated_lufs);
    free(l);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dc_per_channel),
        cmocka_unit_test(test_correlation_and_mono),
        cmocka_unit_test(test_bit_depth),
        cmocka_unit_test(test_clipping_pattern),
        cmocka_unit_test(test_intersample_overs),
        cmocka_unit_test(test_spectral_tilt),
        cmocka_unit_test(test_silence_padding),
        cmocka_unit_test(test_crest_psr_balance),
        cmocka_unit_test(test_series_bounded),
        cmocka_unit_test(test_psr_true_peak_exact),
        cmocka_unit_test(test_ebur128_peak_option),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
