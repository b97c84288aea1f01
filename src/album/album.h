/* Albums: an album file (album_file.c: strict YAML, docs/ALBUM.md) parsed into plain
 * data, and an album run (album.c) that masters every track as one lq_job through one
 * queue and one publisher, applies the loudness policy, assembles each target's
 * continuous render (gaps, fades, crossfades; dither once over it) and splits it into
 * per-track files, plus the CD image with its CUE sheet and cdrdao TOC (cdimage.c). */
#ifndef LQ_ALBUM_ALBUM_H
#define LQ_ALBUM_ALBUM_H

#include <stddef.h>

#include "config/node.h"
#include "core/diag.h"

typedef enum lq_fade_curve { LQ_FADE_LINEAR, LQ_FADE_EQUAL_POWER, LQ_FADE_LOG } lq_fade_curve;
typedef enum lq_album_loudness { LQ_ALBUM_LOUDNESS_ALBUM, LQ_ALBUM_LOUDNESS_TRACK } lq_album_loudness;
typedef enum lq_album_anchor { LQ_ANCHOR_LOUDEST, LQ_ANCHOR_INTEGRATED } lq_album_anchor;

typedef struct lq_album_track {
    char *file;             /* resolved against the album file's folder */
    char *title, *artist;   /* artist: NULL = the album's */
    char isrc[13];          /* 12 characters without dashes, "" when absent */
    char *preset;           /* NULL = the album's */
    lq_node *set;           /* `set:` overrides (same keys and validation as --set), or NULL */
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
    lq_album_track *tracks;
    size_t n_tracks;
    lq_node *root;
} lq_album_spec;

#endif
