/* bench_eq: helper for bench/eq (not part of liblacquer; may print).
 *
 *   bench_eq gen OUT.wav SECONDS RATE        stereo white noise (64-bit float WAV), with
 *                                            PAD seconds of silence before and after
 *   bench_eq design TAPS RATE COEFFS GAINS   the EQ's FIR for the benchmark curve:
 *                                            COEFFS one tap per line (SoX `fir` file),
 *                                            GAINS a firequalizer `gain` expression
 *   bench_eq run IN OUT TAPS                 lacquer's eq stage over IN (latency
 *                                            compensated, 64-bit float WAV out)
 *   bench_eq measure IN OUT TAPS             null residual of OUT against the ideal
 *                                            convolution of IN with the FIR (long double
 *                                            FFT, best integer lag), and the response
 *                                            error |OUT/IN| vs the designed curve
 *
 * The benchmark curve is the 10-band curve of tests/test_eq.c (table below). */
#include <fftw3.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/node.h"
#include "dsp/fir.h"
#include "stage.h"
#include "stages/eq.h"
#include "synth.h"

#define PAD_S 1.6

/* The benchmark curve (the 10-band curve of tests/test_eq.c): one table, turned into
 * lacquer's YAML and into an ffmpeg firequalizer gain expression (the same analogue
 * formulas as src/stages/eq.c, so ffmpeg designs from the very same curve). */
typedef struct bband {
    const char *type;
    double f, g, q, slope;
} bband;
static const bband bands[] = {
    {"highpass", 25, 0, 0, 24},  {"low_shelf", 80, 2, 0.7, 0},   {"bell", 200, -2, 1.5, 0},
    {"bell", 400, -1.5, 2, 0},   {"bell", 1000, 1, 1, 0},        {"bell", 2500, -2, 3, 0},
    {"bell", 5000, 1.5, 1, 0},   {"high_shelf", 9000, 2, 0.7, 0}, {"bell", 12000, 1, 2, 0},
    {"lowpass", 20000, 0, 0, 12},
};
#define NBANDS (sizeof bands / sizeof bands[0])

static void curve_yaml(char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "bands:\n");
    for (size_t i = 0; i < NBANDS && off < len; i++) {
        const bband *b = &bands[i];
        if (!strcmp(b->type, "highpass") || !strcmp(b->type, "lowpass"))
            off += (size_t)snprintf(buf + off, len - off,
                                    "  - {type: %s, freq_hz: %g, slope_db_oct: %g}\n", b->type,
                                    b->f, b->slope);
        else
            off += (size_t)snprintf(buf + off, len - off,
                                    "  - {type: %s, freq_hz: %g, gain_db: %g, q: %g}\n", b->type,
                                    b->f, b->g, b->q);
    }
}

