/* Album runs through the public API: a generated 5-track album (a quiet ballad, a
 * gapless pair cut from one continuous signal, a crossfade, a track with a gap and an
 * offset_db) mastered to a CD target, a 24-bit FLAC target with a loudness figure and
 * MP3 320.  Levels under both loudness policies, ceilings at 16x, gapless and
 * crossfaded joins, the CD image and its frame-aligned INDEX 01 positions (found
 * again by cross-correlation), byte-identical reruns whatever the thread count, and
 * nothing written on error or cancel. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sndfile.h>
#include <sys/stat.h>

#include "lacquer/lacquer.h"
#include "lqtest.h"
#include "synth.h"


#define RATE 44100
#define NT 5
#define SECS 5.0

static char *g_tmp;
static char g_in[NT][512];
static char g_flac_target[512];

static const char *const track_titles[NT] = {"Ballad", "Pair A", "Pair B", "Crossfade", "Gap"};

static void write_stereo(const char *path, const double *l, const double *r, size_t n)
{
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(path, pl, 2, n, RATE, SF_FORMAT_PCM_24), 0);
}

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    /* not a whole number of CD frames: INDEX 01 of a gapless join is rounded */
    const size_t n = (size_t)(SECS * RATE) + 250;
    double *l = malloc(2 * n * sizeof *l), *r = malloc(2 * n * sizeof *r);
    /* 1: a quiet ballad (no drums: a pad of pink noise and a slow sine) */
    lqs_pink(l, n, 0.03, 11);
    lqs_pink(r, n, 0.03, 12);
    double *s = malloc(n * sizeof *s);
    lqs_sine(s, n, RATE, 220.0, 0.05, 0.0);
    for (size_t i = 0; i < n; i++) {
        l[i] += s[i];
        r[i] += s[i];
    }
    free(s);
    snprintf(g_in[0], sizeof g_in[0], "%s/in1.wav", g_tmp);
    write_stereo(g_in[0], l, r, n);
    /* 2 and 3: one continuous mix cut in two (a gapless pair) */
    lqs_mix(l, r, 2 * n, RATE, 21, 0.9);
    snprintf(g_in[1], sizeof g_in[1], "%s/in2.wav", g_tmp);
    write_stereo(g_in[1], l, r, n);
    snprintf(g_in[2], sizeof g_in[2], "%s/in3.wav", g_tmp);
    write_stereo(g_in[2], l + n, r + n, n);
    /* 4: crossfaded into from 3; 5: after a gap, with an offset */
    lqs_mix(l, r, n, RATE, 31, 0.7);
    snprintf(g_in[3], sizeof g_in[3], "%s/in4.wav", g_tmp);
    write_stereo(g_in[3], l, r, n);
    lqs_mix(l, r, n, RATE, 41, 0.8);
    snprintf(g_in[4], sizeof g_in[4], "%s/in5.wav", g_tmp);
    write_stereo(g_in[4], l, r, n);
    free(l);
    free(r);
    snprintf(g_flac_target, sizeof g_flac_target, "%s/flac24.yaml", g_tmp);
    assert_int_equal(lqt_write_text(g_flac_target,
                                    "lacquer: 1\nname: flac24\nsample_rate: 44100\nformat: flac\n"
                                    "bit_depth: 24\nloudness_lufs: -14\ntrue_peak_dbtp: -1.0\n"
                                    "filename: \"{track:02} {title} ({target}).{ext}\"\n"),
                     0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

/* The album file: 1 a quiet ballad with a short fade-in (its preset noise-shapes its
 * dither: the record's dither is the album's, gentle's plain TPDF), 2|3 a gapless pair,
 * 3 crossfades into 4, 5 after a 1.5 s gap and 2 dB under the record with a short
 * fade-out. */
static void write_album(const char *path, const char *loudness, const char *anchor,
                        const char *targets, const char *track4)
{
    char text[4096];
    snprintf(text, sizeof text,
             "lacquer: 1\n"
             "album:\n  title: Test Record\n  artist: The Generators\n  year: 2026\n"
             "  upc: \"036000291452\"\n"
             "preset: gentle\ntargets: [%s]\nloudness: %s\nalbum_anchor: %s\n"
             "tracks:\n"
             "  - {file: %s, title: Ballad, isrc: US-RC1-76-07839, fade_in_ms: 50,\n"
             "     fade_curve: linear,\n"
             "     set: {finish.dither.shaping: lipshitz}}\n"
             "  - {file: %s, title: Pair A, isrc: US-RC1-76-07840}\n"
             "  - {file: %s, title: Pair B, crossfade_ms: 200, fade_curve: linear}\n"
             "  - {file: %s, title: Crossfade}\n"
             "  - {file: %s, title: Gap, gap_s: 1.5, offset_db: -2, fade_out_ms: 50, fade_curve: linear,\n"
             "     set: {finish.limiter.release_ms: 150, true_peak_dbtp: -1.5}}\n",
             targets, loudness, anchor, g_in[0], g_in[1], g_in[2], track4 ? track4 : g_in[3],
             g_in[4]);
    assert_int_equal(lqt_write_text(path, text), 0);
}

typedef struct cancel_ctx {
    volatile sig_atomic_t *flag;
    const char *at_phase;
} cancel_ctx;

static int cancel_progress(void *user, const char *phase, double frac)
{
    cancel_ctx *c = user;
    (void)frac;
    if (c->at_phase && strcmp(phase, c->at_phase) == 0) *c->flag = 1;
    return 0;
}

static lq_error run_album(const char *yaml, const char *out, int threads, cancel_ctx *cc,
                          char **json)
{
    lq_album *a = NULL;
    char err[1024];
    assert_int_equal(lq_album_new(&a), LQ_OK);
    lq_error e = lq_album_load(a, yaml, lqt_preset_dir(), err, sizeof err);
    if (e) {
        fprintf(stderr, "album: %s\n", err);
        lq_album_destroy(&a);
        return e;
    }
    assert_int_equal(lq_album_set_output_dir(a, out), LQ_OK);
    lq_album_set_threads(a, threads);
    if (cc) {
        lq_album_set_cancel_flag(a, cc->flag);
        lq_album_set_progress(a, cancel_progress, cc);
    }
    e = lq_album_run(a);
    if (e) fprintf(stderr, "album: %s\n", lq_album_error_message(a));
    if (json) *json = e ? NULL : lq_album_report_json(a);
    lq_album_destroy(&a);
    return e;
}

#define TWO_TARGETS "cd, \"flac24.yaml\""
#define THREE_TARGETS "cd, \"flac24.yaml\", mp3-320"
static const char *const tnames[3] = {"cd", "flac24", "mp3-320"};
static const char *const exts[3] = {"wav", "flac", "mp3"};

static void track_path(char *buf, size_t n, const char *dir, int i, int k)
{
    snprintf(buf, n, "%s/%02d %s (%s).%s", dir, i + 1, track_titles[i], tnames[k], exts[k]);
}

static double file_lufs(const char *path)
{
    lq_analysis an;
    char err[512];
    assert_int_equal(lq_analyze_file(path, &an, err, sizeof err), LQ_OK);
    return an.integrated_lufs;
}

static double file_tp(const char *path)
{
    int ch = 0;
    size_t n = 0;
    double *x = lqt_read_planar(path, &ch, &n, NULL);
    assert_non_null(x);
    double tp = 0;
    for (int c = 0; c < ch; c++) tp = fmax(tp, lqt_true_peak_16x(x + (size_t)c * n, n));
    free(x);
    return lqt_db(tp);
}

static json_t *report_of(const char *text)
{
    json_error_t je;
    json_t *r = json_loads(text, 0, &je);
    assert_non_null(r);
    return r;
}

/* album policy, loudest anchor: level differences kept, the anchor on its level, every
 * file under its ceiling; then a rerun with one thread gives the same bytes */
static void test_album_levels_and_rerun(void **state)
{
    (void)state;
    char yaml[600];
    snprintf(yaml, sizeof yaml, "%s/album.yaml", g_tmp);
    write_album(yaml, "album", "loudest", THREE_TARGETS, NULL);
    const double offset[NT] = {0, 0, 0, 0, -2.0};
    char out[600], out1[600];
    snprintf(out, sizeof out, "%s/album2", g_tmp);
    snprintf(out1, sizeof out1, "%s/album1", g_tmp);
    char *js = NULL;
    assert_int_equal(run_album(yaml, out, 2, NULL, &js), LQ_OK);
    json_t *r = report_of(js);
    free(js);
    /* the record's dither: the default preset's (gentle: TPDF, no shaping), not track 1's */
    for (int k = 0; k < 2; k++) {
        json_t *dr = json_object_get(json_array_get(json_object_get(r, "targets"), (size_t)k),
                                     "dither");
        assert_string_equal(json_string_value(json_object_get(dr, "type")), "tpdf");
        assert_string_equal(json_string_value(json_object_get(dr, "shaping")), "none");
        assert_int_equal(json_integer_value(json_object_get(dr, "out_bits")), k ? 24 : 16);
    }
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(r, "targets"), 2),
                                             "dither")));   /* MP3: no word length */
    double mastered[NT];
    json_t *tracks = json_object_get(r, "tracks");
    assert_int_equal(json_array_size(tracks), NT);
    for (int i = 0; i < NT; i++)
        mastered[i] = json_real_value(json_object_get(json_array_get(tracks, (size_t)i), "mastered_lufs")) +
                      offset[i];
    int loudest = 0;
    for (int i = 1; i < NT; i++)
        if (mastered[i] > mastered[loudest]) loudest = i;
    const double aims[3] = {-13.0, -14.0, -13.0};   /* cd and mp3: gentle's own level */
    for (int k = 0; k < 3; k++) {
        double lufs[NT];
        char p[1024];
        for (int i = 0; i < NT; i++) {
            track_path(p, sizeof p, out, i, k);
            lufs[i] = file_lufs(p);
            double tp = file_tp(p);
            print_message("%-8s track %d: %.3f LUFS (mastered %+.3f), %.3f dBTP\n", tnames[k], i + 1,
                          lufs[i], mastered[i] - mastered[loudest], tp);
            assert_true(tp <= -1.0);
        }
        assert_true(fabs(lufs[loudest] - aims[k]) <= 0.05);
        for (int i = 0; i < NT; i++) {
            double want = mastered[i] - mastered[loudest], got = lufs[i] - lufs[loudest];
            assert_true(fabs(got - want) <= 0.1);
        }
    }
    /* the same album with one thread: the same bytes */
    assert_int_equal(run_album(yaml, out1, 1, NULL, NULL), LQ_OK);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < NT; i++) {
            char p1[1024], p2[1024];
            track_path(p1, sizeof p1, out, i, k);
            track_path(p2, sizeof p2, out1, i, k);
            assert_true(lqt_files_equal(p1, p2));
        }
    char i1[1024], i2[1024];
    snprintf(i1, sizeof i1, "%s/Test Record (cd).wav", out);
    snprintf(i2, sizeof i2, "%s/Test Record (cd).wav", out1);
    assert_true(lqt_files_equal(i1, i2));
    json_decref(r);
    lqt_rmrf(out1);
}

