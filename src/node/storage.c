/*
 * storage.c -- opening and closing a data directory, the hard state and
 * snapshots.  The log segments are in storage_log.c, recovery in
 * storage_recover.c, the on-disk layouts in storage_internal.h.
 */
#include "node/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/storage_internal.h"
#include "util/log.h"

/* ---- open / close ------------------------------------------------------ */

/* A freshly created directory must itself be durable before anything in it
 * counts as durable: fsync its parent. */
static int
sync_parent(storage *s)
{
    char *copy = strdup(s->dir);
    if (copy == NULL) {
        storage_seterr(s, "out of memory");
        return -1;
    }
    const char *parent = dirname(copy);
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 ? fsync(fd) : -1;
    if (rc < 0)
        storage_seterr(s, "fsync %s (parent of the new data directory): %s",
                       parent, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(copy);
    s->st.fsyncs++;
    return rc;
}

static int
open_dir(storage *s)
{
    if (mkdir(s->dir, 0700) == 0) {
        log_notice("storage: created data directory %s", s->dir);
        if (sync_parent(s) < 0)
            return -1;
    } else if (errno != EEXIST) {
        storage_seterr(s, "create data directory %s: %s", s->dir,
                       strerror(errno));
        return -1;
    }
    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        storage_seterr(s, "open data directory %s: %s", s->dir,
                       strerror(errno));
        return -1;
    }
    return 0;
}

static void
lock_busy(storage *s)
{
    char pid[32] = "";
    ssize_t r = pread(s->lockfd, pid, sizeof(pid) - 1, 0);
    if (r > 0) {
        pid[r] = '\0';
        pid[strcspn(pid, "\r\n")] = '\0';
    }
    storage_seterr(s,
                   "data directory %s is in use: %s/%s is locked by "
                   "another process%s%s%s",
                   s->dir, s->dir, STORAGE_LOCK_NAME, *pid ? " (pid " : "",
                   pid, *pid ? ")" : "");
}

/* flock, not fcntl locks: those are per process, so a second open in the
 * same process would silently "succeed".  O_CLOEXEC everywhere keeps the
 * lock from leaking into notification scripts we spawn. */
static int
lock_dir(storage *s)
{
    s->lockfd = openat(s->dirfd, STORAGE_LOCK_NAME,
                       O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lockfd < 0) {
        storage_seterr(s, "open %s/%s: %s", s->dir, STORAGE_LOCK_NAME,
                       strerror(errno));
        return -1;
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            lock_busy(s);
        else
            storage_seterr(s, "lock %s/%s: %s", s->dir, STORAGE_LOCK_NAME,
                           strerror(errno));
        return -1;
    }
    /* The pid is for the operator's error message only; the flock is the
     * lock, so a stale pid in the file is harmless. */
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(s->lockfd, 0) < 0 ||
        storage_pwrite_all(s->lockfd, pid, (size_t)n, 0) < 0)
        log_warning("storage: cannot write pid to %s/%s: %s", s->dir,
                    STORAGE_LOCK_NAME, strerror(errno));
    return 0;
}

