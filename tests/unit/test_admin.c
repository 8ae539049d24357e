/* Admin port server, in process (helpers: test_admin_util.c): protocol
 * over real sockets, pipelining, AUTH, errors, HELLO/CLIENT/COMMAND, the
 * command registry, hostile clients and limits, deferred replies, stats.
 * Pub/sub is in test_admin_pubsub.c. */
#include "test_admin_util.c"

/* ---- basics ------------------------------------------------------------ */

START_TEST(test_ping_inline_and_resp)
{
    tc *t = tc_open();
    tc_send(t, "PING\r\n");
    tc_expect(t, "+PONG\r\n");
    tc_send(t, "*1\r\n$4\r\nping\r\n*2\r\n$4\r\nPiNg\r\n$2\r\nhi\r\n");
    tc_expect(t, "+PONG\r\n$2\r\nhi\r\n");
    tc_send(t, "ping \"a b\"\n");
    tc_expect(t, "$3\r\na b\r\n");
    tc_close(t);
}
END_TEST

START_TEST(test_pipelining_order)
{
    tc *t = tc_open();
    char in[8192] = "", want[8192] = "";
    for (int i = 0; i < 200; i++) {
        char cmd[64], rep[64];
        if (i % 3 == 0) {
            snprintf(cmd, sizeof(cmd), "PING %d\r\n", i);
        } else {
            int d = snprintf(rep, sizeof(rep), "%d", i);
            snprintf(cmd, sizeof(cmd), "*2\r\n$4\r\nPING\r\n$%d\r\n%d\r\n", d,
                     i);
        }
        strcat(in, cmd);
        snprintf(rep, sizeof(rep), "$%d\r\n%d\r\n",
                 snprintf(NULL, 0, "%d", i), i);
        strcat(want, rep);
    }
    tc_send(t, in);
    tc_expect(t, want);
    tc_close(t);
}
END_TEST

/* A 300 KB argument is fine, and its buffer is not kept afterwards. */
START_TEST(test_big_request)
{
    tc *t = tc_open();
    size_t n = 300 * 1024;
    char *big = malloc(n + 1);
    memset(big, 'b', n);
    big[n] = '\0';
    char hdr[64];
    snprintf(hdr, sizeof(hdr), "*2\r\n$4\r\nPING\r\n$%zu\r\n", n);
    tc_send(t, hdr);
    tc_send(t, big);
    tc_send(t, "\r\n");
    redisReply *r = tc_reply(t);
    ck_assert_uint_eq(r->len, n);
    freeReplyObject(r);
    tc_send(t, "CLIENT INFO\r\n");
    r = tc_reply(t);
    const char *free_field = strstr(r->str, " qbuf-free=");
    ck_assert_ptr_nonnull(free_field);
    ck_assert_int_lt(atoi(free_field + 11), 64 * 1024);
    freeReplyObject(r);
    free(big);
    tc_close(t);
}
END_TEST

START_TEST(test_unknown_command_and_arity)
{
    tc *t = tc_open();
    tc_send(t, "FOO a b\r\nfoo\r\n");
    tc_expect(t, "-ERR unknown command 'FOO', with args beginning with: "
                 "'a' 'b' \r\n"
                 "-ERR unknown command 'foo', with args beginning with: \r\n");
    /* CR/LF inside an argument cannot break the error line */
    tc_send(t, "*2\r\n$3\r\nBAR\r\n$4\r\nx\r\ny\r\n");
    tc_expect(t, "-ERR unknown command 'BAR', with args beginning with: "
                 "'x  y' \r\n");
    /* names are binary-safe: an embedded NUL is not the end of the name */
    tc_sendn(t, "*1\r\n$8\r\nPING\0xyz\r\n", 18);
    tc_expect(t, "-ERR unknown command 'PING', with args beginning with: \r\n");
    tc_send(t, "PING a b\r\nCLIENT\r\nCLIENT SETNAME\r\nclient nope\r\n");
    tc_expect(t, "-ERR wrong number of arguments for 'ping' command\r\n"
                 "-ERR wrong number of arguments for 'client' command\r\n"
                 "-ERR wrong number of arguments for 'client|setname' "
                 "command\r\n"
                 "-ERR unknown subcommand 'nope'. Try CLIENT HELP.\r\n");
    tc_send(t, "test ctx\r\ntest kv abc\r\n");
    tc_expect(t, "$4\r\nctx!\r\n*4\r\n$3\r\narg\r\n$3\r\nabc\r\n$4\r\nport\r\n"
                 "$4\r\n6379\r\n");
    tc_close(t);
}
END_TEST

