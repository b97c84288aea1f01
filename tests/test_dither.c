/* The dither stage: error power vs theory, spurs with and without dither, noise-shaping
 * curves and weighted-noise gains vs design, auto-blanking, clip counting and ceiling,
 * output grid, block-size independence, reproducible and decorrelated seeds, config
 * parsing.  Every measured figure is printed. */
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

#include "config/node.h"
#include "stage.h"
#include "stages/dither.h"
#include "synth.h"

#define PI 3.14159265358979323846

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond)) fail_msg(__VA_ARGS__);                                              \
    } while (0)

static const uint64_t SEED = 0x5EED0D17u;

static void *make(const lq_dither_config *c, double rate, int bits, int channels,
                  uint64_t seed)
{
    lq_stage_env env = {.sample_rate = rate, .channels = channels, .max_block = 4096,
                        .seed = seed, .out_bits = bits};
    void *st = NULL;
    lq_diag d = {{0}};
    lq_error e = lq_stage_dither.create(&st, c, &env, &d);
    CHECK(e == LQ_OK && st, "create failed: %s", d.msg);
    return st;
}

static lq_dither_config cfg_of(int type, int shaping, int blank)
{
    lq_dither_config c;
    memset(&c, 0, sizeof c);
    lq_stage_dither.config_default(&c);
    c.type = type;
    c.shaping = shaping;
    c.auto_blank = blank;
    return c;
}

/* Process ch[0..channels) of n frames in blocks of `block` (0: random sizes), with the
 * pipeline's latency compensation: L frames of silence are fed after the signal and the
 * first L output frames are dropped, so ch[i] lines up with the input. */
static void run(void *st, double **ch, size_t n, size_t block, uint64_t seed)
{
    const size_t lat = lq_stage_dither.latency(st), m = n + lat;
    double *pad[2] = {NULL, NULL};
    for (int c = 0; c < 2 && ch[c]; c++) {
        pad[c] = calloc(m, sizeof(double));
        assert_non_null(pad[c]);
        memcpy(pad[c], ch[c], n * sizeof(double));
    }
    lqs_rng r;
    lqs_rng_seed(&r, seed);
    size_t i = 0;
    while (i < m) {
        size_t b = block ? block : 1 + (size_t)(lqs_rng_next(&r) % 4096);
        if (b > m - i) b = m - i;
        double *p[2] = {pad[0] + i, pad[1] ? pad[1] + i : NULL};
        lq_stage_dither.process(st, p, b);
        i += b;
    }
    for (int c = 0; c < 2 && ch[c]; c++) {
        memcpy(ch[c], pad[c] + lat, n * sizeof(double));
        free(pad[c]);
    }
}

