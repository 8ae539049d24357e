/*
 * cmd_sentinel.c -- SENTINEL subcommands with Redis Sentinel's reply
 * shapes: flat field/value arrays, every value a string, Sentinel's field
 * names and order, so Sentinel-aware client libraries work unchanged.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config/config_util.h"
#include "util/glob.h"
#include "util/mem.h"

static const topo_set *
find_set(admin_client *c, cmd_ctx *x, const char *name)
{
    const topo_set *s = topo_find(node_topo(x->n), name);
    if (s == NULL)
        admin_reply_error(c, "-ERR No such master with that name");
    return s;
}

/* The set a read asks about: NULL after replying -NOQUORUM (stale_reads no
 * and cut off) or "No such master". */
static const topo_set *
readable_set(admin_client *c, cmd_ctx *x, const char *name)
{
    return cmd_readable(c, x) ? find_set(c, x, name) : NULL;
}

static int
voters(const cmd_ctx *x)
{
    raft_status st;
    node_status(x->n, &st);
    int v = 0;
    for (uint32_t i = 0; i < st.conf.n; i++)
        v += st.conf.m[i].voter;
    return v;
}

/* Sentinel's flag words, space-separated. */
static void
flags(const monitor_view *v, bool have, const topo_set *s, char *out,
      size_t len)
{
    snprintf(out, len, "%s", v->kind == MON_MASTER ? "master" : "slave");
    if (!have)
        return;
    size_t o = strlen(out);
#define FLAG(cond, word)                                                       \
    if ((cond) && o < len)                                                     \
        o += (size_t)snprintf(out + o, len - o, ",%s", word)
    FLAG(v->sdown, "s_down");
    FLAG(v->kind == MON_MASTER && s->odown, "o_down");
    FLAG(!v->connected, "disconnected");
    FLAG(v->kind == MON_REPLICA && v->has_info && !v->info.master_link_up,
         "master_down");
    FLAG(v->auth_failed, "auth_failed");
    FLAG(v->kind == MON_MASTER && s->fo.active, "failover_in_progress");
#undef FLAG
}

static const char *
role_word(const monitor_view *v, bool have)
{
    if (!have || !v->has_info)
        return v->kind == MON_MASTER ? "master" : "slave";
    return v->info.role == MONITOR_ROLE_SLAVE ? "slave" : "master";
}

/* The fields Sentinel shows for every instance, in its order. */
static void
instance_fields(admin_list *l, const monitor_view *v, bool have,
                const char *name, const topo_set *s)
{
    char f[128];
    flags(v, have, s, f, sizeof(f));
    admin_list_kv(l, "name", name);
    admin_list_kv(l, "ip", v->addr.host);
    admin_list_kvf(l, "port", "%d", v->addr.port);
    admin_list_kv(l, "runid", v->runid);
    admin_list_kv(l, "flags", f);
    admin_list_kvf(l, "link-pending-commands", "%d", v->pending);
    admin_list_kv(l, "link-refcount", "1");
    admin_list_kvf(l, "last-ping-sent", "%lld", (long long)v->last_ping_sent_ms);
    admin_list_kvf(l, "last-ok-ping-reply", "%lld",
                   (long long)v->last_ok_ping_ms);
    admin_list_kvf(l, "last-ping-reply", "%lld",
                   (long long)v->last_ping_reply_ms);
    if (v->sdown)
        admin_list_kvf(l, "s-down-time", "%llu",
                       (unsigned long long)v->sdown_ms);
    admin_list_kvf(l, "down-after-milliseconds", "%d", s->m.down_after_ms);
    admin_list_kvf(l, "info-refresh", "%lld", (long long)v->info_refresh_ms);
    admin_list_kv(l, "role-reported", role_word(v, have));
    admin_list_kvf(l, "role-reported-time", "%lld",
                   (long long)v->role_reported_ms);
}