START_TEST(test_quit_and_half_close)
{
    tc *t = tc_open();
    tc_send(t, "QUIT\r\nPING\r\n");
    tc_expect(t, "+OK\r\n");
    tc_expect_eof(t);
    tc_close(t);
    t = tc_open();
    tc_send(t, "PING\r\nPING x\r\n");
    shutdown(t->fd, SHUT_WR);       /* printf 'PING\r\n' | nc */
    tc_expect(t, "+PONG\r\n$1\r\nx\r\n");
    tc_expect_eof(t);
    tc_close(t);
    ck_assert(wait_clients(0));
}
END_TEST

/* ---- AUTH -------------------------------------------------------------- */

static const char noauth[] = "-NOAUTH Authentication required.\r\n";
static const char wrongpass[] =
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

START_TEST(test_auth)
{
    admin_options o;
    admin_options_init(&o);
    o.requirepass = "s3cret";
    restart(&o);
    tc *t = tc_open();
    tc_send(t, "PING\r\nSUBSCRIBE x\r\nCLIENT ID\r\nFOO\r\n");
    tc_expect(t, noauth);
    tc_expect(t, noauth);
    tc_expect(t, noauth);
    tc_expect(t, "-ERR unknown command 'FOO', with args beginning with: \r\n");
    tc_send(t, "AUTH wrong\r\nAUTH default wrong\r\nAUTH admin s3cret\r\n"
               "AUTH a b c\r\nPING\r\n");
    tc_expect(t, wrongpass);
    tc_expect(t, wrongpass);
    tc_expect(t, wrongpass);
    tc_expect(t, "-ERR syntax error\r\n");
    tc_expect(t, noauth);
    tc_send(t, "HELLO\r\nHELLO 2 AUTH default nope\r\n");
    tc_expect(t, "-NOAUTH HELLO must be called with the client already "
                 "authenticated, otherwise the HELLO AUTH <user> <pass> option "
                 "can be used to authenticate the client and select the RESP "
                 "protocol version at the same time\r\n");
    tc_expect(t, wrongpass);
    /* Redis 7's caps before AUTH: 10 arguments, 16 KiB bulks */
    tc_send(t, "*11\r\n");
    tc_expect(t, "-ERR Protocol error: unauthenticated multibulk length\r\n");
    tc_expect_eof(t);
    tc_close(t);

    t = tc_open();
    tc_send(t, "AUTH s3cret\r\nPING\r\n*11\r\n");
    tc_expect(t, "+OK\r\n+PONG\r\n");
    tc_expect_silence(t);           /* 11 arguments are fine now */
    tc_close(t);

    t = tc_open();
    tc_send(t, "AUTH default s3cret\r\nCLIENT SETNAME n\r\n");
    tc_expect(t, "+OK\r\n+OK\r\n");
    tc_close(t);

    t = tc_open();
    tc_send(t, "QUIT\r\n");         /* allowed before AUTH */
    tc_expect(t, "+OK\r\n");
    tc_expect_eof(t);
    tc_close(t);
}
END_TEST

