/* dsp/fir.h (linear-phase FIR design) and dsp/conv.h (overlap-save convolver):
 * tap counts, exact symmetry, design accuracy against the wanted curve, the
 * complement, convolution against a direct sum, latency, block-size independence,
 * matrix/bank against single filters, reset, silence, and concurrent creation. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsp/conv.h"
#include "dsp/fir.h"
#include "lqtest.h"
#include "synth.h"

#define PI 3.14159265358979323846

static double *dalloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    assert_non_null(p);
    return p;
}

/* ---- design ------------------------------------------------------------------- */

static void test_taps(void **st)
{
    (void)st;
    assert_int_equal(lq_fir_taps(186.0, 44100.0), 8203);
    assert_int_equal(lq_fir_taps(186.0, 48000.0), 8929);
    assert_int_equal(lq_fir_taps(186.0, 192000.0), 35713);
    const double rates[] = {8000, 22050, 44100, 48000, 88200, 96000, 176400, 192000};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        for (double ms = 1.0; ms < 2000.0; ms *= 1.37) {
            size_t n = lq_fir_taps(ms, rates[i]);
            assert_true(n & 1);
            assert_true(n >= 3);
            /* Within one sample pair of the asked length. */
            if (ms * rates[i] / 1000.0 > 3.0)
                assert_true(fabs((double)n - ms * rates[i] / 1000.0) <= 1.0 + 1e-9);
        }
    assert_int_equal(lq_fir_delay(8203), 4101);
}

static double amp_one(double f, void *u)
{
    (void)f;
    (void)u;
    return 1.0;
}

/* A smooth test response: +6 dB bell-like bump at 1 kHz on a log axis, -3 dB above
 * 10 kHz. */
static double amp_smooth(double f, void *u)
{
    (void)u;
    double o = log2((f + 1.0) / 1000.0);
    double db = 6.0 * exp(-o * o * 2.0) - 3.0 / (1.0 + pow(10000.0 / (f + 1.0), 4.0));
    return pow(10.0, db / 20.0);
}

static void test_flat_is_delta(void **st)
{
    (void)st;
    const size_t n = 1001;
    double *t = dalloc(n);
    lq_diag d;
    assert_int_equal(lq_fir_design(t, n, 48000.0, amp_one, NULL, &d), LQ_OK);
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(t[i] - (i == (n - 1) / 2 ? 1.0 : 0.0));
        if (e > worst) worst = e;
    }
    print_message("flat design: max |taps - delta| = %.3g\n", worst);
    assert_true(worst < 1e-14);
    free(t);
}

static void test_symmetry_and_accuracy(void **st)
{
    (void)st;
    const double rates[] = {44100.0, 96000.0};
    for (int r = 0; r < 2; r++) {
        const double fs = rates[r];
        const size_t n = lq_fir_taps(100.0, fs);
        double *t = dalloc(n);
        lq_diag d;
        assert_int_equal(lq_fir_design(t, n, fs, amp_smooth, NULL, &d), LQ_OK);
        double peak = 0.0;
        for (size_t i = 0; i < n; i++) peak = fmax(peak, fabs(t[i]));
        for (size_t i = 0; i < n; i++) assert_true(t[i] == t[n - 1 - i]); /* bit-exact */
        /* The realised amplitude follows the wanted one (plain windowed design, smooth
         * target): within 0.01 dB from 100 Hz to 0.9 Nyquist. */
        double worst = 0.0, at = 0.0;
        for (double f = 100.0; f < 0.45 * fs; f *= 1.01) {
            double a = lq_fir_amplitude(t, n, fs, f);
            double e = fabs(20.0 * log10(a) - 20.0 * log10(amp_smooth(f, NULL)));
            if (e > worst) {
                worst = e;
                at = f;
            }
        }
        print_message("smooth design at %g Hz, %zu taps: max error %.5f dB at %.0f Hz\n", fs, n,
                      worst, at);
        assert_true(worst < 0.01);
        free(t);
    }
}

/* Wanted: 4th-order Butterworth high-pass at 25 Hz (steep at low frequency). */
static double amp_hp25(double f, void *u)
{
    (void)u;
    return 1.0 / sqrt(1.0 + pow(25.0 / fmax(f, 1e-9), 8.0));
}

