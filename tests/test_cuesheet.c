/* CUE sheet and cdrdao TOC, checked with the tools that read them: a generated 16-bit
 * 44.1 kHz image (noise, so every slice differs) with a gapless join, gaps and titles
 * with quotes and UTF-8; cueprint reads every field, cuebreakpoints gives the INDEX 01
 * positions, shnsplit cuts the image into files equal to its slices sample for sample,
 * cdrdao show-toc accepts the TOC with its CD-TEXT.  A missing tool fails the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>

#include "album/album.h"
#include "lqtest.h"

#define FR LQ_CD_FRAME_SAMPLES

static char *g_tmp;
static char g_cwd[4096];
static short *g_img;            /* interleaved stereo image */
static lq_cd_layout g_lay;

static const char *tool(const char *name)
{
    static const char *const dirs[] = {"/usr/bin/", "/bin/", "/usr/local/bin/"};
    static char path[256];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", dirs[i], name);
        if (access(path, X_OK) == 0) return path;
    }
    fail_msg("%s is not installed (scripts/deps installs cuetools, shntool, cdrdao)", name);
    return NULL;
}

static char *xdup(const char *s)
{
    char *r = strdup(s);
    assert_non_null(r);
    return r;
}

/* Four tracks: 1 at 0 (320 frames), a 1 s gap then 2 (310 frames), 3 gapless (300
 * frames + 1 frame), a 2 s 13-frame gap then 4 (305 frames). */
static lq_album_spec *make_spec(void)
{
    lq_album_spec *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->file = xdup("album.yaml");
    s->dir = xdup("");
    s->title = xdup("Night \"Drive\"\tRemasters");
    s->artist = xdup("The Lacquers");
    s->genre = xdup("Synthpop");
    s->year = 2026;
    strcpy(s->upc, "036000291452");
    s->n_tracks = 4;
    s->tracks = calloc(4, sizeof *s->tracks);
    assert_non_null(s->tracks);
    const char *titles[] = {"Opening \"Theme\"", "Café Noir", "日本語 Song", "Coda\\End"};
    const char *isrc[] = {"USRC17607839", "GBAYE0601498", "", "USRC17607840"};
    for (int i = 0; i < 4; i++) {
        s->tracks[i].title = xdup(titles[i]);
        strcpy(s->tracks[i].isrc, isrc[i]);
    }
    s->tracks[1].artist = xdup("Guest Singer");
    return s;
}

static void make_layout(lq_cd_layout *l)
{
    memset(l, 0, sizeof *l);
    l->n = 4;
    l->index0[0] = -1;
    l->index1[0] = 0;
    l->index0[1] = 320 * FR;
    l->index1[1] = (320 + 75) * FR;
    l->index0[2] = -1;
    l->index1[2] = (395 + 310) * FR;
    l->index0[3] = (705 + 301) * FR;
    l->index1[3] = (1006 + 163) * FR;
    l->end = (1169 + 305) * FR;
}

