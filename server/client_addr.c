/*
 * The client address of a request (see ae_client_addr in server.h): the connection's peer (h2o
 * already puts the address of a PROXY protocol line there), or, from a trusted proxy, the address
 * X-Forwarded-For names. Also the CIDR networks `trusted-proxies` and the allow-lists are made of.
 *
 * ae_client_addr runs on worker threads; the server's list of trusted proxies is read-only there.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "server/server.h"

int ae_parse_network(const char *s, ae_network_t *out)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
    unsigned max_bits;

    if (len == 0 || len >= sizeof(host))
        return -1;
    memcpy(host, s, len);
    host[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        max_bits = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        max_bits = 128;
    } else {
        return -1;
    }
    out->bits = max_bits;
    if (slash != NULL) {
        char *end;
        if (slash[1] < '0' || slash[1] > '9')
            return -1;
        unsigned long bits = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || bits > max_bits)
            return -1;
        out->bits = (unsigned)bits;
    }
    return 0;
}

int ae_network_contains(const ae_network_t *net, int family, const uint8_t *addr)
{
    unsigned bytes = net->bits / 8, bits = net->bits % 8;
    if (net->family != family || memcmp(net->addr, addr, bytes) != 0)
        return 0;
    return bits == 0 || ((net->addr[bytes] ^ addr[bytes]) & (0xff << (8 - bits))) == 0;
}

/* The address bytes and family of a sockaddr; an IPv4-mapped IPv6 address becomes IPv4 (in place). */
static const uint8_t *address_bytes(struct sockaddr_storage *ss, int *family)
{
    if (ss->ss_family == AF_INET) {
        *family = AF_INET;
        return (const uint8_t *)&((struct sockaddr_in *)ss)->sin_addr;
    }
    if (ss->ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = sin6->sin6_port};
            memcpy(&sin.sin_addr, sin6->sin6_addr.s6_addr + 12, 4);
            memcpy(ss, &sin, sizeof(sin));
            *family = AF_INET;
            return (const uint8_t *)&((struct sockaddr_in *)ss)->sin_addr;
        }
        *family = AF_INET6;
        return sin6->sin6_addr.s6_addr;
    }
    return NULL;
}

static int is_trusted(ae_server_t *srv, int family, const uint8_t *addr)
{
    for (size_t i = 0; i != srv->trusted_proxies.size; ++i)
        if (ae_network_contains(&srv->trusted_proxies.entries[i], family, addr))
            return 1;
    return 0;
}

/* Parses one X-Forwarded-For element (an address, maybe with spaces, "[v6]" or a v4 port) into *out. */
static socklen_t parse_forwarded(const char *s, size_t len, struct sockaddr_storage *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    while (len != 0 && (*s == ' ' || *s == '\t'))
        ++s, --len;
    while (len != 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        --len;
    if (len >= 2 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return 0;
        len = close - s - 1;
        ++s;
    }
    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    char *colon = strchr(buf, ':');
    if (colon != NULL && strchr(colon + 1, ':') == NULL)
        *colon = '\0'; /* "192.0.2.1:4711" */
    if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        return sizeof(*sin);
    }
    if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        return sizeof(*sin6);
    }
    return 0;
}

int ae_peer_is_trusted(h2o_req_t *req)
{
    ae_server_t *srv = ae_thread_of(req->conn->ctx)->server;
    struct sockaddr_storage ss;
    int family;
    const uint8_t *addr;
    if (srv->trusted_proxies.size == 0 || req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) == 0 ||
        (addr = address_bytes(&ss, &family)) == NULL)
        return 0;
    return is_trusted(srv, family, addr);
}

socklen_t ae_client_addr(h2o_req_t *req, struct sockaddr_storage *out)
{
    ae_server_t *srv = ae_thread_of(req->conn->ctx)->server;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)out);
    int family;
    const uint8_t *addr;

    if (len == 0 || (addr = address_bytes(out, &family)) == NULL)
        return 0;
    len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (srv->trusted_proxies.size == 0 || !is_trusted(srv, family, addr))
        return len;

    /* from a trusted proxy: walk X-Forwarded-For from the right (the headers in order, joined) */
    H2O_VECTOR(h2o_iovec_t) values = {NULL};
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, i)) != -1;) {
        h2o_vector_reserve(&req->pool, &values, values.size + 1);
        values.entries[values.size++] = req->headers.entries[i].value;
    }
    for (size_t v = values.size; v-- != 0;) {
        const char *base = values.entries[v].base;
        size_t end = values.entries[v].len;
        while (1) {
            const char *comma = memrchr(base, ',', end);
            size_t start = comma != NULL ? (size_t)(comma - base) + 1 : 0;
            struct sockaddr_storage hop;
            socklen_t hop_len = parse_forwarded(base + start, end - start, &hop);
            if (hop_len == 0)
                return len; /* garbage: stop at the last address we could believe */
            memcpy(out, &hop, hop_len);
            len = hop_len;
            if ((addr = address_bytes(out, &family)) == NULL)
                return 0;
            len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
            if (!is_trusted(srv, family, addr))
                return len;
            if (comma == NULL)
                break;
            end = start - 1;
        }
    }
    return len;
}
