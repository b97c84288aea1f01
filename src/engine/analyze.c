/* lq_analyze_file: decode a file and measure it (the `lacquer analyze` command), and
 * lq_analysis_from_meter, which turns the meter's figures into the public struct (the
 * job uses it for the mix it masters). */
#include "engine/analyze.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double lq_third_octave_center_hz(int i)
{
    return i >= 0 && i < LQ_THIRD_OCTAVES ? lq_third_octave_hz(i) : NAN;
}

void lq_analysis_from_meter(const lq_meter_result *r, lq_analysis *out)
{
    memset(out, 0, sizeof *out);
    out->sample_rate = r->rate;
    out->channels = r->channels;
    out->frames = r->frames;
    out->duration_s = (double)r->frames / r->rate;
    out->integrated_lufs = r->integrated_lufs;
    out->lra_lu = r->lra_lu;
    out->max_momentary_lufs = r->max_momentary_lufs;
    out->max_short_term_lufs = r->max_short_term_lufs;
    out->true_peak_dbtp = r->true_peak_dbtp;
    out->true_peak_16x_dbtp = r->true_peak_16x_dbtp;
    out->sample_peak_dbfs = r->sample_peak_dbfs;
    out->plr_db = r->true_peak_16x_dbtp - r->integrated_lufs;
    out->dc_offset_db[0] = r->dc_db[0];
    out->dc_offset_db[1] = r->dc_db[1];
    out->correlation = r->correlation;
    out->clipped_runs = r->clipped_runs;
    out->low_end_balance_db = r->low_end_balance_db;
    out->file_bits = r->word_bits;
    const lq_deep_result *d = &r->deep;
    if (!r->has_deep) {
        out->psr_min_db = out->crest_db = out->balance_db = out->correlation_p5 = NAN;
        out->mono_loss_db = out->low_side_ratio = out->low_correlation = NAN;
        out->head_silence_ms = out->tail_silence_ms = NAN;
        out->spectral_tilt_db_oct = out->sub_bass_db = out->harshness_db = NAN;
        for (int i = 0; i < LQ_THIRD_OCTAVES; i++) out->third_octave_db[i] = NAN;
        return;
    }
    out->psr_min_db = d->psr_min_db;
    out->crest_db = d->crest_db;
    out->balance_db = d->balance_db;
    out->correlation_p5 = d->correlation_p5;
    out->mono_loss_db = d->mono_loss_db;
    out->low_side_ratio = d->low_side_ratio;
    out->low_correlation = d->low_correlation;
    out->effective_bits = d->effective_bits;
    out->head_silence_ms = d->head_silence_ms;
    out->tail_silence_ms = d->tail_silence_ms;
    out->intersample_overs = d->intersample_overs;
    memcpy(out->third_octave_db, d->third_octave_db, sizeof out->third_octave_db);
    out->spectral_tilt_db_oct = d->tilt_db_oct;
    out->sub_bass_db = d->sub_bass_db;
    out->harshness_db = d->harsh_db;
}

lq_error lq_analyze_file(const char *path, lq_analysis *out, char *err, size_t errlen)
{
    return lq_analyze_file_ex(path, 0, out, err, errlen);
}

lq_error lq_analyze_file_ex(const char *path, unsigned options, lq_analysis *out, char *err,
                            size_t errlen)
{
    lq_diag d = {{0}};
    memset(out, 0, sizeof *out);
    lq_meter_result *r = malloc(sizeof *r);
    if (!r) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return LQ_ERR_NOMEM;
    }
    int what = LQ_METER_FULL | LQ_METER_TP16 | LQ_METER_HEALTH | LQ_METER_DEEP;
    if (options & LQ_ANALYZE_EBUR128_PEAK) what |= LQ_METER_TP_EBUR128;
    lq_error e = lq_meter_file(path, what, r, &d);
    if (e) {
        if (err && errlen) snprintf(err, errlen, "%s", d.msg);
    } else {
        lq_analysis_from_meter(r, out);
    }
    free(r);
    return e;
}
