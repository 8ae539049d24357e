/*
 * Storage (src/node/storage*.c): what goes in comes back out.  Each test
 * names the rule it checks; the damage and crash cases are in
 * test_storage_recovery.c.  Real files in a scratch dir per test.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "node/storage.h"
#include "node/storage_internal.h"
#include "test_storage_util.h"

/* Rule: CRC32C matches the published vectors (RFC 3720 B.4) and chains. */
START_TEST(test_crc32c_known_vectors)
{
    ck_assert_uint_eq(storage_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(storage_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    ck_assert_uint_eq(storage_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    ck_assert_uint_eq(storage_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    ck_assert_uint_eq(storage_crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    ck_assert_uint_eq(storage_crc32c(0, buf, 32), 0x113FDB5Cu);
    ck_assert_uint_eq(storage_crc32c(0, "", 0), 0);
    uint32_t part = storage_crc32c(0, "1234", 4);
    ck_assert_uint_eq(storage_crc32c(part, "56789", 5), 0xE3069283u);
}
END_TEST

/* Rule: the hardware path (when the CPU has one) equals the table path for
 * every length and alignment. */
START_TEST(test_crc32c_fast_path_matches_table)
{
    uint8_t buf[300];
    uint64_t seed = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        seed = (seed * 1103515245u + 12345u) & 0x7fffffffu;
        buf[i] = (uint8_t)(seed >> 16);
    }
    for (size_t start = 0; start < 9; start++)
        for (size_t len = 0; len + start <= sizeof(buf); len += 7)
            ck_assert_uint_eq(storage_crc32c(7, buf + start, len),
                              storage_crc32c_sw(7, buf + start, len));
}
END_TEST

/* Rule: a missing data_dir is created and opens as fresh, empty state. */
START_TEST(test_fresh_directory_is_empty_state)
{
    storage_loaded ld;
    storage *s = ts_open(ts_path("new"), 0, &ld);
    ck_assert(ts_exists(ts_path("new"), "LOCK"));
    ck_assert_uint_eq(ld.n_entries, 0);
    ck_assert(!ld.has_snapshot);
    ck_assert_uint_eq(ld.hard_state.term, 0);
    ck_assert_str_eq(ld.hard_state.vote.s, "");
    ck_assert_uint_eq(storage_last_index(s), 0);
    ck_assert_uint_eq(storage_first_index(s), 1);
    storage_loaded_free(&ld);
    storage_close(s);
    /* and an existing but empty directory is fresh state too */
    s = ts_open(ts_path("new"), 0, &ld);
    ck_assert_uint_eq(ld.n_entries, 0);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: append + sync, close, reopen returns every entry and the hard
 * state unchanged (term, index, type, payload, empty payloads too). */
START_TEST(test_round_trip)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 0, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 10, 1);
    raft_entry empty = {.term = 2, .index = 11, .type = RAFT_ENTRY_NOOP};
    ck_assert_int_eq(storage_append(s, &empty, 1), 0);
    ts_set_hs(s, 2, "m2", 9);
    ck_assert_int_eq(storage_sync(s), 0);
    ts_append_sync(s, 12, 5, 2);
    ck_assert_uint_eq(storage_last_index(s), 16);
    storage_close(s);

    s = ts_open(dir, 0, &ld);
    ck_assert_uint_eq(ld.n_entries, 16);
    ts_check_range(&ld, 0, 1, 10, 1);
    ck_assert_uint_eq(ld.entries[10].index, 11);
    ck_assert_uint_eq(ld.entries[10].len, 0);
    ck_assert_ptr_null(ld.entries[10].data);
    ts_check_range(&ld, 11, 12, 5, 2);
    ck_assert_uint_eq(ld.hard_state.term, 2);
    ck_assert_str_eq(ld.hard_state.vote.s, "m2");
    ck_assert_uint_eq(ld.hard_state.commit, 9);
    ck_assert_uint_eq(storage_last_index(s), 16);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: after a reopen, appends continue the same segment seamlessly. */
START_TEST(test_reopen_then_append_continues)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    for (int round = 0; round < 3; round++) {
        storage *s = ts_open(dir, 0, &ld);
        ck_assert_uint_eq(ld.n_entries, (size_t)round * 5);
        storage_loaded_free(&ld);
        ts_append_sync(s, (uint64_t)round * 5 + 1, 5, 1);
        storage_close(s);
    }
    storage *s = ts_open(dir, 0, &ld);
    ts_check_range(&ld, 0, 1, 15, 1);
    char names[8][64];
    ck_assert_uint_eq(ts_list(dir, "log-", names, 8), 1);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: a segment rolls once it would pass segment_bytes; names carry the
 * first index (20 digits) and the segments chain without gaps. */
START_TEST(test_segment_rolling)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 512, &ld);
    storage_loaded_free(&ld);
    for (uint64_t i = 1; i <= 100; i += 10)
        ts_append_sync(s, i, 10, 1);
    storage_close(s);

    char names[64][64];
    size_t n = ts_list(dir, "log-", names, 64);
    ck_assert_uint_ge(n, 6);
    ck_assert_str_eq(names[0], "log-00000000000000000001.seg");
    for (size_t i = 0; i < n; i++)
        ck_assert_int_le(ts_size(dir, names[i]), 512);
    s = ts_open(dir, 512, &ld);
    ts_check_range(&ld, 0, 1, 100, 1);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: truncate_from drops entries >= index even across segments; what
 * follows is appended in their place and survives a reopen. */
START_TEST(test_truncate_across_segments_then_append)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 512, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 100, 1);
    ts_set_hs(s, 2, "", 20);
    ck_assert_int_eq(storage_sync(s), 0);
    char names[64][64];
    size_t before = ts_list(dir, "log-", names, 64);

    ck_assert_int_eq(storage_truncate_from(s, 30), 0);
    ck_assert_uint_eq(storage_last_index(s), 29);
    ck_assert_uint_lt(ts_list(dir, "log-", names, 64), before);
    ts_append_sync(s, 30, 11, 2);
    storage_close(s);

    s = ts_open(dir, 512, &ld);
    ck_assert_uint_eq(ld.n_entries, 40);
    ts_check_range(&ld, 0, 1, 29, 1);
    ts_check_range(&ld, 29, 30, 11, 2);
    storage_loaded_free(&ld);
    /* a truncation at a segment's first index leaves it empty, reusable */
    size_t n = ts_list(dir, "log-", names, 64);
    uint64_t first = strtoull(names[n - 1] + 4, NULL, 10);
    ck_assert_int_eq(storage_truncate_from(s, first), 0);
    ts_append_sync(s, first, 3, 3);
    storage_close(s);
    s = ts_open(dir, 512, &ld);
    ck_assert_uint_eq(ld.n_entries, first + 2);
    ts_check_range(&ld, first - 1, first, 3, 3);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: committed or snapshotted entries are never truncated; beyond the
 * end is a no-op; refused calls change nothing. */
START_TEST(test_truncate_refuses_committed)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 0, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 10, 1);
    ts_set_hs(s, 1, "", 6);
    ck_assert_int_eq(storage_sync(s), 0);
    ck_assert_int_eq(storage_truncate_from(s, 11), 0);
    ck_assert_int_eq(storage_truncate_from(s, 6), -1);
    ck_assert_ptr_nonnull(strstr(storage_error(s), "commit"));
    ck_assert_int_eq(storage_truncate_from(s, 7), 0);
    ck_assert_uint_eq(storage_last_index(s), 6);
    ck_assert_int_eq(storage_save_snapshot(s, 5, 1, "x", 1), 0);
    ck_assert_int_eq(storage_truncate_from(s, 5), -1);
    ck_assert_uint_eq(storage_last_index(s), 6);
    storage_close(s);
}
END_TEST

