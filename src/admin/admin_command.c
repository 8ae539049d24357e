/*
 * admin_command.c -- COMMAND [COUNT|LIST|INFO|DOCS] and the generated
 * "<NAME> HELP", all derived from the registered tables so that they can
 * never disagree with what is actually dispatched.
 *
 * Shapes follow Redis 7: COMMAND INFO entries are
 *   [name, arity, [flags], 0, 0, 0, [acl], [tips], [key specs], [subcmds]]
 * and COMMAND DOCS is a flat map name -> [summary, .., since, .., group,
 * .., (subcommands, {..})], which redis-cli 7 turns into its help.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin_internal.h"

static void
list_status(admin_list *l, const char *s)
{
    admin_resp_status(l->buf, s);
    l->n++;
}

/* Splits "<synopsis> -- <summary>" (either part optional). */
static void
split_help(const char *help, size_t *synlen, const char **summary)
{
    if (help == NULL) {
        *synlen = 0;
        *summary = "";
        return;
    }
    if (strncmp(help, "-- ", 3) == 0) {
        *synlen = 0;
        *summary = help + 3;
        return;
    }
    const char *sep = strstr(help, " -- ");
    *synlen = sep ? (size_t)(sep - help) : strlen(help);
    *summary = sep ? sep + 4 : "";
}

/* True when entry i is the first row with its name: iterating those gives
 * each command once, in registration order. */
static bool
first_of_name(const admin_server *s, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (admin_name_eq(s->cmds[j].cmd->name, s->cmds[i].cmd->name))
            return false;
    return true;
}

/* The row describing the bare name: its sub == NULL row, or NULL for a
 * pure container; *has_subs tells whether subcommand rows exist. */
static const admin_command *
base_row(const admin_server *s, const char *name, bool *has_subs)
{
    const admin_command *base = NULL, *r;
    size_t i = 0;
    *has_subs = false;
    while ((r = admin_rows_of(s, name, &i)) != NULL) {
        if (r->sub)
            *has_subs = true;
        else
            base = r;
    }
    return base;
}

/* Fills e (initialized by the caller) with the COMMAND INFO entry of row,
 * or of the container name when row is NULL. */
static void
info_entry(admin_list *e, const admin_server *s, const admin_command *row,
           const char *name)
{
    char full[ADMIN_CMDNAME_MAX];
    admin_fullname(row ? row : &(admin_command){.name = name}, full,
                   sizeof(full));
    admin_list_str(e, full);
    admin_list_int(e, row ? row->arity : -2);
    admin_list flags, empty, subs;
    admin_list_init(&flags);
    if (row && (row->flags & ADMIN_CMD_NOAUTH))
        list_status(&flags, "no_auth");
    if (row && (row->flags & ADMIN_CMD_WRITE))
        list_status(&flags, "write");
    admin_list_list(e, &flags);
    for (int k = 0; k < 3; k++)
        admin_list_int(e, 0);           /* no keys: first, last, step */
    for (int k = 0; k < 3; k++) {       /* acl categories, tips, key specs */
        admin_list_init(&empty);
        admin_list_list(e, &empty);
    }
    admin_list_init(&subs);
    if (row == NULL || row->sub == NULL) {
        const admin_command *r;
        size_t i = 0;
        while ((r = admin_rows_of(s, name, &i)) != NULL) {
            if (r->sub == NULL)
                continue;
            admin_list sub;
            admin_list_init(&sub);
            info_entry(&sub, s, r, name);
            admin_list_list(&subs, &sub);
        }
    }
    admin_list_list(e, &subs);
}

/* Appends the entry of name to out; false when name is unknown. */
static bool
add_info(admin_list *out, const admin_server *s, const char *name)
{
    bool has_subs;
    const admin_command *base = base_row(s, name, &has_subs);
    if (base == NULL && !has_subs)
        return false;
    admin_list e;
    admin_list_init(&e);
    info_entry(&e, s, base, name);
    admin_list_list(out, &e);
    return true;
}

void
admin_cmd_command(admin_client *c, const admin_args *a, void *ctx)
{
    (void)a;
    const admin_server *s = ctx;
    admin_list out;
    admin_list_init(&out);
    for (size_t i = 0; i < s->ncmds; i++)
        if (first_of_name(s, i))
            add_info(&out, s, s->cmds[i].cmd->name);
    admin_reply_list(c, &out);
}

void
admin_cmd_command_count(admin_client *c, const admin_args *a, void *ctx)
{
    (void)a;
    const admin_server *s = ctx;
    long long n = 0;
    for (size_t i = 0; i < s->ncmds; i++)
        n += first_of_name(s, i);
    admin_reply_int(c, n);
}

