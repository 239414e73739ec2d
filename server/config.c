/*
 * The YAML config loader (see config.h). Owns the libyaml document while the file is read and the
 * dispatch of keys to directives: a key names a directive of the current scope, or a mapping whose
 * keys nest under it ("cache:" + "path:" = "cache.path"); anything else is an unknown key.
 *
 * Main thread only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "server/config.h"

static int verror(ae_config_t *cf, unsigned line, const char *fmt, va_list args)
{
    if (cf->error[0] != '\0')
        return -1; /* keep the first error: later ones are usually its consequences */
    int n = snprintf(cf->error, cf->error_size, "%s:%u: ", cf->path, line);
    if (n >= 0 && (size_t)n < cf->error_size)
        vsnprintf(cf->error + n, cf->error_size - n, fmt, args);
    return -1;
}

int ae_config_error_at(ae_config_t *cf, unsigned line, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    verror(cf, line, fmt, args);
    va_end(args);
    return -1;
}

int ae_config_error(ae_config_t *cf, yaml_node_t *node, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    verror(cf, ae_config_line(node), fmt, args);
    va_end(args);
    return -1;
}

static const ae_directive_t *find_directive(const char *name, ae_scope_t scope)
{
    for (ae_module_t **m = ae_modules; *m != NULL; ++m)
        for (const ae_directive_t *d = (*m)->directives; d != NULL && d->name != NULL; ++d)
            if (d->scope == scope && strcmp(d->name, name) == 0)
                return d;
    return NULL;
}

/* Is there a directive of `scope` whose name is "<prefix>.<something>"? */
static int is_directive_prefix(const char *prefix, ae_scope_t scope)
{
    size_t len = strlen(prefix);
    for (ae_module_t **m = ae_modules; *m != NULL; ++m)
        for (const ae_directive_t *d = (*m)->directives; d != NULL && d->name != NULL; ++d)
            if (d->scope == scope && strncmp(d->name, prefix, len) == 0 && d->name[len] == '.')
                return 1;
    return 0;
}

static int walk(ae_config_t *cf, yaml_node_t *map, const char *prefix, ae_scope_t scope, ae_site_t *site)
{
    if (ae_config_expect(cf, map, YAML_MAPPING_NODE) != 0)
        return -1;

    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; ++pair) {
        yaml_node_t *key = yaml_document_get_node(&cf->doc, pair->key);
        yaml_node_t *value = yaml_document_get_node(&cf->doc, pair->value);
        char name[256];

        if (key->type != YAML_SCALAR_NODE)
            return ae_config_error(cf, key, "a key must be a plain name");
        snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", (const char *)key->data.scalar.value);

        for (yaml_node_pair_t *earlier = map->data.mapping.pairs.start; earlier < pair; ++earlier) {
            yaml_node_t *earlier_key = yaml_document_get_node(&cf->doc, earlier->key);
            if (earlier_key->type == YAML_SCALAR_NODE && strcmp((char *)earlier_key->data.scalar.value, (char *)key->data.scalar.value) == 0)
                return ae_config_error(cf, key, "duplicate key '%s' (already set at line %u)", name, ae_config_line(earlier_key));
        }

        const ae_directive_t *d = find_directive(name, scope);
        if (d == NULL && !is_directive_prefix(name, scope))
            return ae_config_error(cf, key, "unknown key '%s'%s", name, scope == AE_SCOPE_SITE ? " in site" : "");
        const char *outer_key = cf->key;
        cf->key = name;
        int ret = d != NULL ? d->set(cf, value, site) : walk(cf, value, name, scope, site);
        cf->key = outer_key;
        if (ret != 0)
            return -1;
    }
    return 0;
}

int ae_config_walk(ae_config_t *cf, yaml_node_t *map, ae_scope_t scope, ae_site_t *site)
{
    return walk(cf, map, "", scope, site);
}

static int parse_document(ae_config_t *cf, FILE *fp)
{
    yaml_parser_t parser;
    int ok;

    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, fp);
    ok = yaml_parser_load(&parser, &cf->doc);
    if (!ok) {
        yaml_mark_t mark = parser.problem_mark.line != 0 || parser.problem_mark.column != 0 ? parser.problem_mark : parser.context_mark;
        ae_config_error_at(cf, (unsigned)mark.line + 1, "YAML syntax error: %s%s%s", parser.problem ? parser.problem : "unknown",
                           parser.context ? " " : "", parser.context ? parser.context : "");
    }
    yaml_parser_delete(&parser);
    return ok ? 0 : -1;
}

int ae_config_load(ae_server_t *srv, const char *path, char *err, size_t err_size)
{
    ae_config_t cf = {.path = path, .srv = srv, .error = err, .error_size = err_size};
    FILE *fp;
    int ret = -1;

    err[0] = '\0';
    if ((fp = fopen(path, "r")) == NULL) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (parse_document(&cf, fp) != 0)
        goto Close;

    yaml_node_t *root = yaml_document_get_root_node(&cf.doc);
    if (root == NULL) {
        ae_config_error_at(&cf, 1, "the file is empty (expected a mapping with 'listen', 'cache' and 'sites')");
    } else if (ae_config_walk(&cf, root, AE_SCOPE_GLOBAL, NULL) == 0) {
        ret = 0;
        for (ae_module_t **m = ae_modules; ret == 0 && *m != NULL; ++m)
            if ((*m)->on_config_done != NULL && (*m)->on_config_done(&cf, srv) != 0)
                ret = -1;
    }
    yaml_document_delete(&cf.doc);
Close:
    fclose(fp);
    return ret;
}
