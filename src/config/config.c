/*
 * config.c -- loading the INI file.
 *
 * inih does the INI syntax; a line reader of ours in front of it counts
 * lines (so every key knows its line), rejects what inih would silently
 * mangle (NUL bytes, overlong lines that inih would split, indented lines
 * it would glue onto the previous value) and records section headers, so
 * duplicates and unknown sections are reported at their own line.
 *
 * Keys are first collected raw, then interpreted with the schema once the
 * whole file is known: limits such as "quorum <= number of peers" need the
 * [peers] section wherever it appears in the file.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_schema.h"
#include "config/config_util.h"
#include "util/mem.h"

typedef struct raw_section {
    char *name;
    int line;
} raw_section;

typedef struct raw_item {
    int section;                        /* index into secs, -1 = none */
    char *key;
    char *value;
    int line;
} raw_item;

typedef struct error_line {
    int line;
    int seq;
    char *text;
} error_line;

typedef struct loader {
    config *cfg;
    FILE *fp;
    int line;
    int cur_section;
    raw_section *secs;
    int nsecs;
    raw_item *items;
    int nitems;
    error_line *errs;
    int nerrs;
    bool eof;
} loader;

static void __attribute__((format(printf, 3, 4)))
add_error(loader *ld, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    char text[1024];
    if (line > 0)
        snprintf(text, sizeof(text), "%s:%d: %s", ld->cfg->path, line, msg);
    else
        snprintf(text, sizeof(text), "%s: %s", ld->cfg->path, msg);
    ld->errs = xrealloc(ld->errs, sizeof(*ld->errs) * (size_t)(ld->nerrs + 1));
    ld->errs[ld->nerrs] = (error_line){line, ld->nerrs, xstrdup(text)};
    ld->nerrs++;
}

/* ---- reading: our line reader in front of inih ------------------------ */

static const char *
skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static void
record_section(loader *ld, const char *line)
{
    const char *end = strchr(line, ']');
    if (end == NULL) {
        add_error(ld, ld->line, "section header without ']'");
        return;
    }
    char name[CONFIG_STR_MAX];
    size_t n = (size_t)(end - line - 1);
    memcpy(name, line + 1, n);
    name[n] = '\0';
    config_trim(name);
    ld->secs = xrealloc(ld->secs, sizeof(*ld->secs) * (size_t)(ld->nsecs + 1));
    ld->secs[ld->nsecs] = (raw_section){xstrdup(name), ld->line};
    ld->cur_section = ld->nsecs++;
}

/* Reads one physical line; returns NULL at end of file.  Lines we reject
 * are handed to inih as a comment so each problem is reported once, by
 * us, with its line number. */
static char *
read_line(char *str, int num, void *stream)
{
    loader *ld = stream;
    size_t len = 0;
    bool nul = false, long_line = false, any = false;
    int c;

    if (ld->eof)
        return NULL;
    while ((c = getc(ld->fp)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (c == '\0')
            nul = true;
        if (len + 2 < (size_t)num)
            str[len++] = (char)c;
        else
            long_line = true;
    }
    if (c == EOF) {
        ld->eof = true;
        if (!any)
            return NULL;
    }
    str[len] = '\0';
    ld->line++;
    if (len > 0 && str[len - 1] == '\r')
        str[--len] = '\0';

    if (nul || long_line) {
        if (nul)
            add_error(ld, ld->line, "line contains a NUL byte");
        else
            add_error(ld, ld->line, "line is longer than %d characters",
                      num - 2);
        strcpy(str, ";");
        return str;
    }
    /* Leading blanks would make inih glue this line onto the previous
     * value (its multi-line syntax), which no operator means here. */
    const char *s = skip_space(str);
    memmove(str, s, strlen(s) + 1);
    if (*str == '\0' || *str == ';' || *str == '#')
        return str;
    if (*str == '[') {
        record_section(ld, str);
        strcpy(str, ";");
    } else if (strpbrk(str, "=:") == NULL) {
        char esc[128];
        add_error(ld, ld->line, "expected 'key = value', got '%s'",
                  config_escape(str, esc, sizeof(esc)));
        strcpy(str, ";");
    }
    return str;
}

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
    loader *ld = user;
    ld->items = xrealloc(ld->items,
                         sizeof(*ld->items) * (size_t)(ld->nitems + 1));
    ld->items[ld->nitems++] = (raw_item){ld->cur_section, xstrdup(name),
                                         xstrdup(value), ld->line};
    return 1;
}

/* ---- interpreting: sections, keys, cross-checks ------------------------ */

typedef enum section_kind { SEC_UNKNOWN, SEC_SENTINEL, SEC_PEERS, SEC_MASTER }
    section_kind;

/* Per section of the file: what it is and, for keys, where each was set
 * (line numbers for cross-check messages; 0 = not set). */
