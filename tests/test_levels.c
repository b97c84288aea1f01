/* Issue 11: a level-independent master bus.  A generated mix bounced at -30, -22, -14
 * and -8 LUFS (32-bit float, as a DAW bounce: nothing clips) and mastered with every
 * shipped preset to a -14 LUFS WAV target comes out the same, whatever the bounce
 * level: loudness range within 0.2 LU, every octave band within 0.1 dB, and the sample-
 * wise difference after level alignment at least 40 dB below the signal.  With
 * master.input_lufs: null the thresholds are absolute again (the old behaviour): the
 * compressor's gain reduction follows the bounce level. */
#include <math.h>
#include <setjmp.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "lacquer/lacquer.h"
#include "lqtest.h"
#include "synth.h"

#define RATE 44100
#define SECONDS 15.0

static char *g_tmp;
static char g_target[600];

static const char *const presets[] = {"transparent", "gentle", "warm", "bright-air",
                                      "acoustic", "modern-loud", "speech"};
#define N_PRESETS (sizeof presets / sizeof presets[0])
static const double levels[] = {-30.0, -22.0, -14.0, -8.0};
#define N_LEVELS 4
#define REF_LEVEL 2 /* the -14 LUFS bounce is the reference */

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    snprintf(g_target, sizeof g_target, "%s/t14.yaml", g_tmp);
    return lqt_write_text(g_target, "lacquer: 1\nname: t14\ndescription: test\nformat: wav\n"
                          "bit_depth: 32f\nloudness_lufs: -14\ntrue_peak_dbtp: -1.0\n"
                          "filename: \"{title}-{target}.{ext}\"\n");
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

static double file_lufs(const char *path, double *lra)
{
    lq_analysis a;
    char err[512];
    if (lq_analyze_file(path, &a, err, sizeof err)) fail_msg("%s", err);
    if (lra) *lra = a.lra_lu;
    return a.integrated_lufs;
}

/* The dynamic-style mix, written as 32-bit float WAVs bounced at each level. */
static void write_bounces(char paths[N_LEVELS][600])
{
    size_t n = (size_t)(SECONDS * RATE);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    assert_non_null(l);
    assert_non_null(r);
    lqs_mix_style(l, r, n, RATE, 41, LQS_STYLE_DYNAMIC);
    char unit[600];
    snprintf(unit, sizeof unit, "%s/unit.wav", g_tmp);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(unit, pl, 2, n, RATE, SF_FORMAT_FLOAT), 0);
    double l0 = file_lufs(unit, NULL);
    double *sl = malloc(n * sizeof *sl), *sr = malloc(n * sizeof *sr);
    assert_non_null(sl);
    assert_non_null(sr);
    for (int k = 0; k < N_LEVELS; k++) {
        double g = pow(10.0, (levels[k] - l0) / 20.0);
        for (size_t i = 0; i < n; i++) {
            sl[i] = l[i] * g;
            sr[i] = r[i] * g;
        }
        char dir[600];
        snprintf(dir, sizeof dir, "%s/b%d", g_tmp, k);
        assert_int_equal(mkdir(dir, 0777), 0);
        snprintf(paths[k], 600, "%s/mix.wav", dir);
        const double *sp[2] = {sl, sr};
        assert_int_equal(lqt_write_wav(paths[k], sp, 2, n, RATE, SF_FORMAT_FLOAT), 0);
        double got = file_lufs(paths[k], NULL);
        assert_true(fabs(got - levels[k]) < 0.01);
    }
    free(l);
    free(r);
    free(sl);
    free(sr);
}

typedef struct export_fig {
    double *x;          /* channel-major, 2 channels */
    size_t n;
    double lufs, lra, oct[LQT_N_OCTAVES];
} export_fig;

static void read_export(const char *outdir, export_fig *f)
{
    char path[800];
    snprintf(path, sizeof path, "%s/mix-t14.wav", outdir);
    int ch, rate;
    f->x = lqt_read_planar(path, &ch, &f->n, &rate);
    assert_non_null(f->x);
    assert_int_equal(ch, 2);
    f->lufs = file_lufs(path, &f->lra);
    lqt_octave_db(f->x, 2, f->n, rate, f->oct);
}

/* 20*log10(rms(a - g b) / rms(a)) with g the least-squares level alignment. */
static double aligned_diff_db(const export_fig *a, const export_fig *b)
{
    double ab = 0, bb = 0, aa = 0, rr = 0;
    size_t m = 2 * a->n;
    for (size_t i = 0; i < m; i++) {
        ab += a->x[i] * b->x[i];
        bb += b->x[i] * b->x[i];
        aa += a->x[i] * a->x[i];
    }
    double g = ab / bb;
    for (size_t i = 0; i < m; i++) {
        double d = a->x[i] - g * b->x[i];
        rr += d * d;
    }
    return 10.0 * log10(rr / aa);
}

static json_t *load_report(const char *outdir)
{
    char rp[800];
    snprintf(rp, sizeof rp, "%s/report.json", outdir);
    json_error_t jerr;
    json_t *rep = json_load_file(rp, 0, &jerr);
    if (!rep) fail_msg("%s: %s", rp, jerr.text);
    return rep;
}

