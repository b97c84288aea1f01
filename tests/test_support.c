/* Tests of the test-support library itself: the instruments the other tests trust
 * (true-peak meter, RMS, sine level, THD+N, band levels, cross-correlation lag, WAV
 * round trips, file helpers, process runner).  Every figure is printed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sndfile.h>
#include <sys/stat.h>

#include "lqtest.h"
#include "synth.h"

#define PI 3.14159265358979323846
#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond))                                                                     \
            fail_msg(__VA_ARGS__);                                                       \
    } while (0)

static const uint64_t SEED = 0x7E57C0DEu;

static double *alloc_d(size_t n)
{
    double *x = calloc(n ? n : 1, sizeof *x);
    assert_non_null(x);
    return x;
}

/* Raised-cosine fade-in and fade-out over m samples: a sine that starts abruptly rings
 * on reconstruction (a true inter-sample overshoot at the edges, up to +0.5 dB), which
 * is not what the steady-state tests measure. */
static void fade_edges(double *x, size_t n, size_t m)
{
    for (size_t i = 0; i < m && i < n / 2; i++) {
        const double w = 0.5 - 0.5 * cos(PI * (double)i / (double)m);
        x[i] *= w;
        x[n - 1 - i] *= w;
    }
}

/* A sine at fs/4 with 45 degrees phase: samples are +-0.7071, the waveform peaks at 1.0
 * exactly half-way between samples (the BS.1770 Annex 2 worst case). */
static void test_true_peak_fs4(void **state)
{
    (void)state;
    const size_t n = 48000;
    double *x = alloc_d(n);
    lqs_sine(x, n, 48000.0, 12000.0, 1.0, PI / 4.0);
    /* abrupt edges: the reconstruction overshoots (a real inter-sample peak) */
    const double edge = lqt_true_peak_16x(x, n);
    fade_edges(x, n, 2000);
    const double sp = lqt_sample_peak(x, n), tp = lqt_true_peak_16x(x, n);
    printf("fs/4 45deg: sample peak %.6f (%.3f dB), true peak %.8f (%+.5f dB)\n", sp,
           lqt_db(sp), tp, lqt_db(tp));
    CHECK(fabs(sp - sqrt(0.5)) < 1e-9, "sample peak %.9f, expected 0.7071068", sp);
    printf("same sine with abrupt edges: true peak %+.4f dB (edge ringing)\n", lqt_db(edge));
    CHECK(fabs(lqt_db(tp)) < 0.005, "true peak %+.5f dB, expected 0 +- 0.005 dB", lqt_db(tp));
    CHECK(lqt_db(edge) > 0.02, "abrupt-edge sine reads %+.4f dB: edge ringing not seen",
          lqt_db(edge));
    /* a 16x meter must also see 1.0 at -6 dB input level scaled: linear in amplitude */
    for (size_t i = 0; i < n; i++)
        x[i] *= 0.5;
    const double tp2 = lqt_true_peak_16x(x, n);
    CHECK(fabs(tp2 - 0.5 * tp) < 1e-12, "meter is not linear: %.12f vs %.12f", tp2, 0.5 * tp);
    free(x);
}

/* Tones at several frequencies and random phases, amplitude 1: the meter reads 1.0 up to
 * its 16x grid error, which is at most 1 - cos(pi f / (16 fs)) (the peak is at most 1/32
 * of a sample from a grid point). */
static void test_true_peak_tones(void **state)
{
    (void)state;
    const double rate = 44100.0;
    const size_t n = 8192;
    double *x = alloc_d(n);
    lqs_rng r;
    lqs_rng_seed(&r, SEED);
    const double fr[] = {0.013, 0.05, 0.11, 0.2, 0.25, 0.31, 0.37, 0.4};
    for (size_t k = 0; k < sizeof fr / sizeof fr[0]; k++) {
        const double f = fr[k] * rate, ph = 2.0 * PI * lqs_rng_uniform(&r);
        lqs_sine(x, n, rate, f, 1.0, ph);
        fade_edges(x, n, 1500);
        const double tp = lqt_db(lqt_true_peak_16x(x, n));
        const double grid = lqt_db(cos(PI * fr[k] / 16.0));
        printf("tone %.3f fs phase %.3f: sample %+.4f dB, true %+.5f dB (grid bound %.5f)\n",
               fr[k], ph, lqt_db(lqt_sample_peak(x, n)), tp, grid);
        CHECK(tp <= 0.005 && tp >= grid - 0.005,
              "tone %.3f fs (seed %#llx): true peak %+.5f dB outside [%.5f, 0.005]", fr[k],
              (unsigned long long)SEED, tp, grid - 0.005);
    }
    free(x);
}

