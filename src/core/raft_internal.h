/*
 * raft_internal.h -- the raft struct and the functions the core's files
 * share.  Not for the runtime: it uses raft.h only.
 *
 * File map:
 *   raft.c         lifecycle, term rules and the per-role step/tick switch
 *   raft_elect.c   elections: pre-vote, vote, lease, campaign
 *   raft_follow.c  follower side of append / heartbeat / snapshot
 *   raft_repl.c    leader side: progress, replication, commit
 *   raft_leader.c  leader requests: propose, conf change, transfer, reads
 *   raft_ready.c   output batch: messages, ready/advance, persist failure
 *   raft_boot.c    bootstrap, restore, snapshots taken, status
 */
#ifndef RAFT_INTERNAL_H
#define RAFT_INTERNAL_H

#include "core/raft.h"
#include "core/raft_conf.h"
#include "core/raft_log.h"
#include "core/raft_rand.h"

/* Leader's view of one peer (etcd's tracker.Progress). */
typedef struct raft_progress {
    raft_id id;
    bool voter;
    uint64_t match;             /* highest index known replicated */
    uint64_t next;              /* next index to send */
    uint8_t state;              /* raft_progress_state */
    bool probe_sent;            /* probe: one append out, wait for answer */
    bool recent_active;         /* heard from since the last quorum check */
    uint64_t pending_snapshot;  /* snapshot state: index sent */
    uint64_t snapshot_sent_ms;
    uint64_t read_acked;        /* highest read-index round acknowledged */
    uint64_t progress_ms;       /* match advanced / pipeline got busy */
    uint32_t infl_start;        /* ring of last indexes of appends in flight */
    uint32_t infl_count;
    uint64_t infl[RAFT_MAX_INFLIGHT];
} raft_progress;

typedef struct raft_vote_rec {
    raft_id id;
    bool granted;
} raft_vote_rec;

typedef struct raft_pending_read {
    uint64_t ctx;
    uint64_t index;             /* 0 until an entry of this term commits */
    uint64_t round;             /* heartbeat round that must be acked */
} raft_pending_read;

struct raft {
    raft_config cfg;
    raft_id id;
    raft_rng rng;
    raft_role role;             /* FOLLOWER, PRECANDIDATE, CANDIDATE, LEADER */
    uint64_t term;
    raft_id vote;
    raft_id leader;
    raft_log log;
    raft_conf conf;             /* in force: newest in log, else snapshot's */
    uint64_t conf_index;        /* its entry index, 0 = from the snapshot */
    raft_snapshot *snap;        /* newest snapshot held (to send), or NULL */
    bool snap_pending;          /* snap was received: persist + install */

    /* Clock (milliseconds, from raft_tick). */
    bool clock_set;
    uint64_t now;
    uint64_t election_reset;
    uint64_t election_timeout;  /* randomized in [T, 2T) at each reset */
    uint64_t heartbeat_reset;
    uint64_t quorum_reset;
    uint64_t leader_contact;    /* last message from the current leader */

    /* Candidate. */
    uint32_t n_votes;
    raft_vote_rec votes[RAFT_MAX_MEMBERS];

    /* Leader. */
    uint32_t n_prs;
    raft_progress prs[RAFT_MAX_MEMBERS];
    raft_id transferee;
    uint64_t transfer_deadline;
    raft_pending_read *reads;
    size_t n_reads, cap_reads;
    uint64_t read_round;

    /* Output, drained by raft_get_ready. */
    raft_msg *msgs;
    size_t n_msgs, cap_msgs;
    raft_read_state *reads_out;
    size_t n_reads_out, cap_reads_out;
    raft_hard_state prev_hs;    /* what the runtime has durably */
    raft_role prev_role;        /* soft state last reported */
    raft_id prev_leader;
    uint64_t prev_term;
    bool conf_changed;
    bool busy;                  /* a batch is outstanding */
    uint64_t invariant_errors;
};

/* raft.c */
void raft_become_follower(raft *r, uint64_t term, const char *leader);
void raft_become_precandidate(raft *r);
void raft_become_candidate(raft *r);
void raft_become_leader(raft *r);
void raft_reset_election_timer(raft *r);
bool raft_promotable(const raft *r);
/* Role as status reports it (learner for non-voters, candidate for
 * pre-candidates). */
raft_role raft_status_role(const raft *r);
void raft_invariant_failed(raft *r);
bool raft_is_self(const raft *r, const char *id);
void raft_set_id(raft_id *dst, const char *src);
/* Makes r->conf the newest configuration in the log (or the snapshot's)
 * and, on a leader, brings the progress set in line with it. */
void raft_conf_refresh(raft *r);
/* The configuration in force at index (for snapshot metadata). */
void raft_conf_at(const raft *r, uint64_t index, raft_conf *out);

/* raft_elect.c */
void raft_campaign(raft *r, bool transfer);
bool raft_in_lease(const raft *r);
void raft_handle_vote(raft *r, const raft_msg *m);
void raft_handle_vote_resp(raft *r, const raft_msg *m);

/* raft_follow.c */
void raft_handle_append(raft *r, const raft_msg *m);
void raft_handle_heartbeat(raft *r, const raft_msg *m);
void raft_handle_snapshot(raft *r, const raft_msg *m);
/* Appends entries to the log, refreshing membership if one is a conf. */
void raft_append_entries(raft *r, const raft_entry *e, size_t n);

/* raft_repl.c */
raft_progress *raft_progress_get(raft *r, const char *id);
void raft_progress_reset_all(raft *r);
void raft_progress_sync(raft *r);
void raft_send_append(raft *r, raft_progress *pr, bool allow_empty);
void raft_bcast_append(raft *r, bool allow_empty);
void raft_bcast_heartbeat(raft *r);
bool raft_maybe_commit(raft *r);
void raft_leader_commit_advanced(raft *r);
void raft_handle_append_resp(raft *r, const raft_msg *m);
void raft_handle_heartbeat_resp(raft *r, const raft_msg *m);
void raft_handle_snapshot_resp(raft *r, const raft_msg *m);
void raft_tick_leader(raft *r);

/* raft_leader.c */
bool raft_committed_in_term(const raft *r);
void raft_reads_start(raft *r);
void raft_reads_release(raft *r);
void raft_reads_fail_all(raft *r);
void raft_maybe_send_timeout_now(raft *r, raft_progress *pr);

/* raft_ready.c */
/* Queues a message; fills from/term defaults: from = self, term = r->term
 * unless m->term is already set. Takes ownership of entries/snap. */
void raft_send(raft *r, raft_msg *m);
void raft_push_read(raft *r, uint64_t ctx, uint64_t index, bool ok);
raft_snapshot *raft_snapshot_dup(const raft_snapshot *s);
void raft_snapshot_free(raft_snapshot *s);

#endif
