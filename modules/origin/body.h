/*
 * A response body as a singly linked list of chunks that only grows: one thread appends (the worker
 * receiving it from the origin) while readers on any thread stream it with their own cursor (clients
 * served from the same fetch, the cache writer once it is complete). A chunk's length and the link to
 * the next chunk are published with release stores, so readers never see bytes before they are
 * written and chunks never move. The reference count is atomic for the same reason.
 */
#ifndef ANYEDGE_ORIGIN_BODY_H
#define ANYEDGE_ORIGIN_BODY_H

#include <stddef.h>
#include <h2o.h>

#define AE_BODY_CHUNK_SIZE (256 * 1024)

typedef struct ae_body_chunk {
    struct ae_body_chunk *next; /* published last, once the chunk is full */
    size_t len;                 /* published after the bytes */
    size_t cap;
    char data[];
} ae_body_chunk_t;

typedef struct ae_body {
    int refcnt;
    size_t expected;        /* the Content-Length, or SIZE_MAX when unknown */
    size_t size;            /* bytes appended so far (published) */
    ae_body_chunk_t *first; /* published when the first chunk is added */
    ae_body_chunk_t *last;  /* the appender's */
} ae_body_t;

typedef struct ae_body_cursor {
    ae_body_chunk_t *chunk; /* NULL before the first chunk */
    size_t offset;
} ae_body_cursor_t;

ae_body_t *ae_body_new(size_t expected);
void ae_body_addref(ae_body_t *body);
void ae_body_release(ae_body_t *body);

/* Appender only. */
void ae_body_append(ae_body_t *body, const char *bytes, size_t len);

/* Any reader: fills vecs with up to max slices published after the cursor and advances it. */
size_t ae_body_read(ae_body_t *body, ae_body_cursor_t *cursor, h2o_iovec_t *vecs, size_t max);
/* Frees the chunks wholly before the cursor: only for a body with one reader that is not kept,
 * read on the appender's thread. */
void ae_body_discard_read(ae_body_t *body, ae_body_cursor_t *cursor);

#endif
