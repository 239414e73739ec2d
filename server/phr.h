/*
 * The parts of picohttpparser that anyedge uses. libh2o carries the parser and exports it, but
 * Debian installs no header for it: these declarations follow its API.
 */
#ifndef ANYEDGE_PHR_H
#define ANYEDGE_PHR_H

#include <stddef.h>

/* One header line: name is NULL for a folded (obs-fold) continuation line. */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Both return the head's length, -1 for a malformed head, -2 for an incomplete one; *num_headers is
 * the capacity of headers on entry and the count on return. */
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path, size_t *path_len,
                      int *minor_version, struct phr_header *headers, size_t *num_headers, size_t last_len);
int phr_parse_response(const char *buf, size_t len, int *minor_version, int *status, const char **msg, size_t *msg_len,
                       struct phr_header *headers, size_t *num_headers, size_t last_len);

/* Drops the spaces and tabs that end each value: they are not part of it (RFC 9112 5), and this
 * version of the parser keeps them. */
static inline void ae_phr_trim_values(struct phr_header *headers, size_t count)
{
    for (size_t i = 0; i != count; ++i)
        while (headers[i].value_len != 0 &&
               (headers[i].value[headers[i].value_len - 1] == ' ' || headers[i].value[headers[i].value_len - 1] == '\t'))
            --headers[i].value_len;
}

#endif
