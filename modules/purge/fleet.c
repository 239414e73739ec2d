/*
 * The peers of a purge (see purge.h): every node listed in purge.peers gets each purge this node
 * was asked for (not those a peer forwarded: the node asked tells all the others), as POST /purge
 * on its admin listener with the same id and the shared admin.token. A peer that cannot be reached
 * or refuses is tried again after 0.5 s, then after twice as long each time (at most 30 s between
 * tries), until purge.retry-for has passed.
 *
 * Purge thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "modules/admin/admin.h"
#include "modules/purge/purge.h"
#include "server/log.h"
#include "server/probe.h"
#include "server/clock.h"

#define FIRST_RETRY_MS 500
#define MAX_RETRY_DELAY_MS 30000
#define PEER_TIMEOUT_MS 2000

typedef struct retry {
    struct retry *next;
    size_t peer;
    char id[33];
    char *query;
    uint64_t due_at, delay_ms, give_up_at;
} retry_t;

static retry_t *retries;

/* Sends the purge to one peer; 0 and what it purged, or -1 with the reason. */
static int send_to_peer(size_t peer, const char *query, long *purged, char *err, size_t err_size)
{
    const ae_purge_peer_t *p = &ae_purge_conf.peers.entries[peer];
    char path[4096], auth[512], body[4096];
    snprintf(path, sizeof(path), "/purge?%s", query);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", ae_admin_token() != NULL ? ae_admin_token() : "");
    int status = ae_probe_request((const struct sockaddr *)&p->addr, p->addrlen, "POST", "anyedge-admin", path, auth,
                                  PEER_TIMEOUT_MS, body, sizeof(body), err, err_size);
    if (status == 200) {
        const char *n = strstr(body, "\"purged\":");
        *purged = n != NULL ? strtol(n + 9, NULL, 10) : 0;
        return 0;
    }
    if (status > 0)
        snprintf(err, err_size, "answered %d", status);
    return -1;
}

typedef enum { PEER_DONE, PEER_RETRYING, PEER_FAILED } peer_state_t;

/* Tries the retry now: PEER_DONE (sent), PEER_FAILED (given up) or PEER_RETRYING (due again later). */
static peer_state_t try_again(retry_t *r, uint64_t now, long *purged, char *err, size_t err_size)
{
    if (send_to_peer(r->peer, r->query, purged, err, err_size) == 0) {
        ae_log_info("purge %s: peer %s has it now", r->id, ae_purge_conf.peers.entries[r->peer].url);
        return PEER_DONE;
    }
    if (now >= r->give_up_at) {
        ae_log_warn("purge %s: giving up on peer %s after purge.retry-for: %s", r->id, ae_purge_conf.peers.entries[r->peer].url,
                    err);
        return PEER_FAILED;
    }
    r->delay_ms = r->delay_ms * 2 < MAX_RETRY_DELAY_MS ? r->delay_ms * 2 : MAX_RETRY_DELAY_MS;
    r->due_at = now + r->delay_ms;
    return PEER_RETRYING;
}

static void unlink_retry(retry_t *r)
{
    retry_t **slot = &retries;
    while (*slot != r)
        slot = &(*slot)->next;
    *slot = r->next;
    free(r->query);
    free(r);
}

void ae_fleet_forward(const ae_purge_order_t *order, uint64_t wait_until_ms, ae_strbuf_t *json)
{
    size_t n = ae_purge_conf.peers.size;
    retry_t *mine[n + 1];
    peer_state_t states[n + 1];
    long purged[n + 1];
    char errors[n + 1][160];
    char *query = ae_purge_order_query(order, 1);

    for (size_t i = 0; i != n; ++i) {
        mine[i] = NULL;
        purged[i] = 0;
        states[i] = PEER_DONE;
        if (send_to_peer(i, query, &purged[i], errors[i], sizeof(errors[i])) == 0)
            continue;
        states[i] = PEER_RETRYING;
        retry_t *r = calloc(1, sizeof(*r));
        uint64_t now = ae_monotonic_ms();
        *r = (retry_t){.next = retries,
                       .peer = i,
                       .query = strdup(query),
                       .due_at = now + FIRST_RETRY_MS,
                       .delay_ms = FIRST_RETRY_MS,
                       .give_up_at = now + ae_purge_conf.retry_for_ms};
        snprintf(r->id, sizeof(r->id), "%s", order->id);
        retries = mine[i] = r;
        ae_log_warn("purge %s: peer %s: %s (will retry)", order->id, ae_purge_conf.peers.entries[i].url, errors[i]);
    }
    /* wait=1: the caller waits for the peers, up to purge.wait-timeout */
    while (wait_until_ms != 0) {
        uint64_t now = ae_monotonic_ms(), next = UINT64_MAX;
        for (size_t i = 0; i != n; ++i) {
            if (mine[i] == NULL)
                continue;
            if (mine[i]->due_at <= now &&
                (states[i] = try_again(mine[i], now, &purged[i], errors[i], sizeof(errors[i]))) != PEER_RETRYING) {
                unlink_retry(mine[i]);
                mine[i] = NULL;
                continue;
            }
            next = mine[i]->due_at < next ? mine[i]->due_at : next;
        }
        if (next == UINT64_MAX || now >= wait_until_ms)
            break;
        uint64_t sleep_ms = (next < wait_until_ms ? next : wait_until_ms) - now;
        struct timespec ts = {(time_t)(sleep_ms / 1000), (long)(sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i != n; ++i) {
        const char *url = ae_purge_conf.peers.entries[i].url;
        ae_strbuf_append(json, i != 0 ? ",{\"peer\":" : "{\"peer\":", i != 0 ? 9 : 8);
        ae_strbuf_append_json_string(json, url, strlen(url));
        if (states[i] == PEER_DONE) {
            ae_strbuf_appendf(json, ",\"state\":\"done\",\"purged\":%ld}", purged[i]);
        } else {
            ae_strbuf_appendf(json, ",\"state\":\"%s\",\"error\":", states[i] == PEER_RETRYING ? "retrying" : "failed");
            ae_strbuf_append_json_string(json, errors[i], strlen(errors[i]));
            ae_strbuf_append(json, "}", 1);
        }
    }
    free(query);
}

uint64_t ae_fleet_retry_due(uint64_t now_ms)
{
    uint64_t next = UINT64_MAX;
    for (retry_t *r = retries, *following; r != NULL; r = following) {
        following = r->next;
        char err[160];
        long purged;
        if (r->due_at <= now_ms && try_again(r, now_ms, &purged, err, sizeof(err)) != PEER_RETRYING) {
            unlink_retry(r);
            continue;
        }
        next = r->due_at < next ? r->due_at : next;
    }
    return next;
}

void ae_fleet_dispose(void)
{
    while (retries != NULL)
        unlink_retry(retries);
}
