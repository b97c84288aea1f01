/* Album files: a full album parses with every field; each bad album gives its exact
 * error line (file, line, column, key path, what, what was expected); the Red Book limits
 * (4 s, 99 tracks, 79:57) and the ISRC / UPC codes. */
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
#include <sndfile.h>

#include "album/album.h"
#include "config/preset.h"
#include "io/tags.h"
#include "lqtest.h"

static char *g_tmp;
static char g_cwd[4096];
static int g_fail;

/* Silence of `frames` frames (header and zeros, written fast). */
static void write_silence(const char *name, int rate, int channels, long long frames,
                          int subtype)
{
    SF_INFO info = {.samplerate = rate, .channels = channels,
                    .format = SF_FORMAT_WAV | subtype};
    SNDFILE *sf = sf_open(name, SFM_WRITE, &info);
    assert_non_null(sf);
    static const short zeros[8192];
    long long left = frames;
    while (left > 0) {
        sf_count_t n = left > 8192 / channels ? 8192 / channels : left;
        assert_int_equal(sf_writef_short(sf, zeros, n), n);
        left -= n;
    }
    sf_close(sf);
}

static int setup(void **state)
{
    (void)state;
    if (!getcwd(g_cwd, sizeof g_cwd)) return -1;
    g_tmp = lqt_tmpdir();
    if (chdir(g_tmp) != 0) return -1;
    /* 5 s and 3.2 s stereo at 44.1 kHz, 6 s at 48 kHz, 4 minutes at 8 kHz mono 8-bit
     * (1.9 MB: twenty of them make 80 minutes). */
    write_silence("a.wav", 44100, 2, 5 * 44100, SF_FORMAT_PCM_16);
    write_silence("short.wav", 44100, 2, 141120, SF_FORMAT_PCM_16);
    if (mkdir("sub", 0755) != 0) return -1;
    write_silence("sub/b.wav", 48000, 2, 6 * 48000, SF_FORMAT_PCM_24);
    write_silence("long.wav", 8000, 1, 240 * 8000, SF_FORMAT_PCM_U8);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (chdir(g_cwd) != 0) return -1;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

/* Load `text` as album.yaml (relative to the test folder, so error lines start with
 * "album.yaml:"); returns the error code, the line in msg. */
static lq_error load(const char *text, lq_album_spec **out, char *msg, size_t len)
{
    assert_int_equal(lqt_write_text("album.yaml", text), 0);
    lq_diag d = {{0}};
    lq_album_spec *s = NULL;
    lq_error e = lq_album_spec_load_dir(&s, "album.yaml", lqt_preset_dir(), &d);
    snprintf(msg, len, "%s", e ? d.msg : "");
    if (out)
        *out = s;
    else
        lq_album_spec_free(&s);
    return e;
}

static void expect_error(const char *text, lq_error code, const char *line)
{
    char msg[1024];
    lq_album_spec *s = NULL;
    lq_error e = load(text, &s, msg, sizeof msg);
    if (e != code || strcmp(msg, line) != 0) {
        print_message("got %d \"%s\"\nwant %d \"%s\"\n", e, msg, code, line);
        g_fail++;
    }
    assert_null(s);
}

/* Load `text` (valid) and run the CD check; expect its line. */
static void expect_cd_error(const char *text, const char *line)
{
    char msg[1024];
    lq_album_spec *s = NULL;
    lq_error e = load(text, &s, msg, sizeof msg);
    if (e) fail_msg("album did not load: %s", msg);
    lq_diag d = {{0}};
    e = lq_album_check_cd(s, &d);
    lq_album_spec_free(&s);
    if (e != LQ_ERR_PRESET || strcmp(d.msg, line) != 0)
        fail_msg("got %d \"%s\"\nwant \"%s\"", e, d.msg, line);
}

static const char *const full_album =
    "lacquer: 1\n"
    "album:\n"
    "  title: \"Night \\\"Drive\\\" — Remasters\"\n"
    "  artist: The Lacquers\n"
    "  year: 2026\n"
    "  genre: Synthpop\n"
    "  label: Gloss Records\n"
    "  upc: \"036000291452\"\n"
    "  catalog: GLS-042\n"
    "preset: warm\n"
    "targets: [cd, spotify, ../targets-nowhere.yaml]\n"
    "loudness: track\n"
    "album_anchor: integrated\n"
    "dither: {shaping: f-weighted}\n"
    "tracks:\n"
    "  - file: a.wav\n"
    "    title: Opening\n"
    "    isrc: US-RC1-76-07839\n"
    "    fade_in_ms: 500\n"
    "    crossfade_ms: 800\n"
    "  - file: sub/b.wav\n"
    "    title: Ballad\n"
    "    artist: Guest Singer\n"
    "    isrc: gbaye0601498\n"
    "    preset: gentle\n"
    "    set: {loudness_lufs: -16, finish.limiter.release_ms: 120}\n"
    "    offset_db: -2.5\n"
    "    fade_out_ms: 3000\n"
    "    fade_curve: log\n"
    "  - file: a.wav\n"
    "    title: Closing\n"
    "    gap_s: 2.5\n"
    "    fade_curve: linear\n";

static void test_full_album(void **state)
{
    (void)state;
    char msg[1024];
    lq_album_spec *s = NULL;
    /* The third target is a path that does not exist: reported at its line. */
    assert_int_equal(load(full_album, &s, msg, sizeof msg), LQ_ERR_PRESET);
    assert_string_equal(msg, "album.yaml:11:24: targets[2]: no such target "
                             "\"../targets-nowhere.yaml\" (expected a shipped target name or "
                             "the path of a target file)");
    char *text = strdup(full_album);
    char *p = strstr(text, ", ../targets-nowhere.yaml");
    memmove(p, p + strlen(", ../targets-nowhere.yaml"), strlen(p + 25) + 1);
    lq_error e = load(text, &s, msg, sizeof msg);
    free(text);
    if (e) fail_msg("%s", msg);
    assert_string_equal(s->file, "album.yaml");
    assert_string_equal(s->dir, "");
    assert_string_equal(s->title, "Night \"Drive\" — Remasters");
    assert_string_equal(s->artist, "The Lacquers");
    assert_int_equal(s->year, 2026);
    assert_string_equal(s->genre, "Synthpop");
    assert_string_equal(s->label, "Gloss Records");
    assert_string_equal(s->upc, "036000291452");
    assert_string_equal(s->catalog, "GLS-042");
    assert_string_equal(s->preset, "warm");
    assert_int_equal(s->n_targets, 2);
    assert_string_equal(s->targets[0], "cd");
    assert_string_equal(s->targets[1], "spotify");
    assert_int_equal(s->loudness, LQ_ALBUM_LOUDNESS_TRACK);
    assert_int_equal(s->anchor, LQ_ANCHOR_INTEGRATED);
    assert_non_null(s->dither);
    assert_string_equal(lq_node_get(s->dither, "shaping")->value, "f-weighted");
    assert_int_equal(s->n_tracks, 3);

    const lq_album_track *t = &s->tracks[0];
    assert_string_equal(t->file, "a.wav");
    assert_string_equal(t->title, "Opening");
    assert_null(t->artist);
    assert_string_equal(t->isrc, "USRC17607839");
    assert_null(t->preset);
    assert_null(t->set);
    assert_true(t->fade_in_ms == 500 && t->fade_out_ms == 0 && t->crossfade_ms == 800);
    assert_int_equal(t->fade_curve, LQ_FADE_EQUAL_POWER);
    assert_int_equal(t->frames, 5 * 44100);
    assert_int_equal(t->rate, 44100);
    assert_int_equal(t->line, 16);
    assert_int_equal(t->col, 5);

    t = &s->tracks[1];
    assert_string_equal(t->file, "sub/b.wav");
    assert_string_equal(t->artist, "Guest Singer");
    assert_string_equal(t->isrc, "GBAYE0601498");
    assert_string_equal(t->preset, "gentle");
    assert_non_null(t->set);
    assert_true(t->offset_db == -2.5 && t->fade_out_ms == 3000);
    assert_int_equal(t->fade_curve, LQ_FADE_LOG);
    assert_int_equal(t->frames, 6 * 48000);
    assert_int_equal(t->rate, 48000);
    /* The overrides reach the target as --set would. */
    lq_overrides *ov = NULL;
    lq_diag d = {{0}};
    assert_int_equal(lq_album_track_overrides(t, &ov, &d), LQ_OK);
    lq_target *tg = NULL;
    char err[1024];
    assert_int_equal(lq_target_load(&tg, "spotify", lqt_preset_dir(), ov, err, sizeof err),
                     LQ_OK);
    assert_true(tg->loudness_lufs == -16);
    lq_target_destroy(&tg);
    lq_overrides_destroy(&ov);

    t = &s->tracks[2];
    assert_true(t->gap_s == 2.5);
    assert_int_equal(t->fade_curve, LQ_FADE_LINEAR);

    /* Tags of track 2 (its own artist) and track 1 (the album's). */
    lq_tags tags;
    lq_album_track_tags(s, 1, &tags);
    assert_string_equal(tags.title, "Ballad");
    assert_string_equal(tags.artist, "Guest Singer");
    assert_string_equal(tags.album, "Night \"Drive\" — Remasters");
    assert_string_equal(tags.album_artist, "The Lacquers");
    assert_string_equal(tags.genre, "Synthpop");
    assert_string_equal(tags.label, "Gloss Records");
    assert_string_equal(tags.isrc, "GBAYE0601498");
    assert_int_equal(tags.year, 2026);
    assert_int_equal(tags.track, 2);
    assert_int_equal(tags.track_total, 3);
    lq_album_track_tags(s, 2, &tags);
    assert_string_equal(tags.artist, "The Lacquers");
    assert_null(tags.isrc);
    assert_int_equal(tags.track, 3);

    /* The CD limits hold: 5 + 6 + 5 s + 2.5 s gap. */
    assert_int_equal(lq_album_check_cd(s, &d), LQ_OK);
    lq_album_spec_free(&s);
    assert_null(s);
}

/* Defaults, and the same album from a buffer (the fuzzing entry point), whose folder
 * resolves the track paths. */
static void test_defaults_and_buffer(void **state)
{
    (void)state;
    char name[4200];
    snprintf(name, sizeof name, "%s/sub/x.yaml", g_tmp);
    lq_album_spec *s = NULL;
    lq_diag d = {{0}};
    lq_error e = lq_album_spec_parse(&s, "lacquer: 1\nalbum: {title: T, artist: A}\n"
                                     "tracks:\n  - {file: b.wav, title: One}\n",
                                     name, lqt_preset_dir(), &d);
    if (e) fail_msg("%s", d.msg);
    char want[4300];
    snprintf(want, sizeof want, "%s/sub/b.wav", g_tmp);
    assert_string_equal(s->tracks[0].file, want);
    assert_string_equal(s->preset, "gentle");
    assert_int_equal(s->n_targets, 0);
    assert_int_equal(s->loudness, LQ_ALBUM_LOUDNESS_ALBUM);
    assert_int_equal(s->anchor, LQ_ANCHOR_LOUDEST);
    assert_null(s->dither);
    assert_int_equal(s->year, 0);
    assert_string_equal(s->upc, "");
    assert_null(s->genre);
    assert_string_equal(s->tracks[0].isrc, "");
    assert_int_equal(s->tracks[0].fade_curve, LQ_FADE_EQUAL_POWER);
    lq_album_spec_free(&s);
    /* Bad YAML from a buffer: a syntax error line, nothing allocated. */
    e = lq_album_spec_parse(&s, "lacquer: 1\nalbum: [\n", "buf.yaml", lqt_preset_dir(), &d);
    assert_int_equal(e, LQ_ERR_PRESET);
    assert_null(s);
    assert_non_null(strstr(d.msg, "buf.yaml:"));
}

static void test_codes(void **state)
{
    (void)state;
    char out[13];
    assert_true(lq_isrc_normalize("USRC17607839", out));
    assert_string_equal(out, "USRC17607839");
    assert_true(lq_isrc_normalize("us-rc1-76-07839", out));
    assert_string_equal(out, "USRC17607839");
    assert_false(lq_isrc_normalize("USRC1760783", out));    /* 11 */
    assert_false(lq_isrc_normalize("U1RC17607839", out));   /* digit in country */
    assert_false(lq_isrc_normalize("USR-C17607839", out));  /* dash misplaced */
    assert_false(lq_isrc_normalize("USRC1A607839", out));   /* letter in year */
    assert_false(lq_isrc_normalize("USRC17607A39", out));   /* letter in designation */
    assert_false(lq_isrc_normalize("US-RC1-7607839", out)); /* two of three dashes */
    /* GS1 check digits of published codes. */
    assert_int_equal(lq_gs1_check_digit("03600029145", 11), 2);  /* UPC-A 036000291452 */
    assert_int_equal(lq_gs1_check_digit("400638133393", 12), 1); /* EAN-13 4006381333931 */
    assert_int_equal(lq_gs1_check_digit("978030640615", 12), 7); /* ISBN 9780306406157 */
}

#define EXP "(expected distinct output names: another filename pattern, format or target name)"
#define HEAD "lacquer: 1\nalbum:\n  title: T\n  artist: A\n"
#define TRACK_A "tracks:\n  - file: a.wav\n    title: One\n"

static void test_bad_albums(void **state)
{
    (void)state;
    expect_error(HEAD TRACK_A "    isrc: US-RC1-76-0783\n", LQ_ERR_PRESET,
                 "album.yaml:8:11: tracks[0].isrc: US-RC1-76-0783 is not an ISRC "
                 "(expected CC-XXX-YY-NNNNN: 2 letters, 3 letters or digits, 2 digits, 5 "
                 "digits; dashes optional)");
    expect_error(HEAD "  upc: \"036000291453\"\n" TRACK_A, LQ_ERR_PRESET,
                 "album.yaml:5:8: album.upc: 036000291453 has check digit 3 (expected 2, "
                 "the GS1 check digit of the first 11 digits)");
    expect_error(HEAD "  upc: 4006381333932\n" TRACK_A, LQ_ERR_PRESET,
                 "album.yaml:5:8: album.upc: 4006381333932 has check digit 2 (expected 1, "
                 "the GS1 check digit of the first 12 digits)");
    expect_error(HEAD "  upc: 12345\n" TRACK_A, LQ_ERR_PRESET,
                 "album.yaml:5:8: album.upc: 12345 is not a UPC/EAN (expected a UPC-A of 12 "
                 "digits or an EAN-13 of 13 digits)");
    expect_error(HEAD "tracks:\n  - file: a.wav\n    title: One\n  - file: gone.wav\n"
                 "    title: Two\n", LQ_ERR_INPUT_UNREADABLE,
                 "album.yaml:8:5: tracks[1].file: gone.wav: cannot open input (No such file or "
                 "directory) "
                 "(expected an audio file)");
    expect_error(HEAD TRACK_A "    tempo: 120\n", LQ_ERR_PRESET,
                 "album.yaml:8:5: tracks[0]: unknown key \"tempo\" (expected one of: file, "
                 "stems, title, artist, isrc, preset, set, offset_db, fade_in_ms, fade_out_ms, "
                 "fade_curve, gap_s, crossfade_ms, reference)");
    expect_error(HEAD "  barcode: 1\n" TRACK_A, LQ_ERR_PRESET,
                 "album.yaml:5:3: album: unknown key \"barcode\" (expected one of: title, "
                 "artist, year, genre, label, upc, catalog)");
    expect_error("lacquer: 1\nalbum: {title: T, artist: A}\nloudnes: album\n" TRACK_A,
                 LQ_ERR_PRESET,
                 "album.yaml:3:1: unknown key \"loudnes\" (expected one of: lacquer, album, "
                 "preset, targets, loudness, album_anchor, tracks, dither, reference)");
    /* the record's dither: the keys of finish.dither, checked as strictly */
    expect_error(HEAD "dither: {type: blue}\n" TRACK_A, LQ_ERR_PRESET,
                 "album.yaml:5:16: dither.type: unknown value blue (expected one of: none, "
                 "rpdf, tpdf)");
    expect_error(HEAD "dither: {shaping: f-weighted, noise: 1}\n" TRACK_A, LQ_ERR_PRESET,
                 "album.yaml:5:31: dither: unknown key \"noise\" (expected one of: type, "
                 "shaping, auto_blank)");
    expect_error(HEAD "dither: tpdf\n" TRACK_A, LQ_ERR_PRESET,
                 "album.yaml:5:9: dither: tpdf is not a map (expected a map of dither stage "
                 "settings)");
    expect_error(HEAD TRACK_A "    fade_curve: exponential\n", LQ_ERR_PRESET,
                 "album.yaml:8:17: tracks[0].fade_curve: unknown value exponential "
                 "(expected one of: linear, equal-power, log)");
    expect_error(HEAD TRACK_A "    set: {tempo_bpm: 120}\n", LQ_ERR_PRESET,
                 "album.yaml:8:11: tracks[0].set: unknown key \"tempo_bpm\" (expected a "
                 "preset key: master, finish, targets, reference or a target key: "
                 "sample_rate, format, bit_depth, loudness_lufs, true_peak_dbtp, codec_check, "
                 "bitrate_kbps, filename, limiter, dither, min_sample_rate, resampler, "
                 "codec_guard_db, aac_kbps)");
    expect_error(HEAD TRACK_A "    set:\n      finish.limiter.release_ms: -5\n",
                 LQ_ERR_PRESET,
                 "album.yaml:9:7: tracks[0].set.finish.limiter.release_ms: -5 is out of "
                 "range (expected milliseconds from 1 to 1000)");
    expect_error(HEAD TRACK_A "    set: {loudness_lufs: loud}\n", LQ_ERR_PRESET,
                 "album.yaml:8:11: tracks[0].set.loudness_lufs: loud is not a number "
                 "(expected LUFS from -70 to 0, or null)");
    expect_error(HEAD TRACK_A "    crossfade_ms: 500\n", LQ_ERR_PRESET,
                 "album.yaml:8:5: tracks[0].crossfade_ms: 500 ms on the last track "
                 "(expected 0: there is no next track to crossfade into)");
    expect_error(HEAD TRACK_A "    gap_s: -1\n", LQ_ERR_PRESET,
                 "album.yaml:8:12: tracks[0].gap_s: -1 is out of range (expected seconds "
                 "from 0 to 3600)");
    expect_error(HEAD TRACK_A "    fade_in_ms: 3000\n    fade_out_ms: 2500\n", LQ_ERR_PRESET,
                 "album.yaml:9:5: tracks[0].fade_out_ms: fades of 3000 + 2500 ms are longer "
                 "than the track (expected at most 5000.0 ms together)");
    expect_error(HEAD "tracks:\n  - file: a.wav\n    title: One\n    crossfade_ms: 800\n"
                 "  - file: a.wav\n    title: Two\n    gap_s: 1\n", LQ_ERR_PRESET,
                 "album.yaml:11:5: tracks[1].gap_s: 1 s after a crossfade (expected 0: the "
                 "previous track crossfades into this one)");
    expect_error(HEAD "tracks:\n  - file: a.wav\n", LQ_ERR_PRESET,
                 "album.yaml:6:5: tracks[0].title: missing required key (expected a string)");
    expect_error("lacquer: 2\n", LQ_ERR_PRESET,
                 "album.yaml:1:10: lacquer: version 2 is not supported (expected 1, the "
                 "version this build reads)");
    expect_error(HEAD "preset: glossy\n" TRACK_A, LQ_ERR_PRESET,
                 "album.yaml:5:9: preset: no such preset \"glossy\" (expected a shipped "
                 "preset name or the path of a preset file)");
    expect_error(HEAD "tracks: []\n", LQ_ERR_PRESET,
                 "album.yaml:5:9: tracks: 0 items are too few (expected tracks: a sequence "
                 "of 1 to 999 items)");
    /* Duplicate output names: every file the run would write is named as the run names
     * it; two with one name are refused at the album file's line. */
    expect_error(HEAD "targets: [cd, spotify, cd]\n" TRACK_A, LQ_ERR_PRESET,
                 "album.yaml:5:24: targets[2]: \"01 One (cd).wav\" would be written twice: "
                 "by track 1 (One) for targets[0] (cd) and by track 1 (One) for targets[2] "
                 "(cd) " EXP);
    assert_int_equal(lqt_write_text("cd-copy.yaml",
                                    "lacquer: 1\nname: cd\nsample_rate: 44100\nformat: wav\n"
                                    "bit_depth: 16\ntrue_peak_dbtp: -0.3\n"
                                    "filename: \"{title} ({target}).{ext}\"\n"), 0);
    expect_error(HEAD "targets: [cd, cd-copy.yaml]\n" TRACK_A, LQ_ERR_PRESET,
                 "album.yaml:5:15: targets[1]: \"01 One (cd).wav\" would be written twice: "
                 "by track 1 (One) for targets[0] (cd) and by track 1 (One) for targets[1] "
                 "(cd) " EXP);
    /* tracks 1 and 11 whose own patterns both make "11 T.wav" */
    char many[2048];
    strcpy(many, HEAD "targets: [cd]\ntracks:\n"
                 "  - {file: a.wav, title: T1, set: {filename: \"{track}1 {album}.{ext}\"}}\n");
    for (int i = 2; i <= 10; i++)
        sprintf(many + strlen(many), "  - {file: a.wav, title: T%d}\n", i);
    strcat(many, "  - {file: a.wav, title: T11, set: {filename: \"{track} {album}.{ext}\"}}\n");
    expect_error(many, LQ_ERR_PRESET,
                 "album.yaml:17:31: tracks[10].set: \"11 T.wav\" would be written twice: by "
                 "track 1 (T1) for targets[0] (cd) and by track 11 (T11) for targets[0] (cd) "
                 EXP);
    /* the CD image is named after the album: "01 One (cd).wav" is track 1's file */
    expect_error("lacquer: 1\nalbum: {title: \"01 One\", artist: A}\ntargets: [cd]\n" TRACK_A,
                 LQ_ERR_PRESET,
                 "album.yaml:2:9: album.title: \"01 One (cd).wav\" would be written twice: by "
                 "track 1 (One) for targets[0] (cd) and by the CD image of targets[0] (cd) "
                 EXP);
    assert_int_equal(g_fail, 0);
}

static void test_red_book(void **state)
{
    (void)state;
    /* A 3.2 s track. */
    expect_cd_error(HEAD "tracks:\n  - file: a.wav\n    title: One\n  - file: short.wav\n"
                    "    title: Two\n",
                    "album.yaml:8:5: tracks[1].file: 3.2 s is shorter than a CD track may be "
                    "(expected at least 4 s)");
    /* 5 s crossfading 1.5 s into the next: 3.5 s on the disc. */
    expect_cd_error(HEAD "tracks:\n  - file: a.wav\n    title: One\n    crossfade_ms: 1500\n"
                    "  - file: sub/b.wav\n    title: Two\n",
                    "album.yaml:6:5: tracks[0].file: 5.0 s less 1.5 s of crossfades is "
                    "shorter than a CD track may be (expected at least 4 s)");
    /* 100 tracks of 5 s. */
    char *text = malloc(200 + 100 * 40);
    strcpy(text, HEAD "tracks:\n");
    for (int i = 0; i < 100; i++)
        sprintf(text + strlen(text), "  - {file: a.wav, title: T%d}\n", i + 1);
    expect_cd_error(text, "album.yaml:5:1: tracks: 100 tracks are too many for a CD "
                          "(expected at most 99)");
    /* 99 are fine. */
    *strstr(text, "  - {file: a.wav, title: T100}") = '\0';
    char msg[1024];
    lq_album_spec *s = NULL;
    assert_int_equal(load(text, &s, msg, sizeof msg), LQ_OK);
    lq_diag d = {{0}};
    assert_int_equal(lq_album_check_cd(s, &d), LQ_OK);
    lq_album_spec_free(&s);
    /* Twenty 4-minute tracks: 80:00 + 2 s = 80:02. */
    strcpy(text, HEAD "tracks:\n");
    for (int i = 0; i < 20; i++)
        sprintf(text + strlen(text), "  - {file: long.wav, title: L%d}\n", i + 1);
    expect_cd_error(text, "album.yaml:5:1: tracks: 80:02.0 is longer than a CD holds "
                          "(expected at most 79:57 with the gaps and the 2 s pre-gap of "
                          "track 1)");
    /* Nineteen and a 3 min 55 s gap: 76:00 + 3:55 + 0:02 = 79:57 exactly, allowed;
     * one more second of gap is not. */
    strcpy(text, HEAD "tracks:\n");
    for (int i = 0; i < 19; i++)
        sprintf(text + strlen(text), "  - {file: long.wav, title: L%d%s}\n", i + 1,
                i == 5 ? ", gap_s: 235" : "");
    assert_int_equal(load(text, &s, msg, sizeof msg), LQ_OK);
    assert_int_equal(lq_album_check_cd(s, &d), LQ_OK);
    lq_album_spec_free(&s);
    char *g = strstr(text, "gap_s: 235");
    memcpy(g, "gap_s: 236", 10);
    expect_cd_error(text, "album.yaml:5:1: tracks: 79:58.0 is longer than a CD holds "
                          "(expected at most 79:57 with the gaps and the 2 s pre-gap of "
                          "track 1)");
    free(text);
}

static void test_cd_target(void **state)
{
    (void)state;
    char err[1024];
    lq_target *t = NULL;
    assert_int_equal(lq_target_load(&t, "cd", lqt_preset_dir(), NULL, err, sizeof err), 0);
    assert_true(lq_album_target_is_cd(t));
    lq_target_destroy(&t);
    assert_int_equal(lq_target_load(&t, "spotify", lqt_preset_dir(), NULL, err, sizeof err), 0);
    assert_false(lq_album_target_is_cd(t));
    lq_target_destroy(&t);
}

/* Every prefix of the full album (cut mid-key, mid-string, mid-map): each parses or is
 * refused with a located error line, never a crash (ASan runs this too). */
static void test_every_prefix(void **state)
{
    (void)state;
    char *good = strdup(full_album);
    char *p = strstr(good, ", ../targets-nowhere.yaml");
    memmove(p, p + 25, strlen(p + 25) + 1);
    size_t n = strlen(good);
    /* Prefixes that end inside "crossfade_ms: 800\n" and after it, up to track 2. */
    size_t xfade = (size_t)(strstr(good, "crossfade_ms: 800") - good) + 1;
    size_t track2 = (size_t)(strstr(good, "  - file: sub/b.wav") - good);
    int ok = 0, last_ok = 0, first_ok_before_track2 = 0;
    for (size_t k = 0; k <= n; k++) {
        char *text = strndup(good, k);
        lq_album_spec *s = NULL;
        lq_diag d = {{0}};
        lq_error e = lq_album_spec_parse(&s, text, "album.yaml", lqt_preset_dir(), &d);
        if (e == LQ_OK) {
            ok++;
            last_ok = k == n;
            if (k >= xfade && k < track2) first_ok_before_track2++;
            assert_non_null(s);
            assert_true(s->n_tracks >= 1);
        } else {
            assert_null(s);
            if (strncmp(d.msg, "album.yaml:", 11) != 0)
                fail_msg("prefix %zu: %d \"%s\"", k, e, d.msg);
        }
        lq_album_spec_free(&s);
        free(text);
    }
    free(good);
    /* The whole text parses, and so do prefixes cut inside the last track's values
     * ("title: Clos", "gap_s: 2"); a prefix that ends between track 1's crossfade_ms and
     * track 2 never does (the crossfade has no next track). */
    assert_true(ok >= 2 && last_ok);
    assert_int_equal(first_ok_before_track2, 0);
}

/* The shipped example parses (with stand-ins for the audio its comment makes with
 * `lacquer demo`: 8 kHz mono silence of the same lengths, written fast). */
static void test_example(void **state)
{
    (void)state;
    assert_int_equal(system("mkdir -p ex/audio && cp '" LQ_SOURCE_DIR
                            "/presets/albums/example.yaml' ex/"), 0);
    const char *names[] = {"01-opening", "02-ballad", "03-single", "04-reprise", "05-coda"};
    const int secs[] = {40, 35, 30, 30, 45};
    for (int i = 0; i < 5; i++) {
        char p[64];
        snprintf(p, sizeof p, "ex/audio/%s.wav", names[i]);
        write_silence(p, 8000, 1, secs[i] * 8000LL, SF_FORMAT_PCM_U8);
    }
    lq_album_spec *s = NULL;
    lq_diag d = {{0}};
    lq_error e = lq_album_spec_load_dir(&s, "ex/example.yaml", lqt_preset_dir(), &d);
    if (e) fail_msg("%s", d.msg);
    assert_int_equal(s->n_tracks, 5);
    assert_string_equal(s->tracks[4].file, "ex/audio/05-coda.wav");
    assert_int_equal(s->tracks[4].frames, 45 * 8000);
    assert_true(s->tracks[3].crossfade_ms == 3000 && s->tracks[1].gap_s == 2);
    assert_int_equal(lq_album_check_cd(s, &d), LQ_OK);
    lq_album_spec_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_album),  cmocka_unit_test(test_defaults_and_buffer),
        cmocka_unit_test(test_codes),       cmocka_unit_test(test_bad_albums),
        cmocka_unit_test(test_red_book),    cmocka_unit_test(test_cd_target),
        cmocka_unit_test(test_example),     cmocka_unit_test(test_every_prefix),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
