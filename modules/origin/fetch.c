/*
 * One HTTP/1.1 exchange with an origin over the site's keep-alive pool (over TLS for an https://
 * origin: a new connection's handshake sends SNI and verifies the certificate): sends the request, parses the
 * response head (with the library's picohttpparser), decides its framing as RFC 9112 6.3 says (an
 * invalid or conflicting Content-Length is malformed), and collects the body into an ae_body_t as it arrives. Three
 * timers bound the phases (connect, first byte, idle between reads); every way the exchange can end
 * is reported once through on_end with an ae_fetch_result_t. A malformed response is an error of the
 * exchange, never of the process. Each exchange is counted and timed in its thread's stats (stats.c)
 * and, for the request that started it, in that request's timing (timing.c).
 *
 * Worker threads only: a fetch lives on the event loop of the worker that started it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "modules/origin/chunked.h"
#include "modules/origin/origin.h"
#include "modules/origin/timing.h"
#include "server/phr.h"

#define MAX_HEAD_SIZE (64 * 1024)
#define MAX_HEADERS 100

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

/* ---- timing ---- */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void count_end(ae_fetch_t *fetch, ae_fetch_result_t result)
{
    ae_origin_stats_t *stats = fetch->_link->stats;
    uint64_t took = now_us() - fetch->_started_us;
    if (fetch->_cancelled)
        ae_counter_add(&stats->cancelled, 1);
    else if (result == AE_FETCH_OK)
        ae_histogram_observe(&stats->duration, took);
    else
        ae_counter_add(&stats->failures[result], 1);
    ae_origin_timing_end(fetch, result, (int64_t)took);
}

/* ---- ending an exchange ---- */

static void release_connection(ae_fetch_t *fetch, int reusable)
{
    h2o_socket_t *sock = fetch->_sock;
    fetch->_sock = NULL;
    if (fetch->_connect_req != NULL) {
        h2o_socketpool_cancel_connect(fetch->_connect_req);
        fetch->_connect_req = NULL;
    }
    if (sock == NULL)
        return;
    h2o_socket_read_stop(sock);
    if (reusable && sock->input->size == 0 && !h2o_socket_is_writing(sock))
        h2o_socketpool_return(&fetch->_link->pool, sock); /* closes our handle; the pool keeps the connection */
    else
        h2o_socket_close(sock);
}

static void finish(ae_fetch_t *fetch, ae_fetch_result_t result, const char *errstr)
{
    ae_thread_t *thread = fetch->_link->thread;
    if (h2o_timeout_is_linked(&fetch->_timer))
        h2o_timeout_unlink(&fetch->_timer);
    count_end(fetch, result);
    release_connection(fetch, result == AE_FETCH_OK && fetch->_keepalive);
    if (fetch->errstr == NULL)
        fetch->errstr = errstr;
    if (!fetch->_cancelled)
        fetch->_cb->on_end(fetch, result);
    if (fetch->body != NULL) {
        ae_body_on_drained(fetch->body, NULL, NULL);
        ae_body_release(fetch->body);
    }
    h2o_mem_clear_pool(&fetch->pool);
    free(fetch);
    ae_thread_release(thread);
}

/* Runs a user callback; returns -1 when the user cancelled the exchange from inside it (it is then ended). */
static int call_user(ae_fetch_t *fetch, void (*cb)(ae_fetch_t *))
{
    fetch->_in_user_callback = 1;
    cb(fetch);
    fetch->_in_user_callback = 0;
    if (!fetch->_cancelled)
        return 0;
    finish(fetch, AE_FETCH_TRUNCATED, NULL);
    return -1;
}

/* ---- timers ---- */

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

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    finish(fetch_of_timer(entry), AE_FETCH_CONNECT_TIMEOUT, "no connection within the connect timeout");
}

static void on_first_byte_timeout(h2o_timeout_entry_t *entry)
{
    finish(fetch_of_timer(entry), AE_FETCH_FIRST_BYTE_TIMEOUT, "no response head within the first-byte timeout");
}

static void on_idle_timeout(h2o_timeout_entry_t *entry)
{
    finish(fetch_of_timer(entry), AE_FETCH_IDLE_TIMEOUT, "no body bytes within the idle timeout");
}

/* ---- the body ---- */

/* Takes what the socket read into the body, per the framing; returns 1 once the body is complete,
 * 0 for more, -1 if it is malformed. */
