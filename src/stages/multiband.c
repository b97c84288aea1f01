/* multiband: a 2..6 band compressor on linear-phase crossovers.
 *
 *   - multiband: {crossovers_hz: [120, 800, 5000], link: 1.0, length_ms: auto,
 *                 bands: [{threshold_db: -18, ratio: 2.0, knee_db: 6, attack_ms: 30,
 *                          release_ms: 250, makeup_db: 0}, ...]}
 *
 * Crossovers.  For each crossover f_k a linear-phase low-pass LP_k is designed with the
 * shared FIR designer (dsp/fir.h: frequency sampling + Kaiser window) from a
 * raised-cosine transition one octave wide on a log-frequency axis, centred on f_k
 * (amplitude 1/2, -6 dB, at f_k, like a Linkwitz-Riley crossover).  Band k is the
 * difference of neighbouring low-passes, LP_{k+1} - LP_k, with LP_0 = 0 and the top band
 * taken as "delayed input minus the sum of the other bands" in the time domain, so the
 * bands add up to the delayed input by construction (up to one rounding: the null with
 * the compressor idle is near -300 dB).  All the band filters read one FFT of the input
 * per hop (dsp/conv.h bank: one r2c, one c2r per band below the top).  The default
 * length is 8 periods of the lowest crossover (8000 / f ms; 66.7 ms for 120 Hz), which
 * puts the response one octave beyond each crossover more than 60 dB down (at least
 * 48 dB/oct equivalent); the tap count scales with the sample rate (lq_fir_taps).
 *
 * Per band: a feed-forward compressor (dsp/compressor.h, after Giannoulis, Massberg and
 * Reiss, JAES 2012) with threshold, ratio (1..inf), soft knee, attack, release, makeup,
 * peak or RMS detector, stereo link, and L/R or mid/side processing; bypass and solo.
 * The peak detector holds the peak for 1.5 periods of the band's lowest frequency
 * (30 Hz for the lowest band), at least 5 ms and at most 50 ms (up to 1.5 times that,
 * see compressor.h), so a steady tone is measured by its peak, not by its
 * instantaneous value.
 *
 * Report: per band max and mean gain reduction (dB, the larger of the two channels',
 * over the input's duration: the first `latency` output frames are not counted) and the
 * gain-reduction envelope (max per interval, bounded memory: when the fixed buffer
 * fills, neighbouring points are merged and the interval doubles). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/compressor.h"
#include "dsp/conv.h"
#include "dsp/fir.h"
#include "stage.h"

#define MB_MAX_BANDS 6
#define MB_MAX_CROSS (MB_MAX_BANDS - 1)
#define MB_CHUNK 1024      /* frames processed at a time (bounds the scratch memory) */
#define MB_ENV_CAP 2048    /* gain-reduction envelope points kept */
#define MB_ENV_START_S 0.01 /* envelope interval before any merging */
#define MB_LEN_PERIODS 8.0 /* default FIR length in periods of the lowest crossover */
#define MB_XO_OCTAVES 1.0  /* width of the crossover transition */

enum { MB_STEREO = 0, MB_MID_SIDE = 1 };

typedef struct mb_band_cfg {
    double threshold_db, ratio, knee_db, attack_ms, release_ms, makeup_db, rms_ms;
    double link;  /* < 0: the stage's link */
    int detector; /* lq_comp_detector */
    int mode;     /* MB_STEREO, MB_MID_SIDE */
    int bypass, solo;
} mb_band_cfg;

typedef struct mb_config {
    int n_cross;
    double crossovers_hz[MB_MAX_CROSS];
    double link;
    double length_ms;  /* 0: automatic */
    mb_band_cfg band[MB_MAX_BANDS];
} mb_config;

typedef struct mb_stats {
    double max_gr, sum_gr;
    unsigned long long count;
    double *env;         /* MB_ENV_CAP points, dB */
    size_t env_len;
    unsigned long long env_interval, env_fill;  /* frames per point; frames in the open point */
    double env_acc;
} mb_stats;

