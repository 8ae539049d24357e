/*
 * storage_recover.c -- storage_open's second half: read everything back,
 * decide what a crash may have left behind and what is real damage, and
 * only then repair.
 *
 * The central idea (docs/storage.md has the full rules): the hard state
 * records `synced`, the last log index that storage_sync made durable.
 * Every entry up to it may have been acknowledged to a leader, so it must
 * come back intact; any damage that would lose one is a hard error.  What
 * lies beyond it was never acknowledged: a crash may tear it, and the torn
 * end of the newest segment is cut off with a log line.
 *
 * Nothing on disk changes until every check has passed (temp files aside),
 * so a refused open leaves the evidence exactly as it was found.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/storage_internal.h"
#include "util/log.h"

typedef struct recovery {
    storage *s;
    storage_loaded *ld;
    uint64_t *segs;                     /* first indexes, from file names */
    size_t nsegs;
    size_t segcap;
    uint64_t *snaps;                    /* snapshot indexes, from names */
    size_t nsnaps;
    size_t snapcap;
    size_t entcap;
    bool has_hs;
    size_t ncovered;                    /* leading segments inside the snap */

    bool have_log;                      /* some segment was read */
    uint64_t last;                      /* last intact index read */
    bool log_has_s;                     /* the log holds the snapshot index */
    uint64_t term_at_s;
    bool torn;                          /* newest segment ends in damage */
    uint64_t torn_off;
    const char *torn_why;
    uint64_t newest_size;
    bool stale;                         /* log disagrees with the snap */
    bool below_snap;                    /* the whole log is <= S */
} recovery;

/* ---- directory scan ---------------------------------------------------- */

