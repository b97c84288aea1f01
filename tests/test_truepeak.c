/* The oversampling interpolator (src/dsp/oversample.c) and the streaming true-peak
 * meter (src/dsp/truepeak.c): filter design figures (passband ripple, image rejection),
 * accuracy against analytically known peaks (the fs/4 45-degree sine, sums of random
 * sines), streaming (block sizes, the skip bound, the tail). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/oversample.h"
#include "dsp/truepeak.h"
#include "synth.h"

#define PI 3.14159265358979323846

static double db(double v)
{
    return v > 0 ? 20.0 * log10(v) : -HUGE_VAL;
}

static const int factors[3] = {4, 8, 16};

/* Passband flat within 0.003 dB up to 0.45 fs; every image of content below 0.45 fs
 * (so every frequency from 0.55 fs up to factor * fs / 2) at least 75 dB down. */
static void test_design(void **st)
{
    (void)st;
    for (int i = 0; i < 3; i++) {
        lq_os_filter f;
        assert_int_equal(lq_os_design(&f, factors[i]), LQ_OK);
        double ripple = 0, image = -HUGE_VAL;
        for (double F = 0; F <= 0.45; F += 0.001)
            ripple = fmax(ripple, fabs(db(lq_os_response(&f, F))));
        for (double F = 0.55; F <= factors[i] / 2.0; F += 0.001)
            image = fmax(image, db(lq_os_response(&f, F)));
        printf("  %2dx: %d taps/phase, passband ripple %.4f dB (<= 0.45 fs), images %.1f dB "
               "(>= 0.55 fs), -6 dB at fs/2: %.2f dB, L1 %.3f\n",
               factors[i], f.taps, ripple, image, db(lq_os_response(&f, 0.5)), f.l1);
        assert_true(ripple < 0.003);
        assert_true(image < -75.0);
        assert_true(fabs(db(lq_os_response(&f, 0.5)) + 6.02) < 0.1);
        /* phase 0 is a pure delay: exactly one 1 and zeros */
        for (int j = 0; j < f.taps; j++)
            assert_true(f.coef[j] == (j == LQ_OS_DELAY - 1 ? 1.0 : 0.0));
        lq_os_filter_free(&f);
    }
    lq_os_filter f;
    assert_int_equal(lq_os_design(&f, 1), LQ_ERR_ARG);
    assert_int_equal(lq_os_design(&f, 17), LQ_ERR_ARG);
}

/* A raised-cosine fade of 1000 samples at both ends, so a truncated test signal stays
 * band-limited (an abrupt start has its own, real, intersample overshoot). */
static double fade(size_t i, size_t n, double t)
{
    const double L = 1000.0;
    (void)i;
    if (t < L) return 0.5 - 0.5 * cos(PI * t / L);
    if (t > (double)n - 1 - L) return 0.5 - 0.5 * cos(PI * ((double)n - 1 - t) / L);
    return 1.0;
}

static double meter_once(int factor, const double *const *x, int nc, size_t n)
{
    lq_tp_meter *m = NULL;
    assert_int_equal(lq_tp_meter_new(&m, nc, 48000.0, factor), LQ_OK);
    lq_tp_meter_push(m, x, n);
    double v = lq_tp_meter_max_linear(m);
    lq_tp_meter_destroy(&m);
    assert_null(m);
    return v;
}

/* The worst intersample case: a sine at fs/4 sampled at 45 degrees, samples at
 * +-0.7071 A, true peak A (3.01 dB above the sample peak). */
static void test_fs4_45(void **st)
{
    (void)st;
    const size_t n = 4800;
    double *x = malloc(n * sizeof(double));
    assert_non_null(x);
    const double A = 0.5;
    /* faded in and out over 1000 samples: an abrupt start would have its own
     * (real) intersample overshoot */
    for (size_t i = 0; i < n; i++)
        x[i] = A * sin(PI / 2.0 * (double)i + PI / 4.0) * fade(i, n, (double)i);
    const double *p[1] = {x};
    for (int i = 0; i < 3; i++) {
        double v = meter_once(factors[i], p, 1, n);
        double err = db(v) - db(A);
        printf("  fs/4 at 45 deg, %2dx: %+.5f dB error (sample peak %+.3f dB)\n", factors[i],
               err, db(fabs(x[n / 2])) - db(A));
        assert_true(fabs(err) < 0.01); /* the requirement is 0.05 dB at 16x */
    }
    free(x);
}

