/*
 * raft_repl.c -- the leader's side of replication: per-peer progress
 * (probe / replicate / snapshot, as etcd's tracker), append and heartbeat
 * sending, response handling and the commit rule.
 */
#include "core/raft_internal.h"

#include <string.h>

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* ---- progress ------------------------------------------------------------ */

raft_progress *
raft_progress_get(raft *r, const char *id)
{
    for (uint32_t i = 0; i < r->n_prs; i++)
        if (strcmp(r->prs[i].id.s, id) == 0)
            return &r->prs[i];
    return NULL;
}

static void
progress_init(raft *r, raft_progress *pr, const raft_member *m)
{
    memset(pr, 0, sizeof(*pr));
    pr->id = m->id;
    pr->voter = m->voter;
    /* Optimistic: assume the peer has our whole log; the first append's
     * consistency check corrects us. */
    pr->next = raft_log_last_index(&r->log) + 1;
    pr->state = RAFT_PROGRESS_PROBE;
}

void
raft_progress_reset_all(raft *r)
{
    r->n_prs = 0;
    for (uint32_t i = 0; i < r->conf.n; i++)
        if (!raft_is_self(r, r->conf.m[i].id.s))
            progress_init(r, &r->prs[r->n_prs++], &r->conf.m[i]);
}

void
raft_progress_sync(raft *r)
{
    raft_progress old[RAFT_MAX_MEMBERS];
    uint32_t n_old = r->n_prs;
    memcpy(old, r->prs, n_old * sizeof(old[0]));
    r->n_prs = 0;
    for (uint32_t i = 0; i < r->conf.n; i++) {
        const raft_member *m = &r->conf.m[i];
        if (raft_is_self(r, m->id.s))
            continue;
        raft_progress *pr = &r->prs[r->n_prs++];
        uint32_t j = 0;
        while (j < n_old && strcmp(old[j].id.s, m->id.s) != 0)
            j++;
        if (j < n_old) {
            *pr = old[j];               /* keep what we learnt about it */
            pr->voter = m->voter;
        } else {
            progress_init(r, pr, m);
        }
    }
    if (r->transferee.s[0] != '\0' && !raft_conf_is_voter(&r->conf, r->transferee.s))
        raft_set_id(&r->transferee, NULL);
}

static bool
infl_full(const raft *r, const raft_progress *pr)
{
    return pr->infl_count >= r->cfg.max_inflight;
}

static void
infl_add(raft_progress *pr, uint64_t last)
{
    pr->infl[(pr->infl_start + pr->infl_count) % RAFT_MAX_INFLIGHT] = last;
    pr->infl_count++;
}

/* Frees every in-flight append acknowledged by a match of `index`. */
static void
infl_free_le(raft_progress *pr, uint64_t index)
{
    while (pr->infl_count > 0 && pr->infl[pr->infl_start] <= index) {
        pr->infl_start = (pr->infl_start + 1) % RAFT_MAX_INFLIGHT;
        pr->infl_count--;
    }
}

static bool
paused(const raft *r, const raft_progress *pr)
{
    switch (pr->state) {
    case RAFT_PROGRESS_PROBE: return pr->probe_sent;
    case RAFT_PROGRESS_REPLICATE: return infl_full(r, pr);
    default: return true;               /* snapshot in flight */
    }
}

static void
become_probe(raft_progress *pr)
{
    /* After a snapshot, the peer holds at least the snapshot. */
    if (pr->state == RAFT_PROGRESS_SNAPSHOT)
        pr->next = max_u64(pr->match + 1, pr->pending_snapshot + 1);
    else
        pr->next = pr->match + 1;
    pr->state = RAFT_PROGRESS_PROBE;
    pr->probe_sent = false;
    pr->pending_snapshot = 0;
    pr->infl_start = pr->infl_count = 0;
}

static void
become_replicate(raft *r, raft_progress *pr)
{
    pr->progress_ms = r->now;
    pr->state = RAFT_PROGRESS_REPLICATE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
    pr->infl_start = pr->infl_count = 0;
}

