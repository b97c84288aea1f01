/* The album file (docs/ALBUM.md): strict YAML, parsed with config/node.c and the
 * lq_cfg_* getters like presets, into the plain data of album.h.  Every track file is
 * opened here (header only) so that a missing file, and later the Red Book limits, are
 * reported against the album file's line before any work starts.
 *
 * Codes: ISRC as ISO 3901 (CC-XXX-YY-NNNNN); UPC-A / EAN-13 with the GS1 mod-10 check
 * digit (GS1 General Specifications, 7.9.1); CD limits from IEC 60908 (Red Book). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "album/album.h"
#include "config/preset.h"
#include "config/stems.h"
#include "engine/naming.h"
#include "io/audio_in.h"
#include "io/tags.h"

#define MAX_TRACKS 999
#define MAX_TEXT 200            /* titles and names; CD-TEXT holds 160 per item */
#define CD_FRAME 588            /* samples per CD frame (1/75 s at 44.1 kHz) */

static const char *const top_keys[] = {"lacquer", "album", "preset", "targets", "loudness",
                                       "album_anchor", "tracks", "dither", "reference", NULL};
static const char *const album_keys[] = {"title", "artist", "year", "genre", "label", "upc",
                                         "catalog", NULL};
static const char *const track_keys[] = {"file", "stems", "title", "artist", "isrc", "preset", "set",
                                         "offset_db", "fade_in_ms", "fade_out_ms",
                                         "fade_curve", "gap_s", "crossfade_ms", "reference",
                                         NULL};
static const char *const loudness_names[] = {"album", "track", NULL};
static const char *const anchor_names[] = {"loudest", "integrated", NULL};
static const char *const curve_names[] = {"linear", "equal-power", "log", NULL};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}

static lq_error nomem(lq_diag *d)
{
    return lq_diag_set(d, LQ_ERR_NOMEM, "out of memory");
}

/* A preset/target reference is a path when it has a slash or a .yaml/.yml ending (as
 * lq_preset_resolve decides). */
static int is_path(const char *s)
{
    size_t l = strlen(s);
    if (strchr(s, '/')) return 1;
    if (l >= 5 && strcmp(s + l - 5, ".yaml") == 0) return 1;
    if (l >= 4 && strcmp(s + l - 4, ".yml") == 0) return 1;
    return 0;
}

/* p resolved against dir (absolute paths and dir "" stay as written). */
static char *resolve(const char *dir, const char *p)
{
    if (p[0] == '/' || !dir[0]) return dup_str(p);
    size_t a = strlen(dir), b = strlen(p);
    char *r = malloc(a + b + 2);
    if (!r) return NULL;
    memcpy(r, dir, a);
    r[a] = '/';
    memcpy(r + a + 1, p, b + 1);
    return r;
}

/* Where map's key `key` was written, or the map's own place. */
static void key_mark(const lq_node *map, const char *key, size_t *line, size_t *col)
{
    *line = map->line;
    *col = map->col;
    if (map->type != LQ_NODE_MAP) return;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i], key) == 0) {
            if (map->key_marks) {
                *line = map->key_marks[i].line;
                *col = map->key_marks[i].col;
            } else {
                *line = map->items[i]->line;
                *col = map->items[i]->col;
            }
            return;
        }
}

