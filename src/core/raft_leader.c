/*
 * raft_leader.c -- requests only a leader serves: proposals, membership
 * changes, leadership transfer and ReadIndex reads.
 */
#include "core/raft_internal.h"

#include <stdint.h>
#include <string.h>

static int
leader_check(const raft *r)
{
    if (r->busy)
        return RAFT_EBUSY;
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    return RAFT_OK;
}

bool
raft_committed_in_term(const raft *r)
{
    uint64_t t;
    return raft_log_term(&r->log, r->log.commit, &t) == RAFT_OK && t == r->term;
}

static void
append_local(raft *r, uint8_t type, const void *data, uint32_t len,
             uint64_t *index)
{
    raft_entry e = {.term = r->term,
                    .index = raft_log_last_index(&r->log) + 1,
                    .type = type,
                    .len = len,
                    .data = (uint8_t *)(uintptr_t)data};   /* copied */
    raft_append_entries(r, &e, 1);
    if (index != NULL)
        *index = e.index;
    raft_bcast_append(r, false);
}

int
raft_propose(raft *r, const void *data, uint32_t len, uint64_t *index)
{
    int rc = leader_check(r);
    if (rc != RAFT_OK)
        return rc;
    if (r->transferee.s[0] != '\0')
        return RAFT_ETRANSFER;          /* the target must catch up first */
    if (len > 0 && data == NULL)
        return RAFT_EINVAL;
    if (len > RAFT_MAX_ENTRY_BYTES)
        return RAFT_ETOOBIG;
    append_local(r, RAFT_ENTRY_NORMAL, data, len, index);
    return RAFT_OK;
}

int
raft_propose_conf(raft *r, raft_conf_op op, const char *id, const void *ctx,
                  uint16_t ctx_len, uint64_t *index)
{
    int rc = leader_check(r);
    if (rc != RAFT_OK)
        return rc;
    if (r->transferee.s[0] != '\0')
        return RAFT_ETRANSFER;
    /* Single-server changes are safe only one at a time, and only once
     * this leader committed an entry of its term: otherwise a change of a
     * previous leader, still uncommitted, could overlap with ours. */
    if (!raft_committed_in_term(r) || r->conf_index > r->log.commit)
        return RAFT_ECONFPENDING;
    raft_conf next;
    rc = raft_conf_change(&r->conf, op, id, ctx, ctx_len, &next);
    if (rc != RAFT_OK)
        return rc;
    if (op == RAFT_CONF_PROMOTE) {
        /* A voter that lags would at once weaken every quorum it is in. */
        raft_progress *pr = raft_progress_get(r, id);
        if (pr == NULL || pr->match < r->log.commit)
            return RAFT_ENOTCAUGHTUP;
    }
    uint8_t buf[RAFT_CONF_ENTRY_MAX];
    size_t len = raft_conf_entry_encode(op, id, &next, buf, sizeof(buf));
    if (len == 0)
        return RAFT_ETOOBIG;
    append_local(r, RAFT_ENTRY_CONF, buf, (uint32_t)len, index);
    return RAFT_OK;
}

/* ---- leadership transfer -------------------------------------------------- */

void
raft_maybe_send_timeout_now(raft *r, raft_progress *pr)
{
    if (strcmp(r->transferee.s, pr->id.s) != 0 ||
        pr->match != raft_log_last_index(&r->log))
        return;
    /* Caught up: it can win at once, with our log (thesis 3.10). */
    raft_msg out = {0};
    out.type = RAFT_MSG_TIMEOUT_NOW;
    out.to = pr->id;
    raft_send(r, &out);
}

int
raft_transfer_leader(raft *r, const char *id)
{
    int rc = leader_check(r);
    if (rc != RAFT_OK)
        return rc;
    if (id == NULL || !raft_id_valid(id, strlen(id)) || raft_is_self(r, id))
        return RAFT_EINVAL;
    raft_progress *pr = raft_progress_get(r, id);
    if (pr == NULL || !pr->voter)
        return RAFT_ENOTFOUND;
    raft_set_id(&r->transferee, id);
    /* Give up after an election timeout so a dead target cannot block
     * proposals forever. */
    r->transfer_deadline = r->now + r->cfg.election_timeout_ms;
    if (pr->match == raft_log_last_index(&r->log))
        raft_maybe_send_timeout_now(r, pr);
    else
        raft_send_append(r, pr, true);
    return RAFT_OK;
}

/* ---- ReadIndex (thesis 6.4) ------------------------------------------------ */

int
raft_read_index(raft *r, uint64_t ctx)
{
    int rc = leader_check(r);
    if (rc != RAFT_OK)
        return rc;
    if (r->n_reads == r->cap_reads) {
        r->cap_reads = r->cap_reads ? r->cap_reads * 2 : 8;
        r->reads = raft_xrealloc(r->reads, r->cap_reads * sizeof(*r->reads));
    }
    r->reads[r->n_reads++] = (raft_pending_read){.ctx = ctx};
    raft_reads_start(r);
    return RAFT_OK;
}

void
raft_reads_start(raft *r)
{
    /* Until an entry of our term is committed our commit index may lag
     * what earlier leaders committed: reads wait for it. */
    if (r->role != RAFT_LEADER || !raft_committed_in_term(r))
        return;
    bool any = false;
    for (size_t i = 0; i < r->n_reads; i++) {
        if (r->reads[i].index == 0) {
            r->reads[i].index = r->log.commit;
            r->reads[i].round = r->read_round + 1;
            any = true;
        }
    }
    if (!any)
        return;
    /* Confirm we are still the leader *after* the reads arrived: only acks
     * of heartbeats carrying this round (or later) count. */
    r->read_round++;
    raft_bcast_heartbeat(r);
    raft_reads_release(r);
}

static bool
round_confirmed(const raft *r, uint64_t round)
{
#ifdef RAFT_TEST_FAULTS
    if (r->cfg.test_faults & RAFT_FAULT_STALE_READ)
        return true;
#endif
    uint32_t n = raft_conf_is_voter(&r->conf, r->id.s) ? 1 : 0;
    for (uint32_t i = 0; i < r->n_prs; i++)
        if (r->prs[i].voter && r->prs[i].read_acked >= round)
            n++;
    return n >= raft_conf_quorum(&r->conf);
}

void
raft_reads_release(raft *r)
{
    size_t done = 0;
    while (done < r->n_reads && r->reads[done].index > 0 &&
           round_confirmed(r, r->reads[done].round)) {
        raft_push_read(r, r->reads[done].ctx, r->reads[done].index, true);
        done++;
    }
    if (done == 0)
        return;
    memmove(r->reads, r->reads + done, (r->n_reads - done) * sizeof(*r->reads));
    r->n_reads -= done;
}

void
raft_reads_fail_all(raft *r)
{
    for (size_t i = 0; i < r->n_reads; i++)
        raft_push_read(r, r->reads[i].ctx, 0, false);
    r->n_reads = 0;
}
