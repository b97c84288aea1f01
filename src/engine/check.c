/* The mix check (`lacquer check`, and the findings at the top of master's report):
 * figures of the deeper analysis (engine/analysis.c) judged against a rules file
 * (presets/rules/check.yaml, docs/CHECK.md).  Each finding says what was measured,
 * the threshold, why it matters for mastering and what to do in the mix. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/node.h"
#include "engine/check.h"

#define LQ_RULES_VERSION 1

/* One rule: its section in the rules file, its parameters (key, default, range, unit). */
typedef struct rule_def {
    const char *name;
    int nparam;
    const char *key[MAX_PARAMS];
    double def[MAX_PARAMS], lo[MAX_PARAMS], hi[MAX_PARAMS];
    const char *unit[MAX_PARAMS];
} rule_def;


/* The defaults here are the values of the shipped presets/rules/check.yaml
 * (tests/test_check.c loads it and compares). */
static const rule_def RULES[R_COUNT] = {
    [R_CLIPPING] = {"clipping", 1, {"max_runs"}, {0}, {0}, {1e9}, {"runs"}},
    [R_HEADROOM] = {"headroom", 1, {"min_db"}, {0.1}, {0}, {20}, {"dB"}},
    [R_OVER_COMPRESSED] = {"over_compressed", 2, {"min_plr_db", "min_psr_db"}, {8, 5},
                           {0, 0}, {40, 40}, {"dB", "dB"}},
    [R_DC] = {"dc_offset", 1, {"max_dbfs"}, {-50}, {-140}, {0}, {"dBFS"}},
    [R_LOW_END_PHASE] = {"low_end_phase", 1, {"max_side_ratio"}, {0.5}, {0}, {1}, {"ratio"}},
    [R_MONO] = {"mono", 2, {"max_loss_db", "min_correlation"}, {4.5, -0.2}, {0, -1},
                {60, 1}, {"dB", "correlation"}},
    [R_BALANCE] = {"balance", 2, {"max_db", "max_low_end_db"}, {1.5, 3}, {0, 0}, {40, 40},
                   {"dB", "dB"}},
    [R_SUB_BASS] = {"sub_bass", 1, {"max_db"}, {6}, {-60}, {60}, {"dB"}},
    [R_HARSH] = {"harsh", 1, {"max_db"}, {-3}, {-60}, {60}, {"dB"}},
    [R_BIT_DEPTH] = {"bit_depth", 1, {"min_bits"}, {24}, {8}, {32}, {"bits"}},
    [R_SILENCE] = {"silence", 2, {"max_head_ms", "max_tail_ms"}, {500, 2000}, {0, 0},
                   {3.6e6, 3.6e6}, {"ms", "ms"}},
    [R_LOUDNESS] = {"loudness", 1, {"min_lufs"}, {-40}, {-70}, {0}, {"LUFS"}},
};


void lq_check_rules_defaults(lq_check_rules *r)
{
    for (int i = 0; i < R_COUNT; i++) {
        r->enabled[i] = 1;
        for (int k = 0; k < RULES[i].nparam; k++) r->p[i][k] = RULES[i].def[k];
    }
}

int lq_check_rules_equal(const lq_check_rules *a, const lq_check_rules *b)
{
    for (int i = 0; i < R_COUNT; i++) {
        if (a->enabled[i] != b->enabled[i]) return 0;
        for (int k = 0; k < RULES[i].nparam; k++)
            if (a->p[i][k] != b->p[i][k]) return 0;
    }
    return 1;
}

