/* The output folder: mkdir -p that remembers what it made, so a failed run can undo it. */
#include "io/outdir.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void lq_outdir_undo(lq_outdir *o)
{
    char p[sizeof o->path];
    memcpy(p, o->path, sizeof p);
    for (; o->created > 0; o->created--) {
        if (rmdir(p) != 0) break; /* not empty (someone else wrote there): keep it */
        char *slash = strrchr(p, '/');
        if (!slash) break;
        while (slash > p && slash[-1] == '/') slash--;
        *slash = '\0';
    }
    o->created = 0;
}

lq_error lq_outdir_make(lq_outdir *o, const char *dir, lq_diag *d)
{
    o->created = 0;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (n == 0 || n >= sizeof o->path)
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot create the output folder (%s)", dir,
                           strerror(n ? ENAMETOOLONG : ENOENT));
    memcpy(o->path, dir, n);
    o->path[n] = '\0';

    struct stat st;
    if (stat(o->path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return LQ_OK;
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: is not a folder (expected an output folder)",
                           dir);
    }
    /* Walk down from the first component, making each missing one (POSIX mkdir -p). */
    char p[sizeof o->path];
    memcpy(p, o->path, n + 1);
    size_t made_end = 0; /* p[0..made_end) is the deepest folder made so far */
    for (size_t i = 1; i <= n; i++) {
        if (i < n && (p[i] != '/' || p[i - 1] == '/')) continue; /* "a//b" is "a/b" */
        char keep = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) == 0) {
            o->created++;
            made_end = i;
        } else if (errno != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            int err = errno == EEXIST ? ENOTDIR : errno;
            o->path[made_end] = '\0'; /* undo from the deepest folder made */
            lq_outdir_undo(o);
            return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot create the output folder (%s)",
                               dir, strerror(err));
        }
        p[i] = keep;
    }
    return LQ_OK;
}
