/* Odd audio and containers (docs/RELIABILITY.md "Inputs tried"): each gives its
 * documented result through the command line: complete exports, or one exact error line
 * with its exit code, nothing written and the input untouched.  The files are built here
 * byte by byte (RIFF/RF64 chunks as in the WAVE and EBU Tech 3306 specifications). */
#include <math.h>
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

#include "lacquer/lacquer.h"
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

/* ---- a little RIFF writer ---- */
typedef struct {
    unsigned char *b;
    size_t n, cap;
} buf;

static void put(buf *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->b = realloc(o->b, o->cap);
        assert_non_null(o->b);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void u16(buf *o, unsigned v)
{
    unsigned char c[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put(o, c, 2);
}
static void u32(buf *o, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(o, c, 4);
}
static void u64(buf *o, uint64_t v)
{
    u32(o, (uint32_t)v);
    u32(o, (uint32_t)(v >> 32));
}
static void tag(buf *o, const char *t) { put(o, t, 4); }

/* 16-bit PCM samples of a 997 Hz sine at -6 dBFS, interleaved. */
static buf pcm16_sine(int ch, int rate, size_t frames)
{
    buf d = {0};
    for (size_t i = 0; i < frames; i++)
        for (int c = 0; c < ch; c++)
            u16(&d, (unsigned)(uint16_t)(int16_t)lrint(16383.0 *
                                                         sin(2 * M_PI * 997.0 * (double)i / rate)));
    return d;
}

enum { PLAIN, EXTENSIBLE, CUE_LIST_FIRST, RF64 };
typedef struct {
    int kind;
    int ch, rate;
    int64_t data_size;  /* < 0: the real size */
    int64_t riff_size;  /* < 0: the real size */
    uint32_t fmt_size;  /* 0: the real size */
} wav_spec;

static void write_wav(const char *path, const wav_spec *s, const buf *data)
{
    buf o = {0}, body = {0};
    tag(&body, "WAVE");
    uint32_t ds = s->data_size < 0 ? (uint32_t)data->n : (uint32_t)s->data_size;
    if (s->kind == RF64) {
        tag(&body, "ds64");
        u32(&body, 28);
        u64(&body, 4 + 36 + 24 + 8 + data->n); /* RIFF size */
        u64(&body, data->n);                   /* data size */
        u64(&body, data->n / (2u * (unsigned)s->ch));
        u32(&body, 0);
        ds = 0xFFFFFFFFu;
    }
    unsigned ba = 2u * (unsigned)s->ch;
    tag(&body, "fmt ");
    if (s->kind == EXTENSIBLE) {
        u32(&body, 40);
        u16(&body, 0xFFFE);
    } else {
        u32(&body, s->fmt_size ? s->fmt_size : 16);
        u16(&body, 1);
    }
    u16(&body, (unsigned)s->ch);
    u32(&body, (uint32_t)s->rate);
    u32(&body, (uint32_t)s->rate * ba);
    u16(&body, ba);
    u16(&body, 16);
    if (s->kind == EXTENSIBLE) {
        u16(&body, 22);
        u16(&body, 16);
        u32(&body, s->ch == 2 ? 3 : 4);
        static const unsigned char pcm_guid[16] = {1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0,
                                                   0xaa, 0, 0x38, 0x9b, 0x71};
        put(&body, pcm_guid, 16);
    }
    if (s->kind == CUE_LIST_FIRST) {
        tag(&body, "cue "); /* one cue point at frame 4800 */
        u32(&body, 28);
        u32(&body, 1);
        u32(&body, 1);
        u32(&body, 0);
        tag(&body, "data");
        u32(&body, 0);
        u32(&body, 0);
        u32(&body, 4800);
        tag(&body, "LIST");
        u32(&body, 18);
        tag(&body, "INFO");
        tag(&body, "INAM");
        u32(&body, 6);
        put(&body, "Title", 6);
    }
    tag(&body, "data");
    u32(&body, ds);
    put(&body, data->b, data->n);
    tag(&o, s->kind == RF64 ? "RF64" : "RIFF");
    u32(&o, s->kind == RF64 ? 0xFFFFFFFFu
                            : (s->riff_size < 0 ? (uint32_t)body.n : (uint32_t)s->riff_size));
    put(&o, body.b, body.n);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(o.b, 1, o.n, f), o.n);
    fclose(f);
    free(o.b);
    free(body.b);
}

/* lacquer master IN --preset P --target T... --out OUT; returns the exit code, *err the
 * stderr (malloc'd). */
static int master(const char *in, const char *preset, const char *t1, const char *t2,
                  const char *out, char **err)
{
    const char *argv[16] = {LQ_CLI_PATH, "master", in, "--preset", preset, "--target", t1,
                            "--out", out, "--quiet", "--threads", "2"};
    int k = 12;
    if (t2) {
        argv[k++] = "--target";
        argv[k++] = t2;
    }
    argv[k] = NULL;
    return lqt_run(argv, NULL, err);
}

static char *path_in(const char *name)
{
    return lqt_join(g_tmp, name);
}

/* An input refused: exit code, the exact line, nothing written, input untouched. */
static void expect_refused(const char *name, int code, const char *what)
{
    char *in = path_in(name), *out = path_in("refused-out"), *err = NULL;
    uint64_t h = lqt_file_hash(in);
    int rc = master(in, "transparent", "cd", NULL, out, &err);
    char want[2048];
    snprintf(want, sizeof want, "lacquer: %s: %s\n", in, what);
    if (rc != code || strcmp(err, want) != 0)
        fail_msg("%s: exit %d, stderr \"%s\" (expected %d, \"%s\")", name, rc, err, code, want);
    assert_int_equal(lqt_exists(out), 0);
    assert_true(lqt_file_hash(in) == h);
    free(err);
    free(in);
    free(out);
}

/* An input accepted by the transparent preset into flac-archive (the source rate and
 * word length): every decoded sample equals the input's. */
static void expect_identical(const char *name, const double *want, size_t frames, int ch)
{
    char *in = path_in(name), *out = path_in("same-out"), *err = NULL;
    uint64_t h = lqt_file_hash(in);
    int rc = master(in, "transparent", "flac-archive", NULL, out, &err);
    if (rc != 0) fail_msg("%s: exit %d: %s", name, rc, err);
    char stem[256];
    snprintf(stem, sizeof stem, "%s", name);
    *strrchr(stem, '.') = 0;
    char fname[300];
    snprintf(fname, sizeof fname, "%s (flac-archive).flac", stem);
    char *exp = lqt_join(out, fname);
    int gch = 0;
    size_t gn = 0;
    double *got = lqt_read_planar(exp, &gch, &gn, NULL);
    assert_non_null(got);
    assert_int_equal(gch, ch);
    assert_int_equal(gn, frames);
    for (size_t i = 0; i < frames; i++)
        for (int c = 0; c < ch; c++)
            if (got[(size_t)c * gn + i] != want[i * (size_t)ch + (size_t)c])
                fail_msg("%s: sample %zu/%d differs", name, i, c);
    assert_true(lqt_file_hash(in) == h);
    free(got);
    free(exp);
    lqt_rmrf(out);
    free(err);
    free(in);
    free(out);
}

static double *sine_values(int ch, int rate, size_t frames)
{
    double *v = malloc(frames * (size_t)ch * sizeof *v);
    for (size_t i = 0; i < frames; i++)
        for (int c = 0; c < ch; c++)
            v[i * (size_t)ch + (size_t)c] =
                lrint(16383.0 * sin(2 * M_PI * 997.0 * (double)i / rate)) / 32768.0;
    return v;
}

static void test_containers(void **state)
{
    (void)state;
    const size_t n = 48000;
    buf d = pcm16_sine(2, 48000, n);
    double *want = sine_values(2, 48000, n);
    struct {
        const char *name;
        wav_spec s;
    } ok[] = {
        {"extensible.wav", {EXTENSIBLE, 2, 48000, -1, -1, 0}},
        {"rf64.wav", {RF64, 2, 48000, -1, -1, 0}},
        {"cue-list-first.wav", {CUE_LIST_FIRST, 2, 48000, -1, -1, 0}},
        {"riff-size-wrong.wav", {PLAIN, 2, 48000, -1, 12345, 0}},
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        char *p = path_in(ok[k].name);
        write_wav(p, &ok[k].s, &d);
        expect_identical(ok[k].name, want, n, 2);
        free(p);
    }
    struct {
        const char *name;
        wav_spec s;
        int code;
        const char *what;
    } bad[] = {
        {"data-too-long.wav", {PLAIN, 2, 48000, (int64_t)d.n * 2, -1, 0}, 3,
         "truncated: the file ends before the audio its header declares (expected a complete "
         "file)"},
        {"data-ffffffff.wav", {PLAIN, 2, 48000, 0xFFFFFFFF, -1, 0}, 3,
         "truncated: the file ends before the audio its header declares (expected a complete "
         "file)"},
        {"data-odd-size.wav", {PLAIN, 2, 48000, (int64_t)d.n - 3, -1, 0}, 3,
         "truncated: the file ends before the audio its header declares (expected a complete "
         "file)"},
        {"data-zero.wav", {PLAIN, 2, 48000, 0, -1, 0}, 3,
         "holds no audio (expected at least one sample)"},
        {"fmt-size-huge.wav", {PLAIN, 2, 48000, -1, -1, 0x7FFFFFF0}, 3,
         "not a readable audio file (Error in WAV file. No 'data' chunk marker.) (expected "
         "WAV, AIFF, FLAC, Ogg, Opus, MP3, AAC or M4A)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *p = path_in(bad[k].name);
        write_wav(p, &bad[k].s, &d);
        expect_refused(bad[k].name, bad[k].code, bad[k].what);
        free(p);
    }
    free(want);
    free(d.b);
}

/* Shorter than one 400 ms loudness block (BS.1770-4 gating): exports are written, the
 * report says no loudness could be measured, exit 1 (a target not met). */
static void test_short_inputs(void **state)
{
    (void)state;
    const size_t lens[] = {1, 19152 /* 399 ms at 48 kHz */};
    for (size_t k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "short-%zu.wav", lens[k]);
        char *in = path_in(name), *out = path_in("short-out"), *err = NULL;
        buf d = pcm16_sine(2, 48000, lens[k]);
        if (lens[k] == 1) d.b[0] = d.b[2] = 0x40, d.b[1] = d.b[3] = 0x20; /* one non-zero sample */
        wav_spec s = {PLAIN, 2, 48000, -1, -1, 0};
        write_wav(in, &s, &d);
        assert_int_equal(master(in, "gentle", "spotify", "cd", out, &err), 1);
        char *rp = lqt_join(out, "report.txt");
        FILE *f = fopen(rp, "r");
        assert_non_null(f);
        char line[1024];
        int found = 0;
        while (fgets(line, sizeof line, f))
            if (strstr(line, "no loudness could be measured: the mix is silent (below -70 "
                             "LUFS) or shorter than 0.4 s"))
                found = 1;
        fclose(f);
        assert_true(found);
        assert_int_equal(lqt_dir_count(out), 5); /* two exports and the three reports */
        lqt_rmrf(out);
        free(rp);
        free(d.b);
        free(err);
        free(in);
        free(out);
    }
}

/* 8 kHz and 384 kHz: the transparent preset masters both (cd resamples to 44.1 kHz);
 * a preset whose multiband crossover (5 kHz) cannot run at 8 kHz is refused naming the
 * file, exit 3. */
static void test_rates(void **state)
{
    (void)state;
    const int rates[] = {8000, 384000};
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "rate-%d.wav", rates[k]);
        char *in = path_in(name), *out = path_in("rate-out"), *err = NULL;
        buf d = pcm16_sine(1, rates[k], (size_t)rates[k]);
        wav_spec s = {PLAIN, 1, rates[k], -1, -1, 0};
        write_wav(in, &s, &d);
        int rc = master(in, "transparent", "cd", "flac-archive", out, &err);
        if (rc > 1) fail_msg("%s: exit %d: %s", name, rc, err);
        char fname[128];
        snprintf(fname, sizeof fname, "rate-%d (cd).wav", rates[k]);
        char *cd = lqt_join(out, fname);
        int r = 0, ch = 0;
        size_t fr = 0;
        double *x = lqt_read_planar(cd, &ch, &fr, &r);
        assert_non_null(x);
        assert_int_equal(r, 44100);
        assert_true(labs((long)fr - 44100) <= 1); /* one second at 44.1 kHz */
        free(x);
        free(cd);
        lqt_rmrf(out);
        free(err);
        err = NULL;
        if (rates[k] == 8000) {
            char want[1024];
            snprintf(want, sizeof want,
                     "lacquer: %s: 8000 Hz does not suit preset gentle: multiband: crossover "
                     "5000 Hz is too close to the Nyquist frequency at 8000 Hz (expected below "
                     "3600 Hz)\n",
                     in);
            assert_int_equal(master(in, "gentle", "cd", NULL, out, &err), 3);
            assert_string_equal(err, want);
            assert_int_equal(lqt_exists(out), 0);
            free(err);
        }
        free(d.b);
        free(in);
        free(out);
    }
}