static void test_refined(void **st)
{
    (void)st;
    const double fs = 44100.0;
    const size_t n = lq_fir_taps(186.0, fs), np = lq_fir_grid_points(n);
    double *amp = dalloc(np), *plain = dalloc(n), *ref = dalloc(n);
    for (size_t k = 0; k < np; k++) amp[k] = amp_hp25((double)k * fs / (double)(2 * (np - 1)), NULL);
    lq_diag d;
    assert_int_equal(lq_fir_design_grid(plain, n, amp, np, &d), LQ_OK);
    assert_int_equal(lq_fir_design_refined(ref, n, fs, amp, np, 25.0, 6, &d), LQ_OK);
    double e_plain = 0.0, e_ref = 0.0;
    for (double f = 30.0; f < 0.45 * fs; f *= 1.005) {
        double want = 20.0 * log10(amp_hp25(f, NULL));
        e_plain = fmax(e_plain, fabs(20.0 * log10(fabs(lq_fir_amplitude(plain, n, fs, f))) - want));
        e_ref = fmax(e_ref, fabs(20.0 * log10(fabs(lq_fir_amplitude(ref, n, fs, f))) - want));
    }
    for (size_t i = 0; i < n; i++) assert_true(ref[i] == ref[n - 1 - i]);
    print_message("HP 25 Hz 24 dB/oct, 186 ms: plain design %.4f dB, refined %.4f dB "
                  "(max error 30 Hz..0.9 Nyquist)\n", e_plain, e_ref);
    assert_true(e_plain > 0.1);  /* the plain window design is visibly off here */
    assert_true(e_ref < 0.05);
    free(amp);
    free(plain);
    free(ref);
}

static void test_complement(void **st)
{
    (void)st;
    const size_t n = 2001;
    double *lp = dalloc(n), *hp = dalloc(n);
    lq_diag d;
    assert_int_equal(lq_fir_design(lp, n, 48000.0, amp_smooth, NULL, &d), LQ_OK);
    memcpy(hp, lp, n * sizeof(double));
    lq_fir_complement(hp, n);
    for (size_t i = 0; i < n; i++) {
        double s = lp[i] + hp[i], want = i == (n - 1) / 2 ? 1.0 : 0.0;
        assert_true(fabs(s - want) < 1e-15);
    }
    free(lp);
    free(hp);
}

static void test_design_errors(void **st)
{
    (void)st;
    double t[8];
    lq_diag d;
    assert_int_equal(lq_fir_design(t, 8, 48000.0, amp_one, NULL, &d), LQ_ERR_ARG);
    assert_int_equal(lq_fir_design(t, 1, 48000.0, amp_one, NULL, &d), LQ_ERR_ARG);
    assert_int_equal(lq_fir_design(t, 7, 0.0, amp_one, NULL, &d), LQ_ERR_ARG);
    double g[4] = {1, 1, 1, 1};
    assert_int_equal(lq_fir_design_grid(t, 7, g, 4, &d), LQ_ERR_ARG);
}

/* ---- convolution -------------------------------------------------------------- */

/* Direct (long double) convolution, y[i] = sum_k h[k] x[i-k]. */
static void direct_conv(const double *h, size_t nh, const double *x, size_t n, double *y)
{
    for (size_t i = 0; i < n; i++) {
        long double acc = 0.0L;
        for (size_t k = 0; k < nh && k <= i; k++) acc += (long double)h[k] * x[i - k];
        y[i] = (double)acc;
    }
}

/* Run a 1->1 convolver over x in blocks (block 0: random sizes 1..3000 from seed). */
static void run_conv(lq_conv *c, const double *x, double *y, size_t n, size_t block,
                     uint64_t seed)
{
    lqs_rng r;
    lqs_rng_seed(&r, seed);
    size_t off = 0;
    while (off < n) {
        size_t b = block ? block : 1 + (size_t)(lqs_rng_uniform(&r) * 3000.0);
        if (b > n - off) b = n - off;
        lq_conv_process(c, x + off, y + off, b);
        off += b;
    }
}

static void test_conv_matches_direct(void **st)
{
    (void)st;
    const size_t nh = 777, n = 20000;
    double *h = dalloc(nh), *x = dalloc(n), *y = dalloc(n), *ref = dalloc(n);
    lqs_white(h, nh, 0.1, 11);
    lqs_white(x, n, 0.3, 12);
    lq_conv *c = NULL;
    lq_diag d;
    assert_int_equal(lq_conv_new(&c, h, nh, 512, &d), LQ_OK);
    const size_t lat = lq_conv_latency(c);
    assert_int_equal(lat, lq_conv_fft_size(c) - nh + 1);
    run_conv(c, x, y, n, 0, 1);
    direct_conv(h, nh, x, n - lat, ref);
    /* Output is the convolution delayed by exactly `lat` frames. */
    for (size_t i = 0; i < lat; i++) assert_true(y[i] == 0.0);
    double null = lqt_null_db(y + lat, ref, n - lat);
    print_message("overlap-save vs direct convolution (%zu taps, FFT %zu, hop %zu): "
                  "null %.1f dB\n", nh, lq_conv_fft_size(c), lat, null);
    assert_true(null < -280.0);
    lq_conv_destroy(&c);
    assert_null(c);
    free(h);
    free(x);
    free(y);
    free(ref);
}

