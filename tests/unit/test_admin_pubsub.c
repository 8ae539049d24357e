/* Admin port pub/sub: Redis' reply shapes for (P)(UN)SUBSCRIBE, message
 * and pmessage pushes, glob patterns, subscribe-mode restrictions, and the
 * output limit that cuts off a subscriber which stopped reading. */
#include "test_admin_util.c"

static const char *
confirm(const char *kind, const char *name, int count)
{
    static char s[256];
    snprintf(s, sizeof(s), "*3\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n:%d\r\n",
             strlen(kind), kind, strlen(name), name, count);
    return s;
}

/* ---- pub/sub ----------------------------------------------------------- */

static const char *
message(const char *pattern, const char *channel, const char *msg)
{
    static char s[512];
    if (pattern)
        snprintf(s, sizeof(s),
                 "*4\r\n$8\r\npmessage\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n"
                 "$%zu\r\n%s\r\n", strlen(pattern), pattern, strlen(channel),
                 channel, strlen(msg), msg);
    else
        snprintf(s, sizeof(s),
                 "*3\r\n$7\r\nmessage\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
                 strlen(channel), channel, strlen(msg), msg);
    return s;
}

START_TEST(test_subscribe_publish_patterns)
{
    tc *a = tc_open(), *b = tc_open();
    tc_send(a, "SUBSCRIBE +switch-master +sdown +sdown\r\n");
    tc_expect(a, confirm("subscribe", "+switch-master", 1));
    tc_expect(a, confirm("subscribe", "+sdown", 2));
    tc_expect(a, confirm("subscribe", "+sdown", 2));   /* no duplicate */
    tc_send(b, "PSUBSCRIBE * +s?own [ab]x \\*lit\r\n");
    tc_expect(b, confirm("psubscribe", "*", 1));
    tc_expect(b, confirm("psubscribe", "+s?own", 2));
    tc_expect(b, confirm("psubscribe", "[ab]x", 3));
    tc_expect(b, confirm("psubscribe", "\\*lit", 4));

    ck_assert_uint_eq(admin_publish(W.srv, "+sdown", "master m 1.2.3.4 1"), 3);
    tc_expect(a, message(NULL, "+sdown", "master m 1.2.3.4 1"));
    tc_expect(b, message("*", "+sdown", "master m 1.2.3.4 1"));
    tc_expect(b, message("+s?own", "+sdown", "master m 1.2.3.4 1"));
    ck_assert_uint_eq(admin_publish(W.srv, "bx", "m"), 2);
    tc_expect(b, message("*", "bx", "m"));
    tc_expect(b, message("[ab]x", "bx", "m"));
    ck_assert_uint_eq(admin_publish(W.srv, "*lit", "m"), 2);
    ck_assert_uint_eq(admin_publish(W.srv, "xlit", "m"), 1);
    tc_expect(b, message("*", "*lit", "m"));
    tc_expect(b, message("\\*lit", "*lit", "m"));
    tc_expect(b, message("*", "xlit", "m"));

    admin_stats st = stats();
    ck_assert_uint_eq(st.pubsub_clients, 2);
    ck_assert_uint_eq(st.pubsub_channels, 2);
    ck_assert_uint_eq(st.pubsub_patterns, 4);

    tc_send(a, "UNSUBSCRIBE nope\r\nUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nPING\r\n");
    tc_expect(a, confirm("unsubscribe", "nope", 2));
    tc_expect(a, confirm("unsubscribe", "+switch-master", 1));
    tc_expect(a, confirm("unsubscribe", "+sdown", 0));
    tc_expect(a, "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    tc_expect(a, "+PONG\r\n");      /* out of subscribe mode */
    tc_send(b, "PUNSUBSCRIBE * [ab]x\r\nSUBSCRIBE c\r\nPUNSUBSCRIBE\r\n");
    tc_expect(b, confirm("punsubscribe", "*", 3));
    tc_expect(b, confirm("punsubscribe", "[ab]x", 2));
    tc_expect(b, confirm("subscribe", "c", 3));
    tc_expect(b, confirm("punsubscribe", "+s?own", 2));
    tc_expect(b, confirm("punsubscribe", "\\*lit", 1));
    ck_assert_uint_eq(admin_publish(W.srv, "+sdown", "x"), 0);
    tc_expect_silence(a);
    tc_close(a);
    tc_close(b);
}
END_TEST

START_TEST(test_subscribe_mode_restrictions)
{
    tc *t = tc_open();
    tc_send(t, "SUBSCRIBE ch\r\nCLIENT ID\r\nTEST CTX\r\nNOPE\r\nPING\r\n"
               "PING hi\r\nAUTH x\r\nPSUBSCRIBE p*\r\nQUIT\r\n");
    tc_expect(t, confirm("subscribe", "ch", 1));
    tc_expect(t, "-ERR Can't execute 'client|id': only (P)SUBSCRIBE / "
                 "(P)UNSUBSCRIBE / PING / QUIT are allowed in this context\r\n");
    tc_expect(t, "-ERR Can't execute 'test|ctx': only (P)SUBSCRIBE / "
                 "(P)UNSUBSCRIBE / PING / QUIT are allowed in this context\r\n");
    tc_expect(t, "-ERR unknown command 'NOPE', with args beginning with: \r\n");
    tc_expect(t, "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    tc_expect(t, "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    tc_expect(t, "-ERR Can't execute 'auth': only (P)SUBSCRIBE / "
                 "(P)UNSUBSCRIBE / PING / QUIT are allowed in this context\r\n");
    tc_expect(t, confirm("psubscribe", "p*", 2));
    tc_expect(t, "+OK\r\n");
    tc_expect_eof(t);
    tc_close(t);
}
END_TEST

START_TEST(test_output_limit_drops_non_reading_subscriber)
{
    admin_options o;
    admin_options_init(&o);
    o.max_output = 64 * 1024;
    restart(&o);
    tc *sub = tc_open_rcvbuf(4096), *other = tc_open();
    tc_send(sub, "SUBSCRIBE events\r\n");
    tc_expect(sub, confirm("subscribe", "events", 1));
    char msg[8192];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    /* The kernel's socket buffers absorb some MB first; then our queue
     * grows past max_output and the subscriber is cut off. */
    int i;
    for (i = 0; i < 20000; i++) {
        if (admin_publish(W.srv, "events", msg) == 0)
            break;
        pump(-1);
    }
    ck_assert_int_lt(i, 20000);
    ck_assert(wait_clients(1));
    ck_assert_uint_eq(stats().output_limit_drops, 1);
    tc_expect_eof(sub);
    tc_send(other, "PING\r\n");
    tc_expect(other, "+PONG\r\n");
    tc_close(sub);
    tc_close(other);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("admin_pubsub");
    TCase *tcs = tcase_create("server");
    tcase_add_checked_fixture(tcs, setup, teardown);
    tcase_set_timeout(tcs, 60);
    tcase_add_test(tcs, test_subscribe_publish_patterns);
    tcase_add_test(tcs, test_subscribe_mode_restrictions);
    tcase_add_test(tcs, test_output_limit_drops_non_reading_subscriber);
    suite_add_tcase(s, tcs);
    return check_run(s);
}
