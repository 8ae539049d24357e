/*
 * events.h -- the one way a state change is announced.
 *
 * events_emit() logs a Sentinel-style line ("+sdown master mymaster
 * 127.0.0.1 6379"), then hands the event to every sink: main.c wires the
 * admin port's pub/sub (channel = event name, message = the rest, as
 * Sentinel) and the script runner (warning-level events).  The module
 * itself knows no sockets and no processes.
 */
#ifndef EVENTS_H
#define EVENTS_H

#include <stddef.h>

#include "util/log.h"

#define EVENTS_MAX_SINKS 4

typedef struct events_event {
    const char *name;           /* "+sdown" */
    const char *msg;            /* "master mymaster 127.0.0.1 6379" */
    const char *set;            /* monitored set it concerns, or NULL */
    log_level level;            /* from the event table */
} events_event;

typedef void (*events_sink)(void *ctx, const events_event *e);

typedef struct events {
    struct {
        events_sink fn;
        void *ctx;
    } sinks[EVENTS_MAX_SINKS];
    int nsinks;
} events;

void events_init(events *ev);
int events_add_sink(events *ev, events_sink fn, void *ctx);

/* Level of an event name as Sentinel logs it (warning for state changes
 * operators act on, notice for the rest). */
log_level events_level(const char *name);

void events_emit(events *ev, const char *name, const char *set,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
