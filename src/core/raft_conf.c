/*
 * raft_conf.c -- membership sets and their canonical encoding.
 *
 * The encoding is canonical (members sorted by id, fixed field layout) so
 * that every initial member bootstrapping from the same list writes a
 * byte-identical entry 1: two logs may only share (index, term) if they
 * share the entry.
 */
#include "core/raft_conf.h"

#include <string.h>

#define CONF_VERSION 1

bool
raft_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > RAFT_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

int
raft_conf_find(const raft_conf *c, const char *id)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->m[i].id.s, id) == 0)
            return (int)i;
    return -1;
}

bool
raft_conf_is_voter(const raft_conf *c, const char *id)
{
    int i = raft_conf_find(c, id);
    return i >= 0 && c->m[i].voter;
}

bool
raft_conf_is_member(const raft_conf *c, const char *id)
{
    return raft_conf_find(c, id) >= 0;
}

uint32_t
raft_conf_n_voters(const raft_conf *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n; i++)
        n += c->m[i].voter ? 1 : 0;
    return n;
}

uint32_t
raft_conf_quorum(const raft_conf *c)
{
    uint32_t v = raft_conf_n_voters(c);
    return v == 0 ? 0 : v / 2 + 1;
}

bool
raft_conf_equal(const raft_conf *a, const raft_conf *b)
{
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++) {
        const raft_member *x = &a->m[i], *y = &b->m[i];
        if (strcmp(x->id.s, y->id.s) != 0 || x->voter != y->voter ||
            x->ctx_len != y->ctx_len ||
            memcmp(x->ctx, y->ctx, x->ctx_len) != 0)
            return false;
    }
    return true;
}

/* Inserts keeping the array sorted by id; the caller checked for room and
 * absence. */
static void
conf_insert(raft_conf *c, const raft_member *m)
{
    uint32_t pos = 0;
    while (pos < c->n && strcmp(c->m[pos].id.s, m->id.s) < 0)
        pos++;
    memmove(&c->m[pos + 1], &c->m[pos], (c->n - pos) * sizeof(c->m[0]));
    c->m[pos] = *m;
    c->n++;
}

static int
member_init(raft_member *m, const char *id, bool voter, const void *ctx,
            uint16_t ctx_len)
{
    size_t len = strlen(id);
    if (!raft_id_valid(id, len) || ctx_len > RAFT_CTX_MAX ||
        (ctx_len > 0 && ctx == NULL))
        return RAFT_EINVAL;
    memset(m, 0, sizeof(*m));
    memcpy(m->id.s, id, len);
    m->voter = voter;
    m->ctx_len = ctx_len;
    if (ctx_len > 0)
        memcpy(m->ctx, ctx, ctx_len);
    return RAFT_OK;
}

int
raft_conf_change(const raft_conf *cur, raft_conf_op op, const char *id,
                 const void *ctx, uint16_t ctx_len, raft_conf *out)
{
    if (id == NULL || !raft_id_valid(id, strlen(id)))
        return RAFT_EINVAL;
    *out = *cur;
    int at = raft_conf_find(cur, id);
    raft_member m;
    switch (op) {
    case RAFT_CONF_ADD_LEARNER:
        if (at >= 0)
            return RAFT_EEXIST;
        if (cur->n >= RAFT_MAX_MEMBERS)
            return RAFT_ETOOBIG;
        if (member_init(&m, id, false, ctx, ctx_len) != RAFT_OK)
            return RAFT_EINVAL;
        conf_insert(out, &m);
        return RAFT_OK;
    case RAFT_CONF_PROMOTE:
        if (at < 0)
            return RAFT_ENOTFOUND;
        if (cur->m[at].voter)
            return RAFT_EINVAL;
        out->m[at].voter = true;
        return RAFT_OK;
    case RAFT_CONF_REMOVE:
        if (at < 0)
            return RAFT_ENOTFOUND;
        /* A configuration without voters can never elect a leader again. */
        if (cur->m[at].voter && raft_conf_n_voters(cur) == 1)
            return RAFT_EINVAL;
        memmove(&out->m[at], &out->m[at + 1],
                (out->n - (uint32_t)at - 1) * sizeof(out->m[0]));
        out->n--;
        return RAFT_OK;
    default:
        return RAFT_EINVAL;
    }
}

bool
raft_conf_valid(const raft_conf *c)
{
    if (c->n > RAFT_MAX_MEMBERS)
        return false;
    for (uint32_t i = 0; i < c->n; i++) {
        const raft_member *m = &c->m[i];
        const char *nul = memchr(m->id.s, '\0', sizeof(m->id.s));
        if (nul == NULL || !raft_id_valid(m->id.s, (size_t)(nul - m->id.s)) ||
            m->ctx_len > RAFT_CTX_MAX)
            return false;
        if (i > 0 && strcmp(c->m[i - 1].id.s, m->id.s) >= 0)
            return false;
    }
    return true;
}

int
raft_conf_from_voters(const raft_member *v, size_t n, raft_conf *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0 || n > RAFT_MAX_MEMBERS)
        return RAFT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        raft_member m;
        /* The id must be NUL-terminated inside its buffer. */
        if (memchr(v[i].id.s, '\0', sizeof(v[i].id.s)) == NULL ||
            member_init(&m, v[i].id.s, true, v[i].ctx, v[i].ctx_len) != RAFT_OK ||
            raft_conf_find(out, m.id.s) >= 0)
            return RAFT_EINVAL;
        conf_insert(out, &m);
    }
    return RAFT_OK;
}

