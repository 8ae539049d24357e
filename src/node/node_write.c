/*
 * node_write.c -- writes from clients: proposing on the leader, forwarding
 * from followers, and answering each asker exactly once, after the entry is
 * committed and applied on this monitor (or with a clear error).
 *
 * A follower forwards the encoded command to the leader; the leader
 * proposes it and acks (index, term).  The follower then waits until it
 * applies that index itself: if the entry there has the acked term, the
 * local apply result is the answer (apply is deterministic, so it is the
 * leader's answer too); if another term's entry took the index, the write
 * was lost in a leadership change and the asker is told to retry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

static uint64_t
write_timeout_ms(const node *n)
{
    uint64_t t = 4 * (uint64_t)n->cfg->sentinel.election_timeout_ms;
    return t < 5000 ? 5000 : t;
}

static waiter *
waiter_add(node *n, node_done_fn done, void *arg)
{
    n->waiters = xreallocarray(n->waiters, (size_t)n->nwaiters + 1,
                               sizeof(*n->waiters));
    waiter *w = &n->waiters[n->nwaiters++];
    *w = (waiter){.handle = n->next_handle++, .state = W_FORWARDED,
                  .deadline_ms = node_now_ms() + write_timeout_ms(n),
                  .done = done, .arg = arg};
    return w;
}

static waiter *
waiter_find(node *n, uint64_t handle)
{
    for (int i = 0; i < n->nwaiters; i++)
        if (n->waiters[i].handle == handle)
            return &n->waiters[i];
    return NULL;
}

/* Answers and removes waiter i.  The callback may submit again (growing
 * the array), so the waiter is removed before it runs. */
static void
waiter_finish(node *n, int i, const topo_result *res)
{
    waiter w = n->waiters[i];
    n->waiters[i] = n->waiters[--n->nwaiters];
    if (w.done)
        w.done(w.arg, res);
}

static void
finish_error(node *n, int i, const char *error)
{
    topo_result res = {.ok = false};
    snprintf(res.error, sizeof(res.error), "%s", error);
    waiter_finish(n, i, &res);
}

static int
waiter_index(node *n, const waiter *w)
{
    return (int)(w - n->waiters);
}

static const char *
raft_error_reply(int rc)
{
    switch (rc) {
    case RAFT_ENOTLEADER:
        return "-TRYAGAIN no Raft leader right now; retry shortly";
    case RAFT_ETRANSFER:
        return "-TRYAGAIN leadership transfer in progress; retry shortly";
    case RAFT_ECONFPENDING:
        return "-TRYAGAIN another membership change is in progress";
    case RAFT_EEXIST:
        return "-ERR that monitor is already a member";
    case RAFT_ENOTFOUND:
        return "-ERR no such monitor in the group";
    case RAFT_ENOTCAUGHTUP:
        return "-TRYAGAIN the learner has not caught up yet";
    case RAFT_ETOOBIG:
        return "-ERR too many members or entry too large";
    default:
        return "-ERR the Raft core refused the change";
    }
}

/* ---- the leader side -------------------------------------------------------------- */

typedef struct fwd_req {
    uint8_t kind;
    const uint8_t *cmd;         /* FWD_TOPO: encoded topo_cmd */
    size_t cmdlen;
    uint8_t op;                 /* FWD_CONF */
    char id[RAFT_ID_MAX + 1];   /* FWD_CONF, FWD_TRANSFER */
    char addr[RAFT_CTX_MAX + 1];
} fwd_req;

/* Proposes on this (leader) node.  Returns a RAFT_* code; index and term
 * locate the entry when one was appended (transfer appends none). */
static int
propose(node *n, const fwd_req *q, uint64_t *index, uint64_t *term)
{
    int rc;
    *index = 0;
    switch (q->kind) {
    case FWD_TOPO:
        rc = raft_propose(n->r, q->cmd, (uint32_t)q->cmdlen, index);
        break;
    case FWD_CONF:
        rc = raft_propose_conf(n->r, (raft_conf_op)q->op, q->id, q->addr,
                               (uint16_t)strlen(q->addr), index);
        break;
    case FWD_TRANSFER:
        rc = raft_transfer_leader(n->r, q->id);
        break;
    default:
        rc = RAFT_EINVAL;
    }
    *term = n->term;
    if (rc == RAFT_OK && *index)
        raft_term_at(n->r, *index, term);
    return rc;
}

static void
encode_req(const fwd_req *q, uint64_t req_id, buf *b)
{
    buf_put_u64(b, req_id);
    buf_put_u8(b, q->kind);
    buf_put_u8(b, q->op);
    buf_put_str(b, q->id);
    buf_put_str(b, q->addr);
    buf_put_u32(b, (uint32_t)q->cmdlen);
    buf_put_bytes(b, q->cmd, q->cmdlen);
}

void
node_on_fwd(node *n, const char *from, const uint8_t *p, size_t len)
{
    buf_reader r;
    buf_reader_init(&r, p, len);
    fwd_req q = {0};
    uint64_t req_id = buf_get_u64(&r);
    q.kind = buf_get_u8(&r);
    q.op = buf_get_u8(&r);
    buf_get_str(&r, q.id, sizeof(q.id));
    buf_get_str(&r, q.addr, sizeof(q.addr));
    uint32_t cmdlen = buf_get_u32(&r);
    if (!buf_reader_ok(&r) || cmdlen != r.left) {
        log_warning("node: malformed forwarded write from %s dropped", from);
        return;
    }
    q.cmd = r.p;
    q.cmdlen = cmdlen;
    uint64_t index = 0, term = 0;
    int rc = propose(n, &q, &index, &term);
    n->stats.forwarded++;
    buf ack = {0};
    buf_put_u64(&ack, req_id);
    buf_put_u32(&ack, (uint32_t)(int32_t)rc);
    buf_put_u64(&ack, index);
    buf_put_u64(&ack, term);
    node_send_frame(n, from, NODE_FRAME_FWD_ACK, ack.data, ack.len);
    buf_free(&ack);
}

