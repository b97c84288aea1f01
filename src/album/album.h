/* Albums: an album file (album_file.c: strict YAML, docs/ALBUM.md) parsed into plain
 * data, and an album run (album.c) that masters every track as one lq_job through one
 * queue and one publisher, applies the loudness policy, assembles each target's
 * continuous render (gaps, fades, crossfades; dither once over it) and splits it into
 * per-track files, plus the CD image with its CUE sheet and cdrdao TOC (cdimage.c). */
#ifndef LQ_ALBUM_ALBUM_H
#define LQ_ALBUM_ALBUM_H

#include <stddef.h>

#include "config/node.h"
#include "config/preset.h"
#include "core/diag.h"

typedef enum lq_fade_curve { LQ_FADE_LINEAR, LQ_FADE_EQUAL_POWER, LQ_FADE_LOG } lq_fade_curve;
typedef enum lq_album_loudness { LQ_ALBUM_LOUDNESS_ALBUM, LQ_ALBUM_LOUDNESS_TRACK } lq_album_loudness;
typedef enum lq_album_anchor { LQ_ANCHOR_LOUDEST, LQ_ANCHOR_INTEGRATED } lq_album_anchor;

typedef struct lq_album_track {
    char *file;             /* resolved against the album file's folder */
    int stems;              /* 1: `file` is a stems file (the track's `stems:` key) */
    char *title, *artist;   /* artist: NULL = the album's */
    char isrc[13];          /* 12 characters without dashes, "" when absent */
    char *preset;           /* NULL = the album's */
    lq_node *set;           /* `set:` overrides (same keys and validation as --set), or NULL */
    lq_ref_spec *ref;       /* `reference:` (over the release's), or NULL */
    double offset_db;
    double fade_in_ms, fade_out_ms;
    lq_fade_curve fade_curve;
    double gap_s;           /* silence before the track */
    double crossfade_ms;    /* into the next track */
    long long frames;       /* the input's length, read at parse time (Red Book checks) */
    int rate;
    int line, col;          /* where the entry starts, for error lines */
} lq_album_track;

typedef struct lq_album_spec {
    char *file;             /* the album file */
    char *dir;              /* its folder */
    char *title, *artist, *genre, *label, *catalog;
    int year;               /* 0 when absent */
    char upc[14];           /* 12 (UPC-A) or 13 (EAN-13) digits, "" when absent */
    char *preset;           /* default preset name or path */
    char **targets;
    size_t n_targets;
    lq_album_loudness loudness;
    lq_album_anchor anchor;
    lq_node *dither;        /* `dither:` (the record's dither, on top of the default preset's
                               finish.dither), or NULL; points into root */
    lq_ref_spec *ref;       /* the release's `reference:` (every track without its own), or
                               NULL; paths resolved against the album file's folder */
    lq_album_track *tracks;
    size_t n_tracks;
    lq_node *root;
} lq_album_spec;

/* ---- The album file (album_file.c, docs/ALBUM.md) ---------------------------------- */

/* The name of a CD target's image, CUE sheet and TOC (lq_name_expand; {ext}: wav, cue,
 * toc), and the album reports. */
#define LQ_ALBUM_IMAGE_PATTERN "{album} ({target}).{ext}"

/* Red Book (IEC 60908) limits checked by lq_album_check_cd. */
#define LQ_CD_MAX_TRACKS 99
#define LQ_CD_MIN_TRACK_S 4
#define LQ_CD_PREGAP_S 2.0
#define LQ_CD_MAX_SECONDS (79 * 60 + 57)
#define LQ_CD_FRAME_SAMPLES 588   /* one CD frame (sector): 1/75 s at 44.1 kHz */

/* Parse and validate an album file: every key (unknown keys are errors), every track
 * file opened for its length and rate, `set:` keys checked and their values loaded onto
 * the track's preset and targets.  Paths in it are relative to the album file.
 * Shipped presets/targets are looked up in preset_dir (NULL: lq_preset_default_dir()).
 * Errors (d: "FILE:LINE:COL: KEY.PATH: what (expected ...)"): LQ_ERR_PRESET for the
 * file's content, LQ_ERR_PRESET_NOT_FOUND when it cannot be opened, the lq_audio_in
 * code (LQ_ERR_INPUT_*) for a track file that cannot be opened, LQ_ERR_NOMEM. */
lq_error lq_album_spec_load(lq_album_spec **out, const char *path, lq_diag *d);
lq_error lq_album_spec_load_dir(lq_album_spec **out, const char *path, const char *preset_dir,
                                lq_diag *d);
