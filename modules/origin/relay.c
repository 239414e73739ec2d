/*
 * The relay streams one origin exchange to one client request as it arrives: the head as soon as it
 * is read, then each slice of the body (straight from the body's chunks, no copy) whenever h2o asks
 * for more. An observer (the cache) may add headers and keep the whole body; a kept exchange goes
 * on when the client leaves, so the object can still be stored. An origin that fails before its
 * head gets the client a 502 or 504; one that fails later ends the client's response short.
 *
 * Worker threads only; a relay lives on the loop of the request's worker and ends when both the
 * request and the exchange are gone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "modules/origin/origin.h"
#include "server/log.h"

#define MAX_VECS_PER_SEND 8

typedef struct relay {
    h2o_generator_t super;
    h2o_req_t *req;   /* NULL once h2o has freed the request */
    ae_fetch_t *fetch; /* NULL once the exchange ended */
    ae_site_t *site;
    ae_origin_link_t *link;
    char *label; /* "METHOD /path" for log messages */
    ae_body_t *body;   /* our reference, from the head on */
    size_t next_chunk, next_offset, discarded_chunks;
    ae_fetch_result_t result;
    int ended, sending, final_sent, keep;
    int in_fetch_end; /* h2o may free the request from inside a send; the relay must outlive that call */
    const ae_relay_observer_t *observer;
    void *observer_data;
} relay_t;

static void maybe_free(relay_t *relay)
{
    if (relay->req != NULL || relay->fetch != NULL || relay->in_fetch_end)
        return;
    if (relay->body != NULL)
        ae_body_release(relay->body);
    free(relay->label);
    free(relay);
}

static int all_sent(relay_t *relay)
{
    ae_body_t *body = relay->body;
    return relay->next_chunk >= body->chunks.size ||
           (relay->next_chunk == body->chunks.size - 1 && relay->next_offset == body->chunks.entries[relay->next_chunk].len);
}

static void send_available(relay_t *relay)
{
    h2o_iovec_t vecs[MAX_VECS_PER_SEND];
    size_t n = 0;
    ae_body_t *body = relay->body;

    if (relay->req == NULL || relay->sending || relay->final_sent || body == NULL)
        return;
    while (n != MAX_VECS_PER_SEND && relay->next_chunk < body->chunks.size) {
        ae_body_chunk_t *chunk = &body->chunks.entries[relay->next_chunk];
        if (relay->next_offset < chunk->len) {
            vecs[n++] = h2o_iovec_init(chunk->base + relay->next_offset, chunk->len - relay->next_offset);
            relay->next_offset = chunk->len;
        }
        if (chunk->len != chunk->cap)
            break; /* the chunk may still grow */
        ++relay->next_chunk;
        relay->next_offset = 0;
    }

    h2o_send_state_t state = H2O_SEND_STATE_IN_PROGRESS;
    if (relay->ended && all_sent(relay)) {
        state = relay->result == AE_FETCH_OK ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_ERROR;
        relay->final_sent = 1;
    } else if (n == 0) {
        return;
    } else {
        relay->sending = 1;
    }
    h2o_send(relay->req, vecs, n, state);
}

static void on_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    relay_t *relay = (relay_t *)generator;
    relay->sending = 0;
    if (!relay->keep) {
        ae_body_discard(relay->body, relay->discarded_chunks, relay->next_chunk);
        relay->discarded_chunks = relay->next_chunk;
    }
    send_available(relay);
}

