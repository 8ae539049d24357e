/*
 * scripts.c -- the script runner (API and rules: scripts.h, docs/scripts.md).
 *
 * Children are reaped from a libevent SIGCHLD event with waitpid(pid,
 * WNOHANG) on each running job's own pid, never waitpid(-1): a blanket reap
 * would steal the exit status of any other child the daemon may fork.  One
 * timer covers everything time-driven: starting a job whose retry delay has
 * passed, the run timeout, and a 1 s re-check while children run, so a
 * SIGCHLD lost to someone else's handler only delays a reap.
 *
 * Each child gets a close-on-exec pipe: if execve() fails it writes errno
 * there before _exit(2), and the parent reads it once the child is reaped,
 * so the log can say "Permission denied" instead of a bare exit status 2.
 */
#include "events/scripts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

#define SCRIPTS_RECHECK_MS 1000        /* re-check running children */
#define SCRIPTS_FREE_WAIT_MS 2000      /* scripts_free: wait for SIGKILLed */
#define SCRIPTS_DESC_MAX 4200          /* PATH_MAX plus the numbers */
#define SCRIPTS_DEFAULT_PATH \
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct scripts_job {
    char *argv[SCRIPTS_MAX_ARGS + 1]; /* argv[0] = path, NULL-terminated */
    int argc;
    pid_t pid;          /* > 0 while running */
    int errfd;          /* running: read end of the exec-error pipe, or -1 */
    int retry_num;      /* attempts started */
    uint64_t start_ms;  /* running: started at; waiting: not before */
    uint64_t killed_ms; /* running: last SIGKILL for the timeout, or 0 */
} scripts_job;

struct scripts {
    struct event_base *base;
    struct event *sigchld;
    struct event *timer;
    scripts_event_fn on_event;
    void *ctx;
    int max_running;
    int max_queue;
    int max_retries;
    uint64_t retry_delay_ms;
    uint64_t timeout_ms;
    char *envp[3];          /* PATH=, HOME= (when set), NULL */
    scripts_job **jobs;     /* queue order, oldest first; max_queue + 1 */
    int njobs;
    int nrunning;
};

/* ---- jobs and the queue --------------------------------------------------- */

static void
job_free(scripts_job *j)
{
    for (int i = 0; i < j->argc; i++)
        free(j->argv[i]);
    if (j->errfd >= 0)
        close(j->errfd);
    free(j);
}

static scripts_job *
queue_remove(scripts *s, int i)
{
    scripts_job *j = s->jobs[i];
    memmove(&s->jobs[i], &s->jobs[i + 1],
            (size_t)(s->njobs - i - 1) * sizeof(s->jobs[0]));
    s->njobs--;
    return j;
}

/* "path arg1 arg2 ..." for log lines, truncated to fit. */
static const char *
job_line(const scripts_job *j, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < j->argc && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? " " : "",
                         j->argv[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

/* Sentinel drops the oldest job that is not running, so a burst of events
 * keeps the newest ones (the current state of things) and never touches a
 * child already started. */
static void
queue_drop_oldest_waiting(scripts *s)
{
    for (int i = 0; i < s->njobs; i++) {
        if (s->jobs[i]->pid > 0)
            continue;
        scripts_job *j = queue_remove(s, i);
        char line[512];
        log_warning("scripts: queue full (%d jobs), dropping the oldest "
                    "waiting one: %s", s->max_queue,
                    job_line(j, line, sizeof(line)));
        job_free(j);
        return;
    }
}

static void
report(scripts *s, const char *event, const char *desc)
{
    if (s->on_event != NULL)
        s->on_event(s->ctx, event, desc);
    else
        log_warning("%s %s", event, desc);
}

/* Sentinel's sentinelScriptRetryDelay: base, doubled for every attempt
 * after the first (30 s, 60 s, 2 min ... 128 min by default), capped at a
 * day so a large max_retries cannot push a job out of reach. */
static uint64_t
retry_delay(const scripts *s, int attempts)
{
    uint64_t d = s->retry_delay_ms;
    while (attempts-- > 1 && d < SCRIPTS_MAX_TIME_MS)
        d *= 2;
    return d < SCRIPTS_MAX_TIME_MS ? d : SCRIPTS_MAX_TIME_MS;
}

/* The script itself and whatever it started: a timed-out script's hung curl
 * must die with it.  kill(-pid) is safe while pid is unreaped: Linux does
 * not reuse a pid still in use, so group pid can only be the child's. */
static void
kill_child(pid_t pid)
{
    if (kill(-pid, SIGKILL) < 0)
        kill(pid, SIGKILL);
}

/* ---- the child ------------------------------------------------------------ */

/* Only async-signal-safe calls between fork() and execve(). */
static void __attribute__((noreturn))
child_fail(int errw)
{
    int e = errno;
    if (errw >= 0) {
        ssize_t n = write(errw, &e, sizeof(e));
        (void)n;
    }
    _exit(2); /* as Sentinel: exit status 2, so never retried */
}

static void
child_close_from(int lowest, long open_max)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0) == 0)
        return;
