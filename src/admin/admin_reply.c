/*
 * admin_reply.c -- replies to a client: the public admin_reply_* calls,
 * the output limit, and deferred replies.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>

#include "admin/admin_internal.h"
#include "util/log.h"
#include "util/mem.h"

char *
admin_vfmt(char *stack, size_t cap, size_t *len, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(stack, cap, fmt, ap);
    char *out = stack;
    if (n < 0) {
        stack[0] = '\0';
        n = 0;
    } else if ((size_t)n >= cap) {
        out = xmalloc((size_t)n + 1);
        vsnprintf(out, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    *len = (size_t)n;
    return out;
}

struct evbuffer *
admin_reply_begin(admin_client *c)
{
    /* Once closing, the last reply has been queued (QUIT's +OK, a protocol
     * error): anything later would only be lost or misleading. */
    if (c == NULL || admin_client_closing(c))
        return NULL;
    return bufferevent_get_output(c->bev);
}

void
admin_reply_end(admin_client *c, struct evbuffer *out, size_t before)
{
    admin_server *s = c->srv;
    size_t now = evbuffer_get_length(out);
    s->st.total_net_output_bytes += now - before;
    /* Like Redis' client-output-buffer-limit: a client that does not read
     * (typically a subscriber) must not grow our memory without bound. */
    if (now > s->opt.max_output) {
        log_warning("Client id=%llu addr=%s name=%s closed for overcoming of "
                    "output buffer limits (%zu bytes queued).",
                    (unsigned long long)c->id, c->addr,
                    admin_client_name(c), now);
        s->st.output_limit_drops++;
        admin_client_close_asap(c);
    }
}

/* Every reply call is begin / encode / end; this keeps them one line. */
#define REPLY(c, encode)                                                      \
    do {                                                                      \
        struct evbuffer *b_ = admin_reply_begin(c);                           \
        if (b_) {                                                             \
            size_t before_ = evbuffer_get_length(b_);                         \
            encode;                                                           \
            admin_reply_end((c), b_, before_);                                \
        }                                                                     \
    } while (0)

void
admin_reply_status(admin_client *c, const char *s)
{
    REPLY(c, admin_resp_status(b_, s));
}

void
admin_reply_ok(admin_client *c)
{
    REPLY(c, admin_resp_status(b_, "OK"));
}

void
admin_reply_error(admin_client *c, const char *msg)
{
    REPLY(c, admin_resp_error(b_, msg));
}

void
admin_reply_errorf(admin_client *c, const char *fmt, ...)
{
    char stack[256];
    size_t len;
    va_list ap;
    va_start(ap, fmt);
    char *msg = admin_vfmt(stack, sizeof(stack), &len, fmt, ap);
    va_end(ap);
    admin_reply_error(c, msg);
    if (msg != stack)
        free(msg);
}

void
admin_reply_int(admin_client *c, long long v)
{
    REPLY(c, admin_resp_int(b_, v));
}

void
admin_reply_bulk(admin_client *c, const void *p, size_t n)
{
    REPLY(c, admin_resp_bulk(b_, p, n));
}

void
admin_reply_str(admin_client *c, const char *s)
{
    REPLY(c, admin_resp_str(b_, s));
}

void
admin_reply_strf(admin_client *c, const char *fmt, ...)
{
    char stack[256];
    size_t len;
    va_list ap;
    va_start(ap, fmt);
    char *s = admin_vfmt(stack, sizeof(stack), &len, fmt, ap);
    va_end(ap);
    admin_reply_bulk(c, s, len);
    if (s != stack)
        free(s);
}

void
admin_reply_null(admin_client *c)
{
    REPLY(c, admin_resp_null(b_));
}

void
admin_reply_null_array(admin_client *c)
{
    REPLY(c, admin_resp_null_array(b_));
}

void
admin_reply_array(admin_client *c, size_t n)
{
    REPLY(c, admin_resp_array(b_, n));
}

void
admin_reply_list(admin_client *c, admin_list *l)
{
    REPLY(c, (admin_resp_array(b_, l->n), evbuffer_add_buffer(b_, l->buf)));
    admin_list_release(l);
}

/* ---- deferred replies -------------------------------------------------- */

admin_deferred *
admin_defer(admin_client *c)
{
    if (c == NULL || c->pending != NULL)
        return NULL;
    admin_deferred *d = xcalloc(1, sizeof(*d));
    d->client = c;
    c->pending = d;
    return d;
}

admin_client *
admin_deferred_client(const admin_deferred *d)
{
    return d ? d->client : NULL;
}

void
admin_deferred_done(admin_deferred *d)
{
    if (d == NULL)
        return;
    admin_client *c = d->client;
    if (c) {
        c->pending = NULL;
        /* Resume the held-back commands from the loop, not from here: the
         * caller may be deep inside Raft's apply path. */
        admin_client_kick(c);
    }
    free(d);
}
