/* monitor_info: the INFO parser against real Redis 7.0 replies, each rule
 * of docs/monitoring-info.md as a table row (one Check test per row), the
 * slaveN forms, and every prefix of a real reply in an exact-size buffer so
 * AddressSanitizer sees any read past the end. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "monitor/monitor_info.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fixtures -----------------------------------------------------------
 * Captured from redis-server 7.0.15 on 127.0.0.1: a master on 17380 with
 * two replicas (17381; 17382 with --replica-priority 50) after one SET and
 * one INCR, `redis-cli -p P info` byte for byte; then the master was killed
 * and the replica's Replication section captured 4 s later. */

static const char MASTER_INFO[] =
    "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n"
    "redis_git_dirty:0\r\nredis_build_id:ae4d7c971a948f0\r\n"
    "redis_mode:standalone\r\nos:Linux 6.18.44-fc-v657 x86_64\r\n"
    "arch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\n"
    "multiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\n"
    "gcc_version:12.2.0\r\nprocess_id:20996\r\nprocess_supervised:no\r\n"
    "run_id:c8e58121ccf72410ad148e6c954f6fe9c66939cc\r\ntcp_port:17380\r\n"
    "server_time_usec:1795305989377740\r\nuptime_in_seconds:5\r\n"
    "uptime_in_days:0\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:143877\r\n"
    "executable:/tmp/redis-server\r\nconfig_file:\r\nio_threads_active:0\r\n"
    "\r\n# Clients\r\nconnected_clients:1\r\ncluster_connections:0\r\n"
    "maxclients:10000\r\nclient_recent_max_input_buffer:20480\r\n"
    "client_recent_max_output_buffer:0\r\nblocked_clients:0\r\n"
    "tracking_clients:0\r\nclients_in_timeout_table:0\r\n\r\n# Memory\r\n"
    "used_memory:1106744\r\nused_memory_human:1.06M\r\n"
    "used_memory_rss:7249920\r\nused_memory_rss_human:6.91M\r\n"
    "used_memory_peak:1106744\r\nused_memory_peak_human:1.06M\r\n"
    "used_memory_peak_perc:102.12%\r\nused_memory_overhead:897076\r\n"
    "used_memory_startup:876256\r\nused_memory_dataset:209668\r\n"
    "used_memory_dataset_perc:90.97%\r\nallocator_allocated:1871072\r\n"
    "allocator_active:2039808\r\nallocator_resident:4710400\r\n"
    "total_system_memory:25276510208\r\ntotal_system_memory_human:23.54G\r\n"
    "used_memory_lua:32768\r\nused_memory_vm_eval:32768\r\n"
    "used_memory_lua_human:32.00K\r\nused_memory_scripts_eval:0\r\n"
    "number_of_cached_scripts:0\r\nnumber_of_functions:0\r\n"
    "number_of_libraries:0\r\nused_memory_vm_functions:33792\r\n"
    "used_memory_vm_total:66560\r\nused_memory_vm_total_human:65.00K\r\n"
    "used_memory_functions:200\r\nused_memory_scripts:200\r\n"
    "used_memory_scripts_human:200B\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\n"
    "maxmemory_policy:noeviction\r\nallocator_frag_ratio:1.09\r\n"
    "allocator_frag_bytes:168736\r\nallocator_rss_ratio:2.31\r\n"
    "allocator_rss_bytes:2670592\r\nrss_overhead_ratio:1.54\r\n"
    "rss_overhead_bytes:2539520\r\nmem_fragmentation_ratio:7.07\r\n"
    "mem_fragmentation_bytes:6224720\r\nmem_not_counted_for_evict:0\r\n"
    "mem_replication_backlog:20508\r\nmem_total_replication_buffers:20504\r\n"
    "mem_clients_slaves:0\r\nmem_clients_normal:0\r\nmem_cluster_links:0\r\n"
    "mem_aof_buffer:0\r\nmem_allocator:jemalloc-5.3.0\r\n"
    "active_defrag_running:0\r\nlazyfree_pending_objects:0\r\n"
    "lazyfreed_objects:0\r\n\r\n# Persistence\r\nloading:0\r\n"
    "async_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\n"
    "current_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\n"
    "current_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\n"
    "rdb_changes_since_last_save:2\r\nrdb_bgsave_in_progress:0\r\n"
    "rdb_last_save_time:1795305984\r\nrdb_last_bgsave_status:ok\r\n"
    "rdb_last_bgsave_time_sec:0\r\nrdb_current_bgsave_time_sec:-1\r\n"
    "rdb_saves:0\r\nrdb_last_cow_size:344064\r\n"
    "rdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\n"
    "aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n"
    "aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\n"
    "aof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\n"
    "aof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\n"
    "aof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\n"
    "module_fork_last_cow_size:0\r\n\r\n# Stats\r\n"
    "total_connections_received:5\r\ntotal_commands_processed:14\r\n"
    "instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:508\r\n"
    "total_net_output_bytes:591\r\ntotal_net_repl_input_bytes:0\r\n"
    "total_net_repl_output_bytes:548\r\ninstantaneous_input_kbps:0.00\r\n"
    "instantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\n"
    "instantaneous_output_repl_kbps:0.00\r\nrejected_connections:0\r\n"
    "sync_full:2\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\n"
    "expired_keys:0\r\nexpired_stale_perc:0.00\r\n"
    "expired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\n"
    "evicted_keys:0\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\n"
    "current_eviction_exceeded_time:0\r\nkeyspace_hits:0\r\n"
    "keyspace_misses:0\r\npubsub_channels:0\r\npubsub_patterns:0\r\n"
    "pubsubshard_channels:0\r\nlatest_fork_usec:503\r\ntotal_forks:1\r\n"
    "migrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\n"
    "active_defrag_hits:0\r\nactive_defrag_misses:0\r\n"
    "active_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\n"
    "total_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\n"
    "tracking_total_keys:0\r\ntracking_total_items:0\r\n"
    "tracking_total_prefixes:0\r\nunexpected_error_replies:0\r\n"
    "total_error_replies:0\r\ndump_payload_sanitizations:0\r\n"
    "total_reads_processed:17\r\ntotal_writes_processed:10\r\n"
    "io_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\n"
    "reply_buffer_shrinks:2\r\nreply_buffer_expands:0\r\n\r\n# Replication\r\n"
    "role:master\r\nconnected_slaves:2\r\n"
    "slave0:ip=127.0.0.1,port=17381,state=online,offset=71,lag=0\r\n"
    "slave1:ip=127.0.0.1,port=17382,state=online,offset=71,lag=0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:ea1d87bb8c8863f37b0455b334f62b3e845a03b1\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:71\r\nsecond_repl_offset:-1\r\n"
    "repl_backlog_active:1\r\nrepl_backlog_size:1048576\r\n"
    "repl_backlog_first_byte_offset:1\r\nrepl_backlog_histlen:71\r\n\r\n"
    "# CPU\r\nused_cpu_sys:0.009787\r\nused_cpu_user:0.003268\r\n"
    "used_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.002613\r\n"
    "used_cpu_sys_main_thread:0.009758\r\n"
    "used_cpu_user_main_thread:0.003258\r\n\r\n# Modules\r\n\r\n"
    "# Errorstats\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n"
    "db0:keys=2,expires=0,avg_ttl=0\r\n";

