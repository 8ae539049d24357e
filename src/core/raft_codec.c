/*
 * raft_codec.c -- see raft_codec.h for the format.
 */
#include "core/raft_codec.h"

#include <stdlib.h>
#include <string.h>

#include "core/raft_log.h"

#define ENTRY_HDR 13u                   /* u64 term, u8 type, u32 len */

/* ---- encoding ---------------------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t off;
} wbuf;

static void
put_u8(wbuf *w, uint8_t v)
{
    w->p[w->off++] = v;
}

static void
put_u32(wbuf *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        w->p[w->off++] = (uint8_t)(v >> (8 * i));
}

static void
put_u64(wbuf *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        w->p[w->off++] = (uint8_t)(v >> (8 * i));
}

static void
put_bytes(wbuf *w, const void *b, size_t n)
{
    if (n > 0)
        memcpy(w->p + w->off, b, n);
    w->off += n;
}

static size_t
id_len(const raft_id *id)
{
    const char *nul = memchr(id->s, '\0', sizeof(id->s));
    size_t n = nul ? (size_t)(nul - id->s) : 0;
    return raft_id_valid(id->s, n) ? n : 0;
}

static void
put_id(wbuf *w, const raft_id *id)
{
    size_t n = id_len(id);
    put_u8(w, (uint8_t)n);
    put_bytes(w, id->s, n);
}

/* Size of the type-specific body, 0 with *ok = false when not encodable. */
static size_t
body_size(const raft_msg *m, bool *ok)
{
    *ok = true;
    switch (m->type) {
    case RAFT_MSG_VOTE: case RAFT_MSG_PREVOTE: return 17;
    case RAFT_MSG_VOTE_RESP: case RAFT_MSG_PREVOTE_RESP: return 1;
    case RAFT_MSG_APPEND_RESP: return 25;
    case RAFT_MSG_HEARTBEAT: return 16;
    case RAFT_MSG_HEARTBEAT_RESP: return 8;
    case RAFT_MSG_SNAPSHOT_RESP: return 9;
    case RAFT_MSG_TIMEOUT_NOW: return 0;
    case RAFT_MSG_APPEND: {
        if (m->n_entries > RAFT_CODEC_MAX_ENTRIES || (m->n_entries && !m->entries))
            break;
        size_t n = 28;
        for (uint32_t i = 0; i < m->n_entries; i++) {
            const raft_entry *e = &m->entries[i];
            if (e->len > RAFT_MAX_ENTRY_BYTES || (e->len > 0 && e->data == NULL))
                break;
            n += ENTRY_HDR + e->len;
            if (i + 1 == m->n_entries)
                return n;
        }
        if (m->n_entries == 0)
            return n;
        break;
    }
    case RAFT_MSG_SNAPSHOT: {
        uint8_t tmp[RAFT_CONF_ENC_MAX];
        if (m->snap == NULL || m->snap->len > RAFT_CODEC_MAX_SNAPSHOT)
            break;
        size_t c = raft_conf_encode(&m->snap->meta.conf, tmp, sizeof(tmp));
        if (c == 0)
            break;
        return 24 + c + m->snap->len;
    }
    default:
        break;
    }
    *ok = false;
    return 0;
}

size_t
raft_codec_size(const raft_msg *m)
{
    bool ok;
    if (m == NULL || id_len(&m->from) == 0 || id_len(&m->to) == 0)
        return 0;
    size_t body = body_size(m, &ok);
    if (!ok)
        return 0;
    size_t n = 2 + 1 + id_len(&m->from) + 1 + id_len(&m->to) + 8 + body;
    return n > RAFT_CODEC_MAX_MSG ? 0 : n;
}

