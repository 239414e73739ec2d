/*
 * The cache's request handler, one per site: looks the request up in the store and answers a fresh
 * hit straight from the LMDB map (headers and body point into the map; the read transaction is held
 * only while h2o sends one chunk), or relays a miss to the origin with an observer that decides
 * whether the response is stored and hands it to the writer once it arrived whole. Requests that may
 * not use the cache are marked PASS and left to the next handler.
 *
 * Every response says what the cache did: X-Cache (HIT, MISS, PASS) and Cache-Status (RFC 9211),
 * plus Age on hits.
 *
 * Worker threads only.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "modules/cache/cache.h"
#include "modules/cache/policy.h"
#include "modules/cache/writer.h"
#include "modules/origin/origin.h"
#include "server/log.h"

typedef struct {
    h2o_handler_t super;
    ae_site_t *site;
} cache_handler_t;

static void set_header(h2o_req_t *req, const char *name, size_t name_len, const char *value, size_t value_len)
{
    h2o_set_header_by_str(&req->pool, &req->res.headers, name, name_len, 0, value, value_len, 1);
}

static void set_cache_headers(h2o_req_t *req, const char *x_cache, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_cache_headers(h2o_req_t *req, const char *x_cache, const char *fmt, ...)
{
    char buf[256];
    va_list args;
    va_start(args, fmt);
    int len = vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    h2o_iovec_t status = h2o_strdup(&req->pool, buf, len < (int)sizeof(buf) ? (size_t)len : sizeof(buf) - 1);
    set_header(req, H2O_STRLIT("x-cache"), x_cache, strlen(x_cache));
    set_header(req, H2O_STRLIT("cache-status"), status.base, status.len);
}

/* ---- hits ---- */

typedef struct {
    h2o_generator_t super;
    h2o_req_t *req;
    ae_store_reader_t *reader;
    MDB_txn *txn;
    uint64_t body_id;
    uint32_t next_chunk, chunk_count;
} hit_t;

static void on_hit_disposed(void *_hit)
{
    hit_t *hit = _hit;
    if (hit->txn != NULL)
        ae_store_read_end(hit->reader, hit->txn);
}

static void send_chunk(hit_t *hit, h2o_iovec_t chunk)
{
    ++hit->next_chunk;
    h2o_send(hit->req, &chunk, 1, hit->next_chunk == hit->chunk_count ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

/* h2o sent the previous chunk: take a fresh snapshot for the next one, so no reader waits on a client. */
static void on_hit_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    hit_t *hit = (hit_t *)generator;
    h2o_iovec_t chunk;

    ae_store_read_end(hit->reader, hit->txn);
    if ((hit->txn = ae_store_read_begin(hit->reader)) == NULL || ae_store_get_chunk(hit->txn, hit->body_id, hit->next_chunk, &chunk) != 0) {
        /* the object was replaced or evicted mid-response: end it short rather than mix bodies */
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    send_chunk(hit, chunk);
}

static void add_stored_headers(h2o_req_t *req, h2o_iovec_t block)
{
    h2o_iovec_t name, value;
    while (ae_record_next_header(&block, &name, &value) == 0)
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL, value.base, value.len);
}

/* Answers from the record; takes over the read transaction. Returns -1 (txn untouched) if the body is gone. */
static int serve_hit(h2o_req_t *req, ae_store_reader_t *reader, MDB_txn *txn, const ae_record_t *rec, int64_t now)
{
    h2o_iovec_t first_chunk = {NULL, 0};
    char age[32];

    if (rec->body_id != 0 && ae_store_get_chunk(txn, rec->body_id, 0, &first_chunk) != 0)
        return -1;

    hit_t *hit = h2o_mem_alloc_shared(&req->pool, sizeof(*hit), on_hit_disposed);
    *hit = (hit_t){.super = {.proceed = on_hit_proceed}, .req = req, .reader = reader, .txn = txn, .body_id = rec->body_id,
                   .chunk_count = rec->chunk_count};

    req->res.status = rec->status;
    req->res.reason = h2o_strdup(&req->pool, rec->reason.base, rec->reason.len).base;
    req->res.content_length = rec->body_size;
    add_stored_headers(req, rec->headers);
    int64_t current_age = now - rec->stored_at + rec->initial_age;
    h2o_iovec_t age_value = h2o_strdup(&req->pool, age, snprintf(age, sizeof(age), "%" PRId64, current_age > 0 ? current_age : 0));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_AGE, NULL, age_value.base, age_value.len);
    set_cache_headers(req, "HIT", "anyedge; hit; ttl=%" PRId64, rec->expires_at - now);

    h2o_start_response(req, &hit->super);
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else if (rec->body_id == 0)
        h2o_send(req, (h2o_iovec_t *)&rec->inline_body, rec->inline_body.len != 0 ? 1 : 0, H2O_SEND_STATE_FINAL);
    else
        send_chunk(hit, first_chunk);
    return 0;
}

/* ---- misses ---- */

typedef struct {
    h2o_iovec_t key; /* malloc'd */
    const char *fwd;
    int is_head;
    ae_store_decision_t decision;
} miss_t;

