/* Sample-rate conversion of a whole spool, streamed in blocks, with the converter a
 * target chooses (`resampler:`): libsoxr at very high quality (the default: see
 * docs/RESAMPLING.md for the measurements that chose it) or libsamplerate's best sinc.
 * Output length is round(frames * ratio); both converters' output is time-aligned with
 * their input (their filter delay is taken out), so nothing needs compensating. */
#ifndef LQ_ENGINE_RESAMPLE_H
#define LQ_ENGINE_RESAMPLE_H

#include <signal.h>

#include "config/preset.h"
#include "engine/meter.h"
#include "io/spool.h"

/* Resample `in` (at most 2 channels) into `out` (created at out_rate) with `which`;
 * every output block also goes to `meter` when it is not NULL.  The output depends only
 * on the input and the converter (never on threads or the caller's block size). */
lq_error lq_resample_spool(const lq_spool *in, lq_spool *out, double out_rate,
                           lq_resampler which, lq_meter *meter,
                           const volatile sig_atomic_t *cancel, lq_diag *d);

#endif
