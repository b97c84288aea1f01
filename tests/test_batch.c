/* lacquer batch: bad manifests refused before any job starts (exact lines, exit codes,
 * nothing written); stable content ids and the CSV form; --jobs 1, --jobs 4 and three
 * shards (--shard, Slurm and Kubernetes environment variables) + --merge give the same
 * bytes and the same report; SIGKILL at random points then a rerun gives the bytes of an
 * uninterrupted run and leaves no temporary file; a preset change reruns only the jobs
 * that use it; a locked folder and a file the batch did not write are refused. */
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lacquer/lacquer.h"
#include "lqtest.h"

extern char **environ;

static char *g_tmp;

static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...)
{
    char rel[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    return lqt_join(g_tmp, rel);
}

static void write_file(const char *rel, const char *text)
{
    char *p = path_of("%s", rel);
    assert_int_equal(lqt_write_text(p, text), 0);
    free(p);
}

static void make_mixes(int n, double seconds)
{
    char *d = path_of("mixes");
    mkdir(d, 0755);
    free(d);
    for (int i = 0; i < n; i++) {
        char *p = path_of("mixes/m%02d.wav", i);
        assert_int_equal(lqt_write_mix(p, seconds, 1000 + (uint64_t)i), 0);
        free(p);
    }
}

/* lacquer batch ARGS... (NULL-terminated), run in g_tmp; returns the exit status. */
static int batch(char **out, char **err, ...)
{
    const char *argv[32] = {LQ_CLI_PATH, "batch"};
    int n = 2;
    va_list ap;
    va_start(ap, err);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 31) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(g_tmp), 0);
    int rc = lqt_run(argv, out, err);
    assert_int_equal(chdir(cwd), 0);
    return rc;
}

static json_t *load_json(const char *rel)
{
    char *p = path_of("%s", rel);
    json_error_t je;
    json_t *r = json_load_file(p, 0, &je);
    if (!r) fprintf(stderr, "%s: %s\n", p, je.text);
    free(p);
    assert_non_null(r);
    return r;
}

static long long summary(const json_t *r, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(r, "summary"), key));
}

/* ---- bad manifests ------------------------------------------------------------------ */

static void expect_refused(const char *name, const char *text, int code, const char *line)
{
    write_file(name, text);
    char *err = NULL, expect[2048];
    int rc = batch(NULL, &err, name, "--out", "refused", (char *)NULL);
    snprintf(expect, sizeof expect, "lacquer: %s\n", line);
    if (rc != code || strcmp(err, expect))
        fprintf(stderr, "%s: exit %d, stderr:\n%sexpected %d:\n%s", name, rc, err, code, expect);
    assert_int_equal(rc, code);
    assert_string_equal(err, expect);
    free(err);
    char *out = path_of("refused");
    assert_false(lqt_exists(out)); /* nothing started, nothing written */
    free(out);
}

