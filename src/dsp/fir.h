/* Linear-phase FIR design from a zero-phase amplitude response.
 *
 * Method (frequency sampling + window; Oppenheim & Schafer, "Discrete-Time Signal
 * Processing", 3rd ed., sec. 7.5-7.6, and Smith, "Spectral Audio Signal Processing",
 * "Window Method for FIR Filter Design"):
 *   1. sample the wanted amplitude A(f) on a dense uniform grid f_k = k * rate / G,
 *      k = 0..G/2, with G a power of two many times longer than the filter;
 *   2. take A as a real, even (zero-phase) spectrum and inverse-FFT it: the result is
 *      the (time-aliased, but G >> ntaps so negligibly) zero-phase impulse response;
 *   3. keep the ntaps central samples, multiply by a symmetric window, and shift by
 *      (ntaps-1)/2 so the filter is causal.
 * The result is forced exactly symmetric (taps[i] == taps[ntaps-1-i], bit for bit), so
 * its phase is exactly linear and its group delay is (ntaps-1)/2 samples at every
 * frequency.  ntaps is always odd (type I FIR): the delay is a whole number of samples
 * and any amplitude (including a non-zero value at Nyquist, as for a high shelf) can be
 * realised.
 *
 * All functions are pure: no state, thread-safe (FFTW planning goes through
 * dsp/fftw_lock.h).  They allocate temporary memory (call them at create time, never
 * from process()). */
#ifndef LQ_DSP_FIR_H
#define LQ_DSP_FIR_H

#include <stddef.h>

#include "core/diag.h"

/* The wanted zero-phase amplitude at f_hz (0 <= f_hz <= rate/2): linear, normally >= 0
 * (a magnitude response).  Negative values are allowed and mean a polarity inversion at
 * that frequency (difference filters, e.g. "band minus identity").  user is passed
 * through. */
typedef double (*lq_fir_amp_fn)(double f_hz, void *user);

/* Number of taps for a filter length in milliseconds at a sample rate: the odd number
 * nearest to length_ms * rate / 1000 (at least 3), so that the same length_ms means the
 * same time span (and the same low-frequency resolution) at 44.1 and 192 kHz.
 * Example: 186 ms -> 8203 taps at 44.1 kHz, 8929 at 48 kHz, 35713 at 192 kHz. */
size_t lq_fir_taps(double length_ms, double rate);

/* The group delay of an odd-length linear-phase FIR: (ntaps - 1) / 2 samples. */
static inline size_t lq_fir_delay(size_t ntaps) { return (ntaps - 1) / 2; }

/* Number of points (k = 0..n-1, f_k = k * rate / (2 * (n - 1))) of the design grid used
 * for a filter of ntaps taps; for callers that sample their response themselves and
 * call lq_fir_design_grid().  A power of two plus one, >= 8 * ntaps / 2 (accuracy is the same as with 16x: checked in tests/test_eq.c). */
size_t lq_fir_grid_points(size_t ntaps);

/* Design taps[0..ntaps) (ntaps odd, >= 3) whose zero-phase amplitude approximates
 * amp(f) for 0 <= f <= rate/2.  Errors: LQ_ERR_ARG (even or too small ntaps, rate <= 0,
 * NULL pointers), LQ_ERR_NOMEM, LQ_ERR_DSP (FFTW could not plan, or amp returned a
 * non-finite value); d gets one line. */
lq_error lq_fir_design(double *taps, size_t ntaps, double rate, lq_fir_amp_fn amp,
                       void *user, lq_diag *d);

/* Same, from the amplitude already sampled on the grid of lq_fir_grid_points(ntaps)
 * points (amp[k] at f_k = k * rate / (2 * (npoints - 1)); the rate itself is not
 * needed).  npoints must equal lq_fir_grid_points(ntaps). */
lq_error lq_fir_design_grid(double *taps, size_t ntaps, const double *amp, size_t npoints,
                            lq_diag *d);

/* The Kaiser window's beta used by lq_fir_design / lq_fir_design_grid. */
#define LQ_FIR_KAISER_BETA 4.0

/* Same as lq_fir_design_grid with an explicit Kaiser beta (0 = rectangular; larger =
 * deeper stop bands, more smoothing of the response). */
lq_error lq_fir_design_grid_kaiser(double *taps, size_t ntaps, const double *amp,
                                   size_t npoints, double beta, lq_diag *d);

/* Refined design for magnitude responses (amp[k] >= 0 on the grid of
 * lq_fir_grid_points(ntaps) points at this rate).  The windowed design smooths the
 * response over roughly 1.5 * rate / ntaps Hz (the window's main lobe), which shows near
 * steep low-frequency features (a 24 dB/oct high-pass at 25 Hz is off by 0.5 dB at
 * 30 Hz with 186 ms).  This pre-corrects the wanted response iteratively: design,
 * measure the realised magnitude |H(f_k)| on the grid (FFT of the taps), multiply the
 * wanted response by amp/|H| (limited to a factor 4 per pass) at grid points with
 * f_k >= f_lo_hz and amp[k] >= 1e-4 (-80 dB), and design again; `iterations` passes
 * (6 is plenty; 0 = plain lq_fir_design_grid; the passes stop early once the realised magnitude is within 0.001 dB at every checked point).  It is the classical iterative
 * pre-distortion of frequency-sampling designs (cf. Parks & Burrus, "Digital Filter
 * Design", 1987, sec. 3.3 on adjusting frequency samples).  Below f_lo_hz the response
 * is left free, so the resolution limit ends up there instead of in the band of
 * interest.  Measured with 186 ms at 44.1-192 kHz: <= 0.04 dB from 30 Hz to 0.9 x Nyquist
 * where the wanted response is above -60 dB, for every band type of the EQ. */
lq_error lq_fir_design_refined(double *taps, size_t ntaps, double rate, const double *amp,
                               size_t npoints, double f_lo_hz, int iterations,
                               lq_diag *d);

/* taps := unit impulse at the centre minus taps (the complementary filter: the two sum
 * to a pure delay of (ntaps-1)/2, exactly up to one rounding of the centre tap).  For
 * crossovers: design the low-pass, complement it for the high-pass. */
void lq_fir_complement(double *taps, size_t ntaps);

/* The zero-phase amplitude of a symmetric odd-length FIR at f_hz (direct cosine sum,
 * O(ntaps), in long double): A(f) = h[c] + 2 sum_{m>=1} h[c+m] cos(2 pi f m / rate),
 * c = (ntaps-1)/2.  For tests and for printing the realised curve. */
double lq_fir_amplitude(const double *taps, size_t ntaps, double rate, double f_hz);

#endif
