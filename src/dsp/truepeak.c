/* Streaming true-peak meter (truepeak.h). */
#include "dsp/truepeak.h"

#include <math.h>
#include <stdlib.h>

#include "dsp/oversample.h"

struct lq_tp_meter {
    int channels;
    lq_os_filter f;
    lq_os_detector det[2];
    double max[2];
};

lq_error lq_tp_meter_new(lq_tp_meter **out, int channels, double rate, int factor)
{
    *out = NULL;
    if (channels < 1 || channels > 2 || !(rate > 0) ||
        (factor != 4 && factor != 8 && factor != 16))
        return LQ_ERR_ARG;
    lq_tp_meter *m = calloc(1, sizeof *m);
    if (!m) return LQ_ERR_NOMEM;
    lq_error e = lq_os_design(&m->f, factor);
    if (e) {
        free(m);
        return e;
    }
    m->channels = channels;
    lq_tp_meter_reset(m);
    *out = m;
    return LQ_OK;
}

void lq_tp_meter_reset(lq_tp_meter *m)
{
    for (int c = 0; c < 2; c++) {
        lq_os_detector_reset(&m->det[c]);
        m->max[c] = 0;
    }
}

void lq_tp_meter_push(lq_tp_meter *m, const double *const *planar, size_t n)
{
    for (int c = 0; c < m->channels; c++) {
        lq_os_detector *d = &m->det[c];
        const double *x = planar[c];
        double mx = m->max[c];
        for (size_t i = 0; i < n; i++) {
            /* skip the phases when they cannot exceed the maximum so far */
            double v = lq_os_detector_push(d, &m->f, x[i], mx, 0);
            if (v > mx) mx = v;
        }
        m->max[c] = mx;
    }
}

double lq_tp_meter_channel_max(const lq_tp_meter *m, int channel)
{
    if (channel < 0 || channel >= m->channels) return 0;
    /* the last LQ_OS_DELAY intervals are still inside the interpolator: run them out
     * on a copy, with zeros after the end */
    lq_os_detector d = m->det[channel];
    double mx = m->max[channel];
    for (int i = 0; i < LQ_OS_DELAY; i++) {
        double v = lq_os_detector_push(&d, &m->f, 0.0, mx, 0);
        if (v > mx) mx = v;
    }
    return mx;
}

double lq_tp_meter_max_linear(const lq_tp_meter *m)
{
    double mx = 0;
    for (int c = 0; c < m->channels; c++) {
        double v = lq_tp_meter_channel_max(m, c);
        if (v > mx) mx = v;
    }
    return mx;
}

double lq_tp_meter_max_dbtp(const lq_tp_meter *m)
{
    double v = lq_tp_meter_max_linear(m);
    return v > 0 ? 20.0 * log10(v) : -HUGE_VAL;
}

void lq_tp_meter_destroy(lq_tp_meter **pm)
{
    lq_tp_meter *m = *pm;
    if (!m) return;
    lq_os_filter_free(&m->f);
    free(m);
    *pm = NULL;
}
