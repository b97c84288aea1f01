/* The master bus's source (mixsrc.h).
 *
 * Stems in lockstep: every call reads the same number of frames from every stem (zeros
 * after a stem's end), runs each stem through its own chain, drops the first L_i output
 * frames of a chain with latency L_i and drains it with L_i frames of silence at the
 * end, so every stem's processed signal lines up with its input sample for sample (as
 * engine/chain.c does for one chain).  The aligned outputs wait in a small FIFO per
 * stem (at most two blocks), are scaled (gain, width, pan) and summed. */
#include "engine/mixsrc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/chain.h"
#include "engine/meter.h"
#include "io/audio_in.h"

typedef struct stem {
    const lq_stem_spec *spec;
    lq_audio_in in;
    int open;
    lq_chain chain;
    size_t skip;           /* chain output frames still to drop (its latency) */
    long long read;        /* frames read from the file */
    int ended;
    double *fifo[2];       /* processed, aligned, not yet summed */
    size_t fifo_n;
    double gl, gr;         /* gain x pan, per output channel */
    double width;
    lq_meter *meter;       /* the stem as read: loudness, peak, clipping */
    lq_meter_result meas;
} stem;

struct lq_mixsrc {
    int channels, rate, bits;
    long long frames;
    char format[64];
    size_t max_block;
    int pad;
    /* a mix file */
    lq_audio_in in;
    int have_in;
    /* stems */
    stem *st;
    size_t n;
    double *work[2];
    size_t max_latency;
    long long fed;         /* frames fed to every stem's chain (data, then silence) */
    long long total;       /* frames of the sum: the longest stem; -1 until known */
    long long delivered;
    char (*warn)[320];
    size_t n_warn;
};

int lq_mixsrc_channels(const lq_mixsrc *s) { return s->channels; }
int lq_mixsrc_rate(const lq_mixsrc *s) { return s->rate; }
int lq_mixsrc_word_bits(const lq_mixsrc *s) { return s->bits; }
long long lq_mixsrc_frames(const lq_mixsrc *s) { return s->frames; }
const char *lq_mixsrc_format(const lq_mixsrc *s) { return s->format; }

static lq_error open_stems(lq_mixsrc *s, const lq_stems_spec *spec, lq_diag *d)
{
    s->n = spec->n;
    s->st = calloc(spec->n, sizeof *s->st);
    s->warn = calloc(spec->n, sizeof *s->warn);
    if (!s->st || !s->warn) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    lq_error e = LQ_OK;
    /* 1. every file, before any work */
    size_t longest = 0;
    for (size_t i = 0; i < s->n && !e; i++) {
        stem *t = &s->st[i];
        t->spec = &spec->stems[i];
        e = lq_audio_in_open(&t->in, t->spec->file, s->max_block, d);
        if (e) break;
        t->open = 1;
        if (t->in.channels > s->channels) s->channels = t->in.channels;
        if (t->in.frames > s->st[longest].in.frames) longest = i;
        if (i > 0 && t->in.rate != s->st[0].in.rate)
            e = lq_diag_set(d, LQ_ERR_INPUT_MISMATCH,
                            "%s: stem %s is at %d Hz, stem %s at %d Hz (expected every stem "
                            "at the same sample rate)",
                            spec->file, t->spec->name, t->in.rate, s->st[0].spec->name,
                            s->st[0].in.rate);
    }
    if (e) return e;
    s->rate = s->st[0].in.rate;
    s->frames = s->st[longest].in.frames;
    for (size_t i = 0; i < s->n && !s->pad; i++) {
        const stem *t = &s->st[i];
        if (t->in.frames < 0 || s->frames < 0) continue; /* checked at the end */
        long long diff = s->frames - t->in.frames;
        if (diff > (long long)s->max_block)
            return lq_diag_set(d, LQ_ERR_INPUT_MISMATCH,
                               "%s: stem %s is %lld frames (%.3f s) shorter than stem %s "
                               "(expected stems of the same length within %zu frames, or "
                               "--pad)",
                               spec->file, t->spec->name, diff, (double)diff / s->rate,
                               s->st[longest].spec->name, s->max_block);
    }
    /* 2. chains, meters, buffers */
    lq_stage_env env = {.sample_rate = s->rate, .channels = s->channels,
                        .max_block = s->max_block, .seed = 1};
    for (int c = 0; c < s->channels; c++)
        if (!(s->work[c] = malloc(s->max_block * sizeof(double))))
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n && !e; i++) {
        stem *t = &s->st[i];
        e = lq_chain_create(&t->chain, t->spec->chain, t->spec->n_chain, &env, d);
        if (e == LQ_ERR_ARG && d) {
            /* a stage that cannot run at the stems' rate (a crossover above 0.45 x the
             * rate): the input does not suit the chain, as for a mix and its preset
             * (engine/master.c): name the file and the stem, exit as for a bad input */
            char stage_msg[sizeof d->msg];
            snprintf(stage_msg, sizeof stage_msg, "%s", d->msg);
            e = lq_diag_set(d, LQ_ERR_INPUT_RATE, "%s: stem %s: %d Hz does not suit its chain: %s",
                            spec->file, t->spec->name, s->rate, stage_msg);
        }
        if (e) break;
        t->skip = t->chain.latency;
        if (t->chain.latency > s->max_latency) s->max_latency = t->chain.latency;
        double g = t->spec->mute ? 0.0 : pow(10.0, t->spec->gain_db / 20.0);
        double p = t->spec->pan;
        t->gl = g * (p > 0 ? 1.0 - p : 1.0); /* balance law: unity at the centre */
        t->gr = g * (p < 0 ? 1.0 + p : 1.0);
        t->width = t->spec->width;
        if (!e)
            e = lq_meter_new(&t->meter, t->in.channels, s->rate,
                             LQ_METER_COMPACT | LQ_METER_HEALTH, s->max_block, d);
    }
    /* a FIFO holds what one stem's chain is ahead of the slowest (the latency
     * difference) plus two blocks */
    for (size_t i = 0; i < s->n && !e; i++)
        for (int c = 0; c < s->channels && !e; c++)
            if (!(s->st[i].fifo[c] = malloc((2 * s->max_block + s->max_latency) * sizeof(double))))
                e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    s->total = -1;
    snprintf(s->format, sizeof s->format, "%zu stems", s->n);
    return e;
}

