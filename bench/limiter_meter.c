/* bench_limiter_meter: measuring helper for bench/limiter (not part of liblacquer; it
 * may print and allocate freely).  It uses none of the library's meters: loudness is
 * libebur128's, the true-peak meter below is written here, and the spectra are the test
 * suite's independent instruments (tests/support/lqt_spectrum.c, compiled in).
 *
 *   bench_limiter_meter gen sine|smpte OUT.wav RATE SECONDS PEAK_DBFS
 *       a mono 32-bit float test signal, 50 ms raised-cosine fades at both ends:
 *       sine  = 1 kHz;  smpte = 60 Hz + 7 kHz at 4:1 amplitude (SMPTE RP120-1994),
 *       the sum of the amplitudes = PEAK_DBFS.
 *   bench_limiter_meter level FILE CEILING_DBTP
 *       prints "LUFS TP_DBTP OVERS OVER_POINTS SECONDS":
 *       LUFS      integrated loudness (libebur128, BS.1770-4);
 *       TP_DBTP   max true peak over all channels by 16x oversampling (below);
 *       OVERS     overs: separate excursions of the 16x-interpolated waveform above
 *                 CEILING_DBTP (a run of consecutive 16x points above it counts once),
 *                 summed over channels;
 *       OVER_POINTS the number of 16x points above the ceiling (/16 = source samples).
 *   bench_limiter_meter thdn FILE FREQ START_S LEN_S
 *       prints "THDN_DB LEVEL_DBFS": THD+N re the fundamental (every FFT bin from bin 10
 *       to Nyquist except the fundamental's +-10 bins, 7-term window: lqt_thdn_db) and
 *       the fundamental's amplitude, on channel 0 from START_S for LEN_S seconds.
 *   bench_limiter_meter imd FILE F1 F2 START_S LEN_S
 *       prints "IMD_DB IMD_PCT F1_DBFS F2_DBFS": SMPTE intermodulation distortion after
 *       SMPTE RP120-1994 (the amplitude modulation of the F2 carrier by F1): with A(f)
 *       the amplitude of the component at f,
 *           IMD = sqrt( sum_{n=1..4} (A(F2 - n F1) + A(F2 + n F1))^2 ) / A(F2)
 *       (each sideband pair summed in amplitude as an AM demodulator sees it, orders
 *       root-sum-squared; the definition used by FFT analysers for RP120, e.g. the
 *       Audio Precision and REW documentation); A(f) from lqt_sine_level_db.
 *   bench_limiter_meter selftest
 *       checks this file's 16x meter against the test suite's lqt_true_peak_16x on
 *       noise, an fs/4 sine at 45 degrees and a burst; exit 1 if they differ by more
 *       than 0.002 dB.
 *
 * True peak: 16x oversampling with a 64-tap-per-phase Kaiser-windowed sinc (beta 9;
 * J. F. Kaiser, "Nonrecursive digital filter design using the I0-sinh window function",
 * Proc. IEEE ISCAS 1974), each phase normalised to unit DC gain, all 16 phases
 * evaluated, the signal taken as zero outside the file (ringing past the ends counts).
 * BS.1770-4 Annex 2 asks for at least 4x; 16x leaves a grid error under 0.01 dB for
 * content up to 0.4 fs. */
#include <ebur128.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lqtest.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define OS 16
#define TAPS 64
#define HALF 32
#define BETA 9.0

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_limiter_meter: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory", NULL);
    return p;
}

static double parse_num(const char *s)
{
    char *end;
    const double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        die("not a number", s);
    return v;
}

/* ---- file I/O ------------------------------------------------------------------------ */

/* Whole file as channel-major doubles (libsndfile's normalisation: PCM b bits ->
 * q / 2^(b-1); float files unscaled, so values above full scale survive). */
