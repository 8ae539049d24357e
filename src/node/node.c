/*
 * node.c -- lifecycle and the ready loop: persist -> send -> apply ->
 * advance, exactly in that order (docs/raft.md), driven by a libevent
 * timer and by frames from peers.
 */
#include "node/node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/raft_codec.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

uint64_t
node_now_ms(void)
{
    return clock_mono_ms();
}

/* ---- snapshots: raft membership + topology in one blob -------------------- */

static void
snapshot_blob(const raft_conf *conf, const uint8_t *app, size_t applen,
              buf *out)
{
    uint8_t enc[RAFT_CONF_ENC_MAX];
    size_t n = raft_conf_encode(conf, enc, sizeof(enc));
    buf_put_u32(out, (uint32_t)n);
    buf_put_bytes(out, enc, n);
    buf_put_bytes(out, app, applen);
}

/* Splits a stored blob; -1 when it does not parse (reported, never used). */
static int
snapshot_parse(const uint8_t *blob, size_t len, raft_conf *conf,
               const uint8_t **app, size_t *applen)
{
    buf_reader r;
    buf_reader_init(&r, blob, len);
    uint32_t n = buf_get_u32(&r);
    if (!buf_reader_ok(&r) || n > len - 4 ||
        raft_conf_decode(blob + 4, n, conf) != RAFT_OK)
        return -1;
    *app = blob + 4 + n;
    *applen = len - 4 - n;
    return 0;
}

/* ---- sending ------------------------------------------------------------------ */

void
node_send_frame(node *n, const char *to, uint8_t type, const uint8_t *p,
                size_t len)
{
    uint8_t *frame = xmalloc(len + 1);
    frame[0] = type;
    if (len)
        memcpy(frame + 1, p, len);
    if (transport_send(n->tp, to, frame, len + 1))
        n->stats.frames_out++;
    free(frame);
}

static void
send_msgs(node *n, const raft_msg *msgs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint8_t *bytes;
        size_t len;
        if (raft_codec_encode_alloc(&msgs[i], &bytes, &len) != RAFT_OK) {
            log_warning("raft: cannot encode a message for %s",
                        msgs[i].to.s);
            continue;
        }
        node_send_frame(n, msgs[i].to.s, NODE_FRAME_RAFT, bytes, len);
        free(bytes);
    }
}

/* ---- persisting ------------------------------------------------------------ */

/* Step 1 of a ready batch.  Returns 0 once everything is durable. */
static int
persist(node *n, const raft_ready *rd)
{
    if (rd->snapshot) {
        buf blob = {0};
        snapshot_blob(&rd->snapshot->meta.conf, rd->snapshot->data,
                      rd->snapshot->len, &blob);
        /* A received snapshot replaces the whole durable log. */
        int rc = storage_install_snapshot(n->st, rd->snapshot->meta.index,
                                          rd->snapshot->meta.term, blob.data,
                                          blob.len);
        buf_free(&blob);
        if (rc != 0)
            goto failed;
    }
    if (rd->truncate_from && storage_truncate_from(n->st, rd->truncate_from))
        goto failed;
    if (rd->n_entries && storage_append(n->st, rd->entries, rd->n_entries))
        goto failed;
    if (rd->has_hard_state && storage_set_hard_state(n->st, &rd->hard_state))
        goto failed;
    if (storage_sync(n->st))
        goto failed;
    return 0;
failed:
    log_warning("storage: %s", storage_error(n->st));
    return -1;
}

/* ---- applying ----------------------------------------------------------------- */

static void
install_snapshot(node *n, const raft_snapshot *snap)
{
    if (topo_restore(&n->topo, snap->data, snap->len) != 0) {
        /* The leader sent state we cannot read (a newer format?): using
         * part of it would be worse than stopping. */
        log_warning("raft: snapshot at index %llu from the leader is not a "
                    "valid topology; stopping",
                    (unsigned long long)snap->meta.index);
        abort();
    }
    n->applied = snap->meta.index;
    n->snap_index = snap->meta.index;
    n->stats.snapshots_installed++;
    node_waiters_snapshot(n, snap->meta.index);
    log_notice("raft: installed snapshot at index %llu (term %llu)",
               (unsigned long long)snap->meta.index,
               (unsigned long long)snap->meta.term);
}

