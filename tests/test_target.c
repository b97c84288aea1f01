/* Targets: every shipped target loads with the figures of TARGETS.md; defaults; a table
 * of bad target files each with its exact error line; --set on targets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/preset.h"

static char g_tmp[256];

static const char *preset_dir(void)
{
    const char *env = getenv("LACQUER_PRESET_DIR");
    return env && env[0] ? env : LQ_SOURCE_DIR "/presets";
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/lq_test_target_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The figures of /work/shared/TARGETS.md as shipped (rate 0 = source; lufs 99 = null). */
typedef struct expect_target {
    const char *name;
    int rate;
    lq_format fmt;
    int depth;
    double lufs;
    double tp;
    int bitrate;
} expect_target;

static const expect_target k_expected[] = {
    {"spotify", 0, LQ_FMT_WAV, 24, -14, -1.0, 0},
    {"apple-music", 0, LQ_FMT_WAV, 24, -16, -1.0, 0},
    {"youtube", 48000, LQ_FMT_WAV, 24, -14, -1.0, 0},
    {"tidal", 0, LQ_FMT_FLAC, 24, -14, -1.0, 0},
    {"amazon-music", 0, LQ_FMT_WAV, 24, -14, -2.0, 0},
    {"deezer", 0, LQ_FMT_WAV, 24, -15, -1.0, 0},
    {"soundcloud", 0, LQ_FMT_WAV, 24, 99, -1.0, 0},
    {"bandcamp", 0, LQ_FMT_FLAC, 24, 99, -1.0, 0},
    {"cd", 44100, LQ_FMT_WAV, 16, 99, -1.0, 0},
    {"hires-96", 96000, LQ_FMT_FLAC, 24, 99, -1.0, 0},
    {"ebu-r128", 48000, LQ_FMT_WAV, 24, -23, -1.0, 0},
    {"atsc-a85", 48000, LQ_FMT_WAV, 24, -24, -2.0, 0},
    {"podcast", 44100, LQ_FMT_MP3, 24, -16, -1.0, 128},
    {"mp3-320", 44100, LQ_FMT_MP3, 24, 99, -1.0, 320},
    {"opus-160", 48000, LQ_FMT_OPUS, 24, 99, -1.0, 160},
    {"flac-archive", 0, LQ_FMT_FLAC, 24, 99, -1.0, 0},
};

/* Expand {target} and {ext} of a pattern with title "T". */
static void expand(const lq_target *t, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = t->filename; *p && o + 1 < len;) {
        const char *rep = NULL;
        size_t skip = 1;
        if (!strncmp(p, "{title}", 7)) rep = "T", skip = 7;
        else if (!strncmp(p, "{target}", 8)) rep = t->name, skip = 8;
        else if (!strncmp(p, "{ext}", 5)) rep = lq_format_ext[t->format], skip = 5;
        else if (!strncmp(p, "{artist}", 8)) rep = "A", skip = 8;
        else if (!strncmp(p, "{album}", 7)) rep = "B", skip = 7;
        if (rep) {
            o += (size_t)snprintf(out + o, len - o, "%s", rep);
            p += skip;
        } else {
            out[o++] = *p++;
        }
    }
    out[o < len ? o : len - 1] = '\0';
}

