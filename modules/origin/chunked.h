/*
 * A decoder for HTTP/1.1 chunked transfer coding (RFC 9112 7.1), fed the bytes of a response body
 * as they arrive, in any split. Chunk extensions and trailer fields are read and dropped. Pure; the
 * thread that owns the exchange calls it.
 */
#ifndef ANYEDGE_ORIGIN_CHUNKED_H
#define ANYEDGE_ORIGIN_CHUNKED_H

#include <stddef.h>

typedef struct ae_chunked_decoder {
    int state;
    size_t chunk_left;
    unsigned size_digits;
} ae_chunked_decoder_t;

typedef enum { AE_CHUNKED_MORE, AE_CHUNKED_DONE, AE_CHUNKED_ERROR } ae_chunked_result_t;

/* Decodes in place: the data bytes of src[0..*len) are moved to its front and *len becomes their
 * count; *consumed says how much of src was used (less than all only once DONE). */
ae_chunked_result_t ae_chunked_decode(ae_chunked_decoder_t *d, char *src, size_t *len, size_t *consumed);

#endif
