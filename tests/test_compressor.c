/* The compressor core (src/dsp/compressor.c): static curve, time constants, stereo
 * link, block-size independence, silence and denormals. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsp/compressor.h"
#include "synth.h"

#define LQ_PI 3.14159265358979323846

static double db(double g)
{
    return 20.0 * log10(g);
}

static lq_comp_params base_params(void)
{
    lq_comp_params p = {.threshold_db = -30.0, .ratio = 4.0, .knee_db = 0.0,
                        .attack_ms = 5.0, .release_ms = 50.0, .makeup_db = 0.0,
                        .detector = LQ_COMP_PEAK, .rms_ms = 10.0, .hold_ms = 20.0};
    return p;
}

/* Hand-computed points of Giannoulis et al. eq. 4. */
static void test_static_formula(void **st)
{
    (void)st;
    lq_comp_params p = base_params();
    p.threshold_db = -20.0;
    p.ratio = 4.0;
    p.knee_db = 0.0;
    assert_float_equal(lq_comp_static_gain_db(&p, -30.0), 0.0, 1e-12);
    assert_float_equal(lq_comp_static_gain_db(&p, -20.0), 0.0, 1e-12);
    assert_float_equal(lq_comp_static_gain_db(&p, 0.0), -15.0, 1e-12);
    p.knee_db = 12.0;  /* knee from -26 to -14 */
    assert_float_equal(lq_comp_static_gain_db(&p, -26.0), 0.0, 1e-12);
    /* at T: (1/R-1) (W/2)^2 / (2W) = -0.75 * 36 / 24 = -1.125 */
    assert_float_equal(lq_comp_static_gain_db(&p, -20.0), -1.125, 1e-12);
    /* at the top of the knee it meets the straight line: -0.75 * 6 = -4.5 */
    assert_float_equal(lq_comp_static_gain_db(&p, -14.0), -4.5, 1e-12);
    assert_float_equal(lq_comp_static_gain_db(&p, 0.0), -15.0, 1e-12);
    p.ratio = INFINITY;
    p.knee_db = 0.0;
    assert_float_equal(lq_comp_static_gain_db(&p, -5.0), -15.0, 1e-12);
    p.ratio = 1.0;
    assert_float_equal(lq_comp_static_gain_db(&p, 0.0), 0.0, 0.0);
}

/* A steady 997 Hz sine (not locked to the sample grid) stepped in level from -60 to
 * 0 dBFS (1 dB steps, 120 ms each); the gain of the output sine over the last 30 ms of
 * each step is compared with the designed curve.  Ratios 1.5, 2, 4, inf x knees 0, 6, 12 dB. */
