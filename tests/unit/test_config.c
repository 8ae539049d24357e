/*
 * Configuration: golden files (effective config or exact error lines),
 * a table of malformed input, the shipped examples, and the rule that the
 * docs and the commented example list every schema key.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "config/config.h"
#include "config/config_schema.h"

static const char *
srcdir(void)
{
    const char *d = getenv("top_srcdir");
    return d ? d : ".";
}

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* What an operator sees for a file: its errors, or the effective config. */
static char *
render(const char *name)
{
    config *cfg = config_load(name);
    ck_assert_ptr_nonnull(cfg);
    char *out = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&out, &len);
    if (cfg->nerrors > 0)
        config_print_errors(cfg, mf);
    else
        config_print(cfg, mf, false);
    fclose(mf);
    config_free(cfg);
    return out;
}

static const char *const golden[] = {
    "valid_full", "valid_minimal", "bad_quorum", "bad_many",
    "bad_sections", "bad_cross", "bad_own_port", "bad_missing",
};

START_TEST(test_golden)
{
    char dir[4096], ini[256], outp[256];
    snprintf(dir, sizeof(dir), "%s/tests/unit/config", srcdir());
    ck_assert_int_eq(chdir(dir), 0);
    snprintf(ini, sizeof(ini), "%s.ini", golden[_i]);
    snprintf(outp, sizeof(outp), "%s.out", golden[_i]);
    char *got = render(ini);
    if (getenv("RS_UPDATE_GOLDEN")) {
        FILE *f = fopen(outp, "w");
        fputs(got, f);
        fclose(f);
    }
    char *want = read_file(outp);
    ck_assert_msg(want != NULL, "missing golden file %s", outp);
    ck_assert_msg(strcmp(got, want) == 0, "%s:\n--- got ---\n%s--- want ---\n%s",
                  ini, got, want);
    free(got);
    free(want);
}
END_TEST

/* The effective configuration is itself a valid file that loads to the same
 * configuration (secrets shown, so nothing is lost). */
START_TEST(test_printed_config_loads_again)
{
    static const char *const valid[] = {"valid_full.ini", "valid_minimal.ini"};
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/tests/unit/config", srcdir());
    ck_assert_int_eq(chdir(dir), 0);
    config *a = config_load(valid[_i]);
    ck_assert_int_eq(a->nerrors, 0);
    char path[] = "/tmp/rs-test-config-print-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    config_print(a, f, true);
    fclose(f);
    config *b = config_load(path);
    unlink(path);
    for (int i = 0; i < b->nerrors; i++)
        fprintf(stderr, "%s\n", b->errors[i]);
    ck_assert_int_eq(b->nerrors, 0);
    char *x = NULL, *y = NULL;
    size_t xl, yl;
    FILE *mx = open_memstream(&x, &xl), *my = open_memstream(&y, &yl);
    config_print(a, mx, true);
    config_print(b, my, true);
    fclose(mx);
    fclose(my);
    ck_assert_str_eq(x, y);
    free(x);
    free(y);
    config_free(a);
    config_free(b);
}
END_TEST

START_TEST(test_banana_quorum_names_line_key_and_range)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/unit/config/bad_quorum.ini",
             srcdir());
    config *cfg = config_load(path);
    ck_assert_int_eq(cfg->nerrors, 1);
    char want[4200];
    snprintf(want, sizeof(want), "%s:12: key 'quorum' has value 'banana': "
             "expected an integer from 1 to 3 (the number of [peers])", path);
    ck_assert_str_eq(cfg->errors[0], want);
    config_free(cfg);
}
END_TEST

/* ---- malformed input ---------------------------------------------------- */

/* [peers] first so that keys appended after HEAD land in [sentinel]. */
#define HEAD "[peers]\nm1 = 127.0.0.1:27379\nm2 = 127.0.0.1:27380\n[sentinel]\nid = m1\ndata_dir = /tmp/x\n"

static const struct malformed {
    const char *what;
    const char *text;
    size_t len;                 /* 0 = strlen(text) */
    int line;                   /* of the first error */
    const char *msg;            /* expected in the first error */
} malformed[] = {
    {"missing =", HEAD "port 26379\n", 0, 7, "expected 'key = value'"},
    {"overlong value", HEAD "requirepass = "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "\n", 0, 7, "line is longer than 198 characters"},
    {"overlong key", HEAD
     "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
     "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
     "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
     " = 1\n", 0, 7, "line is longer than"},
    {"embedded NUL", HEAD "port = 26\0" "379\n",
     sizeof(HEAD "port = 26\0" "379\n") - 1, 7, "NUL byte"},
    {"huge number", HEAD "port = 99999999999999999999999\n", 0, 7,
     "expected a port number from 1 to 65535"},
    {"negative number", HEAD "heartbeat_ms = -100\n", 0, 7,
     "expected an integer from 5 to 60000"},
    {"non-numeric", HEAD "election_timeout_ms = 1s\n", 0, 7,
     "expected an integer from 50 to 600000"},
    {"lone minus", HEAD "election_timeout_ms = -\n", 0, 7,
     "expected an integer"},
    {"unknown section", HEAD "[slave x]\n", 0, 7, "unknown section [slave x]"},
    {"unknown key", HEAD "[master m]\naddress = h:1\nflavour = x\n", 0, 9,
     "unknown key 'flavour' in [master m]"},
    {"duplicate section", HEAD "[peers]\n", 0, 7, "appears twice"},
    {"duplicate key", HEAD "log_level = debug\nlog_level = notice\n", 0, 8,
     "set twice in [sentinel] (first on line 7)"},
    {"bad address", HEAD "[master m]\naddress = 127.0.0.1:0\n", 0, 8,
     "expected host:port"},
    {"bare ipv6 address", HEAD "[master m]\naddress = ::1:6379\n", 0, 8,
     "expected host:port"},
    {"control characters escaped", HEAD "log_level = \x1b[31mred\n", 0, 7,
     "'\\x1b[31mred'"},
    {"announce_ip not an address", HEAD "announce_ip = example.com\n", 0, 7,
     "announce_ip 'example.com' is not an IP address"},
    {"section without ]", HEAD "[master m\n", 0, 7, "without ']'"},
    {"indented key is not a continuation",
     HEAD "log_level = debug\n  log_level = notice\n",
     0, 8, "set twice"},
    {"default quorum above group size", "[peers]\nm1 = 127.0.0.1:27379\n"
     "[sentinel]\nid = m1\ndata_dir = /x\n[master m]\naddress = h:1\n", 0,
     6, "quorum 2 (the default) is more than the 1 monitor"},
    {"empty required", "[sentinel]\nid =\ndata_dir = /x\n[peers]\n"
     "m1 = 127.0.0.1:27379\n", 0, 2, "expected 1 to 64 of the characters"},
};

