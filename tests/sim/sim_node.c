/*
 * sim_node.c -- a simulated runtime around one raft instance: durable
 * storage written only from ready batches (in the documented order), the
 * persist -> send -> apply -> advance cycle, crashes that keep only what was
 * durable, restarts through raft_restore, and a toy state machine.
 */
#include <stdlib.h>
#include <string.h>

#include "core/raft_internal.h"
#include "sim.h"

#define APP_SNAP_LEN 24                 /* index, state hash, count */

uint64_t
sim_mix(uint64_t h, uint64_t v)
{
    uint64_t x = h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
    return raft_splitmix64(&x);
}

uint64_t
sim_hash(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t f = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        f = (f ^ b[i]) * 0x100000001b3ULL;
    return sim_mix(h, f ^ n);
}

uint64_t
sim_entry_hash(const raft_entry *e)
{
    return sim_hash(sim_mix(sim_mix(0, e->term), e->type), e->data, e->len);
}

int
sim_slot_of(const sim_world *w, const char *id)
{
    for (int i = 0; i < w->n_slots; i++)
        if (w->nodes[i].state != SLOT_EMPTY && strcmp(w->nodes[i].id, id) == 0)
            return i;
    return -1;
}

static void
storage_free(sim_node *nd)
{
    for (size_t i = 0; i < nd->n_log; i++)
        free(nd->log[i].e.data);
    free(nd->log);
    nd->log = NULL;
    nd->n_log = nd->cap_log = 0;
    free(nd->snap.data);
    memset(&nd->snap, 0, sizeof(nd->snap));
    nd->has_snap = false;
    memset(&nd->hs, 0, sizeof(nd->hs));
}

void
sim_node_free(sim_node *nd)
{
    raft_free(nd->r);
    nd->r = NULL;
    storage_free(nd);
}

uint64_t
sim_chain_at(const sim_node *nd, uint64_t index, bool *found)
{
    *found = true;
    if (index == 0)
        return 0;
    if (nd->has_snap && index == nd->snap.meta.index)
        return nd->snap_chain;
    if (nd->n_log > 0 && index >= nd->log[0].e.index &&
        index <= nd->log[nd->n_log - 1].e.index)
        return nd->log[index - nd->log[0].e.index].chain;
    *found = false;
    return 0;
}

