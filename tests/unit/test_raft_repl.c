/*
 * test_raft_repl.c -- log replication, commit, durability and the ready
 * contract.  Each test names the Raft rule it checks (Ongaro's thesis).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "core/raft.h"
#include "test_raft_net.h"

static raft_status
status(raft *r)
{
    raft_status st;
    raft_get_status(r, &st);
    return st;
}

static raft_entry
ent(uint64_t term, uint64_t index)
{
    raft_entry e = {.term = term, .index = index, .type = RAFT_ENTRY_NORMAL};
    return e;
}

/* A follower "n1" of voters n1..n3 restored with [1: bootstrap conf, then
 * terms[] for indexes 2..] and the given hard state. */
static raft *
follower_with_log(const uint64_t *terms, size_t n, uint64_t term, uint64_t commit)
{
    tn_net *t = tn_net_new(1, 3, NULL);
    raft_entry e[16];
    e[0] = t->nodes[0].log[0];
    for (size_t i = 0; i < n; i++)
        e[i + 1] = ent(terms[i], i + 2);
    raft_hard_state hs = {.term = term, .commit = commit};
    raft_config c = tn_config("n1");
    raft *r = raft_new(&c);
    ck_assert_int_eq(raft_restore(r, &hs, NULL, e, n + 1), RAFT_OK);
    raft_tick(r, 0);
    tn_net_free(t);
    tn_settle(r);
    return r;
}

static raft_msg
append(const char *from, uint64_t term, uint64_t prev, uint64_t prev_term,
       uint64_t commit, raft_entry *e, uint32_t n)
{
    raft_msg m = tn_msg(RAFT_MSG_APPEND, from, "n1", term);
    m.index = prev;
    m.log_term = prev_term;
    m.commit = commit;
    m.entries = e;
    m.n_entries = n;
    return m;
}

/* 5.4.2 / 8: a new leader appends a no-op of its term at once. */
START_TEST(test_new_leader_appends_noop_of_its_term)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    int l = tn_elect(t, 0);
    ck_assert_int_eq(l, 0);
    raft_status st = status(t->nodes[0].r);
    ck_assert_uint_eq(st.last_term, st.term);
    tn_node *nd = &t->nodes[0];
    ck_assert_uint_eq(nd->log[nd->n_log - 1].type, RAFT_ENTRY_NOOP);
    ck_assert_uint_eq(nd->log[nd->n_log - 1].term, st.term);
    ck_assert_uint_eq(st.commit, st.last_index);   /* committed via the no-op */
    tn_net_free(t);
}
END_TEST

/* 5.3: entries committed by the leader are applied by every node in the
 * same order. */
START_TEST(test_replication_applies_same_sequence)
{
    tn_net *t = tn_net_new(5, 5, NULL);
    int l = tn_wait_leader(t, 2000);
    ck_assert_int_ge(l, 0);
    for (int i = 0; i < 30; i++) {
        char buf[16];
        snprintf(buf, sizeof(buf), "cmd%d", i);
        ck_assert_uint_gt(tn_propose(t, l, buf), 0);
    }
    tn_run(t, 100);
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(t->nodes[i].sm_count, 30);
        ck_assert_uint_eq(t->nodes[i].sm_hash, t->nodes[l].sm_hash);
        ck_assert_uint_eq(t->nodes[i].applied, t->nodes[l].applied);
    }
    tn_net_free(t);
}
END_TEST

/* 5.3 consistency check: an append whose previous entry does not match is
 * rejected, the log untouched, with a conflict hint (index = last index
 * not newer than the leader's previous term, and its term). */
