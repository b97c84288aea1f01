/* The closed loop's loudness meter (engine/meter.h lq_meter_new_quick: dsp/kmeter.c
 * keeping every block, gated exactly) against libebur128, which measures every figure a
 * target is judged by: the same integrated loudness to 1e-6 LU on generated mixes of
 * each style, noise, transients and a song with a quiet half (where the relative gate
 * decides), mono and stereo, at 44.1, 48 and 96 kHz; -inf for silence and for less
 * than one 400 ms block, as libebur128.  (The figure of the histogram alone, 0.05 LU
 * bins gated by their centres, is printed beside it.) */
#include <ebur128.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dsp/kmeter.h"
#include "engine/meter.h"
#include "synth.h"

#define BLK 4096

static double ref_lufs(const double *const *x, int nc, size_t n, double rate)
{
    ebur128_state *st = ebur128_init((unsigned)nc, (unsigned long)rate, EBUR128_MODE_I);
    assert_non_null(st);
    if (nc == 1) ebur128_set_channel(st, 0, EBUR128_CENTER);
    double *il = malloc(BLK * 2 * sizeof *il);
    assert_non_null(il);
    for (size_t o = 0; o < n; o += BLK) {
        size_t k = n - o < BLK ? n - o : BLK;
        for (size_t i = 0; i < k; i++)
            for (int c = 0; c < nc; c++) il[i * (size_t)nc + (size_t)c] = x[c][o + i];
        ebur128_add_frames_double(st, il, k);
    }
    double v = -HUGE_VAL;
    if (ebur128_loudness_global(st, &v) != EBUR128_SUCCESS || !isfinite(v)) v = -HUGE_VAL;
    ebur128_destroy(&st);
    free(il);
    return v;
}

/* the quick meter (through engine/meter.c, as the closed loop uses it), blocks of odd
 * sizes; and the histogram-only K-meter */
static double quick_lufs(const double *const *x, int nc, size_t n, double rate,
                         long long room, double *binned)
{
    lq_meter *m = NULL;
    lq_diag d = {0};
    assert_int_equal(lq_meter_new_quick(&m, nc, rate, room, &d), LQ_OK);
    lq_kmeter *km = NULL;
    assert_int_equal(lq_kmeter_new(&km, nc, rate), LQ_OK);
    size_t o = 0, step = 1000;
    while (o < n) {
        size_t k = n - o < step ? n - o : step;
        const double *p[2] = {x[0] + o, x[nc > 1 ? 1 : 0] + o};
        lq_meter_push(m, p, k);
        lq_kmeter_push(km, p, k);
        o += k;
        step = step * 7 % 5003 + 1;
    }
    lq_meter_result r;
    lq_meter_result_get(m, &r);
    lq_meter_destroy(&m);
    *binned = lq_kmeter_integrated(km);
    lq_kmeter_destroy(&km);
    return r.integrated_lufs;
}

static void check(const char *what, const double *const *x, int nc, size_t n, double rate,
                  double *worst_binned)
{
    const double ref = ref_lufs(x, nc, n, rate);
    double binned;
    const double q = quick_lufs(x, nc, n, rate, (long long)n, &binned);
    printf("  %-34s %6.0f Hz %d ch: libebur128 %.9f, quick %.9f (%+.1e), histogram only "
           "%+.4f LU\n", what, rate, nc, ref, q, q - ref, binned - ref);
    if (isinf(ref)) {
        assert_true(isinf(q) && q < 0);
        return;
    }
    if (!(fabs(q - ref) < 1e-6))
        fail_msg("%s at %.0f Hz: %.9f against libebur128's %.9f", what, rate, q, ref);
    if (fabs(binned - ref) > *worst_binned) *worst_binned = fabs(binned - ref);
}

static void test_quick_meter_is_libebur128(void **st)
{
    (void)st;
    static const double rates[] = {44100.0, 48000.0, 96000.0};
    double worst_binned = 0.0;
    for (int ri = 0; ri < 3; ri++) {
        const double rate = rates[ri];
        const size_t n = (size_t)(30.0 * rate);
        double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
        assert_true(l && r);
        const double *x[2] = {l, r};
        for (int style = 0; style < 4; style++) {
            lqs_mix_style(l, r, n, rate, 11 + (uint64_t)style, style);
            char what[64];
            snprintf(what, sizeof what, "mix, style %d", style);
            check(what, x, 2, n, rate, &worst_binned);
        }
        check("mix, style 0, mono", x, 1, n, rate, &worst_binned);
        lqs_pink(l, n, 0.1, 5);
        lqs_white(r, n, 0.05, 6);
        check("pink / white noise", x, 2, n, rate, &worst_binned);
        lqs_transients(l, n, rate, 0.25, 0.9, 7);
        lqs_transients(r, n, rate, 0.31, 0.5, 8);
        check("transients", x, 2, n, rate, &worst_binned);
        /* a song with a quiet half: its blocks straddle the relative gate */
        lqs_mix_style(l, r, n, rate, 3, 2);
        for (size_t i = 0; i < n / 2; i++) {
            const double g = pow(10.0, (-6.0 - 12.0 * (double)i / (double)n) / 20.0);
            l[i] *= g;
            r[i] *= g;
        }
        check("mix with a fading quiet half", x, 2, n, rate, &worst_binned);
        for (size_t i = 0; i < n; i++) l[i] = r[i] = 0.0;
        check("digital silence", x, 2, n, rate, &worst_binned);
        lqs_white(l, n, 0.1, 9);
        lqs_white(r, n, 0.1, 10);
        check("0.3 s of noise (no whole block)", x, 2, (size_t)(0.3 * rate), rate,
              &worst_binned);
        free(l);
        free(r);
    }
    printf("  the histogram alone misses by up to %.4f LU\n", worst_binned);
}

/* Room for fewer frames than come: the blocks beyond it go to the histogram, and the
 * figure stays within the histogram's error. */
static void test_quick_meter_overflow(void **st)
{
    (void)st;
    const double rate = 48000.0;
    const size_t n = (size_t)(20.0 * rate);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    assert_true(l && r);
    lqs_mix_style(l, r, n, rate, 21, 1);
    const double *x[2] = {l, r};
    const double ref = ref_lufs(x, 2, n, rate);
    double binned;
    const double q = quick_lufs(x, 2, n, rate, (long long)(n / 3), &binned);
    printf("  room for a third: %.6f against libebur128 %.6f\n", q, ref);
    assert_true(fabs(q - ref) < 0.05);
    free(l);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_meter_is_libebur128),
        cmocka_unit_test(test_quick_meter_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