lq_error lq_mixsrc_open(lq_mixsrc **out, const char *path, const lq_stems_spec *stems,
                        int pad, size_t max_block, lq_diag *d)
{
    *out = NULL;
    lq_mixsrc *s = calloc(1, sizeof *s);
    if (!s) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    s->max_block = max_block;
    s->pad = pad;
    lq_error e;
    if (stems) {
        e = open_stems(s, stems, d);
    } else {
        e = lq_audio_in_open(&s->in, path, max_block, d);
        if (!e) {
            s->have_in = 1;
            s->channels = s->in.channels;
            s->rate = s->in.rate;
            s->bits = s->in.word_bits;
            s->frames = s->in.frames;
            SF_FORMAT_INFO fi = {.format = s->in.info.format & SF_FORMAT_TYPEMASK};
            if (sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof fi) == 0)
                snprintf(s->format, sizeof s->format, "%s", fi.name);
        }
    }
    if (e) {
        lq_mixsrc_close(&s);
        return e;
    }
    *out = s;
    return LQ_OK;
}

/* Feed n frames of a stem (its file's data, then silence) through its chain; the
 * aligned output goes to its FIFO. */
static lq_error feed(lq_mixsrc *s, stem *t, size_t n, lq_diag *d)
{
    const int ic = t->in.channels, oc = s->channels;
    size_t got = 0;
    if (!t->ended) {
        lq_error e = lq_audio_in_read(&t->in, s->work, n, &got, d);
        if (e) return e;
        if (got == 0) t->ended = 1;
        lq_meter_push(t->meter, (const double *const *)s->work, got);
        t->read += (long long)got;
    }
    for (int c = 0; c < ic; c++) memset(s->work[c] + got, 0, (n - got) * sizeof(double));
    if (ic == 1 && oc == 2) memcpy(s->work[1], s->work[0], n * sizeof(double));
    lq_chain_process(&t->chain, s->work, n);
    size_t off = t->skip < n ? t->skip : n;
    t->skip -= off;
    size_t k = n - off;
    double *f0 = t->fifo[0] + t->fifo_n, *f1 = oc == 2 ? t->fifo[1] + t->fifo_n : NULL;
    for (size_t i = 0; i < k; i++) {
        double l = s->work[0][off + i];
        if (f1) {
            double r = s->work[1][off + i];
            if (t->width != 1.0) { /* M/S: side scaled, mid kept (exact at width 1) */
                double m = 0.5 * (l + r), sd = 0.5 * (l - r) * t->width;
                l = m + sd;
                r = m - sd;
            }
            f0[i] = t->gl * l;
            f1[i] = t->gr * r;
        } else {
            f0[i] = t->gl * l;
        }
    }
    t->fifo_n += k;
    return LQ_OK;
}

static lq_error check_end(lq_mixsrc *s, lq_diag *d)
{
    for (size_t i = 0; i < s->n; i++) {
        stem *t = &s->st[i];
        long long diff = s->total - t->read;
        if (!s->pad && diff > (long long)s->max_block)
            return lq_diag_set(d, LQ_ERR_INPUT_MISMATCH,
                               "%s: stem %s is %lld frames (%.3f s) shorter than the "
                               "longest stem (expected stems of the same length within "
                               "%zu frames, or --pad)",
                               t->spec->file, t->spec->name, diff, (double)diff / s->rate,
                               s->max_block);
        lq_meter_result_get(t->meter, &t->meas);
        if (t->meas.clipped_runs > 0)
            snprintf(s->warn[s->n_warn++], sizeof s->warn[0],
                     "stem %s clips: %lld runs of 3 or more samples at full scale; "
                     "mastering cannot undo clipping (bounce the stem again lower)",
                     t->spec->name, t->meas.clipped_runs);
    }
    return LQ_OK;
}

