/* Redis instance links against real redis-server processes on 127.0.0.1
 * (started per test, killed and removed in teardown).  The event loop only
 * runs for bounded times (RUN_UNTIL); never a sleep to "let things happen".
 *
 * Timeouts are provoked two ways: a listener whose accept queue is full
 * (the TCP connect itself hangs: "timeout") and a SIGSTOPped redis-server
 * (the kernel completes the TCP handshake, nobody answers: "timeout (no
 * reply to the handshake)"). */
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "monitor/monitor_link.h"
#include "test_monitor_link_util.h"
#include "util/log.h"

#define MAX_LINKS 4
#define MAX_REDIS 2

/* One world per test, reset by setup(). */
static struct {
    struct event_base *base;
    tctx t[MAX_LINKS];
    size_t nt;
    tl_redis redis[MAX_REDIS];
    int hole[3];
    tl_fake fake;
} W;
static char logpath[64];

/* Lines of our log with this mark ('#' warning, '*' notice, '-' verbose). */
#define LOG_COUNT(mark, text) tl_log_count(logpath, (mark), (text))

#define SOON(cond) RUN_UNTIL(W.base, cond, TL_WAIT_MS)
#define ASSERT_SOON(cond)                                                    \
    do {                                                                     \
        SOON(cond);                                                          \
        ck_assert_msg((cond), "timed out waiting for %s", #cond);           \
    } while (0)

static void
run_for(int ms)
{
    RUN_UNTIL(W.base, false, ms);
}

/* ---- fixture ------------------------------------------------------------ */

static void
setup(void)
{
    signal(SIGPIPE, SIG_IGN);           /* as the daemon does */
    memset(&W, 0, sizeof(W));
    W.hole[0] = W.hole[1] = W.hole[2] = -1;
    W.base = event_base_new();
    ck_assert_ptr_nonnull(W.base);
    snprintf(logpath, sizeof(logpath), "/tmp/rs-test-mlink-log-XXXXXX");
    int fd = mkstemp(logpath);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(log_open(logpath), 0);
    log_set_level(LOG_VERBOSE);
}

static void
teardown(void)
{
    for (size_t i = 0; i < W.nt; i++)
        mlink_free(W.t[i].link);
    for (size_t i = 0; i < MAX_REDIS; i++)
        tl_redis_cleanup(&W.redis[i]);
    for (int i = 0; i < 3; i++)
        if (W.hole[i] >= 0)
            close(W.hole[i]);
    tl_fake_stop(&W.fake);
    event_base_free(W.base);
    log_close();
    unlink(logpath);
}

static tl_redis *
redis_start(const char *const *extra)
{
    for (size_t i = 0; i < MAX_REDIS; i++) {
        if (W.redis[i].dir[0] == '\0') {
            ck_assert_msg(tl_redis_start(&W.redis[i], 0, extra),
                          "cannot start %s", tl_redis_bin());
            return &W.redis[i];
        }
    }
    ck_abort_msg("too many servers");
    return NULL;
}

static mlink_options
opts_for(int port)
{
    mlink_options o = {
        .host = "127.0.0.1", .port = port, .connect_timeout_ms = 1000,
        .backoff_min_ms = 20, .backoff_max_ms = 100, .seed = 42};
    return o;
}

static tctx *
link_new(const mlink_options *o)
{
    ck_assert_uint_lt(W.nt, MAX_LINKS);
    tctx *t = &W.t[W.nt++];
    t->link = mlink_new(W.base, o, &CBS, t);
    ck_assert_ptr_nonnull(t->link);
    return t;
}

static tctx *
link_ready(const mlink_options *o)
{
    tctx *t = link_new(o);
    ASSERT_SOON(t->ready == 1);
    ck_assert_int_eq(mlink_state(t->link), MLINK_READY);
    return t;
}

static treq *
req_new(tctx *t)
{
    treq *q = calloc(1, sizeof(*q));
    ck_assert_ptr_nonnull(q);
    q->t = t;
    return q;
}

static int
send_ping(tctx *t, treq *q)
{
    const char *argv[] = {"PING"};
    return mlink_command(t->link, on_reply, q, 1, argv, NULL);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_connect_ping_info)
{
    tl_redis *r = redis_start(NULL);
    mlink_options o = opts_for(r->port);
    tctx *t = link_new(&o);
    ck_assert_int_eq(mlink_state(t->link), MLINK_IDLE);  /* no I/O in new */
    treq early = {.t = t};
    ck_assert_int_eq(send_ping(t, &early), -1);          /* not READY */
    uint64_t before = tl_now_ms();
    ASSERT_SOON(t->ready == 1);
    ck_assert_uint_ge(mlink_connected_since_ms(t->link), before);
    ck_assert_str_eq(mlink_last_error(t->link), "");

    treq *ping = req_new(t), *info = req_new(t);
    ck_assert_int_eq(send_ping(t, ping), 0);
    ck_assert_int_eq(mlink_commandf(t->link, on_reply, info, "INFO %s",
                                    "replication"), 0);
    ck_assert_int_eq(mlink_pending(t->link), 2);
    ASSERT_SOON(ping->calls == 1 && info->calls == 1);
    ck_assert_int_eq(ping->type, REDIS_REPLY_STATUS);
    ck_assert_str_eq(ping->str, "PONG");
    ck_assert_int_eq(info->type, REDIS_REPLY_STRING);
    ck_assert_ptr_nonnull(strstr(info->str, "role:master"));
    ck_assert_int_eq(mlink_pending(t->link), 0);

    mlink_stats s;
    mlink_get_stats(t->link, &s);
    ck_assert_uint_eq(s.connect_attempts, 1);
    ck_assert_uint_eq(s.connects, 1);
    ck_assert_uint_eq(s.disconnects, 0);
    ck_assert_uint_eq(s.commands_sent, 2);
    ck_assert_uint_eq(s.commands_refused, 1);
    ck_assert_uint_eq(s.replies, 2);
    ck_assert_str_eq(t->seq, "Rrr");
    ck_assert_int_eq(early.calls, 0);

    /* Commands that would break reply pairing are refused, both ways. */
    const char *sub[] = {"subscribe", "ch"};
    ck_assert_int_eq(mlink_command(t->link, on_reply, &early, 2, sub, NULL),
                     -1);
    ck_assert_int_eq(mlink_commandf(t->link, on_reply, &early, "%s %s",
                                    "MONITOR", "x"), -1);
    ck_assert_int_eq(mlink_commandf(t->link, on_reply, &early, "HELLO 3"),
                     -1);
    mlink_get_stats(t->link, &s);
    ck_assert_uint_eq(s.commands_refused, 4);
    ck_assert_int_eq(mlink_pending(t->link), 0);
    free(ping);
    free(info);
}
END_TEST

START_TEST(test_client_setname)
{
    tl_redis *r = redis_start(NULL);
    mlink_options o = opts_for(r->port);
    o.client_name = "sentinel-4f2a9c01-cmd";
    link_ready(&o);
    redisReply *list = tl_redis_cmd(r->port, NULL, "CLIENT LIST");
    ck_assert_ptr_nonnull(list);
    ck_assert_ptr_nonnull(strstr(list->str, "name=sentinel-4f2a9c01-cmd "));
    freeReplyObject(list);

    /* A name Redis refuses is ignored, as Sentinel does: still READY. */
    o.client_name = "has spaces";
    tctx *t2 = link_ready(&o);
    ck_assert_str_eq(mlink_last_error(t2->link), "");
    ck_assert_int_ge(LOG_COUNT('-', "CLIENT SETNAME refused"), 1);
}
END_TEST

START_TEST(test_auth_requirepass)
{
    const char *extra[] = {"--requirepass", "s3cret", NULL};
    tl_redis *r = redis_start(extra);
    mlink_options o = opts_for(r->port);
    o.auth_pass = "s3cret";
    o.auth_user = "";                   /* empty: plain AUTH pass */
    tctx *t = link_ready(&o);
    ck_assert(!mlink_auth_failed(t->link));
    treq *q = req_new(t);
    ck_assert_int_eq(send_ping(t, q), 0);
    ASSERT_SOON(q->calls == 1);
    ck_assert_str_eq(q->str, "PONG");
    free(q);
}
END_TEST

START_TEST(test_auth_wrong_then_fixed)
{
    const char *extra[] = {"--requirepass", "right", NULL};
    tl_redis *r = redis_start(extra);
    mlink_options o = opts_for(r->port);
    o.auth_pass = "wrong";
    tctx *t = link_new(&o);
    ASSERT_SOON(t->down >= 3);          /* keeps retrying, with backoff */
    ck_assert_int_eq(t->ready, 0);
    ck_assert_msg(has_prefix(t->reason, "AUTH failed: WRONGPASS"), "%s",
                  t->reason);
    ck_assert_str_eq(mlink_last_error(t->link), t->reason);
    ck_assert(mlink_auth_failed(t->link));
    ck_assert_int_ne(mlink_state(t->link), MLINK_READY);
    /* Logged once at notice; the retries only at verbose. */
    ck_assert_int_eq(LOG_COUNT('*', "down: AUTH failed"), 1);
    ck_assert_int_ge(LOG_COUNT('-', "down: AUTH failed"), 2);

    redisReply *ok = tl_redis_cmd(r->port, "right",
                                  "CONFIG SET requirepass wrong");
    ck_assert_ptr_nonnull(ok);
    ck_assert_int_eq(ok->type, REDIS_REPLY_STATUS);
    freeReplyObject(ok);
    ASSERT_SOON(t->ready == 1);
    ck_assert(!mlink_auth_failed(t->link));
    ck_assert_int_eq(LOG_COUNT('*', "AUTH accepted again"), 1);
}
END_TEST

START_TEST(test_auth_acl_user)
{
    tl_redis *r = redis_start(NULL);
    redisReply *ok = tl_redis_cmd(r->port, NULL,
                                  "ACL SETUSER mon on >monpass ~* &* +@all");
    ck_assert_ptr_nonnull(ok);
    ck_assert_int_eq(ok->type, REDIS_REPLY_STATUS);
    freeReplyObject(ok);

    mlink_options o = opts_for(r->port);
    o.auth_user = "mon";
    o.auth_pass = "monpass";
    tctx *t = link_ready(&o);
    treq *who = req_new(t);
    ck_assert_int_eq(mlink_commandf(t->link, on_reply, who, "ACL WHOAMI"), 0);
    ASSERT_SOON(who->calls == 1);
    ck_assert_str_eq(who->str, "mon");
    free(who);

    o.auth_pass = "nope";
    tctx *bad = link_new(&o);
    ASSERT_SOON(bad->down >= 1);
    ck_assert_msg(has_prefix(bad->reason, "AUTH failed: WRONGPASS"), "%s",
                  bad->reason);
    ck_assert(mlink_auth_failed(bad->link));
}
END_TEST

START_TEST(test_auth_missing_and_unneeded)
{
    const char *extra[] = {"--requirepass", "pw", NULL};
    tl_redis *locked = redis_start(extra);
    tl_redis *plain = redis_start(NULL);

    /* No password configured, the server wants one: an AUTH problem. */
    mlink_options o = opts_for(locked->port);
    tctx *t = link_new(&o);
    ASSERT_SOON(t->down >= 1);
    ck_assert_msg(has_prefix(t->reason, "AUTH required: NOAUTH"), "%s",
                  t->reason);
    ck_assert(mlink_auth_failed(t->link));

    /* A user without a password: no AUTH at all (as Sentinel), warned. */
    o = opts_for(plain->port);
    o.auth_user = "mon";
    link_ready(&o);
    ck_assert_int_eq(LOG_COUNT('#', "auth_user without auth_pass"), 1);

    /* A password the server does not need: not worth an outage. */
    o = opts_for(plain->port);
    o.auth_pass = "leftover";
    tctx *t2 = link_ready(&o);
    ck_assert(!mlink_auth_failed(t2->link));
    ck_assert_int_ge(LOG_COUNT('-', "AUTH not needed"), 1);
}
END_TEST

START_TEST(test_refused_and_backoff)
{
    int port = tl_free_port();
    mlink_options o = opts_for(port);
    o.backoff_min_ms = 20;
    o.backoff_max_ms = 70;              /* 20, 40, 80 -> 70, ... */
    tctx *t = link_new(&o);
    ASSERT_SOON(t->down >= 8);
    ck_assert_str_eq(t->reason, "connection refused");
    ck_assert_int_eq(t->ready, 0);
    ck_assert_int_eq(mlink_state(t->link), MLINK_BACKOFF);
    ck_assert_uint_eq(mlink_connected_since_ms(t->link), 0);
    /* Delays stay in [min, max] (plus loop slack) and grow to >= max/2. */
    for (int i = 1; i < 8; i++) {
        uint64_t gap = t->down_at[i] - t->down_at[i - 1];
        ck_assert_uint_ge(gap, 15);     /* delivery latency varies */
        ck_assert_uint_le(gap, 70 + 150);   /* a loaded CI machine */
    }
    ck_assert_uint_ge(t->down_at[7] - t->down_at[6], 30);
    mlink_stats s;
    mlink_get_stats(t->link, &s);
    ck_assert_uint_ge(s.connect_attempts, 8);
    ck_assert_uint_eq(s.connects, 0);
    ck_assert_uint_eq(s.disconnects, 0);
    ck_assert_int_eq(LOG_COUNT('*', "down: connection refused"), 1);
}
END_TEST

START_TEST(test_connect_timeout)
{
    int port = tl_blackhole(W.hole);
    ck_assert_int_gt(port, 0);
    mlink_options o = opts_for(port);
    o.connect_timeout_ms = 200;
    o.backoff_min_ms = o.backoff_max_ms = 1000;
    uint64_t t0 = tl_now_ms();
    tctx *t = link_new(&o);
    run_for(100);
    ck_assert_int_eq(mlink_state(t->link), MLINK_CONNECTING);
    ASSERT_SOON(t->down == 1);
    uint64_t took = tl_now_ms() - t0;
    ck_assert_str_eq(t->reason, "timeout");
    ck_assert_uint_ge(took, 190);       /* libevent: CLOCK_MONOTONIC_COARSE */
    ck_assert_uint_lt(took, 1500);
    ck_assert_int_eq(mlink_state(t->link), MLINK_BACKOFF);
    /* A reset skips the backoff: a new attempt at once ... */
    mlink_reset(t->link);
    ck_assert_int_eq(mlink_state(t->link), MLINK_CONNECTING);
    run_for(50);
    ck_assert_int_eq(t->down, 1);       /* no "reset" from BACKOFF */
    /* ... and from CONNECTING abandons the attempt for a new one. */
    mlink_reset(t->link);
    ck_assert_int_eq(mlink_state(t->link), MLINK_CONNECTING);
    ASSERT_SOON(t->down == 3);
    ck_assert_str_eq(t->seq, "DDD");
    ck_assert_str_eq(t->reason, "timeout");
    mlink_stats s;
    mlink_get_stats(t->link, &s);
    ck_assert_uint_eq(s.connect_attempts, 3);
}
END_TEST

START_TEST(test_handshake_timeout_sigstop)
{
    tl_redis *r = redis_start(NULL);
    tl_redis_signal(r, SIGSTOP);
    mlink_options o = opts_for(r->port);
    o.connect_timeout_ms = 200;
    tctx *t = link_new(&o);
    ASSERT_SOON(mlink_state(t->link) == MLINK_AUTHENTICATING);
    ASSERT_SOON(t->down >= 1);
    ck_assert_str_eq(t->reason, "timeout (no reply to the handshake)");
    /* A reset while the handshake is pending is an on_down "reset". */
    ASSERT_SOON(mlink_state(t->link) == MLINK_AUTHENTICATING);
    int downs = t->down;
    mlink_reset(t->link);
    ck_assert_int_eq(mlink_state(t->link), MLINK_CONNECTING);
    ASSERT_SOON(t->down == downs + 1);
    ck_assert_str_eq(t->reason, "reset");
    tl_redis_signal(r, SIGCONT);
    ASSERT_SOON(t->ready == 1);
}
END_TEST

START_TEST(test_server_killed_restarted)
{
    tl_redis *r = redis_start(NULL);
    mlink_options o = opts_for(r->port);
    o.backoff_min_ms = 50;
    o.backoff_max_ms = 200;
    tctx *t = link_ready(&o);
    treq *q = req_new(t);
    ck_assert_int_eq(send_ping(t, q), 0);
    ASSERT_SOON(q->calls == 1);

    tl_redis_kill(r);
    ASSERT_SOON(t->down == 1);
    ck_assert_str_eq(t->reason, "closed by server");
    ck_assert_int_eq(mlink_state(t->link), MLINK_BACKOFF);
    ck_assert_int_eq(send_ping(t, q), -1);
    ASSERT_SOON(t->down >= 3);          /* retries, refused meanwhile */
    ck_assert_str_eq(t->reason, "connection refused");

    ck_assert(tl_redis_start(r, r->port, NULL));
    ASSERT_SOON(t->ready == 2);
    ck_assert_int_eq(send_ping(t, q), 0);
    ASSERT_SOON(q->calls == 2);
    mlink_stats s;
    mlink_get_stats(t->link, &s);
    ck_assert_uint_eq(s.connects, 2);
    ck_assert_uint_eq(s.disconnects, 1);
    ck_assert_int_eq(t->seq[0], 'R');
    ck_assert_int_eq(t->seq[2], 'D');
    ck_assert_int_eq(t->seq[t->nseq - 2], 'R');
    free(q);
}
END_TEST

START_TEST(test_sigstop_pending_then_reset)
{
    tl_redis *r = redis_start(NULL);
    mlink_options o = opts_for(r->port);
    o.connect_timeout_ms = 3000;
    tctx *t = link_ready(&o);
    tl_redis_signal(r, SIGSTOP);
    treq *q[3];
    for (int i = 0; i < 3; i++) {
        q[i] = req_new(t);
        ck_assert_int_eq(send_ping(t, q[i]), 0);
    }
    run_for(150);
    ck_assert_int_eq(mlink_pending(t->link), 3);
    ck_assert_int_eq(q[0]->calls, 0);

    mlink_reset(t->link);
    ck_assert_int_eq(mlink_pending(t->link), 0);
    ck_assert_int_eq(mlink_state(t->link), MLINK_CONNECTING);
    ck_assert_uint_eq(mlink_connected_since_ms(t->link), 0);
    ck_assert_str_eq(mlink_last_error(t->link), "reset");
    ASSERT_SOON(t->down == 1);
    ck_assert_str_eq(t->reason, "reset");
    ck_assert_str_eq(t->seq, "RnnnD");  /* NULL replies, then on_down */
    for (int i = 0; i < 3; i++)
        ck_assert(q[i]->calls == 1 && q[i]->null);

    tl_redis_signal(r, SIGCONT);
    ASSERT_SOON(t->ready == 2);
    ck_assert_int_eq(send_ping(t, q[0]), 0);
    ASSERT_SOON(q[0]->calls == 2);
    ck_assert_str_eq(q[0]->str, "PONG");
    run_for(50);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(q[i]->calls, i == 0 ? 2 : 1);
        free(q[i]);
    }
}
END_TEST

