/*
 * monitor_link_conn.c -- the hiredis side of a Redis instance link:
 * opening a context, its connect / disconnect / reply callbacks, the
 * handshake, commands, and dropping a context safely.
 *
 * hiredis 0.14 facts this file is built on (async.c):
 *  - A failed connect calls onConnect(REDIS_ERR), then frees the context
 *    itself, without onDisconnect (the context was never CONNECTED).
 *  - onConnect and onDisconnect run without REDIS_IN_CALLBACK, so
 *    redisAsyncFree() there frees at once under hiredis' feet.  Reply
 *    callbacks run with it, and redisAsyncFree() there is deferred until
 *    the callback returns.
 *  - redisAsyncFree() first calls every pending reply callback with NULL,
 *    then onDisconnect (if it was CONNECTED), then frees.
 *  - An error on the socket does the same on its own (onDisconnect with
 *    REDIS_ERR, the error in ac->c.err / ac->c.errstr).
 * The disconnect callback after a failed connect that newer hiredis
 * versions make is harmless here: a context is detached (data = NULL)
 * before anything else can see it again.
 */
#include "monitor/monitor_link.h"

#include <ctype.h>
#include <fcntl.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "monitor/monitor_link_internal.h"
#include "util/log.h"
#include "util/mem.h"

/* ---- command records ---------------------------------------------------- */

static mlink_cmd *
mlink_cmd_new(mlink *l, mlink_cmd_kind kind, mlink_reply_fn fn,
              void *privdata)
{
    mlink_cmd *c = xcalloc(1, sizeof(*c));
    c->link = l;
    c->kind = kind;
    c->fn = fn;
    c->privdata = privdata;
    c->next = l->inflight;
    if (l->inflight != NULL)
        l->inflight->prev = c;
    l->inflight = c;
    return c;
}

