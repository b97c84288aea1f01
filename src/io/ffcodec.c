#include "io/ffcodec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fflib.h"

#define DEC_CAP 8192 /* frames of decoded scratch (an AAC frame is 1024, MP3 1152) */

/* Copy frames [off, off+n) of an AVFrame, any packed or planar PCM layout, into planar
 * doubles at dst[c] + doff. */
static void frame_to_planar(const lq_fflib *ff, const AVFrame *f, int channels, size_t off,
                            size_t n, double *const *dst, size_t doff)
{
    const int nc = channels;
    const enum AVSampleFormat fmt = (enum AVSampleFormat)f->format;
    const int planar = ff->av_sample_fmt_is_planar(fmt);
    for (int c = 0; c < nc; c++) {
        double *o = dst[c] + doff;
        for (size_t i = 0; i < n; i++) {
            size_t k = off + i;
            const uint8_t *b = planar ? f->extended_data[c] : f->extended_data[0];
            size_t idx = planar ? k : k * (size_t)nc + (size_t)c;
            double v = 0.0;
            switch (ff->av_get_packed_sample_fmt(fmt)) {
            case AV_SAMPLE_FMT_FLT: v = ((const float *)(const void *)b)[idx]; break;
            case AV_SAMPLE_FMT_DBL: v = ((const double *)(const void *)b)[idx]; break;
            case AV_SAMPLE_FMT_S16: v = ((const int16_t *)(const void *)b)[idx] / 32768.0; break;
            case AV_SAMPLE_FMT_S32: v = ((const int32_t *)(const void *)b)[idx] / 2147483648.0; break;
            case AV_SAMPLE_FMT_U8: v = (((const uint8_t *)b)[idx] - 128) / 128.0; break;
            default: break;
            }
            o[i] = v;
        }
    }
}

static const char *averr(const lq_fflib *ff, int code, char *buf, size_t n)
{
    ff->av_strerror(code, buf, n);
    return buf;
}

/* The native AAC encoder: LC profile, float planar input, one thread. */
static lq_error aac_encoder(const lq_fflib *ff, AVCodecContext **out, int rate, int channels,
                            int kbps, int global_header, int fast, lq_diag *d)
{
    const AVCodec *codec = ff->avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec)
        return lq_diag_set(d, LQ_ERR_ENCODE, "this FFmpeg has no AAC encoder (expected "
                                             "libavcodec with its native aac encoder)");
    AVCodecContext *c = ff->avcodec_alloc_context3(codec);
    if (!c) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = rate;
    ff->av_channel_layout_default(&c->ch_layout, channels);
    c->bit_rate = (int64_t)kbps * 1000;
    c->thread_count = 1;
    c->time_base = (AVRational){1, rate};
    if (global_header) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    /* the "fast" coder: 3x quicker than "twoloop" and, with coarser noise allocation,
     * no smaller an overshoot (a conservative check) */
    AVDictionary *opt = NULL;
    ff->av_dict_set(&opt, "aac_coder", fast ? "fast" : "twoloop", 0);
    int r = ff->avcodec_open2(c, codec, &opt);
    ff->av_dict_free(&opt);
    if (r < 0) {
        char eb[128];
        ff->avcodec_free_context(&c);
        return lq_diag_set(d, LQ_ERR_ENCODE, "the AAC encoder refused %d Hz, %d channels, "
                                             "%d kbit/s (%s)",
                           rate, channels, kbps, averr(ff, r, eb, sizeof eb));
    }
    *out = c;
    return LQ_OK;
}

/* Fill an encoder input frame (float planar) from planar doubles. */
typedef struct frame_feed {
    AVFrame *frame;
    int fill, size, channels;
    int64_t pts;
} frame_feed;

