/* The stage interface.  A stage is a const table of functions; the pipeline knows
 * stages only through it.  Adding a stage = one file in src/stages/ that defines
 * `const lq_stage_vt lq_stage_NAME` + one line in src/stages/stages.def.
 *
 * Audio is planar double, 1 or 2 channels, processed in place in blocks of at most
 * env->max_block frames (any size from 1 up: stages must give bit-identical output
 * whatever the block sizes).  A stage with latency L delays its output by exactly L
 * frames; the pipeline (src/engine/chain.c) skips the first L output frames and drains
 * the tail by feeding L frames of silence, so the chain output lines up with the input
 * sample for sample and has the same length.
 *
 * create() allocates everything; process() never allocates, never fails. */
#ifndef LQ_STAGE_H
#define LQ_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/node.h"
#include "core/diag.h"

typedef struct lq_stage_env {
    double sample_rate;
    int channels;         /* 1 or 2 */
    size_t max_block;     /* largest n passed to process() */
    uint64_t seed;        /* for stages with randomness (dither): derived from the input
                             and the target, so reruns are identical */
    int out_bits;         /* finishing chain: output word length (16, 24, 32 int; 0 for
                             float output); 0 on the master bus */
    size_t upstream_latency; /* latency of the stages before this one in its chain (set
                                by the chain): the first upstream_latency + latency()
                                output frames precede the input, for a stage's statistics */
} lq_stage_env;

typedef struct lq_stage_vt {
    const char *name;        /* key in the preset: "eq", "multiband", "limiter", "dither" */
    size_t config_size;      /* bytes of the stage's plain-data config struct */
    /* Fill cfg with defaults (cfg is config_size zeroed bytes). */
    void (*config_default)(void *cfg);
    /* Parse the stage's map (strictly: unknown keys, wrong types and out-of-range values
     * are errors via lq_cfg_*), on top of the defaults. */
    lq_error (*config_parse)(void *cfg, const lq_node *map, lq_diag *d);
    /* Free anything config_parse allocated inside cfg (may be NULL). */
    void (*config_free)(void *cfg);
    /* 1 when the stage, with this config, is the identity (so it can be skipped and the
     * signal's word length is kept).  May be NULL (never identity). */
    int (*config_is_identity)(const void *cfg);

    lq_error (*create)(void **state, const void *cfg, const lq_stage_env *env, lq_diag *d);
    size_t (*latency)(const void *state);
    void (*process)(void *state, double *const *buf, size_t n);
    /* Optional: reset to the just-created state (so a closed-loop pass can rerun). */
    void (*reset)(void *state);
    /* Optional: add the stage's figures to a JSON object (gain reduction, clips...). */
    void (*report)(const void *state, json_t *obj);
    void (*destroy)(void *state);
} lq_stage_vt;

/* The registry: src/stages/stages.def lists every stage once. */
#define LQ_STAGE(name) extern const lq_stage_vt lq_stage_##name;
#include "stages/stages.def"
#undef LQ_STAGE

/* Look a stage up by name; NULL if unknown. */
const lq_stage_vt *lq_stage_find(const char *name);
/* All stages, for listing: *count set to their number. */
const lq_stage_vt *const *lq_stage_all(size_t *count);

#endif
