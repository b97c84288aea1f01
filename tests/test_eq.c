/* The linear-phase EQ stage (src/stages/eq.c): measured magnitude response against the
 * designed curve at 44.1/48/96/192 kHz for every band type and a 10-band curve, linear
 * phase and zero lag, flat-EQ and mid/side nulls, mono through side bands, block-size
 * independence, reruns, silence, the curve printer, and config validation. */
#include <fftw3.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/node.h"
#include "config/preset.h"
#include "dsp/fir.h"
#include "lqtest.h"
#include "stage.h"
#include "stages/eq.h"
#include "synth.h"

/* ---- helpers ------------------------------------------------------------------ */

static const lq_stage_vt *eq_vt(void)
{
    const lq_stage_vt *vt = lq_stage_find("eq");
    assert_non_null(vt);
    return vt;
}

static double *dalloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    assert_non_null(p);
    return p;
}

/* Parse an eq config from YAML (the stage's map); NULL on error, message in d. */
static void *parse_cfg(const char *yaml, lq_diag *d)
{
    const lq_stage_vt *vt = eq_vt();
    lq_node *root = NULL;
    if (lq_node_parse_string(&root, yaml, "test", d) != LQ_OK) return NULL;
    void *cfg = calloc(1, vt->config_size);
    assert_non_null(cfg);
    vt->config_default(cfg);
    lq_error e = vt->config_parse(cfg, root, d);
    lq_node_free(root);
    if (e) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

static void *cfg_or_fail(const char *yaml)
{
    lq_diag d = {{0}};
    void *cfg = parse_cfg(yaml, &d);
    if (!cfg) fail_msg("config did not parse: %s\n%s", d.msg, yaml);
    return cfg;
}

static void *create_or_fail(const void *cfg, double fs, int nch)
{
    lq_stage_env env = {.sample_rate = fs, .channels = nch, .max_block = 4096};
    void *st = NULL;
    lq_diag d = {{0}};
    if (eq_vt()->create(&st, cfg, &env, &d) != LQ_OK) fail_msg("create failed: %s", d.msg);
    return st;
}

/* Feed in[c][0..n) through a created stage (raw: not latency-compensated), in blocks
 * (block 0: random sizes 1..5000 from seed). */
static void feed(void *st, int nch, double *const *in, double *const *out, size_t n,
                 size_t block, uint64_t seed)
{
    lqs_rng r;
    lqs_rng_seed(&r, seed);
    size_t off = 0;
    while (off < n) {
        size_t b = block ? block : 1 + (size_t)(lqs_rng_uniform(&r) * 5000.0);
        if (b > n - off) b = n - off;
        double *p[2];
        for (int c = 0; c < nch; c++) {
            memcpy(out[c] + off, in[c] + off, b * sizeof(double));
            p[c] = out[c] + off;
        }
        eq_vt()->process(st, p, b);
        off += b;
    }
}

/* Latency-compensated run: out[c][0..n) lines up with in[c][0..n). */
static size_t run_aligned(const void *cfg, double fs, int nch, double *const *in,
                          double *const *out, size_t n, size_t block, uint64_t seed)
{
    void *st = create_or_fail(cfg, fs, nch);
    const size_t lat = eq_vt()->latency(st);
    double *bi[2], *bo[2];
    for (int c = 0; c < nch; c++) {
        bi[c] = dalloc(n + lat);
        bo[c] = dalloc(n + lat);
        memcpy(bi[c], in[c], n * sizeof(double));
    }
    feed(st, nch, bi, bo, n + lat, block, seed);
    for (int c = 0; c < nch; c++) {
        memcpy(out[c], bo[c] + lat, n * sizeof(double));
        free(bi[c]);
        free(bo[c]);
    }
    eq_vt()->destroy(st);
    return lat;
}

typedef struct response {
    double max_err_db, at_hz;   /* |measured - designed| over the checked bins */
    double max_phase;           /* max |Im H| / |H|: 0 for zero phase (aligned, linear) */
    size_t bins;
} response;

enum { MODE_STEREO, MODE_MONO, MODE_SIDE };

/* Measure the aligned response of the stage with white noise, exactly: the noise x
 * (length L) sits at offset P in a window of F frames, the aligned output (pre-ringing
 * included) fits in the same window, so Y/X over an F-point FFT is the stage's response
 * at those bins, with no windowing or averaging.  MODE_STEREO: independent noise in L
 * and R, channel ch measured against view; MODE_MONO: L = R = x (the mid view);
 * MODE_SIDE: L = x, R = -x (the side view).  Bins from 30 Hz to 0.9 x Nyquist where the
 * designed curve is above -60 dB and |X| is at least 0.2 x its RMS are compared. */
static response measure(const void *cfg, double fs, int mode, int ch, lq_eq_view view)
{
    const size_t ntaps = lq_fir_taps(186.0, fs);
    size_t f = 1;
    while (f < 4 * ntaps) f <<= 1;
    const size_t p = ntaps, len = f - 2 * ntaps;
    double *in[2] = {dalloc(f), dalloc(f)}, *out[2] = {dalloc(f), dalloc(f)};
    lqs_white(in[0] + p, len, 0.25, 1000 + (uint64_t)fs);
    if (mode == MODE_STEREO) lqs_white(in[1] + p, len, 0.25, 2000 + (uint64_t)fs);
    for (size_t i = 0; mode != MODE_STEREO && i < f; i++)
        in[1][i] = mode == MODE_MONO ? in[0][i] : -in[0][i];
    run_aligned(cfg, fs, 2, in, out, f, 4096, 0);

    fftw_complex *xs = fftw_malloc((f / 2 + 1) * sizeof(fftw_complex));
    fftw_complex *ys = fftw_malloc((f / 2 + 1) * sizeof(fftw_complex));
    assert_non_null(xs);
    assert_non_null(ys);
    fftw_plan px = fftw_plan_dft_r2c_1d((int)f, in[ch], xs, FFTW_ESTIMATE);
    fftw_plan py = fftw_plan_dft_r2c_1d((int)f, out[ch], ys, FFTW_ESTIMATE);
    fftw_execute(px);
    fftw_execute(py);
    double xrms = 0.0;
    for (size_t k = 0; k <= f / 2; k++) xrms += xs[k][0] * xs[k][0] + xs[k][1] * xs[k][1];
    xrms = sqrt(xrms / (double)(f / 2 + 1));

    response r = {0};
    lq_diag d;
    for (size_t k = 1; k <= f / 2; k++) {
        const double fr = (double)k * fs / (double)f;
        if (fr < 30.0 || fr > 0.45 * fs) continue;
        const double xm2 = xs[k][0] * xs[k][0] + xs[k][1] * xs[k][1];
        if (xm2 < 0.04 * xrms * xrms) continue;
        double want;
        assert_int_equal(lq_eq_curve(cfg, view, &fr, 1, &want, &d), LQ_OK);
        if (want < -60.0) continue;
        /* H = Y / X */
        const double hr = (ys[k][0] * xs[k][0] + ys[k][1] * xs[k][1]) / xm2;
        const double hi = (ys[k][1] * xs[k][0] - ys[k][0] * xs[k][1]) / xm2;
        const double mag = hypot(hr, hi);
        const double e = fabs(20.0 * log10(mag) - want);
        if (e > r.max_err_db) {
            r.max_err_db = e;
            r.at_hz = fr;
        }
        if (fabs(hi) / mag > r.max_phase) r.max_phase = fabs(hi) / mag;
        if (hr <= 0.0) r.max_phase = 1.0;  /* polarity flipped: not zero phase */
        r.bins++;
    }
    fftw_destroy_plan(px);
    fftw_destroy_plan(py);
    fftw_free(xs);
    fftw_free(ys);
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
    }
    return r;
}

