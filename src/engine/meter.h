/* Measuring audio as it streams past: libebur128 for loudness (integrated, LRA, max
 * momentary and short-term, true and sample peak), lacquer's own 16x true-peak meter
 * (src/dsp/truepeak.c) for the ceiling, and the mix-health figures libebur128 lacks
 * (DC, L/R correlation, clipping runs, low-end balance). */
#ifndef LQ_ENGINE_METER_H
#define LQ_ENGINE_METER_H

#include <ebur128.h>
#include <stddef.h>

#include "core/diag.h"
#include "engine/analysis.h"

enum {
    LQ_METER_LOUDNESS = 1,  /* integrated only (cheap: closed-loop passes) */
    LQ_METER_FULL = 2,      /* + LRA, max M/S, sample peak */
    LQ_METER_TP16 = 4,      /* + lacquer's 16x true peak */
    LQ_METER_HEALTH = 8,    /* + DC, correlation, clipping runs, low-end balance */
    LQ_METER_TP_EBUR128 = 16, /* + libebur128's own true peak (a cross-check; costly) */
    LQ_METER_COMPACT = 32,   /* integrated only, from the compact meter (dsp/kmeter.c):
                                tens of KB at any rate, for per-stem figures */
    LQ_METER_DEEP = 64,      /* + the deeper analysis (engine/analysis.h); implies FULL */
    LQ_METER_PLOTS = 128,    /* + only the analysis' series and spectrum (report.html) */
    LQ_METER_OWN = 256       /* the file is an export lacquer wrote: lq_audio_in_open_own */
};

typedef struct lq_meter_result {
    double rate;
    int channels;
    double integrated_lufs, lra_lu, max_momentary_lufs, max_short_term_lufs;
    double true_peak_dbtp, true_peak_16x_dbtp, sample_peak_dbfs;
    double dc_db[2], correlation, low_end_balance_db;
    long long clipped_runs, frames;
    int word_bits;          /* of the file (lq_meter_file only): 0 float/lossy */
    int has_deep;
    lq_deep_result deep;    /* with LQ_METER_DEEP */
} lq_meter_result;

typedef struct lq_meter lq_meter;

lq_error lq_meter_new(lq_meter **m, int channels, double rate, int what, size_t max_block,
                      lq_diag *d);
/* Integrated loudness only (LQ_METER_LOUDNESS), by the compact K-meter keeping every
 * block for `frames` frames (dsp/kmeter.h lq_kmeter_keep_blocks: the figure is
 * libebur128's to within 1e-6 LU, at about a third of its cost): the closed loop's
 * passes.  The figures a target is judged by come from lq_meter_new's libebur128. */
lq_error lq_meter_new_quick(lq_meter **m, int channels, double rate, long long frames,
                            lq_diag *d);
void lq_meter_push(lq_meter *m, const double *const *planar, size_t n);
void lq_meter_result_get(lq_meter *m, lq_meter_result *r);
void lq_meter_destroy(lq_meter **m);

/* Decode a whole file (lq_audio_in: every input check applies, with its errors) and
 * measure it with `what`. */
lq_error lq_meter_file(const char *path, int what, lq_meter_result *res, lq_diag *d);

/* dB helpers: -inf safe */
double lq_db(double linear);

#endif
