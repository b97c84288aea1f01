/* The publisher (publish.h). */
#include "engine/publish.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/stale.h"

char *lq_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

lq_error lq_publisher_open(lq_publisher *p, const char *dir, int force, lq_diag *d)
{
    *p = (lq_publisher){.force = force};
    if (!(p->dir = dupstr(dir))) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    lq_error e = lq_outdir_make(&p->made_dir, dir, d);
    /* what a run killed here (SIGKILL) left behind, its owner gone (io/stale.h) */
    if (!e) lq_tmp_sweep(dir);
    return e;
}

static int grow(char ***v, size_t n)
{
    char **nv = realloc(*v, (n + 1) * sizeof *nv);
    if (!nv) return -1;
    *v = nv;
    return 0;
}

lq_error lq_publisher_claim(lq_publisher *p, const char *name, const char *who,
                            const char *input, char **path_out, lq_diag *d)
{
    char *path = lq_path_join(p->dir, name);
    char *by = dupstr(who);
    if (!path || !by || grow(&p->claimed, p->n_claimed) || grow(&p->claimed_by, p->n_claimed)) {
        free(path);
        free(by);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    lq_error e = LQ_OK;
    for (size_t k = 0; k < p->n_claimed && !e; k++)
        if (strcmp(p->claimed[k], path) == 0)
            e = lq_diag_set(d, LQ_ERR_ARG,
                            "%s: %s and %s would write the same file (expected distinct "
                            "filename patterns)",
                            path, p->claimed_by[k], who);
    struct stat in_st, out_st;
    if (!e && input && stat(input, &in_st) == 0 && stat(path, &out_st) == 0 &&
        in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino)
        e = lq_diag_set(d, LQ_ERR_OUTPUT,
                        "%s: is the input file; lacquer never overwrites its input "
                        "(expected another output folder or filename pattern)",
                        path);
    if (!e && !p->force && access(path, F_OK) == 0)
        e = lq_diag_set(d, LQ_ERR_EXISTS,
                        "%s: already exists (expected a new output folder, or --force)", path);
    if (e) {
        free(path);
        free(by);
        return e;
    }
    p->claimed[p->n_claimed] = path;
    p->claimed_by[p->n_claimed++] = by;
    if (path_out && !(*path_out = dupstr(path)))
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    return LQ_OK;
}

/* Room for one more published path and its copy, made BEFORE the file appears, so
 * that everything published can always be rolled back. */
static char *reserve(lq_publisher *p, const char *path, lq_diag *d)
{
    char *c = dupstr(path);
    if (!c || grow(&p->published, p->n_published)) {
        free(c);
        lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return c;
}

lq_error lq_publisher_export(lq_publisher *p, lq_audio_out *o, const char *path, lq_diag *d)
{
    char *c = reserve(p, path, d);
    if (!c) return LQ_ERR_NOMEM;
    lq_error e = lq_audio_out_publish(o, path, p->force, d);
    if (e) {
        free(c);
        return e;
    }
    p->published[p->n_published++] = c;
    return LQ_OK;
}

lq_error lq_publisher_text(lq_publisher *p, const char *name, const char *text, lq_diag *d)
{
    char *path = lq_path_join(p->dir, name);
    char *c = path ? reserve(p, path, d) : NULL;
    if (!c) {
        free(path);
        return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    char tmp[4200];
    lq_tmp_name(tmp, sizeof tmp, p->dir, LQ_TMP_REPORT, "XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(path);
        free(c);
        return lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot write the report (%s)", p->dir,
                           strerror(errno));
    }
    fchmod(fd, 0644);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    int ok = off == len && fsync(fd) == 0;
    if (!ok && off == len && errno == EINVAL) ok = 1; /* a file system without fsync */
    int err = ok ? 0 : (errno ? errno : EIO);
    close(fd);
    /* Without force the name is taken with link(), which never replaces: another run
     * that claimed the same report name at the same time gets "already exists" instead
     * of silently replacing this one's (or having its own replaced). */
    if (ok && !p->force) {
        if (link(tmp, path) == 0) {
            unlink(tmp);
            p->published[p->n_published++] = c;
            free(path);
            return LQ_OK;
        }
        err = errno;
        if (err == EEXIST) {
            unlink(tmp);
            lq_error e = lq_diag_set(d, LQ_ERR_EXISTS,
                                     "%s: already exists (expected a new output folder, or "
                                     "--force)",
                                     path);
            free(path);
            free(c);
            return e;
        }
        ok = err == EPERM || err == EOPNOTSUPP || err == ENOSYS || err == EMLINK;
        if (ok && access(path, F_OK) == 0) {
            unlink(tmp);
            lq_error e = lq_diag_set(d, LQ_ERR_EXISTS,
                                     "%s: already exists (expected a new output folder, or "
                                     "--force)",
                                     path);
            free(path);
            free(c);
            return e;
        }
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok) err = errno;
        unlink(tmp);
        lq_error e = lq_diag_set(d, LQ_ERR_OUTPUT, "%s: cannot write (%s)", path,
                                 strerror(err));
        free(path);
        free(c);
        return e;
    }
    p->published[p->n_published++] = c;
    free(path);
    return LQ_OK;
}

void lq_publisher_rollback(lq_publisher *p)
{
    for (size_t i = 0; i < p->n_published; i++) {
        unlink(p->published[i]);
        free(p->published[i]);
    }
    p->n_published = 0;
    lq_outdir_undo(&p->made_dir);
}

void lq_publisher_free(lq_publisher *p)
{
    for (size_t i = 0; i < p->n_claimed; i++) {
        free(p->claimed[i]);
        free(p->claimed_by[i]);
    }
    for (size_t i = 0; i < p->n_published; i++) free(p->published[i]);
    free(p->claimed);
    free(p->claimed_by);
    free(p->published);
    free(p->dir);
    *p = (lq_publisher){0};
}