static const double rates[] = {44100.0, 48000.0, 96000.0, 192000.0};

static void check_response(const char *name, const char *yaml, int mode, int ch,
                           lq_eq_view view)
{
    void *cfg = cfg_or_fail(yaml);
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        response r = measure(cfg, rates[i], mode, ch, view);
        print_message("%-22s %6.0f Hz: max error %.4f dB at %8.1f Hz over %zu bins, "
                      "max |phase| %.2e rad\n", name, rates[i], r.max_err_db, r.at_hz, r.bins,
                      r.max_phase);
        if (r.bins < 1000) fail_msg("%s: only %zu bins measured", name, r.bins);
        if (r.max_err_db > 0.1)
            fail_msg("%s at %g Hz: response off by %.4f dB at %.1f Hz (noise seed %llu)", name,
                     rates[i], r.max_err_db, r.at_hz, (unsigned long long)(1000 + rates[i]));
        /* Zero phase after latency compensation: a lag of one sample would show as
         * 2 pi 30 / fs >= 1e-3 rad at the lowest bin. */
        if (r.max_phase > 1e-7)
            fail_msg("%s at %g Hz: phase %.3g rad: not aligned / not linear phase", name,
                     rates[i], r.max_phase);
    }
    free(cfg);
}

/* ---- magnitude response --------------------------------------------------------- */

