/*
 * raft_log.c -- the in-memory Raft log (see raft_log.h).
 */
#include "core/raft_log.h"

#include <stdlib.h>
#include <string.h>

#include "core/raft.h"

void *
raft_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

void *
raft_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        abort();
    return p;
}

void *
raft_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        abort();
    return q;
}

void
raft_entry_release(raft_entry *e)
{
    free(e->data);
    e->data = NULL;
    e->len = 0;
}

void
raft_entry_copy(raft_entry *dst, const raft_entry *src)
{
    *dst = *src;
    dst->data = NULL;
    if (src->len > 0) {
        dst->data = raft_xmalloc(src->len);
        memcpy(dst->data, src->data, src->len);
    }
}

void
raft_log_init(raft_log *l)
{
    memset(l, 0, sizeof(*l));
}

void
raft_log_free(raft_log *l)
{
    for (size_t i = 0; i < l->n; i++)
        raft_entry_release(&l->ents[i]);
    free(l->ents);
    memset(l, 0, sizeof(*l));
}

uint64_t
raft_log_last_term(const raft_log *l)
{
    return l->n > 0 ? l->ents[l->n - 1].term : l->snap_term;
}

int
raft_log_term(const raft_log *l, uint64_t index, uint64_t *term)
{
    if (index == l->snap_index) {
        *term = l->snap_term;
        return RAFT_OK;
    }
    if (index < l->snap_index)
        return RAFT_ECOMPACTED;
    if (index > raft_log_last_index(l))
        return RAFT_ENOTFOUND;
    *term = l->ents[index - l->snap_index - 1].term;
    return RAFT_OK;
}

bool
raft_log_match(const raft_log *l, uint64_t index, uint64_t term)
{
    uint64_t t;
    return raft_log_term(l, index, &t) == RAFT_OK && t == term;
}

const raft_entry *
raft_log_get(const raft_log *l, uint64_t index)
{
    if (index <= l->snap_index || index > raft_log_last_index(l))
        return NULL;
    return &l->ents[index - l->snap_index - 1];
}

void
raft_log_append(raft_log *l, const raft_entry *e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->ents = raft_xrealloc(l->ents, l->cap * sizeof(*l->ents));
    }
    raft_entry_copy(&l->ents[l->n], e);
    l->ents[l->n].index = raft_log_last_index(l) + 1;
    l->n++;
}

void
raft_log_truncate(raft_log *l, uint64_t index)
{
    uint64_t last = raft_log_last_index(l);
    if (index <= l->snap_index || index > last)
        return;
    for (uint64_t i = index; i <= last; i++)
        raft_entry_release(&l->ents[i - l->snap_index - 1]);
    l->n = (size_t)(index - l->snap_index - 1);
    /* Only a durable suffix needs deleting on disk; unstable entries were
     * never written. */
    if (index <= l->stable) {
        l->stable = index - 1;
        if (l->trunc_from == 0 || index < l->trunc_from)
            l->trunc_from = index;
    }
}

void
raft_log_compact(raft_log *l, uint64_t index)
{
    if (index <= l->snap_index || index > raft_log_last_index(l))
        return;
    size_t drop = (size_t)(index - l->snap_index);
    l->snap_term = l->ents[drop - 1].term;
    for (size_t i = 0; i < drop; i++)
        raft_entry_release(&l->ents[i]);
    memmove(l->ents, l->ents + drop, (l->n - drop) * sizeof(*l->ents));
    l->n -= drop;
    l->snap_index = index;
}

void
raft_log_reset(raft_log *l, uint64_t index, uint64_t term)
{
    for (size_t i = 0; i < l->n; i++)
        raft_entry_release(&l->ents[i]);
    l->n = 0;
    l->snap_index = index;
    l->snap_term = term;
    /* The batch carrying the snapshot tells the runtime to drop every
     * durable entry, so nothing on disk survives beyond the snapshot. */
    l->stable = index;
    l->trunc_from = 0;
    if (l->commit < index)
        l->commit = index;
}

uint64_t
raft_log_conflict_by_term(const raft_log *l, uint64_t index, uint64_t term)
{
    uint64_t last = raft_log_last_index(l);
    if (index > last)
        index = last;
    for (;;) {
        uint64_t t;
        if (raft_log_term(l, index, &t) != RAFT_OK || t <= term)
            return index;
        if (index == 0)
            return 0;
        index--;
    }
}

void
raft_log_commit_to(raft_log *l, uint64_t index)
{
    if (index > l->commit)
        l->commit = index;
}