typedef struct section_info {
    section_kind kind;
    int master;                         /* index in cfg->masters */
    int *key_lines;                     /* one per schema row */
} section_info;

static section_kind
classify(const char *name, const char **master_name)
{
    if (strcmp(name, "sentinel") == 0)
        return SEC_SENTINEL;
    if (strcmp(name, "peers") == 0)
        return SEC_PEERS;
    if (strncmp(name, "master", 6) == 0 && (name[6] == ' ' || name[6] == '\t')) {
        *master_name = skip_space(name + 6);
        return SEC_MASTER;
    }
    return SEC_UNKNOWN;
}

/* Applies every default of a schema table, then the section's keys. */
static void
apply_defaults(const config_key *table, size_t n, void *base)
{
    char why[160];
    for (size_t i = 0; i < n; i++)
        if (table[i].def != NULL)
            config_value_parse(&table[i], table[i].def, base, table[i].max,
                               why, sizeof(why));
}

static void
set_key(loader *ld, const raw_item *it, const char *secname,
        const config_key *table, size_t n, void *base, int *lines)
{
    char why[160], esc[128];
    const config_key *k = config_key_find(table, n, it->key);
    if (k == NULL) {
        add_error(ld, it->line, "unknown key '%s' in [%s]",
                  config_escape(it->key, esc, sizeof(esc)), secname);
        return;
    }
    int *seen = &lines[k - table];
    if (*seen) {
        add_error(ld, it->line, "key '%s' is set twice in [%s] (first on "
                  "line %d)", k->name, secname, *seen);
        return;
    }
    *seen = it->line;
    long max = ld->cfg->npeers > 0 ? ld->cfg->npeers : CONFIG_MAX_PEERS;
    if (config_value_parse(k, it->value, base, max, why, sizeof(why))) {
        add_error(ld, it->line, "key '%s' has value '%s': expected %s",
                  k->name, config_escape(it->value, esc, sizeof(esc)), why);
        return;
    }
    if (k->def == NULL && *it->value == '\0')
        add_error(ld, it->line, "key '%s' must not be empty", k->name);
}

static void
check_required(loader *ld, int sec_line, const char *secname,
               const config_key *table, size_t n, const int *lines)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].def == NULL && lines[i] == 0)
            add_error(ld, sec_line, "[%s] is missing the required key '%s'",
                      secname, table[i].name);
}

static void
load_peer(loader *ld, const raw_item *it)
{
    config *cfg = ld->cfg;
    char esc[128];
    if (!config_id_valid(it->key)) {
        add_error(ld, it->line, "peer id '%s' is invalid: expected 1 to %d of "
                  "the characters A-Z a-z 0-9 _ . -",
                  config_escape(it->key, esc, sizeof(esc)), CONFIG_ID_MAX);
        return;
    }
    config_addr addr;
    const char *why = config_parse_addr(it->value, &addr);
    if (why) {
        add_error(ld, it->line, "peer '%s' has address '%s': expected %s",
                  it->key, config_escape(it->value, esc, sizeof(esc)), why);
        return;
    }
    for (int i = 0; i < cfg->npeers; i++) {
        const config_peer *p = &cfg->peers[i];
        if (strcmp(p->id, it->key) == 0) {
            add_error(ld, it->line, "peer '%s' is listed twice (first on "
                      "line %d)", it->key, p->line);
            return;
        }
        if (strcmp(p->addr.host, addr.host) == 0 &&
            p->addr.port == addr.port) {
            add_error(ld, it->line, "peer '%s' has the same address as "
                      "peer '%s' (line %d)", it->key, p->id, p->line);
            return;
        }
    }
    if (cfg->npeers == CONFIG_MAX_PEERS) {
        add_error(ld, it->line, "too many peers: at most %d",
                  CONFIG_MAX_PEERS);
        return;
    }
    config_peer *p = &cfg->peers[cfg->npeers++];
    snprintf(p->id, sizeof(p->id), "%s", it->key);
    p->addr = addr;
    p->line = it->line;
}

/* Sections are classified first and [peers] read before anything else:
 * the quorum bound depends on the group size wherever [peers] stands. */
