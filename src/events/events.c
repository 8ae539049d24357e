#include "events/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Levels as Redis Sentinel uses them, so log filters written for Sentinel
 * keep working; warning-level events also go to notification_script. */
static const struct {
    const char *name;
    log_level level;
} event_levels[] = {
    {"+sdown", LOG_WARNING},          {"-sdown", LOG_WARNING},
    {"+odown", LOG_WARNING},          {"-odown", LOG_WARNING},
    {"+new-epoch", LOG_WARNING},      {"+try-failover", LOG_WARNING},
    {"+elected-leader", LOG_WARNING},
    {"-failover-abort-not-elected", LOG_WARNING},
    {"+failover-state-select-slave", LOG_WARNING},
    {"+selected-slave", LOG_WARNING},
    {"-failover-abort-no-good-slave", LOG_WARNING},
    {"+failover-state-send-slaveof-noone", LOG_WARNING},
    {"+failover-state-wait-promotion", LOG_WARNING},
    {"+promoted-slave", LOG_WARNING},
    {"+failover-state-reconf-slaves", LOG_WARNING},
    {"+slave-reconf-sent", LOG_NOTICE}, {"+slave-reconf-inprog", LOG_NOTICE},
    {"+slave-reconf-done", LOG_NOTICE},
    {"+failover-end-for-timeout", LOG_WARNING},
    {"+failover-end", LOG_WARNING},   {"+switch-master", LOG_WARNING},
    {"+monitor", LOG_WARNING},        {"-monitor", LOG_WARNING},
    {"+reset-master", LOG_WARNING},   {"+set", LOG_WARNING},
    {"+slave", LOG_NOTICE},           {"+reboot", LOG_NOTICE},
    {"+convert-to-slave", LOG_NOTICE}, {"+fix-slave-config", LOG_NOTICE},
    {"+role-change", LOG_NOTICE},     {"-role-change", LOG_NOTICE},
    {"+tilt", LOG_WARNING},           {"-tilt", LOG_WARNING},
    {"-script-error", LOG_WARNING},   {"-script-timeout", LOG_WARNING},
    {"+raft-leader", LOG_WARNING},    {"+raft-peer-added", LOG_WARNING},
    {"+raft-peer-removed", LOG_WARNING},
};

void
events_init(events *ev)
{
    memset(ev, 0, sizeof(*ev));
}

int
events_add_sink(events *ev, events_sink fn, void *ctx)
{
    if (ev->nsinks == EVENTS_MAX_SINKS)
        return -1;
    ev->sinks[ev->nsinks].fn = fn;
    ev->sinks[ev->nsinks].ctx = ctx;
    ev->nsinks++;
    return 0;
}

log_level
events_level(const char *name)
{
    for (size_t i = 0; i < sizeof(event_levels) / sizeof(event_levels[0]); i++)
        if (strcmp(event_levels[i].name, name) == 0)
            return event_levels[i].level;
    return LOG_NOTICE;
}

void
events_emit(events *ev, const char *name, const char *set, const char *fmt,
            ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    events_event e = {name, msg, set, events_level(name)};
    log_at(e.level, "%s %s", name, msg);
    for (int i = 0; i < ev->nsinks; i++)
        ev->sinks[i].fn(ev->sinks[i].ctx, &e);
}
