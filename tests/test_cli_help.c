/* The command table is the one list of commands and options (src/cli/cli.h): every
 * command answers --help and `lacquer help COMMAND` with exit 0 and names every option of
 * its table (with its value, default and help text), and the README's usage block is the
 * top-level `lacquer --help`, byte for byte.  A new option without help fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "lqtest.h"

/* 1 when word occurs in text delimited by space/newline/',' or the text edges. */
static int has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        int before = p == text || p[-1] == ' ' || p[-1] == '\n' || p[-1] == '[';
        char a = p[n];
        int after = a == '\0' || a == ' ' || a == '\n' || a == ',' || a == ']';
        if (before && after) return 1;
    }
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void test_table_is_complete(void **state)
{
    (void)state;
    assert_true(cli_n_commands >= 6);
    for (size_t i = 0; i < cli_n_commands; i++) {
        const cli_command *c = cli_commands[i];
        assert_non_null(c->name);
        assert_ptr_equal(cli_find_command(c->name), c);
        if (!c->summary || !c->summary[0] || !c->example || strncmp(c->example, c->name,
                                                                    strlen(c->name)) != 0 ||
            !c->run || !c->operands)
            fail_msg("command %s: needs a summary, operands, run and an example that starts "
                     "with its name", c->name);
        assert_true(c->n_options == 0 || c->options != NULL);
        for (size_t k = 0; k < c->n_options; k++) {
            const cli_option *o = &c->options[k];
            if (!o->flag || strncmp(o->flag, "--", 2) != 0 || !o->help || !o->help[0])
                fail_msg("%s option %zu (%s): needs a --flag and help text", c->name, k,
                         o->flag ? o->flag : "NULL");
            for (size_t m = 0; m < k; m++)
                if (!strcmp(c->options[m].flag, o->flag)) fail_msg("%s: %s twice", c->name,
                                                                   o->flag);
        }
    }
}

