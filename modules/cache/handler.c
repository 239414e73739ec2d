/*
 * The cache's request handler, one per site: decides what the request may do with the stored
 * response (RFC 9111 via policy.c) and answers a usable one straight from the LMDB map (headers and
 * body point into the map; the read transaction is held only while h2o sends one chunk), as a
 * 200, a 304 to a matching conditional request, or a 206/416 to a Range request. Anything else goes
 * to the origin through the key's fill (fill.c). Requests that may not use the cache are marked
 * PASS and left to the next handler.
 *
 * Every response says what the cache did: X-Cache (HIT, MISS, PASS, ...) and Cache-Status
 * (RFC 9211), plus Age on responses from the store.
 *
 * Worker threads only.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "modules/cache/cache.h"
#include "modules/cache/fill.h"
#include "modules/cache/tags.h"
#include "modules/cache/record.h"
#include "modules/cache/writer.h"
#include "modules/origin/origin.h"

/* A hit is noted for eviction only when the object's recorded use is older than this: enough to
 * tell the used from the unused, and a writer's work of at most one note per object and minute. */
#define ACCESS_RESOLUTION_S 60

typedef struct {
    h2o_handler_t super;
    ae_site_t *site;
} cache_handler_t;

/* Sets X-Cache and Cache-Status; status must live as long as the request. */
static void set_status_headers(h2o_req_t *req, const char *x_cache, h2o_iovec_t status)
{
    h2o_set_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-cache"), 0, x_cache, strlen(x_cache), 1);
    h2o_set_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("cache-status"), 0, status.base, status.len, 1);
}

void ae_cache_set_status(h2o_req_t *req, const char *x_cache, const char *fmt, ...)
{
    char buf[256];
    va_list args;
    va_start(args, fmt);
    int len = vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    set_status_headers(req, x_cache, h2o_strdup(&req->pool, buf, len < (int)sizeof(buf) ? (size_t)len : sizeof(buf) - 1));
}

/* ---- serving from the store ---- */

typedef struct {
    h2o_generator_t super;
    h2o_req_t *req;
    ae_store_reader_t *reader;
    MDB_txn *txn;
    uint64_t body_id;
    uint64_t next, end; /* the byte range still to send: [next, end) */
    h2o_iovec_t date;   /* the stored Date, for the first send (points into the map) */
} hit_t;

static void on_hit_disposed(void *_hit)
{
    hit_t *hit = _hit;
    if (hit->txn != NULL)
        ae_store_read_end(hit->reader, hit->txn);
}

