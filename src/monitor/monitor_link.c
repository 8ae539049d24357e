/*
 * monitor_link.c -- a Redis instance link: lifecycle, the state machine,
 * reconnect backoff, and the deferred notifications (on_ready, on_down,
 * NULL replies).  Everything that touches hiredis is in
 * monitor_link_conn.c; the rules both files follow are at the top of
 * monitor_link_internal.h.
 */
#include "monitor/monitor_link.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor_link_internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

/* ---- small helpers ------------------------------------------------------ */

static void
mlink_arm_timer(mlink *l, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(l->timer, &tv);
}

/* splitmix64: tiny, seedable, and one per link, so that links (and
 * monitors) restarted together do not retry in lockstep. */
static uint64_t
mlink_rand(mlink *l)
{
    uint64_t z = (l->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Delay before the next attempt after fail_streak consecutive failures:
 * base = min * 2^(streak-1), capped at max, then drawn uniformly from
 * [base/2, base] but never below min.  So the first retry waits exactly
 * min, and a dead instance costs one attempt per max at worst. */
static int
mlink_backoff_delay(mlink *l)
{
    uint64_t min = (uint64_t)l->backoff_min_ms;
    uint64_t max = (uint64_t)l->backoff_max_ms;
    uint64_t base = min;
    for (unsigned i = 1; i < l->fail_streak && base < max; i++)
        base *= 2;
    if (base > max)
        base = max;
    uint64_t lo = base / 2 < min ? min : base / 2;
    return (int)(lo + mlink_rand(l) % (base - lo + 1));
}

static void
mlink_set_error(mlink *l, const char *reason)
{
    snprintf(l->last_error, sizeof(l->last_error), "%s", reason);
}

/* ---- notes: user notifications, delivered from the kick ----------------- */

void
mlink_kick(mlink *l)
{
    static const struct timeval zero = {0, 0};
    evtimer_add(l->kick, &zero);
}

void
mlink_note_push(mlink *l, mlink_note_kind kind, mlink_reply_fn fn,
                void *privdata, const char *reason)
{
    mlink_note *n = xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->fn = fn;
    n->privdata = privdata;
    if (reason != NULL)
        snprintf(n->reason, sizeof(n->reason), "%s", reason);
    if (l->notes_tail != NULL)
        l->notes_tail->next = n;
    else
        l->notes = n;
    l->notes_tail = n;
    mlink_kick(l);
}

static void
mlink_note_deliver(mlink *l, const mlink_note *n)
{
    switch (n->kind) {
    case MLINK_NOTE_READY:
        if (l->cb.on_ready != NULL)
            l->cb.on_ready(l->ctx);
        break;
    case MLINK_NOTE_DOWN:
        if (l->cb.on_down != NULL)
            l->cb.on_down(l->ctx, n->reason);
        break;
    case MLINK_NOTE_NULL_REPLY:
        if (n->fn != NULL)
            n->fn(l->ctx, NULL, n->privdata);
        break;
    }
}

/* From mlink_free: what the user is still owed is the NULL replies; on_ready
 * and on_down are dropped (nothing but those runs inside or after free). */
static void
mlink_notes_flush(mlink *l, mlink_note **list)
{
    mlink_note *n;
    while ((n = *list) != NULL) {
        *list = n->next;
        if (n->kind == MLINK_NOTE_NULL_REPLY)
            mlink_note_deliver(l, n);
        free(n);
    }
}

static void
mlink_destroy(mlink *l)
{
    if (l->timer != NULL)
        event_free(l->timer);
    if (l->kick != NULL)
        event_free(l->kick);
    free(l->zombies);
    free(l->host);
    free(l->auth_user);
    free(l->auth_pass);
    free(l->client_name);
    free(l);
}

/* The kick is the link's own outermost frame: no hiredis callback is on
 * the stack, so zombies can be freed, and user code may free the link (we
 * finish that here, once it returns). */
static void
mlink_kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mlink *l = arg;

    mlink_conn_reap(l);
    if (l->state == MLINK_IDLE)
        mlink_dispatch(l, MLINK_EV_START, NULL);

    /* Only what was queued so far: notes queued by these callbacks wait for
     * the next kick, so a callback that resets on every on_down cannot spin
     * here without the loop running. */
    l->batch = l->notes;
    l->notes = l->notes_tail = NULL;
    l->delivering = true;
    while (!l->closing && l->batch != NULL) {
        mlink_note *n = l->batch;
        l->batch = n->next;
        mlink_note_deliver(l, n);
        free(n);
    }
    l->delivering = false;
    if (l->closing)
        mlink_destroy(l);   /* mlink_free ran inside a callback */
}

static void
mlink_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mlink_dispatch(arg, MLINK_EV_TIMER, NULL);
}