static uint64_t
last_stored(const sim_node *nd)
{
    if (nd->n_log > 0)
        return nd->log[nd->n_log - 1].e.index;
    return nd->has_snap ? nd->snap.meta.index : 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void
fresh_volatile(sim_world *w, sim_node *nd)
{
    nd->applied = nd->sm_hash = nd->sm_count = 0;
    nd->seen_commit = nd->checked_commit = 0;
    nd->fail_next_persist = nd->crash_after_persist = false;
    nd->crash_mid_persist = false;
    nd->doom_at = 0;
    nd->next_tick = w->now + sim_rand(w, nd->tick_ms);
}

void
sim_node_start(sim_world *w, int slot, bool bootstrap)
{
    sim_node *nd = &w->nodes[slot];
    if (nd->gen == 0 && nd->id[0] == '\0')
        snprintf(nd->id, sizeof(nd->id), "n%d", slot + 1);
    else
        snprintf(nd->id, sizeof(nd->id), "n%d-%d", slot + 1, ++nd->gen);
    nd->cfg.id = nd->id;
    nd->r = raft_new(&nd->cfg);
    nd->state = SLOT_UP;
    nd->durable_commit = 0;
    fresh_volatile(w, nd);
    if (bootstrap) {
        raft_member v[SIM_MAX_SLOTS];
        memset(v, 0, sizeof(v));
        for (int i = 0; i < w->n_init; i++) {
            snprintf(v[i].id.s, sizeof(v[i].id.s), "n%d", i + 1);
            v[i].voter = true;
            v[i].ctx_len = (uint16_t)snprintf((char *)v[i].ctx, RAFT_CTX_MAX,
                                              "addr-n%d", i + 1);
        }
        if (raft_bootstrap(nd->r, v, (size_t)w->n_init) != RAFT_OK)
            sim_violation(w, "bootstrap failed on %s", nd->id);
    }
    raft_tick(nd->r, w->now);
    sim_trace(w, "start %s%s", nd->id, bootstrap ? " (bootstrap)" : "");
}

void
sim_node_crash(sim_world *w, int slot)
{
    sim_node *nd = &w->nodes[slot];
    raft_free(nd->r);
    nd->r = NULL;
    nd->state = SLOT_DOWN;
    nd->restart_at = w->now + 1 + sim_rand(w, 3 * w->T);
    sim_trace(w, "crash %s", nd->id);
}

static void
app_from_snapshot(sim_node *nd, const raft_snapshot *s)
{
    uint64_t v[3] = {0, 0, 0};
    if (s->len == APP_SNAP_LEN)
        memcpy(v, s->data, APP_SNAP_LEN);
    nd->applied = s->meta.index;
    nd->sm_hash = v[1];
    nd->sm_count = v[2];
}

void
sim_node_restart(sim_world *w, int slot)
{
    sim_node *nd = &w->nodes[slot];
    nd->r = raft_new(&nd->cfg);
    nd->state = SLOT_UP;
    fresh_volatile(w, nd);
    raft_entry *ents = calloc(nd->n_log + 1, sizeof(*ents));
    for (size_t i = 0; i < nd->n_log; i++)
        ents[i] = nd->log[i].e;         /* borrowed: restore copies */
    int rc = raft_restore(nd->r, &nd->hs, nd->has_snap ? &nd->snap : NULL,
                          ents, nd->n_log);
    free(ents);
    if (rc != RAFT_OK) {
        sim_violation(w, "%s: raft_restore rejected its durable state: %s",
                      nd->id, raft_strerror(rc));
        return;
    }
    if (nd->has_snap)
        app_from_snapshot(nd, &nd->snap);
    raft_tick(nd->r, w->now);
    sim_trace(w, "restart %s term=%llu commit=%llu last=%llu", nd->id,
              (unsigned long long)nd->hs.term, (unsigned long long)nd->hs.commit,
              (unsigned long long)last_stored(nd));
    sim_check_restart(w, slot);
    sim_node_drain(w, slot);
    sim_check_node(w, slot);
}

void
sim_node_decommission(sim_world *w, int slot)
{
    sim_node *nd = &w->nodes[slot];
    sim_trace(w, "decommission %s", nd->id);
    sim_node_free(nd);
    nd->state = SLOT_EMPTY;
}

/* ---- persist ------------------------------------------------------------------ */

static void
store_snapshot(sim_node *nd, const raft_snapshot *s, uint64_t chain)
{
    free(nd->snap.data);
    nd->snap.meta = s->meta;
    nd->snap.len = s->len;
    nd->snap.data = malloc(s->len + 1);
    if (s->len > 0)
        memcpy(nd->snap.data, s->data, s->len);
    nd->has_snap = true;
    nd->snap_chain = chain;
}

static void
drop_from(sim_node *nd, uint64_t index)
{
    while (nd->n_log > 0 && nd->log[nd->n_log - 1].e.index >= index)
        free(nd->log[--nd->n_log].e.data);
}

static void
store_entry(sim_world *w, int slot, const raft_entry *e)
{
    sim_node *nd = &w->nodes[slot];
    if (e->index != last_stored(nd) + 1) {
        sim_violation(w, "%s: batch entry %llu does not continue durable log "
                      "ending at %llu", nd->id, (unsigned long long)e->index,
                      (unsigned long long)last_stored(nd));
        return;
    }
    bool found;
    uint64_t prev = sim_chain_at(nd, e->index - 1, &found);
    if (nd->n_log == nd->cap_log) {
        nd->cap_log = nd->cap_log ? nd->cap_log * 2 : 64;
        nd->log = realloc(nd->log, nd->cap_log * sizeof(*nd->log));
    }
    sim_entry *se = &nd->log[nd->n_log++];
    se->e = *e;
    se->e.data = malloc(e->len + 1);
    if (e->len > 0)
        memcpy(se->e.data, e->data, e->len);
    se->chain = sim_mix(prev, sim_entry_hash(e));
    sim_check_entry(w, slot, se);
}

/* Writes the batch in the documented order, stopping after `limit`
 * operations (a failed write leaves some prefix on disk). */
static void
persist(sim_world *w, int slot, const raft_ready *rd, size_t limit)
{
    sim_node *nd = &w->nodes[slot];
    size_t k = 0;
    if (rd->snapshot != NULL) {
        if (k++ >= limit)
            return;
        bool found;
        uint64_t chain = sim_lm_lookup(w, rd->snapshot->meta.index,
                                       rd->snapshot->meta.term, &found);
        if (!found)
            sim_violation(w, "%s: snapshot at unknown entry", nd->id);
        store_snapshot(nd, rd->snapshot, chain);
        drop_from(nd, 0);
    }
    uint64_t cut = rd->truncate_from;
    if (rd->n_entries > 0 && (cut == 0 || rd->entries[0].index < cut))
        cut = rd->entries[0].index;     /* a retried batch may overlap */
    if (cut != 0) {
        if (k++ >= limit)
            return;
        drop_from(nd, cut);
    }
    for (size_t i = 0; i < rd->n_entries && !w->stop; i++) {
        if (k++ >= limit)
            return;
        store_entry(w, slot, &rd->entries[i]);
    }
    if (rd->has_hard_state) {
        if (k++ >= limit)
            return;
        sim_check_durable_commit(w, slot, rd->hard_state.commit);
        nd->hs = rd->hard_state;
    }
}

static size_t
persist_ops(const raft_ready *rd)
{
    return (rd->snapshot ? 1 : 0) + 1 + rd->n_entries + (rd->has_hard_state ? 1 : 0);
}

/* ---- apply ------------------------------------------------------------------- */

static void
apply(sim_world *w, int slot, const raft_ready *rd)
{
    sim_node *nd = &w->nodes[slot];
    if (rd->snapshot != NULL) {
        app_from_snapshot(nd, rd->snapshot);
        sim_check_snapshot_install(w, slot, rd->snapshot->meta.index, nd->sm_hash);
    }
    for (size_t i = 0; i < rd->n_committed && !w->stop; i++) {
        const raft_entry *e = &rd->committed[i];
        if (e->index != nd->applied + 1) {
            sim_violation(w, "%s: applies %llu after %llu", nd->id,
                          (unsigned long long)e->index,
                          (unsigned long long)nd->applied);
            return;
        }
        nd->applied = e->index;
        nd->sm_hash = sim_mix(nd->sm_hash, sim_entry_hash(e));
        nd->sm_count += e->type == RAFT_ENTRY_NORMAL;
        sim_check_apply(w, slot, e);
    }
    for (size_t i = 0; i < rd->n_reads && !w->stop; i++)
        sim_check_read(w, slot, &rd->reads[i]);
}

void
sim_node_drain(sim_world *w, int slot)
{
    sim_node *nd = &w->nodes[slot];
    for (int guard = 0; nd->state == SLOT_UP && !w->stop && raft_has_ready(nd->r);
         guard++) {
        if (guard > 1000) {
            sim_violation(w, "%s: ready batches never settle", nd->id);
            return;
        }
        raft_ready rd;
        raft_get_ready(nd->r, &rd);
        if (nd->fail_next_persist) {
            nd->fail_next_persist = false;
            persist(w, slot, &rd, (size_t)sim_rand(w, persist_ops(&rd) + 1));
            raft_persist_failed(nd->r);
            sim_trace(w, "%s: persist failed", nd->id);
            continue;
        }
        if (nd->crash_mid_persist) {
            persist(w, slot, &rd, (size_t)sim_rand(w, persist_ops(&rd) + 1));
            sim_node_crash(w, slot);    /* torn batch, nothing sent */
            return;
        }
        persist(w, slot, &rd, SIZE_MAX);
        if (nd->crash_after_persist) {
            nd->crash_after_persist = false;
            sim_node_crash(w, slot);    /* durable, but nothing sent */
            return;
        }
        for (size_t i = 0; i < rd.n_msgs; i++)
            sim_net_send(w, slot, &rd.msgs[i]);
        apply(w, slot, &rd);
        raft_advance(nd->r, &rd);
    }
}

/* ---- snapshots taken by the app ---------------------------------------------- */

int
sim_take_snapshot(sim_world *w, int slot)
{
    sim_node *nd = &w->nodes[slot];
    uint64_t v[3] = {nd->applied, nd->sm_hash, nd->sm_count};
    raft_snapshot_meta meta;
    int rc = raft_snapshot_taken(nd->r, nd->applied, v, sizeof(v), &meta);
    if (rc != RAFT_OK)
        return rc;
    bool found;
    uint64_t chain = sim_chain_at(nd, meta.index, &found);
    if (!found) {
        sim_violation(w, "%s: snapshot index %llu not in durable log", nd->id,
                      (unsigned long long)meta.index);
        return rc;
    }
    raft_snapshot s = {.meta = meta, .data = (uint8_t *)v, .len = sizeof(v)};
    /* Snapshot first, then compact: a crash in between loses nothing. */
    store_snapshot(nd, &s, chain);
    size_t keep = 0;
    for (size_t i = 0; i < nd->n_log; i++) {
        if (nd->log[i].e.index <= meta.index)
            free(nd->log[i].e.data);
        else
            nd->log[keep++] = nd->log[i];
    }
    nd->n_log = keep;
    sim_trace(w, "%s: snapshot at %llu", nd->id, (unsigned long long)meta.index);
    return RAFT_OK;
}
