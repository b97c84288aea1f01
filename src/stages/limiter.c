/* limiter: a true-peak lookahead limiter (finishing chain, `finish.limiter`).
 *
 *   finish: {limiter: {lookahead_ms: 2.0, release_ms: 80, oversample: 8, link: 1.0}}
 *
 * Signal flow per input frame t (all per sample, so the output does not depend on
 * the block sizes):
 *
 * 1. Detector.  Each channel goes through the polyphase interpolator of
 *    dsp/oversample.h (factor 4/8/16; the audio itself is not oversampled), which
 *    gives an upper estimate d_c of the channel's true peak over the interval
 *    [t-Df, t-Df+1), Df = LQ_OS_DELAY = 32 samples (the interpolator's group delay).
 *    Required gain r_c = thr / d_c when d_c > thr, else exactly 1, where thr is the
 *    ceiling minus LQ_LIMITER_MARGIN_DB (0.05 dB; 0.1 dB at 4x).  The detector runs
 *    per chunk (lq_os_stream_detect): phases are computed only where a bound says the
 *    estimate could exceed thr; r is bit-identical to per-sample evaluation.
 * 2. Stereo link: r'_c = r_c^(1-link) * (min_c r_c)^link (interpolation in dB; never
 *    above r_c).  With link = 1 (or mono) one gain path serves every channel.
 * 3. Gain computer, per path, in exact integer arithmetic (q = floor(r' * 2^40)):
 *      m(k) = min of q over the last S+H values (sliding minimum, monotonic deque),
 *      v(k) = m(k) if m(k) <= v(k-1), else v(k-1) + trunc(alpha (m(k) - v(k-1)))
 *             (release: one-pole recovery with time constant release_ms, snapped to
 *             m(k) when within 1e-7, a -140 dB step), so v(k) <= m(k) always;
 *      a(k) = floor(mean of v over the last W1 values),
 *      g(t) = floor(mean of a over the last W2 values) * 2^-40,
 *    with S = lookahead in samples, W1 + W2 - 1 = S, H = LQ_LIMITER_HOLD.
 *    Claim: g(t) <= r'(j) for every j in [t-(S-1)-H, t-(S-1)].
 *    Proof: the two running means make g(t) a weighted mean, with non-negative weights
 *    summing to 1, of v(t-i) for i = 0..S-1 (a box of W1 convolved with a box of W2 has
 *    support W1+W2-1 = S); the floors only lower it.  Each v(t-i) <= m(t-i), the
 *    minimum of r' over [t-i-(S-1)-H, t-i], and that interval contains j for every i in
 *    0..S-1 when t-(S-1)-H <= j <= t-(S-1).  So every term is <= r'(j), and so is their
 *    mean.  QED
 *    The gain reaches the required reduction over S samples (a C1 piecewise-quadratic
 *    ramp, no step), holds it for H+1 samples around the peak, and the release is
 *    smoothed by the same two means (no fast corner even at release_ms = 1).
 *    Auto release scales the time constant by 0.5 .. 2 with the fraction of the last
 *    second spent limiting (short for isolated peaks, long under sustained limiting,
 *    where a fast release would distort).
 * 4. Output: y = g(t) * x[t - D], D = Df + (S-1) + H/2 (the reported latency), so the
 *    gain applied to sample n is <= the requirement of every detector interval
 *    starting in [n-H/2, n+H/2]: no overs by construction, up to the detector's error
 *    and the (slow) gain modulation, both covered by the margin and checked on the
 *    output by a separate 16x meter in tests/test_limiter.c.  When g is exactly 1,
 *    y equals the delayed input bit for bit (below the ceiling the stage is
 *    transparent: r = 1 exactly, the integer means return exactly to 2^40).
 *
 * Smoothness: g(t) - g(t-1) = sum_i (c_i - c_{i-1}) v(t-i) for the trapezoid kernel c,
 * whose rising and falling parts each sum to its height 1/max(W1, W2) = 1/W2, so
 * |g(t) - g(t-1)| <= (max v - min v) / W2 <= (1 - min g) / W2 (+ 2^-39 of rounding),
 * in attack and release alike: the test asserts max |g[n] - g[n-1]| against this.
 *
 * Design learned from x42-dpl (Robin Gareus, peaklim.cc: lookahead ring buffer,
 * oversampled detector, gain never above the requirement); the gain computer here is a
 * different one (exact sliding min + cascaded running means). */
