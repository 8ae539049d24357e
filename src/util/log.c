/*
 * log.c -- see log.h.  Each line is formatted into one buffer and written
 * with a single write(2) so lines from a crashing process are never torn
 * and O_APPEND keeps them whole when several processes share a file.
 */
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

log_level log_threshold = LOG_NOTICE;

const char *const log_level_names[] = {"debug", "verbose", "notice", "warning",
                                       NULL};

static int log_fd = STDERR_FILENO;
static char *log_path;

void
log_set_level(log_level level)
{
    log_threshold = level;
}

static int
log_open_fd(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

int
log_open(const char *path)
{
    if (path == NULL || *path == '\0') {
        log_close();
        return 0;
    }
    int fd = log_open_fd(path);
    if (fd < 0)
        return -1;
    char *copy = strdup(path);
    if (copy == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    log_close();
    log_fd = fd;
    log_path = copy;
    return 0;
}

int
log_reopen(void)
{
    if (log_path == NULL)
        return 0;
    int fd = log_open_fd(log_path);
    if (fd < 0)
        return -1;
    /* dup2 keeps the descriptor number stable: nothing else holds it, but
     * a write racing the swap still lands in one file or the other. */
    dup2(fd, log_fd);
    close(fd);
    return 0;
}

void
log_close(void)
{
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = STDERR_FILENO;
    free(log_path);
    log_path = NULL;
}

void
log_write(log_level level, const char *fmt, ...)
{
    static const char marks[] = {'.', '-', '*', '#'};
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%ld:X ", (long)getpid());
    n += (int)strftime(line + n, sizeof(line) - (size_t)n, "%d %b %Y %H:%M:%S",
                       &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ld %c ",
                  (long)(ts.tv_nsec / 1000000), marks[level]);

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;  /* truncated: keep the newline */
    line[n++] = '\n';

    const char *p = line;
    while (n > 0) {
        ssize_t w = write(log_fd, p, (size_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;  /* nowhere left to complain to */
        p += w;
        n -= (int)w;
    }
}
