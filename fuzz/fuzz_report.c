/* Fuzz target: metadata through a whole job.  The input's lines are title, artist and
 * album (any bytes); a short generated mix is mastered with them (preset transparent,
 * targets flac-archive and cd: Vorbis comments, ID3v2 + RIFF INFO, and the {title} of
 * the export names), then report.json and report.txt are built.  The output folder is
 * emptied after each run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "lacquer/lacquer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lq_preset *g_preset;
static lq_target *g_targets[2];
static char g_in[1024], g_out[1024];

static void setup(void)
{
    char err[1024];
    if (lq_preset_load(&g_preset, "transparent", lqf_preset_dir(), NULL, err, sizeof err) ||
        lq_target_load(&g_targets[0], "flac-archive", lqf_preset_dir(), NULL, err, sizeof err) ||
        lq_target_load(&g_targets[1], "cd", lqf_preset_dir(), NULL, err, sizeof err)) {
        fprintf(stderr, "fuzz_report: %s\n", err);
        abort();
    }
    snprintf(g_in, sizeof g_in, "%s/mix.wav", lqf_scratch());
    if (lqf_make_wav(g_in, 44100, 2, 2205) != 0) abort();
    snprintf(g_out, sizeof g_out, "%s/out", lqf_scratch());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_preset) setup();
    char *text = lqf_strdup(data, size);
    const char *field[3] = {0};
    char *s = text;
    for (int i = 0; i < 3 && s; i++) {
        field[i] = s;
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        s = nl ? nl + 1 : NULL;
    }
    lq_job *j = NULL;
    if (lq_job_new(&j) != LQ_OK) abort();
    lq_error e = lq_job_set_input(j, g_in);
    if (!e) e = lq_job_set_preset(j, g_preset);
    if (!e) e = lq_job_set_output_dir(j, g_out);
    if (!e) e = lq_job_add_target(j, g_targets[0]);
    if (!e) e = lq_job_add_target(j, g_targets[1]);
    if (!e) e = lq_job_set_metadata(j, field[0], field[1], field[2]);
    if (!e) {
        lq_job_set_threads(j, 1);
        lq_job_set_force(j, 1);
        e = lq_job_run(j);
        if (e && !lq_job_error_message(j)[0]) abort(); /* an error must say what */
        if (!e) {
            char *json = lq_job_report_json(j), *txt = lq_job_report_text(j);
            if (!json || !txt) abort();
            free(json);
            free(txt);
        }
    }
    lq_job_destroy(&j);
    lqf_clear_dir(g_out);
    free(text);
    return 0;
}
