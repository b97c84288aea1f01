#include "engine/meter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/kmeter.h"
#include "dsp/truepeak.h"
#include "io/audio_in.h"

struct lq_meter {
    ebur128_state *st;
    lq_tp_meter *tp;
    lq_kmeter *km;          /* LQ_METER_COMPACT */
    int channels, what;
    int quick;              /* lq_meter_new_quick: integrated loudness only */
    double rate;
    double *ibuf;
    size_t max_block;
    /* health */
    double sum[2], sumsq[2], sumlr;
    double lp_state[2][2], lp_a, lp_energy[2];
    int run[2];
    long long clipped_runs, frames;
    double sample_peak;
    size_t hop, hop_pos;
    double max_m, max_s;
    lq_deep *deep;
    double hop_e[30];       /* K-weighted mean square of the last 30 hops (ring) */
    long long hop_i;
};

double lq_db(double linear)
{
    return linear > 0 ? 20.0 * log10(linear) : -HUGE_VAL;
}

lq_error lq_meter_new(lq_meter **out, int channels, double rate, int what, size_t max_block,
                      lq_diag *d)
{
    lq_meter *m = calloc(1, sizeof *m);
    if (!m) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    m->channels = channels;
    m->rate = rate;
    if (what & (LQ_METER_DEEP | LQ_METER_PLOTS)) what |= LQ_METER_FULL;
    m->what = what;
    m->max_block = max_block;
    int mode = EBUR128_MODE_I;
    if (what & LQ_METER_FULL)
        mode |= EBUR128_MODE_LRA | EBUR128_MODE_M;
    if (what & LQ_METER_TP_EBUR128) mode |= EBUR128_MODE_TRUE_PEAK;
    /* a true-peak-only meter (codec round trips) needs no loudness filter at all */
    const int want_loudness =
        (what & (LQ_METER_LOUDNESS | LQ_METER_FULL | LQ_METER_TP_EBUR128)) != 0;
    if (want_loudness) m->st = ebur128_init((unsigned)channels, (unsigned long)rate, mode);
    if (m->st) m->ibuf = malloc(max_block * (size_t)channels * sizeof(double));
    if (want_loudness && (!m->st || !m->ibuf)) goto fail;
    if (m->st && channels == 1) ebur128_set_channel(m->st, 0, EBUR128_CENTER);
    /* the deeper analysis meters the 16x true peak itself (for PSR, in the same pass) */
    if (what & LQ_METER_TP16 && !(what & LQ_METER_DEEP)) {
        if (lq_tp_meter_new(&m->tp, channels, rate, 16) != LQ_OK) goto fail;
    }
    if (what & (LQ_METER_DEEP | LQ_METER_PLOTS) &&
        lq_deep_new(&m->deep, channels, rate, max_block, !(what & LQ_METER_DEEP), d) != LQ_OK)
        goto fail;
    if ((what & LQ_METER_COMPACT) && lq_kmeter_new(&m->km, channels, rate) != LQ_OK) goto fail;
    /* one-pole low-pass at 150 Hz for the low-end balance figure */
    m->lp_a = exp(-2.0 * M_PI * 150.0 / rate);
    m->hop = (size_t)llround(rate / 10.0);
    m->max_m = m->max_s = -HUGE_VAL;
    *out = m;
    return LQ_OK;
fail:
    lq_meter_destroy(&m);
    return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (loudness meter)");
}

lq_error lq_meter_new_quick(lq_meter **out, int channels, double rate, long long frames,
                            lq_diag *d)
{
    lq_meter *m = calloc(1, sizeof *m);
    if (!m) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    m->channels = channels;
    m->rate = rate;
    m->what = LQ_METER_LOUDNESS | LQ_METER_COMPACT;
    m->quick = 1;
    m->max_block = (size_t)-1;
    m->max_m = m->max_s = -HUGE_VAL;
    if (lq_kmeter_new(&m->km, channels, rate) != LQ_OK ||
        lq_kmeter_keep_blocks(m->km, frames) != LQ_OK) {
        lq_meter_destroy(&m);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (loudness meter)");
    }
    *out = m;
    return LQ_OK;
}

/* The health figures of a stereo span: the same sums as the per-channel loop in
 * push_span, both channels in one pass (two independent filter chains overlap). */
