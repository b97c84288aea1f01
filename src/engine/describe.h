#ifndef LQ_ENGINE_DESCRIBE_H
#define LQ_ENGINE_DESCRIBE_H

#include <jansson.h>

#include "config/preset.h"

/* The design curve of an eq stage at third-octave frequencies, as JSON (new
 * reference), or NULL for other stages. */
json_t *lq_describe_stage_json(const lq_stage_spec *s);

#endif
