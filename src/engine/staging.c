/* Input gain staging of the master bus (staging.h).  The measurement is BS.1770-4
 * integrated loudness by the closed loop's quick meter (lq_meter_new_quick: libebur128's
 * figure to 1e-6 LU at a third of its cost; a lossy input whose length is not known
 * ahead is gated on the meter's 0.05 LU histogram, within a few thousandths), of the mix
 * as the master bus reads it (engine/mixsrc.c: one file, or stems summed). */
#include "engine/staging.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/meter.h"
#include "engine/mixsrc.h"

#define BLOCK 4096

static lq_error measure(const char *path, const lq_stems_spec *stems, int pad,
                        int (*cancelled)(void *), void *user, double *lufs, lq_diag *d)
{
    lq_mixsrc *in = NULL;
    lq_meter *m = NULL;
    lq_error e = lq_mixsrc_open(&in, path, stems, pad, BLOCK, d);
    if (e) return e;
    double *mem = malloc(2 * BLOCK * sizeof *mem);
    double *pl[2] = {mem, mem ? mem + BLOCK : NULL};
    e = !mem ? lq_diag_set(d, LQ_ERR_NOMEM, "out of memory")
             : lq_meter_new_quick(&m, lq_mixsrc_channels(in), lq_mixsrc_rate(in),
                                  lq_mixsrc_frames(in), d);
    while (!e) {
        size_t got = 0;
        e = lq_mixsrc_read(in, pl, BLOCK, &got, d);
        if (e || got == 0) break;
        lq_meter_push(m, (const double *const *)pl, got);
        if (cancelled && cancelled(user)) e = lq_diag_set(d, LQ_ERR_CANCELLED, "cancelled");
    }
    if (!e) {
        lq_meter_result r;
        lq_meter_result_get(m, &r);
        *lufs = r.integrated_lufs;
    }
    lq_meter_destroy(&m);
    free(mem);
    lq_mixsrc_close(&in);
    return e;
}

lq_error lq_staging_plan(lq_staging *s, const lq_preset *p, int bus_identity, const char *path,
                         const lq_stems_spec *stems, int stems_pad,
                         int (*cancelled)(void *user), void *user, lq_diag *d)
{
    memset(s, 0, sizeof *s);
    s->gain = s->undo = 1.0;
    s->input_lufs = -INFINITY;
    s->wanted = p->has_input_ref;
    s->ref_lufs = p->input_lufs;
    if (!s->wanted || bus_identity) return LQ_OK;
    double lufs = -INFINITY;
    lq_error e = measure(path, stems, stems_pad, cancelled, user, &lufs, d);
    if (e) return e;
    s->input_lufs = lufs;
    if (!isfinite(lufs)) return LQ_OK;
    s->applied = 1;
    s->gain_db = s->ref_lufs - lufs;
    s->gain = pow(10.0, s->gain_db / 20.0);
    s->undo = 1.0 / s->gain;
    return LQ_OK;
}

void lq_staging_scale(double *const *buf, int channels, size_t n, double g)
{
    for (int c = 0; c < channels; c++)
        for (size_t i = 0; i < n; i++) buf[c][i] *= g;
}
