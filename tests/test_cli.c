/* The command-line contract: every bad input and bad preset gives its exact error line
 * and exit code, writes nothing, and leaves the input unchanged (hashed before and
 * after); existing outputs are kept without --force; a good run writes exports +
 * report.json + report.txt and nothing else. */
#include <math.h>
#include <setjmp.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lqtest.h"
#include "synth.h"

static char *g_tmp;

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(data, 1, n, f);
    fclose(f);
}

static void tone_file(const char *path, int channels, int rate, size_t frames, int subtype)
{
    double *x = malloc(frames * sizeof *x);
    lqs_sine(x, frames, rate, 440.0, 0.25, 0.0);
    const double *pl[8];
    for (int c = 0; c < channels; c++) pl[c] = x;
    assert_int_equal(lqt_write_wav(path, pl, channels, frames, rate, subtype), 0);
    free(x);
}

/* Run `lacquer master IN --preset P --out OUT [extra]` and check the whole contract. */
static void expect_failure(const char *in, const char *preset, const char *extra,
                           int want_rc, const char *want_line)
{
    char *out = lqt_join(g_tmp, "never");
    uint64_t before = lqt_exists(in) ? lqt_file_hash(in) : 0;
    const char *argv[16] = {LQ_CLI_PATH, "master", in, "--preset", preset, "--out", out,
                            "--target", "cd"};
    int argc = 9;
    if (extra) {
        argv[argc++] = "--set";
        argv[argc++] = extra;
    }
    argv[argc] = NULL;
    char *so = NULL, *se = NULL;
    int rc = lqt_run(argv, &so, &se);
    char want[2048];
    snprintf(want, sizeof want, "lacquer: %s\n", want_line);
    if (rc != want_rc || strcmp(se, want) != 0)
        fail_msg("input %s: exit %d (want %d)\n stderr: %s want:   %s", in, rc, want_rc, se,
                 want);
    assert_string_equal(so, "");
    assert_false(lqt_exists(out));              /* nothing written, no folder made */
    if (before) assert_true(lqt_file_hash(in) == before);  /* input untouched */
    free(so);
    free(se);
    free(out);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    char p[64][512];
    int k = 0;
    /* missing */
    snprintf(p[k], 512, "%s/missing.wav", g_tmp);
    {
        char want[1024];
        snprintf(want, sizeof want,
                 "%s: cannot open input (No such file or directory) (expected an audio file)",
                 p[k]);
        expect_failure(p[k], "transparent", NULL, 3, want);
    }
    k++;
    /* a directory */
    snprintf(p[k], 512, "%s", g_tmp);
    {
        char want[1024];
        snprintf(want, sizeof want, "%s: is a directory (expected an audio file)", p[k]);
        expect_failure(p[k], "transparent", NULL, 3, want);
    }
    k++;
    /* not audio */
    snprintf(p[k], 512, "%s/notes.wav", g_tmp);
    write_bytes(p[k], "these are my mix notes\n", 23);
    {
        char want[1024];
        snprintf(want, sizeof want,
                 "%s: not a readable audio file (Format not recognised.) (expected WAV, "
                 "AIFF, FLAC, Ogg, Opus, MP3, AAC or M4A)",
                 p[k]);
        expect_failure(p[k], "transparent", NULL, 3, want);
    }
    k++;
    /* zero bytes */
    snprintf(p[k], 512, "%s/empty.wav", g_tmp);
    write_bytes(p[k], "", 0);
    {
        char want[1024];
        snprintf(want, sizeof want,
                 "%s: file is empty (expected audio with at least one sample)", p[k]);
        expect_failure(p[k], "transparent", NULL, 3, want);
    }
    k++;
    /* a valid header with no frames */
    snprintf(p[k], 512, "%s/noframes.wav", g_tmp);
    {
        SF_INFO info = {.samplerate = 44100, .channels = 2,
                        .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
        SNDFILE *sf = sf_open(p[k], SFM_WRITE, &info);
        assert_non_null(sf);
        sf_close(sf);
        char want[1024];
        snprintf(want, sizeof want, "%s: holds no audio (expected at least one sample)", p[k]);
        expect_failure(p[k], "transparent", NULL, 3, want);
    }
    k++;
    /* six channels */
    snprintf(p[k], 512, "%s/surround.wav", g_tmp);
    tone_file(p[k], 6, 48000, 4800, SF_FORMAT_PCM_24);
    {
        char want[1024];
        snprintf(want, sizeof want, "%s: has 6 channels (expected mono or stereo)", p[k]);
        expect_failure(p[k], "transparent", NULL, 3, want);
    }
    k++;
    /* an absurd rate */
    snprintf(p[k], 512, "%s/slow.wav", g_tmp);
    tone_file(p[k], 2, 4000, 4000, SF_FORMAT_PCM_16);
    {
        char want[1024];
        snprintf(want, sizeof want, "%s: sample rate 4000 Hz (expected 8000 to 768000 Hz)",
                 p[k]);
        expect_failure(p[k], "transparent", NULL, 3, want);
    }
    k++;
    /* truncated: cut a valid file in the middle of its data chunk */
    snprintf(p[k], 512, "%s/cut.wav", g_tmp);
    {
        char full[600];
        snprintf(full, sizeof full, "%s/full.wav", g_tmp);
        tone_file(full, 2, 44100, 44100, SF_FORMAT_PCM_24);
        FILE *f = fopen(full, "rb");
        assert_non_null(f);
        char *buf = malloc(200000);
        size_t n = fread(buf, 1, 200000, f);
        fclose(f);
        assert_true(n > 150000);
        write_bytes(p[k], buf, 150000);
        free(buf);
        char want[1024];
        snprintf(want, sizeof want,
                 "%s: truncated: the file ends before the audio its header declares "
                 "(expected a complete file)",
                 p[k]);
        expect_failure(p[k], "transparent", NULL, 3, want);
    }
    k++;
    /* NaN in a float file, 1000 frames in, right channel */
    snprintf(p[k], 512, "%s/nan.wav", g_tmp);
    {
        size_t n = 4410;
        double *l = calloc(n, sizeof *l), *r = calloc(n, sizeof *r);
        r[1000] = NAN;
        const double *pl[2] = {l, r};
        assert_int_equal(lqt_write_wav(p[k], pl, 2, n, 44100, SF_FORMAT_FLOAT), 0);
        free(l);
        free(r);
        char want[1024];
        snprintf(want, sizeof want,
                 "%s: NaN or infinite sample at 0:00.023 (frame 1000, channel 2) (expected "
                 "finite samples)",
                 p[k]);
        expect_failure(p[k], "transparent", NULL, 3, want);
    }
    k++;
    /* infinity */
    snprintf(p[k], 512, "%s/inf.wav", g_tmp);
    {
        size_t n = 44100 * 2;
        double *l = calloc(n, sizeof *l);
        l[88000] = INFINITY;
        const double *pl[1] = {l};
        assert_int_equal(lqt_write_wav(p[k], pl, 1, n, 44100, SF_FORMAT_DOUBLE), 0);
        free(l);
        char want[1024];
        snprintf(want, sizeof want,
                 "%s: NaN or infinite sample at 0:01.995 (frame 88000, channel 1) (expected "
                 "finite samples)",
                 p[k]);
        expect_failure(p[k], "transparent", NULL, 3, want);
    }
}

static void test_bad_presets(void **state)
{
    (void)state;
    char in[512], bad[512], want[1024];
    snprintf(in, sizeof in, "%s/ok.wav", g_tmp);
    tone_file(in, 2, 44100, 22050, SF_FORMAT_PCM_24);
    expect_failure(in, "no-such-preset", NULL, 4,
                   "no-such-preset: no such preset (shipped presets: acoustic, bright-air, "
                   "gentle, modern-loud, speech, transparent, warm)");
    static const struct { const char *text, *msg; } cases[] = {
        {"lacquer: 1\nname: x\nfinish:\n  limiter: {release_ms: 5000}\n",
         "4:25: finish.limiter.release_ms: 5000 is out of range (expected milliseconds from 1 "
         "to 1000)"},
        {"lacquer: 1\nname: x\nmaster:\n  - gain: {gain_db: loud}\n",
         "4:21: master[0].gain.gain_db: loud is not a number (expected dB from -60 to 24)"},
        {"lacquer: 1\nname: x\ncolour: red\n",
         NULL},
        {"lacquer: 2\nname: x\n", NULL},
        {"lacquer: 1\nname: x\nmaster: [\n", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(bad, sizeof bad, "%s/bad%zu.yaml", g_tmp, i);
        write_bytes(bad, cases[i].text, strlen(cases[i].text));
        if (cases[i].msg) {
            snprintf(want, sizeof want, "%s:%s", bad, cases[i].msg);
            expect_failure(in, bad, NULL, 4, want);
        } else {
            /* exact lines for these are asserted in test_preset; here: code 4, one line,
             * naming the file, nothing written */
            char *out = lqt_join(g_tmp, "never");
            const char *argv[] = {LQ_CLI_PATH, "master", in, "--preset", bad, "--out", out, NULL};
            char *se = NULL;
            assert_int_equal(lqt_run(argv, NULL, &se), 4);
            assert_non_null(strstr(se, bad));
            assert_non_null(strchr(se, '\n'));
            assert_true(strchr(se, '\n')[1] == 0);
            assert_false(lqt_exists(out));
            free(se);
            free(out);
        }
    }
    expect_failure(in, "transparent", "finish.limiter.release_ms=abc", 4,
                   "--set: finish.limiter.release_ms: abc is not a number (expected "
                   "milliseconds from 1 to 1000)");
    expect_failure(in, "transparent", "colour=red", 4,
                   "--set colour=red: unknown key \"colour\" (expected a preset key: master, "
                   "finish, targets, reference or a target key: sample_rate, format, bit_depth, "
                   "loudness_lufs, true_peak_dbtp, codec_check, bitrate_kbps, filename, "
                   "limiter, dither, min_sample_rate, resampler, codec_guard_db, aac_kbps)");
}

static void test_good_run_and_no_overwrite(void **state)
{
    (void)state;
    char in[512], *out = lqt_join(g_tmp, "masters");
    snprintf(in, sizeof in, "%s/song.wav", g_tmp);
    tone_file(in, 2, 44100, 44100 * 2, SF_FORMAT_PCM_24);
    uint64_t h = lqt_file_hash(in);
    const char *argv[] = {LQ_CLI_PATH, "master", in, "--preset", "transparent", "--out", out,
                          "--target", "cd", "--target", "flac-archive", "--quiet", NULL};
    assert_int_equal(lqt_run(argv, NULL, NULL), 0);
    assert_int_equal(lqt_dir_count(out), 5); /* 2 exports + report.json, .txt, .html */
    char *cd = lqt_join(out, "song (cd).wav");
    assert_true(lqt_exists(cd));
    uint64_t hcd = lqt_file_hash(cd);
    /* again: refused, nothing changed */
    char *se = NULL;
    assert_int_equal(lqt_run(argv, NULL, &se), 5);
    char want[1024];
    snprintf(want, sizeof want,
             "lacquer: %s/song (cd).wav: already exists (expected a new output folder, or "
             "--force)\n", out);
    assert_string_equal(se, want);
    free(se);
    assert_int_equal(lqt_dir_count(out), 5);
    assert_true(lqt_file_hash(cd) == hcd);
    /* --force: rewritten, identical bytes */
    const char *argv2[] = {LQ_CLI_PATH, "master", in, "--preset", "transparent", "--out", out,
                           "--target", "cd", "--target", "flac-archive", "--quiet", "--force",
                           NULL};
    assert_int_equal(lqt_run(argv2, NULL, NULL), 0);
    assert_int_equal(lqt_dir_count(out), 5);
    assert_true(lqt_file_hash(cd) == hcd);
    assert_true(lqt_file_hash(in) == h);
    /* even with --force, an export never replaces the input */
    {
        char *self = lqt_join(out, "song (cd).wav");
        const char *argv4[] = {LQ_CLI_PATH, "master", self, "--preset", "transparent",
                               "--out", out, "--target", "cd", "--title", "song", "--quiet",
                               "--force", NULL};
        uint64_t hs = lqt_file_hash(self);
        char *se4 = NULL;
        assert_int_equal(lqt_run(argv4, NULL, &se4), 5);
        char want4[1200];
        snprintf(want4, sizeof want4,
                 "lacquer: %s: is the input file; lacquer never overwrites its input "
                 "(expected another output folder or filename pattern)\n", self);
        assert_string_equal(se4, want4);
        assert_true(lqt_file_hash(self) == hs);
        assert_int_equal(lqt_dir_count(out), 5);
        free(se4);
        free(self);
    }
    /* --json prints the report */
    char *so = NULL;
    const char *argv3[] = {LQ_CLI_PATH, "master", in, "--preset", "transparent", "--out", out,
                           "--target", "cd", "--target", "flac-archive", "--json", "--force",
                           NULL};
    assert_int_equal(lqt_run(argv3, &so, NULL), 0);
    char *rj = lqt_join(out, "report.json");
    FILE *f = fopen(rj, "rb");
    assert_non_null(f);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    assert_string_equal(so, buf);
    free(so);
    free(rj);
    free(cd);
    free(out);
}

/* Title/artist/album: in the file name pattern and in the tags of FLAC, MP3 and WAV. */
static void test_tags(void **state)
{
    (void)state;
    char in[512], *out = lqt_join(g_tmp, "tagged");
    snprintf(in, sizeof in, "%s/take7.wav", g_tmp);
    tone_file(in, 2, 44100, 44100 * 2, SF_FORMAT_PCM_24);
    const char *argv[] = {LQ_CLI_PATH, "master", in, "--preset", "transparent", "--out", out,
                          "--target", "flac-archive", "--target", "mp3-320", "--target", "cd",
                          "--title", "Night Drive", "--artist", "The Lacquers", "--album",
                          "First Coat", "--quiet", NULL};
    assert_int_equal(lqt_run(argv, NULL, NULL), 0);
    static const char *const files[] = {"Night Drive (flac-archive).flac",
                                        "Night Drive (mp3-320).mp3", "Night Drive (cd).wav"};
    for (int i = 0; i < 3; i++) {
        char *f = lqt_join(out, files[i]);
        SF_INFO info = {0};
        SNDFILE *sf = sf_open(f, SFM_READ, &info);
        if (!sf) fail_msg("%s: %s", f, sf_strerror(NULL));
        const char *t = sf_get_string(sf, SF_STR_TITLE), *a = sf_get_string(sf, SF_STR_ARTIST);
        if (!t || strcmp(t, "Night Drive") || !a || strcmp(a, "The Lacquers"))
            fail_msg("%s: title \"%s\", artist \"%s\"", files[i], t ? t : "(none)",
                     a ? a : "(none)");
        if (i < 2) {
            const char *al = sf_get_string(sf, SF_STR_ALBUM);
            assert_non_null(al);
            assert_string_equal(al, "First Coat");
        }
        sf_close(sf);
        free(f);
    }
    free(out);
}

static void test_usage_errors(void **state)
{
    (void)state;
    const char *a1[] = {LQ_CLI_PATH, NULL};
    assert_int_equal(lqt_run(a1, NULL, NULL), 2);
    const char *a2[] = {LQ_CLI_PATH, "master", NULL};
    char *se = NULL;
    assert_int_equal(lqt_run(a2, NULL, &se), 2);
    assert_string_equal(se, "lacquer: master needs a MIX file (usage: lacquer master MIX "
                            "[--preset NAME|FILE] [--target NAME|FILE]... [--out DIR])\n");
    free(se);
    const char *a3[] = {LQ_CLI_PATH, "master", "x.wav", "--bogus", NULL};
    assert_int_equal(lqt_run(a3, NULL, &se), 2);
    assert_string_equal(se, "lacquer: unknown option \"--bogus\" for master (see lacquer --help)\n");
    free(se);
    /* what a preset does: the EQ design curve at third octaves */
    const char *a5[] = {LQ_CLI_PATH, "analyze", "--preset", "warm", NULL};
    char *po = NULL;
    assert_int_equal(lqt_run(a5, &po, NULL), 0);
    assert_non_null(strstr(po, "master[0]: eq"));
    assert_non_null(strstr(po, "\n        1000 "));
    free(po);
    const char *a4[] = {LQ_CLI_PATH, "--version", NULL};
    char *so = NULL;
    assert_int_equal(lqt_run(a4, &so, NULL), 0);
    assert_non_null(strstr(so, "lacquer 0."));
    free(so);
}

/* Ctrl-C during a long export: exit 130, the output folder exactly as it was. */
static void test_interrupt_leaves_folder(void **state)
{
    (void)state;
    char in[512];
    snprintf(in, sizeof in, "%s/long.wav", g_tmp);
    const char *gen[] = {LQ_CLI_PATH, "demo", in, "--seconds", "120", "--rate", "96000", NULL};
    assert_int_equal(lqt_run(gen, NULL, NULL), 0);
    char *out = lqt_join(g_tmp, "keep");
    char *keep = lqt_join(out, "notes.txt");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && echo mine > '%s'", out, keep);
    assert_int_equal(system(cmd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        int errfd = open(lqt_join(g_tmp, "int.err"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(errfd, 2);
        execl(LQ_CLI_PATH, LQ_CLI_PATH, "master", in, "--preset", "transparent", "--out", out,
              "--target", "cd", "--target", "hires-96", "--target", "youtube", (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    kill(pid, SIGINT);
    int st = 0;
    assert_true(waitpid(pid, &st, 0) == pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    assert_int_equal(lqt_dir_count(out), 1);
    assert_true(lqt_exists(keep));
    char *ef = lqt_join(g_tmp, "int.err");
    FILE *f = fopen(ef, "r");
    assert_non_null(f);
    char line[1024] = {0};
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    char want[1200];
    snprintf(want, sizeof want, "lacquer: interrupted: nothing was written to %s\n", out);
    assert_string_equal(line, want);
    free(ef);
    free(keep);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_bad_presets),
        cmocka_unit_test(test_good_run_and_no_overwrite),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_interrupt_leaves_folder),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
