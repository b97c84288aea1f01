/* The output folder of a job, made like `mkdir -p` and unmade again if the job fails:
 * only the folders this run created are removed (deepest first, and only while empty),
 * so a failed run leaves the file system as it found it. */
#ifndef LQ_IO_OUTDIR_H
#define LQ_IO_OUTDIR_H

#include "core/diag.h"

typedef struct lq_outdir {
    char path[4096]; /* the folder as given, without trailing slashes */
    int created;     /* how many trailing components of path this run made */
} lq_outdir;

/* Make dir and its missing parents (mode 0755).  Errors (LQ_ERR_OUTPUT, message in d):
 * "DIR: cannot create the output folder (REASON)" (nothing made is left behind),
 * "DIR: is not a folder (expected an output folder)". */
lq_error lq_outdir_make(lq_outdir *o, const char *dir, lq_diag *d);
/* Remove the folders lq_outdir_make created (those still empty), deepest first. */
void lq_outdir_undo(lq_outdir *o);

#endif
