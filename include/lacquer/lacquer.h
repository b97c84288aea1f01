/* lacquer — offline mastering chain.  Public API.
 *
 * Every function is prefixed lq_, every object is an opaque handle created by a
 * *_new / *_load function and freed by the matching *_destroy(&p), which also sets the
 * caller's pointer to NULL.  Functions that can fail return an lq_error; the library
 * never prints and never exits.  Where a human-readable line is useful (a bad preset,
 * a bad input file) the failing call writes it into a caller-owned buffer or keeps it
 * in the handle (lq_job_error_message).  No function keeps mutable static state: two
 * threads with two handles never interfere.
 */
#ifndef LACQUER_LACQUER_H
#define LACQUER_LACQUER_H

#include <signal.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LQ_WARN_UNUSED __attribute__((warn_unused_result))
#define LQ_API __attribute__((visibility("default")))
#else
#define LQ_WARN_UNUSED
#define LQ_API
#endif

/* One error enum for the whole library; lq_strerror() names each. */
typedef enum lq_error {
    LQ_OK = 0,
    LQ_ERR_NOMEM,             /* out of memory */
    LQ_ERR_ARG,               /* invalid argument to an API function */
    LQ_ERR_INPUT_UNREADABLE,  /* input missing, unreadable, or not an audio file */
    LQ_ERR_INPUT_TRUNCATED,   /* input shorter than its header says */
    LQ_ERR_INPUT_CHANNELS,    /* more than two channels */
    LQ_ERR_INPUT_RATE,        /* sample rate outside 8000..768000 Hz */
    LQ_ERR_INPUT_EMPTY,       /* zero-length input */
    LQ_ERR_INPUT_NONFINITE,   /* NaN or infinite sample */
    LQ_ERR_PRESET,            /* preset or target file invalid (message names file:line:col) */
    LQ_ERR_PRESET_NOT_FOUND,  /* no shipped preset/target by that name and no such file */
    LQ_ERR_OUTPUT,            /* output folder or file cannot be written */
    LQ_ERR_EXISTS,            /* an output exists and overwriting was not allowed */
    LQ_ERR_CANCELLED,         /* the progress callback or cancel flag stopped the job */
    LQ_ERR_DSP,               /* internal DSP failure (FFTW plan, resampler) */
    LQ_ERR_ENCODE,            /* the encoder refused the format, rate or data */
    LQ_ERR_INPUT_MISMATCH,    /* stems differ in sample rate or length */
    LQ_ERR_COUNT
} lq_error;

/* A static, never-NULL description of an error code. */
LQ_API const char *lq_strerror(lq_error err);

/* The library version, "MAJOR.MINOR.PATCH". */
LQ_API const char *lq_version(void);

/* Tags (title, artist, album) must be UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF): the byte offset of the first byte that is not, or -1 when s
 * is well-formed (or NULL).  lq_job_set_metadata refuses such text (LQ_ERR_ARG). */
LQ_API long lq_utf8_invalid_at(const char *s);

/* ---- Presets and targets ------------------------------------------------------ */

typedef struct lq_preset lq_preset;
typedef struct lq_target lq_target;
typedef struct lq_overrides lq_overrides;

/* Command-line overrides ("finish.limiter.release_ms=120", "loudness_lufs=-16").
 * lq_overrides_add() checks the KEY=VALUE shape and that KEY starts with a known preset
 * or target key; the value is validated, like a file's, when a preset or target is
 * loaded with these overrides.  On error, writes one line into err. */
LQ_API LQ_WARN_UNUSED lq_error lq_overrides_new(lq_overrides **out);
LQ_API LQ_WARN_UNUSED lq_error lq_overrides_add(lq_overrides *o, const char *key_equals_value,
                                         char *err, size_t errlen);
LQ_API void lq_overrides_destroy(lq_overrides **o);

/* Load a preset by shipped name (looked up as PRESET_DIR/NAME.yaml) or by path (any
 * argument with a '/' or ending in ".yaml").  overrides may be NULL.  Errors:
 * LQ_ERR_PRESET_NOT_FOUND, LQ_ERR_PRESET (err holds "FILE:LINE:COL: KEY.PATH: what is
 * wrong (expected ...)"), LQ_ERR_NOMEM. */
