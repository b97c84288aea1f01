/* I/O faults (docs/RELIABILITY.md): a full disk, the output folder removed or made
 * read-only mid-run, the input truncated while it is read, and SIGINT/SIGTERM/SIGKILL at
 * random moments followed by a rerun.  Each ends with its documented error line (or,
 * after SIGKILL, only complete exports), the output folder as it was, the input as it
 * was (except where the test itself truncates it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>

#include "lacquer/lacquer.h"
#include "lqtest.h"
#include "synth.h"

static char *g_tmp;
static char g_in[600];
static uint64_t g_in_hash;

static void make_input(const char *path, double seconds)
{
    size_t n = (size_t)(seconds * 48000);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    lqs_mix(l, r, n, 48000, 11, 0.8);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(path, pl, 2, n, 48000, SF_FORMAT_PCM_24), 0);
    free(l);
    free(r);
}

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    if (!g_tmp) return -1;
    chmod(g_tmp, 0755);
    snprintf(g_in, sizeof g_in, "%s/mix.wav", g_tmp);
    make_input(g_in, 2.0);
    g_in_hash = lqt_file_hash(g_in);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

/* ---- in-process runs with a fault made from the progress callback ---- */
typedef struct {
    int kind; /* 0 remove the folder, 1 make it read-only, 2 truncate the input */
    const char *out, *in;
    int done;
} fault;

static int inject(void *user, const char *phase, double frac)
{
    fault *f = user;
    if (f->done) return 0;
    if (f->kind == 2 && !strcmp(phase, "master") && frac > 0.3 && frac < 1.0) {
        struct stat st;
        assert_int_equal(stat(f->in, &st), 0);
        assert_int_equal(truncate(f->in, st.st_size / 2), 0);
        f->done = 1;
    }
    if (f->kind < 2 && !strcmp(phase, "master") && frac >= 1.0) {
        /* the master bus is spooled; the targets have not started */
        if (f->kind == 0) assert_int_equal(rmdir(f->out), 0);
        else assert_int_equal(chmod(f->out, 0555), 0);
        f->done = 1;
    }
    return 0;
}

static lq_error run_job(const char *in, const char *out, fault *f, char *msg, size_t len)
{
    lq_preset *p = NULL;
    lq_target *t[2] = {0};
    lq_job *j = NULL;
    char err[1024] = "";
    lq_error e = lq_preset_load(&p, "transparent", lqt_preset_dir(), NULL, err, sizeof err);
    if (!e) e = lq_target_load(&t[0], "cd", lqt_preset_dir(), NULL, err, sizeof err);
    if (!e) e = lq_target_load(&t[1], "flac-archive", lqt_preset_dir(), NULL, err, sizeof err);
    if (!e) e = lq_job_new(&j);
    if (!e) e = lq_job_set_input(j, in);
    if (!e) e = lq_job_set_preset(j, p);
    if (!e) e = lq_job_set_output_dir(j, out);
    if (!e) e = lq_job_add_target(j, t[0]);
    if (!e) e = lq_job_add_target(j, t[1]);
    if (!e) {
        lq_job_set_threads(j, 2);
        lq_job_set_block_size(j, 1024);
        lq_job_set_progress(j, inject, f);
        e = lq_job_run(j);
        snprintf(msg, len, "%s", lq_job_error_message(j));
    } else {
        snprintf(msg, len, "%s", err);
    }
    lq_job_destroy(&j);
    lq_target_destroy(&t[0]);
    lq_target_destroy(&t[1]);
    lq_preset_destroy(&p);
    return e;
}

static void test_folder_removed_mid_run(void **state)
{
    (void)state;
    char out[700], msg[1100];
    snprintf(out, sizeof out, "%s/removed", g_tmp);
    fault f = {0, out, g_in, 0};
    lq_error e = run_job(g_in, out, &f, msg, sizeof msg);
    assert_true(f.done);
    assert_int_equal(e, LQ_ERR_OUTPUT);
    if (strncmp(msg, out, strlen(out)) != 0 || !strstr(msg, "(No such file or directory)"))
        fail_msg("line: %s", msg);
    printf("folder removed mid-run: %s\n", msg);
    assert_int_equal(lqt_exists(out), 0); /* not made again */
    assert_true(lqt_file_hash(g_in) == g_in_hash);
}