/* Rule: the hard state round-trips; a term never goes back and a term
 * never holds two different votes (refused before reaching disk). */
START_TEST(test_hard_state_round_trip_and_vote_rules)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 0, &ld);
    storage_loaded_free(&ld);
    ts_set_hs(s, 5, "monitor-2.example", 0);
    ck_assert_int_eq(storage_sync(s), 0);
    ck_assert(!ts_exists(dir, "hardstate.tmp"));
    raft_hard_state hs = {.term = 5};
    snprintf(hs.vote.s, sizeof(hs.vote.s), "m3");
    ck_assert_int_eq(storage_set_hard_state(s, &hs), -1);
    ck_assert_ptr_nonnull(strstr(storage_error(s), "already has a vote"));
    hs.vote.s[0] = '\0';
    ck_assert_int_eq(storage_set_hard_state(s, &hs), -1);
    hs.term = 4;
    ck_assert_int_eq(storage_set_hard_state(s, &hs), -1);
    storage_close(s);

    s = ts_open(dir, 0, &ld);
    ck_assert_uint_eq(ld.hard_state.term, 5);
    ck_assert_str_eq(ld.hard_state.vote.s, "monitor-2.example");
    ck_assert_uint_eq(ld.hard_state.commit, 0);
    storage_loaded_free(&ld);
    ts_set_hs(s, 6, "", 0);
    ck_assert_int_eq(storage_sync(s), 0);
    storage_close(s);
    s = ts_open(dir, 0, &ld);
    ck_assert_uint_eq(ld.hard_state.term, 6);
    ck_assert_str_eq(ld.hard_state.vote.s, "");
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: a saved snapshot is durable, segments holding only entries <= its
 * index are deleted, and a reload returns the snapshot plus only the
 * entries after it. */
