/*
 * The origin module's interface for other modules: a site's origin settings, one exchange with the
 * origin (ae_fetch_t: fetch.c, an HTTP/1.1 client on h2o's sockets and pool), the client stream
 * that sends a body as it arrives (stream.c), the relay that passes a request through (relay.c),
 * and what crosses the proxy (request.c, date_header.c).
 *
 * Everything here runs on worker threads, on the thread that owns the request or the exchange.
 */
#ifndef ANYEDGE_ORIGIN_H
#define ANYEDGE_ORIGIN_H

#include "modules/origin/body.h"
#include "modules/origin/chunked.h"
#include "server/histogram.h"
#include "server/server.h"

extern ae_module_t ae_origin_module;

/* A site's origin, from the config. */
typedef struct ae_origin_conf {
    char *url;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint64_t connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms;
    /* an https:// origin: TLS with SNI and (unless origin-tls-verify is off) a verified certificate
     * for `host`, against origin-ca-file or the system's CAs */
    int tls, tls_verify;
    char *host;        /* the URL's host, without brackets */
    char *server_name; /* `origin-server-name`, else host: SNI and the name the certificate must have */
    char *ca_file;
    unsigned ca_file_line;
    SSL_CTX *ssl_ctx; /* built at config time; shared (read-only) by the worker threads */
} ae_origin_conf_t;

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
    AE_FETCH_RESULT_COUNT
} ae_fetch_result_t;

/* stats.c: one worker thread's counters of the exchanges with one site's origin, written by that
 * thread only (ae_counter_add), summed over the threads by ae_origin_get_stats. */
typedef struct ae_origin_stats {
    uint64_t fetches;                         /* exchanges started */
    uint64_t failures[AE_FETCH_RESULT_COUNT]; /* exchanges that failed, by how (failures[AE_FETCH_OK] stays 0) */
    uint64_t cancelled;                       /* exchanges anyedge stopped itself (the client left, nobody waits) */
    ae_histogram_t first_byte;                /* start (connect included) to the response head */
    ae_histogram_t duration;                  /* start to the last byte, for exchanges that completed */
} ae_origin_stats_t;

/* The site's counters summed over the worker threads; any thread, once the workers run. */
void ae_origin_get_stats(ae_server_t *srv, ae_site_t *site, ae_origin_stats_t *out);
/* The name of a failure for metrics, e.g. "connect_timeout". */
const char *ae_fetch_result_name(ae_fetch_result_t result);

typedef struct ae_fetch ae_fetch_t;

/* Per worker thread and site: the connection pool, the timers of the three timeouts, the counters. */
typedef struct ae_origin_link {
    ae_thread_t *thread;
    const ae_origin_conf_t *conf;
    h2o_socketpool_t pool;
    h2o_timeout_t connect_timeout, first_byte_timeout, idle_timeout;
    ae_origin_stats_t *stats;
} ae_origin_link_t;

ae_origin_link_t *ae_origin_link(ae_thread_t *thread, ae_site_t *site);

/* timing.c: what the origin exchange a client request started took, for its access log line. The
 * request's exchange is the one started with the head ae_origin_request_head() built for it (a
 * relay's, or the fill it started; not a fill it joined). Lives in the request's pool; the exchange
 * fills it in as it goes and lets go of it when it ends or the request is freed first. */
typedef struct ae_origin_timing {
    ae_fetch_t *fetch;        /* the exchange while it runs; NULL after */
    int status;               /* the origin's status; 0 before (or without) a response head */
    int64_t first_byte_us;    /* start to the response head; -1 until then */
    int64_t total_us;         /* start to the end of the exchange; -1 while it runs */
    ae_fetch_result_t result; /* how it ended, once total_us is set */
} ae_origin_timing_t;

/* The request's timing, or NULL when it started no exchange. Its thread, until h2o frees it. */
const ae_origin_timing_t *ae_origin_request_timing(h2o_req_t *req);