static void
mlink_cmd_unlink(mlink *l, mlink_cmd *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->inflight = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* ---- reasons ------------------------------------------------------------ */

/* Turns a context's error into an on_down reason: "connection refused",
 * "closed by server", ... */
static void
mlink_conn_reason(const redisContext *c, char *buf, size_t n)
{
    const char *s = c->errstr[0] != '\0' ? c->errstr : "unknown error";
    switch (c->err) {
    case 0:
        snprintf(buf, n, "disconnected");
        break;
    case REDIS_ERR_EOF:
        snprintf(buf, n, "closed by server");
        break;
    case REDIS_ERR_PROTOCOL:
        snprintf(buf, n, "protocol error: %s", s);
        break;
    case REDIS_ERR_IO:
        /* strerror text: "Connection refused" -> "connection refused" */
        snprintf(buf, n, "%s", s);
        if (isupper((unsigned char)buf[0]) && islower((unsigned char)buf[1]))
            buf[0] = (char)tolower((unsigned char)buf[0]);
        break;
    default:
        snprintf(buf, n, "%s", s);     /* "ERR max number of clients..." */
        break;
    }
}

/* ---- zombies: contexts dropped from inside their own callbacks ---------- */

static void
mlink_zombie_add(mlink *l, redisAsyncContext *ac)
{
    if (l->nzombies == l->zombies_cap) {
        l->zombies_cap = l->zombies_cap ? 2 * l->zombies_cap : 2;
        l->zombies = xreallocarray(l->zombies, l->zombies_cap,
                                   sizeof(*l->zombies));
    }
    l->zombies[l->nzombies++] = ac;   /* ac->data stays l: see below */
    mlink_kick(l);
}

/* A zombie's socket failed before the kick: hiredis frees it itself and
 * tells us through onDisconnect, so it must not be freed again. */
static void
mlink_zombie_forget(mlink *l, const redisAsyncContext *ac)
{
    for (size_t i = 0; i < l->nzombies; i++) {
        if (l->zombies[i] == ac) {
            l->zombies[i] = l->zombies[--l->nzombies];
            return;
        }
    }
}

void
mlink_conn_reap(mlink *l)
{
    while (l->nzombies > 0) {
        redisAsyncContext *ac = l->zombies[--l->nzombies];
        ac->data = NULL;        /* its onDisconnect, if any, is not ours */
        redisAsyncFree(ac);     /* orphaned records come back and go */
    }
}

void
mlink_conn_drop(mlink *l, bool final)
{
    /* Oldest first (the list is newest first): NULL replies come in the
     * order the commands were sent. */
    mlink_cmd *c = l->inflight;
    while (c != NULL && c->next != NULL)
        c = c->next;
    while (c != NULL) {
        mlink_cmd *prev = c->prev;
        c->prev = c->next = NULL;
        c->link = NULL;         /* hiredis still owns it and will free it */
        if (c->kind == MLINK_CMD_USER && c->fn != NULL)
            mlink_note_push(l, MLINK_NOTE_NULL_REPLY, c->fn, c->privdata,
                            NULL);
        c = prev;
    }
    l->inflight = NULL;
    l->pending = 0;

    redisAsyncContext *ac = l->ac;
    l->ac = NULL;
    if (ac != NULL) {
        /* Inside its own callback hiredis still holds ac after we return:
         * freeing it now is a use-after-free (onConnect) or has to rely on
         * hiredis' deferral (replies).  The kick frees it instead.  Only
         * mlink_free cannot wait (the kick goes with the link); inside a
         * hiredis callback it can only be a reply callback (no user code
         * runs in the others), where hiredis' deferral holds. */
        bool inside = (ac->c.flags & REDIS_IN_CALLBACK) || l->in_connect_cb;
        if (inside && !final) {
            mlink_zombie_add(l, ac);
        } else {
            ac->data = NULL;
            redisAsyncFree(ac);
        }
    }
    if (final)
        mlink_conn_reap(l);
}

/* ---- hiredis callbacks -------------------------------------------------- */

static void
mlink_on_connect(const redisAsyncContext *cac, int status)
{
    mlink *l = cac->data;
    if (l == NULL || cac != l->ac)
        return;                 /* detached, or a zombie */
    if (status != REDIS_OK) {
        char why[MLINK_ERROR_MAX];
        mlink_conn_reason(&cac->c, why, sizeof(why));
        /* hiredis frees it as soon as we return: forget it first. */
        l->ac->data = NULL;
        l->ac = NULL;
        mlink_dispatch(l, MLINK_EV_CLOSED, why);
        return;
    }
    l->in_connect_cb = true;    /* no user code runs below: l stays valid */
    mlink_dispatch(l, MLINK_EV_CONNECTED, NULL);
    l->in_connect_cb = false;
}

static void
mlink_on_disconnect(const redisAsyncContext *cac, int status)
{
    mlink *l = cac->data;
    if (l == NULL)
        return;                 /* we freed it ourselves */
    if (cac != l->ac) {
        mlink_zombie_forget(l, cac);
        return;
    }
    char why[MLINK_ERROR_MAX];
    if (status == REDIS_OK && cac->c.err == 0)
        snprintf(why, sizeof(why), "disconnected");
    else
        mlink_conn_reason(&cac->c, why, sizeof(why));
    l->ac->data = NULL;         /* being freed by hiredis right now */
    l->ac = NULL;
    mlink_dispatch(l, MLINK_EV_CLOSED, why);
}

/* Replies to AUTH / CLIENT SETNAME / PING, in that order, AUTHENTICATING. */
static void
mlink_handshake_reply(mlink *l, mlink_cmd_kind kind, const redisReply *r)
{
    bool err = r->type == REDIS_REPLY_ERROR;
    const char *msg = err && r->str != NULL ? r->str : "";
    char why[MLINK_ERROR_MAX];

    /* A server at maxclients answers the first command with this and
     * hangs up: whichever handshake command that is, it is no AUTH
     * problem, and no READY either. */
    if (err && strstr(msg, "max number of clients reached") != NULL) {
        mlink_dispatch(l, MLINK_EV_CLOSED, msg);
        return;
    }
    switch (kind) {
    case MLINK_CMD_AUTH:
        if (!err) {
            if (l->auth_failed)
                log_notice("Redis link %s: AUTH accepted again", l->addr);
            l->auth_failed = false;
        } else if (strstr(msg, "without any password configured") != NULL
                   || strstr(msg, "but no password is set") != NULL) {
            /* The server needs no password (requirepass was removed; the
             * second text is Redis < 6): refusing the link over that would
             * turn an operator's cleanup into an outage. */
            log_verbose("Redis link %s: AUTH not needed: %s", l->addr, msg);
        } else {
            snprintf(why, sizeof(why), "AUTH failed: %s", msg);
            mlink_dispatch(l, MLINK_EV_AUTH_FAILED, why);
        }
        break;
    case MLINK_CMD_SETNAME:
        if (err)                /* ignored, as Sentinel does */
            log_verbose("Redis link %s: CLIENT SETNAME refused: %s",
                        l->addr, msg);
        break;
    case MLINK_CMD_PING:
        /* Any answer proves the server is alive; LOADING or MASTERDOWN are
         * for the monitor to judge.  NOAUTH means we cannot do anything. */
        if (err && strncmp(msg, "NOAUTH", 6) == 0) {
            snprintf(why, sizeof(why), "AUTH required: %s", msg);
            mlink_dispatch(l, MLINK_EV_AUTH_FAILED, why);
        } else {
            mlink_dispatch(l, MLINK_EV_HANDSHAKE_DONE, NULL);
        }
        break;
    case MLINK_CMD_USER:
        break;
    }
}

/* Every command's reply callback; privdata is its record. */
static void
mlink_reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    mlink_cmd *c = privdata;
    mlink *l = c->link;
    if (l == NULL) {            /* orphaned: the user already has a NULL */
        free(c);
        return;
    }
    mlink_cmd_unlink(l, c);
    mlink_cmd_kind kind = c->kind;
    mlink_reply_fn fn = c->fn;
    void *privdata_user = c->privdata;
    free(c);

    if (kind != MLINK_CMD_USER) {
        if (reply != NULL)      /* NULL: onDisconnect follows */
            mlink_handshake_reply(l, kind, reply);
        return;
    }
    l->pending--;
    if (reply == NULL) {
        /* hiredis is tearing the connection down (onDisconnect follows):
         * no user code in there, the NULL goes through the kick. */
        if (fn != NULL)
            mlink_note_push(l, MLINK_NOTE_NULL_REPLY, fn, privdata_user,
                            NULL);
        return;
    }
    l->stats.replies++;
    if (fn != NULL)
        fn(l->ctx, reply, privdata_user);
    /* fn may have freed l: nothing after this */
}