/* "FILE:LINE:COL: MAP.KEY: ..." located at the key (not its value). */
static lq_error key_error(lq_diag *d, lq_error code, const lq_node *map, const char *key,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static lq_error key_error(lq_diag *d, lq_error code, const lq_node *map, const char *key,
                          const char *fmt, ...)
{
    size_t line, col;
    key_mark(map, key, &line, &col);
    if (!d) return code;
    int k = snprintf(d->msg, sizeof d->msg, "%s:%zu:%zu: %s%s%s: ", map->file, line, col,
                     map->path, map->path[0] ? "." : "", key);
    if (k < 0 || (size_t)k >= sizeof d->msg) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg + k, sizeof d->msg - (size_t)k, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- codes -------------------------------------------------------------------------- */

int lq_isrc_normalize(const char *in, char out[13])
{
    char s[13];
    size_t l = strlen(in), k = 0;
    if (l == 15) {
        if (in[2] != '-' || in[6] != '-' || in[9] != '-') return 0;
    } else if (l != 12) {
        return 0;
    }
    for (size_t i = 0; i < l; i++) {
        if (l == 15 && (i == 2 || i == 6 || i == 9)) continue;
        s[k++] = (char)toupper((unsigned char)in[i]);
    }
    s[12] = '\0';
    for (int i = 0; i < 12; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = i < 2 ? (c >= 'A' && c <= 'Z')
               : i < 5 ? ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                       : (c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    memcpy(out, s, 13);
    return 1;
}

int lq_gs1_check_digit(const char *digits, size_t n)
{
    /* GS1: from the rightmost data digit leftwards, weights 3, 1, 3, 1, ... */
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int v = digits[n - 1 - i] - '0';
        sum += (i % 2 == 0) ? 3 * v : v;
    }
    return (10 - sum % 10) % 10;
}

static lq_error parse_upc(const lq_node *album, char upc[14], lq_diag *d)
{
    const lq_node *n = lq_node_get(album, "upc");
    if (!n) return LQ_OK;
    char desc[128];
    const char *expect = "a UPC-A of 12 digits or an EAN-13 of 13 digits";
    if (n->type != LQ_NODE_SCALAR || lq_node_is_null(n))
        return lq_cfg_error(d, n, "%s is not a UPC/EAN (expected %s)",
                            lq_cfg_describe(n, desc, sizeof desc), expect);
    const char *v = n->value;
    size_t l = strlen(v);
    int digits = l == 12 || l == 13;
    for (size_t i = 0; digits && i < l; i++)
        if (!isdigit((unsigned char)v[i])) digits = 0;
    if (!digits)
        return lq_cfg_error(d, n, "%s is not a UPC/EAN (expected %s)",
                            lq_cfg_describe(n, desc, sizeof desc), expect);
    int want = lq_gs1_check_digit(v, l - 1);
    if (v[l - 1] - '0' != want)
        return lq_cfg_error(d, n, "%s has check digit %c (expected %d, the GS1 check digit "
                            "of the first %zu digits)", v, v[l - 1], want, l - 1);
    memcpy(upc, v, l + 1);
    return LQ_OK;
}

static lq_error parse_isrc(const lq_node *track, char isrc[13], lq_diag *d)
{
    const lq_node *n = lq_node_get(track, "isrc");
    if (!n) return LQ_OK;
    char desc[128];
    if (n->type != LQ_NODE_SCALAR || lq_node_is_null(n) || !lq_isrc_normalize(n->value, isrc))
        return lq_cfg_error(d, n, "%s is not an ISRC (expected CC-XXX-YY-NNNNN: 2 letters, 3 "
                            "letters or digits, 2 digits, 5 digits; dashes optional)",
                            lq_cfg_describe(n, desc, sizeof desc));
    return LQ_OK;
}

/* ---- `set:` overrides --------------------------------------------------------------- */

static int known_override(const char *key)
{
    size_t fl = strcspn(key, ".[");
    const char *const *lists[] = {lq_preset_override_keys, lq_target_override_keys};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; lists[l][i]; i++)
            if (strlen(lists[l][i]) == fl && strncmp(lists[l][i], key, fl) == 0) return 1;
    return 0;
}

static lq_error check_set_keys(const lq_node *set, lq_diag *d)
{
    char desc[128];
    if (set->type != LQ_NODE_MAP)
        return lq_cfg_error(d, set, "%s is not a map (expected a map of KEY: VALUE overrides, "
                            "the keys of --set)", lq_cfg_describe(set, desc, sizeof desc));
    for (size_t i = 0; i < set->count; i++) {
        if (!known_override(set->keys[i])) {
            char pk[256] = "", tk[512] = "";
            for (size_t k = 0; lq_preset_override_keys[k]; k++)
                snprintf(pk + strlen(pk), sizeof pk - strlen(pk), "%s%s", k ? ", " : "",
                         lq_preset_override_keys[k]);
            for (size_t k = 0; lq_target_override_keys[k]; k++)
                snprintf(tk + strlen(tk), sizeof tk - strlen(tk), "%s%s", k ? ", " : "",
                         lq_target_override_keys[k]);
            return lq_cfg_error_at_key(d, set, i, "unknown key \"%.200s\" (expected a preset "
                                       "key: %s or a target key: %s)", set->keys[i], pk, tk);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(set->keys[j], set->keys[i]) == 0)
                return lq_cfg_error_at_key(d, set, i, "duplicate key \"%.200s\" (expected "
                                           "each key once)", set->keys[i]);
    }
    return LQ_OK;
}

/* A node written back as one YAML flow document: plain scalars as written, quoted ones
 * double-quoted with escapes, maps and sequences in flow style. */
static void to_flow(lq_text *b, const lq_node *n)
{
    if (n->type == LQ_NODE_SCALAR) {
        if (n->plain) {
            lq_text_str(b, n->value);
            return;
        }
        lq_text_str(b, "\"");
        for (const unsigned char *p = (const unsigned char *)n->value; *p; p++) {
            char esc[8];
            if (*p == '"' || *p == '\\') {
                esc[0] = '\\';
                esc[1] = (char)*p;
                lq_text_put(b, esc, 2);
            } else if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\x%02x", *p);
                lq_text_str(b, esc);
            } else {
                lq_text_put(b, (const char *)p, 1);
            }
        }
        lq_text_str(b, "\"");
        return;
    }
    int map = n->type == LQ_NODE_MAP;
    lq_text_str(b, map ? "{" : "[");
    for (size_t i = 0; i < n->count; i++) {
        if (i) lq_text_str(b, ", ");
        if (map) {
            lq_node k = {.type = LQ_NODE_SCALAR, .value = n->keys[i], .plain = 0};
            to_flow(b, &k);
            lq_text_str(b, ": ");
        }
        to_flow(b, n->items[i]);
    }
    lq_text_str(b, map ? "}" : "]");
}

lq_error lq_album_track_overrides(const lq_album_track *t, lq_overrides **out, lq_diag *d)
{
    *out = NULL;
    lq_overrides *ov = NULL;
    if (lq_overrides_new(&ov)) return nomem(d);
    const lq_node *set = t->set;
    for (size_t i = 0; set && set->type == LQ_NODE_MAP && i < set->count; i++) {
        lq_text b = {0};
        lq_text_str(&b, set->keys[i]);
        lq_text_str(&b, "=");
        to_flow(&b, set->items[i]);
        char err[1024];
        lq_error e = b.oom ? LQ_ERR_NOMEM : lq_overrides_add(ov, b.s, err, sizeof err);
        free(b.s);
        if (e) {
            lq_overrides_destroy(&ov);
            if (e == LQ_ERR_NOMEM) return nomem(d);
            return lq_cfg_error_at_key(d, set, i, "%s", err);
        }
    }
    *out = ov;
    return LQ_OK;
}

/* Rewrite "--set: PATH: what" from loading a preset or target with a track's overrides
 * as "ALBUM:LINE:COL: tracks[i].set.PATH: what", located at the set key it came from. */
static lq_error relocate_set_error(const lq_node *set, const char *msg, lq_error e, lq_diag *d)
{
    const char *rest = strncmp(msg, "--set: ", 7) == 0 ? msg + 7 : NULL;
    if (!rest) {
        char copy[sizeof d->msg];
        snprintf(copy, sizeof copy, "%s", msg);
        return lq_diag_set(d, e, "%s:%zu:%zu: %s: %s", set->file, set->line, set->col,
                           set->path, copy);
    }
    size_t line = set->line, col = set->col;
    for (size_t i = 0; i < set->count; i++) {
        size_t kl = strlen(set->keys[i]);
        if (strncmp(rest, set->keys[i], kl) == 0 && strchr(".[:", rest[kl])) {
            line = set->key_marks ? set->key_marks[i].line : set->items[i]->line;
            col = set->key_marks ? set->key_marks[i].col : set->items[i]->col;
            break;
        }
    }
    char copy[sizeof d->msg];
    snprintf(copy, sizeof copy, "%s", rest);
    return lq_diag_set(d, e, "%s:%zu:%zu: %s.%s", set->file, line, col, set->path, copy);
}

/* Load the track's preset and every target with its overrides, so that a bad value is
 * reported now, against the album file. */
static lq_error check_set_values(const lq_album_spec *s, const lq_album_track *t,
                                 const char *preset_dir, lq_diag *d)
{
    lq_overrides *ov = NULL;
    lq_error e = lq_album_track_overrides(t, &ov, d);
    if (e) return e;
    char err[1024];
    lq_preset *p = NULL;
    e = lq_preset_load(&p, t->preset ? t->preset : s->preset, preset_dir, ov, err, sizeof err);
    if (e) goto fail;
    char **names = s->n_targets ? s->targets : p->targets;
    size_t n = s->n_targets ? s->n_targets : p->n_targets;
    for (size_t i = 0; i < n; i++) {
        lq_target *tg = NULL;
        e = lq_target_load(&tg, names[i], preset_dir, ov, err, sizeof err);
        lq_target_destroy(&tg);
        if (e) goto fail;
    }
    lq_preset_destroy(&p);
    lq_overrides_destroy(&ov);
    return LQ_OK;
fail:
    lq_preset_destroy(&p);
    lq_overrides_destroy(&ov);
    return relocate_set_error(t->set, err, e, d);
}

/* ---- tracks ------------------------------------------------------------------------- */

static lq_error parse_ref(const lq_node *map, const char *key, const char *dir, char **out,
                          const char *what, lq_diag *d)
{
    const lq_node *n = lq_node_get(map, key);
    if (!n) return LQ_OK;
    char desc[128];
    if (n->type != LQ_NODE_SCALAR || lq_node_is_null(n) || !n->value[0])
        return lq_cfg_error(d, n, "%s is not a %s (expected a shipped %s name or a path)",
                            lq_cfg_describe(n, desc, sizeof desc), what, what);
    char *v = is_path(n->value) ? resolve(dir, n->value) : dup_str(n->value);
    if (!v) return nomem(d);
    free(*out);
    *out = v;
    return LQ_OK;
}

/* A stems track: the stems file parsed, each stem's header read: the track lasts as
 * long as its longest stem (the run checks rates and lengths in full). */
static lq_error stems_length(lq_album_track *t, const lq_node *tn, lq_diag *d)
{
    lq_stems_spec *st = NULL;
    lq_diag sd = {{0}};
    lq_error e = lq_stems_load(&st, t->file, &sd);
    if (e) return key_error(d, e, tn, "stems", "%s", sd.msg);
    t->frames = -1;
    for (size_t k = 0; k < st->n && !e; k++) {
        lq_audio_in in;
        e = lq_audio_in_open(&in, st->stems[k].file, 4096, &sd);
        if (e) break;
        if (k == 0) t->rate = in.rate;
        if (in.frames > t->frames) t->frames = in.frames;
        lq_audio_in_close(&in);
    }
    lq_stems_free(&st);
    if (e) return key_error(d, e, tn, "stems", "%s", sd.msg);
    if (t->frames < 0)
        return key_error(d, LQ_ERR_INPUT_UNREADABLE, tn, "stems", "%s: no stem says its length "
                         "(expected audio files whose headers give their length)", t->file);
    return LQ_OK;
}

/* `reference:` on the release or on a track: the preset's shape (lq_ref_spec_parse),
 * paths from the album file's folder; every file's header read now, so that a missing
 * reference is reported against its line before any work. */
static lq_error parse_album_reference(const lq_album_spec *s, const lq_node *map,
                                      lq_ref_spec **out, lq_diag *d)
{
    const lq_node *n = lq_node_get(map, "reference");
    if (!n || lq_node_is_null(n)) return LQ_OK;
    lq_ref_spec *r = calloc(1, sizeof *r);
    if (!r) return nomem(d);
    *out = r;
    lq_error e = lq_ref_spec_parse(r, n, s->file, d);
    if (e) return e;
    const lq_node *files = lq_node_get(n, "files");
    for (size_t i = 0; i < r->n; i++) {
        const lq_node *f = files->items[i];
        if (f->type == LQ_NODE_MAP) f = lq_node_get(f, "file");
        lq_audio_in in;
        lq_diag ad = {{0}};
        e = lq_audio_in_open(&in, r->files[i], 4096, &ad);
        if (e) return lq_cfg_error(d, f, "%s", ad.msg);
        lq_audio_in_close(&in);
    }
    return LQ_OK;
}

static lq_error parse_track(lq_album_spec *s, size_t i, const lq_node *tn, lq_diag *d)
{
    lq_album_track *t = &s->tracks[i];
    t->line = (int)tn->line;
    t->col = (int)tn->col;
    t->fade_curve = LQ_FADE_EQUAL_POWER;
    lq_error e = lq_cfg_expect_map(tn, track_keys, "track", d);
    if (e) return e;
    if (tn->type != LQ_NODE_MAP) {
        char desc[128];
        return lq_cfg_error(d, tn, "%s is not a track (expected a map with file and title)",
                            lq_cfg_describe(tn, desc, sizeof desc));
    }
    /* a track is one mix file, or stems (docs/STEMS.md) */
    const char *src_key = lq_node_get(tn, "stems") ? "stems" : "file";
    if (lq_node_get(tn, "stems") && lq_node_get(tn, "file"))
        return lq_cfg_error(d, lq_node_get(tn, "stems"), "a track with both file and stems "
                            "(expected one of them)");
    if (!lq_node_get(tn, "file") && !lq_node_get(tn, "stems"))
        return lq_cfg_missing(d, tn, "file", "the track's audio file, relative to the album "
                              "file (or stems: a stems file)");
    t->stems = src_key[0] == 's';
    if (!lq_node_get(tn, "title")) return lq_cfg_missing(d, tn, "title", "a string");
    char *file = NULL;
    e = lq_cfg_string(tn, src_key, 4000, &file, d);
    if (e) return e;
    t->file = resolve(s->dir, file);
    free(file);
    if (!t->file) return nomem(d);
    if ((e = lq_cfg_string(tn, "title", MAX_TEXT, &t->title, d))) return e;
    if (!t->title[0])
        return lq_cfg_error(d, lq_node_get(tn, "title"), "an empty title (expected a string)");
    if ((e = lq_cfg_string(tn, "artist", MAX_TEXT, &t->artist, d))) return e;
    if ((e = parse_isrc(tn, t->isrc, d))) return e;
    if ((e = parse_ref(tn, "preset", s->dir, &t->preset, "preset", d))) return e;
    const lq_node *set = lq_node_get(tn, "set");
    if (set && !lq_node_is_null(set)) {
        if ((e = check_set_keys(set, d))) return e;
        t->set = (lq_node *)set;
    }
    if ((e = parse_album_reference(s, tn, &t->ref, d))) return e;
    if ((e = lq_cfg_number(tn, "offset_db", -40, 20, "dB", &t->offset_db, d))) return e;
    if ((e = lq_cfg_number(tn, "fade_in_ms", 0, 600000, "milliseconds", &t->fade_in_ms, d)))
        return e;
    if ((e = lq_cfg_number(tn, "fade_out_ms", 0, 600000, "milliseconds", &t->fade_out_ms, d)))
        return e;
    int curve = (int)t->fade_curve;
    if ((e = lq_cfg_enum(tn, "fade_curve", curve_names, &curve, d))) return e;
    t->fade_curve = (lq_fade_curve)curve;
    if ((e = lq_cfg_number(tn, "gap_s", 0, 3600, "seconds", &t->gap_s, d))) return e;
    if ((e = lq_cfg_number(tn, "crossfade_ms", 0, 60000, "milliseconds", &t->crossfade_ms, d)))
        return e;

    if (t->stems) return stems_length(t, tn, d);
    /* The file itself: opened for its header only (length and rate). */
    lq_audio_in in;
    lq_diag ad = {{0}};
    e = lq_audio_in_open(&in, t->file, 4096, &ad);
    if (e)
        return key_error(d, e, tn, "file", "%s", ad.msg);
    t->frames = in.frames;
    t->rate = in.rate;
    lq_audio_in_close(&in);
    if (t->frames < 0)
        return key_error(d, LQ_ERR_INPUT_UNREADABLE, tn, "file", "%s: the file does not say "
                         "its length (expected an audio file whose header gives its length)",
                         t->file);
    return LQ_OK;
}

/* Checks between tracks: fades fit, crossfades fit and lead somewhere, no gap inside a
 * crossfade. */
static lq_error check_sequence(const lq_album_spec *s, const lq_node *tracks, lq_diag *d)
{
    for (size_t i = 0; i < s->n_tracks; i++) {
        const lq_album_track *t = &s->tracks[i];
        const lq_node *tn = tracks->items[i];
        double len_ms = 1000.0 * (double)t->frames / t->rate;
        if (t->fade_in_ms + t->fade_out_ms > len_ms)
            return key_error(d, LQ_ERR_PRESET, tn, t->fade_out_ms > 0 ? "fade_out_ms"
                             : "fade_in_ms", "fades of %.10g + %.10g ms are longer than the "
                             "track (expected at most %.1f ms together)", t->fade_in_ms,
                             t->fade_out_ms, len_ms);
        if (t->crossfade_ms <= 0) continue;
        if (i + 1 == s->n_tracks)
            return key_error(d, LQ_ERR_PRESET, tn, "crossfade_ms", "%.10g ms on the last "
                             "track (expected 0: there is no next track to crossfade into)",
                             t->crossfade_ms);
        const lq_album_track *nx = &s->tracks[i + 1];
        double nx_ms = 1000.0 * (double)nx->frames / nx->rate;
        double lim = len_ms < nx_ms ? len_ms : nx_ms;
        if (t->crossfade_ms > lim)
            return key_error(d, LQ_ERR_PRESET, tn, "crossfade_ms", "%.10g ms is longer than "
                             "this or the next track (expected at most %.1f ms)",
                             t->crossfade_ms, lim);
        if (nx->gap_s > 0)
            return key_error(d, LQ_ERR_PRESET, tracks->items[i + 1], "gap_s", "%.10g s after "
                             "a crossfade (expected 0: the previous track crossfades into "
                             "this one)", nx->gap_s);
    }
    return LQ_OK;
}

static lq_error parse_targets(lq_album_spec *s, const lq_node *tn, lq_diag *d)
{
    char desc[128];
    lq_error e = lq_cfg_expect_seq(tn, 1, 64, "target names", d);
    if (e) return e;
    if (tn->type != LQ_NODE_SEQ) return LQ_OK;
    s->targets = calloc(tn->count, sizeof *s->targets);
    if (!s->targets) return nomem(d);
    for (size_t i = 0; i < tn->count; i++) {
        const lq_node *t = tn->items[i];
        if (t->type != LQ_NODE_SCALAR || lq_node_is_null(t) || !t->value[0])
            return lq_cfg_error(d, t, "%s is not a target name (expected a shipped target "
                                "name such as spotify, or a path)",
                                lq_cfg_describe(t, desc, sizeof desc));
        s->targets[i] = is_path(t->value) ? resolve(s->dir, t->value) : dup_str(t->value);
        if (!s->targets[i]) return nomem(d);
        s->n_targets = i + 1;
    }
    return LQ_OK;
}

static lq_error check_refs_exist(const lq_album_spec *s, const char *preset_dir, lq_diag *d)
{
    const lq_node *r = s->root;
    const lq_node *pn = lq_node_get(r, "preset");
    if (pn) {
        char *f = lq_preset_resolve(s->preset, preset_dir, "");
        if (!f)
            return lq_cfg_error(d, pn, "no such preset \"%.200s\" (expected a shipped preset "
                                "name or the path of a preset file)", pn->value);
        free(f);
    }
    const lq_node *tn = lq_node_get(r, "targets");
    for (size_t i = 0; i < s->n_targets; i++) {
        char *f = lq_preset_resolve(s->targets[i], preset_dir, "targets");
        if (!f)
            return lq_cfg_error(d, tn->items[i], "no such target \"%.200s\" (expected a "
                                "shipped target name or the path of a target file)",
                                tn->items[i]->value);
        free(f);
    }
    const lq_node *tracks = lq_node_get(r, "tracks");
    for (size_t i = 0; i < s->n_tracks; i++) {
        if (!s->tracks[i].preset) continue;
        char *f = lq_preset_resolve(s->tracks[i].preset, preset_dir, "");
        const lq_node *p = lq_node_get(tracks->items[i], "preset");
        if (!f)
            return lq_cfg_error(d, p, "no such preset \"%.200s\" (expected a shipped preset "
                                "name or the path of a preset file)", p->value);
        free(f);
    }
    return LQ_OK;
}

/* ---- output names ------------------------------------------------------------------ */

/* One file the run will write: its name and who writes it (the order of claims in
 * album.c: every track's file per target, then per CD target the image, CUE sheet and
 * TOC, then the reports). */
typedef struct out_name {
    char *name;
    size_t order;
    long track;          /* -1: an album file */
    size_t target;
    const char *what;    /* album files: "CD image", "CUE sheet", "TOC", "report" */
} out_name;

static int cmp_out(const void *x, const void *y)
{
    const out_name *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->order > b->order) - (a->order < b->order);
}