#endif
    for (long fd = lowest; fd < open_max; fd++)
        close((int)fd);
}

/* Default dispositions first, then unblock: a signal pending at unblock
 * must not run the daemon's handlers (libevent's would write to the
 * parent's signal socketpair). */
static void
child_reset_signals(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); /* EINVAL for KILL, STOP: fine */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void __attribute__((noreturn))
child_exec(const scripts *s, const scripts_job *j, int errw, long open_max)
{
    child_reset_signals();
    setpgid(0, 0);
    /* Keep the error pipe out of 0-2, which /dev/null is about to take. */
    if (errw >= 0 && errw <= 2)
        errw = fcntl(errw, F_DUPFD_CLOEXEC, 3);
    int null = open("/dev/null", O_RDWR);
    if (null < 0)
        child_fail(errw);
    for (int fd = 0; fd <= 2; fd++)
        if (fd != null && dup2(null, fd) < 0)
            child_fail(errw);
    int lowest = 3;
    if (errw >= 0) {
        if (errw != 3 && dup3(errw, 3, O_CLOEXEC) < 0)
            child_fail(errw);
        errw = 3;
        lowest = 4;
    }
    child_close_from(lowest, open_max);
    execve(j->argv[0], j->argv, s->envp);
    child_fail(errw);
}

static long
open_max(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return rl.rlim_cur < INT_MAX ? (long)rl.rlim_cur : INT_MAX;
    return 65536;
}

/* Forks and execs j; the pid, or -1 with errno set. */
static pid_t
spawn(scripts_job *j, const scripts *s)
{
    int pfd[2];
    /* Without the pipe the child still runs; only the errno is lost. */
    if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
        pfd[0] = pfd[1] = -1;
    long maxfd = open_max();
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(s, j, pfd[1], maxfd);
    int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (pid < 0) {
        if (pfd[0] >= 0)
            close(pfd[0]);
        errno = fork_errno;
        return -1;
    }
    setpgid(pid, pid); /* the child does it too: whoever runs first wins */
    j->errfd = pfd[0];
    return pid;
}

/* ---- the event-loop side ---------------------------------------------------- */

/* errno the child reported from a failed execve(), or 0. */
static int
exec_errno(scripts_job *j)
{
    int e = 0;
    if (j->errfd >= 0) {
        if (read(j->errfd, &e, sizeof(e)) != (ssize_t)sizeof(e))
            e = 0;
        close(j->errfd);
        j->errfd = -1;
    }
    return e;
}

/* As Sentinel: exit 1 or death by a signal (including our SIGKILL for a
 * timeout) means "try again later", up to max_retries attempts; any other
 * exit status is final. */