static const char REPLICA_INFO[] =
    "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n"
    "redis_git_dirty:0\r\nredis_build_id:ae4d7c971a948f0\r\n"
    "redis_mode:standalone\r\nos:Linux 6.18.44-fc-v657 x86_64\r\n"
    "arch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\n"
    "multiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\n"
    "gcc_version:12.2.0\r\nprocess_id:21002\r\nprocess_supervised:no\r\n"
    "run_id:d59f0777702e48026dc692140a5dea962af2d408\r\ntcp_port:17381\r\n"
    "server_time_usec:1795305989386183\r\nuptime_in_seconds:5\r\n"
    "uptime_in_days:0\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:143877\r\n"
    "executable:/tmp/redis-server\r\nconfig_file:\r\nio_threads_active:0\r\n"
    "\r\n# Clients\r\nconnected_clients:2\r\ncluster_connections:0\r\n"
    "maxclients:10000\r\nclient_recent_max_input_buffer:8\r\n"
    "client_recent_max_output_buffer:0\r\nblocked_clients:0\r\n"
    "tracking_clients:0\r\nclients_in_timeout_table:0\r\n\r\n# Memory\r\n"
    "used_memory:935080\r\nused_memory_human:913.16K\r\n"
    "used_memory_rss:6762496\r\nused_memory_rss_human:6.45M\r\n"
    "used_memory_peak:935080\r\nused_memory_peak_human:913.16K\r\n"
    "used_memory_peak_perc:102.52%\r\nused_memory_overhead:893916\r\n"
    "used_memory_startup:876408\r\nused_memory_dataset:41164\r\n"
    "used_memory_dataset_perc:70.16%\r\nallocator_allocated:1690848\r\n"
    "allocator_active:1826816\r\nallocator_resident:4497408\r\n"
    "total_system_memory:25276510208\r\ntotal_system_memory_human:23.54G\r\n"
    "used_memory_lua:32768\r\nused_memory_vm_eval:32768\r\n"
    "used_memory_lua_human:32.00K\r\nused_memory_scripts_eval:0\r\n"
    "number_of_cached_scripts:0\r\nnumber_of_functions:0\r\n"
    "number_of_libraries:0\r\nused_memory_vm_functions:33792\r\n"
    "used_memory_vm_total:66560\r\nused_memory_vm_total_human:65.00K\r\n"
    "used_memory_functions:200\r\nused_memory_scripts:200\r\n"
    "used_memory_scripts_human:200B\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\n"
    "maxmemory_policy:noeviction\r\nallocator_frag_ratio:1.08\r\n"
    "allocator_frag_bytes:135968\r\nallocator_rss_ratio:2.46\r\n"
    "allocator_rss_bytes:2670592\r\nrss_overhead_ratio:1.50\r\n"
    "rss_overhead_bytes:2265088\r\nmem_fragmentation_ratio:7.56\r\n"
    "mem_fragmentation_bytes:5868048\r\nmem_not_counted_for_evict:0\r\n"
    "mem_replication_backlog:4\r\nmem_total_replication_buffers:0\r\n"
    "mem_clients_slaves:0\r\nmem_clients_normal:17160\r\n"
    "mem_cluster_links:0\r\nmem_aof_buffer:0\r\n"
    "mem_allocator:jemalloc-5.3.0\r\nactive_defrag_running:0\r\n"
    "lazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n\r\n"
    "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\n"
    "current_cow_size:0\r\ncurrent_cow_size_age:0\r\n"
    "current_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\n"
    "current_save_keys_total:0\r\nrdb_changes_since_last_save:0\r\n"
    "rdb_bgsave_in_progress:0\r\nrdb_last_save_time:1795305984\r\n"
    "rdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:-1\r\n"
    "rdb_current_bgsave_time_sec:-1\r\nrdb_saves:0\r\nrdb_last_cow_size:0\r\n"
    "rdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:2\r\n"
    "aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n"
    "aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\n"
    "aof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\n"
    "aof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\n"
    "aof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\n"
    "module_fork_last_cow_size:0\r\n\r\n# Stats\r\n"
    "total_connections_received:1\r\ntotal_commands_processed:0\r\n"
    "instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:288\r\n"
    "total_net_output_bytes:70\r\ntotal_net_repl_input_bytes:274\r\n"
    "total_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.17\r\n"
    "instantaneous_output_kbps:0.02\r\ninstantaneous_input_repl_kbps:0.17\r\n"
    "instantaneous_output_repl_kbps:0.00\r\nrejected_connections:0\r\n"
    "sync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\n"
    "expired_keys:0\r\nexpired_stale_perc:0.00\r\n"
    "expired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\n"
    "evicted_keys:0\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\n"
    "current_eviction_exceeded_time:0\r\nkeyspace_hits:0\r\n"
    "keyspace_misses:0\r\npubsub_channels:0\r\npubsub_patterns:0\r\n"
    "pubsubshard_channels:0\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\n"
    "migrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\n"
    "active_defrag_hits:0\r\nactive_defrag_misses:0\r\n"
    "active_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\n"
    "total_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\n"
    "tracking_total_keys:0\r\ntracking_total_items:0\r\n"
    "tracking_total_prefixes:0\r\nunexpected_error_replies:0\r\n"
    "total_error_replies:0\r\ndump_payload_sanitizations:0\r\n"
    "total_reads_processed:1\r\ntotal_writes_processed:2\r\n"
    "io_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\n"
    "reply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n\r\n# Replication\r\n"
    "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:17380\r\n"
    "master_link_status:up\r\nmaster_last_io_seconds_ago:0\r\n"
    "master_sync_in_progress:0\r\nslave_read_repl_offset:71\r\n"
    "slave_repl_offset:71\r\nslave_priority:100\r\nslave_read_only:1\r\n"
    "replica_announced:1\r\nconnected_slaves:0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:ea1d87bb8c8863f37b0455b334f62b3e845a03b1\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:71\r\nsecond_repl_offset:-1\r\n"
    "repl_backlog_active:1\r\nrepl_backlog_size:1048576\r\n"
    "repl_backlog_first_byte_offset:72\r\nrepl_backlog_histlen:0\r\n\r\n"
    "# CPU\r\nused_cpu_sys:0.001450\r\nused_cpu_user:0.009474\r\n"
    "used_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n"
    "used_cpu_sys_main_thread:0.005440\r\n"
    "used_cpu_user_main_thread:0.005440\r\n\r\n# Modules\r\n\r\n"
    "# Errorstats\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n"
    "db0:keys=2,expires=0,avg_ttl=0\r\n";

