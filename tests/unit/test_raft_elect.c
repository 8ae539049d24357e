/*
 * test_raft_elect.c -- leader election, pre-vote and check-quorum.  Each
 * test names the Raft rule it checks (section numbers: Ongaro's thesis).
 */
#include <check.h>
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

/* Drives a solo node (never hearing from anyone) until it campaigns;
 * returns the virtual time at which it did. */
static uint64_t
time_to_campaign(raft *r)
{
    for (uint64_t now = 1; now < 1000; now++) {
        raft_tick(r, now);
        if (status(r).role == RAFT_CANDIDATE)
            return now;
    }
    return 0;
}

/* Rule 3.4: election timeouts are chosen randomly from [T, 2T). */
START_TEST(test_election_timeout_randomized_in_T_2T)
{
    uint64_t seen_min = UINT64_MAX, seen_max = 0;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        raft_config c = tn_config("n1");
        c.seed = seed;
        raft *r = tn_solo("n1", 3, &c);
        uint64_t t = time_to_campaign(r);
        ck_assert_uint_ge(t, 100);
        ck_assert_uint_lt(t, 200);
        seen_min = t < seen_min ? t : seen_min;
        seen_max = t > seen_max ? t : seen_max;
        raft_free(r);
    }
    ck_assert_uint_lt(seen_min, seen_max);   /* actually randomized */
}
END_TEST

/* Rule 3.4: a candidate increments its term, votes for itself and asks
 * every other voter, with its last log index and term. */
START_TEST(test_candidate_requests_votes)
{
    raft *r = tn_solo("n1", 3, NULL);
    ck_assert_uint_gt(time_to_campaign(r), 0);
    raft_ready rd;
    raft_get_ready(r, &rd);
    ck_assert(rd.has_hard_state);
    ck_assert_uint_eq(rd.hard_state.term, 2);
    ck_assert_str_eq(rd.hard_state.vote.s, "n1");
    const raft_msg *v = tn_find(&rd, RAFT_MSG_VOTE, "n2");
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_nonnull(tn_find(&rd, RAFT_MSG_VOTE, "n3"));
    ck_assert_uint_eq(v->term, 2);
    ck_assert_uint_eq(v->index, 1);
    ck_assert_uint_eq(v->log_term, 1);
    raft_advance(r, &rd);
    raft_free(r);
}
END_TEST

/* Rule 3.4 (one vote per term) + durability: the vote is in the same
 * batch's hard state as the grant, so it is persisted before the response
 * leaves; a second candidate in that term is refused; repeating the grant
 * to the same candidate is fine (the response may have been lost). */
START_TEST(test_one_vote_per_term_persisted_before_grant)
{
    raft *r = tn_solo("n1", 3, NULL);
    raft_msg m = tn_msg(RAFT_MSG_VOTE, "n2", "n1", 2);
    m.index = 1;
    m.log_term = 1;
    ck_assert_int_eq(raft_step(r, &m), RAFT_OK);
    raft_ready rd;
    raft_get_ready(r, &rd);
    const raft_msg *resp = tn_find(&rd, RAFT_MSG_VOTE_RESP, "n2");
    ck_assert_ptr_nonnull(resp);
    ck_assert(!resp->reject);
    ck_assert(rd.has_hard_state);
    ck_assert_uint_eq(rd.hard_state.term, 2);
    ck_assert_str_eq(rd.hard_state.vote.s, "n2");
    raft_advance(r, &rd);

    m = tn_msg(RAFT_MSG_VOTE, "n3", "n1", 2);
    m.index = 5;
    m.log_term = 1;
    raft_step(r, &m);
    raft_get_ready(r, &rd);
    resp = tn_find(&rd, RAFT_MSG_VOTE_RESP, "n3");
    ck_assert_ptr_nonnull(resp);
    ck_assert(resp->reject);
    raft_advance(r, &rd);

    m = tn_msg(RAFT_MSG_VOTE, "n2", "n1", 2);
    m.index = 1;
    m.log_term = 1;
    raft_step(r, &m);
    raft_get_ready(r, &rd);
    ck_assert(!tn_find(&rd, RAFT_MSG_VOTE_RESP, "n2")->reject);
    raft_advance(r, &rd);
    raft_free(r);
}
END_TEST

