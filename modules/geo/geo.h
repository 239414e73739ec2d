/*
 * GeoIP (the geo module): MMDB databases (libmaxminddb), looked up once per request for the
 * client's address; headers to the origin (and optionally on the response), per-site geo rules,
 * a country -> region map for cache keys, and the catchment counters on the admin listener.
 *
 * db.c keeps the databases: private in-memory copies, reloaded by a thread of its own when the
 * files change, and closed only once no worker uses them. geo.c is the module.
 */
#ifndef ANYEDGE_GEO_H
#define ANYEDGE_GEO_H

#include <maxminddb.h>
#include <stdint.h>
#include <sys/socket.h>
#include "server/server.h"

#define AE_GEO_MAX_THREADS 256

/* What a lookup found; empty strings (and asn 0) for what it did not. */
typedef struct ae_geo_info {
    char country[3];   /* ISO 3166-1 alpha-2, upper case */
    char continent[3]; /* AF AN AS EU NA OC SA */
    uint32_t asn;
    char city[64]; /* English name, as it is (UTF-8) */
} ae_geo_info_t;

/* ---- the client's address (the one place that decides it) ---- */

/* The address the request came from, IPv4-mapped IPv6 turned into IPv4; its length, or 0. */
socklen_t ae_geo_client_addr(h2o_req_t *req, struct sockaddr_storage *ss);
/* The country geo found for the request (ISO 3166-1 alpha-2), or an empty iovec (geo off, not found). */
h2o_iovec_t ae_geo_request_country(h2o_req_t *req);
/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes the IPv4 address; anything else is kept. */
socklen_t ae_geo_normalize_addr(struct sockaddr_storage *ss, socklen_t len);

/* ---- the databases (db.c) ---- */

typedef struct ae_geo_db_conf {
    const char *path;     /* country or city MMDB */
    const char *asn_path; /* ASN MMDB, or NULL */
    uint64_t check_interval_ms;
} ae_geo_db_conf_t;

/* Loads the databases (main thread, before the workers); 0, or -1 with a message in err. */
int ae_geo_db_open(const ae_geo_db_conf_t *conf, char *err, size_t err_size);
/* Is a database loaded? (Not after a failed ae_geo_db_open, until the watch thread loads one.) */
int ae_geo_db_loaded(void);
/* Starts the thread that watches the files (after ae_geo_db_open, also a failed one: the files are
 * then loaded once they appear or change). */
void ae_geo_db_start_watch(void);
/* Stops it and closes the databases (after every worker stopped). */
void ae_geo_db_close(void);
/* Looks the address up in the current databases; `slot` is the worker's index. Returns 1 if
 * anything was found. Any worker thread. */
int ae_geo_db_lookup(size_t slot, const struct sockaddr *sa, ae_geo_info_t *info);
/* For the admin view: the loaded files' build time (Unix), when they were loaded, and how many
 * reloads succeeded and failed. */
void ae_geo_db_status(uint64_t *build_epoch, uint64_t *loaded_at, uint64_t *reloads, uint64_t *reload_failures,
                      uint64_t *asn_build_epoch);

#endif
