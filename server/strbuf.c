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

static char *put_hex_escape(char *dst, const char *prefix, size_t prefix_len, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(dst, prefix, prefix_len);
    dst[prefix_len] = hex[c >> 4];
    dst[prefix_len + 1] = hex[c & 15];
    return dst + prefix_len + 2;
}

void ae_strbuf_append_log_escaped(ae_strbuf_t *b, const char *s, size_t len)
{
    char *dst = ae_strbuf_reserve(b, len * 4);
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *dst++ = '\\';
            *dst++ = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            *dst++ = (char)c;
        } else {
            dst = put_hex_escape(dst, "\\x", 2, c);
        }
    }
    b->len = dst - b->buf;
}

/* The length of the valid UTF-8 sequence of two to four bytes at s (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
    size_t n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (n == 0 || len < n)
        return 0;
    unsigned char low = s[0] == 0xe0 ? 0xa0 : s[0] == 0xf0 ? 0x90 : 0x80, high = s[0] == 0xed ? 0x9f : s[0] == 0xf4 ? 0x8f : 0xbf;
    if (s[1] < low || s[1] > high)
        return 0;
    for (size_t i = 2; i != n; ++i)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

void ae_strbuf_append_json_string(ae_strbuf_t *b, const char *s, size_t len)
{
    const unsigned char *in = (const unsigned char *)s;
    char *dst = ae_strbuf_reserve(b, len * 6 + 2);
    *dst++ = '"';
    for (size_t i = 0; i != len;) {
        size_t n;
        if (in[i] == '"' || in[i] == '\\') {
            *dst++ = '\\';
            *dst++ = (char)in[i++];
        } else if (in[i] >= 0x20 && in[i] < 0x7f) {
            *dst++ = (char)in[i++];
        } else if (in[i] >= 0x80 && (n = utf8_sequence(in + i, len - i)) != 0) {
            memcpy(dst, in + i, n);
            dst += n;
            i += n;
        } else {
            dst = put_hex_escape(dst, "\\u00", 4, in[i++]);
        }
    }
    *dst++ = '"';
    b->len = dst - b->buf;
}

void ae_strbuf_free(ae_strbuf_t *b)
{
    free(b->buf);
    *b = (ae_strbuf_t){NULL};
}
