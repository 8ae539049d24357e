/*
 * test_raft_net.c -- see test_raft_net.h.
 */
#include "test_raft_net.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/raft_codec.h"

raft_config
tn_config(const char *id)
{
    raft_config c;
    memset(&c, 0, sizeof(c));
    c.id = id;
    c.election_timeout_ms = 100;
    c.heartbeat_ms = 10;
    c.max_inflight = 8;
    c.max_msg_entries = 16;
    c.max_msg_bytes = 64 * 1024;
    c.seed = 42;
    return c;
}

static void
members(raft_member *v, int n)
{
    memset(v, 0, sizeof(*v) * (size_t)n);
    for (int i = 0; i < n; i++) {
        snprintf(v[i].id.s, sizeof(v[i].id.s), "n%d", i + 1);
        v[i].voter = true;
        v[i].ctx_len = (uint16_t)snprintf((char *)v[i].ctx, RAFT_CTX_MAX,
                                          "127.0.0.1:%d", 7000 + i);
    }
}

static raft *
node_new(tn_node *nd, const raft_config *tmpl)
{
    nd->cfg = tmpl ? *tmpl : tn_config(nd->id);
    nd->cfg.id = nd->id;
    raft *r = raft_new(&nd->cfg);
    ck_assert_ptr_nonnull(r);
    return r;
}

tn_net *
tn_net_new(int n, int voters, const raft_config *tmpl)
{
    tn_net *t = calloc(1, sizeof(*t));
    ck_assert_ptr_nonnull(t);
    t->n = n;
    raft_member v[TN_MAX];
    members(v, voters);
    for (int i = 0; i < n; i++) {
        tn_node *nd = &t->nodes[i];
        snprintf(nd->id, sizeof(nd->id), "n%d", i + 1);
        nd->r = node_new(nd, tmpl);
        nd->up = true;
        if (i < voters)
            ck_assert_int_eq(raft_bootstrap(nd->r, v, (size_t)voters), RAFT_OK);
        raft_tick(nd->r, 0);
    }
    tn_flush(t);
    return t;
}

static void
storage_clear(tn_node *nd)
{
    for (size_t i = 0; i < nd->n_log; i++)
        free(nd->log[i].data);
    nd->n_log = 0;
}

void
tn_net_free(tn_net *t)
{
    tn_clear_queue(t);
    free(t->q);
    for (int i = 0; i < t->n; i++) {
        tn_node *nd = &t->nodes[i];
        raft_free(nd->r);
        storage_clear(nd);
        free(nd->log);
        if (nd->snap)
            free(nd->snap->data);
        free(nd->snap);
    }
    free(t);
}

int
tn_index(const tn_net *t, const char *id)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->nodes[i].id, id) == 0)
            return i;
    return -1;
}

/* ---- the runtime side of one ready batch ------------------------------- */

static void
persist(tn_node *nd, const raft_ready *rd)
{
    if (rd->snapshot != NULL) {
        if (nd->snap)
            free(nd->snap->data);
        free(nd->snap);
        nd->snap = calloc(1, sizeof(*nd->snap));
        nd->snap->meta = rd->snapshot->meta;
        nd->snap->len = rd->snapshot->len;
        nd->snap->data = malloc(rd->snapshot->len + 1);
        if (rd->snapshot->len > 0)
            memcpy(nd->snap->data, rd->snapshot->data, rd->snapshot->len);
        storage_clear(nd);
    }
    if (rd->truncate_from != 0)
        while (nd->n_log > 0 && nd->log[nd->n_log - 1].index >= rd->truncate_from)
            free(nd->log[--nd->n_log].data);
    for (size_t i = 0; i < rd->n_entries; i++) {
        const raft_entry *e = &rd->entries[i];
        if (nd->n_log > 0)
            ck_assert_uint_eq(e->index, nd->log[nd->n_log - 1].index + 1);
        if (nd->n_log == nd->cap_log) {
            nd->cap_log = nd->cap_log ? nd->cap_log * 2 : 32;
            nd->log = realloc(nd->log, nd->cap_log * sizeof(*nd->log));
        }
        raft_entry *d = &nd->log[nd->n_log++];
        *d = *e;
        d->data = malloc(e->len + 1);
        if (e->len > 0)
            memcpy(d->data, e->data, e->len);
    }
    if (rd->has_hard_state)
        nd->hs = rd->hard_state;
}

static void
enqueue(tn_net *t, int from, const raft_msg *m)
{
    int to = tn_index(t, m->to.s);
    ck_assert_int_ge(to, 0);
    if (t->nq == t->capq) {
        t->capq = t->capq ? t->capq * 2 : 64;
        t->q = realloc(t->q, t->capq * sizeof(*t->q));
    }
    tn_queued *q = &t->q[t->nq++];
    q->from = from;
    q->to = to;
    ck_assert_int_eq(raft_codec_encode_alloc(m, &q->bytes, &q->len), RAFT_OK);
}

