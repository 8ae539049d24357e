/*
 * test_raft_member.c -- membership changes, snapshots, leadership transfer
 * and ReadIndex.  Each test names the Raft rule it checks (Ongaro's thesis).
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "core/raft.h"
#include "core/raft_conf.h"
#include "test_raft_net.h"

static raft_status
status(raft *r)
{
    raft_status st;
    raft_get_status(r, &st);
    return st;
}

static const raft_member *
member(const raft_status *st, const char *id)
{
    for (uint32_t i = 0; i < st->conf.n; i++)
        if (strcmp(st->conf.m[i].id.s, id) == 0)
            return &st->conf.m[i];
    return NULL;
}

static int
conf_op(tn_net *t, int l, raft_conf_op op, const char *id)
{
    int rc = raft_propose_conf(t->nodes[l].r, op, id, "10.0.0.4:7004", 13, NULL);
    tn_flush(t);
    return rc;
}

/* A cluster n1..n3 led by n1, plus n4 (empty) added as a learner. */
static tn_net *
with_learner(void)
{
    tn_net *t = tn_net_new(4, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    ck_assert_int_eq(conf_op(t, 0, RAFT_CONF_ADD_LEARNER, "n4"), RAFT_OK);
    tn_run(t, 50);
    return t;
}

/* 4.2.1: a learner receives the log but does not vote, does not campaign
 * and does not count towards commitment; the runtime finds its address in
 * the membership. */
START_TEST(test_learner_replicates_but_never_votes)
{
    tn_net *t = with_learner();
    raft_status st = status(t->nodes[0].r);
    const raft_member *m = member(&st, "n4");
    ck_assert_ptr_nonnull(m);
    ck_assert(!m->voter);
    ck_assert_uint_eq(m->ctx_len, 13);
    ck_assert_mem_eq(m->ctx, "10.0.0.4:7004", 13);
    ck_assert_uint_eq(t->nodes[3].applied, t->nodes[0].applied);
    ck_assert_int_eq(status(t->nodes[3].r).role, RAFT_LEARNER);
    /* Only n1 and the learner can talk: nothing commits. */
    tn_isolate(t, 1);
    tn_isolate(t, 2);
    uint64_t commit = status(t->nodes[0].r).commit;
    tn_propose(t, 0, "x");
    ck_assert_uint_eq(status(t->nodes[0].r).commit, commit);
    /* Cut off, the learner never campaigns. */
    tn_heal(t);
    tn_isolate(t, 3);
    uint64_t term = status(t->nodes[3].r).term;
    tn_run(t, 1000);
    ck_assert_uint_eq(status(t->nodes[3].r).term, term);
    ck_assert_int_eq(status(t->nodes[3].r).role, RAFT_LEARNER);
    tn_net_free(t);
}
END_TEST

/* Promotion only once the learner holds every committed entry (4.2.1:
 * a lagging new voter would weaken every quorum). */
START_TEST(test_promote_requires_caught_up_learner)
{
    tn_net *t = with_learner();
    tn_isolate(t, 3);
    for (int i = 0; i < 5; i++)
        tn_propose(t, 0, "p");
    ck_assert_int_eq(conf_op(t, 0, RAFT_CONF_PROMOTE, "n4"), RAFT_ENOTCAUGHTUP);
    tn_heal(t);
    tn_run(t, 100);
    ck_assert_int_eq(conf_op(t, 0, RAFT_CONF_PROMOTE, "n4"), RAFT_OK);
    tn_run(t, 50);
    raft_status st = status(t->nodes[0].r);
    ck_assert(member(&st, "n4")->voter);
    ck_assert_int_eq(status(t->nodes[3].r).role, RAFT_FOLLOWER);
    /* Now 4 voters: n1 with n4 alone (2 of 4) cannot commit. */
    tn_isolate(t, 1);
    tn_isolate(t, 2);
    uint64_t commit = st.commit;
    tn_propose(t, 0, "q");
    ck_assert_uint_eq(status(t->nodes[0].r).commit, commit);
    tn_net_free(t);
}
END_TEST

/* 4.1: one membership change at a time: a second waits until the first
 * is committed. */
START_TEST(test_one_conf_change_at_a_time)
{
    tn_net *t = tn_net_new(5, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    raft *l = t->nodes[0].r;
    ck_assert_int_eq(raft_propose_conf(l, RAFT_CONF_ADD_LEARNER, "n4", NULL, 0, NULL),
                     RAFT_OK);
    ck_assert_int_eq(raft_propose_conf(l, RAFT_CONF_ADD_LEARNER, "n5", NULL, 0, NULL),
                     RAFT_ECONFPENDING);
    tn_flush(t);
    ck_assert_int_eq(raft_propose_conf(l, RAFT_CONF_ADD_LEARNER, "n5", NULL, 0, NULL),
                     RAFT_OK);
    ck_assert_int_eq(raft_propose_conf(l, RAFT_CONF_ADD_LEARNER, "n9", NULL, 0, NULL),
                     RAFT_ECONFPENDING);
    tn_flush(t);
    ck_assert_int_eq(raft_propose_conf(l, RAFT_CONF_ADD_LEARNER, "n4", NULL, 0, NULL),
                     RAFT_EEXIST);
    ck_assert_int_eq(raft_propose_conf(l, RAFT_CONF_REMOVE, "n7", NULL, 0, NULL),
                     RAFT_ENOTFOUND);
    ck_assert_int_eq(raft_propose_conf(t->nodes[1].r, RAFT_CONF_REMOVE, "n3", NULL,
                                       0, NULL), RAFT_ENOTLEADER);
    tn_net_free(t);
}
END_TEST

/* The single-server change bug fix: a new leader accepts a change only
 * after it committed an entry of its own term. */
START_TEST(test_conf_change_waits_for_commit_in_term)
{
    raft *r = tn_solo("n1", 3, NULL);
    for (uint64_t now = 1; status(r).role != RAFT_CANDIDATE; now++)
        raft_tick(r, now);
    tn_settle(r);
    raft_msg v = tn_msg(RAFT_MSG_VOTE_RESP, "n2", "n1", 2);
    raft_step(r, &v);
    tn_settle(r);
    ck_assert_int_eq(status(r).role, RAFT_LEADER);
    ck_assert_int_eq(raft_propose_conf(r, RAFT_CONF_REMOVE, "n3", NULL, 0, NULL),
                     RAFT_ECONFPENDING);
    raft_msg ok = tn_msg(RAFT_MSG_APPEND_RESP, "n2", "n1", 2);
    ok.index = 2;
    raft_step(r, &ok);
    tn_settle(r);
    ck_assert_int_eq(raft_propose_conf(r, RAFT_CONF_REMOVE, "n3", NULL, 0, NULL),
                     RAFT_OK);
    raft_free(r);
}
END_TEST

/* Removing a follower: the others go on committing without it, and it is
 * no longer sent anything. */
START_TEST(test_remove_follower)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    ck_assert_int_eq(conf_op(t, 0, RAFT_CONF_REMOVE, "n3"), RAFT_OK);
    raft_status st = status(t->nodes[0].r);
    ck_assert_uint_eq(st.conf.n, 2);
    ck_assert_ptr_null(member(&st, "n3"));
    t->appends_to[2] = 0;
    tn_isolate(t, 2);
    uint64_t idx = tn_propose(t, 0, "two of two");
    ck_assert_uint_ge(status(t->nodes[0].r).commit, idx);
    ck_assert_int_eq(raft_propose_conf(t->nodes[0].r, RAFT_CONF_REMOVE, "n2", NULL,
                                       0, NULL), RAFT_OK);
    tn_flush(t);
    /* The last voter cannot be removed. */
    ck_assert_int_eq(raft_propose_conf(t->nodes[0].r, RAFT_CONF_REMOVE, "n1", NULL,
                                       0, NULL), RAFT_EINVAL);
    ck_assert_uint_eq(t->appends_to[2], 0);
    tn_net_free(t);
}
END_TEST

/* 4.2.2: a leader that removed itself keeps leading until the change is
 * committed, then steps down; the rest elect a leader. */
START_TEST(test_removed_leader_steps_down)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    ck_assert_int_eq(conf_op(t, 0, RAFT_CONF_REMOVE, "n1"), RAFT_OK);
    raft_status st = status(t->nodes[0].r);
    ck_assert_int_ne(st.role, RAFT_LEADER);
    ck_assert_ptr_null(member(&st, "n1"));
    int l = tn_wait_leader(t, 2000);
    ck_assert_int_ge(l, 1);
    tn_propose(t, l, "after");
    tn_run(t, 50);
    ck_assert_uint_eq(t->nodes[1].sm_hash, t->nodes[2].sm_hash);
    tn_net_free(t);
}
END_TEST