/* The vote survives a restart: restored from the hard state, it still
 * refuses a second candidate in the same term. */
START_TEST(test_vote_survives_restart)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    raft_msg m = tn_msg(RAFT_MSG_VOTE, "n2", "n1", 2);
    m.index = 1;
    m.log_term = 1;
    raft_step(t->nodes[0].r, &m);
    tn_drain(t, 0);
    tn_clear_queue(t);
    tn_crash(t, 0);
    tn_restart(t, 0);
    tn_clear_queue(t);
    raft_status st = status(t->nodes[0].r);
    ck_assert_uint_eq(st.term, 2);
    ck_assert_str_eq(st.vote.s, "n2");
    m = tn_msg(RAFT_MSG_VOTE, "n3", "n1", 2);
    m.index = 1;
    m.log_term = 1;
    raft_step(t->nodes[0].r, &m);
    raft_ready rd;
    raft_get_ready(t->nodes[0].r, &rd);
    ck_assert(tn_find(&rd, RAFT_MSG_VOTE_RESP, "n3")->reject);
    raft_advance(t->nodes[0].r, &rd);
    tn_net_free(t);
}
END_TEST

static bool
grants(raft *r, const char *from, uint64_t term, uint64_t last_index,
       uint64_t last_term)
{
    raft_msg m = tn_msg(RAFT_MSG_VOTE, from, "n1", term);
    m.index = last_index;
    m.log_term = last_term;
    raft_step(r, &m);
    raft_ready rd;
    raft_get_ready(r, &rd);
    const raft_msg *resp = tn_find(&rd, RAFT_MSG_VOTE_RESP, from);
    bool ok = resp != NULL && !resp->reject;
    raft_advance(r, &rd);
    return ok;
}

/* Rule 5.4.1 election restriction: compare last terms first, then last
 * indexes.  n1's log: [1:t1, 2:t2, 3:t2]. */
START_TEST(test_election_restriction)
{
    /* Build the log through a restore: entry 1 is the bootstrap entry a
     * fresh node writes; entries 2 and 3 are term-2 data. */
    tn_net *t = tn_net_new(1, 3, NULL);
    tn_node *nd = &t->nodes[0];
    raft_entry e[3] = {nd->log[0],
                       {.term = 2, .index = 2, .type = RAFT_ENTRY_NORMAL},
                       {.term = 2, .index = 3, .type = RAFT_ENTRY_NORMAL}};
    raft_hard_state hs = {.term = 2, .commit = 1};
    raft_config c = tn_config("n1");
    raft *x = raft_new(&c);
    ck_assert_int_eq(raft_restore(x, &hs, NULL, e, 3), RAFT_OK);
    tn_settle(x);
    ck_assert(!grants(x, "n2", 3, 9, 1));   /* longer log, older last term */
    ck_assert(!grants(x, "n3", 4, 2, 2));   /* same last term, shorter */
    ck_assert(grants(x, "n2", 5, 3, 2));    /* same last term, as long */
    ck_assert(grants(x, "n3", 6, 1, 3));    /* newer last term, shorter */
    raft_free(x);
    tn_net_free(t);
}
END_TEST

/* Rule 3.4: a candidate with votes from a majority becomes leader; with
 * rejections from a majority it returns to follower. */
START_TEST(test_majority_wins_majority_rejection_loses)
{
    raft *r = tn_solo("n1", 5, NULL);
    time_to_campaign(r);
    tn_settle(r);
    raft_msg g = tn_msg(RAFT_MSG_VOTE_RESP, "n2", "n1", 2);
    raft_step(r, &g);
    ck_assert_int_eq(status(r).role, RAFT_CANDIDATE);   /* 2 of 5 */
    raft_step(r, &g);                                    /* duplicate */
    ck_assert_int_eq(status(r).role, RAFT_CANDIDATE);
    g = tn_msg(RAFT_MSG_VOTE_RESP, "n3", "n1", 2);
    raft_step(r, &g);
    ck_assert_int_eq(status(r).role, RAFT_LEADER);      /* 3 of 5 */
    raft_free(r);

    r = tn_solo("n1", 5, NULL);
    time_to_campaign(r);
    tn_settle(r);
    for (int i = 2; i <= 4; i++) {
        char id[4] = {'n', (char)('0' + i), 0};
        raft_msg m = tn_msg(RAFT_MSG_VOTE_RESP, id, "n1", 2);
        m.reject = true;
        raft_step(r, &m);
    }
    ck_assert_int_eq(status(r).role, RAFT_FOLLOWER);
    ck_assert_uint_eq(status(r).term, 2);
    raft_free(r);
}
END_TEST

