/* A growing string (text.h). */
#include "core/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lacquer/lacquer.h"

static int reserve(lq_text *t, size_t more)
{
    if (t->oom) return -1;
    if (t->len + more + 1 <= t->cap) return 0;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + more + 1) cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) {
        t->oom = 1;
        return -1;
    }
    t->s = s;
    t->cap = cap;
    return 0;
}

void lq_text_add(lq_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->oom = 1;
        return;
    }
    if (reserve(t, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void lq_text_put(lq_text *t, const char *s, size_t n)
{
    if (reserve(t, n)) return;
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

void lq_text_str(lq_text *t, const char *s)
{
    lq_text_put(t, s, strlen(s));
}

char *lq_text_take(lq_text *t)
{
    char *s = t->s;
    if (t->oom) {
        free(s);
        s = NULL;
    } else if (!s) {
        s = calloc(1, 1);
    }
    *t = (lq_text){0};
    return s;
}

long lq_utf8_invalid_at(const char *s)
{
    if (!s) return -1;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *start = p;
        unsigned c = *p++;
        int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0) return (long)(start - (const unsigned char *)s);
        unsigned cp = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
        for (int k = 0; k < n; k++, p++) {
            if ((*p & 0xC0) != 0x80) return (long)(start - (const unsigned char *)s);
            cp = (cp << 6) | (*p & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return (long)(start - (const unsigned char *)s);
    }
    return -1;
}

/* A copy of s with every byte that is not part of valid UTF-8 read as ISO 8859-1
 * (Latin-1: byte b is U+00b), the usual legacy encoding of file names; NULL when out
 * of memory. */
char *lq_utf8_latin1_fallback(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(2 * n + 1), *o = out;
    if (!out) return NULL;
    const char *p = s;
    while (*p) {
        long bad = lq_utf8_invalid_at(p);
        size_t good = bad < 0 ? strlen(p) : (size_t)bad;
        memcpy(o, p, good);
        o += good;
        p += good;
        if (bad < 0) break;
        /* lq_utf8_invalid_at stops at the first byte of a bad sequence: that byte alone
         * is taken as Latin-1, the rest is looked at again */
        unsigned char c = (unsigned char)*p++;
        *o++ = (char)(0xC0 | (c >> 6));
        *o++ = (char)(0x80 | (c & 0x3F));
    }
    *o = 0;
    return out;
}
