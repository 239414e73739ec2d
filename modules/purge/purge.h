/*
 * Purges: removing (or, soft, making stale) what the store holds for a URL (all its variants), a
 * URL prefix or a tag, on this node and on its peers. See purge.c for the requests and the purge
 * thread, fleet.c for the peers.
 */
#ifndef ANYEDGE_PURGE_H
#define ANYEDGE_PURGE_H

#include <netinet/in.h>
#include "server/server.h"
#include "server/strbuf.h"

typedef enum { AE_PURGE_URL, AE_PURGE_BY_PREFIX, AE_PURGE_BY_TAG } ae_purge_what_t;

/* What a purge asks, as peers forward it: also the query string of POST /purge. */
typedef struct ae_purge_order {
    char id[33];
    ae_purge_what_t what;
    char *target; /* the URL, URL prefix or tag, as given */
    int soft;
} ae_purge_order_t;

typedef struct ae_purge_peer {
    char *url; /* as configured: http://HOST:PORT of the peer's admin listener */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} ae_purge_peer_t;

typedef struct ae_purge_conf {
    H2O_VECTOR(ae_purge_peer_t) peers;
    uint64_t retry_for_ms;    /* how long an unreachable peer is retried */
    uint64_t wait_timeout_ms; /* how long `wait=1` waits for the peers */
} ae_purge_conf_t;

extern ae_purge_conf_t ae_purge_conf;
extern ae_module_t ae_purge_module;

/* The query string for an order (allocated), e.g. "url=...&soft=1&id=..."; forwarded adds "&forwarded=1". */
char *ae_purge_order_query(const ae_purge_order_t *order, int forwarded);

/* fleet.c, purge thread only: sends the order to every peer once; those that failed are retried with
 * a growing delay for retry_for_ms. With a deadline (wait), retries until then before returning.
 * Appends the peers' states (JSON objects, comma-separated) to json. */
void ae_fleet_forward(const ae_purge_order_t *order, uint64_t wait_until_ms, ae_strbuf_t *json);
/* Retries what is due; returns when the next retry is due (UINT64_MAX: none). */
uint64_t ae_fleet_retry_due(uint64_t now_ms);
void ae_fleet_dispose(void);

#endif