static void test_shipped_targets(void **state)
{
    (void)state;
    char **names;
    size_t n;
    assert_int_equal(lq_preset_names(preset_dir(), "targets", &names, &n), LQ_OK);
    size_t n_exp = sizeof k_expected / sizeof k_expected[0];
    /* every target of TARGETS.md ships, and every shipped target is checked here */
    assert_int_equal(n, n_exp);
    char files[32][300];
    for (size_t i = 0; i < n; i++) {
        char err[1024];
        lq_target *t = NULL;
        if (lq_target_load(&t, names[i], preset_dir(), NULL, err, sizeof err))
            fail_msg("target %s: %s", names[i], err);
        assert_string_equal(lq_target_name(t), names[i]);
        assert_true(strlen(lq_target_description(t)) > 10);
        const expect_target *x = NULL;
        for (size_t k = 0; k < n_exp; k++)
            if (!strcmp(k_expected[k].name, names[i])) x = &k_expected[k];
        if (!x) fail_msg("shipped target %s is not in the expected table", names[i]);
        if (t->sample_rate != x->rate || t->format != x->fmt || t->bit_depth != x->depth ||
            t->has_loudness != (x->lufs != 99) ||
            (t->has_loudness && t->loudness_lufs != x->lufs) || t->true_peak_dbtp != x->tp ||
            t->bitrate_kbps != x->bitrate)
            fail_msg("%s: rate %d fmt %d depth %d loud %d %.1f tp %.1f br %d", names[i],
                     t->sample_rate, t->format, t->bit_depth, t->has_loudness,
                     t->loudness_lufs, t->true_peak_dbtp, t->bitrate_kbps);
        /* opus is only ever delivered at 48 kHz, flac never as float */
        if (t->format == LQ_FMT_OPUS) assert_int_equal(t->sample_rate, 48000);
        if (t->format == LQ_FMT_FLAC) assert_true(t->bit_depth != 32);
        /* codec_check holds only lossy formats */
        for (int f = 0; f < LQ_FMT_COUNT; f++)
            if (t->codec_check & (1u << f)) assert_true(lq_format_is_lossy((lq_format)f));
        expand(t, files[i], sizeof files[i]);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(files[k], files[i]))
                fail_msg("targets %s and %s write the same file \"%s\"", names[k], names[i],
                         files[i]);
        lq_target_destroy(&t);
        assert_null(t);
    }
    /* floors where the service states one (TARGETS.md: Spotify "44.1 kHz or higher",
     * Apple 44.1-192 kHz); every shipped target resamples with the default converter */
    for (size_t i = 0; i < n; i++) {
        char err[1024];
        lq_target *t = NULL;
        if (lq_target_load(&t, names[i], preset_dir(), NULL, err, sizeof err))
            fail_msg("target %s: %s", names[i], err);
        int floor = !strcmp(names[i], "spotify") || !strcmp(names[i], "apple-music") ? 44100
                                                                                       : 0;
        if (t->min_sample_rate != floor)
            fail_msg("%s: min_sample_rate %d, expected %d", names[i], t->min_sample_rate, floor);
        assert_int_equal(t->resampler, LQ_RESAMPLER_SOXR_VHQ);
        if (!strcmp(names[i], "apple-music")) {
            assert_int_equal(lq_target_rate(t, 44100), 44100); /* never upsampled to 96k */
            assert_int_equal(lq_target_rate(t, 96000), 96000);
            assert_int_equal(lq_target_rate(t, 32000), 44100);
        }
        lq_target_destroy(&t);
    }
    /* spot checks of the expansion */
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], "cd")) assert_string_equal(files[i], "T (cd).wav");
    lq_preset_names_free(names, n);
}

static void test_formats(void **state)
{
    (void)state;
    static const char *const names[] = {"wav", "flac", "aiff", "mp3", "ogg", "opus", "aac"};
    for (int f = 0; f < LQ_FMT_COUNT; f++) {
        assert_string_equal(lq_format_names[f], names[f]);
        assert_int_equal(lq_format_is_lossy((lq_format)f), f >= LQ_FMT_MP3);
        assert_non_null(lq_format_ext[f]);
    }
    assert_null(lq_format_names[LQ_FMT_COUNT]);
}

static lq_target *load_text(const char *text, const lq_overrides *ov, char *err, size_t len)
{
    char path[400];
    write_file("t.yaml", text, path, sizeof path);
    lq_target *t = NULL;
    if (lq_target_load(&t, path, preset_dir(), ov, err, len)) return NULL;
    return t;
}

