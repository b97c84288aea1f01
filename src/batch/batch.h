/* The insides of an lq_batch: the expanded plan (manifest.c) and what running it found
 * (batch.c).  A plan job is one lq_job: one input, one preset with its `set:` overrides,
 * all of its targets, one output folder. */
#ifndef LQ_BATCH_BATCH_H
#define LQ_BATCH_BATCH_H

#include <jansson.h>
#include <pthread.h>
#include <signal.h>

#include "config/preset.h"
#include "core/diag.h"

#define LQ_BATCH_ID_HEX 12

/* A loaded preset or target, shared by every job that names it with the same `set:`. */
typedef struct lq_bconf {
    int is_target;
    char *key;              /* name as resolved + "\n" + the set lines: the cache key */
    lq_preset *preset;
    lq_target *target;
    char *canon;            /* canonical text of the parsed tree after overrides */
} lq_bconf;

typedef enum lq_bstatus {
    LQ_BJ_PENDING = 0,
    LQ_BJ_DONE,             /* every export met its target */
    LQ_BJ_NOT_MET,          /* written, at least one target not met */
    LQ_BJ_FAILED,
    LQ_BJ_CANCELLED,
    LQ_BJ_WOULD_RUN         /* --dry-run */
} lq_bstatus;

/* What a plan job masters: one mix, or an album file (album_job.c: every track, the
 * album's loudness policy, one publisher, through lq_album_run). */
typedef enum lq_bkind { LQ_BJOB_MIX = 0, LQ_BJOB_ALBUM } lq_bkind;

typedef struct lq_bjob {
    lq_bkind kind;
    size_t index;           /* position in the plan */
    char id[LQ_BATCH_ID_HEX + 1];
    char *where;            /* "FILE:LINE:COL: jobs[2]" for messages */
    char *input;            /* as written (a glob item), relative to the manifest folder */
    char *input_path;       /* the path opened */
    char *preset_name;      /* as written */
    char **targets;         /* as written (or the preset's defaults) */
    size_t n_targets;
    char **sets;            /* "key=value" lines, sorted */
    size_t n_sets;
    char *title, *artist, *album;
    char *out_rel;          /* the output folder as the report shows it */
    char *out_dir;          /* the folder written */
    size_t group;           /* input group: shards slice by input */
    lq_error plan_err;      /* an album file that could not be read when planned: the */
    char *plan_error;       /* job fails with this line (the other jobs go on) */
    lq_bconf *preset;       /* borrowed from the batch's cache (NULL: an album job) */
    lq_bconf **tconf;       /* n_targets */

    /* what the run found (batch.c) */
    lq_bstatus status;
    int ran;                /* 0: up to date, nothing redone */
    double seconds;
    lq_error err;
    char *error;            /* the job's error line */
    json_t *exports;        /* per export: figures (batch.json "exports") */
    json_t *warnings;       /* mix warnings */
} lq_bjob;

struct lq_batch {
    char *manifest;         /* as given */
    char *manifest_dir;
    char *root;             /* --out, or the manifest's folder */
    char *preset_dir;
    lq_bjob *jobs;
    size_t n_jobs;
    size_t n_groups;
    lq_bconf **confs;
    size_t n_confs;

    unsigned shard_index, shard_count;   /* count 0: no sharding */
    unsigned *group_slice;  /* n_groups: the slice each input goes to (batch.c, by cost) */
    int jobs_at_once, threads_per_job, force, dry_run;
    void (*event)(void *user, size_t index, const char *id, const char *status,
                  const char *line);
    void *event_user;
    const volatile sig_atomic_t *cancel;
    pthread_mutex_t lock;
    size_t next;            /* next job to hand out (under lock) */
    int have_lock;
    double wall_seconds;
    int ran;                /* lq_batch_run completed */
    char report_path[4200];
    char errmsg[1024];
};

/* manifest.c */
lq_error lq_bmanifest_load(struct lq_batch *b, lq_diag *d);
/* canonical text of a node tree (for fingerprints): malloc'd */
char *lq_bnode_canon(const lq_node *n);
/* hex sha256 of a buffer / of a file's bytes (size out, may be NULL) */
void lq_bsha256_hex(const void *data, size_t n, char out[65]);
int lq_bsha256_file(const char *path, char out[65], long long *size);
/* "a/b" joined, malloc'd */
char *lq_bjoin(const char *a, const char *b);
char *lq_bstrdup(const char *s);
/* The plan line of job i (JSON object, caller decrefs). */
json_t *lq_bjob_plan_json(const struct lq_batch *b, const lq_bjob *j);
int lq_bjob_in_shard(const struct lq_batch *b, const lq_bjob *j);
void lq_bjob_free(lq_bjob *j);

/* album_job.c: album files as jobs.  efp[k] (65 chars each) gets the fingerprint of
 * target k: the album file's bytes, every track's input bytes, each track's preset and
 * the target after its overrides, the lacquer version. */
/* The bytes an album job reads: its tracks' files (a stems track: its stems' files);
 * the album file's own size when it cannot be read. */
long long lq_balbum_input_bytes(const struct lq_batch *b, const lq_bjob *j);
lq_error lq_balbum_fingerprints(const struct lq_batch *b, const lq_bjob *j, char **efp,
                                lq_diag *d);
/* Master album job j into `stage` through lq_album_run with the plan's targets.  On
 * success: the album report (with each target's fingerprint) and its text (malloc'd),
 * the files left in the stage (names, sorted), j->exports (one per track file, "file"
 * a bare name), j->warnings (the album's), *met (every file met its target). */
lq_error lq_balbum_run(const struct lq_batch *b, lq_bjob *j, const char *stage,
                       char *const *efp, char **report_json, char **report_txt,
                       json_t *names, int *met, lq_diag *d);

#endif