/* Frames of the sum that every FIFO holds and that lie before the longest stem's end
 * (frames past it are only padding, unless a longer stem still has data). */
static size_t available(const lq_mixsrc *s)
{
    size_t have = (size_t)-1;
    long long longest = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->st[i].fifo_n < have) have = s->st[i].fifo_n;
        if (s->st[i].read > longest) longest = s->st[i].read;
    }
    long long before_end = longest - s->delivered;
    return (long long)have < before_end ? have : (size_t)before_end;
}

lq_error lq_mixsrc_read(lq_mixsrc *s, double *const *buf, size_t n, size_t *got, lq_diag *d)
{
    if (s->have_in) return lq_audio_in_read(&s->in, buf, n, got, d);
    *got = 0;
    if (n > s->max_block) n = s->max_block;
    while (available(s) < n) {
        /* every stem's data and its chain's drain are in */
        if (s->total >= 0 && s->fed >= s->total + (long long)s->max_latency) break;
        int all_ended = 1;
        for (size_t i = 0; i < s->n; i++) {
            lq_error e = feed(s, &s->st[i], n, d);
            if (e) return e;
            all_ended &= s->st[i].ended;
        }
        s->fed += (long long)n;
        if (all_ended && s->total < 0) {
            s->total = 0;
            for (size_t i = 0; i < s->n; i++)
                if (s->st[i].read > s->total) s->total = s->st[i].read;
            lq_error e = check_end(s, d);
            if (e) return e;
        }
    }
    size_t k = available(s);
    if (k > n) k = n;
    for (int c = 0; c < s->channels; c++) memset(buf[c], 0, k * sizeof(double));
    for (size_t i = 0; i < s->n; i++) {
        stem *t = &s->st[i];
        for (int c = 0; c < s->channels; c++) {
            for (size_t f = 0; f < k; f++) buf[c][f] += t->fifo[c][f];
            memmove(t->fifo[c], t->fifo[c] + k, (t->fifo_n - k) * sizeof(double));
        }
        t->fifo_n -= k;
    }
    s->delivered += (long long)k;
    *got = k;
    return LQ_OK;
}

json_t *lq_mixsrc_stems_report(const lq_mixsrc *s)
{
    if (!s->st) return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const stem *t = &s->st[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(t->spec->name));
        json_object_set_new(o, "file", json_string(t->spec->file));
        json_object_set_new(o, "channels", json_integer(t->in.channels));
        json_object_set_new(o, "frames", json_integer(t->read));
        json_object_set_new(o, "gain_db", json_real(t->spec->gain_db));
        json_object_set_new(o, "mute", json_boolean(t->spec->mute));
        json_object_set_new(o, "pan", json_real(t->spec->pan));
        json_object_set_new(o, "width", json_real(t->spec->width));
        if (isfinite(t->meas.integrated_lufs))
            json_object_set_new(o, "integrated_lufs", json_real(t->meas.integrated_lufs));
        else
            json_object_set_new(o, "integrated_lufs", json_null());
        if (isfinite(t->meas.sample_peak_dbfs))
            json_object_set_new(o, "sample_peak_dbfs", json_real(t->meas.sample_peak_dbfs));
        else
            json_object_set_new(o, "sample_peak_dbfs", json_null());
        json_object_set_new(o, "clipped_runs", json_integer(t->meas.clipped_runs));
        json_t *ch = json_array();
        for (size_t k = 0; k < t->chain.n; k++) {
            json_t *so = json_object();
            json_object_set_new(so, "stage", json_string(t->chain.vt[k]->name));
            if (t->chain.vt[k]->report) t->chain.vt[k]->report(t->chain.state[k], so);
            json_array_append_new(ch, so);
        }
        json_object_set_new(o, "chain", ch);
        json_array_append_new(a, o);
    }
    return a;
}

const char *lq_mixsrc_stem_warning(const lq_mixsrc *s, size_t k)
{
    return k < s->n_warn ? s->warn[k] : NULL;
}

void lq_mixsrc_close(lq_mixsrc **ps)
{
    lq_mixsrc *s = *ps;
    if (!s) return;
    if (s->have_in) lq_audio_in_close(&s->in);
    for (size_t i = 0; s->st && i < s->n; i++) {
        stem *t = &s->st[i];
        if (t->open) lq_audio_in_close(&t->in);
        lq_chain_destroy(&t->chain);
        lq_meter_destroy(&t->meter);
        free(t->fifo[0]);
        free(t->fifo[1]);
    }
    free(s->st);
    free(s->warn);
    free(s->work[0]);
    free(s->work[1]);
    free(s);
    *ps = NULL;
}
