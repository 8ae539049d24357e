#include "util/glob.h"

#include <ctype.h>
#include <stddef.h>

static bool
eq(char a, char b, bool nocase)
{
    return nocase ? tolower((unsigned char)a) == tolower((unsigned char)b)
                  : a == b;
}

/* Matches one [...] class at *pp against c; advances *pp past the ']'. */
static bool
match_class(const char **pp, char c, bool nocase)
{
    const char *p = *pp + 1;
    bool negate = false, match = false;
    if (*p == '^') {
        negate = true;
        p++;
    }
    for (; *p && *p != ']'; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            match |= eq(*p, c, nocase);
        } else if (p[1] == '-' && p[2] && p[2] != ']') {
            char lo = p[0], hi = p[2];
            if (lo > hi) {
                char t = lo;
                lo = hi;
                hi = t;
            }
            if (nocase) {
                char lc = (char)tolower((unsigned char)c);
                match |= (c >= lo && c <= hi) ||
                         (lc >= tolower((unsigned char)lo) &&
                          lc <= tolower((unsigned char)hi));
            } else {
                match |= c >= lo && c <= hi;
            }
            p += 2;
        } else {
            match |= eq(*p, c, nocase);
        }
    }
    *pp = *p ? p : p - 1;   /* unterminated class: treat as ending here */
    return negate ? !match : match;
}

bool
glob_match(const char *p, const char *s, bool nocase)
{
    /* Iterative with one backtrack point: linear in practice and immune to
     * the exponential blow-up of naive recursion on "a*a*a*...b". */
    const char *star_p = NULL, *star_s = NULL;
    while (*s) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            if (*p == '\0')
                return true;
            star_p = p;
            star_s = s;
            continue;
        }
        bool ok;
        const char *next = p + 1;
        if (*p == '?') {
            ok = true;
        } else if (*p == '[') {
            const char *q = p;
            ok = match_class(&q, *s, nocase);
            next = q + 1;
        } else if (*p == '\\' && p[1]) {
            ok = eq(p[1], *s, nocase);
            next = p + 2;
        } else {
            ok = *p != '\0' && eq(*p, *s, nocase);
        }
        if (ok) {
            p = next;
            s++;
        } else if (star_p) {
            p = star_p;
            s = ++star_s;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}
