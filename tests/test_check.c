/* The mix check (engine/check.c, `lacquer check`): each finding is raised by a
 * generated mix with that problem and by no other rule of the clean generated mix; the
 * rules file is strict and overridable; the command's verdict and exit codes. */
#include <jansson.h>
#include <math.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/check.h"
#include "lacquer/lacquer.h"
#include "lqtest.h"
#include "synth/synth.h"

static char *g_tmp;
enum { RATE = 48000, SECONDS = 5 };

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

typedef enum {
    CLEAN, CLIPPED, HOT, CRUSHED, DC, LOW_PHASE, INVERTED, LOPSIDED, SUB, HARSH, BITS16,
    PADDED, QUIET
} problem;

/* The generated mix (peak 0.5, float) with one problem; writes it and returns the path. */
static const char *make_mix(problem k, char *path, size_t len)
{
    size_t head = k == PADDED ? RATE : 0, n = head + (size_t)SECONDS * RATE;
    double *l = calloc(n, sizeof *l), *r = calloc(n, sizeof *r), *w = calloc(n, sizeof *w);
    assert_true(l && r && w);
    lqs_mix(l + head, r + head, n - head, RATE, 11, k == HOT ? 0.9995 : k == QUIET ? 0.005 : 0.5);
    lqs_white(w, n, 0.15, 12);
    int subtype = SF_FORMAT_FLOAT;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / RATE;
        switch (k) {
        case CLIPPED: /* driven 12 dB into hard clipping */
            l[i] = fmax(-1.0, fmin(1.0, 4.0 * l[i]));
            r[i] = fmax(-1.0, fmin(1.0, 4.0 * r[i]));
            break;
        case CRUSHED: /* saturated to a brick */
            l[i] = 0.7 * tanh(20.0 * l[i]);
            r[i] = 0.7 * tanh(20.0 * r[i]);
            break;
        case DC: l[i] += 0.01, r[i] += 0.01; break;
        case LOW_PHASE: { /* a 55 Hz bass in opposite polarity on the two sides */
            double b = 0.3 * sin(2 * M_PI * 55.0 * t);
            l[i] = 0.5 * l[i] + b;
            r[i] = 0.5 * r[i] - b;
            break;
        }
        case INVERTED: r[i] = -l[i]; break;
        case LOPSIDED: r[i] *= 0.6; break;
        case SUB: { /* a loud 35 Hz drone */
            double b = 0.35 * sin(2 * M_PI * 35.0 * t);
            l[i] = 0.5 * l[i] + b;
            r[i] = 0.5 * r[i] + b;
            break;
        }
        case HARSH: /* hiss: white noise rises 3 dB/oct into the top */
            l[i] = 0.5 * l[i] + w[i];
            r[i] = 0.5 * r[i] + w[i];
            break;
        case BITS16: /* 16-bit audio in a 24-bit file */
            l[i] = round(l[i] * 32768.0) / 32768.0;
            r[i] = round(r[i] * 32768.0) / 32768.0;
            subtype = SF_FORMAT_PCM_24;
            break;
        default: break;
        }
    }
    snprintf(path, len, "%s/mix-%d.wav", g_tmp, (int)k);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(path, pl, 2, n, RATE, subtype), 0);
    free(l);
    free(r);
    free(w);
    return path;
}

/* Findings of the default rules on mix k; returns how many, prints them. */
static size_t check_mix(problem k, lq_finding *f, lq_analysis *a)
{
    char path[512];
    make_mix(k, path, sizeof path);
    char err[512];
    assert_int_equal(lq_analyze_file(path, a, err, sizeof err), LQ_OK);
    size_t n = lq_check_analysis(a, NULL, f, LQ_CHECK_MAX_FINDINGS);
    for (size_t i = 0; i < n; i++)
        printf("  mix %d: [%s] %s (%.3g vs %.3g %s)\n", (int)k, f[i].id, f[i].message,
               f[i].measured, f[i].threshold, f[i].unit);
    return n;
}

