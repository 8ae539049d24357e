/*
 * test_raft_codec.c -- the wire codec: round trips of every message type,
 * strict rejection of malformed input, and seeded fuzzing that must never
 * crash (run under ASan/UBSan) or accept something it would not produce.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/raft.h"
#include "core/raft_codec.h"
#include "core/raft_conf.h"
#include "core/raft_rand.h"

static raft_entry g_ents[3];
static raft_snapshot g_snap;

static void
set_id(raft_id *id, const char *s)
{
    memset(id, 0, sizeof(*id));
    memcpy(id->s, s, strlen(s));
}

static raft_conf
sample_conf(void)
{
    raft_conf c;
    memset(&c, 0, sizeof(c));
    const char *ids[] = {"alpha", "beta-2", "gamma.3"};
    for (int i = 0; i < 3; i++) {
        set_id(&c.m[i].id, ids[i]);
        c.m[i].voter = i != 2;
        c.m[i].ctx_len = (uint16_t)(5 + i);
        memcpy(c.m[i].ctx, "10.1.2.3:4567", c.m[i].ctx_len);
    }
    c.n = 3;
    return c;
}

/* A message of `type` with every field that type carries set to a
 * distinct, non-trivial value. */
static raft_msg
sample(uint8_t type)
{
    raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    set_id(&m.from, "node_A-1.x");
    set_id(&m.to, "B");
    m.term = 0x0102030405060708ULL;
    switch (type) {
    case RAFT_MSG_VOTE: case RAFT_MSG_PREVOTE:
        m.index = 77;
        m.log_term = 66;
        m.transfer = true;
        break;
    case RAFT_MSG_VOTE_RESP: case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_SNAPSHOT_RESP:
        m.reject = true;
        m.index = type == RAFT_MSG_SNAPSHOT_RESP ? 4242 : 0;
        break;
    case RAFT_MSG_APPEND:
        m.index = 10;
        m.log_term = 3;
        m.commit = 9;
        for (int i = 0; i < 3; i++) {
            g_ents[i].term = 3 + (uint64_t)i;
            g_ents[i].index = 11 + (uint64_t)i;
            g_ents[i].type = (uint8_t)i;
            g_ents[i].len = i == 0 ? 0 : 4;
            g_ents[i].data = i == 0 ? NULL : (uint8_t *)"abcd";
        }
        m.entries = g_ents;
        m.n_entries = 3;
        break;
    case RAFT_MSG_APPEND_RESP:
        m.reject = true;
        m.index = 55;
        m.hint_index = 44;
        m.hint_term = 33;
        break;
    case RAFT_MSG_HEARTBEAT:
        m.commit = 123;
        m.ctx = 0xfffffffffffffff0ULL;
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        m.ctx = 99;
        break;
    case RAFT_MSG_SNAPSHOT:
        g_snap.meta.index = 500;
        g_snap.meta.term = 7;
        g_snap.meta.conf = sample_conf();
        g_snap.data = (uint8_t *)"snapshot-bytes";
        g_snap.len = 14;
        m.snap = &g_snap;
        break;
    default:
        break;
    }
    return m;
}