START_TEST(test_snapshot_compacts_and_reload_skips_covered)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 512, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 100, 1);
    ts_set_hs(s, 1, "", 100);
    ck_assert_int_eq(storage_sync(s), 0);
    char names[64][64];
    size_t before = ts_list(dir, "log-", names, 64);
    ck_assert_int_eq(storage_save_snapshot(s, 60, 1, "state@60", 8), 0);
    ck_assert(ts_exists(dir, "snapshot-00000000000000000060.snap"));
    size_t after = ts_list(dir, "log-", names, 64);
    ck_assert_uint_lt(after, before);
    /* every remaining segment but the first starts after the snapshot, and
     * the first still holds entry 61 */
    ck_assert_uint_le(strtoull(names[0] + 4, NULL, 10), 61);
    if (after > 1)
        ck_assert_uint_gt(strtoull(names[1] + 4, NULL, 10), 61);
    storage_close(s);

    s = ts_open(dir, 512, &ld);
    ck_assert(ld.has_snapshot);
    ck_assert_uint_eq(ld.snap_index, 60);
    ck_assert_uint_eq(ld.snap_term, 1);
    ck_assert_uint_eq(ld.snap_len, 8);
    ck_assert_mem_eq(ld.snap_data, "state@60", 8);
    ck_assert_uint_eq(ld.n_entries, 40);
    ts_check_range(&ld, 0, 61, 40, 1);
    ck_assert_uint_eq(storage_first_index(s), 61);
    storage_loaded_free(&ld);

    /* a newer snapshot replaces the file, and an empty blob is fine */
    ck_assert_int_eq(storage_save_snapshot(s, 100, 1, NULL, 0), 0);
    ck_assert_uint_eq(ts_list(dir, "snapshot-", names, 64), 1);
    ck_assert_int_eq(storage_save_snapshot(s, 90, 1, "x", 1), -1);
    ts_append_sync(s, 101, 5, 2);
    storage_close(s);
    s = ts_open(dir, 512, &ld);
    ck_assert_uint_eq(ld.snap_index, 100);
    ck_assert_ptr_null(ld.snap_data);
    ts_check_range(&ld, 0, 101, 5, 2);
    ck_assert_uint_eq(ld.n_entries, 5);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: a snapshot at the very last index keeps the segment being
 * appended to (it still holds entries <= index, never returned) and the
 * log continues in it at index + 1. */
