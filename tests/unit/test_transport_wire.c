/* Peer transport wire helpers: hello codec, HMAC proofs, ids, backoff and
 * jitter.  Pure functions, no sockets (those are in test_transport.c). */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "node/transport.h"
#include "node/transport_wire.h"

static const uint8_t SECRET[] = "correct horse";
#define SECRET_LEN (sizeof(SECRET) - 1)

static transport_hello
sample_hello(void)
{
    transport_hello h = {.version = TRANSPORT_PROTO_VERSION,
                         .flags = TRANSPORT_HELLO_AUTH};
    for (size_t i = 0; i < sizeof(h.nonce); i++)
        h.nonce[i] = (uint8_t)(i * 7 + 1);
    strcpy(h.node_id, "m1.example-node_A");
    strcpy(h.cluster_id, "prod-cluster");
    return h;
}

START_TEST(test_hello_roundtrip)
{
    transport_hello h = sample_hello(), back;
    uint8_t buf[TRANSPORT_HELLO_MAX];
    char err[128];
    size_t n = transport_hello_encode(&h, buf);
    ck_assert_uint_le(n, TRANSPORT_HELLO_MAX);
    ck_assert_int_eq(transport_hello_decode(buf, n, &back, err, sizeof(err)),
                     TRANSPORT_HELLO_OK);
    ck_assert_int_eq(memcmp(&h, &back, sizeof(h)), 0);

    /* Longest ids still fit the buffer and the handshake frame limit. */
    memset(h.node_id, 'x', TRANSPORT_ID_MAX);
    h.node_id[TRANSPORT_ID_MAX] = '\0';
    memset(h.cluster_id, 'y', TRANSPORT_CLUSTER_MAX);
    h.cluster_id[TRANSPORT_CLUSTER_MAX] = '\0';
    n = transport_hello_encode(&h, buf);
    ck_assert_uint_eq(n, TRANSPORT_HELLO_MAX);
    ck_assert_uint_lt(n + 1, TRANSPORT_HANDSHAKE_FRAME_MAX);
    ck_assert_int_eq(transport_hello_decode(buf, n, &back, err, sizeof(err)),
                     TRANSPORT_HELLO_OK);
    ck_assert_str_eq(back.node_id, h.node_id);
}
END_TEST

START_TEST(test_hello_rejects)
{
    transport_hello h = sample_hello(), back;
    uint8_t buf[TRANSPORT_HELLO_MAX];
    char err[128];
    size_t n = transport_hello_encode(&h, buf);

    const char *http = "GET / HTTP/1.1\r\n";
    ck_assert_int_eq(transport_hello_decode((const uint8_t *)http,
                                            strlen(http), &back, err,
                                            sizeof(err)),
                     TRANSPORT_HELLO_GARBAGE);
    ck_assert_int_eq(transport_hello_decode(buf, 3, &back, err, sizeof(err)),
                     TRANSPORT_HELLO_GARBAGE);
    /* Every truncation and one extra byte are malformed. */
    for (size_t cut = 6; cut < n; cut++)
        ck_assert_int_eq(
            transport_hello_decode(buf, cut, &back, err, sizeof(err)),
            TRANSPORT_HELLO_MALFORMED);
    uint8_t longer[TRANSPORT_HELLO_MAX + 1];
    memcpy(longer, buf, n);
    longer[n] = 0;
    ck_assert_int_eq(
        transport_hello_decode(longer, n + 1, &back, err, sizeof(err)),
        TRANSPORT_HELLO_MALFORMED);
    /* An id length byte pointing past the end. */
    buf[TRANSPORT_MAGIC_LEN + 4 + TRANSPORT_NONCE_LEN] = 200;
    ck_assert_int_eq(transport_hello_decode(buf, n, &back, err, sizeof(err)),
                     TRANSPORT_HELLO_MALFORMED);

    h.version = 2;
    n = transport_hello_encode(&h, buf);
    ck_assert_int_eq(transport_hello_decode(buf, n, &back, err, sizeof(err)),
                     TRANSPORT_HELLO_VERSION);
    ck_assert_uint_eq(back.version, 2);
    ck_assert_ptr_nonnull(strstr(err, "version 2"));
}
END_TEST

START_TEST(test_frame_header)
{
    uint8_t hdr[TRANSPORT_HEADER_LEN];
    transport_frame_header(hdr, TRANSPORT_MSG_DATA, 0x010203);
    ck_assert_uint_eq(transport_get_be32(hdr), 0x010204);
    ck_assert_uint_eq(hdr[0], 0);
    ck_assert_uint_eq(hdr[3], 4);
    ck_assert_uint_eq(hdr[4], TRANSPORT_MSG_DATA);
}
END_TEST

