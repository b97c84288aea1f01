/* The true-peak limiter stage (src/stages/limiter.c): ceiling held on the output as
 * measured by an independent 16x meter, bit transparency below the ceiling, smooth
 * gain (derivative bound), THD+N, block-size independence, reruns, report figures,
 * config parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/node.h"
#include "core/divc.h"
#include "dsp/oversample.h"
#include "stage.h"
#include "stages/limiter.h"
#include "lqtest.h"
#include "synth.h"

#define PI 3.14159265358979323846
#define CEIL_DB -1.0

static double db(double v)
{
    return v > 0 ? 20.0 * log10(v) : -HUGE_VAL;
}

/* The ceiling is checked with the test suite's own 16x meter (tests/support,
 * lqt_true_peak_16x: 64-tap Kaiser phases, every phase evaluated), independent of the
 * limiter's detector and of libebur128's 4x. */
static double tp16(const double *x, size_t n)
{
    return lqt_true_peak_16x(x, n);
}

/* ---- running the stage ----------------------------------------------------- */

typedef struct run_result {
    double max_gr, mean_gr, lim_s;
    size_t latency;
} run_result;

static lq_limiter_config default_cfg(void)
{
    lq_limiter_config c;
    memset(&c, 0, sizeof c);
    lq_stage_limiter.config_default(&c);
    c.ceiling_dbtp = CEIL_DB;
    return c;
}

/* Block size for call number i: fixed, or random 1..4096 (block == 0). */
static size_t next_block(size_t block, uint64_t *rng)
{
    if (block) return block;
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return 1 + (size_t)((*rng >> 33) % 4096);
}

/* Process in[c][0..n) through a fresh limiter, drain the latency, and write the
 * latency-compensated output to out[c][0..n).  Optionally returns the state's figures
 * and JSON report. */
/* run() drives the stage through lq_limiter_detect + lq_limiter_apply instead of
 * process() (the split a pass runs on two threads, engine/finish.c) */
static int g_split;

static void run(const lq_limiter_config *cfg, double rate, int nc, double *const *in,
                double **out, size_t n, size_t block, run_result *rr, json_t *report)
{
    const lq_stage_vt *vt = &lq_stage_limiter;
    lq_stage_env env = {.sample_rate = rate, .channels = nc, .max_block = 4096};
    lq_diag d;
    void *st = NULL;
    assert_int_equal(vt->create(&st, cfg, &env, &d), LQ_OK);
    const size_t L = vt->latency(st);
    const size_t total = n + L;
    double *buf[2] = {malloc(4096 * sizeof(double)), malloc(4096 * sizeof(double))};
    assert_non_null(buf[0]);
    assert_non_null(buf[1]);
    uint64_t rng = 12345;
    size_t pos = 0;
    while (pos < total) {
        size_t k = next_block(block, &rng);
        if (k > total - pos) k = total - pos;
        for (int c = 0; c < nc; c++)
            for (size_t i = 0; i < k; i++)
                buf[c][i] = pos + i < n ? in[c][pos + i] : 0.0;
        if (g_split) {
            double pk0[4096], pk1[4096];
            double *pk[2] = {pk0, pk1};
            lq_limiter_detect(st, (const double *const *)buf, k, pk);
            lq_limiter_apply(st, buf, k, (const double *const *)pk);
        } else {
            vt->process(st, buf, k);
        }
        for (int c = 0; c < nc; c++)
            for (size_t i = 0; i < k; i++)
                if (pos + i >= L) out[c][pos + i - L] = buf[c][i];
        pos += k;
    }
    if (rr) {
        lq_limiter_stats(st, &rr->max_gr, &rr->mean_gr, &rr->lim_s);
        rr->latency = L;
    }
    if (report) vt->report(st, report);
    vt->destroy(st);
    free(buf[0]);
    free(buf[1]);
}

static void normalise_peak(double *x, size_t n, double peak)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > m) m = fabs(x[i]);
    for (size_t i = 0; i < n; i++) x[i] *= peak / m;
}

enum { SIG_WHITE, SIG_PINK, SIG_DRUMS, SIG_SQUARE, SIG_FS4, SIG_SWEEP, SIG_MIX, SIG_COUNT };
static const char *const sig_names[SIG_COUNT] = {"white", "pink",  "transients", "square",
                                                 "fs/4 45deg", "sweep", "mix"};

