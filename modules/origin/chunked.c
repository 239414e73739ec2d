/*
 * Chunked transfer coding (see chunked.h): a byte-at-a-time state machine for the framing, with
 * chunk data copied in runs.
 */
#include <string.h>
#include "modules/origin/chunked.h"

#define MAX_SIZE_DIGITS 15 /* chunks up to 2^60 bytes; more is an attack, not a body */

enum {
    SIZE = 0,      /* hex digits of the chunk size */
    SIZE_REST,     /* optional whitespace and extensions, up to LF */
    DATA,          /* chunk_left bytes of data */
    DATA_CR,       /* the CR after the data */
    DATA_LF,       /* the LF after the data */
    TRAILER_START, /* the start of a trailer line, or of the final empty line */
    TRAILER_LINE,  /* the rest of a trailer line */
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
        if (c == '\n')
            d->state = d->chunk_left != 0 ? DATA : TRAILER_START;
        return 0;
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
        d->state = c == '\r' ? FINAL_LF : c == '\n' ? DONE : TRAILER_LINE;
        return 0;
    case TRAILER_LINE:
        if (c == '\n')
            d->state = TRAILER_START;
        return 0;
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
