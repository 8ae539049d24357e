/*
 * failover.h -- the leader's failover driver.
 *
 * Decision logic only: what to commit, which instance to send what, which
 * events to announce.  It reaches Redis and the log through the callbacks
 * of failover_env (main.c wires them to the monitor and the node), so it
 * knows no sockets and no Raft internals.  The replicated record it acts on
 * is the topology's topo_failover: the leader of epoch E commits
 * failover-start (E, chosen replica) before any Redis command, re-checks
 * that it still leads term E before each promotion command, and commits
 * switch-master once the replica reports role:master.  A later leader
 * completes a promoted attempt or aborts an unpromoted one and starts a
 * new attempt under its own term: never two attempts in one epoch.
 */
#ifndef FAILOVER_H
#define FAILOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "monitor/monitor.h"
#include "node/topo.h"

typedef struct failover_env {
    const topo *(*topo)(void *ctx);
    /* The current term when this monitor is leader and has committed an
     * entry of that term; 0 otherwise. */
    uint64_t (*leader_term)(void *ctx);
    bool (*tilt)(void *ctx);
    void (*propose)(void *ctx, const topo_cmd *c);
    bool (*view)(void *ctx, const char *set, const config_addr *a,
                 monitor_view *v);
    int (*send)(void *ctx, const char *set, const config_addr *a, int argc,
                const char **argv);
    void (*refresh)(void *ctx, const char *set, const config_addr *a,
                    bool urgent);
    /* Hand leadership to another voter: the only way to a new term (and
     * so a new epoch) after an attempt of this term failed. */
    void (*step_aside)(void *ctx);
    void (*emit)(void *ctx, const char *event, const char *set,
                 const char *msg);
    void *ctx;
} failover_env;

typedef struct failover failover;

failover *failover_new(const failover_env *env);
void failover_free(failover *f);

/* Called every ~10 ms. */
void failover_tick(failover *f, uint64_t now_ms);

/* Why the last selection for set found no replica, one line per replica
 * ("" when none failed); for SENTINEL MASTER and the log. */
const char *failover_last_reasons(const failover *f, const char *set);

/* SENTINEL FAILOVER's check, with the monitor's own views: the index of a
 * replica that would be chosen, or -1 (reasons written to why). */
int failover_pick(const failover *f, const char *set, config_addr *chosen,
                  char *why, size_t len);

/* SENTINEL SIMULATE-FAILURE, as Sentinel: crash this process right after
 * winning a failover (its failover-start committed) or right after the
 * promotion was confirmed, so tests can prove a new leader finishes. */
#define FAILOVER_SIM_CRASH_AFTER_ELECTION 0x1u
#define FAILOVER_SIM_CRASH_AFTER_PROMOTION 0x2u
void failover_simulate(failover *f, unsigned flags);

#endif
