/*
 * The monotonic clock in milliseconds, for the threads that are not an event loop (health, purge,
 * writer, commands): deadlines, intervals and durations. Any thread.
 */
#ifndef ANYEDGE_CLOCK_H
#define ANYEDGE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t ae_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
