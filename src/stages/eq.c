/* eq: linear-phase parametric EQ.
 *
 *   - eq: {length_ms: 186, bands: [{type: highpass, freq_hz: 25, slope_db_oct: 24},
 *          {type: low_shelf, freq_hz: 100, gain_db: -1.0, q: 0.7},
 *          {type: bell, freq_hz: 3000, gain_db: 1.5, q: 1.0, channels: side}]}
 *
 * Design.  Each band contributes the magnitude of an analogue prototype, in dB; the
 * bands acting on a channel are summed on a dense frequency grid (dsp/fir.h,
 * lq_fir_grid_points: 8 x the tap count), and the linear magnitude is turned into a
 * symmetric odd-length FIR (zero-phase spectrum, inverse FFT, Kaiser window, refined
 * by iterative pre-correction from 25 Hz up: lq_fir_design_refined).  Prototypes, with
 * w = f / freq_hz (the analogue transfer functions of R. Bristow-Johnson, "Cookbook
 * formulae for audio EQ biquad filter coefficients", evaluated on the analogue
 * frequency axis, i.e. without the bilinear transform's warping near Nyquist):
 *   bell        H(s) = (s^2 + s A/Q + 1) / (s^2 + s/(A Q) + 1),            A = 10^(g/40)
 *   low_shelf   H(s) = A (s^2 + s sqrt(A)/Q + A) / (A s^2 + s sqrt(A)/Q + 1)
 *   high_shelf  H(s) = A (A s^2 + s sqrt(A)/Q + 1) / (s^2 + s sqrt(A)/Q + A)
 *               (shelf_slope S instead of q: 1/Q = sqrt((A + 1/A)(1/S - 1) + 2), ibid.)
 *   highpass    |H|^2 = 1 / (1 + w^(-2n)),  lowpass |H|^2 = 1 / (1 + w^(2n)),
 *               n = slope_db_oct / 6 (Butterworth, S. Butterworth, "On the theory of
 *               filter amplifiers", Wireless Engineer 7, 1930; the magnitude formula is
 *               used directly, so n need not be an integer: 6..96 dB/oct)
 *   tilt        dB(f) = slope_db_oct * (u(f) - u(freq_hz)),
 *               u(f) = log2 |(j f + 20 Hz) / (1 + j f / 20 kHz)|,
 *               i.e. a first-order zero at 20 Hz and pole at 20 kHz raised to the power
 *               slope / 6.02: exactly slope dB/oct far from both corners, flat outside
 *               the audio band (so a tilt never boosts DC or ultrasonics without bound),
 *               0 dB at the pivot.
 *   curve       points: [[f_hz, gain_db], ...] (2..128 points, frequencies increasing):
 *               the gain interpolated linearly in dB over log2(f) between the points,
 *               flat (the end point's gain) below the first and above the last; what
 *               reference matching (engine/ltas.c, docs/REFERENCE.md) designs.
 * The analogue curve is used up to Nyquist at every rate, so freq_hz may lie above the
 * Nyquist frequency of a low rate (a lowpass at 30 kHz at 44.1 kHz simply acts as its
 * skirt below 22.05 kHz): no clamping is needed and the curve means the same at every
 * rate.
 *
 * Channels.  Stereo bands act on both channels; left/right bands on one; mid/side
 * bands on M = (L+R)/2 and S = (L-R)/2, decoded by L = M+S, R = M-S.  Filters are
 * grouped into at most two sections: L/R (stereo+left, stereo+right) and M/S (mid,
 * side; plus the stereo bands when there are no left/right bands).  Each section is
 * applied as  out = delay(in) + G * in  with G = F - (unit impulse at the centre), i.e.
 * the exact delayed input plus the filtered difference; a channel with no band has
 * G = 0 and is delayed exactly.  So a flat EQ, or side bands on a mono signal (S is then
 * exactly 0), leave the input bit-exact (only delayed, and the delay is compensated by
 * the pipeline).  On a mono input, stereo and mid bands apply; left, right and side
 * bands have nothing to act on.
 *
 * Convolution: dsp/conv.h (FFTW overlap-save, both channels of a section in one
 * convolver).  Latency per section: the convolver's hop + (taps-1)/2.
 *
 * Length: length_ms (default 186, 8203 taps at 44.1 kHz) scaled with the rate
 * (lq_fir_taps).  Low-frequency resolution is about 1.5 x 1000 / length_ms Hz: with
 * 186 ms, a 24 dB/oct high-pass at 25 Hz is held within 0.02 dB from 30 Hz up; features
 * narrower than ~8 Hz below 30 Hz are smoothed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/conv.h"
#include "dsp/fir.h"
#include "stage.h"
#include "stages/eq.h"

#define EQ_MAX_BANDS 24
#define EQ_MAX_POINTS 128     /* curve band: points kept inside the band (plain data) */
#define EQ_CHUNK 4096            /* frames per inner pass (bounds the scratch memory) */
#define EQ_REFINE_FROM_HZ 25.0   /* pre-correction range starts here (see fir.h) */
#define EQ_REFINE_PASSES 6
#define EQ_TILT_LO_HZ 20.0
#define EQ_TILT_HI_HZ 20000.0

