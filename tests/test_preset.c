/* Presets: the YAML node tree (paths, lines, columns), the strict lq_cfg_* helpers, the
 * shipped presets, and a table of bad files each with its exact error line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/node.h"
#include "config/preset.h"

static char g_tmp[256];

static const char *preset_dir(void)
{
    const char *env = getenv("LACQUER_PRESET_DIR");
    return env && env[0] ? env : LQ_SOURCE_DIR "/presets";
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/lq_test_preset_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write text to g_tmp/name; returns the path (static buffer per call site copy). */
static void write_file(const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Known master-bus stages as the preset error lists them. */
static void master_stage_list(char *buf, size_t len)
{
    size_t n, off = 0;
    const lq_stage_vt *const *all = lq_stage_all(&n);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(all[i]->name, "limiter") || !strcmp(all[i]->name, "dither")) continue;
        off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", all[i]->name);
    }
}

/* ---- node tree ------------------------------------------------------------------------ */

static void test_node_paths_and_marks(void **state)
{
    (void)state;
    const char *text = "lacquer: 1\n"
                       "master:\n"
                       "  - eq:\n"
                       "      bands:\n"
                       "        - {type: bell, freq_hz: 100}\n"
                       "        - {type: bell, freq_hz: 200}\n"
                       "        - {type: bell, freq_hz: 3000}\n"
                       "finish:\n"
                       "  limiter: {release_ms: 80}\n";
    lq_diag d = {{0}};
    lq_node *root = NULL;
    assert_int_equal(lq_node_parse_string(&root, text, "mem.yaml", &d), LQ_OK);
    const lq_node *m = lq_node_get(root, "master");
    assert_non_null(m);
    assert_int_equal(m->type, LQ_NODE_SEQ);
    const lq_node *bands = lq_node_get(lq_node_get(m->items[0], "eq"), "bands");
    assert_non_null(bands);
    assert_int_equal(bands->count, 3);
    const lq_node *f = lq_node_get(bands->items[2], "freq_hz");
    assert_string_equal(f->path, "master[0].eq.bands[2].freq_hz");
    assert_string_equal(f->value, "3000");
    assert_int_equal(f->line, 7);
    assert_int_equal(f->col, 33);
    assert_true(f->plain);
    assert_string_equal(f->file, "mem.yaml");
    const lq_node *r = lq_node_get(lq_node_get(lq_node_get(root, "finish"), "limiter"),
                                   "release_ms");
    assert_string_equal(r->path, "finish.limiter.release_ms");
    assert_int_equal(r->line, 9);
    assert_int_equal(r->col, 25);
    /* key marks: "limiter" key at 9:3 */
    const lq_node *fin = lq_node_get(root, "finish");
    assert_non_null(fin->key_marks);
    assert_int_equal(fin->key_marks[0].line, 9);
    assert_int_equal(fin->key_marks[0].col, 3);
    lq_node_free(root);
}

static void test_node_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"a: [1, 2\n", "m.yaml:2:1: syntax error: did not find expected ',' or ']'"},
        {"a: 1\nb: {x: 1, x: 2}\n",
         "m.yaml:2:11: b: duplicate key \"x\" (expected each key once)"},
        {"a: &x 1\nb: *x\n",
         "m.yaml:2:4: b: aliases (*name) are not supported (expected the value written out)"},
        {"a: 1\n---\nb: 2\n",
         "m.yaml:2:1: a second YAML document (expected one document per file)"},
        {"a: 1\nb: x\xff\n", "m.yaml:2:5: syntax error: invalid leading UTF-8 octet"},
        {"? [a, b]\n: 1\n",
         "m.yaml:1:3: a map or sequence used as a key is not supported (expected a plain "
         "key)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lq_diag d = {{0}};
        lq_node *root = NULL;
        lq_error e = lq_node_parse_string(&root, cases[i].text, "m.yaml", &d);
        if (e != LQ_ERR_PRESET || strcmp(d.msg, cases[i].expect) != 0)
            fail_msg("case %zu: got %d \"%s\", expected \"%s\"", i, e, d.msg, cases[i].expect);
        assert_null(root);
    }
}

