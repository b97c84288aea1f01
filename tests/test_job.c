/* The whole path, through the public API: bit-exact transparency, block-size
 * independence, length and alignment across rates, SRC purity, loudness on target with
 * linear gain, and byte-identical reruns whatever the thread count. */
#include <math.h>
#include <setjmp.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fftw3.h>
#include <jansson.h>

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

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", g_tmp, name);
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(lqt_write_text(path, text), 0);
}

/* A target file in the temp dir. */
static void make_target(const char *name, const char *rate, const char *fmt,
                        const char *bits, const char *lufs, double tp, char *path, size_t n)
{
    char text[1024];
    snprintf(text, sizeof text,
             "lacquer: 1\nname: %s\nsample_rate: %s\nformat: %s\nbit_depth: %s\n"
             "loudness_lufs: %s\ntrue_peak_dbtp: %.2f\nfilename: \"{title}-{target}.{ext}\"\n",
             name, rate, fmt, bits, lufs, tp);
    char file[300];
    snprintf(file, sizeof file, "%s.yaml", name);
    path_in(path, n, file);
    write_text(path, text);
}

/* A stereo generated mix at a given peak (linear). */
static void make_mix(const char *path, int rate, double seconds, double peak, int subtype)
{
    size_t n = (size_t)(seconds * rate);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    lqs_mix(l, r, n, rate, 7, peak);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(path, pl, 2, n, rate, subtype), 0);
    free(l);
    free(r);
}

typedef struct run_opts {
    const char *preset;
    const char *targets[8];
    int threads;
    long block;       /* -1: default */
} run_opts;

static void run_job(const char *input, const char *outdir, const run_opts *o)
{
    size_t nt = 0;
    while (nt < 8 && o->targets[nt]) nt++;
    if (lqt_master(input, o->preset, o->targets, nt, outdir, o->threads ? o->threads : 1,
                   o->block))
        fail_msg("mastering %s failed (see stderr)", input);
}

/* Transparent preset, no loudness target, same rate and word length: bit for bit. */
static void test_transparent_bit_exact(void **state)
{
    (void)state;
    static const struct { int subtype; const char *bits; } cases[] = {
        {SF_FORMAT_PCM_24, "24"}, {SF_FORMAT_PCM_16, "16"}};
    for (size_t c = 0; c < 2; c++) {
        char in[700], tgt[700], out[700], exp[700];
        snprintf(exp, sizeof exp, "exact%zu.wav", c);
        path_in(in, sizeof in, exp);
        make_mix(in, 44100, 3.0, 0.5, cases[c].subtype);
        make_target("same", "source", "wav", cases[c].bits, "null", 0.0, tgt, sizeof tgt);
        snprintf(out, sizeof out, "%s/out-exact%zu", g_tmp, c);
        run_opts o = {.preset = "transparent", .targets = {tgt}, .block = -1};
        run_job(in, out, &o);
        snprintf(exp, sizeof exp, "%s/exact%zu-same.wav", out, c);
        int ca, cb, ra, rb;
        size_t fa, fb;
        double *a = lqt_read_planar(in, &ca, &fa, &ra);
        double *b = lqt_read_planar(exp, &cb, &fb, &rb);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(ca, cb);
        assert_int_equal(fa, fb);
        assert_int_equal(ra, rb);
        size_t diff = 0;
        for (size_t i = 0; i < fa * (size_t)ca; i++) diff += a[i] != b[i];
        if (diff) fail_msg("%s-bit: %zu samples differ", cases[c].bits, diff);
        free(a);
        free(b);
    }
}

/* Same output bytes for block sizes 1, 7, 64, 4096 and random; through gain, resampling,
 * limiter (a preset with one) and dither. */