static void describe_out(const lq_album_spec *s, char *const *tnames, const out_name *o,
                         char *buf, size_t n)
{
    char tg[300];
    if (s->n_targets)
        snprintf(tg, sizeof tg, "targets[%zu] (%s)", o->target, tnames[o->target]);
    else
        snprintf(tg, sizeof tg, "target %s", tnames[o->target]);
    if (o->track >= 0)
        snprintf(buf, n, "track %ld (%s) for %s", o->track + 1, s->tracks[o->track].title, tg);
    else if (strcmp(o->what, "report") == 0)
        snprintf(buf, n, "the album report");
    else
        snprintf(buf, n, "the %s of %s", o->what, tg);
}

/* Every file the run would write from the album file's targets (a track's `set:` gives it
 * its own copy of each target, as the run does), named as the run names them: two that
 * share a name are an error at the album file's line, before any work.  (Targets given
 * on the command line instead are checked when the run claims its names.) */
static lq_error check_output_names(lq_album_spec *s, const char *preset_dir, lq_diag *d)
{
    const lq_node *r = s->root;
    char err[1024] = "";
    lq_preset *p = NULL;
    lq_error e = LQ_OK;
    /* the run's targets: the album file's, else the first track's preset's */
    if (!s->n_targets) {
        e = lq_preset_load(&p, s->tracks[0].preset ? s->tracks[0].preset : s->preset,
                           preset_dir, NULL, err, sizeof err);
        if (e) return lq_diag_set(d, e, "%s", err);
    }
    const size_t nt = s->n_targets ? s->n_targets : lq_preset_target_count(p);
    char **tnames = calloc(nt ? nt : 1, sizeof *tnames);
    lq_target **tg = calloc(nt ? nt : 1, sizeof *tg);
    const size_t cap = s->n_tracks * nt + 3 * nt + 3;
    out_name *v = calloc(cap, sizeof *v);
    size_t nv = 0;
    if (!tnames || !tg || !v) e = nomem(d);
    for (size_t k = 0; k < nt && !e; k++) {
        const char *name = s->n_targets ? s->targets[k] : lq_preset_target_name(p, k);
        e = lq_target_load(&tg[k], name, preset_dir, NULL, err, sizeof err);
        if (e) e = lq_diag_set(d, e, "%s", err);
        else if (!(tnames[k] = dup_str(tg[k]->name))) e = nomem(d);
    }
    for (size_t i = 0; i < s->n_tracks && !e; i++) {
        const lq_album_track *t = &s->tracks[i];
        lq_overrides *ov = NULL;
        if (t->set && (e = lq_album_track_overrides(t, &ov, d))) break;
        for (size_t k = 0; k < nt && !e; k++) {
            lq_target *own = NULL;
            if (ov) {
                const char *name = s->n_targets ? s->targets[k] : lq_preset_target_name(p, k);
                e = lq_target_load(&own, name, preset_dir, ov, err, sizeof err);
                if (e) {
                    e = relocate_set_error(t->set, err, e, d);
                    break;
                }
            }
            const lq_target *x = own ? own : tg[k];
            lq_name_fields f = {.title = t->title, .artist = t->artist ? t->artist : s->artist,
                                .album = s->title, .target = x->name,
                                .ext = lq_format_ext[x->format], .track = (int)i + 1,
                                .track_total = (int)s->n_tracks};
            v[nv] = (out_name){lq_name_track_file(x->filename, &f, 1), nv, (long)i, k, NULL};
            lq_target_destroy(&own);
            if (!v[nv++].name) e = nomem(d);
        }
        lq_overrides_destroy(&ov);
    }
    static const char *const exts[3] = {"wav", "cue", "toc"};
    static const char *const whats[3] = {"CD image", "CUE sheet", "TOC"};
    for (size_t k = 0; k < nt && !e; k++) {
        if (!lq_album_target_is_cd(tg[k])) continue;
        for (int q = 0; q < 3 && !e; q++) {
            lq_name_fields f = {.title = s->title, .artist = s->artist, .album = s->title,
                                .target = tg[k]->name, .ext = exts[q]};
            v[nv] = (out_name){lq_name_expand(LQ_ALBUM_IMAGE_PATTERN, &f), nv, -1, k, whats[q]};
            if (!v[nv++].name) e = nomem(d);
        }
    }
    static const char *const reports[3] = {"report.json", "report.txt", "report.html"};
    for (int q = 0; q < 3 && !e; q++) {
        v[nv] = (out_name){dup_str(reports[q]), nv, -1, 0, "report"};
        if (!v[nv++].name) e = nomem(d);
    }
    if (!e) {
        qsort(v, nv, sizeof *v, cmp_out);
        /* the clash the run would meet first: the earliest second claimant */
        size_t best = nv;
        for (size_t q = 1; q < nv; q++)
            if (strcmp(v[q].name, v[q - 1].name) == 0 && v[q - 1].order < v[q].order &&
                (best == nv || v[q].order < v[best].order) &&
                (q < 2 || strcmp(v[q - 2].name, v[q].name) != 0))
                best = q;
        if (best < nv) {
            const out_name *a = &v[best - 1], *b = &v[best];
            char wa[400], wb[400];
            describe_out(s, tnames, a, wa, sizeof wa);
            describe_out(s, tnames, b, wb, sizeof wb);
            /* located where it can be changed: the second target of one track, else the
             * second track (its set: when it has one), else the album's title */
            const lq_node *tn = lq_node_get(r, "targets"), *tracks = lq_node_get(r, "tracks");
            const lq_node *at = NULL;
            const char *key = NULL;
            if (b->track >= 0 && a->track == b->track) {
                if (tn && tn->type == LQ_NODE_SEQ && b->target < tn->count)
                    at = tn->items[b->target];
                else key = "preset";
            } else if (b->track >= 0) {
                at = tracks->items[b->track];
                key = s->tracks[b->track].set ? "set" : "title";
            } else if (b->what && strcmp(b->what, "report") != 0) {
                at = lq_node_get(r, "album");   /* its title names the image */
                key = "title";
            } else {
                at = tracks->items[a->track >= 0 ? a->track : 0];
                key = "title";
            }
            const char *fmt = "\"%s\" would be written twice: by %s and by %s (expected "
                              "distinct output names: another filename pattern, format or "
                              "target name)";
            if (key && !at) {
                e = key_error(d, LQ_ERR_PRESET, r, key, fmt, b->name, wa, wb);
            } else if (key) {
                e = key_error(d, LQ_ERR_PRESET, at, key, fmt, b->name, wa, wb);
            } else {
                e = lq_cfg_error(d, at, fmt, b->name, wa, wb);
            }
        }
    }
    for (size_t q = 0; q < nv; q++) free(v[q].name);
    free(v);
    for (size_t k = 0; k < nt; k++) {
        if (tg) lq_target_destroy(&tg[k]);
        if (tnames) free(tnames[k]);
    }
    free(tg);
    free(tnames);
    lq_preset_destroy(&p);
    return e;
}

