/* lq_tags_write: the tag fields as TagLib property names (its unified interface maps
 * them onto Vorbis comments, ID3v2 frames and RIFF INFO), handed to the C++ shim. */
#include <stdio.h>
#include <string.h>

#include "io/tags.h"

static void add(const char **keys, const char **values, size_t *n, const char *k,
                const char *v)
{
    if (!v || !v[0]) return;
    keys[*n] = k;
    values[(*n)++] = v;
}

lq_error lq_tags_write(const char *path, lq_format fmt, const lq_tags *t, lq_diag *d)
{
    if (!path || !t) return lq_diag_set(d, LQ_ERR_ARG, "no file or tags given");
    int kind;
    switch (fmt) {
    case LQ_FMT_FLAC: kind = LQ_TAGLIB_FLAC; break;
    case LQ_FMT_MP3: kind = LQ_TAGLIB_MP3; break;
    case LQ_FMT_OGG: kind = LQ_TAGLIB_VORBIS; break;
    case LQ_FMT_OPUS: kind = LQ_TAGLIB_OPUS; break;
    case LQ_FMT_WAV: kind = LQ_TAGLIB_WAV; break;
    case LQ_FMT_AIFF: kind = LQ_TAGLIB_AIFF; break;
    default: return lq_diag_set(d, LQ_ERR_ARG, "%s: format %d has no tags", path, (int)fmt);
    }
    const char *keys[12], *values[12];
    char track[32] = "", total[16] = "", year[16] = "";
    size_t n = 0;
    add(keys, values, &n, "TITLE", t->title);
    add(keys, values, &n, "ARTIST", t->artist);
    add(keys, values, &n, "ALBUM", t->album);
    add(keys, values, &n, "ALBUMARTIST", t->album_artist);
    add(keys, values, &n, "GENRE", t->genre);
    add(keys, values, &n, "LABEL", t->label);
    add(keys, values, &n, "ISRC", t->isrc);
    if (t->year > 0) snprintf(year, sizeof year, "%d", t->year);
    add(keys, values, &n, "DATE", year);
    /* ID3v2 keeps the total in TRCK ("3/12"); Vorbis comments have TRACKTOTAL. */
    int vorbis = kind == LQ_TAGLIB_FLAC || kind == LQ_TAGLIB_VORBIS || kind == LQ_TAGLIB_OPUS;
    if (t->track > 0) {
        if (t->track_total > 0 && !vorbis)
            snprintf(track, sizeof track, "%d/%d", t->track, t->track_total);
        else
            snprintf(track, sizeof track, "%d", t->track);
    }
    add(keys, values, &n, "TRACKNUMBER", track);
    if (t->track_total > 0 && vorbis) snprintf(total, sizeof total, "%d", t->track_total);
    add(keys, values, &n, "TRACKTOTAL", total);
    char err[256] = "";
    int r = lq_taglib_write(path, kind, keys, values, n, err, sizeof err);
    if (r != 0)
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot write tags (%s)", path, err);
    return LQ_OK;
}
