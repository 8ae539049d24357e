/*
 * topo.h -- the replicated state machine: what every monitor agrees on.
 *
 * The monitored sets (name, current master, settings, config epoch, known
 * replicas), the monitors' admin addresses, and which [master] sections were
 * already seeded.  Changed only by applying committed log entries, in log
 * order, on every monitor: topo_apply() must be deterministic — it reads no
 * clock, no file, no configuration of the local process.
 *
 * Layering: knows neither Raft nor sockets; node.c feeds it committed
 * entries and turns the results into events.
 */
#ifndef TOPO_H
#define TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/buf.h"

#define TOPO_FORMAT_VERSION 1
#define TOPO_MAX_SETS CONFIG_MAX_MASTERS
#define TOPO_MAX_REPLICAS 256
#define TOPO_MAX_SET_PAIRS 16

typedef struct topo_replica {
    config_addr addr;
} topo_replica;

/* A failover as committed: started (the fence: no Redis command before),
 * switched (the new master is committed), then ended or aborted. */
typedef struct topo_failover {
    bool active;
    bool switched;
    bool manual;                /* SENTINEL FAILOVER asked for one */
    uint64_t epoch;             /* the Raft term of the leader that started it */
    config_addr chosen;         /* the replica being promoted */
    config_addr old_master;
    char reason[64];            /* "odown" | "manual" */
} topo_failover;

typedef struct topo_set {
    config_master m;            /* name, address = current master, settings */
    uint64_t config_epoch;
    bool odown;                 /* the leader's quorum judgement */
    topo_failover fo;
    uint64_t last_epoch;        /* newest epoch any attempt used */
    topo_replica *replicas;
    int nreplicas;
} topo_set;

typedef struct topo_member {
    char id[CONFIG_ID_MAX + 1];
    config_addr admin;          /* where clients reach that monitor */
} topo_member;

typedef struct topo {
    topo_set *sets;
    int nsets;
    topo_member *members;
    int nmembers;
    char (*seeded)[CONFIG_STR_MAX];   /* [master] names ever seeded */
    int nseeded;
} topo;

typedef enum topo_cmd_type {
    TOPO_CMD_MONITOR = 1,       /* add a set (SENTINEL MONITOR or a seed) */
    TOPO_CMD_REMOVE = 2,        /* SENTINEL REMOVE */
    TOPO_CMD_SET = 3,           /* SENTINEL SET name opt val [opt val ...] */
    TOPO_CMD_RESET = 4,         /* SENTINEL RESET pattern: forget replicas */
    TOPO_CMD_MEMBER = 5,        /* a monitor's admin address */
    TOPO_CMD_MEMBER_GONE = 6,   /* forget a removed monitor's address */
    TOPO_CMD_REPLICA = 7,       /* a replica discovered for a set */
    TOPO_CMD_ODOWN = 8,         /* quorum of sdown opinions gained / lost */
    TOPO_CMD_FAILOVER_REQUEST = 9,  /* SENTINEL FAILOVER: leader, please */
    TOPO_CMD_FAILOVER_START = 10,   /* epoch, chosen replica, reason */
    TOPO_CMD_SWITCH_MASTER = 11,    /* epoch, the promoted replica */
    TOPO_CMD_FAILOVER_END = 12,     /* epoch; flag = ended for timeout */
    TOPO_CMD_FAILOVER_ABORT = 13    /* epoch, reason */
} topo_cmd_type;

typedef struct topo_pair {
    char opt[CONFIG_STR_MAX];
    char val[CONFIG_STR_MAX];
} topo_pair;

typedef struct topo_cmd {
    uint8_t type;               /* topo_cmd_type */
    bool seed;                  /* MONITOR from a [master] section */
    config_master m;            /* MONITOR: everything; others: m.name
                                   (RESET: the pattern; REPLICA: address) */
    topo_pair pairs[TOPO_MAX_SET_PAIRS];
    int npairs;
    topo_member member;         /* MEMBER, MEMBER_GONE */
    bool flag;                  /* ODOWN: gained (true) or lost */
    uint32_t votes;             /* ODOWN: monitors that reported sdown */
    uint64_t epoch;             /* FAILOVER_*, SWITCH_MASTER */
    config_addr addr;           /* FAILOVER_START: chosen; SWITCH: new */
    char reason[64];            /* FAILOVER_START, FAILOVER_ABORT */
} topo_cmd;

#define TOPO_MAX_EVENTS 8

typedef struct topo_event {
    char name[40];              /* "+switch-master" */
    char msg[512];              /* Sentinel's message text */
} topo_event;

/* The outcome of applying one entry: Sentinel's error text for the client
 * that asked, and the events every monitor emits when it applies it. */
typedef struct topo_result {
    bool ok;
    char error[256];            /* "-ERR ..." reply when !ok */
    topo_event ev[TOPO_MAX_EVENTS];
    int nev;
    int matched;                /* RESET: sets reset */
} topo_result;

void topo_init(topo *t);
void topo_free(topo *t);

void topo_cmd_encode(const topo_cmd *c, buf *out);
/* Returns 0, or -1 when the bytes are not a valid command. */
int topo_cmd_decode(const uint8_t *data, size_t len, topo_cmd *c);

/* Applies one committed command.  Deterministic; invalid commands change
 * nothing and report why in res. */
void topo_apply(topo *t, const uint8_t *data, size_t len, topo_result *res);

/* Validates a SENTINEL SET option/value list against the schema without
 * applying it (the proposer answers errors fast; apply checks again). */
bool topo_check_pairs(const topo_pair *pairs, int n, char *err, size_t len);

void topo_snapshot(const topo *t, buf *out);
/* Replaces t with the snapshot's state; -1 (t untouched) when invalid. */
int topo_restore(topo *t, const uint8_t *data, size_t len);

topo_set *topo_find(const topo *t, const char *name);
const topo_member *topo_find_member(const topo *t, const char *id);
bool topo_was_seeded(const topo *t, const char *name);

#endif
