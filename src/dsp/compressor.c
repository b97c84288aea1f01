/* Compressor core; see compressor.h for the design and its source. */
#include "dsp/compressor.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Detector floor: levels below this are "silence" (-400 dBFS is far below anything a
 * 64-bit signal chain carries, and keeps log10 finite). */
#define LQ_COMP_FLOOR_DB (-400.0)
/* Gain reduction below this (dB) during a release towards zero is set to zero, so the
 * smoother never runs into denormals (1e-12 dB is a gain error of 1e-13). */
#define LQ_COMP_GR_EPS 1e-12
/* ln(10) / 20: 10^(dB/20) = exp(dB * ln(10) / 20) */
#define LQ_COMP_DB_TO_LN 0.11512925464970228420

typedef struct comp_chan {
    /* peak: maxima of |x| over the current (partial) hold segment and the two before */
    double seg_cur, seg_prev1, seg_prev12;
    /* rms: ring of squares, running sum, and a fresh sum that replaces the running sum
     * every time the ring wraps (so rounding does not accumulate over hours). */
    double *sq;
    double sum, fresh;
    size_t sq_pos;
    double y;  /* smoothed gain reduction, dB >= 0 */
    double g;  /* the linear gain for y (so an unchanged y needs no exp) */
    /* the last detector value (linear) and its static gain: a held peak often stays
     * the same for many samples, and then neither log10 nor the curve is recomputed */
    double last_v, last_gc;
} comp_chan;

struct lq_comp {
    lq_comp_params p;
    int channels;
    double link;
    double a_att, a_rel;
    size_t hold;  /* samples, >= 1 */
    size_t seg;   /* peak-hold segment: hold / 2 rounded up, >= 1 */
    size_t seg_pos; /* samples into the current segment */
    size_t win;   /* rms window, samples, >= 1 */
    double v_knee; /* detector value (amplitude, or mean square) below which the static
                      gain is exactly 0: the bottom of the knee, T - W/2 */
    comp_chan ch[2];
};

double lq_comp_static_gain_db(const lq_comp_params *p, double x)
{
    /* Giannoulis, Massberg, Reiss 2012, eq. 4 (quadratic knee of width W centred on the
     * threshold T); 1/R = 0 for R = inf. */
    const double T = p->threshold_db, W = p->knee_db;
    const double inv_r = isinf(p->ratio) ? 0.0 : 1.0 / p->ratio;
    const double over = x - T;
    if (inv_r == 1.0) return 0.0;
    if (2.0 * over < -W) return 0.0;
    if (W > 0.0 && 2.0 * fabs(over) <= W) {
        const double u = over + 0.5 * W;
        return (inv_r - 1.0) * u * u / (2.0 * W);
    }
    if (over <= 0.0) return 0.0;  /* W == 0 and x <= T */
    return (inv_r - 1.0) * over;  /* T + (x-T)/R - x */
}

void lq_comp_reset(lq_comp *c)
{
    c->seg_pos = 0;
    for (int k = 0; k < c->channels; k++) {
        comp_chan *h = &c->ch[k];
        h->seg_cur = h->seg_prev1 = h->seg_prev12 = 0.0;
        h->sum = h->fresh = 0.0;
        h->sq_pos = 0;
        if (h->sq)
            for (size_t i = 0; i < c->win; i++) h->sq[i] = 0.0;
        h->y = 0.0;
        h->g = c->p.makeup_db == 0.0 ? 1.0 : exp(c->p.makeup_db * LQ_COMP_DB_TO_LN);
        h->last_v = -1.0;  /* no detector value yet */
        h->last_gc = 0.0;
    }
}

void lq_comp_destroy(lq_comp **pc)
{
    if (!pc || !*pc) return;
    lq_comp *c = *pc;
    for (int k = 0; k < 2; k++) {
        free(c->ch[k].sq);
    }
    free(c);
    *pc = NULL;
}

lq_error lq_comp_new(lq_comp **out, const lq_comp_params *p, double fs, int channels,
                     double link)
{
    *out = NULL;
    if (!(fs > 0.0) || channels < 1 || channels > 2 || !(link >= 0.0 && link <= 1.0) ||
        !(p->ratio >= 1.0) || !(p->knee_db >= 0.0) || !(p->attack_ms > 0.0) ||
        !(p->release_ms > 0.0) || !(p->hold_ms >= 0.0) ||
        (p->detector == LQ_COMP_RMS && !(p->rms_ms > 0.0)))
        return LQ_ERR_ARG;
    lq_comp *c = calloc(1, sizeof *c);
    if (!c) return LQ_ERR_NOMEM;
    c->p = *p;
    c->channels = channels;
    c->link = link;
    /* Giannoulis et al. 2012, sec. 2.3: alpha = exp(-1/(tau fs)), and the 10-90 % rise
     * time of a one-pole is tau ln 9, so a rise time t gives alpha = exp(-ln 9/(t fs)). */
    c->a_att = exp(-log(9.0) / (p->attack_ms * 1e-3 * fs));
    c->a_rel = exp(-log(9.0) / (p->release_ms * 1e-3 * fs));
    double h = floor(p->hold_ms * 1e-3 * fs + 0.5);
    c->hold = h < 1.0 ? 1 : (size_t)h;
    c->seg = (c->hold + 1) / 2;
    const double knee_bottom_db = p->threshold_db - 0.5 * p->knee_db;
    c->v_knee = p->detector == LQ_COMP_PEAK ? pow(10.0, knee_bottom_db / 20.0)
                                            : pow(10.0, knee_bottom_db / 10.0);
    double w = floor(p->rms_ms * 1e-3 * fs + 0.5);
    c->win = w < 1.0 ? 1 : (size_t)w;
    for (int k = 0; k < channels; k++) {
        comp_chan *ch = &c->ch[k];
        if (p->detector == LQ_COMP_RMS) {
            ch->sq = calloc(c->win, sizeof *ch->sq);
            if (!ch->sq) goto fail;
        }
    }
    lq_comp_reset(c);
    *out = c;
    return LQ_OK;
fail:
    lq_comp_destroy(&c);
    return LQ_ERR_NOMEM;
}

