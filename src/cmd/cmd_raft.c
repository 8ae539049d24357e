/*
 * cmd_raft.c -- RAFT STATUS and the group's membership commands.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config/config_util.h"

static void
ids(const raft_conf *conf, bool voters, char *out, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < conf->n && o < len; i++)
        if (conf->m[i].voter == voters)
            o += (size_t)snprintf(out + o, len - o, "%s%s", o ? " " : "",
                                  conf->m[i].id.s);
}

static void
raft_status_cmd(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    raft_status st;
    node_status(x->n, &st);
    char voters[RAFT_MAX_MEMBERS * (RAFT_ID_MAX + 1) + 1];
    char learners[sizeof(voters)];
    ids(&st.conf, true, voters, sizeof(voters));
    ids(&st.conf, false, learners, sizeof(learners));
    const topo_member *lm = topo_find_member(node_topo(x->n), st.leader.s);
    node_stats ns;
    node_get_stats(x->n, &ns);

    admin_list l;
    admin_list_init(&l);
    admin_list_kv(&l, "id", st.id.s);
    admin_list_kv(&l, "role", raft_role_name(st.role));
    admin_list_kvf(&l, "term", "%llu", (unsigned long long)st.term);
    admin_list_kv(&l, "leader", st.leader.s);
    admin_list_kvf(&l, "leader_admin", lm ? "%s:%d" : "%s",
                   lm ? lm->admin.host : "", lm ? lm->admin.port : 0);
    admin_list_kv(&l, "vote", st.vote.s);
    admin_list_kvf(&l, "commit_index", "%llu", (unsigned long long)st.commit);
    admin_list_kvf(&l, "applied_index", "%llu",
                   (unsigned long long)st.applied);
    admin_list_kvf(&l, "last_index", "%llu",
                   (unsigned long long)st.last_index);
    admin_list_kvf(&l, "snapshot_index", "%llu",
                   (unsigned long long)st.snap_index);
    admin_list_kv(&l, "members", voters);
    admin_list_kv(&l, "learners", learners);
    admin_list_kvf(&l, "pending_writes", "%d", ns.pending_writes);
    admin_list_kvf(&l, "snapshots_taken", "%llu",
                   (unsigned long long)ns.snapshots_taken);
    admin_list_kvf(&l, "snapshots_installed", "%llu",
                   (unsigned long long)ns.snapshots_installed);
    for (uint32_t i = 0; i < st.n_peers; i++) {
        char key[RAFT_ID_MAX + 16];
        snprintf(key, sizeof(key), "peer_%s", st.peers[i].id.s);
        admin_list_kvf(&l, key, "match=%llu,next=%llu,active=%d,voter=%d",
                       (unsigned long long)st.peers[i].match,
                       (unsigned long long)st.peers[i].next,
                       st.peers[i].recent_active, st.peers[i].voter);
    }
    admin_reply_list(c, &l);
}

static void
raft_transfer(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    if (!config_id_valid(a->argv[2])) {
        admin_reply_error(c, "-ERR invalid monitor id");
        return;
    }
    node_transfer(x->n, a->argv[2], cmd_write_done, admin_defer(c));
}

static void
raft_add_peer(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    config_addr addr;
    if (!config_id_valid(a->argv[2])) {
        admin_reply_error(c, "-ERR invalid monitor id: expected 1 to 64 of "
                             "A-Z a-z 0-9 _ . -");
        return;
    }
    if (config_parse_addr(a->argv[3], &addr) != NULL) {
        admin_reply_error(c, "-ERR invalid address: expected host:port");
        return;
    }
    node_submit_conf(x->n, RAFT_CONF_ADD_LEARNER, a->argv[2], a->argv[3],
                     cmd_write_done, admin_defer(c));
}

static void
raft_remove_peer(admin_client *c, const admin_args *a, void *ctx)
{
    cmd_ctx *x = ctx;
    if (!config_id_valid(a->argv[2])) {
        admin_reply_error(c, "-ERR invalid monitor id");
        return;
    }
    node_submit_conf(x->n, RAFT_CONF_REMOVE, a->argv[2], NULL,
                     cmd_write_done, admin_defer(c));
}

const admin_command cmd_raft_table[] = {
    {"RAFT", "STATUS", 2, 0, raft_status_cmd,
     "-- This monitor's view of the group: role, term, leader, indexes."},
    {"RAFT", "TRANSFER-LEADER", 3, ADMIN_CMD_WRITE, raft_transfer,
     "<id> -- Hand leadership to another voter."},
    {"RAFT", "ADD-PEER", 4, ADMIN_CMD_WRITE, raft_add_peer,
     "<id> <host:port> -- Add a monitor (learner, promoted once caught up)."},
    {"RAFT", "REMOVE-PEER", 3, ADMIN_CMD_WRITE, raft_remove_peer,
     "<id> -- Remove a monitor from the group."},
};
const size_t cmd_raft_n = sizeof(cmd_raft_table) / sizeof(cmd_raft_table[0]);