static void test_response_bell(void **st)
{
    (void)st;
    check_response("bell 1k +6 Q1.4", "bands: [{type: bell, freq_hz: 1000, gain_db: 6, q: 1.4}]",
                   MODE_STEREO, 0, LQ_EQ_VIEW_LEFT);
    check_response("bell 80 -4 Q3", "bands: [{type: bell, freq_hz: 80, gain_db: -4, q: 3}]",
                   MODE_STEREO, 1, LQ_EQ_VIEW_RIGHT);
}

static void test_response_shelves(void **st)
{
    (void)st;
    check_response("low shelf 120 +4", "bands: [{type: low_shelf, freq_hz: 120, gain_db: 4, q: 0.7}]",
                   MODE_STEREO, 0, LQ_EQ_VIEW_LEFT);
    check_response("high shelf 8k -3 S1",
                   "bands: [{type: high_shelf, freq_hz: 8000, gain_db: -3, shelf_slope: 1}]",
                   MODE_STEREO, 0, LQ_EQ_VIEW_LEFT);
}

static void test_response_pass(void **st)
{
    (void)st;
    check_response("highpass 25 24dB", "bands: [{type: highpass, freq_hz: 25, slope_db_oct: 24}]",
                   MODE_STEREO, 0, LQ_EQ_VIEW_LEFT);
    check_response("highpass 15 96dB", "bands: [{type: highpass, freq_hz: 15, slope_db_oct: 96}]",
                   MODE_STEREO, 0, LQ_EQ_VIEW_LEFT);
    check_response("highpass 40 6dB", "bands: [{type: highpass, freq_hz: 40, slope_db_oct: 6}]",
                   MODE_STEREO, 0, LQ_EQ_VIEW_LEFT);
    check_response("lowpass 16k 24dB", "bands: [{type: lowpass, freq_hz: 16000, slope_db_oct: 24}]",
                   MODE_STEREO, 1, LQ_EQ_VIEW_RIGHT);
    check_response("lowpass 18k 96dB", "bands: [{type: lowpass, freq_hz: 18000, slope_db_oct: 96}]",
                   MODE_STEREO, 0, LQ_EQ_VIEW_LEFT);
}

static void test_response_tilt(void **st)
{
    (void)st;
    check_response("tilt +1.5 dB/oct @1k", "bands: [{type: tilt, freq_hz: 1000, slope_db_oct: 1.5}]",
                   MODE_STEREO, 0, LQ_EQ_VIEW_LEFT);
}

static const char *const ten_bands =
    "bands:\n"
    "  - {type: highpass, freq_hz: 25, slope_db_oct: 24}\n"
    "  - {type: low_shelf, freq_hz: 80, gain_db: 2, q: 0.7}\n"
    "  - {type: bell, freq_hz: 200, gain_db: -2, q: 1.5}\n"
    "  - {type: bell, freq_hz: 400, gain_db: -1.5, q: 2}\n"
    "  - {type: bell, freq_hz: 1000, gain_db: 1, q: 1}\n"
    "  - {type: bell, freq_hz: 2500, gain_db: -2, q: 3}\n"
    "  - {type: bell, freq_hz: 5000, gain_db: 1.5, q: 1}\n"
    "  - {type: high_shelf, freq_hz: 9000, gain_db: 2, q: 0.7}\n"
    "  - {type: bell, freq_hz: 12000, gain_db: 1, q: 2}\n"
    "  - {type: lowpass, freq_hz: 20000, slope_db_oct: 12}\n";

