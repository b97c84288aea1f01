/* The deterministic signal generators (src/synth): RNG reference values, noise RMS and
 * spectra, sine/sweep/square/transients, and the demo mix: determinism, block-size
 * independence of the streaming mixer, exact peak, exact repetition of the song's
 * cycle, dynamics between sections and stereo width.  Every figure is printed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lqtest.h"
#include "synth.h"

#define PI 3.14159265358979323846
#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond))                                                                     \
            fail_msg(__VA_ARGS__);                                                       \
    } while (0)

static const uint64_t SEED = 0xD15C0u;

static double *alloc_d(size_t n)
{
    double *x = calloc(n ? n : 1, sizeof *x);
    assert_non_null(x);
    return x;
}

static double peak2(const double *l, const double *r, size_t n)
{
    double a = lqt_sample_peak(l, n), b = lqt_sample_peak(r, n);
    return a > b ? a : b;
}

static void test_rng(void **state)
{
    (void)state;
    lqs_rng r;
    lqs_rng_seed(&r, 0);
    /* splitmix64 from state 0 gives 0xe220a8397b1dcdaf first (Vigna's reference) */
    CHECK(r.s[0] == 0xe220a8397b1dcdafULL, "splitmix64 seeding: s[0] = %#llx",
          (unsigned long long)r.s[0]);
    /* xoshiro256** first output from s = {1, 2, 3, 4}: rotl(2 * 5, 7) * 9 = 11520 */
    lqs_rng q = {{1, 2, 3, 4}};
    const uint64_t o = lqs_rng_next(&q);
    CHECK(o == 11520u, "xoshiro256** first output %llu, expected 11520", (unsigned long long)o);
    /* moments of uniform and gaussian */
    lqs_rng_seed(&r, SEED);
    const size_t n = 200000;
    double su = 0, sg = 0, sg2 = 0, sg4 = 0, umin = 1, umax = 0;
    for (size_t i = 0; i < n; i++) {
        const double u = lqs_rng_uniform(&r);
        su += u;
        umin = fmin(umin, u);
        umax = fmax(umax, u);
        const double g = lqs_rng_gauss(&r);
        sg += g;
        sg2 += g * g;
        sg4 += g * g * g * g;
    }
    const double mu = su / n, mg = sg / n, vg = sg2 / n, kg = sg4 / n / (vg * vg);
    printf("rng: uniform mean %.4f [%.6f, %.6f]; gauss mean %.4f var %.4f kurtosis %.3f\n", mu,
           umin, umax, mg, vg, kg);
    CHECK(fabs(mu - 0.5) < 0.003 && umin >= 0.0 && umax < 1.0, "uniform mean %.4f", mu);
    CHECK(fabs(mg) < 0.01 && fabs(vg - 1.0) < 0.01 && fabs(kg - 3.0) < 0.05,
          "gauss moments mean %.4f var %.4f kurtosis %.3f (seed %#llx)", mg, vg, kg,
          (unsigned long long)SEED);
    lqs_rng a, b;
    lqs_rng_seed(&a, 1);
    lqs_rng_seed(&b, 2);
    CHECK(lqs_rng_next(&a) != lqs_rng_next(&b), "seeds 1 and 2 give the same output");
}

/* Octave-band power densities of x (dB re full-scale sine per Hz), centre 125 Hz to
 * 16 kHz; returns the least-squares slope in dB/octave and the worst deviation of a band
 * from the fitted line. */
static double octave_slope(const double *x, size_t n, double rate, double *worst)
{
    double fx[8], fy[8];
    int m = 0;
    for (double fc = 125.0; fc <= 16000.0 * 1.01 && m < 8; fc *= 2.0, m++) {
        const double f0 = fc / sqrt(2.0), f1 = fc * sqrt(2.0);
        fx[m] = log2(fc);
        fy[m] = lqt_band_db(x, n, rate, f0, f1) - 10.0 * log10(f1 - f0);
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < m; i++) {
        sx += fx[i];
        sy += fy[i];
        sxx += fx[i] * fx[i];
        sxy += fx[i] * fy[i];
    }
    const double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
    const double icpt = (sy - slope * sx) / m;
    *worst = 0.0;
    for (int i = 0; i < m; i++)
        *worst = fmax(*worst, fabs(fy[i] - (icpt + slope * fx[i])));
    return slope;
}

