/* Export file names from a target's `filename` pattern. */
#ifndef LQ_ENGINE_NAMING_H
#define LQ_ENGINE_NAMING_H

/* What a pattern can refer to.  NULL strings expand to "", track 0 to "". */
typedef struct lq_name_fields {
    const char *title, *artist, *album, *target, *ext;
    int track, track_total;
} lq_name_fields;

/* Expand {title} {artist} {album} {target} {ext} {track} {track:02} {tracks} (a '/'
 * inside a value becomes '_', so a value never makes a folder).  malloc'd; NULL when
 * out of memory. */
char *lq_name_expand(const char *pattern, const lq_name_fields *f);

/* An album track's file name: as lq_name_expand, with "{track:02} " put in front of a
 * pattern that has neither {track} nor {track:02} when `numbered` (so the files of an
 * album's tracks never share a name by their pattern; {tracks} alone does not number).
 * malloc'd; NULL when out of memory. */
char *lq_name_track_file(const char *pattern, const lq_name_fields *f, int numbered);

/* The default title of an input: its file name without folder and extension. */
char *lq_name_default_title(const char *path);

#endif
