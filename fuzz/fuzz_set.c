/* Fuzz target: --set values.  Each line of the input is one KEY=VALUE; they are added
 * (src/config/overrides.c) and applied to a shipped preset and a shipped target. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "lacquer/lacquer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = lqf_strdup(data, size);
    lq_overrides *ov = NULL;
    if (lq_overrides_new(&ov) != LQ_OK) abort();
    char err[1024];
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (lq_overrides_add(ov, line, err, sizeof err) != LQ_OK) break;
    /* The first byte picks which preset/target the values land on. */
    static const char *const presets[] = {"gentle", "modern-loud", "transparent", "speech"};
    static const char *const targets[] = {"spotify", "cd", "mp3-320", "hires-96"};
    unsigned pick = size ? data[0] : 0;
    lq_preset *p = NULL;
    if (lq_preset_load(&p, presets[pick % 4], lqf_preset_dir(), ov, err, sizeof err) == LQ_OK) {
        free(lq_preset_describe(p));
        lq_preset_destroy(&p);
    }
    lq_target *t = NULL;
    if (lq_target_load(&t, targets[(pick / 4) % 4], lqf_preset_dir(), ov, err, sizeof err) ==
        LQ_OK) {
        free(lq_target_json(t));
        lq_target_destroy(&t);
    }
    lq_overrides_destroy(&ov);
    free(text);
    return 0;
}
