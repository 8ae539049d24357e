/*
 * cmd.h -- the admin port's SENTINEL, RAFT, INFO and ROLE commands: the
 * rows of the command table that read or change the replicated state.
 * Generic commands (PING, AUTH, CLIENT, SUBSCRIBE ...) live in admin/.
 */
#ifndef CMD_H
#define CMD_H

#include <stdint.h>

#include "admin/admin.h"
#include "config/config.h"
#include "events/scripts.h"
#include "failover/failover.h"
#include "monitor/monitor.h"
#include "node/node.h"

typedef struct cmd_ctx {
    node *n;
    monitor *mon;
    scripts *scripts;
    failover *fo;
    const config *cfg;
    admin_server *admin;
    uint64_t started_ms;        /* monotonic, for uptime */
    long long started_unix;
} cmd_ctx;

/* Registers every table below on the server. */
int cmd_register(admin_server *s, cmd_ctx *ctx);

/* Shared helpers for the command files. */
void cmd_write_done(void *arg, const topo_result *res);
/* -NOQUORUM when stale_reads = no and this monitor is cut off; returns
 * false after replying. */
bool cmd_readable(admin_client *c, const cmd_ctx *x);

extern const admin_command cmd_sentinel_table[];
extern const size_t cmd_sentinel_n;
extern const admin_command cmd_raft_table[];
extern const size_t cmd_raft_n;
extern const admin_command cmd_info_table[];
extern const size_t cmd_info_n;

#endif