static lq_error parse_rules(lq_check_rules *r, const lq_node *root, lq_diag *d)
{
    char desc[128];
    if (root->type != LQ_NODE_MAP)
        return lq_cfg_error(d, root, "%s is not a map (expected a map of check rules "
                            "starting with lacquer: %d)",
                            lq_cfg_describe(root, desc, sizeof desc), LQ_RULES_VERSION);
    const lq_node *ver = lq_node_get(root, "lacquer");
    if (!ver)
        return lq_cfg_missing(d, root, "lacquer", "lacquer: 1, the schema version, as the "
                                                  "first key");
    double v;
    if (!lq_cfg_scalar_number(ver, &v) || v != LQ_RULES_VERSION)
        return lq_cfg_error(d, ver, "version %s is not supported (expected %d, the version "
                            "this build reads)", lq_cfg_describe(ver, desc, sizeof desc),
                            LQ_RULES_VERSION);
    const char *top[R_COUNT + 2];
    top[0] = "lacquer";
    for (int i = 0; i < R_COUNT; i++) top[i + 1] = RULES[i].name;
    top[R_COUNT + 1] = NULL;
    lq_error e = lq_cfg_expect_map(root, top, "check rules", d);
    if (e) return e;
    for (int i = 0; i < R_COUNT; i++) {
        const lq_node *sec = lq_node_get(root, RULES[i].name);
        if (!sec) continue;
        const char *keys[MAX_PARAMS + 2];
        int nk = 0;
        keys[nk++] = "enabled";
        for (int k = 0; k < RULES[i].nparam; k++) keys[nk++] = RULES[i].key[k];
        keys[nk] = NULL;
        e = lq_cfg_expect_map(sec, keys, RULES[i].name, d);
        if (!e) e = lq_cfg_bool(sec, "enabled", &r->enabled[i], d);
        for (int k = 0; k < RULES[i].nparam && !e; k++)
            e = lq_cfg_number(sec, RULES[i].key[k], RULES[i].lo[k], RULES[i].hi[k],
                              RULES[i].unit[k], &r->p[i][k], d);
        if (e) return e;
    }
    return LQ_OK;
}

lq_error lq_check_rules_read(lq_check_rules *r, const char *path, lq_diag *d)
{
    lq_check_rules_defaults(r);
    if (!path) return LQ_OK;
    lq_node *root = NULL;
    lq_error e = lq_node_parse_file(&root, path, d);
    if (e) return e;
    e = parse_rules(r, root, d);
    lq_node_free(root);
    return e;
}

lq_error lq_check_rules_load(lq_check_rules **out, const char *path, char *err, size_t errlen)
{
    lq_diag d = {{0}};
    *out = NULL;
    lq_check_rules *r = calloc(1, sizeof *r);
    if (!r) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return LQ_ERR_NOMEM;
    }
    lq_error e = lq_check_rules_read(r, path, &d);
    if (e) {
        if (err && errlen) snprintf(err, errlen, "%s", d.msg);
        free(r);
        return e;
    }
    *out = r;
    return LQ_OK;
}

void lq_check_rules_destroy(lq_check_rules **r)
{
    if (!r) return;
    free(*r);
    *r = NULL;
}

/* ---- judging ------------------------------------------------------------------------- */

typedef struct sink {
    lq_finding *out;
    size_t max, n;
} sink;

static void add(sink *s, int rule, double measured, double threshold, const char *unit,
                const char *why, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static void add(sink *s, int rule, double measured, double threshold, const char *unit,
                const char *why, const char *fix, const char *fmt, ...)
{
    if (s->n < s->max) {
        lq_finding *f = &s->out[s->n];
        memset(f, 0, sizeof *f);
        snprintf(f->id, sizeof f->id, "%s", RULES[rule].name);
        f->measured = measured;
        f->threshold = threshold;
        snprintf(f->unit, sizeof f->unit, "%s", unit);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->message, sizeof f->message, fmt, ap);
        va_end(ap);
        snprintf(f->why, sizeof f->why, "%s", why);
        snprintf(f->fix, sizeof f->fix, "%s", fix);
    }
    s->n++;
}

static const char *side(double db)
{
    return db > 0 ? "left" : "right";
}

