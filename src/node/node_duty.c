/*
 * node_duty.c -- periodic housekeeping (every ~100 ms) and shutdown.
 *
 * Every monitor: registers its admin address in the replicated state, and
 * once caught up, warns about [master] sections that disagree with it.
 * The leader: seeds [master] sections the state never had, promotes
 * caught-up learners, forgets removed monitors' addresses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "util/log.h"
#include "util/mem.h"

static void
ignore_result(void *arg, const topo_result *res)
{
    const char *what = arg;
    if (!res->ok)
        log_verbose("node: %s not applied: %s", what, res->error);
}

static bool
same_addr(const config_addr *a, const config_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* Clients find monitors through SENTINEL SENTINELS and followers forward
 * writes by id, so each monitor publishes where its admin port is. */
static void
register_self(node *n, uint64_t now)
{
    const config_sentinel *s = &n->cfg->sentinel;
    topo_cmd c = {.type = TOPO_CMD_MEMBER};
    snprintf(c.member.id, sizeof(c.member.id), "%s", s->id);
    /* What clients can reach: announce_ip/port when set (NAT, a 0.0.0.0
     * bind), else the first bind address and the admin port. */
    char bind[CONFIG_STR_MAX];
    snprintf(bind, sizeof(bind), "%s", s->announce_ip[0] ? s->announce_ip
                                                         : s->bind);
    char *sp = strpbrk(bind, " \t");
    if (sp)
        *sp = '\0';
    snprintf(c.member.admin.host, sizeof(c.member.admin.host), "%s", bind);
    c.member.admin.port = s->announce_port ? s->announce_port : s->port;

    const topo_member *m = topo_find_member(&n->topo, s->id);
    if (m && same_addr(&m->admin, &c.member.admin))
        return;
    if (n->leader.s[0] == '\0' || now - n->member_sent_ms < 1000)
        return;
    n->member_sent_ms = now;
    node_submit(n, &c, ignore_result, "admin address registration");
}

static bool own_term_committed(node *n);

uint64_t
node_leader_term(const node *n)
{
    return n->role == RAFT_LEADER && own_term_committed((node *)n) ? n->term
                                                                   : 0;
}

static bool
own_term_committed(node *n)
{
    raft_status st;
    raft_get_status(n->r, &st);
    uint64_t t = 0;
    return raft_term_at(n->r, st.commit, &t) == RAFT_OK && t == st.term &&
           n->applied >= st.commit;
}

/* [master] sections seed sets the state never had: once, by a leader whose
 * own term is committed (so it has seen everything committed before). */
static void
seed_masters(node *n)
{
    if (n->seeded_term == n->term)
        return;
    n->seeded_term = n->term;
    for (int i = 0; i < n->cfg->nmasters; i++) {
        const config_master *m = &n->cfg->masters[i];
        if (topo_find(&n->topo, m->name) || topo_was_seeded(&n->topo, m->name))
            continue;
        topo_cmd c = {.type = TOPO_CMD_MONITOR, .seed = true, .m = *m};
        /* Script paths stay local to each monitor's file (main.c). */
        c.m.notification_script[0] = c.m.client_reconfig_script[0] = '\0';
        log_notice("seeding monitored set %s from the configuration file",
                   m->name);
        node_submit(n, &c, ignore_result, "seeding a [master] section");
    }
}

static void
promote_learners(node *n)
{
    raft_status st;
    raft_get_status(n->r, &st);
    for (uint32_t i = 0; i < st.n_peers; i++) {
        const raft_peer_status *p = &st.peers[i];
        if (!p->voter && p->match >= st.commit) {
            uint64_t index;
            if (raft_propose_conf(n->r, RAFT_CONF_PROMOTE, p->id.s, NULL, 0,
                                  &index) == RAFT_OK)
                log_notice("raft: learner %s caught up; promoting it to "
                           "voter", p->id.s);
            return;     /* one change at a time */
        }
    }
}

static void
forget_removed(node *n)
{
    for (int i = 0; i < n->topo.nmembers; i++) {
        const topo_member *m = &n->topo.members[i];
        bool present = false;
        for (uint32_t j = 0; j < n->conf.n; j++)
            present |= strcmp(n->conf.m[j].id.s, m->id) == 0;
        if (!present) {
            topo_cmd c = {.type = TOPO_CMD_MEMBER_GONE, .member = *m};
            node_submit(n, &c, ignore_result, "forgetting a removed monitor");
            return;
        }
    }
}

