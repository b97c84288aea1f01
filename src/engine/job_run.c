/* lq_job_run: one job through its phases (engine/job.h) with its own queue and
 * publisher, then its reports (report/: report.json, report.txt, report.html), published
 * beside the exports.  Any error or cancellation leaves the output folder as it was.
 * The engine's phases never write a report: this file sits above both. */
#include <stdio.h>

#include "engine/job.h"
#include "report/report.h"

static lq_error fail(lq_job *j, lq_error e, const char *msg)
{
    snprintf(j->errmsg, sizeof j->errmsg, "%s", msg && *msg ? msg : lq_strerror(e));
    return e;
}

lq_error lq_job_run(lq_job *j)
{
    lq_diag d = {{0}};
    if (!j || !j->input || !j->preset || !j->out_dir || j->n_targets == 0)
        return fail(j, LQ_ERR_ARG, "a job needs an input, a preset, an output folder and "
                                   "at least one target");
    lq_publisher pub;
    lq_tasks tasks = {0};
    lq_error e = lq_publisher_open(&pub, j->out_dir, j->force, &d);
    if (!e) e = lq_job_begin(j, &pub, &d);
    if (!e) e = lq_publisher_claim(&pub, "report.json", "report", j->input, NULL, &d);
    if (!e) e = lq_publisher_claim(&pub, "report.txt", "report", j->input, NULL, &d);
    if (!e && !j->no_html)
        e = lq_publisher_claim(&pub, "report.html", "report", j->input, NULL, &d);
    double t0 = lq_now_s();
    if (!e) e = lq_job_render_master(j, &d);
    j->time_master_s = lq_now_s() - t0;
    if (!e) lq_job_check_mix(j);
    if (!e) e = lq_job_add_rate_tasks(j, &tasks, &d);
    if (!e) e = lq_job_add_target_tasks(j, &tasks, &d);
    if (!e && lq_queue_run(&tasks, j->threads) != LQ_OK)
        e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
    if (!e) e = lq_job_collect(j, &d);
    if (!e) {
        j->ran = 1;
        e = lq_job_publish_exports(j, &pub, &d);
    }
    if (!e) {
        char *js = lq_job_report_json(j), *tx = lq_job_report_text(j);
        if (!js || !tx) e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
        if (!e) e = lq_publisher_text(&pub, "report.json", js, &d);
        if (!e) e = lq_publisher_text(&pub, "report.txt", tx, &d);
        free(js);
        free(tx);
    }
    if (!e && !j->no_html) { /* report/report_html.c */
        char *ht = lq_job_report_html(j);
        e = ht ? lq_publisher_text(&pub, "report.html", ht, &d)
               : lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
        free(ht);
    }
    /* hidden files go first: a folder this run made can only be removed when empty */
    lq_job_end(j, e);
    if (e) {
        lq_publisher_rollback(&pub);
        if (!d.msg[0]) snprintf(d.msg, sizeof d.msg, "%s", lq_strerror(e));
        fail(j, e, d.msg);
    }
    lq_tasks_free(&tasks);
    lq_publisher_free(&pub);
    return e;
}
