/* Polyphase FIR interpolation for true-peak detection (the limiter's detector and the
 * 16x true-peak meter in truepeak.c).  The audio itself is never oversampled: these
 * filters only estimate the signal *between* its samples.
 *
 * Design (lq_os_design): a Kaiser-windowed sinc low-pass prototype of factor*taps taps
 * at the oversampled rate, cut off at the input Nyquist frequency (fs/2), split into
 * `factor` phases of LQ_OS_TAPS taps each.  Phase 0 is the pure delay (exactly 1 at the
 * centre tap, exactly 0 elsewhere) so the original samples come out bit-exact.
 *   - taps per phase:     LQ_OS_TAPS = 64 (group delay LQ_OS_DELAY = 32 input samples)
 *   - Kaiser beta:        LQ_OS_BETA = 7.5 (Kaiser's estimate: about 77 dB stopband,
 *                         transition 0.075 fs wide centred on fs/2)
 *   - measured by tests/test_truepeak.c (see docs/PRESETS.md, "Stage: limiter"):
 *     passband ripple 0.001 dB up to 0.45 fs, -6.02 dB at fs/2, image rejection 79 dB
 *     from 0.55 fs up to factor*fs/2 (images of content below 0.45 fs).
 * Kaiser window and its beta/attenuation/transition formulas: J. F. Kaiser,
 * "Nonrecursive digital filter design using the I0-sinh window function", Proc. IEEE
 * ISCAS 1974; as given in Oppenheim & Schafer, Discrete-Time Signal Processing, 3rd ed.,
 * sec. 7.5.3, eqs. (7.62)-(7.63).  Polyphase decomposition of an interpolator:
 * Crochiere & Rabiner, Multirate Digital Signal Processing (1983), sec. 3.3.
 *
 * Interpolated value of phase p (0 <= p < factor) after pushing input sample x[t]:
 *     y_p(t) = sum_{k=0}^{taps-1} h[p + factor*k] * x[t-k]  ~=  x(t - LQ_OS_DELAY + p/factor)
 */
#ifndef LQ_DSP_OVERSAMPLE_H
#define LQ_DSP_OVERSAMPLE_H

#include <stddef.h>

#include "lacquer/lacquer.h"

#define LQ_OS_TAPS 64
#define LQ_OS_DELAY (LQ_OS_TAPS / 2)
#define LQ_OS_BETA 7.5
#define LQ_OS_MAX_FACTOR 16

typedef struct lq_os_filter {
    int factor;          /* 4, 8 or 16 (any 2..LQ_OS_MAX_FACTOR is accepted) */
    int taps;            /* LQ_OS_TAPS */
    /* coef[p*taps + j] = h[p + factor*(taps-1-j)]: each phase time-reversed, so that a
     * dot product with the history x[t-taps+1..t] (oldest first) gives y_p(t). */
    double *coef;
    /* max over phases of sum_k |h_p[k]|: |y_p(t)| <= l1 * max_k |x[t-k]|. */
    double l1;
} lq_os_filter;

/* Design the filter for `factor` (2..LQ_OS_MAX_FACTOR).  LQ_ERR_ARG for a bad factor,
 * LQ_ERR_NOMEM. */
LQ_WARN_UNUSED lq_error lq_os_design(lq_os_filter *f, int factor);
void lq_os_filter_free(lq_os_filter *f);

/* Frequency response magnitude (linear, 1 = unity) of the interpolator at frequency
 * `freq` expressed as a fraction of the INPUT sample rate (0 .. factor/2); used by the
 * tests to measure passband ripple and image rejection. */
double lq_os_response(const lq_os_filter *f, double freq);

/* y_p for a history of `taps` samples, oldest first (hist[taps-1] = x[t]). */
static inline double lq_os_phase(const lq_os_filter *f, int p, const double *hist)
{
    const double *h = f->coef + (size_t)p * (size_t)f->taps;
    /* four partial sums: a fixed summation order (deterministic), better pipelining */
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int j = 0; j < f->taps; j += 4) {
        a0 += h[j] * hist[j];
        a1 += h[j + 1] * hist[j + 1];
        a2 += h[j + 2] * hist[j + 2];
        a3 += h[j + 3] * hist[j + 3];
    }
    return (a0 + a1) + (a2 + a3);
}

/* Streaming history of one channel: a doubled ring so the last `taps` samples are
 * always contiguous.  lq_os_hist_push returns a pointer to them (oldest first). */
typedef struct lq_os_hist {
    double buf[2 * LQ_OS_TAPS];
    int pos;
} lq_os_hist;

static inline const double *lq_os_hist_push(lq_os_hist *h, double x)
{
    h->buf[h->pos] = x;
    h->buf[h->pos + LQ_OS_TAPS] = x;
    h->pos = h->pos + 1 == LQ_OS_TAPS ? 0 : h->pos + 1;
    return h->buf + h->pos;   /* x[t-taps+1] .. x[t] */
}

/* Streaming peak detector for one channel, used by the limiter.  Each push of x[t]
 * returns an upper estimate of max |x(tau)| over tau in [t-D, t-D+1), D = LQ_OS_DELAY:
 * the maximum of |y_p| over the factor phases, refined by a parabola through each
 * local maximum of the oversampled |y| sequence (vertex of the parabola through three
 * consecutive points; it is never below the grid maximum, and removes most of the
 * grid error: at 8x, a tone at 0.45 fs is otherwise under-read by up to 0.14 dB).
 * When the bound l1 * max|x| over the history is below `skip_below`, no phase can
 * reach it: the phases are not computed and the bound is returned (the parabola state
 * restarts). */
typedef struct lq_os_detector {
    lq_os_hist hist;
    double y1, y2;   /* the last two oversampled |y| (y1 most recent) */
    /* sliding maximum of |x| over the history (monotonic deque, indices mod 2*taps) */
    double dq_val[LQ_OS_TAPS + 1];
    long long dq_idx[LQ_OS_TAPS + 1];
    int dq_head, dq_len;
    long long t;
} lq_os_detector;

void lq_os_detector_reset(lq_os_detector *d);
/* Push x[t]; return the peak estimate of [t-D, t-D+1) described above, or, when the
 * phases were skipped, the bound l1 * max|x| (which is then < skip_below).  refine = 0
 * gives the plain maximum over the oversampled grid (a BS.1770-style meter). */
double lq_os_detector_push(lq_os_detector *d, const lq_os_filter *f, double x,
                           double skip_below, int refine);

#endif