/* Sends the part of the range that lies in the chunk holding hit->next. */
static void send_from_chunk(hit_t *hit, h2o_iovec_t chunk)
{
    uint64_t chunk_start = hit->next / AE_BODY_CHUNK_SIZE * AE_BODY_CHUNK_SIZE;
    uint64_t chunk_end = chunk_start + chunk.len < hit->end ? chunk_start + chunk.len : hit->end;
    h2o_iovec_t slice = h2o_iovec_init(chunk.base + (hit->next - chunk_start), chunk_end - hit->next);
    hit->next = chunk_end;
    h2o_iovec_t date = hit->date;
    hit->date = h2o_iovec_init(NULL, 0);
    ae_send_head_with_date(hit->req, date, &slice, 1, hit->next == hit->end ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static int get_chunk(hit_t *hit, h2o_iovec_t *chunk)
{
    return ae_store_get_chunk(hit->txn, hit->body_id, (uint32_t)(hit->next / AE_BODY_CHUNK_SIZE), chunk);
}

/* h2o sent the previous chunk: take a fresh snapshot for the next one, so no reader waits on a client. */
static void on_hit_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    hit_t *hit = (hit_t *)generator;
    h2o_iovec_t chunk;

    ae_store_read_end(hit->reader, hit->txn);
    if ((hit->txn = ae_store_read_begin(hit->reader)) == NULL || get_chunk(hit, &chunk) != 0 || chunk.len == 0) {
        /* the object was replaced or evicted mid-response: end it short rather than mix bodies */
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    send_from_chunk(hit, chunk);
}

/* The value of a stored header, or an empty iovec. */
static h2o_iovec_t stored_header(h2o_iovec_t block, const char *name, size_t name_len)
{
    h2o_iovec_t n, v;
    while (ae_record_next_header(&block, &n, &v) == 0)
        if (h2o_memis(n.base, n.len, name, name_len))
            return v;
    return h2o_iovec_init(NULL, 0);
}

/* The stored headers but Date, which goes with the first send (see ae_send_head_with_date), and the
 * tags, which are the cache's. */
static void add_stored_headers(h2o_req_t *req, h2o_iovec_t block)
{
    h2o_iovec_t name, value;
    while (ae_record_next_header(&block, &name, &value) == 0)
        if (!h2o_memis(name.base, name.len, H2O_STRLIT("date")) && !ae_tags_is_tag_header(name))
            h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL, value.base, value.len);
}

/* Writes v in decimal at p; returns the end. (A hit's headers are built without printf: it was
 * about 3% of a 1 KiB hit's CPU.) */
static char *put_decimal(char *p, int64_t v)
{
    char digits[20];
    size_t n = 0;
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    if (v < 0)
        *p++ = '-';
    do
        digits[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    while (n != 0)
        *p++ = digits[--n];
    return p;
}

static void append_str(char **p, const char *s)
{
    size_t len = strlen(s);
    memcpy(*p, s, len);
    *p += len;
}

static void add_header_printf(h2o_req_t *req, const h2o_token_t *token, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_header_printf(h2o_req_t *req, const h2o_token_t *token, const char *fmt, ...)
{
    char buf[128];
    va_list args;
    va_start(args, fmt);
    int len = vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    h2o_iovec_t value = h2o_strdup(&req->pool, buf, (size_t)len);
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value.base, value.len);
}

/* The status to answer with and the byte range [*first, *end) to send, from conditionals and Range. */
static int choose_answer(h2o_req_t *req, const ae_record_t *rec, uint64_t *first, uint64_t *end)
{
    int is_get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    h2o_iovec_t etag = stored_header(rec->headers, H2O_STRLIT("etag")),
                last_modified = stored_header(rec->headers, H2O_STRLIT("last-modified"));
    ssize_t range = h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1), if_range;
    uint64_t last;

    *first = 0;
    *end = is_get ? rec->body_size : 0;
    if (rec->status != 200)
        return rec->status;
    if (ae_cache_not_modified(&req->headers, etag, last_modified)) {
        *end = 0;
        return 304;
    }
    if (!is_get || range == -1)
        return 200;
    if ((if_range = h2o_find_header(&req->headers, H2O_TOKEN_IF_RANGE, -1)) != -1 &&
        !ae_cache_if_range_matches(req->headers.entries[if_range].value, etag, last_modified))
        return 200;
    switch (ae_cache_parse_range(req->headers.entries[range].value, rec->body_size, first, &last)) {
    case AE_RANGE_OK:
        *end = last + 1;
        return 206;
    case AE_RANGE_UNSATISFIABLE:
        *first = *end = 0;
        return 416;
    default:
        return 200;
    }
}

/* How a response from the store is labelled: X-Cache, then Cache-Status as `prefix`, the ttl when
 * `with_ttl`, and the detail (may be NULL). */
typedef struct {
    const char *x_cache, *prefix;
    int with_ttl;
    const char *detail;
} stored_label_t;

static const stored_label_t label_hit = {"HIT", "anyedge; hit", 1, NULL};
static const stored_label_t label_stale_while_revalidate = {"STALE", "anyedge; hit", 1, "stale-while-revalidate"};

/* Answers from the record; takes over the read transaction. Returns -1 (txn untouched) if the body is gone. */
static int serve_stored(h2o_req_t *req, ae_store_reader_t *reader, MDB_txn *txn, const ae_record_t *rec, int64_t now,
                        const stored_label_t *label)
{
    h2o_iovec_t chunk = {NULL, 0};
    uint64_t first, end;
    int status = choose_answer(req, rec, &first, &end);

    hit_t *hit = h2o_mem_alloc_shared(&req->pool, sizeof(*hit), on_hit_disposed);
    *hit = (hit_t){
        .super = {.proceed = on_hit_proceed}, .req = req, .reader = reader, .body_id = rec->body_id, .next = first, .end = end};
    if (rec->body_id != 0 && first != end) {
        hit->txn = txn;
        if (get_chunk(hit, &chunk) != 0) {
            hit->txn = NULL;
            return -1;
        }
    }
    hit->txn = txn;

    req->res.status = status;
    req->res.reason = status == rec->status ? h2o_strdup(&req->pool, rec->reason.base, rec->reason.len).base
                      : status == 304       ? "Not Modified"
                      : status == 206       ? "Partial Content"
                                            : "Range Not Satisfiable";
    req->res.content_length = status == 304 || status == 204 ? SIZE_MAX : status == 416 ? 0 : end - first; /* RFC 9110 8.6 */
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        req->res.content_length = rec->body_size;
    add_stored_headers(req, rec->headers);
    if (status == 206)
        add_header_printf(req, H2O_TOKEN_CONTENT_RANGE, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, end - 1, rec->body_size);
    else if (status == 416)
        add_header_printf(req, H2O_TOKEN_CONTENT_RANGE, "bytes */%" PRIu64, rec->body_size);
    int64_t age = ae_cache_current_age(&rec->freshness, now);
    char *age_text = h2o_mem_alloc_pool(&req->pool, 20);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_AGE, NULL, age_text,
                   put_decimal(age_text, age > 0 ? age : 0) - age_text);
    char *status_text =
             h2o_mem_alloc_pool(&req->pool, strlen(label->prefix) + (label->detail != NULL ? strlen(label->detail) : 0) + 48),
         *p = status_text;
    append_str(&p, label->prefix);
    if (label->with_ttl) {
        append_str(&p, "; ttl=");
        p = put_decimal(p, rec->freshness.lifetime - age);
    }
    if (label->detail != NULL) {
        append_str(&p, "; detail=");
        append_str(&p, label->detail);
    }
    set_status_headers(req, label->x_cache, h2o_iovec_init(status_text, p - status_text));

    h2o_start_response(req, &hit->super);
    hit->date = stored_header(rec->headers, H2O_STRLIT("date"));
    if (first == end)
        ae_send_head_with_date(req, hit->date, NULL, 0, H2O_SEND_STATE_FINAL);
    else if (rec->body_id == 0)
        ae_send_head_with_date(req, hit->date, &(h2o_iovec_t){rec->inline_body.base + first, end - first}, 1, H2O_SEND_STATE_FINAL);
    else
        send_from_chunk(hit, chunk);
    return 0;
}