static int take_body(ae_fetch_t *fetch)
{
    h2o_buffer_t *input = fetch->_sock->input;
    size_t len = input->size, consumed = len;

    switch (fetch->_framing) {
    case AE_FRAMING_LENGTH:
        if (len >= fetch->_bytes_left) {
            fetch->_keepalive &= len == fetch->_bytes_left; /* bytes past the body: do not reuse */
            len = fetch->_bytes_left;
        }
        fetch->_bytes_left -= len;
        ae_body_append(fetch->body, input->bytes, len);
        h2o_buffer_consume(&fetch->_sock->input, input->size);
        return fetch->_bytes_left == 0;
    case AE_FRAMING_CHUNKED: {
        ae_chunked_result_t r = ae_chunked_decode(&fetch->_chunked, input->bytes, &len, &consumed);
        if (r == AE_CHUNKED_ERROR)
            return -1;
        ae_body_append(fetch->body, input->bytes, len);
        fetch->_keepalive &= consumed == input->size;
        h2o_buffer_consume(&fetch->_sock->input, input->size);
        return r == AE_CHUNKED_DONE;
    }
    default: /* until the origin closes */
        ae_body_append(fetch->body, input->bytes, len);
        h2o_buffer_consume(&fetch->_sock->input, input->size);
        return 0;
    }
}

static void on_body_read(h2o_socket_t *sock, const char *err);

static void resume_reading(void *_fetch)
{
    ae_fetch_t *fetch = _fetch;
    h2o_socket_read_start(fetch->_sock, on_body_read);
    arm_timer(fetch, &fetch->_link->idle_timeout, on_idle_timeout);
}

/* The client is slower than the origin: leave the rest in the socket (TCP holds the origin back)
 * until the client has taken what is held. take_body has consumed all input, so nothing waits. */
static void pause_reading(ae_fetch_t *fetch)
{
    h2o_socket_read_stop(fetch->_sock);
    if (h2o_timeout_is_linked(&fetch->_timer))
        h2o_timeout_unlink(&fetch->_timer);
    ae_body_on_drained(fetch->body, resume_reading, fetch);
}

static void on_body_read(h2o_socket_t *sock, const char *err)
{
    ae_fetch_t *fetch = sock->data;
    int done;

    if (err != NULL) {
        if (fetch->_framing != AE_FRAMING_UNTIL_CLOSE || err != h2o_socket_error_closed) {
            finish(fetch, AE_FETCH_TRUNCATED, err);
            return;
        }
        /* the close ends a body without length: what came with it is the last of it */
        if (sock->input->size != 0) {
            take_body(fetch);
            if (call_user(fetch, fetch->_cb->on_body) != 0)
                return;
        }
        finish(fetch, AE_FETCH_OK, NULL);
        return;
    }
    if ((done = take_body(fetch)) < 0) {
        finish(fetch, AE_FETCH_TRUNCATED, "malformed chunked body");
        return;
    }
    if (call_user(fetch, fetch->_cb->on_body) != 0)
        return;
    if (done)
        finish(fetch, AE_FETCH_OK, NULL);
    else if (ae_body_is_full(fetch->body))
        pause_reading(fetch);
    else
        arm_timer(fetch, &fetch->_link->idle_timeout, on_idle_timeout);
}

/* ---- the head ---- */

static int is_token_list_value(h2o_iovec_t value, const char *token)
{
    return h2o_contains_token(value.base, value.len, token, strlen(token), ',');
}

/* RFC 9112 6.3: how the body is delimited; NULL, or why the framing cannot be trusted. */
static const char *decide_framing(ae_fetch_t *fetch, int status)
{
    ssize_t te = h2o_find_header(&fetch->headers, H2O_TOKEN_TRANSFER_ENCODING, -1);
    size_t length = SIZE_MAX;

    for (ssize_t i = -1; (i = h2o_find_header(&fetch->headers, H2O_TOKEN_CONTENT_LENGTH, i)) != -1;) {
        h2o_iovec_t v = fetch->headers.entries[i].value;
        size_t this_length = h2o_strtosize(v.base, v.len);
        if (this_length == SIZE_MAX || (length != SIZE_MAX && this_length != length))
            return "invalid or conflicting Content-Length";
        length = this_length;
    }
    if (fetch->_is_head || (status >= 100 && status < 200) || status == 204 || status == 304) {
        fetch->_framing = AE_FRAMING_NONE;
    } else if (te != -1) {
        /* a coding other than chunked alone would reach clients as if it were the content */
        h2o_iovec_t v = fetch->headers.entries[te].value;
        if (h2o_find_header(&fetch->headers, H2O_TOKEN_TRANSFER_ENCODING, te) != -1 ||
            !h2o_lcstris(v.base, v.len, H2O_STRLIT("chunked")))
            return "a transfer coding other than chunked alone";
        fetch->_framing = AE_FRAMING_CHUNKED;
        fetch->_keepalive &= length == SIZE_MAX; /* both: RFC 9112 6.3 says close after */
        length = SIZE_MAX;
    } else if (length != SIZE_MAX) {
        fetch->_framing = AE_FRAMING_LENGTH;
        fetch->_bytes_left = length;
    } else {
        fetch->_framing = AE_FRAMING_UNTIL_CLOSE;
        fetch->_keepalive = 0;
    }
    fetch->body = ae_body_new(fetch->_framing == AE_FRAMING_NONE ? 0 : length);
    return NULL;
}

