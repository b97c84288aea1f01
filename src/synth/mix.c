/* The demo mix: a small arrangement (kick, snare, hats, bass, pads, lead) at 120 BPM in
 * A minor, rendered by a streaming voice engine.
 *
 * Song: an 8-bar intro, then a 32-bar cycle (verse 8, chorus 8, breakdown 8, chorus 8)
 * repeated for as long as asked.  Every voice is computed from its own onset (fresh
 * oscillator phases and filter states, noise from its own seed) and the cycle's events
 * are the same list every time.  The shared states are the lead's ping-pong delay
 * (finite memory: 1.125 s) and three bus filters (pads, lead, hats: contracting IIRs
 * whose state difference from one cycle to the next decays far below one rounding
 * step within a bar, so the trajectories meet exactly).  Hence cycle k >= 2 is a
 * sample-for-sample copy of cycle 2 (test_synth checks it bit for bit), and the peak of
 * any length is the peak of at most intro + 2 cycles, found once at creation.  The
 * output at every sample is a fixed-order sum of per-sample recurrences (voices summed
 * in slot order; slots assigned round-robin per instrument in event order), so any
 * block size gives the same bits. */
#include "synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

enum { I_KICK, I_SNARE, I_HAT, I_BASS, I_PAD, I_LEAD, I_N };
static const int slot_base[I_N] = {0, 4, 12, 20, 28, 44};
static const int slot_cnt[I_N] = {4, 8, 8, 8, 16, 12};
#define NVOICES 56
#define CHUNK 512
#define INTRO_BARS 8
#define CYCLE_BARS 32

enum { S_INTRO, S_VERSE, S_CHORUS, S_BREAK };

typedef struct mix_event {
    int64_t onset; /* frames from the start of its list */
    int64_t dur;   /* note-on length in frames */
    double step;   /* position in 16th notes (for ordering) */
    unsigned seq;
    int inst, slot, variant;
    double vel, note, pan, param;
    uint64_t nseed;
} mix_event;

typedef struct evlist {
    mix_event *ev;
    size_t n, cap;
} evlist;

typedef struct voice {
    int active, inst, variant;
    int64_t t, len, dur, fade;
    double amp, gl, gr;
    double sgl[3], sgr[3];
    double ph[3], dph[3];
    double e1, k1, e2, k2, e3, k3;
    double rel, krel;
    int64_t atk; /* attack length in frames */
    double z[4];
    double g1, g2, fk;
    double lfo, dlfo, vdel, vramp;
    lqs_rng rng;
} voice;

struct lqs_mixer {
    double rate, gain;
    evlist intro, cyc;
    int64_t intro_len, cyc_len;
    /* render state */
    int64_t pos, cyc_base;
    int in_cycle;
    size_t idx;
    voice v[NVOICES];
    double *ring;
    size_t ring_mask, ring_w, d1, d2, d3;
    /* pads and lead are filtered on their buses (one filter each instead of one per
     * voice); the pad cutoff follows the latest pad note. */
    double padG, padz[4], leadG, leadz[2];
    /* hats: enveloped noise summed on a bus, one highpass state-variable filter per
     * channel (coefficients a1..a3, damping k) */
    double hat_a[3], hat_k, hatz[4];
    unsigned flush; /* frames until the next denormal flush of the bus states */
    double busL[CHUNK], busR[CHUNK], padL[CHUNK], padR[CHUNK], hatL[CHUNK], hatR[CHUNK];
    double lead[CHUNK];
};

/* ---- small DSP helpers ---------------------------------------------------------- */

/* sin(2 pi p) for p in [0, 1): quadrant folding + Taylor series to degree 13
 * (Abramowitz & Stegun 4.3.65); error < 1e-9, and the same bits on every IEEE-754
 * machine (no libm in the per-sample path). */
static inline double psin(double p)
{
    if (p >= 0.5)
        p -= 1.0;
    if (p > 0.25)
        p = 0.5 - p;
    else if (p < -0.25)
        p = -0.5 - p;
    const double t = 2.0 * M_PI * p, t2 = t * t;
    return t * (1.0 + t2 * (-1.0 / 6.0 + t2 * (1.0 / 120.0 + t2 * (-1.0 / 5040.0 +
           t2 * (1.0 / 362880.0 + t2 * (-1.0 / 39916800.0 + t2 / 6227020800.0))))));
}

/* PolyBLEP residual (Valimaki & Huovilainen, "Antialiasing oscillators in subtractive
 * synthesis", IEEE Signal Processing Magazine 24(2), 2007). */
static inline double blep(double t, double dt)
{
    if (t < dt) {
        t /= dt;
        return t + t - t * t - 1.0;
    }
    if (t > 1.0 - dt) {
        t = (t - 1.0) / dt;
        return t * t + t + t + 1.0;
    }
    return 0.0;
}

static inline double saw(double p, double dp) { return 2.0 * p - 1.0 - blep(p, dp); }

static inline double wrap(double p) { return p >= 1.0 ? p - 1.0 : p; }
/* Prewarped integrator gain of a trapezoidal (TPT) filter, g = tan(pi fc / fs)
 * (Zavalishin, "The Art of VA Filter Design", rev. 2.1.2, 2020, ch. 3). */
static double tpt_g(double fc, double rate)
{
    if (fc > 0.45 * rate)
        fc = 0.45 * rate;
    return tan(M_PI * fc / rate);
}

/* Linear trapezoidal state-variable filter, one sample (Andrew Simper, "Linear
 * Trapezoidal Integrated State Variable Filter", Cytomic technical paper, 2013).
 * z[0], z[1]: integrator states.  Returns lowpass; *hp gets highpass. */
