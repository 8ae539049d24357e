/*
 * transport_conn.c -- one peer connection: TCP connect, the handshake
 * (hello, HMAC proofs when a secret is set, accept), then frames.
 *
 * An explicit state machine: every input -- the connect finishing, a whole
 * message, the connection's timer -- goes through conn_step(), which
 * switches on the state and calls that state's function.  EOF and socket
 * errors close the connection whatever the state.
 *
 * Closing never frees: the socket is shut down at once but the struct waits
 * for the reaper (a zero-delay event), so code up the stack -- the read loop
 * that called a user callback which removed this peer -- can still look at
 * it and see TRANSPORT_CONN_CLOSED.
 */
#include "node/transport_internal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

typedef enum conn_input_kind {
    CONN_IN_CONNECTED,                  /* outbound TCP connect done */
    CONN_IN_MESSAGE,                    /* one whole message arrived */
    CONN_IN_TIMER                       /* the connection's timer fired */
} conn_input_kind;

typedef struct conn_input {
    conn_input_kind kind;
    uint8_t type;                       /* CONN_IN_MESSAGE only */
    const uint8_t *body;
    size_t len;
} conn_input;

/* Why a connection ends; decides the log level, the counters and whether
 * the peer is told. */
typedef enum conn_fail_kind {
    FAIL_REFUSE,                        /* we refuse its hello or proof */
    FAIL_PROTOCOL,                      /* garbage, malformed, oversized */
    FAIL_TIMEOUT,                       /* handshake or idle deadline */
    FAIL_LOST,                          /* EOF, socket error, local failure */
    FAIL_REMOTE                         /* the peer closed, saying why */
} conn_fail_kind;

static void conn_step(transport_conn *c, const conn_input *in);

static struct timeval
ms_to_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static void
conn_arm(transport_conn *c, int ms)
{
    struct timeval tv = ms_to_tv(ms);
    evtimer_add(c->timer, &tv);
}

static const char *
conn_label(const transport_conn *c, char *buf, size_t n)
{
    /* Until the peer has proven who it is, name it only by its address:
     * the id in its hello is a claim. */
    if (c->link != NULL && (c->outbound || c->state == TRANSPORT_CONN_READY))
        snprintf(buf, n, "peer %s (%s)", c->link->stats.id, c->addr);
    else
        snprintf(buf, n, "peer %s", c->addr);
    return buf;
}

/* Repeats of one failure (a dial retried every few seconds, a misconfigured
 * peer retrying us) go to verbose so they do not flood the log; the first
 * one, and any change, is logged at the requested level. */
static log_level
conn_dedup_level(transport_conn *c, log_level level, const char *reason)
{
    transport *t = c->t;
    if (c->outbound && c->link != NULL) {
        if (strcmp(c->link->stats.last_error, reason) == 0)
            return LOG_VERBOSE;
        return level;
    }
    char key[sizeof(t->last_refusal)];
    const char *colon = strrchr(c->addr, ':');
    int hostlen = colon ? (int)(colon - c->addr) : (int)strlen(c->addr);
    snprintf(key, sizeof(key), "%.*s %s", hostlen, c->addr, reason);
    if (strcmp(key, t->last_refusal) == 0)
        return LOG_VERBOSE;
    memcpy(t->last_refusal, key, sizeof(key));
    return level;
}

static log_level
conn_fail_level(transport_conn *c, conn_fail_kind kind, const char *reason)
{
    switch (kind) {
    case FAIL_REFUSE:
    case FAIL_PROTOCOL:
    case FAIL_TIMEOUT:
    case FAIL_REMOTE:
        return conn_dedup_level(c, LOG_WARNING, reason);
    case FAIL_LOST:
        /* Port scanners and health checks connect and leave: not news. */
        return c->outbound ? conn_dedup_level(c, LOG_NOTICE, reason)
                           : LOG_VERBOSE;
    }
    return LOG_WARNING;
}

static void conn_fail(transport_conn *c, conn_fail_kind kind, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));

