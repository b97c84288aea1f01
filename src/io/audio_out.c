#define _GNU_SOURCE /* O_TMPFILE, linkat */
#include "io/audio_out.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/ffcodec.h"
#include "io/stale.h"

static int sf_format_for(lq_format fmt, int bits)
{
    int sub = bits == 16 ? SF_FORMAT_PCM_16 : bits == 24 ? SF_FORMAT_PCM_24 : SF_FORMAT_FLOAT;
    switch (fmt) {
    case LQ_FMT_WAV: return SF_FORMAT_WAV | sub;
    case LQ_FMT_AIFF: return SF_FORMAT_AIFF | sub;
    case LQ_FMT_FLAC: return SF_FORMAT_FLAC | sub;
    case LQ_FMT_MP3: return SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    case LQ_FMT_OGG: return SF_FORMAT_OGG | SF_FORMAT_VORBIS;
    case LQ_FMT_OPUS: return SF_FORMAT_OGG | SF_FORMAT_OPUS;
    case LQ_FMT_AAC:
    case LQ_FMT_COUNT: break;
    }
    return 0;
}

/* libsndfile sets the bitrate of its lossy encoders through a compression level in
 * 0..1 (0 = highest quality).  For MP3 (LAME, constant bitrate) and Opus the level maps
 * linearly onto the encoder's bitrate range (libsndfile mpeg_l3_encode.c: 320..32 kbps;
 * ogg_opus.c: 256..6 kbps per channel).  Vorbis takes 1 - level as its VBR quality
 * (ogg_vorbis.c), whose nominal bitrate is libvorbis's own table (lib/modes/setup_44.c,
 * rate_mapping_44_stereo, per channel): q 0, 0.1, ..., 1 give 64, 80, 96, 112, 128, 160,
 * 192, 224, 256, 320 and 500 kbit/s for stereo; the quality is read off it, so that
 * 320 kbit/s (Spotify's "very high") is q 0.9, not the 500 kbit/s of q 1. */
static double vorbis_quality(double stereo_kbps)
{
    static const double kbps[11] = {64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 500};
    if (stereo_kbps <= kbps[0]) return 0.0;
    for (int i = 1; i < 11; i++)
        if (stereo_kbps <= kbps[i])
            return 0.1 * (i - 1 + (stereo_kbps - kbps[i - 1]) / (kbps[i] - kbps[i - 1]));
    return 1.0;
}

static double level_for(lq_format fmt, int kbps, int channels)
{
    double lv = 0.0;
    if (fmt == LQ_FMT_MP3) lv = (320.0 - kbps) / (320.0 - 32.0);
    else if (fmt == LQ_FMT_OPUS) lv = (256.0 - kbps / (double)channels) / (256.0 - 6.0);
    else if (fmt == LQ_FMT_OGG) lv = 1.0 - vorbis_quality(kbps * 2.0 / channels);
    return lv < 0 ? 0 : lv > 1 ? 1 : lv;
}

static lq_error open_hidden(lq_audio_out *o, lq_diag *d)
{
    o->tmp_path[0] = 0;
#ifdef O_TMPFILE
    o->fd = open(o->dir, O_TMPFILE | O_RDWR, 0644);
    if (o->fd >= 0) {
        snprintf(o->read_path, sizeof o->read_path, "/proc/self/fd/%d", o->fd);
        if (access(o->read_path, R_OK) == 0) return LQ_OK;
        close(o->fd);
    }
#endif
    lq_tmp_name(o->tmp_path, sizeof o->tmp_path, o->dir, LQ_TMP_EXPORT, "XXXXXX");
    o->fd = mkstemp(o->tmp_path);
    if (o->fd < 0) {
        o->tmp_path[0] = 0;
        return lq_diag_set(d, LQ_ERR_OUTPUT,
                           "%s: cannot create a file in the output folder (%s) (expected a "
                           "writable folder)",
                           o->dir, strerror(errno));
    }
    fchmod(o->fd, 0644);
    snprintf(o->read_path, sizeof o->read_path, "%s", o->tmp_path);
    return LQ_OK;
}

