/* lacquer master MIX [--preset P] [--target T]... [--out DIR] [--set K=V]... */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lacquer/lacquer.h"

#define DEFAULT_PRESET "gentle"
#define DEFAULT_OUT "mastered"
#define MAX_TARGETS 64

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct bar {
    int on;
    char last[64];
    int last_pct;
} bar;

/* One line per phase, redrawn only when its whole percentage changes. */
static int progress(void *user, const char *phase, double frac)
{
    bar *b = user;
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

static int need_value(int i, int argc, char **argv)
{
    if (i + 1 >= argc) {
        cli_error("%s needs a value (see lacquer --help)", argv[i]);
        return 0;
    }
    return 1;
}

int cmd_master(int argc, char **argv)
{
    const char *mix = NULL, *stems = NULL, *preset_arg = DEFAULT_PRESET, *out = DEFAULT_OUT;
    const char *title = NULL, *artist = NULL, *album = NULL;
    const char *target_args[MAX_TARGETS];
    int n_targets = 0, json = 0, quiet = 0, force = 0, threads = 0, pad = 0;
    long block = -1;
    char err[1024];
    lq_overrides *ov = NULL;
    if (lq_overrides_new(&ov) != LQ_OK) {
        cli_error("out of memory");
        return LQ_EXIT_INTERNAL;
    }
    int rc = LQ_EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--preset")) {
            if (!need_value(i, argc, argv)) goto done;
            preset_arg = argv[++i];
        } else if (!strcmp(a, "--stems")) {
            if (!need_value(i, argc, argv)) goto done;
            stems = argv[++i];
        } else if (!strcmp(a, "--pad")) {
            pad = 1;
        } else if (!strcmp(a, "--target")) {
            if (!need_value(i, argc, argv)) goto done;
            if (n_targets == MAX_TARGETS) {
                cli_error("too many --target options (at most %d)", MAX_TARGETS);
                goto done;
            }
            target_args[n_targets++] = argv[++i];
        } else if (!strcmp(a, "--out")) {
            if (!need_value(i, argc, argv)) goto done;
            out = argv[++i];
        } else if (!strcmp(a, "--set")) {
            if (!need_value(i, argc, argv)) goto done;
            if (lq_overrides_add(ov, argv[++i], err, sizeof err) != LQ_OK) {
                cli_error("%s", err);
                rc = LQ_EXIT_PRESET;
                goto done;
            }
        } else if (!strcmp(a, "--title") || !strcmp(a, "--artist") || !strcmp(a, "--album")) {
            if (!need_value(i, argc, argv)) goto done;
            const char *v = argv[++i];
            if (a[2] == 't') title = v;
            else if (a[3] == 'r') artist = v;
            else album = v;
        } else if (!strcmp(a, "--threads")) {
            if (!need_value(i, argc, argv)) goto done;
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 1 || t > 64) {
                cli_error("--threads %s: expected a whole number from 1 to 64", argv[i]);
                goto done;
            }
            threads = (int)t;
        } else if (!strcmp(a, "--block-size")) { /* for tests: 0 = random sizes */
            if (!need_value(i, argc, argv)) goto done;
            char *end;
            block = strtol(argv[++i], &end, 10);
            if (*end || block < 0 || block > 4096) {
                cli_error("--block-size %s: expected 0 (random) to 4096", argv[i]);
                goto done;
            }
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = 1;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else if (a[0] == '-' && a[1]) {
            cli_error("unknown option \"%s\" for master (see lacquer --help)", a);
            goto done;
        } else if (!mix) {
            mix = a;
        } else {
            cli_error("one mix at a time: \"%s\" and \"%s\" (expected one MIX file)", mix, a);
            goto done;
        }
    }
    if (mix && stems) {
        cli_error("a MIX file or --stems, not both: \"%s\" and --stems %s", mix, stems);
        goto done;
    }
    if (!mix && !stems) {
        cli_error("master needs a MIX file (usage: lacquer master MIX [--preset NAME|FILE] "
                  "[--target NAME|FILE]... [--out DIR])");
        goto done;
    }

    const char *dir = cli_preset_dir();
    lq_preset *preset = NULL;
    lq_target *targets[MAX_TARGETS] = {0};
    size_t nt = 0;
    lq_job *job = NULL;
    lq_error e = lq_preset_load(&preset, preset_arg, dir, ov, err, sizeof err);
    if (e) {
        cli_error("%s", err);
        rc = cli_exit_for(e);
        goto done;
    }
    if (n_targets == 0) {
        for (size_t i = 0; i < lq_preset_target_count(preset) && i < MAX_TARGETS; i++)
            target_args[n_targets++] = lq_preset_target_name(preset, i);
        if (n_targets == 0) {
            cli_error("preset %s names no targets (expected --target NAME|FILE)",
                      lq_preset_name(preset));
            rc = LQ_EXIT_USAGE;
            goto cleanup;
        }
    }
    for (int i = 0; i < n_targets; i++) {
        e = lq_target_load(&targets[nt], target_args[i], dir, ov, err, sizeof err);
        if (e) {
            cli_error("%s", err);
            rc = cli_exit_for(e);
            goto cleanup;
        }
        nt++;
    }
    if (!(e = lq_job_new(&job)) && stems &&
        (e = lq_job_set_stems(job, stems, pad, err, sizeof err))) {
        cli_error("%s", err);
        rc = cli_exit_for(e);
        goto cleanup;
    }
    if (e || (!stems && (e = lq_job_set_input(job, mix))) ||
        (e = lq_job_set_preset(job, preset)) || (e = lq_job_set_output_dir(job, out)) ||
        (e = lq_job_set_metadata(job, title, artist, album))) {
        cli_error("%s", lq_strerror(e));
        rc = cli_exit_for(e);
        goto cleanup;
    }
    for (size_t i = 0; i < nt; i++)
        if ((e = lq_job_add_target(job, targets[i]))) {
            cli_error("%s", lq_strerror(e));
            rc = cli_exit_for(e);
            goto cleanup;
        }
    lq_job_set_force(job, force);
    lq_job_set_threads(job, threads);
    if (block >= 0) lq_job_set_block_size(job, (size_t)block);
    bar b = {.on = !quiet && isatty(2), .last_pct = -1};
    lq_job_set_progress(job, progress, &b);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    lq_job_set_cancel_flag(job, &interrupted);

    e = lq_job_run(job);
    if (b.on && b.last_pct >= 0 && b.last_pct < 100) fputc('\n', stderr);
    if (e) {
        if (e == LQ_ERR_CANCELLED && interrupted)
            cli_error("interrupted: nothing was written to %s", out);
        else
            cli_error("%s", lq_job_error_message(job));
        rc = cli_exit_for(e);
        goto cleanup;
    }
    if (json) {
        char *js = lq_job_report_json(job);
        if (js) fputs(js, stdout);
        free(js);
    } else if (!quiet) {
        char *tx = lq_job_report_text(job);
        if (tx) fputs(tx, stdout);
        free(tx);
        printf("\nExports, report.json and report.txt are in %s/\n", out);
    }
    rc = lq_job_targets_met(job) ? LQ_EXIT_OK : LQ_EXIT_NOT_MET;
cleanup:
    lq_job_destroy(&job);
    for (size_t i = 0; i < nt; i++) lq_target_destroy(&targets[i]);
    lq_preset_destroy(&preset);
done:
    lq_overrides_destroy(&ov);
    return rc;
}
