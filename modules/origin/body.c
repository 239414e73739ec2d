/*
 * Chunked, reference-counted response bodies (see body.h). Appends happen on one worker thread;
 * the reference count is atomic because the cache writer thread releases its reference.
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

/* Capacity of the next chunk: the rest of a known length, else growing with the body. */
static size_t next_chunk_capacity(const ae_body_t *body)
{
    size_t cap;
    if (body->expected != SIZE_MAX && body->expected > body->size) {
        cap = body->expected - body->size;
    } else {
        cap = body->size < FIRST_CHUNK_MIN ? FIRST_CHUNK_MIN : body->size;
    }
    return cap < AE_BODY_CHUNK_SIZE ? cap : AE_BODY_CHUNK_SIZE;
}

void ae_body_append(ae_body_t *body, const char *bytes, size_t len)
{
    while (len != 0) {
        ae_body_chunk_t *last = body->chunks.size != 0 ? &body->chunks.entries[body->chunks.size - 1] : NULL;
        if (last == NULL || last->len == last->cap) {
            h2o_vector_reserve(NULL, &body->chunks, body->chunks.size + 1);
            last = &body->chunks.entries[body->chunks.size++];
            last->cap = next_chunk_capacity(body);
            last->base = malloc(last->cap);
            last->len = 0;
        }
        size_t n = last->cap - last->len < len ? last->cap - last->len : len;
        memcpy(last->base + last->len, bytes, n);
        last->len += n;
        body->size += n;
        bytes += n;
        len -= n;
    }
}

void ae_body_discard(ae_body_t *body, size_t from, size_t to)
{
    for (size_t i = from; i < to; ++i) {
        free(body->chunks.entries[i].base);
        body->chunks.entries[i].base = NULL;
    }
}

void ae_body_addref(ae_body_t *body)
{
    __atomic_add_fetch(&body->refcnt, 1, __ATOMIC_RELAXED);
}

void ae_body_release(ae_body_t *body)
{
    if (__atomic_sub_fetch(&body->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i != body->chunks.size; ++i)
        free(body->chunks.entries[i].base);
    free(body->chunks.entries);
    free(body);
}