static void test_node_set_path(void **state)
{
    (void)state;
    lq_diag d = {{0}};
    lq_node *root = NULL;
    assert_int_equal(lq_node_parse_string(&root, "lacquer: 1\nfinish:\n  limiter: {a: 1}\n"
                                          "master: [{gain: {gain_db: 1}}]\n", "f.yaml", &d),
                     LQ_OK);
    /* replace a scalar deep inside */
    assert_int_equal(lq_node_set_path(root, "finish.limiter.a", "5", "--set", &d), LQ_OK);
    const lq_node *a = lq_node_get(lq_node_get(lq_node_get(root, "finish"), "limiter"), "a");
    assert_string_equal(a->value, "5");
    assert_string_equal(a->file, "--set");
    assert_string_equal(a->path, "finish.limiter.a");
    assert_int_equal(a->line, 0);
    /* create intermediate maps */
    assert_int_equal(lq_node_set_path(root, "finish.dither.type", "rpdf", "--set", &d), LQ_OK);
    const lq_node *t = lq_node_get(lq_node_get(lq_node_get(root, "finish"), "dither"), "type");
    assert_non_null(t);
    assert_string_equal(t->path, "finish.dither.type");
    /* a flow sequence value; a whole subtree replaced */
    assert_int_equal(lq_node_set_path(root, "codec_check", "[mp3, opus]", "--set", &d), LQ_OK);
    const lq_node *cc = lq_node_get(root, "codec_check");
    assert_int_equal(cc->type, LQ_NODE_SEQ);
    assert_int_equal(cc->count, 2);
    assert_string_equal(cc->items[1]->path, "codec_check[1]");
    assert_string_equal(cc->items[1]->value, "opus");
    assert_int_equal(lq_node_set_path(root, "finish", "{limiter: {b: 2}}", "--set", &d), LQ_OK);
    assert_null(lq_node_get(lq_node_get(lq_node_get(root, "finish"), "limiter"), "a"));
    assert_string_equal(
        lq_node_get(lq_node_get(lq_node_get(root, "finish"), "limiter"), "b")->path,
        "finish.limiter.b");
    /* indexing into an existing sequence */
    assert_int_equal(lq_node_set_path(root, "master[0].gain.gain_db", "-3", "--set", &d),
                     LQ_OK);
    const lq_node *g = lq_node_get(lq_node_get(lq_node_get(root, "master")->items[0], "gain"),
                                   "gain_db");
    assert_string_equal(g->value, "-3");
    assert_string_equal(g->path, "master[0].gain.gain_db");
    /* errors */
    assert_int_equal(lq_node_set_path(root, "master[4].gain.gain_db", "1", "--set", &d),
                     LQ_ERR_PRESET);
    assert_string_equal(d.msg, "--set master[4].gain.gain_db=1: master has no item [4] "
                               "(expected an index into an existing sequence)");
    assert_int_equal(lq_node_set_path(root, "lacquer.x", "1", "--set", &d), LQ_ERR_PRESET);
    assert_string_equal(d.msg, "--set lacquer.x=1: lacquer is not a map (expected a map to "
                               "set x in)");
    assert_int_equal(lq_node_set_path(root, "targets", "[cd", "--set", &d), LQ_ERR_PRESET);
    assert_string_equal(d.msg, "--set targets=[cd: syntax error: did not find expected ',' "
                               "or ']'");
    lq_node_free(root);
}

/* ---- lq_cfg_* helpers ----------------------------------------------------------------- */

