/*
 * fuzz_monitor_info.c -- fuzz target for the INFO parser.
 *
 * libFuzzer:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -DMONITOR_INFO_FUZZ_LIBFUZZER -D_GNU_SOURCE -Isrc \
 *     src/monitor/monitor_info.c tests/fuzz/fuzz_monitor_info.c
 * Plain driver (built by `make check`): with file arguments it runs each
 * file once; without, it runs a seeded mix of mutated excerpts of real
 * Redis 7 INFO replies and random bytes, so CI exercises the same checks
 * deterministically.
 *
 * Properties checked on every input:
 *   - no crash, no read past the input (ASan sees an exact-size copy);
 *   - every field obeys its documented rule (docs/monitoring-info.md):
 *     ranges, characters, lengths, defaults when absent, malformed only
 *     when present, at most MI_REPLICAS_MAX replicas with distinct slots;
 *   - parsing is deterministic, and the text repeated twice gives the same
 *     fields (the last line of a key wins, and it is the same line);
 *   - a line appended after the input wins over anything in it.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_monitor_info: property violated: %s\n", what);
    abort();
}

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            fail(#cond);                                                      \
    } while (0)

static bool
is_token(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || (c && strchr(".-_:%", c))))
            return false;
    }
    return true;
}

static bool
is_run_id(const char *s)
{
    if (s[0] == '\0')
        return true;
    for (int i = 0; i < MI_RUN_ID_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[MI_RUN_ID_LEN] == '\0';
}

/* A field that is absent or malformed holds its default. */
static bool
valid_or_default(const monitor_info *mi, mi_field f, bool is_default)
{
    bool valid = (mi->present & MI_BIT(f)) && !(mi->malformed & MI_BIT(f));
    return valid || is_default;
}

static void
check_fields(const monitor_info *mi)
{
    CHECK((mi->present >> MI_F_COUNT) == 0);
    CHECK((mi->malformed & ~mi->present) == 0);
    CHECK(mi->role <= MONITOR_ROLE_SLAVE);
    CHECK(valid_or_default(mi, MI_F_ROLE, mi->role == MONITOR_ROLE_UNKNOWN));
    CHECK(mi->role != MONITOR_ROLE_UNKNOWN ||
          !valid_or_default(mi, MI_F_ROLE, false));
    CHECK(is_run_id(mi->run_id));
    CHECK(valid_or_default(mi, MI_F_RUN_ID, mi->run_id[0] == '\0'));
    CHECK(is_token(mi->redis_version, sizeof(mi->redis_version)));
    CHECK(valid_or_default(mi, MI_F_REDIS_VERSION,
                           mi->redis_version[0] == '\0'));
    CHECK(mi->version_num <= 0xffffff);
    CHECK(mi->redis_version[0] != '\0' || mi->version_num == 0);
    CHECK(valid_or_default(mi, MI_F_LOADING, !mi->loading));
    CHECK(is_token(mi->master_host, sizeof(mi->master_host)));
    CHECK(valid_or_default(mi, MI_F_MASTER_HOST, mi->master_host[0] == '\0'));
    CHECK(mi->master_port >= 0 && mi->master_port <= 65535);
    CHECK(valid_or_default(mi, MI_F_MASTER_PORT, mi->master_port == 0));
    CHECK(mi->master_link_status <= MI_LINK_DOWN);
    CHECK(valid_or_default(mi, MI_F_MASTER_LINK_STATUS,
                           mi->master_link_status == MI_LINK_UNKNOWN));
    CHECK(mi->master_link_down_since_seconds >= -1 &&
          mi->master_link_down_since_seconds <= INT64_MAX / 1000);
    CHECK(valid_or_default(mi, MI_F_MASTER_LINK_DOWN_SINCE,
                           mi->master_link_down_since_seconds == -1));
    CHECK(mi->slave_repl_offset >= 0 && mi->master_repl_offset >= 0);
    CHECK(valid_or_default(mi, MI_F_SLAVE_REPL_OFFSET,
                           mi->slave_repl_offset == 0));
    CHECK(valid_or_default(mi, MI_F_MASTER_REPL_OFFSET,
                           mi->master_repl_offset == 0));
    CHECK(mi->replica_priority >= 0);
    CHECK(valid_or_default(mi, MI_F_REPLICA_PRIORITY,
                           mi->replica_priority == MI_PRIORITY_DEFAULT));
    CHECK(valid_or_default(mi, MI_F_REPLICA_ANNOUNCED, mi->replica_announced));
}

static void
check_replicas(const monitor_info *mi)
{
    CHECK(mi->nreplicas >= 0 && mi->nreplicas <= MI_REPLICAS_MAX);
    for (int i = 0; i < mi->nreplicas; i++) {
        const monitor_info_replica *r = &mi->replicas[i];
        CHECK(r->ip[0] != '\0' && is_token(r->ip, sizeof(r->ip)));
        CHECK(r->port >= 1 && r->port <= 65535);
        CHECK(r->state <= MI_REPL_STATE_OTHER);
        CHECK(r->offset >= -1 && r->lag >= -1);
        CHECK(!r->old_format || (r->lag == -1 && r->offset == -1));
        CHECK(r->slot <= 999999999);
        for (int j = 0; j < i; j++)
            CHECK(mi->replicas[j].slot != r->slot);
    }
}

