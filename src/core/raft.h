/*
 * raft.h -- the pure Raft consensus core.
 *
 * The core is a deterministic state machine: it does no I/O, reads no clock,
 * keeps no global state and draws randomness only from the seed in its
 * config.  The runtime (or the simulator) feeds it time (raft_tick), messages
 * (raft_step) and requests (raft_propose...), and drains its output in
 * batches (raft_get_ready / raft_advance), in the etcd-raft "Ready" style.
 *
 * The one rule the runtime must never break, for every batch:
 *
 *     1. persist  (snapshot, truncation, entries, hard state) and fsync
 *     2. send     the batch's messages -- only after step 1 is durable
 *     3. apply    the batch's snapshot, then its committed entries;
 *                 answer its read states once applied >= their index
 *     4. advance  raft_advance(r, &rd)
 *
 * Between raft_get_ready and raft_advance (or raft_persist_failed) no other
 * function may be called except the read-only ones (raft_get_status,
 * raft_term_at, raft_has_ready); mutating calls return RAFT_EBUSY.  That rule
 * is what keeps every pointer in the batch valid without copying.
 * docs/raft.md has the full contract.
 */
#ifndef RAFT_H
#define RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/raft_types.h"

/* ---- limits ------------------------------------------------------------ */

#define RAFT_MAX_MEMBERS 16     /* voters + learners in one configuration */
#define RAFT_CTX_MAX 256        /* opaque per-member context (its address) */
#define RAFT_MAX_INFLIGHT 64    /* upper bound for raft_config.max_inflight */
#define RAFT_MAX_ENTRY_BYTES (1u << 20)   /* one proposal's payload */
#define RAFT_MAX_MSG_ENTRIES 4096         /* bound for max_msg_entries */
#define RAFT_MAX_MSG_BYTES (16u << 20)    /* bound for max_msg_bytes */

/* ---- error codes (all negative; RAFT_OK is 0) ------------------------- */

enum {
    RAFT_OK = 0,
    RAFT_EINVAL = -1,        /* bad argument, malformed message, bad state */
    RAFT_ENOTLEADER = -2,    /* only the leader can do that */
    RAFT_ETRANSFER = -3,     /* leadership transfer in progress */
    RAFT_ECONFPENDING = -4,  /* a membership change is not committed yet, or
                                no entry of this leader's term is */
    RAFT_EBUSY = -5,         /* a ready batch is outstanding */
    RAFT_ENOTFOUND = -6,     /* no such member / index beyond the log */
    RAFT_EEXIST = -7,        /* member already present */
    RAFT_ENOTCAUGHTUP = -8,  /* learner has not replicated the commit yet */
    RAFT_ECOMPACTED = -9,    /* index is covered by the snapshot */
    RAFT_ESTATE = -10,       /* bootstrap/restore on a node that has state */
    RAFT_ETOOBIG = -11,      /* too many members / payload too large */
    RAFT_ECODEC = -12        /* raft_codec: bytes are not a valid message */
};

const char *raft_strerror(int err);

/* ---- roles ------------------------------------------------------------- */

/* RAFT_PRECANDIDATE is an internal role (a pre-vote round in progress);
 * raft_get_status reports it as RAFT_CANDIDATE.  RAFT_LEARNER is never a
 * role the state machine is in: status reports it for any non-leader that
 * is not a voter of the configuration in force. */
typedef enum raft_role {
    RAFT_FOLLOWER = 0,
    RAFT_PRECANDIDATE = 1,
    RAFT_CANDIDATE = 2,
    RAFT_LEADER = 3,
    RAFT_LEARNER = 4
} raft_role;

const char *raft_role_name(raft_role role);

/* ---- membership -------------------------------------------------------- */

typedef struct raft_member {
    raft_id id;
    bool voter;                        /* false: learner (non-voting) */
    uint16_t ctx_len;
    uint8_t ctx[RAFT_CTX_MAX];         /* opaque; the runtime's address */
} raft_member;

/* A whole configuration.  Fixed-size on purpose: it is copied by value, so
 * no caller ever has to reason about who frees a member's context. */
