/*
 * sim_ops.c -- what happens to the cluster: client operations (proposals,
 * reads, membership changes, transfers, snapshots) and faults (crashes,
 * partitions, failed writes), all drawn from the seed.
 */
#include <stdlib.h>
#include <string.h>

#include "core/raft_internal.h"
#include "sim.h"

int
sim_find_leader(const sim_world *w)
{
    int best = -1;
    uint64_t term = 0;
    for (int i = 0; i < w->n_slots; i++) {
        const sim_node *nd = &w->nodes[i];
        if (nd->state == SLOT_UP && nd->r->role == RAFT_LEADER && nd->r->term >= term) {
            best = i;
            term = nd->r->term;
        }
    }
    return best;
}

static int
random_slot(sim_world *w, sim_slot_state want)
{
    int cand[SIM_MAX_SLOTS], n = 0;
    for (int i = 0; i < w->n_slots; i++)
        if (w->nodes[i].state == want)
            cand[n++] = i;
    return n == 0 ? -1 : cand[sim_rand(w, (uint64_t)n)];
}

static void
settle(sim_world *w, int slot)
{
    sim_node_drain(w, slot);
    sim_check_node(w, slot);
}

/* ---- client operations ------------------------------------------------------ */

static void
propose(sim_world *w, int slot, uint64_t id)
{
    uint8_t buf[8 + 64];
    size_t pad = (size_t)sim_rand(w, 65);
    memcpy(buf, &id, 8);
    for (size_t i = 0; i < pad; i++)
        buf[8 + i] = (uint8_t)sim_rand(w, 256);
    uint64_t idx = 0;
    int rc = raft_propose(w->nodes[slot].r, buf, (uint32_t)(8 + pad), &idx);
    sim_trace(w, "propose %llu on %s: %s idx=%llu", (unsigned long long)id,
              w->nodes[slot].id, raft_strerror(rc), (unsigned long long)idx);
}

static void
read_index(sim_world *w, int slot)
{
    uint64_t ctx = ++w->next_ctx;
    if (raft_read_index(w->nodes[slot].r, ctx) != RAFT_OK)
        return;
    if (w->n_reads == w->cap_reads) {
        w->cap_reads = w->cap_reads ? w->cap_reads * 2 : 16;
        w->reads = realloc(w->reads, w->cap_reads * sizeof(*w->reads));
    }
    w->reads[w->n_reads++] = (sim_read){slot, w->nodes[slot].gen, ctx, w->commit_max};
}

static void
conf_add(sim_world *w, int leader)
{
    int slot = random_slot(w, SLOT_EMPTY);
    if (slot < 0)
        return;
    sim_node_start(w, slot, false);     /* a fresh, empty node */
    char ctx[RAFT_CTX_MAX];
    int n = snprintf(ctx, sizeof(ctx), "addr-%s", w->nodes[slot].id);
    int rc = raft_propose_conf(w->nodes[leader].r, RAFT_CONF_ADD_LEARNER,
                               w->nodes[slot].id, ctx, (uint16_t)n, NULL);
    sim_trace(w, "add learner %s: %s", w->nodes[slot].id, raft_strerror(rc));
    settle(w, slot);
}

static void
conf_change(sim_world *w, int leader)
{
    const raft_conf *c = &w->nodes[leader].r->conf;
    uint32_t voters = 0, learners = 0;
    for (uint32_t i = 0; i < c->n; i++)
        c->m[i].voter ? voters++ : learners++;
    uint64_t roll = sim_rand(w, 3);
    if (learners > 0 && sim_rand(w, 2) == 0)
        roll = 0;                       /* learners are there to be promoted */
    if (roll == 0 && learners > 0) {
        uint64_t k = sim_rand(w, learners);
        for (uint32_t i = 0; i < c->n; i++)
            if (!c->m[i].voter && k-- == 0) {
                int rc = raft_propose_conf(w->nodes[leader].r, RAFT_CONF_PROMOTE,
                                           c->m[i].id.s, NULL, 0, NULL);
                sim_trace(w, "promote %s: %s", c->m[i].id.s, raft_strerror(rc));
                return;
            }
    }
    if (roll == 1 || (roll == 0 && learners == 0)) {
        if (voters + learners < (uint32_t)w->n_init + 1)
            conf_add(w, leader);
        return;
    }
    /* Remove a member, keeping at least max(2, N-1) voters.  Without
     * pre-vote and check-quorum a removed node that never learns of its
     * removal keeps disrupting elections (thesis 4.2.3), and the liveness
     * check would rightly fail: such clusters only test the other ops. */
    const raft_config *cfg = &w->nodes[leader].cfg;
    if (!cfg->pre_vote && !cfg->check_quorum)
        return;
    sim_removal rm;
    const raft_member *m = &c->m[sim_rand(w, c->n)];
    uint32_t min_voters = w->n_init - 1 > 2 ? (uint32_t)w->n_init - 1 : 2;
    if ((m->voter && voters <= min_voters) || w->n_removals >= 64)
        return;
    snprintf(rm.id, sizeof(rm.id), "%s", m->id.s);
    int rc = raft_propose_conf(w->nodes[leader].r, RAFT_CONF_REMOVE, rm.id,
                               NULL, 0, &rm.index);
    sim_trace(w, "remove %s: %s", rm.id, raft_strerror(rc));
    if (rc == RAFT_OK) {
        rm.term = w->nodes[leader].r->term;
        w->removals[w->n_removals++] = rm;
    }
}