#include "stages/limiter.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/divc.h"
#include "dsp/oversample.h"
#include "stage.h"

#define Q_ONE ((int64_t)1 << 40)
#define Q_SCALE (1.0 / 1099511627776.0) /* 2^-40 */
#define Q_SNAP ((int64_t)109951)          /* 1e-7 * 2^40: release snaps to its target */
#define ENV_CAP 8192                     /* envelope points kept (then halved) */
#define ENV_RATE 10.0                    /* envelope points per second */
#define LIMITING_GR_DB 0.01              /* "limiting" = at least this much GR */

typedef struct gain_path {
    /* sliding minimum over S+H values: monotonic deque in a ring of dq_cap */
    int64_t *dq_val;
    long long *dq_idx;
    size_t dq_head, dq_len;
    int64_t *ring1, *ring2; /* running means */
    size_t pos1, pos2;
    int64_t sum1, sum2;
    int64_t rel; /* released min-hold */
    double act;  /* auto release: fraction of the last second spent limiting */
} gain_path;

typedef struct limiter_state {
    lq_limiter_config cfg;
    int channels, npaths;
    double rate;
    lq_os_filter f;
    lq_os_stream det[2];
    double pk[2][LQ_OS_CHUNK]; /* detector output of the current chunk */
    double thr, skip;
    size_t S, W1, W2, H, win, D, dq_cap;
    lq_divc div1, div2;     /* by W1, W2 (core/divc.h: the running means' floors) */
    double *delay[2];
    size_t dmask;
    gain_path path[2];
    double alpha, act_beta, release_base;
    long long t;
    /* figures */
    /* no logarithm per sample: the sum of the gain reductions in dB is read off the
     * product of the gains (gr_prod * 2^gr_exp), a window's largest reduction off its
     * smallest gain */
    double min_g, gr_prod, lim_g;
    long long gr_exp, limiting_frames, counted_frames;
    float *env;             /* per window, the largest gain reduction (dB) */
    size_t env_len, env_win, env_pos;
    double env_cur;         /* the current window's smallest gain */
} limiter_state;

/* ---- config ------------------------------------------------------------------- */

static void limiter_default(void *cfg)
{
    lq_limiter_config *c = cfg;
    c->lookahead_ms = 2.0;
    c->release_ms = 80.0;
    c->auto_release = 0;
    c->oversample = 8;
    c->link = 1.0;
    c->push_warn_db = 6.0;
    c->ceiling_dbtp = -1.0;
}

static lq_error limiter_parse(void *cfg, const lq_node *map, lq_diag *d)
{
    static const char *const keys[] = {"lookahead_ms", "release_ms", "auto_release",
                                       "oversample",   "link",       "push_warn_db", NULL};
    lq_limiter_config *c = cfg;
    lq_error e = lq_cfg_expect_map(map, keys, "limiter stage", d);
    if (e) return e;
    if ((e = lq_cfg_number(map, "lookahead_ms", 0.5, 10.0, "milliseconds", &c->lookahead_ms,
                           d)))
        return e;
    if ((e = lq_cfg_number(map, "release_ms", 1.0, 1000.0, "milliseconds", &c->release_ms,
                           d)))
        return e;
    if ((e = lq_cfg_bool(map, "auto_release", &c->auto_release, d))) return e;
    long os = c->oversample;
    if ((e = lq_cfg_int(map, "oversample", 4, 16, &os, d))) return e;
    if (os != 4 && os != 8 && os != 16)
        return lq_cfg_error(d, lq_node_get(map, "oversample"),
                            "%ld is not an oversampling factor (expected 4, 8 or 16)", os);
    c->oversample = (int)os;
    if ((e = lq_cfg_number(map, "link", 0.0, 1.0, "a fraction", &c->link, d))) return e;
    return lq_cfg_number(map, "push_warn_db", 0.0, 30.0, "dB", &c->push_warn_db, d);
}

