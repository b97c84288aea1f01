/* Helpers shared by the fuzz targets.  Harness state lives in statics: a fuzz target is
 * a test program, not the library. */
#include "fuzz_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_scratch[512];
static char g_path[1024];

const char *lqf_scratch(void)
{
    if (g_scratch[0]) return g_scratch;
    const char *base = getenv("TMPDIR");
    struct stat st;
    if (!base || !base[0]) base = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
    snprintf(g_scratch, sizeof g_scratch, "%s/lqfuzz-%ld", base, (long)getpid());
    if (mkdir(g_scratch, 0700) != 0 && stat(g_scratch, &st) != 0) {
        perror(g_scratch);
        abort();
    }
    /* A fuzzed path must never block on a terminal or pipe. */
    if (!freopen("/dev/null", "r", stdin)) abort();
    return g_scratch;
}

const char *lqf_write(const char *name, const uint8_t *data, size_t size)
{
    snprintf(g_path, sizeof g_path, "%s/%s", lqf_scratch(), name);
    int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
    close(fd);
    return g_path;
}

char *lqf_strdup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

void lqf_clear_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

const char *lqf_preset_dir(void)
{
    const char *env = getenv("LACQUER_PRESET_DIR");
    return env && env[0] ? env : LQ_SOURCE_PRESET_DIR;
}

int lqf_make_wav(const char *path, int rate, int channels, long frames)
{
    SF_INFO info = {.samplerate = rate, .channels = channels,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return -1;
    unsigned seed = 12345;
    for (long i = 0; i < frames; i++) {
        double x[2];
        for (int c = 0; c < channels; c++) {
            seed = seed * 1103515245u + 12345u;
            x[c] = 0.3 * sin(2 * M_PI * 440.0 * (double)i / rate + c) +
                   0.05 * ((double)(seed >> 16) / 32768.0 - 1.0);
        }
        sf_writef_double(sf, x, 1);
    }
    return sf_close(sf) == 0 ? 0 : -1;
}
