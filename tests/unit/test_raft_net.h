/*
 * test_raft_net.h -- a tiny in-memory cluster for the Raft unit tests.
 *
 * Each node is a raft instance plus what a runtime would keep: durable
 * storage filled only from ready batches (so a crash keeps exactly what was
 * persisted), a toy state machine, and a queue of encoded messages (every
 * message goes through raft_codec).  Tests drive it step by step or let it
 * run for some virtual milliseconds.
 */
#ifndef TEST_RAFT_NET_H
#define TEST_RAFT_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/raft.h"

#define TN_MAX 8
#define TN_TICK_MS 5

typedef struct tn_node {
    raft *r;
    char id[16];
    bool up;
    raft_config cfg;
    /* durable storage */
    raft_hard_state hs;
    raft_snapshot *snap;
    raft_entry *log;
    size_t n_log, cap_log;
    /* state machine: count and order-sensitive hash of applied NORMAL
     * entries, as of index `applied` */
    uint64_t applied;
    uint64_t sm_count;
    uint64_t sm_hash;
    raft_read_state reads[64];
    size_t n_reads;
    bool fail_next_persist;
} tn_node;

typedef struct tn_queued {
    int from, to;
    uint8_t *bytes;
    size_t len;
} tn_queued;

typedef struct tn_net {
    int n;
    tn_node nodes[TN_MAX];
    tn_queued *q;
    size_t nq, capq;
    bool cut[TN_MAX][TN_MAX];           /* drop messages from i to j */
    uint64_t now;
    uint64_t delivered[RAFT_MSG_TYPE_MAX + 1];
    uint64_t rejects;                   /* APPEND_RESP rejections delivered */
    uint64_t appends_to[TN_MAX];        /* APPENDs with entries, per target */
} tn_net;

/* T = 100 ms, heartbeat 10 ms, 8 in flight, 16 entries per message. */
raft_config tn_config(const char *id);

/* n nodes "n1".."nN"; the first `voters` bootstrap as the initial voters,
 * the others start empty (to be added as learners).  tmpl (may be NULL)
 * supplies every config field but the id. */
tn_net *tn_net_new(int n, int voters, const raft_config *tmpl);
void tn_net_free(tn_net *t);

int tn_index(const tn_net *t, const char *id);
/* Processes node i's ready batches: persist, queue messages, apply. */
void tn_drain(tn_net *t, int i);
/* Drains every node and delivers queued messages until nothing moves. */
void tn_flush(tn_net *t);
/* Advances virtual time by ms in TN_TICK_MS steps, ticking and flushing. */
void tn_run(tn_net *t, uint64_t ms);
/* The up node that is leader in the highest term, or -1. */
int tn_leader(const tn_net *t);
/* Runs until some node leads (at most max_ms); returns it or -1. */
int tn_wait_leader(tn_net *t, uint64_t max_ms);
/* Makes node i campaign now (as a leadership transfer would: a
 * TIMEOUT_NOW in its term) and settles; returns the leader or -1. */
int tn_elect(tn_net *t, int i);
void tn_crash(tn_net *t, int i);
void tn_restart(tn_net *t, int i);
/* Isolates node i (both directions) or heals all links. */
void tn_isolate(tn_net *t, int i);
void tn_heal(tn_net *t);
/* Proposes data on node i and flushes; returns the index or 0. */
uint64_t tn_propose(tn_net *t, int i, const char *data);
/* Node i snapshots its state machine at its applied index and stores the
 * snapshot durably as a runtime would; returns raft_snapshot_taken's code. */
int tn_snapshot(tn_net *t, int i);
/* Drops every queued message. */
void tn_clear_queue(tn_net *t);

/* ---- single-node helpers ---------------------------------------------- */

/* A bootstrapped node `id` of voters "n1".."nN", clock started at 0. */
raft *tn_solo(const char *id, int nvoters, const raft_config *tmpl);
/* Takes the ready batch, discards it as a runtime that persisted
 * everything would, and returns how many messages it had. */
size_t tn_settle(raft *r);
/* Finds a message of type to `to` (NULL: any) in rd. */
const raft_msg *tn_find(const raft_ready *rd, uint8_t type, const char *to);
raft_msg tn_msg(uint8_t type, const char *from, const char *to, uint64_t term);

#endif