START_TEST(test_password_changes_at_runtime)
{
    tc *t = tc_open();
    tc_send(t, "AUTH x\r\n");
    tc_expect(t, "-ERR AUTH <password> called without any password "
                 "configured for the default user. Are you sure your "
                 "configuration is correct?\r\n");
    tc_send(t, "AUTH default anything\r\n");    /* nopass default user */
    tc_expect(t, "+OK\r\n");
    tc *u = tc_open();
    tc_send(u, "PING\r\n");
    tc_expect(u, "+PONG\r\n");
    admin_server_set_password(W.srv, "new");
    tc_send(t, "PING\r\n");         /* authenticated before: stays so */
    tc_expect(t, "+PONG\r\n");
    tc_send(u, "PING\r\nAUTH new\r\nPING\r\n");
    tc_expect(u, noauth);
    tc_expect(u, "+OK\r\n+PONG\r\n");
    admin_server_set_password(W.srv, "");
    tc *v = tc_open();
    tc_send(v, "PING\r\n");
    tc_expect(v, "+PONG\r\n");
    tc_close(t);
    tc_close(u);
    tc_close(v);
}
END_TEST

/* ---- HELLO, CLIENT, COMMAND -------------------------------------------- */

START_TEST(test_hello_and_client)
{
    tc *t = tc_open();
    tc_send(t, "HELLO 2 SETNAME app1\r\n");
    redisReply *r = tc_reply(t);
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(r->elements, 12);
    static const char *keys[] = {"server", "version", "proto", "id", "mode",
                                 "modules"};
    for (int i = 0; i < 6; i++)
        ck_assert_str_eq(r->element[2 * i]->str, keys[i]);
    ck_assert_str_eq(r->element[1]->str, "redis");
    ck_assert_str_eq(r->element[3]->str, "7.0.0");
    ck_assert_int_eq(r->element[5]->integer, 2);
    long long id = r->element[7]->integer;
    ck_assert_str_eq(r->element[9]->str, "sentinel");
    ck_assert_int_eq(r->element[11]->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);

    const char *cmds[] = {
        "CLIENT ID", "CLIENT GETNAME", "CLIENT SETINFO lib-name redis-py",
        "CLIENT SETINFO LIB-VER 5.0", "CLIENT SETINFO x y",
        "CLIENT SETNAME \"a b\"", "HELLO 3", "HELLO x", "HELLO 2 FOO",
        "CLIENT LIST TYPE bogus", "CLIENT LIST ID 0", "CLIENT LIST TYPE pubsub"};
    const char *want[] = {
        NULL, "app1", "OK", "OK", "ERR Unrecognized option 'x'",
        "ERR Client names cannot contain spaces, newlines or special "
        "characters.",
        "NOPROTO unsupported protocol version",
        "ERR Protocol version is not an integer or out of range",
        "ERR Syntax error in HELLO option 'FOO'",
        "ERR Unknown client type 'bogus'", "ERR Invalid client ID", ""};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        tc_send(t, cmds[i]);
        tc_send(t, "\r\n");
        r = tc_reply(t);
        if (want[i] == NULL)
            ck_assert_int_eq(r->integer, id);
        else
            ck_assert_msg(strcmp(r->str, want[i]) == 0, "%s: %s", cmds[i],
                          r->str);
        freeReplyObject(r);
    }
    tc *u = tc_open();
    tc_send(u, "PING\r\n");
    tc_expect(u, "+PONG\r\n");
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "CLIENT LIST ID %lld 999\r\nCLIENT LIST\r\n",
             id);
    tc_send(t, cmd);
    r = tc_reply(t);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "id=%lld addr=127.0.0.1:", id);
    ck_assert(strncmp(r->str, prefix, strlen(prefix)) == 0);
    ck_assert_ptr_nonnull(strstr(r->str, " name=app1 "));
    ck_assert_ptr_nonnull(strstr(r->str, " lib-name=redis-py lib-ver=5.0\n"));
    ck_assert_ptr_nonnull(strstr(r->str, " cmd=client|list "));
    ck_assert_ptr_null(strstr(r->str, "\nid="));    /* only that one */
    freeReplyObject(r);
    r = tc_reply(t);                /* both clients, oldest first */
    ck_assert(strncmp(r->str, prefix, strlen(prefix)) == 0);
    ck_assert_ptr_nonnull(strstr(r->str, "\nid="));
    freeReplyObject(r);
    tc_close(u);
    tc_close(t);
}
END_TEST