START_TEST(test_max_pending)
{
    tl_redis *r = redis_start(NULL);
    mlink_options o = opts_for(r->port);
    o.max_pending = 2;
    tctx *t = link_ready(&o);
    tl_redis_signal(r, SIGSTOP);
    treq *q[3] = {req_new(t), req_new(t), req_new(t)};
    ck_assert_int_eq(send_ping(t, q[0]), 0);
    ck_assert_int_eq(send_ping(t, q[1]), 0);
    ck_assert_int_eq(send_ping(t, q[2]), -1);
    ck_assert_int_eq(mlink_pending(t->link), 2);
    tl_redis_signal(r, SIGCONT);
    ASSERT_SOON(q[0]->calls == 1 && q[1]->calls == 1);
    ck_assert_int_eq(mlink_pending(t->link), 0);
    ck_assert_int_eq(send_ping(t, q[2]), 0);
    ASSERT_SOON(q[2]->calls == 1);
    mlink_stats s;
    mlink_get_stats(t->link, &s);
    ck_assert_uint_eq(s.commands_refused, 1);
    ck_assert_uint_eq(s.commands_sent, 3);
    for (int i = 0; i < 3; i++)
        free(q[i]);
}
END_TEST

START_TEST(test_free_with_commands_in_flight)
{
    tl_redis *r = redis_start(NULL);
    mlink_options o = opts_for(r->port);
    tctx *t = link_ready(&o);
    tl_redis_signal(r, SIGSTOP);
    treq *q[3];
    for (int i = 0; i < 3; i++) {
        q[i] = req_new(t);
        ck_assert_int_eq(send_ping(t, q[i]), 0);
    }
    run_for(50);
    mlink_free(t->link);                /* NULL replies, inside free */
    t->link = NULL;
    for (int i = 0; i < 3; i++)
        ck_assert(q[i]->calls == 1 && q[i]->null);
    tl_redis_signal(r, SIGCONT);
    run_for(200);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(q[i]->calls, 1);
        free(q[i]);
    }
    ck_assert_int_eq(t->down, 0);       /* no on_down for our own free */

    /* Freed with NULL replies and an on_down still queued (a reset just
     * before): the replies are owed, the on_down is not. */
    tctx *t2 = link_ready(&o);
    treq *p = req_new(t2);
    ck_assert_int_eq(send_ping(t2, p), 0);
    mlink_reset(t2->link);
    ck_assert_int_eq(p->calls, 0);      /* queued for the loop */
    mlink_free(t2->link);
    t2->link = NULL;
    ck_assert(p->calls == 1 && p->null);
    run_for(100);
    ck_assert_int_eq(p->calls, 1);
    ck_assert_int_eq(t2->down, 0);
    free(p);
}
END_TEST

