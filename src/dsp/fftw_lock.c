/* See fftw_lock.h: the one process-wide mutex around FFTW's (non-thread-safe) planner. */
#include <pthread.h>

#include "dsp/fftw_lock.h"

static pthread_mutex_t lq_fftw_planner_mutex = PTHREAD_MUTEX_INITIALIZER;

void lq_fftw_lock(void)
{
    (void)pthread_mutex_lock(&lq_fftw_planner_mutex);
}

void lq_fftw_unlock(void)
{
    (void)pthread_mutex_unlock(&lq_fftw_planner_mutex);
}
