/* lacquer help [COMMAND]: the usage of every command, or one command's options. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/suggest.h"

void cli_unknown_command(const char *name)
{
    const char *names[64];
    char list[512];
    size_t n = 0, off = 0;
    list[0] = '\0';
    for (size_t i = 0; i < cli_n_commands && i < 64; i++) {
        names[n++] = cli_commands[i]->name;
        int k = snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                         cli_commands[i]->name);
        if (k > 0 && (size_t)k < sizeof list - off) off += (size_t)k;
    }
    const char *near = lq_suggest(name, names, n);
    if (near)
        cli_error("unknown command \"%s\" (did you mean %s? expected %s; see lacquer --help)",
                  name, near, list);
    else
        cli_error("unknown command \"%s\" (expected %s; see lacquer --help)", name, list);
}

static int run(const cli_command *self, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, self, argc, argv);
    const char *topic = NULL, *v;
    int opt, r;
    while ((r = cli_next(&p, &opt, &v)) != CLI_END) {
        if (r == CLI_HELP) return LQ_EXIT_OK;
        if (r == CLI_BAD) return LQ_EXIT_USAGE;
        if (topic) {
            cli_error("help takes one COMMAND: \"%s\" and \"%s\" (expected one)", topic, v);
            return LQ_EXIT_USAGE;
        }
        topic = v;
    }
    if (!topic) {
        cli_print_usage(stdout);
        return LQ_EXIT_OK;
    }
    const cli_command *c = cli_find_command(topic);
    if (!c) {
        cli_unknown_command(topic);
        return LQ_EXIT_USAGE;
    }
    cli_print_help(c, stdout);
    return LQ_EXIT_OK;
}

const cli_command cli_cmd_help = {
    .name = "help",
    .operands = "[COMMAND]",
    .summary = "the usage of every command, or one command's options, defaults and example",
    .details = NULL,
    .options = NULL,
    .n_options = 0,
    .example = "help master",
    .operand_value = CLI_V_COMMAND,
    .run = run,
};
