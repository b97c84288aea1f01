/* Chain presets (presets/NAME.yaml): finding, loading and validating them, and the stage
 * config specs they hold.  The keys are documented in docs/PRESETS.md. */
#include "config/preset.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/suggest.h"

#ifndef LQ_INSTALL_PRESET_DIR
#define LQ_INSTALL_PRESET_DIR "/usr/local/share/lacquer/presets"
#endif

#define MAX_MASTER_STAGES 32
#define MAX_TARGETS 64

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}

/* ---- Stage specs -------------------------------------------------------------------- */

lq_error lq_stage_spec_parse(lq_stage_spec *spec, const lq_stage_vt *vt, const lq_node *map,
                             lq_diag *d)
{
    memset(spec, 0, sizeof *spec);
    if (!vt) return lq_diag_set(d, LQ_ERR_ARG, "lq_stage_spec_parse: no stage");
    void *cfg = calloc(1, vt->config_size ? vt->config_size : 1);
    if (!cfg) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    if (vt->config_default) vt->config_default(cfg);
    if (map && vt->config_parse) {
        lq_error e = vt->config_parse(cfg, map, d);
        if (e) {
            if (vt->config_free) vt->config_free(cfg);
            free(cfg);
            return e;
        }
    }
    spec->vt = vt;
    spec->cfg = cfg;
    return LQ_OK;
}

lq_error lq_stage_spec_override(lq_stage_spec *dst, const lq_stage_spec *base,
                                const lq_node *over, lq_diag *d)
{
    memset(dst, 0, sizeof *dst);
    if (!base || !base->vt) {
        if (!over) return LQ_OK;
        return lq_diag_set(d, LQ_ERR_ARG, "lq_stage_spec_override: no base stage to override "
                           "(parse the defaults with lq_stage_spec_parse first)");
    }
    const lq_stage_vt *vt = base->vt;
    size_t size = vt->config_size ? vt->config_size : 1;
    void *cfg = malloc(size);
    if (!cfg) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    /* Stage configs are plain data (stage.h), so a byte copy is a full copy. */
    memcpy(cfg, base->cfg, size);
    if (over && vt->config_parse) {
        lq_error e = vt->config_parse(cfg, over, d);
        if (e) {
            free(cfg);
            return e;
        }
    }
    dst->vt = vt;
    dst->cfg = cfg;
    return LQ_OK;
}

void lq_stage_spec_free(lq_stage_spec *spec)
{
    if (!spec) return;
    if (spec->cfg && spec->vt && spec->vt->config_free) spec->vt->config_free(spec->cfg);
    free(spec->cfg);
    spec->cfg = NULL;
    spec->vt = NULL;
}

/* ---- Finding files ------------------------------------------------------------------- */

const char *lq_preset_default_dir(void)
{
    const char *env = getenv("LACQUER_PRESET_DIR");
    if (env && env[0]) return env;
    return LQ_INSTALL_PRESET_DIR;
}

static int is_path(const char *s)
{
    size_t l = strlen(s);
    if (strchr(s, '/')) return 1;
    if (l >= 5 && strcmp(s + l - 5, ".yaml") == 0) return 1;
    if (l >= 4 && strcmp(s + l - 4, ".yml") == 0) return 1;
    return 0;
}

static char *join_path(const char *dir, const char *subdir, const char *name, const char *ext)
{
    size_t n = strlen(dir) + strlen(subdir) + strlen(name) + strlen(ext) + 4;
    char *p = malloc(n);
    if (!p) return NULL;
    if (subdir[0])
        snprintf(p, n, "%s/%s/%s%s", dir, subdir, name, ext);
    else
        snprintf(p, n, "%s/%s%s", dir, name, ext);
    return p;
}

