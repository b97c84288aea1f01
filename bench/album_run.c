/* album_run: helper for bench/album (not part of liblacquer; may print).
 *
 *   album_run gen OUT.wav SECONDS RATE SEED     a generated stereo mix (24-bit WAV),
 *                                               streamed (src/synth lqs_mixer)
 *
 * (bench/album masters them with `lacquer album`.) */
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

static int die(const char *msg)
{
    fprintf(stderr, "album_run: %s\n", msg);
    return 2;
}

static int gen(int argc, char **argv)
{
    if (argc != 6) return die("usage: gen OUT SECONDS RATE SEED");
    const double secs = atof(argv[3]);
    const int rate = atoi(argv[4]);
    const size_t total = (size_t)(secs * rate);
    lqs_mixer *m = lqs_mixer_new(rate, strtoull(argv[5], NULL, 10), 0.9, total);
    SF_INFO info = {.samplerate = rate, .channels = 2,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    SNDFILE *f = sf_open(argv[2], SFM_WRITE, &info);
    if (!m || !f) return die("cannot create the mix");
    enum { B = 4096 };
    double l[B], r[B], il[2 * B];
    for (size_t done = 0; done < total;) {
        size_t n = total - done < B ? total - done : B;
        lqs_mixer_render(m, l, r, n);
        for (size_t i = 0; i < n; i++) {
            il[2 * i] = l[i];
            il[2 * i + 1] = r[i];
        }
        sf_writef_double(f, il, (sf_count_t)n);
        done += n;
    }
    sf_close(f);
    lqs_mixer_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "gen")) return gen(argc, argv);
    return die("usage: album_run gen OUT.wav SECONDS RATE SEED");
}