static void test_bad_manifests(void **state)
{
    (void)state;
    make_mixes(2, 0.5);
    expect_refused("unknown.yaml", "lacquer: 1\njobs:\n  - {input: mixes/m00.wav, colour: red}\n", 4,
                   "unknown.yaml:3:28: jobs[0]: unknown key \"colour\" (expected one of: input, "
                   "preset, targets, out, set, tags)");
    expect_refused("missing.yaml", "lacquer: 1\njobs:\n  - {input: mixes/m00.wav}\n  - input: "
                   "mixes/nope.wav\n", 4,
                   "missing.yaml:4:12: jobs[1].input: mixes/nope.wav: No such file or "
                   "directory (expected an audio file or a glob such as \"mixes/*.wav\")");
    expect_refused("glob.yaml", "lacquer: 1\njobs:\n  - {input: \"mixes/*.aiff\"}\n", 4,
                   "glob.yaml:3:13: jobs[0].input: \"mixes/*.aiff\" matches no file (expected "
                   "a glob that matches at least one input)");
    expect_refused("same.yaml", "lacquer: 1\ndefaults: {targets: [cd], out: same}\njobs:\n"
                   "  - {input: mixes/m00.wav}\n  - {input: mixes/m01.wav}\n", 4,
                   "same.yaml:5:5: jobs[1]: mixes/m01.wav and mixes/m00.wav (same.yaml:4:5: "
                   "jobs[0]) would both write refused/same/report.json (expected one out "
                   "folder per job: put {name} or {preset} in out)");
    expect_refused("twice.yaml", "lacquer: 1\ndefaults: {targets: [cd]}\njobs:\n"
                   "  - {input: mixes/m00.wav}\n  - {input: \"mixes/m0*.wav\"}\n", 4,
                   "twice.yaml:5:5: jobs[1]: mixes/m00.wav to target cd is also made by "
                   "twice.yaml:4:5: jobs[0] (two jobs writing the same file; expected each "
                   "target once per input and out folder)");
    /* an album job's presets, overrides and tags are the album file's */
    char *albums = path_of("albums");
    mkdir(albums, 0755);
    free(albums);
    write_file("albums/night.yaml", "lacquer: 1\n");
    expect_refused("album.yaml", "lacquer: 1\njobs:\n  - {input: albums/night.yaml, preset: warm}\n",
                   4, "album.yaml:3:40: jobs[0].preset: albums/night.yaml is an album file: its "
                   "presets, overrides and tags are the album file's (expected only input, "
                   "targets and out for an album job)");
    expect_refused("album.csv", "input,targets,title\nalbums/night.yaml,cd,Night\n", 4,
                   "album.csv:2:22: title: albums/night.yaml is an album file: its presets, "
                   "overrides and tags are the album file's (expected only input, targets and "
                   "out for an album job)");
    expect_refused("preset.yaml", "lacquer: 1\njobs:\n  - {input: mixes/m00.wav, preset: nosuch}\n",
                   4, "preset.yaml:3:5: jobs[0]: nosuch: no such preset (shipped presets: "
                   "acoustic, bright-air, gentle, modern-loud, speech, transparent, warm)");
    expect_refused("version.yaml", "lacquer: 2\njobs:\n  - {input: mixes/m00.wav}\n", 4,
                   "version.yaml:1:10: lacquer: 2 is not a format version this build reads "
                   "(expected 1)");
    expect_refused("cols.csv", "input,preset,colour\nmixes/m00.wav,gentle,red\n", 4,
                   "cols.csv:1:14: unknown column \"colour\" (expected input, preset, targets, "
                   "out, set, title, artist, album)");
    /* tags must be UTF-8: the field, its column and the byte (a YAML manifest is
     * refused by libyaml's reader) */
    expect_refused("latin.csv", "input,targets,title\nmixes/m00.wav,cd,Caf\xe9\n", 4,
                   "latin.csv:2:18: title: invalid UTF-8 at byte offset 3 (0xe9) (expected "
                   "UTF-8 text)");
    /* a shard spec like 3/3 is a bad command line */
    write_file("good.yaml", "lacquer: 1\ndefaults: {targets: [cd]}\njobs:\n"
               "  - {input: \"mixes/*.wav\"}\n");
    char *err = NULL;
    assert_int_equal(batch(NULL, &err, "good.yaml", "--out", "refused", "--shard", "3/3",
                           (char *)NULL), 2);
    assert_string_equal(err, "lacquer: --shard \"3/3\": index 3 is not below the count 3 "
                             "(expected I/N with 0 <= I < N, such as 0/3)\n");
    free(err);
    assert_int_equal(batch(NULL, &err, "good.yaml", "--out", "refused", "--shard", "1/x",
                           (char *)NULL), 2);
    assert_string_equal(err, "lacquer: --shard \"1/x\": not a shard (expected I/N with "
                             "0 <= I < N <= 100000, such as 0/3)\n");
    free(err);
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("JOB_COMPLETION_INDEX");
    assert_int_equal(batch(NULL, &err, "good.yaml", "--out", "refused", "--shard-from-env",
                           (char *)NULL), 2);
    assert_string_equal(err, "lacquer: --shard-from-env: neither SLURM_ARRAY_TASK_ID nor "
                             "JOB_COMPLETION_INDEX is set (expected to run as a Slurm array "
                             "task or a Kubernetes Indexed Job)\n");
    free(err);
    char *out = path_of("refused");
    assert_false(lqt_exists(out));
    free(out);
}

/* ---- plan: ids from content, the CSV form ------------------------------------------- */

static char *plan_of(const char *manifest)
{
    char *out = NULL;
    assert_int_equal(batch(&out, NULL, manifest, "--plan", (char *)NULL), 0);
    return out;
}