enum { EQ_BELL, EQ_LOW_SHELF, EQ_HIGH_SHELF, EQ_HIGHPASS, EQ_LOWPASS, EQ_TILT, EQ_CURVE };
enum { EQ_CH_STEREO, EQ_CH_LEFT, EQ_CH_RIGHT, EQ_CH_MID, EQ_CH_SIDE };

static const char *const eq_type_names[] = {"bell",     "low_shelf", "high_shelf",
                                            "highpass", "lowpass",   "tilt",
                                            "curve",    NULL};
static const char *const eq_channel_names[] = {"stereo", "left", "right", "mid", "side", NULL};

typedef struct eq_band {
    int type;
    int channels;
    double freq_hz;
    double gain_db;
    double q;              /* bell, shelves */
    double slope_db_oct;   /* highpass/lowpass (6..96), tilt (-6..6) */
    int n_points;          /* curve */
    double point_hz[EQ_MAX_POINTS], point_db[EQ_MAX_POINTS];
} eq_band;

/* A curve band's gain at f: linear in dB over log2 f between its points, flat beyond. */
static double curve_point_db(const eq_band *b, double f)
{
    const int n = b->n_points;
    if (!(f > b->point_hz[0])) return b->point_db[0];
    if (f >= b->point_hz[n - 1]) return b->point_db[n - 1];
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (b->point_hz[mid] <= f) lo = mid;
        else hi = mid;
    }
    const double t = log2(f / b->point_hz[lo]) / log2(b->point_hz[hi] / b->point_hz[lo]);
    return b->point_db[lo] + t * (b->point_db[hi] - b->point_db[lo]);
}

typedef struct eq_config {
    double length_ms;
    int n_bands;
    eq_band band[EQ_MAX_BANDS];
} eq_config;

/* ---- the analogue curve --------------------------------------------------------- */