/* ---- state -------------------------------------------------------------------- */

static void limiter_reset(void *state)
{
    limiter_state *s = state;
    for (int c = 0; c < 2; c++) lq_os_stream_reset(&s->det[c]);
    for (int c = 0; c < s->channels; c++)
        memset(s->delay[c], 0, (s->dmask + 1) * sizeof(double));
    for (int p = 0; p < s->npaths; p++) {
        gain_path *gp = &s->path[p];
        gp->dq_head = gp->dq_len = 0;
        for (size_t i = 0; i < s->W1; i++) gp->ring1[i] = Q_ONE;
        for (size_t i = 0; i < s->W2; i++) gp->ring2[i] = Q_ONE;
        gp->pos1 = gp->pos2 = 0;
        gp->sum1 = (int64_t)s->W1 * Q_ONE;
        gp->sum2 = (int64_t)s->W2 * Q_ONE;
        gp->rel = Q_ONE;
        gp->act = 0.0;
    }
    s->t = 0;
    s->min_g = 1.0;
    s->gr_prod = 1.0;
    s->gr_exp = 0;
    s->lim_g = pow(10.0, -LIMITING_GR_DB / 20.0);
    s->limiting_frames = s->counted_frames = 0;
    s->env_len = 0;
    s->env_win = (size_t)fmax(1.0, floor(s->rate / ENV_RATE + 0.5));
    s->env_pos = 0;
    s->env_cur = 1.0;
}

static void limiter_destroy(void *state)
{
    limiter_state *s = state;
    if (!s) return;
    lq_os_filter_free(&s->f);
    for (int c = 0; c < 2; c++) free(s->delay[c]);
    for (int p = 0; p < 2; p++) {
        free(s->path[p].dq_val);
        free(s->path[p].dq_idx);
        free(s->path[p].ring1);
        free(s->path[p].ring2);
    }
    free(s->env);
    free(s);
}

static lq_error limiter_create(void **state, const void *cfg, const lq_stage_env *env,
                               lq_diag *d)
{
    const lq_limiter_config *c = cfg;
    *state = NULL;
    if (env->channels < 1 || env->channels > 2 || !(env->sample_rate >= 1000.0))
        return lq_diag_set(d, LQ_ERR_ARG, "limiter: %d channels at %g Hz not supported",
                           env->channels, env->sample_rate);
    if (c->oversample != 4 && c->oversample != 8 && c->oversample != 16)
        return lq_diag_set(d, LQ_ERR_ARG, "limiter: oversample %d (expected 4, 8 or 16)",
                           c->oversample);
    if (!(c->ceiling_dbtp > -60.0 && c->ceiling_dbtp <= 6.0))
        return lq_diag_set(d, LQ_ERR_ARG, "limiter: ceiling %g dBTP out of range",
                           c->ceiling_dbtp);
    limiter_state *s = calloc(1, sizeof *s);
    if (!s) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    s->cfg = *c;
    s->channels = env->channels;
    s->rate = env->sample_rate;
    s->npaths = (env->channels == 1 || c->link >= 1.0) ? 1 : env->channels;
    lq_error e = lq_os_design(&s->f, c->oversample);
    if (e) {
        limiter_destroy(s);
        return lq_diag_set(d, e, "limiter: cannot design the oversampling filter");
    }
    const double margin = c->oversample == 4 ? LQ_LIMITER_MARGIN_4X_DB : LQ_LIMITER_MARGIN_DB;
    s->thr = pow(10.0, (c->ceiling_dbtp - margin) / 20.0);
    /* below 0.9 thr no phase is computed (oversample.h: the parabola refinement can
     * raise a grid value by well under 10 %, so nothing that could need limiting is
     * skipped) */
    s->skip = 0.9 * s->thr;
    double la = fmin(10.0, fmax(0.5, c->lookahead_ms));
    s->S = (size_t)fmax(2.0, floor(la * 1e-3 * s->rate + 0.5));
    s->W1 = (s->S + 1) / 2;
    s->W2 = s->S + 1 - s->W1;
    s->div1 = lq_divc_init(s->W1);
    s->div2 = lq_divc_init(s->W2);
    s->H = LQ_LIMITER_HOLD;
    s->win = s->S + s->H;
    /* a power of two >= win + 1 (the deque's longest): ring positions by a mask */
    s->dq_cap = 1;
    while (s->dq_cap < s->win + 1) s->dq_cap <<= 1;
    s->D = (size_t)LQ_OS_DELAY + (s->S - 1) + s->H / 2;
    size_t dsize = 1;
    while (dsize < s->D + 1) dsize <<= 1;
    s->dmask = dsize - 1;
    for (int ch = 0; ch < s->channels; ch++) {
        s->delay[ch] = calloc(dsize, sizeof(double));
        if (!s->delay[ch]) goto nomem;
    }
    for (int p = 0; p < s->npaths; p++) {
        gain_path *gp = &s->path[p];
        gp->dq_val = malloc(s->dq_cap * sizeof *gp->dq_val);
        gp->dq_idx = malloc(s->dq_cap * sizeof *gp->dq_idx);
        gp->ring1 = malloc(s->W1 * sizeof *gp->ring1);
        gp->ring2 = malloc(s->W2 * sizeof *gp->ring2);
        if (!gp->dq_val || !gp->dq_idx || !gp->ring1 || !gp->ring2) goto nomem;
    }
    s->env = malloc(ENV_CAP * sizeof *s->env);
    if (!s->env) goto nomem;
    double rel = fmin(1000.0, fmax(1.0, c->release_ms)) * 1e-3;
    s->release_base = rel;
    s->alpha = -expm1(-1.0 / (rel * s->rate));
    s->act_beta = -expm1(-1.0 / (1.0 * s->rate)); /* activity: 1 s time constant */
    limiter_reset(s);
    *state = s;
    return LQ_OK;
nomem:
    limiter_destroy(s);
    return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (limiter)");
}

