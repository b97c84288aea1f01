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
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>

#include "engine/publish.h"
#include "io/stale.h"
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

/* A child process makes a temporary file the way the library names them (its owner
 * token, io/stale.h), then waits on a pipe. */
static pid_t temp_holder(const char *dir, const char *prefix, char *name, size_t n, int *wfd)
{
    int pr[2], pn[2];
    assert_int_equal(pipe(pr), 0);
    assert_int_equal(pipe(pn), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pr[1]);
        close(pn[0]);
        char path[1024];
        lq_tmp_name(path, sizeof path, dir, prefix, "XXXXXX");
        int fd = mkstemp(path);
        if (fd < 0 || write(pn[1], path, strlen(path) + 1) < 0) _exit(1);
        char c;
        while (read(pr[0], &c, 1) < 0) {
        }
        _exit(0);
    }
    close(pr[0]);
    close(pn[1]);
    ssize_t got = read(pn[0], name, n);
    assert_true(got > 0);
    close(pn[0]);
    *wfd = pr[1];
    return pid;
}

static int count_hidden(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, ".lacquer-", 9)) n++;
    closedir(d);
    return n;
}

/* A run killed with SIGKILL leaves its temporary files; the next run into the folder
 * removes them, and only them: a live run's temporary files, an older version's (no
 * owner in the name) and the user's own hidden files stay. */
static void test_stale_temporaries(void **state)
{
    (void)state;
    char *out = lqt_join(g_tmp, "stale"), *in = lqt_join(g_tmp, "stale-mix.wav");
    assert_int_equal(mkdir(out, 0755), 0);
    size_t n = 44100;
    double *l = calloc(n, sizeof *l), *r = calloc(n, sizeof *r);
    lqs_mix(l, r, n, 44100, 3, 0.5);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(in, pl, 2, n, 44100, SF_FORMAT_PCM_24), 0);
    char killed[2][1024], live[1024];
    int w[3], st;
    pid_t k0 = temp_holder(out, LQ_TMP_REPORT, killed[0], sizeof killed[0], &w[0]);
    pid_t k1 = temp_holder(out, LQ_TMP_EXPORT, killed[1], sizeof killed[1], &w[1]);
    pid_t lv = temp_holder(out, LQ_TMP_REPORT, live, sizeof live, &w[2]);
    kill(k0, SIGKILL);
    kill(k1, SIGKILL);
    assert_int_equal(waitpid(k0, &st, 0), k0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    assert_int_equal(waitpid(k1, &st, 0), k1);
    char *old = lqt_join(out, ".lacquer-report-Ab12Cd"), *mine = lqt_join(out, ".notes");
    assert_int_equal(lqt_write_text(old, "x"), 0);
    assert_int_equal(lqt_write_text(mine, "x"), 0);
    assert_true(lqt_exists(killed[0]) && lqt_exists(killed[1]) && lqt_exists(live));
    const char *argv[] = {LQ_CLI_PATH, "master", in, "--preset", "transparent", "--target", "cd",
                          "--out", out, "--quiet", NULL};
    assert_int_equal(lqt_run(argv, NULL, NULL), 0);
    assert_false(lqt_exists(killed[0]));
    assert_false(lqt_exists(killed[1]));
    assert_true(lqt_exists(live)); /* its owner is running */
    assert_true(lqt_exists(old) && lqt_exists(mine));
    assert_int_equal(count_hidden(out), 2); /* the live run's and the older version's */
    /* the live one finishes badly too: the next run removes its file */
    kill(lv, SIGKILL);
    assert_int_equal(waitpid(lv, &st, 0), lv);
    const char *argv2[] = {LQ_CLI_PATH, "master", in, "--preset", "transparent", "--target",
                           "cd", "--out", out, "--quiet", "--force", NULL};
    assert_int_equal(lqt_run(argv2, NULL, NULL), 0);
    assert_false(lqt_exists(live));
    assert_int_equal(count_hidden(out), 1);
    for (int k = 0; k < 3; k++) close(w[k]);
    free(old);
    free(mine);
    free(l);
    free(r);
    free(in);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publisher_race_text),
        cmocka_unit_test(test_two_masters_same_folder),
        cmocka_unit_test(test_stale_temporaries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
