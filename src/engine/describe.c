/* What a preset does, in numbers a person can read: the design curve of every EQ on
 * its master bus (`lacquer analyze --preset P`, and master.stages[].curve in the
 * report). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/preset.h"
#include "engine/describe.h"
#include "stages/eq.h"

/* ISO 266 third-octave centre frequencies, 20 Hz .. 20 kHz. */
static const double third_oct[] = {20,   25,   31.5, 40,   50,   63,    80,    100,   125,
                                   160,  200,  250,  315,  400,  500,   630,   800,   1000,
                                   1250, 1600, 2000, 2500, 3150, 4000,  5000,  6300,  8000,
                                   10000, 12500, 16000, 20000};
#define N_THIRD (sizeof third_oct / sizeof third_oct[0])
static const char *const view_names[] = {"left", "right", "mid", "side"};

/* Views whose curves differ: stereo-only EQs show one curve ("stereo"). */
static unsigned views_to_show(const void *cfg, int *stereo_only)
{
    unsigned used = lq_eq_views_used(cfg);
    double a[N_THIRD], b[N_THIRD];
    *stereo_only = 0;
    if (used == 0xF && lq_eq_curve(cfg, LQ_EQ_VIEW_LEFT, third_oct, N_THIRD, a, NULL) == LQ_OK) {
        int same = 1;
        for (int v = 1; v < 4 && same; v++) {
            if (lq_eq_curve(cfg, (lq_eq_view)v, third_oct, N_THIRD, b, NULL) != LQ_OK) break;
            for (size_t i = 0; i < N_THIRD; i++)
                if (a[i] != b[i]) same = 0;
        }
        if (same) {
            *stereo_only = 1;
            return 1;
        }
    }
    return used;
}

json_t *lq_describe_stage_json(const lq_stage_spec *s)
{
    if (!s->vt || strcmp(s->vt->name, "eq") != 0) return NULL;
    int stereo_only;
    unsigned views = views_to_show(s->cfg, &stereo_only);
    json_t *curve = json_object();
    json_t *freqs = json_array();
    for (size_t i = 0; i < N_THIRD; i++) json_array_append_new(freqs, json_real(third_oct[i]));
    json_object_set_new(curve, "freq_hz", freqs);
    for (int v = 0; v < 4; v++) {
        if (!(views & (1u << v))) continue;
        double db[N_THIRD];
        if (lq_eq_curve(s->cfg, (lq_eq_view)v, third_oct, N_THIRD, db, NULL) != LQ_OK) continue;
        json_t *arr = json_array();
        for (size_t i = 0; i < N_THIRD; i++)
            json_array_append_new(arr, isfinite(db[i]) ? json_real(round(db[i] * 100) / 100)
                                                       : json_null());
        json_object_set_new(curve, stereo_only ? "stereo_db" : view_names[v], arr);
    }
    return curve;
}

char *lq_preset_describe(const lq_preset *p)
{
    size_t cap = 8192, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
#define PUT(...)                                                                           \
    do {                                                                                   \
        int n_ = snprintf(out + len, cap - len, __VA_ARGS__);                              \
        if (n_ < 0) break;                                                                 \
        if (len + (size_t)n_ >= cap) {                                                     \
            char *o_ = realloc(out, cap = (len + (size_t)n_) * 2 + 1);                     \
            if (!o_) {                                                                     \
                free(out);                                                                 \
                return NULL;                                                               \
            }                                                                              \
            out = o_;                                                                      \
            snprintf(out + len, cap - len, __VA_ARGS__);                                   \
        }                                                                                  \
        len += (size_t)n_;                                                                 \
    } while (0)
    PUT("preset %s: %s\n", p->name, p->description ? p->description : "");
    if (p->n_master == 0) PUT("  master bus: no stages\n");
    else if (p->has_input_ref)
        PUT("  master bus: staged to %.1f LUFS (master.input_lufs; undone after it)\n",
            p->input_lufs);
    else
        PUT("  master bus: not staged (master.input_lufs: null; absolute thresholds)\n");
    for (size_t k = 0; k < p->n_master; k++) {
        const lq_stage_spec *s = &p->master[k];
        PUT("  master[%zu]: %s\n", k, s->vt->name);
        if (strcmp(s->vt->name, "eq") != 0) continue;
        int stereo_only;
        unsigned views = views_to_show(s->cfg, &stereo_only);
        if (!views) {
            PUT("    flat\n");
            continue;
        }
        PUT("    %8s", "Hz");
        for (int v = 0; v < 4; v++)
            if (views & (1u << v)) PUT(" %7s", stereo_only ? "dB" : view_names[v]);
        PUT("\n");
        double db[4][N_THIRD];
        for (int v = 0; v < 4; v++)
            if (views & (1u << v))
                lq_eq_curve(s->cfg, (lq_eq_view)v, third_oct, N_THIRD, db[v], NULL);
        for (size_t i = 0; i < N_THIRD; i++) {
            PUT("    %8g", third_oct[i]);
            for (int v = 0; v < 4; v++)
                if (views & (1u << v)) PUT(" %+7.2f", db[v][i]);
            PUT("\n");
        }
    }
    PUT("  limiter: %s\n", p->limiter.vt ? "yes (finish.limiter)" : "none (linear gain)");
    const lq_preset_character *ch = &p->character;
    if (ch->present) {
        PUT("  character: %s\n", ch->summary);
        PUT("    measured on generated mixes mastered to -14 LUFS, -1 dBTP:\n");
        PUT("    %-12s %10s %8s\n", "mix", "LRA change", "PLR");
        for (int k = 0; k < LQ_CHAR_STYLES; k++)
            PUT("    %-12s %+7.1f LU %5.1f dB\n", lq_char_style_names[k],
                ch->lra_change_lu[k], ch->plr_db[k]);
        PUT("    tone (dB per octave band, loudness-matched, mean of the mixes):\n    ");
        static const char *const oct[LQ_CHAR_OCTAVES] = {"31", "63", "125", "250", "500",
                                                         "1k", "2k", "4k", "8k", "16k"};
        for (int b = 0; b < LQ_CHAR_OCTAVES; b++) PUT(" %6s", oct[b]);
        PUT("\n    ");
        for (int b = 0; b < LQ_CHAR_OCTAVES; b++) PUT(" %+6.1f", ch->tone_db[b] + 0.0);
        PUT("\n");
    }
#undef PUT
    return out;
}