typedef struct mb_state {
    mb_config cfg;
    int nch, nb;
    double fs;
    size_t ntaps, conv_lat, latency;
    lq_conv *conv[2];
    double *ring[2];       /* delay of conv_lat + (ntaps-1)/2 frames: the delayed input */
    size_t ring_len, ring_pos;
    double *band[2][MB_MAX_BANDS]; /* MB_CHUNK each */
    double *gain[2];       /* MB_CHUNK each */
    double *gr;            /* MB_CHUNK */
    lq_comp *comp[MB_MAX_BANDS];
    int any_solo;
    unsigned long long frames_out;
    size_t stats_skip; /* own latency + the upstream stages': frames before the input */
    mb_stats st[MB_MAX_BANDS];
} mb_state;

/* ---- config ------------------------------------------------------------------- */

static void mb_band_default(mb_band_cfg *b)
{
    b->threshold_db = -20.0;
    b->ratio = 2.0;
    b->knee_db = 6.0;
    b->attack_ms = 10.0;
    b->release_ms = 150.0;
    b->makeup_db = 0.0;
    b->rms_ms = 20.0;
    b->link = -1.0;
    b->detector = LQ_COMP_PEAK;
    b->mode = MB_STEREO;
    b->bypass = 0;
    b->solo = 0;
}

static void mb_default(void *cfg)
{
    mb_config *c = cfg;
    c->n_cross = 3;
    c->crossovers_hz[0] = 120.0;
    c->crossovers_hz[1] = 800.0;
    c->crossovers_hz[2] = 5000.0;
    c->link = 1.0;
    c->length_ms = 0.0;
    for (int k = 0; k < MB_MAX_BANDS; k++) mb_band_default(&c->band[k]);
}

static int is_inf_word(const lq_node *n)
{
    static const char *const words[] = {"inf", ".inf", "Inf", ".Inf", "INF", ".INF", NULL};
    if (!n || n->type != LQ_NODE_SCALAR || !n->plain || !n->value) return 0;
    for (int i = 0; words[i]; i++)
        if (strcmp(n->value, words[i]) == 0) return 1;
    return 0;
}

static lq_error mb_parse_band(mb_band_cfg *b, const lq_node *map, lq_diag *d)
{
    static const char *const keys[] = {"threshold_db", "ratio", "knee_db", "attack_ms",
                                       "release_ms", "makeup_db", "detector", "rms_ms",
                                       "mode", "link", "bypass", "solo", NULL};
    static const char *const detectors[] = {"peak", "rms", NULL};
    static const char *const modes[] = {"stereo", "mid_side", NULL};
    lq_error e = lq_cfg_expect_map(map, keys, "multiband band", d);
    if (e) return e;
    if (!lq_node_get(map, "threshold_db"))
        return lq_cfg_missing(d, map, "threshold_db", "a number of dB, -80..0");
    if (!lq_node_get(map, "ratio"))
        return lq_cfg_missing(d, map, "ratio", "a number 1..1000, or inf");
    if ((e = lq_cfg_number(map, "threshold_db", -80.0, 0.0, "dB", &b->threshold_db, d)))
        return e;
    if (is_inf_word(lq_node_get(map, "ratio")))
        b->ratio = INFINITY;
    else if ((e = lq_cfg_number(map, "ratio", 1.0, 1000.0, "ratio (or inf)", &b->ratio, d)))
        return e;
    if ((e = lq_cfg_number(map, "knee_db", 0.0, 24.0, "dB", &b->knee_db, d))) return e;
    if ((e = lq_cfg_number(map, "attack_ms", 0.1, 500.0, "milliseconds", &b->attack_ms, d)))
        return e;
    if ((e = lq_cfg_number(map, "release_ms", 1.0, 5000.0, "milliseconds", &b->release_ms,
                           d)))
        return e;
    if ((e = lq_cfg_number(map, "makeup_db", -24.0, 24.0, "dB", &b->makeup_db, d))) return e;
    if ((e = lq_cfg_enum(map, "detector", detectors, &b->detector, d))) return e;
    if ((e = lq_cfg_number(map, "rms_ms", 1.0, 1000.0, "milliseconds", &b->rms_ms, d)))
        return e;
    if ((e = lq_cfg_enum(map, "mode", modes, &b->mode, d))) return e;
    if ((e = lq_cfg_number(map, "link", 0.0, 1.0, "stereo link", &b->link, d))) return e;
    if ((e = lq_cfg_bool(map, "bypass", &b->bypass, d))) return e;
    return lq_cfg_bool(map, "solo", &b->solo, d);
}