static int on_miss_head(void *data, h2o_req_t *req, ae_fetch_t *fetch)
{
    miss_t *miss = data;
    if (miss->is_head) {
        miss->decision = (ae_store_decision_t){.reason = "head"};
    } else {
        miss->decision = ae_cache_decide_store(fetch->status, &fetch->headers, req->processed_at.at.tv_sec);
        if (miss->decision.store && fetch->body->expected != SIZE_MAX && fetch->body->expected > ae_cache_max_object_size())
            miss->decision = (ae_store_decision_t){.reason = "too-big"};
    }
    if (miss->decision.store)
        set_cache_headers(req, "MISS", "anyedge; fwd=%s; fwd-status=%d; stored", miss->fwd, fetch->status);
    else
        set_cache_headers(req, "MISS", "anyedge; fwd=%s; fwd-status=%d; detail=%s", miss->fwd, fetch->status, miss->decision.reason);
    return miss->decision.store;
}

static int is_stored_header(const h2o_header_t *header, const h2o_headers_t *all)
{
    return !ae_origin_is_unforwarded_response_header(header, all) && header->name != &H2O_TOKEN_AGE->buf;
}

static ae_write_job_t *make_job(miss_t *miss, ae_fetch_t *fetch)
{
    size_t reason_len = strlen(fetch->reason), headers_len = 0;
    for (size_t i = 0; i != fetch->headers.size; ++i)
        if (is_stored_header(&fetch->headers.entries[i], &fetch->headers))
            headers_len += ae_record_header_size(fetch->headers.entries[i].name->len, fetch->headers.entries[i].value.len);

    ae_write_job_t *job = calloc(1, sizeof(*job));
    char *p = job->owned = malloc(miss->key.len + reason_len + headers_len + 1);
    job->obj.key = h2o_iovec_init(memcpy(p, miss->key.base, miss->key.len), miss->key.len);
    job->obj.rec.reason = h2o_iovec_init(memcpy(p + miss->key.len, fetch->reason, reason_len), reason_len);
    uint8_t *dst = (uint8_t *)p + miss->key.len + reason_len;
    job->obj.rec.headers = h2o_iovec_init(dst, headers_len);
    for (size_t i = 0; i != fetch->headers.size; ++i) {
        const h2o_header_t *header = &fetch->headers.entries[i];
        if (is_stored_header(header, &fetch->headers))
            dst = ae_record_put_header(dst, *header->name, header->value);
    }

    int64_t now = time(NULL);
    job->obj.rec.status = fetch->status;
    job->obj.rec.stored_at = now;
    job->obj.rec.expires_at = now + miss->decision.ttl;
    job->obj.rec.initial_age = miss->decision.initial_age;
    ae_body_addref(fetch->body);
    job->obj.body = fetch->body;
    return job;
}

static void on_miss_end(void *data, ae_fetch_t *fetch, int complete)
{
    miss_t *miss = data;
    if (fetch != NULL && complete && miss->decision.store && fetch->body->size <= ae_cache_max_object_size() &&
        ae_writer_submit(make_job(miss, fetch)) != 0)
        ae_log_warn("cache writer queue full: %.*s stays uncached", (int)miss->key.len, miss->key.base);
    free(miss->key.base);
    free(miss);
}

static const ae_relay_observer_t miss_observer = {on_miss_head, on_miss_end};

static void relay_miss(h2o_req_t *req, ae_site_t *site, h2o_iovec_t key, const char *fwd)
{
    miss_t *miss = calloc(1, sizeof(*miss));
    miss->key = h2o_strdup(NULL, key.base, key.len);
    miss->fwd = fwd;
    miss->is_head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    set_cache_headers(req, "MISS", "anyedge; fwd=%s", fwd);
    ae_origin_relay(req, site, miss->is_head ? AE_REQUEST_AS_IS : AE_REQUEST_FULL_OBJECT, &miss_observer, miss);
}

/* ---- the handler ---- */

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    cache_handler_t *self = (cache_handler_t *)_self;
    ae_store_reader_t *reader = ae_cache_reader(ae_thread_of(req->conn->ctx));
    const char *fwd = "uri-miss";
    ae_record_t rec;

    switch (ae_cache_classify_request(req->method, &req->headers)) {
    case AE_REQUEST_PASS_METHOD:
        set_cache_headers(req, "PASS", "anyedge; fwd=method");
        return -1;
    case AE_REQUEST_PASS_AUTHORIZED:
        set_cache_headers(req, "PASS", "anyedge; fwd=request; detail=authorization");
        return -1;
    case AE_REQUEST_LOOKUP:
        break;
    }

    h2o_iovec_t key = h2o_concat(&req->pool, h2o_iovec_init(self->site->host, strlen(self->site->host)), req->path);
    MDB_txn *txn = ae_store_read_begin(reader);
    if (txn != NULL) {
        if (ae_store_get(txn, key, &rec) == 0) {
            int64_t now = req->processed_at.at.tv_sec;
            if (now >= rec.expires_at)
                fwd = "stale";
            else if (serve_hit(req, reader, txn, &rec, now) == 0)
                return 0;
        }
        ae_store_read_end(reader, txn);
    }
    relay_miss(req, self->site, key, fwd);
    return 0;
}

void ae_cache_attach_handler(ae_site_t *site)
{
    cache_handler_t *handler = (cache_handler_t *)ae_site_add_handler(site, sizeof(*handler));
    handler->super.on_req = on_req;
    handler->site = site;
}
