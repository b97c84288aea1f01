/* Export file names (naming.h). */
#include "engine/naming.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *lq_name_default_title(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    const char *dot = strrchr(b, '.');
    if (dot && dot != b) n = (size_t)(dot - b);
    char *t = malloc(n + 1);
    if (!t) return NULL;
    memcpy(t, b, n);
    t[n] = 0;
    return t;
}

char *lq_name_track_file(const char *pattern, const lq_name_fields *f, int numbered)
{
    char buf[1100];
    if (numbered && !strstr(pattern, "{track}") && !strstr(pattern, "{track:02}")) {
        snprintf(buf, sizeof buf, "{track:02} %s", pattern);
        pattern = buf;
    }
    return lq_name_expand(pattern, f);
}

char *lq_name_expand(const char *pattern, const lq_name_fields *f)
{
    char buf[1024], num[3][16];
    snprintf(num[0], sizeof num[0], "%d", f->track);
    snprintf(num[1], sizeof num[1], "%02d", f->track);
    snprintf(num[2], sizeof num[2], "%d", f->track_total);
    const char *const keys[] = {"{title}", "{target}", "{ext}", "{artist}", "{album}",
                                "{track}", "{track:02}", "{tracks}"};
    const char *vals[] = {f->title, f->target, f->ext, f->artist, f->album,
                          f->track ? num[0] : "", f->track ? num[1] : "",
                          f->track_total ? num[2] : ""};
    size_t o = 0;
    for (const char *p = pattern; *p && o < sizeof buf - 1;) {
        const char *sub = NULL;
        size_t skip = 0;
        if (*p == '{')
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
                if (strncmp(p, keys[k], strlen(keys[k])) == 0) {
                    sub = vals[k] ? vals[k] : "";
                    skip = strlen(keys[k]);
                }
        if (sub) {
            for (const char *s = sub; *s && o < sizeof buf - 1; s++)
                buf[o++] = *s == '/' ? '_' : *s;
            p += skip;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o] = 0;
    char *r = malloc(o + 1);
    if (r) memcpy(r, buf, o + 1);
    return r;
}
