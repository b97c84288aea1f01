/* Polyphase FIR interpolator design and the streaming peak detector (oversample.h). */
#include "dsp/oversample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LQ_OS_PI 3.14159265358979323846

/* Modified Bessel function of the first kind, order 0, by its power series
 * I0(x) = sum_k ((x/2)^k / k!)^2 (Abramowitz & Stegun 9.6.12); converges quickly for
 * the beta values used here (terms below 1e-17 of the sum are dropped). */
static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0, q = x * x / 4.0;
    for (int k = 1; k < 200; k++) {
        term *= q / ((double)k * (double)k);
        sum += term;
        if (term < sum * 1e-17) break;
    }
    return sum;
}

lq_error lq_os_design(lq_os_filter *f, int factor)
{
    memset(f, 0, sizeof *f);
    if (factor < 2 || factor > LQ_OS_MAX_FACTOR) return LQ_ERR_ARG;
    const int L = factor, K = LQ_OS_TAPS;
    const int n_total = L * K;
    double *proto = malloc((size_t)n_total * sizeof *proto);
    f->coef = malloc((size_t)n_total * sizeof *f->coef);
    if (!proto || !f->coef) {
        free(proto);
        free(f->coef);
        f->coef = NULL;
        return LQ_ERR_NOMEM;
    }
    f->factor = L;
    f->taps = K;
    /* Prototype: h[n] = sinc((n - c)/L) * w(n), c = L*K/2, n = 0 .. L*K-1, cut-off at the
     * input Nyquist frequency; Kaiser window w(n) = I0(beta sqrt(1 - ((n-c)/c)^2)) / I0(beta)
     * (Kaiser 1974; Oppenheim & Schafer 3rd ed. eq. 7.62).  h[0] falls on a zero of the
     * sinc, so the filter is symmetric about c (linear phase, delay K/2 input samples). */
    const double c = (double)n_total / 2.0;
    const double i0b = bessel_i0(LQ_OS_BETA);
    for (int n = 0; n < n_total; n++) {
        double u = ((double)n - c) / (double)L;          /* time in input samples */
        double r = ((double)n - c) / c;                  /* -1 .. 1 */
        double w = bessel_i0(LQ_OS_BETA * sqrt(fmax(0.0, 1.0 - r * r))) / i0b;
        double s = (n % L == 0) ? 0.0 : sin(LQ_OS_PI * u) / (LQ_OS_PI * u);
        proto[n] = s * w;
    }
    proto[n_total / 2] = 1.0;   /* centre: sinc(0) * w(c) = 1 exactly */
    /* Phases, each time-reversed; every phase but 0 normalised to unity gain at DC so a
     * constant is interpolated exactly. */
    double l1max = 0;
    for (int p = 0; p < L; p++) {
        double dc = 0, l1 = 0;
        for (int k = 0; k < K; k++) dc += proto[p + L * k];
        for (int k = 0; k < K; k++) {
            double v = p == 0 ? proto[p + L * k] : proto[p + L * k] / dc;
            f->coef[(size_t)p * (size_t)K + (size_t)(K - 1 - k)] = v;
            l1 += fabs(v);
        }
        if (l1 > l1max) l1max = l1;
    }
    f->l1 = l1max;
    free(proto);
    return LQ_OK;
}

void lq_os_filter_free(lq_os_filter *f)
{
    free(f->coef);
    f->coef = NULL;
}

double lq_os_response(const lq_os_filter *f, double freq)
{
    /* The interpolator's impulse response at the oversampled rate, rebuilt from the
     * phases: g[p + L*k] = h_p[k]; response at F (input-rate units) is
     * |sum_n g[n] e^{-j 2 pi F n / L}| / L (each phase has unity DC gain). */
    const int L = f->factor, K = f->taps;
    double re = 0, im = 0;
    for (int p = 0; p < L; p++)
        for (int k = 0; k < K; k++) {
            double g = f->coef[(size_t)p * (size_t)K + (size_t)(K - 1 - k)];
            double ph = -2.0 * LQ_OS_PI * freq * (double)(p + L * k) / (double)L;
            re += g * cos(ph);
            im += g * sin(ph);
        }
    return hypot(re, im) / (double)L;
}

void lq_os_detector_reset(lq_os_detector *d)
{
    memset(d, 0, sizeof *d);
}

double lq_os_detector_push(lq_os_detector *d, const lq_os_filter *f, double x,
                           double skip_below, int refine)
{
    const double *hist = lq_os_hist_push(&d->hist, x);
    const int K = LQ_OS_TAPS, cap = LQ_OS_TAPS + 1;
    /* sliding maximum of |x| over the last K samples (monotonic deque) */
    const double ax = fabs(x);
    const long long t = d->t++;
    while (d->dq_len > 0) {
        int back = (d->dq_head + d->dq_len - 1) % cap;
        if (d->dq_val[back] > ax) break;
        d->dq_len--;
    }
    {
        int slot = (d->dq_head + d->dq_len) % cap;
        d->dq_val[slot] = ax;
        d->dq_idx[slot] = t;
        d->dq_len++;
    }
    while (d->dq_idx[d->dq_head] <= t - K) {
        d->dq_head = (d->dq_head + 1) % cap;
        d->dq_len--;
    }
    const double bound = f->l1 * d->dq_val[d->dq_head];
    if (bound < skip_below) {
        d->y1 = d->y2 = 0;
        return bound;
    }
    double y1 = d->y1, y2 = d->y2, m = 0;
    for (int p = 0; p < f->factor; p++) {
        double v = p == 0 ? fabs(hist[K - 1 - LQ_OS_DELAY]) : fabs(lq_os_phase(f, p, hist));
        if (refine && y1 >= y2 && y1 >= v) {
            /* vertex of the parabola through (y2, y1, v) at (-1, 0, 1) */
            double den = 2.0 * y1 - y2 - v;
            if (den > 0) {
                double diff = v - y2;
                double vert = y1 + diff * diff / (8.0 * den);
                if (vert > m) m = vert;
            }
        }
        y2 = y1;
        y1 = v;
        if (v > m) m = v;
    }
    d->y1 = y1;
    d->y2 = y2;
    return m;
}