START_TEST(test_free_inside_callbacks)
{
    tl_redis *r = redis_start(NULL);
    mlink_options o = opts_for(r->port);
    tctx *t = link_ready(&o);
    /* Pipelined: the first reply's callback frees the link while the
     * others are in flight (and maybe already read in the same buffer). */
    treq *q[3];
    for (int i = 0; i < 3; i++) {
        q[i] = req_new(t);
        ck_assert_int_eq(send_ping(t, q[i]), 0);
    }
    q[0]->free_link = true;
    ASSERT_SOON(q[0]->calls == 1);
    ck_assert_ptr_null(t->link);
    ck_assert(q[1]->calls == 1 && q[1]->null);
    ck_assert(q[2]->calls == 1 && q[2]->null);
    run_for(100);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(q[i]->calls, 1);
        free(q[i]);
    }

    /* on_down (delivered from the link's own kick) frees the link. */
    mlink_options dead = opts_for(tl_free_port());
    tctx *t2 = link_new(&dead);
    t2->free_on_down = true;
    ASSERT_SOON(t2->down == 1);
    ck_assert_ptr_null(t2->link);
    run_for(100);
    ck_assert_int_eq(t2->down, 1);
}
END_TEST

START_TEST(test_reset_inside_reply_callback)
{
    tl_redis *r = redis_start(NULL);
    mlink_options o = opts_for(r->port);
    tctx *t = link_ready(&o);
    treq *q[2] = {req_new(t), req_new(t)};
    ck_assert_int_eq(send_ping(t, q[0]), 0);
    ck_assert_int_eq(send_ping(t, q[1]), 0);
    q[0]->reset_link = true;
    ASSERT_SOON(t->ready == 2);
    ck_assert(q[0]->calls == 1 && !q[0]->null);
    ck_assert(q[1]->calls == 1 && q[1]->null);
    ck_assert_str_eq(t->seq, "RrnDR");
    q[0]->reset_link = false;
    ck_assert_int_eq(send_ping(t, q[0]), 0);
    ASSERT_SOON(q[0]->calls == 2);
    ck_assert_str_eq(q[0]->str, "PONG");
    mlink_stats s;
    mlink_get_stats(t->link, &s);
    ck_assert_uint_eq(s.disconnects, 1);
    ck_assert_uint_eq(s.connects, 2);
    free(q[0]);
    free(q[1]);
}
END_TEST

