/*
 * Unit tests of the HTTP/1 request-head check: raw heads go through phr_parse_request as libh2o
 * calls it (anyedge's definition, then the real parser in libh2o), and each ambiguous framing or
 * Host must come back as a parse error while ordinary heads parse as before.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "server/framing.h"
#include "t/unit/tap.h"

typedef struct {
    const char *method, *path;
    size_t method_len, path_len, num_headers;
    struct phr_header headers[100];
    int minor_version;
} parsed_t;

/* What phr_parse_request returns for `head`: its length, -1 refused, -2 incomplete. */
static int parse_into(const char *head, parsed_t *p)
{
    p->num_headers = 100;
    return phr_parse_request(head, strlen(head), &p->method, &p->method_len, &p->path, &p->path_len, &p->minor_version, p->headers,
                             &p->num_headers, 0);
}

static int parse(const char *head)
{
    parsed_t p;
    return parse_into(head, &p);
}

/* The value of the parsed head's header `name` (the first), or "(none)". */
static const char *value_of(const parsed_t *p, const char *name, char *buf, size_t size)
{
    for (size_t i = 0; i != p->num_headers; ++i)
        if (p->headers[i].name_len == strlen(name) && strncasecmp(p->headers[i].name, name, strlen(name)) == 0) {
            snprintf(buf, size, "%.*s", (int)p->headers[i].value_len, p->headers[i].value);
            return buf;
        }
    return "(none)";
}

/* Is `head` taken, with this path and Host? */
static int taken_as(const char *head, const char *path, const char *host)
{
    parsed_t p;
    char buf[256];
    if (parse_into(head, &p) != (int)strlen(head))
        return 0;
    const char *got = value_of(&p, "host", buf, sizeof(buf));
    if (p.path_len == strlen(path) && memcmp(p.path, path, p.path_len) == 0 && strcmp(got, host) == 0)
        return 1;
    printf("# got %.*s with Host %s\n", (int)p.path_len, p.path, got);
    return 0;
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

    ok(taken_as("GET /x HTTP/1.1\r\nHost: a.test \t\r\n\r\n", "/x", "a.test"), "spaces and tabs after a value are not part of it");
    parsed_t p;
    char buf[64];
    ok(parse_into("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5  \r\n\r\n", &p) > 0 &&
           strcmp(value_of(&p, "content-length", buf, sizeof(buf)), "5") == 0,
       "Content-Length: 5 with trailing spaces is 5");
    ok(taken_as("GET http://A.test:8080/p?q=1 HTTP/1.1\r\nHost: other.test\r\n\r\n", "/p?q=1", "A.test:8080"),
       "an absolute-form target: its path, and its authority as Host (the Host line ignored)");
    ok(taken_as("GET HTTPS://a.test HTTP/1.0\r\n\r\n", "/", "a.test"),
       "one without a path, in HTTP/1.0 without Host: / and a Host added");
    ok(taken_as("GET http://a.test/ HTTP/1.1\r\n\r\n", "/", "a.test"), "HTTP/1.1 with an absolute-form target needs no Host line");
    ok(parse("GET http://user@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n") == -1, "an absolute URL with userinfo");
    ok(parse("GET http:///x HTTP/1.1\r\nHost: a.test\r\n\r\n") == -1, "an absolute URL without a host");
    ok(parse("GET http://a.test?x HTTP/1.1\r\nHost: a.test\r\n\r\n") == -1, "an absolute URL with a query but no path");
    ok(taken_as("OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n", "*", "a.test"), "the asterisk form is left alone");
    return done_testing();
}
