/* Fuzz target: a target file (strict YAML, src/config/target.c). */
#include <stdlib.h>

#include "fuzz_common.h"
#include "lacquer/lacquer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = lqf_write("target.yaml", data, size);
    lq_target *t = NULL;
    char err[1024];
    if (lq_target_load(&t, path, lqf_preset_dir(), NULL, err, sizeof err) == LQ_OK) {
        free(lq_target_json(t));
        lq_target_destroy(&t);
    }
    return 0;
}