static section_info *
load_sections(loader *ld)
{
    config *cfg = ld->cfg;
    section_info *info = xrealloc(NULL, sizeof(*info) * (size_t)(ld->nsecs + 1));
    char esc[128];

    for (int i = 0; i < ld->nsecs; i++) {
        const char *mname = NULL;
        info[i] = (section_info){classify(ld->secs[i].name, &mname), -1, NULL};
        if (info[i].kind == SEC_UNKNOWN) {
            add_error(ld, ld->secs[i].line, "unknown section [%s]: expected "
                      "[sentinel], [peers] or [master <name>]",
                      config_escape(ld->secs[i].name, esc, sizeof(esc)));
            continue;
        }
        for (int j = 0; j < i; j++) {
            if (info[j].kind != SEC_UNKNOWN &&
                strcmp(ld->secs[j].name, ld->secs[i].name) == 0) {
                add_error(ld, ld->secs[i].line, "section [%s] appears twice "
                          "(first on line %d)", ld->secs[i].name,
                          ld->secs[j].line);
                info[i].kind = SEC_UNKNOWN;  /* its keys are not used */
                break;
            }
        }
        if (info[i].kind == SEC_MASTER) {
            if (!config_name_valid(mname)) {
                add_error(ld, ld->secs[i].line, "master name '%s' is "
                          "invalid: expected printable characters without "
                          "blanks", config_escape(mname, esc, sizeof(esc)));
                info[i].kind = SEC_UNKNOWN;
                continue;
            }
            cfg->masters = xrealloc(cfg->masters, sizeof(*cfg->masters) *
                                    (size_t)(cfg->nmasters + 1));
            config_master *m = &cfg->masters[cfg->nmasters];
            memset(m, 0, sizeof(*m));
            snprintf(m->name, sizeof(m->name), "%s", mname);
            m->line = ld->secs[i].line;
            apply_defaults(config_master_keys, config_master_nkeys, m);
            info[i].master = cfg->nmasters++;
        }
    }
    for (int i = 0; i < ld->nitems; i++)
        if (ld->items[i].section >= 0 &&
            info[ld->items[i].section].kind == SEC_PEERS)
            load_peer(ld, &ld->items[i]);
    return info;
}

static void
load_keys(loader *ld, section_info *info)
{
    config *cfg = ld->cfg;
    char esc[128];
    for (int i = 0; i < ld->nitems; i++) {
        const raw_item *it = &ld->items[i];
        if (it->section < 0) {
            add_error(ld, it->line, "key '%s' is outside of any section",
                      config_escape(it->key, esc, sizeof(esc)));
            continue;
        }
        section_info *si = &info[it->section];
        const char *secname = ld->secs[it->section].name;
        if (si->kind == SEC_SENTINEL) {
            if (si->key_lines == NULL)
                si->key_lines = xcalloc(config_sentinel_nkeys, sizeof(int));
            set_key(ld, it, secname, config_sentinel_keys,
                    config_sentinel_nkeys, &cfg->sentinel, si->key_lines);
        } else if (si->kind == SEC_MASTER) {
            if (si->key_lines == NULL)
                si->key_lines = xcalloc(config_master_nkeys, sizeof(int));
            set_key(ld, it, secname, config_master_keys, config_master_nkeys,
                    &cfg->masters[si->master], si->key_lines);
        }
    }
}

static int
key_line(const section_info *si, const config_key *table, const char *name)
{
    if (si == NULL || si->key_lines == NULL)
        return 0;
    size_t i = 0;
    while (strcmp(table[i].name, name) != 0)
        i++;
    return si->key_lines[i];
}

static void
check_sentinel(loader *ld, const section_info *si, int sec_line)
{
    config *cfg = ld->cfg;
    config_sentinel *s = &cfg->sentinel;
    const config_key *t = config_sentinel_keys;

    if (sec_line == 0) {
        add_error(ld, 0, "the [sentinel] section is missing");
        return;
    }
    int empty[64] = {0};
    check_required(ld, sec_line, "sentinel", t, config_sentinel_nkeys,
                   si->key_lines ? si->key_lines : empty);
    if (s->raft_port == 0) {
        s->raft_port = s->port + 1000;
        if (s->raft_port > 65535)
            add_error(ld, key_line(si, t, "port"), "raft_port defaults to "
                      "port + 1000 = %d, which is not a valid port: set "
                      "raft_port", s->raft_port);
    }
    if (s->raft_port == s->port)
        add_error(ld, key_line(si, t, "raft_port"), "raft_port %d is the "
                  "same as port: the admin and raft ports must differ",
                  s->raft_port);
    unsigned char ip[16];
    if (s->announce_ip[0] && inet_pton(AF_INET, s->announce_ip, ip) != 1 &&
        inet_pton(AF_INET6, s->announce_ip, ip) != 1)
        add_error(ld, key_line(si, t, "announce_ip"), "announce_ip '%s' is "
                  "not an IP address", s->announce_ip);
    if (s->heartbeat_ms * 2 >= s->election_timeout_ms)
        add_error(ld, key_line(si, t, "heartbeat_ms"), "heartbeat_ms %d must "
                  "be less than half of election_timeout_ms %d",
                  s->heartbeat_ms, s->election_timeout_ms);
    if (cfg->npeers == 0) {
        add_error(ld, 0, "the [peers] section must list the monitor group, "
                  "including this monitor");
        return;
    }
    if (*s->id == '\0')
        return;
    const config_peer *me = config_find_peer(cfg, s->id);
    if (me == NULL)
        add_error(ld, key_line(si, t, "id"), "id '%s' is not listed in "
                  "[peers]", s->id);
    else if (me->addr.port != s->raft_port)
        add_error(ld, me->line, "peer '%s' (this monitor) has port %d but "
                  "raft_port is %d", me->id, me->addr.port, s->raft_port);
}

