/* dither: dither + noise-shaping error feedback + quantizer (see dither.h).
 *
 * Quantizer with error feedback (Lipshitz, Vanderkooy & Wannamaker, "Minimally audible
 * noise shaping", J. Audio Eng. Soc. 39(11), 1991, Fig. 1), in LSB units
 * (s = 2^(bits-1), x in full scale):
 *
 *     v[n] = s x[n] - sum_k h_k e[n-k]
 *     w[n] = round(v[n] + d[n])          d = dither
 *     e[n] = w[n] - v[n]                 total error (includes the dither)
 *     y[n] = clamp(w[n]) / s
 *
 * so s y - s x = e[n] - sum_k h_k e[n-k]: the total error e, white with variance
 * q^2/4 for TPDF (Wannamaker, Lipshitz & Vanderkooy, "A theory of nonsubtractive
 * dither", IEEE Trans. Signal Processing 48(2), 2000), is shaped by
 * NTF(z) = 1 - sum h_k z^-k.  The error fed back is taken before the clamp, so a
 * clamped sample cannot drive the loop unstable; it is counted instead.
 *
 * Dither: TPDF = difference of two independent uniforms (2 LSB peak to peak,
 * variance q^2/6; total error power 3 q^2/12), RPDF = one uniform (1 LSB p-p).
 * Generator: xoshiro256** seeded by splitmix64 (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", ACM TOMS 47(4), 2021), one independent stream per
 * channel so left and right are decorrelated. */
#include "stages/dither.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shaping designs (all for 44.1 kHz; h_k multiplies e[n-k]) ---- */

/* Lipshitz, Vanderkooy & Wannamaker 1991 (above), appendix: 5-coefficient E-weighted. */
static const double k_lipshitz[] = {2.033, -2.165, 1.959, -1.590, 0.6149};
/* Same paper, appendix: 9-coefficient improved E-weighted. */
static const double k_wannamaker9[] = {2.847, -4.685, 6.214, -7.184, 6.639,
                                       -5.032, 3.263, -1.632, 0.4191};
/* R. A. Wannamaker, "Psychoacoustically optimal noise shaping", J. Audio Eng. Soc.
 * 40(7/8), 1992, Table 3: 9-coefficient F-weighted. */
static const double k_fweighted[] = {2.412, -3.370, 3.937, -4.174, 3.353,
                                     -2.205, 1.281, -0.569, 0.0847};
/* First-order highpass shaping, NTF = 1 - z^-1 (classic first-order error feedback;
 * Vanderkooy & Lipshitz, "Dither in digital audio", JAES 35(12), 1987). */
static const double k_hp[] = {1.0};

static const char *const type_names[] = {"none", "rpdf", "tpdf", NULL};
static const char *const shaping_names[] = {"none", "lipshitz", "wannamaker-9",
                                            "f-weighted", "hp", NULL};

const char *lq_dither_type_name(int type)
{
    return type >= 0 && type <= LQ_DITHER_TPDF ? type_names[type] : NULL;
}

const char *lq_dither_shaping_name(int shaping)
{
    return shaping >= 0 && shaping < LQ_SHAPE_COUNT ? shaping_names[shaping] : NULL;
}

static int design_taps(int shaping, const double **h)
{
    switch (shaping) {
    case LQ_SHAPE_LIPSHITZ: *h = k_lipshitz; return 5;
    case LQ_SHAPE_WANNAMAKER9: *h = k_wannamaker9; return 9;
    case LQ_SHAPE_FWEIGHTED: *h = k_fweighted; return 9;
    case LQ_SHAPE_HP: *h = k_hp; return 1;
    default: *h = NULL; return 0;
    }
}

/* Rate policy: the E/F-weighted designs are for 44.1 kHz.  At rates >= 44.1 kHz the
 * same taps are used (the curve is the 44.1 kHz design with its frequencies scaled by
 * rate/44100: at 48 kHz the dip moves from 4 to 4.35 kHz; at 88.2 kHz and above the
 * boost goes ultrasonic, and the design still lowers threshold-weighted noise, see
 * docs/PRESETS.md).  Below 44.1 kHz the boost would land in the ear's most sensitive
 * band, so those shapes fall back to flat; hp (a gentle 6 dB/oct tilt) is kept. */
int lq_dither_shaping_used(int shaping, double rate, int *used_shaping, double *h)
{
    int used = shaping;
    if (shaping != LQ_SHAPE_HP && rate < 44100.0 - 0.5) used = LQ_SHAPE_NONE;
    const double *taps;
    int n = design_taps(used, &taps);
    if (n == 0) used = LQ_SHAPE_NONE;
    for (int k = 0; k < n; k++) h[k] = taps[k];
    if (used_shaping) *used_shaping = used;
    return n;
}