static void test_response_ten_bands(void **st)
{
    (void)st;
    check_response("10 bands", ten_bands, MODE_STEREO, 0, LQ_EQ_VIEW_LEFT);
    check_response("10 bands (right)", ten_bands, MODE_STEREO, 1, LQ_EQ_VIEW_RIGHT);
}

static void test_response_channels(void **st)
{
    (void)st;
    /* Left-only band: the left channel follows it, the right one stays flat. */
    const char *lr = "bands: [{type: bell, freq_hz: 500, gain_db: 5, q: 1, channels: left}]";
    check_response("bell on left (L)", lr, MODE_STEREO, 0, LQ_EQ_VIEW_LEFT);
    check_response("bell on left (R)", lr, MODE_STEREO, 1, LQ_EQ_VIEW_RIGHT);
    /* Mid and side bands, measured with a mono and with an anti-phase signal. */
    const char *ms = "bands: [{type: bell, freq_hz: 300, gain_db: -3, q: 1, channels: mid},"
                     " {type: high_shelf, freq_hz: 6000, gain_db: 3, q: 0.7, channels: side},"
                     " {type: highpass, freq_hz: 30, slope_db_oct: 12}]";
    check_response("mid (mono in)", ms, MODE_MONO, 0, LQ_EQ_VIEW_MID);
    check_response("side (anti-phase in)", ms, MODE_SIDE, 0, LQ_EQ_VIEW_SIDE);
    check_response("side (anti-phase, R)", ms, MODE_SIDE, 1, LQ_EQ_VIEW_SIDE);
}

/* ---- linear phase, latency ------------------------------------------------------ */

static void test_linear_phase(void **st)
{
    (void)st;
    const char *cfgs[] = {ten_bands,
                          "bands: [{type: bell, freq_hz: 2000, gain_db: 2, q: 1, channels: left},"
                          " {type: bell, freq_hz: 100, gain_db: 3, q: 1, channels: side}]"};
    for (size_t ci = 0; ci < 2; ci++) {
        void *cfg = cfg_or_fail(cfgs[ci]);
        const double fs = 48000.0;
        void *sta = create_or_fail(cfg, fs, 2);
        const size_t lat = eq_vt()->latency(sta);
        eq_vt()->destroy(sta);
        /* Impulse in each channel in turn; the impulse response (both outputs) must be
         * symmetric around the latency. */
        for (int src = 0; src < 2; src++) {
            const size_t n = 2 * lat + 10;
            double *in[2] = {dalloc(n), dalloc(n)}, *out[2] = {dalloc(n), dalloc(n)};
            in[src][lat] = 1.0;  /* impulse at lat: response centred at lat after alignment */
            run_aligned(cfg, fs, 2, in, out, n, 0, 77);
            for (int c = 0; c < 2; c++) {
                double peak = lqt_sample_peak(out[c], n), asym = 0.0;
                for (size_t m = 1; m <= lat; m++)
                    asym = fmax(asym, fabs(out[c][lat + m] - out[c][lat - m]));
                print_message("config %zu, impulse in %d, output %d: latency %zu, "
                              "asymmetry %.2e of peak %.3f\n", ci, src, c, lat, asym / fmax(peak, 1e-300), peak);
                if (peak > 0.0 && asym > 1e-12 * peak)
                    fail_msg("impulse response not symmetric: %.3g relative", asym / peak);
            }
            for (int c = 0; c < 2; c++) {
                free(in[c]);
                free(out[c]);
            }
        }
        free(cfg);
    }
}

static void test_zero_lag(void **st)
{
    (void)st;
    /* A music-like stereo mix through a 10-band EQ: cross-correlation peak at lag 0. */
    void *cfg = cfg_or_fail(ten_bands);
    const double fs = 44100.0;
    const size_t n = 4 * 44100;
    double *in[2] = {dalloc(n), dalloc(n)}, *out[2] = {dalloc(n), dalloc(n)};
    lqs_mix(in[0], in[1], n, fs, 5, 0.9);
    run_aligned(cfg, fs, 2, in, out, n, 0, 3);
    for (int c = 0; c < 2; c++) {
        long lag = lqt_xcorr_lag(out[c], in[c], n, 2000);
        print_message("channel %d: lag %ld frames\n", c, lag);
        assert_int_equal(lag, 0);
        free(in[c]);
        free(out[c]);
    }
    free(cfg);
}