START_TEST(test_immediate_connect_error)
{
    /* Linux refuses a TCP connect to the broadcast address synchronously:
     * hiredis returns a context with err set, no callback ever runs. */
    mlink_options o = opts_for(6379);
    o.host = "255.255.255.255";
    tctx *t = link_new(&o);
    ASSERT_SOON(t->down >= 2);
    ck_assert_str_eq(t->reason, "network is unreachable");
    ck_assert_int_eq(mlink_state(t->link), MLINK_BACKOFF);
    ck_assert_str_eq(mlink_state_name(mlink_state(t->link)), "backoff");
}
END_TEST

START_TEST(test_fake_server_failures)
{
    tl_fake *f = &W.fake;
    int port = tl_fake_start(f, W.base);
    ck_assert_int_gt(port, 0);
    f->reply = "+PONG\r\n";
    f->close_next = true;               /* hang up on the first handshake */
    mlink_options o = opts_for(port);
    tctx *t = link_ready(&o);
    ck_assert_str_eq(t->seq, "DR");
    ck_assert_str_eq(t->reason, "closed by server");

    /* The callback resets the link, whose context then dies of the garbage
     * behind the reply before the kick frees it: hiredis frees that zombie
     * itself, and it must not be freed twice (ASan would say so). */
    treq *q = req_new(t);
    q->reset_link = true;
    f->once = "+PONG\r\n?garbage\r\n";
    ck_assert_int_eq(send_ping(t, q), 0);
    ASSERT_SOON(t->ready == 2);
    ck_assert_str_eq(t->seq, "DRrDR");
    ck_assert_int_eq(f->accepted, 3);

    /* Garbage on a READY link: protocol error; the command gets NULL. */
    q->reset_link = false;
    f->once = "?garbage\r\n";
    ck_assert_int_eq(send_ping(t, q), 0);
    ASSERT_SOON(t->down == 3);
    ck_assert_msg(has_prefix(t->reason, "protocol error: "), "%s", t->reason);
    ck_assert(q->calls == 2 && q->null);
    ASSERT_SOON(t->ready == 3);

    /* The server closes with two commands in flight: hiredis hands them
     * back as NULLs while tearing down, before our on_down. */
    treq *q2 = req_new(t);
    f->close_next = true;
    ck_assert_int_eq(send_ping(t, q), 0);
    ck_assert_int_eq(send_ping(t, q2), 0);
    ASSERT_SOON(t->down == 4);
    ck_assert_str_eq(t->reason, "closed by server");
    ck_assert(q->calls == 3 && q->null && q2->calls == 1 && q2->null);
    ck_assert_str_eq(t->seq, "DRrDRnDRnnD");
    ck_assert_int_eq(mlink_pending(t->link), 0);

    /* maxclients: the first handshake reply is the refusal; no AUTH
     * problem, no READY. */
    f->once = "-ERR max number of clients reached\r\n";
    ASSERT_SOON(t->down == 5);
    ck_assert_str_eq(t->reason, "ERR max number of clients reached");
    ck_assert(!mlink_auth_failed(t->link));
    ASSERT_SOON(t->ready == 4);
    ck_assert_str_eq(t->seq, "DRrDRnDRnnDDR");
    free(q);
    free(q2);
}
END_TEST

