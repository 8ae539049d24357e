/*
 * raft_ready.c -- the output side: queued messages and read results, the
 * ready batch and its acknowledgement (advance / persist_failed).
 */
#include "core/raft_internal.h"

#include <stdlib.h>
#include <string.h>

void
raft_send(raft *r, raft_msg *m)
{
    m->from = r->id;
    if (m->term == 0)
        m->term = r->term;
    if (r->n_msgs == r->cap_msgs) {
        r->cap_msgs = r->cap_msgs ? r->cap_msgs * 2 : 16;
        r->msgs = raft_xrealloc(r->msgs, r->cap_msgs * sizeof(*r->msgs));
    }
    r->msgs[r->n_msgs++] = *m;          /* takes entries/snap */
    memset(m, 0, sizeof(*m));
}

void
raft_push_read(raft *r, uint64_t ctx, uint64_t index, bool ok)
{
    if (r->n_reads_out == r->cap_reads_out) {
        r->cap_reads_out = r->cap_reads_out ? r->cap_reads_out * 2 : 8;
        r->reads_out = raft_xrealloc(r->reads_out,
                                     r->cap_reads_out * sizeof(*r->reads_out));
    }
    r->reads_out[r->n_reads_out++] = (raft_read_state){ctx, index, ok};
}

raft_snapshot *
raft_snapshot_dup(const raft_snapshot *s)
{
    raft_snapshot *d = raft_xcalloc(1, sizeof(*d));
    d->meta = s->meta;
    d->len = s->len;
    if (s->len > 0) {
        d->data = raft_xmalloc(s->len);
        memcpy(d->data, s->data, s->len);
    }
    return d;
}

void
raft_snapshot_free(raft_snapshot *s)
{
    if (s == NULL)
        return;
    free(s->data);
    free(s);
}

/* ---- the batch --------------------------------------------------------------- */

static bool
hs_changed(const raft *r)
{
    return r->term != r->prev_hs.term || r->log.commit != r->prev_hs.commit ||
           strcmp(r->vote.s, r->prev_hs.vote.s) != 0;
}

static bool
ss_changed(const raft *r)
{
    return raft_status_role(r) != r->prev_role || r->term != r->prev_term ||
           strcmp(r->leader.s, r->prev_leader.s) != 0;
}

/* Entries up to here are applied or covered by the (pending) snapshot. */
static uint64_t
apply_base(const raft *r)
{
    return r->log.applied > r->log.snap_index ? r->log.applied : r->log.snap_index;
}

static uint64_t
stable_base(const raft *r)
{
    return r->log.stable > r->log.snap_index ? r->log.stable : r->log.snap_index;
}

bool
raft_has_ready(const raft *r)
{
    if (r->busy)
        return false;
    return r->snap_pending || r->log.trunc_from != 0 ||
           raft_log_last_index(&r->log) > stable_base(r) || hs_changed(r) ||
           r->n_msgs > 0 || r->n_reads_out > 0 ||
           r->log.commit > apply_base(r) || ss_changed(r) || r->conf_changed;
}

static void
fill_logs(const raft *r, raft_ready *rd)
{
    const raft_log *l = &r->log;
    uint64_t last = raft_log_last_index(l), stable = stable_base(r);
    if (last > stable) {
        rd->entries = &l->ents[stable - l->snap_index];
        rd->n_entries = (size_t)(last - stable);
    }
    /* Committed entries may include ones persisted by this very batch:
     * the runtime applies only after persisting. */
    uint64_t base = apply_base(r);
    if (l->commit > base) {
        rd->committed = &l->ents[base - l->snap_index];
        rd->n_committed = (size_t)(l->commit - base);
    }
}

int
raft_get_ready(raft *r, raft_ready *rd)
{
    if (r->busy)
        return RAFT_EBUSY;
    memset(rd, 0, sizeof(*rd));
    if (r->snap_pending)
        rd->snapshot = r->snap;
    rd->truncate_from = r->log.trunc_from;
    fill_logs(r, rd);
    if (hs_changed(r)) {
        rd->has_hard_state = true;
        rd->hard_state.term = r->term;
        rd->hard_state.vote = r->vote;
        rd->hard_state.commit = r->log.commit;
    }
    rd->msgs = r->msgs;
    rd->n_msgs = r->n_msgs;
    rd->reads = r->reads_out;
    rd->n_reads = r->n_reads_out;
    if (ss_changed(r)) {
        rd->has_soft_state = true;
        rd->role = raft_status_role(r);
        rd->leader = r->leader;
        rd->term = r->term;
    }
    rd->conf_changed = r->conf_changed;
    r->busy = true;
    return RAFT_OK;
}

static void
drop_msgs(raft *r)
{
    for (size_t i = 0; i < r->n_msgs; i++)
        raft_msg_clear(&r->msgs[i]);
    r->n_msgs = 0;
}

void
raft_advance(raft *r, const raft_ready *rd)
{
    if (!r->busy || rd == NULL)
        return;
    /* Nothing changed since raft_get_ready (calls were refused with
     * RAFT_EBUSY), so the batch is exactly the current state. */
    r->busy = false;
    if (rd->has_hard_state)
        r->prev_hs = rd->hard_state;
    if (rd->snapshot != NULL) {
        r->snap_pending = false;
        if (r->log.applied < rd->snapshot->meta.index)
            r->log.applied = rd->snapshot->meta.index;
    }
    r->log.trunc_from = 0;
    if (rd->n_entries > 0)
        r->log.stable = rd->entries[rd->n_entries - 1].index;
    if (rd->n_committed > 0)
        r->log.applied = rd->committed[rd->n_committed - 1].index;
    drop_msgs(r);
    r->n_reads_out = 0;
    if (rd->has_soft_state) {
        r->prev_role = rd->role;
        r->prev_leader = rd->leader;
        r->prev_term = rd->term;
    }
    r->conf_changed = false;
    /* Our own entries just became durable: they may complete a quorum. */
    if (r->role == RAFT_LEADER && rd->n_entries > 0 && raft_maybe_commit(r))
        raft_leader_commit_advanced(r);
}

void
raft_persist_failed(raft *r)
{
    if (!r->busy)
        return;
    r->busy = false;
    /* The messages promised what is not durable: none may leave.  Entries,
     * hard state and snapshot stay pending and are offered again. */
    drop_msgs(r);
    /* A leader must not hand out the same index twice in one term, and it
     * cannot know which of its entries reached the disk: it steps down and
     * lets the next term decide. */
    if (r->role == RAFT_LEADER)
        raft_become_follower(r, r->term, NULL);
}