static void test_help_names_every_option(void **state)
{
    (void)state;
    for (size_t i = 0; i < cli_n_commands; i++) {
        const cli_command *c = cli_commands[i];
        char *so = NULL, *se = NULL, *so2 = NULL, *se2 = NULL;
        const char *a1[] = {LQ_CLI_PATH, c->name, "--help", NULL};
        int rc = lqt_run(a1, &so, &se);
        if (rc != 0 || se[0]) fail_msg("lacquer %s --help: exit %d, stderr %s", c->name, rc, se);
        char head[128];
        snprintf(head, sizeof head, "usage: lacquer %s", c->name);
        assert_memory_equal(so, head, strlen(head));
        assert_non_null(strstr(so, "\nExample:\n  lacquer "));
        assert_non_null(strstr(so, c->example));
        for (size_t k = 0; k < c->n_options; k++) {
            const cli_option *o = &c->options[k];
            char line[256];
            /* the options section: "  [-a, ]--flag ARG  help ..." */
            snprintf(line, sizeof line, "\n  %s%s%s%s%s ", o->alias ? o->alias : "",
                     o->alias ? ", " : "", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
            if (!strstr(so, line))
                fail_msg("lacquer %s --help does not list \"%s\":\n%s", c->name, line + 3, so);
            /* and the synopsis */
            snprintf(line, sizeof line, "[%s%s%s]", o->flag, o->arg ? " " : "",
                     o->arg ? o->arg : "");
            assert_non_null(strstr(so, line));
            if (o->def) {
                snprintf(line, sizeof line, "[default: %s]", o->def);
                /* the default may be wrapped: compare with newlines+indent folded */
                char *flat = strdup(so);
                size_t w = 0;
                for (size_t r = 0; flat[r]; r++) {
                    if (flat[r] == '\n' && flat[r + 1] == ' ') {
                        while (flat[r + 1] == ' ') r++;
                        flat[w++] = ' ';
                        continue;
                    }
                    flat[w++] = flat[r];
                }
                flat[w] = '\0';
                if (!strstr(flat, line)) fail_msg("lacquer %s --help: no %s", c->name, line);
                free(flat);
            }
        }
        /* lacquer help COMMAND says the same */
        const char *a2[] = {LQ_CLI_PATH, "help", c->name, NULL};
        assert_int_equal(lqt_run(a2, &so2, &se2), 0);
        assert_string_equal(so2, so);
        assert_string_equal(se2, "");
        free(so), free(se), free(so2), free(se2);
    }
}

static void test_help_errors(void **state)
{
    (void)state;
    char *so = NULL, *se = NULL;
    const char *a[] = {LQ_CLI_PATH, "help", "mastr", NULL};
    assert_int_equal(lqt_run(a, &so, &se), 2);
    assert_string_equal(so, "");
    /* the list is the table's, in its order */
    char want[1024], list[512];
    size_t off = 0;
    for (size_t i = 0; i < cli_n_commands; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                cli_commands[i]->name);
    snprintf(want, sizeof want, "lacquer: unknown command \"mastr\" (did you mean master? "
                                "expected %s; see lacquer --help)\n", list);
    assert_string_equal(se, want);
    assert_non_null(strstr(want, "expected master, album, check, analyze, presets, targets, demo, help"));
    free(so), free(se);
    const char *b[] = {LQ_CLI_PATH, "anlayze", "x.wav", NULL};
    assert_int_equal(lqt_run(b, &so, &se), 2);
    assert_non_null(strstr(se, "(did you mean analyze? "));
    free(so), free(se);
    /* a misspelt option: the closest of the command's own */
    const char *c[] = {LQ_CLI_PATH, "master", "x.wav", "--tagret", "cd", NULL};
    assert_int_equal(lqt_run(c, &so, &se), 2);
    assert_string_equal(se, "lacquer: unknown option \"--tagret\" for master (did you mean "
                            "--target? see lacquer master --help)\n");
    free(so), free(se);
    const char *d[] = {LQ_CLI_PATH, "targets", "--lnog", NULL};
    assert_int_equal(lqt_run(d, &so, &se), 2);
    assert_string_equal(se, "lacquer: unknown option \"--lnog\" for targets (did you mean "
                            "--long? see lacquer targets --help)\n");
    free(so), free(se);
}

/* The ```sh block under "## Using it" in README.md is the command section of
 * `lacquer --help` (from the first command line to "lacquer --help | --version"). */
static void test_readme_usage_matches_help(void **state)
{
    (void)state;
    char *readme = slurp(LQ_SOURCE_DIR "/README.md");
    char *sec = strstr(readme, "\n## Using it\n");
    assert_non_null(sec);
    char *b = strstr(sec, "\n```sh\n");
    assert_non_null(b);
    b += strlen("\n```sh\n");
    char *e = strstr(b, "```\n");
    assert_non_null(e);
    *e = '\0';
    char *so = NULL, *se = NULL;
    const char *a[] = {LQ_CLI_PATH, "--help", NULL};
    assert_int_equal(lqt_run(a, &so, &se), 0);
    char *start = strstr(so, "\n\nlacquer ");
    assert_non_null(start);
    start += 2;
    char *end = strstr(start, "lacquer --help | --version\n");
    assert_non_null(end);
    end[strlen("lacquer --help | --version\n")] = '\0';
    if (strcmp(b, start) != 0)
        fail_msg("README.md usage block differs from lacquer --help; paste this block:\n%s",
                 start);
    free(so), free(se), free(readme);
}

/* Every command and option is in the man page. */
static void test_man_page_names_everything(void **state)
{
    (void)state;
    char *man = slurp(LQ_SOURCE_DIR "/docs/lacquer.1");
    /* groff escapes: "\-" is "-" */
    size_t w = 0;
    for (size_t r = 0; man[r]; r++) {
        if (man[r] == '\\' && man[r + 1] == '-') continue;
        if (man[r] == '\\' && man[r + 1] == 'f' && man[r + 2]) {
            r += 2;
            continue;
        }
        man[w++] = man[r];
    }
    man[w] = '\0';
    for (size_t i = 0; i < cli_n_commands; i++) {
        const cli_command *c = cli_commands[i];
        char sh[128];
        snprintf(sh, sizeof sh, ".SS %s", c->name);
        if (!strstr(man, sh)) fail_msg("docs/lacquer.1: no \"%s\" section", sh);
        for (size_t k = 0; k < c->n_options; k++)
            if (!has_word(man, c->options[k].flag))
                fail_msg("docs/lacquer.1 does not name %s %s", c->name, c->options[k].flag);
    }
    free(man);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_complete),
        cmocka_unit_test(test_help_names_every_option),
        cmocka_unit_test(test_help_errors),
        cmocka_unit_test(test_readme_usage_matches_help),
        cmocka_unit_test(test_man_page_names_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
