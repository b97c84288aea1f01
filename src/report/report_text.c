/* report.txt: what a person reads after a run — the input, what to fix in the mix, and
 * one row per export with its figures and verdict. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "report/playback.h"
#include "report/report.h"

static const char *fmt_db(char *buf, size_t n, double v)
{
    if (isfinite(v)) snprintf(buf, n, "%.2f", v);
    else snprintf(buf, n, "-inf");
    return buf;
}

/* The master bus: the input gain staging, then each stage's work. */
static void master_text(lq_text *b, const lq_job *j)
{
    const lq_staging *st = &j->staging;
    char x1[32];
    if (st->applied)
        lq_text_add(b, "Staging the mix measured %.2f LUFS: %+.2f dB into the master bus (its "
               "reference level, %.1f LUFS), %+.2f dB after it\n",
            st->input_lufs, st->gain_db, st->ref_lufs, -st->gain_db);
    else if (!st->wanted)
        lq_text_add(b, "Staging none: the preset opts out (master.input_lufs: null), its thresholds "
               "are absolute\n");
    else if (j->master_identity)
        lq_text_add(b, "Staging none: the master bus changes nothing\n");
    else
        lq_text_add(b, "Staging none: the mix has no integrated loudness (%s LUFS: silent or too "
               "short)\n", fmt_db(x1, 32, st->input_lufs));
    size_t i;
    json_t *o;
    json_array_foreach(j->master_reports, i, o) {
        const char *name = json_string_value(json_object_get(o, "stage"));
        json_t *bands = json_object_get(o, "bands");
        if (!name || !json_is_array(bands)) continue;
        lq_text_add(b, "        %s gain reduction, mean / max dB:", name);
        size_t k;
        json_t *bd;
        json_array_foreach(bands, k, bd) {
            lq_text_add(b, "%s %g-%g Hz %.1f / %.1f", k ? "," : "",
                json_number_value(json_object_get(bd, "low_hz")),
                json_number_value(json_object_get(bd, "high_hz")),
                json_number_value(json_object_get(bd, "mean_gr_db")),
                json_number_value(json_object_get(bd, "max_gr_db")));
        }
        lq_text_add(b, "\n");
    }
}