/* The CD image: the per-track files concatenate to it bit for bit; every INDEX 01 is on
 * a frame and where the track really starts (cross-correlation with the track's own
 * signal); gapless and crossfaded joins have no step larger than the tracks' own. */
static void test_cd_image_and_joins(void **state)
{
    (void)state;
    char out[600];
    snprintf(out, sizeof out, "%s/album2", g_tmp);
    char path[1024];
    snprintf(path, sizeof path, "%s/report.json", out);
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    assert_non_null(r);
    json_t *cdt = json_array_get(json_object_get(r, "targets"), 0);
    assert_string_equal(json_string_value(json_object_get(cdt, "target")), "cd");
    json_t *rows = json_object_get(json_object_get(cdt, "cd"), "tracks");
    long long idx[NT];
    for (int i = 0; i < NT; i++) {
        idx[i] = json_integer_value(json_object_get(json_array_get(rows, (size_t)i), "index01_sample"));
        assert_int_equal(idx[i] % 588, 0);
    }
    snprintf(path, sizeof path, "%s/Test Record (cd).wav", out);
    int ch = 0, rate = 0;
    size_t total = 0;
    double *img = lqt_read_planar(path, &ch, &total, &rate);
    assert_non_null(img);
    assert_int_equal(ch, 2);
    assert_int_equal(total % 588, 0);
    /* the per-track files are slices of the image */
    size_t at = 0;
    for (int i = 0; i < NT; i++) {
        char p[1024];
        track_path(p, sizeof p, out, i, 0);
        size_t n = 0;
        int c2 = 0;
        double *x = lqt_read_planar(p, &c2, &n, NULL);
        assert_non_null(x);
        assert_int_equal(at, (size_t)idx[i]);
        for (int c = 0; c < 2; c++)
            assert_memory_equal(x + (size_t)c * n, img + (size_t)c * total + at, n * sizeof(double));
        at += n;
        free(x);
    }
    assert_int_equal(at, total);
    /* each INDEX 01 against where the track's own render (the track mastered alone)
     * starts in the image */
    char own[600];
    for (int i = 1; i < NT; i++) {
        snprintf(own, sizeof own, "%s/own%d", g_tmp, i + 1);
        const char *const cdt_name[] = {"cd"};
        assert_int_equal(lqt_master(g_in[i], "gentle", cdt_name, 1, own, 2, -1), 0);
        char op[1024];
        snprintf(op, sizeof op, "%s/in%d (cd).wav", own, i + 1);
        size_t n = 0;
        int c2 = 0;
        double *x = lqt_read_planar(op, &c2, &n, NULL);
        assert_non_null(x);
        const size_t win = 16384, pre = 2048;
        double *seg = calloc(win, sizeof *seg), *ref = calloc(win, sizeof *ref);
        /* first differences: the bass line repeats every few hundred samples, the
         * hats and transients do not */
        for (size_t s = 1; s < win; s++) {
            long long p = idx[i] - (long long)pre + (long long)s;
            seg[s] = p >= 1 && (size_t)p < total ? img[p] - img[p - 1] : 0.0;
            ref[s] = s < n ? x[s] - x[s - 1] : 0.0;
        }
        long lag = lqt_xcorr_lag(seg, ref, win, 4000);
        long long start = idx[i] - (long long)pre + lag;
        print_message("track %d: INDEX 01 at %lld, the track starts at %lld\n", i + 1, idx[i], start);
        if (i == 4) assert_int_equal(start, idx[i]);   /* after a gap: exactly */
        else assert_true(llabs(start - idx[i]) <= 294); /* across a join: nearest frame */
        free(seg);
        free(ref);
        free(x);
        lqt_rmrf(own);
    }
    /* the tools that read CUE sheets and TOC files: shnsplit cuts the image into files
     * with exactly lacquer's per-track samples; cueprint and cdrdao accept them */
    char cmd[4096], *so = NULL, *se = NULL;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && mkdir -p split && shnsplit -q -f 'Test Record (cd).cue' -o wav -d split "
             "'Test Record (cd).wav' && cueprint -i cue -d '%%T|%%P\n' 'Test Record (cd).cue' && "
             "cdrdao show-toc 'Test Record (cd).toc' 2>&1 && "
             "metaflac --show-tag=ISRC --show-tag=TRACKNUMBER '01 Ballad (flac24).flac'", out);
    const char *sh[] = {"/bin/sh", "-c", cmd, NULL};
    int rc = lqt_run(sh, &so, &se);
    if (rc != 0) fail_msg("album tools: %d\n%s\n%s", rc, so, se);
    assert_non_null(strstr(so, "Test Record|The Generators"));
    assert_non_null(strstr(so, "ISRC=USRC17607839"));
    assert_non_null(strstr(so, "TRACKNUMBER=1"));
    free(so);
    free(se);
    for (int i = 0; i < NT; i++) {
        char p[1024], q[1024];
        track_path(p, sizeof p, out, i, 0);
        snprintf(q, sizeof q, "%s/split/split-track%02d.wav", out, i + 1);
        size_t n1 = 0, n2 = 0;
        double *x = lqt_read_planar(p, NULL, &n1, NULL), *y = lqt_read_planar(q, NULL, &n2, NULL);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(n1, n2);
        assert_memory_equal(x, y, 2 * n1 * sizeof *x);
        free(x);
        free(y);
    }
    /* the joins (1|2 is cut from one signal, 3|4 crossfaded): no step larger than inside */
    for (int k = 0; k < 2; k++) {
        double inside = 0, join = 0;
        long long pos = 0;
        double last[2] = {0, 0};
        for (int i = 0; i < NT; i++) {
            char p[1024];
            track_path(p, sizeof p, out, i, k);
            size_t n = 0;
            int c2 = 0;
            double *x = lqt_read_planar(p, &c2, &n, NULL);
            for (int c = 0; c < 2; c++) {
                const double *y = x + (size_t)c * n;
                if (i > 0 && (i == 2 || i == 3)) join = fmax(join, fabs(y[0] - last[c]));
                for (size_t s = 1; s < n; s++) inside = fmax(inside, fabs(y[s] - y[s - 1]));
                last[c] = y[n - 1];
            }
            pos += (long long)n;
            free(x);
        }
        json_t *tk = json_array_get(json_object_get(r, "targets"), (size_t)k);
        assert_int_equal(pos, json_integer_value(json_object_get(tk, "total_frames")));
        print_message("%s: largest step at the joins %.5f, inside the tracks %.5f\n", tnames[k],
                      join, inside);
        assert_true(join <= inside);
    }
    free(img);
    json_decref(r);
}

