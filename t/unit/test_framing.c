/*
 * Unit tests of the HTTP/1 request-head check: raw heads go through phr_parse_request as libh2o
 * calls it (anyedge's definition, then the real parser in libh2o), and each ambiguous framing or
 * Host must come back as a parse error while ordinary heads parse as before.
 */
#include <string.h>
#include "server/framing.h"
#include "t/unit/tap.h"

int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path, size_t *path_len,
                      int *minor_version, struct phr_header *headers, size_t *num_headers, size_t last_len);

/* What phr_parse_request returns for `head`: its length, -1 refused, -2 incomplete. */
static int parse(const char *head)
{
    const char *method, *path;
    size_t method_len, path_len, num_headers = 100;
    struct phr_header headers[100];
    int minor_version;
    return phr_parse_request(head, strlen(head), &method, &method_len, &path, &path_len, &minor_version, headers, &num_headers, 0);
}

static int accepted(const char *head)
{
    return parse(head) == (int)strlen(head);
}

int main(void)
{
    ok(ae_framing_init() == 0, "libh2o's parser is found and the check is interposed");

    ok(accepted("GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"), "an ordinary GET");
    ok(accepted("GET / HTTP/1.0\r\n\r\n"), "HTTP/1.0 without Host");
    ok(accepted("POST /p HTTP/1.1\r\nhost: example.test:8080\r\ncontent-length: 5\r\n\r\n"), "lower-case names, a port");
    ok(accepted("POST /p HTTP/1.1\r\nHost: [2001:db8::1]:80\r\nTransfer-Encoding: chunked\r\n\r\n"), "chunked alone, IPv6 host");
    ok(accepted("GET / HTTP/1.1\r\nHost: \r\n\r\n"), "an empty Host (RFC 9112 allows it)");
    ok(parse("GET / HTTP/1.1\r\nHost: example.test\r\nContent-Len") == -2, "an incomplete head is still incomplete");

    ok(parse("GET / HTTP/1.1\r\n\r\n") == -1, "HTTP/1.1 without Host");
    ok(parse("GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n") == -1, "two Hosts");
    ok(parse("GET / HTTP/1.1\r\nHost: a.test\r\nHOST: a.test\r\n\r\n") == -1, "two equal Hosts");
    ok(parse("GET / HTTP/1.1\r\nHost: a.test/evil\r\n\r\n") == -1, "a Host with a path");
    ok(parse("GET / HTTP/1.1\r\nHost: a.test b.test\r\n\r\n") == -1, "a Host with a space");
    ok(parse("GET / HTTP/1.1\r\nHost: user@a.test\r\n\r\n") == -1, "a Host with userinfo");
    ok(parse("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") == -1, "two Content-Lengths");
    ok(parse("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") == -1,
       "two equal Content-Lengths");
    ok(parse("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == -1,
       "Content-Length and Transfer-Encoding");
    ok(parse("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") == -1,
       "Transfer-Encoding and Content-Length");
    ok(parse("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n") == -1,
       "two Transfer-Encodings");
    ok(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == -1, "Transfer-Encoding in HTTP/1.0");
    ok(parse("GET / HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n folded\r\n\r\n") == -1, "a folded header line");
    ok(parse("GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length : 5\r\n\r\n") == -1, "a space before the colon");
    return done_testing();
}
