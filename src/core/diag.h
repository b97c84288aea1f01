/* Diagnostics: one human-readable line that travels with an lq_error back to the
 * caller.  Owned by the caller (stack or handle); never static. */
#ifndef LQ_CORE_DIAG_H
#define LQ_CORE_DIAG_H

#include "lacquer/lacquer.h"

typedef struct lq_diag {
    char msg[1024];
} lq_diag;

/* Format msg (printf-style) into d (if d is not NULL) and return err. */
lq_error lq_diag_set(lq_diag *d, lq_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
