/* lacquer master MIX [--preset P] [--target T]... [--out DIR] [--set K=V]... */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lacquer/lacquer.h"

#define DEFAULT_PRESET "gentle"
#define DEFAULT_OUT "mastered"
#define MAX_TARGETS 64


/* Append printf text to buf[*off..len), keeping it NUL-terminated when it is full. */
static void add(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    if (*off >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (k > 0) *off += (size_t)k < len - *off ? (size_t)k : len - *off - 1;
}

static double num(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

/* With --quiet and a missed target: one stderr line naming each missed target and the
 * requirements it failed, from the report (docs/REPORT.md). */
static void say_missed(const lq_job *job, const char *out)
{
    char *js = lq_job_report_json(job);
    json_t *r = js ? json_loads(js, 0, NULL) : NULL;
    free(js);
    json_t *exports = json_object_get(r, "exports");
    char line[2048];
    size_t off = 0, n_missed = 0, i;
    json_t *ex;
    json_array_foreach(exports, i, ex) {
        if (json_is_true(json_object_get(ex, "met"))) continue;
        json_t *req = json_object_get(ex, "requirements");
        json_t *lo = json_object_get(req, "loudness"), *tp = json_object_get(req, "true_peak");
        json_t *cl = json_object_get(req, "no_clipping");
        add(line, sizeof line, &off, "%s%s:", n_missed++ ? "; " : "",
            json_string_value(json_object_get(ex, "target")));
        const char *sep = " ";
        if (json_is_false(json_object_get(lo, "pass"))) {
            add(line, sizeof line, &off, "%sloudness %.2f LUFS (expected %.2f +/- %.2f LU", sep,
                num(lo, "measured_lufs"), num(lo, "target_lufs"), num(lo, "tolerance_lu"));
            double short_lu = num(ex, "shortfall_lu");
            if (short_lu > 0)
                add(line, sizeof line, &off, "; the true-peak ceiling stopped the gain %.2f LU "
                    "short", short_lu);
            add(line, sizeof line, &off, ")");
            sep = ", ";
        }
        if (json_is_false(json_object_get(tp, "pass"))) {
            add(line, sizeof line, &off, "%strue peak %.2f dBTP (expected at most %.2f)", sep,
                num(tp, "measured_dbtp"), num(tp, "ceiling_dbtp"));
            sep = ", ";
        }
        if (json_is_false(json_object_get(cl, "pass"))) {
            add(line, sizeof line, &off, "%s%lld clipped samples (expected none)", sep,
                (long long)json_integer_value(json_object_get(cl, "clipped_samples")));
            sep = ", ";
        }
        size_t k;
        json_t *cc;
        json_array_foreach(json_object_get(req, "codec_checks"), k, cc) {
            if (!json_is_false(json_object_get(cc, "pass"))) continue;
            add(line, sizeof line, &off, "%s%s round trip %.2f dBTP (expected at most %.2f)",
                sep, json_string_value(json_object_get(cc, "codec")),
                num(cc, "true_peak_dbtp"), num(tp, "ceiling_dbtp"));
            sep = ", ";
        }
        if (sep[0] == ' ') add(line, sizeof line, &off, " see the report");
    }
    if (n_missed)
        cli_error("%zu of %zu targets not met (report: %s/report.txt): %s", n_missed,
                  json_array_size(exports), out, line);
    else
        cli_error("a target was not met (report: %s/report.txt)", out);
    json_decref(r);
}

enum {
    O_PRESET, O_TARGET, O_OUT, O_SET, O_TITLE, O_ARTIST, O_ALBUM, O_JSON, O_QUIET, O_FORCE,
    O_THREADS, O_STEMS, O_PAD, O_BLOCK, O_NO_HTML, O_EBUR128_PEAK, O_RULES, O_REFERENCE, O_WEIGHT,
    O_STRENGTH, O_WIDTH, O_MAX_BOOST, O_MAX_CUT, O_SAVE_PRESET, N_OPTIONS
};

static const cli_option options[N_OPTIONS] = {
    [O_PRESET] = {"--preset", NULL, "NAME|FILE", DEFAULT_PRESET,
                  "the mastering chain: a shipped preset (lacquer presets) or a YAML file",
                  0, CLI_V_PRESET},
    [O_TARGET] = {"--target", NULL, "NAME|FILE", "the preset's targets",
                  "a deliverable: a shipped target (lacquer targets) or a YAML file", 1,
                  CLI_V_TARGET},
    [O_OUT] = {"--out", NULL, "DIR", DEFAULT_OUT,
               "output folder, created with its parents (removed again if the run fails)", 0,
               CLI_V_DIR},
    [O_SET] = {"--set", NULL, "KEY=VALUE", NULL,
               "override one preset or target key, validated as in the file", 1, CLI_V_NONE},
    [O_TITLE] = {"--title", NULL, "T", "the MIX file name", "title tag and {title} of file names",
                 0, CLI_V_NONE},
    [O_ARTIST] = {"--artist", NULL, "A", NULL, "artist tag", 0, CLI_V_NONE},
    [O_ALBUM] = {"--album", NULL, "A", NULL, "album tag", 0, CLI_V_NONE},
    [O_JSON] = {"--json", NULL, NULL, NULL, "print the report as JSON (docs/REPORT.md)", 0,
                CLI_V_NONE},
    [O_QUIET] = {"--quiet", "-q", NULL, NULL,
                 "no progress and no report; one stderr line if a target is missed", 0,
                 CLI_V_NONE},
    [O_FORCE] = {"--force", NULL, NULL, NULL, "overwrite existing exports", 0, CLI_V_NONE},
    [O_THREADS] = {"--threads", NULL, "N", "the number of cores",
                   "worker threads, 1 to 64 (the files are identical whatever N)", 0, CLI_V_NONE},
    [O_STEMS] = {"--stems", NULL, "STEMS.yaml", NULL,
                 "master from stems instead of one MIX: each stem decoded, run through its own "
                 "chain and summed in lockstep before the master bus (docs/STEMS.md)", 0,
                 CLI_V_FILE},
    [O_PAD] = {"--pad", NULL, NULL, NULL,
               "with --stems: pad stems shorter than the longest with silence instead of "
               "refusing them", 0, CLI_V_NONE},
    [O_BLOCK] = {"--block-size", NULL, "N", "4096",
                 "frames per processing block, 0 = random sizes (for tests: same output)", 0,
                 CLI_V_NONE},
    [O_NO_HTML] = {"--no-html", NULL, NULL, NULL,
                   "do not write report.html (plots and the level-matched A/B player)", 0,
                   CLI_V_NONE},
    [O_EBUR128_PEAK] = {"--ebur128-peak", NULL, NULL, NULL,
                         "also measure the input's true peak with libebur128 (4x), a "
                         "cross-check of the 16x meter in report.json (slower)", 0, CLI_V_NONE},
    [O_RULES] = {"--rules", NULL, "FILE", "presets/rules/check.yaml",
                 "the mix check's thresholds (docs/CHECK.md) for the findings atop the report",
                 0, CLI_V_FILE},
    [O_REFERENCE] = {"--reference", NULL, "REF", NULL,
                     "match the tone and loudness of a reference record; several are averaged "
                     "(docs/REFERENCE.md)", 1, CLI_V_FILE},
    [O_WEIGHT] = {"--weight", NULL, "W", "1",
                  "weight of the --reference just before it in the average (more than 0)", 1,
                  CLI_V_NONE},
    [O_STRENGTH] = {"--match-strength", NULL, "0..1", "1",
                    "how much of the reference's tone to apply (0: level only)", 0, CLI_V_NONE},
    [O_WIDTH] = {"--width-strength", NULL, "0..1", "0",
                 "how far the side follows the reference's side-to-mid balance per band", 0,
                 CLI_V_NONE},
    [O_MAX_BOOST] = {"--max-boost", NULL, "DB", "6",
                     "largest boost per band of the matching eq (0..24 dB)", 0, CLI_V_NONE},
    [O_MAX_CUT] = {"--max-cut", NULL, "DB", "6",
                   "largest cut per band of the matching eq (0..24 dB)", 0, CLI_V_NONE},
    [O_SAVE_PRESET] = {"--save-preset", NULL, "FILE", NULL,
                       "also write the whole chain (with the matching eq and level) as a "
                       "preset that masters the same without the reference", 0, CLI_V_FILE},
};

/* A number from 0 to hi for an option, or -1 after an error line. */
static double opt_number(const char *flag, const char *v, double hi)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= 0.0 && x <= hi)) {
        cli_error("%s %s: expected a number from 0 to %g", flag, v, hi);
        return -1.0;
    }
    return x;
}