size_t lq_check_analysis(const lq_analysis *a, const lq_check_rules *rules, lq_finding *out,
                         size_t max)
{
    lq_check_rules def;
    if (!rules) {
        lq_check_rules_defaults(&def);
        rules = &def;
    }
    const int *on = rules->enabled;
    const double(*p)[MAX_PARAMS] = rules->p;
    sink s = {out, out ? max : 0, 0};
    const int stereo = a->channels == 2;

    if (on[R_CLIPPING] && (double)a->clipped_runs > p[R_CLIPPING][0])
        add(&s, R_CLIPPING, (double)a->clipped_runs, p[R_CLIPPING][0], "runs",
            "mastering cannot undo clipping: the flattened peaks are distortion, and every "
            "later stage only makes it louder",
            "bounce the mix again 3 dB lower with no limiter or clipper on the mix bus",
            "the mix clips: %lld runs of 3 or more full-scale samples", a->clipped_runs);
    else if (on[R_HEADROOM] && a->sample_peak_dbfs > -p[R_HEADROOM][0])
        add(&s, R_HEADROOM, a->sample_peak_dbfs, -p[R_HEADROOM][0], "dBFS",
            "with no room above the peaks, the master bus EQ and inter-sample peaks clip "
            "before the limiter can shape them",
            "leave 3-6 dB of headroom in the mix bounce (lower the master fader, not the "
            "tracks)",
            "the mix peaks at %.2f dBFS: no headroom left", a->sample_peak_dbfs);

    if (on[R_OVER_COMPRESSED] && isfinite(a->plr_db) &&
        (a->plr_db < p[R_OVER_COMPRESSED][0] ||
         (isfinite(a->psr_min_db) && a->psr_min_db < p[R_OVER_COMPRESSED][1]))) {
        int by_plr = a->plr_db < p[R_OVER_COMPRESSED][0];
        add(&s, R_OVER_COMPRESSED, by_plr ? a->plr_db : a->psr_min_db,
            p[R_OVER_COMPRESSED][by_plr ? 0 : 1], "dB",
            "the mix is already limited: mastering can only make it louder by making it "
            "worse, and the master will sound flat",
            "bounce the mix without the bus limiter (or with far less gain reduction) and "
            "let mastering set the level",
            isfinite(a->psr_min_db)
                ? "the mix is already heavily limited (peak-to-loudness ratio %.1f dB, "
                  "short-term PSR down to %.1f dB)"
                : "the mix is already heavily limited (peak-to-loudness ratio %.1f dB; too "
                  "short for a short-term PSR)",
            a->plr_db, a->psr_min_db);
    }

    if (on[R_DC]) {
        int c = stereo && a->dc_offset_db[1] > a->dc_offset_db[0] ? 1 : 0;
        if (a->dc_offset_db[c] > p[R_DC][0])
            add(&s, R_DC, a->dc_offset_db[c], p[R_DC][0], "dBFS",
                "DC wastes headroom, pushes the limiter to work on one polarity and clicks "
                "at every cut",
                "remove it in the mix: a 20 Hz high-pass on the track or bus that carries it",
                "DC offset on channel %d (%.1f dBFS)", c + 1, a->dc_offset_db[c]);
    }

    if (stereo && on[R_LOW_END_PHASE] && a->low_side_ratio > p[R_LOW_END_PHASE][0])
        add(&s, R_LOW_END_PHASE, a->low_side_ratio, p[R_LOW_END_PHASE][0], "ratio",
            "phones, club systems and many speakers play the bass in mono: out-of-phase "
            "bass cancels there",
            "keep kick and bass mono below 120 Hz; check the polarity of stereo bass tracks "
            "and of wideners on the low end",
            "below 120 Hz the channels are mostly out of phase (%.0f %% side energy, "
            "correlation %.2f): the bass will vanish in mono",
            100.0 * a->low_side_ratio, a->low_correlation);

    if (stereo && on[R_MONO] &&
        (a->mono_loss_db > p[R_MONO][0] || a->correlation < p[R_MONO][1])) {
        if (a->correlation < p[R_MONO][1])
            add(&s, R_MONO, a->correlation, p[R_MONO][1], "correlation",
                "in mono (phones, smart speakers, broadcast) whatever is out of phase "
                "cancels: the centre disappears",
                "check for a flipped polarity on a track, a bus or the whole right channel; "
                "listen in mono",
                "left and right are out of phase (correlation %.2f; the mono fold-down "
                "loses %.1f dB)", a->correlation, a->mono_loss_db);
        else
            add(&s, R_MONO, a->mono_loss_db, p[R_MONO][0], "dB",
                "in mono (phones, smart speakers, broadcast) the parts that cancel are lost",
                "tame stereo wideners and phase-shifted doubles; listen in mono",
                "the mono fold-down loses %.1f dB (correlation down to %.2f): the mix is "
                "not mono-compatible", a->mono_loss_db, a->correlation_p5);
    }

    if (stereo && on[R_BALANCE]) {
        const char *why = "mastering works on the stereo bus: a lopsided mix stays "
                          "lopsided, and the limiter reacts to the louder side";
        if (fabs(a->low_end_balance_db) > p[R_BALANCE][1])
            add(&s, R_BALANCE, fabs(a->low_end_balance_db), p[R_BALANCE][1], "dB", why,
                "bass and kick should sit in the centre: recheck their pans",
                "the low end leans %s by %.1f dB (below 150 Hz)", side(a->low_end_balance_db),
                fabs(a->low_end_balance_db));
        else if (fabs(a->balance_db) > p[R_BALANCE][0])
            add(&s, R_BALANCE, fabs(a->balance_db), p[R_BALANCE][0], "dB", why,
                "recheck the pans and levels of the louder side",
                "the mix leans %s by %.1f dB", side(a->balance_db), fabs(a->balance_db));
    }

    if (on[R_SUB_BASS] && isfinite(a->sub_bass_db) && a->sub_bass_db > p[R_SUB_BASS][0])
        add(&s, R_SUB_BASS, a->sub_bass_db, p[R_SUB_BASS][0], "dB",
            "sub-bass eats the limiter's headroom and most speakers do not play it: the "
            "master ends up quieter and muddier",
            "high-pass the tracks that do not need the sub region and tame the kick or 808 "
            "below 50 Hz",
            "excessive sub-bass: the 20-50 Hz bands sit %.1f dB above the 100-400 Hz bands",
            a->sub_bass_db);

    if (on[R_HARSH] && isfinite(a->harshness_db) && a->harshness_db > p[R_HARSH][0])
        add(&s, R_HARSH, a->harshness_db, p[R_HARSH][0], "dB",
            "mastering raises the level, and the top end with it: harshness turns into "
            "listening fatigue",
            "tame 2-8 kHz in the mix: de-ess the vocals, darker cymbals, less presence boost",
            "harsh top: the 2-8 kHz bands sit at %.1f dB against 200-800 Hz",
            a->harshness_db);

    if (on[R_BIT_DEPTH] && a->effective_bits > 0 && a->effective_bits < p[R_BIT_DEPTH][0]) {
        char padded[48] = "";
        if (a->file_bits > a->effective_bits)
            snprintf(padded, sizeof padded, " padded to %d", a->file_bits);
        add(&s, R_BIT_DEPTH, a->effective_bits, p[R_BIT_DEPTH][0], "bits",
            "the mix was already quantized: mastering gain raises its noise floor and any "
            "dither already in it",
            "export the mix at 24-bit or 32-bit float",
            "%d-bit source%s", a->effective_bits, padded);
    }

    if (on[R_SILENCE] && isfinite(a->head_silence_ms) &&
        (a->head_silence_ms > p[R_SILENCE][0] || a->tail_silence_ms > p[R_SILENCE][1])) {
        int head = a->head_silence_ms > p[R_SILENCE][0];
        add(&s, R_SILENCE, head ? a->head_silence_ms : a->tail_silence_ms,
            p[R_SILENCE][head ? 0 : 1], "ms",
            "players and albums add their own gaps: padding becomes dead air before or after "
            "the song",
            "trim the bounce to the music (keep the reverb tail, cut the rest)",
            "silence padding: %.0f ms before the first sound and %.0f ms after the last "
            "(below -60 dBFS)", a->head_silence_ms, a->tail_silence_ms);
    }

    if (on[R_LOUDNESS]) {
        if (!isfinite(a->integrated_lufs))
            add(&s, R_LOUDNESS, -HUGE_VAL, p[R_LOUDNESS][0], "LUFS",
                "with nothing to measure, no loudness target can be met",
                "check the bounce: the right track, the right length, the master fader up",
                "no loudness could be measured: the mix is silent (below -70 LUFS) or "
                "shorter than 0.4 s");
        else if (a->integrated_lufs < p[R_LOUDNESS][0])
            add(&s, R_LOUDNESS, a->integrated_lufs, p[R_LOUDNESS][0], "LUFS",
                "a very quiet bounce needs so much gain that its noise floor comes up with it",
                "check the bounce level: export so the loudest part peaks around -6 to -3 "
                "dBFS",
                "the mix is very quiet (%.1f LUFS): too quiet to master", a->integrated_lufs);
    }
    return s.n;
}
