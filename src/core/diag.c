#include "core/diag.h"

#include <stdarg.h>
#include <stdio.h>

lq_error lq_diag_set(lq_diag *d, lq_error err, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}