/* ---- opening, handshake, commands --------------------------------------- */

int
mlink_conn_open(mlink *l, char *why, size_t n)
{
    /* Blocks in getaddrinfo() for a host name: the monitor passes IPs. */
    redisAsyncContext *ac = redisAsyncConnect(l->host, l->port);
    if (ac == NULL) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    if (ac->err) {
        mlink_conn_reason(&ac->c, why, n);
        redisAsyncFree(ac);     /* never attached, no callbacks: plain free */
        return -1;
    }
    /* Scripts the daemon forks must not inherit Redis connections. */
    int fl = fcntl(ac->c.fd, F_GETFD);
    if (fl >= 0)
        (void)fcntl(ac->c.fd, F_SETFD, fl | FD_CLOEXEC);
    if (redisLibeventAttach(ac, l->base) != REDIS_OK) {
        snprintf(why, n, "cannot attach to the event loop");
        redisAsyncFree(ac);
        return -1;
    }
    ac->data = l;
    redisAsyncSetConnectCallback(ac, mlink_on_connect);
    redisAsyncSetDisconnectCallback(ac, mlink_on_disconnect);
    l->ac = ac;
    return 0;
}

static int
mlink_send_argv(mlink *l, mlink_cmd_kind kind, int argc, const char **argv)
{
    mlink_cmd *c = mlink_cmd_new(l, kind, NULL, NULL);
    if (redisAsyncCommandArgv(l->ac, mlink_reply_cb, c, argc, argv, NULL)
        != REDIS_OK) {
        mlink_cmd_unlink(l, c);
        free(c);
        return -1;
    }
    return 0;
}