/* Square wave: the true peak of a naive square overshoots (Gibbs); the meter must read
 * above the sample peak, and silence reads 0. */
static void test_true_peak_misc(void **state)
{
    (void)state;
    double z[100] = {0};
    CHECK(lqt_true_peak_16x(z, 100) == 0.0, "silence has a true peak");
    const size_t n = 4800;
    double *x = alloc_d(n);
    lqs_square(x, n, 48000.0, 1000.0, 0.5);
    const double tp = lqt_true_peak_16x(x, n);
    printf("square 1 kHz 0.5: true peak %.4f (%+.3f dB over sample peak)\n", tp,
           lqt_db(tp / 0.5));
    CHECK(tp > 0.5 * 1.05 && tp < 0.5 * 1.3, "square true peak %.4f", tp);
    free(x);
}

static void test_rms(void **state)
{
    (void)state;
    const size_t n = 48000;
    double *x = alloc_d(n);
    lqs_sine(x, n, 48000.0, 1000.0, 1.0, 0.3);
    const double s = lqt_rms_db(x, n);
    lqs_square(x, n, 48000.0, 100.0, 0.5);
    const double q = lqt_rms_db(x, n);
    printf("rms: full-scale sine %.5f dB (expect -3.0103), square 0.5 %.5f dB (-6.0206)\n",
           s, q);
    CHECK(fabs(s + 3.0103) < 1e-3, "sine rms %.5f dB", s);
    CHECK(fabs(q + 6.0206) < 1e-3, "square rms %.5f dB", q);
    double z[10] = {0};
    CHECK(isinf(lqt_rms_db(z, 10)) && lqt_rms_db(z, 10) < 0, "silence rms not -inf");
    /* null: b vs b*(1+1e-3) is -60 dB */
    double *y = alloc_d(n);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * 1.001;
    const double nd = lqt_null_db(y, x, n);
    printf("null of a 0.1%% gain error: %.4f dB (expect -60)\n", nd);
    CHECK(fabs(nd + 60.0) < 1e-6, "null %.6f dB", nd);
    CHECK(isinf(lqt_null_db(x, x, n)), "self-null not -inf");
    free(x);
    free(y);
}

static void test_sine_level(void **state)
{
    (void)state;
    const double rate = 48000.0;
    const size_t n = 32768;
    double *x = alloc_d(n), *w = alloc_d(n);
    lqs_white(w, n, 1e-4, SEED); /* -80 dB noise */
    const double fs[] = {97.0, 997.0, 1234.5, 5000.3, 15011.0};
    const double amps_db[] = {0.0, -6.0, -20.0, -60.0};
    for (size_t a = 0; a < 4; a++)
        for (size_t k = 0; k < 5; k++) {
            lqs_sine(x, n, rate, fs[k], pow(10.0, amps_db[a] / 20.0), 0.7);
            for (size_t i = 0; i < n; i++)
                x[i] += w[i] * (a == 3 ? 0.01 : 1.0);
            const double l = lqt_sine_level_db(x, n, rate, fs[k]);
            printf("sine %.1f Hz at %.1f dB: measured %.5f dB\n", fs[k], amps_db[a], l);
            CHECK(fabs(l - amps_db[a]) < 0.01, "sine %.1f Hz %.1f dB measured %.5f dB",
                  fs[k], amps_db[a], l);
        }
    free(x);
    free(w);
}

static void test_thdn_and_bands(void **state)
{
    (void)state;
    const double rate = 48000.0;
    const size_t n = 65536;
    double *x = alloc_d(n), *h = alloc_d(n);
    lqs_sine(x, n, rate, 1000.0, 0.5, 0.1);
    const double floor_db = lqt_thdn_db(x, n, rate, 1000.0);
    /* add a 3rd harmonic at -60 dB re the fundamental, and separately -40 dB noise */
    lqs_sine(h, n, rate, 3000.0, 0.5e-3, 0.0);
    for (size_t i = 0; i < n; i++)
        h[i] += x[i];
    const double h3 = lqt_thdn_db(h, n, rate, 1000.0);
    lqs_white(h, n, 0.5 * sqrt(0.5) * 0.01, SEED); /* noise rms 40 dB under the sine rms */
    for (size_t i = 0; i < n; i++)
        h[i] += x[i];
    const double nz = lqt_thdn_db(h, n, rate, 1000.0);
    printf("THD+N: pure sine %.1f dB, H3 at -60 dB -> %.3f dB, noise at -40 dB -> %.3f dB\n",
           floor_db, h3, nz);
    CHECK(floor_db < -150.0, "THD+N floor %.1f dB", floor_db);
    CHECK(fabs(h3 + 60.0) < 0.05, "H3 THD+N %.3f dB (expect -60)", h3);
    CHECK(fabs(nz + 40.0) < 0.2, "noise THD+N %.3f dB (expect -40, minus the notched bins)",
          nz);

    /* band level: a full-scale 1 kHz sine is 0 dB in [900, 1100), nothing in [2k, 4k) */
    lqs_sine(x, n, rate, 1000.0, 1.0, 0.0);
    const double b1 = lqt_band_db(x, n, rate, 900.0, 1100.0);
    const double b2 = lqt_band_db(x, n, rate, 2000.0, 4000.0);
    printf("band: sine in band %.4f dB, out of band %.1f dB\n", b1, b2);
    CHECK(fabs(b1) < 0.01, "band level %.4f dB", b1);
    CHECK(b2 < -150.0, "out-of-band level %.1f dB", b2);
    free(x);
    free(h);
}

