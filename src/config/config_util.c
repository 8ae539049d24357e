#include "config/config_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

void
config_trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    size_t i = strspn(s, " \t");
    memmove(s, s + i, n - i + 1);
}

const char *
config_escape(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    for (; *s && o + 5 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    if (*s && o + 4 <= len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

bool
config_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CONFIG_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

bool
config_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CONFIG_STR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

const char *
config_parse_addr(const char *text, config_addr *out)
{
    static const char *expected =
        "host:port or [ipv6]:port with a port from 1 to 65535";
    const char *host = text, *colon;
    size_t hlen;

    if (*text == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return expected;
        host = text + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || memchr(text, ':', (size_t)(colon - text)))
            return expected;  /* bare IPv6 needs brackets */
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= sizeof(out->host))
        return expected;
    for (size_t i = 0; i < hlen; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
              c == '_' || c == '%'))
            return expected;
    }
    const char *p = colon + 1;
    if (*p == '\0' || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p))
        return expected;
    int port = atoi(p);
    if (port < 1 || port > 65535)
        return expected;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = port;
    return NULL;
}