static void
conn_fail(transport_conn *c, conn_fail_kind kind, const char *fmt, ...)
{
    if (c->state == TRANSPORT_CONN_CLOSED)
        return;
    char reason[TRANSPORT_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);

    bool ready = c->state == TRANSPORT_CONN_READY;
    /* Losing a live link is logged once, by transport_link_closed(). */
    if (!(ready && (kind == FAIL_LOST || kind == FAIL_REMOTE))) {
        char label[TRANSPORT_ADDR_MAX + TRANSPORT_ID_MAX + 16];
        /* Once: the dedup remembers what it has seen (log_at would
         * evaluate its level argument twice). */
        log_level level = conn_fail_level(c, kind, reason);
        log_at(level, "%s %s", conn_label(c, label, sizeof(label)), reason);
    }
    if (kind == FAIL_REFUSE || (kind == FAIL_REMOTE && !ready))
        c->t->totals.refused++;
    if (kind == FAIL_PROTOCOL)
        c->t->totals.protocol_errors++;
    bool tell = kind == FAIL_REFUSE || kind == FAIL_PROTOCOL ||
                kind == FAIL_TIMEOUT;
    transport_conn_close(c, tell ? reason : NULL, reason);
}

size_t
transport_conn_buffered(const transport_conn *c)
{
    if (c->bev == NULL)
        return 0;
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

bool
transport_conn_send(transport_conn *c, uint8_t type, const uint8_t *body,
                    size_t len)
{
    if (c->state == TRANSPORT_CONN_CLOSED || c->bev == NULL)
        return false;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t queued = evbuffer_get_length(out);
    if (queued + TRANSPORT_HEADER_LEN + len > c->t->max_output)
        return false;
    uint8_t hdr[TRANSPORT_HEADER_LEN];
    transport_frame_header(hdr, type, len);
    if (evbuffer_expand(out, TRANSPORT_HEADER_LEN + len) != 0)
        return false;
    /* After a successful expand these cannot fail; if they did, a header
     * without its body would desynchronize the stream, so close. */
    if (evbuffer_add(out, hdr, sizeof(hdr)) != 0 ||
        (len > 0 && evbuffer_add(out, body, len) != 0)) {
        conn_fail(c, FAIL_LOST, "lost: out of memory while queueing");
        return false;
    }
    if (type == TRANSPORT_MSG_DATA)
        c->sent_since_ping = true;
    return true;
}

/* Best effort: one non-blocking send of what is queued plus a CLOSE
 * message, so the peer's log says why; the socket is closed whether or not
 * it went out.  Peek and sendmsg(), because a socket bufferevent keeps its
 * output buffer's front frozen (evbuffer_write and copyout refuse), and
 * MSG_NOSIGNAL spares us SIGPIPE. */
static void
conn_goodbye(transport_conn *c, const char *reason)
{
    size_t n = strlen(reason);
    if (n > TRANSPORT_REASON_MAX)
        n = TRANSPORT_REASON_MAX;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    uint8_t hdr[TRANSPORT_HEADER_LEN];
    transport_frame_header(hdr, TRANSPORT_MSG_CLOSE, n);
    evbuffer_add(out, hdr, sizeof(hdr));
    evbuffer_add(out, reason, n);
    struct evbuffer_iovec vec[8];
    int nvec = evbuffer_peek(out, -1, NULL, vec, 8);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    /* More than fits one peek: the peer is not reading; do not bother. */
    if (fd < 0 || nvec < 1 || nvec > 8)
        return;
    struct iovec iov[8];
    for (int i = 0; i < nvec; i++)
        iov[i] = (struct iovec){vec[i].iov_base, vec[i].iov_len};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)nvec};
    (void)sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void
transport_conn_close(transport_conn *c, const char *goodbye,
                     const char *reason)
{
    if (c->state == TRANSPORT_CONN_CLOSED)
        return;
    transport *t = c->t;
    bool was_ready = c->state == TRANSPORT_CONN_READY;
    bool connected = c->state != TRANSPORT_CONN_CONNECTING;
    c->state = TRANSPORT_CONN_CLOSED;
    if (c->bev != NULL) {
        if (goodbye != NULL && connected)
            conn_goodbye(c, goodbye);
        bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        /* Shut the socket now: the reaper frees it later, but the peer
         * should see the close without waiting for that. */
        evutil_socket_t fd = bufferevent_getfd(c->bev);
        if (fd >= 0)
            shutdown(fd, SHUT_RDWR);
    }
    evtimer_del(c->timer);

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = t->graveyard;
    t->graveyard = c;
    event_active(t->reaper, EV_TIMEOUT, 0);

    /* Last: this may run the user's on_peer_state. */
    if (c->link != NULL)
        transport_link_closed(c->link, c, was_ready, reason);
}

