/* bench/resample's helper: the engine's spool-to-spool sample-rate conversion
 * (src/engine/resample.c) timed on its own, for each converter a target can choose.
 *
 *   bench_resample gen OUT.wav SECONDS RATE      the demo mix (lqs_mixer, stereo, peak
 *                                                -1 dBFS) as 32-bit float WAV
 *   bench_resample run IN.wav OUT_RATE NAME      NAME: soxr-vhq | libsamplerate-best
 *
 * `run` reads IN into a spool (untimed), converts it to a second spool (timed: process
 * CPU seconds and wall seconds of lq_resample_spool alone), and prints
 * "cpu=S wall=S frames=N hash=H" (hash: FNV-1a of the output samples, to compare runs). */
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/resample.h"
#include "io/audio_in.h"
#include "synth.h"

#define BLOCK 8192

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *m)
{
    fprintf(stderr, "bench_resample: %s\n", m);
    exit(2);
}

static int cmd_gen(const char *path, double secs, int rate)
{
    SF_INFO info = {.samplerate = rate, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) die(sf_strerror(NULL));
    size_t n = (size_t)(secs * rate);
    lqs_mixer *m = lqs_mixer_new(rate, 7, 0.89, n);
    double l[BLOCK], r[BLOCK], il[2 * BLOCK];
    if (!m) die("out of memory");
    for (size_t pos = 0; pos < n; pos += BLOCK) {
        size_t k = n - pos < BLOCK ? n - pos : BLOCK;
        lqs_mixer_render(m, l, r, k);
        for (size_t i = 0; i < k; i++) il[2 * i] = l[i], il[2 * i + 1] = r[i];
        if ((size_t)sf_writef_double(f, il, (sf_count_t)k) != k) die("short write");
    }
    lqs_mixer_free(m);
    sf_close(f);
    return 0;
}

static int cmd_run(const char *path, double out_rate, const char *name)
{
    int w = -1;
    for (int i = 0; lq_resampler_names[i]; i++)
        if (strcmp(lq_resampler_names[i], name) == 0) w = i;
    if (w < 0) die("unknown converter (expected soxr-vhq or libsamplerate-best)");
    lq_diag d = {{0}};
    lq_audio_in in;
    lq_spool a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.fd = b.fd = -1;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    double *buf = malloc(2 * BLOCK * sizeof *buf);
    double *pl[2] = {buf, buf + BLOCK};
    if (!buf || lq_audio_in_open(&in, path, BLOCK, &d) ||
        lq_spool_create(&a, tmp, in.channels, in.rate, &d))
        die(d.msg[0] ? d.msg : "out of memory");
    for (;;) {
        size_t got = 0;
        if (lq_audio_in_read(&in, pl, BLOCK, &got, &d)) die(d.msg);
        if (!got) break;
        if (lq_spool_write(&a, (const double *const *)pl, got, &d)) die(d.msg);
    }
    lq_audio_in_close(&in);
    if (lq_spool_finish(&a, &d) || lq_spool_create(&b, tmp, a.channels, out_rate, &d))
        die(d.msg);
    double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
    if (lq_resample_spool(&a, &b, out_rate, (lq_resampler)w, NULL, NULL, &d)) die(d.msg);
    double c1 = now(CLOCK_PROCESS_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
    lq_spool_reader rd;
    if (lq_spool_reader_init(&rd, &b, BLOCK)) die("out of memory");
    uint64_t h = 1469598103934665603ULL;
    size_t n;
    while ((n = lq_spool_read(&rd, pl, BLOCK)) > 0 && n != (size_t)-1)
        for (int c = 0; c < b.channels; c++) {
            const unsigned char *p = (const unsigned char *)pl[c];
            for (size_t i = 0; i < n * sizeof(double); i++) h = (h ^ p[i]) * 1099511628211ULL;
        }
    lq_spool_reader_free(&rd);
    printf("cpu=%.3f wall=%.3f frames=%lld hash=%016llx\n", c1 - c0, w1 - w0, b.frames,
           (unsigned long long)h);
    lq_spool_destroy(&a);
    lq_spool_destroy(&b);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "gen") == 0)
        return cmd_gen(argv[2], atof(argv[3]), atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "run") == 0)
        return cmd_run(argv[2], atof(argv[3]), argv[4]);
    fprintf(stderr, "usage: bench_resample gen OUT.wav SECONDS RATE\n"
                    "       bench_resample run IN.wav OUT_RATE soxr-vhq|libsamplerate-best\n");
    return 2;
}
