/*
 * A growing byte buffer for text built piece by piece (log lines, the metrics page). Its owner's
 * thread only.
 */
#ifndef ANYEDGE_STRBUF_H
#define ANYEDGE_STRBUF_H

#include <stddef.h>

typedef struct ae_strbuf {
    char *buf;
    size_t len, cap;
} ae_strbuf_t;

/* Makes room for `more` bytes after len; returns where they go. */
char *ae_strbuf_reserve(ae_strbuf_t *b, size_t more);
void ae_strbuf_append(ae_strbuf_t *b, const char *s, size_t len);
void ae_strbuf_appendf(ae_strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ae_strbuf_free(ae_strbuf_t *b);

#endif