/* ---- nulls ------------------------------------------------------------------------ */

static void test_flat_null(void **st)
{
    (void)st;
    const double fs = 48000.0;
    const size_t n = 3 * 48000;
    double *in[2] = {dalloc(n), dalloc(n)}, *out[2] = {dalloc(n), dalloc(n)};
    lqs_mix(in[0], in[1], n, fs, 9, 0.9);

    /* No bands, and zero-gain bands: the identity. */
    void *c0 = cfg_or_fail("{}");
    void *c1 = cfg_or_fail("bands: [{type: bell, freq_hz: 1000, gain_db: 0},"
                           " {type: tilt, slope_db_oct: 0}, {type: low_shelf, freq_hz: 100,"
                           " gain_db: 0, channels: side}]");
    assert_true(eq_vt()->config_is_identity(c0));
    assert_true(eq_vt()->config_is_identity(c1));
    run_aligned(c1, fs, 2, in, out, n, 0, 1);
    double nl = lqt_null_db(out[0], in[0], n), nr = lqt_null_db(out[1], in[1], n);
    print_message("flat EQ (zero-gain bands): null L %.1f dB, R %.1f dB\n", nl, nr);
    assert_true(nl < -150.0 && nr < -150.0);

    /* Through the FIR path: +6 and -6 dB bells at the same place sum to a flat curve
     * (to ~1e-16 dB), designed and convolved like any other. */
    void *c2 = cfg_or_fail("bands: [{type: bell, freq_hz: 700, gain_db: 6, q: 2},"
                           " {type: bell, freq_hz: 700, gain_db: -6, q: 2}]");
    assert_false(eq_vt()->config_is_identity(c2));
    void *s2 = create_or_fail(c2, fs, 2);
    assert_true(eq_vt()->latency(s2) > 0);
    eq_vt()->destroy(s2);
    run_aligned(c2, fs, 2, in, out, n, 0, 2);
    nl = lqt_null_db(out[0], in[0], n);
    nr = lqt_null_db(out[1], in[1], n);
    print_message("flat EQ through the FIR (+6/-6 dB bells): null L %.1f dB, R %.1f dB\n", nl, nr);
    assert_true(nl < -150.0 && nr < -150.0);
    free(c0);
    free(c1);
    free(c2);
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
    }
}

static void test_mid_side(void **st)
{
    (void)st;
    const double fs = 44100.0;
    const size_t n = 3 * 44100;
    double *in[2] = {dalloc(n), dalloc(n)}, *out[2] = {dalloc(n), dalloc(n)};
    double *ref[2] = {dalloc(n), dalloc(n)};

    /* Bands on side leave a mono signal untouched. */
    lqs_pink(in[0], n, 0.2, 31);
    lqs_transients(ref[0], n, fs, 0.25, 0.5, 32);
    for (size_t i = 0; i < n; i++) in[1][i] = in[0][i] = in[0][i] + ref[0][i];
    void *cs = cfg_or_fail("bands: [{type: bell, freq_hz: 3000, gain_db: 4, q: 1, channels: side},"
                           " {type: low_shelf, freq_hz: 150, gain_db: -6, channels: side},"
                           " {type: highpass, freq_hz: 120, slope_db_oct: 12, channels: side}]");
    run_aligned(cs, fs, 2, in, out, n, 0, 4);
    double nl = lqt_null_db(out[0], in[0], n), nr = lqt_null_db(out[1], in[1], n);
    print_message("mono through side-only bands: null L %.1f dB, R %.1f dB\n", nl, nr);
    assert_true(nl < -140.0 && nr < -140.0);

    /* The same band on mid and on side equals that band on stereo (encode/decode is
     * exact up to rounding): stereo mix. */
    lqs_mix(in[0], in[1], n, fs, 8, 0.9);
    void *cms = cfg_or_fail("bands: [{type: bell, freq_hz: 900, gain_db: 3, q: 0.8, channels: mid},"
                            " {type: bell, freq_hz: 900, gain_db: 3, q: 0.8, channels: side}]");
    void *cst = cfg_or_fail("bands: [{type: bell, freq_hz: 900, gain_db: 3, q: 0.8}]");
    run_aligned(cms, fs, 2, in, out, n, 0, 5);
    run_aligned(cst, fs, 2, in, ref, n, 0, 6);
    nl = lqt_null_db(out[0], ref[0], n);
    nr = lqt_null_db(out[1], ref[1], n);
    print_message("mid+side band vs stereo band: null L %.1f dB, R %.1f dB\n", nl, nr);
    assert_true(nl < -150.0 && nr < -150.0);

    /* Mid-only band on a purely anti-phase (side-only) signal: untouched. */
    for (size_t i = 0; i < n; i++) in[1][i] = -in[0][i];
    void *cm = cfg_or_fail("bands: [{type: bell, freq_hz: 200, gain_db: -5, q: 1, channels: mid}]");
    run_aligned(cm, fs, 2, in, out, n, 0, 7);
    nl = lqt_null_db(out[0], in[0], n);
    print_message("anti-phase through mid-only band: null L %.1f dB\n", nl);
    assert_true(nl < -140.0);
    free(cs);
    free(cms);
    free(cst);
    free(cm);
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
        free(ref[c]);
    }
}

