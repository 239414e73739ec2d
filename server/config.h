/*
 * The YAML config loader: reads the file with libyaml's document API, walks its mappings and hands
 * each key to the directive of the module that owns it. Every error names FILE:LINE and what was
 * expected. Also the value parsers directives share (sizes, durations, addresses, ...).
 *
 * Main thread only, before any worker starts (also on `anyedge -t`).
 */
#ifndef ANYEDGE_CONFIG_H
#define ANYEDGE_CONFIG_H

#include <stdint.h>
#include <yaml.h>
#include "server/server.h"

struct ae_config {
    const char *path;
    ae_server_t *srv;
    yaml_document_t doc;
    const char *key; /* the dotted key whose value is being set, for messages */
    char *error;     /* the first error, "FILE:LINE: message" */
    size_t error_size;
};

/* Loads `path` into srv; returns 0, or -1 with the message in err. */
int ae_config_load(ae_server_t *srv, const char *path, char *err, size_t err_size);

/* Record an error at the node's line (or at `line`, 1-based); always returns -1. */
int ae_config_error(ae_config_t *cf, yaml_node_t *node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ae_config_error_at(ae_config_t *cf, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline unsigned ae_config_line(yaml_node_t *node)
{
    return (unsigned)node->start_mark.line + 1;
}

/* Walks a mapping, dispatching each key to a directive of `scope` (names nest with dots). */
int ae_config_walk(ae_config_t *cf, yaml_node_t *map, ae_scope_t scope, ae_site_t *site);

/* Value parsers (config_values.c): each reports its own error and returns -1 on bad input. */
const char *ae_config_scalar(ae_config_t *cf, yaml_node_t *node);
int ae_config_expect(ae_config_t *cf, yaml_node_t *node, yaml_node_type_t type);
int ae_config_uint(ae_config_t *cf, yaml_node_t *node, uint64_t min, uint64_t max, uint64_t *out);
int ae_config_size(ae_config_t *cf, yaml_node_t *node, uint64_t *out);
int ae_config_duration_ms(ae_config_t *cf, yaml_node_t *node, uint64_t *out);
int ae_config_listen_addr(ae_config_t *cf, yaml_node_t *node, ae_listen_addr_t *out);
int ae_config_bool(ae_config_t *cf, yaml_node_t *node, int *out);
/* One of `choices` (NULL-terminated); *out is its index. */
int ae_config_choice(ae_config_t *cf, yaml_node_t *node, const char *const *choices, int *out);

/* The plain parsers behind them, for code that has no YAML node: return 0 or -1. */
int ae_parse_size(const char *s, uint64_t *out);
int ae_parse_duration_ms(const char *s, uint64_t *out);
int ae_parse_listen_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#define AE_CONFIG_FOREACH_ITEM(doc, seq, item)                                                                                     \
    for (yaml_node_item_t *item##_it = (seq)->data.sequence.items.start; item##_it < (seq)->data.sequence.items.top; ++item##_it)  \
        for (yaml_node_t *item = yaml_document_get_node((doc), *item##_it); item != NULL; item = NULL)

#endif
