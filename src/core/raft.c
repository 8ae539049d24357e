/*
 * raft.c -- lifecycle, the term rules every message passes through, and
 * the explicit per-role dispatch for step and tick.
 */
#include "core/raft_internal.h"

#include <stdlib.h>
#include <string.h>

const char *
raft_strerror(int err)
{
    switch (err) {
    case RAFT_OK: return "ok";
    case RAFT_EINVAL: return "invalid argument";
    case RAFT_ENOTLEADER: return "not the leader";
    case RAFT_ETRANSFER: return "leadership transfer in progress";
    case RAFT_ECONFPENDING: return "membership change pending";
    case RAFT_EBUSY: return "ready batch outstanding";
    case RAFT_ENOTFOUND: return "not found";
    case RAFT_EEXIST: return "already exists";
    case RAFT_ENOTCAUGHTUP: return "learner not caught up";
    case RAFT_ECOMPACTED: return "index compacted";
    case RAFT_ESTATE: return "node already has state";
    case RAFT_ETOOBIG: return "too big";
    case RAFT_ECODEC: return "malformed message";
    default: return "unknown error";
    }
}

const char *
raft_role_name(raft_role role)
{
    switch (role) {
    case RAFT_FOLLOWER: return "follower";
    case RAFT_PRECANDIDATE: return "pre-candidate";
    case RAFT_CANDIDATE: return "candidate";
    case RAFT_LEADER: return "leader";
    case RAFT_LEARNER: return "learner";
    default: return "unknown";
    }
}

void
raft_set_id(raft_id *dst, const char *src)
{
    memset(dst, 0, sizeof(*dst));
    if (src != NULL) {
        size_t n = strlen(src);
        memcpy(dst->s, src, n > RAFT_ID_MAX ? RAFT_ID_MAX : n);
    }
}

bool
raft_is_self(const raft *r, const char *id)
{
    return strcmp(r->id.s, id) == 0;
}

void
raft_invariant_failed(raft *r)
{
    /* Inputs that a correct cluster can never produce (two leaders in one
     * term, a committed entry contradicted).  Counted, never acted upon:
     * the simulator asserts the count stays zero. */
    r->invariant_errors++;
}

/* FNV-1a, to mix the id into the seed: two nodes configured with the same
 * seed must still draw different election timeouts. */
static uint64_t
hash_id(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h;
}

static bool
config_valid(const raft_config *c)
{
    return c != NULL && c->id != NULL && raft_id_valid(c->id, strlen(c->id)) &&
           c->election_timeout_ms >= 2 && c->heartbeat_ms >= 1 &&
           c->heartbeat_ms < c->election_timeout_ms && c->max_inflight >= 1 &&
           c->max_inflight <= RAFT_MAX_INFLIGHT && c->max_msg_entries >= 1 &&
           c->max_msg_entries <= RAFT_MAX_MSG_ENTRIES && c->max_msg_bytes >= 1 &&
           c->max_msg_bytes <= RAFT_MAX_MSG_BYTES;
}

raft *
raft_new(const raft_config *cfg)
{
    if (!config_valid(cfg))
        return NULL;
    raft *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->cfg = *cfg;
    r->cfg.id = NULL;               /* the caller's string may not outlive us */
    raft_set_id(&r->id, cfg->id);
    raft_rng_seed(&r->rng, cfg->seed ^ hash_id(r->id.s));
    raft_log_init(&r->log);
    r->role = RAFT_FOLLOWER;
    r->prev_role = raft_status_role(r);
    raft_reset_election_timer(r);
    return r;
}

void
raft_free(raft *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_msgs; i++)
        raft_msg_clear(&r->msgs[i]);
    free(r->msgs);
    free(r->reads);
    free(r->reads_out);
    raft_snapshot_free(r->snap);
    raft_log_free(&r->log);
    free(r);
}

void
raft_msg_clear(raft_msg *m)
{
    for (uint32_t i = 0; m->entries != NULL && i < m->n_entries; i++)
        raft_entry_release(&m->entries[i]);
    free(m->entries);
    raft_snapshot_free(m->snap);
    memset(m, 0, sizeof(*m));
}

/* ---- role transitions ---------------------------------------------------- */

void
raft_reset_election_timer(raft *r)
{
    uint64_t t = r->cfg.election_timeout_ms;
    r->election_reset = r->now;
    r->election_timeout = t + raft_rng_below(&r->rng, t);
}

