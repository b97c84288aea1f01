/* A catalogue: 40 generated mixes (3 s, different seeds) and 2 broken files, each to
 * cd, tidal (-14 LUFS) and ebu-r128 (-23 LUFS, 48 kHz).  Every good export meets its
 * target (checked again here with lq_analyze_file); each broken file fails alone with
 * its documented error line and exit code; the batch exits 1 ("some failed");
 * batch.json lists every job with its figures.  A rerun redoes nothing (bytes and
 * mtimes unchanged), touching an input's mtime redoes nothing (fingerprints are of
 * content), and changing one input's audio reruns only its job. */
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

/* Everything but batch.json/batch.txt is unchanged, bytes and mtimes. */
static void assert_unchanged(const lqt_snap *a, const lqt_snap *b, const char *except_dir)
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
    if (except_dir) assert_int_equal(changed, 3 + 2); /* 3 exports + report.json/.txt */
}

static void test_catalogue(void **state)
{
    (void)state;
    char *mixes = path_of("mixes");
    mkdir(mixes, 0755);
    for (int i = 0; i < N_MIXES; i++) {
        char *p = path_of("mixes/song%02d.wav", i);
        assert_int_equal(lqt_write_mix(p, 3.0, 500 + (uint64_t)i), 0);
        free(p);
    }
    /* broken: not audio at all; a WAV cut to half its declared length */
    char *b1 = path_of("mixes/broken-text.wav"), *b2 = path_of("mixes/broken-cut.wav");
    assert_int_equal(lqt_write_text(b1, "this is not a WAV file\n"), 0);
    assert_int_equal(lqt_write_mix(b2, 1.0, 7), 0);
    struct stat st;
    assert_int_equal(stat(b2, &st), 0);
    assert_int_equal(truncate(b2, st.st_size / 2), 0);
    char *m = path_of("catalogue.yaml");
    assert_int_equal(lqt_write_text(m, "lacquer: 1\n"
                                       "defaults: {preset: gentle, targets: [cd, tidal, ebu-r128]}\n"
                                       "jobs:\n  - {input: \"mixes/*.wav\"}\n"), 0);
    free(m);

    assert_int_equal(run_batch(), 1); /* some failed */
    json_t *r = report();
    assert_int_equal(summary(r, "jobs"), N_MIXES + 2);
    assert_int_equal(summary(r, "done"), N_MIXES);
    assert_int_equal(summary(r, "failed"), 2);
    assert_int_equal(summary(r, "not_met"), 0);
    assert_int_equal(summary(r, "ran"), N_MIXES + 2);
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
        assert_int_equal(json_array_size(exs), 3);
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
            /* every fifth export measured again, from the file, independently */
            if (n_exports % 5 == 0) {
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
    assert_int_equal(n_exports, 3 * N_MIXES);
    json_decref(r);

    /* batch.txt: failures first */
    char *txt = path_of("masters/batch.txt");
    FILE *f = fopen(txt, "r");
    assert_non_null(f);
    char buf[65536];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    assert_int_equal(strncmp(buf, "lacquer batch: 42 jobs: 40 done, 0 missed a target, 2 failed\n"
                                  "\nFailed:\n", 70), 0);
    char *worst = strstr(buf, "Worst loudness error: ");
    assert_non_null(worst);
    assert_true(strstr(buf, "broken-text.wav") < worst);
    assert_non_null(strstr(buf, "Worst true peak: "));
    free(txt);

    /* rerun: nothing redone */
    char *masters = path_of("masters");
    lqt_snap s0, s1, s2, s3;
    lqt_snap_take(&s0, masters);
    assert_int_equal(run_batch(), 1);
    lqt_snap_take(&s1, masters);
    assert_unchanged(&s0, &s1, NULL);
    r = report();
    assert_int_equal(summary(r, "ran"), 2); /* only the failed jobs are tried again */
    assert_int_equal(summary(r, "up_to_date"), N_MIXES);
    json_decref(r);

    /* touch: a new mtime, the same bytes: still nothing redone */
    char *one = path_of("mixes/song07.wav");
    assert_int_equal(utimensat(AT_FDCWD, one, NULL, 0), 0);
    assert_int_equal(run_batch(), 1);
    lqt_snap_take(&s2, masters);
    assert_unchanged(&s1, &s2, NULL);

    /* new audio in one input: only its job runs */
    assert_int_equal(lqt_write_mix(one, 3.0, 99999), 0);
    assert_int_equal(run_batch(), 1);
    lqt_snap_take(&s3, masters);
    assert_unchanged(&s2, &s3, "song07/");
    r = report();
    assert_int_equal(summary(r, "ran"), 3);
    json_decref(r);
    assert_int_equal(lqt_temp_files(masters), 0);

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
