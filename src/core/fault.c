/* Fault injection counters (fault.h); compiled only with -DLQ_FAULT_INJECTION=ON.
 * Test-only state: the one place where the library keeps a mutable static. */
#include "core/fault.h"

/* the force-included header renamed these: here they are the real allocators */
#undef malloc
#undef calloc
#undef realloc
#undef fftw_malloc

#include <stdatomic.h>
#include <stdlib.h>

#include <fftw3.h>

static atomic_long g_count, g_fail_at, g_failed;
static atomic_int g_sticky;

void lq_fi_arm(long n, int sticky)
{
    atomic_store(&g_count, 0);
    atomic_store(&g_failed, 0);
    atomic_store(&g_sticky, sticky);
    atomic_store(&g_fail_at, n);
}

long lq_fi_count(void) { return atomic_load(&g_count); }
long lq_fi_failed(void) { return atomic_load(&g_failed); }

static int should_fail(void)
{
    long k = atomic_fetch_add(&g_count, 1) + 1, at = atomic_load(&g_fail_at);
    if (at <= 0) return 0;
    if (k == at || (k > at && atomic_load(&g_sticky))) {
        atomic_fetch_add(&g_failed, 1);
        return 1;
    }
    return 0;
}

void *lq_fi_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
void *lq_fi_calloc(size_t n, size_t s) { return should_fail() ? NULL : calloc(n, s); }
void *lq_fi_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }
void *lq_fi_fftw_malloc(size_t n) { return should_fail() ? NULL : fftw_malloc(n); }
