/* Encoding an export with libsndfile (FFmpeg for AAC/M4A): the file is written where nobody can see it (an
 * O_TMPFILE in the output folder, or a hidden temporary name where the filesystem has
 * no O_TMPFILE), re-read for verification, and only then published under its final
 * name.  A failed or cancelled export leaves nothing behind. */
#ifndef LQ_IO_AUDIO_OUT_H
#define LQ_IO_AUDIO_OUT_H

#include <sndfile.h>
#include <stddef.h>

#include "config/preset.h"
#include "core/diag.h"

typedef struct lq_out_meta {
    const char *title, *artist, *album;
    const char *description;   /* BWF description / comment */
} lq_out_meta;

typedef struct lq_audio_out {
    SNDFILE *sf;
    struct lq_ff_writer *ffw; /* AAC/M4A exports: FFmpeg (io/ffcodec.h) instead of sf */
    int fd;                  /* the temporary file's descriptor */
    char tmp_path[4200];     /* named temporary (fallback), "" with O_TMPFILE */
    char read_path[4200];    /* a path that opens the written data for verification */
    char dir[4096];
    lq_format format;
    int bits;                /* 16/24 integer PCM, 32 = float, 0 = lossy */
    int channels;
    int *ibuf;
    double *dbuf;
    size_t max_block;
    long long frames;
    long long clipped;       /* samples outside full scale at the encoder input */
} lq_audio_out;

/* Create the hidden file and open the encoder. */
lq_error lq_audio_out_open(lq_audio_out *o, const char *dir, lq_format fmt, int rate,
                           int channels, int bits, int bitrate_kbps, const lq_out_meta *m,
                           size_t max_block, lq_diag *d);
/* Write planar frames.  For integer PCM the values must lie on the output grid (the
 * dither stage puts them there); they are converted exactly. */
lq_error lq_audio_out_write(lq_audio_out *o, const double *const *planar, size_t n,
                            lq_diag *d);
/* Close the encoder (the data is complete and can be re-read from o->read_path). */
lq_error lq_audio_out_close(lq_audio_out *o, lq_diag *d);
/* Write BWF loudness fields (EBU Tech 3285 v2) into the bext chunk of a closed WAV. */
lq_error lq_audio_out_patch_bext(lq_audio_out *o, double lufs, double lra, double tp,
                                 double max_m, double max_s, lq_diag *d);
/* Give the file its final name (overwriting only when force). */
lq_error lq_audio_out_publish(lq_audio_out *o, const char *final_path, int force,
                              lq_diag *d);
/* Remove the temporary file (if not published) and free everything. */
void lq_audio_out_discard(lq_audio_out *o);

#endif
