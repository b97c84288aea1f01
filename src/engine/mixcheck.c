/* What a mastering engineer would tell the mixer, from the input's figures: the mix
 * problems mastering cannot fix, in plain words with the figure.  The findings go to
 * the top of the report (lq_job.mix_warnings). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "engine/job.h"

static void mix_warn(lq_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mix_warn(lq_job *j, const char *fmt, ...)
{
    if (j->n_mix_warnings >= LQ_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->mix_warnings[j->n_mix_warnings++], sizeof j->mix_warnings[0], fmt, ap);
    va_end(ap);
}

/* What a mastering engineer would tell the mixer, from the input's figures. */
void lq_job_check_mix(lq_job *j)
{
    const lq_meter_result *m = &j->in_meas;
    if (m->clipped_runs > 0)
        mix_warn(j, "the mix clips: %lld runs of 3 or more samples at full scale; "
                    "mastering cannot undo clipping (fix it in the mix, e.g. lower the "
                    "master fader)", m->clipped_runs);
    else if (m->sample_peak_dbfs > -0.1)
        mix_warn(j, "the mix peaks at %.2f dBFS: no headroom left; leave 3-6 dB of "
                    "headroom in the mix bounce", m->sample_peak_dbfs);
    double plr = m->true_peak_16x_dbtp - m->integrated_lufs;
    if (isfinite(plr) && plr < 8.0)
        mix_warn(j, "the mix is already heavily limited (peak-to-loudness ratio %.1f dB); "
                    "a master from it will sound flat — bounce the mix without the "
                    "bus limiter", plr);
    /* a phase meter averaging below -0.2 over a whole mix: a flipped channel, not just
     * wide or decorrelated material (noise sits near 0) */
    if (j->in_channels == 2 && m->correlation < -0.2)
        mix_warn(j, "left and right are out of phase (correlation %.2f): the mix will "
                    "lose its centre in mono — check for a flipped polarity",
                 m->correlation);
    for (int c = 0; c < j->in_channels; c++)
        if (m->dc_db[c] > -50.0) { /* a mean over the whole mix: -50 dBFS is audible trouble */
            mix_warn(j, "DC offset on channel %d (%.1f dBFS): remove it in the mix", c + 1,
                     m->dc_db[c]);
            break;
        }
    if (j->in_channels == 2 && fabs(m->low_end_balance_db) > 3.0)
        mix_warn(j, "the low end leans %s by %.1f dB (below 150 Hz): bass and kick "
                    "should sit in the centre",
                 m->low_end_balance_db > 0 ? "left" : "right", fabs(m->low_end_balance_db));
    if (!isfinite(m->integrated_lufs))
        mix_warn(j, "no loudness could be measured: the mix is silent (below -70 LUFS) or "
                    "shorter than 0.4 s, so no loudness target can be met");
    else if (m->integrated_lufs < -40.0)
        mix_warn(j, "the mix is very quiet (%.1f LUFS): check the bounce level",
                 m->integrated_lufs);
}

