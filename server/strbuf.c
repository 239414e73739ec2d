/*
 * Growing byte buffers (see strbuf.h). The owner's thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/strbuf.h"

char *ae_strbuf_reserve(ae_strbuf_t *b, size_t more)
{
    if (b->len + more > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 4096;
        while (cap < b->len + more)
            cap *= 2;
        b->buf = realloc(b->buf, cap);
        b->cap = cap;
    }
    return b->buf + b->len;
}

void ae_strbuf_append(ae_strbuf_t *b, const char *s, size_t len)
{
    memcpy(ae_strbuf_reserve(b, len), s, len);
    b->len += len;
}

void ae_strbuf_appendf(ae_strbuf_t *b, const char *fmt, ...)
{
    va_list args;
    ae_strbuf_reserve(b, 64);
    va_start(args, fmt);
    int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, args);
    va_end(args);
    if (n >= (int)(b->cap - b->len)) { /* longer than expected: once more with room */
        ae_strbuf_reserve(b, (size_t)n + 1);
        va_start(args, fmt);
        vsnprintf(b->buf + b->len, b->cap - b->len, fmt, args);
        va_end(args);
    }
    b->len += n > 0 ? (size_t)n : 0;
}

void ae_strbuf_append_escaped(ae_strbuf_t *b, const char *s, size_t len, const char *hex_prefix)
{
    static const char hex[] = "0123456789abcdef";
    size_t prefix_len = strlen(hex_prefix);
    char *dst = ae_strbuf_reserve(b, len * (prefix_len + 2));
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *dst++ = '\\';
            *dst++ = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            *dst++ = (char)c;
        } else {
            memcpy(dst, hex_prefix, prefix_len);
            dst[prefix_len] = hex[c >> 4];
            dst[prefix_len + 1] = hex[c & 15];
            dst += prefix_len + 2;
        }
    }
    b->len = dst - b->buf;
}

void ae_strbuf_append_json_string(ae_strbuf_t *b, const char *s, size_t len)
{
    ae_strbuf_append(b, "\"", 1);
    ae_strbuf_append_escaped(b, s, len, "\\u00");
    ae_strbuf_append(b, "\"", 1);
}

void ae_strbuf_free(ae_strbuf_t *b)
{
    free(b->buf);
    *b = (ae_strbuf_t){NULL};
}
