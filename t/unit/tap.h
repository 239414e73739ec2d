/*
 * A minimal TAP producer for the C unit tests, which prove runs through t/00-unit.t.
 */
#ifndef ANYEDGE_TAP_H
#define ANYEDGE_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failures;

__attribute__((format(printf, 4, 5))) static int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list args;
    printf("%sok %d - ", pass ? "" : "not ", ++tap_count);
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
    if (!pass) {
        printf("#   failed at %s line %d\n", file, line);
        ++tap_failures;
    }
    fflush(stdout);
    return pass;
}

#define ok(cond, ...) tap_ok((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

static int done_testing(void)
{
    printf("1..%d\n", tap_count);
    return tap_failures != 0;
}

#endif
