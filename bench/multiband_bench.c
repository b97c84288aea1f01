/* Helper for bench/multiband: generate the test mix, run lacquer's multiband stage on a
 * file, and measure the null residual of a processed file against its input.
 *
 *   bench_multiband gen RATE SECONDS OUT.wav      stereo demo mix, -6 dBFS peak, 64-bit float
 *   bench_multiband run IN.wav OUT.wav YAML       the stage, latency-compensated; prints the
 *                                                 DSP seconds (process() only)
 *   bench_multiband null REF.wav TEST.wav         residual of TEST vs REF in dB re REF's
 *                                                 RMS, at the best lag in -256..256 frames
 *                                                 (searched on a 2 s excerpt)
 */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/node.h"
#include "stage.h"
#include "synth.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Read a file into planar channels (at most 2). */
static int read_file(const char *path, double **ch, int *nch, size_t *n, double *rate)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f || info.channels < 1 || info.channels > 2) {
        fprintf(stderr, "%s: cannot read (%s)\n", path, sf_strerror(f));
        if (f) sf_close(f);
        return 1;
    }
    double *il = malloc((size_t)info.frames * (size_t)info.channels * sizeof(double));
    if (!il) return 1;
    sf_count_t got = sf_readf_double(f, il, info.frames);
    sf_close(f);
    *n = (size_t)got;
    *nch = info.channels;
    *rate = info.samplerate;
    for (int c = 0; c < info.channels; c++) {
        ch[c] = malloc(*n * sizeof(double));
        if (!ch[c]) return 1;
        for (size_t i = 0; i < *n; i++) ch[c][i] = il[i * (size_t)info.channels + (size_t)c];
    }
    free(il);
    return 0;
}

static int write_file(const char *path, double *const *ch, int nch, size_t n, double rate)
{
    SF_INFO info = {.samplerate = (int)rate, .channels = nch,
                    .format = SF_FORMAT_WAV | SF_FORMAT_DOUBLE};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) {
        fprintf(stderr, "%s: cannot write (%s)\n", path, sf_strerror(NULL));
        return 1;
    }
    double *il = malloc(n * (size_t)nch * sizeof(double));
    if (!il) return 1;
    for (int c = 0; c < nch; c++)
        for (size_t i = 0; i < n; i++) il[i * (size_t)nch + (size_t)c] = ch[c][i];
    sf_writef_double(f, il, (sf_count_t)n);
    sf_close(f);
    free(il);
    return 0;
}

static int cmd_gen(double rate, double secs, const char *out)
{
    size_t n = (size_t)(rate * secs);
    double *ch[2] = {malloc(n * sizeof(double)), malloc(n * sizeof(double))};
    if (!ch[0] || !ch[1]) return 1;
    lqs_mix(ch[0], ch[1], n, rate, 2024, 0.5);
    return write_file(out, ch, 2, n, rate);
}

/* Streamed like sox and ffmpeg: blocks of 4096 frames read, processed and written; the
 * first `latency` output frames are dropped and `latency` frames of silence drain the
 * tail, so the output lines up with the input. */
