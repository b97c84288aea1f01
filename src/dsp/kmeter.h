/* A compact ITU-R BS.1770-4 integrated-loudness meter: K-weighting, 400 ms blocks every
 * 100 ms, absolute (-70 LUFS) and relative (-10 LU) gates, with the gating done on a
 * histogram of block loudness (0.05 LU bins, each keeping its blocks' exact energy sum).
 * Its memory is a few tens of KB at any sample rate, where libebur128 keeps 400 ms of
 * audio per meter (600 KB at 96 kHz stereo): for per-stem figures, where one meter per
 * stem would make memory grow with the stem count; and, keeping its blocks
 * (lq_kmeter_keep_blocks), for the closed loop's passes, at about a third of
 * libebur128's cost.  Every figure that a target is judged by still comes from
 * libebur128 (engine/meter.c). */
#ifndef LQ_DSP_KMETER_H
#define LQ_DSP_KMETER_H

#include <stddef.h>

#include "lacquer/lacquer.h"

typedef struct lq_kmeter lq_kmeter;

lq_error lq_kmeter_new(lq_kmeter **out, int channels, double rate);
void lq_kmeter_push(lq_kmeter *m, const double *const *planar, size_t n);
/* Keep every 400 ms block's energy (room for `frames` frames; blocks beyond that go to
 * the histogram): the gates are then applied to each block exactly, as libebur128 does,
 * and the figure is libebur128's to rounding (test_kmeter: within 1e-6 LU).  8 bytes per
 * 100 ms.  For the closed loop's passes (engine/meter.h lq_meter_new_quick). */
lq_error lq_kmeter_keep_blocks(lq_kmeter *m, long long frames);
/* Integrated loudness in LUFS; -HUGE_VAL when no block passes the gates. */
double lq_kmeter_integrated(const lq_kmeter *m);
void lq_kmeter_destroy(lq_kmeter **m);
/* The K-weighting's power response |H(f)|^2 at a rate (both biquads), for meters that
 * weight a spectrum (engine/ltas.c). */
double lq_kmeter_weight2(double rate, double f_hz);

#endif
