/* A growing string for text the library writes (reports, saved presets, canonical
 * forms, `set:` lines).  Zero-initialise it (lq_text t = {0}); after an allocation
 * failure every call is a no-op and lq_text_take returns NULL. */
#ifndef LQ_CORE_TEXT_H
#define LQ_CORE_TEXT_H

#include <stddef.h>

typedef struct lq_text {
    char *s;        /* NUL-terminated once anything was added */
    size_t len, cap;
    int oom;
} lq_text;

/* Append printf-formatted text. */
void lq_text_add(lq_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append n bytes / a string. */
void lq_text_put(lq_text *t, const char *s, size_t n);
void lq_text_str(lq_text *t, const char *s);
/* The malloc'd string ("" when nothing was added), or NULL after an allocation
 * failure (everything freed); t is emptied either way. */
char *lq_text_take(lq_text *t);

/* lq_utf8_invalid_at (lacquer.h) is defined in text.c: the first byte of the first
 * sequence that is not well-formed UTF-8 (RFC 3629), or -1. */

/* s with each byte outside valid UTF-8 read as Latin-1 (malloc'd; NULL: no memory). */
char *lq_utf8_latin1_fallback(const char *s);

#endif
