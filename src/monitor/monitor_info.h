/*
 * monitor_info.h -- the text of a Redis INFO reply turned into facts.
 *
 * Pure: no I/O, no clock, no allocation, no global state.  The parser reads
 * exactly text[0..len) (the bulk string as hiredis hands it over, NULs
 * allowed) and fills a fixed-size struct, so a hostile or broken instance
 * can make it neither crash, over-read nor allocate.
 *
 * Redis Sentinel's sentinelRefreshInstanceInfo() is the reference for which
 * keys matter; the rules are stricter than Sentinel's (exact values, range
 * checks) and every one of them is listed in docs/monitoring-info.md.
 * In short: lines end with LF (an optional CR before it is dropped), the last
 * line needs no terminator, '#' lines are section headers, the rest are
 * key:value split at the first ':'.  Unknown keys are ignored, a repeated
 * key's last line wins, and a value that breaks its field's rule leaves the
 * field at its default with the field's bit set in `malformed`.
 */
#ifndef MONITOR_INFO_H
#define MONITOR_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MI_RUN_ID_LEN 40    /* hex digits of a run id */
#define MI_HOST_MAX 255     /* bytes of a host name or IP (Redis: 255) */
#define MI_VERSION_MAX 31   /* bytes of redis_version */
#define MI_REPLICAS_MAX 256 /* slaveN lines kept; more are counted only */
#define MI_PRIORITY_DEFAULT 100

/* The role an instance reports (the monitor layer keeps it too). */
typedef enum monitor_role {
    MONITOR_ROLE_UNKNOWN = 0, /* no valid role line */
    MONITOR_ROLE_MASTER,
    MONITOR_ROLE_SLAVE
} monitor_role;

typedef enum mi_link {
    MI_LINK_UNKNOWN = 0, /* no valid master_link_status line */
    MI_LINK_UP,
    MI_LINK_DOWN
} mi_link;

/* state= of a replica line, as a master reports its replicas. */
typedef enum mi_repl_state {
    MI_REPL_STATE_NONE = 0, /* no state given */
    MI_REPL_STATE_WAIT_BGSAVE,
    MI_REPL_STATE_SEND_BULK,
    MI_REPL_STATE_ONLINE,
    MI_REPL_STATE_OTHER /* a state this parser does not know */
} mi_repl_state;

/* The recognized keys, for the `present` and `malformed` bit sets. */
typedef enum mi_field {
    MI_F_ROLE = 0,
    MI_F_RUN_ID,
    MI_F_REDIS_VERSION,
    MI_F_LOADING,
    MI_F_MASTER_HOST,
    MI_F_MASTER_PORT,
    MI_F_MASTER_LINK_STATUS,
    MI_F_MASTER_LINK_DOWN_SINCE,
    MI_F_SLAVE_REPL_OFFSET,
    MI_F_MASTER_REPL_OFFSET,
    MI_F_REPLICA_PRIORITY,  /* slave_priority or replica_priority */
    MI_F_REPLICA_ANNOUNCED,
    MI_F_COUNT
} mi_field;

#define MI_BIT(f) (UINT32_C(1) << (f))

/* One slaveN line of a master (or of a replica with replicas of its own). */
typedef struct monitor_info_replica {
    uint32_t slot;              /* N of slaveN */
    char ip[MI_HOST_MAX + 1];   /* NUL-terminated, validated characters */
    int port;                   /* 1..65535 */
    mi_repl_state state;
    int64_t offset;             /* replication offset; -1: not given */
    int64_t lag;                /* seconds; -1: not given (always, old form) */
    bool old_format;            /* slaveN:<ip>,<port>,<state> (Redis < 2.8) */
} monitor_info_replica;

/* Sizeable (~70 KiB, mostly the replica table): keep it in the instance
 * struct or on the heap, not on a small stack. */
typedef struct monitor_info {
    uint32_t present;    /* MI_BIT(field): a line for the field was seen */
    uint32_t malformed;  /* MI_BIT(field): its last line was invalid */

    monitor_role role;
    char run_id[MI_RUN_ID_LEN + 1];      /* lowercase hex, or "" */
    char redis_version[MI_VERSION_MAX + 1]; /* or "" */
    uint32_t version_num;   /* major << 16 | minor << 8 | patch, 0: unknown */
    bool loading;

    /* What a replica says about its master (meaningful when role is
     * MONITOR_ROLE_SLAVE; a master sends none of these lines). */
    char master_host[MI_HOST_MAX + 1];   /* or "" */
    int master_port;                     /* 0: absent */
    mi_link master_link_status;
    /* Seconds the link has been down: only sent while it is down; -1 when
     * absent, and Redis >= 7 also sends -1 for "never connected since
     * start" (check `present` to tell them apart). */
    int64_t master_link_down_since_seconds;
    int64_t slave_repl_offset;           /* 0 when absent */
    int replica_priority;                /* MI_PRIORITY_DEFAULT when absent */
    bool replica_announced;              /* true when absent */

    int64_t master_repl_offset;          /* 0 when absent */

    /* slaveN lines, in the order first seen; a repeated slaveN replaces its
     * entry in place. */
    int nreplicas;                  /* 0..MI_REPLICAS_MAX */
    monitor_info_replica replicas[MI_REPLICAS_MAX];
    unsigned replicas_dropped;   /* valid lines beyond MI_REPLICAS_MAX */
    unsigned replicas_rejected;  /* slaveN lines with no valid ip or port */
    unsigned bad_lines;          /* lines with a NUL byte or without ':' */
} monitor_info;

/* Every field at its default (as if INFO had none of the keys). */
void monitor_info_init(monitor_info *mi);

/* monitor_info_init(mi), then applies text[0..len) line by line.  text may
 * be NULL when len is 0.  Never fails: see the bit sets and counters for
 * what was found. */
void monitor_info_parse(const char *text, size_t len, monitor_info *mi);

/* "role", "run_id", ... (for MI_F_REPLICA_PRIORITY: "slave_priority");
 * "?" for anything else.  Static strings. */
const char *monitor_info_field_name(mi_field f);

/* "master", "slave", "unknown". */
const char *monitor_info_role_name(monitor_role r);

#endif