static int run(const cli_command *self, int argc, char **argv)
{
    const char *mix = NULL, *stems = NULL, *preset_arg = DEFAULT_PRESET, *out = DEFAULT_OUT;
    const char *title = NULL, *artist = NULL, *album = NULL, *rules_arg = NULL;
    const char *target_args[MAX_TARGETS];
    int n_targets = 0, json = 0, quiet = 0, force = 0, threads = 0, pad = 0, no_html = 0;
    int ebur128_peak = 0;
    const char *refs[16], *save_preset = NULL;
    double weights[16], strength = -1.0, width = -1.0, max_boost = -1.0, max_cut = -1.0;
    int n_refs = 0;
    long block = -1;
    char err[1024];
    lq_overrides *ov = NULL;
    if (lq_overrides_new(&ov) != LQ_OK) {
        cli_error("out of memory");
        return LQ_EXIT_INTERNAL;
    }
    int rc = LQ_EXIT_USAGE, opt, r;
    const char *v;
    cli_parser ps;
    cli_parser_init(&ps, self, argc, argv);
    while ((r = cli_next(&ps, &opt, &v)) != CLI_END) {
        if (r == CLI_HELP) {
            rc = LQ_EXIT_OK;
            goto done;
        }
        if (r == CLI_BAD) goto done;
        if (r == CLI_OPERAND) {
            if (mix) {
                cli_error("one mix at a time: \"%s\" and \"%s\" (expected one MIX file)", mix,
                          v);
                goto done;
            }
            mix = v;
            continue;
        }
        switch (opt) {
        case O_PRESET: preset_arg = v; break;
        case O_TARGET:
            if (n_targets == MAX_TARGETS) {
                cli_error("too many --target options (at most %d)", MAX_TARGETS);
                goto done;
            }
            target_args[n_targets++] = v;
            break;
        case O_OUT: out = v; break;
        case O_SET:
            if (lq_overrides_add(ov, v, err, sizeof err) != LQ_OK) {
                cli_error("%s", err);
                rc = LQ_EXIT_PRESET;
                goto done;
            }
            break;
        case O_TITLE: title = v; break;
        case O_ARTIST: artist = v; break;
        case O_ALBUM: album = v; break;
        case O_JSON: json = 1; break;
        case O_QUIET: quiet = 1; break;
        case O_FORCE: force = 1; break;
        case O_STEMS: stems = v; break;
        case O_PAD: pad = 1; break;
        case O_NO_HTML: no_html = 1; break;
        case O_EBUR128_PEAK: ebur128_peak = 1; break;
        case O_RULES: rules_arg = v; break;
        case O_REFERENCE:
            if (n_refs == 16) {
                cli_error("too many --reference options (at most 16)");
                goto done;
            }
            refs[n_refs] = v;
            weights[n_refs++] = 1.0;
            break;
        case O_WEIGHT: {
            char *end;
            double w = strtod(v, &end);
            if (!n_refs) {
                cli_error("--weight %s: no --reference before it (expected --reference REF "
                          "--weight W)", v);
                goto done;
            }
            if (end == v || *end || !(w > 0.0 && w <= 1000.0)) {
                cli_error("--weight %s: expected a number more than 0, at most 1000", v);
                goto done;
            }
            weights[n_refs - 1] = w;
            break;
        }
        case O_STRENGTH:
            if ((strength = opt_number("--match-strength", v, 1.0)) < 0) goto done;
            break;
        case O_WIDTH:
            if ((width = opt_number("--width-strength", v, 1.0)) < 0) goto done;
            break;
        case O_MAX_BOOST:
            if ((max_boost = opt_number("--max-boost", v, 24.0)) < 0) goto done;
            break;
        case O_MAX_CUT:
            if ((max_cut = opt_number("--max-cut", v, 24.0)) < 0) goto done;
            break;
        case O_SAVE_PRESET: save_preset = v; break;
        case O_THREADS: {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 1 || t > 64) {
                cli_error("--threads %s: expected a whole number from 1 to 64", v);
                goto done;
            }
            threads = (int)t;
            break;
        }
        case O_BLOCK: {
            char *end;
            block = strtol(v, &end, 10);
            if (*end || block < 0 || block > 4096) {
                cli_error("--block-size %s: expected 0 (random) to 4096", v);
                goto done;
            }
            break;
        }
        default: goto done;
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
    lq_check_rules *rules = NULL;
    lq_error e = lq_preset_load(&preset, preset_arg, dir, ov, err, sizeof err);
    if (e) {
        cli_error("%s", err);
        rc = cli_exit_for(e);
        goto done;
    }
    if (rules_arg && (e = lq_check_rules_load(&rules, rules_arg, err, sizeof err))) {
        cli_error("%s", err);
        rc = cli_exit_for(e);
        goto cleanup;
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
    /* tags must be UTF-8: one line naming the option and the byte, exit 2 */
    const char *tag_val[3] = {title, artist, album}, *tag_opt[3] = {"--title", "--artist",
                                                                    "--album"};
    for (int k = 0; k < 3; k++) {
        long at = lq_utf8_invalid_at(tag_val[k]);
        if (at >= 0) {
            cli_error("%s: invalid UTF-8 at byte offset %ld (0x%02x) (expected UTF-8 text)",
                      tag_opt[k], at, (unsigned char)tag_val[k][at]);
            rc = LQ_EXIT_USAGE;
            goto cleanup;
        }
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
        cli_error("%s", job && lq_job_error_message(job)[0] ? lq_job_error_message(job)
                                                            : lq_strerror(e));
        rc = cli_exit_for(e);
        goto cleanup;
    }
    for (int i = 0; i < n_refs; i++)
        if ((e = lq_job_add_reference(job, refs[i], weights[i], err, sizeof err))) {
            cli_error("%s", err);
            rc = cli_exit_for(e);
            goto cleanup;
        }
    if ((e = lq_job_set_match(job, strength, width)) ||
        (e = lq_job_set_match_limits(job, max_boost, max_cut, -1.0, -1.0))) {
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
    lq_job_set_html(job, !no_html);
    lq_job_set_ebur128_peak(job, ebur128_peak);
    lq_job_set_check_rules(job, rules);
    lq_job_set_threads(job, threads);
    if (block >= 0) lq_job_set_block_size(job, (size_t)block);
    cli_bar b = {.on = !quiet && isatty(2), .last_pct = -1};
    lq_job_set_progress(job, cli_bar_progress, &b);
    cli_catch_signals();
    lq_job_set_cancel_flag(job, &cli_interrupted);

    e = lq_job_run(job);
    cli_bar_end(&b);
    if (e) {
        if (e == LQ_ERR_CANCELLED && cli_interrupted)
            cli_error("interrupted: nothing was written to %s", out);
        else
            cli_error("%s", lq_job_error_message(job));
        rc = cli_exit_for(e);
        goto cleanup;
    }
    if (save_preset && (e = lq_job_save_preset(job, save_preset, err, sizeof err))) {
        cli_error("%s", err);
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
        printf("\nExports, report.json, report.txt%s are in %s/\n",
               no_html ? "" : " and report.html", out);
    }
    rc = lq_job_targets_met(job) ? LQ_EXIT_OK : LQ_EXIT_NOT_MET;
    if (rc == LQ_EXIT_NOT_MET && quiet) say_missed(job, out);
cleanup:
    lq_job_destroy(&job);
    lq_check_rules_destroy(&rules);
    for (size_t i = 0; i < nt; i++) lq_target_destroy(&targets[i]);
    lq_preset_destroy(&preset);
done:
    lq_overrides_destroy(&ov);
    return rc;
}

const cli_command cli_cmd_master = {
    .name = "master",
    .operands = "MIX",
    .summary = "master a stereo (or mono) mix, or stems, to one verified export per target",
    .details = "MIX is any stereo or mono file libsndfile reads (WAV, FLAC, AIFF, ...).  Each\n"
               "export is re-measured from the written file and checked against its target;\n"
               "report.json, report.txt and report.html (plots, a level-matched A/B player)\n"
               "go beside the exports, the mix check's findings first.  Nothing is overwritten\n"
               "without --force, and on any error or Ctrl-C nothing is left behind.  Instead\n"
               "of MIX, --stems STEMS.yaml masters from stems (docs/STEMS.md).\n",
    .options = options,
    .n_options = N_OPTIONS,
    .example = "master mix.wav --preset warm --target spotify --target cd "
               "--out masters/2026/single",
    .operand_value = CLI_V_FILE,
    .run = run,
};
