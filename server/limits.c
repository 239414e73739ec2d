/*
 * Limits (see limits.h). Config and on_init (which hands the body size, timeouts and HTTP/2 streams
 * to h2o's own settings) on the main thread; the connection count and the per-address table are
 * shared by the worker threads under one mutex, taken once when a connection opens and once when
 * it closes; a connection's note (its thread, its client's count, its abandoned requests) is its
 * own thread's; request checks on the request's worker thread.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "server/config.h"
#include "server/limits.h"
#include "server/log.h"

#define ADDR_BUCKETS 4096

typedef struct connection_note {
    ae_thread_t *thread;
    struct addr_count *client;    /* NULL when per-client counting is off */
    uint64_t abandoned, answered; /* requests the client left before their response began, and the others */
} connection_note_t;

typedef struct addr_count {
    struct addr_count *next;
    uint8_t addr[16];
    size_t len;
    uint64_t count;
} addr_count_t;

typedef struct limits_conf {
    uint64_t connections, per_client, header_count, header_bytes, url_length, body_bytes, header_timeout_ms, idle_timeout_ms,
        http2_streams, abandoned_requests;
} limits_conf_t;

#define DEFAULT_LIMITS                                                                                                             \
    {                                                                                                                              \
        .connections = 100000, .per_client = 1024, .header_count = 100, .header_bytes = 32 * 1024, .url_length = 8192,             \
        .body_bytes = 16 * 1024 * 1024, .header_timeout_ms = 10000, .idle_timeout_ms = 30000, .http2_streams = 100,                \
        .abandoned_requests = 100                                                                                                  \
    }

static limits_conf_t limits = DEFAULT_LIMITS;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t open_connections;           /* under lock */
static addr_count_t *clients[ADDR_BUCKETS]; /* under lock */
enum { WARN_CONNECTIONS, WARN_PER_CLIENT, WARN_HEAD, WARN_URL, WARN_BODY, WARN_BODY_FRAMING, WARN_ABANDONED, WARN_KINDS };
static time_t warned_at[WARN_KINDS]; /* per kind of refusal, for ae_log_warn_each_second */

/* The address bytes of the connection's peer (IPv4-mapped IPv6 as IPv4); 0 if unknown. */
static size_t peer_bytes(h2o_socket_t *sock, uint8_t *out)
{
    struct sockaddr_storage ss;
    socklen_t len = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    if (len == 0)
        return 0;
    if (ss.ss_family == AF_INET) {
        memcpy(out, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        return 4;
    }
    if (ss.ss_family == AF_INET6) {
        const uint8_t *a = (const uint8_t *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
            memcpy(out, a + 12, 4);
            return 4;
        }
        memcpy(out, a, 16);
        return 16;
    }
    return 0;
}

static size_t bucket_of(const uint8_t *addr, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i != len; ++i)
        h = (h ^ addr[i]) * 0x100000001b3ull;
    return h % ADDR_BUCKETS;
}

/* h2o calls this when it closes a connection's socket, on the socket's thread. */
static void on_connection_closed(void *_note)
{
    connection_note_t *note = _note;
    ae_counter_add(&note->thread->connections_closed, 1);
    pthread_mutex_lock(&lock);
    --open_connections;
    if (note->client != NULL && --note->client->count == 0) {
        addr_count_t **slot = &clients[bucket_of(note->client->addr, note->client->len)];
        while (*slot != note->client)
            slot = &(*slot)->next;
        *slot = note->client->next;
        free(note->client);
    }
    pthread_mutex_unlock(&lock);
    free(note);
}

int ae_limits_admit(ae_thread_t *t, h2o_socket_t *sock)
{
    uint8_t addr[16];
    size_t len = peer_bytes(sock, addr);
    addr_count_t *client = NULL;

    pthread_mutex_lock(&lock);
    if (open_connections >= limits.connections) {
        pthread_mutex_unlock(&lock);
        ae_log_warn_each_second(&warned_at[WARN_CONNECTIONS], "limits.connections (%llu) reached: new connections are closed",
                                (unsigned long long)limits.connections);
        return -1;
    }
    if (len != 0) {
        addr_count_t **slot = &clients[bucket_of(addr, len)];
        for (client = *slot; client != NULL; client = client->next)
            if (client->len == len && memcmp(client->addr, addr, len) == 0)
                break;
        if (client != NULL && client->count >= limits.per_client) {
            pthread_mutex_unlock(&lock);
            ae_log_warn_each_second(&warned_at[WARN_PER_CLIENT],
                                    "limits.connections-per-client (%llu) reached by a client: its new connections are closed",
                                    (unsigned long long)limits.per_client);
            return -1;
        }
        if (client == NULL) {
            client = calloc(1, sizeof(*client));
            memcpy(client->addr, addr, len);
            client->len = len;
            client->next = *slot;
            *slot = client;
        }
        ++client->count;
    }
    ++open_connections;
    pthread_mutex_unlock(&lock);

    connection_note_t *note = malloc(sizeof(*note));
    *note = (connection_note_t){.thread = t, .client = client};
    sock->on_close.cb = on_connection_closed;
    sock->on_close.data = note;
    return 0;
}

