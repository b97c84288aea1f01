/* Fuzz target: a preset file (strict YAML, src/config/node.c + preset.c). */
#include <stdlib.h>

#include "fuzz_common.h"
#include "lacquer/lacquer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = lqf_write("preset.yaml", data, size);
    lq_preset *p = NULL;
    char err[1024];
    if (lq_preset_load(&p, path, lqf_preset_dir(), NULL, err, sizeof err) == LQ_OK) {
        free(lq_preset_describe(p));
        free(lq_preset_json(p));
        lq_preset_destroy(&p);
    }
    return 0;
}