void
raft_become_follower(raft *r, uint64_t term, const char *leader)
{
    bool was_leader = r->role == RAFT_LEADER;
    bool has_leader = leader != NULL && leader[0] != '\0';
    if (term > r->term) {
        r->term = term;
        raft_set_id(&r->vote, NULL);    /* a new term: nobody voted for yet */
    }
    r->role = RAFT_FOLLOWER;
    raft_set_id(&r->leader, leader);
    if (has_leader)
        r->leader_contact = r->now;
    r->n_votes = 0;
    if (was_leader) {
        raft_reads_fail_all(r);
        r->n_prs = 0;
        raft_set_id(&r->transferee, NULL);
    }
    /* Figure 2 restarts the election timer only on hearing from a leader
     * or granting a vote (raft_handle_vote does that).  Learning a higher
     * term from a vote or a response, or losing an election, leaves it
     * running: restarting it there lets a candidate that cannot win -- its
     * campaigns unseen by a viable one, as with diverging uncommitted
     * configurations -- pre-empt the viable one round after round (the
     * simulator found that livelock).  A former leader's timer is stale. */
    if (has_leader || was_leader)
        raft_reset_election_timer(r);
}

void
raft_become_precandidate(raft *r)
{
    /* Pre-vote changes neither term nor vote: that is its whole point. */
    r->role = RAFT_PRECANDIDATE;
    raft_set_id(&r->leader, NULL);
    r->n_votes = 0;
    raft_reset_election_timer(r);
}

void
raft_become_candidate(raft *r)
{
    r->term++;
    r->vote = r->id;
    r->role = RAFT_CANDIDATE;
    raft_set_id(&r->leader, NULL);
    r->n_votes = 0;
    raft_reset_election_timer(r);
}

void
raft_become_leader(raft *r)
{
    r->role = RAFT_LEADER;
    r->leader = r->id;
    raft_set_id(&r->transferee, NULL);
    r->heartbeat_reset = r->now;
    r->quorum_reset = r->now;
    raft_progress_reset_all(r);
    /* The no-op of this term: entries of older terms can only be committed
     * indirectly, by committing an entry of the current term after them. */
    raft_entry noop = {.term = r->term, .index = raft_log_last_index(&r->log) + 1,
                       .type = RAFT_ENTRY_NOOP};
    raft_append_entries(r, &noop, 1);
    raft_bcast_append(r, true);
}

bool
raft_promotable(const raft *r)
{
    return raft_conf_is_voter(&r->conf, r->id.s);
}

raft_role
raft_status_role(const raft *r)
{
    if (r->role == RAFT_LEADER)
        return RAFT_LEADER;
    if (!raft_promotable(r))
        return RAFT_LEARNER;
    if (r->role == RAFT_PRECANDIDATE || r->role == RAFT_CANDIDATE)
        return RAFT_CANDIDATE;
    return RAFT_FOLLOWER;
}

/* ---- membership in force ------------------------------------------------ */

/* Newest conf entry at or below `from`, if the log still holds one. */
static bool
latest_conf(const raft *r, uint64_t from, raft_conf *c, uint64_t *at)
{
    for (uint64_t i = from; i > r->log.snap_index; i--) {
        const raft_entry *e = raft_log_get(&r->log, i);
        if (e != NULL && e->type == RAFT_ENTRY_CONF &&
            raft_conf_entry_decode(e->data, e->len, NULL, NULL, c) == RAFT_OK) {
            *at = i;
            return true;
        }
    }
    return false;
}

void
raft_conf_at(const raft *r, uint64_t index, raft_conf *out)
{
    uint64_t at;
    if (latest_conf(r, index, out, &at))
        return;
    if (r->snap != NULL)
        *out = r->snap->meta.conf;
    else
        memset(out, 0, sizeof(*out));
}

void
raft_conf_refresh(raft *r)
{
    raft_conf c;
    uint64_t at = 0;
    if (!latest_conf(r, raft_log_last_index(&r->log), &c, &at)) {
        if (r->snap != NULL)
            c = r->snap->meta.conf;
        else
            memset(&c, 0, sizeof(c));
    }
    if (!raft_conf_equal(&c, &r->conf))
        r->conf_changed = true;
    r->conf = c;
    r->conf_index = at;
    if (r->role == RAFT_LEADER)
        raft_progress_sync(r);
}

/* ---- step: validation ---------------------------------------------------- */

