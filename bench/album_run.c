/* album_run: helper for bench/album (not part of liblacquer; may print).
 *
 *   album_run gen OUT.wav SECONDS RATE SEED     a generated stereo mix (24-bit WAV),
 *                                               streamed (src/synth lqs_mixer)
 *   album_run run OUTDIR THREADS TARGET... -- TRACK.wav...
 *                                               master the tracks as one album (album
 *                                               loudness policy, gentle preset, 2 s gaps)
 *                                               through the public album API
 *
 * (Until `lacquer album` reads album files in this build, the album is built in
 * memory, as tests/test_album.c does.) */
#include <malloc.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "album/album.h"
#include "lacquer/lacquer.h"
#include "synth.h"

lq_error lq_album_use_spec(lq_album *a, lq_album_spec *spec, const char *preset_dir);

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

static int run(int argc, char **argv)
{
    if (argc < 6) return die("usage: run OUTDIR THREADS TARGET... -- TRACK.wav...");
    const char *dir = getenv("LACQUER_PRESET_DIR");
    if (!dir) return die("set LACQUER_PRESET_DIR");
    int sep = 4;
    while (sep < argc && strcmp(argv[sep], "--")) sep++;
    const int nt = sep - 4, n = argc - sep - 1;
    if (nt < 1 || n < 1) return die("need targets and tracks");
    lq_album_track *t = calloc((size_t)n, sizeof *t);
    char (*titles)[32] = calloc((size_t)n, sizeof *titles);
    for (int i = 0; i < n; i++) {
        snprintf(titles[i], sizeof titles[i], "Track %d", i + 1);
        t[i].file = argv[sep + 1 + i];
        t[i].title = titles[i];
        t[i].gap_s = i ? 2.0 : 0.0;
    }
    lq_album_spec s = {.file = "bench album", .title = "Bench", .artist = "lacquer",
                       .preset = "gentle", .targets = argv + 4, .n_targets = (size_t)nt,
                       .loudness = LQ_ALBUM_LOUDNESS_ALBUM, .anchor = LQ_ANCHOR_LOUDEST,
                       .tracks = t, .n_tracks = (size_t)n};
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);   /* as `lacquer album` (src/cli/cmd_album.c) */
    lq_album *a = NULL;
    if (lq_album_new(&a) || lq_album_use_spec(a, &s, dir) || lq_album_set_output_dir(a, argv[2]))
        return die("out of memory");
    lq_album_set_threads(a, atoi(argv[3]));
    lq_album_set_force(a, 1);
    lq_error e = lq_album_run(a);
    if (e) fprintf(stderr, "album_run: %s\n", lq_album_error_message(a));
    lq_album_destroy(&a);
    free(t);
    free(titles);
    return e ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "gen")) return gen(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "run")) return run(argc, argv);
    return die("usage: album_run gen|run ...");
}