LQ_API LQ_WARN_UNUSED lq_error lq_preset_load(lq_preset **out, const char *name_or_path,
                                       const char *preset_dir, const lq_overrides *ov,
                                       char *err, size_t errlen);
LQ_API const char *lq_preset_name(const lq_preset *p);
LQ_API const char *lq_preset_description(const lq_preset *p);
/* The preset's default targets (names as written in its `targets:` list). */
LQ_API size_t lq_preset_target_count(const lq_preset *p);
LQ_API const char *lq_preset_target_name(const lq_preset *p, size_t i);
LQ_API void lq_preset_destroy(lq_preset **p);
/* What the preset does, for people: its master-bus stages and the design curve of each
 * EQ at third-octave frequencies (dB per view: stereo, or left/right/mid/side where
 * they differ).  malloc'd text, free() it; NULL when out of memory. */
LQ_API char *lq_preset_describe(const lq_preset *p);

/* Load a target by shipped name (PRESET_DIR/targets/NAME.yaml) or by path. */
LQ_API LQ_WARN_UNUSED lq_error lq_target_load(lq_target **out, const char *name_or_path,
                                       const char *preset_dir, const lq_overrides *ov,
                                       char *err, size_t errlen);
LQ_API const char *lq_target_name(const lq_target *t);
LQ_API const char *lq_target_description(const lq_target *t);
/* Every field of a target as a JSON object, keyed as in the target file (docs/PRESETS.md):
 * name, description, file, sample_rate (Hz or "source"), format, bit_depth (16, 24, "32f";
 * null for lossy formats), bitrate_kbps (lossy only, else null), loudness_lufs (null:
 * none), true_peak_dbtp, codec_check (list of codecs), filename (the pattern),
 * limiter_override and dither_override (whether the target overrides those stages).
 * malloc'd text, free() it; NULL when out of memory. */
LQ_API char *lq_target_json(const lq_target *t);
/* A preset as a JSON object: name, description, file, master (stage names in order),
 * limiter (whether it finishes with one), loudness_lufs (finish.loudness_lufs or null),
 * targets (its default target names).  malloc'd text, free() it; NULL when out of memory. */
LQ_API char *lq_preset_json(const lq_preset *p);
LQ_API void lq_target_destroy(lq_target **t);

/* ---- Mastering jobs ----------------------------------------------------------- */

typedef struct lq_job lq_job;

/* Progress: phase is a short word ("master", "resample", "spotify" ...), fraction 0..1.
 * Return non-zero to cancel the job (lq_job_run then returns LQ_ERR_CANCELLED and
 * removes every temporary file; nothing is left in the output folder). */
typedef int (*lq_progress_fn)(void *user, const char *phase, double fraction);

LQ_API LQ_WARN_UNUSED lq_error lq_job_new(lq_job **out);
/* The job borrows preset and targets: they must outlive lq_job_run(). */
LQ_API LQ_WARN_UNUSED lq_error lq_job_set_input(lq_job *j, const char *path);
/* Master from stems instead of one mix file (docs/STEMS.md): the stems file is loaded
 * and validated now (LQ_ERR_PRESET_NOT_FOUND, LQ_ERR_PRESET with "FILE:LINE:COL: ..."
 * in err); the stems' audio is checked when the job runs (same rate, 1 or 2 channels,
 * lengths within one block of each other unless pad: LQ_ERR_INPUT_MISMATCH).  Replaces
 * lq_job_set_input; the default title is the stems file's `title:` or its name. */
LQ_API LQ_WARN_UNUSED lq_error lq_job_set_stems(lq_job *j, const char *stems_file, int pad,
                                               char *err, size_t errlen);
