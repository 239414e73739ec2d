/*
 * The metrics module: GET /metrics on the admin listener, in the Prometheus text format. Nothing is
 * counted without an admin listener (there would be nowhere to read it).
 *
 * What it reports is kept by the modules that own it and only read here, at scrape time: the
 * request counters (requests.c, per worker thread), the origin exchanges (the origin module's
 * per-thread stats), fills, store and writer (the cache module's counters), connections (each
 * worker's), health and route (the health module). Per-thread numbers are summed here; nothing on
 * a request's path takes a lock or a locked instruction for them.
 *
 * on_init/on_shutdown/on_dispose: main thread. The scrape: the worker thread serving it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "modules/admin/admin.h"
#include "modules/cache/cache.h"
#include "modules/cache/fill.h"
#include "modules/cache/store.h"
#include "modules/cache/writer.h"
#include "modules/health/health.h"
#include "modules/metrics/prom.h"
#include "modules/metrics/requests.h"
#include "modules/origin/origin.h"

static int enabled;
static time_t started_at;

/* ---- the families ---- */

static void report_requests(ae_prom_t *p, ae_server_t *srv)
{
    static const char *const names[] = {"anyedge_requests_total", "anyedge_response_bytes_total"};
    static const char *const helps[] = {
        "Requests to the sites' listeners, by site (empty: no site, 400 or 421), status class and cache result (X-Cache).",
        "Response body bytes sent, by site, status class and cache result (X-Cache).",
    };
    for (int which = 0; which != 2; ++which) {
        ae_prom_family(p, names[which], "counter", helps[which]);
        for (size_t s = 0; s <= srv->sites.size; ++s) {
            const char *site = s != srv->sites.size ? srv->sites.entries[s]->host : "";
            for (int c = 0; c != AE_STATUS_CLASSES; ++c) {
                for (int r = 0; r != AE_RESULTS; ++r) {
                    ae_request_cell_t cell = ae_metrics_requests_get(s, c, (ae_cache_result_t)r);
                    if (cell.requests == 0)
                        continue; /* only the combinations that occurred */
                    ae_prom_u64(p, names[which],
                                (ae_prom_labels_t){"site", site, "status", ae_status_class_names[c], "cache",
                                                   ae_cache_result_names[r], NULL},
                                which == 0 ? cell.requests : cell.bytes);
                }
            }
        }
    }
}

static void report_origins(ae_prom_t *p, ae_server_t *srv)
{
    ae_origin_stats_t *stats = calloc(srv->sites.size, sizeof(*stats));
    for (size_t s = 0; s != srv->sites.size; ++s)
        ae_origin_get_stats(srv, srv->sites.entries[s], &stats[s]);

    ae_prom_family(p, "anyedge_origin_fetches_total", "counter",
                   "Exchanges with the site's origin started (relayed requests and cache fills).");
    for (size_t s = 0; s != srv->sites.size; ++s)
        ae_prom_u64(p, "anyedge_origin_fetches_total", (ae_prom_labels_t){"site", srv->sites.entries[s]->host, NULL},
                    stats[s].fetches);
    ae_prom_family(p, "anyedge_origin_errors_total", "counter", "Exchanges with the site's origin that failed, by kind.");
    for (size_t s = 0; s != srv->sites.size; ++s)
        for (int r = AE_FETCH_OK + 1; r != AE_FETCH_RESULT_COUNT; ++r)
            ae_prom_u64(
                p, "anyedge_origin_errors_total",
                (ae_prom_labels_t){"site", srv->sites.entries[s]->host, "kind", ae_fetch_result_name((ae_fetch_result_t)r), NULL},
                stats[s].failures[r]);
    ae_prom_family(p, "anyedge_origin_cancelled_total", "counter",
                   "Exchanges with the site's origin that anyedge stopped (the client left and nobody else waited).");
    for (size_t s = 0; s != srv->sites.size; ++s)
        ae_prom_u64(p, "anyedge_origin_cancelled_total", (ae_prom_labels_t){"site", srv->sites.entries[s]->host, NULL},
                    stats[s].cancelled);
    ae_prom_family(p, "anyedge_origin_first_byte_seconds", "histogram",
                   "Time from the start of an exchange with the origin (connecting included) to its response head.");
    for (size_t s = 0; s != srv->sites.size; ++s)
        ae_prom_histogram(p, "anyedge_origin_first_byte_seconds", (ae_prom_labels_t){"site", srv->sites.entries[s]->host, NULL},
                          &stats[s].first_byte);
    ae_prom_family(p, "anyedge_origin_duration_seconds", "histogram",
                   "Time from the start of an exchange with the origin to its last byte, for exchanges that completed.");
    for (size_t s = 0; s != srv->sites.size; ++s)
        ae_prom_histogram(p, "anyedge_origin_duration_seconds", (ae_prom_labels_t){"site", srv->sites.entries[s]->host, NULL},
                          &stats[s].duration);
    free(stats);
}

static void counter(ae_prom_t *p, const char *name, const char *help, uint64_t value)
{
    ae_prom_family(p, name, "counter", help);
    ae_prom_u64(p, name, NULL, value);
}

static void gauge(ae_prom_t *p, const char *name, const char *help, uint64_t value)
{
    ae_prom_family(p, name, "gauge", help);
    ae_prom_u64(p, name, NULL, value);
}