static void test_block_size_independence(void **state)
{
    (void)state;
    char in[512], t16[512], t48[512], pre[512];
    path_in(in, sizeof in, "blocks.wav");
    make_mix(in, 44100, 1.5, 0.9, SF_FORMAT_PCM_24);
    make_target("b16", "source", "wav", "16", "-12", -1.0, t16, sizeof t16);
    make_target("b48", "48000", "flac", "24", "-16", -1.0, t48, sizeof t48);
    path_in(pre, sizeof pre, "limited.yaml");
    write_text(pre, "lacquer: 1\nname: limited\nfinish:\n  limiter: {lookahead_ms: 2}\n");
    static const long blocks[] = {4096, 1, 7, 64, 0};
    uint64_t ref[2] = {0, 0};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        char out[512], f[600];
        snprintf(out, sizeof out, "%s/out-block%ld", g_tmp, blocks[b]);
        run_opts o = {.preset = pre, .targets = {t16, t48}, .block = blocks[b]};
        run_job(in, out, &o);
        for (int k = 0; k < 2; k++) {
            snprintf(f, sizeof f, "%s/blocks-%s", out, k ? "b48.flac" : "b16.wav");
            uint64_t h = lqt_file_hash(f);
            if (b == 0) ref[k] = h;
            else if (h != ref[k])
                fail_msg("block size %ld: %s differs from block size 4096", blocks[b], f);
        }
    }
}

/* Energy centroid (in seconds) of a signal: where a burst sits in time. */
static double centroid_s(const double *x, size_t n, double rate)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (double)i * x[i] * x[i];
        den += x[i] * x[i];
    }
    return num / den / rate;
}

/* Every export has the input's length (rate-scaled, +-1) and zero lag. */
static void test_length_and_alignment(void **state)
{
    (void)state;
    static const int rates[] = {44100, 48000, 96000, 192000};
    char t441[512], t48[512], tsrc[512];
    make_target("r44", "44100", "wav", "32f", "null", 0.0, t441, sizeof t441);
    make_target("r48", "48000", "wav", "32f", "null", 0.0, t48, sizeof t48);
    make_target("rsrc", "source", "wav", "32f", "null", 0.0, tsrc, sizeof tsrc);
    for (size_t k = 0; k < 4; k++) {
        int rate = rates[k];
        size_t n = (size_t)(0.8 * rate) + 13;  /* odd length on purpose */
        double *x = calloc(n, sizeof *x);
        /* a 6 ms Hann-windowed 2 kHz burst centred at 0.3 s, and noise for xcorr */
        double t0 = 0.3;
        size_t half = (size_t)(0.003 * rate);
        size_t c0 = (size_t)llround(t0 * rate);
        for (size_t i = c0 - half; i <= c0 + half; i++) {
            double w = 0.5 + 0.5 * cos(M_PI * ((double)i - (double)c0) / (double)half);
            x[i] = 0.5 * w * sin(2 * M_PI * 2000.0 * ((double)i - (double)c0) / rate);
        }
        const double *pl[2] = {x, x};
        char in[512], out[512], name[64];
        snprintf(name, sizeof name, "align%d.wav", rate);
        path_in(in, sizeof in, name);
        assert_int_equal(lqt_write_wav(in, pl, 2, n, rate, SF_FORMAT_FLOAT), 0);
        snprintf(out, sizeof out, "%s/out-align%d", g_tmp, rate);
        run_opts o = {.preset = "transparent", .targets = {t441, t48, tsrc}, .block = -1};
        run_job(in, out, &o);
        static const char *const tn[] = {"r44", "r48", "rsrc"};
        for (int t = 0; t < 3; t++) {
            char f[700];
            snprintf(f, sizeof f, "%s/align%d-%s.wav", out, rate, tn[t]);
            int ch, orate;
            size_t frames;
            double *y = lqt_read_planar(f, &ch, &frames, &orate);
            assert_non_null(y);
            double want = (double)n * orate / rate;
            if (fabs((double)frames - want) > 1.0)
                fail_msg("%d -> %d Hz: %zu frames, expected %.1f", rate, orate, frames, want);
            double tc = centroid_s(y, frames, orate);
            double tin = centroid_s(x, n, rate);
            if (fabs(tc - tin) * orate > 0.05)
                fail_msg("%d -> %d Hz: burst moved by %.4f samples", rate, orate,
                         (tc - tin) * orate);
            if (orate == rate) {
                long lag = lqt_xcorr_lag(y, x, n, 64);
                assert_int_equal(lag, 0);
            }
            free(y);
        }
        free(x);
    }
}

/* The default converter (libsoxr VHQ since issue 15; every converter is held to the
 * same limits in test_resample.c): a 1 kHz tone 44.1 -> 48 kHz has no spur above
 * -140 dBFS, a 20 kHz tone none above -120 dBFS, through the whole job (32-bit float
 * WAV out). */
static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 200 && term > 1e-20 * sum; k++) {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
    }
    return sum;
}