static void test_cfg_helpers(void **state)
{
    (void)state;
    lq_diag d = {{0}};
    lq_node *r = NULL;
    assert_int_equal(lq_node_parse_string(&r,
                                          "n: 2.5\nq: \"2.5\"\ni: 12\nf: 1.5\nb: true\n"
                                          "y: yes\ne: side\ns: hello\nnan: .nan\nbig: 1e999\n"
                                          "hex: 0x10\nnul: null\nseq: [1, 2, 3]\n",
                                          "c.yaml", &d),
                     LQ_OK);
    double v = -1;
    assert_int_equal(lq_cfg_number(r, "n", 0, 10, "dB", &v, &d), LQ_OK);
    assert_true(v == 2.5);
    v = 7;
    assert_int_equal(lq_cfg_number(r, "absent", 0, 10, "dB", &v, &d), LQ_OK);
    assert_true(v == 7); /* default kept */
    static const struct {
        const char *key;
        const char *expect;
    } nums[] = {
        {"q", "c.yaml:2:4: q: \"2.5\" is not a number (expected dB from 0 to 2)"},
        {"nan", "c.yaml:9:6: nan: .nan is not a number (expected dB from 0 to 2)"},
        {"big", "c.yaml:10:6: big: 1e999 is not a number (expected dB from 0 to 2)"},
        {"hex", "c.yaml:11:6: hex: 0x10 is not a number (expected dB from 0 to 2)"},
        {"n", "c.yaml:1:4: n: 2.5 is out of range (expected dB from 0 to 2)"},
        {"seq", "c.yaml:13:6: seq: a sequence is not a number (expected dB from 0 to 2)"},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        assert_int_equal(lq_cfg_number(r, nums[i].key, 0, 2, "dB", &v, &d), LQ_ERR_PRESET);
        assert_string_equal(d.msg, nums[i].expect);
    }
    int is_null = 0;
    assert_int_equal(lq_cfg_number_or_null(r, "nul", -70, 0, "LUFS", &v, &is_null, &d), LQ_OK);
    assert_int_equal(is_null, 1);
    assert_int_equal(lq_cfg_number_or_null(r, "s", -70, 0, "LUFS", &v, &is_null, &d),
                     LQ_ERR_PRESET);
    assert_string_equal(d.msg, "c.yaml:8:4: s: hello is not a number (expected LUFS from -70 "
                               "to 0, or null)");
    long l = 0;
    assert_int_equal(lq_cfg_int(r, "i", 1, 16, &l, &d), LQ_OK);
    assert_int_equal(l, 12);
    assert_int_equal(lq_cfg_int(r, "f", 1, 16, &l, &d), LQ_ERR_PRESET);
    assert_string_equal(d.msg, "c.yaml:4:4: f: 1.5 is not an integer (expected an integer "
                               "from 1 to 16)");
    assert_int_equal(lq_cfg_int(r, "i", 1, 8, &l, &d), LQ_ERR_PRESET);
    assert_string_equal(d.msg, "c.yaml:3:4: i: 12 is out of range (expected an integer from 1 "
                               "to 8)");
    int b = 0;
    assert_int_equal(lq_cfg_bool(r, "b", &b, &d), LQ_OK);
    assert_int_equal(b, 1);
    assert_int_equal(lq_cfg_bool(r, "y", &b, &d), LQ_ERR_PRESET);
    assert_string_equal(d.msg, "c.yaml:6:4: y: yes is not a boolean (expected true or false)");
    static const char *const ch[] = {"stereo", "left", "right", "mid", "side", NULL};
    int idx = -1;
    assert_int_equal(lq_cfg_enum(r, "e", ch, &idx, &d), LQ_OK);
    assert_int_equal(idx, 4);
    assert_int_equal(lq_cfg_enum(r, "s", ch, &idx, &d), LQ_ERR_PRESET);
    assert_string_equal(d.msg, "c.yaml:8:4: s: unknown value hello (expected one of: stereo, "
                               "left, right, mid, side)");
    char *s = NULL;
    assert_int_equal(lq_cfg_string(r, "s", 10, &s, &d), LQ_OK);
    assert_string_equal(s, "hello");
    free(s);
    s = NULL;
    assert_int_equal(lq_cfg_string(r, "s", 3, &s, &d), LQ_ERR_PRESET);
    assert_string_equal(d.msg, "c.yaml:8:4: s: a string of 5 characters is too long "
                               "(expected at most 3 characters)");
    assert_null(s);
    const lq_node *seq = lq_node_get(r, "seq");
    assert_int_equal(lq_cfg_expect_seq(seq, 1, 2, "bands", &d), LQ_ERR_PRESET);
    assert_string_equal(d.msg, "c.yaml:13:6: seq: 3 items are too many (expected bands: a "
                               "sequence of 1 to 2 items)");
    assert_int_equal(lq_cfg_node_number(seq->items[1], 0, 1, "Hz", &v, &d), LQ_ERR_PRESET);
    assert_string_equal(d.msg, "c.yaml:13:10: seq[1]: 2 is out of range (expected Hz from 0 "
                               "to 1)");
    static const char *const keys[] = {"n", "q", NULL};
    assert_int_equal(lq_cfg_expect_map(r, keys, "test", &d), LQ_ERR_PRESET);
    assert_string_equal(d.msg, "c.yaml:3:1: unknown key \"i\" (expected one of: n, q)");
    lq_node_free(r);
}

/* ---- shipped presets ------------------------------------------------------------------ */

static void test_shipped_presets_load(void **state)
{
    (void)state;
    char **names;
    size_t n;
    assert_int_equal(lq_preset_names(preset_dir(), "", &names, &n), LQ_OK);
    assert_true(n >= 1);
    int saw_transparent = 0;
    for (size_t i = 0; i < n; i++) {
        char err[1024];
        lq_preset *p = NULL;
        lq_error e = lq_preset_load(&p, names[i], preset_dir(), NULL, err, sizeof err);
        if (e) fail_msg("preset %s: %s", names[i], err);
        assert_string_equal(lq_preset_name(p), names[i]);
        assert_true(strlen(lq_preset_description(p)) > 0);
        /* every default target of every shipped preset is a shipped target that loads */
        for (size_t k = 0; k < lq_preset_target_count(p); k++) {
            lq_target *t = NULL;
            e = lq_target_load(&t, lq_preset_target_name(p, k), preset_dir(), NULL, err,
                               sizeof err);
            if (e) fail_msg("preset %s target %s: %s", names[i], lq_preset_target_name(p, k),
                            err);
            lq_target_destroy(&t);
        }
        if (!strcmp(names[i], "transparent")) {
            saw_transparent = 1;
            assert_int_equal(p->n_master, 0);
            assert_null(p->limiter.vt);
            assert_null(p->finish_node);
            assert_int_equal(lq_preset_target_count(p), 3);
            assert_string_equal(lq_preset_target_name(p, 0), "spotify");
            assert_string_equal(lq_preset_target_name(p, 1), "apple-music");
            assert_string_equal(lq_preset_target_name(p, 2), "cd");
            assert_null(lq_preset_target_name(p, 3));
            /* dither is always present when the build has the stage */
            assert_true((p->dither.vt != NULL) == (lq_stage_find("dither") != NULL));
        }
        lq_preset_destroy(&p);
        assert_null(p);
    }
    assert_true(saw_transparent);
    lq_preset_names_free(names, n);
}