/* Magnitude of one band at f (Hz), in dB (see the top of the file for the formulas). */
static double band_db(const eq_band *b, double f)
{
    const double w = f / b->freq_hz;
    switch (b->type) {
    case EQ_BELL: {
        const double a = pow(10.0, b->gain_db / 40.0), x = 1.0 - w * w;
        const double nz = w * a / b->q, dp = w / (a * b->q);
        return 10.0 * log10((x * x + nz * nz) / (x * x + dp * dp));
    }
    case EQ_LOW_SHELF:
    case EQ_HIGH_SHELF: {
        const double a = pow(10.0, b->gain_db / 40.0), m = sqrt(a) * w / b->q;
        const double lo = (a - w * w) * (a - w * w) + m * m;          /* |s^2 + .. + A|^2 */
        const double hi = (1.0 - a * w * w) * (1.0 - a * w * w) + m * m; /* |A s^2 + .. + 1|^2 */
        return b->type == EQ_LOW_SHELF ? 10.0 * log10(a * a * lo / hi)
                                       : 10.0 * log10(a * a * hi / lo);
    }
    case EQ_HIGHPASS: {
        if (!(f > 0.0)) return -HUGE_VAL;
        const double n = b->slope_db_oct / 6.0;
        /* 1 + w^-2n, computed in the log domain so that w^-2n cannot overflow. */
        const double l = -2.0 * n * log10(w);
        return l > 30.0 ? -10.0 * l : -10.0 * log10(1.0 + pow(10.0, l));
    }
    case EQ_LOWPASS: {
        if (!(f > 0.0)) return 0.0;
        const double n = b->slope_db_oct / 6.0;
        const double l = 2.0 * n * log10(w);
        return l > 30.0 ? -10.0 * l : -10.0 * log10(1.0 + pow(10.0, l));
    }
    case EQ_TILT: {
        const double lo2 = EQ_TILT_LO_HZ * EQ_TILT_LO_HZ, hi2 = EQ_TILT_HI_HZ * EQ_TILT_HI_HZ;
        const double p = b->freq_hz;
        const double u = 0.5 * log2((f * f + lo2) / (1.0 + f * f / hi2));
        const double u0 = 0.5 * log2((p * p + lo2) / (1.0 + p * p / hi2));
        return b->slope_db_oct * (u - u0);
    }
    case EQ_CURVE:
        return curve_point_db(b, f);
    default:
        return 0.0;
    }
}

/* |H(f)|^2 of one band, linear: the same formulas as band_db without the logarithms
 * (the design grid has up to ~10^6 points per filter; this keeps the design fast). */
static double band_mag2(const eq_band *b, double a, double f)
{
    const double w = f / b->freq_hz;
    switch (b->type) {
    case EQ_BELL: {
        const double x = 1.0 - w * w;
        const double nz = w * a / b->q, dp = w / (a * b->q);
        return (x * x + nz * nz) / (x * x + dp * dp);
    }
    case EQ_LOW_SHELF:
    case EQ_HIGH_SHELF: {
        const double m = sqrt(a) * w / b->q;
        const double lo = (a - w * w) * (a - w * w) + m * m;
        const double hi = (1.0 - a * w * w) * (1.0 - a * w * w) + m * m;
        return b->type == EQ_LOW_SHELF ? a * a * lo / hi : a * a * hi / lo;
    }
    case EQ_HIGHPASS:
        if (!(f > 0.0)) return 0.0;
        return 1.0 / (1.0 + pow(w, -b->slope_db_oct / 3.0));
    case EQ_LOWPASS:
        return 1.0 / (1.0 + pow(w, b->slope_db_oct / 3.0));
    default:
        return pow(10.0, band_db(b, f) / 10.0);
    }
}

/* Does band b act on view v? */
static int band_in_view(const eq_band *b, int view)
{
    switch (b->channels) {
    case EQ_CH_STEREO: return 1;
    case EQ_CH_LEFT: return view == LQ_EQ_VIEW_LEFT;
    case EQ_CH_RIGHT: return view == LQ_EQ_VIEW_RIGHT;
    case EQ_CH_MID: return view == LQ_EQ_VIEW_MID;
    case EQ_CH_SIDE: return view == LQ_EQ_VIEW_SIDE;
    default: return 0;
    }
}

/* A band that changes nothing (zero gain / zero tilt).  Pass filters always act. */
static int band_is_flat(const eq_band *b)
{
    switch (b->type) {
    case EQ_HIGHPASS:
    case EQ_LOWPASS: return 0;
    case EQ_TILT: return b->slope_db_oct == 0.0;
    case EQ_CURVE:
        for (int i = 0; i < b->n_points; i++)
            if (b->point_db[i] != 0.0) return 0;
        return 1;
    default: return b->gain_db == 0.0;
    }
}

/* Sum in dB of the bands selected by mask (bit i = band i). */
static double curve_db(const eq_config *c, unsigned mask, double f)
{
    double s = 0.0;
    for (int i = 0; i < c->n_bands; i++)
        if (mask & (1u << i)) s += band_db(&c->band[i], f);
    return s;
}

/* Mask of the non-flat bands acting on a view; with stereo_too == 0 the stereo bands
 * are left out (they are then applied in the other section). */