static inline double svf(double *z, const double a[3], double k, double x, double *hp)
{
    const double a1 = a[0], a2 = a[1], a3 = a[2];
    const double v3 = x - z[1];
    const double v1 = a1 * z[0] + a2 * v3;
    const double v2 = z[1] + a2 * z[0] + a3 * v3;
    z[0] = 2.0 * v1 - z[0];
    z[1] = 2.0 * v2 - z[1];
    if (hp)
        *hp = x - k * v1 - v2;
    return v2;
}

static void svf_coeffs(double g, double k, double a[3])
{
    a[0] = 1.0 / (1.0 + g * (g + k));
    a[1] = g * a[0];
    a[2] = g * a[1];
}

/* TPT one-pole lowpass with G = g / (1 + g) (Zavalishin, ch. 3.10). */
static inline double onepole(double *s, double G, double x)
{
    const double v = (x - *s) * G;
    const double y = v + *s;
    *s = y + v;
    return y;
}

static double decay_k(double tau_s, double rate) { return exp(-1.0 / (tau_s * rate)); }
static double note_hz(double note) { return 440.0 * pow(2.0, (note - 69.0) / 12.0); }

static void pan_gains(double pan, double *gl, double *gr)
{
    /* constant-power pan law: theta in [0, pi/2] */
    if (pan < -1.0)
        pan = -1.0;
    if (pan > 1.0)
        pan = 1.0;
    const double th = (pan + 1.0) * M_PI / 4.0;
    *gl = cos(th);
    *gr = sin(th);
}

/* ---- voices ---------------------------------------------------------------------- */

static void voice_start(voice *v, const mix_event *e, double rate)
{
    memset(v, 0, sizeof *v);
    v->active = 1;
    v->inst = e->inst;
    v->variant = e->variant;
    v->dur = e->dur;
    v->amp = e->vel;
    v->fade = (int64_t)llround(0.010 * rate) + 1;
    lqs_rng_seed(&v->rng, e->nseed);
    pan_gains(e->pan, &v->gl, &v->gr);
    switch (e->inst) {
    case I_KICK:
        v->len = (int64_t)llround(0.50 * rate);
        v->fade = (int64_t)llround(0.06 * rate) + 1;
        v->e1 = 1.0, v->k1 = decay_k(0.22, rate);   /* body */
        v->e2 = 1.0, v->k2 = decay_k(0.035, rate);  /* pitch drop */
        v->e3 = 1.0, v->k3 = decay_k(0.0015, rate); /* click */
        v->amp *= 0.8;
        break;
    case I_SNARE:
        v->len = (int64_t)llround(0.35 * rate);
        v->fade = (int64_t)llround(0.03 * rate) + 1;
        v->dph[0] = 185.0 / rate;
        v->dph[1] = 330.0 / rate;
        v->e1 = 1.0, v->k1 = decay_k(0.045, rate); /* tone */
        v->e2 = 1.0, v->k2 = decay_k(0.11, rate);  /* noise */
        v->g1 = tpt_g(1200.0, rate);
        v->g1 = v->g1 / (1.0 + v->g1);
        v->g2 = tpt_g(7000.0, rate);
        v->g2 = v->g2 / (1.0 + v->g2);
        v->amp *= 0.55;
        break;
    case I_HAT:
        v->len = (int64_t)llround((e->variant ? 0.45 : 0.14) * rate);
        v->e1 = 1.0, v->k1 = decay_k(e->variant ? 0.13 : 0.022, rate);
        v->amp *= e->variant ? 0.16 : 0.22;
        break;
    case I_BASS: {
        double f = note_hz(e->note);
        v->len = e->dur + (int64_t)llround(0.15 * rate);
        v->dph[0] = f / rate;
        v->atk = (int64_t)llround(0.004 * rate) + 1;
        v->e1 = 1.0, v->k1 = decay_k(0.7, rate);
        v->e2 = 1.0, v->k2 = decay_k(0.10, rate); /* filter envelope */
        v->rel = 1.0, v->krel = decay_k(0.03, rate);
        v->g1 = tpt_g(180.0 + 250.0 * e->vel, rate);
        v->g2 = tpt_g(600.0 + 1400.0 * e->vel, rate);
        v->fk = 0.8;
        v->amp *= 0.36;
        break;
    }
    case I_PAD: {
        double f = note_hz(e->note);
        static const double cents[2] = {-8.0, 8.0};
        static const double spread[2] = {-1.0, 1.0};
        v->len = e->dur + (int64_t)llround(0.45 * rate);
        v->fade = (int64_t)llround(0.12 * rate) + 1;
        for (int i = 0; i < 2; i++) {
            v->dph[i] = f * pow(2.0, cents[i] / 1200.0) / rate;
            v->ph[i] = lqs_rng_uniform(&v->rng);
            pan_gains(e->pan + spread[i], &v->sgl[i], &v->sgr[i]);
        }
        v->atk = (int64_t)llround(0.12 * rate) + 1;
        v->rel = 1.0, v->krel = decay_k(0.12, rate);
        v->amp *= 0.13;
        break;
    }
    case I_LEAD: {
        double f = note_hz(e->note);
        v->len = e->dur + (int64_t)llround(0.3 * rate);
        v->fade = (int64_t)llround(0.04 * rate) + 1;
        v->dph[0] = f / rate;
        v->dlfo = 5.5 / rate;
        v->vdel = 0.15 * rate;
        v->vramp = 0.30 * rate;
        v->atk = (int64_t)llround(0.008 * rate) + 1;
        v->e1 = 1.0, v->k1 = decay_k(0.5, rate);
        v->rel = 1.0, v->krel = decay_k(0.06, rate);
        v->amp *= 0.3;
        break;
    }
    default:
        v->active = 0;
    }
    if (v->fade > v->len)
        v->fade = v->len > 0 ? v->len : 1;
    if (v->len <= 0)
        v->active = 0;
}

