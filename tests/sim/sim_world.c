/*
 * sim_world.c -- one seed's world: parameters, the event loop on virtual
 * time, and the seeded network.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/raft_codec.h"
#include "core/raft_internal.h"
#include "sim.h"

uint64_t
sim_rand(sim_world *w, uint64_t n)
{
    return raft_rng_below(&w->rng, n);
}

bool
sim_chance(sim_world *w, uint32_t per_mille)
{
    return per_mille > 0 && sim_rand(w, 1000) < per_mille;
}

void
sim_trace(sim_world *w, const char *fmt, ...)
{
    if (!w->opts->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(w->out, "seed=%llu t=%llu step=%llu ", (unsigned long long)w->seed,
            (unsigned long long)w->now, (unsigned long long)w->step);
    vfprintf(w->out, fmt, ap);
    fputc('\n', w->out);
    va_end(ap);
}

void
sim_violation(sim_world *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(w->out, "seed=%llu nodes=%d t=%llu step=%llu VIOLATION: ",
            (unsigned long long)w->seed, w->n_init, (unsigned long long)w->now,
            (unsigned long long)w->step);
    vfprintf(w->out, fmt, ap);
    fputc('\n', w->out);
    va_end(ap);
    w->st.violations++;
    w->stop = true;                     /* later checks would only cascade */
}

/* ---- network: a binary heap of packets ordered by (at, seq) ------------- */

