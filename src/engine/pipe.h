/* A sink on its own thread (issue 15).  Blocks put into a pipe are copied into a small
 * ring and handed, in the order they were put, to the pipe's sink on a worker thread:
 * a pass that reads, processes and then meters or writes its audio runs its metering
 * and writing beside its processing, on a second core.  The sink sees exactly the
 * blocks, in exactly the order, it would see called directly, so nothing it computes
 * depends on the pipe; without a thread (threads == 1, or none can be started) the
 * sink is called inline.
 *
 *   lq_pipe *p;
 *   lq_pipe_open(&p, meter_sink, meter, channels, 4096, threads, d);
 *   ... lq_chain_run(&chain, src, s, lq_pipe_put, p, &ctl, &n) ...
 *   e = lq_pipe_close(&p, e);     // drains, joins; the sink's first error, if any
 */
#ifndef LQ_ENGINE_PIPE_H
#define LQ_ENGINE_PIPE_H

#include <stddef.h>

#include "engine/chain.h"

typedef struct lq_pipe lq_pipe;

/* planes per block: a stereo signal, or with it a plane per channel of side data (the
 * limiter's detector output, engine/finish.c) */
#define LQ_PIPE_MAX_PLANES 4

/* sink(user, buf, n) for every block put; threads <= 0: the machine's cores.  The sink
 * reports its errors through its own diagnostics (which the producer must not touch
 * until lq_pipe_close returns). */
lq_error lq_pipe_open(lq_pipe **p, lq_sink_fn sink, void *user, int channels,
                      size_t max_block, int threads, lq_diag *d) LQ_WARN_UNUSED;

/* An lq_sink_fn: copy the block into the ring (waiting while it is full).  Returns the
 * sink's first error once the worker has met one (later blocks are then dropped). */
lq_error lq_pipe_put(void *pipe, const double *const *buf, size_t n);

/* Drain and join; free *p (NULL-safe).  Returns e when set, else the sink's first
 * error. */
lq_error lq_pipe_close(lq_pipe **p, lq_error e);

#endif
