/* events_emit: one call logs with the event's level and reaches every sink. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "events/events.h"

typedef struct seen {
    int n;
    char name[32], msg[128], set[32];
    log_level level;
} seen;

static void
sink(void *ctx, const events_event *e)
{
    seen *s = ctx;
    s->n++;
    snprintf(s->name, sizeof(s->name), "%s", e->name);
    snprintf(s->msg, sizeof(s->msg), "%s", e->msg);
    snprintf(s->set, sizeof(s->set), "%s", e->set ? e->set : "");
    s->level = e->level;
}

START_TEST(test_emit_logs_and_reaches_sinks)
{
    char path[] = "/tmp/rs-test-events-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ck_assert_int_eq(log_open(path), 0);
    log_set_level(LOG_NOTICE);

    events ev;
    events_init(&ev);
    seen a = {0}, b = {0};
    ck_assert_int_eq(events_add_sink(&ev, sink, &a), 0);
    ck_assert_int_eq(events_add_sink(&ev, sink, &b), 0);
    events_emit(&ev, "+sdown", "mymaster", "master %s %s %d", "mymaster",
                "127.0.0.1", 6379);
    ck_assert_int_eq(a.n, 1);
    ck_assert_int_eq(b.n, 1);
    ck_assert_str_eq(a.name, "+sdown");
    ck_assert_str_eq(a.msg, "master mymaster 127.0.0.1 6379");
    ck_assert_str_eq(a.set, "mymaster");
    ck_assert_int_eq(a.level, LOG_WARNING);

    char text[512] = "";
    FILE *f = fopen(path, "r");
    ck_assert_uint_gt(fread(text, 1, sizeof(text) - 1, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, " # +sdown master mymaster "
                                       "127.0.0.1 6379\n"));
    log_close();
    unlink(path);
}
END_TEST

START_TEST(test_levels_and_sink_limit)
{
    ck_assert_int_eq(events_level("+switch-master"), LOG_WARNING);
    ck_assert_int_eq(events_level("+slave"), LOG_NOTICE);
    ck_assert_int_eq(events_level("+unheard-of"), LOG_NOTICE);
    events ev;
    events_init(&ev);
    seen s = {0};
    for (int i = 0; i < EVENTS_MAX_SINKS; i++)
        ck_assert_int_eq(events_add_sink(&ev, sink, &s), 0);
    ck_assert_int_eq(events_add_sink(&ev, sink, &s), -1);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("events");
    TCase *tc = tcase_create("events");
    tcase_add_test(tc, test_emit_logs_and_reaches_sinks);
    tcase_add_test(tc, test_levels_and_sink_limit);
    suite_add_tcase(s, tc);
    return check_run(s);
}
