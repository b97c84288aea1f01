#include <string.h>

#include "stage.h"

static const lq_stage_vt *const all_stages[] = {
#define LQ_STAGE(name) &lq_stage_##name,
#include "stages/stages.def"
#undef LQ_STAGE
};

const lq_stage_vt *lq_stage_find(const char *name)
{
    for (size_t i = 0; i < sizeof all_stages / sizeof all_stages[0]; i++)
        if (strcmp(all_stages[i]->name, name) == 0)
            return all_stages[i];
    return NULL;
}

const lq_stage_vt *const *lq_stage_all(size_t *count)
{
    *count = sizeof all_stages / sizeof all_stages[0];
    return all_stages;
}