/* A success for `index`: false when stale (nothing new). */
static bool
progress_update(raft *r, raft_progress *pr, uint64_t index)
{
    if (index <= pr->match)
        return false;
    pr->progress_ms = r->now;
    pr->match = index;
    pr->next = max_u64(pr->next, index + 1);
    pr->probe_sent = false;
    return true;
}

/* A rejection of previous index `rejected`: false when stale (it answers
 * an append we no longer care about), else next is lowered -- never to or
 * below match, which the peer has acknowledged. */
static bool
progress_decr(raft_progress *pr, uint64_t rejected, uint64_t hint)
{
    if (pr->state == RAFT_PROGRESS_REPLICATE) {
        if (rejected <= pr->match)
            return false;
        pr->next = pr->match + 1;
        return true;
    }
    if (pr->next - 1 != rejected)
        return false;
    uint64_t next = rejected < hint + 1 ? rejected : hint + 1;
    pr->next = max_u64(next, pr->match + 1);
    pr->probe_sent = false;
    return true;
}

/* ---- sending ------------------------------------------------------------- */

static void
send_snapshot(raft *r, raft_progress *pr)
{
    if (r->snap == NULL) {
        raft_invariant_failed(r);       /* compacted log without snapshot */
        return;
    }
    raft_msg out = {0};
    out.type = RAFT_MSG_SNAPSHOT;
    out.to = pr->id;
    out.snap = raft_snapshot_dup(r->snap);
    raft_send(r, &out);
    pr->state = RAFT_PROGRESS_SNAPSHOT;
    pr->pending_snapshot = r->snap->meta.index;
    pr->snapshot_sent_ms = r->now;
    pr->infl_start = pr->infl_count = 0;
}

/* Entries [next, ...] within the per-message limits. */
static uint32_t
count_entries(const raft *r, uint64_t next)
{
    uint64_t last = raft_log_last_index(&r->log);
    uint32_t n = 0;
    size_t bytes = 0;
    while (next + n <= last && n < r->cfg.max_msg_entries) {
        const raft_entry *e = raft_log_get(&r->log, next + n);
        if (n > 0 && bytes + e->len > r->cfg.max_msg_bytes)
            break;
        bytes += e->len;
        n++;
    }
    return n;
}

/* Sends the peer what it misses (or a snapshot when that was compacted).
 * Returns whether a message went out. */
static bool
send_append(raft *r, raft_progress *pr, bool allow_empty)
{
    if (paused(r, pr))
        return false;
    uint64_t prev = pr->next - 1, prev_term;
    if (pr->next <= r->log.snap_index ||
        raft_log_term(&r->log, prev, &prev_term) == RAFT_ECOMPACTED) {
        send_snapshot(r, pr);
        return true;
    }
    if (raft_log_term(&r->log, prev, &prev_term) != RAFT_OK) {
        raft_invariant_failed(r);       /* next beyond our log */
        pr->next = pr->match + 1;
        return false;
    }
    uint32_t n = count_entries(r, pr->next);
    if (n == 0 && !allow_empty)
        return false;
    raft_msg out = {0};
    out.type = RAFT_MSG_APPEND;
    out.to = pr->id;
    out.index = prev;
    out.log_term = prev_term;
    out.commit = r->log.commit;
    out.n_entries = n;
    if (n > 0) {
        out.entries = raft_xcalloc(n, sizeof(raft_entry));
        for (uint32_t i = 0; i < n; i++)
            raft_entry_copy(&out.entries[i], raft_log_get(&r->log, pr->next + i));
    }
    raft_send(r, &out);
    if (pr->state == RAFT_PROGRESS_PROBE) {
        pr->probe_sent = true;          /* one probe at a time */
    } else if (n > 0) {
        /* The stall clock starts when the pipeline goes from empty to
         * busy: idle time before that is no sign of lost appends. */
        if (pr->infl_count == 0)
            pr->progress_ms = r->now;
        pr->next += n;                  /* optimistic pipelining */
        infl_add(pr, pr->next - 1);
    }
    return true;
}

void
raft_send_append(raft *r, raft_progress *pr, bool allow_empty)
{
    (void)send_append(r, pr, allow_empty);
}

