/* Decoding the input mix with libsndfile (PCM, FLAC), or FFmpeg's libraries for lossy
 * files (MP3, Ogg Vorbis/Opus, AAC/M4A: io/ffcodec.h), which are decoded to the real end
 * of their data whatever their header estimates; with the checks every input gets:
 * readable, 1-2 channels, a sane rate, not empty, not truncated, finite samples. */
#ifndef LQ_IO_AUDIO_IN_H
#define LQ_IO_AUDIO_IN_H

#include <sndfile.h>
#include <stddef.h>

#include "core/diag.h"

/* Accepted input sample rates (Hz). */
#define LQ_MIN_RATE 8000
#define LQ_MAX_RATE 768000

typedef struct lq_audio_in {
    SNDFILE *sf;
    SF_INFO info;
    const char *path;     /* borrowed */
    int channels;
    int rate;
    long long frames;     /* from the header; -1 when the format does not say */
    int word_bits;        /* 8/16/24/32 for integer PCM; 0 for float or lossy sources */
    long long read_pos;   /* frames delivered so far */
    double *dbuf;         /* interleaved scratch (double read) */
    int *ibuf;            /* interleaved scratch (integer read, exact for PCM) */
    size_t max_block;
    struct lq_ff_reader *ff;  /* lossy input decoded by FFmpeg (NULL: libsndfile) */
    long long declared;       /* FFmpeg: the length the container states (-1: none) */
    int declared_exact;       /* ... and whether it is exact rather than estimated */
} lq_audio_in;

/* Open and check the header.  Errors (d gets "PATH: what is wrong (expected ...)"):
 * LQ_ERR_INPUT_UNREADABLE, _CHANNELS, _RATE, _EMPTY. */
lq_error lq_audio_in_open(lq_audio_in *in, const char *path, size_t max_block, lq_diag *d);
/* The same for a file lacquer has just written (an export, a codec check's encode), whose
 * headers are exact: decoded by libsndfile (libmpg123, libvorbis, libopus for MP3 and
 * Ogg) when it reads the file, by FFmpeg only otherwise (M4A), so that these
 * verifications and checks do not load FFmpeg (io/fflib.h). */
lq_error lq_audio_in_open_own(lq_audio_in *in, const char *path, size_t max_block,
                              lq_diag *d);

/* Read up to n frames into planar buffers (exact for integer PCM).  *got = frames read;
 * 0 at the end.  Errors: LQ_ERR_INPUT_NONFINITE (names the time and channel),
 * LQ_ERR_INPUT_TRUNCATED (the file ended before the header's frame count; for lossy
 * files, the data ended far before an exact length the container states). */
lq_error lq_audio_in_read(lq_audio_in *in, double *const *planar, size_t n, size_t *got,
                          lq_diag *d);

void lq_audio_in_close(lq_audio_in *in);

/* Word length of a libsndfile format: 8..32 for integer PCM, 0 for float and lossy. */
int lq_sf_word_bits(int sf_format);

#endif
