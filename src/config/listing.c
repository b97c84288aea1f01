/* Presets and targets as data (`lacquer presets|targets --json|--long`): every field of a
 * loaded target or preset as one JSON object whose keys are the file's own keys
 * (docs/PRESETS.md), so a script can read what a shipped name stands for. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "config/preset.h"
#include "lacquer/lacquer.h"
#include "stage.h"

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

char *lq_target_json(const lq_target *t)
{
    if (!t) return NULL;
    json_t *o = json_object();
    if (!o) return NULL;
    int lossy = lq_format_is_lossy(t->format);
    json_object_set_new(o, "name", str_or_null(t->name));
    json_object_set_new(o, "description", str_or_null(t->description));
    json_object_set_new(o, "file", str_or_null(t->file));
    json_object_set_new(o, "sample_rate", t->sample_rate ? json_integer(t->sample_rate)
                                                         : json_string("source"));
    json_object_set_new(o, "format", json_string(lq_format_names[t->format]));
    json_object_set_new(o, "bit_depth", lossy ? json_null()
                                        : t->bit_depth == 32 ? json_string("32f")
                                                             : json_integer(t->bit_depth));
    json_object_set_new(o, "bitrate_kbps", lossy ? json_integer(t->bitrate_kbps) : json_null());
    json_object_set_new(o, "loudness_lufs", t->has_loudness && isfinite(t->loudness_lufs)
                                                ? json_real(t->loudness_lufs)
                                                : json_null());
    json_object_set_new(o, "true_peak_dbtp", json_real(t->true_peak_dbtp));
    json_t *cc = json_array();
    for (int f = 0; f < LQ_FMT_COUNT; f++)
        if (t->codec_check & (1u << f)) json_array_append_new(cc, json_string(lq_format_names[f]));
    json_object_set_new(o, "codec_check", cc);
    json_object_set_new(o, "filename", str_or_null(t->filename));
    json_object_set_new(o, "limiter_override", json_boolean(t->limiter_node != NULL));
    json_object_set_new(o, "dither_override", json_boolean(t->dither_node != NULL));
    json_object_set_new(o, "min_sample_rate", t->min_sample_rate ? json_integer(t->min_sample_rate)
                                                                 : json_null());
    json_object_set_new(o, "resampler", json_string(lq_resampler_names[t->resampler]));
    json_object_set_new(o, "codec_guard_db", json_real(t->codec_guard_db));
    json_object_set_new(o, "aac_kbps", json_integer(t->aac_kbps));
    return dump(o);
}

char *lq_preset_json(const lq_preset *p)
{
    if (!p) return NULL;
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "name", str_or_null(p->name));
    json_object_set_new(o, "description", str_or_null(p->description));
    json_object_set_new(o, "file", str_or_null(p->file));
    json_t *m = json_array();
    for (size_t i = 0; i < p->n_master; i++)
        json_array_append_new(m, json_string(p->master[i].vt ? p->master[i].vt->name : "?"));
    json_object_set_new(o, "master", m);
    json_object_set_new(o, "input_lufs", p->has_input_ref ? json_real(p->input_lufs)
                                                          : json_null());
    const lq_preset_character *ch = &p->character;
    json_t *c = ch->present ? json_object() : json_null();
    if (ch->present) {
        json_t *lra = json_object(), *plr = json_object(), *tone = json_array();
        json_object_set_new(c, "summary", str_or_null(ch->summary));
        for (int k = 0; k < LQ_CHAR_STYLES; k++) {
            json_object_set_new(lra, lq_char_style_names[k], json_real(ch->lra_change_lu[k]));
            json_object_set_new(plr, lq_char_style_names[k], json_real(ch->plr_db[k]));
        }
        for (int b = 0; b < LQ_CHAR_OCTAVES; b++) json_array_append_new(tone, json_real(ch->tone_db[b]));
        json_object_set_new(c, "lra_change_lu", lra);
        json_object_set_new(c, "plr_db", plr);
        json_object_set_new(c, "tone_octave_hz", json_pack("[ffffffffff]", 31.25, 62.5, 125.0,
                                                           250.0, 500.0, 1000.0, 2000.0,
                                                           4000.0, 8000.0, 16000.0));
        json_object_set_new(c, "tone_db", tone);
    }
    json_object_set_new(o, "character", c);
    json_object_set_new(o, "limiter", json_boolean(p->limiter.vt != NULL));
    json_object_set_new(o, "loudness_lufs", p->has_level ? json_real(p->level_lufs)
                                                         : json_null());
    json_t *t = json_array();
    for (size_t i = 0; i < p->n_targets; i++) json_array_append_new(t, json_string(p->targets[i]));
    json_object_set_new(o, "targets", t);
    json_t *r = p->has_reference ? json_object() : json_null();
    if (p->has_reference) {
        json_t *files = json_array(), *w = json_array();
        for (size_t i = 0; i < p->n_refs; i++) {
            json_array_append_new(files, json_string(p->ref_files[i]));
            json_array_append_new(w, json_real(p->ref_weights[i]));
        }
        json_object_set_new(r, "files", files);
        json_object_set_new(r, "weights", w);
        json_object_set_new(r, "strength", json_real(p->ref_strength));
        json_object_set_new(r, "width_strength", json_real(p->ref_width_strength));
        json_object_set_new(r, "max_boost_db", json_real(p->ref_max_boost_db));
        json_object_set_new(r, "max_cut_db", json_real(p->ref_max_cut_db));
        json_object_set_new(r, "boost_lo_hz", json_real(p->ref_boost_lo_hz));
        json_object_set_new(r, "boost_hi_hz", json_real(p->ref_boost_hi_hz));
    }
    json_object_set_new(o, "reference", r);
    return dump(o);
}
