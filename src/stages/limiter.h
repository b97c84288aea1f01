/* limiter: the true-peak lookahead limiter of the finishing chain (`finish.limiter`).
 * The stage table is lq_stage_limiter (stages.def); this header exposes its config so
 * the engine can set the ceiling (which comes from the target, not the preset), and its
 * figures for the report.  The algorithm is described at the top of limiter.c and in
 * docs/PRESETS.md ("Stage: limiter"). */
#ifndef LQ_STAGES_LIMITER_H
#define LQ_STAGES_LIMITER_H

#include <stddef.h>

/* The stage's plain-data config (vt->config_size bytes). */
typedef struct lq_limiter_config {
    double lookahead_ms;   /* 0.5 .. 10, default 2.0: attack ramp length */
    double release_ms;     /* 1 .. 1000, default 80: exponential recovery time constant */
    int auto_release;      /* default 0: program-dependent release (0.5x .. 2x release_ms) */
    int oversample;        /* 4, 8 or 16, default 8: detector oversampling factor */
    double link;           /* 0 .. 1, default 1: stereo link (1: same gain on L and R) */
    double push_warn_db;   /* 0 .. 30, default 6: the report warns above this much GR */
    /* NOT parsed from presets: the engine writes the target's ceiling here before
     * create().  Default -1.0 dBTP. */
    double ceiling_dbtp;
} lq_limiter_config;

/* Safety margin below the ceiling used by the detector (dB).  It covers the detector's
 * residual errors (filter ripple, grid) and the output's gain modulation, and above all
 * the spread between true-peak meters on content close to fs/2: every practical meter
 * rolls off between about 0.45 and 0.5 fs (and lets part of the images through there),
 * each a little differently.  On white noise two independent 16x meters (ours and the
 * test suite's) differ by up to 0.04 dB; on program material far less.  At 4x the
 * grid is coarse enough to need more. */
#define LQ_LIMITER_MARGIN_DB 0.05
#define LQ_LIMITER_MARGIN_4X_DB 0.1
/* Gain hold around each peak (samples, even): the gain applied to sample n is at most
 * the requirement of every interval starting in [n - H/2, n + H/2]. */
#define LQ_LIMITER_HOLD 8

/* Figures over the audio processed so far (excluding the latency pre-roll):
 * max_gr_db  largest gain reduction (dB, >= 0);
 * mean_gr_db gain reduction averaged over the whole duration (dB, >= 0);
 * limiting_seconds time during which the gain reduction was at least 0.01 dB.
 * Any pointer may be NULL. */
void lq_limiter_stats(const void *state, double *max_gr_db, double *mean_gr_db,
                      double *limiting_seconds);

/* A limiter's process() in two halves, for a pass that runs them on two threads
 * (engine/finish.c): lq_limiter_detect reads a block and writes the detector's peak
 * estimate of each sample into pk (n per channel); lq_limiter_apply then limits the same
 * block with them.  Called block by block, in order, with the blocks process() would
 * get: the same bits as process(). */
void lq_limiter_detect(void *state, const double *const *x, size_t n, double *const *pk);
void lq_limiter_apply(void *state, double *const *buf, size_t n, const double *const *pk);

#endif
