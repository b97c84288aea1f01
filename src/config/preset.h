/* Plain-data presets and targets, as parsed and validated from YAML (preset.c,
 * target.c).  The engine reads these structs directly. */
#ifndef LQ_CONFIG_PRESET_H
#define LQ_CONFIG_PRESET_H

#include "config/node.h"
#include "stage.h"

/* Schema version this build reads (the `lacquer:` line). */
#define LQ_SCHEMA_VERSION 1

/* The level the master-bus stages work at unless a preset says otherwise (master.input_lufs). */
#define LQ_MASTER_INPUT_LUFS (-18.0)

typedef struct lq_stage_spec {
    const lq_stage_vt *vt;   /* NULL: stage absent */
    void *cfg;               /* vt->config_size bytes, parsed */
} lq_stage_spec;

/* A preset's measured character (`character:`, docs/PRESETS.md): what it does to
 * generated mixes of four styles mastered to a -14 LUFS, -1 dBTP export, as measured by
 * tests/test_character.c (which fails when a figure drifts from the file). */
#define LQ_CHAR_STYLES 4     /* dense, sparse, dynamic, bass-heavy */
#define LQ_CHAR_OCTAVES 10   /* octave bands 31.5 Hz .. 16 kHz */
extern const char *const lq_char_style_names[LQ_CHAR_STYLES];
extern const double lq_char_octave_hz[LQ_CHAR_OCTAVES];
typedef struct lq_preset_character {
    int present;
    char *summary;
    double lra_change_lu[LQ_CHAR_STYLES];  /* export LRA - mix LRA */
    double plr_db[LQ_CHAR_STYLES];         /* export true peak - integrated loudness */
    double tone_db[LQ_CHAR_OCTAVES];       /* octave band change, loudness-aligned, mean
                                              over the styles */
} lq_preset_character;

struct lq_preset {
    char *name, *description, *file;
    lq_stage_spec *master;   /* master-bus stages in order */
    size_t n_master;
    int has_input_ref;       /* master.input_lufs given (not null): the bus is gain-staged */
    double input_lufs;       /* reference level the master-bus stages work at (-18 LUFS) */
    lq_stage_spec limiter;   /* finish.limiter; vt NULL when the preset has none */
    lq_stage_spec dither;    /* finish.dither; always present (defaults: tpdf, no shaping) */
    int has_level;           /* finish.loudness_lufs given (not null) */
    double level_lufs;       /* the master's level for targets with loudness_lufs: null */
    lq_preset_character character;
    char **targets;          /* default target names */
    size_t n_targets;
    lq_node *finish_node;    /* the preset's `finish:` map (targets may override on top) */
    /* `reference:` (reference matching, docs/REFERENCE.md): files (paths resolved
     * against the preset's folder) and weights; the match settings */
    char **ref_files;
    double *ref_weights;
    size_t n_refs;
    int has_reference;
    double ref_strength, ref_width_strength, ref_max_boost_db, ref_max_cut_db;
    double ref_boost_lo_hz, ref_boost_hi_hz;
    lq_node *root;
};

typedef enum lq_format {
    LQ_FMT_WAV, LQ_FMT_FLAC, LQ_FMT_AIFF, LQ_FMT_MP3, LQ_FMT_OGG, LQ_FMT_OPUS,
    LQ_FMT_AAC,  /* AAC-LC in an MP4 (.m4a) file, by FFmpeg's native encoder */
    LQ_FMT_COUNT
} lq_format;

/* Names as written in target files, and the file extension for each. */
extern const char *const lq_format_names[LQ_FMT_COUNT + 1];
extern const char *const lq_format_ext[LQ_FMT_COUNT];
int lq_format_is_lossy(lq_format f);

/* Sample-rate converters a target may choose (`resampler:`, engine/resample.c); names
 * as written in target files.  The first is the default (docs/RESAMPLING.md). */
typedef enum lq_resampler {
    LQ_RESAMPLER_SOXR_VHQ, LQ_RESAMPLER_LSR_BEST, LQ_RESAMPLER_COUNT
} lq_resampler;
extern const char *const lq_resampler_names[LQ_RESAMPLER_COUNT + 1];

/* codec_guard_db when a target does not say: the extra headroom that keeps the decoded
 * ceiling of other common encoders (FFmpeg's libmp3lame, libvorbis, libopus, aac) when
 * ours hold it exactly (measured: docs/PRESETS.md, tests/test_codec.c). */
#define LQ_CODEC_GUARD_DB_DEFAULT 0.3