/* Once caught up: a file that disagrees with the committed state gets a
 * warning, never a silent override. */
static void
compare_config(node *n)
{
    n->config_compared = true;
    for (int i = 0; i < n->cfg->nmasters; i++) {
        const config_master *m = &n->cfg->masters[i];
        const topo_set *s = topo_find(&n->topo, m->name);
        if (s == NULL) {
            if (topo_was_seeded(&n->topo, m->name))
                log_warning("config: [master %s] was removed at runtime "
                            "(SENTINEL REMOVE); the section is ignored",
                            m->name);
            continue;
        }
        if (!same_addr(&s->m.address, &m->address) ||
            s->m.quorum != m->quorum ||
            s->m.down_after_ms != m->down_after_ms ||
            s->m.failover_timeout_ms != m->failover_timeout_ms ||
            s->m.parallel_syncs != m->parallel_syncs)
            log_warning("config: [master %s] differs from the committed "
                        "state (master %s:%d, quorum %d); the committed "
                        "state is authoritative", m->name,
                        s->m.address.host, s->m.address.port, s->m.quorum);
    }
}

/* ---- peer monitors: heard from, and sdown per set ----------------------- */

#define PEER_STARTUP_GRACE_MS 5000

static peer_seen *
peer_find(const node *n, const char *id)
{
    for (int i = 0; i < n->npeers_seen; i++)
        if (strcmp(n->peers_seen[i].id, id) == 0)
            return &n->peers_seen[i];
    return NULL;
}

void
node_peer_heard(node *n, const char *id, uint64_t now)
{
    peer_seen *p = peer_find(n, id);
    if (p == NULL) {
        n->peers_seen = xreallocarray(n->peers_seen,
                                      (size_t)n->npeers_seen + 1,
                                      sizeof(*n->peers_seen));
        p = &n->peers_seen[n->npeers_seen++];
        memset(p, 0, sizeof(*p));
        snprintf(p->id, sizeof(p->id), "%s", id);
    }
    p->at_ms = now;
}

int64_t
node_peer_silence_ms(const node *n, const char *id)
{
    if (strcmp(id, n->cfg->sentinel.id) == 0)
        return -1;
    const peer_seen *p = peer_find(n, id);
    return (int64_t)(node_now_ms() - (p ? p->at_ms : n->started_ms));
}

bool
node_peer_sdown(const node *n, const char *id, const char *set)
{
    const peer_seen *p = peer_find(n, id);
    for (int i = 0; p && i < p->nsdown; i++)
        if (strcmp(p->sdown_sets[i], set) == 0)
            return true;
    return false;
}

static void
peer_event(node *n, const char *event, const char *id, const topo_set *s)
{
    const topo_member *m = topo_find_member(&n->topo, id);
    events_emit(n->ev, event, s->m.name, "sentinel %s %s %d @ %s %s %d", id,
                m ? m->admin.host : "?", m ? m->admin.port : 0, s->m.name,
                s->m.address.host, s->m.address.port);
}

/* A peer silent for a set's down_after_ms is sdown for that set, as
 * Sentinel judges the other sentinels of each master. */