static double *read_file(const char *path, int *channels, size_t *frames, int *rate)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f)
        die(path, sf_strerror(NULL));
    const size_t n = (size_t)info.frames, c = (size_t)info.channels;
    double *inter = xmalloc(n * c * sizeof *inter);
    if ((size_t)sf_readf_double(f, inter, (sf_count_t)n) != n)
        die(path, "short read");
    sf_close(f);
    double *planar = xmalloc(n * c * sizeof *planar);
    for (size_t i = 0; i < n; i++)
        for (size_t ch = 0; ch < c; ch++)
            planar[ch * n + i] = inter[i * c + ch];
    free(inter);
    *channels = info.channels;
    *frames = n;
    *rate = info.samplerate;
    return planar;
}

/* ---- 16x true peak and overs --------------------------------------------------------- */

/* Zeroth-order modified Bessel function of the first kind, power series
 * (Abramowitz & Stegun 9.6.12). */
static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0;
    const double q = x * x / 4.0;
    for (int k = 1; k < 300; k++) {
        term *= q / ((double)k * (double)k);
        sum += term;
        if (term < sum * 1e-17)
            break;
    }
    return sum;
}

/* h[k][p]: weight of x[i - HALF + 1 + k] in the value at time i + p/OS. */
typedef struct tp_filter {
    double h[TAPS][OS];
    double l1; /* max over phases of sum_k |h[k][p]|: |y| <= l1 * max |x| in the window */
} tp_filter;

static void tp_design(tp_filter *f)
{
    double (*h)[OS] = f->h;
    f->l1 = 0.0;
    const double i0b = bessel_i0(BETA);
    for (int p = 0; p < OS; p++) {
        double sum = 0.0;
        for (int k = 0; k < TAPS; k++) {
            const double d = (double)(k - HALF + 1) - (double)p / OS;
            const double s = fabs(d) < 1e-12 ? 1.0 : sin(M_PI * d) / (M_PI * d);
            const double r = d / HALF;
            const double w = fabs(r) >= 1.0 ? 0.0 : bessel_i0(BETA * sqrt(1.0 - r * r)) / i0b;
            h[k][p] = s * w;
            sum += h[k][p];
        }
        double l1 = 0.0;
        for (int k = 0; k < TAPS; k++) {
            h[k][p] /= sum;
            l1 += fabs(h[k][p]);
        }
        if (l1 > f->l1)
            f->l1 = l1;
    }
}

typedef struct tp_result {
    double peak;           /* linear */
    long overs;            /* excursions above the ceiling */
    long over_points;      /* 16x points above the ceiling */
} tp_result;

/* One channel x[0..n): max |y| of the 16x interpolation, overs above `ceil_lin`. */
static void true_peak_16x(const tp_filter *f, const double *x, size_t n, double ceil_lin,
                          tp_result *res)
{
    const double (*h)[OS] = f->h;
    /* zero-padded copy so the inner loop has no bounds tests */
    const size_t pad = TAPS;
    double *xp = xmalloc((n + 2 * pad) * sizeof *xp);
    memset(xp, 0, (n + 2 * pad) * sizeof *xp);
    memcpy(xp + pad, x, n * sizeof *xp);
    double peak = 0.0;
    long overs = 0, points = 0;
    int in_over = 0;
    /* times i + p/OS for i in [-HALF, n + HALF): the ringing outside the file counts.
     * Blocks of BLOCK times whose inputs are all so small that no interpolated value can
     * exceed min(ceiling, peak so far) are skipped: the bound l1 * max|x| is exact, so
     * the result is the same as evaluating every point, only faster. */
    enum { BLOCK = 64 };
    for (long b0 = -HALF; b0 < (long)n + HALF; b0 += BLOCK) {
        const long b1 = b0 + BLOCK < (long)n + HALF ? b0 + BLOCK : (long)n + HALF;
        double wmax = 0.0;
        for (long j = b0 - HALF + 1; j < b1 + HALF; j++) {
            const double a = fabs(xp[(long)pad + j]);
            if (a > wmax)
                wmax = a;
        }
        const double thr = peak < ceil_lin ? peak : ceil_lin;
        if (f->l1 * wmax <= thr) {
            in_over = 0;
            continue;
        }
        for (long i = b0; i < b1; i++) {
            double acc[OS] = {0};
            const double *xw = xp + (long)pad + i - HALF + 1;
            for (int k = 0; k < TAPS; k++) {
                const double xv = xw[k];
                for (int p = 0; p < OS; p++)
                    acc[p] += h[k][p] * xv;
            }
            for (int p = 0; p < OS; p++) {
                const double a = fabs(acc[p]);
                if (a > peak)
                    peak = a;
                if (a > ceil_lin) {
                    points++;
                    if (!in_over)
                        overs++;
                    in_over = 1;
                } else {
                    in_over = 0;
                }
            }
        }
    }
    free(xp);
    if (peak > res->peak)
        res->peak = peak;
    res->overs += overs;
    res->over_points += points;
}

