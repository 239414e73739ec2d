/*
 * The limits a node facing the whole internet keeps (the `limits:` keys): connections in all and
 * per client address, the request's head (header count and bytes, URL length) and body, the time a
 * client may take to send its head and stay idle, HTTP/2 streams per connection, requests a client
 * abandons before their response begins (HTTP/2 "rapid reset"). Each is answered
 * the way HTTP says (431, 414, 413; a connection over a limit is closed at once) and logged (at most
 * once a second per limit), never with a crash; only libh2o's own timeouts close silently.
 */
#ifndef ANYEDGE_LIMITS_H
#define ANYEDGE_LIMITS_H

#include "server/server.h"

/* A new connection on thread t: 0 when it may stay (it is counted until h2o closes its socket, and
 * then in t's connections_closed), -1 when it is over a limit and must be closed. Worker threads. */
int ae_limits_admit(ae_thread_t *t, h2o_socket_t *sock);
/* h2o is disposing of a request to the sites: one its client left before its response began counts
 * towards limits.abandoned-requests, and a connection over it is closed. The request's thread. */
void ae_limits_request_done(h2o_req_t *req);
/* Checks a request's head; 0 when it may go on, else answers it (431 or 414) and returns -1. */
int ae_limits_check_request(h2o_req_t *req);

extern ae_module_t ae_limits_module;

#endif