static int setup(void **state)
{
    (void)state;
    if (!getcwd(g_cwd, sizeof g_cwd)) return -1;
    g_tmp = lqt_tmpdir();
    if (chdir(g_tmp) != 0) return -1;
    make_layout(&g_lay);
    size_t n = (size_t)g_lay.end;
    g_img = malloc(n * 2 * sizeof *g_img);
    if (!g_img) return -1;
    uint32_t x = 12345;
    for (size_t i = 0; i < 2 * n; i++) {
        x = x * 1664525u + 1013904223u;
        g_img[i] = (short)(x >> 16);
    }
    SF_INFO info = {.samplerate = 44100, .channels = 2,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open("image.wav", SFM_WRITE, &info);
    if (!sf || sf_writef_short(sf, g_img, (sf_count_t)n) != (sf_count_t)n) return -1;
    sf_close(sf);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_img);
    if (chdir(g_cwd) != 0) return -1;
    if (getenv("LQT_KEEP")) /* keep the files to look at */
        fprintf(stderr, "kept %s\n", g_tmp);
    else
        lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

static void write_both(lq_album_spec *s)
{
    char *cue = NULL, *toc = NULL;
    lq_diag d = {{0}};
    lq_error e = lq_cd_cue_write(s, &g_lay, "image.wav", &cue, &d);
    if (e) fail_msg("%s", d.msg);
    e = lq_cd_toc_write(s, &g_lay, "image.wav", &toc, &d);
    if (e) fail_msg("%s", d.msg);
    assert_int_equal(lqt_write_text("image.cue", cue), 0);
    assert_int_equal(lqt_write_text("image.toc", toc), 0);
    free(cue);
    free(toc);
}

static void test_cue_text(void **state)
{
    (void)state;
    lq_album_spec *s = make_spec();
    char *cue = NULL;
    lq_diag d = {{0}};
    assert_int_equal(lq_cd_cue_write(s, &g_lay, "image.wav", &cue, &d), LQ_OK);
    assert_string_equal(cue,
        "REM GENRE \"Synthpop\"\n"
        "REM DATE 2026\n"
        "CATALOG 0036000291452\n"
        "PERFORMER \"The Lacquers\"\n"
        "TITLE \"Night 'Drive' Remasters\"\n"
        "FILE \"image.wav\" WAVE\n"
        "  TRACK 01 AUDIO\n"
        "    TITLE \"Opening 'Theme'\"\n"
        "    PERFORMER \"The Lacquers\"\n"
        "    ISRC USRC17607839\n"
        "    INDEX 01 00:00:00\n"
        "  TRACK 02 AUDIO\n"
        "    TITLE \"Café Noir\"\n"
        "    PERFORMER \"Guest Singer\"\n"
        "    ISRC GBAYE0601498\n"
        "    INDEX 00 00:04:20\n"
        "    INDEX 01 00:05:20\n"
        "  TRACK 03 AUDIO\n"
        "    TITLE \"日本語 Song\"\n"
        "    PERFORMER \"The Lacquers\"\n"
        "    INDEX 01 00:09:30\n"
        "  TRACK 04 AUDIO\n"
        "    TITLE \"Coda\\End\"\n"
        "    PERFORMER \"The Lacquers\"\n"
        "    ISRC USRC17607840\n"
        "    INDEX 00 00:13:31\n"
        "    INDEX 01 00:15:44\n");
    free(cue);
    lq_album_spec_free(&s);
}

/* Bad layouts are refused with their reason. */
static void test_bad_layout(void **state)
{
    (void)state;
    lq_album_spec *s = make_spec();
    lq_diag d = {{0}};
    char *out = NULL;
    lq_cd_layout l = g_lay;
    l.index1[2] += 1;
    assert_int_equal(lq_cd_cue_write(s, &l, "image.wav", &out, &d), LQ_ERR_ARG);
    assert_string_equal(d.msg, "track 3: index at sample 414541 (expected whole frames of "
                               "588 samples)");
    l = g_lay;
    l.index0[3] = l.index1[3];
    assert_int_equal(lq_cd_toc_write(s, &l, "image.wav", &out, &d), LQ_ERR_ARG);
    assert_string_equal(d.msg, "track 4: INDEX 00 at 687372 is not before INDEX 01 at 687372");
    l = g_lay;
    l.end = l.index1[3] + 299 * FR;
    assert_int_equal(lq_cd_toc_write(s, &l, "image.wav", &out, &d), LQ_ERR_ARG);
    assert_string_equal(d.msg, "track 4: 175812 samples from INDEX 01 to the next track "
                               "(expected at least 4 s)");
    l = g_lay;
    l.n = 3;
    assert_int_equal(lq_cd_toc_write(s, &l, "image.wav", &out, &d), LQ_ERR_ARG);
    assert_null(out);
    lq_album_spec_free(&s);
}

static void test_cueprint(void **state)
{
    (void)state;
    lq_album_spec *s = make_spec();
    write_both(s);
    lq_album_spec_free(&s);
    const char *argv[] = {tool("cueprint"), "-i", "cue", "-d", "%N|%P|%T\n", "-t",
                          "%n|%p|%t|%i\n", "image.cue", NULL};
    char *out = NULL, *err = NULL;
    int rc = lqt_run(argv, &out, &err);
    if (rc != 0) fail_msg("cueprint: %d %s", rc, err);
    const char *want = "4|The Lacquers|Night 'Drive' Remasters\n"
                       "1|The Lacquers|Opening 'Theme'|USRC17607839\n"
                       "2|Guest Singer|Café Noir|GBAYE0601498\n"
                       "3|The Lacquers|日本語 Song|\n"
                       "4|The Lacquers|Coda\\End|USRC17607840\n";
    if (strcmp(out, want) != 0) fail_msg("cueprint:\n%s\nwant:\n%s", out, want);
    free(out);
    free(err);
}

/* cuebreakpoints: the INDEX 01 of tracks 2..n (gaps appended to the previous track), as
 * m:ss.ff; and with --split-gaps the INDEX 00 as well. */
static void test_cuebreakpoints(void **state)
{
    (void)state;
    lq_album_spec *s = make_spec();
    write_both(s);
    lq_album_spec_free(&s);
    const char *modes[] = {"--append-gaps", "--split-gaps"};
    for (int k = 0; k < 2; k++) {
        char want[256] = "";
        for (size_t i = 1; i < g_lay.n; i++) {
            long long v[2] = {g_lay.index0[i], g_lay.index1[i]};
            for (int j = k ? 0 : 1; j < 2; j++) {
                if (v[j] < 0) continue;
                long long f = v[j] / FR;
                snprintf(want + strlen(want), sizeof want - strlen(want), "%lld:%02lld.%02lld\n",
                         f / 4500, (f / 75) % 60, f % 75);
            }
        }
        const char *fmts[] = {"cue", "toc"};
        for (int t = 0; t < 2; t++) {
            char file[32];
            snprintf(file, sizeof file, "image.%s", fmts[t]);
            const char *argv[] = {tool("cuebreakpoints"), modes[k], "-i", fmts[t], file, NULL};
            char *out = NULL;
            int rc = lqt_run(argv, &out, NULL);
            assert_int_equal(rc, 0);
            if (strcmp(out, want) != 0)
                fail_msg("cuebreakpoints %s %s:\n%s\nwant:\n%s", modes[k], file, out, want);
            free(out);
        }
    }
}

/* shnsplit cuts the image at the CUE's breakpoints; each file is the image's slice
 * [INDEX 01 of the track, INDEX 01 of the next) sample for sample. */
static void test_shnsplit(void **state)
{
    (void)state;
    lq_album_spec *s = make_spec();
    write_both(s);
    lq_album_spec_free(&s);
    assert_int_equal(system("mkdir -p split"), 0);
    const char *argv[] = {tool("shnsplit"), "-q", "-f", "image.cue", "-o", "wav", "-d",
                          "split", "image.wav", NULL};
    char *err = NULL;
    int rc = lqt_run(argv, NULL, &err);
    if (rc != 0) fail_msg("shnsplit: %d %s", rc, err);
    free(err);
    assert_int_equal(lqt_dir_count("split"), 4);
    for (size_t i = 0; i < g_lay.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "split/split-track%02zu.wav", i + 1);
        SF_INFO info = {0};
        SNDFILE *sf = sf_open(name, SFM_READ, &info);
        assert_non_null(sf);
        long long a = g_lay.index1[i];
        long long b = i + 1 < g_lay.n ? g_lay.index1[i + 1] : g_lay.end;
        assert_int_equal(info.frames, b - a);
        assert_int_equal(info.channels, 2);
        assert_int_equal(info.samplerate, 44100);
        short *buf = malloc((size_t)(b - a) * 2 * sizeof *buf);
        assert_non_null(buf);
        assert_int_equal(sf_readf_short(sf, buf, b - a), b - a);
        sf_close(sf);
        assert_memory_equal(buf, g_img + 2 * a, (size_t)(b - a) * 2 * sizeof *buf);
        free(buf);
    }
}

