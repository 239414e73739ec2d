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
/* Appends s as the combined log format's quoted fields have it (as nginx writes them): `"` and `\`
 * escaped by a backslash, every other byte outside printable ASCII as \xHH. */
void ae_strbuf_append_log_escaped(ae_strbuf_t *b, const char *s, size_t len);
/* Appends s as a JSON string, quotes included: valid UTF-8 as it is, control characters and the
 * bytes of invalid UTF-8 as \u00XX (the byte's value), so the text is valid JSON whatever s holds. */
void ae_strbuf_append_json_string(ae_strbuf_t *b, const char *s, size_t len);
void ae_strbuf_free(ae_strbuf_t *b);

#endif