static void test_plan_ids(void **state)
{
    (void)state;
    make_mixes(3, 0.5);
    write_file("a.yaml", "lacquer: 1\ndefaults: {targets: [cd, tidal]}\njobs:\n"
               "  - {input: mixes/m00.wav, set: {loudness_lufs: -16}}\n"
               "  - {input: \"mixes/m0[12].wav\"}\n");
    /* the same jobs written the other way round, with one more job in front */
    write_file("b.yaml", "lacquer: 1\njobs:\n"
               "  - {input: mixes/m02.wav, preset: warm, targets: [cd], out: \"{name}-warm\"}\n"
               "  - {input: mixes/m02.wav, targets: [cd, tidal]}\n"
               "  - {input: mixes/m01.wav, targets: [cd, tidal]}\n"
               "  - {input: mixes/m00.wav, targets: [cd, tidal], set: {loudness_lufs: -16}}\n");
    write_file("a.csv", "input,preset,targets,set\n"
               "mixes/m00.wav,,cd;tidal,loudness_lufs=-16\n"
               "\"mixes/m0[12].wav\",,cd tidal,\n");
    char *a = plan_of("a.yaml"), *b = plan_of("b.yaml"), *c = plan_of("a.csv");
    assert_string_equal(a, c);
    json_t *ids = json_object();
    int n = 0;
    for (char *line = strtok(a, "\n"); line; line = strtok(NULL, "\n"), n++) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        assert_int_equal(json_integer_value(json_object_get(o, "index")), n);
        json_object_set(ids, json_string_value(json_object_get(o, "input")),
                        json_object_get(o, "id"));
        json_decref(o);
    }
    assert_int_equal(n, 3);
    int matched = 0;
    for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL);
        const char *in = json_string_value(json_object_get(o, "input"));
        const char *id = json_string_value(json_object_get(o, "id"));
        assert_int_equal(strlen(id), 12);
        if (!strcmp(json_string_value(json_object_get(o, "preset")), "gentle")) {
            assert_string_equal(id, json_string_value(json_object_get(ids, in)));
            matched++;
        } else {
            assert_string_not_equal(id, json_string_value(json_object_get(ids, in)));
        }
        json_decref(o);
    }
    assert_int_equal(matched, 3);
    json_decref(ids);
    free(a);
    free(b);
    free(c);
}

/* ---- --jobs 1, --jobs 4, shards + merge ------------------------------------------------ */

