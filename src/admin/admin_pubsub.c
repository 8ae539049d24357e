/*
 * admin_pubsub.c -- SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE and
 * admin_publish, with Redis' RESP2 reply shapes.
 *
 * Subscriptions live on the clients; publishing walks the client list.
 * An admin port has tens of clients with a handful of channels each
 * (Sentinel event names), so a channel index would cost more code than
 * it saves time.  The per-client cap keeps one client from making every
 * publish slow.
 */
#include <stdlib.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "util/glob.h"
#include "util/mem.h"

#define ADMIN_MAX_SUBS_PER_CLIENT 4096

size_t
admin_subscriptions(const admin_client *c)
{
    return c->channels.n + c->patterns.n;
}

static bool
sub_eq(const admin_sub *x, const char *s, size_t len)
{
    return x->len == len && memcmp(x->s, s, len) == 0;
}

static bool
subs_has(const admin_subs *v, const char *s, size_t len)
{
    for (size_t i = 0; i < v->n; i++)
        if (sub_eq(&v->v[i], s, len))
            return true;
    return false;
}

static void
subs_add(admin_subs *v, const char *s, size_t len)
{
    if (subs_has(v, s, len))
        return;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->v = xreallocarray(v->v, v->cap, sizeof(*v->v));
    }
    char *copy = xmalloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    v->v[v->n++] = (admin_sub){copy, len};
}

/* Removes s keeping the others in subscription order. */
static void
subs_remove(admin_subs *v, const char *s, size_t len)
{
    for (size_t i = 0; i < v->n; i++) {
        if (!sub_eq(&v->v[i], s, len))
            continue;
        free(v->v[i].s);
        memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof(*v->v));
        v->n--;
        return;
    }
}

void
admin_subs_free(admin_subs *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i].s);
    free(v->v);
    *v = (admin_subs){NULL, 0, 0};
}

/* ["subscribe", channel, count]; a NULL name is sent as nil. */
static void
reply_confirm(admin_client *c, const char *kind, const char *s, size_t len)
{
    admin_reply_array(c, 3);
    admin_reply_str(c, kind);
    if (s)
        admin_reply_bulk(c, s, len);
    else
        admin_reply_null(c);
    admin_reply_int(c, (long long)admin_subscriptions(c));
}

static void
subscribe(admin_client *c, const admin_args *a, admin_subs *v,
          const char *kind)
{
    if (admin_subscriptions(c) + (size_t)(a->argc - 1) >
        ADMIN_MAX_SUBS_PER_CLIENT) {
        admin_reply_errorf(c, "too many subscriptions (at most %d per "
                              "client)", ADMIN_MAX_SUBS_PER_CLIENT);
        return;
    }
    for (int j = 1; j < a->argc; j++) {
        subs_add(v, a->argv[j], a->len[j]);
        reply_confirm(c, kind, a->argv[j], a->len[j]);
    }
}

static void
unsubscribe(admin_client *c, const admin_args *a, admin_subs *v,
            const char *kind)
{
    if (a->argc > 1) {
        /* Names never subscribed are confirmed too, as Redis does. */
        for (int j = 1; j < a->argc; j++) {
            subs_remove(v, a->argv[j], a->len[j]);
            reply_confirm(c, kind, a->argv[j], a->len[j]);
        }
        return;
    }
    if (v->n == 0) {
        reply_confirm(c, kind, NULL, 0);
        return;
    }
    while (v->n > 0) {
        admin_sub first = v->v[0];
        memmove(&v->v[0], &v->v[1], (v->n - 1) * sizeof(*v->v));
        v->n--;
        reply_confirm(c, kind, first.s, first.len);
        free(first.s);
    }
}

void
admin_cmd_subscribe(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    subscribe(c, a, &c->channels, "subscribe");
}

void
admin_cmd_psubscribe(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    subscribe(c, a, &c->patterns, "psubscribe");
}

void
admin_cmd_unsubscribe(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    unsubscribe(c, a, &c->channels, "unsubscribe");
}

void
admin_cmd_punsubscribe(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    unsubscribe(c, a, &c->patterns, "punsubscribe");
}

size_t
admin_publish(admin_server *s, const char *channel, const char *message)
{
    size_t clen = strlen(channel), mlen = strlen(message), n = 0;
    for (admin_client *c = s->clients; c; c = c->next) {
        if (admin_client_closing(c))
            continue;
        if (subs_has(&c->channels, channel, clen)) {
            admin_reply_array(c, 3);
            admin_reply_str(c, "message");
            admin_reply_bulk(c, channel, clen);
            admin_reply_bulk(c, message, mlen);
            n++;
        }
        for (size_t i = 0; i < c->patterns.n; i++) {
            const admin_sub *p = &c->patterns.v[i];
            if (!glob_match(p->s, channel, false))
                continue;
            admin_reply_array(c, 4);
            admin_reply_str(c, "pmessage");
            admin_reply_bulk(c, p->s, p->len);
            admin_reply_bulk(c, channel, clen);
            admin_reply_bulk(c, message, mlen);
            n++;
        }
    }
    return n;
}

/* ---- distinct counts for INFO ------------------------------------------ */

static int
cmp_sub(const void *x, const void *y)
{
    const admin_sub *a = *(const admin_sub *const *)x;
    const admin_sub *b = *(const admin_sub *const *)y;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->s, b->s, a->len);
}

static size_t
distinct(const admin_server *s, bool patterns)
{
    size_t total = 0;
    for (const admin_client *c = s->clients; c; c = c->next)
        total += patterns ? c->patterns.n : c->channels.n;
    if (total == 0)
        return 0;
    const admin_sub **all = xcalloc(total, sizeof(*all));
    size_t k = 0;
    for (const admin_client *c = s->clients; c; c = c->next) {
        const admin_subs *v = patterns ? &c->patterns : &c->channels;
        for (size_t i = 0; i < v->n; i++)
            all[k++] = &v->v[i];
    }
    qsort(all, total, sizeof(*all), cmp_sub);
    size_t n = 1;
    for (size_t i = 1; i < total; i++)
        n += cmp_sub(&all[i - 1], &all[i]) != 0;
    free(all);
    return n;
}

void
admin_pubsub_counts(const admin_server *s, size_t *channels,
                    size_t *patterns)
{
    *channels = distinct(s, false);
    *patterns = distinct(s, true);
}
