/* One target's finishing chain: gain -> true-peak limiter -> dither/quantize ->
 * encode, with the gain into the limiter solved in a closed loop so that the written
 * file lands on the target loudness, and the ceiling lowered until it also holds after
 * a lossy round trip.  Every pass streams from the rate group's spool (bounded memory).
 *
 * Codec checks (issue 15).  The margin under the ceiling that a codec needs is searched
 * on excerpts, not on the whole song: twelve one-second passages picked on the limiter's
 * output of the closed loop's first (rough) solve, alternately where it holds the
 * ceiling longest (samples within 1 dB of it: more chances for the coding noise to add
 * up over a peak) and, among the passages that reach it, where its high frequencies are
 * strongest (the pre-echo of transients); each with 1 s of pre-roll so that the limiter
 * and the encoder are in their steady state, and each on the codecs' frame grid where it
 * sits in the song (codec_grid: the encoder quantizes those passages frame for frame as
 * in the song).  They are rendered through the finishing chain (at the gain the closed
 * loop's curve gives for each ceiling tried), encoded and decoded, and their worst
 * decoded 16x true peak is driven into the lower half of the 0.2 dB window under the aim
 * (the ceiling less codec_guard_db) by regula falsi between the closest held and failed
 * margins: a dozen passages can under-read the whole song's worst by a few hundredths
 * of a dB, and a codec's overshoot grows as the ceiling drops; a codec that reads more
 * than FOCUS_DB under the worst is left out of the later estimates.  Then the closed loop
 * solves the gain at that ceiling, its kept pass writing the export, and the export is
 * verified by a real encode and decode of the whole file per check codec, the codecs
 * side by side on the job's threads (each result in its own slot).  If that
 * verification finds a peak over (or more than 0.2 dB under, with a margin to give
 * back), the excerpts are picked again where that verification's decoded peaks sit
 * (second by second), calibrated on its worst, and searched again; later rounds use
 * regula falsi between the last held and the last failed whole-file margins.  A
 * codec's bit allocation can flip on a gain change of a hundredth of a dB, so the
 * decoded peak is not smooth in the margin: out of rounds, the verified round that held
 * closest under the aim is rendered again at its exact gain and ceiling (the same bytes)
 * and verified once more.  The guarantee never rests on the excerpts.
 *
 * The closed loop reads every pass so far off one curve: the finishing chain is
 * scale-invariant (see drive_curve), so a new ceiling starts from a near-exact gain.
 *
 * Without a limiter in the preset, the gain is linear: it stops where the true peak
 * would cross the ceiling, and the shortfall is reported in LU. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "engine/chain.h"
#include "engine/job.h"
#include "engine/pipe.h"
#include "engine/resample.h"
#include "dsp/truepeak.h"
#include "io/audio_in.h"
#include "io/ffcodec.h"
#include "stages/dither.h"
#include "stages/limiter.h"

#define BLOCK 4096
#define LOUDNESS_TOL_LU 0.05   /* a target is met within this (EBU QC practice: 0.2) */
#define SOLVE_TOL_LU 0.01      /* the closed loop aims tighter */
#define MAX_CODEC_ROUNDS 6
#define PRECISE_DB 0.2         /* decoded peaks land this close under the aim ceiling */
#define EXCERPTS 12            /* passages the margin search encodes */
#define MAX_ESTIMATES 6        /* excerpt round trips per search */
#define FOCUS_DB 0.25          /* a codec this far under the worst leaves the search */
/* The closed loop gives up on a loudness the limiter cannot reach at its ceiling when
 * its last step raised the loudness by less than FLAT_SLOPE LU per dB of gain and the
 * rest would take more than FLAT_STEP_DB dB more (a brick-walled render: pushing on
 * only squashes it, for hundredths of an LU; before, the loop spent every pass it had
 * pushing, up to 21 dB of gain on bench/codec_rounds' bass-heavy mix for 0.012 LU) */
#define FLAT_SLOPE 0.05
#define FLAT_STEP_DB 3.0

double lq_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void lq_export_warn(lq_export *ex, const char *fmt, ...)
{
    if (ex->n_warnings >= LQ_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ex->warnings[ex->n_warnings++], sizeof ex->warnings[0], fmt, ap);
    va_end(ap);
}

typedef struct render {
    lq_spool_reader rd;
    double gain;
    lq_meter *meter;
    lq_audio_out *out[1 + LQ_MAX_CODEC_CHECKS];
    int n_out;
    lq_spool *to;        /* or NULL: the chain's output also goes here */
    const lq_meter_shape *shape; /* or NULL: the meter takes the render as it is */
    long long pos;       /* render frames passed to the sink */
    double *tmp[2];      /* shaped copy of a block, for the meter */
    lq_diag *d;          /* the source's */
    lq_diag sd;          /* the sink's (it runs on its own thread: engine/pipe.h) */
    lq_error sink_err;
    /* per second of the output (when dens is set): samples within 1 dB of the ceiling,
     * and the energy of the second difference (the high-frequency content) */
    float *dens, *hfe;
    long long n_dens, dens_len, dpos;
    double dens_thr, x1[2], x2[2];
} render;

/* The meter's view of an album track file (lq_meter_shape): the kept render frames
 * with their fades, between the file's silences (pushed by push_silence). */
static void shaped_push(render *r, const double *const *buf, size_t n)
{
    const lq_meter_shape *s = r->shape;
    const long long p0 = r->pos, p1 = p0 + (long long)n;
    r->pos = p1;
    const long long a = p0 > s->skip ? p0 : s->skip;
    const long long b = p1 < s->skip + s->keep ? p1 : s->skip + s->keep;
    if (a >= b) return;
    const size_t m = (size_t)(b - a), off = (size_t)(a - p0);
    const int nc = r->rd.s->channels;
    const double *pl[2] = {buf[0] + off, nc > 1 ? buf[1] + off : NULL};
    if (a >= s->fade_in && b <= s->frames - s->fade_out) {
        lq_meter_push(r->meter, pl, m);
        return;
    }
    for (size_t i = 0; i < m; i++) {
        const long long t = a + (long long)i;
        const double g = t < s->fade_in || t >= s->frames - s->fade_out ? s->gain(s, t) : 1.0;
        for (int c = 0; c < nc; c++) r->tmp[c][i] = pl[c][i] * g;
    }
    lq_meter_push(r->meter, (const double *const *)r->tmp, m);
}

static void push_silence(render *r, long long n)
{
    const int nc = r->rd.s->channels;
    for (int c = 0; c < nc; c++) memset(r->tmp[c], 0, BLOCK * sizeof(double));
    while (n > 0) {
        size_t m = n < BLOCK ? (size_t)n : BLOCK;
        lq_meter_push(r->meter, (const double *const *)r->tmp, m);
        n -= (long long)m;
    }
}

static size_t src_fn(void *u, double *const *buf, size_t n, lq_error *err)
{
    render *r = u;
    size_t got = lq_spool_read(&r->rd, buf, n);
    if (got == (size_t)-1) {
        *err = lq_diag_set(r->d, LQ_ERR_OUTPUT, "cannot read back a temporary file");
        return 0;
    }
    const int nc = r->rd.s->channels;
    if (r->gain != 1.0)
        for (int c = 0; c < nc; c++)
            for (size_t i = 0; i < got; i++) buf[c][i] *= r->gain;
    return got;
}

static lq_error sink_fn(void *u, const double *const *buf, size_t n)
{
    render *r = u;
    if (r->dens) {
        const int nc = r->rd.s->channels;
        for (int c = 0; c < nc; c++) {
            double x1 = r->x1[c], x2 = r->x2[c];
            /* window by window (a window is a second of the output) */
            for (size_t i = 0; i < n;) {
                const long long pos = r->dpos + (long long)i, w = pos / r->dens_len;
                if (w >= r->n_dens) break;
                const long long left = (w + 1) * r->dens_len - pos;
                const size_t e = (long long)(n - i) < left ? n : i + (size_t)left;
                double cnt = 0, hf = 0;
                for (; i < e; i++) {
                    const double x = buf[c][i], dd = x - 2.0 * x1 + x2;
                    x2 = x1;
                    x1 = x;
                    cnt += fabs(x) > r->dens_thr;
                    hf += dd * dd;
                }
                r->dens[w] += (float)cnt;
                r->hfe[w] += (float)hf;
            }
            r->x1[c] = x1;
            r->x2[c] = x2;
        }
        r->dpos += (long long)n;
    }
    if (r->meter && r->shape) shaped_push(r, buf, n);
    else if (r->meter) lq_meter_push(r->meter, buf, n);
    if (r->to) {
        lq_error e = lq_spool_write(r->to, buf, n, &r->sd);
        if (e) return r->sink_err = e;
    }
    for (int i = 0; i < r->n_out; i++) {
        lq_error e = lq_audio_out_write(r->out[i], buf, n, &r->sd);
        if (e) return r->sink_err = e;
    }
    return LQ_OK;
}

typedef struct plan {
    lq_job *j;
    lq_export *ex;
    const lq_rate_group *g;
    lq_stage_spec limiter, dither;
    int use_limiter, use_dither, out_bits;
    int rough;              /* the rough solve's passes: no dither (see its call) */
    lq_stage_env env;
    unsigned char lim_cfg[512];
    /* an album's PCM track (ex->spool_out, no codec checks): every closed-loop pass is
     * spooled and the best kept in ex->spool_out, so the final render is not run again */
    int keep_best, have_best;
    lq_spool scratch;
    double best_gain_db, best_lufs, best_gr_db;
    json_t *best_lim;
    /* with dens set, a pass over the whole song notes per second where the limiter's
     * output sits within 1 dB of the ceiling and its high-frequency energy (the
     * excerpts' a-priori ranking, build_excerpts) */
    float *dens, *hfe;
    long long n_dens;
} plan;