typedef struct raft_conf {
    uint32_t n;
    raft_member m[RAFT_MAX_MEMBERS];   /* sorted by id */
} raft_conf;

typedef enum raft_conf_op {
    RAFT_CONF_BOOTSTRAP = 0,           /* only in the first entry */
    RAFT_CONF_ADD_LEARNER = 1,
    RAFT_CONF_PROMOTE = 2,             /* learner -> voter */
    RAFT_CONF_REMOVE = 3
} raft_conf_op;

/* ---- snapshots --------------------------------------------------------- */

typedef struct raft_snapshot_meta {
    uint64_t index;                    /* last index the snapshot covers */
    uint64_t term;                     /* term of that entry */
    raft_conf conf;                    /* membership as of index */
} raft_snapshot_meta;

typedef struct raft_snapshot {
    raft_snapshot_meta meta;
    uint8_t *data;                     /* application state, opaque */
    size_t len;
} raft_snapshot;

/* ---- messages ---------------------------------------------------------- */

typedef enum raft_msg_type {
    RAFT_MSG_VOTE = 1,
    RAFT_MSG_VOTE_RESP = 2,
    RAFT_MSG_PREVOTE = 3,
    RAFT_MSG_PREVOTE_RESP = 4,
    RAFT_MSG_APPEND = 5,
    RAFT_MSG_APPEND_RESP = 6,
    RAFT_MSG_HEARTBEAT = 7,
    RAFT_MSG_HEARTBEAT_RESP = 8,
    RAFT_MSG_SNAPSHOT = 9,
    RAFT_MSG_SNAPSHOT_RESP = 10,
    RAFT_MSG_TIMEOUT_NOW = 11
} raft_msg_type;

#define RAFT_MSG_TYPE_MAX 11

/* One flat struct for every message (as etcd's raftpb.Message): fields a
 * type does not use are zero.  Per type:
 *   VOTE, PREVOTE        index/log_term = candidate's last index/term;
 *                        transfer = campaign started by TIMEOUT_NOW
 *   *_VOTE_RESP          reject; a granted PREVOTE_RESP carries the
 *                        request's term, a rejection the voter's term
 *   APPEND               index/log_term = previous entry; commit; entries
 *   APPEND_RESP          ok: index = highest index known to match;
 *                        reject: index = rejected previous index and
 *                        hint_index/hint_term = where to probe next
 *   HEARTBEAT            commit (never beyond the peer's match); ctx
 *   HEARTBEAT_RESP       ctx echoed (read-index round)
 *   SNAPSHOT             snap (metadata + data)
 *   SNAPSHOT_RESP        index = highest index known to match; reject
 *   TIMEOUT_NOW          (nothing: campaign now, as a transfer)
 */
typedef struct raft_msg {
    uint8_t type;                      /* raft_msg_type */
    raft_id from;
    raft_id to;
    uint64_t term;
    uint64_t index;
    uint64_t log_term;
    uint64_t commit;
    uint64_t hint_index;
    uint64_t hint_term;
    uint64_t ctx;
    bool reject;
    bool transfer;
    uint32_t n_entries;
    raft_entry *entries;
    raft_snapshot *snap;
} raft_msg;

/* Frees what a message owns (entries, snapshot) and zeroes it.  Use it on
 * messages from raft_codec_decode; never on the ones inside a ready batch. */
void raft_msg_clear(raft_msg *m);

/* ---- configuration ----------------------------------------------------- */

typedef struct raft_config {
    const char *id;                    /* this node, [A-Za-z0-9_.-]{1,64} */
    uint32_t election_timeout_ms;      /* T: timeouts drawn from [T, 2T) */
    uint32_t heartbeat_ms;             /* must be < T */
    uint32_t max_inflight;             /* appends in flight per peer, 1..64 */
    uint32_t max_msg_entries;          /* entries per append, 1..4096 */
    uint32_t max_msg_bytes;            /* payload per append, 1..16 MiB,
                                          soft (one entry always fits) */
    bool pre_vote;
    bool check_quorum;
    uint64_t seed;                     /* PRNG seed; mixed with id */
#ifdef RAFT_TEST_FAULTS
    uint32_t test_faults;              /* RAFT_FAULT_* bits, simulator only */
#endif
} raft_config;