/* Everything but the replica table and the counters, which a repeated
 * text legitimately changes. */
static bool
same_fields(const monitor_info *a, const monitor_info *b)
{
    return a->present == b->present && a->malformed == b->malformed &&
           a->role == b->role && strcmp(a->run_id, b->run_id) == 0 &&
           strcmp(a->redis_version, b->redis_version) == 0 &&
           a->version_num == b->version_num && a->loading == b->loading &&
           strcmp(a->master_host, b->master_host) == 0 &&
           a->master_port == b->master_port &&
           a->master_link_status == b->master_link_status &&
           a->master_link_down_since_seconds ==
               b->master_link_down_since_seconds &&
           a->slave_repl_offset == b->slave_repl_offset &&
           a->replica_priority == b->replica_priority &&
           a->replica_announced == b->replica_announced &&
           a->master_repl_offset == b->master_repl_offset;
}

static monitor_info *
parse_exact(const uint8_t *data, size_t size, monitor_info *mi)
{
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    if (size > 0)
        memcpy(copy, data, size);
    monitor_info_parse(copy, size, mi);
    free(copy);
    return mi;
}

static const char APPENDED[] = "\nrole:slave\r\nmaster_port:6380\r\n"
                               "slave999999999:ip=h,port=1\r\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static monitor_info a, b;
    uint8_t *twice = malloc(2 * size + sizeof(APPENDED));
    if (twice == NULL)
        abort();

    parse_exact(data, size, &a);
    check_fields(&a);
    check_replicas(&a);
    parse_exact(data, size, &b);
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);

    if (size > 0)
        memcpy(twice, data, size);
    twice[size] = '\n';
    if (size > 0)
        memcpy(twice + size + 1, data, size);
    parse_exact(twice, 2 * size + 1, &b);
    check_replicas(&b);
    CHECK(same_fields(&a, &b));

    memcpy(twice + size, APPENDED, sizeof(APPENDED) - 1);
    parse_exact(twice, size + sizeof(APPENDED) - 1, &b);
    check_fields(&b);
    CHECK(b.role == MONITOR_ROLE_SLAVE && b.master_port == 6380);
    int k = 0;
    while (k < b.nreplicas && b.replicas[k].slot != 999999999)
        k++;
    CHECK(k < b.nreplicas ? strcmp(b.replicas[k].ip, "h") == 0 &&
                                b.replicas[k].port == 1
                          : b.nreplicas == MI_REPLICAS_MAX);
    free(twice);
    return 0;
}

#ifndef MONITOR_INFO_FUZZ_LIBFUZZER

/* Excerpts of the real replies in tests/unit/test_monitor_info.c (the
 * Server lines that matter, Persistence's loading, all of Replication),
 * and the shapes a real reply does not have. */
static const char *const seeds[] = {
    /* master */
    "# Server\r\nredis_version:7.0.15\r\n"
    "run_id:c8e58121ccf72410ad148e6c954f6fe9c66939cc\r\ntcp_port:17380\r\n\r\n"
    "# Persistence\r\nloading:0\r\n\r\n# Replication\r\nrole:master\r\n"
    "connected_slaves:2\r\n"
    "slave0:ip=127.0.0.1,port=17381,state=online,offset=71,lag=0\r\n"
    "slave1:ip=127.0.0.1,port=17382,state=online,offset=71,lag=0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:ea1d87bb8c8863f37b0455b334f62b3e845a03b1\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:71\r\nsecond_repl_offset:-1\r\n"
    "repl_backlog_active:1\r\nrepl_backlog_size:1048576\r\n"
    "repl_backlog_first_byte_offset:1\r\nrepl_backlog_histlen:71\r\n",
    /* replica */
    "# Server\r\nredis_version:7.0.15\r\n"
    "run_id:d77ccbbcc0a6a4d1c2ce079b547cebca53049466\r\ntcp_port:17382\r\n\r\n"
    "# Persistence\r\nloading:0\r\n\r\n# Replication\r\nrole:slave\r\n"
    "master_host:127.0.0.1\r\nmaster_port:17380\r\nmaster_link_status:up\r\n"
    "master_last_io_seconds_ago:3\r\nmaster_sync_in_progress:0\r\n"
    "slave_read_repl_offset:71\r\nslave_repl_offset:71\r\n"
    "slave_priority:50\r\nslave_read_only:1\r\nreplica_announced:1\r\n"
    "connected_slaves:0\r\nmaster_failover_state:no-failover\r\n"
    "master_replid:ea1d87bb8c8863f37b0455b334f62b3e845a03b1\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:71\r\nsecond_repl_offset:-1\r\n"
    "repl_backlog_active:1\r\nrepl_backlog_size:1048576\r\n"
    "repl_backlog_first_byte_offset:72\r\nrepl_backlog_histlen:0\r\n",
    /* replica, link down */
    "# Server\r\nredis_version:7.0.15\r\n"
    "run_id:d59f0777702e48026dc692140a5dea962af2d408\r\ntcp_port:17381\r\n\r\n"
    "# Persistence\r\nloading:0\r\n\r\n# Replication\r\nrole:slave\r\n"
    "master_host:127.0.0.1\r\nmaster_port:17380\r\nmaster_link_status:down\r\n"
    "master_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:0\r\n"
    "slave_read_repl_offset:71\r\nslave_repl_offset:71\r\n"
    "master_link_down_since_seconds:4\r\nslave_priority:100\r\n"
    "slave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:ea1d87bb8c8863f37b0455b334f62b3e845a03b1\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:71\r\nsecond_repl_offset:-1\r\n"
    "repl_backlog_active:1\r\nrepl_backlog_size:1048576\r\n"
    "repl_backlog_first_byte_offset:72\r\nrepl_backlog_histlen:0\r\n",
    "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"
    "slave0:10.0.0.2,6380,online\r\nslave1:10.0.0.3,6381,wait_bgsave\r\n",
    "role:slave\nmaster_host:::1\nmaster_port:6379\nmaster_link_status:down\n"
    "master_link_down_since_seconds:-1\nslave_priority:0\nreplica_announced:0",
};

