/* FFmpeg's libraries (libavcodec, libavformat) for what libsndfile does not do:
 *  - the AAC round trip of a codec check: FFmpeg's native AAC encoder (LC, 256 kbit/s by
 *    default, the rate Apple Music and YouTube deliver) and decoder, in memory, the
 *    decoded samples aligned with the input sample for sample (the encoder's priming is
 *    dropped, the padding after the last frame trimmed);
 *  - AAC/M4A export files (the same encoder, muxed to MP4 by libavformat);
 *  - decoding lossy inputs (MP3, Ogg Vorbis/Opus, AAC, M4A) to the real end of their
 *    data, whatever a header estimated.
 * Every call runs single-threaded (thread_count 1) so that the output never depends on
 * threads or timing. */
#ifndef LQ_IO_FFCODEC_H
#define LQ_IO_FFCODEC_H

#include <stddef.h>

#include "core/diag.h"

/* Receives decoded planar samples (channels as given at creation). */
typedef void (*lq_ff_sink)(void *user, const double *const *planar, size_t n);

typedef struct lq_ff_roundtrip lq_ff_roundtrip;

/* An AAC encoder -> decoder pair at `rate` (an AAC rate: 8000..96000) and kbps, with
 * the encoder's `fast` coder (a codec check: 3x quicker, no smaller an overshoot) or,
 * fast 0, the `twoloop` coder the AAC/M4A export files are written with (the round trip
 * of an export's own codec must overshoot as the file does).
 * Errors: LQ_ERR_ENCODE (the encoder refused the settings), LQ_ERR_NOMEM. */
lq_error lq_ff_roundtrip_new(lq_ff_roundtrip **rt, int rate, int channels, int kbps, int fast,
                             lq_diag *d);
/* Encode n frames; whatever the decoder gives back so far goes to sink. */
lq_error lq_ff_roundtrip_push(lq_ff_roundtrip *rt, const double *const *planar, size_t n,
                              lq_ff_sink sink, void *user, lq_diag *d);
/* Drain the encoder and decoder: after this, sink has had exactly as many frames as
 * were pushed. */
lq_error lq_ff_roundtrip_finish(lq_ff_roundtrip *rt, lq_ff_sink sink, void *user,
                                lq_diag *d);
void lq_ff_roundtrip_destroy(lq_ff_roundtrip **rt);

/* An AAC-in-MP4 (.m4a) file writer on an open file descriptor (the export's hidden
 * file), with title/artist/album/comment tags. */
typedef struct lq_ff_writer lq_ff_writer;
lq_error lq_ff_writer_open(lq_ff_writer **w, const char *path, int rate, int channels,
                           int kbps, const char *const tags[4], lq_diag *d);
lq_error lq_ff_writer_write(lq_ff_writer *w, const double *const *planar, size_t n,
                            lq_diag *d);
lq_error lq_ff_writer_close(lq_ff_writer **w, lq_diag *d);  /* finishes and frees */
void lq_ff_writer_discard(lq_ff_writer **w);

/* Decoding a lossy file to the end of its data. */
typedef struct lq_ff_reader lq_ff_reader;
/* Open `path` and its first audio stream.  *declared_frames: the length the container
 * states (-1 if none); *exact: 1 when that length is exact (an Xing/LAME or MP4 header,
 * Ogg granule positions), 0 when it is only an estimate from the bitrate.
 * Errors: LQ_ERR_INPUT_UNREADABLE ("PATH: ..."), LQ_ERR_NOMEM. */
lq_error lq_ff_reader_open(lq_ff_reader **r, const char *path, int *channels, int *rate,
                           long long *declared_frames, int *exact, lq_diag *d);
/* Up to n frames into planar (channels from open); *got = 0 at the end of the data.
 * Errors: LQ_ERR_INPUT_UNREADABLE (a packet that does not decode). */
lq_error lq_ff_reader_read(lq_ff_reader *r, double *const *planar, size_t n, size_t *got,
                           lq_diag *d);
void lq_ff_reader_close(lq_ff_reader **r);

/* Whether the file is one FFmpeg decodes for lacquer: MP3, Ogg (Vorbis, Opus), raw AAC
 * (ADTS) or MP4/M4A, recognised by FFmpeg's probe of its first bytes. */
int lq_ff_probe_lossy(const char *path);

#endif