/* Fills the peer's pipeline. */
static void
send_more(raft *r, raft_progress *pr)
{
    while (r->role == RAFT_LEADER && send_append(r, pr, false) &&
           pr->state == RAFT_PROGRESS_REPLICATE)
        ;
}

void
raft_bcast_append(raft *r, bool allow_empty)
{
    for (uint32_t i = 0; i < r->n_prs; i++)
        (void)send_append(r, &r->prs[i], allow_empty);
}

void
raft_bcast_heartbeat(raft *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        raft_progress *pr = &r->prs[i];
        raft_msg out = {0};
        out.type = RAFT_MSG_HEARTBEAT;
        out.to = pr->id;
        /* Never beyond what the peer is known to hold: its log past match
         * may still diverge from ours. */
        out.commit = pr->match < r->log.commit ? pr->match : r->log.commit;
        out.ctx = r->read_round;
        raft_send(r, &out);
    }
}

/* ---- commit ---------------------------------------------------------------- */

bool
raft_maybe_commit(raft *r)
{
    uint64_t m[RAFT_MAX_MEMBERS + 1];
    uint32_t n = 0;
    /* Our own entries count once they are durable, like anyone else's. */
    if (raft_conf_is_voter(&r->conf, r->id.s))
        m[n++] = r->log.stable;
    for (uint32_t i = 0; i < r->n_prs; i++)
        if (r->prs[i].voter)
            m[n++] = r->prs[i].match;
    uint32_t q = raft_conf_quorum(&r->conf);
    if (q == 0 || n < q)
        return false;
    for (uint32_t i = 1; i < n; i++)    /* insertion sort, descending */
        for (uint32_t j = i; j > 0 && m[j] > m[j - 1]; j--) {
            uint64_t t = m[j];
            m[j] = m[j - 1];
            m[j - 1] = t;
        }
    uint64_t idx = m[q - 1], term;
    if (idx <= r->log.commit || raft_log_term(&r->log, idx, &term) != RAFT_OK)
        return false;
    /* Figure 8: a majority holding an entry of an older term does not make
     * it committed; only counting entries of the current term does. */
    bool ok = term == r->term;
#ifdef RAFT_TEST_FAULTS
    if (r->cfg.test_faults & RAFT_FAULT_COMMIT_OLD_TERM)
        ok = true;
#endif
    if (!ok)
        return false;
    raft_log_commit_to(&r->log, idx);
    return true;
}

void
raft_leader_commit_advanced(raft *r)
{
    raft_bcast_append(r, true);         /* tell followers the new commit */
    raft_reads_start(r);
    /* A leader removed from the configuration steps down once the removal
     * is committed (thesis 4.2.2); until then it kept managing the cluster
     * without counting itself. */
    if (!raft_conf_is_member(&r->conf, r->id.s) && r->log.commit >= r->conf_index)
        raft_become_follower(r, r->term, NULL);
}

static void
after_progress(raft *r, raft_progress *pr)
{
    if (raft_maybe_commit(r))
        raft_leader_commit_advanced(r);
    if (r->role != RAFT_LEADER)
        return;                         /* stepped down: pr is gone */
    send_more(r, pr);
    raft_maybe_send_timeout_now(r, pr);
}

/* ---- responses ------------------------------------------------------------- */

static void
handle_reject(raft *r, raft_progress *pr, const raft_msg *m)
{
    uint64_t hint = m->hint_index;
    if (m->hint_term > 0)
        hint = raft_log_conflict_by_term(&r->log, m->hint_index, m->hint_term);
    if (!progress_decr(pr, m->index, hint))
        return;                         /* stale */
    if (pr->state == RAFT_PROGRESS_REPLICATE)
        become_probe(pr);
    (void)send_append(r, pr, true);
}