static void
judge_peers(node *n, uint64_t now)
{
    for (uint32_t k = 0; k < n->conf.n; k++) {
        const char *id = n->conf.m[k].id.s;
        if (strcmp(id, n->cfg->sentinel.id) == 0)
            continue;
        peer_seen *p = peer_find(n, id);
        if (p == NULL) {
            /* Never heard: the group is still starting up (monitors are
             * rarely started at the same moment); give peers a few seconds
             * before calling them down. */
            node_peer_heard(n, id, n->started_ms + PEER_STARTUP_GRACE_MS);
            p = peer_find(n, id);
        }
        if (n->stalled && p->at_ms + NODE_HELLO_MS < now)
            p->at_ms = now - NODE_HELLO_MS;    /* our stall, not theirs */
        if (now < p->at_ms)
            continue;
        for (int i = 0; i < n->topo.nsets; i++) {
            const topo_set *s = &n->topo.sets[i];
            /* Hellos come every NODE_HELLO_MS: a shorter down-after would
             * flap on a healthy peer. */
            uint64_t limit = (uint64_t)s->m.down_after_ms;
            if (limit < 3 * NODE_HELLO_MS)
                limit = 3 * NODE_HELLO_MS;
            bool down = now - p->at_ms > limit;
            if (down == node_peer_sdown(n, id, s->m.name))
                continue;
            if (down) {
                p->sdown_sets = xreallocarray(p->sdown_sets,
                                              (size_t)p->nsdown + 1,
                                              sizeof(*p->sdown_sets));
                snprintf(p->sdown_sets[p->nsdown++], CONFIG_STR_MAX, "%s",
                         s->m.name);
            } else {
                for (int j = 0; j < p->nsdown; j++) {
                    if (strcmp(p->sdown_sets[j], s->m.name) != 0)
                        continue;
                    memmove(p->sdown_sets[j], p->sdown_sets[p->nsdown - 1],
                            CONFIG_STR_MAX);
                    p->nsdown--;
                    break;
                }
            }
            peer_event(n, down ? "+sdown" : "-sdown", id, s);
        }
    }
}

void
node_peers_free(node *n)
{
    for (int i = 0; i < n->npeers_seen; i++)
        free(n->peers_seen[i].sdown_sets);
    free(n->peers_seen);
    n->peers_seen = NULL;
    n->npeers_seen = 0;
}

static void
send_hellos(node *n, uint64_t now)
{
    if (now - n->hello_sent_ms < NODE_HELLO_MS)
        return;
    n->hello_sent_ms = now;
    for (uint32_t k = 0; k < n->conf.n; k++)
        if (strcmp(n->conf.m[k].id.s, n->cfg->sentinel.id) != 0)
            node_send_frame(n, n->conf.m[k].id.s, NODE_FRAME_HELLO, NULL, 0);
}

void
node_duties(node *n, uint64_t now)
{
    register_self(n, now);
    send_hellos(n, now);
    judge_peers(n, now);
    if (n->role == RAFT_LEADER && own_term_committed(n)) {
        seed_masters(n);
        promote_learners(n);
        forget_removed(n);
    }
    if (!n->config_compared && n->leader.s[0] && own_term_committed(n))
        compare_config(n);
}

/* ---- shutdown: hand leadership over first ----------------------------------- */

static const raft_peer_status *
best_successor(const raft_status *st)
{
    const raft_peer_status *best = NULL;
    for (uint32_t i = 0; i < st->n_peers; i++) {
        const raft_peer_status *p = &st->peers[i];
        if (p->voter && p->recent_active && (!best || p->match > best->match))
            best = p;
    }
    return best;
}

void
node_step_aside(node *n)
{
    if (n->role != RAFT_LEADER)
        return;
    raft_status st;
    raft_get_status(n->r, &st);
    const raft_peer_status *p = best_successor(&st);
    if (p && raft_transfer_leader(n->r, p->id.s) == RAFT_OK) {
        log_notice("raft: handing leadership to %s for a new term",
                   p->id.s);
        node_kick(n);
    }
}

void
node_shutdown(node *n, void (*done)(void *), void *arg)
{
    n->shutdown_done = done;
    n->shutdown_arg = arg;
    n->shutdown_deadline_ms = node_now_ms();
    if (n->role == RAFT_LEADER) {
        raft_status st;
        raft_get_status(n->r, &st);
        const raft_peer_status *p = best_successor(&st);
        if (p && raft_transfer_leader(n->r, p->id.s) == RAFT_OK) {
            log_notice("raft: handing leadership to %s (match %llu) before "
                       "exiting", p->id.s, (unsigned long long)p->match);
            n->shutdown_deadline_ms +=
                (uint64_t)n->cfg->sentinel.election_timeout_ms;
            node_process(n);
        }
    }
    node_shutdown_check(n, node_now_ms());
}

void
node_shutdown_check(node *n, uint64_t now)
{
    if (n->shutdown_done == NULL)
        return;
    if (n->role == RAFT_LEADER && now < n->shutdown_deadline_ms)
        return;
    if (n->role == RAFT_LEADER)
        log_warning("raft: leadership transfer did not finish in time; "
                    "exiting as leader");
    void (*done)(void *) = n->shutdown_done;
    n->shutdown_done = NULL;
    done(n->shutdown_arg);
}
