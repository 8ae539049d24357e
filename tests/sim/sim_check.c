/*
 * sim_check.c -- the safety checker, run after every simulator step.
 *
 *   Election Safety      at most one leader per term
 *   Log Matching         (index, term) determines the whole prefix: every
 *                        stored entry carries a chain hash of its history,
 *                        and one (index, term) may only ever have one chain
 *   Leader Completeness  a new leader holds the highest committed entry
 *                        (and, by the chain, every one before it)
 *   State Machine Safety every node applies the same entry at an index, in
 *                        order, reaching the same state
 *   Durability           commit never decreases in memory nor on disk;
 *                        committed entries keep their chain across crashes
 *   Linearizable reads   a read's index covers everything committed
 *                        anywhere when the read was requested
 */
#include <stdlib.h>
#include <string.h>

#include "core/raft_internal.h"
#include "sim.h"

void
sim_check_init(sim_world *w)
{
    w->lm_cap = 4096;
    w->lm = calloc(w->lm_cap, sizeof(*w->lm));
    w->canon_cap = 1024;
    w->canon = calloc(w->canon_cap, sizeof(*w->canon));
    w->term_cap = 64;
    w->term_leader = calloc(w->term_cap, sizeof(*w->term_leader));
}

void
sim_check_free(sim_world *w)
{
    free(w->lm);
    free(w->canon);
    free(w->term_leader);
    free(w->reads);
}

/* ---- (index, term) -> chain ---------------------------------------------- */

static size_t
lm_pos(const sim_world *w, uint64_t index, uint64_t term)
{
    uint64_t h = sim_mix(index, term);
    size_t mask = w->lm_cap - 1, i = (size_t)h & mask;
    while (w->lm[i].index != 0 && (w->lm[i].index != index || w->lm[i].term != term))
        i = (i + 1) & mask;
    return i;
}

uint64_t
sim_lm_lookup(const sim_world *w, uint64_t index, uint64_t term, bool *found)
{
    size_t i = lm_pos(w, index, term);
    *found = w->lm[i].index != 0;
    return w->lm[i].chain;
}

static void
lm_grow(sim_world *w)
{
    sim_lm_slot *old = w->lm;
    size_t n = w->lm_cap;
    w->lm_cap *= 2;
    w->lm = calloc(w->lm_cap, sizeof(*w->lm));
    for (size_t i = 0; i < n; i++)
        if (old[i].index != 0)
            w->lm[lm_pos(w, old[i].index, old[i].term)] = old[i];
    free(old);
}

void
sim_check_entry(sim_world *w, int slot, const sim_entry *se)
{
    if (2 * (w->lm_n + 1) > w->lm_cap)
        lm_grow(w);
    size_t i = lm_pos(w, se->e.index, se->e.term);
    if (w->lm[i].index == 0) {
        w->lm[i] = (sim_lm_slot){se->e.index, se->e.term, se->chain};
        w->lm_n++;
    } else if (w->lm[i].chain != se->chain) {
        sim_violation(w, "Log Matching: %s stores (index %llu, term %llu) with "
                      "a different history than another node",
                      w->nodes[slot].id, (unsigned long long)se->e.index,
                      (unsigned long long)se->e.term);
    }
}

/* ---- canonical per-index records ------------------------------------------- */

sim_canon *
sim_canon_at(sim_world *w, uint64_t index)
{
    if (index >= w->canon_cap) {
        size_t n = w->canon_cap;
        while (n <= index)
            n *= 2;
        w->canon = realloc(w->canon, n * sizeof(*w->canon));
        memset(w->canon + w->canon_cap, 0, (n - w->canon_cap) * sizeof(*w->canon));
        w->canon_cap = n;
    }
    return &w->canon[index];
}

/* Compares a node's committed prefix (commit_from, commit] with what was
 * committed before: committed entries never change. */
