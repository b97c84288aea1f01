#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/playback.h"
#include "report/report.h"

/* JSON has no infinities: a silent file's loudness is null. */
static json_t *num(double v)
{
    return isfinite(v) ? json_real(round(v * 1e4) / 1e4) : json_null();
}

/* Reference matching (docs/REFERENCE.md): the spectra, the curve and the match figures. */
static json_t *spectrum_json(const lq_ltas_result *r)
{
    json_t *o = json_object(), *m = json_array(), *sd = json_array();
    for (int k = 0; k < LQ_LTAS_BANDS; k++) {
        json_array_append_new(m, r->valid[k] ? num(r->mid_db[k] - r->lufs) : json_null());
        json_array_append_new(sd, r->valid[k] && r->side_valid ? num(r->side_db[k] - r->lufs)
                                                               : json_null());
    }
    json_object_set_new(o, "integrated_lufs", num(r->lufs));
    json_object_set_new(o, "sample_rate", json_integer((json_int_t)r->rate));
    json_object_set_new(o, "channels", json_integer(r->channels));
    json_object_set_new(o, "seconds", num(r->seconds));
    json_object_set_new(o, "mid_db", m);
    json_object_set_new(o, "side_db", sd);
    return o;
}

static json_t *reference_json(const lq_job *j)
{
    json_t *o = json_object(), *f = json_array(), *refs = json_array();
    for (int k = 0; k < LQ_LTAS_BANDS; k++) json_array_append_new(f, num(j->curve.freq_hz[k]));
    json_object_set_new(o, "bands_hz", f);
    json_object_set_new(o, "strength", num(j->match.strength));
    json_object_set_new(o, "width_strength", num(j->match.width_strength));
    json_object_set_new(o, "max_boost_db", num(j->match.max_boost_db));
    json_object_set_new(o, "max_cut_db", num(j->match.max_cut_db));
    json_object_set_new(o, "level_lufs", num(j->ref_level_lufs));
    for (size_t i = 0; j->ref_ltas && i < j->n_refs; i++) {
        json_t *r = spectrum_json(&j->ref_ltas[i]);
        json_object_set_new(r, "file", json_string(j->ref_path[i]));
        json_object_set_new(r, "weight", num(j->ref_weight[i]));
        json_object_set_new(r, "match_before_db",
                            num(lq_match_figure(&j->mix_ltas, &j->ref_ltas[i])));
        json_object_set_new(r, "match_after_db",
                            num(lq_match_figure(&j->master_ltas, &j->ref_ltas[i])));
        json_array_append_new(refs, r);
    }
    json_object_set_new(o, "references", refs);
    json_object_set_new(o, "mix", spectrum_json(&j->mix_ltas));
    json_object_set_new(o, "master", spectrum_json(&j->master_ltas));
    json_t *c = json_object(), *cm = json_array(), *cs = json_array(), *rm = json_array(),
           *rs = json_array();
    for (int k = 0; k < LQ_LTAS_BANDS; k++) {
        json_array_append_new(cm, num(j->curve.mid_db[k]));
        json_array_append_new(cs, num(j->curve.side_db[k]));
        json_array_append_new(rm, num(j->curve.raw_mid_db[k]));
        json_array_append_new(rs, num(j->curve.raw_side_db[k]));
    }
    json_object_set_new(c, "mid_db", cm);
    json_object_set_new(c, "side_db", cs);
    json_object_set_new(c, "difference_mid_db", rm);
    json_object_set_new(c, "difference_side_db", rs);
    json_object_set_new(o, "correction", c);
    return o;
}

