/* The demo mix: a small arrangement (kick, snare, hats, bass, pads, lead) at 120 BPM in
 * A minor, rendered by a streaming voice engine.
 *
 * Song: an 8-bar intro, then a 32-bar cycle (verse 8, chorus 8, breakdown 8, chorus 8)
 * repeated for as long as asked.  Every voice is computed from its own onset (fresh
 * oscillator phases and filter states), the only shared state (the lead's ping-pong
 * delay) has finite memory, and the cycle's events are the same list every time, so
 * cycle k >= 2 is sample-for-sample a copy of cycle 2: the peak of any length is the
 * peak of at most intro + 2 cycles, found once at creation.  The output at every
 * sample is a fixed-order sum of per-sample recurrences, so any block size gives the
 * same bits. */
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
    double rel, krel, atk;
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
    double busL[CHUNK], busR[CHUNK], padL[CHUNK], padR[CHUNK], lead[CHUNK];
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

static inline double noise(lqs_rng *r)
{
    return (double)(lqs_rng_next(r) >> 11) * 0x1.0p-52 - 1.0;
}

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
static inline double svf(double *z, double g, double k, double x, double *hp)
{
    const double a1 = 1.0 / (1.0 + g * (g + k)), a2 = g * a1, a3 = g * a2;
    const double v3 = x - z[1];
    const double v1 = a1 * z[0] + a2 * v3;
    const double v2 = z[1] + a2 * z[0] + a3 * v3;
    z[0] = 2.0 * v1 - z[0];
    z[1] = 2.0 * v2 - z[1];
    if (hp)
        *hp = x - k * v1 - v2;
    return v2;
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

static inline double fadeout(const voice *v)
{
    const int64_t left = v->len - v->t;
    return left < v->fade ? (double)left / (double)v->fade : 1.0;
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
        v->amp *= 0.95;
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
        v->amp *= 0.55;
        break;
    case I_HAT:
        v->len = (int64_t)llround((e->variant ? 0.45 : 0.14) * rate);
        v->e1 = 1.0, v->k1 = decay_k(e->variant ? 0.13 : 0.022, rate);
        v->g1 = tpt_g(fmin(8000.0, 0.40 * rate), rate);
        v->fk = 1.3;
        v->ph[0] = 1.0 / (1.0 + v->g1 * (v->g1 + v->fk)); /* svf a1, a2, a3 */
        v->ph[1] = v->g1 * v->ph[0];
        v->ph[2] = v->g1 * v->ph[1];
        v->amp *= e->variant ? 0.13 : 0.17;
        break;
    case I_BASS: {
        double f = note_hz(e->note);
        v->len = e->dur + (int64_t)llround(0.15 * rate);
        v->dph[0] = f / rate;
        v->atk = 0.004 * rate;
        v->e1 = 1.0, v->k1 = decay_k(0.7, rate);
        v->e2 = 1.0, v->k2 = decay_k(0.10, rate); /* filter envelope */
        v->rel = 1.0, v->krel = decay_k(0.03, rate);
        v->g1 = tpt_g(180.0 + 250.0 * e->vel, rate);
        v->g2 = tpt_g(600.0 + 1400.0 * e->vel, rate);
        v->fk = 0.8;
        v->amp *= 0.42;
        break;
    }
    case I_PAD: {
        double f = note_hz(e->note);
        static const double cents[2] = {-8.0, 8.0};
        static const double spread[2] = {-0.6, 0.6};
        v->len = e->dur + (int64_t)llround(0.7 * rate);
        v->fade = (int64_t)llround(0.15 * rate) + 1;
        for (int i = 0; i < 2; i++) {
            v->dph[i] = f * pow(2.0, cents[i] / 1200.0) / rate;
            v->ph[i] = lqs_rng_uniform(&v->rng);
            pan_gains(e->pan + spread[i], &v->sgl[i], &v->sgr[i]);
        }
        v->atk = 0.12 * rate;
        v->rel = 1.0, v->krel = decay_k(0.18, rate);
        v->amp *= 0.06;
        break;
    }
    case I_LEAD: {
        double f = note_hz(e->note);
        v->len = e->dur + (int64_t)llround(0.4 * rate);
        v->dph[0] = f / rate;
        v->dlfo = 5.5 / rate;
        v->vdel = 0.15 * rate;
        v->vramp = 0.30 * rate;
        v->atk = 0.008 * rate;
        v->e1 = 1.0, v->k1 = decay_k(0.5, rate);
        v->rel = 1.0, v->krel = decay_k(0.06, rate);
        v->amp *= 0.2;
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
static void voice_render(voice *v, double *L, double *R, double *PL, double *PR, double *lead,
                         size_t c, double rate)
{
    int64_t left = v->len - v->t;
    size_t m = (int64_t)c < left ? c : (size_t)left;
    switch (v->inst) {
    case I_KICK:
        for (size_t i = 0; i < m; i++) {
            double f = 48.0 + 122.0 * v->e2;
            v->ph[0] = wrap(v->ph[0] + f / rate);
            double s = psin(v->ph[0]) * v->e1 + 0.3 * v->e3 * noise(&v->rng);
            s *= v->amp * fadeout(v);
            v->e1 *= v->k1, v->e2 *= v->k2, v->e3 *= v->k3;
            L[i] += s * v->gl;
            R[i] += s * v->gr;
            v->t++;
        }
        break;
    case I_SNARE:
        for (size_t i = 0; i < m; i++) {
            v->ph[0] = wrap(v->ph[0] + v->dph[0]);
            v->ph[1] = wrap(v->ph[1] + v->dph[1]);
            double n = noise(&v->rng);
            double hp = n - onepole(&v->z[0], v->g1, n);
            double s = 0.55 * v->e1 * (psin(v->ph[0]) + 0.5 * psin(v->ph[1])) +
                       0.75 * v->e2 * hp;
            s *= v->amp * fadeout(v);
            v->e1 *= v->k1, v->e2 *= v->k2;
            L[i] += s * v->gl;
            R[i] += s * v->gr;
            v->t++;
        }
        break;
    case I_HAT:
        for (size_t i = 0; i < m; i++) {
            /* highpass output of svf() with its coefficients precomputed */
            const double x = noise(&v->rng);
            const double v3 = x - v->z[1];
            const double v1 = v->ph[0] * v->z[0] + v->ph[1] * v3;
            const double v2 = v->z[1] + v->ph[1] * v->z[0] + v->ph[2] * v3;
            v->z[0] = 2.0 * v1 - v->z[0];
            v->z[1] = 2.0 * v2 - v->z[1];
            const double hp = x - v->fk * v1 - v2;
            double s = hp * v->e1 * v->amp * fadeout(v);
            v->e1 *= v->k1;
            L[i] += s * v->gl;
            R[i] += s * v->gr;
            v->t++;
        }
        break;
    case I_BASS:
        for (size_t i = 0; i < m; i++) {
            double p = v->ph[0];
            double x = 0.6 * saw(p, v->dph[0]) + 0.9 * psin(p);
            v->ph[0] = wrap(p + v->dph[0]);
            double g = v->g1 + (v->g2 - v->g1) * v->e2;
            double y = svf(v->z, g, v->fk, x, NULL);
            double a = (double)v->t < v->atk ? (double)v->t / v->atk : 1.0;
            a *= 0.55 + 0.45 * v->e1;
            if (v->t >= v->dur) {
                a *= v->rel;
                v->rel *= v->krel;
            }
            double s = y * a * v->amp * fadeout(v);
            v->e1 *= v->k1, v->e2 *= v->k2;
            L[i] += s * v->gl;
            R[i] += s * v->gr;
            v->t++;
        }
        break;
    case I_PAD:
        for (size_t i = 0; i < m; i++) {
            double l = 0.0, r = 0.0;
            for (int k = 0; k < 2; k++) {
                double o = saw(v->ph[k], v->dph[k]);
                v->ph[k] = wrap(v->ph[k] + v->dph[k]);
                l += o * v->sgl[k];
                r += o * v->sgr[k];
            }
            double a = (double)v->t < v->atk ? (double)v->t / v->atk : 1.0;
            if (v->t >= v->dur) {
                a *= v->rel;
                v->rel *= v->krel;
            }
            a *= v->amp * fadeout(v);
            PL[i] += l * a;
            PR[i] += r * a;
            v->t++;
        }
        break;
    case I_LEAD:
        for (size_t i = 0; i < m; i++) {
            double tt = (double)v->t;
            double depth = tt < v->vdel ? 0.0
                         : tt < v->vdel + v->vramp ? (tt - v->vdel) / v->vramp : 1.0;
            /* vibrato: +-0.25 semitone (2^(0.25/12) - 1 = 0.0145) at 5.5 Hz */
            double dp = v->dph[0] * (1.0 + 0.0145 * depth * psin(v->lfo));
            v->lfo = wrap(v->lfo + v->dlfo);
            double p = v->ph[0];
            double x = saw(p, dp);
            v->ph[0] = wrap(p + dp);
            double a = tt < v->atk ? tt / v->atk : 1.0;
            a *= 0.65 + 0.35 * v->e1;
            if (v->t >= v->dur) {
                a *= v->rel;
                v->rel *= v->krel;
            }
            v->e1 *= v->k1;
            lead[i] += x * a * v->amp * fadeout(v);
            v->t++;
        }
        break;
    default:
        break;
    }
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
        case S_INTRO: pvel = 0.45 + 0.05 * bi; pfc = 600.0 + 220.0 * bi; break;
        case S_VERSE: pvel = 0.6; pfc = 1700.0; break;
        case S_CHORUS: pvel = 0.8; pfc = 2600.0; break;
        default: pvel = 0.62; pfc = 1100.0 + 120.0 * bi; break;
        }
        for (int k = 0; k < 4; k++)
            add(b, I_PAD, s0, 15.5, chords[ch][k], pvel, -0.45 + 0.3 * k, 0, pfc);

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
                add(b, I_BASS, s0, 15.5, root, 0.35, 0, 0, 0);
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
                    add(b, I_LEAD, st, n->dur * 1.4 - 0.5, note, 0.45, 0.2, 0, 0);
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
        memset(m->lead, 0, c * sizeof(double));
        for (int k = 0; k < NVOICES; k++)
            if (m->v[k].active)
                voice_render(&m->v[k], m->busL, m->busR, m->padL, m->padR, m->lead, c,
                             m->rate);
        /* pads: 2-pole lowpass on the bus; lead: 2-pole lowpass, dry at pan +0.2 and
         * ping-pong echoes every dotted eighth (0.375 s at 120 BPM) L, R, L */
        const size_t mask = m->ring_mask;
        const double pG = m->padG, lG = m->leadG;
        for (size_t i = 0; i < c; i++) {
            const size_t w = m->ring_w;
            const double pl = onepole(&m->padz[1], pG, onepole(&m->padz[0], pG, m->padL[i]));
            const double pr = onepole(&m->padz[3], pG, onepole(&m->padz[2], pG, m->padR[i]));
            const double x = onepole(&m->leadz[1], lG, onepole(&m->leadz[0], lG, m->lead[i]));
            m->ring[w] = x;
            double l = m->busL[i] + pl + 0.588 * x + 0.30 * m->ring[(w - m->d1) & mask] +
                       0.12 * m->ring[(w - m->d3) & mask];
            double r = m->busR[i] + pr + 0.809 * x + 0.22 * m->ring[(w - m->d2) & mask];
            m->ring_w = (w + 1) & mask;
            l *= gain;
            r *= gain;
            if (outL) {
                outL[done + i] = l;
                outR[done + i] = r;
            }
            if (peak) {
                if (fabs(l) > *peak)
                    *peak = fabs(l);
                if (fabs(r) > *peak)
                    *peak = fabs(r);
            }
        }
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
