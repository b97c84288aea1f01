/* The multiband stage (src/stages/multiband.c): null with the compressor idle, band
 * isolation, static curve through the crossovers, independence of the bands, stereo
 * link, mid/side, block-size independence, reruns, silence, report, config parsing and
 * the shipped presets that use it. */
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
#include "stage.h"
#include "synth.h"

#define PI 3.14159265358979323846

/* ---- helpers ------------------------------------------------------------------ */

/* Parse a multiband config from YAML text (the stage's map); NULL on error, with the
 * message in d. */
static void *parse_cfg(const char *yaml, lq_diag *d)
{
    const lq_stage_vt *vt = lq_stage_find("multiband");
    assert_non_null(vt);
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

/* Run the stage over in[0..nch)[0..n) with latency compensation (the first `latency`
 * output frames dropped, `latency` frames of silence fed at the end), so out lines up
 * with in.  block 0 = random block sizes from `seed`.  If report is not NULL it gets the
 * stage's report object. */
static void run_stage(const void *cfg, double fs, int nch, double *const *in,
                      double *const *out, size_t n, size_t block, uint64_t seed,
                      json_t **report)
{
    const lq_stage_vt *vt = lq_stage_find("multiband");
    const size_t maxb = block ? block : 5000;
    lq_stage_env env = {.sample_rate = fs, .channels = nch, .max_block = maxb, .seed = 1};
    void *st = NULL;
    lq_diag d = {{0}};
    if (vt->create(&st, cfg, &env, &d) != LQ_OK) fail_msg("create failed: %s", d.msg);
    const size_t lat = vt->latency(st), total = n + lat;
    double *work[2] = {malloc(maxb * sizeof(double)), malloc(maxb * sizeof(double))};
    assert_true(work[0] && work[1]);
    lqs_rng rng;
    lqs_rng_seed(&rng, seed);
    size_t t = 0;
    while (t < total) {
        size_t b = block ? block : 1 + (size_t)(lqs_rng_uniform(&rng) * (double)maxb);
        if (b > maxb) b = maxb;
        if (b > total - t) b = total - t;
        for (int c = 0; c < nch; c++)
            for (size_t i = 0; i < b; i++) work[c][i] = t + i < n ? in[c][t + i] : 0.0;
        vt->process(st, work, b);
        for (int c = 0; c < nch; c++)
            for (size_t i = 0; i < b; i++)
                if (t + i >= lat) out[c][t + i - lat] = work[c][i];
        t += b;
    }
    if (report) {
        *report = json_object();
        vt->report(st, *report);
    }
    vt->destroy(st);
    free(work[0]);
    free(work[1]);
}

static double **alloc2(size_t n)
{
    double **p = malloc(2 * sizeof *p);
    assert_non_null(p);
    p[0] = calloc(n, sizeof(double));
    p[1] = calloc(n, sizeof(double));
    assert_true(p[0] && p[1]);
    return p;
}

static void free2(double **p)
{
    free(p[0]);
    free(p[1]);
    free(p);
}

/* Amplitude of the f Hz component over [a, b) (least squares on sin/cos; the window
 * should hold whole periods of every tone present). */
static double tone_amp(const double *x, size_t a, size_t b, double fs, double f)
{
    double sc = 0.0, ss = 0.0;
    for (size_t i = a; i < b; i++) {
        const double w = 2.0 * PI * f * (double)i / fs;
        sc += x[i] * cos(w);
        ss += x[i] * sin(w);
    }
    const double m = (double)(b - a);
    return 2.0 * sqrt(sc * sc + ss * ss) / m;
}

static double db(double v)
{
    return 20.0 * log10(v);
}

/* YAML for an idle-or-compressing stage with these crossovers; every band gets `band`. */
static char *yaml_bands(const double *xo, int ncx, const char *band, const char *extra)
{
    char *s = malloc(4096);
    assert_non_null(s);
    int k = snprintf(s, 4096, "{%s%scrossovers_hz: [", extra ? extra : "",
                     extra ? ", " : "");
    for (int i = 0; i < ncx; i++) k += snprintf(s + k, 4096 - (size_t)k, "%s%g", i ? ", " : "", xo[i]);
    k += snprintf(s + k, 4096 - (size_t)k, "], bands: [");
    for (int i = 0; i <= ncx; i++)
        k += snprintf(s + k, 4096 - (size_t)k, "%s%s", i ? ", " : "", band);
    snprintf(s + k, 4096 - (size_t)k, "]}");
    return s;
}

static const double XO[5][5] = {
    {200.0},
    {150.0, 2000.0},
    {120.0, 800.0, 5000.0},
    {100.0, 500.0, 2500.0, 8000.0},
    {80.0, 250.0, 1000.0, 4000.0, 12000.0},
};

/* ---- tests -------------------------------------------------------------------- */

/* Compressor idle, two ways (ratio 1; threshold 0 dBFS above a -9 dBFS signal): the
 * output nulls with the input (< -120 dB, peak residual relative to full scale and RMS
 * residual relative to the signal) for 2..6 bands at 44.1, 48, 96 and 192 kHz.  Signal:
 * pink noise + transients + a log sweep, different on the two channels. */
static void test_null_idle(void **st)
{
    (void)st;
    const double rates[] = {44100.0, 48000.0, 96000.0, 192000.0};
    const char *idle[] = {"{threshold_db: -40, ratio: 1}",
                          "{threshold_db: 0, ratio: 4, knee_db: 6}"};
    double worst = -HUGE_VAL;
    for (int r = 0; r < 4; r++) {
        const double fs = rates[r];
        const size_t n = (size_t)(0.4 * fs);
        double **in = alloc2(n), **out = alloc2(n), *tmp = malloc(n * sizeof(double));
        assert_non_null(tmp);
        lqs_pink(in[0], n, 0.05, 3 + (uint64_t)r);
        lqs_transients(tmp, n, fs, 0.1, 0.2, 4);
        for (size_t i = 0; i < n; i++) in[0][i] += tmp[i];
        lqs_sweep(in[1], n, fs, 20.0, 0.45 * fs, 0.3);
        lqs_white(tmp, n, 0.02, 5);
        for (size_t i = 0; i < n; i++) in[1][i] += tmp[i];
        for (int nb = 2; nb <= 6; nb++)
            for (int v = 0; v < 2; v++) {
                char *y = yaml_bands(XO[nb - 2], nb - 1, idle[v], NULL);
                void *cfg = cfg_or_fail(y);
                run_stage(cfg, fs, 2, in, out, n, 4096, 0, NULL);
                double pk = 0.0, se = 0.0, ss = 0.0;
                for (int c = 0; c < 2; c++)
                    for (size_t i = 0; i < n; i++) {
                        const double e = out[c][i] - in[c][i];
                        if (fabs(e) > pk) pk = fabs(e);
                        se += e * e;
                        ss += in[c][i] * in[c][i];
                    }
                const double pk_db = pk > 0.0 ? db(pk) : -400.0;
                const double rel_db = se > 0.0 ? 10.0 * log10(se / ss) : -400.0;
                printf("null %d bands %6.0f Hz %-7s: peak residual %7.1f dBFS, rms residual "
                       "%7.1f dB re signal\n", nb, fs, v ? "thresh" : "ratio1", pk_db, rel_db);
                if (pk_db > worst) worst = pk_db;
                if (pk_db > -120.0 || rel_db > -120.0)
                    fail_msg("null failed: %d bands at %.0f Hz (%s): peak %.1f dBFS, rms "
                             "%.1f dB", nb, fs, y, pk_db, rel_db);
                free(cfg);
                free(y);
            }
        free2(in);
        free2(out);
        free(tmp);
    }
    printf("worst null residual: %.1f dBFS\n", worst);
}

/* Band isolation through solo: a sine one octave inside a band is at least 48 dB down
 * in each neighbouring band's output (the issue asks 40), and passes its own band
 * within 0.1 dB.  Also the
 * soloed bands of a noise signal add up to the input. */
static void test_isolation(void **st)
{
    (void)st;
    const double rates[] = {44100.0, 96000.0};
    const double xo[3] = {120.0, 800.0, 5000.0};
    /* test tones: one octave inside the band from each of its edges */
    const double tones[4][2] = {{60.0, 60.0}, {240.0, 400.0}, {1600.0, 2500.0},
                                {10000.0, 10000.0}};
    double worst = -HUGE_VAL;
    for (int r = 0; r < 2; r++) {
        const double fs = rates[r];
        const size_t n = (size_t)(1.0 * fs), a = n / 4, b = a + (size_t)(0.5 * fs);
        double **in = alloc2(n), **out = alloc2(n), **acc = alloc2(n);
        for (int band = 0; band < 4; band++)
            for (int ti = 0; ti < 2; ti++) {
                const double f = tones[band][ti];
                lqs_sine(in[0], n, fs, f, 0.5, 0.0);
                lqs_sine(in[1], n, fs, f, 0.25, 1.0);
                const double ain = tone_amp(in[0], a, b, fs, f);
                for (int j = band - 1; j <= band + 1; j++) {
                    if (j < 0 || j > 3) continue;
                    char y[512];
                    snprintf(y, sizeof y,
                             "{crossovers_hz: [120, 800, 5000], bands: ["
                             "{threshold_db: -20, ratio: 1, solo: %s}, "
                             "{threshold_db: -20, ratio: 1, solo: %s}, "
                             "{threshold_db: -20, ratio: 1, solo: %s}, "
                             "{threshold_db: -20, ratio: 1, solo: %s}]}",
                             j == 0 ? "true" : "false", j == 1 ? "true" : "false",
                             j == 2 ? "true" : "false", j == 3 ? "true" : "false");
                    void *cfg = cfg_or_fail(y);
                    run_stage(cfg, fs, 2, in, out, n, 1024, 0, NULL);
                    free(cfg);
                    const double g = db(tone_amp(out[0], a, b, fs, f) / ain);
                    printf("%6.0f Hz: %7.0f Hz sine (band %d) in band %d solo: %8.2f dB\n", fs,
                           f, band + 1, j + 1, g);
                    if (j == band) {
                        if (fabs(g) > 0.1)
                            fail_msg("%.0f Hz sine through its own band %d: %.3f dB", f,
                                     band + 1, g);
                    } else {
                        if (g > worst) worst = g;
                        /* the issue asks 40 dB; each tone is exactly one octave from a
                         * crossover, so this is also the 48 dB/oct slope claim */
                        if (g > -48.0)
                            fail_msg("%.0f Hz sine (band %d) in band %d: only %.2f dB down "
                                     "at %.0f Hz (crossovers %g %g %g)", f, band + 1, j + 1, g,
                                     fs, xo[0], xo[1], xo[2]);
                    }
                }
            }
        /* the four solos of pink noise add up to the input */
        lqs_pink(in[0], n, 0.1, 17);
        lqs_white(in[1], n, 0.1, 18);
        memset(acc[0], 0, n * sizeof(double));
        memset(acc[1], 0, n * sizeof(double));
        for (int j = 0; j < 4; j++) {
            char y[512];
            snprintf(y, sizeof y,
                     "{crossovers_hz: [120, 800, 5000], bands: ["
                     "{threshold_db: -20, ratio: 1, solo: %s}, "
                     "{threshold_db: -20, ratio: 1, solo: %s}, "
                     "{threshold_db: -20, ratio: 1, solo: %s}, "
                     "{threshold_db: -20, ratio: 1, solo: %s}]}",
                     j == 0 ? "true" : "false", j == 1 ? "true" : "false",
                     j == 2 ? "true" : "false", j == 3 ? "true" : "false");
            void *cfg = cfg_or_fail(y);
            run_stage(cfg, fs, 2, in, out, n, 777, 0, NULL);
            free(cfg);
            for (int c = 0; c < 2; c++)
                for (size_t i = 0; i < n; i++) acc[c][i] += out[c][i];
        }
        double pk = 0.0;
        for (int c = 0; c < 2; c++)
            for (size_t i = 0; i < n; i++)
                if (fabs(acc[c][i] - in[c][i]) > pk) pk = fabs(acc[c][i] - in[c][i]);
        printf("%6.0f Hz: sum of the 4 soloed bands vs input: peak residual %.1f dBFS\n", fs,
               pk > 0 ? db(pk) : -400.0);
        assert_true(pk < 1e-6);  /* -120 dBFS */
        free2(in);
        free2(out);
        free2(acc);
    }
    printf("worst neighbouring-band leak of a tone one octave inside: %.1f dB\n", worst);
}

/* Static curve through the whole stage: a steady 2 kHz sine (inside band 3 of
 * 120/800/5000) stepped from -60 to 0 dBFS in 3 dB steps; band 3 compresses with threshold -30 dB,
 * ratios 1.5, 2, 4, inf and knees 0, 6, 12; the output tone's gain is the designed
 * curve within 0.25 dB. */
static void test_static_curve(void **st)
{
    (void)st;
    const double fs = 44100.0, f = 2000.0;
    /* 150 ms per level; the gain is measured 85..115 ms into each step: after the
     * attack has settled and before the next step's pre-ringing (the linear-phase
     * crossovers ring +-33 ms around a level jump at the 120 Hz crossover) arrives. */
    const size_t step = (size_t)(0.15 * fs), meas = (size_t)(0.03 * fs);
    const size_t meas_end = (size_t)(0.115 * fs);
    const int nlev = 21; /* -60..0 in 3 dB steps */
    const size_t n = step * (size_t)nlev;
    double **in = alloc2(n), **out = alloc2(n);
    for (int l = 0; l < nlev; l++) {
        const double a = pow(10.0, (-60.0 + 3.0 * l) / 20.0);
        for (size_t i = 0; i < step; i++) {
            const size_t t = (size_t)l * step + i;
            in[0][t] = a * sin(2.0 * PI * f * (double)t / fs);
        }
    }
    const char *ratios[] = {"1.5", "2", "4", "inf"};
    const double rv[] = {1.5, 2.0, 4.0, INFINITY};
    const double knees[] = {0.0, 6.0, 12.0};
    double worst = 0.0;
    for (int ri = 0; ri < 4; ri++)
        for (int ki = 0; ki < 3; ki++) {
            char y[600];
            snprintf(y, sizeof y,
                     "{crossovers_hz: [120, 800, 5000], bands: ["
                     "{threshold_db: -30, ratio: 1}, {threshold_db: -30, ratio: 1}, "
                     "{threshold_db: -30, ratio: %s, knee_db: %g, attack_ms: 5, "
                     "release_ms: 50}, {threshold_db: -30, ratio: 1}]}",
                     ratios[ri], knees[ki]);
            void *cfg = cfg_or_fail(y);
            run_stage(cfg, fs, 1, in, out, n, 4096, 0, NULL);
            free(cfg);
            for (int l = 0; l < nlev; l++) {
                const size_t e = (size_t)l * step + meas_end, s0 = e - meas;
                const double x = -60.0 + 3.0 * l;
                const double got = db(tone_amp(out[0], s0, e, fs, f) /
                                      tone_amp(in[0], s0, e, fs, f));
                /* Giannoulis et al. eq. 4, written out again here */
                const double T = -30.0, W = knees[ki], ir = 1.0 / rv[ri];
                double want;
                if (2.0 * (x - T) < -W)
                    want = 0.0;
                else if (2.0 * fabs(x - T) <= W && W > 0.0)
                    want = (ir - 1.0) * (x - T + W / 2) * (x - T + W / 2) / (2.0 * W);
                else
                    want = (ir - 1.0) * (x - T);
                if (fabs(got - want) > worst) worst = fabs(got - want);
                if (getenv("LQ_TEST_VERBOSE"))
                    printf("ratio %s knee %g level %.0f: %.4f vs %.4f\n", ratios[ri],
                           knees[ki], x, got, want);
                if (fabs(got - want) > 0.25)
                    fail_msg("ratio %s knee %g: at %.0f dBFS gain %.3f dB, designed %.3f dB",
                             ratios[ri], knees[ki], x, got, want);
            }
        }
    printf("static curve through the crossovers: worst error %.4f dB (12 curves x 21 "
           "levels)\n", worst);
    free2(in);
    free2(out);
}

/* Time constants through the whole stage: a 2 kHz tone (band 3) steps 10 dB up and
 * down, 10 and 20 dB over a -40 dBFS threshold at 4:1; the gain of the output tone,
 * measured per period (24 samples at 48 kHz), moves 10->90 % in the set attack and
 * release times within 10 %. */
static void test_time_constants(void **st)
{
    (void)st;
    const double fs = 48000.0, f = 2000.0;
    const size_t per = 24, seg = (size_t)(1.5 * fs), n = 3 * seg;
    const double atk[] = {20.0, 50.0}, rel[] = {200.0, 500.0};
    double **in = alloc2(n), **out = alloc2(n);
    for (size_t i = 0; i < n; i++) {
        const double a = (i >= seg && i < 2 * seg) ? pow(10.0, -20.0 / 20.0)
                                                   : pow(10.0, -30.0 / 20.0);
        in[0][i] = a * sin(2.0 * PI * f * (double)i / fs);
    }
    const size_t np = n / per;
    double *g = malloc(np * sizeof(double));
    assert_non_null(g);
    for (int k = 0; k < 2; k++) {
        char y[600];
        snprintf(y, sizeof y,
                 "{crossovers_hz: [120, 800, 5000], bands: [{threshold_db: -40, ratio: 1}, "
                 "{threshold_db: -40, ratio: 1}, {threshold_db: -40, ratio: 4, knee_db: 0, "
                 "attack_ms: %g, release_ms: %g}, {threshold_db: -40, ratio: 1}]}",
                 atk[k], rel[k]);
        void *cfg = cfg_or_fail(y);
        run_stage(cfg, fs, 1, in, out, n, 4096, 0, NULL);
        free(cfg);
        for (size_t p = 0; p < np; p++) {
            double so = 0.0, si = 0.0;
            for (size_t i = p * per; i < (p + 1) * per; i++) {
                so += out[0][i] * out[0][i];
                si += in[0][i] * in[0][i];
            }
            g[p] = 10.0 * log10(so / si);
        }
        /* steady gains: -7.5 dB (10 dB over), -15 dB (20 dB over) */
        const double g0 = g[seg / per - 10], g1 = g[2 * seg / per - 10];
        assert_float_equal(g0, -7.5, 0.02);
        assert_float_equal(g1, -15.0, 0.02);
        /* 10 % and 90 % crossings, linearly interpolated between periods.  The 90 %
         * crossing is searched forwards from the step, the 10 % crossing backwards from
         * there: the periods right at the step hold a mix of both levels (and the
         * crossovers' pre-ringing), which must not count as the start of the change. */
        double tc[2][2];
        for (int dir = 0; dir < 2; dir++) {
            const double from = dir ? g1 : g0, to = dir ? g0 : g1;
            const double l10 = from + 0.1 * (to - from), l90 = from + 0.9 * (to - from);
            const size_t p0 = (dir ? 2 * seg : seg) / per;
            size_t p90 = p0;
            while (p90 + 1 < np && !((to < from) ? g[p90 + 1] <= l90 : g[p90 + 1] >= l90))
                p90++;
            tc[dir][1] = ((double)p90 + (l90 - g[p90]) / (g[p90 + 1] - g[p90])) * (double)per;
            size_t p10 = p90;
            while (p10 > p0 && ((to < from) ? g[p10] <= l10 : g[p10] >= l10)) p10--;
            tc[dir][0] = ((double)p10 + (l10 - g[p10]) / (g[p10 + 1] - g[p10])) * (double)per;
            tc[dir][0] *= 1000.0 / fs;
            tc[dir][1] *= 1000.0 / fs;
        }
        const double ma = tc[0][1] - tc[0][0], mr = tc[1][1] - tc[1][0];
        printf("stage: attack set %.0f ms measured %.2f ms, release set %.0f ms measured "
               "%.2f ms\n", atk[k], ma, rel[k], mr);
        if (fabs(ma - atk[k]) > 0.1 * atk[k] || fabs(mr - rel[k]) > 0.1 * rel[k])
            fail_msg("attack %.2f ms (set %.0f), release %.2f ms (set %.0f)", ma, atk[k], mr,
                     rel[k]);
    }
    free(g);
    free2(in);
    free2(out);
}

/* Compressing band 2 hard (a 300 Hz tone 34 dB over threshold, ~25 dB of reduction)
 * leaves a 3 kHz tone in band 3 unchanged within 0.05 dB; and the other way round. */
static void test_band_independence(void **st)
{
    (void)st;
    const double fs = 48000.0;
    const size_t n = (size_t)(1.0 * fs), a = n / 2, b = a + (size_t)(0.2 * fs);
    double **in = alloc2(n), **out = alloc2(n);
    double *t2 = malloc(n * sizeof(double));
    assert_non_null(t2);
    const double fa[2] = {300.0, 3000.0};
    const char *comp = "{threshold_db: -40, ratio: 8, knee_db: 0, attack_ms: 5}";
    const char *idle = "{threshold_db: -40, ratio: 1}";
    for (int which = 0; which < 2; which++) {
        lqs_sine(in[0], n, fs, fa[0], 0.5, 0.3);
        lqs_sine(t2, n, fs, fa[1], 0.1, 0.0);
        for (size_t i = 0; i < n; i++) in[0][i] += t2[i];
        memcpy(in[1], in[0], n * sizeof(double));
        char y[600];
        snprintf(y, sizeof y, "{crossovers_hz: [120, 800, 5000], bands: [%s, %s, %s, %s]}",
                 idle, which == 0 ? comp : idle, which == 1 ? comp : idle, idle);
        void *cfg = cfg_or_fail(y);
        run_stage(cfg, fs, 2, in, out, n, 1000, 0, NULL);
        free(cfg);
        const double f_comp = fa[which], f_keep = fa[1 - which];
        const double gc = db(tone_amp(out[0], a, b, fs, f_comp) / tone_amp(in[0], a, b, fs, f_comp));
        const double gk = db(tone_amp(out[0], a, b, fs, f_keep) / tone_amp(in[0], a, b, fs, f_keep));
        printf("compress %.0f Hz band: its tone %.2f dB, the %.0f Hz tone in the other band "
               "%+.4f dB\n", f_comp, gc, f_keep, gk);
        assert_true(gc < -15.0);
        if (fabs(gk) > 0.05)
            fail_msg("%.0f Hz tone changed by %.4f dB while the %.0f Hz band compressed",
                     f_keep, gk, f_comp);
    }
    free(t2);
    free2(in);
    free2(out);
}

/* Link 1: both channels get the same gain (R = L/2 in, so R = L/2 out); link 0: a
 * signal on the left only (compressed 20 dB) leaves the right untouched (null < -120 dB
 * with the right input, a quiet noise below threshold). */
static void test_link(void **st)
{
    (void)st;
    const double fs = 44100.0;
    const size_t n = (size_t)(1.0 * fs);
    double **in = alloc2(n), **out = alloc2(n);
    lqs_transients(in[0], n, fs, 0.2, 0.9, 21);
    for (size_t i = 0; i < n; i++) in[1][i] = 0.25 * in[0][i];
    const char *band = "{threshold_db: -30, ratio: 4, knee_db: 6, attack_ms: 2, release_ms: 80}";
    char *y = yaml_bands(XO[1], 2, band, "link: 1");
    void *cfg = cfg_or_fail(y);
    json_t *rep = NULL;
    run_stage(cfg, fs, 2, in, out, n, 512, 0, &rep);
    free(cfg);
    free(y);
    double dev = 0.0, pk = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(out[1][i] - 0.25 * out[0][i]) > dev) dev = fabs(out[1][i] - 0.25 * out[0][i]);
        if (fabs(out[0][i] - in[0][i]) > pk) pk = fabs(out[0][i] - in[0][i]);
    }
    const double gr = json_real_value(json_object_get(
        json_array_get(json_object_get(rep, "bands"), 1), "max_gr_db"));
    json_decref(rep);
    printf("link 1: left changed by up to %.3f (max band-2 reduction %.1f dB); right - "
           "left/4 deviation %.1f dBFS\n", pk, gr, dev > 0 ? db(dev) : -400.0);
    assert_true(gr > 6.0);
    assert_true(dev < 1e-9);

    lqs_white(in[1], n, 0.001, 22); /* -60 dBFS noise, far below threshold */
    y = yaml_bands(XO[1], 2, band, "link: 0");
    cfg = cfg_or_fail(y);
    run_stage(cfg, fs, 2, in, out, n, 512, 0, NULL);
    free(cfg);
    free(y);
    double rd = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(out[1][i] - in[1][i]) > rd) rd = fabs(out[1][i] - in[1][i]);
    printf("link 0: right channel residual %.1f dBFS\n", rd > 0 ? db(rd) : -400.0);
    assert_true(rd < 1e-6);
    free2(in);
    free2(out);
}

