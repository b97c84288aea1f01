/* Compact BS.1770-4 integrated loudness (kmeter.h).
 *
 * K-weighting is the two biquads of ITU-R BS.1770-4 Annex 1 (a high shelf of about
 * +4 dB above 1.5 kHz, then the RLB high-pass), given there at 48 kHz.  For other rates
 * the same analogue prototypes are mapped with the bilinear transform, using the
 * prototype parameters that reproduce the 48 kHz coefficients of the standard (shelf
 * f0 1681.974 Hz, gain 3.99984 dB, Q 0.70718; high-pass f0 38.1355 Hz, Q 0.50033), as
 * derived by B. De Man, "Evaluation of implementations of the EBU R128 loudness
 * measurement", AES 145th Convention (2018). */
#include "dsp/kmeter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BIN_LU 0.05
#define LO_LUFS -70.0
#define HI_LUFS 10.0
#define N_BINS 1600 /* (HI - LO) / BIN */

typedef struct biquad {
    double b0, b1, b2, a1, a2;
} biquad;

struct lq_kmeter {
    int channels;
    biquad shelf, hp;
    double z[2][4];         /* filter states (direct form II transposed, two stages) */
    size_t hop, in_hop;     /* 100 ms in frames; frames into the current sub-block */
    double sub[4];          /* energy of the last four 100 ms sub-blocks */
    int n_sub;
    double acc;
    long long count[N_BINS];
    double energy[N_BINS];
    /* lq_kmeter_keep_blocks: every block's energy, gated exactly (the bins take only
     * blocks beyond the room asked for) */
    double *blk;
    size_t n_blk, cap_blk;
};

static double run(const biquad *f, double *s, double x)
{
    double y = f->b0 * x + s[0];
    s[0] = f->b1 * x - f->a1 * y + s[1];
    s[1] = f->b2 * x - f->a2 * y;
    return y;
}

/* The two K-weighting biquads at a rate (see the top of the file). */
static void k_filters(double rate, biquad *shelf, biquad *hp)
{
    double K = tan(M_PI * 1681.974450955533 / rate), Q = 0.7071752369554196;
    double Vh = pow(10.0, 3.999843853973347 / 20.0), Vb = pow(Vh, 0.4996667741545416);
    double a0 = 1.0 + K / Q + K * K;
    *shelf = (biquad){(Vh + Vb * K / Q + K * K) / a0, 2.0 * (K * K - Vh) / a0,
                      (Vh - Vb * K / Q + K * K) / a0, 2.0 * (K * K - 1.0) / a0,
                      (1.0 - K / Q + K * K) / a0};
    K = tan(M_PI * 38.13547087602444 / rate);
    Q = 0.5003270373238773;
    a0 = 1.0 + K / Q + K * K;
    *hp = (biquad){1.0, -2.0, 1.0, 2.0 * (K * K - 1.0) / a0, (1.0 - K / Q + K * K) / a0};
}

/* |H(e^jw)|^2 of one biquad. */
static double biquad_mag2(const biquad *f, double w)
{
    const double c1 = cos(w), s1 = sin(w), c2 = cos(2.0 * w), s2 = sin(2.0 * w);
    const double nr = f->b0 + f->b1 * c1 + f->b2 * c2, ni = -(f->b1 * s1 + f->b2 * s2);
    const double dr = 1.0 + f->a1 * c1 + f->a2 * c2, di = -(f->a1 * s1 + f->a2 * s2);
    return (nr * nr + ni * ni) / (dr * dr + di * di);
}

double lq_kmeter_weight2(double rate, double f_hz)
{
    biquad shelf, hp;
    k_filters(rate, &shelf, &hp);
    const double w = 2.0 * M_PI * f_hz / rate;
    return biquad_mag2(&shelf, w) * biquad_mag2(&hp, w);
}

lq_error lq_kmeter_new(lq_kmeter **out, int channels, double rate)
{
    *out = NULL;
    if (channels < 1 || channels > 2 || !(rate >= 8000)) return LQ_ERR_ARG;
    lq_kmeter *m = calloc(1, sizeof *m);
    if (!m) return LQ_ERR_NOMEM;
    m->channels = channels;
    k_filters(rate, &m->shelf, &m->hp);
    m->hop = (size_t)llround(rate / 10.0);
    *out = m;
    return LQ_OK;
}

static void block_done(lq_kmeter *m)
{
    m->sub[m->n_sub % 4] = m->acc / (double)m->hop;
    m->n_sub++;
    m->acc = 0.0;
    if (m->n_sub < 4) return;
    double z = 0.25 * (m->sub[0] + m->sub[1] + m->sub[2] + m->sub[3]);
    if (m->n_blk < m->cap_blk) {
        m->blk[m->n_blk++] = z;
        return;
    }
    double l = -0.691 + 10.0 * log10(z);
    if (!(l > LO_LUFS)) return; /* the absolute gate */
    int b = (int)((l - LO_LUFS) / BIN_LU);
    if (b >= N_BINS) b = N_BINS - 1;
    m->count[b]++;
    m->energy[b] += z;
}

