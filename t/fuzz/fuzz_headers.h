/*
 * Shared by the header-driven fuzz targets: turns fuzz input text into h2o header lists. Each line
 * "name: value" (or "name:value") is one header, its name lower-cased as h2o parses it; a line
 * without a colon is skipped; an empty line ends one list and starts the next.
 */
#ifndef ANYEDGE_FUZZ_HEADERS_H
#define ANYEDGE_FUZZ_HEADERS_H

#include <string.h>
#include <h2o.h>

/* Reads header lines from *data until an empty line or the end, into headers (memory from pool). */
static void fuzz_read_headers(h2o_mem_pool_t *pool, const char **data, size_t *size, h2o_headers_t *headers)
{
    while (*size != 0) {
        const char *nl = memchr(*data, '\n', *size);
        size_t line_len = nl != NULL ? (size_t)(nl - *data) : *size;
        const char *line = *data;
        *data += line_len + (nl != NULL);
        *size -= line_len + (nl != NULL);
        if (line_len == 0)
            return;
        const char *colon = memchr(line, ':', line_len);
        if (colon == NULL || colon == line)
            continue;
        size_t name_len = colon - line;
        const char *value = colon + 1;
        size_t value_len = line_len - name_len - 1;
        if (value_len != 0 && *value == ' ')
            ++value, --value_len;
        /* copies of their own (one allocation each, not NUL-terminated, as h2o's parser leaves them),
         * so that a read past a field's end hits ASan's redzone rather than the next line */
        char *name = h2o_mem_alloc_shared(pool, name_len, NULL), *v = h2o_mem_alloc_shared(pool, value_len, NULL);
        memcpy(name, line, name_len);
        h2o_strtolower(name, name_len);
        memcpy(v, value, value_len);
        h2o_add_header_by_str(pool, headers, name, name_len, 0, NULL, v, value_len);
    }
}

#endif
