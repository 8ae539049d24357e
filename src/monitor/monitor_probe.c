/*
 * monitor_probe.c -- PING and INFO for one instance, their replies, and
 * the subjective-down judgement, with Redis Sentinel's rules:
 *
 *  - PING every min(1000, down_after_ms / 10) ms: detection latency is
 *    down_after_ms plus at most one ping period (docs/monitoring.md has the
 *    cost: at down_after_ms 1000 that is 10 PINGs a second per instance).
 *  - Valid replies: +PONG, -LOADING, -MASTERDOWN.  -BUSY and anything else
 *    count as no reply; once sdown, one SCRIPT KILL is sent for -BUSY.
 *  - sdown: no valid reply for down_after_ms since the oldest unanswered
 *    PING (or since the last valid reply, while disconnected); or a master
 *    reporting role:slave for longer than down_after_ms + 2 INFO periods.
 *  - A PING pending for more than down_after_ms / 2 drops the connection
 *    (a stuck socket must not hide a restarted server).
 *  - INFO every 10 s; every 1 s for a master's replicas once the master is
 *    sdown or odown, so a failover works from fresh offsets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "monitor/monitor_internal.h"
#include "util/log.h"
#include "util/mem.h"

static const topo_set *
tset(const inst *i)
{
    return monitor_topo_set(i->mon, i->set->name);
}

static int
down_after(const inst *i)
{
    const topo_set *ts = tset(i);
    return ts ? ts->m.down_after_ms : 30000;
}

int
probe_ping_period(const inst *i)
{
    int p = down_after(i) / 10;
    return p < 1000 ? (p < 10 ? 10 : p) : 1000;
}

/* "<kind> <name> <ip> <port> [@ <master> <ip> <port>]", as Sentinel. */
static void
describe(const inst *i, char *out, size_t len)
{
    const topo_set *ts = tset(i);
    if (i->kind == MON_MASTER || ts == NULL)
        snprintf(out, len, "master %s %s %d", i->set->name, i->addr.host,
                 i->addr.port);
    else
        snprintf(out, len, "slave %s:%d %s %d @ %s %s %d", i->addr.host,
                 i->addr.port, i->addr.host, i->addr.port, i->set->name,
                 ts->m.address.host, ts->m.address.port);
}

static void
emit(const inst *i, const char *event, const char *suffix)
{
    char d[1024];
    describe(i, d, sizeof(d));
    events_emit(i->mon->o.ev, event, i->set->name, "%s%s", d,
                suffix ? suffix : "");
}

/* ---- sending ------------------------------------------------------------------ */

static void on_ping(void *ctx, const redisReply *r, void *priv);
static void on_info(void *ctx, const redisReply *r, void *priv);

static void
send_ping(inst *i, uint64_t now)
{
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    if (mlink_command(i->link, on_ping, NULL, 1, argv, lens) != 0)
        return;
    i->ping_pending = true;
    i->last_ping_at = now;
    if (i->act_ping_at == 0)
        i->act_ping_at = now;
}

static int
info_period(const inst *i)
{
    const topo_set *ts = tset(i);
    const mset *s = i->set;
    if (i->kind == MON_REPLICA && ts &&
        (ts->odown || (s->master && s->master->sdown)))
        return MON_INFO_FAST_MS;
    return MON_INFO_PERIOD_MS;
}

static void
send_info(inst *i, uint64_t now)
{
    const char *argv[] = {"INFO"};
    size_t lens[] = {4};
    if (mlink_command(i->link, on_info, NULL, 1, argv, lens) == 0) {
        i->info_pending = true;
        i->info_sent_at = now;
    }
}

/* On demand (failover steps), at most every 100 ms per instance. */
void
probe_info_now(inst *i, bool urgent)
{
    uint64_t now = monitor_now();
    if (mlink_state(i->link) != MLINK_READY)
        return;
    if (urgent || (!i->info_pending && now - i->info_sent_at >= 100))
        send_info(i, now);
}

/* ---- the judgement ------------------------------------------------------------- */

static void
set_sdown(inst *i, bool down, uint64_t now)
{
    monitor *m = i->mon;
    if (down == i->sdown)
        return;
    i->sdown = down;
    i->sdown_at = now;
    emit(i, down ? "+sdown" : "-sdown", NULL);
    if (i->kind == MON_MASTER && m->o.cb.opinion && !m->tilt)
        m->o.cb.opinion(m->o.cb.ctx, i->set->name, &i->addr, down, true);
}