/* Stereo test signal, sample peak 1.0 (0 dBFS) before the drive. */
static void make_signal(int kind, double rate, double *l, double *r, size_t n, uint64_t seed)
{
    switch (kind) {
    case SIG_WHITE:
        lqs_white(l, n, 0.25, seed);
        lqs_white(r, n, 0.25, seed + 1);
        break;
    case SIG_PINK:
        lqs_pink(l, n, 0.2, seed);
        lqs_pink(r, n, 0.2, seed + 1);
        break;
    case SIG_DRUMS:
        lqs_transients(l, n, rate, 0.25, 1.0, seed);
        lqs_transients(r, n, rate, 0.19, 1.0, seed + 1);
        break;
    case SIG_SQUARE:
        lqs_square(l, n, rate, 997.0, 1.0);
        lqs_square(r, n, rate, 3001.0, 0.7);
        break;
    case SIG_FS4:
        lqs_sine(l, n, rate, rate / 4.0, 1.0, PI / 4.0);
        lqs_sine(r, n, rate, rate / 4.0, 0.8, PI / 4.0);
        break;
    case SIG_SWEEP:
        lqs_sweep(l, n, rate, 20.0, 20000.0, 1.0);
        lqs_sweep(r, n, rate, 20000.0, 20.0, 1.0);
        break;
    default:
        lqs_mix(l, r, n, rate, seed, 1.0);
        break;
    }
    normalise_peak(l, n, 1.0);
    normalise_peak(r, n, 1.0);
}

/* ---- ceiling ---------------------------------------------------------------- */

typedef struct tp_case {
    int sig;
    double rate, drive_db;
    int oversample;
    double link;
    int auto_release;
    double release_ms, lookahead_ms;
} tp_case;

/* Runs one case; returns the output's true peak margin below the ceiling (dB). */
static double check_ceiling(const tp_case *tc, double *worst_over)
{
    const size_t n = (size_t)(1.0 * tc->rate);
    double *in[2], *out[2];
    for (int c = 0; c < 2; c++) {
        in[c] = malloc(n * sizeof(double));
        out[c] = malloc(n * sizeof(double));
        assert_non_null(in[c]);
        assert_non_null(out[c]);
    }
    make_signal(tc->sig, tc->rate, in[0], in[1], n, 1000 + (uint64_t)tc->sig);
    const double g = pow(10.0, tc->drive_db / 20.0);
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < n; i++) in[c][i] *= g;
    lq_limiter_config cfg = default_cfg();
    cfg.oversample = tc->oversample;
    cfg.link = tc->link;
    cfg.auto_release = tc->auto_release;
    cfg.release_ms = tc->release_ms;
    cfg.lookahead_ms = tc->lookahead_ms;
    run_result rr;
    run(&cfg, tc->rate, 2, in, out, n, 4096, &rr, NULL);
    double tp_in = fmax(tp16(in[0], n), tp16(in[1], n));
    double tp_out = fmax(tp16(out[0], n), tp16(out[1], n));
    double over = db(tp_out) - CEIL_DB;
    printf("  %-11s %6.0f Hz %+5.1f dB os%-2d link %.1f%s: in %+6.2f dBTP, out %+8.4f dBTP "
           "(%+.4f dB vs ceiling), max GR %5.2f dB, mean %5.2f dB, limiting %.2f s\n",
           sig_names[tc->sig], tc->rate, tc->drive_db, tc->oversample, tc->link,
           tc->auto_release ? " auto" : "", db(tp_in), db(tp_out), over, rr.max_gr,
           rr.mean_gr, rr.lim_s);
    if (over > *worst_over) *worst_over = over;
    /* the limiter does limit (not more than 0.5 dB under the ceiling); the ceiling
     * itself is asserted by the caller over every case (so all figures get printed) */
    assert_true(over > -0.5);
    assert_true(rr.max_gr > 0.5);
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
    }
    return over;
}