static void test_modes_identical(void **state)
{
    (void)state;
    make_mixes(8, 2.0);
    write_file("cat.yaml", "lacquer: 1\ndefaults: {preset: gentle, targets: [cd, tidal]}\n"
               "jobs:\n  - {input: \"mixes/*.wav\"}\n"
               "  - {input: mixes/m03.wav, targets: [ebu-r128]}\n");
    assert_int_equal(batch(NULL, NULL, "cat.yaml", "--out", "j1", "--jobs", "1", "-q",
                           (char *)NULL), 0);
    assert_int_equal(batch(NULL, NULL, "cat.yaml", "--out", "j4", "--jobs", "4", "-q",
                           (char *)NULL), 0);
    /* three shards: by option, as a Slurm array task, as a Kubernetes indexed job */
    assert_int_equal(batch(NULL, NULL, "cat.yaml", "--out", "sh", "--shard", "0/3", "-q",
                           (char *)NULL), 0);
    setenv("SLURM_ARRAY_TASK_ID", "1", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
    assert_int_equal(batch(NULL, NULL, "cat.yaml", "--out", "sh", "--shard-from-env", "-q",
                           (char *)NULL), 0);
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    setenv("JOB_COMPLETION_INDEX", "2", 1);
    assert_int_equal(batch(NULL, NULL, "cat.yaml", "--out", "sh", "--shard-from-env",
                           "--shard-count", "3", "-q", (char *)NULL), 0);
    unsetenv("JOB_COMPLETION_INDEX");
    json_t *s0 = load_json("sh/batch-shard-0-of-3.json");
    json_t *s1 = load_json("sh/batch-shard-1-of-3.json");
    json_t *s2 = load_json("sh/batch-shard-2-of-3.json");
    /* m03's second entry joins its first (one master-bus render for cd, tidal and
     * ebu-r128); 8 inputs of equal length dealt by cost (bytes x targets), the costliest
     * first to the least-loaded slice: m03 (3 targets) to slice 0, then m00, m01, m02,
     * m04 ... (2 targets each): slices cost 5, 6 and 6 with 2 + 3 + 3 inputs */
    assert_int_equal(json_array_size(json_object_get(s0, "jobs")), 2);
    assert_int_equal(json_array_size(json_object_get(s1, "jobs")), 3);
    assert_int_equal(json_array_size(json_object_get(s2, "jobs")), 3);
    json_decref(s0);
    json_decref(s1);
    json_decref(s2);
    char *out = NULL;
    assert_int_equal(batch(&out, NULL, "--merge", "sh", "-q", (char *)NULL), 0);
    free(out);

    char *j1 = path_of("j1"), *j4 = path_of("j4"), *sh = path_of("sh");
    assert_int_equal(lqt_exports_equal(j1, j4), 8 * 2 + 1);
    assert_int_equal(lqt_exports_equal(j1, sh), 8 * 2 + 1);
    char *r1p = path_of("j1/batch.json"), *r4p = path_of("j4/batch.json"),
         *rsp = path_of("sh/batch.json");
    char *r1 = lqt_batch_report_stripped(r1p), *r4 = lqt_batch_report_stripped(r4p),
         *rs = lqt_batch_report_stripped(rsp);
    assert_non_null(r1);
    assert_string_equal(r1, r4);
    assert_string_equal(r1, rs);
    json_t *r = load_json("sh/batch.json");
    assert_int_equal(summary(r, "jobs"), 8);
    assert_int_equal(summary(r, "done"), 8);
    json_t *m03 = json_array_get(json_object_get(r, "jobs"), 3);
    assert_int_equal(json_array_size(json_object_get(m03, "targets")), 3);
    assert_int_equal(summary(r, "missing"), 0);
    json_decref(r);
    /* batch.txt is the same text too */
    char *t1 = path_of("j1/batch.txt"), *ts = path_of("sh/batch.txt");
    assert_true(lqt_files_equal(t1, ts));
    /* a merge that lacks a shard lists its jobs as missing and says so */
    char *gone = path_of("sh/batch-shard-1-of-3.json");
    assert_int_equal(unlink(gone), 0);
    assert_int_equal(batch(NULL, NULL, "--merge", "sh", "-q", (char *)NULL), 1);
    r = load_json("sh/batch.json");
    assert_int_equal(summary(r, "missing"), 3);
    json_decref(r);
    free(gone);
    free(t1);
    free(ts);
    free(r1);
    free(r4);
    free(rs);
    free(r1p);
    free(r4p);
    free(rsp);
    free(j1);
    free(j4);
    free(sh);
}

/* ---- SIGKILL at random points ------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static pid_t spawn_batch(const char *outdir)
{
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(g_tmp), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)LQ_CLI_PATH, "batch", "kill.yaml", "--out", (char *)outdir,
                    "--jobs", "2", "-q", NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, LQ_CLI_PATH, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(chdir(cwd), 0);
    return pid;
}

static void test_sigkill_resume(void **state)
{
    (void)state;
    make_mixes(6, 2.0);
    write_file("kill.yaml", "lacquer: 1\ndefaults: {targets: [cd, tidal]}\n"
               "jobs:\n  - {input: \"mixes/*.wav\"}\n");
    double t0 = now_s();
    pid_t pid = spawn_batch("ref");
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    double whole = now_s() - t0;
    char *ref = path_of("ref");
    for (unsigned seed = 1; seed <= 5; seed++) {
        srand(seed);
        double at = whole * (0.05 + 0.9 * rand() / (double)RAND_MAX);
        fprintf(stderr, "sigkill seed %u: kill after %.2f s of %.2f s\n", seed, at, whole);
        char name[32];
        snprintf(name, sizeof name, "k%u", seed);
        pid = spawn_batch(name);
        struct timespec ts = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        /* what a killed run leaves: the next run finishes it and cleans up */
        pid = spawn_batch(name);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        char *k = path_of("%s", name);
        int n = lqt_exports_equal(ref, k);
        if (n != 12) fprintf(stderr, "seed %u: exports differ from an uninterrupted run\n", seed);
        assert_int_equal(n, 12);
        assert_int_equal(lqt_temp_files(k), 0);
        free(k);
    }
    free(ref);
}

/* ---- a preset change reruns only its jobs ----------------------------------------- */

