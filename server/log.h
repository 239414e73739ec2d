/*
 * Logging to stderr, one line per message with a UTC timestamp and a level.
 * Any thread may call these; each message is written with a single write(2).
 */
#ifndef ANYEDGE_LOG_H
#define ANYEDGE_LOG_H

#include <time.h>

typedef enum { AE_LOG_ERROR, AE_LOG_WARN, AE_LOG_INFO } ae_log_level_t;

void ae_log(ae_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ae_log_error(...) ae_log(AE_LOG_ERROR, __VA_ARGS__)
#define ae_log_warn(...) ae_log(AE_LOG_WARN, __VA_ARGS__)
#define ae_log_info(...) ae_log(AE_LOG_INFO, __VA_ARGS__)

/* A warning logged at most once a second per *last_at (the second it was last logged, swapped
 * atomically), for refusals a client can cause at will. */
void ae_log_warn_each_second(time_t *last_at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