/* ---- transitions -------------------------------------------------------- */

static void mlink_fail(mlink *l, const char *reason);

/* Starts one attempt: CONNECTING, or straight to BACKOFF when the connect
 * fails at once. */
static void
mlink_connect(mlink *l)
{
    char why[MLINK_ERROR_MAX];
    l->stats.connect_attempts++;
    l->state = MLINK_CONNECTING;
    if (mlink_conn_open(l, why, sizeof(why)) != 0) {
        mlink_fail(l, why);
        return;
    }
    /* One deadline for connect and handshake: a stopped server completes
     * the TCP handshake (the kernel does it) but never answers. */
    mlink_arm_timer(l, l->connect_timeout_ms);
}

/* Leaving READY (or an attempt) for whatever reason. */
static void
mlink_went_down(mlink *l, const char *reason)
{
    if (l->state == MLINK_READY) {
        l->stats.disconnects++;
        l->connected_since_ms = 0;
    }
    mlink_conn_drop(l, false);    /* queues the NULL replies first ... */
    mlink_set_error(l, reason);
    mlink_note_push(l, MLINK_NOTE_DOWN, NULL, NULL, reason); /* ... then this */
}

static void
mlink_fail(mlink *l, const char *detail)
{
    char reason[MLINK_ERROR_MAX];
    /* detail may live in the context the drop is about to free. */
    snprintf(reason, sizeof(reason), "%s", detail ? detail : "failed");
    /* At 3 a.m. a dead instance must not flood the log: the first failure
     * of a streak (or a new reason) at notice, repeats at verbose. */
    bool repeat = l->fail_streak > 0 && strcmp(l->last_error, reason) == 0;
    mlink_went_down(l, reason);
    l->fail_streak++;
    int delay = mlink_backoff_delay(l);
    if (repeat)
        log_verbose("Redis link %s down: %s (retry in %d ms)", l->addr,
                    reason, delay);
    else
        log_notice("Redis link %s down: %s (retry in %d ms)", l->addr,
                   reason, delay);
    l->state = MLINK_BACKOFF;
    mlink_arm_timer(l, delay);
}

/* mlink_reset() with a connection (or an attempt) in hand. */
static void
mlink_restart(mlink *l)
{
    log_verbose("Redis link %s reset (%d commands in flight)", l->addr,
                l->pending);
    mlink_went_down(l, "reset");
    mlink_connect(l);
}

static void
mlink_become_ready(mlink *l)
{
    evtimer_del(l->timer);
    if (l->fail_streak > 0)
        log_notice("Redis link %s ready (after %u failed attempts)", l->addr,
                   l->fail_streak);
    else
        log_verbose("Redis link %s ready", l->addr);
    l->state = MLINK_READY;
    l->connected_since_ms = clock_mono_ms();
    l->stats.connects++;
    l->fail_streak = 0;
    l->auth_failed = false;
    mlink_note_push(l, MLINK_NOTE_READY, NULL, NULL, NULL);
}

/* ---- the state machine: one function per state -------------------------- */

static void
mlink_st_idle(mlink *l, mlink_event ev, const char *detail)
{
    (void)detail;
    switch (ev) {
    case MLINK_EV_START:
    case MLINK_EV_RESET:
        mlink_connect(l);
        break;
    default:
        break;
    }
}