static lq_error mb_parse(void *cfg, const lq_node *map, lq_diag *d)
{
    static const char *const keys[] = {"crossovers_hz", "link", "length_ms", "bands", NULL};
    mb_config *c = cfg;
    lq_error e = lq_cfg_expect_map(map, keys, "multiband stage", d);
    if (e) return e;
    /* crossovers_hz and bands may both be left out (the defaults: 120/800/5000 Hz and
     * four default bands); crossovers_hz given needs its bands. */
    const lq_node *xo = lq_node_get(map, "crossovers_hz");
    if (xo && (e = lq_cfg_expect_seq(xo, 1, MB_MAX_CROSS, "crossovers_hz", d))) return e;
    if (xo) c->n_cross = (int)xo->count;
    for (size_t k = 0; xo && k < xo->count; k++) {
        if ((e = lq_cfg_node_number(xo->items[k], 20.0, 20000.0, "Hz", &c->crossovers_hz[k],
                                    d)))
            return e;
        if (k > 0 && !(c->crossovers_hz[k] > c->crossovers_hz[k - 1]))
            return lq_cfg_error(d, xo->items[k], "crossover not above the previous one "
                                "(expected increasing frequencies)");
    }
    if ((e = lq_cfg_number(map, "link", 0.0, 1.0, "stereo link", &c->link, d))) return e;
    const lq_node *len = lq_node_get(map, "length_ms");
    if (len && len->type == LQ_NODE_SCALAR && len->plain && len->value &&
        strcmp(len->value, "auto") == 0)
        c->length_ms = 0.0;
    else if ((e = lq_cfg_number(map, "length_ms", 5.0, 2000.0, "milliseconds (or auto)",
                                &c->length_ms, d)))
        return e;
    const lq_node *bands = lq_node_get(map, "bands");
    if (!bands && !xo) return LQ_OK;
    if (!bands)
        return lq_cfg_missing(d, map, "bands", "one band map per band, low to high");
    if ((e = lq_cfg_expect_seq(bands, 2, MB_MAX_BANDS, "bands", d))) return e;
    if (bands->count != (size_t)c->n_cross + 1)
        return lq_cfg_error(d, bands,
                            "%zu bands for %d crossovers%s (expected %d bands, one more than "
                            "crossovers_hz)", bands->count, c->n_cross,
                            xo ? "" : " (the default 120, 800, 5000 Hz)", c->n_cross + 1);
    for (size_t k = 0; k < bands->count; k++)
        if ((e = mb_parse_band(&c->band[k], bands->items[k], d))) return e;
    return LQ_OK;
}

static int band_active(const mb_band_cfg *b)
{
    return !b->bypass && (b->ratio != 1.0 || b->makeup_db != 0.0);
}

static int mb_is_identity(const void *cfg)
{
    const mb_config *c = cfg;
    for (int k = 0; k <= c->n_cross; k++)
        if (band_active(&c->band[k]) || c->band[k].solo) return 0;
    return 1;
}

/* ---- crossover design ---------------------------------------------------------- */

typedef struct mb_lp {
    double fc;
} mb_lp;

/* Low-pass amplitude: 1 below fc 2^-w/2, 0 above fc 2^w/2, and between them a
 * raised-cosine (half a period of a sine) in log2(f), 1/2 at fc. */
static double mb_lp_amp(double f, void *user)
{
    const double fc = ((const mb_lp *)user)->fc;
    if (f <= 0.0) return 1.0;
    const double o = log2(f / fc) / MB_XO_OCTAVES;
    if (o <= -0.5) return 1.0;
    if (o >= 0.5) return 0.0;
    return 0.5 - 0.5 * sin(3.14159265358979323846 * o);
}

/* ---- stage ------------------------------------------------------------------- */

static void mb_destroy(void *state)
{
    mb_state *s = state;
    if (!s) return;
    for (int c = 0; c < 2; c++) {
        lq_conv_destroy(&s->conv[c]);
        free(s->ring[c]);
        for (int k = 0; k < MB_MAX_BANDS; k++) free(s->band[c][k]);
        free(s->gain[c]);
    }
    free(s->gr);
    for (int k = 0; k < MB_MAX_BANDS; k++) {
        lq_comp_destroy(&s->comp[k]);
        free(s->st[k].env);
    }
    free(s);
}

