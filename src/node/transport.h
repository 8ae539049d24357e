/*
 * transport.h -- framed, authenticated TCP links between monitors.
 *
 * The transport carries opaque frames (Raft messages the core's codec has
 * already encoded) between the 3-7 monitors of a group.  It knows nothing
 * about Raft: it keeps exactly one TCP connection per pair of monitors,
 * proves both ends know the shared secret, delivers each frame whole and in
 * order, and drops what it cannot deliver (Raft retransmits) instead of
 * buffering without bound.
 *
 * Who dials: for each pair, the monitor whose id sorts first (strcmp, byte
 * order) dials and the other only accepts, so two monitors never race each other into two
 * connections.  Wire format, handshake and limits: docs/transport.md.
 *
 * Everything runs on the caller's event_base; the transport never blocks
 * (except that a non-numeric peer host is resolved synchronously when no
 * evdns_base is given) and never reads a clock except through libevent
 * timers.
 *
 * Callbacks may call transport_send() and transport_set_peers(); they must
 * not call transport_free().  The frame data passed to on_frame is valid
 * until the callback returns.
 */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;

#define TRANSPORT_ID_MAX 64          /* node ids: [A-Za-z0-9_.-]{1,64} */
#define TRANSPORT_CLUSTER_MAX 64     /* cluster ids: printable, no blanks */
#define TRANSPORT_HOST_MAX 255
#define TRANSPORT_SECRET_MAX 1024
#define TRANSPORT_MAX_PEERS 64
#define TRANSPORT_MAX_BIND 16
#define TRANSPORT_ADDR_MAX 272       /* "[host]:port" */
#define TRANSPORT_ERROR_MAX 256
#define TRANSPORT_MAX_TIME_MS 3600000 /* bound on every *_ms option */

/* Defaults, used when the corresponding option is 0. */
#define TRANSPORT_DEFAULT_MAX_FRAME ((size_t)4 << 20)
#define TRANSPORT_DEFAULT_MAX_OUTPUT ((size_t)16 << 20)
#define TRANSPORT_DEFAULT_BACKOFF_MIN_MS 100
#define TRANSPORT_DEFAULT_BACKOFF_MAX_MS 5000
#define TRANSPORT_DEFAULT_HANDSHAKE_TIMEOUT_MS 5000
#define TRANSPORT_DEFAULT_PING_MS 1000
#define TRANSPORT_DEFAULT_IDLE_TIMEOUT_MS 5000

typedef struct transport transport;

/* A whole frame from an authenticated peer, in the order it was sent. */
typedef void (*transport_frame_cb)(void *ctx, const char *peer_id,
                                   const uint8_t *data, size_t len);

/* A peer's link came up (handshake complete) or went down.  Not called for
 * peers removed by transport_set_peers() nor by transport_free(). */
typedef void (*transport_peer_state_cb)(void *ctx, const char *peer_id,
                                        bool connected);

typedef struct transport_options {
    const char *node_id;             /* this monitor */
    const char *cluster_id;          /* both ends must agree */
    const char *const *bind;         /* 1..TRANSPORT_MAX_BIND IP addresses */
    size_t nbind;
    int port;                        /* 0 = any free port (tests) */
    const char *secret;              /* NULL or "" = no authentication */
    size_t max_frame;                /* largest payload accepted or sent */
    size_t max_output;               /* bytes queued per peer before drops */
    int backoff_min_ms;              /* reconnect delay, doubled per failure */
    int backoff_max_ms;
    int handshake_timeout_ms;        /* connect + handshake must finish */
    int ping_ms;                     /* keepalive when otherwise idle */
    int idle_timeout_ms;             /* close a link silent this long; must
                                        exceed 2 * ping_ms (of the peer) */
    uint64_t seed;                   /* for reconnect jitter */
    struct evdns_base *dns;          /* optional, for non-numeric hosts */
    transport_frame_cb on_frame;
    transport_peer_state_cb on_peer_state;
    void *ctx;                       /* passed to both callbacks */
} transport_options;

typedef struct transport_peer {
    const char *id;
    const char *host;                /* IP address or name */
    int port;
} transport_peer;

typedef struct transport_peer_stats {
    char id[TRANSPORT_ID_MAX + 1];
    char address[TRANSPORT_ADDR_MAX]; /* of the current connection, or "" */
    bool connected;                  /* handshake complete */
    bool dialer;                     /* we dial this peer (our id sorts first) */
    uint64_t connects;               /* handshakes completed */
    uint64_t frames_in, bytes_in;    /* delivered to on_frame */
    uint64_t frames_out, bytes_out;  /* queued by transport_send */
    uint64_t drops;                  /* frames transport_send refused */
    size_t out_buffered;             /* bytes queued, not yet written */
    char last_error[TRANSPORT_ERROR_MAX]; /* why the last connection ended */
} transport_peer_stats;

typedef struct transport_totals {
    size_t connections;              /* open sockets, any state */
    size_t handshaking;              /* of which not yet authenticated */
    uint64_t accepted;               /* inbound TCP connections */
    uint64_t refused;                /* handshakes refused, both directions */
    uint64_t protocol_errors;        /* closed for garbage, bad frames */
} transport_totals;

/* Validates the options, binds every address (logging the one that fails)
 * and starts listening.  Returns NULL on invalid options or bind failure.
 * No peers yet: call transport_set_peers(). */
transport *transport_new(struct event_base *base, const transport_options *opts);

/* Closes every connection (telling peers why) and frees everything.  No
 * callbacks run.  Must not be called from inside a transport callback. */
void transport_free(transport *t);

/* Replaces the peer list.  Our own id may appear in it and is skipped.
 * Removed peers are disconnected, new ones dialed (when our id sorts
 * first), peers whose address changed are reconnected.  Returns 0, or -1
 * with nothing changed when an entry is invalid (logged). */
int transport_set_peers(transport *t, const transport_peer *peers, size_t n);

/* Queues one frame for peer_id.  Returns false when peer_id is not a peer,
 * and, counting a drop in its stats, when it is not connected, the frame
 * exceeds max_frame or the peer's queue would exceed max_output.  Never
 * blocks; a dropped frame is gone (Raft retransmits). */
bool transport_send(transport *t, const char *peer_id, const uint8_t *data,
                    size_t len);

/* The port actually listened on (useful with port 0). */
int transport_port(const transport *t);

bool transport_connected(const transport *t, const char *peer_id);

/* Per-peer statistics: by index (0..transport_peer_count()-1, in
 * set_peers order) or by id.  Return false when there is no such peer. */
size_t transport_peer_count(const transport *t);
bool transport_peer_stats_at(const transport *t, size_t i,
                             transport_peer_stats *out);
bool transport_peer_stats_get(const transport *t, const char *peer_id,
                              transport_peer_stats *out);

void transport_get_totals(const transport *t, transport_totals *out);

/* [A-Za-z0-9_.-]{1,64} */
bool transport_valid_id(const char *id);

#endif
