/* Fuzz target: an album file (src/album/album_file.c, lq_album_spec_parse from a buffer).
 * Track files named in the seeds (a.wav, b.wav) exist in the scratch folder: short
 * generated audio, so the track checks and the CD layout run too. */
#include <stdio.h>
#include <stdlib.h>

#include "album/album.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_name[1024];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_name[0]) {
        char p[1024];
        snprintf(p, sizeof p, "%s/a.wav", lqf_scratch());
        if (lqf_make_wav(p, 44100, 2, 4410) != 0) abort();
        snprintf(p, sizeof p, "%s/b.wav", lqf_scratch());
        if (lqf_make_wav(p, 48000, 1, 4800) != 0) abort();
        snprintf(g_name, sizeof g_name, "%s/album.yaml", lqf_scratch());
    }
    char *text = lqf_strdup(data, size);
    lq_album_spec *s = NULL;
    lq_diag d;
    if (lq_album_spec_parse(&s, text, g_name, lqf_preset_dir(), &d) == LQ_OK) {
        (void)lq_album_check_cd(s, &d);
        lq_album_spec_free(&s);
    }
    free(text);
    return 0;
}