static void test_not_found(void **state)
{
    (void)state;
    char dir[300], sub[320], path[400], err[1024];
    snprintf(dir, sizeof dir, "%s/shipdir", g_tmp);
    snprintf(sub, sizeof sub, "%s/targets", dir);
    char tmp[2000];
    snprintf(tmp, sizeof tmp, "mkdir -p '%s' && touch '%s/b.yaml' '%s/a.yaml' '%s/notes.txt' "
             "'%s/x.yaml'", sub, dir, dir, dir, sub);
    assert_int_equal(system(tmp), 0);
    lq_preset *p = NULL;
    assert_int_equal(lq_preset_load(&p, "zz", dir, NULL, err, sizeof err),
                     LQ_ERR_PRESET_NOT_FOUND);
    assert_string_equal(err, "zz: no such preset (shipped presets: a, b)");
    lq_target *t = NULL;
    assert_int_equal(lq_target_load(&t, "zz", dir, NULL, err, sizeof err),
                     LQ_ERR_PRESET_NOT_FOUND);
    assert_string_equal(err, "zz: no such target (shipped targets: x)");
    snprintf(path, sizeof path, "%s/missing.yaml", g_tmp);
    assert_int_equal(lq_preset_load(&p, path, dir, NULL, err, sizeof err),
                     LQ_ERR_PRESET_NOT_FOUND);
    char expect[600];
    snprintf(expect, sizeof expect, "%s: cannot open preset file (No such file or directory)",
             path);
    assert_string_equal(err, expect);
    assert_null(p);
    /* resolve: names, paths, .yml */
    char *r = lq_preset_resolve("a", dir, "");
    snprintf(expect, sizeof expect, "%s/a.yaml", dir);
    assert_string_equal(r, expect);
    free(r);
    assert_null(lq_preset_resolve("x", dir, ""));
    r = lq_preset_resolve("x", dir, "targets");
    snprintf(expect, sizeof expect, "%s/targets/x.yaml", dir);
    assert_string_equal(r, expect);
    free(r);
    assert_null(lq_preset_resolve("nothere.yml", dir, ""));
}

/* ---- a table of bad presets, each with its exact error line ---------------------------- */

typedef struct bad_case {
    const char *label;
    const char *text;
    const char *expect; /* after "PATH" */
} bad_case;

static void check_bad(const bad_case *c, const lq_overrides *ov)
{
    char path[400], err[1024], expect[1400];
    write_file("bad.yaml", c->text, path, sizeof path);
    lq_preset *p = NULL;
    lq_error e = lq_preset_load(&p, path, preset_dir(), ov, err, sizeof err);
    if (c->expect[0] == '-')
        snprintf(expect, sizeof expect, "%s", c->expect); /* "--set..." has no file */
    else
        snprintf(expect, sizeof expect, "%s%s", path, c->expect);
    if (e != LQ_ERR_PRESET || strcmp(err, expect) != 0)
        fail_msg("%s: got %d\n  \"%s\"\nexpected\n  \"%s\"", c->label, e, err, expect);
    assert_null(p);
}

