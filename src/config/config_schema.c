/*
 * config_schema.c -- the key tables and one parse/format/expect triple per
 * value type (a table, not an if chain, so a new type is one row).
 */
#include "config/config_schema.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "util/log.h"

#define S(field) offsetof(config_sentinel, field), \
    sizeof(((config_sentinel *)0)->field)
#define M(field) offsetof(config_master, field), \
    sizeof(((config_master *)0)->field)

const config_key config_sentinel_keys[] = {
    {"id", CT_ID, S(id), NULL, 0, 0, false, false, NULL,
     "unique name of this monitor among its peers"},
    {"bind", CT_BIND, S(bind), "127.0.0.1", 0, 0, false, false, NULL,
     "IP address(es) the admin and raft ports listen on, space separated"},
    {"port", CT_PORT, S(port), "26379", 1, 65535, false, false, NULL,
     "admin port (Redis protocol)"},
    {"raft_port", CT_PORT, S(raft_port), "", 1, 65535, false, false, NULL,
     "peer port for Raft traffic; empty = port + 1000"},
    {"data_dir", CT_STRING, S(data_dir), NULL, 0, 0, false, false, NULL,
     "directory for the Raft log, snapshots and state"},
    {"requirepass", CT_SECRET, S(requirepass), "", 0, 0, false, true, NULL,
     "password admin clients must AUTH with; empty = none"},
    {"peer_secret", CT_SECRET, S(peer_secret), "", 0, 0, false, false, NULL,
     "shared secret peers prove with HMAC-SHA256; empty = none"},
    {"log_level", CT_LOGLEVEL, S(log_level), "notice", 0, 0, false, true,
     NULL, "debug | verbose | notice | warning"},
    {"log_file", CT_STRING, S(log_file), "", 0, 0, false, true, NULL,
     "log file (reopened on SIGHUP); empty = stderr"},
    {"election_timeout_ms", CT_INT, S(election_timeout_ms), "1000", 50,
     600000, false, false, NULL,
     "Raft election timeout, randomized in [t, 2t)"},
    {"heartbeat_ms", CT_INT, S(heartbeat_ms), "100", 5, 60000, false, false,
     NULL, "Raft heartbeat period; below half the election timeout"},
    {"stale_reads", CT_BOOL, S(stale_reads), "yes", 0, 0, false, true, NULL,
     "yes: answer from the last committed state when cut off; "
     "no: answer -NOQUORUM"},
    {"snapshot_entries", CT_INT, S(snapshot_entries), "10000", 10, 100000000,
     false, false, NULL,
     "applied entries between snapshots (log compaction)"},
    {"join", CT_BOOL, S(join), "no", 0, 0, false, false, NULL,
     "yes: join an existing group via RAFT ADD-PEER instead of "
     "bootstrapping from [peers]"},
    {"cluster_name", CT_ID, S(cluster_name), "raft-sentinel", 0, 0, false,
     false, NULL, "name of the monitor group; peers with another name are "
     "refused"},
    {"announce_ip", CT_STRING, S(announce_ip), "", 0, 0, false, false, NULL,
     "admin address given to clients (SENTINEL SENTINELS); empty = the "
     "first bind address"},
    {"announce_port", CT_PORT, S(announce_port), "", 1, 65535, false, false,
     NULL, "admin port given to clients; empty = port"},
};
const size_t config_sentinel_nkeys =
    sizeof(config_sentinel_keys) / sizeof(config_sentinel_keys[0]);

/* [master] keys only seed the replicated state, which is authoritative
 * afterwards; they change at runtime through SENTINEL SET, never SIGHUP. */
