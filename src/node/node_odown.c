/*
 * node_odown.c -- from sdown opinions to a committed odown judgement.
 *
 * Every monitor sends its opinions (per set: sdown or not, or no opinion
 * while in TILT) to the leader when one changes and every second.  The
 * leader keeps the latest opinion of each monitor per set; opinions older
 * than OPINION_TTL_MS no longer count (a dead monitor's last word must not
 * keep a master odown).  When at least `quorum` fresh sdown opinions agree
 * the leader commits an ODOWN entry, and when they no longer do it commits
 * its clearing, so every monitor reports the same o_down flag and emits
 * +odown / -odown when it applies the entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#define OPINION_REFRESH_MS 1000
#define OPINION_TTL_MS 3000

static void judge(node *n, uint64_t now);

static opinion *
find(node *n, const char *set, const char *from)
{
    for (int i = 0; i < n->nopinions; i++)
        if (strcmp(n->opinions[i].set, set) == 0 &&
            strcmp(n->opinions[i].from, from) == 0)
            return &n->opinions[i];
    return NULL;
}

/* Returns true when the stored opinion changed. */
static bool
store(node *n, const char *set, const char *from, const config_addr *master,
      bool sdown, bool known, uint64_t now)
{
    opinion *o = find(n, set, from);
    if (o == NULL) {
        n->opinions = xreallocarray(n->opinions, (size_t)n->nopinions + 1,
                                    sizeof(*n->opinions));
        o = &n->opinions[n->nopinions++];
        memset(o, 0, sizeof(*o));
        snprintf(o->set, sizeof(o->set), "%s", set);
        snprintf(o->from, sizeof(o->from), "%s", from);
        o->known = !known;          /* force "changed" */
    }
    bool changed = o->sdown != sdown || o->known != known ||
                   o->master.port != master->port ||
                   strcmp(o->master.host, master->host) != 0;
    o->master = *master;
    o->sdown = sdown;
    o->known = known;
    o->at_ms = now;
    return changed;
}

static void
send_own(node *n, uint64_t now)
{
    const char *me = n->cfg->sentinel.id;
    n->opinions_sent_ms = now;
    if (n->role == RAFT_LEADER || n->leader.s[0] == '\0')
        return;
    buf b = {0};
    int count = 0;
    for (int i = 0; i < n->nopinions; i++)
        count += strcmp(n->opinions[i].from, me) == 0;
    buf_put_u32(&b, (uint32_t)count);
    for (int i = 0; i < n->nopinions; i++) {
        const opinion *o = &n->opinions[i];
        if (strcmp(o->from, me) != 0)
            continue;
        buf_put_str(&b, o->set);
        buf_put_str(&b, o->master.host);
        buf_put_u32(&b, (uint32_t)o->master.port);
        buf_put_u8(&b, (uint8_t)((o->sdown ? 1 : 0) | (o->known ? 2 : 0)));
    }
    node_send_frame(n, n->leader.s, NODE_FRAME_OPINION, b.data, b.len);
    buf_free(&b);
}

void
node_report_opinion(node *n, const char *set, const config_addr *master,
                    bool sdown, bool known)
{
    uint64_t now = node_now_ms();
    if (!store(n, set, n->cfg->sentinel.id, master, sdown, known, now))
        return;
    send_own(n, now);       /* a change goes out at once: detection speed */
    if (n->role == RAFT_LEADER)
        judge(n, now);
}

void
node_on_opinion(node *n, const char *from, const uint8_t *p, size_t len)
{
    buf_reader r;
    buf_reader_init(&r, p, len);
    uint32_t count = buf_get_u32(&r);
    uint64_t now = node_now_ms();
    if (count > TOPO_MAX_SETS)
        return;
    for (uint32_t i = 0; i < count && buf_reader_ok(&r); i++) {
        char set[CONFIG_STR_MAX];
        config_addr master;
        buf_get_str(&r, set, sizeof(set));
        buf_get_str(&r, master.host, sizeof(master.host));
        master.port = (int)buf_get_u32(&r);
        uint8_t flags = buf_get_u8(&r);
        if (buf_reader_ok(&r) && topo_find(&n->topo, set))
            store(n, set, from, &master, flags & 1, flags & 2, now);
    }
    if (!buf_reader_done(&r))
        log_warning("node: malformed opinions from %s", from);
    if (n->role == RAFT_LEADER)
        judge(n, now);
}

