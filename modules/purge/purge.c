/*
 * Purges (see purge.h): POST /purge on the admin listener, and the PURGE method on the sites that
 * set `purge: true`, both behind the admin checks (admin.allow and admin.token). Parameters:
 *   url=URL      what the store holds for that URL, all its variants
 *   prefix=URL   every object whose URL starts so (a walk over the store)
 *   tag=TAG      every object the origin tagged so (Surrogate-Key, Cache-Tag; through the tag index)
 *   soft=1       make them stale instead of removing them (revalidation and stale-if-error keep working)
 *   id=ID        applied once: the same id again is answered without purging again (peers use it)
 *   wait=1       answer once every peer has the purge too (or after purge.wait-timeout)
 *   forwarded=1  from a peer: not forwarded further
 * The answer is JSON: {"id", "what", "target", "soft", "purged", "duplicate", "peers": [...]}.
 *
 * Threads: the request is read on its worker thread and handed to the purge thread, which has the
 * cache writer commit the purge (and waits for that), forwards it to the peers (fleet.c) and hands
 * the answer back to the worker thread with an h2o multithread message. `anyedge purge` (main
 * thread of the command) asks a running daemon's admin listener.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "modules/admin/admin.h"
#include "modules/cache/cache.h"
#include "modules/cache/writer.h"
#include "modules/purge/purge.h"
#include "server/config.h"
#include "server/log.h"
#include "server/probe.h"
#include "server/clock.h"

#define MAX_TARGET 2048
#define REMEMBERED_IDS 1024

ae_purge_conf_t ae_purge_conf;

typedef struct purge_receiver {
    h2o_multithread_receiver_t super;
} purge_receiver_t;

typedef struct purge_op {
    int refcnt; /* atomic: the purge thread's (passed on to the message), and the request's */
    struct purge_op *next;
    ae_purge_order_t order;
    int wait, forwarded;
    int store_what;        /* AE_PURGE_KEY, AE_PURGE_PREFIX or AE_PURGE_TAG */
    h2o_iovec_t store_arg; /* the key, key prefix or tag (malloc'ed) */
    /* the request: its worker thread only */
    h2o_req_t *req;
    purge_receiver_t *receiver;
    h2o_multithread_message_t message;
    /* set by the purge thread before the message */
    int status;
    char *json;
    /* the writer's part */
    size_t count;
    int rc, committed;
} purge_op_t;

static const char *what_names[] = {[AE_PURGE_URL] = "url", [AE_PURGE_BY_PREFIX] = "prefix", [AE_PURGE_BY_TAG] = "tag"};