char *lq_job_report_text(const lq_job *j)
{
    if (!j || !j->ran) return NULL;
    lq_text b = {0};
    char x1[32], x2[32], x3[32], x4[32];
    const lq_meter_result *im = &j->in_meas;
    lq_text_add(&b, "lacquer %s mastering report\n\n", lq_version());
    /* the mix check first (the same findings as `lacquer check`) */
    if (j->n_findings) {
        lq_text_add(&b, "The mix needs attention (mastering cannot fix these):\n");
        for (size_t i = 0; i < j->n_findings; i++)
            lq_text_add(&b, "  - %s\n    why: %s\n    fix: %s\n", j->findings[i].message,
                j->findings[i].why, j->findings[i].fix);
        lq_text_add(&b, "\n");
    } else {
        lq_text_add(&b, "The mix: ready for mastering (no finding of `lacquer check`: clipping, "
                "headroom, dynamics, phase, balance, tone, bit depth, silence, level).\n\n");
    }
    lq_text_add(&b, "Input   %s\n", j->input);
    lq_text_add(&b, "        %s, %d Hz, %s, %s, %.2f s\n", j->in_format, j->in_rate,
        j->in_channels == 2 ? "stereo" : "mono",
        j->in_bits ? (j->in_bits == 16 ? "16-bit" : j->in_bits == 24 ? "24-bit" : "integer")
                   : "float/lossy",
        (double)j->in_frames / j->in_rate);
    lq_text_add(&b, "        %s LUFS integrated, %s LU range, %s dBTP true peak, PLR %s dB\n",
        fmt_db(x1, 32, im->integrated_lufs), fmt_db(x2, 32, im->lra_lu),
        fmt_db(x3, 32, im->true_peak_16x_dbtp),
        fmt_db(x4, 32, im->true_peak_16x_dbtp - im->integrated_lufs));
    for (size_t i = 0; j->stems_report && i < json_array_size(j->stems_report); i++) {
        json_t *st = json_array_get(j->stems_report, i);
        json_t *lu = json_object_get(st, "integrated_lufs"), *tp = json_object_get(st, "sample_peak_dbfs");
        lq_text_add(&b, "  stem  %-12s %s LUFS, peak %s dBFS, gain %+.1f dB%s, %zu chain stage%s\n",
            json_string_value(json_object_get(st, "name")),
            fmt_db(x1, 32, json_is_real(lu) ? json_real_value(lu) : -HUGE_VAL),
            fmt_db(x2, 32, json_is_real(tp) ? json_real_value(tp) : -HUGE_VAL),
            json_real_value(json_object_get(st, "gain_db")),
            json_is_true(json_object_get(st, "mute")) ? " (muted)" : "",
            json_array_size(json_object_get(st, "chain")),
            json_array_size(json_object_get(st, "chain")) == 1 ? "" : "s");
    }
    /* what a stem itself shows (clipping): the stems' warnings lead the mix warnings */
    for (int k = 0; k < j->n_stem_warnings; k++) lq_text_add(&b, "  ! %s\n", j->mix_warnings[k]);
    lq_text_add(&b, "Preset  %s\n", lq_preset_name(j->preset));
    master_text(&b, j);
    lq_text_add(&b, "\n");
    lq_text_add(&b, "%-14s %-7s %6s %4s %8s %8s %8s %7s %7s  %s\n", "target", "format", "rate",
        "bits", "LUFS", "aim", "dBTP", "ceiling", "gain", "verdict");
    for (size_t i = 0; i < j->n_targets; i++) {
        const lq_export *ex = &j->exports[i];
        const lq_target *t = ex->target;
        char bits[8], aim[16];
        if (lq_format_is_lossy(t->format)) snprintf(bits, sizeof bits, "-");
        else if (t->bit_depth == 32) snprintf(bits, sizeof bits, "32f");
        else snprintf(bits, sizeof bits, "%d", t->bit_depth);
        if (ex->has_aim)
            snprintf(aim, sizeof aim, "%.1f%s", ex->aim_lufs,
                     ex->aim_from_preset ? "*" : ex->aim_from_reference ? "r" : "");
        else snprintf(aim, sizeof aim, "none");
        lq_text_add(&b, "%-14s %-7s %6d %4s %8s %8s %8s %7.1f %+7.2f  %s\n", t->name,
            lq_format_names[t->format], ex->rate, bits, fmt_db(x1, 32, ex->meas.integrated_lufs),
            aim, fmt_db(x2, 32, ex->meas.true_peak_16x_dbtp), t->true_peak_dbtp, ex->gain_db,
            ex->met ? "met" : "NOT MET");
    }
    lq_text_add(&b, "\n");
    for (size_t i = 0; i < j->n_targets; i++) {
        const lq_export *ex = &j->exports[i];
        lq_text_add(&b, "%s -> %s\n", ex->target->name, ex->path);
        lq_text_add(&b, "  loudness range %s LU, max short-term %s LUFS, sample peak %s dBFS, %d "
                "pass%s%s\n",
            fmt_db(x1, 32, ex->meas.lra_lu), fmt_db(x2, 32, ex->meas.max_short_term_lufs),
            fmt_db(x3, 32, ex->meas.sample_peak_dbfs), ex->n_passes,
            ex->n_passes == 1 ? "" : "es", ex->dithered ? ", dithered" : "");
        if (ex->limiter_report)
            lq_text_add(&b, "  limiter: up to %.1f dB gain reduction\n", ex->max_gr_db);
        for (int k = 0; k < ex->n_codec; k++)
            lq_text_add(&b, "  %s round trip at %d Hz: %s dBTP (%s)\n",
                lq_format_names[ex->codec[k].format], ex->codec[k].rate,
                fmt_db(x1, 32, ex->codec[k].true_peak_dbtp), ex->codec[k].ok ? "ok" : "OVER");
        if (!lq_format_is_lossy(ex->target->format) && isfinite(ex->meas.integrated_lufs)) {
            lq_text_add(&b, "  on playback:");
            for (int k = 0; k < lq_n_services; k++)
                lq_text_add(&b, "%s %s %+.1f dB", k ? "," : "", lq_services[k].name,
                    lq_service_gain(&lq_services[k], ex->meas.integrated_lufs,
                                    ex->meas.true_peak_16x_dbtp) + 0.0);
            lq_text_add(&b, "\n");
        }
        for (int k = 0; k < ex->n_warnings; k++) lq_text_add(&b, "  ! %s\n", ex->warnings[k]);
    }
    for (size_t i = 0; i < j->n_targets; i++)
        if (j->exports[i].aim_from_preset) {
            lq_text_add(&b, "\n* the preset's own level (finish.loudness_lufs): this target sets none.\n");
            break;
        }
    for (size_t i = 0; i < j->n_targets; i++)
        if (j->exports[i].aim_from_reference) {
            lq_text_add(&b, "\nr the references' loudness (--reference): this target sets none.\n");
            break;
        }
    if (j->n_refs && j->ref_ltas) {
        lq_text_add(&b, "\nReference matching (strength %.2f, width %.2f): matching eq first on the "
                "master bus.\n", j->match.strength, j->match.width_strength);
        for (size_t i = 0; i < j->n_refs; i++)
            lq_text_add(&b, "  %s: %.1f LUFS, weight %g; match figure %.2f dB before, %.2f dB after\n",
                j->ref_path[i], j->ref_ltas[i].lufs, j->ref_weight[i],
                lq_match_figure(&j->mix_ltas, &j->ref_ltas[i]),
                lq_match_figure(&j->master_ltas, &j->ref_ltas[i]));
        lq_text_add(&b, "  correction (mid, dB):");
        static const int show[] = {5, 11, 17, 23, 29, 35, 41, 47, 53, 59};
        for (size_t k = 0; k < sizeof show / sizeof show[0]; k++)
            lq_text_add(&b, " %s%g Hz %+.1f", k ? "/ " : "", round(j->curve.freq_hz[show[k]]),
                j->curve.mid_db[show[k]]);
        lq_text_add(&b, "\n");
    }
    lq_text_add(&b, "\n%s\n", lq_job_targets_met(j) ? "All targets met." : "Some targets NOT met.");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