/* 4.1: after a restart the newest configuration in the log is in force,
 * even though it was never committed. */
START_TEST(test_restart_uses_newest_uncommitted_conf)
{
    tn_net *t = tn_net_new(4, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_isolate(t, 0);
    ck_assert_int_eq(conf_op(t, 0, RAFT_CONF_ADD_LEARNER, "n4"), RAFT_OK);
    raft_status st = status(t->nodes[0].r);
    ck_assert_uint_lt(st.commit, st.last_index);
    tn_crash(t, 0);
    tn_restart(t, 0);
    st = status(t->nodes[0].r);
    ck_assert_ptr_nonnull(member(&st, "n4"));
    ck_assert_uint_eq(st.conf.n, 4);
    tn_net_free(t);
}
END_TEST

/* A conf entry that is truncated (overwritten by a newer leader) stops
 * being in force: the previous configuration comes back. */
START_TEST(test_truncated_conf_entry_reverts_membership)
{
    raft *r = tn_solo("n1", 3, NULL);
    raft_status st = status(r);
    raft_conf next;
    ck_assert_int_eq(raft_conf_change(&st.conf, RAFT_CONF_ADD_LEARNER, "n4", NULL, 0,
                                      &next), RAFT_OK);
    uint8_t buf[RAFT_CONF_ENTRY_MAX];
    size_t len = raft_conf_entry_encode(RAFT_CONF_ADD_LEARNER, "n4", &next, buf,
                                        sizeof(buf));
    raft_entry e = {.term = 2, .index = 2, .type = RAFT_ENTRY_CONF,
                    .len = (uint32_t)len, .data = buf};
    raft_msg m = tn_msg(RAFT_MSG_APPEND, "n2", "n1", 2);
    m.index = 1;
    m.log_term = 1;
    m.entries = &e;
    m.n_entries = 1;
    raft_step(r, &m);
    tn_settle(r);
    ck_assert_uint_eq(status(r).conf.n, 4);
    raft_entry x = {.term = 3, .index = 2, .type = RAFT_ENTRY_NORMAL};
    m = tn_msg(RAFT_MSG_APPEND, "n3", "n1", 3);
    m.index = 1;
    m.log_term = 1;
    m.entries = &x;
    m.n_entries = 1;
    raft_step(r, &m);
    raft_ready rd;
    raft_get_ready(r, &rd);
    ck_assert(rd.conf_changed);
    raft_advance(r, &rd);
    ck_assert_uint_eq(status(r).conf.n, 3);
    raft_free(r);
}
END_TEST

/* ---- snapshots (chapter 5) ------------------------------------------- */

/* The app snapshots at its applied index; the core compacts; a follower
 * whose next entry was compacted gets InstallSnapshot and ends up with the
 * same state. */
START_TEST(test_snapshot_compacts_and_installs_on_lagging_follower)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_isolate(t, 2);
    for (int i = 0; i < 20; i++)
        tn_propose(t, 0, "s");
    ck_assert_int_eq(tn_snapshot(t, 0), RAFT_OK);
    raft_status st = status(t->nodes[0].r);
    ck_assert_uint_eq(st.snap_index, t->nodes[0].applied);
    ck_assert_uint_eq(st.last_index, st.snap_index);  /* all compacted */
    tn_propose(t, 0, "after snapshot");
    tn_heal(t);
    tn_run(t, 200);
    ck_assert_uint_gt(t->delivered[RAFT_MSG_SNAPSHOT], 0);
    ck_assert_uint_eq(t->nodes[2].sm_hash, t->nodes[0].sm_hash);
    ck_assert_uint_eq(t->nodes[2].sm_count, 21);
    ck_assert_uint_eq(status(t->nodes[2].r).snap_index, st.snap_index);
    ck_assert_ptr_nonnull(t->nodes[2].snap);
    /* ... and restarts from the installed snapshot. */
    tn_crash(t, 2);
    tn_restart(t, 2);
    tn_run(t, 100);
    ck_assert_uint_eq(t->nodes[2].sm_hash, t->nodes[0].sm_hash);
    tn_net_free(t);
}
END_TEST

