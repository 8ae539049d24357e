/*
 * storage_io.c -- the small pieces every storage file builds on: error
 * reporting, whole-file reads and writes, fsync with accounting, the
 * atomic-replace dance, file names and the fixed-layout codecs.
 */
#include "node/storage_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* ---- errors ------------------------------------------------------------ */

void
storage_seterr(storage *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

void
storage_fail(storage *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    if (!s->failed)
        log_warning("storage: %s; refusing further writes until restart",
                    s->err);
    s->failed = true;
}

/* ---- plain file I/O ---------------------------------------------------- */

int
storage_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int
storage_datasync(storage *s, int fd, const char *name)
{
    s->st.fsyncs++;
    /* fdatasync also flushes the file size, which is what appends and
     * ftruncate change; the timestamps it skips do not matter to us. */
    if (fdatasync(fd) == 0)
        return 0;
    storage_fail(s, "fdatasync %s/%s: %s", s->dir, name, strerror(errno));
    return -1;
}

int
storage_dirsync(storage *s)
{
    s->st.fsyncs++;
    if (fsync(s->dirfd) == 0) {
        s->dir_dirty = false;
        return 0;
    }
    storage_fail(s, "fsync directory %s: %s", s->dir, strerror(errno));
    return -1;
}

int
storage_read_all(int dirfd, const char *name, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *p = malloc(size ? size : 1);
    if (p == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, p + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;   /* shrank under us: not ours */
            free(p);
            close(fd);
            errno = e;
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    *buf = p;
    *len = size;
    return 0;
}

/* The classic sequence: the new content is complete and durable under a
 * temp name before the rename makes it visible, and the directory fsync
 * makes the rename itself durable.  A crash at any point leaves either
 * the old file or the new one, plus at worst a temp file that
 * storage_open removes. */
int
storage_write_atomic(storage *s, const char *name, const void *a,
                     size_t alen, const void *b, size_t blen)
{
    char tmp[STORAGE_NAME_MAX];
    snprintf(tmp, sizeof(tmp), "%s%s", name, STORAGE_TMP_SUFFIX);
    int fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0644);
    if (fd < 0) {
        storage_fail(s, "create %s/%s: %s", s->dir, tmp, strerror(errno));
        return -1;
    }
    if (storage_pwrite_all(fd, a, alen, 0) < 0 ||
        (blen > 0 && storage_pwrite_all(fd, b, blen, alen) < 0)) {
        storage_fail(s, "write %s/%s: %s", s->dir, tmp, strerror(errno));
        close(fd);
        return -1;
    }
    s->st.bytes_written += alen + blen;
    int rc = storage_datasync(s, fd, tmp);
    close(fd);
    if (rc < 0)
        return -1;
    if (renameat(s->dirfd, tmp, s->dirfd, name) < 0) {
        storage_fail(s, "rename %s/%s to %s: %s", s->dir, tmp, name,
                     strerror(errno));
        return -1;
    }
    return storage_dirsync(s);
}

int
storage_unlink(storage *s, const char *name)
{
    if (unlinkat(s->dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    storage_fail(s, "remove %s/%s: %s", s->dir, name, strerror(errno));
    return -1;
}

/* ---- names ------------------------------------------------------------- */

/* 20 digits hold any uint64_t, so names sort like the indexes they carry. */
void
storage_seg_name(char *buf, uint64_t first)
{
    snprintf(buf, STORAGE_NAME_MAX, "log-%020" PRIu64 ".seg", first);
}

void
storage_snap_name(char *buf, uint64_t index)
{
    snprintf(buf, STORAGE_NAME_MAX, "snapshot-%020" PRIu64 ".snap", index);
}

/* ---- little-endian integers -------------------------------------------- */

void
storage_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void
storage_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t
storage_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint64_t
storage_get_u64(const uint8_t *p)
{
    return (uint64_t)storage_get_u32(p) | (uint64_t)storage_get_u32(p + 4)
                                              << 32;
}

/* ---- fixed layouts ----------------------------------------------------- */

/* The version check comes after the checksum: a damaged version field is
 * damage, while a valid header with a higher version was written by a
 * newer raft-sentinel, and saying so is the useful message. */
static const char *
check_version(const uint8_t *p)
{
    return storage_get_u32(p + 4) == STORAGE_VERSION
               ? NULL
               : "unsupported format version (written by a newer "
                 "raft-sentinel?)";
}

void
storage_encode_seg_hdr(uint8_t *p, uint64_t first)
{
    memcpy(p, STORAGE_SEG_MAGIC, 4);
    storage_put_u32(p + 4, STORAGE_VERSION);
    storage_put_u64(p + 8, first);
    storage_put_u32(p + 16, 0);
    storage_put_u32(p + 20, storage_crc32c(0, p, 20));
}

const char *
storage_check_seg_hdr(const uint8_t *p, size_t len, uint64_t first)
{
    if (len < STORAGE_SEG_HDR)
        return "file shorter than the segment header";
    if (memcmp(p, STORAGE_SEG_MAGIC, 4) != 0)
        return "bad magic (not a raft-sentinel log segment)";
    if (storage_get_u32(p + 20) != storage_crc32c(0, p, 20))
        return "segment header checksum mismatch";
    if (check_version(p) != NULL)
        return check_version(p);
    if (storage_get_u64(p + 8) != first)
        return "header's first index does not match the file name";
    return NULL;
}

void
storage_encode_hs(uint8_t *p, const raft_hard_state *hs, uint64_t synced)
{
    memset(p, 0, STORAGE_HS_SIZE);
    memcpy(p, STORAGE_HS_MAGIC, 4);
    storage_put_u32(p + 4, STORAGE_VERSION);
    storage_put_u64(p + 8, hs->term);
    storage_put_u64(p + 16, hs->commit);
    storage_put_u64(p + 24, synced);
    memcpy(p + 32, hs->vote.s, strnlen(hs->vote.s, RAFT_ID_MAX));
    storage_put_u32(p + STORAGE_HS_CRC_OFF,
                    storage_crc32c(0, p, STORAGE_HS_CRC_OFF));
}

const char *
storage_decode_hs(const uint8_t *p, size_t len, raft_hard_state *hs,
                  uint64_t *synced, uint64_t *off)
{
    *off = 0;
    if (len != STORAGE_HS_SIZE) {
        *off = len < STORAGE_HS_SIZE ? len : STORAGE_HS_SIZE;
        return "wrong size (expected 104 bytes)";
    }
    if (memcmp(p, STORAGE_HS_MAGIC, 4) != 0)
        return "bad magic (not a raft-sentinel hard state file)";
    *off = STORAGE_HS_CRC_OFF;
    if (storage_get_u32(p + STORAGE_HS_CRC_OFF) !=
        storage_crc32c(0, p, STORAGE_HS_CRC_OFF))
        return "checksum mismatch over bytes 0..99";
    *off = 4;
    if (check_version(p) != NULL)
        return check_version(p);
    *off = 32;
    /* vote[64] must be NUL: ids are at most RAFT_ID_MAX bytes */
    if (p[32 + RAFT_ID_MAX] != 0)
        return "vote is not NUL-terminated";
    memset(hs, 0, sizeof(*hs));
    hs->term = storage_get_u64(p + 8);
    hs->commit = storage_get_u64(p + 16);
    *synced = storage_get_u64(p + 24);
    memcpy(hs->vote.s, p + 32, RAFT_ID_MAX);
    *off = 16;
    if (hs->commit > *synced)
        return "commit index beyond the synced index";
    return NULL;
}

void
storage_encode_snap_hdr(uint8_t *p, uint64_t index, uint64_t term,
                        const void *blob, size_t len)
{
    memcpy(p, STORAGE_SNAP_MAGIC, 4);
    storage_put_u32(p + 4, STORAGE_VERSION);
    storage_put_u64(p + 8, index);
    storage_put_u64(p + 16, term);
    storage_put_u64(p + 24, len);
    storage_put_u32(p + 32, 0);
    uint32_t crc = storage_crc32c(0, p, STORAGE_SNAP_CRC_OFF);
    storage_put_u32(p + STORAGE_SNAP_CRC_OFF, storage_crc32c(crc, blob, len));
}

const char *
storage_check_snap(const uint8_t *p, size_t len, uint64_t index,
                   uint64_t *off)
{
    *off = 0;
    if (len < STORAGE_SNAP_HDR) {
        *off = len;
        return "file shorter than the snapshot header";
    }
    if (memcmp(p, STORAGE_SNAP_MAGIC, 4) != 0)
        return "bad magic (not a raft-sentinel snapshot)";
    *off = 24;
    if (storage_get_u64(p + 24) != len - STORAGE_SNAP_HDR)
        return "blob length does not match the file size";
    *off = STORAGE_SNAP_CRC_OFF;
    uint32_t crc = storage_crc32c(0, p, STORAGE_SNAP_CRC_OFF);
    crc = storage_crc32c(crc, p + STORAGE_SNAP_HDR, len - STORAGE_SNAP_HDR);
    if (storage_get_u32(p + STORAGE_SNAP_CRC_OFF) != crc)
        return "checksum mismatch over header and blob";
    *off = 4;
    if (check_version(p) != NULL)
        return check_version(p);
    *off = 8;
    if (storage_get_u64(p + 8) != index)
        return "header's index does not match the file name";
    return NULL;
}