/* track policy: every track on the target */
static void test_track_policy(void **state)
{
    (void)state;
    char yaml[600];
    snprintf(yaml, sizeof yaml, "%s/album-track.yaml", g_tmp);
    write_album(yaml, "track", "loudest", TWO_TARGETS, NULL);
    char out[600];
    snprintf(out, sizeof out, "%s/track", g_tmp);
    assert_int_equal(run_album(yaml, out, 2, NULL, NULL), LQ_OK);
    const double aims[2] = {-13.0, -14.0};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NT; i++) {
            char p[1024];
            track_path(p, sizeof p, out, i, k);
            double l = file_lufs(p);
            print_message("%s track %d: %.3f LUFS\n", tnames[k], i + 1, l);
            assert_true(fabs(l - aims[k]) <= 0.05);
            assert_true(file_tp(p) <= -1.0);
        }
    lqt_rmrf(out);
}

/* album policy, integrated anchor: the whole record's integrated loudness (every track
 * file measured as one programme, as ReplayGain 2.0 album gain) lands on the target */
static void test_integrated_anchor(void **state)
{
    (void)state;
    char yaml[600];
    snprintf(yaml, sizeof yaml, "%s/album-integrated.yaml", g_tmp);
    write_album(yaml, "album", "integrated", g_flac_target, NULL);
    char out[600];
    snprintf(out, sizeof out, "%s/integrated", g_tmp);
    char *js = NULL;
    assert_int_equal(run_album(yaml, out, 2, NULL, &js), LQ_OK);
    /* the files end to end through one meter: concatenate them into one file */
    double *all = NULL;
    size_t total = 0;
    for (int i = 0; i < NT; i++) {
        char p[1024];
        track_path(p, sizeof p, out, i, 1);
        size_t n = 0;
        int ch = 0;
        double *x = lqt_read_planar(p, &ch, &n, NULL);
        assert_non_null(x);
        double *grown = realloc(all, 2 * (total + n) * sizeof *all);
        assert_non_null(grown);
        all = grown;
        /* channel-major: move the right channel of what is there up */
        memmove(all + total + n, all + total, total * sizeof *all);
        memcpy(all + total, x, n * sizeof *all);
        memcpy(all + 2 * total + n, x + n, n * sizeof *all);
        total += n;
        free(x);
    }
    const double *pl[2] = {all, all + total};
    char whole[700];
    snprintf(whole, sizeof whole, "%s/whole.wav", g_tmp);
    assert_int_equal(lqt_write_wav(whole, pl, 2, total, RATE, SF_FORMAT_DOUBLE), 0);
    double l = file_lufs(whole);
    json_t *r = report_of(js);
    free(js);
    double gain = json_real_value(json_object_get(json_array_get(json_object_get(r, "targets"), 0),
                                                  "album_gain_db"));
    print_message("album integrated %.3f LUFS (album gain %+.2f dB)\n", l, gain);
    assert_true(fabs(l - -14.0) <= 0.05);
    json_decref(r);
    free(all);
    lqt_rmrf(out);
}

