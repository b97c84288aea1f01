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

typedef struct comp_chan {
    /* peak: monotonic deque of (value, time) over the hold window, ring of `hold` */
    double *dq_val;
    uint64_t *dq_t;
    size_t dq_head, dq_len;
    /* rms: ring of squares, running sum, and a fresh sum that replaces the running sum
     * every time the ring wraps (so rounding does not accumulate over hours). */
    double *sq;
    double sum, fresh;
    size_t sq_pos;
    double y;  /* smoothed gain reduction, dB >= 0 */
} comp_chan;

struct lq_comp {
    lq_comp_params p;
    int channels;
    double link;
    double a_att, a_rel;
    size_t hold;  /* samples, >= 1 */
    size_t win;   /* rms window, samples, >= 1 */
    uint64_t t;   /* samples processed */
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
    c->t = 0;
    for (int k = 0; k < c->channels; k++) {
        comp_chan *h = &c->ch[k];
        h->dq_head = h->dq_len = 0;
        h->sum = h->fresh = 0.0;
        h->sq_pos = 0;
        if (h->sq)
            for (size_t i = 0; i < c->win; i++) h->sq[i] = 0.0;
        h->y = 0.0;
    }
}

void lq_comp_destroy(lq_comp **pc)
{
    if (!pc || !*pc) return;
    lq_comp *c = *pc;
    for (int k = 0; k < 2; k++) {
        free(c->ch[k].dq_val);
        free(c->ch[k].dq_t);
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
    double w = floor(p->rms_ms * 1e-3 * fs + 0.5);
    c->win = w < 1.0 ? 1 : (size_t)w;
    for (int k = 0; k < channels; k++) {
        comp_chan *ch = &c->ch[k];
        if (p->detector == LQ_COMP_PEAK) {
            ch->dq_val = malloc(c->hold * sizeof *ch->dq_val);
            ch->dq_t = malloc(c->hold * sizeof *ch->dq_t);
            if (!ch->dq_val || !ch->dq_t) goto fail;
        } else {
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

/* Sliding maximum of |x| over the last `hold` samples (monotonic deque), in dBFS. */
static double peak_level_db(comp_chan *h, size_t hold, uint64_t t, double v)
{
    v = fabs(v);
    /* drop from the back every value not larger than the new one */
    while (h->dq_len > 0) {
        size_t back = (h->dq_head + h->dq_len - 1) % hold;
        if (h->dq_val[back] > v) break;
        h->dq_len--;
    }
    /* drop from the front what left the window */
    if (h->dq_len > 0 && h->dq_t[h->dq_head] + hold <= t) {
        h->dq_head = (h->dq_head + 1) % hold;
        h->dq_len--;
    }
    size_t pos = (h->dq_head + h->dq_len) % hold;
    h->dq_val[pos] = v;
    h->dq_t[pos] = t;
    h->dq_len++;
    const double pk = h->dq_val[h->dq_head];
    return pk > 1e-20 ? 20.0 * log10(pk) : LQ_COMP_FLOOR_DB;
}

/* Mean square over the last `win` samples, in dBFS (a full-scale sine reads -3 dB). */
static double rms_level_db(comp_chan *h, size_t win, double v)
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
    const double ms = h->sum > 0.0 ? h->sum / (double)win : 0.0;
    return ms > 1e-40 ? 10.0 * log10(ms) : LQ_COMP_FLOOR_DB;
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
            const double lev = c->p.detector == LQ_COMP_PEAK
                                   ? peak_level_db(&c->ch[k], c->hold, c->t, x[k][i])
                                   : rms_level_db(&c->ch[k], c->win, x[k][i]);
            gc[k] = lq_comp_static_gain_db(&c->p, lev);
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
        for (int k = 0; k < nch; k++) {
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
            h->y = y;
            if (y > grmax) grmax = y;
            const double db = makeup - y;
            g[k][i] = db == 0.0 ? 1.0 : pow(10.0, db / 20.0);
        }
        if (gr_db) gr_db[i] = grmax;
        c->t++;
    }
}