static int cmd_level(const char *path, double ceil_db)
{
    int ch, rate;
    size_t n;
    double *x = read_file(path, &ch, &n, &rate);
    ebur128_state *st = ebur128_init((unsigned)ch, (unsigned long)rate, EBUR128_MODE_I);
    if (!st)
        die("ebur128_init failed", path);
    /* libebur128 takes interleaved frames */
    double *inter = xmalloc(n * (size_t)ch * sizeof *inter);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < ch; c++)
            inter[i * (size_t)ch + (size_t)c] = x[(size_t)c * n + i];
    if (ebur128_add_frames_double(st, inter, n) != EBUR128_SUCCESS)
        die("ebur128_add_frames_double failed", path);
    free(inter);
    double lufs;
    if (ebur128_loudness_global(st, &lufs) != EBUR128_SUCCESS)
        die("ebur128_loudness_global failed", path);
    ebur128_destroy(&st);

    tp_filter h;
    tp_design(&h);
    tp_result r = {0.0, 0, 0};
    const double ceil_lin = pow(10.0, ceil_db / 20.0);
    for (int c = 0; c < ch; c++)
        true_peak_16x(&h, x + (size_t)c * n, n, ceil_lin, &r);
    free(x);
    printf("%.3f %.3f %ld %ld %.3f\n", lufs, lqt_db(r.peak), r.overs, r.over_points,
           (double)n / rate);
    return 0;
}

/* ---- THD+N and SMPTE IMD ------------------------------------------------------------- */

static const double *slice(const char *path, double start_s, double len_s, double **owner,
                           size_t *len, int *rate)
{
    int ch;
    size_t n;
    double *x = read_file(path, &ch, &n, rate);
    const size_t a = (size_t)llround(start_s * *rate), m = (size_t)llround(len_s * *rate);
    if (a + m > n || m < 1024)
        die(path, "too short for the analysis window");
    *owner = x;
    *len = m;
    return x + a; /* channel 0 */
}

static int cmd_thdn(const char *path, double freq, double start_s, double len_s)
{
    double *owner;
    size_t m;
    int rate;
    const double *x = slice(path, start_s, len_s, &owner, &m, &rate);
    printf("%.2f %.3f\n", lqt_thdn_db(x, m, rate, freq), lqt_sine_level_db(x, m, rate, freq));
    free(owner);
    return 0;
}

static int cmd_imd(const char *path, double f1, double f2, double start_s, double len_s)
{
    double *owner;
    size_t m;
    int rate;
    const double *x = slice(path, start_s, len_s, &owner, &m, &rate);
    const double a2 = pow(10.0, lqt_sine_level_db(x, m, rate, f2) / 20.0);
    double s = 0.0;
    for (int k = 1; k <= 4; k++) {
        const double lo = pow(10.0, lqt_sine_level_db(x, m, rate, f2 - k * f1) / 20.0);
        const double hi = pow(10.0, lqt_sine_level_db(x, m, rate, f2 + k * f1) / 20.0);
        s += (lo + hi) * (lo + hi);
    }
    const double imd = sqrt(s) / a2;
    printf("%.2f %.5f %.3f %.3f\n", lqt_db(imd), 100.0 * imd,
           lqt_sine_level_db(x, m, rate, f1), lqt_db(a2));
    free(owner);
    return 0;
}

/* ---- test signals -------------------------------------------------------------------- */

