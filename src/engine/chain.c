#include "engine/chain.h"

#include <stdlib.h>
#include <string.h>

lq_error lq_chain_create(lq_chain *c, const lq_stage_spec *specs, size_t n,
                         const lq_stage_env *env, lq_diag *d)
{
    memset(c, 0, sizeof *c);
    c->channels = env->channels;
    c->max_block = env->max_block;
    for (size_t i = 0; i < n; i++) {
        const lq_stage_spec *s = &specs[i];
        if (!s->vt) continue;
        if (s->vt->config_is_identity && s->vt->config_is_identity(s->cfg)) continue;
        if (c->n == sizeof c->vt / sizeof c->vt[0]) {
            lq_chain_destroy(c);
            return lq_diag_set(d, LQ_ERR_ARG, "too many stages in one chain (at most 16)");
        }
        lq_stage_env here = *env;
        here.upstream_latency = c->latency;
        lq_error e = s->vt->create(&c->state[c->n], s->cfg, &here, d);
        if (e) {
            lq_chain_destroy(c);
            return e;
        }
        c->vt[c->n] = s->vt;
        c->spec_index[c->n] = i;
        c->latency += s->vt->latency(c->state[c->n]);
        c->n++;
    }
    return LQ_OK;
}

void lq_chain_process(lq_chain *c, double *const *buf, size_t n)
{
    for (size_t i = 0; i < c->n; i++)
        c->vt[i]->process(c->state[i], buf, n);
}

void lq_chain_destroy(lq_chain *c)
{
    for (size_t i = c->n; i-- > 0;)
        c->vt[i]->destroy(c->state[i]);
    c->n = 0;
}

void lq_blocker_init(lq_blocker *b, size_t frames, size_t max_block)
{
    b->fixed = frames > max_block ? max_block : frames;
    b->max = max_block;
    b->rng = 0x9E3779B97F4A7C15ull;
}

size_t lq_blocker_next(lq_blocker *b)
{
    if (b->fixed) return b->fixed;
    /* xorshift64*: sizes spread over 1..max, weighted towards small ones */
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    uint64_t r = b->rng * 2685821657736338717ull;
    size_t lim = (r >> 60) & 1 ? b->max : 64;
    if (lim > b->max) lim = b->max;
    return 1 + (size_t)((r >> 8) % lim);
}

lq_error lq_chain_run(lq_chain *c, lq_source_fn src, void *src_user, lq_sink_fn sink,
                      void *sink_user, const lq_run_ctl *ctl, long long *frames_out)
{
    const int nc = c->channels;
    const size_t mb = c->max_block;
    double *mem = malloc(mb * (size_t)nc * sizeof(double));
    if (!mem) return LQ_ERR_NOMEM;
    double *buf[2] = {mem, nc > 1 ? mem + mb : mem};
    long long in_frames = 0, out_frames = 0;
    size_t skip = c->latency;
    int ended = 0;
    lq_error e = LQ_OK;
    while (!e) {
        if (ctl && ctl->cancel && *ctl->cancel) {
            e = LQ_ERR_CANCELLED;
            break;
        }
        size_t want = ctl && ctl->blocks ? lq_blocker_next(ctl->blocks) : mb;
        size_t got = 0;
        if (!ended) {
            got = src(src_user, buf, want, &e);
            if (e) break;
            if (got == 0) ended = 1;
            in_frames += (long long)got;
        }
        if (ended) {
            /* drain: silence until every input frame has come out */
            long long owed = in_frames - out_frames + (long long)skip;
            if (owed <= 0) break;
            got = (size_t)owed < want ? (size_t)owed : want;
            for (int ch = 0; ch < nc; ch++)
                memset(buf[ch], 0, got * sizeof(double));
        }
        lq_chain_process(c, buf, got);
        size_t off = 0;
        if (skip) {
            off = skip < got ? skip : got;
            skip -= off;
        }
        size_t emit = got - off;
        if (ended && (long long)emit > in_frames - out_frames)
            emit = (size_t)(in_frames - out_frames);
        if (emit) {
            const double *view[2] = {buf[0] + off, buf[nc > 1 ? 1 : 0] + off};
            e = sink(sink_user, view, emit);
            out_frames += (long long)emit;
        }
        if (!e && ctl && ctl->progress) e = ctl->progress(ctl->progress_user, out_frames);
    }
    free(mem);
    if (frames_out) *frames_out = out_frames;
    return e;
}

static lq_error feed_block(lq_chain_feed *f, const double *const *buf, size_t n,
                           long long limit);

lq_error lq_chain_feed_init(lq_chain_feed *f, lq_chain *c, size_t lead, lq_sink_fn sink,
                            void *user)
{
    memset(f, 0, sizeof *f);
    f->c = c;
    f->sink = sink;
    f->user = user;
    f->skip = c->latency + lead;
    if (!c->n) return LQ_OK;   /* nothing to run: blocks go straight to the sink */
    f->buf[0] = malloc(c->max_block * (size_t)c->channels * sizeof(double));
    if (!f->buf[0]) return LQ_ERR_NOMEM;
    f->buf[1] = c->channels > 1 ? f->buf[0] + c->max_block : f->buf[0];
    lq_error e = LQ_OK;
    while (!e && lead > 0) {   /* the upstream chain's silence, its output cut */
        size_t k = lead < c->max_block ? lead : c->max_block;
        e = feed_block(f, NULL, k, 0);
        lead -= k;
    }
    return e;
}

/* Run n frames (n <= max_block; NULL: silence) through the chain; emit at most `limit`. */
static lq_error feed_block(lq_chain_feed *f, const double *const *buf, size_t n,
                           long long limit)
{
    const int nc = f->c->channels;
    for (int ch = 0; ch < nc; ch++) {
        if (buf) memcpy(f->buf[ch], buf[ch], n * sizeof(double));
        else memset(f->buf[ch], 0, n * sizeof(double));
    }
    lq_chain_process(f->c, f->buf, n);
    size_t off = f->skip < n ? f->skip : n;
    f->skip -= off;
    size_t emit = n - off;
    if ((long long)emit > limit) emit = (size_t)limit;
    if (!emit) return LQ_OK;
    const double *view[2] = {f->buf[0] + off, f->buf[nc > 1 ? 1 : 0] + off};
    f->out += (long long)emit;
    return f->sink(f->user, view, emit);
}

lq_error lq_chain_feed_put(void *feed, const double *const *buf, size_t n)
{
    lq_chain_feed *f = feed;
    if (!f->c->n) return f->sink(f->user, buf, n);
    const int nc = f->c->channels;
    lq_error e = LQ_OK;
    for (size_t done = 0; !e && done < n;) {   /* at most max_block frames at a time */
        size_t k = n - done < f->c->max_block ? n - done : f->c->max_block;
        const double *part[2] = {buf[0] + done, buf[nc > 1 ? 1 : 0] + done};
        f->in += (long long)k;
        e = feed_block(f, part, k, (long long)k);
        done += k;
    }
    return e;
}

lq_error lq_chain_feed_end(lq_chain_feed *f)
{
    lq_error e = LQ_OK;
    while (!e && f->c->n && f->out < f->in) {
        long long owed = f->in - f->out + (long long)f->skip;
        size_t k = owed < (long long)f->c->max_block ? (size_t)owed : f->c->max_block;
        e = feed_block(f, NULL, k, f->in - f->out);
    }
    return e;
}

void lq_chain_feed_free(lq_chain_feed *f)
{
    free(f->buf[0]);
    f->buf[0] = f->buf[1] = NULL;
}
