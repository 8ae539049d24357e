/*
 * config.h -- the daemon's configuration: an INI file read with inih and
 * checked against one schema table per section (config_schema.c).
 *
 * Loading never stops at the first problem: every error of the file is
 * collected as "FILE:LINE: message" so an operator fixes them in one pass.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_ID_MAX 64
#define CONFIG_STR_MAX 200      /* inih's line limit bounds every value */
#define CONFIG_MAX_PEERS 16     /* the Raft core's RAFT_MAX_MEMBERS */
#define CONFIG_MAX_MASTERS 1024
#define CONFIG_MAX_BIND 16

typedef struct config_addr {
    char host[CONFIG_STR_MAX];
    int port;
} config_addr;

typedef struct config_sentinel {
    char id[CONFIG_ID_MAX + 1];
    char bind[CONFIG_STR_MAX];
    int port;
    int raft_port;
    char data_dir[CONFIG_STR_MAX];
    char requirepass[CONFIG_STR_MAX];
    char peer_secret[CONFIG_STR_MAX];
    int log_level;                      /* log_level from util/log.h */
    char log_file[CONFIG_STR_MAX];
    int election_timeout_ms;
    int heartbeat_ms;
    bool stale_reads;
    int snapshot_entries;
    bool join;
    char cluster_name[CONFIG_ID_MAX + 1];
    char announce_ip[CONFIG_STR_MAX];
    int announce_port;
} config_sentinel;

typedef struct config_peer {
    char id[CONFIG_ID_MAX + 1];
    config_addr addr;
    int line;
} config_peer;

typedef struct config_master {
    char name[CONFIG_STR_MAX];
    config_addr address;
    int quorum;
    int down_after_ms;
    int failover_timeout_ms;
    int parallel_syncs;
    char auth_user[CONFIG_STR_MAX];
    char auth_pass[CONFIG_STR_MAX];
    char notification_script[CONFIG_STR_MAX];
    char client_reconfig_script[CONFIG_STR_MAX];
    int line;                           /* of the section header */
} config_master;

typedef struct config {
    char *path;
    config_sentinel sentinel;
    config_peer peers[CONFIG_MAX_PEERS];
    int npeers;
    config_master *masters;
    int nmasters;
    /* Problems found while loading, each "FILE:LINE: message". */
    char **errors;
    int nerrors;
} config;

/* Reads and validates path.  Always returns a config (NULL only when out of
 * memory); it is usable only when nerrors == 0. */
config *config_load(const char *path);
void config_free(config *cfg);

/* Writes every error line, one per line. */
void config_print_errors(const config *cfg, FILE *out);

/* Writes the effective configuration (defaults filled in) as INI text that
 * config_load accepts again.  Secrets are shown as "********" unless
 * show_secrets. */
void config_print(const config *cfg, FILE *out, bool show_secrets);

/* Copies the reloadable [sentinel] settings of next into cur and logs a
 * warning for each non-reloadable one that differs.  Returns how many
 * settings changed. */
int config_apply_reload(config *cur, const config *next);

const config_peer *config_find_peer(const config *cfg, const char *id);

/* "host:port" or "[v6]:port" -> addr.  Returns NULL on success or a short
 * description of what was expected. */
const char *config_parse_addr(const char *text, config_addr *out);

#endif