static void
transfer(sim_world *w, int leader)
{
    const raft_conf *c = &w->nodes[leader].r->conf;
    if (c->n == 0)
        return;
    const raft_member *m = &c->m[sim_rand(w, c->n)];
    if (!m->voter && sim_rand(w, 4) != 0)
        return;                         /* mostly valid targets */
    int rc = raft_transfer_leader(w->nodes[leader].r, m->id.s);
    sim_trace(w, "transfer %s -> %s: %s", w->nodes[leader].id, m->id.s,
              raft_strerror(rc));
}

void
sim_do_op(sim_world *w)
{
    int l = sim_find_leader(w);
    uint64_t roll = sim_rand(w, 100);
    int target = l;
    if (roll < 55) {
        if (l < 0 || sim_rand(w, 10) == 0)
            target = random_slot(w, SLOT_UP);   /* may not be the leader */
        if (target >= 0)
            propose(w, target, ++w->next_prop);
    } else if (roll < 70) {
        if (l >= 0)
            read_index(w, l);
    } else if (roll < 82) {
        if (l >= 0)
            conf_change(w, l);
    } else if (roll < 85) {
        if (l >= 0)
            transfer(w, l);
    } else {
        target = random_slot(w, SLOT_UP);
        if (target >= 0)
            sim_take_snapshot(w, target);
    }
    if (target >= 0 && w->nodes[target].state == SLOT_UP)
        settle(w, target);
    sim_process_removals(w);
}

void
sim_liveness_op(sim_world *w)
{
    int l = sim_find_leader(w);
    if (w->final_done || l < 0)
        return;
    if (w->final_prop == 0)
        w->final_prop = ++w->next_prop | (1ull << 63);
    if (w->nodes[l].r->term == w->final_term)
        return;                         /* already proposed to this leader */
    uint64_t idx;
    if (raft_propose(w->nodes[l].r, &w->final_prop, 8, &idx) == RAFT_OK)
        w->final_term = w->nodes[l].r->term;
    settle(w, l);
    sim_process_removals(w);
}

/* ---- faults ---------------------------------------------------------------------- */

void
sim_heal_links(sim_world *w)
{
    memset(w->cut_until, 0, sizeof(w->cut_until));
    sim_trace(w, "links healed");
}

/* How long a cut lasts: one to seven election timeouts.  Every cut heals
 * on its own schedule, so isolated nodes come back one at a time. */
static uint64_t
cut_end(sim_world *w)
{
    return w->now + w->T + sim_rand(w, 6ull * w->T);
}

static void
partition(sim_world *w)
{
    bool side[SIM_MAX_SLOTS];
    uint64_t until = cut_end(w);
    for (int i = 0; i < w->n_slots; i++)
        side[i] = sim_rand(w, 2) == 0;
    for (int i = 0; i < w->n_slots; i++)
        for (int j = 0; j < w->n_slots; j++)
            if (side[i] != side[j])
                w->cut_until[i][j] = until;
    sim_trace(w, "partition");
}

static void
cut_links(sim_world *w)
{
    int n = 1 + (int)sim_rand(w, 3);
    for (int k = 0; k < n; k++) {
        int a = (int)sim_rand(w, (uint64_t)w->n_slots);
        int b = (int)sim_rand(w, (uint64_t)w->n_slots);
        w->cut_until[a][b] = cut_end(w);        /* one direction only */
    }
    sim_trace(w, "asymmetric cut");
}

static void
crash(sim_world *w, int slot)
{
    if (slot < 0)
        return;
    switch (sim_rand(w, 6)) {
    case 0:
    case 1:
        w->nodes[slot].crash_after_persist = true;  /* durable, unsent */
        break;
    case 2:
        w->nodes[slot].crash_mid_persist = true;    /* torn batch */
        break;
    default:
        sim_node_crash(w, slot);
        break;
    }
}

void
sim_cut_off(sim_world *w, int slot)
{
    uint64_t until = cut_end(w);
    for (int i = 0; i < w->n_slots; i++)
        w->cut_until[i][slot] = w->cut_until[slot][i] = until;
    sim_trace(w, "cut off %s", w->nodes[slot].id);
}

void
sim_do_fault(sim_world *w)
{
    uint64_t roll = sim_rand(w, 100);
    w->st.faults++;
    if (roll < 20) {
        crash(w, random_slot(w, SLOT_UP));
    } else if (roll < 35) {
        crash(w, sim_find_leader(w));
    } else if (roll < 50) {
        partition(w);
    } else if (roll < 60) {
        cut_links(w);
    } else if (roll < 75) {
        /* The leader alone: it keeps accepting proposals it cannot
         * replicate, which is how divergent logs come about. */
        int l = sim_find_leader(w);
        if (l >= 0)
            sim_cut_off(w, l);
    } else if (roll < 85) {
        sim_heal_links(w);
    } else {
        int slot = random_slot(w, SLOT_UP);
        if (slot >= 0)
            w->nodes[slot].fail_next_persist = true;
    }
}