/* Mid/side band: a mono (L = R) signal leaves the side at zero, so the output stays
 * exactly mono, and a side-only signal under a mid-only compression is untouched. */
static void test_mid_side(void **st)
{
    (void)st;
    const double fs = 48000.0;
    const size_t n = (size_t)(0.8 * fs), a = n / 2, b = a + (size_t)(0.2 * fs);
    double **in = alloc2(n), **out = alloc2(n);
    /* mid: loud 500 Hz; side: quiet 600 Hz (below threshold) */
    double *m = malloc(n * sizeof(double)), *s = malloc(n * sizeof(double));
    assert_true(m && s);
    lqs_sine(m, n, fs, 500.0, 0.5, 0.0);
    lqs_sine(s, n, fs, 600.0, 0.01, 0.0);
    for (size_t i = 0; i < n; i++) {
        in[0][i] = m[i] + s[i];
        in[1][i] = m[i] - s[i];
    }
    const char *y = "{crossovers_hz: [200, 2000], link: 0, bands: ["
                    "{threshold_db: -30, ratio: 1}, "
                    "{threshold_db: -30, ratio: 6, mode: mid_side}, "
                    "{threshold_db: -30, ratio: 1}]}";
    void *cfg = cfg_or_fail(y);
    run_stage(cfg, fs, 2, in, out, n, 333, 0, NULL);
    free(cfg);
    for (size_t i = 0; i < n; i++) {
        m[i] = 0.5 * (out[0][i] + out[1][i]);
        s[i] = 0.5 * (out[0][i] - out[1][i]);
    }
    const double gm = db(tone_amp(m, a, b, fs, 500.0) / 0.5);
    const double gs = db(tone_amp(s, a, b, fs, 600.0) / 0.01);
    const double leak = db(tone_amp(s, a, b, fs, 500.0) / 0.5 + 1e-300);
    printf("mid/side band: mid tone %.2f dB, side tone %+.4f dB, mid tone in side %.1f dB\n",
           gm, gs, leak);
    assert_true(gm < -10.0);
    assert_true(fabs(gs) < 0.05);
    assert_true(leak < -120.0);
    free(m);
    free(s);
    free2(in);
    free2(out);
}

