/*
 * One exchange with an origin over h2o's HTTP/1 client and the site's keep-alive pool: sends the
 * request, takes the response head, and collects the body into an ae_body_t as it arrives. Three
 * timers bound the phases (connect, first byte, idle between reads); every way the exchange can end
 * is reported once through on_end with an ae_fetch_result_t.
 *
 * Worker threads only: a fetch lives on the event loop of the worker that started it.
 */
#include <stdlib.h>
#include <string.h>
#include "modules/origin/origin.h"
#include "server/log.h"

static const char *result_texts[] = {
    [AE_FETCH_OK] = "complete",
    [AE_FETCH_CONNECT_FAILED] = "cannot connect to the origin",
    [AE_FETCH_CONNECT_TIMEOUT] = "origin connect timeout",
    [AE_FETCH_FIRST_BYTE_TIMEOUT] = "origin first-byte timeout",
    [AE_FETCH_CLOSED_BEFORE_RESPONSE] = "the origin closed the connection without a response",
    [AE_FETCH_MALFORMED] = "the origin sent a malformed response",
    [AE_FETCH_IDLE_TIMEOUT] = "origin idle timeout",
    [AE_FETCH_TRUNCATED] = "the origin response was cut short",
};

const char *ae_fetch_result_text(ae_fetch_result_t result)
{
    return result_texts[result];
}

static void finish(ae_fetch_t *fetch, ae_fetch_result_t result)
{
    ae_thread_t *thread = fetch->_link->thread;
    if (h2o_timeout_is_linked(&fetch->_timer))
        h2o_timeout_unlink(&fetch->_timer);
    if (!fetch->_cancelled)
        fetch->_cb->on_end(fetch, result);
    if (fetch->body != NULL)
        ae_body_release(fetch->body);
    h2o_mem_clear_pool(&fetch->pool);
    free(fetch);
    ae_thread_release(thread);
}

static void arm_timer(ae_fetch_t *fetch, h2o_timeout_t *timeout, h2o_timeout_cb cb)
{
    if (h2o_timeout_is_linked(&fetch->_timer))
        h2o_timeout_unlink(&fetch->_timer);
    fetch->_timer.cb = cb;
    h2o_timeout_link(fetch->_link->thread->loop, timeout, &fetch->_timer);
}

static ae_fetch_t *fetch_of_timer(h2o_timeout_entry_t *entry)
{
    return H2O_STRUCT_FROM_MEMBER(ae_fetch_t, _timer, entry);
}

static void abort_with(ae_fetch_t *fetch, ae_fetch_result_t result)
{
    h2o_http1client_cancel(fetch->_client);
    fetch->_client = NULL;
    fetch->errstr = ae_fetch_result_text(result);
    finish(fetch, result);
}

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    abort_with(fetch_of_timer(entry), AE_FETCH_CONNECT_TIMEOUT);
}

static void on_first_byte_timeout(h2o_timeout_entry_t *entry)
{
    abort_with(fetch_of_timer(entry), AE_FETCH_FIRST_BYTE_TIMEOUT);
}

static void on_idle_timeout(h2o_timeout_entry_t *entry)
{
    abort_with(fetch_of_timer(entry), AE_FETCH_IDLE_TIMEOUT);
}

/* The client calls back; h2o closes or pools the connection itself once we return an end. */
static int on_body(h2o_http1client_t *client, const char *errstr)
{
    ae_fetch_t *fetch = client->data;
    h2o_buffer_t **input = &client->sock->input;

    ae_body_append(fetch->body, (*input)->bytes, (*input)->size);
    h2o_buffer_consume(input, (*input)->size);

    if (errstr == NULL) {
        arm_timer(fetch, &fetch->_link->idle_timeout, on_idle_timeout);
        fetch->_in_client_callback = 1;
        fetch->_cb->on_body(fetch);
        fetch->_in_client_callback = 0;
        if (fetch->_cancelled) {
            finish(fetch, AE_FETCH_TRUNCATED);
            return -1;
        }
        return 0;
    }

    fetch->_client = NULL;
    if (errstr == h2o_http1client_error_is_eos) {
        /* h2o also reports a chunked body whose connection closed between chunks as complete */
        if (fetch->_is_chunked && client->sock->bytes_read == 0) {
            fetch->errstr = "connection closed before the last chunk";
            finish(fetch, AE_FETCH_TRUNCATED);
        } else {
            finish(fetch, AE_FETCH_OK);
        }
    } else {
        fetch->errstr = errstr;
        finish(fetch, AE_FETCH_TRUNCATED);
    }
    return -1;
}

