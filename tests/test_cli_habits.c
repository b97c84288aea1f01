/* Command-line habits (issue 19): --out made like mkdir -p and unmade when the run fails;
 * --quiet with a missed target says which and why in exactly one stderr line; misspelt
 * preset/target names get "did you mean"; presets/targets --json and --long carry every
 * field of everything shipped; the edit distance behind the suggestions. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config/preset.h"
#include "core/suggest.h"
#include "lqtest.h"

static char *g_tmp, *g_mix;

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    g_mix = lqt_join(g_tmp, "mix.wav");
    const char *gen[] = {LQ_CLI_PATH, "demo", g_mix, "--seconds", "3", NULL};
    return lqt_run(gen, NULL, NULL);
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    free(g_mix);
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return strdup(buf);
}

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(lq_edit_distance("spotify", "spotify"), 0);
    assert_int_equal(lq_edit_distance("spotfy", "spotify"), 1);   /* deletion */
    assert_int_equal(lq_edit_distance("sptoify", "spotify"), 1);  /* transposition */
    assert_int_equal(lq_edit_distance("Spotify", "spotify"), 0);  /* case */
    assert_int_equal(lq_edit_distance("kitten", "sitting"), 3); /* Levenshtein 1966 */
    assert_int_equal(lq_edit_distance("", "cd"), 2);
    assert_int_equal(lq_edit_distance("ca", "abc"), 3); /* optimal string alignment, not 2 */
    const char *names[] = {"cd", "hires-96", "spotify", "tidal", "youtube", "apple-music",
                           "amazon-music"};
    assert_string_equal(lq_suggest("spotfy", names, 7), "spotify");
    assert_string_equal(lq_suggest("tidl", names, 7), "tidal");
    assert_string_equal(lq_suggest("hires96", names, 7), "hires-96");
    assert_string_equal(lq_suggest("apple", names, 7), "apple-music");     /* prefix */
    assert_string_equal(lq_suggest("youtube-music", names, 7), "youtube"); /* name is prefix */
    assert_null(lq_suggest("a", names, 7));     /* "a" is a prefix of two: no guess */
    assert_null(lq_suggest("zzz", names, 7));
    assert_null(lq_suggest("soundcloud", names, 7));
}

static void expect_line(const char *const *argv, int want_rc, const char *want_err)
{
    char *so = NULL, *se = NULL;
    int rc = lqt_run(argv, &so, &se);
    if (rc != want_rc || strcmp(se, want_err) != 0)
        fail_msg("exit %d (want %d)\n stderr: %s want:   %s", rc, want_rc, se, want_err);
    assert_string_equal(so, "");
    free(so), free(se);
}

static void test_did_you_mean(void **state)
{
    (void)state;
    char *out = lqt_join(g_tmp, "never");
    const char *a1[] = {LQ_CLI_PATH, "master", g_mix, "--preset", "transparant", "--out", out,
                        NULL};
    expect_line(a1, 4, "lacquer: transparant: no such preset (did you mean transparent? shipped "
                       "presets: acoustic, bright-air, gentle, modern-loud, speech, transparent, "
                       "warm)\n");
    const char *a2[] = {LQ_CLI_PATH, "master", g_mix, "--target", "spotfy", "--out", out, NULL};
    expect_line(a2, 4, "lacquer: spotfy: no such target (did you mean spotify? shipped targets: "
                       "amazon-music, apple-music, atsc-a85, bandcamp, cd, deezer, ebu-r128, "
                       "flac-archive, hires-96, mp3-320, opus-160, podcast, soundcloud, spotify, "
                       "tidal, youtube)\n");
    const char *a3[] = {LQ_CLI_PATH, "analyze", "--preset", "mdoern-loud", NULL};
    expect_line(a3, 4, "lacquer: mdoern-loud: no such preset (did you mean modern-loud? shipped "
                       "presets: acoustic, bright-air, gentle, modern-loud, speech, transparent, "
                       "warm)\n");
    /* nothing close: the list alone, as before */
    const char *a4[] = {LQ_CLI_PATH, "master", g_mix, "--target", "vinyl", "--out", out, NULL};
    expect_line(a4, 4, "lacquer: vinyl: no such target (shipped targets: amazon-music, "
                       "apple-music, atsc-a85, bandcamp, cd, deezer, ebu-r128, flac-archive, "
                       "hires-96, mp3-320, opus-160, podcast, soundcloud, spotify, tidal, "
                       "youtube)\n");
    assert_false(lqt_exists(out));
    free(out);
}

/* --out a/b/c: made like mkdir -p on success; on failure exactly the folders this run
 * made are removed again (an existing parent, and what is in it, stays). */