static lq_error validate(lq_album_spec *s, const char *preset_dir, lq_diag *d)
{
    const lq_node *r = s->root;
    char desc[128];
    if (r->type != LQ_NODE_MAP) {
        if (lq_node_is_null(r))
            return lq_cfg_error(d, r, "the file is empty (expected an album: a map starting "
                                "with lacquer: %d)", LQ_SCHEMA_VERSION);
        return lq_cfg_error(d, r, "%s is not a map (expected an album: a map starting with "
                            "lacquer: %d)", lq_cfg_describe(r, desc, sizeof desc),
                            LQ_SCHEMA_VERSION);
    }
    const lq_node *ver = lq_node_get(r, "lacquer");
    if (!ver) {
        char expect[96];
        snprintf(expect, sizeof expect, "lacquer: %d, the schema version, as the first key",
                 LQ_SCHEMA_VERSION);
        return lq_cfg_missing(d, r, "lacquer", expect);
    }
    double v;
    if (!lq_cfg_scalar_number(ver, &v))
        return lq_cfg_error(d, ver, "%s is not a schema version (expected %d)",
                            lq_cfg_describe(ver, desc, sizeof desc), LQ_SCHEMA_VERSION);
    if (v != LQ_SCHEMA_VERSION)
        return lq_cfg_error(d, ver, "version %s is not supported (expected %d, the version "
                            "this build reads)", ver->value, LQ_SCHEMA_VERSION);
    lq_error e = lq_cfg_expect_map(r, top_keys, "album file", d);
    if (e) return e;

    const lq_node *al = lq_node_get(r, "album");
    if (!al) return lq_cfg_missing(d, r, "album", "a map with the release's title and artist");
    if ((e = lq_cfg_expect_map(al, album_keys, "album", d))) return e;
    if (al->type != LQ_NODE_MAP)
        return lq_cfg_error(d, al, "%s is not a map (expected a map with the release's title "
                            "and artist)", lq_cfg_describe(al, desc, sizeof desc));
    if (!lq_node_get(al, "title")) return lq_cfg_missing(d, al, "title", "a string");
    if (!lq_node_get(al, "artist")) return lq_cfg_missing(d, al, "artist", "a string");
    if ((e = lq_cfg_string(al, "title", MAX_TEXT, &s->title, d))) return e;
    if ((e = lq_cfg_string(al, "artist", MAX_TEXT, &s->artist, d))) return e;
    if ((e = lq_cfg_string(al, "genre", MAX_TEXT, &s->genre, d))) return e;
    if ((e = lq_cfg_string(al, "label", MAX_TEXT, &s->label, d))) return e;
    if ((e = lq_cfg_string(al, "catalog", 64, &s->catalog, d))) return e;
    long year = 0;
    if ((e = lq_cfg_int(al, "year", 1000, 9999, &year, d))) return e;
    s->year = (int)year;
    if ((e = parse_upc(al, s->upc, d))) return e;

    s->preset = dup_str("gentle");
    if (!s->preset) return nomem(d);
    if ((e = parse_ref(r, "preset", s->dir, &s->preset, "preset", d))) return e;
    const lq_node *tg = lq_node_get(r, "targets");
    if (tg && (e = parse_targets(s, tg, d))) return e;
    int lm = (int)s->loudness, an = (int)s->anchor;
    if ((e = lq_cfg_enum(r, "loudness", loudness_names, &lm, d))) return e;
    if ((e = lq_cfg_enum(r, "album_anchor", anchor_names, &an, d))) return e;
    s->loudness = (lq_album_loudness)lm;
    s->anchor = (lq_album_anchor)an;
    /* the record's dither: the keys of a preset's finish.dither (checked here) */
    const lq_node *dn = lq_node_get(r, "dither");
    const lq_stage_vt *dvt = lq_stage_find("dither");
    if (dn && !lq_node_is_null(dn) && dvt) {
        lq_stage_spec ds;
        if ((e = lq_stage_spec_parse(&ds, dvt, dn, d))) return e;
        lq_stage_spec_free(&ds);
        s->dither = (lq_node *)dn;
    }
    if ((e = parse_album_reference(s, r, &s->ref, d))) return e;

    const lq_node *tracks = lq_node_get(r, "tracks");
    if (!tracks) return lq_cfg_missing(d, r, "tracks", "a sequence of tracks in order");
    if ((e = lq_cfg_expect_seq(tracks, 1, MAX_TRACKS, "tracks", d))) return e;
    s->tracks = calloc(tracks->count, sizeof *s->tracks);
    if (!s->tracks) return nomem(d);
    for (size_t i = 0; i < tracks->count; i++) {
        s->n_tracks = i + 1;
        if ((e = parse_track(s, i, tracks->items[i], d))) return e;
    }
    if ((e = check_sequence(s, tracks, d))) return e;
    if ((e = check_refs_exist(s, preset_dir, d))) return e;
    for (size_t i = 0; i < s->n_tracks; i++)
        if (s->tracks[i].set && (e = check_set_values(s, &s->tracks[i], preset_dir, d)))
            return e;
    return check_output_names(s, preset_dir, d);
}