/* Full-scale square waves and long runs of denormals (float WAV): finite exports under
 * the target's ceiling; the denormal stretch comes out as (dithered) silence. */
static void test_square_and_denormals(void **state)
{
    (void)state;
    const int rate = 48000;
    const size_t n = 3 * (size_t)rate;
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    lqs_square(l, n, rate, 100.0, 1.0);
    memcpy(r, l, n * sizeof *r);
    const double *pl[2] = {l, r};
    char *sq = path_in("square.wav"), *den = path_in("denormal.wav"), *out = path_in("sq-out");
    assert_int_equal(lqt_write_wav(sq, pl, 2, n, rate, SF_FORMAT_PCM_16), 0);
    for (size_t i = 0; i < n; i++) {
        /* 2 s of float subnormals (|x| ~ 1e-40), then 1 s of mix */
        l[i] = r[i] = i < 2 * (size_t)rate ? (i % 2 ? 1e-40 : -1e-40) : 0.0;
    }
    lqs_mix(l + 2 * rate, r + 2 * rate, (size_t)rate, rate, 5, 0.8);
    assert_int_equal(lqt_write_wav(den, pl, 2, n, rate, SF_FORMAT_FLOAT), 0);
    free(l);
    free(r);
    const char *ins[2] = {sq, den};
    for (int k = 0; k < 2; k++) {
        char *err = NULL;
        int rc = master(ins[k], "gentle", "spotify", NULL, out, &err);
        if (rc > 1) fail_msg("%s: exit %d: %s", ins[k], rc, err);
        char fname[64];
        snprintf(fname, sizeof fname, "%s (spotify).wav", k ? "denormal" : "square");
        char *exp = lqt_join(out, fname);
        int ch = 0;
        size_t fr = 0;
        double *x = lqt_read_planar(exp, &ch, &fr, NULL);
        assert_non_null(x);
        assert_int_equal(fr, n);
        for (int c = 0; c < ch; c++) {
            double tp = lqt_db(lqt_true_peak_16x(x + (size_t)c * fr, fr));
            if (!(tp <= -1.0 + 0.05)) fail_msg("%s: true peak %.2f dBTP (ceiling -1)", fname, tp);
            if (k == 1) {
                double quiet = lqt_db(lqt_sample_peak(x + (size_t)c * fr, (size_t)rate));
                if (!(quiet < -80.0)) fail_msg("denormal stretch at %.1f dBFS", quiet);
            }
        }
        free(x);
        free(exp);
        lqt_rmrf(out);
        free(err);
    }
    free(sq);
    free(den);
    free(out);
}