/* firequalizer `gain` expression (dB, scale linlog) for the same curve. */
static void curve_expr(FILE *f)
{
    for (size_t i = 0; i < NBANDS; i++) {
        const bband *b = &bands[i];
        const double a = pow(10.0, b->g / 40.0);
        char w[64];
        snprintf(w, sizeof w, "(f/%.6g)", b->f);
        if (i) fputc('+', f);
        if (!strcmp(b->type, "bell"))
            fprintf(f, "10*log(((1-%s*%s)*(1-%s*%s)+pow(%s*%.12g,2))/((1-%s*%s)*(1-%s*%s)+pow(%s*%.12g,2)))/log(10)",
                    w, w, w, w, w, a / b->q, w, w, w, w, w, 1.0 / (a * b->q));
        else if (!strcmp(b->type, "low_shelf") || !strcmp(b->type, "high_shelf")) {
            const double m = sqrt(a) / b->q;
            char lo[256], hi[256];
            snprintf(lo, sizeof lo, "(pow(%.12g-%s*%s,2)+pow(%.12g*%s,2))", a, w, w, m, w);
            snprintf(hi, sizeof hi, "(pow(1-%.12g*%s*%s,2)+pow(%.12g*%s,2))", a, w, w, m, w);
            const int low = !strcmp(b->type, "low_shelf");
            fprintf(f, "10*log(%.12g*%s/%s)/log(10)", a * a, low ? lo : hi, low ? hi : lo);
        } else if (!strcmp(b->type, "highpass"))
            fprintf(f, "-10*log(1+pow(%.6g/(f+1e-9),%.6g))/log(10)", b->f, b->slope / 3.0);
        else
            fprintf(f, "-10*log(1+pow(f/%.6g,%.6g))/log(10)", b->f, b->slope / 3.0);
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_eq: %s\n", what);
    exit(1);
}

/* The eq config for a tap count (length_ms chosen so lq_fir_taps gives exactly taps). */
static void *make_cfg(size_t taps, double rate)
{
    const lq_stage_vt *vt = lq_stage_find("eq");
    if (!vt) die("no eq stage");
    char yaml[4096], bands_yaml[3000];
    curve_yaml(bands_yaml, sizeof bands_yaml);
    snprintf(yaml, sizeof yaml, "length_ms: %.9f\n%s", (double)taps * 1000.0 / rate, bands_yaml);
    lq_node *root = NULL;
    lq_diag d = {{0}};
    if (lq_node_parse_string(&root, yaml, "bench", &d) != LQ_OK) die(d.msg);
    void *cfg = calloc(1, vt->config_size);
    if (!cfg) die("out of memory");
    vt->config_default(cfg);
    if (vt->config_parse(cfg, root, &d) != LQ_OK) die(d.msg);
    lq_node_free(root);
    if (lq_fir_taps((double)taps * 1000.0 / rate, rate) != taps) die("taps must be odd");
    return cfg;
}

/* Read a stereo file as two planar double arrays. */
static size_t read_file(const char *path, double **l, double **r, double *rate)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f) die(sf_strerror(NULL));
    if (info.channels != 2) die("expected a stereo file");
    size_t n = (size_t)info.frames;
    double *il = malloc(2 * n * sizeof(double));
    *l = malloc(n * sizeof(double));
    *r = malloc(n * sizeof(double));
    if (!il || !*l || !*r) die("out of memory");
    if ((size_t)sf_readf_double(f, il, (sf_count_t)n) != n) die("short read");
    sf_close(f);
    for (size_t i = 0; i < n; i++) {
        (*l)[i] = il[2 * i];
        (*r)[i] = il[2 * i + 1];
    }
    free(il);
    *rate = info.samplerate;
    return n;
}

static void write_file(const char *path, const double *l, const double *r, size_t n, int rate)
{
    SF_INFO info = {.samplerate = rate, .channels = 2,
                    .format = SF_FORMAT_WAV | SF_FORMAT_DOUBLE};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) die(sf_strerror(NULL));
    double *il = malloc(2 * n * sizeof(double));
    if (!il) die("out of memory");
    for (size_t i = 0; i < n; i++) {
        il[2 * i] = l[i];
        il[2 * i + 1] = r[i];
    }
    sf_command(f, SFC_SET_NORM_DOUBLE, NULL, SF_FALSE);
    if ((size_t)sf_writef_double(f, il, (sf_count_t)n) != n) die("short write");
    sf_close(f);
    free(il);
}

static int cmd_gen(int argc, char **argv)
{
    if (argc != 5) die("usage: gen OUT SECONDS RATE");
    const double secs = atof(argv[3]), rate = atof(argv[4]);
    const size_t pad = (size_t)(PAD_S * rate), body = (size_t)(secs * rate), n = body + 2 * pad;
    double *l = calloc(n, sizeof(double)), *r = calloc(n, sizeof(double));
    if (!l || !r) die("out of memory");
    lqs_white(l + pad, body, 0.1, 1);
    lqs_white(r + pad, body, 0.1, 2);
    write_file(argv[2], l, r, n, (int)rate);
    free(l);
    free(r);
    return 0;
}

