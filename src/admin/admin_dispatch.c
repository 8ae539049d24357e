/*
 * admin_dispatch.c -- the command registry and what happens between a
 * parsed command and its handler: lookup (name, then subcommand), arity,
 * AUTH, subscribe-mode restrictions.  Checks and error texts follow Redis
 * 7's processCommand, in its order.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admin/admin_internal.h"
#include "util/log.h"
#include "util/mem.h"

bool
admin_name_eq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

bool
admin_auth_required(const admin_client *c)
{
    return c->srv->has_pass && !c->authenticated;
}

static void
lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

void
admin_fullname(const admin_command *cmd, char *out, size_t cap)
{
    if (cmd->sub)
        snprintf(out, cap, "%s|%s", cmd->name, cmd->sub);
    else
        snprintf(out, cap, "%s", cmd->name);
    lower(out);
}

const admin_command *
admin_rows_of(const admin_server *s, const char *name, size_t *i)
{
    while (*i < s->ncmds) {
        const admin_command *cmd = s->cmds[(*i)++].cmd;
        if (admin_name_eq(cmd->name, name))
            return cmd;
    }
    return NULL;
}

/* ---- registration ------------------------------------------------------ */

static bool
same_row(const admin_command *a, const admin_command *b)
{
    if (!admin_name_eq(a->name, b->name))
        return false;
    if (a->sub == NULL || b->sub == NULL)
        return a->sub == b->sub;
    return admin_name_eq(a->sub, b->sub);
}

static const char *
row_problem(const admin_server *s, const admin_command *t, size_t i)
{
    const admin_command *r = &t[i];
    if (r->name == NULL || r->name[0] == '\0' || r->handler == NULL)
        return "missing name or handler";
    if (r->sub && r->sub[0] == '\0')
        return "empty subcommand";
    if (r->arity == 0 || (r->sub && r->arity > -2 && r->arity < 2))
        return "arity must count the name and subcommand";
    for (size_t j = 0; j < s->ncmds; j++)
        if (same_row(s->cmds[j].cmd, r))
            return "already registered";
    for (size_t j = 0; j < i; j++)
        if (same_row(&t[j], r))
            return "listed twice";
    return NULL;
}

int
admin_server_register(admin_server *s, const admin_command *table, size_t n,
                      void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        const char *why = row_problem(s, table, i);
        if (why) {
            log_warning("admin port: cannot register command %s%s%s: %s",
                        table[i].name ? table[i].name : "(null)",
                        table[i].sub ? " " : "",
                        table[i].sub ? table[i].sub : "", why);
            return -1;
        }
    }
    if (s->ncmds + n > s->cmds_cap) {
        s->cmds_cap = (s->ncmds + n) * 2;
        s->cmds = xreallocarray(s->cmds, s->cmds_cap, sizeof(*s->cmds));
    }
    for (size_t i = 0; i < n; i++)
        s->cmds[s->ncmds++] = (admin_cmd_entry){&table[i], ctx};
    return 0;
}

/* ---- lookup ------------------------------------------------------------ */

static void
reply_unknown_command(admin_client *c, const admin_args *a)
{
    /* Redis quotes at most ~128 bytes of arguments. */
    char args[160] = "";
    size_t n = 0;
    for (int i = 1; i < a->argc && n < 128; i++) {
        int w = snprintf(args + n, sizeof(args) - n, "'%.*s' ",
                         (int)(128 - n), a->argv[i]);
        if (w < 0)
            break;
        n += (size_t)w;
        if (n >= sizeof(args))
            n = sizeof(args) - 1;
    }
    admin_reply_errorf(c,
                       "unknown command '%.128s', with args beginning with: "
                       "%s", a->argv[0], args);
}

/* Argument i names `name`: case-insensitively, and binary-safely (strcasecmp
 * alone would let "PING\0junk" run PING). */
static bool
arg_names(const admin_args *a, int i, const char *name)
{
    return strlen(name) == a->len[i] && admin_name_eq(a->argv[i], name);
}

/* Finds the row for a; on failure replies the error and returns NULL.
 * help_row/help_entry are caller storage for a generated HELP row. */
static const admin_cmd_entry *
resolve(admin_client *c, const admin_args *a, admin_command *help_row,
        admin_cmd_entry *help_entry)
{
    const admin_server *s = c->srv;
    const admin_cmd_entry *base = NULL, *match = NULL;
    const admin_command *any_sub = NULL;
    for (size_t i = 0; i < s->ncmds; i++) {
        const admin_cmd_entry *e = &s->cmds[i];
        if (!arg_names(a, 0, e->cmd->name))
            continue;
        if (e->cmd->sub == NULL) {
            base = e;
        } else {
            any_sub = e->cmd;
            if (a->argc >= 2 && arg_names(a, 1, e->cmd->sub))
                match = e;
        }
    }
    if (base == NULL && any_sub == NULL) {
        reply_unknown_command(c, a);
        return NULL;
    }
    if (any_sub && a->argc >= 2) {
        if (match)
            return match;
        if (arg_names(a, 1, "HELP")) {
            *help_row = (admin_command){any_sub->name, "HELP", -2, 0,
                                        admin_cmd_auto_help,
                                        "-- Print this help."};
            *help_entry = (admin_cmd_entry){help_row, c->srv};
            return help_entry;
        }
        char upper[ADMIN_CMDNAME_MAX];
        snprintf(upper, sizeof(upper), "%s", any_sub->name);
        for (char *p = upper; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        admin_reply_errorf(c, "unknown subcommand '%.128s'. Try %s HELP.",
                           a->argv[1], upper);
        return NULL;
    }
    if (base)
        return base;
    /* A bare container name: Redis counts it as too few arguments. */
    char name[ADMIN_CMDNAME_MAX];
    snprintf(name, sizeof(name), "%s", any_sub->name);
    lower(name);
    admin_reply_errorf(c, "wrong number of arguments for '%s' command", name);
    return NULL;
}

static bool
arity_ok(int arity, int argc)
{
    return arity > 0 ? argc == arity : argc >= -arity;
}

void
admin_dispatch(admin_client *c, const admin_args *a)
{
    admin_server *s = c->srv;
    admin_command help_row;
    admin_cmd_entry help_entry;
    c->last_ms = admin_now_ms(s);
    const admin_cmd_entry *e = resolve(c, a, &help_row, &help_entry);
    if (e == NULL)
        return;
    const admin_command *cmd = e->cmd;
    char full[ADMIN_CMDNAME_MAX];
    admin_fullname(cmd, full, sizeof(full));
    snprintf(c->last_cmd, sizeof(c->last_cmd), "%s", full);
    if (!arity_ok(cmd->arity, a->argc)) {
        admin_reply_errorf(c, "wrong number of arguments for '%s' command",
                           full);
        return;
    }
    if (admin_auth_required(c) && !(cmd->flags & ADMIN_CMD_NOAUTH)) {
        admin_reply_error(c, "-NOAUTH Authentication required.");
        return;
    }
    /* RESP2 pushes share the reply stream, so a subscribed client may
     * only run commands whose replies cannot be confused with them. */
    if (admin_subscriptions(c) > 0 && !(cmd->flags & ADMIN_CMD_PUBSUB)) {
        admin_reply_errorf(c,
                           "Can't execute '%s': only (P)SUBSCRIBE / "
                           "(P)UNSUBSCRIBE / PING / QUIT are allowed in "
                           "this context", full);
        return;
    }
    s->st.total_commands++;
    cmd->handler(c, a, e->ctx);
}