static void
apply_entry(node *n, const raft_entry *e)
{
    topo_result res = {.ok = true};
    if (e->type == RAFT_ENTRY_NORMAL) {
        topo_apply(&n->topo, e->data, e->len, &res);
        if (res.nev > 0) {
            topo_cmd c;
            const char *set = topo_cmd_decode(e->data, e->len, &c) == 0
                                  ? c.m.name : NULL;
            for (int k = 0; k < res.nev; k++)
                events_emit(n->ev, res.ev[k].name, set, "%s", res.ev[k].msg);
        }
        if (!res.ok && strstr(res.error, "undecodable"))
            log_warning("raft: entry %llu is not a valid command: %s",
                        (unsigned long long)e->index, res.error);
    }
    n->applied = e->index;
    node_waiters_applied(n, e, &res);
}

static const char *
member_addr(const raft_member *m, char *out, size_t len)
{
    size_t k = m->ctx_len < len - 1 ? m->ctx_len : len - 1;
    memcpy(out, m->ctx, k);
    out[k] = '\0';
    return out;
}

static const raft_member *
conf_find(const raft_conf *c, const char *id)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->m[i].id.s, id) == 0)
            return &c->m[i];
    return NULL;
}

/* Membership changed: tell the transport and announce the difference. */
static void
conf_changed(node *n)
{
    raft_status st;
    raft_get_status(n->r, &st);
    transport_peer peers[RAFT_MAX_MEMBERS];
    char hosts[RAFT_MAX_MEMBERS][RAFT_CTX_MAX + 1];
    size_t np = 0;
    char addr[RAFT_CTX_MAX + 1];
    for (uint32_t i = 0; i < st.conf.n; i++) {
        const raft_member *m = &st.conf.m[i];
        const raft_member *old = conf_find(&n->conf, m->id.s);
        member_addr(m, addr, sizeof(addr));
        if (old == NULL || old->voter != m->voter)
            events_emit(n->ev, "+raft-peer-added", NULL, "%s %s %s", m->id.s,
                        addr, m->voter ? "voter" : "learner");
        if (strcmp(m->id.s, n->cfg->sentinel.id) == 0)
            continue;
        config_addr ca;
        if (config_parse_addr(addr, &ca) != NULL)
            continue;
        snprintf(hosts[np], sizeof(hosts[np]), "%s", ca.host);
        peers[np] = (transport_peer){m->id.s, hosts[np], ca.port};
        np++;
    }
    /* A joining monitor has no membership yet: it must accept the group
     * it was told about in [peers] so the leader can reach it. */
    for (int i = 0; st.conf.n == 0 && i < n->cfg->npeers &&
                    np < RAFT_MAX_MEMBERS; i++) {
        const config_peer *p = &n->cfg->peers[i];
        if (strcmp(p->id, n->cfg->sentinel.id) != 0)
            peers[np++] = (transport_peer){p->id, p->addr.host, p->addr.port};
    }
    for (uint32_t i = 0; i < n->conf.n; i++)
        if (conf_find(&st.conf, n->conf.m[i].id.s) == NULL)
            events_emit(n->ev, "+raft-peer-removed", NULL, "%s",
                        n->conf.m[i].id.s);
    transport_set_peers(n->tp, peers, np);
    n->conf = st.conf;
}

static void
soft_state(node *n, const raft_ready *rd)
{
    bool new_leader = strcmp(rd->leader.s, n->leader.s) != 0 ||
                      rd->term != n->term;
    n->role = rd->role;
    n->term = rd->term;
    if (new_leader && rd->leader.s[0]) {
        n->leader_seen_ms = node_now_ms();
        events_emit(n->ev, "+raft-leader", NULL, "%s %llu", rd->leader.s,
                    (unsigned long long)rd->term);
    }
    if (rd->role == RAFT_LEADER && (new_leader || n->leader_since_ms == 0))
        n->leader_since_ms = node_now_ms();
    n->leader = rd->leader;
    if (n->role != RAFT_LEADER) {
        n->seeded_term = 0;
        n->leader_since_ms = 0;
    }
}

