/* The lacquer commands, in the order `lacquer --help` lists them.  Adding a command is one
 * cli_command in its own src/cli/cmd_*.c (declared in cli.h) and one line here. */
#include "cli/cli.h"

const cli_command *const cli_commands[] = {
    &cli_cmd_master,
    &cli_cmd_album,
    &cli_cmd_check,
    &cli_cmd_analyze,
    &cli_cmd_presets,
    &cli_cmd_targets,
    &cli_cmd_demo,
    &cli_cmd_help,
    &cli_cmd_completion,
};
const size_t cli_n_commands = sizeof cli_commands / sizeof cli_commands[0];
