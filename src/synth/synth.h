/* Deterministic test and demo signals (not part of liblacquer's API).
 * Every generator is a pure function of its arguments and seed: same call, same
 * samples, on every machine. */
#ifndef LQ_SYNTH_H
#define LQ_SYNTH_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64-seeded xoshiro256** generator. */
typedef struct lqs_rng { uint64_t s[4]; } lqs_rng;
void lqs_rng_seed(lqs_rng *r, uint64_t seed);
uint64_t lqs_rng_next(lqs_rng *r);
double lqs_rng_uniform(lqs_rng *r);   /* [0, 1) */
double lqs_rng_gauss(lqs_rng *r);     /* N(0, 1) */

/* Fill x[0..n) (overwrite). amp is peak amplitude (linear) unless stated. */
void lqs_sine(double *x, size_t n, double rate, double freq, double amp, double phase_rad);
void lqs_white(double *x, size_t n, double rms, uint64_t seed);       /* gaussian */
void lqs_pink(double *x, size_t n, double rms, uint64_t seed);        /* -3 dB/oct */
void lqs_sweep(double *x, size_t n, double rate, double f0, double f1, double amp); /* log */
void lqs_square(double *x, size_t n, double rate, double freq, double amp); /* naive */
/* Drum-like transients: decaying noise+pitch bursts every `period_s`. */
void lqs_transients(double *x, size_t n, double rate, double period_s, double amp,
                    uint64_t seed);

/* A multi-instrument stereo mix (kick, snare, hats, bass, chords, lead) with dynamics
 * (a quieter breakdown and a full chorus), panning and stereo width, normalised so the
 * sample peak is `peak` (linear; the demo uses 0.98, about -0.2 dBFS). */
void lqs_mix(double *left, double *right, size_t n, double rate, uint64_t seed, double peak);

/* Streaming form of lqs_mix, for long mixes in bounded memory (an hour at 96 kHz).
 * lqs_mixer_new() fixes the gain for a mix of total_frames frames (it renders the part of
 * the arrangement that holds its peak once: at most the 16 s intro plus two 64 s cycles;
 * the arrangement repeats those cycles sample for sample afterwards).  Rendering in any
 * block sizes gives exactly the samples of lqs_mix(l, r, total_frames, rate, seed, peak);
 * rendering past total_frames simply continues the song.  Cost: about 650 instructions
 * per stereo frame (roughly 20-25 s of CPU for 60 minutes at 96 kHz) plus the creation
 * pass (up to 144 s of audio); memory: a few MB.  Returns NULL on allocation failure or
 * rate outside [1000, 1e6]. */
typedef struct lqs_mixer lqs_mixer;
lqs_mixer *lqs_mixer_new(double rate, uint64_t seed, double peak, size_t total_frames);
void lqs_mixer_render(lqs_mixer *m, double *left, double *right, size_t n);
void lqs_mixer_free(lqs_mixer *m);
/* The arrangement's layout in frames at this rate (for tests that look at sections):
 * intro length and cycle length (verse 8 bars, chorus 8, breakdown 8, chorus 8). */
void lqs_mix_layout(double rate, size_t *intro_frames, size_t *cycle_frames);

/* Mixes of several styles (styles.c), for measuring what a preset does; not normalised
 * (scale them to the level wanted).  dense: lqs_mix through a soft saturator (low crest
 * factor, small range); sparse: drum hits in space over a quiet pad (high crest factor);
 * dynamic: lqs_mix in 5 s sections alternating -14 dB and full level (a wide loudness
 * range); bass-heavy: lqs_mix with +12 dB below ~90 Hz and a pulsing 45 Hz sub line. */
enum { LQS_STYLE_DENSE, LQS_STYLE_SPARSE, LQS_STYLE_DYNAMIC, LQS_STYLE_BASS, LQS_STYLE_COUNT };
extern const char *const lqs_style_names[LQS_STYLE_COUNT];
void lqs_mix_style(double *left, double *right, size_t n, double rate, uint64_t seed, int style);

#endif
