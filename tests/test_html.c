/* report.html in headless Chromium (Debian `chromium`, installed by scripts/deps; this
 * test fails, never skips, when it is missing): a screenshot; every plot exists and has
 * drawn content; the page made no network request; the A/B player's gain for each file
 * equals the measured loudness difference (report.json) within 0.01 dB; switching keeps
 * the playback position.  The page's own test hook (URL fragment #lqtest) writes what
 * it found into <pre id="lqtest-result">, read back with --dump-dom. */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "lacquer/lacquer.h"
#include "lqtest.h"
#include "synth/synth.h"

static char *g_tmp;
static char g_out[600], g_mix[600];

static const char *chromium(void)
{
    const char *env = getenv("LQ_CHROMIUM");
    if (env && *env) return env;
    return "/usr/bin/chromium";
}

/* Master a 12 s generated mix (gentle: EQ + multiband; spotify, cd and mp3-320). */
static int setup(void **state)
{
    (void)state;
    g_tmp = lqt_tmpdir();
    const int rate = 44100;
    const size_t n = 12 * (size_t)rate;
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    if (!l || !r) return -1;
    lqs_mix(l, r, n, rate, 21, 0.5);
    snprintf(g_mix, sizeof g_mix, "%s/my mix #1.wav", g_tmp);
    const double *pl[2] = {l, r};
    int rc = lqt_write_wav(g_mix, pl, 2, n, rate, SF_FORMAT_PCM_24);
    free(l);
    free(r);
    if (rc) return -1;
    snprintf(g_out, sizeof g_out, "%s/out", g_tmp);
    const char *targets[] = {"spotify", "cd", "mp3-320"};
    return lqt_master(g_mix, "gentle", targets, 3, g_out, 0, -1);
}