/* Single tones and sums of random sines, whose true peak is computed analytically
 * (the faded sum evaluated at 128 points per sample). */
static void test_random_sines(void **st)
{
    (void)st;
    const size_t n = 6000;
    const int ns = 8, trials = 12;
    double *x = malloc(n * sizeof(double));
    assert_non_null(x);
    double worst[3] = {0, 0, 0}, worst_over[3] = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
    lqs_rng rng;
    lqs_rng_seed(&rng, 20240601);
    for (int tr = 0; tr < trials; tr++) {
        double fr[8], am[8], ph[8];
        /* trial 0..3: single tones at 0.1, 0.25, 0.4, 0.45 fs; then 8-sine sums */
        const double single[4] = {0.1, 0.25, 0.4, 0.45};
        int k = tr < 4 ? 1 : ns;
        for (int j = 0; j < k; j++) {
            fr[j] = tr < 4 ? single[tr] + 0.001 * lqs_rng_uniform(&rng)
                           : 0.005 + 0.445 * lqs_rng_uniform(&rng);
            am[j] = tr < 4 ? 1.0 : 0.2 + lqs_rng_uniform(&rng);
            ph[j] = 2 * PI * lqs_rng_uniform(&rng);
        }
        double ref = 0;
        for (size_t i = 0; i < n; i++) {
            double v = 0;
            for (int j = 0; j < k; j++) v += am[j] * sin(2 * PI * fr[j] * (double)i + ph[j]);
            x[i] = v * fade(i, n, (double)i);
        }
        for (size_t i = 0; i + 1 < n; i++)
            for (int q = 0; q < 128; q++) {
                double t = (double)i + q / 128.0, v = 0;
                for (int j = 0; j < k; j++) v += am[j] * sin(2 * PI * fr[j] * t + ph[j]);
                v = fabs(v * fade(i, n, t));
                if (v > ref) ref = v;
            }
        const double *p[1] = {x};
        for (int i = 0; i < 3; i++) {
            double err = db(meter_once(factors[i], p, 1, n)) - db(ref);
            /* allowed: the grid error at 0.45 fs, 1 - cos(pi 0.45 / factor), + 0.01 dB */
            double grid = -db(cos(PI * 0.45 / factors[i]));
            if (fabs(err) > fabs(worst[i])) worst[i] = err;
            if (err > worst_over[i]) worst_over[i] = err;
            if (!(err > -(grid + 0.01) && err < 0.01))
                printf("  trial %d (seed 20240601), %dx: error %+.4f dB (allowed -%.4f .. "
                       "+0.01)\n",
                       tr, factors[i], err, grid + 0.01);
            assert_true(err > -(grid + 0.01) && err < 0.01);
        }
    }
    for (int i = 0; i < 3; i++)
        printf("  random sines, %2dx: largest error %+.4f dB, largest over-read %+.4f dB\n",
               factors[i], worst[i], worst_over[i]);
    assert_true(fabs(worst[2]) < 0.05);
    free(x);
}

/* Block-size independence, the skip bound against computing every phase, the tail,
 * silence, reset, stereo. */