/* Peak hold: the maximum of |x| over the current segment of `seg` samples (segments
 * aligned on the sample count, so the result does not depend on block sizes) and the
 * two segments before it, i.e. over the last 2 seg + 1 .. 3 seg samples: at least the
 * hold time, at most 1.5 times it.  O(1) per sample with no data-dependent loop (the
 * segment shift is done by lq_comp_run for all channels). */
static double peak_level(comp_chan *h, double v)
{
    v = fabs(v);
    if (v > h->seg_cur) h->seg_cur = v;
    return h->seg_cur > h->seg_prev12 ? h->seg_cur : h->seg_prev12;
}

/* Mean square over the last `win` samples (a full-scale sine reads 0.5, -3 dB). */
static double mean_square(comp_chan *h, size_t win, double v)
{
    const double s = v * v;
    h->sum += s - h->sq[h->sq_pos];
    h->fresh += s;
    h->sq[h->sq_pos] = s;
    if (++h->sq_pos == win) {
        h->sq_pos = 0;
        h->sum = h->fresh;  /* exactly the last `win` squares, no accumulated rounding */
        h->fresh = 0.0;
    }
    return h->sum > 0.0 ? h->sum / (double)win : 0.0;
}

/* Static gain (dB) for a detector value v (linear amplitude or mean square). */
static double chan_static_gain(const lq_comp *c, comp_chan *h, double v)
{
    if (v == h->last_v) return h->last_gc;
    double gc = 0.0;
    if (v > c->v_knee) {  /* below the knee the curve is exactly 0 dB: no log needed */
        double lev;
        if (c->p.detector == LQ_COMP_PEAK)
            lev = v > 1e-20 ? 20.0 * log10(v) : LQ_COMP_FLOOR_DB;
        else
            lev = v > 1e-40 ? 10.0 * log10(v) : LQ_COMP_FLOOR_DB;
        gc = lq_comp_static_gain_db(&c->p, lev);
    }
    h->last_v = v;
    h->last_gc = gc;
    return gc;
}

void lq_comp_run(lq_comp *c, const double *const *x, double *const *g, double *gr_db,
                 size_t n)
{
    const int nch = c->channels;
    const double a_att = c->a_att, a_rel = c->a_rel, link = c->link;
    const double makeup = c->p.makeup_db;
    for (size_t i = 0; i < n; i++) {
        double gc[2] = {0.0, 0.0};
        for (int k = 0; k < nch; k++) {
            double v;
            if (c->p.detector == LQ_COMP_RMS)
                v = mean_square(&c->ch[k], c->win, x[k][i]);
            else if (c->hold > 1)
                v = peak_level(&c->ch[k], x[k][i]);
            else
                v = fabs(x[k][i]);
            gc[k] = chan_static_gain(c, &c->ch[k], v);
        }
        if (nch == 2 && link > 0.0) {
            const double common = gc[0] < gc[1] ? gc[0] : gc[1];
            if (link >= 1.0) {
                gc[0] = gc[1] = common;
            } else {
                gc[0] = (1.0 - link) * gc[0] + link * common;
                gc[1] = (1.0 - link) * gc[1] + link * common;
            }
        }
        double grmax = 0.0;
        /* fully linked stereo: both channels' smoothers start at 0 and see the same
         * target, so they are the same numbers; the second copies the first (one exp) */
        const int nsmooth = nch == 2 && link >= 1.0 ? 1 : nch;
        for (int k = 0; k < nsmooth; k++) {
            comp_chan *h = &c->ch[k];
            /* smooth branching detector on the gain reduction (Giannoulis eq. 17) */
            double target = -gc[k];
            if (target < LQ_COMP_GR_EPS) target = 0.0;
            double y = h->y;
            if (target > y)
                y = a_att * y + (1.0 - a_att) * target;
            else
                y = a_rel * y + (1.0 - a_rel) * target;
            if (y < LQ_COMP_GR_EPS && target == 0.0) y = 0.0;
            if (y != h->y) {
                h->y = y;
                const double db = makeup - y;
                h->g = db == 0.0 ? 1.0 : exp(db * LQ_COMP_DB_TO_LN);
            }
            if (y > grmax) grmax = y;
            g[k][i] = h->g;
        }
        if (nsmooth < nch) {
            c->ch[1].y = c->ch[0].y;
            c->ch[1].g = c->ch[0].g;
            g[1][i] = c->ch[0].g;
        }
        if (gr_db) gr_db[i] = grmax;
        if (++c->seg_pos == c->seg) {  /* peak hold: start a new segment */
            c->seg_pos = 0;
            for (int k = 0; k < nch; k++) {
                comp_chan *h = &c->ch[k];
                h->seg_prev12 = h->seg_cur > h->seg_prev1 ? h->seg_cur : h->seg_prev1;
                h->seg_prev1 = h->seg_cur;
                h->seg_cur = 0.0;
            }
        }
    }
}
