/*
 * monitor_link.h -- one managed connection to one Redis instance.
 *
 * A link owns a hiredis async connection on the daemon's libevent base and
 * keeps it alive: it connects, authenticates, names itself, and after any
 * failure reconnects with a jittered exponential backoff.  It never decides
 * what to send or when; the monitor layer above does (PING, INFO,
 * REPLICAOF...) and calls mlink_reset() when a reply is overdue, as
 * Sentinel does.  States, handshake and failure reasons:
 * docs/monitoring-links.md.
 *
 *     IDLE -> CONNECTING -> AUTHENTICATING -> READY
 *                 ^   \            |           |
 *                 |    +-----------+-----------+--> BACKOFF (on_down)
 *                 +----------------------------------+   (timer or reset)
 *
 * The host should be an IP address: hiredis 0.14 resolves a name
 * synchronously (getaddrinfo) on every attempt, stalling the whole event
 * loop while DNS answers.  The process must ignore SIGPIPE (main.c does):
 * hiredis writes with write(2).
 *
 * Callbacks may call any mlink_* function on their own link, mlink_free()
 * and mlink_reset() included.
 */
#ifndef MONITOR_LINK_H
#define MONITOR_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct redisReply;

/* Defaults, used when the corresponding option is 0. */
#define MLINK_DEFAULT_CONNECT_TIMEOUT_MS 1000
#define MLINK_DEFAULT_MAX_PENDING 100    /* Sentinel's per-link limit */
#define MLINK_DEFAULT_BACKOFF_MIN_MS 100
#define MLINK_DEFAULT_BACKOFF_MAX_MS 1000 /* Sentinel retries about 1/s */
#define MLINK_MAX_TIME_MS 3600000        /* bound on every *_ms option */
#define MLINK_HOST_MAX 255
#define MLINK_ERROR_MAX 256              /* reasons, NUL included */

typedef struct mlink mlink;

/* A tag only: mlink_state() is the accessor. */
enum mlink_state {
    MLINK_IDLE,            /* created; the first attempt starts from the loop */
    MLINK_CONNECTING,      /* TCP connect in progress */
    MLINK_AUTHENTICATING,  /* AUTH / CLIENT SETNAME / PING sent, waiting */
    MLINK_READY,           /* handshake answered: commands accepted */
    MLINK_BACKOFF          /* waiting before the next attempt */
};

/* reply is NULL when the connection was dropped before the reply came;
 * otherwise it is only valid during the call (hiredis frees it after). */
typedef void (*mlink_reply_fn)(void *ctx, const struct redisReply *reply,
                               void *privdata);

typedef struct mlink_callbacks {
    /* Handshake complete: commands are accepted from now on. */
    void (*on_ready)(void *ctx);
    /* An attempt failed, or a READY connection was lost or reset.  reason
     * is e.g. "connection refused", "timeout", "closed by server",
     * "AUTH failed: WRONGPASS ...", "reset"; also kept for
     * mlink_last_error().  Runs after the NULL replies of that drop. */
    void (*on_down)(void *ctx, const char *reason);
} mlink_callbacks;

typedef struct mlink_options {
    const char *host;             /* IP address (a name blocks, see above) */
    int port;
    const char *auth_user;        /* NULL or "": AUTH pass; else AUTH user pass */
    const char *auth_pass;        /* NULL or "": no AUTH at all */
    const char *client_name;      /* NULL or "": no CLIENT SETNAME */
    int connect_timeout_ms;       /* TCP connect + handshake replies */
    int max_pending;              /* commands in flight; more are refused */
    int backoff_min_ms;           /* first retry delay, doubled per failure */
    int backoff_max_ms;           /* ... up to this */
    uint64_t seed;                /* jitter PRNG; 0: derived from the clock */
} mlink_options;

typedef struct mlink_stats {
    uint64_t connect_attempts;    /* connections started */
    uint64_t connects;            /* handshakes completed (became READY) */
    uint64_t disconnects;         /* READY connections lost or reset */
    uint64_t commands_sent;       /* mlink_command() calls accepted */
    uint64_t commands_refused;    /* mlink_command() calls refused */
    uint64_t replies;             /* replies delivered (NULLs not counted) */
} mlink_stats;

/* Copies the options.  Returns NULL (logged) when they are invalid: no
 * host, a port outside 1..65535, a negative or too large number, or
 * backoff_min_ms > backoff_max_ms.  An auth_user without auth_pass is
 * ignored with a warning (no AUTH), as Sentinel does.  No I/O happens
 * here: the first attempt starts from the event loop.  cbs may be NULL,
 * and so may each callback.  Every mlink_* function accepts a NULL link
 * (accessors answer as for an IDLE link; the others do nothing, -1). */
mlink *mlink_new(struct event_base *base, const mlink_options *opts,
                 const mlink_callbacks *cbs, void *ctx);

/* Closes the connection and releases everything.  Commands still in
 * flight get their callback with reply NULL exactly once, before
 * mlink_free() returns; nothing is called after it returns, and on_down is
 * not called for this close.  Safe from inside the link's callbacks (the
 * hiredis context is then freed by hiredis as the callback returns). */
void mlink_free(mlink *l);

/* Drops the connection now (in-flight commands get NULL, then on_down
 * "reset" when there was a connection) and starts a new attempt at once,
 * whatever the state and backoff.  For a READY link whose reply is overdue. */
void mlink_reset(mlink *l);

/* Sends one command.  Returns 0 when queued: cb (may be NULL) will run
 * exactly once, with the reply or with NULL.  Returns -1, and cb will never
 * run, when the link is not READY or max_pending commands are in flight
 * (the monitor counts that as "no reply"), and for commands that would
 * break one-reply-per-command: (P|S)(UN)SUBSCRIBE, MONITOR, (P)SYNC,
 * RESET, HELLO. */
int mlink_command(mlink *l, mlink_reply_fn cb, void *privdata, int argc,
                  const char **argv, const size_t *argvlen);

/* The same with a hiredis format: %s (C string), %b (pointer, size_t), and
 * the printf conversions for numbers.  Not checked by the compiler. */
int mlink_commandf(mlink *l, mlink_reply_fn cb, void *privdata,
                   const char *fmt, ...);

enum mlink_state mlink_state(const mlink *l);
const char *mlink_state_name(enum mlink_state s); /* "ready", ... */

/* User commands in flight on the current connection (not the handshake). */
int mlink_pending(const mlink *l);

/* Monotonic ms (clock_mono_ms) at which the link became READY; 0 when it
 * is not READY. */
uint64_t mlink_connected_since_ms(const mlink *l);

/* Reason of the last on_down, "" before any. */
const char *mlink_last_error(const mlink *l);

/* True from an AUTH refusal (or a NOAUTH answer when no password is
 * configured) until a later AUTH succeeds or the link becomes READY. */
bool mlink_auth_failed(const mlink *l);

/* "host:port" ("[v6]:port"), as the link logs itself. */
const char *mlink_addr(const mlink *l);

void mlink_get_stats(const mlink *l, mlink_stats *out);

#endif
