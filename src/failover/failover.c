/*
 * failover.c -- the leader's failover driver (see failover.h).  One local
 * (unreplicated) state per monitored set remembers what this monitor has
 * sent; everything that matters for correctness is in the committed
 * topo_failover record, so a new leader picks up where the old one was.
 */
#include "failover/failover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failover/failover_select.h"
#include "util/log.h"
#include "util/mem.h"

#define RECONF_RESEND_MS 10000      /* a REPLICAOF that showed no effect */
#define RECONCILE_EVERY_MS 5000     /* per instance, drift corrections */
#define PROPOSE_AGAIN_MS 1000       /* an uncommitted proposal is retried */
#define STALE_ATTEMPT_GRACE_MS 1500 /* INFO time before aborting a stale one */
#define PROMOTE_RETRY_MS 200        /* the chosen replica was unreachable */

typedef enum reconf_state { RC_NONE, RC_SENT, RC_INPROG, RC_DONE } reconf_state;

typedef struct reconf {
    config_addr addr;
    reconf_state state;
    uint64_t at;
} reconf;

typedef struct fset {
    char name[CONFIG_STR_MAX];
    uint64_t epoch;             /* the attempt this state follows */
    uint64_t seen_at;           /* when we first saw it active (local) */
    uint64_t switched_at;
    uint64_t promote_sent_at;
    uint64_t promote_tried_at;
    uint64_t unreachable_logged_at;
    uint64_t step_aside_at;
    uint64_t proposed_at;       /* last start/switch/end/abort proposal */
    uint64_t attempt_at;        /* last failover-start proposal */
    uint64_t noslave_at;
    char reasons[2048];
    reconf *rc;
    int nrc;
    reconf *fixed;              /* reconciliation: last correction */
    int nfixed;
} fset;

struct failover {
    failover_env env;
    unsigned simulate;          /* FAILOVER_SIM_* */
    fset **sets;
    int nsets;
};

static bool
same(const config_addr *a, const config_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static fset *
fset_get(failover *f, const char *name)
{
    for (int i = 0; i < f->nsets; i++)
        if (strcmp(f->sets[i]->name, name) == 0)
            return f->sets[i];
    fset *s = xcalloc(1, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    f->sets = xreallocarray(f->sets, (size_t)f->nsets + 1, sizeof(*f->sets));
    f->sets[f->nsets++] = s;
    return s;
}

static void
emitf(failover *f, const char *event, const topo_set *s, const char *fmt,
      const config_addr *a)
{
    char msg[1024];
    if (strcmp(fmt, "slave") == 0)
        snprintf(msg, sizeof(msg), "slave %s:%d %s %d @ %s %s %d", a->host,
                 a->port, a->host, a->port, s->m.name, s->m.address.host,
                 s->m.address.port);
    else
        snprintf(msg, sizeof(msg), "master %s %s %d", s->m.name,
                 s->m.address.host, s->m.address.port);
    f->env.emit(f->env.ctx, event, s->m.name, msg);
}

/* ---- choosing a replica ------------------------------------------------------ */

static int
ping_period(const topo_set *s)
{
    int p = s->m.down_after_ms / 10;
    return p < 1000 ? (p < 10 ? 10 : p) : 1000;
}

/* Builds candidates from this monitor's views and runs the pure selection.
 * Returns the chosen index or -1; reasons (one line per replica) in why. */
static int
select_replica(failover *f, const topo_set *s, config_addr *chosen, char *why,
               size_t len)
{
    int n = s->nreplicas;
    failover_candidate *c = xcalloc((size_t)n + 1, sizeof(*c));
    monitor_view *v = xcalloc((size_t)n + 1, sizeof(*v));
    failover_reason *r = xcalloc((size_t)n + 1, sizeof(*r));
    monitor_view mv;
    bool have_master = f->env.view(f->env.ctx, s->m.name, &s->m.address, &mv);
    for (int i = 0; i < n; i++) {
        const config_addr *a = &s->replicas[i].addr;
        c[i].host = a->host;
        c[i].port = a->port;
        c[i].priority = 100;
        c[i].flags = FAILOVER_F_DISCONNECTED;
        c[i].reply_age_ms = c[i].info_age_ms = -1;
        if (!f->env.view(f->env.ctx, s->m.name, a, &v[i]))
            continue;
        c[i].run_id = v[i].runid;
        c[i].flags = (v[i].sdown ? FAILOVER_F_SDOWN : 0) |
                     (v[i].connected ? 0 : FAILOVER_F_DISCONNECTED);
        c[i].reply_age_ms = v[i].last_ok_ping_ms;
        c[i].info_age_ms = v[i].info_refresh_ms;
        if (v[i].has_info) {
            c[i].priority = v[i].info.replica_priority;
            c[i].repl_offset = v[i].info.slave_repl_offset;
            c[i].master_link_down_ms =
                v[i].info.master_link_down_since_s > 0
                    ? v[i].info.master_link_down_since_s * 1000 : 0;
        }
    }
    failover_params p = {
        .ping_period_ms = ping_period(s),
        .info_period_ms = 10000,
        .down_after_ms = s->m.down_after_ms,
        .master_sdown = have_master && mv.sdown,
        .master_sdown_ms = have_master ? (int64_t)mv.sdown_ms : 0,
    };
    int k = failover_select(c, (size_t)n, &p, r);
    size_t o = 0;
    why[0] = '\0';
    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i == k)
            continue;
        if (o)
            why[o++] = '\n';
        o += failover_describe(c, (size_t)n, &p, r, (size_t)i, why + o,
                               len - o);
        if (o >= len)
            o = len - 1;
    }
    if (k >= 0)
        *chosen = s->replicas[k].addr;
    free(c);
    free(v);
    free(r);
    return k;
}