static lq_error spec_new(lq_album_spec **out, const char *path, lq_diag *d)
{
    lq_album_spec *s = calloc(1, sizeof *s);
    if (!s) return nomem(d);
    s->file = dup_str(path);
    const char *slash = strrchr(path, '/');
    s->dir = slash ? malloc((size_t)(slash - path) + 2) : dup_str("");
    if (!s->file || !s->dir) {
        lq_album_spec_free(&s);
        return nomem(d);
    }
    if (slash) {
        size_t l = slash == path ? 1 : (size_t)(slash - path);
        memcpy(s->dir, path, l);
        s->dir[l] = '\0';
    }
    *out = s;
    return LQ_OK;
}

static lq_error finish_load(lq_album_spec *s, lq_album_spec **out, const char *preset_dir,
                            lq_diag *d)
{
    if (!preset_dir) preset_dir = lq_preset_default_dir();
    lq_error e = validate(s, preset_dir, d);
    if (e) {
        lq_album_spec_free(&s);
        return e;
    }
    *out = s;
    return LQ_OK;
}

lq_error lq_album_spec_load_dir(lq_album_spec **out, const char *path, const char *preset_dir,
                                lq_diag *d)
{
    if (!out || !path) return lq_diag_set(d, LQ_ERR_ARG, "no album file given");
    *out = NULL;
    lq_album_spec *s = NULL;
    lq_error e = spec_new(&s, path, d);
    if (e) return e;
    e = lq_node_parse_file(&s->root, path, d);
    if (e) {
        lq_album_spec_free(&s);
        return e;
    }
    return finish_load(s, out, preset_dir, d);
}