/* Bit-identical output for block sizes 1, 7, 64, 4096 and random, and on a rerun with a
 * fresh state and after reset; a generated mix with every feature switched on. */
static void test_block_size_rerun(void **st)
{
    (void)st;
    const double fs = 44100.0;
    const size_t n = (size_t)(1.5 * fs);
    double **in = alloc2(n), **ref = alloc2(n), **out = alloc2(n);
    lqs_mix(in[0], in[1], n, fs, 31, 0.98);
    const char *y = "{crossovers_hz: [120, 800, 5000], link: 0.6, bands: ["
                    "{threshold_db: -36, ratio: 3, knee_db: 6, attack_ms: 20, release_ms: 200},"
                    "{threshold_db: -36, ratio: 2, detector: rms, rms_ms: 15, mode: mid_side},"
                    "{threshold_db: -36, ratio: inf, knee_db: 12, attack_ms: 1, makeup_db: 2},"
                    "{threshold_db: -40, ratio: 1.5, link: 1, release_ms: 60}]}";
    void *cfg = cfg_or_fail(y);
    json_t *rep = NULL;
    run_stage(cfg, fs, 2, in, ref, n, 4096, 0, &rep);
    const size_t sizes[] = {1, 7, 64, 4096, 0, 4096};
    for (int k = 0; k < 6; k++) {
        run_stage(cfg, fs, 2, in, out, n, sizes[k], 1234 + (uint64_t)k, NULL);
        for (int c = 0; c < 2; c++)
            if (memcmp(ref[c], out[c], n * sizeof(double)) != 0)
                fail_msg("block size %zu (0 = random, seed %d) differs on channel %d",
                         sizes[k], 1234 + k, c);
    }
    /* the report is the same too */
    json_t *rep2 = NULL;
    run_stage(cfg, fs, 2, in, out, n, 0, 99, &rep2);
    assert_true(json_equal(rep, rep2));
    json_t *bands = json_object_get(rep, "bands");
    int compressed = 0;
    assert_int_equal(json_array_size(bands), 4);
    for (size_t k = 0; k < 4; k++) {
        json_t *b = json_array_get(bands, k);
        const double mx = json_real_value(json_object_get(b, "max_gr_db"));
        const double mean = json_real_value(json_object_get(b, "mean_gr_db"));
        const size_t ne = json_array_size(json_object_get(b, "gr_envelope_db"));
        const double iv = json_real_value(json_object_get(b, "gr_envelope_interval_s"));
        printf("mix band %zu: max GR %.2f dB, mean GR %.2f dB, envelope %zu points every "
               "%.3f s\n", k + 1, mx, mean, ne, iv);
        assert_true(mean >= 0.0 && mean <= mx);
        if (mx > 3.0) compressed++;
        assert_true(fabs((double)ne * iv - 1.5) < 2.0 * iv);
    }
    assert_true(compressed >= 2);  /* the test really exercises the compressors */
    json_decref(rep);
    json_decref(rep2);
    /* reset gives the just-created state */
    const lq_stage_vt *vt = lq_stage_find("multiband");
    lq_stage_env env = {.sample_rate = fs, .channels = 2, .max_block = 4096};
    void *s = NULL;
    lq_diag d = {{0}};
    assert_int_equal(vt->create(&s, cfg, &env, &d), LQ_OK);
    double *w[2] = {malloc(4096 * sizeof(double)), malloc(4096 * sizeof(double))};
    double *w2[2] = {malloc(4096 * sizeof(double)), malloc(4096 * sizeof(double))};
    memcpy(w[0], in[0], 4096 * sizeof(double));
    memcpy(w[1], in[1], 4096 * sizeof(double));
    vt->process(s, w, 4096);
    memcpy(w2[0], in[0], 4096 * sizeof(double));
    memcpy(w2[1], in[1], 4096 * sizeof(double));
    vt->process(s, w2, 4096);
    vt->reset(s);
    memcpy(w2[0], in[0], 4096 * sizeof(double));
    memcpy(w2[1], in[1], 4096 * sizeof(double));
    vt->process(s, w2, 4096);
    assert_memory_equal(w[0], w2[0], 4096 * sizeof(double));
    assert_memory_equal(w[1], w2[1], 4096 * sizeof(double));
    vt->destroy(s);
    for (int c = 0; c < 2; c++) {
        free(w[c]);
        free(w2[c]);
    }
    free(cfg);
    free2(in);
    free2(ref);
    free2(out);
}

