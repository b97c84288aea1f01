#include "io/audio_in.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/ffcodec.h"

int lq_sf_word_bits(int sf_format)
{
    switch (sf_format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8:
    case SF_FORMAT_PCM_U8: return 8;
    case SF_FORMAT_PCM_16: return 16;
    case SF_FORMAT_PCM_24: return 24;
    case SF_FORMAT_PCM_32: return 32;
    default: return 0;
    }
}

/* libsndfile keeps a log of what it noticed while parsing the header; a data chunk
 * that claims more bytes than the file holds shows up there as "should be". */
static int header_says_truncated(SNDFILE *sf)
{
    char log[4096];
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    return strstr(log, "should be") != NULL;
}

static lq_error open_in(lq_audio_in *in, const char *path, size_t max_block, int lossy_by_ff,
                        lq_diag *d)
{
    memset(in, 0, sizeof *in);
    in->path = path;
    struct stat st;
    if (stat(path, &st) != 0)
        return lq_diag_set(d, LQ_ERR_INPUT_UNREADABLE,
                           "%s: cannot open input (%s) (expected an audio file)", path,
                           strerror(errno));
    if (S_ISDIR(st.st_mode))
        return lq_diag_set(d, LQ_ERR_INPUT_UNREADABLE,
                           "%s: is a directory (expected an audio file)", path);
    if (st.st_size == 0)
        return lq_diag_set(d, LQ_ERR_INPUT_EMPTY,
                           "%s: file is empty (expected audio with at least one sample)",
                           path);
    in->declared = -1;
    /* Lossy data goes to FFmpeg: libsndfile trusts an MP3's header for its length and
     * stops there (a VBR file without a Xing header decodes short), and it reads no
     * AAC.  FFmpeg decodes to the end of the data.  A file lacquer wrote itself goes to
     * libsndfile first: its headers are exact, and FFmpeg stays unloaded unless the file
     * is one libsndfile cannot read (an M4A export). */
    if (!lossy_by_ff && (in->sf = sf_open(path, SFM_READ, &in->info)) != NULL) {
        in->channels = in->info.channels;
        in->rate = in->info.samplerate;
        in->frames = in->info.frames == SF_COUNT_MAX ? -1 : (long long)in->info.frames;
        in->word_bits = lq_sf_word_bits(in->info.format);
    } else if (!lossy_by_ff || lq_ff_probe_lossy(path)) {
        lq_error e = lq_ff_reader_open(&in->ff, path, &in->channels, &in->rate, &in->declared,
                                       &in->declared_exact, d);
        if (e) return e;
        in->frames = in->declared > 0 ? in->declared : -1;
        in->word_bits = 0;
    } else if (!(in->sf = sf_open(path, SFM_READ, &in->info))) {
        return lq_diag_set(d, LQ_ERR_INPUT_UNREADABLE,
                           "%s: not a readable audio file (%s) (expected WAV, AIFF, FLAC, "
                           "Ogg, Opus, MP3, AAC or M4A)",
                           path, sf_strerror(NULL));
    } else {
        in->channels = in->info.channels;
        in->rate = in->info.samplerate;
        in->frames = in->info.frames == SF_COUNT_MAX ? -1 : (long long)in->info.frames;
        in->word_bits = lq_sf_word_bits(in->info.format);
    }
    lq_error e = LQ_OK;
    if (in->channels < 1 || in->channels > 2)
        e = lq_diag_set(d, LQ_ERR_INPUT_CHANNELS,
                        "%s: has %d channels (expected mono or stereo)", path, in->channels);
    else if (in->rate < LQ_MIN_RATE || in->rate > LQ_MAX_RATE)
        e = lq_diag_set(d, LQ_ERR_INPUT_RATE,
                        "%s: sample rate %d Hz (expected %d to %d Hz)", path, in->rate,
                        LQ_MIN_RATE, LQ_MAX_RATE);
    else if (in->frames == 0)
        e = lq_diag_set(d, LQ_ERR_INPUT_EMPTY,
                        "%s: holds no audio (expected at least one sample)", path);
    else if (in->sf && header_says_truncated(in->sf))
        e = lq_diag_set(d, LQ_ERR_INPUT_TRUNCATED,
                        "%s: truncated: the file ends before the audio its header declares "
                        "(expected a complete file)",
                        path);
    if (e) {
        lq_audio_in_close(in);
        return e;
    }
    in->max_block = max_block;
    size_t nsamp = max_block * (size_t)in->channels;
    if (in->word_bits)
        in->ibuf = malloc(nsamp * sizeof *in->ibuf);
    else
        in->dbuf = malloc(nsamp * sizeof *in->dbuf);
    if (!in->ibuf && !in->dbuf) {
        lq_audio_in_close(in);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    /* Float files: no normalisation surprises, values as stored. */
    if (in->sf) sf_command(in->sf, SFC_SET_NORM_DOUBLE, NULL, SF_TRUE);
    return LQ_OK;
}

lq_error lq_audio_in_open(lq_audio_in *in, const char *path, size_t max_block, lq_diag *d)
{
    return open_in(in, path, max_block, 1, d);
}

lq_error lq_audio_in_open_own(lq_audio_in *in, const char *path, size_t max_block,
                              lq_diag *d)
{
    return open_in(in, path, max_block, 0, d);
}

static lq_error nonfinite(lq_audio_in *in, long long frame, int ch, lq_diag *d)
{
    double t = (double)frame / in->rate;
    int m = (int)(t / 60.0);
    return lq_diag_set(d, LQ_ERR_INPUT_NONFINITE,
                       "%s: NaN or infinite sample at %d:%06.3f (frame %lld, channel %d) "
                       "(expected finite samples)",
                       in->path, m, t - 60.0 * m, frame, ch + 1);
}

lq_error lq_audio_in_read(lq_audio_in *in, double *const *planar, size_t n, size_t *got,
                          lq_diag *d)
{
    if (n > in->max_block) n = in->max_block;
    const int nc = in->channels;
    sf_count_t r;
    if (in->ff) {
        size_t k = 0;
        lq_error e = lq_ff_reader_read(in->ff, planar, n, &k, d);
        if (e) return e;
        for (size_t i = 0; i < k; i++)
            for (int c = 0; c < nc; c++)
                if (!isfinite(planar[c][i])) return nonfinite(in, in->read_pos + (long long)i, c, d);
        in->read_pos += (long long)k;
        *got = k;
        if (k == 0 && in->read_pos == 0)
            return lq_diag_set(d, LQ_ERR_INPUT_EMPTY,
                               "%s: holds no audio (expected at least one sample)", in->path);
        /* the data ends far before the exact length the container states (an Xing/LAME
         * or MP4 header, Ogg granule positions): never master half a song.  A codec's
         * padding and priming are far smaller than the tolerance (2 %, at least 0.5 s). */
        long long tol = in->declared / 50;
        if (tol < in->rate / 2) tol = in->rate / 2;
        if (k == 0 && in->declared_exact && in->read_pos + tol < in->declared) {
            double a = (double)in->read_pos / in->rate, b = (double)in->declared / in->rate;
            return lq_diag_set(d, LQ_ERR_INPUT_TRUNCATED,
                               "%s: truncated: the audio data ends at %d:%06.3f of the "
                               "%d:%06.3f its header declares (expected a complete file)",
                               in->path, (int)(a / 60), a - 60.0 * (int)(a / 60), (int)(b / 60),
                               b - 60.0 * (int)(b / 60));
        }
        return LQ_OK;
    }
    if (in->ibuf) {
        /* Integer PCM read as int32 (left-justified) is exact; scale by 2^-31. */
        r = sf_readf_int(in->sf, in->ibuf, (sf_count_t)n);
        for (sf_count_t i = 0; i < r; i++)
            for (int c = 0; c < nc; c++)
                planar[c][i] = in->ibuf[i * nc + c] * (1.0 / 2147483648.0);
    } else {
        r = sf_readf_double(in->sf, in->dbuf, (sf_count_t)n);
        for (sf_count_t i = 0; i < r; i++)
            for (int c = 0; c < nc; c++) {
                double v = in->dbuf[i * nc + c];
                if (!isfinite(v)) return nonfinite(in, in->read_pos + i, c, d);
                planar[c][i] = v;
            }
    }
    if (r < 0) r = 0;
    in->read_pos += r;
    *got = (size_t)r;
    /* lossy containers only estimate their length in the header; PCM and FLAC know it */
    const int major = in->info.format & SF_FORMAT_TYPEMASK;
    const int exact_length = major != SF_FORMAT_MPEG && major != SF_FORMAT_OGG;
    if (r == 0 && exact_length && in->frames > 0 && in->read_pos < in->frames)
        return lq_diag_set(d, LQ_ERR_INPUT_TRUNCATED,
                           "%s: truncated: audio ends at frame %lld of %lld declared "
                           "(expected a complete file)",
                           in->path, in->read_pos, in->frames);
    if (r == 0 && in->read_pos == 0)
        return lq_diag_set(d, LQ_ERR_INPUT_EMPTY,
                           "%s: holds no audio (expected at least one sample)", in->path);
    return LQ_OK;
}

void lq_audio_in_close(lq_audio_in *in)
{
    if (in->sf) sf_close(in->sf);
    lq_ff_reader_close(&in->ff);
    free(in->dbuf);
    free(in->ibuf);
    in->sf = NULL;
    in->dbuf = NULL;
    in->ibuf = NULL;
}