/* An equal-power crossfade of correlated material (the overlap is the same passage of
 * one mix at the end of track 1 and the start of track 2: sin + cos = 1.41 at the
 * middle, +3 dB) sums over the ceiling; the join goes through the true-peak limiter, so
 * every file of every target and the CD image hold the -1 dBTP ceiling at 16x, the
 * joins stay smooth, and the report says what the crossfade summed to and how much it
 * was limited. */
static void test_crossfade_ceiling(void **state)
{
    (void)state;
    const size_t n = 6 * RATE, x = 3 * RATE / 2;   /* 6 s tracks, a 1.5 s crossfade */
    const size_t len = 2 * n - x;
    /* past the arrangement's intro and first verse: a chorus, dense */
    size_t intro = 0, cycle = 0;
    lqs_mix_layout(RATE, &intro, &cycle);
    const size_t skip = intro + cycle / 4;
    double *l = malloc((skip + len) * sizeof *l), *r = malloc((skip + len) * sizeof *r);
    lqs_mix(l, r, skip + len, RATE, 77, 0.9);
    memmove(l, l + skip, len * sizeof *l);
    memmove(r, r + skip, len * sizeof *r);
    char a[600], b[600], yaml[600], out[600];
    snprintf(a, sizeof a, "%s/xa.wav", g_tmp);
    snprintf(b, sizeof b, "%s/xb.wav", g_tmp);
    write_stereo(a, l, r, n);
    write_stereo(b, l + (n - x), r + (n - x), n);
    free(l);
    free(r);
    snprintf(yaml, sizeof yaml, "%s/xfade.yaml", g_tmp);
    snprintf(out, sizeof out, "%s/xfade", g_tmp);
    char text[2048];
    snprintf(text, sizeof text,
             "lacquer: 1\nalbum: {title: Joins, artist: The Generators}\npreset: gentle\n"
             "targets: [cd, \"flac24.yaml\", mp3-320]\ndither: {shaping: f-weighted}\n"
             "tracks:\n"
             "  - {file: %s, title: One, crossfade_ms: 1500, fade_curve: equal-power,\n"
             "     set: {loudness_lufs: -9, finish.dither.shaping: lipshitz}}\n"
             "  - {file: %s, title: Two, set: {loudness_lufs: -9}}\n", a, b);
    assert_int_equal(lqt_write_text(yaml, text), 0);
    char *js = NULL;
    assert_int_equal(run_album(yaml, out, 2, NULL, &js), LQ_OK);
    json_t *rep = report_of(js);
    free(js);
    static const char *const files[3][2] = {
        {"01 One (cd).wav", "02 Two (cd).wav"},
        {"01 One (flac24).flac", "02 Two (flac24).flac"},
        {"01 One (mp3-320).mp3", "02 Two (mp3-320).mp3"}};
    for (int k = 0; k < 3; k++) {
        json_t *tk = json_array_get(json_object_get(rep, "targets"), (size_t)k);
        json_t *xf = json_array_get(json_object_get(tk, "crossfades"), 0);
        assert_non_null(xf);
        double sum = json_real_value(json_object_get(xf, "overlap_true_peak_dbtp"));
        double ceil = json_real_value(json_object_get(xf, "ceiling_dbtp"));
        double gr = json_real_value(json_object_get(xf, "limiter_reduction_db"));
        print_message("%s: the overlap sums to %.2f dBTP (ceiling %.2f), limited by %.2f dB\n",
                      tnames[k], sum, ceil, gr);
        /* the crossfade really would pass the ceiling: by well over 1 dB */
        assert_true(sum > ceil + 1.0);
        assert_true(gr > 1.0);
        /* the record's dither is the album file's `dither:` (not track 1's preset's) */
        json_t *dr = json_object_get(tk, "dither");
        if (k < 2) {
            assert_string_equal(json_string_value(json_object_get(dr, "type")), "tpdf");
            assert_string_equal(json_string_value(json_object_get(dr, "shaping")), "f-weighted");
        } else {
            assert_true(json_is_null(dr));
        }
        double inside = 0, join = 0, last[2] = {0, 0};
        for (int i = 0; i < 2; i++) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", out, files[k][i]);
            double tp = file_tp(p);
            print_message("%s: %.3f dBTP\n", files[k][i], tp);
            assert_true(tp <= -1.0);
            size_t m = 0;
            int ch = 0;
            double *y = lqt_read_planar(p, &ch, &m, NULL);
            assert_non_null(y);
            for (int c = 0; k < 2 && c < 2; c++) {
                const double *v = y + (size_t)c * m;
                if (i == 1) join = fmax(join, fabs(v[0] - last[c]));
                for (size_t s = 1; s < m; s++) inside = fmax(inside, fabs(v[s] - v[s - 1]));
                last[c] = v[m - 1];
            }
            free(y);
        }
        if (k < 2) assert_true(join <= inside);
    }
    char img[1024];
    snprintf(img, sizeof img, "%s/Joins (cd).wav", out);
    double tp = file_tp(img);
    print_message("CD image: %.3f dBTP\n", tp);
    assert_true(tp <= -1.0);
    json_decref(rep);
    lqt_rmrf(out);
}

