/* The CD image's CUE sheet and cdrdao TOC file, written as the tools that read them do:
 * cuetools (cueprint, cuebreakpoints) and shntool (shnsplit) for the CUE sheet, cdrdao
 * (show-toc, write) for the TOC with CD-TEXT.  Positions are MSF (minutes, seconds,
 * frames of 1/75 s = 588 samples at 44.1 kHz), counted from the start of the image file;
 * the disc's 2 s pre-gap of track 1 is not in the image (a CUE sheet of a WAV image
 * starts track 1 at 00:00:00; cdrdao adds the pre-gap itself). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "album/album.h"

#define FRAME LQ_CD_FRAME_SAMPLES

static void msf(char buf[64], long long samples)
{
    long long f = samples / FRAME;
    snprintf(buf, 64, "%02lld:%02lld:%02lld", f / (75 * 60), (f / 75) % 60, f % 75);
}

/* Where track i's region starts in the image: its gap, else its INDEX 01. */
static long long region_start(const lq_cd_layout *l, size_t i)
{
    return l->index0[i] >= 0 ? l->index0[i] : l->index1[i];
}

static long long region_end(const lq_cd_layout *l, size_t i)
{
    return i + 1 < l->n ? region_start(l, i + 1) : l->end;
}

lq_error lq_cd_layout_check(const lq_album_spec *s, const lq_cd_layout *l, lq_diag *d)
{
    if (!s || !l) return lq_diag_set(d, LQ_ERR_ARG, "no album or CD layout given");
    if (l->n < 1 || l->n > LQ_CD_MAX_TRACKS || l->n != s->n_tracks)
        return lq_diag_set(d, LQ_ERR_ARG, "CD layout of %zu tracks for an album of %zu "
                           "(expected 1 to %d, one per track)", l->n, s->n_tracks,
                           LQ_CD_MAX_TRACKS);
    if (l->end % FRAME)
        return lq_diag_set(d, LQ_ERR_ARG, "CD image of %lld samples (expected whole frames "
                           "of %d samples)", l->end, FRAME);
    if (region_start(l, 0) != 0)
        return lq_diag_set(d, LQ_ERR_ARG, "track 1 starts at sample %lld (expected 0, the "
                           "start of the image)", region_start(l, 0));
    for (size_t i = 0; i < l->n; i++) {
        long long a = l->index0[i], b = l->index1[i];
        if ((a >= 0 && a % FRAME) || b % FRAME || b < 0)
            return lq_diag_set(d, LQ_ERR_ARG, "track %zu: index at sample %lld (expected "
                               "whole frames of %d samples)", i + 1, a >= 0 && a % FRAME ? a
                               : b, FRAME);
        if (a >= 0 && a >= b)
            return lq_diag_set(d, LQ_ERR_ARG, "track %zu: INDEX 00 at %lld is not before "
                               "INDEX 01 at %lld", i + 1, a, b);
        if (i > 0 && region_start(l, i) < l->index1[i - 1])
            return lq_diag_set(d, LQ_ERR_ARG, "track %zu starts at %lld, before track %zu "
                               "(expected the tracks in order)", i + 1, region_start(l, i),
                               i);
        if (region_end(l, i) - b < (long long)LQ_CD_MIN_TRACK_S * 44100)
            return lq_diag_set(d, LQ_ERR_ARG, "track %zu: %lld samples from INDEX 01 to the "
                               "next track (expected at least %d s)", i + 1,
                               region_end(l, i) - b, LQ_CD_MIN_TRACK_S);
    }
    return LQ_OK;
}

/* A CUE string: no escapes exist, so `"` becomes ' and control characters spaces. */
static void cue_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p == '"' ? '\'' : (*p < 0x20 || *p == 0x7f) ? ' ' : *p, f);
    fputc('"', f);
}

/* A cdrdao string: ISO 8859-1 (the CD-TEXT character set for language EN), printable
 * ASCII as is, `"` and `\` escaped, other Latin-1 characters as octal escapes (cdrdao's
 * lexer reads \ooo), the rest of Unicode and control characters as '?'/' '. */
static void toc_str(FILE *f, const char *s)
{
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp = *p;
        size_t len = 1;
        if (cp >= 0xC0 && cp < 0xE0 && (p[1] & 0xC0) == 0x80) {
            cp = ((cp & 0x1Fu) << 6) | (p[1] & 0x3Fu);
            len = 2;
        } else if (cp >= 0x80) {
            len = cp >= 0xF0 ? 4 : cp >= 0xE0 ? 3 : 1;
            for (size_t k = 1; k < len; k++)
                if ((p[k] & 0xC0) != 0x80) len = k;
            cp = '?';
        }
        if (cp == '"' || cp == '\\')
            fprintf(f, "\\%c", (int)cp);
        else if (cp < 0x20 || cp == 0x7f)
            fputc(' ', f);
        else if (cp < 0x7f)
            fputc((int)cp, f);
        else if (cp >= 0xA0 && cp <= 0xFF)
            fprintf(f, "\\%03o", cp);
        else
            fputc('?', f);
        p += len;
    }
    fputc('"', f);
}

