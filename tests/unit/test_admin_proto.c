/* Admin protocol without I/O: the request parser (tables of RESP and
 * inline input, every truncation, every chunking, each limit, seeded
 * random bytes) and the RESP encoders. */
#include <check.h>
#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/admin_proto.h"
#include "check_main.h"

static const admin_proto_limits LIM = {1024, 512 * 1024, 64 * 1024, 0, 0};

/* ---- driver ------------------------------------------------------------ */

typedef struct result {
    char cmds[8192];    /* "a,b;c;" -- args ',' commands ';', escaped */
    char error[128];    /* "" unless the parser failed */
    size_t ncmds;
} result;

static void
append_escaped(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = strlen(out);
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch >= 0x7f || ch == ',' || ch == ';' || ch == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        else
            out[o++] = (char)ch;
    }
    out[o] = '\0';
}

/* Feeds in[0..n) in chunks of `chunk` bytes the way the server does: the
 * unconsumed tail plus new bytes, each time in an exact-size heap copy so
 * AddressSanitizer catches any read past the end. */
static void
run(const char *in, size_t n, size_t chunk, const admin_proto_limits *lim,
    result *r)
{
    memset(r, 0, sizeof(*r));
    admin_parser p;
    admin_parser_init(&p);
    char *pending = malloc(n + 1);
    size_t plen = 0, fed = 0;
    while (fed < n) {
        size_t take = n - fed < chunk ? n - fed : chunk;
        memcpy(pending + plen, in + fed, take);
        plen += take;
        fed += take;
        for (;;) {
            char *exact = malloc(plen ? plen : 1);
            memcpy(exact, pending, plen);
            size_t used = 12345;
            admin_proto_status st = admin_parser_feed(&p, lim, exact, plen,
                                                      &used);
            free(exact);
            ck_assert_uint_le(used, plen);
            memmove(pending, pending + used, plen - used);
            plen -= used;
            if (st == ADMIN_PROTO_ERROR) {
                ck_assert_int_eq(p.argc, 0);
                snprintf(r->error, sizeof(r->error), "%s", p.error);
                goto out;
            }
            if (st == ADMIN_PROTO_NEED_MORE)
                break;
            ck_assert_int_gt(p.argc, 0);
            ck_assert_uint_le((size_t)p.argc, lim->max_args);
            for (int i = 0; i < p.argc; i++) {
                /* inline arguments are bounded by the line instead */
                ck_assert(p.len[i] <= lim->max_bulk ||
                          p.len[i] <= lim->max_inline);
                ck_assert_int_eq(p.argv[i][p.len[i]], '\0');
                append_escaped(r->cmds, sizeof(r->cmds), p.argv[i], p.len[i]);
                strcat(r->cmds, i + 1 < p.argc ? "," : ";");
            }
            r->ncmds++;
        }
    }
out:
    admin_parser_free(&p);
    free(pending);
}

/* ---- valid input ------------------------------------------------------- */

typedef struct good {
    const char *in;
    size_t len;         /* 0: strlen(in) */
    const char *cmds;
} good;

