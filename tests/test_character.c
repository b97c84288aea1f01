/* Issue 11: every shipped preset's documented character (`character:` in the preset
 * file, the table in docs/PRESETS.md) is what it does.  Generated mixes of four styles
 * (lqs_mix_style: dense, sparse, dynamic, bass-heavy), bounced at -18 LUFS as 32-bit
 * float, are mastered with each preset to a -14 LUFS, -1 dBTP WAV; measured: the
 * loudness-range change (export LRA - mix LRA, libebur128), the export's PLR (16x true
 * peak - integrated loudness) and the tonal change per octave band (each octave's level
 * relative to the integrated loudness, export minus mix, mean over the styles).  Every
 * figure must match the file within 0.1; the test prints the `character:` block to copy
 * when a preset is retuned.  And the names are true: transparent changes nothing,
 * gentle takes at most about 1 LU from the dynamic mix, modern-loud takes the most range
 * of the music presets. */
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

#include "config/preset.h"
#include "lacquer/lacquer.h"
#include "lqtest.h"
#include "synth.h"

#define RATE 44100
#define SECONDS 20.0
#define TOL 0.1

static char *g_tmp;
static char g_target[600];

static const char *const presets[] = {"transparent", "gentle", "warm", "bright-air",
                                      "acoustic", "modern-loud", "speech"};
#define N_PRESETS (sizeof presets / sizeof presets[0])
#define ML 5 /* modern-loud */

/* One decimal, without "-0.0". */
static double r1(double v)
{
    return round(v * 10.0) / 10.0 + 0.0;
}

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

typedef struct fig {
    double lufs, lra, tp, oct[LQT_N_OCTAVES];
} fig;

static void measure(const char *path, fig *f)
{
    lq_analysis a;
    char err[512];
    if (lq_analyze_file(path, &a, err, sizeof err)) fail_msg("%s", err);
    f->lufs = a.integrated_lufs;
    f->lra = a.lra_lu;
    f->tp = a.true_peak_16x_dbtp;
    int ch, rate;
    size_t n;
    double *x = lqt_read_planar(path, &ch, &n, &rate);
    assert_non_null(x);
    lqt_octave_db(x, ch, n, rate, f->oct);
    free(x);
}