/* Pipelined: one round trip, whatever the configuration. */
int
mlink_conn_handshake(mlink *l)
{
    if (l->auth_pass != NULL) {
        const char *argv[3];
        int argc = 0;
        argv[argc++] = "AUTH";
        if (l->auth_user != NULL)
            argv[argc++] = l->auth_user;
        argv[argc++] = l->auth_pass;
        if (mlink_send_argv(l, MLINK_CMD_AUTH, argc, argv) != 0)
            return -1;
    }
    if (l->client_name != NULL) {
        const char *argv[3] = {"CLIENT", "SETNAME", l->client_name};
        if (mlink_send_argv(l, MLINK_CMD_SETNAME, 3, argv) != 0)
            return -1;
    }
    const char *ping[1] = {"PING"};
    return mlink_send_argv(l, MLINK_CMD_PING, 1, ping);
}

static bool
mlink_can_send(const mlink *l)
{
    return !l->closing && l->state == MLINK_READY && l->ac != NULL
           && l->pending < l->max_pending;
}

/* Commands that break the one-reply-per-command pairing the link relies
 * on: hiredis calls a subscriber's callback once per message (our record
 * is freed by the first), MONITOR and (P)SYNC stream without end, RESET
 * drops our AUTH and name, HELLO 3 switches to RESP3, which hiredis 0.14
 * cannot parse. */
static bool
mlink_cmd_allowed(const char *name, size_t len)
{
    static const char *const banned[] = {
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE",
        "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "SYNC", "PSYNC", "RESET",
        "HELLO", NULL};
    for (const char *const *b = banned; *b != NULL; b++)
        if (strlen(*b) == len && strncasecmp(*b, name, len) == 0)
            return false;
    return true;
}

/* The command name in a formatted command: "*N\r\n$L\r\nNAME\r\n...". */
static bool
mlink_formatted_allowed(const char *cmd, size_t len)
{
    const char *end = cmd + len;
    const char *p = memchr(cmd, '\n', len);
    if (p == NULL || ++p >= end || *p != '$')
        return false;
    char *q;
    long n = strtol(p + 1, &q, 10);
    if (n <= 0 || end - q < 2 || q[0] != '\r' || q[1] != '\n'
        || n > end - (q + 2))
        return false;
    return mlink_cmd_allowed(q + 2, (size_t)n);
}

/* Takes cmd (formatted by hiredis, len < 0: formatting failed). */
static int
mlink_send_user(mlink *l, mlink_reply_fn cb, void *privdata, char *cmd,
                int len)
{
    int rc = -1;
    if (len > 0 && mlink_formatted_allowed(cmd, (size_t)len)) {
        mlink_cmd *c = mlink_cmd_new(l, MLINK_CMD_USER, cb, privdata);
        if (redisAsyncFormattedCommand(l->ac, mlink_reply_cb, c, cmd,
                                       (size_t)len) == REDIS_OK) {
            l->pending++;
            l->stats.commands_sent++;
            rc = 0;
        } else {
            mlink_cmd_unlink(l, c);
            free(c);
        }
    }
    if (len >= 0)
        redisFreeCommand(cmd);
    if (rc != 0)
        l->stats.commands_refused++;
    return rc;
}

int
mlink_command(mlink *l, mlink_reply_fn cb, void *privdata, int argc,
              const char **argv, const size_t *argvlen)
{
    if (l == NULL)
        return -1;
    if (!mlink_can_send(l) || argc < 1 || argv == NULL) {
        l->stats.commands_refused++;
        return -1;
    }
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    return mlink_send_user(l, cb, privdata, cmd, len);
}

int
mlink_commandf(mlink *l, mlink_reply_fn cb, void *privdata,
               const char *fmt, ...)
{
    if (l == NULL)
        return -1;
    if (!mlink_can_send(l) || fmt == NULL) {
        l->stats.commands_refused++;
        return -1;
    }
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    return mlink_send_user(l, cb, privdata, cmd, len);
}
