/*
 * monitor_link_internal.h -- what monitor_link.c (lifecycle, state machine,
 * deferred notifications) and monitor_link_conn.c (everything that touches
 * hiredis) share.  Not for other modules.
 *
 * Ownership rules that the two files rely on:
 *
 *  - Every command handed to hiredis carries an mlink_cmd record as its
 *    privdata.  hiredis calls the reply callback exactly once per command
 *    (with a reply, or with NULL when the context goes away), and that call
 *    frees the record.  When a connection is dropped the records stay with
 *    hiredis but are orphaned (link = NULL): the user's NULL reply is queued
 *    as a note instead, so a record never points at a freed link.
 *
 *  - User code runs in exactly two kinds of places: a reply callback with a
 *    real reply (inside hiredis, REDIS_IN_CALLBACK set), and the kick event
 *    (on_ready, on_down, NULL replies), which is our own outermost frame.
 *    hiredis' connect and disconnect callbacks never run user code, so a
 *    user can never free the link or the context under them.
 *
 *  - A context is never freed from inside one of its own callbacks by a
 *    drop: it becomes a zombie (data still pointing at the link, so its
 *    disconnect callback can unregister it) and the kick frees it.  Only
 *    mlink_free() frees it there, relying on hiredis' own deferral
 *    (REDIS_IN_CALLBACK): the link, and with it the kick, is going away.
 */
#ifndef MONITOR_LINK_INTERNAL_H
#define MONITOR_LINK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/monitor_link.h"

struct event;
struct redisAsyncContext;

/* What the link itself sends after TCP connect, in this order. */
typedef enum mlink_cmd_kind {
    MLINK_CMD_USER,
    MLINK_CMD_AUTH,
    MLINK_CMD_SETNAME,
    MLINK_CMD_PING
} mlink_cmd_kind;

typedef struct mlink_cmd {
    struct mlink_cmd *prev, *next;  /* in link->inflight */
    mlink *link;                    /* NULL once orphaned by a drop */
    mlink_cmd_kind kind;
    mlink_reply_fn fn;              /* user commands only; may be NULL */
    void *privdata;
} mlink_cmd;

/* Notifications delivered from the kick event, in order. */
typedef enum mlink_note_kind {
    MLINK_NOTE_READY,
    MLINK_NOTE_DOWN,
    MLINK_NOTE_NULL_REPLY
} mlink_note_kind;

typedef struct mlink_note {
    struct mlink_note *next;
    mlink_note_kind kind;
    mlink_reply_fn fn;              /* NULL_REPLY */
    void *privdata;
    char reason[MLINK_ERROR_MAX];   /* DOWN */
} mlink_note;

/* Inputs of the state machine (mlink_dispatch). */
typedef enum mlink_event {
    MLINK_EV_START,           /* first kick after mlink_new */
    MLINK_EV_TIMER,           /* connect timeout, or backoff over */
    MLINK_EV_RESET,           /* mlink_reset() */
    MLINK_EV_CONNECTED,       /* TCP connect completed */
    MLINK_EV_CLOSED,          /* connect failed or connection lost */
    MLINK_EV_AUTH_FAILED,     /* AUTH refused, or NOAUTH without a password */
    MLINK_EV_HANDSHAKE_DONE   /* the handshake PING was answered */
} mlink_event;

struct mlink {
    struct event_base *base;
    char *host;
    int port;
    char *auth_user;                /* NULL: none */
    char *auth_pass;                /* NULL: no AUTH */
    char *client_name;              /* NULL: no CLIENT SETNAME */
    int connect_timeout_ms;
    int max_pending;
    int backoff_min_ms, backoff_max_ms;
    char addr[MLINK_HOST_MAX + 16];
    mlink_callbacks cb;
    void *ctx;

    enum mlink_state state;
    struct redisAsyncContext *ac;   /* current connection, or NULL */
    struct redisAsyncContext **zombies; /* dropped in their own callbacks */
    size_t nzombies, zombies_cap;
    bool in_connect_cb;             /* inside hiredis' connect callback */
    struct event *timer;            /* connect timeout or backoff */
    struct event *kick;             /* zero timeout: reap, start, notify */
    mlink_cmd *inflight;            /* records of the current connection */
    int pending;                    /* user commands among them */
    mlink_note *notes, *notes_tail; /* waiting for the next kick */
    mlink_note *batch;              /* being delivered by the kick */
    bool delivering;                /* the kick is calling user code */
    bool closing;                   /* mlink_free() was called */

    bool auth_failed;
    unsigned fail_streak;           /* failed attempts since READY */
    uint64_t rng;                   /* splitmix64 state, for jitter */
    uint64_t connected_since_ms;
    char last_error[MLINK_ERROR_MAX];
    mlink_stats stats;
};

/* monitor_link.c */
void mlink_dispatch(mlink *l, mlink_event ev, const char *detail);
void mlink_note_push(mlink *l, mlink_note_kind kind, mlink_reply_fn fn,
                     void *privdata, const char *reason);
void mlink_kick(mlink *l);

/* monitor_link_conn.c */

/* Starts a non-blocking connect.  Returns 0, or -1 with the reason in why
 * when it failed at once (nothing left to free). */
int mlink_conn_open(mlink *l, char *why, size_t n);

/* Sends AUTH / CLIENT SETNAME / PING.  Returns 0, or -1 (hiredis refused). */
int mlink_conn_handshake(mlink *l);

/* Detaches the current connection: in-flight user commands are owed a NULL
 * reply (queued as notes), records are orphaned, and the context is freed
 * now, or made a zombie when we are inside its callback.  final (from
 * mlink_free) frees every context now, zombies included. */
void mlink_conn_drop(mlink *l, bool final);

/* Frees zombies; only from the kick (outside every hiredis callback). */
void mlink_conn_reap(mlink *l);

#endif