static const char REPLICA_DOWN_INFO[] =
    "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n"
    "master_port:17380\r\nmaster_link_status:down\r\n"
    "master_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:0\r\n"
    "slave_read_repl_offset:71\r\nslave_repl_offset:71\r\n"
    "master_link_down_since_seconds:4\r\nslave_priority:100\r\n"
    "slave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:ea1d87bb8c8863f37b0455b334f62b3e845a03b1\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:71\r\nsecond_repl_offset:-1\r\n"
    "repl_backlog_active:1\r\nrepl_backlog_size:1048576\r\n"
    "repl_backlog_first_byte_offset:72\r\nrepl_backlog_histlen:0\r\n";

/* ---- helpers ------------------------------------------------------------ */

static monitor_info MI; /* ~70 KiB: static, not on the stack */

/* Parses s[0..n) from an exact-size heap copy: a read past n is caught. */
static const monitor_info *
parse_n(const char *s, size_t n)
{
    char *copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    if (n > 0)
        memcpy(copy, s, n);
    monitor_info_parse(copy, n, &MI);
    free(copy);
    return &MI;
}

static const monitor_info *
parse(const char *s)
{
    return parse_n(s, strlen(s));
}

/* The field's value as text, so one table column can hold any type. */
static void
field_text(const monitor_info *mi, mi_field f, char *out, size_t cap)
{
    static const char *const links[] = {"unknown", "up", "down"};
    const long long num[MI_F_COUNT] = {
        [MI_F_LOADING] = mi->loading,
        [MI_F_MASTER_PORT] = mi->master_port,
        [MI_F_MASTER_LINK_DOWN_SINCE] = mi->master_link_down_since_seconds,
        [MI_F_SLAVE_REPL_OFFSET] = mi->slave_repl_offset,
        [MI_F_MASTER_REPL_OFFSET] = mi->master_repl_offset,
        [MI_F_REPLICA_PRIORITY] = mi->replica_priority,
        [MI_F_REPLICA_ANNOUNCED] = mi->replica_announced,
    };
    if (f == MI_F_ROLE)
        snprintf(out, cap, "%s", monitor_info_role_name(mi->role));
    else if (f == MI_F_RUN_ID)
        snprintf(out, cap, "%s", mi->run_id);
    else if (f == MI_F_REDIS_VERSION)
        snprintf(out, cap, "%s %06x", mi->redis_version,
                 (unsigned)mi->version_num);
    else if (f == MI_F_MASTER_HOST)
        snprintf(out, cap, "%s", mi->master_host);
    else if (f == MI_F_MASTER_LINK_STATUS)
        snprintf(out, cap, "%s", links[mi->master_link_status]);
    else
        snprintf(out, cap, "%lld", num[f]);
}

static void
assert_field(const monitor_info *mi, mi_field f, const char *want)
{
    char got[512];
    field_text(mi, f, got, sizeof(got));
    ck_assert_msg(strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"",
                  monitor_info_field_name(f), got, want);
}

static char *
repeat(char ch, size_t n)
{
    static char buf[70000];
    ck_assert_uint_lt(n, sizeof(buf));
    memset(buf, ch, n);
    buf[n] = '\0';
    return buf;
}

/* ---- real replies ------------------------------------------------------- */

