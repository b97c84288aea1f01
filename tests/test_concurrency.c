/* Two runs writing into one output folder at once (docs/RELIABILITY.md): no file is
 * corrupted or silently replaced; the run that comes second to a name is refused with
 * "PATH: already exists (...)" and rolls back only its own files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>

#include "engine/publish.h"
#include "lqtest.h"
#include "synth.h"

static char *g_tmp;

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    return g_tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = calloc(1, 1 << 16);
    size_t n = fread(b, 1, (1 << 16) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

/* Both publishers claim report.json while it does not exist yet (as two processes
 * would), then both publish: the second is refused, the first's file stays. */
static void test_publisher_race_text(void **state)
{
    (void)state;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/race", g_tmp);
    lq_publisher a, b;
    lq_diag d;
    assert_int_equal(lq_publisher_open(&a, dir, 0, &d), LQ_OK);
    assert_int_equal(lq_publisher_open(&b, dir, 0, &d), LQ_OK);
    assert_int_equal(lq_publisher_claim(&a, "report.json", "report", NULL, NULL, &d), LQ_OK);
    assert_int_equal(lq_publisher_claim(&b, "report.json", "report", NULL, NULL, &d), LQ_OK);
    assert_int_equal(lq_publisher_text(&a, "report.json", "first\n", &d), LQ_OK);
    assert_int_equal(lq_publisher_text(&b, "report.json", "second\n", &d), LQ_ERR_EXISTS);
    char want[800];
    snprintf(want, sizeof want,
             "%s/report.json: already exists (expected a new output folder, or --force)", dir);
    assert_string_equal(d.msg, want);
    lq_publisher_rollback(&b);
    char *path = lqt_join(dir, "report.json");
    char *got = slurp(path);
    assert_non_null(got);
    assert_string_equal(got, "first\n");
    free(got);
    assert_int_equal(lqt_dir_count(dir), 1); /* no hidden temporary left */
    lq_publisher_free(&b);
    lq_publisher_rollback(&a);
    assert_int_equal(lqt_exists(path), 0);
    assert_int_equal(lqt_exists(dir), 0); /* the folder a made is gone again */
    free(path);
    lq_publisher_free(&a);
}

/* Run the CLI in a child; returns its pid.  Its stderr goes to errpath. */
static pid_t spawn_master(const char *in, const char *out, const char *errpath)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *e = freopen(errpath, "w", stderr);
        if (!e || !freopen("/dev/null", "w", stdout)) _exit(99);
        execl(LQ_CLI_PATH, LQ_CLI_PATH, "master", in, "--preset", "transparent", "--target",
              "cd", "--target", "flac-archive", "--out", out, "--quiet", "--threads", "1",
              (char *)NULL);
        _exit(98);
    }
    return pid;
}

static const char *const k_names[] = {"mix (cd).wav", "mix (flac-archive).flac", "report.json",
                                      "report.txt"};

/* Two `lacquer master` processes with the same input into the same folder at once,
 * several times: each ends either complete (exit 0/1) or refused with an "already
 * exists" line (exit 5); every export in the folder is byte-identical to a run alone. */
static void test_two_masters_same_folder(void **state)
{
    (void)state;
    char in[600], ref[600], out[600], e1[600], e2[600];
    snprintf(in, sizeof in, "%s/mix.wav", g_tmp);
    snprintf(ref, sizeof ref, "%s/ref", g_tmp);
    snprintf(e1, sizeof e1, "%s/e1", g_tmp);
    snprintf(e2, sizeof e2, "%s/e2", g_tmp);
    size_t n = 48000;
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    lqs_mix(l, r, n, 48000, 7, 0.8);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(in, pl, 2, n, 48000, SF_FORMAT_PCM_24), 0);
    free(l);
    free(r);
    uint64_t in_hash = lqt_file_hash(in);
    int st;
    pid_t p = spawn_master(in, ref, e1);
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) <= 1);

    int both_ok = 0, one_refused = 0, both_refused = 0;
    for (int it = 0; it < 4; it++) {
        snprintf(out, sizeof out, "%s/out%d", g_tmp, it);
        pid_t a = spawn_master(in, out, e1), b = spawn_master(in, out, e2);
        int sa, sb;
        assert_int_equal(waitpid(a, &sa, 0), a);
        assert_int_equal(waitpid(b, &sb, 0), b);
        assert_true(WIFEXITED(sa) && WIFEXITED(sb));
        int ca = WEXITSTATUS(sa), cb = WEXITSTATUS(sb);
        const char *errs[2] = {e1, e2};
        int codes[2] = {ca, cb}, ok = 0;
        for (int k = 0; k < 2; k++) {
            if (codes[k] <= 1) {
                ok++;
                continue;
            }
            assert_int_equal(codes[k], 5);
            char *msg = slurp(errs[k]);
            assert_non_null(msg);
            if (!strstr(msg, ": already exists (expected a new")) fail_msg("refusal line: %s", msg);
            free(msg);
        }
        assert_true(ok <= 1); /* both cannot publish the same names */
        if (ok == 1) {
            one_refused++;
            for (size_t k = 0; k < 2; k++) {
                char *x = lqt_join(out, k_names[k]), *y = lqt_join(ref, k_names[k]);
                if (!lqt_files_equal(x, y)) fail_msg("%s differs from a run alone", x);
                free(x);
                free(y);
            }
            assert_int_equal(lqt_dir_count(out), 5); /* two exports, report.json, .txt, .html */
        } else {
            both_refused++; /* each took a name the other needed: both rolled back */
            assert_true(!lqt_exists(out) || lqt_dir_count(out) == 0);
        }
        assert_true(lqt_file_hash(in) == in_hash);
    }
    printf("4 races: %d one complete + one refused, %d both refused, %d both complete\n",
           one_refused, both_refused, both_ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publisher_race_text),
        cmocka_unit_test(test_two_masters_same_folder),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
