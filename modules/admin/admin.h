/*
 * The admin listener: `admin.listen` (one address, loopback in practice; none by default) serves the
 * operators' endpoints that modules register by path, such as /health. It has an h2o host of its
 * own: requests to it never reach a site, and the sites' listeners never reach these paths.
 *
 * Access: every admin request must come from an address in `admin.allow` (default: loopback);
 * paths that change something (purges) also need `Authorization: Bearer <admin.token>`, and are
 * refused while no token is configured.
 */
#ifndef ANYEDGE_ADMIN_H
#define ANYEDGE_ADMIN_H

#include "server/server.h"

/* Answers one request to the path; runs on a worker thread. */
typedef void (*ae_admin_handler_cb)(h2o_req_t *req, void *data);

/* Is there an admin listener? Valid once the config is loaded. */
int ae_admin_enabled(void);
/* The admin address, e.g. for a command that talks to the running daemon; NULL without one. */
const ae_listen_addr_t *ae_admin_addr(ae_server_t *srv);
/* Registers a path (exact match; the query is ignored); with need_token, only requests with the
 * token reach it. From a module's on_init, main thread. */
void ae_admin_add_path(const char *path, int need_token, ae_admin_handler_cb cb, void *data);
/* The same checks for a request on another listener (a site's PURGE): returns 0 when it may
 * proceed, else answers it (403 or 401) and returns -1. Worker threads. */
int ae_admin_authorize(h2o_req_t *req, int need_token);
/* The token, for commands that talk to the admin listener; NULL without one. */
const char *ae_admin_token(void);
/* A JSON response. */
void ae_admin_send_json(h2o_req_t *req, int status, const char *json, size_t len);

#endif