static double worst_spur_db(const double *y, size_t n, double rate, double f0)
{
    /* Kaiser window, beta 24 (sidelobes below -200 dB: a 4-term Blackman-Harris leaks
     * at -110 dB far from the tone and would hide nothing), 64k FFT, +-16 bins around
     * the tone skipped, levels as the amplitude of a sine in dBFS. */
    const size_t nfft = 65536;
    if (n < nfft) return NAN;
    const double *x = y + (n - nfft) / 2;
    double *in = fftw_malloc(nfft * sizeof *in);
    fftw_complex *out = fftw_malloc((nfft / 2 + 1) * sizeof *out);
    fftw_plan p = fftw_plan_dft_r2c_1d((int)nfft, in, out, FFTW_ESTIMATE);
    double wsum = 0;
    for (size_t i = 0; i < nfft; i++) {
        double r = 2.0 * (double)i / (double)(nfft - 1) - 1.0;
        double w = bessel_i0(24.0 * sqrt(1.0 - r * r)) / bessel_i0(24.0);
        in[i] = x[i] * w;
        wsum += w;
    }
    fftw_execute(p);
    double bin = rate / (double)nfft, level = -HUGE_VAL;
    for (size_t k = 4; k < nfft / 2; k++) {
        double f = (double)k * bin;
        if (fabs(f - f0) < 16 * bin) continue;
        double mag = 2.0 * hypot(out[k][0], out[k][1]) / wsum;
        double db = 20 * log10(mag + 1e-300);
        if (db > level) level = db;
    }
    fftw_destroy_plan(p);
    fftw_free(in);
    fftw_free(out);
    return level;
}

static void test_src_spurs(void **state)
{
    (void)state;
    char t48[512];
    make_target("s48", "48000", "wav", "32f", "null", 0.0, t48, sizeof t48);
    static const struct { double f, limit; } tones[] = {{1000.0, -140.0}, {20000.0, -120.0}};
    for (int k = 0; k < 2; k++) {
        size_t n = 3 * 44100;
        double *x = malloc(n * sizeof *x);
        lqs_sine(x, n, 44100, tones[k].f, 0.5, 0.0);
        const double *pl[1] = {x};
        char in[512], out[512], f[700], name[64];
        snprintf(name, sizeof name, "tone%d.wav", k);
        path_in(in, sizeof in, name);
        assert_int_equal(lqt_write_wav(in, pl, 1, n, 44100, SF_FORMAT_DOUBLE), 0);
        snprintf(out, sizeof out, "%s/out-tone%d", g_tmp, k);
        run_opts o = {.preset = "transparent", .targets = {t48}, .block = -1};
        run_job(in, out, &o);
        snprintf(f, sizeof f, "%s/tone%d-s48.wav", out, k);
        int ch, rate;
        size_t frames;
        double *y = lqt_read_planar(f, &ch, &frames, &rate);
        assert_non_null(y);
        double spur = worst_spur_db(y, frames, rate, tones[k].f);
        printf("SRC 44.1->48 kHz, %.0f Hz tone at -6 dBFS: worst spur %.1f dBFS (limit %.0f)\n",
               tones[k].f, spur, tones[k].limit);
        assert_true(spur < tones[k].limit);
        free(x);
        free(y);
    }
}

/* Linear gain with headroom lands within 0.05 LU at every rate and word length. */
static void test_loudness_linear(void **state)
{
    (void)state;
    char in[512];
    path_in(in, sizeof in, "quiet.wav");
    make_mix(in, 48000, 8.0, 0.1, SF_FORMAT_PCM_24); /* peak -20 dBFS: room for gain */
    static const struct { const char *name, *rate, *fmt, *bits, *lufs; } tg[] = {
        {"l1", "44100", "wav", "16", "-16"}, {"l2", "48000", "flac", "24", "-14"},
        {"l3", "96000", "wav", "32f", "-23"}, {"l4", "source", "aiff", "16", "-18"},
        {"l5", "88200", "wav", "24", "-20"}};
    char paths[5][512];
    run_opts o = {.preset = "transparent", .block = -1, .threads = 2};
    for (int i = 0; i < 5; i++) {
        make_target(tg[i].name, tg[i].rate, tg[i].fmt, tg[i].bits, tg[i].lufs, -1.0, paths[i],
                    sizeof paths[i]);
        o.targets[i] = paths[i];
    }
    char out[512];
    snprintf(out, sizeof out, "%s/out-loud", g_tmp);
    run_job(in, out, &o);
    for (int i = 0; i < 5; i++) {
        char f[700], err[512];
        const char *ext = !strcmp(tg[i].fmt, "aiff") ? "aiff" : tg[i].fmt;
        snprintf(f, sizeof f, "%s/quiet-%s.%s", out, tg[i].name, ext);
        lq_analysis a;
        assert_int_equal(lq_analyze_file(f, &a, err, sizeof err), LQ_OK);
        double want = atof(tg[i].lufs);
        printf("%-3s %6s Hz %4s-bit %-4s: %.3f LUFS (target %.1f, error %+.3f LU)\n",
               tg[i].name, tg[i].rate, tg[i].bits, tg[i].fmt, a.integrated_lufs, want,
               a.integrated_lufs - want);
        assert_true(fabs(a.integrated_lufs - want) <= 0.05);
    }
}