/* A bad album file: its exact error line (after the album file's path), from loading or
 * from the run's checks before any work, and nothing written. */
static void expect_bad(const char *text, lq_error code, const char *line)
{
    char yaml[600], out[600], err[1024] = "", want[1400];
    snprintf(yaml, sizeof yaml, "%s/bad.yaml", g_tmp);
    snprintf(out, sizeof out, "%s/bad-out", g_tmp);
    assert_int_equal(lqt_write_text(yaml, text), 0);
    lq_album *a = NULL;
    assert_int_equal(lq_album_new(&a), LQ_OK);
    lq_error e = lq_album_load(a, yaml, lqt_preset_dir(), err, sizeof err);
    if (!e) {
        assert_int_equal(lq_album_set_output_dir(a, out), LQ_OK);
        e = lq_album_run(a);
        snprintf(err, sizeof err, "%s", lq_album_error_message(a));
    }
    lq_album_destroy(&a);
    snprintf(want, sizeof want, "%s:%s", yaml, line);
    if (e != code || strcmp(err, want) != 0)
        fail_msg("got %d \"%s\"\nwant %d \"%s\"", e, err, code, want);
    assert_false(lqt_exists(out));
}

/* Every bad album of the list: bad ISRC, bad UPC check digit, missing track file,
 * a track under 4 s for CD, 100 tracks, 80 minutes, unknown key, duplicate output names. */