static void health2(lq_meter *m, const double *const *p, size_t off, size_t k)
{
    const double a = m->lp_a, *L = p[0], *R = p[1];
    double sL = 0, sR = 0, ssL = 0, ssR = 0, eL = 0, eR = 0, lr = 0;
    double y1L = m->lp_state[0][0], y2L = m->lp_state[0][1];
    double y1R = m->lp_state[1][0], y2R = m->lp_state[1][1];
    int runL = m->run[0], runR = m->run[1];
    long long clipped = 0;
    for (size_t i = off; i < off + k; i++) {
        const double xl = L[i], xr = R[i];
        sL += xl;
        sR += xr;
        ssL += xl * xl;
        ssR += xr * xr;
        lr += xl * xr;
        y1L = (1 - a) * xl + a * y1L;
        y1R = (1 - a) * xr + a * y1R;
        y2L = (1 - a) * y1L + a * y2L;
        y2R = (1 - a) * y1R + a * y2R;
        eL += y2L * y2L;
        eR += y2R * y2R;
        runL = fabs(xl) >= 0.9999 ? runL + 1 : 0;
        runR = fabs(xr) >= 0.9999 ? runR + 1 : 0;
        clipped += (runL == 3) + (runR == 3);
    }
    m->sum[0] += sL;
    m->sum[1] += sR;
    m->sumsq[0] += ssL;
    m->sumsq[1] += ssR;
    m->sumlr += lr;
    m->lp_state[0][0] = y1L;
    m->lp_state[0][1] = y2L;
    m->lp_state[1][0] = y1R;
    m->lp_state[1][1] = y2R;
    m->lp_energy[0] += eL;
    m->lp_energy[1] += eR;
    m->run[0] = runL;
    m->run[1] = runR;
    m->clipped_runs += clipped;
}

/* Feed [off, off+k) of p to libebur128 and the other meters. */
static void push_span(lq_meter *m, const double *const *p, size_t off, size_t k)
{
    const int nc = m->channels;
    if (m->st) {
        for (size_t i = 0; i < k; i++)
            for (int c = 0; c < nc; c++)
                m->ibuf[i * (size_t)nc + (size_t)c] = p[c][off + i];
        ebur128_add_frames_double(m->st, m->ibuf, k);
    }
    if (m->deep) {
        const double *v[2] = {p[0] + off, p[nc > 1 ? 1 : 0] + off};
        lq_deep_push(m->deep, v, k);
    }
    if (m->km) {
        const double *v[2] = {p[0] + off, p[nc > 1 ? 1 : 0] + off};
        lq_kmeter_push(m->km, v, k);
    }
    if (m->tp) {
        const double *v[2] = {p[0] + off, p[nc > 1 ? 1 : 0] + off};
        lq_tp_meter_push(m->tp, v, k);
    }
    double pk = m->sample_peak;
    /* the analysis has it; the closed loop's passes do not need it */
    for (int c = 0; c < nc && !m->deep && !m->quick; c++)
        for (size_t i = off; i < off + k; i++) {
            const double a = fabs(p[c][i]);
            pk = a > pk ? a : pk;
        }
    m->sample_peak = pk;
    if (m->what & LQ_METER_HEALTH && nc == 2) {
        health2(m, p, off, k);
    } else if (m->what & LQ_METER_HEALTH) {
        for (int c = 0; c < nc; c++) {
            double s = 0, ss = 0, y1 = m->lp_state[c][0], y2 = m->lp_state[c][1], e = 0;
            const double a = m->lp_a;
            int run = m->run[c];
            for (size_t i = off; i < off + k; i++) {
                double x = p[c][i];
                s += x;
                ss += x * x;
                y1 = (1 - a) * x + a * y1;
                y2 = (1 - a) * y1 + a * y2;
                e += y2 * y2;
                if (fabs(x) >= 0.9999) {
                    if (++run == 3) m->clipped_runs++;
                } else {
                    run = 0;
                }
            }
            m->sum[c] += s;
            m->sumsq[c] += ss;
            m->lp_state[c][0] = y1;
            m->lp_state[c][1] = y2;
            m->lp_energy[c] += e;
            m->run[c] = run;
        }
    }
    m->frames += (long long)k;
}

void lq_meter_push(lq_meter *m, const double *const *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t k = n - off;
        if (k > m->max_block) k = m->max_block;
        if (m->what & LQ_METER_FULL && k > m->hop - m->hop_pos) k = m->hop - m->hop_pos;
        push_span(m, p, off, k);
        off += k;
        if (m->what & LQ_METER_FULL && (m->hop_pos += k) == m->hop) {
            /* every 100 ms: track the maxima of momentary (after 400 ms) and
             * short-term (after 3 s) loudness, EBU Tech 3341 section 2.2 */
            m->hop_pos = 0;
            /* the K-weighted mean square of this 100 ms hop (libebur128's own window
             * over exactly the frames of the hop); momentary and short-term are the
             * means of the last 4 and 30 hops: the same windows as
             * ebur128_loudness_momentary/shortterm at a thirtieth of the cost */
            double v, e = 0;
            if (ebur128_loudness_window(m->st, 100, &v) == EBUR128_SUCCESS && isfinite(v))
                e = pow(10.0, (v + 0.691) / 10.0);
            m->hop_e[m->hop_i % 30] = e;
            m->hop_i++;
            double st = NAN;
            if (m->frames >= (long long)(0.4 * m->rate)) {
                double s4 = 0;
                for (int k = 1; k <= 4; k++) s4 += m->hop_e[(m->hop_i - k) % 30];
                v = s4 > 0 ? -0.691 + 10.0 * log10(s4 / 4) : -HUGE_VAL;
                if (v > m->max_m) m->max_m = v;
            }
            if (m->frames >= (long long)(3.0 * m->rate)) {
                double s30 = 0;
                for (int k = 0; k < 30; k++) s30 += m->hop_e[k];
                st = s30 > 0 ? -0.691 + 10.0 * log10(s30 / 30) : -HUGE_VAL;
                if (st > m->max_s) m->max_s = st;
            }
            if (m->deep) lq_deep_hop(m->deep, st);
        }
    }
}

