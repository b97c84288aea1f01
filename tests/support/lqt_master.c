/* A driver, not an instrument: master a file through liblacquer's public API, as the
 * CLI does, for the tests that check what comes out. */
#include <stdio.h>
#include <stdlib.h>

#include "lacquer/lacquer.h"
#include "lqtest.h"

const char *lqt_preset_dir(void)
{
    const char *env = getenv("LACQUER_PRESET_DIR");
    return env && env[0] ? env : LQ_SOURCE_DIR "/presets";
}

int lqt_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int lqt_master(const char *input, const char *preset, const char *const *targets, size_t n,
               const char *outdir, int threads, long block)
{
    char err[1024];
    lq_preset *p = NULL;
    lq_target *t[32] = {0};
    lq_job *j = NULL;
    size_t nt = 0;
    int rc = -1;
    if (n > 32) {
        fprintf(stderr, "lqt_master: at most 32 targets\n");
        return -1;
    }
    if (lq_preset_load(&p, preset, lqt_preset_dir(), NULL, err, sizeof err)) {
        fprintf(stderr, "lqt_master: preset: %s\n", err);
        goto done;
    }
    if (lq_job_new(&j) || lq_job_set_input(j, input) || lq_job_set_preset(j, p) ||
        lq_job_set_output_dir(j, outdir)) {
        fprintf(stderr, "lqt_master: cannot set up the job\n");
        goto done;
    }
    for (; nt < n; nt++) {
        if (lq_target_load(&t[nt], targets[nt], lqt_preset_dir(), NULL, err, sizeof err)) {
            fprintf(stderr, "lqt_master: target: %s\n", err);
            goto done;
        }
        if (lq_job_add_target(j, t[nt])) goto done;
    }
    if (threads > 0) lq_job_set_threads(j, threads);
    if (block >= 0) lq_job_set_block_size(j, (size_t)block);
    if (lq_job_run(j)) {
        fprintf(stderr, "lqt_master: %s\n", lq_job_error_message(j));
        goto done;
    }
    rc = 0;
done:
    lq_job_destroy(&j);
    for (size_t i = 0; i < nt; i++) lq_target_destroy(&t[i]);
    if (nt < n && t[nt]) lq_target_destroy(&t[nt]);
    lq_preset_destroy(&p);
    return rc;
}

int lqt_master_set(const char *input, const char *preset, const char *const *sets, size_t n_sets,
                   const char *target, const char *outdir)
{
    char err[1024];
    lq_overrides *ov = NULL;
    lq_preset *p = NULL;
    lq_target *t = NULL;
    lq_job *j = NULL;
    int rc = -1;
    if (lq_overrides_new(&ov)) goto done;
    for (size_t i = 0; i < n_sets; i++)
        if (lq_overrides_add(ov, sets[i], err, sizeof err)) {
            fprintf(stderr, "lqt_master_set: %s\n", err);
            goto done;
        }
    if (lq_preset_load(&p, preset, lqt_preset_dir(), ov, err, sizeof err) ||
        lq_target_load(&t, target, lqt_preset_dir(), ov, err, sizeof err)) {
        fprintf(stderr, "lqt_master_set: %s\n", err);
        goto done;
    }
    if (lq_job_new(&j) || lq_job_set_input(j, input) || lq_job_set_preset(j, p) ||
        lq_job_set_output_dir(j, outdir) || lq_job_add_target(j, t)) {
        fprintf(stderr, "lqt_master_set: cannot set up the job\n");
        goto done;
    }
    if (lq_job_run(j)) {
        fprintf(stderr, "lqt_master_set: %s\n", lq_job_error_message(j));
        goto done;
    }
    rc = 0;
done:
    lq_job_destroy(&j);
    lq_target_destroy(&t);
    lq_preset_destroy(&p);
    lq_overrides_destroy(&ov);
    return rc;
}
