/* FFmpeg's libraries loaded on demand (dlopen), for src/io/ffcodec.c only.
 *
 * Debian's libavcodec and libavformat depend on about 120 other libraries (video codecs,
 * TLS, network protocols, glib, cairo...).  Linked into lacquer, the dynamic loader maps
 * and relocates all of them at every start: +27 MiB of peak RSS for every run, even one
 * that never touches a lossy file (bench/README.md, "Peak RSS and FFmpeg").  So the CLI
 * and liblacquer do not link FFmpeg; the first AAC round trip, M4A export or lossy
 * input opens it (libavutil + libavcodec; libavformat only for files), by the SONAMEs of
 * the headers lacquer was built with.  The libraries stay loaded (RTLD_NODELETE): the
 * next open is a lookup, not a reload.
 *
 * Each user keeps its own table (no mutable statics, nothing shared between threads). */
#ifndef LQ_IO_FFLIB_H
#define LQ_IO_FFLIB_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

#include "core/diag.h"

/* X(name): every FFmpeg function lacquer calls, by library. */
#define LQ_FF_AVUTIL(X)                                                                    \
    X(av_channel_layout_copy) X(av_channel_layout_default) X(av_dict_free) X(av_dict_set)  \
    X(av_frame_alloc) X(av_frame_free) X(av_frame_get_buffer) X(av_frame_make_writable)    \
    X(av_frame_unref) X(av_get_packed_sample_fmt) X(av_log_set_level) X(av_mallocz)        \
    X(av_rescale) X(av_rescale_q) X(av_sample_fmt_is_planar) X(av_strerror)
#define LQ_FF_AVCODEC(X)                                                                   \
    X(av_packet_alloc) X(av_packet_free) X(av_packet_rescale_ts) X(av_packet_unref)        \
    X(avcodec_alloc_context3) X(avcodec_find_decoder) X(avcodec_find_encoder)              \
    X(avcodec_free_context) X(avcodec_get_name) X(avcodec_open2)                           \
    X(avcodec_parameters_from_context) X(avcodec_parameters_to_context)                    \
    X(avcodec_receive_frame) X(avcodec_receive_packet) X(avcodec_send_frame)               \
    X(avcodec_send_packet)
#define LQ_FF_AVFORMAT(X)                                                                  \
    X(av_find_best_stream) X(av_interleaved_write_frame) X(av_read_frame)                  \
    X(av_write_trailer) X(avformat_alloc_context) X(avformat_alloc_output_context2)        \
    X(avformat_close_input) X(avformat_find_stream_info) X(avformat_free_context)          \
    X(avformat_new_stream) X(avformat_open_input) X(avformat_write_header) X(avio_closep)  \
    X(avio_open)

#define LQ_FF_MEMBER(name) __typeof__(name) *name;
typedef struct lq_fflib {
    void *util, *codec, *format; /* dlopen handles; format NULL unless asked for */
    LQ_FF_AVUTIL(LQ_FF_MEMBER)
    LQ_FF_AVCODEC(LQ_FF_MEMBER)
    LQ_FF_AVFORMAT(LQ_FF_MEMBER)
} lq_fflib;
#undef LQ_FF_MEMBER

/* The SONAMEs of the FFmpeg lacquer was compiled against ("libavcodec.so.59"...). */
extern const char *const lq_fflib_sonames[3]; /* avutil, avcodec, avformat */

/* Load libavutil and libavcodec, and libavformat when with_format, and fill lib (the
 * avformat members stay NULL without it).  On failure lib holds nothing and the error is
 * `code` with one line, "PATH: " first when path is not NULL:
 *   "FFmpeg's library libavcodec.so.59 cannot be loaded (DLERROR) (expected FFmpeg 5's
 *    libraries, Debian packages libavcodec59 and libavformat59: AAC checks, AAC exports
 *    and lossy inputs need them)"
 * or "... libavcodec.so.59 has no avcodec_open2 ..." for a library of another build. */
lq_error lq_fflib_open(lq_fflib *lib, int with_format, lq_error code, const char *path,
                       lq_diag *d);
/* The same with other SONAMEs (tests: a missing library). */
lq_error lq_fflib_open_names(lq_fflib *lib, const char *const names[3], int with_format,
                             lq_error code, const char *path, lq_diag *d);
/* Drop this user's references (the libraries stay mapped); lib may be zeroed or
 * half-filled. */
void lq_fflib_close(lq_fflib *lib);

#endif