static void test_nested_out(void **state)
{
    (void)state;
    /* success: three new levels */
    char *ok = lqt_join(g_tmp, "masters/2026/single");
    const char *a1[] = {LQ_CLI_PATH, "master", g_mix, "--preset", "transparent", "--target",
                        "cd", "--out", ok, "--quiet", NULL};
    char *so = NULL, *se = NULL;
    assert_int_equal(lqt_run(a1, &so, &se), 0);
    assert_string_equal(se, "");
    assert_string_equal(so, "");
    free(so), free(se);
    assert_int_equal(lqt_dir_count(ok), 4); /* mix (cd).wav, report.json, .txt, .html */
    char *f = lqt_join(ok, "mix (cd).wav");
    assert_true(lqt_exists(f));
    free(f);

    /* failure after the folder is made (the input is not audio): all three removed */
    char *bad = lqt_join(g_tmp, "notes.wav");
    assert_int_equal(lqt_write_text(bad, "mix notes\n"), 0);
    char *top = lqt_join(g_tmp, "new"), *deep = lqt_join(g_tmp, "new/a/b");
    const char *a2[] = {LQ_CLI_PATH, "master", bad, "--preset", "transparent", "--target", "cd",
                        "--out", deep, NULL};
    char *want = fmt("lacquer: %s: not a readable audio file (Format not recognised.) "
                     "(expected WAV, AIFF, FLAC, Ogg, Opus, MP3, AAC or M4A)\n", bad);
    expect_line(a2, 3, want);
    free(want);
    assert_false(lqt_exists(top));

    /* an existing parent with a file in it: only the new levels go */
    char *keep = lqt_join(g_tmp, "keep"), *note = lqt_join(g_tmp, "keep/notes.txt");
    assert_int_equal(mkdir(keep, 0755), 0);
    assert_int_equal(lqt_write_text(note, "mine\n"), 0);
    char *under = lqt_join(g_tmp, "keep/x/y/");
    const char *a3[] = {LQ_CLI_PATH, "master", bad, "--preset", "transparent", "--target", "cd",
                        "--out", under, NULL};
    want = fmt("lacquer: %s: not a readable audio file (Format not recognised.) "
               "(expected WAV, AIFF, FLAC, Ogg, Opus, MP3, AAC or M4A)\n", bad);
    expect_line(a3, 3, want);
    free(want);
    assert_true(is_dir(keep));
    assert_int_equal(lqt_dir_count(keep), 1);
    assert_true(lqt_exists(note));

    /* a file in the way: one line, nothing made */
    char *blocked = lqt_join(g_tmp, "keep/notes.txt/sub");
    const char *a4[] = {LQ_CLI_PATH, "master", g_mix, "--preset", "transparent", "--target",
                        "cd", "--out", blocked, NULL};
    want = fmt("lacquer: %s: cannot create the output folder (Not a directory)\n", blocked);
    expect_line(a4, 5, want);
    free(want);
    assert_int_equal(lqt_dir_count(keep), 1);
    free(ok), free(bad), free(top), free(deep), free(keep), free(note), free(under),
        free(blocked);
}

/* transparent has no limiter: a -6 LUFS target on a mix with 8 dB of PLR stops at the
 * -1 dBTP ceiling, several LU short. */
static void test_quiet_missed_target(void **state)
{
    (void)state;
    char *out = lqt_join(g_tmp, "quiet");
    const char *a[] = {LQ_CLI_PATH, "master", g_mix, "--preset", "transparent", "--target",
                       "spotify", "--target", "cd", "--set", "loudness_lufs=-6", "--out", out,
                       "--quiet", NULL};
    char *so = NULL, *se = NULL;
    assert_int_equal(lqt_run(a, &so, &se), 1);
    assert_string_equal(so, "");
    /* exactly one line */
    size_t len = strlen(se);
    assert_true(len > 0 && se[len - 1] == '\n');
    assert_null(memchr(se, '\n', len - 1));
    char *head = fmt("lacquer: 2 of 2 targets not met (report: %s/report.txt): spotify: "
                     "loudness ", out);
    if (strncmp(se, head, strlen(head)) != 0) fail_msg("stderr: %s", se);
    /* the figures in the line are the report's */
    char *rp = lqt_join(out, "report.json");
    json_t *r = json_load_file(rp, 0, NULL);
    assert_non_null(r);
    json_t *ex = json_object_get(r, "exports");
    assert_int_equal(json_array_size(ex), 2);
    size_t off = 0;
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(ex, i);
        json_t *lo = json_object_get(json_object_get(e, "requirements"), "loudness");
        double m = json_number_value(json_object_get(lo, "measured_lufs"));
        double sh = json_number_value(json_object_get(e, "shortfall_lu"));
        assert_true(json_is_false(json_object_get(e, "met")));
        assert_true(m < -6.05 && sh > 1.0);
        char *part = fmt("%s: loudness %.2f LUFS (expected -6.00 +/- 0.05 LU; the true-peak "
                         "ceiling stopped the gain %.2f LU short)",
                         json_string_value(json_object_get(e, "target")), m, sh);
        char *at = strstr(se + off, part);
        if (!at) fail_msg("stderr has no \"%s\":\n%s", part, se);
        off = (size_t)(at - se) + strlen(part);
        free(part);
    }
    assert_string_equal(se + off, "\n");
    json_decref(r);
    free(se), free(so), free(head), free(rp);

    /* met: --quiet stays silent */
    char *out2 = lqt_join(g_tmp, "quiet-ok");
    const char *b[] = {LQ_CLI_PATH, "master", g_mix, "--preset", "transparent", "--target",
                       "cd", "--out", out2, "-q", NULL};
    assert_int_equal(lqt_run(b, &so, &se), 0);
    assert_string_equal(so, "");
    assert_string_equal(se, "");
    free(so), free(se), free(out), free(out2);
}

