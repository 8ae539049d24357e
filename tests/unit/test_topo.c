/*
 * The replicated topology: every command applied in log order gives the
 * same state on every monitor; invalid commands change nothing; snapshots
 * round-trip; damaged bytes are refused, never half-applied.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "node/topo.h"
#include "util/glob.h"

static topo_cmd
monitor_cmd(const char *name, const char *host, int port, int quorum)
{
    topo_cmd c = {.type = TOPO_CMD_MONITOR};
    snprintf(c.m.name, sizeof(c.m.name), "%s", name);
    snprintf(c.m.address.host, sizeof(c.m.address.host), "%s", host);
    c.m.address.port = port;
    c.m.quorum = quorum;
    c.m.down_after_ms = 30000;
    c.m.failover_timeout_ms = 180000;
    c.m.parallel_syncs = 1;
    return c;
}

static topo_result
apply(topo *t, const topo_cmd *c)
{
    buf b = {0};
    topo_result res;
    topo_cmd_encode(c, &b);
    topo_apply(t, b.data, b.len, &res);
    buf_free(&b);
    return res;
}

static topo_cmd
set_cmd(const char *name, const char *opt, const char *val)
{
    topo_cmd c = {.type = TOPO_CMD_SET, .npairs = 1};
    snprintf(c.m.name, sizeof(c.m.name), "%s", name);
    snprintf(c.pairs[0].opt, sizeof(c.pairs[0].opt), "%s", opt);
    snprintf(c.pairs[0].val, sizeof(c.pairs[0].val), "%s", val);
    return c;
}

START_TEST(test_monitor_remove_and_errors_as_sentinel)
{
    topo t;
    topo_init(&t);
    topo_cmd c = monitor_cmd("mymaster", "127.0.0.1", 6379, 2);
    topo_result r = apply(&t, &c);
    ck_assert(r.ok);
    ck_assert_str_eq(r.ev[0].name, "+monitor");
    ck_assert_str_eq(r.ev[0].msg, "master mymaster 127.0.0.1 6379 quorum 2");
    r = apply(&t, &c);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.error, "-ERR Duplicated master name");
    ck_assert_int_eq(t.nsets, 1);

    topo_cmd rm = {.type = TOPO_CMD_REMOVE};
    strcpy(rm.m.name, "nope");
    r = apply(&t, &rm);
    ck_assert_str_eq(r.error, "-ERR No such master with that name");
    strcpy(rm.m.name, "mymaster");
    r = apply(&t, &rm);
    ck_assert(r.ok);
    ck_assert_str_eq(r.ev[0].name, "-monitor");
    ck_assert_int_eq(t.nsets, 0);
    topo_free(&t);
}
END_TEST

START_TEST(test_set_is_all_or_nothing)
{
    topo t;
    topo_init(&t);
    topo_cmd c = monitor_cmd("m", "10.0.0.1", 6379, 2);
    apply(&t, &c);
    topo_cmd s = set_cmd("m", "down-after-milliseconds", "5000");
    s.npairs = 2;
    strcpy(s.pairs[1].opt, "quorum");
    strcpy(s.pairs[1].val, "banana");
    topo_result r = apply(&t, &s);
    ck_assert(!r.ok);
    ck_assert_ptr_nonnull(strstr(r.error, "Invalid argument 'banana' for "
                                          "SENTINEL SET 'quorum'"));
    ck_assert_int_eq(topo_find(&t, "m")->m.down_after_ms, 30000);

    strcpy(s.pairs[1].val, "3");
    r = apply(&t, &s);
    ck_assert(r.ok);
    ck_assert_int_eq(topo_find(&t, "m")->m.down_after_ms, 5000);
    ck_assert_int_eq(topo_find(&t, "m")->m.quorum, 3);
    ck_assert_str_eq(r.ev[0].name, "+set");
    ck_assert_str_eq(r.ev[0].msg, "master m 10.0.0.1 6379 down-after-milliseconds"
                     " 5000 quorum 3");
    topo_free(&t);
}
END_TEST

START_TEST(test_set_secrets_masked_scripts_denied)
{
    topo t;
    topo_init(&t);
    topo_cmd c = monitor_cmd("m", "10.0.0.1", 6379, 2);
    apply(&t, &c);
    topo_cmd s = set_cmd("m", "auth-pass", "hunter2");
    topo_result r = apply(&t, &s);
    ck_assert(r.ok);
    ck_assert_str_eq(topo_find(&t, "m")->m.auth_pass, "hunter2");
    ck_assert_ptr_null(strstr(r.ev[0].msg, "hunter2"));
    s = set_cmd("m", "notification-script", "/bin/true");
    r = apply(&t, &s);
    ck_assert(!r.ok);
    ck_assert_ptr_nonnull(strstr(r.error, "denied for security reasons"));
    s = set_cmd("m", "no-such-option", "1");
    r = apply(&t, &s);
    ck_assert_ptr_nonnull(strstr(r.error, "Invalid argument 'no-such-option'"));
    char err[256];
    ck_assert(!topo_check_pairs(s.pairs, 1, err, sizeof(err)));
    ck_assert(!topo_check_pairs(s.pairs, 0, err, sizeof(err)));
    topo_free(&t);
}
END_TEST

START_TEST(test_reset_replicas_members_seeded)
{
    topo t;
    topo_init(&t);
    topo_cmd c = monitor_cmd("cache-1", "10.0.0.1", 6379, 2);
    c.seed = true;
    apply(&t, &c);
    c = monitor_cmd("other", "10.0.0.2", 6379, 2);
    apply(&t, &c);
    ck_assert(topo_was_seeded(&t, "cache-1"));
    ck_assert(!topo_was_seeded(&t, "other"));

    topo_cmd rep = {.type = TOPO_CMD_REPLICA};
    strcpy(rep.m.name, "cache-1");
    strcpy(rep.m.address.host, "10.0.0.9");
    rep.m.address.port = 6380;
    apply(&t, &rep);
    apply(&t, &rep);    /* idempotent */
    ck_assert_int_eq(topo_find(&t, "cache-1")->nreplicas, 1);

    topo_cmd reset = {.type = TOPO_CMD_RESET};
    strcpy(reset.m.name, "cache-*");
    topo_result r = apply(&t, &reset);
    ck_assert_int_eq(r.matched, 1);
    ck_assert_int_eq(topo_find(&t, "cache-1")->nreplicas, 0);

    topo_cmd mem = {.type = TOPO_CMD_MEMBER};
    strcpy(mem.member.id, "m2");
    strcpy(mem.member.admin.host, "127.0.0.1");
    mem.member.admin.port = 26380;
    apply(&t, &mem);
    mem.member.admin.port = 26381;     /* update in place */
    apply(&t, &mem);
    ck_assert_int_eq(t.nmembers, 1);
    ck_assert_int_eq(topo_find_member(&t, "m2")->admin.port, 26381);
    mem.type = TOPO_CMD_MEMBER_GONE;
    apply(&t, &mem);
    ck_assert_int_eq(t.nmembers, 0);
    topo_free(&t);
}
END_TEST

