/*
 * The limits a node facing the whole internet keeps (the `limits:` keys): connections in all and
 * per client address, the request's head (header count and bytes, URL length) and body, the time a
 * client may take to send its head and stay idle, HTTP/2 streams per connection. Each is answered
 * the way HTTP says (431, 414, 413; a connection over a limit is closed at once) and logged (at most
 * once a second per limit), never with a crash; only libh2o's own timeouts close silently.
 */
#ifndef ANYEDGE_LIMITS_H
#define ANYEDGE_LIMITS_H

#include "server/server.h"

typedef struct ae_connection_note ae_connection_note_t;

/* A new connection on thread t: its note (to give back with ae_limits_release when it closes), or
 * NULL when it is over a limit and must be closed. Worker threads. */
ae_connection_note_t *ae_limits_admit(ae_thread_t *t, h2o_socket_t *sock);
ae_thread_t *ae_limits_thread_of(ae_connection_note_t *note);
void ae_limits_release(ae_connection_note_t *note);
/* Checks a request's head; 0 when it may go on, else answers it (431 or 414) and returns -1. */
int ae_limits_check_request(h2o_req_t *req);

extern ae_module_t ae_limits_module;

#endif