START_TEST(test_snapshot_at_last_index_keeps_tail)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 0, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 10, 1);
    ts_set_hs(s, 1, "", 10);
    ck_assert_int_eq(storage_sync(s), 0);
    ck_assert_int_eq(storage_save_snapshot(s, 10, 1, "s", 1), 0);
    ck_assert(ts_exists(dir, "log-00000000000000000001.seg"));
    storage_close(s);
    s = ts_open(dir, 0, &ld);
    ck_assert_uint_eq(ld.n_entries, 0);
    ck_assert_uint_eq(storage_last_index(s), 10);
    storage_loaded_free(&ld);
    ts_append_sync(s, 11, 5, 1);
    storage_close(s);
    s = ts_open(dir, 0, &ld);
    ck_assert_uint_eq(ld.n_entries, 5);
    ts_check_range(&ld, 0, 11, 5, 1);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: a snapshot from the leader replaces the whole log; the log then
 * continues at its index + 1. */
START_TEST(test_install_snapshot_replaces_log)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 512, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 50, 1);
    ts_set_hs(s, 3, "m1", 10);
    ck_assert_int_eq(storage_sync(s), 0);
    ck_assert_int_eq(storage_install_snapshot(s, 5, 3, "x", 1), -1);
    ck_assert_int_eq(storage_install_snapshot(s, 200, 3, "leader", 6), 0);
    char names[64][64];
    ck_assert_uint_eq(ts_list(dir, "log-", names, 64), 0);
    ck_assert_uint_eq(storage_last_index(s), 200);
    ts_set_hs(s, 3, "m1", 200);
    ts_append_sync(s, 201, 10, 3);
    storage_close(s);

    s = ts_open(dir, 512, &ld);
    ck_assert_uint_eq(ld.snap_index, 200);
    ck_assert_uint_eq(ld.snap_term, 3);
    ck_assert_mem_eq(ld.snap_data, "leader", 6);
    ck_assert_uint_eq(ld.hard_state.commit, 200);
    ck_assert_uint_eq(ld.n_entries, 10);
    ts_check_range(&ld, 0, 201, 10, 3);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: two handles can never share a data_dir; the error names LOCK. */
START_TEST(test_lock_prevents_second_open)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 0, &ld);
    storage_loaded_free(&ld);
    const char *err = ts_open_fails(dir);
    char want[600];
    snprintf(want, sizeof(want), "%s/LOCK", dir);
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);
    ck_assert_msg(strstr(err, "pid ") != NULL, "%s", err);
    storage_close(s);
    s = ts_open(dir, 0, &ld);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

/* Rule: a batch costs one fdatasync of the segment plus the atomic hard
 * state (temp file + directory): three, however many entries; an idle
 * sync costs none.  bytes_written counts exactly what was written. */
START_TEST(test_one_fsync_per_file_per_batch)
{
    storage_loaded ld;
    storage *s = ts_open(ts_path("d"), 0, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 10, 1);
    storage_stats a, b;
    storage_get_stats(s, &a);
    raft_entry *e = ts_entries(11, 500, 1);
    uint64_t bytes = STORAGE_HS_SIZE;
    for (size_t i = 0; i < 500; i++)
        bytes += STORAGE_REC_MIN + e[i].len;
    ck_assert_int_eq(storage_append(s, e, 500), 0);
    ck_assert_int_eq(storage_sync(s), 0);
    storage_get_stats(s, &b);
    ck_assert_uint_eq(b.fsyncs - a.fsyncs, 3);
    ck_assert_uint_eq(b.bytes_written - a.bytes_written, bytes);
    ck_assert_uint_eq(b.entries_appended - a.entries_appended, 500);
    ck_assert_int_eq(storage_sync(s), 0);
    storage_get_stats(s, &a);
    ck_assert_uint_eq(a.fsyncs, b.fsyncs);
    ts_free_entries(e, 500);
    storage_close(s);
}
END_TEST

/* Rule: a batch with a wrong or non-consecutive index is refused whole
 * and leaves nothing behind. */
