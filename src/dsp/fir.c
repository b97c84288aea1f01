/* Linear-phase FIR design by frequency sampling + window (see fir.h for the method). */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/fftw_lock.h"
#include "dsp/fir.h"

/* Kaiser window shape parameter.  Kaiser & Schafer, "On the use of the I0-sinh window
 * for spectrum analysis", IEEE Trans. ASSP 28(1), 1980: beta trades main-lobe width
 * (how much the response is smoothed: low-frequency resolution) for side-lobe level
 * (how far a steep or deep response leaks: stop-band depth).  See LQ_FIR_KAISER_BETA in
 * fir.h. */

size_t lq_fir_taps(double length_ms, double rate)
{
    double n = length_ms * rate / 1000.0;
    if (!(n > 3.0)) return 3;
    if (n > 1e8) n = 1e8;
    size_t half = (size_t)floor((n - 1.0) / 2.0 + 0.5);
    if (half < 1) half = 1;
    return 2 * half + 1;
}

size_t lq_fir_grid_points(size_t ntaps)
{
    size_t g = 1024;
    while (g < 8 * ntaps) g <<= 1;
    return g / 2 + 1;
}

/* Modified Bessel function of the first kind, order 0, by its power series
 * I0(x) = sum_k ((x/2)^k / k!)^2 (Abramowitz & Stegun 9.6.12); converges for all x. */
static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0, q = x * x / 4.0;
    for (int k = 1; k < 500; k++) {
        term *= q / ((double)k * (double)k);
        sum += term;
        if (term < sum * 1e-17) break;
    }
    return sum;
}

/* Kaiser window value at offset m from the centre of a window of half-width c
 * (m = -c..c): I0(beta sqrt(1 - (m/c)^2)) / I0(beta). */
static double kaiser(double m, double c, double beta, double i0beta)
{
    double r = m / c;
    double a = 1.0 - r * r;
    if (a < 0.0) a = 0.0;
    return bessel_i0(beta * sqrt(a)) / i0beta;
}

/* Buffers, plan and window for one tap count: made once per design call, reused by
 * every pass of the refined design (plans and page faults of megabyte buffers would
 * otherwise dominate the design time of long filters). */
typedef struct designer {
    size_t ntaps, npoints, g;
    fftw_complex *spec;  /* npoints */
    double *h;           /* g */
    double *win;         /* (ntaps+1)/2: window / g, from the centre outwards */
    fftw_plan c2r;
} designer;

static void designer_free(designer *ds)
{
    if (ds->c2r) {
        lq_fftw_lock();
        fftw_destroy_plan(ds->c2r);
        lq_fftw_unlock();
    }
    fftw_free(ds->spec);
    fftw_free(ds->h);
    free(ds->win);
    memset(ds, 0, sizeof *ds);
}