/* Tokens a mutation splices in: separators, keys, edge numbers. */
static const char *const tokens[] = {
    "\r\n", "\n", "\r", ":", ",", "=", "#", "-", "0", "-1", "65536",
    "9223372036854775807", "9223372036854775808", "99999999999999999999",
    "slave0:", "slave7:", "ip=", "port=", "state=", "offset=", "lag=",
    "role:", "run_id:", "master_link_down_since_seconds:", "slave_priority:",
    "master_host:", "master_port:", "online", "::1", "\r\nslave",
};

static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

#define BUF_MAX 8192

/* Inserts t[0..tl) at buf[at], if it fits.  t may be buf + at itself
 * (duplicating a span): the bytes stay in place when the tail moves. */
static void
splice(uint8_t *buf, size_t *n, size_t at, const void *t, size_t tl)
{
    if (*n + tl > BUF_MAX)
        return;
    memmove(buf + at + tl, buf + at, *n - at);
    memmove(buf + at, t, tl);
    *n += tl;
}

/* One random edit of buf[0..*n): overwrite a byte, splice a token or a
 * NUL, delete a span, duplicate a span, or truncate. */
static void
mutate(uint64_t *s, uint8_t *buf, size_t *n)
{
    uint64_t r = next_rand(s);
    size_t at = (size_t)(r >> 8) % (*n + 1);
    size_t span = 1 + (size_t)(r >> 40) % 64;
    span = span < *n - at ? span : *n - at;
    const char *tok = tokens[(r >> 20) % (sizeof(tokens) / sizeof(tokens[0]))];
    switch (r % 6) {
    case 0:
        if (at < *n)
            buf[at] = (uint8_t)(r >> 32);
        break;
    case 1:
        splice(buf, n, at, tok, strlen(tok));
        break;
    case 2:
        splice(buf, n, at, "", 1); /* the literal's NUL */
        break;
    case 3:
        memmove(buf + at, buf + at + span, *n - at - span);
        *n -= span;
        break;
    case 4:
        splice(buf, n, at, buf + at, span);
        break;
    default:
        *n = at;
    }
}

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc > 1) {
        int rc = 0;
        for (int i = 1; i < argc; i++)
            rc |= run_file(argv[i]);
        return rc;
    }
    uint64_t seed = 0x1f0ULL;
    static uint8_t buf[BUF_MAX];
    const int iterations = 30000;
    const size_t nseeds = sizeof(seeds) / sizeof(seeds[0]);
    for (int it = 0; it < iterations; it++) {
        size_t n;
        if (it % 4 == 3) { /* random bytes from a small alphabet, or any */
            static const char alphabet[] = "\r\n:,=#-0123456789slaveip";
            n = next_rand(&seed) % 512;
            bool any = next_rand(&seed) % 2;
            for (size_t i = 0; i < n; i++) {
                uint64_t r = next_rand(&seed);
                buf[i] = any ? (uint8_t)r
                             : (uint8_t)alphabet[r % (sizeof(alphabet) - 1)];
            }
        } else {
            const char *s = seeds[(size_t)it % nseeds];
            n = strlen(s);
            memcpy(buf, s, n);
            for (int k = 1 + (int)(next_rand(&seed) % 8); k > 0; k--)
                mutate(&seed, buf, &n);
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_monitor_info: %d inputs\nRESULT: 1 passed, 0 failed\n",
           iterations);
    return 0;
}

#endif