static void
assert_same(const raft_msg *a, const raft_msg *b)
{
    ck_assert_uint_eq(a->type, b->type);
    ck_assert_str_eq(a->from.s, b->from.s);
    ck_assert_str_eq(a->to.s, b->to.s);
    ck_assert_uint_eq(a->term, b->term);
    ck_assert_uint_eq(a->index, b->index);
    ck_assert_uint_eq(a->log_term, b->log_term);
    ck_assert_uint_eq(a->commit, b->commit);
    ck_assert_uint_eq(a->hint_index, b->hint_index);
    ck_assert_uint_eq(a->hint_term, b->hint_term);
    ck_assert_uint_eq(a->ctx, b->ctx);
    ck_assert_int_eq(a->reject, b->reject);
    ck_assert_int_eq(a->transfer, b->transfer);
    ck_assert_uint_eq(a->n_entries, b->n_entries);
    for (uint32_t i = 0; i < a->n_entries; i++) {
        ck_assert_uint_eq(a->entries[i].term, b->entries[i].term);
        ck_assert_uint_eq(a->entries[i].index, b->entries[i].index);
        ck_assert_uint_eq(a->entries[i].type, b->entries[i].type);
        ck_assert_uint_eq(a->entries[i].len, b->entries[i].len);
        if (a->entries[i].len)
            ck_assert_mem_eq(a->entries[i].data, b->entries[i].data, a->entries[i].len);
    }
    ck_assert_int_eq(a->snap == NULL, b->snap == NULL);
    if (a->snap) {
        ck_assert_uint_eq(a->snap->meta.index, b->snap->meta.index);
        ck_assert_uint_eq(a->snap->meta.term, b->snap->meta.term);
        ck_assert(raft_conf_equal(&a->snap->meta.conf, &b->snap->meta.conf));
        ck_assert_uint_eq(a->snap->len, b->snap->len);
        ck_assert_mem_eq(a->snap->data, b->snap->data, a->snap->len);
    }
}

START_TEST(test_roundtrip_every_type)
{
    for (uint8_t t = 1; t <= RAFT_MSG_TYPE_MAX; t++) {
        raft_msg m = sample(t), d;
        uint8_t *buf;
        size_t len;
        ck_assert_int_eq(raft_codec_encode_alloc(&m, &buf, &len), RAFT_OK);
        ck_assert_uint_eq(len, raft_codec_size(&m));
        ck_assert_uint_eq(buf[0], RAFT_CODEC_VERSION);
        ck_assert_int_eq(raft_codec_decode(buf, len, &d), RAFT_OK);
        assert_same(&m, &d);
        raft_msg_clear(&d);
        free(buf);
    }
}
END_TEST

/* Every strict prefix and any trailing byte is rejected. */
START_TEST(test_every_truncation_and_extension_rejected)
{
    for (uint8_t t = 1; t <= RAFT_MSG_TYPE_MAX; t++) {
        raft_msg m = sample(t), d;
        uint8_t buf[1024];
        size_t len;
        ck_assert_int_eq(raft_codec_encode(&m, buf, sizeof(buf), &len), RAFT_OK);
        for (size_t cut = 0; cut < len; cut++)
            ck_assert_int_eq(raft_codec_decode(buf, cut, &d), RAFT_ECODEC);
        buf[len] = 0;
        ck_assert_int_eq(raft_codec_decode(buf, len + 1, &d), RAFT_ECODEC);
        ck_assert_int_eq(raft_codec_encode(&m, buf, len - 1, &len), RAFT_ETOOBIG);
    }
}
END_TEST

/* Decodes `buf` after patching byte `at` to `v`; returns the result. */
static int
patched(uint8_t type, size_t at, uint8_t v)
{
    raft_msg m = sample(type), d;
    uint8_t buf[1024];
    size_t len;
    raft_codec_encode(&m, buf, sizeof(buf), &len);
    ck_assert_uint_lt(at, len);
    buf[at] = v;
    int rc = raft_codec_decode(buf, len, &d);
    raft_msg_clear(&d);
    return rc;
}

/* Header offsets for sample(): version 0, type 1, from len 2, from
 * "node_A-1.x" 3..12, to len 13, to "B" 14, term 15..22, body at 23. */
