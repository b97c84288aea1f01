/* Deterministic test signals: RNG, sine, noise, sweep, square, transients.
 * The demo mix (lqs_mix, lqs_mixer_*) lives in mix.c. */
#include "synth.h"

#include <math.h>
#include <stdlib.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* splitmix64: Sebastiano Vigna, "splitmix64.c" (public domain reference, 2015),
 * from Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
 * OOPSLA 2014.  Used only to expand the 64-bit seed into xoshiro's state. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void lqs_rng_seed(lqs_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256**: Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 * ACM TOMS 47(4), 2021. */
uint64_t lqs_rng_next(lqs_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double lqs_rng_uniform(lqs_rng *r)
{
    /* top 53 bits -> [0, 1) (Vigna's recommended conversion) */
    return (double)(lqs_rng_next(r) >> 11) * 0x1.0p-53;
}

double lqs_rng_gauss(lqs_rng *r)
{
    /* Marsaglia & Bray polar method (SIAM Review 6(3), 1964); the second variate is
     * dropped so the generator state is the only state. */
    for (;;) {
        double u = 2.0 * lqs_rng_uniform(r) - 1.0;
        double v = 2.0 * lqs_rng_uniform(r) - 1.0;
        double s = u * u + v * v;
        if (s > 0.0 && s < 1.0)
            return u * sqrt(-2.0 * log(s) / s);
    }
}

void lqs_sine(double *x, size_t n, double rate, double freq, double amp, double phase_rad)
{
    const double w = 2.0 * M_PI * freq / rate;
    for (size_t i = 0; i < n; i++)
        x[i] = amp * sin(w * (double)i + phase_rad);
}

static void scale_to_rms(double *x, size_t n, double rms)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += x[i] * x[i];
    if (n == 0 || acc <= 0.0)
        return;
    const double g = rms / sqrt(acc / (double)n);
    for (size_t i = 0; i < n; i++)
        x[i] *= g;
}

void lqs_white(double *x, size_t n, double rms, uint64_t seed)
{
    lqs_rng r;
    lqs_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = lqs_rng_gauss(&r);
    scale_to_rms(x, n, rms); /* exact RMS over the n samples */
}

void lqs_pink(double *x, size_t n, double rms, uint64_t seed)
{
    /* Paul Kellet's "refined" pink filter (music-dsp source code archive, "Filter to
     * make pink noise from white", 1999): sum of first-order lowpasses, within
     * +-0.05 dB of -3 dB/octave above fs/4800 or so. */
    lqs_rng r;
    lqs_rng_seed(&r, seed);
    double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
    const size_t warm = 16384; /* slowest pole 0.99886: tau ~ 877 samples */
    for (size_t i = 0; i < n + warm; i++) {
        double w = lqs_rng_gauss(&r);
        b0 = 0.99886 * b0 + w * 0.0555179;
        b1 = 0.99332 * b1 + w * 0.0750759;
        b2 = 0.96900 * b2 + w * 0.1538520;
        b3 = 0.86650 * b3 + w * 0.3104856;
        b4 = 0.55000 * b4 + w * 0.5329522;
        b5 = -0.7616 * b5 - w * 0.0168980;
        double p = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
        b6 = w * 0.115926;
        if (i >= warm)
            x[i - warm] = p;
    }
    scale_to_rms(x, n, rms);
}

void lqs_sweep(double *x, size_t n, double rate, double f0, double f1, double amp)
{
    /* Exponential sweep: phi(t) = 2 pi f0 T / ln(f1/f0) (exp(t ln(f1/f0) / T) - 1)
     * (Farina, "Simultaneous measurement of impulse response and distortion with a
     * swept-sine technique", AES 108th Convention, 2000). */
    const double T = (double)n / rate;
    if (n == 0)
        return;
    if (f0 <= 0.0 || f1 <= 0.0 || fabs(f1 - f0) < 1e-12 * f0) {
        lqs_sine(x, n, rate, f0, amp, 0.0);
        return;
    }
    const double L = log(f1 / f0);
    const double k = 2.0 * M_PI * f0 * T / L;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        x[i] = amp * sin(k * (exp(t * L / T) - 1.0));
    }
}

void lqs_square(double *x, size_t n, double rate, double freq, double amp)
{
    const double inc = freq / rate;
    for (size_t i = 0; i < n; i++) {
        double p = (double)i * inc;
        p -= floor(p);
        x[i] = p < 0.5 ? amp : -amp;
    }
}

void lqs_transients(double *x, size_t n, double rate, double period_s, double amp,
                    uint64_t seed)
{
    lqs_rng r;
    lqs_rng_seed(&r, seed);
    size_t period = (size_t)llround(period_s * rate);
    if (period < 1)
        period = 1;
    const double kn = exp(-1.0 / (0.030 * rate));   /* noise decay, 30 ms */
    const double kt = exp(-1.0 / (0.120 * rate));   /* tone decay, 120 ms */
    const double kp = exp(-1.0 / (0.025 * rate));   /* pitch drop, 25 ms */
    double en = 0, et = 0, ep = 0, ph = 0, peak = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % period == 0) {
            en = 1.0;
            et = 1.0;
            ep = 1.0;
            ph = 0.0;
        }
        double f = 55.0 + 180.0 * ep;
        ph += f / rate;
        ph -= floor(ph);
        double v = 0.6 * en * (2.0 * lqs_rng_uniform(&r) - 1.0) + et * sin(2.0 * M_PI * ph);
        en *= kn;
        et *= kt;
        ep *= kp;
        x[i] = v;
        if (fabs(v) > peak)
            peak = fabs(v);
    }
    if (peak > 0.0) {
        double g = amp / peak;
        for (size_t i = 0; i < n; i++)
            x[i] *= g;
    }
}
