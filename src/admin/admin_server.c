/*
 * admin_server.c -- listeners, accept, the client life cycle and input.
 *
 * One bufferevent per client.  Input is moved from it into the client's
 * own contiguous qbuf, which the incremental parser consumes; output goes
 * straight into the bufferevent's output buffer (admin_reply.c).
 *
 * A client is never freed from inside a command handler or a reply call:
 * those only set a flag and schedule the client's async_ev, so the
 * pointers a handler holds stay valid until it returns.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "admin/admin_internal.h"
#include "util/log.h"
#include "util/mem.h"

/* A closing client that does not take its last replies within this long
 * (it stopped reading) is dropped anyway. */
#define ADMIN_CLOSE_TIMEOUT_S 10
#define ADMIN_RELISTEN_S 1
/* An idle client gives back a query buffer grown beyond this. */
#define ADMIN_QBUF_KEEP (64 * 1024)

void
admin_options_init(admin_options *o)
{
    memset(o, 0, sizeof(*o));
    o->port = 26379;
    o->version = "7.0.0";
    o->max_clients = 10000;
    o->max_args = 1024;
    o->max_bulk = 512 * 1024;
    o->max_inline = 64 * 1024;
    o->max_query = 2 * 1024 * 1024;
    o->max_output = 16 * 1024 * 1024;
}

long long
admin_now_ms(const admin_server *s)
{
    struct timeval tv;
    event_base_gettimeofday_cached(s->base, &tv);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- options ----------------------------------------------------------- */

static bool
normalize_options(admin_options *o)
{
    admin_options def;
    admin_options_init(&def);
    size_t *lim[] = {&o->max_clients, &o->max_args, &o->max_bulk,
                     &o->max_inline, &o->max_query, &o->max_output};
    const size_t defs[] = {def.max_clients, def.max_args, def.max_bulk,
                           def.max_inline, def.max_query, def.max_output};
    for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++)
        if (*lim[i] == 0)
            *lim[i] = defs[i];
    if (o->version == NULL)
        o->version = def.version;
    if (o->port < 0 || o->port > 65535 || o->nbind > ADMIN_MAX_BIND) {
        log_warning("admin port: invalid port %d or bind count %zu",
                    o->port, o->nbind);
        return false;
    }
    /* The parser waits for a whole bulk in the query buffer. */
    if (o->max_query < o->max_bulk + o->max_inline) {
        log_warning("admin port: max_query (%zu) must be at least max_bulk "
                    "+ max_inline (%zu)", o->max_query,
                    o->max_bulk + o->max_inline);
        return false;
    }
    return true;
}

/* ---- clients ----------------------------------------------------------- */

bool
admin_client_closing(const admin_client *c)
{
    return (c->flags &
            (ADMIN_CF_CLOSE_AFTER_REPLY | ADMIN_CF_CLOSE_ASAP)) != 0;
}

size_t
admin_client_output_len(const admin_client *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void
admin_client_kick(admin_client *c)
{
    event_active(c->async_ev, EV_TIMEOUT, 1);
}

static void
client_free(admin_client *c)
{
    admin_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->pending)
        c->pending->client = NULL;
    bufferevent_free(c->bev);
    event_free(c->async_ev);
    admin_parser_free(&c->parser);
    admin_subs_free(&c->channels);
    admin_subs_free(&c->patterns);
    free(c->qbuf);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    s->nclients--;
    free(c);
}

void
admin_client_close(admin_client *c)
{
    if (c == NULL || admin_client_closing(c))
        return;
    c->flags |= ADMIN_CF_CLOSE_AFTER_REPLY;
    struct timeval tv = {ADMIN_CLOSE_TIMEOUT_S, 0};
    bufferevent_set_timeouts(c->bev, NULL, &tv);
    admin_client_kick(c);
}

void
admin_client_close_asap(admin_client *c)
{
    if (c->flags & ADMIN_CF_CLOSE_ASAP)
        return;
    c->flags |= ADMIN_CF_CLOSE_ASAP;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    admin_client_kick(c);
}

