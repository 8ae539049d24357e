/*
 * admin.h -- the admin port: a Redis-protocol (RESP2) server on libevent
 * that users, redis-cli and Sentinel-aware client libraries talk to.
 *
 * This layer owns the protocol (parsing with limits, replies), connections,
 * AUTH, pub/sub and the generic commands (PING, QUIT, HELLO, CLIENT,
 * COMMAND, (P)(UN)SUBSCRIBE).  Everything that needs the replicated state
 * (SENTINEL, RAFT, INFO, ROLE ...) is added on top with
 * admin_server_register() and the admin_reply_* functions below.
 *
 * Writing a command
 * -----------------
 *     static void cmd_masters(admin_client *c, const admin_args *a, void *ctx)
 *     {
 *         app *me = ctx;
 *         admin_reply_array(c, me->nmasters);
 *         for (...) {
 *             admin_list kv;
 *             admin_list_init(&kv);
 *             admin_list_kv(&kv, "name", m->name);
 *             admin_list_kvf(&kv, "port", "%d", m->port);
 *             admin_reply_list(c, &kv);
 *         }
 *     }
 *     static const admin_command sentinel_cmds[] = {
 *         {"SENTINEL", "MASTERS", 2, 0, cmd_masters, "-- List the monitored masters."},
 *         {"SENTINEL", "SET", -5, ADMIN_CMD_WRITE, cmd_set, "<name> <option> <value> [...] -- Change settings."},
 *     };
 *     admin_server_register(srv, sentinel_cmds, 2, me);
 *
 * A handler must produce exactly one reply (possibly an array) per call,
 * either before it returns or later through a deferred handle:
 *
 *     admin_deferred *d = admin_defer(c);         -- in the handler
 *     ... propose to Raft, remember d ...
 *     admin_reply_ok(admin_deferred_client(d));   -- after commit; a no-op
 *     admin_deferred_done(d);                     --   when c disconnected
 *
 * While a reply is deferred the client's later (pipelined) commands wait,
 * so replies always come back in request order.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;

typedef struct admin_server admin_server;
typedef struct admin_client admin_client;
typedef struct admin_deferred admin_deferred;

/* ---- options ----------------------------------------------------------- */

#define ADMIN_MAX_BIND 16

typedef struct admin_options {
    const char *bind[ADMIN_MAX_BIND]; /* numeric IPv4/IPv6 addresses */
    size_t nbind;                     /* 0: 127.0.0.1 */
    int port;                         /* 0: ephemeral, see admin_server_port */
    const char *requirepass;          /* NULL or "": no AUTH needed; copied */
    const char *version;              /* HELLO's "version"; copied */
    size_t max_clients;   /* more connections get -ERR and are closed */
    size_t max_args;      /* arguments per command */
    size_t max_bulk;      /* bytes per argument */
    size_t max_inline;    /* bytes per inline command or header line */
    size_t max_query;     /* unprocessed input + arguments being built */
    size_t max_output;    /* queued output; a client over it is dropped */
} admin_options;

/* Fills the defaults (documented in docs/admin.md).  Zero limits passed to
 * admin_server_new also mean "default". */
void admin_options_init(admin_options *o);

/* ---- server ------------------------------------------------------------ */

/* Listens on every bind address; NULL (after logging why) when one of them
 * cannot be bound or an option is invalid.  The generic commands are
 * registered already.  The process must ignore SIGPIPE (main.c does):
 * libevent writes to sockets with plain writev. */
admin_server *admin_server_new(struct event_base *base,
                               const admin_options *opt);

/* Closes every client (pending output is dropped, deferred handles see
 * their client gone) and the listeners.  Not from inside a handler. */
void admin_server_free(admin_server *s);

/* Changes requirepass at runtime (NULL or "": none).  Clients already
 * authenticated stay authenticated, as in Redis. */
void admin_server_set_password(admin_server *s, const char *password);

/* Port of the first listener (useful with port 0), or -1. */
int admin_server_port(const admin_server *s);

/* ---- commands ---------------------------------------------------------- */

typedef struct admin_args {
    int argc;
    char **argv;          /* each NUL-terminated; may contain NUL bytes */
    const size_t *len;    /* byte length of each argv[i] */
} admin_args;

/* argv (including the command and subcommand names) is valid during the
 * call only; ctx is the pointer given to admin_server_register. */
typedef void admin_handler(admin_client *c, const admin_args *a, void *ctx);

enum admin_command_flags {
    /* Runs for clients that have not authenticated (AUTH, HELLO, QUIT).
     * Everything else needs AUTH once requirepass is set: safe default. */
    ADMIN_CMD_NOAUTH = 1u << 0,
    /* Allowed while the client is in subscribe mode. */
    ADMIN_CMD_PUBSUB = 1u << 1,
    /* Changes replicated state (reported as "write" by COMMAND). */
    ADMIN_CMD_WRITE = 1u << 2,
};

/* One row of a command table.  A name with rows that have a subcommand is
 * a container: "CLIENT SETNAME" finds the row {"CLIENT", "SETNAME"}, an
 * unknown subcommand gets Redis's "unknown subcommand" error, and
 * "<NAME> HELP" is answered from the help texts unless a HELP row exists.
 * A row with sub == NULL next to subcommand rows handles the bare name
 * (like COMMAND).  Names and subcommands match case-insensitively. */