/* The fields of SENTINEL MASTER(S), in Sentinel's order. */
static void
master_fields(admin_list *l, const cmd_ctx *x, const topo_set *s)
{
    const topo *t = node_topo(x->n);
    monitor_view v;
    bool have = monitor_master_view(x->mon, s->m.name, &v);
    if (!have) {
        memset(&v, 0, sizeof(v));
        v.kind = MON_MASTER;
        v.addr = s->m.address;
    }
    instance_fields(l, &v, have, s->m.name, s);
    admin_list_kvf(l, "config-epoch", "%llu",
                   (unsigned long long)s->config_epoch);
    admin_list_kvf(l, "num-slaves", "%d", s->nreplicas);
    admin_list_kvf(l, "num-other-sentinels", "%d",
                   t->nmembers > 0 ? t->nmembers - 1 : 0);
    admin_list_kvf(l, "quorum", "%d", s->m.quorum);
    admin_list_kvf(l, "failover-timeout", "%d", s->m.failover_timeout_ms);
    admin_list_kvf(l, "parallel-syncs", "%d", s->m.parallel_syncs);
    if (s->fo.active) {
        admin_list_kv(l, "failover-state", s->fo.switched
                                               ? "reconf_slaves"
                                               : "wait_promotion");
        admin_list_kvf(l, "failover-epoch", "%llu",
                       (unsigned long long)s->fo.epoch);
    }
    /* Why the last selection found no replica: what Sentinel never says. */
    const char *why = failover_last_reasons(x->fo, s->m.name);
    if (why[0])
        admin_list_kv(l, "failover-exclusions", why);
}

static void
replica_fields(admin_list *l, const monitor_view *v, const topo_set *s)
{
    char name[CONFIG_STR_MAX + 8];
    snprintf(name, sizeof(name), "%s:%d", v->addr.host, v->addr.port);
    instance_fields(l, v, true, name, s);
    const monitor_facts *in = &v->info;
    long long down = in->master_link_down_since_s >= 0
                         ? in->master_link_down_since_s * 1000 : 0;
    admin_list_kvf(l, "master-link-down-time", "%lld", down);
    admin_list_kv(l, "master-link-status",
                  v->has_info && in->master_link_up ? "ok" : "err");
    admin_list_kv(l, "master-host", v->has_info ? in->master_host : "?");
    admin_list_kvf(l, "master-port", "%d", v->has_info ? in->master_port : 0);
    admin_list_kvf(l, "slave-priority", "%d",
                   v->has_info ? in->replica_priority : 100);
    admin_list_kvf(l, "slave-repl-offset", "%lld",
                   v->has_info ? (long long)in->slave_repl_offset : 0LL);
    admin_list_kvf(l, "replica-announced", "%d",
                   v->has_info ? in->replica_announced : 1);
}

static void
sentinel_masters(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    if (!cmd_readable(c, x))
        return;
    const topo *t = node_topo(x->n);
    admin_list l;
    admin_list_init(&l);
    for (int i = 0; i < t->nsets; i++) {
        admin_list m;
        admin_list_init(&m);
        master_fields(&m, x, &t->sets[i]);
        admin_list_list(&l, &m);
    }
    admin_reply_list(c, &l);
}

static void
sentinel_master(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    const topo_set *s = readable_set(c, x, a->argv[2]);
    if (s == NULL)
        return;
    admin_list l;
    admin_list_init(&l);
    master_fields(&l, x, s);
    admin_reply_list(c, &l);
}

static void
sentinel_replicas(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    const topo_set *s = readable_set(c, x, a->argv[2]);
    if (s == NULL)
        return;
    admin_list l;
    admin_list_init(&l);
    int n = monitor_replica_count(x->mon, s->m.name);
    for (int i = 0; i < n; i++) {
        monitor_view v;
        if (!monitor_replica_view(x->mon, s->m.name, i, &v))
            continue;
        admin_list m;
        admin_list_init(&m);
        replica_fields(&m, &v, s);
        admin_list_list(&l, &m);
    }
    admin_reply_list(c, &l);
}

