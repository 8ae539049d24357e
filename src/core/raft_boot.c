/*
 * raft_boot.c -- getting state in and out: bootstrap, restore after a
 * restart, snapshots taken by the application, status.
 */
#include "core/raft_internal.h"

#include <string.h>

/* Bootstrap and restore only make sense on a node that has seen nothing:
 * merging them with existing state could fork the log. */
static bool
fresh(const raft *r)
{
    return r->term == 0 && raft_log_last_index(&r->log) == 0 && r->snap == NULL &&
           r->n_msgs == 0;
}

int
raft_bootstrap(raft *r, const raft_member *voters, size_t n)
{
    if (r->busy)
        return RAFT_EBUSY;
    if (!fresh(r))
        return RAFT_ESTATE;
    raft_conf c;
    if (voters == NULL || raft_conf_from_voters(voters, n, &c) != RAFT_OK ||
        !raft_conf_is_voter(&c, r->id.s))
        return RAFT_EINVAL;
    uint8_t buf[RAFT_CONF_ENTRY_MAX];
    size_t len = raft_conf_entry_encode(RAFT_CONF_BOOTSTRAP, "", &c, buf, sizeof(buf));
    if (len == 0)
        return RAFT_ETOOBIG;
    /* Every initial member writes this same entry (canonical encoding), so
     * it is in every log already: committed by construction. */
    raft_entry e = {.term = 1, .index = 1, .type = RAFT_ENTRY_CONF,
                    .len = (uint32_t)len, .data = buf};
    r->term = 1;
    raft_append_entries(r, &e, 1);
    r->log.commit = 1;
    raft_become_follower(r, 1, NULL);
    return RAFT_OK;
}

static bool
vote_ok(const raft_id *v)
{
    const char *nul = memchr(v->s, '\0', sizeof(v->s));
    return nul != NULL && (nul == v->s || raft_id_valid(v->s, (size_t)(nul - v->s)));
}

/* Durable state must be self-consistent; anything else is corruption the
 * runtime has to hear about rather than a log we silently trust.  *term
 * receives the newest term the state shows (see raft_restore). */
static int
check_restore(const raft_hard_state *hs, const raft_snapshot *snap,
              const raft_entry *ents, size_t n, size_t *skip, uint64_t *newest)
{
    uint64_t base = snap ? snap->meta.index : 0, term = snap ? snap->meta.term : 0;
    if (!vote_ok(&hs->vote) || (n > 0 && ents == NULL))
        return RAFT_EINVAL;
    if (snap != NULL && (base == 0 || term == 0 ||
                         !raft_conf_valid(&snap->meta.conf) ||
                         (snap->len > 0 && snap->data == NULL)))
        return RAFT_EINVAL;
    *skip = 0;
    while (*skip < n && ents[*skip].index <= base)
        (*skip)++;
    for (size_t i = *skip; i < n; i++) {
        const raft_entry *e = &ents[i];
        if (e->index != base + 1 + (i - *skip) || e->term < term ||
            e->type > RAFT_ENTRY_CONF ||
            (e->len > 0 && e->data == NULL) ||
            (e->type == RAFT_ENTRY_CONF &&
             raft_conf_entry_decode(e->data, e->len, NULL, NULL, NULL) != RAFT_OK))
            return RAFT_EINVAL;
        term = e->term;
    }
    if (hs->commit > base + (n - *skip))
        return RAFT_EINVAL;             /* committed entries went missing */
    *newest = term > hs->term ? term : hs->term;
    return RAFT_OK;
}

int
raft_restore(raft *r, const raft_hard_state *hs, const raft_snapshot *snap,
             const raft_entry *ents, size_t n)
{
    if (r->busy)
        return RAFT_EBUSY;
    if (!fresh(r))
        return RAFT_ESTATE;
    size_t skip;
    uint64_t term;
    if (hs == NULL || check_restore(hs, snap, ents, n, &skip, &term) != RAFT_OK)
        return RAFT_EINVAL;
    if (snap != NULL) {
        r->snap = raft_snapshot_dup(snap);
        raft_log_reset(&r->log, snap->meta.index, snap->meta.term);
    }
    for (size_t i = skip; i < n; i++)
        raft_log_append(&r->log, &ents[i]);
    r->log.stable = raft_log_last_index(&r->log);
    raft_log_commit_to(&r->log, hs->commit);
    /* The state machine restarts from the snapshot; committed entries
     * after it are handed out again. */
    r->log.applied = r->log.snap_index;
    /* A crash in the middle of persisting a batch can leave its entries
     * (or snapshot) durable but not its hard state, so the log may show a
     * newer term than the hard state.  Adopting that term with no vote is
     * safe: nothing that depended on the torn batch -- a vote grant, an
     * acknowledgement -- was sent, since messages leave only after their
     * whole batch is durable. */
    r->term = term;
    if (term == hs->term)
        r->vote = hs->vote;
    r->prev_hs = *hs;
    raft_conf_refresh(r);
    r->conf_changed = true;
    raft_become_follower(r, r->term, NULL);
    return RAFT_OK;
}

int
raft_snapshot_taken(raft *r, uint64_t index, const void *data, size_t len,
                    raft_snapshot_meta *meta)
{
    if (r->busy)
        return RAFT_EBUSY;
    if (len > 0 && data == NULL)
        return RAFT_EINVAL;
    if (index <= r->log.snap_index)
        return RAFT_ECOMPACTED;
    if (index > r->log.applied)
        return RAFT_EINVAL;             /* the app cannot have that state */
    raft_snapshot *s = raft_xcalloc(1, sizeof(*s));
    s->meta.index = index;
    (void)raft_log_term(&r->log, index, &s->meta.term);
    raft_conf_at(r, index, &s->meta.conf);      /* before compacting */
    s->len = len;
    if (len > 0) {
        s->data = raft_xmalloc(len);
        memcpy(s->data, data, len);
    }
    raft_snapshot_free(r->snap);
    r->snap = s;
    raft_log_compact(&r->log, index);
    if (meta != NULL)
        *meta = s->meta;
    return RAFT_OK;
}

/* ---- read-only ------------------------------------------------------------ */

void
raft_get_status(const raft *r, raft_status *st)
{
    memset(st, 0, sizeof(*st));
    st->id = r->id;
    st->role = raft_status_role(r);
    st->pre_vote_round = r->role == RAFT_PRECANDIDATE;
    st->term = r->term;
    st->vote = r->vote;
    st->leader = r->leader;
    st->commit = r->log.commit;
    st->applied = r->log.applied;
    st->last_index = raft_log_last_index(&r->log);
    st->last_term = raft_log_last_term(&r->log);
    st->snap_index = r->log.snap_index;
    st->conf = r->conf;
    st->invariant_errors = r->invariant_errors;
    if (r->role != RAFT_LEADER)
        return;
    st->transferee = r->transferee;
    st->n_peers = r->n_prs;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        const raft_progress *pr = &r->prs[i];
        raft_peer_status *p = &st->peers[i];
        p->id = pr->id;
        p->voter = pr->voter;
        p->match = pr->match;
        p->next = pr->next;
        p->state = pr->state;
        p->recent_active = pr->recent_active;
    }
}

int
raft_term_at(const raft *r, uint64_t index, uint64_t *term)
{
    return raft_log_term(&r->log, index, term);
}
