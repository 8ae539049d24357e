/*
 * main.c -- raft-sentinel's entry point.  It only wires: command line,
 * configuration, logging, the libevent base and signals.  It owns the
 * process's mutable state (the app struct below).
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/admin.h"
#include "cmd/cmd.h"
#include "config.h"
#include "config/config.h"
#include "events/events.h"
#include "events/scripts.h"
#include "failover/failover.h"
#include "monitor/monitor.h"
#include "node/node.h"
#include "util/clock.h"
#include "util/log.h"

typedef struct app {
    config *cfg;
    struct event_base *base;
    struct event *ev_term;
    struct event *ev_int;
    struct event *ev_hup;
    events ev;
    node *node;
    monitor *mon;
    scripts *scripts;
    failover *fo;
    struct event *fo_tick;
    admin_server *admin;
    cmd_ctx cmds;
    char admin_binds[CONFIG_STR_MAX];
    bool stopping;
} app;

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: raft-sentinel --config FILE [--test-config]\n"
            "       raft-sentinel --version | --help\n"
            "\n"
            "  -c, --config FILE     run one monitor with this configuration\n"
            "  -t, --test-config     validate the configuration, print "
            "problems, exit 0 (valid) or 1\n"
            "  -p, --print-config    print the effective configuration "
            "(secrets masked) and exit\n"
            "  -v, --version         print the version and exit\n"
            "  -h, --help            print this help and exit\n"
            "\n"
            "Signals: TERM/INT stop cleanly, HUP reloads reloadable settings "
            "and reopens log_file.\n");
}

static void
apply_logging(const config *cfg)
{
    log_set_level((log_level)cfg->sentinel.log_level);
    if (log_open(cfg->sentinel.log_file) < 0)
        log_warning("cannot open log_file %s: %s; logging to stderr",
                    cfg->sentinel.log_file, strerror(errno));
}

static void
stopped(void *arg)
{
    app *a = arg;
    event_base_loopexit(a->base, NULL);
}

/* First signal: hand leadership over, then exit.  A second one while that
 * is under way exits at once. */
static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
    app *a = arg;
    log_notice("received %s, shutting down",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
    if (a->stopping || a->node == NULL) {
        event_base_loopexit(a->base, NULL);
        return;
    }
    a->stopping = true;
    node_shutdown(a->node, stopped, a);
}

/* Events reach admin-port subscribers on a channel named after the event,
 * with Sentinel's message text. */
static void
publish_event(void *ctx, const events_event *e)
{
    app *a = ctx;
    if (a->admin)
        admin_publish(a->admin, e->name, e->msg);
}

/* ---- monitor <-> node wiring -------------------------------------------- */

static const topo *
committed_topo(void *ctx)
{
    app *a = ctx;
    return node_topo(a->node);
}

static void
report_opinion(void *ctx, const char *set, const config_addr *addr,
               bool sdown, bool known)
{
    app *a = ctx;
    node_report_opinion(a->node, set, addr, sdown, known);
}

static void
discovered_done(void *arg, const topo_result *res)
{
    if (!res->ok)
        log_verbose("replica discovery not committed: %s", res->error);
}

static void
report_replica(void *ctx, const char *set, const config_addr *addr)
{
    app *a = ctx;
    topo_cmd c = {.type = TOPO_CMD_REPLICA};
    snprintf(c.m.name, sizeof(c.m.name), "%s", set);
    c.m.address = *addr;
    node_submit(a->node, &c, discovered_done, NULL);
}

static void
start_monitor(app *a)
{
    monitor_options o = {
        .base = a->base,
        .ev = &a->ev,
        .topo_get = committed_topo,
        .topo_ctx = a,
        .my_id = a->cfg->sentinel.id,
        .cb = {report_opinion, report_replica, a},
    };
    a->mon = monitor_new(&o);
}

/* ---- failover <-> node/monitor wiring ------------------------------------- */

static uint64_t
fo_leader_term(void *ctx)
{
    app *a = ctx;
    return node_leader_term(a->node);
}

static bool
fo_tilt(void *ctx)
{
    app *a = ctx;
    return monitor_tilt(a->mon);
}

static void
fo_done(void *arg, const topo_result *res)
{
    if (!res->ok)
        log_verbose("failover: proposal not applied: %s", res->error);
}

static void
fo_propose(void *ctx, const topo_cmd *c)
{
    app *a = ctx;
    node_submit(a->node, c, fo_done, NULL);
}

static bool
fo_view(void *ctx, const char *set, const config_addr *addr, monitor_view *v)
{
    app *a = ctx;
    return monitor_view_of(a->mon, set, addr, v);
}

static int
fo_send(void *ctx, const char *set, const config_addr *addr, int argc,
        const char **argv)
{
    app *a = ctx;
    return monitor_send(a->mon, set, addr, argc, argv);
}