static const char *const target_keys[] = {
    "name", "description", "file", "sample_rate", "format", "bit_depth", "bitrate_kbps",
    "loudness_lufs", "true_peak_dbtp", "codec_check", "filename", "limiter_override",
    "dither_override", "min_sample_rate", "resampler", "codec_guard_db", "aac_kbps"};
static const char *const preset_keys[] = {"name", "description", "file", "master",
                                          "input_lufs", "character", "limiter",
                                          "loudness_lufs", "targets", "reference"};

/* Every key a target or preset file may hold is in the listing: under its own name, or
 * where the listing shows it another way (a target's limiter/dither maps as
 * *_override flags; a preset's finish map as limiter and loudness_lufs).  A new file key
 * the listing forgets fails here. */
static const char *listed_as(const char *file_key)
{
    static const char *const map[][2] = {{"limiter", "limiter_override"},
                                         {"dither", "dither_override"},
                                         {"finish", "loudness_lufs"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(file_key, map[i][0])) return map[i][1];
    return file_key;
}

static void check_schema_listed(const char *const *file_keys, const char *const *listed,
                                size_t n_listed, const char *what)
{
    for (size_t k = 0; file_keys[k]; k++) {
        if (!strcmp(file_keys[k], "lacquer")) continue; /* the schema version */
        const char *want = listed_as(file_keys[k]);
        size_t i = 0;
        while (i < n_listed && strcmp(listed[i], want)) i++;
        if (i == n_listed) fail_msg("%s --json lists no %s (file key %s)", what, want, file_keys[k]);
    }
}

static json_t *find(json_t *arr, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) if (!strcmp(json_string_value(json_object_get(o, "name")),
                                             name)) return o;
    return NULL;
}

static void check_listing(const char *what, const char *subdir, const char *const *keys,
                          size_t nkeys, json_t **arr_out)
{
    char *so = NULL, *se = NULL;
    const char *a[] = {LQ_CLI_PATH, what, "--json", NULL};
    assert_int_equal(lqt_run(a, &so, &se), 0);
    assert_string_equal(se, "");
    json_error_t jerr;
    json_t *arr = json_loads(so, 0, &jerr);
    if (!arr) fail_msg("%s --json: %s", what, jerr.text);
    assert_true(json_is_array(arr));
    char **names;
    size_t n;
    assert_int_equal(lq_preset_names(lqt_preset_dir(), subdir, &names, &n), LQ_OK);
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        assert_string_equal(json_string_value(json_object_get(o, "name")), names[i]);
        assert_int_equal(json_object_size(o), nkeys);
        for (size_t k = 0; k < nkeys; k++)
            if (!json_object_get(o, keys[k])) fail_msg("%s %s: no %s", what, names[i], keys[k]);
    }
    lq_preset_names_free(names, n);
    /* --long: every name, and every key as a row label of each entry */
    char *lo = NULL;
    const char *b[] = {LQ_CLI_PATH, what, "--long", NULL};
    assert_int_equal(lqt_run(b, &lo, NULL), 0);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        char *h = fmt("%s%s\n  ", i ? "\n\n" : "", json_string_value(json_object_get(o, "name")));
        if (i ? !strstr(lo, h) : strncmp(lo, h + 0, strlen(h)) != 0)
            fail_msg("%s --long: no entry %s", what, h);
        free(h);
    }
    free(lo), free(so), free(se);
    *arr_out = arr;
}

