/* A catalogue: 40 generated mixes (1.5 s, different seeds), 2 broken files and 1 album
 * file (2 tracks of 4.5 s, a gap between them), each to cd, tidal (-14 LUFS) and ebu-r128
 * (-23 LUFS, 48 kHz).  Every good export (the album's per-track files too) meets its
 * target (checked again here with lq_analyze_file); each broken file fails alone with
 * its documented error line and exit code; the batch exits 1 ("some failed");
 * batch.json lists every job with its figures.  A rerun redoes nothing (bytes and
 * mtimes unchanged), touching an input's mtime redoes nothing (fingerprints are of
 * content), and changing one input's audio (a mix, or one track of the album) reruns
 * only its job. */
#include <fcntl.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "lacquer/lacquer.h"
#include "lqtest.h"

#define N_MIXES 40
#define MIX_S 1.5
#define N_TRACKS 2
#define TRACK_S 4.5

static char *g_tmp;

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...)
{
    char rel[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    return lqt_join(g_tmp, rel);
}

static int run_batch(void)
{
    const char *argv[] = {LQ_CLI_PATH, "batch", "catalogue.yaml", "--out", "masters", "-q", NULL};
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(g_tmp), 0);
    char *err = NULL;
    int rc = lqt_run(argv, NULL, &err);
    assert_int_equal(chdir(cwd), 0);
    free(err);
    return rc;
}

static json_t *report(void)
{
    char *p = path_of("masters/batch.json");
    json_t *r = json_load_file(p, 0, NULL);
    free(p);
    assert_non_null(r);
    return r;
}

static long long summary(const json_t *r, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(r, "summary"), k));
}

/* Everything but batch.json/batch.txt is unchanged, bytes and mtimes; in except_dir,
 * `republished` files have a new mtime. */
static void assert_unchanged(const lqt_snap *a, const lqt_snap *b, const char *except_dir,
                             size_t republished)
{
    assert_int_equal(a->n, b->n);
    size_t changed = 0;
    for (size_t i = 0; i < a->n; i++) {
        const lqt_snap_file *f = lqt_snap_find(b, a->files[i].rel);
        assert_non_null(f);
        if (!strncmp(f->rel, "batch.", 6)) continue;
        int same = f->mtime_ns == a->files[i].mtime_ns && f->hash == a->files[i].hash;
        if (except_dir && !strncmp(f->rel, except_dir, strlen(except_dir))) {
            changed += f->mtime_ns != a->files[i].mtime_ns;
            continue;
        }
        if (!same) fprintf(stderr, "%s was redone\n", f->rel);
        assert_true(same);
    }
    if (except_dir) assert_int_equal(changed, republished);
}

