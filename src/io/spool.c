#include "io/spool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPOOL_BUF_FRAMES 16384

lq_error lq_spool_create(lq_spool *s, const char *dir, int channels, double rate,
                         lq_diag *d)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/.lacquer-spool-XXXXXX", dir);
    s->fd = mkstemp(path);
    if (s->fd < 0)
        return lq_diag_set(d, LQ_ERR_OUTPUT,
                           "%s: cannot create a temporary file (%s) (expected a writable "
                           "output folder)",
                           dir, strerror(errno));
    unlink(path); /* anonymous from now on: closes with the descriptor */
    size_t dl = strlen(dir) + 1;
    if ((s->dir = malloc(dl)) != NULL) memcpy(s->dir, dir, dl);
    s->channels = channels;
    s->rate = rate;
    s->cap = SPOOL_BUF_FRAMES;
    s->buf = malloc(s->cap * (size_t)channels * sizeof(double));
    if (!s->buf || !s->dir) {
        lq_spool_destroy(s);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    return LQ_OK;
}

static lq_error write_all(int fd, const char *dir, const void *p, size_t bytes, lq_diag *d)
{
    const char *c = p;
    while (bytes) {
        ssize_t w = write(fd, c, bytes);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return lq_diag_set(d, LQ_ERR_OUTPUT,
                               "%s: cannot write a temporary file (%s) (expected room for "
                               "it in the output folder)",
                               dir, w < 0 ? strerror(errno) : "disk full");
        c += w;
        bytes -= (size_t)w;
    }
    return LQ_OK;
}

static lq_error flush(lq_spool *s, lq_diag *d)
{
    if (!s->fill) return LQ_OK;
    lq_error e = write_all(s->fd, s->dir, s->buf, s->fill * (size_t)s->channels * sizeof(double), d);
    s->fill = 0;
    return e;
}

/* The write buffer is freed once the spool is complete: a run may keep many spools
 * (an album: every track's) and only reads them from now on. */
lq_error lq_spool_finish(lq_spool *s, lq_diag *d)
{
    lq_error e = flush(s, d);
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
    return e;
}

lq_error lq_spool_write(lq_spool *s, const double *const *planar, size_t n, lq_diag *d)
{
    const int nc = s->channels;
    if (!s->buf) {   /* written again after lq_spool_finish */
        s->cap = SPOOL_BUF_FRAMES;
        if (!(s->buf = malloc(s->cap * (size_t)nc * sizeof(double))))
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    size_t done = 0;
    while (done < n) {
        size_t k = s->cap - s->fill;
        if (k > n - done) k = n - done;
        double *dst = s->buf + s->fill * (size_t)nc;
        for (size_t i = 0; i < k; i++)
            for (int c = 0; c < nc; c++)
                dst[i * (size_t)nc + (size_t)c] = planar[c][done + i];
        s->fill += k;
        done += k;
        s->frames += (long long)k;
        if (s->fill == s->cap) {
            lq_error e = flush(s, d);
            if (e) return e;
        }
    }
    return LQ_OK;
}

void lq_spool_destroy(lq_spool *s)
{
    if (s->fd >= 0) close(s->fd);
    free(s->buf);
    free(s->dir);
    s->fd = -1;
    s->buf = NULL;
    s->dir = NULL;
}

lq_error lq_spool_reader_init(lq_spool_reader *r, const lq_spool *s, size_t max_block)
{
    r->s = s;
    r->pos = 0;
    r->cap = max_block;
    r->buf = malloc(max_block * (size_t)s->channels * sizeof(double));
    return r->buf ? LQ_OK : LQ_ERR_NOMEM;
}

size_t lq_spool_read(lq_spool_reader *r, double *const *planar, size_t n)
{
    const int nc = r->s->channels;
    if (n > r->cap) n = r->cap;
    long long left = r->s->frames - r->pos;
    if (left <= 0) return 0;
    if ((long long)n > left) n = (size_t)left;
    size_t bytes = n * (size_t)nc * sizeof(double);
    off_t off = (off_t)r->pos * nc * (off_t)sizeof(double);
    size_t got = 0;
    while (got < bytes) {
        ssize_t k = pread(r->s->fd, (char *)r->buf + got, bytes - got, off + (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return (size_t)-1;
        got += (size_t)k;
    }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < nc; c++)
            planar[c][i] = r->buf[i * (size_t)nc + (size_t)c];
    r->pos += (long long)n;
    return n;
}

void lq_spool_reader_rewind(lq_spool_reader *r)
{
    r->pos = 0;
}

void lq_spool_reader_seek(lq_spool_reader *r, long long frame)
{
    r->pos = frame < 0 ? 0 : frame > r->s->frames ? r->s->frames : frame;
}

void lq_spool_reader_free(lq_spool_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}
