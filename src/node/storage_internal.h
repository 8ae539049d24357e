/*
 * storage_internal.h -- shared by the storage_*.c files and their unit
 * tests; not part of the module's API (that is storage.h).
 *
 * On-disk layouts (all integers little-endian; docs/storage.md is the
 * reference and explains the recovery rules these serve):
 *
 *   segment header (24):  "RSLG" | u32 version | u64 first index
 *                         | u32 zero | u32 crc32c(bytes 0..19)
 *   record:               u32 len | u32 crc32c(len bytes + payload)
 *                         | payload = u64 term | u64 index | u8 type | data
 *   hardstate (104):      "RSHS" | u32 version | u64 term | u64 commit
 *                         | u64 synced | vote[65] NUL-padded | 3 zero bytes
 *                         | u32 crc32c(bytes 0..99)
 *   snapshot header (40): "RSSN" | u32 version | u64 index | u64 term
 *                         | u64 blob length | u32 zero
 *                         | u32 crc32c(bytes 0..35 + blob) ; then the blob
 */
#ifndef STORAGE_INTERNAL_H
#define STORAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/storage.h"

#define STORAGE_VERSION 1u

#define STORAGE_SEG_MAGIC "RSLG"
#define STORAGE_SEG_HDR 24u
#define STORAGE_REC_HDR 8u                   /* len + crc */
#define STORAGE_REC_FIXED 17u                /* term + index + type */
#define STORAGE_REC_MIN (STORAGE_REC_HDR + STORAGE_REC_FIXED)
#define STORAGE_REC_MAX_PAYLOAD (STORAGE_REC_FIXED + STORAGE_MAX_ENTRY_BYTES)

#define STORAGE_HS_MAGIC "RSHS"
#define STORAGE_HS_SIZE 104u
#define STORAGE_HS_CRC_OFF 100u
#define STORAGE_HS_NAME "hardstate"

#define STORAGE_SNAP_MAGIC "RSSN"
#define STORAGE_SNAP_HDR 40u
#define STORAGE_SNAP_CRC_OFF 36u

#define STORAGE_LOCK_NAME "LOCK"
#define STORAGE_TMP_SUFFIX ".tmp"
#define STORAGE_NAME_MAX 64                  /* "snapshot-<20>.snap.tmp" fits */

/* Appends are gathered here and written with one pwrite per this much. */
#define STORAGE_WBUF_FLUSH (1u << 20)

/* One log segment as the running node knows it. */
typedef struct storage_seg {
    uint64_t first;                     /* index of record 0 (name, header) */
    uint64_t n;                         /* records */
    uint64_t *offs;                     /* offs[k]: file offset of record k */
    uint64_t cap;
    uint64_t size;                      /* logical end, incl. unflushed */
} storage_seg;

struct storage {
    char *dir;
    int dirfd;
    int lockfd;
    int tailfd;                         /* newest segment, or -1 */
    uint64_t seg_bytes;

    storage_seg *segs;                  /* oldest first; last one is the tail */
    size_t nsegs;
    size_t segcap;

    bool has_snap;
    uint64_t snap_index;
    uint64_t snap_term;

    raft_hard_state hs;                 /* as on disk */
    uint64_t synced;                    /* as on disk: see docs/storage.md */
    raft_hard_state hs_next;            /* set_hard_state since last sync */
    bool hs_next_set;

    uint8_t *wbuf;                      /* bytes [tail.size - wlen, tail.size) */
    size_t wlen;
    size_t wcap;
    bool tail_dirty;                    /* tail written since its last fsync */
    bool dir_dirty;                     /* names created since dir fsync */

    bool failed;                        /* poisoned by an I/O error */
    storage_stats st;
    char err[512];
};

/* ---- storage_crc.c ---- */
uint32_t storage_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t storage_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* ---- storage_io.c: errors, files, names, codecs ---- */
void storage_seterr(storage *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sets the error, logs it and poisons the handle. */
void storage_fail(storage *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int storage_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int storage_datasync(storage *s, int fd, const char *name);
int storage_dirsync(storage *s);
/* Reads dir/name whole into a malloc'd buffer (errno set on failure). */
int storage_read_all(int dirfd, const char *name, uint8_t **buf,
                     size_t *len);
/* tmp file, write parts, fdatasync, rename over name, fsync the dir. */
int storage_write_atomic(storage *s, const char *name, const void *a,
                         size_t alen, const void *b, size_t blen);
/* Unlinks name; poisons on failure unless ENOENT. */
int storage_unlink(storage *s, const char *name);

void storage_seg_name(char *buf, uint64_t first);
void storage_snap_name(char *buf, uint64_t index);

void storage_put_u32(uint8_t *p, uint32_t v);
void storage_put_u64(uint8_t *p, uint64_t v);
uint32_t storage_get_u32(const uint8_t *p);
uint64_t storage_get_u64(const uint8_t *p);

void storage_encode_seg_hdr(uint8_t *p, uint64_t first);
/* Returns NULL if the header is valid, else what is wrong with it. */
const char *storage_check_seg_hdr(const uint8_t *p, size_t len,
                                  uint64_t first);
void storage_encode_hs(uint8_t *p, const raft_hard_state *hs,
                       uint64_t synced);
/* NULL if valid (and fills hs, synced), else what is wrong; *off is the
 * byte offset the complaint is about. */
const char *storage_decode_hs(const uint8_t *p, size_t len,
                              raft_hard_state *hs, uint64_t *synced,
                              uint64_t *off);
void storage_encode_snap_hdr(uint8_t *p, uint64_t index, uint64_t term,
                             const void *blob, size_t len);
const char *storage_check_snap(const uint8_t *p, size_t len, uint64_t index,
                               uint64_t *off);

/* ---- storage_log.c: the segment files of a running node ---- */
uint64_t storage_seg_last(const storage_seg *g);   /* first - 1 if empty */
int storage_seg_push_off(storage_seg *g, uint64_t off);
storage_seg *storage_seg_add(storage *s, uint64_t first);
int storage_flush(storage *s);
/* Deletes entries >= index from the files (no checks, no watermark). */
int storage_drop_from(storage *s, uint64_t index);
/* Deletes segment k and forgets it; dir fsync'd when `ordered`. */
int storage_seg_remove(storage *s, size_t k, bool ordered);
int storage_write_hs(storage *s, const raft_hard_state *hs, uint64_t synced);
/* The highest commit index known: stored, or set for the next sync. */
uint64_t storage_known_commit(const storage *s);

/* ---- storage_recover.c ---- */
int storage_recover(storage *s, storage_loaded *loaded);

#endif