static unsigned view_mask(const eq_config *c, int view, int stereo_too)
{
    unsigned m = 0;
    for (int i = 0; i < c->n_bands; i++) {
        const eq_band *b = &c->band[i];
        if (band_is_flat(b) || !band_in_view(b, view)) continue;
        if (b->channels == EQ_CH_STEREO && !stereo_too) continue;
        m |= 1u << i;
    }
    return m;
}

lq_error lq_eq_curve(const void *eq_cfg, lq_eq_view view, const double *freqs_hz, size_t n,
                     double *mag_db_out, lq_diag *d)
{
    if (!eq_cfg || (n > 0 && (!freqs_hz || !mag_db_out)) || (int)view < 0 || view > 3)
        return lq_diag_set(d, LQ_ERR_ARG, "eq curve: bad arguments");
    const eq_config *c = eq_cfg;
    const unsigned m = view_mask(c, (int)view, 1);
    for (size_t i = 0; i < n; i++) mag_db_out[i] = curve_db(c, m, freqs_hz[i]);
    return LQ_OK;
}

unsigned lq_eq_views_used(const void *eq_cfg)
{
    unsigned u = 0;
    for (int v = 0; v < 4; v++)
        if (view_mask(eq_cfg, v, 1)) u |= 1u << v;
    return u;
}

/* ---- config ------------------------------------------------------------------- */

static void eq_default(void *cfg)
{
    eq_config *c = cfg;
    memset(c, 0, sizeof *c);
    c->length_ms = 186.0;
}

/* points: [[f_hz, gain_db], ...] of a curve band. */
static lq_error eq_parse_points(eq_band *b, const lq_node *map, lq_diag *d)
{
    const lq_node *pts = lq_node_get(map, "points");
    if (!pts)
        return lq_cfg_missing(d, map, "points",
                              "a list of [frequency in Hz, gain in dB] pairs, 2 to 128");
    lq_error e = lq_cfg_expect_seq(pts, 2, EQ_MAX_POINTS, "[frequency in Hz, gain in dB] pairs",
                                   d);
    if (e) return e;
    b->n_points = 0;
    for (size_t i = 0; i < pts->count; i++) {
        const lq_node *p = pts->items[i];
        double f, g;
        if (p->type != LQ_NODE_SEQ || p->count != 2 || !lq_cfg_scalar_number(p->items[0], &f) ||
            !lq_cfg_scalar_number(p->items[1], &g))
            return lq_cfg_error(d, p, "not a point (expected [frequency in Hz, gain in dB])");
        if (!(f >= 10.0 && f <= 96000.0))
            return lq_cfg_error(d, p->items[0], "%g Hz is out of range (expected 10..96000 Hz)",
                                f);
        if (i > 0 && !(f > b->point_hz[i - 1]))
            return lq_cfg_error(d, p->items[0], "%g Hz does not follow %g Hz (expected the "
                                "points' frequencies in increasing order)", f,
                                b->point_hz[i - 1]);
        if (!(g >= -24.0 && g <= 24.0))
            return lq_cfg_error(d, p->items[1], "%g dB is out of range (expected -24..24 dB)",
                                g);
        b->point_hz[i] = f;
        b->point_db[i] = g;
        b->n_points++;
    }
    return LQ_OK;
}

