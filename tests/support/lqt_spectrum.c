/* Spectrum measurements with FFTW (double).  FFTW's planner is not thread-safe, so plan
 * creation and destruction go through one mutex of our own. */
#include "lqtest.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

/* |X_k|^2 for k = 0..n/2 of x * w (w computed by `win`), returned malloc'd;
 * *wsum2 = sum of w^2. */
typedef double (*window_fn)(size_t i, size_t n);

/* 4-term Blackman-Harris, -92 dB sidelobes (Harris, "On the use of windows for harmonic
 * analysis with the discrete Fourier transform", Proc. IEEE 66(1), 1978, table 1). */
static double win_bh4(size_t i, size_t n)
{
    const double a0 = 0.35875, a1 = 0.48829, a2 = 0.14128, a3 = 0.01168;
    const double t = 2.0 * M_PI * (double)i / (double)n;
    return a0 - a1 * cos(t) + a2 * cos(2.0 * t) - a3 * cos(3.0 * t);
}

/* 7-term minimum-sidelobe cosine-sum window, about -180 dB sidelobes, main lobe +-7 bins
 * (Albrecht, "Tailoring of minimum sidelobe cosine-sum windows for high-resolution
 * measurements", The Open Signal Processing Journal 3, 2010, table 1). */
static double win_bh7(size_t i, size_t n)
{
    static const double a[7] = {0.27105140069342, 0.43329793923448, 0.21812299954311,
                                0.06592544638803, 0.01081174209837, 0.00077658482522,
                                0.00001388721735};
    const double t = 2.0 * M_PI * (double)i / (double)n;
    double w = 0.0;
    for (int k = 0; k < 7; k++)
        w += ((k & 1) ? -a[k] : a[k]) * cos((double)k * t);
    return w;
}

static double win_hann(size_t i, size_t n)
{
    return 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)n);
}

static double *power_spectrum(const double *x, size_t n, window_fn win, double *wsum2)
{
    double *in = fftw_malloc(n * sizeof *in);
    fftw_complex *out = fftw_malloc((n / 2 + 1) * sizeof *out);
    double *p = malloc((n / 2 + 1) * sizeof *p);
    if (!in || !out || !p) {
        fprintf(stderr, "lqtest: out of memory\n");
        abort();
    }
    pthread_mutex_lock(&plan_lock);
    fftw_plan plan = fftw_plan_dft_r2c_1d((int)n, in, out, FFTW_ESTIMATE);
    pthread_mutex_unlock(&plan_lock);
    double s2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double w = win(i, n);
        in[i] = x[i] * w;
        s2 += w * w;
    }
    fftw_execute(plan);
    for (size_t k = 0; k <= n / 2; k++)
        p[k] = out[k][0] * out[k][0] + out[k][1] * out[k][1];
    pthread_mutex_lock(&plan_lock);
    fftw_destroy_plan(plan);
    pthread_mutex_unlock(&plan_lock);
    fftw_free(in);
    fftw_free(out);
    *wsum2 = s2;
    return p;
}

/* Parseval: for x = A sin(w n + phi), the positive-frequency lobe of |X_k|^2 holds
 * n * (A^2 / 4) * sum(w^2) (one half of n * sum (x w)^2). */
static double lobe_energy(const double *p, size_t n, double rate, double freq, long half,
                          long *lo, long *hi)
{
    const long kmax = (long)(n / 2);
    const long kc = lrint(freq * (double)n / rate);
    long a = kc - half, b = kc + half;
    if (a < 0)
        a = 0;
    if (b > kmax)
        b = kmax;
    double e = 0.0;
    for (long k = a; k <= b; k++)
        e += p[k] * ((k == 0 || (k == kmax && n % 2 == 0)) ? 2.0 : 1.0);
    *lo = a;
    *hi = b;
    return e;
}

double lqt_sine_level_db(const double *x, size_t n, double rate, double freq)
{
    double s2;
    if (n < 16)
        return -INFINITY;
    double *p = power_spectrum(x, n, win_bh4, &s2);
    long lo, hi;
    const double e = lobe_energy(p, n, rate, freq, 6, &lo, &hi);
    free(p);
    const double a2 = 4.0 * e / ((double)n * s2);
    return a2 > 0.0 ? 10.0 * log10(a2) : -INFINITY;
}