static void
mlink_st_connecting(mlink *l, mlink_event ev, const char *detail)
{
    switch (ev) {
    case MLINK_EV_CONNECTED:
        if (mlink_conn_handshake(l) != 0) {
            mlink_fail(l, "cannot send the handshake");
            break;
        }
        l->state = MLINK_AUTHENTICATING;
        break;
    case MLINK_EV_CLOSED:
        mlink_fail(l, detail);
        break;
    case MLINK_EV_TIMER:
        mlink_fail(l, "timeout");
        break;
    case MLINK_EV_RESET:
        mlink_restart(l);
        break;
    default:
        break;
    }
}

static void
mlink_st_authenticating(mlink *l, mlink_event ev, const char *detail)
{
    switch (ev) {
    case MLINK_EV_HANDSHAKE_DONE:
        mlink_become_ready(l);
        break;
    case MLINK_EV_AUTH_FAILED:
        l->auth_failed = true;
        mlink_fail(l, detail);
        break;
    case MLINK_EV_CLOSED:
        mlink_fail(l, detail);
        break;
    case MLINK_EV_TIMER:
        mlink_fail(l, "timeout (no reply to the handshake)");
        break;
    case MLINK_EV_RESET:
        mlink_restart(l);
        break;
    default:
        break;
    }
}

static void
mlink_st_ready(mlink *l, mlink_event ev, const char *detail)
{
    switch (ev) {
    case MLINK_EV_CLOSED:
        mlink_fail(l, detail);
        break;
    case MLINK_EV_RESET:
        mlink_restart(l);
        break;
    default:
        break;
    }
}

static void
mlink_st_backoff(mlink *l, mlink_event ev, const char *detail)
{
    (void)detail;
    switch (ev) {
    case MLINK_EV_TIMER:
    case MLINK_EV_RESET:
        evtimer_del(l->timer);
        mlink_connect(l);
        break;
    default:
        break;
    }
}

void
mlink_dispatch(mlink *l, mlink_event ev, const char *detail)
{
    if (l->closing)
        return;
    switch (l->state) {
    case MLINK_IDLE:
        mlink_st_idle(l, ev, detail);
        break;
    case MLINK_CONNECTING:
        mlink_st_connecting(l, ev, detail);
        break;
    case MLINK_AUTHENTICATING:
        mlink_st_authenticating(l, ev, detail);
        break;
    case MLINK_READY:
        mlink_st_ready(l, ev, detail);
        break;
    case MLINK_BACKOFF:
        mlink_st_backoff(l, ev, detail);
        break;
    }
}

/* ---- public API --------------------------------------------------------- */

/* Every function accepts a NULL link (what a refused mlink_new returned):
 * accessors answer as for an idle link, the rest do nothing. */

static bool
mlink_ms_ok(int ms)
{
    return ms >= 0 && ms <= MLINK_MAX_TIME_MS;
}

static const char *
mlink_check_options(const mlink_options *o)
{
    if (o->host == NULL || o->host[0] == '\0')
        return "no host";
    if (strlen(o->host) > MLINK_HOST_MAX)
        return "host name too long";
    if (o->port < 1 || o->port > 65535)
        return "port out of range";
    if (!mlink_ms_ok(o->connect_timeout_ms) || !mlink_ms_ok(o->backoff_min_ms)
        || !mlink_ms_ok(o->backoff_max_ms))
        return "a time out of range";
    if (o->max_pending < 0)
        return "negative max_pending";
    return NULL;
}