static void test_preset_change(void **state)
{
    (void)state;
    make_mixes(4, 2.0);
    char *src = lqt_join(lqt_preset_dir(), "gentle.yaml");
    FILE *f = fopen(src, "r");
    assert_non_null(f);
    char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    free(src);
    text[len] = 0;
    char *name = strstr(text, "name: gentle");
    assert_non_null(name);
    memcpy(name, "name: mine  ", 12);
    write_file("mine.yaml", text);
    write_file("p.yaml", "lacquer: 1\ndefaults: {targets: [cd]}\njobs:\n"
               "  - {input: \"mixes/*.wav\"}\n"
               "  - {input: \"mixes/m0[12].wav\", preset: mine.yaml, out: \"{name}-mine\"}\n");
    assert_int_equal(batch(NULL, NULL, "p.yaml", "--out", "o", "-q", (char *)NULL), 0);
    char *o = path_of("o");
    lqt_snap before, after;
    lqt_snap_take(&before, o);
    /* a key of mine.yaml changes: the description, then a limiter setting */
    char *d = strstr(text, "description:");
    assert_non_null(d);
    memcpy(d + 13, "Changed", 7);
    write_file("mine.yaml", text);
    assert_int_equal(batch(NULL, NULL, "p.yaml", "--out", "o", "-q", (char *)NULL), 0);
    json_t *r = load_json("o/batch.json");
    assert_int_equal(summary(r, "ran"), 2);
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(r, "jobs"), i, j) {
        int mine = !strcmp(json_string_value(json_object_get(j, "preset")), "mine.yaml");
        assert_int_equal(json_is_true(json_object_get(j, "ran")), mine);
    }
    json_decref(r);
    lqt_snap_take(&after, o);
    assert_int_equal(before.n, after.n);
    int changed = 0;
    for (size_t k = 0; k < before.n; k++) {
        const lqt_snap_file *a = lqt_snap_find(&after, before.files[k].rel);
        assert_non_null(a);
        int mine = strstr(before.files[k].rel, "-mine/") != NULL;
        if (strncmp(before.files[k].rel, "batch", 5) == 0) continue;
        if (mine) {
            changed += a->mtime_ns != before.files[k].mtime_ns;
        } else {
            assert_true(a->mtime_ns == before.files[k].mtime_ns);
            assert_true(a->hash == before.files[k].hash);
        }
    }
    assert_int_equal(changed, 2 * 3); /* export, report.json, report.txt of both jobs */
    lqt_snap_free(&before);
    lqt_snap_free(&after);
    free(o);
}

/* A preset's reference files decide the EQ: new bytes in a reference rerun the jobs
 * that use it, and only those; an unchanged reference reruns nothing. */
static void test_reference_change(void **state)
{
    (void)state;
    make_mixes(3, 3.0);
    char *ref = path_of("ref.wav");
    assert_int_equal(lqt_write_mix(ref, 4.0, 77), 0);
    write_file("withref.yaml", "lacquer: 1\nname: withref\nmaster: []\n"
               "reference:\n  files: [{file: ref.wav}]\n");
    write_file("r.yaml", "lacquer: 1\ndefaults: {targets: [cd]}\njobs:\n"
               "  - {input: mixes/m00.wav}\n"
               "  - {input: \"mixes/m0[12].wav\", preset: withref.yaml, out: \"{name}-ref\"}\n");
    assert_int_equal(batch(NULL, NULL, "r.yaml", "--out", "o", "-q", (char *)NULL), 0);
    assert_int_equal(batch(NULL, NULL, "r.yaml", "--out", "o", "-q", (char *)NULL), 0);
    json_t *r = load_json("o/batch.json");
    assert_int_equal(summary(r, "ran"), 0);
    json_decref(r);
    /* the same reference file name, other audio */
    assert_int_equal(lqt_write_mix(ref, 4.0, 78), 0);
    assert_int_equal(batch(NULL, NULL, "r.yaml", "--out", "o", "-q", (char *)NULL), 0);
    r = load_json("o/batch.json");
    assert_int_equal(summary(r, "ran"), 2);
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(r, "jobs"), i, j) {
        int uses = !strcmp(json_string_value(json_object_get(j, "preset")), "withref.yaml");
        assert_int_equal(json_is_true(json_object_get(j, "ran")), uses);
    }
    json_decref(r);
    free(ref);
}

/* ---- concurrency: a locked folder, a file the batch did not write ------------------- */