/* Mean gain reduction of band k of the first multiband stage in a report. */
static double mb_mean_gr(json_t *rep, size_t k)
{
    json_t *st = json_object_get(json_object_get(rep, "master"), "stages");
    size_t i;
    json_t *o;
    json_array_foreach(st, i, o) {
        if (strcmp(json_string_value(json_object_get(o, "stage")), "multiband") != 0) continue;
        return json_number_value(json_object_get(json_array_get(json_object_get(o, "bands"), k),
                                                 "mean_gr_db"));
    }
    fail_msg("no multiband stage in the report");
    return 0;
}

static void test_same_master_at_any_bounce_level(void **state)
{
    (void)state;
    char in[N_LEVELS][600];
    write_bounces(in);
    printf("%-12s %7s %8s %8s %9s %9s %9s\n", "preset", "bounce", "LUFS", "LRA", "dLRA",
           "max dBand", "diff dB");
    for (size_t p = 0; p < N_PRESETS; p++) {
        export_fig f[N_LEVELS];
        for (int k = 0; k < N_LEVELS; k++) {
            char out[700];
            snprintf(out, sizeof out, "%s/b%d/out-%s", g_tmp, k, presets[p]);
            if (lqt_master_set(in[k], presets[p], NULL, 0, g_target, out))
                fail_msg("mastering %s with %s failed", in[k], presets[p]);
            read_export(out, &f[k]);
            /* the report states the staging: measured input, reference, gain */
            json_t *rep = load_report(out);
            json_t *sg = json_object_get(json_object_get(rep, "master"), "input_staging");
            assert_non_null(sg);
            int identity = strcmp(presets[p], "transparent") == 0;
            assert_int_equal(json_is_true(json_object_get(sg, "applied")), !identity);
            if (!identity) {
                assert_true(fabs(json_number_value(json_object_get(sg, "input_lufs")) -
                                 levels[k]) < 0.01);
                assert_true(fabs(json_number_value(json_object_get(sg, "gain_db")) -
                                 (-18.0 - levels[k])) < 0.01);
                assert_true(fabs(json_number_value(json_object_get(sg, "reference_lufs")) + 18.0) <
                            1e-9);
            }
            json_decref(rep);
        }
        for (int k = 0; k < N_LEVELS; k++) {
            double dband = 0;
            for (int b = 0; b < LQT_N_OCTAVES; b++)
                dband = fmax(dband, fabs((f[k].oct[b] - f[k].lufs) -
                                         (f[REF_LEVEL].oct[b] - f[REF_LEVEL].lufs)));
            double diff = k == REF_LEVEL ? -INFINITY : aligned_diff_db(&f[k], &f[REF_LEVEL]);
            printf("%-12s %7.1f %8.3f %8.3f %+9.3f %9.4f %9.1f\n", presets[p], levels[k],
                   f[k].lufs, f[k].lra, f[k].lra - f[REF_LEVEL].lra, dband, diff);
            assert_true(fabs(f[k].lra - f[REF_LEVEL].lra) <= 0.2);
            assert_true(dband <= 0.1);
            if (k != REF_LEVEL) assert_true(diff <= -40.0);
        }
        for (int k = 0; k < N_LEVELS; k++) free(f[k].x);
    }
}

/* input_lufs: null keeps the absolute thresholds: the compressor works harder on a
 * louder bounce, and the exports differ.  With the staging, the same work at any
 * level. */