void
transport_conn_free(transport_conn *c)
{
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    if (c->timer != NULL)
        event_free(c->timer);
    free(c);
}

/* ---- handshake ---------------------------------------------------------- */

static void
conn_send_hello(transport_conn *c)
{
    transport *t = c->t;
    if (RAND_bytes(c->nonce, sizeof(c->nonce)) != 1) {
        conn_fail(c, FAIL_LOST, "lost: cannot generate a random challenge");
        return;
    }
    transport_hello h = {.version = TRANSPORT_PROTO_VERSION,
                         .flags = t->secret ? TRANSPORT_HELLO_AUTH : 0};
    memcpy(h.nonce, c->nonce, sizeof(h.nonce));
    memcpy(h.node_id, t->node_id, sizeof(h.node_id));
    memcpy(h.cluster_id, t->cluster_id, sizeof(h.cluster_id));
    uint8_t body[TRANSPORT_HELLO_MAX];
    size_t n = transport_hello_encode(&h, body);
    c->state = TRANSPORT_CONN_HELLO;
    if (!transport_conn_send(c, TRANSPORT_MSG_HELLO, body, n))
        conn_fail(c, FAIL_LOST, "lost: cannot queue our hello");
}

/* Checks a decoded hello against our configuration.  Returns the peer's
 * link, or NULL with why set and *auth telling whether it is an
 * authentication failure. */
static transport_link *
conn_check_hello(transport_conn *c, const transport_hello *h, char *why,
                 size_t n, bool *auth)
{
    transport *t = c->t;
    *auth = false;
    if (!transport_valid_id(h->node_id) ||
        !transport_valid_cluster(h->cluster_id)) {
        snprintf(why, n, "refused: invalid node or cluster id in hello");
        return NULL;
    }
    if (strcmp(h->cluster_id, t->cluster_id) != 0) {
        snprintf(why, n, "refused: cluster id '%s' is not ours ('%s')",
                 h->cluster_id, t->cluster_id);
        return NULL;
    }
    if (strcmp(h->node_id, t->node_id) == 0) {
        snprintf(why, n, "refused: it claims our own node id '%s'",
                 h->node_id);
        return NULL;
    }
    transport_link *link = c->link;
    if (c->outbound && strcmp(link->stats.id, h->node_id) != 0) {
        snprintf(why, n, "refused: it is node '%s', we dialed '%s'",
                 h->node_id, link->stats.id);
        return NULL;
    }
    if (!c->outbound) {
        link = transport_find_link(t, h->node_id);
        if (link == NULL) {
            snprintf(why, n, "refused: unknown node id '%s'", h->node_id);
            return NULL;
        }
        /* The smaller id dials.  A connection the other way would be a
         * second one for the pair. */
        if (link->dialer) {
            snprintf(why, n,
                     "refused: node '%s' dialed us, but we dial it "
                     "(duplicate connection)", h->node_id);
            return NULL;
        }
    }
    bool theirs = (h->flags & TRANSPORT_HELLO_AUTH) != 0;
    if (theirs != (t->secret != NULL)) {
        *auth = true;
        snprintf(why, n, "failed authentication as '%s': %s", h->node_id,
                 theirs ? "it has a peer secret and we have none"
                        : "it has no peer secret and we require one");
        return NULL;
    }
    return link;
}

/* Handshake states share these: the deadline, and anything unexpected. */
static void
conn_handshake_other(transport_conn *c, const conn_input *in)
{
    if (in->kind == CONN_IN_TIMER && c->state == TRANSPORT_CONN_CONNECTING) {
        conn_fail(c, FAIL_LOST, "unreachable: no connection within %d ms",
                  c->t->handshake_timeout_ms);
        return;
    }
    if (in->kind == CONN_IN_TIMER) {
        conn_fail(c, FAIL_TIMEOUT, "did not finish the handshake within %d ms",
                  c->t->handshake_timeout_ms);
        return;
    }
    if (c->state == TRANSPORT_CONN_HELLO && !c->outbound)
        conn_fail(c, FAIL_PROTOCOL,
                  "is not a raft-sentinel peer (message type %u, not a hello)",
                  (unsigned)in->type);
    else
        conn_fail(c, FAIL_PROTOCOL,
                  "sent message type %u during the handshake",
                  (unsigned)in->type);
}

