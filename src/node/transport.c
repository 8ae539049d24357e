/*
 * transport.c -- the transport's lifecycle, listening sockets, peer list,
 * reconnects with jittered backoff, sending and statistics.  What happens
 * on one connection is in transport_conn.c.
 */
#include "node/transport_internal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* ---- options ------------------------------------------------------------ */

static int
pick(int value, int dflt)
{
    return value > 0 ? value : dflt;
}

static size_t
pick_size(size_t value, size_t dflt)
{
    return value > 0 ? value : dflt;
}

static bool
time_ok(int ms)
{
    return ms >= 0 && ms <= TRANSPORT_MAX_TIME_MS;
}

static bool
options_valid(const transport_options *o)
{
    const char *why = NULL;
    size_t max_frame = pick_size(o->max_frame, TRANSPORT_DEFAULT_MAX_FRAME);
    size_t max_output = pick_size(o->max_output, TRANSPORT_DEFAULT_MAX_OUTPUT);
    int ping = pick(o->ping_ms, TRANSPORT_DEFAULT_PING_MS);
    int idle = pick(o->idle_timeout_ms, TRANSPORT_DEFAULT_IDLE_TIMEOUT_MS);
    if (o->node_id == NULL || !transport_valid_id(o->node_id))
        why = "node id must match [A-Za-z0-9_.-]{1,64}";
    else if (o->cluster_id == NULL || !transport_valid_cluster(o->cluster_id))
        why = "cluster id must be 1-64 printable characters without blanks";
    else if (o->nbind < 1 || o->nbind > TRANSPORT_MAX_BIND || o->bind == NULL)
        why = "between 1 and 16 bind addresses are needed";
    else if (o->port < 0 || o->port > 65535)
        why = "port must be 0-65535";
    else if (o->secret != NULL && strlen(o->secret) > TRANSPORT_SECRET_MAX)
        why = "secret too long";
    else if (!time_ok(o->backoff_min_ms) || !time_ok(o->backoff_max_ms) ||
             !time_ok(o->handshake_timeout_ms) || !time_ok(o->ping_ms) ||
             !time_ok(o->idle_timeout_ms))
        why = "times must be 0 (default) to 3600000 ms";
    else if (pick(o->backoff_min_ms, TRANSPORT_DEFAULT_BACKOFF_MIN_MS) >
             pick(o->backoff_max_ms, TRANSPORT_DEFAULT_BACKOFF_MAX_MS))
        why = "backoff_min_ms exceeds backoff_max_ms";
    else if (max_frame > ((size_t)1 << 30))
        why = "max_frame is limited to 1 GiB";
    else if (max_output < max_frame + TRANSPORT_HEADER_LEN)
        why = "max_output must hold at least one frame of max_frame bytes";
    else if (idle <= 2 * ping)
        /* A ping is skipped after a period with data, so a healthy peer
         * can be silent for up to two ping periods. */
        why = "idle_timeout_ms must exceed twice ping_ms";
    if (why != NULL)
        log_warning("peer transport: invalid options: %s", why);
    return why == NULL;
}

static void
apply_options(transport *t, const transport_options *o)
{
    t->dns = o->dns;
    snprintf(t->node_id, sizeof(t->node_id), "%s", o->node_id);
    snprintf(t->cluster_id, sizeof(t->cluster_id), "%s", o->cluster_id);
    t->max_frame = pick_size(o->max_frame, TRANSPORT_DEFAULT_MAX_FRAME);
    t->max_output = pick_size(o->max_output, TRANSPORT_DEFAULT_MAX_OUTPUT);
    t->backoff_min_ms = (uint32_t)pick(o->backoff_min_ms,
                                       TRANSPORT_DEFAULT_BACKOFF_MIN_MS);
    t->backoff_max_ms = (uint32_t)pick(o->backoff_max_ms,
                                       TRANSPORT_DEFAULT_BACKOFF_MAX_MS);
    t->handshake_timeout_ms = pick(o->handshake_timeout_ms,
                                   TRANSPORT_DEFAULT_HANDSHAKE_TIMEOUT_MS);
    t->ping_ms = pick(o->ping_ms, TRANSPORT_DEFAULT_PING_MS);
    t->idle_timeout_ms = pick(o->idle_timeout_ms,
                              TRANSPORT_DEFAULT_IDLE_TIMEOUT_MS);
    t->rng = o->seed;
    t->on_frame = o->on_frame;
    t->on_peer_state = o->on_peer_state;
    t->ctx = o->ctx;
}