typedef struct admin_command {
    const char *name;       /* "CLIENT" */
    const char *sub;        /* "SETNAME" or NULL */
    int arity;              /* Redis rule, counting name and sub: n > 0
                               exactly n arguments, n < 0 at least -n */
    unsigned flags;         /* admin_command_flags */
    admin_handler *handler;
    /* "<synopsis> -- <summary>", e.g. "<name> -- Set the connection name."
     * Shown by <NAME> HELP and COMMAND DOCS. */
    const char *help;
} admin_command;

/* Adds n rows; the table must outlive the server (it is not copied).
 * Returns 0, or -1 (logged, nothing added) for a duplicate or invalid row. */
int admin_server_register(admin_server *s, const admin_command *table,
                          size_t n, void *ctx);

/* ---- clients ----------------------------------------------------------- *
 * An admin_client pointer is valid during the handler call only; to reply
 * later, hold an admin_deferred (below). */

uint64_t admin_client_id(const admin_client *c);
const char *admin_client_name(const admin_client *c);   /* "" when unset */
const char *admin_client_addr(const admin_client *c);   /* "ip:port" */
admin_server *admin_client_server(const admin_client *c);

/* Closes the connection once the replies queued so far are written. */
void admin_client_close(admin_client *c);

/* ---- replies ----------------------------------------------------------- *
 * All of these append to the client's output.  They do nothing when c is
 * NULL or the connection is closing, which is what makes
 * admin_reply_x(admin_deferred_client(d), ...) safe.  A client whose output
 * grows past max_output is disconnected (checked after each call). */

void admin_reply_status(admin_client *c, const char *s);      /* +s */
void admin_reply_ok(admin_client *c);                          /* +OK */
/* "-ERR msg", or msg verbatim after its '-' when it starts with one
 * ("-NOAUTH ..."); CR and LF become spaces. */
void admin_reply_error(admin_client *c, const char *msg);
void admin_reply_errorf(admin_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void admin_reply_int(admin_client *c, long long v);
void admin_reply_bulk(admin_client *c, const void *p, size_t n);
void admin_reply_str(admin_client *c, const char *s);  /* NULL: null bulk */
void admin_reply_strf(admin_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void admin_reply_null(admin_client *c);                /* $-1 */
void admin_reply_null_array(admin_client *c);          /* *-1 */
/* Array header: exactly n replies must follow. */
void admin_reply_array(admin_client *c, size_t n);

/* A list of bulk strings built before its length is known; Sentinel
 * replies are flat key/value arrays with every number as a string. */
typedef struct admin_list {
    struct evbuffer *buf;
    size_t n;
} admin_list;

void admin_list_init(admin_list *l);
void admin_list_str(admin_list *l, const char *s);     /* NULL: null bulk */
void admin_list_strf(admin_list *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void admin_list_ll(admin_list *l, long long v);         /* as a string */
void admin_list_int(admin_list *l, long long v);        /* as :integer */
void admin_list_kv(admin_list *l, const char *key, const char *value);
void admin_list_kvf(admin_list *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends child as one nested array element and releases child. */
void admin_list_list(admin_list *l, admin_list *child);
/* Writes l as an array reply and releases it. */
void admin_reply_list(admin_client *c, admin_list *l);
void admin_list_release(admin_list *l);

/* ---- deferred replies -------------------------------------------------- */

/* Called by a handler that will reply later.  Until admin_deferred_done,
 * the client's further commands are held back (replies stay in order).
 * NULL when c is NULL or already has a deferred reply pending. */
admin_deferred *admin_defer(admin_client *c);

/* The client to reply to, or NULL once it disconnected (or the server was
 * freed).  Valid until admin_deferred_done. */
admin_client *admin_deferred_client(const admin_deferred *d);

/* Frees d and lets the client's pipelined commands run (on the next loop
 * turn, never from inside this call).  Call exactly once per handle,
 * whether or not the client is still there. */
void admin_deferred_done(admin_deferred *d);

/* ---- pub/sub ----------------------------------------------------------- */

/* Delivers message to the subscribers of channel and of every matching
 * pattern (Redis glob rules); returns how many deliveries were made. */
size_t admin_publish(admin_server *s, const char *channel,
                     const char *message);

/* ---- stats (for INFO) -------------------------------------------------- */

typedef struct admin_stats {
    size_t connected_clients;
    size_t max_clients;
    size_t blocked_clients;        /* waiting for a deferred reply */
    size_t pubsub_clients;         /* in subscribe mode */
    size_t pubsub_channels;        /* distinct channels with subscribers */
    size_t pubsub_patterns;        /* distinct patterns with subscribers */
    uint64_t total_connections;    /* accepted since start */
    uint64_t rejected_connections; /* refused at max_clients */
    uint64_t total_commands;       /* handlers run */
    uint64_t total_net_input_bytes;
    uint64_t total_net_output_bytes; /* queued for sending */
    uint64_t protocol_errors;      /* clients dropped for a protocol error */
    uint64_t output_limit_drops;   /* clients dropped at max_output */
} admin_stats;

void admin_server_stats(const admin_server *s, admin_stats *out);

#endif
