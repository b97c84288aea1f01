/* Input gain staging of the master bus (staging.h).  The measurement is BS.1770-4
 * integrated loudness by libebur128 (through lq_meter_file, LQ_METER_LOUDNESS only). */
#include "engine/staging.h"

#include <math.h>
#include <string.h>

#include "engine/meter.h"

lq_error lq_staging_plan(lq_staging *s, const lq_preset *p, const char *path, int bus_identity,
                         lq_diag *d)
{
    memset(s, 0, sizeof *s);
    s->gain = s->undo = 1.0;
    s->input_lufs = -INFINITY;
    s->wanted = p->has_input_ref;
    s->ref_lufs = p->input_lufs;
    if (!s->wanted || bus_identity) return LQ_OK;
    lq_meter_result r;
    lq_error e = lq_meter_file(path, LQ_METER_LOUDNESS, &r, d);
    if (e) return e;
    s->input_lufs = r.integrated_lufs;
    if (!isfinite(r.integrated_lufs)) return LQ_OK;
    s->applied = 1;
    s->gain_db = s->ref_lufs - r.integrated_lufs;
    s->gain = pow(10.0, s->gain_db / 20.0);
    s->undo = 1.0 / s->gain;
    return LQ_OK;
}

void lq_staging_scale(double *const *buf, int channels, size_t n, double g)
{
    for (int c = 0; c < channels; c++)
        for (size_t i = 0; i < n; i++) buf[c][i] *= g;
}
