/*
 * config_schema.h -- the tables behind config.c: one row per key with its
 * type, default, bounds, reloadability and one-line doc.  Parsing,
 * defaults, validation, printing, CONFIG GET and the docs test all read
 * these rows, so a key is added in exactly one place.
 */
#ifndef CONFIG_SCHEMA_H
#define CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

typedef enum config_type {
    CT_STRING,      /* free text */
    CT_SECRET,      /* free text, masked when printed */
    CT_ID,          /* [A-Za-z0-9_.-]{1,64} */
    CT_INT,         /* decimal integer within [min, max] */
    CT_PORT,        /* 1..65535; "" allowed where the default is derived */
    CT_BOOL,        /* yes | no */
    CT_LOGLEVEL,    /* debug | verbose | notice | warning */
    CT_ADDR,        /* host:port or [v6]:port */
    CT_BIND,        /* one or more IP addresses, space separated */
    CT_SCRIPT       /* path to an executable file, or empty */
} config_type;

typedef struct config_key {
    const char *name;
    config_type type;
    size_t offset;          /* of the field in its section struct */
    size_t size;            /* of that field (bounds strings) */
    const char *def;        /* default as text; NULL = required */
    long min, max;          /* for CT_INT */
    bool max_is_peers;      /* max is the number of [peers] (quorum) */
    bool reloadable;        /* SIGHUP may change it */
    const char *sentinel_name;  /* Redis Sentinel's option name, if any */
    const char *doc;
} config_key;

extern const config_key config_sentinel_keys[];
extern const size_t config_sentinel_nkeys;
extern const config_key config_master_keys[];
extern const size_t config_master_nkeys;

const config_key *config_key_find(const config_key *table, size_t n,
                                  const char *name);

/* Parses text into the field k describes inside base.  max overrides
 * k->max when k->max_is_peers.  Returns NULL on success, otherwise what was
 * expected, written into why. */
const char *config_value_parse(const config_key *k, const char *text,
                               void *base, long max, char *why,
                               size_t whylen);

/* Formats the field as config-file text. */
void config_value_format(const config_key *k, const void *base, char *buf,
                         size_t len, bool show_secrets);

/* Human-readable description of what the key accepts, e.g.
 * "an integer from 1 to 3". */
void config_key_expect(const config_key *k, long max, char *buf, size_t len);

#endif
