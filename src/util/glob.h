/*
 * glob.h -- Redis-style glob matching (stringmatch): '*', '?', '[a-z]',
 * '[^x]', and '\' escapes.  Used by SENTINEL RESET and PSUBSCRIBE.
 */
#ifndef GLOB_H
#define GLOB_H

#include <stdbool.h>

bool glob_match(const char *pattern, const char *s, bool nocase);

#endif