static void test_ceiling_all_signals(void **st)
{
    (void)st;
    const double rates[3] = {44100.0, 48000.0, 96000.0};
    const double drives[2] = {6.0, 12.0};
    double worst = -HUGE_VAL;
    for (int ri = 0; ri < 3; ri++)
        for (int di = 0; di < 2; di++)
            for (int s = 0; s < SIG_COUNT; s++) {
                tp_case tc = {s, rates[ri], drives[di], 8, 1.0, 0, 80.0, 2.0};
                check_ceiling(&tc, &worst);
            }
    printf("worst output true peak vs ceiling (default settings): %+.4f dB\n", worst);
    assert_true(worst <= 0.0);
}

static void test_ceiling_settings(void **st)
{
    (void)st;
    double worst = -HUGE_VAL;
    const int sigs[4] = {SIG_WHITE, SIG_SQUARE, SIG_FS4, SIG_MIX};
    const int os[3] = {4, 8, 16};
    for (int i = 0; i < 4; i++)
        for (int o = 0; o < 3; o++) {
            tp_case tc = {sigs[i], 48000.0, 12.0, os[o], 0.5, o == 1, 20.0, 0.5 + 4.0 * o};
            check_ceiling(&tc, &worst);
        }
    /* unlinked, long lookahead, fast release */
    for (int i = 0; i < 4; i++) {
        tp_case tc = {sigs[i], 44100.0, 9.0, 8, 0.0, 0, 1.0, 10.0};
        check_ceiling(&tc, &worst);
    }
    printf("worst output true peak vs ceiling (other settings): %+.4f dB\n", worst);
    assert_true(worst <= 0.0);
}

/* ---- transparency ----------------------------------------------------------- */

static void test_transparent_below_ceiling(void **st)
{
    (void)st;
    const double rate = 48000.0;
    const size_t n = 48000;
    double *in[2], *out[2];
    for (int c = 0; c < 2; c++) {
        in[c] = malloc(n * sizeof(double));
        out[c] = malloc(n * sizeof(double));
        assert_non_null(in[c]);
        assert_non_null(out[c]);
    }
    const int sigs[4] = {SIG_MIX, SIG_PINK, SIG_SWEEP, SIG_FS4};
    for (int i = 0; i < 4; i++) {
        make_signal(sigs[i], rate, in[0], in[1], n, 77);
        /* true peak 0.1 dB under the ceiling */
        double tp = fmax(tp16(in[0], n), tp16(in[1], n));
        double g = pow(10.0, (CEIL_DB - 0.1) / 20.0) / tp;
        for (int c = 0; c < 2; c++)
            for (size_t k = 0; k < n; k++) in[c][k] *= g;
        lq_limiter_config cfg = default_cfg();
        run_result rr;
        run(&cfg, rate, 2, in, out, n, 64, &rr, NULL);
        printf("  %-11s at %.2f dBTP: max GR %.3g dB\n", sig_names[sigs[i]],
               db(fmax(tp16(in[0], n), tp16(in[1], n))), rr.max_gr);
        for (int c = 0; c < 2; c++)
            assert_memory_equal(in[c], out[c], n * sizeof(double));
        assert_true(rr.max_gr == 0.0 && rr.lim_s == 0.0);
    }
    /* after a limited burst, the gain returns exactly to 1: bit-identical again */
    lqs_pink(in[0], n, 0.1, 5);
    lqs_pink(in[1], n, 0.1, 6);
    for (int c = 0; c < 2; c++)
        for (size_t k = 0; k < n / 8; k++) in[c][k] *= 12.0;
    lq_limiter_config cfg = default_cfg();
    cfg.release_ms = 10.0;
    run_result rr;
    run(&cfg, rate, 2, in, out, n, 7, &rr, NULL);
    assert_true(rr.max_gr > 3.0);
    size_t first_equal = n;
    for (size_t k = n; k-- > 0;)
        if (in[0][k] != out[0][k] || in[1][k] != out[1][k]) {
            first_equal = k + 1;
            break;
        }
    printf("  burst (max GR %.2f dB, release 10 ms): bit-identical from %.3f s (burst ends "
           "%.3f s)\n",
           rr.max_gr, (double)first_equal / rate, (double)(n / 8) / rate);
    assert_true(first_equal < n / 2);
    /* latency: an impulse comes out exactly D frames later (run() compensates) */
    memset(in[0], 0, n * sizeof(double));
    memset(in[1], 0, n * sizeof(double));
    in[0][1000] = 0.5;
    in[1][2000] = -0.25;
    run(&cfg, rate, 2, in, out, n, 4096, &rr, NULL);
    assert_memory_equal(in[0], out[0], n * sizeof(double));
    assert_memory_equal(in[1], out[1], n * sizeof(double));
    /* D = LQ_OS_DELAY (interpolator) + S - 1 + H/2, S = 96 at 2 ms / 48 kHz */
    assert_int_equal(rr.latency, LQ_OS_DELAY + 96 - 1 + LQ_LIMITER_HOLD / 2);
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
    }
}

