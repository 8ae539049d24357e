/*
 * config_print.c -- the effective configuration as text, and SIGHUP's
 * reload rules; both walk the schema tables.
 */
#include <string.h>

#include "config/config.h"
#include "config/config_schema.h"
#include "util/log.h"

static void
print_section(FILE *out, const config_key *table, size_t n, const void *base,
              bool show_secrets)
{
    char buf[CONFIG_STR_MAX + 16];
    for (size_t i = 0; i < n; i++) {
        config_value_format(&table[i], base, buf, sizeof(buf), show_secrets);
        fprintf(out, *buf ? "%s = %s\n" : "%s =\n", table[i].name, buf);
    }
}

void
config_print(const config *cfg, FILE *out, bool show_secrets)
{
    fprintf(out, "[sentinel]\n");
    print_section(out, config_sentinel_keys, config_sentinel_nkeys,
                  &cfg->sentinel, show_secrets);
    fprintf(out, "\n[peers]\n");
    for (int i = 0; i < cfg->npeers; i++) {
        const config_addr *a = &cfg->peers[i].addr;
        fprintf(out, strchr(a->host, ':') ? "%s = [%s]:%d\n" : "%s = %s:%d\n",
                cfg->peers[i].id, a->host, a->port);
    }
    for (int i = 0; i < cfg->nmasters; i++) {
        fprintf(out, "\n[master %s]\n", cfg->masters[i].name);
        print_section(out, config_master_keys, config_master_nkeys,
                      &cfg->masters[i], show_secrets);
    }
}

static bool
field_differs(const config_key *k, const void *a, const void *b)
{
    char x[CONFIG_STR_MAX + 16], y[CONFIG_STR_MAX + 16];
    config_value_format(k, a, x, sizeof(x), true);
    config_value_format(k, b, y, sizeof(y), true);
    return strcmp(x, y) != 0;
}

static bool
peers_differ(const config *a, const config *b)
{
    if (a->npeers != b->npeers)
        return true;
    for (int i = 0; i < a->npeers; i++) {
        const config_peer *p = &a->peers[i], *q = &b->peers[i];
        if (strcmp(p->id, q->id) || strcmp(p->addr.host, q->addr.host) ||
            p->addr.port != q->addr.port)
            return true;
    }
    return false;
}

static bool
masters_differ(const config *a, const config *b)
{
    if (a->nmasters != b->nmasters)
        return true;
    for (int i = 0; i < a->nmasters; i++) {
        if (strcmp(a->masters[i].name, b->masters[i].name) != 0)
            return true;
        for (size_t k = 0; k < config_master_nkeys; k++)
            if (field_differs(&config_master_keys[k], &a->masters[i],
                              &b->masters[i]))
                return true;
    }
    return false;
}

int
config_apply_reload(config *cur, const config *next)
{
    int changed = 0;
    for (size_t i = 0; i < config_sentinel_nkeys; i++) {
        const config_key *k = &config_sentinel_keys[i];
        if (!field_differs(k, &cur->sentinel, &next->sentinel))
            continue;
        if (!k->reloadable) {
            log_warning("config: '%s' changed in %s but takes effect only "
                        "after a restart; keeping the running value", k->name,
                        next->path);
            continue;
        }
        memcpy((char *)&cur->sentinel + k->offset,
               (const char *)&next->sentinel + k->offset, k->size);
        log_notice("config: '%s' reloaded", k->name);
        changed++;
    }
    /* Membership and monitored sets live in the replicated state once the
     * group is bootstrapped; the file never overrides it silently. */
    if (peers_differ(cur, next))
        log_warning("config: [peers] changed in %s; membership changes go "
                    "through RAFT ADD-PEER / REMOVE-PEER, file ignored",
                    next->path);
    if (masters_differ(cur, next))
        log_warning("config: [master] sections changed in %s; they only seed "
                    "new sets, use SENTINEL MONITOR/SET/REMOVE, file ignored",
                    next->path);
    return changed;
}