/* Reruns and --threads 1 vs 2: byte-identical exports. */
static void test_reruns_and_threads(void **state)
{
    (void)state;
    char in[512], a[512], b[512], c[512];
    path_in(in, sizeof in, "rerun.wav");
    make_mix(in, 44100, 2.0, 0.95, SF_FORMAT_PCM_24);
    make_target("ra", "source", "wav", "16", "-14", -1.0, a, sizeof a);
    make_target("rb", "48000", "flac", "24", "-16", -1.0, b, sizeof b);
    make_target("rc", "96000", "wav", "24", "null", -1.0, c, sizeof c);
    static const char *const files[] = {"rerun-ra.wav", "rerun-rb.flac", "rerun-rc.wav",
                                        "report.json"};
    uint64_t ref[4] = {0};
    static const int threads[] = {1, 1, 2, 2};
    for (int r = 0; r < 4; r++) {
        char out[512];
        snprintf(out, sizeof out, "%s/out-rerun%d", g_tmp, r);
        run_opts o = {.preset = "transparent", .targets = {a, b, c}, .block = -1,
                      .threads = threads[r]};
        run_job(in, out, &o);
        for (int k = 0; k < 3; k++) {
            char f[700];
            snprintf(f, sizeof f, "%s/%s", out, files[k]);
            uint64_t h = lqt_file_hash(f);
            if (r == 0) ref[k] = h;
            else if (h != ref[k]) fail_msg("run %d (threads %d): %s differs", r, threads[r], files[k]);
        }
    }
}

/* The rate of one export; its report.json entry; how many of its warnings contain
 * `needle`. */
static int export_rate(const char *file)
{
    int ch, rate;
    size_t frames;
    double *y = lqt_read_planar(file, &ch, &frames, &rate);
    assert_non_null(y);
    free(y);
    return rate;
}

static json_t *report_export(json_t *rep, const char *target)
{
    json_t *exs = json_object_get(rep, "exports");
    for (size_t i = 0; i < json_array_size(exs); i++) {
        json_t *e = json_array_get(exs, i);
        if (!strcmp(json_string_value(json_object_get(e, "target")), target)) return e;
    }
    fail_msg("no export for %s in report.json", target);
    return NULL;
}

static int count_warnings(json_t *ex, const char *needle)
{
    json_t *w = json_object_get(ex, "warnings");
    int n = 0;
    for (size_t i = 0; i < json_array_size(w); i++)
        n += strstr(json_string_value(json_array_get(w, i)), needle) != NULL;
    return n;
}

/* No upsampling that buys nothing (issue 15): apple-music delivers a 44.1 kHz mix at
 * 44.1 kHz; a 32 kHz mix meets a 44.1 kHz floor (min_sample_rate); hires-96 from a
 * 44.1 kHz mix says in words that it is not a hi-res source. */
