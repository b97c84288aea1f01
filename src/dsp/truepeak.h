/* A streaming true-peak meter (BS.1770-4 Annex 2 style: oversample, take the largest
 * absolute value), lacquer's own, used to verify written exports and by the tests.
 *
 * Oversampling by 4, 8 or 16 with the polyphase Kaiser-sinc interpolator of
 * oversample.h (64 taps per phase; passband flat to 0.45 fs within 0.001 dB, images
 * 79 dB down).
 * At 16x the grid error (a peak falling between two oversampled points) is at most
 * 1 - cos(pi f / (16 fs)): 0.01 dB at fs/4, 0.035 dB at 0.45 fs.  Intersample values
 * are computed only where they could raise the maximum found so far (bounds from the
 * filter's L1 norm, its per-tap maxima and its centre taps: lq_os_stream_meter), so
 * metering is cheap once the loudest part has been seen; the result is exactly the
 * maximum over every phase of every sample (tests/test_truepeak.c).  The signal is taken as zero before the first and after
 * the last sample (the tail of the interpolator is included by lq_tp_meter_max_*). */
#ifndef LQ_DSP_TRUEPEAK_H
#define LQ_DSP_TRUEPEAK_H

#include <stddef.h>

#include "lacquer/lacquer.h"

typedef struct lq_tp_meter lq_tp_meter;

/* channels 1..2, rate > 0 (informational), factor 4, 8 or 16.  LQ_ERR_ARG, LQ_ERR_NOMEM. */
LQ_WARN_UNUSED lq_error lq_tp_meter_new(lq_tp_meter **out, int channels, double rate,
                                        int factor);
/* Feed n frames (planar: planar[c][i]). */
void lq_tp_meter_push(lq_tp_meter *m, const double *const *planar, size_t n);
/* Largest true peak so far over all channels: linear, and in dBTP (-HUGE_VAL for
 * silence).  Includes the interpolator tail as if zeros followed. */
double lq_tp_meter_max_linear(const lq_tp_meter *m);
double lq_tp_meter_max_dbtp(const lq_tp_meter *m);
/* Per channel (linear). */
double lq_tp_meter_channel_max(const lq_tp_meter *m, int channel);
/* Back to the just-created state. */
void lq_tp_meter_reset(lq_tp_meter *m);
void lq_tp_meter_destroy(lq_tp_meter **m);

#endif