/* Figure 2: the election timer restarts only on hearing from the leader or
 * granting a vote.  A candidate that lost keeps its timer running from the
 * start of its campaign, so it retries within 2T of that start. */
START_TEST(test_lost_election_keeps_timer_running)
{
    raft *r = tn_solo("n1", 3, NULL);
    uint64_t t0 = time_to_campaign(r);
    tn_settle(r);
    for (int i = 2; i <= 3; i++) {
        char id[4] = {'n', (char)('0' + i), 0};
        raft_msg m = tn_msg(RAFT_MSG_VOTE_RESP, id, "n1", 2);
        m.reject = true;
        raft_step(r, &m);
    }
    ck_assert_int_eq(status(r).role, RAFT_FOLLOWER);
    uint64_t now = t0 + 1;
    while (status(r).role != RAFT_CANDIDATE && now < t0 + 200)
        raft_tick(r, ++now);
    ck_assert_int_eq(status(r).role, RAFT_CANDIDATE);
    ck_assert_uint_eq(status(r).term, 3);
    ck_assert_uint_lt(now, t0 + 200);
    raft_free(r);
}
END_TEST

/* Rule 3.3: any message with a higher term makes a leader step down. */
START_TEST(test_leader_steps_down_on_higher_term)
{
    tn_net *t = tn_net_new(3, 3, NULL);
    int l = tn_elect(t, 0);
    ck_assert_int_eq(l, 0);
    raft_msg m = tn_msg(RAFT_MSG_APPEND_RESP, "n2", "n1", 9);
    raft_step(t->nodes[0].r, &m);
    raft_status st = status(t->nodes[0].r);
    ck_assert_int_eq(st.role, RAFT_FOLLOWER);
    ck_assert_uint_eq(st.term, 9);
    tn_net_free(t);
}
END_TEST

/* Pre-vote (9.6): an isolated node does not inflate its term, so it does
 * not disrupt the cluster when it comes back. */
START_TEST(test_prevote_isolated_node_keeps_term)
{
    raft_config c = tn_config("x");
    c.pre_vote = true;
    tn_net *t = tn_net_new(3, 3, &c);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    uint64_t term = status(t->nodes[0].r).term;
    tn_isolate(t, 2);
    tn_run(t, 2000);
    ck_assert_uint_eq(status(t->nodes[2].r).term, term);
    tn_heal(t);
    tn_run(t, 500);
    ck_assert_int_eq(tn_leader(t), 0);
    ck_assert_uint_eq(status(t->nodes[0].r).term, term);
    tn_net_free(t);

    /* Without pre-vote the same isolation does inflate the term. */
    c.pre_vote = false;
    t = tn_net_new(3, 3, &c);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_isolate(t, 2);
    tn_run(t, 2000);
    ck_assert_uint_gt(status(t->nodes[2].r).term, term + 3);
    tn_net_free(t);
}
END_TEST

/* Pre-vote never changes the voter's term or vote, and a grant carries
 * the request's term. */
START_TEST(test_prevote_changes_no_state_and_reply_carries_request_term)
{
    raft *r = tn_solo("n1", 3, NULL);
    raft_msg m = tn_msg(RAFT_MSG_PREVOTE, "n2", "n1", 2);
    m.index = 1;
    m.log_term = 1;
    raft_step(r, &m);
    raft_ready rd;
    raft_get_ready(r, &rd);
    ck_assert(!rd.has_hard_state);
    const raft_msg *resp = tn_find(&rd, RAFT_MSG_PREVOTE_RESP, "n2");
    ck_assert_ptr_nonnull(resp);
    ck_assert(!resp->reject);
    ck_assert_uint_eq(resp->term, 2);
    raft_advance(r, &rd);
    raft_status st = status(r);
    ck_assert_uint_eq(st.term, 1);
    ck_assert_str_eq(st.vote.s, "");
    /* It may pre-vote for someone else too: nothing was promised. */
    m = tn_msg(RAFT_MSG_PREVOTE, "n3", "n1", 2);
    m.index = 1;
    m.log_term = 1;
    raft_step(r, &m);
    raft_get_ready(r, &rd);
    ck_assert(!tn_find(&rd, RAFT_MSG_PREVOTE_RESP, "n3")->reject);
    raft_advance(r, &rd);
    raft_free(r);
}
END_TEST