/* ---- listening ---------------------------------------------------------- */

static size_t
count_handshaking(const transport *t)
{
    size_t n = 0;
    for (const transport_conn *c = t->conns; c != NULL; c = c->next)
        n += c->state != TRANSPORT_CONN_READY;
    return n;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
          int salen, void *arg)
{
    (void)l;
    transport *t = arg;
    t->totals.accepted++;
    if (count_handshaking(t) >= TRANSPORT_MAX_HANDSHAKES) {
        log_warning("peer transport: %d handshakes pending, refusing another "
                    "connection", TRANSPORT_MAX_HANDSHAKES);
        evutil_closesocket(fd);
        return;
    }
    transport_conn_accept(t, fd, sa, salen);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
    (void)l;
    transport *t = arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_warning("peer transport: accept failed: %s; pausing for %d ms",
                evutil_socket_error_to_string(err), TRANSPORT_ACCEPT_PAUSE_MS);
    for (size_t i = 0; i < t->nlisteners; i++)
        evconnlistener_disable(t->listeners[i]);
    struct timeval tv = {TRANSPORT_ACCEPT_PAUSE_MS / 1000,
                         (TRANSPORT_ACCEPT_PAUSE_MS % 1000) * 1000};
    evtimer_add(t->accept_pause, &tv);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    transport *t = arg;
    for (size_t i = 0; i < t->nlisteners; i++)
        evconnlistener_enable(t->listeners[i]);
}

static int
listen_one(transport *t, const char *addr, int port)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST |
                                         AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(addr, portstr, &hints, &res);
    if (rc != 0) {
        log_warning("peer transport: cannot listen on %s: %s", addr,
                    gai_strerror(rc));
        return -1;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
                     LEV_OPT_REUSEABLE;
    /* So that "::" and "0.0.0.0" can both be listed. */
    if (res->ai_family == AF_INET6)
        flags |= LEV_OPT_BIND_IPV6ONLY;
    struct evconnlistener *l = evconnlistener_new_bind(
        t->base, accept_cb, t, flags, 128, res->ai_addr, (int)res->ai_addrlen);
    int err = errno;
    freeaddrinfo(res);
    if (l == NULL) {
        log_warning("peer transport: cannot listen on %s port %d: %s", addr,
                    port, strerror(err));
        return -1;
    }
    evconnlistener_set_error_cb(l, accept_error_cb);
    t->listeners[t->nlisteners++] = l;
    return 0;
}

static int
bound_port(struct evconnlistener *l)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len))
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int
listen_all(transport *t, const transport_options *o)
{
    t->port = o->port;
    for (size_t i = 0; i < o->nbind; i++) {
        if (listen_one(t, o->bind[i], t->port) != 0)
            return -1;
        /* With port 0 the first bind picks one; the others share it. */
        if (t->port == 0 && (t->port = bound_port(t->listeners[0])) <= 0)
            return -1;
    }
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void
reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    transport *t = arg;
    while (t->graveyard != NULL) {
        transport_conn *c = t->graveyard;
        t->graveyard = c->next;
        transport_conn_free(c);
    }
}

