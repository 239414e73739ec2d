/*
 * Fuzz target: the chunked transfer decoder (modules/origin/chunked.c), fed a response body split
 * into pieces as the network would; the same input decoded whole must give the same data and result.
 *
 * Input: one byte that sets the piece size (1 to 256), then the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "modules/origin/chunked.h"

/* Decodes in pieces of `step`; returns the result, the data in out (*out_len), bytes used in *used. */
static ae_chunked_result_t decode(const char *input, size_t len, size_t step, char *out, size_t *out_len, size_t *used)
{
    ae_chunked_decoder_t d = {0};
    ae_chunked_result_t r = AE_CHUNKED_MORE;
    size_t at = 0;
    *out_len = 0;
    while (at < len && r == AE_CHUNKED_MORE) {
        size_t n = len - at < step ? len - at : step, piece_len = n, consumed;
        char *piece = malloc(n);
        memcpy(piece, input + at, n);
        r = ae_chunked_decode(&d, piece, &piece_len, &consumed);
        if (r == AE_CHUNKED_ERROR) { /* *len and *consumed are left as they were */
            free(piece);
            break;
        }
        if (piece_len > n || consumed > n || (r == AE_CHUNKED_MORE && consumed != n))
            __builtin_trap();
        memcpy(out + *out_len, piece, piece_len);
        *out_len += piece_len;
        at += consumed;
        free(piece);
    }
    *used = at;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] + 1, len = size - 1, whole_len, whole_used, split_len, split_used;
    const char *input = (const char *)data + 1;
    char *whole = malloc(len + 1), *split = malloc(len + 1);

    ae_chunked_result_t a = decode(input, len, len != 0 ? len : 1, whole, &whole_len, &whole_used);
    ae_chunked_result_t b = decode(input, len, step, split, &split_len, &split_used);
    if (a != AE_CHUNKED_ERROR && b != AE_CHUNKED_ERROR &&
        (a != b || whole_len != split_len || whole_used != split_used || memcmp(whole, split, whole_len) != 0))
        __builtin_trap(); /* the split must not change what is decoded */
    if ((a == AE_CHUNKED_ERROR) != (b == AE_CHUNKED_ERROR))
        __builtin_trap();
    free(whole);
    free(split);
    return 0;
}
