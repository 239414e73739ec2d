/*
 * Append-only chunked bodies (see body.h). Appends happen on one worker thread; reads on any.
 */
#include <stdlib.h>
#include <string.h>
#include "modules/origin/body.h"

#define FIRST_CHUNK_MIN (16 * 1024)

ae_body_t *ae_body_new(size_t expected)
{
    ae_body_t *body = calloc(1, sizeof(*body));
    body->refcnt = 1;
    body->expected = expected;
    return body;
}

void ae_body_addref(ae_body_t *body)
{
    __atomic_add_fetch(&body->refcnt, 1, __ATOMIC_RELAXED);
}

void ae_body_release(ae_body_t *body)
{
    if (__atomic_sub_fetch(&body->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (ae_body_chunk_t *chunk = body->first, *next; chunk != NULL; chunk = next) {
        next = chunk->next;
        free(chunk);
    }
    free(body);
}

/* Capacity of the next chunk: the rest of a known length, else growing with the body. */
static size_t next_chunk_capacity(const ae_body_t *body)
{
    size_t cap;
    if (body->expected != SIZE_MAX && body->expected > body->size)
        cap = body->expected - body->size;
    else
        cap = body->size < FIRST_CHUNK_MIN ? FIRST_CHUNK_MIN : body->size;
    return cap < AE_BODY_CHUNK_SIZE ? cap : AE_BODY_CHUNK_SIZE;
}

static ae_body_chunk_t *add_chunk(ae_body_t *body)
{
    size_t cap = next_chunk_capacity(body);
    ae_body_chunk_t *chunk = malloc(offsetof(ae_body_chunk_t, data) + cap);
    chunk->next = NULL;
    chunk->len = 0;
    chunk->cap = cap;
    if (body->last == NULL)
        __atomic_store_n(&body->first, chunk, __ATOMIC_RELEASE);
    else
        __atomic_store_n(&body->last->next, chunk, __ATOMIC_RELEASE);
    body->last = chunk;
    return chunk;
}

void ae_body_append(ae_body_t *body, const char *bytes, size_t len)
{
    while (len != 0) {
        ae_body_chunk_t *chunk = body->last;
        if (chunk == NULL || chunk->len == chunk->cap)
            chunk = add_chunk(body);
        size_t n = chunk->cap - chunk->len < len ? chunk->cap - chunk->len : len;
        memcpy(chunk->data + chunk->len, bytes, n);
        __atomic_store_n(&chunk->len, chunk->len + n, __ATOMIC_RELEASE);
        __atomic_store_n(&body->size, body->size + n, __ATOMIC_RELEASE);
        bytes += n;
        len -= n;
    }
}

size_t ae_body_read(ae_body_t *body, ae_body_cursor_t *cursor, h2o_iovec_t *vecs, size_t max)
{
    size_t n = 0;
    if (cursor->chunk == NULL && (cursor->chunk = __atomic_load_n(&body->first, __ATOMIC_ACQUIRE)) == NULL)
        return 0;
    while (n != max) {
        ae_body_chunk_t *chunk = cursor->chunk;
        /* `next` first: once it is set, the chunk's length is final and visible */
        ae_body_chunk_t *next = __atomic_load_n(&chunk->next, __ATOMIC_ACQUIRE);
        size_t len = __atomic_load_n(&chunk->len, __ATOMIC_ACQUIRE);
        if (cursor->offset < len) {
            vecs[n++] = h2o_iovec_init(chunk->data + cursor->offset, len - cursor->offset);
            cursor->offset = len;
        }
        if (next == NULL)
            break;
        cursor->chunk = next;
        cursor->offset = 0;
    }
    return n;
}

void ae_body_set_single_reader(ae_body_t *body)
{
    body->single_reader = 1;
}

static void call_drained(ae_body_t *body)
{
    void (*cb)(void *) = body->on_drained;
    body->on_drained = NULL;
    if (cb != NULL)
        cb(body->drained_data);
}

void ae_body_end_single_reader(ae_body_t *body)
{
    body->single_reader = 0;
    call_drained(body);
}

void ae_body_discard_read(ae_body_t *body, ae_body_cursor_t *cursor)
{
    if (cursor->chunk == NULL)
        return;
    while (body->first != cursor->chunk) {
        ae_body_chunk_t *done = body->first;
        body->first = done->next;
        body->discarded += done->len;
        free(done);
    }
    if (body->size - body->discarded < AE_BODY_LOW_WATER)
        call_drained(body);
}

int ae_body_is_full(const ae_body_t *body)
{
    return body->single_reader && body->size - body->discarded > AE_BODY_HIGH_WATER;
}

void ae_body_on_drained(ae_body_t *body, void (*on_drained)(void *data), void *data)
{
    body->on_drained = on_drained;
    body->drained_data = data;
}
