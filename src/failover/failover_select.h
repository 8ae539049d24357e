/*
 * failover_select.h -- which replica to promote, and why every other one
 * was not.
 *
 * Pure: the caller passes what its monitor observed (ages, not timestamps)
 * and gets a choice plus one verdict per candidate; nothing is allocated,
 * read from a clock or kept between calls, so the rules are table-tested.
 *
 * The rules are Redis Sentinel's sentinelSelectSlave(): exclusions checked
 * in this order (the first that applies is the verdict), then the lowest
 * replica-priority, the highest replication offset, the smallest run id (a
 * missing one last).  Two tie-breaks are ours, so that a choice never
 * depends on the order candidates are listed: the address (host bytewise,
 * then port), then the position in the list.  docs/monitoring-info.md has
 * the rules with their boundaries.
 */
#ifndef FAILOVER_SELECT_H
#define FAILOVER_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* candidate.flags */
#define FAILOVER_F_SDOWN 0x1u        /* this monitor judges it down */
#define FAILOVER_F_ODOWN 0x2u        /* the quorum judges it down */
#define FAILOVER_F_DISCONNECTED 0x4u /* no usable link to it now */

/* While the master is sdown the monitor sends INFO to its replicas every
 * second (Sentinel hard-codes this), so the INFO validity limit is then
 * FAILOVER_SDOWN_INFO_REFRESHES x this, whatever the info period. */
#define FAILOVER_SDOWN_INFO_PERIOD_MS 1000
#define FAILOVER_SDOWN_INFO_REFRESHES 5
#define FAILOVER_INFO_REFRESHES 3  /* x info period otherwise */
#define FAILOVER_PING_REPLIES 5    /* last reply limit: x ping period */
#define FAILOVER_DOWN_AFTER_TIMES 10 /* link-down limit: x down_after_ms */

typedef struct failover_candidate {
    const char *host;        /* IP or name; NULL is shown as "?" */
    int port;
    const char *run_id;      /* 40 hex digits; NULL or "": unknown */
    int priority;            /* replica-priority; <= 0: never promoted */
    int64_t repl_offset;     /* slave_repl_offset from its INFO */
    unsigned flags;          /* FAILOVER_F_* */
    int64_t reply_age_ms;    /* since its last valid reply; < 0: never */
    int64_t info_age_ms;     /* since its last INFO; < 0: never */
    /* How long its link to the master has been down, from INFO's
     * master_link_down_since_seconds x 1000; 0 when INFO does not have it
     * (the link is up).  Negative (Redis 7's -1: never connected since
     * start) passes, as in Sentinel.  Pass INT64_MAX when the value was
     * malformed: unknown counts as too long. */
    int64_t master_link_down_ms;
} failover_candidate;

typedef struct failover_params {
    int64_t ping_period_ms;   /* negative values count as 0 */
    int64_t info_period_ms;
    int64_t down_after_ms;
    bool master_sdown;        /* this monitor judges the master down */
    int64_t master_sdown_ms;  /* for how long (ignored unless master_sdown) */
} failover_params;

typedef enum failover_reason {
    FAILOVER_SELECTED = 0,
    /* eligible, but the selected candidate ranks higher on ... */
    FAILOVER_LOST_PRIORITY,
    FAILOVER_LOST_OFFSET,
    FAILOVER_LOST_RUN_ID,
    FAILOVER_LOST_ADDRESS,    /* ... address, or it is listed earlier */
    /* excluded, in the order the rules are checked */
    FAILOVER_EX_SDOWN,
    FAILOVER_EX_ODOWN,
    FAILOVER_EX_DISCONNECTED,
    FAILOVER_EX_REPLY_AGE,
    FAILOVER_EX_PRIORITY,
    FAILOVER_EX_INFO_AGE,
    FAILOVER_EX_LINK_DOWN,
    FAILOVER_REASON_COUNT
} failover_reason;

/* The limits the exclusion rules compare against (ms, saturated). */
typedef struct failover_limits {
    int64_t reply_ms;      /* FAILOVER_PING_REPLIES x ping period */
    int64_t info_ms;       /* INFO validity, depends on master_sdown */
    int64_t link_down_ms;  /* 10 x down_after + master sdown time */
} failover_limits;

failover_limits failover_limits_of(const failover_params *p);

/* Chooses among c[0..n).  reasons[0..n) gets each candidate's verdict
 * (reasons may be NULL to get the choice alone).  Returns the index of the
 * selected candidate, or -1 when none is eligible (or n is 0).  Only the
 * first INT_MAX candidates are looked at, so the index fits. */
int failover_select(const failover_candidate *c, size_t n,
                    const failover_params *p, failover_reason *reasons);

/* True for the FAILOVER_EX_* verdicts. */
bool failover_reason_excluded(failover_reason r);

/* A short stable token for logs and tests: "selected", "lost-priority",
 * "sdown", "reply-age", ...; "?" for an out-of-range value. */
const char *failover_reason_name(failover_reason r);

/* One line for operators, explaining reasons[i] with the measured value and
 * the limit or the rival, e.g.
 *   127.0.0.1:6380 excluded: last reply 5200 ms ago (limit 5000 = 5 x
 *   ping period 1000 ms)
 *   127.0.0.1:6381 not selected: offset 1200 < 1250 of 127.0.0.1:6382
 * c, n, p and reasons as passed to (and returned by) failover_select; the
 * selected index is found from reasons.  Writes at most cap bytes
 * NUL-terminated (cap may be 0) and returns the length of the whole line,
 * as snprintf does.  Bytes of host and run id outside printable ASCII are
 * shown as '?', so the line is safe to log and to put in a RESP reply. */
size_t failover_describe(const failover_candidate *c, size_t n,
                         const failover_params *p,
                         const failover_reason *reasons, size_t i, char *buf,
                         size_t cap);

#endif
