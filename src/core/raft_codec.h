/*
 * raft_codec.h -- wire format of raft_msg, shared by the runtime's transport
 * and the simulator (which encodes and decodes every message it delivers).
 *
 * Version 1 layout, all integers little-endian, fixed width:
 *
 *   u8 version (1) | u8 type | u8 len, from | u8 len, to | u64 term | body
 *
 *   VOTE, PREVOTE           u64 last_index, u64 last_term, u8 flags (1 =
 *                           transfer; other bits must be 0)
 *   VOTE_RESP, PREVOTE_RESP u8 reject
 *   APPEND                  u64 prev_index, u64 prev_term, u64 commit,
 *                           u32 n, n x (u64 term, u8 type, u32 len, data)
 *                           (entry i has index prev_index + 1 + i)
 *   APPEND_RESP             u8 reject, u64 index, u64 hint_index,
 *                           u64 hint_term
 *   HEARTBEAT               u64 commit, u64 ctx
 *   HEARTBEAT_RESP          u64 ctx
 *   SNAPSHOT                u64 index, u64 term, u32 len, conf
 *                           (raft_conf_encode), u32 len, data
 *   SNAPSHOT_RESP           u8 reject, u64 index
 *   TIMEOUT_NOW             (empty)
 *
 * The encoding is exact: decode rejects trailing bytes, so a transport
 * frames messages with its own length prefix.  Decoding treats the bytes as
 * hostile: every length is checked against what is left before it is used
 * and against the limits below, ids must be valid operator ids, booleans 0
 * or 1; nothing is allocated beyond what the input can justify.
 */
#ifndef RAFT_CODEC_H
#define RAFT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/raft.h"

#define RAFT_CODEC_VERSION 1
#define RAFT_CODEC_MAX_ENTRIES RAFT_MAX_MSG_ENTRIES /* per APPEND */
#define RAFT_CODEC_MAX_SNAPSHOT (64u << 20)         /* snapshot data bytes */
#define RAFT_CODEC_MAX_MSG (80u << 20)              /* whole encoding */

/* Bytes raft_codec_encode will write, or 0 if m cannot be encoded (bad
 * type or ids, limits exceeded). */
size_t raft_codec_size(const raft_msg *m);

/* RAFT_OK and *len = bytes written; RAFT_ETOOBIG if cap is too small;
 * RAFT_EINVAL if m cannot be encoded. */
int raft_codec_encode(const raft_msg *m, uint8_t *buf, size_t cap, size_t *len);

/* As raft_codec_encode into a malloc'ed buffer the caller frees. */
int raft_codec_encode_alloc(const raft_msg *m, uint8_t **buf, size_t *len);

/* RAFT_OK: *m owns its entries/snapshot (release with raft_msg_clear).
 * RAFT_ECODEC: not a valid version-1 message; *m is zeroed. */
int raft_codec_decode(const uint8_t *buf, size_t len, raft_msg *m);

#endif
