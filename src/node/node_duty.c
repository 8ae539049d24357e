/*
 * node_duty.c -- periodic housekeeping (every ~100 ms) and shutdown.
 *
 * Every monitor: registers its admin address in the replicated state, and
 * once caught up, warns about [master] sections that disagree with it.
 * The leader: seeds [master] sections the state never had, promotes
 * caught-up learners, forgets removed monitors' addresses.
 */
#include <stdio.h>
#include <string.h>

#include "node/node_internal.h"
#include "util/log.h"

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
    char bind[CONFIG_STR_MAX];
    snprintf(bind, sizeof(bind), "%s", s->bind);
    char *sp = strpbrk(bind, " \t");
    if (sp)
        *sp = '\0';
    snprintf(c.member.admin.host, sizeof(c.member.admin.host), "%s", bind);
    c.member.admin.port = s->port;

    const topo_member *m = topo_find_member(&n->topo, s->id);
    if (m && same_addr(&m->admin, &c.member.admin))
        return;
    if (n->leader.s[0] == '\0' || now - n->member_sent_ms < 1000)
        return;
    n->member_sent_ms = now;
    node_submit(n, &c, ignore_result, "admin address registration");
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

void
node_duties(node *n, uint64_t now)
{
    register_self(n, now);
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