static void test_folder_read_only_mid_run(void **state)
{
    (void)state;
    char out[700];
    snprintf(out, sizeof out, "%s/readonly", g_tmp);
    /* a folder nobody owns and may write, made before the run */
    assert_int_equal(mkdir(out, 0755), 0);
    assert_int_equal(chown(out, 65534, 65534), 0);
    fflush(stdout);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* root ignores permissions: run as nobody */
        close(pfd[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(200);
        fault f = {1, out, g_in, 0};
        char msg[1100];
        lq_error e = run_job(g_in, out, &f, msg, sizeof msg);
        if (write(pfd[1], msg, strlen(msg)) < 0) _exit(201);
        _exit(f.done ? (int)e : 202);
    }
    close(pfd[1]);
    char msg[1100] = "";
    ssize_t k = read(pfd[0], msg, sizeof msg - 1);
    msg[k > 0 ? k : 0] = 0;
    close(pfd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 200) skip();
    assert_int_equal(WEXITSTATUS(st), LQ_ERR_OUTPUT);
    if (strncmp(msg, out, strlen(out)) != 0 || !strstr(msg, "(Permission denied)"))
        fail_msg("line: %s", msg);
    printf("folder made read-only mid-run: %s\n", msg);
    /* as it was: there, and empty */
    assert_int_equal(lqt_dir_count(out), 0);
    assert_true(lqt_file_hash(g_in) == g_in_hash);
}

static void test_input_truncated_while_read(void **state)
{
    (void)state;
    char in[700], out[700], msg[1100], want[1400];
    snprintf(in, sizeof in, "%s/shrinking.wav", g_tmp);
    snprintf(out, sizeof out, "%s/truncated-out", g_tmp);
    make_input(in, 6.0);
    fault f = {2, out, in, 0};
    lq_error e = run_job(in, out, &f, msg, sizeof msg);
    assert_true(f.done);
    assert_int_equal(e, LQ_ERR_INPUT_TRUNCATED);
    snprintf(want, sizeof want, "%s: truncated", in);
    if (strncmp(msg, want, strlen(want)) != 0) fail_msg("line: %s", msg);
    printf("input truncated while read: %s\n", msg);
    assert_int_equal(lqt_exists(out), 0);
}

/* ---- a full disk: a small tmpfs (needs root; skipped otherwise) ---- */
static int master_cli(const char *in, const char *out, char **err)
{
    const char *argv[16] = {LQ_CLI_PATH, "master", in, "--preset", "transparent", "--target",
                            "cd", "--target", "flac-archive", "--out", out, "--quiet",
                            "--threads", "2", NULL};
    return lqt_run(argv, NULL, err);
}

static void test_disk_full(void **state)
{
    (void)state;
    char mnt[700], out[800];
    snprintf(mnt, sizeof mnt, "%s/small", g_tmp);
    assert_int_equal(mkdir(mnt, 0755), 0);
    snprintf(out, sizeof out, "%s/out", mnt);
    /* spool 1.5 MB (2 s, 64-bit stereo), the 44.1 kHz spool 1.4 MB, exports ~0.6 MB */
    const char *sizes[] = {"64k", "1600k", "3000k", "3400k", "3800k", "8m"};
    int refused = 0, completed = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char opt[32];
        snprintf(opt, sizeof opt, "size=%s", sizes[k]);
        if (mount("tmpfs", mnt, "tmpfs", 0, opt) != 0) {
            printf("disk full: cannot mount a tmpfs (%s): skipped\n", strerror(errno));
            skip();
        }
        char *err = NULL;
        int rc = master_cli(g_in, out, &err);
        if (rc == 5) {
            char want[900];
            snprintf(want, sizeof want, "lacquer: %s", out);
            if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, "No space left on device"))
                fail_msg("tmpfs %s: %s", sizes[k], err);
            printf("disk full (tmpfs %s): %s", sizes[k], err);
            assert_int_equal(lqt_dir_count(mnt), 0); /* the folder it made is gone */
            refused++;
        } else {
            if (rc > 1) fail_msg("tmpfs %s: exit %d: %s", sizes[k], rc, err);
            assert_int_equal(lqt_dir_count(out), 5);
            completed++;
        }
        free(err);
        assert_int_equal(umount(mnt), 0);
        assert_true(lqt_file_hash(g_in) == g_in_hash);
    }
    assert_true(refused >= 3 && completed >= 1);
}

/* ---- signals at random moments, then a rerun ---- */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static pid_t spawn(const char *in, const char *out, const char *errpath)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(errpath, "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(99);
        execl(LQ_CLI_PATH, LQ_CLI_PATH, "master", in, "--preset", "gentle", "--target", "cd",
              "--target", "flac-archive", "--out", out, "--quiet", "--threads", "2",
              (char *)NULL);
        _exit(98);
    }
    return pid;
}

static const char *const k_exports[] = {"mix (cd).wav", "mix (flac-archive).flac"};