/* Takes a snapshot once enough entries were applied since the last one. */
static void
maybe_snapshot(node *n)
{
    if (n->applied < n->snap_index + (uint64_t)n->cfg->sentinel.snapshot_entries)
        return;
    buf app = {0};
    topo_snapshot(&n->topo, &app);
    raft_snapshot_meta meta;
    if (raft_snapshot_taken(n->r, n->applied, app.data, app.len, &meta) ==
        RAFT_OK) {
        buf blob = {0};
        snapshot_blob(&meta.conf, app.data, app.len, &blob);
        /* The core already compacted in memory; storage compacts only once
         * its snapshot is durable, so a crash here loses nothing. */
        if (storage_save_snapshot(n->st, meta.index, meta.term, blob.data,
                                  blob.len) == 0) {
            n->snap_index = meta.index;
            n->stats.snapshots_taken++;
            log_verbose("raft: snapshot at index %llu",
                        (unsigned long long)meta.index);
        } else {
            log_warning("storage: snapshot failed: %s",
                        storage_error(n->st));
        }
        buf_free(&blob);
    }
    buf_free(&app);
}

void
node_process(node *n)
{
    raft_ready rd;
    while (raft_has_ready(n->r) && raft_get_ready(n->r, &rd) == RAFT_OK) {
        if (persist(n, &rd) != 0) {
            /* The core steps down and will offer the batch again, but the
             * storage handle is poisoned after an I/O error (what reached
             * the disk is unknown): only a restart, which recovers from
             * what is really there, is safe. */
            raft_persist_failed(n->r);
            log_warning("storage: cannot persist to %s; exiting so that a "
                        "restart recovers from the disk",
                        n->cfg->sentinel.data_dir);
            exit(EXIT_FAILURE);
        }
        send_msgs(n, rd.msgs, rd.n_msgs);
        if (rd.has_soft_state)
            soft_state(n, &rd);
        if (rd.snapshot)
            install_snapshot(n, rd.snapshot);
        for (size_t i = 0; i < rd.n_committed; i++)
            apply_entry(n, &rd.committed[i]);
        if (rd.conf_changed)
            conf_changed(n);
        raft_advance(n->r, &rd);
    }
    maybe_snapshot(n);
}

/* ---- inputs: peer frames and time ----------------------------------------- */

static void
on_frame(void *ctx, const char *peer, const uint8_t *data, size_t len)
{
    node *n = ctx;
    if (len == 0)
        return;
    n->stats.frames_in++;
    node_peer_heard(n, peer, node_now_ms());
    if (strcmp(peer, n->leader.s) == 0)
        n->leader_seen_ms = node_now_ms();
    switch (data[0]) {
    case NODE_FRAME_RAFT: {
        raft_msg m;
        if (raft_codec_decode(data + 1, len - 1, &m) != RAFT_OK) {
            log_warning("raft: undecodable message from %s dropped", peer);
            return;
        }
        if (strcmp(m.from.s, peer) != 0) {
            /* The handshake proved who is on this link; a message claiming
             * another sender is not believed. */
            log_warning("raft: message from %s claims to be from %s; "
                        "dropped", peer, m.from.s);
        } else {
            raft_step(n->r, &m);
        }
        raft_msg_clear(&m);
        break;
    }
    case NODE_FRAME_FWD:
        node_on_fwd(n, peer, data + 1, len - 1);
        break;
    case NODE_FRAME_FWD_ACK:
        node_on_fwd_ack(n, data + 1, len - 1);
        break;
    case NODE_FRAME_OPINION:
        node_on_opinion(n, peer, data + 1, len - 1);
        break;
    case NODE_FRAME_HELLO:
        return;     /* heard: that is all a hello says */
    default:
        log_warning("node: unknown frame type %u from %s dropped", data[0],
                    peer);
        return;
    }
    node_kick(n);
}

static void
on_process(evutil_socket_t fd, short what, void *arg)
{
    node_process(arg);
}

void
node_kick(node *n)
{
    if (n->process_ev && !event_pending(n->process_ev, EV_TIMEOUT, NULL))
        event_active(n->process_ev, EV_TIMEOUT, 0);
}

static void
on_peer_state(void *ctx, const char *peer, bool connected)
{
    log_verbose("raft: peer %s %s", peer, connected ? "connected"
                                                    : "disconnected");
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    node *n = arg;
    uint64_t now = node_now_ms();
    raft_tick(n->r, now);
    node_process(n);
    if (now - n->last_duty_ms >= 100) {
        /* A long gap means this process stalled (a slow fsync, a stop):
         * peers were silent because we did not listen. */
        n->stalled = n->last_duty_ms && now - n->last_duty_ms > 500;
        n->last_duty_ms = now;
        node_duties(n, now);
        node_opinions_duty(n, now);
        node_waiters_expire(n, now);
        node_process(n);
    }
    node_shutdown_check(n, now);
}