static void
check_masters(loader *ld)
{
    config *cfg = ld->cfg;
    for (int i = 0; i < cfg->nmasters; i++) {
        const config_master *m = &cfg->masters[i];
        for (int j = 0; j < i; j++) {
            const config_master *o = &cfg->masters[j];
            if (strcmp(m->address.host, o->address.host) == 0 &&
                m->address.port == o->address.port && m->address.port)
                add_error(ld, m->line, "[master %s] has the same address as "
                          "[master %s] (line %d)", m->name, o->name, o->line);
        }
    }
}

static int
error_order(const void *a, const void *b)
{
    const error_line *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
interpret(loader *ld)
{
    config *cfg = ld->cfg;
    apply_defaults(config_sentinel_keys, config_sentinel_nkeys,
                   &cfg->sentinel);
    section_info *info = load_sections(ld);
    load_keys(ld, info);

    const section_info *sentinel = NULL;
    int sentinel_line = 0;
    for (int i = 0; i < ld->nsecs; i++) {
        if (info[i].kind == SEC_SENTINEL && sentinel == NULL) {
            sentinel = &info[i];
            sentinel_line = ld->secs[i].line;
        } else if (info[i].kind == SEC_MASTER) {
            int empty[64] = {0};
            check_required(ld, ld->secs[i].line, ld->secs[i].name,
                           config_master_keys, config_master_nkeys,
                           info[i].key_lines ? info[i].key_lines : empty);
            /* An explicit quorum was bounded when parsed; a default not. */
            const config_master *m = &cfg->masters[info[i].master];
            if (m->quorum > cfg->npeers && cfg->npeers > 0 &&
                key_line(&info[i], config_master_keys, "quorum") == 0)
                add_error(ld, m->line, "[master %s]: quorum %d (the default) "
                          "is more than the %d monitor%s in [peers]: set "
                          "quorum", m->name, m->quorum, cfg->npeers,
                          cfg->npeers == 1 ? "" : "s");
        }
    }
    check_sentinel(ld, sentinel, sentinel_line);
    check_masters(ld);
    for (int i = 0; i < ld->nsecs; i++)
        free(info[i].key_lines);
    free(info);
}

config *
config_load(const char *path)
{
    config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return NULL;
    cfg->path = xstrdup(path);
    loader ld = {.cfg = cfg, .cur_section = -1};

    ld.fp = fopen(path, "r");
    if (ld.fp == NULL) {
        add_error(&ld, 0, "cannot open: %s", strerror(errno));
    } else {
        int rc = ini_parse_stream(read_line, &ld, on_key, &ld);
        fclose(ld.fp);
        /* Every syntax problem we know of was reported by read_line; this
         * catches anything inih rejects that we did not foresee. */
        bool known = false;
        for (int i = 0; i < ld.nerrs; i++)
            known |= ld.errs[i].line == rc;
        if (rc > 0 && !known)
            add_error(&ld, rc, "syntax error");
        interpret(&ld);
    }

    if (ld.nerrs > 1)
        qsort(ld.errs, (size_t)ld.nerrs, sizeof(*ld.errs), error_order);
    cfg->errors = xrealloc(NULL, sizeof(char *) * (size_t)(ld.nerrs + 1));
    for (int i = 0; i < ld.nerrs; i++)
        cfg->errors[i] = ld.errs[i].text;
    cfg->nerrors = ld.nerrs;
    free(ld.errs);
    for (int i = 0; i < ld.nsecs; i++)
        free(ld.secs[i].name);
    free(ld.secs);
    for (int i = 0; i < ld.nitems; i++) {
        free(ld.items[i].key);
        free(ld.items[i].value);
    }
    free(ld.items);
    return cfg;
}

void
config_free(config *cfg)
{
    if (cfg == NULL)
        return;
    for (int i = 0; i < cfg->nerrors; i++)
        free(cfg->errors[i]);
    free(cfg->errors);
    free(cfg->masters);
    free(cfg->path);
    free(cfg);
}

void
config_print_errors(const config *cfg, FILE *out)
{
    for (int i = 0; i < cfg->nerrors; i++)
        fprintf(out, "%s\n", cfg->errors[i]);
}

const config_peer *
config_find_peer(const config *cfg, const char *id)
{
    for (int i = 0; i < cfg->npeers; i++)
        if (strcmp(cfg->peers[i].id, id) == 0)
            return &cfg->peers[i];
    return NULL;
}