static void
cache_entry(admin_list *l, const monitor_view *v)
{
    admin_list e;
    admin_list_init(&e);
    admin_list_int(&e, v->info_raw_age_ms < 0 ? 0 : v->info_raw_age_ms);
    admin_list_str(&e, v->info_raw);
    admin_list_list(l, &e);
}

/* SENTINEL INFO-CACHE name...: per set, its name and [age_ms, INFO text]
 * for the master and each replica, as Sentinel. */
static void
sentinel_info_cache(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    const topo *t = node_topo(x->n);
    admin_list l;
    admin_list_init(&l);
    for (int k = 0; k < t->nsets; k++) {
        const topo_set *s = &t->sets[k];
        bool want = a->argc == 2;
        for (int j = 2; j < a->argc && !want; j++)
            want = strcmp(a->argv[j], s->m.name) == 0;
        if (!want)
            continue;
        admin_list infos;
        admin_list_init(&infos);
        monitor_view v;
        if (monitor_master_view(x->mon, s->m.name, &v))
            cache_entry(&infos, &v);
        int n = monitor_replica_count(x->mon, s->m.name);
        for (int i = 0; i < n; i++)
            if (monitor_replica_view(x->mon, s->m.name, i, &v))
                cache_entry(&infos, &v);
        admin_list_str(&l, s->m.name);
        admin_list_list(&l, &infos);
    }
    admin_reply_list(c, &l);
}

static void
sentinel_sentinels(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    if (readable_set(c, x, a->argv[2]) == NULL)
        return;
    const topo *t = node_topo(x->n);
    admin_list l;
    admin_list_init(&l);
    for (int i = 0; i < t->nmembers; i++) {
        const topo_member *m = &t->members[i];
        if (strcmp(m->id, node_id(x->n)) == 0)
            continue;
        admin_list e;
        admin_list_init(&e);
        admin_list_kv(&e, "name", m->id);
        admin_list_kv(&e, "ip", m->admin.host);
        admin_list_kvf(&e, "port", "%d", m->admin.port);
        admin_list_kv(&e, "runid", m->id);
        bool down = node_peer_sdown(x->n, m->id, a->argv[2]);
        admin_list_kv(&e, "flags", down ? "sentinel,s_down" : "sentinel");
        int64_t silence = node_peer_silence_ms(x->n, m->id);
        admin_list_kv(&e, "link-pending-commands", "0");
        admin_list_kv(&e, "link-refcount", "1");
        admin_list_kvf(&e, "last-ping-sent", "0");
        admin_list_kvf(&e, "last-ok-ping-reply", "%lld", (long long)silence);
        admin_list_kvf(&e, "last-ping-reply", "%lld", (long long)silence);
        if (down)
            admin_list_kvf(&e, "s-down-time", "%lld", (long long)silence);
        admin_list_kvf(&e, "down-after-milliseconds", "%d",
                       topo_find(t, a->argv[2])->m.down_after_ms);
        admin_list_kvf(&e, "last-hello-message", "%lld", (long long)silence);
        admin_list_kv(&e, "voted-leader", "?");
        admin_list_kv(&e, "voted-leader-epoch", "0");
        admin_list_list(&l, &e);
    }
    admin_reply_list(c, &l);
}

static void
sentinel_get_addr(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    if (!cmd_readable(c, x))
        return;
    const topo_set *s = topo_find(node_topo(x->n), a->argv[2]);
    if (s == NULL) {
        admin_reply_null_array(c);
        return;
    }
    admin_reply_array(c, 2);
    admin_reply_str(c, s->m.address.host);
    admin_reply_strf(c, "%d", s->m.address.port);
}

static void
sentinel_myid(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    admin_reply_str(c, node_id(x->n));
}

