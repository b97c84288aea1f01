/* Running a batch plan (docs/BATCH.md): make-like resume from content fingerprints,
 * failure isolation, local parallelism, shards, and the batch reports.
 *
 * Resume works as a build system's does (ninja's build log, GNU parallel's --joblog):
 * each job's output folder holds `.lacquer-state.json`, written by rename, which records
 * the fingerprint of what made the exports (input bytes, the parsed preset and target
 * trees after overrides, tags, lacquer version) and the size and SHA-256 of every file the
 * job published.  A job is up to date only when that state says "complete", its
 * fingerprint is the one computed now, and every file is there with its recorded size
 * and hash.  A job runs into a hidden staging folder (`.lacquer-batch-XXXXXX`) inside its
 * output folder; its files are renamed into place only after the state was rewritten as
 * incomplete, and the state says complete again only after the last rename, so a SIGKILL
 * at any point leaves either the old verified outputs or a job that reruns.  Staging
 * folders of dead runs are removed when the folder's lock (flock on `.lacquer-batch.lock`)
 * is next taken. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch/batch.h"
#include "core/text.h"

#define STATE_NAME ".lacquer-state.json"
#define LOCK_NAME ".lacquer-batch.lock"
#define STAGE_PREFIX ".lacquer-batch-"
#define REPORT_TMP_PREFIX ".lacquer-batchreport-"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- files ------------------------------------------------------------------------ */

static int mkdir_p(const char *dir)
{
    char *p = lq_bstrdup(dir);
    if (!p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* rm -r of a staging folder (plain files and folders, no symlink is followed). */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p = lq_bjoin(dir, e->d_name);
            if (!p) continue;
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
            else unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Staging folders left by killed runs (we hold the folder's lock: nobody else is in it). */
static void clean_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, STAGE_PREFIX, strlen(STAGE_PREFIX))) continue;
        char *p = lq_bjoin(dir, e->d_name);
        if (p) remove_tree(p);
        free(p);
    }
    closedir(d);
}

/* Report temp files of dead runs on this host ("PREFIX-HOST-PID-XXXXXX"). */
static void clean_stale_reports(const char *dir)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    size_t pl = strlen(REPORT_TMP_PREFIX), hl = strlen(host);
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, REPORT_TMP_PREFIX, pl) || strncmp(n + pl, host, hl) || n[pl + hl] != '-')
            continue;
        long pid = strtol(n + pl + hl + 1, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            char *p = lq_bjoin(dir, n);
            if (p) unlink(p);
            free(p);
        }
    }
    closedir(d);
}

static int write_all(int fd, const char *text, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w <= 0) {
            if (w < 0 && errno == EINTR) continue;
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* Write text to dir/name through a temp file in tmpdir (same file system) and rename. */
static int write_atomic(const char *tmpdir, const char *tmp_prefix, const char *path,
                        const char *text)
{
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s/%sXXXXXX", tmpdir, tmp_prefix);
    int fd = mkstemp(tmp);
    if (fd < 0) return -1;
    fchmod(fd, 0644);
    int ok = write_all(fd, text, strlen(text)) == 0 && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        errno = err;
        return -1;
    }
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl) n++;
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1);
    if (!out) return NULL;
    char *o = out;
    for (const char *p = s;;) {
        const char *q = strstr(p, from);
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    return out;
}

/* ---- errors as `lacquer master` reports them ------------------------------------------ */

static const char *error_code_name(lq_error e)
{
    switch (e) {
    case LQ_ERR_INPUT_UNREADABLE: return "input-unreadable";
    case LQ_ERR_INPUT_TRUNCATED: return "input-truncated";
    case LQ_ERR_INPUT_CHANNELS: return "input-channels";
    case LQ_ERR_INPUT_RATE: return "input-rate";
    case LQ_ERR_INPUT_EMPTY: return "input-empty";
    case LQ_ERR_INPUT_NONFINITE: return "input-nonfinite";
    case LQ_ERR_PRESET: return "preset";
    case LQ_ERR_PRESET_NOT_FOUND: return "preset-not-found";
    case LQ_ERR_OUTPUT: return "output";
    case LQ_ERR_EXISTS: return "exists";
    case LQ_ERR_CANCELLED: return "cancelled";
    case LQ_ERR_NOMEM: return "nomem";
    case LQ_ERR_ENCODE: return "encode";
    case LQ_ERR_DSP: return "dsp";
    default: return "internal";
    }
}

/* The exit code `lacquer master` gives for the same error (README "Exit codes"). */
static int error_exit_code(lq_error e)
{
    switch (e) {
    case LQ_ERR_ARG: return 2;
    case LQ_ERR_INPUT_UNREADABLE:
    case LQ_ERR_INPUT_TRUNCATED:
    case LQ_ERR_INPUT_CHANNELS:
    case LQ_ERR_INPUT_RATE:
    case LQ_ERR_INPUT_EMPTY:
    case LQ_ERR_INPUT_NONFINITE: return 3;
    case LQ_ERR_PRESET:
    case LQ_ERR_PRESET_NOT_FOUND: return 4;
    case LQ_ERR_OUTPUT:
    case LQ_ERR_EXISTS: return 5;
    case LQ_ERR_CANCELLED: return 130;
    default: return 6;
    }
}

/* ---- the public handle --------------------------------------------------------------- */

lq_error lq_batch_load(lq_batch **out, const char *manifest, const char *preset_dir,
                       const char *out_root, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!out || !manifest) return LQ_ERR_ARG;
    *out = NULL;
    lq_batch *b = calloc(1, sizeof *b);
    if (!b) return LQ_ERR_NOMEM;
    pthread_mutex_init(&b->lock, NULL);
    b->jobs_at_once = 0;
    b->threads_per_job = 1;
    b->manifest = lq_bstrdup(manifest);
    const char *slash = strrchr(manifest, '/');
    b->manifest_dir = slash ? strndup(manifest, (size_t)(slash - manifest) + (slash == manifest))
                            : lq_bstrdup(".");
    b->root = lq_bstrdup(out_root && out_root[0] ? out_root : b->manifest_dir);
    b->preset_dir = preset_dir ? lq_bstrdup(preset_dir) : NULL;
    lq_diag d = {{0}};
    lq_error e = LQ_OK;
    if (!b->manifest || !b->manifest_dir || !b->root || (preset_dir && !b->preset_dir))
        e = lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
    if (!e) e = lq_bmanifest_load(b, &d);
    if (e) {
        if (err && errlen) snprintf(err, errlen, "%s", d.msg[0] ? d.msg : lq_strerror(e));
        lq_batch_destroy(&b);
        return e;
    }
    *out = b;
    return LQ_OK;
}

static void job_results_free(lq_bjob *j)
{
    free(j->error);
    j->error = NULL;
    if (j->exports) json_decref(j->exports);
    if (j->warnings) json_decref(j->warnings);
    j->exports = j->warnings = NULL;
}