static void test_bad_presets(void **state)
{
    (void)state;
    char stages[256], unknown_stage[512];
    master_stage_list(stages, sizeof stages);
    snprintf(unknown_stage, sizeof unknown_stage,
             ":4:5: master[0]: unknown stage \"compresor\" (expected one of: %s)", stages);
    const bad_case cases[] = {
        {"unknown top-level key", "lacquer: 1\nname: x\nmastr: []\n",
         ":3:1: unknown key \"mastr\" (expected one of: lacquer, name, description, master, "
         "finish, targets, character, reference)"},
        {"unknown key in a stage", "lacquer: 1\nname: x\nmaster:\n  - gain: {gian_db: -3}\n",
         ":4:12: master[0].gain: unknown key \"gian_db\" (expected one of: gain_db)"},
        {"wrong type", "lacquer: 1\nname: x\nmaster:\n  - gain: {gain_db: \"loud\"}\n",
         ":4:21: master[0].gain.gain_db: \"loud\" is not a number (expected dB from -60 to "
         "24)"},
        {"quoted number", "lacquer: 1\nname: x\nmaster:\n  - gain:\n      gain_db: '3'\n",
         ":5:16: master[0].gain.gain_db: \"3\" is not a number (expected dB from -60 to 24)"},
        {"trailing junk", "lacquer: 1\nname: x\nmaster:\n  - gain:\n      gain_db: 3dB\n",
         ":5:16: master[0].gain.gain_db: 3dB is not a number (expected dB from -60 to 24)"},
        {"out of range", "lacquer: 1\nname: x\nmaster:\n  - gain: {gain_db: 30}\n",
         ":4:21: master[0].gain.gain_db: 30 is out of range (expected dB from -60 to 24)"},
        {"second stage out of range",
         "lacquer: 1\nname: x\nmaster:\n  - gain: {gain_db: -1}\n  - gain: {gain_db: -61}\n",
         ":5:21: master[1].gain.gain_db: -61 is out of range (expected dB from -60 to 24)"},
        {"missing lacquer", "name: x\nmaster: []\n",
         ":1:1: lacquer: missing required key (expected lacquer: 1, the schema version, as "
         "the first key)"},
        {"wrong version", "lacquer: 2\nname: x\n",
         ":1:10: lacquer: version 2 is not supported (expected 1, the version this build "
         "reads)"},
        {"version not a number", "lacquer: one\nname: x\n",
         ":1:10: lacquer: one is not a schema version (expected 1)"},
        {"missing name", "lacquer: 1\ndescription: d\n",
         ":1:1: name: missing required key (expected the preset's name, a string)"},
        {"name a map", "lacquer: 1\nname: {a: 1}\n",
         ":2:7: name: a map is not a string (expected a string of at most 64 characters)"},
        {"syntax error", "lacquer: 1\nname: x\nmaster: [gain\n",
         ":4:1: syntax error: did not find expected ',' or ']'"},
        {"bad indentation", "lacquer: 1\nname: x\n  description: y\n",
         ":3:14: syntax error: mapping values are not allowed in this context"},
        {"empty file", "# nothing\n",
         ":1:1: the file is empty (expected a map of preset settings starting with lacquer: "
         "1)"},
        {"not a map", "- a\n- b\n",
         ":1:1: a sequence is not a map (expected a map of preset settings starting with "
         "lacquer: 1)"},
        {"unknown stage", "lacquer: 1\nname: x\nmaster:\n  - compresor: {}\n", unknown_stage},
        {"limiter in master", "lacquer: 1\nname: x\nmaster:\n  - limiter: {}\n",
         ":4:5: master[0]: \"limiter\" is a finishing stage and cannot be in master "
         "(expected it under finish:, as finish.limiter)"},
        {"dither in master", "lacquer: 1\nname: x\nmaster:\n  - gain: {}\n  - dither: {}\n",
         ":5:5: master[1]: \"dither\" is a finishing stage and cannot be in master (expected "
         "it under finish:, as finish.dither)"},
        {"two stages in one item", "lacquer: 1\nname: x\nmaster:\n  - {gain: {}, eq: {}}\n",
         ":4:5: master[0]: 2 keys in one item (expected one stage per item, as in \"- gain: "
         "{gain_db: -1}\")"},
        {"stage as a bare name", "lacquer: 1\nname: x\nmaster:\n  - gain\n",
         ":4:5: master[0]: gain is not a stage (expected a map with one stage name as key, as "
         "in \"- gain: {gain_db: -1}\")"},
        {"master not a sequence", "lacquer: 1\nname: x\nmaster: gain\n",
         ":3:9: master: gain is not a sequence (expected master-bus stages: a sequence of 0 to "
         "32 items)"},
        {"stage settings not a map", "lacquer: 1\nname: x\nmaster:\n  - gain: 3\n",
         ":4:11: master[0].gain: 3 is not a map (expected a map of gain stage settings)"},
        {"unknown finish key", "lacquer: 1\nname: x\nfinish:\n  limter: {}\n",
         ":4:3: finish: unknown key \"limter\" (expected one of: limiter, dither, loudness_lufs)"},
        {"preset level out of range", "lacquer: 1\nname: x\nfinish:\n  loudness_lufs: 3\n",
         ":4:18: finish.loudness_lufs: 3 is out of range (expected LUFS from -70 to 0, or null)"},
        {"unknown target", "lacquer: 1\nname: x\ntargets: [spotify, spotfy]\n",
         NULL /* filled below: lists the shipped targets */},
        {"unknown master key", "lacquer: 1\nname: x\nmaster:\n  input_lfs: -18\n",
         ":4:3: master: unknown key \"input_lfs\" (expected one of: input_lufs, stages)"},
        {"input_lufs out of range", "lacquer: 1\nname: x\nmaster: {input_lufs: -3, stages: []}\n",
         ":3:22: master.input_lufs: -3 is out of range (expected LUFS from -40 to -6, or null)"},
        {"input_lufs not a number", "lacquer: 1\nname: x\nmaster: {input_lufs: loud}\n",
         ":3:22: master.input_lufs: loud is not a number (expected LUFS from -40 to -6, or "
         "null)"},
        {"stages not a sequence", "lacquer: 1\nname: x\nmaster: {stages: {gain: {}}}\n",
         ":3:18: master.stages: a map is not a sequence (expected master-bus stages: a sequence "
         "of 0 to 32 items)"},
        {"character without summary", "lacquer: 1\nname: x\ncharacter: {plr_db: {}}\n",
         ":3:12: character.summary: missing required key (expected one line on what it does)"},
        {"character style missing", "lacquer: 1\nname: x\ncharacter:\n  summary: s\n"
         "  lra_change_lu: {dense: 0, sparse: 0, dynamic: 0}\n",
         ":5:18: character.lra_change_lu.bass-heavy: missing required key (expected the "
         "figure for this style)"},
        {"character unknown style", "lacquer: 1\nname: x\ncharacter:\n  summary: s\n"
         "  lra_change_lu: {dense: 0, sparse: 0, dynamic: 0, bass: 0}\n",
         ":5:52: character.lra_change_lu: unknown key \"bass\" (expected one of: dense, "
         "sparse, dynamic, bass-heavy)"},
        {"character tone bands", "lacquer: 1\nname: x\ncharacter:\n  summary: s\n"
         "  lra_change_lu: {dense: 0, sparse: 0, dynamic: 0, bass-heavy: 0}\n"
         "  plr_db: {dense: 9, sparse: 9, dynamic: 9, bass-heavy: 9}\n  tone_db: [0, 0]\n",
         ":7:12: character.tone_db: 2 items are too few (expected octave-band changes, 31.5 "
         "Hz to 16 kHz: a sequence of exactly 10 items)"},
        {"duplicate key", "lacquer: 1\nname: x\nname: y\n",
         ":3:1: duplicate key \"name\" (expected each key once)"},
        {"alias", "lacquer: 1\nname: &n x\ndescription: *n\n",
         ":3:14: description: aliases (*name) are not supported (expected the value written "
         "out)"},
    };
    char targets_msg[1024], list[800];
    {
        char **names;
        size_t n, off = 0;
        assert_int_equal(lq_preset_names(preset_dir(), "targets", &names, &n), LQ_OK);
        list[0] = '\0';
        for (size_t i = 0; i < n; i++)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                    names[i]);
        lq_preset_names_free(names, n);
        snprintf(targets_msg, sizeof targets_msg,
                 ":3:20: targets[1]: no such target \"spotfy\" (did you mean spotify? "
                 "expected one of: %s)", list);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bad_case c = cases[i];
        if (!c.expect) c.expect = targets_msg;
        check_bad(&c, NULL);
    }
    /* finish.limiter: the example line of docs/PRESETS.md, or (while the build has no
     * limiter stage) the "not available" error. */
    if (lq_stage_find("limiter")) {
        bad_case c = {"limiter release out of range",
                      "lacquer: 1\nname: x\nfinish:\n  limiter:\n"
                      "    lookahead_ms: 2\n    release_ms: 5000\n",
                      ":6:17: finish.limiter.release_ms: 5000 is out of range (expected "
                      "milliseconds from 1 to 1000)"};
        check_bad(&c, NULL);
    } else {
        bad_case c = {"limiter not built", "lacquer: 1\nname: x\nfinish:\n  limiter: {}\n",
                      ":4:12: finish.limiter: limiter stage not available in this build "
                      "(expected no finish.limiter in this build)"};
        check_bad(&c, NULL);
    }
}

