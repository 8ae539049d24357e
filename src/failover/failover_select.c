/*
 * failover_select.c -- replica selection; see failover_select.h and
 * docs/monitoring-info.md.
 *
 * One pass finds the best eligible candidate (no sort, no allocation); a
 * second pass records, for every other eligible one, the first ranking
 * criterion on which the winner beat it, which is exactly what an operator
 * asks ("why not that one?").
 */
#include "failover/failover_select.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- limits -------------------------------------------------------------- *
 * Parameters come from configuration; saturating keeps a silly value from
 * turning into signed overflow (undefined) or a wrapped, tiny limit. */

static int64_t
nonneg(int64_t x)
{
    return x < 0 ? 0 : x;
}

static int64_t
sat_mul(int64_t a, int64_t k) /* a >= 0, k > 0 */
{
    return a > INT64_MAX / k ? INT64_MAX : a * k;
}

static int64_t
sat_add(int64_t a, int64_t b) /* a, b >= 0 */
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

failover_limits
failover_limits_of(const failover_params *p)
{
    failover_limits l;
    l.reply_ms = sat_mul(nonneg(p->ping_period_ms), FAILOVER_PING_REPLIES);
    l.info_ms = p->master_sdown
                    ? (int64_t)FAILOVER_SDOWN_INFO_REFRESHES *
                          FAILOVER_SDOWN_INFO_PERIOD_MS
                    : sat_mul(nonneg(p->info_period_ms),
                              FAILOVER_INFO_REFRESHES);
    l.link_down_ms =
        sat_add(p->master_sdown ? nonneg(p->master_sdown_ms) : 0,
                sat_mul(nonneg(p->down_after_ms), FAILOVER_DOWN_AFTER_TIMES));
    return l;
}

/* ---- exclusion rules ----------------------------------------------------- *
 * Checked in table order, Sentinel's order; the first that applies is the
 * verdict.  Each limit is inclusive: a value equal to it passes. */

static bool
ex_sdown(const failover_candidate *c, const failover_limits *l)
{
    (void)l;
    return (c->flags & FAILOVER_F_SDOWN) != 0;
}

static bool
ex_odown(const failover_candidate *c, const failover_limits *l)
{
    (void)l;
    return (c->flags & FAILOVER_F_ODOWN) != 0;
}

static bool
ex_disconnected(const failover_candidate *c, const failover_limits *l)
{
    (void)l;
    return (c->flags & FAILOVER_F_DISCONNECTED) != 0;
}

static bool
ex_reply_age(const failover_candidate *c, const failover_limits *l)
{
    return c->reply_age_ms < 0 || c->reply_age_ms > l->reply_ms;
}

/* Priority 0 is the operator's "never promote this one"; a negative one
 * cannot come from Redis' config and is not trusted to mean "best". */
static bool
ex_priority(const failover_candidate *c, const failover_limits *l)
{
    (void)l;
    return c->priority <= 0;
}

static bool
ex_info_age(const failover_candidate *c, const failover_limits *l)
{
    return c->info_age_ms < 0 || c->info_age_ms > l->info_ms;
}

/* A replica cut off from the master for much longer than the master has
 * been failing holds old data: promoting it would lose writes. */
static bool
ex_link_down(const failover_candidate *c, const failover_limits *l)
{
    return c->master_link_down_ms > l->link_down_ms;
}

static const struct rule {
    failover_reason reason;
    bool (*excludes)(const failover_candidate *c, const failover_limits *l);
} RULES[] = {
    {FAILOVER_EX_SDOWN, ex_sdown},
    {FAILOVER_EX_ODOWN, ex_odown},
    {FAILOVER_EX_DISCONNECTED, ex_disconnected},
    {FAILOVER_EX_REPLY_AGE, ex_reply_age},
    {FAILOVER_EX_PRIORITY, ex_priority},
    {FAILOVER_EX_INFO_AGE, ex_info_age},
    {FAILOVER_EX_LINK_DOWN, ex_link_down},
};

static failover_reason
exclusion(const failover_candidate *c, const failover_limits *l)
{
    for (size_t i = 0; i < COUNT(RULES); i++)
        if (RULES[i].excludes(c, l))
            return RULES[i].reason;
    return FAILOVER_SELECTED;
}

