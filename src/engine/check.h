/* The mix check: rules (presets/rules/check.yaml, docs/CHECK.md) and findings; the
 * public side is lq_check_rules_load / lq_check_analysis in lacquer.h. */
#ifndef LQ_ENGINE_CHECK_H
#define LQ_ENGINE_CHECK_H

#include "core/diag.h"
#include "lacquer/lacquer.h"

#define MAX_PARAMS 2

enum {
    R_CLIPPING, R_HEADROOM, R_OVER_COMPRESSED, R_DC, R_LOW_END_PHASE, R_MONO, R_BALANCE,
    R_SUB_BASS, R_HARSH, R_BIT_DEPTH, R_SILENCE, R_LOUDNESS, R_COUNT
};

struct lq_check_rules {
    int enabled[R_COUNT];
    double p[R_COUNT][MAX_PARAMS]; /* parameters in the order of the rules table */
};

/* Fill r with the built-in defaults (the shipped rules file's values). */
void lq_check_rules_defaults(lq_check_rules *r);
/* Defaults, then the file at path (NULL: defaults only). */
lq_error lq_check_rules_read(lq_check_rules *r, const char *path, lq_diag *d);
int lq_check_rules_equal(const lq_check_rules *a, const lq_check_rules *b);

#endif