/* A long crossfade between correlated tracks (the same mix twice, 8 s each, 1.5 s
 * overlap): the second file holds much of the first track's tail, so its loudness moves
 * with its own aim at a slope well below 1.  The correction rounds accumulate their
 * offsets (a secant step from the second round): both files land on their aims.  Before,
 * each round restarted from the aim and the second file ended 0.35 LU loud, not met. */
static void test_long_crossfade_levels(void **state)
{
    (void)state;
    char a[600], b[600], yaml[600], out[600], text[2048];
    snprintf(a, sizeof a, "%s/la.wav", g_tmp);
    snprintf(b, sizeof b, "%s/lb.wav", g_tmp);
    assert_int_equal(lqt_write_mix(a, 8.0, 4242), 0);
    assert_int_equal(lqt_write_mix(b, 8.0, 4242), 0);
    snprintf(yaml, sizeof yaml, "%s/long-xfade.yaml", g_tmp);
    snprintf(out, sizeof out, "%s/long-xfade", g_tmp);
    snprintf(text, sizeof text,
             "lacquer: 1\nalbum: {title: Long, artist: The Generators}\ntargets: [cd, tidal]\n"
             "tracks:\n  - {file: %s, title: One, crossfade_ms: 1500}\n"
             "  - {file: %s, title: Two}\n", a, b);
    assert_int_equal(lqt_write_text(yaml, text), 0);
    char *js = NULL;
    assert_int_equal(run_album(yaml, out, 2, NULL, &js), LQ_OK);
    json_t *rep = report_of(js);
    free(js);
    for (size_t i = 0; i < 2; i++) {
        json_t *tg = json_object_get(json_array_get(json_object_get(rep, "tracks"), i), "targets");
        for (size_t k = 0; k < json_array_size(tg); k++) {
            json_t *t = json_array_get(tg, k);
            double lufs = json_real_value(json_object_get(t, "integrated_lufs"));
            double aim = json_real_value(json_object_get(t, "aim_lufs"));
            print_message("track %zu %s: %.3f LUFS, aim %.3f\n", i + 1,
                          json_string_value(json_object_get(t, "target")), lufs, aim);
            assert_true(fabs(lufs - aim) <= 0.05);
            assert_true(json_is_true(json_object_get(t, "met")));
        }
    }
    json_decref(rep);
}

