/* The publisher: the one place where a run's files appear in the output folder.
 * A run (a job, an album, a batch entry) first claims every final path it will write
 * (distinct names, never an input file, nothing overwritten without force), does all
 * its work into hidden files, then publishes them; on any error or cancellation it
 * rolls back: every file it published is removed and a folder it created is removed
 * again, so the output folder is left as it was. */
#ifndef LQ_ENGINE_PUBLISH_H
#define LQ_ENGINE_PUBLISH_H

#include <stddef.h>

#include "core/diag.h"
#include "io/audio_out.h"
#include "io/outdir.h"

typedef struct lq_publisher {
    char *dir;
    int force;
    lq_outdir made_dir;     /* the folders (dir and parents) this run created */
    char **claimed;         /* final paths, in claim order */
    char **claimed_by;      /* who claims each (a target name, "report") */
    size_t n_claimed;
    char **published;       /* final paths published so far */
    size_t n_published;
} lq_publisher;

/* Make sure dir exists (creating it and its missing parents, as mkdir -p would). */
lq_error lq_publisher_open(lq_publisher *p, const char *dir, int force, lq_diag *d);

/* Claim dir/name for `who`: refused when another claim has the same path, when the path
 * is the file `input` (may be NULL) itself, or when it exists and force is off.
 * *path_out (may be NULL) gets a malloc'd copy of the full path. */
lq_error lq_publisher_claim(lq_publisher *p, const char *name, const char *who,
                            const char *input, char **path_out, lq_diag *d);

/* Publish a closed hidden export under its claimed final path. */
lq_error lq_publisher_export(lq_publisher *p, lq_audio_out *o, const char *path, lq_diag *d);
/* Write text atomically (hidden temporary, fsync, rename) as dir/name. */
lq_error lq_publisher_text(lq_publisher *p, const char *name, const char *text, lq_diag *d);

/* Undo everything published (and the folders this run made). */
void lq_publisher_rollback(lq_publisher *p);
void lq_publisher_free(lq_publisher *p);

/* "DIR/NAME", malloc'd (NULL when out of memory). */
char *lq_path_join(const char *dir, const char *name);

#endif
