/* Tags written with TagLib (lq_tags_write) into FLAC, MP3, Ogg Vorbis, Opus, WAV and
 * AIFF files made by libsndfile, read back by other readers: metaflac for FLAC, ffprobe
 * for every format.  Every field, ISRC included; UTF-8 and quotes survive.  The files are
 * tagged as the exports are: through /proc/self/fd/N of an O_TMPFILE, before a name is
 * linked to them.  A missing reader fails the test. */
#define _GNU_SOURCE /* O_TMPFILE, linkat */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sndfile.h>

#include "io/tags.h"
#include "lacquer/lacquer.h"
#include "lqtest.h"

static char *g_tmp;

static const lq_tags g_tags = {
    .title = "Café \"Noir\" — 夜",
    .artist = "Guest Singer",
    .album = "Night 'Drive'",
    .album_artist = "The Lacquers",
    .genre = "Synthpop",
    .label = "Gloss Records",
    .isrc = "USRC17607839",
    .year = 2026,
    .track = 3,
    .track_total = 12,
};

static const char *tool(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "/usr/bin/%s", name);
    if (access(path, X_OK) != 0)
        fail_msg("%s is not installed (scripts/deps installs flac and ffmpeg)", name);
    return path;
}

/* One second of a 440 Hz tone in the format, written into an O_TMPFILE in g_tmp
 * through its fd; returns the fd. */
static int write_hidden(int sf_format, int rate)
{
    int fd = open(g_tmp, O_TMPFILE | O_RDWR, 0644);
    assert_true(fd >= 0);
    SF_INFO info = {.samplerate = rate, .channels = 2, .format = sf_format};
    SNDFILE *sf = sf_open_fd(fd, SFM_WRITE, &info, 0);
    if (!sf) fail_msg("libsndfile: %s", sf_strerror(NULL));
    if ((sf_format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV) {
        /* A BWF bext chunk, as the exports have: tagging must keep it. */
        SF_BROADCAST_INFO bi;
        memset(&bi, 0, sizeof bi);
        snprintf(bi.description, sizeof bi.description, "lacquer test bext");
        bi.version = 2;
        assert_int_equal(sf_command(sf, SFC_SET_BROADCAST_INFO, &bi, sizeof bi), SF_TRUE);
    }
    double buf[2 * 480];
    for (int b = 0; b < rate / 480; b++) {
        for (int i = 0; i < 480; i++) {
            double v = 0.25 * sin(2 * M_PI * 440.0 * (b * 480 + i) / rate);
            buf[2 * i] = buf[2 * i + 1] = v;
        }
        assert_int_equal(sf_writef_double(sf, buf, 480), 480);
    }
    assert_int_equal(sf_close(sf), 0);
    return fd;
}

/* Tag the hidden file, then give it a name (as publishing does). */
static void tag_and_publish(int fd, lq_format fmt, const char *name)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    lq_diag d = {{0}};
    lq_error e = lq_tags_write(proc, fmt, &g_tags, &d);
    if (e) fail_msg("%s", d.msg);
    char *path = lqt_join(g_tmp, name);
    assert_int_equal(linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW), 0);
    close(fd);
    free(path);
}