static size_t limiter_latency(const void *state)
{
    return ((const limiter_state *)state)->D;
}

/* One step of a gain path with the new requirement q (2^40 = gain 1); returns g. */
static inline double path_step(limiter_state *s, gain_path *gp, int64_t q)
{
    const size_t mask = s->dq_cap - 1;
    const long long t = s->t;
    /* sliding minimum over the last `win` values */
    while (gp->dq_len > 0) {
        size_t back = (gp->dq_head + gp->dq_len - 1) & mask;
        if (gp->dq_val[back] < q) break;
        gp->dq_len--;
    }
    {
        size_t slot = (gp->dq_head + gp->dq_len) & mask;
        gp->dq_val[slot] = q;
        gp->dq_idx[slot] = t;
        gp->dq_len++;
    }
    while (gp->dq_idx[gp->dq_head] <= t - (long long)s->win) {
        gp->dq_head = (gp->dq_head + 1) & mask;
        gp->dq_len--;
    }
    const int64_t m = gp->dq_val[gp->dq_head];
    /* release: instant down, one-pole recovery up (never above m) */
    int64_t rel = gp->rel;
    if (s->cfg.auto_release) {
        gp->act += s->act_beta * ((rel < Q_ONE ? 1.0 : 0.0) - gp->act);
        if (gp->act < 1e-20) gp->act = 0;
    }
    if (m <= rel) {
        rel = m;
    } else {
        double alpha = s->alpha;
        if (s->cfg.auto_release)
            alpha = -expm1(-1.0 / (s->release_base * (0.5 + 1.5 * gp->act) * s->rate));
        rel += (int64_t)((double)(m - rel) * alpha);  /* truncation: stays <= m */
        if (m - rel < Q_SNAP) rel = m;
    }
    gp->rel = rel;
    /* two running means, exact in integers */
    gp->sum1 += rel - gp->ring1[gp->pos1];
    gp->ring1[gp->pos1] = rel;
    if (++gp->pos1 == s->W1) gp->pos1 = 0;
    const int64_t a = lq_divc_div(gp->sum1, s->div1);
    gp->sum2 += a - gp->ring2[gp->pos2];
    gp->ring2[gp->pos2] = a;
    if (++gp->pos2 == s->W2) gp->pos2 = 0;
    return (double)lq_divc_div(gp->sum2, s->div2) * Q_SCALE;
}