const config_key config_master_keys[] = {
    {"address", CT_ADDR, M(address), NULL, 0, 0, false, false, NULL,
     "host:port of the current master"},
    {"quorum", CT_INT, M(quorum), "2", 1, CONFIG_MAX_PEERS, true, false,
     "quorum", "monitors that must see sdown for odown (1 .. group size)"},
    {"down_after_ms", CT_INT, M(down_after_ms), "30000", 10, 86400000, false,
     false, "down-after-milliseconds",
     "no valid reply for this long = subjectively down"},
    {"failover_timeout_ms", CT_INT, M(failover_timeout_ms), "180000", 100,
     86400000, false, false, "failover-timeout",
     "time bound of one failover attempt"},
    {"parallel_syncs", CT_INT, M(parallel_syncs), "1", 1, 1000, false, false,
     "parallel-syncs", "replicas re-pointed at the new master at once"},
    {"auth_user", CT_STRING, M(auth_user), "", 0, 0, false, false,
     "auth-user", "ACL user for this set's Redis instances"},
    {"auth_pass", CT_SECRET, M(auth_pass), "", 0, 0, false, false,
     "auth-pass", "password for this set's Redis instances"},
    {"notification_script", CT_SCRIPT, M(notification_script), "", 0, 0,
     false, false, "notification-script",
     "run for warning-level events: <event> <description>"},
    {"client_reconfig_script", CT_SCRIPT, M(client_reconfig_script), "", 0,
     0, false, false, "client-reconfig-script",
     "run on switch-master: <name> <role> <state> <from-ip> <from-port> "
     "<to-ip> <to-port>"},
};
const size_t config_master_nkeys =
    sizeof(config_master_keys) / sizeof(config_master_keys[0]);