/* ---- smoothness and distortion ---------------------------------------------- */

/* THD+N (dB) of x[0..N) whose fundamental sits exactly on bin `bin` (coherent, so a
 * rectangular window leaks nothing): everything but the fundamental and DC. */
static double thdn_db(const double *x, size_t N, size_t bin)
{
    double *in = fftw_malloc(N * sizeof(double));
    fftw_complex *spec = fftw_malloc((N / 2 + 1) * sizeof(fftw_complex));
    assert_non_null(in);
    assert_non_null(spec);
    fftw_plan p = fftw_plan_dft_r2c_1d((int)N, in, spec, FFTW_ESTIMATE);
    memcpy(in, x, N * sizeof(double));
    fftw_execute(p);
    double fund = 0, rest = 0;
    for (size_t k = 1; k <= N / 2; k++) {
        double pw = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
        if (k == bin) fund += pw;
        else rest += pw;
    }
    fftw_destroy_plan(p);
    fftw_free(in);
    fftw_free(spec);
    return 10.0 * log10((rest + 1e-300) / fund);
}

/* Gain g[n] read from a probe channel: R = 2^-10 constant, linked, never limited by
 * itself, so out_R * 1024 is the gain exactly. */
static double sine_case(double rate, double freq_bins, double release_ms, int auto_rel,
                        double drive_db, double *thd, double *max_step, double *bound,
                        double *gmin_out, double *gr_ss)
{
    /* analysed: [pre, pre + N), away from the onset and from the end (where the
     * abrupt stop has its own intersample overshoot, limited in advance) */
    const size_t N = 65536, pre = (size_t)(1.0 * rate), n = pre + N + (size_t)(0.1 * rate);
    const double f = freq_bins * rate / (double)N;
    double *in[2], *out[2];
    for (int c = 0; c < 2; c++) {
        in[c] = calloc(n, sizeof(double));
        out[c] = calloc(n, sizeof(double));
        assert_non_null(in[c]);
        assert_non_null(out[c]);
    }
    const double amp = pow(10.0, (CEIL_DB + drive_db) / 20.0);
    /* the sine starts abruptly at 0.1 s (the probe is on from the start, so the whole
     * attack ramp is visible), then runs to the end */
    for (size_t i = 0; i < n; i++) {
        in[0][i] = i < (size_t)(0.1 * rate) ? 0.0 : amp * sin(2.0 * PI * f * (double)i / rate);
        in[1][i] = 1.0 / 1024.0;
    }
    lq_limiter_config cfg = default_cfg();
    cfg.release_ms = release_ms;
    cfg.auto_release = auto_rel;
    run(&cfg, rate, 2, in, out, n, 4096, NULL, NULL);
    double gmin = 1.0, mstep = 0;
    for (size_t i = 0; i < n; i++) {
        double g = out[1][i] * 1024.0;
        if (g < gmin) gmin = g;
        if (i > 0) {
            double step = fabs(g - out[1][i - 1] * 1024.0);
            if (step > mstep) mstep = step;
        }
    }
    /* the bound of limiter.c: (1 - min g) / W2 per sample, attack and release alike
     * (the release is smoothed by the same running means), + rounding */
    const size_t S = (size_t)floor(cfg.lookahead_ms * 1e-3 * rate + 0.5);
    const size_t W2 = S + 1 - (S + 1) / 2;
    *bound = (1.0 - gmin) / (double)W2 + 1e-9;
    *max_step = mstep;
    *gmin_out = gmin;
    double gss = 1.0;
    for (size_t i = pre; i < pre + N; i++) gss = fmin(gss, out[1][i] * 1024.0);
    *gr_ss = -db(gss);
    *thd = thdn_db(out[0] + pre, N, (size_t)freq_bins);
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
    }
    return f;
}