/* Renders up to c frames of voice v, adding into L/R (or the lead bus). */
typedef struct buses {
    double *L, *R;   /* direct */
    double *PL, *PR; /* pads, lowpassed on the bus */
    double *HL, *HR; /* hats, highpassed on the bus */
    double *lead;    /* lead (mono), lowpassed, dry + echoes */
} buses;

/* xoshiro256** step on a local copy of the state (same sequence as lqs_rng_next; kept
 * here so the hot loops hold the state in registers). */
static inline uint64_t rng_step(lqs_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t x = s[1] * 5;
    const uint64_t result = ((x << 7) | (x >> 57)) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

static inline double unoise(lqs_rng *r) { return (double)(rng_step(r) >> 11) * 0x1.0p-52 - 1.0; }

static inline void unoise2(lqs_rng *r, double *a, double *b)
{
    const uint64_t u = rng_step(r);
    *a = (double)(u >> 32) * 0x1.0p-31 - 1.0;
    *b = (double)(u & 0xffffffffu) * 0x1.0p-31 - 1.0;
}

static inline double fade_at(int64_t t, int64_t len, int64_t fade)
{
    const int64_t left = len - t;
    return left < fade ? (double)left / (double)fade : 1.0;
}

static inline double attack_at(int64_t t, int64_t atk)
{
    return t < atk ? (double)t / (double)atk : 1.0;
}

/* Renders up to c frames of voice v into the buses.  The hot loops work on local
 * copies of the voice state (no aliasing with the output buffers) and write it back. */
static void voice_render(voice *v, const buses *B, size_t c, double rate)
{
    double *restrict L = B->L, *restrict R = B->R;
    const int64_t left = v->len - v->t;
    const size_t m = (int64_t)c < left ? c : (size_t)left;
    const int64_t len = v->len, fade = v->fade, dur = v->dur, atk = v->atk;
    const double amp = v->amp, gl = v->gl, gr = v->gr;
    int64_t t = v->t;
    lqs_rng rng = v->rng;
    switch (v->inst) {
    case I_KICK: {
        double ph = v->ph[0], e1 = v->e1, e2 = v->e2, e3 = v->e3;
        const double k1 = v->k1, k2 = v->k2, k3 = v->k3, inv = 1.0 / rate;
        for (size_t i = 0; i < m; i++, t++) {
            const double f = 48.0 + 122.0 * e2;
            ph = wrap(ph + f * inv);
            double s = psin(ph) * e1 + 0.3 * e3 * unoise(&rng);
            s *= amp * fade_at(t, len, fade);
            e1 *= k1, e2 *= k2, e3 *= k3;
            L[i] += s * gl;
            R[i] += s * gr;
        }
        v->ph[0] = ph, v->e1 = e1, v->e2 = e2, v->e3 = e3;
        break;
    }
    case I_SNARE: {
        double p0 = v->ph[0], p1 = v->ph[1], e1 = v->e1, e2 = v->e2;
        double z0 = v->z[0], z1 = v->z[1], z2 = v->z[2], z3 = v->z[3];
        const double d0 = v->dph[0], d1 = v->dph[1], k1 = v->k1, k2 = v->k2;
        const double g1 = v->g1, g2 = v->g2;
        for (size_t i = 0; i < m; i++, t++) {
            p0 = wrap(p0 + d0);
            p1 = wrap(p1 + d1);
            /* noise partly decorrelated between L and R (rho 0.6): a roomy snare */
            double a, b;
            unoise2(&rng, &a, &b);
            const double nr = 0.6 * a + 0.8 * b;
            const double al = onepole(&z2, g2, a), ar = onepole(&z3, g2, nr);
            const double hl = al - onepole(&z0, g1, al);
            const double hr = ar - onepole(&z1, g1, ar);
            const double g = amp * fade_at(t, len, fade);
            const double tone = 0.55 * e1 * (psin(p0) + 0.5 * psin(p1)) * g;
            const double ne = 0.75 * e2 * g;
            e1 *= k1, e2 *= k2;
            L[i] += (tone + ne * hl) * gl;
            R[i] += (tone + ne * hr) * gr;
        }
        v->ph[0] = p0, v->ph[1] = p1, v->e1 = e1, v->e2 = e2;
        v->z[0] = z0, v->z[1] = z1, v->z[2] = z2, v->z[3] = z3;
        break;
    }
    case I_HAT: {
        double *restrict HL = B->HL, *restrict HR = B->HR;
        double e1 = v->e1;
        const double k1 = v->k1, al = amp * gl, ar = amp * gr;
        for (size_t i = 0; i < m; i++, t++) {
            /* two partly decorrelated noises (rho 0.4) for L and R */
            double xl, b;
            unoise2(&rng, &xl, &b);
            const double xr = 0.4 * xl + 0.9165 * b;
            const double g = e1 * fade_at(t, len, fade);
            e1 *= k1;
            HL[i] += xl * g * al;
            HR[i] += xr * g * ar;
        }
        v->e1 = e1;
        break;
    }
    case I_BASS: {
        double ph = v->ph[0], e1 = v->e1, e2 = v->e2, rel = v->rel;
        double z[2] = {v->z[0], v->z[1]};
        const double dp = v->dph[0], k1 = v->k1, k2 = v->k2, krel = v->krel;
        const double g1 = v->g1, gd = v->g2 - v->g1, fk = v->fk;
        for (size_t i = 0; i < m; i++, t++) {
            const double x = 0.6 * saw(ph, dp) + 0.9 * psin(ph);
            ph = wrap(ph + dp);
            double ca[3];
            svf_coeffs(g1 + gd * e2, fk, ca);
            const double y = svf(z, ca, fk, x, NULL);
            double a = attack_at(t, atk) * (0.55 + 0.45 * e1);
            if (t >= dur) {
                a *= rel;
                rel *= krel;
            }
            const double s = y * a * amp * fade_at(t, len, fade);
            e1 *= k1, e2 *= k2;
            L[i] += s * gl;
            R[i] += s * gr;
        }
        v->ph[0] = ph, v->e1 = e1, v->e2 = e2, v->rel = rel;
        v->z[0] = z[0], v->z[1] = z[1];
        break;
    }
    case I_PAD: {
        double *restrict PL = B->PL, *restrict PR = B->PR;
        double p0 = v->ph[0], p1 = v->ph[1], rel = v->rel;
        const double d0 = v->dph[0], d1 = v->dph[1], krel = v->krel;
        const double l0 = v->sgl[0], l1 = v->sgl[1], r0 = v->sgr[0], r1 = v->sgr[1];
        size_t i = 0;
        while (i < m) {
            /* the sustain segment (after the attack, before the note-off and the fade)
             * has a constant gain: a = 1 * (amp * 1) = amp, the same bits as the general
             * loop, so the split does not change the output */
            const int64_t sus_end = dur < len - fade + 1 ? dur : len - fade + 1;
            if (t >= atk && t < sus_end) {
                size_t e = i + (size_t)(sus_end - t);
                if (e > m)
                    e = m;
                for (; i < e; i++, t++) {
                    const double o0 = saw(p0, d0), o1 = saw(p1, d1);
                    p0 = wrap(p0 + d0);
                    p1 = wrap(p1 + d1);
                    PL[i] += (o0 * l0 + o1 * l1) * amp;
                    PR[i] += (o0 * r0 + o1 * r1) * amp;
                }
                continue;
            }
            size_t e = m;
            if (t < atk && i + (size_t)(atk - t) < e)
                e = i + (size_t)(atk - t);
            for (; i < e; i++, t++) {
                const double o0 = saw(p0, d0), o1 = saw(p1, d1);
                p0 = wrap(p0 + d0);
                p1 = wrap(p1 + d1);
                double a = attack_at(t, atk);
                if (t >= dur) {
                    a *= rel;
                    rel *= krel;
                }
                a *= amp * fade_at(t, len, fade);
                PL[i] += (o0 * l0 + o1 * l1) * a;
                PR[i] += (o0 * r0 + o1 * r1) * a;
            }
        }
        v->ph[0] = p0, v->ph[1] = p1, v->rel = rel;
        break;
    }
    case I_LEAD: {
        double *restrict LB = B->lead;
        double ph = v->ph[0], lfo = v->lfo, e1 = v->e1, rel = v->rel;
        const double d0 = v->dph[0], dl = v->dlfo, k1 = v->k1, krel = v->krel;
        const double vdel = v->vdel, vramp = v->vramp;
        for (size_t i = 0; i < m; i++, t++) {
            const double tt = (double)t;
            const double depth = tt < vdel ? 0.0 : tt < vdel + vramp ? (tt - vdel) / vramp : 1.0;
            /* vibrato: +-0.25 semitone (2^(0.25/12) - 1 = 0.0145) at 5.5 Hz */
            const double dp = d0 * (1.0 + 0.0145 * depth * psin(lfo));
            lfo = wrap(lfo + dl);
            const double x = saw(ph, dp);
            ph = wrap(ph + dp);
            double a = attack_at(t, atk) * (0.65 + 0.35 * e1);
            if (t >= dur) {
                a *= rel;
                rel *= krel;
            }
            e1 *= k1;
            LB[i] += x * a * amp * fade_at(t, len, fade);
        }
        v->ph[0] = ph, v->lfo = lfo, v->e1 = e1, v->rel = rel;
        break;
    }
    default:
        break;
    }
    v->t = t;
    v->rng = rng;
    if (v->t >= v->len)
        v->active = 0;
}

/* ---- the arrangement ------------------------------------------------------------- */

typedef struct motif_note {
    int step, dur, deg;
} motif_note;

typedef struct motif {
    motif_note n[32];
    int count;
} motif;

typedef struct builder {
    evlist *L;
    lqs_rng *r;
    unsigned seq;
    int fail;
} builder;

static double urand(builder *b) { return lqs_rng_uniform(b->r); }

static void add(builder *b, int inst, double step, double dur_steps, double note, double vel,
                double pan, int variant, double param)
{
    evlist *L = b->L;
    if (b->fail)
        return;
    if (L->n == L->cap) {
        size_t nc = L->cap ? 2 * L->cap : 1024;
        mix_event *ne = realloc(L->ev, nc * sizeof *ne);
        if (!ne) {
            b->fail = 1;
            return;
        }
        L->ev = ne;
        L->cap = nc;
    }
    mix_event *e = &L->ev[L->n++];
    memset(e, 0, sizeof *e);
    e->step = step;
    e->seq = b->seq++;
    e->inst = inst;
    e->dur = (int64_t)llround(dur_steps * 1000.0); /* in 1/1000 steps until finalised */
    e->note = note;
    /* per-hit velocity variation: +-8 % */
    e->vel = vel * (1.0 + 0.16 * (urand(b) - 0.5));
    e->pan = pan;
    e->variant = variant;
    e->param = param;
    e->nseed = lqs_rng_next(b->r);
}

/* Chord voicings (MIDI notes) and bass roots: A minor, i-VI-III-VII in the song,
 * VI-VII-v-i in the breakdown. */
static const double chords[6][4] = {
    {57, 60, 64, 67}, /* Am7 */
    {53, 57, 60, 64}, /* Fmaj7 */
    {52, 55, 60, 62}, /* C(add9)/E */
    {55, 59, 62, 64}, /* G6 */
    {52, 55, 59, 62}, /* Em7 */
    {57, 60, 64, 69}, /* Am */
};
static const double roots[6] = {33, 29, 36, 31, 28, 33};
static const int prog_main[4] = {0, 1, 2, 3};
static const int prog_break[4] = {1, 3, 4, 5};

static double swing(int s) { return (s & 1) ? 0.16 : 0.0; } /* 16th swing, ~58 % */

static double penta(int deg)
{
    static const int off[5] = {0, 3, 5, 7, 10}; /* A minor pentatonic */
    return 57.0 + 12.0 * (deg / 5) + off[deg % 5];
}

static void make_motifs(builder *b, motif *m, int count)
{
    static const int durs[8] = {2, 2, 2, 3, 4, 4, 6, 8};
    static const int moves[7] = {-2, -1, -1, 0, 1, 1, 2};
    for (int k = 0; k < count; k++) {
        int t = 0, deg = 5 + (int)(urand(b) * 3.0);
        m[k].count = 0;
        while (t < 30 && m[k].count < 32) {
            int d = durs[(int)(urand(b) * 8.0)];
            if (t + d > 32)
                d = 32 - t;
            if (urand(b) < 0.18) { /* rest */
                t += d;
                continue;
            }
            deg += moves[(int)(urand(b) * 7.0)];
            if (deg < 2)
                deg = 3;
            if (deg > 10)
                deg = 9;
            if (t % 16 == 0 && (deg % 5 == 1 || deg % 5 == 2))
                deg--; /* land on A, E or G on the downbeats */
            m[k].n[m[k].count++] = (motif_note){t, d, deg};
            t += d;
        }
    }
}

static void build_section(builder *b, int type, int bar0, int nbars, const motif *mot)
{
    static const int verse_lead[4] = {0, 1, 0, 2};
    static const int chorus_lead[4] = {2, 3, 2, 1};
    /* bass patterns: {step, semitone offset, length in steps} */
    static const int bass_verse[6][3] = {{0, 0, 3}, {3, 0, 2}, {6, 12, 2},
                                         {8, 0, 3}, {11, 0, 2}, {14, 7, 2}};
    static const int bass_chorus[10][3] = {{0, 0, 2}, {2, 12, 1}, {3, 0, 2}, {6, 0, 1},
                                           {7, 12, 1}, {8, 0, 2}, {10, 0, 1}, {11, 12, 2},
                                           {14, 7, 1}, {15, 0, 1}};
    for (int bi = 0; bi < nbars; bi++) {
        const double s0 = 16.0 * (bar0 + bi);
        const int ch = type == S_BREAK ? prog_break[bi % 4] : prog_main[bi % 4];
        const int last = bi == nbars - 1;

        /* pads */
        double pvel, pfc;
        switch (type) {
        case S_INTRO: pvel = 0.7 + 0.04 * bi; pfc = 900.0 + 250.0 * bi; break;
        case S_VERSE: pvel = 0.6; pfc = 1700.0; break;
        case S_CHORUS: pvel = 0.8; pfc = 2600.0; break;
        default: pvel = 0.85; pfc = 1300.0 + 150.0 * bi; break;
        }
        for (int k = 0; k < 4; k++)
            add(b, I_PAD, s0, 15.5, chords[ch][k], pvel, -0.3 + 0.2 * k, 0, pfc);

        /* kick */
        if (type == S_VERSE) {
            add(b, I_KICK, s0, 1, 0, 0.95, 0, 0, 0);
            add(b, I_KICK, s0 + 8, 1, 0, 0.9, 0, 0, 0);
            if (urand(b) < 0.4)
                add(b, I_KICK, s0 + 10, 1, 0, 0.7, 0, 0, 0);
            else if (urand(b) < 0.3)
                add(b, I_KICK, s0 + 7, 1, 0, 0.6, 0, 0, 0);
        } else if (type == S_CHORUS) {
            for (int q = 0; q < 16; q += 4)
                add(b, I_KICK, s0 + q, 1, 0, q == 0 ? 1.0 : 0.92, 0, 0, 0);
            if (bi % 4 == 3 && urand(b) < 0.5)
                add(b, I_KICK, s0 + 14, 1, 0, 0.65, 0, 0, 0);
        } else if (type == S_INTRO && bi >= 4) {
            add(b, I_KICK, s0, 1, 0, 0.8, 0, 0, 0);
            add(b, I_KICK, s0 + 8, 1, 0, 0.75, 0, 0, 0);
            if (last) {
                add(b, I_KICK, s0 + 4, 1, 0, 0.7, 0, 0, 0);
                add(b, I_KICK, s0 + 12, 1, 0, 0.8, 0, 0, 0);
            }
        } else if (type == S_BREAK && bi >= 6) {
            for (int q = 0; q < 16; q += 4)
                add(b, I_KICK, s0 + q, 1, 0, bi == 6 ? 0.5 : 0.7, 0, 0, 0);
        }

        /* snare */
        if (type == S_VERSE || type == S_CHORUS) {
            double sv = type == S_CHORUS ? 1.0 : 0.85;
            add(b, I_SNARE, s0 + 4, 1, 0, sv, 0.06, 0, 0);
            add(b, I_SNARE, s0 + 12, 1, 0, sv, 0.06, 0, 0);
            for (int s = 1; s < 16; s += 2)
                if (urand(b) < 0.10)
                    add(b, I_SNARE, s0 + s + swing(s), 1, 0, 0.22, 0.06, 0, 0);
            if (type == S_CHORUS && bi % 4 == 3 && urand(b) < 0.6)
                add(b, I_SNARE, s0 + 15 + swing(15), 1, 0, 0.5, 0.06, 0, 0);
        } else if (type == S_INTRO && last) {
            for (int s = 12; s < 16; s++)
                add(b, I_SNARE, s0 + s, 1, 0, 0.4 + 0.12 * (s - 12), 0.06, 0, 0);
        } else if (type == S_BREAK && bi == 6) {
            for (int s = 0; s < 16; s += 4)
                add(b, I_SNARE, s0 + s + 2, 1, 0, 0.18 + 0.03 * s / 4, 0.06, 0, 0);
        } else if (type == S_BREAK && last) {
            for (int s = 0; s < 16; s++) /* build-up roll, crescendo */
                add(b, I_SNARE, s0 + s, 1, 0, 0.2 + 0.8 * s / 15.0, 0.06, 0, 0);
        }

        /* hats: swung 16ths, accents on the off-beat 8ths; open hats in the chorus */
        if (type == S_VERSE || type == S_CHORUS) {
            for (int s = 0; s < 16; s++) {
                double hv = (s % 4 == 2) ? 0.75 : (s % 2 == 0 ? 0.55 : 0.3);
                int open = type == S_CHORUS && s % 4 == 2;
                if (type == S_CHORUS)
                    hv *= 1.1;
                add(b, I_HAT, s0 + s + swing(s), 1, 0, hv, open ? -0.25 : 0.35, open, 0);
            }
        } else if ((type == S_INTRO && bi >= 2) || (type == S_BREAK && bi >= 6)) {
            for (int s = 0; s < 16; s += 2) {
                double hv = (s % 4 == 2) ? 0.5 : 0.3;
                if (type == S_BREAK)
                    hv *= 0.5 + 0.5 * (bi - 6 + s / 16.0);
                add(b, I_HAT, s0 + s, 1, 0, hv, 0.35, 0, 0);
            }
        }

        /* bass */
        const double root = roots[ch];
        if (type == S_VERSE) {
            for (int k = 0; k < 6; k++)
                add(b, I_BASS, s0 + bass_verse[k][0] + swing(bass_verse[k][0]),
                    bass_verse[k][2] - 0.3, root + bass_verse[k][1], 0.75, 0, 0, 0);
        } else if (type == S_CHORUS) {
            for (int k = 0; k < 10; k++)
                add(b, I_BASS, s0 + bass_chorus[k][0] + swing(bass_chorus[k][0]),
                    bass_chorus[k][2] - 0.3, root + bass_chorus[k][1],
                    bass_chorus[k][1] ? 0.7 : 0.9, 0, 0, 0);
        } else if (type == S_INTRO && bi >= 4) {
            add(b, I_BASS, s0, 7.5, root, 0.6, 0, 0, 0);
            add(b, I_BASS, s0 + 8, 7.5, root, 0.55, 0, 0, 0);
        } else if (type == S_BREAK) {
            if (bi < 6)
                add(b, I_BASS, s0, 15.5, root, 0.5, 0, 0, 0);
            else
                for (int s = 0; s < 16; s += 2)
                    add(b, I_BASS, s0 + s, 1.6, root, 0.4 + 0.25 * (bi - 6 + s / 16.0), 0, 0,
                        0);
        }

        /* lead: 2-bar motifs */
        if (bi % 2 == 0 && type != S_INTRO && !(type == S_BREAK && bi >= 6)) {
            int mi = type == S_VERSE ? verse_lead[bi / 2 % 4]
                   : type == S_CHORUS ? chorus_lead[bi / 2 % 4] : 1 + (bi / 2) % 2;
            const motif *m = &mot[mi];
            for (int k = 0; k < m->count; k++) {
                const motif_note *n = &m->n[k];
                double st = s0 + n->step + swing(n->step);
                double note = penta(n->deg);
                if (type == S_BREAK) {
                    add(b, I_LEAD, st, n->dur * 1.4 - 0.5, note, 0.6, 0.2, 0, 0);
                } else if (type == S_VERSE) {
                    add(b, I_LEAD, st, n->dur - 0.5, note, 0.7, 0.2, 0, 0);
                } else {
                    add(b, I_LEAD, st, n->dur - 0.4, note, 0.9, 0.2, 0, 0);
                    add(b, I_LEAD, st, n->dur - 0.4, note + 12.0, 0.3, 0.2, 1, 0);
                }
            }
        }
    }
}

static int cmp_event(const void *a, const void *b)
{
    const mix_event *x = a, *y = b;
    if (x->onset != y->onset)
        return x->onset < y->onset ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void finalise(evlist *L, double step_len, int64_t list_len)
{
    for (size_t i = 0; i < L->n; i++) {
        mix_event *e = &L->ev[i];
        e->onset = (int64_t)llround(e->step * step_len);
        if (e->onset >= list_len)
            e->onset = list_len - 1;
        e->dur = (int64_t)llround((double)e->dur / 1000.0 * step_len);
        if (e->dur < 1)
            e->dur = 1;
    }
    qsort(L->ev, L->n, sizeof *L->ev, cmp_event);
    int count[I_N] = {0};
    for (size_t i = 0; i < L->n; i++) {
        mix_event *e = &L->ev[i];
        e->slot = slot_base[e->inst] + count[e->inst]++ % slot_cnt[e->inst];
    }
}

static double step_frames(double rate) { return rate * 60.0 / 120.0 / 4.0; } /* 16th */

void lqs_mix_layout(double rate, size_t *intro_frames, size_t *cycle_frames)
{
    const double st = step_frames(rate);
    if (intro_frames)
        *intro_frames = (size_t)llround(16.0 * INTRO_BARS * st);
    if (cycle_frames)
        *cycle_frames = (size_t)llround(16.0 * CYCLE_BARS * st);
}

/* ---- the streaming engine ---------------------------------------------------------- */

static void mixer_reset(lqs_mixer *m)
{
    m->pos = 0;
    m->cyc_base = m->intro_len;
    m->in_cycle = m->intro.n == 0;
    m->idx = 0;
    memset(m->v, 0, sizeof m->v);
    memset(m->padz, 0, sizeof m->padz);
    memset(m->leadz, 0, sizeof m->leadz);
    memset(m->hatz, 0, sizeof m->hatz);
    m->flush = 1024;
    m->hat_k = 1.3;
    svf_coeffs(tpt_g(fmin(8000.0, 0.40 * m->rate), m->rate), m->hat_k, m->hat_a);
    m->padG = 0.0;
    m->leadG = tpt_g(2600.0, m->rate);
    m->leadG /= 1.0 + m->leadG;
    memset(m->ring, 0, (m->ring_mask + 1) * sizeof *m->ring);
    m->ring_w = 0;
}

static const mix_event *next_event(lqs_mixer *m, int64_t *abs_onset)
{
    if (!m->in_cycle) {
        if (m->idx < m->intro.n) {
            *abs_onset = m->intro.ev[m->idx].onset;
            return &m->intro.ev[m->idx];
        }
        m->in_cycle = 1;
        m->idx = 0;
    }
    if (m->idx >= m->cyc.n) {
        m->idx = 0;
        m->cyc_base += m->cyc_len;
    }
    *abs_onset = m->cyc_base + m->cyc.ev[m->idx].onset;
    return &m->cyc.ev[m->idx];
}

/* Bus processing and the final sum for c frames (state in locals, written back). */
static void mix_buses(lqs_mixer *m, size_t c, double gain, double *restrict outL,
                      double *restrict outR, double *peak)
{
    const double *restrict bL = m->busL, *restrict bR = m->busR;
    const double *restrict pL = m->padL, *restrict pR = m->padR;
    const double *restrict hL = m->hatL, *restrict hR = m->hatR, *restrict ld = m->lead;
    double *restrict ring = m->ring;
    const size_t mask = m->ring_mask, d1 = m->d1, d2 = m->d2, d3 = m->d3;
    const double pG = m->padG, lG = m->leadG, hk = m->hat_k;
    const double ha[3] = {m->hat_a[0], m->hat_a[1], m->hat_a[2]};
    double pz0 = m->padz[0], pz1 = m->padz[1], pz2 = m->padz[2], pz3 = m->padz[3];
    double lz0 = m->leadz[0], lz1 = m->leadz[1];
    double hz[4] = {m->hatz[0], m->hatz[1], m->hatz[2], m->hatz[3]};
    size_t w = m->ring_w;
    unsigned flush = m->flush;
    double pk = peak ? *peak : 0.0;
    for (size_t i = 0; i < c; i++) {
        /* pads: 2-pole lowpass on the bus */
        const double pl = onepole(&pz1, pG, onepole(&pz0, pG, pL[i]));
        const double pr = onepole(&pz3, pG, onepole(&pz2, pG, pR[i]));
        /* lead: 2-pole lowpass, dry at pan +0.2, ping-pong echoes every dotted eighth
         * (0.375 s at 120 BPM) L, R, L */
        const double x = onepole(&lz1, lG, onepole(&lz0, lG, ld[i]));
        /* hats: highpass */
        double hl, hr;
        (void)svf(&hz[0], ha, hk, hL[i], &hl);
        (void)svf(&hz[2], ha, hk, hR[i], &hr);
        /* the lead and hat buses fall silent for whole sections: flush their decaying
         * states every 1024 frames, before they turn denormal (counted in frames since
         * the start, so independent of the block size) */
        if (--flush == 0) {
            flush = 1024;
            for (int k = 0; k < 4; k++)
                hz[k] = fabs(hz[k]) < 1e-30 ? 0.0 : hz[k];
            lz0 = fabs(lz0) < 1e-30 ? 0.0 : lz0;
            lz1 = fabs(lz1) < 1e-30 ? 0.0 : lz1;
        }
        ring[w] = x;
        double l = bL[i] + pl + hl + 0.588 * x + 0.30 * ring[(w - d1) & mask] +
                   0.12 * ring[(w - d3) & mask];
        double r = bR[i] + pr + hr + 0.809 * x + 0.22 * ring[(w - d2) & mask];
        w = (w + 1) & mask;
        l *= gain;
        r *= gain;
        if (outL) {
            outL[i] = l;
            outR[i] = r;
        }
        if (peak) {
            const double al = fabs(l), ar = fabs(r);
            pk = al > pk ? al : pk;
            pk = ar > pk ? ar : pk;
        }
    }
    if (peak)
        *peak = pk;
    m->padz[0] = pz0, m->padz[1] = pz1, m->padz[2] = pz2, m->padz[3] = pz3;
    m->leadz[0] = lz0, m->leadz[1] = lz1;
    for (int k = 0; k < 4; k++)
        m->hatz[k] = hz[k];
    m->ring_w = w;
    m->flush = flush;
}

/* Render n raw (un-normalised) frames, multiplied by gain. */
static void mixer_run(lqs_mixer *m, double *outL, double *outR, size_t n, double gain,
                      double *peak)
{
    size_t done = 0;
    while (done < n) {
        int64_t on;
        const mix_event *e = next_event(m, &on);
        while (on <= m->pos) { /* spawn everything that starts now */
            voice_start(&m->v[e->slot], e, m->rate);
            if (e->inst == I_PAD) {
                double g = tpt_g(e->param, m->rate);
                m->padG = g / (1.0 + g);
            }
            m->idx++;
            e = next_event(m, &on);
        }
        size_t c = n - done;
        if (c > CHUNK)
            c = CHUNK;
        if ((int64_t)c > on - m->pos)
            c = (size_t)(on - m->pos);
        memset(m->busL, 0, c * sizeof(double));
        memset(m->busR, 0, c * sizeof(double));
        memset(m->padL, 0, c * sizeof(double));
        memset(m->padR, 0, c * sizeof(double));
        memset(m->hatL, 0, c * sizeof(double));
        memset(m->hatR, 0, c * sizeof(double));
        memset(m->lead, 0, c * sizeof(double));
        const buses B = {m->busL, m->busR, m->padL, m->padR, m->hatL, m->hatR, m->lead};
        for (int k = 0; k < NVOICES; k++)
            if (m->v[k].active)
                voice_render(&m->v[k], &B, c, m->rate);
        /* pads: 2-pole lowpass on the bus; lead: 2-pole lowpass, dry at pan +0.2 and
         * ping-pong echoes every dotted eighth (0.375 s at 120 BPM) L, R, L */
        mix_buses(m, c, gain, outL ? outL + done : NULL, outR ? outR + done : NULL, peak);
        m->pos += (int64_t)c;
        done += c;
    }
}

void lqs_mixer_free(lqs_mixer *m)
{
    if (!m)
        return;
    free(m->intro.ev);
    free(m->cyc.ev);
    free(m->ring);
    free(m);
}

lqs_mixer *lqs_mixer_new(double rate, uint64_t seed, double peak, size_t total_frames)
{
    if (!(rate >= 1000.0 && rate <= 1e6))
        return NULL;
    lqs_mixer *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->rate = rate;
    const double st = step_frames(rate);
    size_t il, cl;
    lqs_mix_layout(rate, &il, &cl);
    m->intro_len = (int64_t)il;
    m->cyc_len = (int64_t)cl;

    lqs_rng r;
    lqs_rng_seed(&r, seed ^ 0x6c61637175657221ULL);
    builder b = {.L = &m->intro, .r = &r};
    motif mot[4];
    make_motifs(&b, mot, 4);
    build_section(&b, S_INTRO, 0, INTRO_BARS, mot);
    b.L = &m->cyc;
    build_section(&b, S_VERSE, 0, 8, mot);
    build_section(&b, S_CHORUS, 8, 8, mot);
    build_section(&b, S_BREAK, 16, 8, mot);
    build_section(&b, S_CHORUS, 24, 8, mot);
    if (b.fail || m->cyc.n == 0)
        goto fail;
    finalise(&m->intro, st, m->intro_len);
    finalise(&m->cyc, st, m->cyc_len);

    m->d1 = (size_t)llround(0.375 * rate);
    m->d2 = 2 * m->d1;
    m->d3 = 3 * m->d1;
    size_t rs = 1;
    while (rs < m->d3 + 1)
        rs <<= 1;
    m->ring = malloc(rs * sizeof *m->ring);
    if (!m->ring)
        goto fail;
    m->ring_mask = rs - 1;

    /* Gain: the peak of the first min(total, intro + 2 cycles) frames; past that the
     * song repeats cycle 2 exactly, so the peak stays the same. */
    size_t span = il + 2 * cl;
    if (total_frames < span)
        span = total_frames;
    mixer_reset(m);
    double raw = 0.0;
    mixer_run(m, NULL, NULL, span, 1.0, &raw);
    double g = raw > 0.0 ? peak / raw : 1.0;
    while (raw > 0.0 && raw * g > peak)
        g = nextafter(g, 0.0);
    m->gain = g;
    mixer_reset(m);
    return m;
fail:
    lqs_mixer_free(m);
    return NULL;
}

void lqs_mixer_render(lqs_mixer *m, double *left, double *right, size_t n)
{
    mixer_run(m, left, right, n, m->gain, NULL);
}

void lqs_mix(double *left, double *right, size_t n, double rate, uint64_t seed, double peak)
{
    lqs_mixer *m = lqs_mixer_new(rate, seed, peak, n);
    if (!m) {
        memset(left, 0, n * sizeof *left);
        memset(right, 0, n * sizeof *right);
        return;
    }
    lqs_mixer_render(m, left, right, n);
    lqs_mixer_free(m);
}