void
admin_cmd_command_list(admin_client *c, const admin_args *a, void *ctx)
{
    (void)a;
    const admin_server *s = ctx;
    admin_list out;
    admin_list_init(&out);
    for (size_t i = 0; i < s->ncmds; i++) {
        if (!first_of_name(s, i))
            continue;
        char name[ADMIN_CMDNAME_MAX];
        admin_fullname(&(admin_command){.name = s->cmds[i].cmd->name}, name,
                       sizeof(name));
        admin_list_str(&out, name);
    }
    admin_reply_list(c, &out);
}

void
admin_cmd_command_info(admin_client *c, const admin_args *a, void *ctx)
{
    const admin_server *s = ctx;
    if (a->argc == 2) {
        admin_cmd_command(c, a, ctx);
        return;
    }
    admin_list out;
    admin_list_init(&out);
    for (int j = 2; j < a->argc; j++)
        if (!add_info(&out, s, a->argv[j]))
            admin_list_str(&out, NULL);     /* unknown: nil, as Redis */
    admin_reply_list(c, &out);
}

/* ---- COMMAND DOCS ------------------------------------------------------ */

static void
docs_entry(admin_list *d, const admin_server *s, const admin_command *row,
           const char *name)
{
    size_t synlen;
    const char *summary;
    split_help(row ? row->help : NULL, &synlen, &summary);
    if (row == NULL)
        admin_list_kvf(d, "summary", "A container for %s commands.", name);
    else
        admin_list_kv(d, "summary", summary);
    admin_list_kv(d, "since", s->version);
    admin_list_kv(d, "group", "sentinel");
    if (row && row->sub)
        return;
    admin_list subs;
    admin_list_init(&subs);
    const admin_command *r;
    size_t i = 0;
    while ((r = admin_rows_of(s, name, &i)) != NULL) {
        if (r->sub == NULL)
            continue;
        char full[ADMIN_CMDNAME_MAX];
        admin_fullname(r, full, sizeof(full));
        admin_list_str(&subs, full);
        admin_list sub;
        admin_list_init(&sub);
        docs_entry(&sub, s, r, name);
        admin_list_list(&subs, &sub);
    }
    if (subs.n == 0) {
        admin_list_release(&subs);
        return;
    }
    admin_list_str(d, "subcommands");
    admin_list_list(d, &subs);
}

static bool
add_docs(admin_list *out, const admin_server *s, const char *name)
{
    bool has_subs;
    const admin_command *base = base_row(s, name, &has_subs);
    if (base == NULL && !has_subs)
        return false;
    char lname[ADMIN_CMDNAME_MAX];
    admin_fullname(&(admin_command){.name = name}, lname, sizeof(lname));
    admin_list_str(out, lname);
    admin_list d;
    admin_list_init(&d);
    docs_entry(&d, s, base, name);
    admin_list_list(out, &d);
    return true;
}

void
admin_cmd_command_docs(admin_client *c, const admin_args *a, void *ctx)
{
    const admin_server *s = ctx;
    admin_list out;
    admin_list_init(&out);
    if (a->argc == 2) {
        for (size_t i = 0; i < s->ncmds; i++)
            if (first_of_name(s, i))
                add_docs(&out, s, s->cmds[i].cmd->name);
    } else {
        for (int j = 2; j < a->argc; j++)
            add_docs(&out, s, a->argv[j]);  /* unknown names are skipped */
    }
    admin_reply_list(c, &out);
}

/* ---- <NAME> HELP ------------------------------------------------------- */

void
admin_cmd_auto_help(admin_client *c, const admin_args *a, void *ctx)
{
    const admin_server *s = ctx;
    char upper[ADMIN_CMDNAME_MAX];
    size_t k = 0;
    for (; a->argv[0][k] && k + 1 < sizeof(upper); k++)
        upper[k] = (char)toupper((unsigned char)a->argv[0][k]);
    upper[k] = '\0';
    admin_list out;
    admin_list_init(&out);
    char line[512];
    snprintf(line, sizeof(line),
             "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
             upper);
    list_status(&out, line);
    const admin_command *r;
    size_t i = 0;
    while ((r = admin_rows_of(s, a->argv[0], &i)) != NULL) {
        size_t synlen;
        const char *summary;
        split_help(r->help, &synlen, &summary);
        snprintf(line, sizeof(line), "%s%s%.*s",
                 r->sub ? r->sub : "(no subcommand)", synlen ? " " : "",
                 (int)synlen, r->help ? r->help : "");
        list_status(&out, line);
        snprintf(line, sizeof(line), "    %s", summary);
        list_status(&out, line);
    }
    list_status(&out, "HELP");
    list_status(&out, "    Print this help.");
    admin_reply_list(c, &out);
}