void lq_batch_destroy(lq_batch **pb)
{
    if (!pb || !*pb) return;
    lq_batch *b = *pb;
    for (size_t i = 0; i < b->n_jobs; i++) {
        lq_bjob *j = &b->jobs[i];
        job_results_free(j);
        lq_bjob_free(j);
    }
    free(b->jobs);
    for (size_t i = 0; i < b->n_confs; i++) {
        lq_bconf *c = b->confs[i];
        free(c->key);
        free(c->canon);
        lq_preset_destroy(&c->preset);
        lq_target_destroy(&c->target);
        free(c);
    }
    free(b->confs);
    free(b->group_slice);
    free(b->manifest);
    free(b->manifest_dir);
    free(b->root);
    free(b->preset_dir);
    pthread_mutex_destroy(&b->lock);
    free(b);
    *pb = NULL;
}

size_t lq_batch_job_count(const lq_batch *b)
{
    return b ? b->n_jobs : 0;
}

const char *lq_batch_job_id(const lq_batch *b, size_t i)
{
    return b && i < b->n_jobs ? b->jobs[i].id : NULL;
}

int lq_batch_job_in_shard(const lq_batch *b, size_t i)
{
    return b && i < b->n_jobs && lq_bjob_in_shard(b, &b->jobs[i]);
}

char *lq_batch_job_json(const lq_batch *b, size_t i)
{
    if (!b || i >= b->n_jobs) return NULL;
    json_t *o = lq_bjob_plan_json(b, &b->jobs[i]);
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static long long file_bytes(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

typedef struct group_cost {
    size_t group;
    long long bytes; /* what the input reads, + 1 (0: not yet looked at) */
    double cost;
} group_cost;

static int by_cost(const void *pa, const void *pb)
{
    const group_cost *a = pa, *b = pb;
    if (a->cost != b->cost) return a->cost > b->cost ? -1 : 1;
    return a->group < b->group ? -1 : a->group > b->group;
}

/* Slices end together when each holds about the same work.  A job's cost is taken as
 * the bytes it reads (the mix, or an album's tracks) times its targets: the master bus
 * and each target's finishing chain run over the whole input.  The inputs are dealt by
 * Graham's LPT rule (R. L. Graham, "Bounds on multiprocessing timing anomalies", SIAM
 * J. Appl. Math. 17(2), 1969: within 4/3 of the best split): the costliest input first,
 * each to the slice with the least cost so far, ties in plan order and to the lowest
 * slice, so inputs of equal cost are dealt round robin.  Every shard computes the same
 * deal from the same files. */
static lq_error deal(lq_batch *b, unsigned count)
{
    free(b->group_slice);
    b->group_slice = NULL;
    if (!b->n_groups || !count) return LQ_OK;
    group_cost *g = calloc(b->n_groups, sizeof *g);
    double *load = calloc(count, sizeof *load);
    unsigned *slice = calloc(b->n_groups, sizeof *slice);
    if (!g || !load || !slice) {
        free(g);
        free(load);
        free(slice);
        return LQ_ERR_NOMEM;
    }
    for (size_t k = 0; k < b->n_groups; k++) g[k].group = k;
    for (size_t i = 0; i < b->n_jobs; i++) {
        const lq_bjob *j = &b->jobs[i];
        group_cost *c = &g[j->group];
        if (!c->bytes) /* once per input: its jobs read the same bytes */
            c->bytes = 1 + (j->kind == LQ_BJOB_ALBUM ? lq_balbum_input_bytes(b, j)
                                                     : file_bytes(j->input_path));
        c->cost += (double)c->bytes * (double)(j->n_targets ? j->n_targets : 1);
    }
    qsort(g, b->n_groups, sizeof *g, by_cost);
    for (size_t k = 0; k < b->n_groups; k++) {
        unsigned best = 0;
        for (unsigned s = 1; s < count; s++)
            if (load[s] < load[best]) best = s;
        slice[g[k].group] = best;
        load[best] += g[k].cost;
    }
    free(g);
    free(load);
    b->group_slice = slice;
    return LQ_OK;
}

lq_error lq_batch_set_shard(lq_batch *b, const char *spec, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!b || !spec) return LQ_ERR_ARG;
    char *end;
    errno = 0;
    unsigned long i = strtoul(spec, &end, 10), n = 0;
    int ok = end != spec && isdigit((unsigned char)spec[0]) && *end == '/' && !errno;
    if (ok) {
        const char *s = end + 1;
        n = strtoul(s, &end, 10);
        ok = end != s && isdigit((unsigned char)s[0]) && !*end && !errno;
    }
    if (!ok || n == 0 || n > 100000 || i >= n) {
        if (err && errlen) {
            if (ok && n > 0 && n <= 100000)
                snprintf(err, errlen, "shard \"%s\": index %lu is not below the count %lu "
                         "(expected I/N with 0 <= I < N, such as 0/%lu)", spec, i, n, n);
            else
                snprintf(err, errlen, "shard \"%s\": not a shard (expected I/N with "
                         "0 <= I < N <= 100000, such as 0/3)", spec);
        }
        return LQ_ERR_ARG;
    }
    if (deal(b, (unsigned)n)) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return LQ_ERR_NOMEM;
    }
    b->shard_index = (unsigned)i;
    b->shard_count = (unsigned)n;
    return LQ_OK;
}

void lq_batch_set_parallel(lq_batch *b, int jobs, int threads_per_job)
{
    if (!b) return;
    b->jobs_at_once = jobs;
    b->threads_per_job = threads_per_job > 0 ? threads_per_job : 1;
}

int lq_batch_default_jobs(const lq_batch *b)
{
    int cores = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
    if (cores <= 0) cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cores <= 0) cores = 1;
    int per = b && b->threads_per_job > 0 ? b->threads_per_job : 1;
    int n = cores / per;
    return n > 0 ? n : 1;
}

void lq_batch_set_force(lq_batch *b, int force)
{
    if (b) b->force = force;
}

void lq_batch_set_dry_run(lq_batch *b, int dry)
{
    if (b) b->dry_run = dry;
}

void lq_batch_set_events(lq_batch *b, lq_batch_event_fn fn, void *user)
{
    if (!b) return;
    b->event = fn;
    b->event_user = user;
}

void lq_batch_set_cancel_flag(lq_batch *b, const volatile sig_atomic_t *flag)
{
    if (b) b->cancel = flag;
}

const char *lq_batch_error_message(const lq_batch *b)
{
    return b ? b->errmsg : "";
}

const char *lq_batch_report_path(const lq_batch *b)
{
    return b && b->report_path[0] ? b->report_path : NULL;
}

/* ---- one job ----------------------------------------------------------------------- */

