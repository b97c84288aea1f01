/* Input gain staging of the master bus: the mix is brought to the preset's reference
 * level (master.input_lufs, -18 LUFS by default) before the first master-bus stage and
 * the same gain is undone after the last, so the stages' thresholds work the same way
 * whatever level the mix was bounced at, and everything after the master bus (target
 * gain, album levels, the master spool's figures) sees the mix's own level. */
#ifndef LQ_ENGINE_STAGING_H
#define LQ_ENGINE_STAGING_H

#include "config/preset.h"

typedef struct lq_staging {
    int wanted;          /* the preset stages its bus (master.input_lufs not null) */
    int applied;         /* a gain was applied and undone (bus not identity, loudness known) */
    double ref_lufs;     /* master.input_lufs */
    double input_lufs;   /* integrated loudness of the input (-inf: silent or too short) */
    double gain_db;      /* applied before the stages (ref - input); 0 when not applied */
    double gain, undo;   /* linear: gain and 1 / gain */
} lq_staging;

/* Decide the staging of p's bus for the file at path: when the preset wants staging
 * and the bus does something (bus_identity 0), measure the file's integrated loudness
 * (libebur128, one decode: every input check of io/audio_in.c applies) and set the gain.
 * A mix without an integrated loudness (silent, shorter than one 400 ms block) gets
 * none.  Errors: those of decoding the input. */
lq_error lq_staging_plan(lq_staging *s, const lq_preset *p, const char *path, int bus_identity,
                         lq_diag *d);

/* Multiply n frames of `channels` planar channels by g in place. */
void lq_staging_scale(double *const *buf, int channels, size_t n, double g);

#endif
