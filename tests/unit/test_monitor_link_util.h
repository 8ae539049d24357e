/*
 * test_monitor_link_util.h -- helpers for test_monitor_link.c: real
 * redis-server processes on 127.0.0.1 (free port, temporary directory,
 * killed and removed by the test's teardown, and killed with the test
 * process if it dies first), a synchronous admin client, a bounded event
 * loop, link callbacks that record what they see, a listener that never
 * accepts and a scripted fake server.  Included by that one file only:
 * the helpers are static.
 */
#ifndef TEST_MONITOR_LINK_UTIL_H
#define TEST_MONITOR_LINK_UTIL_H

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor/monitor_link.h"

#define TL_WAIT_MS 5000

/* ---- bounded event loop ------------------------------------------------- */

typedef struct tl_loop {
    struct event *deadline, *tick;
    bool expired;
} tl_loop;

static void
tl_flag_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    if (arg != NULL)
        *(bool *)arg = true;
}

static void
tl_loop_begin(tl_loop *lp, struct event_base *base, int ms)
{
    struct timeval d = {ms / 1000, (ms % 1000) * 1000}, t = {0, 2000};
    lp->expired = false;
    lp->deadline = evtimer_new(base, tl_flag_cb, &lp->expired);
    /* The tick bounds each iteration, so the condition is re-checked even
     * when nothing happens on the link. */
    lp->tick = event_new(base, -1, EV_PERSIST, tl_flag_cb, NULL);
    evtimer_add(lp->deadline, &d);
    evtimer_add(lp->tick, &t);
}

static bool
tl_loop_step(tl_loop *lp, struct event_base *base)
{
    if (lp->expired)
        return false;
    event_base_loop(base, EVLOOP_ONCE);
    return true;
}

static void
tl_loop_end(tl_loop *lp)
{
    event_free(lp->deadline);
    event_free(lp->tick);
}

/* Runs the loop until cond holds or ms pass. */
#define RUN_UNTIL(base, cond, ms)                                            \
    do {                                                                     \
        tl_loop lp_;                                                         \
        tl_loop_begin(&lp_, (base), (ms));                                   \
        while (!(cond) && tl_loop_step(&lp_, (base)))                        \
            ;                                                                \
        tl_loop_end(&lp_);                                                   \
    } while (0)

static uint64_t
tl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- recording link callbacks ------------------------------------------- */

#define MAX_SEQ 128

/* What one link's callbacks saw. */
typedef struct tctx {
    mlink *link;
    int ready, down;
    char reason[MLINK_ERROR_MAX];   /* of the last on_down */
    char seq[MAX_SEQ];              /* R ready, D down, r reply, n NULL */
    size_t nseq;
    uint64_t down_at[64];           /* tl_now_ms() of each on_down */
    bool free_on_down;
} tctx;

/* One command's privdata. */
typedef struct treq {
    tctx *t;
    int calls;                      /* must end at exactly 1 */
    bool null;
    int type;
    char str[4096];
    bool free_link, reset_link;     /* what the callback does to the link */
} treq;

static void
seq_add(tctx *t, char c)
{
    if (t->nseq < MAX_SEQ - 1)
        t->seq[t->nseq++] = c;
}

static void
on_ready(void *ctx)
{
    tctx *t = ctx;
    t->ready++;
    seq_add(t, 'R');
    ck_assert_int_eq(mlink_state(t->link), MLINK_READY);
}

static void
on_down(void *ctx, const char *reason)
{
    tctx *t = ctx;
    snprintf(t->reason, sizeof(t->reason), "%s", reason);
    if (t->down < 64)
        t->down_at[t->down] = tl_now_ms();
    t->down++;
    seq_add(t, 'D');
    if (t->free_on_down) {
        mlink_free(t->link);
        t->link = NULL;
    }
}

static void
on_reply(void *ctx, const struct redisReply *r, void *privdata)
{
    treq *q = privdata;
    ck_assert_ptr_eq(ctx, q->t);
    q->calls++;
    q->null = r == NULL;
    seq_add(q->t, r == NULL ? 'n' : 'r');
    if (r != NULL) {
        q->type = r->type;
        snprintf(q->str, sizeof(q->str), "%s", r->str ? r->str : "");
    }
    if (q->free_link) {
        mlink_free(q->t->link);
        q->t->link = NULL;
    }
    if (q->reset_link && r != NULL)
        mlink_reset(q->t->link);
}

static const mlink_callbacks CBS = {on_ready, on_down};

/* ---- small checks ------------------------------------------------------- */

static bool
has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Lines of the log at path with this mark ('#' warning, '*' notice, '-'
 * verbose) and text. */
static int
tl_log_count(const char *path, char mark, const char *text)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024], m[4] = {' ', mark, ' ', '\0'};
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, m) != NULL && strstr(line, text) != NULL;
    fclose(f);
    return n;
}

/* ---- redis-server processes --------------------------------------------- */

typedef struct tl_redis {
    pid_t pid;          /* 0: not running */
    int port;
    char dir[64];       /* "" until the first start */
} tl_redis;

static const char *
tl_redis_bin(void)
{
    const char *s = getenv("REDIS_SERVER");
    return s != NULL && s[0] != '\0' ? s : "redis-server";
}

/* A port nothing listens on right now (the kernel's pick). */
static int
tl_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0
        || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void