/* ---- start-up --------------------------------------------------------------- */

static int
bootstrap(node *n, char *err, size_t len)
{
    const config *cfg = n->cfg;
    raft_member *m = xcalloc((size_t)cfg->npeers, sizeof(*m));
    for (int i = 0; i < cfg->npeers; i++) {
        const config_peer *p = &cfg->peers[i];
        snprintf(m[i].id.s, sizeof(m[i].id.s), "%s", p->id);
        m[i].voter = true;
        int k = snprintf((char *)m[i].ctx, sizeof(m[i].ctx),
                         strchr(p->addr.host, ':') ? "[%s]:%d" : "%s:%d",
                         p->addr.host, p->addr.port);
        m[i].ctx_len = (uint16_t)k;
    }
    int rc = raft_bootstrap(n->r, m, (size_t)cfg->npeers);
    free(m);
    if (rc != RAFT_OK) {
        snprintf(err, len, "cannot bootstrap the group: %s",
                 raft_strerror(rc));
        return -1;
    }
    log_notice("raft: bootstrapped a new group of %d from [peers]",
               cfg->npeers);
    return 0;
}

static int
recover(node *n, storage_loaded *ld, char *err, size_t len)
{
    raft_snapshot snap, *sp = NULL;
    if (ld->has_snapshot) {
        const uint8_t *app;
        size_t applen;
        if (snapshot_parse(ld->snap_data, ld->snap_len, &snap.meta.conf,
                           &app, &applen) != 0 ||
            topo_restore(&n->topo, app, applen) != 0) {
            snprintf(err, len, "snapshot at index %llu in %s is not valid",
                     (unsigned long long)ld->snap_index,
                     n->cfg->sentinel.data_dir);
            return -1;
        }
        snap.meta.index = ld->snap_index;
        snap.meta.term = ld->snap_term;
        snap.data = (uint8_t *)app;
        snap.len = applen;
        sp = &snap;
        n->applied = n->snap_index = ld->snap_index;
    }
    /* A crash between a batch's entries and its hard state leaves entries
     * of a newer term; raft_restore adopts that term with no vote. */
    int rc = raft_restore(n->r, &ld->hard_state, sp, ld->entries,
                          ld->n_entries);
    if (rc != RAFT_OK) {
        snprintf(err, len, "cannot restore the Raft state from %s: %s",
                 n->cfg->sentinel.data_dir, raft_strerror(rc));
        return -1;
    }
    log_notice("raft: recovered term %llu, commit %llu, %zu entries after "
               "snapshot %llu", (unsigned long long)ld->hard_state.term,
               (unsigned long long)ld->hard_state.commit, ld->n_entries,
               (unsigned long long)ld->snap_index);
    return 0;
}

static int
start_raft(node *n, char *err, size_t len)
{
    const config_sentinel *s = &n->cfg->sentinel;
    raft_config rc = {
        .id = s->id,
        .election_timeout_ms = (uint32_t)s->election_timeout_ms,
        .heartbeat_ms = (uint32_t)s->heartbeat_ms,
        .max_inflight = 16,
        .max_msg_entries = 512,
        .max_msg_bytes = 1u << 20,
        .pre_vote = true,
        .check_quorum = true,
        .seed = node_now_ms() ^ ((uint64_t)getpid() << 32),
    };
    n->r = raft_new(&rc);
    if (n->r == NULL) {
        snprintf(err, len, "invalid Raft settings");
        return -1;
    }
    storage_loaded ld;
    storage_opts so = {0};
    if (storage_open(s->data_dir, &so, &n->st, &ld, err, len) != 0)
        return -1;
    bool empty = !ld.has_snapshot && ld.n_entries == 0 &&
                 ld.hard_state.term == 0;
    int ret;
    if (empty)
        ret = s->join ? 0 : bootstrap(n, err, len);
    else
        ret = recover(n, &ld, err, len);
    if (ret == 0 && empty && s->join)
        log_notice("raft: empty data_dir and join = yes: waiting to be "
                   "added with RAFT ADD-PEER %s <host:port>", s->id);
    storage_loaded_free(&ld);
    return ret;
}

