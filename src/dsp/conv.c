/* Streaming overlap-save FFT convolution (see conv.h for the method and its sources). */
#include <fftw3.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/conv.h"
#include "dsp/fftw_lock.h"

#define LQ_CONV_MAX_IO 8

struct lq_conv {
    size_t n_in, n_out;
    size_t ntaps;           /* N */
    size_t m;               /* FFT size M */
    size_t hop;             /* B = M - N + 1 */
    size_t nbins;           /* M/2 + 1 */
    size_t pos;             /* frames of the current hop already collected, 0..B-1 */
    double *in[LQ_CONV_MAX_IO];          /* M each: N-1 history + B new */
    fftw_complex *x[LQ_CONV_MAX_IO];     /* spectra of the inputs, nbins each */
    fftw_complex *h[LQ_CONV_MAX_IO * LQ_CONV_MAX_IO]; /* filter spectra / M, or NULL */
    double *out[LQ_CONV_MAX_IO];         /* B each: the current hop's output */
    fftw_complex *y;        /* nbins: summed product (destroyed by c2r) */
    double *ybuf;           /* M: c2r result */
    fftw_plan r2c, c2r;
};

/* Pick the FFT size: the smallest power of two >= 3N (at least 64).  The modelled
 * cost per output frame, M log2 M / (M - N + 1), keeps falling for larger M, but
 * measured with FFTW_ESTIMATE plans on this class of machine (bench/fftsize notes in
 * docs/PRESETS.md, "Stage: eq") transforms beyond about 4N lose more to cache misses
 * than they gain: 3N..6N is the sweet spot for N = 8k..64k taps. */
static size_t choose_fft_size(size_t ntaps)
{
    size_t m = 64;
    while (m < 3 * ntaps) m <<= 1;
    return m;
}

static void conv_free(lq_conv *c)
{
    if (!c) return;
    lq_fftw_lock();
    if (c->r2c) fftw_destroy_plan(c->r2c);
    if (c->c2r) fftw_destroy_plan(c->c2r);
    lq_fftw_unlock();
    for (size_t k = 0; k < LQ_CONV_MAX_IO; k++) {
        fftw_free(c->in[k]);
        fftw_free(c->x[k]);
        fftw_free(c->out[k]);
    }
    for (size_t k = 0; k < LQ_CONV_MAX_IO * LQ_CONV_MAX_IO; k++) fftw_free(c->h[k]);
    fftw_free(c->y);
    fftw_free(c->ybuf);
    free(c);
}

void lq_conv_destroy(lq_conv **c)
{
    if (!c || !*c) return;
    conv_free(*c);
    *c = NULL;
}

