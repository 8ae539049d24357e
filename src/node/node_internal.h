/*
 * node_internal.h -- the node's state, shared by node.c (lifecycle and the
 * ready loop), node_write.c (submissions, forwarding, waiters) and
 * node_duty.c (leader housekeeping, shutdown).  Not for other modules.
 */
#ifndef NODE_INTERNAL_H
#define NODE_INTERNAL_H

#include <event2/event.h>

#include "node/node.h"
#include "node/storage.h"
#include "node/transport.h"

/* Peer frames: one type byte, then the payload. */
enum {
    NODE_FRAME_RAFT = 1,        /* raft_codec bytes */
    NODE_FRAME_FWD = 2,         /* a follower's write for the leader */
    NODE_FRAME_FWD_ACK = 3,     /* the leader's answer: index/term or error */
    NODE_FRAME_OPINION = 4,     /* a monitor's sdown opinions, to the leader */
    NODE_FRAME_HELLO = 5        /* liveness between all monitors (followers
                                   exchange no Raft traffic with each other) */
};

#define NODE_HELLO_MS 250

/* One monitor's opinion of one set's master, as the leader last heard it
 * (or this monitor's own, with from = its id). */
typedef struct opinion {
    char set[CONFIG_STR_MAX];
    config_addr master;         /* the master the opinion is about */
    char from[RAFT_ID_MAX + 1];
    bool sdown;
    bool known;
    uint64_t at_ms;
} opinion;

/* When we last heard from a peer, and whether each set's monitors were
 * told it is sdown (peer monitors are judged like instances: silence for
 * the set's down_after_ms). */
typedef struct peer_seen {
    char id[RAFT_ID_MAX + 1];
    uint64_t at_ms;
    char (*sdown_sets)[CONFIG_STR_MAX];
    int nsdown;
} peer_seen;

typedef struct odown_proposal {
    char set[CONFIG_STR_MAX];
    bool flag;
    uint64_t at_ms;
} odown_proposal;

enum { FWD_TOPO = 1, FWD_CONF = 2, FWD_TRANSFER = 3 };

typedef enum waiter_state {
    W_FORWARDED,                /* sent to the leader, no ack yet */
    W_PROPOSED,                 /* in the log at (index, term) */
    W_DONE
} waiter_state;

/* The outcome of a recently applied entry, for a forwarded write whose
 * acknowledgement arrives after this monitor already applied it. */
#define NODE_RECENT_RESULTS 64
typedef struct recent_result {
    uint64_t index;
    uint64_t term;
    bool ok;
    char error[256];
    int matched;
} recent_result;

typedef struct waiter {
    uint64_t handle;
    waiter_state state;
    uint64_t index;
    uint64_t term;
    uint64_t deadline_ms;
    node_done_fn done;
    void *arg;
} waiter;

struct node {
    const config *cfg;
    struct event_base *base;
    events *ev;
    raft *r;
    storage *st;
    transport *tp;
    topo topo;

    struct event *tick_ev;
    struct event *process_ev;   /* deferred node_process, see node_kick */
    uint64_t last_duty_ms;
    bool stalled;               /* the last duty round came late */
    raft_role role;
    raft_id leader;
    uint64_t term;
    uint64_t leader_seen_ms;    /* last frame from the leader */
    raft_conf conf;             /* membership in force, for peer diffs */

    uint64_t applied;
    uint64_t snap_index;
    uint64_t seeded_term;       /* leader seeded [master]s in this term */
    uint64_t member_sent_ms;    /* last self-registration attempt */
    bool config_compared;

    waiter *waiters;
    int nwaiters;
    recent_result recent[NODE_RECENT_RESULTS];
    uint64_t next_handle;

    void (*shutdown_done)(void *);
    void *shutdown_arg;
    uint64_t shutdown_deadline_ms;

    opinion *opinions;          /* leader: everyone's; others: own only */
    int nopinions;
    uint64_t opinions_sent_ms;
    peer_seen *peers_seen;
    int npeers_seen;
    uint64_t started_ms;
    uint64_t hello_sent_ms;
    uint64_t leader_since_ms;   /* when this monitor became leader */
    odown_proposal *odown_pending;  /* last judgement proposed per set */
    int nodown_pending;

    node_stats stats;
};

uint64_t node_now_ms(void);

/* node.c */
void node_process(node *n);
/* Runs node_process once later in this loop turn, so proposals and
 * frames arriving together share one fsync (group commit). */
void node_kick(node *n);
void node_send_frame(node *n, const char *to, uint8_t type, const uint8_t *p,
                     size_t len);

/* node_write.c */
void node_on_fwd(node *n, const char *from, const uint8_t *p, size_t len);
void node_on_fwd_ack(node *n, const uint8_t *p, size_t len);
void node_waiters_applied(node *n, const raft_entry *e,
                          const topo_result *res);
void node_waiters_expire(node *n, uint64_t now);
void node_waiters_fail_all(node *n, const char *error);
/* A snapshot jumped applied to `index`: writes waiting at or below it
 * cannot learn their outcome. */
void node_waiters_snapshot(node *n, uint64_t index);

/* node_odown.c */
void node_on_opinion(node *n, const char *from, const uint8_t *p, size_t len);
void node_opinions_duty(node *n, uint64_t now);
void node_opinions_free(node *n);

/* node_duty.c */
void node_duties(node *n, uint64_t now);
void node_peer_heard(node *n, const char *id, uint64_t now);
void node_peers_free(node *n);
void node_shutdown_check(node *n, uint64_t now);

#endif