static void
conn_connecting(transport_conn *c, const conn_input *in)
{
    if (in->kind != CONN_IN_CONNECTED) {
        conn_handshake_other(c, in);
        return;
    }
    int one = 1;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    /* Raft messages are small and latency-bound (heartbeats, votes). */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Reading starts only now, so nothing is read before CONNECTED. */
    bufferevent_enable(c->bev, EV_READ);
    conn_send_hello(c);
}

static void
conn_hello(transport_conn *c, const conn_input *in)
{
    if (in->kind != CONN_IN_MESSAGE || in->type != TRANSPORT_MSG_HELLO) {
        conn_handshake_other(c, in);
        return;
    }
    transport *t = c->t;
    transport_hello h;
    char why[TRANSPORT_ERROR_MAX];
    switch (transport_hello_decode(in->body, in->len, &h, why, sizeof(why))) {
    case TRANSPORT_HELLO_OK:
        break;
    case TRANSPORT_HELLO_GARBAGE:
        conn_fail(c, FAIL_PROTOCOL, "is not a raft-sentinel peer (%s)", why);
        return;
    case TRANSPORT_HELLO_VERSION:
        conn_fail(c, FAIL_REFUSE, "refused: %s", why);
        return;
    case TRANSPORT_HELLO_MALFORMED:
        conn_fail(c, FAIL_PROTOCOL, "sent a bad hello (%s)", why);
        return;
    }
    bool auth;
    transport_link *link = conn_check_hello(c, &h, why, sizeof(why), &auth);
    if (link == NULL) {
        conn_fail(c, FAIL_REFUSE, "%s", why);
        return;
    }
    c->link = link;
    memcpy(c->remote_id, h.node_id, sizeof(c->remote_id));
    if (t->secret == NULL) {
        c->state = TRANSPORT_CONN_ACCEPT;
        transport_conn_send(c, TRANSPORT_MSG_ACCEPT, NULL, 0);
        return;
    }
    uint8_t proof[TRANSPORT_PROOF_LEN];
    if (!transport_proof(t->secret, t->secret_len, h.nonce, t->node_id,
                         h.node_id, t->cluster_id, proof)) {
        conn_fail(c, FAIL_LOST, "lost: cannot compute HMAC");
        return;
    }
    c->state = TRANSPORT_CONN_AUTH;
    transport_conn_send(c, TRANSPORT_MSG_AUTH, proof, sizeof(proof));
}

static void
conn_auth(transport_conn *c, const conn_input *in)
{
    if (in->kind != CONN_IN_MESSAGE || in->type != TRANSPORT_MSG_AUTH) {
        conn_handshake_other(c, in);
        return;
    }
    transport *t = c->t;
    if (!transport_proof_check(t->secret, t->secret_len, c->nonce,
                               c->remote_id, t->node_id, t->cluster_id,
                               in->body, in->len)) {
        conn_fail(c, FAIL_REFUSE,
                  "failed authentication as '%s': wrong proof (is "
                  "peer_secret the same on both?)", c->remote_id);
        return;
    }
    c->state = TRANSPORT_CONN_ACCEPT;
    transport_conn_send(c, TRANSPORT_MSG_ACCEPT, NULL, 0);
}

static void
conn_become_ready(transport_conn *c)
{
    transport *t = c->t;
    c->state = TRANSPORT_CONN_READY;
    evtimer_del(c->timer);
    conn_arm(c, t->ping_ms);
    /* Reading: any message, pings included, resets it; a silent peer is
     * gone (host down, cable cut) even if TCP has not noticed yet.
     * Writing: runs only while output is pending; a peer that stops
     * reading would otherwise hold a full queue forever. */
    struct timeval idle = ms_to_tv(t->idle_timeout_ms);
    bufferevent_set_timeouts(c->bev, &idle, &idle);
    transport_link_ready(c->link, c);
}

static void
conn_accept(transport_conn *c, const conn_input *in)
{
    if (in->kind != CONN_IN_MESSAGE || in->type != TRANSPORT_MSG_ACCEPT) {
        conn_handshake_other(c, in);
        return;
    }
    if (in->len != 0) {
        conn_fail(c, FAIL_PROTOCOL, "sent a malformed accept");
        return;
    }
    conn_become_ready(c);
}

