/*
 * admin_proto.c -- incremental request parser, after redis-server's
 * processInlineBuffer/processMultibulkBuffer.
 *
 * Every read is bounded by len: nothing here assumes a NUL terminator,
 * so hostile bytes (NULs, missing CRLFs, huge lengths) cannot make us read
 * past the buffer or allocate more than the limits allow.
 */
#include "admin/admin_proto.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* Result of one parsing step (STEP_TOOBIG: header line without CR). */
enum { STEP_NEED, STEP_DONE, STEP_EMPTY, STEP_ERR, STEP_TOOBIG };

void
admin_parser_init(admin_parser *p)
{
    memset(p, 0, sizeof(*p));
}

void
admin_parser_reset(admin_parser *p)
{
    for (int i = 0; i < p->argc; i++)
        free(p->argv[i]);
    p->argc = 0;
    p->arg_bytes = 0;
    p->mb_left = 0;
    p->ready = false;
    /* Keep small slot arrays for the next command; give back big ones so
     * one wide command does not pin memory for the connection's life. */
    if (p->cap > 64) {
        free(p->argv);
        free(p->len);
        p->argv = NULL;
        p->len = NULL;
        p->cap = 0;
    }
}

void
admin_parser_free(admin_parser *p)
{
    admin_parser_reset(p);
    free(p->argv);
    free(p->len);
    admin_parser_init(p);
}