static void test_noise(void **state)
{
    (void)state;
    const double rate = 48000.0;
    const size_t n = 1 << 19;
    double *w = alloc_d(n), *p = alloc_d(n), *w2 = alloc_d(n);
    lqs_white(w, n, 0.1, SEED);
    lqs_white(w2, n, 0.1, SEED);
    CHECK(memcmp(w, w2, n * sizeof *w) == 0, "white noise is not deterministic");
    const double wr = pow(10.0, lqt_rms_db(w, n) / 20.0);
    double worst_w;
    const double sw = octave_slope(w, n, rate, &worst_w);
    lqs_pink(p, n, 0.05, SEED);
    const double pr = pow(10.0, lqt_rms_db(p, n) / 20.0);
    double worst_p;
    const double sp = octave_slope(p, n, rate, &worst_p);
    printf("white: rms %.6f (want 0.1), slope %+.3f dB/oct (worst band %.3f dB)\n", wr, sw,
           worst_w);
    printf("pink:  rms %.6f (want 0.05), slope %+.3f dB/oct (worst band %.3f dB)\n", pr, sp,
           worst_p);
    CHECK(fabs(wr / 0.1 - 1.0) < 0.01, "white rms %.6f", wr);
    CHECK(fabs(pr / 0.05 - 1.0) < 0.01, "pink rms %.6f", pr);
    CHECK(fabs(sw) < 0.2 && worst_w < 0.5, "white slope %+.3f dB/oct, worst %.3f dB (seed %#llx)",
          sw, worst_w, (unsigned long long)SEED);
    CHECK(fabs(sp + 3.0) < 0.5 && worst_p < 0.5,
          "pink slope %+.3f dB/oct (want -3 +- 0.5), worst band %.3f dB (seed %#llx)", sp,
          worst_p, (unsigned long long)SEED);
    /* different seeds are uncorrelated */
    lqs_white(w2, n, 0.1, SEED + 1);
    const double c = lqt_correlation(w, w2, n);
    CHECK(fabs(c) < 0.01, "white noise with seeds s and s+1 correlate at %.4f", c);
    free(w);
    free(w2);
    free(p);
}

static void test_tones(void **state)
{
    (void)state;
    const double rate = 44100.0;
    const size_t n = 44100;
    double *x = alloc_d(n);
    lqs_sine(x, n, rate, 1000.0, 0.5, 0.0);
    const double l = lqt_sine_level_db(x, n, rate, 1000.0);
    const double thd = lqt_thdn_db(x, n, rate, 1000.0);
    printf("sine: level %.5f dB (want -6.0206), THD+N %.1f dB\n", l, thd);
    CHECK(fabs(l + 6.0206) < 0.005 && thd < -140.0, "sine level %.5f dB THD+N %.1f dB", l, thd);

    /* square: +-amp, 50 % duty, fundamental 4/pi * amp */
    lqs_square(x, n, rate, 441.0, 0.25);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(x[i] == 0.25 || x[i] == -0.25, "square sample %zu = %g", i, x[i]);
        pos += x[i] > 0;
    }
    const double sq1 = lqt_sine_level_db(x, n, rate, 441.0);
    printf("square: %zu of %zu positive, fundamental %.4f dB (want %.4f)\n", pos, n, sq1,
           lqt_db(0.25 * 4.0 / PI));
    CHECK(pos == n / 2, "square duty %zu/%zu", pos, n);
    CHECK(fabs(sq1 - lqt_db(0.25 * 4.0 / PI)) < 0.05, "square fundamental %.4f dB", sq1);

    /* log sweep 20 Hz..20 kHz: constant amplitude, and the number of cycles in each
     * tenth of the duration follows the exponential law: cycles between t1 and t2 are
     * f0 T / ln(f1/f0) (e^(t2 ln(f1/f0)/T) - e^(t1 ln(f1/f0)/T)) (zero crossings / 2) */
    lqs_sweep(x, n, rate, 20.0, 20000.0, 0.5);
    const double sp = lqt_sample_peak(x, n);
    printf("sweep: peak %.6f\n", sp);
    CHECK(sp <= 0.5 && sp > 0.4999, "sweep peak %.6f", sp);
    const double T = (double)n / rate, Lr = log(1000.0);
    for (int seg = 0; seg < 10; seg += 3) {
        const size_t a0 = n * (size_t)seg / 10, a1 = n * (size_t)(seg + 1) / 10;
        long zc = 0;
        for (size_t i = a0 + 1; i < a1; i++)
            zc += (x[i - 1] < 0.0) != (x[i] < 0.0);
        const double t1 = a0 / rate, t2 = a1 / rate;
        const double cyc = 20.0 * T / Lr * (exp(t2 * Lr / T) - exp(t1 * Lr / T));
        printf("sweep tenth %d: %ld zero crossings, expected %.1f\n", seg, zc, 2.0 * cyc);
        CHECK(fabs(zc - 2.0 * cyc) <= 2.0 + 0.001 * cyc, "sweep tenth %d: %ld crossings, want %.1f",
              seg, zc, 2.0 * cyc);
    }

    /* transients: exact peak, high crest factor, repeats every period */
    lqs_transients(x, n, rate, 0.25, 0.9, SEED);
    const double tp = lqt_sample_peak(x, n), crest = lqt_db(tp) - lqt_rms_db(x, n);
    printf("transients: peak %.15f, crest factor %.1f dB\n", tp, crest);
    CHECK(fabs(tp - 0.9) < 1e-12, "transients peak %.15f", tp);
    CHECK(crest > 10.0, "transients crest factor %.1f dB", crest);
    free(x);
}