static int cmd_design(int argc, char **argv)
{
    if (argc != 6) die("usage: design TAPS RATE COEFFS GAINS");
    const size_t taps = (size_t)atol(argv[2]);
    const double rate = atof(argv[3]);
    void *cfg = make_cfg(taps, rate);
    double *t = malloc(taps * sizeof(double));
    lq_diag d = {{0}};
    if (!t) die("out of memory");
    if (lq_eq_design_taps(cfg, LQ_EQ_VIEW_LEFT, rate, t, taps, &d) != LQ_OK) die(d.msg);
    FILE *f = fopen(argv[4], "w");
    if (!f) die("cannot write coefficients");
    for (size_t i = 0; i < taps; i++) fprintf(f, "%.17g\n", t[i]);
    fclose(f);
    /* firequalizer: the same curve as a gain expression. */
    f = fopen(argv[5], "w");
    if (!f) die("cannot write gains");
    curve_expr(f);
    fclose(f);
    free(t);
    free(cfg);
    return 0;
}

/* Stream IN through the eq stage in blocks of 4096 frames (as the engine does: the
 * first `latency` output frames are dropped, `latency` frames of silence drain the
 * tail), writing OUT as it goes. */
static int cmd_run(int argc, char **argv)
{
    if (argc != 5) die("usage: run IN OUT TAPS");
    SF_INFO ii;
    memset(&ii, 0, sizeof ii);
    SNDFILE *in = sf_open(argv[2], SFM_READ, &ii);
    if (!in) die(sf_strerror(NULL));
    if (ii.channels != 2) die("expected a stereo file");
    const double rate = ii.samplerate;
    SF_INFO oi = {.samplerate = ii.samplerate, .channels = 2,
                  .format = SF_FORMAT_WAV | SF_FORMAT_DOUBLE};
    SNDFILE *out = sf_open(argv[3], SFM_WRITE, &oi);
    if (!out) die(sf_strerror(NULL));
    sf_command(out, SFC_SET_NORM_DOUBLE, NULL, SF_FALSE);
    const size_t taps = (size_t)atol(argv[4]);
    void *cfg = make_cfg(taps, rate);
    const lq_stage_vt *vt = lq_stage_find("eq");
    enum { BLOCK = 4096 };
    lq_stage_env env = {.sample_rate = rate, .channels = 2, .max_block = BLOCK};
    void *st = NULL;
    lq_diag d = {{0}};
    double t0 = now_s();
    if (vt->create(&st, cfg, &env, &d) != LQ_OK) die(d.msg);
    double t1 = now_s(), tproc = 0.0;
    static double il[2 * BLOCK], l[BLOCK], r[BLOCK];
    size_t skip = vt->latency(st), tail = skip;
    int eof = 0;
    while (!eof || tail > 0) {
        size_t got = 0;
        if (!eof) {
            got = (size_t)sf_readf_double(in, il, BLOCK);
            if (got < BLOCK) eof = 1;
        }
        for (size_t i = 0; i < got; i++) {
            l[i] = il[2 * i];
            r[i] = il[2 * i + 1];
        }
        size_t b = got;
        while (eof && b < BLOCK && tail > 0) {
            l[b] = r[b] = 0.0;
            b++;
            tail--;
        }
        if (b == 0) continue;
        double *p[2] = {l, r};
        double ta = now_s();
        vt->process(st, p, b);
        tproc += now_s() - ta;
        size_t from = skip < b ? skip : b;
        skip -= from;
        for (size_t i = from; i < b; i++) {
            il[2 * (i - from)] = l[i];
            il[2 * (i - from) + 1] = r[i];
        }
        if (b > from && (size_t)sf_writef_double(out, il, (sf_count_t)(b - from)) != b - from)
            die("short write");
    }
    sf_close(in);
    sf_close(out);
    fprintf(stderr, "lacquer eq: %zu taps, latency %zu, design %.3f s, process %.3f s\n", taps,
            vt->latency(st), t1 - t0, tproc);
    vt->destroy(st);
    free(cfg);
    return 0;
}

