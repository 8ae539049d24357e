/* Peer transport over real sockets: transports on 127.0.0.1 sharing one
 * event_base, plus raw sockets playing broken, hostile or stalled peers.
 * The loop only ever runs for a bounded time (run_until) -- no sleeps. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "node/transport.h"
#include "node/transport_wire.h"
#include "util/log.h"

#define MAX_NODES 4
#define WAIT_MS 5000

typedef struct node {
    char id[TRANSPORT_ID_MAX + 1];
    transport *t;
    int port;
    uint32_t next_seq[MAX_NODES];       /* per destination */
    uint32_t expect[MAX_NODES];         /* per source */
    size_t frames, bad_frames, ups, downs;
    bool echo;                          /* send every frame back */
    bool drop_sender;                   /* remove the sender from peers */
} node;

/* One world per test, reset by setup(). */
static struct {
    struct event_base *base;
    node nodes[MAX_NODES];
    size_t n;
} W;
static char logpath[64];
static struct fake *pumped;             /* a fake peer run_until keeps alive */
static void fake_pump(struct fake *f);

/* ---- event loop, bounded ------------------------------------------------ */

static void
flag_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    if (arg != NULL)
        *(bool *)arg = true;
}

/* Runs the loop until cond(arg) holds or ms pass; returns cond's value. */
static bool
run_until(bool (*cond)(void *), void *arg, int ms)
{
    bool expired = false;
    struct event *deadline = evtimer_new(W.base, flag_cb, &expired);
    struct event *tick = event_new(W.base, -1, EV_PERSIST, flag_cb, NULL);
    struct timeval d = {ms / 1000, (ms % 1000) * 1000}, t = {0, 2000};
    evtimer_add(deadline, &d);
    evtimer_add(tick, &t);
    bool ok;
    while (!(ok = cond(arg)) && !expired) {
        event_base_loop(W.base, EVLOOP_ONCE);
        if (pumped != NULL)
            fake_pump(pumped);
    }
    event_free(deadline);
    event_free(tick);
    return ok;
}

static bool
never(void *arg)
{
    (void)arg;
    return false;
}

static void
run_for(int ms)
{
    run_until(never, NULL, ms);
}

/* ---- nodes -------------------------------------------------------------- */