struct lq_target {
    char *name, *description, *file;
    int sample_rate;          /* 0 = source rate */
    int min_sample_rate;      /* with the source rate: a floor resampled up to; 0 = none */
    lq_resampler resampler;
    lq_format format;
    int bit_depth;            /* 16, 24, or 32 meaning 32-bit float ("32f") */
    int has_loudness;         /* 0 when loudness_lufs: null */
    double loudness_lufs;
    double true_peak_dbtp;
    unsigned codec_check;     /* bit (1u << lq_format) per lossy round trip to check */
    int bitrate_kbps;         /* lossy formats; 0 = codec default */
    /* issue 15 (codec checks) */
    double codec_guard_db;    /* extra headroom under the ceiling for other encoders */
    int aac_kbps;             /* bitrate of the AAC round trip (codec_check: aac) */
    char *filename;           /* pattern: {title} {target} {ext} {artist} {album} */
    const lq_node *limiter_node;  /* optional `limiter:` override map (inside root) */
    const lq_node *dither_node;   /* optional `dither:` override map */
    lq_node *root;
};

/* The rate a target delivers a source at `in_rate` in: its sample_rate, else the source
 * rate raised to its min_sample_rate. */
int lq_target_rate(const lq_target *t, int in_rate);

/* Resolve NAME or PATH to a file path: malloc'd, NULL if not found. `subdir` is "" for
 * presets and "targets" for targets. */
char *lq_preset_resolve(const char *name_or_path, const char *preset_dir, const char *subdir);

/* Apply the overrides whose key belongs to `kind` ("preset" or "target") to a tree. */
lq_error lq_overrides_apply(const lq_overrides *ov, lq_node *root, int for_target,
                            lq_diag *d);

/* Parse a stage config from its map node (defaults, then the map). */
lq_error lq_stage_spec_parse(lq_stage_spec *spec, const lq_stage_vt *vt,
                             const lq_node *map, lq_diag *d);
/* Copy spec and parse `over` on top of it (target overrides of finish stages). */
lq_error lq_stage_spec_override(lq_stage_spec *dst, const lq_stage_spec *base,
                                const lq_node *over, lq_diag *d);
void lq_stage_spec_free(lq_stage_spec *spec);
/* Parse a sequence of master-bus stages (`- eq: {...}`), as a preset's `master:` and a
 * stem's `chain:`.  *specs is calloc'd (free each with lq_stage_spec_free, then free()),
 * *n_specs counts the entries parsed so far, even on error. */
lq_error lq_stage_list_parse(const lq_node *seq, lq_stage_spec **specs, size_t *n_specs,
                             lq_diag *d);

/* ---- Loading helpers shared by preset.c and target.c (and the CLI's listings) ---- */

/* The preset directory used when a preset_dir argument is NULL: $LACQUER_PRESET_DIR when
 * set and non-empty, else the install directory.  Never NULL. */
const char *lq_preset_default_dir(void);

/* Sorted names (file names without ".yaml") of the *.yaml files in preset_dir/subdir.
 * *names is malloc'd (free with lq_preset_names_free); *count may be 0. */
lq_error lq_preset_names(const char *preset_dir, const char *subdir, char ***names,
                         size_t *count);
void lq_preset_names_free(char **names, size_t count);

/* Find (as lq_preset_resolve), parse, check that the root is a map with `lacquer: 1`,
 * then graft the overrides for this kind.  *file is the resolved path (malloc'd).
 * Errors: LQ_ERR_PRESET_NOT_FOUND ("NAME: no such preset (shipped presets: a, b)",
 * "PATH: cannot open target file (No such file or directory)"), LQ_ERR_PRESET. */
lq_error lq_config_load_tree(const char *name_or_path, const char *preset_dir, int for_target,
                             const lq_overrides *ov, lq_node **root, char **file,
                             lq_diag *d);

/* Check that a parsed config file's root is a map starting with `lacquer: 1`; `kind`
 * names the file in messages ("preset", "stems", "album"). */
lq_error lq_config_check_root(const lq_node *root, const char *kind, lq_diag *d);

/* Keys that --set may change, NULL-terminated (overrides.c). */
/* The top-level keys of a preset and of a target file (NULL-terminated). */
extern const char *const lq_preset_file_keys[];
extern const char *const lq_target_file_keys[];
extern const char *const lq_preset_override_keys[];
extern const char *const lq_target_override_keys[];

/* A `reference:` map (reference matching, docs/REFERENCE.md), the same shape wherever it
 * is written (a preset, an album file's release or track): files with their weights and
 * the match settings, defaults where a key is absent.  Relative paths are taken from
 * base_file's folder (none when base_file is NULL).  Fills *r (lq_ref_spec_free frees it
 * on success and on error). */
typedef struct lq_ref_spec {
    char **files;
    double *weights;
    size_t n;
    double strength, width_strength, max_boost_db, max_cut_db, boost_lo_hz, boost_hi_hz;
} lq_ref_spec;
lq_error lq_ref_spec_parse(lq_ref_spec *r, const lq_node *n, const char *base_file, lq_diag *d);
void lq_ref_spec_free(lq_ref_spec *r);

#endif