START_TEST(test_command_introspection)
{
    tc *t = tc_open();
    tc_send(t, "COMMAND COUNT\r\nCOMMAND INFO ping nope client\r\n"
               "COMMAND DOCS\r\nCOMMAND\r\nTEST HELP\r\nCOMMAND LIST\r\n");
    redisReply *r = tc_reply(t);
    ck_assert_int_eq(r->integer, 12);       /* 10 generic + DEFER, TEST */
    freeReplyObject(r);
    r = tc_reply(t);
    ck_assert_uint_eq(r->elements, 3);
    ck_assert_str_eq(r->element[0]->element[0]->str, "ping");
    ck_assert_int_eq(r->element[0]->element[1]->integer, -1);
    ck_assert_int_eq(r->element[1]->type, REDIS_REPLY_NIL);
    redisReply *client = r->element[2];
    ck_assert_str_eq(client->element[0]->str, "client");
    ck_assert_uint_eq(client->elements, 10);
    ck_assert_uint_eq(client->element[9]->elements, 6);   /* subcommands */
    ck_assert_str_eq(client->element[9]->element[2]->element[0]->str,
                     "client|setname");
    freeReplyObject(r);
    r = tc_reply(t);                /* DOCS: flat map name -> docs */
    ck_assert_uint_eq(r->elements, 24);
    ck_assert_str_eq(r->element[0]->str, "ping");
    ck_assert_str_eq(r->element[1]->element[0]->str, "summary");
    ck_assert_str_eq(r->element[1]->element[1]->str, "Ping the server.");
    freeReplyObject(r);
    r = tc_reply(t);
    ck_assert_uint_eq(r->elements, 12);
    freeReplyObject(r);
    r = tc_reply(t);
    ck_assert_uint_eq(r->elements, 7);
    ck_assert_str_eq(r->element[0]->str,
                     "TEST <subcommand> [<arg> [value] [opt] ...]. "
                     "Subcommands are:");
    ck_assert_str_eq(r->element[3]->str, "KV <x>");
    ck_assert_str_eq(r->element[4]->str, "    A key/value reply.");
    freeReplyObject(r);
    r = tc_reply(t);
    ck_assert_str_eq(r->element[11]->str, "test");
    freeReplyObject(r);
    tc_close(t);
}
END_TEST

static void
noop(admin_client *c, const admin_args *a, void *ctx)
{
    (void)a;
    (void)ctx;
    admin_reply_ok(c);
}

START_TEST(test_register_rejects_bad_tables)
{
    const admin_command dup[] = {{"NEW", NULL, 1, 0, noop, ""},
                                 {"ping", NULL, 1, 0, noop, ""}};
    const admin_command twice[] = {{"X", "A", 2, 0, noop, ""},
                                   {"x", "a", 2, 0, noop, ""}};
    const admin_command arity[] = {{"Y", "A", 1, 0, noop, ""}};
    const admin_command nohandler[] = {{"Z", NULL, 1, 0, NULL, ""}};
    ck_assert_int_eq(admin_server_register(W.srv, dup, 2, NULL), -1);
    ck_assert_int_eq(admin_server_register(W.srv, twice, 2, NULL), -1);
    ck_assert_int_eq(admin_server_register(W.srv, arity, 1, NULL), -1);
    ck_assert_int_eq(admin_server_register(W.srv, nohandler, 1, NULL), -1);
    tc *t = tc_open();
    tc_send(t, "NEW\r\n");          /* nothing of a rejected table is added */
    tc_expect(t, "-ERR unknown command 'NEW', with args beginning with: \r\n");
    tc_close(t);
}
END_TEST