static void
check_committed(sim_world *w, int slot, uint64_t commit)
{
    sim_node *nd = &w->nodes[slot];
    uint64_t from = nd->checked_commit + 1;
    if (nd->has_snap && from < nd->snap.meta.index)
        from = nd->snap.meta.index;     /* below it: compacted */
    for (uint64_t i = from; i <= commit && !w->stop; i++) {
        bool found;
        uint64_t chain = sim_chain_at(nd, i, &found);
        if (!found) {
            sim_violation(w, "%s: committed index %llu is not durable",
                          nd->id, (unsigned long long)i);
            return;
        }
        sim_canon *c = sim_canon_at(w, i);
        if (!c->has_committed) {
            c->committed_chain = chain;
            c->has_committed = true;
        } else if (c->committed_chain != chain) {
            sim_violation(w, "%s: committed entry %llu differs from the one "
                          "committed before", nd->id, (unsigned long long)i);
        }
    }
    nd->checked_commit = commit;
    if (commit > w->commit_max)
        w->commit_max = commit;
}

static void
check_leader_completeness(sim_world *w, int slot)
{
    sim_node *nd = &w->nodes[slot];
    uint64_t c = w->commit_max;
    if (c == 0)
        return;
    bool found;
    uint64_t chain = sim_chain_at(nd, c, &found);
    if (!found || chain != sim_canon_at(w, c)->committed_chain)
        sim_violation(w, "Leader Completeness: new leader %s (term %llu) "
                      "lacks committed entry %llu", nd->id,
                      (unsigned long long)nd->r->term, (unsigned long long)c);
}

static void
check_leader(sim_world *w, int slot)
{
    sim_node *nd = &w->nodes[slot];
    uint64_t t = nd->r->term;
    if (t >= w->term_cap) {
        size_t n = w->term_cap;
        while (n <= t)
            n *= 2;
        w->term_leader = realloc(w->term_leader, n * sizeof(*w->term_leader));
        memset(w->term_leader + w->term_cap, 0,
               (n - w->term_cap) * sizeof(*w->term_leader));
        w->term_cap = n;
    }
    char *l = w->term_leader[t];
    if (l[0] == '\0') {
        snprintf(l, RAFT_ID_MAX + 1, "%s", nd->id);
        w->st.elections++;
        sim_trace(w, "leader %s term %llu", nd->id, (unsigned long long)t);
        check_leader_completeness(w, slot);
        /* Adversarial scheduling: sometimes a fresh leader dies before it
         * replicated much (the Figure 8 pattern needs exactly that). */
        if (!w->healing && sim_chance(w, w->doom_pm))
            nd->doom_at = w->now + 1 + sim_rand(w, 8 * w->delay_max + 10);
    } else if (strcmp(l, nd->id) != 0) {
        sim_violation(w, "Election Safety: two leaders in term %llu: %s and %s",
                      (unsigned long long)t, l, nd->id);
    }
}

void
sim_check_node(sim_world *w, int slot)
{
    sim_node *nd = &w->nodes[slot];
    if (w->stop || nd->state != SLOT_UP)
        return;
    const raft *r = nd->r;
    if (r->invariant_errors > 0) {
        sim_violation(w, "%s: core saw %llu impossible inputs", nd->id,
                      (unsigned long long)r->invariant_errors);
        return;
    }
    if (r->log.commit < nd->seen_commit) {
        sim_violation(w, "%s: commit index went back from %llu to %llu", nd->id,
                      (unsigned long long)nd->seen_commit,
                      (unsigned long long)r->log.commit);
        return;
    }
    bool advanced = r->log.commit > nd->seen_commit;
    nd->seen_commit = r->log.commit;
    if (advanced && r->role == RAFT_LEADER && !w->healing &&
        sim_chance(w, w->doom_pm))
        sim_cut_off(w, slot);           /* adversary: right after a commit */
    if (r->log.commit > nd->checked_commit)
        check_committed(w, slot, r->log.commit);
    if (!w->stop && r->role == RAFT_LEADER)
        check_leader(w, slot);
}

/* ---- state machine ------------------------------------------------------------ */

