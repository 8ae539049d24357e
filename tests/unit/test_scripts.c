/*
 * test_scripts.c -- the script runner against real /bin/sh scripts written
 * into a temporary directory.  Waiting is always bounded polling of the
 * event loop (run_until), never a bare sleep.
 */
#include "events/scripts.h"

#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "util/clock.h"

#define MAX_EVENTS 32
#define WAIT_MS 8000

typedef struct fixture {
    char dir[256];
    struct event_base *base;
    scripts *s;
    int nevents;
    char ev[MAX_EVENTS][2][512];    /* event name, description */
    const char *notify;             /* on_event runs it, when set */
    int max_running_seen;
} fixture;

static void
record_event(void *ctx, const char *event, const char *desc)
{
    fixture *f = ctx;
    if (f->nevents < MAX_EVENTS) {
        snprintf(f->ev[f->nevents][0], sizeof(f->ev[0][0]), "%s", event);
        snprintf(f->ev[f->nevents][1], sizeof(f->ev[0][1]), "%s", desc);
    }
    f->nevents++;
    /* What the owner's events sink would do, from inside the callback. */
    if (f->notify != NULL)
        scripts_notify(f->s, f->notify, event, desc);
}

/* Options the tests start from: short retry delay, generous timeout. */
static scripts_options
opts(fixture *f)
{
    scripts_options o = {0};
    o.base = f->base;
    o.on_event = record_event;
    o.ctx = f;
    o.retry_delay_ms = 50;
    o.timeout_ms = 20000;
    return o;
}

