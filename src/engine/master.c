/* The master bus of one job: decode the input (io/audio_in.c: every input check),
 * measure it (loudness, 16x true peak, mix health), run the preset's master-bus chain
 * once and spool the result at the source rate, measured on the way.  Every target of
 * the job reads that spool; nothing holds the whole song in memory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/chain.h"
#include "engine/describe.h"
#include "engine/job.h"
#include "engine/mixsrc.h"
#include "engine/pipe.h"
#include "engine/staging.h"

#define MAX_BLOCK 4096

static uint64_t mix64(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xBF58476D1CE4E5B9ull;
}

typedef struct input_src {
    lq_mixsrc *in;
    int channels;
    lq_pipe *meter;     /* the input's meter, on its own thread (engine/pipe.h) */
    lq_job *j;
    lq_diag *d;
    double gain;        /* input gain staging (1: none) */
} input_src;

static lq_error meter_sink(void *u, const double *const *buf, size_t n)
{
    lq_meter_push(u, buf, n);
    return LQ_OK;
}

static size_t input_read(void *u, double *const *buf, size_t n, lq_error *err)
{
    input_src *s = u;
    size_t got = 0;
    lq_error e = lq_mixsrc_read(s->in, buf, n, &got, s->d);
    if (e) {
        *err = e;
        return 0;
    }
    if ((e = lq_pipe_put(s->meter, (const double *const *)buf, got))) {
        *err = e;
        return 0;
    }
    uint64_t h = s->j->in_hash;
    for (size_t i = 0; i < got; i++)
        for (int c = 0; c < s->channels; c++) {
            uint64_t v;
            memcpy(&v, &buf[c][i], sizeof v);
            h = mix64(h, v);
        }
    s->j->in_hash = h;
    if (s->gain != 1.0) lq_staging_scale(buf, s->channels, got, s->gain);
    return got;
}

typedef struct spool_sink {
    lq_spool *spool;
    lq_meter *meter;
    lq_diag *d;         /* its own (the sink runs on the pipe's thread) */
    lq_error err;       /* the sink's error, its line in *d */
    double undo;        /* undoes the input gain staging (1: none) */
    int channels;
    double *tmp[2];     /* MAX_BLOCK frames each, when undo != 1 */
    lq_ltas *ltas;      /* matching: the master's spectrum, for the report */
} spool_sink;

static lq_error spool_put1(spool_sink *s, const double *const *buf, size_t n)
{
    if (s->meter) lq_meter_push(s->meter, buf, n);
    if (s->ltas) lq_ltas_push(s->ltas, buf, n);
    return s->err = lq_spool_write(s->spool, buf, n, s->d);
}

static lq_error spool_put(void *u, const double *const *buf, size_t n)
{
    spool_sink *s = u;
    if (s->undo == 1.0) return spool_put1(s, buf, n);
    for (size_t off = 0; off < n; off += MAX_BLOCK) {
        size_t m = n - off < MAX_BLOCK ? n - off : MAX_BLOCK;
        for (int c = 0; c < s->channels; c++)
            for (size_t i = 0; i < m; i++) s->tmp[c][i] = buf[c][off + i] * s->undo;
        lq_error e = spool_put1(s, (const double *const *)s->tmp, m);
        if (e) return e;
    }
    return LQ_OK;
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
        lq_job_progress(p->j, p->phase, (double)done / (double)p->total);
    return lq_job_cancelled(p->j) ? LQ_ERR_CANCELLED : LQ_OK;
}

static int job_cancelled(void *j)
{
    return lq_job_cancelled(j);
}

static lq_error match_spec(lq_job *j, lq_stage_spec *spec, lq_diag *d);

/* Reference matching, before the render (docs/REFERENCE.md): analyse every reference
 * and the mix (one extra streaming read of the input), design the open-loop correction,
 * and make it an eq stage (*spec). */