START_TEST(test_malformed)
{
    const struct malformed *m = &malformed[_i];
    char path[] = "/tmp/rs-test-config-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t len = m->len ? m->len : strlen(m->text);
    ck_assert_int_eq(write(fd, m->text, len), (ssize_t)len);
    close(fd);
    config *cfg = config_load(path);
    unlink(path);
    ck_assert_msg(cfg->nerrors > 0, "%s: accepted", m->what);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, m->line);
    ck_assert_msg(strncmp(cfg->errors[0], prefix, strlen(prefix)) == 0,
                  "%s: error '%s' not at line %d", m->what, cfg->errors[0],
                  m->line);
    ck_assert_msg(strstr(cfg->errors[0], m->msg) != NULL,
                  "%s: error '%s' lacks '%s'", m->what, cfg->errors[0],
                  m->msg);
    config_free(cfg);
}
END_TEST

START_TEST(test_missing_file)
{
    config *cfg = config_load("/nonexistent/raft-sentinel.ini");
    ck_assert_int_eq(cfg->nerrors, 1);
    ck_assert_str_eq(cfg->errors[0], "/nonexistent/raft-sentinel.ini: "
                     "cannot open: No such file or directory");
    config_free(cfg);
}
END_TEST

/* ---- shipped files and docs ------------------------------------------- */

static const char *const examples[] = {
    "etc/raft-sentinel.ini", "etc/raft-sentinel-minimal.ini",
};

START_TEST(test_examples_parse)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", srcdir(), examples[_i]);
    config *cfg = config_load(path);
    for (int i = 0; i < cfg->nerrors; i++)
        fprintf(stderr, "%s\n", cfg->errors[i]);
    ck_assert_int_eq(cfg->nerrors, 0);
    ck_assert_int_eq(cfg->npeers, 3);
    ck_assert_int_eq(cfg->nmasters, 1);
    config_free(cfg);
}
END_TEST

static void
assert_lists_keys(const char *file, const config_key *t, size_t n,
                  const char *before, const char *after)
{
    char path[4096], needle[128];
    snprintf(path, sizeof(path), "%s/%s", srcdir(), file);
    char *text = read_file(path);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    for (size_t i = 0; i < n; i++) {
        snprintf(needle, sizeof(needle), "%s%s%s", before, t[i].name, after);
        ck_assert_msg(strstr(text, needle) != NULL, "%s does not document "
                      "key '%s' (looked for \"%s\")", file, t[i].name, needle);
    }
    free(text);
}

START_TEST(test_docs_list_every_key)
{
    assert_lists_keys("docs/config.md", config_sentinel_keys,
                      config_sentinel_nkeys, "| `", "` |");
    assert_lists_keys("docs/config.md", config_master_keys,
                      config_master_nkeys, "| `", "` |");
    assert_lists_keys("etc/raft-sentinel.ini", config_sentinel_keys,
                      config_sentinel_nkeys, "\n", " =");
    assert_lists_keys("etc/raft-sentinel.ini", config_master_keys,
                      config_master_nkeys, "\n", " =");
}
END_TEST

START_TEST(test_reload_swaps_only_reloadable)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/tests/unit/config", srcdir());
    ck_assert_int_eq(chdir(dir), 0);
    config *cur = config_load("valid_minimal.ini");
    config *next = config_load("valid_minimal.ini");
    ck_assert_int_eq(cur->nerrors + next->nerrors, 0);
    next->sentinel.log_level = 0;          /* reloadable */
    next->sentinel.stale_reads = false;    /* reloadable */
    next->sentinel.port = 1234;            /* not reloadable */
    ck_assert_int_eq(config_apply_reload(cur, next), 2);
    ck_assert_int_eq(cur->sentinel.log_level, 0);
    ck_assert(!cur->sentinel.stale_reads);
    ck_assert_int_eq(cur->sentinel.port, 26379);
    config_free(cur);
    config_free(next);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_loop_test(tc, test_golden, 0,
                        (int)(sizeof(golden) / sizeof(golden[0])));
    tcase_add_loop_test(tc, test_printed_config_loads_again, 0, 2);
    tcase_add_test(tc, test_banana_quorum_names_line_key_and_range);
    tcase_add_loop_test(tc, test_malformed, 0,
                        (int)(sizeof(malformed) / sizeof(malformed[0])));
    tcase_add_test(tc, test_missing_file);
    tcase_add_loop_test(tc, test_examples_parse, 0,
                        (int)(sizeof(examples) / sizeof(examples[0])));
    tcase_add_test(tc, test_docs_list_every_key);
    tcase_add_test(tc, test_reload_swaps_only_reloadable);
    suite_add_tcase(s, tc);
    return check_run(s);
}
