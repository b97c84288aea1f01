/* codec_rounds: helper for bench/codec_rounds (not part of liblacquer; may print).
 *
 *   codec_rounds gen OUT.wav STYLE SECONDS SEED   a mix of one src/synth style (dense,
 *                                                 sparse, dynamic, bass-heavy), 24-bit
 *                                                 44.1 kHz WAV,
 *                                                 normalised to a 0.9 sample peak
 *
 * (bench/codec_rounds masters them and counts the whole-file codec verifications.) */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

static int die(const char *msg)
{
    fprintf(stderr, "codec_rounds: %s\n", msg);
    return 2;
}

static int gen(int argc, char **argv)
{
    if (argc != 6) return die("usage: gen OUT STYLE SECONDS SEED");
    int style = -1;
    for (int s = 0; s < LQS_STYLE_COUNT; s++)
        if (!strcmp(argv[3], lqs_style_names[s])) style = s;
    if (style < 0) return die("unknown style (dense, sparse, dynamic, bass-heavy)");
    const int rate = 44100;
    const size_t n = (size_t)(atof(argv[4]) * rate);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    float *il = malloc(2 * n * sizeof *il);
    if (!n || !l || !r || !il) return die("out of memory");
    lqs_mix_style(l, r, n, rate, strtoull(argv[5], NULL, 10), style);
    double pk = 0.0;
    for (size_t i = 0; i < n; i++) pk = fmax(pk, fmax(fabs(l[i]), fabs(r[i])));
    if (pk <= 0.0) return die("silent mix");
    for (size_t i = 0; i < n; i++) {
        il[2 * i] = (float)(l[i] * 0.9 / pk);
        il[2 * i + 1] = (float)(r[i] * 0.9 / pk);
    }
    SF_INFO info = {.samplerate = rate, .channels = 2,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    SNDFILE *f = sf_open(argv[2], SFM_WRITE, &info);
    if (!f) return die("cannot create the file");
    sf_writef_float(f, il, (sf_count_t)n);
    sf_close(f);
    free(l);
    free(r);
    free(il);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "gen")) return gen(argc, argv);
    return die("usage: codec_rounds gen OUT.wav STYLE SECONDS SEED");
}