static const char *status_name(const lq_bjob *j)
{
    switch (j->status) {
    case LQ_BJ_DONE: return "done";
    case LQ_BJ_NOT_MET: return "not-met";
    case LQ_BJ_FAILED: return "failed";
    case LQ_BJ_CANCELLED: return "cancelled";
    case LQ_BJ_WOULD_RUN: return "would-run";
    default: return "pending";
    }
}

static void job_fail(lq_bjob *j, lq_error e, const char *msg)
{
    j->status = e == LQ_ERR_CANCELLED ? LQ_BJ_CANCELLED : LQ_BJ_FAILED;
    j->err = e;
    free(j->error);
    j->error = lq_bstrdup(msg);
}

/* Fingerprint of export k: everything that decides its bytes. */
static void export_fingerprint(const lq_bjob *j, const char *input_sha, size_t k, char out[65])
{
    const char *tags[3] = {j->title, j->artist, j->album};
    size_t n = strlen(j->preset->canon) + strlen(j->tconf[k]->canon) + 400;
    for (int i = 0; i < 3; i++) n += tags[i] ? strlen(tags[i]) : 0;
    char *s = malloc(n);
    if (!s) {
        memset(out, '0', 64);
        out[64] = 0;
        return;
    }
    snprintf(s, n, "lacquer %s\ninput %s\npreset %s\ntarget %s\ntitle %s\nartist %s\nalbum %s\n",
             lq_version(), input_sha, j->preset->canon, j->tconf[k]->canon,
             tags[0] ? tags[0] : "\x01", tags[1] ? tags[1] : "\x01", tags[2] ? tags[2] : "\x01");
    lq_bsha256_hex(s, strlen(s), out);
    free(s);
}

static json_t *read_state(const char *dir)
{
    char *p = lq_bjoin(dir, STATE_NAME);
    if (!p) return NULL;
    json_t *st = json_load_file(p, 0, NULL);
    free(p);
    if (st && !json_is_object(st)) {
        json_decref(st);
        st = NULL;
    }
    return st;
}

/* Up to date: a complete state of this fingerprint, every file present and intact. */
static int state_valid(const json_t *st, const char *fp, const char *dir)
{
    if (!st || !json_is_true(json_object_get(st, "complete"))) return 0;
    const char *sfp = json_string_value(json_object_get(st, "fingerprint"));
    if (!sfp || strcmp(sfp, fp)) return 0;
    const json_t *files = json_object_get(st, "files");
    if (!json_is_array(files) || json_array_size(files) == 0) return 0;
    size_t i;
    const json_t *f;
    json_array_foreach(files, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        json_int_t size = json_integer_value(json_object_get(f, "size"));
        if (!name || !sha || strchr(name, '/')) return 0;
        char *p = lq_bjoin(dir, name);
        if (!p) return 0;
        struct stat sb;
        char got[65];
        long long got_size = -1;
        int ok = stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == size &&
                 lq_bsha256_file(p, got, &got_size) == 0 && got_size == size &&
                 !strcmp(got, sha);
        free(p);
        if (!ok) return 0;
    }
    return 1;
}

static int state_owns(const json_t *st, const char *name)
{
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(st, "files"), i, f) {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && !strcmp(n, name)) return 1;
    }
    return 0;
}

