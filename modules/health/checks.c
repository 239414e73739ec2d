/*
 * The checks behind the node's health (see health.h):
 *   workers  every worker's event loop turned within the timeout (a stuck loop fails it);
 *   self     a request to the node's own first listener is answered (status below 500): accept,
 *            parse, route and respond all work, end to end;
 *   origins  the sites' origins accept a TCP connection: any of them, or all (health.checks.origins.require);
 *   store    the cache writer commits (an empty commit each time, which must be done by the next);
 *   load     requests and origin work in flight stay under health.max-in-flight.
 * The heartbeat timer runs on each worker; the checks run on the health thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "modules/cache/writer.h"
#include "modules/health/health.h"
#include "server/probe.h"
#include "modules/origin/origin.h"
#include "server/clock.h"

#define HEARTBEAT_MS 200

typedef struct heartbeat {
    h2o_loop_t *loop;
    h2o_timeout_t timeout;
    h2o_timeout_entry_t entry;
    uint64_t beat_at; /* atomic; CLOCK_MONOTONIC ms */
} heartbeat_t;

static heartbeat_t *heartbeats; /* one per worker, from on_init until the module shuts down */

void ae_health_heartbeats_init(size_t num_threads)
{
    heartbeats = calloc(num_threads, sizeof(*heartbeats));
    for (size_t i = 0; i != num_threads; ++i)
        heartbeats[i].beat_at = ae_monotonic_ms();
}

void ae_health_heartbeats_free(void)
{
    free(heartbeats);
    heartbeats = NULL;
}

static void on_heartbeat(h2o_timeout_entry_t *entry)
{
    heartbeat_t *hb = H2O_STRUCT_FROM_MEMBER(heartbeat_t, entry, entry);
    __atomic_store_n(&hb->beat_at, ae_monotonic_ms(), __ATOMIC_RELEASE);
    h2o_timeout_link(hb->loop, &hb->timeout, &hb->entry);
}

void ae_health_heartbeat_start(ae_thread_t *thread)
{
    heartbeat_t *hb = &heartbeats[thread->index];
    hb->loop = thread->loop;
    hb->entry = (h2o_timeout_entry_t){.cb = on_heartbeat};
    __atomic_store_n(&hb->beat_at, ae_monotonic_ms(), __ATOMIC_RELEASE);
    h2o_timeout_init(thread->loop, &hb->timeout, HEARTBEAT_MS);
    h2o_timeout_link(thread->loop, &hb->timeout, &hb->entry);
}

void ae_health_heartbeat_stop(ae_thread_t *thread)
{
    heartbeat_t *hb = &heartbeats[thread->index];
    if (h2o_timeout_is_linked(&hb->entry))
        h2o_timeout_unlink(&hb->entry);
    h2o_timeout_dispose(thread->loop, &hb->timeout);
}

static int check_workers(ae_server_t *srv, ae_health_check_t *check)
{
    uint64_t now = ae_monotonic_ms();
    for (size_t i = 0; i != srv->num_threads; ++i) {
        uint64_t beat_at = __atomic_load_n(&heartbeats[i].beat_at, __ATOMIC_ACQUIRE);
        if (now > beat_at && now - beat_at > check->timeout_ms) {
            snprintf(check->detail, sizeof(check->detail), "worker %zu stuck for %llu ms", i, (unsigned long long)(now - beat_at));
            return 0;
        }
    }
    snprintf(check->detail, sizeof(check->detail), "%u workers turning", srv->num_threads);
    return 1;
}

static int check_self(ae_server_t *srv, ae_health_check_t *check)
{
    const ae_listen_addr_t *listen = NULL;
    struct sockaddr_storage ss;
    char err[128];

    for (size_t i = 0; i != srv->listen.size && listen == NULL; ++i)
        if (srv->listen.entries[i].hosts == NULL)
            listen = &srv->listen.entries[i];
    ae_probe_listener_addr(&listen->addr, listen->addrlen, &ss);
    int status = ae_probe_http((struct sockaddr *)&ss, listen->addrlen, ae_health_conf.self_host, ae_health_conf.self_path,
                               check->timeout_ms, NULL, 0, err, sizeof(err));
    if (status < 0) {
        snprintf(check->detail, sizeof(check->detail), "%s: %s", listen->text, err);
        return 0;
    }
    snprintf(check->detail, sizeof(check->detail), "%s answered %d", listen->text, status);
    return status < 500;
}

static int check_origins(ae_server_t *srv, ae_health_check_t *check)
{
    size_t reachable = 0, total = srv->sites.size;
    const char *failed = NULL;
    char err[128] = "";

    for (size_t i = 0; i != total; ++i) {
        const ae_origin_conf_t *conf = srv->sites.entries[i]->conf[ae_origin_module.index];
        int fd = ae_probe_connect((const struct sockaddr *)&conf->addr, conf->addrlen, check->timeout_ms, err, sizeof(err));
        if (fd != -1) {
            close(fd);
            ++reachable;
        } else if (failed == NULL) {
            failed = conf->url;
        }
    }
    int passed = ae_health_conf.origins_rule == AE_ORIGINS_ALL ? reachable == total : reachable != 0;
    if (failed == NULL)
        snprintf(check->detail, sizeof(check->detail), "%zu of %zu reachable", reachable, total);
    else
        snprintf(check->detail, sizeof(check->detail), "%zu of %zu reachable; %s: %s", reachable, total, failed, err);
    return passed;
}

static int check_load(ae_server_t *srv, ae_health_check_t *check)
{
    uint64_t in_flight = 0;
    for (size_t i = 0; i != srv->num_threads; ++i)
        in_flight += __atomic_load_n(&srv->threads[i].busy, __ATOMIC_RELAXED);
    snprintf(check->detail, sizeof(check->detail), "%llu in flight (at most %llu)", (unsigned long long)in_flight,
             (unsigned long long)ae_health_conf.max_in_flight);
    return in_flight <= ae_health_conf.max_in_flight;
}

int ae_health_run_check(ae_server_t *srv, ae_check_kind_t kind, ae_health_check_t *check)
{
    switch (kind) {
    case AE_CHECK_WORKERS:
        return check_workers(srv, check);
    case AE_CHECK_SELF:
        return check_self(srv, check);
    case AE_CHECK_ORIGINS:
        return check_origins(srv, check);
    case AE_CHECK_STORE:
        return ae_writer_check(check->timeout_ms, check->detail, sizeof(check->detail)) == 0;
    case AE_CHECK_LOAD:
        return check_load(srv, check);
    default:
        return 0;
    }
}