static int cmd_gen(const char *kind, const char *out, int rate, double secs, double peak_db)
{
    const int smpte = !strcmp(kind, "smpte");
    if (!smpte && strcmp(kind, "sine"))
        die("unknown signal (expected sine or smpte)", kind);
    if (rate < 8000 || rate > 768000 || secs < 1.0 || secs > 600.0)
        die("rate or length out of range", NULL);
    const size_t n = (size_t)llround(secs * rate), fade = (size_t)llround(0.05 * rate);
    const double pk = pow(10.0, peak_db / 20.0);
    float *y = xmalloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        const double t = (double)i / rate;
        double v = smpte ? 0.8 * sin(2.0 * M_PI * 60.0 * t) + 0.2 * sin(2.0 * M_PI * 7000.0 * t)
                         : sin(2.0 * M_PI * 1000.0 * t);
        double g = 1.0;
        if (i < fade)
            g = 0.5 - 0.5 * cos(M_PI * (double)i / (double)fade);
        else if (i >= n - fade)
            g = 0.5 - 0.5 * cos(M_PI * (double)(n - 1 - i) / (double)fade);
        y[i] = (float)(pk * g * v);
    }
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE *f = sf_open(out, SFM_WRITE, &info);
    if (!f)
        die(out, sf_strerror(NULL));
    if ((size_t)sf_writef_float(f, y, (sf_count_t)n) != n)
        die(out, "short write");
    sf_close(f);
    free(y);
    return 0;
}

/* ---- self test ----------------------------------------------------------------------- */

static int cmd_selftest(void)
{
    const size_t n = 20000;
    double *x = xmalloc(n * sizeof *x);
    tp_filter h;
    tp_design(&h);
    double worst = 0.0;
    for (int sig = 0; sig < 3; sig++) {
        unsigned long s = 12345u;
        for (size_t i = 0; i < n; i++) {
            if (sig == 0) { /* white noise, LCG (Numerical Recipes' constants) */
                s = (s * 1664525u + 1013904223u) & 0xffffffffu;
                x[i] = 0.5 * ((double)s / 4294967296.0 - 0.5);
            } else if (sig == 1) { /* fs/4 at 45 degrees: samples at 0.707, peak 1 */
                x[i] = sin(M_PI / 2.0 * (double)i + M_PI / 4.0);
            } else { /* a 300-sample burst of a 0.45 fs tone */
                x[i] = (i > 5000 && i < 5300) ? 0.9 * sin(2.0 * M_PI * 0.45 * (double)i) : 0.0;
            }
        }
        tp_result r = {0.0, 0, 0};
        true_peak_16x(&h, x, n, 2.0, &r);
        const double ref = lqt_true_peak_16x(x, n);
        const double d = fabs(lqt_db(r.peak) - lqt_db(ref));
        printf("signal %d: this meter %.4f dBTP, lqt_true_peak_16x %.4f dBTP, diff %.4f dB\n",
               sig, lqt_db(r.peak), lqt_db(ref), d);
        if (d > worst)
            worst = d;
    }
    free(x);
    return worst <= 0.002 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 7 && !strcmp(argv[1], "gen"))
        return cmd_gen(argv[2], argv[3], (int)parse_num(argv[4]), parse_num(argv[5]),
                       parse_num(argv[6]));
    if (argc == 4 && !strcmp(argv[1], "level"))
        return cmd_level(argv[2], parse_num(argv[3]));
    if (argc == 6 && !strcmp(argv[1], "thdn"))
        return cmd_thdn(argv[2], parse_num(argv[3]), parse_num(argv[4]), parse_num(argv[5]));
    if (argc == 7 && !strcmp(argv[1], "imd"))
        return cmd_imd(argv[2], parse_num(argv[3]), parse_num(argv[4]), parse_num(argv[5]),
                       parse_num(argv[6]));
    if (argc == 2 && !strcmp(argv[1], "selftest"))
        return cmd_selftest();
    fprintf(stderr, "usage: bench_limiter_meter gen sine|smpte OUT RATE SECONDS PEAK_DBFS\n"
                    "       bench_limiter_meter level FILE CEILING_DBTP\n"
                    "       bench_limiter_meter thdn FILE FREQ START_S LEN_S\n"
                    "       bench_limiter_meter imd FILE F1 F2 START_S LEN_S\n"
                    "       bench_limiter_meter selftest\n");
    return 2;
}
