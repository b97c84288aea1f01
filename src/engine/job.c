/* lq_job: the public mastering API and its orchestration.
 *   1. check every output name (nothing is done if one would be overwritten)
 *   2. decode the input, run the master bus once, spool it (source rate)
 *   3. resample the spool once per distinct target rate (in parallel)
 *   4. run each target's finishing chain (in parallel, finish.c)
 *   5. publish every export, then report.json and report.txt
 * Any error or cancellation on the way leaves the output folder as it was. */
#include "engine/job.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <samplerate.h>

#include "engine/chain.h"
#include "engine/describe.h"
#include "engine/resample.h"
#include "io/audio_in.h"
#include "report/report.h"

#define MAX_BLOCK 4096

static char *dupstr(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

lq_error lq_job_new(lq_job **out)
{
    lq_job *j = calloc(1, sizeof *j);
    if (!j) return LQ_ERR_NOMEM;
    j->block = MAX_BLOCK;
    j->master.fd = -1; /* no spool yet: never close descriptor 0 (another job's file) */
    pthread_mutex_init(&j->progress_lock, NULL);
    *out = j;
    return LQ_OK;
}

lq_error lq_job_set_input(lq_job *j, const char *path)
{
    if (!j || !path) return LQ_ERR_ARG;
    free(j->input);
    return (j->input = dupstr(path)) ? LQ_OK : LQ_ERR_NOMEM;
}

lq_error lq_job_set_preset(lq_job *j, const lq_preset *p)
{
    if (!j || !p) return LQ_ERR_ARG;
    j->preset = p;
    return LQ_OK;
}

lq_error lq_job_add_target(lq_job *j, const lq_target *t)
{
    if (!j || !t) return LQ_ERR_ARG;
    const lq_target **n = realloc(j->targets, (j->n_targets + 1) * sizeof *n);
    if (!n) return LQ_ERR_NOMEM;
    n[j->n_targets++] = t;
    j->targets = n;
    return LQ_OK;
}

lq_error lq_job_set_output_dir(lq_job *j, const char *dir)
{
    if (!j || !dir) return LQ_ERR_ARG;
    free(j->out_dir);
    return (j->out_dir = dupstr(dir)) ? LQ_OK : LQ_ERR_NOMEM;
}

lq_error lq_job_set_metadata(lq_job *j, const char *title, const char *artist,
                             const char *album)
{
    if (!j) return LQ_ERR_ARG;
    if (title) {
        free(j->title);
        if (!(j->title = dupstr(title))) return LQ_ERR_NOMEM;
    }
    if (artist) {
        free(j->artist);
        if (!(j->artist = dupstr(artist))) return LQ_ERR_NOMEM;
    }
    if (album) {
        free(j->album);
        if (!(j->album = dupstr(album))) return LQ_ERR_NOMEM;
    }
    return LQ_OK;
}

void lq_job_set_force(lq_job *j, int force) { j->force = force; }
void lq_job_set_threads(lq_job *j, int threads) { j->threads = threads; }
void lq_job_set_block_size(lq_job *j, size_t frames)
{
    j->block = frames > MAX_BLOCK ? MAX_BLOCK : frames;
}
void lq_job_set_progress(lq_job *j, lq_progress_fn fn, void *user)
{
    j->progress = fn;
    j->progress_user = user;
}
void lq_job_set_cancel_flag(lq_job *j, const volatile sig_atomic_t *flag)
{
    j->user_cancel = flag;
}
const char *lq_job_error_message(const lq_job *j) { return j->errmsg; }

int lq_job_targets_met(const lq_job *j)
{
    if (!j->ran) return 0;
    for (size_t i = 0; i < j->n_targets; i++)
        if (!j->exports[i].met) return 0;
    return 1;
}

static void free_results(lq_job *j)
{
    if (j->exports) {
        for (size_t i = 0; i < j->n_targets; i++) {
            lq_export *ex = &j->exports[i];
            if (ex->have_out) lq_audio_out_discard(&ex->out);
            free(ex->path);
            free(ex->file_name);
            if (ex->limiter_report) json_decref(ex->limiter_report);
            if (ex->dither_report) json_decref(ex->dither_report);
        }
        free(j->exports);
        j->exports = NULL;
    }
    if (j->groups) {
        for (size_t i = 0; i < j->n_groups; i++)
            if (j->groups[i].own) lq_spool_destroy(&j->groups[i].spool);
        free(j->groups);
        j->groups = NULL;
    }
    j->n_groups = 0;
    lq_spool_destroy(&j->master);
    if (j->master_reports) json_decref(j->master_reports);
    j->master_reports = NULL;
    j->ran = 0;
}

void lq_job_destroy(lq_job **pj)
{
    lq_job *j = *pj;
    if (!j) return;
    free_results(j);
    free(j->input);
    free(j->targets);
    free(j->out_dir);
    free(j->title);
    free(j->artist);
    free(j->album);
    pthread_mutex_destroy(&j->progress_lock);
    free(j);
    *pj = NULL;
}

/* ---- helpers ---------------------------------------------------------------- */

static int cancelled(lq_job *j)
{
    if (j->user_cancel && *j->user_cancel) j->cancel = 1;
    return j->cancel;
}

static void report_progress(lq_job *j, const char *phase, double frac)
{
    if (!j->progress) return;
    pthread_mutex_lock(&j->progress_lock);
    if (j->progress(j->progress_user, phase, frac)) j->cancel = 1;
    pthread_mutex_unlock(&j->progress_lock);
}

static lq_error fail(lq_job *j, lq_error e, const char *msg)
{
    snprintf(j->errmsg, sizeof j->errmsg, "%s", msg && *msg ? msg : lq_strerror(e));
    return e;
}

/* The title defaults to the input's file name without directory and extension. */
static char *default_title(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *t = dupstr(b);
    if (!t) return NULL;
    char *dot = strrchr(t, '.');
    if (dot && dot != t) *dot = 0;
    return t;
}

/* Expand a target's filename pattern. */
static char *expand_name(const lq_job *j, const lq_target *t)
{
    char buf[1024];
    size_t o = 0;
    for (const char *p = t->filename; *p && o < sizeof buf - 1;) {
        const char *sub = NULL;
        size_t skip = 0;
        if (*p == '{') {
            static const char *const keys[] = {"{title}", "{target}", "{ext}", "{artist}",
                                               "{album}"};
            const char *vals[] = {j->title, t->name, lq_format_ext[t->format],
                                  j->artist ? j->artist : "", j->album ? j->album : ""};
            for (int k = 0; k < 5; k++)
                if (strncmp(p, keys[k], strlen(keys[k])) == 0) {
                    sub = vals[k];
                    skip = strlen(keys[k]);
                }
        }
        if (sub) {
            for (const char *s = sub; *s && o < sizeof buf - 1; s++)
                buf[o++] = *s == '/' ? '_' : *s;
            p += skip;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o] = 0;
    return dupstr(buf);
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static uint64_t mix64(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xBF58476D1CE4E5B9ull;
}

/* ---- master bus ------------------------------------------------------------- */

typedef struct input_src {
    lq_audio_in in;
    lq_meter *meter;
    lq_job *j;
    lq_diag *d;
} input_src;

static size_t input_read(void *u, double *const *buf, size_t n, lq_error *err)
{
    input_src *s = u;
    size_t got = 0;
    lq_error e = lq_audio_in_read(&s->in, buf, n, &got, s->d);
    if (e) {
        *err = e;
        return 0;
    }
    lq_meter_push(s->meter, (const double *const *)buf, got);
    uint64_t h = s->j->in_hash;
    for (size_t i = 0; i < got; i++)
        for (int c = 0; c < s->in.channels; c++) {
            uint64_t v;
            memcpy(&v, &buf[c][i], sizeof v);
            h = mix64(h, v);
        }
    s->j->in_hash = h;
    return got;
}

typedef struct spool_sink {
    lq_spool *spool;
    lq_meter *meter;
    lq_diag *d;
} spool_sink;

static lq_error spool_put(void *u, const double *const *buf, size_t n)
{
    spool_sink *s = u;
    if (s->meter) lq_meter_push(s->meter, buf, n);
    return lq_spool_write(s->spool, buf, n, s->d);
}

typedef struct progress_ctx {
    lq_job *j;
    const char *phase;
    long long total;
} progress_ctx;

static lq_error chain_progress(void *u, long long done)
{
    progress_ctx *p = u;
    if (p->total > 0 && (done & 0xFFFF) < 4096)
        report_progress(p->j, p->phase, (double)done / (double)p->total);
    return cancelled(p->j) ? LQ_ERR_CANCELLED : LQ_OK;
}

static void mix_warn(lq_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mix_warn(lq_job *j, const char *fmt, ...)
{
    if (j->n_mix_warnings >= LQ_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->mix_warnings[j->n_mix_warnings++], sizeof j->mix_warnings[0], fmt, ap);
    va_end(ap);
}

/* What a mastering engineer would tell the mixer, from the input's figures. */
static void check_mix(lq_job *j)
{
    const lq_meter_result *m = &j->in_meas;
    if (m->clipped_runs > 0)
        mix_warn(j, "the mix clips: %lld runs of 3 or more samples at full scale; "
                    "mastering cannot undo clipping (fix it in the mix, e.g. lower the "
                    "master fader)", m->clipped_runs);
    else if (m->sample_peak_dbfs > -0.1)
        mix_warn(j, "the mix peaks at %.2f dBFS: no headroom left; leave 3-6 dB of "
                    "headroom in the mix bounce", m->sample_peak_dbfs);
    double plr = m->true_peak_16x_dbtp - m->integrated_lufs;
    if (isfinite(plr) && plr < 8.0)
        mix_warn(j, "the mix is already heavily limited (peak-to-loudness ratio %.1f dB); "
                    "a master from it will sound flat — bounce the mix without the "
                    "bus limiter", plr);
    /* a phase meter averaging below -0.2 over a whole mix: a flipped channel, not just
     * wide or decorrelated material (noise sits near 0) */
    if (j->in_channels == 2 && m->correlation < -0.2)
        mix_warn(j, "left and right are out of phase (correlation %.2f): the mix will "
                    "lose its centre in mono — check for a flipped polarity",
                 m->correlation);
    for (int c = 0; c < j->in_channels; c++)
        if (m->dc_db[c] > -50.0) { /* a mean over the whole mix: -50 dBFS is audible trouble */
            mix_warn(j, "DC offset on channel %d (%.1f dBFS): remove it in the mix", c + 1,
                     m->dc_db[c]);
            break;
        }
    if (j->in_channels == 2 && fabs(m->low_end_balance_db) > 3.0)
        mix_warn(j, "the low end leans %s by %.1f dB (below 150 Hz): bass and kick "
                    "should sit in the centre",
                 m->low_end_balance_db > 0 ? "left" : "right", fabs(m->low_end_balance_db));
    if (!isfinite(m->integrated_lufs))
        mix_warn(j, "no loudness could be measured: the mix is silent (below -70 LUFS) or "
                    "shorter than 0.4 s, so no loudness target can be met");
    else if (m->integrated_lufs < -40.0)
        mix_warn(j, "the mix is very quiet (%.1f LUFS): check the bounce level",
                 m->integrated_lufs);
}

static lq_error render_master(lq_job *j, lq_diag *d)
{
    input_src src = {.j = j, .d = d};
    lq_error e = lq_audio_in_open(&src.in, j->input, MAX_BLOCK, d);
    if (e) return e;
    j->in_channels = src.in.channels;
    j->in_rate = src.in.rate;
    j->in_bits = src.in.word_bits;
    SF_FORMAT_INFO fi = {.format = src.in.info.format & SF_FORMAT_TYPEMASK};
    if (sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof fi) == 0)
        snprintf(j->in_format, sizeof j->in_format, "%s", fi.name);
    j->in_hash = 0x243F6A8885A308D3ull;

    lq_stage_env env = {.sample_rate = src.in.rate, .channels = src.in.channels,
                        .max_block = MAX_BLOCK, .seed = 1, .out_bits = 0};
    lq_chain chain;
    lq_meter *master_meter = NULL;
    e = lq_chain_create(&chain, j->preset->master, j->preset->n_master, &env, d);
    if (e) {
        lq_audio_in_close(&src.in);
        return e;
    }
    j->master_identity = chain.n == 0;
    if (!e) e = lq_meter_new(&src.meter, src.in.channels, src.in.rate,
                             LQ_METER_FULL | LQ_METER_HEALTH | LQ_METER_TP16, MAX_BLOCK, d);
    /* a master bus that changes nothing is measured once, as the input */
    if (!e && chain.n) e = lq_meter_new(&master_meter, src.in.channels, src.in.rate,
                             LQ_METER_FULL | LQ_METER_TP16, MAX_BLOCK, d);
    if (!e) e = lq_spool_create(&j->master, j->out_dir, src.in.channels, src.in.rate, d);
    if (!e) {
        lq_blocker bl;
        lq_blocker_init(&bl, j->block, MAX_BLOCK);
        progress_ctx pc = {j, "master", src.in.frames};
        lq_run_ctl ctl = {&bl, &j->cancel, chain_progress, &pc};
        spool_sink sink = {&j->master, master_meter, d};
        long long n = 0;
        e = lq_chain_run(&chain, input_read, &src, spool_put, &sink, &ctl, &n);
        if (e == LQ_ERR_CANCELLED) lq_diag_set(d, e, "cancelled");
        if (!e) e = lq_spool_finish(&j->master, d);
        if (!e) report_progress(j, "master", 1.0);
        j->in_frames = n;
    }
    if (!e) {
        lq_meter_result_get(src.meter, &j->in_meas);
        if (master_meter) lq_meter_result_get(master_meter, &j->master_meas);
        else j->master_meas = j->in_meas;
        j->master_reports = json_array();
        for (size_t i = 0; i < chain.n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "stage", json_string(chain.vt[i]->name));
            json_object_set_new(o, "latency_frames",
                                json_integer((json_int_t)chain.vt[i]->latency(chain.state[i])));
            if (chain.vt[i]->report) chain.vt[i]->report(chain.state[i], o);
            json_t *c = lq_describe_stage_json(&j->preset->master[chain.spec_index[i]]);
            if (c) json_object_set_new(o, "curve", c);
            json_array_append_new(j->master_reports, o);
        }
    }
    lq_chain_destroy(&chain);
    lq_meter_destroy(&src.meter);
    lq_meter_destroy(&master_meter);
    lq_audio_in_close(&src.in);
    return e;
}

/* ---- parallel work ------------------------------------------------------------
 * One queue of tasks for `--threads` workers: first every resampling (slowest, i.e.
 * highest rate, first), then every target (those at the source rate first: they can
 * start at once).  A target whose rate is still being resampled waits for it; it
 * cannot deadlock, since every resampling was taken from the queue before any target
 * and waits on nothing.  Each task writes only its own slot, so the output does not
 * depend on the number of threads or the order tasks finish in. */

typedef struct work {
    lq_job *j;
    pthread_mutex_t lock;
    pthread_cond_t group_done;
    size_t next, count;
    size_t *order;    /* task k: < n_groups a group index, else n_groups + target index */
    int *done;        /* per group */
} work;

static void group_fn(lq_job *j, size_t i);
static void target_fn(lq_job *j, size_t i);

static void *worker(void *u)
{
    work *w = u;
    lq_job *j = w->j;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        size_t k = w->next < w->count ? w->order[w->next++] : (size_t)-1;
        pthread_mutex_unlock(&w->lock);
        if (k == (size_t)-1) return NULL;
        if (k < j->n_groups) {
            group_fn(j, k);
            pthread_mutex_lock(&w->lock);
            w->done[k] = 1;
            pthread_cond_broadcast(&w->group_done);
            pthread_mutex_unlock(&w->lock);
            continue;
        }
        size_t t = k - j->n_groups, g = 0;
        while (j->groups[g].rate != j->exports[t].rate) g++;
        pthread_mutex_lock(&w->lock);
        while (!w->done[g]) pthread_cond_wait(&w->group_done, &w->lock);
        pthread_mutex_unlock(&w->lock);
        if (!j->groups[g].err) target_fn(j, t);
    }
}

static lq_error run_tasks(lq_job *j)
{
    work w = {.j = j, .count = j->n_groups + j->n_targets};
    w.order = malloc(w.count * sizeof *w.order);
    w.done = calloc(j->n_groups, sizeof *w.done);
    if (!w.order || !w.done) {
        free(w.order);
        free(w.done);
        return LQ_ERR_NOMEM;
    }
    size_t n = 0;
    for (size_t g = 0; g < j->n_groups; g++) {
        if (!j->groups[g].own) {
            group_fn(j, g); /* the source rate: nothing to resample */
            w.done[g] = 1;
            continue;
        }
        size_t at = n++;
        while (at > 0 && j->groups[w.order[at - 1]].rate < j->groups[g].rate) {
            w.order[at] = w.order[at - 1];
            at--;
        }
        w.order[at] = g;
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t t = 0; t < j->n_targets; t++)
            if ((j->exports[t].rate == j->in_rate) == (pass == 0))
                w.order[n++] = j->n_groups + t;
    w.count = n;
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.group_done, NULL);
    int nt = j->threads > 0 ? j->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if ((size_t)nt > n) nt = n ? (int)n : 1;
    if (nt > 64) nt = 64;
    pthread_t th[64];
    int started = 0;
    for (int i = 1; i < nt; i++)
        if (pthread_create(&th[started], NULL, worker, &w) == 0) started++;
    worker(&w);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_cond_destroy(&w.group_done);
    pthread_mutex_destroy(&w.lock);
    free(w.order);
    free(w.done);
    return LQ_OK;
}

