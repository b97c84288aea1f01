/* Feed-forward dynamic range compressor core: level detector, log-domain gain computer
 * with soft knee, and smoothed attack/release, for 1 or 2 channels with stereo link.
 *
 * The design follows D. Giannoulis, M. Massberg, J. D. Reiss, "Digital Dynamic Range
 * Compressor Design -- A Tutorial and Analysis", J. Audio Eng. Soc. 60(6), 2012:
 *   - gain computer in the log domain with a quadratic soft knee (their eq. 4);
 *   - the level detector placed in the log domain after the gain computer, "smooth
 *     branching" form (their eq. 17 and Fig. 7d), which smooths the gain reduction with
 *     separate attack and release one-pole coefficients;
 *   - time constants given as 10 %..90 % rise times, alpha = exp(-ln 9 / (t * fs))
 *     (their section 2.3: the rise time of a one-pole is ln 9 = 2.2 time constants).
 * So attack_ms / release_ms are the 10->90 % times of the gain change after a step.
 *
 * What the gain computer sees (the "input level" x_L) is chosen by the detector:
 *   - peak: the maximum of |x| held over the last hold_ms to 1.5 hold_ms (three
 *     segments of hold_ms / 2, aligned on the sample count), so that a steady waveform
 *     is measured by its peak, not by its instantaneous value (no ripple from the
 *     waveform itself; hold_ms should span at least one period of the lowest frequency
 *     detected; 0 = the instantaneous |x|);
 *   - rms: the mean square of x over a sliding rectangular window (rms_ms).
 * Stereo link 0..1 blends each channel's static gain (dB) with the channels' common
 * gain (the most reduction of the two): 1 = both channels get the same gain, 0 = fully
 * independent channels.
 *
 * create allocates everything; lq_comp_run never allocates. */
#ifndef LQ_DSP_COMPRESSOR_H
#define LQ_DSP_COMPRESSOR_H

#include <stddef.h>

#include "lacquer/lacquer.h"

typedef enum lq_comp_detector { LQ_COMP_PEAK = 0, LQ_COMP_RMS = 1 } lq_comp_detector;

typedef struct lq_comp_params {
    double threshold_db;  /* dBFS of the detector level */
    double ratio;         /* >= 1; INFINITY is a limiter-like "inf:1" */
    double knee_db;       /* total knee width W (dB), >= 0 */
    double attack_ms;     /* 10->90 % time of the gain change, > 0 */
    double release_ms;    /* 10->90 % time of the gain change, > 0 */
    double makeup_db;     /* added after the gain computer */
    lq_comp_detector detector;
    double rms_ms;        /* rms window */
    double hold_ms;       /* peak hold time (0: instantaneous |x|) */
} lq_comp_params;

/* The static curve: output level minus input level (dB, <= 0; makeup not included) for
 * a detector level x_db.  Giannoulis et al. 2012, eq. 4. */
double lq_comp_static_gain_db(const lq_comp_params *p, double x_db);

typedef struct lq_comp lq_comp;

/* channels 1 or 2; link 0..1.  Errors: LQ_ERR_NOMEM, LQ_ERR_ARG (bad parameters). */
LQ_WARN_UNUSED lq_error lq_comp_new(lq_comp **out, const lq_comp_params *p,
                                    double sample_rate, int channels, double link);
/* Back to the just-created state. */
void lq_comp_reset(lq_comp *c);
/* For n samples of detector input x[ch][i], write the linear gain (makeup included) to
 * g[ch][i]; g may alias x.  If gr_db is not NULL, it receives the gain reduction in dB
 * (>= 0, makeup not included), the larger of the channels', per sample. */
void lq_comp_run(lq_comp *c, const double *const *x, double *const *g, double *gr_db,
                 size_t n);
void lq_comp_destroy(lq_comp **c);

#endif