static void test_sine_thdn_and_smoothness(void **st)
{
    (void)st;
    double thd, step, bound, gmin, grss;
    /* 1 kHz (bin 1365 of 65536 at 48 kHz = 999.76 Hz), 6 dB into the limiter.  Every
     * half period (24 samples) is shorter than the gain's hold (S+H = 104 samples), so
     * the steady-state gain only moves with the detector's ripple between phases
     * (below 1e-4), which sets the THD+N. */
    double f = sine_case(48000.0, 1365.0, 80.0, 0, 6.0, &thd, &step, &bound, &gmin, &grss);
    printf("  %.2f Hz +6 dB, release 80 ms: THD+N %.1f dB, GR %.3f dB (onset %.3f dB), "
           "max |dg| %.5f (bound %.5f)\n",
           f, thd, grss, -db(gmin), step, bound);
    assert_true(thd < -100.0);
    assert_true(step <= bound);
    assert_true(step > 0.5 * bound); /* the onset does ramp at about the bound */
    assert_true(fabs(grss - (6.0 + LQ_LIMITER_MARGIN_DB)) < 0.02);
    /* 100 Hz: peaks every 5 ms, so the gain dips at each one and recovers in between:
     * the distortion this costs, for release 80 ms, 20 ms and auto */
    const double rels[3] = {80.0, 20.0, 80.0};
    const double max_thd[3] = {-57.0, -46.0, -61.0};
    for (int i = 0; i < 3; i++) {
        f = sine_case(48000.0, 137.0, rels[i], i == 2, 6.0, &thd, &step, &bound, &gmin, &grss);
        printf("  %.2f Hz +6 dB, release %.0f ms%s: THD+N %.1f dB, max GR %.2f dB, max "
               "|dg| %.5f (bound %.5f)\n",
               f, rels[i], i == 2 ? " auto" : "", thd, grss, step, bound);
        assert_true(thd < max_thd[i]);
        assert_true(step <= bound);
    }
}

/* ---- determinism ------------------------------------------------------------- */

static void test_block_size_independence(void **st)
{
    (void)st;
    const double rate = 44100.0;
    const size_t n = 30000;
    double *in[2], *ref[2], *out[2];
    for (int c = 0; c < 2; c++) {
        in[c] = malloc(n * sizeof(double));
        ref[c] = malloc(n * sizeof(double));
        out[c] = malloc(n * sizeof(double));
        assert_non_null(in[c]);
        assert_non_null(ref[c]);
        assert_non_null(out[c]);
    }
    make_signal(SIG_MIX, rate, in[0], in[1], n, 3);
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < n; i++) in[c][i] *= 4.0;
    const double links[2] = {1.0, 0.3};
    for (int li = 0; li < 2; li++) {
        lq_limiter_config cfg = default_cfg();
        cfg.link = links[li];
        cfg.auto_release = li;
        cfg.oversample = li ? 16 : 8;
        run(&cfg, rate, 2, in, ref, n, 4096, NULL, NULL);
        const size_t blocks[5] = {1, 7, 64, 4096, 0};
        for (int b = 0; b < 5; b++) {
            run(&cfg, rate, 2, in, out, n, blocks[b], NULL, NULL);
            for (int c = 0; c < 2; c++)
                assert_memory_equal(ref[c], out[c], n * sizeof(double));
        }
        /* a rerun after reset() equals a fresh instance */
        const lq_stage_vt *vt = &lq_stage_limiter;
        lq_stage_env env = {.sample_rate = rate, .channels = 2, .max_block = 4096};
        lq_diag d;
        void *s = NULL;
        assert_int_equal(vt->create(&s, &cfg, &env, &d), LQ_OK);
        double *buf[2] = {malloc(n * sizeof(double)), malloc(n * sizeof(double))};
        assert_non_null(buf[0]);
        assert_non_null(buf[1]);
        for (int pass = 0; pass < 2; pass++) {
            memcpy(buf[0], in[0], n * sizeof(double));
            memcpy(buf[1], in[1], n * sizeof(double));
            vt->process(s, buf, n);
            const size_t L = vt->latency(s);
            for (int c = 0; c < 2; c++)
                assert_memory_equal(buf[c] + L, ref[c], (n - L) * sizeof(double));
            vt->reset(s);
        }
        vt->destroy(s);
        free(buf[0]);
        free(buf[1]);
    }
    /* mono */
    lq_limiter_config cfg = default_cfg();
    run(&cfg, rate, 1, in, ref, n, 4096, NULL, NULL);
    run(&cfg, rate, 1, in, out, n, 0, NULL, NULL);
    assert_memory_equal(ref[0], out[0], n * sizeof(double));
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(ref[c]);
        free(out[c]);
    }
}