static void test_defaults(void **state)
{
    (void)state;
    char err[1024];
    lq_target *t = load_text("lacquer: 1\nname: t\n", NULL, err, sizeof err);
    if (!t) fail_msg("%s", err);
    assert_int_equal(t->sample_rate, 0);
    assert_int_equal(t->min_sample_rate, 0);
    assert_int_equal(t->resampler, LQ_RESAMPLER_SOXR_VHQ);
    assert_int_equal(lq_target_rate(t, 32000), 32000);
    assert_int_equal(lq_target_rate(t, 96000), 96000);
    assert_int_equal(t->format, LQ_FMT_WAV);
    assert_int_equal(t->bit_depth, 24);
    assert_int_equal(t->has_loudness, 0);
    assert_true(t->true_peak_dbtp == -1.0);
    assert_int_equal(t->codec_check, 0);
    assert_int_equal(t->bitrate_kbps, 0);
    assert_string_equal(t->filename, "{title} ({target}).{ext}");
    assert_null(t->limiter_node);
    assert_null(t->dither_node);
    assert_string_equal(lq_target_description(t), "");
    lq_target_destroy(&t);

    /* lossy bitrate defaults; 32f; every placeholder; codec_check bits */
    static const struct {
        const char *text;
        int bitrate;
    } lossy[] = {
        {"lacquer: 1\nname: t\nformat: mp3\nsample_rate: 44100\n", 320},
        {"lacquer: 1\nname: t\nformat: ogg\n", 256},
        {"lacquer: 1\nname: t\nformat: opus\nsample_rate: 48000\n", 160},
        {"lacquer: 1\nname: t\nformat: opus\nsample_rate: 48000\nbitrate_kbps: 510\n", 510},
    };
    for (size_t i = 0; i < sizeof lossy / sizeof lossy[0]; i++) {
        t = load_text(lossy[i].text, NULL, err, sizeof err);
        if (!t) fail_msg("case %zu: %s", i, err);
        assert_int_equal(t->bitrate_kbps, lossy[i].bitrate);
        lq_target_destroy(&t);
    }
    t = load_text("lacquer: 1\nname: t\nbit_depth: 32f\nsample_rate: 192000\nformat: aiff\n"
                  "codec_check: [opus, mp3]\nloudness_lufs: -9.5\ntrue_peak_dbtp: -0.1\n"
                  "filename: \"{artist} - {album} - {title} [{target}].{ext}\"\n",
                  NULL, err, sizeof err);
    if (!t) fail_msg("%s", err);
    assert_int_equal(t->bit_depth, 32);
    assert_int_equal(t->sample_rate, 192000);
    assert_int_equal(t->format, LQ_FMT_AIFF);
    assert_int_equal(t->codec_check, (1u << LQ_FMT_OPUS) | (1u << LQ_FMT_MP3));
    assert_int_equal(t->has_loudness, 1);
    assert_true(t->loudness_lufs == -9.5);
    assert_true(t->true_peak_dbtp == -0.1);
    lq_target_destroy(&t);

    /* finishing-stage overrides are kept as nodes (validated by the stage if built) */
    if (lq_stage_find("dither")) {
        t = load_text("lacquer: 1\nname: t\ndither: {type: rpdf}\n", NULL, err, sizeof err);
        if (!t) fail_msg("%s", err);
        assert_non_null(t->dither_node);
        assert_string_equal(t->dither_node->path, "dither");
        /* lq_stage_spec_override: the target's map on top of a base spec */
        lq_stage_spec base, over;
        lq_diag d = {{0}};
        assert_int_equal(lq_stage_spec_parse(&base, lq_stage_find("dither"), NULL, &d), LQ_OK);
        assert_int_equal(lq_stage_spec_override(&over, &base, t->dither_node, &d), LQ_OK);
        assert_ptr_equal(over.vt, base.vt);
        assert_true(memcmp(over.cfg, base.cfg, base.vt->config_size) != 0);
        lq_stage_spec_free(&over);
        lq_stage_spec_free(&base);
        assert_null(base.cfg);
        lq_target_destroy(&t);
        assert_null(load_text("lacquer: 1\nname: t\ndither: {type: pink}\n", NULL, err,
                              sizeof err));
        if (!strstr(err, ":3:16: dither.type: unknown value pink (expected one of: "))
            fail_msg("dither: %s", err);
    }
}

typedef struct bad_case {
    const char *label, *text, *expect; /* expect: after "PATH" */
} bad_case;

static void check_bad(const bad_case *c, const lq_overrides *ov)
{
    char path[400], err[1024], expect[1400];
    write_file("bad.yaml", c->text, path, sizeof path);
    lq_target *t = NULL;
    lq_error e = lq_target_load(&t, path, preset_dir(), ov, err, sizeof err);
    if (c->expect[0] == '-')
        snprintf(expect, sizeof expect, "%s", c->expect);
    else
        snprintf(expect, sizeof expect, "%s%s", path, c->expect);
    if (e != LQ_ERR_PRESET || strcmp(err, expect) != 0)
        fail_msg("%s: got %d\n  \"%s\"\nexpected\n  \"%s\"", c->label, e, err, expect);
    assert_null(t);
}