typedef struct ae_fetch_callbacks {
    void (*on_head)(ae_fetch_t *fetch);                          /* status and headers are set */
    void (*on_body)(ae_fetch_t *fetch);                          /* body grew */
    void (*on_end)(ae_fetch_t *fetch, ae_fetch_result_t result); /* last call; the fetch is freed after it returns */
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
    h2o_socketpool_connect_request_t *_connect_req;
    h2o_socket_t *_sock;
    h2o_timeout_entry_t _timer;
    h2o_iovec_t _request[2];
    enum { AE_FRAMING_NONE, AE_FRAMING_LENGTH, AE_FRAMING_CHUNKED, AE_FRAMING_UNTIL_CLOSE } _framing;
    size_t _bytes_left;
    size_t _head_seen; /* bytes of an incomplete head already looked at: the parser only looks for its end */
    ae_chunked_decoder_t _chunked;
    int _is_head, _keepalive, _in_user_callback, _cancelled;
    int *_connect_call; /* set while h2o_socketpool_connect runs */
    int _reused_connection, _idempotent, _retried;
    uint64_t _started_us;        /* monotonic clock at the start */
    ae_origin_timing_t *_timing; /* of the request that started it, while both live */
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
/* `extra` (may be NULL) are added as they are, e.g. the cache's own validators. */
h2o_iovec_t ae_origin_request_head(h2o_req_t *req, ae_request_mode_t mode, const h2o_headers_t *extra);

/* Is this response header one the proxy must not pass on (hop-by-hop, or one h2o writes itself)? */
int ae_origin_is_unforwarded_response_header(const h2o_header_t *header, const h2o_headers_t *all);

/* stream.c: send a response whose body may still be arriving to one client request. */
typedef struct ae_client_stream ae_client_stream_t;
typedef void (*ae_client_stream_gone_cb)(void *data);

/* Watches the request from now on: `gone` runs once, when h2o frees it (done, or the client left). */
ae_client_stream_t *ae_client_stream_new(h2o_req_t *req, ae_client_stream_gone_cb gone, void *data);
/* Starts the response whose head is set in req->res, dated `date` (see ae_send_head_with_date);
 * `discard` frees what was sent (a body nobody else reads, appended on this thread). */
void ae_client_stream_start(ae_client_stream_t *stream, ae_body_t *body, int discard, h2o_iovec_t date);
/* Sends only the bytes [first, end) of the body (for a Range request); before starting. */
void ae_client_stream_set_window(ae_client_stream_t *stream, uint64_t first, uint64_t end);
/* The body may have grown. */
void ae_client_stream_poke(ae_client_stream_t *stream);
/* No more body will come: finish the response, or end it short when not complete. */
void ae_client_stream_finish(ae_client_stream_t *stream, int complete);

/* date_header.c: the first send of a response, whose head then carries `date` (the origin's Date
 * value, or empty for h2o's own clock) */
void ae_send_head_with_date(h2o_req_t *req, h2o_iovec_t date, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state);
h2o_iovec_t ae_origin_date(const h2o_headers_t *headers);

/* relay.c: pass a client request to its site's origin as it is, streaming the response back.
 * on_head (may be NULL) sees the origin's head before the client does. */
typedef void (*ae_origin_head_cb)(void *data, h2o_req_t *req, int status, const h2o_headers_t *headers);
void ae_origin_relay(h2o_req_t *req, ae_site_t *site, ae_origin_head_cb on_head, void *data);
/* The Content-Length to give the client for an origin response: none for 1xx, 204 and 304 (RFC
 * 9110 8.6); the origin's own when its body was not read (a HEAD); else the body's. */
size_t ae_origin_client_length(int status, const h2o_headers_t *headers, int body_read, size_t body_length);
/* Sets req->res from an origin response head, minus the headers a proxy does not pass on and
 * those `skip` says no to (may be NULL). */
void ae_origin_set_response_head(h2o_req_t *req, int status, const char *reason, const h2o_headers_t *headers,
                                 size_t content_length, int (*skip)(void *ctx, const h2o_header_t *header), void *skip_ctx);
/* Answers with the 502 or 504 that stands for a failure before the origin's head, keeping headers set so far. */
void ae_origin_send_error(h2o_req_t *req, ae_fetch_result_t result);
/* Logs an exchange that did not complete. */
void ae_origin_log_failure(ae_site_t *site, const char *what, ae_fetch_t *fetch, ae_fetch_result_t result);

#endif