static bool
parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static void
submit(admin_client *c, cmd_ctx *x, const topo_cmd *cmd)
{
    node_submit(x->n, cmd, cmd_write_done, admin_defer(c));
}

static void
sentinel_monitor(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    long port, quorum;
    unsigned char tmp[16];
    const char *ip = a->argv[3];
    if (!config_name_valid(a->argv[2])) {
        admin_reply_error(c, "-ERR Invalid master name");
        return;
    }
    if (inet_pton(AF_INET, ip, tmp) != 1 && inet_pton(AF_INET6, ip, tmp) != 1) {
        admin_reply_error(c, "-ERR Invalid IP address or hostname specified");
        return;
    }
    if (!parse_int(a->argv[4], 1, 65535, &port)) {
        admin_reply_error(c, "-ERR Invalid port");
        return;
    }
    if (!parse_int(a->argv[5], -1000000, 1000000, &quorum)) {
        admin_reply_error(c, "-ERR Invalid quorum");
        return;
    }
    if (quorum <= 0 || quorum > voters(x)) {
        admin_reply_errorf(c, "-ERR Quorum must be between 1 and the number "
                           "of monitors (%d)", voters(x));
        return;
    }
    topo_cmd cmd = {.type = TOPO_CMD_MONITOR};
    snprintf(cmd.m.name, sizeof(cmd.m.name), "%s", a->argv[2]);
    snprintf(cmd.m.address.host, sizeof(cmd.m.address.host), "%s", ip);
    cmd.m.address.port = (int)port;
    cmd.m.quorum = (int)quorum;
    /* Settings not given take the schema's defaults, as in the file. */
    cmd.m.down_after_ms = 30000;
    cmd.m.failover_timeout_ms = 180000;
    cmd.m.parallel_syncs = 1;
    submit(c, x, &cmd);
}

static void
sentinel_remove(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    if (find_set(c, x, a->argv[2]) == NULL)
        return;
    topo_cmd cmd = {.type = TOPO_CMD_REMOVE};
    snprintf(cmd.m.name, sizeof(cmd.m.name), "%s", a->argv[2]);
    submit(c, x, &cmd);
}

static void
sentinel_set(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    if (find_set(c, x, a->argv[2]) == NULL)
        return;
    int npairs = (a->argc - 3) / 2;
    if ((a->argc - 3) % 2 != 0 || npairs > TOPO_MAX_SET_PAIRS) {
        admin_reply_error(c, "-ERR wrong number of arguments for "
                             "'sentinel|set' command");
        return;
    }
    topo_cmd cmd = {.type = TOPO_CMD_SET, .npairs = npairs};
    snprintf(cmd.m.name, sizeof(cmd.m.name), "%s", a->argv[2]);
    for (int i = 0; i < npairs; i++) {
        const char *opt = a->argv[3 + 2 * i], *val = a->argv[4 + 2 * i];
        if (strlen(opt) >= CONFIG_STR_MAX || strlen(val) >= CONFIG_STR_MAX) {
            admin_reply_error(c, "-ERR Invalid argument: too long");
            return;
        }
        snprintf(cmd.pairs[i].opt, sizeof(cmd.pairs[i].opt), "%s", opt);
        snprintf(cmd.pairs[i].val, sizeof(cmd.pairs[i].val), "%s", val);
        long q;
        if (strcasecmp(opt, "quorum") == 0 && parse_int(val, 1, 1000000, &q) &&
            q > voters(x)) {
            admin_reply_errorf(c, "-ERR Invalid argument '%s' for SENTINEL "
                               "SET 'quorum': expected an integer from 1 to "
                               "%d (the number of monitors)", val, voters(x));
            return;
        }
    }
    char err[256];
    if (!topo_check_pairs(cmd.pairs, npairs, err, sizeof(err))) {
        admin_reply_error(c, err);
        return;
    }
    submit(c, x, &cmd);
}