lq_error lq_album_spec_load(lq_album_spec **out, const char *path, lq_diag *d)
{
    return lq_album_spec_load_dir(out, path, NULL, d);
}

lq_error lq_album_spec_parse(lq_album_spec **out, const char *text, const char *name,
                             const char *preset_dir, lq_diag *d)
{
    if (!out || !text || !name) return lq_diag_set(d, LQ_ERR_ARG, "no album text given");
    *out = NULL;
    lq_album_spec *s = NULL;
    lq_error e = spec_new(&s, name, d);
    if (e) return e;
    e = lq_node_parse_string(&s->root, text, name, d);
    if (e) {
        lq_album_spec_free(&s);
        return e;
    }
    return finish_load(s, out, preset_dir, d);
}

void lq_album_spec_free(lq_album_spec **sp)
{
    if (!sp || !*sp) return;
    lq_album_spec *s = *sp;
    for (size_t i = 0; i < s->n_tracks; i++) {
        lq_album_track *t = &s->tracks[i];
        free(t->file);
        free(t->title);
        free(t->artist);
        free(t->preset);
        lq_ref_spec_free(t->ref);
        free(t->ref);
    }
    free(s->tracks);
    for (size_t i = 0; i < s->n_targets; i++) free(s->targets[i]);
    free(s->targets);
    free(s->file);
    free(s->dir);
    free(s->title);
    free(s->artist);
    free(s->genre);
    free(s->label);
    free(s->catalog);
    free(s->preset);
    lq_ref_spec_free(s->ref);
    free(s->ref);
    lq_node_free(s->root);
    free(s);
    *sp = NULL;
}