static void test_bad_albums_write_nothing(void **state)
{
    (void)state;
    char shortf[600], longf[600], gone[600];
    snprintf(shortf, sizeof shortf, "%s/short.wav", g_tmp);
    snprintf(longf, sizeof longf, "%s/long.wav", g_tmp);
    snprintf(gone, sizeof gone, "%s/gone.wav", g_tmp);
    /* 3.5 s of silence; 4 minutes at 8 kHz mono (twenty make 80 minutes) */
    double *z = calloc(240 * 8000, sizeof *z);
    const double *pz[2] = {z, z};
    assert_int_equal(lqt_write_wav(shortf, pz, 2, 7 * RATE / 2, RATE, SF_FORMAT_PCM_16), 0);
    assert_int_equal(lqt_write_wav(longf, pz, 1, 240 * 8000, 8000, SF_FORMAT_PCM_U8), 0);
    free(z);
    const char *const head = "lacquer: 1\nalbum:\n  title: Bad\n  artist: A\n  upc: \"%s\"\n"
                             "targets: [%s]\ntracks:\n  - file: %s\n    title: One\n%s";
    char *text = malloc(16384);
    snprintf(text, 16384, head, "036000291452", "cd", g_in[0], "    isrc: US-RC1-76-0783\n");
    expect_bad(text, LQ_ERR_PRESET,
               "10:11: tracks[0].isrc: US-RC1-76-0783 is not an ISRC (expected CC-XXX-YY-NNNNN: "
               "2 letters, 3 letters or digits, 2 digits, 5 digits; dashes optional)");
    snprintf(text, 16384, head, "036000291453", "cd", g_in[0], "");
    expect_bad(text, LQ_ERR_PRESET,
               "5:8: album.upc: 036000291453 has check digit 3 (expected 2, the GS1 check digit "
               "of the first 11 digits)");
    snprintf(text, 16384, head, "036000291452", "cd", gone, "");
    char line[1200];
    snprintf(line, sizeof line, "8:5: tracks[0].file: %s: cannot open input (No such file or "
                                "directory) (expected an audio file)", gone);
    expect_bad(text, LQ_ERR_INPUT_UNREADABLE, line);
    snprintf(text, 16384, head, "036000291452", "cd", shortf, "");
    expect_bad(text, LQ_ERR_PRESET,
               "8:5: tracks[0].file: 3.5 s is shorter than a CD track may be (expected at least "
               "4 s)");
    snprintf(text, 16384, head, "036000291452", "cd", g_in[0], "");
    for (int i = 2; i <= 100; i++)
        snprintf(text + strlen(text), 16384 - strlen(text), "  - {file: %s, title: T%d}\n",
                 g_in[0], i);
    expect_bad(text, LQ_ERR_PRESET,
               "7:1: tracks: 100 tracks are too many for a CD (expected at most 99)");
    snprintf(text, 16384, head, "036000291452", "cd", longf, "");
    for (int i = 2; i <= 20; i++)
        snprintf(text + strlen(text), 16384 - strlen(text), "  - {file: %s, title: L%d}\n",
                 longf, i);
    expect_bad(text, LQ_ERR_PRESET,
               "7:1: tracks: 80:02.0 is longer than a CD holds (expected at most 79:57 with the "
               "gaps and the 2 s pre-gap of track 1)");
    snprintf(text, 16384, head, "036000291452", "cd", g_in[0], "    tempo: 120\n");
    expect_bad(text, LQ_ERR_PRESET,
               "10:5: tracks[0]: unknown key \"tempo\" (expected one of: file, stems, title, "
               "artist, isrc, preset, set, offset_db, fade_in_ms, fade_out_ms, fade_curve, gap_s, "
               "crossfade_ms, reference)");
    snprintf(text, 16384, head, "036000291452", "cd, mp3-320, cd", g_in[0], "");
    expect_bad(text, LQ_ERR_PRESET,
               "6:24: targets[2]: \"01 One (cd).wav\" would be written twice: by track 1 (One) "
               "for targets[0] (cd) and by track 1 (One) for targets[2] (cd) (expected distinct "
               "output names: another filename pattern, format or target name)");
    free(text);
}

