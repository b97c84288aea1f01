/* A spool: interleaved 64-bit float audio in an anonymous temporary file (created in
 * the output folder and unlinked at once, so nothing can be left behind, even after a
 * crash).  The master bus is rendered once into a spool; each output rate gets one;
 * finishing chains read them back, each with its own reader (safe across threads). */
#ifndef LQ_IO_SPOOL_H
#define LQ_IO_SPOOL_H

#include <stddef.h>

#include "core/diag.h"

typedef struct lq_spool {
    int fd;
    int channels;
    double rate;
    long long frames;      /* written so far */
    double *buf;           /* interleave buffer for writes */
    size_t cap;            /* frames */
    size_t fill;           /* frames buffered, not yet written */
    char *dir;             /* the folder it lives in, for error lines */
} lq_spool;

typedef struct lq_spool_reader {
    const lq_spool *s;
    long long pos;
    double *buf;
    size_t cap;
} lq_spool_reader;

lq_error lq_spool_create(lq_spool *s, const char *dir, int channels, double rate,
                         lq_diag *d);
lq_error lq_spool_write(lq_spool *s, const double *const *planar, size_t n, lq_diag *d);
/* Flush buffered frames; call once after the last write, before reading. */
lq_error lq_spool_finish(lq_spool *s, lq_diag *d);
void lq_spool_destroy(lq_spool *s);

lq_error lq_spool_reader_init(lq_spool_reader *r, const lq_spool *s, size_t max_block);
/* Read up to n frames (n <= max_block) from the current position; returns frames read
 * (0 at the end), or (size_t)-1 on an I/O error. */
size_t lq_spool_read(lq_spool_reader *r, double *const *planar, size_t n);
void lq_spool_reader_rewind(lq_spool_reader *r);
/* Read on from frame `frame` (clamped to 0..frames): random access for the album's
 * continuous render (album/assemble.c). */
void lq_spool_reader_seek(lq_spool_reader *r, long long frame);
void lq_spool_reader_free(lq_spool_reader *r);

#endif