static void keep_head(ae_fetch_t *fetch, int minor_version, int status, const char *msg, size_t msg_len, struct phr_header *headers,
                      size_t num_headers)
{
    int close_listed = 0, keep_alive_listed = 0;
    fetch->status = status;
    fetch->reason = h2o_strdup(&fetch->pool, msg, msg_len).base;
    for (size_t i = 0; i != num_headers; ++i) {
        h2o_iovec_t name = h2o_strdup(&fetch->pool, headers[i].name, headers[i].name_len);
        const char *orig_name = h2o_strdup(&fetch->pool, headers[i].name, headers[i].name_len).base;
        h2o_iovec_t value = h2o_strdup(&fetch->pool, headers[i].value, headers[i].value_len);
        h2o_strtolower(name.base, name.len);
        h2o_add_header_by_str(&fetch->pool, &fetch->headers, name.base, name.len, 1, orig_name, value.base, value.len);
        if (h2o_memis(name.base, name.len, H2O_STRLIT("connection"))) {
            close_listed |= is_token_list_value(value, "close");
            keep_alive_listed |= is_token_list_value(value, "keep-alive");
        }
    }
    /* an HTTP/1.0 response with a transfer coding is faulty framing: close after it (RFC 9112 6.1) */
    int coded_1_0 = minor_version == 0 && h2o_find_header(&fetch->headers, H2O_TOKEN_TRANSFER_ENCODING, -1) != -1;
    fetch->_keepalive = !close_listed && !coded_1_0 && (minor_version >= 1 || keep_alive_listed);
}

static void connect_to_origin(ae_fetch_t *fetch);

/* A pooled connection the origin closed just as we took it: try once more on a new one, for a
 * request that may be repeated (RFC 9110 9.2.2). */
static int retry_on_new_connection(ae_fetch_t *fetch)
{
    if (!fetch->_reused_connection || !fetch->_idempotent || fetch->_retried)
        return 0;
    fetch->_retried = 1;
    release_connection(fetch, 0);
    connect_to_origin(fetch);
    return 1;
}

static void on_head_read(h2o_socket_t *sock, const char *err)
{
    ae_fetch_t *fetch = sock->data;
    struct phr_header headers[MAX_HEADERS];
    size_t num_headers, msg_len;
    int minor_version, status, head_len;
    const char *msg;

    if (err != NULL) {
        if (sock->input->size == 0 && retry_on_new_connection(fetch))
            return;
        finish(fetch, AE_FETCH_CLOSED_BEFORE_RESPONSE, err);
        return;
    }
    while (1) {
        size_t available = sock->input->size < MAX_HEAD_SIZE ? sock->input->size : MAX_HEAD_SIZE;
        num_headers = MAX_HEADERS;
        head_len = phr_parse_response(sock->input->bytes, available, &minor_version, &status, &msg, &msg_len, headers, &num_headers,
                                      fetch->_head_seen);
        if (head_len == -2 && available < MAX_HEAD_SIZE) {
            fetch->_head_seen = available; /* a head that trickles in is not parsed again from its start */
            return;                        /* more to come */
        }
        if (head_len < 0 || status < 100 || status > 599 || status == 101) {
            finish(fetch, AE_FETCH_MALFORMED, head_len == -2 ? "response head too large" : "unparsable response head");
            return;
        }
        for (size_t i = 0; i != num_headers; ++i) {
            if (headers[i].name == NULL) { /* RFC 9112 5.2 allows a proxy to answer 502 */
                finish(fetch, AE_FETCH_MALFORMED, "a folded header line in the response");
                return;
            }
        }
        ae_phr_trim_values(headers, num_headers);
        if (status >= 200)
            break;
        h2o_buffer_consume(&sock->input, head_len); /* an interim response: the final one follows */
        fetch->_head_seen = 0;
    }

    keep_head(fetch, minor_version, status, msg, msg_len, headers, num_headers);
    h2o_buffer_consume(&sock->input, head_len);
    const char *bad_framing = decide_framing(fetch, status);
    if (bad_framing != NULL) {
        finish(fetch, AE_FETCH_MALFORMED, bad_framing);
        return;
    }
    uint64_t first_byte = now_us() - fetch->_started_us;
    ae_histogram_observe(&fetch->_link->stats->first_byte, first_byte);
    ae_origin_timing_head(fetch, (int64_t)first_byte);
    if (call_user(fetch, fetch->_cb->on_head) != 0)
        return;
    if (fetch->_framing == AE_FRAMING_NONE) {
        finish(fetch, AE_FETCH_OK, NULL);
        return;
    }
    h2o_socket_read_start(sock, on_body_read);
    if (sock->input->size != 0 || fetch->_bytes_left == 0)
        on_body_read(sock, NULL);
    else
        arm_timer(fetch, &fetch->_link->idle_timeout, on_idle_timeout);
}