LQ_API LQ_WARN_UNUSED lq_error lq_job_set_preset(lq_job *j, const lq_preset *p);
LQ_API LQ_WARN_UNUSED lq_error lq_job_add_target(lq_job *j, const lq_target *t);
LQ_API LQ_WARN_UNUSED lq_error lq_job_set_output_dir(lq_job *j, const char *dir);
/* Title/artist/album tags and the {title} of file names; NULL keeps the default
 * (title: the input file name without extension).  Text that is not UTF-8 is refused
 * (LQ_ERR_ARG, nothing changed; lq_job_error_message: "title: invalid UTF-8 at byte
 * offset N (0xXX) (expected UTF-8 text)"); so is a default title from a file name that
 * is not UTF-8, when the job runs. */
LQ_API LQ_WARN_UNUSED lq_error lq_job_set_metadata(lq_job *j, const char *title,
                                            const char *artist, const char *album);
LQ_API void lq_job_set_force(lq_job *j, int force);          /* overwrite existing exports */
LQ_API void lq_job_set_threads(lq_job *j, int threads);      /* <= 0: number of cores */
/* Frames per processing block; 0 = random sizes from a fixed seed (tests use this
 * to prove block-size independence).  Default 4096. */
LQ_API void lq_job_set_block_size(lq_job *j, size_t frames);
LQ_API void lq_job_set_progress(lq_job *j, lq_progress_fn fn, void *user);
/* Polled during the job; when *flag becomes non-zero the job is cancelled. */
LQ_API void lq_job_set_cancel_flag(lq_job *j, const volatile sig_atomic_t *flag);

/* Master the input to every target.  Returns LQ_OK when every export was written and
 * re-measured (whether or not it met its target: see lq_job_targets_met), or the first
 * error; on error nothing is left in the output folder.  The message for the error is
 * lq_job_error_message(). */
LQ_API LQ_WARN_UNUSED lq_error lq_job_run(lq_job *j);
LQ_API const char *lq_job_error_message(const lq_job *j);
/* 1 when every written export met every requirement of its target. */
LQ_API int lq_job_targets_met(const lq_job *j);
/* The report (docs/REPORT.md) as JSON text and as human text; malloc'd, free() it.
 * NULL before a successful run or when out of memory. */
LQ_API char *lq_job_report_json(const lq_job *j);
LQ_API char *lq_job_report_text(const lq_job *j);
/* The self-contained report.html (inline CSS/JS/SVG, no network; plays the mix and the
 * exports through relative paths from the output folder).  lq_job_run writes it beside
 * report.json unless lq_job_set_html(j, 0).  malloc'd, free() it; NULL before a
 * successful run or when out of memory. */
LQ_API char *lq_job_report_html(const lq_job *j);
LQ_API void lq_job_set_html(lq_job *j, int on);
/* Also measure the input with libebur128's own true peak (4x below 96 kHz), a
 * cross-check of lacquer's 16x meter: report.json input.measured.true_peak_ebur128_dbtp,
 * else null.  Off by default: it costs about as much as the rest of the input's meters. */
LQ_API void lq_job_set_ebur128_peak(lq_job *j, int on);
LQ_API void lq_job_destroy(lq_job **j);

/* ---- Reference matching (docs/REFERENCE.md) ------------------------------------ */

/* Match the mix's tone and level to a reference record (call once per reference, at
 * most 16; weight > 0, default 1: the references' curves and levels are averaged in
 * dB with these weights).  The references are analysed when the job runs: a reference
 * that is unreadable, has more than 2 channels, is shorter than 3 s or is silent fails
 * the run (LQ_ERR_INPUT_*, "REF: what is wrong (expected ...)") and nothing is written;
 * any sample rate is fine.  The matched eq becomes the first master-bus stage, and
 * targets without a loudness figure land on the references' loudness.  Errors here:
 * LQ_ERR_ARG (too many, bad weight; err gets one line), LQ_ERR_NOMEM. */
LQ_API LQ_WARN_UNUSED lq_error lq_job_add_reference(lq_job *j, const char *path, double weight,
                                                   char *err, size_t errlen);
/* strength 0..1 scales the correction in dB (default 1); width_strength 0..1 lets the
 * side follow the references' side-to-mid balance per band (default 0: width
 * untouched).  A negative value keeps the setting (the preset's `reference:` one, else
 * the default).  LQ_ERR_ARG above 1. */
