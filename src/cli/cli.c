/* The lacquer command line: errors, exit codes, the option parser and the help text,
 * all driven by the command tables (cli.h). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/suggest.h"
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

volatile sig_atomic_t cli_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

void cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_bar_progress(void *user, const char *phase, double frac)
{
    cli_bar *b = user;
    if (!b->on) return 0;
    int pct = (int)(frac * 100 + 0.5);
    if (strcmp(b->last, phase) == 0 && pct == b->last_pct) return 0;
    if (b->last[0] && strcmp(b->last, phase) != 0 && b->last_pct < 100) fputc('\n', stderr);
    b->last_pct = pct;
    int width = 30, fill = (int)(frac * width + 0.5);
    fprintf(stderr, "\r  %-14.14s [", phase);
    for (int i = 0; i < width; i++) fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %3d%%", pct);
    if (frac >= 1.0) fputc('\n', stderr);
    fflush(stderr);
    snprintf(b->last, sizeof b->last, "%s", phase);
    return 0;
}

void cli_bar_end(const cli_bar *b)
{
    if (b->on && b->last_pct >= 0 && b->last_pct < 100) fputc('\n', stderr);
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

const cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; i < cli_n_commands; i++)
        if (!strcmp(cli_commands[i]->name, name)) return cli_commands[i];
    return NULL;
}

/* ---- Parser ---------------------------------------------------------------------- */

void cli_parser_init(cli_parser *p, const cli_command *cmd, int argc, char **argv)
{
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->i = 1; /* argv[0] is the command name */
    p->no_more_options = 0;
}

int cli_next(cli_parser *p, int *opt, const char **value)
{
    *opt = -1;
    *value = NULL;
    if (p->i >= p->argc) return CLI_END;
    const char *a = p->argv[p->i++];
    if (p->no_more_options || a[0] != '-' || !a[1]) {
        *value = a;
        return CLI_OPERAND;
    }
    if (!strcmp(a, "--")) {
        p->no_more_options = 1;
        return cli_next(p, opt, value);
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        cli_print_help(p->cmd, stdout);
        return CLI_HELP;
    }
    for (size_t k = 0; k < p->cmd->n_options; k++) {
        const cli_option *o = &p->cmd->options[k];
        if (strcmp(a, o->flag) != 0 && !(o->alias && !strcmp(a, o->alias))) continue;
        *opt = (int)k;
        if (!o->arg) return CLI_OPTION;
        if (p->i >= p->argc) {
            cli_error("%s needs a value (see lacquer --help)", a);
            return CLI_BAD;
        }
        *value = p->argv[p->i++];
        return CLI_OPTION;
    }
    const char *flags[64];
    size_t n = 0;
    for (size_t k = 0; k < p->cmd->n_options && n < 64; k++) flags[n++] = p->cmd->options[k].flag;
    const char *near = lq_suggest(a, flags, n);
    if (near)
        cli_error("unknown option \"%s\" for %s (did you mean %s? see lacquer %s --help)", a,
                  p->cmd->name, near, p->cmd->name);
    else
        cli_error("unknown option \"%s\" for %s (see lacquer --help)", a, p->cmd->name);
    return CLI_BAD;
}

/* ---- Help -------------------------------------------------------------------------- */

enum { WIDTH = 88 };

/* Append one word to a synopsis, wrapping before WIDTH onto a line indented by indent. */
static void put_word(FILE *f, const char *w, int indent, int *col)
{
    int n = (int)strlen(w);
    if (*col > indent && *col + 1 + n > WIDTH) {
        fprintf(f, "\n%*s", indent, "");
        *col = indent;
    } else {
        fputc(' ', f);
        (*col)++;
    }
    fputs(w, f);
    *col += n;
}

/* Word-wrap text from column indent (where the cursor is) to WIDTH. */
static void put_text(FILE *f, const char *text, int indent)
{
    int col = indent - 1;
    char word[256];
    while (*text) {
        size_t n = strcspn(text, " ");
        if (n >= sizeof word) n = sizeof word - 1;
        memcpy(word, text, n);
        word[n] = '\0';
        if (n) put_word(f, word, indent, &col);
        text += n;
        while (*text == ' ') text++;
    }
}

void cli_print_synopsis(const cli_command *c, FILE *f)
{
    char head[128];
    snprintf(head, sizeof head, "lacquer %s", c->name);
    int indent = (int)strlen(head) + 1, col = (int)strlen(head);
    fputs(head, f);
    /* the operands are one unit ("MIX", "FILE...", "[OUT.wav]") */
    if (c->operands && c->operands[0]) put_word(f, c->operands, indent, &col);
    for (size_t k = 0; k < c->n_options; k++) {
        const cli_option *o = &c->options[k];
        char w[160];
        snprintf(w, sizeof w, "[%s%s%s]%s", o->flag, o->arg ? " " : "", o->arg ? o->arg : "",
                 o->repeat ? "..." : "");
        put_word(f, w, indent, &col);
    }
    fputc('\n', f);
}

void cli_print_help(const cli_command *c, FILE *f)
{
    fputs("usage: ", f);
    cli_print_synopsis(c, f);
    fprintf(f, "\n%c%s.\n", c->summary[0] >= 'a' && c->summary[0] <= 'z'
                                ? c->summary[0] - 'a' + 'A' : c->summary[0],
            c->summary + 1);
    if (c->details) fprintf(f, "\n%s", c->details);
    fputs("\nOptions:\n", f);
    int w = 12;
    for (size_t k = 0; k < c->n_options; k++) {
        const cli_option *o = &c->options[k];
        int n = (int)(strlen(o->flag) + (o->alias ? strlen(o->alias) + 2 : 0) +
                      (o->arg ? strlen(o->arg) + 1 : 0));
        if (n > w) w = n;
    }
    for (size_t k = 0; k <= c->n_options; k++) {
        char left[160];
        const char *help, *def = NULL;
        int repeat = 0;
        if (k < c->n_options) {
            const cli_option *o = &c->options[k];
            snprintf(left, sizeof left, "%s%s%s%s%s", o->alias ? o->alias : "",
                     o->alias ? ", " : "", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
            help = o->help;
            def = o->def;
            repeat = o->repeat;
        } else {
            snprintf(left, sizeof left, "-h, --help");
            help = "this help";
        }
        char text[512];
        snprintf(text, sizeof text, "%s%s%s%s%s", help, repeat ? " (repeatable)" : "",
                 def ? " [default: " : "", def ? def : "", def ? "]" : "");
        fprintf(f, "  %-*s ", w, left);
        put_text(f, text, w + 4);
        fputc('\n', f);
    }
    fprintf(f, "\nExample:\n  lacquer %s\n", c->example);
}

void cli_print_usage(FILE *f)
{
    fputs("usage: lacquer COMMAND [ARGS]   (lacquer help COMMAND: its options, defaults and "
          "an example)\n\n", f);
    for (size_t i = 0; i < cli_n_commands; i++) {
        cli_print_synopsis(cli_commands[i], f);
        fprintf(f, "    %s\n", cli_commands[i]->summary);
    }
    fputs("lacquer --help | --version\n"
          "\n"
          "Exit codes: 0 done, 1 a target not met, 2 usage, 3 bad input audio, 4 bad preset or\n"
          "target, 5 output exists or cannot be written, 6 internal error, 7 (check) the mix\n"
          "needs attention, 130 interrupted.\n",
          f);
}