static void copy_headers(ae_fetch_t *fetch, const h2o_header_t *headers, size_t num_headers)
{
    for (size_t i = 0; i != num_headers; ++i) {
        const h2o_header_t *src = &headers[i];
        h2o_iovec_t value = h2o_strdup(&fetch->pool, src->value.base, src->value.len);
        const char *orig_name = src->orig_name != NULL ? h2o_strdup(&fetch->pool, src->orig_name, src->name->len).base : NULL;
        if (h2o_iovec_is_token(src->name)) {
            h2o_add_header(&fetch->pool, &fetch->headers, H2O_STRUCT_FROM_MEMBER(h2o_token_t, buf, src->name), orig_name, value.base,
                           value.len);
        } else {
            h2o_iovec_t name = h2o_strdup(&fetch->pool, src->name->base, src->name->len);
            h2o_add_header_by_str(&fetch->pool, &fetch->headers, name.base, name.len, 0, orig_name, value.base, value.len);
        }
        if (src->name == &H2O_TOKEN_TRANSFER_ENCODING->buf)
            fetch->_is_chunked = 1;
    }
}

static size_t content_length(const h2o_headers_t *headers)
{
    ssize_t i = h2o_find_header(headers, H2O_TOKEN_CONTENT_LENGTH, -1);
    if (i == -1 || h2o_find_header(headers, H2O_TOKEN_TRANSFER_ENCODING, -1) != -1)
        return SIZE_MAX;
    return h2o_strtosize(headers->entries[i].value.base, headers->entries[i].value.len);
}

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr, int minor_version, int status, h2o_iovec_t msg,
                                       h2o_header_t *headers, size_t num_headers, int rlen)
{
    ae_fetch_t *fetch = client->data;

    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        fetch->_client = NULL;
        fetch->errstr = errstr;
        finish(fetch, strstr(errstr, "I/O error") != NULL ? AE_FETCH_CLOSED_BEFORE_RESPONSE
                      : strstr(errstr, "timeout") != NULL   ? AE_FETCH_FIRST_BYTE_TIMEOUT
                                                            : AE_FETCH_MALFORMED);
        return NULL;
    }

    fetch->status = status;
    fetch->reason = h2o_strdup(&fetch->pool, msg.base, msg.len).base;
    copy_headers(fetch, headers, num_headers);
    fetch->body = ae_body_new(content_length(&fetch->headers));
    fetch->_in_client_callback = 1;
    fetch->_cb->on_head(fetch);
    fetch->_in_client_callback = 0;

    if (errstr == h2o_http1client_error_is_eos || fetch->_cancelled) {
        fetch->_client = NULL;
        finish(fetch, fetch->_cancelled ? AE_FETCH_TRUNCATED : AE_FETCH_OK);
        return NULL;
    }
    arm_timer(fetch, &fetch->_link->idle_timeout, on_idle_timeout);
    return on_body;
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr, h2o_iovec_t **reqbufs, size_t *reqbufcnt,
                                          int *method_is_head)
{
    ae_fetch_t *fetch = client->data;

    if (errstr != NULL) {
        fetch->_client = NULL;
        fetch->errstr = errstr;
        finish(fetch, strstr(errstr, "timeout") != NULL ? AE_FETCH_CONNECT_TIMEOUT : AE_FETCH_CONNECT_FAILED);
        return NULL;
    }
    *reqbufs = fetch->_request;
    *reqbufcnt = fetch->_request[1].len != 0 ? 2 : 1;
    *method_is_head = fetch->_is_head;
    arm_timer(fetch, &fetch->_link->first_byte_timeout, on_first_byte_timeout);
    return on_head;
}

void ae_fetch_start(ae_fetch_t **slot, ae_origin_link_t *link, h2o_iovec_t head, h2o_iovec_t body, int is_head,
                    const ae_fetch_callbacks_t *cb, void *data)
{
    ae_fetch_t *fetch = calloc(1, sizeof(*fetch));

    h2o_mem_init_pool(&fetch->pool);
    fetch->data = data;
    fetch->_cb = cb;
    fetch->_link = link;
    fetch->_is_head = is_head;
    fetch->_request[0] = h2o_strdup(&fetch->pool, head.base, head.len);
    fetch->_request[1] = body.len != 0 ? h2o_strdup(&fetch->pool, body.base, body.len) : h2o_iovec_init(NULL, 0);
    ae_thread_hold(link->thread);

    *slot = fetch; /* before connecting: a refused connection may end the exchange at once */
    arm_timer(fetch, &link->connect_timeout, on_connect_timeout);
    h2o_http1client_connect_with_pool(&fetch->_client, fetch, &link->client_ctx, &link->pool, on_connect);
}

void ae_fetch_cancel(ae_fetch_t *fetch)
{
    fetch->_cancelled = 1;
    if (fetch->_in_client_callback)
        return; /* the client callback that is running ends the exchange when it returns */
    h2o_http1client_cancel(fetch->_client);
    fetch->_client = NULL;
    finish(fetch, AE_FETCH_TRUNCATED);
}
