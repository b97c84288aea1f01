/* Polyphase FIR interpolator design and the streaming peak detector (oversample.h). */
#include "dsp/oversample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif
/* On x86-64 with GCC or Clang the hot sums also have AVX versions, chosen at run time
 * when the CPU has AVX (lq_os_simd).  They keep the SSE2 versions' summation order
 * (one 256-bit register holds the two 128-bit partial sums of SSE2, reduced in the same
 * order; no FMA: every product and sum rounds as before), so every value, bound and
 * skip decision is bit-identical on any CPU: only the instruction count halves. */
#if defined(__SSE2__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LQ_OS_AVX 1
#include <immintrin.h>
#define LQ_AVX_FN __attribute__((target("avx")))
#endif

int lq_os_simd = 1;

#ifdef LQ_OS_AVX
static int use_avx(void)
{
    return lq_os_simd && __builtin_cpu_supports("avx");
}
LQ_AVX_FN static double tap_bound_avx(const lq_os_filter *f, const double *w);
LQ_AVX_FN static double abs_max_avx(const double *w, size_t n);
#endif

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
    /* the bounds of the fast paths (oversample.h) */
    for (int j = 0; j < K; j++) {
        double m = 0;
        for (int p = 0; p < L; p++)
            m = fmax(m, fabs(f->coef[(size_t)p * (size_t)K + (size_t)j]));
        f->hmax[j] = m;
    }
    for (int p = 0; p < L; p++) {
        double t = 0;
        for (int j = 0; j < K; j++)
            if (j < LQ_OS_C0 || j >= LQ_OS_C0 + LQ_OS_CENTER)
                t += fabs(f->coef[(size_t)p * (size_t)K + (size_t)j]);
        f->tail_l1[p] = t;
    }
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

/* ---- fast evaluation ------------------------------------------------------------ */

#ifdef __SSE2__
/* Phases p0 .. p0+NP-1 of the window w, NP = 1, 2 or 4.  Register A holds the partial
 * sums (a0, a1) of lq_os_phase, register B (a2, a3): lane l of A accumulates
 * h[j+l] w[j+l] for j = 0, 4, 8, ... in that order, exactly like a0/a1 (and B like
 * a2/a3), and the result is formed as (a0 + a1) + (a2 + a3): bit-identical values. */