START_TEST(real_master)
{
    const monitor_info *mi = parse(MASTER_INFO);
    ck_assert_int_eq(mi->role, MONITOR_ROLE_MASTER);
    ck_assert_str_eq(mi->run_id, "c8e58121ccf72410ad148e6c954f6fe9c66939cc");
    ck_assert_str_eq(mi->redis_version, "7.0.15");
    ck_assert_uint_eq(mi->version_num, 0x07000f);
    ck_assert(!mi->loading);
    ck_assert_int_eq(mi->master_repl_offset, 71);
    ck_assert_uint_eq(mi->present,
                      MI_BIT(MI_F_ROLE) | MI_BIT(MI_F_RUN_ID) |
                          MI_BIT(MI_F_REDIS_VERSION) | MI_BIT(MI_F_LOADING) |
                          MI_BIT(MI_F_MASTER_REPL_OFFSET));
    ck_assert_uint_eq(mi->malformed, 0);
    ck_assert_uint_eq(mi->bad_lines, 0);
    /* a master sends no replica-side lines: defaults */
    ck_assert_int_eq(mi->replica_priority, 100);
    ck_assert(mi->replica_announced);
    ck_assert_int_eq(mi->master_link_down_since_seconds, -1);
    ck_assert_int_eq(mi->nreplicas, 2);
    for (size_t i = 0; i < 2; i++) {
        const monitor_info_replica *r = &mi->replicas[i];
        ck_assert_uint_eq(r->slot, i);
        ck_assert_str_eq(r->ip, "127.0.0.1");
        ck_assert_int_eq(r->port, 17381 + (int)i);
        ck_assert_int_eq(r->state, MI_REPL_STATE_ONLINE);
        ck_assert_int_eq(r->offset, 71);
        ck_assert_int_eq(r->lag, 0);
        ck_assert(!r->old_format);
    }
    ck_assert_uint_eq(mi->replicas_dropped + mi->replicas_rejected, 0);
}
END_TEST

START_TEST(real_replica)
{
    const monitor_info *mi = parse(REPLICA_INFO);
    ck_assert_int_eq(mi->role, MONITOR_ROLE_SLAVE);
    ck_assert_str_eq(mi->run_id, "d59f0777702e48026dc692140a5dea962af2d408");
    ck_assert_str_eq(mi->master_host, "127.0.0.1");
    ck_assert_int_eq(mi->master_port, 17380);
    ck_assert_int_eq(mi->master_link_status, MI_LINK_UP);
    ck_assert_int_eq(mi->master_link_down_since_seconds, -1);
    ck_assert(!(mi->present & MI_BIT(MI_F_MASTER_LINK_DOWN_SINCE)));
    ck_assert_int_eq(mi->slave_repl_offset, 71);
    ck_assert_int_eq(mi->master_repl_offset, 71);
    ck_assert_int_eq(mi->replica_priority, 100);
    ck_assert(mi->present & MI_BIT(MI_F_REPLICA_PRIORITY));
    ck_assert(mi->replica_announced);
    ck_assert_int_eq(mi->nreplicas, 0);
    ck_assert_uint_eq(mi->malformed, 0);
    ck_assert_uint_eq(mi->bad_lines, 0);
}
END_TEST

/* Every prefix of a real reply, each in an exact-size buffer: whatever is
 * cut, nothing is read past the end and a complete line is never lost. */
START_TEST(real_prefixes)
{
    const char *texts[] = {MASTER_INFO, REPLICA_INFO};
    for (size_t t = 0; t < COUNT(texts); t++) {
        size_t n = strlen(texts[t]);
        for (size_t k = 0; k <= n; k++) {
            const monitor_info *mi = parse_n(texts[t], k);
            ck_assert_int_le(mi->nreplicas, 2);
            ck_assert_uint_eq(mi->malformed & ~mi->present, 0);
            /* once the prefix holds the whole role value, it is read */
            const char *role = strstr(texts[t], "role:");
            size_t end = (size_t)(role - texts[t]) + strcspn(role, "\r");
            ck_assert(k < end || mi->role != MONITOR_ROLE_UNKNOWN);
        }
    }
}
END_TEST

/* ---- one line, one field -------------------------------------------------
 * ok: 1 valid, 0 malformed (the field is then at its default). */

