/* lacquer demo [OUT.wav] [--seconds S] [--rate HZ]: the built-in demo mix, a generated
 * ~30 s multi-instrument arrangement peaking near 0 dBFS, as a 24-bit WAV. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "synth.h"

enum { O_SECONDS, O_RATE, N_OPTIONS };

static const cli_option options[N_OPTIONS] = {
    [O_SECONDS] = {"--seconds", NULL, "S", "30", "length in seconds, 1 to 7200", 0, CLI_V_NONE},
    [O_RATE] = {"--rate", NULL, "HZ", "44100", "sample rate, 8000 to 384000 Hz", 0, CLI_V_NONE},
};

static int run(const cli_command *self, int argc, char **argv)
{
    const char *out = "demo-mix.wav", *v;
    double seconds = 30.0;
    long rate = 44100;
    int opt, rv;
    cli_parser ps;
    cli_parser_init(&ps, self, argc, argv);
    while ((rv = cli_next(&ps, &opt, &v)) != CLI_END) {
        if (rv == CLI_HELP) return LQ_EXIT_OK;
        if (rv == CLI_BAD) return LQ_EXIT_USAGE;
        char *end;
        if (rv == CLI_OPERAND) {
            out = v;
        } else if (opt == O_SECONDS) {
            seconds = strtod(v, &end);
            if (*end || !(seconds >= 1 && seconds <= 7200)) {
                cli_error("--seconds %s: expected 1 to 7200", v);
                return LQ_EXIT_USAGE;
            }
        } else {
            rate = strtol(v, &end, 10);
            if (*end || rate < 8000 || rate > 384000) {
                cli_error("--rate %s: expected 8000 to 384000 Hz", v);
                return LQ_EXIT_USAGE;
            }
        }
    }
    size_t total = (size_t)llround(seconds * (double)rate);
    SF_INFO info = {.samplerate = (int)rate, .channels = 2,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    SNDFILE *sf = sf_open(out, SFM_WRITE, &info);
    if (!sf) {
        cli_error("%s: cannot write (%s)", out, sf_strerror(NULL));
        return LQ_EXIT_OUTPUT;
    }
    sf_set_string(sf, SF_STR_TITLE, "lacquer demo mix");
    lqs_mixer *m = lqs_mixer_new((double)rate, 2026, 0.98, total);
    enum { B = 8192 };
    double *l = malloc(B * sizeof *l), *r = malloc(B * sizeof *r);
    int *iv = malloc(2 * B * sizeof *iv);
    if (!m || !l || !r || !iv) {
        cli_error("out of memory");
        sf_close(sf);
        return LQ_EXIT_INTERNAL;
    }
    for (size_t done = 0; done < total;) {
        size_t n = total - done < B ? total - done : B;
        lqs_mixer_render(m, l, r, n);
        for (size_t i = 0; i < n; i++) {
            /* 24-bit grid, exactly: the file reads back as the same numbers */
            iv[2 * i] = (int)(lrint(l[i] * 8388607.0) * 256);
            iv[2 * i + 1] = (int)(lrint(r[i] * 8388607.0) * 256);
        }
        sf_writef_int(sf, iv, (sf_count_t)n);
        done += n;
    }
    sf_close(sf);
    lqs_mixer_free(m);
    free(l), free(r), free(iv);
    printf("demo mix: %s (%.1f s, %ld Hz, 24-bit stereo)\n", out, seconds, rate);
    return LQ_EXIT_OK;
}

const cli_command cli_cmd_demo = {
    .name = "demo",
    .operands = "[OUT.wav]",
    .summary = "write the generated demo mix (a multi-instrument arrangement, 24-bit WAV)",
    .details = "OUT.wav defaults to demo-mix.wav in the current folder.\n",
    .options = options,
    .n_options = N_OPTIONS,
    .example = "demo mix.wav --seconds 10 && lacquer master mix.wav",
    .operand_value = CLI_V_FILE,
    .run = run,
};