START_TEST(test_prev_log_mismatch_rejected_with_hint)
{
    uint64_t terms[] = {1, 2, 2};               /* indexes 2..4 */
    raft *r = follower_with_log(terms, 3, 2, 1);
    raft_entry e[1] = {ent(4, 7)};
    raft_msg m = append("n2", 4, 6, 4, 1, e, 1);
    raft_step(r, &m);
    raft_ready rd;
    raft_get_ready(r, &rd);
    const raft_msg *resp = tn_find(&rd, RAFT_MSG_APPEND_RESP, "n2");
    ck_assert(resp->reject);
    ck_assert_uint_eq(resp->index, 6);
    ck_assert_uint_eq(resp->hint_index, 4);     /* our last index */
    ck_assert_uint_eq(resp->hint_term, 2);
    ck_assert_uint_eq(rd.n_entries, 0);
    raft_advance(r, &rd);
    /* Previous term 1 at index 4: skip the whole term-2 run. */
    m = append("n2", 4, 4, 1, 1, NULL, 0);
    raft_step(r, &m);
    raft_get_ready(r, &rd);
    resp = tn_find(&rd, RAFT_MSG_APPEND_RESP, "n2");
    ck_assert(resp->reject);
    ck_assert_uint_eq(resp->hint_index, 2);
    ck_assert_uint_eq(resp->hint_term, 1);
    raft_advance(r, &rd);
    ck_assert_uint_eq(status(r).last_index, 4);
    raft_free(r);
}
END_TEST

/* Log Matching (5.3): a stale or duplicated append whose entries we
 * already hold must not truncate the matching suffix after them. */
START_TEST(test_stale_append_never_truncates_matching_suffix)
{
    uint64_t terms[] = {2, 2, 2};
    raft *r = follower_with_log(terms, 3, 2, 1);
    raft_entry e[1] = {ent(2, 2)};
    raft_msg m = append("n2", 2, 1, 1, 1, e, 1);
    raft_step(r, &m);
    raft_ready rd;
    raft_get_ready(r, &rd);
    ck_assert_uint_eq(rd.truncate_from, 0);
    ck_assert_uint_eq(rd.n_entries, 0);
    const raft_msg *resp = tn_find(&rd, RAFT_MSG_APPEND_RESP, "n2");
    ck_assert(!resp->reject);
    ck_assert_uint_eq(resp->index, 2);           /* what this append proved */
    raft_advance(r, &rd);
    ck_assert_uint_eq(status(r).last_index, 4);
    raft_free(r);
}
END_TEST

/* 5.3: a conflicting entry (same index, other term) and all that follow
 * it are deleted -- on disk too (truncate_from) -- and replaced. */
START_TEST(test_conflicting_suffix_truncated_and_replaced)
{
    uint64_t terms[] = {2, 2, 2};
    raft *r = follower_with_log(terms, 3, 2, 1);
    raft_entry e[2] = {ent(2, 2), ent(3, 3)};
    raft_msg m = append("n2", 3, 1, 1, 1, e, 2);
    raft_step(r, &m);
    raft_ready rd;
    raft_get_ready(r, &rd);
    ck_assert_uint_eq(rd.truncate_from, 3);
    ck_assert_uint_eq(rd.n_entries, 1);
    ck_assert_uint_eq(rd.entries[0].index, 3);
    ck_assert_uint_eq(rd.entries[0].term, 3);
    raft_advance(r, &rd);
    raft_status st = status(r);
    ck_assert_uint_eq(st.last_index, 3);
    ck_assert_uint_eq(st.last_term, 3);
    raft_free(r);
}
END_TEST

/* 5.3: a follower commits min(leaderCommit, index of last new entry) --
 * beyond that its log may still differ from the leader's. */
START_TEST(test_follower_commit_bounded_by_last_new_entry)
{
    uint64_t terms[] = {1, 1, 1, 1};             /* stale tail 2..5 */
    raft *r = follower_with_log(terms, 4, 1, 1);
    raft_msg m = append("n2", 2, 1, 1, 9, NULL, 0);
    raft_step(r, &m);
    ck_assert_uint_eq(status(r).commit, 1);
    tn_settle(r);
    raft_entry e[1] = {ent(1, 2)};
    m = append("n2", 2, 1, 1, 9, e, 1);
    raft_step(r, &m);
    ck_assert_uint_eq(status(r).commit, 2);
    tn_settle(r);
    /* Commit never decreases. */
    m = tn_msg(RAFT_MSG_HEARTBEAT, "n2", "n1", 2);
    m.commit = 1;
    raft_step(r, &m);
    ck_assert_uint_eq(status(r).commit, 2);
    raft_free(r);
}
END_TEST

/* 5.4.2 (Figure 8): a leader does not commit an entry of an older term by
 * counting replicas; only entries of its own term, which then commit the
 * older ones before them. */