double lq_dither_ntf_power(int shaping, double rate, double freq_hz)
{
    double h[LQ_DITHER_MAX_TAPS];
    int n = lq_dither_shaping_used(shaping, rate, NULL, h);
    double w = 2.0 * 3.14159265358979323846 * freq_hz / rate, re = 1.0, im = 0.0;
    for (int k = 0; k < n; k++) {
        re -= h[k] * cos(w * (k + 1));
        im += h[k] * sin(w * (k + 1));
    }
    return re * re + im * im;
}

double lq_dither_weight_power(int weighting, double f)
{
    if (f <= 0.0) return 0.0;
    if (weighting == LQ_WEIGHT_A) {
        /* IEC 61672-1:2013 Annex E, R_A(f); squared for power. */
        double f2 = f * f;
        double r = 12194.0 * 12194.0 * f2 * f2 /
                   ((f2 + 20.6 * 20.6) *
                    sqrt((f2 + 107.7 * 107.7) * (f2 + 737.9 * 737.9)) *
                    (f2 + 12194.0 * 12194.0));
        return r * r;
    }
    /* Absolute threshold of hearing, E. Terhardt, "Calculating virtual pitch", Hearing
     * Research 1, 1979 (as used in Painter & Spanias, Proc. IEEE 88(4), 2000):
     * T(f) = 3.64 k^-0.8 - 6.5 exp(-0.6 (k - 3.3)^2) + 1e-3 k^4 dB SPL, k = f/1 kHz.
     * Weight = 10^(-T/10): noise counts as much as it is audible near threshold. */
    double k = f / 1000.0;
    double t = 3.64 * pow(k, -0.8) - 6.5 * exp(-0.6 * (k - 3.3) * (k - 3.3)) +
               1e-3 * k * k * k * k;
    return pow(10.0, -t / 10.0);
}

double lq_dither_weighted_gain_db(int shaping, double rate, int weighting)
{
    const double f0 = 20.0, f1 = fmin(20000.0, rate / 2.0);
    const int steps = 40000;
    double num = 0.0, den = 0.0;
    for (int i = 0; i < steps; i++) {
        double f = f0 + (f1 - f0) * (i + 0.5) / steps;
        double w = lq_dither_weight_power(weighting, f);
        num += w * lq_dither_ntf_power(shaping, rate, f);
        den += w;
    }
    return 10.0 * log10(num / den);
}

/* ---- seed and generator ---- */

static uint64_t splitmix64_next(uint64_t *x)
{
    /* Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
     * OOPSLA 2014 (constants as published by Vigna). */
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t lq_dither_seed(const char *input_identity, const char *target_name)
{
    /* FNV-1a 64-bit (Fowler, Noll, Vo; IETF draft-eastlake-fnv). */
    uint64_t h = 0xCBF29CE484222325ull;
    const uint64_t prime = 0x100000001B3ull;
    for (const unsigned char *p = (const unsigned char *)(input_identity ? input_identity
                                                                         : "");
         *p; p++)
        h = (h ^ *p) * prime;
    h = (h ^ 0xFFu) * prime;
    for (const unsigned char *p = (const unsigned char *)(target_name ? target_name : "");
         *p; p++)
        h = (h ^ *p) * prime;
    return splitmix64_next(&h);
}

typedef struct rng {
    uint64_t s[4];
} rng;

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman & Vigna 2021). */
static inline uint64_t rng_next(rng *r)
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

/* ---- the stage ---- */

#define MAX_CH 2

/* Auto-blank: digital silence is a run of at least BLANK_RUN exact zeros in a channel.
 * Deciding needs to see the run's end or its BLANK_RUN-th zero, so with auto_blank the
 * stage delays its output by BLANK_RUN frames (reported as latency).  Isolated zeros
 * inside music are dithered like any other sample: zeroing them would punch holes into
 * noise-shaped dither (each hole removes a sample of the shaped noise, i.e. adds white
 * noise that fills the shaping's dip; tests/test_dither.c checks this). */
#define BLANK_RUN 64

typedef struct dither_chan {
    rng r;
    double hist[2 * LQ_DITHER_MAX_TAPS]; /* e[n-1..n-N] mirrored: hist[pos+k] */
    int pos;
    int head;                     /* delay line: oldest entry, next to go out */
    long zrun;                    /* exact zeros ending at the newest input (capped) */
    double dx[BLANK_RUN];         /* delayed input */
    unsigned char db[BLANK_RUN];  /* 1: that delayed sample is part of digital silence */
} dither_chan;