#define LQ_OS_HSUM(A) _mm_cvtsd_f64(_mm_add_sd((A), _mm_unpackhi_pd((A), (A))))
static void phases4(const double *h, const double *w, double *y)
{
    const double *h0 = h, *h1 = h + LQ_OS_TAPS, *h2 = h + 2 * LQ_OS_TAPS,
                 *h3 = h + 3 * LQ_OS_TAPS;
    __m128d a0 = _mm_setzero_pd(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0,
            b3 = a0;
    for (int j = 0; j < LQ_OS_TAPS; j += 4) {
        const __m128d xa = _mm_loadu_pd(w + j), xb = _mm_loadu_pd(w + j + 2);
        a0 = _mm_add_pd(a0, _mm_mul_pd(_mm_loadu_pd(h0 + j), xa));
        b0 = _mm_add_pd(b0, _mm_mul_pd(_mm_loadu_pd(h0 + j + 2), xb));
        a1 = _mm_add_pd(a1, _mm_mul_pd(_mm_loadu_pd(h1 + j), xa));
        b1 = _mm_add_pd(b1, _mm_mul_pd(_mm_loadu_pd(h1 + j + 2), xb));
        a2 = _mm_add_pd(a2, _mm_mul_pd(_mm_loadu_pd(h2 + j), xa));
        b2 = _mm_add_pd(b2, _mm_mul_pd(_mm_loadu_pd(h2 + j + 2), xb));
        a3 = _mm_add_pd(a3, _mm_mul_pd(_mm_loadu_pd(h3 + j), xa));
        b3 = _mm_add_pd(b3, _mm_mul_pd(_mm_loadu_pd(h3 + j + 2), xb));
    }
    y[0] = LQ_OS_HSUM(a0) + LQ_OS_HSUM(b0);
    y[1] = LQ_OS_HSUM(a1) + LQ_OS_HSUM(b1);
    y[2] = LQ_OS_HSUM(a2) + LQ_OS_HSUM(b2);
    y[3] = LQ_OS_HSUM(a3) + LQ_OS_HSUM(b3);
}

static void phases2(const double *h, const double *w, double *y)
{
    const double *h0 = h, *h1 = h + LQ_OS_TAPS;
    __m128d a0 = _mm_setzero_pd(), b0 = a0, a1 = a0, b1 = a0;
    for (int j = 0; j < LQ_OS_TAPS; j += 4) {
        const __m128d xa = _mm_loadu_pd(w + j), xb = _mm_loadu_pd(w + j + 2);
        a0 = _mm_add_pd(a0, _mm_mul_pd(_mm_loadu_pd(h0 + j), xa));
        b0 = _mm_add_pd(b0, _mm_mul_pd(_mm_loadu_pd(h0 + j + 2), xb));
        a1 = _mm_add_pd(a1, _mm_mul_pd(_mm_loadu_pd(h1 + j), xa));
        b1 = _mm_add_pd(b1, _mm_mul_pd(_mm_loadu_pd(h1 + j + 2), xb));
    }
    y[0] = LQ_OS_HSUM(a0) + LQ_OS_HSUM(b0);
    y[1] = LQ_OS_HSUM(a1) + LQ_OS_HSUM(b1);
}

static double phase1(const double *h, const double *w)
{
    __m128d a0 = _mm_setzero_pd(), b0 = a0;
    for (int j = 0; j < LQ_OS_TAPS; j += 4) {
        a0 = _mm_add_pd(a0, _mm_mul_pd(_mm_loadu_pd(h + j), _mm_loadu_pd(w + j)));
        b0 = _mm_add_pd(b0, _mm_mul_pd(_mm_loadu_pd(h + j + 2), _mm_loadu_pd(w + j + 2)));
    }
    return LQ_OS_HSUM(a0) + LQ_OS_HSUM(b0);
}

/* The tap bound sum_j hmax[j] |w[j]| (any summation order: it is a bound, and the
 * callers leave a relative slack far above its rounding error). */
static double tap_bound(const lq_os_filter *f, const double *w)
{
#ifdef LQ_OS_AVX
    if (use_avx()) return tap_bound_avx(f, w);
#endif
    const __m128d sign = _mm_set1_pd(-0.0);
    __m128d a = _mm_setzero_pd(), b = a, c = a, d = a;
    for (int j = 0; j < LQ_OS_TAPS; j += 8) {
        a = _mm_add_pd(a, _mm_mul_pd(_mm_loadu_pd(f->hmax + j),
                                     _mm_andnot_pd(sign, _mm_loadu_pd(w + j))));
        b = _mm_add_pd(b, _mm_mul_pd(_mm_loadu_pd(f->hmax + j + 2),
                                     _mm_andnot_pd(sign, _mm_loadu_pd(w + j + 2))));
        c = _mm_add_pd(c, _mm_mul_pd(_mm_loadu_pd(f->hmax + j + 4),
                                     _mm_andnot_pd(sign, _mm_loadu_pd(w + j + 4))));
        d = _mm_add_pd(d, _mm_mul_pd(_mm_loadu_pd(f->hmax + j + 6),
                                     _mm_andnot_pd(sign, _mm_loadu_pd(w + j + 6))));
    }
    a = _mm_add_pd(_mm_add_pd(a, b), _mm_add_pd(c, d));
    return LQ_OS_HSUM(a);
}

/* max |w[j]| over j in [0, n), n even or odd */
static double abs_max(const double *w, size_t n)
{
#ifdef LQ_OS_AVX
    if (use_avx()) return abs_max_avx(w, n);
#endif
    const __m128d sign = _mm_set1_pd(-0.0);
    __m128d m = _mm_setzero_pd();
    size_t j = 0;
    for (; j + 2 <= n; j += 2) m = _mm_max_pd(m, _mm_andnot_pd(sign, _mm_loadu_pd(w + j)));
    double r = _mm_cvtsd_f64(_mm_max_sd(m, _mm_unpackhi_pd(m, m)));
    if (j < n && fabs(w[j]) > r) r = fabs(w[j]);
    return r;
}

/* centre sums of phases h, h + TAPS (two at a time, any order), absolute values */
static void centre_sums2(const double *h, const double *w, double *c)
{
    const double *h1 = h + LQ_OS_TAPS;
    __m128d a0 = _mm_setzero_pd(), b0 = a0, a1 = a0, b1 = a0;
    for (int j = LQ_OS_C0; j < LQ_OS_C0 + LQ_OS_CENTER; j += 4) {
        const __m128d xa = _mm_loadu_pd(w + j), xb = _mm_loadu_pd(w + j + 2);
        a0 = _mm_add_pd(a0, _mm_mul_pd(_mm_loadu_pd(h + j), xa));
        b0 = _mm_add_pd(b0, _mm_mul_pd(_mm_loadu_pd(h + j + 2), xb));
        a1 = _mm_add_pd(a1, _mm_mul_pd(_mm_loadu_pd(h1 + j), xa));
        b1 = _mm_add_pd(b1, _mm_mul_pd(_mm_loadu_pd(h1 + j + 2), xb));
    }
    a0 = _mm_add_pd(a0, b0);
    a1 = _mm_add_pd(a1, b1);
    c[0] = fabs(LQ_OS_HSUM(a0));
    c[1] = fabs(LQ_OS_HSUM(a1));
}
#else
static double tap_bound(const lq_os_filter *f, const double *w)
{
    double a = 0;
    for (int j = 0; j < LQ_OS_TAPS; j++) a += f->hmax[j] * fabs(w[j]);
    return a;
}

static double abs_max(const double *w, size_t n)
{
    double r = 0;
    for (size_t j = 0; j < n; j++)
        if (fabs(w[j]) > r) r = fabs(w[j]);
    return r;
}

static void centre_sums2(const double *h, const double *w, double *c)
{
    double a0 = 0, a1 = 0;
    for (int j = LQ_OS_C0; j < LQ_OS_C0 + LQ_OS_CENTER; j++) {
        a0 += h[j] * w[j];
        a1 += h[j + LQ_OS_TAPS] * w[j];
    }
    c[0] = fabs(a0);
    c[1] = fabs(a1);
}
#endif

#ifdef LQ_OS_AVX
/* (lo[0] + lo[1]) + (hi[0] + hi[1]): LQ_OS_HSUM of SSE2's A, plus that of its B */
LQ_AVX_FN static inline double hsum_ab(__m256d a)
{
    const __m128d lo = _mm256_castpd256_pd128(a), hi = _mm256_extractf128_pd(a, 1);
    return LQ_OS_HSUM(lo) + LQ_OS_HSUM(hi);
}

/* phases4/phase1 with lanes (A, B) in one register: the same sums, the same order */
LQ_AVX_FN static void phases4_avx(const double *h, const double *w, double *y)
{
    const double *h0 = h, *h1 = h + LQ_OS_TAPS, *h2 = h + 2 * LQ_OS_TAPS,
                 *h3 = h + 3 * LQ_OS_TAPS;
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    for (int j = 0; j < LQ_OS_TAPS; j += 4) {
        const __m256d x = _mm256_loadu_pd(w + j);
        a0 = _mm256_add_pd(a0, _mm256_mul_pd(_mm256_loadu_pd(h0 + j), x));
        a1 = _mm256_add_pd(a1, _mm256_mul_pd(_mm256_loadu_pd(h1 + j), x));
        a2 = _mm256_add_pd(a2, _mm256_mul_pd(_mm256_loadu_pd(h2 + j), x));
        a3 = _mm256_add_pd(a3, _mm256_mul_pd(_mm256_loadu_pd(h3 + j), x));
    }
    y[0] = hsum_ab(a0);
    y[1] = hsum_ab(a1);
    y[2] = hsum_ab(a2);
    y[3] = hsum_ab(a3);
}

LQ_AVX_FN static double phase1_avx(const double *h, const double *w)
{
    __m256d a = _mm256_setzero_pd();
    for (int j = 0; j < LQ_OS_TAPS; j += 4)
        a = _mm256_add_pd(a, _mm256_mul_pd(_mm256_loadu_pd(h + j), _mm256_loadu_pd(w + j)));
    return hsum_ab(a);
}

LQ_AVX_FN static void phases_avx(const lq_os_filter *f, const double *hist, double *y)
{
    const int L = f->factor;
    const double *h = f->coef;
    y[0] = lq_os_phase(f, 0, hist);
    int p = 1;
    for (; p + 4 <= L; p += 4) phases4_avx(h + (size_t)p * LQ_OS_TAPS, hist, y + p);
    for (; p < L; p++) y[p] = phase1_avx(h + (size_t)p * LQ_OS_TAPS, hist);
}

/* tap_bound's (a + b) + (c + d), lane by lane, then its horizontal sum */
LQ_AVX_FN static double tap_bound_avx(const lq_os_filter *f, const double *w)
{
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d ab = _mm256_setzero_pd(), cd = ab;
    for (int j = 0; j < LQ_OS_TAPS; j += 8) {
        ab = _mm256_add_pd(ab, _mm256_mul_pd(_mm256_loadu_pd(f->hmax + j),
                                             _mm256_andnot_pd(sign, _mm256_loadu_pd(w + j))));
        cd = _mm256_add_pd(cd, _mm256_mul_pd(_mm256_loadu_pd(f->hmax + j + 4),
                                             _mm256_andnot_pd(sign, _mm256_loadu_pd(w + j + 4))));
    }
    const __m128d a = _mm_add_pd(_mm256_castpd256_pd128(ab), _mm256_extractf128_pd(ab, 1));
    const __m128d c = _mm_add_pd(_mm256_castpd256_pd128(cd), _mm256_extractf128_pd(cd, 1));
    const __m128d t = _mm_add_pd(a, c);
    return LQ_OS_HSUM(t);
}

LQ_AVX_FN static double abs_max_avx(const double *w, size_t n)
{
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d m = _mm256_setzero_pd();
    const size_t n4 = n & ~(size_t)3;
    size_t j = 0;
    for (; j < n4; j += 4) m = _mm256_max_pd(m, _mm256_andnot_pd(sign, _mm256_loadu_pd(w + j)));
    __m128d q = _mm_max_pd(_mm256_castpd256_pd128(m), _mm256_extractf128_pd(m, 1));
    double r = _mm_cvtsd_f64(_mm_max_sd(q, _mm_unpackhi_pd(q, q)));
    for (; j < n; j++)
        if (fabs(w[j]) > r) r = fabs(w[j]);
    return r;
}

/* centre_sums2 with each phase's (a0, b0) in one register, reduced as there */
LQ_AVX_FN static void centre_sums2_avx(const double *h, const double *w, double *c)
{
    const double *h1 = h + LQ_OS_TAPS;
    __m256d a0 = _mm256_setzero_pd(), a1 = a0;
    for (int j = LQ_OS_C0; j < LQ_OS_C0 + LQ_OS_CENTER; j += 4) {
        const __m256d x = _mm256_loadu_pd(w + j);
        a0 = _mm256_add_pd(a0, _mm256_mul_pd(_mm256_loadu_pd(h + j), x));
        a1 = _mm256_add_pd(a1, _mm256_mul_pd(_mm256_loadu_pd(h1 + j), x));
    }
    const __m128d t0 = _mm_add_pd(_mm256_castpd256_pd128(a0), _mm256_extractf128_pd(a0, 1));
    const __m128d t1 = _mm_add_pd(_mm256_castpd256_pd128(a1), _mm256_extractf128_pd(a1, 1));
    c[0] = fabs(LQ_OS_HSUM(t0));
    c[1] = fabs(LQ_OS_HSUM(t1));
}
#endif

void lq_os_phases(const lq_os_filter *f, const double *hist, double *y)
{
    const int L = f->factor;
#ifdef LQ_OS_AVX
    if (use_avx()) {
        phases_avx(f, hist, y);
        return;
    }
#endif
    y[0] = lq_os_phase(f, 0, hist);
#ifdef __SSE2__
    const double *h = f->coef;
    int p = 1;
    for (; p + 4 <= L; p += 4) phases4(h + (size_t)p * LQ_OS_TAPS, hist, y + p);
    for (; p + 2 <= L; p += 2) phases2(h + (size_t)p * LQ_OS_TAPS, hist, y + p);
    for (; p < L; p++) y[p] = phase1(h + (size_t)p * LQ_OS_TAPS, hist);
#else
    for (int p = 1; p < L; p++) y[p] = lq_os_phase(f, p, hist);
#endif
}

static inline double dmax(double a, double b)
{
    return a > b ? a : b;
}

/* The centre bound (oversample.h): max over phases of |centre sum| + tail_l1 * tail max.
 * Phase 0 (the delayed sample, |w[DELAY-1]|, inside the centre) is covered too.  Stops
 * as soon as the bound exceeds lim (the partial value returned is then > lim). */
static double centre_bound_tm(const lq_os_filter *f, const double *w, double lim, double tm)
{
    double b = fabs(w[LQ_OS_TAPS - 1 - LQ_OS_DELAY]);
    const int L = f->factor;
#ifdef LQ_OS_AVX
    const int avx = use_avx();
#endif
    double c[2];
    /* phases 1..L-1 in pairs; with an odd count the last pair starts one phase back */
    for (int p = 1; p < L && b <= lim; p += 2) {
        const int q = p + 1 < L ? p : L - 2;
#ifdef LQ_OS_AVX
        if (avx) centre_sums2_avx(f->coef + (size_t)q * LQ_OS_TAPS, w, c);
        else
#endif
        centre_sums2(f->coef + (size_t)q * LQ_OS_TAPS, w, c);
        b = dmax(b, dmax(c[0] + f->tail_l1[q] * tm, c[1] + f->tail_l1[q + 1] * tm));
    }
    return b;
}

static double centre_bound(const lq_os_filter *f, const double *w, double lim)
{
    const double tm = dmax(abs_max(w, LQ_OS_C0),
                           abs_max(w + LQ_OS_C0 + LQ_OS_CENTER,
                                   LQ_OS_TAPS - LQ_OS_C0 - LQ_OS_CENTER));
    return centre_bound_tm(f, w, lim, tm);
}

void lq_os_stream_reset(lq_os_stream *s)
{
    memset(s, 0, sizeof *s);
    s->since_loud = LQ_OS_TAPS;
}

/* Rounding.  A computed bound b (sums of products of the same |coef| and |x| that the
 * phases use) and a computed phase value y satisfy |y| <= b (1 + 2^-40) + 1e-300:
 * both are within (64 + 3) units in the last place of the exact sums (Higham, Accuracy
 * and Stability of Numerical Algorithms, 2nd ed., sec. 3.1, the bound gamma_n), plus at
 * most 64 half subnormal spacings of underflow in the products; 2^-40 and 1e-300 are
 * far above both. */
#define BOUND_REL (1.0 + 0x1p-40)
#define BOUND_ABS 1e-300
/* skip when bound <= mx BOUND_SHRINK - BOUND_ABS, which implies
 * bound BOUND_REL + BOUND_ABS <= mx (with room for the rounding of the product) */
#define BOUND_SHRINK (1.0 - 0x1p-39)
/* a group of samples shares one window-maximum test in the meter */
#define METER_GROUP 16

double lq_os_stream_meter(lq_os_stream *s, const lq_os_filter *f, const double *x, size_t n,
                          double mx)
{
    const int K = LQ_OS_TAPS, L = f->factor;
    const double l1 = f->l1;
    double y[LQ_OS_MAX_FACTOR];
    while (n > 0) {
        const size_t k = n < LQ_OS_CHUNK ? n : LQ_OS_CHUNK;
        memcpy(s->x + K, x, k * sizeof *x);
        /* sample i of the chunk: window w = s->x + i + 1 (x[t-63] .. x[t]) */
        for (size_t g = 0; g < k; g += METER_GROUP) {
            const size_t ge = g + METER_GROUP < k ? g + METER_GROUP : k;
            /* (1) l1 times the largest |x| in any window of the group: every |y_p| of
             * the group is below it; none can raise mx when it is <= mx (all zeros:
             * every y_p is +-0) */
            const double gm = abs_max(s->x + g + 1, ge - g + (size_t)K - 1);
            if (gm == 0.0 || l1 * gm <= mx * BOUND_SHRINK - BOUND_ABS) continue;
            for (size_t i = g; i < ge; i++) {
                const double *w = s->x + i + 1;
                /* (2), (3): each an upper bound of every |y_p(t)|; a sample whose bound
                 * is <= mx cannot change the maximum, so skipping it leaves the result
                 * exactly that of computing every phase */
                const double lim = mx * BOUND_SHRINK - BOUND_ABS;
                if (tap_bound(f, w) <= lim || centre_bound(f, w, lim) <= lim) continue;
                lq_os_phases(f, w, y);
                for (int p = 0; p < L; p++) {
                    const double v = p == 0 ? fabs(w[K - 1 - LQ_OS_DELAY]) : fabs(y[p]);
                    if (v > mx) mx = v;
                }
            }
        }
        memmove(s->x, s->x + k, (size_t)K * sizeof *x);
        x += k;
        n -= k;
    }
    return mx;
}

/* Count the samples t whose oversampled grid (every |y_p(t)|, p = 0..factor-1) exceeds
 * thr, with the meter's cascade of bounds: a sample whose bound is <= thr cannot count,
 * so its phases are not computed (the count is exactly that of computing them all). */
long long lq_os_stream_count_over(lq_os_stream *s, const lq_os_filter *f, const double *x,
                                  size_t n, double thr)
{
    const int K = LQ_OS_TAPS, L = f->factor;
    const double l1 = f->l1, lim = thr * BOUND_SHRINK - BOUND_ABS;
    double y[LQ_OS_MAX_FACTOR];
    long long count = 0;
    while (n > 0) {
        const size_t k = n < LQ_OS_CHUNK ? n : LQ_OS_CHUNK;
        memcpy(s->x + K, x, k * sizeof *x);
        for (size_t g = 0; g < k; g += METER_GROUP) {
            const size_t ge = g + METER_GROUP < k ? g + METER_GROUP : k;
            const double gm = abs_max(s->x + g + 1, ge - g + (size_t)K - 1);
            if (gm == 0.0 || l1 * gm <= lim) continue;
            for (size_t i = g; i < ge; i++) {
                const double *w = s->x + i + 1;
                if (tap_bound(f, w) <= lim || centre_bound(f, w, lim) <= lim) continue;
                lq_os_phases(f, w, y);
                int over = fabs(w[K - 1 - LQ_OS_DELAY]) > thr;
                for (int p = 1; p < L && !over; p++) over = fabs(y[p]) > thr;
                count += over;
            }
        }
        memmove(s->x, s->x + k, (size_t)K * sizeof *x);
        x += k;
        n -= k;
    }
    return count;
}

/* lq_os_stream_meter and lq_os_stream_count_over in one pass: the bounds are tested
 * against min(mx, thr), so a skipped sample can neither raise the maximum nor count. */
/* sum of hmax[j] |w[j]| over the centre taps (the centre part of the tap bound) */
static inline double centre_taps(const lq_os_filter *f, const double *w)
{
    double a = 0, b = 0;
    for (int j = LQ_OS_C0; j < LQ_OS_C0 + LQ_OS_CENTER; j += 2) {
        a += f->hmax[j] * fabs(w[j]);
        b += f->hmax[j + 1] * fabs(w[j + 1]);
    }
    return a + b;
}

/* max |x[i..i+n)| from m8 (m8[j] = max |x[j..j+8)|), n >= 8: exactly abs_max */
static inline double max_m8(const double *m8, size_t i, size_t n)
{
    double r = m8[i + n - 8];
    for (size_t j = 0; j + 8 < n; j += 8) r = dmax(r, m8[i + j]);
    return r;
}

double lq_os_stream_meter_over(lq_os_stream *s, const lq_os_filter *f, const double *x,
                               size_t n, double mx, double thr, long long *overs)
{
    enum { K = LQ_OS_TAPS, T0 = LQ_OS_C0 + LQ_OS_CENTER, T1 = LQ_OS_TAPS - T0 };
    const int L = f->factor;
    const double l1 = f->l1;
    double y[LQ_OS_MAX_FACTOR];
    /* the split bound: |y_p(t)| <= sum over the centre taps of hmax[j] |w[j]| + tail_l1[p]
     * * (largest |w| outside the centre) <= ... + tl * tm, tl the largest tail_l1;
     * for a group, hc times the largest centre sample + tl times the largest of all */
    double tl = 0, hc = 0;
    for (int p = 0; p < L; p++) tl = dmax(tl, f->tail_l1[p]);
    for (int j = LQ_OS_C0; j < LQ_OS_C0 + LQ_OS_CENTER; j++) hc += f->hmax[j];
    /* running maxima of |x| over 2, 4 and 8 samples: the window maxima of the group
     * test and of the centre bound's tails in a few look-ups (the same values) */
    double m[3][K + LQ_OS_CHUNK];
    long long count = 0;
    while (n > 0) {
        const size_t k = n < LQ_OS_CHUNK ? n : LQ_OS_CHUNK, nx = K + k;
        memcpy(s->x + K, x, k * sizeof *x);
        for (size_t j = 0; j + 1 < nx; j++) m[0][j] = dmax(fabs(s->x[j]), fabs(s->x[j + 1]));
        for (size_t j = 0; j + 3 < nx; j++) m[1][j] = dmax(m[0][j], m[0][j + 2]);
        for (size_t j = 0; j + 7 < nx; j++) m[2][j] = dmax(m[1][j], m[1][j + 4]);
        const double *m8 = m[2];
        for (size_t g = 0; g < k; g += METER_GROUP) {
            const size_t ge = g + METER_GROUP < k ? g + METER_GROUP : k;
            const double gm = max_m8(m8, g + 1, ge - g + (size_t)K - 1);
            const double gc = max_m8(m8, g + 1 + LQ_OS_C0, ge - g + LQ_OS_CENTER - 1);
            const double glim = (mx < thr ? mx : thr) * BOUND_SHRINK - BOUND_ABS;
            if (gm == 0.0 || l1 * gm <= glim || hc * gc + tl * gm <= glim) continue;
            for (size_t i = g; i < ge; i++) {
                const double *w = s->x + i + 1;
                const double lim = (mx < thr ? mx : thr) * BOUND_SHRINK - BOUND_ABS;
                const double tm = dmax(max_m8(m8, i + 1, LQ_OS_C0), max_m8(m8, i + 1 + T0, T1));
                if (centre_taps(f, w) + tl * tm <= lim || centre_bound_tm(f, w, lim, tm) <= lim)
                    continue;
                lq_os_phases(f, w, y);
                double v = fabs(w[K - 1 - LQ_OS_DELAY]);
                for (int p = 1; p < L; p++)
                    if (fabs(y[p]) > v) v = fabs(y[p]);
                if (v > mx) mx = v;
                count += v > thr;
            }
        }
        memmove(s->x, s->x + k, (size_t)K * sizeof *x);
        x += k;
        n -= k;
    }
    *overs += count;
    return mx;
}

/* The detector's fast path.  lq_os_detector_push returns m = the maximum of the grid
 * values v_p = |y_p(t)| and of parabola vertices y1 + (v - y2)^2 / (8 (2 y1 - y2 - v)),
 * taken only where y1 >= y2, y1 >= v (three consecutive grid points, y1 in the middle).
 * With a = y1 - y2 >= 0, b = y1 - v >= 0 the vertex is y1 + (a - b)^2 / (8 (a + b)), and
 * (a - b)^2 <= max(a, b) (a + b) <= y1 (a + b), so every vertex is <= 1.125 y1.  The
 * middle point y1 is a grid value of sample t or the last one of sample t-1 (the state),
 * so m <= 1.125 max(bound(t), bound(t-1)).  When that is <= thr, m <= thr and the
 * limiter needs no gain (its r is exactly 1 either way): the phases are not computed.
 * FAST_FACTOR = 1.13 leaves 0.4 % for rounding (far more than BOUND_REL).  The state
 * the reference would hold after such a sample (the last two grid values) is computed
 * later from the kept history, only if the next sample needs the phases ("pending"),
 * so later results are exactly the reference's. */
#define FAST_FACTOR 1.13

/* lq_os_detector_push's refined maximum over the grid u[2 .. L+1] (u[0], u[1]: the two
 * values before them), without branches: the maximum of every grid value and of every
 * vertex y1 + (v - y2)^2 / (8 (2 y1 - y2 - v)) taken at (y2, y1, v) = u[p .. p+2] where
 * y1 >= y2, y1 >= v and the denominator is > 0.  Each vertex is computed with the
 * reference's operations in the reference's order, and a maximum does not depend on
 * the order of its terms (no NaN here), so m is bit-identical to the reference's. */
static double refine_max(const double *u, int L)
{
#ifdef __SSE2__
    const __m128d zero = _mm_setzero_pd(), one = _mm_set1_pd(1.0), two = _mm_set1_pd(2.0),
                  eight = _mm_set1_pd(8.0);
    __m128d m = zero;
    for (int p = 0; p < L; p += 2) {   /* L is even */
        const __m128d y2 = _mm_loadu_pd(u + p), y1 = _mm_loadu_pd(u + p + 1),
                      v = _mm_loadu_pd(u + p + 2);
        const __m128d den = _mm_sub_pd(_mm_sub_pd(_mm_mul_pd(two, y1), y2), v);
        const __m128d ok = _mm_and_pd(_mm_and_pd(_mm_cmpge_pd(y1, y2), _mm_cmpge_pd(y1, v)),
                                      _mm_cmpgt_pd(den, zero));
        const __m128d sden = _mm_or_pd(_mm_and_pd(ok, den), _mm_andnot_pd(ok, one));
        const __m128d diff = _mm_sub_pd(v, y2);
        const __m128d vert =
            _mm_add_pd(y1, _mm_div_pd(_mm_mul_pd(diff, diff), _mm_mul_pd(eight, sden)));
        m = _mm_max_pd(m, _mm_max_pd(v, _mm_and_pd(ok, vert)));
    }
    return _mm_cvtsd_f64(_mm_max_sd(m, _mm_unpackhi_pd(m, m)));
#else
    double m = 0;
    for (int p = 0; p < L; p++) {
        const double y2 = u[p], y1 = u[p + 1], v = u[p + 2];
        if (y1 >= y2 && y1 >= v) {
            const double den = 2.0 * y1 - y2 - v;
            if (den > 0) {
                const double diff = v - y2;
                const double vert = y1 + diff * diff / (8.0 * den);
                if (vert > m) m = vert;
            }
        }
        if (v > m) m = v;
    }
    return m;
#endif
}

void lq_os_stream_detect(lq_os_stream *s, const lq_os_filter *f, const double *x, size_t n,
                         double skip_below, double thr, double *pk)
{
    const int K = LQ_OS_TAPS, L = f->factor;
    const double l1 = f->l1, fast = thr / FAST_FACTOR;
    double y1 = s->y1, y2 = s->y2, pb = s->prev_bound;
    int pending = s->pending, since = s->since_loud;
    double y[LQ_OS_MAX_FACTOR], u[LQ_OS_MAX_FACTOR + 2];
    while (n > 0) {
        const size_t k = n < LQ_OS_CHUNK ? n : LQ_OS_CHUNK;
        memcpy(s->x + K, x, k * sizeof *x);
        for (size_t i = 0; i < k; i++) {
            const double *w = s->x + i + 1;
            /* (1) the reference's own skip rule, exactly: it skips when
             * l1 * max|x| < skip_below over the window; rounded multiplication by l1 > 0
             * is monotonic, so that holds iff l1 |x| < skip_below for every sample of
             * the window, i.e. iff the last sample failing it is >= K samples old */
            if (l1 * fabs(w[K - 1]) < skip_below) {
                if (since < K) since++;
            } else {
                since = 0;
            }
            if (since >= K) {
                /* the reference returns its bound (< skip_below <= thr) and restarts the
                 * parabola state */
                y1 = y2 = 0;
                pending = 0;
                pb = 0;
                pk[i] = 0;
                continue;
            }
            /* (2), (3): see FAST_FACTOR above */
            double b = pb <= fast ? tap_bound(f, w) : fast + 1.0;
            if (pb <= fast && b > fast) b = centre_bound(f, w, fast);
            if (pb <= fast && b <= fast) {
                pending = 1;
                pb = b;
                pk[i] = 0;
                continue;
            }
            if (pending) {
                /* the reference's state: the last two grid values of sample t-1, whose
                 * window is w - 1 (kept: s->x holds K samples before the chunk) */
                const double *wp = w - 1;
                for (int q = L - 2; q < L; q++) {
                    double v = q == 0 ? fabs(wp[K - 1 - LQ_OS_DELAY])
                                      : fabs(lq_os_phase(f, q, wp));
                    y2 = y1;
                    y1 = v;
                }
                pending = 0;
            }
            /* the reference's evaluation, on bit-identical phase values */
            lq_os_phases(f, w, y);
            u[0] = y2;
            u[1] = y1;
            u[2] = fabs(w[K - 1 - LQ_OS_DELAY]);
            for (int p = 1; p < L; p++) u[p + 2] = fabs(y[p]);
            const double m = refine_max(u, L);
            y2 = u[L];
            y1 = u[L + 1];
            pk[i] = m;
            /* every grid value of t is <= m */
            pb = m;
        }
        memmove(s->x, s->x + k, (size_t)K * sizeof *x);
        x += k;
        n -= k;
        pk += k;
    }
    s->y1 = y1;
    s->y2 = y2;
    s->prev_bound = pb;
    s->pending = pending;
    s->since_loud = since;
}
