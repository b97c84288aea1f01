/* Exact division of non-negative 64-bit integers by a divisor fixed in advance, by a
 * multiply and a shift instead of a hardware division (a sample loop's running means:
 * stages/limiter.c).  floor(n / d) = floor(n * m / 2^k) for every 0 <= n < 2^63 with
 * l = ceil(log2 d), k = 63 + l, m = ceil(2^k / d): m * d - 2^k < d <= 2^l = 2^(k - 63)
 * (T. Granlund, P. L. Montgomery, "Division by invariant integers using
 * multiplication", PLDI 1994, theorem 4.2).  m < 2^64 and n * m < 2^127. */
#ifndef LQ_CORE_DIVC_H
#define LQ_CORE_DIVC_H

#include <stdint.h>

__extension__ typedef unsigned __int128 lq_u128;

typedef struct lq_divc {
    uint64_t m;
    int k;
} lq_divc;

/* d >= 1 */
static inline lq_divc lq_divc_init(uint64_t d)
{
    int l = 0;
    while (l < 64 && ((lq_u128)1 << l) < d) l++;
    const int k = 63 + l;
    const lq_u128 p = (lq_u128)1 << k;
    return (lq_divc){(uint64_t)(p / d + (p % d != 0)), k};
}

/* floor(n / d) for 0 <= n < 2^63 */
static inline int64_t lq_divc_div(int64_t n, lq_divc c)
{
    return (int64_t)(((lq_u128)(uint64_t)n * c.m) >> c.k);
}

#endif