static void test_streaming(void **st)
{
    (void)st;
    const size_t n = 20000;
    double *l = malloc(n * sizeof(double)), *r = malloc(n * sizeof(double));
    assert_non_null(l);
    assert_non_null(r);
    lqs_mix(l, r, n, 44100.0, 9, 0.9);
    const double *p[2] = {l, r};
    /* brute force: every phase of every sample, zero-padded at both ends */
    lq_os_filter f;
    assert_int_equal(lq_os_design(&f, 16), LQ_OK);
    double brute = 0;
    for (int c = 0; c < 2; c++) {
        lq_os_hist h;
        memset(&h, 0, sizeof h);
        for (size_t i = 0; i < n + LQ_OS_TAPS; i++) {
            const double *hist = lq_os_hist_push(&h, i < n ? p[c][i] : 0.0);
            for (int q = 0; q < 16; q++) brute = fmax(brute, fabs(lq_os_phase(&f, q, hist)));
        }
    }
    lq_os_filter_free(&f);
    const double ref = meter_once(16, p, 2, n);
    printf("  mix 44.1 kHz: 16x true peak %.6f dBTP (every phase computed: %.6f dBTP)\n",
           db(ref), db(brute));
    assert_true(ref == brute);
    const size_t blocks[5] = {1, 7, 64, 4096, 0};
    uint64_t rng = 99;
    for (int b = 0; b < 5; b++) {
        lq_tp_meter *m = NULL;
        assert_int_equal(lq_tp_meter_new(&m, 2, 44100.0, 16), LQ_OK);
        for (int pass = 0; pass < 2; pass++) {
            size_t pos = 0;
            while (pos < n) {
                size_t k = blocks[b];
                if (!k) {
                    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                    k = 1 + (size_t)((rng >> 33) % 5000);
                }
                if (k > n - pos) k = n - pos;
                const double *q[2] = {l + pos, r + pos};
                lq_tp_meter_push(m, q, k);
                pos += k;
            }
            assert_true(lq_tp_meter_max_linear(m) == ref);
            assert_true(fmax(lq_tp_meter_channel_max(m, 0), lq_tp_meter_channel_max(m, 1)) ==
                        ref);
            lq_tp_meter_reset(m); /* the second pass must give the same */
        }
        lq_tp_meter_destroy(&m);
    }
    /* silence, and an impulse as the very last sample (only seen through the tail) */
    memset(l, 0, n * sizeof(double));
    const double *q[1] = {l};
    assert_true(meter_once(16, q, 1, n) == 0.0);
    lq_tp_meter *m = NULL;
    assert_int_equal(lq_tp_meter_new(&m, 1, 48000.0, 8), LQ_OK);
    assert_true(lq_tp_meter_max_dbtp(m) == -HUGE_VAL);
    l[n - 1] = -0.75;
    lq_tp_meter_push(m, q, n);
    assert_true(lq_tp_meter_max_linear(m) == 0.75);
    assert_true(fabs(lq_tp_meter_max_dbtp(m) - db(0.75)) < 1e-12);
    lq_tp_meter_destroy(&m);
    /* bad arguments */
    assert_int_equal(lq_tp_meter_new(&m, 3, 48000.0, 16), LQ_ERR_ARG);
    assert_int_equal(lq_tp_meter_new(&m, 2, 48000.0, 2), LQ_ERR_ARG);
    assert_int_equal(lq_tp_meter_new(&m, 2, 0.0, 16), LQ_ERR_ARG);
    assert_null(m);
    free(l);
    free(r);
}

/* The limiter's detector (refined by parabolas) never reads below the plain grid
 * maximum, and reads single tones within 0.01 dB at 8x and 16x (0.04 dB at 4x). */
static void test_detector(void **st)
{
    (void)st;
    for (int i = 0; i < 3; i++) {
        lq_os_filter f;
        assert_int_equal(lq_os_design(&f, factors[i]), LQ_OK);
        double lo = HUGE_VAL, hi = -HUGE_VAL;
        for (double fr = 0.013; fr < 0.46; fr += 0.0271)
            for (int ph = 0; ph < 8; ph++) {
                lq_os_detector a, b;
                lq_os_detector_reset(&a);
                lq_os_detector_reset(&b);
                double ma = 0, mb = 0;
                for (int t = 0; t < 600; t++) {
                    double x = sin(2 * PI * fr * t + ph * 0.37);
                    double va = lq_os_detector_push(&a, &f, x, 0.0, 1);
                    double vb = lq_os_detector_push(&b, &f, x, 0.0, 0);
                    assert_true(va >= vb);
                    if (t > 200 && t < 500) {
                        ma = fmax(ma, va);
                        mb = fmax(mb, vb);
                    }
                }
                lo = fmin(lo, db(ma));
                hi = fmax(hi, db(ma));
            }
        printf("  detector %2dx on tones 0.013..0.45 fs: %+.4f .. %+.4f dB\n", factors[i], lo,
               hi);
        double tol = factors[i] == 4 ? 0.04 : 0.01;
        assert_true(lo > -tol && hi < tol);
        lq_os_filter_free(&f);
    }
}