static bool
pkt_before(const sim_pkt *a, const sim_pkt *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
heap_push(sim_world *w, sim_pkt p)
{
    if (w->npq == w->cappq) {
        w->cappq = w->cappq ? w->cappq * 2 : 256;
        w->pq = realloc(w->pq, w->cappq * sizeof(*w->pq));
    }
    size_t i = w->npq++;
    w->pq[i] = p;
    while (i > 0 && pkt_before(&w->pq[i], &w->pq[(i - 1) / 2])) {
        sim_pkt t = w->pq[i];
        w->pq[i] = w->pq[(i - 1) / 2];
        w->pq[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static sim_pkt
heap_pop(sim_world *w)
{
    sim_pkt top = w->pq[0];
    w->pq[0] = w->pq[--w->npq];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->npq && pkt_before(&w->pq[l], &w->pq[m]))
            m = l;
        if (r < w->npq && pkt_before(&w->pq[r], &w->pq[m]))
            m = r;
        if (m == i)
            break;
        sim_pkt t = w->pq[i];
        w->pq[i] = w->pq[m];
        w->pq[m] = t;
        i = m;
    }
    return top;
}

void
sim_net_send(sim_world *w, int from, const raft_msg *m)
{
    sim_pkt p = {0};
    if (raft_codec_encode_alloc(m, &p.bytes, &p.len) != RAFT_OK) {
        sim_violation(w, "codec cannot encode a message of type %d", m->type);
        return;
    }
    int copies = 1;
    if (!w->healing && sim_chance(w, w->loss_pm))
        copies = 0;
    else if (!w->healing && sim_chance(w, w->dup_pm))
        copies = 2;
    p.from = from;
    memcpy(p.to, m->to.s, sizeof(p.to));
    for (int i = 0; i < copies; i++) {
        sim_pkt c = p;
        if (i > 0) {
            c.bytes = malloc(p.len);
            memcpy(c.bytes, p.bytes, p.len);
        }
        /* Independent random delays reorder messages. */
        c.at = w->now + 1 + sim_rand(w, w->delay_max);
        c.seq = w->pkt_seq++;
        heap_push(w, c);
    }
    if (copies == 0)
        free(p.bytes);
}

void
sim_net_clear(sim_world *w)
{
    for (size_t i = 0; i < w->npq; i++)
        free(w->pq[i].bytes);
    free(w->pq);
    w->pq = NULL;
    w->npq = w->cappq = 0;
}

static void
deliver(sim_world *w, sim_pkt *p)
{
    int to = sim_slot_of(w, p->to);
    if (to < 0 || w->nodes[to].state != SLOT_UP || w->now < w->cut_until[p->from][to])
        return;                         /* lost to a crash or partition */
    raft_msg m;
    if (raft_codec_decode(p->bytes, p->len, &m) != RAFT_OK) {
        sim_violation(w, "codec rejected its own encoding");
        return;
    }
    sim_trace(w, "deliver %s->%s type=%d term=%llu idx=%llu n=%u rej=%d",
              m.from.s, m.to.s, m.type, (unsigned long long)m.term,
              (unsigned long long)m.index, m.n_entries, m.reject);
    int rc = raft_step(w->nodes[to].r, &m);
    raft_msg_clear(&m);
    if (rc != RAFT_OK) {
        sim_violation(w, "raft_step refused a well-formed message: %s",
                      raft_strerror(rc));
        return;
    }
    sim_node_drain(w, to);
    sim_check_node(w, to);
}

/* ---- parameters ---------------------------------------------------------- */

static uint64_t
pick(sim_world *w, const uint64_t *v, size_t n)
{
    return v[sim_rand(w, n)];
}

static void
draw_params(sim_world *w)
{
    static const uint64_t delays[] = {2, 5, 10, 20, 40};
    static const uint64_t loss[] = {0, 0, 10, 50, 150};
    static const uint64_t dup[] = {0, 10, 50};
    static const uint64_t infl[] = {1, 2, 4, 8, 64};
    static const uint64_t ents[] = {1, 1, 2, 4, 64};
    static const uint64_t bytes[] = {1, 100, 4096, 1u << 20};
    static const uint64_t ops[] = {5, 15, 40};
    static const uint64_t faults[] = {50, 150, 400};
    static const uint64_t doom[] = {100, 300, 600};
    w->T = 50 + (uint32_t)sim_rand(w, 101);
    w->delay_max = pick(w, delays, 5);
    w->loss_pm = (uint32_t)pick(w, loss, 5);
    w->dup_pm = (uint32_t)pick(w, dup, 3);
    w->op_mean = pick(w, ops, 3);
    w->fault_mean = pick(w, faults, 3);
    w->doom_pm = (uint32_t)pick(w, doom, 3);
    raft_config c;
    memset(&c, 0, sizeof(c));
    c.election_timeout_ms = w->T;
    c.heartbeat_ms = w->T / (3 + (uint32_t)sim_rand(w, 8));
    c.max_inflight = (uint32_t)pick(w, infl, 5);
    c.max_msg_entries = (uint32_t)pick(w, ents, 5);
    c.max_msg_bytes = (uint32_t)pick(w, bytes, 4);
    c.pre_vote = sim_rand(w, 4) != 0;
    c.check_quorum = sim_rand(w, 4) != 0;
    c.test_faults = w->opts->faults;
    for (int i = 0; i < SIM_MAX_SLOTS; i++) {
        w->nodes[i].cfg = c;
        w->nodes[i].cfg.seed = raft_rng_next(&w->rng);
        w->nodes[i].tick_ms = 1 + sim_rand(w, c.heartbeat_ms / 2 + 1);
    }
    sim_trace(w, "params T=%u hb=%u infl=%u ents=%u bytes=%u prevote=%d cq=%d "
              "delay<=%llu loss=%u dup=%u", w->T, c.heartbeat_ms, c.max_inflight,
              c.max_msg_entries, c.max_msg_bytes, c.pre_vote, c.check_quorum,
              (unsigned long long)w->delay_max, w->loss_pm, w->dup_pm);
}

/* ---- the event loop --------------------------------------------------------- */

static uint64_t
next_event(const sim_world *w)
{
    uint64_t t = UINT64_MAX;
    for (int i = 0; i < w->n_slots; i++) {
        const sim_node *nd = &w->nodes[i];
        if (nd->state == SLOT_UP && nd->next_tick < t)
            t = nd->next_tick;
        if (nd->state == SLOT_DOWN && !w->healing && nd->restart_at < t)
            t = nd->restart_at;
        if (nd->state == SLOT_UP && nd->doom_at && !w->healing && nd->doom_at < t)
            t = nd->doom_at;
    }
    if (w->npq > 0 && w->pq[0].at < t)
        t = w->pq[0].at;
    if (w->next_op < t)
        t = w->next_op;
    if (!w->healing && w->next_fault < t)
        t = w->next_fault;
    return t;
}

static void
step_done(sim_world *w)
{
    w->step++;
}

/* Node events due now, in slot order: restarts, scheduled adversarial
 * crashes or cut-offs of fresh leaders, timer ticks. */
static void
run_node_events(sim_world *w)
{
    for (int i = 0; i < w->n_slots && !w->stop; i++) {
        sim_node *nd = &w->nodes[i];
        if (nd->state == SLOT_DOWN && !w->healing && nd->restart_at <= w->now) {
            sim_node_restart(w, i);
            step_done(w);
        }
    }
    for (int i = 0; i < w->n_slots && !w->stop; i++) {
        sim_node *nd = &w->nodes[i];
        if (nd->state != SLOT_UP || nd->doom_at == 0 || nd->doom_at > w->now)
            continue;
        nd->doom_at = 0;
        if (w->healing)
            continue;
        if (sim_rand(w, 2) == 0)
            sim_node_crash(w, i);
        else
            sim_cut_off(w, i);
        w->st.faults++;
        step_done(w);
    }
    for (int i = 0; i < w->n_slots && !w->stop; i++) {
        sim_node *nd = &w->nodes[i];
        if (nd->state != SLOT_UP || nd->next_tick > w->now)
            continue;
        nd->next_tick = w->now + nd->tick_ms;
        raft_tick(nd->r, w->now);
        sim_node_drain(w, i);
        sim_check_node(w, i);
        step_done(w);
    }
}

/* Everything due at w->now, in a fixed order (determinism). */
static void
run_due(sim_world *w)
{
    run_node_events(w);
    while (!w->stop && w->npq > 0 && w->pq[0].at <= w->now) {
        sim_pkt p = heap_pop(w);
        deliver(w, &p);
        free(p.bytes);
        step_done(w);
    }
    if (!w->stop && w->next_op <= w->now) {
        w->next_op = w->now + 1 + sim_rand(w, 2 * w->op_mean);
        if (w->healing)
            sim_liveness_op(w);
        else
            sim_do_op(w);
        step_done(w);
    }
    if (!w->stop && !w->healing && w->next_fault <= w->now) {
        w->next_fault = w->now + 1 + sim_rand(w, 2 * w->fault_mean);
        sim_do_fault(w);
        step_done(w);
    }
}

/* The liveness bound: elections settle within a few dozen election
 * timeouts; on top of that, a backlog of uncommitted entries may need up
 * to one round trip each to replicate (one entry per message, one message
 * in flight is a legal configuration). */
static uint64_t
liveness_bound(const sim_world *w)
{
    uint64_t last = 0, commit = UINT64_MAX;
    for (int i = 0; i < w->n_slots; i++) {
        const sim_node *nd = &w->nodes[i];
        if (nd->state != SLOT_UP)
            continue;
        uint64_t l = raft_log_last_index(&nd->r->log);
        last = l > last ? l : last;
        commit = nd->r->log.commit < commit ? nd->r->log.commit : commit;
    }
    uint64_t backlog = last > commit && commit != UINT64_MAX ? last - commit : 0;
    return 40ull * w->T + backlog * (2 * w->delay_max + 2);
}

static void
start_heal(sim_world *w)
{
    w->healing = true;
    w->heal_at = w->now;
    memset(w->cut_until, 0, sizeof(w->cut_until));
    for (int i = 0; i < w->n_slots; i++) {
        w->nodes[i].fail_next_persist = false;
        w->nodes[i].crash_after_persist = false;
        w->nodes[i].crash_mid_persist = false;
        if (w->nodes[i].state == SLOT_DOWN)
            sim_node_restart(w, i);
    }
    w->live_ms = liveness_bound(w);     /* with every node back */
    sim_trace(w, "heal: faults stop, liveness bound %llu ms",
              (unsigned long long)w->live_ms);
}

/* --verbose: every node's view, to diagnose a liveness failure. */
static void
dump_nodes(sim_world *w)
{
    for (int i = 0; i < w->n_slots; i++) {
        const sim_node *nd = &w->nodes[i];
        if (nd->state != SLOT_UP)
            continue;
        raft_status st;
        raft_get_status(nd->r, &st);
        char conf[256] = "";
        size_t off = 0;
        for (uint32_t k = 0; k < st.conf.n && off < sizeof(conf) - 80; k++)
            off += (size_t)snprintf(conf + off, sizeof(conf) - off, " %s%s",
                                    st.conf.m[k].id.s, st.conf.m[k].voter ? "" : "(l)");
        sim_trace(w, "%s %s term=%llu last=%llu/%llu commit=%llu conf:%s", nd->id,
                  raft_role_name(st.role), (unsigned long long)st.term,
                  (unsigned long long)st.last_index, (unsigned long long)st.last_term,
                  (unsigned long long)st.commit, conf);
    }
}

static void
loop(sim_world *w)
{
    const sim_opts *o = w->opts;
    uint64_t settle_until = 0;
    w->next_op = 1 + sim_rand(w, 2 * w->op_mean);
    w->next_fault = w->T + sim_rand(w, 2 * w->fault_mean);
    while (!w->stop) {
        if (o->max_steps && w->step >= o->max_steps)
            break;
        if (!w->healing && w->now >= o->chaos_ms)
            start_heal(w);
        if (w->healing && w->final_done && settle_until == 0)
            settle_until = w->now + 3 * w->T;
        if (settle_until && w->now >= settle_until)
            break;
        if (w->healing && !w->final_done && w->now > w->heal_at + w->live_ms) {
            sim_violation(w, "liveness: no leader committed a new proposal "
                          "within %llu ms after faults stopped",
                          (unsigned long long)w->live_ms);
            dump_nodes(w);
            break;
        }
        uint64_t t = next_event(w);
        if (!w->healing && t > o->chaos_ms)
            t = o->chaos_ms;
        if (t > w->now)
            w->now = t;
        run_due(w);
    }
}

int
sim_run_seed(const sim_opts *o, uint64_t seed, sim_stats *st, FILE *out)
{
    sim_world *w = calloc(1, sizeof(*w));
    w->opts = o;
    w->seed = seed;
    w->out = out;
    w->n_init = o->nodes;
    w->n_slots = o->nodes + SIM_SPARE_SLOTS;
    raft_rng_seed(&w->rng, seed);
    draw_params(w);
    sim_check_init(w);
    for (int i = 0; i < w->n_init; i++)
        sim_node_start(w, i, true);
    for (int i = 0; i < w->n_init && !w->stop; i++)
        sim_node_drain(w, i);
    loop(w);
    for (int i = 0; i < SIM_MAX_SLOTS; i++)
        sim_node_free(&w->nodes[i]);
    sim_net_clear(w);
    sim_check_free(w);
    *st = w->st;
    st->steps = w->step;
    int rc = w->st.violations ? 1 : 0;
    free(w);
    return rc;
}