static double jnum(const json_t *o, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(o, a);
    if (b) v = json_object_get(v, b);
    if (c) v = json_object_get(v, c);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *jnum_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The figures of one export for batch.json, from its report.json entry ("file" the
 * bare name; publish() adds the size and hash and puts the folder in front). */
static json_t *export_figures(const json_t *ex)
{
    json_t *o = json_object();
    json_object_set(o, "target", json_object_get(ex, "target"));
    json_object_set(o, "file", json_object_get(ex, "file"));
    json_object_set(o, "format", json_object_get(ex, "format"));
    json_object_set(o, "sample_rate", json_object_get(ex, "sample_rate"));
    json_object_set(o, "bit_depth", json_object_get(ex, "bit_depth"));
    double lufs = jnum(ex, "measured", "integrated_lufs", NULL);
    double aim = jnum(ex, "requirements", "loudness", "target_lufs");
    double tp = jnum(ex, "measured", "true_peak_dbtp", NULL);
    double ceil_ = jnum(ex, "requirements", "true_peak", "ceiling_dbtp");
    json_object_set_new(o, "integrated_lufs", jnum_or_null(lufs));
    json_object_set_new(o, "target_lufs", jnum_or_null(aim));
    json_object_set_new(o, "loudness_error_lu", jnum_or_null(lufs - aim));
    json_object_set_new(o, "true_peak_dbtp", jnum_or_null(tp));
    json_object_set_new(o, "ceiling_dbtp", jnum_or_null(ceil_));
    json_object_set(o, "met", json_object_get(ex, "met"));
    json_t *w = json_object_get(ex, "warnings");
    json_object_set_new(o, "warnings", w ? json_deep_copy(w) : json_array());
    return o;
}

static void emit(lq_batch *b, lq_bjob *j, const char *status)
{
    if (!b->event) return;
    pthread_mutex_lock(&b->lock);
    b->event(b->event_user, j->index, j->id, status, j->error ? j->error : "");
    pthread_mutex_unlock(&b->lock);
}

static json_t *state_json(const lq_bjob *j, const char *fp, int complete, json_t *files,
                          const char *status)
{
    json_t *s = json_object();
    json_object_set_new(s, "lacquer_state", json_integer(1));
    json_object_set_new(s, "version", json_string(lq_version()));
    json_object_set_new(s, "id", json_string(j->id));
    json_object_set_new(s, "fingerprint", json_string(fp));
    json_object_set_new(s, "complete", json_boolean(complete));
    json_object_set_new(s, "status", json_string(status));
    json_object_set(s, "files", files);
    if (complete) {
        json_object_set(s, "exports", j->exports);
        json_object_set(s, "warnings", j->warnings);
    }
    return s;
}

static int put_state(const char *stage, const char *dir, json_t *st)
{
    char *text = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    char *path = lq_bjoin(dir, STATE_NAME);
    int rc = text && path ? write_atomic(stage, ".lacquer-state-", path, text) : -1;
    free(text);
    free(path);
    return rc;
}

/* Master a mix job into the staging folder: its report (with each export's path and
 * fingerprint) and text, the names to publish, j->exports and j->warnings. */
static lq_error run_mix(lq_batch *b, lq_bjob *j, const char *stage, char *const *efp,
                        char **report_json, char **report_txt, json_t *names, int *met,
                        lq_diag *d)
{
    lq_job *job = NULL;
    json_t *rep = NULL;
    lq_error e = lq_job_new(&job);
    if (!e) e = lq_job_set_input(job, j->input_path);
    if (!e) e = lq_job_set_preset(job, j->preset->preset);
    if (!e) e = lq_job_set_output_dir(job, stage);
    if (!e) e = lq_job_set_metadata(job, j->title, j->artist, j->album);
    for (size_t k = 0; k < j->n_targets && !e; k++) e = lq_job_add_target(job, j->tconf[k]->target);
    if (e) {
        lq_diag_set(d, e, "%s", lq_strerror(e));
        goto out;
    }
    lq_job_set_threads(job, b->threads_per_job);
    if (b->cancel) lq_job_set_cancel_flag(job, b->cancel);
    if ((e = lq_job_run(job))) {
        lq_diag_set(d, e, "%s", lq_job_error_message(job));
        goto out;
    }
    char *js = lq_job_report_json(job);
    rep = js ? json_loads(js, 0, NULL) : NULL;
    free(js);
    *report_txt = lq_job_report_text(job);
    json_t *exs = json_object_get(rep, "exports");
    if (!rep || !*report_txt || !json_is_array(exs) || json_array_size(exs) != j->n_targets) {
        e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t i;
    json_t *ex;
    json_array_foreach(exs, i, ex) {
        const char *file = json_string_value(json_object_get(ex, "file"));
        char *final = lq_bjoin(j->out_dir, file ? file : "");
        json_object_set_new(ex, "path", json_string(final ? final : ""));
        json_object_set_new(ex, "fingerprint", json_string(efp[i]));
        free(final);
        json_array_append(names, json_object_get(ex, "file"));
        json_array_append_new(j->exports, export_figures(ex));
    }
    json_array_append_new(names, json_string("report.json"));
    json_array_append_new(names, json_string("report.txt"));
    json_t *w = json_object_get(rep, "mix_warnings");
    j->warnings = w ? json_deep_copy(w) : json_array();
    *met = lq_job_targets_met(job);
    *report_json = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!*report_json) e = lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
out:
    if (rep) json_decref(rep);
    lq_job_destroy(&job);
    return e;
}

static const json_t *file_named(const json_t *files, const char *name)
{
    size_t i;
    const json_t *f;
    json_array_foreach(files, i, f)
        if (!strcmp(json_string_value(json_object_get(f, "name")), name)) return f;
    return NULL;
}

/* Run the job (a mix or an album) into a staging folder, then publish.  Returns with
 * j->status set. */
static void run_job(lq_batch *b, lq_bjob *j, const char *fp, char **efp, json_t *old)
{
    char stage[4400], msg[2048];
    snprintf(stage, sizeof stage, "%s/" STAGE_PREFIX "XXXXXX", j->out_dir);
    if (!mkdtemp(stage)) {
        snprintf(msg, sizeof msg, "%s: cannot write (%s)", j->out_dir, strerror(errno));
        job_fail(j, LQ_ERR_OUTPUT, msg);
        return;
    }
    json_t *names = json_array(), *files = json_array(), *allfiles = NULL;
    char *rj = NULL, *rt = NULL, *fixed_json = NULL, *fixed_txt = NULL;
    int met = 0;
    lq_diag d = {{0}};
    j->exports = json_array();
    lq_error e = !names || !files || !j->exports ? lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory")
                 : j->kind == LQ_BJOB_ALBUM ? lq_balbum_run(b, j, stage, efp, &rj, &rt, names, &met, &d)
                                            : run_mix(b, j, stage, efp, &rj, &rt, names, &met, &d);
    if (e) {
        char *m = replace_all(d.msg[0] ? d.msg : lq_strerror(e), stage, j->out_dir);
        job_fail(j, e, m ? m : d.msg);
        free(m);
        goto out;
    }
    /* the reports as they will read in the job's folder */
    fixed_json = replace_all(rj, stage, j->out_dir);
    fixed_txt = replace_all(rt, stage, j->out_dir);
    int wok = 0;
    if (fixed_json && fixed_txt) {
        char *p1 = lq_bjoin(stage, "report.json"), *p2 = lq_bjoin(stage, "report.txt");
        size_t l = strlen(fixed_json);
        char *rjn = malloc(l + 2);
        if (rjn) {
            memcpy(rjn, fixed_json, l);
            rjn[l] = '\n';
            rjn[l + 1] = 0;
        }
        wok = p1 && p2 && rjn && write_atomic(stage, ".lacquer-report-", p1, rjn) == 0 &&
              write_atomic(stage, ".lacquer-report-", p2, fixed_txt) == 0;
        free(rjn);
        free(p1);
        free(p2);
    }
    if (!wok) {
        snprintf(msg, sizeof msg, "%s: cannot write the report (%s)", j->out_dir,
                 strerror(errno));
        job_fail(j, LQ_ERR_OUTPUT, msg);
        goto out;
    }
    /* what will be published, with sizes and hashes; nobody else's file is replaced */
    size_t i;
    json_t *nm;
    json_array_foreach(names, i, nm) {
        const char *name = json_string_value(nm);
        char *src = lq_bjoin(stage, name ? name : ""), *dst = lq_bjoin(j->out_dir, name ? name : "");
        char sha[65];
        long long size = 0;
        int ok = name && src && dst && lq_bsha256_file(src, sha, &size) == 0;
        if (ok && !b->force && access(dst, F_OK) == 0 && !(old && state_owns(old, name))) {
            snprintf(msg, sizeof msg, "%s: already exists and was not written by lacquer batch "
                     "(expected another out folder, or --force)", dst);
            job_fail(j, LQ_ERR_EXISTS, msg);
        } else if (!ok) {
            job_fail(j, LQ_ERR_OUTPUT, "cannot read back an export");
        } else {
            json_t *f = json_object();
            json_object_set_new(f, "name", json_string(name));
            json_object_set_new(f, "size", json_integer(size));
            json_object_set_new(f, "sha256", json_string(sha));
            json_array_append_new(files, f);
        }
        free(src);
        free(dst);
        if (j->status == LQ_BJ_FAILED) goto out;
    }
    json_array_foreach(j->exports, i, nm) {
        const char *name = json_string_value(json_object_get(nm, "file"));
        const json_t *f = name ? file_named(files, name) : NULL;
        char rel[4400];
        snprintf(rel, sizeof rel, "%s/%s", j->out_rel, name ? name : "");
        json_object_set_new(nm, "file", json_string(rel));
        json_object_set(nm, "size", json_object_get(f, "size"));
        json_object_set(nm, "sha256", json_object_get(f, "sha256"));
    }
    /* 1. the state says incomplete (and owns the old and the new files) */
    allfiles = json_deep_copy(files);
    if (old) {
        json_t *of = json_object_get(old, "files");
        const json_t *f;
        json_array_foreach(of, i, f) {
            const char *n = json_string_value(json_object_get(f, "name"));
            if (n && !file_named(files, n)) json_array_append(allfiles, (json_t *)f);
        }
    }
    json_t *st = state_json(j, fp, 0, allfiles, "running");
    int rc = put_state(stage, j->out_dir, st);
    json_decref(st);
    /* 2. the files, by rename */
    for (size_t k = 0; rc == 0 && k < json_array_size(files); k++) {
        const char *name = json_string_value(json_object_get(json_array_get(files, k), "name"));
        char *src = lq_bjoin(stage, name), *dst = lq_bjoin(j->out_dir, name);
        if (!src || !dst || rename(src, dst) != 0) rc = -1;
        free(src);
        free(dst);
    }
    /* 3. complete */
    j->status = met ? LQ_BJ_DONE : LQ_BJ_NOT_MET;
    if (rc == 0) {
        st = state_json(j, fp, 1, files, status_name(j));
        rc = put_state(stage, j->out_dir, st);
        json_decref(st);
    }
    if (rc != 0) {
        snprintf(msg, sizeof msg, "%s: cannot publish (%s)", j->out_dir, strerror(errno));
        job_fail(j, LQ_ERR_OUTPUT, msg);
    }
    fsync_dir(j->out_dir);
out:
    if (j->status == LQ_BJ_FAILED || j->status == LQ_BJ_CANCELLED) {
        if (j->exports) json_decref(j->exports);
        if (j->warnings) json_decref(j->warnings);
        j->exports = json_array();
        j->warnings = json_array();
    }
    remove_tree(stage);
    free(rj);
    free(rt);
    free(fixed_json);
    free(fixed_txt);
    if (names) json_decref(names);
    if (files) json_decref(files);
    if (allfiles) json_decref(allfiles);
}

/* A failed first run leaves no folder behind: only our lock file in it -> remove both
 * (while we still hold the lock). */
static void drop_empty_folder(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    int other = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, LOCK_NAME))
            other = 1;
    closedir(d);
    if (other) return;
    char *p = lq_bjoin(dir, LOCK_NAME);
    if (p && unlink(p) == 0) rmdir(dir);
    free(p);
}