/* ---- connecting and sending ---- */

static void on_request_written(h2o_socket_t *sock, const char *err)
{
    ae_fetch_t *fetch = sock->data;
    if (err != NULL) {
        if (!retry_on_new_connection(fetch))
            finish(fetch, AE_FETCH_CLOSED_BEFORE_RESPONSE, err);
        return;
    }
    h2o_socket_read_start(sock, on_head_read);
}

static void send_request(ae_fetch_t *fetch)
{
    arm_timer(fetch, &fetch->_link->first_byte_timeout, on_first_byte_timeout);
    h2o_socket_write(fetch->_sock, fetch->_request, fetch->_request[1].len != 0 ? 2 : 1, on_request_written);
}

static void on_tls_handshake(h2o_socket_t *sock, const char *err)
{
    ae_fetch_t *fetch = sock->data;
    /* OpenSSL has checked the chain and the name (origin.c sets both on the context) when
     * verification is on; h2o's own name check after it knows no IP addresses, so its verdict on
     * the name is not used, nor when verification is off */
    if (err != NULL && err != h2o_socket_error_ssl_cert_name_mismatch && err != h2o_socket_error_ssl_cert_invalid &&
        !(err == h2o_socket_error_ssl_no_cert && !fetch->_link->conf->tls_verify)) {
        finish(fetch, AE_FETCH_CONNECT_FAILED, err);
        return;
    }
    send_request(fetch);
}

static void on_connect(h2o_socket_t *sock, const char *errstr, void *data)
{
    ae_fetch_t *fetch = data;

    fetch->_connect_req = NULL;
    /* the pool hands out an idle connection from inside h2o_socketpool_connect, a new one later */
    fetch->_reused_connection = fetch->_connect_call != NULL;
    if (fetch->_connect_call != NULL) {
        *fetch->_connect_call = 0;
        fetch->_connect_call = NULL;
    }
    if (sock == NULL) {
        finish(fetch, AE_FETCH_CONNECT_FAILED, errstr);
        return;
    }
    fetch->_sock = sock;
    sock->data = fetch;
    if (fetch->_link->conf->ssl_ctx != NULL && sock->ssl == NULL) {
        /* a new connection to an https:// origin (a pooled one keeps its TLS session): the connect
         * timeout also bounds the handshake */
        h2o_socket_ssl_handshake(sock, fetch->_link->conf->ssl_ctx, fetch->_link->conf->server_name, on_tls_handshake);
        return;
    }
    send_request(fetch);
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
    fetch->_started_us = now_us();
    ae_counter_add(&link->stats->fetches, 1);
    ae_origin_timing_bind(fetch, head);

    fetch->_idempotent =
        body.len == 0 && (h2o_memis(head.base, 4, H2O_STRLIT("GET ")) || h2o_memis(head.base, 5, H2O_STRLIT("HEAD ")));
    *slot = fetch; /* before connecting: a refused connection may end the exchange at once */
    connect_to_origin(fetch);
}

static void connect_to_origin(ae_fetch_t *fetch)
{
    ae_origin_link_t *link = fetch->_link;
    int in_call = 1; /* cleared by on_connect when it runs inside the call (then fetch may be gone) */

    arm_timer(fetch, &link->connect_timeout, on_connect_timeout);
    fetch->_connect_call = &in_call;
    h2o_socketpool_connect(&fetch->_connect_req, &link->pool, link->thread->loop, &link->thread->ctx.receivers.hostinfo_getaddr,
                           on_connect, fetch);
    if (in_call)
        fetch->_connect_call = NULL;
}

void ae_fetch_cancel(ae_fetch_t *fetch)
{
    fetch->_cancelled = 1;
    if (!fetch->_in_user_callback)
        finish(fetch, AE_FETCH_TRUNCATED, NULL);
}