static void
protocol_error(admin_client *c, const char *msg)
{
    log_verbose("Protocol error (%s) from client: id=%llu addr=%s", msg,
                (unsigned long long)c->id, c->addr);
    c->srv->st.protocol_errors++;
    admin_reply_error(c, msg);
    admin_client_close(c);
}

static void
limits_for(const admin_client *c, admin_proto_limits *lim)
{
    const admin_options *o = &c->srv->opt;
    bool unauth = admin_auth_required(c);
    lim->max_args = o->max_args;
    lim->max_bulk = o->max_bulk;
    lim->max_inline = o->max_inline;
    lim->unauth_args = unauth ? ADMIN_UNAUTH_ARGS : 0;
    lim->unauth_bulk = unauth ? ADMIN_UNAUTH_BULK : 0;
}

/* Runs the complete commands in qbuf, in order, until one defers its reply
 * or the client starts closing. */
static void
process_input(admin_client *c)
{
    size_t pos = 0;
    while (pos < c->qlen && c->pending == NULL && !admin_client_closing(c)) {
        admin_proto_limits lim;
        limits_for(c, &lim);
        size_t used = 0;
        admin_proto_status st = admin_parser_feed(
            &c->parser, &lim, c->qbuf + pos, c->qlen - pos, &used);
        pos += used;
        if (st == ADMIN_PROTO_NEED_MORE)
            break;
        if (st == ADMIN_PROTO_ERROR) {
            protocol_error(c, c->parser.error);
            break;
        }
        admin_args a = {c->parser.argc, c->parser.argv, c->parser.len};
        admin_dispatch(c, &a);
        admin_parser_reset(&c->parser);
    }
    if (admin_client_closing(c)) {
        c->qlen = 0;                    /* nothing more will run */
        admin_parser_reset(&c->parser);
        return;
    }
    if (pos > 0) {
        memmove(c->qbuf, c->qbuf + pos, c->qlen - pos);
        c->qlen -= pos;
    }
    if (c->qlen == 0 && c->qcap > ADMIN_QBUF_KEEP) {
        free(c->qbuf);              /* one big request must not pin it */
        c->qbuf = NULL;
        c->qcap = 0;
    }
    if (c->qlen + c->parser.arg_bytes > c->srv->opt.max_query)
        protocol_error(c, "Protocol error: query buffer limit exceeded");
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    admin_client *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    c->srv->st.total_net_input_bytes += n;
    if (n == 0)
        return;
    if (admin_client_closing(c)) {
        /* Keep draining: closing a socket with unread input sends RST,
         * which can destroy our last reply before the peer reads it. */
        evbuffer_drain(in, n);
        return;
    }
    if (c->qlen + n > c->qcap) {
        size_t cap = c->qcap ? c->qcap * 2 : 4096;
        if (cap < c->qlen + n)
            cap = c->qlen + n;
        c->qbuf = xrealloc(c->qbuf, cap);
        c->qcap = cap;
    }
    evbuffer_remove(in, c->qbuf + c->qlen, n);
    c->qlen += n;
    process_input(c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    admin_client *c = arg;
    /* Called when the output drained; the last reply is out. */
    if ((c->flags & ADMIN_CF_CLOSE_AFTER_REPLY) &&
        !(c->flags & ADMIN_CF_CLOSE_ASAP))
        client_free(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    admin_client *c = arg;
    /* A peer that half-closed after pipelining ("printf 'PING\r\n' | nc")
     * still gets its replies. */
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
        c->pending == NULL && !(c->flags & ADMIN_CF_CLOSE_ASAP) &&
        admin_client_output_len(c) > 0) {
        admin_client_close(c);
        return;
    }
    if (what & BEV_EVENT_EOF)
        log_verbose("Client closed connection id=%llu addr=%s",
                    (unsigned long long)c->id, c->addr);
    else
        log_verbose("Client id=%llu addr=%s dropped: %s",
                    (unsigned long long)c->id, c->addr,
                    (what & BEV_EVENT_TIMEOUT)
                        ? "timeout writing the last replies"
                        : evutil_socket_error_to_string(
                              EVUTIL_SOCKET_ERROR()));
    client_free(c);
}

static void
on_async(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    admin_client *c = arg;
    if (c->flags & ADMIN_CF_CLOSE_ASAP) {
        client_free(c);
    } else if (c->flags & ADMIN_CF_CLOSE_AFTER_REPLY) {
        if (admin_client_output_len(c) == 0)
            client_free(c);
    } else {
        process_input(c);               /* resumed after a deferred reply */
    }
}

static void
format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[64] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        evutil_inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
        port = ntohs(in4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        evutil_inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, cap, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
}

static void
tune_socket(evutil_socket_t fd)
{
    int one = 1;
    /* Replies are small and clients wait for them: no Nagle delay. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Find peers that vanished without a FIN (Redis' tcp-keepalive 300). */
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
#ifdef TCP_KEEPIDLE
    int idle = 300, intvl = 100, cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#endif
}

static void
client_new(admin_server *s, evutil_socket_t fd, const struct sockaddr *sa)
{
    struct bufferevent *bev =
        bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        log_warning("admin port: cannot set up a connection, closing it");
        evutil_closesocket(fd);
        return;
    }
    admin_client *c = xcalloc(1, sizeof(*c));
    c->async_ev = event_new(s->base, -1, 0, on_async, c);
    if (c->async_ev == NULL) {
        bufferevent_free(bev);
        free(c);
        return;
    }
    tune_socket(fd);
    c->srv = s;
    c->bev = bev;
    c->fd = fd;
    c->id = ++s->next_id;
    format_addr(sa, c->addr, sizeof(c->addr));
    struct sockaddr_storage local;
    socklen_t llen = sizeof(local);
    if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
        format_addr((struct sockaddr *)&local, c->laddr, sizeof(c->laddr));
    admin_parser_init(&c->parser);
    c->ctime_ms = c->last_ms = admin_now_ms(s);
    snprintf(c->last_cmd, sizeof(c->last_cmd), "NULL");
    c->next = s->clients;       /* newest first; CLIENT LIST reverses */
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->nclients++;
    s->st.total_connections++;
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    log_verbose("Accepted %s", c->addr);
}