static void
put_body(wbuf *w, const raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_VOTE: case RAFT_MSG_PREVOTE:
        put_u64(w, m->index);
        put_u64(w, m->log_term);
        put_u8(w, m->transfer ? 1 : 0);
        break;
    case RAFT_MSG_VOTE_RESP: case RAFT_MSG_PREVOTE_RESP:
        put_u8(w, m->reject ? 1 : 0);
        break;
    case RAFT_MSG_APPEND:
        put_u64(w, m->index);
        put_u64(w, m->log_term);
        put_u64(w, m->commit);
        put_u32(w, m->n_entries);
        for (uint32_t i = 0; i < m->n_entries; i++) {
            const raft_entry *e = &m->entries[i];
            put_u64(w, e->term);
            put_u8(w, e->type);
            put_u32(w, e->len);
            put_bytes(w, e->data, e->len);
        }
        break;
    case RAFT_MSG_APPEND_RESP:
        put_u8(w, m->reject ? 1 : 0);
        put_u64(w, m->index);
        put_u64(w, m->hint_index);
        put_u64(w, m->hint_term);
        break;
    case RAFT_MSG_HEARTBEAT:
        put_u64(w, m->commit);
        put_u64(w, m->ctx);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        put_u64(w, m->ctx);
        break;
    case RAFT_MSG_SNAPSHOT: {
        uint8_t tmp[RAFT_CONF_ENC_MAX];
        size_t c = raft_conf_encode(&m->snap->meta.conf, tmp, sizeof(tmp));
        put_u64(w, m->snap->meta.index);
        put_u64(w, m->snap->meta.term);
        put_u32(w, (uint32_t)c);
        put_bytes(w, tmp, c);
        put_u32(w, (uint32_t)m->snap->len);
        put_bytes(w, m->snap->data, m->snap->len);
        break;
    }
    case RAFT_MSG_SNAPSHOT_RESP:
        put_u8(w, m->reject ? 1 : 0);
        put_u64(w, m->index);
        break;
    default:
        break;
    }
}

int
raft_codec_encode(const raft_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
    size_t need = raft_codec_size(m);
    if (need == 0)
        return RAFT_EINVAL;
    if (buf == NULL || cap < need)
        return RAFT_ETOOBIG;
    wbuf w = {buf, 0};
    put_u8(&w, RAFT_CODEC_VERSION);
    put_u8(&w, m->type);
    put_id(&w, &m->from);
    put_id(&w, &m->to);
    put_u64(&w, m->term);
    put_body(&w, m);
    if (len != NULL)
        *len = w.off;
    return RAFT_OK;
}

int
raft_codec_encode_alloc(const raft_msg *m, uint8_t **buf, size_t *len)
{
    size_t need = raft_codec_size(m);
    if (need == 0)
        return RAFT_EINVAL;
    *buf = raft_xmalloc(need);
    int rc = raft_codec_encode(m, *buf, need, len);
    if (rc != RAFT_OK) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

/* ---- decoding ----------------------------------------------------------- */

/* A cursor that turns every read past the end into a sticky error, so the
 * decoder checks once at the end instead of after every field. */
typedef struct rbuf {
    const uint8_t *p;
    size_t len;
    size_t off;
    bool err;
} rbuf;

static bool
need(rbuf *r, size_t n)
{
    if (r->err || n > r->len - r->off) {
        r->err = true;
        return false;
    }
    return true;
}

static uint8_t
get_u8(rbuf *r)
{
    return need(r, 1) ? r->p[r->off++] : 0;
}

static uint32_t
get_u32(rbuf *r)
{
    uint32_t v = 0;
    if (!need(r, 4))
        return 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)r->p[r->off++] << (8 * i);
    return v;
}

static uint64_t
get_u64(rbuf *r)
{
    uint64_t v = 0;
    if (!need(r, 8))
        return 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)r->p[r->off++] << (8 * i);
    return v;
}

static bool
get_bool(rbuf *r)
{
    uint8_t b = get_u8(r);
    if (b > 1)
        r->err = true;
    return b == 1;
}

static void
get_id(rbuf *r, raft_id *id)
{
    size_t n = get_u8(r);
    if (!need(r, n) || !raft_id_valid((const char *)r->p + r->off, n)) {
        r->err = true;
        return;
    }
    memcpy(id->s, r->p + r->off, n);
    r->off += n;
}