/* The mix with problem k raises rule `id` with a message containing `text`. */
static void expect_finding(problem k, const char *id, const char *text)
{
    lq_finding f[LQ_CHECK_MAX_FINDINGS];
    lq_analysis a;
    size_t n = check_mix(k, f, &a);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].id, id)) {
            if (!strstr(f[i].message, text))
                fail_msg("[%s] \"%s\" lacks \"%s\"", id, f[i].message, text);
            assert_true(f[i].why[0] && f[i].fix[0]);
            return;
        }
    fail_msg("mix %d: no [%s] finding (harshness %.1f dB)", (int)k, id, a.harshness_db);
}

static void test_clean_mix_is_ready(void **state)
{
    (void)state;
    lq_finding f[LQ_CHECK_MAX_FINDINGS];
    lq_analysis a;
    size_t n = check_mix(CLEAN, f, &a);
    assert_float_equal(a.head_silence_ms, 1.0, 0.5);
    printf("clean: PLR %.1f PSR %.1f sub %.1f harsh %.1f mono %.2f side %.2f bal %.2f "
           "head %.0f tail %.0f bits %d\n", a.plr_db, a.psr_min_db, a.sub_bass_db,
           a.harshness_db, a.mono_loss_db, a.low_side_ratio, a.balance_db,
           a.head_silence_ms, a.tail_silence_ms, a.effective_bits);
    assert_int_equal(n, 0);
}

static void test_clipping(void **s) { (void)s; expect_finding(CLIPPED, "clipping", "the mix clips: "); }
static void test_no_headroom(void **s) { (void)s; expect_finding(HOT, "headroom", "no headroom"); }
static void test_over_compressed(void **s)
{
    (void)s;
    expect_finding(CRUSHED, "over_compressed", "already heavily limited");
}
static void test_dc_offset(void **s) { (void)s; expect_finding(DC, "dc_offset", "DC offset on channel"); }
static void test_low_end_phase(void **s)
{
    (void)s;
    expect_finding(LOW_PHASE, "low_end_phase", "below 120 Hz the channels are mostly out of phase");
}
static void test_mono_incompatible(void **s) { (void)s; expect_finding(INVERTED, "mono", "out of phase"); }
static void test_lopsided(void **s) { (void)s; expect_finding(LOPSIDED, "balance", "leans left by 4."); }
static void test_sub_bass(void **s) { (void)s; expect_finding(SUB, "sub_bass", "excessive sub-bass"); }
static void test_harsh_top(void **s) { (void)s; expect_finding(HARSH, "harsh", "harsh top"); }
static void test_16bit_source(void **s)
{
    (void)s;
    expect_finding(BITS16, "bit_depth", "16-bit source padded to 24");
}
static void test_silence_padding(void **s)
{
    (void)s;
    /* the generated mix's own first sound comes 1 ms in (test_clean_mix_is_ready) */
    expect_finding(PADDED, "silence", "silence padding: 1001 ms before the first sound");
}
static void test_too_quiet(void **s) { (void)s; expect_finding(QUIET, "loudness", "too quiet to master"); }

/* The built-in defaults are the shipped rules file; a user file overrides a value or
 * turns a rule off; errors name FILE:LINE:COL and the key. */