/* ---- established -------------------------------------------------------- */

static void
conn_ready(transport_conn *c, const conn_input *in)
{
    transport *t = c->t;
    if (in->kind == CONN_IN_TIMER) {
        /* Keepalive only when we had nothing else to say. */
        if (!c->sent_since_ping)
            transport_conn_send(c, TRANSPORT_MSG_PING, NULL, 0);
        c->sent_since_ping = false;
        conn_arm(c, t->ping_ms);
        return;
    }
    if (in->kind != CONN_IN_MESSAGE) {
        conn_fail(c, FAIL_PROTOCOL, "unexpected connect event");
        return;
    }
    switch (in->type) {
    case TRANSPORT_MSG_PING:
        return;
    case TRANSPORT_MSG_DATA:
        c->link->stats.frames_in++;
        c->link->stats.bytes_in += in->len;
        /* Last: the callback may send, or remove this very peer. */
        if (t->on_frame != NULL)
            t->on_frame(t->ctx, c->remote_id, in->body, in->len);
        return;
    default:
        conn_fail(c, FAIL_PROTOCOL, "sent unexpected message type %u",
                  (unsigned)in->type);
        return;
    }
}

static void
conn_step(transport_conn *c, const conn_input *in)
{
    /* The peer may give up on us in any state; it says why. */
    if (in->kind == CONN_IN_MESSAGE && in->type == TRANSPORT_MSG_CLOSE) {
        char text[TRANSPORT_REASON_MAX + 1];
        transport_sanitize(in->body, in->len, text, sizeof(text));
        conn_fail(c, FAIL_REMOTE, "closed the connection: %s", text);
        return;
    }
    switch (c->state) {
    case TRANSPORT_CONN_CONNECTING:
        conn_connecting(c, in);
        break;
    case TRANSPORT_CONN_HELLO:
        conn_hello(c, in);
        break;
    case TRANSPORT_CONN_AUTH:
        conn_auth(c, in);
        break;
    case TRANSPORT_CONN_ACCEPT:
        conn_accept(c, in);
        break;
    case TRANSPORT_CONN_READY:
        conn_ready(c, in);
        break;
    case TRANSPORT_CONN_CLOSED:
        break;
    }
}

/* ---- libevent callbacks ------------------------------------------------- */

/* Checks a message's length field before its body is awaited, so a bogus
 * length is rejected at once instead of buffering up to it. */
static bool
conn_length_ok(transport_conn *c, uint32_t flen)
{
    transport *t = c->t;
    if (c->state != TRANSPORT_CONN_READY) {
        if (flen >= 1 && flen <= TRANSPORT_HANDSHAKE_FRAME_MAX)
            return true;
        if (c->state == TRANSPORT_CONN_HELLO && !c->outbound)
            conn_fail(c, FAIL_PROTOCOL,
                      "is not a raft-sentinel peer (bad message header)");
        else
            conn_fail(c, FAIL_PROTOCOL,
                      "sent a bad message header during the handshake");
        return false;
    }
    if (flen == 0) {
        conn_fail(c, FAIL_PROTOCOL, "sent a message without a type");
        return false;
    }
    if (flen - 1 > t->max_frame) {
        conn_fail(c, FAIL_PROTOCOL,
                  "sent a frame of %lu bytes, over the limit of %zu",
                  (unsigned long)(flen - 1), t->max_frame);
        return false;
    }
    return true;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
    transport_conn *c = arg;
    struct evbuffer *input = bufferevent_get_input(bev);
    while (c->state != TRANSPORT_CONN_CLOSED) {
        uint8_t lenbuf[TRANSPORT_LEN_BYTES];
        if (evbuffer_copyout(input, lenbuf, sizeof(lenbuf)) <
            (ev_ssize_t)sizeof(lenbuf))
            return;
        uint32_t flen = transport_get_be32(lenbuf);
        if (!conn_length_ok(c, flen))
            return;
        size_t total = TRANSPORT_LEN_BYTES + (size_t)flen;
        if (evbuffer_get_length(input) < total)
            return;
        uint8_t *msg = evbuffer_pullup(input, (ev_ssize_t)total);
        if (msg == NULL) {
            conn_fail(c, FAIL_LOST, "lost: out of memory reading a frame");
            return;
        }
        conn_input in = {CONN_IN_MESSAGE, msg[TRANSPORT_LEN_BYTES],
                         msg + TRANSPORT_HEADER_LEN, (size_t)flen - 1};
        conn_step(c, &in);
        /* Closed: the buffer is left for the reaper to free with it. */
        if (c->state == TRANSPORT_CONN_CLOSED)
            return;
        evbuffer_drain(input, total);
    }
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    transport_conn *c = arg;
    int err = EVUTIL_SOCKET_ERROR();
    if (what & BEV_EVENT_CONNECTED) {
        conn_input in = {.kind = CONN_IN_CONNECTED};
        conn_step(c, &in);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if (what & BEV_EVENT_WRITING)
            conn_fail(c, FAIL_TIMEOUT, "stopped reading: nothing written "
                      "for %d ms", c->t->idle_timeout_ms);
        else
            conn_fail(c, FAIL_TIMEOUT, "sent nothing for %d ms",
                      c->t->idle_timeout_ms);
        return;
    }
    bool connecting = c->state == TRANSPORT_CONN_CONNECTING;
    if (what & BEV_EVENT_EOF) {
        conn_fail(c, FAIL_LOST, "closed the connection");
        return;
    }
    int dns = bufferevent_socket_get_dns_error(bev);
    const char *text = dns ? evutil_gai_strerror(dns)
                           : evutil_socket_error_to_string(err);
    if (connecting)
        conn_fail(c, FAIL_LOST, "unreachable: %s", text);
    else
        conn_fail(c, FAIL_LOST, "lost: %s", text);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_input in = {.kind = CONN_IN_TIMER};
    conn_step(arg, &in);
}