lq_error lq_audio_out_open(lq_audio_out *o, const char *dir, lq_format fmt, int rate,
                           int channels, int bits, int bitrate_kbps, const lq_out_meta *m,
                           size_t max_block, lq_diag *d)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    snprintf(o->dir, sizeof o->dir, "%s", dir);
    o->format = fmt;
    o->bits = lq_format_is_lossy(fmt) ? 0 : bits;
    o->channels = channels;
    o->max_block = max_block;
    lq_error e = open_hidden(o, d);
    if (e) return e;
    if (fmt == LQ_FMT_AAC) {
        const char *tags[4] = {m ? m->title : NULL, m ? m->artist : NULL, m ? m->album : NULL,
                               m ? m->description : NULL};
        e = lq_ff_writer_open(&o->ffw, o->read_path, rate, channels,
                              bitrate_kbps > 0 ? bitrate_kbps : 256, tags, d);
        if (!e && !(o->dbuf = malloc(max_block * (size_t)channels * sizeof *o->dbuf)))
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        if (e) lq_audio_out_discard(o);
        return e;
    }

    SF_INFO info = {.samplerate = rate, .channels = channels, .format = sf_format_for(fmt, bits)};
    if (!sf_format_check(&info)) {
        lq_audio_out_discard(o);
        return lq_diag_set(d, LQ_ERR_ENCODE,
                           "%s at %d Hz, %d channels, %d bit cannot be written by this "
                           "libsndfile (expected a supported combination)",
                           lq_format_names[fmt], rate, channels, bits);
    }
    o->sf = sf_open_fd(o->fd, SFM_WRITE, &info, SF_FALSE);
    if (!o->sf) {
        lq_audio_out_discard(o);
        return lq_diag_set(d, LQ_ERR_ENCODE, "cannot start the %s encoder (%s)",
                           lq_format_names[fmt], sf_strerror(NULL));
    }
    /* libsndfile's PEAK chunk (float WAV/AIFF) carries the time of writing: leave it out,
     * so the same input gives the same bytes whenever it is mastered */
    sf_command(o->sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
    if (lq_format_is_lossy(fmt)) {
        double lv = level_for(fmt, bitrate_kbps > 0 ? bitrate_kbps : 320, channels);
        if (fmt == LQ_FMT_MP3) {
            int mode = SF_BITRATE_MODE_CONSTANT;
            sf_command(o->sf, SFC_SET_BITRATE_MODE, &mode, sizeof mode);
        }
        sf_command(o->sf, SFC_SET_COMPRESSION_LEVEL, &lv, sizeof lv);
    } else if (fmt == LQ_FMT_FLAC) {
        double lv = 0.5;
        sf_command(o->sf, SFC_SET_COMPRESSION_LEVEL, &lv, sizeof lv);
    }
    if (fmt == LQ_FMT_WAV) {
        /* BWF bext v2 (EBU Tech 3285); loudness fields are written after verification
         * (lq_audio_out_patch_bext) and marked unused (0x7FFF) until then. */
        SF_BROADCAST_INFO bi;
        memset(&bi, 0, sizeof bi);
        snprintf(bi.description, sizeof bi.description, "%s",
                 m && m->description ? m->description : "");
        snprintf(bi.originator, sizeof bi.originator, "lacquer %s", lq_version());
        bi.version = 2;
        bi.loudness_value = bi.loudness_range = bi.max_true_peak_level = 0x7FFF;
        bi.max_momentary_loudness = bi.max_shortterm_loudness = 0x7FFF;
        snprintf(bi.coding_history, sizeof bi.coding_history,
                 "A=PCM,F=%d,W=%d,M=%s,T=lacquer\r\n", rate, bits == 32 ? 32 : bits,
                 channels == 2 ? "stereo" : "mono");
        bi.coding_history_size = (uint32_t)strlen(bi.coding_history);
        sf_command(o->sf, SFC_SET_BROADCAST_INFO, &bi, sizeof bi);
    }
    if (m) {
        /* Only valid UTF-8 reaches libsndfile: 1.2.0's FLAC writer frees a Vorbis comment
         * twice when libFLAC refuses an invalid one (an abort on `--artist $'\xff'`,
         * found by fuzz/fuzz_report).  The tags are written again with TagLib after
         * encoding (io/tags.c) in any case. */
        if (m->title && lq_utf8_invalid_at(m->title) < 0) sf_set_string(o->sf, SF_STR_TITLE, m->title);
        if (m->artist && lq_utf8_invalid_at(m->artist) < 0) sf_set_string(o->sf, SF_STR_ARTIST, m->artist);
        if (m->album && lq_utf8_invalid_at(m->album) < 0) sf_set_string(o->sf, SF_STR_ALBUM, m->album);
        sf_set_string(o->sf, SF_STR_SOFTWARE, "lacquer");
    }
    size_t ns = max_block * (size_t)channels;
    if (o->bits == 16 || o->bits == 24) o->ibuf = malloc(ns * sizeof *o->ibuf);
    else o->dbuf = malloc(ns * sizeof *o->dbuf);
    if (!o->ibuf && !o->dbuf) {
        lq_audio_out_discard(o);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    return LQ_OK;
}

lq_error lq_audio_out_write(lq_audio_out *o, const double *const *planar, size_t n,
                            lq_diag *d)
{
    const int nc = o->channels;
    if (n > o->max_block) return lq_diag_set(d, LQ_ERR_ARG, "block larger than max_block");
    if (o->ffw) {
        for (int c = 0; c < nc; c++)
            for (size_t i = 0; i < n; i++)
                if (planar[c][i] > 1.0 || planar[c][i] < -1.0) o->clipped++;
        lq_error e = lq_ff_writer_write(o->ffw, planar, n, d);
        if (!e) o->frames += (long long)n;
        return e;
    }
    sf_count_t w;
    if (o->ibuf) {
        const double scale = o->bits == 16 ? 32768.0 : 8388608.0;
        const long hi = o->bits == 16 ? 32767 : 8388607, lo = -hi - 1;
        const int shift = 32 - o->bits;
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < nc; c++) {
                long q = lrint(planar[c][i] * scale);
                if (q > hi || q < lo) {
                    o->clipped++;
                    q = q > hi ? hi : lo;
                }
                o->ibuf[i * (size_t)nc + (size_t)c] = (int)((uint32_t)q << shift);
            }
        w = sf_writef_int(o->sf, o->ibuf, (sf_count_t)n);
    } else {
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < nc; c++) {
                double v = planar[c][i];
                if (v > 1.0 || v < -1.0) o->clipped++;
                o->dbuf[i * (size_t)nc + (size_t)c] = v;
            }
        w = sf_writef_double(o->sf, o->dbuf, (sf_count_t)n);
    }
    if (w != (sf_count_t)n)
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: write failed (%s)", o->dir,
                           sf_strerror(o->sf));
    o->frames += (long long)n;
    return LQ_OK;
}

