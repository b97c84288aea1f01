/* lacquer batch MANIFEST [--out DIR] [--jobs N] [--shard I/N] [--plan] ...;
 * lacquer batch --merge DIR... [--out DIR]   (the work is lq_batch_*, docs/BATCH.md) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lacquer/lacquer.h"

#define MAX_MERGE 4096


typedef struct progress {
    int quiet;
    size_t done, total;
    char (*status)[24];     /* per plan job, for --dry-run */
} progress;

static void on_event(void *user, size_t index, const char *id, const char *status,
                     const char *line)
{
    progress *p = user;
    p->done++;
    if (p->status) snprintf(p->status[index], sizeof p->status[index], "%s", status);
    if (p->quiet) return;
    fprintf(stderr, "  [%zu/%zu] %s %-10s%s%s\n", p->done, p->total, id, status,
            line[0] ? " " : "", line);
}

static int parse_count(const char *opt, const char *v, long max, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > max) {
        cli_error("%s %s: expected a whole number from 1 to %ld", opt, v, max);
        return 0;
    }
    *out = n;
    return 1;
}

/* I/N from the scheduler's environment: a Slurm job array (SLURM_ARRAY_TASK_ID, minus
 * SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job
 * (JOB_COMPLETION_INDEX, with the count given by --shard-count). */
static int shard_from_env(long count_opt, char *spec, size_t len)
{
    const char *id = getenv("SLURM_ARRAY_TASK_ID"), *cnt = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *min = getenv("SLURM_ARRAY_TASK_MIN"), *k8s = getenv("JOB_COMPLETION_INDEX");
    if (id && *id) {
        if (!cnt || !*cnt) {
            cli_error("--shard-from-env: SLURM_ARRAY_TASK_ID is set but not "
                      "SLURM_ARRAY_TASK_COUNT (expected a Slurm job array, sbatch --array)");
            return 0;
        }
        long i = strtol(id, NULL, 10) - (min && *min ? strtol(min, NULL, 10) : 0);
        snprintf(spec, len, "%ld/%s", i, cnt);
        return 1;
    }
    if (k8s && *k8s) {
        if (count_opt <= 0) {
            cli_error("--shard-from-env: JOB_COMPLETION_INDEX is set; give the job's "
                      "completions with --shard-count N (expected the Indexed Job's count)");
            return 0;
        }
        snprintf(spec, len, "%s/%ld", k8s, count_opt);
        return 1;
    }
    cli_error("--shard-from-env: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set "
              "(expected to run as a Slurm array task or a Kubernetes Indexed Job)");
    return 0;
}

static int merge(const char **dirs, size_t n, const char *out, int json, int quiet)
{
    char err[2048];
    lq_batch_counts c;
    lq_error e = lq_batch_merge(dirs, n, out, &c, err, sizeof err);
    if (e) {
        cli_error("%s", err);
        return cli_exit_for(e);
    }
    const char *dir = out ? out : dirs[0];
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, json ? "batch.json" : "batch.txt");
    if (!quiet || json) {
        FILE *f = fopen(path, "r");
        if (f) {
            char buf[8192];
            size_t got;
            while ((got = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, got, stdout);
            fclose(f);
        }
        if (!json) printf("\nbatch.json and batch.txt are in %s/\n", dir);
    }
    return c.failed || c.not_met || c.cancelled ? LQ_EXIT_NOT_MET : LQ_EXIT_OK;
}

enum {
    O_OUT, O_JOBS, O_THREADS, O_FORCE, O_DRY, O_PLAN, O_SHARD, O_ENV, O_COUNT, O_MERGE,
    O_JSON, O_QUIET, N_OPTIONS
};