static void
setup(fixture *f, const scripts_options *o)
{
    memset(f, 0, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/rs-scripts-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    f->base = event_base_new();
    ck_assert_ptr_nonnull(f->base);
    if (o == NULL) {
        scripts_options d = opts(f);
        f->s = scripts_new(&d);
    } else {
        scripts_options c = *o;
        c.base = f->base;
        c.ctx = f;
        f->s = scripts_new(&c);
    }
    ck_assert_ptr_nonnull(f->s);
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static void
teardown(fixture *f)
{
    scripts_free(f->s);
    event_base_free(f->base);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name into buf. */
static const char *
fpath(const fixture *f, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", f->dir, name);
    return buf;
}

/* Writes "#!/bin/sh" + body, with every "@D" replaced by the temp dir. */
static const char *
write_script(const fixture *f, const char *name, const char *body,
             mode_t mode, char *path, size_t len)
{
    fpath(f, name, path, len);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("#!/bin/sh\n", fp);
    for (const char *p = body; *p; p++) {
        if (p[0] == '@' && p[1] == 'D') {
            fputs(f->dir, fp);
            p++;
        } else {
            fputc(*p, fp);
        }
    }
    ck_assert_int_eq(fclose(fp), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static void
touch(const fixture *f, const char *name)
{
    char p[512];
    int fd = open(fpath(f, name, p, sizeof(p)), O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

/* Contents of dir/name ("" when missing), into buf. */
static const char *
slurp(const fixture *f, const char *name, char *buf, size_t len)
{
    char p[512];
    buf[0] = '\0';
    FILE *fp = fopen(fpath(f, name, p, sizeof(p)), "r");
    if (fp == NULL)
        return buf;
    size_t n = fread(buf, 1, len - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static int
lines(const fixture *f, const char *name)
{
    char buf[8192];
    int n = 0;
    for (const char *p = slurp(f, name, buf, sizeof(buf)); *p; p++)
        n += *p == '\n';
    return n;
}

/* ---- bounded event-loop polling ------------------------------------------ */

typedef bool (*pred_fn)(fixture *f, const void *arg);

static void
tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the loop (waking at least every 10 ms) until done() or ms elapse. */
static bool
run_until(fixture *f, pred_fn done, const void *arg, uint64_t ms)
{
    uint64_t deadline = clock_mono_ms() + ms;
    struct event *t = evtimer_new(f->base, tick, NULL);
    bool ok;
    while (!(ok = done(f, arg)) && clock_mono_ms() < deadline) {
        struct timeval tv = {0, 10000};
        evtimer_add(t, &tv);
        event_base_loop(f->base, EVLOOP_ONCE);
    }
    event_free(t);
    return ok;
}

static bool
running_reach(fixture *f, const void *n)
{
    return scripts_running(f->s) >= *(const int *)n;
}

/* Never true: runs the loop for the whole time, noting the peak. */
static bool
watch_running(fixture *f, const void *arg)
{
    (void)arg;
    if (scripts_running(f->s) > f->max_running_seen)
        f->max_running_seen = scripts_running(f->s);
    return false;
}

static bool
drained(fixture *f, const void *arg)
{
    watch_running(f, arg);
    return scripts_queued(f->s) == 0;
}

struct file_lines {
    const char *name;
    int n;
};

static bool
lines_reach(fixture *f, const void *arg)
{
    const struct file_lines *fl = arg;
    return lines(f, fl->name) >= fl->n;
}

static void
drain(fixture *f)
{
    ck_assert_msg(run_until(f, drained, NULL, WAIT_MS),
                  "queue not drained: %d jobs left", scripts_queued(f->s));
}

static void
settle(fixture *f, uint64_t ms)
{
    run_until(f, watch_running, NULL, ms);
}

/* The description the runner gives for a failed job. */
static void
assert_event(const fixture *f, int i, const char *name, const char *path,
             const char *rest)
{
    char want[600];
    snprintf(want, sizeof(want), "%s %s", path, rest);
    ck_assert_int_gt(f->nevents, i);
    ck_assert_str_eq(f->ev[i][0], name);
    ck_assert_str_eq(f->ev[i][1], want);
}

/* ---- outcomes ------------------------------------------------------------ */

START_TEST(test_args_exact)
{
    fixture f;
    setup(&f, NULL);
    char path[512];
    write_script(&f, "args.sh",
                 "{ printf '%s\\n' \"$#\"; printf '[%s]\\n' \"$0\"\n"
                 "  for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n"
                 "} > @D/args.out\n", 0755, path, sizeof(path));
    const char *args[] = {"+sdown", "master my master 10.0.0.1 6379", "",
                          "  lead and trail  ", "*", "$HOME", "a'b\"c;`x`",
                          "two\nlines"};
    ck_assert_int_eq(scripts_schedule(f.s, path, args, 8), 0);
    drain(&f);
    char want[1024], got[1024];
    snprintf(want, sizeof(want),
             "8\n[%s]\n[+sdown]\n[master my master 10.0.0.1 6379]\n[]\n"
             "[  lead and trail  ]\n[*]\n[$HOME]\n[a'b\"c;`x`]\n"
             "[two\nlines]\n", path);
    ck_assert_str_eq(slurp(&f, "args.out", got, sizeof(got)), want);
    ck_assert_int_eq(f.nevents, 0);
    teardown(&f);
}
END_TEST

START_TEST(test_exit0_runs_once)
{
    fixture f;
    setup(&f, NULL);
    char path[512];
    write_script(&f, "ok.sh", "echo run >> @D/count\nexit 0\n", 0755, path,
                 sizeof(path));
    ck_assert_int_eq(scripts_notify(f.s, path, "+sdown", "master m"), 0);
    ck_assert_int_eq(scripts_queued(f.s), 1);
    ck_assert_int_eq(scripts_running(f.s), 0); /* started from the loop */
    drain(&f);
    settle(&f, 200); /* long enough for a (wrong) retry at 50 ms */
    ck_assert_int_eq(lines(&f, "count"), 1);
    ck_assert_int_eq(f.nevents, 0);
    ck_assert_int_eq(scripts_running(f.s), 0);
    teardown(&f);
}
END_TEST

static bool
waiting_for_retry(fixture *f, const void *arg)
{
    (void)arg;
    scripts_job_info ji;
    return scripts_pending(f->s, &ji, 1) == 1 && !ji.running &&
           ji.retry_num >= 1;
}

START_TEST(test_exit1_retried_until_success)
{
    fixture f;
    scripts_options o = {0};
    o.on_event = record_event;
    o.retry_delay_ms = 200; /* then 400: room to look at the waiting job */
    setup(&f, &o);
    char path[512];
    write_script(&f, "flaky.sh",
                 "echo run >> @D/count\n"
                 "[ \"$(wc -l < @D/count)\" -ge 3 ] && exit 0\nexit 1\n",
                 0755, path, sizeof(path));
    uint64_t t0 = clock_mono_ms();
    ck_assert_int_eq(scripts_schedule(f.s, path, NULL, 0), 0);
    ck_assert(run_until(&f, waiting_for_retry, NULL, WAIT_MS));
    scripts_job_info ji;
    ck_assert_uint_eq(scripts_pending(f.s, &ji, 1), 1);
    ck_assert_int_eq(ji.retry_num, 1);
    ck_assert_int_eq(ji.pid, 0);
    ck_assert_uint_le(ji.run_delay_ms, 200);
    ck_assert_int_eq(ji.argc, 1);
    ck_assert_str_eq(ji.argv[0], path);
    drain(&f);
    ck_assert_int_eq(lines(&f, "count"), 3);
    ck_assert_uint_ge(clock_mono_ms() - t0, 200 + 400);
    ck_assert_int_eq(f.nevents, 0);
    teardown(&f);
}
END_TEST

START_TEST(test_retries_exhausted)
{
    fixture f;
    scripts_options o = {0};
    o.on_event = record_event;
    o.retry_delay_ms = 20;
    o.max_retries = 3;
    setup(&f, &o);
    char path[512];
    write_script(&f, "fail.sh", "echo run >> @D/count\nexit 1\n", 0755, path,
                 sizeof(path));
    ck_assert_int_eq(scripts_schedule(f.s, path, NULL, 0), 0);
    drain(&f);
    ck_assert_int_eq(lines(&f, "count"), 3); /* max_retries attempts */
    ck_assert_int_eq(f.nevents, 1);
    assert_event(&f, 0, "-script-error", path, "0 1");
    teardown(&f);
}
END_TEST

/* Also: on_event queues a notification script from inside the callback. */
START_TEST(test_exit2_not_retried)
{
    fixture f;
    setup(&f, NULL);
    char path[512], notify[512];
    write_script(&f, "two.sh", "echo run >> @D/count\nexit 2\n", 0755, path,
                 sizeof(path));
    f.notify = write_script(&f, "notify.sh",
                            "printf '%s|%s\\n' \"$1\" \"$2\" > @D/notified\n",
                            0755, notify, sizeof(notify));
    ck_assert_int_eq(scripts_schedule(f.s, path, NULL, 0), 0);
    drain(&f);
    settle(&f, 200);
    ck_assert_int_eq(lines(&f, "count"), 1);
    ck_assert_int_eq(f.nevents, 1);
    assert_event(&f, 0, "-script-error", path, "0 2");
    char want[600], got[600];
    snprintf(want, sizeof(want), "-script-error|%s 0 2\n", path);
    ck_assert_str_eq(slurp(&f, "notified", got, sizeof(got)), want);
    teardown(&f);
}
END_TEST

/* As Sentinel: a script killed by a signal is retried like exit 1. */
START_TEST(test_signal_retried)
{
    fixture f;
    setup(&f, NULL);
    char path[512];
    write_script(&f, "sig.sh", "echo run >> @D/count\n"
                 "[ $(wc -l < @D/count) -ge 2 ] && exit 0\nkill -TERM $$\n",
                 0755, path, sizeof(path));
    ck_assert_int_eq(scripts_schedule(f.s, path, NULL, 0), 0);
    drain(&f);
    settle(&f, 200);
    ck_assert_int_eq(lines(&f, "count"), 2);
    ck_assert_int_eq(f.nevents, 0);
    teardown(&f);
}
END_TEST

/* Gone, or a zombie nobody reaps (PID 1 in some containers doesn't). */
static bool
process_dead(fixture *f, const void *arg)
{
    (void)f;
    char p[64], stat[256] = "";
    snprintf(p, sizeof(p), "/proc/%ld/stat", *(const long *)arg);
    FILE *fp = fopen(p, "r");
    if (fp == NULL)
        return true;
    size_t n = fread(stat, 1, sizeof(stat) - 1, fp);
    stat[n] = '\0';
    fclose(fp);
    const char *rp = strrchr(stat, ')');
    return rp != NULL && (rp[2] == 'Z' || rp[2] == 'X');
}

START_TEST(test_timeout_kills_group)
{
    fixture f;
    scripts_options o = {0};
    o.on_event = record_event;
    o.timeout_ms = 300;
    o.max_retries = 1;          /* one attempt: the timeout is final */
    setup(&f, &o);
    char path[512];
    write_script(&f, "hang.sh", "sleep 30 &\necho $! > @D/grandchild\nwait\n",
                 0755, path, sizeof(path));
    uint64_t t0 = clock_mono_ms();
    ck_assert_int_eq(scripts_schedule(f.s, path, NULL, 0), 0);
    struct file_lines gc = {"grandchild", 1};
    ck_assert(run_until(&f, lines_reach, &gc, WAIT_MS));
    scripts_job_info ji;
    ck_assert_uint_eq(scripts_pending(f.s, &ji, 1), 1);
    ck_assert(ji.running);
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)ji.pid);
    drain(&f);
    ck_assert_uint_lt(clock_mono_ms() - t0, 5000);
    ck_assert_int_eq(f.nevents, 2);
    assert_event(&f, 0, "-script-timeout", path, pid);
    assert_event(&f, 1, "-script-error", path, "9 0"); /* no attempts left */
    char buf[64];
    long sleeper = strtol(slurp(&f, "grandchild", buf, sizeof(buf)), NULL, 10);
    ck_assert_int_gt(sleeper, 1);
    ck_assert_msg(run_until(&f, process_dead, &sleeper, WAIT_MS),
                  "the script's own child %ld survived the timeout", sleeper);
    teardown(&f);
}
END_TEST

START_TEST(test_cannot_execute)
{
    fixture f;
    setup(&f, NULL);
    char noexec[512], interp[512], missing[512];
    write_script(&f, "noexec.sh", "exit 0\n", 0644, noexec, sizeof(noexec));
    write_script(&f, "interp.sh", "exit 0\n", 0755, interp, sizeof(interp));
    FILE *fp = fopen(interp, "w"); /* replace the #! line */
    ck_assert_ptr_nonnull(fp);
    fputs("#!/nonexistent/interpreter\n", fp);
    fclose(fp);
    fpath(&f, "missing.sh", missing, sizeof(missing));
    const char *paths[] = {noexec, interp, missing};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(scripts_schedule(f.s, paths[i], NULL, 0), 0);
    drain(&f); /* exit status 2: none retried */
    ck_assert_int_eq(f.nevents, 3);
    for (int i = 0; i < 3; i++) {
        char want[600];
        snprintf(want, sizeof(want), "%s 0 2", paths[i]);
        bool found = false;
        for (int e = 0; e < f.nevents; e++)
            found |= strcmp(f.ev[e][0], "-script-error") == 0 &&
                     strcmp(f.ev[e][1], want) == 0;
        ck_assert_msg(found, "no -script-error for %s", paths[i]);
    }
    teardown(&f);
}
END_TEST

/* ---- queue and concurrency ---------------------------------------------- */

static const char *const BLOCK_BODY =
    "echo \"$1\" >> @D/started\n"
    "while [ ! -e @D/go ]; do sleep 0.01; done\n"
    "echo \"$1\" >> @D/done\n";

START_TEST(test_max_running)
{
    fixture f;
    scripts_options o = {0};
    o.on_event = record_event;
    o.max_running = 3;
    setup(&f, &o);
    char path[512];
    write_script(&f, "block.sh", BLOCK_BODY, 0755, path, sizeof(path));
    for (int i = 0; i < 5; i++) {
        char n[8];
        snprintf(n, sizeof(n), "%d", i);
        const char *arg = n;
        ck_assert_int_eq(scripts_schedule(f.s, path, &arg, 1), 0);
    }
    struct file_lines three = {"started", 3};
    ck_assert(run_until(&f, lines_reach, &three, WAIT_MS));
    settle(&f, 300);
    ck_assert_int_eq(f.max_running_seen, 3);
    ck_assert_int_eq(scripts_running(f.s), 3);
    ck_assert_int_eq(scripts_queued(f.s), 5);
    ck_assert_int_eq(lines(&f, "started"), 3);

    scripts_job_info ji[8];
    ck_assert_uint_eq(scripts_pending(f.s, ji, 8), 5);
    for (int i = 0; i < 5; i++) {
        char n[8];
        snprintf(n, sizeof(n), "%d", i);
        ck_assert_int_eq(ji[i].argc, 2);
        ck_assert_str_eq(ji[i].argv[1], n); /* queue order */
        ck_assert_int_eq(ji[i].running, i < 3);
        ck_assert_int_eq(ji[i].pid > 0, i < 3);
        ck_assert_int_eq(ji[i].retry_num, i < 3 ? 1 : 0);
        ck_assert_uint_eq(ji[i].run_delay_ms, 0);
        if (i < 3)
            ck_assert_uint_ge(ji[i].run_time_ms, 300);
    }
    ck_assert_uint_eq(scripts_pending(f.s, ji, 2), 2);

    touch(&f, "go");
    drain(&f);
    ck_assert_int_eq(lines(&f, "done"), 5);
    ck_assert_int_eq(f.max_running_seen, 3);
    ck_assert_int_eq(f.nevents, 0);
    teardown(&f);
}
END_TEST

START_TEST(test_queue_overflow_drops_oldest_waiting)
{
    fixture f;
    scripts_options o = {0};
    o.on_event = record_event;
    o.max_running = 1;
    o.max_queue = 3;
    setup(&f, &o);
    char path[512];
    write_script(&f, "block.sh", BLOCK_BODY, 0755, path, sizeof(path));
    const char *names[] = {"A", "B", "C", "D"};
    ck_assert_int_eq(scripts_schedule(f.s, path, &names[0], 1), 0);
    int one = 1;
    ck_assert(run_until(&f, running_reach, &one, WAIT_MS));
    for (int i = 1; i < 4; i++)
        ck_assert_int_eq(scripts_schedule(f.s, path, &names[i], 1), 0);
    /* B, the oldest job not running, went when D arrived. */
    ck_assert_int_eq(scripts_queued(f.s), 3);
    scripts_job_info ji[4];
    ck_assert_uint_eq(scripts_pending(f.s, ji, 4), 3);
    ck_assert_str_eq(ji[0].argv[1], "A");
    ck_assert(ji[0].running);
    ck_assert_str_eq(ji[1].argv[1], "C");
    ck_assert_str_eq(ji[2].argv[1], "D");
    touch(&f, "go");
    drain(&f);
    char got[64];
    ck_assert_str_eq(slurp(&f, "done", got, sizeof(got)), "A\nC\nD\n");
    teardown(&f);
}
END_TEST

START_TEST(test_reaped_on_sigchld)
{
    fixture f;
    scripts_options o = {0};
    o.on_event = record_event;
    o.max_running = 1;
    setup(&f, &o);
    char path[512];
    write_script(&f, "quick.sh", "echo run >> @D/count\n", 0755, path,
                 sizeof(path));
    uint64_t t0 = clock_mono_ms();
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(scripts_schedule(f.s, path, NULL, 0), 0);
    drain(&f);
    /* One at a time: only SIGCHLD gets five through well before five of the
     * runner's 1 s re-checks. */
    ck_assert_uint_lt(clock_mono_ms() - t0, 2500);
    ck_assert_int_eq(lines(&f, "count"), 5);
    teardown(&f);
}
END_TEST

/* ---- the child's process state ------------------------------------------- */

START_TEST(test_fds_not_inherited)
{
    fixture f;
    setup(&f, NULL);
    /* Descriptors a daemon has open without O_CLOEXEC. */
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int devnull = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(devnull, 0);
    ck_assert_int_eq(dup2(devnull, 77), 77);
    char path[512];
    write_script(&f, "fds.sh", "exec > @D/fds\nexec ls -l /proc/self/fd\n",
                 0755, path, sizeof(path));
    ck_assert_int_eq(scripts_schedule(f.s, path, NULL, 0), 0);
    drain(&f);
    ck_assert_int_eq(f.nevents, 0);

    char buf[4096], out[512];
    slurp(&f, "fds", buf, sizeof(buf));
    fpath(&f, "fds", out, sizeof(out));
    int seen = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        char *arrow = strstr(line, " -> ");
        if (arrow == NULL)
            continue; /* "total 0" */
        *arrow = '\0';
        const char *target = arrow + 4, *sp = strrchr(line, ' ');
        ck_assert_ptr_nonnull(sp);
        int fd = atoi(sp + 1);
        seen++;
        if (fd == 0 || fd == 2)
            ck_assert_str_eq(target, "/dev/null");
        else if (fd == 1)
            ck_assert_str_eq(target, out);
        else /* only ls's own handle on the directory it lists */
            ck_assert_msg(strncmp(target, "/proc/", 6) == 0,
                          "fd %d leaked into the child: %s", fd, target);
    }
    ck_assert_int_ge(seen, 3);
    ck_assert_int_le(seen, 4);
    int opened[] = {sv[0], sv[1], devnull, 77};
    for (size_t k = 0; k < sizeof(opened) / sizeof(opened[0]); k++)
        close(opened[k]);
    teardown(&f);
}
END_TEST

START_TEST(test_child_env_and_signals)
{
    /* The daemon's state a child must not inherit. */
    ck_assert_int_eq(setenv("RS_TEST_SECRET", "hunter2", 1), 0);
    signal(SIGPIPE, SIG_IGN);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    fixture f;
    setup(&f, NULL);
    char path[512];
    write_script(&f, "env.sh",
                 "env | sort > @D/env\nread line && echo got-input\n"
                 "exec grep -E '^Sig(Blk|Ign):' /proc/self/status > @D/sig\n",
                 0755, path, sizeof(path));
    ck_assert_int_eq(scripts_schedule(f.s, path, NULL, 0), 0);
    drain(&f);
    ck_assert_int_eq(f.nevents, 0);

    char env[2048], sig[256], want[1024];
    slurp(&f, "env", env, sizeof(env));
    ck_assert_ptr_null(strstr(env, "RS_TEST_SECRET"));
    snprintf(want, sizeof(want), "PATH=%s\n", getenv("PATH"));
    ck_assert_ptr_nonnull(strstr(env, want));
    if (getenv("HOME") != NULL) {
        snprintf(want, sizeof(want), "HOME=%s\n", getenv("HOME"));
        ck_assert_ptr_nonnull(strstr(env, want));
    }
    slurp(&f, "sig", sig, sizeof(sig));
    const char *b = strstr(sig, "SigBlk:"), *i = strstr(sig, "SigIgn:");
    ck_assert(b != NULL && i != NULL);
    ck_assert_uint_eq(strtoull(b + 7, NULL, 16), 0);
    ck_assert_uint_eq(strtoull(i + 7, NULL, 16) & (1ULL << (SIGPIPE - 1)), 0);
    teardown(&f);
}
END_TEST

START_TEST(test_free_leaves_no_zombies)
{
    fixture f;
    setup(&f, NULL);
    char path[512];
    write_script(&f, "block.sh", BLOCK_BODY, 0755, path, sizeof(path));
    const char *names[] = {"x", "y", "z"};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(scripts_schedule(f.s, path, &names[i], 1), 0);
    struct file_lines three = {"started", 3};
    ck_assert(run_until(&f, lines_reach, &three, WAIT_MS));
    scripts_job_info ji[3];
    ck_assert_uint_eq(scripts_pending(f.s, ji, 3), 3);
    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = ji[i].pid;

    uint64_t t0 = clock_mono_ms();
    scripts_free(f.s);
    f.s = NULL;
    ck_assert_uint_lt(clock_mono_ms() - t0, 1500);
    /* Every child reaped: none left, not even as a zombie. */
    int status;
    ck_assert_int_eq(waitpid(-1, &status, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(kill(pids[i], 0), -1);
    ck_assert_int_eq(lines(&f, "done"), 0);
    teardown(&f);
}
END_TEST

/* ---- API ----------------------------------------------------------------- */

START_TEST(test_api_and_limits)
{
    fixture f;
    setup(&f, NULL);
    const char *p = "/usr/local/bin/notify.sh";
    ck_assert_int_eq(scripts_notify(f.s, p, "+odown", "master m 1.2.3.4 6379 "
                                    "#quorum 2/2"), 0);
    ck_assert_int_eq(scripts_client_reconfig(f.s, p, "mymaster", "leader",
                                             "start", "10.0.0.1", 6379,
                                             "10.0.0.2", 6380), 0);
    ck_assert_int_eq(scripts_notify(f.s, NULL, "+sdown", "x"), 0);
    ck_assert_int_eq(scripts_client_reconfig(f.s, "", "m", "observer",
                                             "start", "a", 1, "b", 2), 0);
    ck_assert_int_eq(scripts_queued(f.s), 2);
    scripts_job_info ji[4];
    ck_assert_uint_eq(scripts_pending(f.s, ji, 4), 2);
    ck_assert_int_eq(ji[0].argc, 3);
    ck_assert_str_eq(ji[0].argv[0], p);
    ck_assert_str_eq(ji[0].argv[1], "+odown");
    ck_assert_str_eq(ji[0].argv[2], "master m 1.2.3.4 6379 #quorum 2/2");
    const char *want[] = {p, "mymaster", "leader", "start", "10.0.0.1",
                          "6379", "10.0.0.2", "6380"};
    ck_assert_int_eq(ji[1].argc, 8);
    for (int i = 0; i < 8; i++)
        ck_assert_str_eq(ji[1].argv[i], want[i]);
    ck_assert(!ji[1].running);
    ck_assert_int_eq(ji[1].retry_num, 0);

    const char *many[SCRIPTS_MAX_ARGS];
    for (int i = 0; i < SCRIPTS_MAX_ARGS; i++)
        many[i] = "a";
    ck_assert_int_eq(scripts_schedule(f.s, p, many, SCRIPTS_MAX_ARGS), -1);
    ck_assert_int_eq(scripts_schedule(f.s, p, many, SCRIPTS_MAX_ARGS - 1), 0);
    const char *with_null[] = {"a", NULL};
    ck_assert_int_eq(scripts_schedule(f.s, p, with_null, 2), -1);
    ck_assert_int_eq(scripts_schedule(f.s, NULL, NULL, 0), -1);
    ck_assert_int_eq(scripts_schedule(f.s, "", NULL, 0), -1);
    ck_assert_int_eq(scripts_queued(f.s), 3);

    scripts_options bad = {0};
    ck_assert_ptr_null(scripts_new(&bad)); /* no base */
    bad.base = f.base;
    bad.max_running = -1;
    ck_assert_ptr_null(scripts_new(&bad));
    bad.max_running = 0;
    bad.timeout_ms = SCRIPTS_MAX_TIME_MS + 1;
    ck_assert_ptr_null(scripts_new(&bad));
    bad.timeout_ms = 0;
    bad.max_queue = SCRIPTS_MAX_LIMIT + 1;
    ck_assert_ptr_null(scripts_new(&bad));
    ck_assert_ptr_null(scripts_new(NULL));
    scripts_free(NULL);
    teardown(&f); /* frees jobs that never ran */
}
END_TEST

static Suite *
scripts_suite(void)
{
    Suite *s = suite_create("scripts");
    TCase *tc = tcase_create("runner");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_args_exact);
    tcase_add_test(tc, test_exit0_runs_once);
    tcase_add_test(tc, test_exit1_retried_until_success);
    tcase_add_test(tc, test_retries_exhausted);
    tcase_add_test(tc, test_exit2_not_retried);
    tcase_add_test(tc, test_signal_retried);
    tcase_add_test(tc, test_timeout_kills_group);
    tcase_add_test(tc, test_cannot_execute);
    tcase_add_test(tc, test_max_running);
    tcase_add_test(tc, test_queue_overflow_drops_oldest_waiting);
    tcase_add_test(tc, test_reaped_on_sigchld);
    tcase_add_test(tc, test_fds_not_inherited);
    tcase_add_test(tc, test_child_env_and_signals);
    tcase_add_test(tc, test_free_leaves_no_zombies);
    tcase_add_test(tc, test_api_and_limits);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(scripts_suite());
}
