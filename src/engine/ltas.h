/* Long-term average spectrum (LTAS) of a signal's mid and side, in sixth-octave bands,
 * over its loudness-gated parts only (ITU-R BS.1770-4 gating), in one streaming pass
 * with bounded memory; and the reference-matching curve designed from such spectra
 * (docs/REFERENCE.md). */
#ifndef LQ_ENGINE_LTAS_H
#define LQ_ENGINE_LTAS_H

#include <stddef.h>

#include "core/diag.h"

/* Sixth-octave bands centred on 1 kHz * 2^(k/6), k = -34..26 (19.7 Hz .. 20.2 kHz). */
#define LQ_LTAS_K0 (-34)
#define LQ_LTAS_BANDS 61

typedef struct lq_ltas_result {
    double freq_hz[LQ_LTAS_BANDS];  /* band centres */
    double mid_db[LQ_LTAS_BANDS];   /* mean power density per band, dB (gated frames) */
    double side_db[LQ_LTAS_BANDS];
    int valid[LQ_LTAS_BANDS];       /* band lies below 0.98 x Nyquist */
    int side_valid;                 /* the side has energy (not mono, not L == R) */
    double lufs;                    /* BS.1770-4 integrated loudness (dsp/kmeter.c) */
    double seconds;                 /* duration analysed */
    long long gated_frames;         /* analysis frames that passed both gates */
    double rate;
    int channels;
} lq_ltas_result;

typedef struct lq_ltas lq_ltas;

lq_error lq_ltas_new(lq_ltas **out, int channels, double rate, lq_diag *d);
void lq_ltas_push(lq_ltas *a, const double *const *planar, size_t n);
/* The result: the end of the signal (the tail is flushed; pushes after this are
 * ignored); the gates are applied here. */
void lq_ltas_get(lq_ltas *a, lq_ltas_result *r);
void lq_ltas_destroy(lq_ltas **a);

/* Analyse a reference file.  Errors (d: "PATH: what is wrong (expected ...)"): those of
 * an input file (unreadable, channels, rate, empty, truncated, NaN), and
 * LQ_ERR_INPUT_EMPTY for a reference shorter than 3 s or silent (nothing passes the
 * gates). */
lq_error lq_ltas_file(const char *path, lq_ltas_result *r, lq_diag *d);

/* ---- the matching curve ---- */

#define LQ_MATCH_MAX_REFS 16

typedef struct lq_match_opts {
    double strength;        /* 0..1, scales the curve in dB (default 1) */
    double width_strength;  /* 0..1, side follows the side difference (default 0) */
    double max_boost_db;    /* default 6 */
    double max_cut_db;      /* default 6 */
    double boost_lo_hz;     /* no boost below (default 30) */
    double boost_hi_hz;     /* no boost above (default 18000) */
} lq_match_opts;

void lq_match_opts_default(lq_match_opts *o);

typedef struct lq_match_curve {
    double freq_hz[LQ_LTAS_BANDS];
    double raw_mid_db[LQ_LTAS_BANDS];   /* weighted mean of reference - mix, level-aligned */
    double raw_side_db[LQ_LTAS_BANDS];
    double mid_db[LQ_LTAS_BANDS];       /* smoothed, limited, scaled: what the EQ does */
    double side_db[LQ_LTAS_BANDS];
    double ref_lufs;                    /* weighted mean of the references' loudness */
} lq_match_curve;

/* Design the correction from the mix's and the references' spectra. */
void lq_match_design(const lq_ltas_result *mix, const lq_ltas_result *refs,
                     const double *weights, size_t n_refs, const lq_match_opts *o,
                     lq_match_curve *c);

/* Closed loop (docs/REFERENCE.md): `out` is the spectrum of the master bus's output with
 * c's eq in place (and the preset's own stages after it), `mix` the mix's, refs/weights
 * the references'.  Moves c's curve, mid and side, so that the output's third-octave
 * power around each band, level-aligned, meets strength x the references' (the update
 * solved on a model of the bus: band powers and BS.1770 loudness), within the same
 * limits as lq_match_design; the curve's level where the eq keeps the loudness, unless
 * the limits ask for another.  Only bands whose neighbours lie inside boost_lo..hi_hz
 * move.  With strength 0 nothing moves (the curve stays flat). */
void lq_match_refine(lq_match_curve *c, const lq_ltas_result *mix, const lq_ltas_result *out,
                     const lq_ltas_result *refs, const double *weights, size_t n_refs,
                     const lq_match_opts *o);

/* The RMS over 40 Hz..16 kHz of the third-octave difference of the mids of a and b,
 * level-aligned (each minus its integrated loudness), in dB: the match figure. */
double lq_match_figure(const lq_ltas_result *a, const lq_ltas_result *b);

/* The matched EQ as a master-bus stage list item in YAML ("- eq: {...}\n", one line per
 * band, numbers with %.17g so that parsing it back gives the same doubles); malloc'd,
 * NULL when out of memory.  indent: spaces before the "- ". */
char *lq_match_eq_yaml(const lq_match_curve *c, int indent);

#endif