/* Snapshot metadata: last included index and term, and the membership as
 * of that index (5.1).  Errors for impossible indexes. */
START_TEST(test_snapshot_metadata_and_errors)
{
    tn_net *t = with_learner();
    raft *l = t->nodes[0].r;
    uint64_t applied = t->nodes[0].applied;
    raft_snapshot_meta meta;
    ck_assert_int_eq(raft_snapshot_taken(l, applied + 1, "x", 1, &meta), RAFT_EINVAL);
    ck_assert_int_eq(raft_snapshot_taken(l, applied, "x", 1, &meta), RAFT_OK);
    uint64_t term;
    raft_term_at(l, applied, &term);
    ck_assert_uint_eq(meta.index, applied);
    ck_assert_uint_eq(meta.term, term);
    ck_assert_uint_eq(meta.conf.n, 4);
    ck_assert_int_eq(raft_snapshot_taken(l, applied, "x", 1, NULL), RAFT_ECOMPACTED);
    ck_assert_int_eq(raft_term_at(l, applied - 1, &term), RAFT_ECOMPACTED);
    /* The snapshot's membership is what a node gets when nothing newer
     * is in the log. */
    uint8_t enc[RAFT_CONF_ENC_MAX];
    size_t n = raft_conf_encode(&meta.conf, enc, sizeof(enc));
    raft_conf back;
    ck_assert_int_eq(raft_conf_decode(enc, n, &back), RAFT_OK);
    ck_assert(raft_conf_equal(&back, &meta.conf));
    tn_net_free(t);
}
END_TEST