static void test_concurrency(void **state)
{
    (void)state;
    make_mixes(3, 1.0);
    write_file("c.yaml", "lacquer: 1\ndefaults: {targets: [cd]}\njobs:\n"
               "  - {input: \"mixes/*.wav\"}\n");
    char *d0 = path_of("o/m00"), *d1 = path_of("o/m01"), *o = path_of("o");
    mkdir(o, 0755);
    mkdir(d0, 0755);
    mkdir(d1, 0755);
    /* another batch holds m00's folder */
    char *lk = path_of("o/m00/.lacquer-batch.lock");
    int fd = open(lk, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    /* `lacquer master` wrote m01's cd export there before */
    write_file("o/m01/m01 (cd).wav", "not ours");
    char *out = NULL;
    assert_int_equal(batch(&out, NULL, "c.yaml", "--out", "o", "-q", (char *)NULL), 1);
    free(out);
    json_t *r = load_json("o/batch.json");
    assert_int_equal(summary(r, "done"), 1);
    assert_int_equal(summary(r, "failed"), 2);
    json_t *jobs = json_object_get(r, "jobs");
    char expect[4096];
    snprintf(expect, sizeof expect, "o/m00: another lacquer batch is writing to this folder "
             "(expected one batch per output folder at a time)");
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 0), "error")),
                        expect);
    snprintf(expect, sizeof expect, "o/m01/m01 (cd).wav: already exists and was not written "
             "by lacquer batch (expected another out folder, or --force)");
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 1), "error")),
                        expect);
    json_decref(r);
    /* the foreign file is untouched, nothing half-written is left */
    char *foreign = path_of("o/m01/m01 (cd).wav");
    {
        FILE *f = fopen(foreign, "r");
        char buf[16] = {0};
        assert_non_null(f);
        assert_int_equal(fread(buf, 1, sizeof buf, f), 8);
        fclose(f);
        assert_string_equal(buf, "not ours");
    }
    assert_int_equal(lqt_temp_files(o), 0);
    /* lock released, foreign file removed: the rerun finishes exactly those two */
    flock(fd, LOCK_UN);
    close(fd);
    unlink(foreign);
    assert_int_equal(batch(NULL, NULL, "c.yaml", "--out", "o", "-q", (char *)NULL), 0);
    r = load_json("o/batch.json");
    assert_int_equal(summary(r, "done"), 3);
    assert_int_equal(summary(r, "ran"), 2);
    json_decref(r);
    /* `lacquer master` into a batch folder does not overwrite the batch's export */
    const char *argv[] = {LQ_CLI_PATH, "master", NULL, "--target", "cd", "--out", d1, "-q", NULL};
    char *in = path_of("mixes/m01.wav");
    argv[2] = in;
    char *err = NULL;
    assert_int_equal(lqt_run(argv, NULL, &err), 5);
    assert_non_null(strstr(err, "already exists"));
    free(err);
    free(in);
    free(foreign);
    free(lk);
    free(d0);
    free(d1);
    free(o);
}


/* ---- the library API directly ------------------------------------------------------ */

/* ---- album files as jobs ------------------------------------------------------------ */

static int run_cli(char **err, const char *const *args)
{
    const char *argv[32] = {LQ_CLI_PATH};
    int n = 1;
    for (; args[n - 1] && n < 31; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(g_tmp), 0);
    int rc = lqt_run(argv, NULL, err);
    assert_int_equal(chdir(cwd), 0);
    return rc;
}

/* An album job gives the bytes `lacquer album` gives (per-track files, CD image, CUE,
 * TOC), with the album file's targets when the manifest names none; a broken album
 * (a track cut short) fails alone with the album's error line; --shard keeps it whole. */
