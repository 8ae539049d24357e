/*
 * topo.c -- applying committed commands to the replicated topology.
 * One apply function per command type, dispatched through a table.
 */
#include "node/topo.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_schema.h"
#include "config/config_util.h"
#include "util/glob.h"
#include "util/mem.h"

void
topo_init(topo *t)
{
    memset(t, 0, sizeof(*t));
}

void
topo_free(topo *t)
{
    for (int i = 0; i < t->nsets; i++)
        free(t->sets[i].replicas);
    free(t->sets);
    free(t->members);
    free(t->seeded);
    memset(t, 0, sizeof(*t));
}

topo_set *
topo_find(const topo *t, const char *name)
{
    for (int i = 0; i < t->nsets; i++)
        if (strcmp(t->sets[i].m.name, name) == 0)
            return &t->sets[i];
    return NULL;
}

const topo_member *
topo_find_member(const topo *t, const char *id)
{
    for (int i = 0; i < t->nmembers; i++)
        if (strcmp(t->members[i].id, id) == 0)
            return &t->members[i];
    return NULL;
}

bool
topo_was_seeded(const topo *t, const char *name)
{
    for (int i = 0; i < t->nseeded; i++)
        if (strcmp(t->seeded[i], name) == 0)
            return true;
    return false;
}

static void __attribute__((format(printf, 2, 3)))
fail(topo_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof(res->error), fmt, ap);
    va_end(ap);
    res->ok = false;
}

