/*
 * Storage recovery: damage injected into real files, and the states a
 * crash can leave.  The rule under test (docs/storage.md, "Recovery"):
 * entries up to `synced` (what storage_sync made durable, so possibly
 * acknowledged) must come back intact or storage_open refuses, naming
 * file and offset; damage past `synced` at the end of the newest segment
 * is a torn write and is cut off with a log line.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/storage.h"
#include "node/storage_internal.h"
#include "test_storage_util.h"

#define SEG1 "log-00000000000000000001.seg"

/* 1..synced made durable by storage_sync, then `unsynced` more appended
 * and handed to write(2) but never synced: a crash before the fsync. */
static void
build(const char *dir, uint64_t seg_bytes, size_t synced, size_t unsynced)
{
    storage_loaded ld;
    storage *s = ts_open(dir, seg_bytes, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, synced, 1);
    raft_entry *e = ts_entries(synced + 1, unsynced, 1);
    ck_assert_int_eq(storage_append(s, e, unsynced), 0);
    ts_free_entries(e, unsynced);
    storage_close(s);
}

static void
expect_entries(const char *dir, size_t n)
{
    storage_loaded ld;
    storage *s = ts_open(dir, 0, &ld);
    ck_assert_uint_eq(ld.n_entries, n);
    ts_check_range(&ld, 0, 1, n, 1);
    storage_loaded_free(&ld);
    storage_close(s);
}

static void
expect_refusal(const char *dir, const char *file, long off)
{
    const char *err = ts_open_fails(dir);
    char want[600];
    snprintf(want, sizeof(want), "%s/%s: offset %ld:", dir, file, off);
    ck_assert_msg(strstr(err, want) != NULL, "want \"%s\" in: %s", want, err);
}

/* Rule: a torn last record (cut at any byte) past `synced` is truncated;
 * only that record is lost, the log line names file and offset, and the
 * log keeps working. */
START_TEST(test_torn_tail_cut_at_every_offset_recovers)
{
    TS_DIR(pristine, "pristine");
    build(pristine, 0, 20, 1);
    long offs[32];
    ck_assert_uint_eq(ts_record_offsets(pristine, SEG1, offs, 32), 21);
    long start = offs[20], end = ts_size(pristine, SEG1);
    for (long cut = start; cut < end; cut++) {
        TS_DIR(dir, "copy");
        ts_copy_dir(pristine, dir);
        ts_cut(dir, SEG1, cut);
        ts_log_reset();
        expect_entries(dir, 20);
        ck_assert_int_eq(ts_size(dir, SEG1), start);
        if (cut > start) {
            char want[128];
            snprintf(want, sizeof(want), "%s: torn write at offset %ld", SEG1,
                     start);
            ck_assert_msg(ts_log_has(want), "cut %ld: %s", cut, ts_log());
        }
        ts_rmrf(dir);
    }
    /* after the repair, appending where the torn record was works */
    ts_cut(pristine, SEG1, start + 5);
    storage_loaded ld;
    storage *s = ts_open(pristine, 0, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 21, 2, 1);
    storage_close(s);
    expect_entries(pristine, 22);
}
END_TEST

/* Rule: a flipped byte anywhere in the last record (past `synced`) is a
 * torn write: recovered, only that record lost. */
START_TEST(test_flipped_byte_in_last_record_recovers)
{
    TS_DIR(pristine, "pristine");
    build(pristine, 0, 20, 1);
    long offs[32];
    ts_record_offsets(pristine, SEG1, offs, 32);
    long start = offs[20], end = ts_size(pristine, SEG1);
    for (long off = start; off < end; off++) {
        TS_DIR(dir, "copy");
        ts_copy_dir(pristine, dir);
        ts_flip(dir, SEG1, off);
        expect_entries(dir, 20);
        ck_assert_int_eq(ts_size(dir, SEG1), start);
        ts_rmrf(dir);
    }
}
END_TEST

/* Rule: the same damage to a record that storage_sync made durable (it
 * may have been acknowledged) is refused, naming file and offset, and the
 * file is left exactly as found. */