static void
finish(scripts *s, int i, int status)
{
    scripts_job *j = s->jobs[i];
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    int e = exec_errno(j);
    log_verbose("-script-child %ld %d %d", (long)j->pid, code, sig);
    if (e != 0)
        log_warning("scripts: cannot execute %s: %s", j->argv[0],
                    strerror(e));
    s->nrunning--;
    j->pid = 0;
    if ((sig != 0 || code == 1) && j->retry_num < s->max_retries) {
        uint64_t delay = retry_delay(s, j->retry_num);
        j->start_ms = clock_mono_ms() + delay;
        log_verbose("scripts: %s %s, attempt %d in %llu ms", j->argv[0],
                    sig ? "killed by a signal" : "exited 1", j->retry_num + 1,
                    (unsigned long long)delay);
        return;
    }
    /* Built and the job freed before on_event runs: it may queue jobs. */
    char desc[SCRIPTS_DESC_MAX];
    snprintf(desc, sizeof(desc), "%s %d %d", j->argv[0], sig, code);
    job_free(queue_remove(s, i));
    if (sig != 0 || code != 0)
        report(s, "-script-error", desc);
}

/* Reaps at most one child; true when it did (the caller rescans). */
static bool
collect_one(scripts *s)
{
    for (int i = 0; i < s->njobs; i++) {
        scripts_job *j = s->jobs[i];
        if (j->pid <= 0)
            continue;
        int status = 0;
        pid_t r;
        do
            r = waitpid(j->pid, &status, WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r == 0)
            continue;
        if (r < 0) {
            /* ECHILD: someone reaped it (SIGCHLD set to SIG_IGN, or a
             * waitpid(-1) elsewhere).  Its outcome is lost. */
            log_warning("scripts: child %ld (%s) was reaped elsewhere: %s; "
                        "its outcome is unknown", (long)j->pid, j->argv[0],
                        strerror(errno));
            s->nrunning--;
            job_free(queue_remove(s, i));
            return true;
        }
        finish(s, i, status);
        return true;
    }
    return false;
}

/* SIGKILLs at most one newly timed-out child; true when it reported one. */
static bool
kill_one_timedout(scripts *s, uint64_t now)
{
    for (int i = 0; i < s->njobs; i++) {
        scripts_job *j = s->jobs[i];
        if (j->pid <= 0)
            continue;
        if (j->killed_ms != 0) {
            /* Still unreaped: a child in uninterruptible sleep only dies
             * when it wakes, so keep asking. */
            if (now - j->killed_ms >= SCRIPTS_RECHECK_MS) {
                kill_child(j->pid);
                j->killed_ms = now;
            }
            continue;
        }
        if (now - j->start_ms < s->timeout_ms)
            continue;
        kill_child(j->pid);
        j->killed_ms = now;
        char desc[SCRIPTS_DESC_MAX];
        snprintf(desc, sizeof(desc), "%s %ld", j->argv[0], (long)j->pid);
        report(s, "-script-timeout", desc);
        return true;
    }
    return false;
}

/* Starts at most one due job when a slot is free; true when it tried. */
static bool
start_one(scripts *s, uint64_t now)
{
    if (s->nrunning >= s->max_running)
        return false;
    for (int i = 0; i < s->njobs; i++) {
        scripts_job *j = s->jobs[i];
        if (j->pid > 0 || j->start_ms > now)
            continue;
        j->retry_num++;
        j->start_ms = now;
        j->killed_ms = 0;
        pid_t pid = spawn(j, s);
        if (pid > 0) {
            j->pid = pid;
            s->nrunning++;
            log_verbose("+script-child %ld", (long)pid);
            return true;
        }
        /* Out of processes or memory: transient, so retry like exit 1
         * (Sentinel reports the same "99 0" and retries at once). */
        log_warning("scripts: cannot fork for %s: %s", j->argv[0],
                    strerror(errno));
        char desc[SCRIPTS_DESC_MAX];
        snprintf(desc, sizeof(desc), "%s 99 0", j->argv[0]);
        if (j->retry_num < s->max_retries)
            j->start_ms = now + retry_delay(s, j->retry_num);
        else
            job_free(queue_remove(s, i));
        report(s, "-script-error", desc);
        return true;
    }
    return false;
}