static bool
id_ok(const raft_id *id)
{
    const char *nul = memchr(id->s, '\0', sizeof(id->s));
    return nul != NULL && raft_id_valid(id->s, (size_t)(nul - id->s));
}

static bool
is_request(uint8_t type)
{
    return type == RAFT_MSG_VOTE || type == RAFT_MSG_PREVOTE ||
           type == RAFT_MSG_APPEND || type == RAFT_MSG_HEARTBEAT ||
           type == RAFT_MSG_SNAPSHOT || type == RAFT_MSG_TIMEOUT_NOW;
}

/* Entries must continue the previous entry: consecutive indexes and
 * non-decreasing terms no newer than the message (a log never holds an
 * entry from the future), and conf bodies must decode. */
static bool
entries_ok(const raft_msg *m)
{
    if (m->n_entries > 0 && m->entries == NULL)
        return false;
    if (m->log_term > m->term || m->index > UINT64_MAX - m->n_entries)
        return false;
    uint64_t prev_term = m->log_term;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const raft_entry *e = &m->entries[i];
        if (e->index != m->index + 1 + i || e->term < prev_term ||
            e->term > m->term || e->type > RAFT_ENTRY_CONF ||
            (e->len > 0 && e->data == NULL))
            return false;
        if (e->type == RAFT_ENTRY_CONF &&
            raft_conf_entry_decode(e->data, e->len, NULL, NULL, NULL) != RAFT_OK)
            return false;
        prev_term = e->term;
    }
    return true;
}

static bool
snapshot_ok(const raft_msg *m)
{
    const raft_snapshot *s = m->snap;
    return s != NULL && s->meta.index > 0 && s->meta.term > 0 &&
           s->meta.term <= m->term && raft_conf_valid(&s->meta.conf) &&
           raft_conf_n_voters(&s->meta.conf) > 0 &&
           (s->len == 0 || s->data != NULL);
}

static int
validate_msg(const raft *r, const raft_msg *m)
{
    if (m == NULL || m->type < 1 || m->type > RAFT_MSG_TYPE_MAX ||
        !id_ok(&m->from) || !id_ok(&m->to) || !raft_is_self(r, m->to.s) ||
        raft_is_self(r, m->from.s))
        return RAFT_EINVAL;
    if (is_request(m->type) && m->term == 0)
        return RAFT_EINVAL;
    if (m->type == RAFT_MSG_APPEND && !entries_ok(m))
        return RAFT_EINVAL;
    if (m->type == RAFT_MSG_SNAPSHOT && !snapshot_ok(m))
        return RAFT_EINVAL;
    return RAFT_OK;
}

/* ---- step: term rules ---------------------------------------------------- */

/* A message from a higher term.  Returns false when it is to be ignored. */
static bool
step_higher_term(raft *r, const raft_msg *m)
{
    bool vote = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE;
    if (vote && !m->transfer && raft_in_lease(r)) {
        /* We heard from a live leader less than a minimum election timeout
         * ago: a node that could not reach it must not depose it (thesis
         * 4.2.3 / 9.6).  Pre-votes always honour this; real votes when
         * check-quorum guarantees a leader steps down on its own. */
        if (m->type == RAFT_MSG_PREVOTE || r->cfg.check_quorum)
            return false;
    }
    if (m->type == RAFT_MSG_PREVOTE)
        return true;                    /* never moves our term */
    if (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject)
        return true;                    /* grant carries the proposed term */
    bool from_leader = m->type == RAFT_MSG_APPEND ||
                       m->type == RAFT_MSG_HEARTBEAT ||
                       m->type == RAFT_MSG_SNAPSHOT ||
                       m->type == RAFT_MSG_TIMEOUT_NOW;
    raft_become_follower(r, m->term, from_leader ? m->from.s : NULL);
    return true;
}

/* A message from a lower term: answer what needs answering with our term
 * so the sender catches up (a deposed leader learns to step down, a
 * pre-candidate learns the term), ignore the rest. */
static void
step_lower_term(raft *r, const raft_msg *m)
{
    raft_msg out = {0};
    switch (m->type) {
    case RAFT_MSG_APPEND:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAPSHOT:
        out.type = RAFT_MSG_APPEND_RESP;
        break;
    case RAFT_MSG_PREVOTE:
        out.type = RAFT_MSG_PREVOTE_RESP;
        out.reject = true;
        break;
    case RAFT_MSG_VOTE:
        out.type = RAFT_MSG_VOTE_RESP;
        out.reject = true;
        break;
    default:
        return;
    }
    out.to = m->from;
    raft_send(r, &out);
}