static void test_delivery_rates(void **state)
{
    (void)state;
    char in[512], out[512], f[800], rp[800];
    path_in(in, sizeof in, "cdmix.wav");
    make_mix(in, 44100, 3.0, 0.5, SF_FORMAT_PCM_24);
    snprintf(out, sizeof out, "%s/out-rates", g_tmp);
    run_opts o = {.preset = "transparent", .targets = {"apple-music", "hires-96"}, .block = -1};
    run_job(in, out, &o);
    snprintf(f, sizeof f, "%s/cdmix (apple-music).wav", out);
    assert_int_equal(export_rate(f), 44100);
    snprintf(f, sizeof f, "%s/cdmix (hires-96).flac", out);
    assert_int_equal(export_rate(f), 96000);
    snprintf(rp, sizeof rp, "%s/report.json", out);
    json_error_t jerr;
    json_t *rep = json_load_file(rp, 0, &jerr);
    assert_non_null(rep);
    json_t *hi = report_export(rep, "hires-96");
    json_t *hw = json_object_get(hi, "warnings");
    assert_int_equal(count_warnings(hi, "upsampled"), 1);
    assert_string_equal(json_string_value(json_array_get(hw, 0)),
                        "upsampled from 44.1 kHz: not a hi-res source");
    assert_int_equal(count_warnings(report_export(rep, "apple-music"), "upsampled"), 0);
    json_decref(rep);
    /* the text report carries the same line */
    snprintf(rp, sizeof rp, "%s/report.txt", out);
    char *txt = NULL;
    FILE *fp = fopen(rp, "r");
    assert_non_null(fp);
    txt = calloc(1, 1 << 16);
    assert_true(fread(txt, 1, (1 << 16) - 1, fp) > 0);
    fclose(fp);
    assert_non_null(strstr(txt, "  ! upsampled from 44.1 kHz: not a hi-res source\n"));
    free(txt);

    /* a 32 kHz mix and a service that needs 44.1 kHz at least: raised to the floor, no
     * hi-res claim either way; a 96 kHz mix through hires-96: no warning */
    char t[512];
    path_in(t, sizeof t, "floor.yaml");
    write_text(t, "lacquer: 1\nname: floor\nsample_rate: source\nmin_sample_rate: 44100\n"
                  "format: wav\nbit_depth: 24\nloudness_lufs: null\n"
                  "filename: \"{title}-{target}.{ext}\"\n");
    static const int rates[] = {32000, 96000};
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "mix%d.wav", rates[k]);
        path_in(in, sizeof in, name);
        make_mix(in, rates[k], 2.0, 0.5, SF_FORMAT_PCM_24);
        snprintf(out, sizeof out, "%s/out-floor%d", g_tmp, rates[k]);
        run_opts of = {.preset = "transparent", .targets = {t, "hires-96"}, .block = -1};
        run_job(in, out, &of);
        snprintf(f, sizeof f, "%s/mix%d-floor.wav", out, rates[k]);
        int ch, rate;
        size_t frames;
        double *y = lqt_read_planar(f, &ch, &frames, &rate);
        assert_non_null(y);
        free(y);
        int want = rates[k] < 44100 ? 44100 : rates[k];
        assert_int_equal(rate, want);
        assert_true(fabs((double)frames - 2.0 * want) <= 1.0);
        snprintf(rp, sizeof rp, "%s/report.json", out);
        rep = json_load_file(rp, 0, &jerr);
        assert_non_null(rep);
        assert_int_equal(count_warnings(report_export(rep, "floor"), "upsampled"), 0);
        /* from 32 kHz, hires-96 is an upsample by its own choice; from 96 kHz, none */
        assert_int_equal(count_warnings(report_export(rep, "hires-96"),
                                        "upsampled from 32 kHz: not a hi-res source"),
                         k == 0);
        assert_int_equal(count_warnings(report_export(rep, "hires-96"), "upsampled"), k == 0);
        json_decref(rep);
    }
}

/* Each target resamples with its own converter (`resampler:`), for its export and for
 * the codec check a 96 kHz master needs at 48 kHz: two targets at the same rate with
 * different converters give different files, each the same at any --threads. */
