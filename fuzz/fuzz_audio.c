/* Fuzz target: the audio input path.  The bytes are an input file; it is opened and
 * decoded with every check (src/io/audio_in.c), and when it decodes to a short signal
 * (<= 0.25 s) it is mastered (targets flac-archive and cd) into a scratch folder that is
 * emptied again: with preset transparent, or gentle (EQ, multiband, limiter) when the
 * input is at most 0.1 s at <= 48 kHz and a bit of it says so, to keep each run well
 * under the 10 s timeout on a loaded machine. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "io/audio_in.h"
#include "lacquer/lacquer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lq_preset *g_presets[2];
static lq_target *g_targets[2];
static char g_out[1024];

static void setup(void)
{
    char err[1024];
    if (lq_preset_load(&g_presets[0], "transparent", lqf_preset_dir(), NULL, err, sizeof err) ||
        lq_preset_load(&g_presets[1], "gentle", lqf_preset_dir(), NULL, err, sizeof err) ||
        lq_target_load(&g_targets[0], "flac-archive", lqf_preset_dir(), NULL, err, sizeof err) ||
        lq_target_load(&g_targets[1], "cd", lqf_preset_dir(), NULL, err, sizeof err)) {
        fprintf(stderr, "fuzz_audio: %s\n", err);
        abort();
    }
    snprintf(g_out, sizeof g_out, "%s/out", lqf_scratch());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_out[0]) setup();
    const char *path = lqf_write("input.wav", data, size);
    lq_audio_in in;
    lq_diag d;
    enum { BLOCK = 1024 };
    long long total = 0;
    int rate = 0;
    int ok = 0;
    if (lq_audio_in_open(&in, path, BLOCK, &d) == LQ_OK) {
        double buf[2][BLOCK];
        double *planar[2] = {buf[0], buf[1]};
        size_t got = 0;
        ok = 1;
        /* At most 10 s of decoded audio, whatever the header says. */
        while (total < (long long)in.rate * 10) {
            if (lq_audio_in_read(&in, planar, BLOCK, &got, &d) != LQ_OK) {
                ok = 0;
                break;
            }
            if (!got) break;
            total += (long long)got;
        }
        ok = ok && total > 0 && total <= in.rate / 4;
        rate = in.rate;
        lq_audio_in_close(&in);
    }
    if (!ok) return 0;
    lq_job *j = NULL;
    if (lq_job_new(&j) != LQ_OK) abort();
    lq_error e = lq_job_set_input(j, path);
    int gentle = (size & 1) && rate <= 48000 && total <= rate / 10;
    if (!e) e = lq_job_set_preset(j, g_presets[gentle]);
    if (!e) e = lq_job_set_output_dir(j, g_out);
    if (!e) e = lq_job_add_target(j, g_targets[0]);
    if (!e) e = lq_job_add_target(j, g_targets[1]);
    if (!e) {
        lq_job_set_threads(j, 1);
        lq_job_set_force(j, 1);
        e = lq_job_run(j);
        if (e && !lq_job_error_message(j)[0]) abort(); /* an error must say what */
        if (!e) {
            free(lq_job_report_json(j));
            free(lq_job_report_text(j));
        }
    }
    lq_job_destroy(&j);
    lqf_clear_dir(g_out);
    return 0;
}