static void
arm(scripts *s)
{
    uint64_t now = clock_mono_ms(), next = UINT64_MAX;
    for (int i = 0; i < s->njobs; i++) {
        const scripts_job *j = s->jobs[i];
        uint64_t due;
        if (j->pid > 0) {
            due = now + SCRIPTS_RECHECK_MS;
            if (j->killed_ms == 0 && j->start_ms + s->timeout_ms < due)
                due = j->start_ms + s->timeout_ms;
        } else if (s->nrunning < s->max_running) {
            due = j->start_ms;
        } else {
            continue; /* starts when a running one ends (SIGCHLD) */
        }
        if (due < next)
            next = due;
    }
    if (next == UINT64_MAX) {
        evtimer_del(s->timer);
        return;
    }
    uint64_t ms = next > now ? next - now : 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(s->timer, &tv);
}

/* Every step that calls on_event returns right after it, and the loop
 * rescans from scratch: on_event may queue (and so drop) jobs. */
static void
service(scripts *s)
{
    while (collect_one(s) || kill_one_timedout(s, clock_mono_ms()) ||
           start_one(s, clock_mono_ms()))
        ;
    arm(s);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    service(arg);
}

/* ---- API -------------------------------------------------------------------- */

static char *
env_entry(const char *name, const char *value)
{
    size_t len = strlen(name) + 1 + strlen(value) + 1;
    char *e = xmalloc(len);
    snprintf(e, len, "%s=%s", name, value);
    return e;
}

static int
opt_or(int v, int dflt)
{
    return v != 0 ? v : dflt;
}

static bool
options_valid(const scripts_options *o)
{
    return o != NULL && o->base != NULL && o->max_running >= 0 &&
           o->max_running <= SCRIPTS_MAX_LIMIT && o->max_queue >= 0 &&
           o->max_queue <= SCRIPTS_MAX_LIMIT && o->max_retries >= 0 &&
           o->max_retries <= SCRIPTS_MAX_LIMIT &&
           o->retry_delay_ms <= SCRIPTS_MAX_TIME_MS &&
           o->timeout_ms <= SCRIPTS_MAX_TIME_MS;
}

scripts *
scripts_new(const scripts_options *o)
{
    if (!options_valid(o))
        return NULL;
    scripts *s = xcalloc(1, sizeof(*s));
    s->base = o->base;
    s->on_event = o->on_event;
    s->ctx = o->ctx;
    s->max_running = opt_or(o->max_running, SCRIPTS_DEFAULT_MAX_RUNNING);
    s->max_queue = opt_or(o->max_queue, SCRIPTS_DEFAULT_MAX_QUEUE);
    s->max_retries = opt_or(o->max_retries, SCRIPTS_DEFAULT_MAX_RETRIES);
    s->retry_delay_ms = o->retry_delay_ms ? o->retry_delay_ms
                                          : SCRIPTS_DEFAULT_RETRY_DELAY_MS;
    s->timeout_ms = o->timeout_ms ? o->timeout_ms : SCRIPTS_DEFAULT_TIMEOUT_MS;
    s->jobs = xcalloc((size_t)s->max_queue + 1, sizeof(s->jobs[0]));
    const char *path = getenv("PATH"), *home = getenv("HOME");
    s->envp[0] = env_entry("PATH", path && *path ? path : SCRIPTS_DEFAULT_PATH);
    if (home != NULL)
        s->envp[1] = env_entry("HOME", home);
    s->sigchld = evsignal_new(o->base, SIGCHLD, on_wake, s);
    s->timer = evtimer_new(o->base, on_wake, s);
    if (s->sigchld == NULL || s->timer == NULL ||
        evsignal_add(s->sigchld, NULL) < 0) {
        scripts_free(s);
        return NULL;
    }
    return s;
}

/* Blocking here is bounded: SIGKILL cannot be caught, only a child stuck in
 * the kernel outlives it, and that one is left to init. */
