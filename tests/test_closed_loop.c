/* Issue 5 end to end: the written file's true peak (measured by the test suite's own
 * 16x meter, lqt_true_peak_16x) stays under the ceiling on hard material driven +6 and
 * +12 dB into the limiter, at 44.1/48/96 kHz and 16/24 bit, and after MP3 320 / Opus 160
 * round trips; and the closed loop lands every shipped streaming target within 0.05 LU
 * (libebur128 on the written file). */
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
#include <jansson.h>

#include "lacquer/lacquer.h"
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

static void write_text(const char *path, const char *text)
{
    assert_int_equal(lqt_write_text(path, text), 0);
}

enum { SIG_WHITE, SIG_PINK, SIG_DRUMS, SIG_SQUARE, SIG_FS4, SIG_SWEEP, SIG_MIX, SIG_COUNT };
static const char *const sig_names[] = {"white", "pink", "drums", "square", "fs4-45deg",
                                        "sweep", "mix"};

/* Stereo test material at `rate`, sample peak normalised to 0.9. */
static void make_signal(int kind, int rate, size_t n, double *l, double *r)
{
    switch (kind) {
    case SIG_WHITE: lqs_white(l, n, 0.2, 11); lqs_white(r, n, 0.2, 12); break;
    case SIG_PINK: lqs_pink(l, n, 0.2, 13); lqs_pink(r, n, 0.2, 14); break;
    case SIG_DRUMS:
        lqs_transients(l, n, rate, 0.25, 0.9, 15);
        lqs_transients(r, n, rate, 0.375, 0.9, 16);
        break;
    case SIG_SQUARE: lqs_square(l, n, rate, 997.0, 0.9); lqs_square(r, n, rate, 1499.0, 0.9); break;
    case SIG_FS4:
        lqs_sine(l, n, rate, rate / 4.0, 0.9, M_PI / 4);
        lqs_sine(r, n, rate, rate / 4.0, 0.9, M_PI / 4);
        break;
    case SIG_SWEEP: lqs_sweep(l, n, rate, 20.0, 0.45 * rate, 0.9); memcpy(r, l, n * sizeof *r); break;
    default: lqs_mix(l, r, n, rate, 17, 0.9); break;
    }
    double pk = 0;
    for (size_t i = 0; i < n; i++) pk = fmax(pk, fmax(fabs(l[i]), fabs(r[i])));
    for (size_t i = 0; i < n; i++) {
        l[i] *= 0.9 / pk;
        r[i] *= 0.9 / pk;
    }
}

static void run(const char *in, const char *preset, const char *const *targets, size_t nt,
                const char *out)
{
    if (lqt_master(in, preset, targets, nt, out, 0, -1))
        fail_msg("mastering %s failed (see stderr)", in);
}

static double file_tp_db(const char *path, int *rate_out)
{
    int ch, rate;
    size_t n;
    double *x = lqt_read_planar(path, &ch, &n, &rate);
    if (!x) fail_msg("cannot read %s", path);
    double tp = 0;
    for (int c = 0; c < ch; c++) tp = fmax(tp, lqt_true_peak_16x(x + (size_t)c * n, n));
    free(x);
    if (rate_out) *rate_out = rate;
    return lqt_db(tp);
}

