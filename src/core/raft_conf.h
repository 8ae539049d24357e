/*
 * raft_conf.h -- cluster membership: voters and learners with their
 * context blobs, and the body of RAFT_ENTRY_CONF entries.
 *
 * A conf entry carries the *whole* configuration after the change (plus the
 * op and target for readability), not a delta: the newest conf entry in the
 * log then is the configuration in force by itself, with nothing to replay,
 * which makes "after restart the newest configuration in the log is in
 * force" and "a truncated conf entry reverts to the previous one" trivial.
 */
#ifndef RAFT_CONF_H
#define RAFT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/raft.h"

/* Index into c->m of id, or -1. */
int raft_conf_find(const raft_conf *c, const char *id);
bool raft_conf_is_voter(const raft_conf *c, const char *id);
bool raft_conf_is_member(const raft_conf *c, const char *id);
uint32_t raft_conf_n_voters(const raft_conf *c);
/* Majority of the voters (0 for an empty configuration). */
uint32_t raft_conf_quorum(const raft_conf *c);
bool raft_conf_equal(const raft_conf *a, const raft_conf *b);
/* Well-formed: valid unique ids in sorted order, bounded contexts. */
bool raft_conf_valid(const raft_conf *c);

/* Builds the configuration that results from applying op to `cur`; checks
 * the change is legal (RAFT_EEXIST, RAFT_ENOTFOUND, RAFT_EINVAL for removing
 * the last voter or promoting a voter, RAFT_ETOOBIG). */
int raft_conf_change(const raft_conf *cur, raft_conf_op op, const char *id,
                     const void *ctx, uint16_t ctx_len, raft_conf *out);

/* Builds an initial all-voter configuration (RAFT_EINVAL on bad or
 * duplicate ids). */
int raft_conf_from_voters(const raft_member *v, size_t n, raft_conf *out);

/* Conf entry body: version, op, target id, then raft_conf_encode. */
#define RAFT_CONF_ENTRY_MAX (3 + RAFT_ID_MAX + RAFT_CONF_ENC_MAX)
size_t raft_conf_entry_encode(raft_conf_op op, const char *id,
                              const raft_conf *c, uint8_t *buf, size_t cap);
int raft_conf_entry_decode(const uint8_t *buf, size_t len, raft_conf_op *op,
                           raft_id *id, raft_conf *c);

#endif
