/* Speed of the true-peak meter (src/dsp/truepeak.c) and of the limiter stage
 * (src/stages/limiter.c) on generated material, with a checksum of every result so
 * that two builds can be compared for identical output.
 *
 *   bench_tp_speed [SECONDS [RATE]]     default 60 s at 44100 Hz, stereo
 *
 * Material: the demo mix (lqs_mix, sample peak 0 dBFS) and gaussian white noise
 * (normalised to 0 dBFS sample peak).  Prints, for each: the 16x meter (and 8x, 4x),
 * the limiter at 8x (ceiling -1 dBTP) at drives 0 and +6 dB, the limiter at 4x and 16x
 * (+6 dB), and the meter at 16x on the limiter's output (what the engine meters on
 * every export).  Times are process CPU seconds (best of REPEAT runs); x RT =
 * audio duration / time.  The hash is FNV-1a over the output samples' bytes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsp/truepeak.h"
#include "stage.h"
#include "stages/limiter.h"
#include "synth.h"

#define REPEAT 3
#define BLOCK 4096

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void normalise(double *x, size_t n, double peak)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    if (m > 0)
        for (size_t i = 0; i < n; i++) x[i] *= peak / m;
}

static double meter(double *const *x, size_t n, double rate, int factor, double *secs)
{
    double best = HUGE_VAL, v = 0;
    for (int r = 0; r < REPEAT; r++) {
        lq_tp_meter *m = NULL;
        if (lq_tp_meter_new(&m, 2, rate, factor)) return -1;
        double t0 = cpu_s();
        for (size_t pos = 0; pos < n; pos += BLOCK) {
            size_t k = n - pos < BLOCK ? n - pos : BLOCK;
            const double *p[2] = {x[0] + pos, x[1] + pos};
            lq_tp_meter_push(m, p, k);
        }
        v = lq_tp_meter_max_linear(m);
        double t = cpu_s() - t0;
        if (t < best) best = t;
        lq_tp_meter_destroy(&m);
    }
    *secs = best;
    return v;
}

/* Limiter over x (stereo), output (latency-compensated) into y; returns CPU seconds. */
static double limiter(double *const *x, double **y, size_t n, double rate, int os,
                      double drive_db, uint64_t *hash)
{
    const lq_stage_vt *vt = &lq_stage_limiter;
    lq_limiter_config cfg;
    memset(&cfg, 0, sizeof cfg);
    vt->config_default(&cfg);
    cfg.oversample = os;
    cfg.ceiling_dbtp = -1.0;
    lq_stage_env env = {.sample_rate = rate, .channels = 2, .max_block = BLOCK};
    const double g = pow(10.0, drive_db / 20.0);
    double *buf[2] = {malloc(BLOCK * sizeof(double)), malloc(BLOCK * sizeof(double))};
    double best = HUGE_VAL;
    for (int r = 0; r < REPEAT; r++) {
        lq_diag d;
        void *st = NULL;
        if (vt->create(&st, &cfg, &env, &d)) return -1;
        const size_t L = vt->latency(st), total = n + L;
        double t = 0;
        for (size_t pos = 0; pos < total; pos += BLOCK) {
            size_t k = total - pos < BLOCK ? total - pos : BLOCK;
            for (int c = 0; c < 2; c++)
                for (size_t i = 0; i < k; i++)
                    buf[c][i] = pos + i < n ? g * x[c][pos + i] : 0.0;
            double t0 = cpu_s();
            vt->process(st, buf, k);
            t += cpu_s() - t0;
            for (int c = 0; c < 2; c++)
                for (size_t i = 0; i < k; i++)
                    if (pos + i >= L) y[c][pos + i - L] = buf[c][i];
        }
        vt->destroy(st);
        if (t < best) best = t;
    }
    uint64_t h = 1469598103934665603ULL;
    for (int c = 0; c < 2; c++) h = fnv(h, y[c], n * sizeof(double));
    *hash = h;
    free(buf[0]);
    free(buf[1]);
    return best;
}

int main(int argc, char **argv)
{
    const double secs = argc > 1 ? atof(argv[1]) : 60.0;
    const double rate = argc > 2 ? atof(argv[2]) : 44100.0;
    const size_t n = (size_t)(secs * rate);
    if (n < 1) return 1;
    double *x[2], *y[2];
    for (int c = 0; c < 2; c++) {
        x[c] = malloc(n * sizeof(double));
        y[c] = malloc(n * sizeof(double));
        if (!x[c] || !y[c]) return 1;
    }
    for (int sig = 0; sig < 2; sig++) {
        const char *name = sig == 0 ? "mix" : "noise";
        if (sig == 0) {
            lqs_mix(x[0], x[1], n, rate, 7, 1.0);
        } else {
            lqs_white(x[0], n, 0.25, 11);
            lqs_white(x[1], n, 0.25, 12);
            normalise(x[0], n, 1.0);
            normalise(x[1], n, 1.0);
        }
        printf("%s, %.0f s at %.0f Hz, stereo:\n", name, secs, rate);
        const int factors[3] = {16, 8, 4};
        for (int i = 0; i < 3; i++) {
            double t;
            double v = meter(x, n, rate, factors[i], &t);
            printf("  meter %2dx              %7.3f s  %7.1f x RT  max %.17g\n", factors[i], t,
                   secs / t, v);
        }
        const struct { int os; double drive; } lc[4] = {{8, 0.0}, {8, 6.0}, {4, 6.0}, {16, 6.0}};
        for (int i = 0; i < 4; i++) {
            uint64_t h = 0;
            double t = limiter(x, y, n, rate, lc[i].os, lc[i].drive, &h);
            printf("  limiter %2dx %+4.1f dB    %7.3f s  %7.1f x RT  hash %016llx\n", lc[i].os,
                   lc[i].drive, t, secs / t, (unsigned long long)h);
            if (i == 1) {
                double tm;
                double v = meter(y, n, rate, 16, &tm);
                printf("  meter 16x on output    %7.3f s  %7.1f x RT  max %.17g\n", tm,
                       secs / tm, v);
            }
        }
    }
    for (int c = 0; c < 2; c++) {
        free(x[c]);
        free(y[c]);
    }
    return 0;
}