static void test_rules_file(void **state)
{
    (void)state;
    char shipped[512];
    snprintf(shipped, sizeof shipped, "%s/rules/check.yaml", lqt_preset_dir());
    lq_check_rules def, file;
    lq_diag d = {{0}};
    lq_check_rules_defaults(&def);
    assert_int_equal(lq_check_rules_read(&file, shipped, &d), LQ_OK);
    assert_true(lq_check_rules_equal(&def, &file));

    char path[512];
    snprintf(path, sizeof path, "%s/rules.yaml", g_tmp);
    assert_int_equal(lqt_write_text(path, "lacquer: 1\nclipping: {enabled: false}\n"
                                          "balance:\n  max_db: 6\n"), 0);
    lq_check_rules *r = NULL;
    char err[512];
    assert_int_equal(lq_check_rules_load(&r, path, err, sizeof err), LQ_OK);
    lq_analysis a;
    char mix[512];
    make_mix(CLIPPED, mix, sizeof mix);
    assert_int_equal(lq_analyze_file(mix, &a, err, sizeof err), LQ_OK);
    lq_finding f[LQ_CHECK_MAX_FINDINGS];
    size_t n = lq_check_analysis(&a, r, f, LQ_CHECK_MAX_FINDINGS);
    for (size_t i = 0; i < n; i++) assert_string_not_equal(f[i].id, "clipping");
    a.balance_db = 4.0; /* over the default 1.5, under the file's 6 */
    a.low_end_balance_db = 0.0;
    n = lq_check_analysis(&a, r, f, LQ_CHECK_MAX_FINDINGS);
    for (size_t i = 0; i < n; i++) assert_string_not_equal(f[i].id, "balance");
    size_t nd = lq_check_analysis(&a, NULL, f, LQ_CHECK_MAX_FINDINGS);
    int found = 0;
    for (size_t i = 0; i < nd; i++) found |= !strcmp(f[i].id, "balance");
    assert_true(found);
    lq_check_rules_destroy(&r);
    assert_null(r);

    assert_int_equal(lqt_write_text(path, "lacquer: 1\nmono:\n  max_loss_db: 3\n  colour: 2\n"), 0);
    assert_int_equal(lq_check_rules_load(&r, path, err, sizeof err), LQ_ERR_PRESET);
    printf("%s\n", err);
    char want[700];
    snprintf(want, sizeof want, "%s:4:3: mono: unknown key \"colour\"", path);
    assert_memory_equal(err, want, strlen(want));
    assert_int_equal(lqt_write_text(path, "lacquer: 1\nsilence: {max_head_ms: -5}\n"), 0);
    assert_int_equal(lq_check_rules_load(&r, path, err, sizeof err), LQ_ERR_PRESET);
    printf("%s\n", err);
    snprintf(want, sizeof want, "%s:2:", path);
    assert_memory_equal(err, want, strlen(want));
    assert_non_null(strstr(err, "silence.max_head_ms"));
}

/* `lacquer check`: exit 0 and "ready for mastering", exit 7 and the findings; --json;
 * --rules; a bad rules file is exit 4 with one line. */
static void test_cli(void **state)
{
    (void)state;
    char clean[512], clipped[512], rules[512];
    make_mix(CLEAN, clean, sizeof clean);
    make_mix(CLIPPED, clipped, sizeof clipped);
    char *out = NULL, *err = NULL;
    const char *a1[] = {LQ_CLI_PATH, "check", clean, NULL};
    assert_int_equal(lqt_run(a1, &out, &err), 0);
    assert_non_null(strstr(out, "ready for mastering"));
    free(out);
    free(err);
    const char *a2[] = {LQ_CLI_PATH, "check", clipped, NULL};
    assert_int_equal(lqt_run(a2, &out, &err), 7);
    assert_non_null(strstr(out, "needs attention in the mix"));
    assert_non_null(strstr(out, "the mix clips"));
    assert_non_null(strstr(out, "fix: bounce the mix again 3 dB lower"));
    free(out);
    free(err);
    const char *a3[] = {LQ_CLI_PATH, "check", "--json", clipped, NULL};
    assert_int_equal(lqt_run(a3, &out, &err), 7);
    assert_non_null(strstr(out, "\"verdict\": \"needs_attention\""));
    assert_non_null(strstr(out, "\"id\": \"clipping\""));
    free(out);
    free(err);
    snprintf(rules, sizeof rules, "%s/off.yaml", g_tmp);
    assert_int_equal(lqt_write_text(rules, "lacquer: 1\nclipping: {enabled: false}\n"
                                           "over_compressed: {enabled: false}\n"
                                           "headroom: {enabled: false}\n"), 0);
    const char *a4[] = {LQ_CLI_PATH, "check", clipped, "--rules", rules, NULL};
    int rc = lqt_run(a4, &out, &err);
    printf("%s", out);
    assert_int_equal(rc, 0);
    free(out);
    free(err);
    assert_int_equal(lqt_write_text(rules, "lacquer: 2\n"), 0);
    assert_int_equal(lqt_run(a4, &out, &err), 4);
    char want[700];
    snprintf(want, sizeof want, "lacquer: %s:1:10: lacquer: version 2 is not supported "
                                "(expected 1, the version this build reads)\n", rules);
    assert_string_equal(err, want);
    assert_string_equal(out, "");
    free(out);
    free(err);
}

