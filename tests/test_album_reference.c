/* Reference matching in an album file (docs/ALBUM.md, `reference:`): a generated
 * 2-track album with a release-level reference (a generated mix through a known eq, at
 * another level) and a track-level override, mastered to a target without a loudness
 * figure (cd), one track's preset with a reference of its own (replaced by the album's
 * key): the album policy's anchor lands on the release reference's integrated
 * loudness within 0.05 LU, the level difference between the tracks is kept, each track's
 * report names its own reference; bad `reference:` keys get one exact line and nothing
 * is written. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sndfile.h>

#include "config/preset.h"
#include "lacquer/lacquer.h"
#include "lqtest.h"
#include "stage.h"
#include "stages/eq.h"
#include "synth.h"

#define RATE 44100
#define SECS 6

/* the known curve of test_reference.c: -2 dB at 300 Hz, +3 dB above 6 kHz, side +2 dB
 * above 2 kHz */
static const char *const KNOWN_EQ =
    "bands:\n"
    "  - {type: bell, freq_hz: 300, gain_db: -2, q: 1.0}\n"
    "  - {type: high_shelf, freq_hz: 6000, gain_db: 3}\n"
    "  - {type: high_shelf, freq_hz: 2000, gain_db: 2, channels: side}\n";
static const char *const OTHER_EQ =
    "bands:\n"
    "  - {type: tilt, freq_hz: 1000, slope_db_oct: -1}\n";

static char *g_tmp;

static void write_mix(const char *name, uint64_t seed, double peak, const char *eq_yaml,
                      double gain_db)
{
    const size_t n = (size_t)SECS * RATE;
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    assert_non_null(l);
    assert_non_null(r);
    lqs_mix(l, r, n, RATE, seed, peak);
    if (eq_yaml) {
        lq_node *root = NULL;
        lq_diag d = {{0}};
        lq_stage_spec spec = {0};
        assert_int_equal(lq_node_parse_string(&root, eq_yaml, "test eq", &d), LQ_OK);
        assert_int_equal(lq_stage_spec_parse(&spec, &lq_stage_eq, root, &d), LQ_OK);
        lq_node_free(root);
        lq_stage_env env = {.sample_rate = RATE, .channels = 2, .max_block = 4096, .seed = 1};
        void *st = NULL;
        assert_int_equal(spec.vt->create(&st, spec.cfg, &env, &d), LQ_OK);
        const size_t lat = spec.vt->latency(st);
        double *bl = calloc(n + lat, sizeof *bl), *br = calloc(n + lat, sizeof *br);
        memcpy(bl, l, n * sizeof *l);
        memcpy(br, r, n * sizeof *r);
        for (size_t off = 0; off < n + lat; off += 4096) {
            size_t k = n + lat - off < 4096 ? n + lat - off : 4096;
            double *b[2] = {bl + off, br + off};
            spec.vt->process(st, b, k);
        }
        memcpy(l, bl + lat, n * sizeof *l);
        memcpy(r, br + lat, n * sizeof *r);
        spec.vt->destroy(st);
        lq_stage_spec_free(&spec);
        free(bl);
        free(br);
    }
    const double g = pow(10.0, gain_db / 20.0);
    for (size_t i = 0; i < n; i++) {
        l[i] *= g;
        r[i] *= g;
    }
    char *p = lqt_join(g_tmp, name);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(p, pl, 2, n, RATE, SF_FORMAT_FLOAT), 0);
    free(p);
    free(l);
    free(r);
}

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    if (!g_tmp) return -1;
    write_mix("a.wav", 7, 0.5, NULL, 0.0);
    write_mix("b.wav", 21, 0.5, NULL, -3.0);
    write_mix("ref.wav", 7, 0.5, KNOWN_EQ, -4.0);   /* the release's reference */
    write_mix("ref2.wav", 31, 0.5, OTHER_EQ, -9.0); /* track 2's own */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

static double file_lufs(const char *dir, const char *name)
{
    char *p = lqt_join(dir, name);
    lq_analysis an;
    char err[512];
    assert_int_equal(lq_analyze_file(p, &an, err, sizeof err), LQ_OK);
    free(p);
    return an.integrated_lufs;
}

static const char *ref_file(const json_t *track, size_t k, double *weight, double *strength,
                            double *level)
{
    const json_t *ref = json_object_get(json_object_get(track, "report"), "reference");
    assert_non_null(ref);
    *strength = json_number_value(json_object_get(ref, "strength"));
    *level = json_number_value(json_object_get(ref, "level_lufs"));
    const json_t *r = json_array_get(json_object_get(ref, "references"), k);
    assert_non_null(r);
    *weight = json_number_value(json_object_get(r, "weight"));
    return json_string_value(json_object_get(r, "file"));
}