static const struct field_case {
    const char *line;
    mi_field field;
    int ok;
    const char *want;
} FIELD_CASES[] = {
    {"role:master", MI_F_ROLE, 1, "master"},
    {"role:slave", MI_F_ROLE, 1, "slave"},
    {"role:", MI_F_ROLE, 0, "unknown"},
    {"role:masterx", MI_F_ROLE, 0, "unknown"},  /* Sentinel: master */
    {"role:MASTER", MI_F_ROLE, 0, "unknown"},
    {"role: master", MI_F_ROLE, 0, "unknown"},
    {"role:replica", MI_F_ROLE, 0, "unknown"},
    {"run_id:0123456789abcdef0123456789abcdef01234567", MI_F_RUN_ID, 1,
     "0123456789abcdef0123456789abcdef01234567"},
    {"run_id:0123456789ABCDEF0123456789ABCDEF01234567", MI_F_RUN_ID, 1,
     "0123456789abcdef0123456789abcdef01234567"},
    {"run_id:0123456789abcdef0123456789abcdef0123456", MI_F_RUN_ID, 0, ""},
    {"run_id:0123456789abcdef0123456789abcdef012345678", MI_F_RUN_ID, 0, ""},
    {"run_id:0123456789abcdef0123456789abcdef0123456g", MI_F_RUN_ID, 0, ""},
    {"run_id:", MI_F_RUN_ID, 0, ""},
    {"redis_version:7.0.15", MI_F_REDIS_VERSION, 1, "7.0.15 07000f"},
    {"redis_version:255.255.255", MI_F_REDIS_VERSION, 1, "255.255.255 ffffff"},
    {"redis_version:7.2", MI_F_REDIS_VERSION, 1, "7.2 000000"},
    {"redis_version:7.2.4.1", MI_F_REDIS_VERSION, 1, "7.2.4.1 000000"},
    {"redis_version:256.0.0", MI_F_REDIS_VERSION, 1, "256.0.0 000000"},
    {"redis_version:7.-0.1", MI_F_REDIS_VERSION, 1, "7.-0.1 000000"},
    {"redis_version:7.2.4-rc1", MI_F_REDIS_VERSION, 1, "7.2.4-rc1 000000"},
    {"redis_version:7.0 15", MI_F_REDIS_VERSION, 0, " 000000"},
    {"redis_version:", MI_F_REDIS_VERSION, 0, " 000000"},
    {"redis_version:1234567890123456789012345678901", MI_F_REDIS_VERSION, 1,
     "1234567890123456789012345678901 000000"},
    {"redis_version:12345678901234567890123456789012", MI_F_REDIS_VERSION, 0,
     " 000000"},
    {"loading:0", MI_F_LOADING, 1, "0"},
    {"loading:1", MI_F_LOADING, 1, "1"},
    {"loading:01", MI_F_LOADING, 1, "1"},
    {"loading:2", MI_F_LOADING, 0, "0"},
    {"loading:-1", MI_F_LOADING, 0, "0"},
    {"loading:", MI_F_LOADING, 0, "0"},
    {"master_host:10.0.0.1", MI_F_MASTER_HOST, 1, "10.0.0.1"},
    {"master_host:::1", MI_F_MASTER_HOST, 1, "::1"},
    {"master_host:fe80::1%eth0", MI_F_MASTER_HOST, 1, "fe80::1%eth0"},
    {"master_host:redis-1_a.example.com", MI_F_MASTER_HOST, 1,
     "redis-1_a.example.com"},
    {"master_host:", MI_F_MASTER_HOST, 0, ""},
    {"master_host:a b", MI_F_MASTER_HOST, 0, ""},
    {"master_host:a,b", MI_F_MASTER_HOST, 0, ""},
    {"master_host:h\x1b[2J", MI_F_MASTER_HOST, 0, ""},
    {"master_host:h\xc3\xa9", MI_F_MASTER_HOST, 0, ""},
    {"master_port:6379", MI_F_MASTER_PORT, 1, "6379"},
    {"master_port:1", MI_F_MASTER_PORT, 1, "1"},
    {"master_port:65535", MI_F_MASTER_PORT, 1, "65535"},
    {"master_port:0", MI_F_MASTER_PORT, 0, "0"},
    {"master_port:65536", MI_F_MASTER_PORT, 0, "0"},
    {"master_port:-1", MI_F_MASTER_PORT, 0, "0"},
    {"master_port:+6379", MI_F_MASTER_PORT, 0, "0"},
    {"master_port:63 79", MI_F_MASTER_PORT, 0, "0"},
    {"master_port:6379 ", MI_F_MASTER_PORT, 0, "0"},
    {"master_port:6379x", MI_F_MASTER_PORT, 0, "0"},
    {"master_port:0x18eb", MI_F_MASTER_PORT, 0, "0"},
    {"master_port:", MI_F_MASTER_PORT, 0, "0"},
    {"master_port:99999999999999999999999999", MI_F_MASTER_PORT, 0, "0"},
    {"master_link_status:up", MI_F_MASTER_LINK_STATUS, 1, "up"},
    {"master_link_status:down", MI_F_MASTER_LINK_STATUS, 1, "down"},
    {"master_link_status:UP", MI_F_MASTER_LINK_STATUS, 0, "unknown"},
    {"master_link_status:", MI_F_MASTER_LINK_STATUS, 0, "unknown"},
    {"master_link_status:upp", MI_F_MASTER_LINK_STATUS, 0, "unknown"},
    {"master_link_down_since_seconds:4", MI_F_MASTER_LINK_DOWN_SINCE, 1, "4"},
    {"master_link_down_since_seconds:0", MI_F_MASTER_LINK_DOWN_SINCE, 1, "0"},
    {"master_link_down_since_seconds:-1", MI_F_MASTER_LINK_DOWN_SINCE, 1,
     "-1"},
    {"master_link_down_since_seconds:-2", MI_F_MASTER_LINK_DOWN_SINCE, 0,
     "-1"},
    {"master_link_down_since_seconds:-0", MI_F_MASTER_LINK_DOWN_SINCE, 1, "0"},
    {"master_link_down_since_seconds:9223372036854775",
     MI_F_MASTER_LINK_DOWN_SINCE, 1, "9223372036854775"},
    {"master_link_down_since_seconds:9223372036854776",
     MI_F_MASTER_LINK_DOWN_SINCE, 0, "-1"},
    {"master_link_down_since_seconds:9223372036854775807",
     MI_F_MASTER_LINK_DOWN_SINCE, 0, "-1"},
    {"master_link_down_since_seconds:9223372036854775808",
     MI_F_MASTER_LINK_DOWN_SINCE, 0, "-1"},
    {"master_link_down_since_seconds:-9223372036854775808",
     MI_F_MASTER_LINK_DOWN_SINCE, 0, "-1"},
    {"master_link_down_since_seconds:1.5", MI_F_MASTER_LINK_DOWN_SINCE, 0,
     "-1"},
    {"slave_repl_offset:0", MI_F_SLAVE_REPL_OFFSET, 1, "0"},
    {"slave_repl_offset:9223372036854775807", MI_F_SLAVE_REPL_OFFSET, 1,
     "9223372036854775807"},
    {"slave_repl_offset:9223372036854775808", MI_F_SLAVE_REPL_OFFSET, 0, "0"},
    {"slave_repl_offset:18446744073709551617", MI_F_SLAVE_REPL_OFFSET, 0,
     "0"},
    {"slave_repl_offset:-1", MI_F_SLAVE_REPL_OFFSET, 0, "0"},
    {"slave_repl_offset:00000000000000000000000000000042",
     MI_F_SLAVE_REPL_OFFSET, 1, "42"},
    {"master_repl_offset:123456", MI_F_MASTER_REPL_OFFSET, 1, "123456"},
    {"slave_priority:0", MI_F_REPLICA_PRIORITY, 1, "0"},
    {"slave_priority:50", MI_F_REPLICA_PRIORITY, 1, "50"},
    {"slave_priority:2147483647", MI_F_REPLICA_PRIORITY, 1, "2147483647"},
    {"slave_priority:2147483648", MI_F_REPLICA_PRIORITY, 0, "100"},
    {"slave_priority:-1", MI_F_REPLICA_PRIORITY, 0, "100"},
    {"replica_priority:7", MI_F_REPLICA_PRIORITY, 1, "7"},
    {"replica_announced:0", MI_F_REPLICA_ANNOUNCED, 1, "0"},
    {"replica_announced:1", MI_F_REPLICA_ANNOUNCED, 1, "1"},
    {"replica_announced:2", MI_F_REPLICA_ANNOUNCED, 0, "1"},
    {"replica_announced:yes", MI_F_REPLICA_ANNOUNCED, 0, "1"},
};