static void
try_start(failover *f, fset *fs, const topo_set *s, uint64_t term,
          uint64_t now)
{
    if (now - fs->attempt_at < PROPOSE_AGAIN_MS)
        return;
    if (term <= s->last_epoch) {
        /* This term already had its attempt for this set (a failover
         * happened, or one was aborted): a new attempt needs a new epoch,
         * so hand leadership on; the next leader's term is newer. */
        if (now - fs->step_aside_at >= PROPOSE_AGAIN_MS) {
            fs->step_aside_at = now;
            log_notice("failover %s: epoch %llu already used; handing "
                       "leadership on for a new one", s->m.name,
                       (unsigned long long)term);
            f->env.step_aside(f->env.ctx);
        }
        return;
    }
    config_addr chosen;
    char why[sizeof(fs->reasons)];
    if (select_replica(f, s, &chosen, why, sizeof(why)) < 0) {
        /* Say why once per failover-timeout, not every tick; the reasons
         * are what Sentinel never tells its operators. */
        if (now - fs->noslave_at >= (uint64_t)s->m.failover_timeout_ms ||
            strcmp(why, fs->reasons) != 0) {
            fs->noslave_at = now;
            emitf(f, "-failover-abort-no-good-slave", s, "master", NULL);
            log_warning("failover %s: no replica can be promoted:%s%s",
                        s->m.name, why[0] ? "\n" : " (none known)", why);
        }
        snprintf(fs->reasons, sizeof(fs->reasons), "%s", why);
        if (s->fo.manual) {
            /* A manual request is answered once, not kept until some
             * replica happens to become eligible hours later. */
            fs->attempt_at = now;
            topo_cmd c = {.type = TOPO_CMD_FAILOVER_ABORT};
            snprintf(c.m.name, sizeof(c.m.name), "%s", s->m.name);
            snprintf(c.reason, sizeof(c.reason), "no-good-slave");
            f->env.propose(f->env.ctx, &c);
        }
        return;
    }
    fs->reasons[0] = '\0';
    fs->attempt_at = now;
    topo_cmd c = {.type = TOPO_CMD_FAILOVER_START, .epoch = term,
                  .addr = chosen};
    snprintf(c.m.name, sizeof(c.m.name), "%s", s->m.name);
    snprintf(c.reason, sizeof(c.reason), "%s", s->fo.manual ? "manual"
                                                             : "odown");
    f->env.propose(f->env.ctx, &c);
}

/* ---- promotion ---------------------------------------------------------------- */

static void
propose_simple(failover *f, fset *fs, const topo_set *s, uint8_t type,
               const char *reason, bool flag, uint64_t now)
{
    if (now - fs->proposed_at < PROPOSE_AGAIN_MS)
        return;
    fs->proposed_at = now;
    topo_cmd c = {.type = type, .epoch = s->fo.epoch, .addr = s->fo.chosen,
                  .flag = flag};
    snprintf(c.m.name, sizeof(c.m.name), "%s", s->m.name);
    snprintf(c.reason, sizeof(c.reason), "%s", reason ? reason : "");
    f->env.propose(f->env.ctx, &c);
}