/* ---- step: per role ------------------------------------------------------ */

/* A message from the leader of our current term. */
static void
leader_seen(raft *r, const raft_msg *m)
{
    if (r->leader.s[0] != '\0' && strcmp(r->leader.s, m->from.s) != 0)
        raft_invariant_failed(r);       /* two leaders in one term */
    r->leader = m->from;
    r->leader_contact = r->now;
    r->election_reset = r->now;
}

static void
step_follower(raft *r, const raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_APPEND:
        leader_seen(r, m);
        raft_handle_append(r, m);
        break;
    case RAFT_MSG_HEARTBEAT:
        leader_seen(r, m);
        raft_handle_heartbeat(r, m);
        break;
    case RAFT_MSG_SNAPSHOT:
        leader_seen(r, m);
        raft_handle_snapshot(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        /* The leader hands over: campaign at once, skipping pre-vote and
         * leases (the leader itself asked). */
        if (raft_promotable(r))
            raft_campaign(r, true);
        break;
    default:
        break;                          /* stale responses */
    }
}

static void
step_candidate(raft *r, const raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_APPEND:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAPSHOT:
        /* Someone won this term: follow it. */
        raft_become_follower(r, m->term, m->from.s);
        step_follower(r, m);
        break;
    case RAFT_MSG_PREVOTE_RESP:
        /* A grant must be for the term this round proposes; one left over
         * from an earlier round proves nothing about this one. */
        if (r->role == RAFT_PRECANDIDATE &&
            (m->reject || m->term == r->term + 1))
            raft_handle_vote_resp(r, m);
        break;
    case RAFT_MSG_VOTE_RESP:
        if (r->role == RAFT_CANDIDATE)
            raft_handle_vote_resp(r, m);
        break;
    default:
        break;
    }
}

static void
step_leader(raft *r, const raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_APPEND_RESP:
        raft_handle_append_resp(r, m);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        raft_handle_heartbeat_resp(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        raft_handle_snapshot_resp(r, m);
        break;
    case RAFT_MSG_APPEND:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAPSHOT:
        raft_invariant_failed(r);       /* another leader in our term */
        break;
    default:
        break;
    }
}

int
raft_step(raft *r, const raft_msg *m)
{
    if (r->busy)
        return RAFT_EBUSY;
    int rc = validate_msg(r, m);
    if (rc != RAFT_OK)
        return rc;
    if (m->term > r->term) {
        if (!step_higher_term(r, m))
            return RAFT_OK;
    } else if (m->term < r->term) {
        step_lower_term(r, m);
        return RAFT_OK;
    }
    if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) {
        raft_handle_vote(r, m);         /* same rules in every role */
        return RAFT_OK;
    }
    switch (r->role) {
    case RAFT_FOLLOWER:
        step_follower(r, m);
        break;
    case RAFT_PRECANDIDATE:
    case RAFT_CANDIDATE:
        step_candidate(r, m);
        break;
    case RAFT_LEADER:
        step_leader(r, m);
        break;
    default:
        break;
    }
    return RAFT_OK;
}

/* ---- tick ---------------------------------------------------------------- */

static void
tick_election(raft *r)
{
    if (raft_promotable(r) && r->now - r->election_reset >= r->election_timeout)
        raft_campaign(r, false);
}

int
raft_tick(raft *r, uint64_t now_ms)
{
    if (r->busy)
        return RAFT_EBUSY;
    if (!r->clock_set) {
        /* The first tick anchors every timer: the runtime's clock need not
         * start anywhere in particular. */
        r->clock_set = true;
        r->now = now_ms;
        r->election_reset = r->heartbeat_reset = r->quorum_reset = now_ms;
        r->leader_contact = now_ms;
        r->transfer_deadline = now_ms + r->cfg.election_timeout_ms;
        return RAFT_OK;
    }
    if (now_ms <= r->now)
        return RAFT_OK;                 /* not monotonic: wait for it */
    r->now = now_ms;
    switch (r->role) {
    case RAFT_FOLLOWER:
    case RAFT_PRECANDIDATE:
    case RAFT_CANDIDATE:
        tick_election(r);
        break;
    case RAFT_LEADER:
        raft_tick_leader(r);
        break;
    default:
        break;
    }
    return RAFT_OK;
}