/* ---- the fast paths against the reference evaluation -------------------------------- */

enum { FP_MIX, FP_NOISE, FP_FS4, FP_COUNT };
static const char *const fp_names[FP_COUNT] = {"mix", "noise", "fs/4 sine"};

/* n samples of signal `kind` with sample peak `peak` (channel 0 of the mix) */
static void fp_signal(int kind, double *x, size_t n, double peak, uint64_t seed)
{
    if (kind == FP_MIX) {
        double *r = malloc(n * sizeof(double));
        assert_non_null(r);
        lqs_mix(x, r, n, 44100.0, seed, peak);
        free(r);
    } else if (kind == FP_NOISE) {
        lqs_white(x, n, 0.25, seed);
        double m = 0;
        for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
        for (size_t i = 0; i < n; i++) x[i] *= peak / m;
    } else {
        for (size_t i = 0; i < n; i++)
            x[i] = peak * sin(PI / 2.0 * (double)i + PI / 4.0) * fade(i, n, (double)i);
    }
}

/* Next block size: fixed, or random 1..700 (block 0). */
static size_t fp_block(size_t block, uint64_t *rng)
{
    if (block) return block;
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return 1 + (size_t)((*rng >> 33) % 700);
}

/* lq_os_phases gives the values of lq_os_phase bit for bit (every factor, odd ones
 * too, on random windows); lq_os_stream_meter gives exactly the maximum over every
 * phase of every sample; lq_os_stream_detect gives exactly lq_os_detector_push's value
 * wherever it exceeds the threshold (and <= thr elsewhere), on a mix, noise and an fs/4
 * sine at levels from well below to far above the threshold, in any block sizes.  All
 * of it with the AVX sums (where the CPU has AVX) and with the SSE2 ones (lq_os_simd),
 * which also skip exactly the same samples. */
static size_t g_computed[2][3][FP_COUNT][3];
static void fast_paths(int simd);
static void test_fast_paths(void **st)
{
    (void)st;
    printf("AVX sums %s\n", __builtin_cpu_supports("avx") ? "on this CPU" : "not on this CPU");
    for (int simd = 1; simd >= 0; simd--) fast_paths(simd);
    lq_os_simd = 1;
    assert_memory_equal(g_computed[0], g_computed[1], sizeof g_computed[0]);
}