typedef struct dither_state {
    lq_dither_config cfg;
    uint64_t seed;
    int channels;
    int bits;        /* 0: pass-through */
    int used_shaping;
    int ntaps;
    double h[LQ_DITHER_MAX_TAPS];
    double scale;    /* 2^(bits-1) */
    double inv_scale;
    dither_chan ch[MAX_CH];
    long long clipped;
    long long blanked;
    double max_added; /* largest |y - x| seen, in LSB */
} dither_state;

static void dither_default(void *cfg)
{
    lq_dither_config *c = cfg;
    c->type = LQ_DITHER_TPDF;
    c->shaping = LQ_SHAPE_NONE;
    c->auto_blank = 1;
}

static lq_error dither_parse(void *cfg, const lq_node *map, lq_diag *d)
{
    static const char *const keys[] = {"type", "shaping", "auto_blank", NULL};
    lq_dither_config *c = cfg;
    lq_error e = lq_cfg_expect_map(map, keys, "dither stage", d);
    if (e) return e;
    if ((e = lq_cfg_enum(map, "type", type_names, &c->type, d))) return e;
    if ((e = lq_cfg_enum(map, "shaping", shaping_names, &c->shaping, d))) return e;
    return lq_cfg_bool(map, "auto_blank", &c->auto_blank, d);
}

double lq_dither_peak_headroom(const lq_dither_config *c, int out_bits)
{
    if (out_bits <= 0) return 0.0;
    double emax = c->type == LQ_DITHER_TPDF ? 1.5 : c->type == LQ_DITHER_RPDF ? 1.0 : 0.5;
    const double *h;
    int n = design_taps(c->shaping, &h);
    double sum = 1.0;
    for (int k = 0; k < n; k++) sum += fabs(h[k]);
    return emax * sum / ldexp(1.0, out_bits - 1);
}

long long lq_dither_clipped(const void *state)
{
    return ((const dither_state *)state)->clipped;
}

static void dither_reset(void *state)
{
    dither_state *s = state;
    uint64_t sm = s->seed;
    for (int c = 0; c < MAX_CH; c++) {
        dither_chan *ch = &s->ch[c];
        /* One splitmix64 stream seeds both channels' states one after the other, so
         * the two xoshiro states differ and their streams are independent. */
        for (int i = 0; i < 4; i++) ch->r.s[i] = splitmix64_next(&sm);
        if (!(ch->r.s[0] | ch->r.s[1] | ch->r.s[2] | ch->r.s[3])) ch->r.s[0] = 1;
        memset(ch->hist, 0, sizeof ch->hist);
        ch->pos = 0;
        ch->head = 0;
        ch->zrun = 0;
        memset(ch->dx, 0, sizeof ch->dx);
        memset(ch->db, 2, sizeof ch->db); /* 2: the initial delay-line fill, output as
                                             zeros and cut by the engine's latency
                                             compensation; not counted */
    }
    s->clipped = 0;
    s->blanked = 0;
    s->max_added = 0.0;
}

static lq_error dither_create(void **state, const void *cfg, const lq_stage_env *env,
                              lq_diag *d)
{
    const lq_dither_config *c = cfg;
    if (c->type < LQ_DITHER_NONE || c->type > LQ_DITHER_TPDF || c->shaping < 0 ||
        c->shaping >= LQ_SHAPE_COUNT)
        return lq_diag_set(d, LQ_ERR_ARG, "dither: invalid type or shaping");
    if (env->channels < 1 || env->channels > MAX_CH)
        return lq_diag_set(d, LQ_ERR_ARG, "dither: %d channels (1 or 2 supported)",
                           env->channels);
    if (env->out_bits != 0 && (env->out_bits < 8 || env->out_bits > 32))
        return lq_diag_set(d, LQ_ERR_ARG,
                           "dither: output word length %d bits (8..32, or 0 for float)",
                           env->out_bits);
    if (!(env->sample_rate > 0.0))
        return lq_diag_set(d, LQ_ERR_ARG, "dither: invalid sample rate");
    dither_state *s = calloc(1, sizeof *s);
    if (!s) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    s->cfg = *c;
    s->seed = env->seed;
    s->channels = env->channels;
    s->bits = env->out_bits;
    s->ntaps = lq_dither_shaping_used(c->shaping, env->sample_rate, &s->used_shaping, s->h);
    s->scale = s->bits ? ldexp(1.0, s->bits - 1) : 1.0;
    s->inv_scale = 1.0 / s->scale;
    dither_reset(s);
    *state = s;
    return LQ_OK;
}

static size_t dither_latency(const void *state)
{
    const dither_state *s = state;
    return s->bits && s->cfg.auto_blank ? BLANK_RUN : 0;
}