/* ---- invalidation (RFC 9111 4.4) ---- */

static h2o_iovec_t key_of(h2o_req_t *req, ae_site_t *site, h2o_iovec_t path)
{
    return ae_cache_key(&req->pool, &ae_cache_site_conf(site)->key, site->host, path, &req->headers);
}

/* The path of a Location or Content-Location value when it points into this site, else {NULL}. */
static h2o_iovec_t same_site_path(ae_site_t *site, h2o_iovec_t value)
{
    h2o_url_t url;
    char host[256];
    if (value.len != 0 && value.base[0] == '/' && (value.len == 1 || value.base[1] != '/'))
        return value;
    if (h2o_url_parse(value.base, value.len, &url) != 0 || url.host.len >= sizeof(host))
        return h2o_iovec_init(NULL, 0);
    for (size_t i = 0; i != url.host.len; ++i)
        host[i] = (char)tolower((unsigned char)url.host.base[i]);
    return ae_site_has_host(site, host, url.host.len) ? url.path : h2o_iovec_init(NULL, 0);
}

/* A non-error response to an unsafe method: the target and the same-site URIs it names are stale now. */
static void on_unsafe_response(void *_site, h2o_req_t *req, int status, const h2o_headers_t *headers)
{
    ae_site_t *site = _site;
    static const h2o_token_t *const names[] = {H2O_TOKEN_LOCATION, H2O_TOKEN_CONTENT_LOCATION};

    if (status < 200 || status >= 400)
        return;
    ae_writer_submit_delete(key_of(req, site, req->path));
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i) {
        ssize_t at = h2o_find_header(headers, names[i], -1);
        h2o_iovec_t path = at != -1 ? same_site_path(site, headers->entries[at].value) : h2o_iovec_init(NULL, 0);
        if (path.base != NULL)
            ae_writer_submit_delete(key_of(req, site, path));
    }
}