static json_t *measured(const lq_meter_result *m, double rate)
{
    json_t *o = json_object();
    json_object_set_new(o, "integrated_lufs", num(m->integrated_lufs));
    json_object_set_new(o, "loudness_range_lu", num(m->lra_lu));
    json_object_set_new(o, "max_momentary_lufs", num(m->max_momentary_lufs));
    json_object_set_new(o, "max_short_term_lufs", num(m->max_short_term_lufs));
    json_object_set_new(o, "true_peak_dbtp", num(m->true_peak_16x_dbtp));
    json_object_set_new(o, "true_peak_ebur128_dbtp", num(m->true_peak_dbtp));
    json_object_set_new(o, "sample_peak_dbfs", num(m->sample_peak_dbfs));
    json_object_set_new(o, "plr_db", num(m->true_peak_16x_dbtp - m->integrated_lufs));
    json_object_set_new(o, "frames", json_integer(m->frames));
    json_object_set_new(o, "duration_s", num((double)m->frames / rate));
    return o;
}

static json_t *export_json(const lq_job *j, const lq_export *ex)
{
    const lq_target *t = ex->target;
    json_t *o = json_object();
    json_object_set_new(o, "target", json_string(t->name));
    json_object_set_new(o, "target_file", json_string(t->file ? t->file : ""));
    json_object_set_new(o, "path", json_string(ex->path));
    json_object_set_new(o, "file", json_string(ex->file_name));
    json_object_set_new(o, "format", json_string(lq_format_names[t->format]));
    json_object_set_new(o, "sample_rate", json_integer(ex->rate));
    json_object_set_new(o, "bit_depth", lq_format_is_lossy(t->format) ? json_null()
                                        : t->bit_depth == 32 ? json_string("32f")
                                                             : json_integer(t->bit_depth));
    if (lq_format_is_lossy(t->format))
        json_object_set_new(o, "bitrate_kbps", json_integer(t->bitrate_kbps));
    json_object_set_new(o, "dithered", json_boolean(ex->dithered));
    json_object_set_new(o, "gain_db", num(ex->gain_db));
    json_object_set_new(o, "limiter_ceiling_dbtp", num(ex->ceiling_dbtp));
    json_object_set_new(o, "shortfall_lu", num(ex->shortfall_lu));
    json_object_set_new(o, "codec_margin_db", num(ex->codec_margin_db));
    json_t *passes = json_array();
    for (int i = 0; i < ex->n_passes; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "gain_db", num(ex->passes[i].gain_db));
        json_object_set_new(p, "ceiling_dbtp", num(ex->passes[i].ceiling_dbtp));
        json_object_set_new(p, "integrated_lufs", num(ex->passes[i].lufs));
        json_array_append_new(passes, p);
    }
    json_object_set_new(o, "passes", passes);
    json_object_set_new(o, "measured", measured(&ex->meas, ex->rate));

    json_t *req = json_object();
    json_t *l = json_object();
    json_object_set_new(l, "target_lufs", ex->has_aim ? num(ex->aim_lufs) : json_null());
    json_object_set_new(l, "from", json_string(!ex->has_aim             ? "none"
                                               : ex->aim_from_preset    ? "preset"
                                               : ex->aim_from_reference ? "reference"
                                                                        : "target"));
    json_object_set_new(l, "aim_from_reference", json_boolean(ex->aim_from_reference));
    json_object_set_new(l, "tolerance_lu", json_real(0.05));
    json_object_set_new(l, "measured_lufs", num(ex->meas.integrated_lufs));
    json_object_set_new(l, "pass", json_boolean(ex->loudness_ok));
    json_object_set_new(req, "loudness", l);
    json_t *tp = json_object();
    json_object_set_new(tp, "ceiling_dbtp", num(t->true_peak_dbtp));
    json_object_set_new(tp, "measured_dbtp", num(ex->meas.true_peak_16x_dbtp));
    json_object_set_new(tp, "pass", json_boolean(ex->peak_ok));
    json_object_set_new(req, "true_peak", tp);
    json_t *cl = json_object();
    json_object_set_new(cl, "clipped_samples", json_integer(ex->clipped));
    json_object_set_new(cl, "pass", json_boolean(ex->clip_ok));
    json_object_set_new(req, "no_clipping", cl);
    json_t *cc = json_array();
    for (int i = 0; i < ex->n_codec; i++) {
        json_t *c = json_object();
        json_object_set_new(c, "codec", json_string(lq_format_names[ex->codec[i].format]));
        json_object_set_new(c, "sample_rate", json_integer(ex->codec[i].rate));
        json_object_set_new(c, "true_peak_dbtp", num(ex->codec[i].true_peak_dbtp));
        json_object_set_new(c, "pass", json_boolean(ex->codec[i].ok));
        json_array_append_new(cc, c);
    }
    json_object_set_new(req, "codec_checks", cc);
    json_object_set_new(o, "requirements", req);
    json_object_set_new(o, "met", json_boolean(ex->met));
    if (!lq_format_is_lossy(t->format)) {
        /* what the streaming services will do to this file's level on playback */
        json_t *pb = json_array();
        for (int i = 0; i < lq_n_services; i++) {
            json_t *p = json_object();
            json_object_set_new(p, "service", json_string(lq_services[i].name));
            json_object_set_new(p, "plays_at_lufs", json_real(lq_services[i].level_lufs));
            json_object_set_new(p, "gain_db", num(lq_service_gain(&lq_services[i],
                                                                 ex->meas.integrated_lufs,
                                                                 ex->meas.true_peak_16x_dbtp)));
            json_array_append_new(pb, p);
        }
        json_object_set_new(o, "playback", pb);
    }
    if (ex->limiter_report) json_object_set(o, "limiter", ex->limiter_report);
    if (ex->dither_report) json_object_set(o, "dither", ex->dither_report);
    json_t *w = json_array();
    for (int i = 0; i < ex->n_warnings; i++) json_array_append_new(w, json_string(ex->warnings[i]));
    json_object_set_new(o, "warnings", w);
    /* where the time went (wall seconds; machine-dependent, so never compared by tests) */
    json_t *tm = json_object();
    json_object_set_new(tm, "gain_solve_s", num(ex->time_solve_s));
    json_object_set_new(tm, "codec_search_s", num(ex->time_search_s));
    json_object_set_new(tm, "render_encode_s", num(ex->time_render_s));
    json_object_set_new(tm, "verify_s", num(ex->time_verify_s));
    json_object_set_new(tm, "verify_rounds", json_integer(ex->n_verify));
    json_t *rt = json_object();
    for (int f = 0; f < LQ_FMT_COUNT; f++)
        if (ex->n_search_rt[f])
            json_object_set_new(rt, lq_format_names[f], json_integer(ex->n_search_rt[f]));
    json_object_set_new(tm, "search_round_trips", rt);
    json_t *sx = json_null();
    if (ex->n_search_pieces > 0) {
        sx = json_object();
        json_object_set_new(sx, "passages", json_integer(ex->n_search_passages));
        json_object_set_new(sx, "seconds", num(ex->search_seconds));
        json_object_set_new(sx, "pieces", json_integer(ex->n_search_pieces));
    }
    json_object_set_new(tm, "search_excerpts", sx);
    json_object_set_new(o, "timings", tm);
    (void)j;
    return o;
}