/* ---- report ------------------------------------------------------------------ */

static void test_report(void **st)
{
    (void)st;
    const double rate = 48000.0;
    const size_t n = 2 * 48000 + 100;
    double *in[2], *out[2];
    for (int c = 0; c < 2; c++) {
        in[c] = calloc(n, sizeof(double));
        out[c] = calloc(n, sizeof(double));
        assert_non_null(in[c]);
        assert_non_null(out[c]);
    }
    /* 0.5 s of a sine 6 dB over, then 1.5 s at -20 dBFS */
    const double amp = pow(10.0, (CEIL_DB + 6.0) / 20.0);
    for (size_t i = 0; i < n; i++) {
        double a = i < n / 4 ? amp : 0.1;
        in[0][i] = in[1][i] = a * sin(2.0 * PI * 1000.0 * (double)i / rate);
    }
    lq_limiter_config cfg = default_cfg();
    cfg.push_warn_db = 5.0;
    run_result rr;
    json_t *obj = json_object();
    run(&cfg, rate, 2, in, out, n, 4096, &rr, obj);
    /* expected: 6 dB + the margin while the sine is loud, then the
     * release g = 1 - (1 - g0) exp(-t / tau) until the reduction is under 0.01 dB */
    const double gr0 = 6.0 + LQ_LIMITER_MARGIN_DB;
    const double tau = cfg.release_ms * 1e-3, g0 = pow(10.0, -gr0 / 20.0);
    const double t_loud = (double)(n / 4) / rate, dur = (double)n / rate;
    const double t_rel = tau * log((1.0 - g0) / (1.0 - pow(10.0, -0.01 / 20.0)));
    double tail = 0; /* integral of the release's reduction in dB.s */
    for (double t = 0; t < 2.0; t += 1e-5)
        tail += -20.0 * log10(1.0 - (1.0 - g0) * exp(-t / tau)) * 1e-5;
    const double mean_expected = (gr0 * t_loud + tail) / dur;
    printf("  max GR %.3f dB, mean %.3f dB (expected %.3f), limiting %.4f s (expected "
           "%.4f)\n",
           rr.max_gr, rr.mean_gr, mean_expected, rr.lim_s, t_loud + t_rel);
    assert_true(fabs(rr.max_gr - gr0) < 0.02);
    assert_true(fabs(rr.mean_gr - mean_expected) < 0.02);
    /* the attack starts up to one lookahead (2 ms) early */
    assert_true(fabs(rr.lim_s - (t_loud + t_rel)) < 0.005);
    assert_true(json_is_true(json_object_get(obj, "pushed_hard")));
    assert_true(fabs(json_real_value(json_object_get(obj, "max_gr_db")) - rr.max_gr) < 0.01);
    json_t *env = json_object_get(obj, "gr_envelope");
    assert_non_null(env);
    assert_true(fabs(json_real_value(json_object_get(env, "interval_s")) - 0.1) < 1e-12);
    json_t *arr = json_object_get(env, "max_gr_db");
    assert_int_equal(json_array_size(arr), 21); /* 20 full windows + the last partial */
    double emax = 0;
    for (size_t i = 0; i < json_array_size(arr); i++)
        emax = fmax(emax, json_real_value(json_array_get(arr, i)));
    assert_true(fabs(emax - rr.max_gr) < 0.01);
    assert_true(json_real_value(json_array_get(arr, 2)) > 5.9);
    assert_true(json_real_value(json_array_get(arr, 15)) == 0.0);
    json_decref(obj);
    /* a long run at a low rate: the envelope stays bounded (halves its resolution) */
    {
        const size_t big = 1000000;
        double *x = calloc(big, sizeof(double));
        double *y = calloc(big, sizeof(double));
        assert_non_null(x);
        assert_non_null(y);
        for (size_t i = 0; i < big; i += 5000) x[i] = 2.0;
        double *xi[2] = {x, NULL}, *yo[2] = {y, NULL};
        obj = json_object();
        run(&cfg, 1000.0, 1, xi, yo, big, 4096, NULL, obj);
        env = json_object_get(obj, "gr_envelope");
        arr = json_object_get(env, "max_gr_db");
        double iv = json_real_value(json_object_get(env, "interval_s"));
        printf("  1000000 frames at 1 kHz: %zu envelope points every %.2f s\n",
               json_array_size(arr), iv);
        assert_true(json_array_size(arr) <= 8192);
        assert_true(fabs(iv * (double)json_array_size(arr) - 1000.0) < 2 * iv);
        json_decref(obj);
        free(x);
        free(y);
    }
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
    }
}