START_TEST(test_malformed_fields_rejected)
{
    ck_assert_int_eq(patched(RAFT_MSG_HEARTBEAT, 0, 2), RAFT_ECODEC);    /* version */
    ck_assert_int_eq(patched(RAFT_MSG_HEARTBEAT, 1, 0), RAFT_ECODEC);    /* type */
    ck_assert_int_eq(patched(RAFT_MSG_HEARTBEAT, 1, 12), RAFT_ECODEC);
    ck_assert_int_eq(patched(RAFT_MSG_HEARTBEAT, 2, 0), RAFT_ECODEC);    /* empty id */
    ck_assert_int_eq(patched(RAFT_MSG_HEARTBEAT, 2, 200), RAFT_ECODEC);  /* id len */
    ck_assert_int_eq(patched(RAFT_MSG_HEARTBEAT, 5, ' '), RAFT_ECODEC);  /* id char */
    ck_assert_int_eq(patched(RAFT_MSG_HEARTBEAT, 14, '/'), RAFT_ECODEC);
    ck_assert_int_eq(patched(RAFT_MSG_VOTE_RESP, 23, 2), RAFT_ECODEC);   /* bool */
    ck_assert_int_eq(patched(RAFT_MSG_VOTE, 39, 2), RAFT_ECODEC);        /* flags */
    /* APPEND: prev 23, prev term 31, commit 39, n 47..50, entries at 51. */
    ck_assert_int_eq(patched(RAFT_MSG_APPEND, 50, 0x10), RAFT_ECODEC);   /* count */
    ck_assert_int_eq(patched(RAFT_MSG_APPEND, 59, 3), RAFT_ECODEC);      /* type */
    ck_assert_int_eq(patched(RAFT_MSG_APPEND, 63, 0x7f), RAFT_ECODEC);   /* len */
    /* SNAPSHOT: index 23, term 31, conf len 39..42, conf at 43. */
    ck_assert_int_eq(patched(RAFT_MSG_SNAPSHOT, 43, 9), RAFT_ECODEC);    /* conf ver */
    ck_assert_int_eq(patched(RAFT_MSG_SNAPSHOT, 39, 0xff), RAFT_ECODEC);
}
END_TEST

START_TEST(test_unencodable_messages_refused)
{
    raft_msg m = sample(RAFT_MSG_HEARTBEAT);
    m.from.s[0] = '\0';
    ck_assert_uint_eq(raft_codec_size(&m), 0);
    m = sample(RAFT_MSG_HEARTBEAT);
    m.to.s[0] = '!';
    ck_assert_uint_eq(raft_codec_size(&m), 0);
    m = sample(RAFT_MSG_HEARTBEAT);
    m.type = 42;
    uint8_t buf[64];
    size_t len;
    ck_assert_int_eq(raft_codec_encode(&m, buf, sizeof(buf), &len), RAFT_EINVAL);
    m = sample(RAFT_MSG_APPEND);
    m.n_entries = RAFT_CODEC_MAX_ENTRIES + 1;
    ck_assert_uint_eq(raft_codec_size(&m), 0);
    m = sample(RAFT_MSG_SNAPSHOT);
    m.snap = NULL;
    ck_assert_uint_eq(raft_codec_size(&m), 0);
}
END_TEST

/* Whatever random bytes decode to must re-encode to exactly those bytes
 * (the format is canonical); everything else is ECODEC.  Never a crash or
 * an over-read (ASan) -- run many seeded iterations. */
static void
check_fuzz_case(const uint8_t *buf, size_t len)
{
    raft_msg d;
    int rc = raft_codec_decode(buf, len, &d);
    ck_assert(rc == RAFT_OK || rc == RAFT_ECODEC);
    if (rc != RAFT_OK)
        return;
    uint8_t *again;
    size_t n;
    ck_assert_int_eq(raft_codec_encode_alloc(&d, &again, &n), RAFT_OK);
    ck_assert_uint_eq(n, len);
    ck_assert_mem_eq(again, buf, len);
    free(again);
    raft_msg_clear(&d);
}