/* One output rate: resample the master spool (the source rate's group borrows the
 * master spool, already measured while it was rendered), measuring loudness and 16x
 * true peak on the way: the closed loop starts from these. */
static void group_fn(lq_job *j, size_t i)
{
    lq_rate_group *g = &j->groups[i];
    if (!g->own) {
        g->meas = j->master_meas;
        return;
    }
    lq_meter *m = NULL;
    g->err = lq_meter_new(&m, j->in_channels, g->rate, LQ_METER_LOUDNESS | LQ_METER_TP16,
                          MAX_BLOCK, &g->diag);
    if (!g->err) g->err = lq_spool_create(&g->spool, j->out_dir, j->in_channels, g->rate, &g->diag);
    if (!g->err)
        g->err = lq_resample_spool(&j->master, &g->spool, g->rate, SRC_SINC_BEST_QUALITY, m,
                                   &j->cancel, &g->diag);
    if (g->err == LQ_ERR_CANCELLED) lq_diag_set(&g->diag, g->err, "cancelled");
    if (!g->err) {
        lq_meter_result_get(m, &g->meas);
        report_progress(j, "resample", 1.0);
    }
    lq_meter_destroy(&m);
}

static void target_fn(lq_job *j, size_t i)
{
    lq_export *ex = &j->exports[i];
    const lq_rate_group *g = NULL;
    for (size_t k = 0; k < j->n_groups; k++)
        if (j->groups[k].rate == ex->rate) g = &j->groups[k];
    if (cancelled(j)) {
        ex->err = lq_diag_set(&ex->diag, LQ_ERR_CANCELLED, "cancelled");
        return;
    }
    lq_finish_target(j, ex, g);
    pthread_mutex_lock(&j->progress_lock);
    size_t done = ++j->targets_done;
    pthread_mutex_unlock(&j->progress_lock);
    report_progress(j, "targets", (double)done / (double)j->n_targets);
}