/* ---- listeners --------------------------------------------------------- */

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
          int salen, void *arg)
{
    (void)l;
    (void)salen;
    admin_server *s = arg;
    if (s->nclients >= s->opt.max_clients) {
        static const char msg[] = "-ERR max number of clients reached\r\n";
        /* Best effort on a fresh socket: its send buffer is empty. */
        ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
        (void)w;
        evutil_closesocket(fd);
        s->st.rejected_connections++;
        log_verbose("admin port: max clients (%zu) reached, connection "
                    "refused", s->opt.max_clients);
        return;
    }
    client_new(s, fd, sa);
}

static void
on_relisten(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    admin_server *s = arg;
    for (size_t i = 0; i < s->nlisteners; i++)
        evconnlistener_enable(s->listeners[i]);
}

/* Only non-retriable accept errors get here (EMFILE, ENOBUFS ...).  The
 * pending connection stays in the backlog, so accepting again at once
 * would spin; pause instead. */
static void
on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    admin_server *s = arg;
    log_warning("admin port: accept failed: %s; pausing accepts for %ds",
                evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()),
                ADMIN_RELISTEN_S);
    for (size_t i = 0; i < s->nlisteners; i++)
        evconnlistener_disable(s->listeners[i]);
    struct timeval tv = {ADMIN_RELISTEN_S, 0};
    evtimer_add(s->relisten_ev, &tv);
}

