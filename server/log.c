/*
 * Logging to stderr (see log.h). Called from every thread; a message is formatted into a local
 * buffer and written at once so lines from different threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "server/log.h"

static const char *level_names[] = {"error", "warn", "info"};

static void log_line(ae_log_level_t level, const char *fmt, va_list args)
{
    char line[2048];
    struct timespec now;
    struct tm tm;
    size_t len;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
    len += snprintf(line + len, sizeof(line) - len, " [%s] ", level_names[level]);
    int n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, args);
    len = n < 0 ? len : len + (size_t)n;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t unused = write(2, line, len);
    (void)unused;
}

void ae_log(ae_log_level_t level, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    log_line(level, fmt, args);
    va_end(args);
}

void ae_log_warn_each_second(time_t *last_at, const char *fmt, ...)
{
    time_t now = time(NULL);
    if (__atomic_exchange_n(last_at, now, __ATOMIC_RELAXED) == now) /* any thread */
        return;
    va_list args;
    va_start(args, fmt);
    log_line(AE_LOG_WARN, fmt, args);
    va_end(args);
}
