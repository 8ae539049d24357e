/*
 * admin_proto.h -- the Redis protocol without I/O: an incremental request
 * parser (RESP2 multibulk and inline commands) and RESP2 reply encoders.
 *
 * The parser is fed whatever bytes have arrived; it consumes what it can
 * and keeps the arguments of a partly received command, so the caller only
 * ever holds the unconsumed tail (at most one header line or one bulk).
 * It follows redis-server's networking.c, error texts included, so that a
 * client sees the same thing from us as from Redis.
 */
#ifndef ADMIN_PROTO_H
#define ADMIN_PROTO_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

typedef enum admin_proto_status {
    ADMIN_PROTO_NEED_MORE = 0, /* consumed what it could; feed more bytes */
    ADMIN_PROTO_COMMAND,       /* p->argc/argv/len hold a command */
    ADMIN_PROTO_ERROR          /* p->error says why; close the connection */
} admin_proto_status;

typedef struct admin_proto_limits {
    size_t max_args;    /* arguments per command */
    size_t max_bulk;    /* bytes per bulk argument */
    size_t max_inline;  /* bytes per inline command or header line */
    /* Stricter caps while AUTH is still required, as Redis 7 does to keep
     * unauthenticated peers from making us allocate; 0 = no extra cap. */
    size_t unauth_args;
    size_t unauth_bulk;
} admin_proto_limits;

typedef struct admin_parser {
    /* command being assembled */
    int argc;
    char **argv;            /* NUL-terminated copies */
    size_t *len;
    size_t cap;             /* slots in argv/len */
    size_t arg_bytes;       /* bytes held in argv: counts toward max_query */
    /* multibulk progress: arguments still expected (0: between commands) */
    long long mb_left;
    bool ready;             /* argv holds a complete command */
    char error[96];         /* "Protocol error: ..." after ADMIN_PROTO_ERROR */
} admin_parser;

void admin_parser_init(admin_parser *p);
/* Drops the current command, complete or partial. */
void admin_parser_reset(admin_parser *p);
void admin_parser_free(admin_parser *p);

/* Parses buf[0..len).  *used is set to the bytes consumed, which may be
 * non-zero with NEED_MORE (they are kept in the parser); the caller drops
 * them and feeds the rest plus new bytes next time.  Empty commands (blank
 * inline lines, "*0", "*-1") are skipped as Redis does.  A COMMAND stays in
 * p until the next call or admin_parser_reset. */
admin_proto_status admin_parser_feed(admin_parser *p,
                                     const admin_proto_limits *lim,
                                     const char *buf, size_t len,
                                     size_t *used);

/* ---- RESP2 encoders ---------------------------------------------------- */

/* Status and error texts have CR/LF replaced by spaces.  admin_resp_error
 * prefixes "ERR " unless msg starts with '-' (then msg's own code is used,
 * as Redis' addReplyError). */
void admin_resp_status(struct evbuffer *b, const char *s);
void admin_resp_error(struct evbuffer *b, const char *msg);
void admin_resp_int(struct evbuffer *b, long long v);
void admin_resp_bulk(struct evbuffer *b, const void *p, size_t n);
void admin_resp_str(struct evbuffer *b, const char *s);  /* NULL: null */
void admin_resp_null(struct evbuffer *b);
void admin_resp_null_array(struct evbuffer *b);
void admin_resp_array(struct evbuffer *b, size_t n);

#endif
