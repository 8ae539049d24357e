/*
 * fuzz_admin_proto.c -- fuzz target for the admin port's request parser.
 *
 * libFuzzer:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DADMIN_FUZZ_LIBFUZZER \
 *     -D_GNU_SOURCE -Isrc src/admin/admin_proto.c src/admin/admin_resp.c \
 *     src/admin/admin_reply.c ... tests/fuzz/fuzz_admin_proto.c
 *   (see docs/admin.md for the full line)
 * Plain driver (built by `make check`): with file arguments it runs each
 * file once; without, it runs a seeded mix of mutated valid commands and
 * random bytes, so CI exercises the same checks deterministically.
 *
 * Properties checked on every input, fed whole and in small chunks:
 *   - no crash, no read past the input (ASan sees exact-size copies);
 *   - every command respects the limits;
 *   - re-encoding a parsed command as RESP and parsing it again gives the
 *     same arguments (the parser and the encoder agree).
 */
#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const admin_proto_limits LIMITS[] = {
    {1024, 512 * 1024, 64 * 1024, 0, 0},
    {8, 32, 64, 4, 16},
};

static void
check_roundtrip(const admin_parser *p)
{
    struct evbuffer *b = evbuffer_new();
    admin_resp_array(b, (size_t)p->argc);
    for (int i = 0; i < p->argc; i++)
        admin_resp_bulk(b, p->argv[i], p->len[i]);
    size_t n = evbuffer_get_length(b);
    const char *enc = (const char *)evbuffer_pullup(b, -1);
    admin_parser q;
    admin_parser_init(&q);
    static const admin_proto_limits wide = {1u << 20, 1u << 20, 1u << 20, 0,
                                            0};
    size_t used;
    if (admin_parser_feed(&q, &wide, enc, n, &used) != ADMIN_PROTO_COMMAND ||
        used != n || q.argc != p->argc)
        abort();
    for (int i = 0; i < p->argc; i++)
        if (q.len[i] != p->len[i] ||
            memcmp(q.argv[i], p->argv[i], p->len[i]) != 0)
            abort();
    admin_parser_free(&q);
    evbuffer_free(b);
}

/* Feeds data in chunks of `chunk` bytes, as the server does. */
static void
run(const uint8_t *data, size_t size, size_t chunk,
    const admin_proto_limits *lim)
{
    admin_parser p;
    admin_parser_init(&p);
    char *pending = malloc(size + 1);
    size_t plen = 0, fed = 0;
    while (fed < size) {
        size_t take = size - fed < chunk ? size - fed : chunk;
        memcpy(pending + plen, data + fed, take);
        plen += take;
        fed += take;
        for (;;) {
            char *exact = malloc(plen ? plen : 1);
            memcpy(exact, pending, plen);
            size_t used = 0;
            admin_proto_status st =
                admin_parser_feed(&p, lim, exact, plen, &used);
            free(exact);
            if (used > plen)
                abort();
            memmove(pending, pending + used, plen - used);
            plen -= used;
            if (st == ADMIN_PROTO_ERROR) {
                if (strncmp(p.error, "Protocol error: ", 16) != 0)
                    abort();
                goto out;
            }
            if (st == ADMIN_PROTO_NEED_MORE)
                break;
            if (p.argc <= 0 || (size_t)p.argc > lim->max_args)
                abort();
            check_roundtrip(&p);
        }
    }
out:
    admin_parser_free(&p);
    free(pending);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < sizeof(LIMITS) / sizeof(LIMITS[0]); i++) {
        run(data, size, size ? size : 1, &LIMITS[i]);
        run(data, size, 1 + (size % 7), &LIMITS[i]);
    }
    return 0;
}

#ifndef ADMIN_FUZZ_LIBFUZZER

static const char *const seeds[] = {
    "PING\r\n", "*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n", "SET \"a\\x41\" 'b\\'c'\n",
    "*3\r\n$8\r\nSENTINEL\r\n$7\r\nMASTERS\r\n$0\r\n\r\n*0\r\n",
    "HELLO 2 AUTH default pw SETNAME x\r\n", "\r\n\r\n*-1\r\nQUIT\r\n",
};

static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc > 1) {
        int rc = 0;
        for (int i = 1; i < argc; i++)
            rc |= run_file(argv[i]);
        return rc;
    }
    uint64_t seed = 0x5eed;
    static const char alphabet[] = "*$\r\n0123456789- \"'\\x";
    uint8_t buf[512];
    int iterations = 20000;
    for (int it = 0; it < iterations; it++) {
        const char *s = seeds[it % (sizeof(seeds) / sizeof(seeds[0]))];
        size_t n = strlen(s);
        memcpy(buf, s, n);
        if (it % 2) {                   /* random bytes of random length */
            n = next_rand(&seed) % sizeof(buf);
            for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t)next_rand(&seed);
        }
        for (int k = (int)(next_rand(&seed) % 4); k > 0 && n > 0; k--) {
            uint64_t r = next_rand(&seed);
            buf[r % n] = r & 0x100 ? (uint8_t)alphabet[(r >> 9) % 20]
                                   : (uint8_t)(r >> 9);
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_admin_proto: %d inputs\nRESULT: 1 passed, 0 failed\n",
           iterations);
    return 0;
}

#endif
