/* The insides of an lq_album (the public album API, album.c): the album's tracks as
 * lq_jobs that share one queue and one publisher, the loudness policy's figures
 * (policy.c), and per target the continuous render's layout and what assembling and
 * splitting it produced (assemble.c).  report/report_album.c reads these results. */
#ifndef LQ_ALBUM_RUN_H
#define LQ_ALBUM_RUN_H

#include <pthread.h>
#include <signal.h>

#include "album/album.h"
#include "engine/job.h"

#define LQ_CD_FRAME 588   /* samples per CD frame (1/75 s at 44.1 kHz; Red Book) */

/* Where each track sits in a target's continuous render (frames at the target rate).
 * For a CD target every index01 is a multiple of 588 and `total` too (the last track
 * padded with silence to a whole frame): this is the CD layout the CUE/TOC writers
 * (cuesheet.c) take. */
typedef struct lq_album_layout {
    size_t n_tracks;
    long long *start;     /* where the track's own signal begins (its fade-in) */
    long long *frames;    /* the track's own length */
    long long *gap;       /* silence before it (frames) */
    long long *xfade;     /* overlap into the next track (frames) */
    long long *index00;   /* start of the gap before it, or -1 (no gap) */
    long long *index01;   /* split point: the track's file begins here */
    long long total;      /* length of the continuous render */
    int cd;               /* frame-aligned (a CD layout) */
    /* per crossfade (track i into track i+1, i < n_tracks - 1; assemble.c): the 16x true
     * peak of the summed overlap before the join limiter, the ceiling it was held to and
     * the limiter's largest gain reduction (0: not needed); NAN where no crossfade */
    double *join_peak_dbtp, *join_ceiling_dbtp, *join_gr_db;
} lq_album_layout;

/* One target across the album. */
typedef struct lq_album_target {
    const lq_target *target;
    lq_album_layout layout;
    double album_gain_db;     /* the loudness policy's gain against the mastered levels */
    double anchor_lufs;       /* the loudest track's or the album's integrated level */
    double aim_lufs;          /* where the anchor lands (the target's or preset's level) */
    int has_aim;
    double album_lufs;        /* album integrated loudness of the written files */
    double spread_lu;         /* loudest minus quietest track, as written */
    long long dither_clipped;
    int dithered;
    json_t *dither_report;    /* the record's dither stage as it ran (type, shaping...), or NULL */
    /* the CD image (cd targets) */
    int is_cd;
    char *image_name, *image_path, *cue_name, *toc_name;
    lq_audio_out image;
    int have_image;
    lq_meter_result image_meas;
    lq_error err;
    lq_diag diag;
} lq_album_target;

struct lq_album {
    lq_album_spec *spec;
    int own_spec;
    char *preset_dir;
    char *out_dir;
    int force, threads;
    int no_html;               /* lq_album_set_html(a, 0): no report.html */
    int ebur128_peak;          /* lq_album_set_ebur128_peak: per track, as lq_job's */
    lq_progress_fn progress;
    void *progress_user;
    pthread_mutex_t lock;
    const volatile sig_atomic_t *user_cancel;
    volatile sig_atomic_t cancel;
    const lq_target **extra_targets;   /* lq_album_add_target (borrowed) */
    lq_stage_spec dither;      /* the record's dither (lq_album_record_dither), before each
                                  target's `dither:` overrides */
    size_t n_extra;

    /* a run's state */
    lq_preset **presets;       /* per track (owned) */
    lq_overrides **track_ov;   /* per track: its `set:` overrides, or NULL */
    lq_target ***track_targets; /* per track with `set:`: its own targets (owned), or NULL */
    lq_target **owned_targets;
    const lq_target **targets; /* the run's targets */
    size_t n_targets;
    lq_job **jobs;             /* per track */
    size_t n_jobs;
    lq_error *job_err;
    lq_diag *job_diag;
    double *progress_frac;     /* per job, for the "master" and "targets" phases */
    lq_spool *spools;          /* [target * n_jobs + track]: limited, undithered */
    lq_album_target *at;
    double *mastered_lufs;     /* per track: the master bus's integrated loudness */
    double *aims;              /* [target * n_jobs + track]: where the file should land
                                  (NAN: no level to land on) */
    int *redo;                 /* [target * n_jobs + track]: finish again (correction) */
    int *parked;               /* per track: an unlinked temporary file holding its master
                                  stages' reports while the other tracks run, or -1 */
    size_t assembled;          /* targets assembled (progress), under lock */
    int ran;
    char errmsg[1024];
};

/* policy.c: every export's aim (ex->aim_set) from the loudness policy; at[k] gets the
 * album gain and anchor. */
lq_error lq_album_apply_policy(lq_album *a, lq_diag *d);
/* assemble.c: the record's dither into a->dither: the album's default preset's
 * finish.dither with the album file's `dither:` on top (never a track's preset's). */
lq_error lq_album_record_dither(lq_album *a, lq_diag *d);
/* assemble.c: the layout of target k's continuous render. */
lq_error lq_album_plan_layout(const lq_album *a, size_t k, lq_album_layout *L);
void lq_album_layout_free(lq_album_layout *L);
/* assemble.c: before finishing, each track's ex->shape for target k (how its file will
 * hold its render: the gaps, fades and split of the layout to come, with each render's
 * length predicted from its master spool), so the closed loop lands the file.  Not for
 * a lossy target (its loop is corrected on the decoded whole track). */
lq_error lq_album_plan_shapes(lq_album *a, size_t k);
/* assemble.c: assemble target k (gaps, fades, crossfades), dither once, split into each
 * track's ex->out and, for a CD target, the image (measured on its samples as written);
 * error in at[k].err. */
void lq_album_assemble_target(lq_album *a, size_t k);
/* assemble.c: after the assembly, track i's file for target k re-read and measured,
 * judged, its BWF figures and tags written; error in the export's err/diag.  Separate
 * tasks, so the album's files are measured side by side. */
void lq_album_measure_file(lq_album *a, size_t k, size_t i);
/* assemble.c: at[k].spread_lu from the measured files. */
void lq_album_target_spread(lq_album *a, size_t k);

int lq_album_cancelled(lq_album *a);
/* Free what a run left (jobs, spools, per-target results) before a new run or on destroy. */
void lq_album_free_run(lq_album *a);

/* report_album.c */
json_t *lq_album_report_build(const lq_album *a);

#endif