static void report_cache(ae_prom_t *p, h2o_req_t *req)
{
    uint64_t fetches, collapsed, map_size, used;
    ae_writer_stats_t w;
    ae_store_reader_t *reader = &ae_cache_thread(ae_thread_of(req->conn->ctx))->reader;
    MDB_txn *txn = ae_store_read_begin(reader);
    size_t objects = txn != NULL ? ae_store_object_count(txn) : 0;
    if (txn != NULL)
        ae_store_read_end(reader, txn);

    ae_fill_get_stats(&fetches, &collapsed);
    counter(p, "anyedge_cache_fill_fetches_total",
            "Origin fetches started by cache fills (one per object, however many clients wait).", fetches);
    counter(p, "anyedge_cache_collapsed_total", "Requests served from a fill already under way instead of fetching themselves.",
            collapsed);
    ae_store_usage(&map_size, &used);
    gauge(p, "anyedge_store_map_bytes", "Size of the store's memory map (cache.size).", map_size);
    gauge(p, "anyedge_store_used_bytes", "Bytes of the store's map in use.", used);
    gauge(p, "anyedge_store_objects", "Records in the store (objects, their variants and vary indexes).", objects);
    ae_writer_get_stats(&w);
    gauge(p, "anyedge_writer_queue_depth", "Jobs waiting for the cache writer.", w.queued);
    counter(p, "anyedge_writer_commits_total", "Transactions the cache writer committed.", w.commits);
    counter(p, "anyedge_writer_failed_commits_total", "Transactions of the cache writer that failed.", w.failed_commits);
    ae_prom_family(p, "anyedge_writer_commit_seconds_total", "counter",
                   "Time the cache writer spent committing, evictions included.");
    ae_prom_seconds(p, "anyedge_writer_commit_seconds_total", NULL, w.commit_ms_total * 1000);
    counter(p, "anyedge_store_objects_written_total", "Objects the cache writer stored.", w.objects_stored);
    counter(p, "anyedge_writer_dropped_total", "Responses left uncached because the writer's queue was full.", w.dropped);
    counter(p, "anyedge_store_evictions_total", "Objects evicted to make room.", w.evicted);
}

static void report_server(ae_prom_t *p, ae_server_t *srv)
{
    uint64_t accepted = 0, closed = 0, busy = 0;
    for (size_t i = 0; i != srv->num_threads; ++i) {
        ae_thread_t *t = &srv->threads[i];
        accepted += ae_counter_get(&t->connections_accepted);
        closed += ae_counter_get(&t->connections_closed);
        busy += __atomic_load_n(&t->busy, __ATOMIC_RELAXED);
    }
    counter(p, "anyedge_connections_accepted_total", "Client connections accepted on the listeners (admin included).", accepted);
    /* the two sums are read one thread after the other: a close counted before its accept cannot be */
    gauge(p, "anyedge_connections_open", "Client connections open now (admin included).",
          accepted >= closed ? accepted - closed : 0);
    gauge(p, "anyedge_in_flight", "Requests plus origin exchanges in flight.", busy);

    ae_health_state_t state;
    ae_route_t route;
    int known;
    ae_health_get(&state, &route, &known);
    ae_prom_family(p, "anyedge_health_state", "gauge", "The node's health state: 1 for the current one.");
    for (int s = AE_HEALTH_INIT; s <= AE_HEALTH_DRAINING; ++s)
        ae_prom_u64(p, "anyedge_health_state", (ae_prom_labels_t){"state", ae_health_state_name((ae_health_state_t)s), NULL},
                    s == (int)state);
    ae_prom_family(p, "anyedge_route_state", "gauge", "The anycast route the announcer last applied: 1 for that one.");
    for (int r = AE_ROUTE_WITHDRAWN; r <= AE_ROUTE_DEGRADED; ++r)
        ae_prom_u64(p, "anyedge_route_state", (ae_prom_labels_t){"route", ae_route_name((ae_route_t)r), NULL}, r == (int)route);
    gauge(p, "anyedge_route_confirmed",
          "1 when the announcer's last attempt succeeded (the route state is what the BGP speaker has).", known != 0);

    ae_prom_family(p, "anyedge_build_info", "gauge", "The running version.");
    ae_prom_u64(p, "anyedge_build_info", (ae_prom_labels_t){"version", ANYEDGE_VERSION, NULL}, 1);
    gauge(p, "anyedge_start_time_seconds", "When the process started (Unix time).", (uint64_t)started_at);
    gauge(p, "anyedge_threads", "Worker threads.", srv->num_threads);
}

/* ---- the endpoint ---- */

static void on_scrape(h2o_req_t *req, void *_srv)
{
    static h2o_generator_t generator = {NULL, NULL};
    ae_server_t *srv = _srv;
    ae_prom_t p = {NULL};

    report_requests(&p, srv);
    report_origins(&p, srv);
    report_cache(&p, req);
    report_server(&p, srv);

    h2o_iovec_t body = h2o_strdup(&req->pool, p.buf, p.len);
    ae_strbuf_free(&p);
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

static int on_init(ae_server_t *srv)
{
    if (!ae_admin_enabled())
        return 0;
    enabled = 1;
    started_at = time(NULL);
    ae_metrics_requests_init(srv);
    ae_admin_add_path("/metrics", 0, on_scrape, srv);
    return 0;
}

static void on_dispose(ae_server_t *srv)
{
    if (enabled)
        ae_metrics_requests_free();
    enabled = 0;
}

ae_module_t ae_metrics_module = {
    .name = "metrics",
    .on_init = on_init,
    .on_dispose = on_dispose,
};