static const good goods[] = {
    {"PING\r\n", 0, "PING;"},
    {"PING\n", 0, "PING;"},
    {"  ping   a\tb  \r\n", 0, "ping,a,b;"},
    {"\r\n\n   \r\nPING\r\n", 0, "PING;"},
    {"*1\r\n$4\r\nPING\r\n", 0, "PING;"},
    {"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", 0, "ECHO,;"},
    {"*0\r\n*-1\r\n*1\r\n$1\r\nx\r\n", 0, "x;"},
    {"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$4\r\nb\r\nc\r\n", 0, "SET,a,b\\x0d\\x0ac;"},
    {"*2\r\n$1\r\na\r\n$3\r\n\0\1\2\r\n", 20, "a,\\x00\\x01\\x02;"},
    {"PING\r\n*1\r\n$4\r\nPING\r\nPING x\r\n", 0, "PING;PING;PING,x;"},
    /* quoting, as sdssplitargs */
    {"SET \"a b\" 'c d'\r\n", 0, "SET,a b,c d;"},
    {"X \"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"q\"\r\n", 0,
     "X,AJ\\x0a\\x0d\\x09\\x08\\x07\\x5c\"q;"},
    {"X \"\\xZZ\" \"\\q\"\r\n", 0, "X,xZZ,q;"},
    {"X 'it\\'s' 'a\\nb'\r\n", 0, "X,it's,a\\x5cnb;"},
    {"X a\"b c\" d'e f'\r\n", 0, "X,ab c,de f;"},
    {"X \"\" ''\r\n", 0, "X,,;"},
    {"X \"a\"\tb\r\n", 0, "X,a,b;"},
    {"X\x01y z\r\n", 0, "X\\x01y,z;"},
    {"A\0B C\r\n", 7, "A,B,C;"},
    {"A \"\0\"\r\n", 7, "A,\\x00;"},
};

START_TEST(test_good_every_chunking)
{
    const good *g = &goods[_i];
    size_t n = g->len ? g->len : strlen(g->in);
    static const size_t chunks[] = {1000000, 1, 2, 3, 5, 7};
    for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
        result r;
        run(g->in, n, chunks[k], &LIM, &r);
        ck_assert_msg(r.error[0] == '\0', "%s: error %s", g->cmds, r.error);
        ck_assert_str_eq(r.cmds, g->cmds);
    }
}
END_TEST

/* Every strict prefix is incomplete, never an error, and yields only
 * commands that the whole input yields, in order. */