lq_error lq_conv_new_matrix(lq_conv **out, size_t n_in, size_t n_out,
                            const double *const *taps, size_t ntaps, size_t max_block,
                            lq_diag *d)
{
    (void)max_block;
    if (!out || !taps || ntaps == 0 || n_in == 0 || n_out == 0 || n_in > LQ_CONV_MAX_IO ||
        n_out > LQ_CONV_MAX_IO || ntaps > ((size_t)1 << 24))
        return lq_diag_set(d, LQ_ERR_ARG, "convolver: bad arguments (%zu taps, %zu in, %zu out)",
                           ntaps, n_in, n_out);
    *out = NULL;
    lq_conv *c = calloc(1, sizeof *c);
    if (!c) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    c->n_in = n_in;
    c->n_out = n_out;
    c->ntaps = ntaps;
    c->m = choose_fft_size(ntaps);
    c->hop = c->m - ntaps + 1;
    c->nbins = c->m / 2 + 1;
    const size_t m = c->m, nb = c->nbins;

    for (size_t k = 0; k < n_in; k++) {
        c->in[k] = fftw_malloc(m * sizeof(double));
        c->x[k] = fftw_malloc(nb * sizeof(fftw_complex));
        if (!c->in[k] || !c->x[k]) goto nomem;
    }
    for (size_t j = 0; j < n_out; j++) {
        c->out[j] = fftw_malloc(c->hop * sizeof(double));
        if (!c->out[j]) goto nomem;
    }
    c->y = fftw_malloc(nb * sizeof(fftw_complex));
    c->ybuf = fftw_malloc(m * sizeof(double));
    if (!c->y || !c->ybuf) goto nomem;

    lq_fftw_lock();
    c->r2c = fftw_plan_dft_r2c_1d((int)m, c->ybuf, c->x[0], FFTW_ESTIMATE);
    c->c2r = fftw_plan_dft_c2r_1d((int)m, c->y, c->ybuf, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
    lq_fftw_unlock();
    if (!c->r2c || !c->c2r) {
        conv_free(c);
        return lq_diag_set(d, LQ_ERR_DSP, "convolver: FFTW could not plan a %zu-point FFT", m);
    }

    /* Filter spectra, scaled by 1/M so that c2r(r2c(x)) needs no further scaling. */
    const double scale = 1.0 / (double)m;
    for (size_t idx = 0; idx < n_in * n_out; idx++) {
        if (!taps[idx]) continue;
        c->h[idx] = fftw_malloc(nb * sizeof(fftw_complex));
        if (!c->h[idx]) goto nomem;
        memset(c->ybuf, 0, m * sizeof(double));
        for (size_t i = 0; i < ntaps; i++) c->ybuf[i] = taps[idx][i] * scale;
        fftw_execute_dft_r2c(c->r2c, c->ybuf, c->h[idx]);
    }
    lq_conv_reset(c);
    *out = c;
    return LQ_OK;

nomem:
    conv_free(c);
    return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (convolver, %zu taps)", ntaps);
}

lq_error lq_conv_new(lq_conv **out, const double *taps, size_t ntaps, size_t max_block,
                     lq_diag *d)
{
    const double *t[1] = {taps};
    if (!taps) return lq_diag_set(d, LQ_ERR_ARG, "convolver: no taps");
    return lq_conv_new_matrix(out, 1, 1, t, ntaps, max_block, d);
}

lq_error lq_conv_new_bank(lq_conv **out, const double *const *taps, size_t nfilters,
                          size_t ntaps, size_t max_block, lq_diag *d)
{
    if (!taps) return lq_diag_set(d, LQ_ERR_ARG, "convolver: no taps");
    for (size_t j = 0; j < nfilters; j++)
        if (!taps[j]) return lq_diag_set(d, LQ_ERR_ARG, "convolver: filter %zu has no taps", j);
    return lq_conv_new_matrix(out, 1, nfilters, taps, ntaps, max_block, d);
}

size_t lq_conv_latency(const lq_conv *c)
{
    return c->hop;
}

size_t lq_conv_fft_size(const lq_conv *c)
{
    return c->m;
}

void lq_conv_reset(lq_conv *c)
{
    if (!c) return;
    for (size_t k = 0; k < c->n_in; k++) memset(c->in[k], 0, c->m * sizeof(double));
    for (size_t j = 0; j < c->n_out; j++) memset(c->out[j], 0, c->hop * sizeof(double));
    c->pos = 0;
}

/* One hop: transform every input, multiply-accumulate per output, transform back. */
static void conv_hop(lq_conv *c)
{
    const size_t nb = c->nbins, n1 = c->ntaps - 1;
    for (size_t k = 0; k < c->n_in; k++) fftw_execute_dft_r2c(c->r2c, c->in[k], c->x[k]);
    for (size_t j = 0; j < c->n_out; j++) {
        int any = 0;
        for (size_t k = 0; k < c->n_in; k++) {
            fftw_complex *h = c->h[j * c->n_in + k];
            fftw_complex *x = c->x[k];
            if (!h) continue;
            fftw_complex *y = c->y;
            if (!any) {
                for (size_t b = 0; b < nb; b++) {
                    double re = h[b][0] * x[b][0] - h[b][1] * x[b][1];
                    double im = h[b][0] * x[b][1] + h[b][1] * x[b][0];
                    y[b][0] = re;
                    y[b][1] = im;
                }
            } else {
                for (size_t b = 0; b < nb; b++) {
                    y[b][0] += h[b][0] * x[b][0] - h[b][1] * x[b][1];
                    y[b][1] += h[b][0] * x[b][1] + h[b][1] * x[b][0];
                }
            }
            any = 1;
        }
        if (!any) {
            memset(c->out[j], 0, c->hop * sizeof(double));
            continue;
        }
        fftw_execute_dft_c2r(c->c2r, c->y, c->ybuf);
        memcpy(c->out[j], c->ybuf + n1, c->hop * sizeof(double));
    }
    /* Keep the last N-1 input frames as the next hop's history. */
    if (n1 > 0)
        for (size_t k = 0; k < c->n_in; k++)
            memmove(c->in[k], c->in[k] + c->hop, n1 * sizeof(double));
}

void lq_conv_process_matrix(lq_conv *c, const double *const *in, double *const *out,
                            size_t n)
{
    size_t off = 0;
    const size_t n1 = c->ntaps - 1;
    while (n > 0) {
        size_t chunk = c->hop - c->pos;
        if (chunk > n) chunk = n;
        for (size_t k = 0; k < c->n_in; k++)
            memcpy(c->in[k] + n1 + c->pos, in[k] + off, chunk * sizeof(double));
        for (size_t j = 0; j < c->n_out; j++)
            memcpy(out[j] + off, c->out[j] + c->pos, chunk * sizeof(double));
        c->pos += chunk;
        off += chunk;
        n -= chunk;
        if (c->pos == c->hop) {
            conv_hop(c);
            c->pos = 0;
        }
    }
}

void lq_conv_process(lq_conv *c, const double *in, double *out, size_t n)
{
    const double *i[1] = {in};
    double *o[1] = {out};
    lq_conv_process_matrix(c, i, o, n);
}

void lq_conv_process_bank(lq_conv *c, const double *in, double *const *out, size_t n)
{
    const double *i[1] = {in};
    lq_conv_process_matrix(c, i, out, n);
}
