/* The mix check inside a mastering job (lq_job_check_mix): the same findings as `lacquer check`
 * (engine/check.c) on the input the job read, kept for the reports (report.json
 * "check", report.txt, report.html) and as one mix warning each. */
#include <stdio.h>

#include "engine/analyze.h"
#include "engine/job.h"

void lq_job_check_mix(lq_job *j)
{
    lq_meter_result *m = &j->in_meas;
    m->word_bits = j->in_bits;
    lq_analysis_from_meter(m, &j->in_analysis);
    size_t n = lq_check_analysis(&j->in_analysis, j->rules, j->findings, LQ_CHECK_MAX_FINDINGS);
    j->n_findings = n < LQ_CHECK_MAX_FINDINGS ? n : LQ_CHECK_MAX_FINDINGS;
    /* the stems' own warnings (a stem that clips) come first and stay: the findings
     * below are the sum's */
    j->n_mix_warnings = j->n_stem_warnings;
    for (size_t i = 0; i < j->n_findings && j->n_mix_warnings < LQ_MAX_WARNINGS; i++)
        snprintf(j->mix_warnings[j->n_mix_warnings++], sizeof j->mix_warnings[0], "%.318s; %.318s",
                 j->findings[i].message, j->findings[i].fix);
}

size_t lq_job_findings(const lq_job *j, lq_finding *out, size_t max)
{
    if (!j || !j->ran) return 0;
    for (size_t i = 0; i < j->n_findings && i < max; i++) out[i] = j->findings[i];
    return j->n_findings;
}

void lq_job_set_check_rules(lq_job *j, const lq_check_rules *rules)
{
    if (j) j->rules = rules;
}