static void fast_paths(int simd)
{
    lq_os_simd = simd;
    lqs_rng rng;
    lqs_rng_seed(&rng, 77);
    for (int L = 2; L <= LQ_OS_MAX_FACTOR; L++) {
        lq_os_filter f;
        assert_int_equal(lq_os_design(&f, L), LQ_OK);
        double w[LQ_OS_TAPS], y[LQ_OS_MAX_FACTOR];
        for (int trial = 0; trial < 200; trial++) {
            for (int j = 0; j < LQ_OS_TAPS; j++)
                w[j] = (2.0 * lqs_rng_uniform(&rng) - 1.0) * (trial % 3 == 0 ? 1e-3 : 1.0);
            lq_os_phases(&f, w, y);
            for (int p = 0; p < L; p++) {
                if (y[p] != lq_os_phase(&f, p, w))
                    printf("  factor %d phase %d trial %d (seed 77): %.17g != %.17g\n", L, p,
                           trial, y[p], lq_os_phase(&f, p, w));
                assert_true(y[p] == lq_os_phase(&f, p, w));
            }
        }
        lq_os_filter_free(&f);
    }

    const size_t n = 12000;
    double *x = malloc(n * sizeof(double)), *pk = malloc(n * sizeof(double));
    assert_non_null(x);
    assert_non_null(pk);
    const double levels[3] = {0.5, 1.0, 2.0};   /* sample peak vs thr = 0.9 */
    const double thr = 0.9, skip = 0.9 * thr;   /* as the limiter sets them */
    const size_t blocks[3] = {1, 300, 0};
    for (int fi = 0; fi < 3; fi++) {
        lq_os_filter f;
        assert_int_equal(lq_os_design(&f, factors[fi]), LQ_OK);
        for (int kind = 0; kind < FP_COUNT; kind++)
            for (int li = 0; li < 3; li++) {
                fp_signal(kind, x, n, levels[li], 500 + (uint64_t)kind);
                /* reference meter: every phase of every sample, plus the 32-sample tail */
                double brute = 0;
                lq_os_hist h;
                memset(&h, 0, sizeof h);
                for (size_t i = 0; i < n + LQ_OS_DELAY; i++) {
                    const double *hist = lq_os_hist_push(&h, i < n ? x[i] : 0.0);
                    for (int q = 0; q < factors[fi]; q++)
                        brute = fmax(brute, fabs(lq_os_phase(&f, q, hist)));
                }
                /* reference detector */
                lq_os_detector d;
                lq_os_detector_reset(&d);
                size_t over = 0;
                for (size_t i = 0; i < n; i++) {
                    pk[i] = lq_os_detector_push(&d, &f, x[i], skip, 1);
                    if (pk[i] > thr) over++;
                }
                size_t computed1 = 0;
                for (int b = 0; b < 3; b++) {
                    uint64_t brng = 4242;
                    lq_os_stream ms, ds;
                    lq_os_stream_reset(&ms);
                    lq_os_stream_reset(&ds);
                    double mx = 0, out[700];
                    size_t pos = 0, bad = 0, computed = 0;
                    while (pos < n) {
                        size_t k = fp_block(blocks[b], &brng);
                        if (k > n - pos) k = n - pos;
                        mx = lq_os_stream_meter(&ms, &f, x + pos, k, mx);
                        lq_os_stream_detect(&ds, &f, x + pos, k, skip, thr, out);
                        for (size_t i = 0; i < k; i++) {
                            const double ref = pk[pos + i];
                            /* the spec; and wherever the phases were computed (out != 0:
                             * the fast paths give 0), exactly the reference's value */
                            if (ref > thr ? out[i] != ref : !(out[i] <= thr)) bad++;
                            if (out[i] != 0 && out[i] != ref) bad++;
                            if (out[i] != 0) computed++;
                        }
                        pos += k;
                    }
                    const double zeros[LQ_OS_DELAY] = {0};
                    mx = lq_os_stream_meter(&ms, &f, zeros, LQ_OS_DELAY, mx);
                    if (mx != brute || bad)
                        printf("  %2dx %-9s peak %.1f block %zu: meter %.17g vs every phase "
                               "%.17g; detector: %zu mismatches of %zu samples over thr\n",
                               factors[fi], fp_names[kind], levels[li], blocks[b], mx, brute,
                               bad, over);
                    assert_true(mx == brute);
                    assert_int_equal(bad, 0);
                    if (b == 0) computed1 = computed;
                    assert_int_equal(computed, computed1);   /* same work in any blocks */
                }
                g_computed[simd][fi][kind][li] = computed1;
                if (fi == 1 && simd)
                    printf("  %2dx %-9s peak %.1f: true peak %.6f (identical), detector "
                           "identical on %zu samples over thr, phases computed for %zu of "
                           "%zu\n",
                           factors[fi], fp_names[kind], levels[li], brute, over, computed1, n);
                /* the comparison is not vacuous: above thr the reference does limit */
                if (levels[li] > 1.5) assert_true(over > 0);
            }
        lq_os_filter_free(&f);
    }
    free(x);
    free(pk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design),        cmocka_unit_test(test_fs4_45),
        cmocka_unit_test(test_random_sines),  cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_detector),      cmocka_unit_test(test_fast_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
