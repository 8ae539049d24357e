/* Logging: format, level filtering, and that disabled levels cost nothing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "util/log.h"

static char logpath[64];

static void
setup(void)
{
    snprintf(logpath, sizeof(logpath), "/tmp/rs-test-log-XXXXXX");
    int fd = mkstemp(logpath);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(log_open(logpath), 0);
}

static void
teardown(void)
{
    log_close();
    unlink(logpath);
}

static char *
slurp(void)
{
    static char buf[8192];
    FILE *f = fopen(logpath, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int evaluated;

static int
side_effect(void)
{
    evaluated++;
    return 42;
}

START_TEST(test_sentinel_style_line)
{
    log_set_level(LOG_NOTICE);
    log_notice("hello %d", 7);
    log_warning("bad %s", "thing");
    char *out = slurp();
    /* <pid>:X DD Mon YYYY HH:MM:SS.mmm * hello 7 */
    char expect_pid[32];
    snprintf(expect_pid, sizeof(expect_pid), "%ld:X ", (long)getpid());
    ck_assert_ptr_eq(strstr(out, expect_pid), out);
    ck_assert_ptr_nonnull(strstr(out, " * hello 7\n"));
    ck_assert_ptr_nonnull(strstr(out, " # bad thing\n"));
    /* milliseconds: ".ddd " right before the level mark */
    char *mark = strstr(out, " * hello");
    ck_assert(mark - out > 4 && mark[-4] == '.');
}
END_TEST

START_TEST(test_disabled_levels_not_evaluated)
{
    log_set_level(LOG_WARNING);
    evaluated = 0;
    log_debug("x %d", side_effect());
    log_verbose("x %d", side_effect());
    log_notice("x %d", side_effect());
    ck_assert_int_eq(evaluated, 0);
    ck_assert_str_eq(slurp(), "");
    log_warning("x %d", side_effect());
    ck_assert_int_eq(evaluated, 1);
    ck_assert_ptr_nonnull(strstr(slurp(), " # x 42\n"));
}
END_TEST

START_TEST(test_debug_level_marks)
{
    log_set_level(LOG_DEBUG);
    log_debug("d");
    log_verbose("v");
    char *out = slurp();
    ck_assert_ptr_nonnull(strstr(out, " . d\n"));
    ck_assert_ptr_nonnull(strstr(out, " - v\n"));
}
END_TEST

START_TEST(test_overlong_message_truncated_with_newline)
{
    log_set_level(LOG_NOTICE);
    char big[10000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_notice("%s", big);
    char *out = slurp();
    size_t n = strlen(out);
    ck_assert_uint_lt(n, 4097);
    ck_assert_int_eq(out[n - 1], '\n');
}
END_TEST

START_TEST(test_reopen_after_rotation)
{
    log_set_level(LOG_NOTICE);
    log_notice("before");
    char rotated[80];
    snprintf(rotated, sizeof(rotated), "%s.1", logpath);
    ck_assert_int_eq(rename(logpath, rotated), 0);
    ck_assert_int_eq(log_reopen(), 0);
    log_notice("after");
    char *out = slurp();
    ck_assert_ptr_null(strstr(out, "before"));
    ck_assert_ptr_nonnull(strstr(out, "after"));
    unlink(rotated);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sentinel_style_line);
    tcase_add_test(tc, test_disabled_levels_not_evaluated);
    tcase_add_test(tc, test_debug_level_marks);
    tcase_add_test(tc, test_overlong_message_truncated_with_newline);
    tcase_add_test(tc, test_reopen_after_rotation);
    suite_add_tcase(s, tc);
    return check_run(s);
}