LQ_API LQ_WARN_UNUSED lq_error lq_job_set_match(lq_job *j, double strength,
                                               double width_strength);
/* Largest boost and cut per band (dB, 0..24; defaults 6 and 6) and the range where
 * boosts are allowed (defaults 30 Hz .. 18 kHz: no boost outside).  Negative: keep, as
 * above.  LQ_ERR_ARG out of range (a range that ends below its start fails the run). */
LQ_API LQ_WARN_UNUSED lq_error lq_job_set_match_limits(lq_job *j, double max_boost_db,
                                                      double max_cut_db, double boost_lo_hz,
                                                      double boost_hi_hz);
/* After a successful run: the job's whole chain as preset YAML (the matched eq first in
 * master:, finish.loudness_lufs the references' level; the rest of the preset as it
 * was), malloc'd, free() it; NULL when out of memory or nothing ran.  Mastering with it,
 * without the references, gives byte-identical exports. */
LQ_API char *lq_job_preset_yaml(const lq_job *j);
/* Same, written to path (replaced atomically).  LQ_ERR_OUTPUT (err gets one line). */
LQ_API LQ_WARN_UNUSED lq_error lq_job_save_preset(const lq_job *j, const char *path, char *err,
                                                 size_t errlen);

/* ---- Albums ---------------------------------------------------------------------- */

/* An album run (docs/ALBUM.md): every track of an album file mastered as one job, all
 * through one task queue and one publisher; the loudness policy (album or track), one
 * continuous render per target (gaps, fades, crossfades) dithered once and split into
 * per-track files, and for a `cd` target the whole image with its CUE sheet and TOC. */
typedef struct lq_album lq_album;

LQ_API LQ_WARN_UNUSED lq_error lq_album_new(lq_album **out);
/* Parse an album file (strict YAML; err gets "FILE:LINE:COL: key.path: what (expected
 * ...)"); presets and targets named in it are looked up in preset_dir at run time. */
LQ_API LQ_WARN_UNUSED lq_error lq_album_load(lq_album *a, const char *album_file,
                                      const char *preset_dir, char *err, size_t errlen);
LQ_API LQ_WARN_UNUSED lq_error lq_album_set_output_dir(lq_album *a, const char *dir);
/* Targets for this run instead of the album file's (borrowed: must outlive the run). */
LQ_API LQ_WARN_UNUSED lq_error lq_album_add_target(lq_album *a, const lq_target *t);
LQ_API void lq_album_set_threads(lq_album *a, int threads);   /* <= 0: number of cores */
LQ_API void lq_album_set_force(lq_album *a, int force);
/* Phases: "master" (all tracks), "targets", "album" (assembling); fraction 0..1. */
LQ_API void lq_album_set_progress(lq_album *a, lq_progress_fn fn, void *user);
LQ_API void lq_album_set_cancel_flag(lq_album *a, const volatile sig_atomic_t *flag);
/* Master the album.  LQ_OK when every file was written and re-measured (see
 * lq_album_targets_met), else the first error; on error nothing is left in the output
 * folder. */
LQ_API LQ_WARN_UNUSED lq_error lq_album_run(lq_album *a);
LQ_API const char *lq_album_error_message(const lq_album *a);
LQ_API int lq_album_targets_met(const lq_album *a);
/* The album report (docs/REPORT.md, "Album reports"); malloc'd; NULL before a run. */
LQ_API char *lq_album_report_json(const lq_album *a);
LQ_API char *lq_album_report_text(const lq_album *a);
/* The album's self-contained report.html (inline CSS/JS/SVG, no network): the record's
 * figures, a row per track and target, the CD layout, the crossfades, the mix check's
 * findings and each track's plots.  lq_album_run writes it beside report.json unless
 * lq_album_set_html(a, 0) (before the run).  malloc'd; NULL before a run. */