static void dither_process(void *state, double *const *buf, size_t n)
{
    dither_state *s = state;
    if (!s->bits) return;
    const int type = s->cfg.type, blank = s->cfg.auto_blank, nt = s->ntaps;
    const double scale = s->scale, inv = s->inv_scale;
    const double lo = -scale, hi = scale - 1.0;
    const double u32 = 1.0 / 4294967296.0, u53 = 1.0 / 9007199254740992.0;
    double h[LQ_DITHER_MAX_TAPS];
    for (int k = 0; k < nt; k++) h[k] = s->h[k];
    long long clipped = 0, blanked = 0;
    double max_added = s->max_added;
    for (int c = 0; c < s->channels; c++) {
        dither_chan *ch = &s->ch[c];
        rng r = ch->r;
        int pos = ch->pos, head = ch->head;
        long zrun = ch->zrun;
        double hist[2 * LQ_DITHER_MAX_TAPS];
        memcpy(hist, ch->hist, sizeof hist);
        double *x = buf[c];
        for (size_t i = 0; i < n; i++) {
            double xin = x[i];
            int silent = 0;
            if (blank) {
                /* through the delay line; classify the newest sample's run */
                double old = ch->dx[head];
                silent = ch->db[head];
                ch->dx[head] = xin;
                ch->db[head] = 0;
                if (xin == 0.0) {
                    zrun++;
                    if (zrun == BLANK_RUN) {
                        memset(ch->db, 1, sizeof ch->db); /* the whole run so far */
                    } else if (zrun > BLANK_RUN) {
                        ch->db[head] = 1;
                        zrun = BLANK_RUN + 1;
                    }
                } else {
                    zrun = 0;
                }
                head = head + 1 == BLANK_RUN ? 0 : head + 1;
                xin = old;
            }
            double e = 0.0, y = 0.0;
            if (silent) {
                blanked += silent == 1; /* digital silence stays digital silence; e = 0 */
            } else {
                double xs = xin * scale, fb = 0.0;
                for (int k = 0; k < nt; k++) fb += h[k] * hist[pos + k];
                double v = xs - fb, dv = 0.0;
                if (type == LQ_DITHER_TPDF) {
                    uint64_t b = rng_next(&r);
                    dv = ((double)(b >> 32) - (double)(b & 0xFFFFFFFFu)) * u32;
                } else if (type == LQ_DITHER_RPDF) {
                    dv = (double)(rng_next(&r) >> 11) * u53 - 0.5;
                }
                double w = floor(v + dv + 0.5);
                e = w - v;
                if (!(e < 4.0 && e > -4.0)) e = 0.0; /* non-finite input: keep the loop sane */
                if (w > hi) {
                    w = hi;
                    clipped++;
                } else if (w < lo) {
                    w = lo;
                    clipped++;
                }
                double added = fabs(w - xs);
                if (added > max_added) max_added = added;
                y = w * inv;
            }
            x[i] = y;
            if (nt) {
                /* push e as e[n-1]: the ring is read at hist[pos .. pos+nt) */
                pos = pos == 0 ? nt - 1 : pos - 1;
                hist[pos] = e;
                hist[pos + nt] = e;
            }
        }
        memcpy(ch->hist, hist, sizeof hist);
        ch->r = r;
        ch->pos = pos;
        ch->head = head;
        ch->zrun = zrun;
    }
    s->clipped += clipped;
    s->blanked += blanked;
    s->max_added = max_added;
}

static void dither_report(const void *state, json_t *obj)
{
    const dither_state *s = state;
    json_object_set_new(obj, "out_bits", json_integer(s->bits));
    json_object_set_new(obj, "type", json_string(type_names[s->cfg.type]));
    json_object_set_new(obj, "shaping", json_string(shaping_names[s->cfg.shaping]));
    json_object_set_new(obj, "shaping_used", json_string(shaping_names[s->used_shaping]));
    json_object_set_new(obj, "auto_blank", json_boolean(s->cfg.auto_blank));
    json_object_set_new(obj, "blanked_samples", json_integer(s->blanked));
    json_object_set_new(obj, "clipped_samples", json_integer(s->clipped));
    json_object_set_new(obj, "max_added_lsb", json_real(s->max_added));
}

static void dither_destroy(void *state)
{
    free(state);
}

const lq_stage_vt lq_stage_dither = {
    .name = "dither",
    .config_size = sizeof(lq_dither_config),
    .config_default = dither_default,
    .config_parse = dither_parse,
    .config_free = NULL,
    .config_is_identity = NULL,
    .create = dither_create,
    .latency = dither_latency,
    .process = dither_process,
    .reset = dither_reset,
    .report = dither_report,
    .destroy = dither_destroy,
};