static void test_resampler_per_target(void **state)
{
    (void)state;
    char in[512], a[512], b[512];
    path_in(in, sizeof in, "conv.wav");
    make_mix(in, 44100, 2.0, 0.5, SF_FORMAT_PCM_24);
    static const char *const conv[] = {"soxr-vhq", "libsamplerate-best"};
    char *paths[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        char text[600], name[64];
        snprintf(name, sizeof name, "c%d.yaml", k);
        path_in(paths[k], 512, name);
        snprintf(text, sizeof text,
                 "lacquer: 1\nname: c%d\nsample_rate: 96000\nresampler: %s\nformat: wav\n"
                 "bit_depth: 24\nloudness_lufs: null\ncodec_check: [mp3]\n"
                 "filename: \"{title}-{target}.{ext}\"\n", k, conv[k]);
        write_text(paths[k], text);
    }
    uint64_t ref[2] = {0, 0};
    static const int threads[] = {1, 2};
    for (int r = 0; r < 2; r++) {
        char out[512], f[700];
        snprintf(out, sizeof out, "%s/out-conv%d", g_tmp, r);
        run_opts o = {.preset = "transparent", .targets = {a, b}, .block = -1,
                      .threads = threads[r]};
        run_job(in, out, &o);
        for (int k = 0; k < 2; k++) {
            snprintf(f, sizeof f, "%s/conv-c%d.wav", out, k);
            uint64_t h = lqt_file_hash(f);
            if (r == 0) ref[k] = h;
            else if (h != ref[k]) fail_msg("threads %d: %s differs", threads[r], f);
        }
        if (r == 0) assert_true(ref[0] != ref[1]);
        char rp[700];
        snprintf(rp, sizeof rp, "%s/report.json", out);
        json_error_t jerr;
        json_t *rep = json_load_file(rp, 0, &jerr);
        assert_non_null(rep);
        for (int k = 0; k < 2; k++) {
            char tn[8];
            snprintf(tn, sizeof tn, "c%d", k);
            json_t *cc = json_object_get(json_object_get(report_export(rep, tn),
                                                         "requirements"), "codec_checks");
            assert_int_equal(json_array_size(cc), 1);
            json_t *c0 = json_array_get(cc, 0);
            assert_int_equal(json_integer_value(json_object_get(c0, "sample_rate")), 48000);
            assert_true(json_is_true(json_object_get(c0, "pass")));
        }
        json_decref(rep);
    }
}

/* Other containers in (FLAC 24-bit: still bit-exact; MP3: decoded and mastered), and
 * the BWF bext v2 loudness fields of a WAV export carry the verified figures. */
static void test_input_formats_and_bext(void **state)
{
    (void)state;
    char in[700], tgt[700], out[700], f[800];
    path_in(in, sizeof in, "song.flac");
    make_mix(in, 48000, 3.0, 0.5, SF_FORMAT_PCM_24);
    make_target("same24", "source", "wav", "24", "null", 0.0, tgt, sizeof tgt);
    snprintf(out, sizeof out, "%s/out-flac", g_tmp);
    run_opts o = {.preset = "transparent", .targets = {tgt}, .block = -1};
    run_job(in, out, &o);
    snprintf(f, sizeof f, "%s/song-same24.wav", out);
    int ca, cb, ra, rb;
    size_t fa, fb;
    double *a = lqt_read_planar(in, &ca, &fa, &ra);
    double *b = lqt_read_planar(f, &cb, &fb, &rb);
    assert_int_equal(fa, fb);
    assert_memory_equal(a, b, fa * (size_t)ca * sizeof *a);
    free(a);
    free(b);

    /* an MP3 input, mastered to -16 LUFS WAV with a bext chunk */
    char mp3[700], t16[700];
    path_in(mp3, sizeof mp3, "demo.mp3");
    {
        size_t n = 4 * 44100;
        double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
        lqs_mix(l, r, n, 44100, 3, 0.3);
        SF_INFO info = {.samplerate = 44100, .channels = 2,
                        .format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III};
        SNDFILE *sf = sf_open(mp3, SFM_WRITE, &info);
        assert_non_null(sf);
        double *il = malloc(2 * n * sizeof *il);
        for (size_t i = 0; i < n; i++) il[2 * i] = l[i], il[2 * i + 1] = r[i];
        sf_writef_double(sf, il, (sf_count_t)n);
        sf_close(sf);
        free(il);
        free(l);
        free(r);
    }
    make_target("bwf", "48000", "wav", "24", "-16", -1.0, t16, sizeof t16);
    snprintf(out, sizeof out, "%s/out-mp3", g_tmp);
    run_opts o2 = {.preset = "transparent", .targets = {t16}, .block = -1};
    run_job(mp3, out, &o2);
    snprintf(f, sizeof f, "%s/demo-bwf.wav", out);
    lq_analysis an;
    char err[512];
    assert_int_equal(lq_analyze_file(f, &an, err, sizeof err), LQ_OK);
    assert_true(fabs(an.integrated_lufs + 16.0) <= 0.05);
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(f, SFM_READ, &info);
    assert_non_null(sf);
    SF_BROADCAST_INFO bi;
    memset(&bi, 0, sizeof bi);
    assert_true(sf_command(sf, SFC_GET_BROADCAST_INFO, &bi, sizeof bi) == SF_TRUE);
    sf_close(sf);
    printf("bext v%d: loudness %d (x0.01 LUFS), range %d, true peak %d, max M %d, max S %d;"
           " measured %.3f LUFS %.3f dBTP\n", bi.version, bi.loudness_value, bi.loudness_range,
           bi.max_true_peak_level, bi.max_momentary_loudness, bi.max_shortterm_loudness,
           an.integrated_lufs, an.true_peak_16x_dbtp);
    assert_int_equal(bi.version, 2);
    assert_int_equal(bi.loudness_value, (int)lrint(an.integrated_lufs * 100));
    assert_int_equal(bi.max_true_peak_level, (int)lrint(an.true_peak_16x_dbtp * 100));
    assert_int_equal(bi.loudness_range, (int)lrint(an.lra_lu * 100));
}