json_t *lq_report_build(const lq_job *j)
{
    json_t *r = json_object();
    json_t *meta = json_object();
    json_object_set_new(meta, "version", json_string(lq_version()));
    json_object_set_new(meta, "report_schema", json_integer(1));
    json_object_set_new(r, "lacquer", meta);

    /* the mix check first: what the mix itself needs (docs/CHECK.md) */
    json_t *ck = json_object(), *fa = json_array();
    json_object_set_new(ck, "verdict", json_string(j->n_findings ? "needs_attention" : "ready"));
    for (size_t i = 0; i < j->n_findings; i++) {
        const lq_finding *f = &j->findings[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(f->id));
        json_object_set_new(o, "measured", num(f->measured));
        json_object_set_new(o, "threshold", num(f->threshold));
        json_object_set_new(o, "unit", json_string(f->unit));
        json_object_set_new(o, "message", json_string(f->message));
        json_object_set_new(o, "why", json_string(f->why));
        json_object_set_new(o, "fix", json_string(f->fix));
        json_array_append_new(fa, o);
    }
    json_object_set_new(ck, "findings", fa);
    json_object_set_new(r, "check", ck);

    json_t *in = json_object();
    json_object_set_new(in, "path", json_string(j->input));
    json_object_set_new(in, "format", json_string(j->in_format));
    json_object_set_new(in, "sample_rate", json_integer(j->in_rate));
    json_object_set_new(in, "channels", json_integer(j->in_channels));
    json_object_set_new(in, "bit_depth", j->in_bits ? json_integer(j->in_bits) : json_null());
    json_t *im = measured(&j->in_meas, j->in_rate);
    json_object_set_new(im, "correlation", num(j->in_meas.correlation));
    json_object_set_new(im, "dc_offset_dbfs", num(fmax(j->in_meas.dc_db[0], j->in_meas.dc_db[1])));
    json_object_set_new(im, "clipped_runs", json_integer(j->in_meas.clipped_runs));
    json_object_set_new(im, "low_end_balance_db", num(j->in_meas.low_end_balance_db));
    json_object_set_new(in, "measured", im);
    if (j->stems_report) json_object_set_new(in, "stems", json_incref(j->stems_report));
    json_object_set_new(r, "input", in);

    json_t *pr = json_object();
    json_object_set_new(pr, "name", json_string(lq_preset_name(j->preset)));
    json_object_set_new(pr, "file", json_string(j->preset->file ? j->preset->file : ""));
    json_object_set_new(r, "preset", pr);

    json_t *ms = json_object();
    json_object_set_new(ms, "stages",
                        j->master_reports ? json_incref(j->master_reports) : json_array());
    json_object_set_new(ms, "measured", measured(&j->master_meas, j->in_rate));
    const lq_staging *st = &j->staging;
    json_t *sg = json_object();
    json_object_set_new(sg, "reference_lufs", st->wanted ? num(st->ref_lufs) : json_null());
    json_object_set_new(sg, "input_lufs", num(st->input_lufs));
    json_object_set_new(sg, "applied", json_boolean(st->applied));
    json_object_set_new(sg, "gain_db", num(st->gain_db));
    json_object_set_new(sg, "undone_db", num(0.0 - st->gain_db));
    json_object_set_new(ms, "input_staging", sg);
    json_object_set_new(r, "master", ms);
    if (j->n_refs) json_object_set_new(r, "reference", reference_json(j));

    json_t *mw = json_array();
    for (int i = 0; i < j->n_mix_warnings; i++)
        json_array_append_new(mw, json_string(j->mix_warnings[i]));
    json_object_set_new(r, "mix_warnings", mw);

    json_t *ex = json_array();
    for (size_t i = 0; i < j->n_targets; i++) json_array_append_new(ex, export_json(j, &j->exports[i]));
    json_object_set_new(r, "exports", ex);
    json_object_set_new(r, "all_met", json_boolean(lq_job_targets_met(j)));
    /* where the time went (wall seconds; each export has its own "timings") */
    json_t *tm = json_object(), *rs = json_array();
    json_object_set_new(tm, "master_s", num(j->time_master_s));
    for (size_t i = 0; i < j->n_groups; i++)
        if (j->groups[i].own) {
            json_t *g = json_object();
            json_object_set_new(g, "rate", json_integer((json_int_t)j->groups[i].rate));
            json_object_set_new(g, "seconds", num(j->groups[i].time_s));
            json_array_append_new(rs, g);
        }
    json_object_set_new(tm, "resample", rs);
    json_object_set_new(r, "timings", tm);
    return r;
}

char *lq_job_report_json(const lq_job *j)
{
    if (!j || !j->ran) return NULL;
    return lq_report_dump(lq_report_build(j));
}

char *lq_report_dump(json_t *r)
{
    if (!r) return NULL;
    char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(r);
    if (!s) return NULL;
    /* newline at the end of the file */
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return NULL;
    }
    t[n] = '\n';
    t[n + 1] = 0;
    return t;
}