#ifdef RAFT_TEST_FAULTS
/* Deliberate bugs so the simulator can prove its checker catches them. */
#define RAFT_FAULT_COMMIT_OLD_TERM 0x1u /* commit by counting old-term reps */
#define RAFT_FAULT_DOUBLE_VOTE 0x2u     /* may grant a second vote per term */
#define RAFT_FAULT_STALE_READ 0x4u      /* reads skip the heartbeat round */
#endif

/* ---- ready batch ------------------------------------------------------- */

typedef struct raft_read_state {
    uint64_t ctx;                      /* caller's raft_read_index ctx */
    uint64_t index;                    /* answer once applied >= index */
    bool ok;                           /* false: leadership lost, retry */
} raft_read_state;

typedef struct raft_ready {
    /* 1. persist, in this order:
     *    a. snapshot != NULL: store it and drop every durable entry (all of
     *       them are covered by it or superseded);
     *    b. delete durable entries >= min(truncate_from, entries[0].index)
     *       (whichever is present; a batch offered again after a failed
     *       write may start inside what reached the disk);
     *    c. append entries;
     *    d. has_hard_state: store hard_state -- once the entries are
     *       durable (or atomically with them).
     *    Then make it all durable (fsync). */
    const raft_snapshot *snapshot;
    uint64_t truncate_from;
    const raft_entry *entries;
    size_t n_entries;
    bool has_hard_state;
    raft_hard_state hard_state;

    /* 2. send: only after step 1 is durable.  Dropping any is safe. */
    const raft_msg *msgs;
    size_t n_msgs;

    /* 3. apply: install snapshot (if any) into the state machine, then
     *    apply committed entries in order. */
    const raft_entry *committed;
    size_t n_committed;
    const raft_read_state *reads;
    size_t n_reads;

    /* Soft state: informational, not persisted.  conf_changed says the
     * membership in force changed (re-read it with raft_get_status). */
    bool has_soft_state;
    raft_role role;                    /* as raft_get_status reports it */
    raft_id leader;
    uint64_t term;
    bool conf_changed;
} raft_ready;

/* ---- status ------------------------------------------------------------ */

typedef enum raft_progress_state {
    RAFT_PROGRESS_PROBE = 0,
    RAFT_PROGRESS_REPLICATE = 1,
    RAFT_PROGRESS_SNAPSHOT = 2
} raft_progress_state;

typedef struct raft_peer_status {
    raft_id id;
    bool voter;
    uint64_t match;
    uint64_t next;
    uint8_t state;                     /* raft_progress_state */
    bool recent_active;
} raft_peer_status;

typedef struct raft_status {
    raft_id id;
    raft_role role;                    /* follower|candidate|leader|learner */
    bool pre_vote_round;               /* candidate still in pre-vote */
    uint64_t term;
    raft_id vote;
    raft_id leader;
    uint64_t commit;
    uint64_t applied;
    uint64_t last_index;
    uint64_t last_term;
    uint64_t snap_index;
    raft_conf conf;                    /* membership in force */
    uint32_t n_peers;                  /* leader only: everyone but self */
    raft_peer_status peers[RAFT_MAX_MEMBERS];
    raft_id transferee;                /* leader only, "" = none */
    uint64_t invariant_errors;         /* impossible inputs seen; must be 0 */
} raft_status;

/* ---- lifecycle ----------------------------------------------------------- */

typedef struct raft raft;

/* NULL when the config is invalid (see docs/raft.md for the ranges). */
raft *raft_new(const raft_config *cfg);
void raft_free(raft *r);

/* A brand-new cluster: every initial member calls this with the same voter
 * list (order does not matter: it is sorted).  Creates entry 1 (term 1,
 * RAFT_ENTRY_CONF), committed.  Only on a node with no state. */
