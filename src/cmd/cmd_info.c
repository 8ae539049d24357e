/*
 * cmd_info.c -- INFO (server, clients, sentinel, raft sections) and ROLE,
 * shaped like Redis Sentinel's so monitoring tools parse them unchanged.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "config.h"
#include "util/buf.h"
#include "util/clock.h"

typedef struct text {
    buf b;      /* grows: INFO lists every monitored set */
} text;

static void __attribute__((format(printf, 2, 3)))
add(text *t, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    if (n > 0)
        buf_put_bytes(&t->b, line, (size_t)n);
}

static void
section_server(text *t, const cmd_ctx *x)
{
    struct utsname u;
    uname(&u);
    uint64_t up = (clock_mono_ms() - x->started_ms) / 1000;
    add(t, "# Server\r\nredis_version:7.0.0\r\nraft_sentinel_version:%s\r\n"
           "redis_mode:sentinel\r\nos:%s %s %s\r\narch_bits:%d\r\n"
           "process_id:%ld\r\nrun_id:%s\r\ntcp_port:%d\r\n"
           "uptime_in_seconds:%llu\r\nuptime_in_days:%llu\r\n"
           "executable:raft-sentinel\r\nconfig_file:%s\r\n",
        PACKAGE_VERSION, u.sysname, u.release, u.machine,
        (int)(sizeof(void *) * 8), (long)getpid(), node_id(x->n),
        x->cfg->sentinel.port, (unsigned long long)up,
        (unsigned long long)(up / 86400), x->cfg->path);
}

static void
section_clients(text *t, const cmd_ctx *x)
{
    admin_stats s;
    admin_server_stats(x->admin, &s);
    add(t, "# Clients\r\nconnected_clients:%zu\r\nmaxclients:%zu\r\n"
           "blocked_clients:%zu\r\npubsub_clients:%zu\r\n"
           "total_connections_received:%llu\r\n"
           "rejected_connections:%llu\r\ntotal_commands_processed:%llu\r\n",
        s.connected_clients, s.max_clients, s.blocked_clients,
        s.pubsub_clients, (unsigned long long)s.total_connections,
        (unsigned long long)s.rejected_connections,
        (unsigned long long)s.total_commands);
}

static void
section_sentinel(text *t, const cmd_ctx *x)
{
    const topo *tp = node_topo(x->n);
    int64_t tilt = monitor_tilt_since_ms(x->mon);
    add(t, "# Sentinel\r\nsentinel_masters:%d\r\nsentinel_tilt:%d\r\n"
           "sentinel_tilt_since_seconds:%lld\r\nsentinel_running_scripts:%d\r\n"
           "sentinel_scripts_queue_length:%d\r\n"
           "sentinel_simulate_failure_flags:0\r\n", tp->nsets,
        monitor_tilt(x->mon) ? 1 : 0,
        tilt < 0 ? -1LL : (long long)(tilt / 1000), scripts_running(x->scripts),
        scripts_queued(x->scripts));
    for (int i = 0; i < tp->nsets; i++) {
        const topo_set *s = &tp->sets[i];
        monitor_view v;
        const char *status = s->odown ? "odown"
                             : monitor_master_view(x->mon, s->m.name, &v) &&
                                       v.sdown ? "sdown" : "ok";
        add(t, "master%d:name=%s,status=%s,address=%s:%d,slaves=%d,"
               "sentinels=%d\r\n", i, s->m.name, status, s->m.address.host,
            s->m.address.port, s->nreplicas,
            tp->nmembers > 0 ? tp->nmembers : 1);
    }
}

static void
section_raft(text *t, const cmd_ctx *x)
{
    raft_status st;
    node_status(x->n, &st);
    node_stats ns;
    node_get_stats(x->n, &ns);
    add(t, "# Raft\r\nraft_id:%s\r\nraft_role:%s\r\nraft_term:%llu\r\n"
           "raft_leader:%s\r\nraft_commit_index:%llu\r\n"
           "raft_applied_index:%llu\r\nraft_snapshot_index:%llu\r\n"
           "raft_members:%u\r\nraft_fsyncs:%llu\r\nraft_frames_in:%llu\r\n"
           "raft_frames_out:%llu\r\nraft_forwarded_writes:%llu\r\n",
        st.id.s, raft_role_name(st.role), (unsigned long long)st.term,
        st.leader.s, (unsigned long long)st.commit,
        (unsigned long long)st.applied, (unsigned long long)st.snap_index,
        st.conf.n, (unsigned long long)ns.fsyncs,
        (unsigned long long)ns.frames_in, (unsigned long long)ns.frames_out,
        (unsigned long long)ns.forwarded);
}

static const struct {
    const char *name;
    void (*fn)(text *, const cmd_ctx *);
} sections[] = {
    {"server", section_server},
    {"clients", section_clients},
    {"sentinel", section_sentinel},
    {"raft", section_raft},
};

static void
cmd_info(admin_client *c, const admin_args *a, void *ctx)
{
    text tx = {{0}}, *t = &tx;
    bool all = a->argc == 1 || strcasecmp(a->argv[1], "all") == 0 ||
               strcasecmp(a->argv[1], "default") == 0 ||
               strcasecmp(a->argv[1], "everything") == 0;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        bool want = all;
        for (int j = 1; j < a->argc && !want; j++)
            want = strcasecmp(a->argv[j], sections[i].name) == 0;
        if (!want)
            continue;
        if (t->b.len)
            add(t, "\r\n");
        sections[i].fn(t, ctx);
    }
    admin_reply_bulk(c, t->b.data ? (const char *)t->b.data : "", t->b.len);
    buf_free(&t->b);
}

/* ROLE as Sentinel: ["sentinel", [master names]]. */
static void
cmd_role(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    const topo *tp = node_topo(x->n);
    admin_list l, names;
    admin_list_init(&l);
    admin_list_init(&names);
    admin_list_str(&l, "sentinel");
    for (int i = 0; i < tp->nsets; i++)
        admin_list_str(&names, tp->sets[i].m.name);
    admin_list_list(&l, &names);
    admin_reply_list(c, &l);
}

const admin_command cmd_info_table[] = {
    {"INFO", NULL, -1, 0, cmd_info,
     "[section ...] -- server, clients, sentinel, raft (default: all)."},
    {"ROLE", NULL, 1, 0, cmd_role,
     "-- \"sentinel\" and the monitored master names."},
};
const size_t cmd_info_n = sizeof(cmd_info_table) / sizeof(cmd_info_table[0]);
