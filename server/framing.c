/*
 * The HTTP/1 request-head check (see framing.h). libh2o's HTTP/1 server reads every request head
 * with picohttpparser's phr_parse_request, which libh2o exports and calls through its PLT; anyedge
 * defines phr_parse_request itself, so that call lands here. The real parser runs first; a complete
 * head with an ambiguous framing or Host is then reported as a parse error, which h2o answers with
 * 400 and Connection: close before any handler or origin sees the request. Called by libh2o on the
 * worker threads; ae_framing_init on the main thread.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include "server/framing.h"
#include "server/log.h"

typedef int (*parse_request_fn)(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                                size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                                size_t last_len);

int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path, size_t *path_len,
                      int *minor_version, struct phr_header *headers, size_t *num_headers, size_t last_len);

static parse_request_fn real_parse_request;
static pthread_once_t resolved = PTHREAD_ONCE_INIT;
static time_t warned_at;

static void resolve_real_parser(void)
{
    real_parse_request = (parse_request_fn)dlsym(RTLD_NEXT, "phr_parse_request");
}

static int name_is(const struct phr_header *h, const char *name, size_t len)
{
    return h->name_len == len && strncasecmp(h->name, name, len) == 0;
}

/* A Host value: reg-name, IPv4 or [IP-literal], optionally ":port" (RFC 3986 characters only). */
static int valid_host(const char *s, size_t len)
{
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = s[i];
        int letter_or_digit = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!letter_or_digit && (c == '\0' || strchr("-._~!$&'()*+,;=%:[]", c) == NULL))
            return 0;
    }
    return 1;
}

const char *ae_framing_problem(int minor_version, const struct phr_header *headers, size_t count)
{
    size_t hosts = 0, lengths = 0, codings = 0;

    for (size_t i = 0; i != count; ++i) {
        const struct phr_header *h = headers + i;
        if (h->name == NULL)
            return "a folded header line";
        if (name_is(h, "host", 4)) {
            if (++hosts > 1)
                return "more than one Host";
            if (!valid_host(h->value, h->value_len))
                return "a Host that is not a host name";
        } else if (name_is(h, "content-length", 14)) {
            ++lengths;
        } else if (name_is(h, "transfer-encoding", 17)) {
            ++codings;
        }
    }
    if (hosts == 0 && minor_version >= 1)
        return "no Host (HTTP/1.1)";
    if (lengths > 1)
        return "more than one Content-Length";
    if (codings > 1)
        return "more than one Transfer-Encoding";
    if (codings != 0 && lengths != 0)
        return "both Content-Length and Transfer-Encoding";
    if (codings != 0 && minor_version == 0)
        return "Transfer-Encoding in an HTTP/1.0 request";
    return NULL;
}

int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path, size_t *path_len,
                      int *minor_version, struct phr_header *headers, size_t *num_headers, size_t last_len)
{
    pthread_once(&resolved, resolve_real_parser);
    int head_len = real_parse_request(buf, len, method, method_len, path, path_len, minor_version, headers, num_headers, last_len);
    if (head_len <= 0)
        return head_len;
    const char *problem = ae_framing_problem(*minor_version, headers, *num_headers);
    if (problem == NULL)
        return head_len;
    ae_log_warn_each_second(&warned_at, "a request with %s refused: 400", problem);
    return -1;
}

int ae_framing_init(void)
{
    pthread_once(&resolved, resolve_real_parser);
    if (real_parse_request == NULL || dlsym(RTLD_DEFAULT, "phr_parse_request") != (void *)phr_parse_request) {
        ae_log_error("the HTTP/1 request-head check is not in effect (libh2o's phr_parse_request is not interposed)");
        return -1;
    }
    return 0;
}