START_TEST(test_snapshot_round_trip_and_damage)
{
    topo t;
    topo_init(&t);
    topo_cmd c = monitor_cmd("a", "10.0.0.1", 6379, 2);
    c.seed = true;
    apply(&t, &c);
    c = monitor_cmd("b", "::1", 7000, 1);
    apply(&t, &c);
    topo_cmd rep = {.type = TOPO_CMD_REPLICA};
    strcpy(rep.m.name, "b");
    strcpy(rep.m.address.host, "10.1.1.1");
    rep.m.address.port = 7001;
    apply(&t, &rep);
    topo_cmd mem = {.type = TOPO_CMD_MEMBER};
    strcpy(mem.member.id, "m1");
    strcpy(mem.member.admin.host, "127.0.0.1");
    mem.member.admin.port = 26379;
    apply(&t, &mem);

    buf snap = {0};
    topo_snapshot(&t, &snap);
    topo u;
    topo_init(&u);
    ck_assert_int_eq(topo_restore(&u, snap.data, snap.len), 0);
    buf again = {0};
    topo_snapshot(&u, &again);
    ck_assert_uint_eq(again.len, snap.len);
    ck_assert_int_eq(memcmp(again.data, snap.data, snap.len), 0);
    ck_assert_int_eq(topo_find(&u, "b")->nreplicas, 1);
    ck_assert(topo_was_seeded(&u, "a"));

    /* Every truncation and a wrong version are refused; u is untouched. */
    for (size_t n = 0; n < snap.len; n++)
        ck_assert_int_eq(topo_restore(&u, snap.data, n), -1);
    snap.data[0] = 99;
    ck_assert_int_eq(topo_restore(&u, snap.data, snap.len), -1);
    ck_assert_int_eq(u.nsets, 2);
    buf_free(&snap);
    buf_free(&again);
    topo_free(&t);
    topo_free(&u);
}
END_TEST