/* The same from a buffer (fuzzing, tests); `name` stands for the file in messages and
 * its folder resolves relative paths. */
lq_error lq_album_spec_parse(lq_album_spec **out, const char *text, const char *name,
                             const char *preset_dir, lq_diag *d);
void lq_album_spec_free(lq_album_spec **s);

/* A track's `set:` map as --set overrides (for lq_preset_load / lq_target_load); *out is
 * an empty set when the track has none.  Free with lq_overrides_destroy. */
lq_error lq_album_track_overrides(const lq_album_track *t, lq_overrides **out, lq_diag *d);

/* 1 when a target makes a CD: named `cd`, or 16-bit 44.1 kHz WAV. */
int lq_album_target_is_cd(const lq_target *t);
/* Red Book limits, for a run with a CD target, before any work: each track at least 4 s
 * (its own length, and that less its crossfades in and out), at most 99 tracks, tracks + gaps - crossfades + the 2 s pre-gap at
 * most 79:57.  Error LQ_ERR_PRESET naming the album file, line and key. */
lq_error lq_album_check_cd(const lq_album_spec *s, lq_diag *d);

/* The tags of track i (0-based) for lq_tags_write (io/tags.h): its title, its artist or
 * the album's, album title and artist, genre, label, year, ISRC, number i+1 of n_tracks.
 * The strings point into s. */
struct lq_tags;
void lq_album_track_tags(const lq_album_spec *s, size_t i, struct lq_tags *out);

/* ISRC (ISO 3901) "CC-XXX-YY-NNNNN" or "CCXXXYYNNNNN" (either case) to 12 upper-case
 * characters; 1 when valid. */
int lq_isrc_normalize(const char *in, char out[13]);
/* GS1 mod-10 check digit of n data digits (UPC-A: 11, EAN-13: 12). */
int lq_gs1_check_digit(const char *digits, size_t n);

/* ---- CD layout, CUE sheet and cdrdao TOC (cuesheet.c) ------------------------------- */

/* Where each track lies in the CD image, in samples (frames) of the image; every value a
 * multiple of LQ_CD_FRAME_SAMPLES.  The image starts with track 1 (the disc's 2 s pre-gap
 * of silence is not in it: CUE players and cdrdao add it). */
typedef struct lq_cd_layout {
    size_t n;                                 /* tracks, 1..99 */
    long long index0[LQ_CD_MAX_TRACKS];       /* start of the gap before the track (INDEX
                                                 00), or -1 when no gap precedes it */
    long long index1[LQ_CD_MAX_TRACKS];       /* start of the track (INDEX 01) */
    long long end;                            /* length of the image */
} lq_cd_layout;

/* Check a layout: n in 1..99 and equal to the album's tracks, every offset a whole frame,
 * index0 < index1 where present, track 1 at 0 (its INDEX 00 if it has a gap, else INDEX
 * 01), each track starting after the previous one and at least 4 s long (to the next
 * track's INDEX 00/01, the last to `end`).  Error LQ_ERR_ARG with the reason. */
lq_error lq_cd_layout_check(const lq_album_spec *s, const lq_cd_layout *l, lq_diag *d);

/* The CUE sheet of the image `image_name` (a file name, no folder): CATALOG (the UPC as
 * 13 digits), REM GENRE/DATE, album PERFORMER/TITLE, FILE "image_name" WAVE, per track
 * TRACK nn AUDIO, TITLE, PERFORMER, ISRC, INDEX 00 where a gap precedes it, INDEX 01 (MSF
 * from the start of the file).  Text has `"` replaced by ' and control characters by
 * spaces (a CUE string has no escapes).  *out is malloc'd. */
lq_error lq_cd_cue_write(const lq_album_spec *s, const lq_cd_layout *l, const char *image_name,
                         char **out, lq_diag *d);
/* The cdrdao TOC file (cdrdao(1), "TOC FILES"): CD_DA, CATALOG, CD-TEXT (language 0 = EN:
 * album TITLE/PERFORMER, per track TITLE/PERFORMER; text as ISO 8859-1 with octal escapes,
 * characters outside it as '?'), per track TRACK AUDIO, ISRC, FILE "image_name" START
 * LENGTH and START for a gap.  *out is malloc'd. */
lq_error lq_cd_toc_write(const lq_album_spec *s, const lq_cd_layout *l, const char *image_name,
                         char **out, lq_diag *d);

#endif