static lq_error feed_init(const lq_fflib *lib, frame_feed *ff, const AVCodecContext *enc,
                          lq_diag *d)
{
    ff->size = enc->frame_size > 0 ? enc->frame_size : 1024;
    ff->channels = enc->ch_layout.nb_channels;
    ff->frame = lib->av_frame_alloc();
    if (!ff->frame) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    ff->frame->format = AV_SAMPLE_FMT_FLTP;
    ff->frame->nb_samples = ff->size;
    ff->frame->sample_rate = enc->sample_rate;
    if (lib->av_channel_layout_copy(&ff->frame->ch_layout, &enc->ch_layout) < 0 ||
        lib->av_frame_get_buffer(ff->frame, 0) < 0)
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    return LQ_OK;
}

/* --------------------------------------------------------------- round trip */

struct lq_ff_roundtrip {
    lq_fflib lib;
    AVCodecContext *enc, *dec;
    frame_feed feed;
    AVPacket *pkt;
    AVFrame *out;
    long long pushed, delivered;
    long long skip;          /* encoder priming still to drop from the decoded output */
    double *buf[2];
};

void lq_ff_roundtrip_destroy(lq_ff_roundtrip **prt)
{
    lq_ff_roundtrip *rt = *prt;
    if (!rt) return;
    const lq_fflib *ff = &rt->lib;
    if (ff->util) {
        ff->avcodec_free_context(&rt->enc);
        ff->avcodec_free_context(&rt->dec);
        ff->av_frame_free(&rt->feed.frame);
        ff->av_frame_free(&rt->out);
        ff->av_packet_free(&rt->pkt);
    }
    lq_fflib_close(&rt->lib);
    free(rt->buf[0]);
    free(rt);
    *prt = NULL;
}