static int cmd_run(const char *in, const char *out, const char *yaml)
{
    SF_INFO ii;
    memset(&ii, 0, sizeof ii);
    SNDFILE *fi = sf_open(in, SFM_READ, &ii);
    if (!fi || ii.channels < 1 || ii.channels > 2) {
        fprintf(stderr, "%s: cannot read (%s)\n", in, sf_strerror(fi));
        return 1;
    }
    const int nch = ii.channels;
    const double rate = ii.samplerate;
    const lq_stage_vt *vt = lq_stage_find("multiband");
    lq_diag d = {{0}};
    lq_node *root = NULL;
    if (lq_node_parse_string(&root, yaml, "config", &d) != LQ_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    void *cfg = calloc(1, vt->config_size);
    vt->config_default(cfg);
    if (vt->config_parse(cfg, root, &d) != LQ_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    const size_t blk = 4096;
    lq_stage_env env = {.sample_rate = rate, .channels = nch, .max_block = blk};
    void *st = NULL;
    if (vt->create(&st, cfg, &env, &d) != LQ_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    SF_INFO oi = {.samplerate = ii.samplerate, .channels = nch,
                  .format = SF_FORMAT_WAV | SF_FORMAT_DOUBLE};
    SNDFILE *fo = sf_open(out, SFM_WRITE, &oi);
    if (!fo) {
        fprintf(stderr, "%s: cannot write (%s)\n", out, sf_strerror(NULL));
        return 1;
    }
    size_t skip = vt->latency(st), tail = skip;
    double *il = malloc(blk * 2 * sizeof(double));
    double *w[2] = {malloc(blk * sizeof(double)), malloc(blk * sizeof(double))};
    double dsp = 0.0;
    for (;;) {
        size_t b = (size_t)sf_readf_double(fi, il, (sf_count_t)blk);
        if (b < blk) {  /* end of input: pad with the drain */
            size_t pad = blk - b < tail ? blk - b : tail;
            memset(il + b * (size_t)nch, 0, pad * (size_t)nch * sizeof(double));
            b += pad;
            tail -= pad;
        }
        if (b == 0) break;
        for (int c = 0; c < nch; c++)
            for (size_t i = 0; i < b; i++) w[c][i] = il[i * (size_t)nch + (size_t)c];
        const double t0 = now_s();
        vt->process(st, w, b);
        dsp += now_s() - t0;
        const size_t drop = skip < b ? skip : b;
        skip -= drop;
        for (int c = 0; c < nch; c++)
            for (size_t i = drop; i < b; i++) il[(i - drop) * (size_t)nch + (size_t)c] = w[c][i];
        sf_writef_double(fo, il, (sf_count_t)(b - drop));
    }
    sf_close(fi);
    sf_close(fo);
    vt->destroy(st);
    lq_node_free(root);
    free(cfg);
    free(il);
    free(w[0]);
    free(w[1]);
    printf("%.6f\n", dsp);
    return 0;
}

static double resid_db(double *const *a, double *const *b, int nch, size_t from, size_t to,
                       long lag)
{
    double se = 0.0, ss = 0.0;
    for (int c = 0; c < nch; c++)
        for (size_t i = from; i < to; i++) {
            const double e = b[c][(size_t)((long)i + lag)] - a[c][i];
            se += e * e;
            ss += a[c][i] * a[c][i];
        }
    return se > 0.0 ? 10.0 * log10(se / ss) : -400.0;
}

static int cmd_null(const char *ref, const char *test)
{
    double *a[2], *b[2];
    int na, nb;
    size_t n1, n2;
    double r1, r2;
    if (read_file(ref, a, &na, &n1, &r1) || read_file(test, b, &nb, &n2, &r2)) return 1;
    if (na != nb || r1 != r2) {
        fprintf(stderr, "channel count or rate differ\n");
        return 1;
    }
    const size_t n = n1 < n2 ? n1 : n2;
    const long maxlag = 256;
    if (n < (size_t)(4 * maxlag) + (size_t)(2.0 * r1)) {
        fprintf(stderr, "file too short\n");
        return 1;
    }
    long best = 0;
    double bestv = HUGE_VAL;
    const size_t ex0 = n / 2, ex1 = n / 2 + (size_t)(2.0 * r1);
    for (long lag = -maxlag; lag <= maxlag; lag++) {
        const double v = resid_db(a, b, na, ex0, ex1, lag);
        if (v < bestv) {
            bestv = v;
            best = lag;
        }
    }
    printf("%.1f %ld\n", resid_db(a, b, na, (size_t)maxlag, n - (size_t)maxlag, best), best);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "gen") == 0)
        return cmd_gen(atof(argv[2]), atof(argv[3]), argv[4]);
    if (argc == 5 && strcmp(argv[1], "run") == 0) return cmd_run(argv[2], argv[3], argv[4]);
    if (argc == 4 && strcmp(argv[1], "null") == 0) return cmd_null(argv[2], argv[3]);
    fprintf(stderr, "usage: bench_multiband gen RATE SECONDS OUT.wav | run IN OUT YAML | "
                    "null REF TEST\n");
    return 2;
}
