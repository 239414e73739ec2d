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
/* Appends s with `"` and `\` escaped by a backslash and every other byte outside printable ASCII as
 * hex_prefix and the byte's two hex digits: "\\x" gives the combined log format's quoted fields
 * (as nginx writes them). */
void ae_strbuf_append_escaped(ae_strbuf_t *b, const char *s, size_t len, const char *hex_prefix);
/* Appends s as a JSON string, quotes included; bytes outside printable ASCII become \u00XX (the
 * byte's value), so the text is valid JSON whatever s holds. */
void ae_strbuf_append_json_string(ae_strbuf_t *b, const char *s, size_t len);
void ae_strbuf_free(ae_strbuf_t *b);

#endif