LQ_API char *lq_album_report_html(const lq_album *a);
LQ_API void lq_album_set_html(lq_album *a, int on);
/* Every track's input also measured with libebur128's true peak (lq_job_set_ebur128_peak). */
LQ_API void lq_album_set_ebur128_peak(lq_album *a, int on);
LQ_API void lq_album_destroy(lq_album **a);

/* ---- Analysis ------------------------------------------------------------------ */

typedef struct lq_analysis {
    double sample_rate;
    int channels;
    long long frames;
    double duration_s;
    double integrated_lufs;     /* -HUGE_VAL for silence */
    double lra_lu;
    double max_momentary_lufs;
    double max_short_term_lufs;
    double true_peak_dbtp;      /* libebur128 (4x below 96 kHz, 2x below 192 kHz): only
                                   with LQ_ANALYZE_EBUR128_PEAK, else NaN */
    double true_peak_16x_dbtp;  /* lacquer's own 16x-oversampled meter */
    double sample_peak_dbfs;
    double plr_db;              /* true peak minus integrated loudness */
    double dc_offset_db[2];     /* mean per channel, dBFS */
    double correlation;         /* L/R correlation, 1 for mono */
    long long clipped_runs;     /* runs of >= 3 consecutive samples at |x| >= 0.9999 */
    /* ---- the deeper analysis (docs/REPORT.md "analysis" defines each figure) ---- */
    double low_end_balance_db;  /* L over R energy below 150 Hz, dB (+: leans left) */
    double psr_min_db;          /* smallest short-term PSR: 3 s true peak - short-term LUFS */
    double crest_db;            /* sample peak over RMS */
    double balance_db;          /* L over R energy, dB (+: leans left) */
    double correlation_p5;      /* 5th percentile of the 400 ms L/R correlation */
    double mono_loss_db;        /* energy lost in the (L+R)/2 fold-down; +inf: cancels */
    double low_side_ratio;      /* side share of the energy below 120 Hz, 0..1 */
    double low_correlation;     /* L/R correlation below 120 Hz */
    int file_bits;              /* word length of the file: 8..32 PCM, 0 float/lossy */
    int effective_bits;         /* bits actually used (16 for 16-bit audio padded to 24);
                                   32 when off any 31-bit grid, 0 for digital silence */
    double head_silence_ms;     /* before the first sample above -60 dBFS */
    double tail_silence_ms;     /* after the last sample above -60 dBFS */
    long long intersample_overs;/* sample intervals reconstructed above 0 dBFS (16x) */
#define LQ_THIRD_OCTAVES 31
    double third_octave_db[LQ_THIRD_OCTAVES]; /* long-term average, dBFS RMS per band,
                                                 centres 1000*10^((i-17)/10) Hz */
    double spectral_tilt_db_oct;/* slope of the bands 50 Hz..16 kHz (pink 0, white +3) */
    double sub_bass_db;         /* 20-50 Hz bands against 100-400 Hz (pink 0) */
    double harshness_db;        /* 2-8 kHz bands against 200-800 Hz (pink 0) */
} lq_analysis;

/* Centre frequency (Hz) of third-octave band i (0..LQ_THIRD_OCTAVES-1): 20 Hz..20 kHz. */
LQ_API double lq_third_octave_center_hz(int i);

/* Decode and measure a file.  Errors as for an input file of a job; err gets one line. */
LQ_API LQ_WARN_UNUSED lq_error lq_analyze_file(const char *path, lq_analysis *out,
                                        char *err, size_t errlen);

/* Options of lq_analyze_file_ex (bits). */
enum {
    /* also libebur128's own true peak (true_peak_dbtp), a cross-check of the 16x meter
     * (true_peak_16x_dbtp) that about doubles the time of an analysis */
    LQ_ANALYZE_EBUR128_PEAK = 1
};

/* lq_analyze_file with options (LQ_ANALYZE_*; 0 is lq_analyze_file). */
LQ_API LQ_WARN_UNUSED lq_error lq_analyze_file_ex(const char *path, unsigned options,
                                           lq_analysis *out, char *err, size_t errlen);

/* ---- Mix check: is this mix ready for mastering? (docs/CHECK.md) ------------------ */

typedef struct lq_check_rules lq_check_rules;

