/*
 * A response body as a list of fixed-capacity chunks, shared by reference count between the worker
 * that receives it from the origin (the only one that appends), the client it is streamed to, and
 * the cache writer thread that stores it (the body is immutable once handed over). Chunks never
 * move, so a slice already given to h2o_send() stays valid while more data is appended.
 */
#ifndef ANYEDGE_ORIGIN_BODY_H
#define ANYEDGE_ORIGIN_BODY_H

#include <stddef.h>
#include <h2o.h>

#define AE_BODY_CHUNK_SIZE (256 * 1024)

typedef struct ae_body_chunk {
    char *base;
    size_t len, cap;
} ae_body_chunk_t;

typedef struct ae_body {
    int refcnt;
    size_t size;
    size_t expected; /* the Content-Length, or SIZE_MAX when unknown */
    H2O_VECTOR(ae_body_chunk_t) chunks;
} ae_body_t;

ae_body_t *ae_body_new(size_t expected);
void ae_body_append(ae_body_t *body, const char *bytes, size_t len);
/* Frees the data of chunks [from, to) (their len stays, base becomes NULL): for bodies not kept. */
void ae_body_discard(ae_body_t *body, size_t from, size_t to);
void ae_body_addref(ae_body_t *body);
void ae_body_release(ae_body_t *body);

#endif
