/* lacquer analyze FILE... [--json] */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lacquer/lacquer.h"

static int analyze(const char **files, int nfiles, int json, unsigned options,
                   const char *preset);

static json_t *num(double v)
{
    return isfinite(v) ? json_real(round(v * 1e4) / 1e4) : json_null();
}

json_t *analysis_json(const char *path, const lq_analysis *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(path));
    json_object_set_new(o, "sample_rate", json_integer((json_int_t)a->sample_rate));
    json_object_set_new(o, "channels", json_integer(a->channels));
    json_object_set_new(o, "frames", json_integer(a->frames));
    json_object_set_new(o, "duration_s", num(a->duration_s));
    json_object_set_new(o, "integrated_lufs", num(a->integrated_lufs));
    json_object_set_new(o, "loudness_range_lu", num(a->lra_lu));
    json_object_set_new(o, "max_momentary_lufs", num(a->max_momentary_lufs));
    json_object_set_new(o, "max_short_term_lufs", num(a->max_short_term_lufs));
    json_object_set_new(o, "true_peak_dbtp", num(a->true_peak_16x_dbtp));
    json_object_set_new(o, "true_peak_ebur128_dbtp", num(a->true_peak_dbtp));
    json_object_set_new(o, "sample_peak_dbfs", num(a->sample_peak_dbfs));
    json_object_set_new(o, "plr_db", num(a->plr_db));
    json_object_set_new(o, "dc_offset_dbfs", num(fmax(a->dc_offset_db[0], a->dc_offset_db[1])));
    json_object_set_new(o, "correlation", num(a->correlation));
    json_object_set_new(o, "clipped_runs", json_integer(a->clipped_runs));
    json_object_set_new(o, "psr_min_db", num(a->psr_min_db));
    json_object_set_new(o, "crest_factor_db", num(a->crest_db));
    json_object_set_new(o, "balance_db", num(a->balance_db));
    json_object_set_new(o, "low_end_balance_db", num(a->low_end_balance_db));
    json_object_set_new(o, "correlation_p5", num(a->correlation_p5));
    /* +inf (the channels cancel) is written as a string, JSON has no infinity */
    json_object_set_new(o, "mono_loss_db", isinf(a->mono_loss_db) ? json_string("inf")
                                                                    : num(a->mono_loss_db));
    json_object_set_new(o, "low_side_ratio", num(a->low_side_ratio));
    json_object_set_new(o, "low_correlation", num(a->low_correlation));
    json_object_set_new(o, "file_bits", json_integer(a->file_bits));
    json_object_set_new(o, "effective_bits", json_integer(a->effective_bits));
    json_object_set_new(o, "head_silence_ms", num(a->head_silence_ms));
    json_object_set_new(o, "tail_silence_ms", num(a->tail_silence_ms));
    json_object_set_new(o, "intersample_overs", json_integer(a->intersample_overs));
    json_object_set_new(o, "spectral_tilt_db_oct", num(a->spectral_tilt_db_oct));
    json_object_set_new(o, "sub_bass_db", num(a->sub_bass_db));
    json_object_set_new(o, "harshness_db", num(a->harshness_db));
    json_t *hz = json_array(), *db = json_array();
    for (int i = 0; i < LQ_THIRD_OCTAVES; i++) {
        json_array_append_new(hz, num(lq_third_octave_center_hz(i)));
        json_array_append_new(db, a->third_octave_db[i] > -199 ? num(a->third_octave_db[i])
                                                                : json_null());
    }
    json_object_set_new(o, "third_octave_hz", hz);
    json_object_set_new(o, "third_octave_db", db);
    return o;
}

/* One aligned table: a row per figure, a column per file. */
static void print_table(const char **names, const lq_analysis *a, size_t n, int ebur128)
{
    enum { W = 14 };
    printf("%-24s", "");
    for (size_t k = 0; k < n; k++) {
        const char *b = strrchr(names[k], '/');
        b = b ? b + 1 : names[k];
        size_t len = strlen(b);
        printf(" %*.*s", W, W, len > W ? b + len - W : b);
    }
    putchar('\n');
#define ROW(label, fmt, ...)                                                     \
    do {                                                                         \
        printf("%-24s", label);                                                  \
        for (size_t k = 0; k < n; k++) {                                         \
            const lq_analysis *x = &a[k];                                        \
            char cell[64];                                                       \
            snprintf(cell, sizeof cell, fmt, __VA_ARGS__);                         \
            printf(" %*s", W, cell);                                             \
        }                                                                        \
        putchar('\n');                                                           \
    } while (0)
    ROW("rate Hz / channels", "%d/%d", (int)x->sample_rate, x->channels);
    ROW("duration s", "%.3f", x->duration_s);
    ROW("integrated LUFS", "%.2f", x->integrated_lufs);
    ROW("loudness range LU", "%.2f", x->lra_lu);
    ROW("max momentary LUFS", "%.2f", x->max_momentary_lufs);
    ROW("max short-term LUFS", "%.2f", x->max_short_term_lufs);
    ROW("true peak dBTP (16x)", "%.2f", x->true_peak_16x_dbtp);
    if (ebur128) ROW("true peak dBTP (ebur128)", "%.2f", x->true_peak_dbtp);
    ROW("sample peak dBFS", "%.2f", x->sample_peak_dbfs);
    ROW("PLR dB", "%.2f", x->plr_db);
    ROW("PSR min dB", "%.2f", x->psr_min_db);
    ROW("crest factor dB", "%.2f", x->crest_db);
    ROW("inter-sample overs", "%lld", x->intersample_overs);
    ROW("clipped runs", "%lld", x->clipped_runs);
    ROW("DC offset dBFS", "%.1f", fmax(x->dc_offset_db[0], x->dc_offset_db[1]));
    ROW("L/R balance dB", "%+.2f", x->balance_db);
    ROW("low-end balance dB", "%+.2f", x->low_end_balance_db);
    ROW("correlation", "%.3f", x->correlation);
    ROW("correlation 5th pct", "%.3f", x->correlation_p5);
    ROW("mono fold-down loss dB", "%.2f", x->mono_loss_db);
    ROW("side share <120 Hz %", "%.1f", 100.0 * x->low_side_ratio);
    ROW("bits (file/effective)", "%d/%d", x->file_bits, x->effective_bits);
    ROW("head silence ms", "%.0f", x->head_silence_ms);
    ROW("tail silence ms", "%.0f", x->tail_silence_ms);
    ROW("spectral tilt dB/oct", "%+.2f", x->spectral_tilt_db_oct);
    ROW("sub-bass dB", "%+.1f", x->sub_bass_db);
    ROW("harshness dB", "%+.1f", x->harshness_db);
#undef ROW
}