static void test_catalogue(void **state)
{
    (void)state;
    char *mixes = path_of("mixes");
    mkdir(mixes, 0755);
    for (int i = 0; i < N_MIXES; i++) {
        char *p = path_of("mixes/song%02d.wav", i);
        assert_int_equal(lqt_write_mix(p, MIX_S, 500 + (uint64_t)i), 0);
        free(p);
    }
    /* broken: not audio at all; a WAV cut to half its declared length */
    char *b1 = path_of("mixes/broken-text.wav"), *b2 = path_of("mixes/broken-cut.wav");
    assert_int_equal(lqt_write_text(b1, "this is not a WAV file\n"), 0);
    assert_int_equal(lqt_write_mix(b2, 1.0, 7), 0);
    struct stat st;
    assert_int_equal(stat(b2, &st), 0);
    assert_int_equal(truncate(b2, st.st_size / 2), 0);
    /* the album: its tracks mastered each to the target's level (loudness: track) */
    char *albums = path_of("albums");
    mkdir(albums, 0755);
    for (int i = 0; i < N_TRACKS; i++) {
        char *p = path_of("albums/track%d.wav", i + 1);
        assert_int_equal(lqt_write_mix(p, TRACK_S, 900 + (uint64_t)i), 0);
        free(p);
    }
    char *af = path_of("albums/night.yaml");
    assert_int_equal(lqt_write_text(af, "lacquer: 1\n"
                                        "album: {title: Night Songs, artist: The Examples}\n"
                                        "loudness: track\n"
                                        "tracks:\n"
                                        "  - {file: track1.wav, title: One}\n"
                                        "  - {file: track2.wav, title: Two, gap_s: 0.5}\n"), 0);
    free(af);
    char *m = path_of("catalogue.yaml");
    assert_int_equal(lqt_write_text(m, "lacquer: 1\n"
                                       "defaults: {preset: gentle, targets: [cd, tidal, ebu-r128]}\n"
                                       "jobs:\n  - {input: \"mixes/*.wav\"}\n"
                                       "  - {input: albums/night.yaml}\n"), 0);
    free(m);

    assert_int_equal(run_batch(), 1); /* some failed */
    json_t *r = report();
    assert_int_equal(summary(r, "jobs"), N_MIXES + 2 + 1);
    assert_int_equal(summary(r, "done"), N_MIXES + 1);
    assert_int_equal(summary(r, "failed"), 2);
    assert_int_equal(summary(r, "not_met"), 0);
    assert_int_equal(summary(r, "ran"), N_MIXES + 2 + 1);
    size_t i, n_exports = 0;
    json_t *j;
    json_array_foreach(json_object_get(r, "jobs"), i, j) {
        const char *in = json_string_value(json_object_get(j, "input"));
        const char *status = json_string_value(json_object_get(j, "status"));
        assert_non_null(json_object_get(j, "id"));
        assert_true(json_is_number(json_object_get(j, "seconds")));
        if (!strncmp(in, "mixes/broken", 12)) {
            assert_string_equal(status, "failed");
            assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 3);
            const char *e = json_string_value(json_object_get(j, "error"));
            if (strstr(in, "text")) {
                assert_string_equal(json_string_value(json_object_get(j, "error_code")),
                                    "input-unreadable");
                assert_string_equal(e, "mixes/broken-text.wav: not a readable audio file "
                                       "(Format not recognised.) (expected WAV, AIFF, FLAC, "
                                       "Ogg, Opus, MP3, AAC or M4A)");
            } else {
                assert_string_equal(json_string_value(json_object_get(j, "error_code")),
                                    "input-truncated");
                assert_string_equal(e, "mixes/broken-cut.wav: truncated: the file ends "
                                       "before the audio its header declares (expected a "
                                       "complete file)");
            }
            assert_int_equal(json_array_size(json_object_get(j, "exports")), 0);
            char *dir = path_of("masters/%s", json_string_value(json_object_get(j, "out")));
            assert_false(lqt_exists(dir)); /* nothing written for a broken input */
            free(dir);
            continue;
        }
        assert_string_equal(status, "done");
        json_t *exs = json_object_get(j, "exports");
        int album = !strcmp(in, "albums/night.yaml");
        if (album) {
            assert_string_equal(json_string_value(json_object_get(j, "kind")), "album");
            assert_string_equal(json_string_value(json_object_get(j, "out")), "night");
            /* target by target, tracks in order */
            assert_int_equal(json_array_size(exs), 3 * N_TRACKS);
            json_t *e0 = json_array_get(exs, 0), *e1 = json_array_get(exs, 1);
            assert_string_equal(json_string_value(json_object_get(e0, "file")),
                                "night/01 One (cd).wav");
            assert_int_equal(json_integer_value(json_object_get(e1, "track")), 2);
            assert_string_equal(json_string_value(json_object_get(e1, "file")),
                                "night/02 Two (cd).wav");
            /* the CD image, its CUE sheet and TOC are published beside them */
            char *img = path_of("masters/night/Night Songs (cd).wav");
            char *cue = path_of("masters/night/Night Songs (cd).cue");
            assert_true(lqt_exists(img));
            assert_true(lqt_exists(cue));
            free(img);
            free(cue);
        } else {
            assert_null(json_object_get(j, "kind"));
            assert_int_equal(json_array_size(exs), 3);
        }
        size_t k;
        json_t *ex;
        json_array_foreach(exs, k, ex) {
            n_exports++;
            assert_true(json_is_true(json_object_get(ex, "met")));
            double tp = json_number_value(json_object_get(ex, "true_peak_dbtp"));
            double ceil_ = json_number_value(json_object_get(ex, "ceiling_dbtp"));
            assert_true(tp <= ceil_);
            const char *t = json_string_value(json_object_get(ex, "target"));
            double aim = !strcmp(t, "tidal") ? -14 : !strcmp(t, "ebu-r128") ? -23 : NAN;
            if (!isnan(aim)) {
                double lufs = json_number_value(json_object_get(ex, "integrated_lufs"));
                assert_true(fabs(lufs - aim) <= 0.05);
            }
            /* every fifth export (and every album file) measured again, from the file,
             * independently */
            if (n_exports % 5 == 0 || album) {
                char *p = path_of("masters/%s", json_string_value(json_object_get(ex, "file")));
                lq_analysis a;
                char err[512];
                assert_int_equal(lq_analyze_file(p, &a, err, sizeof err), LQ_OK);
                assert_true(a.true_peak_16x_dbtp <= ceil_ + 0.01);
                if (!isnan(aim)) assert_true(fabs(a.integrated_lufs - aim) <= 0.1);
                assert_int_equal((int)a.sample_rate,
                                 !strcmp(t, "ebu-r128") ? 48000 : 44100);
                free(p);
            }
        }
    }
    assert_int_equal(n_exports, 3 * N_MIXES + 3 * N_TRACKS);
    json_decref(r);

    /* batch.txt: failures first */
    char *txt = path_of("masters/batch.txt");
    FILE *f = fopen(txt, "r");
    assert_non_null(f);
    char buf[65536];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    assert_int_equal(strncmp(buf, "lacquer batch: 43 jobs: 41 done, 0 missed a target, 2 failed\n"
                                  "\nFailed:\n", 70), 0);
    char *worst = strstr(buf, "Worst loudness error: ");
    assert_non_null(worst);
    assert_true(strstr(buf, "broken-text.wav") < worst);
    assert_non_null(strstr(buf, "Worst true peak: "));
    free(txt);

    /* rerun: nothing redone */
    char *masters = path_of("masters");
    lqt_snap s0, s1, s2, s3, s4, s5;
    lqt_snap_take(&s0, masters);
    assert_int_equal(run_batch(), 1);
    lqt_snap_take(&s1, masters);
    assert_unchanged(&s0, &s1, NULL, 0);
    r = report();
    assert_int_equal(summary(r, "ran"), 2); /* only the failed jobs are tried again */
    assert_int_equal(summary(r, "up_to_date"), N_MIXES + 1);
    json_decref(r);

    /* touch: a new mtime, the same bytes: still nothing redone */
    char *one = path_of("mixes/song07.wav"), *track = path_of("albums/track2.wav");
    assert_int_equal(utimensat(AT_FDCWD, one, NULL, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, track, NULL, 0), 0);
    assert_int_equal(run_batch(), 1);
    lqt_snap_take(&s2, masters);
    assert_unchanged(&s1, &s2, NULL, 0);

    /* new audio in one input: only its job runs (3 exports + report.json/.txt) */
    assert_int_equal(lqt_write_mix(one, MIX_S, 99999), 0);
    assert_int_equal(run_batch(), 1);
    lqt_snap_take(&s3, masters);
    assert_unchanged(&s2, &s3, "song07/", 3 + 2);
    r = report();
    assert_int_equal(summary(r, "ran"), 3);
    json_decref(r);

    /* new audio in one track of the album: only the album job runs; every file of it is
     * published again (3 targets x 2 tracks, the CD image, CUE, TOC, report.json/.txt) */
    assert_int_equal(lqt_write_mix(track, TRACK_S, 4242), 0);
    assert_int_equal(run_batch(), 1);
    lqt_snap_take(&s4, masters);
    assert_unchanged(&s3, &s4, "night/", 3 * N_TRACKS + 3 + 2);
    r = report();
    assert_int_equal(summary(r, "ran"), 3);
    json_decref(r);

    /* a changed album file (a track's title) reruns only the album job */
    af = path_of("albums/night.yaml");
    assert_int_equal(lqt_write_text(af, "lacquer: 1\n"
                                        "album: {title: Night Songs, artist: The Examples}\n"
                                        "loudness: track\n"
                                        "tracks:\n"
                                        "  - {file: track1.wav, title: One}\n"
                                        "  - {file: track2.wav, title: Two, gap_s: 0.6}\n"), 0);
    free(af);
    assert_int_equal(run_batch(), 1);
    lqt_snap_take(&s5, masters);
    assert_unchanged(&s4, &s5, "night/", 3 * N_TRACKS + 3 + 2);
    assert_int_equal(lqt_temp_files(masters), 0);

    lqt_snap_free(&s4);
    lqt_snap_free(&s5);
    free(track);
    free(albums);
    lqt_snap_free(&s0);
    lqt_snap_free(&s1);
    lqt_snap_free(&s2);
    lqt_snap_free(&s3);
    free(one);
    free(masters);
    free(b1);
    free(b2);
    free(mixes);
}

int main(void)
{
    g_tmp = lqt_tmpdir();
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_catalogue)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return rc;
}
