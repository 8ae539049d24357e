/* Shared by the admin server suites (test_admin.c, test_admin_pubsub.c),
 * which #include it: the helpers need the suites' static world and there
 * is no test header in this layout.  A server on 127.0.0.1 (ephemeral
 * port) and raw-socket clients share one event_base; the loop only runs in
 * bounded non-blocking turns (pump) with a deadline -- no sleeps. */
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "check_main.h"
#include "util/log.h"

#define WAIT_MS 5000

static struct {
    struct event_base *base;
    admin_server *srv;
    int port;
    admin_deferred *deferred;       /* taken by DEFER */
} W;

/* ---- test commands ----------------------------------------------------- */

static void
cmd_defer(admin_client *c, const admin_args *a, void *ctx)
{
    (void)a;
    (void)ctx;
    W.deferred = admin_defer(c);
    ck_assert_ptr_nonnull(W.deferred);
    ck_assert_ptr_null(admin_defer(c));     /* one pending reply at a time */
}

static void
cmd_ctx(admin_client *c, const admin_args *a, void *ctx)
{
    (void)a;
    admin_reply_str(c, ctx);
}

static void
cmd_kv(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    admin_list l;
    admin_list_init(&l);
    admin_list_kv(&l, "arg", a->argv[2]);
    admin_list_kvf(&l, "port", "%d", 6379);
    admin_reply_list(c, &l);
}

static const admin_command test_cmds[] = {
    {"DEFER", NULL, 1, 0, cmd_defer, "-- Reply when the test says so."},
    {"TEST", "CTX", 2, 0, cmd_ctx, "-- Reply the registration context."},
    {"TEST", "KV", 3, ADMIN_CMD_WRITE, cmd_kv, "<x> -- A key/value reply."},
};

/* ---- world ------------------------------------------------------------- */

static void
start(admin_options *o)
{
    admin_options def;
    if (o == NULL) {
        admin_options_init(&def);
        o = &def;
    }
    o->port = 0;
    o->bind[0] = "127.0.0.1";
    o->nbind = 1;
    W.srv = admin_server_new(W.base, o);
    ck_assert_ptr_nonnull(W.srv);
    W.port = admin_server_port(W.srv);
    ck_assert_int_gt(W.port, 0);
    ck_assert_int_eq(admin_server_register(W.srv, test_cmds, 3, "ctx!"), 0);
}

static void
restart(admin_options *o)
{
    admin_server_free(W.srv);
    start(o);
}

static void
setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_WARNING);
    memset(&W, 0, sizeof(W));
    W.base = event_base_new();
    start(NULL);
}

static void
teardown(void)
{
    admin_server_free(W.srv);
    event_base_free(W.base);
}

static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One non-blocking loop turn, then up to 1ms waiting for fd's input. */
static void
pump(int fd)
{
    event_base_loop(W.base, EVLOOP_NONBLOCK);
    if (fd >= 0) {
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 1);
    }
}

static admin_stats
stats(void)
{
    admin_stats st;
    admin_server_stats(W.srv, &st);
    return st;
}

static bool
wait_clients(size_t n)
{
    for (long long end = now_ms() + WAIT_MS; now_ms() < end; pump(-1))
        if (stats().connected_clients == n)
            return true;
    return false;
}

/* ---- raw client -------------------------------------------------------- *
 * Either raw expectations (tc_expect) or parsed replies (tc_reply) per
 * client: the hiredis reader keeps whatever it was fed. */

typedef struct tc {
    int fd;
    char buf[1 << 16];
    size_t len;
    bool eof;
    redisReader *rd;
} tc;

static tc *
tc_open_rcvbuf(int rcvbuf)
{
    tc *t = calloc(1, sizeof(*t));
    t->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf)
        setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)W.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(t->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    fcntl(t->fd, F_SETFL, fcntl(t->fd, F_GETFL) | O_NONBLOCK);
    t->rd = redisReaderCreate();
    return t;
}

static tc *
tc_open(void)
{
    return tc_open_rcvbuf(0);
}

static void
tc_close(tc *t)
{
    close(t->fd);
    redisReaderFree(t->rd);
    free(t);
}

static void
tc_sendn(tc *t, const char *s, size_t n)
{
    long long end = now_ms() + WAIT_MS;
    while (n > 0) {
        ssize_t w = send(t->fd, s, n, MSG_NOSIGNAL);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else {
            ck_assert(w < 0 && errno == EAGAIN && now_ms() < end);
            pump(-1);
        }
    }
}

static void
tc_send(tc *t, const char *s)
{
    tc_sendn(t, s, strlen(s));
}

static void
tc_fill(tc *t)
{
    while (!t->eof && t->len < sizeof(t->buf)) {
        ssize_t r = recv(t->fd, t->buf + t->len, sizeof(t->buf) - t->len, 0);
        if (r > 0)
            t->len += (size_t)r;
        else if (r == 0 || errno != EAGAIN)
            t->eof = true;
        else
            break;
    }
}

/* Runs the loop until t has n bytes, hit EOF, or time ran out. */
static void
tc_wait(tc *t, size_t n)
{
    for (long long end = now_ms() + WAIT_MS;
         t->len < n && !t->eof && now_ms() < end;) {
        pump(t->fd);
        tc_fill(t);
    }
}

static void
tc_expect(tc *t, const char *expect)
{
    size_t n = strlen(expect);
    tc_wait(t, n);
    ck_assert_msg(t->len >= n && memcmp(t->buf, expect, n) == 0,
                  "expected \"%s\", got %zu bytes \"%.*s\"", expect, t->len,
                  (int)t->len, t->buf);
    memmove(t->buf, t->buf + n, t->len - n);
    t->len -= n;
}

/* Nothing arrives during a few hundred loop turns. */
static void
tc_expect_silence(tc *t)
{
    for (int i = 0; i < 200; i++) {
        pump(-1);
        tc_fill(t);
    }
    ck_assert_uint_eq(t->len, 0);
    ck_assert(!t->eof);
}

static void
tc_expect_eof(tc *t)
{
    for (long long end = now_ms() + WAIT_MS; !t->eof && now_ms() < end;) {
        pump(t->fd);
        tc_fill(t);
        t->len = 0;             /* discard: only the close matters here */
    }
    ck_assert(t->eof);
}

/* unused by test_admin_pubsub.c */
static __attribute__((unused)) redisReply *
tc_reply(tc *t)
{
    void *r = NULL;
    for (long long end = now_ms() + WAIT_MS; now_ms() < end;) {
        ck_assert_int_eq(redisReaderGetReply(t->rd, &r), REDIS_OK);
        if (r)
            return r;
        pump(t->fd);
        tc_fill(t);
        redisReaderFeed(t->rd, t->buf, t->len);
        t->len = 0;
    }
    ck_abort_msg("no reply");
    return NULL;
}
