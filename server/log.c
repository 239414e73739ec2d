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

void ae_log(ae_log_level_t level, const char *fmt, ...)
{
    char line[2048];
    struct timespec now;
    struct tm tm;
    size_t len;
    va_list args;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
    len += snprintf(line + len, sizeof(line) - len, " [%s] ", level_names[level]);
    va_start(args, fmt);
    int n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, args);
    va_end(args);
    len = n < 0 ? len : len + (size_t)n;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t unused = write(2, line, len);
    (void)unused;
}
