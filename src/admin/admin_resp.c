/*
 * admin_resp.c -- RESP2 encoding into evbuffers, and admin_list, the
 * builder for arrays whose length is known only at the end (Sentinel's
 * flat key/value replies).
 */
#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "util/log.h"

/* A line-based reply must not contain CR/LF: one would end it early and
 * let the rest be read as another reply.  Redis maps them to spaces. */
static void
add_line(struct evbuffer *b, const char *s)
{
    for (;;) {
        size_t n = strcspn(s, "\r\n");
        evbuffer_add(b, s, n);
        if (s[n] == '\0')
            break;
        evbuffer_add(b, " ", 1);
        s += n + 1;
    }
    evbuffer_add(b, "\r\n", 2);
}

void
admin_resp_status(struct evbuffer *b, const char *s)
{
    evbuffer_add(b, "+", 1);
    add_line(b, s);
}

void
admin_resp_error(struct evbuffer *b, const char *msg)
{
    if (msg[0] == '-') {
        add_line(b, msg);
        return;
    }
    evbuffer_add(b, "-ERR ", 5);
    add_line(b, msg);
}

void
admin_resp_int(struct evbuffer *b, long long v)
{
    evbuffer_add_printf(b, ":%lld\r\n", v);
}

void
admin_resp_bulk(struct evbuffer *b, const void *p, size_t n)
{
    evbuffer_add_printf(b, "$%zu\r\n", n);
    evbuffer_add(b, p, n);
    evbuffer_add(b, "\r\n", 2);
}

void
admin_resp_str(struct evbuffer *b, const char *s)
{
    if (s == NULL)
        admin_resp_null(b);
    else
        admin_resp_bulk(b, s, strlen(s));
}

void
admin_resp_null(struct evbuffer *b)
{
    evbuffer_add(b, "$-1\r\n", 5);
}

void
admin_resp_null_array(struct evbuffer *b)
{
    evbuffer_add(b, "*-1\r\n", 5);
}

void
admin_resp_array(struct evbuffer *b, size_t n)
{
    evbuffer_add_printf(b, "*%zu\r\n", n);
}

/* ---- admin_list -------------------------------------------------------- */

void
admin_list_init(admin_list *l)
{
    l->n = 0;
    l->buf = evbuffer_new();
    if (l->buf == NULL) {
        /* Same policy as util/mem.c: no half-built replies. */
        log_warning("out of memory building a reply, aborting");
        abort();
    }
}

void
admin_list_release(admin_list *l)
{
    if (l->buf)
        evbuffer_free(l->buf);
    l->buf = NULL;
    l->n = 0;
}

void
admin_list_str(admin_list *l, const char *s)
{
    admin_resp_str(l->buf, s);
    l->n++;
}

static void admin_list_vstrf(admin_list *l, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
admin_list_vstrf(admin_list *l, const char *fmt, va_list ap)
{
    char stack[256];
    size_t len;
    char *s = admin_vfmt(stack, sizeof(stack), &len, fmt, ap);
    admin_resp_bulk(l->buf, s, len);
    if (s != stack)
        free(s);
    l->n++;
}

void
admin_list_strf(admin_list *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    admin_list_vstrf(l, fmt, ap);
    va_end(ap);
}

void
admin_list_ll(admin_list *l, long long v)
{
    admin_list_strf(l, "%lld", v);
}

void
admin_list_int(admin_list *l, long long v)
{
    admin_resp_int(l->buf, v);
    l->n++;
}

void
admin_list_kv(admin_list *l, const char *key, const char *value)
{
    admin_list_str(l, key);
    admin_list_str(l, value);
}

void
admin_list_kvf(admin_list *l, const char *key, const char *fmt, ...)
{
    admin_list_str(l, key);
    va_list ap;
    va_start(ap, fmt);
    admin_list_vstrf(l, fmt, ap);
    va_end(ap);
}

void
admin_list_list(admin_list *l, admin_list *child)
{
    admin_resp_array(l->buf, child->n);
    evbuffer_add_buffer(l->buf, child->buf);
    l->n++;
    admin_list_release(child);
}