static bool
listen_on(admin_server *s, const char *host, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    int len;
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
                     LEV_OPT_REUSEABLE;
    if (evutil_inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        len = sizeof(*in4);
    } else if (evutil_inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        len = sizeof(*in6);
        /* So "0.0.0.0 ::" can be bound together. */
        flags |= LEV_OPT_BIND_IPV6ONLY;
    } else {
        log_warning("admin port: bind address '%s' is not a numeric IPv4 "
                    "or IPv6 address", host);
        return false;
    }
    struct evconnlistener *l = evconnlistener_new_bind(
        s->base, on_accept, s, flags, 511, (struct sockaddr *)&ss, len);
    if (l == NULL) {
        log_warning("admin port: cannot listen on %s port %d: %s", host,
                    port, strerror(errno));
        return false;
    }
    evconnlistener_set_error_cb(l, on_accept_error);
    s->listeners[s->nlisteners++] = l;
    return true;
}

int
admin_server_port(const admin_server *s)
{
    if (s->nlisteners == 0)
        return -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    evutil_socket_t fd = evconnlistener_get_fd(s->listeners[0]);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* ---- server ------------------------------------------------------------ */

admin_server *
admin_server_new(struct event_base *base, const admin_options *opt)
{
    admin_server *s = xcalloc(1, sizeof(*s));
    s->base = base;
    s->opt = *opt;
    if (!normalize_options(&s->opt)) {
        free(s);
        return NULL;
    }
    s->version = xstrdup(s->opt.version);
    s->opt.version = s->version;
    s->opt.requirepass = NULL;          /* only its hash is kept */
    for (size_t i = 0; i < ADMIN_MAX_BIND; i++)
        s->opt.bind[i] = NULL;
    admin_server_set_password(s, opt->requirepass);
    s->relisten_ev = evtimer_new(base, on_relisten, s);
    if (s->relisten_ev == NULL ||
        admin_server_register(s, admin_generic_cmds, admin_generic_ncmds,
                              s) < 0)
        goto fail;
    if (opt->nbind == 0 && !listen_on(s, "127.0.0.1", opt->port))
        goto fail;
    for (size_t i = 0; i < opt->nbind; i++)
        if (!listen_on(s, opt->bind[i], opt->port))
            goto fail;
    log_notice("admin port listening on port %d", admin_server_port(s));
    return s;
fail:
    admin_server_free(s);
    return NULL;
}

void
admin_server_free(admin_server *s)
{
    if (s == NULL)
        return;
    while (s->clients)
        client_free(s->clients);
    for (size_t i = 0; i < s->nlisteners; i++)
        evconnlistener_free(s->listeners[i]);
    if (s->relisten_ev)
        event_free(s->relisten_ev);
    free(s->cmds);
    free(s->version);
    free(s);
}

void
admin_server_set_password(admin_server *s, const char *password)
{
    s->has_pass = password != NULL && password[0] != '\0';
    memset(s->pass_hash, 0, sizeof(s->pass_hash));
    if (s->has_pass)
        admin_hash_password(password, s->pass_hash);
}

void
admin_server_stats(const admin_server *s, admin_stats *out)
{
    *out = s->st;
    out->connected_clients = s->nclients;
    out->max_clients = s->opt.max_clients;
    out->blocked_clients = 0;
    out->pubsub_clients = 0;
    for (const admin_client *c = s->clients; c; c = c->next) {
        out->blocked_clients += c->pending != NULL;
        out->pubsub_clients += admin_subscriptions(c) > 0;
    }
    admin_pubsub_counts(s, &out->pubsub_channels, &out->pubsub_patterns);
}

/* ---- accessors --------------------------------------------------------- */

uint64_t
admin_client_id(const admin_client *c)
{
    return c->id;
}

const char *
admin_client_name(const admin_client *c)
{
    return c->name ? c->name : "";
}

const char *
admin_client_addr(const admin_client *c)
{
    return c->addr;
}

admin_server *
admin_client_server(const admin_client *c)
{
    return c->srv;
}
