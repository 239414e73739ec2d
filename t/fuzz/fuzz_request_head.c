/*
 * Fuzz target: an HTTP/1 request head through phr_parse_request as libh2o calls it (anyedge's
 * definition in server/framing.c: the real parser, trailing spaces dropped, absolute-form targets
 * taken, the framing check). Every pointer it returns must lie in the input or be the "/" and "host"
 * it supplies; a head it takes must have one Host (HTTP/1.1), no http(s) URL as its target, and at
 * most one Content-Length or Transfer-Encoding. The same input fed in two reads (as a slow client
 * sends it) must be taken the same way.
 *
 * Input: one byte for where to split the second feed, then the head.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "server/framing.h"

#define MAX_HEADERS 100

typedef struct {
    const char *method, *path;
    size_t method_len, path_len, count;
    int minor_version;
    struct phr_header headers[MAX_HEADERS];
} head_t;

static int parse(const char *buf, size_t len, size_t last_len, head_t *h)
{
    h->count = MAX_HEADERS;
    return phr_parse_request(buf, len, &h->method, &h->method_len, &h->path, &h->path_len, &h->minor_version, h->headers, &h->count,
                             last_len);
}

static void must_be_inside(const char *p, size_t len, const char *buf, size_t buf_len)
{
    if (len != 0 && (p < buf || p + len > buf + buf_len))
        __builtin_trap();
}

static size_t count_named(const head_t *h, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i != h->count; ++i)
        if (h->headers[i].name != NULL && h->headers[i].name_len == strlen(name) && strncasecmp(h->headers[i].name, name, strlen(name)) == 0)
            ++n;
    return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (ae_framing_init() != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1, split = len != 0 ? data[0] % len : 0;
    char *buf = malloc(len + 1); /* its own allocation: a read past the end is caught */
    memcpy(buf, data + 1, len);

    head_t whole, fed;
    int r = parse(buf, len, 0, &whole);
    if (r > 0) {
        must_be_inside(whole.method, whole.method_len, buf, len);
        if (!(whole.path_len == 1 && whole.path[0] == '/'))
            must_be_inside(whole.path, whole.path_len, buf, len);
        for (size_t i = 0; i != whole.count; ++i) {
            if (whole.headers[i].name_len != 4 || strncasecmp(whole.headers[i].name, "host", 4) != 0)
                must_be_inside(whole.headers[i].name, whole.headers[i].name_len, buf, len);
            must_be_inside(whole.headers[i].value, whole.headers[i].value_len, buf, len);
        }
        if ((whole.minor_version >= 1 && count_named(&whole, "host") != 1) || count_named(&whole, "content-length") > 1 ||
            count_named(&whole, "transfer-encoding") > 1 ||
            (count_named(&whole, "content-length") != 0 && count_named(&whole, "transfer-encoding") != 0))
            __builtin_trap();
        if ((whole.path_len >= 7 && strncasecmp(whole.path, "http://", 7) == 0) ||
            (whole.path_len >= 8 && strncasecmp(whole.path, "https://", 8) == 0))
            __builtin_trap(); /* an http(s) URL target is always taken as its path */
    }
    if (parse(buf, split, 0, &fed) == -2) {
        int second = parse(buf, len, split, &fed); /* with last_len the parser only looks for the end until it sees it */
        if ((r > 0 || second > 0) && second != r)
            __builtin_trap();
    }
    free(buf);
    return 0;
}