START_TEST(test_damaged_commands_refused)
{
    topo_cmd c = set_cmd("m", "quorum", "2");
    buf b = {0};
    topo_cmd_encode(&c, &b);
    topo_cmd out;
    ck_assert_int_eq(topo_cmd_decode(b.data, b.len, &out), 0);
    ck_assert_str_eq(out.pairs[0].val, "2");
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(topo_cmd_decode(b.data, n, &out), -1);
    uint8_t longer[512];
    memcpy(longer, b.data, b.len);
    longer[b.len] = 0;
    ck_assert_int_eq(topo_cmd_decode(longer, b.len + 1, &out), -1);
    b.data[1] = 200;     /* unknown command type */
    ck_assert_int_eq(topo_cmd_decode(b.data, b.len, &out), -1);
    topo t;
    topo_init(&t);
    topo_result r;
    topo_apply(&t, b.data, b.len, &r);
    ck_assert(!r.ok);
    /* random bytes never crash the decoder */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        uint8_t junk[64];
        size_t n = (size_t)(i % 64);
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            junk[j] = (uint8_t)x;
        }
        if (n > 0) junk[0] = TOPO_FORMAT_VERSION;
        topo_apply(&t, junk, n, &r);
        topo_restore(&t, junk, n);
    }
    buf_free(&b);
    topo_free(&t);
}
END_TEST

START_TEST(test_odown_judgement_and_slave_event)
{
    topo t;
    topo_init(&t);
    topo_cmd c = monitor_cmd("m", "10.0.0.1", 6379, 2);
    apply(&t, &c);
    topo_cmd od = {.type = TOPO_CMD_ODOWN, .flag = true, .votes = 3};
    strcpy(od.m.name, "m");
    od.m.quorum = 2;
    topo_result r = apply(&t, &od);
    ck_assert(topo_find(&t, "m")->odown);
    ck_assert_str_eq(r.ev[0].name, "+odown");
    ck_assert_str_eq(r.ev[0].msg, "master m 10.0.0.1 6379 #quorum 3/2");
    r = apply(&t, &od);                 /* duplicate: no second event */
    ck_assert_int_eq(r.nev, 0);
    od.flag = false;
    r = apply(&t, &od);
    ck_assert(!topo_find(&t, "m")->odown);
    ck_assert_str_eq(r.ev[0].name, "-odown");
    ck_assert_str_eq(r.ev[0].msg, "master m 10.0.0.1 6379");

    topo_cmd rep = {.type = TOPO_CMD_REPLICA};
    strcpy(rep.m.name, "m");
    strcpy(rep.m.address.host, "10.0.0.2");
    rep.m.address.port = 6380;
    r = apply(&t, &rep);
    ck_assert_str_eq(r.ev[0].name, "+slave");
    ck_assert_str_eq(r.ev[0].msg, "slave 10.0.0.2:6380 10.0.0.2 6380 @ m "
                     "10.0.0.1 6379");
    topo_free(&t);
}
END_TEST

static const struct {
    const char *pattern, *s;
    bool match;
} globs[] = {
    {"*", "anything", true},       {"cache-*", "cache-1", true},
    {"cache-*", "cach", false},    {"?x", "ax", true},
    {"?x", "x", false},            {"[abc]1", "b1", true},
    {"[^abc]1", "b1", false},      {"[a-c]1", "c1", true},
    {"\\*", "*", true},            {"\\*", "a", false},
    {"a*b*c", "axxbyyc", true},    {"a*b*c", "axxbyy", false},
    {"", "", true},                {"+sdown", "+sdown", true},
    {"a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
};

START_TEST(test_glob)
{
    ck_assert_msg(glob_match(globs[_i].pattern, globs[_i].s, false) ==
                  globs[_i].match, "%s ~ %s", globs[_i].pattern, globs[_i].s);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("topo");
    TCase *tc = tcase_create("topo");
    tcase_add_test(tc, test_monitor_remove_and_errors_as_sentinel);
    tcase_add_test(tc, test_set_is_all_or_nothing);
    tcase_add_test(tc, test_set_secrets_masked_scripts_denied);
    tcase_add_test(tc, test_reset_replicas_members_seeded);
    tcase_add_test(tc, test_snapshot_round_trip_and_damage);
    tcase_add_test(tc, test_damaged_commands_refused);
    tcase_add_test(tc, test_odown_judgement_and_slave_event);
    tcase_add_loop_test(tc, test_glob, 0, sizeof(globs) / sizeof(globs[0]));
    suite_add_tcase(s, tc);
    return check_run(s);
}
