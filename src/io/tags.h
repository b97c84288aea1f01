/* Tags of a finished export (title, artist, album, album artist, track n/total, year,
 * genre, label, ISRC), written with TagLib into the closed, still hidden file before it
 * is published (tags.c, through the C++ shim tags_taglib.cpp). */
#ifndef LQ_IO_TAGS_H
#define LQ_IO_TAGS_H

#include <stddef.h>

#include "config/preset.h"
#include "core/diag.h"

/* Every field optional: NULL / 0 = not written.  Text is UTF-8. */
typedef struct lq_tags {
    const char *title, *artist, *album, *album_artist, *genre, *label;
    const char *isrc;       /* 12 characters (lq_isrc_normalize) */
    int year;
    int track, track_total; /* track number 1..; total 0 = unknown */
} lq_tags;

/* Write t into the file at path (a hidden export: /proc/self/fd/N of an O_TMPFILE works,
 * as does a named temporary).  Where each field goes:
 *   FLAC, Ogg Vorbis, Opus: Vorbis comments TITLE ARTIST ALBUM ALBUMARTIST TRACKNUMBER
 *     TRACKTOTAL DATE GENRE LABEL ISRC;
 *   MP3: ID3v2.4 TIT2 TPE1 TALB TPE2 TRCK ("n/total") TDRC TCON TPUB TSRC;
 *   WAV: the same ID3v2.4 frames in an "id3 " chunk, plus RIFF INFO (INAM IART IPRD
 *     ICRD IGNR ITRK);
 *   AIFF: ID3v2.4 in an "ID3 " chunk.
 * Errors: LQ_ERR_ARG (no path, tags, or a format without tags), LQ_ERR_OUTPUT ("PATH:
 * cannot write tags (why)"). */
lq_error lq_tags_write(const char *path, lq_format fmt, const lq_tags *t, lq_diag *d);

/* ---- the shim's interface (tags_taglib.cpp), not for other callers ---- */
enum { LQ_TAGLIB_FLAC, LQ_TAGLIB_MP3, LQ_TAGLIB_VORBIS, LQ_TAGLIB_OPUS, LQ_TAGLIB_WAV,
       LQ_TAGLIB_AIFF };
#ifdef __cplusplus
extern "C" {
#endif
/* Set n properties (TagLib's unified names) on the file, keeping its other tags.
 * 0 on success, 1 if the format refused some (err names one), -1 on failure (err). */
int lq_taglib_write(const char *path, int kind, const char *const *keys,
                    const char *const *values, size_t n, char *err, size_t errlen);
#ifdef __cplusplus
}
#endif

#endif
