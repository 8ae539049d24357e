/*
 * scripts.h -- the script runner: notification_script and
 * client_reconfig_script, with Redis Sentinel's queueing, retry and timeout
 * rules (sentinelScheduleScriptExecution and friends).
 *
 * Jobs wait in one FIFO queue (running jobs stay in it, as in Sentinel).
 * At most max_running run at once; the queue holds at most max_queue jobs
 * and, when a new one overflows it, the oldest job that is not running is
 * dropped (logged).  Outcome of one run:
 *
 *   exit 0               done
 *   exit 1               retried after retry_delay_ms * 2^(attempt-1),
 *                        unless max_retries attempts have been made
 *   exit >= 2, signal,   not retried; reported as -script-error
 *   exec failure         "<path> <signal> <exit-code>" (exec failure is
 *                        exit code 2, as Sentinel; the errno is logged)
 *   fork failure         -script-error "<path> 99 0", retried like exit 1
 *   runs > timeout_ms    SIGKILL (whole process group), -script-timeout
 *                        "<path> <pid>", then -script-error "<path> 9 0"
 *
 * Children get argv exactly as given, an environment of PATH and HOME only,
 * stdin/stdout/stderr on /dev/null, no other descriptors, default signal
 * dispositions and an empty signal mask, and a process group of their own.
 * Details and the differences from Sentinel: docs/scripts.md.
 *
 * Everything runs on the caller's event_base (a SIGCHLD signal event and
 * one timer).  scripts_schedule() only queues: children are started,
 * reaped and reported from the event loop, so on_event is never called
 * from inside a scripts_*() call.  on_event may call scripts_schedule();
 * it must not call scripts_free().
 *
 * Routing -script-error / -script-timeout: emit them with no monitored set
 * (like Sentinel's sentinelEvent with ri == NULL) and run notification_script
 * only for events that concern a set; otherwise a failing notification
 * script would schedule itself for its own failure report, forever.
 */
#ifndef SCRIPTS_H
#define SCRIPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

/* Defaults (Sentinel's SENTINEL_SCRIPT_* values), used when the
 * corresponding option is 0. */
#define SCRIPTS_DEFAULT_MAX_RUNNING 16
#define SCRIPTS_DEFAULT_MAX_QUEUE 256
#define SCRIPTS_DEFAULT_MAX_RETRIES 10
#define SCRIPTS_DEFAULT_RETRY_DELAY_MS 30000
#define SCRIPTS_DEFAULT_TIMEOUT_MS 60000

/* argv entries per job, the path included (Sentinel's
 * SENTINEL_SCRIPT_MAX_ARGS). */
#define SCRIPTS_MAX_ARGS 16

/* Bounds on options: counts, and every *_ms. */
#define SCRIPTS_MAX_LIMIT 65536
#define SCRIPTS_MAX_TIME_MS 86400000    /* one day */

typedef struct scripts scripts;

/* A job failed or timed out: event is "-script-error" or "-script-timeout",
 * description is Sentinel's message for it.  Both strings are valid only
 * during the call. */
typedef void (*scripts_event_fn)(void *ctx, const char *event,
                                 const char *description);

typedef struct scripts_options {
    struct event_base *base;    /* required */
    scripts_event_fn on_event;  /* NULL: the runner logs the events itself */
    void *ctx;
    int max_running;            /* children at once */
    int max_queue;              /* jobs queued, running ones included */
    int max_retries;            /* attempts per job, the first one included:
                                 * Sentinel's retry-num never exceeds it */
    uint64_t retry_delay_ms;    /* delay before the first retry; doubles */
    uint64_t timeout_ms;        /* longest run before SIGKILL */
} scripts_options;

/* NULL when an option is out of range (negative, or over the bounds
 * above) or libevent fails.  Reads
 * PATH and HOME from the environment once, here. */
scripts *scripts_new(const scripts_options *o);

/* SIGKILLs running children, reaps them (waiting up to ~2 s for ones stuck
 * in the kernel), drops the queue without reporting anything. */
void scripts_free(scripts *s);

/* Queues path with arguments args[0..nargs-1] (strings are copied; the
 * child's argv[0] is path).  -1 when path is NULL or empty, an argument is
 * NULL, or there are more than SCRIPTS_MAX_ARGS - 1 arguments. */
int scripts_schedule(scripts *s, const char *path, const char *const *args,
                     int nargs);

/* notification_script: "<script> <event-type> <event-description>".
 * A NULL or empty script is not an error: nothing is queued. */
int scripts_notify(scripts *s, const char *script, const char *event_type,
                   const char *description);

/* client_reconfig_script: "<script> <master-name> <role> <state> <from-ip>
 * <from-port> <to-ip> <to-port>", ports in decimal.  Sentinel passes role
 * "leader" or "observer" and state "start".  NULL or empty script: no-op. */
int scripts_client_reconfig(scripts *s, const char *script,
                            const char *master, const char *role,
                            const char *state, const char *from_ip,
                            int from_port, const char *to_ip, int to_port);

/* INFO's sentinel_running_scripts and sentinel_scripts_queue_length (the
 * latter counts running jobs too, as Sentinel's does). */
int scripts_running(const scripts *s);
int scripts_queued(const scripts *s);

/* One job as SENTINEL PENDING-SCRIPTS shows it. */
typedef struct scripts_job_info {
    const char *const *argv;    /* argc strings, argv[0] is the path */
    int argc;
    bool running;               /* flags: "running", else "scheduled" */
    pid_t pid;                  /* 0 unless running */
    uint64_t run_time_ms;       /* running: time since it started */
    uint64_t run_delay_ms;      /* scheduled: time until it may start */
    int retry_num;              /* attempts started so far */
} scripts_job_info;

/* Fills out[0..] with up to max jobs in queue order (oldest first) and
 * returns how many it filled; scripts_queued() tells how many there are.
 * The argv pointers stay valid until the event loop runs again or the
 * next scripts_schedule() / scripts_free(). */
size_t scripts_pending(const scripts *s, scripts_job_info *out, size_t max);

#endif