static void test_conv_delta_null_and_blocks(void **st)
{
    (void)st;
    const size_t nh = 8203, n = 100000;
    double *h = dalloc(nh), *x = dalloc(n), *y0 = dalloc(n), *y1 = dalloc(n);
    h[(nh - 1) / 2] = 1.0;
    lqs_pink(x, n, 0.25, 99);
    lq_conv *c = NULL;
    lq_diag d;
    assert_int_equal(lq_conv_new(&c, h, nh, 4096, &d), LQ_OK);
    const size_t lat = lq_conv_latency(c) + (nh - 1) / 2;
    run_conv(c, x, y0, n, 4096, 0);
    double null = lqt_null_db(y0 + lat, x, n - lat);
    print_message("delta filter through the convolver: null %.1f dB\n", null);
    assert_true(null < -150.0);

    const size_t blocks[] = {1, 7, 64, 4096, 0};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        lq_conv_reset(c);
        run_conv(c, x, y1, n, blocks[b], 1234 + b);
        if (memcmp(y0, y1, n * sizeof(double)) != 0)
            fail_msg("block size %zu (0 = random, seed %zu): output differs", blocks[b],
                     (size_t)(1234 + b));
    }
    /* In place. */
    lq_conv_reset(c);
    memcpy(y1, x, n * sizeof(double));
    run_conv(c, y1, y1, n, 333, 0);
    assert_memory_equal(y0, y1, n * sizeof(double));
    lq_conv_destroy(&c);
    free(h);
    free(x);
    free(y0);
    free(y1);
}

static void test_conv_matrix_and_bank(void **st)
{
    (void)st;
    const size_t nh = 301, n = 30000;
    double *h[4], *x[2], *y[2], *ref[2], *tmp = dalloc(n);
    for (int i = 0; i < 4; i++) {
        h[i] = dalloc(nh);
        lqs_white(h[i], nh, 0.05, 100 + (uint64_t)i);
    }
    for (int i = 0; i < 2; i++) {
        x[i] = dalloc(n);
        y[i] = dalloc(n);
        ref[i] = dalloc(n);
        lqs_white(x[i], n, 0.3, 200 + (uint64_t)i);
    }
    lq_diag d;
    /* 2x2 matrix: out_j = sum_k h[j*2+k] * in_k, against single convolvers. */
    lq_conv *m = NULL;
    assert_int_equal(lq_conv_new_matrix(&m, 2, 2, (const double *const *)h, nh, 1000, &d), LQ_OK);
    lq_conv_process_matrix(m, (const double *const *)x, y, n);
    for (int j = 0; j < 2; j++) {
        memset(ref[j], 0, n * sizeof(double));
        for (int k = 0; k < 2; k++) {
            lq_conv *c = NULL;
            assert_int_equal(lq_conv_new(&c, h[j * 2 + k], nh, 1000, &d), LQ_OK);
            assert_int_equal(lq_conv_latency(c), lq_conv_latency(m));
            lq_conv_process(c, x[k], tmp, n);
            for (size_t i = 0; i < n; i++) ref[j][i] += tmp[i];
            lq_conv_destroy(&c);
        }
        double null = lqt_null_db(y[j], ref[j], n);
        print_message("2x2 matrix output %d vs sum of single convolvers: %.1f dB\n", j, null);
        assert_true(null < -280.0);
    }
    lq_conv_destroy(&m);
    /* Bank: one input, two outputs. */
    lq_conv *b = NULL;
    assert_int_equal(lq_conv_new_bank(&b, (const double *const *)h, 2, nh, 1000, &d), LQ_OK);
    lq_conv_process_bank(b, x[0], y, n);
    for (int j = 0; j < 2; j++) {
        lq_conv *c = NULL;
        assert_int_equal(lq_conv_new(&c, h[j], nh, 1000, &d), LQ_OK);
        lq_conv_process(c, x[0], tmp, n);
        assert_memory_equal(tmp, y[j], n * sizeof(double));
        lq_conv_destroy(&c);
    }
    lq_conv_destroy(&b);
    for (int i = 0; i < 4; i++) free(h[i]);
    for (int i = 0; i < 2; i++) {
        free(x[i]);
        free(y[i]);
        free(ref[i]);
    }
    free(tmp);
}