static void mb_reset(void *state)
{
    mb_state *s = state;
    for (int c = 0; c < s->nch; c++) {
        lq_conv_reset(s->conv[c]);
        memset(s->ring[c], 0, s->ring_len * sizeof(double));
    }
    s->ring_pos = 0;
    s->frames_out = 0;
    for (int k = 0; k < s->nb; k++) {
        if (s->comp[k]) lq_comp_reset(s->comp[k]);
        mb_stats *t = &s->st[k];
        t->max_gr = t->sum_gr = 0.0;
        t->count = 0;
        t->env_len = 0;
        t->env_interval = (unsigned long long)floor(MB_ENV_START_S * s->fs + 0.5);
        if (t->env_interval < 1) t->env_interval = 1;
        t->env_fill = 0;
        t->env_acc = 0.0;
    }
}

static size_t mb_auto_taps(double lowest_hz, double rate)
{
    return lq_fir_taps(MB_LEN_PERIODS * 1000.0 / lowest_hz, rate);
}

static lq_error mb_create(void **state, const void *cfgv, const lq_stage_env *env,
                          lq_diag *d)
{
    const mb_config *cfg = cfgv;
    *state = NULL;
    if (env->channels < 1 || env->channels > 2 || !(env->sample_rate > 0.0))
        return lq_diag_set(d, LQ_ERR_ARG, "multiband: 1 or 2 channels and a positive rate");
    for (int k = 0; k < cfg->n_cross; k++)
        if (cfg->crossovers_hz[k] >= 0.45 * env->sample_rate)
            return lq_diag_set(d, LQ_ERR_ARG,
                               "multiband: crossover %g Hz is too close to the Nyquist "
                               "frequency at %g Hz (expected below %g Hz)",
                               cfg->crossovers_hz[k], env->sample_rate,
                               0.45 * env->sample_rate);
    mb_state *s = calloc(1, sizeof *s);
    if (!s) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    double **lp = NULL;
    lq_error e = LQ_OK;
    s->cfg = *cfg;
    s->nch = env->channels;
    s->nb = cfg->n_cross + 1;
    s->fs = env->sample_rate;
    s->ntaps = cfg->length_ms > 0.0 ? lq_fir_taps(cfg->length_ms, s->fs)
                                    : mb_auto_taps(cfg->crossovers_hz[0], s->fs);
    const size_t nt = s->ntaps, ncx = (size_t)cfg->n_cross;

    /* low-passes, then band filters LP_{k+1} - LP_k for the bands below the top */
    lp = calloc(ncx, sizeof *lp);
    if (!lp) goto nomem;
    for (size_t k = 0; k < ncx; k++) {
        lp[k] = malloc(nt * sizeof(double));
        if (!lp[k]) goto nomem;
        mb_lp u = {cfg->crossovers_hz[k]};
        if ((e = lq_fir_design(lp[k], nt, s->fs, mb_lp_amp, &u, d))) goto fail;
    }
    for (size_t k = ncx - 1; k >= 1; k--)
        for (size_t i = 0; i < nt; i++) lp[k][i] -= lp[k - 1][i];
    for (int c = 0; c < s->nch; c++)
        if ((e = lq_conv_new_bank(&s->conv[c], (const double *const *)lp, ncx, nt, MB_CHUNK,
                                  d)))
            goto fail;
    s->conv_lat = lq_conv_latency(s->conv[0]);
    s->ring_len = s->conv_lat + lq_fir_delay(nt);
    s->latency = s->ring_len;
    s->stats_skip = s->latency + env->upstream_latency;
    for (int c = 0; c < s->nch; c++) {
        s->ring[c] = calloc(s->ring_len, sizeof(double));
        s->gain[c] = malloc(MB_CHUNK * sizeof(double));
        if (!s->ring[c] || !s->gain[c]) goto nomem;
        for (int k = 0; k < s->nb; k++)
            if (!(s->band[c][k] = malloc(MB_CHUNK * sizeof(double)))) goto nomem;
    }
    if (!(s->gr = malloc(MB_CHUNK * sizeof(double)))) goto nomem;

    for (int k = 0; k < s->nb; k++) {
        const mb_band_cfg *b = &cfg->band[k];
        if (b->solo) s->any_solo = 1;
        if (!(s->st[k].env = malloc(MB_ENV_CAP * sizeof(double)))) goto nomem;
        if (!band_active(b)) continue;
        const double flo = k == 0 ? 30.0 : cfg->crossovers_hz[k - 1];
        double hold = 1500.0 / flo;
        if (hold < 5.0) hold = 5.0;
        if (hold > 50.0) hold = 50.0;
        lq_comp_params p = {.threshold_db = b->threshold_db, .ratio = b->ratio,
                            .knee_db = b->knee_db, .attack_ms = b->attack_ms,
                            .release_ms = b->release_ms, .makeup_db = b->makeup_db,
                            .detector = (lq_comp_detector)b->detector, .rms_ms = b->rms_ms,
                            .hold_ms = hold};
        const double link = b->link >= 0.0 ? b->link : cfg->link;
        e = lq_comp_new(&s->comp[k], &p, s->fs, s->nch, link);
        if (e == LQ_ERR_NOMEM) goto nomem;
        if (e) {
            lq_diag_set(d, e, "multiband: band %d: invalid compressor settings", k + 1);
            goto fail;
        }
    }
    for (size_t k = 0; k < ncx; k++) free(lp[k]);
    free(lp);
    mb_reset(s);
    *state = s;
    return LQ_OK;
nomem:
    e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
fail:
    if (lp) {
        for (size_t k = 0; k < ncx; k++) free(lp[k]);
        free(lp);
    }
    mb_destroy(s);
    return e;
}

