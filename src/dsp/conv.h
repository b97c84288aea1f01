/* Streaming FFT convolution (overlap-save) with FFTW, for long FIR filters.
 *
 * Overlap-save (Oppenheim & Schafer, "Discrete-Time Signal Processing", 3rd ed.,
 * sec. 8.7.3; Smith, "Spectral Audio Signal Processing", "Overlap-Save"): with an FFT
 * of M points and a filter of N taps, each hop of B = M - N + 1 new input samples is
 * transformed together with the N - 1 previous ones (r2c), multiplied by the filter's
 * spectrum, transformed back (c2r), and the last B samples of the result are the exact
 * linear convolution.  M is the power of two >= 2N that minimises FFT work per output
 * sample.
 *
 * One convolver can be a matrix of filters: n_in input channels, n_out output channels,
 * out[j] = sum_k h[j][k] * in[k].  Each input is transformed once per hop whatever the
 * number of filters that read it, and each output is transformed back once (the
 * products are summed in the frequency domain).  Special cases:
 *   lq_conv_new      1 input -> 1 output        (one filter)
 *   lq_conv_new_bank 1 input -> K outputs       (e.g. K crossover bands from one FFT)
 *   lq_conv_new_matrix n_in -> n_out            (e.g. a 2x2 stereo / mid-side matrix)
 *
 * Streaming and latency: samples are collected into hops of B frames; output is
 * delayed by exactly lq_conv_latency() = B frames (plus the filter's own delay, e.g.
 * (N-1)/2 for a linear-phase FIR).  process() accepts any number of frames n >= 0 per
 * call (max_block is only a hint) and the output does not depend on how the stream is
 * cut into calls: bit-identical for block sizes 1, 7, 4096 or random.
 *
 * Memory: all buffers and FFTW plans (FFTW_ESTIMATE, planned under dsp/fftw_lock.h)
 * are made by *_new; process() never allocates and never fails.  A convolver is used by
 * one thread at a time; two convolvers never interfere.  Silence in gives exact zeros
 * out (no denormals: there is no feedback). */
#ifndef LQ_DSP_CONV_H
#define LQ_DSP_CONV_H

#include <stddef.h>

#include "core/diag.h"

typedef struct lq_conv lq_conv;

/* One filter (taps[0..ntaps)), one input, one output.  ntaps >= 1 (any length, odd or
 * even).  Errors: LQ_ERR_ARG, LQ_ERR_NOMEM, LQ_ERR_DSP (FFTW could not plan). */
lq_error lq_conv_new(lq_conv **out, const double *taps, size_t ntaps, size_t max_block,
                     lq_diag *d);

/* One input, nfilters outputs: output j is taps[j] * input.  All filters have ntaps. */
lq_error lq_conv_new_bank(lq_conv **out, const double *const *taps, size_t nfilters,
                          size_t ntaps, size_t max_block, lq_diag *d);

/* n_in inputs, n_out outputs (each 1..8).  taps[j * n_in + k] is the filter from input
 * k to output j, or NULL for none (zero).  All filters have ntaps. */
lq_error lq_conv_new_matrix(lq_conv **out, size_t n_in, size_t n_out,
                            const double *const *taps, size_t ntaps, size_t max_block,
                            lq_diag *d);

/* Frames of delay added by the block processing (B = M - N + 1), not counting the
 * filter's own delay.  A stage using a linear-phase FIR reports
 * lq_conv_latency(c) + (ntaps - 1) / 2. */
size_t lq_conv_latency(const lq_conv *c);
/* The FFT size M (for reports and benchmarks). */
size_t lq_conv_fft_size(const lq_conv *c);

/* 1 -> 1 (made with lq_conv_new).  in and out may be the same array. */
void lq_conv_process(lq_conv *c, const double *in, double *out, size_t n);
/* 1 -> K (made with lq_conv_new_bank).  in may be one of out[]. */
void lq_conv_process_bank(lq_conv *c, const double *in, double *const *out, size_t n);
/* n_in -> n_out (any convolver).  in[k] may be the same arrays as out[j] (in place):
 * every input frame of a chunk is read before its outputs are written. */
void lq_conv_process_matrix(lq_conv *c, const double *const *in, double *const *out,
                            size_t n);

/* Back to the just-created state (all history zero). */
void lq_conv_reset(lq_conv *c);
/* Free everything and set *c to NULL (NULL or *c == NULL: nothing). */
void lq_conv_destroy(lq_conv **c);

#endif