/* ---- ranking ------------------------------------------------------------- *
 * Each comparator is < 0 when a ranks above b. */

static int
cmp_priority(const failover_candidate *a, const failover_candidate *b)
{
    return (a->priority > b->priority) - (a->priority < b->priority);
}

static int
cmp_offset(const failover_candidate *a, const failover_candidate *b)
{
    return (a->repl_offset < b->repl_offset) -
           (a->repl_offset > b->repl_offset);
}

static bool
has_run_id(const failover_candidate *c)
{
    return c->run_id != NULL && c->run_id[0] != '\0';
}

static unsigned char
fold(unsigned char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

/* Case-insensitive like Sentinel's strcasecmp, but ASCII only: the result
 * must not depend on the process locale. */
static int
cmp_run_id(const failover_candidate *a, const failover_candidate *b)
{
    if (!has_run_id(a) || !has_run_id(b))
        return has_run_id(b) - has_run_id(a);
    const unsigned char *x = (const unsigned char *)a->run_id;
    const unsigned char *y = (const unsigned char *)b->run_id;
    while (*x != '\0' && fold(*x) == fold(*y)) {
        x++;
        y++;
    }
    return (fold(*x) > fold(*y)) - (fold(*x) < fold(*y));
}

static int
cmp_address(const failover_candidate *a, const failover_candidate *b)
{
    int h = strcmp(a->host ? a->host : "", b->host ? b->host : "");
    if (h != 0)
        return h < 0 ? -1 : 1;
    return (a->port > b->port) - (a->port < b->port);
}

static const struct criterion {
    failover_reason loses;
    int (*cmp)(const failover_candidate *a, const failover_candidate *b);
} CRITERIA[] = {
    {FAILOVER_LOST_PRIORITY, cmp_priority},
    {FAILOVER_LOST_OFFSET, cmp_offset},
    {FAILOVER_LOST_RUN_ID, cmp_run_id},
    {FAILOVER_LOST_ADDRESS, cmp_address},
};

/* < 0 when c[a] ranks above c[b]; *by names the deciding criterion.  The
 * list position settles exact duplicates, so the order is total. */
static int
rank(const failover_candidate *c, size_t a, size_t b, failover_reason *by)
{
    for (size_t i = 0; i < COUNT(CRITERIA); i++) {
        int r = CRITERIA[i].cmp(&c[a], &c[b]);
        if (r != 0) {
            *by = CRITERIA[i].loses;
            return r;
        }
    }
    *by = FAILOVER_LOST_ADDRESS;
    return (a > b) - (a < b);
}

int
failover_select(const failover_candidate *c, size_t n,
                const failover_params *p, failover_reason *reasons)
{
    if (n > INT_MAX)
        n = INT_MAX;
    failover_limits l = failover_limits_of(p);
    failover_reason by;
    size_t best = n;
    for (size_t i = 0; i < n; i++) {
        failover_reason r = exclusion(&c[i], &l);
        if (reasons != NULL)
            reasons[i] = r;
        if (r == FAILOVER_SELECTED && (best == n || rank(c, i, best, &by) < 0))
            best = i;
    }
    if (best == n)
        return -1;
    for (size_t i = 0; reasons != NULL && i < n; i++)
        if (i != best && reasons[i] == FAILOVER_SELECTED) {
            rank(c, best, i, &by);
            reasons[i] = by;
        }
    return (int)best;
}

/* ---- reason names -------------------------------------------------------- */

static const char *const NAMES[FAILOVER_REASON_COUNT] = {
    [FAILOVER_SELECTED] = "selected",
    [FAILOVER_LOST_PRIORITY] = "lost-priority",
    [FAILOVER_LOST_OFFSET] = "lost-offset",
    [FAILOVER_LOST_RUN_ID] = "lost-run-id",
    [FAILOVER_LOST_ADDRESS] = "lost-address",
    [FAILOVER_EX_SDOWN] = "sdown",
    [FAILOVER_EX_ODOWN] = "odown",
    [FAILOVER_EX_DISCONNECTED] = "disconnected",
    [FAILOVER_EX_REPLY_AGE] = "reply-age",
    [FAILOVER_EX_PRIORITY] = "priority",
    [FAILOVER_EX_INFO_AGE] = "info-age",
    [FAILOVER_EX_LINK_DOWN] = "link-down",
};

bool
failover_reason_excluded(failover_reason r)
{
    return r >= FAILOVER_EX_SDOWN && r < FAILOVER_REASON_COUNT;
}

const char *
failover_reason_name(failover_reason r)
{
    return (unsigned)r < FAILOVER_REASON_COUNT ? NAMES[r] : "?";
}

/* ---- operator lines ------------------------------------------------------ */

typedef struct writer {
    char *buf;
    size_t cap;
    size_t len; /* of the whole line, even past cap */
} writer;

static void
put_char(writer *w, char ch)
{
    if (w->len + 1 < w->cap)
        w->buf[w->len] = ch;
    w->len++;
}

static void __attribute__((format(printf, 2, 3)))
put(writer *w, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    for (int i = 0; i < k && (size_t)i < sizeof(tmp) - 1; i++)
        put_char(w, tmp[i]);
}

/* Host and run id come from Redis replies: show them, never let them
 * inject a line break or escape into a log line or a RESP reply. */
static void
put_safe(writer *w, const char *s)
{
    if (s == NULL)
        s = "?";
    for (size_t i = 0; s[i] != '\0' && i < 255; i++) {
        unsigned char ch = (unsigned char)s[i];
        put_char(w, ch >= 0x21 && ch <= 0x7e ? (char)ch : '?');
    }
}

/* Like Redis' anetFormatAddr: IPv6 in brackets. */
static void
put_addr(writer *w, const failover_candidate *c)
{
    bool v6 = c->host != NULL && strchr(c->host, ':') != NULL;
    put(w, "%s", v6 ? "[" : "");
    put_safe(w, c->host);
    put(w, "%s:%d", v6 ? "]" : "", c->port);
}

typedef struct context {
    failover_reason r;
    const failover_candidate *c;     /* the candidate described */
    const failover_candidate *rival; /* the selected one, or NULL */
    const failover_params *p;
    failover_limits l;
} context;

static void
put_run_id(writer *w, const failover_candidate *c)
{
    if (has_run_id(c))
        put_safe(w, c->run_id);
    else
        put(w, "unknown");
}

static void
put_of_rival(writer *w, const context *x)
{
    if (x->rival == NULL)
        return;
    put(w, " of ");
    put_addr(w, x->rival);
}

static void
say_selected(writer *w, const context *x)
{
    put(w, "selected: replica-priority %d, offset %" PRId64 ", run id ",
        x->c->priority, x->c->repl_offset);
    put_run_id(w, x->c);
}

static void
say_lost_priority(writer *w, const context *x)
{
    put(w, "not selected: replica-priority %d", x->c->priority);
    if (x->rival != NULL)
        put(w, " > %d", x->rival->priority);
    put_of_rival(w, x);
}

static void
say_lost_offset(writer *w, const context *x)
{
    put(w, "not selected: offset %" PRId64, x->c->repl_offset);
    if (x->rival != NULL)
        put(w, " < %" PRId64, x->rival->repl_offset);
    put_of_rival(w, x);
    put(w, " (same replica-priority %d)", x->c->priority);
}

/* A missing run id sorts last: say so, and who had one. */
static void
say_lost_run_id(writer *w, const context *x)
{
    put(w, "not selected: run id ");
    put_run_id(w, x->c);
    if (x->rival != NULL && has_run_id(x->c)) {
        put(w, " sorts after ");
        put_run_id(w, x->rival);
        put_of_rival(w, x);
    } else if (x->rival != NULL) {
        put(w, ", ");
        put_addr(w, x->rival);
        put(w, " has ");
        put_run_id(w, x->rival);
    }
    put(w, " (same replica-priority %d and offset %" PRId64 ")",
        x->c->priority, x->c->repl_offset);
}

static void
say_lost_address(writer *w, const context *x)
{
    bool same = x->rival != NULL && cmp_address(x->c, x->rival) == 0;
    put(w, "not selected: same replica-priority, offset and run id as");
    if (x->rival != NULL) {
        put(w, " ");
        put_addr(w, x->rival);
    } else {
        put(w, " the selected replica");
    }
    put(w, same ? ", listed twice (the first entry is used)"
                : ", whose address sorts first");
}

static void
say_flag(writer *w, const context *x)
{
    put(w, "excluded: %s",
        x->r == FAILOVER_EX_SDOWN   ? "subjectively down (sdown)"
        : x->r == FAILOVER_EX_ODOWN ? "objectively down (odown)"
                                    : "disconnected");
}

static void
say_reply_age(writer *w, const context *x)
{
    if (x->c->reply_age_ms < 0)
        put(w, "excluded: no valid reply yet");
    else
        put(w, "excluded: last reply %" PRId64 " ms ago", x->c->reply_age_ms);
    put(w, " (limit %" PRId64 " = %d x ping period %" PRId64 " ms)",
        x->l.reply_ms, FAILOVER_PING_REPLIES, nonneg(x->p->ping_period_ms));
}

static void
say_priority(writer *w, const context *x)
{
    put(w, "excluded: replica-priority %d", x->c->priority);
}

static void
say_info_age(writer *w, const context *x)
{
    if (x->c->info_age_ms < 0)
        put(w, "excluded: no INFO reply yet");
    else
        put(w, "excluded: last INFO %" PRId64 " ms ago", x->c->info_age_ms);
    if (x->p->master_sdown)
        put(w, " (limit %" PRId64 " = %d x %d ms while the master is down)",
            x->l.info_ms, FAILOVER_SDOWN_INFO_REFRESHES,
            FAILOVER_SDOWN_INFO_PERIOD_MS);
    else
        put(w, " (limit %" PRId64 " = %d x info period %" PRId64 " ms)",
            x->l.info_ms, FAILOVER_INFO_REFRESHES,
            nonneg(x->p->info_period_ms));
}

static void
say_link_down(writer *w, const context *x)
{
    put(w, "excluded: link to master down for %" PRId64 " ms (limit %" PRId64
        " = %d x down-after-milliseconds %" PRId64,
        x->c->master_link_down_ms, x->l.link_down_ms,
        FAILOVER_DOWN_AFTER_TIMES, nonneg(x->p->down_after_ms));
    if (x->p->master_sdown)
        put(w, " + master down for %" PRId64 " ms",
            nonneg(x->p->master_sdown_ms));
    put(w, ")");
}

static void (*const SAY[FAILOVER_REASON_COUNT])(writer *w, const context *x) = {
    [FAILOVER_SELECTED] = say_selected,
    [FAILOVER_LOST_PRIORITY] = say_lost_priority,
    [FAILOVER_LOST_OFFSET] = say_lost_offset,
    [FAILOVER_LOST_RUN_ID] = say_lost_run_id,
    [FAILOVER_LOST_ADDRESS] = say_lost_address,
    [FAILOVER_EX_SDOWN] = say_flag,
    [FAILOVER_EX_ODOWN] = say_flag,
    [FAILOVER_EX_DISCONNECTED] = say_flag,
    [FAILOVER_EX_REPLY_AGE] = say_reply_age,
    [FAILOVER_EX_PRIORITY] = say_priority,
    [FAILOVER_EX_INFO_AGE] = say_info_age,
    [FAILOVER_EX_LINK_DOWN] = say_link_down,
};

size_t
failover_describe(const failover_candidate *c, size_t n,
                  const failover_params *p, const failover_reason *reasons,
                  size_t i, char *buf, size_t cap)
{
    writer w = {buf, cap, 0};
    if (i < n) {
        context x = {reasons[i], &c[i], NULL, p, failover_limits_of(p)};
        for (size_t k = 0; k < n; k++)
            if (reasons[k] == FAILOVER_SELECTED)
                x.rival = &c[k];
        put_addr(&w, x.c);
        put(&w, " ");
        if ((unsigned)reasons[i] < FAILOVER_REASON_COUNT)
            SAY[reasons[i]](&w, &x);
        else
            put(&w, "unknown verdict %d", (int)reasons[i]);
    }
    if (cap > 0)
        buf[w.len < cap ? w.len : cap - 1] = '\0';
    return w.len;
}
