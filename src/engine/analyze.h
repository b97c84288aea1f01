/* The public lq_analysis from the meter's figures (engine/meter.h). */
#ifndef LQ_ENGINE_ANALYZE_H
#define LQ_ENGINE_ANALYZE_H

#include <stdlib.h>

#include "engine/meter.h"
#include "lacquer/lacquer.h"

void lq_analysis_from_meter(const lq_meter_result *r, lq_analysis *out);

#endif