static struct {
    ae_server_t *srv;
    pthread_t tid;
    int running;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    purge_op_t *queue, **queue_tail; /* under lock */
    int stopping;                    /* under lock */
    /* the purge thread's */
    struct {
        char id[33];
        size_t count;
    } seen[REMEMBERED_IDS];
    size_t seen_next;
} purge = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void op_release(purge_op_t *op)
{
    if (__atomic_sub_fetch(&op->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    free(op->order.target);
    free(op->store_arg.base);
    free(op->json);
    free(op);
}

/* ---- the order as a query string, and back ---- */

static void append_escaped(char **out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = *out;
    for (; *s != '\0'; ++s) {
        unsigned char c = *s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~/:", c) != NULL) {
            *p++ = c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *out = p;
}

char *ae_purge_order_query(const ae_purge_order_t *order, int forwarded)
{
    char *query = malloc(strlen(order->target) * 3 + 128), *p = query;
    p += sprintf(p, "%s=", what_names[order->what]);
    append_escaped(&p, order->target);
    p += sprintf(p, "&id=%s%s%s", order->id, order->soft ? "&soft=1" : "", forwarded ? "&forwarded=1" : "");
    return query;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of a query parameter, percent-decoded into out; 1 if the parameter is there. */
static int query_param(h2o_iovec_t query, const char *name, char *out, size_t out_size)
{
    size_t name_len = strlen(name);
    const char *p = query.base, *end = query.base + query.len;
    while (p < end) {
        const char *amp = memchr(p, '&', end - p), *stop = amp != NULL ? amp : end;
        if ((size_t)(stop - p) >= name_len && memcmp(p, name, name_len) == 0 && (p + name_len == stop || p[name_len] == '=')) {
            size_t n = 0;
            for (const char *v = p + name_len + (p + name_len < stop); v < stop && n + 1 < out_size; ++v) {
                int hi, lo;
                if (*v == '%' && v + 2 < stop && (hi = hex_digit(v[1])) != -1 && (lo = hex_digit(v[2])) != -1) {
                    out[n++] = (char)(hi << 4 | lo);
                    v += 2;
                } else {
                    out[n++] = *v == '+' ? ' ' : *v;
                }
            }
            out[n] = '\0';
            return 1;
        }
        p = stop + 1;
    }
    return 0;
}

/* ---- on the worker thread ---- */

static void send_json_error(h2o_req_t *req, int status, const char *message)
{
    char json[512];
    int len = snprintf(json, sizeof(json), "{\"error\":\"%s\"}\n", message);
    ae_admin_send_json(req, status, json, (size_t)len);
}

/* Works out what the store should purge for the order; 0, or -1 with the error answered. */
static int resolve_target(h2o_req_t *req, purge_op_t *op)
{
    ae_purge_order_t *order = &op->order;
    if (order->what == AE_PURGE_BY_TAG) {
        op->store_what = AE_PURGE_TAG;
        op->store_arg = h2o_strdup(NULL, order->target, SIZE_MAX);
        return 0;
    }
    h2o_url_t url;
    if (h2o_url_parse(order->target, SIZE_MAX, &url) != 0 || url.host.len == 0) {
        send_json_error(req, 400, "expected an absolute URL, e.g. http://www.example.com/path");
        return -1;
    }
    char host[256];
    size_t host_len = url.host.len < sizeof(host) - 1 ? url.host.len : sizeof(host) - 1;
    memcpy(host, url.host.base, host_len);
    h2o_strtolower(host, host_len);
    ae_site_t *site = ae_server_find_site(purge.srv, host, host_len);
    if (site == NULL) {
        send_json_error(req, 404, "no site has this host");
        return -1;
    }
    if (order->what == AE_PURGE_BY_PREFIX) {
        op->store_what = AE_PURGE_PREFIX;
        op->store_arg = h2o_concat(NULL, h2o_iovec_init(site->host, strlen(site->host)), url.path);
        return 0;
    }
    const ae_cache_site_conf_t *conf = ae_cache_site_conf(site);
    h2o_headers_t no_headers = {NULL};
    h2o_iovec_t key = ae_cache_key(&req->pool, &conf->key, site->host, url.path, &no_headers);
    if (conf->key.headers.size != 0 || conf->key.cookies.size != 0) {
        /* the key goes on with the request headers and cookies the site adds: every one of them */
        op->store_what = AE_PURGE_PREFIX;
        op->store_arg = h2o_concat(NULL, key, h2o_iovec_init(H2O_STRLIT("\t")));
    } else {
        op->store_what = AE_PURGE_KEY;
        op->store_arg = h2o_strdup(NULL, key.base, key.len);
    }
    return 0;
}

static void on_request_disposed(void *_slot)
{
    purge_op_t *op = *(purge_op_t **)_slot;
    op->req = NULL;
    op_release(op);
}

static void start(h2o_req_t *req, purge_op_t *op)
{
    if (resolve_target(req, op) != 0) {
        op_release(op);
        return;
    }
    op->req = req;
    op->receiver = ae_thread_of(req->conn->ctx)->module_data[ae_purge_module.index];
    op->refcnt = 2;
    *(purge_op_t **)h2o_mem_alloc_shared(&req->pool, sizeof(op), on_request_disposed) = op;

    pthread_mutex_lock(&purge.lock);
    int accepted = !purge.stopping;
    if (accepted) {
        *purge.queue_tail = op;
        purge.queue_tail = &op->next;
        pthread_cond_signal(&purge.cond);
    }
    pthread_mutex_unlock(&purge.lock);
    if (!accepted) {
        send_json_error(req, 503, "stopping");
        op_release(op);
    }
}

static purge_op_t *new_op(void)
{
    purge_op_t *op = calloc(1, sizeof(*op));
    op->refcnt = 1;
    return op;
}

static void random_id(char *id)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[16];
    FILE *fp = fopen("/dev/urandom", "rb");
    if (fp == NULL || fread(bytes, 1, sizeof(bytes), fp) != sizeof(bytes)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i != sizeof(bytes); ++i)
            bytes[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^ (uintptr_t)&ts >> i);
    }
    if (fp != NULL)
        fclose(fp);
    for (size_t i = 0; i != sizeof(bytes); ++i) {
        id[2 * i] = hex[bytes[i] >> 4];
        id[2 * i + 1] = hex[bytes[i] & 15];
    }
    id[32] = '\0';
}

/* POST /purge on the admin listener (already authorized). */
static void on_admin_purge(h2o_req_t *req, void *unused)
{
    h2o_iovec_t query = req->query_at != SIZE_MAX
                            ? h2o_iovec_init(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1)
                            : h2o_iovec_init(NULL, 0);
    char target[MAX_TARGET], flag[8], id[64];
    purge_op_t *op;

    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
        h2o_send_error_generic(req, 405, "Method Not Allowed", "anyedge admin: use POST\n", H2O_SEND_ERROR_KEEP_HEADERS);
        return;
    }
    op = new_op();
    int given = 0;
    for (int w = AE_PURGE_URL; w <= AE_PURGE_BY_TAG; ++w) {
        if (query_param(query, what_names[w], target, sizeof(target)) && target[0] != '\0') {
            op->order.what = w;
            op->order.target = strdup(target);
            ++given;
        }
    }
    if (given != 1) {
        send_json_error(req, 400, "give exactly one of url=, prefix= or tag=");
        op_release(op);
        return;
    }
    op->order.soft = query_param(query, "soft", flag, sizeof(flag)) && strcmp(flag, "0") != 0;
    op->wait = query_param(query, "wait", flag, sizeof(flag)) && strcmp(flag, "0") != 0;
    op->forwarded = query_param(query, "forwarded", flag, sizeof(flag)) && strcmp(flag, "0") != 0;
    if (query_param(query, "id", id, sizeof(id)) && id[0] != '\0') {
        size_t id_len = strlen(id);
        if (id_len >= sizeof(op->order.id) ||
            strspn(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_") != id_len) {
            send_json_error(req, 400, "id: at most 32 characters of [0-9a-zA-Z_-]");
            op_release(op);
            return;
        }
        memcpy(op->order.id, id, id_len + 1);
    } else {
        random_id(op->order.id);
    }
    start(req, op);
}

/* PURGE on a site with `purge: true`: the request's URL. */
static int on_site_request(h2o_handler_t *self, h2o_req_t *req)
{
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PURGE")))
        return -1;
    if (ae_admin_authorize(req, 1) != 0)
        return 0;
    purge_op_t *op = new_op();
    op->order.what = AE_PURGE_URL;
    if (asprintf(&op->order.target, "http://%.*s%.*s", (int)req->authority.len, req->authority.base, (int)req->path.len,
                 req->path.base) < 0) {
        free(op);
        h2o_send_error_503(req, "Service Unavailable", "anyedge: out of memory\n", 0);
        return 0;
    }
    random_id(op->order.id);
    start(req, op);
    return 0;
}

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        purge_op_t *op = H2O_STRUCT_FROM_MEMBER(purge_op_t, message.link, messages->next);
        h2o_linklist_unlink(&op->message.link);
        if (op->req != NULL)
            ae_admin_send_json(op->req, op->status, op->json, strlen(op->json));
        op_release(op);
    }
}

