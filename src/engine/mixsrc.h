/* The signal that feeds the master bus: one decoded mix file, or stems read and
 * processed in lockstep, block by block, and summed (docs/STEMS.md).  Memory is bounded
 * by the number of stems, never by the song's length. */
#ifndef LQ_ENGINE_MIXSRC_H
#define LQ_ENGINE_MIXSRC_H

#include <jansson.h>
#include <stddef.h>

#include "config/stems.h"
#include "core/diag.h"

typedef struct lq_mixsrc lq_mixsrc;

/* Open a mix file (stems == NULL) or a stems spec.  For stems every file is opened and
 * checked before any work: same sample rate, 1 or 2 channels (a mono stem sits in the
 * centre of a stereo sum), lengths within one block of the longest unless pad.
 * Errors as lq_audio_in_open, plus LQ_ERR_INPUT_MISMATCH naming the stem. */
lq_error lq_mixsrc_open(lq_mixsrc **out, const char *path, const lq_stems_spec *stems,
                        int pad, size_t max_block, lq_diag *d);

int lq_mixsrc_channels(const lq_mixsrc *s);
int lq_mixsrc_rate(const lq_mixsrc *s);
/* Word length of the source (0: float, lossy, or a sum of stems). */
int lq_mixsrc_word_bits(const lq_mixsrc *s);
/* Frames the source will deliver (from the headers; -1 when unknown). */
long long lq_mixsrc_frames(const lq_mixsrc *s);
/* "WAV (Microsoft)", "4 stems" ... */
const char *lq_mixsrc_format(const lq_mixsrc *s);

/* Read up to n (<= max_block) frames; *got = 0 at the end. */
lq_error lq_mixsrc_read(lq_mixsrc *s, double *const *planar, size_t n, size_t *got,
                        lq_diag *d);

/* Per stem, after the end: name, file, loudness, true peak, clipping runs and what its
 * chain did (a JSON array; NULL for a plain mix). */
json_t *lq_mixsrc_stems_report(const lq_mixsrc *s);
/* The k-th stem problem in plain words (a stem that clips), or NULL past the last. */
const char *lq_mixsrc_stem_warning(const lq_mixsrc *s, size_t k);

void lq_mixsrc_close(lq_mixsrc **s);

#endif
