/* One target's finishing chain: gain -> true-peak limiter -> dither/quantize ->
 * encode, with the gain into the limiter solved in a closed loop so that the written
 * file lands on the target loudness, and the ceiling lowered until it also holds after
 * a lossy round trip.  Every pass streams from the rate group's spool (bounded memory).
 *
 * Without a limiter in the preset, the gain is linear: it stops where the true peak
 * would cross the ceiling, and the shortfall is reported in LU. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/chain.h"
#include "engine/job.h"
#include "engine/resample.h"
#include "io/audio_in.h"
#include "stages/dither.h"
#include "stages/limiter.h"

#define BLOCK 4096
#define LOUDNESS_TOL_LU 0.05   /* a target is met within this (EBU QC practice: 0.2) */
#define SOLVE_TOL_LU 0.01      /* the closed loop aims tighter */
#define MAX_CODEC_ROUNDS 6

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
    lq_diag *d;
} render;

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
    if (r->meter) lq_meter_push(r->meter, buf, n);
    for (int i = 0; i < r->n_out; i++) {
        lq_error e = lq_audio_out_write(r->out[i], buf, n, r->d);
        if (e) return e;
    }
    return LQ_OK;
}

typedef struct plan {
    lq_job *j;
    lq_export *ex;
    const lq_rate_group *g;
    lq_stage_spec limiter, dither;
    int use_limiter, use_dither, out_bits;
    lq_stage_env env;
    unsigned char lim_cfg[512];
} plan;

/* Run the chain once with gain_db and ceiling; measure with `what`; optionally encode
 * into outs.  *res gets the figures of what came out of the chain. */
static lq_error run_pass(plan *p, double gain_db, double ceiling_dbtp, int what,
                         lq_audio_out **outs, int n_out, lq_meter_result *res,
                         json_t **lim_report, json_t **dith_report, long long *clipped)
{
    lq_export *ex = p->ex;
    lq_stage_spec specs[2] = {{0}, {0}};
    if (p->use_limiter) {
        memcpy(p->lim_cfg, p->limiter.cfg, p->limiter.vt->config_size);
        ((lq_limiter_config *)(void *)p->lim_cfg)->ceiling_dbtp = ceiling_dbtp;
        specs[0].vt = p->limiter.vt;
        specs[0].cfg = p->lim_cfg;
    }
    if (p->use_dither) specs[1] = p->dither;
    lq_chain chain;
    lq_error e = lq_chain_create(&chain, specs, 2, &p->env, &ex->diag);
    if (e) return e;
    render r = {.gain = pow(10.0, gain_db / 20.0), .d = &ex->diag, .n_out = n_out};
    for (int i = 0; i < n_out; i++) r.out[i] = outs[i];
    if (what) e = lq_meter_new(&r.meter, p->env.channels, p->env.sample_rate, what, BLOCK, &ex->diag);
    if (!e && lq_spool_reader_init(&r.rd, &p->g->spool, BLOCK))
        e = lq_diag_set(&ex->diag, LQ_ERR_NOMEM, "out of memory");
    if (!e) {
        lq_blocker bl;
        lq_blocker_init(&bl, p->j->block, BLOCK);
        lq_run_ctl ctl = {.blocks = &bl, .cancel = &p->j->cancel};
        e = lq_chain_run(&chain, src_fn, &r, sink_fn, &r, &ctl, NULL);
        if (e == LQ_ERR_CANCELLED) lq_diag_set(&ex->diag, e, "cancelled");
        lq_spool_reader_free(&r.rd);
    }
    if (!e && r.meter) lq_meter_result_get(r.meter, res);
    if (!e) {
        for (size_t i = 0; i < chain.n; i++) {
            json_t **slot = strcmp(chain.vt[i]->name, "limiter") == 0 ? lim_report
                            : strcmp(chain.vt[i]->name, "dither") == 0 ? dith_report
                                                                         : NULL;
            if (strcmp(chain.vt[i]->name, "dither") == 0 && clipped)
                *clipped = lq_dither_clipped(chain.state[i]);
            if (strcmp(chain.vt[i]->name, "limiter") == 0) {
                double mx, mean, secs;
                lq_limiter_stats(chain.state[i], &mx, &mean, &secs);
                ex->max_gr_db = mx;
            }
            if (slot && chain.vt[i]->report) {
                if (*slot) json_decref(*slot);
                *slot = json_object();
                chain.vt[i]->report(chain.state[i], *slot);
            }
        }
    }
    lq_meter_destroy(&r.meter);
    lq_chain_destroy(&chain);
    return e;
}

