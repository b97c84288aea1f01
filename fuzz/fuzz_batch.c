/* Fuzz target: a batch manifest (src/batch/manifest.c through lq_batch_load): YAML, or
 * the CSV form when the first byte is odd.  Inputs named in the seeds (a.wav, b.wav and
 * the glob m*.wav) exist in the scratch folder, so globs, job folding, the plan's ids and
 * sharding run too.  Nothing is mastered. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "lacquer/lacquer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int g_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_ready) {
        const char *names[] = {"a.wav", "b.wav", "m1.wav", "m2.wav"};
        for (int i = 0; i < 4; i++) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", lqf_scratch(), names[i]);
            if (lqf_make_wav(p, 44100, 2, 4410) != 0) abort();
        }
        g_ready = 1;
    }
    int csv = size > 0 && (data[0] & 1);
    const char *path = lqf_write(csv ? "cat.csv" : "cat.yaml", csv ? data + 1 : data,
                                 csv ? size - 1 : size);
    lq_batch *b = NULL;
    char err[1024];
    if (lq_batch_load(&b, path, lqf_preset_dir(), lqf_scratch(), err, sizeof err) == LQ_OK) {
        for (size_t i = 0; i < lq_batch_job_count(b); i++) {
            free(lq_batch_job_json(b, i));
            (void)lq_batch_job_id(b, i);
        }
        if (lq_batch_set_shard(b, "1/3", err, sizeof err) == LQ_OK)
            for (size_t i = 0; i < lq_batch_job_count(b); i++) (void)lq_batch_job_in_shard(b, i);
        lq_batch_destroy(&b);
    }
    return 0;
}
