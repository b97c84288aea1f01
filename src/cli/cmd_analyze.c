/* lacquer analyze FILE... [--json] */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lacquer/lacquer.h"

static json_t *num(double v)
{
    return isfinite(v) ? json_real(round(v * 1e4) / 1e4) : json_null();
}

int cmd_analyze(int argc, char **argv)
{
    int json = 0, nfiles = 0;
    const char *preset = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--preset")) {
            if (i + 1 >= argc) {
                cli_error("--preset needs a value (see lacquer --help)");
                return LQ_EXIT_USAGE;
            }
            preset = argv[++i];
            argv[i - 1] = argv[i] = (char *)"";
        }
        else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("unknown option \"%s\" for analyze (see lacquer --help)", argv[i]);
            return LQ_EXIT_USAGE;
        } else if (argv[i][0]) nfiles++;
    }
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
    for (int i = 1; i < argc; i++) {
        if ((argv[i][0] == '-' && argv[i][1]) || !argv[i][0]) continue;
        lq_analysis a;
        char err[1024];
        lq_error e = lq_analyze_file(argv[i], &a, err, sizeof err);
        if (e) {
            cli_error("%s", err);
            rc = cli_exit_for(e);
            continue;
        }
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "path", json_string(argv[i]));
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
            printf("%s\n", argv[i]);
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
