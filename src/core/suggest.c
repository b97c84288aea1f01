/* "Did you mean ...?" for misspelt preset, target and command names. */
#include "core/suggest.h"

#include <ctype.h>
#include <string.h>

enum { MAXLEN = 63 };

size_t lq_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > MAXLEN || m > MAXLEN) return (size_t)-1;
    /* d[i][j]: distance between the first i characters of a and the first j of b */
    size_t d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= n; i++) d[i][0] = i;
    for (size_t j = 0; j <= m; j++) d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

const char *lq_suggest(const char *typed, const char *const *names, size_t n)
{
    size_t len = strlen(typed), limit = len / 3 > 1 ? len / 3 : 1, best = (size_t)-1;
    const char *pick = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t dist = lq_edit_distance(typed, names[i]);
        if (dist < best) best = dist, pick = names[i];
    }
    if (pick && best <= limit) return pick;
    /* else a unique prefix: "apple" for apple-music, "youtube-music" for youtube */
    pick = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t m = strlen(names[i]);
        int prefix = (len >= 3 && strncmp(names[i], typed, len) == 0) ||
                     (m >= 3 && strncmp(names[i], typed, m) == 0);
        if (!prefix) continue;
        if (pick) return NULL; /* several: no single guess */
        pick = names[i];
    }
    return pick;
}