/* y = x * h (full linear convolution, aligned: shifted back by (nh-1)/2), long double. */
static void ideal_conv(const double *x, size_t n, const double *h, size_t nh, double *y)
{
    size_t m = 1;
    while (m < n + nh) m <<= 1;
    long double *a = fftwl_malloc(m * sizeof(long double));
    long double *b = fftwl_malloc(m * sizeof(long double));
    fftwl_complex *as = fftwl_malloc((m / 2 + 1) * sizeof(fftwl_complex));
    fftwl_complex *bs = fftwl_malloc((m / 2 + 1) * sizeof(fftwl_complex));
    if (!a || !b || !as || !bs) die("out of memory");
    memset(a, 0, m * sizeof(long double));
    memset(b, 0, m * sizeof(long double));
    for (size_t i = 0; i < n; i++) a[i] = x[i];
    for (size_t i = 0; i < nh; i++) b[i] = h[i];
    fftwl_plan pa = fftwl_plan_dft_r2c_1d((int)m, a, as, FFTW_ESTIMATE);
    fftwl_plan pb = fftwl_plan_dft_r2c_1d((int)m, b, bs, FFTW_ESTIMATE);
    fftwl_execute(pa);
    fftwl_execute(pb);
    for (size_t k = 0; k <= m / 2; k++) {
        long double re = as[k][0] * bs[k][0] - as[k][1] * bs[k][1];
        long double im = as[k][0] * bs[k][1] + as[k][1] * bs[k][0];
        as[k][0] = re / (long double)m;
        as[k][1] = im / (long double)m;
    }
    fftwl_plan pc = fftwl_plan_dft_c2r_1d((int)m, as, a, FFTW_ESTIMATE);
    fftwl_execute(pc);
    const size_t dly = (nh - 1) / 2;
    for (size_t i = 0; i < n; i++) y[i] = (double)a[i + dly];
    fftwl_destroy_plan(pa);
    fftwl_destroy_plan(pb);
    fftwl_destroy_plan(pc);
    fftwl_free(a);
    fftwl_free(b);
    fftwl_free(as);
    fftwl_free(bs);
}

/* Null of y (shifted by the best lag within +-maxlag) against ref, in dB. */
static double best_null(const double *y, size_t ny, const double *ref, size_t n, long maxlag,
                        long *lag_out)
{
    double best = HUGE_VAL;
    long best_lag = 0;
    /* Coarse: correlation peak at a few candidate lags is the minimum null; the search
     * range is small in practice (0 or the filter delay), so test every lag in a window
     * around 0 and around (nh-1)/2 by direct sums on a 2^16-sample excerpt. */
    const size_t ex0 = n / 3, exn = 65536 < n / 3 ? 65536 : n / 3;
    for (long lag = -maxlag; lag <= maxlag; lag++) {
        double e = 0.0, s = 0.0;
        for (size_t i = ex0; i < ex0 + exn; i++) {
            long j = (long)i + lag;
            double v = (j >= 0 && (size_t)j < ny) ? y[j] : 0.0;
            e += (v - ref[i]) * (v - ref[i]);
            s += ref[i] * ref[i];
        }
        double nl = e / s;
        if (nl < best) {
            best = nl;
            best_lag = lag;
        }
    }
    double e = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        long j = (long)i + best_lag;
        double v = (j >= 0 && (size_t)j < ny) ? y[j] : 0.0;
        e += (v - ref[i]) * (v - ref[i]);
        s += ref[i] * ref[i];
    }
    *lag_out = best_lag;
    return e > 0.0 ? 10.0 * log10(e / s) : -INFINITY;
}

/* Max |20 log10 |Y/X| - curve| from 30 Hz to 0.9 Nyquist where the curve >= -60 dB. */
static double response_error(const double *x, const double *y, size_t n, double rate,
                             const void *cfg, double *at)
{
    size_t m = 1;
    while (m < n) m <<= 1;
    double *a = fftw_malloc(m * sizeof(double)), *b = fftw_malloc(m * sizeof(double));
    fftw_complex *as = fftw_malloc((m / 2 + 1) * sizeof(fftw_complex));
    fftw_complex *bs = fftw_malloc((m / 2 + 1) * sizeof(fftw_complex));
    if (!a || !b || !as || !bs) die("out of memory");
    memset(a, 0, m * sizeof(double));
    memset(b, 0, m * sizeof(double));
    memcpy(a, x, n * sizeof(double));
    memcpy(b, y, n * sizeof(double));
    fftw_plan pa = fftw_plan_dft_r2c_1d((int)m, a, as, FFTW_ESTIMATE);
    fftw_plan pb = fftw_plan_dft_r2c_1d((int)m, b, bs, FFTW_ESTIMATE);
    fftw_execute(pa);
    fftw_execute(pb);
    double xr = 0.0;
    for (size_t k = 0; k <= m / 2; k++) xr += as[k][0] * as[k][0] + as[k][1] * as[k][1];
    xr /= (double)(m / 2 + 1);
    double worst = 0.0;
    lq_diag d;
    for (size_t k = 1; k <= m / 2; k++) {
        double f = (double)k * rate / (double)m;
        if (f < 30.0 || f > 0.45 * rate) continue;
        double x2 = as[k][0] * as[k][0] + as[k][1] * as[k][1];
        if (x2 < 0.04 * xr) continue;
        double want;
        if (lq_eq_curve(cfg, LQ_EQ_VIEW_LEFT, &f, 1, &want, &d) != LQ_OK) die(d.msg);
        if (want < -60.0) continue;
        double y2 = bs[k][0] * bs[k][0] + bs[k][1] * bs[k][1];
        double e = fabs(10.0 * log10(y2 / x2) - want);
        if (e > worst) {
            worst = e;
            *at = f;
        }
    }
    fftw_destroy_plan(pa);
    fftw_destroy_plan(pb);
    fftw_free(a);
    fftw_free(b);
    fftw_free(as);
    fftw_free(bs);
    return worst;
}