static void one_job(lq_batch *b, lq_bjob *j)
{
    double t0 = now_s();
    char msg[2048];
    job_results_free(j);
    j->status = LQ_BJ_PENDING;
    j->ran = 0;
    j->err = LQ_OK;
    if (b->cancel && *b->cancel) {
        job_fail(j, LQ_ERR_CANCELLED, "cancelled");
        return;
    }
    int lockfd = -1;
    char **efp = calloc(j->n_targets + 1, sizeof *efp);
    json_t *old = NULL;
    if (!efp) {
        job_fail(j, LQ_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!b->dry_run) {
        char *lp = NULL;
        if (mkdir_p(j->out_dir) != 0 || !(lp = lq_bjoin(j->out_dir, LOCK_NAME)) ||
            (lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
            snprintf(msg, sizeof msg, "%s: cannot create the output folder (%s)", j->out_dir,
                     strerror(errno));
            free(lp);
            job_fail(j, LQ_ERR_OUTPUT, msg);
            goto out;
        }
        free(lp);
        if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
            snprintf(msg, sizeof msg, "%s: another lacquer batch is writing to this folder "
                     "(expected one batch per output folder at a time)", j->out_dir);
            job_fail(j, LQ_ERR_OUTPUT, msg);
            goto out;
        }
        clean_stale(j->out_dir);
    }
    /* fingerprints; an unreadable input still runs, to fail with its own error */
    char in_sha[65] = "unreadable", fp[65];
    size_t all = 64 * j->n_targets + 16;
    char *cat = malloc(all);
    if (!cat) {
        job_fail(j, LQ_ERR_NOMEM, "out of memory");
        goto out;
    }
    cat[0] = 0;
    for (size_t k = 0; k < j->n_targets; k++)
        if (!(efp[k] = calloc(1, 65))) {
            free(cat);
            job_fail(j, LQ_ERR_NOMEM, "out of memory");
            goto out;
        }
    if (j->kind == LQ_BJOB_ALBUM) {
        /* an album file that cannot be read (or a track of it) fails its job alone */
        lq_diag ad = {{0}};
        lq_error ae = lq_balbum_fingerprints(b, j, efp, &ad);
        if (ae) {
            free(cat);
            if (b->dry_run) j->status = LQ_BJ_WOULD_RUN;
            else job_fail(j, ae, ad.msg[0] ? ad.msg : lq_strerror(ae));
            goto out;
        }
        snprintf(in_sha, sizeof in_sha, "album");
    } else if (lq_bsha256_file(j->input_path, in_sha, NULL) != 0) {
        snprintf(in_sha, sizeof in_sha, "unreadable");
    } else if (j->preset->preset->n_refs) {
        /* reference matching: the references' bytes decide the EQ, so they count as
         * input (a job without references keeps the input's own hash) */
        lq_text t = {0};
        lq_text_add(&t, "input %s\n", in_sha);
        for (size_t r = 0; r < j->preset->preset->n_refs; r++) {
            char rs[65];
            if (lq_bsha256_file(j->preset->preset->ref_files[r], rs, NULL) != 0)
                snprintf(rs, sizeof rs, "unreadable");
            lq_text_add(&t, "reference %zu %s\n", r + 1, rs);
        }
        char *text = lq_text_take(&t);
        if (!text) {
            free(cat);
            job_fail(j, LQ_ERR_NOMEM, "out of memory");
            goto out;
        }
        lq_bsha256_hex(text, strlen(text), in_sha);
        free(text);
    }
    for (size_t k = 0; k < j->n_targets; k++) {
        if (j->kind == LQ_BJOB_MIX) export_fingerprint(j, in_sha, k, efp[k]);
        strcat(cat, efp[k]);
    }
    lq_bsha256_hex(cat, strlen(cat), fp);
    free(cat);
    old = read_state(j->out_dir);
    if (!b->force && strcmp(in_sha, "unreadable") && state_valid(old, fp, j->out_dir)) {
        const char *s = json_string_value(json_object_get(old, "status"));
        j->status = s && !strcmp(s, "not-met") ? LQ_BJ_NOT_MET : LQ_BJ_DONE;
        j->exports = json_deep_copy(json_object_get(old, "exports"));
        j->warnings = json_deep_copy(json_object_get(old, "warnings"));
        if (!j->exports) j->exports = json_array();
        if (!j->warnings) j->warnings = json_array();
        goto out;
    }
    if (b->dry_run) {
        j->status = LQ_BJ_WOULD_RUN;
        goto out;
    }
    j->ran = 1;
    run_job(b, j, fp, efp, old);
out:
    if (!j->exports) j->exports = json_array();
    if (!j->warnings) j->warnings = json_array();
    if (old) json_decref(old);
    for (size_t k = 0; efp && k < j->n_targets; k++) free(efp[k]);
    free(efp);
    if (lockfd >= 0 && (j->status == LQ_BJ_FAILED || j->status == LQ_BJ_CANCELLED))
        drop_empty_folder(j->out_dir);
    if (lockfd >= 0) close(lockfd); /* releases the flock */
    j->seconds = now_s() - t0;
    emit(b, j, j->status == LQ_BJ_DONE && !j->ran ? "up-to-date"
               : j->status == LQ_BJ_NOT_MET && !j->ran ? "up-to-date-not-met"
                                                        : status_name(j));
}

static void *worker(void *arg)
{
    lq_batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        while (b->next < b->n_jobs && !lq_bjob_in_shard(b, &b->jobs[b->next])) b->next++;
        size_t i = b->next < b->n_jobs ? b->next++ : (size_t)-1;
        pthread_mutex_unlock(&b->lock);
        if (i == (size_t)-1) return NULL;
        one_job(b, &b->jobs[i]);
    }
}