void ae_limits_request_done(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock == NULL || sock->on_close.cb != on_connection_closed)
        return;
    connection_note_t *note = sock->on_close.data;
    if (req->res.status != 0) {
        ++note->answered;
        return;
    }
    if (++note->abandoned <= limits.abandoned_requests || note->abandoned <= note->answered)
        return;
    ae_log_warn_each_second(&warned_at[WARN_ABANDONED],
                            "a client abandoned %llu requests on one connection before their responses began "
                            "(over limits.abandoned-requests, and more than it let finish): connection closed",
                            (unsigned long long)note->abandoned);
    shutdown(h2o_socket_get_fd(sock), SHUT_RDWR); /* h2o sees the end of the stream and closes the connection */
}

int ae_limits_check_request(h2o_req_t *req)
{
    size_t bytes = 0;
    for (size_t i = 0; i != req->headers.size; ++i)
        bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    if (req->headers.size > limits.header_count || bytes > limits.header_bytes) {
        ae_log_warn_each_second(&warned_at[WARN_HEAD],
                                "a request head over limits.header-count or limits.header-size (%llu headers) refused: 431",
                                (unsigned long long)req->headers.size);
        h2o_send_error_generic(req, 431, "Request Header Fields Too Large", "anyedge: too many or too large request headers\n", 0);
        return -1;
    }
    if (req->path.len > limits.url_length) {
        ae_log_warn_each_second(&warned_at[WARN_URL], "a request target of %llu bytes (over limits.url-length) refused: 414",
                                (unsigned long long)req->path.len);
        h2o_send_error_generic(req, 414, "URI Too Long", "anyedge: the request target is too long\n", 0);
        return -1;
    }
    return 0;
}

/* ---- config ---- */

static int set_count(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    static const struct {
        const char *key;
        uint64_t *slot;
    } keys[] = {{"limits.connections", &limits.connections},     {"limits.connections-per-client", &limits.per_client},
                {"limits.header-count", &limits.header_count},   {"limits.url-length", &limits.url_length},
                {"limits.http2-streams", &limits.http2_streams}, {"limits.abandoned-requests", &limits.abandoned_requests}};
    for (size_t i = 0; i != sizeof(keys) / sizeof(keys[0]); ++i)
        if (strcmp(cf->key, keys[i].key) == 0)
            return ae_config_uint(cf, value, 1, UINT32_MAX, keys[i].slot);
    return ae_config_error(cf, value, "'%s': not a count", cf->key);
}

static int set_size(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    uint64_t *slot = strcmp(cf->key, "limits.header-size") == 0 ? &limits.header_bytes : &limits.body_bytes;
    if (ae_config_size(cf, value, slot) != 0)
        return -1;
    if (*slot == 0)
        return ae_config_error(cf, value, "'%s': must be more than 0", cf->key);
    return 0;
}

static int set_timeout(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    uint64_t *slot = strcmp(cf->key, "limits.header-timeout") == 0 ? &limits.header_timeout_ms : &limits.idle_timeout_ms;
    if (ae_config_duration_ms(cf, value, slot) != 0)
        return -1;
    if (*slot == 0)
        return ae_config_error(cf, value, "'%s': must be more than 0", cf->key);
    return 0;
}

/* h2o answers a few HTTP/1 requests itself, before any handler: a body over limits.request-body
 * (413), a body whose framing it cannot read (400: a bad Content-Length, a coding other than
 * chunked, broken chunks), an Expect it does not know (417). Such a request is bound to the
 * fallback path of the sites' host, where this logger sees it. The request's worker thread. */
static void on_answered_by_h2o(h2o_logger_t *self, h2o_req_t *req)
{
    if (req->res.status == 413)
        ae_log_warn_each_second(&warned_at[WARN_BODY], "a request body over limits.request-body (%llu bytes) refused: 413",
                                (unsigned long long)limits.body_bytes);
    else if (req->res.status >= 400)
        ae_log_warn_each_second(&warned_at[WARN_BODY_FRAMING], "a request whose body framing or Expect cannot be read refused: %d",
                                req->res.status);
}

/* h2o keeps the body size, the timeouts and the HTTP/2 streams itself. */
static int on_init(ae_server_t *srv)
{
    h2o_create_logger(&srv->site_hosts[0]->fallback_path, sizeof(h2o_logger_t))->log_access = on_answered_by_h2o;
    srv->h2o.max_request_entity_size = limits.body_bytes;
    srv->h2o.http1.req_timeout = limits.header_timeout_ms;
    srv->h2o.http2.idle_timeout = limits.idle_timeout_ms;
    srv->h2o.http2.max_concurrent_requests_per_connection = limits.http2_streams;
    return 0;
}

static void on_dispose(ae_server_t *srv)
{
    limits = (limits_conf_t)DEFAULT_LIMITS;
}

static const ae_directive_t directives[] = {
    {"limits.connections", AE_SCOPE_GLOBAL, set_count},
    {"limits.connections-per-client", AE_SCOPE_GLOBAL, set_count},
    {"limits.header-count", AE_SCOPE_GLOBAL, set_count},
    {"limits.header-size", AE_SCOPE_GLOBAL, set_size},
    {"limits.url-length", AE_SCOPE_GLOBAL, set_count},
    {"limits.request-body", AE_SCOPE_GLOBAL, set_size},
    {"limits.header-timeout", AE_SCOPE_GLOBAL, set_timeout},
    {"limits.idle-timeout", AE_SCOPE_GLOBAL, set_timeout},
    {"limits.http2-streams", AE_SCOPE_GLOBAL, set_count},
    {"limits.abandoned-requests", AE_SCOPE_GLOBAL, set_count},
    {NULL},
};

ae_module_t ae_limits_module = {
    .name = "limits",
    .directives = directives,
    .on_init = on_init,
    .on_dispose = on_dispose,
};