START_TEST(test_good_every_truncation)
{
    const good *g = &goods[_i];
    size_t n = g->len ? g->len : strlen(g->in);
    for (size_t k = 0; k < n; k++) {
        result r;
        run(g->in, k, 1000000, &LIM, &r);
        ck_assert_msg(r.error[0] == '\0', "prefix %zu: %s", k, r.error);
        ck_assert(strncmp(r.cmds, g->cmds, strlen(r.cmds)) == 0);
        ck_assert(strlen(r.cmds) < strlen(g->cmds) ||
                  r.cmds[strlen(r.cmds) - 1] == ';');
    }
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

typedef struct bad {
    const char *in;
    const char *error;
} bad;

static const bad bads[] = {
    {"*abc\r\n", "Protocol error: invalid multibulk length"},
    {"*1x\r\n", "Protocol error: invalid multibulk length"},
    {"*01\r\n", "Protocol error: invalid multibulk length"},
    {"*+1\r\n", "Protocol error: invalid multibulk length"},
    {"*\r\n", "Protocol error: invalid multibulk length"},
    {"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"},
    {"*1025\r\n", "Protocol error: invalid multibulk length"},
    {"*1\rX", "Protocol error: invalid multibulk length"},
    {"*1\r\nxx\r\n", "Protocol error: expected '$', got 'x'"},
    {"*1\r\n\x01", "Protocol error: expected '$', got ' '"},
    {"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"},
    {"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"},
    {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
    {"*1\r\n$524289\r\n", "Protocol error: invalid bulk length"},
    {"*1\r\n$1\r\nab\r\n", "Protocol error: invalid bulk length"},
    {"*1\r\n$1\rx", "Protocol error: invalid bulk length"},
    {"PING \"a\r\n", "Protocol error: unbalanced quotes in request"},
    {"PING \"a\"b\r\n", "Protocol error: unbalanced quotes in request"},
    {"PING 'a\r\n", "Protocol error: unbalanced quotes in request"},
    {"PING 'a'b\r\n", "Protocol error: unbalanced quotes in request"},
    {"ECHO a\"b c\"d\r\n", "Protocol error: unbalanced quotes in request"},
    {"PING \"a\\\"\r\n", "Protocol error: unbalanced quotes in request"},
    {"PING\r\n*x\r\n", "Protocol error: invalid multibulk length"},
};

START_TEST(test_bad)
{
    const bad *b = &bads[_i];
    for (size_t chunk = 1; chunk <= 1000000; chunk *= 1000) {
        result r;
        run(b->in, strlen(b->in), chunk, &LIM, &r);
        ck_assert_str_eq(r.error, b->error);
    }
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

static char *
repeat(char ch, size_t n, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + n + sl + 1);
    memcpy(s, prefix, pl);
    memset(s + pl, ch, n);
    memcpy(s + pl + n, suffix, sl + 1);
    return s;
}

#define RUN(str, chunk, lim, r) run((str), strlen(str), (chunk), (lim), (r))

START_TEST(test_limits)
{
    const admin_proto_limits lim = {4, 10, 32, 0, 0};
    result r;
    RUN("*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n", 1, &lim, &r);
    ck_assert_str_eq(r.cmds, "a,b,c,d;");
    RUN("*5\r\n", 1, &lim, &r);
    ck_assert_str_eq(r.error, "Protocol error: invalid multibulk length");
    RUN("a b c d\r\n", 1, &lim, &r);
    ck_assert_str_eq(r.cmds, "a,b,c,d;");
    RUN("a b c d e\r\n", 1, &lim, &r);
    ck_assert_str_eq(r.error, "Protocol error: too many arguments");
    RUN("*1\r\n$10\r\n0123456789\r\n", 3, &lim, &r);
    ck_assert_str_eq(r.cmds, "0123456789;");
    RUN("*1\r\n$11\r\n", 3, &lim, &r);
    ck_assert_str_eq(r.error, "Protocol error: invalid bulk length");

    /* inline: a line of max_inline bytes (CR included) passes */
    char *s = repeat('x', 31, "", "\r\n");
    run(s, strlen(s), 1, &lim, &r);
    ck_assert_uint_eq(r.ncmds, 1);
    free(s);
    s = repeat('x', 33, "", "");
    run(s, strlen(s), 1, &lim, &r);
    ck_assert_str_eq(r.error, "Protocol error: too big inline request");
    free(s);
    s = repeat('x', 40, "", "\r\n");       /* arrives at once: same */
    run(s, strlen(s), 100, &lim, &r);
    ck_assert_str_eq(r.error, "Protocol error: too big inline request");
    free(s);
    s = repeat('1', 40, "*", "");
    run(s, strlen(s), 1, &lim, &r);
    ck_assert_str_eq(r.error, "Protocol error: too big mbulk count string");
    free(s);
    s = repeat('1', 40, "*1\r\n$", "");
    run(s, strlen(s), 1, &lim, &r);
    ck_assert_str_eq(r.error, "Protocol error: too big bulk count string");
    free(s);
}
END_TEST

START_TEST(test_unauthenticated_limits)
{
    const admin_proto_limits lim = {1024, 512 * 1024, 64 * 1024, 10, 16384};
    result r;
    RUN("*10\r\n", 1, &lim, &r);
    ck_assert_str_eq(r.error, "");
    RUN("*11\r\n", 1, &lim, &r);
    ck_assert_str_eq(r.error,
                     "Protocol error: unauthenticated multibulk length");
    RUN("*2000\r\n", 1, &lim, &r);       /* the general limit words it */
    ck_assert_str_eq(r.error, "Protocol error: invalid multibulk length");
    RUN("*1\r\n$16384\r\n", 1, &lim, &r);
    ck_assert_str_eq(r.error, "");
    RUN("*1\r\n$16385\r\n", 1, &lim, &r);
    ck_assert_str_eq(r.error, "Protocol error: unauthenticated bulk length");
}
END_TEST

/* The parser keeps what it absorbed; arg_bytes lets the server bound it. */
START_TEST(test_arg_bytes_and_reset)
{
    admin_parser p;
    admin_parser_init(&p);
    const char *in = "*3\r\n$3\r\nabc\r\n$2\r\nde\r\n";
    size_t used;
    ck_assert_int_eq(admin_parser_feed(&p, &LIM, in, strlen(in), &used),
                     ADMIN_PROTO_NEED_MORE);
    ck_assert_uint_eq(used, strlen(in));
    ck_assert_uint_eq(p.arg_bytes, 5);
    admin_parser_reset(&p);
    ck_assert_uint_eq(p.arg_bytes, 0);
    ck_assert_int_eq(admin_parser_feed(&p, &LIM, "PING\r\n", 6, &used),
                     ADMIN_PROTO_COMMAND);
    ck_assert_str_eq(p.argv[0], "PING");
    /* the next feed drops the previous command by itself */
    ck_assert_int_eq(admin_parser_feed(&p, &LIM, "", 0, &used),
                     ADMIN_PROTO_NEED_MORE);
    ck_assert_int_eq(p.argc, 0);
    admin_parser_free(&p);
}
END_TEST

/* ---- hostile bytes ----------------------------------------------------- */

static uint64_t
next_rand(uint64_t *s)
{
    /* xorshift64*: seeded, so a failure reproduces. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* Bytes that steer the parser into its branches more often than uniform
 * noise would. */
static char
hostile_byte(uint64_t *s)
{
    static const char alphabet[] = "*$\r\n\r\n0123456789-+ \t\"'\\xaF\0";
    uint64_t r = next_rand(s);
    if (r % 4 == 0)
        return (char)(r >> 8);
    return alphabet[(r >> 8) % (sizeof(alphabet) - 1)];
}

START_TEST(test_random_bytes)
{
    const admin_proto_limits lim = {16, 64, 128, 0, 0};
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    char buf[600];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = next_rand(&seed) % sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = hostile_byte(&seed);
        result r;
        run(buf, n, 1 + next_rand(&seed) % 40, &lim, &r);
        if (r.error[0])
            ck_assert(strncmp(r.error, "Protocol error: ", 16) == 0);
    }
}
END_TEST

/* Valid commands with a few bytes flipped: deep paths, not just headers. */
START_TEST(test_mutated_commands)
{
    uint64_t seed = 42;
    for (int iter = 0; iter < 3000; iter++) {
        const good *g = &goods[iter % (sizeof(goods) / sizeof(goods[0]))];
        size_t n = g->len ? g->len : strlen(g->in);
        char buf[256];
        memcpy(buf, g->in, n);
        for (int k = 0; k < 3; k++)
            buf[next_rand(&seed) % n] = hostile_byte(&seed);
        result r;
        run(buf, n, 1 + next_rand(&seed) % 8, &LIM, &r);
    }
}
END_TEST

/* Any argument vector survives RESP encoding and parsing unchanged. */
START_TEST(test_roundtrip_binary)
{
    uint64_t seed = 7;
    for (int iter = 0; iter < 300; iter++) {
        struct evbuffer *b = evbuffer_new();
        char expect[8192] = "";
        int argc = 1 + (int)(next_rand(&seed) % 8);
        admin_resp_array(b, (size_t)argc);
        for (int i = 0; i < argc; i++) {
            char arg[40];
            size_t n = next_rand(&seed) % sizeof(arg);
            for (size_t k = 0; k < n; k++)
                arg[k] = (char)next_rand(&seed);
            admin_resp_bulk(b, arg, n);
            append_escaped(expect, sizeof(expect), arg, n);
            strcat(expect, i + 1 < argc ? "," : ";");
        }
        size_t len = evbuffer_get_length(b);
        result r;
        run((const char *)evbuffer_pullup(b, -1), len,
            1 + next_rand(&seed) % 16, &LIM, &r);
        ck_assert_str_eq(r.error, "");
        ck_assert_str_eq(r.cmds, expect);
        evbuffer_free(b);
    }
}
END_TEST

/* ---- encoders ---------------------------------------------------------- */

static char out[4096];

static const char *
drain(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    ck_assert_uint_lt(n, sizeof(out));
    evbuffer_remove(b, out, n);
    out[n] = '\0';
    return out;
}

START_TEST(test_encoders)
{
    struct evbuffer *b = evbuffer_new();
    admin_resp_status(b, "OK");
    ck_assert_str_eq(drain(b), "+OK\r\n");
    admin_resp_status(b, "a\r\nb\nc");
    ck_assert_str_eq(drain(b), "+a  b c\r\n");
    admin_resp_error(b, "bad thing");
    ck_assert_str_eq(drain(b), "-ERR bad thing\r\n");
    admin_resp_error(b, "-NOAUTH Authentication required.");
    ck_assert_str_eq(drain(b), "-NOAUTH Authentication required.\r\n");
    admin_resp_error(b, "x\r\n+OK");
    ck_assert_str_eq(drain(b), "-ERR x  +OK\r\n");
    admin_resp_int(b, -42);
    ck_assert_str_eq(drain(b), ":-42\r\n");
    admin_resp_bulk(b, "a\r\nb", 4);
    ck_assert_str_eq(drain(b), "$4\r\na\r\nb\r\n");
    admin_resp_str(b, "");
    ck_assert_str_eq(drain(b), "$0\r\n\r\n");
    admin_resp_str(b, NULL);
    ck_assert_str_eq(drain(b), "$-1\r\n");
    admin_resp_null(b);
    admin_resp_null_array(b);
    admin_resp_array(b, 3);
    ck_assert_str_eq(drain(b), "$-1\r\n*-1\r\n*3\r\n");
    evbuffer_free(b);
}
END_TEST

START_TEST(test_list_builder)
{
    admin_list l, child;
    admin_list_init(&l);
    admin_list_kv(&l, "name", "mymaster");
    admin_list_kvf(&l, "port", "%d", 6379);
    admin_list_ll(&l, -1);
    admin_list_int(&l, 7);
    admin_list_str(&l, NULL);
    admin_list_init(&child);
    admin_list_strf(&child, "%s", "");
    admin_list_list(&l, &child);
    ck_assert_ptr_null(child.buf);
    ck_assert_uint_eq(l.n, 8);
    ck_assert_str_eq(drain(l.buf),
                     "$4\r\nname\r\n$8\r\nmymaster\r\n$4\r\nport\r\n"
                     "$4\r\n6379\r\n$2\r\n-1\r\n:7\r\n$-1\r\n*1\r\n$0\r\n\r\n");
    admin_list_release(&l);
    /* values longer than the formatting stack buffer */
    admin_list_init(&l);
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    admin_list_strf(&l, "<%s>", big);
    ck_assert_uint_eq(evbuffer_get_length(l.buf), 7 + 1001 + 2);
    admin_list_release(&l);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("admin_proto");
    TCase *tc = tcase_create("parser");
    tcase_add_loop_test(tc, test_good_every_chunking, 0,
                        (int)(sizeof(goods) / sizeof(goods[0])));
    tcase_add_loop_test(tc, test_good_every_truncation, 0,
                        (int)(sizeof(goods) / sizeof(goods[0])));
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bads) / sizeof(bads[0])));
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_unauthenticated_limits);
    tcase_add_test(tc, test_arg_bytes_and_reset);
    suite_add_tcase(s, tc);
    TCase *fz = tcase_create("hostile");
    tcase_set_timeout(fz, 60);
    tcase_add_test(fz, test_random_bytes);
    tcase_add_test(fz, test_mutated_commands);
    tcase_add_test(fz, test_roundtrip_binary);
    suite_add_tcase(s, fz);
    TCase *enc = tcase_create("encoders");
    tcase_add_test(enc, test_encoders);
    tcase_add_test(enc, test_list_builder);
    suite_add_tcase(s, enc);
    return check_run(s);
}