static int
node_index(const char *id)
{
    for (size_t i = 0; i < W.n; i++)
        if (strcmp(W.nodes[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* Frames carry a per-pair sequence number and a checkable fill pattern. */
static void
on_frame(void *ctx, const char *peer, const uint8_t *data, size_t len)
{
    node *n = ctx;
    int from = node_index(peer);
    ck_assert_int_ge(from, 0);
    ck_assert_uint_ge(len, 4);
    uint32_t seq = transport_get_be32(data);
    bool ok = seq == n->expect[from];
    for (size_t i = 4; i < len; i++)
        ok = ok && data[i] == (uint8_t)(seq + i);
    n->bad_frames += !ok;
    n->expect[from] = seq + 1;
    n->frames++;
    /* Callbacks may call back into the transport. */
    if (n->echo)
        ck_assert(transport_send(n->t, peer, data, len));
    if (n->drop_sender) {
        transport_peer self = {n->id, "127.0.0.1", n->port};
        ck_assert_int_eq(transport_set_peers(n->t, &self, 1), 0);
    }
}

static void
on_state(void *ctx, const char *peer, bool up)
{
    node *n = ctx;
    ck_assert(transport_valid_id(peer));
    if (up)
        n->ups++;
    else
        n->downs++;
}

static node *
node_add(const char *id)
{
    node *n = &W.nodes[W.n++];
    snprintf(n->id, sizeof(n->id), "%s", id);
    return n;
}

static transport_options
node_opts(node *n)
{
    static const char *const bind[] = {"127.0.0.1"};
    transport_options o = {.node_id = n->id, .cluster_id = "test-cluster",
                           .bind = bind, .nbind = 1, .backoff_min_ms = 10,
                           .backoff_max_ms = 100, .handshake_timeout_ms = 1000,
                           .ping_ms = 100, .idle_timeout_ms = 3000,
                           .seed = 42, .on_frame = on_frame,
                           .on_peer_state = on_state, .ctx = n};
    return o;
}

static void
node_open(node *n, transport_options *o)
{
    o->port = n->port;
    n->t = transport_new(W.base, o);
    ck_assert_ptr_nonnull(n->t);
    n->port = transport_port(n->t);
    ck_assert_int_gt(n->port, 0);
}

static node *
node_start(const char *id)
{
    node *n = node_add(id);
    transport_options o = node_opts(n);
    node_open(n, &o);
    return n;
}

/* Everyone knows everyone (their own entry included: it is skipped). */
static void
set_all_peers(void)
{
    transport_peer p[MAX_NODES];
    for (size_t i = 0; i < W.n; i++)
        p[i] = (transport_peer){W.nodes[i].id, "127.0.0.1", W.nodes[i].port};
    for (size_t i = 0; i < W.n; i++)
        if (W.nodes[i].t != NULL)
            ck_assert_int_eq(transport_set_peers(W.nodes[i].t, p, W.n), 0);
}

static bool
all_connected(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < W.n; i++)
        for (size_t j = 0; j < W.n; j++)
            if (i != j && (W.nodes[i].t == NULL ||
                           !transport_connected(W.nodes[i].t, W.nodes[j].id)))
                return false;
    return true;
}

typedef struct {
    node *a, *b;
} pair;

static bool
pair_connected(void *arg)
{
    pair *p = arg;
    return transport_connected(p->a->t, p->b->id) &&
           transport_connected(p->b->t, p->a->id);
}

static bool
link_up(void *arg)
{
    pair *p = arg;
    return transport_connected(p->a->t, p->b->id);
}

static bool
pair_down(void *arg)
{
    pair *p = arg;
    return !transport_connected(p->a->t, p->b->id);
}

static void
send_frames(node *from, node *to, int count, size_t size)
{
    uint8_t *buf = malloc(size);
    int j = node_index(to->id);
    for (int k = 0; k < count; k++) {
        uint32_t seq = from->next_seq[j]++;
        transport_put_be32(buf, seq);
        for (size_t i = 4; i < size; i++)
            buf[i] = (uint8_t)(seq + i);
        ck_assert(transport_send(from->t, to->id, buf, size));
    }
    free(buf);
}

static bool
frames_reached(void *arg)
{
    const size_t *want = arg;
    for (size_t i = 0; i < W.n; i++)
        if (W.nodes[i].frames < want[i])
            return false;
    return true;
}

static transport_peer_stats
stats(node *n, const char *peer)
{
    transport_peer_stats s;
    ck_assert(transport_peer_stats_get(n->t, peer, &s));
    return s;
}

static transport_totals
totals(node *n)
{
    transport_totals t;
    transport_get_totals(n->t, &t);
    return t;
}

/* ---- log ---------------------------------------------------------------- */

/* Whether one line of the log contains both a and b. */
static bool
log_has(const char *a, const char *b)
{
    FILE *f = fopen(logpath, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, a) != NULL && (b == NULL || strstr(line, b));
    fclose(f);
    return found;
}

/* ---- raw sockets posing as peers ---------------------------------------- */

typedef struct fake {
    int fd;
    const char *id;                     /* NULL: speaks no protocol */
    const char *secret;
    uint16_t version;                   /* 0: ours */
    bool deaf;                          /* never reads (a stalled peer) */
    bool chatty;                        /* pings on every pump */
    uint8_t in[8192];
    size_t inlen;
    bool eof, got_close;
} fake;

static void
fake_connect(fake *f, int port, int rcvbuf)
{
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(f->fd, 0);
    if (rcvbuf > 0)
        setsockopt(f->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    /* The kernel completes this from the listen backlog. */
    ck_assert_int_eq(connect(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) | O_NONBLOCK);
}

static void
fake_write(fake *f, const void *p, size_t n)
{
    ck_assert_int_eq(send(f->fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
fake_msg(fake *f, uint8_t type, const void *body, size_t n)
{
    uint8_t hdr[TRANSPORT_HEADER_LEN];
    transport_frame_header(hdr, type, n);
    fake_write(f, hdr, sizeof(hdr));
    if (n > 0)
        fake_write(f, body, n);
}

static void
fake_hello(fake *f)
{
    transport_hello h = {.version = f->version ? f->version
                                               : TRANSPORT_PROTO_VERSION,
                         .flags = f->secret ? TRANSPORT_HELLO_AUTH : 0,
                         .nonce = {9, 9, 9}};
    snprintf(h.node_id, sizeof(h.node_id), "%s", f->id);
    snprintf(h.cluster_id, sizeof(h.cluster_id), "test-cluster");
    uint8_t body[TRANSPORT_HELLO_MAX];
    fake_msg(f, TRANSPORT_MSG_HELLO, body, transport_hello_encode(&h, body));
}

/* With a secret the fake answers the transport's challenge; it never checks
 * the transport's proof (it is the one under test, not the fake). */
static void
fake_on_msg(fake *f, uint8_t type, const uint8_t *body, size_t len)
{
    if (type == TRANSPORT_MSG_CLOSE)
        f->got_close = true;
    if (type != TRANSPORT_MSG_HELLO || f->secret == NULL)
        return;
    transport_hello h;
    char err[64];
    ck_assert_int_eq(transport_hello_decode(body, len, &h, err, sizeof(err)),
                     TRANSPORT_HELLO_OK);
    uint8_t proof[TRANSPORT_PROOF_LEN];
    ck_assert(transport_proof((const uint8_t *)f->secret, strlen(f->secret),
                              h.nonce, f->id, h.node_id, "test-cluster",
                              proof));
    fake_msg(f, TRANSPORT_MSG_AUTH, proof, sizeof(proof));
    fake_msg(f, TRANSPORT_MSG_ACCEPT, NULL, 0);
}

static void
fake_pump(struct fake *f)
{
    if (f->chatty)
        fake_msg(f, TRANSPORT_MSG_PING, NULL, 0);
    while (!f->deaf && !f->eof) {
        ssize_t r = recv(f->fd, f->in + f->inlen, sizeof(f->in) - f->inlen, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            f->eof = true;              /* EOF or reset: closed either way */
            return;
        }
        f->inlen += (size_t)r;
        while (f->id != NULL && f->inlen >= TRANSPORT_HEADER_LEN) {
            size_t total = 4 + transport_get_be32(f->in);
            ck_assert_uint_le(total, sizeof(f->in));
            if (f->inlen < total)
                break;
            fake_on_msg(f, f->in[4], f->in + 5, total - 5);
            memmove(f->in, f->in + total, f->inlen - total);
            f->inlen -= total;
        }
        if (f->id == NULL)
            f->inlen = 0;
    }
}

static bool
fake_closed(void *arg)
{
    fake_pump(arg);
    return ((fake *)arg)->eof;
}

/* ---- fixture ------------------------------------------------------------ */

static void
setup(void)
{
    signal(SIGPIPE, SIG_IGN);           /* as the daemon does */
    memset(&W, 0, sizeof(W));           /* for CK_FORK=no */
    pumped = NULL;
    W.base = event_base_new();
    ck_assert_ptr_nonnull(W.base);
    snprintf(logpath, sizeof(logpath), "/tmp/rs-test-transport-XXXXXX");
    int fd = mkstemp(logpath);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(log_open(logpath), 0);
    log_set_level(LOG_VERBOSE);
}

static void
teardown(void)
{
    for (size_t i = 0; i < W.n; i++)
        transport_free(W.nodes[i].t);
    event_base_free(W.base);
    log_close();
    unlink(logpath);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_two_exchange)
{
    node *a = node_start("a"), *b = node_start("b");
    set_all_peers();
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    send_frames(a, b, 100, 1000);
    send_frames(b, a, 150, 3000);
    send_frames(a, b, 1, 4);            /* header-only payload */
    size_t want[] = {150, 101};
    ck_assert(run_until(frames_reached, want, WAIT_MS));
    ck_assert_uint_eq(a->bad_frames + b->bad_frames, 0);

    transport_peer_stats s = stats(a, "b");
    ck_assert(s.connected && s.dialer);
    ck_assert_uint_eq(s.frames_out, 101);
    ck_assert_uint_eq(s.bytes_out, 100 * 1000 + 4);
    ck_assert_uint_eq(s.frames_in, 150);
    ck_assert_uint_eq(s.bytes_in, 150 * 3000);
    ck_assert_uint_eq(s.drops, 0);
    ck_assert_uint_eq(s.connects, 1);
    s = stats(b, "a");
    ck_assert(s.connected && !s.dialer);
    ck_assert_str_ne(s.address, "");
    ck_assert_uint_eq(totals(a).connections, 1);
    ck_assert_uint_eq(totals(b).connections, 1);
    ck_assert_uint_eq(a->ups, 1);
    ck_assert_uint_eq(b->ups, 1);
    ck_assert(log_has("peer b connected", "outbound"));
}
END_TEST

START_TEST(test_three_one_connection_per_pair)
{
    node *n[3] = {node_start("m2"), node_start("m1"), node_start("m3")};
    set_all_peers();
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    run_for(300);                       /* several ping periods */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j)
                send_frames(n[i], n[j], 50, 200);
    size_t want[] = {100, 100, 100};
    ck_assert(run_until(frames_reached, want, WAIT_MS));
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(n[i]->bad_frames, 0);
        transport_totals tt = totals(n[i]);
        ck_assert_uint_eq(tt.connections, 2);
        ck_assert_uint_eq(tt.handshaking, 0);
        ck_assert_uint_eq(n[i]->ups, 2);
        ck_assert_uint_eq(n[i]->downs, 0);
        for (int j = 0; j < 3; j++)
            if (i != j)
                ck_assert_uint_eq(stats(n[i], n[j]->id).connects, 1);
    }
    ck_assert_uint_eq(transport_peer_count(n[0]->t), 2);
}
END_TEST

START_TEST(test_secret_match)
{
    node *a = node_add("a"), *b = node_add("b");
    transport_options oa = node_opts(a), ob = node_opts(b);
    oa.secret = ob.secret = "s3cret";
    node_open(a, &oa);
    node_open(b, &ob);
    set_all_peers();
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    send_frames(a, b, 10, 100);
    send_frames(b, a, 10, 100);
    size_t want[] = {10, 10};
    ck_assert(run_until(frames_reached, want, WAIT_MS));
    ck_assert(!log_has("failed authentication", NULL));
}
END_TEST

/* Peers that must never connect: no link, no frames, a logged reason. */
static void
expect_refused(node *a, node *b, const char *why1, const char *why2)
{
    set_all_peers();
    run_for(600);                       /* several reconnect attempts */
    ck_assert_uint_eq(a->ups + b->ups, 0);
    ck_assert(!transport_send(a->t, b->id, (const uint8_t *)"x", 1));
    ck_assert(!transport_send(b->t, a->id, (const uint8_t *)"x", 1));
    ck_assert_uint_eq(a->frames + b->frames, 0);
    ck_assert_uint_gt(totals(a).refused + totals(b).refused, 0);
    ck_assert_msg(log_has(why1, why2), "no log line with '%s' '%s'", why1,
                  why2 ? why2 : "");
    ck_assert_str_ne(stats(a, b->id).last_error, "");
}

START_TEST(test_secret_mismatch)
{
    node *a = node_add("a"), *b = node_add("b");
    transport_options oa = node_opts(a), ob = node_opts(b);
    oa.secret = "one";
    ob.secret = "two";
    node_open(a, &oa);
    node_open(b, &ob);
    expect_refused(a, b, "peer 127.0.0.1:", "failed authentication");
    ck_assert(log_has("failed authentication", "wrong proof"));
}
END_TEST

START_TEST(test_secret_one_side)
{
    node *a = node_add("a"), *b = node_add("b");
    transport_options oa = node_opts(a), ob = node_opts(b);
    ob.secret = "only-b";
    node_open(a, &oa);
    node_open(b, &ob);
    expect_refused(a, b, "failed authentication", "no peer secret");
}
END_TEST

START_TEST(test_wrong_cluster)
{
    node *a = node_add("a"), *b = node_add("b");
    transport_options oa = node_opts(a), ob = node_opts(b);
    ob.cluster_id = "other";
    node_open(a, &oa);
    node_open(b, &ob);
    expect_refused(a, b, "peer 127.0.0.1:", "cluster id");
}
END_TEST

START_TEST(test_unknown_id)
{
    node *a = node_start("a0"), *b = node_start("b");
    set_all_peers();
    /* b forgets a0; a0 (smaller id) keeps dialing b. */
    transport_peer self = {"b", "127.0.0.1", b->port};
    ck_assert_int_eq(transport_set_peers(b->t, &self, 1), 0);
    run_for(600);
    ck_assert(!transport_connected(a->t, "b"));
    ck_assert(log_has("peer 127.0.0.1:", "unknown node id 'a0'"));
    ck_assert_uint_gt(totals(b).refused, 0);
    ck_assert_ptr_nonnull(strstr(stats(a, "b").last_error, "unknown node id"));
    ck_assert_uint_eq(totals(b).connections, 0);
}
END_TEST

START_TEST(test_garbage_closed_only)
{
    node *a = node_start("a"), *b = node_start("b");
    set_all_peers();
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    fake http = {.id = NULL}, noise = {.id = NULL};
    fake_connect(&http, a->port, 0);
    fake_connect(&noise, b->port, 0);
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    fake_write(&http, req, strlen(req));
    uint8_t junk[600];
    uint64_t r = 1;
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)transport_rng_next(&r);
    junk[0] = 0;                        /* a plausible length... */
    junk[1] = 0;
    junk[2] = 0;
    junk[3] = 100;
    junk[4] = TRANSPORT_MSG_HELLO;      /* ...and type, then noise */
    fake_write(&noise, junk, sizeof(junk));
    send_frames(a, b, 20, 64);
    ck_assert(run_until(fake_closed, &http, WAIT_MS));
    ck_assert(run_until(fake_closed, &noise, WAIT_MS));
    send_frames(b, a, 20, 64);
    size_t want[] = {20, 20};
    ck_assert(run_until(frames_reached, want, WAIT_MS));
    ck_assert_uint_eq(stats(a, "b").connects, 1);
    ck_assert_uint_eq(totals(a).protocol_errors, 1);
    ck_assert_uint_eq(totals(b).protocol_errors, 1);
    ck_assert(log_has("peer 127.0.0.1:", "is not a raft-sentinel peer"));
    close(http.fd);
    close(noise.fd);
}
END_TEST

START_TEST(test_handshake_timeout)
{
    node *a = node_add("a");
    transport_options o = node_opts(a);
    o.handshake_timeout_ms = 200;
    node_open(a, &o);
    fake silent = {.id = NULL};
    fake_connect(&silent, a->port, 0);
    ck_assert(run_until(fake_closed, &silent, WAIT_MS));
    ck_assert(log_has("peer 127.0.0.1:", "did not finish the handshake"));
    ck_assert_uint_eq(totals(a).connections, 0);
    close(silent.fd);
}
END_TEST

START_TEST(test_oversized_frame)
{
    node *a = node_add("a"), *b = node_start("b"), *c = node_start("c");
    transport_options oa = node_opts(a);
    oa.max_frame = 1024;
    node_open(a, &oa);
    set_all_peers();
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    uint8_t big[4096] = {0};
    ck_assert(transport_send(b->t, "a", big, sizeof(big))); /* b allows it */
    ck_assert(!transport_send(a->t, "b", big, sizeof(big))); /* a does not */
    ck_assert_uint_eq(stats(a, "b").drops, 1);
    pair ab = {a, b};
    ck_assert(run_until(pair_down, &ab, WAIT_MS));
    ck_assert(log_has("over the limit of 1024", NULL));
    ck_assert(run_until(pair_connected, &ab, WAIT_MS));
    ck_assert_uint_eq(stats(a, "b").connects, 2);
    ck_assert_uint_eq(stats(a, c->id).connects, 1); /* others untouched */
    ck_assert_uint_eq(stats(b, "c").connects, 1);
    ck_assert_uint_eq(totals(a).protocol_errors, 1);
    send_frames(b, a, 5, 1000);
    size_t want[] = {5, 0, 0};
    ck_assert(run_until(frames_reached, want, WAIT_MS));
    ck_assert_uint_eq(a->bad_frames, 0);
}
END_TEST

START_TEST(test_reconnect_after_restart)
{
    node *a = node_start("a"), *b = node_start("b");
    set_all_peers();
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    transport_free(b->t);
    b->t = NULL;
    pair ab = {a, b};
    ck_assert(run_until(pair_down, &ab, WAIT_MS));
    ck_assert_uint_eq(a->downs, 1);
    run_for(300);                       /* a dials a closed port, backs off */
    ck_assert(!transport_connected(a->t, "b"));
    ck_assert_str_ne(stats(a, "b").last_error, "");

    memset(b->expect, 0, sizeof(b->expect)); /* a new incarnation */
    memset(a->next_seq, 0, sizeof(a->next_seq));
    transport_options o = node_opts(b);
    node_open(b, &o);                   /* same port */
    set_all_peers();
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    ck_assert_uint_eq(stats(a, "b").connects, 2);
    ck_assert_uint_eq(a->ups, 2);
    send_frames(a, b, 10, 100);
    size_t want[] = {0, 10};
    ck_assert(run_until(frames_reached, want, WAIT_MS));
    ck_assert_uint_eq(b->bad_frames, 0);
}
END_TEST

START_TEST(test_output_limit)
{
    node *a = node_add("a");
    node_add("0stalled");               /* sorts first: it dials a */
    transport_options o = node_opts(a);
    o.max_frame = 64 * 1024;
    o.max_output = 256 * 1024;
    o.idle_timeout_ms = 1000;
    node_open(a, &o);
    transport_peer p = {"0stalled", "127.0.0.1", 9};
    ck_assert_int_eq(transport_set_peers(a->t, &p, 1), 0);

    /* Hello and accept pipelined, then it never reads again, but keeps
     * pinging: alive, just not reading. */
    fake f = {.id = "0stalled", .deaf = true, .chatty = true};
    fake_connect(&f, a->port, 4096);
    fake_hello(&f);
    fake_msg(&f, TRANSPORT_MSG_ACCEPT, NULL, 0);
    pumped = &f;
    pair pa = {a, &W.nodes[1]};
    ck_assert(run_until(link_up, &pa, WAIT_MS));

    static uint8_t frame[64 * 1024];
    for (int i = 0; i < 600; i++) {
        transport_send(a->t, "0stalled", frame, sizeof(frame));
        event_base_loop(W.base, EVLOOP_NONBLOCK);
        fake_pump(&f);
        ck_assert_uint_le(stats(a, "0stalled").out_buffered, o.max_output);
    }
    transport_peer_stats s = stats(a, "0stalled");
    ck_assert(s.connected);
    ck_assert_uint_gt(s.drops, 0);
    ck_assert_uint_eq(s.drops + s.frames_out, 600);
    /* What was queued fits the kernel's socket buffers plus our limit. */
    ck_assert_uint_lt(s.bytes_out, 16u << 20);

    /* With no write progress for idle_timeout_ms the link is cut. */
    ck_assert(run_until(pair_down, &pa, WAIT_MS));
    ck_assert(log_has("stopped reading", NULL));
    close(f.fd);
}
END_TEST

START_TEST(test_set_peers_remove)
{
    node *a = node_start("a"), *b = node_start("b"), *c = node_start("c");
    set_all_peers();
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    transport_peer keep[] = {{"a", "127.0.0.1", a->port},
                             {"c", "127.0.0.1", c->port}};
    ck_assert_int_eq(transport_set_peers(a->t, keep, 2), 0);
    pair ba = {b, a};
    ck_assert(run_until(pair_down, &ba, WAIT_MS));
    ck_assert_uint_eq(b->downs, 1);
    ck_assert_uint_eq(a->downs, 0);     /* removal is not reported */
    transport_peer_stats s;
    ck_assert(!transport_peer_stats_get(a->t, "b", &s));
    ck_assert_uint_eq(transport_peer_count(a->t), 1);
    ck_assert(!transport_send(a->t, "b", (const uint8_t *)"x", 1));
    run_for(300);                       /* nobody dials the removed pair */
    ck_assert_uint_eq(totals(a).connections, 1);
    ck_assert(!transport_connected(b->t, "a"));
    ck_assert(transport_connected(a->t, "c"));
    ck_assert_uint_eq(stats(c, "a").connects, 1);
    ck_assert(log_has("peer b removed", NULL));

    set_all_peers();                    /* and back */
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    ck_assert_uint_eq(stats(b, "a").connects, 2);
}
END_TEST

START_TEST(test_duplicate_newest_wins)
{
    node *a = node_add("a"), *b = node_add("b");
    transport_options oa = node_opts(a), ob = node_opts(b);
    oa.secret = ob.secret = "dup-secret";
    node_open(a, &oa);
    node_open(b, &ob);
    set_all_peers();
    ck_assert(run_until(all_connected, NULL, WAIT_MS));

    /* "a" restarted (as far as b can tell): a second authenticated
     * connection from a replaces the first, without b seeing a flap. */
    fake f = {.id = "a", .secret = "dup-secret"};
    fake_connect(&f, b->port, 0);
    fake_hello(&f);
    pumped = &f;
    pair ab = {a, b};
    ck_assert(run_until(pair_down, &ab, WAIT_MS));
    ck_assert(log_has("peer a: connection from", "replaces"));
    /* The real a redials and, being newest, displaces the fake. */
    ck_assert(run_until(fake_closed, &f, WAIT_MS));
    ck_assert(f.got_close);
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    ck_assert_uint_eq(stats(b, "a").connects, 3);
    ck_assert_uint_eq(b->ups, 1);
    ck_assert_uint_eq(b->downs, 0);
    ck_assert_uint_eq(totals(b).connections, 1);
    close(f.fd);
}
END_TEST

START_TEST(test_send_and_options)
{
    node *a = node_add("a");
    transport_options o = node_opts(a);
    o.node_id = "bad id";
    ck_assert_ptr_null(transport_new(W.base, &o));
    o = node_opts(a);
    o.idle_timeout_ms = o.ping_ms;
    ck_assert_ptr_null(transport_new(W.base, &o));
    o = node_opts(a);
    o.max_output = 100;
    ck_assert_ptr_null(transport_new(W.base, &o));
    ck_assert(log_has("invalid options", NULL));

    static const char *const nonsense[] = {"not-an-ip"};
    o = node_opts(a);
    o.bind = nonsense;
    ck_assert_ptr_null(transport_new(W.base, &o));
    ck_assert(log_has("cannot listen on not-an-ip", NULL));

    o = node_opts(a);
    node_open(a, &o);
    o.port = a->port;                   /* taken */
    ck_assert_ptr_null(transport_new(W.base, &o));
    ck_assert(log_has("cannot listen on 127.0.0.1 port", "in use"));
    transport_peer bad[] = {{"b", "127.0.0.1", 1}, {"b", "127.0.0.1", 2}};
    ck_assert_int_eq(transport_set_peers(a->t, bad, 2), -1);
    bad[1].id = "no good";
    ck_assert_int_eq(transport_set_peers(a->t, bad, 2), -1);
    ck_assert_uint_eq(transport_peer_count(a->t), 0);

    /* A peer that is down: frames are dropped and counted. */
    transport_peer p = {"b", "127.0.0.1", 9};
    ck_assert_int_eq(transport_set_peers(a->t, &p, 1), 0);
    ck_assert(!transport_send(a->t, "b", (const uint8_t *)"x", 1));
    ck_assert(!transport_send(a->t, "nobody", (const uint8_t *)"x", 1));
    ck_assert_uint_eq(stats(a, "b").drops, 1);
    ck_assert(stats(a, "b").dialer);    /* "a" sorts first: a dials */
}
END_TEST

START_TEST(test_callbacks_reenter)
{
    node *a = node_start("a"), *b = node_start("b");
    set_all_peers();
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    b->echo = true;
    send_frames(a, b, 20, 300);
    size_t want[] = {20, 20};
    ck_assert(run_until(frames_reached, want, WAIT_MS));
    ck_assert_uint_eq(a->bad_frames + b->bad_frames, 0);

    /* b removes a while a's frames are still in its input buffer: the
     * connection closes under the read loop, which must stop there. */
    b->echo = false;
    b->drop_sender = true;
    send_frames(a, b, 5, 300);
    pair ab = {a, b};
    ck_assert(run_until(pair_down, &ab, WAIT_MS));
    run_for(200);
    ck_assert_uint_eq(b->frames, 21);
    ck_assert_uint_eq(transport_peer_count(b->t), 0);
    ck_assert_uint_eq(a->downs, 1);
}
END_TEST

START_TEST(test_idle_timeout_and_pings)
{
    node *a = node_add("a"), *b = node_add("b");
    node_add("0mute");
    transport_options oa = node_opts(a), ob = node_opts(b);
    oa.ping_ms = ob.ping_ms = 50;
    oa.idle_timeout_ms = ob.idle_timeout_ms = 300;
    node_open(a, &oa);
    node_open(b, &ob);
    W.nodes[2].port = 9;                /* the fake listens nowhere */
    set_all_peers();
    pair ab = {a, b};
    ck_assert(run_until(pair_connected, &ab, WAIT_MS));

    /* A peer that handshakes and then says nothing is cut off; real
     * peers with nothing to say keep their link up with pings. */
    fake f = {.id = "0mute", .deaf = true};
    fake_connect(&f, a->port, 0);
    fake_hello(&f);
    fake_msg(&f, TRANSPORT_MSG_ACCEPT, NULL, 0);
    pair am = {a, &W.nodes[2]};
    ck_assert(run_until(link_up, &am, WAIT_MS));
    ck_assert(run_until(pair_down, &am, WAIT_MS));
    ck_assert(log_has("sent nothing for 300 ms", NULL));
    run_for(600);
    ck_assert(pair_connected(&ab));
    ck_assert_uint_eq(stats(a, "b").connects, 1);
    close(f.fd);
}
END_TEST

START_TEST(test_hello_refusals)
{
    node *a = node_add("m");
    node_add("z")->port = 9;            /* m dials z (nothing there) */
    node_add("a1")->port = 9;           /* a1 would dial m */
    transport_options o = node_opts(a);
    node_open(a, &o);
    set_all_peers();
    fake self = {.id = "m"}, wrongway = {.id = "z"};
    fake oldver = {.id = "a1", .version = 2};
    fake *all[] = {&self, &wrongway, &oldver};
    for (int i = 0; i < 3; i++) {
        fake_connect(all[i], a->port, 0);
        fake_hello(all[i]);
        ck_assert(run_until(fake_closed, all[i], WAIT_MS));
        ck_assert(all[i]->got_close);   /* told why */
        close(all[i]->fd);
    }
    ck_assert(log_has("peer 127.0.0.1:", "claims our own node id 'm'"));
    ck_assert(log_has("peer 127.0.0.1:", "'z' dialed us, but we dial it"));
    ck_assert(log_has("peer 127.0.0.1:", "protocol version 2, we speak 1"));
    ck_assert_uint_eq(totals(a).refused, 3);
    ck_assert_uint_eq(a->ups, 0);
}
END_TEST

START_TEST(test_readdress)
{
    node *a = node_start("a"), *b = node_start("b");
    transport_peer wrong[] = {{"a", "127.0.0.1", a->port},
                              {"b", "127.0.0.1", 9}};
    ck_assert_int_eq(transport_set_peers(a->t, wrong, 2), 0);
    ck_assert_int_eq(transport_set_peers(b->t, wrong, 2), 0);
    run_for(100);
    ck_assert(!transport_connected(a->t, "b"));
    set_all_peers();                    /* b's real port */
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    ck_assert(log_has("peer b: address changed", NULL));
}
END_TEST

enum { CROWD = 70 };
static fake crowd[CROWD];

static bool
crowd_settled(void *arg)
{
    node *a = arg;
    int closed = 0;
    for (int i = 0; i < CROWD; i++) {
        fake_pump(&crowd[i]);
        closed += crowd[i].eof;
    }
    return totals(a).accepted == CROWD && closed == CROWD - 64;
}

START_TEST(test_handshake_limit)
{
    node *a = node_add("a");
    transport_options o = node_opts(a);
    o.handshake_timeout_ms = 20000;     /* only the cap closes them */
    node_open(a, &o);
    for (int i = 0; i < CROWD; i++)
        fake_connect(&crowd[i], a->port, 0);
    ck_assert(run_until(crowd_settled, a, WAIT_MS));
    ck_assert_uint_eq(totals(a).handshaking, 64);
    ck_assert(log_has("handshakes pending", NULL));
    for (int i = 0; i < CROWD; i++)
        close(crowd[i].fd);
}
END_TEST

START_TEST(test_dual_stack_bind)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool v6 = probe >= 0 && bind(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (probe >= 0)
        close(probe);
    if (!v6)
        return;                         /* no IPv6 loopback here */
    static const char *const both[] = {"127.0.0.1", "::1"};
    node *a = node_add("a"), *b = node_start("0v6");
    transport_options o = node_opts(a);
    o.bind = both;
    o.nbind = 2;
    node_open(a, &o);
    transport_peer p[] = {{"a", "::1", a->port},
                          {"0v6", "127.0.0.1", b->port}};
    ck_assert_int_eq(transport_set_peers(a->t, p, 2), 0);
    ck_assert_int_eq(transport_set_peers(b->t, p, 2), 0);
    ck_assert(run_until(all_connected, NULL, WAIT_MS));
    transport_peer_stats st = stats(a, "0v6");
    ck_assert_ptr_eq(strstr(st.address, "[::1]:"), st.address);
}
END_TEST

static Suite *
transport_suite(void)
{
    Suite *s = suite_create("transport");
    TCase *tc = tcase_create("sockets");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_two_exchange);
    tcase_add_test(tc, test_three_one_connection_per_pair);
    tcase_add_test(tc, test_secret_match);
    tcase_add_test(tc, test_secret_mismatch);
    tcase_add_test(tc, test_secret_one_side);
    tcase_add_test(tc, test_wrong_cluster);
    tcase_add_test(tc, test_unknown_id);
    tcase_add_test(tc, test_garbage_closed_only);
    tcase_add_test(tc, test_handshake_timeout);
    tcase_add_test(tc, test_oversized_frame);
    tcase_add_test(tc, test_reconnect_after_restart);
    tcase_add_test(tc, test_output_limit);
    tcase_add_test(tc, test_set_peers_remove);
    tcase_add_test(tc, test_duplicate_newest_wins);
    tcase_add_test(tc, test_send_and_options);
    tcase_add_test(tc, test_callbacks_reenter);
    tcase_add_test(tc, test_idle_timeout_and_pings);
    tcase_add_test(tc, test_hello_refusals);
    tcase_add_test(tc, test_readdress);
    tcase_add_test(tc, test_handshake_limit);
    tcase_add_test(tc, test_dual_stack_bind);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(transport_suite());
}