/* The running means' floors by multiply and shift (core/divc.h) against the hardware
 * division: every divisor a limiter can have (lookahead up to 10 ms at 768 kHz gives
 * W up to 3841) and then some, at the edges of each quotient and at random up to
 * 2^63 - 1. */
static void test_exact_division(void **st)
{
    (void)st;
    uint64_t r = 0x9E3779B97F4A7C15ull;
    long long checked = 0;
    for (uint64_t d = 1; d <= 5000; d++) {
        const lq_divc c = lq_divc_init(d);
        for (int k = 0; k < 64; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            const int64_t base = (int64_t)(r >> 1);
            const int64_t q = base / (int64_t)d;
            const int64_t ns[6] = {base, q * (int64_t)d, q * (int64_t)d - 1 < 0 ? 0 : q * (int64_t)d - 1,
                                   (int64_t)(k * d), (int64_t)(k * d + d - 1), INT64_MAX - k};
            for (int i = 0; i < 6; i++) {
                if (lq_divc_div(ns[i], c) != ns[i] / (int64_t)d)
                    fail_msg("%lld / %llu: %lld, expected %lld", (long long)ns[i],
                             (unsigned long long)d, (long long)lq_divc_div(ns[i], c),
                             (long long)(ns[i] / (int64_t)d));
                checked++;
            }
        }
    }
    const uint64_t big[4] = {1ull << 40, (1ull << 62) + 3, INT64_MAX, (uint64_t)INT64_MAX + 1};
    for (int b = 0; b < 4; b++) {
        const lq_divc c = lq_divc_init(big[b]);
        const int64_t ns[3] = {0, INT64_MAX, (int64_t)(big[b] - 1 > (uint64_t)INT64_MAX ? INT64_MAX : big[b] - 1)};
        for (int i = 0; i < 3; i++) assert_true(lq_divc_div(ns[i], c) == (int64_t)((uint64_t)ns[i] / big[b]));
    }
    printf("  %lld quotients exact\n", checked);
}

/* The limiter in two halves (lq_limiter_detect, then lq_limiter_apply, block by block:
 * what a closed-loop pass runs on two threads) gives process()'s output to the bit, and
 * the same figures: a generated mix driven 9 dB over, transients and noise, stereo at
 * link 1 and 0.5 and mono, in random block sizes. */