static void expect_lines(const char *what, const char *out, const char *const *want)
{
    for (size_t i = 0; want[i]; i++)
        if (!strstr(out, want[i])) fail_msg("%s lacks \"%s\":\n%s", what, want[i], out);
}

/* cdrdao show-toc reads the TOC (and the image it names): catalog, ISRCs, each track's
 * pre-gap, start and end.  toc2cddb (cdrdao's own TOC parser too) gives the CD-TEXT
 * titles, decoded (\" unescaped, \351 the Latin-1 é; xmcd writes a backslash as \\), and
 * the disc offsets with the 2 s pre-gap that cdrdao adds before track 1. */
static void test_cdrdao(void **state)
{
    (void)state;
    lq_album_spec *s = make_spec();
    write_both(s);
    lq_album_spec_free(&s);
    const char *argv[] = {tool("cdrdao"), "show-toc", "image.toc", NULL};
    char *out = NULL, *err = NULL;
    int rc = lqt_run(argv, &out, &err);
    if (rc != 0) fail_msg("cdrdao show-toc: %d\n%s\n%s", rc, out, err);
    const char *toc[] = {"TOC TYPE: CD_DA\nCATALOG NUMBER: 0036000291452\n",
                         "TRACK  1  Mode AUDIO:\n          ISRC US RC1 76 07839\n",
                         "START  00:00:00(     0)\n          END    00:04:20(   320)\n",
                         "TRACK  2  Mode AUDIO:\n          ISRC GB AYE 06 01498\n",
                         "PREGAP 00:01:00(    75)\n          START  00:05:20(   395)\n"
                         "          END    00:09:30(   705)\n",
                         "START  00:09:30(   705)\n          END    00:13:31(  1006)\n",
                         "TRACK  4  Mode AUDIO:\n          ISRC US RC1 76 07840\n",
                         "PREGAP 00:02:13(   163)\n          START  00:15:44(  1169)\n"
                         "          END    00:19:49(  1474)\n",
                         NULL};
    expect_lines("cdrdao show-toc", out, toc);
    free(out);
    free(err);
    const char *argv2[] = {tool("toc2cddb"), "image.toc", NULL};
    rc = lqt_run(argv2, &out, &err);
    if (rc != 0) fail_msg("toc2cddb: %d\n%s\n%s", rc, out, err);
    const char *cddb[] = {"# 150\n# 545\n# 855\n# 1319\n",
                          "DTITLE=The Lacquers / Night \"Drive\" Remasters\n",
                          "TTITLE0=Opening \"Theme\"\n", "TTITLE1=Caf\xe9 Noir\n",
                          "TTITLE2=??? Song\n", "TTITLE3=Coda\\\\End\n", NULL};
    expect_lines("toc2cddb", out, cddb);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cue_text),       cmocka_unit_test(test_bad_layout),
        cmocka_unit_test(test_cueprint),       cmocka_unit_test(test_cuebreakpoints),
        cmocka_unit_test(test_shnsplit),       cmocka_unit_test(test_cdrdao),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
