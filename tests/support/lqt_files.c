/* WAV helpers (libsndfile) and small file-system helpers for tests. */
#include "lqtest.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int container_for(const char *path)
{
    if (ends_with(path, ".flac"))
        return SF_FORMAT_FLAC;
    if (ends_with(path, ".aif") || ends_with(path, ".aiff"))
        return SF_FORMAT_AIFF;
    if (ends_with(path, ".w64"))
        return SF_FORMAT_W64;
    return SF_FORMAT_WAV;
}

static int pcm_bits(int subtype)
{
    switch (subtype) {
    case SF_FORMAT_PCM_S8: return 8;
    case SF_FORMAT_PCM_16: return 16;
    case SF_FORMAT_PCM_24: return 24;
    case SF_FORMAT_PCM_32: return 32;
    default: return 0;
    }
}

int lqt_write_wav(const char *path, const double *const *planar, int channels, size_t frames,
                  int rate, int sf_subtype)
{
    SF_INFO si;
    memset(&si, 0, sizeof si);
    si.samplerate = rate;
    si.channels = channels;
    si.format = container_for(path) | sf_subtype;
    if (!sf_format_check(&si)) {
        fprintf(stderr, "lqt_write_wav: %s: unsupported format 0x%x\n", path, si.format);
        return -1;
    }
    SNDFILE *f = sf_open(path, SFM_WRITE, &si);
    if (!f) {
        fprintf(stderr, "lqt_write_wav: %s: %s\n", path, sf_strerror(NULL));
        return -1;
    }
    const int bits = pcm_bits(sf_subtype);
    const size_t block = 4096;
    int rc = 0;
    if (bits) {
        int *buf = malloc(block * (size_t)channels * sizeof *buf);
        const double scale = ldexp(1.0, bits - 1);
        const double qmax = scale - 1.0, qmin = -scale;
        for (size_t done = 0; buf && done < frames && rc == 0; done += block) {
            size_t m = frames - done < block ? frames - done : block;
            for (size_t i = 0; i < m; i++)
                for (int c = 0; c < channels; c++) {
                    double q = nearbyint(planar[c][done + i] * scale);
                    if (q > qmax)
                        q = qmax;
                    if (q < qmin)
                        q = qmin;
                    /* shift in unsigned arithmetic: q is negative half the time */
                    buf[i * (size_t)channels + (size_t)c] =
                        (int)((uint32_t)(int32_t)q << (32 - bits));
                }
            if (sf_writef_int(f, buf, (sf_count_t)m) != (sf_count_t)m)
                rc = -1;
        }
        if (!buf)
            rc = -1;
        free(buf);
    } else {
        double *buf = malloc(block * (size_t)channels * sizeof *buf);
        for (size_t done = 0; buf && done < frames && rc == 0; done += block) {
            size_t m = frames - done < block ? frames - done : block;
            for (size_t i = 0; i < m; i++)
                for (int c = 0; c < channels; c++)
                    buf[i * (size_t)channels + (size_t)c] = planar[c][done + i];
            if (sf_writef_double(f, buf, (sf_count_t)m) != (sf_count_t)m)
                rc = -1;
        }
        if (!buf)
            rc = -1;
        free(buf);
    }
    if (rc)
        fprintf(stderr, "lqt_write_wav: %s: write failed: %s\n", path, sf_strerror(f));
    if (sf_close(f) != 0)
        rc = -1;
    return rc;
}

double *lqt_read_planar(const char *path, int *channels, size_t *frames, int *rate)
{
    SF_INFO si;
    memset(&si, 0, sizeof si);
    SNDFILE *f = sf_open(path, SFM_READ, &si);
    if (!f) {
        fprintf(stderr, "lqt_read_planar: %s: %s\n", path, sf_strerror(NULL));
        return NULL;
    }
    const size_t nf = (size_t)si.frames, ch = (size_t)si.channels;
    double *inter = malloc((nf ? nf : 1) * ch * sizeof *inter);
    double *out = malloc((nf ? nf : 1) * ch * sizeof *out);
    if (!inter || !out) {
        free(inter);
        free(out);
        sf_close(f);
        return NULL;
    }
    sf_count_t got = sf_readf_double(f, inter, (sf_count_t)nf);
    sf_close(f);
    if (got != (sf_count_t)nf) {
        fprintf(stderr, "lqt_read_planar: %s: short read (%lld of %zu)\n", path,
                (long long)got, nf);
        free(inter);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < nf; i++)
        for (size_t c = 0; c < ch; c++)
            out[c * nf + i] = inter[i * ch + c];
    free(inter);
    if (channels)
        *channels = (int)ch;
    if (frames)
        *frames = nf;
    if (rate)
        *rate = si.samplerate;
    return out;
}

char *lqt_tmpdir(void)
{
    char *t = strdup("/tmp/lqtest.XXXXXX");
    if (!t || !mkdtemp(t)) {
        fprintf(stderr, "lqt_tmpdir: %s\n", strerror(errno));
        abort();
    }
    return t;
}

char *lqt_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        abort();
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

void lqt_rmrf(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(dir);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char *p = lqt_join(dir, e->d_name);
                lqt_rmrf(p);
                free(p);
            }
            closedir(d);
        }
        rmdir(dir);
    } else {
        unlink(dir);
    }
}

uint64_t lqt_file_hash(const char *path)
{
    /* FNV-1a, 64-bit (Fowler, Noll & Vo; IETF draft-eastlake-fnv) */
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint64_t h = 0xcbf29ce484222325ULL;
    unsigned char buf[65536];
    size_t m;
    while ((m = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < m; i++) {
            h ^= buf[i];
            h *= 0x100000001b3ULL;
        }
    fclose(f);
    return h;
}

int lqt_files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    unsigned char ba[65536], bb[65536];
    while (eq) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na) != 0)
            eq = 0;
        if (na == 0 || na != nb)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return eq;
}

int lqt_dir_count(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

int lqt_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}