double lqt_thdn_db(const double *x, size_t n, double rate, double freq)
{
    double s2;
    if (n < 16)
        return INFINITY;
    double *p = power_spectrum(x, n, win_bh7, &s2);
    long lo, hi;
    const double fund = lobe_energy(p, n, rate, freq, 10, &lo, &hi);
    double rest = 0.0;
    for (long k = 10; k <= (long)(n / 2); k++)
        if (k < lo || k > hi)
            rest += p[k];
    free(p);
    if (fund <= 0.0)
        return INFINITY;
    return rest > 0.0 ? 10.0 * log10(rest / fund) : -INFINITY;
}

double lqt_band_db(const double *x, size_t n, double rate, double f0, double f1)
{
    double s2;
    if (n < 16)
        return -INFINITY;
    double *p = power_spectrum(x, n, win_hann, &s2);
    double e = 0.0;
    for (size_t k = 1; k <= n / 2; k++) {
        const double f = (double)k * rate / (double)n;
        if (f >= f0 && f < f1)
            e += p[k];
    }
    free(p);
    /* a full-scale sine gives e = n * sum(w^2) / 4 */
    const double norm = (double)n * s2 / 4.0;
    return e > 0.0 ? 10.0 * log10(e / norm) : -INFINITY;
}

long lqt_xcorr_lag(const double *a, const double *b, size_t n, long maxlag)
{
    size_t N = 1;
    while (N < 2 * n)
        N <<= 1;
    double *ta = fftw_malloc(N * sizeof *ta), *tb = fftw_malloc(N * sizeof *tb);
    fftw_complex *fa = fftw_malloc((N / 2 + 1) * sizeof *fa);
    fftw_complex *fb = fftw_malloc((N / 2 + 1) * sizeof *fb);
    if (!ta || !tb || !fa || !fb) {
        fprintf(stderr, "lqtest: out of memory\n");
        abort();
    }
    pthread_mutex_lock(&plan_lock);
    fftw_plan pa = fftw_plan_dft_r2c_1d((int)N, ta, fa, FFTW_ESTIMATE);
    fftw_plan pb = fftw_plan_dft_r2c_1d((int)N, tb, fb, FFTW_ESTIMATE);
    fftw_plan pi = fftw_plan_dft_c2r_1d((int)N, fa, ta, FFTW_ESTIMATE);
    pthread_mutex_unlock(&plan_lock);
    for (size_t i = 0; i < N; i++) {
        ta[i] = i < n ? a[i] : 0.0;
        tb[i] = i < n ? b[i] : 0.0;
    }
    fftw_execute(pa);
    fftw_execute(pb);
    /* r[m] = sum_i a[i] b[i - m]  <=>  R = A * conj(B) */
    for (size_t k = 0; k <= N / 2; k++) {
        const double re = fa[k][0] * fb[k][0] + fa[k][1] * fb[k][1];
        const double im = fa[k][1] * fb[k][0] - fa[k][0] * fb[k][1];
        fa[k][0] = re;
        fa[k][1] = im;
    }
    fftw_execute(pi);
    long best = 0;
    double bv = -INFINITY;
    if (maxlag > (long)n - 1)
        maxlag = (long)n - 1;
    for (long m = -maxlag; m <= maxlag; m++) {
        const double v = ta[m >= 0 ? (size_t)m : N - (size_t)(-m)];
        if (v > bv) {
            bv = v;
            best = m;
        }
    }
    pthread_mutex_lock(&plan_lock);
    fftw_destroy_plan(pa);
    fftw_destroy_plan(pb);
    fftw_destroy_plan(pi);
    pthread_mutex_unlock(&plan_lock);
    fftw_free(ta);
    fftw_free(tb);
    fftw_free(fa);
    fftw_free(fb);
    return best;
}

double lqt_correlation(const double *a, const double *b, size_t n)
{
    double ma = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)(n ? n : 1);
    mb /= (double)(n ? n : 1);
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        const double x = a[i] - ma, y = b[i] - mb;
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    return (saa > 0 && sbb > 0) ? sab / sqrt(saa * sbb) : 0.0;
}

const double lqt_octave_hz[LQT_N_OCTAVES] = {31.25, 62.5, 125, 250, 500, 1000, 2000, 4000,
                                             8000, 16000};

void lqt_octave_db(const double *x, int channels, size_t n, double rate,
                   double out[LQT_N_OCTAVES])
{
    for (int b = 0; b < LQT_N_OCTAVES; b++) {
        double e = 0.0, f0 = lqt_octave_hz[b] / sqrt(2.0), f1 = lqt_octave_hz[b] * sqrt(2.0);
        if (f1 > rate / 2.0) f1 = rate / 2.0;
        for (int c = 0; c < channels; c++)
            e += pow(10.0, lqt_band_db(x + (size_t)c * n, n, rate, f0, f1) / 10.0);
        out[b] = 10.0 * log10(e);
    }
}
