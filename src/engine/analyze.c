/* lq_analyze_file: decode a file and measure it (the `lacquer analyze` command). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/meter.h"

lq_error lq_analyze_file(const char *path, lq_analysis *out, char *err, size_t errlen)
{
    lq_diag d = {{0}};
    lq_meter_result r;
    memset(out, 0, sizeof *out);
    lq_error e = lq_meter_file(path,
                               LQ_METER_FULL | LQ_METER_TP16 | LQ_METER_HEALTH |
                                   LQ_METER_TP_EBUR128,
                               &r, &d);
    if (e) {
        if (err && errlen) snprintf(err, errlen, "%s", d.msg);
        return e;
    }
    out->sample_rate = r.rate;
    out->channels = r.channels;
    out->frames = r.frames;
    out->duration_s = (double)r.frames / r.rate;
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
    return LQ_OK;
}
