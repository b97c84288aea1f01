/* One process-wide lock around FFTW's planner.
 *
 * FFTW's planner (every fftw_plan_* call and fftw_destroy_plan) is not thread-safe:
 * it keeps global tables (FFTW manual, section 5.4 "Thread safety": "the only
 * thread-safe routine in FFTW is fftw_execute (and the new-array variants)").  Two jobs
 * running in two threads may create stages at the same time, so every plan creation and
 * destruction in liblacquer goes through these two functions.  The mutex inside is the
 * one deliberate exception to "no mutable statics": it protects FFTW's own global
 * state, holds no data of ours, and is statically initialised (no init call needed).
 *
 * Executing a plan (fftw_execute_dft_r2c / _c2r / fftw_execute) needs no lock.
 * Plans are always made with FFTW_ESTIMATE on fftw_malloc'd (aligned) arrays so that the
 * chosen algorithm, and therefore every output bit, is the same on every run. */
#ifndef LQ_DSP_FFTW_LOCK_H
#define LQ_DSP_FFTW_LOCK_H

void lq_fftw_lock(void);
void lq_fftw_unlock(void);

#endif
