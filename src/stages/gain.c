/* gain: a static gain on the master bus.  `- gain: {gain_db: -1.5}`.
 * The smallest stage; a template for new ones. */
#include <math.h>
#include <stdlib.h>

#include "stage.h"

typedef struct gain_config {
    double gain_db;
} gain_config;

typedef struct gain_state {
    double g;
    int channels;
} gain_state;

static void gain_default(void *cfg)
{
    ((gain_config *)cfg)->gain_db = 0.0;
}

static lq_error gain_parse(void *cfg, const lq_node *map, lq_diag *d)
{
    static const char *const keys[] = {"gain_db", NULL};
    gain_config *c = cfg;
    lq_error e = lq_cfg_expect_map(map, keys, "gain stage", d);
    if (e) return e;
    return lq_cfg_number(map, "gain_db", -60.0, 24.0, "dB", &c->gain_db, d);
}

static int gain_is_identity(const void *cfg)
{
    return ((const gain_config *)cfg)->gain_db == 0.0;
}

static lq_error gain_create(void **state, const void *cfg, const lq_stage_env *env,
                            lq_diag *d)
{
    gain_state *s = calloc(1, sizeof *s);
    if (!s) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    s->g = pow(10.0, ((const gain_config *)cfg)->gain_db / 20.0);
    s->channels = env->channels;
    *state = s;
    return LQ_OK;
}

static size_t gain_latency(const void *state)
{
    (void)state;
    return 0;
}

static void gain_process(void *state, double *const *buf, size_t n)
{
    const gain_state *s = state;
    for (int c = 0; c < s->channels; c++)
        for (size_t i = 0; i < n; i++)
            buf[c][i] *= s->g;
}

static void gain_destroy(void *state)
{
    free(state);
}

const lq_stage_vt lq_stage_gain = {
    .name = "gain",
    .config_size = sizeof(gain_config),
    .config_default = gain_default,
    .config_parse = gain_parse,
    .config_free = NULL,
    .config_is_identity = gain_is_identity,
    .create = gain_create,
    .latency = gain_latency,
    .process = gain_process,
    .reset = NULL,
    .report = NULL,
    .destroy = gain_destroy,
};
