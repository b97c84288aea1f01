/* Fault injection, for tests only (cmake -DLQ_FAULT_INJECTION=ON, used by the
 * sanitizer build).  This header is force-included into every library source in that
 * build: it includes the allocators' own headers first, then routes malloc, calloc,
 * realloc and fftw_malloc of the library's code through counters that make the N-th
 * allocation fail.  No library source mentions it; a normal build never sees it. */
#ifndef LQ_CORE_FAULT_H
#define LQ_CORE_FAULT_H

#include <stddef.h>
#include <stdlib.h>

#include <fftw3.h>

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

#ifndef LQ_FAULT_IMPL
#define malloc(n) lq_fi_malloc(n)
#define calloc(n, s) lq_fi_calloc(n, s)
#define realloc(p, n) lq_fi_realloc(p, n)
#define fftw_malloc(n) lq_fi_fftw_malloc(n)
#endif

#endif