static void test_mix_deterministic(void **state)
{
    (void)state;
    const double rate = 22050.0;
    const size_t n = (size_t)(30 * rate);
    double *l1 = alloc_d(n), *r1 = alloc_d(n), *l2 = alloc_d(n), *r2 = alloc_d(n);
    lqs_mix(l1, r1, n, rate, SEED, 0.98);
    lqs_mix(l2, r2, n, rate, SEED, 0.98);
    CHECK(memcmp(l1, l2, n * sizeof *l1) == 0 && memcmp(r1, r2, n * sizeof *r1) == 0,
          "two identical lqs_mix calls differ");
    const double pk = peak2(l1, r1, n);
    printf("mix 30 s at 22050: peak %.17g (requested 0.98)\n", pk);
    CHECK(fabs(pk - 0.98) < 1e-12 && pk <= 0.98, "mix peak %.17g, requested 0.98", pk);
    lqs_mix(l2, r2, n, rate, SEED + 1, 0.98);
    const double nd = lqt_null_db(l2, l1, n);
    printf("mix seed+1 vs seed: null %.1f dB\n", nd);
    CHECK(nd > -10.0, "a different seed gives nearly the same mix (null %.1f dB)", nd);

    /* streaming in blocks of 1, 7, 4096 and irregular sizes: identical samples */
    const size_t blocks[] = {1, 7, 4096, 0};
    for (size_t b = 0; b < 4; b++) {
        lqs_mixer *m = lqs_mixer_new(rate, SEED, 0.98, n);
        CHECK(m != NULL, "lqs_mixer_new failed");
        lqs_rng rr;
        lqs_rng_seed(&rr, SEED);
        for (size_t done = 0; done < n;) {
            size_t k = blocks[b] ? blocks[b] : 1 + (size_t)(lqs_rng_uniform(&rr) * 3000.0);
            if (k > n - done)
                k = n - done;
            lqs_mixer_render(m, l2 + done, r2 + done, k);
            done += k;
        }
        lqs_mixer_free(m);
        const int same = memcmp(l1, l2, n * sizeof *l1) == 0 && memcmp(r1, r2, n * sizeof *r1) == 0;
        printf("mixer in blocks of %zu: %s\n", blocks[b], same ? "identical" : "DIFFERENT");
        CHECK(same, "streaming mixer in blocks of %zu (0 = random, seed %#llx) differs", blocks[b],
              (unsigned long long)SEED);
    }
    free(l1);
    free(r1);
    free(l2);
    free(r2);
}

/* A mix longer than intro + 2 cycles: the gain is fixed from that span, and the song
 * repeats cycle 2 sample for sample, so the peak over the whole length is exact. */
static void test_mix_repeats(void **state)
{
    (void)state;
    const double rate = 8000.0;
    size_t il, cl;
    lqs_mix_layout(rate, &il, &cl);
    printf("layout at 8 kHz: intro %zu frames (%.2f s), cycle %zu frames (%.2f s)\n", il,
           il / rate, cl, cl / rate);
    CHECK(il == 128000 && cl == 512000, "layout %zu %zu", il, cl);
    const size_t n = il + 3 * cl + 1000;
    double *l = alloc_d(n), *r = alloc_d(n);
    lqs_mix(l, r, n, rate, SEED, 1.0);
    const double pk = peak2(l, r, n);
    const double *c2l = l + il + cl, *c3l = l + il + 2 * cl;
    const double *c2r = r + il + cl, *c3r = r + il + 2 * cl;
    const int rep = memcmp(c2l, c3l, cl * sizeof *l) == 0 && memcmp(c2r, c3r, cl * sizeof *r) == 0;
    const double pk2 = peak2(l, r, il + 2 * cl);
    printf("mix %.0f s: peak %.17g, peak of intro + 2 cycles %.17g, cycle 3 %s cycle 2\n",
           n / rate, pk, pk2, rep ? "==" : "!=");
    CHECK(rep, "cycle 3 differs from cycle 2 (seed %#llx)", (unsigned long long)SEED);
    CHECK(pk == pk2 && fabs(pk - 1.0) < 1e-12 && pk <= 1.0, "peak %.17g", pk);
    free(l);
    free(r);
}

