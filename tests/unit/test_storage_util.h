/*
 * test_storage_util.h -- helpers shared by the storage unit tests: a
 * scratch directory per test, entry builders, file surgery for damage
 * injection, and log capture.
 */
#ifndef TEST_STORAGE_UTIL_H
#define TEST_STORAGE_UTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/storage.h"

/* Scratch root for the running test ($TMPDIR or /tmp), with the logger
 * writing into <root>/log; ts_teardown removes all of it. */
extern char ts_root[256];
void ts_setup(void);
void ts_teardown(void);

/* <root>/<name> in a static rotating buffer (a few live at once). */
const char *ts_path(const char *name);
/* Declares char var[] = "<root>/<name>", stable for the whole test. */
#define TS_DIR(var, name)                                                     \
    char var[512];                                                            \
    snprintf(var, sizeof(var), "%s/%s", ts_root, name)

/* Deterministic entries: data "entry-<index>" plus index%7 filler bytes,
 * type index%3.  The caller frees with ts_free_entries. */
raft_entry *ts_entries(uint64_t first, size_t n, uint64_t term);
void ts_free_entries(raft_entry *e, size_t n);

/* Appends [first, first+n) with term and syncs (asserting success). */
void ts_append_sync(storage *s, uint64_t first, size_t n, uint64_t term);
void ts_set_hs(storage *s, uint64_t term, const char *vote, uint64_t commit);

storage *ts_open(const char *dir, uint64_t seg_bytes, storage_loaded *ld);
/* Asserts that open fails; returns the message (static buffer). */
const char *ts_open_fails(const char *dir);

/* ld holds exactly [first, first+n) of term, as ts_entries made them. */
void ts_check_range(const storage_loaded *ld, size_t at, uint64_t first,
                    size_t n, uint64_t term);

/* File surgery in dir. */
long ts_size(const char *dir, const char *name);
bool ts_exists(const char *dir, const char *name);
void ts_flip(const char *dir, const char *name, long off);
void ts_cut(const char *dir, const char *name, long len);
void ts_remove(const char *dir, const char *name);
void ts_write_file(const char *dir, const char *name, const void *buf,
                   size_t len);
void ts_copy_dir(const char *src, const char *dst);
void ts_copy_file(const char *src, const char *dst, const char *name);
void ts_rmrf(const char *path);
/* Names in dir starting with prefix, sorted; returns the count. */
size_t ts_list(const char *dir, const char *prefix, char names[][64],
               size_t max);

/* The record offsets of a segment file (walking its length fields). */
size_t ts_record_offsets(const char *dir, const char *name, long *offs,
                         size_t max);

/* Everything logged since ts_setup. */
const char *ts_log(void);
bool ts_log_has(const char *needle);
void ts_log_reset(void);

/* test_storage_recovery.c's cases, added to the one suite. */
void ts_add_recovery_tests(Suite *suite);

#endif