/* Thresholds of the check from a rules file (presets/rules/check.yaml is the shipped
 * one and documents every key); path NULL gives the built-in defaults, which are the
 * shipped file's values.  Errors: LQ_ERR_PRESET_NOT_FOUND (cannot open), LQ_ERR_PRESET
 * (err: "FILE:LINE:COL: key.path: what is wrong (expected ...)"), LQ_ERR_NOMEM. */
LQ_API LQ_WARN_UNUSED lq_error lq_check_rules_load(lq_check_rules **out, const char *path,
                                            char *err, size_t errlen);
LQ_API void lq_check_rules_destroy(lq_check_rules **r);

#define LQ_CHECK_MAX_FINDINGS 16

/* One problem of the mix, in plain words. */
typedef struct lq_finding {
    char id[24];          /* the rule: clipping, headroom, over_compressed, dc_offset,
                             low_end_phase, mono, balance, sub_bass, harsh, bit_depth,
                             silence, loudness */
    double measured;      /* the figure that raised it, in `unit` */
    double threshold;     /* the rule's limit, in `unit` */
    char unit[16];
    char message[320];    /* what was measured, with the figure */
    char why[320];        /* why it matters for mastering */
    char fix[320];        /* what to do in the mix */
} lq_finding;

/* Judge an analysed mix (lq_analyze_file) against rules (NULL: the defaults).  Writes
 * up to max findings into out (may be NULL when max is 0) and returns how many there
 * are; 0 means "ready for mastering". */
LQ_API size_t lq_check_analysis(const lq_analysis *a, const lq_check_rules *rules,
                                lq_finding *out, size_t max);

/* The check's findings on the mix a job mastered (after lq_job_run), up to max;
 * returns how many.  A job uses the default rules unless lq_job_set_check_rules() gave
 * others (borrowed: they must outlive lq_job_run). */
LQ_API size_t lq_job_findings(const lq_job *j, lq_finding *out, size_t max);
LQ_API void lq_job_set_check_rules(lq_job *j, const lq_check_rules *rules);


/* ---- Batches: catalogue runs (docs/BATCH.md) ------------------------------------ */

typedef struct lq_batch lq_batch;

/* Read a batch manifest (YAML; CSV with the same columns when the name ends in ".csv"),
 * expand its globs, load and validate every preset and target it names, and check that
 * no two jobs write the same output folder; an input that is an album file is an album
 * job, mastered through lq_album_run (docs/BATCH.md).  Jobs with the same input, preset and `set:`
 * are one job with all of their targets (one master-bus render, one resampled spool
 * per rate).  out_root: where relative `out:` folders and batch.json go (NULL: the
 * manifest's folder).  Nothing is written.  Errors (err gets one line, e.g.
 * "cat.yaml:4:12: jobs[1].input: \"mixes/x?.wav\" matches no file (expected ...)"):
 * LQ_ERR_PRESET (the manifest, or a preset/target it names, is invalid; an input is
 * missing), LQ_ERR_PRESET_NOT_FOUND (manifest, preset or target not found),
 * LQ_ERR_NOMEM. */
LQ_API LQ_WARN_UNUSED lq_error lq_batch_load(lq_batch **out, const char *manifest,
                                      const char *preset_dir, const char *out_root,
                                      char *err, size_t errlen);
/* Jobs in the whole plan, in manifest order (globs sorted). */
LQ_API size_t lq_batch_job_count(const lq_batch *b);
/* Job i's id: 12 hex digits of a SHA-256 of what the job is (input, preset, overrides,
 * targets, tags, output folder), stable when jobs are added or moved. */
LQ_API const char *lq_batch_job_id(const lq_batch *b, size_t i);
/* Job i as one line of JSON (id, index, input, preset, targets, set, tags, out,
 * input_group); malloc'd, free() it. */
LQ_API char *lq_batch_job_json(const lq_batch *b, size_t i);
/* Run only slice I of N ("I/N", 0 <= I < N): the inputs dealt by cost (bytes read x
 * targets, costliest first to the least-loaded slice; equal costs round robin in plan
 * order), so that one input's jobs stay together and the slices end together.
 * LQ_ERR_ARG (a bad spec) or LQ_ERR_NOMEM, with a line in err. */