static lq_error eq_parse_band(eq_band *b, const lq_node *map, lq_diag *d)
{
    static const char *const keys_bell[] = {"type", "freq_hz", "gain_db", "q", "channels",
                                            NULL};
    static const char *const keys_shelf[] = {"type",        "freq_hz",  "gain_db", "q",
                                             "shelf_slope", "channels", NULL};
    static const char *const keys_pass[] = {"type", "freq_hz", "slope_db_oct", "channels",
                                            NULL};
    static const char *const keys_tilt[] = {"type", "freq_hz", "slope_db_oct", "channels",
                                            NULL};
    static const char *const keys_curve[] = {"type", "points", "channels", NULL};
    static const char *const any_keys[] = {"type", "freq_hz", "gain_db", "q", "shelf_slope",
                                           "slope_db_oct", "points", "channels", NULL};
    lq_error e;
    if (!map || map->type != LQ_NODE_MAP) return lq_cfg_expect_map(map, any_keys, "eq band", d);
    if (!lq_node_get(map, "type"))
        return lq_cfg_missing(d, map, "type",
                              "bell, low_shelf, high_shelf, highpass, lowpass, tilt or curve");
    if ((e = lq_cfg_enum(map, "type", eq_type_names, &b->type, d))) return e;

    const char *const *keys = keys_bell;
    const char *what = "eq bell band";
    switch (b->type) {
    case EQ_LOW_SHELF: keys = keys_shelf; what = "eq low_shelf band"; break;
    case EQ_HIGH_SHELF: keys = keys_shelf; what = "eq high_shelf band"; break;
    case EQ_HIGHPASS: keys = keys_pass; what = "eq highpass band"; break;
    case EQ_LOWPASS: keys = keys_pass; what = "eq lowpass band"; break;
    case EQ_TILT: keys = keys_tilt; what = "eq tilt band"; break;
    case EQ_CURVE: keys = keys_curve; what = "eq curve band"; break;
    default: break;
    }
    if ((e = lq_cfg_expect_map(map, keys, what, d))) return e;

    b->channels = EQ_CH_STEREO;
    if ((e = lq_cfg_enum(map, "channels", eq_channel_names, &b->channels, d))) return e;
    if (b->type == EQ_CURVE) return eq_parse_points(b, map, d);

    /* freq_hz: required except for tilt (pivot, default 1 kHz).  The range is checked
     * here independently of the rate; see the top of the file for what happens above
     * a low rate's Nyquist frequency. */
    if (b->type == EQ_TILT) {
        b->freq_hz = 1000.0;
    } else if (!lq_node_get(map, "freq_hz")) {
        return lq_cfg_missing(d, map, "freq_hz", "a frequency in Hz, 10..96000");
    }
    if ((e = lq_cfg_number(map, "freq_hz", 10.0, 96000.0, "Hz", &b->freq_hz, d))) return e;

    switch (b->type) {
    case EQ_BELL:
    case EQ_LOW_SHELF:
    case EQ_HIGH_SHELF:
        if (!lq_node_get(map, "gain_db"))
            return lq_cfg_missing(d, map, "gain_db", "a gain in dB, -24..24");
        if ((e = lq_cfg_number(map, "gain_db", -24.0, 24.0, "dB", &b->gain_db, d))) return e;
        if (b->type == EQ_BELL) {
            b->q = 1.0;
            if ((e = lq_cfg_number(map, "q", 0.1, 40.0, "Q", &b->q, d))) return e;
        } else {
            b->q = 0.70710678118654752440; /* 1/sqrt(2): Butterworth-like shelf */
            const lq_node *qn = lq_node_get(map, "q"), *sn = lq_node_get(map, "shelf_slope");
            if (qn && sn)
                return lq_cfg_error(d, sn, "give either q or shelf_slope, not both "
                                           "(expected one of them)");
            if ((e = lq_cfg_number(map, "q", 0.1, 10.0, "Q", &b->q, d))) return e;
            if (sn) {
                double s = 1.0;
                if ((e = lq_cfg_number(map, "shelf_slope", 0.05, 1.0, "shelf slope (RBJ S)",
                                       &s, d)))
                    return e;
                /* RBJ cookbook: 1/Q = sqrt((A + 1/A)(1/S - 1) + 2). */
                const double a = pow(10.0, b->gain_db / 40.0);
                b->q = 1.0 / sqrt((a + 1.0 / a) * (1.0 / s - 1.0) + 2.0);
            }
        }
        break;
    case EQ_HIGHPASS:
    case EQ_LOWPASS:
        b->slope_db_oct = 12.0;
        if ((e = lq_cfg_number(map, "slope_db_oct", 6.0, 96.0, "dB per octave",
                               &b->slope_db_oct, d)))
            return e;
        break;
    case EQ_TILT:
        if (!lq_node_get(map, "slope_db_oct"))
            return lq_cfg_missing(d, map, "slope_db_oct", "a tilt in dB per octave, -6..6");
        if ((e = lq_cfg_number(map, "slope_db_oct", -6.0, 6.0, "dB per octave",
                               &b->slope_db_oct, d)))
            return e;
        break;
    default:
        break;
    }
    return LQ_OK;
}