/* MULTI / REPLICAOF NO ONE / CONFIG REWRITE / CLIENT KILL x2 / EXEC, as
 * Sentinel: the replica becomes master and drops clients still writing to
 * it as a replica.  Sent only while we lead the attempt's epoch. */
static void
promote(failover *f, fset *fs, const topo_set *s, uint64_t now)
{
    static const char *const cmds[][4] = {
        {"MULTI"}, {"REPLICAOF", "NO", "ONE"}, {"CONFIG", "REWRITE"},
        {"CLIENT", "KILL", "TYPE", "normal"},
        {"CLIENT", "KILL", "TYPE", "pubsub"}, {"EXEC"},
    };
    static const int argc[] = {1, 3, 2, 4, 4, 1};
    if (now - fs->promote_tried_at < PROMOTE_RETRY_MS)
        return;
    fs->promote_tried_at = now;
    /* The fence: only the leader of the attempt's term sends these.  The
     * sends below are queued in one turn of the event loop, during which
     * leadership cannot change. */
    if (f->env.leader_term(f->env.ctx) != s->fo.epoch)
        return;
    for (size_t i = 0; i < sizeof(argc) / sizeof(argc[0]); i++) {
        if (f->env.send(f->env.ctx, s->m.name, &s->fo.chosen, argc[i],
                        (const char **)cmds[i]) != 0) {
            if (i == 0 && now - fs->unreachable_logged_at > 5000) {
                fs->unreachable_logged_at = now;
                log_warning("failover %s: cannot reach %s:%d to promote it; "
                            "retrying", s->m.name, s->fo.chosen.host,
                            s->fo.chosen.port);
            }
            return;     /* MULTI not queued: nothing half-sent */
        }
    }
    emitf(f, "+failover-state-send-slaveof-noone", s, "slave", &s->fo.chosen);
    fs->promote_sent_at = now;
    emitf(f, "+failover-state-wait-promotion", s, "slave", &s->fo.chosen);
    f->env.refresh(f->env.ctx, s->m.name, &s->fo.chosen, true);
}

static bool
reports_master(failover *f, const topo_set *s, const config_addr *a)
{
    monitor_view v;
    return f->env.view(f->env.ctx, s->m.name, a, &v) && v.has_info &&
           v.info.role == MONITOR_ROLE_MASTER && v.info_refresh_ms >= 0;
}

static void
simulated_crash(const failover *f, unsigned flag, const char *when)
{
    if (!(f->simulate & flag))
        return;
    log_warning("simulated failure: crashing %s (SENTINEL SIMULATE-FAILURE)",
                when);
    _exit(99);  /* a crash: no cleanup, no handoff */
}

static void
drive_promotion(failover *f, fset *fs, const topo_set *s, uint64_t term,
                uint64_t now)
{
    if (s->fo.epoch == term && fs->promote_sent_at == 0)
        simulated_crash(f, FAILOVER_SIM_CRASH_AFTER_ELECTION,
                        "after failover-start was committed");
    /* Promotion is confirmed by INFO, asked for at once, not in 10 s. */
    if (fs->promote_sent_at || s->fo.epoch != term)
        f->env.refresh(f->env.ctx, s->m.name, &s->fo.chosen, false);
    if (fs->promote_sent_at || s->fo.epoch != term) {
        if (reports_master(f, s, &s->fo.chosen)) {
            if (s->fo.epoch == term)
                simulated_crash(f, FAILOVER_SIM_CRASH_AFTER_PROMOTION,
                                "after the promotion was confirmed");
            propose_simple(f, fs, s, TOPO_CMD_SWITCH_MASTER, NULL, false, now);
            return;
        }
    }
    if (s->fo.epoch == term) {
        if (fs->promote_sent_at == 0 ||
            now - fs->promote_sent_at > (uint64_t)s->m.failover_timeout_ms / 4)
            promote(f, fs, s, now);
        if (now - fs->seen_at > (uint64_t)s->m.failover_timeout_ms) {
            log_warning("failover %s: %s:%d not promoted within %d ms; "
                        "aborting epoch %llu", s->m.name, s->fo.chosen.host,
                        s->fo.chosen.port, s->m.failover_timeout_ms,
                        (unsigned long long)s->fo.epoch);
            propose_simple(f, fs, s, TOPO_CMD_FAILOVER_ABORT,
                           "promotion-timeout", false, now);
            f->env.step_aside(f->env.ctx);    /* a new term for a retry */
        }
        return;
    }
    /* An attempt of an older epoch that did not promote its replica: it can
     * never complete (its leader is gone), so end it; a new attempt under
     * this leader's term follows. */
    if (now - fs->seen_at > STALE_ATTEMPT_GRACE_MS)
        propose_simple(f, fs, s, TOPO_CMD_FAILOVER_ABORT, "leader-changed",
                       false, now);
}