/* PCM: every signal x {+6, +12 dB} x {44.1, 48, 96 kHz} x {16, 24 bit}. */
static void test_ceiling_pcm(void **state)
{
    (void)state;
    char tpath[6][512];
    const char *targets[6];
    static const int rates[] = {44100, 48000, 96000};
    for (int r = 0; r < 3; r++)
        for (int b = 0; b < 2; b++) {
            int k = r * 2 + b;
            char text[512];
            snprintf(text, sizeof text,
                     "lacquer: 1\nname: c%d\nsample_rate: %d\nformat: wav\nbit_depth: %d\n"
                     "loudness_lufs: null\ntrue_peak_dbtp: -1.0\nfilename: \"{title}-{target}.{ext}\"\n",
                     k, rates[r], b ? 24 : 16);
            snprintf(tpath[k], sizeof tpath[k], "%s/c%d.yaml", g_tmp, k);
            write_text(tpath[k], text);
            targets[k] = tpath[k];
        }
    double worst = -HUGE_VAL;
    for (int drive = 6; drive <= 12; drive += 6) {
        char pre[512], text[256];
        snprintf(pre, sizeof pre, "%s/drive%d.yaml", g_tmp, drive);
        snprintf(text, sizeof text,
                 "lacquer: 1\nname: drive%d\nmaster:\n  - gain: {gain_db: %d}\n"
                 "finish:\n  limiter: {lookahead_ms: 2.0, release_ms: 80}\n",
                 drive, drive);
        write_text(pre, text);
        for (int s = 0; s < SIG_COUNT; s++) {
            int rate = 44100;
            size_t n = (size_t)(2.5 * rate);
            double *l = malloc(n * sizeof *l), *rr = malloc(n * sizeof *rr);
            make_signal(s, rate, n, l, rr);
            char in[512], out[512];
            snprintf(in, sizeof in, "%s/%s.wav", g_tmp, sig_names[s]);
            const double *pl[2] = {l, rr};
            assert_int_equal(lqt_write_wav(in, pl, 2, n, rate, SF_FORMAT_PCM_24), 0);
            snprintf(out, sizeof out, "%s/out-%s-%d", g_tmp, sig_names[s], drive);
            run(in, pre, targets, 6, out);
            for (int k = 0; k < 6; k++) {
                char f[700];
                snprintf(f, sizeof f, "%s/%s-c%d.wav", out, sig_names[s], k);
                int orate;
                double tp = file_tp_db(f, &orate);
                worst = fmax(worst, tp);
                if (tp > -1.0)
                    fail_msg("%s +%d dB, %d Hz %s-bit: true peak %.3f dBTP over -1.0", sig_names[s],
                             drive, orate, k % 2 ? "24" : "16", tp);
            }
            lqt_rmrf(out);
            free(l);
            free(rr);
        }
    }
    printf("PCM exports, 7 signals x 2 drives x 3 rates x 2 word lengths: worst true peak "
           "%.3f dBTP (ceiling -1.0)\n", worst);
}

/* Lossy: the decoded MP3 320k and Opus 160k files stay under the ceiling too. */
static void test_ceiling_lossy(void **state)
{
    (void)state;
    /* the generated mixes at +6 and +12 dB drive, and drums and pink noise at +9 */
    static const struct { int kind, drive; } cases[] = {
        {SIG_MIX, 6}, {SIG_MIX, 12}, {SIG_DRUMS, 9}, {SIG_PINK, 9}};
    const char *targets[] = {"mp3-320", "opus-160"};
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
        char pre[512], text[256];
        snprintf(pre, sizeof pre, "%s/drive-lossy%zu.yaml", g_tmp, s);
        snprintf(text, sizeof text,
                 "lacquer: 1\nname: drive\nmaster:\n  - gain: {gain_db: %d}\n"
                 "finish:\n  limiter: {lookahead_ms: 2.0, release_ms: 80}\n", cases[s].drive);
        write_text(pre, text);
        int rate = 44100;
        size_t n = (size_t)(3.0 * rate);
        double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
        make_signal(cases[s].kind, rate, n, l, r);
        char in[512], out[512];
        snprintf(in, sizeof in, "%s/lossy-%s.wav", g_tmp, sig_names[cases[s].kind]);
        const double *pl[2] = {l, r};
        assert_int_equal(lqt_write_wav(in, pl, 2, n, rate, SF_FORMAT_PCM_24), 0);
        snprintf(out, sizeof out, "%s/out-lossy-%zu", g_tmp, s);
        run(in, pre, targets, 2, out);
        static const char *const files[] = {"mp3-320).mp3", "opus-160).opus"};
        for (int k = 0; k < 2; k++) {
            char f[800];
            snprintf(f, sizeof f, "%s/lossy-%s (%s", out, sig_names[cases[s].kind], files[k]);
            double tp = file_tp_db(f, NULL);
            printf("%-6s +%2d dB %-5s decoded true peak %.3f dBTP (ceiling -1.0)\n",
                   sig_names[cases[s].kind], cases[s].drive, k ? "opus" : "mp3", tp);
            assert_true(tp <= -1.0);
        }
        lqt_rmrf(out);
        free(l);
        free(r);
    }
}