static lq_error eq_parse(void *cfg, const lq_node *map, lq_diag *d)
{
    static const char *const keys[] = {"length_ms", "bands", NULL};
    eq_config *c = cfg;
    lq_error e = lq_cfg_expect_map(map, keys, "eq stage", d);
    if (e) return e;
    if ((e = lq_cfg_number(map, "length_ms", 10.0, 2000.0, "milliseconds", &c->length_ms, d)))
        return e;
    const lq_node *bands = lq_node_get(map, "bands");
    if (!bands) return LQ_OK;
    if ((e = lq_cfg_expect_seq(bands, 0, EQ_MAX_BANDS, "eq bands (at most 24)", d))) return e;
    c->n_bands = 0;
    for (size_t i = 0; i < bands->count; i++) {
        eq_band b;
        memset(&b, 0, sizeof b);
        if ((e = eq_parse_band(&b, bands->items[i], d))) return e;
        c->band[c->n_bands++] = b;
    }
    return LQ_OK;
}

static int eq_is_identity(const void *cfg)
{
    const eq_config *c = cfg;
    for (int i = 0; i < c->n_bands; i++)
        if (!band_is_flat(&c->band[i])) return 0;
    return 1;
}

/* ---- state -------------------------------------------------------------------- */

typedef struct eq_section {
    int ms;                 /* 1: mid/side domain */
    int active[2];          /* channel (or M/S component) has a filter */
    lq_conv *conv;          /* nch -> nch, diagonal; NULL entries for inactive */
    double *ring[2];        /* dry delay, ring_len frames */
    size_t ring_len, ring_pos;
    size_t latency;
} eq_section;

typedef struct eq_state {
    int nch;
    size_t ntaps;
    size_t latency;
    int n_sections;
    eq_section sec[2];
    double *tmp[2];         /* EQ_CHUNK each */
} eq_state;

static void eq_destroy(void *state)
{
    eq_state *s = state;
    if (!s) return;
    for (int k = 0; k < 2; k++) {
        lq_conv_destroy(&s->sec[k].conv);
        free(s->sec[k].ring[0]);
        free(s->sec[k].ring[1]);
        free(s->tmp[k]);
    }
    free(s);
}

/* Design F for the bands in mask (taps must hold ntaps). */
static lq_error design_full(double *taps, size_t ntaps, double rate, const eq_config *c,
                            unsigned mask, lq_diag *d)
{
    const size_t np = lq_fir_grid_points(ntaps);
    double *amp = malloc(np * sizeof(double));
    if (!amp) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (eq design)");
    const double df = rate / (double)(2 * (np - 1));
    double a[EQ_MAX_BANDS];  /* A = 10^(gain/40) per band, computed once */
    for (int i = 0; i < c->n_bands; i++) a[i] = pow(10.0, c->band[i].gain_db / 40.0);
    for (size_t k = 0; k < np; k++) {
        double p2 = 1.0;
        for (int i = 0; i < c->n_bands; i++)
            if (mask & (1u << i)) p2 *= band_mag2(&c->band[i], a[i], (double)k * df);
        amp[k] = isfinite(p2) ? sqrt(p2) : 0.0;
    }
    lq_error e = lq_fir_design_refined(taps, ntaps, rate, amp, np, EQ_REFINE_FROM_HZ,
                                       EQ_REFINE_PASSES, d);
    free(amp);
    return e;
}

/* Design G = F - unit impulse for the bands in mask. */
static lq_error design_residual(double *taps, size_t ntaps, double rate, const eq_config *c,
                                unsigned mask, lq_diag *d)
{
    lq_error e = design_full(taps, ntaps, rate, c, mask, d);
    if (e) return e;
    taps[(ntaps - 1) / 2] -= 1.0;
    return LQ_OK;
}

