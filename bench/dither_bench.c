/* bench_dither: the helper behind bench/dither.
 *
 *   bench_dither gen OUT.wav SECONDS           24-bit 44.1 kHz stereo: -90 dBFS 1 kHz sine
 *   bench_dither run IN.wav OUT.wav TYPE SHAPING  lacquer's dither stage to 16 bit; prints
 *                                              "stage_s=<seconds in process()>"
 *   bench_dither analyze IN.wav OUT.wav LABEL   error (OUT - IN) weighted noise and the
 *                                              sine's harmonics in OUT (64k-point FFT)
 *
 * Reads and writes with libsndfile; 16-bit samples are converted by us (k = y * 32768,
 * exact on the stage's grid), so libsndfile's float scaling plays no part. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fftw3.h>
#include <sndfile.h>

#include "stage.h"
#include "stages/dither.h"

#define PI 3.14159265358979323846
#define RATE 44100

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Read a stereo file as planar doubles (exact for 16/24-bit PCM). */
static int read_planar(const char *path, double **l, double **r, size_t *n, int *rate)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f || info.channels != 2) {
        fprintf(stderr, "bench_dither: cannot read %s as stereo\n", path);
        if (f) sf_close(f);
        return 1;
    }
    /* read as int (left-justified 32-bit) and scale by 2^-31: exact for <= 24 bits */
    int *tmp = malloc((size_t)info.frames * 2 * sizeof *tmp);
    *l = malloc((size_t)info.frames * sizeof **l);
    *r = malloc((size_t)info.frames * sizeof **r);
    if (!tmp || !*l || !*r) return 1;
    sf_count_t got = sf_readf_int(f, tmp, info.frames);
    for (sf_count_t i = 0; i < got; i++) {
        (*l)[i] = ldexp((double)tmp[2 * i], -31);
        (*r)[i] = ldexp((double)tmp[2 * i + 1], -31);
    }
    *n = (size_t)got;
    *rate = info.samplerate;
    free(tmp);
    sf_close(f);
    return 0;
}

static int cmd_gen(const char *path, double seconds)
{
    size_t n = (size_t)(seconds * RATE);
    SF_INFO info = {.samplerate = RATE, .channels = 2,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) return 1;
    int *buf = malloc(n * 2 * sizeof *buf);
    const double amp = pow(10.0, -90.0 / 20.0);
    for (size_t i = 0; i < n; i++) {
        double x = amp * sin(2.0 * PI * 1000.0 * (double)i / RATE + 0.1);
        int k = (int)lrint(x * 8388608.0); /* 24-bit grid */
        buf[2 * i] = buf[2 * i + 1] = k * 256;
    }
    sf_writef_int(f, buf, (sf_count_t)n);
    sf_close(f);
    free(buf);
    return 0;
}

static int find_name(const char *(*namef)(int), int count, const char *s)
{
    for (int i = 0; i < count; i++)
        if (namef(i) && strcmp(namef(i), s) == 0) return i;
    return -1;
}