const config_key *
config_key_find(const config_key *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

/* ---- per-type handlers ------------------------------------------------ */

typedef struct type_ops {
    /* returns 0 or -1 (the caller then reports expect()) */
    int (*parse)(const config_key *k, const char *text, void *field,
                 long max);
    void (*format)(const config_key *k, const void *field, char *buf,
                   size_t len);
    void (*expect)(const config_key *k, long max, char *buf, size_t len);
} type_ops;

static int
parse_string(const config_key *k, const char *text, void *field, long max)
{
    size_t n = strlen(text);
    if (n >= k->size)
        return -1;
    memcpy(field, text, n + 1);
    return 0;
}

static void
format_string(const config_key *k, const void *field, char *buf, size_t len)
{
    snprintf(buf, len, "%s", (const char *)field);
}

static void
expect_string(const config_key *k, long max, char *buf, size_t len)
{
    snprintf(buf, len, "text of at most %zu characters", k->size - 1);
}

static void
format_secret(const config_key *k, const void *field, char *buf, size_t len)
{
    snprintf(buf, len, "%s", *(const char *)field ? "********" : "");
}

static bool
id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static int
parse_id(const config_key *k, const char *text, void *field, long max)
{
    size_t n = strlen(text);
    if (n == 0 || n > CONFIG_ID_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!id_char_ok(text[i]))
            return -1;
    return parse_string(k, text, field, max);
}

static void
expect_id(const config_key *k, long max, char *buf, size_t len)
{
    snprintf(buf, len, "1 to %d of the characters A-Z a-z 0-9 _ . -",
             CONFIG_ID_MAX);
}

/* Strict decimal: no sign games, no trailing junk, no overflow. */
static int
parse_long(const char *text, long min, long max, long *out)
{
    if (*text == '\0' || strlen(text) > 18)
        return -1;
    const char *p = text;
    if (*p == '-')
        p++;
    if (*p == '\0')
        return -1;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    long v = strtol(text, NULL, 10);
    if (errno != 0 || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int
parse_int(const config_key *k, const char *text, void *field, long max)
{
    long v;
    if (parse_long(text, k->min, max, &v) < 0)
        return -1;
    *(int *)field = (int)v;
    return 0;
}

static void
format_int(const config_key *k, const void *field, char *buf, size_t len)
{
    snprintf(buf, len, "%d", *(const int *)field);
}

static void
expect_int(const config_key *k, long max, char *buf, size_t len)
{
    snprintf(buf, len, "an integer from %ld to %ld%s", k->min, max,
             k->max_is_peers ? " (the number of [peers])" : "");
}

/* An empty port means "derived" (raft_port = port + 1000); stored as 0. */
static int
parse_port(const config_key *k, const char *text, void *field, long max)
{
    if (*text == '\0' && k->def != NULL && *k->def == '\0') {
        *(int *)field = 0;
        return 0;
    }
    return parse_int(k, text, field, max);
}

/* 0 is "derived" (empty in the file), so the printed config loads again. */
static void
format_port(const config_key *k, const void *field, char *buf, size_t len)
{
    int v = *(const int *)field;
    if (v == 0)
        buf[0] = '\0';
    else
        snprintf(buf, len, "%d", v);
}

static void
expect_port(const config_key *k, long max, char *buf, size_t len)
{
    snprintf(buf, len, "a port number from 1 to 65535");
}

static int
parse_bool(const config_key *k, const char *text, void *field, long max)
{
    if (strcmp(text, "yes") == 0)
        *(bool *)field = true;
    else if (strcmp(text, "no") == 0)
        *(bool *)field = false;
    else
        return -1;
    return 0;
}

static void
format_bool(const config_key *k, const void *field, char *buf, size_t len)
{
    snprintf(buf, len, "%s", *(const bool *)field ? "yes" : "no");
}

static void
expect_bool(const config_key *k, long max, char *buf, size_t len)
{
    snprintf(buf, len, "yes or no");
}

static int
parse_loglevel(const config_key *k, const char *text, void *field, long max)
{
    for (int i = 0; log_level_names[i] != NULL; i++) {
        if (strcmp(text, log_level_names[i]) == 0) {
            *(int *)field = i;
            return 0;
        }
    }
    return -1;
}

static void
format_loglevel(const config_key *k, const void *field, char *buf,
                size_t len)
{
    snprintf(buf, len, "%s", log_level_names[*(const int *)field]);
}

static void
expect_loglevel(const config_key *k, long max, char *buf, size_t len)
{
    snprintf(buf, len, "one of debug, verbose, notice, warning");
}

static int
parse_addr(const config_key *k, const char *text, void *field, long max)
{
    return config_parse_addr(text, field) == NULL ? 0 : -1;
}

static void
format_addr(const config_key *k, const void *field, char *buf, size_t len)
{
    const config_addr *a = field;
    snprintf(buf, len, strchr(a->host, ':') ? "[%s]:%d" : "%s:%d", a->host,
             a->port);
}

static void
expect_addr(const config_key *k, long max, char *buf, size_t len)
{
    snprintf(buf, len, "host:port or [ipv6]:port with a port from 1 to "
                       "65535");
}

static bool
ip_ok(const char *s)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

static int
parse_bind(const config_key *k, const char *text, void *field, long max)
{
    char copy[CONFIG_STR_MAX];
    if (strlen(text) >= sizeof(copy) || *text == '\0')
        return -1;
    strcpy(copy, text);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, " \t", &save); t;
         t = strtok_r(NULL, " \t", &save)) {
        if (!ip_ok(t) || ++n > CONFIG_MAX_BIND)
            return -1;
    }
    return n > 0 ? parse_string(k, text, field, max) : -1;
}

static void
expect_bind(const config_key *k, long max, char *buf, size_t len)
{
    snprintf(buf, len, "1 to %d IPv4/IPv6 addresses separated by spaces",
             CONFIG_MAX_BIND);
}

/* As Sentinel: a script must exist and be executable when configured. */
static int
parse_script(const config_key *k, const char *text, void *field, long max)
{
    if (*text != '\0' && access(text, X_OK) != 0)
        return -1;
    return parse_string(k, text, field, max);
}

static void
expect_script(const config_key *k, long max, char *buf, size_t len)
{
    snprintf(buf, len, "the path of an existing executable file, or empty");
}

static const type_ops ops[] = {
    [CT_STRING] = {parse_string, format_string, expect_string},
    [CT_SECRET] = {parse_string, format_secret, expect_string},
    [CT_ID] = {parse_id, format_string, expect_id},
    [CT_INT] = {parse_int, format_int, expect_int},
    [CT_PORT] = {parse_port, format_port, expect_port},
    [CT_BOOL] = {parse_bool, format_bool, expect_bool},
    [CT_LOGLEVEL] = {parse_loglevel, format_loglevel, expect_loglevel},
    [CT_ADDR] = {parse_addr, format_addr, expect_addr},
    [CT_BIND] = {parse_bind, format_string, expect_bind},
    [CT_SCRIPT] = {parse_script, format_string, expect_script},
};

const char *
config_value_parse(const config_key *k, const char *text, void *base,
                   long max, char *why, size_t whylen)
{
    if (!k->max_is_peers)
        max = k->max;
    if (ops[k->type].parse(k, text, (char *)base + k->offset, max) == 0)
        return NULL;
    ops[k->type].expect(k, max, why, whylen);
    return why;
}

void
config_value_format(const config_key *k, const void *base, char *buf,
                    size_t len, bool show_secrets)
{
    const void *field = (const char *)base + k->offset;
    if (show_secrets && k->type == CT_SECRET)
        format_string(k, field, buf, len);
    else
        ops[k->type].format(k, field, buf, len);
}

void
config_key_expect(const config_key *k, long max, char *buf, size_t len)
{
    ops[k->type].expect(k, k->max_is_peers ? max : k->max, buf, len);
}
