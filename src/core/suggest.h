/* "Did you mean ...?": the closest of a list of names to a misspelt one. */
#ifndef LQ_CORE_SUGGEST_H
#define LQ_CORE_SUGGEST_H

#include <stddef.h>

/* Optimal-string-alignment Damerau-Levenshtein distance (insertions, deletions,
 * substitutions and transpositions of adjacent characters each cost 1; Damerau 1964,
 * "A technique for computer detection and correction of spelling errors", CACM 7(3)),
 * ASCII case-insensitive.  Names longer than 63 characters compare as far apart. */
size_t lq_edit_distance(const char *a, const char *b);

/* The name closest to typed: the smallest distance if it is at most max(1, len/3)
 * (ties: the first in the list), else the only name that typed is a prefix of or that
 * is a prefix of typed (3 or more characters); NULL when nothing is close. */
const char *lq_suggest(const char *typed, const char *const *names, size_t n);

#endif