transport *
transport_new(struct event_base *base, const transport_options *o)
{
    if (base == NULL || o == NULL || !options_valid(o))
        return NULL;
    transport *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->base = base;
    apply_options(t, o);
    if (o->secret != NULL && o->secret[0] != '\0') {
        t->secret_len = strlen(o->secret);
        t->secret = malloc(t->secret_len);
        if (t->secret != NULL)
            memcpy(t->secret, o->secret, t->secret_len);
    }
    t->reaper = event_new(base, -1, 0, reaper_cb, t);
    t->accept_pause = evtimer_new(base, accept_resume_cb, t);
    bool secret_ok = o->secret == NULL || o->secret[0] == '\0' || t->secret;
    if (!secret_ok || t->reaper == NULL || t->accept_pause == NULL ||
        listen_all(t, o) != 0) {
        transport_free(t);
        return NULL;
    }
    log_notice("peer transport: node %s listening on port %d (%s)", t->node_id,
               t->port,
               t->secret ? "peers authenticate" : "no peer authentication");
    return t;
}

static void link_free(transport_link *link);

void
transport_free(transport *t)
{
    if (t == NULL)
        return;
    t->freeing = true;
    while (t->conns != NULL)
        transport_conn_close(t->conns, "shutting down", "shutting down");
    reaper_cb(-1, 0, t);
    for (size_t i = 0; i < t->nlinks; i++)
        link_free(t->links[i]);
    free(t->links);
    for (size_t i = 0; i < t->nlisteners; i++)
        evconnlistener_free(t->listeners[i]);
    if (t->reaper != NULL)
        event_free(t->reaper);
    if (t->accept_pause != NULL)
        event_free(t->accept_pause);
    if (t->secret != NULL) {
        OPENSSL_cleanse(t->secret, t->secret_len);
        free(t->secret);
    }
    free(t);
}

int
transport_port(const transport *t)
{
    return t->port;
}

/* ---- links: one per configured peer ------------------------------------- */

transport_link *
transport_find_link(const transport *t, const char *id)
{
    for (size_t i = 0; i < t->nlinks; i++)
        if (strcmp(t->links[i]->stats.id, id) == 0)
            return t->links[i];
    return NULL;
}

static void
link_dial(transport_link *link)
{
    if (link->conn == NULL && link->dialing == NULL)
        transport_conn_dial(link->t, link);
}

static void
link_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    link_dial(arg);
}

static void
link_schedule_retry(transport_link *link)
{
    transport *t = link->t;
    link->backoff_ms = transport_backoff_next(link->backoff_ms,
                                              t->backoff_min_ms,
                                              t->backoff_max_ms);
    uint32_t delay = transport_jitter(&t->rng, link->backoff_ms);
    log_debug("peer %s: reconnecting in %u ms", link->stats.id, delay);
    struct timeval tv = {(time_t)(delay / 1000),
                         (suseconds_t)(delay % 1000) * 1000};
    evtimer_add(link->retry, &tv);
}

void
transport_link_ready(transport_link *link, transport_conn *c)
{
    transport *t = link->t;
    transport_conn *old = link->conn;
    link->conn = c;
    if (link->dialing == c)
        link->dialing = NULL;
    link->backoff_ms = 0;
    link->stats.connects++;
    snprintf(link->stats.address, sizeof(link->stats.address), "%s", c->addr);
    if (old != NULL) {
        /* A restarted peer dialed again before we noticed its old
         * connection die: the newest authenticated one is the live one. */
        log_notice("peer %s: connection from %s replaces the one from %s",
                   link->stats.id, c->addr, old->addr);
        old->link = NULL;
        transport_conn_close(old, "superseded by a newer connection",
                             "superseded");
        return;
    }
    log_notice("peer %s connected (%s, %s)", link->stats.id, c->addr,
               c->outbound ? "outbound" : "inbound");
    /* c->remote_id, not link's copy: the callback may remove the link. */
    if (t->on_peer_state != NULL)
        t->on_peer_state(t->ctx, c->remote_id, true);
}