static int fail(admin_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(admin_parser *p, const char *fmt, ...)
{
    int n = snprintf(p->error, sizeof(p->error), "Protocol error: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error + n, sizeof(p->error) - (size_t)n, fmt, ap);
    va_end(ap);
    admin_parser_reset(p);
    return STEP_ERR;
}

static void
reserve(admin_parser *p, size_t n)
{
    if (n <= p->cap)
        return;
    size_t cap = p->cap ? p->cap * 2 : 8;
    if (cap < n)
        cap = n;
    p->argv = xreallocarray(p->argv, cap, sizeof(*p->argv));
    p->len = xreallocarray(p->len, cap, sizeof(*p->len));
    p->cap = cap;
}

static void
push_arg(admin_parser *p, const char *s, size_t n)
{
    reserve(p, (size_t)p->argc + 1);
    char *a = xmalloc(n + 1);
    memcpy(a, s, n);
    a[n] = '\0';
    p->argv[p->argc] = a;
    p->len[p->argc] = n;
    p->argc++;
    p->arg_bytes += n;
}

/* Redis' string2ll: optional '-', digits without leading zeros, nothing
 * else (no '+', no blanks), no overflow. */
static bool
parse_ll(const char *s, size_t n, long long *out)
{
    if (n == 0 || n > 20)
        return false;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    size_t i = 0;
    bool neg = s[0] == '-';
    if (neg && ++i == n)
        return false;
    if (s[i] < '1' || s[i] > '9')
        return false;
    long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        int d = s[i] - '0';
        if (v > (LLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? -v : v;
    return true;
}

/* ---- inline commands --------------------------------------------------- */

/* sdssplitargs' blank set (isspace) plus NUL, which ends a C string there. */
static bool
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f' || c == '\0';
}

static int
hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char
unescape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
    }
}

/* One token of sdssplitargs starting at s[*i] (not blank); decoded bytes
 * go to tok.  Quotes may start mid-token ("a\"b c\"" is one argument);
 * a closing quote must be followed by a blank or the end. */
static bool
split_token(const char *s, size_t n, size_t *i, char *tok, size_t *toklen)
{
    size_t j = *i, t = 0;
    int quote = 0;                          /* 0, '"' or '\'' */
    for (;;) {
        if (quote == 0) {
            if (j == n)
                break;
            char c = s[j];
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0')
                break;
            if (c == '"' || c == '\'')
                quote = c;
            else
                tok[t++] = c;
            j++;
            continue;
        }
        if (j == n)
            return false;                   /* unterminated quotes */
        if (quote == '"' && s[j] == '\\' && j + 3 < n && s[j + 1] == 'x' &&
            hex_val(s[j + 2]) >= 0 && hex_val(s[j + 3]) >= 0) {
            tok[t++] = (char)(hex_val(s[j + 2]) * 16 + hex_val(s[j + 3]));
            j += 4;
        } else if (quote == '"' && s[j] == '\\' && j + 1 < n) {
            tok[t++] = unescape(s[j + 1]);
            j += 2;
        } else if (quote == '\'' && s[j] == '\\' && j + 1 < n &&
                   s[j + 1] == '\'') {
            tok[t++] = '\'';
            j += 2;
        } else if (s[j] == quote) {
            if (j + 1 < n && !is_blank(s[j + 1]))
                return false;
            j++;
            break;
        } else {
            tok[t++] = s[j++];
        }
    }
    *i = j;
    *toklen = t;
    return true;
}

static int
split_inline(admin_parser *p, const admin_proto_limits *lim, const char *s,
             size_t n)
{
    char *tok = xmalloc(n + 1);           /* decoding never grows a token */
    size_t i = 0;
    int rc = STEP_DONE;
    for (;;) {
        while (i < n && is_blank(s[i]))
            i++;
        if (i == n)
            break;
        size_t toklen;
        if (!split_token(s, n, &i, tok, &toklen)) {
            rc = fail(p, "unbalanced quotes in request");
            break;
        }
        if ((size_t)p->argc >= lim->max_args) {
            rc = fail(p, "too many arguments");
            break;
        }
        push_arg(p, tok, toklen);
    }
    free(tok);
    if (rc == STEP_DONE && p->argc == 0)
        rc = STEP_EMPTY;
    return rc;
}

static int
parse_inline(admin_parser *p, const admin_proto_limits *lim, const char *buf,
             size_t len, size_t *pos)
{
    const char *s = buf + *pos;
    size_t avail = len - *pos;
    /* A line (with its CR) may be max_inline bytes: look no further. */
    size_t window = avail <= lim->max_inline ? avail : lim->max_inline + 1;
    const char *nl = memchr(s, '\n', window);
    if (nl == NULL)
        return avail > lim->max_inline ? fail(p, "too big inline request")
                                        : STEP_NEED;
    size_t n = (size_t)(nl - s);
    *pos += n + 1;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    return split_inline(p, lim, s, n);
}

/* ---- multibulk --------------------------------------------------------- */

/* Finds the "\r\n" ending the header line at s; *numlen is the length
 * between the type byte and CR.  STEP_TOOBIG: no CR within max_line;
 * STEP_ERR: a CR not followed by LF (the caller words both errors). */
static int
header_line(const char *s, size_t avail, size_t max_line, size_t *numlen)
{
    size_t window = avail <= max_line ? avail : max_line;
    const char *cr = memchr(s, '\r', window);
    if (cr == NULL)
        return avail > max_line ? STEP_TOOBIG : STEP_NEED;
    size_t at = (size_t)(cr - s);
    if (at + 1 == avail)
        return STEP_NEED;
    if (s[at + 1] != '\n')
        return STEP_ERR;
    *numlen = at - 1;
    return STEP_DONE;
}

static int
start_multibulk(admin_parser *p, const admin_proto_limits *lim,
                const char *buf, size_t len, size_t *pos)
{
    const char *s = buf + *pos;
    size_t avail = len - *pos, numlen = 0;
    int r = header_line(s, avail, lim->max_inline, &numlen);
    if (r == STEP_NEED)
        return r;
    if (r == STEP_TOOBIG)
        return fail(p, "too big mbulk count string");
    if (r == STEP_ERR)
        return fail(p, "invalid multibulk length");
    long long count;
    if (!parse_ll(s + 1, numlen, &count) || count > (long long)lim->max_args)
        return fail(p, "invalid multibulk length");
    if (lim->unauth_args && count > (long long)lim->unauth_args)
        return fail(p, "unauthenticated multibulk length");
    *pos += numlen + 3;
    if (count <= 0)
        return STEP_EMPTY;
    reserve(p, (size_t)count);
    p->mb_left = count;
    return STEP_DONE;
}

static int
parse_bulk(admin_parser *p, const admin_proto_limits *lim, const char *buf,
           size_t len, size_t *pos)
{
    const char *s = buf + *pos;
    size_t avail = len - *pos, numlen = 0;
    if (avail == 0)
        return STEP_NEED;
    if (s[0] != '$') {
        unsigned char c = (unsigned char)s[0];
        return fail(p, "expected '$', got '%c'",
                    c >= 0x20 && c < 0x7f ? c : ' ');
    }
    int r = header_line(s, avail, lim->max_inline, &numlen);
    if (r == STEP_NEED)
        return r;
    if (r == STEP_TOOBIG)
        return fail(p, "too big bulk count string");
    if (r == STEP_ERR)
        return fail(p, "invalid bulk length");
    long long blen;
    if (!parse_ll(s + 1, numlen, &blen) || blen < 0 ||
        (unsigned long long)blen > lim->max_bulk)
        return fail(p, "invalid bulk length");
    if (lim->unauth_bulk && (unsigned long long)blen > lim->unauth_bulk)
        return fail(p, "unauthenticated bulk length");
    size_t hdr = numlen + 3, n = (size_t)blen;
    if (avail - hdr < n + 2)
        return STEP_NEED;                 /* wait for the whole bulk */
    /* Redis skips these two bytes unchecked; checking them turns a client
     * whose lengths are off into an error now instead of garbage later. */
    if (s[hdr + n] != '\r' || s[hdr + n + 1] != '\n')
        return fail(p, "invalid bulk length");
    push_arg(p, s + hdr, n);
    p->mb_left--;
    *pos += hdr + n + 2;
    return STEP_DONE;
}

/* ---- driver ------------------------------------------------------------ */

admin_proto_status
admin_parser_feed(admin_parser *p, const admin_proto_limits *lim,
                  const char *buf, size_t len, size_t *used)
{
    if (p->ready)
        admin_parser_reset(p);
    size_t pos = 0;
    int r;
    for (;;) {
        if (p->mb_left == 0) {
            if (pos == len)
                goto need;
            r = buf[pos] == '*' ? start_multibulk(p, lim, buf, len, &pos)
                                : parse_inline(p, lim, buf, len, &pos);
            if (r == STEP_NEED)
                goto need;
            if (r == STEP_ERR)
                goto error;
            if (r == STEP_EMPTY)
                continue;
        }
        while (p->mb_left > 0) {
            r = parse_bulk(p, lim, buf, len, &pos);
            if (r == STEP_NEED)
                goto need;
            if (r == STEP_ERR)
                goto error;
        }
        p->ready = true;
        *used = pos;
        return ADMIN_PROTO_COMMAND;
    }
need:
    *used = pos;
    return ADMIN_PROTO_NEED_MORE;
error:
    *used = pos;
    return ADMIN_PROTO_ERROR;
}