static void test_static_curve(void **st)
{
    (void)st;
    const double fs = 48000.0;
    const size_t step = (size_t)(0.12 * fs), meas = (size_t)(0.03 * fs);
    double *x = malloc(step * sizeof *x), *g = malloc(step * sizeof *g);
    assert_non_null(x);
    assert_non_null(g);
    const double ratios[] = {1.5, 2.0, 4.0, INFINITY};
    const double knees[] = {0.0, 6.0, 12.0};
    double worst = 0.0;
    for (int ri = 0; ri < 4; ri++)
        for (int ki = 0; ki < 3; ki++) {
            lq_comp_params p = base_params();
            p.ratio = ratios[ri];
            p.knee_db = knees[ki];
            lq_comp *c = NULL;
            assert_int_equal(lq_comp_new(&c, &p, fs, 1, 0.0), LQ_OK);
            double phase = 0.0;
            for (int lev = -60; lev <= 0; lev++) {
                const double a = pow(10.0, lev / 20.0);
                for (size_t i = 0; i < step; i++) {
                    x[i] = a * sin(phase);
                    phase += 2.0 * LQ_PI * 997.0 / fs;
                    if (phase > 2.0 * LQ_PI) phase -= 2.0 * LQ_PI;
                }
                const double *xi[1] = {x};
                double *go[1] = {g};
                lq_comp_run(c, xi, go, NULL, step);
                double se = 0.0, so = 0.0;
                for (size_t i = step - meas; i < step; i++) {
                    se += x[i] * x[i];
                    so += (x[i] * g[i]) * (x[i] * g[i]);
                }
                const double got = 10.0 * log10(so / se);
                const double want = lq_comp_static_gain_db(&p, (double)lev);
                const double err = fabs(got - want);
                if (err > worst) worst = err;
                if (err > 0.25)
                    fail_msg("ratio %g knee %g level %d dBFS: gain %.3f dB, designed %.3f dB",
                             p.ratio, p.knee_db, lev, got, want);
            }
            lq_comp_destroy(&c);
        }
    printf("static curve (peak detector): worst error %.2e dB over 12 curves x 61 levels\n",
           worst);

    /* RMS detector: a sine of peak A reads A - 3.01 dB. */
    lq_comp_params p = base_params();
    p.detector = LQ_COMP_RMS;
    p.rms_ms = 10.0;
    p.knee_db = 6.0;
    lq_comp *c = NULL;
    assert_int_equal(lq_comp_new(&c, &p, fs, 1, 0.0), LQ_OK);
    double phase = 0.0, worst_rms = 0.0;
    for (int lev = -40; lev <= 0; lev += 4) {
        const double a = pow(10.0, lev / 20.0);
        for (size_t i = 0; i < step; i++) {
            x[i] = a * sin(phase);
            phase += 2.0 * LQ_PI * 997.0 / fs;
        }
        const double *xi[1] = {x};
        double *go[1] = {g};
        lq_comp_run(c, xi, go, NULL, step);
        double se = 0.0, so = 0.0;
        for (size_t i = step - meas; i < step; i++) {
            se += x[i] * x[i];
            so += (x[i] * g[i]) * (x[i] * g[i]);
        }
        const double got = 10.0 * log10(so / se);
        const double want = lq_comp_static_gain_db(&p, lev + 10.0 * log10(0.5));
        if (fabs(got - want) > worst_rms) worst_rms = fabs(got - want);
        if (fabs(got - want) > 0.25)
            fail_msg("rms detector level %d dBFS: gain %.3f dB, designed %.3f dB", lev, got,
                     want);
    }
    printf("static curve (rms detector): worst error %.4f dB\n", worst_rms);
    lq_comp_destroy(&c);
    free(x);
    free(g);
}

/* Time from the step to the first sample where the gain change has covered `frac` of
 * its total (the gain in dB moves from g0 to g1). */
static double crossing_ms(const double *gdb, size_t from, size_t n, double g0, double g1,
                          double frac, double fs)
{
    const double lvl = g0 + frac * (g1 - g0);
    for (size_t i = from; i < n; i++)
        if ((g1 < g0 && gdb[i] <= lvl) || (g1 > g0 && gdb[i] >= lvl))
            return (double)(i - from) * 1000.0 / fs;
    return -1.0;
}

/* A 10 dB step up and down of a 1 kHz sine well above threshold: the 10->90 % times of
 * the gain change are the set attack and release (within 10 %). */
static void test_time_constants(void **st)
{
    (void)st;
    const double rates[] = {44100.0, 96000.0};
    const double atk[] = {1.0, 10.0, 30.0, 80.0};
    const double rel[] = {40.0, 100.0, 250.0, 1000.0};
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 4; k++) {
            const double fs = rates[r];
            lq_comp_params p = base_params();
            p.threshold_db = -40.0;
            p.ratio = 4.0;
            p.attack_ms = atk[k];
            p.release_ms = rel[k];
            p.hold_ms = 5.0;
            const size_t seg = (size_t)(4.0 * fs), n = 3 * seg;
            double *x = malloc(n * sizeof *x), *g = malloc(n * sizeof *g);
            assert_non_null(x);
            assert_non_null(g);
            for (size_t i = 0; i < n; i++) {
                const double a = (i >= seg && i < 2 * seg) ? pow(10.0, -20.0 / 20.0)
                                                           : pow(10.0, -30.0 / 20.0);
                x[i] = a * sin(2.0 * LQ_PI * 1000.0 * (double)i / fs);
            }
            lq_comp *c = NULL;
            assert_int_equal(lq_comp_new(&c, &p, fs, 1, 0.0), LQ_OK);
            const double *xi[1] = {x};
            double *go[1] = {g};
            lq_comp_run(c, xi, go, NULL, n);
            lq_comp_destroy(&c);
            for (size_t i = 0; i < n; i++) g[i] = db(g[i]);
            /* -30 dBFS: 10 dB over, gain -7.5 dB; -20 dBFS: 20 dB over, gain -15 dB */
            assert_float_equal(g[seg - 1], -7.5, 0.01);
            assert_float_equal(g[2 * seg - 1], -15.0, 0.01);
            const double a10 = crossing_ms(g, seg, n, -7.5, -15.0, 0.1, fs);
            const double a90 = crossing_ms(g, seg, n, -7.5, -15.0, 0.9, fs);
            const double r10 = crossing_ms(g, 2 * seg, n, -15.0, -7.5, 0.1, fs);
            const double r90 = crossing_ms(g, 2 * seg, n, -15.0, -7.5, 0.9, fs);
            const double ma = a90 - a10, mr = r90 - r10;
            printf("fs %.0f: attack set %.1f ms measured %.3f ms; release set %.1f ms "
                   "measured %.3f ms\n", fs, atk[k], ma, rel[k], mr);
            if (fabs(ma - atk[k]) > 0.1 * atk[k] || fabs(mr - rel[k]) > 0.1 * rel[k])
                fail_msg("fs %.0f: attack %.3f ms (set %.1f), release %.3f ms (set %.1f)", fs,
                         ma, atk[k], mr, rel[k]);
            free(x);
            free(g);
        }
}

