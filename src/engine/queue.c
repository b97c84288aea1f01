/* The task queue (queue.h). */
#include "engine/queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 64

size_t lq_tasks_add(lq_tasks *t, void (*fn)(void *, size_t), void *ctx, size_t arg,
                    size_t after)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        lq_task *v = realloc(t->v, cap * sizeof *v);
        if (!v) return LQ_TASK_NONE;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n] = (lq_task){fn, ctx, arg, after};
    return t->n++;
}

void lq_tasks_free(lq_tasks *t)
{
    free(t->v);
    *t = (lq_tasks){0};
}

typedef struct queue {
    const lq_tasks *t;
    pthread_mutex_t lock;
    pthread_cond_t finished;
    size_t next;
    unsigned char *done;
} queue;

static void *worker(void *u)
{
    queue *q = u;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        size_t k = q->next < q->t->n ? q->next++ : LQ_TASK_NONE;
        if (k != LQ_TASK_NONE) {
            size_t a = q->t->v[k].after;
            while (a != LQ_TASK_NONE && a < k && !q->done[a])
                pthread_cond_wait(&q->finished, &q->lock);
        }
        pthread_mutex_unlock(&q->lock);
        if (k == LQ_TASK_NONE) return NULL;
        const lq_task *task = &q->t->v[k];
        task->fn(task->ctx, task->arg);
        pthread_mutex_lock(&q->lock);
        q->done[k] = 1;
        pthread_cond_broadcast(&q->finished);
        pthread_mutex_unlock(&q->lock);
    }
}

lq_error lq_queue_run(const lq_tasks *t, int threads)
{
    if (t->n == 0) return LQ_OK;
    queue q = {.t = t};
    q.done = calloc(t->n, 1);
    if (!q.done) return LQ_ERR_NOMEM;
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.finished, NULL);
    long nt = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if ((size_t)nt > t->n) nt = (long)t->n;
    if (nt > MAX_THREADS) nt = MAX_THREADS;
    pthread_t th[MAX_THREADS];
    int started = 0;
    for (long i = 1; i < nt; i++)
        if (pthread_create(&th[started], NULL, worker, &q) == 0) started++;
    worker(&q);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_cond_destroy(&q.finished);
    pthread_mutex_destroy(&q.lock);
    free(q.done);
    return LQ_OK;
}
