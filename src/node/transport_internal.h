/*
 * transport_internal.h -- structures shared by transport.c (lifecycle,
 * listening, peers, reconnects, sending) and transport_conn.c (one
 * connection's handshake and framing state machine).  Not for other layers.
 */
#ifndef TRANSPORT_INTERNAL_H
#define TRANSPORT_INTERNAL_H

#include <event2/event.h>
#include <event2/listener.h>
#include <sys/socket.h>

#include "node/transport.h"
#include "node/transport_wire.h"

/* Unauthenticated connections held at once.  Bounds what anyone who can
 * reach the port can make us allocate (each costs a socket, a timer and at
 * most TRANSPORT_HANDSHAKE_FRAME_MAX bytes of input). */
#define TRANSPORT_MAX_HANDSHAKES 64

/* After accept() fails (EMFILE...), the listener pauses this long instead
 * of spinning on the same error. */
#define TRANSPORT_ACCEPT_PAUSE_MS 1000

typedef enum transport_conn_state {
    TRANSPORT_CONN_CONNECTING,          /* outbound TCP connect in progress */
    TRANSPORT_CONN_HELLO,               /* our hello sent; awaiting theirs */
    TRANSPORT_CONN_AUTH,                /* our proof sent; awaiting theirs */
    TRANSPORT_CONN_ACCEPT,              /* we accepted them; awaiting their ok */
    TRANSPORT_CONN_READY,               /* frames flow both ways */
    TRANSPORT_CONN_CLOSED               /* socket shut; struct awaits reaper */
} transport_conn_state;

typedef struct transport_link transport_link;
typedef struct transport_conn transport_conn;

struct transport_conn {
    transport *t;
    transport_conn *prev, *next;        /* in t->conns, then t->graveyard */
    transport_conn_state state;
    bool outbound;
    bool sent_since_ping;               /* skip the next ping: not idle */
    struct bufferevent *bev;
    struct event *timer;                /* handshake deadline, then pings */
    /* The peer this connection is for: from the start when we dialed, once
     * its hello is accepted when it dialed us.  NULL after the peer was
     * removed (the connection is closing then). */
    transport_link *link;
    char addr[TRANSPORT_ADDR_MAX];      /* remote "ip:port" for log lines */
    char remote_id[TRANSPORT_ID_MAX + 1];
    uint8_t nonce[TRANSPORT_NONCE_LEN]; /* the challenge we sent */
};

/* One configured peer and its (at most one) live connection. */
struct transport_link {
    transport *t;
    char host[TRANSPORT_HOST_MAX + 1];
    int port;
    bool dialer;                        /* our id sorts first: we dial */
    transport_conn *conn;               /* the READY connection, or NULL */
    transport_conn *dialing;            /* our attempt in progress, or NULL */
    struct event *retry;                /* reconnect timer (dialer only) */
    uint32_t backoff_ms;                /* 0 after a success */
    transport_peer_stats stats;         /* stats.id is the peer's id */
};

struct transport {
    struct event_base *base;
    struct evdns_base *dns;
    char node_id[TRANSPORT_ID_MAX + 1];
    char cluster_id[TRANSPORT_CLUSTER_MAX + 1];
    uint8_t *secret;                    /* NULL: no authentication */
    size_t secret_len;
    size_t max_frame, max_output;
    uint32_t backoff_min_ms, backoff_max_ms;
    int handshake_timeout_ms, ping_ms, idle_timeout_ms;
    uint64_t rng;                       /* jitter only; nonces use RAND_bytes */
    transport_frame_cb on_frame;
    transport_peer_state_cb on_peer_state;
    void *ctx;

    struct evconnlistener *listeners[TRANSPORT_MAX_BIND];
    size_t nlisteners;
    struct event *accept_pause;
    int port;

    transport_link **links;             /* in set_peers order */
    size_t nlinks;

    transport_conn *conns;              /* open connections, any state */
    transport_conn *graveyard;          /* closed, freed by the reaper */
    struct event *reaper;
    bool freeing;                       /* transport_free: no callbacks */

    transport_totals totals;            /* counters; sizes computed on demand */
    /* The last inbound refusal ("host reason"): an identical one, as a
     * misconfigured peer retries, is logged at verbose, not warning. */
    char last_refusal[TRANSPORT_ADDR_MAX + TRANSPORT_ERROR_MAX];
};

/* transport.c, for transport_conn.c */
transport_link *transport_find_link(const transport *t, const char *id);
void transport_link_ready(transport_link *link, transport_conn *c);
void transport_link_closed(transport_link *link, transport_conn *c,
                           bool was_ready, const char *reason);

/* transport_conn.c, for transport.c */
void transport_conn_accept(transport *t, evutil_socket_t fd,
                           const struct sockaddr *sa, int salen);
void transport_conn_dial(transport *t, transport_link *link);
bool transport_conn_send(transport_conn *c, uint8_t type, const uint8_t *body,
                         size_t len);
/* Closes now (telling the peer why when goodbye is set); the struct is freed
 * later by the reaper, so callers up the stack may still look at it. */
void transport_conn_close(transport_conn *c, const char *goodbye,
                          const char *reason);
void transport_conn_free(transport_conn *c);
size_t transport_conn_buffered(const transport_conn *c);

#endif
