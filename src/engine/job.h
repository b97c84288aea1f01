/* The insides of an lq_job: settings, the figures measured on the way, and one result
 * per export.  job.c orchestrates (input -> master bus -> resampling -> targets ->
 * publish -> reports), finish.c runs one target's finishing chain and closed loop. */
#ifndef LQ_ENGINE_JOB_H
#define LQ_ENGINE_JOB_H

#include <jansson.h>
#include <pthread.h>
#include <signal.h>

#include "config/preset.h"
#include "config/stems.h"
#include "engine/publish.h"
#include "engine/queue.h"
#include "engine/ltas.h"
#include "engine/meter.h"
#include "engine/staging.h"
#include "io/audio_out.h"
#include "io/spool.h"

#define LQ_MAX_PASSES 10
#define LQ_MAX_WARNINGS 12
#define LQ_MAX_CODEC_CHECKS 4

typedef struct lq_pass {
    double gain_db;         /* gain into the limiter */
    double ceiling_dbtp;    /* limiter ceiling used */
    double lufs;            /* integrated loudness measured */
} lq_pass;

typedef struct lq_codec_check {
    lq_format format;
    int rate;               /* the rate encoded at (resampled when the codec needs it) */
    double true_peak_dbtp;  /* 16x, on the decoded round trip */
    int ok;
} lq_codec_check;

/* How an album's track file will hold a finished render (album/assemble.c sets it): the
 * closed loop meters the render shaped so, and the file lands on its aim in one go.
 * Render frames [skip, skip + keep) go into the file, with `lead` frames of silence
 * before them and `tail` after; inside the fades (fade_in frames from the render's
 * start, fade_out frames up to its end, `frames` long) `gain` gives the envelope. */
typedef struct lq_meter_shape {
    long long lead, skip, keep, tail;
    long long frames, fade_in, fade_out;
    int curve_in, curve_out;
    double (*gain)(const struct lq_meter_shape *s, long long t);
} lq_meter_shape;

typedef struct lq_export {
    const lq_target *target;
    char *path;             /* final path */
    char *file_name;
    int rate, bits;         /* bits: 16, 24, 32 (float), 0 (lossy) */
    size_t group;           /* index of its rate group in the job */
    int dithered;
    int has_aim;            /* a loudness to land on: the target's or the preset's level */
    int aim_from_preset;    /* the target has none; finish.loudness_lufs of the preset */
    int aim_from_reference; /* the target has none; the references' loudness (matching) */
    double aim_lufs;
    double gain_db;
    double ceiling_dbtp;    /* the limiter's internal ceiling (after margins) */
    double shortfall_lu;    /* loudness not reached: the ceiling stopped the gain (no limiter), or the
                               limiter could not go louder under it (finish.c, FLAT_SLOPE) */
    double codec_margin_db; /* how far the ceiling was lowered for lossy round trips */
    int n_passes;
    lq_pass passes[LQ_MAX_PASSES];
    lq_meter_result meas;   /* measured on the written (and decoded) file */
    long long clipped;      /* quantizer clips */
    int n_codec;
    lq_codec_check codec[LQ_MAX_CODEC_CHECKS];
    int loudness_ok, peak_ok, format_ok, clip_ok, codec_ok, met;
    json_t *limiter_report; /* or NULL */
    json_t *dither_report;  /* or NULL */
    double max_gr_db;
    int n_warnings;
    char warnings[LQ_MAX_WARNINGS][320];
    /* where the time went (seconds, wall): gain solving passes, the codec margin search
     * on excerpts, the export render + encode, verification + whole-file codec checks */
    double time_solve_s, time_search_s, time_render_s, time_verify_s;
    int n_verify;           /* whole-file verifications run (1: the first one held) */
    int n_search_rt[LQ_FMT_COUNT]; /* excerpt round trips per codec in the margin search */
    /* the passages the (last) margin search encoded: how many (0: the whole song), their
     * seconds, in how many pieces side by side; n_search_pieces 0: no search */
    int n_search_passages, n_search_pieces;
    double search_seconds;
    lq_audio_out out;       /* the hidden file until published */
    int have_out;
    lq_error err;
    lq_diag diag;
    /* an album run's hooks (album/album.c) */
    int aim_set;            /* aim_lufs/has_aim were set by the album's loudness policy */
    lq_spool *spool_out;    /* or NULL; when set, the final render's limited signal goes
                               here too, undithered (the album dithers its continuous
                               render once); the encoded file is only a check.  A PCM
                               export with no codec checks keeps the closed loop's best
                               pass as that render (no pass is run twice) */
    lq_meter_shape shape;   /* with has_shape: the loudness passes meter the render as
                               the album's file will hold it */
    int has_shape;
    const lq_stage_spec *album_dither; /* or NULL; the record's dither (the album's, not the
                               track preset's): the limiter leaves room for its peaks */
} lq_export;

