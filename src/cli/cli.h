/* The lacquer command line: shared helpers of the subcommands. */
#ifndef LQ_CLI_H
#define LQ_CLI_H

#include <stdio.h>

/* Exit codes (README "Exit codes" and docs/lacquer.1 list them). */
enum {
    LQ_EXIT_OK = 0,          /* done; every export met its target */
    LQ_EXIT_NOT_MET = 1,     /* exports written, but at least one target was not met */
    LQ_EXIT_USAGE = 2,       /* bad command line */
    LQ_EXIT_INPUT = 3,       /* bad input audio (unreadable, truncated, channels, rate,
                                empty, NaN/Inf) */
    LQ_EXIT_PRESET = 4,      /* bad or unknown preset/target, bad --set */
    LQ_EXIT_OUTPUT = 5,      /* output exists (no --force) or cannot be written */
    LQ_EXIT_INTERNAL = 6,    /* out of memory, encoder or DSP failure */
    LQ_EXIT_INTERRUPTED = 130 /* Ctrl-C / SIGTERM: nothing was written */
};

/* Print "lacquer: MSG" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_exit_for(int lq_err);
const char *cli_preset_dir(void);

int cmd_master(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_list(int argc, char **argv, int targets);
int cmd_demo(int argc, char **argv);
int cmd_batch(int argc, char **argv);

#endif
