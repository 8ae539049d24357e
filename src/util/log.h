/*
 * log.h -- leveled, Sentinel-style logging.
 *
 * Lines look like Redis Sentinel's so operators' log tooling keeps working:
 *     <pid>:X 21 Nov 2026 23:30:10.123 # message
 * with '.' debug, '-' verbose, '*' notice, '#' warning.
 *
 * The logger is process-wide (like stderr itself); it is the one piece of
 * mutable state outside main.c, and main.c is what configures it.
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

typedef enum log_level {
    LOG_DEBUG = 0,
    LOG_VERBOSE,
    LOG_NOTICE,
    LOG_WARNING
} log_level;

/* Current threshold; read by the macros so that arguments of disabled
 * levels are never evaluated. */
extern log_level log_threshold;

/* Level names in config-file spelling, indexed by log_level, NULL-ended. */
extern const char *const log_level_names[];

void log_set_level(log_level level);

/* Send output to path (appending), or to stderr when path is NULL or "".
 * Returns 0, or -1 with errno set (the previous destination stays). */
int log_open(const char *path);

/* Reopen the current file (after logrotate moved it); no-op for stderr. */
int log_reopen(void);

void log_close(void);

void log_write(log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_at(level, ...)                                                    \
    do {                                                                      \
        log_level log_at_level_ = (level); /* evaluated once */               \
        if (log_at_level_ >= log_threshold)                                   \
            log_write(log_at_level_, __VA_ARGS__);                            \
    } while (0)

#define log_debug(...)   log_at(LOG_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_at(LOG_VERBOSE, __VA_ARGS__)
#define log_notice(...)  log_at(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_at(LOG_WARNING, __VA_ARGS__)

#endif