void
sim_check_apply(sim_world *w, int slot, const raft_entry *e)
{
    sim_node *nd = &w->nodes[slot];
    if (e->index > nd->r->log.commit) {
        sim_violation(w, "%s: applies uncommitted %llu", nd->id,
                      (unsigned long long)e->index);
        return;
    }
    sim_canon *c = sim_canon_at(w, e->index);
    uint64_t h = sim_entry_hash(e);
    if (!c->has_applied) {
        c->applied_hash = h;
        c->state = nd->sm_hash;
        c->has_applied = true;
        if (e->type == RAFT_ENTRY_NORMAL) {
            w->st.commits++;
            uint64_t id = 0;
            if (e->len >= 8)
                memcpy(&id, e->data, 8);
            if (w->final_prop != 0 && id == w->final_prop) {
                w->final_done = true;
                sim_trace(w, "liveness marker committed at %llu",
                          (unsigned long long)e->index);
            }
        }
    } else if (c->applied_hash != h || c->state != nd->sm_hash) {
        sim_violation(w, "State Machine Safety: %s applied a different entry "
                      "at index %llu", nd->id, (unsigned long long)e->index);
    }
}

void
sim_check_snapshot_install(sim_world *w, int slot, uint64_t index, uint64_t state)
{
    sim_canon *c = sim_canon_at(w, index);
    if (!c->has_applied || c->state != state)
        sim_violation(w, "State Machine Safety: %s installed a snapshot at %llu "
                      "whose state nobody applied", w->nodes[slot].id,
                      (unsigned long long)index);
}

void
sim_check_restart(sim_world *w, int slot)
{
    sim_node *nd = &w->nodes[slot];
    if (nd->hs.commit < nd->durable_commit)
        sim_violation(w, "%s: durable commit went back", nd->id);
}

void
sim_check_durable_commit(sim_world *w, int slot, uint64_t commit)
{
    sim_node *nd = &w->nodes[slot];
    if (commit < nd->durable_commit) {
        sim_violation(w, "%s: persisted commit %llu below earlier %llu", nd->id,
                      (unsigned long long)commit,
                      (unsigned long long)nd->durable_commit);
        return;
    }
    nd->durable_commit = commit;
}

void
sim_check_read(sim_world *w, int slot, const raft_read_state *rs)
{
    sim_node *nd = &w->nodes[slot];
    size_t i = 0;
    while (i < w->n_reads && !(w->reads[i].ctx == rs->ctx &&
                               w->reads[i].slot == slot &&
                               w->reads[i].gen == nd->gen))
        i++;
    if (i == w->n_reads) {
        sim_violation(w, "%s: read result for unknown ctx %llu", nd->id,
                      (unsigned long long)rs->ctx);
        return;
    }
    sim_trace(w, "read ctx=%llu on %s: %s index=%llu (needs >= %llu)",
              (unsigned long long)rs->ctx, nd->id, rs->ok ? "ok" : "failed",
              (unsigned long long)rs->index,
              (unsigned long long)w->reads[i].min_index);
    if (rs->ok && (rs->index < w->reads[i].min_index || rs->index > nd->r->log.commit))
        sim_violation(w, "linearizability: %s read index %llu but %llu was "
                      "committed when the read was requested", nd->id,
                      (unsigned long long)rs->index,
                      (unsigned long long)w->reads[i].min_index);
    w->reads[i] = w->reads[--w->n_reads];
}

void
sim_process_removals(sim_world *w)
{
    for (int k = 0; k < w->n_removals; k++) {
        sim_removal *rm = &w->removals[k];
        if (rm->index > w->commit_max)
            continue;
        bool found;
        uint64_t chain = sim_lm_lookup(w, rm->index, rm->term, &found);
        const sim_canon *c = sim_canon_at(w, rm->index);
        if (found && c->has_committed && c->committed_chain == chain) {
            /* The removal is committed: usually the operator shuts the node
             * down.  With pre-vote and check-quorum on, a removed node that
             * never learnt of its removal may also linger: it must neither
             * win an election nor disrupt the cluster. */
            int slot = sim_slot_of(w, rm->id);
            const raft_config *cfg = &w->nodes[0].cfg;
            bool linger = cfg->pre_vote && cfg->check_quorum && sim_rand(w, 2) == 0;
            if (slot >= 0 && !linger)
                sim_node_decommission(w, slot);
        }
        w->removals[k--] = w->removals[--w->n_removals];
    }
}
