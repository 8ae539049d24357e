/*
 * monitor.c -- the Redis watcher's lifecycle: following the replicated
 * topology (which sets, which master, which replicas), the timer that
 * drives probing, TILT, and read-only views for the admin port.
 */
#include "monitor/monitor_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

uint64_t
monitor_now(void)
{
    return clock_mono_ms();
}

const topo_set *
monitor_topo_set(const monitor *m, const char *name)
{
    return topo_find(m->o.topo_get(m->o.topo_ctx), name);
}

/* ---- instances ------------------------------------------------------------- */

static void
inst_connect(monitor *m, inst *i)
{
    const topo_set *ts = monitor_topo_set(m, i->set->name);
    snprintf(i->auth_user, sizeof(i->auth_user), "%s", ts ? ts->m.auth_user : "");
    snprintf(i->auth_pass, sizeof(i->auth_pass), "%s", ts ? ts->m.auth_pass : "");
    char name[128];
    snprintf(name, sizeof(name), "sentinel-%s-cmd", m->o.my_id);
    int da = ts ? ts->m.down_after_ms : 30000;
    mlink_options lo = {0};
    lo.host = i->addr.host;
    lo.port = i->addr.port;
    lo.auth_user = i->auth_user;
    lo.auth_pass = i->auth_pass;
    lo.client_name = name;
    /* A connect that hangs longer than half the down-after period would
     * hold off the reconnect that finds a restarted server. */
    lo.connect_timeout_ms = da / 2 < 50 ? 50 : da / 2 > 1000 ? 1000 : da / 2;
    lo.seed = i->created_at ^ (++m->seq * 0x9e3779b97f4a7c15ull);
    mlink_callbacks cb = {probe_link_ready, probe_link_down};
    i->link = mlink_new(m->o.base, &lo, &cb, i);
}

static inst *
inst_new(monitor *m, mset *s, monitor_kind kind, const config_addr *addr)
{
    inst *i = xcalloc(1, sizeof(*i));
    i->mon = m;
    i->set = s;
    i->kind = kind;
    i->addr = *addr;
    i->created_at = monitor_now();
    /* Never answered yet: the sdown clock runs from creation. */
    i->act_ping_at = i->created_at;
    i->role = MONITOR_ROLE_UNKNOWN;
    inst_connect(m, i);
    return i;
}

/* SENTINEL SET auth-pass / auth-user: reconnect with the new credentials. */
static void
inst_refresh_auth(monitor *m, inst *i, const topo_set *ts)
{
    if (strcmp(i->auth_user, ts->m.auth_user) == 0 &&
        strcmp(i->auth_pass, ts->m.auth_pass) == 0)
        return;
    mlink_free(i->link);
    i->ping_pending = i->info_pending = false;
    inst_connect(m, i);
}

static void
inst_free(inst *i)
{
    if (i == NULL)
        return;
    mlink_free(i->link);
    free(i->info_raw);
    free(i);
}

