/*
 * monitor_info.c -- INFO reply parser; see monitor_info.h and
 * docs/monitoring-info.md for the rules.
 *
 * Everything works on (pointer, length) spans into the caller's buffer: no
 * NUL terminator is assumed or written, and nothing is copied until a value
 * has passed its field's check, so the worst a hostile reply can do is be
 * ignored.
 */
#include "monitor/monitor_info.h"

#include <limits.h>
#include <string.h>

typedef struct span {
    const char *p;
    size_t n;
} span;

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- lexical helpers ----------------------------------------------------- */

static bool
span_is(span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Splits *rest at the first `sep`: returns what comes before it and leaves
 * what follows in *rest (all of *rest, and an empty *rest, when there is no
 * separator). */
static span
cut(span *rest, char sep)
{
    const char *at = rest->n ? memchr(rest->p, sep, rest->n) : NULL;
    span head = {rest->p, at ? (size_t)(at - rest->p) : rest->n};
    size_t used = at ? head.n + 1 : head.n;
    rest->p += used;
    rest->n -= used;
    return head;
}

/* A decimal integer in [min, max]: an optional '-', then digits, nothing
 * else (no blanks, no '+', no hex).  Overflow is detected before it can
 * happen, so absurdly long digit strings are simply rejected. */
static bool
parse_int64(span s, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = s.n > 0 && s.p[0] == '-';
    if (neg)
        i = 1;
    if (i == s.n)
        return false;
    int64_t v = 0;
    for (; i < s.n; i++) {
        unsigned d = (unsigned)((unsigned char)s.p[i] - '0');
        if (d > 9 || v > (INT64_MAX - (int64_t)d) / 10)
            return false;
        v = v * 10 + (int64_t)d;
    }
    if (neg)
        v = -v;
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Characters allowed in host names, IPs (v4, v6 with zone) and versions.
 * Anything else -- blanks, control bytes, commas, quotes -- would end up in
 * log lines, events and RESP replies, so it is refused rather than
 * escaped. */
static bool
token_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr(".-_:%", c) != NULL);
}

/* Copies a non-empty token of at most cap - 1 bytes, NUL-terminated; on
 * any violation dst becomes "" (never a truncated value: a cut host name
 * is a different host). */
static bool
copy_token(span v, char *dst, size_t cap)
{
    dst[0] = '\0';
    if (v.n == 0 || v.n >= cap)
        return false;
    for (size_t i = 0; i < v.n; i++)
        if (!token_char((unsigned char)v.p[i]))
            return false;
    memcpy(dst, v.p, v.n);
    dst[v.n] = '\0';
    return true;
}

typedef struct named {
    const char *name;
    int value;
} named;

static bool
lookup(const named *tab, size_t n, span v, int *out)
{
    for (size_t i = 0; i < n; i++)
        if (span_is(v, tab[i].name)) {
            *out = tab[i].value;
            return true;
        }
    return false;
}

/* ---- top-level fields ---------------------------------------------------- *
 * Each setter stores the parsed value, or the field's default when the value
 * breaks the rule, and says which happened. */

static const named ROLES[] = {
    {"master", MONITOR_ROLE_MASTER},
    {"slave", MONITOR_ROLE_SLAVE},
};

static const named LINKS[] = {
    {"up", MI_LINK_UP},
    {"down", MI_LINK_DOWN},
};

static bool
set_role(monitor_info *mi, span v)
{
    int r = MONITOR_ROLE_UNKNOWN;
    bool ok = lookup(ROLES, COUNT(ROLES), v, &r);
    mi->role = (monitor_role)r;
    return ok;
}

/* Exactly 40 hex digits.  Sentinel takes the first 40 bytes of anything
 * long enough; a wrong-length id here is more likely a broken reply than a
 * new Redis, and comparing ids (reboot detection, promotion tie-break)
 * needs one spelling, hence lowercase. */