static void test_split_halves(void **st)
{
    (void)st;
    const double rate = 44100.0;
    const size_t n = (size_t)(8.0 * rate);
    double *in[2], *a[2], *b[2];
    for (int c = 0; c < 2; c++) {
        in[c] = malloc(n * sizeof(double));
        a[c] = malloc(n * sizeof(double));
        b[c] = malloc(n * sizeof(double));
        assert_true(in[c] && a[c] && b[c]);
    }
    for (int sig = 0; sig < 3; sig++) {
        if (sig == 0) lqs_mix_style(in[0], in[1], n, rate, 5, LQS_STYLE_DENSE);
        if (sig == 1) {
            lqs_transients(in[0], n, rate, 0.25, 0.9, 7);
            lqs_transients(in[1], n, rate, 0.31, 0.7, 8);
        }
        if (sig == 2) {
            lqs_white(in[0], n, 0.3, 9);
            lqs_white(in[1], n, 0.2, 10);
        }
        for (int c = 0; c < 2; c++) {
            normalise_peak(in[c], n, 1.0);
            for (size_t i = 0; i < n; i++) in[c][i] *= pow(10.0, 9.0 / 20.0);
        }
        for (int v = 0; v < 3; v++) {
            lq_limiter_config cfg = default_cfg();
            cfg.link = v == 1 ? 0.5 : 1.0;
            const int nc = v == 2 ? 1 : 2;
            run_result ra, rb;
            g_split = 0;
            run(&cfg, rate, nc, in, a, n, 0, &ra, NULL);
            g_split = 1;
            run(&cfg, rate, nc, in, b, n, 0, &rb, NULL);
            g_split = 0;
            for (int c = 0; c < nc; c++)
                if (memcmp(a[c], b[c], n * sizeof(double)) != 0)
                    fail_msg("signal %d, variant %d, channel %d: the halves differ", sig, v, c);
            assert_true(ra.max_gr == rb.max_gr && ra.mean_gr == rb.mean_gr && ra.lim_s == rb.lim_s);
            assert_true(ra.max_gr > 8.0);   /* really limited */
        }
        printf("  signal %d: the halves give process()'s bits (stereo link 1, 0.5; mono)\n", sig);
    }
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(a[c]);
        free(b[c]);
    }
}

/* ---- config ------------------------------------------------------------------ */

static lq_error parse(const char *yaml, lq_limiter_config *c, lq_diag *d)
{
    lq_node *root = NULL;
    memset(c, 0, sizeof *c);
    lq_stage_limiter.config_default(c);
    lq_error e = lq_node_parse_string(&root, yaml, "test.yaml", d);
    if (e) return e;
    e = lq_stage_limiter.config_parse(c, root, d);
    lq_node_free(root);
    return e;
}

static void test_config(void **st)
{
    (void)st;
    assert_ptr_equal(lq_stage_find("limiter"), &lq_stage_limiter);
    lq_limiter_config c;
    lq_diag d;
    assert_int_equal(parse("{}", &c, &d), LQ_OK);
    assert_true(c.lookahead_ms == 2.0 && c.release_ms == 80.0 && c.oversample == 8 &&
                c.link == 1.0 && c.auto_release == 0 && c.push_warn_db == 6.0 &&
                c.ceiling_dbtp == -1.0);
    assert_int_equal(parse("{lookahead_ms: 3.5, release_ms: 120, auto_release: true, "
                           "oversample: 16, link: 0.5, push_warn_db: 4}",
                           &c, &d),
                     LQ_OK);
    assert_true(c.lookahead_ms == 3.5 && c.release_ms == 120.0 && c.oversample == 16 &&
                c.link == 0.5 && c.auto_release == 1 && c.push_warn_db == 4.0);
    const char *bad[] = {"{oversample: 5}",      "{oversample: 32}",  "{lookahead_ms: 0.2}",
                         "{lookahead_ms: 11}",   "{release_ms: 0.5}", "{release_ms: 2000}",
                         "{link: 1.5}",          "{push_warn_db: 31}", "{ceiling_dbtp: -2}",
                         "{auto_release: maybe}", "{release: 80}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lq_error e = parse(bad[i], &c, &d);
        printf("  %-24s -> %s\n", bad[i], d.msg);
        assert_int_equal(e, LQ_ERR_PRESET);
    }
    assert_int_equal(parse("{oversample: 5}", &c, &d), LQ_ERR_PRESET);
    assert_non_null(strstr(d.msg, "expected 4, 8 or 16"));
    assert_non_null(strstr(d.msg, "test.yaml:1:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_exact_division),
        cmocka_unit_test(test_split_halves),
        cmocka_unit_test(test_transparent_below_ceiling),
        cmocka_unit_test(test_sine_thdn_and_smoothness),
        cmocka_unit_test(test_block_size_independence),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_ceiling_all_signals),
        cmocka_unit_test(test_ceiling_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