static void
judge(inst *i, uint64_t now)
{
    int da = down_after(i);
    uint64_t elapsed = 0;
    bool connected = mlink_state(i->link) == MLINK_READY;
    /* Saturating: an instance created (or a PING sent) later in this same
     * tick has a timestamp after `now`. */
    uint64_t since = i->act_ping_at ? i->act_ping_at
                     : !connected   ? (i->last_ok_at ? i->last_ok_at
                                                     : i->created_at)
                                    : now;
    elapsed = now > since ? now - since : 0;

    bool role_wrong = i->kind == MON_MASTER &&
                      i->role == MONITOR_ROLE_SLAVE && now > i->role_at &&
                      now - i->role_at >
                          (uint64_t)da + 2 * MON_INFO_PERIOD_MS;
    set_sdown(i, elapsed > (uint64_t)da || role_wrong, now);
}

void
probe_instance(inst *i, uint64_t now)
{
    monitor *m = i->mon;
    int da = down_after(i);
    bool ready = mlink_state(i->link) == MLINK_READY;

    /* A PING stuck for half the down-after period: the connection is
     * suspect (a half-open socket); start a fresh one. */
    if (ready && i->ping_pending && i->act_ping_at && now > i->act_ping_at &&
        now - i->act_ping_at > (uint64_t)da / 2 &&
        now - (i->last_reply_at ? i->last_reply_at : 0) > (uint64_t)da / 2) {
        log_verbose("monitor: %s:%d PING pending for %llu ms; reconnecting",
                    i->addr.host, i->addr.port,
                    (unsigned long long)(now - i->act_ping_at));
        i->ping_pending = false;
        i->info_pending = false;
        mlink_reset(i->link);
        ready = false;
    }
    if (ready && !i->ping_pending &&
        now - i->last_ping_at >= (uint64_t)probe_ping_period(i))
        send_ping(i, now);
    if (ready && !i->info_pending &&
        (i->info_at == 0 || now - i->info_sent_at >= (uint64_t)info_period(i)))
        send_info(i, now);
    if (!m->tilt)
        judge(i, now);
}

/* ---- replies ------------------------------------------------------------------- */

static bool
valid_ping_reply(const redisReply *r)
{
    if (r->type == REDIS_REPLY_STATUS)
        return strcmp(r->str, "PONG") == 0;
    if (r->type == REDIS_REPLY_ERROR)
        return strncmp(r->str, "LOADING", 7) == 0 ||
               strncmp(r->str, "MASTERDOWN", 10) == 0;
    return false;
}

static void
on_ping(void *ctx, const redisReply *r, void *priv)
{
    inst *i = ctx;
    uint64_t now = monitor_now();
    i->ping_pending = false;
    if (r == NULL)
        return;     /* link dropped: the act_ping clock keeps running */
    i->last_reply_at = now;
    if (valid_ping_reply(r)) {
        i->last_ok_at = now;
        i->act_ping_at = 0;
        i->script_kill_sent = false;
    } else if (r->type == REDIS_REPLY_ERROR &&
               strncmp(r->str, "BUSY", 4) == 0 && i->sdown &&
               !i->script_kill_sent) {
        /* A runaway Lua script: as Sentinel, kill it once. */
        log_warning("monitor: %s:%d is BUSY running a script; sending SCRIPT "
                    "KILL", i->addr.host, i->addr.port);
        const char *argv[] = {"SCRIPT", "KILL"};
        size_t lens[] = {6, 4};
        mlink_command(i->link, NULL, NULL, 2, argv, lens);
        i->script_kill_sent = true;
    }
}

static void
note_role(inst *i, int role, uint64_t now)
{
    if (role == i->role)
        return;
    bool first = i->role == MONITOR_ROLE_UNKNOWN;
    i->role = role;
    i->role_at = now;
    if (first)
        return;
    int expected = i->kind == MON_MASTER ? MONITOR_ROLE_MASTER
                                         : MONITOR_ROLE_SLAVE;
    char suffix[64];
    snprintf(suffix, sizeof(suffix), " new reported role is %s",
             role == MONITOR_ROLE_MASTER ? "master" : "slave");
    emit(i, role == expected ? "+role-change" : "-role-change", suffix);
}