/* ---- stale copies when the origin fails ---- */

int ae_cache_serve_stale_on_error(h2o_req_t *req, ae_site_t *site, h2o_iovec_t key, int origin_status)
{
    const ae_cache_site_conf_t *conf = ae_cache_site_conf(site);
    ae_store_reader_t *reader = &ae_cache_thread(ae_thread_of(req->conn->ctx))->reader;
    int64_t now = req->processed_at.at.tv_sec;
    ae_request_directives_t directives;
    ae_record_t rec;
    char prefix[64];

    MDB_txn *txn = ae_store_read_begin(reader);
    if (txn == NULL)
        return -1;
    ae_cache_request_directives(&conf->policy, &req->headers, &directives);
    if (ae_store_get(txn, key, &rec) == 0 && !rec.is_vary_index &&
        ae_cache_stale_on_error(&directives, &rec.freshness, conf->grace, now)) {
        if (origin_status != 0)
            snprintf(prefix, sizeof(prefix), "anyedge; fwd=stale; fwd-status=%d", origin_status);
        else
            snprintf(prefix, sizeof(prefix), "anyedge; fwd=stale");
        if (serve_stored(req, reader, txn, &rec, now, &(stored_label_t){"STALE", prefix, 0, "stale-if-error"}) == 0)
            return 0;
    }
    ae_store_read_end(reader, txn);
    return -1;
}

/* ---- variants (RFC 9111 4.1) ---- */

#define MAX_VARY_NAMES 16

/* When the URL's record is a vary index: the key of the variant this request selects. */
static h2o_iovec_t variant_key(h2o_req_t *req, h2o_iovec_t primary, const ae_record_t *index)
{
    h2o_iovec_t names[MAX_VARY_NAMES], block = index->headers, name, value;
    size_t n = 0;
    while (n != MAX_VARY_NAMES && ae_record_next_header(&block, &name, &value) == 0)
        if (h2o_memis(name.base, name.len, H2O_STRLIT("vary")))
            names[n++] = h2o_strdup(&req->pool, value.base, value.len);
    h2o_iovec_t vary_key = ae_cache_vary_key(&req->pool, &req->headers, names, n);
    return h2o_concat(&req->pool, primary, h2o_iovec_init(H2O_STRLIT("\n")), vary_key);
}

/* Looks up what the store holds for the request: the URL's record or, when the URL varies, the
 * selected variant's (*key becomes the variant's key; hash is the found record's). Returns 0 if found. */
static int lookup(h2o_req_t *req, MDB_txn *txn, h2o_iovec_t primary, h2o_iovec_t *key, ae_record_t *rec, uint8_t *hash,
                  const char **fwd)
{
    *key = primary;
    if (ae_store_get_hashed(txn, primary, rec, hash) != 0 || ae_writer_delete_pending(primary))
        return -1;
    if (!rec->is_vary_index)
        return 0;
    *key = variant_key(req, primary, rec);
    if (ae_store_get_hashed(txn, *key, rec, hash) == 0 && !rec->is_vary_index)
        return 0;
    *fwd = "vary-miss";
    return -1;
}