START_TEST(test_damaged_synced_last_record_refuses)
{
    TS_DIR(pristine, "pristine");
    build(pristine, 0, 21, 0);
    long offs[32];
    ts_record_offsets(pristine, SEG1, offs, 32);
    long start = offs[20], end = ts_size(pristine, SEG1);
    for (long cut = start; cut < end; cut++) {
        TS_DIR(dir, "copy");
        ts_copy_dir(pristine, dir);
        ts_cut(dir, SEG1, cut);
        if (cut == start) {
            /* a clean cut loses the record without damage to point at */
            const char *err = ts_open_fails(dir);
            ck_assert_msg(strstr(err, "missing data") != NULL, "%s", err);
        } else {
            expect_refusal(dir, SEG1, start);
        }
        ck_assert_int_eq(ts_size(dir, SEG1), cut);
        ts_rmrf(dir);
    }
    ts_flip(pristine, SEG1, end - 1);
    expect_refusal(pristine, SEG1, start);
}
END_TEST

/* Rule: a flipped byte in an earlier record (bad CRC or framing before
 * the tail) is refused; the message names the file and the record's
 * offset, whichever byte of it was hit. */
START_TEST(test_flipped_byte_in_earlier_record_refuses)
{
    TS_DIR(pristine, "pristine");
    build(pristine, 0, 30, 0);
    long offs[32];
    ts_record_offsets(pristine, SEG1, offs, 32);
    for (long off = offs[9]; off < offs[10]; off++) {
        TS_DIR(dir, "copy");
        ts_copy_dir(pristine, dir);
        ts_flip(dir, SEG1, off);
        long size = ts_size(dir, SEG1);
        expect_refusal(dir, SEG1, offs[9]);
        ck_assert_int_eq(ts_size(dir, SEG1), size);
        ts_rmrf(dir);
    }
}
END_TEST

/* Rule: "the tail" is everything past `synced`, not just the last record:
 * records there were never acknowledged, so damage in the middle of them
 * (e.g. out-of-order writeback before a crash) drops that record and all
 * after it. */
START_TEST(test_damage_past_synced_drops_the_rest)
{
    TS_DIR(dir, "d");
    build(dir, 0, 10, 10);
    long offs[32];
    ts_record_offsets(dir, SEG1, offs, 32);
    ts_flip(dir, SEG1, offs[12] + 9);
    expect_entries(dir, 12);
    ck_assert_int_eq(ts_size(dir, SEG1), offs[12]);
}
END_TEST

/* Rule: only the newest segment can be torn (older ones were fsync'd
 * before a newer one was created): damage in an older one is refused. */
START_TEST(test_damage_in_older_segment_refuses)
{
    TS_DIR(dir, "d");
    build(dir, 512, 40, 0);
    char names[16][64];
    ck_assert_uint_ge(ts_list(dir, "log-", names, 16), 3);
    long offs[32];
    size_t n = ts_record_offsets(dir, names[0], offs, 32);
    ts_flip(dir, names[0], ts_size(dir, names[0]) - 1);
    expect_refusal(dir, names[0], offs[n - 1]);
}
END_TEST

/* Rule: segments are renamed into place with a durable header, so a bad
 * header is damage, even in the newest segment. */
START_TEST(test_bad_segment_header_refuses)
{
    TS_DIR(dir, "d");
    build(dir, 0, 5, 0);
    ts_flip(dir, SEG1, 9);
    expect_refusal(dir, SEG1, 0);
}
END_TEST

/* Rule: a damaged hard state file is a hard error naming it, whichever
 * byte was hit, and so is one cut short. */
START_TEST(test_corrupt_hard_state_refuses)
{
    TS_DIR(pristine, "pristine");
    storage_loaded ld;
    storage *s = ts_open(pristine, 0, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 3, 4);
    ts_set_hs(s, 4, "m1", 2);
    ck_assert_int_eq(storage_sync(s), 0);
    storage_close(s);
    ck_assert_int_eq(ts_size(pristine, "hardstate"), STORAGE_HS_SIZE);
    for (long off = 0; off <= STORAGE_HS_SIZE; off++) {
        TS_DIR(dir, "copy");
        ts_copy_dir(pristine, dir);
        if (off < STORAGE_HS_SIZE)
            ts_flip(dir, "hardstate", off);
        else
            ts_cut(dir, "hardstate", 50);
        const char *err = ts_open_fails(dir);
        char want[600];
        snprintf(want, sizeof(want), "%s/hardstate: offset ", dir);
        ck_assert_msg(strstr(err, want) != NULL, "byte %ld: %s", off, err);
        ts_rmrf(dir);
    }
}
END_TEST