static void __attribute__((format(printf, 3, 4)))
announce(topo_result *res, const char *event, const char *fmt, ...)
{
    if (res->nev == TOPO_MAX_EVENTS)
        return;
    topo_event *e = &res->ev[res->nev++];
    snprintf(e->name, sizeof(e->name), "%s", event);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

/* ---- SET validation, shared by the proposer and apply ------------------ */

/* Scripts run on every monitor's machine with its privileges: as Sentinel's
 * deny-scripts-reconfig, they only come from the configuration file. */
static const char *const denied_opts[] = {
    "notification-script", "client-reconfig-script", NULL,
};

static const config_key *
set_option(const char *opt)
{
    for (size_t i = 0; i < config_master_nkeys; i++) {
        const config_key *k = &config_master_keys[i];
        if (k->sentinel_name && strcasecmp(k->sentinel_name, opt) == 0)
            return k;
    }
    return NULL;
}

static bool
apply_pairs(config_master *m, const topo_pair *pairs, int n, char *err,
            size_t len)
{
    char why[160];
    for (int i = 0; i < n; i++) {
        for (int d = 0; denied_opts[d]; d++) {
            if (strcasecmp(pairs[i].opt, denied_opts[d]) == 0) {
                snprintf(err, len, "-ERR Reconfiguration of scripts path is "
                         "denied for security reasons. Scripts are set in "
                         "the configuration file only.");
                return false;
            }
        }
        const config_key *k = set_option(pairs[i].opt);
        if (k == NULL) {
            snprintf(err, len, "-ERR Invalid argument '%.100s' for SENTINEL "
                     "SET", pairs[i].opt);
            return false;
        }
        if (config_value_parse(k, pairs[i].val, m, CONFIG_MAX_PEERS, why,
                               sizeof(why))) {
            snprintf(err, len, "-ERR Invalid argument '%.100s' for SENTINEL "
                     "SET '%s': expected %s", pairs[i].val, k->sentinel_name,
                     why);
            return false;
        }
    }
    return true;
}

bool
topo_check_pairs(const topo_pair *pairs, int n, char *err, size_t len)
{
    config_master scratch = {0};
    if (n == 0) {
        snprintf(err, len, "-ERR wrong number of arguments for 'sentinel|set'"
                 " command");
        return false;
    }
    return apply_pairs(&scratch, pairs, n, err, len);
}

/* ---- apply, one function per command ----------------------------------- */

static void
apply_monitor(topo *t, const topo_cmd *c, topo_result *res)
{
    if (topo_find(t, c->m.name)) {
        fail(res, "-ERR Duplicated master name");
        return;
    }
    if (t->nsets >= TOPO_MAX_SETS) {
        fail(res, "-ERR Too many monitored masters");
        return;
    }
    if (!config_name_valid(c->m.name) || c->m.address.port < 1 ||
        c->m.address.port > 65535 || c->m.quorum < 1) {
        fail(res, "-ERR Invalid master definition");
        return;
    }
    t->sets = xreallocarray(t->sets, (size_t)t->nsets + 1, sizeof(*t->sets));
    topo_set *s = &t->sets[t->nsets++];
    memset(s, 0, sizeof(*s));
    s->m = c->m;
    if (c->seed && !topo_was_seeded(t, c->m.name)) {
        t->seeded = xreallocarray(t->seeded, (size_t)t->nseeded + 1,
                          sizeof(*t->seeded));
        snprintf(t->seeded[t->nseeded++], CONFIG_STR_MAX, "%s", c->m.name);
    }
    announce(res, "+monitor", "master %s %s %d quorum %d", s->m.name,
             s->m.address.host, s->m.address.port, s->m.quorum);
}

static void
apply_remove(topo *t, const topo_cmd *c, topo_result *res)
{
    topo_set *s = topo_find(t, c->m.name);
    if (s == NULL) {
        fail(res, "-ERR No such master with that name");
        return;
    }
    announce(res, "-monitor", "master %s %s %d", s->m.name, s->m.address.host,
             s->m.address.port);
    free(s->replicas);
    int i = (int)(s - t->sets);
    memmove(s, s + 1, sizeof(*s) * (size_t)(t->nsets - i - 1));
    t->nsets--;
}

static void
apply_set(topo *t, const topo_cmd *c, topo_result *res)
{
    topo_set *s = topo_find(t, c->m.name);
    if (s == NULL) {
        fail(res, "-ERR No such master with that name");
        return;
    }
    config_master next = s->m;       /* all or nothing */
    if (!apply_pairs(&next, c->pairs, c->npairs, res->error,
                     sizeof(res->error))) {
        res->ok = false;
        return;
    }
    s->m = next;
    char detail[400] = "";
    size_t o = 0;
    for (int i = 0; i < c->npairs && o < sizeof(detail); i++) {
        bool secret = strcasecmp(c->pairs[i].opt, "auth-pass") == 0;
        o += (size_t)snprintf(detail + o, sizeof(detail) - o, " %s %s",
                              c->pairs[i].opt, secret ? "********"
                                                      : c->pairs[i].val);
    }
    announce(res, "+set", "master %s %s %d%s", s->m.name, s->m.address.host,
             s->m.address.port, detail);
}

static void
apply_reset(topo *t, const topo_cmd *c, topo_result *res)
{
    for (int i = 0; i < t->nsets; i++) {
        topo_set *s = &t->sets[i];
        if (!glob_match(c->m.name, s->m.name, false))
            continue;
        free(s->replicas);
        s->replicas = NULL;
        s->nreplicas = 0;
        res->matched++;
    }
    if (res->matched)
        announce(res, "+reset-master", "pattern %s matched %d", c->m.name,
                 res->matched);
}

static void
apply_member(topo *t, const topo_cmd *c, topo_result *res)
{
    topo_member *m = (topo_member *)topo_find_member(t, c->member.id);
    if (m == NULL) {
        t->members = xreallocarray(t->members, (size_t)t->nmembers + 1,
                           sizeof(*t->members));
        m = &t->members[t->nmembers++];
    }
    *m = c->member;
}

static void
apply_member_gone(topo *t, const topo_cmd *c, topo_result *res)
{
    const topo_member *m = topo_find_member(t, c->member.id);
    if (m == NULL)
        return;
    int i = (int)(m - t->members);
    memmove(&t->members[i], &t->members[i + 1],
            sizeof(*t->members) * (size_t)(t->nmembers - i - 1));
    t->nmembers--;
}

static void
apply_replica(topo *t, const topo_cmd *c, topo_result *res)
{
    topo_set *s = topo_find(t, c->m.name);
    if (s == NULL) {
        fail(res, "-ERR No such master with that name");
        return;
    }
    for (int i = 0; i < s->nreplicas; i++)
        if (strcmp(s->replicas[i].addr.host, c->m.address.host) == 0 &&
            s->replicas[i].addr.port == c->m.address.port)
            return;
    if (s->nreplicas >= TOPO_MAX_REPLICAS) {
        fail(res, "-ERR Too many replicas");
        return;
    }
    s->replicas = xreallocarray(s->replicas, (size_t)s->nreplicas + 1,
                                sizeof(*s->replicas));
    s->replicas[s->nreplicas++].addr = c->m.address;
    announce(res, "+slave", "slave %s:%d %s %d @ %s %s %d", c->m.address.host,
             c->m.address.port, c->m.address.host, c->m.address.port,
             s->m.name, s->m.address.host, s->m.address.port);
}

static void
apply_odown(topo *t, const topo_cmd *c, topo_result *res)
{
    topo_set *s = topo_find(t, c->m.name);
    if (s == NULL || s->odown == c->flag)
        return;     /* set removed meanwhile, or a duplicate judgement */
    s->odown = c->flag;
    if (c->flag)
        announce(res, "+odown", "master %s %s %d #quorum %u/%d", s->m.name,
                 s->m.address.host, s->m.address.port, c->votes, c->m.quorum);
    else
        announce(res, "-odown", "master %s %s %d", s->m.name,
                 s->m.address.host, s->m.address.port);
}

/* ---- failover records ----------------------------------------------------------- */

static void
master_desc(const topo_set *s, const config_addr *a, char *out, size_t len)
{
    snprintf(out, len, "master %s %s %d", s->m.name, a->host, a->port);
}

static void
replica_desc(const topo_set *s, const config_addr *a, char *out, size_t len)
{
    snprintf(out, len, "slave %s:%d %s %d @ %s %s %d", a->host, a->port,
             a->host, a->port, s->m.name, s->m.address.host,
             s->m.address.port);
}

static bool
addr_eq(const config_addr *a, const config_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static void
apply_failover_request(topo *t, const topo_cmd *c, topo_result *res)
{
    topo_set *s = topo_find(t, c->m.name);
    if (s == NULL) {
        fail(res, "-ERR No such master with that name");
        return;
    }
    if (s->fo.active) {
        fail(res, "-INPROG Failover already in progress");
        return;
    }
    s->fo.manual = true;
}

/* The fence: once this is committed the leader of `epoch` may touch Redis.
 * One attempt per epoch, ever. */
static void
apply_failover_start(topo *t, const topo_cmd *c, topo_result *res)
{
    topo_set *s = topo_find(t, c->m.name);
    if (s == NULL) {
        fail(res, "-ERR No such master with that name");
        return;
    }
    if (s->fo.active || c->epoch <= s->last_epoch) {
        fail(res, "-INPROG a failover already ran or runs in this epoch");
        return;
    }
    bool manual = s->fo.manual;
    memset(&s->fo, 0, sizeof(s->fo));
    s->fo.active = true;
    s->fo.epoch = c->epoch;
    s->fo.chosen = c->addr;
    s->fo.old_master = s->m.address;
    snprintf(s->fo.reason, sizeof(s->fo.reason), "%s",
             manual ? "manual" : c->reason);
    s->last_epoch = c->epoch;
    char m[300], r[700];
    master_desc(s, &s->m.address, m, sizeof(m));
    replica_desc(s, &c->addr, r, sizeof(r));
    announce(res, "+new-epoch", "%llu", (unsigned long long)c->epoch);
    announce(res, "+try-failover", "%s", m);
    announce(res, "+elected-leader", "%s", m);
    announce(res, "+failover-state-select-slave", "%s", m);
    announce(res, "+selected-slave", "%s", r);
}

static void
remove_replica(topo_set *s, const config_addr *a)
{
    for (int i = 0; i < s->nreplicas; i++) {
        if (addr_eq(&s->replicas[i].addr, a)) {
            s->replicas[i] = s->replicas[--s->nreplicas];
            return;
        }
    }
}

/* The promoted replica is the master from now on: every monitor answers
 * its address, and the old master becomes a replica to be reconfigured
 * when it comes back. */
static void
apply_switch_master(topo *t, const topo_cmd *c, topo_result *res)
{
    topo_set *s = topo_find(t, c->m.name);
    if (s == NULL || !s->fo.active || s->fo.switched ||
        s->fo.epoch != c->epoch) {
        fail(res, "-ERR no matching failover to switch");
        return;
    }
    config_addr old = s->m.address;
    char r[700];
    replica_desc(s, &c->addr, r, sizeof(r));
    announce(res, "+promoted-slave", "%s", r);
    announce(res, "+failover-state-reconf-slaves", "master %s %s %d",
             s->m.name, old.host, old.port);
    remove_replica(s, &c->addr);
    if (s->nreplicas < TOPO_MAX_REPLICAS && !addr_eq(&old, &c->addr)) {
        s->replicas = xreallocarray(s->replicas, (size_t)s->nreplicas + 1,
                                    sizeof(*s->replicas));
        s->replicas[s->nreplicas++].addr = old;
    }
    s->m.address = c->addr;
    s->config_epoch = c->epoch;
    s->odown = false;
    s->fo.switched = true;
    announce(res, "+switch-master", "%s %s %d %s %d", s->m.name, old.host,
             old.port, c->addr.host, c->addr.port);
}

static void
apply_failover_end(topo *t, const topo_cmd *c, topo_result *res)
{
    topo_set *s = topo_find(t, c->m.name);
    if (s == NULL || !s->fo.active || s->fo.epoch != c->epoch)
        return;     /* already ended: a duplicate */
    s->fo.active = false;
    s->fo.manual = false;
    if (c->flag)
        announce(res, "+failover-end-for-timeout", "master %s %s %d",
                 s->m.name, s->m.address.host, s->m.address.port);
    announce(res, "+failover-end", "master %s %s %d", s->m.name,
             s->m.address.host, s->m.address.port);
}

static void
apply_failover_abort(topo *t, const topo_cmd *c, topo_result *res)
{
    topo_set *s = topo_find(t, c->m.name);
    if (s && !s->fo.active && s->fo.manual && c->epoch == 0) {
        s->fo.manual = false;   /* a manual request that could not start */
        announce(res, "-failover-abort", "master %s %s %d %s", s->m.name,
                 s->m.address.host, s->m.address.port, c->reason);
        return;
    }
    if (s == NULL || !s->fo.active || s->fo.switched ||
        s->fo.epoch != c->epoch)
        return;
    s->fo.active = false;
    s->fo.manual = false;
    announce(res, "-failover-abort", "master %s %s %d %s", s->m.name,
             s->m.address.host, s->m.address.port, c->reason);
}

typedef void (*apply_fn)(topo *, const topo_cmd *, topo_result *);

static const apply_fn apply_table[] = {
    [TOPO_CMD_MONITOR] = apply_monitor,
    [TOPO_CMD_REMOVE] = apply_remove,
    [TOPO_CMD_SET] = apply_set,
    [TOPO_CMD_RESET] = apply_reset,
    [TOPO_CMD_MEMBER] = apply_member,
    [TOPO_CMD_MEMBER_GONE] = apply_member_gone,
    [TOPO_CMD_REPLICA] = apply_replica,
    [TOPO_CMD_ODOWN] = apply_odown,
    [TOPO_CMD_FAILOVER_REQUEST] = apply_failover_request,
    [TOPO_CMD_FAILOVER_START] = apply_failover_start,
    [TOPO_CMD_SWITCH_MASTER] = apply_switch_master,
    [TOPO_CMD_FAILOVER_END] = apply_failover_end,
    [TOPO_CMD_FAILOVER_ABORT] = apply_failover_abort,
};

void
topo_apply(topo *t, const uint8_t *data, size_t len, topo_result *res)
{
    memset(res, 0, sizeof(*res));
    res->ok = true;
    topo_cmd *c = xcalloc(1, sizeof(*c));
    if (topo_cmd_decode(data, len, c) < 0) {
        fail(res, "-ERR undecodable command in the log");
    } else {
        apply_table[c->type](t, c, res);
    }
    free(c);
}