/* ---- reconfiguring the other replicas ------------------------------------------ */

static reconf *
rc_get(reconf **list, int *n, const config_addr *a)
{
    for (int i = 0; i < *n; i++)
        if (same(&(*list)[i].addr, a))
            return &(*list)[i];
    *list = xreallocarray(*list, (size_t)*n + 1, sizeof(**list));
    reconf *r = &(*list)[(*n)++];
    memset(r, 0, sizeof(*r));
    r->addr = *a;
    return r;
}

/* MULTI / REPLICAOF host port / CONFIG REWRITE / CLIENT KILL TYPE normal /
 * EXEC: the same form Sentinel uses, so clients of the replica reconnect
 * and find the new topology. */
static int
send_replicaof(failover *f, const topo_set *s, const config_addr *a)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", s->m.address.port);
    const char *multi[] = {"MULTI"};
    const char *rof[] = {"REPLICAOF", s->m.address.host, port};
    const char *rw[] = {"CONFIG", "REWRITE"};
    const char *kill[] = {"CLIENT", "KILL", "TYPE", "normal"};
    const char *exec[] = {"EXEC"};
    if (f->env.leader_term(f->env.ctx) == 0)
        return -1;
    if (f->env.send(f->env.ctx, s->m.name, a, 1, multi) != 0)
        return -1;
    f->env.send(f->env.ctx, s->m.name, a, 3, rof);
    f->env.send(f->env.ctx, s->m.name, a, 2, rw);
    f->env.send(f->env.ctx, s->m.name, a, 4, kill);
    return f->env.send(f->env.ctx, s->m.name, a, 1, exec);
}

static bool
follows_master(const topo_set *s, const monitor_view *v)
{
    return v->has_info && v->info.role == MONITOR_ROLE_SLAVE &&
           v->info.master_port == s->m.address.port &&
           strcmp(v->info.master_host, s->m.address.host) == 0;
}

/* Returns true once every reachable replica follows the new master. */
static bool
reconfigure(failover *f, fset *fs, const topo_set *s, uint64_t now)
{
    int in_flight = 0;
    bool all_done = true;
    for (int i = 0; i < s->nreplicas; i++) {
        reconf *r = rc_get(&fs->rc, &fs->nrc, &s->replicas[i].addr);
        in_flight += r->state == RC_SENT || r->state == RC_INPROG;
    }
    for (int i = 0; i < s->nreplicas; i++) {
        const config_addr *a = &s->replicas[i].addr;
        reconf *r = rc_get(&fs->rc, &fs->nrc, a);
        monitor_view v;
        bool seen = f->env.view(f->env.ctx, s->m.name, a, &v);
        if (r->state == RC_DONE)
            continue;
        if (!seen || v.sdown || !v.connected)
            continue;   /* unreachable: reconciliation fixes it later */
        all_done = false;
        if (follows_master(s, &v)) {
            if (v.info.master_link_up) {
                r->state = RC_DONE;
                emitf(f, "+slave-reconf-done", s, "slave", a);
                in_flight--;
            } else if (r->state == RC_SENT) {
                r->state = RC_INPROG;
                emitf(f, "+slave-reconf-inprog", s, "slave", a);
            }
            f->env.refresh(f->env.ctx, s->m.name, a, false);
            continue;
        }
        if (r->state != RC_NONE && now - r->at < RECONF_RESEND_MS) {
            f->env.refresh(f->env.ctx, s->m.name, a, false);
            continue;
        }
        if (r->state == RC_NONE && in_flight >= s->m.parallel_syncs)
            continue;
        if (send_replicaof(f, s, a) == 0) {
            if (r->state == RC_NONE)
                in_flight++;
            r->state = RC_SENT;
            r->at = now;
            emitf(f, "+slave-reconf-sent", s, "slave", a);
        }
    }
    return all_done;
}

