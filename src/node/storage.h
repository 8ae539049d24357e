/*
 * storage.h -- the durable Raft state of one monitor, in one data directory.
 *
 * What lives in data_dir (docs/storage.md has the byte layout and the
 * recovery rules):
 *
 *     LOCK                       flock'd while a process has the dir open
 *     hardstate                  term, vote, commit (+ the sync watermark)
 *     snapshot-<index>.snap      newest snapshot: index, term, opaque blob
 *     log-<first index>.seg      append-only log segments, CRC32C per record
 *
 * Usage with the core's ready batches (persist -> fsync -> send -> apply):
 *
 *     if (rd.snapshot)       storage_install_snapshot(...)   durable on return
 *     if (rd.truncate_from)  storage_truncate_from(s, rd.truncate_from)
 *     storage_append(s, rd.entries, rd.n_entries)
 *     if (rd.has_hard_state) storage_set_hard_state(s, &rd.hard_state)
 *     storage_sync(s)        -- only now may rd.msgs be sent
 *
 * Every function returns 0 on success or -1 with a message that names the
 * file and byte offset involved (storage_open: in err; the others:
 * storage_error()).  An I/O failure *poisons* the handle: after a failed
 * write or fsync the kernel's view of the file can no longer be trusted
 * (a retried fsync may report success for data that was dropped), so every
 * later call fails too and the process must restart, which re-reads the
 * disk.  Argument errors (a non-consecutive index, a second vote in one
 * term, ...) are caller bugs; they change nothing and poison nothing.
 *
 * A handle is not thread-safe; one thread (the node's event loop) uses it.
 */
#ifndef STORAGE_H
#define STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/raft_types.h"

typedef struct storage storage;

/* Roll to a new segment once the current one would grow past this. */
#define STORAGE_DEFAULT_SEGMENT_BYTES (16u * 1024 * 1024)
/* Largest entry payload accepted (entries are topology commands: bytes to a
 * few KiB; the bound keeps a corrupted length from looking plausible). */
#define STORAGE_MAX_ENTRY_BYTES (64u * 1024 * 1024)

typedef struct storage_opts {
    uint64_t segment_bytes;             /* 0 = STORAGE_DEFAULT_SEGMENT_BYTES */
} storage_opts;

/*
 * What storage_open found on disk.  Everything in here is owned by the
 * struct and released by storage_loaded_free(), independently of the
 * storage handle (close either first):
 *   - entries[i].data points *into* buffers held by this struct (no copy per
 *     entry); it is NULL when len == 0.  Never free() it; copy what must
 *     outlive storage_loaded_free().  raft_restore() deep-copies.
 *   - snap_data is NULL when has_snapshot is false or the blob is empty.
 */
typedef struct storage_loaded {
    raft_hard_state hard_state;         /* all zero when none was stored */
    bool has_snapshot;
    uint64_t snap_index;                /* 0 without a snapshot */
    uint64_t snap_term;
    uint8_t *snap_data;
    size_t snap_len;
    raft_entry *entries;                /* consecutive, from snap_index + 1 */
    size_t n_entries;

    /* private: the buffers entries[].data point into */
    uint8_t **bufs;
    size_t n_bufs;
} storage_loaded;

/* Counters for benchmarks and INFO-style reporting; monotonic. */
typedef struct storage_stats {
    uint64_t fsyncs;                    /* fsync+fdatasync: files and dir */
    uint64_t bytes_written;             /* records, headers, hard state, snaps */
    uint64_t entries_appended;
    uint64_t syncs;                     /* storage_sync calls */
    uint64_t hard_state_writes;
    uint64_t snapshot_writes;
    uint64_t segments_created;
    uint64_t segments_removed;
} storage_stats;

/*
 * Opens (creating if missing) data_dir, takes its lock, removes leftover
 * temp files, verifies and loads everything, and repairs what a crash can
 * legitimately leave behind (a torn tail of never-acknowledged records).
 * Anything else that is damaged or missing is a hard error: nothing is
 * loaded, nothing is changed, and err names the file and byte offset.
 * opts may be NULL.  On success *out and *loaded are filled; on failure
 * *out is NULL and *loaded is empty (storage_loaded_free is still safe).
 */
int storage_open(const char *data_dir, const storage_opts *opts,
                 storage **out, storage_loaded *loaded, char *err,
                 size_t errlen);

void storage_loaded_free(storage_loaded *l);

/* Buffers entries[0..n) for the log; entries[0].index must be
 * storage_last_index() + 1 and the rest consecutive.  The data is copied:
 * the caller keeps ownership of entries.  Not durable until storage_sync. */
int storage_append(storage *s, const raft_entry *entries, size_t n);

/* Deletes entries >= index (a log conflict); may span segments.  index
 * beyond the last entry is a no-op; index at or below the snapshot or the
 * commit index is refused (committed entries are never rewritten).  The
 * cut itself is durable at the next storage_sync; when it reaches entries
 * already synced, it first records that durably (hard state rewrite, and
 * a directory fsync per deleted segment) so a crash halfway is never
 * mistaken for lost entries. */
int storage_truncate_from(storage *s, uint64_t index);

/* Remembers hs for the next storage_sync.  Refused: an unterminated vote,
 * a term lower than the stored one, a different vote in the same term. */
int storage_set_hard_state(storage *s, const raft_hard_state *hs);

/* Makes every append, truncation and hard state so far durable: one
 * fdatasync of the current segment, then the hard state file (written
 * atomically) if anything changed.  Returns only when all of it is on disk;
 * then the batch's messages may be sent. */
int storage_sync(storage *s);

/* A snapshot this node took of its own applied state (index <= commit,
 * within the log).  Durable on return; then segments holding only entries
 * <= index are deleted and those entries are never loaded again.  Entries
 * after index are kept. */
int storage_save_snapshot(storage *s, uint64_t index, uint64_t term,
                          const void *blob, size_t len);

/* A snapshot received from the leader (ready.snapshot): durable on return,
 * and it replaces the whole log; the next append is index + 1. */
int storage_install_snapshot(storage *s, uint64_t index, uint64_t term,
                             const void *blob, size_t len);

/* Releases the handle and the lock.  Does NOT sync: appends not yet synced
 * are handed to write(2) but may or may not survive, exactly as after a
 * crash (they are never acknowledged, so either outcome is safe).  NULL ok. */
void storage_close(storage *s);

/* The last error message ("" if none). */
const char *storage_error(const storage *s);

/* First index the log can return (snapshot index + 1). */
uint64_t storage_first_index(const storage *s);
/* Last index known: the newest appended entry, or the snapshot index. */
uint64_t storage_last_index(const storage *s);
uint64_t storage_snapshot_index(const storage *s);
void storage_get_stats(const storage *s, storage_stats *out);

#endif
