/* lacquer: the command-line front end of liblacquer.  The commands and their options are
 * the tables in src/cli/commands.c; this only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lacquer/lacquer.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_print_usage(stderr);
        return LQ_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        cli_print_usage(stdout);
        return LQ_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("lacquer %s\n", lq_version());
        return LQ_EXIT_OK;
    }
    const cli_command *c = cli_find_command(cmd);
    if (c) return c->run(c, argc - 1, argv + 1);
    cli_unknown_command(cmd);
    return LQ_EXIT_USAGE;
}