static void
drive_reconf(failover *f, fset *fs, const topo_set *s, uint64_t now)
{
    if (fs->switched_at == 0)
        fs->switched_at = now;
    bool done = reconfigure(f, fs, s, now);
    bool timeout = now - fs->switched_at > (uint64_t)s->m.failover_timeout_ms;
    if (done || timeout)
        propose_simple(f, fs, s, TOPO_CMD_FAILOVER_END, NULL, !done, now);
}

/* ---- drift: always-on reconciliation --------------------------------------------- */

/* A returning old master (still role:master) becomes a replica of the
 * current one; a replica following anything else is re-pointed.  At most
 * once per RECONCILE_EVERY_MS per instance. */
static void
reconcile(failover *f, fset *fs, const topo_set *s, uint64_t now)
{
    monitor_view mv;
    if (!f->env.view(f->env.ctx, s->m.name, &s->m.address, &mv) || mv.sdown ||
        !mv.has_info || mv.info.role != MONITOR_ROLE_MASTER)
        return;     /* never point replicas at a master that is not one */
    for (int i = 0; i < s->nreplicas; i++) {
        const config_addr *a = &s->replicas[i].addr;
        monitor_view v;
        if (!f->env.view(f->env.ctx, s->m.name, a, &v) || !v.connected ||
            !v.has_info || v.info_refresh_ms < 0 || follows_master(s, &v))
            continue;
        reconf *r = rc_get(&fs->fixed, &fs->nfixed, a);
        if (r->at && now - r->at < RECONCILE_EVERY_MS)
            continue;
        r->at = now;
        const char *event = v.info.role == MONITOR_ROLE_MASTER
                                ? "+convert-to-slave" : "+fix-slave-config";
        if (send_replicaof(f, s, a) == 0)
            emitf(f, event, s, "slave", a);
    }
}

/* ---- the tick ------------------------------------------------------------------ */

static void
tick_set(failover *f, const topo_set *s, uint64_t term, uint64_t now)
{
    fset *fs = fset_get(f, s->m.name);
    if (!s->fo.active) {
        fs->epoch = 0;
        if (s->odown || s->fo.manual)
            try_start(f, fs, s, term, now);
        else
            reconcile(f, fs, s, now);
        return;
    }
    if (fs->epoch != s->fo.epoch) {     /* a new attempt to follow */
        free(fs->rc);
        fs->rc = NULL;
        fs->nrc = 0;
        fs->epoch = s->fo.epoch;
        fs->seen_at = now;
        fs->switched_at = fs->promote_sent_at = fs->proposed_at = 0;
        fs->promote_tried_at = 0;
    }
    if (!s->fo.switched)
        drive_promotion(f, fs, s, term, now);
    else
        drive_reconf(f, fs, s, now);
}

void
failover_tick(failover *f, uint64_t now)
{
    uint64_t term = f->env.leader_term(f->env.ctx);
    if (term == 0 || f->env.tilt(f->env.ctx))
        return;     /* only a leader acts, and never in TILT */
    const topo *t = f->env.topo(f->env.ctx);
    for (int i = 0; i < t->nsets; i++)
        tick_set(f, &t->sets[i], term, now);
}

failover *
failover_new(const failover_env *env)
{
    failover *f = xcalloc(1, sizeof(*f));
    f->env = *env;
    return f;
}

void
failover_free(failover *f)
{
    if (f == NULL)
        return;
    for (int i = 0; i < f->nsets; i++) {
        free(f->sets[i]->rc);
        free(f->sets[i]->fixed);
        free(f->sets[i]);
    }
    free(f->sets);
    free(f);
}

void
failover_simulate(failover *f, unsigned flags)
{
    f->simulate = flags;
}

const char *
failover_last_reasons(const failover *f, const char *set)
{
    for (int i = 0; i < f->nsets; i++)
        if (strcmp(f->sets[i]->name, set) == 0)
            return f->sets[i]->reasons;
    return "";
}

int
failover_pick(const failover *f, const char *set, config_addr *chosen,
              char *why, size_t len)
{
    const topo_set *s = topo_find(f->env.topo(f->env.ctx), set);
    if (s == NULL)
        return -1;
    return select_replica((failover *)f, s, chosen, why, len);
}