static void on_fetch_head(ae_fetch_t *fetch)
{
    relay_t *relay = fetch->data;
    h2o_req_t *req = relay->req;

    req->res.status = fetch->status;
    req->res.reason = h2o_strdup(&req->pool, fetch->reason, SIZE_MAX).base;
    req->res.content_length = fetch->body->expected;
    for (size_t i = 0; i != fetch->headers.size; ++i) {
        const h2o_header_t *header = &fetch->headers.entries[i];
        if (ae_origin_is_unforwarded_response_header(header, &fetch->headers))
            continue;
        h2o_iovec_t value = h2o_strdup(&req->pool, header->value.base, header->value.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, header->name->base, header->name->len, 1, header->orig_name, value.base,
                              value.len);
    }
    if (relay->observer != NULL)
        relay->keep = relay->observer->on_head(relay->observer_data, req, fetch);
    ae_body_addref(fetch->body);
    relay->body = fetch->body;
    h2o_start_response(req, &relay->super);
    send_available(relay);
}

static void on_fetch_body(ae_fetch_t *fetch)
{
    send_available(fetch->data);
}

static void send_origin_error(h2o_req_t *req, ae_fetch_result_t result)
{
    int is_timeout = result == AE_FETCH_CONNECT_TIMEOUT || result == AE_FETCH_FIRST_BYTE_TIMEOUT;
    h2o_iovec_t body = h2o_concat(&req->pool, h2o_iovec_init(H2O_STRLIT("anyedge: ")),
                                  h2o_iovec_init(ae_fetch_result_text(result), strlen(ae_fetch_result_text(result))),
                                  h2o_iovec_init(H2O_STRLIT("\n")));
    h2o_send_error_generic(req, is_timeout ? 504 : 502, is_timeout ? "Gateway Timeout" : "Bad Gateway", body.base,
                           H2O_SEND_ERROR_KEEP_HEADERS);
}

static void on_fetch_end(ae_fetch_t *fetch, ae_fetch_result_t result)
{
    relay_t *relay = fetch->data;

    relay->fetch = NULL;
    relay->ended = 1;
    relay->result = result;
    if (result != AE_FETCH_OK)
        ae_log_warn("%s %s via %s: %s (%s)", relay->site->host, relay->label, relay->link->conf->url, ae_fetch_result_text(result),
                    fetch->errstr != NULL ? fetch->errstr : "no detail");
    if (relay->observer != NULL)
        relay->observer->on_end(relay->observer_data, fetch, result == AE_FETCH_OK);
    relay->in_fetch_end = 1;
    if (relay->body == NULL) {
        if (relay->req != NULL)
            send_origin_error(relay->req, result);
    } else {
        send_available(relay);
    }
    relay->in_fetch_end = 0;
    maybe_free(relay);
}

static const ae_fetch_callbacks_t fetch_callbacks = {on_fetch_head, on_fetch_body, on_fetch_end};

/* h2o frees the request: a kept exchange goes on for the cache, anything else stops now. */
static void on_request_disposed(void *slot)
{
    relay_t *relay = *(relay_t **)slot;
    relay->req = NULL;
    if (relay->fetch != NULL && !relay->keep) {
        ae_fetch_cancel(relay->fetch);
        relay->fetch = NULL;
        if (relay->observer != NULL)
            relay->observer->on_end(relay->observer_data, NULL, 0);
    }
    maybe_free(relay);
}

void ae_origin_relay(h2o_req_t *req, ae_site_t *site, ae_request_mode_t mode, const ae_relay_observer_t *observer, void *data)
{
    relay_t *relay = calloc(1, sizeof(*relay));
    relay_t **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), on_request_disposed);
    ae_origin_link_t *link = ae_origin_link(ae_thread_of(req->conn->ctx), site);

    *slot = relay;
    relay->super.proceed = on_proceed;
    relay->req = req;
    relay->site = site;
    relay->link = link;
    if (asprintf(&relay->label, "%.*s %.*s", (int)req->method.len, req->method.base, (int)(req->path.len < 256 ? req->path.len : 256),
                 req->path.base) < 0)
        relay->label = NULL;
    relay->observer = observer;
    relay->observer_data = data;
    ae_fetch_start(&relay->fetch, link, ae_origin_request_head(req, mode), req->entity,
                   h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")), &fetch_callbacks, relay);
}