static lq_error designer_init(designer *ds, size_t ntaps, size_t npoints, double beta,
                              lq_diag *d)
{
    memset(ds, 0, sizeof *ds);
    if (ntaps < 3 || (ntaps & 1) == 0 || !(beta >= 0.0))
        return lq_diag_set(d, LQ_ERR_ARG, "FIR design: %zu taps (need an odd number >= 3)",
                           ntaps);
    if (npoints != lq_fir_grid_points(ntaps))
        return lq_diag_set(d, LQ_ERR_ARG, "FIR design: grid of %zu points, expected %zu",
                           npoints, lq_fir_grid_points(ntaps));
    ds->ntaps = ntaps;
    ds->npoints = npoints;
    ds->g = 2 * (npoints - 1);
    const size_t c = (ntaps - 1) / 2;
    ds->spec = fftw_malloc(npoints * sizeof(fftw_complex));
    ds->h = fftw_malloc(ds->g * sizeof(double));
    ds->win = malloc((c + 1) * sizeof(double));
    if (!ds->spec || !ds->h || !ds->win) {
        designer_free(ds);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (FIR design)");
    }
    lq_fftw_lock();
    ds->c2r = fftw_plan_dft_c2r_1d((int)ds->g, ds->spec, ds->h,
                                   FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
    lq_fftw_unlock();
    if (!ds->c2r) {
        designer_free(ds);
        return lq_diag_set(d, LQ_ERR_DSP, "FIR design: FFTW could not plan %zu points", ds->g);
    }
    const double i0b = bessel_i0(beta);
    const double half_width = (double)c + 1.0;  /* end taps not forced to the window's edge */
    for (size_t m = 0; m <= c; m++)
        ds->win[m] = kaiser((double)m, half_width, beta, i0b) / (double)ds->g;
    return LQ_OK;
}

static lq_error designer_run(designer *ds, const double *amp, double *taps, lq_diag *d)
{
    for (size_t k = 0; k < ds->npoints; k++) {
        if (!isfinite(amp[k]))
            return lq_diag_set(d, LQ_ERR_DSP, "FIR design: non-finite response at grid point %zu",
                               k);
        ds->spec[k][0] = amp[k];
        ds->spec[k][1] = 0.0;
    }
    fftw_execute_dft_c2r(ds->c2r, ds->spec, ds->h);
    /* h is the zero-phase response (times g), even: h[m] == h[g-m] up to rounding.
     * Average the two halves so the taps are exactly symmetric. */
    const size_t c = (ds->ntaps - 1) / 2, g = ds->g;
    const double *h = ds->h;
    taps[c] = h[0] * ds->win[0];
    for (size_t m = 1; m <= c; m++) {
        const double v = 0.5 * (h[m] + h[g - m]) * ds->win[m];
        taps[c + m] = v;
        taps[c - m] = v;
    }
    return LQ_OK;
}

lq_error lq_fir_design_grid_kaiser(double *taps, size_t ntaps, const double *amp,
                                   size_t npoints, double beta, lq_diag *d)
{
    if (!taps || !amp) return lq_diag_set(d, LQ_ERR_ARG, "FIR design: NULL arguments");
    designer ds;
    lq_error e = designer_init(&ds, ntaps, npoints, beta, d);
    if (e) return e;
    e = designer_run(&ds, amp, taps, d);
    designer_free(&ds);
    return e;
}

lq_error lq_fir_design_grid(double *taps, size_t ntaps, const double *amp, size_t npoints,
                            lq_diag *d)
{
    return lq_fir_design_grid_kaiser(taps, ntaps, amp, npoints, LQ_FIR_KAISER_BETA, d);
}

lq_error lq_fir_design(double *taps, size_t ntaps, double rate, lq_fir_amp_fn amp,
                       void *user, lq_diag *d)
{
    if (!taps || !amp || !(rate > 0.0) || ntaps < 3 || (ntaps & 1) == 0)
        return lq_diag_set(d, LQ_ERR_ARG, "FIR design: bad arguments (%zu taps, rate %g)",
                           ntaps, rate);
    const size_t np = lq_fir_grid_points(ntaps);
    double *grid = malloc(np * sizeof(double));
    if (!grid) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (FIR design)");
    const double df = rate / (double)(2 * (np - 1));
    for (size_t k = 0; k < np; k++) grid[k] = amp((double)k * df, user);
    lq_error e = lq_fir_design_grid(taps, ntaps, grid, np, d);
    free(grid);
    return e;
}

lq_error lq_fir_design_refined(double *taps, size_t ntaps, double rate, const double *amp,
                               size_t npoints, double f_lo_hz, int iterations,
                               lq_diag *d)
{
    if (!taps || !amp) return lq_diag_set(d, LQ_ERR_ARG, "FIR design: NULL arguments");
    if (!(rate > 0.0)) return lq_diag_set(d, LQ_ERR_ARG, "FIR design: rate %g", rate);
    designer ds;
    lq_error e = designer_init(&ds, ntaps, npoints, LQ_FIR_KAISER_BETA, d);
    if (e) return e;
    e = designer_run(&ds, amp, taps, d);
    if (e || iterations <= 0) {
        designer_free(&ds);
        return e;
    }
    const size_t g = ds.g;
    double *want = malloc(npoints * sizeof(double));
    fftw_plan p = NULL;
    if (!want) {
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (FIR design)");
        goto done;
    }
    /* The realised response is measured in the designer's own buffers (h, spec): they
     * are free between passes. */
    lq_fftw_lock();
    p = fftw_plan_dft_r2c_1d((int)g, ds.h, ds.spec, FFTW_ESTIMATE);
    lq_fftw_unlock();
    if (!p) {
        e = lq_diag_set(d, LQ_ERR_DSP, "FIR design: FFTW could not plan %zu points", g);
        goto done;
    }
    memcpy(want, amp, npoints * sizeof(double));
    const double df = rate / (double)g;
    fftw_complex *spec = ds.spec;
    for (int it = 0; it < iterations; it++) {
        memset(ds.h, 0, g * sizeof(double));
        memcpy(ds.h, taps, ntaps * sizeof(double));
        fftw_execute(p);
        /* Stop as soon as the realised response is within 0.001 dB everywhere it is
         * checked (long filters with smooth curves get there before any correction). */
        double worst = 0.0;
        for (size_t k = 0; k < npoints; k++) {
            if ((double)k * df < f_lo_hz || !(amp[k] >= 1e-4)) continue;
            double got = hypot(spec[k][0], spec[k][1]);
            double r = got > 0.0 ? amp[k] / got : HUGE_VAL;
            if (fabs(r - 1.0) > worst) worst = fabs(r - 1.0);
        }
        if (worst < 1.15e-4) break;  /* 20 log10(1 + 1.15e-4) = 0.001 dB */
        for (size_t k = 0; k < npoints; k++) {
            if ((double)k * df < f_lo_hz || !(amp[k] >= 1e-4)) continue;
            double got = hypot(spec[k][0], spec[k][1]);
            if (!(got > 1e-12)) continue;
            double r = amp[k] / got;
            if (r > 4.0) r = 4.0;
            if (r < 0.25) r = 0.25;
            want[k] *= r;
        }
        if ((e = designer_run(&ds, want, taps, d))) goto done;
    }
done:
    if (p) {
        lq_fftw_lock();
        fftw_destroy_plan(p);
        lq_fftw_unlock();
    }
    free(want);
    designer_free(&ds);
    return e;
}

void lq_fir_complement(double *taps, size_t ntaps)
{
    const size_t c = (ntaps - 1) / 2;
    for (size_t i = 0; i < ntaps; i++) taps[i] = -taps[i];
    taps[c] += 1.0;
}

double lq_fir_amplitude(const double *taps, size_t ntaps, double rate, double f_hz)
{
    const size_t c = (ntaps - 1) / 2;
    const long double w = 2.0L * 3.14159265358979323846264338327950288L * (long double)f_hz /
                          (long double)rate;
    long double a = taps[c];
    for (size_t m = 1; m <= c; m++) a += 2.0L * (long double)taps[c + m] * cosl(w * (long double)m);
    return (double)a;
}