static size_t mb_latency(const void *state)
{
    return ((const mb_state *)state)->latency;
}

static void mb_stats_push(mb_stats *t, const double *gr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double v = gr[i];
        if (v > t->max_gr) t->max_gr = v;
        t->sum_gr += v;
        t->count++;
        if (v > t->env_acc) t->env_acc = v;
        if (++t->env_fill == t->env_interval) {
            if (t->env_len == MB_ENV_CAP) {  /* merge pairs, double the interval */
                for (size_t j = 0; j < MB_ENV_CAP / 2; j++)
                    t->env[j] = t->env[2 * j] > t->env[2 * j + 1] ? t->env[2 * j]
                                                                  : t->env[2 * j + 1];
                t->env_len = MB_ENV_CAP / 2;
                t->env_interval *= 2;
                /* the open point now spans half the new interval: keep filling it */
                continue;
            }
            t->env[t->env_len++] = t->env_acc;
            t->env_acc = 0.0;
            t->env_fill = 0;
        }
    }
}

static void mb_chunk(mb_state *s, double *const *buf, size_t off, size_t n)
{
    const int nch = s->nch, nb = s->nb;
    /* bands below the top from one FFT per hop per channel */
    for (int c = 0; c < nch; c++) {
        lq_conv_process_bank(s->conv[c], buf[c] + off, s->band[c], n);
        /* top band = delayed input - the sum of the others */
        double *top = s->band[c][nb - 1], *ring = s->ring[c];
        size_t pos = s->ring_pos;
        for (size_t i = 0; i < n; i++) {
            const double xd = ring[pos];
            ring[pos] = buf[c][off + i];
            if (++pos == s->ring_len) pos = 0;
            double sum = 0.0;
            for (int k = 0; k < nb - 1; k++) sum += s->band[c][k][i];
            top[i] = xd - sum;
        }
    }
    s->ring_pos = (s->ring_pos + n) % s->ring_len;

    /* frames of this chunk that belong to the input (after the latency) */
    size_t skip = 0;
    if (s->frames_out < s->stats_skip) {
        const unsigned long long left = s->stats_skip - s->frames_out;
        skip = left < n ? (size_t)left : n;
    }
    s->frames_out += n;

    for (int k = 0; k < nb; k++) {
        const mb_band_cfg *b = &s->cfg.band[k];
        lq_comp *comp = s->comp[k];
        if (!comp) {
            for (size_t i = 0; i < n; i++) s->gr[i] = 0.0;
            mb_stats_push(&s->st[k], s->gr + skip, n - skip);
            continue;
        }
        double *x0 = s->band[0][k], *x1 = nch == 2 ? s->band[1][k] : NULL;
        const int ms = nch == 2 && b->mode == MB_MID_SIDE;
        if (ms)
            for (size_t i = 0; i < n; i++) {
                const double m = 0.5 * (x0[i] + x1[i]), sd = 0.5 * (x0[i] - x1[i]);
                x0[i] = m;
                x1[i] = sd;
            }
        const double *xin[2] = {x0, x1};
        lq_comp_run(comp, xin, s->gain, s->gr, n);
        for (size_t i = 0; i < n; i++) x0[i] *= s->gain[0][i];
        if (nch == 2)
            for (size_t i = 0; i < n; i++) x1[i] *= s->gain[1][i];
        if (ms)
            for (size_t i = 0; i < n; i++) {
                const double l = x0[i] + x1[i], r = x0[i] - x1[i];
                x0[i] = l;
                x1[i] = r;
            }
        mb_stats_push(&s->st[k], s->gr + skip, n - skip);
    }

    /* output: the sum of the bands (only the soloed ones when any is soloed) */
    for (int c = 0; c < nch; c++) {
        double *o = buf[c] + off;
        for (size_t i = 0; i < n; i++) {
            double sum = 0.0;
            for (int k = 0; k < nb; k++)
                if (!s->any_solo || s->cfg.band[k].solo) sum += s->band[c][k][i];
            o[i] = sum;
        }
    }
}

