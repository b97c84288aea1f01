/* lacquer album ALBUM.yaml [--target NAME|FILE]... [--out DIR] [--json] [--force]
 * [--threads N] [--quiet] [--no-html]: the same exit codes, progress, atomic publishing and Ctrl-C
 * rules as `master`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lacquer/lacquer.h"

#define DEFAULT_OUT "mastered"
#define MAX_TARGETS 64


enum { O_TARGET, O_OUT, O_JSON, O_QUIET, O_FORCE, O_THREADS, O_NO_HTML, O_EBUR128_PEAK, N_OPTIONS };

static const cli_option options[N_OPTIONS] = {
    [O_TARGET] = {"--target", NULL, "NAME|FILE", "the album file's targets",
                  "a deliverable: a shipped target (lacquer targets) or a YAML file; replaces "
                  "the album file's `targets`", 1, CLI_V_TARGET},
    [O_OUT] = {"--out", NULL, "DIR", DEFAULT_OUT,
               "output folder, created with its parents (removed again if the run fails)", 0,
               CLI_V_DIR},
    [O_JSON] = {"--json", NULL, NULL, NULL, "print the album report as JSON (docs/REPORT.md)", 0,
                CLI_V_NONE},
    [O_QUIET] = {"--quiet", "-q", NULL, NULL, "no progress and no report", 0, CLI_V_NONE},
    [O_FORCE] = {"--force", NULL, NULL, NULL, "overwrite existing files", 0, CLI_V_NONE},
    [O_THREADS] = {"--threads", NULL, "N", "the number of cores",
                   "worker threads, 1 to 64 (the files are identical whatever N)", 0, CLI_V_NONE},
    [O_NO_HTML] = {"--no-html", NULL, NULL, NULL,
                   "do not write report.html (the record's tables and each track's plots)", 0,
                   CLI_V_NONE},
    [O_EBUR128_PEAK] = {"--ebur128-peak", NULL, NULL, NULL,
                         "also measure each track's true peak with libebur128 (4x), a "
                         "cross-check of the 16x meter in report.json (slower)", 0, CLI_V_NONE},
};

static int run(const cli_command *self, int argc, char **argv)
{
    const char *file = NULL, *out = DEFAULT_OUT, *v;
    const char *target_args[MAX_TARGETS];
    int n_targets = 0, json = 0, quiet = 0, force = 0, threads = 0, no_html = 0;
    int ebur128_peak = 0;
    char err[1024];
    int opt, rv;
    cli_parser ps;
    cli_parser_init(&ps, self, argc, argv);
    while ((rv = cli_next(&ps, &opt, &v)) != CLI_END) {
        if (rv == CLI_HELP) return LQ_EXIT_OK;
        if (rv == CLI_BAD) return LQ_EXIT_USAGE;
        if (rv == CLI_OPERAND) {
            if (file) {
                cli_error("one album at a time: \"%s\" and \"%s\" (expected one ALBUM.yaml)",
                          file, v);
                return LQ_EXIT_USAGE;
            }
            file = v;
        } else if (opt == O_TARGET) {
            if (n_targets == MAX_TARGETS) {
                cli_error("too many --target options (at most %d)", MAX_TARGETS);
                return LQ_EXIT_USAGE;
            }
            target_args[n_targets++] = v;
        } else if (opt == O_OUT) {
            out = v;
        } else if (opt == O_THREADS) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 1 || t > 64) {
                cli_error("--threads %s: expected a whole number from 1 to 64", v);
                return LQ_EXIT_USAGE;
            }
            threads = (int)t;
        } else if (opt == O_JSON) {
            json = 1;
        } else if (opt == O_QUIET) {
            quiet = 1;
        } else if (opt == O_NO_HTML) {
            no_html = 1;
        } else if (opt == O_EBUR128_PEAK) {
            ebur128_peak = 1;
        } else {
            force = 1;
        }
    }
    if (!file) {
        cli_error("album needs an album file (usage: lacquer album ALBUM.yaml "
                  "[--target NAME|FILE]... [--out DIR])");
        return LQ_EXIT_USAGE;
    }
    const char *dir = cli_preset_dir();
    lq_album *album = NULL;
    lq_target *targets[MAX_TARGETS] = {0};
    size_t nt = 0;
    int rc = LQ_EXIT_INTERNAL;
    lq_error e = lq_album_new(&album);
    if (e) {
        cli_error("%s", lq_strerror(e));
        return LQ_EXIT_INTERNAL;
    }
    e = lq_album_load(album, file, dir, err, sizeof err);
    if (e) {
        cli_error("%s", err);
        rc = cli_exit_for(e);
        goto cleanup;
    }
    for (int i = 0; i < n_targets; i++) {
        e = lq_target_load(&targets[nt], target_args[i], dir, NULL, err, sizeof err);
        if (!e) {
            e = lq_album_add_target(album, targets[nt]);
            nt++;
            if (e) snprintf(err, sizeof err, "%s", lq_strerror(e));
        }
        if (e) {
            cli_error("%s", err);
            rc = cli_exit_for(e);
            goto cleanup;
        }
    }
    if ((e = lq_album_set_output_dir(album, out))) {
        cli_error("%s", lq_strerror(e));
        rc = cli_exit_for(e);
        goto cleanup;
    }
    lq_album_set_force(album, force);
    lq_album_set_html(album, !no_html);
    lq_album_set_ebur128_peak(album, ebur128_peak);
    lq_album_set_threads(album, threads);
    cli_bar b = {.on = !quiet && isatty(2), .last_pct = -1};
    lq_album_set_progress(album, cli_bar_progress, &b);
    cli_catch_signals();
    lq_album_set_cancel_flag(album, &cli_interrupted);

    e = lq_album_run(album);
    cli_bar_end(&b);
    if (e) {
        if (e == LQ_ERR_CANCELLED && cli_interrupted)
            cli_error("interrupted: nothing was written to %s", out);
        else
            cli_error("%s", lq_album_error_message(album));
        rc = cli_exit_for(e);
        goto cleanup;
    }
    if (json) {
        char *js = lq_album_report_json(album);
        if (js) fputs(js, stdout);
        free(js);
    } else if (!quiet) {
        char *tx = lq_album_report_text(album);
        if (tx) fputs(tx, stdout);
        free(tx);
        printf("\nTrack files, report.json%s report.txt are in %s/\n",
               no_html ? " and" : ", report.html and", out);
    }
    rc = lq_album_targets_met(album) ? LQ_EXIT_OK : LQ_EXIT_NOT_MET;
cleanup:
    lq_album_destroy(&album);
    for (size_t i = 0; i < nt; i++) lq_target_destroy(&targets[i]);
    return rc;
}

const cli_command cli_cmd_album = {
    .name = "album",
    .operands = "ALBUM.yaml",
    .summary = "master an album file's tracks to per-track files and a CD image with CUE/TOC",
    .details = "ALBUM.yaml lists the tracks and the release (docs/ALBUM.md).  Every track is\n"
               "mastered to every target; per target one continuous render (dithered once)\n"
               "is split into per-track files; a cd target also writes the whole image with\n"
               "its CUE sheet and cdrdao TOC.  Nothing is overwritten without --force, and on\n"
               "any error or Ctrl-C nothing is left behind.\n",
    .options = options,
    .n_options = N_OPTIONS,
    .example = "album record.yaml --out masters/record",
    .operand_value = CLI_V_FILE,
    .run = run,
};