START_TEST(field_rule)
{
    const struct field_case *fc = &FIELD_CASES[_i];
    char text[256];
    /* alone and CRLF-terminated, then with LF only: the same answer */
    for (int form = 0; form < 2; form++) {
        snprintf(text, sizeof(text), "%s%s", fc->line, form ? "\n" : "\r\n");
        const monitor_info *mi = parse(text);
        uint32_t bit = MI_BIT(fc->field);
        ck_assert_msg(mi->present == bit, "%s: present %x", fc->line,
                      mi->present);
        ck_assert_msg((mi->malformed == 0) == (fc->ok == 1),
                      "%s: malformed %x", fc->line, mi->malformed);
        ck_assert_uint_eq(mi->bad_lines, 0);
        assert_field(mi, fc->field, fc->want);
    }
}
END_TEST

/* Overlong values: rejected whole, never truncated into another host. */
START_TEST(overlong_values)
{
    char text[70100];
    snprintf(text, sizeof(text), "master_host:%s\r\n", repeat('a', 255));
    ck_assert_uint_eq(strlen(parse(text)->master_host), 255);
    snprintf(text, sizeof(text), "master_host:%s\r\n", repeat('a', 256));
    ck_assert_str_eq(parse(text)->master_host, "");
    ck_assert_uint_eq(MI.malformed, MI_BIT(MI_F_MASTER_HOST));
    /* a 64 KiB line of anything, then a normal line */
    snprintf(text, sizeof(text), "x%s\r\nrole:slave\r\n", repeat(':', 65536));
    ck_assert_int_eq(parse(text)->role, MONITOR_ROLE_SLAVE);
    snprintf(text, sizeof(text), "master_port:%s1\r\n", repeat('0', 65536));
    ck_assert_int_eq(parse(text)->master_port, 1);
    snprintf(text, sizeof(text), "master_port:%s\r\n", repeat('9', 65536));
    ck_assert_int_eq(parse(text)->master_port, 0);
    ck_assert_uint_eq(MI.malformed, MI_BIT(MI_F_MASTER_PORT));
}
END_TEST

/* ---- whole texts ---------------------------------------------------------
 * Each row: the text (explicit length, NULs allowed), then one field to
 * check, its expected state and value, and the expected bad_lines. */

#define T(s) s, sizeof(s) - 1

static const struct text_case {
    const char *name;
    const char *text;
    size_t len;
    mi_field field;
    int state; /* 0 absent, 1 valid, 2 malformed */
    const char *want;
    unsigned bad_lines;
} TEXT_CASES[] = {
    {"empty", T(""), MI_F_ROLE, 0, "unknown", 0},
    {"blank lines", T("\r\n\n\r\n\r"), MI_F_ROLE, 0, "unknown", 0},
    {"last wins", T("role:master\r\nrole:slave\r\n"), MI_F_ROLE, 1, "slave",
     0},
    {"last wins even if malformed", T("master_port:6379\r\nmaster_port:x\r\n"),
     MI_F_MASTER_PORT, 2, "0", 0},
    {"valid after malformed", T("master_port:x\r\nmaster_port:6380\r\n"),
     MI_F_MASTER_PORT, 1, "6380", 0},
    {"alias shares the field", T("slave_priority:5\r\nreplica_priority:6\r\n"),
     MI_F_REPLICA_PRIORITY, 1, "6", 0},
    {"LF only", T("loading:1\nrole:slave\n"), MI_F_ROLE, 1, "slave", 0},
    {"no terminator", T("role:slave\r\nmaster_repl_offset:5"),
     MI_F_MASTER_REPL_OFFSET, 1, "5", 0},
    {"CR but no LF at end", T("master_repl_offset:5\r"),
     MI_F_MASTER_REPL_OFFSET, 1, "5", 0},
    {"two CRs", T("master_repl_offset:5\r\r\n"), MI_F_MASTER_REPL_OFFSET, 2,
     "0", 0},
    {"CR alone does not end a line", T("loading:1\rrole:slave\r\n"),
     MI_F_LOADING, 2, "0", 0},
    {"NUL in value", T("role:mas\0ter\r\nloading:1\r\n"), MI_F_ROLE, 0,
     "unknown", 1},
    {"NUL at value end", T("role:master\0\r\n"), MI_F_ROLE, 0, "unknown", 1},
    {"NUL then valid line", T("x\0y:z\r\nrole:slave\r\n"), MI_F_ROLE, 1,
     "slave", 1},
    {"NUL line ends nothing", T("\0\r\nrole:slave"), MI_F_ROLE, 1, "slave", 1},
    {"no colon", T("role master\r\njunk\r\nloading:1\r\n"), MI_F_LOADING, 1,
     "1", 2},
    {"headers ignored", T("# Replication\r\n#role:master\r\n#\r\n"), MI_F_ROLE,
     0, "unknown", 0},
    {"keys are case-sensitive", T("Role:master\r\n"), MI_F_ROLE, 0, "unknown",
     0},
    {"no blanks around key", T(" role:master\r\nrole :master\r\n"), MI_F_ROLE,
     0, "unknown", 0},
    {"unknown keys ignored", T("rolex:master\r\nro:master\r\nx:y:z\r\n"),
     MI_F_ROLE, 0, "unknown", 0},
    {"value keeps later colons", T("master_host:fe80::1\r\n"),
     MI_F_MASTER_HOST, 1, "fe80::1", 0},
    {"sections do not matter", T("# Keyspace\r\nrole:slave\r\n"), MI_F_ROLE, 1,
     "slave", 0},
    {"real replica, link down", T(REPLICA_DOWN_INFO),
     MI_F_MASTER_LINK_STATUS, 1, "down", 0},
    {"real replica, down since", T(REPLICA_DOWN_INFO),
     MI_F_MASTER_LINK_DOWN_SINCE, 1, "4", 0},
};