#define HEAD "lacquer: 1\nname: t\n"

static void test_bad_targets(void **state)
{
    (void)state;
    const bad_case cases[] = {
        {"unknown key", HEAD "loudness: -14\n",
         ":3:1: unknown key \"loudness\" (expected one of: lacquer, name, description, "
         "sample_rate, format, bit_depth, loudness_lufs, true_peak_dbtp, codec_check, "
         "bitrate_kbps, filename, limiter, dither, min_sample_rate, resampler, codec_guard_db, aac_kbps)"},
        {"missing lacquer", "name: t\n",
         ":1:1: lacquer: missing required key (expected lacquer: 1, the schema version, as "
         "the first key)"},
        {"wrong version", "lacquer: 3\nname: t\n",
         ":1:10: lacquer: version 3 is not supported (expected 1, the version this build "
         "reads)"},
        {"missing name", "lacquer: 1\nformat: wav\n",
         ":1:1: name: missing required key (expected the target's name, a string)"},
        {"syntax error", HEAD "format: wav\n codec_check: [mp3]\n",
         ":4:13: syntax error: mapping values are not allowed in this context"},
        {"loudness not a number", HEAD "loudness_lufs: \"loud\"\n",
         ":3:16: loudness_lufs: \"loud\" is not a number (expected LUFS from -70 to 0, or "
         "null)"},
        {"loudness out of range", HEAD "loudness_lufs: 3\n",
         ":3:16: loudness_lufs: 3 is out of range (expected LUFS from -70 to 0, or null)"},
        {"true peak out of range", HEAD "true_peak_dbtp: -21\n",
         ":3:17: true_peak_dbtp: -21 is out of range (expected dBTP from -20 to 0)"},
        {"sample rate out of range", HEAD "sample_rate: 1000\n",
         ":3:14: sample_rate: 1000 is out of range (expected source or an integer from 8000 "
         "to 768000 Hz)"},
        {"sample rate not an integer", HEAD "sample_rate: 44.1k\n",
         ":3:14: sample_rate: 44.1k is not a sample rate (expected source or an integer from "
         "8000 to 768000 Hz)"},
        {"bad format", HEAD "format: m4a\n",
         ":3:9: format: unknown value m4a (expected one of: wav, flac, aiff, mp3, ogg, opus, aac)"},
        {"bad bit_depth", HEAD "bit_depth: 32\n",
         ":3:12: bit_depth: 32 is not a bit depth (expected 16, 24 or 32f for 32-bit float)"},
        {"flac 32f", HEAD "format: flac\nbit_depth: 32f\n",
         ":4:12: bit_depth: 32f is not supported by format flac (expected 16 or 24)"},
        {"flac above 655350 Hz", HEAD "format: flac\nsample_rate: 768000\n",
         ":4:14: sample_rate: 768000 is not supported by format flac (expected at most "
         "655350 Hz)"},
        {"opus at 44100", HEAD "format: opus\nsample_rate: 44100\n",
         ":4:14: sample_rate: 44100 is not supported by format opus (expected 48000)"},
        {"opus at source (written)", HEAD "format: opus\nsample_rate: source\n",
         ":4:14: sample_rate: source is not supported by format opus (expected 48000)"},
        {"opus at source (default)", HEAD "format: opus\n",
         ":3:9: format: opus cannot use the source sample rate (expected sample_rate: 48000 "
         "with format opus)"},
        {"mp3 at 96000", HEAD "format: mp3\nsample_rate: 96000\n",
         ":4:14: sample_rate: 96000 is not supported by format mp3 (expected one of: 8000, "
         "11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)"},
        {"bitrate on wav", HEAD "bitrate_kbps: 320\n",
         ":3:15: bitrate_kbps: a bitrate applies only to lossy formats (expected no "
         "bitrate_kbps with format wav)"},
        {"mp3 bitrate too high", HEAD "format: mp3\nsample_rate: 44100\nbitrate_kbps: 384\n",
         ":5:15: bitrate_kbps: 384 is out of range (expected kbit/s from 32 to 320 for format "
         "mp3)"},
        {"codec_check lossless", HEAD "codec_check: [mp3, flac]\n",
         ":3:20: codec_check[1]: unknown value flac (expected one of: mp3, ogg, opus, aac)"},
        {"codec_check scalar", HEAD "codec_check: mp3\n",
         ":3:14: codec_check: mp3 is not a sequence (expected lossy formats to check: a "
         "sequence of 0 to 8 items)"},
        {"bad filename placeholder", HEAD "filename: \"{titel}.{ext}\"\n",
         ":3:11: filename: unknown placeholder \"{titel}\" (expected {title}, {target}, {ext}, "
         "{artist}, {album}, {track}, {track:02} or {tracks})"},
        {"filename with a slash", HEAD "filename: \"out/{title}.{ext}\"\n",
         ":3:11: filename: \"out/{title}.{ext}\" contains '/' (expected a file name without "
         "directories)"},
        {"filename unbalanced", HEAD "filename: \"{title.{ext}\"\n",
         ":3:11: filename: unbalanced '{' in \"{title.{ext}\" (expected placeholders written "
         "as {title})"},
        {"floor not an integer", HEAD "min_sample_rate: 44.1k\n",
         ":3:18: min_sample_rate: 44.1k is not a sample rate (expected an integer from 8000 "
         "to 768000 Hz)"},
        {"floor source", HEAD "min_sample_rate: source\n",
         ":3:18: min_sample_rate: source is not a sample rate (expected an integer from 8000 "
         "to 768000 Hz)"},
        {"floor out of range", HEAD "min_sample_rate: 800000\n",
         ":3:18: min_sample_rate: 800000 is out of range (expected an integer from 8000 to "
         "768000 Hz)"},
        {"fixed rate under the floor", HEAD "sample_rate: 32000\nmin_sample_rate: 44100\n",
         ":3:14: sample_rate: 32000 is below min_sample_rate 44100 (expected source or at "
         "least 44100 Hz)"},
        {"mp3 floor", HEAD "format: mp3\nmin_sample_rate: 88200\n",
         ":4:18: min_sample_rate: 88200 is not supported by format mp3 (expected one of: "
         "8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)"},
        {"flac floor", HEAD "format: flac\nmin_sample_rate: 768000\n",
         ":4:18: min_sample_rate: 768000 is not supported by format flac (expected at most "
         "655350 Hz)"},
        {"bad resampler", HEAD "resampler: sinc-best\n",
         ":3:12: resampler: unknown value sinc-best (expected one of: soxr-vhq, "
         "libsamplerate-best)"},
        {"resampler not a scalar", HEAD "resampler: [soxr-vhq]\n",
         ":3:12: resampler: a sequence is not a name (expected one of: soxr-vhq, "
         "libsamplerate-best)"},
        {"limiter not a map", HEAD "limiter: 5\n",
         ":3:10: limiter: 5 is not a map (expected a map of limiter stage settings)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* the limiter case needs the limiter stage; without it the message differs */
        if (!strcmp(cases[i].label, "limiter not a map") && !lq_stage_find("limiter")) {
            bad_case c = {"limiter not built", HEAD "limiter: {}\n",
                          ":3:10: limiter: limiter stage not available in this build "
                          "(expected no limiter: in this build)"};
            check_bad(&c, NULL);
            continue;
        }
        check_bad(&cases[i], NULL);
    }
}

static void test_target_overrides(void **state)
{
    (void)state;
    char err[1024];
    lq_overrides *ov = NULL;
    assert_int_equal(lq_overrides_new(&ov), LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "loudness_lufs=-16", err, sizeof err), LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "codec_check=[mp3]", err, sizeof err), LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "filename=\"{title}-{target}.{ext}\"", err,
                                      sizeof err), LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "targets=[cd]", err, sizeof err), LQ_OK); /* preset */
    lq_target *t = NULL;
    if (lq_target_load(&t, "spotify", preset_dir(), ov, err, sizeof err)) fail_msg("%s", err);
    assert_true(t->has_loudness);
    assert_true(t->loudness_lufs == -16.0);
    assert_int_equal(t->codec_check, 1u << LQ_FMT_MP3);
    assert_string_equal(t->filename, "{title}-{target}.{ext}");
    lq_target_destroy(&t);
    lq_overrides_destroy(&ov);

    /* the converter and the floor can be set; a fixed rate at or above the floor is
     * fine, below it is refused */
    assert_int_equal(lq_overrides_new(&ov), LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "resampler=libsamplerate-best", err, sizeof err),
                     LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "min_sample_rate=48000", err, sizeof err), LQ_OK);
    if (lq_target_load(&t, "spotify", preset_dir(), ov, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(t->resampler, LQ_RESAMPLER_LSR_BEST);
    assert_int_equal(t->min_sample_rate, 48000);
    assert_int_equal(lq_target_rate(t, 44100), 48000);
    assert_int_equal(lq_target_rate(t, 88200), 88200);
    lq_target_destroy(&t);
    lq_overrides_destroy(&ov);
    assert_int_equal(lq_overrides_new(&ov), LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "sample_rate=96000", err, sizeof err), LQ_OK);
    if (lq_target_load(&t, "spotify", preset_dir(), ov, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(lq_target_rate(t, 44100), 96000);
    lq_target_destroy(&t);
    lq_overrides_destroy(&ov);

    /* null removes the loudness target; later --set wins */
    assert_int_equal(lq_overrides_new(&ov), LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "loudness_lufs=-10", err, sizeof err), LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "loudness_lufs=null", err, sizeof err), LQ_OK);
    if (lq_target_load(&t, "spotify", preset_dir(), ov, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(t->has_loudness, 0);
    lq_target_destroy(&t);
    lq_overrides_destroy(&ov);

    /* bad values are reported at --set; a --set clash with a file value at the file */
    char spotify[600];
    char *sp = lq_preset_resolve("spotify", preset_dir(), "targets");
    assert_non_null(sp);
    snprintf(spotify, sizeof spotify, "%s", sp);
    free(sp);
    static const struct {
        const char *set, *expect;
    } bad[] = {
        {"loudness_lufs=loud",
         "--set: loudness_lufs: loud is not a number (expected LUFS from -70 to 0, or null)"},
        {"true_peak_dbtp=1",
         "--set: true_peak_dbtp: 1 is out of range (expected dBTP from -20 to 0)"},
        {"codec_check=[flac]",
         "--set: codec_check[0]: unknown value flac (expected one of: mp3, ogg, opus, aac)"},
        {"bit_depth=20",
         "--set: bit_depth: 20 is not a bit depth (expected 16, 24 or 32f for 32-bit float)"},
        {"format=opus", NULL},
        {"resampler=sox",
         "--set: resampler: unknown value sox (expected one of: soxr-vhq, "
         "libsamplerate-best)"},
        {"sample_rate=32000",
         "--set: sample_rate: 32000 is below min_sample_rate 44100 (expected source or at "
         "least 44100 Hz)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char expect[1200];
        if (bad[i].expect) {
            snprintf(expect, sizeof expect, "%s", bad[i].expect);
        } else {
            /* spotify.yaml says "sample_rate: source": find its line */
            FILE *f = fopen(spotify, "r");
            assert_non_null(f);
            char line[300];
            int ln = 0, found = 0;
            while (!found && fgets(line, sizeof line, f)) {
                ln++;
                if (!strncmp(line, "sample_rate: source", 19)) found = ln;
            }
            fclose(f);
            assert_true(found > 0);
            snprintf(expect, sizeof expect, "%s:%d:14: sample_rate: source is not supported "
                     "by format opus (expected 48000)", spotify, found);
        }
        assert_int_equal(lq_overrides_new(&ov), LQ_OK);
        assert_int_equal(lq_overrides_add(ov, bad[i].set, err, sizeof err), LQ_OK);
        lq_error e = lq_target_load(&t, "spotify", preset_dir(), ov, err, sizeof err);
        if (e != LQ_ERR_PRESET || strcmp(err, expect))
            fail_msg("--set %s: got %d \"%s\", expected \"%s\"", bad[i].set, e, err, expect);
        assert_null(t);
        lq_overrides_destroy(&ov);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_shipped_targets),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_targets),
        cmocka_unit_test(test_target_overrides),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
