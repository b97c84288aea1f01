/* dither: the finishing chain's last stage and the ONLY place where the word length
 * shrinks.  It adds dither (+ optional noise-shaping error feedback), rounds to the grid
 * of the output word length and clamps to its range, counting every clamped sample.
 *
 *   finish:
 *     dither: {type: tpdf, shaping: none, auto_blank: true}
 *
 * Output values are exactly k / 2^(out_bits-1) with k in [-2^(out_bits-1),
 * 2^(out_bits-1) - 1], so the writer converts them to integers exactly
 * (x * 2^(out_bits-1) is an exact integer).  env->out_bits = 0 (float output) makes
 * the stage a pass-through.  See docs/PRESETS.md "Stage: dither" for every key. */
#ifndef LQ_STAGES_DITHER_H
#define LQ_STAGES_DITHER_H

#include <stdint.h>

#include "stage.h"

typedef enum lq_dither_type {
    LQ_DITHER_NONE = 0, /* plain rounding quantizer (still counts clips) */
    LQ_DITHER_RPDF,     /* rectangular, 1 LSB peak to peak */
    LQ_DITHER_TPDF      /* triangular, 2 LSB peak to peak (default) */
} lq_dither_type;

typedef enum lq_dither_shaping {
    LQ_SHAPE_NONE = 0,    /* flat */
    LQ_SHAPE_LIPSHITZ,    /* 5-tap E-weighted, Lipshitz/Vanderkooy/Wannamaker 1991 */
    LQ_SHAPE_WANNAMAKER9, /* 9-tap improved E-weighted, same paper */
    LQ_SHAPE_FWEIGHTED,   /* 9-tap F-weighted, Wannamaker 1992 */
    LQ_SHAPE_HP,          /* first-order highpass: NTF = 1 - z^-1 */
    LQ_SHAPE_COUNT
} lq_dither_shaping;

#define LQ_DITHER_MAX_TAPS 9

typedef struct lq_dither_config {
    int type;       /* lq_dither_type; default LQ_DITHER_TPDF */
    int shaping;    /* lq_dither_shaping; default LQ_SHAPE_NONE */
    int auto_blank; /* 1 (default): digital silence in stays digital silence out: every
                       sample of a run of >= 64 exact zeros in a channel is output as
                       exactly 0 (isolated zeros inside music are dithered).  Costs a
                       latency of 64 frames (compensated by the pipeline). */
} lq_dither_config;

/* The stage's names for the enums ("none", "rpdf", "tpdf"; "none", "lipshitz",
 * "wannamaker-9", "f-weighted", "hp"); NULL when out of range. */
const char *lq_dither_type_name(int type);
const char *lq_dither_shaping_name(int shaping);

/* The seed for one export: FNV-1a (64-bit) over the bytes of input_identity, one 0xFF
 * separator byte (never part of UTF-8 text, so ("ab","c") and ("a","bc") differ), and
 * the bytes of target_name, then the splitmix64 finalizer for avalanche.  NULL counts
 * as "".  Pure function: same strings, same seed, on every machine. */
uint64_t lq_dither_seed(const char *input_identity, const char *target_name);

/* The largest amplitude (linear, full scale = 1.0) the stage can add to a sample at
 * this word length: max|total error| * (1 + sum|h_k|), with max|total error| = 1.5 LSB
 * for TPDF, 1 LSB for RPDF, 0.5 LSB for none.  Uses the configured shaping (the
 * worst case over sample rates).  A signal whose sample peak is at most
 * (1 - 1 LSB) - headroom is never clamped.  0 for out_bits 0. */
double lq_dither_peak_headroom(const lq_dither_config *c, int out_bits);

/* Samples clamped to the output range since create/reset (all channels). */
long long lq_dither_clipped(const void *state);

/* The shaping actually used at a sample rate (the published designs are for 44.1 kHz
 * and are used, frequency-scaled, at rates >= 44.1 kHz; below 44.1 kHz every shape
 * but hp falls back to none).  Writes the error-feedback taps h[0..n) (h[k-1]
 * multiplies e[n-k]; the noise transfer function is NTF(z) = 1 - sum h_k z^-k) and
 * returns n (0 = flat).  h must hold LQ_DITHER_MAX_TAPS values. */
int lq_dither_shaping_used(int shaping, double rate, int *used_shaping, double *h);

/* The designed noise transfer function |NTF(f)|^2 at frequency f (Hz) for the shaping
 * used at this rate (1.0 when flat). */
double lq_dither_ntf_power(int shaping, double rate, double freq_hz);

/* Weightings for noise figures (power, relative; not normalised). */
typedef enum lq_dither_weighting {
    LQ_WEIGHT_A = 0,   /* IEC 61672-1 A-weighting */
    LQ_WEIGHT_THRESHOLD /* inverse absolute threshold of hearing, Terhardt 1979 (the
                           E-weighting idea of Lipshitz et al. 1991) */
} lq_dither_weighting;
double lq_dither_weight_power(int weighting, double freq_hz);

/* The design's promise: weighted noise power of the shaped TPDF error relative to flat
 * TPDF, in dB, integrated over 20 Hz .. min(20 kHz, rate/2).  Negative = quieter. */
double lq_dither_weighted_gain_db(int shaping, double rate, int weighting);

#endif
