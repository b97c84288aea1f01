/* Sample-rate conversion of a whole spool with libsamplerate (SRC_SINC_BEST_QUALITY),
 * streamed in blocks.  Output length is round(frames * ratio); the converter's output
 * is time-aligned with its input, so nothing needs compensating. */
#ifndef LQ_ENGINE_RESAMPLE_H
#define LQ_ENGINE_RESAMPLE_H

#include <signal.h>

#include "engine/meter.h"
#include "io/spool.h"

/* Resample `in` into `out` (created at out_rate) with a libsamplerate converter
 * (SRC_SINC_BEST_QUALITY for exports); every output block also goes to `meter` when
 * it is not NULL. */
lq_error lq_resample_spool(const lq_spool *in, lq_spool *out, double out_rate, int converter,
                           lq_meter *meter, const volatile sig_atomic_t *cancel, lq_diag *d);

#endif
