/* lacquer presets | lacquer targets [--long] [--json]: what ships, one line each, every
 * field (--long), or a JSON array for scripts (--json). */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/preset.h"
#include "lacquer/lacquer.h"

enum { O_LONG, O_JSON, N_OPTIONS };

static const cli_option preset_options[N_OPTIONS] = {
    [O_LONG] = {"--long", "-l", NULL, NULL,
                "every preset with its master-bus stages, limiter, level and targets", 0,
                CLI_V_NONE},
    [O_JSON] = {"--json", NULL, NULL, NULL,
                "a JSON array, one object per preset (name, description, file, master, "
                "limiter, loudness_lufs, targets)", 0, CLI_V_NONE},
};

static const cli_option target_options[N_OPTIONS] = {
    [O_LONG] = {"--long", "-l", NULL, NULL,
                "every field of every target: rate, format, bits, loudness, ceiling, codec "
                "checks, file name pattern", 0, CLI_V_NONE},
    [O_JSON] = {"--json", NULL, NULL, NULL,
                "a JSON array, one object per target, keyed as in target files "
                "(docs/PRESETS.md)", 0, CLI_V_NONE},
};

static void join(const json_t *arr, char *buf, size_t len)
{
    size_t i, off = 0;
    const json_t *v;
    buf[0] = '\0';
    json_array_foreach(arr, i, v) {
        int k = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", json_string_value(v));
        if (k < 0 || (size_t)k >= len - off) break;
        off += (size_t)k;
    }
}