/* ---- the handler ---- */

static void send_only_if_cached_miss(h2o_req_t *req)
{
    ae_cache_set_status(req, "MISS", "anyedge; detail=only-if-cached");
    h2o_send_error_generic(req, 504, "Gateway Timeout", "anyedge: not in the cache (only-if-cached)\n",
                           H2O_SEND_ERROR_KEEP_HEADERS);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    cache_handler_t *self = (cache_handler_t *)_self;
    const ae_cache_site_conf_t *conf = ae_cache_site_conf(self->site);
    ae_cache_thread_t *ct = ae_cache_thread(ae_thread_of(req->conn->ctx));
    ae_store_reader_t *reader = &ct->reader;
    uint8_t hash[AE_STORE_HASH_LEN];
    const char *fwd = "uri-miss";
    ae_request_directives_t directives;
    ae_record_t rec;
    const ae_record_t *stored = NULL;

    ae_request_class_t class = ae_cache_classify_request(req->method, &req->headers);
    if (class == AE_REQUEST_PASS_METHOD) {
        ae_cache_set_status(req, "PASS", "anyedge; fwd=method");
        if (!ae_cache_method_invalidates(req->method))
            return -1;
        ae_origin_relay(req, self->site, on_unsafe_response, self->site);
        return 0;
    }
    h2o_iovec_t primary = key_of(req, self->site, req->path), key = primary;
    if (class == AE_REQUEST_PASS_AUTHORIZED) {
        ae_fill_serve(req, &(ae_fill_request_t){self->site, primary, primary, AE_FILL_PRIVATE, "request", NULL});
        return 0;
    }

    ae_cache_request_directives(&conf->policy, &req->headers, &directives);
    MDB_txn *txn = ae_store_read_begin(reader);
    if (txn != NULL && lookup(req, txn, primary, &key, &rec, hash, &fwd) == 0) {
        int64_t now = req->processed_at.at.tv_sec;
        ae_fill_request_t refresh = {self->site, key, primary, AE_FILL_SHARED, "stale", &rec};
        switch (ae_cache_select(&directives, &rec.freshness, now)) {
        case AE_USE_FRESH:
        case AE_USE_STALE_ALLOWED:
            if (ae_store_last_access(txn, hash) + ACCESS_RESOLUTION_S <= now)
                ae_cache_note_access(ct, hash); /* before serving: that may end the request and the txn */
            if (serve_stored(req, reader, txn, &rec, now, &label_hit) == 0)
                return 0;
            break;
        case AE_USE_STALE_WHILE_REVALIDATE:
            ae_fill_refresh(req, &refresh); /* first: serving may end the request, and rec with it */
            if (serve_stored(req, reader, txn, &rec, now, &label_stale_while_revalidate) == 0)
                return 0;
            stored = &rec;
            fwd = "stale";
            break;
        case AE_USE_REVALIDATE:
            stored = &rec;
            fwd = ae_cache_current_age(&rec.freshness, now) >= rec.freshness.lifetime ? "stale" : "request";
            break;
        }
    }
    if (directives.cc.only_if_cached)
        send_only_if_cached_miss(req);
    else
        ae_fill_serve(req, &(ae_fill_request_t){self->site, key, primary, AE_FILL_SHARED, fwd, stored});
    if (txn != NULL)
        ae_store_read_end(reader, txn);
    return 0;
}

void ae_cache_attach_handler(ae_site_t *site)
{
    cache_handler_t *handler = (cache_handler_t *)ae_site_add_handler(site, sizeof(*handler));
    handler->super.on_req = on_req;
    handler->site = site;
}