int
storage_open(const char *data_dir, const storage_opts *opts, storage **out,
             storage_loaded *loaded, char *err, size_t errlen)
{
    *out = NULL;
    memset(loaded, 0, sizeof(*loaded));
    storage *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->dirfd = s->lockfd = s->tailfd = -1;
    s->seg_bytes = opts && opts->segment_bytes ? opts->segment_bytes
                                               : STORAGE_DEFAULT_SEGMENT_BYTES;
    s->dir = strdup(data_dir);
    if (s->dir == NULL)
        storage_seterr(s, "out of memory");
    /* "dir/" would make every message say "dir//file" */
    for (size_t n = s->dir ? strlen(s->dir) : 0; n > 1 && s->dir[n - 1] == '/';)
        s->dir[--n] = '\0';
    if (s->dir == NULL || open_dir(s) < 0 || lock_dir(s) < 0 ||
        storage_recover(s, loaded) < 0) {
        snprintf(err, errlen, "%s", s->err);
        storage_loaded_free(loaded);
        s->failed = true;               /* close must not write anything */
        storage_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void
storage_close(storage *s)
{
    if (s == NULL)
        return;
    if (!s->failed)
        (void)storage_flush(s);
    if (s->tailfd >= 0)
        close(s->tailfd);
    if (s->dirfd >= 0)
        close(s->dirfd);
    if (s->lockfd >= 0)
        close(s->lockfd);              /* releases the flock */
    for (size_t i = 0; i < s->nsegs; i++)
        free(s->segs[i].offs);
    free(s->segs);
    free(s->wbuf);
    free(s->dir);
    free(s);
}

void
storage_loaded_free(storage_loaded *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n_bufs; i++)
        free(l->bufs[i]);
    free(l->bufs);
    free(l->entries);
    memset(l, 0, sizeof(*l));
}

/* ---- accessors --------------------------------------------------------- */

const char *
storage_error(const storage *s)
{
    return s->err;
}

uint64_t
storage_first_index(const storage *s)
{
    return s->snap_index + 1;
}

uint64_t
storage_last_index(const storage *s)
{
    if (s->nsegs == 0)
        return s->snap_index;
    uint64_t last = storage_seg_last(&s->segs[s->nsegs - 1]);
    return last > s->snap_index ? last : s->snap_index;
}

uint64_t
storage_snapshot_index(const storage *s)
{
    return s->snap_index;
}

void
storage_get_stats(const storage *s, storage_stats *out)
{
    *out = s->st;
}

/* ---- hard state -------------------------------------------------------- */

/* These checks are the last line of defence for Raft's own invariants: a
 * term never goes back, and one term never holds two different votes. */
int
storage_set_hard_state(storage *s, const raft_hard_state *hs)
{
    if (s->failed)
        return -1;
    const raft_hard_state *cur = s->hs_next_set ? &s->hs_next : &s->hs;
    if (memchr(hs->vote.s, '\0', sizeof(hs->vote.s)) == NULL) {
        storage_seterr(s, "set_hard_state: vote is not NUL-terminated");
        return -1;
    }
    if (hs->term < cur->term) {
        storage_seterr(s,
                       "set_hard_state: term would go back from %" PRIu64
                       " to %" PRIu64,
                       cur->term, hs->term);
        return -1;
    }
    if (hs->term == cur->term && cur->vote.s[0] != '\0' &&
        strcmp(cur->vote.s, hs->vote.s) != 0) {
        storage_seterr(s,
                       "set_hard_state: vote for '%s' in term %" PRIu64
                       ", which already has a vote for '%s'",
                       hs->vote.s, hs->term, cur->vote.s);
        return -1;
    }
    s->hs_next = *hs;
    s->hs_next_set = true;
    return 0;
}

/* ---- snapshots --------------------------------------------------------- */

static int
check_snap_args(storage *s, uint64_t index, const void *blob, size_t len)
{
    if (index == 0 || (len > 0 && blob == NULL)) {
        storage_seterr(s, "snapshot: index 0 or missing blob");
        return -1;
    }
    if (s->has_snap && index <= s->snap_index) {
        storage_seterr(s,
                       "snapshot at %" PRIu64
                       " is not newer than the stored one at %" PRIu64,
                       index, s->snap_index);
        return -1;
    }
    return 0;
}

/* The new file is durable (renamed, dir fsync'd) before the old one goes,
 * so some valid snapshot exists at every instant. */
static int
write_snapshot(storage *s, uint64_t index, uint64_t term, const void *blob,
               size_t len)
{
    uint8_t hdr[STORAGE_SNAP_HDR];
    char name[STORAGE_NAME_MAX];
    storage_encode_snap_hdr(hdr, index, term, blob, len);
    storage_snap_name(name, index);
    if (storage_write_atomic(s, name, hdr, sizeof(hdr), blob, len) < 0)
        return -1;
    s->st.snapshot_writes++;
    if (s->has_snap) {
        char old[STORAGE_NAME_MAX];
        storage_snap_name(old, s->snap_index);
        /* a leftover old snapshot is removed again by storage_open */
        if (unlinkat(s->dirfd, old, 0) < 0 && errno != ENOENT)
            log_warning("storage: cannot remove %s/%s: %s", s->dir, old,
                        strerror(errno));
    }
    s->has_snap = true;
    s->snap_index = index;
    s->snap_term = term;
    log_verbose("storage: snapshot %s/%s (term %" PRIu64 ", %zu bytes)",
                s->dir, name, term, len);
    return 0;
}

int
storage_save_snapshot(storage *s, uint64_t index, uint64_t term,
                      const void *blob, size_t len)
{
    if (s->failed || check_snap_args(s, index, blob, len) < 0)
        return -1;
    if (index > storage_last_index(s) || index > storage_known_commit(s)) {
        storage_seterr(s,
                       "save_snapshot: index %" PRIu64
                       " is beyond the log (%" PRIu64 ") or the commit "
                       "index (%" PRIu64 "); a leader's snapshot goes "
                       "through storage_install_snapshot",
                       index, storage_last_index(s), storage_known_commit(s));
        return -1;
    }
    if (write_snapshot(s, index, term, blob, len) < 0)
        return -1;
    /* Compaction: whole segments only, oldest first, never the tail (it is
     * still being appended to; it goes after a later roll).  No fsync: a
     * segment that survives a crash is covered by the snapshot and
     * storage_open deletes it again. */
    while (s->nsegs > 1 && s->segs[1].first <= index + 1)
        if (storage_seg_remove(s, 0, false) < 0)
            return -1;
    return 0;
}

int
storage_install_snapshot(storage *s, uint64_t index, uint64_t term,
                         const void *blob, size_t len)
{
    if (s->failed || check_snap_args(s, index, blob, len) < 0)
        return -1;
    if (index < storage_known_commit(s)) {
        storage_seterr(s,
                       "install_snapshot: index %" PRIu64
                       " is below the commit index %" PRIu64
                       "; replacing the log would lose committed entries",
                       index, storage_known_commit(s));
        return -1;
    }
    s->wlen = 0;                        /* the old log is going anyway */
    if (write_snapshot(s, index, term, blob, len) < 0)
        return -1;
    /* Entries after index may have been acknowledged; they are about to be
     * deleted (they conflict with the leader's committed snapshot), so
     * lower the watermark durably first, as truncate_from does. */
    if (s->synced > index && storage_write_hs(s, &s->hs, index) < 0)
        return -1;
    /* Newest first, each removal durable before the next: a crash leaves a
     * prefix of the old log, which recovery recognises as superseded by
     * the snapshot (docs/storage.md, "interrupted install"). */
    while (s->nsegs > 0)
        if (storage_seg_remove(s, s->nsegs - 1, true) < 0)
            return -1;
    return 0;
}
