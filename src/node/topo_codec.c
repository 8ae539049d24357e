/*
 * topo_codec.c -- byte formats of topology commands (log entries) and of
 * the topology snapshot.  Both start with a format version so a newer
 * binary can still read an older log; decoding checks every length and
 * refuses trailing bytes, so a damaged entry is reported, never half-used.
 */
#include <stdlib.h>
#include <string.h>

#include "node/topo.h"
#include "util/mem.h"

static void
put_addr(buf *b, const config_addr *a)
{
    buf_put_str(b, a->host);
    buf_put_u32(b, (uint32_t)a->port);
}

static void
get_addr(buf_reader *r, config_addr *a)
{
    buf_get_str(r, a->host, sizeof(a->host));
    uint32_t port = buf_get_u32(r);
    if (port > 65535)
        r->failed = true;
    a->port = (int)port;
}

/* Every setting of a set, in a fixed order. */
static void
put_master(buf *b, const config_master *m)
{
    buf_put_str(b, m->name);
    put_addr(b, &m->address);
    buf_put_u32(b, (uint32_t)m->quorum);
    buf_put_u32(b, (uint32_t)m->down_after_ms);
    buf_put_u32(b, (uint32_t)m->failover_timeout_ms);
    buf_put_u32(b, (uint32_t)m->parallel_syncs);
    buf_put_str(b, m->auth_user);
    buf_put_str(b, m->auth_pass);
    buf_put_str(b, m->notification_script);
    buf_put_str(b, m->client_reconfig_script);
}

static int
get_int(buf_reader *r)
{
    uint32_t v = buf_get_u32(r);
    if (v > 0x7fffffff)
        r->failed = true;
    return (int)v;
}

static void
get_master(buf_reader *r, config_master *m)
{
    buf_get_str(r, m->name, sizeof(m->name));
    get_addr(r, &m->address);
    m->quorum = get_int(r);
    m->down_after_ms = get_int(r);
    m->failover_timeout_ms = get_int(r);
    m->parallel_syncs = get_int(r);
    buf_get_str(r, m->auth_user, sizeof(m->auth_user));
    buf_get_str(r, m->auth_pass, sizeof(m->auth_pass));
    buf_get_str(r, m->notification_script, sizeof(m->notification_script));
    buf_get_str(r, m->client_reconfig_script,
                sizeof(m->client_reconfig_script));
}

static void
put_member(buf *b, const topo_member *m)
{
    buf_put_str(b, m->id);
    put_addr(b, &m->admin);
}

static void
get_member(buf_reader *r, topo_member *m)
{
    buf_get_str(r, m->id, sizeof(m->id));
    get_addr(r, &m->admin);
}

static void
put_failover(buf *b, const topo_failover *f)
{
    buf_put_u8(b, (uint8_t)((f->active ? 1 : 0) | (f->switched ? 2 : 0) |
                            (f->manual ? 4 : 0)));
    buf_put_u64(b, f->epoch);
    put_addr(b, &f->chosen);
    put_addr(b, &f->old_master);
    buf_put_str(b, f->reason);
}

static void
get_failover(buf_reader *r, topo_failover *f)
{
    uint8_t flags = buf_get_u8(r);
    f->active = flags & 1;
    f->switched = flags & 2;
    f->manual = flags & 4;
    f->epoch = buf_get_u64(r);
    get_addr(r, &f->chosen);
    get_addr(r, &f->old_master);
    buf_get_str(r, f->reason, sizeof(f->reason));
}

void
topo_cmd_encode(const topo_cmd *c, buf *out)
{
    buf_put_u8(out, TOPO_FORMAT_VERSION);
    buf_put_u8(out, c->type);
    buf_put_u8(out, c->seed ? 1 : 0);
    switch ((topo_cmd_type)c->type) {
    case TOPO_CMD_MONITOR:
    case TOPO_CMD_REMOVE:
    case TOPO_CMD_RESET:
    case TOPO_CMD_REPLICA:
        put_master(out, &c->m);
        break;
    case TOPO_CMD_SET:
        buf_put_str(out, c->m.name);
        buf_put_u32(out, (uint32_t)c->npairs);
        for (int i = 0; i < c->npairs; i++) {
            buf_put_str(out, c->pairs[i].opt);
            buf_put_str(out, c->pairs[i].val);
        }
        break;
    case TOPO_CMD_MEMBER:
    case TOPO_CMD_MEMBER_GONE:
        put_member(out, &c->member);
        break;
    case TOPO_CMD_ODOWN:
        buf_put_str(out, c->m.name);
        buf_put_u8(out, c->flag ? 1 : 0);
        buf_put_u32(out, c->votes);
        buf_put_u32(out, (uint32_t)c->m.quorum);
        break;
    case TOPO_CMD_FAILOVER_REQUEST:
    case TOPO_CMD_FAILOVER_START:
    case TOPO_CMD_SWITCH_MASTER:
    case TOPO_CMD_FAILOVER_END:
    case TOPO_CMD_FAILOVER_ABORT:
        buf_put_str(out, c->m.name);
        buf_put_u64(out, c->epoch);
        put_addr(out, &c->addr);
        buf_put_str(out, c->reason);
        buf_put_u8(out, c->flag ? 1 : 0);
        break;
    }
}