START_TEST(test_options)
{
    mlink_options o = opts_for(6379);
    o.port = 0;
    ck_assert_ptr_null(mlink_new(W.base, &o, &CBS, NULL));
    o = opts_for(6379);
    o.host = "";
    ck_assert_ptr_null(mlink_new(W.base, &o, &CBS, NULL));
    o = opts_for(6379);
    o.backoff_min_ms = 500;
    o.backoff_max_ms = 100;
    ck_assert_ptr_null(mlink_new(W.base, &o, &CBS, NULL));
    o = opts_for(6379);
    o.connect_timeout_ms = -1;
    ck_assert_ptr_null(mlink_new(W.base, &o, &CBS, NULL));
    ck_assert_ptr_null(mlink_new(W.base, NULL, &CBS, NULL));

    /* Defaults, no callbacks at all, an IPv6 address, free before start. */
    o = (mlink_options){.host = "::1", .port = 6379};
    mlink *l = mlink_new(W.base, &o, NULL, NULL);
    ck_assert_ptr_nonnull(l);
    ck_assert_str_eq(mlink_addr(l), "[::1]:6379");
    ck_assert_str_eq(mlink_state_name(mlink_state(l)), "idle");
    ck_assert_int_eq(mlink_commandf(l, NULL, NULL, "PING"), -1);
    mlink_free(l);
    /* A refused mlink_new left the caller a NULL: every call copes. */
    mlink_free(NULL);
    mlink_reset(NULL);
    ck_assert_int_eq(mlink_state(NULL), MLINK_IDLE);
    ck_assert_int_eq(mlink_pending(NULL), 0);
    ck_assert(!mlink_auth_failed(NULL));
    ck_assert_str_eq(mlink_last_error(NULL), "");
    ck_assert_int_eq(mlink_commandf(NULL, NULL, NULL, "PING"), -1);
    ck_assert_str_eq(mlink_state_name(MLINK_AUTHENTICATING),
                     "authenticating");
}
END_TEST

static Suite *
monitor_link_suite(void)
{
    Suite *s = suite_create("monitor_link");
    TCase *tc = tcase_create("redis");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_connect_ping_info);
    tcase_add_test(tc, test_client_setname);
    tcase_add_test(tc, test_auth_requirepass);
    tcase_add_test(tc, test_auth_wrong_then_fixed);
    tcase_add_test(tc, test_auth_acl_user);
    tcase_add_test(tc, test_auth_missing_and_unneeded);
    tcase_add_test(tc, test_refused_and_backoff);
    tcase_add_test(tc, test_connect_timeout);
    tcase_add_test(tc, test_handshake_timeout_sigstop);
    tcase_add_test(tc, test_server_killed_restarted);
    tcase_add_test(tc, test_sigstop_pending_then_reset);
    tcase_add_test(tc, test_max_pending);
    tcase_add_test(tc, test_free_with_commands_in_flight);
    tcase_add_test(tc, test_free_inside_callbacks);
    tcase_add_test(tc, test_reset_inside_reply_callback);
    tcase_add_test(tc, test_immediate_connect_error);
    tcase_add_test(tc, test_fake_server_failures);
    tcase_add_test(tc, test_options);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(monitor_link_suite());
}