START_TEST(test_commit_only_by_counting_current_term)
{
    uint64_t terms[] = {2};                      /* index 2: term 2 */
    raft *r = follower_with_log(terms, 1, 2, 1);
    for (uint64_t now = 1; status(r).role != RAFT_CANDIDATE; now++)
        raft_tick(r, now);
    tn_settle(r);
    raft_msg v = tn_msg(RAFT_MSG_VOTE_RESP, "n2", "n1", 3);
    raft_step(r, &v);
    ck_assert_int_eq(status(r).role, RAFT_LEADER);
    tn_settle(r);                                /* no-op 3 durable */
    raft_msg ok = tn_msg(RAFT_MSG_APPEND_RESP, "n2", "n1", 3);
    ok.index = 2;
    raft_step(r, &ok);
    tn_settle(r);
    ck_assert_uint_eq(status(r).commit, 1);      /* 2 is on 2 of 3: not enough */
    ok.index = 3;
    raft_step(r, &ok);
    tn_settle(r);
    ck_assert_uint_eq(status(r).commit, 3);
    /* A stale (reordered) success and a stale rejection change nothing. */
    ok.index = 2;
    raft_step(r, &ok);
    raft_msg rej = tn_msg(RAFT_MSG_APPEND_RESP, "n2", "n1", 3);
    rej.reject = true;
    rej.index = 1;
    raft_step(r, &rej);
    raft_status st = status(r);
    ck_assert_uint_eq(st.commit, 3);
    for (uint32_t i = 0; i < st.n_peers; i++)
        if (strcmp(st.peers[i].id.s, "n2") == 0) {
            ck_assert_uint_eq(st.peers[i].match, 3);
            ck_assert_uint_eq(st.peers[i].next, 4);
        }
    tn_settle(r);
    raft_free(r);
}
END_TEST

/* Fast backtracking (5.3, optimization): a follower with a long divergent
 * tail converges in a few round trips, not one per entry. */
START_TEST(test_fast_backtracking_with_conflict_hints)
{
    raft_config c = tn_config("x");
    c.max_msg_entries = 64;
    tn_net *t = tn_net_new(3, 3, &c);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_isolate(t, 0);                            /* n1 leads alone */
    for (int i = 0; i < 40; i++)
        raft_propose(t->nodes[0].r, "x", 1, NULL);
    tn_flush(t);
    tn_crash(t, 0);
    tn_heal(t);
    ck_assert_int_eq(tn_elect(t, 1), 1);
    for (int i = 0; i < 5; i++)
        tn_propose(t, 1, "y");
    t->rejects = 0;
    tn_restart(t, 0);
    tn_run(t, 200);
    ck_assert_uint_le(t->rejects, 3);
    ck_assert_uint_eq(t->nodes[0].sm_hash, t->nodes[1].sm_hash);
    ck_assert_uint_eq(status(t->nodes[0].r).last_index,
                      status(t->nodes[1].r).last_index);
    tn_net_free(t);
}
END_TEST

/* Flow control: at most max_inflight appends are outstanding per peer. */
START_TEST(test_inflight_appends_bounded)
{
    raft_config c = tn_config("x");
    c.max_inflight = 2;
    c.max_msg_entries = 1;
    tn_net *t = tn_net_new(3, 3, &c);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_propose(t, 0, "warm");                    /* n2 now replicating */
    t->cut[1][0] = true;                         /* n2's answers are lost */
    t->appends_to[1] = 0;
    for (int i = 0; i < 10; i++)
        tn_propose(t, 0, "z");
    ck_assert_uint_eq(t->appends_to[1], 2);
    tn_heal(t);
    tn_run(t, 300);
    ck_assert_uint_eq(t->nodes[1].applied, t->nodes[0].applied);
    tn_net_free(t);
}
END_TEST

/* A heartbeat never tells a follower to commit beyond its match index:
 * past it the follower's log may differ from the leader's. */
