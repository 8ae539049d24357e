/*
 * admin_cmds.c -- the generic command table (every command this layer
 * implements is one row here) and PING, QUIT, AUTH, HELLO.
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "util/log.h"

static admin_handler cmd_ping, cmd_quit, cmd_auth, cmd_hello;

const admin_command admin_generic_cmds[] = {
    {"PING", NULL, -1, ADMIN_CMD_PUBSUB, cmd_ping,
     "[message] -- Ping the server."},
    {"QUIT", NULL, -1, ADMIN_CMD_NOAUTH | ADMIN_CMD_PUBSUB, cmd_quit,
     "-- Close the connection."},
    {"AUTH", NULL, -2, ADMIN_CMD_NOAUTH, cmd_auth,
     "[username] password -- Authenticate the connection."},
    {"HELLO", NULL, -1, ADMIN_CMD_NOAUTH, cmd_hello,
     "[protover [AUTH username password] [SETNAME clientname]] -- "
     "Handshake: authenticate, name the connection, show server facts."},
    {"CLIENT", "ID", 2, 0, admin_cmd_client_id,
     "-- Return the ID of the current connection."},
    {"CLIENT", "GETNAME", 2, 0, admin_cmd_client_getname,
     "-- Return the name of the current connection."},
    {"CLIENT", "SETNAME", 3, 0, admin_cmd_client_setname,
     "<name> -- Assign the name <name> to the current connection."},
    {"CLIENT", "SETINFO", 4, 0, admin_cmd_client_setinfo,
     "<LIB-NAME|LIB-VER> <value> -- Record the client library in use."},
    {"CLIENT", "LIST", -2, 0, admin_cmd_client_list,
     "[TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID id ...] -- Return "
     "information about client connections."},
    {"CLIENT", "INFO", 2, 0, admin_cmd_client_info,
     "-- Return information about the current client connection."},
    {"COMMAND", NULL, -1, 0, admin_cmd_command,
     "-- Return details about all commands."},
    {"COMMAND", "COUNT", 2, 0, admin_cmd_command_count,
     "-- Return the number of commands."},
    {"COMMAND", "LIST", 2, 0, admin_cmd_command_list,
     "-- Return the names of all commands."},
    {"COMMAND", "INFO", -2, 0, admin_cmd_command_info,
     "[command-name ...] -- Return details about the given commands."},
    {"COMMAND", "DOCS", -2, 0, admin_cmd_command_docs,
     "[command-name ...] -- Return documentary information about "
     "commands."},
    {"SUBSCRIBE", NULL, -2, ADMIN_CMD_PUBSUB, admin_cmd_subscribe,
     "channel [channel ...] -- Listen for messages published to channels."},
    {"PSUBSCRIBE", NULL, -2, ADMIN_CMD_PUBSUB, admin_cmd_psubscribe,
     "pattern [pattern ...] -- Listen for messages published to channels "
     "matching the patterns."},
    {"UNSUBSCRIBE", NULL, -1, ADMIN_CMD_PUBSUB, admin_cmd_unsubscribe,
     "[channel ...] -- Stop listening to channels (all without arguments)."},
    {"PUNSUBSCRIBE", NULL, -1, ADMIN_CMD_PUBSUB, admin_cmd_punsubscribe,
     "[pattern ...] -- Stop listening to patterns (all without "
     "arguments)."},
};
const size_t admin_generic_ncmds =
    sizeof(admin_generic_cmds) / sizeof(admin_generic_cmds[0]);

bool
admin_parse_ll(const char *s, size_t len, long long *out)
{
    if (len == 0 || isspace((unsigned char)s[0]))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end != s + len)
        return false;
    *out = v;
    return true;
}

/* ---- passwords --------------------------------------------------------- */

void
admin_hash_password(const char *pass, unsigned char out[32])
{
    SHA256((const unsigned char *)pass, strlen(pass), out);
}

bool
admin_check_password(const admin_server *s, const char *pass, size_t len)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)pass, len, h);
    /* Digests have one size, so the constant-time compare hides the
     * password's length as well as its bytes. */
    return CRYPTO_memcmp(h, s->pass_hash, sizeof(h)) == 0;
}

/* ACL-less Redis: the only user is "default"; with no requirepass it is
 * "nopass" and any password works, as in Redis. */