void
transport_link_closed(transport_link *link, transport_conn *c, bool was_ready,
                      const char *reason)
{
    transport *t = link->t;
    snprintf(link->stats.last_error, sizeof(link->stats.last_error), "%s",
             reason);
    if (c != NULL && link->dialing == c)
        link->dialing = NULL;
    bool lost = c != NULL && was_ready && link->conn == c;
    if (lost) {
        link->conn = NULL;
        link->stats.address[0] = '\0';
    }
    if (t->freeing)
        return;
    if (lost)
        log_notice("lost connection to peer %s (%s): %s", link->stats.id,
                   c->addr, reason);
    if (link->dialer && link->conn == NULL && link->dialing == NULL)
        link_schedule_retry(link);
    if (lost && t->on_peer_state != NULL)
        t->on_peer_state(t->ctx, c->remote_id, false);
}

static transport_link *
link_new(transport *t, const transport_peer *p)
{
    transport_link *link = calloc(1, sizeof(*link));
    if (link == NULL)
        return NULL;
    link->retry = evtimer_new(t->base, link_retry_cb, link);
    if (link->retry == NULL) {
        free(link);
        return NULL;
    }
    link->t = t;
    snprintf(link->stats.id, sizeof(link->stats.id), "%s", p->id);
    snprintf(link->host, sizeof(link->host), "%s", p->host);
    link->port = p->port;
    link->dialer = strcmp(t->node_id, p->id) < 0;
    link->stats.dialer = link->dialer;
    return link;
}

/* Closes the link's connections without telling the link (it is going
 * away or being re-pointed), so no callback runs and nothing is retried. */
static void
link_drop_conns(transport_link *link, bool keep_ready, const char *why)
{
    transport *t = link->t;
    transport_conn *next;
    for (transport_conn *c = t->conns; c != NULL; c = next) {
        next = c->next;
        if (c->link != link || (keep_ready && c == link->conn))
            continue;
        c->link = NULL;
        transport_conn_close(c, why, why);
    }
    if (!keep_ready)
        link->conn = NULL;
    link->dialing = NULL;
}

static void
link_free(transport_link *link)
{
    link_drop_conns(link, false, "removed from the group");
    event_free(link->retry);
    free(link);
}

/* ---- peer list ---------------------------------------------------------- */

static bool
peers_valid(const transport *t, const transport_peer *peers, size_t n)
{
    if (n > TRANSPORT_MAX_PEERS) {
        log_warning("peer transport: %zu peers, at most %d", n,
                    TRANSPORT_MAX_PEERS);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const transport_peer *p = &peers[i];
        const char *why = NULL;
        if (p->id == NULL || !transport_valid_id(p->id))
            why = "invalid id";
        else if (p->host == NULL || p->host[0] == '\0' ||
                 strlen(p->host) > TRANSPORT_HOST_MAX)
            why = "invalid host";
        else if (p->port < 1 || p->port > 65535)
            why = "invalid port";
        for (size_t j = 0; why == NULL && j < i; j++)
            if (strcmp(peers[j].id, p->id) == 0)
                why = "listed twice";
        if (why != NULL) {
            log_warning("peer transport: peer %zu (%s): %s", i,
                        p->id && transport_valid_id(p->id) ? p->id : "?", why);
            return false;
        }
    }
    (void)t;
    return true;
}

static bool
listed(const transport_peer *peers, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(peers[i].id, id) == 0)
            return true;
    return false;
}

/* Builds the new link array, reusing links that stay; allocates everything
 * before anything changes so a failure leaves the old list intact. */
static transport_link **
build_links(transport *t, const transport_peer *peers, size_t n, size_t *out)
{
    transport_link **links = calloc(n > 0 ? n : 1, sizeof(*links));
    if (links == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(peers[i].id, t->node_id) == 0)
            continue;
        transport_link *link = transport_find_link(t, peers[i].id);
        if (link == NULL && (link = link_new(t, &peers[i])) == NULL) {
            for (size_t j = 0; j < k; j++)
                if (transport_find_link(t, links[j]->stats.id) != links[j])
                    link_free(links[j]);
            free(links);
            return NULL;
        }
        links[k++] = link;
    }
    *out = k;
    return links;
}