/* ---- creation ----------------------------------------------------------- */

static transport_conn *
conn_new(transport *t, bool outbound)
{
    transport_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->t = t;
    c->outbound = outbound;
    c->timer = evtimer_new(t->base, conn_timer_cb, c);
    if (c->timer == NULL) {
        free(c);
        return NULL;
    }
    c->next = t->conns;
    if (t->conns != NULL)
        t->conns->prev = c;
    t->conns = c;
    return c;
}

static void
format_sockaddr(const struct sockaddr *sa, char *out, size_t n)
{
    char ip[64] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        evutil_inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
        port = ntohs(in4->sin_port);
        snprintf(out, n, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        evutil_inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
        snprintf(out, n, "[%s]:%d", ip, port);
    } else {
        snprintf(out, n, "unknown address");
    }
}

void
transport_conn_accept(transport *t, evutil_socket_t fd,
                      const struct sockaddr *sa, int salen)
{
    (void)salen;
    transport_conn *c = conn_new(t, false);
    if (c == NULL) {
        evutil_closesocket(fd);
        log_warning("out of memory accepting a peer connection");
        return;
    }
    format_sockaddr(sa, c->addr, sizeof(c->addr));
    c->state = TRANSPORT_CONN_HELLO;
    c->bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        evutil_closesocket(fd);
        conn_fail(c, FAIL_LOST, "lost: out of memory");
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    conn_arm(c, t->handshake_timeout_ms);
    log_debug("peer %s connected, handshaking", c->addr);
    conn_send_hello(c);
}

void
transport_conn_dial(transport *t, transport_link *link)
{
    transport_conn *c = conn_new(t, true);
    if (c == NULL) {
        transport_link_closed(link, NULL, false, "out of memory");
        return;
    }
    c->link = link;
    link->dialing = c;
    snprintf(c->addr, sizeof(c->addr),
             strchr(link->host, ':') ? "[%s]:%d" : "%s:%d", link->host,
             link->port);
    c->state = TRANSPORT_CONN_CONNECTING;
    c->bev = bufferevent_socket_new(t->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        conn_fail(c, FAIL_LOST, "unreachable: cannot create a socket");
        return;
    }
    bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
    conn_arm(c, t->handshake_timeout_ms);
    log_debug("dialing peer %s at %s", link->stats.id, c->addr);
    /* With no evdns_base a name is resolved right here (numeric addresses
     * cost nothing); a failure may already have closed c on return. */
    if (bufferevent_socket_connect_hostname(c->bev, t->dns, AF_UNSPEC,
                                            link->host, link->port) != 0)
        conn_fail(c, FAIL_LOST, "unreachable: %s", strerror(errno));
}