typedef struct lq_rate_group {
    double rate;
    lq_resampler resampler; /* the converter that made the spool (when own) */
    lq_spool spool;         /* at this rate (the master spool itself for the source rate) */
    int own;                /* spool created for this group (else borrowed) */
    lq_meter_result meas;   /* integrated loudness and 16x true peak of the spool */
    double time_s;          /* wall seconds resampling (0 for the source rate) */
    size_t task;            /* its resampling task in the run's queue (LQ_TASK_NONE) */
    lq_error err;
    lq_diag diag;
} lq_rate_group;

struct lq_job {
    char *input;
    lq_stems_spec *stems;    /* or NULL: master from stems (config/stems.h) */
    int stems_pad;
    json_t *stems_report;    /* per stem, after the master render */
    const lq_preset *preset;
    const lq_target **targets;
    size_t n_targets;
    char *out_dir;
    char *title, *artist, *album;
    char *title_owned;       /* == title when the run made it from the input's name */
    int track, track_total;  /* {track} and {tracks} of file names (0: none) */
    int track_prefix;        /* an album's track: "{track:02} " before a pattern without it */
    int force, threads;
    size_t block;
    lq_progress_fn progress;
    void *progress_user;
    pthread_mutex_t progress_lock;
    size_t targets_done;     /* under progress_lock */
    const volatile sig_atomic_t *user_cancel;
    volatile sig_atomic_t cancel;

    /* what the run found */
    int ran;
    char errmsg[1024];
    int in_channels, in_rate, in_bits;
    long long in_frames;
    char in_format[64];
    uint64_t in_hash;
    int master_identity;     /* no master-bus stage changed the signal */
    lq_staging staging;      /* input gain staging of the master bus (staging.h) */
    lq_meter_result in_meas; /* the input mix, with health figures */
    lq_meter_result master_meas;
    int n_mix_warnings;
    int n_stem_warnings;     /* the first ones: stems that clip (master.c), kept by the check */
    char mix_warnings[LQ_MAX_WARNINGS][640];
    /* the mix check (engine/mixcheck.c) */
    const lq_check_rules *rules;   /* NULL: the defaults */
    int no_html;                   /* lq_job_set_html(j, 0): no report.html */
    int ebur128_peak;              /* lq_job_set_ebur128_peak: libebur128's input true peak */
    lq_analysis in_analysis;       /* the input mix, deep figures included */
    size_t n_findings;
    lq_finding findings[LQ_CHECK_MAX_FINDINGS];
    lq_spool master;
    lq_rate_group *groups;
    size_t n_groups;
    lq_export *exports;
    json_t *master_reports; /* per master stage */
    double time_master_s;   /* wall seconds: decode + master bus + its meters */

    /* reference matching (engine/ltas.c, docs/REFERENCE.md) */
    char *ref_path[LQ_MATCH_MAX_REFS];
    double ref_weight[LQ_MATCH_MAX_REFS];
    size_t n_refs;
    lq_match_opts match;
    double match_req[6];        /* set by the API (NAN: not set): strength, width, boost,
                                   cut, boost_lo, boost_hi; over the preset's reference: */
    int refs_from_preset;       /* ref_path[] copied from the preset's reference: files */
    int has_ref_level;          /* set by the render: targets without a figure aim here */
    double ref_level_lufs;
    lq_ltas_result *ref_ltas;   /* n_refs, after the render */
    lq_ltas_result mix_ltas, master_ltas;
    lq_match_curve curve;
    char *match_yaml;           /* the matched EQ as a master-bus list item */
};

/* ---- one job's phases (job.c; lq_job_run strings them together; an album or a
 * batch runs many jobs' phases through one queue and one publisher) ---- */

/* Reset the results, default the title, claim every export's name with pub. */
lq_error lq_job_begin(lq_job *j, lq_publisher *pub, lq_diag *d);
/* Decode, measure and master the input into j->master (master.c). */
lq_error lq_job_render_master(lq_job *j, lq_diag *d);
/* The mix check (mixcheck.c, the rules of engine/check.c) on the input's figures:
 * j->in_analysis, j->findings and one mix warning per finding. */
void lq_job_check_mix(lq_job *j);
/* Plan one rate group per output rate and queue their resamplings. */
lq_error lq_job_add_rate_tasks(lq_job *j, lq_tasks *t, lq_diag *d);
/* Queue every target's finishing chain (each waits for its rate's resampling). */
lq_error lq_job_add_target_tasks(lq_job *j, lq_tasks *t, lq_diag *d);
/* After the queue ran: the first error of a resampling or a target, or cancellation. */
lq_error lq_job_collect(lq_job *j, lq_diag *d);
/* Publish every export under its claimed name. */
lq_error lq_job_publish_exports(lq_job *j, lq_publisher *pub, lq_diag *d);
/* Release the spools; after an error, discard hidden files and the results. */
void lq_job_end(lq_job *j, lq_error e);

int lq_job_cancelled(lq_job *j);
void lq_job_progress(lq_job *j, const char *phase, double frac);

/* Master one target from its rate group's spool into ex (hidden file, verified). */
void lq_finish_target(lq_job *j, lq_export *ex, const lq_rate_group *g);

/* A monotonic clock in seconds (phase timings in the report). */
double lq_now_s(void);

/* Add a warning line to an export. */
void lq_export_warn(lq_export *ex, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