START_TEST(text_rule)
{
    const struct text_case *tc = &TEXT_CASES[_i];
    const monitor_info *mi = parse_n(tc->text, tc->len);
    uint32_t bit = MI_BIT(tc->field);
    int state = !(mi->present & bit) ? 0 : (mi->malformed & bit) ? 2 : 1;
    ck_assert_msg(state == tc->state, "%s: state %d", tc->name, state);
    ck_assert_msg(mi->bad_lines == tc->bad_lines, "%s: bad_lines %u",
                  tc->name, mi->bad_lines);
    assert_field(mi, tc->field, tc->want);
}
END_TEST

/* No text at all; and the length, not a NUL, is the end: a valid line cut
 * by len is judged cut. */
START_TEST(edges)
{
    monitor_info_parse(NULL, 0, &MI);
    ck_assert_uint_eq(MI.present, 0);
    ck_assert_int_eq(MI.replica_priority, MI_PRIORITY_DEFAULT);
    ck_assert(MI.replica_announced);
    ck_assert_int_eq(MI.master_link_down_since_seconds, -1);
    ck_assert_int_eq(parse_n("role:master", 6)->role, MONITOR_ROLE_UNKNOWN);
    ck_assert_uint_eq(MI.malformed, MI_BIT(MI_F_ROLE));
    ck_assert_int_eq(parse_n("master_port:6379", 14)->master_port, 63);
    ck_assert_str_eq(monitor_info_field_name(MI_F_COUNT), "?");
    ck_assert_str_eq(monitor_info_field_name(MI_F_REPLICA_PRIORITY),
                     "slave_priority");
    ck_assert_str_eq(monitor_info_role_name((monitor_role)42), "unknown");
}
END_TEST

/* ---- slaveN lines --------------------------------------------------------
 * Accepted lines; state is an MI_REPL_STATE_*, an offset or lag of -1 means
 * "not given". */

static const struct replica_case {
    const char *line;
    const char *ip;
    int port, state;
    long long offset, lag;
    int old;
} REPLICA_CASES[] = {
    {"slave0:ip=10.0.0.2,port=6380,state=online,offset=123,lag=1", "10.0.0.2",
     6380, MI_REPL_STATE_ONLINE, 123, 1, 0},
    {"slave0:ip=h,port=6380,state=wait_bgsave,offset=0,lag=0", "h", 6380,
     MI_REPL_STATE_WAIT_BGSAVE, 0, 0, 0},
    {"slave0:ip=h,port=6380,state=send_bulk,offset=0,lag=3", "h", 6380,
     MI_REPL_STATE_SEND_BULK, 0, 3, 0},
    {"slave0:lag=2,offset=9,state=online,port=6380,ip=h", "h", 6380,
     MI_REPL_STATE_ONLINE, 9, 2, 0},
    {"slave0:ip=h,port=1", "h", 1, MI_REPL_STATE_NONE, -1, -1, 0},
    {"slave0:ip=h,port=1,state=", "h", 1, MI_REPL_STATE_NONE, -1, -1, 0},
    {"slave0:ip=h,port=1,state=rdb_done", "h", 1, MI_REPL_STATE_OTHER, -1, -1,
     0},
    {"slave0:ip=h,port=1,state=ONLINE", "h", 1, MI_REPL_STATE_OTHER, -1, -1,
     0},
    {"slave0:ip=h,port=1,offset=-5,lag=x", "h", 1, MI_REPL_STATE_NONE, -1, -1,
     0},
    {"slave0:ip=h,port=1,offset=9223372036854775808", "h", 1,
     MI_REPL_STATE_NONE, -1, -1, 0},
    {"slave0:ip=a,ip=b,port=1,port=2", "b", 2, MI_REPL_STATE_NONE, -1, -1, 0},
    {"slave0:junk,,ip=::1,=x,port=65535,foo=bar,", "::1", 65535,
     MI_REPL_STATE_NONE, -1, -1, 0},
    /* Redis < 2.8 */
    {"slave0:10.0.0.2,6380,online", "10.0.0.2", 6380, MI_REPL_STATE_ONLINE, -1,
     -1, 1},
    {"slave0:h,6380,wait_bgsave", "h", 6380, MI_REPL_STATE_WAIT_BGSAVE, -1, -1,
     1},
    {"slave0:h,6380,online,extra,more", "h", 6380, MI_REPL_STATE_ONLINE, -1,
     -1, 1},
    {"slave0:h,6380", "h", 6380, MI_REPL_STATE_NONE, -1, -1, 1},
    {"slave0:::1,6380,online", "::1", 6380, MI_REPL_STATE_ONLINE, -1, -1, 1},
};

START_TEST(replica_rule)
{
    const struct replica_case *rc = &REPLICA_CASES[_i];
    char text[256];
    snprintf(text, sizeof(text), "%s\r\n", rc->line);
    const monitor_info *mi = parse(text);
    ck_assert_uint_eq(mi->present | mi->bad_lines | mi->replicas_rejected, 0);
    ck_assert_msg(mi->nreplicas == 1, "%s: %d entries", rc->line,
                  mi->nreplicas);
    const monitor_info_replica *r = &mi->replicas[0];
    ck_assert_uint_eq(r->slot, 0);
    ck_assert_str_eq(r->ip, rc->ip);
    ck_assert_int_eq(r->port, rc->port);
    ck_assert_int_eq(r->state, rc->state);
    ck_assert_int_eq(r->offset, rc->offset);
    ck_assert_int_eq(r->lag, rc->lag);
    ck_assert_int_eq(r->old_format, rc->old);
}
END_TEST

