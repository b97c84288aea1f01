/* FFmpeg loaded on demand (src/io/fflib.c): a run that needs no FFmpeg never maps it
 * (linked, its ~120 dependencies cost every run about 27 MiB of peak RSS), an AAC round
 * trip loads libavcodec alone, a lossy input libavformat too, and a missing library is
 * one clear line.  This executable does not link FFmpeg: what /proc/self/maps shows is
 * what liblacquer loaded, in the order of the tests below. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>

#include "io/fflib.h"
#include "lacquer/lacquer.h"
#include "lqtest.h"

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

/* Whether a library whose file name starts with `name` is mapped in this process. */
static int mapped(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        const char *slash = strrchr(line, '/');
        found = slash && strncmp(slash + 1, name, strlen(name)) == 0;
    }
    fclose(f);
    return found;
}

static void master(const char *in, const char *target, const char *out)
{
    const char *targets[] = {target};
    if (lqt_master(in, "transparent", targets, 1, out, 0, -1)) fail_msg("mastering failed");
}

/* Analysing a WAV and mastering it to cd (no codec check), to a FLAC and an MP3 target
 * (MP3 and Ogg checks are libsndfile's, decoded by libsndfile): FFmpeg stays unloaded.
 * Then an AAC check loads libavcodec but not libavformat; an MP3 input loads
 * libavformat. */
static void test_loaded_only_when_needed(void **state)
{
    (void)state;
    assert_false(mapped("libavutil.so"));
    assert_false(mapped("libavcodec.so"));
    char in[512], out[512], err[512];
    snprintf(in, sizeof in, "%s/mix.wav", g_tmp);
    assert_int_equal(lqt_write_mix(in, 4.0, 3), 0);
    lq_analysis a;
    if (lq_analyze_file(in, &a, err, sizeof err)) fail_msg("%s", err);
    snprintf(out, sizeof out, "%s/cd", g_tmp);
    master(in, "cd", out);
    snprintf(out, sizeof out, "%s/flac", g_tmp);
    master(in, "flac-archive", out);
    snprintf(out, sizeof out, "%s/mp3", g_tmp);
    master(in, "mp3-320", out);
    snprintf(out, sizeof out, "%s/bandcamp", g_tmp); /* MP3 + Ogg Vorbis checks */
    master(in, "bandcamp", out);
    printf("after analyze, cd, flac-archive, mp3-320, bandcamp: libavcodec %s\n",
           mapped("libavcodec.so") ? "mapped" : "not mapped");
    assert_false(mapped("libavutil.so"));
    assert_false(mapped("libavcodec.so"));
    assert_false(mapped("libavformat.so"));

    snprintf(out, sizeof out, "%s/apple", g_tmp); /* the AAC check */
    master(in, "apple-music", out);
    printf("after apple-music (AAC check): libavcodec %s, libavformat %s\n",
           mapped("libavcodec.so") ? "mapped" : "not mapped",
           mapped("libavformat.so") ? "mapped" : "not mapped");
    assert_true(mapped("libavcodec.so"));
    assert_false(mapped("libavformat.so"));

    /* the MP3 export of mp3-320, as an input */
    char mp3[800];
    snprintf(mp3, sizeof mp3, "%s/mp3/mix (mp3-320).mp3", g_tmp);
    if (lq_analyze_file(mp3, &a, err, sizeof err)) fail_msg("%s", err);
    printf("after analyzing an MP3: libavformat %s (%.2f LUFS)\n",
           mapped("libavformat.so") ? "mapped" : "not mapped", a.integrated_lufs);
    assert_true(mapped("libavformat.so"));
}

/* A missing library: the error code the caller asked for and one line naming the
 * library, what the loader said, and what to install; the table stays empty. */
static void test_missing_library(void **state)
{
    (void)state;
    const char *names[3] = {lq_fflib_sonames[0], "libavcodec-lacquer-test.so.0",
                            lq_fflib_sonames[2]};
    lq_fflib lib;
    lq_diag d = {{0}};
    assert_int_equal(lq_fflib_open_names(&lib, names, 1, LQ_ERR_ENCODE, NULL, &d),
                     LQ_ERR_ENCODE);
    printf("%s\n", d.msg);
    char want[512];
    snprintf(want, sizeof want,
             "FFmpeg's library libavcodec-lacquer-test.so.0 cannot be loaded "
             "(libavcodec-lacquer-test.so.0: cannot open shared object file: No such file "
             "or directory) (expected FFmpeg's libraries, Debian packages libavcodec%d and "
             "libavformat%d: AAC checks, AAC exports and lossy inputs need them)",
             LIBAVCODEC_VERSION_MAJOR, LIBAVFORMAT_VERSION_MAJOR);
    assert_string_equal(d.msg, want);
    assert_null(lib.util);
    assert_null(lib.avcodec_open2);

    /* an input: the line starts with the file */
    assert_int_equal(lq_fflib_open_names(&lib, names, 1, LQ_ERR_INPUT_UNREADABLE,
                                         "/music/song.mp3", &d),
                     LQ_ERR_INPUT_UNREADABLE);
    assert_true(strncmp(d.msg, "/music/song.mp3: FFmpeg's library libavcodec-lacquer-test", 57) ==
                0);

    /* the real ones load, every function resolved */
    assert_int_equal(lq_fflib_open(&lib, 1, LQ_ERR_ENCODE, NULL, &d), LQ_OK);
    assert_non_null(lib.avcodec_open2);
    assert_non_null(lib.avformat_open_input);
    assert_non_null(lib.av_strerror);
    lq_fflib_close(&lib);
    assert_null(lib.codec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded_only_when_needed),
        cmocka_unit_test(test_missing_library),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