static void test_album_jobs(void **state)
{
    (void)state;
    make_mixes(1, 1.0);
    char *d = path_of("albums");
    mkdir(d, 0755);
    free(d);
    for (int i = 0; i < 2; i++) {
        char *p = path_of("albums/t%d.wav", i + 1);
        assert_int_equal(lqt_write_mix(p, 4.5, 77 + (uint64_t)i), 0);
        free(p);
    }
    char *cut = path_of("albums/cut.wav");
    assert_int_equal(lqt_write_mix(cut, 4.5, 79), 0);
    struct stat st;
    assert_int_equal(stat(cut, &st), 0);
    assert_int_equal(truncate(cut, st.st_size / 2), 0);
    free(cut);
    write_file("albums/good.yaml", "lacquer: 1\nalbum: {title: Good, artist: Us}\n"
               "targets: [cd, tidal]\ntracks:\n  - {file: t1.wav, title: A}\n"
               "  - {file: t2.wav, title: B, set: {finish.limiter.release_ms: 90}}\n");
    write_file("albums/broken.yaml", "lacquer: 1\nalbum: {title: Broken, artist: Us}\n"
               "tracks:\n  - {file: t1.wav, title: A}\n  - {file: cut.wav, title: C}\n");
    write_file("albums.yaml", "lacquer: 1\ndefaults: {targets: [cd]}\njobs:\n"
               "  - {input: mixes/m00.wav}\n  - {input: albums/broken.yaml}\n"
               "  - {input: albums/good.yaml, targets: [cd, tidal], out: \"{name}-album\"}\n");
    char *plan = plan_of("albums.yaml");
    assert_non_null(strstr(plan, "\"index\":2,\"kind\":\"album\",\"input\":\"albums/good.yaml\","
                                 "\"preset\":\"gentle\",\"targets\":[\"cd\",\"tidal\"]"));
    free(plan);

    char *err = NULL;
    assert_int_equal(batch(NULL, &err, "albums.yaml", "--out", "out", "-q", (char *)NULL), 1);
    free(err);
    json_t *r = load_json("out/batch.json");
    assert_int_equal(summary(r, "done"), 2);
    assert_int_equal(summary(r, "failed"), 1);
    json_t *bad = json_array_get(json_object_get(r, "jobs"), 1);
    assert_string_equal(json_string_value(json_object_get(bad, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(bad, "error")),
                        "albums/broken.yaml:5:6: tracks[1].file: albums/cut.wav: truncated: the "
                        "file ends before the audio its header declares (expected a complete "
                        "file)");
    assert_string_equal(json_string_value(json_object_get(bad, "error_code")), "input-truncated");
    assert_int_equal(json_integer_value(json_object_get(bad, "exit_code")), 3);
    char *bdir = path_of("out/broken");
    assert_false(lqt_exists(bdir));
    free(bdir);
    json_t *good = json_array_get(json_object_get(r, "jobs"), 2);
    json_t *exs = json_object_get(good, "exports");
    assert_int_equal(json_array_size(exs), 4);
    size_t i;
    json_t *ex;
    json_array_foreach(exs, i, ex) {
        assert_true(json_is_true(json_object_get(ex, "met")));
        assert_int_equal(json_integer_value(json_object_get(ex, "track")), (json_int_t)(i % 2 + 1));
        char *p = path_of("out/%s", json_string_value(json_object_get(ex, "file")));
        assert_int_equal(lqt_file_hash(p) != 0, 1);
        free(p);
    }
    json_decref(r);
    /* the report says what made each target's files */
    r = load_json("out/good-album/report.json");
    json_t *tg = json_array_get(json_object_get(r, "targets"), 1);
    assert_int_equal(strlen(json_string_value(json_object_get(tg, "fingerprint"))), 64);
    assert_null(strstr(json_string_value(json_object_get(json_object_get(r, "album"), "file")),
                       ".lacquer-batch-"));
    json_decref(r);

    /* the same bytes as `lacquer album` */
    const char *ref[] = {"album", "albums/good.yaml", "--out", "ref", "-q", NULL};
    assert_int_equal(run_cli(NULL, ref), 0);
    char *a = path_of("ref"), *b = path_of("out/good-album");
    assert_int_equal(lqt_exports_equal(a, b), 4 + 3); /* 4 track files, image, CUE, TOC */
    free(a);
    free(b);

    /* the album file's own targets when the manifest names none; shards keep it whole */
    write_file("own.yaml", "lacquer: 1\njobs:\n  - {input: albums/good.yaml}\n");
    assert_int_equal(batch(NULL, NULL, "own.yaml", "--out", "own", "--shard", "0/2", "-q",
                           (char *)NULL), 0);
    a = path_of("ref");
    b = path_of("own/good");
    assert_int_equal(lqt_exports_equal(a, b), 7);
    free(a);
    free(b);
    assert_int_equal(batch(NULL, NULL, "own.yaml", "--out", "own", "--shard", "1/2", "-q",
                           (char *)NULL), 0);
    r = load_json("own/batch-shard-1-of-2.json");
    assert_int_equal(json_array_size(json_object_get(r, "jobs")), 0);
    json_decref(r);
}

static void test_api(void **state)
{
    (void)state;
    make_mixes(3, 1.0);
    write_file("api.yaml", "lacquer: 1\ndefaults: {targets: [cd]}\njobs:\n"
               "  - {input: \"mixes/*.wav\"}\n  - {input: mixes/m01.wav, targets: [tidal]}\n");
    char *m = path_of("api.yaml"), *root = path_of("api-out"), err[1024];
    lq_batch *b = NULL;
    assert_int_equal(lq_batch_load(&b, m, lqt_preset_dir(), root, err, sizeof err), LQ_OK);
    assert_int_equal(lq_batch_job_count(b), 3); /* m01's two entries are one job */
    char *line = lq_batch_job_json(b, 1);
    assert_non_null(strstr(line, "\"targets\":[\"cd\",\"tidal\"]"));
    free(line);
    assert_int_equal(strlen(lq_batch_job_id(b, 0)), 12);
    assert_int_equal(lq_batch_set_shard(b, "2/2", err, sizeof err), LQ_ERR_ARG);
    assert_string_equal(err, "shard \"2/2\": index 2 is not below the count 2 (expected I/N "
                             "with 0 <= I < N, such as 0/2)");
    /* inputs are dealt by cost (bytes x targets): m01, with two targets, fills slice 0
     * alone; m00 and m02 (one target each) share slice 1 */
    assert_int_equal(lq_batch_set_shard(b, "1/2", err, sizeof err), LQ_OK);
    assert_true(lq_batch_job_in_shard(b, 0));
    assert_false(lq_batch_job_in_shard(b, 1));
    assert_true(lq_batch_job_in_shard(b, 2));
    assert_int_equal(lq_batch_set_shard(b, "0/2", err, sizeof err), LQ_OK);
    assert_false(lq_batch_job_in_shard(b, 0));
    assert_true(lq_batch_job_in_shard(b, 1));
    assert_false(lq_batch_job_in_shard(b, 2));
    assert_true(lq_batch_default_jobs(b) >= 1);
    lq_batch_set_dry_run(b, 1);
    assert_int_equal(lq_batch_run(b), LQ_OK);
    lq_batch_counts c;
    lq_batch_get_counts(b, &c);
    assert_int_equal(c.planned, 3);
    assert_int_equal(c.in_shard, 1);
    assert_int_equal(c.would_run, 1);
    assert_false(lqt_exists(root)); /* a dry run writes nothing */
    lq_batch_set_dry_run(b, 0);
    lq_batch_set_parallel(b, 2, 1);
    assert_int_equal(lq_batch_run(b), LQ_OK);
    lq_batch_get_counts(b, &c);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.ran, 1);
    char *js = lq_batch_report_json(b), *tx = lq_batch_report_text(b);
    assert_non_null(strstr(js, "\"shard\": {"));
    assert_string_equal(strchr(lq_batch_report_path(b), '/') ? strrchr(lq_batch_report_path(b), '/') + 1 : "",
                        "batch-shard-0-of-2.json");
    const char *first = "lacquer batch: 1 job: 1 done, 0 missed a target, 0 failed\n";
    assert_int_equal(strncmp(tx, first, strlen(first)), 0);
    free(js);
    free(tx);
    lq_batch_destroy(&b);
    assert_null(b);
    const char *dirs[] = {root};
    assert_int_equal(lq_batch_merge(dirs, 1, NULL, &c, err, sizeof err), LQ_OK);
    assert_int_equal(c.planned, 3);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.failed, 2); /* shard 1 never ran: its jobs are missing */
    /* a missing manifest, through the API */
    assert_int_equal(lq_batch_load(&b, "/nonexistent/x.yaml", NULL, NULL, err, sizeof err),
                     LQ_ERR_PRESET_NOT_FOUND);
    assert_string_equal(err, "/nonexistent/x.yaml: cannot open the manifest (No such file or "
                             "directory)");
    assert_null(b);
    free(m);
    free(root);
}

