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
/* centre taps of the centre bound (hist[24..39], around the interpolated interval
 * hist[31]..hist[32]) */
#define LQ_OS_CENTER 16
#define LQ_OS_C0 (LQ_OS_DELAY - LQ_OS_CENTER / 2)
/* samples processed per internal chunk by lq_os_stream_* */
#define LQ_OS_CHUNK 256

typedef struct lq_os_filter {
    int factor;          /* 4, 8 or 16 (any 2..LQ_OS_MAX_FACTOR is accepted) */
    int taps;            /* LQ_OS_TAPS */
    /* coef[p*taps + j] = h[p + factor*(taps-1-j)]: each phase time-reversed, so that a
     * dot product with the history x[t-taps+1..t] (oldest first) gives y_p(t). */
    double *coef;
    /* max over phases of sum_k |h_p[k]|: |y_p(t)| <= l1 * max_k |x[t-k]|. */
    double l1;
    /* Tighter bounds used to skip work (lq_os_stream_*):
     * hmax[j] = max over phases p (phase 0 included) of |coef[p*taps + j]|, so
     *   |y_p(t)| <= sum_j hmax[j] |hist[j]|                           (the "tap bound");
     * tail_l1[p] = sum of |coef[p*taps + j]| over j outside the LQ_OS_CENTER centre taps
     * [LQ_OS_C0, LQ_OS_C0 + LQ_OS_CENTER), so
     *   |y_p(t)| <= |sum_{j in centre} coef[p*taps + j] hist[j]|
     *               + tail_l1[p] * max_{j outside centre} |hist[j]|    (the "centre bound").
     * Both follow from the triangle inequality. */
    double hmax[LQ_OS_TAPS];
    double tail_l1[LQ_OS_MAX_FACTOR];
} lq_os_filter;

/* Design the filter for `factor` (2..LQ_OS_MAX_FACTOR).  LQ_ERR_ARG for a bad factor,
 * LQ_ERR_NOMEM. */
LQ_WARN_UNUSED lq_error lq_os_design(lq_os_filter *f, int factor);
void lq_os_filter_free(lq_os_filter *f);

/* Frequency response magnitude (linear, 1 = unity) of the interpolator at frequency
 * `freq` expressed as a fraction of the INPUT sample rate (0 .. factor/2); used by the
 * tests to measure passband ripple and image rejection. */
double lq_os_response(const lq_os_filter *f, double freq);

/* y_p for a history of `taps` samples, oldest first (hist[taps-1] = x[t]).  This is the
 * reference evaluation (plain C); lq_os_phases below gives bit-identical values faster. */
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

/* y[p] = lq_os_phase(f, p, hist) for every p = 0 .. factor-1, bit for bit (the same
 * four partial sums in the same order, two per SSE2 register, several phases per pass;
 * plain C where SSE2 is not available). */
void lq_os_phases(const lq_os_filter *f, const double *hist, double *y);
/* 1 (the default): the AVX versions of the sums where the CPU has AVX (x86-64); 0: the
 * SSE2 ones.  Every value is the same either way (tests compare both); set it only
 * while no other thread uses this module. */
extern int lq_os_simd;

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

/* ---- Fast streaming evaluation (the meter and the limiter use these) ------------------
 *
 * A chunked history (the last LQ_OS_TAPS samples before the chunk, then the chunk) and
 * a cascade of bounds, cheapest first, that decide whether the phases of a sample are
 * needed at all: (1) l1 * max|x| over the window (per group of samples for the meter,
 * the exact per-sample rule of lq_os_detector_push for the limiter), (2) the tap
 * bound, (3) the centre bound (see lq_os_filter).  Only when every bound fails are the
 * phases computed, with lq_os_phases (bit-identical to lq_os_phase).  The results are
 * exactly those of the reference per-sample code; each function states its guarantee,
 * and tests/test_truepeak.c checks them against the reference on mixes, noise and an
 * fs/4 sine, at several levels and block sizes. */
typedef struct lq_os_stream {
    double x[LQ_OS_TAPS + LQ_OS_CHUNK]; /* x[0..TAPS): the samples before the chunk */
    double y1, y2;     /* detector: parabola state (last two |y|), unless pending */
    double prev_bound; /* detector: an upper bound of every |y_p| of the previous sample */
    int pending;       /* detector: y1, y2 belong to the previous sample, not computed */
    int since_loud;    /* detector: samples since the last one with !(l1|x| < skip) */
} lq_os_stream;

void lq_os_stream_reset(lq_os_stream *s);

/* Meter: push x[0..n) (any n); returns max(mx, every |y_p(t)| of the pushed samples,
 * p = 0..factor-1), exactly the maximum the reference (every phase of every sample
 * through lq_os_phase) would give; phases are computed only where a bound exceeds the
 * running maximum.  mx >= 0. */
double lq_os_stream_meter(lq_os_stream *s, const lq_os_filter *f, const double *x, size_t n,
                          double mx);

/* Count: push x[0..n) (any n); returns how many of the pushed samples t have some
 * |y_p(t)| > thr (p = 0..factor-1: the interval [t-D, t-D+1) oversampled), computing
 * phases only where a bound exceeds thr (the analysis' inter-sample overs). */
long long lq_os_stream_count_over(lq_os_stream *s, const lq_os_filter *f, const double *x,
                                  size_t n, double thr);

/* Both at once (the analysis): returns what lq_os_stream_meter would, and adds to
 * *overs what lq_os_stream_count_over(thr) would count; phases are computed only where
 * a bound exceeds min(running maximum, thr). */
double lq_os_stream_meter_over(lq_os_stream *s, const lq_os_filter *f, const double *x,
                               size_t n, double mx, double thr, long long *overs);

/* Limiter detector: push x[0..n) (any n); pk[i] receives the value that
 * lq_os_detector_push(d, f, x[i], skip_below, 1) would return on a detector fed the same
 * samples, whenever that value exceeds thr; otherwise pk[i] is some value <= thr (0 when
 * the phases were not computed).  Requires 0 < skip_below <= thr, the same skip_below
 * for every call since the last reset.  Not for NaN/Inf input. */
void lq_os_stream_detect(lq_os_stream *s, const lq_os_filter *f, const double *x, size_t n,
                         double skip_below, double thr, double *pk);

#endif