/* ---- the purge thread ---- */

static void on_committed(void *_op)
{
    purge_op_t *op = _op;
    pthread_mutex_lock(&purge.lock);
    op->committed = 1;
    pthread_cond_broadcast(&purge.cond);
    pthread_mutex_unlock(&purge.lock);
}

/* Has the writer purge in the store, and waits until it has committed. */
static void purge_here(purge_op_t *op)
{
    ae_write_job_t *job = calloc(1, sizeof(*job));
    job->kind = AE_WRITE_PURGE;
    job->owned = malloc(op->store_arg.len);
    memcpy(job->owned, op->store_arg.base, op->store_arg.len);
    job->obj.key = h2o_iovec_init(job->owned, op->store_arg.len);
    job->purge.what = op->store_what;
    job->purge.soft = op->order.soft;
    job->purge.count = &op->count;
    job->purge.rc = &op->rc;
    job->on_done = on_committed;
    job->on_done_data = op;
    op->rc = -1; /* stays so if the job is dropped */
    ae_writer_submit(job);
    pthread_mutex_lock(&purge.lock);
    while (!op->committed)
        pthread_cond_wait(&purge.cond, &purge.lock);
    pthread_mutex_unlock(&purge.lock);
}

static ssize_t find_seen(const char *id)
{
    for (size_t i = 0; i != REMEMBERED_IDS; ++i)
        if (purge.seen[i].id[0] != '\0' && strcmp(purge.seen[i].id, id) == 0)
            return i;
    return -1;
}