enum { O_JSON, O_EBUR128_PEAK, O_PRESET, N_OPTIONS };

static const cli_option options[N_OPTIONS] = {
    [O_JSON] = {"--json", NULL, NULL, NULL,
                "print a JSON array, one object per FILE (with the third-octave spectrum)", 0,
                CLI_V_NONE},
    [O_EBUR128_PEAK] = {"--ebur128-peak", NULL, NULL, NULL,
                        "also libebur128's 4x true peak, a cross-check of the 16x (slower)", 0,
                        CLI_V_NONE},
    [O_PRESET] = {"--preset", NULL, "NAME|FILE", NULL,
                  "describe a preset: its stages and EQ design curves", 0, CLI_V_PRESET},
};

static int run(const cli_command *self, int argc, char **argv)
{
    int json = 0, nfiles = 0, opt, r;
    unsigned options = 0;
    const char *preset = NULL, *v;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) {
        cli_error("out of memory");
        return LQ_EXIT_INTERNAL;
    }
    cli_parser ps;
    cli_parser_init(&ps, self, argc, argv);
    while ((r = cli_next(&ps, &opt, &v)) != CLI_END) {
        if (r == CLI_HELP || r == CLI_BAD) {
            free(files);
            return r == CLI_HELP ? LQ_EXIT_OK : LQ_EXIT_USAGE;
        }
        if (r == CLI_OPERAND) files[nfiles++] = v;
        else if (opt == O_JSON) json = 1;
        else if (opt == O_EBUR128_PEAK) options |= LQ_ANALYZE_EBUR128_PEAK;
        else preset = v;
    }
    int rc = analyze(files, nfiles, json, options, preset);
    free(files);
    return rc;
}

const cli_command cli_cmd_analyze = {
    .name = "analyze",
    .operands = "[FILE...]",
    .summary = "loudness, peaks, PSR, phase, mono, bit depth, silence, spectrum; or a preset",
    .details = "Each FILE is decoded and measured: integrated loudness and loudness range (EBU\n"
               "R128 / ITU-R BS.1770), true peak (16x; with --ebur128-peak libebur128's 4x\n"
               "too), sample peak, PLR, DC offset, L/R correlation and runs of clipped\n"
               "samples, and the deeper analysis: PSR, crest factor, inter-sample overs,\n"
               "balance, correlation's 5th percentile, mono fold-down loss, low-end side\n"
               "share, effective bit depth, head and tail silence, third-octave spectrum and\n"
               "its tilt (docs/REPORT.md).  Several files give one aligned table, a column\n"
               "per file.\n",
    .options = options,
    .n_options = N_OPTIONS,
    .example = "analyze mastered/*.flac --json",
    .operand_value = CLI_V_FILE,
    .run = run,
};

static int analyze(const char **files, int nfiles, int json, unsigned options,
                   const char *preset)
{
    if (preset) {
        char err[1024];
        lq_preset *p = NULL;
        lq_error e = lq_preset_load(&p, preset, cli_preset_dir(), NULL, err, sizeof err);
        if (e) {
            cli_error("%s", err);
            return cli_exit_for(e);
        }
        char *text = lq_preset_describe(p);
        if (text) fputs(text, stdout);
        free(text);
        lq_preset_destroy(&p);
        if (!nfiles) return LQ_EXIT_OK;
    }
    if (!nfiles) {
        cli_error("analyze needs at least one FILE (usage: lacquer analyze FILE... [--json])");
        return LQ_EXIT_USAGE;
    }
    lq_analysis *res = calloc((size_t)nfiles, sizeof *res);
    const char **names = calloc((size_t)nfiles, sizeof *names);
    if (!res || !names) {
        free(res);
        free(names);
        cli_error("out of memory");
        return LQ_EXIT_INTERNAL;
    }
    size_t n = 0;
    int rc = LQ_EXIT_OK;
    for (int i = 0; i < nfiles; i++) {
        char err[1024];
        lq_error e = lq_analyze_file_ex(files[i], options, &res[n], err, sizeof err);
        if (e) {
            cli_error("%s", err);
            rc = cli_exit_for(e);
            continue;
        }
        names[n++] = files[i];
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t k = 0; k < n; k++) json_array_append_new(arr, analysis_json(names[k], &res[k]));
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) puts(s);
        free(s);
        json_decref(arr);
    } else if (n) {
        print_table(names, res, n, (options & LQ_ANALYZE_EBUR128_PEAK) != 0);
    }
    free(res);
    free(names);
    return rc;
}
