/*
 * Chunked transfer coding (see chunked.h): a byte-at-a-time state machine for the framing, with
 * chunk data copied in runs.
 */
#include <string.h>
#include "modules/origin/chunked.h"

#define MAX_SIZE_DIGITS 15 /* chunks up to 2^60 bytes; more is an attack, not a body */

enum {
    SIZE = 0,      /* hex digits of the chunk size */
    SIZE_REST,     /* whitespace after them, then ';' and an extension, or the line's end */
    EXTENSION,     /* a chunk extension (RFC 9112 7.1.1), up to the line's end */
    SIZE_LF,       /* the LF after the CR that ends the size line */
    DATA,          /* chunk_left bytes of data */
    DATA_CR,       /* the CR after the data */
    DATA_LF,       /* the LF after the data */
    TRAILER_START, /* the start of a trailer field, or of the final empty line */
    TRAILER_NAME,  /* a trailer field's name, up to ':' */
    TRAILER_VALUE, /* its value, up to LF */
    FINAL_LF,      /* the LF of the final empty line */
    DONE,
};

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A field name's characters (RFC 9110 5.6.2 tchar). */
static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Text in an extension or a trailer value: no control characters but HTAB. */
static int is_text_char(char c)
{
    return c == '\t' || ((unsigned char)c >= 0x20 && c != 0x7f);
}

/* The size line ended: data follows, or the trailer section after the last chunk. */
static int end_size_line(ae_chunked_decoder_t *d)
{
    d->state = d->chunk_left != 0 ? DATA : TRAILER_START;
    return 0;
}

/* One framing byte; returns -1 on a syntax error. */
static int framing_byte(ae_chunked_decoder_t *d, char c)
{
    int v;
    switch (d->state) {
    case SIZE:
        if ((v = hex_value(c)) >= 0) {
            if (++d->size_digits > MAX_SIZE_DIGITS)
                return -1;
            d->chunk_left = d->chunk_left * 16 + (size_t)v;
            return 0;
        }
        if (d->size_digits == 0)
            return -1;
        d->state = SIZE_REST;
        /* fallthrough */
    case SIZE_REST:
        if (c == ' ' || c == '\t')
            return 0;
        if (c == ';') {
            d->state = EXTENSION;
            return 0;
        }
        /* fallthrough */
    case EXTENSION:
        if (c == '\r') {
            d->state = SIZE_LF;
            return 0;
        }
        if (c == '\n') /* a bare LF is tolerated */
            return end_size_line(d);
        return d->state == EXTENSION && is_text_char(c) ? 0 : -1;
    case SIZE_LF:
        return c == '\n' ? end_size_line(d) : -1;
    case DATA_CR:
        /* a bare LF after the data is tolerated */
        d->state = DATA_LF;
        if (c == '\r')
            return 0;
        /* fallthrough */
    case DATA_LF:
        if (c != '\n')
            return -1;
        d->state = SIZE;
        d->size_digits = 0;
        return 0;
    case TRAILER_START:
        if (c == '\r' || c == '\n') {
            d->state = c == '\r' ? FINAL_LF : DONE;
            return 0;
        }
        d->state = TRAILER_NAME;
        return is_token_char(c) ? 0 : -1;
    case TRAILER_NAME:
        if (c == ':') {
            d->state = TRAILER_VALUE;
            return 0;
        }
        return is_token_char(c) ? 0 : -1;
    case TRAILER_VALUE:
        if (c == '\n')
            d->state = TRAILER_START;
        return c == '\n' || c == '\r' || is_text_char(c) ? 0 : -1;
    case FINAL_LF:
        if (c != '\n')
            return -1;
        d->state = DONE;
        return 0;
    default:
        return -1;
    }
}

ae_chunked_result_t ae_chunked_decode(ae_chunked_decoder_t *d, char *src, size_t *len, size_t *consumed)
{
    size_t in = 0, out = 0;
    while (in != *len && d->state != DONE) {
        if (d->state == DATA) {
            size_t n = *len - in < d->chunk_left ? *len - in : d->chunk_left;
            memmove(src + out, src + in, n);
            in += n;
            out += n;
            if ((d->chunk_left -= n) == 0)
                d->state = DATA_CR;
        } else if (framing_byte(d, src[in++]) != 0) {
            return AE_CHUNKED_ERROR;
        }
    }
    *consumed = in;
    *len = out;
    return d->state == DONE ? AE_CHUNKED_DONE : AE_CHUNKED_MORE;
}