/* A pre-vote from a lower term is answered (rejected) with our term, so
 * the stale pre-candidate learns it. */
START_TEST(test_prevote_lower_term_answered_with_our_term)
{
    raft *r = tn_solo("n1", 3, NULL);
    raft_msg v = tn_msg(RAFT_MSG_VOTE, "n2", "n1", 5);
    v.index = 1;
    v.log_term = 1;
    raft_step(r, &v);
    tn_settle(r);
    raft_msg m = tn_msg(RAFT_MSG_PREVOTE, "n3", "n1", 3);
    m.index = 1;
    m.log_term = 1;
    raft_step(r, &m);
    raft_ready rd;
    raft_get_ready(r, &rd);
    const raft_msg *resp = tn_find(&rd, RAFT_MSG_PREVOTE_RESP, "n3");
    ck_assert_ptr_nonnull(resp);
    ck_assert(resp->reject);
    ck_assert_uint_eq(resp->term, 5);
    raft_advance(r, &rd);
    ck_assert_uint_eq(status(r).term, 5);
    raft_free(r);
}
END_TEST

/* Pre-vote keeps the election restriction: a stale log gets no pre-vote. */
START_TEST(test_prevote_respects_election_restriction)
{
    raft *r = tn_solo("n1", 3, NULL);
    raft_msg m = tn_msg(RAFT_MSG_PREVOTE, "n2", "n1", 2);
    m.index = 0;
    m.log_term = 0;
    raft_step(r, &m);
    raft_ready rd;
    raft_get_ready(r, &rd);
    ck_assert(tn_find(&rd, RAFT_MSG_PREVOTE_RESP, "n2")->reject);
    raft_advance(r, &rd);
    raft_free(r);
}
END_TEST

/* A pre-candidate that wins the pre-vote campaigns for real. */
START_TEST(test_prevote_win_starts_real_election)
{
    raft_config c = tn_config("n1");
    c.pre_vote = true;
    raft *r = tn_solo("n1", 3, &c);
    time_to_campaign(r);
    raft_status st = status(r);
    ck_assert(st.pre_vote_round);
    ck_assert_uint_eq(st.term, 1);
    tn_settle(r);
    raft_msg g = tn_msg(RAFT_MSG_PREVOTE_RESP, "n2", "n1", 2);
    raft_step(r, &g);
    st = status(r);
    ck_assert(!st.pre_vote_round);
    ck_assert_int_eq(st.role, RAFT_CANDIDATE);
    ck_assert_uint_eq(st.term, 2);
    raft_free(r);
}
END_TEST

/* Check-quorum (6.2): a leader that hears from no majority for an election
 * timeout steps down. */
START_TEST(test_check_quorum_leader_steps_down)
{
    raft_config c = tn_config("x");
    c.check_quorum = true;
    tn_net *t = tn_net_new(3, 3, &c);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    tn_run(t, 300);
    ck_assert_int_eq(status(t->nodes[0].r).role, RAFT_LEADER);  /* healthy */
    tn_isolate(t, 0);
    tn_run(t, 250);
    ck_assert_int_ne(status(t->nodes[0].r).role, RAFT_LEADER);
    tn_net_free(t);
}
END_TEST

/* Lease (4.2.3): a node that heard from a live leader within the minimum
 * election timeout ignores vote requests -- no answer, no term change --
 * but a leadership-transfer campaign bypasses that. */