static char *
mlink_strdup_opt(const char *s)
{
    return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

mlink *
mlink_new(struct event_base *base, const mlink_options *opts,
          const mlink_callbacks *cbs, void *ctx)
{
    const char *bad = opts == NULL ? "no options" : mlink_check_options(opts);
    if (base == NULL && bad == NULL)
        bad = "no event base";
    if (bad != NULL) {
        log_warning("Redis link not created: %s", bad);
        return NULL;
    }
    int bmin = opts->backoff_min_ms ? opts->backoff_min_ms
                                    : MLINK_DEFAULT_BACKOFF_MIN_MS;
    int bmax = opts->backoff_max_ms ? opts->backoff_max_ms
                                    : MLINK_DEFAULT_BACKOFF_MAX_MS;
    if (bmin > bmax) {
        log_warning("Redis link not created: backoff_min_ms %d > "
                    "backoff_max_ms %d", bmin, bmax);
        return NULL;
    }

    mlink *l = xcalloc(1, sizeof(*l));
    l->base = base;
    l->host = xstrdup(opts->host);
    l->port = opts->port;
    l->auth_pass = mlink_strdup_opt(opts->auth_pass);
    /* Sentinel sends AUTH only with a password, and then the user if any.
     * A lone user is a configuration slip: not worth an unmonitored
     * instance, so the link still runs (without AUTH). */
    if (l->auth_pass != NULL)
        l->auth_user = mlink_strdup_opt(opts->auth_user);
    l->client_name = mlink_strdup_opt(opts->client_name);
    l->connect_timeout_ms = opts->connect_timeout_ms
                                ? opts->connect_timeout_ms
                                : MLINK_DEFAULT_CONNECT_TIMEOUT_MS;
    l->max_pending = opts->max_pending ? opts->max_pending
                                       : MLINK_DEFAULT_MAX_PENDING;
    l->backoff_min_ms = bmin;
    l->backoff_max_ms = bmax;
    snprintf(l->addr, sizeof(l->addr),
             strchr(l->host, ':') != NULL ? "[%s]:%d" : "%s:%d", l->host,
             l->port);
    if (cbs != NULL)
        l->cb = *cbs;
    l->ctx = ctx;
    /* Jitter only has to differ between links and monitors, not be
     * reproducible; tests pass a seed. */
    l->rng = opts->seed ? opts->seed
                        : clock_mono_ms() ^ ((uint64_t)(uintptr_t)l << 16)
                              ^ (uint64_t)l->port;
    l->state = MLINK_IDLE;
    l->timer = evtimer_new(base, mlink_timer_cb, l);
    l->kick = evtimer_new(base, mlink_kick_cb, l);
    if (l->timer == NULL || l->kick == NULL) {
        log_warning("Redis link %s not created: out of memory", l->addr);
        mlink_destroy(l);
        return NULL;
    }
    if (l->auth_pass == NULL && opts->auth_user != NULL
        && opts->auth_user[0] != '\0')
        log_warning("Redis link %s: auth_user without auth_pass, no AUTH "
                    "sent", l->addr);
    mlink_kick(l);    /* IDLE -> CONNECTING from the loop, not from here */
    return l;
}

void
mlink_free(mlink *l)
{
    if (l == NULL || l->closing)
        return;
    l->closing = true;          /* from here every mlink_* call is inert */
    mlink_conn_drop(l, true);   /* in-flight commands become NULL notes */
    evtimer_del(l->timer);
    evtimer_del(l->kick);
    mlink_notes_flush(l, &l->batch);
    mlink_notes_flush(l, &l->notes);
    l->notes_tail = NULL;
    if (!l->delivering)
        mlink_destroy(l);
    /* else the kick, which is calling us, destroys it when we return */
}

void
mlink_reset(mlink *l)
{
    if (l != NULL)
        mlink_dispatch(l, MLINK_EV_RESET, NULL);
}

enum mlink_state
mlink_state(const mlink *l)
{
    return l != NULL ? l->state : MLINK_IDLE;
}

const char *
mlink_state_name(enum mlink_state s)
{
    switch (s) {
    case MLINK_IDLE:
        return "idle";
    case MLINK_CONNECTING:
        return "connecting";
    case MLINK_AUTHENTICATING:
        return "authenticating";
    case MLINK_READY:
        return "ready";
    case MLINK_BACKOFF:
        return "backoff";
    }
    return "?";
}

int
mlink_pending(const mlink *l)
{
    return l != NULL ? l->pending : 0;
}

uint64_t
mlink_connected_since_ms(const mlink *l)
{
    return l != NULL && l->state == MLINK_READY ? l->connected_since_ms : 0;
}

const char *
mlink_last_error(const mlink *l)
{
    return l != NULL ? l->last_error : "";
}

bool
mlink_auth_failed(const mlink *l)
{
    return l != NULL && l->auth_failed;
}

const char *
mlink_addr(const mlink *l)
{
    return l != NULL ? l->addr : "";
}

void
mlink_get_stats(const mlink *l, mlink_stats *out)
{
    if (l != NULL)
        *out = l->stats;
    else
        memset(out, 0, sizeof(*out));
}
