/*
 * The origin module's interface for other modules: a site's origin settings, one exchange with the
 * origin (ae_fetch_t, fetch.c), and the relay that streams an exchange to a client request and
 * lets an observer (the cache) keep the response (relay.c).
 *
 * Everything here runs on worker threads, on the thread that owns the request.
 */
#ifndef ANYEDGE_ORIGIN_H
#define ANYEDGE_ORIGIN_H

#include "modules/origin/body.h"
#include "server/server.h"

/* A site's origin, from the config. */
typedef struct ae_origin_conf {
    char *url;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint64_t connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms;
} ae_origin_conf_t;

/* Per worker thread and site: the connection pool and the timers of the three timeouts. */
typedef struct ae_origin_link {
    ae_thread_t *thread;
    const ae_origin_conf_t *conf;
    h2o_socketpool_t pool;
    h2o_http1client_ctx_t client_ctx;
    h2o_timeout_t io_timeout, connect_timeout, first_byte_timeout, idle_timeout;
} ae_origin_link_t;

ae_origin_link_t *ae_origin_link(ae_thread_t *thread, ae_site_t *site);

/* How an exchange with the origin ended. */
typedef enum {
    AE_FETCH_OK,
    AE_FETCH_CONNECT_FAILED,
    AE_FETCH_CONNECT_TIMEOUT,
    AE_FETCH_FIRST_BYTE_TIMEOUT,
    AE_FETCH_CLOSED_BEFORE_RESPONSE,
    AE_FETCH_MALFORMED,
    AE_FETCH_IDLE_TIMEOUT,
    AE_FETCH_TRUNCATED,
} ae_fetch_result_t;

typedef struct ae_fetch ae_fetch_t;

typedef struct ae_fetch_callbacks {
    void (*on_head)(ae_fetch_t *fetch);                            /* status and headers are set */
    void (*on_body)(ae_fetch_t *fetch);                            /* body grew */
    void (*on_end)(ae_fetch_t *fetch, ae_fetch_result_t result);   /* last call; the fetch is freed after it returns */
} ae_fetch_callbacks_t;

struct ae_fetch {
    /* the response, valid from on_head until on_end returns */
    int status;
    const char *reason;
    h2o_headers_t headers; /* hop-by-hop headers included; names and values live in `pool` */
    ae_body_t *body;       /* created at on_head; take a reference to keep it past on_end */
    const char *errstr;    /* what went wrong, for logs */
    h2o_mem_pool_t pool;
    void *data;
    /* private to fetch.c */
    const ae_fetch_callbacks_t *_cb;
    ae_origin_link_t *_link;
    h2o_http1client_t *_client;
    h2o_timeout_entry_t _timer;
    h2o_iovec_t _request[2];
    int _is_head, _is_chunked, _in_client_callback, _cancelled;
};

/* Sends request bytes (head, body) to the site's origin; the bytes are copied. *slot is set before
 * anything can happen, and may already be ended (on_end called) when this returns. */
void ae_fetch_start(ae_fetch_t **slot, ae_origin_link_t *link, h2o_iovec_t head, h2o_iovec_t body, int is_head,
                    const ae_fetch_callbacks_t *cb, void *data);
/* Stops an exchange; on_end is not called. */
void ae_fetch_cancel(ae_fetch_t *fetch);
const char *ae_fetch_result_text(ae_fetch_result_t result);

/* request.c: the request head sent to the origin for a client request. */
typedef enum { AE_REQUEST_AS_IS, AE_REQUEST_FULL_OBJECT } ae_request_mode_t;
h2o_iovec_t ae_origin_request_head(h2o_req_t *req, ae_request_mode_t mode);

/* Is this response header one the proxy must not pass on (hop-by-hop, or one h2o writes itself)? */
int ae_origin_is_unforwarded_response_header(const h2o_header_t *header, const h2o_headers_t *all);

/* relay.c: proxy a client request to its site's origin, streaming the response as it arrives. */
typedef struct ae_relay_observer {
    /* the head arrived and is about to be sent: add headers to req->res; return 1 to keep the whole body */
    int (*on_head)(void *data, h2o_req_t *req, ae_fetch_t *fetch);
    /* the exchange is over (also when the client left first); `complete` says the body arrived whole */
    void (*on_end)(void *data, ae_fetch_t *fetch, int complete);
} ae_relay_observer_t;

void ae_origin_relay(h2o_req_t *req, ae_site_t *site, ae_request_mode_t mode, const ae_relay_observer_t *observer, void *data);

#endif
