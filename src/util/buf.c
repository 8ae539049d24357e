#include "util/buf.h"

#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
buf_reserve(buf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void
buf_free(buf *b)
{
    free(b->data);
    *b = (buf){0};
}

void
buf_put_bytes(buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void
buf_put_u8(buf *b, uint8_t v)
{
    buf_put_bytes(b, &v, 1);
}

void
buf_put_u32(buf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    buf_put_bytes(b, x, 4);
}

void
buf_put_u64(buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    buf_put_bytes(b, x, 8);
}

void
buf_put_str(buf *b, const char *s)
{
    size_t n = strlen(s);
    buf_put_u32(b, (uint32_t)n);
    buf_put_bytes(b, s, n);
}

void
buf_reader_init(buf_reader *r, const void *data, size_t len)
{
    *r = (buf_reader){data, len, false};
}

static const uint8_t *
take(buf_reader *r, size_t n)
{
    if (r->failed || r->left < n) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint8_t
buf_get_u8(buf_reader *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

uint32_t
buf_get_u32(buf_reader *r)
{
    const uint8_t *p = take(r, 4);
    uint32_t v = 0;
    for (int i = 0; p && i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t
buf_get_u64(buf_reader *r)
{
    const uint8_t *p = take(r, 8);
    uint64_t v = 0;
    for (int i = 0; p && i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void
buf_get_str(buf_reader *r, char *out, size_t cap)
{
    uint32_t n = buf_get_u32(r);
    if (r->failed || n >= cap) {
        r->failed = true;
        if (cap)
            out[0] = '\0';
        return;
    }
    const uint8_t *p = take(r, n);
    if (p == NULL || memchr(p, '\0', n) != NULL) {
        r->failed = true;
        out[0] = '\0';
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

bool
buf_reader_ok(const buf_reader *r)
{
    return !r->failed;
}

bool
buf_reader_done(const buf_reader *r)
{
    return !r->failed && r->left == 0;
}