static lq_error match_prepare(lq_job *j, lq_stage_spec *spec, lq_diag *d)
{
    free(j->ref_ltas);
    j->ref_ltas = calloc(j->n_refs, sizeof *j->ref_ltas);
    if (!j->ref_ltas) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (references)");
    lq_error e = LQ_OK;
    for (size_t i = 0; i < j->n_refs && !e; i++) {
        lq_job_progress(j, "reference", (double)i / (double)j->n_refs);
        e = lq_ltas_file(j->ref_path[i], &j->ref_ltas[i], d);
    }
    if (e) return e;
    lq_job_progress(j, "reference", 1.0);
    lq_mixsrc *in = NULL;
    lq_ltas *a = NULL;
    double *buf[2] = {malloc(MAX_BLOCK * sizeof(double)), malloc(MAX_BLOCK * sizeof(double))};
    if (!buf[0] || !buf[1]) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (analysis)");
    if (!e) e = lq_mixsrc_open(&in, j->input, j->stems, j->stems_pad, MAX_BLOCK, d);
    if (!e) e = lq_ltas_new(&a, lq_mixsrc_channels(in), lq_mixsrc_rate(in), d);
    while (!e) {
        size_t got = 0;
        if ((e = lq_mixsrc_read(in, buf, MAX_BLOCK, &got, d)) || got == 0) break;
        lq_ltas_push(a, (const double *const *)buf, got);
        if (lq_job_cancelled(j)) e = lq_diag_set(d, LQ_ERR_CANCELLED, "cancelled");
    }
    if (!e) {
        lq_ltas_get(a, &j->mix_ltas);
        if (!j->mix_ltas.gated_frames)
            e = lq_diag_set(d, LQ_ERR_INPUT_EMPTY, "%s: the mix is silent (expected music "
                            "above -70 LUFS to match to a reference)", j->input);
    }
    lq_ltas_destroy(&a);
    lq_mixsrc_close(&in);
    free(buf[0]);
    free(buf[1]);
    if (e) return e;
    lq_match_design(&j->mix_ltas, j->ref_ltas, j->ref_weight, j->n_refs, &j->match, &j->curve);
    j->has_ref_level = 1;
    j->ref_level_lufs = j->curve.ref_lufs;
    return match_spec(j, spec, d);
}

/* The curve as an eq stage (*spec, freed first when set), parsed from the YAML text
 * --save-preset writes, so that a saved preset gives the very same filter. */
static lq_error match_spec(lq_job *j, lq_stage_spec *spec, lq_diag *d)
{
    lq_stage_spec_free(spec);
    lq_error e;
    free(j->match_yaml);
    if (!(j->match_yaml = lq_match_eq_yaml(&j->curve, 0)))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (matched eq)");
    lq_node *root = NULL;
    if ((e = lq_node_parse_string(&root, j->match_yaml, "matched eq", d))) return e;
    e = lq_stage_spec_parse(spec, &lq_stage_eq, lq_node_get(root->items[0], "eq"), d);
    lq_node_free(root);
    return e;
}

/* The closed loop's bus pass: the mix through the whole master bus as it stands (the
 * matched eq, then the preset's stages, with the input gain staging the render will
 * apply, from the mix's BS.1770 loudness), into a spectrum analyser only: nothing is
 * spooled.  No undo of the staging gain: the spectra are compared level-aligned. */
typedef struct bus_src {
    lq_mixsrc *in;
    int channels;
    double gain;
    lq_diag *d;
} bus_src;

static size_t bus_read(void *u, double *const *buf, size_t n, lq_error *err)
{
    bus_src *s = u;
    size_t got = 0;
    lq_error e = lq_mixsrc_read(s->in, buf, n, &got, s->d);
    if (e) {
        *err = e;
        return 0;
    }
    if (s->gain != 1.0) lq_staging_scale(buf, s->channels, got, s->gain);
    return got;
}

static lq_error bus_put(void *u, const double *const *buf, size_t n)
{
    lq_ltas_push(u, buf, n);
    return LQ_OK;
}