/* master puts the same findings at the top of its reports, with --rules too */
static void test_master_findings(void **state)
{
    (void)state;
    char clipped[512], rules[512], out[600], rp[700];
    make_mix(CLIPPED, clipped, sizeof clipped);
    snprintf(rules, sizeof rules, "%s/master-rules.yaml", g_tmp);
    assert_int_equal(lqt_write_text(rules, "lacquer: 1\nclipping: {enabled: false}\n"
                                           "over_compressed: {enabled: false}\n"
                                           "headroom: {enabled: false}\n"), 0);
    for (int k = 0; k < 3; k++) {
        snprintf(out, sizeof out, "%s/master-%d", g_tmp, k);
        const char *argv[] = {LQ_CLI_PATH, "master", clipped, "--preset", "transparent",
                              "--target", "flac-archive", "--out", out, "--quiet",
                              "--no-html", k ? "--rules" : NULL, k == 1 ? rules : "nope.yaml",
                              NULL};
        int rc = lqt_run(argv, NULL, NULL);
        snprintf(rp, sizeof rp, "%s/report.json", out);
        if (k == 2) { /* a rules file that cannot be read: exit 4, nothing written */
            assert_int_equal(rc, 4);
            assert_false(lqt_exists(out));
            continue;
        }
        assert_int_equal(rc, 0);
        json_error_t jerr;
        json_t *rep = json_load_file(rp, JSON_PRESERVE_ORDER, &jerr);
        assert_non_null(rep);
        /* the check comes first after the version block */
        assert_string_equal(json_object_iter_key(json_object_iter_next(rep,
                                json_object_iter(rep))), "check");
        json_t *ck = json_object_get(rep, "check");
        const char *verdict = json_string_value(json_object_get(ck, "verdict"));
        json_t *fa = json_object_get(ck, "findings");
        json_t *mw = json_object_get(rep, "mix_warnings");
        assert_int_equal(json_array_size(fa), json_array_size(mw));
        if (k == 0) {
            assert_string_equal(verdict, "needs_attention");
            assert_string_equal(json_string_value(json_object_get(json_array_get(fa, 0), "id")),
                                "clipping");
            assert_non_null(strstr(json_string_value(json_array_get(mw, 0)), "the mix clips"));
        } else {
            assert_string_equal(verdict, "ready");
        }
        json_decref(rep);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_mix_is_ready),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_no_headroom),
        cmocka_unit_test(test_over_compressed),
        cmocka_unit_test(test_dc_offset),
        cmocka_unit_test(test_low_end_phase),
        cmocka_unit_test(test_mono_incompatible),
        cmocka_unit_test(test_lopsided),
        cmocka_unit_test(test_sub_bass),
        cmocka_unit_test(test_harsh_top),
        cmocka_unit_test(test_16bit_source),
        cmocka_unit_test(test_silence_padding),
        cmocka_unit_test(test_too_quiet),
        cmocka_unit_test(test_rules_file),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_master_findings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