/* Metadata that is not UTF-8 (fuzz_report found `--artist $'\xff\xfe'` aborting a FLAC
 * export inside libsndfile; then it was dropped from the tags silently): refused with
 * one line, exit 2; valid UTF-8 fields reach the FLAC's comments. */
static void test_invalid_utf8_metadata(void **state)
{
    (void)state;
    char *in = path_in("meta.wav"), *out = path_in("meta-out"), *err = NULL;
    buf d = pcm16_sine(2, 48000, 24000);
    wav_spec s = {PLAIN, 2, 48000, -1, -1, 0};
    write_wav(in, &s, &d);
    const char *argv[] = {LQ_CLI_PATH, "master", in, "--preset", "transparent", "--target",
                          "flac-archive", "--out", out, "--quiet", "--artist", "\xff\xfe",
                          "--album", "Caf\xc3\xa9", "--title", "Song", NULL};
    /* refused before anything runs (it was dropped silently, and before that it aborted
     * inside libsndfile): one line, the option and the byte, exit 2, nothing written */
    int rc = lqt_run(argv, NULL, &err);
    assert_int_equal(rc, 2);
    assert_string_equal(err, "lacquer: --artist: invalid UTF-8 at byte offset 0 (0xff) "
                             "(expected UTF-8 text)\n");
    assert_false(lqt_exists(out));
    /* valid UTF-8 reaches the FLAC's Vorbis comments */
    argv[11] = "Caf\xc3\xa9 Band";
    free(err);
    err = NULL;
    rc = lqt_run(argv, NULL, &err);
    if (rc != 0) fail_msg("exit %d: %s", rc, err);
    char *f = lqt_join(out, "Song (flac-archive).flac");
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(f, SFM_READ, &info);
    assert_non_null(sf);
    assert_string_equal(sf_get_string(sf, SF_STR_ARTIST), "Caf\xc3\xa9 Band");
    assert_string_equal(sf_get_string(sf, SF_STR_ALBUM), "Caf\xc3\xa9");
    sf_close(sf);
    free(f);
    lqt_rmrf(out);
    free(d.b);
    free(err);
    free(in);
    free(out);
}