static void
fo_refresh(void *ctx, const char *set, const config_addr *addr, bool urgent)
{
    app *a = ctx;
    monitor_refresh_info(a->mon, set, addr, urgent);
}

static void
fo_step_aside(void *ctx)
{
    app *a = ctx;
    node_step_aside(a->node);
}

static void
fo_emit(void *ctx, const char *event, const char *set, const char *msg)
{
    app *a = ctx;
    events_emit(&a->ev, event, set, "%s", msg);
}

static void
on_fo_tick(evutil_socket_t fd, short what, void *arg)
{
    app *a = arg;
    failover_tick(a->fo, clock_mono_ms());
}

static void
start_failover(app *a)
{
    failover_env env = {committed_topo, fo_leader_term, fo_tilt, fo_propose,
                        fo_view, fo_send, fo_refresh, fo_step_aside, fo_emit,
                        a};
    a->fo = failover_new(&env);
    /* Every 10 ms: each step of a failover (start, promote, confirm,
     * switch) waits for the next tick, and failover time is what users
     * measure us by. */
    a->fo_tick = event_new(a->base, -1, EV_PERSIST, on_fo_tick, a);
    struct timeval tv = {0, 10 * 1000};
    event_add(a->fo_tick, &tv);
}

/* ---- scripts -------------------------------------------------------------------- */

/* Script paths are local to each machine: they come from this monitor's
 * own [master] section, never from the replicated state (a set added with
 * SENTINEL MONITOR has none, as scripts cannot be set at runtime). */
static const config_master *
local_master(const app *a, const char *set)
{
    for (int i = 0; i < a->cfg->nmasters; i++)
        if (strcmp(a->cfg->masters[i].name, set) == 0)
            return &a->cfg->masters[i];
    return NULL;
}

/* Warning-level events about a monitored set go to its notification_script
 * (as Sentinel).  The runner's own -script-error events carry no set, so a
 * failing script never schedules itself to report its own failure. */
static void
notify_event(void *ctx, const events_event *e)
{
    app *a = ctx;
    if (a->scripts == NULL || e->set == NULL || e->level != LOG_WARNING)
        return;
    const config_master *s = local_master(a, e->set);
    if (s && s->notification_script[0])
        scripts_notify(a->scripts, s->notification_script, e->name, e->msg);
}

/* +switch-master runs the set's client_reconfig_script, as Sentinel:
 * <name> <role> start <from-ip> <from-port> <to-ip> <to-port>. */
static void
reconfig_event(void *ctx, const events_event *e)
{
    app *a = ctx;
    if (a->scripts == NULL || e->set == NULL ||
        strcmp(e->name, "+switch-master") != 0)
        return;
    const config_master *s = local_master(a, e->set);
    char name[CONFIG_STR_MAX], from[CONFIG_STR_MAX], to[CONFIG_STR_MAX];
    int fport, tport;
    if (s == NULL || !s->client_reconfig_script[0] ||
        sscanf(e->msg, "%199s %199s %d %199s %d", name, from, &fport, to,
               &tport) != 5)
        return;
    scripts_client_reconfig(a->scripts, s->client_reconfig_script, name,
                            node_is_leader(a->node) ? "leader" : "observer",
                            "start", from, fport, to, tport);
}

static void
script_event(void *ctx, const char *name, const char *desc)
{
    app *a = ctx;
    events_emit(&a->ev, name, NULL, "%s", desc);
}

static int
start_scripts(app *a)
{
    scripts_options o = {.base = a->base, .on_event = script_event, .ctx = a};
    a->scripts = scripts_new(&o);
    if (a->scripts == NULL)
        return -1;
    events_add_sink(&a->ev, notify_event, a);
    events_add_sink(&a->ev, reconfig_event, a);
    return 0;
}

static int
start_admin(app *a)
{
    const config_sentinel *s = &a->cfg->sentinel;
    admin_options o;
    admin_options_init(&o);
    char *binds = a->admin_binds;      /* o.bind points into it */
    snprintf(binds, sizeof(a->admin_binds), "%s", s->bind);
    char *save = NULL;
    for (char *t = strtok_r(binds, " \t", &save); t && o.nbind < ADMIN_MAX_BIND;
         t = strtok_r(NULL, " \t", &save))
        o.bind[o.nbind++] = t;
    o.port = s->port;
    o.requirepass = s->requirepass;
    a->admin = admin_server_new(a->base, &o);
    if (a->admin == NULL) {
        log_warning("cannot listen on the admin port %s:%d", s->bind, s->port);
        return -1;
    }
    a->cmds = (cmd_ctx){a->node, a->mon, a->scripts, a->fo, a->cfg,
                        a->admin, clock_mono_ms(), (long long)time(NULL)};
    return cmd_register(a->admin, &a->cmds);
}