static double gr_db(double g)
{
    return g < 1.0 ? -20.0 * log10(g) : 0.0;
}

static void envelope_push(limiter_state *s, double g)
{
    if (g < s->env_cur) s->env_cur = g;
    if (++s->env_pos < s->env_win) return;
    if (s->env_len == ENV_CAP) {
        /* full: halve the resolution; the window just finished becomes the first half
         * of a window of twice the length */
        for (size_t i = 0; i < ENV_CAP / 2; i++)
            s->env[i] = s->env[2 * i] > s->env[2 * i + 1] ? s->env[2 * i] : s->env[2 * i + 1];
        s->env_len = ENV_CAP / 2;
        s->env_win *= 2;
        return;
    }
    s->env[s->env_len++] = (float)gr_db(s->env_cur);
    s->env_pos = 0;
    s->env_cur = 1.0;
}

/* The gain computer, the delay and the gain, sample by sample: pk[c][i] is the
 * detector's peak estimate for buf[c][i] (lq_limiter_detect). */
static void apply_span(limiter_state *s, double *const *buf, size_t n, const double *pk0,
                       const double *pk1)
{
    const int nc = s->channels, np = s->npaths;
    const double thr = s->thr, link = s->cfg.link;
    const size_t D = s->D, dmask = s->dmask;
    for (size_t i = 0; i < n; i++) {
        double r[2] = {1.0, 1.0};
        if (pk0[i] > thr) r[0] = thr / pk0[i];
        if (nc == 2 && pk1[i] > thr) r[1] = thr / pk1[i];
        double rmin = nc == 2 && r[1] < r[0] ? r[1] : r[0];
        double g[2];
        if (np == 1) {
            g[0] = g[1] = path_step(s, &s->path[0], (int64_t)floor(rmin * (double)Q_ONE));
        } else {
            for (int p = 0; p < np; p++) {
                double rp = r[p];
                if (link > 0 && rp != rmin)
                    rp = fmin(rp, exp((1.0 - link) * log(rp) + link * log(rmin)));
                g[p] = path_step(s, &s->path[p], (int64_t)floor(rp * (double)Q_ONE));
            }
        }
        const size_t wpos = (size_t)s->t & dmask, rpos = (size_t)(s->t - (long long)D) & dmask;
        for (int c = 0; c < nc; c++) {
            double *dl = s->delay[c];
            double xd = dl[rpos];
            dl[wpos] = buf[c][i];
            buf[c][i] = g[c] * xd;
        }
        if (s->t >= (long long)D) {
            double gmin = nc == 2 && g[1] < g[0] ? g[1] : g[0];
            if (gmin < 1.0) {
                if (gmin <= s->lim_g) s->limiting_frames++;
                s->gr_prod *= gmin;
                if (s->gr_prod < 0x1p-500) {   /* renormalized long before it underflows */
                    int ex;
                    s->gr_prod = frexp(s->gr_prod, &ex);
                    s->gr_exp += ex;
                }
                if (gmin < s->min_g) s->min_g = gmin;
            }
            s->counted_frames++;
            envelope_push(s, gmin);
        }
        s->t++;
    }
}

/* The detector over a block, chunk by chunk from its start (as limiter_process runs it):
 * pk is the peak estimate of lq_os_detector_push(..., skip, 1) wherever that exceeds
 * thr, and <= thr elsewhere (where the gain requirement is exactly 1 either way). */
static void detect_block(limiter_state *s, const double *const *x, size_t n, double *const *pk)
{
    for (size_t i = 0; i < n; i += LQ_OS_CHUNK) {
        const size_t k = n - i < LQ_OS_CHUNK ? n - i : LQ_OS_CHUNK;
        for (int c = 0; c < s->channels; c++)
            lq_os_stream_detect(&s->det[c], &s->f, x[c] + i, k, s->skip, s->thr, pk[c] + i);
    }
}

