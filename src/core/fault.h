/* Fault injection, for tests only (cmake -DLQ_FAULT_INJECTION=ON, used by the
 * sanitizer build).  This header is force-included into every library C source in that
 * build, ahead of everything: it renames malloc, calloc, realloc and fftw_malloc (their
 * declarations in <stdlib.h> and <fftw3.h> included later, and every call) to counters
 * that make the N-th allocation fail.  It includes no system header, so a source's own
 * feature macros (_GNU_SOURCE) still take effect.  No library source mentions it; a
 * normal build never sees it. */
#ifndef LQ_CORE_FAULT_H
#define LQ_CORE_FAULT_H

#include <stddef.h>

void *lq_fi_malloc(size_t n);
void *lq_fi_calloc(size_t n, size_t size);
void *lq_fi_realloc(void *p, size_t n);
void *lq_fi_fftw_malloc(size_t n);

/* Fail the n-th allocation from now on (1 = the next one), and every one after it
 * when `sticky`; 0 disarms.  Counting starts again at each call. */
void lq_fi_arm(long n, int sticky);
/* Allocations counted since the last lq_fi_arm (armed or not). */
long lq_fi_count(void);
/* Allocations made to fail since the last lq_fi_arm. */
long lq_fi_failed(void);

#ifndef LQ_FI_NO_RENAME /* tests include this header for lq_fi_arm only */
#define malloc lq_fi_malloc
#define calloc lq_fi_calloc
#define realloc lq_fi_realloc
#define fftw_malloc lq_fi_fftw_malloc
#endif

#endif
