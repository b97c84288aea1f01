/* A stems file (docs/STEMS.md): the stems a mix is made of, each with its gain, mute,
 * pan, width and an optional chain of master-bus stages.  Strict YAML like presets. */
#ifndef LQ_CONFIG_STEMS_H
#define LQ_CONFIG_STEMS_H

#include <stddef.h>

#include "config/preset.h"

typedef struct lq_stem_spec {
    char *file;             /* resolved against the stems file's folder */
    char *name;
    double gain_db;
    int mute;
    double pan;             /* -1 (left) .. 1 (right); balance law, unity at centre */
    double width;           /* side scale: 0 mono, 1 as is, 2 twice as wide */
    lq_stage_spec *chain;   /* master-bus stages for this stem */
    size_t n_chain;
    const lq_node *node;    /* the entry, for error lines */
} lq_stem_spec;

typedef struct lq_stems_spec {
    char *file;
    char *title;            /* NULL: the stems file's name without extension */
    lq_stem_spec *stems;
    size_t n;
    lq_node *root;
} lq_stems_spec;

/* Parse and validate a stems file.  Errors: LQ_ERR_PRESET_NOT_FOUND (cannot open),
 * LQ_ERR_PRESET ("FILE:LINE:COL: key.path: what (expected ...)"), LQ_ERR_NOMEM. */
lq_error lq_stems_load(lq_stems_spec **out, const char *path, lq_diag *d);
void lq_stems_free(lq_stems_spec **s);

#endif