/* ---- the run ----------------------------------------------------------------- */

static lq_error write_text_file(lq_job *j, const char *name, const char *text,
                                char **published, lq_diag *d)
{
    char *path = join_path(j->out_dir, name);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/.lacquer-report-XXXXXX", j->out_dir);
    int fd = path ? mkstemp(tmp) : -1;
    if (fd < 0) {
        free(path);
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot write the report (%s)", j->out_dir,
                           strerror(errno));
    }
    fchmod(fd, 0644);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    int ok = off == len && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        lq_error e = lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot write (%s)", path,
                                 strerror(errno));
        free(path);
        return e;
    }
    *published = path;
    return LQ_OK;
}

lq_error lq_job_run(lq_job *j)
{
    lq_diag d = {{0}};
    if (!j || !j->input || !j->preset || !j->out_dir || j->n_targets == 0)
        return fail(j, LQ_ERR_ARG, "a job needs an input, a preset, an output folder and "
                                   "at least one target");
    free_results(j);
    j->errmsg[0] = 0;
    j->cancel = 0;
    j->n_mix_warnings = 0;
    j->targets_done = 0;
    int made_dir = 0;
    char *title_owned = NULL;
    if (!j->title) j->title = title_owned = default_title(j->input);
    lq_error e = LQ_OK;
    char **published = NULL;
    size_t n_published = 0;

    struct stat st;
    if (stat(j->out_dir, &st) != 0) {
        if (mkdir(j->out_dir, 0755) != 0)
            return fail(j, LQ_ERR_OUTPUT,
                        (lq_diag_set(&d, LQ_ERR_OUTPUT,
                                     "%s: cannot create the output folder (%s)", j->out_dir,
                                     strerror(errno)),
                         d.msg));
        made_dir = 1;
    } else if (!S_ISDIR(st.st_mode)) {
        lq_diag_set(&d, LQ_ERR_OUTPUT, "%s: is not a folder (expected an output folder)",
                    j->out_dir);
        return fail(j, LQ_ERR_OUTPUT, d.msg);
    }

    j->exports = calloc(j->n_targets, sizeof *j->exports);
    published = calloc(j->n_targets + 2, sizeof *published);
    if (!j->exports || !published) {
        e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* 1. names: distinct, and nothing overwritten without force */
    for (size_t i = 0; i < j->n_targets && !e; i++) {
        lq_export *ex = &j->exports[i];
        ex->target = j->targets[i];
        ex->file_name = expand_name(j, ex->target);
        ex->path = ex->file_name ? join_path(j->out_dir, ex->file_name) : NULL;
        if (!ex->path) {
            e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(j->exports[k].path, ex->path) == 0)
                e = lq_diag_set(&d, LQ_ERR_ARG,
                                "%s: targets %s and %s would write the same file (expected "
                                "distinct filename patterns)",
                                ex->path, j->exports[k].target->name, ex->target->name);
        struct stat in_st, out_st;
        if (!e && stat(j->input, &in_st) == 0 && stat(ex->path, &out_st) == 0 &&
            in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino)
            e = lq_diag_set(&d, LQ_ERR_OUTPUT,
                            "%s: is the input file; lacquer never overwrites its input "
                            "(expected another output folder or filename pattern)",
                            ex->path);
        if (!e && !j->force && access(ex->path, F_OK) == 0)
            e = lq_diag_set(&d, LQ_ERR_EXISTS,
                            "%s: already exists (expected a new output folder, or --force)",
                            ex->path);
    }
    for (int r = 0; r < 2 && !e; r++) {
        char *p = join_path(j->out_dir, r ? "report.txt" : "report.json");
        if (!p) e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
        else if (!j->force && access(p, F_OK) == 0)
            e = lq_diag_set(&d, LQ_ERR_EXISTS,
                            "%s: already exists (expected a new output folder, or --force)", p);
        free(p);
    }
    if (e) goto done;

    /* 2. master bus */
    e = render_master(j, &d);
    if (e) goto done;
    check_mix(j);

    /* 3. one spool per output rate (made in step 4) */
    j->groups = calloc(j->n_targets, sizeof *j->groups);
    if (!j->groups) {
        e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < j->n_targets; i++) {
        lq_export *ex = &j->exports[i];
        ex->rate = ex->target->sample_rate ? ex->target->sample_rate : j->in_rate;
        size_t k = 0;
        while (k < j->n_groups && j->groups[k].rate != ex->rate) k++;
        if (k == j->n_groups) {
            lq_rate_group *g = &j->groups[j->n_groups++];
            g->rate = ex->rate;
            g->own = ex->rate != j->in_rate;
            if (!g->own) g->spool = j->master;
            else g->spool.fd = -1;
        }
    }
    /* 4. resample and finish every target, in parallel */
    if (run_tasks(j) != LQ_OK) {
        e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < j->n_groups && !e; k++)
        if (j->groups[k].err) {
            e = j->groups[k].err;
            d = j->groups[k].diag;
        }
    for (size_t i = 0; i < j->n_targets && !e; i++)
        if (j->exports[i].err) {
            e = j->exports[i].err;
            d = j->exports[i].diag;
        }
    if (!e && cancelled(j)) e = lq_diag_set(&d, LQ_ERR_CANCELLED, "cancelled");
    if (e) goto done;

    /* 5. publish, then the reports */
    j->ran = 1;
    for (size_t i = 0; i < j->n_targets && !e; i++) {
        lq_export *ex = &j->exports[i];
        e = lq_audio_out_publish(&ex->out, ex->path, j->force, &d);
        if (!e) published[n_published++] = dupstr(ex->path);
        lq_audio_out_discard(&ex->out);
        ex->have_out = 0;
    }
    if (!e) {
        char *js = lq_job_report_json(j), *tx = lq_job_report_text(j);
        if (!js || !tx) e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
        if (!e) e = write_text_file(j, "report.json", js, &published[n_published], &d);
        if (!e) n_published++;
        if (!e) e = write_text_file(j, "report.txt", tx, &published[n_published], &d);
        if (!e) n_published++;
        free(js);
        free(tx);
    }
    if (e) j->ran = 0;

done:
    if (e) {
        for (size_t i = 0; i < n_published; i++) unlink(published[i]);
        if (made_dir) rmdir(j->out_dir);
        if (!d.msg[0]) snprintf(d.msg, sizeof d.msg, "%s", lq_strerror(e));
        fail(j, e, d.msg);
        /* keep the figures of a failed run out of reach */
        lq_spool_destroy(&j->master);
        if (j->exports)
            for (size_t i = 0; i < j->n_targets; i++)
                if (j->exports[i].have_out) {
                    lq_audio_out_discard(&j->exports[i].out);
                    j->exports[i].have_out = 0;
                }
    }
    /* spools are not needed after the run */
    if (j->groups)
        for (size_t k = 0; k < j->n_groups; k++)
            if (j->groups[k].own) {
                lq_spool_destroy(&j->groups[k].spool);
                j->groups[k].own = 0;
            }
    lq_spool_destroy(&j->master);
    for (size_t i = 0; i < n_published; i++) free(published[i]);
    free(published);
    if (title_owned && e) {
        free(j->title);
        j->title = NULL;
    }
    return e;
}
