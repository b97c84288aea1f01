/* A sink on its own thread (pipe.h): a ring of SLOTS block copies between the producer
 * (the pass) and one worker (the sink), a mutex and two condition variables.  The
 * worker takes the blocks strictly in ring order, so the sink's input does not depend
 * on timing. */
#include "engine/pipe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 8

struct lq_pipe {
    lq_sink_fn sink;
    void *user;
    int channels, threaded;
    size_t max_block;
    double *mem;                 /* SLOTS x channels x max_block */
    size_t len[SLOTS];
    int head, count, closing;
    lq_error err;                /* the sink's first error */
    pthread_mutex_t lock;
    pthread_cond_t more, room;
    pthread_t th;
};

static double *slot_plane(lq_pipe *p, int slot, int c)
{
    return p->mem + ((size_t)slot * (size_t)p->channels + (size_t)c) * p->max_block;
}

static void *worker(void *u)
{
    lq_pipe *p = u;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->count == 0 && !p->closing) pthread_cond_wait(&p->more, &p->lock);
        if (p->count == 0) break;
        const int s = p->head;
        const lq_error err = p->err;
        pthread_mutex_unlock(&p->lock);
        lq_error e = LQ_OK;
        if (!err) {
            const double *pl[LQ_PIPE_MAX_PLANES] = {NULL};
            for (int c = 0; c < p->channels; c++) pl[c] = slot_plane(p, s, c);
            e = p->sink(p->user, pl, p->len[s]);
        }
        pthread_mutex_lock(&p->lock);
        if (e && !p->err) p->err = e;
        p->head = (p->head + 1) % SLOTS;
        p->count--;
        pthread_cond_signal(&p->room);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

lq_error lq_pipe_open(lq_pipe **out, lq_sink_fn sink, void *user, int channels,
                      size_t max_block, int threads, lq_diag *d)
{
    *out = NULL;
    lq_pipe *p = calloc(1, sizeof *p);
    if (!p) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    p->sink = sink;
    p->user = user;
    p->channels = channels;
    p->max_block = max_block;
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    /* one core: the sink is called inline (no copies, no thread) */
    if (threads > 1 && channels >= 1 && channels <= LQ_PIPE_MAX_PLANES) {
        p->mem = malloc((size_t)SLOTS * (size_t)channels * max_block * sizeof *p->mem);
        if (p->mem && pthread_mutex_init(&p->lock, NULL) == 0) {
            if (pthread_cond_init(&p->more, NULL) == 0) {
                if (pthread_cond_init(&p->room, NULL) == 0) {
                    if (pthread_create(&p->th, NULL, worker, p) == 0) {
                        p->threaded = 1;
                        *out = p;
                        return LQ_OK;
                    }
                    pthread_cond_destroy(&p->room);
                }
                pthread_cond_destroy(&p->more);
            }
            pthread_mutex_destroy(&p->lock);
        }
        /* no memory or no thread: inline, as on one core */
        free(p->mem);
        p->mem = NULL;
    }
    *out = p;
    return LQ_OK;
}

lq_error lq_pipe_put(void *pipe, const double *const *buf, size_t n)
{
    lq_pipe *p = pipe;
    if (!p->threaded) {
        if (p->err) return p->err;
        return p->err = p->sink(p->user, buf, n);
    }
    for (size_t off = 0; off < n;) {
        const size_t m = n - off < p->max_block ? n - off : p->max_block;
        pthread_mutex_lock(&p->lock);
        while (p->count == SLOTS && !p->err) pthread_cond_wait(&p->room, &p->lock);
        if (p->err) {
            lq_error e = p->err;
            pthread_mutex_unlock(&p->lock);
            return e;
        }
        const int s = (p->head + p->count) % SLOTS;
        pthread_mutex_unlock(&p->lock);
        /* the slot is the producer's until it is counted in */
        for (int c = 0; c < p->channels; c++)
            memcpy(slot_plane(p, s, c), buf[c] + off, m * sizeof(double));
        p->len[s] = m;
        pthread_mutex_lock(&p->lock);
        p->count++;
        pthread_cond_signal(&p->more);
        pthread_mutex_unlock(&p->lock);
        off += m;
    }
    return LQ_OK;
}

lq_error lq_pipe_close(lq_pipe **pp, lq_error e)
{
    lq_pipe *p = *pp;
    if (!p) return e;
    *pp = NULL;
    if (p->threaded) {
        pthread_mutex_lock(&p->lock);
        p->closing = 1;
        pthread_cond_signal(&p->more);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->th, NULL);
        pthread_cond_destroy(&p->room);
        pthread_cond_destroy(&p->more);
        pthread_mutex_destroy(&p->lock);
    }
    if (!e) e = p->err;
    free(p->mem);
    free(p);
    return e;
}