/* A judgement in flight is not proposed again for a second: apply is
 * idempotent, this only saves log entries while the commit is under way. */
static bool
recently_proposed(node *n, const char *set, bool flag, uint64_t now)
{
    for (int i = 0; i < n->nodown_pending; i++) {
        odown_proposal *p = &n->odown_pending[i];
        if (strcmp(p->set, set) != 0)
            continue;
        if (p->flag == flag && now - p->at_ms < 1000)
            return true;
        p->flag = flag;
        p->at_ms = now;
        return false;
    }
    n->odown_pending = xreallocarray(n->odown_pending,
                                     (size_t)n->nodown_pending + 1,
                                     sizeof(*n->odown_pending));
    odown_proposal *p = &n->odown_pending[n->nodown_pending++];
    snprintf(p->set, sizeof(p->set), "%s", set);
    p->flag = flag;
    p->at_ms = now;
    return false;
}

static void
judged(void *arg, const topo_result *res)
{
    if (!res->ok)
        log_verbose("node: odown judgement not applied: %s", res->error);
}

static bool
is_member(const node *n, const char *id)
{
    for (uint32_t i = 0; i < n->conf.n; i++)
        if (strcmp(n->conf.m[i].id.s, id) == 0)
            return true;
    return false;
}

/* Leader: compare fresh sdown votes with each set's committed flag. */
static void
judge(node *n, uint64_t now)
{
    /* A new leader has heard only its own opinions: it may declare odown
     * at once when a quorum is there, but it waits one refresh period
     * before clearing a committed odown it simply has not heard about. */
    bool settled = now - n->leader_since_ms >= OPINION_REFRESH_MS + 500;
    for (int i = 0; i < n->topo.nsets; i++) {
        const topo_set *s = &n->topo.sets[i];
        uint32_t votes = 0;
        for (int j = 0; j < n->nopinions; j++) {
            const opinion *o = &n->opinions[j];
            if (strcmp(o->set, s->m.name) == 0 && o->known && o->sdown &&
                o->at_ms + OPINION_TTL_MS > now && is_member(n, o->from) &&
                o->master.port == s->m.address.port &&
                strcmp(o->master.host, s->m.address.host) == 0)
                votes++;
        }
        bool odown = votes >= (uint32_t)s->m.quorum;
        if (odown == s->odown || (!odown && !settled) ||
            recently_proposed(n, s->m.name, odown, now))
            continue;
        topo_cmd c = {.type = TOPO_CMD_ODOWN, .flag = odown, .votes = votes};
        snprintf(c.m.name, sizeof(c.m.name), "%s", s->m.name);
        c.m.quorum = s->m.quorum;
        node_submit(n, &c, judged, NULL);
    }
}

void
node_opinions_duty(node *n, uint64_t now)
{
    /* Forget opinions about sets that no longer exist. */
    for (int i = 0; i < n->nopinions;) {
        if (topo_find(&n->topo, n->opinions[i].set) == NULL)
            n->opinions[i] = n->opinions[--n->nopinions];
        else
            i++;
    }
    if (now - n->opinions_sent_ms >= OPINION_REFRESH_MS) {
        /* Own opinions stay fresh while this monitor is alive. */
        for (int i = 0; i < n->nopinions; i++)
            if (strcmp(n->opinions[i].from, n->cfg->sentinel.id) == 0)
                n->opinions[i].at_ms = now;
        send_own(n, now);
    }
    if (n->role == RAFT_LEADER)
        judge(n, now);
}

void
node_opinions_free(node *n)
{
    free(n->opinions);
    free(n->odown_pending);
    n->opinions = NULL;
    n->odown_pending = NULL;
    n->nopinions = n->nodown_pending = 0;
}
