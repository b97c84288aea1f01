/* Mixes of several styles for measuring what a preset does (lqs_mix_style).  Built on
 * lqs_mix and the basic generators; every style is a pure function of its arguments. */
#include <math.h>
#include <stdlib.h>

#include "synth.h"

const char *const lqs_style_names[LQS_STYLE_COUNT] = {"dense", "sparse", "dynamic",
                                                      "bass-heavy"};

/* Raised-cosine section envelope: `sec_s` sections alternating 0 dB and `low_db`
 * (starting quiet), with `ramp_s` crossfades. */
static double section_gain(size_t i, double rate, double sec_s, double ramp_s, double low_db)
{
    const double t = (double)i / rate, lo = pow(10.0, low_db / 20.0);
    const long k = (long)floor(t / sec_s);
    const double u = t - (double)k * sec_s;
    const double here = (k & 1) ? 1.0 : lo, before = (k & 1) ? lo : 1.0;
    if (k == 0 || u >= ramp_s) return here;
    const double w = 0.5 - 0.5 * cos(M_PI * u / ramp_s);
    return before + (here - before) * w;
}

void lqs_mix_style(double *l, double *r, size_t n, double rate, uint64_t seed, int style)
{
    switch (style) {
    case LQS_STYLE_DENSE:
        /* the mix driven into a soft saturator: a wall of sound with a low crest factor */
        lqs_mix(l, r, n, rate, seed, 0.98);
        for (size_t i = 0; i < n; i++) {
            l[i] = tanh(3.0 * l[i]) / tanh(3.0);
            r[i] = tanh(3.0 * r[i]) / tanh(3.0);
        }
        break;
    case LQS_STYLE_SPARSE: {
        /* drum hits in space over a quiet three-note pad: a high crest factor */
        double *t = malloc(n * sizeof *t);
        if (!t) return;
        lqs_transients(l, n, rate, 0.75, 0.15, seed);
        lqs_transients(r, n, rate, 1.125, 0.1, seed + 1);
        static const double notes[3] = {220.0, 277.18, 329.63};
        for (int k = 0; k < 3; k++) {
            lqs_sine(t, n, rate, notes[k], 0.05, 0.3 * k);
            for (size_t i = 0; i < n; i++) {
                double sw = 0.6 + 0.4 * sin(2.0 * M_PI * 0.125 * (double)i / rate + k);
                l[i] += t[i] * sw * (k == 2 ? 0.5 : 1.0);
                r[i] += t[i] * sw * (k == 0 ? 0.5 : 1.0);
            }
        }
        free(t);
        break;
    }
    case LQS_STYLE_DYNAMIC:
        /* the mix in 5 s sections alternating -14 dB and full level */
        lqs_mix(l, r, n, rate, seed, 0.98);
        for (size_t i = 0; i < n; i++) {
            double g = section_gain(i, rate, 5.0, 0.5, -14.0);
            l[i] *= g;
            r[i] *= g;
        }
        break;
    default: {
        /* the mix with +12 dB below ~90 Hz and a pulsing 45 Hz sub line */
        lqs_mix(l, r, n, rate, seed, 0.98);
        const double a = exp(-2.0 * M_PI * 90.0 / rate);
        double s1l = 0, s2l = 0, s1r = 0, s2r = 0;
        for (size_t i = 0; i < n; i++) {
            s1l = (1 - a) * l[i] + a * s1l;
            s2l = (1 - a) * s1l + a * s2l;
            s1r = (1 - a) * r[i] + a * s1r;
            s2r = (1 - a) * s1r + a * s2r;
            const double t = (double)i / rate, beat = fmod(t, 0.5);
            const double sub = 0.25 * sin(2.0 * M_PI * 45.0 * t) * exp(-beat / 0.25) *
                               fmin(1.0, beat / 0.005);
            l[i] += 3.0 * s2l + sub;
            r[i] += 3.0 * s2r + sub;
        }
        break;
    }
    }
}
