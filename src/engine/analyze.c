/* lq_analyze_file: decode a file and measure it (the `lacquer analyze` command). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/meter.h"
#include "io/audio_in.h"

#define BLOCK 4096

lq_error lq_analyze_file(const char *path, lq_analysis *out, char *err, size_t errlen)
{
    lq_diag d = {{0}};
    lq_audio_in in;
    memset(out, 0, sizeof *out);
    lq_error e = lq_audio_in_open(&in, path, BLOCK, &d);
    lq_meter *m = NULL;
    double *mem = NULL;
    if (!e)
        e = lq_meter_new(&m, in.channels, in.rate,
                         LQ_METER_FULL | LQ_METER_TP16 | LQ_METER_HEALTH |
                             LQ_METER_TP_EBUR128, BLOCK, &d);
    if (!e && !(mem = malloc(2 * BLOCK * sizeof(double))))
        e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
    double *pl[2] = {mem, mem ? mem + BLOCK : NULL};
    while (!e) {
        size_t got = 0;
        e = lq_audio_in_read(&in, pl, BLOCK, &got, &d);
        if (e || got == 0) break;
        lq_meter_push(m, (const double *const *)pl, got);
    }
    if (!e) {
        lq_meter_result r;
        lq_meter_result_get(m, &r);
        out->sample_rate = in.rate;
        out->channels = in.channels;
        out->frames = r.frames;
        out->duration_s = (double)r.frames / in.rate;
        out->integrated_lufs = r.integrated_lufs;
        out->lra_lu = r.lra_lu;
        out->max_momentary_lufs = r.max_momentary_lufs;
        out->max_short_term_lufs = r.max_short_term_lufs;
        out->true_peak_dbtp = r.true_peak_dbtp;
        out->true_peak_16x_dbtp = r.true_peak_16x_dbtp;
        out->sample_peak_dbfs = r.sample_peak_dbfs;
        out->plr_db = r.true_peak_16x_dbtp - r.integrated_lufs;
        out->dc_offset_db[0] = r.dc_db[0];
        out->dc_offset_db[1] = r.dc_db[1];
        out->correlation = r.correlation;
        out->clipped_runs = r.clipped_runs;
    }
    free(mem);
    lq_meter_destroy(&m);
    if (in.sf) lq_audio_in_close(&in);
    if (e && err && errlen) snprintf(err, errlen, "%s", d.msg);
    return e;
}
