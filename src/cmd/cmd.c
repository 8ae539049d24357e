#include "cmd/cmd.h"

void
cmd_write_done(void *arg, const topo_result *res)
{
    admin_deferred *d = arg;
    admin_client *c = admin_deferred_client(d);
    if (c) {
        if (res->ok)
            admin_reply_ok(c);
        else
            admin_reply_error(c, res->error);
    }
    admin_deferred_done(d);
}

bool
cmd_readable(admin_client *c, const cmd_ctx *x)
{
    if (node_readable(x->n))
        return true;
    admin_reply_error(c, "-NOQUORUM this monitor is cut off from the group "
                         "(stale_reads no); ask another monitor");
    return false;
}

int
cmd_register(admin_server *s, cmd_ctx *ctx)
{
    if (admin_server_register(s, cmd_sentinel_table, cmd_sentinel_n, ctx) ||
        admin_server_register(s, cmd_raft_table, cmd_raft_n, ctx) ||
        admin_server_register(s, cmd_info_table, cmd_info_n, ctx))
        return -1;
    return 0;
}
