/* A chain of stage instances and the block driver that runs audio through it with
 * latency compensation: the output lines up with the input sample for sample and has
 * exactly the input's length. */
#ifndef LQ_ENGINE_CHAIN_H
#define LQ_ENGINE_CHAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config/preset.h"
#include "stage.h"

typedef struct lq_chain {
    size_t n;
    const lq_stage_vt *vt[16];
    void *state[16];
    size_t spec_index[16];  /* which entry of the specs each instance came from */
    size_t latency;       /* sum of the stages' latencies */
    int channels;
    size_t max_block;
} lq_chain;

/* Instantiate the non-identity stages of specs (entries with vt NULL are skipped). */
lq_error lq_chain_create(lq_chain *c, const lq_stage_spec *specs, size_t n,
                         const lq_stage_env *env, lq_diag *d);
void lq_chain_process(lq_chain *c, double *const *buf, size_t n);
void lq_chain_destroy(lq_chain *c);

/* Block sizes: fixed, or pseudo-random in 1..max (frames == 0) from a fixed seed. */
typedef struct lq_blocker {
    size_t fixed, max;
    uint64_t rng;
} lq_blocker;
void lq_blocker_init(lq_blocker *b, size_t frames, size_t max_block);
size_t lq_blocker_next(lq_blocker *b);

/* Pull up to n frames into buf; return the count (0 at the end) or set *err. */
typedef size_t (*lq_source_fn)(void *user, double *const *buf, size_t n, lq_error *err);
typedef lq_error (*lq_sink_fn)(void *user, const double *const *buf, size_t n);

typedef struct lq_run_ctl {
    lq_blocker *blocks;
    const volatile sig_atomic_t *cancel;   /* may be NULL */
    lq_error (*progress)(void *user, long long frames_done);  /* may be NULL */
    void *progress_user;
} lq_run_ctl;

/* Run source -> chain -> sink until the source ends, then drain the chain's latency
 * with silence.  Returns the number of frames delivered in *frames_out (== frames
 * read from the source). */
lq_error lq_chain_run(lq_chain *c, lq_source_fn src, void *src_user, lq_sink_fn sink,
                      void *sink_user, const lq_run_ctl *ctl, long long *frames_out);

/* A chain driven by its producer instead (a chain inside a sink: the second half of a
 * pass run on a pipe's thread, engine/pipe.h).  lq_chain_feed_put is an lq_sink_fn: it
 * runs a block through the chain and hands the output, latency cut, to the sink;
 * lq_chain_feed_end drains the latency with silence.  The sink gets exactly the frames
 * put, in order, as lq_chain_run would give them.  `lead`: frames of silence run
 * through first and cut, the latency of the chain that feeds this one (whose first
 * output frames are that silence): the two halves then compute what one chain of all
 * the stages would, to the bit. */
typedef struct lq_chain_feed {
    lq_chain *c;
    lq_sink_fn sink;
    void *user;
    size_t skip;
    long long in, out;
    double *buf[2];
} lq_chain_feed;
lq_error lq_chain_feed_init(lq_chain_feed *f, lq_chain *c, size_t lead, lq_sink_fn sink,
                            void *user);
lq_error lq_chain_feed_put(void *feed, const double *const *buf, size_t n);
lq_error lq_chain_feed_end(lq_chain_feed *f);
void lq_chain_feed_free(lq_chain_feed *f);

#endif
