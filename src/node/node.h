/*
 * node.h -- one monitor of the group: the Raft core driven by libevent,
 * durable storage, the peer transport and the replicated topology.
 *
 * The ready loop obeys the core's contract (docs/raft.md): persist and
 * fsync, then send, then apply, then advance.  Writes (SENTINEL MONITOR,
 * SET, RAFT ADD-PEER ...) may be submitted on any monitor: a follower
 * forwards them to the leader over the peer link, and every submitter is
 * answered only once the entry is committed and applied locally, so a
 * client that got +OK from a monitor reads its own write there.
 */
#ifndef NODE_H
#define NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/raft.h"
#include "events/events.h"
#include "node/topo.h"

struct event_base;
typedef struct node node;

typedef struct node_options {
    const config *cfg;
    struct event_base *base;
    events *ev;
} node_options;

/* Opens data_dir, recovers or bootstraps, starts the transport and the
 * timers.  NULL with a message in err on failure (damaged data, lock held,
 * port in use...). */
node *node_new(const node_options *o, char *err, size_t errlen);
void node_free(node *n);

/* SIGTERM: a leader first hands leadership to the most caught-up voter
 * (bounded by one election timeout), then done(arg) is called. */
void node_shutdown(node *n, void (*done)(void *arg), void *arg);

/* ---- reads: the committed state ------------------------------------------ */

const topo *node_topo(const node *n);
void node_status(const node *n, raft_status *st);
const char *node_id(const node *n);
/* stale_reads = no and cut off from the group: answer -NOQUORUM. */
bool node_readable(const node *n);
/* True while this monitor's Raft role is leader (check-quorum makes a
 * leader cut off from a majority step down within an election timeout). */
bool node_is_leader(const node *n);

typedef struct node_stats {
    uint64_t fsyncs;
    uint64_t frames_in;
    uint64_t frames_out;
    uint64_t forwarded;
    uint64_t snapshots_taken;
    uint64_t snapshots_installed;
    int pending_writes;
} node_stats;
void node_get_stats(const node *n, node_stats *st);

/* Milliseconds since a frame from monitor id (since start when never);
 * -1 for this monitor itself. */
int64_t node_peer_silence_ms(const node *n, const char *id);
bool node_peer_sdown(const node *n, const char *id, const char *set);

/* The current term while this monitor is leader and an entry of that term
 * is committed (it has seen everything committed before); 0 otherwise.
 * The failover driver acts only then, and fences by this term. */
uint64_t node_leader_term(const node *n);

/* Transfers leadership to the most caught-up voter (a new term follows). */
void node_step_aside(node *n);

/* ---- sdown opinions and odown ------------------------------------------------ */

/* This monitor's opinion of a set's master at address `master` (known =
 * false in TILT: no opinion); an opinion about another address than the
 * committed master (from before a switch-master) never counts.  Sent to the leader when it changes and refreshed every
 * second; the leader commits odown when `quorum` fresh opinions agree. */
void node_report_opinion(node *n, const char *set, const config_addr *master,
                         bool sdown, bool known);

/* ---- writes ------------------------------------------------------------------ */

/* The outcome of a submitted write, delivered exactly once unless the
 * submission was cancelled: res->ok, or res->error as a whole RESP error
 * line such as "-ERR No such master with that name" (see topo_result). */
typedef void (*node_done_fn)(void *arg, const topo_result *res);

/* Each returns a handle identifying the write (never 0); done is called
 * exactly once. */
uint64_t node_submit(node *n, const topo_cmd *c, node_done_fn done,
                     void *arg);
uint64_t node_submit_conf(node *n, raft_conf_op op, const char *id,
                          const char *addr, node_done_fn done, void *arg);
uint64_t node_transfer(node *n, const char *id, node_done_fn done, void *arg);

#endif
