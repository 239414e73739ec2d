/*
 * Unit tests of the chunked transfer decoder: whole and split input, extensions and trailers, and
 * the malformed framings it must refuse.
 */
#include <string.h>
#include "modules/origin/chunked.h"
#include "t/unit/tap.h"

/* Decodes `input` fed in pieces of `step` bytes; returns the result and the data in out. */
static ae_chunked_result_t decode_in_steps(const char *input, size_t step, char *out, size_t *out_len)
{
    ae_chunked_decoder_t d = {0};
    ae_chunked_result_t r = AE_CHUNKED_MORE;
    size_t len = strlen(input);
    *out_len = 0;
    for (size_t at = 0; at < len && r == AE_CHUNKED_MORE;) {
        char piece[256];
        size_t n = len - at < step ? len - at : step, consumed;
        memcpy(piece, input + at, n);
        r = ae_chunked_decode(&d, piece, &n, &consumed);
        memcpy(out + *out_len, piece, n);
        *out_len += n;
        at += consumed;
    }
    return r;
}

static int decodes_to(const char *input, const char *expected)
{
    for (size_t step = 1; step <= strlen(input); ++step) {
        char out[256];
        size_t len;
        if (decode_in_steps(input, step, out, &len) != AE_CHUNKED_DONE || len != strlen(expected) ||
            memcmp(out, expected, len) != 0)
            return 0;
    }
    return 1;
}

static int is_refused(const char *input)
{
    char out[256];
    size_t len;
    return decode_in_steps(input, strlen(input), out, &len) == AE_CHUNKED_ERROR;
}

int main(void)
{
    ok(decodes_to("5\r\nhello\r\n0\r\n\r\n", "hello"), "one chunk, split at every byte");
    ok(decodes_to("3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n", "abc0123456789"), "two chunks, hex sizes");
    ok(decodes_to("3;name=value\r\nabc\r\n0\r\n\r\n", "abc"), "a chunk extension is skipped");
    ok(decodes_to("3\r\nabc\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n", "abc"), "trailer fields are skipped");
    ok(decodes_to("3\nabc\n0\n\n", "abc"), "bare LF line ends are tolerated");
    ok(decodes_to("0\r\n\r\n", ""), "an empty body");
    ok(is_refused("x\r\n"), "a size that is not hex is refused");
    ok(is_refused("3\r\nabcX\r\n"), "data longer than its size is refused");
    ok(is_refused("1000000000000000\r\n"), "a size of 2^60 or more is refused");
    ok(decodes_to("3 ;name=\"quoted value\"\r\nabc\r\n0\r\n\r\n", "abc"), "whitespace before an extension, a quoted value");
    ok(is_refused("0x5\r\nhello\r\n0\r\n\r\n"), "a size written 0x5 is refused (not an empty body)");
    ok(is_refused("5 junk\r\nhello\r\n0\r\n\r\n"), "text after a size that is not an extension is refused");
    ok(is_refused("5\rhello\r\n0\r\n\r\n"), "a CR not followed by LF after a size is refused");
    ok(is_refused("3;a\001b\r\nabc\r\n0\r\n\r\n"), "a control character in an extension is refused");
    ok(is_refused("0\r\nnot a field\r\n\r\n"), "a trailer line that is not a field is refused");
    ok(is_refused("0\r\n: no name\r\n\r\n"), "a trailer field without a name is refused");

    ae_chunked_decoder_t d = {0};
    char buf[] = "3\r\nabc\r\n0\r\n\r\nEXTRA";
    size_t len = strlen(buf), consumed;
    ok(ae_chunked_decode(&d, buf, &len, &consumed) == AE_CHUNKED_DONE && consumed == strlen(buf) - 5 && len == 3,
       "bytes after the end are left unconsumed");
    return done_testing();
}