char *lq_preset_resolve(const char *name_or_path, const char *preset_dir, const char *subdir)
{
    if (!name_or_path || !name_or_path[0]) return NULL;
    if (!subdir) subdir = "";
    char *p;
    if (is_path(name_or_path)) {
        p = dup_str(name_or_path);
    } else {
        p = join_path(preset_dir ? preset_dir : lq_preset_default_dir(), subdir, name_or_path,
                      ".yaml");
    }
    if (p && access(p, R_OK) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void lq_preset_names_free(char **names, size_t count)
{
    if (!names) return;
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

lq_error lq_preset_names(const char *preset_dir, const char *subdir, char ***names,
                         size_t *count)
{
    *names = NULL;
    *count = 0;
    char *dir = join_path(preset_dir ? preset_dir : lq_preset_default_dir(), "",
                          subdir ? subdir : "", "");
    if (!dir) return LQ_ERR_NOMEM;
    DIR *dp = opendir(dir);
    free(dir);
    if (!dp) return LQ_OK;
    char **list = NULL;
    size_t n = 0;
    struct dirent *de;
    lq_error e = LQ_OK;
    while ((de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l <= 5 || strcmp(de->d_name + l - 5, ".yaml") != 0 || de->d_name[0] == '.')
            continue;
        char **grown = realloc(list, (n + 1) * sizeof *grown);
        if (!grown) {
            e = LQ_ERR_NOMEM;
            break;
        }
        list = grown;
        list[n] = malloc(l - 4);
        if (!list[n]) {
            e = LQ_ERR_NOMEM;
            break;
        }
        memcpy(list[n], de->d_name, l - 5);
        list[n][l - 5] = '\0';
        n++;
    }
    closedir(dp);
    if (e) {
        lq_preset_names_free(list, n);
        return e;
    }
    if (n) qsort(list, n, sizeof *list, cmp_str);
    *names = list;
    *count = n;
    return LQ_OK;
}

/* "a, b, c" of the shipped names, or "none in DIR". */
static void shipped_list(char *buf, size_t len, const char *preset_dir, const char *subdir)
{
    char **names;
    size_t n;
    buf[0] = '\0';
    if (lq_preset_names(preset_dir, subdir, &names, &n) != LQ_OK || n == 0) {
        snprintf(buf, len, "none in %s%s%s", preset_dir ? preset_dir : lq_preset_default_dir(),
                 subdir[0] ? "/" : "", subdir);
        lq_preset_names_free(names, n);
        return;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
        if (k < 0 || (size_t)k >= len - off) break;
        off += (size_t)k;
    }
    lq_preset_names_free(names, n);
}

/* "did you mean NAME? " when typed is close to a shipped name (src/core/suggest.c),
 * else "". */
static void did_you_mean(char *buf, size_t len, const char *preset_dir, const char *subdir,
                         const char *typed)
{
    char **names;
    size_t n;
    buf[0] = '\0';
    if (lq_preset_names(preset_dir, subdir, &names, &n) != LQ_OK) return;
    const char *near = lq_suggest(typed, (const char *const *)names, n);
    if (near) snprintf(buf, len, "did you mean %.100s? ", near);
    lq_preset_names_free(names, n);
}

lq_error lq_config_check_root(const lq_node *r, const char *kind, lq_diag *d)
{
    char desc[128];
    lq_error e;
    if (r->type != LQ_NODE_MAP) {
        if (lq_node_is_null(r))
            e = lq_cfg_error(d, r, "the file is empty (expected a map of %s settings starting "
                             "with lacquer: %d)", kind, LQ_SCHEMA_VERSION);
        else
            e = lq_cfg_error(d, r, "%s is not a map (expected a map of %s settings starting "
                             "with lacquer: %d)", lq_cfg_describe(r, desc, sizeof desc), kind,
                             LQ_SCHEMA_VERSION);
        return e;
    }
    const lq_node *ver = lq_node_get(r, "lacquer");
    if (!ver) {
        char expect[96];
        snprintf(expect, sizeof expect, "lacquer: %d, the schema version, as the first key",
                 LQ_SCHEMA_VERSION);
        e = lq_cfg_missing(d, r, "lacquer", expect);
        return e;
    }
    double v;
    if (!lq_cfg_scalar_number(ver, &v)) {
        e = lq_cfg_error(d, ver, "%s is not a schema version (expected %d)",
                         lq_cfg_describe(ver, desc, sizeof desc), LQ_SCHEMA_VERSION);
        return e;
    }
    if (v != LQ_SCHEMA_VERSION) {
        e = lq_cfg_error(d, ver, "version %s is not supported (expected %d, the version this "
                         "build reads)", ver->value, LQ_SCHEMA_VERSION);
        return e;
    }
    return LQ_OK;
}

lq_error lq_config_load_tree(const char *name_or_path, const char *preset_dir, int for_target,
                             const lq_overrides *ov, lq_node **root, char **file, lq_diag *d)
{
    const char *kind = for_target ? "target" : "preset";
    const char *subdir = for_target ? "targets" : "";
    *root = NULL;
    *file = NULL;
    if (!name_or_path || !name_or_path[0])
        return lq_diag_set(d, LQ_ERR_ARG, "no %s name given (expected a name or a path)", kind);
    if (!preset_dir) preset_dir = lq_preset_default_dir();

    char *path = is_path(name_or_path) ? dup_str(name_or_path)
                                       : join_path(preset_dir, subdir, name_or_path, ".yaml");
    if (!path) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    lq_node *r = NULL;
    lq_error e = LQ_OK;
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        int err = errno;
        e = LQ_ERR_PRESET_NOT_FOUND;
        if (!is_path(name_or_path) && (err == ENOENT || err == ENOTDIR)) {
            char list[700];
            char near[128];
            shipped_list(list, sizeof list, preset_dir, subdir);
            did_you_mean(near, sizeof near, preset_dir, subdir, name_or_path);
            lq_diag_set(d, e, "%s: no such %s (%sshipped %ss: %s)", name_or_path, kind, near,
                        kind, list);
        } else {
            lq_diag_set(d, e, "%s: cannot open %s file (%s)", path, kind, strerror(err));
        }
        free(path);
        return e;
    }
    fclose(probe);
    e = lq_node_parse_file(&r, path, d);
    if (e) {
        free(path);
        return e;
    }

    e = lq_config_check_root(r, kind, d);
    if (e) goto fail;
    if (ov) {
        e = lq_overrides_apply(ov, r, for_target, d);
        if (e) goto fail;
    }
    *root = r;
    *file = path;
    return LQ_OK;
fail:
    lq_node_free(r);
    free(path);
    return e;
}

/* ---- Presets -------------------------------------------------------------------------- */

const char *const lq_preset_file_keys[] = {"lacquer", "name", "description", "master",
                                          "finish", "targets", "character", "reference",
                                          NULL};

const char *const lq_char_style_names[LQ_CHAR_STYLES] = {"dense", "sparse", "dynamic",
                                                         "bass-heavy"};
const double lq_char_octave_hz[LQ_CHAR_OCTAVES] = {31.25, 62.5, 125, 250, 500, 1000, 2000,
                                                   4000, 8000, 16000};

/* `character:` {summary, lra_change_lu: {STYLE: LU...}, plr_db: {STYLE: dB...},
 * tone_db: [10 octave bands]}: every figure required, so a table is never half filled. */
static lq_error parse_per_style(const lq_node *c, const char *key, double min, double max,
                                const char *unit, double *out, lq_diag *d)
{
    const lq_node *m = lq_node_get(c, key);
    if (!m) return lq_cfg_missing(d, c, key, "a map of dense, sparse, dynamic, bass-heavy");
    static const char *const styles[LQ_CHAR_STYLES + 1] = {"dense", "sparse", "dynamic",
                                                           "bass-heavy", NULL};
    lq_error e = lq_cfg_expect_map(m, styles, "figures per mix style", d);
    if (e) return e;
    for (int s = 0; s < LQ_CHAR_STYLES; s++) {
        if (!lq_node_get(m, lq_char_style_names[s]))
            return lq_cfg_missing(d, m, lq_char_style_names[s], "the figure for this style");
        e = lq_cfg_number(m, lq_char_style_names[s], min, max, unit, &out[s], d);
        if (e) return e;
    }
    return LQ_OK;
}

static lq_error parse_character(lq_preset *p, const lq_node *c, lq_diag *d)
{
    static const char *const keys[] = {"summary", "lra_change_lu", "plr_db", "tone_db", NULL};
    if (!c || lq_node_is_null(c)) return LQ_OK;
    lq_error e = lq_cfg_expect_map(c, keys, "measured character", d);
    if (e) return e;
    lq_preset_character *ch = &p->character;
    e = lq_cfg_string(c, "summary", 500, &ch->summary, d);
    if (e) return e;
    if (!ch->summary) return lq_cfg_missing(d, c, "summary", "one line on what it does");
    e = parse_per_style(c, "lra_change_lu", -30.0, 30.0, "LU", ch->lra_change_lu, d);
    if (!e) e = parse_per_style(c, "plr_db", 0.0, 40.0, "dB", ch->plr_db, d);
    if (e) return e;
    const lq_node *t = lq_node_get(c, "tone_db");
    if (!t) return lq_cfg_missing(d, c, "tone_db", "10 octave-band changes in dB");
    e = lq_cfg_expect_seq(t, LQ_CHAR_OCTAVES, LQ_CHAR_OCTAVES,
                          "octave-band changes, 31.5 Hz to 16 kHz", d);
    if (e) return e;
    for (int b = 0; b < LQ_CHAR_OCTAVES; b++) {
        e = lq_cfg_node_number(t->items[b], -24.0, 24.0, "dB", &ch->tone_db[b], d);
        if (e) return e;
    }
    ch->present = 1;
    return LQ_OK;
}

static int is_finish_stage(const char *name)
{
    return strcmp(name, "limiter") == 0 || strcmp(name, "dither") == 0;
}

lq_error lq_stage_list_parse(const lq_node *master, lq_stage_spec **specs, size_t *n_specs,
                             lq_diag *d)
{
    char desc[128], known[512];
    lq_error e = lq_cfg_expect_seq(master, 0, MAX_MASTER_STAGES, "master-bus stages", d);
    if (e) return e;
    if (!master || master->type != LQ_NODE_SEQ || master->count == 0) return LQ_OK;
    lq_stage_spec *list = calloc(master->count, sizeof *list);
    *specs = list;
    *n_specs = 0;
    if (!list) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");

    /* Known master-bus stages, for messages. */
    size_t n_all, off = 0;
    const lq_stage_vt *const *all = lq_stage_all(&n_all);
    known[0] = '\0';
    for (size_t i = 0; i < n_all; i++) {
        if (is_finish_stage(all[i]->name)) continue;
        int k = snprintf(known + off, sizeof known - off, "%s%s", off ? ", " : "",
                         all[i]->name);
        if (k < 0 || (size_t)k >= sizeof known - off) break;
        off += (size_t)k;
    }

    for (size_t i = 0; i < master->count; i++) {
        const lq_node *item = master->items[i];
        if (item->type != LQ_NODE_MAP)
            return lq_cfg_error(d, item, "%s is not a stage (expected a map with one stage "
                                "name as key, as in \"- gain: {gain_db: -1}\")",
                                lq_cfg_describe(item, desc, sizeof desc));
        if (item->count != 1)
            return lq_cfg_error(d, item, "%zu keys in one item (expected one stage per item, "
                                "as in \"- gain: {gain_db: -1}\")", item->count);
        const char *name = item->keys[0];
        if (is_finish_stage(name))
            return lq_cfg_error_at_key(d, item, 0, "\"%s\" is a finishing stage and cannot be "
                                       "in master (expected it under finish:, as finish.%s)",
                                       name, name);
        const lq_stage_vt *vt = lq_stage_find(name);
        if (!vt)
            return lq_cfg_error_at_key(d, item, 0, "unknown stage \"%.100s\" (expected one "
                                       "of: %s)", name, known);
        e = lq_stage_spec_parse(&list[i], vt, item->items[0], d);
        if (e) return e;
        *n_specs = i + 1;
    }
    return LQ_OK;
}

/* `master:` is either the sequence of stages (input_lufs at its default) or a map
 * {input_lufs: LUFS|null, stages: [...]}. */
static lq_error parse_master(lq_preset *p, const lq_node *master, lq_diag *d)
{
    static const char *const keys[] = {"input_lufs", "stages", NULL};
    p->has_input_ref = 1;
    p->input_lufs = LQ_MASTER_INPUT_LUFS;
    if (!master || master->type != LQ_NODE_MAP) return lq_stage_list_parse(master, &p->master, &p->n_master, d);
    lq_error e = lq_cfg_expect_map(master, keys, "master bus (input_lufs and stages, or a "
                                   "sequence of stages)", d);
    if (e) return e;
    if (lq_node_get(master, "input_lufs")) {
        int is_null = 0;
        double v = 0.0;
        e = lq_cfg_number_or_null(master, "input_lufs", -40.0, -6.0, "LUFS", &v, &is_null, d);
        if (e) return e;
        p->has_input_ref = !is_null;
        p->input_lufs = is_null ? 0.0 : v;
    }
    const lq_node *st = lq_node_get(master, "stages");
    return st ? lq_stage_list_parse(st, &p->master, &p->n_master, d) : LQ_OK;
}

static lq_error parse_finish(lq_preset *p, const lq_node *finish, lq_diag *d)
{
    static const char *const keys[] = {"limiter", "dither", "loudness_lufs", NULL};
    lq_error e = lq_cfg_expect_map(finish, keys, "finishing chain", d);
    if (e) return e;
    /* the master's own level, for targets that set none (cd, hi-res, archive) */
    int is_null = 0;
    double lv = 0.0;
    if (lq_node_get(finish, "loudness_lufs")) {
        e = lq_cfg_number_or_null(finish, "loudness_lufs", -70.0, 0.0, "LUFS", &lv, &is_null, d);
        if (e) return e;
        p->has_level = !is_null;
        p->level_lufs = lv;
    }
    const lq_node *lim = lq_node_get(finish, "limiter");
    if (lim) {
        const lq_stage_vt *vt = lq_stage_find("limiter");
        if (!vt)
            return lq_cfg_error(d, lim, "limiter stage not available in this build (expected "
                                "no finish.limiter in this build)");
        e = lq_stage_spec_parse(&p->limiter, vt, lim, d);
        if (e) return e;
    }
    const lq_stage_vt *dvt = lq_stage_find("dither");
    if (dvt) {
        e = lq_stage_spec_parse(&p->dither, dvt, lq_node_get(finish, "dither"), d);
        if (e) return e;
    }
    return LQ_OK;
}

static lq_error parse_targets(lq_preset *p, const lq_node *targets, const char *preset_dir,
                              lq_diag *d)
{
    char desc[128];
    lq_error e = lq_cfg_expect_seq(targets, 0, MAX_TARGETS, "target names", d);
    if (e) return e;
    if (targets->type != LQ_NODE_SEQ || targets->count == 0) return LQ_OK;
    p->targets = calloc(targets->count, sizeof *p->targets);
    if (!p->targets) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < targets->count; i++) {
        const lq_node *t = targets->items[i];
        if (t->type != LQ_NODE_SCALAR || lq_node_is_null(t))
            return lq_cfg_error(d, t, "%s is not a target name (expected a shipped target "
                                "name such as spotify, or a path)",
                                lq_cfg_describe(t, desc, sizeof desc));
        /* Names (not paths) must be shipped targets: a typo is caught here, not at export. */
        if (!is_path(t->value)) {
            char *f = lq_preset_resolve(t->value, preset_dir, "targets");
            if (!f) {
                char list[700];
                char near[128];
                shipped_list(list, sizeof list, preset_dir, "targets");
                did_you_mean(near, sizeof near, preset_dir, "targets", t->value);
                return lq_cfg_error(d, t, "no such target \"%.100s\" (%sexpected one of: %s)",
                                    t->value, near, list);
            }
            free(f);
        }
        p->targets[i] = dup_str(t->value);
        if (!p->targets[i]) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        p->n_targets = i + 1;
    }
    return LQ_OK;
}

/* reference: {files: [PATH | {file: PATH, weight: W}, ...], strength, width_strength,
 * max_boost_db, max_cut_db, boost_lo_hz, boost_hi_hz} (docs/REFERENCE.md).  Relative
 * paths are taken from base_file's folder. */
lq_error lq_ref_spec_parse(lq_ref_spec *r, const lq_node *n, const char *base_file, lq_diag *d)
{
    static const char *const keys[] = {"files", "strength", "width_strength", "max_boost_db",
                                       "max_cut_db", "boost_lo_hz", "boost_hi_hz", NULL};
    static const char *const file_keys[] = {"file", "weight", NULL};
    memset(r, 0, sizeof *r);
    lq_error e = lq_cfg_expect_map(n, keys, "reference matching", d);
    if (e) return e;
    r->strength = 1.0;
    r->width_strength = 0.0;
    r->max_boost_db = r->max_cut_db = 6.0;
    r->boost_lo_hz = 30.0;
    r->boost_hi_hz = 18000.0;
    if ((e = lq_cfg_number(n, "strength", 0.0, 1.0, "strength", &r->strength, d)) ||
        (e = lq_cfg_number(n, "width_strength", 0.0, 1.0, "strength", &r->width_strength,
                           d)) ||
        (e = lq_cfg_number(n, "max_boost_db", 0.0, 24.0, "dB", &r->max_boost_db, d)) ||
        (e = lq_cfg_number(n, "max_cut_db", 0.0, 24.0, "dB", &r->max_cut_db, d)) ||
        (e = lq_cfg_number(n, "boost_lo_hz", 0.0, 96000.0, "Hz", &r->boost_lo_hz, d)) ||
        (e = lq_cfg_number(n, "boost_hi_hz", 0.0, 96000.0, "Hz", &r->boost_hi_hz, d)))
        return e;
    if (r->boost_hi_hz < r->boost_lo_hz)
        return lq_cfg_error(d, lq_node_get(n, "boost_hi_hz"), "below boost_lo_hz (expected "
                            "boost_lo_hz <= boost_hi_hz)");
    const lq_node *files = lq_node_get(n, "files");
    if (!files) return lq_cfg_missing(d, n, "files", "a list of reference files, 1 to 16");
    if ((e = lq_cfg_expect_seq(files, 1, 16, "a list of reference files, 1 to 16", d))) return e;
    r->files = calloc(files->count, sizeof *r->files);
    r->weights = calloc(files->count, sizeof *r->weights);
    if (!r->files || !r->weights) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    const char *slash = base_file ? strrchr(base_file, '/') : NULL;
    const size_t dir_len = slash ? (size_t)(slash - base_file) + 1 : 0;
    for (size_t i = 0; i < files->count; i++) {
        const lq_node *f = files->items[i];
        const lq_node *path = f;
        double w = 1.0;
        if (f->type == LQ_NODE_MAP) {
            if ((e = lq_cfg_expect_map(f, file_keys, "reference file", d))) return e;
            if (!(path = lq_node_get(f, "file")))
                return lq_cfg_missing(d, f, "file", "the reference's path");
            if ((e = lq_cfg_number(f, "weight", 0.001, 1000.0, "weight", &w, d))) return e;
        }
        if (path->type != LQ_NODE_SCALAR || !path->value[0] || lq_node_is_null(path))
            return lq_cfg_error(d, path, "not a file (expected a reference's path, or "
                                "{file: PATH, weight: W})");
        const int rel = path->value[0] != '/';
        const size_t len = (rel ? dir_len : 0) + strlen(path->value) + 1;
        char *full = malloc(len);
        if (!full) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
        snprintf(full, len, "%.*s%s", rel ? (int)dir_len : 0, base_file ? base_file : "",
                 path->value);
        r->files[i] = full;
        r->weights[i] = w;
        r->n = i + 1;
    }
    return LQ_OK;
}

void lq_ref_spec_free(lq_ref_spec *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free(r->files[i]);
    free(r->files);
    free(r->weights);
    memset(r, 0, sizeof *r);
}

/* The preset's `reference:` key: the shared parser, its result kept in the preset. */
static lq_error parse_reference(lq_preset *p, const lq_node *n, lq_diag *d)
{
    lq_ref_spec r;
    lq_error e = lq_ref_spec_parse(&r, n, p->file, d);
    if (e) {
        lq_ref_spec_free(&r);
        return e;
    }
    p->has_reference = 1;
    p->ref_files = r.files;
    p->ref_weights = r.weights;
    p->n_refs = r.n;
    p->ref_strength = r.strength;
    p->ref_width_strength = r.width_strength;
    p->ref_max_boost_db = r.max_boost_db;
    p->ref_max_cut_db = r.max_cut_db;
    p->ref_boost_lo_hz = r.boost_lo_hz;
    p->ref_boost_hi_hz = r.boost_hi_hz;
    return LQ_OK;
}

static lq_error preset_validate(lq_preset *p, const char *preset_dir, lq_diag *d)
{
    const lq_node *r = p->root;
    lq_error e = lq_cfg_expect_map(r, lq_preset_file_keys, "preset", d);
    if (e) return e;
    if (!lq_node_get(r, "name"))
        return lq_cfg_missing(d, r, "name", "the preset's name, a string");
    e = lq_cfg_string(r, "name", 64, &p->name, d);
    if (e) return e;
    if (!p->name[0])
        return lq_cfg_error(d, lq_node_get(r, "name"), "an empty name (expected the preset's "
                            "name, a string)");
    e = lq_cfg_string(r, "description", 500, &p->description, d);
    if (e) return e;
    if (!p->description) {
        p->description = dup_str("");
        if (!p->description) return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
    }
    const lq_node *n = lq_node_get(r, "master");
    e = parse_master(p, n, d);
    if (e) return e;
    n = lq_node_get(r, "finish");
    if (n && !lq_node_is_null(n)) p->finish_node = (lq_node *)n;
    e = parse_finish(p, n, d);
    if (e) return e;
    e = parse_character(p, lq_node_get(r, "character"), d);
    if (e) return e;
    n = lq_node_get(r, "targets");
    if (n) {
        e = parse_targets(p, n, preset_dir, d);
        if (e) return e;
    }
    n = lq_node_get(r, "reference");
    if (n && !lq_node_is_null(n) && (e = parse_reference(p, n, d))) return e;
    return LQ_OK;
}

void lq_preset_destroy(lq_preset **pp)
{
    if (!pp || !*pp) return;
    lq_preset *p = *pp;
    free(p->name);
    free(p->description);
    free(p->file);
    free(p->character.summary);
    for (size_t i = 0; i < p->n_master; i++) lq_stage_spec_free(&p->master[i]);
    free(p->master);
    lq_stage_spec_free(&p->limiter);
    lq_stage_spec_free(&p->dither);
    for (size_t i = 0; i < p->n_targets; i++) free(p->targets[i]);
    free(p->targets);
    for (size_t i = 0; i < p->n_refs; i++) free(p->ref_files[i]);
    free(p->ref_files);
    free(p->ref_weights);
    lq_node_free(p->root);
    free(p);
    *pp = NULL;
}

static void copy_err(char *err, size_t errlen, const lq_diag *d)
{
    if (err && errlen) snprintf(err, errlen, "%s", d->msg);
}

lq_error lq_preset_load(lq_preset **out, const char *name_or_path, const char *preset_dir,
                        const lq_overrides *ov, char *err, size_t errlen)
{
    lq_diag d = {{0}};
    if (err && errlen) err[0] = '\0';
    if (!out) return LQ_ERR_ARG;
    *out = NULL;
    if (!preset_dir) preset_dir = lq_preset_default_dir();
    lq_preset *p = calloc(1, sizeof *p);
    if (!p) {
        lq_diag_set(&d, LQ_ERR_NOMEM, "out of memory");
        copy_err(err, errlen, &d);
        return LQ_ERR_NOMEM;
    }
    lq_error e = lq_config_load_tree(name_or_path, preset_dir, 0, ov, &p->root, &p->file, &d);
    if (!e) e = preset_validate(p, preset_dir, &d);
    if (e) {
        copy_err(err, errlen, &d);
        lq_preset_destroy(&p);
        return e;
    }
    *out = p;
    return LQ_OK;
}

const char *lq_preset_name(const lq_preset *p)
{
    return p ? p->name : NULL;
}

const char *lq_preset_description(const lq_preset *p)
{
    return p ? p->description : NULL;
}

size_t lq_preset_target_count(const lq_preset *p)
{
    return p ? p->n_targets : 0;
}

const char *lq_preset_target_name(const lq_preset *p, size_t i)
{
    return p && i < p->n_targets ? p->targets[i] : NULL;
}
