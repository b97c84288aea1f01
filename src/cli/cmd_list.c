/* lacquer presets | lacquer targets: what ships, one line each. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lacquer/lacquer.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run(const cli_command *self, int argc, char **argv)
{
    int targets = self == &cli_cmd_targets, opt, r;
    const char *v;
    cli_parser ps;
    cli_parser_init(&ps, self, argc, argv);
    while ((r = cli_next(&ps, &opt, &v)) != CLI_END) {
        if (r == CLI_HELP) return LQ_EXIT_OK;
        if (r == CLI_BAD) return LQ_EXIT_USAGE;
        cli_error("unknown argument \"%s\" (expected no arguments)", v);
        return LQ_EXIT_USAGE;
    }
    char path[4096];
    const char *base = cli_preset_dir();
    snprintf(path, sizeof path, "%s%s", base, targets ? "/targets" : "");
    DIR *d = opendir(path);
    if (!d) {
        cli_error("%s: cannot open the shipped %s (expected an installed lacquer)", path,
                  targets ? "targets" : "presets");
        return LQ_EXIT_PRESET;
    }
    char *names[512];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 512) {
        size_t len = strlen(de->d_name);
        if (len > 5 && !strcmp(de->d_name + len - 5, ".yaml")) {
            names[n] = strdup(de->d_name);
            if (names[n]) names[n++][len - 5] = 0;
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int rc = LQ_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        char err[1024];
        if (targets) {
            lq_target *t = NULL;
            if (lq_target_load(&t, names[i], base, NULL, err, sizeof err) == LQ_OK)
                printf("%-16s %s\n", names[i], lq_target_description(t));
            else
                printf("%-16s (invalid: %s)\n", names[i], err), rc = LQ_EXIT_PRESET;
            lq_target_destroy(&t);
        } else {
            lq_preset *p = NULL;
            if (lq_preset_load(&p, names[i], base, NULL, err, sizeof err) == LQ_OK)
                printf("%-16s %s\n", names[i], lq_preset_description(p));
            else
                printf("%-16s (unavailable: %s)\n", names[i], err), rc = LQ_EXIT_PRESET;
            lq_preset_destroy(&p);
        }
        free(names[i]);
    }
    return rc;
}

const cli_command cli_cmd_presets = {
    .name = "presets",
    .operands = "",
    .summary = "the shipped chain presets, one line each",
    .details = NULL,
    .options = NULL,
    .n_options = 0,
    .example = "presets",
    .operand_value = CLI_V_NONE,
    .run = run,
};

const cli_command cli_cmd_targets = {
    .name = "targets",
    .operands = "",
    .summary = "the shipped distribution targets, one line each",
    .details = NULL,
    .options = NULL,
    .n_options = 0,
    .example = "targets",
    .operand_value = CLI_V_NONE,
    .run = run,
};