void lq_album_track_tags(const lq_album_spec *s, size_t i, lq_tags *out)
{
    memset(out, 0, sizeof *out);
    if (!s || i >= s->n_tracks) return;
    const lq_album_track *t = &s->tracks[i];
    out->title = t->title;
    out->artist = t->artist ? t->artist : s->artist;
    out->album = s->title;
    out->album_artist = s->artist;
    out->genre = s->genre;
    out->label = s->label;
    out->isrc = t->isrc[0] ? t->isrc : NULL;
    out->year = s->year;
    out->track = (int)i + 1;
    out->track_total = (int)s->n_tracks;
}

/* ---- Red Book ----------------------------------------------------------------------- */

int lq_album_target_is_cd(const lq_target *t)
{
    if (!t) return 0;
    if (t->name && strcmp(t->name, "cd") == 0) return 1;
    return t->format == LQ_FMT_WAV && t->bit_depth == 16 && t->sample_rate == 44100;
}

lq_error lq_album_check_cd(const lq_album_spec *s, lq_diag *d)
{
    const lq_node *tracks = lq_node_get(s->root, "tracks");
    if (!tracks || tracks->type != LQ_NODE_SEQ || tracks->count != s->n_tracks)
        return lq_diag_set(d, LQ_ERR_ARG, "%s: album spec without its tracks", s->file);
    if (s->n_tracks > LQ_CD_MAX_TRACKS)
        return key_error(d, LQ_ERR_PRESET, s->root, "tracks", "%zu tracks are too many for a "
                         "CD (expected at most %d)", s->n_tracks, LQ_CD_MAX_TRACKS);
    double total = LQ_CD_PREGAP_S;
    for (size_t i = 0; i < s->n_tracks; i++) {
        const lq_album_track *t = &s->tracks[i];
        double len = (double)t->frames / t->rate;
        if (len < LQ_CD_MIN_TRACK_S)
            return key_error(d, LQ_ERR_PRESET, tracks->items[i], "file", "%.1f s is shorter "
                             "than a CD track may be (expected at least %d s)", len,
                             LQ_CD_MIN_TRACK_S);
        /* On the disc a track lasts from its INDEX 01 to the next track: crossfades
         * shorten it (counted whole, wherever the index falls inside them). */
        double xf = (t->crossfade_ms + (i ? s->tracks[i - 1].crossfade_ms : 0)) / 1000.0;
        if (xf > 0 && len - xf < LQ_CD_MIN_TRACK_S)
            return key_error(d, LQ_ERR_PRESET, tracks->items[i], "file", "%.1f s less %.1f s "
                             "of crossfades is shorter than a CD track may be (expected at "
                             "least %d s)", len, xf, LQ_CD_MIN_TRACK_S);
        total += len + t->gap_s - t->crossfade_ms / 1000.0;
    }
    if (total > LQ_CD_MAX_SECONDS) {
        int m = (int)(total / 60);
        double sec = total - 60.0 * m;
        return key_error(d, LQ_ERR_PRESET, s->root, "tracks", "%d:%04.1f is longer than a CD "
                         "holds (expected at most 79:57 with the gaps and the 2 s pre-gap of "
                         "track 1)", m, sec);
    }
    return LQ_OK;
}
