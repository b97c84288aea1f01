/* Fuzz target: tags written into exports (src/io/tags.c -> TagLib).  The input's lines
 * are title, artist, album, album artist, genre, label, ISRC (any bytes, invalid UTF-8
 * included); its first byte picks the format and the year/track numbers.  Each run
 * writes into a fresh copy of a short generated file of that format. */
#include <fcntl.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "io/tags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    lq_format fmt;
    int sf_format;
    const char *ext;
} kinds[] = {
    {LQ_FMT_WAV, SF_FORMAT_WAV | SF_FORMAT_PCM_16, "wav"},
    {LQ_FMT_FLAC, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "flac"},
    {LQ_FMT_AIFF, SF_FORMAT_AIFF | SF_FORMAT_PCM_16, "aiff"},
    {LQ_FMT_OGG, SF_FORMAT_OGG | SF_FORMAT_VORBIS, "ogg"},
    {LQ_FMT_OPUS, SF_FORMAT_OGG | SF_FORMAT_OPUS, "opus"},
    {LQ_FMT_MP3, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, "mp3"},
};
enum { N_KINDS = sizeof kinds / sizeof kinds[0] };
static unsigned char *g_template[N_KINDS];
static size_t g_template_len[N_KINDS];

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void setup(void)
{
    for (int k = 0; k < N_KINDS; k++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/template.%s", lqf_scratch(), kinds[k].ext);
        SF_INFO info = {.samplerate = 48000, .channels = 2, .format = kinds[k].sf_format};
        SNDFILE *sf = sf_open(p, SFM_WRITE, &info);
        if (!sf) abort();
        static double zeros[2 * 4800];
        sf_writef_double(sf, zeros, 4800);
        sf_close(sf);
        g_template[k] = slurp(p, &g_template_len[k]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_template[0]) setup();
    if (!size) return 0;
    unsigned pick = data[0];
    int k = (int)(pick % N_KINDS);
    char name[32];
    snprintf(name, sizeof name, "export.%s", kinds[k].ext);
    const char *path = lqf_write(name, g_template[k], g_template_len[k]);
    char *text = lqf_strdup(data + 1, size - 1);
    const char *field[7] = {0};
    char *s = text;
    for (int i = 0; i < 7 && s; i++) {
        field[i] = s;
        char *nl = memchr(s, '\n', strlen(s));
        if (nl) *nl = '\0';
        s = nl ? nl + 1 : NULL;
    }
    lq_tags t = {.title = field[0], .artist = field[1], .album = field[2],
                 .album_artist = field[3], .genre = field[4], .label = field[5],
                 .isrc = field[6], .year = (int)(pick * 13u) - 1000,
                 .track = (int)(pick / 8), .track_total = (int)(pick % 8) * 3};
    lq_diag d;
    (void)lq_tags_write(path, kinds[k].fmt, &t, &d);
    free(text);
    return 0;
}
