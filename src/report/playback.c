#include "report/playback.h"

#include <math.h>

/* TARGETS.md, "Streaming and stores".  Spotify: -14 LUFS, quiet tracks turned up only
 * as far as -1 dBTP allows (Spotify for Artists, "Loudness normalization").  Apple
 * Music: Sound Check, about -16 LUFS, both ways (third-party figure).  YouTube: -14,
 * turned down only.  Tidal -14, Amazon -14 (third-party), Deezer -15 (third-party):
 * counted as turned down only, since turning up is not documented. */
const lq_service lq_services[] = {
    {"spotify", -14.0, 1, -1.0, "Spotify for Artists"},
    {"apple-music", -16.0, 1, INFINITY, "third-party (Sound Check)"},
    {"youtube", -14.0, 0, INFINITY, "YouTube"},
    {"tidal", -14.0, 0, INFINITY, "Tidal"},
    {"amazon-music", -14.0, 0, INFINITY, "third-party"},
    {"deezer", -15.0, 0, INFINITY, "third-party"},
};
const int lq_n_services = sizeof lq_services / sizeof lq_services[0];

double lq_service_gain(const lq_service *s, double lufs, double tp_dbtp)
{
    if (!isfinite(lufs)) return 0.0;
    double g = s->level_lufs - lufs;
    if (g <= 0.0) return g;
    if (!s->turns_up) return 0.0;
    if (isfinite(s->up_tp_limit) && isfinite(tp_dbtp) && tp_dbtp + g > s->up_tp_limit)
        g = fmax(0.0, s->up_tp_limit - tp_dbtp);
    return g;
}