/* Silence gives exact zeros; after a loud burst the output returns to exact zeros; a
 * denormal-sized input gives finite output; the gain reduction has gone back to 0. */
static void test_silence_denormals(void **st)
{
    (void)st;
    const double fs = 48000.0;
    const size_t n = (size_t)(3.0 * fs);
    double **in = alloc2(n), **out = alloc2(n);
    lqs_white(in[0], n / 6, 0.5, 41);
    lqs_white(in[1], n / 6, 0.5, 42);
    for (size_t i = n / 2; i < n; i++) in[0][i] = (i % 3) ? 1e-310 : -4.9e-322;
    const char *band = "{threshold_db: -40, ratio: inf, knee_db: 0, attack_ms: 1, release_ms: 30}";
    char *y = yaml_bands(XO[2], 3, band, NULL);
    void *cfg = cfg_or_fail(y);
    json_t *rep = NULL;
    run_stage(cfg, fs, 2, in, out, n, 4096, 0, &rep);
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < n; i++) assert_true(isfinite(out[c][i]));
    /* 1 s after the burst (the FIRs are < 0.1 s long): exact zeros on the silent right */
    for (size_t i = n / 6 + (size_t)fs; i < n; i++) assert_true(out[1][i] == 0.0);
    /* and the left, fed denormals, gives output no larger than them */
    double mx = 0.0;
    for (size_t i = n / 2 + (size_t)(0.2 * fs); i < n; i++)
        if (fabs(out[0][i]) > mx) mx = fabs(out[0][i]);
    printf("denormal input: output max %.3g\n", mx);
    assert_true(mx < 1e-300);
    json_t *b0 = json_array_get(json_object_get(rep, "bands"), 0);
    json_t *env = json_object_get(b0, "gr_envelope_db");
    assert_true(json_real_value(json_object_get(b0, "max_gr_db")) > 10.0);
    assert_true(json_real_value(json_array_get(env, json_array_size(env) - 1)) == 0.0);
    json_decref(rep);
    free(cfg);
    free(y);
    free2(in);
    free2(out);
}