START_TEST(test_heartbeat_commit_bounded_by_match)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_isolate(t, 2);
    t->cut[0][1] = t->cut[1][0] = false;
    for (int i = 0; i < 5; i++)
        tn_propose(t, 0, "w");
    raft *l = t->nodes[0].r;
    raft_status st = status(l);
    uint64_t match3 = 0;
    for (uint32_t i = 0; i < st.n_peers; i++)
        if (strcmp(st.peers[i].id.s, "n3") == 0)
            match3 = st.peers[i].match;
    ck_assert_uint_lt(match3, st.commit);
    raft_tick(l, t->now + 50);
    raft_ready rd;
    raft_get_ready(l, &rd);
    const raft_msg *hb = tn_find(&rd, RAFT_MSG_HEARTBEAT, "n3");
    ck_assert_ptr_nonnull(hb);
    ck_assert_uint_eq(hb->commit, match3);
    raft_advance(l, &rd);
    tn_clear_queue(t);
    tn_net_free(t);
}
END_TEST

/* A leader whose local write failed steps down instead of reusing the
 * index: nothing of the failed batch is sent, and the cluster moves on. */
START_TEST(test_persist_failed_leader_steps_down)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    uint64_t term = status(t->nodes[0].r).term;
    uint64_t last = status(t->nodes[1].r).last_index;
    t->nodes[0].fail_next_persist = true;
    tn_propose(t, 0, "lost");
    raft_status st = status(t->nodes[0].r);
    ck_assert_int_ne(st.role, RAFT_LEADER);
    ck_assert_uint_eq(st.term, term);
    ck_assert_uint_eq(status(t->nodes[1].r).last_index, last);   /* not sent */
    ck_assert_int_eq(raft_propose(t->nodes[0].r, "x", 1, NULL), RAFT_ENOTLEADER);
    int l = tn_wait_leader(t, 2000);
    ck_assert_int_ge(l, 0);
    ck_assert_uint_gt(status(t->nodes[l].r).term, term);
    tn_propose(t, l, "after");
    tn_run(t, 200);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(t->nodes[i].sm_hash, t->nodes[l].sm_hash);
    tn_net_free(t);
}
END_TEST

/* Durability: after every node crashes, what was committed comes back
 * from the durable state alone and is applied again identically. */
START_TEST(test_crash_restart_keeps_committed_entries)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    int l = tn_wait_leader(t, 2000);
    for (int i = 0; i < 10; i++)
        tn_propose(t, l, "durable");
    tn_run(t, 50);
    uint64_t hash = t->nodes[l].sm_hash, applied = t->nodes[l].applied;
    for (int i = 0; i < 3; i++)
        tn_crash(t, i);
    for (int i = 0; i < 3; i++)
        tn_restart(t, i);
    l = tn_wait_leader(t, 2000);
    ck_assert_int_ge(l, 0);
    tn_run(t, 100);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_ge(t->nodes[i].applied, applied);
        ck_assert_uint_eq(t->nodes[i].sm_count, 10);
    }
    (void)hash;
    tn_net_free(t);
}
END_TEST

/* raft_restore refuses durable state that cannot be right. */
START_TEST(test_restore_rejects_inconsistent_state)
{
    raft_config c = tn_config("n1");
    raft_entry e[3] = {ent(1, 1), ent(1, 2), ent(2, 4)};
    raft_hard_state hs = {.term = 2, .commit = 1};
    raft *r = raft_new(&c);
    ck_assert_int_eq(raft_restore(r, &hs, NULL, e, 3), RAFT_EINVAL);  /* gap */
    hs.commit = 5;
    ck_assert_int_eq(raft_restore(r, &hs, NULL, e, 2), RAFT_EINVAL);  /* commit */
    hs.commit = 1;
    raft_entry bad[2] = {ent(2, 1), ent(1, 2)};
    ck_assert_int_eq(raft_restore(r, &hs, NULL, bad, 2), RAFT_EINVAL);  /* terms */
    bad[1].type = 9;
    bad[1].term = 2;
    ck_assert_int_eq(raft_restore(r, &hs, NULL, bad, 2), RAFT_EINVAL);  /* type */
    ck_assert_int_eq(raft_restore(r, &hs, NULL, e, 2), RAFT_OK);
    ck_assert_int_eq(raft_restore(r, &hs, NULL, e, 2), RAFT_ESTATE);
    raft_free(r);
}
END_TEST

/* A crash while persisting a batch may leave its entries durable but not
 * its hard state: the log shows a newer term.  Restore adopts that term
 * with no vote (no message of the torn batch was sent) and persists it. */