static lq_error open_export(plan *p, lq_audio_out *o, lq_format fmt, int bits, int rate)
{
    lq_job *j = p->j;
    const lq_target *t = p->ex->target;
    char desc[256];
    snprintf(desc, sizeof desc, "%s mastered by lacquer for %s", j->title, t->name);
    lq_out_meta meta = {j->title, j->artist, j->album, desc};
    int kbps = fmt == t->format ? t->bitrate_kbps : fmt == LQ_FMT_OPUS ? 160 : 320;
    return lq_audio_out_open(o, j->out_dir, fmt, rate, p->env.channels, bits, kbps, &meta,
                             BLOCK, &p->ex->diag);
}

/* Rates the lossy encoders take (MPEG-1/2/2.5 layer III; libsndfile's Opus). */
static int codec_takes_rate(lq_format f, int rate)
{
    static const int mp3[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
    static const int opus[] = {8000, 12000, 16000, 24000, 48000};
    const int *r = f == LQ_FMT_MP3 ? mp3 : f == LQ_FMT_OPUS ? opus : NULL;
    size_t n = f == LQ_FMT_MP3 ? 9 : 5;
    if (!r) return rate <= 192000;
    for (size_t i = 0; i < n; i++)
        if (r[i] == rate) return 1;
    return 0;
}

/* The rate a service would transcode this export at for that codec. */
static int codec_rate_for(lq_format f, int rate)
{
    if (f == LQ_FMT_OPUS) return 48000;
    if (f == LQ_FMT_MP3) return rate % 11025 == 0 ? 44100 : 48000;
    return rate > 192000 ? 48000 : rate;
}

/* A codec round trip of an export whose rate the codec does not take (a 96 kHz master
 * checked for MP3): decode the written file, resample it to the codec's rate as a
 * service would, encode, and measure the decoded 16x true peak. */
static lq_error resampled_roundtrip(plan *p, const char *path, lq_format fmt, double *tp_db)
{
    lq_export *ex = p->ex;
    lq_diag *d = &ex->diag;
    const int crate = codec_rate_for(fmt, ex->rate);
    lq_audio_in in;
    lq_spool s1, s2;
    lq_audio_out o;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    memset(&o, 0, sizeof o);
    s1.fd = s2.fd = o.fd = -1;
    double *mem = malloc(2 * BLOCK * sizeof(double));
    double *pl[2] = {mem, mem ? mem + BLOCK : NULL};
    lq_error e = mem ? lq_audio_in_open(&in, path, BLOCK, d)
                     : lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (e) {
        free(mem);
        return e;
    }
    e = lq_spool_create(&s1, p->j->out_dir, in.channels, in.rate, d);
    while (!e) {
        size_t got = 0;
        e = lq_audio_in_read(&in, pl, BLOCK, &got, d);
        if (e || got == 0) break;
        e = lq_spool_write(&s1, (const double *const *)pl, got, d);
    }
    lq_audio_in_close(&in);
    if (!e) e = lq_spool_finish(&s1, d);
    if (!e) e = lq_spool_create(&s2, p->j->out_dir, s1.channels, crate, d);
    /* the service's transcode, with the converter the target delivers with */
    if (!e) e = lq_resample_spool(&s1, &s2, crate, ex->target->resampler, NULL,
                                  &p->j->cancel, d);
    if (!e) e = open_export(p, &o, fmt, 24, crate);
    if (!e) {
        lq_spool_reader rd;
        if (lq_spool_reader_init(&rd, &s2, BLOCK)) {
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        } else {
            size_t n;
            while (!e && (n = lq_spool_read(&rd, pl, BLOCK)) > 0 && n != (size_t)-1)
                e = lq_audio_out_write(&o, (const double *const *)pl, n, d);
            lq_spool_reader_free(&rd);
        }
    }
    if (!e) e = lq_audio_out_close(&o, d);
    lq_meter_result r;
    if (!e) e = lq_meter_file(o.read_path, LQ_METER_TP16, &r, d);
    if (!e) *tp_db = r.true_peak_16x_dbtp;
    lq_audio_out_discard(&o);
    lq_spool_destroy(&s2);
    lq_spool_destroy(&s1);
    free(mem);
    return e;
}

void lq_finish_target(lq_job *j, lq_export *ex, const lq_rate_group *g)
{
    const lq_target *t = ex->target;
    const lq_preset *pr = j->preset;
    plan p = {.j = j, .ex = ex, .g = g};
    const int lossy = lq_format_is_lossy(t->format);
    ex->bits = lossy ? 0 : t->bit_depth;
    p.out_bits = lossy || t->bit_depth == 32 ? 0 : t->bit_depth;

    /* finishing stages: the preset's, with the target's overrides on top */
    if (pr->limiter.vt) {
        ex->err = lq_stage_spec_override(&p.limiter, &pr->limiter, t->limiter_node, &ex->diag);
        if (ex->err) return;
        p.use_limiter = 1;
    }
    if (pr->dither.vt) {
        ex->err = lq_stage_spec_override(&p.dither, &pr->dither, t->dither_node, &ex->diag);
        if (ex->err) goto out;
    }
    /* the signal's word length: unchanged only when nothing touched it */
    const int untouched_rate = ex->rate == j->in_rate && j->master_identity;
    const double src_lufs = g->meas.integrated_lufs, src_tp = g->meas.true_peak_16x_dbtp;
    /* the loudness to land on: the target's, else the preset's own level, else none */
    ex->has_aim = t->has_loudness || pr->has_level || j->has_ref_level;
    ex->aim_from_preset = !t->has_loudness && pr->has_level && !j->has_ref_level;
    ex->aim_from_reference = !t->has_loudness && j->has_ref_level; /* matching: the refs' level */
    ex->aim_lufs = t->has_loudness ? t->loudness_lufs
                 : j->has_ref_level ? j->ref_level_lufs : pr->level_lufs;
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
    p.use_dither = p.dither.vt && p.out_bits && signal_bits > p.out_bits;
    ex->dithered = p.use_dither;
    char ident[64];
    snprintf(ident, sizeof ident, "%016llx", (unsigned long long)j->in_hash);
    p.env = (lq_stage_env){.sample_rate = ex->rate, .channels = j->in_channels,
                           .max_block = BLOCK, .seed = lq_dither_seed(ident, t->name),
                           .out_bits = p.out_bits};

    /* codec round trips to hold the ceiling on */
    unsigned checks = t->codec_check;
    if (lossy) checks |= 1u << t->format;
    double margin = 0.0;
    /* the loudness the pre-encode render aims at: the target, corrected by what a lossy
     * encode shifts (measured on the decoded file, round by round) */
    double aim = ex->aim_lufs;
    for (int round = 0; round < MAX_CODEC_ROUNDS; round++) {
        double ceil_now = ceiling_int - margin;
        lq_meter_result res = {0};
        /* 1. solve the gain (limiter present and a loudness target) */
        ex->n_passes = 0;
        if (p.use_limiter && has_aim && isfinite(src_lufs)) {
            double gs[LQ_MAX_PASSES], ls[LQ_MAX_PASSES];
            double gk = gain_db;
            for (int k = 0; k < LQ_MAX_PASSES - 1; k++) {
                ex->err = run_pass(&p, gk, ceil_now, LQ_METER_LOUDNESS, NULL, 0, &res, NULL,
                                   NULL, NULL);
                if (ex->err) goto out;
                gs[k] = gk;
                ls[k] = res.integrated_lufs;
                ex->passes[ex->n_passes++] = (lq_pass){gk, ceil_now, res.integrated_lufs};
                double err = aim - ls[k];
                if (fabs(err) <= SOLVE_TOL_LU) break;
                double slope = 1.0;
                if (k > 0 && gs[k] != gs[k - 1]) slope = (ls[k] - ls[k - 1]) / (gs[k] - gs[k - 1]);
                if (!(slope > 0.05 && slope < 1.5)) slope = 1.0;
                double step = err / slope;
                if (step > 12.0) step = 12.0;
                if (step < -12.0) step = -12.0;
                gk += step;
            }
            /* the best pass so far */
            int best = 0;
            for (int k = 1; k < ex->n_passes; k++)
                if (fabs(aim - ls[k]) < fabs(aim - ls[best])) best = k;
            gain_db = gs[best];
        }
        ex->gain_db = gain_db;
        ex->ceiling_dbtp = ceil_now;
        ex->codec_margin_db = margin;

        /* 2. the real render: encode the export (and the codec-check round trips) */
        lq_audio_out *outs[1 + LQ_MAX_CODEC_CHECKS];
        lq_audio_out chk[LQ_MAX_CODEC_CHECKS];
        lq_format chk_fmt[LQ_MAX_CODEC_CHECKS];
        int n_chk = 0;
        ex->err = open_export(&p, &ex->out, t->format, t->bit_depth, ex->rate);
        if (ex->err) goto out;
        ex->have_out = 1;
        outs[0] = &ex->out;
        lq_format later[LQ_MAX_CODEC_CHECKS];
        int n_later = 0;
        for (int f = 0; f < LQ_FMT_COUNT && n_chk + n_later < LQ_MAX_CODEC_CHECKS; f++) {
            if (!(checks & (1u << f)) || (lossy && f == (int)t->format)) continue;
            if (!codec_takes_rate((lq_format)f, ex->rate)) {
                later[n_later++] = (lq_format)f;   /* resampled after the render */
                continue;
            }
            ex->err = open_export(&p, &chk[n_chk], (lq_format)f, 24, ex->rate);
            if (ex->err) {
                for (int i = 0; i < n_chk; i++) lq_audio_out_discard(&chk[i]);
                goto out;
            }
            chk_fmt[n_chk] = (lq_format)f;
            outs[1 + n_chk] = &chk[n_chk];
            n_chk++;
        }
        json_t *lim = NULL, *dit = NULL;
        /* no meter here: the written file is measured below */
        ex->err = run_pass(&p, gain_db, ceil_now, 0, outs, 1 + n_chk, &res, &lim, &dit,
                           &ex->clipped);
        if (ex->limiter_report) json_decref(ex->limiter_report);
        if (ex->dither_report) json_decref(ex->dither_report);
        ex->limiter_report = lim;
        ex->dither_report = dit;
        for (int i = 0; i <= n_chk && !ex->err; i++)
            ex->err = lq_audio_out_close(outs[i], &ex->diag);
        /* 3. verify: the file as written (decoded, for lossy formats) */
        if (!ex->err)
            ex->err = lq_meter_file(ex->out.read_path, LQ_METER_FULL | LQ_METER_TP16, &ex->meas,
                                   &ex->diag);
        if (!ex->err && (!p.use_limiter || !has_aim) && ex->n_passes < LQ_MAX_PASSES)
            ex->passes[ex->n_passes++] = (lq_pass){gain_db, ceil_now, ex->meas.integrated_lufs};
        ex->clipped += ex->out.clipped;
        ex->n_codec = 0;
        double worst = lossy ? ex->meas.true_peak_16x_dbtp : -HUGE_VAL;
        for (int i = 0; i < n_chk; i++) {
            lq_meter_result cr;
            /* a codec check is about its peaks only */
            if (!ex->err) ex->err = lq_meter_file(chk[i].read_path, LQ_METER_TP16, &cr, &ex->diag);
            lq_audio_out_discard(&chk[i]);
            if (ex->err) continue;
            lq_codec_check *cc = &ex->codec[ex->n_codec++];
            cc->format = chk_fmt[i];
            cc->rate = ex->rate;
            cc->true_peak_dbtp = cr.true_peak_16x_dbtp;
            cc->ok = cr.true_peak_16x_dbtp <= t->true_peak_dbtp;
            if (cr.true_peak_16x_dbtp > worst) worst = cr.true_peak_16x_dbtp;
        }
        for (int i = 0; i < n_later && !ex->err; i++) {
            double tp = 0;
            ex->err = resampled_roundtrip(&p, ex->out.read_path, later[i], &tp);
            if (ex->err) break;
            lq_codec_check *cc = &ex->codec[ex->n_codec++];
            cc->format = later[i];
            cc->rate = codec_rate_for(later[i], ex->rate);
            cc->true_peak_dbtp = tp;
            cc->ok = tp <= t->true_peak_dbtp;
            if (tp > worst) worst = tp;
        }
        if (ex->err) goto out;
        /* lossy: the decoded loudness is what counts; nudge the gain if it drifted */
        double lufs_err = has_aim ? ex->aim_lufs - ex->meas.integrated_lufs : 0.0;
        int peak_over = worst > t->true_peak_dbtp;
        if (!peak_over && !(lossy && fabs(lufs_err) > SOLVE_TOL_LU * 2)) break;
        if (round == MAX_CODEC_ROUNDS - 1) break;
        if (peak_over) {
            margin += worst - t->true_peak_dbtp + 0.1;
            if (!p.use_limiter) gain_db -= worst - t->true_peak_dbtp + 0.1;
        } else {
            aim += lufs_err;
            gain_db += lufs_err;
        }
        lq_audio_out_discard(&ex->out);
        ex->have_out = 0;
    }

    /* 4. judge (and record the verified figures in the BWF header) */
    if (t->format == LQ_FMT_WAV)
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
        if (ex->shortfall_lu > 0.0)
            lq_export_warn(ex, "%.1f LU short of %.1f LUFS: the true-peak ceiling stopped "
                               "the gain (this preset has no limiter)",
                           ex->shortfall_lu, ex->aim_lufs);
        double warn_db = 6.0;
        if (p.use_limiter) warn_db = ((lq_limiter_config *)p.limiter.cfg)->push_warn_db;
        if (p.use_limiter && ex->max_gr_db > warn_db)
            lq_export_warn(ex, "the limiter is pushing this master hard: up to %.1f dB of "
                               "gain reduction on peaks (more than %.0f dB squashes drums "
                               "and transients; consider a quieter target or a more "
                               "dynamic mix)", ex->max_gr_db, warn_db);
        if (margin > 0.0)
            lq_export_warn(ex, "the %s encode overshot: the limiter ceiling was lowered by "
                               "%.2f dB so the decoded file stays under %.1f dBTP",
                           lossy ? lq_format_names[t->format] : "codec-check", margin,
                           t->true_peak_dbtp);
        if (ex->clipped)
            lq_export_warn(ex, "%lld samples clipped in the quantizer", ex->clipped);
        if (m->integrated_lufs > t->true_peak_dbtp - 6.0 && isfinite(m->integrated_lufs))
            lq_export_warn(ex, "very loud master (%.1f LUFS): streaming services will turn "
                               "it down", m->integrated_lufs);
    }
out:
    lq_stage_spec_free(&p.limiter);
    lq_stage_spec_free(&p.dither);
    if (ex->err && ex->have_out) {
        lq_audio_out_discard(&ex->out);
        ex->have_out = 0;
    }
}