/* The report's figures for a steady tone: max GR is the static curve's value, mean
 * GR close to it, the envelope spans the input (latency excluded). */
static void test_report(void **st)
{
    (void)st;
    const double fs = 44100.0;
    const size_t n = (size_t)(2.0 * fs);
    double **in = alloc2(n), **out = alloc2(n);
    lqs_sine(in[0], n, fs, 2000.0, pow(10.0, -10.0 / 20.0), 0.0);
    /* 50 ms raised-cosine fade-in: a sine switched on abruptly splatters, and the
     * band-passed onset overshoots (a real, but here unwanted, extra reduction) */
    const size_t fade = (size_t)(0.05 * fs);
    for (size_t i = 0; i < fade; i++) {
        const double w = 0.5 - 0.5 * cos(PI * (double)i / (double)fade);
        in[0][i] *= w;
        in[0][n - 1 - i] *= w;  /* and a fade-out: the end would pre-ring the same way */
    }
    const char *y = "{crossovers_hz: [800, 5000], bands: [{threshold_db: -30, ratio: 1}, "
                    "{threshold_db: -30, ratio: 3, knee_db: 0, attack_ms: 2}, "
                    "{threshold_db: -30, ratio: 1}]}";
    void *cfg = cfg_or_fail(y);
    json_t *rep = NULL;
    run_stage(cfg, fs, 1, in, out, n, 4096, 0, &rep);
    json_t *bands = json_object_get(rep, "bands");
    json_t *b1 = json_array_get(bands, 1);
    const double mx = json_real_value(json_object_get(b1, "max_gr_db"));
    const double mean = json_real_value(json_object_get(b1, "mean_gr_db"));
    const size_t ne = json_array_size(json_object_get(b1, "gr_envelope_db"));
    const double iv = json_real_value(json_object_get(b1, "gr_envelope_interval_s"));
    /* 20 dB over at 3:1: 13.33 dB */
    printf("report: max GR %.3f dB (designed 13.333), mean %.3f dB, %zu points x %.3f s, "
           "idle band max %.3g\n", mx, mean, ne, iv,
           json_real_value(json_object_get(json_array_get(bands, 0), "max_gr_db")));
    assert_float_equal(mx, 40.0 / 3.0, 0.05);
    assert_true(mean > 12.5 && mean <= mx);
    assert_true(fabs((double)ne * iv - 2.0) <= iv);
    assert_true(json_real_value(json_object_get(json_array_get(bands, 0), "max_gr_db")) == 0.0);
    assert_int_equal(json_integer_value(json_object_get(rep, "fir_taps")), 441);
    json_decref(rep);
    free(cfg);
    free2(in);
    free2(out);
}

