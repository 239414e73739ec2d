/*
 * The relay passes one client request to its site's origin as it is and streams the response back as
 * it arrives, freeing each slice once sent. An origin that fails before its head gets the client a
 * 502 or 504; one that fails later ends the client's response short. Also the pieces the cache's
 * fills share with it: turning an origin head into the client's response, and the error answers.
 *
 * Worker threads only; a relay lives on the loop of the request's worker and ends when both the
 * request and the exchange are gone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "modules/origin/origin.h"
#include "server/log.h"

typedef struct relay {
    h2o_req_t *req;             /* NULL once h2o has freed the request */
    ae_fetch_t *fetch;          /* NULL once the exchange ended */
    ae_client_stream_t *stream; /* NULL once the request is gone */
    int head_sent;
    ae_site_t *site;
    ae_origin_head_cb on_head;
    void *on_head_data;
    char *label;      /* "METHOD /path" for log messages */
    int in_fetch_end; /* h2o may free the request from inside a send; the relay must outlive that call */
} relay_t;

static void maybe_free(relay_t *relay)
{
    if (relay->req != NULL || relay->fetch != NULL || relay->in_fetch_end)
        return;
    free(relay->label);
    free(relay);
}

size_t ae_origin_client_length(int status, const h2o_headers_t *headers, int body_read, size_t body_length)
{
    if ((status >= 100 && status < 200) || status == 204 || status == 304)
        return SIZE_MAX;
    if (body_read)
        return body_length;
    ssize_t at = h2o_find_header(headers, H2O_TOKEN_CONTENT_LENGTH, -1);
    return at != -1 ? h2o_strtosize(headers->entries[at].value.base, headers->entries[at].value.len) : SIZE_MAX;
}

void ae_origin_set_response_head(h2o_req_t *req, int status, const char *reason, const h2o_headers_t *headers,
                                 size_t content_length, int (*skip)(void *ctx, const h2o_header_t *header), void *skip_ctx)
{
    req->res.status = status;
    req->res.reason = h2o_strdup(&req->pool, reason, SIZE_MAX).base;
    req->res.content_length = content_length;
    for (size_t i = 0; i != headers->size; ++i) {
        const h2o_header_t *header = &headers->entries[i];
        if (ae_origin_is_unforwarded_response_header(header, headers) || (skip != NULL && skip(skip_ctx, header)))
            continue;
        h2o_iovec_t value = h2o_strdup(&req->pool, header->value.base, header->value.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, header->name->base, header->name->len, 1, header->orig_name,
                              value.base, value.len);
    }
}

void ae_origin_send_error(h2o_req_t *req, ae_fetch_result_t result)
{
    int is_timeout = result == AE_FETCH_CONNECT_TIMEOUT || result == AE_FETCH_FIRST_BYTE_TIMEOUT;
    const char *text = ae_fetch_result_text(result);
    h2o_iovec_t body = h2o_concat(&req->pool, h2o_iovec_init(H2O_STRLIT("anyedge: ")), h2o_iovec_init(text, strlen(text)),
                                  h2o_iovec_init(H2O_STRLIT("\n")));
    h2o_send_error_generic(req, is_timeout ? 504 : 502, is_timeout ? "Gateway Timeout" : "Bad Gateway", body.base,
                           H2O_SEND_ERROR_KEEP_HEADERS);
}

void ae_origin_log_failure(ae_site_t *site, const char *what, ae_fetch_t *fetch, ae_fetch_result_t result)
{
    const ae_origin_conf_t *conf = site->conf[ae_origin_module.index];
    ae_log_warn("%s %s via %s: %s (%s)", site->host, what, conf->url, ae_fetch_result_text(result),
                fetch->errstr != NULL ? fetch->errstr : "no detail");
}

static void on_request_gone(void *_relay)
{
    relay_t *relay = _relay;
    relay->req = NULL;
    relay->stream = NULL;
    if (relay->fetch != NULL) {
        ae_fetch_cancel(relay->fetch);
        relay->fetch = NULL;
    }
    maybe_free(relay);
}

static void on_fetch_head(ae_fetch_t *fetch)
{
    relay_t *relay = fetch->data;
    if (relay->on_head != NULL)
        relay->on_head(relay->on_head_data, relay->req, fetch->status, &fetch->headers);
    ae_origin_set_response_head(relay->req, fetch->status, fetch->reason, &fetch->headers,
                                ae_origin_client_length(fetch->status, &fetch->headers, !fetch->_is_head, fetch->body->expected),
                                NULL, NULL);
    relay->head_sent = 1;
    ae_client_stream_start(relay->stream, fetch->body, 1, ae_origin_date(&fetch->headers));
}

static void on_fetch_body(ae_fetch_t *fetch)
{
    relay_t *relay = fetch->data;
    if (relay->stream != NULL)
        ae_client_stream_poke(relay->stream);
}

static void on_fetch_end(ae_fetch_t *fetch, ae_fetch_result_t result)
{
    relay_t *relay = fetch->data;

    relay->fetch = NULL;
    if (result != AE_FETCH_OK)
        ae_origin_log_failure(relay->site, relay->label != NULL ? relay->label : "request", fetch, result);
    relay->in_fetch_end = 1;
    if (relay->stream != NULL && relay->head_sent)
        ae_client_stream_finish(relay->stream, result == AE_FETCH_OK);
    else if (relay->req != NULL)
        ae_origin_send_error(relay->req, result);
    relay->in_fetch_end = 0;
    maybe_free(relay);
}

static const ae_fetch_callbacks_t fetch_callbacks = {on_fetch_head, on_fetch_body, on_fetch_end};

void ae_origin_relay(h2o_req_t *req, ae_site_t *site, ae_origin_head_cb on_head, void *data)
{
    relay_t *relay = calloc(1, sizeof(*relay));

    relay->req = req;
    relay->stream = ae_client_stream_new(req, on_request_gone, relay);
    relay->site = site;
    relay->on_head = on_head;
    relay->on_head_data = data;
    if (asprintf(&relay->label, "%.*s %.*s", (int)req->method.len, req->method.base,
                 (int)(req->path.len < 256 ? req->path.len : 256), req->path.base) < 0)
        relay->label = NULL;
    ae_fetch_start(&relay->fetch, ae_origin_link(ae_thread_of(req->conn->ctx), site),
                   ae_origin_request_head(req, AE_REQUEST_AS_IS, NULL), req->entity,
                   h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")), &fetch_callbacks, relay);
}