/* One "  label           value" row of a --long listing. */
static void row(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row(const char *label, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  %-15s ", label);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void print_long_target(const json_t *o)
{
    char list[256];
    const json_t *rate = json_object_get(o, "sample_rate");
    const json_t *bits = json_object_get(o, "bit_depth");
    const json_t *lufs = json_object_get(o, "loudness_lufs");
    printf("%s\n  %s\n", str(o, "name"), str(o, "description"));
    if (json_is_integer(rate)) row("sample_rate", "%lld Hz", (long long)json_integer_value(rate));
    else row("sample_rate", "source (the input's rate)");
    row("format", "%s", str(o, "format"));
    if (json_is_integer(bits)) row("bit_depth", "%lld", (long long)json_integer_value(bits));
    else if (json_is_string(bits)) row("bit_depth", "%s (32-bit float)", json_string_value(bits));
    else row("bitrate_kbps", "%lld",
             (long long)json_integer_value(json_object_get(o, "bitrate_kbps")));
    if (json_is_number(lufs)) row("loudness_lufs", "%.1f", json_number_value(lufs));
    else row("loudness_lufs", "none (the preset's finish.loudness_lufs, else no gain)");
    row("true_peak_dbtp", "%.1f", json_number_value(json_object_get(o, "true_peak_dbtp")));
    join(json_object_get(o, "codec_check"), list, sizeof list);
    row("codec_check", "%s", list[0] ? list : "none");
    row("filename", "%s", str(o, "filename"));
    if (json_is_true(json_object_get(o, "limiter_override"))) row("limiter", "overridden");
    if (json_is_true(json_object_get(o, "dither_override"))) row("dither", "overridden");
    const json_t *floor = json_object_get(o, "min_sample_rate");
    if (json_is_integer(floor))
        row("min_sample_rate", "%lld Hz (a lower source rate is resampled up to it)",
            (long long)json_integer_value(floor));
    row("resampler", "%s", str(o, "resampler"));
    if (list[0])
        row("codec_guard_db", "%.2f (headroom for other encoders)",
            json_number_value(json_object_get(o, "codec_guard_db")));
    if (strstr(list, "aac"))
        row("aac_kbps", "%lld", (long long)json_integer_value(json_object_get(o, "aac_kbps")));
    row("file", "%s", str(o, "file"));
}

static void print_long_preset(const json_t *o)
{
    char list[512];
    const json_t *lufs = json_object_get(o, "loudness_lufs");
    printf("%s\n  %s\n", str(o, "name"), str(o, "description"));
    join(json_object_get(o, "master"), list, sizeof list);
    row("master", "%s", list[0] ? list : "nothing (the mix passes untouched)");
    const json_t *in = json_object_get(o, "input_lufs");
    if (list[0] && json_is_number(in))
        row("input_lufs", "%.1f (the stages work at this level; undone after them)",
            json_number_value(in));
    else if (list[0]) row("input_lufs", "none (absolute thresholds)");
    row("limiter", "%s", json_is_true(json_object_get(o, "limiter")) ? "yes" : "none");
    if (json_is_number(lufs))
        row("loudness_lufs", "%.1f (targets without their own)", json_number_value(lufs));
    else row("loudness_lufs", "none (targets without their own get no gain)");
    join(json_object_get(o, "targets"), list, sizeof list);
    row("targets", "%s", list[0] ? list : "none");
    const json_t *ref = json_object_get(o, "reference");
    if (json_is_object(ref)) {
        join(json_object_get(ref, "files"), list, sizeof list);
        row("reference", "%s (strength %.2f)", list,
            json_number_value(json_object_get(ref, "strength")));
    }
    row("file", "%s", str(o, "file"));
    const json_t *ch = json_object_get(o, "character");
    if (json_is_object(ch)) {
        /* measured by tests/test_character.c: -14 LUFS, -1 dBTP exports of four mixes */
        row("character", "%s", str(ch, "summary"));
        const char *const styles[] = {"dense", "sparse", "dynamic", "bass-heavy"};
        printf("    %-12s %10s %8s   (mastered to -14 LUFS, -1 dBTP)\n", "mix", "LRA change",
               "PLR");
        for (int k = 0; k < 4; k++)
            printf("    %-12s %+7.1f LU %5.1f dB\n", styles[k],
                   json_number_value(json_object_get(json_object_get(ch, "lra_change_lu"),
                                                     styles[k])),
                   json_number_value(json_object_get(json_object_get(ch, "plr_db"), styles[k])));
        const char *const oct[] = {"31", "63", "125", "250", "500", "1k", "2k", "4k", "8k", "16k"};
        printf("    tone dB  ");
        for (int b = 0; b < 10; b++) printf(" %5s", oct[b]);
        printf("\n             ");
        for (int b = 0; b < 10; b++)
            printf(" %+5.1f", json_number_value(json_array_get(json_object_get(ch, "tone_db"),
                                                               (size_t)b)) + 0.0);
        printf("\n");
    }
}

static int run(const cli_command *self, int argc, char **argv)
{
    int targets = self == &cli_cmd_targets, opt, r, lng = 0, json = 0;
    const char *v;
    cli_parser ps;
    cli_parser_init(&ps, self, argc, argv);
    while ((r = cli_next(&ps, &opt, &v)) != CLI_END) {
        if (r == CLI_HELP) return LQ_EXIT_OK;
        if (r == CLI_BAD) return LQ_EXIT_USAGE;
        if (r == CLI_OPERAND) {
            cli_error("unknown argument \"%s\" (expected no arguments)", v);
            return LQ_EXIT_USAGE;
        }
        if (opt == O_LONG) lng = 1;
        else json = 1;
    }
    const char *base = cli_preset_dir();
    char **names = NULL;
    size_t n = 0;
    if (lq_preset_names(base, targets ? "targets" : "", &names, &n) != LQ_OK) {
        cli_error("%s%s: cannot open the shipped %s (expected an installed lacquer)", base,
                  targets ? "/targets" : "", targets ? "targets" : "presets");
        return LQ_EXIT_PRESET;
    }
    int rc = LQ_EXIT_OK;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char err[1024], *js = NULL;
        const char *desc = NULL;
        lq_target *t = NULL;
        lq_preset *p = NULL;
        lq_error e = targets ? lq_target_load(&t, names[i], base, NULL, err, sizeof err)
                             : lq_preset_load(&p, names[i], base, NULL, err, sizeof err);
        if (e) {
            rc = LQ_EXIT_PRESET;
            if (json || lng) cli_error("%s", err);
            else printf("%-16s (%s: %s)\n", names[i], targets ? "invalid" : "unavailable", err);
            continue;
        }
        if (json || lng) js = targets ? lq_target_json(t) : lq_preset_json(p);
        else desc = targets ? lq_target_description(t) : lq_preset_description(p);
        if (desc) printf("%-16s %s\n", names[i], desc);
        json_t *o = js ? json_loads(js, 0, NULL) : NULL;
        free(js);
        if ((json || lng) && !o) {
            cli_error("out of memory");
            rc = LQ_EXIT_INTERNAL;
        } else if (json) {
            json_array_append_new(arr, o);
        } else if (lng) {
            if (i) putchar('\n');
            (targets ? print_long_target : print_long_preset)(o);
            json_decref(o);
        }
        lq_target_destroy(&t);
        lq_preset_destroy(&p);
    }
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) puts(s);
        free(s);
    }
    json_decref(arr);
    lq_preset_names_free(names, n);
    return rc;
}

const cli_command cli_cmd_presets = {
    .name = "presets",
    .operands = "",
    .summary = "the shipped chain presets, one line each",
    .details = NULL,
    .options = preset_options,
    .n_options = N_OPTIONS,
    .example = "presets --long",
    .operand_value = CLI_V_NONE,
    .run = run,
};

const cli_command cli_cmd_targets = {
    .name = "targets",
    .operands = "",
    .summary = "the shipped distribution targets, one line each",
    .details = NULL,
    .options = target_options,
    .n_options = N_OPTIONS,
    .example = "targets --json",
    .operand_value = CLI_V_NONE,
    .run = run,
};