static void process(purge_op_t *op)
{
    ssize_t seen = find_seen(op->order.id);
    ae_strbuf_t peers = {NULL};
    int duplicate = seen != -1;

    if (duplicate) {
        op->count = purge.seen[seen].count;
        op->status = 200;
    } else {
        purge_here(op);
        op->status = op->rc == 0 ? 200 : 500;
        if (op->rc == 0) {
            snprintf(purge.seen[purge.seen_next].id, sizeof(purge.seen[0].id), "%s", op->order.id);
            purge.seen[purge.seen_next].count = op->count;
            purge.seen_next = (purge.seen_next + 1) % REMEMBERED_IDS;
        }
        ae_log_info("purge %s: %s%s=%s: %zu objects%s%s", op->order.id, op->order.soft ? "soft " : "", what_names[op->order.what],
                    op->order.target, op->count, op->forwarded ? " (from a peer)" : "",
                    op->rc == 0 ? "" : " (FAILED: the store did not commit)");
        if (op->rc == 0 && !op->forwarded && ae_purge_conf.peers.size != 0)
            ae_fleet_forward(&op->order, op->wait ? ae_monotonic_ms() + ae_purge_conf.wait_timeout_ms : 0, &peers);
    }
    ae_strbuf_t json = {NULL};
    ae_strbuf_appendf(&json, "{\"id\":\"%s\",\"what\":\"%s\",\"target\":", op->order.id, what_names[op->order.what]);
    ae_strbuf_append_json_string(&json, op->order.target, strlen(op->order.target));
    ae_strbuf_appendf(&json, ",\"soft\":%s,\"purged\":%zu,\"duplicate\":%s,\"peers\":[%.*s]}\n", op->order.soft ? "true" : "false",
                      op->count, duplicate ? "true" : "false", (int)peers.len, peers.len != 0 ? peers.buf : "");
    ae_strbuf_append(&json, "", 1); /* the NUL: op->json is a C string */
    op->json = json.buf;
    ae_strbuf_free(&peers);
    h2o_multithread_send_message(&op->receiver->super, &op->message);
}

static void *purge_main(void *unused)
{
    pthread_setname_np(pthread_self(), "anyedge-purge");
    pthread_mutex_lock(&purge.lock);
    while (!purge.stopping) {
        uint64_t next_retry = ae_fleet_retry_due(ae_monotonic_ms());
        if (purge.queue == NULL) {
            uint64_t wait_ms = next_retry == UINT64_MAX         ? 1000
                               : next_retry > ae_monotonic_ms() ? next_retry - ae_monotonic_ms()
                                                                : 0;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += wait_ms / 1000;
            until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                ++until.tv_sec;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&purge.cond, &purge.lock, &until);
            continue;
        }
        purge_op_t *op = purge.queue;
        if ((purge.queue = op->next) == NULL)
            purge.queue_tail = &purge.queue;
        pthread_mutex_unlock(&purge.lock);
        process(op);
        pthread_mutex_lock(&purge.lock);
    }
    pthread_mutex_unlock(&purge.lock);
    return NULL;
}

/* ---- `anyedge purge` ---- */