/* ---- encoding ----------------------------------------------------------- */

size_t
raft_conf_encode(const raft_conf *c, uint8_t *buf, size_t cap)
{
    size_t need = 2;
    for (uint32_t i = 0; i < c->n; i++)
        need += 1 + strlen(c->m[i].id.s) + 1 + 2 + c->m[i].ctx_len;
    if (need > cap || c->n > RAFT_MAX_MEMBERS)
        return 0;
    size_t p = 0;
    buf[p++] = CONF_VERSION;
    buf[p++] = (uint8_t)c->n;
    for (uint32_t i = 0; i < c->n; i++) {
        const raft_member *m = &c->m[i];
        size_t idlen = strlen(m->id.s);
        buf[p++] = (uint8_t)idlen;
        memcpy(buf + p, m->id.s, idlen);
        p += idlen;
        buf[p++] = m->voter ? 1 : 0;
        buf[p++] = (uint8_t)(m->ctx_len & 0xff);
        buf[p++] = (uint8_t)(m->ctx_len >> 8);
        memcpy(buf + p, m->ctx, m->ctx_len);
        p += m->ctx_len;
    }
    return p;
}

/* Decodes one member at *p; checks every length against len before use. */
static int
decode_member(const uint8_t *buf, size_t len, size_t *p, raft_member *m)
{
    memset(m, 0, sizeof(*m));
    if (*p >= len)
        return RAFT_EINVAL;
    size_t idlen = buf[(*p)++];
    if (idlen > len - *p || !raft_id_valid((const char *)buf + *p, idlen))
        return RAFT_EINVAL;
    memcpy(m->id.s, buf + *p, idlen);
    *p += idlen;
    if (len - *p < 3 || buf[*p] > 1)
        return RAFT_EINVAL;
    m->voter = buf[(*p)++] == 1;
    m->ctx_len = (uint16_t)(buf[*p] | (buf[*p + 1] << 8));
    *p += 2;
    if (m->ctx_len > RAFT_CTX_MAX || m->ctx_len > len - *p)
        return RAFT_EINVAL;
    memcpy(m->ctx, buf + *p, m->ctx_len);
    *p += m->ctx_len;
    return RAFT_OK;
}

int
raft_conf_decode(const uint8_t *buf, size_t len, raft_conf *c)
{
    memset(c, 0, sizeof(*c));
    if (buf == NULL || len < 2 || buf[0] != CONF_VERSION ||
        buf[1] > RAFT_MAX_MEMBERS)
        return RAFT_EINVAL;
    size_t p = 2;
    uint32_t n = buf[1];
    for (uint32_t i = 0; i < n; i++) {
        if (decode_member(buf, len, &p, &c->m[i]) != RAFT_OK)
            return RAFT_EINVAL;
        /* Canonical form: strictly increasing ids (sorted, no duplicates). */
        if (i > 0 && strcmp(c->m[i - 1].id.s, c->m[i].id.s) >= 0)
            return RAFT_EINVAL;
        c->n = i + 1;
    }
    if (p != len)
        return RAFT_EINVAL;
    return RAFT_OK;
}

size_t
raft_conf_entry_encode(raft_conf_op op, const char *id, const raft_conf *c,
                       uint8_t *buf, size_t cap)
{
    size_t idlen = strlen(id);
    if (cap < 3 + idlen || idlen > RAFT_ID_MAX)
        return 0;
    buf[0] = CONF_VERSION;
    buf[1] = (uint8_t)op;
    buf[2] = (uint8_t)idlen;
    memcpy(buf + 3, id, idlen);
    size_t n = raft_conf_encode(c, buf + 3 + idlen, cap - 3 - idlen);
    return n == 0 ? 0 : 3 + idlen + n;
}

int
raft_conf_entry_decode(const uint8_t *buf, size_t len, raft_conf_op *op,
                       raft_id *id, raft_conf *c)
{
    if (buf == NULL || len < 3 || buf[0] != CONF_VERSION ||
        buf[1] > RAFT_CONF_REMOVE)
        return RAFT_EINVAL;
    size_t idlen = buf[2];
    /* Only the bootstrap entry has no target: it must be byte-identical on
     * every initial member, so it cannot name the one that wrote it. */
    if (idlen > len - 3 ||
        (idlen == 0 ? buf[1] != RAFT_CONF_BOOTSTRAP
                    : !raft_id_valid((const char *)buf + 3, idlen)))
        return RAFT_EINVAL;
    if (op != NULL)
        *op = (raft_conf_op)buf[1];
    if (id != NULL) {
        memset(id, 0, sizeof(*id));
        memcpy(id->s, buf + 3, idlen);
    }
    raft_conf tmp;
    int rc = raft_conf_decode(buf + 3 + idlen, len - 3 - idlen,
                              c != NULL ? c : &tmp);
    if (rc == RAFT_OK && raft_conf_n_voters(c != NULL ? c : &tmp) == 0)
        return RAFT_EINVAL;
    return rc;
}
