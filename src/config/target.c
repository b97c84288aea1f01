/* Distribution targets (presets/targets/NAME.yaml): loading and validating.  The keys
 * are documented in docs/PRESETS.md; the shipped figures come from TARGETS.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/preset.h"

const char *const lq_format_names[LQ_FMT_COUNT + 1] = {"wav", "flac", "aiff", "mp3",
                                                        "ogg", "opus", "aac", NULL};
const char *const lq_format_ext[LQ_FMT_COUNT] = {"wav", "flac", "aiff", "mp3", "ogg", "opus",
                                                 "m4a"};

int lq_format_is_lossy(lq_format f)
{
    return f == LQ_FMT_MP3 || f == LQ_FMT_OGG || f == LQ_FMT_OPUS || f == LQ_FMT_AAC;
}

const char *const lq_resampler_names[LQ_RESAMPLER_COUNT + 1] = {"soxr-vhq",
                                                                "libsamplerate-best", NULL};

int lq_target_rate(const lq_target *t, int in_rate)
{
    if (t->sample_rate) return t->sample_rate;
    return in_rate < t->min_sample_rate ? t->min_sample_rate : in_rate;
}

const char *const lq_target_file_keys[] = {
    "lacquer", "name", "description", "sample_rate", "format", "bit_depth", "loudness_lufs",
    "true_peak_dbtp", "codec_check", "bitrate_kbps", "filename", "limiter", "dither",
    "min_sample_rate", "resampler",
    /* issue 15: codec checks */
    "codec_guard_db", "aac_kbps",
    NULL};

#define RATE_MIN 8000
#define RATE_MAX 768000
/* FLAC's STREAMINFO stores the rate in 20 bits, and libFLAC's subset limit is 655350 Hz. */
#define FLAC_RATE_MAX 655350
#define DEFAULT_FILENAME "{title} ({target}).{ext}"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}

