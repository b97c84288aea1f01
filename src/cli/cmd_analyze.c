/* lacquer analyze FILE... [--json] */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lacquer/lacquer.h"

static int analyze(const char **files, int nfiles, int json, const char *preset);

static json_t *num(double v)
{
    return isfinite(v) ? json_real(round(v * 1e4) / 1e4) : json_null();
}

enum { O_JSON, O_PRESET, N_OPTIONS };

static const cli_option options[N_OPTIONS] = {
    [O_JSON] = {"--json", NULL, NULL, NULL, "print a JSON array, one object per FILE", 0,
                CLI_V_NONE},
    [O_PRESET] = {"--preset", NULL, "NAME|FILE", NULL,
                  "describe a preset: its stages and EQ design curves", 0, CLI_V_PRESET},
};

static int run(const cli_command *self, int argc, char **argv)
{
    int json = 0, nfiles = 0, opt, r;
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
        else preset = v;
    }
    int rc = analyze(files, nfiles, json, preset);
    free(files);
    return rc;
}

const cli_command cli_cmd_analyze = {
    .name = "analyze",
    .operands = "[FILE...]",
    .summary = "measure loudness, true peak, LRA, PLR, DC, phase, clipping; or describe a preset",
    .details = "Each FILE is decoded and measured: integrated loudness and loudness range (EBU\n"
               "R128 / ITU-R BS.1770), true peak (16x and libebur128), sample peak, PLR, DC\n"
               "offset, L/R correlation and runs of clipped samples.\n",
    .options = options,
    .n_options = N_OPTIONS,
    .example = "analyze mastered/*.flac --json",
    .operand_value = CLI_V_FILE,
    .run = run,
};

static int analyze(const char **files, int nfiles, int json, const char *preset)
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
    json_t *arr = json_array();
    int rc = LQ_EXIT_OK;
    for (int i = 0; i < nfiles; i++) {
        lq_analysis a;
        char err[1024];
        lq_error e = lq_analyze_file(files[i], &a, err, sizeof err);
        if (e) {
            cli_error("%s", err);
            rc = cli_exit_for(e);
            continue;
        }
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "path", json_string(files[i]));
            json_object_set_new(o, "sample_rate", json_integer((json_int_t)a.sample_rate));
            json_object_set_new(o, "channels", json_integer(a.channels));
            json_object_set_new(o, "frames", json_integer(a.frames));
            json_object_set_new(o, "duration_s", num(a.duration_s));
            json_object_set_new(o, "integrated_lufs", num(a.integrated_lufs));
            json_object_set_new(o, "loudness_range_lu", num(a.lra_lu));
            json_object_set_new(o, "max_momentary_lufs", num(a.max_momentary_lufs));
            json_object_set_new(o, "max_short_term_lufs", num(a.max_short_term_lufs));
            json_object_set_new(o, "true_peak_dbtp", num(a.true_peak_16x_dbtp));
            json_object_set_new(o, "true_peak_ebur128_dbtp", num(a.true_peak_dbtp));
            json_object_set_new(o, "sample_peak_dbfs", num(a.sample_peak_dbfs));
            json_object_set_new(o, "plr_db", num(a.plr_db));
            json_object_set_new(o, "dc_offset_dbfs", num(fmax(a.dc_offset_db[0], a.dc_offset_db[1])));
            json_object_set_new(o, "correlation", num(a.correlation));
            json_object_set_new(o, "clipped_runs", json_integer(a.clipped_runs));
            json_array_append_new(arr, o);
        } else {
            printf("%s\n", files[i]);
            printf("  %d Hz, %d ch, %.3f s\n", (int)a.sample_rate, a.channels, a.duration_s);
            printf("  integrated   %8.2f LUFS\n", a.integrated_lufs);
            printf("  range        %8.2f LU\n", a.lra_lu);
            printf("  max momentary %7.2f LUFS   max short-term %7.2f LUFS\n",
                   a.max_momentary_lufs, a.max_short_term_lufs);
            printf("  true peak    %8.2f dBTP (16x)   %.2f dBTP (libebur128)\n",
                   a.true_peak_16x_dbtp, a.true_peak_dbtp);
            printf("  sample peak  %8.2f dBFS   PLR %.2f dB\n", a.sample_peak_dbfs, a.plr_db);
            printf("  DC %.1f dBFS   correlation %.2f   clipped runs %lld\n",
                   fmax(a.dc_offset_db[0], a.dc_offset_db[1]), a.correlation, a.clipped_runs);
        }
    }
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) puts(s);
        free(s);
    }
    json_decref(arr);
    return rc;
}