/* Link 1: identical gains on both channels; link 0: a signal on the left only leaves
 * the right at exactly unity; link 0.5: the right gets half the left's reduction. */
static void test_link(void **st)
{
    (void)st;
    const double fs = 48000.0;
    const size_t n = (size_t)(1.0 * fs);
    double *l = malloc(n * sizeof *l), *r = calloc(n, sizeof *r);
    double *gl = malloc(n * sizeof *gl), *gr = malloc(n * sizeof *gr);
    assert_true(l && r && gl && gr);
    lqs_transients(l, n, fs, 0.25, 0.9, 7);
    lq_comp_params p = base_params();
    const double links[] = {1.0, 0.0, 0.5};
    for (int k = 0; k < 3; k++) {
        lq_comp *c = NULL;
        assert_int_equal(lq_comp_new(&c, &p, fs, 2, links[k]), LQ_OK);
        const double *xi[2] = {l, r};
        double *go[2] = {gl, gr};
        lq_comp_run(c, xi, go, NULL, n);
        lq_comp_destroy(&c);
        double maxgr = 0.0, maxdiff = 0.0;
        for (size_t i = 0; i < n; i++) {
            if (-db(gl[i]) > maxgr) maxgr = -db(gl[i]);
            if (links[k] == 1.0) {
                assert_memory_equal(&gl[i], &gr[i], sizeof(double));
            } else if (links[k] == 0.0) {
                assert_true(gr[i] == 1.0);
            } else {
                const double d = fabs(db(gr[i]) - 0.5 * db(gl[i]));
                if (d > maxdiff) maxdiff = d;
            }
        }
        printf("link %.1f: left max gain reduction %.2f dB, right/left dB deviation "
               "from half %.2e\n", links[k], maxgr, maxdiff);
        assert_true(maxgr > 6.0);  /* the test signal really is compressed */
        assert_true(maxdiff < 1e-9);
    }
    free(l);
    free(r);
    free(gl);
    free(gr);
}