/* SIGHUP: validate the whole file first; only a valid file changes
 * anything, so a typo at 3 a.m. never half-applies. */
static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
    app *a = arg;
    log_notice("received SIGHUP, reloading %s", a->cfg->path);
    config *next = config_load(a->cfg->path);
    if (next == NULL) {
        log_warning("config reload failed: out of memory; keeping the "
                    "running configuration");
        return;
    }
    if (next->nerrors > 0) {
        for (int i = 0; i < next->nerrors; i++)
            log_warning("config reload rejected: %s", next->errors[i]);
        log_warning("config reload rejected (%d problem%s); keeping the "
                    "running configuration", next->nerrors,
                    next->nerrors == 1 ? "" : "s");
        config_free(next);
        return;
    }
    int changed = config_apply_reload(a->cfg, next);
    config_free(next);
    apply_logging(a->cfg);
    if (a->admin)
        admin_server_set_password(a->admin, a->cfg->sentinel.requirepass);
    if (log_reopen() < 0)
        log_warning("cannot reopen log_file: %s", strerror(errno));
    log_notice("config reloaded: %d setting%s changed", changed,
               changed == 1 ? "" : "s");
}

static int
run(app *a)
{
    a->base = event_base_new();
    if (a->base == NULL) {
        log_warning("cannot create the event loop");
        return EXIT_FAILURE;
    }
    a->ev_term = evsignal_new(a->base, SIGTERM, on_stop, a);
    a->ev_int = evsignal_new(a->base, SIGINT, on_stop, a);
    a->ev_hup = evsignal_new(a->base, SIGHUP, on_reload, a);
    if (!a->ev_term || !a->ev_int || !a->ev_hup || evsignal_add(a->ev_term, NULL) ||
        evsignal_add(a->ev_int, NULL) || evsignal_add(a->ev_hup, NULL)) {
        log_warning("cannot install signal handlers");
        return EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);

    events_init(&a->ev);
    events_add_sink(&a->ev, publish_event, a);
    char err[512];
    node_options no = {a->cfg, a->base, &a->ev};
    a->node = node_new(&no, err, sizeof(err));
    if (a->node == NULL) {
        log_warning("cannot start: %s", err);
        return EXIT_FAILURE;
    }
    start_monitor(a);
    start_failover(a);
    if (start_scripts(a) != 0 || start_admin(a) != 0)
        return EXIT_FAILURE;

    const config_sentinel *s = &a->cfg->sentinel;
    log_notice("raft-sentinel %s starting: id %s, admin port %d, raft port "
               "%d, %d peer%s, %d monitored set%s", PACKAGE_VERSION, s->id,
               s->port, s->raft_port, a->cfg->npeers,
               a->cfg->npeers == 1 ? "" : "s", a->cfg->nmasters,
               a->cfg->nmasters == 1 ? "" : "s");
    event_base_dispatch(a->base);
    log_notice("raft-sentinel %s stopped", s->id);
    return EXIT_SUCCESS;
}

static void
app_free(app *a)
{
    if (a->admin)
        admin_server_free(a->admin);
    if (a->fo_tick)
        event_free(a->fo_tick);
    failover_free(a->fo);
    if (a->mon)
        monitor_free(a->mon);
    if (a->scripts)
        scripts_free(a->scripts);
    if (a->node)
        node_free(a->node);
    if (a->ev_term)
        event_free(a->ev_term);
    if (a->ev_int)
        event_free(a->ev_int);
    if (a->ev_hup)
        event_free(a->ev_hup);
    if (a->base)
        event_base_free(a->base);
    config_free(a->cfg);
    log_close();
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"test-config", no_argument, NULL, 't'},
        {"print-config", no_argument, NULL, 'p'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool test = false, print = false;
    int c;

    while ((c = getopt_long(argc, argv, "c:tpvh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 't': test = true; break;
        case 'p': print = true; break;
        case 'v': printf("raft-sentinel %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (path == NULL || optind != argc) {
        usage(stderr);
        return 1;
    }

    app a = {0};
    a.cfg = config_load(path);
    if (a.cfg == NULL) {
        fprintf(stderr, "raft-sentinel: out of memory\n");
        return 1;
    }
    if (a.cfg->nerrors > 0) {
        config_print_errors(a.cfg, stderr);
        fprintf(stderr, "raft-sentinel: %s: %d problem%s, not %s\n", path,
                a.cfg->nerrors, a.cfg->nerrors == 1 ? "" : "s",
                test ? "valid" : "starting");
        app_free(&a);
        return 1;
    }
    if (test || print) {
        if (print)
            config_print(a.cfg, stdout, false);
        else
            printf("raft-sentinel: %s: configuration is valid\n", path);
        app_free(&a);
        return 0;
    }
    apply_logging(a.cfg);
    int rc = run(&a);
    app_free(&a);
    return rc;
}