/* Mix problems are reported in plain words (report.json mix_warnings), and a clean
 * mix gets none. */
static void test_mix_warnings(void **state)
{
    (void)state;
    enum { CLEAN, CLIPPED, PHASE, DC, LOPSIDED, CRUSHED, SILENT, NCASE };
    static const char *const names[] = {"clean", "clipped", "phase", "dc", "lopsided",
                                        "crushed", "silent"};
    static const char *const expect[] = {NULL, "the mix clips", "out of phase", "DC offset",
                                         "the low end leans left", "already heavily limited",
                                         "no loudness could be measured"};
    const int rate = 44100;
    const size_t n = 4 * 44100;
    char tgt[700];
    make_target("w", "source", "wav", "24", "null", 0.0, tgt, sizeof tgt);
    for (int k = 0; k < NCASE; k++) {
        double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
        lqs_mix(l, r, n, rate, 5, 0.5);
        for (size_t i = 0; i < n; i++) {
            switch (k) {
            case CLIPPED: /* driven 12 dB into hard clipping */
                l[i] = fmax(-1.0, fmin(1.0, 8.0 * l[i]));
                r[i] = fmax(-1.0, fmin(1.0, 8.0 * r[i]));
                break;
            case PHASE: r[i] = -l[i]; break;
            case DC: l[i] += 0.01, r[i] += 0.01; break;
            case LOPSIDED: /* a 50 Hz bass on the left only */
                l[i] = 0.5 * l[i] + 0.4 * sin(2 * M_PI * 50.0 * (double)i / rate);
                r[i] *= 0.5;
                break;
            case CRUSHED: /* soft-saturated to a brick: PLR far below 8 dB */
                l[i] = 0.7 * tanh(20.0 * l[i]);
                r[i] = 0.7 * tanh(20.0 * r[i]);
                break;
            case SILENT: l[i] = r[i] = 0.0; break;
            default: break;
            }
        }
        char in[700], out[700], rp[800], name[64];
        snprintf(name, sizeof name, "warn-%s.wav", names[k]);
        path_in(in, sizeof in, name);
        const double *pl[2] = {l, r};
        assert_int_equal(lqt_write_wav(in, pl, 2, n, rate, SF_FORMAT_FLOAT), 0);
        snprintf(out, sizeof out, "%s/out-warn-%s", g_tmp, names[k]);
        run_opts o = {.preset = "transparent", .targets = {tgt}, .block = -1};
        run_job(in, out, &o);
        snprintf(rp, sizeof rp, "%s/report.json", out);
        json_error_t jerr;
        json_t *rep = json_load_file(rp, 0, &jerr);
        assert_non_null(rep);
        json_t *w = json_object_get(rep, "mix_warnings");
        size_t nw = json_array_size(w);
        int found = 0;
        for (size_t i = 0; i < nw; i++) {
            const char *t = json_string_value(json_array_get(w, i));
            printf("%-9s %s\n", names[k], t);
            if (expect[k] && strstr(t, expect[k])) found = 1;
        }
        if (k == CLEAN) assert_int_equal(nw, 0);
        else if (!found) fail_msg("%s: no warning containing \"%s\"", names[k], expect[k]);
        json_decref(rep);
        free(l);
        free(r);
    }
}

/* An Ogg Vorbis export at the bitrate its target asks for: libvorbis's VBR quality
 * whose nominal rate that is (q 0.5 for 160 kbit/s, q 0.9 for 320), not the linear
 * map that gave 125 kbit/s for 160 and 470 for 320 (q 1). */