static int run_purge_command(ae_server_t *srv, int argc, char **argv)
{
    const ae_listen_addr_t *admin = ae_admin_addr(srv);
    ae_purge_order_t order = {.what = AE_PURGE_URL};
    int wait = 0;

    for (int i = 0; i < argc; ++i) {
        if (strcmp(argv[i], "--soft") == 0) {
            order.soft = 1;
        } else if (strcmp(argv[i], "--wait") == 0) {
            wait = 1;
        } else if ((strcmp(argv[i], "--prefix") == 0 || strcmp(argv[i], "--tag") == 0) && i + 1 < argc && order.target == NULL) {
            order.what = argv[i][2] == 'p' ? AE_PURGE_BY_PREFIX : AE_PURGE_BY_TAG;
            order.target = argv[++i];
        } else if (argv[i][0] != '-' && order.target == NULL) {
            order.target = argv[i];
        } else {
            order.target = NULL;
            break;
        }
    }
    if (order.target == NULL) {
        fprintf(stderr, "usage: anyedge purge [--soft] [--wait] URL | --prefix URL | --tag TAG -c FILE\n");
        return 2;
    }
    if (admin == NULL || ae_admin_token() == NULL) {
        fprintf(stderr, "anyedge purge: %s needs admin.listen and admin.token\n", srv->config_path);
        return 1;
    }
    random_id(order.id);
    char *query = ae_purge_order_query(&order, 0), path[4096], auth[512], body[16384], err[256];
    snprintf(path, sizeof(path), "/purge?%s%s", query, wait ? "&wait=1" : "");
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", ae_admin_token());
    free(query);
    struct sockaddr_storage addr;
    ae_probe_listener_addr(&admin->addr, admin->addrlen, &addr);
    int status = ae_probe_request((struct sockaddr *)&addr, admin->addrlen, "POST", "anyedge-admin", path, auth,
                                  ae_purge_conf.wait_timeout_ms + 10000, body, sizeof(body), err, sizeof(err));
    if (status < 0) {
        fprintf(stderr, "anyedge purge: %s: %s\n", admin->text, err);
        return 1;
    }
    fputs(body, status == 200 ? stdout : stderr);
    return status == 200 ? 0 : 1;
}

static const ae_command_t commands[] = {
    {"purge", "purge [--soft] [--wait] URL|--prefix URL|--tag TAG   purge on this node and its peers", run_purge_command},
    {NULL},
};

/* ---- module hooks and config ---- */

static int on_init(ae_server_t *srv)
{
    purge.srv = srv;
    purge.queue_tail = &purge.queue;
    if (ae_admin_enabled())
        ae_admin_add_path("/purge", 1, on_admin_purge, NULL);
    for (size_t i = 0; i != srv->sites.size; ++i) {
        ae_site_t *site = srv->sites.entries[i];
        if (site->conf[ae_purge_module.index] != NULL)
            ae_site_add_handler(site, sizeof(h2o_handler_t))->on_req = on_site_request;
    }
    if (pthread_create(&purge.tid, NULL, purge_main, NULL) != 0) {
        ae_log_error("cannot start the purge thread");
        return -1;
    }
    purge.running = 1;
    return 0;
}

static void on_thread_init(ae_server_t *srv, ae_thread_t *thread)
{
    purge_receiver_t *receiver = calloc(1, sizeof(*receiver));
    h2o_multithread_register_receiver(thread->ctx.queue, &receiver->super, on_messages);
    thread->module_data[ae_purge_module.index] = receiver;
}

static void on_thread_dispose(ae_server_t *srv, ae_thread_t *thread)
{
    purge_receiver_t *receiver = thread->module_data[ae_purge_module.index];
    h2o_multithread_unregister_receiver(thread->ctx.queue, &receiver->super);
    free(receiver);
}

/* Before the workers stop: no more purges; those still queued are answered 503. */
static void on_stop(ae_server_t *srv)
{
    if (!purge.running)
        return;
    pthread_mutex_lock(&purge.lock);
    purge.stopping = 1;
    pthread_cond_broadcast(&purge.cond);
    pthread_mutex_unlock(&purge.lock);
    pthread_join(purge.tid, NULL);
    purge.running = 0;
    for (purge_op_t *op = purge.queue, *next; op != NULL; op = next) {
        next = op->next;
        op->status = 503;
        op->json = strdup("{\"error\":\"stopping\"}\n");
        h2o_multithread_send_message(&op->receiver->super, &op->message);
    }
    purge.queue = NULL;
    ae_fleet_dispose();
}

