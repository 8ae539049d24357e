/*
 * transport_wire.h -- the peer protocol's byte layout and its pure helpers:
 * frame headers, the hello, the HMAC proof, and the reconnect jitter.  No
 * sockets and no libevent here, so the unit tests (and a test's fake peer)
 * can drive the protocol byte by byte.  Layout: docs/transport.md.
 */
#ifndef TRANSPORT_WIRE_H
#define TRANSPORT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/transport.h"

#define TRANSPORT_PROTO_VERSION 1
#define TRANSPORT_MAGIC "RSTP"
#define TRANSPORT_MAGIC_LEN 4
#define TRANSPORT_NONCE_LEN 32
#define TRANSPORT_PROOF_LEN 32          /* HMAC-SHA256 */

/* Every message: u32 big-endian length of what follows, then a type byte,
 * then length - 1 bytes of body. */
#define TRANSPORT_LEN_BYTES 4
#define TRANSPORT_HEADER_LEN 5

/* Limit on (type + body) until the handshake is done.  A hello is under
 * 200 bytes; a small limit means garbage (an HTTP request reads as a length
 * near 1.2 GB) is rejected on its first four bytes. */
#define TRANSPORT_HANDSHAKE_FRAME_MAX 512

/* Text of a CLOSE message (a reason for the peer's log). */
#define TRANSPORT_REASON_MAX 200

/* Largest hello body: magic, version, flags, nonce, two length-prefixed
 * ids. */
#define TRANSPORT_HELLO_MAX                                                   \
    (TRANSPORT_MAGIC_LEN + 2 + 2 + TRANSPORT_NONCE_LEN + 1 +                  \
     TRANSPORT_ID_MAX + 1 + TRANSPORT_CLUSTER_MAX)

typedef enum transport_msg_type {
    TRANSPORT_MSG_HELLO = 1,            /* identity and challenge */
    TRANSPORT_MSG_AUTH = 2,             /* proof answering the challenge */
    TRANSPORT_MSG_ACCEPT = 3,           /* "your hello (and proof) is fine" */
    TRANSPORT_MSG_DATA = 4,             /* one opaque frame */
    TRANSPORT_MSG_PING = 5,             /* keepalive, no body */
    TRANSPORT_MSG_CLOSE = 6             /* reason text, then the sender closes */
} transport_msg_type;

/* hello flags */
#define TRANSPORT_HELLO_AUTH 0x0001u    /* sender has a secret: proofs follow */

typedef struct transport_hello {
    uint16_t version;
    uint16_t flags;
    uint8_t nonce[TRANSPORT_NONCE_LEN];
    char node_id[TRANSPORT_ID_MAX + 1];
    char cluster_id[TRANSPORT_CLUSTER_MAX + 1];
} transport_hello;

typedef enum transport_hello_result {
    TRANSPORT_HELLO_OK = 0,
    TRANSPORT_HELLO_GARBAGE,            /* no magic: not our protocol at all */
    TRANSPORT_HELLO_VERSION,            /* ours, but another version */
    TRANSPORT_HELLO_MALFORMED           /* right magic and version, bad body */
} transport_hello_result;

void transport_put_be32(uint8_t *p, uint32_t v);
uint32_t transport_get_be32(const uint8_t *p);

/* Header for a message whose body is body_len bytes. */
void transport_frame_header(uint8_t hdr[TRANSPORT_HEADER_LEN], uint8_t type,
                            size_t body_len);

/* Encodes h into out (at least TRANSPORT_HELLO_MAX bytes); returns the
 * body length. */
size_t transport_hello_encode(const transport_hello *h, uint8_t *out);

/* Decodes a hello body.  On GARBAGE, VERSION and MALFORMED, err says what
 * was wrong (out->version is set for VERSION). */
transport_hello_result transport_hello_decode(const uint8_t *body, size_t len,
                                              transport_hello *out, char *err,
                                              size_t errlen);

/* HMAC-SHA256(secret, tag || nonce || prover || verifier || cluster), each
 * string length-prefixed.  The prover answers the verifier's nonce; naming
 * both ends means a proof cannot be reflected back to its verifier.
 * Returns false if libcrypto failed. */
bool transport_proof(const uint8_t *secret, size_t secret_len,
                     const uint8_t nonce[TRANSPORT_NONCE_LEN],
                     const char *prover, const char *verifier,
                     const char *cluster, uint8_t out[TRANSPORT_PROOF_LEN]);

/* Recomputes the proof and compares in constant time. */
bool transport_proof_check(const uint8_t *secret, size_t secret_len,
                           const uint8_t nonce[TRANSPORT_NONCE_LEN],
                           const char *prover, const char *verifier,
                           const char *cluster, const uint8_t *proof,
                           size_t proof_len);

/* 1..TRANSPORT_CLUSTER_MAX printable ASCII characters, no blanks. */
bool transport_valid_cluster(const char *id);

/* Copies text into out (outlen >= 1) replacing unprintable bytes with '?',
 * so what a peer sends cannot forge log lines. */
void transport_sanitize(const uint8_t *text, size_t len, char *out,
                        size_t outlen);

/* splitmix64: small, seedable, good enough for jitter (not for secrets). */
uint64_t transport_rng_next(uint64_t *state);

/* Next reconnect backoff: min first, then doubling up to max. */
uint32_t transport_backoff_next(uint32_t cur, uint32_t min, uint32_t max);

/* A delay uniformly drawn from [base/2, base]: spreads reconnects of many
 * monitors apart without ever collapsing to zero. */
uint32_t transport_jitter(uint64_t *rng, uint32_t base);

#endif
