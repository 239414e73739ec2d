/*
 * Fills: one origin fetch per cache key, however many clients ask at once (request collapsing).
 *
 * The first request for a key that is not in the store starts a fill on its own worker thread (the
 * owner, which runs the fetch and appends the body). Requests for the same key that arrive on any
 * thread while it is under way subscribe to it and are served from the same body as it arrives.
 * When the head shows the response may not be stored, the fill stops taking subscribers and those
 * already waiting go to the origin on their own (a private response is never shared). A complete,
 * storable response goes to the writer.
 *
 * Responses with Vary are stored as variants of their URL (under the URL's key plus the varied
 * request headers); a waiting request whose varied headers differ from those of the request that
 * started the fill goes to the origin on its own.
 *
 * A fill may revalidate a stored response: it asks with the stored validators, and a 304 turns into
 * the stored response with the 304's headers, served and stored again. Subscribers that had a stored
 * copy fall back on it when the origin fails (stale-if-error, grace).
 *
 * Threads: the fill table and each fill's shared state are guarded by mutexes (table first, then
 * fill). The owner tells subscribers that something changed by an h2o multithread message to the
 * subscriber's own thread (also when it is the owner's), so a subscriber is only ever touched by
 * its own thread, outside of any lock held by the owner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "modules/cache/cache.h"
#include "modules/cache/deception.h"
#include "modules/cache/fill.h"
#include "modules/cache/tags.h"
#include "modules/cache/writer.h"
#include "modules/origin/origin.h"
#include "server/log.h"

#define TABLE_BUCKETS 1024
#define MAX_VARY_NAMES 16

typedef enum { HEAD_WAITING, HEAD_SHARED, HEAD_PRIVATE } head_state_t;
typedef enum { END_RUNNING, END_COMPLETE, END_FAILED } end_state_t;

typedef struct fill {
    int refcnt; /* atomic: the owner's (until the fetch ended) and one per subscriber */
    struct fill *table_next;
    int in_table;
    h2o_iovec_t key, primary; /* primary is a prefix of key (or key itself) */
    ae_site_t *site;
    const ae_cache_site_conf_t *conf;
    ae_thread_t *owner;
    ae_fetch_t *fetch; /* the owner's */
    int64_t request_time;
    h2o_headers_t request_headers; /* of the request that started it: storage rules depend on them */
    char *label;                   /* "GET /path" for log messages */
    /* the stored response being revalidated (status 0: none) */
    struct {
        int status;
        const char *reason;
        h2o_headers_t headers;
        int64_t response_time;
    } stored;
    int revalidated;       /* the origin answered 304 */
    const char *ext_class; /* with cache.content-type-check: the class of the URL's extension, or NULL */
    pthread_mutex_t lock;
    /* under lock */
    h2o_linklist_t subscribers;
    head_state_t head;
    end_state_t end;
    ae_fetch_result_t result;
    /* set with the head, then read-only */
    int status, origin_status;
    const char *reason;
    h2o_headers_t headers;
    h2o_iovec_t vary_names[MAX_VARY_NAMES];
    int vary_count;       /* names in vary_names; 0 when the response does not vary */
    h2o_iovec_t vary_key; /* of the request that started the fill */
    ae_body_t *body;
    ae_store_decision_t decision;
    h2o_mem_pool_t pool;
} fill_t;

typedef struct subscriber {
    h2o_linklist_t link; /* in fill->subscribers */
    fill_t *fill;
    ae_thread_t *thread;
    h2o_req_t *req; /* NULL once gone */
    ae_client_stream_t *stream;
    const char *fwd;
    h2o_iovec_t key;
    int collapsed, head_done, finished, detached, private_mode, stale_fallback;
    int updating, free_after_update; /* h2o may free the request from inside update() */
    h2o_multithread_message_t message;
    int notify_pending; /* atomic; set by the owner, cleared by the subscriber's thread */
    int orphan;         /* gone while a message was on its way: the receiver frees it */
} subscriber_t;

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t fetches_started, requests_collapsed; /* atomic */
static fill_t *table[TABLE_BUCKETS];