/* Rule: a fresh directory gets a hard state file at once, so a missing
 * one next to log files means it was lost (with the vote): refused. */
START_TEST(test_missing_hard_state_refuses)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 0, &ld);
    storage_loaded_free(&ld);
    ck_assert(ts_exists(dir, "hardstate"));
    storage_close(s);
    build(dir, 0, 5, 0);
    ts_remove(dir, "hardstate");
    expect_refusal(dir, "hardstate", 0);
}
END_TEST

/* Rule: a well-formed hard state that contradicts itself (commit beyond
 * synced) is refused too: it cannot come from this code. */
START_TEST(test_inconsistent_hard_state_refuses)
{
    TS_DIR(dir, "d");
    build(dir, 0, 5, 0);
    raft_hard_state hs = {.term = 1, .commit = 9};
    uint8_t buf[STORAGE_HS_SIZE];
    storage_encode_hs(buf, &hs, 5);
    ts_write_file(dir, "hardstate", buf, sizeof(buf));
    expect_refusal(dir, "hardstate", 16);
}
END_TEST

/* Rule: a damaged snapshot file is a hard error naming it (no fallback to
 * an older snapshot: the log it would need was compacted away). */
START_TEST(test_corrupt_snapshot_refuses)
{
    TS_DIR(pristine, "pristine");
    storage_loaded ld;
    storage *s = ts_open(pristine, 0, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 10, 1);
    ts_set_hs(s, 1, "", 8);
    ck_assert_int_eq(storage_sync(s), 0);
    ck_assert_int_eq(storage_save_snapshot(s, 8, 1, "membership+state", 16),
                     0);
    storage_close(s);
    const char *snap = "snapshot-00000000000000000008.snap";
    long size = ts_size(pristine, snap);
    ck_assert_int_eq(size, STORAGE_SNAP_HDR + 16);
    for (long off = 0; off <= size; off++) {
        TS_DIR(dir, "copy");
        ts_copy_dir(pristine, dir);
        if (off < size)
            ts_flip(dir, snap, off);
        else
            ts_cut(dir, snap, size - 1);
        const char *err = ts_open_fails(dir);
        char want[600];
        snprintf(want, sizeof(want), "%s/%s: offset ", dir, snap);
        ck_assert_msg(strstr(err, want) != NULL, "byte %ld: %s", off, err);
        ts_rmrf(dir);
    }
}
END_TEST

/* Rule: temp files left by a crash before a rename are removed with a log
 * line and the previous files stay in force. */
START_TEST(test_leftover_temp_files_removed)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 0, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 5, 3);
    ts_set_hs(s, 3, "m1", 5);
    ck_assert_int_eq(storage_sync(s), 0);
    storage_close(s);
    /* a complete, valid new hard state that never got renamed */
    raft_hard_state hs = {.term = 9, .commit = 5};
    uint8_t buf[STORAGE_HS_SIZE];
    storage_encode_hs(buf, &hs, 5);
    ts_write_file(dir, "hardstate.tmp", buf, sizeof(buf));
    ts_write_file(dir, "snapshot-00000000000000000005.snap.tmp", "xx", 2);
    ts_write_file(dir, "log-00000000000000000006.seg.tmp", "", 0);

    s = ts_open(dir, 0, &ld);
    ck_assert_uint_eq(ld.hard_state.term, 3);
    ck_assert_str_eq(ld.hard_state.vote.s, "m1");
    ck_assert(!ld.has_snapshot);
    ck_assert_uint_eq(ld.n_entries, 5);
    ck_assert(!ts_exists(dir, "hardstate.tmp"));
    ck_assert(!ts_exists(dir, "snapshot-00000000000000000005.snap.tmp"));
    ck_assert(!ts_exists(dir, "log-00000000000000000006.seg.tmp"));
    ck_assert(ts_log_has("leftover temp file"));
    ck_assert(ts_log_has("hardstate.tmp"));
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: a gap in the indexes (a segment missing in the middle) is refused,
 * naming the segment after the gap. */