static int
start_transport(node *n, char *err, size_t len)
{
    const config_sentinel *s = &n->cfg->sentinel;
    char bindcopy[CONFIG_STR_MAX];
    const char *binds[CONFIG_MAX_BIND];
    size_t nb = 0;
    snprintf(bindcopy, sizeof(bindcopy), "%s", s->bind);
    char *save = NULL;
    for (char *t = strtok_r(bindcopy, " \t", &save); t && nb < CONFIG_MAX_BIND;
         t = strtok_r(NULL, " \t", &save))
        binds[nb++] = t;
    transport_options to = {
        .node_id = s->id,
        .cluster_id = s->cluster_name,
        .bind = binds,
        .nbind = nb,
        .port = s->raft_port,
        .secret = s->peer_secret,
        .max_frame = TRANSPORT_DEFAULT_MAX_FRAME,
        .max_output = TRANSPORT_DEFAULT_MAX_OUTPUT,
        .backoff_min_ms = 50,
        .backoff_max_ms = 2000,
        .handshake_timeout_ms = 2000,
        .ping_ms = s->heartbeat_ms,
        .idle_timeout_ms = 3 * s->election_timeout_ms,
        .seed = node_now_ms() ^ (uint64_t)getpid(),
        .on_frame = on_frame,
        .on_peer_state = on_peer_state,
        .ctx = n,
    };
    n->tp = transport_new(n->base, &to);
    if (n->tp == NULL) {
        snprintf(err, len, "cannot listen on the raft port %s:%d",
                 s->bind, s->raft_port);
        return -1;
    }
    return 0;
}

node *
node_new(const node_options *o, char *err, size_t len)
{
    node *n = xcalloc(1, sizeof(*n));
    n->cfg = o->cfg;
    n->base = o->base;
    n->ev = o->ev;
    n->next_handle = 1;
    n->started_ms = node_now_ms();
    topo_init(&n->topo);
    if (start_raft(n, err, len) != 0 || start_transport(n, err, len) != 0) {
        node_free(n);
        return NULL;
    }
    raft_tick(n->r, node_now_ms());
    conf_changed(n);
    int period = n->cfg->sentinel.heartbeat_ms / 4;
    struct timeval tv = {0, (period < 5 ? 5 : period) * 1000};
    n->tick_ev = event_new(n->base, -1, EV_PERSIST, on_tick, n);
    event_add(n->tick_ev, &tv);
    n->process_ev = event_new(n->base, -1, 0, on_process, n);
    node_process(n);
    return n;
}

void
node_free(node *n)
{
    if (n == NULL)
        return;
    node_waiters_fail_all(n, "-ERR monitor shutting down");
    if (n->tick_ev)
        event_free(n->tick_ev);
    if (n->process_ev)
        event_free(n->process_ev);
    if (n->tp)
        transport_free(n->tp);
    if (n->st)
        storage_close(n->st);
    if (n->r)
        raft_free(n->r);
    topo_free(&n->topo);
    free(n->waiters);
    node_opinions_free(n);
    node_peers_free(n);
    free(n);
}

/* ---- reads --------------------------------------------------------------------- */

const topo *
node_topo(const node *n)
{
    return &n->topo;
}

void
node_status(const node *n, raft_status *st)
{
    raft_get_status(n->r, st);
}

const char *
node_id(const node *n)
{
    return n->cfg->sentinel.id;
}

bool
node_is_leader(const node *n)
{
    return n->role == RAFT_LEADER;
}

bool
node_readable(const node *n)
{
    if (n->cfg->sentinel.stale_reads || n->role == RAFT_LEADER)
        return true;
    /* Cut off = no leader, or silence from it for an election timeout. */
    return n->leader.s[0] != '\0' &&
           node_now_ms() - n->leader_seen_ms <
               (uint64_t)n->cfg->sentinel.election_timeout_ms;
}

void
node_get_stats(const node *n, node_stats *st)
{
    *st = n->stats;
    storage_stats ss;
    storage_get_stats(n->st, &ss);
    st->fsyncs = ss.fsyncs;
    st->pending_writes = n->nwaiters;
}
