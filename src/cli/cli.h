/* The lacquer command line: the command table and the shared helpers of the subcommands.
 *
 * Every subcommand is one `cli_command` (name, synopsis operands, summary, option table,
 * example, run function) defined beside its code in src/cli/cmd_*.c and listed once in
 * src/cli/commands.c.  The option table is the only list of a command's options: the
 * parser (cli_next) accepts exactly those, `lacquer CMD --help` and `lacquer help CMD`
 * print them, the top-level usage (and so the README usage block) is generated from them,
 * and tests/test_cli_help.c checks each one has help text and is named by --help, the
 * completions, the man page and the README. */
#ifndef LQ_CLI_H
#define LQ_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "lacquer/lacquer.h"

/* Exit codes (README "Exit codes" and docs/lacquer.1 list them). */
enum {
    LQ_EXIT_OK = 0,          /* done; every export met its target */
    LQ_EXIT_NOT_MET = 1,     /* exports written, but at least one target was not met */
    LQ_EXIT_USAGE = 2,       /* bad command line */
    LQ_EXIT_INPUT = 3,       /* bad input audio (unreadable, truncated, channels, rate,
                                empty, NaN/Inf) */
    LQ_EXIT_PRESET = 4,      /* bad or unknown preset/target/rules file, bad --set */
    LQ_EXIT_OUTPUT = 5,      /* output exists (no --force) or cannot be written */
    LQ_EXIT_INTERNAL = 6,    /* out of memory, encoder or DSP failure */
    LQ_EXIT_ATTENTION = 7,   /* check: the mix needs attention before mastering */
    LQ_EXIT_INTERRUPTED = 130 /* Ctrl-C / SIGTERM: nothing was written */
};

/* What an option's value (or a command's operands) is, for shell completion. */
typedef enum cli_value {
    CLI_V_NONE = 0,  /* free text (a number, a title): nothing to offer */
    CLI_V_FILE,      /* a file path */
    CLI_V_DIR,       /* a folder path */
    CLI_V_PRESET,    /* a shipped preset name, or a file */
    CLI_V_TARGET,    /* a shipped target name, or a file */
    CLI_V_COMMAND,   /* a lacquer command name (lacquer help COMMAND) */
    CLI_V_CHOICE     /* one of the command's `choices` words */
} cli_value;

typedef struct cli_option {
    const char *flag;   /* "--preset" */
    const char *alias;  /* short form ("-q"), or NULL */
    const char *arg;    /* placeholder of its value ("NAME|FILE"); NULL for a switch */
    const char *def;    /* default as help prints it, or NULL */
    const char *help;   /* one line: what it does (required: tests fail without it) */
    int repeat;         /* may be given more than once ("[--target T]...") */
    cli_value value;    /* what completions offer for its value */
} cli_option;

typedef struct cli_command cli_command;
struct cli_command {
    const char *name;          /* "master" */
    const char *operands;      /* synopsis operands before the options ("MIX"), or "" */
    const char *summary;       /* one line, lower case, no full stop */
    const char *details;       /* more lines for --help (operands, behaviour), or NULL */
    const cli_option *options; /* the option table (--help is implicit) */
    size_t n_options;
    const char *example;       /* one command line, without the leading "lacquer " */
    cli_value operand_value;   /* what completions offer for operands */
    const char *choices;       /* CLI_V_CHOICE: the words, space-separated */
    int (*run)(const cli_command *self, int argc, char **argv); /* argv[0] = name */
};

/* The commands, in the order usage lists them (src/cli/commands.c). */
extern const cli_command *const cli_commands[];
extern const size_t cli_n_commands;
const cli_command *cli_find_command(const char *name);

/* Walk a command line against a command's option table. */
typedef struct cli_parser {
    const cli_command *cmd;
    int argc, i, no_more_options;
    char **argv;
} cli_parser;

enum {
    CLI_END = 0,     /* no more arguments */
    CLI_OPTION,      /* *opt = index into cmd->options, *value = its value (NULL: switch) */
    CLI_OPERAND,     /* *value = the operand */
    CLI_HELP,        /* --help / -h: help was printed on stdout; exit LQ_EXIT_OK */
    CLI_BAD          /* unknown option or missing value: one line printed; exit LQ_EXIT_USAGE */
};

void cli_parser_init(cli_parser *p, const cli_command *cmd, int argc, char **argv);
int cli_next(cli_parser *p, int *opt, const char **value);

/* `lacquer CMD --help`: usage, summary, options with defaults, example. */
void cli_print_help(const cli_command *c, FILE *f);
/* The synopsis line(s) of one command ("lacquer master MIX [--preset NAME|FILE] ..."),
 * wrapped at 88 columns, as the top-level usage and the README print them. */
void cli_print_synopsis(const cli_command *c, FILE *f);
/* `lacquer --help`: every command's synopsis and summary, then the exit codes. */
void cli_print_usage(FILE *f);

/* Print "lacquer: MSG" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Set by SIGINT/SIGTERM once cli_catch_signals() ran: the library's cancel flag. */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_signals(void);

/* A progress line per phase on stderr, redrawn when its whole percentage changes
 * (an lq_progress_fn; user is a cli_bar). */
typedef struct cli_bar {
    int on;
    char last[64];
    int last_pct;
} cli_bar;
int cli_bar_progress(void *user, const char *phase, double frac);
/* End an unfinished line. */
void cli_bar_end(const cli_bar *b);
int cli_exit_for(int lq_err);
/* "unknown command NAME (did you mean ...? expected ...)" on stderr. */
void cli_unknown_command(const char *name);
const char *cli_preset_dir(void);

extern const cli_command cli_cmd_master, cli_cmd_album, cli_cmd_check, cli_cmd_analyze, cli_cmd_presets,
    cli_cmd_targets, cli_cmd_demo, cli_cmd_help, cli_cmd_completion,
    cli_cmd_batch;

/* The figures of `lacquer analyze --json` for one file (new reference; cmd_analyze.c). */
json_t *analysis_json(const char *path, const lq_analysis *a);
/* The findings of a check as a JSON array (new reference; cmd_check.c). */
json_t *findings_json(const lq_finding *f, size_t n);

#endif