static void
apply(tn_node *nd, const raft_ready *rd)
{
    if (rd->snapshot != NULL) {
        ck_assert_uint_eq(rd->snapshot->len, 16);
        memcpy(&nd->sm_count, rd->snapshot->data, 8);
        memcpy(&nd->sm_hash, rd->snapshot->data + 8, 8);
        nd->applied = rd->snapshot->meta.index;
    }
    for (size_t i = 0; i < rd->n_committed; i++) {
        const raft_entry *e = &rd->committed[i];
        ck_assert_uint_eq(e->index, nd->applied + 1);
        nd->applied = e->index;
        if (e->type != RAFT_ENTRY_NORMAL)
            continue;
        nd->sm_count++;
        for (uint32_t k = 0; k < e->len; k++)
            nd->sm_hash = nd->sm_hash * 31 + e->data[k];
    }
    for (size_t i = 0; i < rd->n_reads && nd->n_reads < 64; i++)
        nd->reads[nd->n_reads++] = rd->reads[i];
}

void
tn_drain(tn_net *t, int i)
{
    tn_node *nd = &t->nodes[i];
    while (nd->up && raft_has_ready(nd->r)) {
        raft_ready rd;
        ck_assert_int_eq(raft_get_ready(nd->r, &rd), RAFT_OK);
        if (nd->fail_next_persist) {
            nd->fail_next_persist = false;
            raft_persist_failed(nd->r);
            continue;
        }
        persist(nd, &rd);
        for (size_t k = 0; k < rd.n_msgs; k++)
            enqueue(t, i, &rd.msgs[k]);
        apply(nd, &rd);
        raft_advance(nd->r, &rd);
    }
}

static bool
deliver_one(tn_net *t)
{
    if (t->nq == 0)
        return false;
    tn_queued q = t->q[0];
    memmove(t->q, t->q + 1, (t->nq - 1) * sizeof(*t->q));
    t->nq--;
    tn_node *nd = &t->nodes[q.to];
    if (nd->up && !t->cut[q.from][q.to]) {
        raft_msg m;
        ck_assert_int_eq(raft_codec_decode(q.bytes, q.len, &m), RAFT_OK);
        t->delivered[m.type]++;
        if (m.type == RAFT_MSG_APPEND_RESP && m.reject)
            t->rejects++;
        if (m.type == RAFT_MSG_APPEND && m.n_entries > 0)
            t->appends_to[q.to]++;
        ck_assert_int_eq(raft_step(nd->r, &m), RAFT_OK);
        raft_msg_clear(&m);
        tn_drain(t, q.to);
    }
    free(q.bytes);
    return true;
}

void
tn_flush(tn_net *t)
{
    for (int guard = 0; guard < 100000; guard++) {
        for (int i = 0; i < t->n; i++)
            tn_drain(t, i);
        if (!deliver_one(t))
            return;
    }
    ck_abort_msg("network did not settle");
}

void
tn_run(tn_net *t, uint64_t ms)
{
    for (uint64_t el = 0; el < ms; el += TN_TICK_MS) {
        t->now += TN_TICK_MS;
        for (int i = 0; i < t->n; i++)
            if (t->nodes[i].up)
                raft_tick(t->nodes[i].r, t->now);
        tn_flush(t);
    }
}

int
tn_leader(const tn_net *t)
{
    int best = -1;
    uint64_t term = 0;
    for (int i = 0; i < t->n; i++) {
        raft_status st;
        if (!t->nodes[i].up)
            continue;
        raft_get_status(t->nodes[i].r, &st);
        if (st.role == RAFT_LEADER && st.term >= term) {
            best = i;
            term = st.term;
        }
    }
    return best;
}

int
tn_wait_leader(tn_net *t, uint64_t max_ms)
{
    for (uint64_t el = 0; el <= max_ms; el += TN_TICK_MS) {
        int l = tn_leader(t);
        if (l >= 0)
            return l;
        tn_run(t, TN_TICK_MS);
    }
    return -1;
}

int
tn_elect(tn_net *t, int i)
{
    /* Campaign through the public input a leadership transfer uses: a
     * TIMEOUT_NOW in the node's current term makes it campaign at once,
     * without moving anybody's clock. */
    tn_node *nd = &t->nodes[i];
    raft_status st;
    raft_get_status(nd->r, &st);
    const char *from = i == 0 ? t->nodes[1].id : t->nodes[0].id;
    raft_msg m = tn_msg(RAFT_MSG_TIMEOUT_NOW, from, nd->id, st.term);
    if (st.term == 0 || raft_step(nd->r, &m) != RAFT_OK)
        return -1;
    tn_flush(t);
    /* A heartbeat round, so followers' leader contact is recent. */
    tn_run(t, 2 * TN_TICK_MS);
    return tn_leader(t);
}