static void test_null_input_lufs_keeps_absolute_thresholds(void **state)
{
    (void)state;
    char in[N_LEVELS][600];
    for (int k = 0; k < N_LEVELS; k++) snprintf(in[k], 600, "%s/b%d/mix.wav", g_tmp, k);
    if (!lqt_exists(in[0])) write_bounces(in);
    static const char *const set_null[] = {"master.input_lufs=null"};
    static const char *const set_22[] = {"master.input_lufs=-22"};
    double gr_null[2][4], gr_staged[2][4], gr_22[4];
    const int lv[2] = {0, 3}; /* -30 and -8 LUFS bounces */
    for (int i = 0; i < 2; i++) {
        char out[700];
        snprintf(out, sizeof out, "%s/b%d/out-null", g_tmp, lv[i]);
        assert_int_equal(lqt_master_set(in[lv[i]], "modern-loud", set_null, 1, g_target, out), 0);
        json_t *rep = load_report(out);
        json_t *sg = json_object_get(json_object_get(rep, "master"), "input_staging");
        assert_false(json_is_true(json_object_get(sg, "applied")));
        assert_true(json_is_null(json_object_get(sg, "reference_lufs")));
        for (size_t b = 0; b < 4; b++) gr_null[i][b] = mb_mean_gr(rep, b);
        json_decref(rep);
        snprintf(out, sizeof out, "%s/b%d/out-modern-loud", g_tmp, lv[i]);
        if (!lqt_exists(out))
            assert_int_equal(lqt_master_set(in[lv[i]], "modern-loud", NULL, 0, g_target, out), 0);
        rep = load_report(out);
        for (size_t b = 0; b < 4; b++) gr_staged[i][b] = mb_mean_gr(rep, b);
        json_decref(rep);
    }
    /* another reference level (--set master.input_lufs=-22) */
    char out[700];
    snprintf(out, sizeof out, "%s/b0/out-22", g_tmp);
    assert_int_equal(lqt_master_set(in[0], "modern-loud", set_22, 1, g_target, out), 0);
    json_t *rep = load_report(out);
    for (size_t b = 0; b < 4; b++) gr_22[b] = mb_mean_gr(rep, b);
    assert_true(fabs(json_number_value(json_object_get(
                    json_object_get(json_object_get(rep, "master"), "input_staging"),
                    "gain_db")) - 8.0) < 0.01);
    json_decref(rep);
    printf("modern-loud multiband mean gain reduction per band (dB):\n");
    for (size_t b = 0; b < 4; b++) {
        printf("  band %zu: null: %.2f at -30, %.2f at -8 LUFS; staged -18: %.2f / %.2f; "
               "staged -22 (from -30): %.2f\n", b, gr_null[0][b], gr_null[1][b],
               gr_staged[0][b], gr_staged[1][b], gr_22[b]);
        assert_true(fabs(gr_staged[0][b] - gr_staged[1][b]) < 0.05);
    }
    /* absolute thresholds: the -30 LUFS bounce barely touches the compressor, the -8
     * LUFS one drives it hard */
    double sum_lo = 0, sum_hi = 0, sum_st = 0, sum_22 = 0;
    for (size_t b = 0; b < 4; b++) {
        sum_lo += gr_null[0][b];
        sum_hi += gr_null[1][b];
        sum_st += gr_staged[0][b];
        sum_22 += gr_22[b];
    }
    assert_true(sum_lo < 0.5 * sum_st);
    assert_true(sum_hi > sum_st + 2.0);
    /* a -22 LUFS reference: the stages see the mix 4 dB lower than at -18, and work less */
    assert_true(sum_22 < 0.7 * sum_st);
    /* and the old behaviour's exports differ with the bounce level */
    export_fig fn[2];
    for (int i = 0; i < 2; i++) {
        snprintf(out, sizeof out, "%s/b%d/out-null", g_tmp, lv[i]);
        read_export(out, &fn[i]);
    }
    double diff = aligned_diff_db(&fn[0], &fn[1]);
    printf("input_lufs: null, -30 vs -8 LUFS bounce: LRA %.2f vs %.2f LU, difference %.1f dB\n",
           fn[0].lra, fn[1].lra, diff);
    assert_true(fabs(fn[0].lra - fn[1].lra) > 0.5);
    assert_true(diff > -40.0);
    free(fn[0].x);
    free(fn[1].x);
}

/* A silent mix, and one shorter than a 400 ms gating block, have no integrated
 * loudness: no staging gain (the report says so), and nothing fails. */
static void test_no_loudness_no_staging(void **state)
{
    (void)state;
    static const double secs[] = {2.0, 0.3};
    for (int k = 0; k < 2; k++) {
        size_t n = (size_t)(secs[k] * RATE);
        double *l = calloc(n, sizeof *l), *r = calloc(n, sizeof *r);
        assert_non_null(l);
        assert_non_null(r);
        if (k == 1) {
            lqs_pink(l, n, 0.1, 5);
            lqs_pink(r, n, 0.1, 6);
        }
        char dir[600], in[700], out[700];
        snprintf(dir, sizeof dir, "%s/quiet%d", g_tmp, k);
        assert_int_equal(mkdir(dir, 0777), 0);
        snprintf(in, sizeof in, "%s/mix.wav", dir);
        snprintf(out, sizeof out, "%s/out", dir);
        const double *pl[2] = {l, r};
        assert_int_equal(lqt_write_wav(in, pl, 2, n, RATE, SF_FORMAT_FLOAT), 0);
        assert_int_equal(lqt_master_set(in, "gentle", NULL, 0, g_target, out), 0);
        json_t *rep = load_report(out);
        json_t *sg = json_object_get(json_object_get(rep, "master"), "input_staging");
        assert_false(json_is_true(json_object_get(sg, "applied")));
        assert_true(json_is_null(json_object_get(sg, "input_lufs")));
        assert_true(json_number_value(json_object_get(sg, "gain_db")) == 0.0);
        assert_true(json_number_value(json_object_get(sg, "reference_lufs")) == -18.0);
        json_decref(rep);
        char rt[800];
        snprintf(rt, sizeof rt, "%s/report.txt", out);
        FILE *f = fopen(rt, "r");
        assert_non_null(f);
        char line[512];
        int seen = 0;
        while (fgets(line, sizeof line, f))
            if (strcmp(line, "Staging none: the mix has no integrated loudness (-inf LUFS: "
                             "silent or too short)\n") == 0)
                seen = 1;
        fclose(f);
        assert_true(seen);
        free(l);
        free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_master_at_any_bounce_level),
        cmocka_unit_test(test_null_input_lufs_keeps_absolute_thresholds),
        cmocka_unit_test(test_no_loudness_no_staging),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