static const cli_option options[N_OPTIONS] = {
    [O_OUT] = {"--out", NULL, "DIR", "the manifest's folder",
               "output root: job folders (`out:`) and batch.json go there", 0, CLI_V_DIR},
    [O_JOBS] = {"--jobs", NULL, "N", "cores / --threads",
                "jobs run at once; exports do not depend on it", 0, CLI_V_NONE},
    [O_THREADS] = {"--threads", NULL, "N", "1", "threads of each job", 0, CLI_V_NONE},
    [O_FORCE] = {"--force", NULL, NULL, NULL, "redo every job, even those up to date", 0,
                 CLI_V_NONE},
    [O_DRY] = {"--dry-run", NULL, NULL, NULL,
               "say which jobs are up to date and which would run; write nothing", 0,
               CLI_V_NONE},
    [O_PLAN] = {"--plan", NULL, NULL, NULL,
                "print the expanded jobs, one JSON line each, with content-derived ids", 0,
                CLI_V_NONE},
    [O_SHARD] = {"--shard", NULL, "I/N", NULL,
                 "run slice I of N of the plan (inputs dealt by cost)", 0, CLI_V_NONE},
    [O_ENV] = {"--shard-from-env", NULL, NULL, NULL,
               "the slice from SLURM_ARRAY_TASK_ID/_COUNT or JOB_COMPLETION_INDEX", 0,
               CLI_V_NONE},
    [O_COUNT] = {"--shard-count", NULL, "N", NULL,
                 "the shard count with JOB_COMPLETION_INDEX (Kubernetes Indexed Job)", 0,
                 CLI_V_NONE},
    [O_MERGE] = {"--merge", NULL, NULL, NULL,
                 "the operands are shard output folders: gather their reports", 0,
                 CLI_V_NONE},
    [O_JSON] = {"--json", NULL, NULL, NULL, "print batch.json instead of the summary", 0,
                CLI_V_NONE},
    [O_QUIET] = {"--quiet", "-q", NULL, NULL, "no progress lines, no summary", 0, CLI_V_NONE},
};