static lq_error bus_spectrum(lq_job *j, const lq_stage_spec *specs, size_t n_specs,
                             lq_ltas_result *out, lq_diag *d)
{
    bus_src src = {.d = d, .gain = 1.0};
    lq_ltas *a = NULL;
    lq_chain chain;
    lq_error e = lq_mixsrc_open(&src.in, j->input, j->stems, j->stems_pad, MAX_BLOCK, d);
    if (e) return e;
    src.channels = lq_mixsrc_channels(src.in);
    const int rate = lq_mixsrc_rate(src.in);
    lq_stage_env env = {.sample_rate = rate, .channels = src.channels,
                        .max_block = MAX_BLOCK, .seed = 1, .out_bits = 0};
    e = lq_chain_create(&chain, specs, n_specs, &env, d);
    if (e) {
        lq_mixsrc_close(&src.in);
        return e;
    }
    if (j->preset->has_input_ref && chain.n && isfinite(j->mix_ltas.lufs))
        src.gain = pow(10.0, (j->preset->input_lufs - j->mix_ltas.lufs) / 20.0);
    e = lq_ltas_new(&a, src.channels, rate, d);
    if (!e) {
        lq_blocker bl;
        lq_blocker_init(&bl, j->block, MAX_BLOCK);
        progress_ctx pc = {j, "reference", lq_mixsrc_frames(src.in)};
        lq_run_ctl ctl = {&bl, &j->cancel, chain_progress, &pc};
        long long n = 0;
        e = lq_chain_run(&chain, bus_read, &src, bus_put, a, &ctl, &n);
        if (e == LQ_ERR_CANCELLED) lq_diag_set(d, e, "cancelled");
    }
    if (!e) lq_ltas_get(a, out);
    lq_ltas_destroy(&a);
    lq_chain_destroy(&chain);
    lq_mixsrc_close(&src.in);
    return e;
}

/* The closed loop (docs/REFERENCE.md): the preset's stages after the matching eq (a
 * multiband compressor, a saturator) and the eq's own realisation of the curve move the
 * tone again, so the bus's output is measured and the curve moved by what it still
 * misses, MATCH_PASSES times; the last curve is the one rendered and saved. */
#define MATCH_PASSES 2

static lq_error match_close_loop(lq_job *j, lq_stage_spec *specs, size_t n_specs, lq_diag *d)
{
    if (!(j->match.strength > 0.0)) return LQ_OK;
    for (int pass = 0; pass < MATCH_PASSES; pass++) {
        lq_ltas_result out;
        lq_error e = bus_spectrum(j, specs, n_specs, &out, d);
        if (!e) {
            lq_match_refine(&j->curve, &j->mix_ltas, &out, j->ref_ltas, j->ref_weight, j->n_refs,
                            &j->match);
            e = match_spec(j, &specs[0], d);
        }
        if (e) return e;
    }
    return LQ_OK;
}

/* The match settings: the defaults, the preset's `reference:` key over them, what the
 * API set over that; the preset's files when the job has none of its own. */
static lq_error take_preset_reference(lq_job *j, lq_diag *d)
{
    const lq_preset *p = j->preset;
    lq_match_opts_default(&j->match);
    if (p->has_reference) {
        if (!j->n_refs) {
            for (size_t i = 0; i < p->n_refs && i < LQ_MATCH_MAX_REFS; i++) {
                const size_t len = strlen(p->ref_files[i]) + 1;
                if (!(j->ref_path[i] = malloc(len)))
                    return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
                memcpy(j->ref_path[i], p->ref_files[i], len);
                j->ref_weight[i] = p->ref_weights[i];
                j->n_refs = i + 1;
            }
            j->refs_from_preset = 1;
        }
        j->match.strength = p->ref_strength;
        j->match.width_strength = p->ref_width_strength;
        j->match.max_boost_db = p->ref_max_boost_db;
        j->match.max_cut_db = p->ref_max_cut_db;
        j->match.boost_lo_hz = p->ref_boost_lo_hz;
        j->match.boost_hi_hz = p->ref_boost_hi_hz;
    }
    double *slot[6] = {&j->match.strength,     &j->match.width_strength,
                       &j->match.max_boost_db, &j->match.max_cut_db,
                       &j->match.boost_lo_hz,  &j->match.boost_hi_hz};
    for (int i = 0; i < 6; i++)
        if (!isnan(j->match_req[i])) *slot[i] = j->match_req[i];
    if (j->match.boost_hi_hz < j->match.boost_lo_hz)
        return lq_diag_set(d, LQ_ERR_ARG, "reference matching: boosts allowed from %g Hz to "
                           "%g Hz (expected the first no higher than the second)",
                           j->match.boost_lo_hz, j->match.boost_hi_hz);
    return LQ_OK;
}