LQ_API LQ_WARN_UNUSED lq_error lq_batch_set_shard(lq_batch *b, const char *spec, char *err,
                                           size_t errlen);
LQ_API int lq_batch_job_in_shard(const lq_batch *b, size_t i);
/* jobs: how many jobs run at once (<= 0: lq_batch_default_jobs); threads_per_job: the
 * lq_job threads of each (default 1).  Exports do not depend on either. */
LQ_API void lq_batch_set_parallel(lq_batch *b, int jobs, int threads_per_job);
/* The cores this process may use divided by the threads per job, at least 1. */
LQ_API int lq_batch_default_jobs(const lq_batch *b);
/* Redo every job, even those that are up to date. */
LQ_API void lq_batch_set_force(lq_batch *b, int force);
/* Decide what is up to date and what would run; write nothing. */
LQ_API void lq_batch_set_dry_run(lq_batch *b, int dry);
/* Called (serialised) as each job ends: status is "done", "not-met", "failed",
 * "up-to-date", "up-to-date-not-met", "would-run" or "cancelled"; line is the job's
 * error line (or ""). */
typedef void (*lq_batch_event_fn)(void *user, size_t index, const char *id,
                                  const char *status, const char *line);
LQ_API void lq_batch_set_events(lq_batch *b, lq_batch_event_fn fn, void *user);
LQ_API void lq_batch_set_cancel_flag(lq_batch *b, const volatile sig_atomic_t *flag);

/* Run the plan (or the shard): each job whose outputs are present, complete and carry
 * the fingerprint of its input bytes, preset, targets, tags and lacquer version is kept;
 * the others run in a hidden staging folder and are published by rename.  A failing
 * job fails alone.  Writes batch.json and batch.txt (a shard: batch-shard-I-of-N.json
 * and .txt) into the output root.  Returns LQ_OK when the batch ran, whatever its jobs
 * did (see lq_batch_get_counts); LQ_ERR_CANCELLED when the cancel flag stopped it (no
 * batch.json); LQ_ERR_OUTPUT when the output root cannot be written. */
LQ_API LQ_WARN_UNUSED lq_error lq_batch_run(lq_batch *b);
LQ_API const char *lq_batch_error_message(const lq_batch *b);

typedef struct lq_batch_counts {
    size_t planned;      /* jobs in the plan */
    size_t in_shard;     /* jobs of this shard (the plan when not sharded) */
    size_t done;         /* every export met its target (run now or up to date) */
    size_t not_met;      /* written, at least one target missed */
    size_t failed;       /* failed (or, after a merge, missing from every shard) */
    size_t cancelled;
    size_t would_run;    /* dry run */
    size_t ran;          /* run now */
    size_t up_to_date;   /* kept */
} lq_batch_counts;
LQ_API void lq_batch_get_counts(const lq_batch *b, lq_batch_counts *c);
/* The batch report (batch.json / batch.txt text) after lq_batch_run; malloc'd. */
LQ_API char *lq_batch_report_json(const lq_batch *b);
LQ_API char *lq_batch_report_text(const lq_batch *b);
/* Where lq_batch_run wrote its JSON report, or NULL. */
LQ_API const char *lq_batch_report_path(const lq_batch *b);
LQ_API void lq_batch_destroy(lq_batch **b);

/* Gather the batch-shard-I-of-N.json reports found in dirs into one batch.json and
 * batch.txt in out_dir (NULL: dirs[0]); jobs no shard reported are listed as
 * "missing".  Errors: LQ_ERR_INPUT_UNREADABLE (no report, a report that is not one, or
 * shards of different plans), LQ_ERR_OUTPUT, LQ_ERR_NOMEM; err gets one line. */
LQ_API LQ_WARN_UNUSED lq_error lq_batch_merge(const char *const *dirs, size_t n_dirs,
                                       const char *out_dir, lq_batch_counts *counts,
                                       char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
