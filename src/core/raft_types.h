/*
 * raft_types.h -- plain data shared by the Raft core, its codec, durable
 * storage and the simulator.  No behaviour lives here; this header exists so
 * that storage (node layer) and the core agree on what an entry and the
 * persisted hard state are without storage depending on the core's logic.
 */
#ifndef RAFT_TYPES_H
#define RAFT_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Node ids are the operator's names from the config ([A-Za-z0-9_.-]{1,64}).
 * Keeping them as strings (not numbers) means logs, RAFT STATUS and the wire
 * all speak the same name the operator wrote. */
#define RAFT_ID_MAX 64
typedef struct raft_id {
    char s[RAFT_ID_MAX + 1];            /* NUL-terminated; "" = none */
} raft_id;

typedef enum raft_entry_type {
    RAFT_ENTRY_NOOP = 0,                /* appended by every new leader */
    RAFT_ENTRY_NORMAL = 1,              /* application command (opaque) */
    RAFT_ENTRY_CONF = 2                 /* membership change, see raft.h */
} raft_entry_type;

typedef struct raft_entry {
    uint64_t term;
    uint64_t index;
    uint8_t type;                       /* raft_entry_type */
    uint32_t len;                       /* bytes in data */
    uint8_t *data;                      /* owned by whoever holds the entry */
} raft_entry;

/* What must be durable before any message that depends on it is sent. */
typedef struct raft_hard_state {
    uint64_t term;
    raft_id vote;                       /* "" = voted for nobody this term */
    uint64_t commit;
} raft_hard_state;

#endif