static int set_site_purge(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    int on;
    if (ae_config_bool(cf, value, &on) != 0)
        return -1;
    site->conf[ae_purge_module.index] = on ? (void *)1 : NULL;
    return 0;
}

static int set_peers(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (ae_config_expect(cf, value, YAML_SEQUENCE_NODE) != 0)
        return -1;
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        const char *s = ae_config_scalar(cf, item);
        h2o_url_t url;
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
        char host[256], port[8];
        if (s == NULL)
            return -1;
        if (h2o_url_parse(s, SIZE_MAX, &url) != 0 || url.scheme != &H2O_URL_SCHEME_HTTP || url.host.len == 0 ||
            url.host.len >= sizeof(host) || !(url.path.len == 0 || h2o_memis(url.path.base, url.path.len, H2O_STRLIT("/"))))
            return ae_config_error(cf, item, "'purge.peers': bad peer '%s' (expected http://HOST:PORT of its admin listener)", s);
        h2o_iovec_t h = url.host;
        if (h.base[0] == '[') {
            ++h.base;
            h.len -= 2;
        }
        memcpy(host, h.base, h.len);
        host[h.len] = '\0';
        snprintf(port, sizeof(port), "%u", (unsigned)h2o_url_get_port(&url));
        if (getaddrinfo(host, port, &hints, &res) != 0)
            return ae_config_error(cf, item, "'purge.peers': cannot resolve '%s'", host);
        h2o_vector_reserve(NULL, &ae_purge_conf.peers, ae_purge_conf.peers.size + 1);
        ae_purge_peer_t *peer = &ae_purge_conf.peers.entries[ae_purge_conf.peers.size++];
        peer->url = strdup(s);
        memcpy(&peer->addr, res->ai_addr, res->ai_addrlen);
        peer->addrlen = res->ai_addrlen;
        freeaddrinfo(res);
    }
    return 0;
}

static int set_duration(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_duration_ms(
        cf, value, strcmp(cf->key, "purge.retry-for") == 0 ? &ae_purge_conf.retry_for_ms : &ae_purge_conf.wait_timeout_ms);
}

static int on_config_done(ae_config_t *cf, ae_server_t *srv)
{
    if (ae_purge_conf.retry_for_ms == 0)
        ae_purge_conf.retry_for_ms = 10 * 60 * 1000;
    if (ae_purge_conf.wait_timeout_ms == 0)
        ae_purge_conf.wait_timeout_ms = 10 * 1000;
    if (ae_purge_conf.peers.size != 0 && (ae_admin_token() == NULL || !ae_admin_enabled()))
        return ae_config_error_at(cf, 1, "'purge.peers' needs 'admin.listen' and 'admin.token' (the peers share the token)");
    return 0;
}

static void on_dispose(ae_server_t *srv)
{
    for (size_t i = 0; i != ae_purge_conf.peers.size; ++i)
        free(ae_purge_conf.peers.entries[i].url);
    free(ae_purge_conf.peers.entries);
    memset(&ae_purge_conf, 0, sizeof(ae_purge_conf));
}

static const ae_directive_t directives[] = {
    {"purge", AE_SCOPE_SITE, set_site_purge},
    {"purge.peers", AE_SCOPE_GLOBAL, set_peers},
    {"purge.retry-for", AE_SCOPE_GLOBAL, set_duration},
    {"purge.wait-timeout", AE_SCOPE_GLOBAL, set_duration},
    {NULL},
};

ae_module_t ae_purge_module = {
    .name = "purge",
    .directives = directives,
    .on_config_done = on_config_done,
    .on_init = on_init,
    .on_thread_init = on_thread_init,
    .on_thread_dispose = on_thread_dispose,
    .on_stop = on_stop,
    .on_dispose = on_dispose,
    .commands = commands,
};