/* A learner added after compaction is brought up by a snapshot. */
START_TEST(test_new_learner_gets_snapshot)
{
    tn_net *t = tn_net_new(4, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    for (int i = 0; i < 10; i++)
        tn_propose(t, 0, "v");
    ck_assert_int_eq(tn_snapshot(t, 0), RAFT_OK);
    ck_assert_int_eq(conf_op(t, 0, RAFT_CONF_ADD_LEARNER, "n4"), RAFT_OK);
    tn_run(t, 200);
    ck_assert_uint_eq(t->nodes[3].sm_count, 10);
    ck_assert_uint_eq(t->nodes[3].applied, t->nodes[0].applied);
    ck_assert_int_eq(status(t->nodes[3].r).role, RAFT_LEARNER);
    tn_net_free(t);
}
END_TEST

/* ---- leadership transfer (3.10) --------------------------------------- */

START_TEST(test_transfer_to_caught_up_follower)
{
    raft_config c = tn_config("x");
    c.pre_vote = true;
    c.check_quorum = true;                       /* leases are bypassed */
    tn_net *t = tn_net_new(3, 3, &c);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    uint64_t term = status(t->nodes[0].r).term;
    ck_assert_int_eq(raft_transfer_leader(t->nodes[0].r, "n2"), RAFT_OK);
    ck_assert_int_eq(raft_propose(t->nodes[0].r, "x", 1, NULL), RAFT_ETRANSFER);
    tn_flush(t);
    ck_assert_int_eq(tn_leader(t), 1);
    ck_assert_uint_eq(status(t->nodes[1].r).term, term + 1);
    ck_assert_int_ne(status(t->nodes[0].r).role, RAFT_LEADER);
    ck_assert_int_eq(raft_transfer_leader(t->nodes[1].r, "n9"), RAFT_ENOTFOUND);
    ck_assert_int_eq(raft_transfer_leader(t->nodes[1].r, "n2"), RAFT_EINVAL);
    tn_net_free(t);
}
END_TEST

/* The target is caught up first, so it wins with the leader's log. */
START_TEST(test_transfer_catches_up_lagging_target)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_isolate(t, 2);
    t->cut[0][1] = t->cut[1][0] = false;
    for (int i = 0; i < 5; i++)
        tn_propose(t, 0, "c");
    tn_heal(t);
    uint64_t last = status(t->nodes[0].r).last_index;
    ck_assert_uint_lt(status(t->nodes[2].r).last_index, last);
    ck_assert_int_eq(raft_transfer_leader(t->nodes[0].r, "n3"), RAFT_OK);
    tn_flush(t);
    ck_assert_int_eq(tn_leader(t), 2);
    ck_assert_uint_ge(status(t->nodes[2].r).last_index, last);
    tn_run(t, 50);
    ck_assert_uint_eq(t->nodes[2].sm_count, 5);
    tn_net_free(t);
}
END_TEST