static void expect_parse_error(const char *yaml, const char *needle)
{
    lq_diag d = {{0}};
    void *cfg = parse_cfg(yaml, &d);
    if (cfg) fail_msg("expected an error for %s", yaml);
    if (!strstr(d.msg, needle)) fail_msg("error for %s is \"%s\", expected to name \"%s\"", yaml, d.msg, needle);
    printf("rejected: %s\n", d.msg);
}

static void test_parse(void **st)
{
    (void)st;
    const lq_stage_vt *vt = lq_stage_find("multiband");
    void *cfg = cfg_or_fail("{crossovers_hz: [100, 1000], length_ms: auto, bands: ["
                            "{threshold_db: -20, ratio: inf}, {threshold_db: -20, ratio: 1},"
                            "{threshold_db: -20, ratio: 1, bypass: true}]}");
    assert_false(vt->config_is_identity(cfg));
    free(cfg);
    cfg = cfg_or_fail("{crossovers_hz: [100], length_ms: 120, bands: ["
                      "{threshold_db: -20, ratio: 1}, {threshold_db: -20, ratio: 4, bypass: true}]}");
    assert_true(vt->config_is_identity(cfg));
    free(cfg);
    expect_parse_error("{crossovers_hz: [100, 1000], bands: [{threshold_db: -20, ratio: 2}, "
                       "{threshold_db: -20, ratio: 2}]}", "bands");
    expect_parse_error("{crossovers_hz: [100, 1000]}", "bands");
    expect_parse_error("{bands: [{threshold_db: -20, ratio: 2}, {threshold_db: -20, ratio: 2}]}",
                       "bands");
    /* an empty map is all defaults: 120/800/5000 Hz, 4 bands at 2:1 above -20 dBFS */
    cfg = cfg_or_fail("{}");
    assert_false(vt->config_is_identity(cfg));
    free(cfg);
    expect_parse_error("{crossovers_hz: [1000, 100], bands: [{threshold_db: -20, ratio: 2}, "
                       "{threshold_db: -20, ratio: 2}, {threshold_db: -20, ratio: 2}]}",
                       "crossovers_hz[1]");
    expect_parse_error("{crossovers_hz: [100], bands: [{threshold_db: -20, ratio: 2, "
                       "atack_ms: 3}, {threshold_db: -20, ratio: 2}]}", "atack_ms");
    expect_parse_error("{crossovers_hz: [100], bands: [{threshold_db: -20, ratio: 0.5}, "
                       "{threshold_db: -20, ratio: 2}]}", "ratio");
    expect_parse_error("{crossovers_hz: [100], bands: [{threshold_db: -20}, "
                       "{threshold_db: -20, ratio: 2}]}", "ratio");
    expect_parse_error("{crossovers_hz: [100], bands: [{threshold_db: -20, ratio: 2, "
                       "detector: loud}, {threshold_db: -20, ratio: 2}]}", "detector");
    expect_parse_error("{crossovers_hz: [100, 200, 300, 400, 500, 600], bands: []}",
                       "crossovers_hz");
    /* a crossover the rate cannot carry is an error at create, not a crash */
    cfg = cfg_or_fail("{crossovers_hz: [20000], bands: [{threshold_db: -20, ratio: 2}, "
                      "{threshold_db: -20, ratio: 2}]}");
    lq_stage_env env = {.sample_rate = 44100.0, .channels = 2, .max_block = 64};
    void *s = NULL;
    lq_diag d = {{0}};
    assert_int_equal(vt->create(&s, cfg, &env, &d), LQ_ERR_ARG);
    assert_null(s);
    printf("create rejected: %s\n", d.msg);
    free(cfg);
}