/* ---- reports ------------------------------------------------------------------------ */

static json_t *job_json(const lq_batch *b, const lq_bjob *j)
{
    json_t *o = lq_bjob_plan_json(b, j);
    json_object_del(o, "input_group");
    json_object_set_new(o, "status", json_string(status_name(j)));
    json_object_set_new(o, "ran", json_boolean(j->ran));
    json_object_set_new(o, "seconds", json_real(round(j->seconds * 1000) / 1000));
    if (j->status == LQ_BJ_FAILED || j->status == LQ_BJ_CANCELLED) {
        json_object_set_new(o, "error", json_string(j->error ? j->error : ""));
        json_object_set_new(o, "error_code", json_string(error_code_name(j->err)));
        json_object_set_new(o, "exit_code", json_integer(error_exit_code(j->err)));
    }
    json_object_set(o, "exports", j->exports ? j->exports : json_array());
    json_object_set(o, "warnings", j->warnings ? j->warnings : json_array());
    return o;
}

/* Summary and text are computed from the JSON, so that --merge gives what one run does. */
static void summarise(json_t *r)
{
    size_t done = 0, not_met = 0, failed = 0, missing = 0, ran = 0, cancelled = 0, kept = 0;
    double worst_err = -1, worst_tp = -INFINITY;
    json_t *we = json_null(), *wt = json_null();
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(r, "jobs"), i, j) {
        const char *s = json_string_value(json_object_get(j, "status"));
        if (!s) s = "missing";
        if (!strcmp(s, "done")) done++;
        else if (!strcmp(s, "not-met")) not_met++;
        else if (!strcmp(s, "failed")) failed++;
        else if (!strcmp(s, "cancelled")) cancelled++;
        else if (!strcmp(s, "missing")) missing++;
        if (json_is_true(json_object_get(j, "ran"))) ran++;
        else if (!strcmp(s, "done") || !strcmp(s, "not-met")) kept++;
        size_t k;
        json_t *ex;
        json_array_foreach(json_object_get(j, "exports"), k, ex) {
            double le = jnum(ex, "loudness_error_lu", NULL, NULL);
            double tp = jnum(ex, "true_peak_dbtp", NULL, NULL);
            double cl = jnum(ex, "ceiling_dbtp", NULL, NULL);
            if (isfinite(le) && fabs(le) > worst_err) {
                worst_err = fabs(le);
                json_decref(we);
                we = json_pack("{s:f,s:O,s:O,s:O}", "loudness_error_lu", le, "id",
                               json_object_get(j, "id"), "input", json_object_get(j, "input"),
                               "target", json_object_get(ex, "target"));
            }
            if (isfinite(tp) && isfinite(cl) && tp - cl > worst_tp) {
                worst_tp = tp - cl;
                json_decref(wt);
                wt = json_pack("{s:f,s:f,s:f,s:O,s:O,s:O}", "true_peak_dbtp", tp,
                               "ceiling_dbtp", cl, "over_ceiling_db", tp - cl, "id",
                               json_object_get(j, "id"), "input", json_object_get(j, "input"),
                               "target", json_object_get(ex, "target"));
            }
        }
    }
    json_t *s = json_object();
    json_object_set_new(s, "jobs", json_integer((json_int_t)json_array_size(json_object_get(r, "jobs"))));
    json_object_set_new(s, "done", json_integer((json_int_t)done));
    json_object_set_new(s, "not_met", json_integer((json_int_t)not_met));
    json_object_set_new(s, "failed", json_integer((json_int_t)failed));
    json_object_set_new(s, "cancelled", json_integer((json_int_t)cancelled));
    json_object_set_new(s, "missing", json_integer((json_int_t)missing));
    json_object_set_new(s, "ran", json_integer((json_int_t)ran));
    json_object_set_new(s, "up_to_date", json_integer((json_int_t)kept));
    json_object_set_new(s, "worst_loudness_error", we ? we : json_null());
    json_object_set_new(s, "worst_true_peak", wt ? wt : json_null());
    json_object_set_new(r, "summary", s);
}

static char *dump_json(const json_t *r)
{
    char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!s) return NULL;
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return NULL;
    }
    t[n] = '\n';
    t[n + 1] = 0;
    return t;
}