static void test_release_reference_and_override(void **state)
{
    (void)state;
    char *yaml = lqt_join(g_tmp, "album.yaml"), *out = lqt_join(g_tmp, "out");
    /* track 1's preset has a reference of its own: the album's key replaces it whole */
    char *own = lqt_join(g_tmp, "own.yaml");
    assert_int_equal(lqt_write_text(own, "lacquer: 1\nname: own\n"
                                    "reference: {files: [ref2.wav], strength: 0.25}\n"), 0);
    free(own);
    assert_int_equal(lqt_write_text(yaml,
                                    "lacquer: 1\n"
                                    "album: {title: Matched, artist: The Generators}\n"
                                    "preset: transparent\ntargets: [cd]\n"
                                    "loudness: album\nalbum_anchor: loudest\n"
                                    "reference:\n  files: [ref.wav]\n"
                                    "tracks:\n"
                                    "  - {file: a.wav, title: One, preset: own.yaml}\n"
                                    "  - file: b.wav\n    title: Two\n"
                                    "    reference: {files: [{file: ref2.wav, weight: 2}], "
                                    "strength: 0.5}\n"),
                     0);
    lq_album *a = NULL;
    char err[1024] = "";
    assert_int_equal(lq_album_new(&a), LQ_OK);
    lq_error e = lq_album_load(a, yaml, lqt_preset_dir(), err, sizeof err);
    if (e) fail_msg("%s", err);
    assert_int_equal(lq_album_set_output_dir(a, out), LQ_OK);
    e = lq_album_run(a);
    if (e) fail_msg("%s", lq_album_error_message(a));
    char *js = lq_album_report_json(a);
    lq_album_destroy(&a);
    json_t *r = json_loads(js, 0, NULL);
    free(js);
    assert_non_null(r);

    /* each track's report names its own reference */
    const json_t *tracks = json_object_get(r, "tracks");
    assert_int_equal(json_array_size(tracks), 2);
    double w, st, lvl1, lvl2;
    const char *f1 = ref_file(json_array_get(tracks, 0), 0, &w, &st, &lvl1);
    assert_non_null(strstr(f1, "/ref.wav"));
    assert_true(w == 1.0 && st == 1.0);
    const char *f2 = ref_file(json_array_get(tracks, 1), 0, &w, &st, &lvl2);
    assert_non_null(strstr(f2, "/ref2.wav"));
    assert_true(w == 2.0 && st == 0.5);

    /* the anchor (the louder track) lands on the release reference's loudness */
    const double ref_lufs = file_lufs(g_tmp, "ref.wav");
    const double l1 = file_lufs(out, "01 One (cd).wav"), l2 = file_lufs(out, "02 Two (cd).wav");
    fprintf(stderr, "reference %.3f LUFS (report %.3f, track 2's %.3f); tracks %.3f, %.3f "
            "LUFS\n", ref_lufs, lvl1, lvl2, l1, l2);
    assert_true(fabs(fmax(l1, l2) - ref_lufs) <= 0.05);
    assert_true(fabs(lvl1 - ref_lufs) <= 0.05);
    /* track 2 matched to its own reference: its level, not the release's */
    const double ref2_lufs = file_lufs(g_tmp, "ref2.wav");
    fprintf(stderr, "track 2's reference %.3f LUFS\n", ref2_lufs);
    assert_true(fabs(lvl2 - ref2_lufs) <= 0.05);
    assert_true(fabs(lvl2 - ref_lufs) > 2.0);
    /* the aim says where it came from */
    const json_t *ex = json_array_get(json_object_get(json_object_get(json_array_get(tracks, 0),
                                                                      "report"), "exports"), 0);
    const json_t *lo = json_object_get(json_object_get(ex, "requirements"), "loudness");
    assert_string_equal(json_string_value(json_object_get(lo, "from")), "reference");
    json_decref(r);
    free(yaml);
    free(out);
}

static void expect_bad(const char *text, const char *line)
{
    char *yaml = lqt_join(g_tmp, "bad.yaml"), *out = lqt_join(g_tmp, "bad-out");
    char err[1024] = "", want[1400];
    assert_int_equal(lqt_write_text(yaml, text), 0);
    lq_album *a = NULL;
    assert_int_equal(lq_album_new(&a), LQ_OK);
    lq_error e = lq_album_load(a, yaml, lqt_preset_dir(), err, sizeof err);
    lq_album_destroy(&a);
    snprintf(want, sizeof want, "%s:%s", yaml, line);
    if (e == LQ_OK || strcmp(err, want) != 0) fail_msg("got %d \"%s\"\nwant \"%s\"", e, err, want);
    assert_false(lqt_exists(out));
    free(yaml);
    free(out);
}

#define HEAD "lacquer: 1\nalbum: {title: T, artist: A}\ntargets: [cd]\n"

static void test_bad_reference_keys(void **state)
{
    (void)state;
    char missing[1400];
    snprintf(missing, sizeof missing, "5:11: reference.files[0]: %s/nope.wav: cannot open input "
             "(No such file or directory) (expected an audio file)", g_tmp);
    expect_bad(HEAD "tracks:\n  - {file: a.wav, title: One,\n"
                    "     reference: {files: [{file: ref.wav, weight: 0}]}}\n",
               "6:50: tracks[0].reference.files[0].weight: 0 is out of range (expected "
               "weight from 0.001 to 1000)");
    expect_bad(HEAD "reference: {files: [{weight: 2}]}\ntracks:\n  - {file: a.wav, title: One}\n",
               "4:21: reference.files[0].file: missing required key (expected the reference's "
               "path)");
    expect_bad(HEAD "reference: {files: [ref.wav], strength: 2}\n"
                    "tracks:\n  - {file: a.wav, title: One}\n",
               "4:41: reference.strength: 2 is out of range (expected strength from 0 to 1)");
    expect_bad(HEAD "reference:\n  files: [nope.wav]\ntracks:\n  - {file: a.wav, title: One}\n",
               missing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_reference_keys),
        cmocka_unit_test(test_release_reference_and_override),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