static void test_xcorr(void **state)
{
    (void)state;
    const size_t n = 20000;
    double *b = alloc_d(n + 500), *a = alloc_d(n), *c = alloc_d(n);
    lqs_white(b, n + 500, 0.1, SEED);
    const long lags[] = {0, 1, 37, 123, -5, -211};
    for (size_t k = 0; k < 6; k++) {
        /* a[i] = b[i - L] (a is b delayed by L), built from the longer buffer */
        for (size_t i = 0; i < n; i++)
            a[i] = b[250 + i - lags[k]];
        for (size_t i = 0; i < n; i++)
            c[i] = b[250 + i];
        const long got = lqt_xcorr_lag(a, c, n, 300);
        printf("xcorr: true lag %ld, measured %ld\n", lags[k], got);
        CHECK(got == lags[k], "xcorr lag %ld, expected %ld (seed %#llx)", got, lags[k],
              (unsigned long long)SEED);
    }
    const double co = lqt_correlation(a, a, n), cu = lqt_correlation(a, c, n);
    printf("correlation: self %.6f, shifted noise %.4f\n", co, cu);
    CHECK(fabs(co - 1.0) < 1e-12, "self correlation %.12f", co);
    CHECK(fabs(cu) < 0.05, "correlation of shifted noise %.4f", cu);
    free(a);
    free(b);
    free(c);
}

static void test_wav_roundtrip(void **state)
{
    (void)state;
    char *dir = lqt_tmpdir();
    const size_t n = 10000;
    double *l = alloc_d(n), *r = alloc_d(n);
    lqs_white(l, n, 0.3, SEED);
    lqs_sine(r, n, 44100.0, 440.0, 1.2, 0.0); /* clips on PCM */
    const double *pl[2] = {l, r};
    const int sub[] = {SF_FORMAT_PCM_16, SF_FORMAT_PCM_24, SF_FORMAT_PCM_32, SF_FORMAT_FLOAT,
                       SF_FORMAT_DOUBLE};
    const int bits[] = {16, 24, 32, 0, 0};
    const char *names[] = {"a.wav", "b.wav", "c.wav", "d.wav", "e.wav"};
    for (int k = 0; k < 5; k++) {
        char *p = lqt_join(dir, names[k]);
        CHECK(lqt_write_wav(p, pl, 2, n, 44100, sub[k]) == 0, "write %s", p);
        int ch = 0, rate = 0;
        size_t fr = 0;
        double *y = lqt_read_planar(p, &ch, &fr, &rate);
        CHECK(y && ch == 2 && fr == n && rate == 44100, "read back %s", p);
        double maxerr = 0.0;
        for (int c = 0; c < 2; c++)
            for (size_t i = 0; i < n; i++) {
                double want = pl[c][i];
                if (bits[k]) {
                    const double s = ldexp(1.0, bits[k] - 1);
                    want = nearbyint(want * s);
                    want = fmin(fmax(want, -s), s - 1.0) / s;
                } else if (sub[k] == SF_FORMAT_FLOAT) {
                    want = (double)(float)want;
                }
                const double e = fabs(y[(size_t)c * n + i] - want);
                if (e > maxerr)
                    maxerr = e;
            }
        printf("wav %s subtype %#x: max deviation from the expected grid %.3g\n", names[k],
               sub[k], maxerr);
        CHECK(maxerr == 0.0, "%s: read-back differs from the quantised values by %g", p,
              maxerr);
        free(y);
        free(p);
    }
    /* flac by extension */
    char *pf = lqt_join(dir, "f.flac");
    CHECK(lqt_write_wav(pf, pl, 2, n, 48000, SF_FORMAT_PCM_24) == 0, "write flac");
    int ch = 0;
    size_t fr = 0;
    double *y = lqt_read_planar(pf, &ch, &fr, NULL);
    CHECK(y && fr == n && ch == 2, "flac read back");
    free(y);
    free(pf);
    CHECK(lqt_read_planar("/nonexistent/x.wav", NULL, NULL, NULL) == NULL,
          "reading a missing file succeeded");
    CHECK(lqt_dir_count(dir) == 6, "dir count %d, expected 6", lqt_dir_count(dir));
    lqt_rmrf(dir);
    CHECK(!lqt_exists(dir), "rmrf left %s", dir);
    free(dir);
    free(l);
    free(r);
}

