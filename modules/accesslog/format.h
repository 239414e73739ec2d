/*
 * Access log lines: `combined` (the Apache/nginx combined format, exactly, so that every log tool
 * reads it) and `json` (one object per line with everything anyedge knows about the request).
 * Pure formatting into a growing buffer, no I/O; the request's worker thread.
 */
#ifndef ANYEDGE_ACCESSLOG_FORMAT_H
#define ANYEDGE_ACCESSLOG_FORMAT_H

#include "server/server.h"
#include "server/strbuf.h"

typedef enum { AE_LOG_COMBINED, AE_LOG_JSON } ae_log_format_t;

/* The time text of the last second formatted, per thread (formatting a date costs more than the rest). */
typedef struct ae_log_clock {
    time_t sec;
    char combined[32]; /* 10/Oct/2000:13:55:36 +0000 */
    char iso[24];      /* 2000-10-10T13:55:36 */
} ae_log_clock_t;

/* Appends the line (newline included) for a request h2o is about to free. */
void ae_log_format_line(ae_strbuf_t *out, ae_log_format_t format, ae_log_clock_t *clock, h2o_req_t *req);

#endif