lq_error lq_eq_design_taps(const void *eq_cfg, lq_eq_view view, double rate, double *taps,
                           size_t ntaps, lq_diag *d)
{
    if (!eq_cfg || !taps || (int)view < 0 || view > 3)
        return lq_diag_set(d, LQ_ERR_ARG, "eq design: bad arguments");
    return design_full(taps, ntaps, rate, eq_cfg, view_mask(eq_cfg, (int)view, 1), d);
}

static lq_error section_init(eq_section *sec, int ms, const unsigned mask[2], int nch,
                             size_t ntaps, double rate, const eq_config *c, size_t max_block,
                             lq_diag *d)
{
    lq_error e = LQ_OK;
    double *taps[2] = {NULL, NULL};
    const double *mat[4] = {NULL, NULL, NULL, NULL};
    sec->ms = ms;
    for (int k = 0; k < nch; k++) {
        sec->active[k] = mask[k] != 0;
        if (!sec->active[k]) continue;
        if (k == 1 && mask[1] == mask[0]) {  /* same bands on both: design once */
            mat[k * nch + k] = taps[0];
            continue;
        }
        taps[k] = malloc(ntaps * sizeof(double));
        if (!taps[k]) {
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (eq)");
            goto done;
        }
        if ((e = design_residual(taps[k], ntaps, rate, c, mask[k], d))) goto done;
        mat[k * nch + k] = taps[k];
    }
    if ((e = lq_conv_new_matrix(&sec->conv, (size_t)nch, (size_t)nch, mat, ntaps, max_block,
                                d)))
        goto done;
    sec->latency = lq_conv_latency(sec->conv) + lq_fir_delay(ntaps);
    sec->ring_len = sec->latency;
    for (int k = 0; k < nch; k++) {
        sec->ring[k] = calloc(sec->ring_len, sizeof(double));
        if (!sec->ring[k]) {
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (eq delay)");
            goto done;
        }
    }
done:
    free(taps[0]);
    free(taps[1]);
    return e;
}

static lq_error eq_create(void **state, const void *cfg, const lq_stage_env *env, lq_diag *d)
{
    const eq_config *c = cfg;
    if (env->channels < 1 || env->channels > 2 || !(env->sample_rate > 0.0))
        return lq_diag_set(d, LQ_ERR_ARG, "eq: %d channels at %g Hz", env->channels,
                           env->sample_rate);
    eq_state *s = calloc(1, sizeof *s);
    if (!s) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    s->nch = env->channels;
    s->ntaps = lq_fir_taps(c->length_ms, env->sample_rate);
    lq_error e = LQ_OK;

    /* Which filters each section needs (see the top of the file). */
    unsigned lr[2] = {0, 0}, ms[2] = {0, 0};
    if (s->nch == 1) {
        lr[0] = view_mask(c, LQ_EQ_VIEW_MID, 1);
    } else {
        const int has_lr = (view_mask(c, LQ_EQ_VIEW_LEFT, 0) | view_mask(c, LQ_EQ_VIEW_RIGHT, 0)) != 0;
        const int has_ms = (view_mask(c, LQ_EQ_VIEW_MID, 0) | view_mask(c, LQ_EQ_VIEW_SIDE, 0)) != 0;
        if (has_ms && !has_lr) {
            ms[0] = view_mask(c, LQ_EQ_VIEW_MID, 1);
            ms[1] = view_mask(c, LQ_EQ_VIEW_SIDE, 1);
        } else {
            lr[0] = view_mask(c, LQ_EQ_VIEW_LEFT, 1);
            lr[1] = view_mask(c, LQ_EQ_VIEW_RIGHT, 1);
            ms[0] = view_mask(c, LQ_EQ_VIEW_MID, 0);
            ms[1] = view_mask(c, LQ_EQ_VIEW_SIDE, 0);
        }
    }
    if (lr[0] || lr[1]) {
        if ((e = section_init(&s->sec[s->n_sections], 0, lr, s->nch, s->ntaps,
                              env->sample_rate, c, env->max_block, d)))
            goto fail;
        s->n_sections++;
    }
    if (ms[0] || ms[1]) {
        if ((e = section_init(&s->sec[s->n_sections], 1, ms, s->nch, s->ntaps,
                              env->sample_rate, c, env->max_block, d)))
            goto fail;
        s->n_sections++;
    }
    for (int k = 0; k < s->nch; k++) {
        s->tmp[k] = calloc(EQ_CHUNK, sizeof(double));
        if (!s->tmp[k]) {
            e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory (eq)");
            goto fail;
        }
    }
    for (int i = 0; i < s->n_sections; i++) s->latency += s->sec[i].latency;
    *state = s;
    return LQ_OK;
fail:
    eq_destroy(s);
    return e;
}