lq_error lq_job_render_master(lq_job *j, lq_diag *d)
{
    input_src src = {.j = j, .d = d};
    lq_error e = take_preset_reference(j, d);
    if (e) return e;
    /* the stages: the matched eq first (on the mix as it is, so that the preset's own
     * stages work on the matched tone, as the references were heard), then the preset's */
    const size_t n_specs = j->preset->n_master + (j->n_refs ? 1 : 0);
    lq_stage_spec *specs = calloc(n_specs ? n_specs : 1, sizeof *specs);
    if (!specs) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    j->has_ref_level = 0;
    if (j->n_refs && (e = match_prepare(j, &specs[0], d))) {
        lq_stage_spec_free(&specs[0]);
        free(specs);
        return e;
    }
    for (size_t i = 0; i < j->preset->n_master; i++)
        specs[i + (j->n_refs ? 1 : 0)] = j->preset->master[i];
    if (j->n_refs && (e = match_close_loop(j, specs, n_specs, d))) {
        lq_stage_spec_free(&specs[0]);
        free(specs);
        return e;
    }
    lq_ltas *master_ltas = NULL;
    e = lq_mixsrc_open(&src.in, j->input, j->stems, j->stems_pad, MAX_BLOCK, d);
    if (e) goto early;
    const int channels = src.channels = lq_mixsrc_channels(src.in);
    const int rate = lq_mixsrc_rate(src.in);
    j->in_channels = channels;
    j->in_rate = rate;
    j->in_bits = lq_mixsrc_word_bits(src.in);
    snprintf(j->in_format, sizeof j->in_format, "%s", lq_mixsrc_format(src.in));
    j->in_hash = 0x243F6A8885A308D3ull;

    lq_stage_env env = {.sample_rate = rate, .channels = channels,
                        .max_block = MAX_BLOCK, .seed = 1, .out_bits = 0};
    lq_chain chain;
    lq_meter *master_meter = NULL;
    e = lq_chain_create(&chain, specs, n_specs, &env, d);
    if (e == LQ_ERR_ARG && d) {
        /* A stage that cannot run at this input's rate (a crossover above 0.45 x the
         * rate of an 8 kHz file): the input does not suit the preset.  Name the file,
         * and exit as for a bad input, not a bad command line. */
        char stage_msg[sizeof d->msg];
        snprintf(stage_msg, sizeof stage_msg, "%s", d->msg);
        e = lq_diag_set(d, LQ_ERR_INPUT_RATE, "%s: %d Hz does not suit preset %s: %s",
                        j->input ? j->input : j->stems->file, rate, j->preset->name,
                        stage_msg);
    }
    if (e) {
        lq_mixsrc_close(&src.in);
        goto early;
    }
    if (j->n_refs) e = lq_ltas_new(&master_ltas, channels, rate, d);
    j->master_identity = chain.n == 0;
    /* the staging measures the loudness alone (a quick read); the input's full meter
     * (with lq_job_set_ebur128_peak, libebur128's cross-check true peak in the same
     * libebur128 state: one K-filter) and the master's meter and spool each run on
     * their own thread beside the master bus's read and chain (engine/pipe.h: the same
     * blocks in the same order, so the figures do not depend on it) */
    lq_meter *in_meter = NULL;
    if (!e) e = lq_meter_new(&in_meter, channels, rate,
                             LQ_METER_FULL | LQ_METER_HEALTH | LQ_METER_TP16 | LQ_METER_DEEP |
                                 (j->ebur128_peak ? LQ_METER_TP_EBUR128 : 0),
                             MAX_BLOCK, d);
    if (!e) e = lq_staging_plan(&j->staging, j->preset, chain.n == 0, j->input, j->stems,
                                j->stems_pad, job_cancelled, j, d);
    if (!e) e = lq_pipe_open(&src.meter, meter_sink, in_meter, channels, MAX_BLOCK, j->threads, d);
    double *tmp = NULL;
    if (!e && j->staging.applied) {
        src.gain = j->staging.gain;
        tmp = malloc(2 * MAX_BLOCK * sizeof *tmp);
        if (!tmp) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    } else {
        src.gain = 1.0;
    }
    /* a master bus that changes nothing is measured once, as the input */
    if (!e && chain.n) e = lq_meter_new(&master_meter, channels, rate,
                             LQ_METER_FULL | LQ_METER_TP16, MAX_BLOCK, d);
    if (!e) e = lq_spool_create(&j->master, j->out_dir, channels, rate, d);
    if (!e) {
        lq_blocker bl;
        lq_blocker_init(&bl, j->block, MAX_BLOCK);
        progress_ctx pc = {j, "master", lq_mixsrc_frames(src.in)};
        lq_run_ctl ctl = {&bl, &j->cancel, chain_progress, &pc};
        lq_diag sink_diag = {{0}};
        spool_sink sink = {&j->master, master_meter, &sink_diag, LQ_OK,
                           j->staging.applied ? j->staging.undo : 1.0,
                           channels, {tmp, tmp ? tmp + MAX_BLOCK : NULL}, master_ltas};
        lq_pipe *out = NULL;
        e = lq_pipe_open(&out, spool_put, &sink, channels, MAX_BLOCK, j->threads, d);
        long long n = 0;
        if (!e) e = lq_chain_run(&chain, input_read, &src, lq_pipe_put, out, &ctl, &n);
        e = lq_pipe_close(&out, e);
        e = lq_pipe_close(&src.meter, e);
        if (sink.err && d) *d = sink_diag;
        if (e == LQ_ERR_CANCELLED) lq_diag_set(d, e, "cancelled");
        if (!e) e = lq_spool_finish(&j->master, d);
        if (!e) lq_job_progress(j, "master", 1.0);
        j->in_frames = n;
    }
    e = lq_pipe_close(&src.meter, e);
    if (!e) {
        lq_meter_result_get(in_meter, &j->in_meas);
        if (master_meter) lq_meter_result_get(master_meter, &j->master_meas);
        else j->master_meas = j->in_meas;
        if (master_ltas) lq_ltas_get(master_ltas, &j->master_ltas);
        j->master_reports = json_array();
        for (size_t i = 0; i < chain.n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "stage", json_string(chain.vt[i]->name));
            json_object_set_new(o, "latency_frames",
                                json_integer((json_int_t)chain.vt[i]->latency(chain.state[i])));
            if (chain.vt[i]->report) chain.vt[i]->report(chain.state[i], o);
            json_t *c = lq_describe_stage_json(&specs[chain.spec_index[i]]);
            if (c) json_object_set_new(o, "curve", c);
            json_array_append_new(j->master_reports, o);
        }
        j->stems_report = lq_mixsrc_stems_report(src.in);
        const char *w;
        for (size_t k = 0; (w = lq_mixsrc_stem_warning(src.in, k)) &&
                           j->n_mix_warnings < LQ_MAX_WARNINGS; k++)
            snprintf(j->mix_warnings[j->n_mix_warnings++], sizeof j->mix_warnings[0], "%s", w);
        j->n_stem_warnings = j->n_mix_warnings;
    }
    free(tmp);
    lq_chain_destroy(&chain);
    lq_meter_destroy(&in_meter);
    lq_meter_destroy(&master_meter);
    lq_mixsrc_close(&src.in);
early:
    lq_ltas_destroy(&master_ltas);
    if (j->n_refs) lq_stage_spec_free(&specs[0]);
    free(specs);
    return e;
}