/* Same output, bit for bit, whatever the block sizes (1, 7, 64, 4096, random). */
static void test_block_size(void **st)
{
    (void)st;
    const double fs = 44100.0;
    const size_t n = 3 * 44100;
    double *in[2], *ref[2], *out[2], *tmp[2];
    for (int c = 0; c < 2; c++) {
        in[c] = malloc(n * sizeof(double));
        ref[c] = malloc(n * sizeof(double));
        out[c] = malloc(n * sizeof(double));
        tmp[c] = malloc(n * sizeof(double));
        assert_true(in[c] && ref[c] && out[c] && tmp[c]);
    }
    lqs_mix(in[0], in[1], n, fs, 11, 0.98);
    const lq_comp_detector dets[] = {LQ_COMP_PEAK, LQ_COMP_RMS};
    for (int d = 0; d < 2; d++) {
        lq_comp_params p = base_params();
        p.detector = dets[d];
        p.threshold_db = -24.0;
        p.knee_db = 6.0;
        lq_comp *c = NULL;
        assert_int_equal(lq_comp_new(&c, &p, fs, 2, 0.7), LQ_OK);
        const double *xi[2] = {in[0], in[1]};
        lq_comp_run(c, xi, ref, NULL, n);
        const size_t sizes[] = {1, 7, 64, 4096, 0};
        for (int s = 0; s < 5; s++) {
            lq_comp_reset(c);
            lqs_rng rng;
            lqs_rng_seed(&rng, 99);
            size_t pos = 0;
            while (pos < n) {
                size_t b = sizes[s] ? sizes[s] : 1 + (size_t)(lqs_rng_uniform(&rng) * 3000);
                if (b > n - pos) b = n - pos;
                const double *xs[2] = {in[0] + pos, in[1] + pos};
                double *gs[2] = {out[0] + pos, out[1] + pos};
                lq_comp_run(c, xs, gs, NULL, b);
                pos += b;
            }
            for (int ch = 0; ch < 2; ch++)
                if (memcmp(ref[ch], out[ch], n * sizeof(double)) != 0)
                    fail_msg("detector %d block size %zu (0 = random, seed 99): output "
                             "differs on channel %d", d, sizes[s], ch);
        }
        /* g may alias x: in place gives the same result */
        lq_comp_reset(c);
        for (int ch = 0; ch < 2; ch++) memcpy(tmp[ch], in[ch], n * sizeof(double));
        const double *ti[2] = {tmp[0], tmp[1]};
        lq_comp_run(c, ti, tmp, NULL, n);
        for (int ch = 0; ch < 2; ch++)
            assert_memory_equal(ref[ch], tmp[ch], n * sizeof(double));
        lq_comp_destroy(&c);
    }
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(ref[c]);
        free(out[c]);
        free(tmp[c]);
    }
}

/* Loud noise, then silence, then denormal-sized input: the gain returns to exactly
 * unity (makeup 0), never becomes NaN or subnormal, and the smoother state is flushed. */
static void test_silence_denormals(void **st)
{
    (void)st;
    const double fs = 44100.0;
    const size_t n = 10 * 44100;
    double *x = calloc(n, sizeof *x), *g = malloc(n * sizeof *g), *gr = malloc(n * sizeof *gr);
    assert_true(x && g && gr);
    lqs_white(x, n / 5, 0.3, 5);
    for (size_t i = n / 2; i < n; i++) x[i] = (i & 1) ? 4.9e-322 : -1e-310;
    const lq_comp_detector dets[] = {LQ_COMP_PEAK, LQ_COMP_RMS};
    for (int d = 0; d < 2; d++) {
        lq_comp_params p = base_params();
        p.detector = dets[d];
        p.release_ms = 200.0;
        lq_comp *c = NULL;
        assert_int_equal(lq_comp_new(&c, &p, fs, 1, 0.0), LQ_OK);
        const double *xi[1] = {x};
        double *go[1] = {g};
        lq_comp_run(c, xi, go, gr, n);
        lq_comp_destroy(&c);
        double maxgr = 0.0;
        for (size_t i = 0; i < n; i++) {
            assert_true(isfinite(g[i]));
            assert_true(fpclassify(g[i]) != FP_SUBNORMAL);
            assert_true(fpclassify(gr[i]) != FP_SUBNORMAL);
            if (gr[i] > maxgr) maxgr = gr[i];
        }
        assert_true(maxgr > 3.0);
        /* 8 s after the noise stopped (40 release times) the gain is exactly 1 */
        for (size_t i = n - n / 5; i < n; i++) assert_true(g[i] == 1.0 && gr[i] == 0.0);
    }
    /* makeup is applied on top: idle compressor with +3 dB makeup */
    lq_comp_params p = base_params();
    p.makeup_db = 3.0;
    lq_comp *c = NULL;
    assert_int_equal(lq_comp_new(&c, &p, fs, 1, 0.0), LQ_OK);
    const double *xi[1] = {x + n / 2};
    double *go[1] = {g};
    lq_comp_run(c, xi, go, NULL, 1000);
    assert_float_equal(g[999], pow(10.0, 3.0 / 20.0), 1e-15);
    lq_comp_destroy(&c);
    /* bad parameters */
    p.ratio = 0.5;
    assert_int_equal(lq_comp_new(&c, &p, fs, 1, 0.0), LQ_ERR_ARG);
    assert_null(c);
    free(x);
    free(g);
    free(gr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_formula),
        cmocka_unit_test(test_static_curve),
        cmocka_unit_test(test_time_constants),
        cmocka_unit_test(test_link),
        cmocka_unit_test(test_block_size),
        cmocka_unit_test(test_silence_denormals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