static double *dup(const double *x, size_t n)
{
    double *y = malloc(n * sizeof *y);
    assert_non_null(y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

static double db10(double x)
{
    return 10.0 * log10(x);
}

/* Error (y - x) in LSB units. */
static double *error_lsb(const double *y, const double *x, size_t n, int bits)
{
    double s = ldexp(1.0, bits - 1), *e = malloc(n * sizeof *e);
    assert_non_null(e);
    for (size_t i = 0; i < n; i++) e[i] = (y[i] - x[i]) * s;
    return e;
}

static double mean_square(const double *x, size_t n)
{
    double a = 0.0;
    for (size_t i = 0; i < n; i++) a += x[i] * x[i];
    return a / (double)n;
}

static double correlation(const double *a, const double *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

/* Averaged periodogram (Welch), window w of length nfft, hop `hop`; psd[k] for
 * k = 0..nfft/2, scaled so that white noise of variance v gives psd ~ v. */
typedef enum { WIN_HANN, WIN_BH4 } win_kind;
static void welch(const double *x, size_t n, size_t nfft, size_t hop, win_kind wk,
                  double *psd)
{
    double *in = fftw_malloc(nfft * sizeof *in), *w = malloc(nfft * sizeof *w);
    fftw_complex *out = fftw_malloc((nfft / 2 + 1) * sizeof *out);
    assert_true(in && w && out);
    fftw_plan p = fftw_plan_dft_r2c_1d((int)nfft, in, out, FFTW_ESTIMATE);
    double w2 = 0.0;
    for (size_t i = 0; i < nfft; i++) {
        double t = 2.0 * PI * (double)i / (double)nfft;
        /* Blackman-Harris 4-term (Harris, Proc. IEEE 66(1), 1978): -92 dB sidelobes */
        w[i] = wk == WIN_HANN ? 0.5 - 0.5 * cos(t)
                              : 0.35875 - 0.48829 * cos(t) + 0.14128 * cos(2 * t) -
                                    0.01168 * cos(3 * t);
        w2 += w[i] * w[i];
    }
    for (size_t k = 0; k <= nfft / 2; k++) psd[k] = 0.0;
    size_t segs = 0;
    for (size_t off = 0; off + nfft <= n; off += hop, segs++) {
        for (size_t i = 0; i < nfft; i++) in[i] = x[off + i] * w[i];
        fftw_execute(p);
        for (size_t k = 0; k <= nfft / 2; k++)
            psd[k] += out[k][0] * out[k][0] + out[k][1] * out[k][1];
    }
    for (size_t k = 0; k <= nfft / 2; k++) psd[k] /= (double)segs * w2;
    fftw_destroy_plan(p);
    fftw_free(in);
    fftw_free(out);
    free(w);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---------------------------------------------------------------------------------- */

static void test_registered_and_parse(void **unused)
{
    (void)unused;
    assert_ptr_equal(lq_stage_find("dither"), &lq_stage_dither);
    lq_dither_config c;
    memset(&c, 0, sizeof c);
    lq_stage_dither.config_default(&c);
    assert_int_equal(c.type, LQ_DITHER_TPDF);
    assert_int_equal(c.shaping, LQ_SHAPE_NONE);
    assert_int_equal(c.auto_blank, 1);

    lq_node *root = NULL;
    lq_diag d = {{0}};
    assert_int_equal(lq_node_parse_string(&root,
                                          "type: rpdf\nshaping: wannamaker-9\n"
                                          "auto_blank: false\n",
                                          "t.yaml", &d),
                     LQ_OK);
    assert_int_equal(lq_stage_dither.config_parse(&c, root, &d), LQ_OK);
    assert_int_equal(c.type, LQ_DITHER_RPDF);
    assert_int_equal(c.shaping, LQ_SHAPE_WANNAMAKER9);
    assert_int_equal(c.auto_blank, 0);
    lq_node_free(root);

    static const char *const bad[] = {"shaping: shibata\n", "type: gauss\n",
                                      "auto_blank: 3\n", "amount: 1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        root = NULL;
        assert_int_equal(lq_node_parse_string(&root, bad[i], "t.yaml", &d), LQ_OK);
        lq_error e = lq_stage_dither.config_parse(&c, root, &d);
        printf("  bad config %-20s -> %s\n", bad[i], d.msg);
        CHECK(e == LQ_ERR_PRESET, "accepted bad config '%s'", bad[i]);
        lq_node_free(root);
    }

    /* invalid environments */
    lq_dither_config def = cfg_of(LQ_DITHER_TPDF, LQ_SHAPE_NONE, 1);
    lq_stage_env env = {.sample_rate = 44100, .channels = 3, .max_block = 64,
                        .seed = 1, .out_bits = 16};
    void *st = NULL;
    assert_int_equal(lq_stage_dither.create(&st, &def, &env, &d), LQ_ERR_ARG);
    env.channels = 2;
    env.out_bits = 7;
    assert_int_equal(lq_stage_dither.create(&st, &def, &env, &d), LQ_ERR_ARG);
    assert_null(st);
}

static void test_seed(void **unused)
{
    (void)unused;
    uint64_t a = lq_dither_seed("mix.wav:1234:abcd", "cd");
    assert_true(a == lq_dither_seed("mix.wav:1234:abcd", "cd"));
    uint64_t v[] = {a, lq_dither_seed("mix.wav:1234:abcd", "spotify"),
                    lq_dither_seed("mix.wav:1234:abce", "cd"), lq_dither_seed("ab", "c"),
                    lq_dither_seed("a", "bc"), lq_dither_seed(NULL, NULL)};
    for (size_t i = 0; i < 6; i++)
        for (size_t j = i + 1; j < 6; j++)
            CHECK(v[i] != v[j], "seeds %zu and %zu collide (%016llx)", i, j,
                  (unsigned long long)v[i]);
    assert_true(lq_dither_seed(NULL, NULL) == lq_dither_seed("", ""));
    printf("  seed(mix.wav:1234:abcd, cd) = %016llx\n", (unsigned long long)a);
}

/* Done-when 1: TPDF error power = 3 q^2/12 on silence and on a tiny signal; RPDF 2x
 * and plain rounding 1x on a busy signal. */
static void test_error_power(void **unused)
{
    (void)unused;
    const size_t n = 1 << 18;
    const double q = ldexp(1.0, -15);
    double *x = calloc(2 * n, sizeof *x);
    assert_non_null(x);
    /* first half: digital silence; second half: -90 dBFS 1 kHz + 0.3 LSB rms noise */
    lqs_sine(x + n, n, 44100, 1000, pow(10, -90 / 20.0), 0.3);
    double *nz = malloc(n * sizeof *nz);
    lqs_white(nz, n, 0.3 * q, 11);
    for (size_t i = 0; i < n; i++) x[n + i] += nz[i];

    lq_dither_config c = cfg_of(LQ_DITHER_TPDF, LQ_SHAPE_NONE, 0);
    void *st = make(&c, 44100, 16, 1, SEED);
    double *y = dup(x, 2 * n);
    run(st, (double *[]){y, NULL}, 2 * n, 1000, 1);
    double *e = error_lsb(y, x, 2 * n, 16);
    double p_sil = db10(mean_square(e, n) * 12.0), p_sig = db10(mean_square(e + n, n) * 12.0);
    printf("  TPDF 16-bit error power re q^2/12: silence %+.3f dB, tiny signal %+.3f dB "
           "(theory %+.3f dB)\n", p_sil, p_sig, db10(3.0));
    CHECK(fabs(p_sil - db10(3.0)) < 0.2, "silence: %.3f dB", p_sil);
    CHECK(fabs(p_sig - db10(3.0)) < 0.2, "tiny signal: %.3f dB", p_sig);
    double rho = correlation(e + n, x + n, n);
    printf("  TPDF error/signal correlation %.5f\n", rho);
    CHECK(fabs(rho) < 0.01, "error correlated with signal: %.5f", rho);
    lq_stage_dither.destroy(st);
    free(y);
    free(e);

    /* busy signal: noise 5 LSB rms */
    lqs_white(nz, n, 5 * q, 12);
    const struct { int type; double theory_db; } t[] = {{LQ_DITHER_RPDF, db10(2.0)},
                                                        {LQ_DITHER_NONE, 0.0}};
    for (int k = 0; k < 2; k++) {
        c = cfg_of(t[k].type, LQ_SHAPE_NONE, 0);
        st = make(&c, 44100, 16, 1, SEED);
        y = dup(nz, n);
        run(st, (double *[]){y, NULL}, n, 333, 1);
        e = error_lsb(y, nz, n, 16);
        double p = db10(mean_square(e, n) * 12.0);
        printf("  %s 16-bit error power on noise: %+.3f dB re q^2/12 (theory %+.3f dB)\n",
               lq_dither_type_name(t[k].type), p, t[k].theory_db);
        CHECK(fabs(p - t[k].theory_db) < 0.2, "%s: %.3f dB", lq_dither_type_name(t[k].type),
              p);
        lq_stage_dither.destroy(st);
        free(y);
        free(e);
    }
    free(nz);
    free(x);
}

/* Done-when 1: harmonics of a -90 dBFS 1 kHz sine in a 64k-point FFT (16 averaged
 * Blackman-Harris frames): under the noise floor with TPDF, present without dither. */
static void test_spurs(void **unused)
{
    (void)unused;
    const size_t nfft = 65536, n = 16 * nfft;
    const double rate = 44100, bin = rate / (double)nfft;
    double *x = malloc(n * sizeof *x), *psd = malloc((nfft / 2 + 1) * sizeof *psd),
           *sorted = malloc((nfft / 2 + 1) * sizeof *sorted);
    assert_true(x && psd && sorted);
    lqs_sine(x, n, rate, 1000, pow(10, -90 / 20.0), 0.1);
    double worst[2] = {-999, -999}, fund[2] = {0, 0}, floor_db[2] = {0, 0};
    for (int pass = 0; pass < 2; pass++) {
        lq_dither_config c = cfg_of(pass ? LQ_DITHER_NONE : LQ_DITHER_TPDF, LQ_SHAPE_NONE, 1);
        void *st = make(&c, rate, 16, 1, SEED);
        double *y = dup(x, n);
        run(st, (double *[]){y, NULL}, n, 4096, 1);
        welch(y, n, nfft, nfft, WIN_BH4, psd);
        /* noise floor: median bin between 1.5 and 20 kHz */
        size_t k0 = (size_t)(1500 / bin), k1 = (size_t)(20000 / bin), m = 0;
        for (size_t k = k0; k < k1; k++) sorted[m++] = psd[k];
        qsort(sorted, m, sizeof *sorted, cmp_double);
        double med = sorted[m / 2];
        if (med <= 0) med = 1e-300;
        floor_db[pass] = db10(med * 1073741824.0);
        printf("  %s:", pass ? "no dither" : "TPDF");
        for (int h = 1; h <= 9; h++) {
            size_t kc = (size_t)lround(h * 1000.0 / bin);
            double pk = 0;
            for (size_t k = kc - 4; k <= kc + 4; k++) pk = fmax(pk, psd[k]);
            double rel = db10(pk / med);
            if (h == 1) fund[pass] = rel;
            else if (rel > worst[pass]) worst[pass] = rel;
            printf(" h%d %+.1f", h, rel);
        }
        printf(" (dB re floor)\n");
        lq_stage_dither.destroy(st);
        free(y);
    }
    printf("  worst harmonic re floor: TPDF %+.1f dB, no dither %+.1f dB; fundamental "
           "%+.1f dB above the TPDF floor (floors %.1f / %.1f dB re 1 LSB^2 per bin)\n",
           worst[0], worst[1], fund[0], floor_db[0], floor_db[1]);
    CHECK(worst[0] < 4.0, "TPDF: a harmonic %.1f dB above the floor", worst[0]);
    CHECK(fund[0] > 30.0, "TPDF: fundamental only %.1f dB above the floor", fund[0]);
    CHECK(worst[1] > 30.0, "no dither: harmonics only %.1f dB above floor", worst[1]);
    free(x);
    free(psd);
    free(sorted);
}

/* Done-when 2: each shaping's error spectrum follows its designed curve within 1 dB in
 * 1/3-octave bands 25 Hz..20 kHz, and the weighted noise gains match the design. */
static void test_shaping_curves(void **unused)
{
    (void)unused;
    const size_t nfft = 16384, n = (size_t)1 << 21;
    const double rates[] = {44100, 48000};
    /* the design promises (also in docs/PRESETS.md), dB re flat TPDF, 20 Hz..20 kHz:
     * {threshold-weighted, A-weighted} at 44.1 and 48 kHz */
    const struct { int shape; double t44, a44, t48, a48; } promise[] = {
        {LQ_SHAPE_LIPSHITZ, -9.42, 4.23, -10.52, 1.49},
        {LQ_SHAPE_WANNAMAKER9, -12.31, 12.92, -13.71, 7.71},
        {LQ_SHAPE_FWEIGHTED, -11.43, 8.45, -12.68, 3.64},
        {LQ_SHAPE_HP, -4.22, 0.06, -4.91, -0.49},
    };
    double *x = malloc(n * sizeof *x), *psd_flat = malloc((nfft / 2 + 1) * sizeof(double)),
           *psd = malloc((nfft / 2 + 1) * sizeof(double));
    assert_true(x && psd && psd_flat);
    lqs_pink(x, n, 0.05, 21);
    /* isolated exact zeros (as in quiet 24-bit material) must not punch holes into the
     * shaped noise with auto_blank on */
    for (size_t i = 0; i < n; i += 50) x[i] = 0.0;
    for (int ri = 0; ri < 2; ri++) {
        const double rate = rates[ri], bin = rate / (double)nfft;
        const size_t kmax = nfft / 2;
        lq_dither_config c = cfg_of(LQ_DITHER_TPDF, LQ_SHAPE_NONE, 1);
        void *st = make(&c, rate, 16, 1, SEED);
        double *y = dup(x, n);
        run(st, (double *[]){y, NULL}, n, 4096, 1);
        double *e = error_lsb(y, x, n, 16);
        welch(e, n, nfft, nfft / 2, WIN_HANN, psd_flat);
        lq_stage_dither.destroy(st);
        free(y);
        free(e);
        for (size_t si = 0; si < sizeof promise / sizeof promise[0]; si++) {
            int shape = promise[si].shape;
            c = cfg_of(LQ_DITHER_TPDF, shape, 1);
            st = make(&c, rate, 16, 1, SEED + si);
            y = dup(x, n);
            run(st, (double *[]){y, NULL}, n, 4096, 1);
            e = error_lsb(y, x, n, 16);
            welch(e, n, nfft, nfft / 2, WIN_HANN, psd);
            lq_stage_dither.destroy(st);
            free(y);
            free(e);
            /* 1/3-octave bands (at least 8 bins wide) vs design, sigma^2 = 1/4 LSB^2 */
            double worst = 0, worst_f = 0;
            for (int b = -16; b <= 13; b++) {
                double fc = 1000.0 * pow(2.0, b / 3.0);
                long lo = lround(fc * pow(2.0, -1 / 6.0) / bin),
                     hi = lround(fc * pow(2.0, 1 / 6.0) / bin);
                if (hi - lo < 8) {
                    long mid = lround(fc / bin);
                    lo = mid - 4;
                    hi = mid + 4;
                }
                if (hi > (long)kmax - 2) hi = (long)kmax - 2;
                double meas = 0, des = 0;
                for (long k = lo; k <= hi; k++) {
                    meas += psd[k];
                    des += 0.25 * lq_dither_ntf_power(shape, rate, (double)k * bin);
                }
                double dev = db10(meas / des);
                if (fabs(dev) > fabs(worst)) {
                    worst = dev;
                    worst_f = fc;
                }
            }
            /* weighted noise vs flat, measured, over the 20 Hz..20 kHz bins */
            double g[2];
            for (int wt = 0; wt < 2; wt++) {
                double num = 0, den = 0;
                for (size_t k = (size_t)ceil(20 / bin); k <= (size_t)(20000 / bin); k++) {
                    double w = lq_dither_weight_power(wt, (double)k * bin);
                    num += w * psd[k];
                    den += w * psd_flat[k];
                }
                g[wt] = db10(num / den);
            }
            double dA = lq_dither_weighted_gain_db(shape, rate, LQ_WEIGHT_A),
                   dT = lq_dither_weighted_gain_db(shape, rate, LQ_WEIGHT_THRESHOLD);
            double pT = ri ? promise[si].t48 : promise[si].t44,
                   pA = ri ? promise[si].a48 : promise[si].a44;
            printf("  %-12s @%5.0f Hz: curve worst dev %+.2f dB (at %.0f Hz); "
                   "threshold-weighted %+.2f dB (design %+.2f), A-weighted %+.2f dB "
                   "(design %+.2f)\n", lq_dither_shaping_name(shape), rate, worst, worst_f,
                   g[1], dT, g[0], dA);
            CHECK(fabs(worst) < 1.0, "%s @%g: curve off by %.2f dB at %.0f Hz",
                  lq_dither_shaping_name(shape), rate, worst, worst_f);
            CHECK(fabs(g[1] - dT) < 0.3 && fabs(g[0] - dA) < 0.3,
                  "%s @%g: weighted gains %.2f/%.2f vs design %.2f/%.2f",
                  lq_dither_shaping_name(shape), rate, g[1], g[0], dT, dA);
            CHECK(fabs(dT - pT) < 0.05 && fabs(dA - pA) < 0.05,
                  "%s @%g: design %.2f/%.2f differs from the documented %.2f/%.2f",
                  lq_dither_shaping_name(shape), rate, dT, dA, pT, pA);
            CHECK(g[1] < -4.0, "%s @%g: threshold-weighted noise not lower (%.2f dB)",
                  lq_dither_shaping_name(shape), rate, g[1]);
        }
    }
    /* rate policy */
    double h[LQ_DITHER_MAX_TAPS];
    int used;
    assert_int_equal(lq_dither_shaping_used(LQ_SHAPE_FWEIGHTED, 32000, &used, h), 0);
    assert_int_equal(used, LQ_SHAPE_NONE);
    assert_int_equal(lq_dither_shaping_used(LQ_SHAPE_HP, 32000, &used, h), 1);
    assert_int_equal(lq_dither_shaping_used(LQ_SHAPE_LIPSHITZ, 96000, &used, h), 5);
    assert_int_equal(used, LQ_SHAPE_LIPSHITZ);
    free(x);
    free(psd);
    free(psd_flat);
}

/* Done-when 3: digital silence in (runs of >= 64 exact zeros) gives zeros out, for
 * every shape and type; isolated zeros inside music are dithered; without auto-blank
 * the silence gets dither hiss.  Latency 64 frames with auto_blank, 0 without. */
static void test_auto_blank(void **unused)
{
    (void)unused;
    const size_t n = 3 * 44100;
    double *l = calloc(n, sizeof *l), *r = calloc(n, sizeof *r);
    unsigned char *silent[2] = {calloc(n, 1), calloc(n, 1)};
    assert_true(l && r && silent[0] && silent[1]);
    /* 1 s silence, 1 s of music with isolated exact zeros and two short zero runs (64:
     * silence, 63: not), 1 s silence; the right channel goes silent half way through */
    lqs_mix(l + 44100, r + 44100, 44100, 44100, 5, 0.5);
    for (size_t i = 44100; i < 2 * 44100; i += 97) l[i] = 0.0;
    for (size_t i = 60000; i < 60064; i++) l[i] = 0.0;
    for (size_t i = 70001; i < 70064; i++) l[i] = 0.0; /* 69999 is an isolated zero */
    for (size_t i = 44100 + 22050; i < 2 * 44100; i++) r[i] = 0.0;
    /* the expected digital silence, independently: runs of >= 64 zeros */
    const double *in[2] = {l, r};
    size_t n_silent = 0;
    for (int ch = 0; ch < 2; ch++)
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && in[ch][j] == 0.0) j++;
            if (j - i >= 64) {
                memset(silent[ch] + i, 1, j - i);
                n_silent += j - i;
            }
            i = j > i ? j : i + 1;
        }
    for (int type = LQ_DITHER_NONE; type <= LQ_DITHER_TPDF; type++)
        for (int shape = 0; shape < LQ_SHAPE_COUNT; shape++)
            for (int blank = 0; blank < 2; blank++) {
                lq_dither_config c = cfg_of(type, shape, blank);
                void *st = make(&c, 44100, 16, 2, SEED);
                assert_int_equal(lq_stage_dither.latency(st), blank ? 64 : 0);
                double *yl = dup(l, n), *yr = dup(r, n);
                run(st, (double *[]){yl, yr}, n, 0, 3);
                size_t silence_hiss = 0, iso = 0, iso_dithered = 0, run63 = 0;
                const double *out[2] = {yl, yr};
                for (int ch = 0; ch < 2; ch++)
                    for (size_t i = 0; i < n; i++) {
                        if (silent[ch][i]) {
                            silence_hiss += out[ch][i] != 0.0;
                        } else if (in[ch][i] == 0.0) {
                            iso++;
                            iso_dithered += out[ch][i] != 0.0;
                        }
                    }
                for (size_t i = 70001; i < 70064; i++) run63 += yl[i] != 0.0;
                json_t *rep = json_object();
                lq_stage_dither.report(st, rep);
                long long blanked = json_integer_value(json_object_get(rep, "blanked_samples"));
                json_decref(rep);
                if (blank) {
                    CHECK(silence_hiss == 0 && (size_t)blanked == n_silent,
                          "%s/%s auto_blank: %zu of %zu silent samples came out non-zero "
                          "(blanked %lld)", lq_dither_type_name(type),
                          lq_dither_shaping_name(shape), silence_hiss, n_silent, blanked);
                }
                if (type == LQ_DITHER_TPDF) {
                    printf("  tpdf/%-12s auto_blank %d: %5.1f%% of silent samples non-zero;"
                           " isolated zeros in music dithered to non-zero: %5.1f%%; "
                           "63-zero run: %zu non-zero\n", lq_dither_shaping_name(shape), blank,
                           100.0 * (double)silence_hiss / (double)n_silent,
                           100.0 * (double)iso_dithered / (double)iso, run63);
                    CHECK(iso_dithered > iso / 10 && run63 > 5,
                          "%s: isolated zeros / short run not dithered (%zu of %zu, %zu)",
                          lq_dither_shaping_name(shape), iso_dithered, iso, run63);
                    if (!blank)
                        CHECK(silence_hiss > n_silent / 10,
                              "%s: silence not dithered without auto_blank (%zu of %zu)",
                              lq_dither_shaping_name(shape), silence_hiss, n_silent);
                }
                lq_stage_dither.destroy(st);
                free(yl);
                free(yr);
            }
    printf("  auto_blank: all %zu samples of digital silence stayed exactly zero "
           "(3 types x 5 shapes)\n", n_silent);
    free(silent[0]);
    free(silent[1]);
    free(l);
    free(r);
}

/* Done-when 4: a signal at -1 dBFS sample peak (true peak -1 dBTP or less) through every
 * shape to 16 bit: no clipped sample, and the added amplitude stays under the declared
 * headroom; at full scale the clip counter counts exactly, and the shaping loop stays
 * stable after clipping. */
static void test_ceiling_and_clips(void **unused)
{
    (void)unused;
    const size_t n = 10 * 44100;
    const double q = ldexp(1.0, -15);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    assert_true(l && r);
    lqs_mix(l, r, n, 44100, 9, pow(10, -1 / 20.0));
    for (int shape = 0; shape < LQ_SHAPE_COUNT; shape++) {
        lq_dither_config c = cfg_of(LQ_DITHER_TPDF, shape, 1);
        double hr = lq_dither_peak_headroom(&c, 16);
        /* also the tightest level the headroom allows: peak = (1 - q) - headroom */
        for (int tight = 0; tight < 2; tight++) {
            double peak = tight ? 1.0 - q - hr : pow(10, -1 / 20.0);
            double g = peak / pow(10, -1 / 20.0);
            double *yl = malloc(n * sizeof *yl), *yr = malloc(n * sizeof *yr);
            double *xl = malloc(n * sizeof *xl), *xr = malloc(n * sizeof *xr);
            for (size_t i = 0; i < n; i++) {
                xl[i] = yl[i] = l[i] * g;
                xr[i] = yr[i] = r[i] * g;
            }
            void *st = make(&c, 44100, 16, 2, SEED);
            run(st, (double *[]){yl, yr}, n, 0, 4);
            double maxadd = 0, maxout = 0;
            for (size_t i = 0; i < n; i++) {
                maxadd = fmax(maxadd, fmax(fabs(yl[i] - xl[i]), fabs(yr[i] - xr[i])));
                maxout = fmax(maxout, fmax(fabs(yl[i]), fabs(yr[i])));
            }
            long long clipped = lq_dither_clipped(st);
            printf("  %-12s peak %.6f: clipped %lld, max added %.2f LSB (headroom %.2f "
                   "LSB), out peak %.2f dBFS\n", lq_dither_shaping_name(shape), peak,
                   clipped, maxadd / q, hr / q, 20 * log10(maxout));
            CHECK(clipped == 0, "%s: %lld clipped samples", lq_dither_shaping_name(shape),
                  clipped);
            CHECK(maxadd <= hr, "%s: added %.3f LSB > headroom %.3f LSB",
                  lq_dither_shaping_name(shape), maxadd / q, hr / q);
            lq_stage_dither.destroy(st);
            free(yl);
            free(yr);
            free(xl);
            free(xr);
        }
    }

    /* full scale: plain rounding counts exactly the samples outside the 16-bit range */
    double *x = malloc(n * sizeof *x), *y;
    lqs_sine(x, n, 44100, 997, 1.0, 0.2);
    long long expect = 0;
    for (size_t i = 0; i < n; i++) {
        double k = floor(x[i] * 32768.0 + 0.5);
        if (k > 32767 || k < -32768) expect++;
    }
    lq_dither_config c = cfg_of(LQ_DITHER_NONE, LQ_SHAPE_NONE, 1);
    void *st = make(&c, 44100, 16, 1, SEED);
    y = dup(x, n);
    run(st, (double *[]){y, NULL}, n, 0, 5);
    printf("  full-scale sine, plain rounding: clipped %lld (expected %lld)\n",
           lq_dither_clipped(st), expect);
    CHECK(expect > 0 && lq_dither_clipped(st) == expect, "clip count %lld, expected %lld",
          lq_dither_clipped(st), expect);
    json_t *rep = json_object();
    lq_stage_dither.report(st, rep);
    assert_int_equal(json_integer_value(json_object_get(rep, "clipped_samples")), expect);
    json_decref(rep);
    lq_stage_dither.destroy(st);
    free(y);

    /* full scale then quiet noise through f-weighted TPDF: clips counted, outputs in
     * range, and afterwards the error is the designed shaped noise (no runaway loop) */
    const size_t half = n / 2;
    lqs_white(x + half, n - half, 0.01, 6);
    c = cfg_of(LQ_DITHER_TPDF, LQ_SHAPE_FWEIGHTED, 1);
    st = make(&c, 44100, 16, 1, SEED);
    y = dup(x, n);
    run(st, (double *[]){y, NULL}, n, 0, 6);
    long long clipped = lq_dither_clipped(st);
    int in_range = 1;
    for (size_t i = 0; i < n; i++)
        if (y[i] > 32767.0 / 32768.0 || y[i] < -1.0) in_range = 0;
    double *e = error_lsb(y + half + 4410, x + half + 4410, n - half - 4410, 16);
    double h[LQ_DITHER_MAX_TAPS], gain = 1.0;
    int nt = lq_dither_shaping_used(LQ_SHAPE_FWEIGHTED, 44100, NULL, h);
    for (int k = 0; k < nt; k++) gain += h[k] * h[k];
    double p = db10(mean_square(e, n - half - 4410) / (0.25 * gain));
    printf("  f-weighted full scale: clipped %lld; error power after it %+.2f dB re design\n",
           clipped, p);
    CHECK(clipped > 100 && in_range, "clipped %lld, in range %d", clipped, in_range);
    CHECK(fabs(p) < 0.3, "shaping loop after clipping: %.2f dB off design", p);
    lq_stage_dither.destroy(st);
    free(e);
    free(y);
    free(x);
    free(l);
    free(r);
}

/* Output exactly on the grid of 16, 24 and 32 bits; plain rounding is exact; out_bits 0
 * is a pass-through. */
static void test_grid(void **unused)
{
    (void)unused;
    const size_t n = 1 << 16;
    double *x = malloc(n * sizeof *x);
    lqs_pink(x, n, 0.3, 8);
    const int bits[] = {16, 24, 32, 8};
    for (int bi = 0; bi < 4; bi++) {
        double s = ldexp(1.0, bits[bi] - 1);
        for (int shape = 0; shape < LQ_SHAPE_COUNT; shape++) {
            lq_dither_config c = cfg_of(LQ_DITHER_TPDF, shape, 0);
            void *st = make(&c, 48000, bits[bi], 1, SEED);
            double *y = dup(x, n);
            run(st, (double *[]){y, NULL}, n, 0, 7);
            size_t off = 0;
            for (size_t i = 0; i < n; i++) {
                double k = y[i] * s;
                if (k != floor(k) || k > s - 1 || k < -s) off++;
            }
            CHECK(off == 0, "%d bits/%s: %zu samples off the grid", bits[bi],
                  lq_dither_shaping_name(shape), off);
            lq_stage_dither.destroy(st);
            free(y);
        }
        lq_dither_config c = cfg_of(LQ_DITHER_NONE, LQ_SHAPE_NONE, 0);
        void *st = make(&c, 48000, bits[bi], 1, SEED);
        double *y = dup(x, n);
        run(st, (double *[]){y, NULL}, n, 0, 7);
        size_t wrong = 0;
        long long clamped = 0;
        for (size_t i = 0; i < n; i++) {
            double k = floor(x[i] * s + 0.5);
            if (k > s - 1 || k < -s) clamped++;
            k = fmin(fmax(k, -s), s - 1);
            if (y[i] != k / s) wrong++;
        }
        CHECK(lq_dither_clipped(st) == clamped, "%d bits: clip count %lld, expected %lld",
              bits[bi], lq_dither_clipped(st), clamped);
        CHECK(wrong == 0, "%d bits plain rounding: %zu samples wrong", bits[bi], wrong);
        lq_stage_dither.destroy(st);
        free(y);
    }
    lq_dither_config c = cfg_of(LQ_DITHER_TPDF, LQ_SHAPE_FWEIGHTED, 1);
    void *st = make(&c, 48000, 0, 1, SEED);
    double *y = dup(x, n);
    run(st, (double *[]){y, NULL}, n, 0, 7);
    assert_memory_equal(x, y, n * sizeof *x);
    lq_stage_dither.destroy(st);
    free(y);
    free(x);
    printf("  outputs on the 8/16/24/32-bit grids; plain rounding exact; 0 bits = pass\n");
}

/* Done-when 5: byte-identical reruns whatever the block sizes (and after reset);
 * different targets and the two channels get decorrelated dither. */
static void test_determinism_and_decorrelation(void **unused)
{
    (void)unused;
    const size_t n = 1 << 18;
    double *l = malloc(n * sizeof *l);
    lqs_pink(l, n, 0.1, 31);
    /* digital silence and short zero runs, so the auto-blank delay line is exercised
     * across block boundaries too */
    memset(l + 5000, 0, 1000 * sizeof *l);
    memset(l + 9000, 0, 64 * sizeof *l);
    memset(l + 12000, 0, 63 * sizeof *l);
    const uint64_t seed_cd = lq_dither_seed("mix.wav", "cd"),
                   seed_b = lq_dither_seed("mix.wav", "cd-preview");
    lq_dither_config c = cfg_of(LQ_DITHER_TPDF, LQ_SHAPE_FWEIGHTED, 1);
    double *ref[2] = {dup(l, n), dup(l, n)};
    void *st = make(&c, 44100, 16, 2, seed_cd);
    run(st, ref, n, 4096, 0);
    const size_t blocks[] = {1, 7, 64, 0};
    for (size_t b = 0; b < 4; b++) {
        void *s2 = make(&c, 44100, 16, 2, seed_cd);
        double *o[2] = {dup(l, n), dup(l, n)};
        run(s2, o, n, blocks[b], 40 + b);
        CHECK(memcmp(o[0], ref[0], n * sizeof(double)) == 0 &&
                  memcmp(o[1], ref[1], n * sizeof(double)) == 0,
              "block size %zu differs from 4096", blocks[b]);
        lq_stage_dither.destroy(s2);
        free(o[0]);
        free(o[1]);
    }
    /* reset reruns identically */
    lq_stage_dither.reset(st);
    double *o[2] = {dup(l, n), dup(l, n)};
    run(st, o, n, 0, 50);
    CHECK(memcmp(o[0], ref[0], n * sizeof(double)) == 0, "rerun after reset differs");
    lq_stage_dither.destroy(st);

    /* another target: same input, different seed -> uncorrelated errors */
    void *s3 = make(&c, 44100, 16, 2, seed_b);
    double *p[2] = {dup(l, n), dup(l, n)};
    run(s3, p, n, 4096, 0);
    lq_stage_dither.destroy(s3);
    double *e_cd = error_lsb(ref[0], l, n, 16), *e_r = error_lsb(ref[1], l, n, 16),
           *e_b = error_lsb(p[0], l, n, 16);
    double rho_t = correlation(e_cd, e_b, n), rho_lr = correlation(e_cd, e_r, n);
    /* the standard deviation of the correlation of two independent noises with the
     * shaped spectrum: sqrt(sum_k rho(k)^2 / n), rho = autocorrelation of the NTF's
     * impulse response (1, -h1, ..., -hN) (Bartlett 1946) */
    double h[LQ_DITHER_MAX_TAPS], g[LQ_DITHER_MAX_TAPS + 1], acf0 = 0, sum2 = 0;
    int nt = lq_dither_shaping_used(LQ_SHAPE_FWEIGHTED, 44100, NULL, h);
    g[0] = 1.0;
    for (int k = 0; k < nt; k++) g[k + 1] = -h[k];
    for (int lag = -nt; lag <= nt; lag++) {
        double a = 0;
        for (int i = 0; i <= nt; i++)
            if (i + lag >= 0 && i + lag <= nt) a += g[i] * g[i + lag];
        if (lag == 0) acf0 = a;
        sum2 += a * a;
    }
    double sd = sqrt(sum2 / (acf0 * acf0) / (double)n);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += p[0][i] == ref[0][i];
    printf("  identical for blocks 1/7/64/random/4096 and after reset; error correlation "
           "cd vs cd-preview %.5f, L vs R %.5f (expected sd for independent shaped noise "
           "%.5f); %.1f%% equal samples across targets\n", rho_t, rho_lr, sd,
           100.0 * (double)same / (double)n);
    CHECK(fabs(rho_t) < 5 * sd, "targets correlated: %.5f (sd %.5f)", rho_t, sd);
    CHECK(fabs(rho_lr) < 5 * sd, "L/R correlated: %.5f (sd %.5f)", rho_lr, sd);
    CHECK(same < n / 2, "targets give the same output");
    free(e_cd);
    free(e_r);
    free(e_b);
    for (int i = 0; i < 2; i++) {
        free(ref[i]);
        free(o[i]);
        free(p[i]);
    }
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered_and_parse),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_error_power),
        cmocka_unit_test(test_spurs),
        cmocka_unit_test(test_shaping_curves),
        cmocka_unit_test(test_auto_blank),
        cmocka_unit_test(test_ceiling_and_clips),
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_determinism_and_decorrelation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