/* A transfer to a dead node is abandoned after an election timeout and
 * proposals flow again. */
START_TEST(test_transfer_abandoned_after_election_timeout)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_propose(t, 0, "a");
    tn_crash(t, 2);
    tn_propose(t, 0, "b");
    ck_assert_int_eq(raft_transfer_leader(t->nodes[0].r, "n3"), RAFT_OK);
    tn_run(t, 50);
    ck_assert_int_eq(raft_propose(t->nodes[0].r, "x", 1, NULL), RAFT_ETRANSFER);
    tn_run(t, 100);
    ck_assert_int_eq(tn_leader(t), 0);
    ck_assert_int_eq(raft_propose(t->nodes[0].r, "x", 1, NULL), RAFT_OK);
    raft_status st = status(t->nodes[0].r);
    ck_assert_str_eq(st.transferee.s, "");
    tn_net_free(t);
}
END_TEST

/* ---- ReadIndex (6.4) ------------------------------------------------------ */

/* A read is answered only after a heartbeat round confirmed leadership,
 * with the commit index as of the request. */
START_TEST(test_read_index_confirmed_by_heartbeat_round)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_propose(t, 0, "w");
    uint64_t commit = status(t->nodes[0].r).commit;
    ck_assert_int_eq(raft_read_index(t->nodes[0].r, 77), RAFT_OK);
    tn_drain(t, 0);
    ck_assert_uint_eq(t->nodes[0].n_reads, 0);   /* not before the round */
    tn_flush(t);
    ck_assert_uint_eq(t->nodes[0].n_reads, 1);
    ck_assert_uint_eq(t->nodes[0].reads[0].ctx, 77);
    ck_assert(t->nodes[0].reads[0].ok);
    ck_assert_uint_eq(t->nodes[0].reads[0].index, commit);
    ck_assert_int_eq(raft_read_index(t->nodes[1].r, 1), RAFT_ENOTLEADER);
    tn_net_free(t);
}
END_TEST

/* A leader cut off from the majority cannot answer reads; when it steps
 * down the pending read is reported as failed. */
