#include "engine/resample.h"

#include <math.h>
#include <samplerate.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>

#define RS_BLOCK 8192

/* What both converters share: the spool reader, planar buffers, and the output side
 * (cut at the rounded length, metered, padded with silence if a converter drains
 * short). */
typedef struct rs {
    const lq_spool *in;
    lq_spool *out;
    lq_meter *meter;
    lq_diag *d;
    int nc;
    long long want, written;
    size_t ocap;
    lq_spool_reader rd;
    double *pin, *pout;
    double *ip[2], *op[2];
} rs;

static lq_error rs_init(rs *r, const lq_spool *in, lq_spool *out, double out_rate,
                        lq_meter *meter, lq_diag *d)
{
    memset(r, 0, sizeof *r);
    if (in->channels < 1 || in->channels > 2)
        return lq_diag_set(d, LQ_ERR_DSP, "resampler: %d channels (expected 1 or 2)",
                           in->channels);
    r->in = in, r->out = out, r->meter = meter, r->d = d;
    r->nc = in->channels;
    const double ratio = out_rate / in->rate;
    r->want = llround((double)in->frames * ratio);
    r->ocap = (size_t)ceil(RS_BLOCK * ratio) + 64;
    r->pin = malloc(RS_BLOCK * 2 * sizeof(double));
    r->pout = malloc(r->ocap * 2 * sizeof(double));
    if (!r->pin || !r->pout || lq_spool_reader_init(&r->rd, in, RS_BLOCK)) {
        free(r->pin), free(r->pout);
        r->pin = r->pout = NULL;
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    r->ip[0] = r->pin, r->ip[1] = r->pin + RS_BLOCK;
    r->op[0] = r->pout, r->op[1] = r->pout + r->ocap;
    return LQ_OK;
}

static void rs_free(rs *r)
{
    if (r->pin) lq_spool_reader_free(&r->rd);
    free(r->pin), free(r->pout);
}

/* Read the next input block into r->ip: frames read, 0 at the end, (size_t)-1 on error. */
static size_t rs_read(rs *r)
{
    size_t got = lq_spool_read(&r->rd, r->ip, RS_BLOCK);
    if (got == (size_t)-1)
        lq_diag_set(r->d, LQ_ERR_OUTPUT, "cannot read back a temporary file");
    return got;
}

/* Emit n converted frames from r->op (planar), up to the wanted length. */
static lq_error rs_emit(rs *r, long long n)
{
    if (n > r->want - r->written) n = r->want - r->written;
    if (n <= 0) return LQ_OK;
    lq_error e = lq_spool_write(r->out, (const double *const *)r->op, (size_t)n, r->d);
    if (!e && r->meter) lq_meter_push(r->meter, (const double *const *)r->op, (size_t)n);
    r->written += n;
    return e;
}

/* The converter drained short of the rounded length (by a frame at most): silence. */
static lq_error rs_pad(rs *r)
{
    lq_error e = LQ_OK;
    memset(r->pout, 0, r->ocap * 2 * sizeof(double));
    while (!e && r->written < r->want) {
        long long k = r->want - r->written;
        if (k > (long long)r->ocap) k = (long long)r->ocap;
        e = rs_emit(r, k);
    }
    return e;
}

/* libsoxr (SoX's converter), very high quality: 28-bit precision, linear phase, pass
 * band to 91.1 % of the lower Nyquist frequency with at most 0.01 dB roll-off, stop band
 * from Nyquist (soxr_quality_spec(SOXR_VHQ)); double-precision planar I/O; one thread,
 * so its arithmetic never depends on the machine's load. */
static lq_error run_soxr(rs *r, double out_rate, const volatile sig_atomic_t *cancel)
{
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT64_S, SOXR_FLOAT64_S);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_VHQ, SOXR_LINEAR_PHASE);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1);
    soxr_error_t serr = NULL;
    soxr_t s = soxr_create(r->in->rate, out_rate, (unsigned)r->nc, &serr, &io, &q, &rt);
    if (!s) return lq_diag_set(r->d, LQ_ERR_DSP, "resampler: %s", serr ? serr : "soxr");
    lq_error e = LQ_OK;
    int eof = 0;
    while (!e && !eof && r->written < r->want) {
        if (cancel && *cancel) {
            e = LQ_ERR_CANCELLED;
            break;
        }
        size_t got = rs_read(r);
        if (got == (size_t)-1) {
            e = LQ_ERR_OUTPUT;
            break;
        }
        eof = got == 0;
        size_t off = 0;
        for (;;) {
            const double *in[2] = {r->ip[0] + off, r->ip[1] + off};
            size_t idone = 0, odone = 0;
            serr = soxr_process(s, eof ? NULL : (soxr_in_t)in, got - off, &idone,
                                (soxr_out_t)r->op, r->ocap, &odone);
            if (serr) {
                e = lq_diag_set(r->d, LQ_ERR_DSP, "resampler: %s", serr);
                break;
            }
            if (!eof && idone == 0 && odone == 0 && off < got) {
                e = lq_diag_set(r->d, LQ_ERR_DSP, "resampler: soxr made no progress");
                break;
            }
            off += idone;
            if ((e = rs_emit(r, (long long)odone))) break;
            /* more input to give, or (at the end) more output to flush */
            if (eof ? odone == 0 || r->written >= r->want : off >= got && odone < r->ocap)
                break;
        }
    }
    if (!e) e = rs_pad(r);
    soxr_delete(s);
    return e;
}