static int teardown(void **state)
{
    (void)state;
    lqt_rmrf(g_tmp);
    free(g_tmp);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

/* Run chromium headless with the hardening flags, a fresh profile, and extra args. */
static int run_chromium(const char *const *extra, size_t n_extra, char **out)
{
    static int k;
    char profile[700];
    snprintf(profile, sizeof profile, "--user-data-dir=%s/profile-%d", g_tmp, k++);
    const char *argv[32] = {chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--disable-component-update",
                            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                            "--hide-scrollbars", profile};
    size_t a = 11;
    for (size_t i = 0; i < n_extra; i++) argv[a++] = extra[i];
    argv[a] = NULL;
    struct stat st;
    if (stat(chromium(), &st) != 0)
        fail_msg("%s not found: install Debian's chromium (scripts/deps) or set LQ_CHROMIUM",
                 chromium());
    char *err = NULL;
    int rc = lqt_run(argv, out, &err);
    if (rc != 0) fprintf(stderr, "chromium exit %d:\n%s\n", rc, err ? err : "");
    free(err);
    return rc;
}

/* The page's test results: JSON in <pre id="lqtest-result" ...>...</pre> of the DOM. */
static json_t *page_results(const char *dom)
{
    const char *p = strstr(dom, "id=\"lqtest-result\"");
    assert_non_null(p);
    p = strchr(p, '>');
    assert_non_null(p);
    p++;
    const char *e = strstr(p, "</pre>");
    assert_non_null(e);
    /* undo the serializer's escapes */
    char *txt = malloc((size_t)(e - p) + 1);
    size_t o = 0;
    for (const char *q = p; q < e;) {
        if (!strncmp(q, "&amp;", 5)) txt[o++] = '&', q += 5;
        else if (!strncmp(q, "&lt;", 4)) txt[o++] = '<', q += 4;
        else if (!strncmp(q, "&gt;", 4)) txt[o++] = '>', q += 4;
        else if (!strncmp(q, "&quot;", 6)) txt[o++] = '"', q += 6;
        else txt[o++] = *q++;
    }
    txt[o] = 0;
    json_error_t jerr;
    json_t *r = json_loads(txt, 0, &jerr);
    if (!r) fail_msg("bad JSON from the page: %s: %.300s", jerr.text, txt);
    free(txt);
    return r;
}

/* No network: no resource fetched by the page, a CSP that forbids remote loads, and no
 * URL in the net log but Chromium's own service hosts (update/time/accounts checks the
 * browser makes by itself, which the page never names). */
static void assert_offline(const char *html, const char *netlog, json_t *res)
{
    assert_int_equal(json_array_size(json_object_get(res, "resources")), 0);
    const char *csp = json_string_value(json_object_get(res, "csp"));
    assert_non_null(csp);
    assert_non_null(strstr(csp, "default-src 'none'"));
    assert_non_null(strstr(csp, "connect-src 'none'"));
    char *page = slurp(html);
    assert_non_null(page);
    for (const char *q = page; (q = strstr(q, "http")) != NULL; q++) {
        /* the one http string allowed: the SVG namespace name (not fetched) */
        if (!strncmp(q, "http://www.w3.org/2000/svg", 26)) continue;
        if (!strncmp(q, "http:", 5) || !strncmp(q, "https:", 6))
            fail_msg("report.html names a remote URL: %.60s", q);
    }
    free(page);
    char *log = slurp(netlog);
    assert_non_null(log);
    json_error_t jerr;
    json_t *nl = json_loads(log, 0, &jerr);
    free(log);
    assert_non_null(nl);
    json_t *ev = json_object_get(nl, "events");
    size_t nurl = 0;
    for (size_t i = 0; i < json_array_size(ev); i++) {
        const char *u = json_string_value(
            json_object_get(json_object_get(json_array_get(ev, i), "params"), "url"));
        if (!u || strncmp(u, "http", 4)) continue;
        const char *host = strstr(u, "://") + 3;
        size_t hl = strcspn(host, "/:?");
        int browser = (hl >= 11 && !strncmp(host + hl - 11, ".google.com", 11)) ||
                      (hl >= 15 && !strncmp(host + hl - 15, ".googleapis.com", 15));
        if (!browser) fail_msg("network request to %s", u);
        nurl++;
    }
    printf("net log: %zu events, %zu browser-internal URL events\n", json_array_size(ev), nurl);
    json_decref(nl);
}

static void test_html_in_chromium(void **state)
{
    (void)state;
    char html[700], url[800], netlog[700], shot[700], shot_arg[800], net_arg[800];
    snprintf(html, sizeof html, "%s/report.html", g_out);
    assert_true(lqt_exists(html));
    /* file URL: percent-encode the space of the temp path if any (none: mkdtemp) */
    snprintf(url, sizeof url, "file://%s#lqtest", html);
    snprintf(netlog, sizeof netlog, "%s/netlog.json", g_tmp);
    snprintf(net_arg, sizeof net_arg, "--log-net-log=%s", netlog);
    const char *dump[] = {net_arg, "--window-size=1024,2000", "--virtual-time-budget=2000",
                          "--dump-dom", url};
    char *dom = NULL;
    assert_int_equal(run_chromium(dump, 5, &dom), 0);
    json_t *res = page_results(dom);
    free(dom);

    /* every plot exists and drew lines across its width */
    static const char *const plots[] = {"plot-loudness", "plot-gr", "plot-mb",
                                        "plot-spectrum", "plot-eq"};
    static const int min_lines[] = {4, 3, 4, 4, 1};
    json_t *pl = json_object_get(res, "plots");
    for (size_t i = 0; i < sizeof plots / sizeof *plots; i++) {
        json_t *p = json_object_get(pl, plots[i]);
        if (!p) fail_msg("no %s in the page", plots[i]);
        long long lines = json_integer_value(json_object_get(p, "lines"));
        long long pts = json_integer_value(json_object_get(p, "points"));
        double w = json_number_value(json_object_get(p, "width"));
        double h = json_number_value(json_object_get(p, "height"));
        double vw = json_number_value(json_object_get(p, "view_width"));
        double vh = json_number_value(json_object_get(p, "view_height"));
        printf("%-14s lines %lld points %lld drawn %.0fx%.0f of %.0fx%.0f\n", plots[i], lines,
               pts, w, h, vw, vh);
        assert_false(json_is_true(json_object_get(p, "hidden")));
        assert_true(lines >= min_lines[i]);
        assert_true(pts >= 20 * lines);
        /* axes, grid and lines fill the drawing */
        assert_true(vw >= 320 && w > 0.9 * vw && h > 0.8 * vh);
    }

    assert_offline(html, netlog, res);

    /* the A/B gains: the measured loudness difference to the quietest file */
    char rp[700];
    json_error_t jerr;
    snprintf(rp, sizeof rp, "%s/report.json", g_out);
    json_t *rep = json_load_file(rp, 0, &jerr);
    assert_non_null(rep);
    json_t *ex = json_object_get(rep, "exports");
    size_t nf = 1 + json_array_size(ex);
    double lufs[8], ref = HUGE_VAL;
    assert_true(nf <= 8);
    for (size_t k = 0; k < nf; k++) {
        json_t *m = k ? json_object_get(json_array_get(ex, k - 1), "measured")
                      : json_object_get(json_object_get(rep, "input"), "measured");
        lufs[k] = json_number_value(json_object_get(m, "integrated_lufs"));
        if (lufs[k] < ref) ref = lufs[k];
    }
    json_t *ab = json_object_get(res, "ab");
    assert_int_equal(json_array_size(ab), nf);
    for (size_t k = 0; k < nf; k++) {
        json_t *f = json_array_get(ab, k);
        double want = ref - lufs[k];
        double g = json_number_value(json_object_get(f, "gain_db"));
        double dg = json_number_value(json_object_get(f, "data_gain_db"));
        double vol = json_number_value(json_object_get(f, "volume_db"));
        printf("A/B %-8s %7.3f LUFS gain %+.4f dB (want %+.4f), element volume %+.4f dB\n",
               json_string_value(json_object_get(f, "name")), lufs[k], g, want, vol);
        assert_float_equal(g, want, 0.01);
        assert_float_equal(dg, want, 0.01);
        assert_float_equal(vol, want, 0.01);
    }
    /* the mix plays from its own file through a relative, percent-encoded path */
    const char *src = json_string_value(json_object_get(json_array_get(ab, 0), "src"));
    assert_non_null(src);
    assert_string_equal(src, "../my%20mix%20%231.wav");
    json_decref(rep);

    /* switching keeps the position */
    json_t *sw = json_object_get(res, "switch");
    assert_true(json_array_size(sw) >= nf - 1);
    for (size_t i = 0; i < json_array_size(sw); i++) {
        json_t *s = json_array_get(sw, i);
        assert_float_equal(json_number_value(json_object_get(s, "got")),
                           json_number_value(json_object_get(s, "set")), 1e-9);
    }
    json_decref(res);

    /* a screenshot at phone width: written, and not a blank page */
    snprintf(shot, sizeof shot, "%s/phone.png", g_tmp);
    snprintf(shot_arg, sizeof shot_arg, "--screenshot=%s", shot);
    snprintf(url, sizeof url, "file://%s", html);
    const char *sa[] = {"--window-size=390,2400", shot_arg, url};
    assert_int_equal(run_chromium(sa, 3, NULL), 0);
    char *png = slurp(shot);
    assert_non_null(png);
    assert_memory_equal(png, "\x89PNG", 4);
    struct stat st;
    assert_int_equal(stat(shot, &st), 0);
    printf("screenshot %s: %lld bytes\n", shot, (long long)st.st_size);
    assert_true(st.st_size > 40000); /* a blank page is a few kB */
    free(png);
}

/* --no-html: no report.html; the run is otherwise the same. */
static void test_no_html(void **state)
{
    (void)state;
    char out[700], p[800];
    snprintf(out, sizeof out, "%s/nohtml", g_tmp);
    const char *argv[] = {LQ_CLI_PATH, "master", g_mix, "--preset", "transparent", "--target",
                          "flac-archive", "--out", out, "--no-html", "--quiet", NULL};
    assert_int_equal(lqt_run(argv, NULL, NULL), 0);
    snprintf(p, sizeof p, "%s/report.json", out);
    assert_true(lqt_exists(p));
    snprintf(p, sizeof p, "%s/report.html", out);
    assert_false(lqt_exists(p));
}

/* The album's report.html (lacquer album): a two-track album (a crossfade between them)
 * to cd and mp3-320; in Chromium every plot is drawn (the record's levels, and per
 * track the loudness, limiter, multiband and spectrum plots of master's page), no
 * network request; the tables carry the album's rows; --no-html writes none. */
static void test_album_html(void **state)
{
    (void)state;
    const int rate = 44100;
    const size_t n = 5 * (size_t)rate;
    double *l = malloc(2 * n * sizeof *l), *r = malloc(2 * n * sizeof *r);
    assert_non_null(l);
    assert_non_null(r);
    lqs_mix(l, r, 2 * n, rate, 33, 0.5);
    char a[700], b[700], yaml[700], out[700], html[800];
    snprintf(a, sizeof a, "%s/side a.wav", g_tmp);
    snprintf(b, sizeof b, "%s/side b.wav", g_tmp);
    const double *pa[2] = {l, r}, *pb[2] = {l + n, r + n};
    assert_int_equal(lqt_write_wav(a, pa, 2, n, rate, SF_FORMAT_PCM_24), 0);
    assert_int_equal(lqt_write_wav(b, pb, 2, n, rate, SF_FORMAT_PCM_24), 0);
    free(l);
    free(r);
    snprintf(yaml, sizeof yaml, "%s/album.yaml", g_tmp);
    assert_int_equal(lqt_write_text(yaml,
                                    "lacquer: 1\nalbum: {title: Plots, artist: The Generators}\n"
                                    "preset: gentle\ntargets: [cd, mp3-320]\ntracks:\n"
                                    "  - {file: side a.wav, title: Side A, crossfade_ms: 1000}\n"
                                    "  - {file: side b.wav, title: Side B}\n"), 0);
    snprintf(out, sizeof out, "%s/album-out", g_tmp);
    const char *argv[] = {LQ_CLI_PATH, "album", yaml, "--out", out, "--quiet", NULL};
    assert_int_equal(lqt_run(argv, NULL, NULL), 0);
    snprintf(html, sizeof html, "%s/report.html", out);
    assert_true(lqt_exists(html));

    char url[900], netlog[700], net_arg[800];
    snprintf(url, sizeof url, "file://%s#lqtest", html);
    snprintf(netlog, sizeof netlog, "%s/album-netlog.json", g_tmp);
    snprintf(net_arg, sizeof net_arg, "--log-net-log=%s", netlog);
    const char *dump[] = {net_arg, "--window-size=1024,2000", "--virtual-time-budget=2000",
                          "--dump-dom", url};
    char *dom = NULL;
    assert_int_equal(run_chromium(dump, 5, &dom), 0);
    json_t *res = page_results(dom);
    /* the tables: a row per track and target, the CD layout, the crossfade */
    assert_non_null(strstr(dom, "Side A"));
    assert_non_null(strstr(dom, "00:00:00"));
    assert_non_null(strstr(dom, "1 \u2192 2"));
    free(dom);

    /* every plot the page has, drawn: the levels across the record (one line per target,
     * a point per track), and per track loudness (the mix and 2 files), limiter (2
     * exports), multiband (gentle's bands), spectrum (the mix and 2 files) */
    static const char *const plots[] = {"plot-levels",      "plot-t1-loudness", "plot-t1-gr",
                                        "plot-t1-mb",       "plot-t1-spectrum", "plot-t2-loudness",
                                        "plot-t2-gr",       "plot-t2-mb",       "plot-t2-spectrum"};
    static const int min_lines[] = {2, 3, 2, 3, 3, 3, 2, 3, 3};
    /* points per line: a track each; short-term loudness of 5 s tracks (its 3 s window
     * is full for the last 2 s of each file only); envelopes at 10/s; 30 bands */
    static const int min_pts[] = {2, 10, 20, 20, 20, 10, 20, 20, 20};
    json_t *pl = json_object_get(res, "plots");
    assert_int_equal(json_object_size(pl), sizeof plots / sizeof *plots);
    for (size_t i = 0; i < sizeof plots / sizeof *plots; i++) {
        json_t *p = json_object_get(pl, plots[i]);
        if (!p) fail_msg("no %s in the album page", plots[i]);
        long long lines = json_integer_value(json_object_get(p, "lines"));
        long long pts = json_integer_value(json_object_get(p, "points"));
        double w = json_number_value(json_object_get(p, "width"));
        double h = json_number_value(json_object_get(p, "height"));
        double vw = json_number_value(json_object_get(p, "view_width"));
        double vh = json_number_value(json_object_get(p, "view_height"));
        printf("%-18s lines %lld points %lld drawn %.0fx%.0f of %.0fx%.0f\n", plots[i], lines,
               pts, w, h, vw, vh);
        assert_false(json_is_true(json_object_get(p, "hidden")));
        assert_true(lines >= min_lines[i]);
        assert_true(pts >= min_pts[i] * lines);
        assert_true(vw >= 320 && w > 0.9 * vw && h > 0.8 * vh);
    }
    assert_offline(html, netlog, res);
    json_decref(res);

    /* --no-html: the same album without the page; with --ebur128-peak each track's
     * input also has libebur128's true peak (null without it, as in the first run) */
    char first[800];
    snprintf(first, sizeof first, "%s/report.json", out);
    snprintf(out, sizeof out, "%s/album-nohtml", g_tmp);
    const char *argv2[] = {LQ_CLI_PATH, "album", yaml, "--out", out, "--quiet", "--no-html",
                           "--ebur128-peak", NULL};
    assert_int_equal(lqt_run(argv2, NULL, NULL), 0);
    snprintf(html, sizeof html, "%s/report.json", out);
    assert_true(lqt_exists(html));
    for (int k = 0; k < 2; k++) {
        json_error_t je;
        json_t *rep = json_load_file(k ? html : first, 0, &je);
        assert_non_null(rep);
        json_t *tr = json_object_get(rep, "tracks");
        assert_int_equal(json_array_size(tr), 2);
        for (size_t i = 0; i < 2; i++) {
            json_t *m = json_object_get(
                json_object_get(json_object_get(json_array_get(tr, i), "report"), "input"),
                "measured");
            json_t *v = json_object_get(m, "true_peak_ebur128_dbtp");
            assert_non_null(v);
            if (!k) {
                assert_true(json_is_null(v));
            } else {
                const double tp16 = json_number_value(json_object_get(m, "true_peak_dbtp"));
                printf("track %zu input: 16x %.3f dBTP, libebur128 %.3f dBTP\n", i + 1, tp16,
                       json_number_value(v));
                assert_true(json_is_number(v));
                assert_float_equal(json_number_value(v), tp16, 0.3);
            }
        }
        json_decref(rep);
    }
    snprintf(html, sizeof html, "%s/report.html", out);
    assert_false(lqt_exists(html));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_in_chromium),
        cmocka_unit_test(test_no_html),
        cmocka_unit_test(test_album_html),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