/* ---- the table of fills under way ---- */

static size_t bucket_of(h2o_iovec_t key)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i != key.len; ++i)
        h = (h ^ (uint8_t)key.base[i]) * 0x100000001b3ull;
    return h % TABLE_BUCKETS;
}

static fill_t *table_find(h2o_iovec_t key)
{
    for (fill_t *fill = table[bucket_of(key)]; fill != NULL; fill = fill->table_next)
        if (h2o_memis(fill->key.base, fill->key.len, key.base, key.len))
            return fill;
    return NULL;
}

static void table_insert(fill_t *fill)
{
    size_t bucket = bucket_of(fill->key);
    fill->table_next = table[bucket];
    table[bucket] = fill;
    fill->in_table = 1;
}

static void table_remove(fill_t *fill)
{
    pthread_mutex_lock(&table_lock);
    if (fill->in_table) {
        fill_t **slot = &table[bucket_of(fill->key)];
        while (*slot != fill)
            slot = &(*slot)->table_next;
        *slot = fill->table_next;
        fill->in_table = 0;
    }
    pthread_mutex_unlock(&table_lock);
}

/* ---- fills ---- */

static void fill_release(fill_t *fill)
{
    if (__atomic_sub_fetch(&fill->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (fill->body != NULL)
        ae_body_release(fill->body);
    h2o_mem_clear_pool(&fill->pool);
    pthread_mutex_destroy(&fill->lock);
    free(fill->key.base);
    free(fill->label);
    free(fill);
}

/* Wakes every subscriber on its own thread; a subscriber already woken is not woken twice. */
static void notify_all(fill_t *fill)
{
    pthread_mutex_lock(&fill->lock);
    for (h2o_linklist_t *node = fill->subscribers.next; node != &fill->subscribers; node = node->next) {
        subscriber_t *sub = H2O_STRUCT_FROM_MEMBER(subscriber_t, link, node);
        int expected = 0;
        if (__atomic_compare_exchange_n(&sub->notify_pending, &expected, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            h2o_multithread_send_message(&ae_cache_thread(sub->thread)->fill_receiver, &sub->message);
    }
    pthread_mutex_unlock(&fill->lock);
}

static int has_subscribers(fill_t *fill)
{
    pthread_mutex_lock(&fill->lock);
    int any = !h2o_linklist_is_empty(&fill->subscribers);
    pthread_mutex_unlock(&fill->lock);
    return any;
}

static h2o_iovec_t header_value(const h2o_headers_t *headers, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(headers, token, -1);
    return i != -1 ? headers->entries[i].value : h2o_iovec_init(NULL, 0);
}

static void copy_headers(h2o_mem_pool_t *pool, h2o_headers_t *dst, const h2o_headers_t *src)
{
    for (size_t i = 0; i != src->size; ++i) {
        const h2o_header_t *h = &src->entries[i];
        h2o_iovec_t name = h2o_strdup(pool, h->name->base, h->name->len), value = h2o_strdup(pool, h->value.base, h->value.len);
        h2o_add_header_by_str(pool, dst, name.base, name.len, 1, NULL, value.base, value.len);
    }
}

/* ---- what is stored ---- */

static int is_stored_header(const fill_t *fill, const h2o_header_t *header)
{
    const ae_store_decision_t *d = &fill->decision;
    if (header->name == &H2O_TOKEN_DATE->buf)
        return 1; /* kept for the responses from the store, though not a header h2o takes from us */
    if (ae_origin_is_unforwarded_response_header(header, &fill->headers) || header->name == &H2O_TOKEN_AGE->buf ||
        ae_cache_is_cache_only_header(&fill->conf->policy, *header->name))
        return 0;
    if (d->strip_set_cookie && header->name == &H2O_TOKEN_SET_COOKIE->buf)
        return 0;
    return d->omit_fields.len == 0 ||
           !h2o_contains_token(d->omit_fields.base, d->omit_fields.len, header->name->base, header->name->len, ',');
}

/* Where the response is stored: the URL's key, or for a response with Vary the variant's. */
static h2o_iovec_t storage_key(fill_t *fill)
{
    if (fill->vary_count == 0)
        return fill->primary;
    return h2o_concat(&fill->pool, fill->primary, h2o_iovec_init(H2O_STRLIT("\n")), fill->vary_key);
}

static ae_write_job_t *make_job(fill_t *fill)
{
    h2o_iovec_t key = storage_key(fill);
    size_t reason_len = strlen(fill->reason), headers_len = 0, names_len = 0;
    for (size_t i = 0; i != fill->headers.size; ++i)
        if (is_stored_header(fill, &fill->headers.entries[i]))
            headers_len += ae_record_header_size(fill->headers.entries[i].name->len, fill->headers.entries[i].value.len);
    for (int i = 0; i != fill->vary_count; ++i)
        names_len += ae_record_header_size(sizeof("vary") - 1, fill->vary_names[i].len);

    ae_write_job_t *job = calloc(1, sizeof(*job));
    char *p = job->owned = malloc(key.len + reason_len + headers_len + names_len + 1);
    job->obj.key = h2o_iovec_init(memcpy(p, key.base, key.len), key.len);
    job->obj.primary = h2o_iovec_init(p, fill->primary.len);
    job->obj.rec.reason = h2o_iovec_init(memcpy(p + key.len, fill->reason, reason_len), reason_len);
    uint8_t *dst = (uint8_t *)p + key.len + reason_len;
    job->obj.rec.headers = h2o_iovec_init(dst, headers_len);
    for (size_t i = 0; i != fill->headers.size; ++i) {
        const h2o_header_t *header = &fill->headers.entries[i];
        if (is_stored_header(fill, header))
            dst = ae_record_put_header(dst, *header->name, header->value);
    }
    job->obj.vary_names = h2o_iovec_init(dst, names_len);
    for (int i = 0; i != fill->vary_count; ++i)
        dst = ae_record_put_header(dst, h2o_iovec_init(H2O_STRLIT("vary")), fill->vary_names[i]);
    job->obj.rec.status = fill->status;
    job->obj.rec.freshness = fill->decision.freshness;
    ae_body_addref(fill->body);
    job->obj.body = fill->body;
    return job;
}

/* The object is in the store (or will never be): requests for it no longer need the fill. */
static void on_stored(void *_fill)
{
    fill_t *fill = _fill;
    table_remove(fill);
    fill_release(fill);
}

/* Hands the response to the writer; the fill stays in the table until the object is committed, so
 * requests meanwhile are served from it instead of fetching again. Returns 1 if it was handed over. */
static int store(fill_t *fill)
{
    if (fill->body->size > ae_cache_max_object_size())
        return 0;
    ae_write_job_t *job = make_job(fill);
    __atomic_add_fetch(&fill->refcnt, 1, __ATOMIC_RELAXED);
    job->on_done = on_stored;
    job->on_done_data = fill;
    if (ae_writer_submit(job) != 0)
        ae_log_warn("cache writer queue full: %.*s stays uncached", (int)fill->key.len, fill->key.base);
    return 1;
}

/* ---- the owner's side: the fetch ---- */

/* Ends the owner's part: subscribers learn how it ended; the fill leaves the table unless a store
 * of its response is under way. */
static void end_fill(fill_t *fill, end_state_t end, ae_fetch_result_t result, int storing)
{
    if (!storing)
        table_remove(fill);
    pthread_mutex_lock(&fill->lock);
    fill->end = end;
    fill->result = result;
    pthread_mutex_unlock(&fill->lock);
    notify_all(fill);
    fill->fetch = NULL;
    fill_release(fill);
}

/* Nobody waits for a response that will not be stored: stop fetching it. */
static int abandon_if_unwanted(fill_t *fill)
{
    if (fill->head == HEAD_SHARED || has_subscribers(fill))
        return 0;
    ae_fetch_cancel(fill->fetch);
    end_fill(fill, END_FAILED, AE_FETCH_TRUNCATED, 0);
    return 1;
}

/* A 304: the stored response with the 304's headers replacing its own (RFC 9111 4.3.4), and the
 * stored body read back from the store. Returns -1 if the stored response is gone meanwhile. */
static int take_revalidated(fill_t *fill, ae_fetch_t *fetch)
{
    ae_store_reader_t *reader = &ae_cache_thread(fill->owner)->reader;
    MDB_txn *txn = ae_store_read_begin(reader);
    ae_record_t rec;

    if (txn == NULL)
        return -1;
    if (ae_store_get(txn, fill->key, &rec) == 0 && rec.freshness.response_time == fill->stored.response_time)
        fill->body = ae_store_load_body(txn, &rec);
    ae_store_read_end(reader, txn);
    if (fill->body == NULL)
        return -1;

    for (size_t i = 0; i != fill->stored.headers.size; ++i) {
        const h2o_header_t *h = &fill->stored.headers.entries[i];
        if (!ae_cache_304_updates_header(*h->name) ||
            h2o_find_header_by_str(&fetch->headers, h->name->base, h->name->len, -1) == -1)
            h2o_add_header_by_str(&fill->pool, &fill->headers, h->name->base, h->name->len, 1, NULL, h->value.base, h->value.len);
    }
    for (size_t i = 0; i != fetch->headers.size; ++i) {
        const h2o_header_t *h = &fetch->headers.entries[i];
        if (ae_cache_304_updates_header(*h->name)) {
            h2o_iovec_t name = h2o_strdup(&fill->pool, h->name->base, h->name->len),
                        value = h2o_strdup(&fill->pool, h->value.base, h->value.len);
            h2o_add_header_by_str(&fill->pool, &fill->headers, name.base, name.len, 1, NULL, value.base, value.len);
        }
    }
    fill->status = fill->stored.status;
    fill->reason = fill->stored.reason;
    fill->revalidated = 1;
    return 0;
}

static void on_fetch_head(ae_fetch_t *fetch)
{
    fill_t *fill = fetch->data;

    fill->origin_status = fetch->status;
    if (fetch->status == 304 && fill->stored.status != 0) {
        if (take_revalidated(fill, fetch) != 0) {
            ae_fetch_cancel(fetch);
            end_fill(fill, END_FAILED, AE_FETCH_TRUNCATED, 0);
            return;
        }
    } else {
        copy_headers(&fill->pool, &fill->headers, &fetch->headers);
        fill->status = fetch->status;
        fill->reason = h2o_strdup(&fill->pool, fetch->reason, SIZE_MAX).base;
        ae_body_addref(fetch->body);
        fill->body = fetch->body;
    }
    fill->decision = ae_cache_decide_store(&fill->conf->policy, h2o_iovec_init(H2O_STRLIT("GET")), &fill->request_headers,
                                           fill->status, &fill->headers, fill->request_time, time(NULL));
    if (fill->decision.store && fill->body->expected != SIZE_MAX && fill->body->expected > ae_cache_max_object_size())
        fill->decision = (ae_store_decision_t){.reason = "too-big"};
    if (fill->decision.store && fill->ext_class != NULL &&
        !ae_cache_content_type_fits(fill->ext_class, header_value(&fill->headers, H2O_TOKEN_CONTENT_TYPE)))
        fill->decision = (ae_store_decision_t){.reason = "content-type-mismatch"};
    if (fill->decision.store &&
        (fill->vary_count = ae_cache_vary_names(&fill->pool, &fill->headers, fill->vary_names, MAX_VARY_NAMES)) != 0) {
        if (fill->vary_count < 0)
            fill->decision = (ae_store_decision_t){.reason = "vary"}; /* Vary: *, or too many names */
        else
            fill->vary_key = ae_cache_vary_key(&fill->pool, &fill->request_headers, fill->vary_names, fill->vary_count);
    }

    pthread_mutex_lock(&fill->lock);
    fill->head = fill->decision.store ? HEAD_SHARED : HEAD_PRIVATE;
    pthread_mutex_unlock(&fill->lock);
    if (!fill->decision.store)
        table_remove(fill); /* a private response is never shared: later requests fetch their own */
    notify_all(fill);
    abandon_if_unwanted(fill);
}

static void on_fetch_body(ae_fetch_t *fetch)
{
    fill_t *fill = fetch->data;
    if (abandon_if_unwanted(fill))
        return;
    /* a body of unknown length grew too big to store: those reading it keep it, nobody new joins */
    if (fill->head == HEAD_SHARED && fill->body->size > ae_cache_max_object_size())
        table_remove(fill);
    notify_all(fill);
}

static void on_fetch_end(ae_fetch_t *fetch, ae_fetch_result_t result)
{
    fill_t *fill = fetch->data;
    int storing = 0;
    if (result != AE_FETCH_OK)
        ae_origin_log_failure(fill->site, fill->label != NULL ? fill->label : "GET", fetch, result);
    else if (fill->head == HEAD_SHARED)
        storing = store(fill);
    end_fill(fill, result == AE_FETCH_OK ? END_COMPLETE : END_FAILED, result, storing);
}

static const ae_fetch_callbacks_t fetch_callbacks = {on_fetch_head, on_fetch_body, on_fetch_end};

static void keep_stored(fill_t *fill, const ae_record_t *rec)
{
    h2o_iovec_t block = rec->headers, name, value;
    fill->stored.status = rec->status;
    fill->stored.reason = h2o_strdup(&fill->pool, rec->reason.base, rec->reason.len).base;
    fill->stored.response_time = rec->freshness.response_time;
    while (ae_record_next_header(&block, &name, &value) == 0) {
        name = h2o_strdup(&fill->pool, name.base, name.len);
        value = h2o_strdup(&fill->pool, value.base, value.len);
        h2o_add_header_by_str(&fill->pool, &fill->stored.headers, name.base, name.len, 1, NULL, value.base, value.len);
    }
}

static fill_t *fill_new(h2o_req_t *req, const ae_fill_request_t *fr)
{
    fill_t *fill = calloc(1, sizeof(*fill));
    fill->refcnt = 1;
    fill->key = h2o_strdup(NULL, fr->key.base, fr->key.len);
    fill->primary = h2o_iovec_init(fill->key.base, fr->primary.len); /* primary is a prefix of key */
    fill->site = fr->site;
    fill->conf = ae_cache_site_conf(fr->site);
    fill->owner = ae_thread_of(req->conn->ctx);
    fill->request_time = time(NULL);
    if (asprintf(&fill->label, "GET %.*s", (int)(req->path.len < 256 ? req->path.len : 256), req->path.base) < 0)
        fill->label = NULL;
    pthread_mutex_init(&fill->lock, NULL);
    h2o_linklist_init_anchor(&fill->subscribers);
    h2o_mem_init_pool(&fill->pool);
    copy_headers(&fill->pool, &fill->request_headers, &req->headers);
    if (fr->stored != NULL && fr->stored->status == 200)
        keep_stored(fill, fr->stored);
    if (fill->conf->policy.content_type_check)
        fill->ext_class = ae_cache_extension_class(req->path);
    return fill;
}

/* The stored validators, as conditional request headers (none when nothing is being revalidated). */
static void add_validators(fill_t *fill, h2o_headers_t *conditionals)
{
    ssize_t i;
    if ((i = h2o_find_header(&fill->stored.headers, H2O_TOKEN_ETAG, -1)) != -1)
        h2o_add_header(&fill->pool, conditionals, H2O_TOKEN_IF_NONE_MATCH, NULL, fill->stored.headers.entries[i].value.base,
                       fill->stored.headers.entries[i].value.len);
    if ((i = h2o_find_header(&fill->stored.headers, H2O_TOKEN_LAST_MODIFIED, -1)) != -1)
        h2o_add_header(&fill->pool, conditionals, H2O_TOKEN_IF_MODIFIED_SINCE, NULL, fill->stored.headers.entries[i].value.base,
                       fill->stored.headers.entries[i].value.len);
}

void ae_fill_get_stats(uint64_t *fetches, uint64_t *collapsed)
{
    *fetches = __atomic_load_n(&fetches_started, __ATOMIC_RELAXED);
    *collapsed = __atomic_load_n(&requests_collapsed, __ATOMIC_RELAXED);
}

static void fill_start(fill_t *fill, h2o_req_t *req)
{
    __atomic_add_fetch(&fetches_started, 1, __ATOMIC_RELAXED);
    h2o_headers_t conditionals = {NULL};
    add_validators(fill, &conditionals);
    /* always a GET for the whole object, so that a HEAD or a Range request fills the cache too */
    h2o_iovec_t method = req->method;
    req->method = h2o_iovec_init(H2O_STRLIT("GET"));
    h2o_iovec_t head = ae_origin_request_head(req, AE_REQUEST_FULL_OBJECT, &conditionals);
    req->method = method;
    ae_fetch_start(&fill->fetch, ae_origin_link(fill->owner, fill->site), head, h2o_iovec_init(NULL, 0), 0, &fetch_callbacks, fill);
}

/* ---- the subscribers' side ---- */

static void free_subscriber(subscriber_t *sub)
{
    fill_release(sub->fill);
    free(sub->key.base);
    free(sub);
}

static void unlink_subscriber(subscriber_t *sub)
{
    pthread_mutex_lock(&sub->fill->lock);
    h2o_linklist_unlink(&sub->link);
    pthread_mutex_unlock(&sub->fill->lock);
    sub->detached = 1;
}

static int skip_cache_only_header(void *_fill, const h2o_header_t *header)
{
    fill_t *fill = _fill;
    return ae_cache_is_cache_only_header(&fill->conf->policy, *header->name) || ae_tags_is_tag_header(*header->name);
}

static const char *x_cache_of(subscriber_t *sub)
{
    return sub->private_mode ? "PASS" : sub->fill->revalidated ? "REVALIDATED" : "MISS";
}

/* A Range request served from a whole 200 of known length as it arrives: 206 or 416 (RFC 9110 14). */
static void apply_range(subscriber_t *sub)
{
    fill_t *fill = sub->fill;
    h2o_req_t *req = sub->req;
    h2o_iovec_t range = header_value(&req->headers, H2O_TOKEN_RANGE), if_range = header_value(&req->headers, H2O_TOKEN_IF_RANGE);
    uint64_t size = fill->body->expected, first, last;
    char buf[80];

    if (range.base == NULL || fill->status != 200 || size == SIZE_MAX ||
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return;
    if (if_range.base != NULL && !ae_cache_if_range_matches(if_range, header_value(&fill->headers, H2O_TOKEN_ETAG),
                                                            header_value(&fill->headers, H2O_TOKEN_LAST_MODIFIED)))
        return;
    switch (ae_cache_parse_range(range, size, &first, &last)) {
    case AE_RANGE_OK:
        req->res.status = 206;
        req->res.reason = "Partial Content";
        req->res.content_length = last - first + 1;
        snprintf(buf, sizeof(buf), "bytes %llu-%llu/%llu", (unsigned long long)first, (unsigned long long)last,
                 (unsigned long long)size);
        ae_client_stream_set_window(sub->stream, first, last + 1);
        break;
    case AE_RANGE_UNSATISFIABLE:
        req->res.status = 416;
        req->res.reason = "Range Not Satisfiable";
        req->res.content_length = 0;
        snprintf(buf, sizeof(buf), "bytes */%llu", (unsigned long long)size);
        ae_client_stream_set_window(sub->stream, 0, 0);
        break;
    default:
        return;
    }
    h2o_iovec_t value = h2o_strdup(&req->pool, buf, SIZE_MAX);
    h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_RANGE, value.base, value.len, 1);
}

static void send_head(subscriber_t *sub)
{
    fill_t *fill = sub->fill;
    h2o_req_t *req = sub->req;
    const char *collapsed = sub->collapsed ? "; collapsed" : "";

    ae_origin_set_response_head(req, fill->status, fill->reason, &fill->headers,
                                ae_origin_client_length(fill->status, &fill->headers, 1, fill->body->expected),
                                skip_cache_only_header, fill);
    if (fill->revalidated) {
        /* served from the store: the Age of the refreshed copy (the 304's own Age was folded into it) */
        char age[32];
        int64_t current = ae_cache_current_age(&fill->decision.freshness, time(NULL));
        h2o_iovec_t value =
            h2o_strdup(&req->pool, age, (size_t)snprintf(age, sizeof(age), "%lld", (long long)(current > 0 ? current : 0)));
        h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_AGE, value.base, value.len, 1);
    }
    if (fill->decision.store)
        ae_cache_set_status(req, x_cache_of(sub), "anyedge; fwd=%s; fwd-status=%d; stored%s", sub->fwd, fill->origin_status,
                            collapsed);
    else
        ae_cache_set_status(req, x_cache_of(sub), "anyedge; fwd=%s; fwd-status=%d; detail=%s%s", sub->fwd, fill->origin_status,
                            fill->decision.reason, collapsed);
    sub->head_done = 1;
    apply_range(sub);
    ae_client_stream_start(sub->stream, fill->body, fill->head == HEAD_PRIVATE && !fill->revalidated,
                           ae_origin_date(&fill->headers));
}

/* A waiting request whose fill turned out private goes to the origin itself. */
static void go_alone(subscriber_t *sub)
{
    unlink_subscriber(sub);
    ae_cache_set_status(sub->req, x_cache_of(sub), "anyedge; fwd=%s; detail=uncacheable", sub->fwd);
    ae_origin_relay(sub->req, sub->fill->site, NULL, NULL);
}

/* Would this request get the same variant as the request that started the fill? */
static int same_variant(subscriber_t *sub)
{
    fill_t *fill = sub->fill;
    if (fill->vary_count <= 0)
        return 1;
    h2o_iovec_t key = ae_cache_vary_key(&sub->req->pool, &sub->req->headers, fill->vary_names, fill->vary_count);
    return h2o_memis(key.base, key.len, fill->vary_key.base, fill->vary_key.len);
}

/* The origin failed: a stored copy may do (stale-if-error, grace). */
static int fall_back_on_stale(subscriber_t *sub, int origin_status)
{
    if (!sub->stale_fallback || ae_cache_serve_stale_on_error(sub->req, sub->fill->site, sub->key, origin_status) != 0)
        return 0;
    if (!sub->detached) /* h2o may have freed the request already */
        unlink_subscriber(sub);
    return 1;
}

/* Brings the subscriber's response up to date with its fill; on the subscriber's thread. */
static void update_response(subscriber_t *sub)
{
    fill_t *fill = sub->fill;
    if (sub->req == NULL || sub->detached || sub->finished)
        return;

    pthread_mutex_lock(&fill->lock);
    head_state_t head = fill->head;
    end_state_t end = fill->end;
    ae_fetch_result_t result = fill->result;
    pthread_mutex_unlock(&fill->lock);

    if (!sub->head_done) {
        if (head == HEAD_WAITING) {
            if (end == END_FAILED && !fall_back_on_stale(sub, 0)) {
                sub->finished = 1;
                ae_origin_send_error(sub->req, result);
            }
            return;
        }
        if (fill->status >= 500 && fall_back_on_stale(sub, fill->status))
            return;
        if (sub->collapsed && (head == HEAD_PRIVATE || !same_variant(sub))) {
            go_alone(sub);
            return;
        }
        send_head(sub);
        if (sub->req == NULL)
            return;
    }
    if (end != END_RUNNING) {
        sub->finished = 1;
        ae_client_stream_finish(sub->stream, end == END_COMPLETE);
    } else {
        ae_client_stream_poke(sub->stream);
    }
}

static void update(subscriber_t *sub)
{
    sub->updating = 1;
    update_response(sub);
    sub->updating = 0;
    if (sub->free_after_update)
        free_subscriber(sub);
}

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *message = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        subscriber_t *sub = H2O_STRUCT_FROM_MEMBER(subscriber_t, message, message);
        h2o_linklist_unlink(&message->link);
        if (sub->orphan) {
            free_subscriber(sub);
            continue;
        }
        __atomic_store_n(&sub->notify_pending, 0, __ATOMIC_RELEASE);
        update(sub);
    }
}

static void on_request_gone(void *_sub)
{
    subscriber_t *sub = _sub;

    sub->req = NULL;
    if (!sub->detached)
        unlink_subscriber(sub);
    /* unlinked: the owner sends no more messages; one may still be on its way */
    if (__atomic_load_n(&sub->notify_pending, __ATOMIC_ACQUIRE))
        sub->orphan = 1;
    else if (sub->updating)
        sub->free_after_update = 1;
    else
        free_subscriber(sub);
}

static subscriber_t *subscribe(fill_t *fill, h2o_req_t *req, const ae_fill_request_t *fr, int collapsed)
{
    subscriber_t *sub = calloc(1, sizeof(*sub));
    __atomic_add_fetch(&fill->refcnt, 1, __ATOMIC_RELAXED);
    sub->fill = fill;
    sub->thread = ae_thread_of(req->conn->ctx);
    sub->req = req;
    sub->fwd = fr->fwd;
    sub->key = h2o_strdup(NULL, fr->key.base, fr->key.len);
    sub->collapsed = collapsed;
    sub->private_mode = fr->mode == AE_FILL_PRIVATE;
    sub->stale_fallback = fr->stored != NULL;
    sub->stream = ae_client_stream_new(req, on_request_gone, sub);
    pthread_mutex_lock(&fill->lock);
    h2o_linklist_insert(&fill->subscribers, &sub->link);
    pthread_mutex_unlock(&fill->lock);
    return sub;
}

/* Under the table lock: the fill for the key under way, or a new one in the table. */
static fill_t *find_or_add(h2o_req_t *req, const ae_fill_request_t *fr, int *is_new)
{
    fill_t *fill = table_find(fr->key);
    if ((*is_new = fill == NULL)) {
        fill = fill_new(req, fr);
        table_insert(fill);
    }
    return fill;
}

void ae_fill_serve(h2o_req_t *req, const ae_fill_request_t *fr)
{
    fill_t *fill;
    int is_new = 1;

    ae_cache_set_status(req, fr->mode == AE_FILL_PRIVATE ? "PASS" : "MISS", "anyedge; fwd=%s", fr->fwd);
    if (fr->mode == AE_FILL_PRIVATE) {
        fill = fill_new(req, fr);
        subscribe(fill, req, fr, 0);
    } else {
        pthread_mutex_lock(&table_lock);
        fill = find_or_add(req, fr, &is_new);
        subscriber_t *sub = subscribe(fill, req, fr, !is_new);
        pthread_mutex_unlock(&table_lock);
        if (!is_new) {
            __atomic_add_fetch(&requests_collapsed, 1, __ATOMIC_RELAXED);
            update(sub); /* the head may be there already */
            return;
        }
    }
    fill_start(fill, req);
}

void ae_fill_refresh(h2o_req_t *req, const ae_fill_request_t *fr)
{
    int is_new;
    pthread_mutex_lock(&table_lock);
    fill_t *fill = find_or_add(req, fr, &is_new);
    pthread_mutex_unlock(&table_lock);
    if (is_new)
        fill_start(fill, req);
}

void ae_fill_thread_init(ae_thread_t *thread, h2o_multithread_receiver_t *receiver)
{
    h2o_multithread_register_receiver(thread->ctx.queue, receiver, on_messages);
}

void ae_fill_thread_dispose(h2o_multithread_receiver_t *receiver)
{
    h2o_multithread_unregister_receiver(receiver->queue, receiver);
}