static bool
same_addr(const config_addr *a, const config_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* ---- following the topology ------------------------------------------------ */

static mset *
set_find(monitor *m, const char *name)
{
    for (int i = 0; i < m->nsets; i++)
        if (strcmp(m->sets[i]->name, name) == 0)
            return m->sets[i];
    return NULL;
}

static void
set_free(mset *s)
{
    inst_free(s->master);
    for (int i = 0; i < s->nreplicas; i++)
        inst_free(s->replicas[i]);
    free(s->replicas);
    free(s->disc);
    free(s);
}

static void
sync_replicas(monitor *m, mset *s, const topo_set *ts)
{
    for (int i = 0; i < s->nreplicas; i++)
        s->replicas[i]->seen = false;
    for (int j = 0; j < ts->nreplicas; j++) {
        const config_addr *a = &ts->replicas[j].addr;
        if (same_addr(a, &ts->m.address))
            continue;   /* the promoted replica is the master now */
        bool found = false;
        for (int i = 0; i < s->nreplicas && !found; i++) {
            if (same_addr(&s->replicas[i]->addr, a)) {
                s->replicas[i]->seen = true;
                inst_refresh_auth(m, s->replicas[i], ts);
                found = true;
            }
        }
        if (!found) {
            s->replicas = xreallocarray(s->replicas, (size_t)s->nreplicas + 1,
                                        sizeof(*s->replicas));
            inst *r = inst_new(m, s, MON_REPLICA, a);
            r->seen = true;
            s->replicas[s->nreplicas++] = r;
        }
    }
    for (int i = 0; i < s->nreplicas;) {
        if (s->replicas[i]->seen) {
            i++;
            continue;
        }
        inst_free(s->replicas[i]);
        s->replicas[i] = s->replicas[--s->nreplicas];
    }
}

/* Follows the committed topology (sets, masters, replicas); cheap when
 * nothing changed, so every tick calls it. */
static void
monitor_sync(monitor *m)
{
    const topo *t = m->o.topo_get(m->o.topo_ctx);
    for (int i = 0; i < m->nsets; i++)
        m->sets[i]->seen = false;
    for (int j = 0; j < t->nsets; j++) {
        const topo_set *ts = &t->sets[j];
        mset *s = set_find(m, ts->m.name);
        if (s == NULL) {
            s = xcalloc(1, sizeof(*s));
            snprintf(s->name, sizeof(s->name), "%s", ts->m.name);
            m->sets = xreallocarray(m->sets, (size_t)m->nsets + 1,
                                    sizeof(*m->sets));
            m->sets[m->nsets++] = s;
        }
        s->seen = true;
        if (s->master == NULL || !same_addr(&s->master->addr, &ts->m.address)) {
            /* A new master (switch-master): the old one's sdown opinion
             * must not count against it. */
            if (s->master && s->master->sdown && m->o.cb.opinion)
                m->o.cb.opinion(m->o.cb.ctx, s->name, &s->master->addr, false,
                                !m->tilt);
            inst_free(s->master);
            s->master = inst_new(m, s, MON_MASTER, &ts->m.address);
        } else {
            inst_refresh_auth(m, s->master, ts);
        }
        sync_replicas(m, s, ts);
    }
    for (int i = 0; i < m->nsets;) {
        if (m->sets[i]->seen) {
            i++;
            continue;
        }
        set_free(m->sets[i]);
        m->sets[i] = m->sets[--m->nsets];
    }
}

/* ---- TILT --------------------------------------------------------------------- */

/* A stalled event loop (the process was stopped, the machine swapped) makes
 * every timeout look expired at once: judging from that would declare
 * healthy instances down.  As Sentinel, stop judging for a while. */
static void
check_tilt(monitor *m, uint64_t now)
{
    if (m->last_tick_at && now - m->last_tick_at > MON_TILT_TRIGGER_MS) {
        if (!m->tilt)
            events_emit(m->o.ev, "+tilt", NULL,
                        "#tilt mode entered: the event loop stalled for "
                        "%llu ms", (unsigned long long)(now - m->last_tick_at));
        m->tilt = true;
        m->tilt_at = now;
        /* Replies that arrived during the stall are not trusted either. */
        for (int i = 0; i < m->nsets; i++) {
            mset *s = m->sets[i];
            if (s->master)
                s->master->act_ping_at = s->master->ping_pending ? now : 0;
            for (int j = 0; j < s->nreplicas; j++)
                s->replicas[j]->act_ping_at =
                    s->replicas[j]->ping_pending ? now : 0;
            if (m->o.cb.opinion && s->master)
                m->o.cb.opinion(m->o.cb.ctx, s->name, &s->master->addr, false,
                                false);
        }
    } else if (m->tilt && now - m->tilt_at > MON_TILT_PERIOD_MS) {
        m->tilt = false;
        events_emit(m->o.ev, "-tilt", NULL, "#tilt mode exited");
        /* Opinions were withdrawn on entry: give them again. */
        for (int i = 0; i < m->nsets && m->o.cb.opinion; i++)
            if (m->sets[i]->master)
                m->o.cb.opinion(m->o.cb.ctx, m->sets[i]->name,
                                &m->sets[i]->master->addr,
                                m->sets[i]->master->sdown, true);
    }
    m->last_tick_at = now;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    monitor *m = arg;
    uint64_t now = monitor_now();
    check_tilt(m, now);
    monitor_sync(m);
    now = monitor_now();    /* instances created by the sync are not older */
    for (int i = 0; i < m->nsets; i++) {
        mset *s = m->sets[i];
        if (s->master)
            probe_instance(s->master, now);
        for (int j = 0; j < s->nreplicas; j++)
            probe_instance(s->replicas[j], now);
    }
}

monitor *
monitor_new(const monitor_options *o)
{
    monitor *m = xcalloc(1, sizeof(*m));
    m->o = *o;
    m->tick_ev = event_new(o->base, -1, EV_PERSIST, on_tick, m);
    struct timeval tv = {0, MON_TICK_MS * 1000};
    event_add(m->tick_ev, &tv);
    monitor_sync(m);
    return m;
}

void
monitor_free(monitor *m)
{
    if (m == NULL)
        return;
    if (m->tick_ev)
        event_free(m->tick_ev);
    for (int i = 0; i < m->nsets; i++)
        set_free(m->sets[i]);
    free(m->sets);
    free(m);
}

static void fill_view(const inst *i, monitor_view *v);

static inst *
inst_find(const monitor *m, const char *set, const config_addr *a)
{
    mset *s = set_find((monitor *)m, set);
    if (s == NULL)
        return NULL;
    if (s->master && same_addr(&s->master->addr, a))
        return s->master;
    for (int i = 0; i < s->nreplicas; i++)
        if (same_addr(&s->replicas[i]->addr, a))
            return s->replicas[i];
    return NULL;
}

static void
log_reply(void *ctx, const struct redisReply *r, void *priv)
{
    inst *i = ctx;
    if (r == NULL)
        log_verbose("monitor: command to %s:%d got no reply (link dropped)",
                    i->addr.host, i->addr.port);
}

int
monitor_send(monitor *m, const char *set, const config_addr *a, int argc,
             const char **argv)
{
    inst *i = inst_find(m, set, a);
    if (i == NULL)
        return -1;
    size_t lens[16];
    if (argc > 16)
        return -1;
    for (int k = 0; k < argc; k++)
        lens[k] = strlen(argv[k]);
    return mlink_command(i->link, log_reply, NULL, argc, argv, lens);
}

void
monitor_refresh_info(monitor *m, const char *set, const config_addr *a,
                     bool urgent)
{
    inst *i = inst_find(m, set, a);
    if (i)
        probe_info_now(i, urgent);
}

bool
monitor_view_of(const monitor *m, const char *set, const config_addr *a,
                monitor_view *v)
{
    inst *i = inst_find(m, set, a);
    if (i == NULL)
        return false;
    fill_view(i, v);
    return true;
}

bool
monitor_tilt(const monitor *m)
{
    return m->tilt;
}

int64_t
monitor_tilt_since_ms(const monitor *m)
{
    return m->tilt ? (int64_t)(monitor_now() - m->tilt_at) : -1;
}

/* ---- views ------------------------------------------------------------------ */

static int64_t
ago(uint64_t now, uint64_t t)
{
    return t ? (now > t ? (int64_t)(now - t) : 0) : -1;
}

static void
fill_view(const inst *i, monitor_view *v)
{
    uint64_t now = monitor_now();
    memset(v, 0, sizeof(*v));
    v->kind = i->kind;
    v->addr = i->addr;
    snprintf(v->runid, sizeof(v->runid), "%s", i->runid);
    v->connected = mlink_state(i->link) == MLINK_READY;
    v->sdown = i->sdown;
    v->sdown_ms = i->sdown && now > i->sdown_at ? now - i->sdown_at : 0;
    v->auth_failed = mlink_auth_failed(i->link);
    v->pending = mlink_pending(i->link);
    v->last_ping_sent_ms = i->act_ping_at ? ago(now, i->act_ping_at) : 0;
    v->last_ok_ping_ms = ago(now, i->last_ok_at ? i->last_ok_at
                                                : i->created_at);
    v->last_ping_reply_ms = ago(now, i->last_reply_at ? i->last_reply_at
                                                      : i->created_at);
    v->info_refresh_ms = ago(now, i->info_at);
    v->role_reported_ms = ago(now, i->role_at ? i->role_at : i->created_at);
    v->info = i->info;
    v->has_info = i->has_info;
    v->info_raw = i->info_raw;
    v->info_raw_age_ms = ago(now, i->info_at);
}

bool
monitor_master_view(const monitor *m, const char *set, monitor_view *v)
{
    mset *s = set_find((monitor *)m, set);
    if (s == NULL || s->master == NULL)
        return false;
    fill_view(s->master, v);
    return true;
}

int
monitor_replica_count(const monitor *m, const char *set)
{
    mset *s = set_find((monitor *)m, set);
    return s ? s->nreplicas : 0;
}

bool
monitor_replica_view(const monitor *m, const char *set, int i,
                     monitor_view *v)
{
    mset *s = set_find((monitor *)m, set);
    if (s == NULL || i < 0 || i >= s->nreplicas)
        return false;
    fill_view(s->replicas[i], v);
    return true;
}