/* ---- streaming ------------------------------------------------------------------ */

static void test_blocks_and_reruns(void **st)
{
    (void)st;
    const double fs = 44100.0;
    void *cfg = cfg_or_fail("length_ms: 100\nbands: [{type: bell, freq_hz: 2000, gain_db: 2, q: 1, channels: left},"
                            " {type: bell, freq_hz: 100, gain_db: 3, q: 1, channels: side},"
                            " {type: highpass, freq_hz: 30, slope_db_oct: 18}]");
    const size_t n = 60000;
    double *in[2] = {dalloc(n), dalloc(n)}, *ref[2] = {dalloc(n), dalloc(n)},
           *out[2] = {dalloc(n), dalloc(n)};
    lqs_mix(in[0], in[1], n, fs, 12, 0.9);
    void *s = create_or_fail(cfg, fs, 2);
    feed(s, 2, in, ref, n, 4096, 0);
    const size_t blocks[] = {1, 7, 64, 4096, 0};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        eq_vt()->reset(s);
        feed(s, 2, in, out, n, blocks[b], 500 + b);
        for (int c = 0; c < 2; c++)
            if (memcmp(out[c], ref[c], n * sizeof(double)) != 0)
                fail_msg("block size %zu (0 = random, seed %zu): channel %d differs", blocks[b],
                         (size_t)(500 + b), c);
    }
    /* A fresh instance gives the same bytes. */
    void *s2 = create_or_fail(cfg, fs, 2);
    feed(s2, 2, in, out, n, 999, 0);
    for (int c = 0; c < 2; c++) assert_memory_equal(out[c], ref[c], n * sizeof(double));
    eq_vt()->destroy(s2);
    /* Mono instance. */
    void *s3 = create_or_fail(cfg, fs, 1);
    feed(s3, 1, in, out, n, 0, 1);
    eq_vt()->reset(s3);
    feed(s3, 1, in, ref, n, 4096, 0);
    assert_memory_equal(out[0], ref[0], n * sizeof(double));
    eq_vt()->destroy(s3);
    eq_vt()->destroy(s);
    free(cfg);
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
        free(ref[c]);
    }
}

static void test_silence(void **st)
{
    (void)st;
    const double fs = 48000.0;
    void *cfg = cfg_or_fail(ten_bands);
    void *s = create_or_fail(cfg, fs, 2);
    const size_t lat = eq_vt()->latency(s);
    const size_t n = 4 * lat + 100000;
    double *in[2] = {dalloc(n), dalloc(n)}, *out[2] = {dalloc(n), dalloc(n)};
    lqs_white(in[0], 20000, 0.5, 1);   /* a burst, then a long silence */
    lqs_white(in[1], 20000, 0.5, 2);
    feed(s, 2, in, out, n, 4096, 0);
    size_t bad = 0, nonzero_end = 0;
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(out[c][i]) || fpclassify(out[c][i]) == FP_SUBNORMAL) bad++;
            if (i >= n - 50000 && out[c][i] != 0.0) nonzero_end++;
        }
    print_message("burst + silence: %zu NaN/Inf/subnormal outputs, %zu non-zero in the last "
                  "50000 frames\n", bad, nonzero_end);
    assert_int_equal(bad, 0);
    assert_int_equal(nonzero_end, 0);
    eq_vt()->destroy(s);
    free(cfg);
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
    }
}