/* Shards are cut by cost, so slices of uneven inputs end together: mixes of 4, 3, 2, 2,
 * 1, 1 and 1 s (plan order) in 2 slices.  Round robin would give 4+2+1+1 = 8 s against
 * 3+2+1 = 6 s; the deal (costliest first, to the least-loaded slice) gives 7 and 7. */
static void test_deal_by_cost(void **state)
{
    (void)state;
    static const double secs[] = {4, 3, 2, 2, 1, 1, 1};
    enum { N = sizeof secs / sizeof secs[0] };
    char *d = path_of("mixes");
    mkdir(d, 0755);
    free(d);
    for (int i = 0; i < N; i++) {
        char *p = path_of("mixes/m%02d.wav", i);
        assert_int_equal(lqt_write_mix(p, secs[i], 2000 + (uint64_t)i), 0);
        free(p);
    }
    write_file("deal.yaml", "lacquer: 1\ndefaults: {targets: [cd]}\njobs:\n"
               "  - {input: \"mixes/*.wav\"}\n");
    char *m = path_of("deal.yaml"), err[1024];
    lq_batch *b = NULL;
    assert_int_equal(lq_batch_load(&b, m, lqt_preset_dir(), NULL, err, sizeof err), LQ_OK);
    assert_int_equal(lq_batch_job_count(b), N);
    static const int slice_of[N] = {0, 1, 1, 0, 1, 0, 1};
    for (int s = 0; s < 2; s++) {
        char spec[8];
        snprintf(spec, sizeof spec, "%d/2", s);
        assert_int_equal(lq_batch_set_shard(b, spec, err, sizeof err), LQ_OK);
        double load = 0;
        for (int i = 0; i < N; i++) {
            assert_int_equal(lq_batch_job_in_shard(b, (size_t)i), slice_of[i] == s);
            if (slice_of[i] == s) load += secs[i];
        }
        assert_true(load == 7.0);
    }
    /* every job in exactly one slice, for any count */
    for (int n = 1; n <= 9; n++) {
        int seen[N] = {0};
        for (int s = 0; s < n; s++) {
            char spec[8];
            snprintf(spec, sizeof spec, "%d/%d", s, n);
            assert_int_equal(lq_batch_set_shard(b, spec, err, sizeof err), LQ_OK);
            for (int i = 0; i < N; i++) seen[i] += lq_batch_job_in_shard(b, (size_t)i);
        }
        for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
    }
    lq_batch_destroy(&b);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_manifests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deal_by_cost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modes_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preset_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_album_jobs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