static void test_listings(void **state)
{
    (void)state;
    json_t *t, *p;
    check_schema_listed(lq_target_file_keys, target_keys, sizeof target_keys / sizeof *target_keys,
                        "targets");
    check_schema_listed(lq_preset_file_keys, preset_keys, sizeof preset_keys / sizeof *preset_keys,
                        "presets");
    check_listing("targets", "targets", target_keys, sizeof target_keys / sizeof *target_keys,
                  &t);
    /* figures from TARGETS.md, as the shipped files hold them */
    json_t *sp = find(t, "spotify"), *cd = find(t, "cd"), *mp3 = find(t, "mp3-320");
    assert_non_null(sp), assert_non_null(cd), assert_non_null(mp3);
    assert_string_equal(json_string_value(json_object_get(sp, "sample_rate")), "source");
    assert_string_equal(json_string_value(json_object_get(sp, "format")), "wav");
    assert_int_equal(json_integer_value(json_object_get(sp, "bit_depth")), 24);
    assert_true(json_number_value(json_object_get(sp, "loudness_lufs")) == -14.0);
    assert_true(json_number_value(json_object_get(sp, "true_peak_dbtp")) == -1.0);
    assert_int_equal(json_array_size(json_object_get(sp, "codec_check")), 2);
    assert_string_equal(json_string_value(json_object_get(sp, "filename")),
                        "{title} ({target}).{ext}");
    assert_true(json_is_null(json_object_get(sp, "bitrate_kbps")));
    assert_int_equal(json_integer_value(json_object_get(cd, "sample_rate")), 44100);
    assert_int_equal(json_integer_value(json_object_get(cd, "bit_depth")), 16);
    assert_true(json_is_null(json_object_get(cd, "loudness_lufs")));
    assert_true(json_is_null(json_object_get(mp3, "bit_depth")));
    assert_int_equal(json_integer_value(json_object_get(mp3, "bitrate_kbps")), 320);
    assert_string_equal(json_string_value(json_object_get(mp3, "format")), "mp3");
    /* the codec and resampling keys (issue 15) */
    json_t *am = find(t, "apple-music");
    assert_non_null(am);
    assert_int_equal(json_integer_value(json_object_get(am, "min_sample_rate")), 44100);
    assert_true(json_is_null(json_object_get(cd, "min_sample_rate")));
    assert_string_equal(json_string_value(json_object_get(cd, "resampler")), "soxr-vhq");
    assert_int_equal(json_integer_value(json_object_get(am, "aac_kbps")), 256);
    assert_true(json_is_number(json_object_get(sp, "codec_guard_db")));
    json_decref(t);
    char *lo = NULL;
    const char *al[] = {LQ_CLI_PATH, "targets", "--long", NULL};
    assert_int_equal(lqt_run(al, &lo, NULL), 0);
    assert_non_null(strstr(lo, "\napple-music\n"));
    assert_non_null(strstr(strstr(lo, "\napple-music\n"), "  min_sample_rate 44100 Hz"));
    assert_non_null(strstr(strstr(lo, "\napple-music\n"), "  aac_kbps        256\n"));
    free(lo);

    check_listing("presets", "", preset_keys, sizeof preset_keys / sizeof *preset_keys, &p);
    json_t *tr = find(p, "transparent");
    assert_non_null(tr);
    assert_int_equal(json_array_size(json_object_get(tr, "master")), 0);
    assert_true(json_is_false(json_object_get(tr, "limiter")));
    assert_int_equal(json_array_size(json_object_get(tr, "targets")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(tr, "targets"), 0)),
                        "spotify");
    /* the master bus's input level and the measured character (issue 11) */
    json_t *ge = find(p, "gentle");
    assert_non_null(ge);
    assert_true(json_number_value(json_object_get(ge, "input_lufs")) == -18.0);
    json_t *ch = json_object_get(ge, "character");
    assert_true(json_is_object(ch));
    assert_int_equal(json_array_size(json_object_get(ch, "tone_db")), 10);
    assert_true(json_number_value(json_object_get(json_object_get(ch, "lra_change_lu"),
                                                  "dynamic")) >= -1.0);
    assert_true(json_is_null(json_object_get(ge, "reference")));
    json_decref(p);

    /* one line each, as before */
    char *so = NULL;
    const char *a[] = {LQ_CLI_PATH, "targets", NULL};
    assert_int_equal(lqt_run(a, &so, NULL), 0);
    assert_non_null(
        strstr(so, "\nspotify          Spotify, played at -14 LUFS; -1 dBTP ceiling\n"));
    free(so);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_did_you_mean),
        cmocka_unit_test(test_nested_out),
        cmocka_unit_test(test_quiet_missed_target),
        cmocka_unit_test(test_listings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