/* libsamplerate's SRC_SINC_BEST_QUALITY (97 % bandwidth, 144 dB SNR as published);
 * its API is single-precision, so blocks are converted to float and back. */
static lq_error run_lsr(rs *r, double out_rate, const volatile sig_atomic_t *cancel)
{
    const int nc = r->nc;
    int err = 0;
    SRC_STATE *src = src_new(SRC_SINC_BEST_QUALITY, nc, &err);
    if (!src) return lq_diag_set(r->d, LQ_ERR_DSP, "resampler: %s", src_strerror(err));
    float *fin = malloc(RS_BLOCK * (size_t)nc * sizeof(float));
    float *fout = malloc(r->ocap * (size_t)nc * sizeof(float));
    lq_error e = fin && fout ? LQ_OK : lq_diag_set(r->d, LQ_ERR_NOMEM, "out of memory");
    size_t have = 0, used = 0;
    int eof = 0;
    while (!e && r->written < r->want) {
        if (cancel && *cancel) {
            e = LQ_ERR_CANCELLED;
            break;
        }
        if (used == have && !eof) {
            size_t got = rs_read(r);
            if (got == (size_t)-1) {
                e = LQ_ERR_OUTPUT;
                break;
            }
            if (got == 0) eof = 1;
            for (size_t i = 0; i < got; i++)
                for (int c = 0; c < nc; c++)
                    fin[i * (size_t)nc + (size_t)c] = (float)r->ip[c][i];
            have = got;
            used = 0;
        }
        SRC_DATA sd = {
            .data_in = fin + used * (size_t)nc,
            .data_out = fout,
            .input_frames = (long)(have - used),
            .output_frames = (long)r->ocap,
            .end_of_input = eof,
            .src_ratio = out_rate / r->in->rate,
        };
        int rc = src_process(src, &sd);
        if (rc) {
            e = lq_diag_set(r->d, LQ_ERR_DSP, "resampler: %s", src_strerror(rc));
            break;
        }
        used += (size_t)sd.input_frames_used;
        for (long i = 0; i < sd.output_frames_gen; i++)
            for (int c = 0; c < nc; c++)
                r->op[c][i] = fout[i * nc + c];
        e = rs_emit(r, sd.output_frames_gen);
        if (eof && sd.output_frames_gen == 0) break;
    }
    if (!e) e = rs_pad(r);
    free(fin), free(fout);
    src_delete(src);
    return e;
}

lq_error lq_resample_spool(const lq_spool *in, lq_spool *out, double out_rate,
                           lq_resampler which, lq_meter *meter,
                           const volatile sig_atomic_t *cancel, lq_diag *d)
{
    rs r;
    lq_error e = rs_init(&r, in, out, out_rate, meter, d);
    if (!e)
        e = which == LQ_RESAMPLER_LSR_BEST ? run_lsr(&r, out_rate, cancel)
                                            : run_soxr(&r, out_rate, cancel);
    if (!e) e = lq_spool_finish(out, d);
    rs_free(&r);
    return e;
}