/* Lines without a valid ip and port: counted, no entry. */
static const char *const REJECTED_REPLICAS[] = {
    "slave0:ip=h,port=1,ip=", "slave0:ip=h", "slave0:port=1",
    "slave0:xip=h,port=1", /* Sentinel's strstr() would take ip "h" */
    "slave0:ip=h,port=0", "slave0:ip=h,port=65536", "slave0:ip=h,port=6379x",
    "slave0:ip=a b,port=1", "slave0:ip=a\rb,port=1", "slave0:", "slave0:=",
    "slave0:10.0.0.2", "slave0:,6380,online", "slave0:10.0.0.2,,online",
    "slave0:10.0.0.2,-6380,online",
};

START_TEST(replica_rejected)
{
    char text[256];
    snprintf(text, sizeof(text), "%s\r\n", REJECTED_REPLICAS[_i]);
    const monitor_info *mi = parse(text);
    ck_assert_msg(mi->nreplicas == 0, "%s", REJECTED_REPLICAS[_i]);
    ck_assert_uint_eq(mi->replicas_rejected, 1);
    ck_assert_uint_eq(mi->present | mi->bad_lines, 0);
}
END_TEST

/* Which keys are replica lines: "slave" and 1..9 digits, nothing else. */
static const struct slot_case {
    const char *key;
    long long slot; /* -1: not a replica line */
} SLOT_CASES[] = {
    {"slave0", 0},       {"slave17", 17},           {"slave01", 1},
    {"slave999999999", 999999999},                  {"slave1234567890", -1},
    {"slave", -1},       {"slavex", -1},            {"slave-1", -1},
    {"slave+1", -1},     {"slave1x", -1},           {"Slave0", -1},
    {"slave_repl_offset", -1},
};

START_TEST(replica_key)
{
    char text[128];
    snprintf(text, sizeof(text), "%s:ip=h,port=1\r\n", SLOT_CASES[_i].key);
    const monitor_info *mi = parse(text);
    long long want = SLOT_CASES[_i].slot;
    ck_assert_msg(mi->nreplicas == (want >= 0), "%s", SLOT_CASES[_i].key);
    if (want >= 0)
        ck_assert_uint_eq(mi->replicas[0].slot, (uint32_t)want);
}
END_TEST

START_TEST(replica_last_wins)
{
    const monitor_info *mi = parse("slave0:ip=a,port=1\r\n"
                                   "slave1:ip=b,port=2\r\n"
                                   "slave0:ip=c,port=3\r\n");
    ck_assert_int_eq(mi->nreplicas, 2);
    ck_assert_str_eq(mi->replicas[0].ip, "c"); /* replaced in place */
    ck_assert_str_eq(mi->replicas[1].ip, "b");
    mi = parse("slave0:ip=a,port=1\r\n"
               "slave1:ip=b,port=2\r\n"
               "slave0:ip=a,port=0\r\n");
    ck_assert_int_eq(mi->nreplicas, 1);
    ck_assert_str_eq(mi->replicas[0].ip, "b");
    ck_assert_uint_eq(mi->replicas_rejected, 1);
}
END_TEST

START_TEST(replica_cap)
{
    static char text[300 * 40 + 64];
    size_t len = 0;
    for (int i = 0; i < 300; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "slave%d:ip=10.0.%d.%d,port=%d\r\n", i,
                                i / 256, i % 256, 1000 + i);
    /* a repeat of a kept slot still replaces it when the table is full */
    snprintf(text + len, sizeof(text) - len, "slave5:ip=h,port=7\r\n");
    const monitor_info *mi = parse(text);
    ck_assert_int_eq(mi->nreplicas, MI_REPLICAS_MAX);
    ck_assert_uint_eq(mi->replicas_dropped, 300 - MI_REPLICAS_MAX);
    ck_assert_uint_eq(mi->replicas_rejected, 0);
    ck_assert_int_eq(mi->replicas[0].port, 1000);
    ck_assert_int_eq(mi->replicas[255].port, 1255);
    ck_assert_str_eq(mi->replicas[5].ip, "h");
}
END_TEST

/* A replica line on a replica (chained replication) is reported too: the
 * caller decides by role, as Sentinel only reads them from masters. */
START_TEST(replica_lines_on_replica)
{
    const monitor_info *mi = parse("role:slave\r\nconnected_slaves:1\r\n"
                                   "slave0:ip=h,port=2,state=online\r\n");
    ck_assert_int_eq(mi->role, MONITOR_ROLE_SLAVE);
    ck_assert_int_eq(mi->nreplicas, 1);
}
END_TEST

static Suite *
monitor_info_suite(void)
{
    Suite *s = suite_create("monitor_info");
    TCase *tc = tcase_create("real");
    tcase_add_test(tc, real_master);
    tcase_add_test(tc, real_replica);
    tcase_add_test(tc, real_prefixes);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("rules");
    tcase_add_loop_test(tc, field_rule, 0, (int)COUNT(FIELD_CASES));
    tcase_add_loop_test(tc, text_rule, 0, (int)COUNT(TEXT_CASES));
    tcase_add_test(tc, overlong_values);
    tcase_add_test(tc, edges);
    suite_add_tcase(s, tc);

    tc = tcase_create("replicas");
    tcase_add_loop_test(tc, replica_rule, 0, (int)COUNT(REPLICA_CASES));
    tcase_add_loop_test(tc, replica_rejected, 0,
                        (int)COUNT(REJECTED_REPLICAS));
    tcase_add_loop_test(tc, replica_key, 0, (int)COUNT(SLOT_CASES));
    tcase_add_test(tc, replica_last_wins);
    tcase_add_test(tc, replica_cap);
    tcase_add_test(tc, replica_lines_on_replica);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(monitor_info_suite());
}