static bool
committed(const topo_set *ts, const config_addr *a)
{
    if (ts->m.address.port == a->port && strcmp(ts->m.address.host, a->host) == 0)
        return true;
    for (int j = 0; j < ts->nreplicas; j++)
        if (ts->replicas[j].addr.port == a->port &&
            strcmp(ts->replicas[j].addr.host, a->host) == 0)
            return true;
    return false;
}

/* Replicas the master lists but the committed state lacks are reported
 * (at most once per MON_DISCOVER_RETRY_MS each) so a new leader knows them
 * even while the master is down. */
static void
discover(inst *i, const monitor_info *info, uint64_t now)
{
    monitor *m = i->mon;
    mset *s = i->set;
    const topo_set *ts = tset(i);
    if (ts == NULL || m->o.cb.discovered == NULL)
        return;
    for (int k = 0; k < info->nreplicas; k++) {
        config_addr a = {{0}, info->replicas[k].port};
        if (strlen(info->replicas[k].ip) >= sizeof(a.host))
            continue;
        memcpy(a.host, info->replicas[k].ip, strlen(info->replicas[k].ip) + 1);
        if (a.port <= 0 || committed(ts, &a))
            continue;
        discovered *d = NULL;
        for (int j = 0; j < s->ndisc && !d; j++)
            if (s->disc[j].addr.port == a.port &&
                strcmp(s->disc[j].addr.host, a.host) == 0)
                d = &s->disc[j];
        if (d && now - d->at < MON_DISCOVER_RETRY_MS)
            continue;
        if (d == NULL) {
            s->disc = xreallocarray(s->disc, (size_t)s->ndisc + 1,
                                    sizeof(*s->disc));
            d = &s->disc[s->ndisc++];
            d->addr = a;
        }
        d->at = now;
        m->o.cb.discovered(m->o.cb.ctx, s->name, &a);
    }
}

static void
on_info(void *ctx, const redisReply *r, void *priv)
{
    inst *i = ctx;
    uint64_t now = monitor_now();
    i->info_pending = false;
    if (r == NULL || r->type != REDIS_REPLY_STRING)
        return;
    i->last_reply_at = now;
    /* The full parse is ~75 KB (256 replica lines): heap, and only the
     * facts are kept. */
    monitor_info *info = xmalloc(sizeof(*info));
    monitor_info_parse(r->str, (size_t)r->len, info);
    free(i->info_raw);
    i->info_raw = xmalloc((size_t)r->len + 1);
    memcpy(i->info_raw, r->str, (size_t)r->len);
    i->info_raw[r->len] = '\0';
    i->info_at = now;

    if (info->run_id[0]) {
        if (i->runid[0] && strcmp(i->runid, info->run_id) != 0)
            emit(i, "+reboot", NULL);
        snprintf(i->runid, sizeof(i->runid), "%s", info->run_id);
    }
    monitor_facts *f = &i->info;
    f->role = info->role;
    snprintf(f->master_host, sizeof(f->master_host), "%s", info->master_host);
    f->master_port = info->master_port;
    f->master_link_up = info->master_link_status == MI_LINK_UP;
    f->master_link_down_since_s = info->master_link_down_since_seconds;
    f->slave_repl_offset = info->slave_repl_offset;
    f->master_repl_offset = info->master_repl_offset;
    f->replica_priority = info->replica_priority;
    f->replica_announced = info->replica_announced;
    i->has_info = true;
    if (info->role != MONITOR_ROLE_UNKNOWN)
        note_role(i, info->role, now);
    if (i->kind == MON_MASTER && info->role == MONITOR_ROLE_MASTER)
        discover(i, info, now);
    free(info);
}

/* ---- link state ---------------------------------------------------------------- */

void
probe_link_ready(void *ctx)
{
    inst *i = ctx;
    i->ping_pending = false;
    i->info_pending = false;
    i->auth_logged = false;
    /* Probe at once: a reconnect is exactly when state may have changed. */
    send_ping(i, monitor_now());
    send_info(i, monitor_now());
}

void
probe_link_down(void *ctx, const char *reason)
{
    inst *i = ctx;
    i->ping_pending = false;
    i->info_pending = false;
    if (mlink_auth_failed(i->link)) {
        if (!i->auth_logged)
            log_warning("monitor: cannot authenticate to %s:%d (set %s): %s",
                        i->addr.host, i->addr.port, i->set->name, reason);
        i->auth_logged = true;
    } else {
        log_verbose("monitor: link to %s:%d down: %s", i->addr.host,
                    i->addr.port, reason);
    }
}