static void catalog13(char out[14], const char *upc)
{
    if (strlen(upc) == 12)
        snprintf(out, 14, "0%s", upc);
    else
        snprintf(out, 14, "%s", upc);
}

static lq_error finish(FILE *f, char **buf, char **out, lq_diag *d)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(*buf);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    *out = *buf;
    return LQ_OK;
}

static const char *performer(const lq_album_spec *s, size_t i)
{
    return s->tracks[i].artist ? s->tracks[i].artist : s->artist;
}

lq_error lq_cd_cue_write(const lq_album_spec *s, const lq_cd_layout *l, const char *image_name,
                         char **out, lq_diag *d)
{
    if (!out || !image_name) return lq_diag_set(d, LQ_ERR_ARG, "no output or image name");
    *out = NULL;
    lq_error e = lq_cd_layout_check(s, l, d);
    if (e) return e;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    char t[64];
    if (s->genre) {
        fputs("REM GENRE ", f);
        cue_str(f, s->genre);
        fputc('\n', f);
    }
    if (s->year) fprintf(f, "REM DATE %d\n", s->year);
    if (s->upc[0]) {
        char cat[14];
        catalog13(cat, s->upc);
        fprintf(f, "CATALOG %s\n", cat);
    }
    fputs("PERFORMER ", f);
    cue_str(f, s->artist ? s->artist : "");
    fputs("\nTITLE ", f);
    cue_str(f, s->title ? s->title : "");
    fputs("\nFILE ", f);
    cue_str(f, image_name);
    fputs(" WAVE\n", f);
    for (size_t i = 0; i < l->n; i++) {
        fprintf(f, "  TRACK %02zu AUDIO\n    TITLE ", i + 1);
        cue_str(f, s->tracks[i].title);
        fputs("\n    PERFORMER ", f);
        cue_str(f, performer(s, i));
        fputc('\n', f);
        if (s->tracks[i].isrc[0]) fprintf(f, "    ISRC %s\n", s->tracks[i].isrc);
        if (l->index0[i] >= 0) {
            msf(t, l->index0[i]);
            fprintf(f, "    INDEX 00 %s\n", t);
        }
        msf(t, l->index1[i]);
        fprintf(f, "    INDEX 01 %s\n", t);
    }
    return finish(f, &buf, out, d);
}

/* A CD_TEXT block; the disc's carries the language map (block 0 = English). */
static void toc_text(FILE *f, int disc, const char *title, const char *perf)
{
    fputs("CD_TEXT {\n", f);
    if (disc) fputs("  LANGUAGE_MAP {\n    0 : EN\n  }\n", f);
    fputs("  LANGUAGE 0 {\n    TITLE ", f);
    toc_str(f, title ? title : "");
    fputs("\n    PERFORMER ", f);
    toc_str(f, perf ? perf : "");
    fputs("\n  }\n}\n", f);
}

lq_error lq_cd_toc_write(const lq_album_spec *s, const lq_cd_layout *l, const char *image_name,
                         char **out, lq_diag *d)
{
    if (!out || !image_name) return lq_diag_set(d, LQ_ERR_ARG, "no output or image name");
    *out = NULL;
    lq_error e = lq_cd_layout_check(s, l, d);
    if (e) return e;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    fputs("CD_DA\n", f);
    if (s->upc[0]) {
        char cat[14];
        catalog13(cat, s->upc);
        fprintf(f, "CATALOG \"%s\"\n", cat);
    }
    toc_text(f, 1, s->title, s->artist);
    char a[64], b[64];
    for (size_t i = 0; i < l->n; i++) {
        fprintf(f, "\n// Track %zu\nTRACK AUDIO\n", i + 1);
        if (s->tracks[i].isrc[0]) fprintf(f, "ISRC \"%s\"\n", s->tracks[i].isrc);
        toc_text(f, 0, s->tracks[i].title, performer(s, i));
        long long r0 = region_start(l, i);
        msf(a, r0);
        msf(b, region_end(l, i) - r0);
        fputs("FILE ", f);
        toc_str(f, image_name);
        fprintf(f, " %s %s\n", a, b);
        if (l->index0[i] >= 0) {
            msf(a, l->index1[i] - l->index0[i]);
            fprintf(f, "START %s\n", a);
        }
    }
    return finish(f, &buf, out, d);
}