static void test_presets_do_what_their_character_says(void **state)
{
    (void)state;
    assert_int_equal(LQT_N_OCTAVES, LQ_CHAR_OCTAVES);
    assert_int_equal(LQS_STYLE_COUNT, LQ_CHAR_STYLES);
    size_t n = (size_t)(SECONDS * RATE);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    assert_non_null(l);
    assert_non_null(r);
    char in[LQS_STYLE_COUNT][600];
    fig mix[LQS_STYLE_COUNT];
    for (int s = 0; s < LQS_STYLE_COUNT; s++) {
        assert_string_equal(lqs_style_names[s], lq_char_style_names[s]);
        lqs_mix_style(l, r, n, RATE, 53, s);
        snprintf(in[s], 600, "%s/%s.wav", g_tmp, lqs_style_names[s]);
        const double *pl[2] = {l, r};
        assert_int_equal(lqt_write_wav(in[s], pl, 2, n, RATE, SF_FORMAT_FLOAT), 0);
        measure(in[s], &mix[s]);
        double g = pow(10.0, (-18.0 - mix[s].lufs) / 20.0);
        for (size_t i = 0; i < n; i++) {
            l[i] *= g;
            r[i] *= g;
        }
        assert_int_equal(lqt_write_wav(in[s], pl, 2, n, RATE, SF_FORMAT_FLOAT), 0);
        measure(in[s], &mix[s]);
        printf("mix %-10s %7.2f LUFS, LRA %5.2f LU, PLR %5.2f dB\n", lqs_style_names[s],
               mix[s].lufs, mix[s].lra, mix[s].tp - mix[s].lufs);
    }
    free(l);
    free(r);

    double plr[N_PRESETS][LQS_STYLE_COUNT], dlra_all[N_PRESETS][LQS_STYLE_COUNT];
    int failed = 0;
    for (size_t p = 0; p < N_PRESETS; p++) {
        double dlra[LQS_STYLE_COUNT], tone[LQT_N_OCTAVES] = {0};
        for (int s = 0; s < LQS_STYLE_COUNT; s++) {
            char out[700], ex[800];
            snprintf(out, sizeof out, "%s/out-%s-%s", g_tmp, presets[p], lqs_style_names[s]);
            if (lqt_master_set(in[s], presets[p], NULL, 0, g_target, out))
                fail_msg("mastering %s with %s failed", in[s], presets[p]);
            snprintf(ex, sizeof ex, "%s/%s-t14.wav", out, lqs_style_names[s]);
            fig f;
            measure(ex, &f);
            dlra[s] = dlra_all[p][s] = f.lra - mix[s].lra;
            plr[p][s] = f.tp - f.lufs;
            printf("  %-12s %-10s tone", presets[p], lqs_style_names[s]);
            for (int b = 0; b < LQT_N_OCTAVES; b++) {
                double t = (f.oct[b] - f.lufs) - (mix[s].oct[b] - mix[s].lufs);
                tone[b] += t / LQS_STYLE_COUNT;
                printf(" %+5.1f", r1(t));
            }
            printf("\n");
        }
        /* the block to paste into presets/NAME.yaml */
        printf("# %s\ncharacter:\n  lra_change_lu: {", presets[p]);
        for (int s = 0; s < LQS_STYLE_COUNT; s++)
            printf("%s%s: %.1f", s ? ", " : "", lqs_style_names[s], r1(dlra[s]));
        printf("}\n  plr_db: {");
        for (int s = 0; s < LQS_STYLE_COUNT; s++)
            printf("%s%s: %.1f", s ? ", " : "", lqs_style_names[s], r1(plr[p][s]));
        printf("}\n  tone_db: [");
        for (int b = 0; b < LQT_N_OCTAVES; b++) printf("%s%.1f", b ? ", " : "", r1(tone[b]));
        printf("]\n");
        printf("| %s |", presets[p]);
        for (int s = 0; s < LQS_STYLE_COUNT; s++) printf(" %+.1f / %.1f |", r1(dlra[s]), r1(plr[p][s]));
        for (int b = 0; b < LQT_N_OCTAVES; b++) printf(" %+.1f", r1(tone[b]));
        printf(" |\n");

        /* the file says so */
        char err[1024];
        lq_preset *pr = NULL;
        if (lq_preset_load(&pr, presets[p], lqt_preset_dir(), NULL, err, sizeof err))
            fail_msg("%s", err);
        const lq_preset_character *ch = &pr->character;
        if (!ch->present) {
            printf("  ! %s: no character: in the preset file\n", presets[p]);
            failed = 1;
        } else {
            for (int s = 0; s < LQS_STYLE_COUNT; s++) {
                if (fabs(ch->lra_change_lu[s] - dlra[s]) > TOL ||
                    fabs(ch->plr_db[s] - plr[p][s]) > TOL) {
                    printf("  ! %s on %s: LRA change %.2f (file %.1f), PLR %.2f (file %.1f)\n",
                           presets[p], lqs_style_names[s], dlra[s], ch->lra_change_lu[s],
                           plr[p][s], ch->plr_db[s]);
                    failed = 1;
                }
            }
            for (int b = 0; b < LQT_N_OCTAVES; b++)
                if (fabs(ch->tone_db[b] - tone[b]) > TOL) {
                    printf("  ! %s: octave %g Hz %.2f dB (file %.1f)\n", presets[p],
                           lqt_octave_hz[b], tone[b], ch->tone_db[b]);
                    failed = 1;
                }
        }
        lq_preset_destroy(&pr);

        /* the names are true */
        if (strcmp(presets[p], "transparent") == 0) {
            for (int s = 0; s < LQS_STYLE_COUNT; s++) assert_true(fabs(dlra[s]) <= 0.05);
            for (int b = 0; b < LQT_N_OCTAVES; b++) assert_true(fabs(tone[b]) <= 0.05);
        }
        /* each summary line (presets/NAME.yaml character.summary, docs/PRESETS.md) holds */
        if (strcmp(presets[p], "gentle") == 0) {
            /* "under 1 LU from a dynamic mix, a touch brighter (+1 dB at 2-4 kHz) and
             * less sub" */
            assert_true(dlra[LQS_STYLE_DYNAMIC] >= -1.0);
            assert_true(tone[6] >= 0.5 && tone[6] <= 1.5 && tone[7] >= 0.5 && tone[7] <= 1.5);
            assert_true(tone[0] <= -0.3);
        }
        if (strcmp(presets[p], "warm") == 0) {
            /* "fuller lows, a softer top (-2.5 to -3 dB above 4 kHz); the range is the
             * mix's" */
            assert_true(tone[0] >= 0.5 && tone[1] >= 0.5);
            for (int b = 7; b < LQT_N_OCTAVES; b++) assert_true(tone[b] <= -2.0 && tone[b] >= -3.5);
            for (int s = 0; s < LQS_STYLE_COUNT; s++) assert_true(fabs(dlra[s]) <= 0.5);
        }
        if (strcmp(presets[p], "bright-air") == 0) {
            /* "more air (+1.5 dB at 8 kHz, +2.5 dB at 16 kHz); the range is the mix's" */
            assert_true(tone[8] >= 1.0 && tone[9] >= 2.0);
            for (int b = 0; b < 5; b++) assert_true(fabs(tone[b]) <= 0.5);
            for (int s = 0; s < LQS_STYLE_COUNT; s++) assert_true(fabs(dlra[s]) <= 0.5);
        }
        if (strcmp(presets[p], "acoustic") == 0) {
            /* "under 1 LU from a dynamic mix, the tone untouched (within 0.3 dB)" */
            assert_true(dlra[LQS_STYLE_DYNAMIC] >= -1.0);
            for (int b = 0; b < LQT_N_OCTAVES; b++) assert_true(fabs(tone[b]) <= 0.35);
        }
        if (strcmp(presets[p], "speech") == 0) {
            /* "a voice leveller: 4.5-6.5 LU less range from dynamic material, everything
             * under 125 Hz cut hard, presence lifted" */
            assert_true(dlra[LQS_STYLE_DYNAMIC] <= -4.5 && dlra[LQS_STYLE_BASS] <= -4.5);
            assert_true(tone[0] <= -12.0 && tone[1] <= -10.0);
            assert_true(tone[6] >= 3.0 && tone[7] >= 3.0);
        }
        if (p == ML) {
            /* "takes 3 LU from a dynamic mix and 4.5 LU from a bass-heavy one, more sub
             * and presence" */
            assert_true(dlra[LQS_STYLE_DYNAMIC] <= -2.5 && dlra[LQS_STYLE_BASS] <= -4.0);
            assert_true(tone[0] >= 1.0 && tone[5] >= 1.0 && tone[6] >= 1.0);
        }
    }
    /* modern-loud takes the most range of the music presets (speech is a voice leveller),
     * on the dynamic and the bass-heavy mix: dense on purpose */
    for (size_t p = 0; p < N_PRESETS; p++) {
        if (p == ML || strcmp(presets[p], "speech") == 0) continue;
        assert_true(dlra_all[ML][LQS_STYLE_DYNAMIC] < dlra_all[p][LQS_STYLE_DYNAMIC]);
        assert_true(dlra_all[ML][LQS_STYLE_BASS] < dlra_all[p][LQS_STYLE_BASS]);
    }
    assert_false(failed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets_do_what_their_character_says),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
