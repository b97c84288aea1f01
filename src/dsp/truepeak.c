/* Streaming true-peak meter (truepeak.h). */
#include "dsp/truepeak.h"

#include <math.h>
#include <stdlib.h>

#include "dsp/oversample.h"

struct lq_tp_meter {
    int channels;
    lq_os_filter f;
    lq_os_stream det[2];
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
        lq_os_stream_reset(&m->det[c]);
        m->max[c] = 0;
    }
}

void lq_tp_meter_push(lq_tp_meter *m, const double *const *planar, size_t n)
{
    /* phases are computed only where a bound exceeds the maximum so far; the result is
     * exactly the maximum over every phase of every sample (oversample.h) */
    for (int c = 0; c < m->channels; c++)
        m->max[c] = lq_os_stream_meter(&m->det[c], &m->f, planar[c], n, m->max[c]);
}

double lq_tp_meter_channel_max(const lq_tp_meter *m, int channel)
{
    if (channel < 0 || channel >= m->channels) return 0;
    /* the last LQ_OS_DELAY intervals are still inside the interpolator: run them out
     * on a copy, with zeros after the end */
    lq_os_stream d = m->det[channel];
    const double zeros[LQ_OS_DELAY] = {0};
    return lq_os_stream_meter(&d, &m->f, zeros, LQ_OS_DELAY, m->max[channel]);
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