static bool
try_auth(admin_client *c, const char *user, const char *pass, size_t len)
{
    bool ok;
    if (user && strcmp(user, "default") != 0)
        ok = false;
    else if (!c->srv->has_pass)
        ok = true;
    else
        ok = admin_check_password(c->srv, pass, len);
    if (ok)
        c->authenticated = true;
    else
        log_verbose("AUTH failed for client id=%llu addr=%s",
                    (unsigned long long)c->id, c->addr);
    return ok;
}

static const char wrongpass[] =
    "-WRONGPASS invalid username-password pair or user is disabled.";

static void
cmd_auth(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    if (a->argc > 3) {
        admin_reply_error(c, "syntax error");
        return;
    }
    if (a->argc == 2 && !c->srv->has_pass) {
        admin_reply_error(c, "AUTH <password> called without any password "
                             "configured for the default user. Are you sure "
                             "your configuration is correct?");
        return;
    }
    const char *user = a->argc == 3 ? a->argv[1] : NULL;
    int p = a->argc - 1;
    if (try_auth(c, user, a->argv[p], a->len[p]))
        admin_reply_ok(c);
    else
        admin_reply_error(c, wrongpass);
}

/* ---- HELLO ------------------------------------------------------------- */

static void
reply_hello(admin_client *c)
{
    admin_reply_array(c, 12);
    admin_reply_str(c, "server");
    admin_reply_str(c, "redis");
    admin_reply_str(c, "version");
    admin_reply_str(c, c->srv->version);
    admin_reply_str(c, "proto");
    admin_reply_int(c, 2);
    admin_reply_str(c, "id");
    admin_reply_int(c, (long long)c->id);
    /* Redis Sentinel reports no "role" here (helloCommand skips it in
     * sentinel mode); clients key on mode. */
    admin_reply_str(c, "mode");
    admin_reply_str(c, "sentinel");
    admin_reply_str(c, "modules");
    admin_reply_array(c, 0);
}

static void
cmd_hello(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    int j = 1;
    if (a->argc >= 2) {
        long long ver;
        if (!admin_parse_ll(a->argv[1], a->len[1], &ver)) {
            admin_reply_error(c, "Protocol version is not an integer or out "
                                 "of range");
            return;
        }
        if (ver != 2) {                 /* RESP3 is not spoken here */
            admin_reply_error(c, "-NOPROTO unsupported protocol version");
            return;
        }
        j = 2;
    }
    int auth = -1, name = -1;
    for (; j < a->argc; j++) {
        int more = a->argc - 1 - j;
        if (admin_name_eq(a->argv[j], "AUTH") && more >= 2) {
            auth = j + 1;
            j += 2;
        } else if (admin_name_eq(a->argv[j], "SETNAME") && more >= 1) {
            name = ++j;
        } else {
            admin_reply_errorf(c, "Syntax error in HELLO option '%s'",
                               a->argv[j]);
            return;
        }
    }
    if (auth > 0 &&
        !try_auth(c, a->argv[auth], a->argv[auth + 1], a->len[auth + 1])) {
        admin_reply_error(c, wrongpass);
        return;
    }
    if (admin_auth_required(c)) {
        admin_reply_error(c, "-NOAUTH HELLO must be called with the client "
                             "already authenticated, otherwise the HELLO "
                             "AUTH <user> <pass> option can be used to "
                             "authenticate the client and select the RESP "
                             "protocol version at the same time");
        return;
    }
    if (name > 0) {
        if (!admin_valid_name(a->argv[name], a->len[name])) {
            admin_reply_error(c, "Client names cannot contain spaces, "
                                 "newlines or special characters.");
            return;
        }
        admin_set_name(c, a->argv[name], a->len[name]);
    }
    reply_hello(c);
}

/* ---- PING, QUIT -------------------------------------------------------- */

static void
cmd_ping(admin_client *c, const admin_args *a, void *ctx)
{
    (void)ctx;
    if (a->argc > 2) {
        admin_reply_error(c, "wrong number of arguments for 'ping' command");
        return;
    }
    if (admin_subscriptions(c) > 0) {
        /* In RESP2 subscribe mode a bare +PONG could be taken for a push. */
        admin_reply_array(c, 2);
        admin_reply_str(c, "pong");
        admin_reply_bulk(c, a->argc == 2 ? a->argv[1] : "",
                         a->argc == 2 ? a->len[1] : 0);
    } else if (a->argc == 2) {
        admin_reply_bulk(c, a->argv[1], a->len[1]);
    } else {
        admin_reply_status(c, "PONG");
    }
}

static void
cmd_quit(admin_client *c, const admin_args *a, void *ctx)
{
    (void)a;
    (void)ctx;
    admin_reply_ok(c);
    admin_client_close(c);
}