/* The shipped presets that use the stage load (strict validation of every stage). */
static void test_presets_load(void **st)
{
    (void)st;
    const char *names[] = {"gentle", "modern-loud", "acoustic", "speech"};
    for (int i = 0; i < 4; i++) {
        lq_preset *p = NULL;
        char err[1024] = "";
        lq_error e = lq_preset_load(&p, names[i], LQ_SOURCE_DIR "/presets", NULL, err,
                                    sizeof err);
        if (e != LQ_OK) fail_msg("preset %s: %s (%s)", names[i], lq_strerror(e), err);
        int found = 0;
        for (size_t k = 0; k < p->n_master; k++)
            if (p->master[k].vt == lq_stage_find("multiband")) found = 1;
        assert_true(found);
        printf("preset %s loads, %zu master stages, %zu targets\n", names[i], p->n_master,
               lq_preset_target_count(p));
        lq_preset_destroy(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_null_idle),
        cmocka_unit_test(test_isolation),
        cmocka_unit_test(test_static_curve),
        cmocka_unit_test(test_time_constants),
        cmocka_unit_test(test_band_independence),
        cmocka_unit_test(test_link),
        cmocka_unit_test(test_mid_side),
        cmocka_unit_test(test_block_size_rerun),
        cmocka_unit_test(test_silence_denormals),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_presets_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
