/* lqtest: helpers shared by the test executables (linked into every test).
 * Written independently of liblacquer's own code, so that the tests measure the
 * library with instruments it did not build itself.  None of this is library code:
 * it may print, allocate and abort freely. */
#ifndef LQTEST_H
#define LQTEST_H

#include <stddef.h>
#include <stdint.h>

/* ---- levels ------------------------------------------------------------------------ */

/* 20*log10(x); -INFINITY for 0. */
double lqt_db(double lin);
/* Sample peak |x| (linear). */
double lqt_sample_peak(const double *x, size_t n);
/* True peak (linear) by 16x oversampling with a 64-tap-per-phase Kaiser-windowed sinc
 * (beta 9, each phase normalised to unity DC gain), all 16 phases evaluated, the signal
 * taken as zero outside [0, n) (so a signal that starts or stops abruptly shows its real
 * reconstruction overshoot at the edges, up to +0.5 dB on a sine: fade the edges or
 * measure an interior slice to see the steady state).  Accuracy: better than 0.005 dB
 * plus the 16x grid error (at most 1 - cos(pi f / 16 fs)) for tones up to 0.4 fs
 * (tested in test_support: fs/4 at 45 degrees reads 0.000 dB). */
double lqt_true_peak_16x(const double *x, size_t n);
/* RMS in dB re full scale (20*log10 of the RMS; a full-scale sine reads -3.01 dB).
 * -INFINITY for silence or n == 0. */
double lqt_rms_db(const double *x, size_t n);
/* Null residual: 20*log10(rms(a - b) / rms(b)).  -INFINITY when a == b. */
double lqt_null_db(const double *a, const double *b, size_t n);

/* ---- spectrum (FFTW; plan creation is serialised by a mutex of our own) ------------- */

/* Amplitude of the sinusoid at `freq` in dBFS (0 dB = peak amplitude 1.0), from the
 * energy in +-6 bins around freq of a 4-term Blackman-Harris windowed FFT of the
 * whole buffer (no scalloping loss).  Accurate to about 0.01 dB when n covers >= 20
 * periods and no other component lies within 6 bins. */
double lqt_sine_level_db(const double *x, size_t n, double rate, double freq);
/* THD+N relative to the fundamental at `freq`, in dB (e.g. -96): with a 7-term
 * minimum-sidelobe window (-180 dB sidelobes), the energy of every bin except DC (bins
 * 0..9) and the fundamental's +-10 bins, over the fundamental's energy.  Floor of the
 * method below -150 dB (measured in test_support). */
double lqt_thdn_db(const double *x, size_t n, double rate, double freq);
/* Magnitude (dB re the energy of a full-scale sine) of the band [f0, f1) of a Hann-
 * windowed FFT: 10*log10(sum |X_k|^2 / norm).  Used for octave-band slopes. */
double lqt_band_db(const double *x, size_t n, double rate, double f0, double f1);
/* Lag (in frames) at which b best matches a: the L in [-maxlag, maxlag] maximising
 * sum_i a[i] * b[i - L] (FFT cross-correlation, zero padded).  Positive L means a is
 * b delayed by L frames. */
long lqt_xcorr_lag(const double *a, const double *b, size_t n, long maxlag);
/* Octave bands of lqt_octave_db: centres 31.5 Hz to 16 kHz (edges centre / and * sqrt 2). */
#define LQT_N_OCTAVES 10
extern const double lqt_octave_hz[LQT_N_OCTAVES];
/* Level of each octave band (dB, lqt_band_db) summed in energy over `channels` channels
 * stored channel-major (x + c * n). */
void lqt_octave_db(const double *x, int channels, size_t n, double rate,
                   double out[LQT_N_OCTAVES]);
/* Pearson correlation of two channels (1 = mono, 0 = unrelated). */
double lqt_correlation(const double *a, const double *b, size_t n);

/* ---- files ------------------------------------------------------------------------- */

/* Write planar doubles (planar[c][i]) to path.  Container from the extension: .flac,
 * .aif/.aiff, .w64, else WAV.  sf_subtype: SF_FORMAT_PCM_16 / PCM_24 / PCM_32 / FLOAT /
 * DOUBLE.  PCM: each sample is quantised once, q = lrint(x * 2^(b-1)) clipped to
 * [-2^(b-1), 2^(b-1) - 1], and written as q << (32 - b) with sf_writef_int, so reading
 * it back as double (lqt_read_planar) gives exactly q / 2^(b-1).  Float: written with
 * sf_writef_double, unscaled.  Returns 0, or -1 (message on stderr). */
int lqt_write_wav(const char *path, const double *const *planar, int channels, size_t frames,
                  int rate, int sf_subtype);
/* Read a whole file as doubles (libsndfile's normalisation: PCM b bits -> q / 2^(b-1)).
 * Returns a malloc'd channel-major buffer, sample (c, i) at [c * frames + i], or NULL
 * (message on stderr).  Outputs may be NULL when not wanted (except frames and
 * channels are always filled when non-NULL). */
double *lqt_read_planar(const char *path, int *channels, size_t *frames, int *rate);

/* A fresh directory under /tmp (mkdtemp "/tmp/lqtest.XXXXXX"), malloc'd path; aborts on
 * failure. */
char *lqt_tmpdir(void);
/* rm -rf dir (no symlink following).  Silently ignores a missing dir. */
void lqt_rmrf(const char *dir);
/* FNV-1a 64-bit hash of a file's bytes; 0 if unreadable. */
uint64_t lqt_file_hash(const char *path);
/* 1 if both files exist and have identical bytes, else 0. */
int lqt_files_equal(const char *a, const char *b);
/* Entries in dir excluding . and ..; -1 if it cannot be opened. */
int lqt_dir_count(const char *dir);
/* 1 if path exists (any type), else 0. */
int lqt_exists(const char *path);
/* path/name joined into a malloc'd string. */
char *lqt_join(const char *dir, const char *name);

/* Run argv[0] (a path, no PATH search) with argv, capturing stdout and stderr into
 * malloc'd NUL-terminated strings (*out / *err; pass NULL to discard).  Returns the
 * exit status 0..255, 128 + signal number if killed by a signal, or -1 if it could not
 * be started. */
int lqt_run(const char *const argv[], char **out, char **err);

/* ---- driving liblacquer (lqt_master.c) ------------------------------------------------ */

/* The shipped presets: $LACQUER_PRESET_DIR, else the source tree's. */
const char *lqt_preset_dir(void);
/* Write text to path; 0 or -1. */
int lqt_write_text(const char *path, const char *text);
/* Master input with a preset and n targets (names or paths) into outdir through the
 * public API.  threads <= 0 keeps the library's default (the cores); block < 0 keeps the default block size, 0 means
 * random sizes.  Returns 0, or -1 with the library's error line on stderr. */
int lqt_master(const char *input, const char *preset, const char *const *targets, size_t n,
               const char *outdir, int threads, long block);
/* Master input with a preset, the --set overrides sets[0..n_sets) ("KEY=VALUE") and one
 * target (name or path) into outdir.  Returns 0, or -1 with the error line on stderr. */
int lqt_master_set(const char *input, const char *preset, const char *const *sets, size_t n_sets,
                   const char *target, const char *outdir);

#endif
