/*
 * monitor_internal.h -- state of the Redis watcher, shared by monitor.c
 * (lifecycle, sync with the topology, TILT, views) and monitor_probe.c
 * (PING/INFO scheduling, replies, sdown).
 */
#ifndef MONITOR_INTERNAL_H
#define MONITOR_INTERNAL_H

#include <event2/event.h>

#include "monitor/monitor.h"
#include "monitor/monitor_link.h"

#define MON_TICK_MS 25
#define MON_INFO_PERIOD_MS 10000
#define MON_INFO_FAST_MS 1000
#define MON_TILT_TRIGGER_MS 2000
#define MON_TILT_PERIOD_MS 30000
#define MON_DISCOVER_RETRY_MS 5000

struct mset;

typedef struct inst {
    monitor *mon;
    struct mset *set;
    monitor_kind kind;
    config_addr addr;
    mlink *link;
    char auth_user[CONFIG_STR_MAX];  /* what the link was made with */
    char auth_pass[CONFIG_STR_MAX];
    char runid[48];
    monitor_facts info;
    bool has_info;
    char *info_raw;
    uint64_t info_at;           /* last INFO reply, 0 = never */
    bool info_pending;
    uint64_t info_sent_at;
    uint64_t act_ping_at;       /* oldest unanswered PING (0 = none) */
    bool ping_pending;
    uint64_t last_ping_at;      /* last PING sent */
    uint64_t last_ok_at;        /* last valid reply (PONG/LOADING/MASTERDOWN) */
    uint64_t last_reply_at;     /* last reply of any kind */
    uint64_t created_at;
    bool sdown;
    uint64_t sdown_at;
    bool script_kill_sent;
    int role;                   /* MONITOR_ROLE_* last reported */
    uint64_t role_at;
    bool auth_logged;
    bool seen;                  /* mark for sync's sweep */
} inst;

typedef struct discovered {
    config_addr addr;
    uint64_t at;
} discovered;

typedef struct mset {
    char name[CONFIG_STR_MAX];
    inst *master;
    inst **replicas;
    int nreplicas;
    discovered *disc;           /* replicas reported, awaiting commit */
    int ndisc;
    bool seen;
} mset;

struct monitor {
    monitor_options o;
    struct event *tick_ev;
    mset **sets;
    int nsets;
    uint64_t last_tick_at;
    bool tilt;
    uint64_t tilt_at;
    uint64_t seq;               /* jitter source for link seeds */
};

uint64_t monitor_now(void);

/* monitor_probe.c */
void probe_instance(inst *i, uint64_t now);
void probe_info_now(inst *i, bool urgent);
void probe_link_ready(void *ctx);
void probe_link_down(void *ctx, const char *reason);
int probe_ping_period(const inst *i);

/* monitor.c */
const topo_set *monitor_topo_set(const monitor *m, const char *name);

#endif