static void test_conv_silence(void **st)
{
    (void)st;
    const size_t nh = 4001, n = 60000;
    double *h = dalloc(nh), *x = dalloc(n), *y = dalloc(n);
    lq_diag d;
    assert_int_equal(lq_fir_design(h, nh, 44100.0, amp_smooth, NULL, &d), LQ_OK);
    lqs_white(x, 5000, 0.5, 5);  /* a burst, then silence */
    lq_conv *c = NULL;
    assert_int_equal(lq_conv_new(&c, h, nh, 4096, &d), LQ_OK);
    lq_conv_process(c, x, y, n);
    /* The filter's tail ends at `tail`; FFT rounding leaves values of the order of
     * 1e-16 x peak until the burst has left the whole FFT window (`end`), then the
     * output is exactly zero. */
    const size_t lat = lq_conv_latency(c);
    const size_t tail = 5000 + lat + nh, end = 5000 + lat + lq_conv_fft_size(c);
    assert_true(end < n);
    size_t subnormal = 0, nonzero_after = 0;
    double peak = lqt_sample_peak(y, n), resid = 0.0;
    for (size_t i = 0; i < n; i++) {
        assert_true(isfinite(y[i]));
        if (fpclassify(y[i]) == FP_SUBNORMAL) subnormal++;
        if (i >= tail && i < end) resid = fmax(resid, fabs(y[i]));
        if (i >= end && y[i] != 0.0) nonzero_after++;
    }
    print_message("burst then silence: %zu subnormal outputs, rounding residue after the "
                  "tail %.1f dB re peak, %zu non-zero once the window is clear\n", subnormal,
                  lqt_db(resid / peak), nonzero_after);
    assert_int_equal(subnormal, 0);
    assert_true(resid < 1e-13 * peak);
    assert_int_equal(nonzero_after, 0);
    lq_conv_destroy(&c);
    free(h);
    free(x);
    free(y);
}

/* Several threads create, run and destroy convolvers and designs at once (FFTW's
 * planner is serialised by dsp/fftw_lock); each must get the same output as alone. */
typedef struct thr_arg {
    const double *x, *h;
    size_t n, nh;
    double *y;
} thr_arg;

static void *thr_main(void *p)
{
    thr_arg *a = p;
    for (int rep = 0; rep < 5; rep++) {
        lq_conv *c = NULL;
        lq_diag d;
        double t[301];
        if (lq_fir_design(t, 301, 48000.0, amp_smooth, NULL, &d) != LQ_OK) return NULL;
        if (lq_conv_new(&c, a->h, a->nh, 256, &d) != LQ_OK) return NULL;
        lq_conv_process(c, a->x, a->y, a->n);
        lq_conv_destroy(&c);
    }
    return p;
}

static void test_conv_threads(void **st)
{
    (void)st;
    const size_t nh = 1025, n = 20000;
    double *h = dalloc(nh), *x = dalloc(n), *ref = dalloc(n);
    lqs_white(h, nh, 0.05, 7);
    lqs_white(x, n, 0.3, 8);
    thr_arg a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thr_arg){x, h, n, nh, dalloc(n)};
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &a[i]), 0);
    }
    lq_conv *c = NULL;
    lq_diag d;
    assert_int_equal(lq_conv_new(&c, h, nh, 256, &d), LQ_OK);
    lq_conv_process(c, x, ref, n);
    lq_conv_destroy(&c);
    for (int i = 0; i < 4; i++) {
        void *ret = NULL;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_non_null(ret);
        assert_memory_equal(a[i].y, ref, n * sizeof(double));
        free(a[i].y);
    }
    free(h);
    free(x);
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taps),
        cmocka_unit_test(test_flat_is_delta),
        cmocka_unit_test(test_symmetry_and_accuracy),
        cmocka_unit_test(test_refined),
        cmocka_unit_test(test_complement),
        cmocka_unit_test(test_design_errors),
        cmocka_unit_test(test_conv_matches_direct),
        cmocka_unit_test(test_conv_delta_null_and_blocks),
        cmocka_unit_test(test_conv_matrix_and_bank),
        cmocka_unit_test(test_conv_silence),
        cmocka_unit_test(test_conv_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
