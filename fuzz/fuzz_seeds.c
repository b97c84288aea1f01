/* Seed audio for fuzz_audio: tiny generated files of every container, encoding, channel
 * count and odd rate lacquer reads (written with libsndfile).  Usage: fuzz_seeds DIR */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>

static int put(const char *dir, const char *name, int format, int rate, int ch, long frames)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    SF_INFO info = {.samplerate = rate, .channels = ch, .format = format};
    SNDFILE *sf = sf_open(p, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "%s: %s\n", p, sf_strerror(NULL));
        return 1;
    }
    for (long i = 0; i < frames; i++) {
        double x[2] = {0.5 * sin(2 * M_PI * 1000.0 * (double)i / rate),
                       (i / 8) % 2 ? 0.9 : -0.9};
        sf_writef_double(sf, x, 1);
    }
    return sf_close(sf) != 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    const char *d = argv[1];
    int bad = 0;
    bad |= put(d, "pcm16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 64);
    bad |= put(d, "pcm24-mono.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 8000, 1, 40);
    bad |= put(d, "float.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, 48);
    bad |= put(d, "ext.wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_24, 96000, 2, 48);
    bad |= put(d, "rf64.wav", SF_FORMAT_RF64 | SF_FORMAT_PCM_16, 48000, 1, 32);
    bad |= put(d, "u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 22050, 1, 32);
    bad |= put(d, "one.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 384000, 1, 1);
    bad |= put(d, "aiff16.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 44100, 2, 32);
    bad |= put(d, "flac.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 256);
    bad |= put(d, "vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 1, 256);
    bad |= put(d, "opus.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 1, 960);
    bad |= put(d, "mp3.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 1, 1152);
    return bad;
}