/* ffprobe's tags of the file (format and streams merged), keys lower-cased. */
static json_t *probe(const char *name)
{
    char *path = lqt_join(g_tmp, name);
    const char *argv[] = {tool("ffprobe"), "-v", "error", "-show_format", "-show_streams",
                          "-of", "json", path, NULL};
    char *out = NULL, *err = NULL;
    int rc = lqt_run(argv, &out, &err);
    if (rc != 0) fail_msg("ffprobe %s: %d %s", name, rc, err);
    json_error_t je;
    json_t *root = json_loads(out, 0, &je);
    if (!root) fail_msg("ffprobe %s: not JSON: %s", name, out);
    json_t *tags = json_object();
    json_t *lists[2] = {json_object_get(root, "streams"), NULL};
    json_t *fmt = json_object_get(root, "format");
    size_t i;
    json_t *st;
    json_array_foreach(lists[0], i, st)
    {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(st, "tags"), k, v)
        {
            char lk[128];
            snprintf(lk, sizeof lk, "%s", k);
            for (char *p = lk; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            json_object_set(tags, lk, v);
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(fmt, "tags"), k, v)
    {
        char lk[128];
        snprintf(lk, sizeof lk, "%s", k);
        for (char *p = lk; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        json_object_set(tags, lk, v);
    }
    json_decref(root);
    free(out);
    free(err);
    free(path);
    return tags;
}

typedef struct kv {
    const char *key, *value;
} kv;

static void expect_tags(const char *name, const kv *want)
{
    json_t *tags = probe(name);
    char *dump = json_dumps(tags, JSON_INDENT(1) | JSON_SORT_KEYS);
    for (size_t i = 0; want[i].key; i++) {
        const char *got = json_string_value(json_object_get(tags, want[i].key));
        if (!got || strcmp(got, want[i].value) != 0)
            fail_msg("%s: %s = %s (want %s)\n%s", name, want[i].key, got ? got : "(none)",
                     want[i].value, dump);
    }
    free(dump);
    json_decref(tags);
}

/* What ffprobe calls each field: ID3v2 frames mapped to its names (TSRC keeps its frame
 * name), Vorbis comments as written. */
static const kv id3_want[] = {
    {"title", "Café \"Noir\" — 夜"}, {"artist", "Guest Singer"},
    {"album", "Night 'Drive'"},      {"album_artist", "The Lacquers"},
    {"genre", "Synthpop"},           {"publisher", "Gloss Records"},
    {"tsrc", "USRC17607839"},        {"date", "2026"},
    {"track", "3/12"},               {NULL, NULL},
};
static const kv vorbis_want[] = {
    {"title", "Café \"Noir\" — 夜"}, {"artist", "Guest Singer"},
    {"album", "Night 'Drive'"},      {"album_artist", "The Lacquers"},
    {"genre", "Synthpop"},           {"label", "Gloss Records"},
    {"isrc", "USRC17607839"},        {"date", "2026"},
    {"track", "3"},                  {"tracktotal", "12"},
    {NULL, NULL},
};

static void test_flac(void **state)
{
    (void)state;
    tag_and_publish(write_hidden(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100), LQ_FMT_FLAC,
                    "t.flac");
    char *path = lqt_join(g_tmp, "t.flac");
    const char *argv[] = {tool("metaflac"), "--export-tags-to=-", path, NULL};
    char *out = NULL, *err = NULL;
    int rc = lqt_run(argv, &out, &err);
    if (rc != 0) fail_msg("metaflac: %d %s", rc, err);
    const char *want[] = {"TITLE=Café \"Noir\" — 夜\n", "ARTIST=Guest Singer\n",
                          "ALBUM=Night 'Drive'\n", "ALBUMARTIST=The Lacquers\n",
                          "GENRE=Synthpop\n", "LABEL=Gloss Records\n",
                          "ISRC=USRC17607839\n", "DATE=2026\n", "TRACKNUMBER=3\n",
                          "TRACKTOTAL=12\n", NULL};
    for (size_t i = 0; want[i]; i++)
        if (!strstr(out, want[i])) fail_msg("metaflac lacks %s:\n%s", want[i], out);
    free(out);
    free(err);
    /* The audio is untouched: libsndfile still reads the full second. */
    size_t frames = 0;
    double *x = lqt_read_planar(path, NULL, &frames, NULL);
    assert_non_null(x);
    assert_int_equal(frames, 44100 / 480 * 480);
    free(x);
    free(path);
    expect_tags("t.flac", vorbis_want);
}

static void test_mp3(void **state)
{
    (void)state;
    tag_and_publish(write_hidden(SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100),
                    LQ_FMT_MP3, "t.mp3");
    expect_tags("t.mp3", id3_want);
}

static void test_ogg(void **state)
{
    (void)state;
    tag_and_publish(write_hidden(SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100), LQ_FMT_OGG,
                    "t.ogg");
    expect_tags("t.ogg", vorbis_want);
}

static void test_opus(void **state)
{
    (void)state;
    tag_and_publish(write_hidden(SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000), LQ_FMT_OPUS,
                    "t.opus");
    expect_tags("t.opus", vorbis_want);
}

/* Copy a RIFF file without its LIST and bext chunks (ffmpeg reads a WAV's ID3 chunk
 * only when it found no other metadata). */
static void strip_list(const char *src, const char *dst)
{
    FILE *f = fopen(src, "rb");
    assert_non_null(f);
    static unsigned char b[1 << 20], o[1 << 20];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    assert_true(n > 12 && n < sizeof b);
    memcpy(o, b, 12);
    size_t on = 12;
    for (size_t i = 12; i + 8 <= n;) {
        uint32_t sz = (uint32_t)b[i + 4] | (uint32_t)b[i + 5] << 8 | (uint32_t)b[i + 6] << 16 |
                      (uint32_t)b[i + 7] << 24;
        size_t all = 8 + (size_t)sz + (sz & 1);
        assert_true(i + all <= n);
        if (memcmp(b + i, "LIST", 4) != 0 && memcmp(b + i, "bext", 4) != 0) {
            memcpy(o + on, b + i, all);
            on += all;
        }
        i += all;
    }
    uint32_t riff = (uint32_t)(on - 8);
    for (int k = 0; k < 4; k++) o[4 + k] = (unsigned char)(riff >> (8 * k));
    f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(o, 1, on, f), on);
    fclose(f);
}

/* WAV: RIFF INFO with the basic fields (what ffprobe shows first), and the ID3v2 chunk
 * with every field (shown once the INFO list and bext are taken out); the BWF bext chunk
 * survives the tagging. */
static void test_wav(void **state)
{
    (void)state;
    tag_and_publish(write_hidden(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100), LQ_FMT_WAV,
                    "t.wav");
    static const kv info_want[] = {
        {"title", "Café \"Noir\" — 夜"}, {"artist", "Guest Singer"},
        {"album", "Night 'Drive'"},      {"genre", "Synthpop"},
        {"date", "2026"},                {NULL, NULL},
    };
    expect_tags("t.wav", info_want);
    char *path = lqt_join(g_tmp, "t.wav");
    char *id3 = lqt_join(g_tmp, "id3only.wav");
    strip_list(path, id3);
    expect_tags("id3only.wav", id3_want);
    size_t frames = 0;
    double *x = lqt_read_planar(path, NULL, &frames, NULL);
    assert_non_null(x);
    assert_int_equal(frames, 44100 / 480 * 480);
    free(x);
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    assert_non_null(sf);
    SF_BROADCAST_INFO bi;
    memset(&bi, 0, sizeof bi);
    assert_int_equal(sf_command(sf, SFC_GET_BROADCAST_INFO, &bi, sizeof bi), SF_TRUE);
    assert_string_equal(bi.description, "lacquer test bext");
    sf_close(sf);
    free(path);
    free(id3);
}

static void test_aiff(void **state)
{
    (void)state;
    tag_and_publish(write_hidden(SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 44100), LQ_FMT_AIFF,
                    "t.aiff");
    expect_tags("t.aiff", id3_want);
}

/* A file TagLib cannot parse is an error line, not a crash. */
static void test_bad_file(void **state)
{
    (void)state;
    char *path = lqt_join(g_tmp, "junk.flac");
    assert_int_equal(lqt_write_text(path, "not audio at all"), 0);
    lq_diag d = {{0}};
    assert_int_equal(lq_tags_write(path, LQ_FMT_FLAC, &g_tags, &d), LQ_ERR_OUTPUT);
    char want[4200];
    snprintf(want, sizeof want, "%s: cannot write tags (TagLib cannot open it for writing)",
             path);
    assert_string_equal(d.msg, want);
    free(path);
}

/* Tags that are not UTF-8 are refused, never dropped: --title/--artist/--album give one
 * line naming the option and the byte, exit 2, nothing written; a default title from a
 * file name that is not UTF-8 reads its stray bytes as Latin-1; the library names the
 * field. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    double x[4410] = {0};
    for (size_t i = 0; i < 4410; i++) x[i] = 0.1 * sin(2 * M_PI * 441.0 * (double)i / 44100);
    const double *pl[2] = {x, x};
    char *mix = lqt_join(g_tmp, "mix.wav"), *latin = lqt_join(g_tmp, "Caf\xe9.wav");
    char *out = lqt_join(g_tmp, "utf8-out");
    assert_int_equal(lqt_write_wav(mix, pl, 2, 4410, 44100, SF_FORMAT_PCM_24), 0);
    assert_int_equal(lqt_write_wav(latin, pl, 2, 4410, 44100, SF_FORMAT_PCM_24), 0);
    static const struct {
        const char *opt, *val, *line;
    } cases[] = {
        {"--title", "Caf\xe9 au lait",
         "lacquer: --title: invalid UTF-8 at byte offset 3 (0xe9) (expected UTF-8 text)\n"},
        {"--artist", "ok\xc3",
         "lacquer: --artist: invalid UTF-8 at byte offset 2 (0xc3) (expected UTF-8 text)\n"},
        {"--album", "\xed\xa0\x80 surrogate",
         "lacquer: --album: invalid UTF-8 at byte offset 0 (0xed) (expected UTF-8 text)\n"},
        {"--title", "over\xc0\xaflong",
         "lacquer: --title: invalid UTF-8 at byte offset 4 (0xc0) (expected UTF-8 text)\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *argv[] = {LQ_CLI_PATH, "master", mix, "--preset", "transparent",
                              "--target", "flac-archive", cases[k].opt, cases[k].val, "--out",
                              out, NULL};
        char *err = NULL;
        assert_int_equal(lqt_run(argv, NULL, &err), 2);
        assert_string_equal(err, cases[k].line);
        assert_false(lqt_exists(out));
        free(err);
    }
    /* the default title, from a file name in Latin-1: read as Latin-1 */
    const char *argv[] = {LQ_CLI_PATH, "master", latin, "--preset", "transparent", "--target",
                          "flac-archive", "--out", out, "--quiet", NULL};
    assert_int_equal(lqt_run(argv, NULL, NULL), 0);
    char *flac = lqt_join(out, "Caf\xc3\xa9 (flac-archive).flac");
    assert_true(lqt_exists(flac));
    free(flac);
    lqt_rmrf(out);
    /* ... and with --title that title */
    const char *argv2[] = {LQ_CLI_PATH, "master", latin, "--preset", "transparent", "--target",
                           "flac-archive", "--title", "Caf\xc3\xa9 au lait", "--out", out,
                           "--quiet", NULL};
    assert_int_equal(lqt_run(argv2, NULL, NULL), 0);
    flac = lqt_join(out, "Caf\xc3\xa9 au lait (flac-archive).flac");
    assert_true(lqt_exists(flac));
    free(flac);
    /* the library */
    lq_job *j = NULL;
    assert_int_equal(lq_job_new(&j), LQ_OK);
    assert_int_equal(lq_job_set_metadata(j, "fine", "\xff", NULL), LQ_ERR_ARG);
    assert_string_equal(lq_job_error_message(j),
                        "artist: invalid UTF-8 at byte offset 0 (0xff) (expected UTF-8 text)");
    lq_job_destroy(&j);
    assert_int_equal(lq_utf8_invalid_at("Café — 夜 \xf0\x9f\x8e\xb5"), -1);
    assert_int_equal(lq_utf8_invalid_at("\xf4\x90\x80\x80"), 0); /* above U+10FFFF */
    assert_int_equal(lq_utf8_invalid_at("ab\xe2\x82"), 2);        /* cut short */
    free(mix);
    free(latin);
    free(out);
}

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!getenv("LQT_KEEP")) lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flac), cmocka_unit_test(test_mp3),
        cmocka_unit_test(test_ogg),  cmocka_unit_test(test_opus),
        cmocka_unit_test(test_wav),  cmocka_unit_test(test_aiff),
        cmocka_unit_test(test_bad_file),
        cmocka_unit_test(test_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
