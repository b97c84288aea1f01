/* One task queue for a run's worker threads.  Tasks are taken in array order; a task
 * may name one earlier task that must have finished before it starts (a target waits
 * for its rate's resampling).  Since a task only ever waits for an earlier one, and
 * every earlier task was taken before it, the queue cannot deadlock.  Each task writes
 * only its own result slot, so what comes out does not depend on the thread count or
 * the order tasks finish in.  A job, an album and a batch all run their work here. */
#ifndef LQ_ENGINE_QUEUE_H
#define LQ_ENGINE_QUEUE_H

#include <stddef.h>

#include "lacquer/lacquer.h"

#define LQ_TASK_NONE ((size_t)-1)

typedef struct lq_task {
    void (*fn)(void *ctx, size_t arg);
    void *ctx;
    size_t arg;
    size_t after;   /* index of an earlier task to wait for, or LQ_TASK_NONE */
} lq_task;

/* A growable list of tasks. */
typedef struct lq_tasks {
    lq_task *v;
    size_t n, cap;
} lq_tasks;

/* Append a task; returns its index, or LQ_TASK_NONE when out of memory. */
size_t lq_tasks_add(lq_tasks *t, void (*fn)(void *, size_t), void *ctx, size_t arg,
                    size_t after);
void lq_tasks_free(lq_tasks *t);

/* Run every task on `threads` workers (<= 0: the number of cores; the calling thread is
 * one of them).  Returns LQ_ERR_NOMEM (nothing run) or LQ_OK. */
lq_error lq_queue_run(const lq_tasks *t, int threads);

#endif
