/* Every allocation of a short master with two targets made to fail, one at a time
 * (the fault-injection build, src/core/fault.h): each run ends in a clean error (or,
 * where the failure is absorbed, in complete exports), nothing is published, the input
 * is untouched, and the sanitizer build finds no leak. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sndfile.h>

#define LQ_FI_NO_RENAME
#include "core/fault.h"
#include "lacquer/lacquer.h"
#include "lqtest.h"
#include "synth.h"

static char *g_tmp;

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    return g_tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

/* Master input with `preset` to two targets into out, one thread; returns the error. */
static lq_error run(const char *input, const char *preset, const char *out)
{
    char err[1024];
    lq_preset *p = NULL;
    lq_target *t[2] = {NULL, NULL};
    lq_job *j = NULL;
    lq_error e = lq_preset_load(&p, preset, lqt_preset_dir(), NULL, err, sizeof err);
    if (!e) e = lq_target_load(&t[0], "cd", lqt_preset_dir(), NULL, err, sizeof err);
    if (!e) e = lq_target_load(&t[1], "tidal", lqt_preset_dir(), NULL, err, sizeof err);
    if (!e) e = lq_job_new(&j);
    if (!e) e = lq_job_set_input(j, input);
    if (!e) e = lq_job_set_preset(j, p);
    if (!e) e = lq_job_set_output_dir(j, out);
    if (!e) e = lq_job_add_target(j, t[0]);
    if (!e) e = lq_job_add_target(j, t[1]);
    if (!e) {
        lq_job_set_threads(j, 1);
        e = lq_job_run(j);
        if (e && !lq_job_error_message(j)[0]) e = LQ_ERR_COUNT; /* an error with no line */
    }
    lq_job_destroy(&j);
    lq_target_destroy(&t[0]);
    lq_target_destroy(&t[1]);
    lq_preset_destroy(&p);
    return e;
}

static void sweep(const char *preset)
{
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/mix.wav", g_tmp);
    snprintf(out, sizeof out, "%s/out", g_tmp);
    size_t n = 48000;
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    lqs_mix(l, r, n, 48000, 3, 0.9);
    const double *pl[2] = {l, r};
    assert_int_equal(lqt_write_wav(in, pl, 2, n, 48000, SF_FORMAT_PCM_24), 0);
    free(l);
    free(r);
    uint64_t in_hash = lqt_file_hash(in);

    lq_fi_arm(0, 0);
    assert_int_equal(run(in, preset, out), LQ_OK);
    long total = lq_fi_count();
    lqt_rmrf(out);
    assert_true(total > 10);
    long clean = 0, absorbed = 0;
    for (long k = 1; k <= total; k++) {
        lq_fi_arm(k, 0);
        lq_error e = run(in, preset, out);
        lq_fi_arm(0, 0);
        if (e == LQ_ERR_COUNT) fail_msg("allocation %ld: an error without a message", k);
        if (e) {
            /* nothing published, not even the folder */
            if (lqt_exists(out)) fail_msg("allocation %ld failed (%s): %s was left behind", k,
                                          lq_strerror(e), out);
            clean++;
        } else {
            /* the failure was absorbed (a fallback): the run is complete */
            char p[600];
            snprintf(p, sizeof p, "%s/report.json", out);
            if (!lqt_exists(p)) fail_msg("allocation %ld: success without report.json", k);
            absorbed++;
            lqt_rmrf(out);
        }
        assert_true(lqt_file_hash(in) == in_hash);
    }
    printf("%s: %ld allocations, each made to fail once: %ld clean errors, %ld absorbed, "
           "0 crashes, nothing left behind, input unchanged\n", preset, total, clean, absorbed);
}

static void test_alloc_sweep_transparent(void **state)
{
    (void)state;
    sweep("transparent");
}

static void test_alloc_sweep_gentle(void **state)
{
    (void)state;
    sweep("gentle");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alloc_sweep_transparent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_sweep_gentle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