START_TEST(test_append_rejects_bad_batch)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 0, &ld);
    storage_loaded_free(&ld);
    raft_entry *e = ts_entries(1, 3, 1);
    e[2].index = 4;
    ck_assert_int_eq(storage_append(s, e, 3), -1);
    ck_assert_ptr_nonnull(strstr(storage_error(s), "expected 3"));
    ck_assert_uint_eq(storage_last_index(s), 0);
    ck_assert_int_eq(storage_append(s, e + 1, 1), -1);
    ck_assert_int_eq(storage_append(s, e, 2), 0);
    ck_assert_int_eq(storage_sync(s), 0);
    ck_assert_uint_eq(storage_last_index(s), 2);
    ts_free_entries(e, 3);
    ts_set_hs(s, 1, "", 3);
    ck_assert_int_eq(storage_sync(s), -1);  /* commit beyond the log */
    storage_close(s);
}
END_TEST

static int
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* Rule: no descriptor outlives its handle, on success or on a refused
 * open (a daemon that retries must not leak). */
START_TEST(test_no_descriptor_leaks)
{
    TS_DIR(dir, "d");
    int before = count_fds();
    storage_loaded ld;
    storage *s = ts_open(dir, 512, &ld);
    storage_loaded_free(&ld);
    ts_append_sync(s, 1, 100, 1);
    ck_assert_int_eq(storage_truncate_from(s, 50), 0);
    ts_append_sync(s, 50, 20, 2);
    ts_open_fails(dir);                 /* locked */
    storage_close(s);
    ck_assert_int_eq(count_fds(), before);
    ts_flip(dir, "log-00000000000000000001.seg", 30);
    ts_open_fails(dir);                 /* damaged */
    ck_assert_int_eq(count_fds(), before);
}
END_TEST

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Rule (performance): loading 100,000 small entries takes well under a
 * second.  The bound here is loose for sanitizer builds; the measured
 * time is printed. */
START_TEST(test_load_100k_entries)
{
    TS_DIR(dir, "d");
    storage_loaded ld;
    storage *s = ts_open(dir, 0, &ld);
    storage_loaded_free(&ld);
    for (uint64_t i = 1; i <= 100000; i += 10000)
        ts_append_sync(s, i, 10000, 1);
    storage_close(s);

    double t0 = now_ms();
    s = ts_open(dir, 0, &ld);
    double ms = now_ms() - t0;
    printf("storage: loaded %zu entries in %.1f ms\n", ld.n_entries, ms);
    ck_assert_uint_eq(ld.n_entries, 100000);
    ck_assert_uint_eq(ld.entries[99999].index, 100000);
    ck_assert_double_lt(ms, 1000.0);
    storage_loaded_free(&ld);
    storage_close(s);
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("storage");
    TCase *tc = tcase_create("basics");
    tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_crc32c_known_vectors);
    tcase_add_test(tc, test_crc32c_fast_path_matches_table);
    tcase_add_test(tc, test_fresh_directory_is_empty_state);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_reopen_then_append_continues);
    tcase_add_test(tc, test_segment_rolling);
    tcase_add_test(tc, test_truncate_across_segments_then_append);
    tcase_add_test(tc, test_truncate_refuses_committed);
    tcase_add_test(tc, test_hard_state_round_trip_and_vote_rules);
    tcase_add_test(tc, test_snapshot_compacts_and_reload_skips_covered);
    tcase_add_test(tc, test_snapshot_at_last_index_keeps_tail);
    tcase_add_test(tc, test_install_snapshot_replaces_log);
    tcase_add_test(tc, test_lock_prevents_second_open);
    tcase_add_test(tc, test_one_fsync_per_file_per_batch);
    tcase_add_test(tc, test_append_rejects_bad_batch);
    tcase_add_test(tc, test_no_descriptor_leaks);
    tcase_add_test(tc, test_load_100k_entries);
    suite_add_tcase(suite, tc);
    ts_add_recovery_tests(suite);
    return check_run(suite);
}