START_TEST(test_missing_middle_segment_refuses)
{
    TS_DIR(dir, "d");
    build(dir, 512, 100, 0);
    char names[32][64];
    ck_assert_uint_ge(ts_list(dir, "log-", names, 32), 4);
    ts_remove(dir, names[2]);
    expect_refusal(dir, names[3], 0);
    ck_assert_msg(strstr(ts_open_fails(dir), "missing segment") != NULL,
                  "message says why");
}
END_TEST

/* Rule: without a snapshot the log must start at 1; a missing first
 * segment is a gap too. */
START_TEST(test_missing_first_segment_refuses)
{
    TS_DIR(dir, "d");
    build(dir, 512, 100, 0);
    char names[32][64];
    ts_list(dir, "log-", names, 32);
    ts_remove(dir, names[0]);
    expect_refusal(dir, names[1], 0);
}
END_TEST

/* Rule: a log shorter than `synced` lost acknowledged entries, even with
 * no damaged byte to point at (here: the newest segment deleted). */
START_TEST(test_missing_newest_segment_refuses)
{
    TS_DIR(dir, "d");
    build(dir, 512, 100, 0);
    char names[32][64];
    size_t n = ts_list(dir, "log-", names, 32);
    ts_remove(dir, names[n - 1]);
    const char *err = ts_open_fails(dir);
    ck_assert_msg(strstr(err, names[n - 2]) && strstr(err, "missing data"),
                  "%s", err);
}
END_TEST

/* Rule: truncate_from lowers `synced` durably before touching the log, so
 * a crash right after a truncation is not mistaken for lost entries. */
START_TEST(test_interrupted_truncation_recovers)
{
    TS_DIR(dir, "d");
    build(dir, 512, 100, 0);
    storage_loaded ld;
    storage *s = ts_open(dir, 512, &ld);
    storage_loaded_free(&ld);
    ck_assert_int_eq(storage_truncate_from(s, 30), 0);
    storage_close(s);                   /* crash before the new entries */
    expect_entries(dir, 29);
}
END_TEST

/* Writes what storage_install_snapshot writes first: the snapshot file and
 * the lowered watermark. */
static void
fake_install(const char *dir, uint64_t index, uint64_t term)
{
    uint8_t hdr[STORAGE_SNAP_HDR];
    storage_encode_snap_hdr(hdr, index, term, "s", 1);
    uint8_t file[STORAGE_SNAP_HDR + 1];
    memcpy(file, hdr, sizeof(hdr));
    file[STORAGE_SNAP_HDR] = 's';
    char name[STORAGE_NAME_MAX];
    storage_snap_name(name, index);
    ts_write_file(dir, name, file, sizeof(file));
    raft_hard_state hs = {.term = term};
    uint8_t buf[STORAGE_HS_SIZE];
    storage_encode_hs(buf, &hs, index);
    ts_write_file(dir, "hardstate", buf, sizeof(buf));
}

/* Rule: an install interrupted while deleting the old log leaves a prefix
 * of it; if that prefix disagrees with the snapshot's term at its index,
 * the entries after it are dropped (with a warning); if it agrees, Raft's
 * Log Matching lets them stay. */