START_TEST(test_server_new_failures)
{
    admin_options o;
    admin_options_init(&o);
    o.bind[0] = "not-an-address";
    o.nbind = 1;
    ck_assert_ptr_null(admin_server_new(W.base, &o));
    o.bind[0] = "127.0.0.1";
    o.port = W.port;                /* taken by the fixture's server */
    ck_assert_ptr_null(admin_server_new(W.base, &o));
    o.port = 0;
    o.max_query = 1024;             /* cannot hold one max_bulk argument */
    ck_assert_ptr_null(admin_server_new(W.base, &o));
}
END_TEST

/* ---- hostile and slow clients ------------------------------------------ */

START_TEST(test_garbage_client_is_dropped_alone)
{
    tc *good = tc_open(), *bad = tc_open(), *noise = tc_open();
    tc_send(good, "PING\r\n");
    tc_expect(good, "+PONG\r\n");
    tc_send(bad, "PING\r\n*1\r\n$x\r\nPING\r\n");
    tc_expect(bad, "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
    tc_expect_eof(bad);
    /* seeded noise: whatever it parses as, the server survives it */
    unsigned seed = 1;
    char junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(rand_r(&seed) & 0xff);
    tc_sendn(noise, junk, sizeof(junk));
    tc_send(noise, "\r\n*-1\r\n*1\r\n$999999999\r\n");
    tc_expect_eof(noise);
    tc_send(good, "PING again\r\n");
    tc_expect(good, "$5\r\nagain\r\n");
    ck_assert(wait_clients(1));
    ck_assert_uint_ge(stats().protocol_errors, 2);
    tc_close(good);
    tc_close(bad);
    tc_close(noise);
}
END_TEST

START_TEST(test_query_buffer_limit)
{
    admin_options o;
    admin_options_init(&o);
    o.max_bulk = 1024;
    o.max_inline = 1024;
    o.max_query = 4096;
    restart(&o);
    /* arguments absorbed by the parser count too */
    tc *t = tc_open();
    char arg[1001];
    memset(arg, 'a', 1000);
    arg[1000] = '\0';
    tc_send(t, "*10\r\n");
    for (int i = 0; i < 5; i++) {
        tc_send(t, "$1000\r\n");
        tc_send(t, arg);
        tc_send(t, "\r\n");
    }
    tc_expect(t, "-ERR Protocol error: query buffer limit exceeded\r\n");
    tc_expect_eof(t);
    tc_close(t);
    /* input piling up behind a deferred reply */
    t = tc_open();
    tc_send(t, "DEFER\r\n");
    for (int i = 0; i < 5; i++) {
        tc_send(t, "PING ");
        tc_send(t, arg);
        tc_send(t, "\r\n");
    }
    tc_expect(t, "-ERR Protocol error: query buffer limit exceeded\r\n");
    tc_expect_eof(t);
    ck_assert_ptr_null(admin_deferred_client(W.deferred));
    admin_deferred_done(W.deferred);
    tc_close(t);
}
END_TEST

START_TEST(test_max_clients)
{
    admin_options o;
    admin_options_init(&o);
    o.max_clients = 1;
    restart(&o);
    tc *a = tc_open();
    tc_send(a, "PING\r\n");
    tc_expect(a, "+PONG\r\n");
    tc *b = tc_open();
    tc_expect(b, "-ERR max number of clients reached\r\n");
    tc_expect_eof(b);
    ck_assert_uint_eq(stats().rejected_connections, 1);
    tc_close(a);
    tc_close(b);
}
END_TEST

/* ---- deferred replies -------------------------------------------------- */

static bool
wait_deferred(void)
{
    for (long long end = now_ms() + WAIT_MS; now_ms() < end; pump(-1))
        if (W.deferred)
            return true;
    return false;
}

START_TEST(test_deferred_reply_keeps_order)
{
    tc *t = tc_open(), *other = tc_open();
    tc_send(t, "DEFER\r\nPING 1\r\n");
    ck_assert(wait_deferred());
    tc_send(t, "PING 2\r\n");
    tc_expect_silence(t);           /* PINGs wait behind the deferred reply */
    ck_assert_uint_eq(stats().blocked_clients, 1);
    tc_send(other, "PING\r\n");     /* other clients are not held up */
    tc_expect(other, "+PONG\r\n");
    admin_client *c = admin_deferred_client(W.deferred);
    ck_assert_ptr_nonnull(c);
    admin_reply_str(c, "later");
    admin_deferred_done(W.deferred);
    W.deferred = NULL;
    tc_expect(t, "$5\r\nlater\r\n$1\r\n1\r\n$1\r\n2\r\n");
    ck_assert_uint_eq(stats().blocked_clients, 0);
    tc_send(t, "DEFER\r\n");        /* again, answered with an error */
    ck_assert(wait_deferred());
    admin_reply_error(admin_deferred_client(W.deferred), "-NOQUORUM no");
    admin_deferred_done(W.deferred);
    tc_expect(t, "-NOQUORUM no\r\n");
    tc_close(t);
    tc_close(other);
}
END_TEST

START_TEST(test_deferred_reply_after_disconnect_is_dropped)
{
    tc *t = tc_open();
    tc_send(t, "DEFER\r\nPING\r\n");
    ck_assert(wait_deferred());
    tc_close(t);
    ck_assert(wait_clients(0));
    ck_assert_ptr_null(admin_deferred_client(W.deferred));
    admin_reply_ok(admin_deferred_client(W.deferred));     /* a no-op */
    admin_deferred_done(W.deferred);
    for (int i = 0; i < 10; i++)
        pump(-1);
}
END_TEST

START_TEST(test_deferred_handle_outlives_server)
{
    tc *t = tc_open();
    tc_send(t, "DEFER\r\n");
    ck_assert(wait_deferred());
    admin_server_free(W.srv);
    ck_assert_ptr_null(admin_deferred_client(W.deferred));
    admin_deferred_done(W.deferred);
    tc_expect_eof(t);
    tc_close(t);
    W.srv = NULL;
}
END_TEST

START_TEST(test_stats)
{
    tc *t = tc_open();
    tc_send(t, "PING\r\nPING\r\nNOPE\r\n");
    tc_expect(t, "+PONG\r\n+PONG\r\n");
    admin_stats st = stats();
    ck_assert_uint_eq(st.connected_clients, 1);
    ck_assert_uint_eq(st.total_connections, 1);
    ck_assert_uint_eq(st.total_commands, 2);
    ck_assert_uint_eq(st.total_net_input_bytes, 18);
    ck_assert_uint_gt(st.total_net_output_bytes, 14);
    ck_assert_uint_eq(st.max_clients, 10000);
    tc_close(t);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("admin");
    TCase *tcs = tcase_create("server");
    tcase_add_checked_fixture(tcs, setup, teardown);
    tcase_set_timeout(tcs, 60);
    tcase_add_test(tcs, test_ping_inline_and_resp);
    tcase_add_test(tcs, test_pipelining_order);
    tcase_add_test(tcs, test_big_request);
    tcase_add_test(tcs, test_unknown_command_and_arity);
    tcase_add_test(tcs, test_quit_and_half_close);
    tcase_add_test(tcs, test_auth);
    tcase_add_test(tcs, test_password_changes_at_runtime);
    tcase_add_test(tcs, test_hello_and_client);
    tcase_add_test(tcs, test_command_introspection);
    tcase_add_test(tcs, test_register_rejects_bad_tables);
    tcase_add_test(tcs, test_server_new_failures);
    tcase_add_test(tcs, test_garbage_client_is_dropped_alone);
    tcase_add_test(tcs, test_query_buffer_limit);
    tcase_add_test(tcs, test_max_clients);
    tcase_add_test(tcs, test_deferred_reply_keeps_order);
    tcase_add_test(tcs, test_deferred_reply_after_disconnect_is_dropped);
    tcase_add_test(tcs, test_deferred_handle_outlives_server);
    tcase_add_test(tcs, test_stats);
    suite_add_tcase(s, tcs);
    return check_run(s);
}