/* ---- the asking side ------------------------------------------------------- */

static void
accepted(node *n, waiter *w, int rc, uint64_t index, uint64_t term)
{
    if (rc != RAFT_OK) {
        finish_error(n, waiter_index(n, w), raft_error_reply(rc));
    } else if (index == 0) {            /* transfer: nothing to wait for */
        topo_result ok = {.ok = true};
        waiter_finish(n, waiter_index(n, w), &ok);
    } else if (index <= n->applied) {
        /* Applied here before the ack arrived: answer with the result we
         * kept, if this very entry (same term) is among the recent ones. */
        const recent_result *r = &n->recent[index % NODE_RECENT_RESULTS];
        if (r->index == index && r->term == term) {
            topo_result res = {.ok = r->ok, .matched = r->matched};
            snprintf(res.error, sizeof(res.error), "%s", r->error);
            waiter_finish(n, waiter_index(n, w), &res);
        } else {
            finish_error(n, waiter_index(n, w), "-TRYAGAIN the write's "
                         "outcome is unknown here (applied before its "
                         "acknowledgement arrived); check and retry");
        }
    } else {
        w->state = W_PROPOSED;
        w->index = index;
        w->term = term;
    }
}

void
node_on_fwd_ack(node *n, const uint8_t *p, size_t len)
{
    buf_reader r;
    buf_reader_init(&r, p, len);
    uint64_t handle = buf_get_u64(&r);
    int rc = (int)(int32_t)buf_get_u32(&r);
    uint64_t index = buf_get_u64(&r);
    uint64_t term = buf_get_u64(&r);
    if (!buf_reader_done(&r))
        return;
    waiter *w = waiter_find(n, handle);
    if (w == NULL || w->state != W_FORWARDED)
        return;     /* cancelled, timed out, or a duplicate ack */
    accepted(n, w, rc, index, term);
}

static uint64_t
submit(node *n, const fwd_req *q, node_done_fn done, void *arg)
{
    waiter *w = waiter_add(n, done, arg);
    uint64_t handle = w->handle;
    if (n->role == RAFT_LEADER) {
        uint64_t index, term;
        int rc = propose(n, q, &index, &term);
        accepted(n, waiter_find(n, handle), rc, index, term);
        node_kick(n);
    } else if (n->leader.s[0] == '\0') {
        finish_error(n, waiter_index(n, w), raft_error_reply(RAFT_ENOTLEADER));
    } else {
        buf b = {0};
        encode_req(q, handle, &b);
        node_send_frame(n, n->leader.s, NODE_FRAME_FWD, b.data, b.len);
        buf_free(&b);
    }
    return handle;
}

uint64_t
node_submit(node *n, const topo_cmd *c, node_done_fn done, void *arg)
{
    buf cmd = {0};
    topo_cmd_encode(c, &cmd);
    fwd_req q = {.kind = FWD_TOPO, .cmd = cmd.data, .cmdlen = cmd.len};
    uint64_t h = submit(n, &q, done, arg);
    buf_free(&cmd);
    return h;
}

uint64_t
node_submit_conf(node *n, raft_conf_op op, const char *id, const char *addr,
                 node_done_fn done, void *arg)
{
    fwd_req q = {.kind = FWD_CONF, .op = (uint8_t)op};
    snprintf(q.id, sizeof(q.id), "%s", id);
    snprintf(q.addr, sizeof(q.addr), "%s", addr ? addr : "");
    return submit(n, &q, done, arg);
}

uint64_t
node_transfer(node *n, const char *id, node_done_fn done, void *arg)
{
    fwd_req q = {.kind = FWD_TRANSFER};
    snprintf(q.id, sizeof(q.id), "%s", id);
    return submit(n, &q, done, arg);
}

/* ---- completion --------------------------------------------------------------- */

void
node_waiters_applied(node *n, const raft_entry *e, const topo_result *res)
{
    recent_result *r = &n->recent[e->index % NODE_RECENT_RESULTS];
    r->index = e->index;
    r->term = e->term;
    r->ok = res->ok;
    r->matched = res->matched;
    snprintf(r->error, sizeof(r->error), "%s", res->error);
    for (int i = 0; i < n->nwaiters;) {
        waiter *w = &n->waiters[i];
        if (w->state != W_PROPOSED || w->index > e->index) {
            i++;
        } else if (w->index == e->index && w->term == e->term) {
            waiter_finish(n, i, res);
        } else {
            finish_error(n, i, "-TRYAGAIN the write was lost in a leadership "
                         "change; retry");
        }
    }
}

void
node_waiters_snapshot(node *n, uint64_t index)
{
    for (int i = 0; i < n->nwaiters;) {
        if (n->waiters[i].state == W_PROPOSED && n->waiters[i].index <= index)
            finish_error(n, i, "-TRYAGAIN the write's outcome is unknown "
                         "(this monitor caught up through a snapshot); "
                         "check and retry");
        else
            i++;
    }
}

void
node_waiters_expire(node *n, uint64_t now)
{
    for (int i = 0; i < n->nwaiters;) {
        if (now < n->waiters[i].deadline_ms) {
            i++;
            continue;
        }
        finish_error(n, i, n->waiters[i].state == W_FORWARDED
                     ? "-TRYAGAIN the leader did not answer in time; retry"
                     : "-TIMEOUT not committed in time; it may still be "
                       "applied");
    }
}

void
node_waiters_fail_all(node *n, const char *error)
{
    while (n->nwaiters > 0)
        finish_error(n, n->nwaiters - 1, error);
}