static void
reset_done(void *arg, const topo_result *res)
{
    admin_deferred *d = arg;
    admin_client *c = admin_deferred_client(d);
    if (c) {
        if (res->ok)
            admin_reply_int(c, res->matched);
        else
            admin_reply_error(c, res->error);
    }
    admin_deferred_done(d);
}

static void
sentinel_reset(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    topo_cmd cmd = {.type = TOPO_CMD_RESET};
    if (strlen(a->argv[2]) >= sizeof(cmd.m.name)) {
        admin_reply_error(c, "-ERR pattern too long");
        return;
    }
    snprintf(cmd.m.name, sizeof(cmd.m.name), "%s", a->argv[2]);
    node_submit(x->n, &cmd, reset_done, admin_defer(c));
}

/* SENTINEL PENDING-SCRIPTS: queued and running scripts, Sentinel's fields. */
static void
sentinel_pending_scripts(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    size_t n = (size_t)scripts_queued(x->scripts) + 1;
    scripts_job_info *jobs = xcalloc(n, sizeof(*jobs));
    n = scripts_pending(x->scripts, jobs, n);
    admin_list l;
    admin_list_init(&l);
    for (size_t i = 0; i < n; i++) {
        const scripts_job_info *j = &jobs[i];
        admin_list e, argv;
        admin_list_init(&e);
        admin_list_init(&argv);
        admin_list_str(&e, "argv");
        for (int k = 0; k < j->argc; k++)
            admin_list_str(&argv, j->argv[k]);
        admin_list_list(&e, &argv);
        admin_list_kv(&e, "flags", j->running ? "running" : "scheduled");
        admin_list_kvf(&e, "pid", "%ld", (long)j->pid);
        if (j->running)
            admin_list_kvf(&e, "run-time", "%llu",
                           (unsigned long long)j->run_time_ms);
        else
            admin_list_kvf(&e, "run-delay", "%llu",
                           (unsigned long long)j->run_delay_ms);
        admin_list_kvf(&e, "retry-num", "%d", j->retry_num);
        admin_list_list(&l, &e);
    }
    free(jobs);
    admin_reply_list(c, &l);
}

static void
sentinel_failover(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    const topo_set *s = find_set(c, x, a->argv[2]);
    if (s == NULL)
        return;
    if (s->fo.active || s->fo.manual) {
        admin_reply_error(c, "-INPROG Failover already in progress");
        return;
    }
    config_addr chosen;
    char why[2048];
    if (failover_pick(x->fo, s->m.name, &chosen, why, sizeof(why)) < 0) {
        admin_reply_error(c, "-NOGOODSLAVE No suitable replica to promote");
        return;
    }
    topo_cmd cmd = {.type = TOPO_CMD_FAILOVER_REQUEST};
    snprintf(cmd.m.name, sizeof(cmd.m.name), "%s", s->m.name);
    submit(c, x, &cmd);
}

/* SENTINEL CKQUORUM: enough live monitors for the quorum (odown) and for a
 * Raft majority (failover authorization)? */
static void
sentinel_ckquorum(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    const topo_set *s = find_set(c, x, a->argv[2]);
    if (s == NULL)
        return;
    raft_status st;
    node_status(x->n, &st);
    int voters = 0, usable = 0;
    for (uint32_t i = 0; i < st.conf.n; i++) {
        if (!st.conf.m[i].voter)
            continue;
        voters++;
        usable += strcmp(st.conf.m[i].id.s, node_id(x->n)) == 0 ||
                  !node_peer_sdown(x->n, st.conf.m[i].id.s, s->m.name);
    }
    int majority = voters / 2 + 1;
    if (usable < s->m.quorum)
        admin_reply_errorf(c, "-NOQUORUM %d usable Sentinels. Not enough "
                           "available Sentinels to reach the specified "
                           "quorum for this master", usable);
    else if (usable < majority)
        admin_reply_errorf(c, "-NOQUORUM %d usable Sentinels. Not enough "
                           "available Sentinels to reach the majority and "
                           "authorize a failover", usable);
    else {
        char ok[128];
        snprintf(ok, sizeof(ok), "OK %d usable Sentinels. Quorum and "
                 "failover authorization can be reached", usable);
        admin_reply_status(c, ok);
    }
}

