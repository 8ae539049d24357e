/* failover_select: every exclusion rule just inside and just outside its
 * limit, every ranking tie-break in both input orders, the operator lines
 * word for word, and a seeded cross-check against an independent
 * restatement of the rules. */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check_main.h"
#include "failover/failover_select.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define RID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define RID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define RID_F "ffffffffffffffffffffffffffffffffffffffff"

/* Sentinel's defaults: ping 1 s, INFO 10 s, down-after 30 s. */
static failover_params
params(bool master_sdown, int64_t master_sdown_ms)
{
    failover_params p = {1000, 10000, 30000, master_sdown, master_sdown_ms};
    return p;
}

/* A replica that passes every rule. */
static failover_candidate
healthy(const char *host, int port)
{
    failover_candidate c = {host, port, RID_A, 100, 1000, 0, 100, 100, 0};
    return c;
}

static const char *
line_of(const failover_candidate *c, size_t n, const failover_params *p,
        const failover_reason *r, size_t i)
{
    static char buf[1024];
    size_t len = failover_describe(c, n, p, r, i, buf, sizeof(buf));
    ck_assert_uint_eq(len, strlen(buf));
    return buf;
}

/* ---- exclusion rules, one candidate each ---------------------------------
 * Columns: master sdown (and for how long), the candidate's flags,
 * priority, reply age, INFO age, link-down time; the verdict and the line
 * after "10.0.0.1:6379 ". */

#define SEL "selected: replica-priority 100, offset 1000, run id " RID_A
#define REPLY_LIMIT " (limit 5000 = 5 x ping period 1000 ms)"
#define INFO_LIMIT " (limit 30000 = 3 x info period 10000 ms)"
#define INFO_SDOWN " (limit 5000 = 5 x 1000 ms while the master is down)"
#define LINK_LIMIT " (limit 300000 = 10 x down-after-milliseconds 30000"