/* ---- minimal valid presets ------------------------------------------------------------ */

static void test_minimal_presets(void **state)
{
    (void)state;
    char path[400], err[1024];
    lq_preset *p = NULL;
    write_file("min.yaml", "lacquer: 1\nname: minimal\nmaster: []\n", path, sizeof path);
    if (lq_preset_load(&p, path, preset_dir(), NULL, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(lq_preset_name(p), "minimal");
    assert_string_equal(lq_preset_description(p), "");
    assert_int_equal(p->n_master, 0);
    assert_int_equal(lq_preset_target_count(p), 0);
    assert_null(p->limiter.vt);
    assert_string_equal(p->file, path);
    assert_non_null(p->root);
    lq_preset_destroy(&p);

    /* gain stages parsed in order with their values (gain_config is {double gain_db}) */
    write_file("gain.yaml", "lacquer: 1\nname: g\nmaster:\n  - gain: {gain_db: -1.5}\n"
                            "  - gain:\n  - gain: {gain_db: 24}\n", path, sizeof path);
    if (lq_preset_load(&p, path, preset_dir(), NULL, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(p->n_master, 3);
    assert_ptr_equal(p->master[0].vt, lq_stage_find("gain"));
    assert_true(*(const double *)p->master[0].cfg == -1.5);
    assert_true(*(const double *)p->master[1].cfg == 0.0); /* `- gain:` = defaults */
    assert_true(*(const double *)p->master[2].cfg == 24.0);
    lq_preset_destroy(&p);

    if (lq_stage_find("limiter")) {
        write_file("lim.yaml", "lacquer: 1\nname: l\nfinish:\n  limiter: {release_ms: 80}\n",
                   path, sizeof path);
        if (lq_preset_load(&p, path, preset_dir(), NULL, err, sizeof err)) fail_msg("%s", err);
        assert_ptr_equal(p->limiter.vt, lq_stage_find("limiter"));
        assert_non_null(p->limiter.cfg);
        lq_preset_destroy(&p);
    }
    if (lq_stage_find("dither")) {
        /* --set into a preset without finish: creates finish.dither */
        lq_overrides *ov = NULL;
        assert_int_equal(lq_overrides_new(&ov), LQ_OK);
        assert_int_equal(lq_overrides_add(ov, "finish.dither.type=rpdf", err, sizeof err),
                         LQ_OK);
        write_file("nofin.yaml", "lacquer: 1\nname: n\n", path, sizeof path);
        lq_preset *a = NULL, *b = NULL;
        if (lq_preset_load(&a, path, preset_dir(), NULL, err, sizeof err)) fail_msg("%s", err);
        if (lq_preset_load(&b, path, preset_dir(), ov, err, sizeof err)) fail_msg("%s", err);
        assert_null(a->finish_node);
        assert_non_null(b->finish_node);
        assert_true(memcmp(a->dither.cfg, b->dither.cfg, a->dither.vt->config_size) != 0);
        lq_preset_destroy(&a);
        lq_preset_destroy(&b);
        lq_overrides_destroy(&ov);

        write_file("dit.yaml", "lacquer: 1\nname: d\nfinish: {dither: {type: rpdf}}\n", path,
                   sizeof path);
        if (lq_preset_load(&p, path, preset_dir(), NULL, err, sizeof err)) fail_msg("%s", err);
        assert_non_null(p->dither.vt);
        assert_non_null(p->finish_node);
        assert_string_equal(p->finish_node->path, "finish");
        assert_int_equal(p->n_master, 0);
        lq_preset_destroy(&p);
        write_file("dit2.yaml", "lacquer: 1\nname: d\nfinish: {dither: {typ: rpdf}}\n", path,
                   sizeof path);
        assert_int_equal(lq_preset_load(&p, path, preset_dir(), NULL, err, sizeof err),
                         LQ_ERR_PRESET);
        assert_non_null(strstr(err, ":3:19: finish.dither: unknown key \"typ\" (expected one "
                                    "of: "));
    } else {
        print_message("dither stage not built: finish.dither case skipped\n");
    }
}

/* ---- --set overrides ------------------------------------------------------------------ */

static void test_overrides(void **state)
{
    (void)state;
    char path[400], err[1024];
    lq_overrides *ov = NULL;
    assert_int_equal(lq_overrides_new(&ov), LQ_OK);

    /* shape and key checks at add time */
    assert_int_equal(lq_overrides_add(ov, "loudnes_lufs=-16", err, sizeof err), LQ_ERR_PRESET);
    assert_string_equal(err, "--set loudnes_lufs=-16: unknown key \"loudnes_lufs\" (expected "
                             "a preset key: master, finish, targets, reference or a target key: "
                             "sample_rate, format, bit_depth, loudness_lufs, true_peak_dbtp, "
                             "codec_check, bitrate_kbps, filename, limiter, dither, "
                             "min_sample_rate, resampler, codec_guard_db, aac_kbps)");
    assert_int_equal(lq_overrides_add(ov, "name=x", err, sizeof err), LQ_ERR_PRESET);
    assert_non_null(strstr(err, "--set name=x: cannot override \"name\" (expected a preset "
                                "key: master, "));
    assert_int_equal(lq_overrides_add(ov, "loudness_lufs", err, sizeof err), LQ_ERR_PRESET);
    assert_string_equal(err, "--set loudness_lufs: not KEY=VALUE (expected KEY=VALUE, as in "
                             "loudness_lufs=-16 or finish.limiter.release_ms=120)");
    assert_int_equal(lq_overrides_add(ov, "=3", err, sizeof err), LQ_ERR_PRESET);

    /* overrides that work: a sequence, a nested value, a target key (ignored here) */
    write_file("ov.yaml", "lacquer: 1\nname: ov\nmaster:\n  - gain: {gain_db: -1}\n"
                          "targets: [spotify]\n", path, sizeof path);
    assert_int_equal(lq_overrides_add(ov, "targets=[cd, youtube]", err, sizeof err), LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "master[0].gain.gain_db=-6.5", err, sizeof err),
                     LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "loudness_lufs=-16", err, sizeof err), LQ_OK);
    lq_preset *p = NULL;
    if (lq_preset_load(&p, path, preset_dir(), ov, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(lq_preset_target_count(p), 2);
    assert_string_equal(lq_preset_target_name(p, 0), "cd");
    assert_string_equal(lq_preset_target_name(p, 1), "youtube");
    assert_true(*(const double *)p->master[0].cfg == -6.5);
    lq_preset_destroy(&p);
    lq_overrides_destroy(&ov);
    assert_null(ov);

    /* master.input_lufs: the default -18 on the sequence form; --set master.input_lufs
     * turns the sequence into {input_lufs, stages}; master[N] reaches the stages of the
     * map form */
    if (lq_preset_load(&p, path, preset_dir(), NULL, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(p->has_input_ref, 1);
    assert_true(p->input_lufs == -18.0);
    lq_preset_destroy(&p);
    static const char *const sets[][2] = {{"master.input_lufs=null", NULL},
                                          {"master.input_lufs=-22", "master[0].gain.gain_db=-3"}};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(lq_overrides_new(&ov), LQ_OK);
        for (int i = 0; i < 2; i++)
            if (sets[k][i]) assert_int_equal(lq_overrides_add(ov, sets[k][i], err, sizeof err), LQ_OK);
        if (lq_preset_load(&p, path, preset_dir(), ov, err, sizeof err)) fail_msg("%s", err);
        assert_int_equal(p->n_master, 1);
        assert_int_equal(p->has_input_ref, k);
        if (k) assert_true(p->input_lufs == -22.0);
        assert_true(*(const double *)p->master[0].cfg == (k ? -3.0 : -1.0));
        lq_preset_destroy(&p);
        lq_overrides_destroy(&ov);
    }
    write_file("ovmap.yaml", "lacquer: 1\nname: ov\nmaster:\n  input_lufs: null\n  stages:\n"
                             "    - gain: {gain_db: -1}\n", path, sizeof path);
    assert_int_equal(lq_overrides_new(&ov), LQ_OK);
    assert_int_equal(lq_overrides_add(ov, "master[0].gain.gain_db=-2", err, sizeof err), LQ_OK);
    if (lq_preset_load(&p, path, preset_dir(), ov, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(p->has_input_ref, 0);
    assert_true(*(const double *)p->master[0].cfg == -2.0);
    lq_preset_destroy(&p);
    lq_overrides_destroy(&ov);

    /* a bad value: validated like the file, reported at --set */
    static const struct {
        const char *set, *expect;
    } bad[] = {
        {"master[0].gain.gain_db=100",
         "--set: master[0].gain.gain_db: 100 is out of range (expected dB from -60 to 24)"},
        {"master[0].gain.gian_db=1",
         "--set: master[0].gain: unknown key \"gian_db\" (expected one of: gain_db)"},
        {"master=[{limiter: {}}]",
         "--set: master[0]: \"limiter\" is a finishing stage and cannot be in master (expected "
         "it under finish:, as finish.limiter)"},
        {"finish.limter=1",
         "--set: finish: unknown key \"limter\" (expected one of: limiter, dither, loudness_lufs)"},
        {"finish.loudness_lufs=loud",
         "--set: finish.loudness_lufs: loud is not a number (expected LUFS from -70 to 0, or null)"},
        {"targets=[cd", "--set targets=[cd: syntax error: did not find expected ',' or ']'"},
        {"master.input_lufs=0",
         "--set: master.input_lufs: 0 is out of range (expected LUFS from -40 to -6, or null)"},
        {"master.stages[0].gain.gain_db=100",
         "--set: master.stages[0].gain.gain_db: 100 is out of range (expected dB from -60 to "
         "24)"},
        {"master[3].gain.gain_db=1",
         "--set master[3].gain.gain_db=1: master has no item [3] (expected an index into an "
         "existing sequence)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(lq_overrides_new(&ov), LQ_OK);
        assert_int_equal(lq_overrides_add(ov, bad[i].set, err, sizeof err), LQ_OK);
        bad_case c = {bad[i].set, "lacquer: 1\nname: x\nmaster:\n  - gain: {gain_db: -1}\n",
                      bad[i].expect};
        check_bad(&c, ov);
        lq_overrides_destroy(&ov);
    }
}

/* Deterministic mutations of a valid preset (byte flips, deletions, insertions of YAML
 * punctuation): never a crash or leak (ASan), and every failure is one line that starts
 * with "PATH:" and has no newline. */
static void test_mutations(void **state)
{
    (void)state;
    const char *base = "lacquer: 1\nname: mut\ndescription: \"m\"\nmaster:\n"
                       "  - gain: {gain_db: -1.5}\n  - gain:\n      gain_db: 2\n"
                       "finish:\n  dither: {type: tpdf}\ntargets: [cd, spotify]\n";
    static const char punct[] = "{}[]:,-#&*!|>'\"%@` \n\t0123456789.eE";
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    size_t blen = strlen(base), n_ok = 0, n_err = 0;
    char text[512], path[400], err[1024];
    for (int it = 0; it < 1500; it++) {
        memcpy(text, base, blen + 1);
        size_t len = blen;
        int edits = 1 + it % 3;
        for (int k = 0; k < edits; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(seed >> 33) % len;
            char c = punct[(seed >> 13) % (sizeof punct - 1)];
            switch ((seed >> 7) % 3) {
            case 0: text[pos] = c; break;
            case 1: memmove(text + pos, text + pos + 1, len - pos); len--; break;
            default:
                if (len + 2 < sizeof text) {
                    memmove(text + pos + 1, text + pos, len - pos + 1);
                    text[pos] = c;
                    len++;
                }
            }
        }
        write_file("mut.yaml", text, path, sizeof path);
        lq_preset *p = NULL;
        lq_error e = lq_preset_load(&p, path, preset_dir(), NULL, err, sizeof err);
        if (e == LQ_OK) {
            n_ok++;
            lq_preset_destroy(&p);
            continue;
        }
        n_err++;
        if (e != LQ_ERR_PRESET || strncmp(err, path, strlen(path)) != 0 ||
            err[strlen(path)] != ':' || strchr(err, '\n'))
            fail_msg("iteration %d (seed chain from 0x9E3779B97F4A7C15): error %d \"%s\" "
                     "for:\n%s", it, e, err, text);
    }
    print_message("mutations: %zu loaded, %zu rejected with a located error\n", n_ok, n_err);
    assert_true(n_err > 500); /* the mutations really do break files */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_paths_and_marks),
        cmocka_unit_test(test_node_errors),
        cmocka_unit_test(test_node_set_path),
        cmocka_unit_test(test_cfg_helpers),
        cmocka_unit_test(test_shipped_presets_load),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_bad_presets),
        cmocka_unit_test(test_minimal_presets),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
