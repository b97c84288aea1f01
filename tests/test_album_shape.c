/* The album's closed loop meters each track the way its file will hold it (engine/
 * finish.c lq_meter_shape, planned by album/assemble.c lq_album_plan_shapes): track 1's
 * own gap at the head of its file, the next track's gap at its tail, the fades with
 * their curves, the last file padded to a CD frame.  The loudness the loop measured on
 * its last pass must then be the loudness of the file as written, on every target:
 * if the shape were wrong, the file would miss its aim and the track would have to be
 * finished a second time (what the shape saves: bench/album). */
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

#include "lacquer/lacquer.h"
#include "lqtest.h"
#include "synth.h"

#define RATE 44100
#define NT 3

static char *g_tmp;
static char g_in[NT][512];
static char g_target[512];

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    /* lengths that are not whole CD frames, so the gaps' rounding is exercised */
    const size_t n = 4 * RATE + 333;
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    assert_non_null(l);
    assert_non_null(r);
    for (int i = 0; i < NT; i++) {
        lqs_mix(l, r, n - (size_t)i * 101, RATE, 70 + (uint64_t)i, 0.8 - 0.1 * i);
        const double *pl[2] = {l, r};
        snprintf(g_in[i], sizeof g_in[i], "%s/in%d.wav", g_tmp, i + 1);
        assert_int_equal(lqt_write_wav(g_in[i], pl, 2, n - (size_t)i * 101, RATE, SF_FORMAT_PCM_24), 0);
    }
    free(l);
    free(r);
    /* a second target at 48 kHz: a resampled render, its own layout (no CD frames) */
    snprintf(g_target, sizeof g_target, "%s/flac48.yaml", g_tmp);
    assert_int_equal(lqt_write_text(g_target,
                                    "lacquer: 1\nname: flac48\nsample_rate: 48000\nformat: flac\n"
                                    "bit_depth: 24\nloudness_lufs: -15\ntrue_peak_dbtp: -1.0\n"),
                     0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

static void check_album(const char *loudness)
{
    char yaml[600], out[600], text[4096];
    snprintf(yaml, sizeof yaml, "%s/album-%s.yaml", g_tmp, loudness);
    snprintf(out, sizeof out, "%s/out-%s", g_tmp, loudness);
    snprintf(text, sizeof text,
             "lacquer: 1\nalbum: {title: Shapes, artist: The Generators}\n"
             "preset: gentle\ntargets: [cd, \"flac48.yaml\"]\nloudness: %s\ntracks:\n"
             "  - {file: %s, title: One, gap_s: 1.0, fade_in_ms: 400, fade_curve: log}\n"
             "  - {file: %s, title: Two, gap_s: 2.0, fade_out_ms: 700, fade_curve: equal-power}\n"
             "  - {file: %s, title: Three, gap_s: 0.5, fade_in_ms: 250, fade_out_ms: 900}\n",
             loudness, g_in[0], g_in[1], g_in[2]);
    assert_int_equal(lqt_write_text(yaml, text), 0);
    lq_album *a = NULL;
    char err[1024];
    assert_int_equal(lq_album_new(&a), LQ_OK);
    assert_int_equal(lq_album_load(a, yaml, lqt_preset_dir(), err, sizeof err), LQ_OK);
    assert_int_equal(lq_album_set_output_dir(a, out), LQ_OK);
    lq_album_set_threads(a, 2);
    lq_error e = lq_album_run(a);
    if (e) fprintf(stderr, "album: %s\n", lq_album_error_message(a));
    assert_int_equal(e, LQ_OK);
    char *js = lq_album_report_json(a);
    assert_non_null(js);
    json_error_t je;
    json_t *root = json_loads(js, 0, &je);
    assert_non_null(root);
    json_t *tracks = json_object_get(root, "tracks");
    assert_int_equal(json_array_size(tracks), NT);
    for (size_t i = 0; i < NT; i++) {
        json_t *exs = json_object_get(json_object_get(json_array_get(tracks, i), "report"), "exports");
        assert_int_equal(json_array_size(exs), 2);
        for (size_t k = 0; k < 2; k++) {
            json_t *ex = json_array_get(exs, k);
            json_t *passes = json_object_get(ex, "passes");
            assert_true(json_array_size(passes) >= 1);
            const double looped = json_number_value(json_object_get(
                json_array_get(passes, json_array_size(passes) - 1), "integrated_lufs"));
            const double file = json_number_value(
                json_object_get(json_object_get(ex, "measured"), "integrated_lufs"));
            const double aim = json_number_value(json_object_get(
                json_object_get(json_object_get(ex, "requirements"), "loudness"), "target_lufs"));
            /* what the loop measured is the file; the file on its aim in one finish */
            if (fabs(looped - file) > 0.005 || fabs(file - aim) > 0.02)
                fprintf(stderr, "track %zu target %zu: loop %.4f file %.4f aim %.4f\n", i + 1,
                        k, looped, file, aim);
            assert_true(fabs(looped - file) <= 0.005);
            assert_true(fabs(file - aim) <= 0.02);
        }
    }
    json_decref(root);
    free(js);
    lq_album_destroy(&a);
}

static void test_album_policy_shapes(void **state)
{
    (void)state;
    check_album("album");
}

static void test_track_policy_shapes(void **state)
{
    (void)state;
    check_album("track");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_album_policy_shapes, NULL, NULL),
        cmocka_unit_test_setup_teardown(test_track_policy_shapes, NULL, NULL),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