static bool
set_run_id(monitor_info *mi, span v)
{
    mi->run_id[0] = '\0';
    if (v.n != MI_RUN_ID_LEN)
        return false;
    char id[MI_RUN_ID_LEN + 1];
    for (size_t i = 0; i < v.n; i++) {
        char c = v.p[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        id[i] = c;
    }
    id[MI_RUN_ID_LEN] = '\0';
    memcpy(mi->run_id, id, sizeof(id));
    return true;
}

/* "major.minor.patch", each 0..255, as Redis' own REDIS_VERSION_NUM; 0
 * for anything else (a valid string that is not such a version is kept). */
static uint32_t
version_number(span v)
{
    uint32_t num = 0;
    for (int part = 0; part < 3; part++) {
        int64_t x;
        span digits = cut(&v, '.');
        if (digits.n == 0 || digits.p[0] == '-' ||
            !parse_int64(digits, 0, 255, &x))
            return 0;
        num = num << 8 | (uint32_t)x;
    }
    return v.n == 0 ? num : 0;
}

static bool
set_version(monitor_info *mi, span v)
{
    bool ok = copy_token(v, mi->redis_version, sizeof(mi->redis_version));
    mi->version_num = ok ? version_number(v) : 0;
    return ok;
}

static bool
set_flag(bool *dst, bool dflt, span v)
{
    int64_t x;
    bool ok = parse_int64(v, 0, 1, &x);
    *dst = ok ? x == 1 : dflt;
    return ok;
}

static bool
set_loading(monitor_info *mi, span v)
{
    return set_flag(&mi->loading, false, v);
}

static bool
set_announced(monitor_info *mi, span v)
{
    return set_flag(&mi->replica_announced, true, v);
}

static bool
set_master_host(monitor_info *mi, span v)
{
    return copy_token(v, mi->master_host, sizeof(mi->master_host));
}

static bool
set_master_port(monitor_info *mi, span v)
{
    int64_t x;
    bool ok = parse_int64(v, 1, 65535, &x);
    mi->master_port = ok ? (int)x : 0;
    return ok;
}

static bool
set_link_status(monitor_info *mi, span v)
{
    int l = MI_LINK_UNKNOWN;
    bool ok = lookup(LINKS, COUNT(LINKS), v, &l);
    mi->master_link_status = (mi_link)l;
    return ok;
}

/* -1 is Redis 7's "never connected since start".  The upper bound keeps
 * the caller's conversion to milliseconds from overflowing. */
static bool
set_link_down_since(monitor_info *mi, span v)
{
    int64_t x;
    bool ok = parse_int64(v, -1, INT64_MAX / 1000, &x);
    mi->master_link_down_since_seconds = ok ? x : -1;
    return ok;
}

static bool
set_offset(int64_t *dst, span v)
{
    int64_t x;
    bool ok = parse_int64(v, 0, INT64_MAX, &x);
    *dst = ok ? x : 0;
    return ok;
}

static bool
set_slave_offset(monitor_info *mi, span v)
{
    return set_offset(&mi->slave_repl_offset, v);
}

static bool
set_master_offset(monitor_info *mi, span v)
{
    return set_offset(&mi->master_repl_offset, v);
}

static bool
set_priority(monitor_info *mi, span v)
{
    int64_t x;
    bool ok = parse_int64(v, 0, INT_MAX, &x);
    mi->replica_priority = ok ? (int)x : MI_PRIORITY_DEFAULT;
    return ok;
}

static const struct key_rule {
    const char *key;
    mi_field field;
    bool (*set)(monitor_info *mi, span v);
} KEYS[] = {
    {"role", MI_F_ROLE, set_role},
    {"run_id", MI_F_RUN_ID, set_run_id},
    {"redis_version", MI_F_REDIS_VERSION, set_version},
    {"loading", MI_F_LOADING, set_loading},
    {"master_host", MI_F_MASTER_HOST, set_master_host},
    {"master_port", MI_F_MASTER_PORT, set_master_port},
    {"master_link_status", MI_F_MASTER_LINK_STATUS, set_link_status},
    {"master_link_down_since_seconds", MI_F_MASTER_LINK_DOWN_SINCE,
     set_link_down_since},
    {"slave_repl_offset", MI_F_SLAVE_REPL_OFFSET, set_slave_offset},
    {"master_repl_offset", MI_F_MASTER_REPL_OFFSET, set_master_offset},
    /* Redis spells it slave_priority; the replica_ spelling is accepted in
     * case a release or fork switches, and both feed one field. */
    {"slave_priority", MI_F_REPLICA_PRIORITY, set_priority},
    {"replica_priority", MI_F_REPLICA_PRIORITY, set_priority},
    {"replica_announced", MI_F_REPLICA_ANNOUNCED, set_announced},
};

/* ---- replica lines ------------------------------------------------------- */

static const named REPL_STATES[] = {
    {"wait_bgsave", MI_REPL_STATE_WAIT_BGSAVE},
    {"send_bulk", MI_REPL_STATE_SEND_BULK},
    {"online", MI_REPL_STATE_ONLINE},
};

static void
set_r_ip(monitor_info_replica *r, span v)
{
    copy_token(v, r->ip, sizeof(r->ip));
}

static void
set_r_port(monitor_info_replica *r, span v)
{
    int64_t x;
    r->port = parse_int64(v, 1, 65535, &x) ? (int)x : 0;
}

/* An unknown state is kept as OTHER: a newer Redis may add states, and the
 * replica is still there. */
static void
set_r_state(monitor_info_replica *r, span v)
{
    int s = MI_REPL_STATE_OTHER;
    if (v.n == 0)
        s = MI_REPL_STATE_NONE;
    else
        lookup(REPL_STATES, COUNT(REPL_STATES), v, &s);
    r->state = (mi_repl_state)s;
}

static void
set_r_offset(monitor_info_replica *r, span v)
{
    int64_t x;
    r->offset = parse_int64(v, 0, INT64_MAX, &x) ? x : -1;
}

static void
set_r_lag(monitor_info_replica *r, span v)
{
    int64_t x;
    r->lag = parse_int64(v, 0, INT64_MAX, &x) ? x : -1;
}

static const struct pair_rule {
    const char *key;
    void (*set)(monitor_info_replica *r, span v);
} PAIRS[] = {
    {"ip", set_r_ip},         {"port", set_r_port}, {"state", set_r_state},
    {"offset", set_r_offset}, {"lag", set_r_lag},
};

/* ip=..,port=..,state=..,offset=..,lag=.. in any order; unknown names and
 * items without '=' are skipped, a repeated name's last value wins. */
static void
parse_pairs(span v, monitor_info_replica *r)
{
    while (v.n > 0) {
        span item = cut(&v, ',');
        if (item.n == 0 || memchr(item.p, '=', item.n) == NULL)
            continue;
        span name = cut(&item, '=');
        for (size_t i = 0; i < COUNT(PAIRS); i++)
            if (span_is(name, PAIRS[i].key)) {
                PAIRS[i].set(r, item);
                break;
            }
    }
}

/* Redis < 2.8: <ip>,<port>,<state>; anything after a third comma is
 * ignored, as Sentinel does. */
static void
parse_old(span v, monitor_info_replica *r)
{
    r->old_format = true;
    set_r_ip(r, cut(&v, ','));
    set_r_port(r, cut(&v, ','));
    set_r_state(r, cut(&v, ','));
}

/* "slave" then 1..9 digits: longer numbers are no Redis output and are
 * left to the unknown-key rule rather than wrapped. */
static bool
replica_key(span key, uint32_t *slot)
{
    int64_t n;
    if (key.n < 6 || key.n > 14 || memcmp(key.p, "slave", 5) != 0 ||
        key.p[5] < '0' || key.p[5] > '9')
        return false;
    span digits = {key.p + 5, key.n - 5};
    if (!parse_int64(digits, 0, INT64_MAX, &n))
        return false;
    *slot = (uint32_t)n;
    return true;
}

static void
apply_replica(monitor_info *mi, uint32_t slot, span v)
{
    monitor_info_replica r;
    memset(&r, 0, sizeof(r));
    r.slot = slot;
    r.offset = -1;
    r.lag = -1;
    if (memchr(v.p, '=', v.n) != NULL)
        parse_pairs(v, &r);
    else
        parse_old(v, &r);

    int at = 0;
    while (at < mi->nreplicas && mi->replicas[at].slot != slot)
        at++;
    if (r.ip[0] == '\0' || r.port == 0) {
        /* The last slaveN line wins even when it is broken: drop the
         * entry an earlier line made rather than trust a stale one. */
        mi->replicas_rejected++;
        if (at < mi->nreplicas) {
            memmove(&mi->replicas[at], &mi->replicas[at + 1],
                    (size_t)(mi->nreplicas - at - 1) * sizeof(r));
            mi->nreplicas--;
        }
    } else if (at < mi->nreplicas) {
        mi->replicas[at] = r;
    } else if (mi->nreplicas == MI_REPLICAS_MAX) {
        mi->replicas_dropped++;
    } else {
        mi->replicas[mi->nreplicas++] = r;
    }
}

/* ---- lines --------------------------------------------------------------- */

static void
apply_field(monitor_info *mi, span key, span v)
{
    for (size_t i = 0; i < COUNT(KEYS); i++) {
        if (!span_is(key, KEYS[i].key))
            continue;
        uint32_t bit = MI_BIT(KEYS[i].field);
        mi->present |= bit;
        if (KEYS[i].set(mi, v))
            mi->malformed &= ~bit;
        else
            mi->malformed |= bit;
        return;
    }
}

static void
apply_line(monitor_info *mi, span line)
{
    if (line.n == 0 || line.p[0] == '#')
        return;
    /* A NUL cannot come from Redis' INFO; whichever half of the line is
     * the real one, the line cannot be trusted. */
    if (memchr(line.p, '\0', line.n) != NULL ||
        memchr(line.p, ':', line.n) == NULL) {
        mi->bad_lines++;
        return;
    }
    span v = line;
    span key = cut(&v, ':');
    uint32_t slot;
    if (replica_key(key, &slot))
        apply_replica(mi, slot, v);
    else
        apply_field(mi, key, v);
}

void
monitor_info_init(monitor_info *mi)
{
    memset(mi, 0, sizeof(*mi));
    mi->role = MONITOR_ROLE_UNKNOWN;
    mi->master_link_status = MI_LINK_UNKNOWN;
    mi->master_link_down_since_seconds = -1;
    mi->replica_priority = MI_PRIORITY_DEFAULT;
    mi->replica_announced = true;
}

void
monitor_info_parse(const char *text, size_t len, monitor_info *mi)
{
    monitor_info_init(mi);
    span rest = {text, len};
    while (rest.n > 0) {
        span line = cut(&rest, '\n');
        if (line.n > 0 && line.p[line.n - 1] == '\r')
            line.n--;
        apply_line(mi, line);
    }
}

const char *
monitor_info_field_name(mi_field f)
{
    for (size_t i = 0; i < COUNT(KEYS); i++)
        if (KEYS[i].field == f)
            return KEYS[i].key;
    return "?";
}

const char *
monitor_info_role_name(monitor_role r)
{
    for (size_t i = 0; i < COUNT(ROLES); i++)
        if (ROLES[i].value == (int)r)
            return ROLES[i].name;
    return "unknown";
}