int raft_bootstrap(raft *r, const raft_member *voters, size_t n);

/* After a restart: the durable state the runtime persisted from ready
 * batches.  snap may be NULL; entries must be consecutive, and any at or
 * below the snapshot index are skipped.  The newest configuration in the
 * log (committed or not) is in force.  The state machine must be rebuilt
 * from the snapshot: applied restarts at the snapshot index and the next
 * ready hands out the committed entries after it again. */
int raft_restore(raft *r, const raft_hard_state *hs, const raft_snapshot *snap,
                 const raft_entry *entries, size_t n);

/* A node that will join as a learner calls neither: it starts empty and
 * receives the log or a snapshot from the leader. */

/* ---- inputs -------------------------------------------------------------- */

/* Monotonic milliseconds; any period (a few per heartbeat is plenty).  The
 * first call only anchors the clock. */
int raft_tick(raft *r, uint64_t now_ms);

/* A decoded message addressed to this node.  The core copies what it keeps. */
int raft_step(raft *r, const raft_msg *m);

/* Leader only.  *index (may be NULL) receives the entry's index: the entry
 * is committed once the app sees it among committed entries with the same
 * index and the term returned by raft_term_at at proposal time. */
int raft_propose(raft *r, const void *data, uint32_t len, uint64_t *index);

/* Leader only: one change at a time, and only once an entry of the current
 * term is committed.  ctx is used by ADD_LEARNER (the new member's address);
 * PROMOTE requires the learner to hold every committed entry. */
int raft_propose_conf(raft *r, raft_conf_op op, const char *id,
                      const void *ctx, uint16_t ctx_len, uint64_t *index);

/* Leader only: hand leadership to voter id; abandoned after one election
 * timeout.  Proposals fail with RAFT_ETRANSFER meanwhile. */
int raft_transfer_leader(raft *r, const char *id);

/* Leader only: a linearizable read.  The result (ctx, index) comes back in
 * a later batch's reads, after a heartbeat round confirmed leadership. */
int raft_read_index(raft *r, uint64_t ctx);

/* The app persisted a snapshot of its state at applied index `index`; the
 * core compacts its log up to there and keeps a copy of data to send to
 * followers.  *meta (may be NULL) receives the metadata to persist with the
 * data.  RAFT_ECOMPACTED: an equal or newer snapshot is already held. */
int raft_snapshot_taken(raft *r, uint64_t index, const void *data, size_t len,
                        raft_snapshot_meta *meta);

/* ---- output ------------------------------------------------------------- */

bool raft_has_ready(const raft *r);
/* Fills *rd (pointers stay valid until raft_advance/raft_persist_failed). */
int raft_get_ready(raft *r, raft_ready *rd);
/* The batch was persisted, sent and applied. */
void raft_advance(raft *r, const raft_ready *rd);
/* Persisting the outstanding batch failed: none of its messages may be sent
 * and it is not applied.  Everything is offered again in the next batch; a
 * leader steps down so it never hands out an index twice in one term. */
void raft_persist_failed(raft *r);

/* ---- read-only ----------------------------------------------------------- */

void raft_get_status(const raft *r, raft_status *st);
/* RAFT_OK, RAFT_ECOMPACTED (below the snapshot) or RAFT_ENOTFOUND. */
int raft_term_at(const raft *r, uint64_t index, uint64_t *term);

/* Validates an operator id: [A-Za-z0-9_.-]{1,64}. */
bool raft_id_valid(const char *s, size_t len);

/* Canonical, versioned encoding of a configuration, for storing snapshot
 * metadata.  encode returns bytes written (0 if cap is too small). */
size_t raft_conf_encode(const raft_conf *c, uint8_t *buf, size_t cap);
int raft_conf_decode(const uint8_t *buf, size_t len, raft_conf *c);
#define RAFT_CONF_ENC_MAX (3 + RAFT_MAX_MEMBERS * (1 + RAFT_ID_MAX + 1 + 2 + RAFT_CTX_MAX))

#endif
