/* lacquer: the command-line front end of liblacquer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "lacquer/lacquer.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lacquer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_exit_for(int e)
{
    switch ((lq_error)e) {
    case LQ_OK: return LQ_EXIT_OK;
    case LQ_ERR_ARG: return LQ_EXIT_USAGE;
    case LQ_ERR_INPUT_UNREADABLE:
    case LQ_ERR_INPUT_TRUNCATED:
    case LQ_ERR_INPUT_CHANNELS:
    case LQ_ERR_INPUT_RATE:
    case LQ_ERR_INPUT_EMPTY:
    case LQ_ERR_INPUT_NONFINITE:
    case LQ_ERR_INPUT_MISMATCH: return LQ_EXIT_INPUT;
    case LQ_ERR_PRESET:
    case LQ_ERR_PRESET_NOT_FOUND: return LQ_EXIT_PRESET;
    case LQ_ERR_OUTPUT:
    case LQ_ERR_EXISTS: return LQ_EXIT_OUTPUT;
    case LQ_ERR_CANCELLED: return LQ_EXIT_INTERRUPTED;
    default: return LQ_EXIT_INTERNAL;
    }
}

/* Shipped presets: $LACQUER_PRESET_DIR, else the source tree of this build, else the
 * installed data folder. */
const char *cli_preset_dir(void)
{
    const char *env = getenv("LACQUER_PRESET_DIR");
    if (env && *env) return env;
    struct stat st;
    if (stat(LQ_SOURCE_PRESET_DIR, &st) == 0 && S_ISDIR(st.st_mode)) return LQ_SOURCE_PRESET_DIR;
    return LQ_INSTALL_PRESET_DIR;
}

static const char usage[] =
    "usage: lacquer COMMAND [ARGS]\n"
    "\n"
    "  lacquer master MIX [--preset NAME|FILE] [--target NAME|FILE]... [--out DIR]\n"
    "                 [--set KEY=VALUE]... [--title T] [--artist A] [--album A]\n"
    "                 [--json] [--quiet] [--force] [--threads N]\n"
    "      master a stereo (or mono) mix to one verified export per target\n"
    "  lacquer master --stems STEMS.yaml [--pad] [same options as above]\n"
    "      master from stems summed in lockstep, each with its own gain/chain\n"
    "  lacquer analyze FILE... [--json]   loudness, true peak, LRA, PLR, DC, phase, clipping\n"
    "  lacquer analyze --preset P         what a preset does: its stages and EQ curves\n"
    "  lacquer batch MANIFEST [--out DIR] [--jobs N] [--threads N] [--force] [--dry-run]\n"
    "                [--plan] [--shard I/N | --shard-from-env [--shard-count N]] [--json]\n"
    "      master a catalogue (docs/BATCH.md): resumes, isolates failures, runs in parallel\n"
    "  lacquer batch --merge DIR... [--out DIR]   gather shard reports into batch.json\n"
    "  lacquer presets                    the shipped chain presets\n"
    "  lacquer targets                    the shipped distribution targets\n"
    "  lacquer demo [OUT.wav] [--seconds S] [--rate HZ]   write the generated demo mix\n"
    "  lacquer --help | --version\n"
    "\n"
    "Exit codes: 0 done, 1 a target not met, 2 usage, 3 bad input audio, 4 bad preset or\n"
    "target, 5 output exists or cannot be written, 6 internal error, 130 interrupted.\n"
    "batch: 0 every job done, 1 some job failed or missed a target, 2 usage (a bad --shard),\n"
    "4 bad manifest (nothing started), 5 output folder cannot be written, 130 interrupted.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return LQ_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return LQ_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("lacquer %s\n", lq_version());
        return LQ_EXIT_OK;
    }
    if (!strcmp(cmd, "master")) return cmd_master(argc - 1, argv + 1);
    if (!strcmp(cmd, "analyze")) return cmd_analyze(argc - 1, argv + 1);
    if (!strcmp(cmd, "presets")) return cmd_list(argc - 1, argv + 1, 0);
    if (!strcmp(cmd, "targets")) return cmd_list(argc - 1, argv + 1, 1);
    if (!strcmp(cmd, "demo")) return cmd_demo(argc - 1, argv + 1);
    if (!strcmp(cmd, "batch")) return cmd_batch(argc - 1, argv + 1);
    cli_error("unknown command \"%s\" (expected master, analyze, batch, presets, targets, demo; "
              "see lacquer --help)", cmd);
    return LQ_EXIT_USAGE;
}
