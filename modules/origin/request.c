/*
 * What crosses the proxy: the request head sent to the origin for a client request (method, path
 * and headers as received, minus hop-by-hop ones and, from untrusted peers, forwarding headers,
 * plus X-Forwarded-For, X-Forwarded-Proto and Via),
 * and which response headers are not passed back (hop-by-hop, and the ones h2o writes itself).
 *
 * Worker threads; the head is allocated from the request's pool (and noted, for timing.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "modules/origin/origin.h"
#include "modules/origin/timing.h"

#define VIA_NAME "anyedge"

static int name_is(const h2o_iovec_t *name, const char *lower)
{
    return h2o_memis(name->base, name->len, lower, strlen(lower));
}

/* Is `name` listed in one of the Connection headers? */
static int named_in_connection(const h2o_headers_t *headers, const h2o_iovec_t *name)
{
    for (ssize_t i = -1; (i = h2o_find_header(headers, H2O_TOKEN_CONNECTION, i)) != -1;) {
        const h2o_iovec_t *value = &headers->entries[i].value;
        if (h2o_contains_token(value->base, value->len, name->base, name->len, ','))
            return 1;
    }
    return 0;
}

static int is_hop_by_hop(const h2o_header_t *header, const h2o_headers_t *all)
{
    static const h2o_token_t *const tokens[] = {H2O_TOKEN_CONNECTION, H2O_TOKEN_KEEP_ALIVE,        H2O_TOKEN_TE,
                                                H2O_TOKEN_TRANSFER_ENCODING, H2O_TOKEN_UPGRADE, H2O_TOKEN_PROXY_AUTHENTICATE,
                                                H2O_TOKEN_PROXY_AUTHORIZATION};
    for (size_t i = 0; i != sizeof(tokens) / sizeof(tokens[0]); ++i)
        if (header->name == &tokens[i]->buf)
            return 1;
    return name_is(header->name, "proxy-connection") || name_is(header->name, "trailer") || named_in_connection(all, header->name);
}

int ae_origin_is_unforwarded_response_header(const h2o_header_t *header, const h2o_headers_t *all)
{
    return is_hop_by_hop(header, all) || header->name == &H2O_TOKEN_CONTENT_LENGTH->buf || header->name == &H2O_TOKEN_DATE->buf ||
           header->name == &H2O_TOKEN_SERVER->buf;
}

/* Headers that tell the origin who asked and how (X-Forwarded-*, Forwarded, X-Real-IP): an origin
 * that builds links or redirects from them would, for a client that forged them, make a response
 * cached for everyone (the cache key does not include them). Passed on only from trusted proxies. */
static int is_forwarding_header(const h2o_iovec_t *name)
{
    static const char prefix[] = "x-forwarded-";
    return (name->len > sizeof(prefix) - 1 && memcmp(name->base, prefix, sizeof(prefix) - 1) == 0) ||
           name_is(name, "forwarded") || name_is(name, "x-real-ip");
}

/* Headers the proxy sets itself, forwarding headers from an untrusted peer, or those that would ask
 * the origin for less than the whole object. */
static int is_replaced_request_header(const h2o_header_t *header, ae_request_mode_t mode, int peer_trusted)
{
    if (!peer_trusted && is_forwarding_header(header->name))
        return 1;
    if (header->name == &H2O_TOKEN_HOST->buf || header->name == &H2O_TOKEN_CONTENT_LENGTH->buf ||
        header->name == &H2O_TOKEN_EXPECT->buf || header->name == &H2O_TOKEN_X_FORWARDED_FOR->buf ||
        header->name == &H2O_TOKEN_VIA->buf || name_is(header->name, "x-forwarded-proto") || name_is(header->name, "cache-status"))
        return 1;
    if (mode == AE_REQUEST_FULL_OBJECT)
        return header->name == &H2O_TOKEN_RANGE->buf || header->name == &H2O_TOKEN_IF_RANGE->buf ||
               header->name == &H2O_TOKEN_IF_NONE_MATCH->buf || header->name == &H2O_TOKEN_IF_MODIFIED_SINCE->buf ||
               header->name == &H2O_TOKEN_IF_MATCH->buf || header->name == &H2O_TOKEN_IF_UNMODIFIED_SINCE->buf;
    return 0;
}