static const struct ex_case {
    bool sdown;
    int64_t sdown_ms;
    unsigned flags;
    int prio;
    int64_t reply, info, link;
    failover_reason want;
    const char *line;
} EX_CASES[] = {
    {0, 0, 0, 100, 100, 100, 0, FAILOVER_SELECTED, SEL},
    {0, 0, FAILOVER_F_SDOWN, 100, 100, 100, 0, FAILOVER_EX_SDOWN,
     "excluded: subjectively down (sdown)"},
    {0, 0, FAILOVER_F_ODOWN, 100, 100, 100, 0, FAILOVER_EX_ODOWN,
     "excluded: objectively down (odown)"},
    {0, 0, FAILOVER_F_DISCONNECTED, 100, 100, 100, 0, FAILOVER_EX_DISCONNECTED,
     "excluded: disconnected"},
    /* the first rule in Sentinel's order is the one reported */
    {0, 0, FAILOVER_F_SDOWN | FAILOVER_F_ODOWN, 100, 100, 100, 0,
     FAILOVER_EX_SDOWN, "excluded: subjectively down (sdown)"},
    {0, 0, FAILOVER_F_ODOWN | FAILOVER_F_DISCONNECTED, 0, -1, -1, 1 << 30,
     FAILOVER_EX_ODOWN, "excluded: objectively down (odown)"},
    {0, 0, FAILOVER_F_DISCONNECTED, 0, -1, -1, 1 << 30,
     FAILOVER_EX_DISCONNECTED, "excluded: disconnected"},
    /* last reply: 5 ping periods */
    {0, 0, 0, 100, 0, 100, 0, FAILOVER_SELECTED, SEL},
    {0, 0, 0, 100, 5000, 100, 0, FAILOVER_SELECTED, SEL},
    {0, 0, 0, 100, 5001, 100, 0, FAILOVER_EX_REPLY_AGE,
     "excluded: last reply 5001 ms ago" REPLY_LIMIT},
    {0, 0, 0, 100, -1, 100, 0, FAILOVER_EX_REPLY_AGE,
     "excluded: no valid reply yet" REPLY_LIMIT},
    {0, 0, 0, 0, 5001, 100, 0, FAILOVER_EX_REPLY_AGE,
     "excluded: last reply 5001 ms ago" REPLY_LIMIT},
    /* priority */
    {0, 0, 0, 1, 100, 100, 0, FAILOVER_SELECTED,
     "selected: replica-priority 1, offset 1000, run id " RID_A},
    {0, 0, 0, 0, 100, 100, 0, FAILOVER_EX_PRIORITY,
     "excluded: replica-priority 0"},
    {0, 0, 0, -1, 100, 100, 0, FAILOVER_EX_PRIORITY,
     "excluded: replica-priority -1"},
    {0, 0, 0, 0, 100, 30001, 1 << 30, FAILOVER_EX_PRIORITY,
     "excluded: replica-priority 0"},
    /* INFO age: 3 info periods, or 5 s while the master is sdown */
    {0, 0, 0, 100, 100, 30000, 0, FAILOVER_SELECTED, SEL},
    {0, 0, 0, 100, 100, 30001, 0, FAILOVER_EX_INFO_AGE,
     "excluded: last INFO 30001 ms ago" INFO_LIMIT},
    {0, 0, 0, 100, 100, -1, 0, FAILOVER_EX_INFO_AGE,
     "excluded: no INFO reply yet" INFO_LIMIT},
    {1, 0, 0, 100, 100, 5000, 0, FAILOVER_SELECTED, SEL},
    {1, 0, 0, 100, 100, 5001, 0, FAILOVER_EX_INFO_AGE,
     "excluded: last INFO 5001 ms ago" INFO_SDOWN},
    {0, 0, 0, 100, 100, 30001, 1 << 30, FAILOVER_EX_INFO_AGE,
     "excluded: last INFO 30001 ms ago" INFO_LIMIT},
    /* link to master down: 10 x down-after (+ master sdown time) */
    {0, 0, 0, 100, 100, 100, 300000, FAILOVER_SELECTED, SEL},
    {0, 0, 0, 100, 100, 100, 300001, FAILOVER_EX_LINK_DOWN,
     "excluded: link to master down for 300001 ms" LINK_LIMIT ")"},
    {1, 12000, 0, 100, 100, 100, 312000, FAILOVER_SELECTED, SEL},
    {1, 12000, 0, 100, 100, 100, 312001, FAILOVER_EX_LINK_DOWN,
     "excluded: link to master down for 312001 ms (limit 312000 = 10 x "
     "down-after-milliseconds 30000 + master down for 12000 ms)"},
    /* the sdown time only counts while the master is sdown */
    {0, 12000, 0, 100, 100, 100, 300001, FAILOVER_EX_LINK_DOWN,
     "excluded: link to master down for 300001 ms" LINK_LIMIT ")"},
    /* Redis 7's -1 (never connected since start) passes, as in Sentinel */
    {0, 0, 0, 100, 100, 100, -1000, FAILOVER_SELECTED, SEL},
    {0, 0, 0, 100, 100, 100, INT64_MAX, FAILOVER_EX_LINK_DOWN,
     "excluded: link to master down for 9223372036854775807 ms" LINK_LIMIT
     ")"},
};

START_TEST(exclusion_rule)
{
    const struct ex_case *ec = &EX_CASES[_i];
    failover_params p = params(ec->sdown, ec->sdown_ms);
    failover_candidate c = healthy("10.0.0.1", 6379);
    c.flags = ec->flags;
    c.priority = ec->prio;
    c.reply_age_ms = ec->reply;
    c.info_age_ms = ec->info;
    c.master_link_down_ms = ec->link;
    failover_reason r = FAILOVER_REASON_COUNT;
    int chosen = failover_select(&c, 1, &p, &r);
    ck_assert_msg(r == ec->want, "row %d: %s", _i, failover_reason_name(r));
    ck_assert_int_eq(chosen, ec->want == FAILOVER_SELECTED ? 0 : -1);
    ck_assert_int_eq(failover_reason_excluded(r), chosen < 0);
    char want[512];
    snprintf(want, sizeof(want), "10.0.0.1:6379 %s", ec->line);
    ck_assert_str_eq(line_of(&c, 1, &p, &r, 0), want);
}
END_TEST

/* ---- ranking, two eligible candidates ------------------------------------
 * Candidate 0 is 10.0.0.1:6379, candidate 1 is 10.0.0.2:6379 unless a
 * column says otherwise; `win` is the index that must be chosen (in both
 * input orders), and `line` the loser's line. */