/* A 1-hour file (the generated mix, mono, 8 kHz, 16-bit: 28.8 million samples, cheap to
 * make and to master) through preset transparent to one 16-bit WAV target at the
 * source rate: the export is exactly as long as the input, on its loudness (-20 LUFS
 * within 0.1 LU) and under its ceiling (16x true peak <= -1 dBTP), measured on the
 * written file.  The sanitizer build (several times slower) runs 10 minutes of it. */
static void test_one_hour(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    const int minutes = 10;
#else
    const int minutes = 60;
#endif
    enum { R = 8000, CHUNK = 8000 };
    const size_t frames = (size_t)minutes * 60 * R;
    char *in = path_in("hour.wav"), *out = path_in("hour-out"), *tgt = path_in("hour16.yaml");
    SF_INFO info = {.samplerate = R, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(in, SFM_WRITE, &info);
    assert_non_null(sf);
    lqs_mixer *m = lqs_mixer_new(R, 21, 0.7, frames);
    assert_non_null(m);
    double *l = malloc(CHUNK * sizeof *l), *r = malloc(CHUNK * sizeof *r);
    assert_true(l && r);
    for (size_t done = 0; done < frames; done += CHUNK) {
        lqs_mixer_render(m, l, r, CHUNK);
        for (size_t i = 0; i < CHUNK; i++) l[i] = 0.5 * (l[i] + r[i]);
        assert_int_equal(sf_writef_double(sf, l, CHUNK), CHUNK);
    }
    lqs_mixer_free(m);
    sf_close(sf);
    assert_int_equal(lqt_write_text(tgt, "lacquer: 1\nname: long16\nsample_rate: source\n"
                                         "format: wav\nbit_depth: 16\nloudness_lufs: -20\n"
                                         "true_peak_dbtp: -1.0\n"
                                         "filename: \"{title}-{target}.{ext}\"\n"), 0);
    const char *argv[] = {LQ_CLI_PATH, "master", in, "--preset", "transparent", "--target", tgt,
                          "--out", out, "--quiet", NULL};
    char *err = NULL;
    int rc = lqt_run(argv, NULL, &err);
    if (rc != 0) fail_msg("exit %d: %s", rc, err);
    free(err);
    char *exp = lqt_join(out, "hour-long16.wav");
    SF_INFO ei = {0};
    SNDFILE *ef = sf_open(exp, SFM_READ, &ei);
    assert_non_null(ef);
    sf_close(ef);
    lq_analysis a;
    char msg[512];
    assert_int_equal(lq_analyze_file(exp, &a, msg, sizeof msg), LQ_OK);
    printf("%d min at %d Hz: %lld frames out of %zu, %.3f LUFS, %.3f dBTP (16x)\n", minutes, R,
           (long long)ei.frames, frames, a.integrated_lufs, a.true_peak_16x_dbtp);
    assert_int_equal(ei.samplerate, R);
    assert_int_equal(ei.channels, 1);
    assert_int_equal((long long)ei.frames, (long long)frames);
    assert_float_equal(a.integrated_lufs, -20.0, 0.1);
    assert_true(a.true_peak_16x_dbtp <= -1.0);
    free(exp);
    lqt_rmrf(out);
    unlink(in);
    free(l);
    free(r);
    free(in);
    free(out);
    free(tgt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_short_inputs),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_square_and_denormals),
        cmocka_unit_test(test_invalid_utf8_metadata),
        cmocka_unit_test(test_one_hour),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