static json_t *build_report(const lq_batch *b)
{
    json_t *r = json_object();
    json_object_set_new(r, "lacquer", json_pack("{s:s,s:i}", "version", lq_version(),
                                                "batch_schema", 1));
    const char *base = strrchr(b->manifest, '/');
    json_object_set_new(r, "manifest", json_string(base ? base + 1 : b->manifest));
    json_object_set_new(r, "plan_jobs", json_integer((json_int_t)b->n_jobs));
    if (b->shard_count)
        json_object_set_new(r, "shard", json_pack("{s:i,s:i}", "index", (int)b->shard_index,
                                                  "count", (int)b->shard_count));
    json_t *jobs = json_array();
    for (size_t i = 0; i < b->n_jobs; i++)
        if (lq_bjob_in_shard(b, &b->jobs[i])) json_array_append_new(jobs, job_json(b, &b->jobs[i]));
    json_object_set_new(r, "jobs", jobs);
    summarise(r);
    json_object_set_new(r, "wall_seconds", json_real(round(b->wall_seconds * 1000) / 1000));
    return r;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* batch.txt: failures first, then targets missed, the worst figures, every job. */
static char *report_text(const json_t *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    const json_t *s = json_object_get(r, "summary");
    const json_t *jobs = json_object_get(r, "jobs");
    long long nj = json_integer_value(json_object_get(s, "jobs"));
    fprintf(f, "lacquer batch: %lld job%s: %lld done, %lld missed a target, %lld failed", nj,
            nj == 1 ? "" : "s",
            json_integer_value(json_object_get(s, "done")),
            json_integer_value(json_object_get(s, "not_met")),
            json_integer_value(json_object_get(s, "failed")));
    if (json_integer_value(json_object_get(s, "missing")))
        fprintf(f, ", %lld missing (a shard did not report)",
                json_integer_value(json_object_get(s, "missing")));
    if (json_integer_value(json_object_get(s, "cancelled")))
        fprintf(f, ", %lld cancelled", json_integer_value(json_object_get(s, "cancelled")));
    fputc('\n', f);
    size_t i;
    const json_t *j;
    int head = 0;
    json_array_foreach(jobs, i, j) {
        const char *st = jstr(j, "status");
        if (strcmp(st, "failed") && strcmp(st, "missing") && strcmp(st, "cancelled")) continue;
        if (!head++) fputs("\nFailed:\n", f);
        if (!strcmp(st, "missing"))
            fprintf(f, "  job %lld: missing (no shard reported it)\n",
                    json_integer_value(json_object_get(j, "index")));
        else
            fprintf(f, "  %s  %s: %s (exit code %lld)\n", jstr(j, "id"), jstr(j, "input"),
                    jstr(j, "error"), json_integer_value(json_object_get(j, "exit_code")));
    }
    head = 0;
    json_array_foreach(jobs, i, j) {
        size_t k;
        const json_t *ex;
        json_array_foreach(json_object_get(j, "exports"), k, ex) {
            if (json_is_true(json_object_get(ex, "met"))) continue;
            if (!head++) fputs("\nMissed a target:\n", f);
            fprintf(f, "  %s  %s -> %s: %.2f LUFS", jstr(j, "id"), jstr(j, "input"),
                    jstr(ex, "target"), jnum(ex, "integrated_lufs", NULL, NULL));
            double aim = jnum(ex, "target_lufs", NULL, NULL);
            if (isfinite(aim)) fprintf(f, " (target %.1f)", aim);
            fprintf(f, ", true peak %.2f dBTP (ceiling %.1f)\n",
                    jnum(ex, "true_peak_dbtp", NULL, NULL), jnum(ex, "ceiling_dbtp", NULL, NULL));
        }
    }
    const json_t *we = json_object_get(s, "worst_loudness_error");
    const json_t *wt = json_object_get(s, "worst_true_peak");
    fputc('\n', f);
    if (json_is_object(we))
        fprintf(f, "Worst loudness error: %+.2f LU (%s -> %s)\n",
                jnum(we, "loudness_error_lu", NULL, NULL), jstr(we, "input"), jstr(we, "target"));
    else
        fputs("Worst loudness error: none (no export with a loudness target)\n", f);
    if (json_is_object(wt))
        fprintf(f, "Worst true peak: %.2f dBTP against a %.1f dBTP ceiling (%s -> %s)\n",
                jnum(wt, "true_peak_dbtp", NULL, NULL), jnum(wt, "ceiling_dbtp", NULL, NULL),
                jstr(wt, "input"), jstr(wt, "target"));
    else
        fputs("Worst true peak: none (no export)\n", f);
    fputs("\nJobs:\n", f);
    json_array_foreach(jobs, i, j) {
        if (!strcmp(jstr(j, "status"), "missing")) continue;
        fprintf(f, "  %s  %-9s %s -> %s\n", jstr(j, "id"), jstr(j, "status"), jstr(j, "input"),
                jstr(j, "out"));
    }
    fclose(f);
    return buf;
}

static int write_reports(const char *dir, const char *json_name, const char *txt_name,
                         const json_t *r, char *path_out, size_t path_len)
{
    char host[256] = "", prefix[400];
    gethostname(host, sizeof host - 1);
    snprintf(prefix, sizeof prefix, REPORT_TMP_PREFIX "%s-%ld-", host, (long)getpid());
    char *js = dump_json(r), *tx = report_text(r);
    char *p1 = lq_bjoin(dir, json_name), *p2 = lq_bjoin(dir, txt_name);
    int rc = js && tx && p1 && p2 && mkdir_p(dir) == 0 && write_atomic(dir, prefix, p1, js) == 0 &&
             write_atomic(dir, prefix, p2, tx) == 0 ? 0 : -1;
    if (rc == 0 && path_out) snprintf(path_out, path_len, "%s", p1);
    free(js);
    free(tx);
    free(p1);
    free(p2);
    return rc;
}

char *lq_batch_report_json(const lq_batch *b)
{
    if (!b || !b->ran) return NULL;
    json_t *r = build_report(b);
    char *s = r ? dump_json(r) : NULL;
    json_decref(r);
    return s;
}

char *lq_batch_report_text(const lq_batch *b)
{
    if (!b || !b->ran) return NULL;
    json_t *r = build_report(b);
    char *s = r ? report_text(r) : NULL;
    json_decref(r);
    return s;
}

void lq_batch_get_counts(const lq_batch *b, lq_batch_counts *c)
{
    if (!c) return;
    memset(c, 0, sizeof *c);
    if (!b) return;
    c->planned = b->n_jobs;
    for (size_t i = 0; i < b->n_jobs; i++) {
        const lq_bjob *j = &b->jobs[i];
        if (!lq_bjob_in_shard(b, j)) continue;
        c->in_shard++;
        switch (j->status) {
        case LQ_BJ_DONE: c->done++; break;
        case LQ_BJ_NOT_MET: c->not_met++; break;
        case LQ_BJ_FAILED: c->failed++; break;
        case LQ_BJ_CANCELLED: c->cancelled++; break;
        case LQ_BJ_WOULD_RUN: c->would_run++; break;
        default: break;
        }
        if (j->ran) c->ran++;
        else if (j->status == LQ_BJ_DONE || j->status == LQ_BJ_NOT_MET) c->up_to_date++;
    }
}

lq_error lq_batch_run(lq_batch *b)
{
    if (!b) return LQ_ERR_ARG;
    b->errmsg[0] = 0;
    b->report_path[0] = 0;
    b->ran = 0;
    b->next = 0;
    double t0 = now_s();
    int n = b->jobs_at_once > 0 ? b->jobs_at_once : lq_batch_default_jobs(b);
    size_t in_shard = 0;
    for (size_t i = 0; i < b->n_jobs; i++) in_shard += lq_bjob_in_shard(b, &b->jobs[i]);
    if ((size_t)n > in_shard) n = in_shard ? (int)in_shard : 1;
    if (!b->dry_run) {
        if (mkdir_p(b->root) != 0) {
            snprintf(b->errmsg, sizeof b->errmsg, "%s: cannot create the output folder (%s)",
                     b->root, strerror(errno));
            return LQ_ERR_OUTPUT;
        }
        clean_stale_reports(b->root);
    }
    pthread_t *th = calloc((size_t)n, sizeof *th);
    if (!th) return LQ_ERR_NOMEM;
    int started = 0;
    for (int i = 1; i < n; i++)
        if (pthread_create(&th[i], NULL, worker, b) == 0) started++;
        else break;
    worker(b);
    for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
    free(th);
    b->wall_seconds = now_s() - t0;
    b->ran = 1;
    if (b->cancel && *b->cancel) {
        snprintf(b->errmsg, sizeof b->errmsg, "interrupted: finished jobs are kept, the "
                 "others left their folders as they were");
        return LQ_ERR_CANCELLED;
    }
    if (b->dry_run) return LQ_OK;
    json_t *r = build_report(b);
    char jn[64] = "batch.json", tn[64] = "batch.txt";
    if (b->shard_count) {
        snprintf(jn, sizeof jn, "batch-shard-%u-of-%u.json", b->shard_index, b->shard_count);
        snprintf(tn, sizeof tn, "batch-shard-%u-of-%u.txt", b->shard_index, b->shard_count);
    }
    int rc = r ? write_reports(b->root, jn, tn, r, b->report_path, sizeof b->report_path) : -1;
    json_decref(r);
    if (rc != 0) {
        snprintf(b->errmsg, sizeof b->errmsg, "%s: cannot write %s (%s)", b->root, jn,
                 strerror(errno));
        return LQ_ERR_OUTPUT;
    }
    return LQ_OK;
}

/* ---- merging shard reports ------------------------------------------------------------- */

static int cmp_index(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "index"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "index"));
    return x < y ? -1 : x > y;
}