/* ---- curve, config ------------------------------------------------------------- */

static void test_curve(void **st)
{
    (void)st;
    void *cfg = cfg_or_fail("bands: [{type: bell, freq_hz: 1000, gain_db: 6, q: 2},"
                            " {type: low_shelf, freq_hz: 50, gain_db: -4, channels: mid},"
                            " {type: highpass, freq_hz: 40, slope_db_oct: 24, channels: left},"
                            " {type: tilt, freq_hz: 500, slope_db_oct: -1, channels: side}]");
    lq_diag d;
    double f[3] = {1000.0, 2.0, 40.0}, db[3];
    assert_int_equal(lq_eq_curve(cfg, LQ_EQ_VIEW_RIGHT, f, 1, db, &d), LQ_OK);
    assert_true(fabs(db[0] - 6.0) < 1e-12);  /* bell peak = gain */
    assert_int_equal(lq_eq_curve(cfg, LQ_EQ_VIEW_MID, f, 2, db, &d), LQ_OK);
    assert_true(fabs(db[1] - (-4.0)) < 0.01);  /* shelf far below its corner */
    assert_int_equal(lq_eq_curve(cfg, LQ_EQ_VIEW_LEFT, f + 2, 1, db, &d), LQ_OK);
    /* highpass at its corner: -3.01 dB; the bell adds a little there. */
    double bell40;
    void *cb = cfg_or_fail("bands: [{type: bell, freq_hz: 1000, gain_db: 6, q: 2}]");
    assert_int_equal(lq_eq_curve(cb, LQ_EQ_VIEW_LEFT, f + 2, 1, &bell40, &d), LQ_OK);
    assert_true(fabs(db[0] - bell40 - (-10.0 * log10(2.0))) < 1e-9);
    /* tilt: -1 dB per octave between 250 and 500 Hz (within the tilt's corners). */
    void *ct = cfg_or_fail("bands: [{type: tilt, freq_hz: 500, slope_db_oct: -1}]");
    double tf[2] = {1000.0, 2000.0}, tdb[2];
    assert_int_equal(lq_eq_curve(ct, LQ_EQ_VIEW_SIDE, tf, 2, tdb, &d), LQ_OK);
    assert_true(fabs(tdb[1] - tdb[0] - (-1.0)) < 0.01);
    assert_int_equal(lq_eq_views_used(cfg), 0xFu);
    assert_int_equal(lq_eq_curve(cfg, (lq_eq_view)7, f, 1, db, &d), LQ_ERR_ARG);
    free(cfg);
    free(cb);
    free(ct);
}

static void expect_error(const char *yaml, const char *needle)
{
    lq_diag d = {{0}};
    void *cfg = parse_cfg(yaml, &d);
    if (cfg) {
        free(cfg);
        fail_msg("accepted: %s", yaml);
    }
    if (!strstr(d.msg, needle)) fail_msg("error for %s\n  was: %s\n  expected to mention: %s", yaml, d.msg, needle);
    print_message("rejected as expected: %s\n", d.msg);
}