START_TEST(test_proof)
{
    uint8_t nonce[TRANSPORT_NONCE_LEN] = {1, 2, 3};
    uint8_t proof[TRANSPORT_PROOF_LEN];
    ck_assert(transport_proof(SECRET, SECRET_LEN, nonce, "a", "b", "c", proof));
    ck_assert(transport_proof_check(SECRET, SECRET_LEN, nonce, "a", "b", "c",
                                    proof, sizeof(proof)));
    /* Another secret, nonce, direction or cluster: all fail. */
    ck_assert(!transport_proof_check((const uint8_t *)"other", 5, nonce, "a",
                                     "b", "c", proof, sizeof(proof)));
    uint8_t nonce2[TRANSPORT_NONCE_LEN] = {1, 2, 4};
    ck_assert(!transport_proof_check(SECRET, SECRET_LEN, nonce2, "a", "b", "c",
                                     proof, sizeof(proof)));
    ck_assert(!transport_proof_check(SECRET, SECRET_LEN, nonce, "b", "a", "c",
                                     proof, sizeof(proof)));
    ck_assert(!transport_proof_check(SECRET, SECRET_LEN, nonce, "a", "b", "d",
                                     proof, sizeof(proof)));
    /* Length prefixes: "ab"+"c" is not "a"+"bc". */
    uint8_t p2[TRANSPORT_PROOF_LEN];
    ck_assert(transport_proof(SECRET, SECRET_LEN, nonce, "ab", "c", "x", p2));
    ck_assert(!transport_proof_check(SECRET, SECRET_LEN, nonce, "a", "bc", "x",
                                     p2, sizeof(p2)));
    /* Missing or truncated proofs. */
    ck_assert(!transport_proof_check(SECRET, SECRET_LEN, nonce, "a", "b", "c",
                                     proof, 0));
    ck_assert(!transport_proof_check(SECRET, SECRET_LEN, nonce, "a", "b", "c",
                                     proof, sizeof(proof) - 1));
}
END_TEST

START_TEST(test_ids)
{
    ck_assert(transport_valid_id("m1"));
    ck_assert(transport_valid_id("A-b_c.9"));
    ck_assert(!transport_valid_id(""));
    ck_assert(!transport_valid_id("has space"));
    ck_assert(!transport_valid_id("semi;colon"));
    char id[TRANSPORT_ID_MAX + 2];
    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    ck_assert(!transport_valid_id(id));
    id[TRANSPORT_ID_MAX] = '\0';
    ck_assert(transport_valid_id(id));

    ck_assert(transport_valid_cluster("prod/eu-1"));
    ck_assert(!transport_valid_cluster(""));
    ck_assert(!transport_valid_cluster("a b"));
    ck_assert(!transport_valid_cluster("tab\there"));
}
END_TEST

START_TEST(test_sanitize)
{
    char out[8];
    transport_sanitize((const uint8_t *)"ab\ncd\x01xyz", 9, out, sizeof(out));
    ck_assert_str_eq(out, "ab?cd?x");
}
END_TEST

START_TEST(test_backoff_and_jitter)
{
    uint32_t b = 0;
    uint32_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        b = transport_backoff_next(b, 100, 5000);
        ck_assert_uint_eq(b, want[i]);
    }
    uint64_t r1 = 7, r2 = 7;
    bool low = false, high = false;
    for (int i = 0; i < 2000; i++) {
        uint32_t j = transport_jitter(&r1, 1000);
        ck_assert_uint_eq(j, transport_jitter(&r2, 1000)); /* seeded */
        ck_assert_uint_ge(j, 500);
        ck_assert_uint_le(j, 1000);
        low |= j < 600;
        high |= j > 900;
    }
    ck_assert(low && high);
    ck_assert_uint_ge(transport_jitter(&r1, 2), 1);
    uint64_t r3 = 8;
    ck_assert_uint_ne(transport_rng_next(&r1), transport_rng_next(&r3));
}
END_TEST

static Suite *
wire_suite(void)
{
    Suite *s = suite_create("transport_wire");
    TCase *tc = tcase_create("wire");
    tcase_add_test(tc, test_hello_roundtrip);
    tcase_add_test(tc, test_hello_rejects);
    tcase_add_test(tc, test_frame_header);
    tcase_add_test(tc, test_proof);
    tcase_add_test(tc, test_ids);
    tcase_add_test(tc, test_sanitize);
    tcase_add_test(tc, test_backoff_and_jitter);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(wire_suite());
}
