/*
 * mem.h -- allocation that cannot return NULL.  A monitor out of memory
 * cannot keep its promises, so it stops loudly instead of limping on with
 * half-built state.
 */
#ifndef MEM_H
#define MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* realloc for n elements of size bytes, with overflow checked. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

#endif