int
topo_cmd_decode(const uint8_t *data, size_t len, topo_cmd *c)
{
    buf_reader r;
    buf_reader_init(&r, data, len);
    memset(c, 0, sizeof(*c));
    if (buf_get_u8(&r) != TOPO_FORMAT_VERSION)
        return -1;
    c->type = buf_get_u8(&r);
    c->seed = buf_get_u8(&r) != 0;
    switch (c->type) {
    case TOPO_CMD_MONITOR:
    case TOPO_CMD_REMOVE:
    case TOPO_CMD_RESET:
    case TOPO_CMD_REPLICA:
        get_master(&r, &c->m);
        break;
    case TOPO_CMD_SET: {
        buf_get_str(&r, c->m.name, sizeof(c->m.name));
        uint32_t n = buf_get_u32(&r);
        if (n > TOPO_MAX_SET_PAIRS)
            return -1;
        c->npairs = (int)n;
        for (uint32_t i = 0; i < n; i++) {
            buf_get_str(&r, c->pairs[i].opt, sizeof(c->pairs[i].opt));
            buf_get_str(&r, c->pairs[i].val, sizeof(c->pairs[i].val));
        }
        break;
    }
    case TOPO_CMD_MEMBER:
    case TOPO_CMD_MEMBER_GONE:
        get_member(&r, &c->member);
        break;
    case TOPO_CMD_ODOWN:
        buf_get_str(&r, c->m.name, sizeof(c->m.name));
        c->flag = buf_get_u8(&r) != 0;
        c->votes = buf_get_u32(&r);
        c->m.quorum = get_int(&r);
        break;
    case TOPO_CMD_FAILOVER_REQUEST:
    case TOPO_CMD_FAILOVER_START:
    case TOPO_CMD_SWITCH_MASTER:
    case TOPO_CMD_FAILOVER_END:
    case TOPO_CMD_FAILOVER_ABORT:
        buf_get_str(&r, c->m.name, sizeof(c->m.name));
        c->epoch = buf_get_u64(&r);
        get_addr(&r, &c->addr);
        buf_get_str(&r, c->reason, sizeof(c->reason));
        c->flag = buf_get_u8(&r) != 0;
        break;
    default:
        return -1;
    }
    return buf_reader_done(&r) ? 0 : -1;
}

void
topo_snapshot(const topo *t, buf *out)
{
    buf_put_u8(out, TOPO_FORMAT_VERSION);
    buf_put_u32(out, (uint32_t)t->nsets);
    for (int i = 0; i < t->nsets; i++) {
        const topo_set *s = &t->sets[i];
        put_master(out, &s->m);
        buf_put_u64(out, s->config_epoch);
        buf_put_u8(out, s->odown ? 1 : 0);
        put_failover(out, &s->fo);
        buf_put_u64(out, s->last_epoch);
        buf_put_u32(out, (uint32_t)s->nreplicas);
        for (int j = 0; j < s->nreplicas; j++)
            put_addr(out, &s->replicas[j].addr);
    }
    buf_put_u32(out, (uint32_t)t->nmembers);
    for (int i = 0; i < t->nmembers; i++)
        put_member(out, &t->members[i]);
    buf_put_u32(out, (uint32_t)t->nseeded);
    for (int i = 0; i < t->nseeded; i++)
        buf_put_str(out, t->seeded[i]);
}

/* Counts come from untrusted bytes: bound them before allocating. */
static uint32_t
get_count(buf_reader *r, uint32_t max)
{
    uint32_t n = buf_get_u32(r);
    if (n > max)
        r->failed = true;
    return r->failed ? 0 : n;
}

static void
restore_sets(buf_reader *r, topo *t)
{
    uint32_t n = get_count(r, TOPO_MAX_SETS);
    t->sets = xcalloc(n ? n : 1, sizeof(*t->sets));
    for (uint32_t i = 0; i < n && buf_reader_ok(r); i++) {
        topo_set *s = &t->sets[t->nsets++];
        get_master(r, &s->m);
        s->config_epoch = buf_get_u64(r);
        s->odown = buf_get_u8(r) != 0;
        get_failover(r, &s->fo);
        s->last_epoch = buf_get_u64(r);
        uint32_t nr = get_count(r, TOPO_MAX_REPLICAS);
        s->replicas = xcalloc(nr ? nr : 1, sizeof(*s->replicas));
        for (uint32_t j = 0; j < nr && buf_reader_ok(r); j++)
            get_addr(r, &s->replicas[s->nreplicas++].addr);
    }
}

int
topo_restore(topo *t, const uint8_t *data, size_t len)
{
    buf_reader r;
    buf_reader_init(&r, data, len);
    topo next;
    topo_init(&next);
    if (buf_get_u8(&r) != TOPO_FORMAT_VERSION)
        return -1;
    restore_sets(&r, &next);
    uint32_t nm = get_count(&r, 4096);
    next.members = xcalloc(nm ? nm : 1, sizeof(*next.members));
    for (uint32_t i = 0; i < nm && buf_reader_ok(&r); i++)
        get_member(&r, &next.members[next.nmembers++]);
    uint32_t ns = get_count(&r, TOPO_MAX_SETS * 16);
    next.seeded = xcalloc(ns ? ns : 1, sizeof(*next.seeded));
    for (uint32_t i = 0; i < ns && buf_reader_ok(&r); i++)
        buf_get_str(&r, next.seeded[next.nseeded++], CONFIG_STR_MAX);
    if (!buf_reader_done(&r)) {
        topo_free(&next);
        return -1;
    }
    topo_free(t);
    *t = next;
    return 0;
}