static int run(const cli_command *self, int argc, char **argv)
{
    const char *manifest = NULL, *out = NULL, *shard = NULL, *v;
    const char **merge_dirs = NULL;
    size_t n_merge = 0;
    int json = 0, force = 0, dry = 0, plan = 0, quiet = 0, from_env = 0, merging = 0;
    long jobs = 0, threads = 1, shard_count = 0;
    int rc = LQ_EXIT_USAGE, opt, rv;
    lq_batch *b = NULL;
    char err[2048], envspec[64];
    merge_dirs = calloc((size_t)argc + 1, sizeof *merge_dirs);
    if (!merge_dirs) {
        cli_error("out of memory");
        return LQ_EXIT_INTERNAL;
    }
    const char **operands = calloc((size_t)argc + 1, sizeof *operands);
    size_t n_operands = 0;
    if (!operands) {
        free(merge_dirs);
        cli_error("out of memory");
        return LQ_EXIT_INTERNAL;
    }
    cli_parser ps;
    cli_parser_init(&ps, self, argc, argv);
    while ((rv = cli_next(&ps, &opt, &v)) != CLI_END) {
        if (rv == CLI_HELP) {
            rc = LQ_EXIT_OK;
            goto done;
        }
        if (rv == CLI_BAD) goto done;
        if (rv == CLI_OPERAND) {
            operands[n_operands++] = v;
            continue;
        }
        switch (opt) {
        case O_OUT: out = v; break;
        case O_SHARD: shard = v; break;
        case O_JOBS: if (!parse_count("--jobs", v, 256, &jobs)) goto done; break;
        case O_THREADS: if (!parse_count("--threads", v, 64, &threads)) goto done; break;
        case O_COUNT:
            if (!parse_count("--shard-count", v, 100000, &shard_count)) goto done;
            break;
        case O_FORCE: force = 1; break;
        case O_DRY: dry = 1; break;
        case O_PLAN: plan = 1; break;
        case O_ENV: from_env = 1; break;
        case O_MERGE: merging = 1; break;
        case O_JSON: json = 1; break;
        case O_QUIET: quiet = 1; break;
        }
    }
    if (merging) {
        for (size_t i = 0; i < n_operands; i++) merge_dirs[n_merge++] = operands[i];
    } else if (n_operands > 1) {
        cli_error("one manifest at a time: \"%s\" and \"%s\" (expected one MANIFEST, or "
                  "--merge DIR...)", operands[0], operands[1]);
        goto done;
    } else if (n_operands == 1) {
        manifest = operands[0];
    }
    if (merging) {
        if (n_merge == 0) {
            cli_error("--merge takes the shards' output folders and no manifest (usage: "
                      "lacquer batch --merge DIR... [--out DIR])");
            goto done;
        }
        rc = merge(merge_dirs, n_merge, out, json, quiet);
        goto done;
    }
    if (!manifest) {
        cli_error("batch needs a MANIFEST (usage: lacquer batch MANIFEST [--out DIR] "
                  "[--jobs N] [--shard I/N] [--plan] [--dry-run] [--force] [--json])");
        goto done;
    }
    if (shard && from_env) {
        cli_error("--shard and --shard-from-env: give one (expected I/N or the scheduler's "
                  "environment)");
        goto done;
    }
    if (from_env) {
        if (!shard_from_env(shard_count, envspec, sizeof envspec)) goto done;
        shard = envspec;
    }
    lq_error e = lq_batch_load(&b, manifest, cli_preset_dir(), out, err, sizeof err);
    if (e) {
        cli_error("%s", err);
        rc = cli_exit_for(e);
        goto done;
    }
    if (shard && (e = lq_batch_set_shard(b, shard, err, sizeof err)) != LQ_OK) {
        if (e == LQ_ERR_ARG) {
            cli_error("--%s", err);
            rc = LQ_EXIT_USAGE;
        } else {
            cli_error("%s", err);
            rc = cli_exit_for(e);
        }
        goto done;
    }
    if (plan) {
        for (size_t i = 0; i < lq_batch_job_count(b); i++) {
            if (!lq_batch_job_in_shard(b, i)) continue;
            char *line = lq_batch_job_json(b, i);
            if (!line) {
                cli_error("out of memory");
                rc = LQ_EXIT_INTERNAL;
                goto done;
            }
            puts(line);
            free(line);
        }
        rc = LQ_EXIT_OK;
        goto done;
    }
    lq_batch_set_parallel(b, (int)jobs, (int)threads);
    lq_batch_set_force(b, force);
    lq_batch_set_dry_run(b, dry);
    progress p = {.quiet = quiet || dry};
    if (dry && !(p.status = calloc(lq_batch_job_count(b) + 1, sizeof *p.status))) {
        cli_error("out of memory");
        rc = LQ_EXIT_INTERNAL;
        goto done;
    }
    for (size_t i = 0; i < lq_batch_job_count(b); i++) p.total += lq_batch_job_in_shard(b, i);
    lq_batch_set_events(b, on_event, &p);
    cli_catch_signals();
    lq_batch_set_cancel_flag(b, &cli_interrupted);
    e = lq_batch_run(b);
    if (e) {
        cli_error("%s", lq_batch_error_message(b));
        rc = cli_exit_for(e);
        free(p.status);
        goto done;
    }
    lq_batch_counts c;
    lq_batch_get_counts(b, &c);
    if (dry) {
        for (size_t i = 0; i < lq_batch_job_count(b); i++) {
            if (!lq_batch_job_in_shard(b, i)) continue;
            char *line = lq_batch_job_json(b, i);
            /* the plan line tells what; the status what would happen */
            printf("%-10s %s\n", p.status[i], line ? line : "");
            free(line);
        }
        free(p.status);
        printf("%zu of %zu jobs would run, %zu are up to date\n", c.would_run, c.in_shard,
               c.up_to_date);
        rc = LQ_EXIT_OK;
        goto done;
    }
    if (json) {
        char *js = lq_batch_report_json(b);
        if (js) fputs(js, stdout);
        free(js);
    } else if (!quiet) {
        char *tx = lq_batch_report_text(b);
        if (tx) fputs(tx, stdout);
        free(tx);
        const char *rp = lq_batch_report_path(b);
        printf("\n%zu ran, %zu up to date; report: %s\n", c.ran, c.up_to_date, rp ? rp : "");
    }
    rc = c.failed || c.not_met || c.cancelled ? LQ_EXIT_NOT_MET : LQ_EXIT_OK;
    free(p.status);
done:
    lq_batch_destroy(&b);
    free(merge_dirs);
    free(operands);
    return rc;
}

const cli_command cli_cmd_batch = {
    .name = "batch",
    .operands = "MANIFEST",
    .summary = "master a catalogue from a manifest: resumes, isolates failures, runs in "
               "parallel, shards",
    .details = "MANIFEST is YAML, or CSV when its name ends in .csv (docs/BATCH.md).  A job whose\n"
               "exports are present, intact and made from the same input bytes, preset, targets\n"
               "and version is kept; the others run.  With --merge, the operands are the output\n"
               "folders of shards (batch-shard-I-of-N.json): their reports become one batch.json.\n"
               "Exit codes: 0 every job done, 1 some job failed or missed a target (or is missing\n"
               "from a merge), 2 usage (a bad --shard), 3 no shard report to merge, 4 bad\n"
               "manifest (nothing started), 5 output root cannot be written, 130 interrupted.\n",
    .options = options,
    .n_options = N_OPTIONS,
    .example = "batch catalogue.yaml --out masters --jobs 2",
    .operand_value = CLI_V_FILE,
    .run = run,
};