static void test_files(void **state)
{
    (void)state;
    char *dir = lqt_tmpdir();
    CHECK(lqt_dir_count(dir) == 0, "fresh tmpdir not empty");
    char *a = lqt_join(dir, "a"), *b = lqt_join(dir, "b"), *c = lqt_join(dir, "c");
    char *sub = lqt_join(dir, "sub");
    FILE *f = fopen(a, "wb");
    fputs("hello", f);
    fclose(f);
    f = fopen(b, "wb");
    fputs("hello", f);
    fclose(f);
    f = fopen(c, "wb");
    fputs("hellp", f);
    fclose(f);
    CHECK(lqt_files_equal(a, b) && !lqt_files_equal(a, c), "files_equal");
    CHECK(!lqt_files_equal(a, "/nonexistent"), "files_equal with a missing file");
    /* FNV-1a 64 of "hello" is 0xa430d84680aabd0b */
    CHECK(lqt_file_hash(a) == 0xa430d84680aabd0bULL, "fnv1a(hello) = %#llx",
          (unsigned long long)lqt_file_hash(a));
    CHECK(lqt_file_hash(a) == lqt_file_hash(b) && lqt_file_hash(a) != lqt_file_hash(c),
          "hash");
    CHECK(mkdir(sub, 0755) == 0, "mkdir %s", sub);
    char *inner = lqt_join(sub, "x");
    f = fopen(inner, "wb");
    CHECK(f != NULL, "create %s", inner);
    fclose(f);
    free(inner);
    CHECK(lqt_dir_count(dir) == 4, "dir count %d, expected 4", lqt_dir_count(dir));
    lqt_rmrf(dir);
    CHECK(!lqt_exists(dir) && lqt_dir_count(dir) == -1, "rmrf");
    free(a);
    free(b);
    free(c);
    free(sub);
    free(dir);
}

static void test_run(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    const char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    int rc = lqt_run(argv, &out, &err);
    printf("run: rc %d, out '%s', err '%s'\n", rc, out ? out : "(null)", err ? err : "(null)");
    CHECK(rc == 3, "exit status %d", rc);
    CHECK(out && strcmp(out, "out\n") == 0, "stdout '%s'", out ? out : "(null)");
    CHECK(err && strcmp(err, "err\n") == 0, "stderr '%s'", err ? err : "(null)");
    free(out);
    free(err);
    /* large output on both pipes must not deadlock */
    const char *big[] = {"/bin/sh", "-c",
                         "i=0; while [ $i -lt 3000 ]; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
                         "echo yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy >&2; i=$((i+1)); done",
                         NULL};
    rc = lqt_run(big, &out, &err);
    CHECK(rc == 0 && out && err && strlen(out) == 3000 * 34 && strlen(err) == 3000 * 38,
          "big output: rc %d, %zu / %zu bytes", rc, out ? strlen(out) : 0,
          err ? strlen(err) : 0);
    free(out);
    free(err);
    const char *killed[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
    rc = lqt_run(killed, NULL, NULL);
    CHECK(rc == 128 + 9, "killed child: rc %d", rc);
    const char *missing[] = {"/nonexistent/prog", NULL};
    rc = lqt_run(missing, NULL, NULL);
    CHECK(rc == -1 || rc == 127, "missing program: rc %d", rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_true_peak_fs4),  cmocka_unit_test(test_true_peak_tones),
        cmocka_unit_test(test_true_peak_misc), cmocka_unit_test(test_rms),
        cmocka_unit_test(test_sine_level),     cmocka_unit_test(test_thdn_and_bands),
        cmocka_unit_test(test_xcorr),          cmocka_unit_test(test_wav_roundtrip),
        cmocka_unit_test(test_files),          cmocka_unit_test(test_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
