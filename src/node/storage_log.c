/*
 * storage_log.c -- the log segments of a running node: buffered appends,
 * rolling to a new segment, and deleting suffixes (truncation) or whole
 * segments.
 *
 * The crash-ordering rules these functions keep (docs/storage.md explains
 * why recovery depends on each):
 *   - a segment file appears under its final name only with a complete,
 *     durable header (created as *.tmp, fdatasync, rename);
 *   - a new segment is created only after the previous one is durable, so
 *     only the newest segment can ever end in a torn write;
 *   - suffix deletions remove the newest segment first and make each
 *     removal durable before the next step, so a crash leaves the log a
 *     prefix of what it was, never a log with a hole in it.
 */
#include "node/storage_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

uint64_t
storage_seg_last(const storage_seg *g)
{
    return g->first + g->n - 1;
}

int
storage_seg_push_off(storage_seg *g, uint64_t off)
{
    if (g->n == g->cap) {
        uint64_t cap = g->cap ? g->cap * 2 : 256;
        uint64_t *p = realloc(g->offs, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        g->offs = p;
        g->cap = cap;
    }
    g->offs[g->n++] = off;
    return 0;
}

storage_seg *
storage_seg_add(storage *s, uint64_t first)
{
    if (s->nsegs == s->segcap) {
        size_t cap = s->segcap ? s->segcap * 2 : 8;
        storage_seg *p = realloc(s->segs, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        s->segs = p;
        s->segcap = cap;
    }
    storage_seg *g = &s->segs[s->nsegs++];
    memset(g, 0, sizeof(*g));
    g->first = first;
    g->size = STORAGE_SEG_HDR;
    return g;
}

static storage_seg *
tail(storage *s)
{
    return s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
}

static int
tail_open(storage *s)
{
    if (s->tailfd >= 0)
        return 0;
    char name[STORAGE_NAME_MAX];
    storage_seg_name(name, tail(s)->first);
    s->tailfd = openat(s->dirfd, name, O_WRONLY | O_CLOEXEC);
    if (s->tailfd >= 0)
        return 0;
    storage_fail(s, "open %s/%s: %s", s->dir, name, strerror(errno));
    return -1;
}

int
storage_flush(storage *s)
{
    if (s->wlen == 0)
        return 0;
    storage_seg *t = tail(s);
    if (tail_open(s) < 0)
        return -1;
    if (storage_pwrite_all(s->tailfd, s->wbuf, s->wlen, t->size - s->wlen) <
        0) {
        char name[STORAGE_NAME_MAX];
        storage_seg_name(name, t->first);
        storage_fail(s, "write %s/%s at offset %" PRIu64 ": %s", s->dir,
                     name, t->size - s->wlen, strerror(errno));
        return -1;
    }
    s->st.bytes_written += s->wlen;
    s->wlen = 0;
    return 0;
}

static int
tail_sync(storage *s)
{
    if (!s->tail_dirty)
        return 0;
    char name[STORAGE_NAME_MAX];
    storage_seg_name(name, tail(s)->first);
    if (storage_datasync(s, s->tailfd, name) < 0)
        return -1;
    s->tail_dirty = false;
    return 0;
}

/* Creates log-<first>.seg with a durable header and makes it the tail. */
static int
seg_create(storage *s, uint64_t first)
{
    char name[STORAGE_NAME_MAX], tmp[STORAGE_NAME_MAX + 8];
    storage_seg_name(name, first);
    snprintf(tmp, sizeof(tmp), "%s%s", name, STORAGE_TMP_SUFFIX);
    uint8_t hdr[STORAGE_SEG_HDR];
    storage_encode_seg_hdr(hdr, first);

    int fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0644);
    if (fd < 0) {
        storage_fail(s, "create %s/%s: %s", s->dir, tmp, strerror(errno));
        return -1;
    }
    if (storage_pwrite_all(fd, hdr, sizeof(hdr), 0) < 0) {
        storage_fail(s, "write %s/%s: %s", s->dir, tmp, strerror(errno));
        close(fd);
        return -1;
    }
    s->st.bytes_written += sizeof(hdr);
    if (storage_datasync(s, fd, tmp) < 0) {
        close(fd);
        return -1;
    }
    if (renameat(s->dirfd, tmp, s->dirfd, name) < 0) {
        storage_fail(s, "rename %s/%s: %s", s->dir, tmp, strerror(errno));
        close(fd);
        return -1;
    }
    if (storage_seg_add(s, first) == NULL) {
        storage_fail(s, "out of memory");
        close(fd);
        return -1;
    }
    /* The rename becomes durable with the dir fsync of the next sync,
     * before that sync writes a hard state that counts these entries. */
    s->dir_dirty = true;
    s->tailfd = fd;
    s->st.segments_created++;
    log_verbose("storage: started segment %s/%s", s->dir, name);
    return 0;
}

/* The old tail is made durable *before* the new segment exists: recovery
 * forgives a torn write only at the end of the newest segment. */
static int
roll(storage *s, uint64_t first)
{
    if (s->tailfd >= 0) {
        if (storage_flush(s) < 0 || tail_sync(s) < 0)
            return -1;
        close(s->tailfd);
        s->tailfd = -1;
    }
    /* A batch spanning several rolls: the previous new name must be
     * durable before the next, or a crash could keep only the later one
     * and leave a hole. */
    if (s->dir_dirty && storage_dirsync(s) < 0)
        return -1;
    return seg_create(s, first);
}

static int
wbuf_reserve(storage *s, size_t need)
{
    if (s->wlen + need <= s->wcap)
        return 0;
    size_t cap = s->wcap ? s->wcap : 64 * 1024;
    while (cap < s->wlen + need)
        cap *= 2;
    uint8_t *p = realloc(s->wbuf, cap);
    if (p == NULL) {
        storage_fail(s, "out of memory buffering %zu bytes", need);
        return -1;
    }
    s->wbuf = p;
    s->wcap = cap;
    return 0;
}

static void
encode_record(uint8_t *p, const raft_entry *e)
{
    uint32_t plen = STORAGE_REC_FIXED + e->len;
    storage_put_u32(p, plen);
    storage_put_u64(p + 8, e->term);
    storage_put_u64(p + 16, e->index);
    p[24] = e->type;
    if (e->len > 0)
        memcpy(p + STORAGE_REC_MIN, e->data, e->len);
    /* The length is covered too: a flipped length bit must not pass. */
    uint32_t crc = storage_crc32c(0, p, 4);
    storage_put_u32(p + 4, storage_crc32c(crc, p + 8, plen));
}

static int
append_one(storage *s, const raft_entry *e)
{
    uint64_t rec = STORAGE_REC_MIN + (uint64_t)e->len;
    storage_seg *t = tail(s);
    /* A record bigger than a segment gets a segment of its own. */
    bool need_new = t == NULL || t->first + t->n != e->index ||
                    (t->n > 0 && t->size + rec > s->seg_bytes);
    if (need_new && roll(s, e->index) < 0)
        return -1;
    if (tail_open(s) < 0 || wbuf_reserve(s, (size_t)rec) < 0)
        return -1;
    t = tail(s);
    if (storage_seg_push_off(t, t->size) < 0) {
        storage_fail(s, "out of memory");
        return -1;
    }
    encode_record(s->wbuf + s->wlen, e);
    s->wlen += (size_t)rec;
    t->size += rec;
    s->tail_dirty = true;
    if (s->wlen >= STORAGE_WBUF_FLUSH)
        return storage_flush(s);
    return 0;
}

/* Everything is checked before anything is written, so a bad batch leaves
 * no trace. */
static int
check_batch(storage *s, const raft_entry *e, size_t n)
{
    uint64_t want = storage_last_index(s) + 1;
    for (size_t i = 0; i < n; i++, want++) {
        if (e[i].index != want) {
            storage_seterr(s,
                           "append: entry %zu has index %" PRIu64
                           ", expected %" PRIu64,
                           i, e[i].index, want);
            return -1;
        }
        if (e[i].len > STORAGE_MAX_ENTRY_BYTES ||
            (e[i].len > 0 && e[i].data == NULL)) {
            storage_seterr(s,
                           "append: entry %" PRIu64 " has a bad payload "
                           "(%" PRIu32 " bytes, max %u)",
                           e[i].index, e[i].len, STORAGE_MAX_ENTRY_BYTES);
            return -1;
        }
    }
    return 0;
}

int
storage_append(storage *s, const raft_entry *entries, size_t n)
{
    if (s->failed)
        return -1;
    if (n == 0)
        return 0;
    if (check_batch(s, entries, n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (append_one(s, &entries[i]) < 0)
            return -1;
    s->st.entries_appended += n;
    return 0;
}

int
storage_seg_remove(storage *s, size_t k, bool ordered)
{
    char name[STORAGE_NAME_MAX];
    storage_seg_name(name, s->segs[k].first);
    if (k == s->nsegs - 1) {
        /* unsynced bytes of a file that is going away need no fsync */
        if (s->tailfd >= 0)
            close(s->tailfd);
        s->tailfd = -1;
        s->tail_dirty = false;
        s->wlen = 0;
    }
    if (storage_unlink(s, name) < 0)
        return -1;
    free(s->segs[k].offs);
    memmove(&s->segs[k], &s->segs[k + 1],
            (s->nsegs - k - 1) * sizeof(*s->segs));
    s->nsegs--;
    s->st.segments_removed++;
    log_verbose("storage: removed segment %s/%s", s->dir, name);
    return ordered ? storage_dirsync(s) : 0;
}

int
storage_drop_from(storage *s, uint64_t index)
{
    if (storage_flush(s) < 0)
        return -1;
    while (s->nsegs > 0 && tail(s)->first > index)
        if (storage_seg_remove(s, s->nsegs - 1, true) < 0)
            return -1;
    storage_seg *t = tail(s);
    if (t == NULL || index - t->first >= t->n)
        return 0;
    uint64_t keep = index - t->first;
    uint64_t cut = t->offs[keep];
    if (tail_open(s) < 0)
        return -1;
    if (ftruncate(s->tailfd, (off_t)cut) < 0) {
        char name[STORAGE_NAME_MAX];
        storage_seg_name(name, t->first);
        storage_fail(s, "truncate %s/%s to %" PRIu64 " bytes: %s", s->dir,
                     name, cut, strerror(errno));
        return -1;
    }
    t->n = keep;
    t->size = cut;
    s->tail_dirty = true;
    return 0;
}

uint64_t
storage_known_commit(const storage *s)
{
    if (s->hs_next_set && s->hs_next.commit > s->hs.commit)
        return s->hs_next.commit;
    return s->hs.commit;
}

int
storage_truncate_from(storage *s, uint64_t index)
{
    if (s->failed)
        return -1;
    if (index > storage_last_index(s))
        return 0;
    if (index <= s->snap_index || index <= storage_known_commit(s)) {
        storage_seterr(s,
                       "truncate_from(%" PRIu64 "): refusing to delete "
                       "entries at or below the snapshot (%" PRIu64
                       ") or commit index (%" PRIu64 ")",
                       index, s->snap_index, storage_known_commit(s));
        return -1;
    }
    /* Entries up to `synced` may have been acknowledged.  The ones about to
     * go are uncommitted, so dropping them is allowed, but the watermark
     * must come down durably first: otherwise a crash in the middle would
     * look like acknowledged entries lost, and recovery would refuse. */
    if (index <= s->synced && storage_write_hs(s, &s->hs, index - 1) < 0)
        return -1;
    return storage_drop_from(s, index);
}

/* Here rather than in storage.c so that every crash-ordering rule about
 * the log lives in this one file. */
int
storage_sync(storage *s)
{
    if (s->failed)
        return -1;
    s->st.syncs++;
    raft_hard_state hs = s->hs_next_set ? s->hs_next : s->hs;
    uint64_t last = storage_last_index(s);
    if (hs.commit > last) {
        storage_seterr(s,
                       "sync: hard state commit %" PRIu64
                       " is beyond the last log index %" PRIu64,
                       hs.commit, last);
        return -1;
    }
    /* Entries first, then the hard state that counts them as synced. */
    if (storage_flush(s) < 0 || tail_sync(s) < 0)
        return -1;
    if (s->dir_dirty && storage_dirsync(s) < 0)
        return -1;
    s->hs_next_set = false;
    bool same = hs.term == s->hs.term && hs.commit == s->hs.commit &&
                strcmp(hs.vote.s, s->hs.vote.s) == 0;
    if (same && last == s->synced)
        return 0;
    return storage_write_hs(s, &hs, last);
}

int
storage_write_hs(storage *s, const raft_hard_state *hs, uint64_t synced)
{
    uint8_t buf[STORAGE_HS_SIZE];
    storage_encode_hs(buf, hs, synced);
    if (storage_write_atomic(s, STORAGE_HS_NAME, buf, sizeof(buf), NULL, 0) <
        0)
        return -1;
    s->hs = *hs;
    s->synced = synced;
    s->st.hard_state_writes++;
    return 0;
}
