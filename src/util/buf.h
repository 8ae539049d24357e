/*
 * buf.h -- a growable byte writer and a bounds-checked reader, for the
 * replicated state's command and snapshot formats.  Little-endian, strings
 * length-prefixed.  The reader never over-reads: once a read fails, every
 * later read fails too and buf_reader_ok() says so, so decoders can read a
 * whole record and check once.
 */
#ifndef BUF_H
#define BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} buf;

void buf_free(buf *b);
void buf_put_u8(buf *b, uint8_t v);
void buf_put_u32(buf *b, uint32_t v);
void buf_put_u64(buf *b, uint64_t v);
void buf_put_bytes(buf *b, const void *p, size_t n);
void buf_put_str(buf *b, const char *s);        /* u32 length + bytes */

typedef struct buf_reader {
    const uint8_t *p;
    size_t left;
    bool failed;
} buf_reader;

void buf_reader_init(buf_reader *r, const void *data, size_t len);
uint8_t buf_get_u8(buf_reader *r);
uint32_t buf_get_u32(buf_reader *r);
uint64_t buf_get_u64(buf_reader *r);
/* Copies a string into out (size cap, NUL-terminated); fails when it does
 * not fit or contains a NUL byte. */
void buf_get_str(buf_reader *r, char *out, size_t cap);
bool buf_reader_ok(const buf_reader *r);
/* True when every byte was consumed and no read failed. */
bool buf_reader_done(const buf_reader *r);

#endif