START_TEST(test_interrupted_install_drops_stale_entries)
{
    TS_DIR(dir, "d");
    build(dir, 512, 100, 0);
    char names[32][64];
    size_t n = ts_list(dir, "log-", names, 32);
    ts_remove(dir, names[n - 1]);       /* deleted newest first */
    fake_install(dir, 30, 2);
    storage_loaded ld;
    storage *s = ts_open(dir, 512, &ld);
    ck_assert_uint_eq(ld.snap_index, 30);
    ck_assert_uint_eq(ld.n_entries, 0);
    ck_assert_uint_eq(storage_last_index(s), 30);
    ck_assert(ts_log_has("interrupted snapshot install"));
    storage_loaded_free(&ld);
    ts_append_sync(s, 31, 5, 2);
    storage_close(s);
    s = ts_open(dir, 512, &ld);
    ck_assert_uint_eq(ld.n_entries, 5);
    ts_check_range(&ld, 0, 31, 5, 2);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

START_TEST(test_interrupted_install_keeps_matching_entries)
{
    TS_DIR(dir, "d");
    build(dir, 512, 100, 0);
    char names[32][64];
    size_t n = ts_list(dir, "log-", names, 32);
    ts_remove(dir, names[n - 1]);
    uint64_t last = strtoull(names[n - 1] + 4, NULL, 10) - 1;
    fake_install(dir, 30, 1);
    storage_loaded ld;
    storage *s = ts_open(dir, 512, &ld);
    ck_assert_uint_eq(ld.snap_index, 30);
    ck_assert_uint_eq(ld.n_entries, last - 30);
    ts_check_range(&ld, 0, 31, last - 30, 1);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: compaction's deletions need no fsync: segments covered by the
 * snapshot and older snapshots that survive a crash are removed on open,
 * and whatever subset survived, the log after the snapshot is intact. */
START_TEST(test_interrupted_compaction_cleaned_up)
{
    TS_DIR(dir, "d");
    TS_DIR(before, "before");
    build(dir, 512, 100, 0);
    ts_copy_dir(dir, before);
    storage_loaded ld;
    storage *s = ts_open(dir, 512, &ld);
    storage_loaded_free(&ld);
    ts_set_hs(s, 1, "", 100);
    ck_assert_int_eq(storage_sync(s), 0);
    ck_assert_int_eq(storage_save_snapshot(s, 60, 1, "s", 1), 0);
    storage_close(s);
    /* resurrect every other deleted segment and an older snapshot */
    char names[32][64];
    size_t n = ts_list(before, "log-", names, 32), back = 0;
    for (size_t i = 0; i < n; i++)
        if (!ts_exists(dir, names[i]) && i % 2 == 0) {
            ts_copy_file(before, dir, names[i]);
            back++;
        }
    ck_assert_uint_ge(back, 1);
    uint8_t hdr[STORAGE_SNAP_HDR];
    storage_encode_snap_hdr(hdr, 20, 1, NULL, 0);
    ts_write_file(dir, "snapshot-00000000000000000020.snap", hdr,
                  sizeof(hdr));
    s = ts_open(dir, 512, &ld);
    ck_assert_uint_eq(ld.snap_index, 60);
    ck_assert_uint_eq(ld.n_entries, 40);
    ts_check_range(&ld, 0, 61, 40, 1);
    ck_assert(!ts_exists(dir, "snapshot-00000000000000000020.snap"));
    ck_assert(ts_log_has("superseded by the snapshot at 60"));
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

void
ts_add_recovery_tests(Suite *suite)
{
    TCase *tc = tcase_create("recovery");
    tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_torn_tail_cut_at_every_offset_recovers);
    tcase_add_test(tc, test_flipped_byte_in_last_record_recovers);
    tcase_add_test(tc, test_damaged_synced_last_record_refuses);
    tcase_add_test(tc, test_flipped_byte_in_earlier_record_refuses);
    tcase_add_test(tc, test_damage_past_synced_drops_the_rest);
    tcase_add_test(tc, test_damage_in_older_segment_refuses);
    tcase_add_test(tc, test_bad_segment_header_refuses);
    tcase_add_test(tc, test_corrupt_hard_state_refuses);
    tcase_add_test(tc, test_missing_hard_state_refuses);
    tcase_add_test(tc, test_inconsistent_hard_state_refuses);
    tcase_add_test(tc, test_corrupt_snapshot_refuses);
    tcase_add_test(tc, test_leftover_temp_files_removed);
    tcase_add_test(tc, test_missing_middle_segment_refuses);
    tcase_add_test(tc, test_missing_first_segment_refuses);
    tcase_add_test(tc, test_missing_newest_segment_refuses);
    tcase_add_test(tc, test_interrupted_truncation_recovers);
    tcase_add_test(tc, test_interrupted_install_drops_stale_entries);
    tcase_add_test(tc, test_interrupted_install_keeps_matching_entries);
    tcase_add_test(tc, test_interrupted_compaction_cleaned_up);
    suite_add_tcase(suite, tc);
}