lq_error lq_audio_out_close(lq_audio_out *o, lq_diag *d)
{
    if (o->ffw) return lq_ff_writer_close(&o->ffw, d);
    if (!o->sf) return LQ_OK;
    int r = sf_close(o->sf);
    o->sf = NULL;
    /* nothing is written any more: the conversion buffers go (a run may keep many
     * closed files until it publishes them) */
    free(o->ibuf);
    free(o->dbuf);
    o->ibuf = NULL;
    o->dbuf = NULL;
    if (r != 0)
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: finishing the file failed (%s)", o->dir,
                           sf_error_number(r));
    return LQ_OK;
}

static int16_t bext_value(double v)
{
    if (!isfinite(v)) return 0x7FFF;
    double x = round(v * 100.0);
    if (x > 32767.0 || x < -32768.0) return 0x7FFF;
    return (int16_t)x;
}

lq_error lq_audio_out_patch_bext(lq_audio_out *o, double lufs, double lra, double tp,
                                 double max_m, double max_s, lq_diag *d)
{
    if (o->format != LQ_FMT_WAV) return LQ_OK;
    /* Walk the RIFF chunks to "bext"; the loudness fields follow Description(256),
     * Originator(32), OriginatorReference(32), OriginationDate(10), OriginationTime(8),
     * TimeReference(8), Version(2), UMID(64) = offset 412 (EBU Tech 3285 v2, 2011). */
    unsigned char hdr[12];
    if (pread(o->fd, hdr, 12, 0) != 12 || memcmp(hdr, "RIFF", 4) || memcmp(hdr + 8, "WAVE", 4))
        return lq_diag_set(d, LQ_ERR_OUTPUT, "written WAV has no RIFF header");
    off_t pos = 12;
    for (int guard = 0; guard < 64; guard++) {
        unsigned char ch[8];
        if (pread(o->fd, ch, 8, pos) != 8) break;
        uint32_t len = (uint32_t)ch[4] | (uint32_t)ch[5] << 8 | (uint32_t)ch[6] << 16 |
                       (uint32_t)ch[7] << 24;
        if (memcmp(ch, "bext", 4) == 0) {
            int16_t v[5] = {bext_value(lufs), bext_value(lra), bext_value(tp),
                            bext_value(max_m), bext_value(max_s)};
            unsigned char le[10];
            for (int i = 0; i < 5; i++) {
                le[2 * i] = (unsigned char)((uint16_t)v[i] & 0xFF);
                le[2 * i + 1] = (unsigned char)((uint16_t)v[i] >> 8);
            }
            if (pwrite(o->fd, le, 10, pos + 8 + 412) != 10)
                return lq_diag_set(d, LQ_ERR_OUTPUT, "cannot update the bext chunk (%s)",
                                   strerror(errno));
            return LQ_OK;
        }
        pos += 8 + (off_t)len + (len & 1);
    }
    return LQ_OK;
}