/* Copies n payload bytes into a fresh buffer (NULL for n == 0). */
static uint8_t *
get_blob(rbuf *r, size_t n)
{
    if (n == 0 || !need(r, n))
        return NULL;
    uint8_t *b = raft_xmalloc(n);
    memcpy(b, r->p + r->off, n);
    r->off += n;
    return b;
}

static void
get_entries(rbuf *r, raft_msg *m)
{
    uint32_t n = get_u32(r);
    /* Bound the allocation by what the input can hold before making it. */
    if (n > RAFT_CODEC_MAX_ENTRIES || !need(r, (size_t)n * ENTRY_HDR) ||
        m->index > UINT64_MAX - n) {
        r->err = true;
        return;
    }
    if (n == 0)
        return;
    m->entries = raft_xcalloc(n, sizeof(raft_entry));
    for (uint32_t i = 0; i < n && !r->err; i++) {
        raft_entry *e = &m->entries[i];
        e->index = m->index + 1 + i;
        e->term = get_u64(r);
        e->type = get_u8(r);
        e->len = get_u32(r);
        if (e->type > RAFT_ENTRY_CONF || e->len > RAFT_MAX_ENTRY_BYTES) {
            r->err = true;
            e->len = 0;
            break;
        }
        e->data = get_blob(r, e->len);
        if (r->err)
            e->len = 0;
        m->n_entries = i + 1;           /* what raft_msg_clear must free */
    }
}

static void
get_snapshot(rbuf *r, raft_msg *m)
{
    raft_snapshot *s = raft_xcalloc(1, sizeof(*s));
    m->snap = s;
    s->meta.index = get_u64(r);
    s->meta.term = get_u64(r);
    uint32_t clen = get_u32(r);
    if (clen > RAFT_CONF_ENC_MAX || !need(r, clen) ||
        raft_conf_decode(r->p + r->off, clen, &s->meta.conf) != RAFT_OK) {
        r->err = true;
        return;
    }
    r->off += clen;
    uint32_t dlen = get_u32(r);
    if (dlen > RAFT_CODEC_MAX_SNAPSHOT) {
        r->err = true;
        return;
    }
    s->data = get_blob(r, dlen);
    if (!r->err)
        s->len = dlen;
}

static void
get_body(rbuf *r, raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_VOTE: case RAFT_MSG_PREVOTE: {
        m->index = get_u64(r);
        m->log_term = get_u64(r);
        uint8_t flags = get_u8(r);
        if (flags & ~1u)
            r->err = true;
        m->transfer = flags & 1u;
        break;
    }
    case RAFT_MSG_VOTE_RESP: case RAFT_MSG_PREVOTE_RESP:
        m->reject = get_bool(r);
        break;
    case RAFT_MSG_APPEND:
        m->index = get_u64(r);
        m->log_term = get_u64(r);
        m->commit = get_u64(r);
        get_entries(r, m);
        break;
    case RAFT_MSG_APPEND_RESP:
        m->reject = get_bool(r);
        m->index = get_u64(r);
        m->hint_index = get_u64(r);
        m->hint_term = get_u64(r);
        break;
    case RAFT_MSG_HEARTBEAT:
        m->commit = get_u64(r);
        m->ctx = get_u64(r);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        m->ctx = get_u64(r);
        break;
    case RAFT_MSG_SNAPSHOT:
        get_snapshot(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        m->reject = get_bool(r);
        m->index = get_u64(r);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break;
    default:
        r->err = true;
        break;
    }
}

int
raft_codec_decode(const uint8_t *buf, size_t len, raft_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (buf == NULL || len < 2 || len > RAFT_CODEC_MAX_MSG ||
        buf[0] != RAFT_CODEC_VERSION)
        return RAFT_ECODEC;
    rbuf r = {buf, len, 2, false};
    m->type = buf[1];
    if (m->type < 1 || m->type > RAFT_MSG_TYPE_MAX)
        return RAFT_ECODEC;
    get_id(&r, &m->from);
    get_id(&r, &m->to);
    m->term = get_u64(&r);
    if (!r.err)
        get_body(&r, m);
    if (r.err || r.off != len) {
        raft_msg_clear(m);
        return RAFT_ECODEC;
    }
    return RAFT_OK;
}