void
raft_handle_append_resp(raft *r, const raft_msg *m)
{
    raft_progress *pr = raft_progress_get(r, m->from.s);
    if (pr == NULL)
        return;
    pr->recent_active = true;
    if (m->reject) {
        handle_reject(r, pr, m);
        return;
    }
    if (m->index > raft_log_last_index(&r->log)) {
        raft_invariant_failed(r);       /* acks what we never had */
        return;
    }
    if (!progress_update(r, pr, m->index))
        return;                         /* stale or duplicate */
    switch (pr->state) {
    case RAFT_PROGRESS_PROBE:
        become_replicate(r, pr);
        break;
    case RAFT_PROGRESS_SNAPSHOT:
        if (pr->match >= pr->pending_snapshot)
            become_probe(pr);
        break;
    default:
        infl_free_le(pr, m->index);
        break;
    }
    after_progress(r, pr);
}

void
raft_handle_heartbeat_resp(raft *r, const raft_msg *m)
{
    raft_progress *pr = raft_progress_get(r, m->from.s);
    if (pr == NULL)
        return;
    pr->recent_active = true;
    if (m->ctx > pr->read_acked && m->ctx <= r->read_round)
        pr->read_acked = m->ctx;
    uint64_t last = raft_log_last_index(&r->log);
    if (pr->state == RAFT_PROGRESS_PROBE) {
        pr->probe_sent = false;         /* the peer is reachable: probe again */
        (void)send_append(r, pr, true);
    } else if (pr->state == RAFT_PROGRESS_REPLICATE && pr->match < last &&
               r->now - pr->progress_ms >= r->cfg.election_timeout_ms) {
        /* The peer answers heartbeats but its match has not moved for an
         * election timeout: appends were lost.  Probe from match again.
         * (Unlike probing on every heartbeat, this does not misfire when
         * appends are merely still in flight or reordered.) */
        become_probe(pr);
        (void)send_append(r, pr, true);
    }
    raft_reads_release(r);
}

void
raft_handle_snapshot_resp(raft *r, const raft_msg *m)
{
    raft_progress *pr = raft_progress_get(r, m->from.s);
    if (pr == NULL)
        return;
    pr->recent_active = true;
    if (m->reject) {
        if (pr->state == RAFT_PROGRESS_SNAPSHOT) {
            pr->pending_snapshot = 0;
            become_probe(pr);
        }
        (void)send_append(r, pr, true);
        return;
    }
    if (m->index > raft_log_last_index(&r->log)) {
        raft_invariant_failed(r);
        return;
    }
    (void)progress_update(r, pr, m->index);
    if (pr->state == RAFT_PROGRESS_SNAPSHOT && pr->match >= pr->pending_snapshot)
        become_probe(pr);
    after_progress(r, pr);
}

/* ---- leader tick ----------------------------------------------------------- */

static bool
quorum_active(const raft *r)
{
    uint32_t n = raft_conf_is_voter(&r->conf, r->id.s) ? 1 : 0;
    for (uint32_t i = 0; i < r->n_prs; i++)
        if (r->prs[i].voter && r->prs[i].recent_active)
            n++;
    return n >= raft_conf_quorum(&r->conf);
}

void
raft_tick_leader(raft *r)
{
    uint64_t t = r->cfg.election_timeout_ms;
    if (r->now - r->quorum_reset >= t) {
        r->quorum_reset = r->now;
        /* Check-quorum: a leader that heard from no majority for a whole
         * election timeout may be cut off; stepping down stops it serving
         * stale reads and lets its followers' lease logic work. */
        if (r->cfg.check_quorum && !quorum_active(r)) {
            raft_become_follower(r, r->term, NULL);
            return;
        }
        for (uint32_t i = 0; i < r->n_prs; i++)
            r->prs[i].recent_active = false;
    }
    if (r->transferee.s[0] != '\0' && r->now >= r->transfer_deadline)
        raft_set_id(&r->transferee, NULL);   /* transfer abandoned */
    for (uint32_t i = 0; i < r->n_prs; i++) {
        raft_progress *pr = &r->prs[i];
        /* A snapshot (or its answer) may be lost: retry after 2T. */
        if (pr->state == RAFT_PROGRESS_SNAPSHOT && r->now - pr->snapshot_sent_ms >= 2 * t) {
            pr->pending_snapshot = 0;
            become_probe(pr);
        }
    }
    if (r->now - r->heartbeat_reset >= r->cfg.heartbeat_ms) {
        r->heartbeat_reset = r->now;
        raft_bcast_heartbeat(r);
    }
}