/* The closed loop: every shipped streaming target within 0.05 LU, measured by
 * libebur128 on the written (decoded) file. */
static void test_loudness_streaming_targets(void **state)
{
    (void)state;
    int rate = 44100;
    size_t n = (size_t)(10.0 * rate);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    lqs_mix(l, r, n, rate, 23, 0.98);
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/song.wav", g_tmp);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(in, pl, 2, n, rate, SF_FORMAT_PCM_24), 0);
    snprintf(out, sizeof out, "%s/out-streaming", g_tmp);
    const char *targets[] = {"spotify", "apple-music", "youtube", "tidal", "amazon-music",
                             "deezer", "podcast", "ebu-r128", "atsc-a85"};
    static const double want[] = {-14, -16, -14, -14, -14, -15, -16, -23, -24};
    run(in, "gentle", targets, 9, out);
    static const char *const ext[] = {"wav", "wav", "wav", "flac", "wav", "wav", "mp3", "wav",
                                      "wav"};
    for (int k = 0; k < 9; k++) {
        char f[800], err[512];
        snprintf(f, sizeof f, "%s/song (%s).%s", out, targets[k], ext[k]);
        lq_analysis a;
        if (lq_analyze_file(f, &a, err, sizeof err)) fail_msg("%s", err);
        printf("%-13s %8.3f LUFS (target %5.1f, error %+.3f LU), true peak %.2f dBTP\n",
               targets[k], a.integrated_lufs, want[k], a.integrated_lufs - want[k],
               a.true_peak_16x_dbtp);
        assert_true(fabs(a.integrated_lufs - want[k]) <= 0.05);
    }
    /* the report agrees: every export met; the Apple master stays at the mix's 44.1 kHz
     * (no upsampling that buys nothing, issue 15), so its MP3 check ran at 44.1 kHz and
     * held the ceiling (the resampled check of a 96 kHz master: test_job) */
    char rp[600];
    snprintf(rp, sizeof rp, "%s/report.json", out);
    json_error_t jerr;
    json_t *rep = json_load_file(rp, 0, &jerr);
    assert_non_null(rep);
    assert_true(json_is_true(json_object_get(rep, "all_met")));
    json_t *exs = json_object_get(rep, "exports");
    assert_int_equal(json_array_size(exs), 9);
    json_t *apple = json_array_get(exs, 1);
    assert_string_equal(json_string_value(json_object_get(apple, "target")), "apple-music");
    json_t *cc = json_object_get(json_object_get(apple, "requirements"), "codec_checks");
    assert_int_equal(json_array_size(cc), 1);
    json_t *c0 = json_array_get(cc, 0);
    assert_string_equal(json_string_value(json_object_get(c0, "codec")), "aac");
    assert_int_equal(json_integer_value(json_object_get(c0, "sample_rate")), 44100);
    assert_true(json_real_value(json_object_get(c0, "true_peak_dbtp")) <= -1.0);
    json_decref(rep);
    free(l);
    free(r);
}

/* The export's own passes read the drive curve with the loss model (finish.c,
 * model_gain): on the 30-second demo mix through gentle, cd lands within 0.01 LU in 2
 * limiter passes and spotify, after its codec margin moved the ceiling 0.6-0.9 dB, in 1
 * (the secant took 3 and 2: it over-reads the loudness it extrapolates to). */
