/* The linear-phase EQ stage (eq.c): the designed curve, for `lacquer analyze --preset`
 * and the report.  The stage itself is lq_stage_eq (stage.h registry). */
#ifndef LQ_STAGES_EQ_H
#define LQ_STAGES_EQ_H

#include <stddef.h>

#include "core/diag.h"

/* Which signal a curve is for: the bands that act on it are summed (in dB).
 * Bands on `stereo` act on all four; `left` bands on LEFT only, and so on. */
typedef enum lq_eq_view {
    LQ_EQ_VIEW_LEFT = 0,
    LQ_EQ_VIEW_RIGHT = 1,
    LQ_EQ_VIEW_MID = 2,
    LQ_EQ_VIEW_SIDE = 3
} lq_eq_view;

/* The designed (analogue-prototype) magnitude of an eq config (the `cfg` of an
 * lq_stage_spec whose vt is &lq_stage_eq) at n frequencies, in dB, for one view.
 * This is the curve the FIR is designed from; it does not depend on the sample rate
 * (the FIR follows it up to 0.9 x Nyquist within 0.1 dB, from 30 Hz, where it is above
 * -60 dB).  A high-pass gives -inf dB at 0 Hz.  Errors: LQ_ERR_ARG (NULL pointers, bad
 * view).  Thread-safe, no allocation. */
lq_error lq_eq_curve(const void *eq_cfg, lq_eq_view view, const double *freqs_hz, size_t n,
                     double *mag_db_out, lq_diag *d);

/* The full linear-phase FIR (ntaps odd, e.g. lq_fir_taps(length_ms, rate)) that the
 * stage designs for the bands acting on one view, exactly as the stage does (refined
 * windowed design, dsp/fir.h).  The stage applies it as delay + (taps - impulse); this
 * returns the taps themselves, for benchmarks (e.g. the same filter in SoX `fir`) and
 * reports.  Errors as lq_fir_design_refined. */
lq_error lq_eq_design_taps(const void *eq_cfg, lq_eq_view view, double rate, double *taps,
                           size_t ntaps, lq_diag *d);

/* Bit (1 << view) set for each view that at least one band acts on (stereo bands set
 * all four); 0 for a flat EQ.  Lets a printer show only the curves that differ. */
unsigned lq_eq_views_used(const void *eq_cfg);

#endif