static size_t eq_latency(const void *state)
{
    return ((const eq_state *)state)->latency;
}

/* Delay x[0..n) in place through a ring of len frames starting at pos. */
static void ring_delay(double *ring, size_t len, size_t pos, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double v = ring[pos];
        ring[pos] = x[i];
        x[i] = v;
        if (++pos == len) pos = 0;
    }
}

static void section_process(eq_section *sec, int nch, double *const *tmp, double *const *buf,
                            size_t n)
{
    if (sec->ms) {
        double *l = buf[0], *r = buf[1], *m = tmp[0], *sd = tmp[1];
        for (size_t i = 0; i < n; i++) {
            m[i] = 0.5 * (l[i] + r[i]);
            sd[i] = 0.5 * (l[i] - r[i]);
        }
    } else {
        for (int k = 0; k < nch; k++) memcpy(tmp[k], buf[k], n * sizeof(double));
    }
    lq_conv_process_matrix(sec->conv, (const double *const *)tmp, tmp, n);
    for (int k = 0; k < nch; k++) ring_delay(sec->ring[k], sec->ring_len, sec->ring_pos, buf[k], n);
    sec->ring_pos = (sec->ring_pos + n) % sec->ring_len;
    if (sec->ms) {
        double *l = buf[0], *r = buf[1];
        const double *m = tmp[0], *sd = tmp[1];
        for (size_t i = 0; i < n; i++) {
            l[i] += m[i] + sd[i];
            r[i] += m[i] - sd[i];
        }
    } else {
        for (int k = 0; k < nch; k++) {
            if (!sec->active[k]) continue;
            double *x = buf[k];
            const double *g = tmp[k];
            for (size_t i = 0; i < n; i++) x[i] += g[i];
        }
    }
}

static void eq_process(void *state, double *const *buf, size_t n)
{
    eq_state *s = state;
    size_t off = 0;
    while (off < n) {
        size_t chunk = n - off < EQ_CHUNK ? n - off : EQ_CHUNK;
        double *b[2] = {buf[0] + off, s->nch > 1 ? buf[1] + off : NULL};
        for (int i = 0; i < s->n_sections; i++)
            section_process(&s->sec[i], s->nch, s->tmp, b, chunk);
        off += chunk;
    }
}

static void eq_reset(void *state)
{
    eq_state *s = state;
    for (int i = 0; i < s->n_sections; i++) {
        eq_section *sec = &s->sec[i];
        lq_conv_reset(sec->conv);
        for (int k = 0; k < s->nch; k++) memset(sec->ring[k], 0, sec->ring_len * sizeof(double));
        sec->ring_pos = 0;
    }
}

static void eq_report(const void *state, json_t *obj)
{
    const eq_state *s = state;
    json_object_set_new(obj, "fir_taps", json_integer((json_int_t)s->ntaps));
    json_object_set_new(obj, "latency_frames", json_integer((json_int_t)s->latency));
    json_object_set_new(obj, "sections", json_integer(s->n_sections));
}

const lq_stage_vt lq_stage_eq = {
    .name = "eq",
    .config_size = sizeof(eq_config),
    .config_default = eq_default,
    .config_parse = eq_parse,
    .config_free = NULL,
    .config_is_identity = eq_is_identity,
    .create = eq_create,
    .latency = eq_latency,
    .process = eq_process,
    .reset = eq_reset,
    .report = eq_report,
    .destroy = eq_destroy,
};