/* SENTINEL SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION]
 * [HELP], as Sentinel: arms simulated crashes on this monitor. */
static void
sentinel_simulate(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    unsigned flags = 0;
    for (int i = 2; i < a->argc; i++) {
        if (strcasecmp(a->argv[i], "crash-after-election") == 0) {
            flags |= FAILOVER_SIM_CRASH_AFTER_ELECTION;
        } else if (strcasecmp(a->argv[i], "crash-after-promotion") == 0) {
            flags |= FAILOVER_SIM_CRASH_AFTER_PROMOTION;
        } else if (strcasecmp(a->argv[i], "help") == 0) {
            admin_reply_array(c, 2);
            admin_reply_str(c, "crash-after-election");
            admin_reply_str(c, "crash-after-promotion");
            return;
        } else {
            admin_reply_error(c, "-ERR Unknown failure simulation specified");
            return;
        }
    }
    failover_simulate(x->fo, flags);
    admin_reply_ok(c);
}

const admin_command cmd_sentinel_table[] = {
    {"SENTINEL", "MASTERS", 2, 0, sentinel_masters,
     "-- Show the state of every monitored master."},
    {"SENTINEL", "MASTER", 3, 0, sentinel_master,
     "<name> -- Show the state of one monitored master."},
    {"SENTINEL", "REPLICAS", 3, 0, sentinel_replicas,
     "<name> -- Show the replicas of a monitored master."},
    {"SENTINEL", "SLAVES", 3, 0, sentinel_replicas,
     "<name> -- Alias of REPLICAS."},
    {"SENTINEL", "INFO-CACHE", -2, 0, sentinel_info_cache,
     "[<name> ...] -- Last INFO of every instance, with its age in ms."},
    {"SENTINEL", "SENTINELS", 3, 0, sentinel_sentinels,
     "<name> -- Show the other monitors of the group."},
    {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", 3, 0, sentinel_get_addr,
     "<name> -- Address of the current master, null if unknown."},
    {"SENTINEL", "PENDING-SCRIPTS", 2, 0, sentinel_pending_scripts,
     "-- Scripts queued or running."},
    {"SENTINEL", "MYID", 2, 0, sentinel_myid,
     "-- This monitor's id."},
    {"SENTINEL", "FAILOVER", 3, ADMIN_CMD_WRITE, sentinel_failover,
     "<name> -- Fail the master over now (-INPROG, -NOGOODSLAVE)."},
    {"SENTINEL", "SIMULATE-FAILURE", -3, 0, sentinel_simulate,
     "<crash-after-election|crash-after-promotion|help> ... -- Test fault "
     "points."},
    {"SENTINEL", "CKQUORUM", 3, 0, sentinel_ckquorum,
     "<name> -- Can the quorum and a Raft majority be reached?"},
    {"SENTINEL", "MONITOR", 6, ADMIN_CMD_WRITE, sentinel_monitor,
     "<name> <ip> <port> <quorum> -- Start monitoring a new master."},
    {"SENTINEL", "REMOVE", 3, ADMIN_CMD_WRITE, sentinel_remove,
     "<name> -- Stop monitoring a master."},
    {"SENTINEL", "SET", -5, ADMIN_CMD_WRITE, sentinel_set,
     "<name> <option> <value> [<option> <value> ...] -- Change settings."},
    {"SENTINEL", "RESET", 3, ADMIN_CMD_WRITE, sentinel_reset,
     "<pattern> -- Forget the replicas of matching masters."},
};
const size_t cmd_sentinel_n =
    sizeof(cmd_sentinel_table) / sizeof(cmd_sentinel_table[0]);
