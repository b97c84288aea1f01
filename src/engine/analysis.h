/* The deeper analysis of a mix (`lacquer analyze`, `lacquer check`, report.html), fed by
 * the meter (engine/meter.c, LQ_METER_DEEP) as the audio streams past, in bounded
 * memory: PSR over time, crest factor, L/R balance, correlation over time, mono
 * fold-down loss, low-end phase, effective bit depth, head/tail silence, inter-sample
 * overs, the long-term third-octave spectrum and its tilt, and time series (decimated
 * to at most LQ_SERIES_MAX points) for the plots. */
#ifndef LQ_ENGINE_ANALYSIS_H
#define LQ_ENGINE_ANALYSIS_H

#include <stddef.h>

#include "core/diag.h"
#include "lacquer/lacquer.h"

#define LQ_SERIES_MAX 2000

/* A time series with a fixed step; when full, neighbouring points are merged in pairs
 * (by max or min, as the series was made) and the step doubles. */
typedef struct lq_series {
    int n;
    int merge_min;          /* merge pairs by min (else max) */
    double step_s;          /* seconds between points */
    float v[LQ_SERIES_MAX]; /* NaN where nothing was measured */
    /* a point being accumulated over several raw steps */
    int acc_k, acc_per;
    float acc;
} lq_series;

void lq_series_init(lq_series *s, double step_s, int merge_min);
void lq_series_add(lq_series *s, double v);

typedef struct lq_deep_result {
    double true_peak;       /* 16x, linear (the file's true_peak_16x); NaN when lite */
    double sample_peak;     /* linear, both channels */
    double psr_min_db, crest_db, balance_db, correlation_p5, mono_loss_db;
    double low_side_ratio, low_correlation;
    int effective_bits;
    double head_silence_ms, tail_silence_ms;
    long long intersample_overs;
    double third_octave_db[LQ_THIRD_OCTAVES];
    double tilt_db_oct, sub_bass_db, harsh_db;
    lq_series short_term;   /* short-term loudness (LUFS), every 100 ms at first */
    lq_series psr;          /* short-term PSR (dB) */
    lq_series correlation;  /* 400 ms correlation */
} lq_deep_result;

typedef struct lq_deep lq_deep;

/* lite: only what the report's plots need (short-term series and spectrum; the
 * sample-level figures, inter-sample overs, bit depth and the true peak (PSR uses the
 * sample peak instead) are skipped).  Otherwise the analysis keeps the last 3.2 s of
 * audio (the true peak is measured 3 s late) and gives the file's 16x true peak. */
lq_error lq_deep_new(lq_deep **out, int channels, double rate, size_t max_block, int lite,
                     lq_diag *d);
/* Frames [0, n) of planar p. */
void lq_deep_push(lq_deep *a, const double *const *p, size_t n);
/* Every 100 ms of audio (after the frames of that hop were pushed): short-term loudness
 * (NaN before 3 s or when unmeasurable).  The true peak of PSR is the analysis' own
 * (16x; lite: the sample peak), measured 3 s late: the PSR series and psr_min_db are
 * complete once lq_deep_result_get has run. */
void lq_deep_hop(lq_deep *a, double short_term_lufs);
/* The figures, once every frame was pushed (a file shorter than one spectrum frame
 * gets one zero-padded frame; the last hops are metered; no push after this). */
void lq_deep_result_get(lq_deep *a, lq_deep_result *r);
void lq_deep_destroy(lq_deep **a);

/* Nominal third-octave centre i (20 Hz .. 20 kHz; exact 1000*10^((i-17)/10)). */
double lq_third_octave_hz(int i);

#endif
