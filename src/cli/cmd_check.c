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

int cmd_check(int argc, char **argv)
{
    int json = 0, nfiles = 0;
    const char *rules_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
            argv[i] = (char *)"";
        } else if (!strcmp(argv[i], "--rules")) {
            if (i + 1 >= argc) {
                cli_error("--rules needs a value (see lacquer --help)");
                return LQ_EXIT_USAGE;
            }
            rules_path = argv[++i];
            argv[i - 1] = argv[i] = (char *)"";
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("unknown option \"%s\" for check (see lacquer --help)", argv[i]);
            return LQ_EXIT_USAGE;
        } else if (argv[i][0]) {
            nfiles++;
        }
    }
    if (!nfiles) {
        cli_error("check needs a MIX (usage: lacquer check MIX... [--json] [--rules FILE])");
        return LQ_EXIT_USAGE;
    }
    char err[1024];
    lq_check_rules *rules = NULL;
    lq_error e = lq_check_rules_load(&rules, rules_path, err, sizeof err);
    if (e) {
        cli_error("%s", err);
        return cli_exit_for(e);
    }
    int rc = LQ_EXIT_OK, attention = 0;
    json_t *arr = json_array();
    for (int i = 1; i < argc; i++) {
        if (!argv[i][0]) continue;
        lq_analysis a;
        e = lq_analyze_file(argv[i], &a, err, sizeof err);
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
            json_object_set_new(o, "path", json_string(argv[i]));
            json_object_set_new(o, "verdict", json_string(n ? "needs_attention" : "ready"));
            json_object_set_new(o, "findings", findings_json(f, n));
            json_object_set_new(o, "analysis", analysis_json(argv[i], &a));
            json_array_append_new(arr, o);
            continue;
        }
        printf("%s: %s\n", argv[i],
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
    if (rc == LQ_EXIT_OK && attention) rc = LQ_EXIT_ATTENTION;
    return rc;
}