START_TEST(test_lease_ignores_votes_unless_transfer)
{
    raft_config c = tn_config("x");
    c.check_quorum = true;
    tn_net *t = tn_net_new(3, 3, &c);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    raft *f = t->nodes[1].r;
    uint64_t term = status(f).term;
    ck_assert(!raft_has_ready(f));
    raft_msg m = tn_msg(RAFT_MSG_VOTE, "n3", "n2", term + 1);
    m.index = 100;
    m.log_term = term;
    raft_step(f, &m);
    ck_assert(!raft_has_ready(f));
    ck_assert_uint_eq(status(f).term, term);
    m.transfer = true;
    raft_step(f, &m);
    raft_ready rd;
    raft_get_ready(f, &rd);
    ck_assert(!tn_find(&rd, RAFT_MSG_VOTE_RESP, "n3")->reject);
    raft_advance(f, &rd);
    ck_assert_uint_eq(status(f).term, term + 1);
    tn_clear_queue(t);
    tn_net_free(t);
}
END_TEST

/* ... and once the lease ran out (no leader message for T), votes are
 * considered again. */
START_TEST(test_lease_expires)
{
    raft_config c = tn_config("x");
    c.check_quorum = true;
    tn_net *t = tn_net_new(3, 3, &c);
    ck_assert_int_eq(tn_elect(t, 0), 0);
    raft *f = t->nodes[1].r;
    uint64_t term = status(f).term;
    raft_tick(f, t->now + 100);         /* only f's clock moves */
    raft_msg m = tn_msg(RAFT_MSG_VOTE, "n3", "n2", term + 1);
    m.index = 100;
    m.log_term = term;
    raft_step(f, &m);
    ck_assert_uint_eq(status(f).term, term + 1);
    tn_settle(f);
    tn_clear_queue(t);
    tn_net_free(t);
}
END_TEST

/* Safety end to end: in a 5-node cluster with a partition, there is at
 * most one leader per term and the majority side elects one. */
START_TEST(test_partition_majority_elects)
{
    raft_config c = tn_config("x");
    c.pre_vote = true;
    c.check_quorum = true;
    tn_net *t = tn_net_new(5, 5, &c);
    int l = tn_wait_leader(t, 2000);
    ck_assert_int_ge(l, 0);
    tn_isolate(t, l);
    tn_run(t, 1000);
    int l2 = tn_leader(t);
    ck_assert_int_ge(l2, 0);
    ck_assert_int_ne(l2, l);
    ck_assert_int_ne(status(t->nodes[l].r).role, RAFT_LEADER);
    tn_heal(t);
    tn_run(t, 500);
    ck_assert_int_ge(tn_leader(t), 0);
    tn_net_free(t);
}
END_TEST

/* A node that is not a voter (joining learner) never campaigns. */
START_TEST(test_non_voter_never_campaigns)
{
    raft_config c = tn_config("n9");
    raft *r = raft_new(&c);
    for (uint64_t now = 0; now < 2000; now += 10)
        raft_tick(r, now);
    raft_status st = status(r);
    ck_assert_int_eq(st.role, RAFT_LEARNER);
    ck_assert_uint_eq(st.term, 0);
    ck_assert(!raft_has_ready(r));
    raft_free(r);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("raft_elect");
    TCase *tc = tcase_create("elect");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_election_timeout_randomized_in_T_2T);
    tcase_add_test(tc, test_candidate_requests_votes);
    tcase_add_test(tc, test_one_vote_per_term_persisted_before_grant);
    tcase_add_test(tc, test_vote_survives_restart);
    tcase_add_test(tc, test_election_restriction);
    tcase_add_test(tc, test_majority_wins_majority_rejection_loses);
    tcase_add_test(tc, test_lost_election_keeps_timer_running);
    tcase_add_test(tc, test_leader_steps_down_on_higher_term);
    tcase_add_test(tc, test_prevote_isolated_node_keeps_term);
    tcase_add_test(tc, test_prevote_changes_no_state_and_reply_carries_request_term);
    tcase_add_test(tc, test_prevote_lower_term_answered_with_our_term);
    tcase_add_test(tc, test_prevote_respects_election_restriction);
    tcase_add_test(tc, test_prevote_win_starts_real_election);
    tcase_add_test(tc, test_check_quorum_leader_steps_down);
    tcase_add_test(tc, test_lease_ignores_votes_unless_transfer);
    tcase_add_test(tc, test_lease_expires);
    tcase_add_test(tc, test_partition_majority_elects);
    tcase_add_test(tc, test_non_voter_never_campaigns);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(suite());
}