static void test_loss_model_passes(void **state)
{
    (void)state;
    char mix[512], out[512];
    snprintf(mix, sizeof mix, "%s/demo30.wav", g_tmp);
    const char *argv[] = {LQ_CLI_PATH, "demo", mix, "--seconds", "30", NULL};
    assert_int_equal(lqt_run(argv, NULL, NULL), 0);
    snprintf(out, sizeof out, "%s/out-model", g_tmp);
    const char *targets[] = {"cd", "spotify"};
    static const double aim[] = {-13.0, -14.0};
    static const size_t max_passes[] = {2, 1};
    run(mix, "gentle", targets, 2, out);
    char rp[600];
    snprintf(rp, sizeof rp, "%s/report.json", out);
    json_error_t jerr;
    json_t *rep = json_load_file(rp, 0, &jerr);
    assert_non_null(rep);
    for (size_t k = 0; k < 2; k++) {
        json_t *ex = json_array_get(json_object_get(rep, "exports"), k);
        assert_string_equal(json_string_value(json_object_get(ex, "target")), targets[k]);
        json_t *passes = json_object_get(ex, "passes");
        const double lufs = json_real_value(json_object_get(json_object_get(ex, "measured"),
                                                            "integrated_lufs"));
        printf("%-8s %zu limiter passes, %.4f LUFS (aim %.1f)\n", targets[k],
               json_array_size(passes), lufs, aim[k]);
        assert_true(json_array_size(passes) >= 1 &&
                    json_array_size(passes) <= max_passes[k]);
        assert_true(fabs(lufs - aim[k]) <= 0.01);
    }
    json_decref(rep);
}

/* A loudness the limiter cannot reach at its ceiling (a generated mix to -3 LUFS under
 * -1 dBTP): the closed loop stops pushing once more gain hardly moves the loudness (it
 * used to spend every pass it had, up to 20 dB of gain more for hundredths of an LU),
 * and the report says how far short it is and why. */
static void test_unreachable_loudness(void **state)
{
    (void)state;
    int rate = 44100;
    size_t n = (size_t)(8.0 * rate);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    lqs_mix(l, r, n, rate, 29, 0.9);
    char in[512], out[512], tgt[512], pre[512];
    snprintf(in, sizeof in, "%s/hot.wav", g_tmp);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(in, pl, 2, n, rate, SF_FORMAT_PCM_24), 0);
    snprintf(tgt, sizeof tgt, "%s/hot-target.yaml", g_tmp);
    write_text(tgt, "lacquer: 1\nname: hot\nformat: wav\nbit_depth: 24\nsample_rate: source\n"
                    "loudness_lufs: -3\ntrue_peak_dbtp: -1.0\n");
    snprintf(pre, sizeof pre, "%s/lim.yaml", g_tmp);
    write_text(pre, "lacquer: 1\nname: lim\nfinish:\n  limiter: {lookahead_ms: 2.0, "
                    "release_ms: 80}\n");
    snprintf(out, sizeof out, "%s/out-hot", g_tmp);
    const char *targets[] = {tgt};
    run(in, pre, targets, 1, out);
    char rp[600];
    snprintf(rp, sizeof rp, "%s/report.json", out);
    json_error_t jerr;
    json_t *rep = json_load_file(rp, 0, &jerr);
    assert_non_null(rep);
    json_t *ex = json_array_get(json_object_get(rep, "exports"), 0);
    json_t *passes = json_object_get(ex, "passes");
    const size_t np = json_array_size(passes);
    const double lufs = json_real_value(json_object_get(json_object_get(ex, "measured"),
                                                        "integrated_lufs"));
    const double short_lu = json_real_value(json_object_get(ex, "shortfall_lu"));
    const char *w = json_string_value(json_array_get(json_object_get(ex, "warnings"), 0));
    printf("%zu passes, %.3f LUFS, %.2f LU short: %s\n", np, lufs, short_lu, w ? w : "(none)");
    for (size_t i = 0; i < np; i++) {
        json_t *p = json_array_get(passes, i);
        printf("  gain %7.3f dB -> %.4f LUFS\n",
               json_real_value(json_object_get(p, "gain_db")),
               json_real_value(json_object_get(p, "integrated_lufs")));
    }
    assert_true(np >= 2 && np <= 4);
    assert_false(json_is_true(json_object_get(rep, "all_met")));
    assert_true(lufs < -3.5);
    /* the shortfall is the file's */
    assert_true(fabs(short_lu - (-3.0 - lufs)) < 0.01);
    char want[200];
    snprintf(want, sizeof want, "%.2f LU short of -3.0 LUFS: the limiter cannot make this "
             "master louder under its ", short_lu);
    assert_non_null(w);
    assert_true(strncmp(w, want, strlen(want)) == 0);
    /* the last pass raised the loudness by under 0.05 LU per dB of gain */
    json_t *pa = json_array_get(passes, np - 2), *pb = json_array_get(passes, np - 1);
    const double slope =
        (json_real_value(json_object_get(pb, "integrated_lufs")) -
         json_real_value(json_object_get(pa, "integrated_lufs"))) /
        (json_real_value(json_object_get(pb, "gain_db")) -
         json_real_value(json_object_get(pa, "gain_db")));
    assert_true(slope < 0.05);
    json_decref(rep);
    free(l);
    free(r);
}