void
tn_crash(tn_net *t, int i)
{
    tn_node *nd = &t->nodes[i];
    raft_free(nd->r);
    nd->r = NULL;
    nd->up = false;
}

void
tn_restart(tn_net *t, int i)
{
    tn_node *nd = &t->nodes[i];
    nd->r = node_new(nd, &nd->cfg);
    nd->up = true;
    ck_assert_int_eq(raft_restore(nd->r, &nd->hs, nd->snap, nd->log, nd->n_log),
                     RAFT_OK);
    /* The state machine is rebuilt from the snapshot and the log. */
    nd->applied = nd->snap ? nd->snap->meta.index : 0;
    nd->sm_count = nd->sm_hash = 0;
    if (nd->snap) {
        memcpy(&nd->sm_count, nd->snap->data, 8);
        memcpy(&nd->sm_hash, nd->snap->data + 8, 8);
    }
    raft_tick(nd->r, t->now);
    tn_drain(t, i);
}

void
tn_isolate(tn_net *t, int i)
{
    for (int k = 0; k < t->n; k++)
        t->cut[i][k] = t->cut[k][i] = true;
}

void
tn_heal(tn_net *t)
{
    memset(t->cut, 0, sizeof(t->cut));
}

uint64_t
tn_propose(tn_net *t, int i, const char *data)
{
    uint64_t idx = 0;
    if (raft_propose(t->nodes[i].r, data, (uint32_t)strlen(data), &idx) != RAFT_OK)
        return 0;
    tn_flush(t);
    return idx;
}

int
tn_snapshot(tn_net *t, int i)
{
    tn_node *nd = &t->nodes[i];
    uint8_t buf[16];
    memcpy(buf, &nd->sm_count, 8);
    memcpy(buf + 8, &nd->sm_hash, 8);
    raft_snapshot_meta meta;
    int rc = raft_snapshot_taken(nd->r, nd->applied, buf, sizeof(buf), &meta);
    if (rc != RAFT_OK)
        return rc;
    /* Persist the snapshot first, then drop the log entries it covers. */
    if (nd->snap)
        free(nd->snap->data);
    free(nd->snap);
    nd->snap = calloc(1, sizeof(*nd->snap));
    nd->snap->meta = meta;
    nd->snap->len = sizeof(buf);
    nd->snap->data = malloc(sizeof(buf));
    memcpy(nd->snap->data, buf, sizeof(buf));
    size_t keep = 0;
    for (size_t k = 0; k < nd->n_log; k++) {
        if (nd->log[k].index <= meta.index)
            free(nd->log[k].data);
        else
            nd->log[keep++] = nd->log[k];
    }
    nd->n_log = keep;
    return RAFT_OK;
}

void
tn_clear_queue(tn_net *t)
{
    for (size_t k = 0; k < t->nq; k++)
        free(t->q[k].bytes);
    t->nq = 0;
}

/* ---- single node ------------------------------------------------------- */

raft *
tn_solo(const char *id, int nvoters, const raft_config *tmpl)
{
    raft_config c = tmpl ? *tmpl : tn_config(id);
    c.id = id;
    raft *r = raft_new(&c);
    ck_assert_ptr_nonnull(r);
    raft_member v[TN_MAX];
    members(v, nvoters);
    ck_assert_int_eq(raft_bootstrap(r, v, (size_t)nvoters), RAFT_OK);
    raft_tick(r, 0);
    tn_settle(r);
    return r;
}

size_t
tn_settle(raft *r)
{
    size_t n = 0;
    while (raft_has_ready(r)) {
        raft_ready rd;
        ck_assert_int_eq(raft_get_ready(r, &rd), RAFT_OK);
        n += rd.n_msgs;
        raft_advance(r, &rd);
    }
    return n;
}

const raft_msg *
tn_find(const raft_ready *rd, uint8_t type, const char *to)
{
    for (size_t i = 0; i < rd->n_msgs; i++)
        if (rd->msgs[i].type == type && (to == NULL || strcmp(rd->msgs[i].to.s, to) == 0))
            return &rd->msgs[i];
    return NULL;
}

raft_msg
tn_msg(uint8_t type, const char *from, const char *to, uint64_t term)
{
    raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    snprintf(m.from.s, sizeof(m.from.s), "%s", from);
    snprintf(m.to.s, sizeof(m.to.s), "%s", to);
    m.term = term;
    return m;
}
