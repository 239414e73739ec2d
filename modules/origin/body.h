/*
 * A response body as a singly linked list of chunks that only grows: one thread appends (the worker
 * receiving it from the origin) while readers on any thread stream it with their own cursor (clients
 * served from the same fetch, the cache writer once it is complete). A chunk's length and the link to
 * the next chunk are published with release stores, so readers never see bytes before they are
 * written and chunks never move. The reference count is atomic for the same reason.
 *
 * Flow control: a body with a single reader that frees what it has sent (a response that is not
 * kept) holds at most about AE_BODY_HIGH_WATER bytes; the appender asks ae_body_is_full() after each
 * append, stops taking bytes while it is full, and is called back once the reader has brought it
 * under AE_BODY_LOW_WATER. A body that is kept (read by several, or stored) is never full.
 */
#ifndef ANYEDGE_ORIGIN_BODY_H
#define ANYEDGE_ORIGIN_BODY_H

#include <stddef.h>
#include <h2o.h>

#define AE_BODY_CHUNK_SIZE (256 * 1024)
#define AE_BODY_HIGH_WATER (1024 * 1024)
#define AE_BODY_LOW_WATER (512 * 1024)

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
    /* flow control, on the appender's thread only */
    int single_reader;       /* the one reader frees what it has sent */
    size_t discarded;        /* bytes freed so far */
    void (*on_drained)(void *data);
    void *drained_data;
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
 * read on the appender's thread, which has said so with ae_body_set_single_reader. */
void ae_body_set_single_reader(ae_body_t *body);
/* The single reader left: nothing holds the appender back any more. */
void ae_body_end_single_reader(ae_body_t *body);
void ae_body_discard_read(ae_body_t *body, ae_body_cursor_t *cursor);

/* Appender only: does the body hold as much as its reader may fall behind? Then `on_drained` (NULL:
 * none) runs once, when the reader has caught up. */
int ae_body_is_full(const ae_body_t *body);
void ae_body_on_drained(ae_body_t *body, void (*on_drained)(void *data), void *data);

#endif
