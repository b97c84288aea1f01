/* lacquer check MIX... [--json] [--rules FILE]: is the mix ready for mastering? */
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

json_t *findings_json(const lq_finding *f, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(f[i].id));
        json_object_set_new(o, "measured", num(f[i].measured));
        json_object_set_new(o, "threshold", num(f[i].threshold));
        json_object_set_new(o, "unit", json_string(f[i].unit));
        json_object_set_new(o, "message", json_string(f[i].message));
        json_object_set_new(o, "why", json_string(f[i].why));
        json_object_set_new(o, "fix", json_string(f[i].fix));
        json_array_append_new(arr, o);
    }
    return arr;
}

enum { O_JSON, O_RULES, N_OPTIONS };

static const cli_option options[N_OPTIONS] = {
    [O_JSON] = {"--json", NULL, NULL, NULL,
                "print a JSON array, one object per MIX: verdict, findings, analysis", 0,
                CLI_V_NONE},
    [O_RULES] = {"--rules", NULL, "FILE", "presets/rules/check.yaml",
                 "the thresholds: a YAML rules file (docs/CHECK.md)", 0, CLI_V_FILE},
};

static int run(const cli_command *self, int argc, char **argv)
{
    int json = 0, nfiles = 0, opt, r;
    const char *rules_path = NULL, *v;
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
        else rules_path = v;
    }
    if (!nfiles) {
        free(files);
        cli_error("check needs a MIX (usage: lacquer check MIX... [--json] [--rules FILE])");
        return LQ_EXIT_USAGE;
    }
    char err[1024];
    lq_check_rules *rules = NULL;
    lq_error e = lq_check_rules_load(&rules, rules_path, err, sizeof err);
    if (e) {
        free(files);
        cli_error("%s", err);
        return cli_exit_for(e);
    }
    int rc = LQ_EXIT_OK, attention = 0;
    json_t *arr = json_array();
    for (int i = 0; i < nfiles; i++) {
        lq_analysis a;
        e = lq_analyze_file(files[i], &a, err, sizeof err);
        if (e) {
            cli_error("%s", err);
            rc = cli_exit_for(e);
            continue;
        }
        lq_finding f[LQ_CHECK_MAX_FINDINGS];
        size_t n = lq_check_analysis(&a, rules, f, LQ_CHECK_MAX_FINDINGS);
        if (n > LQ_CHECK_MAX_FINDINGS) n = LQ_CHECK_MAX_FINDINGS;
        if (n) attention = 1;
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "path", json_string(files[i]));
            json_object_set_new(o, "verdict", json_string(n ? "needs_attention" : "ready"));
            json_object_set_new(o, "findings", findings_json(f, n));
            json_object_set_new(o, "analysis", analysis_json(files[i], &a));
            json_array_append_new(arr, o);
            continue;
        }
        printf("%s: %s\n", files[i],
               n ? "needs attention in the mix" : "ready for mastering");
        for (size_t k = 0; k < n; k++) {
            printf("  - %s\n", f[k].message);
            printf("    why: %s\n", f[k].why);
            printf("    fix: %s\n", f[k].fix);
        }
    }
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) puts(s);
        free(s);
    }
    json_decref(arr);
    lq_check_rules_destroy(&rules);
    free(files);
    if (rc == LQ_EXIT_OK && attention) rc = LQ_EXIT_ATTENTION;
    return rc;
}

const cli_command cli_cmd_check = {
    .name = "check",
    .operands = "MIX...",
    .summary = "is the mix ready for mastering? findings in plain words, exit 7 if not",
    .details = "Each MIX is analysed (the figures of lacquer analyze) and judged against the\n"
               "rules: clipping, no headroom, over-compressed, DC offset, out-of-phase low end,\n"
               "mono-incompatible, lopsided, excessive sub-bass, harsh top, 16-bit source,\n"
               "silence padding, too quiet.  Each finding says what was measured, the\n"
               "threshold, why it matters for mastering and what to do in the mix.  Exit 0:\n"
               "ready for mastering; 7: needs attention in the mix (docs/CHECK.md).\n",
    .options = options,
    .n_options = N_OPTIONS,
    .example = "check mix.wav --rules my-rules.yaml",
    .operand_value = CLI_V_FILE,
    .run = run,
};