lq_error lq_audio_out_publish(lq_audio_out *o, const char *final_path, int force,
                              lq_diag *d)
{
    if (fsync(o->fd) != 0 && errno != EINVAL)
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot flush (%s)", final_path,
                           strerror(errno));
    if (o->tmp_path[0]) {
        /* Without force, link() (which never replaces) rather than a check then
         * rename(): another process publishing the same name between the two would
         * otherwise be overwritten.  Where hard links are not supported, the check. */
        if (!force) {
            if (link(o->tmp_path, final_path) == 0) {
                unlink(o->tmp_path);
                o->tmp_path[0] = 0;
                return LQ_OK;
            }
            if (errno == EEXIST)
                return lq_diag_set(d, LQ_ERR_EXISTS,
                                   "%s: already exists (expected a new file name, or --force)",
                                   final_path);
            if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS && errno != EMLINK)
                return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot create (%s)", final_path,
                                   strerror(errno));
        }
        if (!force && access(final_path, F_OK) == 0)
            return lq_diag_set(d, LQ_ERR_EXISTS,
                               "%s: already exists (expected a new file name, or --force)",
                               final_path);
        if (rename(o->tmp_path, final_path) != 0)
            return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot create (%s)", final_path,
                               strerror(errno));
        o->tmp_path[0] = 0;
        return LQ_OK;
    }
    /* O_TMPFILE: give the anonymous file a name.  linkat() never replaces, so with
     * force we link to a hidden name and rename over the old file. */
    if (linkat(AT_FDCWD, o->read_path, AT_FDCWD, final_path, AT_SYMLINK_FOLLOW) == 0)
        return LQ_OK;
    if (errno != EEXIST)
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot create (%s)", final_path,
                           strerror(errno));
    if (!force)
        return lq_diag_set(d, LQ_ERR_EXISTS,
                           "%s: already exists (expected a new file name, or --force)",
                           final_path);
    char tmp[4300];
    char fdname[32];
    snprintf(fdname, sizeof fdname, "%d", o->fd);
    lq_tmp_name(tmp, sizeof tmp, o->dir, LQ_TMP_PUBLISH, fdname);
    if (linkat(AT_FDCWD, o->read_path, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) != 0)
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot create (%s)", final_path,
                           strerror(errno));
    if (rename(tmp, final_path) != 0) {
        int err = errno;
        unlink(tmp);
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot replace (%s)", final_path,
                           strerror(err));
    }
    return LQ_OK;
}

void lq_audio_out_discard(lq_audio_out *o)
{
    lq_ff_writer_discard(&o->ffw);
    if (o->sf) sf_close(o->sf);
    o->sf = NULL;
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
    if (o->tmp_path[0]) unlink(o->tmp_path);
    o->tmp_path[0] = 0;
    free(o->ibuf);
    free(o->dbuf);
    o->ibuf = NULL;
    o->dbuf = NULL;
}
