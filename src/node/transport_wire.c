/*
 * transport_wire.c -- see transport_wire.h.
 */
#include "node/transport_wire.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

/* Domain separation: a proof is only ever valid as a proof of this
 * protocol version, whatever else the operator reuses the secret for. */
#define TRANSPORT_PROOF_TAG "raft-sentinel transport proof v1"

void
transport_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t
transport_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

void
transport_frame_header(uint8_t hdr[TRANSPORT_HEADER_LEN], uint8_t type,
                       size_t body_len)
{
    /* Callers bound body_len by max_frame (at most a few MiB) first. */
    transport_put_be32(hdr, (uint32_t)(body_len + 1));
    hdr[4] = type;
}

static uint8_t *
put_str8(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    *p++ = (uint8_t)n;
    memcpy(p, s, n);
    return p + n;
}

size_t
transport_hello_encode(const transport_hello *h, uint8_t *out)
{
    uint8_t *p = out;
    memcpy(p, TRANSPORT_MAGIC, TRANSPORT_MAGIC_LEN);
    p += TRANSPORT_MAGIC_LEN;
    *p++ = (uint8_t)(h->version >> 8);
    *p++ = (uint8_t)h->version;
    *p++ = (uint8_t)(h->flags >> 8);
    *p++ = (uint8_t)h->flags;
    memcpy(p, h->nonce, TRANSPORT_NONCE_LEN);
    p += TRANSPORT_NONCE_LEN;
    p = put_str8(p, h->node_id);
    p = put_str8(p, h->cluster_id);
    return (size_t)(p - out);
}

/* Reads a u8-length-prefixed string of at most max bytes into out. */
static bool
get_str8(const uint8_t **p, const uint8_t *end, char *out, size_t max)
{
    if (*p >= end)
        return false;
    size_t n = **p;
    (*p)++;
    if (n > max || (size_t)(end - *p) < n)
        return false;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    return true;
}

transport_hello_result
transport_hello_decode(const uint8_t *body, size_t len, transport_hello *out,
                       char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len < TRANSPORT_MAGIC_LEN + 2 ||
        memcmp(body, TRANSPORT_MAGIC, TRANSPORT_MAGIC_LEN) != 0) {
        snprintf(err, errlen, "not a raft-sentinel hello (bad magic)");
        return TRANSPORT_HELLO_GARBAGE;
    }
    const uint8_t *p = body + TRANSPORT_MAGIC_LEN;
    const uint8_t *end = body + len;
    out->version = (uint16_t)(p[0] << 8 | p[1]);
    p += 2;
    /* Only the magic and version are fixed across versions; the rest may
     * change, so stop here for any other version. */
    if (out->version != TRANSPORT_PROTO_VERSION) {
        snprintf(err, errlen, "protocol version %u, we speak %u",
                 (unsigned)out->version, TRANSPORT_PROTO_VERSION);
        return TRANSPORT_HELLO_VERSION;
    }
    if ((size_t)(end - p) < 2 + TRANSPORT_NONCE_LEN) {
        snprintf(err, errlen, "truncated hello");
        return TRANSPORT_HELLO_MALFORMED;
    }
    out->flags = (uint16_t)(p[0] << 8 | p[1]);
    p += 2;
    memcpy(out->nonce, p, TRANSPORT_NONCE_LEN);
    p += TRANSPORT_NONCE_LEN;
    if (!get_str8(&p, end, out->node_id, TRANSPORT_ID_MAX) ||
        !get_str8(&p, end, out->cluster_id, TRANSPORT_CLUSTER_MAX) ||
        p != end) {
        snprintf(err, errlen, "malformed hello");
        return TRANSPORT_HELLO_MALFORMED;
    }
    return TRANSPORT_HELLO_OK;
}

static size_t
proof_message(uint8_t *buf, const uint8_t nonce[TRANSPORT_NONCE_LEN],
              const char *prover, const char *verifier, const char *cluster)
{
    uint8_t *p = buf;
    memcpy(p, TRANSPORT_PROOF_TAG, sizeof(TRANSPORT_PROOF_TAG) - 1);
    p += sizeof(TRANSPORT_PROOF_TAG) - 1;
    memcpy(p, nonce, TRANSPORT_NONCE_LEN);
    p += TRANSPORT_NONCE_LEN;
    p = put_str8(p, prover);
    p = put_str8(p, verifier);
    p = put_str8(p, cluster);
    return (size_t)(p - buf);
}

bool
transport_proof(const uint8_t *secret, size_t secret_len,
                const uint8_t nonce[TRANSPORT_NONCE_LEN], const char *prover,
                const char *verifier, const char *cluster,
                uint8_t out[TRANSPORT_PROOF_LEN])
{
    uint8_t msg[sizeof(TRANSPORT_PROOF_TAG) + TRANSPORT_NONCE_LEN +
                3 * (1 + TRANSPORT_ID_MAX + TRANSPORT_CLUSTER_MAX)];
    if (strlen(prover) > TRANSPORT_ID_MAX ||
        strlen(verifier) > TRANSPORT_ID_MAX ||
        strlen(cluster) > TRANSPORT_CLUSTER_MAX)
        return false;
    size_t n = proof_message(msg, nonce, prover, verifier, cluster);
    unsigned int outlen = 0;
    if (HMAC(EVP_sha256(), secret, (int)secret_len, msg, n, out, &outlen) ==
            NULL ||
        outlen != TRANSPORT_PROOF_LEN)
        return false;
    return true;
}

bool
transport_proof_check(const uint8_t *secret, size_t secret_len,
                      const uint8_t nonce[TRANSPORT_NONCE_LEN],
                      const char *prover, const char *verifier,
                      const char *cluster, const uint8_t *proof,
                      size_t proof_len)
{
    uint8_t want[TRANSPORT_PROOF_LEN];
    if (proof_len != TRANSPORT_PROOF_LEN ||
        !transport_proof(secret, secret_len, nonce, prover, verifier, cluster,
                         want))
        return false;
    bool ok = CRYPTO_memcmp(want, proof, TRANSPORT_PROOF_LEN) == 0;
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}

bool
transport_valid_id(const char *id)
{
    size_t n = 0;
    for (const char *c = id; *c != '\0'; c++, n++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' ||
                  *c == '-';
        if (!ok || n >= TRANSPORT_ID_MAX)
            return false;
    }
    return n > 0;
}

bool
transport_valid_cluster(const char *id)
{
    size_t n = 0;
    for (const char *c = id; *c != '\0'; c++, n++) {
        if (*c <= ' ' || *c > '~' || n >= TRANSPORT_CLUSTER_MAX)
            return false;
    }
    return n > 0;
}

void
transport_sanitize(const uint8_t *text, size_t len, char *out, size_t outlen)
{
    size_t n = len < outlen - 1 ? len : outlen - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = text[i] >= ' ' && text[i] <= '~' ? (char)text[i] : '?';
    out[n] = '\0';
}

uint64_t
transport_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint32_t
transport_backoff_next(uint32_t cur, uint32_t min, uint32_t max)
{
    if (cur < min)
        return min;
    return cur >= max / 2 ? max : cur * 2;
}

uint32_t
transport_jitter(uint64_t *rng, uint32_t base)
{
    uint32_t half = base / 2;
    /* The modulo bias over a 64-bit draw is below 2^-32: irrelevant for
     * spreading reconnects. */
    return half + (uint32_t)(transport_rng_next(rng) % ((uint64_t)base - half + 1));
}
