/* Fuzz target: a stems file (src/config/stems.c). */
#include "config/stems.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = lqf_write("stems.yaml", data, size);
    lq_stems_spec *s = NULL;
    lq_diag d;
    if (lq_stems_load(&s, path, &d) == LQ_OK) lq_stems_free(&s);
    return 0;
}
