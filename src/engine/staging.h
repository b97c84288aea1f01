/* Input gain staging of the master bus: the mix is brought to the preset's reference
 * level (master.input_lufs, -18 LUFS by default) before the first master-bus stage and
 * the same gain is undone after the last, so the stages' thresholds work the same way
 * whatever level the mix was bounced at, and everything after the master bus (target
 * gain, album levels, the master spool's figures) sees the mix's own level. */
#ifndef LQ_ENGINE_STAGING_H
#define LQ_ENGINE_STAGING_H

#include "config/preset.h"
#include "config/stems.h"
#include "engine/meter.h"

typedef struct lq_staging {
    int wanted;          /* the preset stages its bus (master.input_lufs not null) */
    int applied;         /* a gain was applied and undone (bus not identity, loudness known) */
    double ref_lufs;     /* master.input_lufs */
    double input_lufs;   /* integrated loudness of the input (-inf: silent or too short) */
    double gain_db;      /* applied before the stages (ref - input); 0 when not applied */
    double gain, undo;   /* linear: gain and 1 / gain */
} lq_staging;

/* Decide the staging of p's bus for the mix at path (or the stems, summed as the master
 * bus gets them: engine/mixsrc.c): when the preset wants staging and the bus does
 * something (bus_identity 0), measure the mix's integrated loudness (libebur128, one
 * extra decode) and set the gain.  A mix without an integrated loudness (silent, shorter
 * than one 400 ms block) gets none.  The measuring read takes the loudness alone: the
 * input's full meter runs on the master bus's own read (engine/master.c).  Errors: those
 * of decoding the input; LQ_ERR_CANCELLED when cancelled(user) (may be NULL; polled once
 * per block) says so. */
lq_error lq_staging_plan(lq_staging *s, const lq_preset *p, int bus_identity, const char *path,
                         const lq_stems_spec *stems, int stems_pad,
                         int (*cancelled)(void *user), void *user, lq_diag *d);

/* Multiply n frames of `channels` planar channels by g in place. */
void lq_staging_scale(double *const *buf, int channels, size_t n, double g);

#endif