static void
reap_all(scripts *s)
{
    uint64_t deadline = clock_mono_ms() + SCRIPTS_FREE_WAIT_MS;
    for (;;) {
        int left = 0;
        for (int i = 0; i < s->njobs; i++) {
            scripts_job *j = s->jobs[i];
            if (j->pid <= 0)
                continue;
            int status;
            pid_t r = waitpid(j->pid, &status, WNOHANG);
            if (r == 0 || (r < 0 && errno == EINTR))
                left++;
            else
                j->pid = 0;
        }
        if (left == 0)
            return;
        if (clock_mono_ms() >= deadline) {
            log_warning("scripts: %d script%s did not die after SIGKILL",
                        left, left == 1 ? "" : "s");
            return;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void
scripts_free(scripts *s)
{
    if (s == NULL)
        return;
    if (s->sigchld != NULL)
        event_free(s->sigchld);
    if (s->timer != NULL)
        event_free(s->timer);
    for (int i = 0; i < s->njobs; i++)
        if (s->jobs[i]->pid > 0)
            kill_child(s->jobs[i]->pid);
    reap_all(s);
    for (int i = 0; i < s->njobs; i++)
        job_free(s->jobs[i]);
    free(s->jobs);
    for (int i = 0; s->envp[i] != NULL; i++)
        free(s->envp[i]);
    free(s);
}

static bool
job_valid(const char *path, const char *const *args, int nargs)
{
    if (path == NULL || path[0] == '\0' || nargs < 0 ||
        nargs > SCRIPTS_MAX_ARGS - 1 || (nargs > 0 && args == NULL))
        return false;
    for (int i = 0; i < nargs; i++)
        if (args[i] == NULL)
            return false;
    return true;
}

int
scripts_schedule(scripts *s, const char *path, const char *const *args,
                 int nargs)
{
    if (!job_valid(path, args, nargs)) {
        log_warning("scripts: not running %s: no path, a NULL argument or "
                    "too many arguments (%d)", path ? path : "(null)", nargs);
        return -1;
    }
    scripts_job *j = xcalloc(1, sizeof(*j));
    j->argv[0] = xstrdup(path);
    for (int i = 0; i < nargs; i++)
        j->argv[i + 1] = xstrdup(args[i]);
    j->argc = nargs + 1;
    j->errfd = -1;
    s->jobs[s->njobs++] = j;
    if (s->njobs > s->max_queue)
        queue_drop_oldest_waiting(s);
    /* Start from the loop, not from here: the caller may be inside an
     * events_emit() and on_event must not re-enter it. */
    struct timeval now = {0, 0};
    evtimer_add(s->timer, &now);
    return 0;
}

int
scripts_notify(scripts *s, const char *script, const char *event_type,
               const char *description)
{
    if (script == NULL || script[0] == '\0')
        return 0;
    const char *args[] = {event_type, description};
    return scripts_schedule(s, script, args, 2);
}

int
scripts_client_reconfig(scripts *s, const char *script, const char *master,
                        const char *role, const char *state,
                        const char *from_ip, int from_port, const char *to_ip,
                        int to_port)
{
    if (script == NULL || script[0] == '\0')
        return 0;
    char from[16], to[16];
    snprintf(from, sizeof(from), "%d", from_port);
    snprintf(to, sizeof(to), "%d", to_port);
    const char *args[] = {master, role, state, from_ip, from, to_ip, to};
    return scripts_schedule(s, script, args, 7);
}

int
scripts_running(const scripts *s)
{
    return s->nrunning;
}

int
scripts_queued(const scripts *s)
{
    return s->njobs;
}

size_t
scripts_pending(const scripts *s, scripts_job_info *out, size_t max)
{
    uint64_t now = clock_mono_ms();
    size_t n = 0;
    for (int i = 0; i < s->njobs && n < max; i++, n++) {
        const scripts_job *j = s->jobs[i];
        scripts_job_info *x = &out[n];
        memset(x, 0, sizeof(*x));
        x->argv = (const char *const *)j->argv;
        x->argc = j->argc;
        x->running = j->pid > 0;
        x->pid = x->running ? j->pid : 0;
        if (x->running)
            x->run_time_ms = now - j->start_ms;
        else if (j->start_ms > now)
            x->run_delay_ms = j->start_ms - now;
        x->retry_num = j->retry_num;
    }
    return n;
}