tl_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static pid_t
tl_spawn(const char *dir, int port, const char *const *extra)
{
    char portstr[16], logfile[128];
    snprintf(portstr, sizeof(portstr), "%d", port);
    snprintf(logfile, sizeof(logfile), "%s/redis.log", dir);
    const char *argv[40] = {
        tl_redis_bin(), "--port", portstr, "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", dir,
        "--logfile", logfile, "--daemonize", "no", "--protected-mode", "no"};
    size_t n = 17;
    for (; extra != NULL && *extra != NULL && n < 39; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* A test that dies (failed assertion, timeout) takes its servers along. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
}

/* The server answers (PONG, or NOAUTH with requirepass): it is up. */
static bool
tl_redis_answers(int port)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = false;
    if (c != NULL && c->err == 0) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "PING");
        ok = r != NULL;
        if (r != NULL)
            freeReplyObject(r);
    }
    if (c != NULL)
        redisFree(c);
    return ok;
}

/* Starts (or restarts, on the same port and directory) a server.  port 0:
 * a free one, retried if another process takes it first. */
static bool
tl_redis_start(tl_redis *r, int port, const char *const *extra)
{
    if (r->dir[0] == '\0') {
        snprintf(r->dir, sizeof(r->dir), "/tmp/rs-test-mlink-XXXXXX");
        if (mkdtemp(r->dir) == NULL)
            return false;
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = port ? port : tl_free_port();
        r->pid = tl_spawn(r->dir, r->port, extra);
        if (r->pid < 0)
            return false;
        uint64_t deadline = tl_now_ms() + TL_WAIT_MS;
        while (tl_now_ms() < deadline) {
            if (waitpid(r->pid, NULL, WNOHANG) == r->pid)
                break;              /* exited: port taken, bad argument */
            if (tl_redis_answers(r->port))
                return true;
            struct timespec pause = {0, 5 * 1000000};
            nanosleep(&pause, NULL); /* polling a condition, bounded */
        }
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
        if (port != 0)
            return false;
    }
    return false;
}

static void
tl_redis_kill(tl_redis *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);      /* also ends a SIGSTOPped one */
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

static void
tl_redis_signal(tl_redis *r, int sig)
{
    if (r->pid > 0)
        kill(r->pid, sig);
}

static void
tl_redis_cleanup(tl_redis *r)
{
    tl_redis_kill(r);
    if (r->dir[0] != '\0')
        tl_rmdir(r->dir);
    r->dir[0] = '\0';
}

/* One synchronous command from the test's side (pass: NULL for none).
 * Returns the reply (freeReplyObject it) or NULL. */
static redisReply *
tl_redis_cmd(int port, const char *pass, const char *fmt, ...)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r = NULL;
    if (c == NULL || c->err != 0)
        goto out;
    redisSetTimeout(c, tv);
    if (pass != NULL) {
        r = redisCommand(c, "AUTH %s", pass);
        if (r == NULL || r->type == REDIS_REPLY_ERROR)
            goto out;
        freeReplyObject(r);
    }
    va_list ap;
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
out:
    if (c != NULL)
        redisFree(c);
    return r;
}

/* ---- a listener that never accepts -------------------------------------- */

/* Listens with a backlog of 0 and fills the accept queue with two
 * connections nobody accepts: Linux then drops further SYNs, so a connect
 * to it stays in SYN_SENT (a timeout, not a refusal).  fds[0] is the
 * listener, fds[1..2] the fillers.  Returns the port or -1. */
static int
tl_blackhole(int fds[3])
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[0] < 0 || bind(fds[0], (struct sockaddr *)&a, sizeof(a)) != 0
        || listen(fds[0], 0) != 0
        || getsockname(fds[0], (struct sockaddr *)&a, &len) != 0)
        return -1;
    for (int i = 1; i <= 2; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fds[i] < 0)
            return -1;
        (void)connect(fds[i], (struct sockaddr *)&a, sizeof(a));
    }
    return ntohs(a.sin_port);
}

/* ---- a fake Redis, for what a real one will not do on cue ---------------- */

/* Answers every chunk it reads with `once` (then forgets it) or `reply`;
 * with close_next it closes the connection instead.  One client at a
 * time: a new connection replaces the old one. */
typedef struct tl_fake {
    int lfd, cfd;
    struct event *lev, *cev;
    struct event_base *base;
    const char *reply, *once;
    bool close_next;
    int accepted;
} tl_fake;

static void
tl_fake_drop_client(tl_fake *f)
{
    if (f->cev != NULL)
        event_free(f->cev);
    if (f->cfd >= 0)
        close(f->cfd);
    f->cev = NULL;
    f->cfd = -1;
}

static void
tl_fake_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    tl_fake *f = arg;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0 || f->close_next) {
        f->close_next = false;
        tl_fake_drop_client(f);
        return;
    }
    const char *out = f->once != NULL ? f->once : f->reply;
    f->once = NULL;
    if (out != NULL && write(fd, out, strlen(out)) < 0)
        tl_fake_drop_client(f);
}

static void
tl_fake_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    tl_fake *f = arg;
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
    if (c < 0)
        return;
    tl_fake_drop_client(f);
    f->cfd = c;
    f->cev = event_new(f->base, c, EV_READ | EV_PERSIST, tl_fake_read_cb, f);
    event_add(f->cev, NULL);
    f->accepted++;
}

/* Returns the port, or -1. */
static int
tl_fake_start(tl_fake *f, struct event_base *base)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    memset(f, 0, sizeof(*f));
    f->base = base;
    f->cfd = -1;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) != 0
        || listen(f->lfd, 16) != 0
        || getsockname(f->lfd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    f->lev = event_new(base, f->lfd, EV_READ | EV_PERSIST, tl_fake_accept_cb,
                       f);
    event_add(f->lev, NULL);
    return ntohs(a.sin_port);
}

static void
tl_fake_stop(tl_fake *f)
{
    if (f->base == NULL)
        return;
    tl_fake_drop_client(f);
    if (f->lev != NULL)
        event_free(f->lev);
    if (f->lfd >= 0)
        close(f->lfd);
    f->base = NULL;
}

#endif