/* Dynamics and width over intro + one cycle at 22.05 kHz: 3 s RMS windows (hop 1 s),
 * the section levels (breakdown quieter than the chorus), and L/R correlation. */
static void test_mix_character(void **state)
{
    (void)state;
    const double rate = 22050.0;
    size_t il, cl;
    lqs_mix_layout(rate, &il, &cl);
    const size_t n = il + cl;
    double *l = alloc_d(n), *r = alloc_d(n), *m = alloc_d(n);
    lqs_mix(l, r, n, rate, SEED, 0.98);
    for (size_t i = 0; i < n; i++)
        m[i] = 0.5 * (l[i] + r[i]);
    const size_t win = (size_t)(3 * rate), hop = (size_t)rate;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t s = 0; s + win <= n; s += hop) {
        const double v = lqt_rms_db(m + s, win);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    /* sections (bars of 2 s): verse = cycle bars 0-7, chorus 8-15, breakdown 16-21 */
    const size_t bar = (size_t)(2 * rate);
    const double verse = lqt_rms_db(m + il, 8 * bar);
    const double chorus = lqt_rms_db(m + il + 8 * bar, 8 * bar);
    const double brk = lqt_rms_db(m + il + 16 * bar, 6 * bar);
    const double intro = lqt_rms_db(m, 4 * bar);
    const double corr = lqt_correlation(l, r, n);
    const double crest = lqt_db(peak2(l, r, n)) - lqt_rms_db(m, n);
    printf("mix dynamics: 3 s RMS from %.1f to %.1f dB (range %.1f dB)\n", lo, hi, hi - lo);
    printf("sections RMS: intro(first 4 bars) %.1f, verse %.1f, chorus %.1f, breakdown %.1f dB\n",
           intro, verse, chorus, brk);
    printf("stereo correlation %.3f, crest factor %.1f dB\n", corr, crest);
    CHECK(hi - lo > 6.0, "short-term RMS range %.1f dB (want > 6)", hi - lo);
    CHECK(chorus > verse + 1.0 && verse > brk + 3.0 && chorus > brk + 6.0,
          "section levels verse %.1f chorus %.1f breakdown %.1f", verse, chorus, brk);
    CHECK(corr > 0.3 && corr < 0.95, "stereo correlation %.3f (want 0.3..0.95)", corr);
    CHECK(crest > 10.0 && crest < 25.0, "crest factor %.1f dB", crest);
    /* musical content: the bass carries the low end, the hats the top */
    const double low = lqt_band_db(m + il + 8 * bar, 8 * bar, rate, 30.0, 120.0);
    const double mid = lqt_band_db(m + il + 8 * bar, 8 * bar, rate, 300.0, 3000.0);
    const double top = lqt_band_db(m + il + 8 * bar, 8 * bar, rate, 5000.0, 10000.0);
    printf("chorus spectrum: 30-120 Hz %.1f dB, 300-3k %.1f dB, 5-10k %.1f dB\n", low, mid, top);
    CHECK(low > mid - 6.0 && top < mid && top > mid - 30.0, "spectral balance %.1f %.1f %.1f",
          low, mid, top);
    free(l);
    free(r);
    free(m);
}

static void test_mix_rates(void **state)
{
    (void)state;
    /* odd rates and short lengths still give the exact peak; bad rates give NULL */
    const double rates[] = {8000.0, 44100.0, 48000.0, 96000.0, 192000.0};
    const size_t lens[] = {1000, 50000, 20000, 30000, 10000};
    for (int k = 0; k < 5; k++) {
        const size_t n = lens[k];
        double *l = alloc_d(n), *r = alloc_d(n);
        lqs_mix(l, r, n, rates[k], SEED, 0.5);
        const double pk = peak2(l, r, n);
        printf("mix at %.0f Hz, %zu frames: peak %.17g\n", rates[k], n, pk);
        CHECK(fabs(pk - 0.5) < 1e-12 && pk <= 0.5, "peak %.17g at %.0f Hz", pk, rates[k]);
        free(l);
        free(r);
    }
    CHECK(lqs_mixer_new(10.0, SEED, 1.0, 100) == NULL, "rate 10 Hz accepted");
    CHECK(lqs_mixer_new(NAN, SEED, 1.0, 100) == NULL, "rate NaN accepted");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_noise),
        cmocka_unit_test(test_tones),
        cmocka_unit_test(test_mix_deterministic),
        cmocka_unit_test(test_mix_repeats),
        cmocka_unit_test(test_mix_character),
        cmocka_unit_test(test_mix_rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
