/*
 * Parsers for config values: scalars, numbers, sizes ("64M"), durations ("500ms", "5s") and
 * listen addresses ("127.0.0.1:8080", "[::1]:8080"). The plain ae_parse_* functions know nothing of
 * YAML; the ae_config_* wrappers report FILE:LINE errors that name the key and what was expected.
 *
 * Main thread only (config time).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/config.h"

static const char *node_kind(yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

int ae_config_expect(ae_config_t *cf, yaml_node_t *node, yaml_node_type_t type)
{
    static const char *wanted[] = {[YAML_SCALAR_NODE] = "a scalar value", [YAML_SEQUENCE_NODE] = "a list", [YAML_MAPPING_NODE] = "a mapping"};
    if (node->type == type)
        return 0;
    if (cf->key == NULL)
        return ae_config_error(cf, node, "expected %s, got %s", wanted[type], node_kind(node));
    return ae_config_error(cf, node, "'%s' expected %s, got %s", cf->key, wanted[type], node_kind(node));
}

const char *ae_config_scalar(ae_config_t *cf, yaml_node_t *node)
{
    if (ae_config_expect(cf, node, YAML_SCALAR_NODE) != 0)
        return NULL;
    return (const char *)node->data.scalar.value;
}

/* Parses a decimal number; returns the end of the digits or NULL. */
static const char *parse_decimal(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return NULL;
    for (; *s >= '0' && *s <= '9'; ++s) {
        if (v > (UINT64_MAX - 9) / 10)
            return NULL;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return s;
}

int ae_parse_size(const char *s, uint64_t *out)
{
    uint64_t v, unit = 1;
    const char *end = parse_decimal(s, &v);
    if (end == NULL)
        return -1;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        unit = 1ull << 10;
        break;
    case 'm':
    case 'M':
        unit = 1ull << 20;
        break;
    case 'g':
    case 'G':
        unit = 1ull << 30;
        break;
    case 't':
    case 'T':
        unit = 1ull << 40;
        break;
    default:
        return -1;
    }
    if (*end != '\0' && end[1] != '\0')
        return -1;
    if (v > UINT64_MAX / unit)
        return -1;
    *out = v * unit;
    return 0;
}

int ae_parse_duration_ms(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    uint64_t v;
    const char *end = parse_decimal(s, &v);
    if (end == NULL)
        return -1;
    for (size_t i = 0; i != sizeof(units) / sizeof(units[0]); ++i) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].ms)
                return -1;
            *out = v * units[i].ms;
            return 0;
        }
    }
    return -1;
}

int ae_parse_listen_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port_str;
    size_t host_len;
    uint64_t port;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        host_len = close - (s + 1);
        if (host_len == 0 || host_len >= sizeof(host))
            return -1;
        memcpy(host, s + 1, host_len);
        port_str = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL || (host_len = colon - s) == 0 || host_len >= sizeof(host) || memchr(s, ':', host_len) != NULL)
            return -1;
        memcpy(host, s, host_len);
        port_str = colon + 1;
    }
    host[host_len] = '\0';
    const char *end = parse_decimal(port_str, &port);
    if (end == NULL || *end != '\0' || port == 0 || port > 65535)
        return -1;

    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            return -1;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*sin6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return -1;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *len = sizeof(*sin);
    }
    return 0;
}

int ae_config_uint(ae_config_t *cf, yaml_node_t *node, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *s = ae_config_scalar(cf, node);
    uint64_t v;
    if (s == NULL)
        return -1;
    const char *end = parse_decimal(s, &v);
    if (end == NULL || *end != '\0' || v < min || v > max)
        return ae_config_error(cf, node, "'%s' expected a whole number from %llu to %llu, got '%s'", cf->key, (unsigned long long)min,
                               (unsigned long long)max, s);
    *out = v;
    return 0;
}

int ae_config_size(ae_config_t *cf, yaml_node_t *node, uint64_t *out)
{
    const char *s = ae_config_scalar(cf, node);
    if (s == NULL)
        return -1;
    if (ae_parse_size(s, out) != 0)
        return ae_config_error(cf, node, "'%s': bad size '%s' (expected a number with an optional K, M, G or T suffix)", cf->key, s);
    return 0;
}

int ae_config_duration_ms(ae_config_t *cf, yaml_node_t *node, uint64_t *out)
{
    const char *s = ae_config_scalar(cf, node);
    if (s == NULL)
        return -1;
    if (ae_parse_duration_ms(s, out) != 0)
        return ae_config_error(cf, node, "'%s': bad duration '%s' (expected a whole number with ms, s, m, h or d, e.g. 500ms or 5s)", cf->key,
                               s);
    return 0;
}

int ae_config_listen_addr(ae_config_t *cf, yaml_node_t *node, ae_listen_addr_t *out)
{
    const char *s = ae_config_scalar(cf, node);
    if (s == NULL)
        return -1;
    if (ae_parse_listen_addr(s, &out->addr, &out->addrlen) != 0)
        return ae_config_error(cf, node, "'%s': bad address '%s' (expected IPV4:PORT or [IPV6]:PORT, port 1-65535)", cf->key, s);
    out->text = strdup(s);
    out->hosts = NULL;
    out->line = ae_config_line(node);
    out->tls = 0;
    out->proxy_protocol = 0;
    out->ssl_ctx = NULL;
    return 0;
}

int ae_config_choice(ae_config_t *cf, yaml_node_t *node, const char *const *choices, int *out)
{
    const char *s = ae_config_scalar(cf, node);
    char expected[256] = "";
    if (s == NULL)
        return -1;
    for (int i = 0; choices[i] != NULL; ++i) {
        if (strcmp(s, choices[i]) == 0) {
            *out = i;
            return 0;
        }
        snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected), "%s%s", i != 0 ? ", " : "", choices[i]);
    }
    return ae_config_error(cf, node, "'%s': unknown value '%s' (expected one of: %s)", cf->key, s, expected);
}

int ae_config_bool(ae_config_t *cf, yaml_node_t *node, int *out)
{
    static const char *const choices[] = {"false", "true", "no", "yes", "off", "on", NULL};
    int choice;
    if (ae_config_choice(cf, node, choices, &choice) != 0)
        return -1;
    *out = choice % 2;
    return 0;
}