static void test_ogg_bitrate(void **state)
{
    (void)state;
    char in[300], out[300], t160[300], t320[300];
    path_in(in, sizeof in, "ogg-mix.wav");
    make_mix(in, 44100, 20.0, 0.5, SF_FORMAT_PCM_24);
    path_in(t160, sizeof t160, "ogg160.yaml");
    write_text(t160, "lacquer: 1\nname: ogg160\nformat: ogg\nbitrate_kbps: 160\n"
                     "loudness_lufs: -14\ntrue_peak_dbtp: -1.0\n");
    path_in(t320, sizeof t320, "ogg320.yaml");
    write_text(t320, "lacquer: 1\nname: ogg320\nformat: ogg\nbitrate_kbps: 320\n"
                     "loudness_lufs: -14\ntrue_peak_dbtp: -1.0\n");
    path_in(out, sizeof out, "out-ogg");
    run_opts o = {.preset = "transparent", .targets = {t160, t320}, .block = -1};
    run_job(in, out, &o);
    static const char *const names[] = {"ogg160", "ogg320"};
    static const double want[] = {160, 320};
    for (int k = 0; k < 2; k++) {
        char f[700];
        snprintf(f, sizeof f, "%s/ogg-mix (%s).ogg", out, names[k]);
        FILE *fp = fopen(f, "rb");
        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        const double kbps = (double)ftell(fp) * 8.0 / 20.0 / 1000.0;
        fclose(fp);
        printf("%s: %.1f kbit/s (nominal %.0f)\n", names[k], kbps, want[k]);
        assert_true(kbps > 0.85 * want[k] && kbps < 1.15 * want[k]);
    }
}

/* libebur128's cross-check true peak of the input is measured only when asked
 * (--ebur128-peak, lq_job_set_ebur128_peak): null by default, then within 0.3 dB of the
 * 16x figure; the exports are the same bytes either way. */
static void test_ebur128_peak_option(void **state)
{
    (void)state;
    char in[300], out[2][300];
    path_in(in, sizeof in, "ebur-mix.wav");
    make_mix(in, 44100, 8.0, 0.9, SF_FORMAT_PCM_24);
    double tp[2] = {0, 0}, tp16[2] = {0, 0};
    int is_null[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        path_in(out[k], sizeof out[k], k ? "ebur-on" : "ebur-off");
        const char *argv[] = {LQ_CLI_PATH, "master", in, "--target", "cd", "--out", out[k],
                              "--quiet", "--no-html", k ? "--ebur128-peak" : NULL, NULL};
        char *o = NULL, *e = NULL;
        int rc = lqt_run(argv, &o, &e);
        if (rc) fail_msg("lacquer master exited %d: %s", rc, e ? e : "");
        free(o);
        free(e);
        char rp[400];
        snprintf(rp, sizeof rp, "%s/report.json", out[k]);
        json_error_t je;
        json_t *r = json_load_file(rp, 0, &je);
        assert_non_null(r);
        json_t *m = json_object_get(json_object_get(r, "input"), "measured");
        json_t *v = json_object_get(m, "true_peak_ebur128_dbtp");
        assert_non_null(v);   /* the key is always there */
        is_null[k] = json_is_null(v);
        tp[k] = json_number_value(v);
        tp16[k] = json_number_value(json_object_get(m, "true_peak_dbtp"));
        json_decref(r);
    }
    printf("input true peak: 16x %.3f dBTP; libebur128 off: %s, on: %.3f dBTP\n", tp16[0],
           is_null[0] ? "null" : "a number", tp[1]);
    assert_true(is_null[0]);
    assert_false(is_null[1]);
    assert_float_equal(tp[1], tp16[1], 0.3);
    assert_true(tp16[0] == tp16[1]);
    assert_int_equal(lqt_exports_equal(out[0], out[1]), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transparent_bit_exact),
        cmocka_unit_test(test_block_size_independence),
        cmocka_unit_test(test_length_and_alignment),
        cmocka_unit_test(test_src_spurs),
        cmocka_unit_test(test_loudness_linear),
        cmocka_unit_test(test_reruns_and_threads),
        cmocka_unit_test(test_input_formats_and_bext),
        cmocka_unit_test(test_mix_warnings),
        cmocka_unit_test(test_delivery_rates),
        cmocka_unit_test(test_resampler_per_target),
        cmocka_unit_test(test_ogg_bitrate),
        cmocka_unit_test(test_ebur128_peak_option),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
