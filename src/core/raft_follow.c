/*
 * raft_follow.c -- the receiving side of replication: append, heartbeat and
 * install-snapshot from the leader of the current term.
 */
#include "core/raft_internal.h"

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

void
raft_append_entries(raft *r, const raft_entry *e, size_t n)
{
    bool conf = false;
    for (size_t i = 0; i < n; i++) {
        raft_log_append(&r->log, &e[i]);
        conf |= e[i].type == RAFT_ENTRY_CONF;
    }
    /* A configuration takes effect as soon as it is in the log, committed
     * or not (single-server changes, thesis 4.1). */
    if (conf)
        raft_conf_refresh(r);
}

/* Merges the message's entries (whose previous entry already matched):
 * entries we hold with the same term are identical by Log Matching and are
 * kept, so a stale or duplicated append never truncates a matching suffix.
 * Only from the first conflict on is our log replaced.  False if that
 * conflict is at a committed index (impossible in a correct cluster). */
static bool
merge_entries(raft *r, const raft_msg *m)
{
    raft_log *l = &r->log;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const raft_entry *e = &m->entries[i];
        uint64_t t;
        int rc = raft_log_term(l, e->index, &t);
        if (rc == RAFT_ECOMPACTED || (rc == RAFT_OK && t == e->term))
            continue;
        if (rc == RAFT_OK) {
            if (e->index <= l->commit) {
                raft_invariant_failed(r);
                return false;
            }
            raft_log_truncate(l, e->index);
            if (r->conf_index >= e->index)
                raft_conf_refresh(r);   /* the conf entry we had is gone */
        }
        raft_append_entries(r, e, m->n_entries - i);
        return true;
    }
    return true;
}

void
raft_handle_append(raft *r, const raft_msg *m)
{
    raft_log *l = &r->log;
    raft_msg out = {0};
    out.type = RAFT_MSG_APPEND_RESP;
    out.to = m->from;
    if (m->index < l->commit) {
        /* Everything up to our commit index is settled and equal to the
         * leader's log: report it so the leader moves on. */
        out.index = l->commit;
    } else if (raft_log_match(l, m->index, m->log_term)) {
        if (!merge_entries(r, m))
            return;
        uint64_t last_new = m->index + m->n_entries;
        /* Only what this message proved to match may be committed: beyond
         * last_new our log may still diverge from the leader's. */
        raft_log_commit_to(l, min_u64(m->commit, last_new));
        out.index = last_new;
    } else {
        /* Consistency check failed.  Hint where to probe next: the last
         * index whose term is not newer than the leader's previous term, so
         * the leader can skip a whole divergent term per round trip. */
        uint64_t hint = min_u64(m->index, raft_log_last_index(l));
        hint = raft_log_conflict_by_term(l, hint, m->log_term);
        uint64_t hint_term = 0;
        if (raft_log_term(l, hint, &hint_term) != RAFT_OK)
            hint_term = 0;
        out.reject = true;
        out.index = m->index;
        out.hint_index = hint;
        out.hint_term = hint_term;
    }
    raft_send(r, &out);
}

void
raft_handle_heartbeat(raft *r, const raft_msg *m)
{
    /* The leader never sends a commit beyond our match index, so every
     * entry up to it is the leader's; the min guards a restarted node. */
    raft_log_commit_to(&r->log, min_u64(m->commit, raft_log_last_index(&r->log)));
    raft_msg out = {0};
    out.type = RAFT_MSG_HEARTBEAT_RESP;
    out.to = m->from;
    out.ctx = m->ctx;
    raft_send(r, &out);
}

void
raft_handle_snapshot(raft *r, const raft_msg *m)
{
    const raft_snapshot_meta *meta = &m->snap->meta;
    raft_msg out = {0};
    out.type = RAFT_MSG_SNAPSHOT_RESP;
    out.to = m->from;
    if (meta->index <= r->log.commit) {
        out.index = r->log.commit;      /* nothing new in it for us */
    } else if (raft_log_match(&r->log, meta->index, meta->term)) {
        /* We hold that prefix already (Log Matching): it is committed. */
        raft_log_commit_to(&r->log, meta->index);
        out.index = meta->index;
    } else {
        raft_snapshot_free(r->snap);
        r->snap = raft_snapshot_dup(m->snap);
        r->snap_pending = true;
        raft_log_reset(&r->log, meta->index, meta->term);
        raft_conf_refresh(r);
        out.index = meta->index;
    }
    raft_send(r, &out);
}