/* The job's threads (--threads; 0: every core). */
static int job_threads(const lq_job *j)
{
    return j->threads > 0 ? j->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* The threads a pass may use for its pipe (engine/pipe.h), or a margin search estimate
 * for its codec tasks: 1 (inline) while the job has at least as many targets left to
 * finish as threads to run them. */
static int pipe_threads(lq_job *j)
{
    const int threads = job_threads(j);
    pthread_mutex_lock(&j->progress_lock);
    const size_t left = j->n_targets - j->targets_done;
    pthread_mutex_unlock(&j->progress_lock);
    return left >= (size_t)threads ? 1 : threads;
}

/* A pass's limiter in two halves on two threads (when a core is free for them besides
 * the pipe's): this thread reads the source and runs the limiter's detector, the split's
 * worker limits with its output (lq_limiter_apply) and hands the result, its latency
 * cut, to the pipe of the dither, meter and writer.  The same blocks in the same order
 * as lq_chain_run gives the limiter: the same bits. */
typedef struct split_apply {
    void *lim;              /* the limiter's state */
    int channels;
    size_t skip;            /* output frames still to cut: the limiter's latency */
    lq_pipe *down;
    double *buf[2];         /* BLOCK frames each: the block, limited in place */
} split_apply;

static lq_error split_apply_sink(void *u, const double *const *pl, size_t n)
{
    split_apply *a = u;
    const int nc = a->channels;
    for (int c = 0; c < nc; c++) memcpy(a->buf[c], pl[c], n * sizeof(double));
    double *b[2] = {a->buf[0], a->buf[nc > 1 ? 1 : 0]};
    const double *pk[2] = {pl[nc], pl[nc > 1 ? nc + 1 : nc]};
    lq_limiter_apply(a->lim, b, n, pk);
    const size_t off = a->skip < n ? a->skip : n;
    a->skip -= off;
    if (off == n) return LQ_OK;
    const double *view[2] = {b[0] + off, b[1] + off};
    return lq_pipe_put(a->down, view, n - off);
}

/* lq_chain_run for a chain of the limiter alone, split (above); r's source. */
static lq_error run_split(const lq_chain *c0, render *r, lq_pipe *down, const lq_run_ctl *ctl,
                          int threads, lq_diag *d)
{
    const int nc = c0->channels;
    const size_t per = nc > 1 ? BLOCK : 0;
    double *mem = malloc((size_t)3 * (size_t)nc * BLOCK * sizeof *mem);
    if (!mem) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    double *x[2] = {mem, mem + per};
    double *pk[2] = {mem + (size_t)nc * BLOCK, mem + (size_t)nc * BLOCK + per};
    split_apply a = {.lim = c0->state[0], .channels = nc, .skip = c0->latency, .down = down,
                     .buf = {mem + (size_t)2 * nc * BLOCK, mem + (size_t)2 * nc * BLOCK + per}};
    lq_pipe *up = NULL;
    lq_error e = lq_pipe_open(&up, split_apply_sink, &a, 2 * nc, BLOCK, threads, d);
    const long long lat = (long long)c0->latency;
    long long in = 0, pushed = 0;
    int ended = 0;
    while (!e) {
        if (ctl->cancel && *ctl->cancel) {
            e = LQ_ERR_CANCELLED;
            break;
        }
        size_t want = lq_blocker_next(ctl->blocks), got = 0;
        if (!ended) {
            got = src_fn(r, x, want, &e);
            if (e) break;
            if (got == 0) ended = 1;
            in += (long long)got;
        }
        if (ended) {   /* drain: silence until every input frame has come out */
            const long long owed = in + lat - pushed;
            if (owed <= 0) break;
            got = (size_t)owed < want ? (size_t)owed : want;
            for (int c = 0; c < nc; c++) memset(x[c], 0, got * sizeof(double));
        }
        lq_limiter_detect(a.lim, (const double *const *)x, got, pk);
        /* planes: the channels, then their peak estimates */
        const double *planes[4] = {x[0], x[1], pk[0], pk[1]};
        if (nc == 1) planes[1] = pk[0];
        e = lq_pipe_put(up, planes, got);
        pushed += (long long)got;
    }
    e = lq_pipe_close(&up, e);
    free(mem);
    return e;
}

/* Run the chain once with gain_db and ceiling; measure with `what`; optionally encode
 * into outs.  *res gets the figures of what came out of the chain. */
static lq_error run_pass_from(plan *p, const lq_spool *src, lq_spool *to,
                              const lq_meter_shape *shape, double gain_db,
                              double ceiling_dbtp, int what, lq_audio_out **outs, int n_out,
                              lq_meter_result *res, json_t **lim_report, json_t **dith_report,
                              long long *clipped)
{
    lq_export *ex = p->ex;
    lq_stage_spec lim = {0}, dit = {0};
    if (p->use_limiter) {
        memcpy(p->lim_cfg, p->limiter.cfg, p->limiter.vt->config_size);
        ((lq_limiter_config *)(void *)p->lim_cfg)->ceiling_dbtp = ceiling_dbtp;
        lim.vt = p->limiter.vt;
        lim.cfg = p->lim_cfg;
    }
    if (p->use_dither && !p->rough) dit = p->dither;
    /* the limiter on this thread; the dither, with the metering and writing, on the
     * pipe's (the two halves of the pass take about as long).  The dither first runs
     * over the limiter's latency as silence, as it would in one chain: the same bytes. */
    lq_chain chains[2];
    lq_error e = lq_chain_create(&chains[0], &lim, 1, &p->env, &ex->diag);
    if (e) return e;
    e = lq_chain_create(&chains[1], &dit, 1, &p->env, &ex->diag);
    if (e) {
        lq_chain_destroy(&chains[0]);
        return e;
    }
    render r = {.gain = pow(10.0, gain_db / 20.0), .d = &ex->diag, .n_out = n_out, .to = to};
    if (p->dens && src == &p->g->spool) {
        r.dens = p->dens;
        r.hfe = p->hfe;
        r.n_dens = p->n_dens;
        r.dens_len = p->env.sample_rate;
        r.dens_thr = pow(10.0, (ceiling_dbtp - 1.0) / 20.0);
        memset(p->dens, 0, (size_t)p->n_dens * sizeof *p->dens);
        memset(p->hfe, 0, (size_t)p->n_dens * sizeof *p->hfe);
    }
    for (int i = 0; i < n_out; i++) r.out[i] = outs[i];
    /* integrated loudness only: the compact meter, exact (the written file is measured
     * by libebur128 in the verification) */
    if (what == LQ_METER_LOUDNESS)
        e = lq_meter_new_quick(&r.meter, p->env.channels, p->env.sample_rate,
                               src->frames + (shape ? shape->lead + shape->tail : 0) +
                                   (long long)chains[0].latency,
                               &ex->diag);
    else if (what)
        e = lq_meter_new(&r.meter, p->env.channels, p->env.sample_rate, what, BLOCK, &ex->diag);
    if (!e && lq_spool_reader_init(&r.rd, src, BLOCK))
        e = lq_diag_set(&ex->diag, LQ_ERR_NOMEM, "out of memory");
    if (!e && r.meter && shape) {
        r.shape = shape;
        if (!(r.tmp[0] = malloc((size_t)2 * BLOCK * sizeof(double))))
            e = lq_diag_set(&ex->diag, LQ_ERR_NOMEM, "out of memory");
        else r.tmp[1] = r.tmp[0] + BLOCK;
        if (!e) push_silence(&r, shape->lead);
    }
    if (!e) {
        lq_blocker bl;
        lq_blocker_init(&bl, src == &p->g->spool ? p->j->block : BLOCK, BLOCK);
        lq_run_ctl ctl = {.blocks = &bl, .cancel = &p->j->cancel};
        /* the dither, metering and writing beside the limiter, on a second thread, when
         * a core is free for it: not while as many of the job's targets are left as it
         * has threads (they keep the cores busy; two threads of one pass on cores that
         * are busy anyway only cost CPU time).  Inline or not, the same blocks in the
         * same order: the same bytes. */
        lq_pipe *pipe = NULL;
        lq_chain_feed post;
        if (lq_chain_feed_init(&post, &chains[1], chains[0].latency, sink_fn, &r))
            e = lq_diag_set(&ex->diag, LQ_ERR_NOMEM, "out of memory");
        const int threads = pipe_threads(p->j);
        if (!e) e = lq_pipe_open(&pipe, lq_chain_feed_put, &post, p->env.channels, BLOCK,
                                 threads, &ex->diag);
        /* with a core free, the limiter's detector and its gain on two threads too */
        if (!e && threads > 1 && chains[0].n == 1 && chains[0].vt[0] == &lq_stage_limiter)
            e = run_split(&chains[0], &r, pipe, &ctl, threads, &ex->diag);
        else if (!e)
            e = lq_chain_run(&chains[0], src_fn, &r, lq_pipe_put, pipe, &ctl, NULL);
        e = lq_pipe_close(&pipe, e);
        if (!e) e = lq_chain_feed_end(&post);
        lq_chain_feed_free(&post);
        if (r.sink_err) ex->diag = r.sd;
        if (e == LQ_ERR_CANCELLED) lq_diag_set(&ex->diag, e, "cancelled");
        if (!e && r.shape) push_silence(&r, shape->tail);
    }
    if (r.rd.buf) lq_spool_reader_free(&r.rd);
    free(r.tmp[0]);
    if (!e && r.meter) lq_meter_result_get(r.meter, res);
    for (int h = 0; h < 2 && !e; h++) {
        const lq_chain *chain = &chains[h];
        for (size_t i = 0; i < chain->n; i++) {
            json_t **slot = strcmp(chain->vt[i]->name, "limiter") == 0 ? lim_report
                            : strcmp(chain->vt[i]->name, "dither") == 0 ? dith_report
                                                                          : NULL;
            if (strcmp(chain->vt[i]->name, "dither") == 0 && clipped)
                *clipped = lq_dither_clipped(chain->state[i]);
            if (strcmp(chain->vt[i]->name, "limiter") == 0 && lim_report) {
                double mx, mean, secs;
                lq_limiter_stats(chain->state[i], &mx, &mean, &secs);
                ex->max_gr_db = mx;
            }
            if (slot && chain->vt[i]->report) {
                if (*slot) json_decref(*slot);
                *slot = json_object();
                chain->vt[i]->report(chain->state[i], *slot);
            }
        }
    }
    lq_meter_destroy(&r.meter);
    lq_chain_destroy(&chains[0]);
    lq_chain_destroy(&chains[1]);
    return e;
}

/* A pass over the rate group's spool; with `to`, its output also goes into that spool,
 * made afresh.  An album's track is metered as its file will hold it (ex->shape). */
static lq_error run_pass(plan *p, lq_spool *to, double gain_db, double ceiling_dbtp, int what,
                         lq_audio_out **outs, int n_out, lq_meter_result *res,
                         json_t **lim_report, json_t **dith_report, long long *clipped)
{
    lq_export *ex = p->ex;
    if (to) {
        lq_spool_destroy(to);
        lq_error e = lq_spool_create(to, p->j->out_dir, p->env.channels, ex->rate, &ex->diag);
        if (e) return e;
    }
    lq_error e = run_pass_from(p, &p->g->spool, to, ex->has_shape ? &ex->shape : NULL,
                               gain_db, ceiling_dbtp, what, outs, n_out, res, lim_report,
                               dith_report, clipped);
    if (!e && to) e = lq_spool_finish(to, &ex->diag);
    return e;
}

static lq_error open_export(plan *p, lq_audio_out *o, lq_format fmt, int bits, int rate,
                            lq_diag *d)
{
    lq_job *j = p->j;
    const lq_target *t = p->ex->target;
    char desc[256];
    snprintf(desc, sizeof desc, "%s mastered by lacquer for %s", j->title, t->name);
    lq_out_meta meta = {j->title, j->artist, j->album, desc};
    int kbps = fmt == t->format ? t->bitrate_kbps
               : fmt == LQ_FMT_OPUS ? 160
               : fmt == LQ_FMT_AAC  ? t->aac_kbps
                                    : 320;
    return lq_audio_out_open(o, j->out_dir, fmt, rate, p->env.channels, bits, kbps, &meta,
                             BLOCK, d);
}

/* Rates the lossy encoders take (MPEG-1/2/2.5 layer III; libsndfile's Opus; AAC as the
 * services encode it: 44.1 or 48 kHz and below). */
static int codec_takes_rate(lq_format f, int rate)
{
    static const int mp3[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
    static const int opus[] = {8000, 12000, 16000, 24000, 48000};
    const int *r = f == LQ_FMT_MP3 || f == LQ_FMT_AAC ? mp3 : f == LQ_FMT_OPUS ? opus : NULL;
    size_t n = f == LQ_FMT_MP3 || f == LQ_FMT_AAC ? 9 : 5;
    if (!r) return rate <= 192000;
    for (size_t i = 0; i < n; i++)
        if (r[i] == rate) return 1;
    return 0;
}

/* The rate a service would transcode this export at for that codec. */
static int codec_rate_for(lq_format f, int rate)
{
    if (codec_takes_rate(f, rate)) return rate;
    if (f == LQ_FMT_OPUS) return 48000;
    if (f == LQ_FMT_MP3 || f == LQ_FMT_AAC) return rate % 11025 == 0 ? 44100 : 48000;
    return rate > 192000 ? 48000 : rate;
}

/* A stretch [start, end) of frames whose decoded true peak counts. */
typedef struct region {
    long long start, end;
} region;

/* ---- 16x true peak of decoded audio, over regions only ------------------------------
 * Each region is metered on its own (a fresh meter), with CTX frames of context on each
 * side that fade in and out (raised cosine) so that the cut is not read as a peak. */
#define CTX 64

typedef struct tp_sink {
    lq_tp_meter *m;
    const region *rg;    /* NULL: the whole stream */
    int n_rg, cur, open;
    double scale;        /* region frames -> stream frames */
    long long pos;
    double max_lin;
    int channels;
    double *tmp[2];
    float *win;          /* or NULL: the sample peak of each second of the whole stream */
    long long n_win, win_len;
} tp_sink;

static void tp_close_region(tp_sink *t)
{
    double v = lq_tp_meter_max_linear(t->m);
    if (v > t->max_lin) t->max_lin = v;
    lq_tp_meter_reset(t->m);
    t->open = 0;
}

static void tp_sink_push(void *u, const double *const *pl, size_t n)
{
    tp_sink *t = u;
    if (!t->rg) {
        lq_tp_meter_push(t->m, pl, n);
        if (t->win)   /* where the decoded peaks sit, second by second */
            for (int c = 0; c < t->channels; c++)
                for (size_t i = 0; i < n; i++) {
                    long long w = (t->pos + (long long)i) / t->win_len;
                    if (w >= t->n_win) break;
                    float a = (float)fabs(pl[c][i]);
                    if (a > t->win[w]) t->win[w] = a;
                }
        t->pos += (long long)n;
        return;
    }
    size_t i = 0;
    while (i < n && t->cur < t->n_rg) {
        const long long pos = t->pos + (long long)i;
        const long long rs = llround(t->rg[t->cur].start * t->scale);
        const long long re = llround(t->rg[t->cur].end * t->scale);
        const long long a = rs - CTX, b = re + CTX;
        if (pos >= b) {
            if (t->open) tp_close_region(t);
            t->cur++;
            continue;
        }
        if (pos < a) {
            long long skip = a - pos;
            i += (size_t)(skip < (long long)(n - i) ? skip : (long long)(n - i));
            continue;
        }
        size_t k = n - i;
        if ((long long)k > b - pos) k = (size_t)(b - pos);
        if (k > BLOCK) k = BLOCK;
        for (int c = 0; c < t->channels; c++)
            for (size_t q = 0; q < k; q++) {
                long long x = pos + (long long)q;
                double w = 1.0;
                if (x < rs) w = 0.5 - 0.5 * cos(M_PI * (double)(x - a) / CTX);
                else if (x >= re) w = 0.5 + 0.5 * cos(M_PI * (double)(x - re) / CTX);
                t->tmp[c][q] = pl[c][i + q] * w;
            }
        lq_tp_meter_push(t->m, (const double *const *)t->tmp, k);
        t->open = 1;
        i += k;
    }
    t->pos += (long long)n;
}

static double tp_sink_result_db(tp_sink *t)
{
    if (!t->rg) return lq_tp_meter_max_dbtp(t->m);
    if (t->open) tp_close_region(t);
    return lq_db(t->max_lin);
}

/* ---- one codec round trip, measured ---------------------------------------------------- */

typedef struct codec_task {
    plan *p;
    lq_format fmt;
    const lq_spool *spool;   /* the audio to encode: a spool (frames [from, to); to 0:
                                all of it), or */
    long long from, to;
    const char *path;        /* a written file */
    const region *rg;        /* regions (frames from `from`) whose peaks count; NULL: all */
    int n_rg;
    int verify;              /* not a codec: measure the export itself (lq_meter_file) */
    float *win;              /* or NULL: per second of a whole-file check, the decoded
                                sample peak (n_win seconds) */
    long long n_win;
    double tp_db;            /* result */
    int rate;                /* the rate encoded at */
    lq_error err;
    lq_diag diag;
} codec_task;

/* Feed a source (spool or decoded file) in blocks to fn. */
typedef lq_error (*feed_fn)(void *u, const double *const *pl, size_t n, lq_diag *d);

/* frames [from, to) of the spool (to 0: to its end) */
static lq_error feed_spool(const lq_spool *s, long long from, long long to, feed_fn fn, void *u,
                           double **pl, const volatile sig_atomic_t *cancel, lq_diag *d)
{
    lq_spool_reader rd;
    if (lq_spool_reader_init(&rd, s, BLOCK)) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (from > 0) lq_spool_reader_seek(&rd, from);
    lq_error e = LQ_OK;
    size_t n;
    for (;;) {
        size_t want = BLOCK;
        if (to > 0 && to - rd.pos < (long long)want) want = to - rd.pos > 0 ? (size_t)(to - rd.pos) : 0;
        if (e || want == 0 || (n = lq_spool_read(&rd, pl, want)) == 0) break;
        if (n == (size_t)-1) {
            e = lq_diag_set(d, LQ_ERR_OUTPUT, "cannot read back a temporary file");
            break;
        }
        if (*cancel) e = lq_diag_set(d, LQ_ERR_CANCELLED, "cancelled");
        else e = fn(u, (const double *const *)pl, n, d);
    }
    lq_spool_reader_free(&rd);
    return e;
}

/* own: a file this job encoded with libsndfile (decoded by libsndfile, not FFmpeg) */
static lq_error feed_file(const char *path, int own, feed_fn fn, void *u, double **pl,
                          const volatile sig_atomic_t *cancel, lq_diag *d)
{
    lq_audio_in in;
    lq_error e = own ? lq_audio_in_open_own(&in, path, BLOCK, d)
                     : lq_audio_in_open(&in, path, BLOCK, d);
    while (!e) {
        size_t got = 0;
        e = lq_audio_in_read(&in, pl, BLOCK, &got, d);
        if (e || got == 0) break;
        if (*cancel) e = lq_diag_set(d, LQ_ERR_CANCELLED, "cancelled");
        else e = fn(u, (const double *const *)pl, got, d);
    }
    if (in.sf || in.ff) lq_audio_in_close(&in);
    return e;
}

static lq_error to_spool(void *u, const double *const *pl, size_t n, lq_diag *d)
{
    return lq_spool_write(u, pl, n, d);
}

typedef struct enc_ctx {
    lq_audio_out *o;
    lq_ff_roundtrip *rt;
    tp_sink *ts;
} enc_ctx;

static lq_error to_encoder(void *u, const double *const *pl, size_t n, lq_diag *d)
{
    enc_ctx *c = u;
    if (c->rt) return lq_ff_roundtrip_push(c->rt, pl, n, tp_sink_push, c->ts, d);
    return lq_audio_out_write(c->o, pl, n, d);
}

static lq_error to_meter(void *u, const double *const *pl, size_t n, lq_diag *d)
{
    (void)d;
    tp_sink_push(u, pl, n);
    return LQ_OK;
}

/* Encode the task's audio with its codec at the rate a service would use (resampling
 * first when the codec does not take the export's rate), decode it, and measure the
 * decoded 16x true peak over the task's regions. */
static lq_error codec_roundtrip(codec_task *tk)
{
    plan *p = tk->p;
    lq_export *ex = p->ex;
    lq_diag *d = &tk->diag;
    const volatile sig_atomic_t *cancel = &p->j->cancel;
    const int nc = p->env.channels;
    const int crate = codec_rate_for(tk->fmt, ex->rate);
    tk->rate = crate;
    lq_spool s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    s1.fd = s2.fd = -1;
    lq_audio_out o;
    memset(&o, 0, sizeof o);
    o.fd = -1;
    lq_ff_roundtrip *rt = NULL;
    tp_sink ts = {.rg = tk->rg, .n_rg = tk->n_rg, .scale = (double)crate / ex->rate,
                  .channels = nc, .win = tk->rg ? NULL : tk->win, .n_win = tk->n_win,
                  .win_len = crate};
    double *mem = malloc(4 * BLOCK * sizeof(double));
    double *pl[2] = {mem, mem ? mem + BLOCK : NULL};
    ts.tmp[0] = mem ? mem + 2 * BLOCK : NULL;
    ts.tmp[1] = mem ? mem + 3 * BLOCK : NULL;
    lq_error e = mem ? LQ_OK : lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (!e && lq_tp_meter_new(&ts.m, nc, crate, 16) != LQ_OK)
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    /* the audio at the codec's rate */
    const lq_spool *src = tk->spool;
    long long from = tk->from, to = tk->to;
    if (!e && crate != ex->rate) {
        if (!src || from > 0 || to > 0) {   /* the file, or the frames asked for */
            e = lq_spool_create(&s1, p->j->out_dir, nc, ex->rate, d);
            if (!e) e = src ? feed_spool(src, from, to, to_spool, &s1, pl, cancel, d)
                            : feed_file(tk->path, 0, to_spool, &s1, pl, cancel, d);
            if (!e) e = lq_spool_finish(&s1, d);
            src = &s1;
            from = to = 0;
        }
        if (!e) e = lq_spool_create(&s2, p->j->out_dir, nc, crate, d);
        /* the service's transcode, with the converter the target delivers with */
        if (!e) e = lq_resample_spool(src, &s2, crate, ex->target->resampler, NULL, cancel, d);
        if (!e) e = lq_spool_finish(&s2, d);
        src = &s2;
    }
    /* encode (AAC: decoded on the fly) */
    enc_ctx ec = {.o = &o, .ts = &ts};
    if (!e && tk->fmt == LQ_FMT_AAC) {
        /* the export's own codec (format: aac) with the coder its file is written with;
         * a check codec with the quicker `fast` coder */
        const int own = tk->fmt == ex->target->format;
        int kbps = own ? ex->target->bitrate_kbps : ex->target->aac_kbps;
        e = lq_ff_roundtrip_new(&rt, crate, nc, kbps, !own, d);
        ec.rt = rt;
    } else if (!e) {
        e = open_export(p, &o, tk->fmt, 24, crate, d);
    }
    if (!e) e = src ? feed_spool(src, from, to, to_encoder, &ec, pl, cancel, d)
                    : feed_file(tk->path, 0, to_encoder, &ec, pl, cancel, d);
    if (!e && rt) e = lq_ff_roundtrip_finish(rt, tp_sink_push, &ts, d);
    if (!e && !rt) e = lq_audio_out_close(&o, d);
    /* decode */
    if (!e && !rt) e = feed_file(o.read_path, 1, to_meter, &ts, pl, cancel, d);
    if (!e) tk->tp_db = tp_sink_result_db(&ts);
    lq_ff_roundtrip_destroy(&rt);
    lq_audio_out_discard(&o);
    lq_spool_destroy(&s2);
    lq_spool_destroy(&s1);
    if (ts.m) lq_tp_meter_destroy(&ts.m);
    free(mem);
    return e;
}

static void run_task(codec_task *tk)
{
    if (tk->verify) {
        lq_export *ex = tk->p->ex;
        tk->err = lq_meter_file(tk->path,
                                LQ_METER_FULL | LQ_METER_TP16 | LQ_METER_PLOTS | LQ_METER_OWN,
                                &ex->meas, &tk->diag);
    } else {
        tk->err = codec_roundtrip(tk);
    }
}

typedef struct task_pool {
    codec_task *t;
    int n, next;
    pthread_mutex_t lock;
} task_pool;

static void *task_worker(void *u)
{
    task_pool *tp = u;
    for (;;) {
        pthread_mutex_lock(&tp->lock);
        int i = tp->next < tp->n ? tp->next++ : -1;
        pthread_mutex_unlock(&tp->lock);
        if (i < 0) return NULL;
        run_task(&tp->t[i]);
    }
}

/* Run the tasks side by side on up to the job's thread count (each task's result lands
 * in its own slot: nothing depends on which thread ran it or when).  The first error
 * in task order is copied into the export's diagnostics. */
static lq_error run_tasks(plan *p, codec_task *t, int n, int threads)
{
    if (threads > n) threads = n;
    if (threads < 1) threads = 1;
    task_pool pool = {.t = t, .n = n};
    pthread_mutex_init(&pool.lock, NULL);
    pthread_t th[2 * (LQ_MAX_CODEC_CHECKS + 1)];
    if (threads > (int)(sizeof th / sizeof th[0])) threads = (int)(sizeof th / sizeof th[0]);
    int started = 0;
    for (int i = 1; i < threads; i++)
        if (pthread_create(&th[started], NULL, task_worker, &pool) == 0) started++;
    task_worker(&pool);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&pool.lock);
    for (int i = 0; i < n; i++)
        if (t[i].err) {
            p->ex->diag = t[i].diag;
            return t[i].err;
        }
    return LQ_OK;
}

/* ---- excerpts for the margin search ----------------------------------------------- */

typedef struct excerpts {
    lq_spool own;            /* the passages, one after another (when not the whole file) */
    const lq_spool *sp;      /* &own, or the rate group's spool itself for short songs */
    region rg[EXCERPTS];
    int n_rg;
    /* the passages in two halves, encoded side by side: rg[0..split) in frames
     * [0, split_at) of the spool, rg[split..n_rg) (rg2: from split_at) after it; split_at
     * is on the codecs' frame grid and every passage has its own pre-roll, so each half
     * encodes as it would in one piece.  split 0: one piece. */
    int split;
    long long split_at;
    region rg2[EXCERPTS];
} excerpts;

/* Pick EXCERPTS one-second windows: given `score` (n_score seconds: the decoded peaks
 * of a whole-file verification), where the codecs' decoded peaks sit highest; else, from
 * the rough solve's limited output (plan.dens, plan.hfe), alternately the windows that
 * hold the ceiling longest and those that reach it with the most high-frequency energy;
 * without those (the output never came within 1 dB of the ceiling), the windows with the
 * highest sample peaks of the rate group's spool.  Each with 1 s of pre-roll and 0.2 s
 * after it; overlapping ones merge.  A song not much longer than that is used whole. */
static long long gcd_ll(long long a, long long b)
{
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The frame grid the codecs encode on, in frames of the export (lossy codecs quantize
 * frame by frame: MP3 1152 samples, AAC 1024, Vorbis long blocks 2048, Opus 20 ms): an
 * excerpt copied onto the same grid as in the song is encoded as in the song.  Codecs
 * that resample first have no grid in the export's frames. */
static long long codec_grid(const lq_format *fmts, int nf, int rate)
{
    long long l = 1;
    for (int i = 0; i < nf; i++) {
        if (codec_rate_for(fmts[i], rate) != rate) continue;
        long long f = fmts[i] == LQ_FMT_MP3 ? 1152 : fmts[i] == LQ_FMT_AAC ? 1024
                    : fmts[i] == LQ_FMT_OPUS ? rate / 50 : 2048;
        l = l / gcd_ll(l, f) * f;
    }
    return l;
}

static lq_error build_excerpts(plan *p, excerpts *x, const float *score, long long n_score,
                               long long grid)
{
    const lq_spool *s = &p->g->spool;
    lq_diag *d = &p->ex->diag;
    memset(x, 0, sizeof *x);
    x->own.fd = -1;
    const long long W = (long long)s->rate, P = (long long)s->rate, Q = (long long)(s->rate / 5);
    const long long nwin = s->frames / W;
    if (s->frames <= 4 * EXCERPTS * (W + P + Q) || nwin < EXCERPTS) {
        x->sp = s;
        x->n_rg = 0;   /* the whole song */
        p->ex->n_search_passages = 0;
        p->ex->n_search_pieces = 1;
        p->ex->search_seconds = (double)s->frames / s->rate;
        return LQ_OK;
    }
    float *peak = malloc(2 * (size_t)(nwin + 1) * sizeof *peak);
    float *energy = peak ? peak + nwin + 1 : NULL;
    double *mem = malloc(2 * BLOCK * sizeof(double));
    double *pl[2] = {mem, mem ? mem + BLOCK : NULL};
    lq_spool_reader rd;
    lq_error e = LQ_OK;
    if (!peak || !mem || lq_spool_reader_init(&rd, s, BLOCK)) {
        free(peak);
        free(mem);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    memset(peak, 0, 2 * (size_t)(nwin + 1) * sizeof *peak);
    long long pos = 0;
    size_t n;
    if (score) {   /* 0.01 dB steps of the decoded peaks; no need to read the spool */
        for (long long w = 0; w < nwin; w++) {
            float v = w < n_score ? score[w] : 0.0f;
            peak[w] = v > 0.0f ? floorf(2000.0f * log10f(v)) : -1e9f;
        }
    }
    /* the limiter's output at the rough gain, second by second (plan.dens): usable when
     * it reached within 1 dB of the ceiling somewhere */
    int by_out = 0;
    for (long long w = 0; !score && p->dens && p->n_dens >= nwin && w < nwin; w++)
        by_out |= p->dens[w] > 0.0f;
    while (!score && !by_out && (n = lq_spool_read(&rd, pl, BLOCK)) > 0) {
        if (n == (size_t)-1) {
            e = lq_diag_set(d, LQ_ERR_OUTPUT, "cannot read back a temporary file");
            break;
        }
        for (int c = 0; c < s->channels; c++)
            for (size_t i = 0; i < n; i++) {
                long long w = (pos + (long long)i) / W;
                if (w > nwin) w = nwin;
                float a = (float)fabs(pl[c][i]);
                if (a > peak[w]) peak[w] = a;
                energy[w] += a * a;
            }
        pos += (long long)n;
    }
    /* the top windows by peak (in 0.1 dB steps: a limited or clipped mix has many
     * equal peaks), then by energy (the densest passages drive the limiter hardest);
     * ties: the earlier one.  Then in time order. */
    for (long long w = 0; w < nwin && !score; w++)
        peak[w] = peak[w] > 0.0f ? floorf(200.0f * log10f(peak[w])) : -1e9f;
    long long pick[EXCERPTS];
    int np = 0;
    for (int k = 0; k < EXCERPTS && !e; k++) {
        long long best = -1;
        for (long long w = 0; w < nwin; w++) {
            int taken = 0;
            for (int q = 0; q < np; q++) taken |= pick[q] == w;
            if (taken) continue;
            if (best < 0) {
                best = w;
            } else if (by_out) {
                /* a codec's decoded peaks sit where the limited output holds the ceiling
                 * longest (more chances for the coding noise to add up over it) or where
                 * its high frequencies are strongest (pre-echo of transients): the picks
                 * alternate between the two rankings */
                const float *d = p->dens, *h = p->hfe;
                const float kw = k % 2 ? (d[w] > 0.0f) : d[w];
                const float kb = k % 2 ? (d[best] > 0.0f) : d[best];
                if (kw > kb || (kw == kb && h[w] > h[best])) best = w;
            } else if (peak[w] > peak[best] ||
                       (peak[w] == peak[best] && energy[w] > energy[best])) {
                best = w;
            }
        }
        pick[np++] = best;
    }
    for (int a = 0; a < np; a++)
        for (int b = a + 1; b < np; b++)
            if (pick[b] < pick[a]) {
                long long t = pick[a];
                pick[a] = pick[b];
                pick[b] = t;
            }
    /* merge into segments [seg_a, seg_b) of the spool, each measured over
     * [first window, last window end) */
    long long seg_a[EXCERPTS], seg_b[EXCERPTS], reg_a[EXCERPTS], reg_b[EXCERPTS];
    int ns = 0;
    for (int k = 0; k < np && !e; k++) {
        long long ws = pick[k] * W, we = ws + W;
        long long a = ws - P < 0 ? 0 : ws - P, b = we + Q > s->frames ? s->frames : we + Q;
        if (ns > 0 && a <= seg_b[ns - 1]) {
            seg_b[ns - 1] = b;
            reg_b[ns - 1] = we;
        } else {
            seg_a[ns] = a, seg_b[ns] = b, reg_a[ns] = ws, reg_b[ns] = we;
            ns++;
        }
    }
    /* the second half starts with the segment that splits the frames most evenly */
    int split = 0;
    {
        long long total = 0, cum = 0, best = -1;
        for (int k = 0; k < ns; k++) total += seg_b[k] - seg_a[k];
        for (int k = 1; k < ns; k++) {
            cum += seg_b[k - 1] - seg_a[k - 1];
            const long long dist = cum * 2 > total ? cum * 2 - total : total - cum * 2;
            if (best < 0 || dist < best) best = dist, split = k;
        }
    }
    /* copy the segments, with 10 ms raised-cosine fades where they are cut */
    if (!e) e = lq_spool_create(&x->own, p->j->out_dir, s->channels, s->rate, d);
    const long long F = (long long)(s->rate / 100);
    long long out_pos = 0;
    for (int k = 0; k < ns && !e; k++) {
        /* silence up to the segment's place on the codecs' frame grid (for the second
         * half, first up to a frame of the grid: its encode starts there) */
        long long pad = ((seg_a[k] - out_pos) % grid + grid) % grid;
        if (k == split && split > 0) {
            x->split = split;
            x->split_at = out_pos + (grid - out_pos % grid) % grid;
            pad = x->split_at - out_pos + ((seg_a[k] - x->split_at) % grid + grid) % grid;
        }
        if (pad) memset(mem, 0, 2 * BLOCK * sizeof(double));
        while (!e && pad > 0) {
            size_t z = (size_t)(pad < BLOCK ? pad : BLOCK);
            e = lq_spool_write(&x->own, (const double *const *)pl, z, d);
            pad -= (long long)z;
            out_pos += (long long)z;
        }
        rd.pos = seg_a[k];
        long long at = seg_a[k];
        while (!e && at < seg_b[k]) {
            size_t want = (size_t)(seg_b[k] - at < BLOCK ? seg_b[k] - at : BLOCK);
            n = lq_spool_read(&rd, pl, want);
            if (n == 0 || n == (size_t)-1) {
                e = lq_diag_set(d, LQ_ERR_OUTPUT, "cannot read back a temporary file");
                break;
            }
            for (int c = 0; c < s->channels; c++)
                for (size_t i = 0; i < n; i++) {
                    long long f = at + (long long)i;
                    double w = 1.0;
                    if (seg_a[k] > 0 && f - seg_a[k] < F)
                        w = 0.5 - 0.5 * cos(M_PI * (double)(f - seg_a[k]) / F);
                    if (seg_b[k] < s->frames && seg_b[k] - 1 - f < F)
                        w *= 0.5 - 0.5 * cos(M_PI * (double)(seg_b[k] - 1 - f) / F);
                    pl[c][i] *= w;
                }
            e = lq_spool_write(&x->own, (const double *const *)pl, n, d);
            at += (long long)n;
        }
        x->rg[k] = (region){out_pos + reg_a[k] - seg_a[k], out_pos + reg_b[k] - seg_a[k]};
        out_pos += seg_b[k] - seg_a[k];
    }
    x->n_rg = ns;
    for (int k = x->split; k < ns && x->split > 0; k++)
        x->rg2[k - x->split] = (region){x->rg[k].start - x->split_at, x->rg[k].end - x->split_at};
    if (!e) e = lq_spool_finish(&x->own, d);
    x->sp = &x->own;
    p->ex->n_search_passages = ns;
    p->ex->n_search_pieces = x->split > 0 ? 2 : 1;
    p->ex->search_seconds = (double)out_pos / s->rate;
    lq_spool_reader_free(&rd);
    free(peak);
    free(mem);
    return e;
}

static void excerpts_free(excerpts *x)
{
    if (x->own.fd >= 0 || x->own.buf) lq_spool_destroy(&x->own);
    x->own.fd = -1;
}

/* The worst decoded true peak of the check codecs whose `on` is set, on the excerpts
 * rendered at (gain, ceiling); tp[i] gets codec i's (-inf when it is off). */
static lq_error excerpt_estimate(plan *p, const excerpts *x, const lq_format *fmts, int nf,
                                 const int *on, double gain_db, double ceil_db, double *worst,
                                 double *tp)
{
    lq_export *ex = p->ex;
    lq_spool out;
    memset(&out, 0, sizeof out);
    out.fd = -1;
    lq_error e = lq_spool_create(&out, p->j->out_dir, p->env.channels, ex->rate, &ex->diag);
    if (!e) e = run_pass_from(p, x->sp, &out, NULL, gain_db, ceil_db, 0, NULL, 0, NULL, NULL, NULL,
                               NULL);
    if (!e) e = lq_spool_finish(&out, &ex->diag);
    /* per codec, the passages in one piece or in their two halves */
    codec_task t[2 * (LQ_MAX_CODEC_CHECKS + 1)];
    int idx[2 * (LQ_MAX_CODEC_CHECKS + 1)], n = 0;
    for (int i = 0; i < nf; i++) {
        tp[i] = -HUGE_VAL;
        if (!on[i]) continue;
        ex->n_search_rt[fmts[i]]++;
        if (x->split > 0) {
            idx[n] = i;
            t[n++] = (codec_task){.p = p, .fmt = fmts[i], .spool = &out, .to = x->split_at,
                                  .rg = x->rg, .n_rg = x->split};
            idx[n] = i;
            t[n++] = (codec_task){.p = p, .fmt = fmts[i], .spool = &out, .from = x->split_at,
                                  .rg = x->rg2, .n_rg = x->n_rg - x->split};
        } else {
            idx[n] = i;
            t[n++] = (codec_task){.p = p, .fmt = fmts[i], .spool = &out,
                                  .rg = x->n_rg ? x->rg : NULL, .n_rg = x->n_rg};
        }
    }
    if (!e) e = run_tasks(p, t, n, pipe_threads(p->j));
    *worst = -HUGE_VAL;
    for (int i = 0; i < n && !e; i++) {
        if (t[i].tp_db > tp[idx[i]]) tp[idx[i]] = t[i].tp_db;
        if (t[i].tp_db > *worst) *worst = t[i].tp_db;
    }
    lq_spool_destroy(&out);
    return e;
}

/* ---- the closed loop ------------------------------------------------------------------
 * Every pass of the closed loop lies on one curve.  The finishing chain is
 * scale-invariant: the limiter at ceiling c driven with gain g gives, with both a dB
 * higher, the same output a dB louder (its detector, gain computer and release all work
 * on ratios to the ceiling; the 24-bit dither's fixed-level noise is far under the
 * meter's resolution).  So a pass (g, c, L) is a point (u, F) = (g - c, L - c) of one
 * increasing function F of the drive u, and the gain for a new ceiling is read off
 * every pass so far instead of being searched again from the linear estimate. */
#define CURVE_MAX 24

typedef struct drive_curve {
    double u[CURVE_MAX], f[CURVE_MAX];
    int n;
    /* for the loss model (model_gain): the rate group's loudness and 16x true peak */
    double ls, pk;
} drive_curve;

/* The loss model.  The limiter takes l(u) = u + ls - F(u) of loudness at drive u (F of
 * an unlimited render would be u + ls), a loss that grows from 0 where the peaks start
 * to reach the ceiling, x = u + pk = 0 dB, faster than linearly: close to a power law
 * l = l_a (x / x_a)^k around any point a.  A straight line through the passes so far
 * (the secant) over-reads F when it reaches beyond them, by 0.03-0.05 LU for the
 * 0.5-1 dB a codec margin moves the ceiling, and the closed loop then needs one more
 * pass; the power law through the two passes nearest the aim (one pass:
 * LOSS_EXPONENT) reads it to a few thousandths.  On the 4-minute bench mix (gentle's
 * master bus, bench/run) k measures 1.4 at x = 0.5-1.2 dB and 2.2-2.3 at x = 2.5-3.9 dB. */
#define LOSS_EXPONENT 2.25

/* The drive u where the power law through point a (k from point b when there is one)
 * reaches y; 0 when the model does not apply there (no loss yet, a flat curve). */
static int model_gain(const drive_curve *cv, int a, int b, double y, double *u_out)
{
    const double xa = cv->u[a] + cv->pk, la = cv->u[a] + cv->ls - cv->f[a];
    if (!(xa > 0.1 && la > 1e-3)) return 0;
    double k = LOSS_EXPONENT;
    if (b >= 0) {
        const double xb = cv->u[b] + cv->pk, lb = cv->u[b] + cv->ls - cv->f[b];
        if (!(xb > 0.1 && lb > 1e-3) || fabs(log(xa / xb)) < 1e-3) return 0;
        k = log(la / lb) / log(xa / xb);
    }
    if (!(k >= 1.0 && k <= 4.0)) return 0;
    /* Newton on G(u) = u + ls - l(u) - y, concave and increasing here: after at most one
     * step from the right of the root, it closes in from the left */
    double u = cv->u[a];
    for (int it = 0; it < 40; it++) {
        const double x = u + cv->pk;
        if (!(x > 0.0)) return 0;
        const double r = pow(x / xa, k);
        const double g = u + cv->ls - la * r - y, dg = 1.0 - k * la * r / x;
        if (!(dg > 0.05)) return 0;
        const double du = g / dg;
        u -= du;
        if (fabs(du) < 1e-10) break;
    }
    if (!isfinite(u) || fabs(u - cv->u[a]) > 12.0) return 0;
    *u_out = u;
    return 1;
}

static void curve_add(drive_curve *cv, double gain_db, double ceil_db, double lufs)
{
    if (!isfinite(lufs)) return;
    if (cv->n == CURVE_MAX) {   /* forget the oldest */
        memmove(cv->u, cv->u + 1, (CURVE_MAX - 1) * sizeof cv->u[0]);
        memmove(cv->f, cv->f + 1, (CURVE_MAX - 1) * sizeof cv->f[0]);
        cv->n--;
    }
    cv->u[cv->n] = gain_db - ceil_db;
    cv->f[cv->n] = lufs - ceil_db;
    cv->n++;
}

/* The gain that puts the render at `aim` under ceiling ceil_db: linear interpolation
 * between the closest points on either side (regula falsi), else (with `model`) the
 * loss model through the points closest to it, else a secant step from the two points
 * closest to it (slope clipped to 0.05 .. 1.5; 1 with one point), at most 12 dB.
 * `fallback` when the curve is empty. */
static double curve_gain(const drive_curve *cv, double aim, double ceil_db, double fallback,
                         int model)
{
    if (cv->n == 0) return fallback;
    const double y = aim - ceil_db;
    const double *u = cv->u, *f = cv->f;
    int lo = -1, hi = -1;
    for (int i = 0; i < cv->n; i++) {
        if (f[i] <= y && (lo < 0 || f[i] > f[lo])) lo = i;
        if (f[i] >= y && (hi < 0 || f[i] < f[hi])) hi = i;
    }
    if (lo >= 0 && hi >= 0) {
        if (f[hi] == f[lo]) return u[lo] + ceil_db;
        if (u[hi] > u[lo]) return u[lo] + (y - f[lo]) * (u[hi] - u[lo]) / (f[hi] - f[lo]) + ceil_db;
    }
    int a = 0, b = -1;
    for (int i = 1; i < cv->n; i++)
        if (fabs(f[i] - y) < fabs(f[a] - y)) a = i;
    for (int i = 0; i < cv->n; i++)
        if (i != a && u[i] != u[a] && (b < 0 || fabs(f[i] - y) < fabs(f[b] - y))) b = i;
    double um;
    if (model && model_gain(cv, a, b, y, &um)) return um + ceil_db;
    double slope = 1.0;
    if (b >= 0) slope = (f[a] - f[b]) / (u[a] - u[b]);
    if (!(slope > 0.05 && slope < 1.5)) slope = 1.0;
    double step = (y - f[a]) / slope;
    if (step > 12.0) step = 12.0;
    if (step < -12.0) step = -12.0;
    return u[a] + step + ceil_db;
}

/* Render the export itself at (gain, ceiling): encode it, measure `what` of the chain's
 * output into *res.  The limiter and dither reports are this render's.  An album's track
 * also spools this render (ex->spool_out, afresh). */
static lq_error render_export(plan *p, double gain_db, double ceil_db, int what,
                              lq_meter_result *res)
{
    lq_export *ex = p->ex;
    const lq_target *t = ex->target;
    if (ex->have_out) {
        lq_audio_out_discard(&ex->out);
        ex->have_out = 0;
    }
    lq_error e = open_export(p, &ex->out, t->format, t->bit_depth, ex->rate, &ex->diag);
    if (e) return e;
    ex->have_out = 1;
    lq_audio_out *outs[1] = {&ex->out};
    json_t *lim = NULL, *dit = NULL;
    e = run_pass(p, ex->spool_out, gain_db, ceil_db, what, outs, 1, res, &lim, &dit,
                 &ex->clipped);
    if (ex->limiter_report) json_decref(ex->limiter_report);
    if (ex->dither_report) json_decref(ex->dither_report);
    ex->limiter_report = lim;
    ex->dither_report = dit;
    if (!e) e = lq_audio_out_close(&ex->out, &ex->diag);
    return e;
}

/* Solve the gain into the limiter at ceil_now so that the render lands on `aim` within
 * tol: the curve's reading first, then regula falsi / secant steps on the curve (every
 * pass is recorded and added to it).  With `write`, each pass also writes the export, and
 * the pass chosen is kept: the final render costs no pass of its own. */
static lq_error solve_gain(plan *p, drive_curve *cv, double ceil_now, double aim, double tol,
                           int write, double *gain_db)
{
    lq_export *ex = p->ex;
    /* the precise solves read the curve with the loss model (the rough one, which
     * only has to land within 0.1 LU for the excerpts, keeps the secant) */
    const int model = tol <= SOLVE_TOL_LU;
    double gk = curve_gain(cv, aim, ceil_now, *gain_db, model);
    double best_g = gk, best_err = HUGE_VAL, last_g = gk;
    int converged = 0, saturated = 0;
    ex->n_passes = 0;
    p->have_best = 0;
    for (int k = 0; k < LQ_MAX_PASSES - 1; k++) {
        lq_meter_result res = {0};
        double t0 = lq_now_s();
        /* an album's PCM track (keep_best): every pass after the first is spooled, the
         * closest one kept as the render.  The first pass starts from the unlimited level
         * or the curve's reading and rarely lands: it is not spooled (if it is the best
         * after all, the render runs once more) */
        lq_spool *to = !write && p->keep_best && k > 0 ? &p->scratch : NULL;
        json_t *lim = NULL;
        lq_error e = write ? render_export(p, gk, ceil_now, LQ_METER_LOUDNESS, &res)
                           : run_pass(p, to, gk, ceil_now, LQ_METER_LOUDNESS, NULL, 0, &res,
                                      to ? &lim : NULL, NULL, NULL);
        const double dt = lq_now_s() - t0;
        if (e) {
            if (lim) json_decref(lim);
            return e;
        }
        last_g = gk;
        ex->passes[ex->n_passes++] = (lq_pass){gk, ceil_now, res.integrated_lufs};
        curve_add(cv, gk, ceil_now, res.integrated_lufs);
        const double err = aim - res.integrated_lufs;
        if (k == 0 || fabs(err) < fabs(best_err)) {
            best_err = err;
            best_g = gk;
            if (!write && p->keep_best) {
                /* the closest pass so far is the render: keep its spool and limiter
                 * report */
                p->best_gain_db = gk;
                p->best_lufs = res.integrated_lufs;
                p->have_best = to != NULL;
                if (to) {
                    lq_spool sw = *ex->spool_out;
                    *ex->spool_out = p->scratch;
                    p->scratch = sw;
                    if (p->best_lim) json_decref(p->best_lim);
                    p->best_lim = lim;
                    lim = NULL;
                    p->best_gr_db = ex->max_gr_db;
                }
            }
        }
        if (lim) json_decref(lim);
        converged = fabs(err) <= tol;
        if (converged) {
            if (write) ex->time_render_s += dt;
            else ex->time_solve_s += dt;
            break;
        }
        ex->time_solve_s += dt;
        if (!isfinite(err)) break;
        /* a flat curve: the limiter cannot make the render this loud at this ceiling
         * (more gain only squashes it, the loudness hardly moves): stop pushing, keep
         * the closest pass, and say how far short it is */
        if (k > 0 && err > tol) {
            const lq_pass *a = &ex->passes[ex->n_passes - 2], *b = &ex->passes[ex->n_passes - 1];
            const double slope = b->gain_db > a->gain_db
                                     ? (b->lufs - a->lufs) /
                                           (b->gain_db - a->gain_db)
                                     : 1.0;
            if (slope < FLAT_SLOPE && err > FLAT_STEP_DB * slope) {
                saturated = 1;
                break;
            }
        }
        const double next = curve_gain(cv, aim, ceil_now, gk, model);
        if (fabs(next - gk) < 1e-4) break;
        gk = next;
    }
    if (saturated) ex->shortfall_lu = best_err;
    else if (tol <= SOLVE_TOL_LU) ex->shortfall_lu = 0.0;
    *gain_db = converged ? last_g : best_g;
    if (write && *gain_db != last_g) {   /* the best pass was an earlier one: render it again */
        lq_meter_result res = {0};
        double t0 = lq_now_s();
        lq_error e = render_export(p, *gain_db, ceil_now, LQ_METER_LOUDNESS, &res);
        ex->time_render_s += lq_now_s() - t0;
        if (e) return e;
        if (ex->n_passes < LQ_MAX_PASSES)
            ex->passes[ex->n_passes++] = (lq_pass){*gain_db, ceil_now, res.integrated_lufs};
    }
    return LQ_OK;
}

/* The margin under ceiling_int that puts the codecs' worst decoded peak on the excerpts
 * within tol of aim_tp, by regula falsi between the closest
 * held and failed margins (a secant step until both are known; a codec's overshoot
 * grows as the ceiling drops, so the slope is measured, not assumed).  Each estimate
 * renders the excerpts at the gain the closed loop's curve gives for that ceiling (cv
 * NULL: gain_db), so the limiter works as hard as it will in the export.  whole0 (or
 * NAN): the whole file's worst decoded peak at the starting margin, which calibrates
 * the excerpts' readings.  Leaves the best margin found in *margin and the measured
 * d(peak)/d(margin) in *slope_out. */
static lq_error search_margin(plan *p, const excerpts *x, const lq_format *fmts, int nf,
                              const drive_curve *cv, double aim, double gain_db,
                              double ceiling_int, double aim_tp, double tol, double whole0,
                              double *margin, double *slope_out)
{
    double ms[MAX_ESTIMATES], es[MAX_ESTIMATES];
    double m = *margin, best = -1.0, slope = 1.0, off = 0.0;
    /* the held estimate with the least margin, the failed one with the most */
    int hi = -1, fi = -1;
    /* the codecs still encoded: one whose decoded peak came out more than FOCUS_DB
     * under the worst is left out of the later estimates (the codecs' overshoots move
     * together with the ceiling, by tenths of a dB against each other; the whole-file
     * verification checks every codec again) */
    int on[LQ_MAX_CODEC_CHECKS + 1];
    double tp[LQ_MAX_CODEC_CHECKS + 1];
    for (int i = 0; i < nf; i++) on[i] = 1;
    for (int k = 0; k < MAX_ESTIMATES; k++) {
        const double c = ceiling_int - m;
        const double g = cv ? curve_gain(cv, aim, c, gain_db, 0) : gain_db;
        lq_error e = excerpt_estimate(p, x, fmts, nf, on, g, c, &es[k], tp);
        if (e) return e;
        for (int i = 0; i < nf; i++) on[i] = on[i] && !(tp[i] < es[k] - FOCUS_DB);
        /* whole0: the whole file's worst at the starting margin; the excerpts are read
         * with the offset to it (never below their own reading) */
        if (k == 0 && isfinite(whole0) && whole0 > es[0]) off = whole0 - es[0];
        es[k] += off;
        ms[k] = m;
        const double got = es[k];
        if (got <= aim_tp + tol) {
            if (best < 0.0 || m < best) best = m;
            if (hi < 0 || m < ms[hi]) hi = k;
        } else if (fi < 0 || m > ms[fi]) {
            fi = k;
        }
        if (k > 0 && ms[k] != ms[k - 1]) slope = -(es[k] - es[k - 1]) / (ms[k] - ms[k - 1]);
        if (!(slope > 0.3)) slope = 0.3;
        if (slope > 3.0) slope = 3.0;
        if (got <= aim_tp + tol && (got >= aim_tp - tol || m <= 0.0))
            break;
        double next;
        if (hi >= 0 && fi >= 0 && es[fi] > es[hi]) {
            next = ms[fi] + (es[fi] - aim_tp) * (ms[hi] - ms[fi]) / (es[fi] - es[hi]);
        } else {
            next = m + (got - aim_tp) / slope;
        }
        if (next < 0.0) next = 0.0;
        if (fabs(next - m) < 0.005) break;
        m = next;
    }
    /* none held: the last step's prediction; the whole-file verification decides */
    *margin = best >= 0.0 ? best : m;
    *slope_out = slope;
    return LQ_OK;
}

void lq_finish_target(lq_job *j, lq_export *ex, const lq_rate_group *g)
{
    const lq_target *t = ex->target;
    const lq_preset *pr = j->preset;
    plan p = {.j = j, .ex = ex, .g = g, .scratch = {.fd = -1}};
    float *win = NULL;   /* per check codec and second: decoded peaks (fallback search) */
    const int lossy = lq_format_is_lossy(t->format);
    ex->bits = lossy ? 0 : t->bit_depth;
    p.out_bits = lossy || t->bit_depth == 32 ? 0 : t->bit_depth;

    /* finishing stages: the preset's, with the target's overrides on top */
    if (pr->limiter.vt) {
        ex->err = lq_stage_spec_override(&p.limiter, &pr->limiter, t->limiter_node, &ex->diag);
        if (ex->err) return;
        p.use_limiter = 1;
    }
    /* an album's track: the record's dither (dithered once over the album, album.c) */
    const lq_stage_spec *dbase = ex->album_dither ? ex->album_dither : &pr->dither;
    if (dbase->vt) {
        ex->err = lq_stage_spec_override(&p.dither, dbase, t->dither_node, &ex->diag);
        if (ex->err) goto out;
    }
    /* the signal's word length: unchanged only when nothing touched it */
    const int untouched_rate = ex->rate == j->in_rate && j->master_identity;
    const double src_lufs = g->meas.integrated_lufs, src_tp = g->meas.true_peak_16x_dbtp;
    /* the loudness to land on: the target's, else the preset's own level, else none */
    if (!ex->aim_set) {   /* else an album's loudness policy chose it */
        ex->has_aim = t->has_loudness || pr->has_level || j->has_ref_level;
        ex->aim_from_preset = !t->has_loudness && pr->has_level && !j->has_ref_level;
        ex->aim_from_reference = !t->has_loudness && j->has_ref_level; /* the refs' level */
        ex->aim_lufs = t->has_loudness ? t->loudness_lufs
                     : j->has_ref_level ? j->ref_level_lufs : pr->level_lufs;
    }
    const int has_aim = ex->has_aim;
    double gain_db = has_aim && isfinite(src_lufs) ? ex->aim_lufs - src_lufs : 0.0;

    /* a ceiling the unlimited signal already respects needs no limiter pass */
    double headroom = 0.0;
    if (p.dither.vt && p.out_bits)
        headroom = lq_dither_peak_headroom(p.dither.cfg, p.out_bits);
    const double ceil_lin = pow(10.0, t->true_peak_dbtp / 20.0);
    double ceiling_int = 20.0 * log10(ceil_lin - 2.0 * headroom);

    if (!p.use_limiter) {
        if (src_tp + gain_db > ceiling_int) {
            double cut = src_tp + gain_db - ceiling_int;
            gain_db -= cut;
            if (has_aim) ex->shortfall_lu = cut;
        }
    }
    const int signal_exact = untouched_rate && gain_db == 0.0 && !p.use_limiter;
    const int signal_bits = signal_exact && j->in_bits ? j->in_bits : 64;
    /* an album dithers its continuous render once, never a track */
    p.use_dither = p.dither.vt && p.out_bits && signal_bits > p.out_bits && !ex->spool_out;
    ex->dithered = p.use_dither;
    char ident[64];
    snprintf(ident, sizeof ident, "%016llx", (unsigned long long)j->in_hash);
    p.env = (lq_stage_env){.sample_rate = ex->rate, .channels = j->in_channels,
                           .max_block = BLOCK, .seed = lq_dither_seed(ident, t->name),
                           .out_bits = p.out_bits};

    /* codec round trips to hold the ceiling on: a lossy export's own codec is verified
     * by decoding the export; the others are check codecs */
    lq_format chk_fmt[LQ_MAX_CODEC_CHECKS], est_fmt[LQ_MAX_CODEC_CHECKS + 1];
    int n_chk = 0, n_est = 0;
    for (int f = 0; f < LQ_FMT_COUNT && n_chk < LQ_MAX_CODEC_CHECKS; f++)
        if ((t->codec_check & (1u << f)) && !(lossy && f == (int)t->format))
            chk_fmt[n_chk++] = (lq_format)f;
    for (int i = 0; i < n_chk; i++) est_fmt[n_est++] = chk_fmt[i];
    if (lossy) est_fmt[n_est++] = t->format;
    /* the decoded peak to hold: the ceiling, less the guard for other encoders */
    const double hold = n_est ? t->true_peak_dbtp - t->codec_guard_db : t->true_peak_dbtp;
    const double aim_tp = hold - PRECISE_DB / 2;
    const int solving = p.use_limiter && has_aim && isfinite(src_lufs);
    double margin = 0.0, slope_ex = 1.0;
    /* the loudness the pre-encode render aims at: the target, corrected by what a lossy
     * encode shifts (measured on the decoded file, round by round) */
    double aim = ex->aim_lufs;
    drive_curve cv = {.n = 0, .ls = src_lufs, .pk = src_tp};
    /* An album's PCM track with no round trips to check only spools (the album encodes
     * the split render), from the closed loop's best pass when there is a loop (its
     * passes after the first are spooled: keep_best).  A PCM export is written by the
     * closed loop's own passes (the pass kept is the render); a lossy one is encoded
     * once the gain is known. */
    const int spool_only = ex->spool_out && !lossy && !n_chk;
    const int write_in_solve = !lossy && !spool_only;
    p.keep_best = spool_only && solving;
    double t0;

    /* 1. the margin the codecs need, predicted on excerpts, at the gain the closed loop
     * (solved roughly first, at the full ceiling) gives for each ceiling tried */
    if (p.use_limiter && n_est > 0) {
        if (solving) {
            /* the rough solve's passes note where the output holds the ceiling */
            const long long n_dens = p.g->spool.frames / (long long)ex->rate + 1;
            p.dens = calloc(2 * (size_t)n_dens, sizeof *p.dens);
            if (!p.dens) {
                ex->err = lq_diag_set(&ex->diag, LQ_ERR_NOMEM, "out of memory");
                goto out;
            }
            p.hfe = p.dens + n_dens;
            p.n_dens = n_dens;
            /* undithered: the dither's noise (-144 dBFS at 24 bits, -98 at 16) moves
             * the loudness by under 1e-7 LU, and these passes only place the curve and
             * the excerpts */
            p.rough = 1;
            ex->err = solve_gain(&p, &cv, ceiling_int, aim, 0.1, 0, &gain_db);
            p.rough = 0;
            if (ex->err) goto out;
        }
        excerpts x;
        t0 = lq_now_s();
        ex->err = build_excerpts(&p, &x, NULL, 0, codec_grid(est_fmt, n_est, ex->rate));
        if (!ex->err)
            ex->err = search_margin(&p, &x, est_fmt, n_est, solving ? &cv : NULL, aim, gain_db,
                                    ceiling_int, hold - 0.75 * PRECISE_DB, PRECISE_DB / 4, NAN,
                                    &margin, &slope_ex);
        excerpts_free(&x);
        ex->time_search_s += lq_now_s() - t0;
        free(p.dens);
        p.dens = p.hfe = NULL;
        if (ex->err) goto out;
    }

    /* whole-file verifications: the held one with the least margin, the failed one with
     * the most (the bracket of the fallback search) */
    int have_h = 0, have_f = 0;
    double mh = 0.0, wh = 0.0, mf = 0.0, wf = 0.0;
    /* the first verification also notes, second by second, where each check codec's
     * decoded peaks sit: the fallback searches on those passages */
    const long long n_sec = p.g->spool.frames / (long long)ex->rate + 2;
    if (p.use_limiter && n_chk > 0) {
        win = calloc((size_t)(n_chk * n_sec), sizeof *win);
        if (!win) {
            ex->err = lq_diag_set(&ex->diag, LQ_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    /* the verified round whose decoded peak held closest under the aim ceiling: the
     * round trips are not smooth in the gain (a codec's bit allocation can flip on a
     * change of 0.01 dB and move the decoded peak by tenths of a dB), so when the last
     * round ends worse, that round's exact gain and ceiling are rendered again (the
     * same bytes) and verified once more */
    int rp_rank = -1, replay = 0;
    double rp_margin = 0.0, rp_gain = 0.0, rp_aim = 0.0, rp_worst = -HUGE_VAL;
    for (int round = 0; round < MAX_CODEC_ROUNDS + 1; round++) {
        double ceil_now = ceiling_int - margin;
        ex->codec_margin_db = margin;

        /* 2. the real render: the closed loop at this ceiling, its kept pass writing the
         * export (or, without a loop to solve, one pass) */
        if (replay) {
            ex->n_passes = 0;
        } else if (solving) {
            ex->err = solve_gain(&p, &cv, ceil_now, aim, SOLVE_TOL_LU, write_in_solve, &gain_db);
            if (ex->err) goto out;
        } else {
            ex->n_passes = 0;
        }
        ex->gain_db = gain_db;
        ex->ceiling_dbtp = ceil_now;
        lq_meter_result res = {0};
        if (spool_only && p.have_best && gain_db == p.best_gain_db) {
            /* the closed loop's kept pass is this render: its spool is ex->spool_out */
            if (ex->limiter_report) json_decref(ex->limiter_report);
            if (ex->dither_report) json_decref(ex->dither_report);
            ex->dither_report = NULL;
            ex->limiter_report = p.best_lim;
            p.best_lim = NULL;
            ex->max_gr_db = p.best_gr_db;
            memset(&ex->meas, 0, sizeof ex->meas);
            ex->meas.integrated_lufs = p.best_lufs;
            break;
        }
        if (spool_only) {
            t0 = lq_now_s();
            json_t *lim = NULL, *dit = NULL;
            ex->err = run_pass(&p, ex->spool_out, gain_db, ceil_now, LQ_METER_LOUDNESS, NULL, 0,
                               &res, &lim, &dit, &ex->clipped);
            if (ex->limiter_report) json_decref(ex->limiter_report);
            if (ex->dither_report) json_decref(ex->dither_report);
            ex->limiter_report = lim;
            ex->dither_report = dit;
            ex->time_render_s += lq_now_s() - t0;
            if (ex->err) goto out;
            ex->meas = res;   /* the album measures the files it writes */
            if (!solving && ex->n_passes < LQ_MAX_PASSES)
                ex->passes[ex->n_passes++] = (lq_pass){gain_db, ceil_now, res.integrated_lufs};
            break;
        }
        if (!solving || !write_in_solve || replay) {
            /* no meter here: the written file is measured below */
            t0 = lq_now_s();
            ex->err = render_export(&p, gain_db, ceil_now, 0, &res);
            ex->time_render_s += lq_now_s() - t0;
            if (ex->err) goto out;
        }

        /* 3. verify: the file as written (decoded, for lossy formats), and a real encode
         * and decode of the whole export per check codec, side by side */
        t0 = lq_now_s();
        codec_task tk[1 + LQ_MAX_CODEC_CHECKS];
        tk[0] = (codec_task){.p = &p, .path = ex->out.read_path, .verify = 1};
        for (int i = 0; i < n_chk; i++)
            tk[1 + i] = (codec_task){.p = &p, .fmt = chk_fmt[i], .path = ex->out.read_path,
                                     .win = round == 0 && win ? win + i * n_sec : NULL,
                                     .n_win = n_sec};
        ex->err = run_tasks(&p, tk, 1 + n_chk, job_threads(p.j));
        ex->time_verify_s += lq_now_s() - t0;
        ex->n_verify++;
        if (ex->err) goto out;
        if ((!solving || replay) && ex->n_passes < LQ_MAX_PASSES)
            ex->passes[ex->n_passes++] = (lq_pass){gain_db, ceil_now, ex->meas.integrated_lufs};
        ex->clipped += ex->out.clipped;
        ex->n_codec = 0;
        double worst = lossy ? ex->meas.true_peak_16x_dbtp : -HUGE_VAL;
        for (int i = 0; i < n_chk; i++) {
            lq_codec_check *cc = &ex->codec[ex->n_codec++];
            cc->format = chk_fmt[i];
            cc->rate = tk[1 + i].rate;
            cc->true_peak_dbtp = tk[1 + i].tp_db;
            cc->ok = cc->true_peak_dbtp <= t->true_peak_dbtp;
            if (cc->true_peak_dbtp > worst) worst = cc->true_peak_dbtp;
        }
        /* lossy: the decoded loudness is what counts; nudge the gain if it drifted */
        double lufs_err = has_aim ? ex->aim_lufs - ex->meas.integrated_lufs : 0.0;
        int peak_over = n_est > 0 && worst > hold;
        /* the excerpts asked for more margin than the whole song needs */
        int loose = p.use_limiter && n_est > 0 && margin > 0.0 && worst < hold - PRECISE_DB;
        if (!p.use_limiter && worst > hold) peak_over = 1;
        if (!peak_over && !loose && !(lossy && fabs(lufs_err) > SOLVE_TOL_LU * 2)) break;
        if (replay) break;
        /* the best round so far: in the window with the loudness met, else held with the
         * loudness met, else held; the closest under the aim among equals */
        const int loud_ok = fabs(lufs_err) <= LOUDNESS_TOL_LU;
        const int rank = n_est == 0 || peak_over ? -1 : !loose && loud_ok ? 2 : loud_ok;
        const int is_rp = rank >= 0 && (rank > rp_rank || (rank == rp_rank && worst > rp_worst));
        if (is_rp) {
            rp_rank = rank;
            rp_margin = margin, rp_gain = gain_db, rp_aim = aim, rp_worst = worst;
        }
        /* out of rounds, or a round already landed (its loudness only nudged) and this
         * one did no better: end on the best round */
        int stop = round >= MAX_CODEC_ROUNDS - 1 || (rp_rank == 2 && !is_rp);
        if (stop) {
            /* nothing more to search: the best round, below */
        } else if (peak_over && !p.use_limiter) {
            gain_db -= worst - hold + 0.05;
        } else if (peak_over || loose) {
            /* the fallback: regula falsi on whole-file verifications, between the held
             * margin and the failed one once both are known; before that a step along
             * the slope the excerpts measured */
            if (peak_over && (!have_f || margin > mf)) mf = margin, wf = worst, have_f = 1;
            if (!peak_over && (!have_h || margin < mh)) mh = margin, wh = worst, have_h = 1;
            double next;
            int searched = 0;
            if (round == 0 && win) {
                /* the excerpts again, now where the decoded peaks of this verification
                 * sit, calibrated on its worst */
                for (int i = 1; i < n_chk; i++)
                    for (long long w = 0; w < n_sec; w++)
                        if (win[i * n_sec + w] > win[w]) win[w] = win[i * n_sec + w];
                excerpts x;
                t0 = lq_now_s();
                ex->err = build_excerpts(&p, &x, win, n_sec,
                                         codec_grid(est_fmt, n_est, ex->rate));
                next = margin;
                if (!ex->err && x.n_rg > 0) {
                    ex->err = search_margin(&p, &x, est_fmt, n_est, solving ? &cv : NULL, aim,
                                            gain_db, ceiling_int, hold - 0.6 * PRECISE_DB,
                                            0.4 * PRECISE_DB, worst, &next, &slope_ex);
                    searched = 1;
                }
                excerpts_free(&x);
                ex->time_search_s += lq_now_s() - t0;
                if (ex->err) goto out;
            }
            if (searched && !peak_over && next >= margin) {
                /* the excerpts would give nothing back, the whole file says it is loose:
                 * a step along the slope */
                next = margin + (worst - aim_tp) / slope_ex;
                if (next < 0.0) next = 0.0;
                if (next >= margin) next = margin;
            } else if (searched) {
                if (peak_over && next < margin + 0.02) next = margin + 0.02;
            } else if (have_h && have_f && wf > wh) {
                next = mf + (wf - aim_tp) * (mh - mf) / (wf - wh);
                /* strictly inside the bracket */
                const double lo = mf + 0.02, hi = mh - 0.02;
                if (lo > hi) next = mh;
                else if (next < lo) next = lo;
                else if (next > hi) next = hi;
            } else {
                next = margin + (worst - aim_tp) / slope_ex;
                if (peak_over && next < margin + (worst - hold) + 0.02)
                    next = margin + (worst - hold) + 0.02;
                if (next < 0.0) next = 0.0;
            }
            /* the last round ends on a margin that held, when one did */
            if (round == MAX_CODEC_ROUNDS - 2 && have_h) next = mh;
            if (!peak_over && next == margin) stop = 1;
            else margin = next;
        } else {
            aim += lufs_err;
            gain_db += lufs_err;
        }
        if (stop) {
            if (is_rp || rp_rank < 0) break;
            replay = 1;   /* the best round again, exactly */
            margin = rp_margin, gain_db = rp_gain, aim = rp_aim;
        }
        lq_audio_out_discard(&ex->out);
        ex->have_out = 0;
    }

    /* 4. judge (and record the verified figures in the BWF header) */
    if (t->format == LQ_FMT_WAV && ex->have_out)
        ex->err = lq_audio_out_patch_bext(&ex->out, ex->meas.integrated_lufs, ex->meas.lra_lu,
                                          ex->meas.true_peak_16x_dbtp,
                                          ex->meas.max_momentary_lufs,
                                          ex->meas.max_short_term_lufs, &ex->diag);
    if (ex->err) goto out;
    {
        const lq_meter_result *m = &ex->meas;
        ex->loudness_ok = !has_aim || fabs(m->integrated_lufs - ex->aim_lufs) <= LOUDNESS_TOL_LU;
        ex->peak_ok = m->true_peak_16x_dbtp <= t->true_peak_dbtp;
        ex->clip_ok = ex->clipped == 0;
        ex->codec_ok = 1;
        for (int i = 0; i < ex->n_codec; i++) ex->codec_ok &= ex->codec[i].ok;
        ex->format_ok = 1;
        ex->met = ex->loudness_ok && ex->peak_ok && ex->clip_ok && ex->codec_ok && ex->format_ok;
        if (ex->shortfall_lu > 0.0 && !p.use_limiter)
            lq_export_warn(ex, "%.1f LU short of %.1f LUFS: the true-peak ceiling stopped "
                               "the gain (this preset has no limiter)",
                           ex->shortfall_lu, ex->aim_lufs);
        if (ex->shortfall_lu > 0.0 && p.use_limiter)   /* as the file measures */
            ex->shortfall_lu = fmax(0.0, ex->aim_lufs - m->integrated_lufs);
        if (ex->shortfall_lu > 0.0 && p.use_limiter)
            lq_export_warn(ex, "%.2f LU short of %.1f LUFS: the limiter cannot make this "
                               "master louder under its %.2f dBTP ceiling (more gain only "
                               "squashes it); aim lower, or master a denser mix",
                           ex->shortfall_lu, ex->aim_lufs, ex->ceiling_dbtp);
        double warn_db = 6.0;
        if (p.use_limiter) warn_db = ((lq_limiter_config *)p.limiter.cfg)->push_warn_db;
        if (p.use_limiter && ex->max_gr_db > warn_db)
            lq_export_warn(ex, "the limiter is pushing this master hard: up to %.1f dB of "
                               "gain reduction on peaks (more than %.0f dB squashes drums "
                               "and transients; consider a quieter target or a more "
                               "dynamic mix)", ex->max_gr_db, warn_db);
        if (margin > 0.0)
            lq_export_warn(ex, "the %s encode overshot: the limiter ceiling was lowered by "
                               "%.2f dB so the decoded file stays under %.1f dBTP (the "
                               "%.1f dBTP ceiling less codec_guard_db %.1f dB)",
                           lossy && !n_chk ? lq_format_names[t->format] : "codec-check", margin,
                           hold, t->true_peak_dbtp, t->codec_guard_db);
        if (ex->clipped)
            lq_export_warn(ex, "%lld samples clipped in the quantizer", ex->clipped);
        if (m->integrated_lufs > t->true_peak_dbtp - 6.0 && isfinite(m->integrated_lufs))
            lq_export_warn(ex, "very loud master (%.1f LUFS): streaming services will turn "
                               "it down", m->integrated_lufs);
    }
out:
    free(win);
    free(p.dens);
    lq_spool_destroy(&p.scratch);
    if (p.best_lim) json_decref(p.best_lim);
    lq_stage_spec_free(&p.limiter);
    lq_stage_spec_free(&p.dither);
    if (ex->err && ex->have_out) {
        lq_audio_out_discard(&ex->out);
        ex->have_out = 0;
    }
}