static const struct rank_case {
    const char *name;
    int prio[2];
    int64_t off[2];
    const char *rid[2];
    const char *host1;
    int port1;
    int win;
    failover_reason lost;
    const char *line;
} RANK_CASES[] = {
    {"lower priority wins", {100, 50}, {2000, 1000}, {RID_A, RID_B}, NULL, 0,
     1, FAILOVER_LOST_PRIORITY,
     "10.0.0.1:6379 not selected: replica-priority 100 > 50 of 10.0.0.2:6379"},
    {"then higher offset", {100, 100}, {1000, 1001}, {RID_A, RID_B}, NULL, 0,
     1, FAILOVER_LOST_OFFSET,
     "10.0.0.1:6379 not selected: offset 1000 < 1001 of 10.0.0.2:6379 (same "
     "replica-priority 100)"},
    {"then smaller run id", {100, 100}, {1000, 1000}, {RID_B, RID_A}, NULL, 0,
     1, FAILOVER_LOST_RUN_ID,
     "10.0.0.1:6379 not selected: run id " RID_B " sorts after " RID_A
     " of 10.0.0.2:6379 (same replica-priority 100 and offset 1000)"},
    {"a missing run id sorts last", {100, 100}, {1000, 1000}, {NULL, RID_F},
     NULL, 0, 1, FAILOVER_LOST_RUN_ID,
     "10.0.0.1:6379 not selected: run id unknown, 10.0.0.2:6379 has " RID_F
     " (same replica-priority 100 and offset 1000)"},
    {"an empty run id is missing", {100, 100}, {1000, 1000}, {"", RID_F},
     NULL, 0, 1, FAILOVER_LOST_RUN_ID,
     "10.0.0.1:6379 not selected: run id unknown, 10.0.0.2:6379 has " RID_F
     " (same replica-priority 100 and offset 1000)"},
    {"run ids compare without case", {100, 100}, {1000, 1000},
     {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", RID_A}, NULL, 0, 0,
     FAILOVER_LOST_ADDRESS,
     "10.0.0.2:6379 not selected: same replica-priority, offset and run id "
     "as 10.0.0.1:6379, whose address sorts first"},
    {"both run ids missing: address", {100, 100}, {1000, 1000}, {NULL, NULL},
     NULL, 0, 0, FAILOVER_LOST_ADDRESS,
     "10.0.0.2:6379 not selected: same replica-priority, offset and run id "
     "as 10.0.0.1:6379, whose address sorts first"},
    {"same host: lower port", {100, 100}, {1000, 1000}, {RID_A, RID_A},
     "10.0.0.1", 6378, 1, FAILOVER_LOST_ADDRESS,
     "10.0.0.1:6379 not selected: same replica-priority, offset and run id "
     "as 10.0.0.1:6378, whose address sorts first"},
    {"priority before offset", {50, 100}, {0, 999}, {RID_B, RID_A}, NULL, 0,
     0, FAILOVER_LOST_PRIORITY,
     "10.0.0.2:6379 not selected: replica-priority 100 > 50 of 10.0.0.1:6379"},
    {"offset before run id", {7, 7}, {5, 4}, {RID_F, RID_A}, NULL, 0, 0,
     FAILOVER_LOST_OFFSET,
     "10.0.0.2:6379 not selected: offset 4 < 5 of 10.0.0.1:6379 (same "
     "replica-priority 7)"},
    {"IPv6 addresses in brackets", {100, 100}, {1000, 1000}, {RID_A, RID_A},
     "::1", 6379, 0, FAILOVER_LOST_ADDRESS,
     "[::1]:6379 not selected: same replica-priority, offset and run id as "
     "10.0.0.1:6379, whose address sorts first"},
};

START_TEST(ranking_rule)
{
    const struct rank_case *rc = &RANK_CASES[_i];
    failover_params p = params(false, 0);
    failover_candidate c[2] = {healthy("10.0.0.1", 6379),
                               healthy(rc->host1 ? rc->host1 : "10.0.0.2",
                                       rc->host1 ? rc->port1 : 6379)};
    for (int k = 0; k < 2; k++) {
        c[k].priority = rc->prio[k];
        c[k].repl_offset = rc->off[k];
        c[k].run_id = rc->rid[k];
    }
    for (int order = 0; order < 2; order++) {
        /* order 1 swaps the list: the same candidate must win */
        failover_candidate in[2] = {c[order], c[1 - order]};
        failover_reason r[2];
        int win = order ? 1 - rc->win : rc->win;
        ck_assert_msg(failover_select(in, 2, &p, r) == win, "%s", rc->name);
        ck_assert_int_eq(r[win], FAILOVER_SELECTED);
        ck_assert_msg(r[1 - win] == rc->lost, "%s: %s", rc->name,
                      failover_reason_name(r[1 - win]));
        ck_assert_str_eq(line_of(in, 2, &p, r, (size_t)(1 - win)), rc->line);
    }
}
END_TEST

/* Exact duplicates: the first listed is used, and the line says so. */
START_TEST(duplicate_entries)
{
    failover_params p = params(false, 0);
    failover_candidate c[2] = {healthy("h", 1), healthy("h", 1)};
    failover_reason r[2];
    ck_assert_int_eq(failover_select(c, 2, &p, r), 0);
    ck_assert_int_eq(r[1], FAILOVER_LOST_ADDRESS);
    ck_assert_str_eq(line_of(c, 2, &p, r, 1),
                     "h:1 not selected: same replica-priority, offset and run "
                     "id as h:1, listed twice (the first entry is used)");
}
END_TEST

/* ---- lists ------------------------------------------------------------- */

START_TEST(empty_list)
{
    failover_params p = params(true, 1000);
    ck_assert_int_eq(failover_select(NULL, 0, &p, NULL), -1);
    char buf[8] = "x";
    ck_assert_uint_eq(failover_describe(NULL, 0, &p, NULL, 0, buf, 8), 0);
    ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(all_excluded)
{
    failover_params p = params(true, 0);
    failover_candidate c[4] = {healthy("a", 1), healthy("b", 2),
                               healthy("c", 3), healthy("d", 4)};
    c[0].priority = 0;
    c[1].flags = FAILOVER_F_DISCONNECTED;
    c[2].info_age_ms = 5001;
    c[3].master_link_down_ms = 300001;
    failover_reason r[4];
    static const failover_reason want[4] = {
        FAILOVER_EX_PRIORITY, FAILOVER_EX_DISCONNECTED, FAILOVER_EX_INFO_AGE,
        FAILOVER_EX_LINK_DOWN};
    ck_assert_int_eq(failover_select(c, 4, &p, r), -1);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(r[i], want[i]);
    ck_assert_str_eq(line_of(c, 4, &p, r, 0),
                     "a:1 excluded: replica-priority 0");
}
END_TEST

/* The best of several, some excluded, each line naming the winner. */
START_TEST(mixed_list)
{
    failover_params p = params(false, 0);
    failover_candidate c[5] = {healthy("a", 1), healthy("b", 2),
                               healthy("c", 3), healthy("d", 4),
                               healthy("e", 5)};
    c[0].repl_offset = 5000;
    c[0].flags = FAILOVER_F_SDOWN;  /* best data, but down */
    c[1].repl_offset = 1200;
    c[2].repl_offset = 1250;
    c[3].priority = 10;
    c[3].reply_age_ms = 6000;      /* best priority, but silent */
    c[4].repl_offset = 1250;
    c[4].run_id = RID_B;
    failover_reason r[5];
    ck_assert_int_eq(failover_select(c, 5, &p, r), 2);
    ck_assert_int_eq(failover_select(c, 5, &p, NULL), 2);
    ck_assert_str_eq(line_of(c, 5, &p, r, 1),
                     "b:2 not selected: offset 1200 < 1250 of c:3 (same "
                     "replica-priority 100)");
    ck_assert_str_eq(line_of(c, 5, &p, r, 3),
                     "d:4 excluded: last reply 6000 ms ago" REPLY_LIMIT);
    ck_assert_int_eq(r[4], FAILOVER_LOST_RUN_ID);
    ck_assert_int_eq(r[0], FAILOVER_EX_SDOWN);
}
END_TEST

/* ---- lines and limits -------------------------------------------------- */

START_TEST(describe_truncates_and_sanitizes)
{
    failover_params p = params(false, 0);
    failover_candidate c = healthy("ev\r\nil\x1b", 1);
    c.priority = 0;
    c.run_id = NULL;
    failover_reason r;
    failover_select(&c, 1, &p, &r);
    const char *full = "ev??il?:1 excluded: replica-priority 0";
    ck_assert_str_eq(line_of(&c, 1, &p, &r, 0), full);
    char small[10];
    ck_assert_uint_eq(failover_describe(&c, 1, &p, &r, 0, small, 10),
                      strlen(full));
    ck_assert_str_eq(small, "ev??il?:1");
    ck_assert_uint_eq(failover_describe(&c, 1, &p, &r, 0, NULL, 0),
                      strlen(full));
    c.host = NULL;
    ck_assert_str_eq(line_of(&c, 1, &p, &r, 0),
                     "?:1 excluded: replica-priority 0");
    r = (failover_reason)99;
    ck_assert_str_eq(line_of(&c, 1, &p, &r, 0), "?:1 unknown verdict 99");
}
END_TEST

START_TEST(limits_saturate)
{
    failover_params p = {INT64_MAX, INT64_MAX, INT64_MAX, true, INT64_MAX};
    failover_limits l = failover_limits_of(&p);
    ck_assert_int_eq(l.reply_ms, INT64_MAX);
    ck_assert_int_eq(l.info_ms, 5000);
    ck_assert_int_eq(l.link_down_ms, INT64_MAX);
    p.master_sdown = false;
    ck_assert_int_eq(failover_limits_of(&p).info_ms, INT64_MAX);
    failover_params neg = {-5, -5, -5, true, -5};
    l = failover_limits_of(&neg);
    ck_assert_int_eq(l.reply_ms, 0);
    ck_assert_int_eq(l.link_down_ms, 0);
    ck_assert_int_eq(failover_limits_of(&p).link_down_ms, INT64_MAX);
    p.master_sdown = true;
    p.master_sdown_ms = INT64_MAX - 1;
    p.down_after_ms = 1;
    ck_assert_int_eq(failover_limits_of(&p).link_down_ms, INT64_MAX);
}
END_TEST

START_TEST(reason_names)
{
    for (int a = 0; a < FAILOVER_REASON_COUNT; a++) {
        ck_assert_str_ne(failover_reason_name((failover_reason)a), "?");
        for (int b = 0; b < a; b++)
            ck_assert_str_ne(failover_reason_name((failover_reason)a),
                             failover_reason_name((failover_reason)b));
        ck_assert_int_eq(failover_reason_excluded((failover_reason)a),
                         a >= FAILOVER_EX_SDOWN);
    }
    ck_assert_str_eq(failover_reason_name(FAILOVER_REASON_COUNT), "?");
    ck_assert_str_eq(failover_reason_name((failover_reason)-1), "?");
    ck_assert(!failover_reason_excluded(FAILOVER_REASON_COUNT));
}
END_TEST

/* ---- seeded cross-check ----------------------------------------------------
 * The rules restated independently (an if-chain and qsort), compared with
 * the module on random lists built from values at and around every limit,
 * with many ties. */

static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

#define PICK(s, arr) (arr)[next_rand(s) % COUNT(arr)]

static failover_reason
ref_exclusion(const failover_candidate *c, const failover_params *p)
{
    int64_t reply = p->ping_period_ms * 5;
    int64_t info = p->master_sdown ? 5000 : p->info_period_ms * 3;
    int64_t link =
        p->down_after_ms * 10 + (p->master_sdown ? p->master_sdown_ms : 0);
    if (c->flags & FAILOVER_F_SDOWN)
        return FAILOVER_EX_SDOWN;
    if (c->flags & FAILOVER_F_ODOWN)
        return FAILOVER_EX_ODOWN;
    if (c->flags & FAILOVER_F_DISCONNECTED)
        return FAILOVER_EX_DISCONNECTED;
    if (c->reply_age_ms < 0 || c->reply_age_ms > reply)
        return FAILOVER_EX_REPLY_AGE;
    if (c->priority <= 0)
        return FAILOVER_EX_PRIORITY;
    if (c->info_age_ms < 0 || c->info_age_ms > info)
        return FAILOVER_EX_INFO_AGE;
    if (c->master_link_down_ms > link)
        return FAILOVER_EX_LINK_DOWN;
    return FAILOVER_SELECTED;
}

static const failover_candidate *REF_LIST;

static int
ref_cmp(const void *x, const void *y)
{
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    const failover_candidate *a = &REF_LIST[i], *b = &REF_LIST[j];
    if (a->priority != b->priority)
        return a->priority < b->priority ? -1 : 1;
    if (a->repl_offset != b->repl_offset)
        return a->repl_offset > b->repl_offset ? -1 : 1;
    bool ha = a->run_id && *a->run_id, hb = b->run_id && *b->run_id;
    if (ha != hb)
        return ha ? -1 : 1;
    if (ha && strcasecmp(a->run_id, b->run_id) != 0)
        return strcasecmp(a->run_id, b->run_id);
    if (strcmp(a->host, b->host) != 0)
        return strcmp(a->host, b->host);
    if (a->port != b->port)
        return a->port < b->port ? -1 : 1;
    return i < j ? -1 : 1;
}

/* The first criterion on which the winner w beats c. */
static failover_reason
ref_lost(const failover_candidate *w, const failover_candidate *c)
{
    bool hw = w->run_id && *w->run_id, hc = c->run_id && *c->run_id;
    if (c->priority != w->priority)
        return FAILOVER_LOST_PRIORITY;
    if (c->repl_offset != w->repl_offset)
        return FAILOVER_LOST_OFFSET;
    if (hw != hc || (hw && strcasecmp(w->run_id, c->run_id) != 0))
        return FAILOVER_LOST_RUN_ID;
    return FAILOVER_LOST_ADDRESS;
}

static void
random_list(uint64_t *s, failover_candidate *c, size_t n, failover_params *p)
{
    static const int64_t pings[] = {0, 1, 1000}, infos[] = {1000, 10000},
                         downs[] = {10, 30000}, sdowns[] = {0, 1000};
    static const char *const hosts[] = {"a", "b", "c"};
    static const char *const rids[] = {
        NULL, "", RID_A, RID_B, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    static const int prios[] = {-1, 0, 1, 2, 100};
    static const int64_t deltas[] = {-1, 0, 1};
    *p = (failover_params){PICK(s, pings), PICK(s, infos), PICK(s, downs),
                           next_rand(s) % 2 == 0, PICK(s, sdowns)};
    failover_limits l = failover_limits_of(p);
    for (size_t i = 0; i < n; i++) {
        c[i] = healthy(PICK(s, hosts), (int)(next_rand(s) % 2) + 1);
        c[i].run_id = PICK(s, rids);
        c[i].priority = PICK(s, prios);
        c[i].repl_offset = (int64_t)(next_rand(s) % 3);
        c[i].flags = next_rand(s) % 4 == 0 ? (unsigned)(next_rand(s) % 8) : 0;
        c[i].reply_age_ms = next_rand(s) % 2 ? l.reply_ms + PICK(s, deltas) : 0;
        c[i].info_age_ms = next_rand(s) % 2 ? l.info_ms + PICK(s, deltas) : 0;
        c[i].master_link_down_ms =
            next_rand(s) % 2 ? l.link_down_ms + PICK(s, deltas) : -1000;
    }
}

START_TEST(cross_check)
{
    uint64_t seed = 0xfa11;
    failover_candidate c[8];
    failover_reason r[8];
    size_t order[8];
    char line[1024];
    for (int it = 0; it < 20000; it++) {
        size_t n = next_rand(&seed) % 9;
        failover_params p;
        random_list(&seed, c, n, &p);
        int got = failover_select(c, n, &p, r);
        size_t ne = 0;
        for (size_t i = 0; i < n; i++) {
            failover_reason want = ref_exclusion(&c[i], &p);
            if (want == FAILOVER_SELECTED)
                order[ne++] = i;
            else
                ck_assert_int_eq(r[i], want);
        }
        REF_LIST = c;
        qsort(order, ne, sizeof(order[0]), ref_cmp);
        ck_assert_int_eq(got, ne ? (int)order[0] : -1);
        bool ranked = true;
        for (size_t k = 1; k < ne; k++)
            ranked &= r[order[k]] == ref_lost(&c[order[0]], &c[order[k]]);
        ck_assert(ranked);
        /* (one assertion per list: each passing ck_assert is a write to
         * Check's parent process) */
        bool printable = true;
        for (size_t i = 0; i < n; i++) {
            size_t len = failover_describe(c, n, &p, r, i, line, sizeof(line));
            printable &= len > 0 && len == strlen(line);
            for (size_t k = 0; k < len; k++)
                printable &= line[k] >= 0x20 && line[k] < 0x7f;
        }
        ck_assert(printable);
    }
}
END_TEST

static Suite *
failover_select_suite(void)
{
    Suite *s = suite_create("failover_select");
    TCase *tc = tcase_create("exclusion");
    tcase_add_loop_test(tc, exclusion_rule, 0, (int)COUNT(EX_CASES));
    suite_add_tcase(s, tc);

    tc = tcase_create("ranking");
    tcase_add_loop_test(tc, ranking_rule, 0, (int)COUNT(RANK_CASES));
    tcase_add_test(tc, duplicate_entries);
    suite_add_tcase(s, tc);

    tc = tcase_create("lists");
    tcase_add_test(tc, empty_list);
    tcase_add_test(tc, all_excluded);
    tcase_add_test(tc, mixed_list);
    tcase_add_test(tc, describe_truncates_and_sanitizes);
    tcase_add_test(tc, limits_saturate);
    tcase_add_test(tc, reason_names);
    tcase_add_test(tc, cross_check);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(failover_select_suite());
}