static void limiter_process(void *state, double *const *buf, size_t n)
{
    limiter_state *s = state;
    const int nc = s->channels;
    for (size_t i = 0; i < n; i += LQ_OS_CHUNK) {
        const size_t k = n - i < LQ_OS_CHUNK ? n - i : LQ_OS_CHUNK;
        double *b[2] = {buf[0] + i, buf[nc > 1 ? 1 : 0] + i};
        double *pk[2] = {s->pk[0], s->pk[1]};
        detect_block(s, (const double *const *)b, k, pk);
        apply_span(s, b, k, s->pk[0], s->pk[nc > 1 ? 1 : 0]);
    }
}

void lq_limiter_detect(void *state, const double *const *x, size_t n, double *const *pk)
{
    detect_block(state, x, n, pk);
}

void lq_limiter_apply(void *state, double *const *buf, size_t n, const double *const *pk)
{
    limiter_state *s = state;
    apply_span(s, buf, n, pk[0], pk[s->channels > 1 ? 1 : 0]);
}

/* ---- figures ------------------------------------------------------------------ */

void lq_limiter_stats(const void *state, double *max_gr_db, double *mean_gr_db,
                      double *limiting_seconds)
{
    const limiter_state *s = state;
    if (max_gr_db) *max_gr_db = gr_db(s->min_g);
    if (mean_gr_db) {
        const double lg = log10(s->gr_prod) + (double)s->gr_exp * log10(2.0);
        const double sum_db = lg < 0.0 ? -20.0 * lg : 0.0;
        *mean_gr_db = s->counted_frames > 0 ? sum_db / (double)s->counted_frames : 0.0;
    }
    if (limiting_seconds) *limiting_seconds = (double)s->limiting_frames / s->rate;
}

static double round2(double v)
{
    return floor(v * 100.0 + 0.5) / 100.0;
}

static void limiter_report(const void *state, json_t *obj)
{
    const limiter_state *s = state;
    double mx, mean, secs;
    lq_limiter_stats(state, &mx, &mean, &secs);
    double dur = (double)s->counted_frames / s->rate;
    json_object_set_new(obj, "ceiling_dbtp", json_real(s->cfg.ceiling_dbtp));
    json_object_set_new(obj, "lookahead_ms", json_real(s->cfg.lookahead_ms));
    json_object_set_new(obj, "release_ms", json_real(s->cfg.release_ms));
    json_object_set_new(obj, "auto_release", json_boolean(s->cfg.auto_release));
    json_object_set_new(obj, "oversample", json_integer(s->cfg.oversample));
    json_object_set_new(obj, "link", json_real(s->cfg.link));
    json_object_set_new(obj, "latency_frames", json_integer((json_int_t)s->D));
    json_object_set_new(obj, "max_gr_db", json_real(round2(mx)));
    json_object_set_new(obj, "mean_gr_db", json_real(round2(mean)));
    json_object_set_new(obj, "limiting_seconds", json_real(floor(secs * 1000 + 0.5) / 1000));
    json_object_set_new(obj, "limiting_fraction",
                        json_real(dur > 0 ? floor(secs / dur * 1e4 + 0.5) / 1e4 : 0.0));
    json_object_set_new(obj, "push_warn_db", json_real(s->cfg.push_warn_db));
    json_object_set_new(obj, "pushed_hard", json_boolean(mx > s->cfg.push_warn_db));
    json_t *env = json_object();
    json_t *arr = json_array();
    if (env && arr) {
        for (size_t i = 0; i < s->env_len; i++)
            json_array_append_new(arr, json_real(round2(s->env[i])));
        if (s->env_pos > 0) json_array_append_new(arr, json_real(round2(gr_db(s->env_cur))));
        json_object_set_new(env, "interval_s", json_real((double)s->env_win / s->rate));
        json_object_set_new(env, "max_gr_db", arr);
        json_object_set_new(obj, "gr_envelope", env);
    } else {
        json_decref(env);
        json_decref(arr);
    }
}

const lq_stage_vt lq_stage_limiter = {
    .name = "limiter",
    .config_size = sizeof(lq_limiter_config),
    .config_default = limiter_default,
    .config_parse = limiter_parse,
    .config_free = NULL,
    .config_is_identity = NULL,
    .create = limiter_create,
    .latency = limiter_latency,
    .process = limiter_process,
    .reset = limiter_reset,
    .report = limiter_report,
    .destroy = limiter_destroy,
};