static int plain_digits(const lq_node *n)
{
    if (n->type != LQ_NODE_SCALAR || !n->plain || !n->value[0] || strlen(n->value) > 9)
        return 0;
    for (const char *p = n->value; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return 1;
}

static lq_error parse_rate(lq_target *t, const lq_node *n, lq_diag *d)
{
    char desc[128];
    if (n->type == LQ_NODE_SCALAR && strcmp(n->value, "source") == 0) {
        t->sample_rate = 0;
        return LQ_OK;
    }
    if (!plain_digits(n))
        return lq_cfg_error(d, n, "%s is not a sample rate (expected source or an integer from "
                            "%d to %d Hz)", lq_cfg_describe(n, desc, sizeof desc), RATE_MIN,
                            RATE_MAX);
    long v = strtol(n->value, NULL, 10);
    if (v < RATE_MIN || v > RATE_MAX)
        return lq_cfg_error(d, n, "%s is out of range (expected source or an integer from %d "
                            "to %d Hz)", n->value, RATE_MIN, RATE_MAX);
    t->sample_rate = (int)v;
    return LQ_OK;
}

/* min_sample_rate: the lowest rate the service takes; the source rate is raised to it,
 * and a fixed sample_rate must not be below it (check_combination). */
static lq_error parse_min_rate(lq_target *t, const lq_node *n, lq_diag *d)
{
    char desc[128];
    if (!plain_digits(n))
        return lq_cfg_error(d, n, "%s is not a sample rate (expected an integer from %d to "
                            "%d Hz)", lq_cfg_describe(n, desc, sizeof desc), RATE_MIN,
                            RATE_MAX);
    long v = strtol(n->value, NULL, 10);
    if (v < RATE_MIN || v > RATE_MAX)
        return lq_cfg_error(d, n, "%s is out of range (expected an integer from %d to %d Hz)",
                            n->value, RATE_MIN, RATE_MAX);
    t->min_sample_rate = (int)v;
    return LQ_OK;
}

static lq_error parse_bit_depth(lq_target *t, const lq_node *n, lq_diag *d)
{
    char desc[128];
    if (n->type == LQ_NODE_SCALAR) {
        if (n->plain && strcmp(n->value, "16") == 0) {
            t->bit_depth = 16;
            return LQ_OK;
        }
        if (n->plain && strcmp(n->value, "24") == 0) {
            t->bit_depth = 24;
            return LQ_OK;
        }
        if (strcmp(n->value, "32f") == 0) {
            t->bit_depth = 32;
            return LQ_OK;
        }
    }
    return lq_cfg_error(d, n, "%s is not a bit depth (expected 16, 24 or 32f for 32-bit float)",
                        lq_cfg_describe(n, desc, sizeof desc));
}

static lq_error parse_codec_check(lq_target *t, const lq_node *n, lq_diag *d)
{
    static const char *const lossy[] = {"mp3", "ogg", "opus", "aac", NULL};
    static const lq_format lossy_fmt[] = {LQ_FMT_MP3, LQ_FMT_OGG, LQ_FMT_OPUS, LQ_FMT_AAC};
    char desc[128];
    lq_error e = lq_cfg_expect_seq(n, 0, 8, "lossy formats to check", d);
    if (e) return e;
    for (size_t i = 0; n->type == LQ_NODE_SEQ && i < n->count; i++) {
        const lq_node *it = n->items[i];
        int found = -1;
        for (int k = 0; lossy[k] && it->type == LQ_NODE_SCALAR; k++)
            if (strcmp(it->value, lossy[k]) == 0) found = k;
        if (found < 0)
            return lq_cfg_error(d, it, "unknown value %s (expected one of: mp3, ogg, opus, aac)",
                                lq_cfg_describe(it, desc, sizeof desc));
        t->codec_check |= 1u << lossy_fmt[found];
    }
    return LQ_OK;
}

static lq_error check_filename(const lq_node *n, const char *pat, lq_diag *d)
{
    static const char *const names[] = {"title", "target", "ext", "artist", "album",
                                        "track", "track:02", "tracks", NULL};
    if (!pat[0])
        return lq_cfg_error(d, n, "an empty pattern (expected a file name pattern such as "
                            "\"%s\")", DEFAULT_FILENAME);
    if (strchr(pat, '/'))
        return lq_cfg_error(d, n, "\"%.100s\" contains '/' (expected a file name without "
                            "directories)", pat);
    for (const char *p = pat; *p; p++) {
        if (*p == '}')
            return lq_cfg_error(d, n, "unbalanced '}' in \"%.100s\" (expected placeholders "
                                "written as {title})", pat);
        if (*p != '{') continue;
        const char *close = strchr(p, '}');
        const char *next_open = strchr(p + 1, '{');
        if (!close || (next_open && next_open < close))
            return lq_cfg_error(d, n, "unbalanced '{' in \"%.100s\" (expected placeholders "
                                "written as {title})", pat);
        size_t len = (size_t)(close - p - 1);
        int ok = 0;
        for (size_t k = 0; names[k]; k++)
            if (strlen(names[k]) == len && strncmp(names[k], p + 1, len) == 0) ok = 1;
        if (!ok)
            return lq_cfg_error(d, n, "unknown placeholder \"%.*s\" (expected {title}, "
                                "{target}, {ext}, {artist}, {album}, {track}, {track:02} or "
                                "{tracks})",
                                (int)(len > 60 ? 60 : len) + 2, p);
        p = close;
    }
    return LQ_OK;
}

/* A finishing-stage override map (limiter:, dither:) is checked now with the stage's own
 * parser when the stage exists, so a bad key is reported at load time. */
static lq_error check_stage_node(const char *stage, const lq_node *n, int required,
                                 lq_diag *d)
{
    const lq_stage_vt *vt = lq_stage_find(stage);
    if (!vt) {
        if (!required) return LQ_OK;
        return lq_cfg_error(d, n, "%s stage not available in this build (expected no %s: "
                            "in this build)", stage, stage);
    }
    lq_stage_spec tmp;
    lq_error e = lq_stage_spec_parse(&tmp, vt, n, d);
    if (e) return e;
    lq_stage_spec_free(&tmp);
    return LQ_OK;
}

static const int mp3_rates[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};

static lq_error check_combination(lq_target *t, lq_diag *d)
{
    const lq_node *r = t->root;
    const lq_node *rate = lq_node_get(r, "sample_rate");
    const lq_node *fmt = lq_node_get(r, "format");
    const lq_node *depth = lq_node_get(r, "bit_depth");
    const char *fname = lq_format_names[t->format];

    if (t->format == LQ_FMT_OPUS && t->sample_rate != 48000) {
        /* libsndfile's Opus encoder writes 8/12/16/24/48 kHz; we deliver 48 kHz only. */
        if (!rate)
            return lq_cfg_error(d, fmt, "opus cannot use the source sample rate (expected "
                                "sample_rate: 48000 with format opus)");
        return lq_cfg_error(d, rate, "%s is not supported by format opus (expected 48000)",
                            rate->value);
    }
    if (t->format == LQ_FMT_FLAC && t->bit_depth == 32)
        return lq_cfg_error(d, depth ? depth : fmt, "32f is not supported by format flac "
                            "(expected 16 or 24)");
    if (t->format == LQ_FMT_FLAC && t->sample_rate > FLAC_RATE_MAX)
        return lq_cfg_error(d, rate, "%s is not supported by format flac (expected at most "
                            "%d Hz)", rate->value, FLAC_RATE_MAX);
    const lq_node *floor = lq_node_get(r, "min_sample_rate");
    if (t->sample_rate && t->sample_rate < t->min_sample_rate)
        return lq_cfg_error(d, rate, "%d is below min_sample_rate %d (expected source or at "
                            "least %d Hz)", t->sample_rate, t->min_sample_rate,
                            t->min_sample_rate);
    if (t->format == LQ_FMT_FLAC && t->min_sample_rate > FLAC_RATE_MAX)
        return lq_cfg_error(d, floor, "%s is not supported by format flac (expected at most "
                            "%d Hz)", floor->value, FLAC_RATE_MAX);
    if (t->format == LQ_FMT_MP3 && t->min_sample_rate != 0) {
        int ok = 0;
        for (size_t i = 0; i < sizeof mp3_rates / sizeof mp3_rates[0]; i++)
            if (mp3_rates[i] == t->min_sample_rate) ok = 1;
        if (!ok)
            return lq_cfg_error(d, floor, "%s is not supported by format mp3 (expected one of: "
                                "8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, "
                                "48000)", floor->value);
    }
    if (t->format == LQ_FMT_MP3 && t->sample_rate != 0) {
        int ok = 0;
        for (size_t i = 0; i < sizeof mp3_rates / sizeof mp3_rates[0]; i++)
            if (mp3_rates[i] == t->sample_rate) ok = 1;
        if (!ok)
            return lq_cfg_error(d, rate, "%s is not supported by format mp3 (expected one of: "
                                "8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, "
                                "48000)", rate->value);
    }

    if (t->format == LQ_FMT_AAC && t->sample_rate != 0) {
        static const int aac_rates[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000,
                                        44100, 48000, 64000, 88200, 96000};
        int ok = 0;
        for (size_t i = 0; i < sizeof aac_rates / sizeof aac_rates[0]; i++)
            if (aac_rates[i] == t->sample_rate) ok = 1;
        if (!ok)
            return lq_cfg_error(d, rate, "%s is not supported by format aac (expected one of: "
                                "8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, "
                                "48000, 64000, 88200, 96000)", rate->value);
    }

    const lq_node *br = lq_node_get(r, "bitrate_kbps");
    if (!lq_format_is_lossy(t->format)) {
        if (br)
            return lq_cfg_error(d, br, "a bitrate applies only to lossy formats (expected no "
                                "bitrate_kbps with format %s)", fname);
        t->bitrate_kbps = 0;
        return LQ_OK;
    }
    /* Bitrate limits: MPEG-1 Layer III tops out at 320 kbit/s (ISO/IEC 11172-3); Opus
     * at 510 kbit/s (RFC 6716 §2.1.1); Vorbis q10 is about 500 kbit/s for stereo. */
    long lo = 32, hi = t->format == LQ_FMT_MP3 ? 320 : t->format == LQ_FMT_OGG ? 500 : 510;
    long def = t->format == LQ_FMT_MP3 ? 320 : t->format == LQ_FMT_OGG ? 256 : 160;
    if (t->format == LQ_FMT_AAC) hi = 320, def = 256;  /* Apple Music, YouTube: 256 kbit/s */
    long v = def;
    if (br) {
        char desc[128];
        if (!plain_digits(br))
            return lq_cfg_error(d, br, "%s is not an integer (expected kbit/s from %ld to %ld "
                                "for format %s)", lq_cfg_describe(br, desc, sizeof desc), lo,
                                hi, fname);
        v = strtol(br->value, NULL, 10);
        if (v < lo || v > hi)
            return lq_cfg_error(d, br, "%s is out of range (expected kbit/s from %ld to %ld "
                                "for format %s)", br->value, lo, hi, fname);
    }
    t->bitrate_kbps = (int)v;
    return LQ_OK;
}

static lq_error target_validate(lq_target *t, lq_diag *d)
{
    const lq_node *r = t->root;
    lq_error e = lq_cfg_expect_map(r, lq_target_file_keys, "target", d);
    if (e) return e;
    if (!lq_node_get(r, "name"))
        return lq_cfg_missing(d, r, "name", "the target's name, a string");
    e = lq_cfg_string(r, "name", 64, &t->name, d);
    if (e) return e;
    if (!t->name[0])
        return lq_cfg_error(d, lq_node_get(r, "name"), "an empty name (expected the target's "
                            "name, a string)");
    e = lq_cfg_string(r, "description", 500, &t->description, d);
    if (e) return e;
    if (!t->description && !(t->description = dup_str("")))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");

    const lq_node *n;
    t->sample_rate = 0;
    if ((n = lq_node_get(r, "sample_rate")) && (e = parse_rate(t, n, d))) return e;
    t->min_sample_rate = 0;
    if ((n = lq_node_get(r, "min_sample_rate")) && (e = parse_min_rate(t, n, d))) return e;
    int rs = LQ_RESAMPLER_SOXR_VHQ;
    if ((e = lq_cfg_enum(r, "resampler", lq_resampler_names, &rs, d))) return e;
    t->resampler = (lq_resampler)rs;
    int fmt = LQ_FMT_WAV;
    if ((e = lq_cfg_enum(r, "format", lq_format_names, &fmt, d))) return e;
    t->format = (lq_format)fmt;
    t->bit_depth = 24;
    if ((n = lq_node_get(r, "bit_depth")) && (e = parse_bit_depth(t, n, d))) return e;
    int is_null = 1;
    t->loudness_lufs = 0.0;
    if ((e = lq_cfg_number_or_null(r, "loudness_lufs", -70.0, 0.0, "LUFS", &t->loudness_lufs,
                                   &is_null, d)))
        return e;
    t->has_loudness = !is_null;
    if (is_null) t->loudness_lufs = 0.0;
    t->true_peak_dbtp = -1.0;
    if ((e = lq_cfg_number(r, "true_peak_dbtp", -20.0, 0.0, "dBTP", &t->true_peak_dbtp, d)))
        return e;
    t->codec_check = 0;
    if ((n = lq_node_get(r, "codec_check")) && (e = parse_codec_check(t, n, d))) return e;
    /* issue 15: codec checks */
    t->codec_guard_db = LQ_CODEC_GUARD_DB_DEFAULT;
    if ((e = lq_cfg_number(r, "codec_guard_db", 0.0, 3.0, "dB", &t->codec_guard_db, d)))
        return e;
    double aac_kbps = 256;
    if ((e = lq_cfg_number(r, "aac_kbps", 64, 320, "kbit/s", &aac_kbps, d))) return e;
    t->aac_kbps = (int)aac_kbps;
    if ((e = lq_cfg_string(r, "filename", 200, &t->filename, d))) return e;
    if (!t->filename) {
        if (!(t->filename = dup_str(DEFAULT_FILENAME)))
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    } else if ((e = check_filename(lq_node_get(r, "filename"), t->filename, d))) {
        return e;
    }
    t->limiter_node = lq_node_get(r, "limiter");
    if (t->limiter_node && (e = check_stage_node("limiter", t->limiter_node, 1, d))) return e;
    t->dither_node = lq_node_get(r, "dither");
    if (t->dither_node && (e = check_stage_node("dither", t->dither_node, 0, d))) return e;
    return check_combination(t, d);
}

void lq_target_destroy(lq_target **tp)
{
    if (!tp || !*tp) return;
    lq_target *t = *tp;
    free(t->name);
    free(t->description);
    free(t->file);
    free(t->filename);
    lq_node_free(t->root);
    free(t);
    *tp = NULL;
}

lq_error lq_target_load(lq_target **out, const char *name_or_path, const char *preset_dir,
                        const lq_overrides *ov, char *err, size_t errlen)
{
    lq_diag d = {{0}};
    if (err && errlen) err[0] = '\0';
    if (!out) return LQ_ERR_ARG;
    *out = NULL;
    lq_target *t = calloc(1, sizeof *t);
    if (!t) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return LQ_ERR_NOMEM;
    }
    lq_error e = lq_config_load_tree(name_or_path, preset_dir, 1, ov, &t->root, &t->file, &d);
    if (!e) e = target_validate(t, &d);
    if (e) {
        if (err && errlen) snprintf(err, errlen, "%s", d.msg);
        lq_target_destroy(&t);
        return e;
    }
    *out = t;
    return LQ_OK;
}

const char *lq_target_name(const lq_target *t)
{
    return t ? t->name : NULL;
}

const char *lq_target_description(const lq_target *t)
{
    return t ? t->description : NULL;
}