static bool
parse_indexed(const char *name, const char *prefix, const char *suffix,
              uint64_t *out)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    if (strlen(name) != pl + 20 + sl || strncmp(name, prefix, pl) != 0 ||
        strcmp(name + pl + 20, suffix) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = pl; i < pl + 20; i++) {
        unsigned d = (unsigned)(name[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return v > 0;
}

static int
push_u64(uint64_t **arr, size_t *n, size_t *cap, uint64_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        uint64_t *p = realloc(*arr, c * sizeof(*p));
        if (p == NULL)
            return -1;
        *arr = p;
        *cap = c;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

static bool
has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), l = strlen(suffix);
    return n > l && strcmp(name + n - l, suffix) == 0;
}

static int
classify(recovery *r, const char *name)
{
    storage *s = r->s;
    uint64_t v;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strcmp(name, STORAGE_LOCK_NAME) == 0)
        return 0;
    if (strcmp(name, STORAGE_HS_NAME) == 0) {
        r->has_hs = true;
        return 0;
    }
    if (has_suffix(name, STORAGE_TMP_SUFFIX)) {
        /* Only ever written before a rename: the old file is in force. */
        log_notice("storage: removing leftover temp file %s/%s "
                   "(interrupted write; the previous version stays)",
                   s->dir, name);
        if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
            log_warning("storage: cannot remove %s/%s: %s", s->dir, name,
                        strerror(errno));
        return 0;
    }
    if (parse_indexed(name, "log-", ".seg", &v))
        return push_u64(&r->segs, &r->nsegs, &r->segcap, v);
    if (parse_indexed(name, "snapshot-", ".snap", &v))
        return push_u64(&r->snaps, &r->nsnaps, &r->snapcap, v);
    log_warning("storage: ignoring unexpected file %s/%s", s->dir, name);
    return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int
scan_dir(recovery *r)
{
    storage *s = r->s;
    int fd = dup(s->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        storage_seterr(s, "read directory %s: %s", s->dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rewinddir(d);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL)
        rc = classify(r, de->d_name);
    closedir(d);
    if (rc < 0) {
        storage_seterr(s, "out of memory");
        return -1;
    }
    if (r->nsegs > 1)
        qsort(r->segs, r->nsegs, sizeof(*r->segs), cmp_u64);
    if (r->nsnaps > 1)
        qsort(r->snaps, r->nsnaps, sizeof(*r->snaps), cmp_u64);
    return 0;
}

/* ---- hard state and snapshot ------------------------------------------- */

static int
keep_buf(recovery *r, uint8_t *buf)
{
    storage_loaded *ld = r->ld;
    uint8_t **p = realloc(ld->bufs, (ld->n_bufs + 1) * sizeof(*p));
    if (p == NULL) {
        free(buf);
        storage_seterr(r->s, "out of memory");
        return -1;
    }
    ld->bufs = p;
    ld->bufs[ld->n_bufs++] = buf;
    return 0;
}

static int
read_file(recovery *r, const char *name, uint8_t **buf, size_t *len)
{
    if (storage_read_all(r->s->dirfd, name, buf, len) == 0)
        return 0;
    storage_seterr(r->s, "read %s/%s: %s", r->s->dir, name, strerror(errno));
    return -1;
}

static int
load_hard_state(recovery *r)
{
    storage *s = r->s;
    /* A fresh directory gets its hard state file first of all (repair),
     * so its absence next to other files can only mean it was lost --
     * and with it the vote: refusing beats voting twice in one term. */
    if (!r->has_hs) {
        if (r->nsegs == 0 && r->nsnaps == 0)
            return 0;
        storage_seterr(s,
                       "%s/%s: offset 0: missing, but log or snapshot files "
                       "exist (was it deleted?)",
                       s->dir, STORAGE_HS_NAME);
        return -1;
    }
    uint8_t *buf;
    size_t len;
    uint64_t off;
    if (read_file(r, STORAGE_HS_NAME, &buf, &len) < 0)
        return -1;
    const char *why = storage_decode_hs(buf, len, &s->hs, &s->synced, &off);
    free(buf);
    if (why != NULL) {
        storage_seterr(s, "%s/%s: offset %" PRIu64 ": %s", s->dir,
                       STORAGE_HS_NAME, off, why);
        return -1;
    }
    r->ld->hard_state = s->hs;
    return 0;
}

/* Only the newest snapshot counts: older ones are left over from a crash
 * right after a newer one became durable.  If the newest is damaged that
 * is a hard error -- falling back to an older one would not help, since
 * the log it needs was compacted away. */
static int
load_snapshot(recovery *r)
{
    storage *s = r->s;
    if (r->nsnaps == 0)
        return 0;
    uint64_t index = r->snaps[r->nsnaps - 1];
    char name[STORAGE_NAME_MAX];
    storage_snap_name(name, index);
    uint8_t *buf;
    size_t len;
    uint64_t off;
    if (read_file(r, name, &buf, &len) < 0 || keep_buf(r, buf) < 0)
        return -1;
    const char *why = storage_check_snap(buf, len, index, &off);
    if (why != NULL) {
        storage_seterr(s, "%s/%s: offset %" PRIu64 ": %s", s->dir, name,
                       off, why);
        return -1;
    }
    s->has_snap = true;
    s->snap_index = index;
    s->snap_term = storage_get_u64(buf + 16);
    storage_loaded *ld = r->ld;
    ld->has_snapshot = true;
    ld->snap_index = index;
    ld->snap_term = s->snap_term;
    ld->snap_len = len - STORAGE_SNAP_HDR;
    ld->snap_data = ld->snap_len ? buf + STORAGE_SNAP_HDR : NULL;
    return 0;
}

/* ---- segments ---------------------------------------------------------- */

/* NULL if a whole, intact record starts at p, else what is wrong. */
static const char *
check_record(const uint8_t *p, size_t avail)
{
    if (avail < STORAGE_REC_HDR)
        return "incomplete record header";
    uint32_t plen = storage_get_u32(p);
    if (plen < STORAGE_REC_FIXED || plen > STORAGE_REC_MAX_PAYLOAD)
        return "impossible record length";
    if (plen > avail - STORAGE_REC_HDR)
        return "record runs past the end of the file";
    uint32_t crc = storage_crc32c(0, p, 4);
    crc = storage_crc32c(crc, p + STORAGE_REC_HDR, plen);
    if (crc != storage_get_u32(p + 4))
        return "record checksum mismatch";
    return NULL;
}

static int
add_entry(recovery *r, uint8_t *p, uint32_t plen)
{
    uint64_t term = storage_get_u64(p), index = storage_get_u64(p + 8);
    uint64_t snap = r->s->snap_index;
    if (index == snap) {
        r->log_has_s = true;
        r->term_at_s = term;
    }
    if (index <= snap)
        return 0;
    storage_loaded *ld = r->ld;
    if (ld->n_entries == r->entcap) {
        size_t cap = r->entcap ? r->entcap * 2 : 1024;
        raft_entry *e = realloc(ld->entries, cap * sizeof(*e));
        if (e == NULL)
            return -1;
        ld->entries = e;
        r->entcap = cap;
    }
    raft_entry *e = &ld->entries[ld->n_entries++];
    e->term = term;
    e->index = index;
    e->type = p[16];
    e->len = plen - STORAGE_REC_FIXED;
    e->data = e->len ? p + STORAGE_REC_FIXED : NULL;
    return 0;
}

/* Walks one segment's records.  0: all intact; 1: stopped at damage
 * (*bad_off, *why); -1: hard error already reported. */
static int
parse_records(recovery *r, storage_seg *g, const char *name, uint8_t *buf,
              size_t len, uint64_t *bad_off, const char **why)
{
    uint64_t off = STORAGE_SEG_HDR;
    while (off < len) {
        *why = check_record(buf + off, len - off);
        if (*why != NULL) {
            *bad_off = off;
            return 1;
        }
        uint32_t plen = storage_get_u32(buf + off);
        uint8_t *p = buf + off + STORAGE_REC_HDR;
        uint64_t index = storage_get_u64(p + 8);
        if (index != g->first + g->n) {
            /* intact but out of sequence: a writer bug, never a crash */
            storage_seterr(r->s,
                           "%s/%s: offset %" PRIu64 ": record holds index "
                           "%" PRIu64 " where %" PRIu64 " belongs",
                           r->s->dir, name, off, index, g->first + g->n);
            return -1;
        }
        if (storage_seg_push_off(g, off) < 0 || add_entry(r, p, plen) < 0) {
            storage_seterr(r->s, "out of memory");
            return -1;
        }
        off += STORAGE_REC_HDR + plen;
    }
    return 0;
}

static int
check_continuity(recovery *r, size_t k, const char *name)
{
    storage *s = r->s;
    uint64_t first = r->segs[k];
    if (k == r->ncovered) {
        if (s->has_snap ? first <= s->snap_index + 1 : first == 1)
            return 0;
        if (s->has_snap)
            storage_seterr(s,
                           "%s/%s: offset 0: log starts at index %" PRIu64
                           " but the snapshot ends at %" PRIu64
                           " (missing segment?)",
                           s->dir, name, first, s->snap_index);
        else
            storage_seterr(s,
                           "%s/%s: offset 0: log starts at index %" PRIu64
                           " and no snapshot covers the entries before it "
                           "(missing segment?)",
                           s->dir, name, first);
        return -1;
    }
    if (first == r->last + 1)
        return 0;
    char prev[STORAGE_NAME_MAX];
    storage_seg_name(prev, r->segs[k - 1]);
    storage_seterr(s,
                   "%s/%s: offset 0: segment starts at index %" PRIu64
                   " but the previous segment %s ends at %" PRIu64 " (%s)",
                   s->dir, name, first, prev, r->last,
                   first > r->last + 1 ? "missing segment" : "overlap");
    return -1;
}

static int
load_segment(recovery *r, size_t k)
{
    storage *s = r->s;
    uint64_t first = r->segs[k];
    char name[STORAGE_NAME_MAX];
    storage_seg_name(name, first);
    if (check_continuity(r, k, name) < 0)
        return -1;
    uint8_t *buf;
    size_t len;
    if (read_file(r, name, &buf, &len) < 0 || keep_buf(r, buf) < 0)
        return -1;
    /* Segments are renamed into place with a durable header, so a bad
     * header is damage even in the newest segment. */
    const char *why = storage_check_seg_hdr(buf, len, first);
    if (why != NULL) {
        storage_seterr(s, "%s/%s: offset 0: %s", s->dir, name, why);
        return -1;
    }
    storage_seg *g = storage_seg_add(s, first);
    if (g == NULL) {
        storage_seterr(s, "out of memory");
        return -1;
    }
    uint64_t bad_off = 0;
    int rc = parse_records(r, g, name, buf, len, &bad_off, &why);
    if (rc < 0)
        return -1;
    if (rc == 1 && k + 1 < r->nsegs) {
        /* fsync'd before the next segment was created: not a torn write */
        storage_seterr(s,
                       "%s/%s: offset %" PRIu64 ": %s (record for index "
                       "%" PRIu64 "; only the newest segment can end in a "
                       "torn write)",
                       s->dir, name, bad_off, why, first + g->n);
        return -1;
    }
    r->torn = rc == 1;
    r->torn_off = bad_off;
    r->torn_why = why;
    r->newest_size = len;
    g->size = r->torn ? bad_off : len;
    r->have_log = true;
    r->last = first + g->n - 1;
    return 0;
}

static int
load_segments(recovery *r)
{
    uint64_t snap = r->s->snap_index;
    /* A segment whose successor starts at or below snap + 1 holds only
     * entries the snapshot covers: not needed, not read, deleted later.
     * Compaction deletes them in no particular order, so any subset of
     * them may have survived a crash; this rule handles every subset. */
    if (r->s->has_snap)
        while (r->ncovered + 1 < r->nsegs &&
               r->segs[r->ncovered + 1] <= snap + 1)
            r->ncovered++;
    for (size_t k = r->ncovered; k < r->nsegs; k++)
        if (load_segment(r, k) < 0)
            return -1;
    return 0;
}

/* ---- decisions --------------------------------------------------------- */

static void
newest_name(recovery *r, char *name)
{
    storage_seg_name(name, r->segs[r->nsegs - 1]);
}

/* The one rule that protects acknowledged entries: after the repairs the
 * log must still reach `synced`. */
static int
check_synced(recovery *r)
{
    storage *s = r->s;
    uint64_t snap = s->snap_index;
    uint64_t last = r->have_log && !r->stale ? r->last : 0;
    if (last < snap)
        last = snap;
    if (last >= s->synced)
        return 0;
    char name[STORAGE_NAME_MAX];
    if (!r->have_log) {
        storage_seterr(s,
                       "%s: no log segment, but %s says entries through "
                       "%" PRIu64 " were made durable (missing segment?)",
                       s->dir, STORAGE_HS_NAME, s->synced);
        return -1;
    }
    newest_name(r, name);
    if (r->torn)
        storage_seterr(s,
                       "%s/%s: offset %" PRIu64 ": %s (record for index "
                       "%" PRIu64 "); %s says entries through %" PRIu64
                       " were made durable, so this is damage, not a torn "
                       "write",
                       s->dir, name, r->torn_off, r->torn_why, r->last + 1,
                       STORAGE_HS_NAME, s->synced);
    else
        storage_seterr(s,
                       "%s/%s: offset %" PRIu64 ": log ends at index "
                       "%" PRIu64 " but %s says entries through %" PRIu64
                       " were made durable (missing data)",
                       s->dir, name, r->newest_size, r->last,
                       STORAGE_HS_NAME, s->synced);
    return -1;
}

static int
decide(recovery *r)
{
    storage *s = r->s;
    uint64_t snap = s->snap_index;
    if (!s->has_snap)
        return check_synced(r);
    /* An install that crashed while deleting the old log leaves a prefix
     * of it.  If that prefix disagrees with the snapshot at its index,
     * what follows is from a branch the leader overruled: never committed
     * (Log Matching), never counted in `synced` (install lowered it
     * first), safe to drop -- and the whole log goes, as the install
     * intended, so the conflicting entry at the index goes too.  If it
     * agrees, Raft allows keeping what follows. */
    r->stale = r->log_has_s && r->term_at_s != s->snap_term;
    r->below_snap = !r->have_log || r->last < snap;
    if (r->stale && s->synced > snap) {
        storage_seterr(s,
                       "%s: the log's entry %" PRIu64 " has term %" PRIu64
                       " but the snapshot's is %" PRIu64
                       ", and entries through %" PRIu64
                       " were acknowledged",
                       s->dir, snap, r->term_at_s, s->snap_term, s->synced);
        return -1;
    }
    return check_synced(r);
}

/* ---- repairs (only after every check passed) --------------------------- */

static int
remove_file(recovery *r, const char *name, const char *why)
{
    log_notice("storage: removing %s/%s: %s", r->s->dir, name, why);
    return storage_unlink(r->s, name);
}

static int
cut_torn_tail(recovery *r)
{
    storage *s = r->s;
    char name[STORAGE_NAME_MAX];
    newest_name(r, name);
    s->tailfd = openat(s->dirfd, name, O_WRONLY | O_CLOEXEC);
    if (s->tailfd < 0 || ftruncate(s->tailfd, (off_t)r->torn_off) < 0) {
        storage_fail(s, "truncate %s/%s: %s", s->dir, name, strerror(errno));
        return -1;
    }
    s->tail_dirty = true;
    log_notice("storage: %s/%s: torn write at offset %" PRIu64
               " (%s): cut %" PRIu64 " bytes of never-acknowledged "
               "records; the log now ends at index %" PRIu64,
               s->dir, name, r->torn_off, r->torn_why,
               r->newest_size - r->torn_off, r->last);
    return 0;
}

static int
remove_leftovers(recovery *r)
{
    char name[STORAGE_NAME_MAX], why[96];
    for (size_t i = 0; i + 1 < r->nsnaps; i++) {
        storage_snap_name(name, r->snaps[i]);
        snprintf(why, sizeof(why), "superseded by the snapshot at %" PRIu64,
                 r->s->snap_index);
        if (remove_file(r, name, why) < 0)
            return -1;
    }
    for (size_t k = 0; k < r->ncovered; k++) {
        storage_seg_name(name, r->segs[k]);
        snprintf(why, sizeof(why), "all its entries are in the snapshot");
        if (remove_file(r, name, why) < 0)
            return -1;
    }
    return 0;
}

static int
repair(recovery *r)
{
    storage *s = r->s;
    uint64_t before = s->st.segments_removed;
    if (!r->has_hs && storage_write_hs(s, &s->hs, 0) < 0)
        return -1;
    if (remove_leftovers(r) < 0 || (r->torn && cut_torn_tail(r) < 0))
        return -1;
    if (r->stale)
        log_warning("storage: %s: log entry %" PRIu64 " has term %" PRIu64
                    ", the snapshot's has %" PRIu64 ": dropping the log "
                    "(left over from an interrupted snapshot install)",
                    s->dir, s->snap_index, r->term_at_s, s->snap_term);
    else if (r->below_snap && s->nsegs > 0)
        log_notice("storage: %s: removing the log segments: every entry in "
                   "them is in the snapshot at %" PRIu64,
                   s->dir, s->snap_index);
    /* Newest first, each durable: a crash here must again leave a prefix
     * (see storage_install_snapshot). */
    while ((r->stale || r->below_snap) && s->nsegs > 0)
        if (storage_seg_remove(s, s->nsegs - 1, true) < 0)
            return -1;
    if (r->stale)
        r->ld->n_entries = 0;
    bool removed = r->nsnaps > 1 || r->ncovered > 0 ||
                   s->st.segments_removed != before;
    if (removed && storage_dirsync(s) < 0)
        return -1;
    if (s->tail_dirty) {
        char name[STORAGE_NAME_MAX];
        storage_seg_name(name, s->segs[s->nsegs - 1].first);
        if (storage_datasync(s, s->tailfd, name) < 0)
            return -1;
        s->tail_dirty = false;
    }
    return 0;
}

int
storage_recover(storage *s, storage_loaded *loaded)
{
    recovery r = {.s = s, .ld = loaded};
    int rc = -1;
    if (scan_dir(&r) == 0 && load_hard_state(&r) == 0 &&
        load_snapshot(&r) == 0 && load_segments(&r) == 0 && decide(&r) == 0 &&
        repair(&r) == 0)
        rc = 0;
    free(r.segs);
    free(r.snaps);
    if (rc == 0)
        log_verbose("storage: opened %s: snapshot %" PRIu64 ", %zu entries, "
                    "last index %" PRIu64,
                    s->dir, s->snap_index, loaded->n_entries,
                    storage_last_index(s));
    return rc;
}