START_TEST(test_fuzz_random_bytes)
{
    raft_rng g;
    raft_rng_seed(&g, 20240611);
    uint8_t buf[512];
    for (int it = 0; it < 200000; it++) {
        size_t len = (size_t)raft_rng_below(&g, sizeof(buf));
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)raft_rng_next(&g);
        if (len > 1 && raft_rng_below(&g, 2) == 0) {
            buf[0] = RAFT_CODEC_VERSION;   /* get past the first check */
            buf[1] = (uint8_t)(1 + raft_rng_below(&g, RAFT_MSG_TYPE_MAX));
        }
        check_fuzz_case(buf, len);
    }
}
END_TEST

/* Mutations of valid encodings reach deep into every decoder path. */
START_TEST(test_fuzz_mutated_encodings)
{
    raft_rng g;
    raft_rng_seed(&g, 7);
    for (int it = 0; it < 200000; it++) {
        raft_msg m = sample((uint8_t)(1 + raft_rng_below(&g, RAFT_MSG_TYPE_MAX)));
        uint8_t buf[1024];
        size_t len;
        raft_codec_encode(&m, buf, sizeof(buf) - 8, &len);
        int flips = 1 + (int)raft_rng_below(&g, 4);
        for (int f = 0; f < flips; f++)
            buf[raft_rng_below(&g, len)] = (uint8_t)raft_rng_next(&g);
        switch (raft_rng_below(&g, 3)) {
        case 0: len = (size_t)raft_rng_below(&g, len + 1); break;
        case 1: len += (size_t)raft_rng_below(&g, 8); break;
        default: break;
        }
        check_fuzz_case(buf, len);
    }
}
END_TEST

START_TEST(test_conf_encoding_canonical_and_strict)
{
    raft_conf c = sample_conf(), d;
    uint8_t buf[RAFT_CONF_ENC_MAX];
    size_t n = raft_conf_encode(&c, buf, sizeof(buf));
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(raft_conf_decode(buf, n, &d), RAFT_OK);
    ck_assert(raft_conf_equal(&c, &d));
    for (size_t cut = 0; cut < n; cut++)
        ck_assert_int_eq(raft_conf_decode(buf, cut, &d), RAFT_EINVAL);
    /* Swap the first two members: no longer sorted, so not canonical. */
    raft_member t = c.m[0];
    c.m[0] = c.m[1];
    c.m[1] = t;
    n = raft_conf_encode(&c, buf, sizeof(buf));
    ck_assert_int_eq(raft_conf_decode(buf, n, &d), RAFT_EINVAL);
    ck_assert_uint_eq(raft_conf_encode(&c, buf, 3), 0);
}
END_TEST

/* Bootstrap member lists in any order produce the same configuration
 * (and so a byte-identical entry 1 on every initial member). */
START_TEST(test_bootstrap_conf_order_independent)
{
    raft_member v[3];
    memset(v, 0, sizeof(v));
    set_id(&v[0].id, "c");
    set_id(&v[1].id, "a");
    set_id(&v[2].id, "b");
    raft_conf x, y;
    ck_assert_int_eq(raft_conf_from_voters(v, 3, &x), RAFT_OK);
    raft_member w[3] = {v[2], v[0], v[1]};
    ck_assert_int_eq(raft_conf_from_voters(w, 3, &y), RAFT_OK);
    ck_assert(raft_conf_equal(&x, &y));
    ck_assert_str_eq(x.m[0].id.s, "a");
    w[1] = w[0];
    ck_assert_int_eq(raft_conf_from_voters(w, 3, &y), RAFT_EINVAL);  /* dup */
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("raft_codec");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_roundtrip_every_type);
    tcase_add_test(tc, test_every_truncation_and_extension_rejected);
    tcase_add_test(tc, test_malformed_fields_rejected);
    tcase_add_test(tc, test_unencodable_messages_refused);
    tcase_add_test(tc, test_fuzz_random_bytes);
    tcase_add_test(tc, test_fuzz_mutated_encodings);
    tcase_add_test(tc, test_conf_encoding_canonical_and_strict);
    tcase_add_test(tc, test_bootstrap_conf_order_independent);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(suite());
}