/* Joins the values of every header called `token`, then appends `extra`: "a, b, extra". */
static h2o_iovec_t append_to_list(h2o_req_t *req, const h2o_token_t *token, h2o_iovec_t extra)
{
    h2o_iovec_t parts[16];
    size_t n = 0;
    for (ssize_t i = -1; n < 14 && (i = h2o_find_header(&req->headers, token, i)) != -1;) {
        parts[n++] = req->headers.entries[i].value;
        parts[n++] = h2o_iovec_init(H2O_STRLIT(", "));
    }
    parts[n++] = extra;
    return h2o_concat_list(&req->pool, parts, n);
}

static h2o_iovec_t client_address(h2o_req_t *req)
{
    struct sockaddr_storage ss;
    char *buf = h2o_mem_alloc_pool(&req->pool, INET6_ADDRSTRLEN);
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    const void *addr = NULL;

    if (len != 0 && ss.ss_family == AF_INET)
        addr = &((struct sockaddr_in *)&ss)->sin_addr;
    else if (len != 0 && ss.ss_family == AF_INET6)
        addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    if (addr == NULL || inet_ntop(ss.ss_family, addr, buf, INET6_ADDRSTRLEN) == NULL)
        return h2o_iovec_init(H2O_STRLIT("unknown"));
    return h2o_iovec_init(buf, strlen(buf));
}

static const char *protocol_version(int version)
{
    return version >= 0x200 ? "2" : version == 0x100 ? "1.0" : "1.1";
}

static char *append(char *dst, const char *s, size_t len)
{
    memcpy(dst, s, len);
    return dst + len;
}

static char *append_header(char *dst, const char *name, size_t name_len, h2o_iovec_t value)
{
    dst = append(dst, name, name_len);
    dst = append(dst, ": ", 2);
    dst = append(dst, value.base, value.len);
    return append(dst, "\r\n", 2);
}

h2o_iovec_t ae_origin_request_head(h2o_req_t *req, ae_request_mode_t mode, const h2o_headers_t *extra)
{
    char via_self[sizeof("1.1 " VIA_NAME)];
    /* a client's own X-Forwarded-For is believed (and extended) only from a trusted proxy */
    int peer_trusted = ae_peer_is_trusted(req);
    h2o_iovec_t xff = peer_trusted ? append_to_list(req, H2O_TOKEN_X_FORWARDED_FOR, client_address(req)) : client_address(req);
    h2o_iovec_t via = append_to_list(req, H2O_TOKEN_VIA,
                                     h2o_strdup(&req->pool, via_self, snprintf(via_self, sizeof(via_self), "%s %s", protocol_version(req->version), VIA_NAME)));
    size_t cap = req->method.len + req->path.len + req->authority.len + xff.len + via.len + 256;

    for (size_t i = 0; i != req->headers.size; ++i)
        cap += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    for (size_t i = 0; extra != NULL && i != extra->size; ++i)
        cap += extra->entries[i].name->len + extra->entries[i].value.len + 4;

    char *buf = h2o_mem_alloc_pool(&req->pool, cap), *dst = buf;
    dst = append(dst, req->method.base, req->method.len);
    dst = append(dst, " ", 1);
    dst = append(dst, req->path.base, req->path.len);
    dst = append(dst, H2O_STRLIT(" HTTP/1.1\r\n"));
    dst = append_header(dst, H2O_STRLIT("Host"), req->authority);
    for (size_t i = 0; i != req->headers.size; ++i) {
        const h2o_header_t *header = &req->headers.entries[i];
        if (is_hop_by_hop(header, &req->headers) || is_replaced_request_header(header, mode, peer_trusted))
            continue;
        dst = append_header(dst, header->orig_name != NULL ? header->orig_name : header->name->base, header->name->len, header->value);
    }
    for (size_t i = 0; extra != NULL && i != extra->size; ++i)
        dst = append_header(dst, extra->entries[i].name->base, extra->entries[i].name->len, extra->entries[i].value);
    dst = append_header(dst, H2O_STRLIT("X-Forwarded-For"), xff);
    dst = append_header(dst, H2O_STRLIT("X-Forwarded-Proto"), req->scheme->name);
    dst = append_header(dst, H2O_STRLIT("Via"), via);
    if (req->entity.base != NULL) {
        char len[32];
        dst = append_header(dst, H2O_STRLIT("Content-Length"), h2o_iovec_init(len, snprintf(len, sizeof(len), "%zu", req->entity.len)));
    }
    dst = append(dst, "\r\n", 2);
    h2o_iovec_t head = h2o_iovec_init(buf, dst - buf);
    ae_origin_timing_expect(req, head); /* the exchange started with this head is the request's own */
    return head;
}
