/*
 * Listening sockets: opened on the main thread before workers start (so a bad address fails the
 * start-up), one SO_REUSEPORT socket per worker thread and listen address, with IP_FREEBIND so an
 * anycast address can be bound before it is configured on an interface.
 */
#ifndef ANYEDGE_LISTENER_H
#define ANYEDGE_LISTENER_H

#include "server/server.h"

/* Returns a listening, non-blocking socket, or -1 with errno set. */
int ae_listener_open(const ae_listen_addr_t *addr);

#endif