static void mb_process(void *state, double *const *buf, size_t n)
{
    mb_state *s = state;
    for (size_t off = 0; off < n; off += MB_CHUNK) {
        const size_t m = n - off < MB_CHUNK ? n - off : MB_CHUNK;
        mb_chunk(s, buf, off, m);
    }
}

static void mb_report(const void *state, json_t *obj)
{
    const mb_state *s = state;
    json_t *xo = json_array(), *bands = json_array();
    if (!xo || !bands) {
        json_decref(xo);
        json_decref(bands);
        return;
    }
    for (int k = 0; k < s->cfg.n_cross; k++)
        json_array_append_new(xo, json_real(s->cfg.crossovers_hz[k]));
    json_object_set_new(obj, "crossovers_hz", xo);
    json_object_set_new(obj, "fir_taps", json_integer((json_int_t)s->ntaps));
    json_object_set_new(obj, "latency_frames", json_integer((json_int_t)s->latency));
    for (int k = 0; k < s->nb; k++) {
        const mb_stats *t = &s->st[k];
        json_t *b = json_object(), *env = json_array();
        if (!b || !env) {
            json_decref(b);
            json_decref(env);
            break;
        }
        json_object_set_new(b, "low_hz", json_real(k == 0 ? 0.0 : s->cfg.crossovers_hz[k - 1]));
        json_object_set_new(b, "high_hz", k == s->nb - 1 ? json_real(s->fs / 2.0)
                                                         : json_real(s->cfg.crossovers_hz[k]));
        json_object_set_new(b, "max_gr_db", json_real(t->max_gr));
        json_object_set_new(b, "mean_gr_db",
                            json_real(t->count ? t->sum_gr / (double)t->count : 0.0));
        for (size_t i = 0; i < t->env_len; i++) json_array_append_new(env, json_real(t->env[i]));
        if (t->env_fill > 0) json_array_append_new(env, json_real(t->env_acc));
        json_object_set_new(b, "gr_envelope_interval_s",
                            json_real((double)t->env_interval / s->fs));
        json_object_set_new(b, "gr_envelope_db", env);
        json_array_append_new(bands, b);
    }
    json_object_set_new(obj, "bands", bands);
}

const lq_stage_vt lq_stage_multiband = {
    .name = "multiband",
    .config_size = sizeof(mb_config),
    .config_default = mb_default,
    .config_parse = mb_parse,
    .config_free = NULL,
    .config_is_identity = mb_is_identity,
    .create = mb_create,
    .latency = mb_latency,
    .process = mb_process,
    .reset = mb_reset,
    .report = mb_report,
    .destroy = mb_destroy,
};