/* errors and cancellation leave nothing behind */
static void test_nothing_written(void **state)
{
    (void)state;
    char yaml[600];
    snprintf(yaml, sizeof yaml, "%s/album-err.yaml", g_tmp);
    char out[600], missing[600];
    snprintf(out, sizeof out, "%s/err", g_tmp);
    snprintf(missing, sizeof missing, "%s/nope.wav", g_tmp);
    write_album(yaml, "album", "integrated", TWO_TARGETS, missing);
    assert_int_equal(run_album(yaml, out, 2, NULL, NULL), LQ_ERR_INPUT_UNREADABLE);
    assert_false(lqt_exists(out));
    write_album(yaml, "album", "integrated", TWO_TARGETS, NULL);
    /* a track file that exists already: refused before any work, the folder untouched */
    char existing[800];
    assert_int_equal(mkdir(out, 0755), 0);
    snprintf(existing, sizeof existing, "%s/03 Pair B (cd).wav", out);
    assert_int_equal(lqt_write_text(existing, "mine"), 0);
    assert_int_equal(run_album(yaml, out, 2, NULL, NULL), LQ_ERR_EXISTS);
    assert_int_equal(lqt_dir_count(out), 1);
    lqt_rmrf(out);
    static const char *const phases[] = {"master", "targets", "album"};
    for (int p = 0; p < 3; p++) {
        volatile sig_atomic_t flag = 0;
        cancel_ctx cc = {&flag, phases[p]};
        assert_int_equal(run_album(yaml, out, 2, &cc, NULL), LQ_ERR_CANCELLED);
        assert_false(lqt_exists(out));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_album_levels_and_rerun),
        cmocka_unit_test(test_cd_image_and_joins),
        cmocka_unit_test(test_track_policy),
        cmocka_unit_test(test_integrated_anchor),
        cmocka_unit_test(test_crossfade_ceiling),
        cmocka_unit_test(test_long_crossfade_levels),
        cmocka_unit_test(test_nothing_written),
        cmocka_unit_test(test_bad_albums_write_nothing),
    };
    if (getenv("LQT_FILTER")) cmocka_set_test_filter(getenv("LQT_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