static void test_config_errors(void **st)
{
    (void)st;
    expect_error("length_ms: 5", "length_ms");
    expect_error("length_ms: 3000", "length_ms");
    expect_error("lenght_ms: 186", "lenght_ms");
    expect_error("bands: [{freq_hz: 100, gain_db: 1}]", "type");
    expect_error("bands: [{type: notch, freq_hz: 100}]", "type");
    expect_error("bands: [{type: bell, freq_hz: 5, gain_db: 1}]", "freq_hz");
    expect_error("bands: [{type: bell, freq_hz: 100000, gain_db: 1}]", "freq_hz");
    expect_error("bands: [{type: bell, freq_hz: 100}]", "gain_db");
    expect_error("bands: [{type: bell, freq_hz: 100, gain_db: 30}]", "gain_db");
    expect_error("bands: [{type: bell, freq_hz: 100, gain_db: 1, q: 0}]", "q");
    expect_error("bands: [{type: bell, freq_hz: 100, gain_db: 1, slope_db_oct: 12}]",
                 "slope_db_oct");
    expect_error("bands: [{type: highpass, freq_hz: 30, slope_db_oct: 120}]", "slope_db_oct");
    expect_error("bands: [{type: highpass, freq_hz: 30, slope_db_oct: 3}]", "slope_db_oct");
    expect_error("bands: [{type: highpass, freq_hz: 30, gain_db: 3}]", "gain_db");
    expect_error("bands: [{type: low_shelf, freq_hz: 100, gain_db: 1, q: 0.7, shelf_slope: 1}]",
                 "shelf_slope");
    expect_error("bands: [{type: tilt, freq_hz: 1000}]", "slope_db_oct");
    expect_error("bands: [{type: tilt, slope_db_oct: 9}]", "slope_db_oct");
    expect_error("bands: [{type: bell, freq_hz: 100, gain_db: 1, channels: centre}]", "channels");
    expect_error("bands: {type: bell}", "bands");
    expect_error("bands: [{type: bell, freq_hz: abc, gain_db: 1}]", "freq_hz");
    /* 25 bands: one too many. */
    char buf[4096] = "bands:\n";
    for (int i = 0; i < 25; i++)
        strcat(buf, "  - {type: bell, freq_hz: 1000, gain_db: 0.5}\n");
    expect_error(buf, "bands");
    /* 24 are fine, with line numbers in errors pointing at the band. */
    buf[0] = 0;
    strcat(buf, "bands:\n");
    for (int i = 0; i < 24; i++) strcat(buf, "  - {type: bell, freq_hz: 1000, gain_db: 0.5}\n");
    void *ok = cfg_or_fail(buf);
    free(ok);
    expect_error("bands:\n  - {type: bell, freq_hz: 100, gain_db: 1}\n  - {type: bell, freq_hz: 100, gain_db: 99}\n",
                 "test:3:");
}

static void test_presets(void **st)
{
    (void)st;
    /* The shipped presets that use the eq parse, and their curves are sane. */
    const char *names[] = {"warm", "bright-air"};
    for (size_t i = 0; i < 2; i++) {
        lq_preset *p = NULL;
        char err[1024] = "";
        lq_error e = lq_preset_load(&p, names[i], LQ_SOURCE_DIR "/presets", NULL, err, sizeof err);
        if (e) fail_msg("preset %s: %s", names[i], err);
        int found = 0;
        for (size_t k = 0; k < p->n_master; k++) {
            if (p->master[k].vt != eq_vt()) continue;
            found = 1;
            double f[] = {20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 16000, 20000}, db[11];
            lq_diag d;
            assert_int_equal(lq_eq_curve(p->master[k].cfg, LQ_EQ_VIEW_MID, f, 11, db, &d), LQ_OK);
            print_message("%s: mid curve", names[i]);
            for (int j = 0; j < 11; j++) {
                print_message(" %g:%+.2f", f[j], db[j]);
                if (f[j] >= 50.0) assert_true(fabs(db[j]) < 6.0);  /* mastering-sized moves */
            }
            print_message("\n");
        }
        assert_true(found);
        lq_preset_destroy(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_flat_null),
        cmocka_unit_test(test_mid_side),
        cmocka_unit_test(test_linear_phase),
        cmocka_unit_test(test_zero_lag),
        cmocka_unit_test(test_blocks_and_reruns),
        cmocka_unit_test(test_silence),
        cmocka_unit_test(test_response_bell),
        cmocka_unit_test(test_response_shelves),
        cmocka_unit_test(test_response_pass),
        cmocka_unit_test(test_response_tilt),
        cmocka_unit_test(test_response_ten_bands),
        cmocka_unit_test(test_response_channels),
        cmocka_unit_test(test_presets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