START_TEST(test_restore_after_torn_batch_adopts_newer_term)
{
    raft_config c = tn_config("n1");
    raft_entry e[3] = {ent(1, 1), ent(1, 2), ent(4, 3)};
    raft_hard_state hs = {.term = 2, .commit = 1};
    snprintf(hs.vote.s, sizeof(hs.vote.s), "n2");
    raft *r = raft_new(&c);
    ck_assert_int_eq(raft_restore(r, &hs, NULL, e, 3), RAFT_OK);
    raft_status st = status(r);
    ck_assert_uint_eq(st.term, 4);
    ck_assert_str_eq(st.vote.s, "");
    raft_ready rd;
    raft_get_ready(r, &rd);
    ck_assert(rd.has_hard_state);
    ck_assert_uint_eq(rd.hard_state.term, 4);
    raft_advance(r, &rd);
    raft_free(r);
}
END_TEST

/* The ready contract: the batch that carries a node's new entries and
 * hard state also carries the messages that depend on them, and between
 * get_ready and advance the node refuses to change. */
START_TEST(test_ready_contract)
{
    raft *r = tn_solo("n1", 3, NULL);
    for (uint64_t now = 1; status(r).role != RAFT_CANDIDATE; now++)
        raft_tick(r, now);
    raft_ready rd;
    raft_get_ready(r, &rd);
    ck_assert(rd.has_hard_state);
    ck_assert_uint_gt(rd.n_msgs, 0);
    raft_msg m = tn_msg(RAFT_MSG_VOTE_RESP, "n2", "n1", 2);
    ck_assert_int_eq(raft_step(r, &m), RAFT_EBUSY);
    ck_assert_int_eq(raft_tick(r, 5000), RAFT_EBUSY);
    ck_assert(!raft_has_ready(r));
    raft_advance(r, &rd);
    ck_assert(!raft_has_ready(r));
    raft_free(r);
}
END_TEST

/* Single-voter cluster: the leader commits once its own write is durable. */
START_TEST(test_single_voter_commits_after_local_persist)
{
    raft *r = tn_solo("n1", 1, NULL);
    for (uint64_t now = 1; status(r).role != RAFT_LEADER && now < 1000; now++)
        raft_tick(r, now);
    ck_assert_int_eq(status(r).role, RAFT_LEADER);
    tn_settle(r);
    uint64_t idx;
    ck_assert_int_eq(raft_propose(r, "a", 1, &idx), RAFT_OK);
    ck_assert_uint_lt(status(r).commit, idx);    /* not durable yet */
    raft_ready rd;
    raft_get_ready(r, &rd);
    ck_assert_uint_eq(rd.n_committed, 0);
    raft_advance(r, &rd);
    ck_assert_uint_eq(status(r).commit, idx);
    raft_get_ready(r, &rd);
    ck_assert_uint_eq(rd.n_committed, 1);
    ck_assert_uint_eq(rd.committed[0].index, idx);
    raft_advance(r, &rd);
    raft_free(r);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("raft_repl");
    TCase *tc = tcase_create("repl");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_new_leader_appends_noop_of_its_term);
    tcase_add_test(tc, test_replication_applies_same_sequence);
    tcase_add_test(tc, test_prev_log_mismatch_rejected_with_hint);
    tcase_add_test(tc, test_stale_append_never_truncates_matching_suffix);
    tcase_add_test(tc, test_conflicting_suffix_truncated_and_replaced);
    tcase_add_test(tc, test_follower_commit_bounded_by_last_new_entry);
    tcase_add_test(tc, test_commit_only_by_counting_current_term);
    tcase_add_test(tc, test_fast_backtracking_with_conflict_hints);
    tcase_add_test(tc, test_inflight_appends_bounded);
    tcase_add_test(tc, test_heartbeat_commit_bounded_by_match);
    tcase_add_test(tc, test_persist_failed_leader_steps_down);
    tcase_add_test(tc, test_crash_restart_keeps_committed_entries);
    tcase_add_test(tc, test_restore_rejects_inconsistent_state);
    tcase_add_test(tc, test_restore_after_torn_batch_adopts_newer_term);
    tcase_add_test(tc, test_ready_contract);
    tcase_add_test(tc, test_single_voter_commits_after_local_persist);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(suite());
}