/* Stereo, up to the end of the current 100 ms sub-block: the filter states in locals
 * (the same operations in the same order as the loop below: the same bits). */
static void push_stereo(lq_kmeter *m, const double *L, const double *R, size_t n)
{
    const biquad sh = m->shelf, hp = m->hp;
    double a0 = m->z[0][0], a1 = m->z[0][1], a2 = m->z[0][2], a3 = m->z[0][3];
    double b0 = m->z[1][0], b1 = m->z[1][1], b2 = m->z[1][2], b3 = m->z[1][3];
    double acc = m->acc;
    for (size_t i = 0; i < n; i++) {
        const double xl = L[i], xr = R[i];
        const double ul = sh.b0 * xl + a0, ur = sh.b0 * xr + b0;
        a0 = sh.b1 * xl - sh.a1 * ul + a1;
        b0 = sh.b1 * xr - sh.a1 * ur + b1;
        a1 = sh.b2 * xl - sh.a2 * ul;
        b1 = sh.b2 * xr - sh.a2 * ur;
        const double yl = hp.b0 * ul + a2, yr = hp.b0 * ur + b2;
        a2 = hp.b1 * ul - hp.a1 * yl + a3;
        b2 = hp.b1 * ur - hp.a1 * yr + b3;
        a3 = hp.b2 * ul - hp.a2 * yl;
        b3 = hp.b2 * ur - hp.a2 * yr;
        double e = 0.0;
        e += yl * yl;
        e += yr * yr;
        acc += e;
    }
    m->z[0][0] = a0, m->z[0][1] = a1, m->z[0][2] = a2, m->z[0][3] = a3;
    m->z[1][0] = b0, m->z[1][1] = b1, m->z[1][2] = b2, m->z[1][3] = b3;
    m->acc = acc;
}

void lq_kmeter_push(lq_kmeter *m, const double *const *p, size_t n)
{
    if (m->channels == 2) {
        size_t i = 0;
        while (i < n) {
            size_t k = m->hop - m->in_hop;
            if (k > n - i) k = n - i;
            push_stereo(m, p[0] + i, p[1] + i, k);
            i += k;
            if ((m->in_hop += k) == m->hop) {
                m->in_hop = 0;
                block_done(m);
            }
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double e = 0.0;
        for (int c = 0; c < m->channels; c++) {
            double y = run(&m->hp, m->z[c] + 2, run(&m->shelf, m->z[c], p[c][i]));
            e += y * y; /* left and right weigh 1.0 (BS.1770-4 Table 3) */
        }
        m->acc += e;
        if (++m->in_hop == m->hop) {
            m->in_hop = 0;
            block_done(m);
        }
    }
}

lq_error lq_kmeter_keep_blocks(lq_kmeter *m, long long frames)
{
    const size_t cap = (size_t)(frames > 0 ? frames : 0) / m->hop + 2;
    double *b = malloc(cap * sizeof *b);
    if (!b) return LQ_ERR_NOMEM;
    free(m->blk);
    m->blk = b;
    m->cap_blk = cap;
    m->n_blk = 0;
    return LQ_OK;
}

double lq_kmeter_integrated(const lq_kmeter *m)
{
    /* BS.1770-4 section 5.1, in energies: the absolute gate (-70 LKFS), then the
     * relative gate 10 LU under the loudness of the blocks above it */
    const double abs_e = pow(10.0, (LO_LUFS + 0.691) / 10.0);
    double sum = 0.0;
    long long cnt = 0;
    for (size_t i = 0; i < m->n_blk; i++)
        if (m->blk[i] > abs_e) sum += m->blk[i], cnt++;
    for (int b = 0; b < N_BINS; b++) {
        sum += m->energy[b];
        cnt += m->count[b];
    }
    if (cnt == 0) return -HUGE_VAL;
    const double rel_e = 0.1 * (sum / (double)cnt);
    const double gate = -0.691 + 10.0 * log10(rel_e); /* the relative gate */
    sum = 0.0;
    cnt = 0;
    for (size_t i = 0; i < m->n_blk; i++)
        if (m->blk[i] > abs_e && m->blk[i] > rel_e) sum += m->blk[i], cnt++;
    for (int b = 0; b < N_BINS; b++)
        if (LO_LUFS + (b + 0.5) * BIN_LU > gate) {
            sum += m->energy[b];
            cnt += m->count[b];
        }
    return cnt ? -0.691 + 10.0 * log10(sum / (double)cnt) : -HUGE_VAL;
}

void lq_kmeter_destroy(lq_kmeter **m)
{
    if (*m) free((*m)->blk);
    free(*m);
    *m = NULL;
}
