/* Helpers for the batch tests: generated mixes, folder snapshots (bytes and mtimes),
 * leftover temporary files, and batch reports without their timings. */
#include "lqtest.h"

#include <dirent.h>
#include <jansson.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "synth.h"

int lqt_write_mix(const char *path, double seconds, uint64_t seed)
{
    const int rate = 44100;
    size_t n = (size_t)(seconds * rate);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    if (!l || !r) {
        free(l);
        free(r);
        return -1;
    }
    lqs_mix(l, r, n, rate, seed, 0.5);
    const double *pl[2] = {l, r};
    int rc = lqt_write_wav(path, pl, 2, n, rate, SF_FORMAT_PCM_24);
    free(l);
    free(r);
    return rc;
}

static int is_state(const char *name)
{
    return !strcmp(name, ".lacquer-state.json") || !strcmp(name, ".lacquer-batch.lock");
}

static void walk(const char *root, const char *rel, lqt_snap *s, int *temps)
{
    char *dir = rel[0] ? lqt_join(root, rel) : strdup(root);
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char relp[4096];
        snprintf(relp, sizeof relp, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        char *full = lqt_join(root, relp);
        struct stat st;
        if (lstat(full, &st) == 0) {
            if (!strncmp(e->d_name, ".lacquer-", 9) && !is_state(e->d_name) && temps) (*temps)++;
            if (S_ISDIR(st.st_mode)) {
                walk(root, relp, s, temps);
            } else if (s && e->d_name[0] != '.') {
                if (s->n == s->cap) {
                    s->cap = s->cap ? 2 * s->cap : 64;
                    s->files = realloc(s->files, s->cap * sizeof *s->files);
                }
                lqt_snap_file *f = &s->files[s->n++];
                snprintf(f->rel, sizeof f->rel, "%s", relp);
                f->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
                f->size = (long long)st.st_size;
                f->hash = lqt_file_hash(full);
            }
        }
        free(full);
    }
    closedir(d);
    free(dir);
}

static int cmp_rel(const void *a, const void *b)
{
    return strcmp(((const lqt_snap_file *)a)->rel, ((const lqt_snap_file *)b)->rel);
}

void lqt_snap_take(lqt_snap *s, const char *dir)
{
    memset(s, 0, sizeof *s);
    walk(dir, "", s, NULL);
    if (s->n) qsort(s->files, s->n, sizeof *s->files, cmp_rel);
}

void lqt_snap_free(lqt_snap *s)
{
    free(s->files);
    memset(s, 0, sizeof *s);
}

int lqt_temp_files(const char *dir)
{
    int n = 0;
    walk(dir, "", NULL, &n);
    return n;
}

const lqt_snap_file *lqt_snap_find(const lqt_snap *s, const char *rel)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->files[i].rel, rel)) return &s->files[i];
    return NULL;
}

static int is_export(const char *rel)
{
    const char *b = strrchr(rel, '/');
    b = b ? b + 1 : rel;
    /* the reports carry timings and paths: compared stripped, elsewhere */
    return strcmp(b, "report.json") && strcmp(b, "report.txt") && strcmp(b, "report.html") &&
           strncmp(b, "batch", 5);
}

int lqt_exports_equal(const char *a, const char *b)
{
    lqt_snap sa, sb;
    lqt_snap_take(&sa, a);
    lqt_snap_take(&sb, b);
    int n = 0, ok = 1;
    size_t na = 0, nb = 0;
    for (size_t i = 0; i < sa.n; i++) {
        if (!is_export(sa.files[i].rel)) continue;
        na++;
        const lqt_snap_file *f = lqt_snap_find(&sb, sa.files[i].rel);
        char *pa = lqt_join(a, sa.files[i].rel), *pb = lqt_join(b, sa.files[i].rel);
        if (!f || !lqt_files_equal(pa, pb)) {
            fprintf(stderr, "lqt_exports_equal: %s differs between %s and %s\n",
                    sa.files[i].rel, a, b);
            ok = 0;
        } else {
            n++;
        }
        free(pa);
        free(pb);
    }
    for (size_t i = 0; i < sb.n; i++) nb += is_export(sb.files[i].rel);
    if (na != nb) {
        fprintf(stderr, "lqt_exports_equal: %zu exports in %s, %zu in %s\n", na, a, nb, b);
        ok = 0;
    }
    lqt_snap_free(&sa);
    lqt_snap_free(&sb);
    return ok ? n : -1;
}

char *lqt_batch_report_stripped(const char *path)
{
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    if (!r) {
        fprintf(stderr, "lqt_batch_report_stripped: %s: %s\n", path, je.text);
        return NULL;
    }
    json_object_del(r, "wall_seconds");
    json_object_del(r, "shard");
    json_t *s = json_object_get(r, "summary");
    json_object_del(s, "ran");
    json_object_del(s, "up_to_date");
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(r, "jobs"), i, j) {
        json_object_del(j, "seconds");
        json_object_del(j, "ran");
    }
    char *t = json_dumps(r, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(r);
    return t;
}