/* Every visible file in out is complete: an export equal to the reference, or a report. */
static int only_complete(const char *out, const char *ref, int allow_hidden)
{
    DIR *d = opendir(out);
    if (!d) return 1;
    struct dirent *e;
    int ok = 1;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!strncmp(e->d_name, ".lacquer-", 9) && allow_hidden) continue;
        if (!strncmp(e->d_name, "report.", 7)) continue;
        char *a = lqt_join(out, e->d_name), *b = lqt_join(ref, e->d_name);
        if (!lqt_files_equal(a, b)) {
            printf("  %s: not a complete export\n", e->d_name);
            ok = 0;
        }
        free(a);
        free(b);
    }
    closedir(d);
    return ok;
}

static void test_signals_then_rerun(void **state)
{
    (void)state;
    char ref[700], out[700], errp[700];
    snprintf(ref, sizeof ref, "%s/sig-ref", g_tmp);
    snprintf(errp, sizeof errp, "%s/sig-err", g_tmp);
    fflush(stdout);
    double t0 = now_s();
    int st;
    pid_t p = spawn(g_in, ref, errp);
    assert_int_equal(waitpid(p, &st, 0), p);
    double full = now_s() - t0;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
    const char *env = getenv("LQ_SIGNAL_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    printf("signals: seed %u (rerun with LQ_SIGNAL_SEED=%u), a whole run takes %.2f s\n", seed,
           seed, full);
    srand(seed);
    const int sigs[3] = {SIGINT, SIGTERM, SIGKILL};
    for (int it = 0; it < 6; it++) {
        int sig = sigs[it % 3];
        snprintf(out, sizeof out, "%s/sig-out", g_tmp);
        double delay = full * 1.1 * rand() / (double)RAND_MAX;
        fflush(stdout);
        pid_t c = spawn(g_in, out, errp);
        struct timespec ts = {(time_t)delay, (long)((delay - (time_t)delay) * 1e9)};
        nanosleep(&ts, NULL);
        kill(c, sig);
        assert_int_equal(waitpid(c, &st, 0), c);
        const char *how;
        if (sig != SIGKILL && WIFEXITED(st) && WEXITSTATUS(st) == 130) {
            char *msg = NULL;
            FILE *f = fopen(errp, "r");
            assert_non_null(f);
            msg = calloc(1, 4096);
            size_t n = fread(msg, 1, 4095, f);
            msg[n] = 0;
            fclose(f);
            char want[900];
            snprintf(want, sizeof want, "lacquer: interrupted: nothing was written to %s\n", out);
            assert_string_equal(msg, want);
            free(msg);
            assert_int_equal(lqt_exists(out), 0);
            how = "interrupted, folder removed";
        } else if (WIFEXITED(st) && WEXITSTATUS(st) <= 1) {
            assert_true(only_complete(out, ref, 0));
            how = "had finished";
        } else if (sig != SIGKILL && WIFSIGNALED(st) && WTERMSIG(st) == sig) {
            /* before the command installed its handler: nothing was started */
            assert_int_equal(lqt_exists(out), 0);
            how = "signalled before the run began, nothing written";
        } else {
            if (!(sig == SIGKILL && WIFSIGNALED(st)))
                fail_msg("signal %d after %.3f s: exit %d, signal %d", sig, delay,
                         WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                         WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            assert_true(only_complete(out, ref, 1));
            how = "killed, only complete exports left";
        }
        printf("  %-7s after %.3f s: %s\n", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGKILL",
               delay, how);
        /* the rerun (with --force: a killed run may have published some exports) */
        const char *argv[] = {LQ_CLI_PATH, "master", g_in, "--preset", "gentle", "--target", "cd",
                              "--target", "flac-archive", "--out", out, "--quiet", "--threads",
                              "2", "--force", NULL};
        int rc = lqt_run(argv, NULL, NULL);
        assert_true(rc <= 1);
        /* nothing hidden left: what a killed run left, its owner dead, went at the rerun */
        assert_int_equal(lqt_temp_files(out), 0);
        for (int k = 0; k < 2; k++) {
            char *a = lqt_join(out, k_exports[k]), *b = lqt_join(ref, k_exports[k]);
            assert_true(lqt_files_equal(a, b));
            free(a);
            free(b);
        }
        lqt_rmrf(out);
        assert_true(lqt_file_hash(g_in) == g_in_hash);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folder_removed_mid_run),
        cmocka_unit_test(test_folder_read_only_mid_run),
        cmocka_unit_test(test_input_truncated_while_read),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_signals_then_rerun),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