lq_error lq_ff_roundtrip_new(lq_ff_roundtrip **out, int rate, int channels, int kbps, int fast,
                             lq_diag *d)
{
    lq_ff_roundtrip *rt = calloc(1, sizeof *rt);
    if (!rt) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    /* the round trip needs libavcodec only: libavformat's dependencies stay unloaded */
    lq_error e = lq_fflib_open(&rt->lib, 0, LQ_ERR_ENCODE, NULL, d);
    if (e) {
        free(rt);
        return e;
    }
    const lq_fflib *ff = &rt->lib;
    e = aac_encoder(ff, &rt->enc, rate, channels, kbps, 0, fast, d);
    if (!e) e = feed_init(ff, &rt->feed, rt->enc, d);
    const AVCodec *dc = ff->avcodec_find_decoder(AV_CODEC_ID_AAC);
    if (!e && !dc) e = lq_diag_set(d, LQ_ERR_ENCODE, "this FFmpeg has no AAC decoder");
    if (!e && !(rt->dec = ff->avcodec_alloc_context3(dc)))
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (!e) {
        rt->dec->sample_rate = rate;
        ff->av_channel_layout_default(&rt->dec->ch_layout, channels);
        rt->dec->thread_count = 1;
        if (rt->enc->extradata_size > 0) {
            rt->dec->extradata = ff->av_mallocz((size_t)rt->enc->extradata_size +
                                            AV_INPUT_BUFFER_PADDING_SIZE);
            if (!rt->dec->extradata) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
            else {
                memcpy(rt->dec->extradata, rt->enc->extradata, (size_t)rt->enc->extradata_size);
                rt->dec->extradata_size = rt->enc->extradata_size;
            }
        }
    }
    if (!e && ff->avcodec_open2(rt->dec, dc, NULL) < 0)
        e = lq_diag_set(d, LQ_ERR_ENCODE, "cannot start the AAC decoder");
    if (!e) {
        rt->pkt = ff->av_packet_alloc();
        rt->out = ff->av_frame_alloc();
        rt->buf[0] = malloc(2 * DEC_CAP * sizeof(double));
        rt->buf[1] = rt->buf[0] ? rt->buf[0] + DEC_CAP : NULL;
        if (!rt->pkt || !rt->out || !rt->buf[0]) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    if (e) {
        lq_ff_roundtrip_destroy(&rt);
        return e;
    }
    rt->skip = rt->enc->initial_padding;
    *out = rt;
    return LQ_OK;
}

/* Hand decoded frames to the sink, dropping the priming and anything past the input. */
static lq_error drain_decoder(lq_ff_roundtrip *rt, lq_ff_sink sink, void *user, lq_diag *d)
{
    const lq_fflib *ff = &rt->lib;
    const int nc = rt->feed.channels;
    for (;;) {
        int r = ff->avcodec_receive_frame(rt->dec, rt->out);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return LQ_OK;
        if (r < 0) return lq_diag_set(d, LQ_ERR_ENCODE, "the AAC decoder failed on its own "
                                                        "encoder's output");
        size_t n = (size_t)rt->out->nb_samples, off = 0;
        if (rt->skip > 0) {
            off = rt->skip < (long long)n ? (size_t)rt->skip : n;
            rt->skip -= (long long)off;
        }
        while (off < n && rt->delivered < rt->pushed) {
            size_t k = n - off;
            if (k > DEC_CAP) k = DEC_CAP;
            if ((long long)k > rt->pushed - rt->delivered) k = (size_t)(rt->pushed - rt->delivered);
            frame_to_planar(ff, rt->out, nc, off, k, rt->buf, 0);
            sink(user, (const double *const *)rt->buf, k);
            rt->delivered += (long long)k;
            off += k;
        }
        ff->av_frame_unref(rt->out);
    }
}

static lq_error send_and_drain(lq_ff_roundtrip *rt, AVFrame *frame, lq_ff_sink sink,
                               void *user, lq_diag *d)
{
    const lq_fflib *ff = &rt->lib;
    if (ff->avcodec_send_frame(rt->enc, frame) < 0)
        return lq_diag_set(d, LQ_ERR_ENCODE, "the AAC encoder refused a frame");
    for (;;) {
        int r = ff->avcodec_receive_packet(rt->enc, rt->pkt);
        if (r == AVERROR(EAGAIN)) return LQ_OK;
        if (r == AVERROR_EOF) {
            ff->avcodec_send_packet(rt->dec, NULL);
            return drain_decoder(rt, sink, user, d);
        }
        if (r < 0) return lq_diag_set(d, LQ_ERR_ENCODE, "the AAC encoder failed");
        r = ff->avcodec_send_packet(rt->dec, rt->pkt);
        ff->av_packet_unref(rt->pkt);
        if (r < 0) return lq_diag_set(d, LQ_ERR_ENCODE, "the AAC decoder refused a packet");
        lq_error e = drain_decoder(rt, sink, user, d);
        if (e) return e;
    }
}

lq_error lq_ff_roundtrip_push(lq_ff_roundtrip *rt, const double *const *planar, size_t n,
                              lq_ff_sink sink, void *user, lq_diag *d)
{
    frame_feed *ff = &rt->feed;
    size_t i = 0;
    while (i < n) {
        if (rt->lib.av_frame_make_writable(ff->frame) < 0)
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        size_t k = (size_t)(ff->size - ff->fill);
        if (k > n - i) k = n - i;
        for (int c = 0; c < ff->channels; c++) {
            float *o = (float *)(void *)ff->frame->extended_data[c] + ff->fill;
            for (size_t t = 0; t < k; t++) o[t] = (float)planar[c][i + t];
        }
        ff->fill += (int)k;
        i += k;
        rt->pushed += (long long)k;
        if (ff->fill == ff->size) {
            ff->frame->nb_samples = ff->size;
            ff->frame->pts = ff->pts;
            ff->pts += ff->size;
            ff->fill = 0;
            lq_error e = send_and_drain(rt, ff->frame, sink, user, d);
            if (e) return e;
        }
    }
    return LQ_OK;
}

lq_error lq_ff_roundtrip_finish(lq_ff_roundtrip *rt, lq_ff_sink sink, void *user, lq_diag *d)
{
    frame_feed *ff = &rt->feed;
    lq_error e = LQ_OK;
    if (ff->fill > 0) {
        if (rt->lib.av_frame_make_writable(ff->frame) < 0)
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        ff->frame->nb_samples = ff->fill;   /* libavcodec pads the last frame */
        ff->frame->pts = ff->pts;
        ff->fill = 0;
        e = send_and_drain(rt, ff->frame, sink, user, d);
    }
    if (!e) e = send_and_drain(rt, NULL, sink, user, d);
    /* a decoder that gave back less than went in (it never should): pad with silence so
     * the output stays aligned and complete */
    while (!e && rt->delivered < rt->pushed) {
        size_t k = (size_t)(rt->pushed - rt->delivered);
        if (k > DEC_CAP) k = DEC_CAP;
        memset(rt->buf[0], 0, 2 * DEC_CAP * sizeof(double));
        sink(user, (const double *const *)rt->buf, k);
        rt->delivered += (long long)k;
    }
    return e;
}

/* --------------------------------------------------------------- M4A writer */

struct lq_ff_writer {
    lq_fflib lib;
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    frame_feed feed;
    AVPacket *pkt;
    int header_written;
};

void lq_ff_writer_discard(lq_ff_writer **pw)
{
    lq_ff_writer *w = *pw;
    if (!w) return;
    const lq_fflib *ff = &w->lib;
    if (ff->format) {
        if (w->oc) {
            if (w->oc->pb) ff->avio_closep(&w->oc->pb);
            ff->avformat_free_context(w->oc);
        }
        ff->avcodec_free_context(&w->enc);
        ff->av_frame_free(&w->feed.frame);
        ff->av_packet_free(&w->pkt);
    }
    lq_fflib_close(&w->lib);
    free(w);
    *pw = NULL;
}

lq_error lq_ff_writer_open(lq_ff_writer **out, const char *path, int rate, int channels,
                           int kbps, const char *const tags[4], lq_diag *d)
{
    lq_ff_writer *w = calloc(1, sizeof *w);
    if (!w) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    lq_error e = lq_fflib_open(&w->lib, 1, LQ_ERR_ENCODE, NULL, d);
    if (e) {
        free(w);
        return e;
    }
    const lq_fflib *ff = &w->lib;
    /* "ipod": the MP4 flavour iTunes and Apple's tools read as .m4a */
    if (ff->avformat_alloc_output_context2(&w->oc, NULL, "ipod", NULL) < 0 || !w->oc)
        e = lq_diag_set(d, LQ_ERR_ENCODE, "this FFmpeg cannot write M4A files");
    if (!e) e = aac_encoder(ff, &w->enc, rate, channels, kbps,
                            (w->oc->oformat->flags & AVFMT_GLOBALHEADER) != 0, 0, d);
    if (!e) e = feed_init(ff, &w->feed, w->enc, d);
    if (!e && (!(w->st = ff->avformat_new_stream(w->oc, NULL)) ||
               !(w->pkt = ff->av_packet_alloc())))
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (!e && ff->avcodec_parameters_from_context(w->st->codecpar, w->enc) < 0)
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (!e) {
        w->st->time_base = w->enc->time_base;
        static const char *const keys[4] = {"title", "artist", "album", "comment"};
        for (int i = 0; i < 4; i++)
            if (tags && tags[i] && tags[i][0])
                ff->av_dict_set(&w->oc->metadata, keys[i], tags[i], 0);
        ff->av_dict_set(&w->oc->metadata, "encoder", "lacquer", 0);
        /* reproducible files: no creation time from the clock */
        ff->av_dict_set(&w->oc->metadata, "creation_time", "1970-01-01T00:00:00Z", 0);
        char eb[128];
        int r = ff->avio_open(&w->oc->pb, path, AVIO_FLAG_WRITE);
        if (r < 0)
            e = lq_diag_set(d, LQ_ERR_OUTPUT, "cannot write the M4A file (%s)",
                            averr(ff, r, eb, sizeof eb));
        AVDictionary *opt = NULL;
        ff->av_dict_set(&opt, "fflags", "+bitexact", 0);
        if (!e && (r = ff->avformat_write_header(w->oc, &opt)) < 0)
            e = lq_diag_set(d, LQ_ERR_ENCODE, "cannot start the M4A file (%s)",
                            averr(ff, r, eb, sizeof eb));
        ff->av_dict_free(&opt);
        w->header_written = !e;
    }
    if (e) {
        lq_ff_writer_discard(&w);
        return e;
    }
    *out = w;
    return LQ_OK;
}

static lq_error writer_send(lq_ff_writer *w, AVFrame *frame, lq_diag *d)
{
    const lq_fflib *ff = &w->lib;
    if (ff->avcodec_send_frame(w->enc, frame) < 0)
        return lq_diag_set(d, LQ_ERR_ENCODE, "the AAC encoder refused a frame");
    for (;;) {
        int r = ff->avcodec_receive_packet(w->enc, w->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return LQ_OK;
        if (r < 0) return lq_diag_set(d, LQ_ERR_ENCODE, "the AAC encoder failed");
        ff->av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
        w->pkt->stream_index = w->st->index;
        r = ff->av_interleaved_write_frame(w->oc, w->pkt);
        if (r < 0) return lq_diag_set(d, LQ_ERR_OUTPUT, "writing the M4A file failed");
    }
}

lq_error lq_ff_writer_write(lq_ff_writer *w, const double *const *planar, size_t n, lq_diag *d)
{
    frame_feed *ff = &w->feed;
    size_t i = 0;
    while (i < n) {
        if (w->lib.av_frame_make_writable(ff->frame) < 0)
            return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        size_t k = (size_t)(ff->size - ff->fill);
        if (k > n - i) k = n - i;
        for (int c = 0; c < ff->channels; c++) {
            float *o = (float *)(void *)ff->frame->extended_data[c] + ff->fill;
            for (size_t t = 0; t < k; t++) o[t] = (float)planar[c][i + t];
        }
        ff->fill += (int)k;
        i += k;
        if (ff->fill == ff->size) {
            ff->frame->nb_samples = ff->size;
            ff->frame->pts = ff->pts;
            ff->pts += ff->size;
            ff->fill = 0;
            lq_error e = writer_send(w, ff->frame, d);
            if (e) return e;
        }
    }
    return LQ_OK;
}

lq_error lq_ff_writer_close(lq_ff_writer **pw, lq_diag *d)
{
    lq_ff_writer *w = *pw;
    if (!w) return LQ_OK;
    frame_feed *ff = &w->feed;
    lq_error e = LQ_OK;
    if (ff->fill > 0) {
        if (w->lib.av_frame_make_writable(ff->frame) < 0)
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        ff->frame->nb_samples = ff->fill;
        ff->frame->pts = ff->pts;
        ff->fill = 0;
        if (!e) e = writer_send(w, ff->frame, d);
    }
    if (!e) e = writer_send(w, NULL, d);
    if (!e && w->lib.av_write_trailer(w->oc) < 0)
        e = lq_diag_set(d, LQ_ERR_OUTPUT, "finishing the M4A file failed");
    lq_ff_writer_discard(pw);
    return e;
}

/* --------------------------------------------------------------- reader */

struct lq_ff_reader {
    lq_fflib lib;
    AVFormatContext *ic;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    int stream, channels, rate;
    size_t frame_pos;        /* frames of `frame` already delivered */
    int have_frame, flushed, ended;
    long long limit;         /* MP4: the edit list's length (-1: none) */
    long long delivered;
    const char *path;
};

void lq_ff_reader_close(lq_ff_reader **pr)
{
    lq_ff_reader *r = *pr;
    if (!r) return;
    const lq_fflib *ff = &r->lib;
    if (ff->format) {
        ff->avcodec_free_context(&r->dec);
        ff->avformat_close_input(&r->ic);
        ff->av_packet_free(&r->pkt);
        ff->av_frame_free(&r->frame);
    }
    lq_fflib_close(&r->lib);
    free(r);
    *pr = NULL;
}

lq_error lq_ff_reader_open(lq_ff_reader **out, const char *path, int *channels, int *rate,
                           long long *declared, int *exact, lq_diag *d)
{
    lq_ff_reader *r = calloc(1, sizeof *r);
    if (!r) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    r->path = path;
    lq_error e = lq_fflib_open(&r->lib, 1, LQ_ERR_INPUT_UNREADABLE, path, d);
    if (e) {
        free(r);
        return e;
    }
    const lq_fflib *ff = &r->lib;
    char eb[128];
    int rc = ff->avformat_open_input(&r->ic, path, NULL, NULL);
    if (rc < 0) {
        e = lq_diag_set(d, LQ_ERR_INPUT_UNREADABLE,
                        "%s: not a readable audio file (%s) (expected WAV, AIFF, FLAC, Ogg, "
                        "Opus, MP3, AAC or M4A)",
                        path, averr(ff, rc, eb, sizeof eb));
        lq_ff_reader_close(&r);
        return e;
    }
    if (ff->avformat_find_stream_info(r->ic, NULL) < 0 ||
        (r->stream = ff->av_find_best_stream(r->ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0)) < 0)
        e = lq_diag_set(d, LQ_ERR_INPUT_UNREADABLE, "%s: no audio stream found (expected an "
                                                    "audio file)", path);
    const AVCodec *codec = NULL;
    AVStream *st = e ? NULL : r->ic->streams[r->stream];
    if (!e && !(codec = ff->avcodec_find_decoder(st->codecpar->codec_id)))
        e = lq_diag_set(d, LQ_ERR_INPUT_UNREADABLE, "%s: no decoder for its %s audio (expected "
                                                    "a common codec)",
                        path, ff->avcodec_get_name(st->codecpar->codec_id));
    if (!e && !(r->dec = ff->avcodec_alloc_context3(codec)))
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (!e && ff->avcodec_parameters_to_context(r->dec, st->codecpar) < 0)
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (!e) {
        r->dec->thread_count = 1;
        if (ff->avcodec_open2(r->dec, codec, NULL) < 0)
            e = lq_diag_set(d, LQ_ERR_INPUT_UNREADABLE, "%s: cannot start the %s decoder",
                            path, codec->name);
    }
    if (!e && (!(r->pkt = ff->av_packet_alloc()) || !(r->frame = ff->av_frame_alloc())))
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (e) {
        lq_ff_reader_close(&r);
        return e;
    }
    r->channels = r->dec->ch_layout.nb_channels;
    r->rate = r->dec->sample_rate;
    *channels = r->channels;
    *rate = r->rate;
    long long dec = -1;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        dec = ff->av_rescale_q(st->duration, st->time_base, (AVRational){1, r->rate});
    else if (r->ic->duration != AV_NOPTS_VALUE && r->ic->duration > 0)
        dec = ff->av_rescale(r->ic->duration, r->rate, AV_TIME_BASE);
    *declared = dec;
    *exact = dec > 0 && r->ic->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE;
    /* MP4: the edit list states the playing length (ISO/IEC 14496-12, 8.6.6), without the
     * encoder's priming (which FFmpeg skips) and the last frame's padding (which FFmpeg
     * 5.1 still decodes): players stop there, so lacquer does too */
    r->limit = dec > 0 && strstr(r->ic->iformat->name, "mp4") != NULL ? dec : -1;
    *out = r;
    return LQ_OK;
}

/* Next decoded frame into r->frame; 0 at the end of the data. */
static int next_frame(lq_ff_reader *r, lq_error *err, lq_diag *d)
{
    const lq_fflib *ff = &r->lib;
    for (;;) {
        int rc = ff->avcodec_receive_frame(r->dec, r->frame);
        if (rc == 0) return 1;
        if (rc == AVERROR_EOF) return 0;
        if (rc != AVERROR(EAGAIN)) {
            *err = lq_diag_set(d, LQ_ERR_INPUT_UNREADABLE,
                               "%s: the audio data does not decode (expected an undamaged "
                               "file)", r->path);
            return 0;
        }
        if (r->flushed) return 0;
        rc = ff->av_read_frame(r->ic, r->pkt);
        if (rc < 0) {
            ff->avcodec_send_packet(r->dec, NULL);
            r->flushed = 1;
            continue;
        }
        if (r->pkt->stream_index == r->stream) {
            /* a damaged packet is skipped as every player does; the length check at
             * the end catches data that is mostly missing */
            ff->avcodec_send_packet(r->dec, r->pkt);
        }
        ff->av_packet_unref(r->pkt);
    }
}

lq_error lq_ff_reader_read(lq_ff_reader *r, double *const *planar, size_t n, size_t *got,
                           lq_diag *d)
{
    const lq_fflib *ff = &r->lib;
    size_t k = 0;
    lq_error e = LQ_OK;
    if (r->limit >= 0 && (long long)n > r->limit - r->delivered)
        n = (size_t)(r->limit - r->delivered);
    while (k < n && !r->ended) {
        if (!r->have_frame) {
            if (!next_frame(r, &e, d)) {
                r->ended = 1;
                break;
            }
            if (r->frame->ch_layout.nb_channels != r->channels ||
                r->frame->sample_rate != r->rate) {
                ff->av_frame_unref(r->frame);
                return lq_diag_set(d, LQ_ERR_INPUT_UNREADABLE,
                                   "%s: the channels or the sample rate change inside the "
                                   "file (expected one stream format throughout)",
                                   r->path);
            }
            r->have_frame = 1;
            r->frame_pos = 0;
        }
        size_t avail = (size_t)r->frame->nb_samples - r->frame_pos;
        size_t t = n - k < avail ? n - k : avail;
        frame_to_planar(ff, r->frame, r->channels, r->frame_pos, t, planar, k);
        k += t;
        r->frame_pos += t;
        if (r->frame_pos >= (size_t)r->frame->nb_samples) {
            ff->av_frame_unref(r->frame);
            r->have_frame = 0;
        }
    }
    r->delivered += (long long)k;
    *got = k;
    return e;
}

/* The containers libsndfile reads and FFmpeg's probe never names lossy (wav, w64, aiff,
 * flac, caf, au): recognised by their first bytes, so that mastering a WAV or FLAC never
 * loads FFmpeg (src/io/fflib.h). */
static int pcm_container(const unsigned char *b, size_t n)
{
    if (n >= 12 && (!memcmp(b, "RIFF", 4) || !memcmp(b, "RIFX", 4) || !memcmp(b, "RF64", 4) ||
                    !memcmp(b, "BW64", 4)) && !memcmp(b + 8, "WAVE", 4))
        return 1;
    if (n >= 12 && !memcmp(b, "FORM", 4) &&
        (!memcmp(b + 8, "AIFF", 4) || !memcmp(b + 8, "AIFC", 4)))
        return 1;
    /* Sony Wave64: the RIFF GUID 66666972-912E-11CF-... */
    if (n >= 8 && !memcmp(b, "riff\x2e\x91\xcf\x11", 8)) return 1;
    return n >= 4 && (!memcmp(b, "fLaC", 4) || !memcmp(b, "caff", 4) || !memcmp(b, ".snd", 4) ||
                      !memcmp(b, "dns.", 4));
}

int lq_ff_probe_lossy(const char *path)
{
    unsigned char head[12];
    FILE *f = fopen(path, "rb");
    if (!f) return 0; /* libsndfile's open says what is wrong */
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (pcm_container(head, n)) return 0;
    lq_fflib lib;
    /* without FFmpeg, anything else goes to lq_ff_reader_open, whose error names the
     * missing library: a lossy file is never half-decoded by libsndfile */
    if (lq_fflib_open(&lib, 1, LQ_ERR_INPUT_UNREADABLE, path, NULL)) return 1;
    const lq_fflib *ff = &lib;
    int ok = 0;
    /* the first 4 KiB are enough for these containers' signatures */
    AVFormatContext *ic = ff->avformat_alloc_context();
    if (ic) {
        ic->probesize = 4096;
        if (ff->avformat_open_input(&ic, path, NULL, NULL) >= 0) {
            const char *name = ic->iformat ? ic->iformat->name : "";
            ok = strcmp(name, "mp3") == 0 || strcmp(name, "ogg") == 0 ||
                 strcmp(name, "aac") == 0 || strstr(name, "mp4") != NULL;
            ff->avformat_close_input(&ic);
        }
    }
    lq_fflib_close(&lib);
    return ok;
}