void lq_meter_result_get(lq_meter *m, lq_meter_result *r)
{
    memset(r, 0, sizeof *r);
    const int nc = m->channels;
    r->rate = m->rate;
    r->channels = nc;
    double v = -HUGE_VAL;
    if (!m->st || ebur128_loudness_global(m->st, &v) != EBUR128_SUCCESS || !isfinite(v))
        v = -HUGE_VAL;
    if (m->km) v = lq_kmeter_integrated(m->km);
    r->integrated_lufs = v;
    r->lra_lu = r->max_momentary_lufs = r->max_short_term_lufs = NAN;
    r->true_peak_dbtp = r->true_peak_16x_dbtp = NAN;
    if (m->what & LQ_METER_FULL) {
        double x;
        if (ebur128_loudness_range(m->st, &x) == EBUR128_SUCCESS) r->lra_lu = x;
        r->max_momentary_lufs = m->max_m;
        r->max_short_term_lufs = m->max_s;
    }
    if (m->what & LQ_METER_TP_EBUR128) {
        double tp = 0, x;
        for (int c = 0; c < nc; c++)
            if (ebur128_true_peak(m->st, (unsigned)c, &x) == EBUR128_SUCCESS && x > tp)
                tp = x;
        r->true_peak_dbtp = lq_db(tp);
    }
    r->sample_peak_dbfs = lq_db(m->sample_peak);
    if (m->tp) r->true_peak_16x_dbtp = lq_tp_meter_max_dbtp(m->tp);
    r->frames = m->frames;
    if (m->what & LQ_METER_HEALTH && m->frames > 0) {
        double nf = (double)m->frames;
        for (int c = 0; c < nc; c++) r->dc_db[c] = lq_db(fabs(m->sum[c] / nf));
        if (nc == 2) {
            double den = sqrt(m->sumsq[0] * m->sumsq[1]);
            r->correlation = den > 0 ? m->sumlr / den : 1.0;
            r->low_end_balance_db =
                10.0 * log10((m->lp_energy[0] + 1e-30) / (m->lp_energy[1] + 1e-30));
        } else {
            r->dc_db[1] = r->dc_db[0];
            r->correlation = 1.0;
        }
        r->clipped_runs = m->clipped_runs;
    }
    if (m->deep) {
        lq_deep_result_get(m->deep, &r->deep);
        r->has_deep = 1;
        r->sample_peak_dbfs = lq_db(r->deep.sample_peak);
        if (m->what & LQ_METER_TP16 && m->what & LQ_METER_DEEP)
            r->true_peak_16x_dbtp = lq_db(r->deep.true_peak);
    }
}

void lq_meter_destroy(lq_meter **pm)
{
    lq_meter *m = *pm;
    if (!m) return;
    if (m->st) ebur128_destroy(&m->st);
    if (m->tp) lq_tp_meter_destroy(&m->tp);
    lq_deep_destroy(&m->deep);
    lq_kmeter_destroy(&m->km);
    free(m->ibuf);
    free(m);
    *pm = NULL;
}

lq_error lq_meter_file(const char *path, int what, lq_meter_result *res, lq_diag *d)
{
    enum { BLOCK = 4096 };
    lq_audio_in in;
    lq_error e = (what & LQ_METER_OWN) ? lq_audio_in_open_own(&in, path, BLOCK, d)
                                       : lq_audio_in_open(&in, path, BLOCK, d);
    if (e) return e;
    lq_meter *m = NULL;
    e = lq_meter_new(&m, in.channels, in.rate, what, BLOCK, d);
    double *mem = malloc(2 * BLOCK * sizeof(double));
    double *pl[2] = {mem, mem ? mem + BLOCK : NULL};
    if (!e && !mem) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    while (!e) {
        size_t got = 0;
        e = lq_audio_in_read(&in, pl, BLOCK, &got, d);
        if (e || got == 0) break;
        lq_meter_push(m, (const double *const *)pl, got);
    }
    if (!e) {
        lq_meter_result_get(m, res);
        res->word_bits = in.word_bits;
    }
    free(mem);
    lq_meter_destroy(&m);
    lq_audio_in_close(&in);
    return e;
}