static int cmd_run(const char *in, const char *out, const char *type, const char *shape)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *fi = sf_open(in, SFM_READ, &info);
    if (!fi || info.channels != 2) {
        fprintf(stderr, "bench_dither: cannot read %s as stereo\n", in);
        return 1;
    }
    lq_dither_config c;
    memset(&c, 0, sizeof c);
    lq_stage_dither.config_default(&c);
    c.type = find_name(lq_dither_type_name, 3, type);
    c.shaping = find_name(lq_dither_shaping_name, LQ_SHAPE_COUNT, shape);
    if (c.type < 0 || c.shaping < 0) {
        fprintf(stderr, "bench_dither: unknown type or shaping\n");
        return 1;
    }
    enum { B = 4096 };
    lq_stage_env env = {.sample_rate = info.samplerate, .channels = 2, .max_block = B,
                        .seed = lq_dither_seed(in, "bench"), .out_bits = 16};
    void *st;
    lq_diag d;
    if (lq_stage_dither.create(&st, &c, &env, &d) != LQ_OK) {
        fprintf(stderr, "bench_dither: %s\n", d.msg);
        return 1;
    }
    SF_INFO oinfo = {.samplerate = info.samplerate, .channels = 2,
                     .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *fo = sf_open(out, SFM_WRITE, &oinfo);
    if (!fo) return 1;
    /* streamed in blocks like the engine: read, dither, write; the stage's latency is
     * compensated as the pipeline does (drop the first L output frames, feed L frames
     * of silence at the end) */
    int ibuf[2 * B];
    short obuf[2 * B];
    double l[B], r[B];
    double *p[2] = {l, r}, stage = 0.0;
    size_t skip = lq_stage_dither.latency(st), tail = skip;
    for (;;) {
        sf_count_t got = sf_readf_int(fi, ibuf, B);
        for (sf_count_t i = 0; i < got; i++) {
            l[i] = (double)ibuf[2 * i] * (1.0 / 2147483648.0);
            r[i] = (double)ibuf[2 * i + 1] * (1.0 / 2147483648.0);
        }
        if (got <= 0) {
            if (!tail) break;
            got = (sf_count_t)tail;
            memset(l, 0, sizeof l);
            memset(r, 0, sizeof r);
            tail = 0;
        }
        double t0 = now();
        lq_stage_dither.process(st, p, (size_t)got);
        stage += now() - t0;
        size_t first = skip < (size_t)got ? skip : (size_t)got;
        skip -= first;
        for (size_t i = first; i < (size_t)got; i++) {
            obuf[2 * (i - first)] = (short)(l[i] * 32768.0);
            obuf[2 * (i - first) + 1] = (short)(r[i] * 32768.0);
        }
        sf_writef_short(fo, obuf, got - (sf_count_t)first);
    }
    sf_close(fo);
    sf_close(fi);
    printf("stage_s=%.4f clipped=%lld\n", stage, lq_dither_clipped(st));
    lq_stage_dither.destroy(st);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Averaged 64k-point periodogram (Blackman-Harris 4-term window, Harris 1978), scaled
 * so that white noise of variance v gives psd ~ v per bin. */
static void welch(const double *x, size_t n, size_t nfft, double *psd)
{
    double *in = fftw_malloc(nfft * sizeof *in), *w = malloc(nfft * sizeof *w);
    fftw_complex *o = fftw_malloc((nfft / 2 + 1) * sizeof *o);
    fftw_plan p = fftw_plan_dft_r2c_1d((int)nfft, in, o, FFTW_ESTIMATE);
    double w2 = 0;
    for (size_t i = 0; i < nfft; i++) {
        double t = 2 * PI * (double)i / (double)nfft;
        w[i] = 0.35875 - 0.48829 * cos(t) + 0.14128 * cos(2 * t) - 0.01168 * cos(3 * t);
        w2 += w[i] * w[i];
    }
    memset(psd, 0, (nfft / 2 + 1) * sizeof *psd);
    size_t segs = 0;
    for (size_t off = 0; off + nfft <= n; off += nfft / 2, segs++) {
        for (size_t i = 0; i < nfft; i++) in[i] = x[off + i] * w[i];
        fftw_execute(p);
        for (size_t k = 0; k <= nfft / 2; k++) psd[k] += o[k][0] * o[k][0] + o[k][1] * o[k][1];
    }
    for (size_t k = 0; k <= nfft / 2; k++) psd[k] /= (double)segs * w2;
    fftw_destroy_plan(p);
    fftw_free(in);
    fftw_free(o);
    free(w);
}

static int cmd_analyze(const char *in, const char *out, const char *label)
{
    double *xl, *xr, *yl, *yr;
    size_t n, m;
    int rate, rate2;
    if (read_planar(in, &xl, &xr, &n, &rate) || read_planar(out, &yl, &yr, &m, &rate2))
        return 1;
    if (m < n) n = m;
    const size_t nfft = 65536;
    const double q = ldexp(1.0, -15), bin = (double)rate / (double)nfft;
    double *e = malloc(n * sizeof *e), *psd = malloc((nfft / 2 + 1) * sizeof *psd),
           *psy = malloc((nfft / 2 + 1) * sizeof *psy), tmp[400];
    double ms = 0;
    for (size_t i = 0; i < n; i++) {
        e[i] = yl[i] - xl[i];
        ms += e[i] * e[i];
    }
    welch(e, n, nfft, psd);
    welch(yl, n, nfft, psy);
    /* weighted noise level: sum W*S / sum W over 20 Hz..20 kHz, in dBFS (1.0 = 0 dB) */
    double lv[2];
    for (int wt = 0; wt < 2; wt++) {
        double num = 0, den = 0;
        for (size_t k = (size_t)ceil(20 / bin); k <= (size_t)(20000 / bin); k++) {
            double w = lq_dither_weight_power(wt, (double)k * bin);
            num += w * psd[k];
            den += w;
        }
        lv[wt] = 10 * log10(num / den);
    }
    /* spurs: harmonics 2..9 of 1 kHz in the output, re the local noise floor (median
     * of the bins within +-150 Hz, 6 bins or more away from the harmonic) */
    double worst = -999, loudest = -999;
    int worst_h = 0, loudest_h = 0;
    for (int h = 2; h <= 9; h++) {
        long kc = lround(h * 1000.0 / bin), cnt = 0;
        for (long k = kc - (long)(150 / bin); k <= kc + (long)(150 / bin); k++)
            if (labs(k - kc) >= 6 && cnt < 400) tmp[cnt++] = psy[k];
        qsort(tmp, (size_t)cnt, sizeof tmp[0], cmp_double);
        double fl = tmp[cnt / 2], pk = 0;
        for (long k = kc - 4; k <= kc + 4; k++) pk = fmax(pk, psy[k]);
        double rel = 10 * log10(pk / fl);
        /* a sine of amplitude a gives a peak bin of (a/2)^2 (sum w)^2 / (sum w^2); with
         * the BH4 window (sum w)^2 / (nfft sum w^2) = 1/2.0044 (ENBW 2.0044 bins) */
        double lev = 10 * log10(4.0 * pk * 2.0044 / (double)nfft);
        if (rel > worst) {
            worst = rel;
            worst_h = h;
        }
        if (lev > loudest) {
            loudest = lev;
            loudest_h = h;
        }
    }
    printf("%-26s error %6.2f dB re q^2/12 | A-wtd %7.2f dBFS | threshold-wtd %7.2f dBFS |"
           " spur h%d %+6.1f dB re local floor, loudest h%d %7.1f dBFS\n",
           label, 10 * log10(ms / (double)n / (q * q / 12)), lv[0], lv[1], worst_h, worst,
           loudest_h, loudest);
    free(e);
    free(psd);
    free(psy);
    free(xl);
    free(xr);
    free(yl);
    free(yr);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "gen")) return cmd_gen(argv[2], atof(argv[3]));
    if (argc == 6 && !strcmp(argv[1], "run")) return cmd_run(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 5 && !strcmp(argv[1], "analyze")) return cmd_analyze(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: bench_dither gen OUT SECONDS | run IN OUT TYPE SHAPING | "
                    "analyze IN OUT LABEL\n");
    return 2;
}
