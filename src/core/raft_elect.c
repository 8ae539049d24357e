/*
 * raft_elect.c -- leader election: pre-vote, vote, and the leader lease.
 */
#include "core/raft_internal.h"

#include <string.h>

enum { TALLY_PENDING, TALLY_WON, TALLY_LOST };

bool
raft_in_lease(const raft *r)
{
    /* A leader knows a leader is alive.  A follower believes so for one
     * minimum election timeout after the leader's last message. */
    if (r->role == RAFT_LEADER)
        return true;
    return r->leader.s[0] != '\0' &&
           r->now - r->leader_contact < r->cfg.election_timeout_ms;
}

static void
record_vote(raft *r, const char *id, bool granted)
{
    for (uint32_t i = 0; i < r->n_votes; i++)
        if (strcmp(r->votes[i].id.s, id) == 0)
            return;                     /* duplicates: the first answer counts */
    if (r->n_votes >= RAFT_MAX_MEMBERS)
        return;
    raft_set_id(&r->votes[r->n_votes].id, id);
    r->votes[r->n_votes].granted = granted;
    r->n_votes++;
}

/* Only voters of the configuration in force count. */
static int
tally(const raft *r)
{
    uint32_t granted = 0, rejected = 0;
    for (uint32_t i = 0; i < r->n_votes; i++) {
        if (!raft_conf_is_voter(&r->conf, r->votes[i].id.s))
            continue;
        if (r->votes[i].granted)
            granted++;
        else
            rejected++;
    }
    uint32_t q = raft_conf_quorum(&r->conf);
    if (q > 0 && granted >= q)
        return TALLY_WON;
    if (rejected > raft_conf_n_voters(&r->conf) - q)
        return TALLY_LOST;
    return TALLY_PENDING;
}

static void
start_election(raft *r, bool pre, bool transfer)
{
    uint64_t term;
    if (pre) {
        raft_become_precandidate(r);
        term = r->term + 1;             /* the term we would campaign in */
    } else {
        raft_become_candidate(r);
        term = r->term;
    }
    record_vote(r, r->id.s, true);
    if (tally(r) == TALLY_WON) {        /* a single voter */
        if (pre)
            start_election(r, false, false);
        else
            raft_become_leader(r);
        return;
    }
    for (uint32_t i = 0; i < r->conf.n; i++) {
        const raft_member *m = &r->conf.m[i];
        if (!m->voter || raft_is_self(r, m->id.s))
            continue;
        raft_msg out = {0};
        out.type = pre ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE;
        out.to = m->id;
        out.term = term;
        out.index = raft_log_last_index(&r->log);
        out.log_term = raft_log_last_term(&r->log);
        out.transfer = transfer;
        raft_send(r, &out);
    }
}

void
raft_campaign(raft *r, bool transfer)
{
    if (!raft_promotable(r))
        return;                         /* learners and removed nodes never */
    /* A transfer skips pre-vote: the leader asked, and pre-vote would be
     * refused by followers still in the old leader's lease. */
    start_election(r, r->cfg.pre_vote && !transfer, transfer);
}

/* Election restriction (5.4.1): grant only to a candidate whose log is at
 * least as up to date: higher last term, or same last term and at least as
 * long. */
static bool
log_up_to_date(const raft *r, const raft_msg *m)
{
    uint64_t lt = raft_log_last_term(&r->log);
    return m->log_term > lt ||
           (m->log_term == lt && m->index >= raft_log_last_index(&r->log));
}

void
raft_handle_vote(raft *r, const raft_msg *m)
{
    bool pre = m->type == RAFT_MSG_PREVOTE;
    /* One vote per term: we may repeat a vote, or vote when we have neither
     * voted nor follow a leader this term.  A pre-vote for a future term
     * binds nothing, so it only needs the log check. */
    bool can_vote = strcmp(r->vote.s, m->from.s) == 0 ||
                    (r->vote.s[0] == '\0' && r->leader.s[0] == '\0') ||
                    (pre && m->term > r->term);
#ifdef RAFT_TEST_FAULTS
    if (!pre && (r->cfg.test_faults & RAFT_FAULT_DOUBLE_VOTE) &&
        raft_rng_below(&r->rng, 2) == 0)
        can_vote = true;
#endif
    raft_msg out = {0};
    out.type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP;
    out.to = m->from;
    if (can_vote && log_up_to_date(r, m)) {
        /* A grant carries the request's term (for a real vote that is our
         * term by now); the vote reaches the hard state of this batch, so it
         * is durable before the response leaves. */
        out.term = m->term;
        if (!pre) {
            r->vote = m->from;
            r->election_reset = r->now;
        }
    } else {
        out.reject = true;
        out.term = r->term;
    }
    raft_send(r, &out);
}

void
raft_handle_vote_resp(raft *r, const raft_msg *m)
{
    record_vote(r, m->from.s, !m->reject);
    switch (tally(r)) {
    case TALLY_WON:
        if (r->role == RAFT_PRECANDIDATE)
            start_election(r, false, false);
        else
            raft_become_leader(r);
        break;
    case TALLY_LOST:
        raft_become_follower(r, r->term, NULL);
        break;
    default:
        break;
    }
}