static int cmd_measure(int argc, char **argv)
{
    if (argc != 5) die("usage: measure IN OUT TAPS");
    double *xl, *xr, *yl, *yr, rate, rate2;
    const size_t n = read_file(argv[2], &xl, &xr, &rate);
    const size_t ny = read_file(argv[3], &yl, &yr, &rate2);
    const size_t taps = (size_t)atol(argv[4]);
    void *cfg = make_cfg(taps, rate);
    double *h = malloc(taps * sizeof(double)), *ref = malloc(n * sizeof(double));
    lq_diag d = {{0}};
    if (!h || !ref) die("out of memory");
    if (lq_eq_design_taps(cfg, LQ_EQ_VIEW_LEFT, rate, h, taps, &d) != LQ_OK) die(d.msg);
    double null_worst = -INFINITY, resp_worst = 0.0, at = 0.0;
    long lag = 0;
    for (int c = 0; c < 2; c++) {
        const double *x = c ? xr : xl, *y = c ? yr : yl;
        ideal_conv(x, n, h, taps, ref);
        /* Lags searched: 0 +- 8 and the filter delay +- 8 (tools that do not
         * compensate it). */
        long lg0, lg1;
        double n0 = best_null(y, ny, ref, n, 8, &lg0);
        const long dly = (long)(taps - 1) / 2;
        double n1 = HUGE_VAL;
        {
            /* shift y by the delay, then search +-8 */
            if ((size_t)dly < ny) n1 = best_null(y + dly, ny - (size_t)dly, ref, n, 8, &lg1);
        }
        double nl = n0;
        lag = lg0;
        if (n1 < n0) {
            nl = n1;
            lag = lg1 + dly;
        }
        if (nl > null_worst) null_worst = nl;
        /* Response: use the output shifted by the found lag (magnitude is lag-free as
         * long as nothing is cut: the input is padded with silence). */
        double *ys = calloc(n, sizeof(double));
        if (!ys) die("out of memory");
        for (size_t i = 0; i < n; i++) {
            long j = (long)i + lag;
            ys[i] = (j >= 0 && (size_t)j < ny) ? y[j] : 0.0;
        }
        double a = 0.0;
        double e = response_error(x, ys, n, rate, cfg, &a);
        if (e > resp_worst) {
            resp_worst = e;
            at = a;
        }
        free(ys);
    }
    printf("%.1f %.4f %.1f %ld\n", null_worst, resp_worst, at, lag);
    free(h);
    free(ref);
    free(xl);
    free(xr);
    free(yl);
    free(yr);
    free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) die("usage: bench_eq gen|design|run|measure ...");
    if (!strcmp(argv[1], "gen")) return cmd_gen(argc, argv);
    if (!strcmp(argv[1], "design")) return cmd_design(argc, argv);
    if (!strcmp(argv[1], "run")) return cmd_run(argc, argv);
    if (!strcmp(argv[1], "measure")) return cmd_measure(argc, argv);
    die("unknown command");
    return 1;
}