/* Every shipped preset masters a generated mix to its own default targets, and every
 * export meets its target (report.json all_met). */
static void test_shipped_presets(void **state)
{
    (void)state;
    static const char *const presets[] = {"transparent", "gentle", "warm", "bright-air",
                                          "acoustic", "modern-loud", "speech"};
    int rate = 44100;
    size_t n = (size_t)(6.0 * rate);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    lqs_mix(l, r, n, rate, 29, 0.5); /* -6 dBFS peak: room for the linear transparent gain */
    char in[512];
    snprintf(in, sizeof in, "%s/album-track.wav", g_tmp);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(in, pl, 2, n, rate, SF_FORMAT_PCM_24), 0);
    for (size_t k = 0; k < sizeof presets / sizeof presets[0]; k++) {
        char err[1024], out[600], rp[700];
        lq_preset *p = NULL;
        if (lq_preset_load(&p, presets[k], lqt_preset_dir(), NULL, err, sizeof err))
            fail_msg("%s", err);
        const char *tn[8];
        size_t nt = lq_preset_target_count(p);
        for (size_t i = 0; i < nt && i < 8; i++) tn[i] = lq_preset_target_name(p, i);
        snprintf(out, sizeof out, "%s/out-preset-%s", g_tmp, presets[k]);
        run(in, presets[k], tn, nt, out);
        lq_preset_destroy(&p);
        snprintf(rp, sizeof rp, "%s/report.json", out);
        json_error_t jerr;
        json_t *rep = json_load_file(rp, 0, &jerr);
        assert_non_null(rep);
        json_t *exs = json_object_get(rep, "exports");
        for (size_t i = 0; i < json_array_size(exs); i++) {
            json_t *e = json_array_get(exs, i);
            json_t *m = json_object_get(e, "measured");
            printf("%-12s %-13s %8.2f LUFS %7.2f dBTP %s\n", presets[k],
                   json_string_value(json_object_get(e, "target")),
                   json_number_value(json_object_get(m, "integrated_lufs")),
                   json_number_value(json_object_get(m, "true_peak_dbtp")),
                   json_is_true(json_object_get(e, "met")) ? "met" : "NOT MET");
        }
        if (!json_is_true(json_object_get(rep, "all_met")))
            fail_msg("preset %s: a default target was not met", presets[k]);
        json_decref(rep);
        lqt_rmrf(out);
    }
    free(l);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loudness_streaming_targets),
        cmocka_unit_test(test_shipped_presets),
        cmocka_unit_test(test_ceiling_lossy),
        cmocka_unit_test(test_ceiling_pcm),
        cmocka_unit_test(test_unreachable_loudness),
        cmocka_unit_test(test_loss_model_passes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
