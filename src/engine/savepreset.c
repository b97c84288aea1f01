/* --save-preset: the job's whole master chain as an ordinary preset file
 * (docs/REFERENCE.md).  The preset's parsed tree (with any --set overrides grafted in)
 * is written back as block YAML, with the matched eq inserted first in `master:` and
 * finish.loudness_lufs set to the references' level; the eq's points are printed with
 * %.17g, so loading the file gives the same doubles and mastering with it, without the
 * references, gives byte-identical exports (tests/test_reference.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/text.h"
#include "engine/job.h"

/* A key as written: plain when it is a simple word, else double-quoted. */
static int simple_word(const char *s)
{
    if (!*s) return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '.'))
            return 0;
    return 1;
}

static void quoted(lq_text *b, const char *s)
{
    lq_text_add(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') lq_text_add(b, "\\%c", *c);
        else if (*c == '\n') lq_text_add(b, "\\n");
        else if (*c == '\t') lq_text_add(b, "\\t");
        else if (*c < 0x20 || *c == 0x7f) lq_text_add(b, "\\x%02x", *c);
        else lq_text_add(b, "%c", *c);
    }
    lq_text_add(b, "\"");
}

static void scalar(lq_text *b, const lq_node *n)
{
    /* a plain scalar was unquoted in the file (numbers, null, words): keep it so; one
     * that was quoted stays a string */
    if (n->plain && !strchr(n->value, '\n') && n->value[0] != ' ') lq_text_add(b, "%s", n->value);
    else quoted(b, n->value);
}

static void key(lq_text *b, const char *k)
{
    if (simple_word(k)) lq_text_add(b, "%s:", k);
    else {
        quoted(b, k);
        lq_text_add(b, ":");
    }
}

static void emit(lq_text *b, const lq_node *n, int indent);

/* After "key:" or "-": the value, inline for scalars and empty collections. */
static void value(lq_text *b, const lq_node *n, int indent)
{
    if (n->type == LQ_NODE_SCALAR) {
        lq_text_add(b, " ");
        scalar(b, n);
        lq_text_add(b, "\n");
    } else if (n->count == 0) {
        lq_text_add(b, n->type == LQ_NODE_MAP ? " {}\n" : " []\n");
    } else {
        lq_text_add(b, "\n");
        emit(b, n, indent);
    }
}

/* A block map or sequence at indent; with first_inline the first line's indent was
 * already written (a map that is a sequence item: "- key: value"). */
static void emit_block(lq_text *b, const lq_node *n, int indent, int first_inline)
{
    for (size_t i = 0; i < n->count; i++) {
        if (i > 0 || !first_inline) lq_text_add(b, "%*s", indent, "");
        if (n->type == LQ_NODE_MAP) {
            key(b, n->keys[i]);
            value(b, n->items[i], indent + 2);
        } else if (n->items[i]->type == LQ_NODE_MAP && n->items[i]->count) {
            lq_text_add(b, "- ");
            emit_block(b, n->items[i], indent + 2, 1);
        } else {
            lq_text_add(b, "-");
            value(b, n->items[i], indent + 2);
        }
    }
}

static void emit(lq_text *b, const lq_node *n, int indent) { emit_block(b, n, indent, 0); }

char *lq_job_preset_yaml(const lq_job *j)
{
    if (!j || !j->preset || !j->preset->root || j->preset->root->type != LQ_NODE_MAP)
        return NULL;
    const lq_node *root = j->preset->root;
    lq_text b = {0};
    lq_text_add(&b, "# Saved by lacquer --save-preset from %s", j->preset->file ? j->preset->file
                                                                         : "a preset");
    for (size_t i = 0; i < j->n_refs; i++)
        lq_text_add(&b, "%s %s", i ? "," : ", matched to", j->ref_path[i]);
    lq_text_add(&b, " (docs/REFERENCE.md)\n");
    const int matched = j->n_refs && j->match_yaml;
    int saw_master = 0, saw_finish = 0;
    for (size_t i = 0; i < root->count; i++) {
        const char *k = root->keys[i];
        const lq_node *v = root->items[i];
        if (matched && strcmp(k, "reference") == 0) {
            continue; /* the match is in the eq and the level now */
        } else if (matched && strcmp(k, "master") == 0 && v->type == LQ_NODE_SEQ) {
            saw_master = 1;
            lq_text_add(&b, "master:\n");
            /* the matched eq first (as the run had it), then the preset's stages */
            const char *y = j->match_yaml;
            while (*y) {
                const char *nl = strchr(y, '\n');
                const size_t len = nl ? (size_t)(nl - y) : strlen(y);
                lq_text_add(&b, "  %.*s\n", (int)len, y);
                y += len + (nl ? 1 : 0);
            }
            emit(&b, v, 2);
        } else if (matched && strcmp(k, "finish") == 0 && v->type == LQ_NODE_MAP) {
            saw_finish = 1;
            lq_text_add(&b, "finish:\n");
            for (size_t f = 0; f < v->count; f++) {
                if (strcmp(v->keys[f], "loudness_lufs") == 0) continue;
                lq_text_add(&b, "  ");
                key(&b, v->keys[f]);
                value(&b, v->items[f], 4);
            }
            lq_text_add(&b, "  loudness_lufs: %.17g\n", j->ref_level_lufs);
        } else {
            key(&b, k);
            value(&b, v, 2);
        }
    }
    if (matched && !saw_master) {
        lq_text_add(&b, "master:\n");
        const char *y = j->match_yaml;
        while (*y) {
            const char *nl = strchr(y, '\n');
            const size_t len = nl ? (size_t)(nl - y) : strlen(y);
            lq_text_add(&b, "  %.*s\n", (int)len, y);
            y += len + (nl ? 1 : 0);
        }
    }
    if (matched && !saw_finish) lq_text_add(&b, "finish:\n  loudness_lufs: %.17g\n", j->ref_level_lufs);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

lq_error lq_job_save_preset(const lq_job *j, const char *path, char *err, size_t errlen)
{
    if (!j || !path) return LQ_ERR_ARG;
    if (!j->ran) {
        if (err && errlen) snprintf(err, errlen, "%s: no chain to save (expected a run first)",
                                    path);
        return LQ_ERR_ARG;
    }
    char *y = lq_job_preset_yaml(j);
    if (!y) return LQ_ERR_NOMEM;
    /* written beside, then renamed: never a half-written preset */
    const size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    lq_error e = LQ_OK;
    if (!tmp) {
        free(y);
        return LQ_ERR_NOMEM;
    }
    snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wx");
    int ok = f != NULL;
    if (f) {
        ok = fputs(y, f) != EOF;
        ok = (fclose(f) == 0) && ok;
        ok = ok && rename(tmp, path) == 0;
        if (!ok) unlink(tmp);
    }
    if (!ok) {
        if (err && errlen) snprintf(err, errlen, "%s: cannot write the preset (expected a "
                                    "writable path)", path);
        e = LQ_ERR_OUTPUT;
    }
    free(tmp);
    free(y);
    return e;
}
