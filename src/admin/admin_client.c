/*
 * admin_client.c -- CLIENT ID / GETNAME / SETNAME / SETINFO / LIST / INFO:
 * what client libraries send while connecting and what operators use to
 * see who is connected.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "util/mem.h"

bool
admin_valid_name(const char *s, size_t len)
{
    /* Redis' rule: names show up space-separated in CLIENT LIST. */
    for (size_t i = 0; i < len; i++)
        if (s[i] < '!' || s[i] > '~')
            return false;
    return true;
}

static void
set_attr(char **slot, const char *s, size_t len)
{
    free(*slot);
    *slot = NULL;
    if (len > 0) {
        *slot = xmalloc(len + 1);
        memcpy(*slot, s, len + 1);
    }
}

void
admin_set_name(admin_client *c, const char *s, size_t len)
{
    set_attr(&c->name, s, len);
}

void
admin_cmd_client_id(admin_client *c, const admin_args *a, void *ctx)
{
    (void)a;
    (void)ctx;
    admin_reply_int(c, (long long)c->id);
}

void
admin_cmd_client_getname(admin_client *c, const admin_args *a, void *ctx)
{
    (void)a;
    (void)ctx;
    admin_reply_str(c, c->name);
}

void
admin_cmd_client_setname(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    if (!admin_valid_name(a->argv[2], a->len[2])) {
        admin_reply_error(c, "Client names cannot contain spaces, newlines "
                             "or special characters.");
        return;
    }
    admin_set_name(c, a->argv[2], a->len[2]);
    admin_reply_ok(c);
}

void
admin_cmd_client_setinfo(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    char **slot;
    if (admin_name_eq(a->argv[2], "lib-name")) {
        slot = &c->lib_name;
    } else if (admin_name_eq(a->argv[2], "lib-ver")) {
        slot = &c->lib_ver;
    } else {
        admin_reply_errorf(c, "Unrecognized option '%s'", a->argv[2]);
        return;
    }
    if (!admin_valid_name(a->argv[3], a->len[3])) {
        admin_reply_errorf(c, "%s cannot contain spaces, newlines or special "
                              "characters.", a->argv[2]);
        return;
    }
    set_attr(slot, a->argv[3], a->len[3]);
    admin_reply_ok(c);
}

/* ---- CLIENT LIST / INFO ------------------------------------------------ */

/* One CLIENT LIST line, with Redis' field names (a subset: no databases,
 * transactions or tracking here). */
static void
describe(struct evbuffer *out, const admin_client *x)
{
    char flags[8];
    size_t f = 0;
    if (admin_subscriptions(x) > 0)
        flags[f++] = 'P';
    if (x->pending)
        flags[f++] = 'b';
    if (x->flags & ADMIN_CF_CLOSE_AFTER_REPLY)
        flags[f++] = 'c';
    if (x->flags & ADMIN_CF_CLOSE_ASAP)
        flags[f++] = 'A';
    if (f == 0)
        flags[f++] = 'N';
    flags[f] = '\0';
    long long now = admin_now_ms(x->srv);
    size_t omem = admin_client_output_len(x);
    evbuffer_add_printf(
        out,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld "
        "flags=%s db=0 sub=%zu psub=%zu ssub=0 multi=-1 qbuf=%zu "
        "qbuf-free=%zu argv-mem=%zu multi-mem=0 obl=0 oll=0 omem=%zu "
        "tot-mem=%zu events=r%s cmd=%s user=default redir=-1 resp=2 "
        "lib-name=%s lib-ver=%s\n",
        (unsigned long long)x->id, x->addr, x->laddr, (int)x->fd,
        admin_client_name(x), (now - x->ctime_ms) / 1000,
        (now - x->last_ms) / 1000, flags, x->channels.n, x->patterns.n,
        x->qlen, x->qcap - x->qlen, x->parser.arg_bytes, omem,
        sizeof(*x) + x->qcap + x->parser.arg_bytes + omem,
        omem ? "w" : "", x->last_cmd, x->lib_name ? x->lib_name : "",
        x->lib_ver ? x->lib_ver : "");
}

static void
reply_evbuffer(admin_client *c, struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    admin_reply_bulk(c, n ? evbuffer_pullup(b, -1) : (unsigned char *)"",
                     n);
    evbuffer_free(b);
}

void
admin_cmd_client_info(admin_client *c, const admin_args *a, void *ctx)
{
    (void)a;
    (void)ctx;
    struct evbuffer *b = evbuffer_new();
    if (b == NULL)
        abort();
    describe(b, c);
    reply_evbuffer(c, b);
}

typedef struct list_filter {
    int type;               /* -1 any, 0 normal, 1 pubsub, 2 none match */
    char **ids;
    int nids;
} list_filter;

static bool
parse_filter(admin_client *c, const admin_args *a, list_filter *f)
{
    *f = (list_filter){-1, NULL, 0};
    for (int j = 2; j < a->argc;) {
        if (admin_name_eq(a->argv[j], "TYPE") && j + 1 < a->argc) {
            const char *t = a->argv[j + 1];
            if (admin_name_eq(t, "normal"))
                f->type = 0;
            else if (admin_name_eq(t, "pubsub"))
                f->type = 1;
            else if (admin_name_eq(t, "master") ||
                     admin_name_eq(t, "replica") || admin_name_eq(t, "slave"))
                f->type = 2;        /* we have no replication links */
            else {
                admin_reply_errorf(c, "Unknown client type '%s'", t);
                return false;
            }
            j += 2;
        } else if (admin_name_eq(a->argv[j], "ID") && j + 1 < a->argc) {
            for (int k = j + 1; k < a->argc; k++) {
                long long id;
                if (!admin_parse_ll(a->argv[k], a->len[k], &id) || id <= 0) {
                    admin_reply_error(c, "Invalid client ID");
                    return false;
                }
            }
            f->ids = &a->argv[j + 1];
            f->nids = a->argc - j - 1;
            j = a->argc;
        } else {
            admin_reply_error(c, "syntax error");
            return false;
        }
    }
    return true;
}

static bool
filter_match(const list_filter *f, const admin_client *x)
{
    if (f->type == 2)
        return false;
    if (f->type >= 0 && (admin_subscriptions(x) > 0) != (f->type == 1))
        return false;
    if (f->ids == NULL)
        return true;
    for (int i = 0; i < f->nids; i++)
        if (strtoull(f->ids[i], NULL, 10) == x->id)
            return true;
    return false;
}

void
admin_cmd_client_list(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    list_filter f;
    if (!parse_filter(c, a, &f))
        return;
    struct evbuffer *b = evbuffer_new();
    if (b == NULL)
        abort();
    /* The list is newest first; Redis lists oldest first. */
    const admin_client *x = c->srv->clients;
    while (x && x->next)
        x = x->next;
    for (; x; x = x->prev)
        if (filter_match(&f, x))
            describe(b, x);
    reply_evbuffer(c, b);
}
