/*
 * monitor.h -- watching Redis: every monitor pings every master and replica
 * of every monitored set, reads INFO, discovers replicas and judges
 * instances subjectively down (sdown).
 *
 * What to watch comes from the replicated topology (read-only here); what
 * the monitor learns goes out through callbacks that main.c wires to the
 * node (sdown opinions to the leader, discovered replicas to the log) and
 * to events_emit().  It knows Redis and sockets, not Raft.
 */
#ifndef MONITOR_H
#define MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "events/events.h"
#include "monitor/monitor_info.h"
#include "node/topo.h"

struct event_base;
typedef struct monitor monitor;

typedef struct monitor_callbacks {
    /* This monitor's opinion of a set's master (at addr) changed: sdown
     * true/false; known false while in TILT (no opinion). */
    void (*opinion)(void *ctx, const char *set, const config_addr *addr,
                    bool sdown, bool known);
    /* A replica the committed state does not list yet (rate-limited). */
    void (*discovered)(void *ctx, const char *set, const config_addr *addr);
    void *ctx;
} monitor_callbacks;

typedef struct monitor_options {
    struct event_base *base;
    events *ev;
    const topo *(*topo_get)(void *ctx);   /* the committed state */
    void *topo_ctx;
    const char *my_id;                    /* for CLIENT SETNAME */
    monitor_callbacks cb;
} monitor_options;

monitor *monitor_new(const monitor_options *o);
void monitor_free(monitor *m);

/* ---- views for the admin port ------------------------------------------- */

typedef enum monitor_kind { MON_MASTER, MON_REPLICA } monitor_kind;

/* What the last INFO said, kept per instance (the full parse is large and
 * only needed while a reply is handled). */
typedef struct monitor_facts {
    monitor_role role;
    char master_host[MI_HOST_MAX + 1];
    int master_port;
    bool master_link_up;
    int64_t master_link_down_since_s;   /* -1 when up or unknown */
    int64_t slave_repl_offset;
    int64_t master_repl_offset;
    int replica_priority;
    bool replica_announced;
} monitor_facts;

typedef struct monitor_view {
    monitor_kind kind;
    config_addr addr;
    char runid[48];
    bool connected;
    bool sdown;
    bool auth_failed;
    uint64_t sdown_ms;                  /* how long, when sdown */
    int pending;                        /* commands in flight */
    int64_t last_ping_sent_ms;          /* ago; 0 = none pending */
    int64_t last_ok_ping_ms;            /* ago */
    int64_t last_ping_reply_ms;         /* ago */
    int64_t info_refresh_ms;            /* ago; -1 never */
    int64_t role_reported_ms;           /* ago */
    monitor_facts info;                 /* from the last INFO */
    bool has_info;
    char *info_raw;                     /* last INFO text (INFO-CACHE) */
    int64_t info_raw_age_ms;
} monitor_view;

/* Fills v for the master of set, or one of its replicas; false when the
 * monitor does not (yet) watch it.  Pointers stay valid until the next
 * event-loop turn. */
bool monitor_master_view(const monitor *m, const char *set, monitor_view *v);
int monitor_replica_count(const monitor *m, const char *set);
bool monitor_replica_view(const monitor *m, const char *set, int i,
                          monitor_view *v);

/* The instance of set at addr (its master or one of its replicas). */
bool monitor_view_of(const monitor *m, const char *set, const config_addr *a,
                     monitor_view *v);

/* Sends a command on the instance's link (failover, reconfiguration):
 * 0 when queued, -1 when the link is not ready.  The reply is logged at
 * verbose level; callers confirm effects through later INFO replies. */
int monitor_send(monitor *m, const char *set, const config_addr *a, int argc,
                 const char **argv);
/* Asks for INFO now: promotion is confirmed by an immediate INFO, not the
 * next polling cycle.  At most every 100 ms per instance and not while one
 * is in flight, unless urgent (right after the promotion commands, so the
 * reply reflects them). */
void monitor_refresh_info(monitor *m, const char *set, const config_addr *a,
                          bool urgent);

bool monitor_tilt(const monitor *m);
int64_t monitor_tilt_since_ms(const monitor *m);    /* -1 when not in TILT */

#endif
