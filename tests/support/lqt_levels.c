/* Levels: sample peak, independent 16x true-peak meter, RMS, null residual. */
#include "lqtest.h"

#include <math.h>
#include <stdlib.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define TP_OS 16    /* phases */
#define TP_TAPS 64  /* taps per phase */
#define TP_HALF 32
#define TP_BETA 9.0

double lqt_db(double lin) { return lin > 0.0 ? 20.0 * log10(lin) : -INFINITY; }

double lqt_sample_peak(const double *x, size_t n)
{
    double p = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > p)
            p = fabs(x[i]);
    return p;
}

/* Zeroth-order modified Bessel function of the first kind, power series
 * (Abramowitz & Stegun 9.6.12). */
static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0, q = x * x / 4.0;
    for (int k = 1; k < 200; k++) {
        term *= q / ((double)k * (double)k);
        sum += term;
        if (term < sum * 1e-17)
            break;
    }
    return sum;
}

/* Kaiser window (Kaiser & Schafer, "On the use of the I0-sinh window for spectrum
 * analysis", IEEE Trans. ASSP 28(1), 1980) applied to the ideal interpolator
 * sinc(t); t in samples, |t| <= TP_HALF. */
static void tp_coeffs(double h[TP_TAPS][TP_OS])
{
    const double i0b = bessel_i0(TP_BETA);
    for (int p = 0; p < TP_OS; p++) {
        const double frac = (double)p / TP_OS;
        double sum = 0.0;
        for (int k = 0; k < TP_TAPS; k++) {
            /* output at i + frac uses x[i + k - TP_HALF + 1], distance d */
            const double d = (double)(k - TP_HALF + 1) - frac;
            const double s = fabs(d) < 1e-12 ? 1.0 : sin(M_PI * d) / (M_PI * d);
            const double r = d / TP_HALF;
            const double w = fabs(r) >= 1.0 ? 0.0 : bessel_i0(TP_BETA * sqrt(1.0 - r * r)) / i0b;
            h[k][p] = s * w;
            sum += h[k][p];
        }
        for (int k = 0; k < TP_TAPS; k++)
            h[k][p] /= sum;
    }
}

double lqt_true_peak_16x(const double *x, size_t n)
{
    double h[TP_TAPS][TP_OS];
    tp_coeffs(h);
    double peak = lqt_sample_peak(x, n);
    /* evaluate y(i + p/16) for i in [-1, n]: the ringing just outside the signal counts */
    for (long i = -TP_HALF; i < (long)n + TP_HALF; i++) {
        double acc[TP_OS] = {0};
        const long j0 = i - TP_HALF + 1; /* x index of tap 0 */
        const int k0 = j0 < 0 ? (int)-j0 : 0;
        const int k1 = j0 + TP_TAPS > (long)n ? (int)((long)n - j0) : TP_TAPS;
        for (int k = k0; k < k1; k++) {
            const double xv = x[j0 + k];
            for (int p = 0; p < TP_OS; p++)
                acc[p] += h[k][p] * xv;
        }
        for (int p = 0; p < TP_OS; p++)
            if (fabs(acc[p]) > peak)
                peak = fabs(acc[p]);
    }
    return peak;
}

double lqt_rms_db(const double *x, size_t n)
{
    if (n == 0)
        return -INFINITY;
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += x[i] * x[i];
    return acc > 0.0 ? 10.0 * log10(acc / (double)n) : -INFINITY;
}

double lqt_null_db(const double *a, const double *b, size_t n)
{
    double e = 0.0, r = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = a[i] - b[i];
        e += d * d;
        r += b[i] * b[i];
    }
    if (e == 0.0)
        return -INFINITY;
    if (r == 0.0)
        return INFINITY;
    return 10.0 * log10(e / r);
}
