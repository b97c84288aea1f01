#include "engine/resample.h"

#include <math.h>
#include <samplerate.h>
#include <stdlib.h>
#include <string.h>

#define RS_BLOCK 8192

lq_error lq_resample_spool(const lq_spool *in, lq_spool *out, double out_rate, int converter,
                           lq_meter *meter, const volatile sig_atomic_t *cancel, lq_diag *d)
{
    const int nc = in->channels;
    const double ratio = out_rate / in->rate;
    const long long want = llround((double)in->frames * ratio);
    const size_t ocap = (size_t)ceil(RS_BLOCK * ratio) + 64;
    int err = 0;
    SRC_STATE *src = src_new(converter, nc, &err);
    if (!src)
        return lq_diag_set(d, LQ_ERR_DSP, "resampler: %s", src_strerror(err));
    lq_spool_reader rd;
    float *fin = malloc(RS_BLOCK * (size_t)nc * sizeof(float));
    float *fout = malloc(ocap * (size_t)nc * sizeof(float));
    double *pin = malloc(RS_BLOCK * 2 * sizeof(double));
    double *pout = malloc(ocap * 2 * sizeof(double));
    lq_error e = LQ_OK;
    if (!fin || !fout || !pin || !pout || lq_spool_reader_init(&rd, in, RS_BLOCK)) {
        free(fin), free(fout), free(pin), free(pout);
        src_delete(src);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    double *ip[2] = {pin, pin + RS_BLOCK};
    double *op[2] = {pout, pout + ocap};
    long long written = 0;
    size_t have = 0, used = 0;
    int eof = 0;
    while (!e && written < want) {
        if (cancel && *cancel) {
            e = LQ_ERR_CANCELLED;
            break;
        }
        if (used == have && !eof) {
            size_t got = lq_spool_read(&rd, ip, RS_BLOCK);
            if (got == (size_t)-1) {
                e = lq_diag_set(d, LQ_ERR_OUTPUT, "cannot read back a temporary file");
                break;
            }
            if (got == 0) eof = 1;
            for (size_t i = 0; i < got; i++)
                for (int c = 0; c < nc; c++)
                    fin[i * (size_t)nc + (size_t)c] = (float)ip[c][i];
            have = got;
            used = 0;
        }
        SRC_DATA sd = {
            .data_in = fin + used * (size_t)nc,
            .data_out = fout,
            .input_frames = (long)(have - used),
            .output_frames = (long)ocap,
            .end_of_input = eof,
            .src_ratio = ratio,
        };
        int r = src_process(src, &sd);
        if (r) {
            e = lq_diag_set(d, LQ_ERR_DSP, "resampler: %s", src_strerror(r));
            break;
        }
        used += (size_t)sd.input_frames_used;
        long long n = sd.output_frames_gen;
        if (n > want - written) n = want - written;
        for (long long i = 0; i < n; i++)
            for (int c = 0; c < nc; c++)
                op[c][i] = fout[i * nc + c];
        if (n > 0) {
            e = lq_spool_write(out, (const double *const *)op, (size_t)n, d);
            if (meter) lq_meter_push(meter, (const double *const *)op, (size_t)n);
        }
        written += n;
        if (eof && sd.output_frames_gen == 0) {
            /* converter drained but short of the rounded length: pad with silence */
            memset(pout, 0, ocap * 2 * sizeof(double));
            while (!e && written < want) {
                long long k = want - written < (long long)ocap ? want - written : (long long)ocap;
                e = lq_spool_write(out, (const double *const *)op, (size_t)k, d);
                if (meter) lq_meter_push(meter, (const double *const *)op, (size_t)k);
                written += k;
            }
        }
    }
    if (!e) e = lq_spool_finish(out, d);
    lq_spool_reader_free(&rd);
    free(fin), free(fout), free(pin), free(pout);
    src_delete(src);
    return e;
}