START_TEST(test_read_index_needs_quorum_and_fails_on_step_down)
{
    raft_config c = tn_config("x");
    c.check_quorum = true;
    tn_net *t = tn_net_new(3, 3, &c);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_isolate(t, 0);
    ck_assert_int_eq(raft_read_index(t->nodes[0].r, 5), RAFT_OK);
    tn_flush(t);
    ck_assert_uint_eq(t->nodes[0].n_reads, 0);
    tn_run(t, 300);
    ck_assert_int_ne(status(t->nodes[0].r).role, RAFT_LEADER);
    ck_assert_uint_eq(t->nodes[0].n_reads, 1);
    ck_assert(!t->nodes[0].reads[0].ok);
    tn_net_free(t);
}
END_TEST

/* A new leader answers reads only once an entry of its term committed:
 * before that its commit index may lag the cluster's. */
START_TEST(test_read_index_waits_for_commit_in_term)
{
    raft *r = tn_solo("n1", 3, NULL);
    for (uint64_t now = 1; status(r).role != RAFT_CANDIDATE; now++)
        raft_tick(r, now);
    tn_settle(r);
    raft_msg v = tn_msg(RAFT_MSG_VOTE_RESP, "n2", "n1", 2);
    raft_step(r, &v);
    tn_settle(r);
    ck_assert_int_eq(raft_read_index(r, 9), RAFT_OK);
    raft_ready rd;
    raft_get_ready(r, &rd);
    ck_assert_ptr_null(tn_find(&rd, RAFT_MSG_HEARTBEAT, NULL));
    ck_assert_uint_eq(rd.n_reads, 0);
    raft_advance(r, &rd);
    raft_msg ok = tn_msg(RAFT_MSG_APPEND_RESP, "n2", "n1", 2);
    ok.index = 2;
    raft_step(r, &ok);                           /* no-op committed */
    raft_get_ready(r, &rd);
    const raft_msg *hb = tn_find(&rd, RAFT_MSG_HEARTBEAT, "n2");
    ck_assert_ptr_nonnull(hb);
    uint64_t round = hb->ctx;
    raft_advance(r, &rd);
    raft_msg ack = tn_msg(RAFT_MSG_HEARTBEAT_RESP, "n2", "n1", 2);
    ack.ctx = round;
    raft_step(r, &ack);
    raft_get_ready(r, &rd);
    ck_assert_uint_eq(rd.n_reads, 1);
    ck_assert_uint_eq(rd.reads[0].index, 2);
    ck_assert(rd.reads[0].ok);
    raft_advance(r, &rd);
    raft_free(r);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("raft_member");
    TCase *tc = tcase_create("member");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_learner_replicates_but_never_votes);
    tcase_add_test(tc, test_promote_requires_caught_up_learner);
    tcase_add_test(tc, test_one_conf_change_at_a_time);
    tcase_add_test(tc, test_conf_change_waits_for_commit_in_term);
    tcase_add_test(tc, test_remove_follower);
    tcase_add_test(tc, test_removed_leader_steps_down);
    tcase_add_test(tc, test_restart_uses_newest_uncommitted_conf);
    tcase_add_test(tc, test_truncated_conf_entry_reverts_membership);
    tcase_add_test(tc, test_snapshot_compacts_and_installs_on_lagging_follower);
    tcase_add_test(tc, test_snapshot_metadata_and_errors);
    tcase_add_test(tc, test_new_learner_gets_snapshot);
    tcase_add_test(tc, test_transfer_to_caught_up_follower);
    tcase_add_test(tc, test_transfer_catches_up_lagging_target);
    tcase_add_test(tc, test_transfer_abandoned_after_election_timeout);
    tcase_add_test(tc, test_read_index_confirmed_by_heartbeat_round);
    tcase_add_test(tc, test_read_index_needs_quorum_and_fails_on_step_down);
    tcase_add_test(tc, test_read_index_waits_for_commit_in_term);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(suite());
}