static int shard_name(const char *n)
{
    size_t l = strlen(n);
    return !strncmp(n, "batch-shard-", 12) && l > 5 && !strcmp(n + l - 5, ".json");
}

lq_error lq_batch_merge(const char *const *dirs, size_t n_dirs, const char *out_dir,
                        lq_batch_counts *counts, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (counts) memset(counts, 0, sizeof *counts);
    if (!dirs || n_dirs == 0) return LQ_ERR_ARG;
    if (!out_dir) out_dir = dirs[0];
    json_t **jobs = NULL;
    size_t nj = 0, cap = 0;
    json_int_t plan = -1;
    json_t *first = NULL;
    lq_error e = LQ_OK;
    size_t files_read = 0;
    for (size_t d = 0; d < n_dirs && !e; d++) {
        DIR *dh = opendir(dirs[d]);
        if (!dh) {
            if (err) snprintf(err, errlen, "%s: cannot open (%s) (expected a folder with "
                              "batch-shard-I-of-N.json reports)", dirs[d], strerror(errno));
            e = LQ_ERR_INPUT_UNREADABLE;
            break;
        }
        struct dirent *de;
        char **names = NULL;
        size_t nn = 0;
        while ((de = readdir(dh))) {
            if (!shard_name(de->d_name)) continue;
            char **v = realloc(names, (nn + 1) * sizeof *v);
            if (!v || !(v[nn] = lq_bstrdup(de->d_name))) {
                free(v ? v : names);
                names = NULL;
                nn = 0;
                e = LQ_ERR_NOMEM;
                break;
            }
            names = v;
            nn++;
        }
        closedir(dh);
        for (size_t k = 0; k < nn; k++) {
            char *p = lq_bjoin(dirs[d], names[k]);
            json_error_t je;
            json_t *r = p && !e ? json_load_file(p, 0, &je) : NULL;
            json_t *arr = json_object_get(r, "jobs");
            json_int_t pj = json_integer_value(json_object_get(r, "plan_jobs"));
            if (!e && (!r || !json_is_array(arr))) {
                if (err) snprintf(err, errlen, "%s: not a batch shard report (%s)", p ? p : "",
                                  r ? "no jobs list" : je.text);
                e = LQ_ERR_INPUT_UNREADABLE;
            } else if (!e && plan >= 0 && pj != plan) {
                if (err) snprintf(err, errlen, "%s: a plan of %lld jobs, the other shards have "
                                  "%lld (expected shards of the same manifest)", p,
                                  (long long)pj, (long long)plan);
                e = LQ_ERR_INPUT_UNREADABLE;
            }
            if (!e) {
                plan = pj;
                files_read++;
                if (!first) first = json_incref(r);
                size_t i;
                json_t *j;
                json_array_foreach(arr, i, j) {
                    json_int_t idx = json_integer_value(json_object_get(j, "index"));
                    int dup = 0;
                    for (size_t q = 0; q < nj; q++)
                        dup |= json_integer_value(json_object_get(jobs[q], "index")) == idx;
                    if (dup) continue; /* a job reported by two shards (a rerun): keep one */
                    if (nj == cap) {
                        cap = cap ? cap * 2 : 64;
                        json_t **v = realloc(jobs, cap * sizeof *v);
                        if (!v) {
                            e = LQ_ERR_NOMEM;
                            break;
                        }
                        jobs = v;
                    }
                    jobs[nj++] = json_incref(j);
                }
            }
            json_decref(r);
            free(p);
        }
        for (size_t k = 0; k < nn; k++) free(names[k]);
        free(names);
    }
    if (!e && files_read == 0) {
        if (err) snprintf(err, errlen, "%s: no batch-shard-I-of-N.json report (expected the "
                          "folders the shards wrote to)", dirs[0]);
        e = LQ_ERR_INPUT_UNREADABLE;
    }
    if (e == LQ_ERR_NOMEM && err && !err[0]) snprintf(err, errlen, "out of memory");
    json_t *r = NULL;
    if (!e) {
        qsort(jobs, nj, sizeof *jobs, cmp_index);
        json_t *arr = json_array();
        size_t q = 0;
        for (json_int_t i = 0; i < plan; i++) {
            if (q < nj && json_integer_value(json_object_get(jobs[q], "index")) == i)
                json_array_append(arr, jobs[q++]);
            else
                json_array_append_new(arr, json_pack("{s:I,s:s}", "index", (json_int_t)i,
                                                     "status", "missing"));
        }
        r = json_object();
        json_object_set(r, "lacquer", json_object_get(first, "lacquer"));
        json_object_set(r, "manifest", json_object_get(first, "manifest"));
        json_object_set_new(r, "plan_jobs", json_integer(plan));
        json_object_set_new(r, "jobs", arr);
        summarise(r);
        double wall = 0;
        json_object_set_new(r, "wall_seconds", json_real(wall));
        if (write_reports(out_dir, "batch.json", "batch.txt", r, NULL, 0) != 0) {
            if (err) snprintf(err, errlen, "%s: cannot write batch.json (%s)", out_dir,
                              strerror(errno));
            e = LQ_ERR_OUTPUT;
        }
        if (counts) {
            const json_t *s = json_object_get(r, "summary");
            counts->planned = (size_t)plan;
            counts->in_shard = (size_t)plan;
            counts->done = (size_t)json_integer_value(json_object_get(s, "done"));
            counts->not_met = (size_t)json_integer_value(json_object_get(s, "not_met"));
            counts->failed = (size_t)json_integer_value(json_object_get(s, "failed")) +
                             (size_t)json_integer_value(json_object_get(s, "missing"));
            counts->cancelled = (size_t)json_integer_value(json_object_get(s, "cancelled"));
            counts->ran = (size_t)json_integer_value(json_object_get(s, "ran"));
            counts->up_to_date = (size_t)json_integer_value(json_object_get(s, "up_to_date"));
        }
    }
    for (size_t i = 0; i < nj; i++) json_decref(jobs[i]);
    free(jobs);
    if (first) json_decref(first);
    if (r) json_decref(r);
    return e;
}
