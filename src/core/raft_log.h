/*
 * raft_log.h -- the in-memory Raft log.
 *
 * Holds every entry after the snapshot index (the runtime's disk holds the
 * same entries; after a restart raft_restore hands them back).  It also
 * tracks which entries are durable (`stable`) and which durable suffix has
 * to be deleted (`trunc_from`), because the ready batch must tell the
 * runtime exactly that.
 */
#ifndef RAFT_LOG_H
#define RAFT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/raft_types.h"

typedef struct raft_log {
    uint64_t snap_index;        /* entries <= snap_index were compacted */
    uint64_t snap_term;
    raft_entry *ents;           /* ents[k].index == snap_index + 1 + k */
    size_t n;
    size_t cap;
    uint64_t stable;            /* entries <= stable are durable */
    uint64_t trunc_from;        /* durable entries >= this must go; 0 none */
    uint64_t commit;
    uint64_t applied;
} raft_log;

void raft_log_init(raft_log *l);
void raft_log_free(raft_log *l);

static inline uint64_t
raft_log_last_index(const raft_log *l)
{
    return l->snap_index + l->n;
}

uint64_t raft_log_last_term(const raft_log *l);

/* RAFT_OK (index 0 has term 0), RAFT_ECOMPACTED or RAFT_ENOTFOUND. */
int raft_log_term(const raft_log *l, uint64_t index, uint64_t *term);

/* True when the log holds `index` with exactly `term` (or it is the
 * snapshot's last entry). */
bool raft_log_match(const raft_log *l, uint64_t index, uint64_t term);

/* The entry at index, or NULL if compacted or beyond the end. */
const raft_entry *raft_log_get(const raft_log *l, uint64_t index);

/* Appends a deep copy of e; e->index must be last + 1. */
void raft_log_append(raft_log *l, const raft_entry *e);

/* Deletes entries >= index (snap_index < index <= last + 1).  Durable ones
 * are recorded in trunc_from so the runtime deletes them too. */
void raft_log_truncate(raft_log *l, uint64_t index);

/* Drops entries <= index (snap_index < index <= last).  Used after the app
 * took a snapshot at index. */
void raft_log_compact(raft_log *l, uint64_t index);

/* Throws the whole log away for an installed snapshot at index/term; the
 * snapshot itself is now what is (about to be) durable. */
void raft_log_reset(raft_log *l, uint64_t index, uint64_t term);

/* Largest i <= index whose term is <= term; stops at the snapshot (the
 * terms below it are unknown).  Drives fast backtracking. */
uint64_t raft_log_conflict_by_term(const raft_log *l, uint64_t index,
                                   uint64_t term);

/* Raises commit to index (never lowers it). */
void raft_log_commit_to(raft_log *l, uint64_t index);

/* Frees one entry's payload. */
void raft_entry_release(raft_entry *e);
/* Deep copy of src into dst. */
void raft_entry_copy(raft_entry *dst, const raft_entry *src);

/* Allocation that aborts on exhaustion: a consensus node that silently
 * loses a state change is worse than one that stops (see docs/raft.md). */
void *raft_xmalloc(size_t n);
void *raft_xcalloc(size_t n, size_t size);
void *raft_xrealloc(void *p, size_t n);

#endif
