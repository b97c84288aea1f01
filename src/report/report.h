/* Reports: report.json (schema in docs/REPORT.md) and report.txt, built from a job's
 * results.  The public entry points are lq_job_report_json / lq_job_report_text. */
#ifndef LQ_REPORT_REPORT_H
#define LQ_REPORT_REPORT_H

#include <jansson.h>

#include "engine/job.h"

/* The report as a JSON object (new reference). */
json_t *lq_report_build(const lq_job *j);
/* A report object as the text of report.json (indented, 10 significant digits, a newline
 * at the end); takes r's reference.  malloc'd; NULL when out of memory (or r is NULL). */
char *lq_report_dump(json_t *r);

#endif