/* A known peer moved: keep a live connection (it authenticated as that id,
 * so it is that peer), but restart a dial aimed at the old address. */
static void
link_readdress(transport_link *link, const transport_peer *p)
{
    if (strcmp(link->host, p->host) == 0 && link->port == p->port)
        return;
    log_notice("peer %s: address changed to %s port %d", link->stats.id,
               p->host, p->port);
    snprintf(link->host, sizeof(link->host), "%s", p->host);
    link->port = p->port;
    if (link->dialing != NULL) {
        link_drop_conns(link, true, "peer address changed");
        link->backoff_ms = 0;
        evtimer_del(link->retry);
        link_dial(link);
    }
}

int
transport_set_peers(transport *t, const transport_peer *peers, size_t n)
{
    if (!peers_valid(t, peers, n))
        return -1;
    size_t nlinks = 0;
    transport_link **links = build_links(t, peers, n, &nlinks);
    if (links == NULL) {
        log_warning("peer transport: out of memory setting peers");
        return -1;
    }
    for (size_t i = 0; i < t->nlinks; i++) {
        if (!listed(peers, n, t->links[i]->stats.id)) {
            log_notice("peer %s removed", t->links[i]->stats.id);
            link_free(t->links[i]);
        }
    }
    free(t->links);
    t->links = links;
    t->nlinks = nlinks;
    for (size_t i = 0; i < n; i++) {
        transport_link *link = transport_find_link(t, peers[i].id);
        if (link == NULL)
            continue;
        link_readdress(link, &peers[i]);
        /* New dialer links start at once; failed ones wait for retry. */
        if (link->dialer && !evtimer_pending(link->retry, NULL))
            link_dial(link);
    }
    return 0;
}

/* ---- sending and statistics --------------------------------------------- */

bool
transport_send(transport *t, const char *peer_id, const uint8_t *data,
               size_t len)
{
    transport_link *link = peer_id ? transport_find_link(t, peer_id) : NULL;
    if (link == NULL) {
        log_debug("peer transport: frame for unknown peer %s dropped",
                  peer_id ? peer_id : "(null)");
        return false;
    }
    if (len > t->max_frame) {
        log_verbose("peer %s: frame of %zu bytes over the limit of %zu, "
                    "dropped", peer_id, len, t->max_frame);
        link->stats.drops++;
        return false;
    }
    if (link->conn == NULL ||
        !transport_conn_send(link->conn, TRANSPORT_MSG_DATA, data, len)) {
        link->stats.drops++;
        return false;
    }
    link->stats.frames_out++;
    link->stats.bytes_out += len;
    return true;
}

bool
transport_connected(const transport *t, const char *peer_id)
{
    const transport_link *link = transport_find_link(t, peer_id);
    return link != NULL && link->conn != NULL;
}

size_t
transport_peer_count(const transport *t)
{
    return t->nlinks;
}

static void
fill_stats(const transport_link *link, transport_peer_stats *out)
{
    *out = link->stats;
    out->connected = link->conn != NULL;
    out->out_buffered = link->conn ? transport_conn_buffered(link->conn) : 0;
}

bool
transport_peer_stats_at(const transport *t, size_t i,
                        transport_peer_stats *out)
{
    if (i >= t->nlinks)
        return false;
    fill_stats(t->links[i], out);
    return true;
}

bool
transport_peer_stats_get(const transport *t, const char *peer_id,
                         transport_peer_stats *out)
{
    const transport_link *link = transport_find_link(t, peer_id);
    if (link == NULL)
        return false;
    fill_stats(link, out);
    return true;
}

void
transport_get_totals(const transport *t, transport_totals *out)
{
    *out = t->totals;
    out->connections = 0;
    for (const transport_conn *c = t->conns; c != NULL; c = c->next)
        out->connections++;
    out->handshaking = count_handshaking(t);
}
