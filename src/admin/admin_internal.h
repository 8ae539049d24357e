/*
 * admin_internal.h -- what the admin_*.c files share and nobody else sees:
 * the server and client structs and the functions between the files.
 *
 *   admin_server.c   listeners, accept, client life cycle, input
 *   admin_dispatch.c command registry, lookup, the checks before a handler
 *   admin_reply.c    client replies, output limit, deferred replies
 *   admin_cmds.c     the generic command table, PING, QUIT, AUTH, HELLO
 *   admin_client.c   CLIENT subcommands
 *   admin_command.c  COMMAND and the generated <NAME> HELP
 *   admin_pubsub.c   (P)(UN)SUBSCRIBE and admin_publish
 */
#ifndef ADMIN_INTERNAL_H
#define ADMIN_INTERNAL_H

#include <event2/util.h>
#include <stdarg.h>

#include "admin/admin.h"
#include "admin/admin_proto.h"

struct bufferevent;
struct evconnlistener;
struct event;

/* Redis 7's caps before AUTH (networking.c). */
#define ADMIN_UNAUTH_ARGS 10
#define ADMIN_UNAUTH_BULK 16384

#define ADMIN_ADDR_MAX 64   /* "[v6 address]:port" */
#define ADMIN_CMDNAME_MAX 64

/* A subscription: binary-safe channel name or pattern. */
typedef struct admin_sub {
    char *s;
    size_t len;
} admin_sub;

typedef struct admin_subs {
    admin_sub *v;
    size_t n, cap;
} admin_subs;

enum admin_client_flags {
    /* QUIT or a protocol error: write what is queued, then close. */
    ADMIN_CF_CLOSE_AFTER_REPLY = 1u << 0,
    /* Output limit, I/O error: close on the next loop turn, drop output. */
    ADMIN_CF_CLOSE_ASAP = 1u << 1,
};

struct admin_client {
    admin_server *srv;
    admin_client *prev, *next;      /* srv->clients */
    uint64_t id;
    struct bufferevent *bev;
    /* Runs work that must not happen inside the caller's stack: freeing
     * the client, resuming input after a deferred reply. */
    struct event *async_ev;
    evutil_socket_t fd;
    unsigned flags;
    bool authenticated;
    char addr[ADMIN_ADDR_MAX];
    char laddr[ADMIN_ADDR_MAX];
    char *name, *lib_name, *lib_ver;  /* NULL when unset */
    admin_deferred *pending;        /* blocks input while set */
    admin_subs channels, patterns;
    char *qbuf;                     /* unparsed input */
    size_t qlen, qcap;
    admin_parser parser;
    long long ctime_ms, last_ms;    /* created; last command */
    char last_cmd[ADMIN_CMDNAME_MAX];  /* "client|list", for CLIENT LIST */
};

struct admin_deferred {
    admin_client *client;           /* NULL once it disconnected */
};

typedef struct admin_cmd_entry {
    const admin_command *cmd;
    void *ctx;
} admin_cmd_entry;

struct admin_server {
    struct event_base *base;
    admin_options opt;              /* limits; pointers not kept */
    char *version;
    bool has_pass;
    unsigned char pass_hash[32];    /* SHA-256: the password is not kept */
    struct evconnlistener *listeners[ADMIN_MAX_BIND];
    size_t nlisteners;
    struct event *relisten_ev;      /* re-enables accept after an error */
    admin_client *clients;
    size_t nclients;
    uint64_t next_id;
    admin_cmd_entry *cmds;
    size_t ncmds, cmds_cap;
    admin_stats st;                 /* counters; gauges computed on demand */
};

/* admin_server.c */
long long admin_now_ms(const admin_server *s);
bool admin_client_closing(const admin_client *c);
void admin_client_close_asap(admin_client *c);
void admin_client_kick(admin_client *c);      /* schedules async_ev */
size_t admin_client_output_len(const admin_client *c);

/* admin_dispatch.c */
void admin_dispatch(admin_client *c, const admin_args *a);
bool admin_auth_required(const admin_client *c);
bool admin_name_eq(const char *a, const char *b);
/* "name" or "name|sub", lower case, for errors and CLIENT LIST. */
void admin_fullname(const admin_command *cmd, char *out, size_t cap);
/* Rows of name (case-insensitive) in registration order; returns the row
 * after *i and advances it, NULL at the end. */
const admin_command *admin_rows_of(const admin_server *s, const char *name,
                                   size_t *i);

/* admin_cmds.c */
extern const admin_command admin_generic_cmds[];
extern const size_t admin_generic_ncmds;
/* A whole argument as a decimal integer (strtoll rules, nothing else). */
bool admin_parse_ll(const char *s, size_t len, long long *out);
bool admin_check_password(const admin_server *s, const char *pass,
                          size_t len);
void admin_hash_password(const char *pass, unsigned char out[32]);

/* admin_client.c: CLIENT handlers */
void admin_cmd_client_id(admin_client *c, const admin_args *a, void *ctx);
void admin_cmd_client_getname(admin_client *c, const admin_args *a,
                              void *ctx);
void admin_cmd_client_setname(admin_client *c, const admin_args *a,
                              void *ctx);
void admin_cmd_client_setinfo(admin_client *c, const admin_args *a,
                              void *ctx);
void admin_cmd_client_list(admin_client *c, const admin_args *a, void *ctx);
void admin_cmd_client_info(admin_client *c, const admin_args *a, void *ctx);
/* Client names: printable ASCII without blanks (Redis' rule). */
bool admin_valid_name(const char *s, size_t len);
/* Sets or (empty) clears c->name; the caller validated it. */
void admin_set_name(admin_client *c, const char *s, size_t len);

/* admin_command.c */
void admin_cmd_command(admin_client *c, const admin_args *a, void *ctx);
void admin_cmd_command_count(admin_client *c, const admin_args *a,
                             void *ctx);
void admin_cmd_command_list(admin_client *c, const admin_args *a, void *ctx);
void admin_cmd_command_info(admin_client *c, const admin_args *a, void *ctx);
void admin_cmd_command_docs(admin_client *c, const admin_args *a, void *ctx);
/* Generated "<NAME> HELP" for containers without a HELP row. */
void admin_cmd_auto_help(admin_client *c, const admin_args *a, void *ctx);

/* admin_pubsub.c */
void admin_cmd_subscribe(admin_client *c, const admin_args *a, void *ctx);
void admin_cmd_psubscribe(admin_client *c, const admin_args *a, void *ctx);
void admin_cmd_unsubscribe(admin_client *c, const admin_args *a, void *ctx);
void admin_cmd_punsubscribe(admin_client *c, const admin_args *a,
                            void *ctx);
size_t admin_subscriptions(const admin_client *c);
void admin_subs_free(admin_subs *subs);
void admin_pubsub_counts(const admin_server *s, size_t *channels,
                         size_t *patterns);

/* admin_reply.c */
/* Formats into stack (cap bytes) or, when longer, a malloc'ed buffer that
 * the caller frees if the result != stack. */
char *admin_vfmt(char *stack, size_t cap, size_t *len, const char *fmt,
                 va_list ap) __attribute__((format(printf, 4, 0)));
/* The client's output buffer, or NULL when replies must be dropped. */
struct evbuffer *admin_reply_begin(admin_client *c);
/* Accounts what begin..end appended and enforces max_output. */
void admin_reply_end(admin_client *c, struct evbuffer *out, size_t before);

#endif
