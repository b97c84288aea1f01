/* The pieces of report.html shared by the job's page (report_html.c) and the album's
 * (report_album_html.c): one self-contained page (inline CSS, JS and SVG; a
 * Content-Security-Policy that forbids every remote load), the report.json object and
 * the measured series embedded as JSON, and one plotting script. */
#ifndef LQ_REPORT_HTML_H
#define LQ_REPORT_HTML_H

#include <jansson.h>

#include "engine/job.h"

/* The third-octave band centres (Hz) of the spectra, as a JSON array. */
json_t *lq_html_bands(void);
/* A job's files for the page: the mix, then every export, each with its name, its file
 * (a relative URL), its loudness, its level-matching gain and, when measured, its
 * short-term loudness series and spectrum. */
json_t *lq_html_job_files(const lq_job *j);

/* The page: "<!DOCTYPE html>" with the CSP and the CSS (light and dark, phone widths),
 * body (HTML), report and extra embedded as JSON (the references are taken), then one
 * <script> with the shared functions and the page's scripts in order after them:
 *   R (the embedded report), X (the extra data), C (colours), el/h/f, legend(id, ser),
 *   plot(id, ser, {xlog, xint, xlabel, ylabel, ymin, ymax}), tseries(series);
 *   stSeries(files), specSeries(files), grSeries(exports), mbSeries(stages) and their
 *   options PLOT_ST, PLOT_SPEC, PLOT_GR: the series of master's plots;
 *   the test hook (URL fragment #lqtest): lqTestPlots() -> {plots: {id: {hidden, lines,
 *   points, width, height, view_width, view_height}}}; lqTestDone(out) adds the
 *   resources fetched and the CSP and writes it into <pre id="lqtest-result">.
 * malloc'd; NULL when out of memory. */
char *lq_html_page(const char *body, json_t *report, json_t *extra, const char *const *scripts,
                   size_t n_scripts);

#endif
