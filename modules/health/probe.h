/*
 * Blocking probes with a deadline, for the health thread and the `anyedge exabgp` command (never
 * for a worker's event loop): a TCP connect, and one HTTP/1.1 GET whose status line is read.
 */
#ifndef ANYEDGE_HEALTH_PROBE_H
#define ANYEDGE_HEALTH_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Connects within timeout_ms; returns the connected (blocking) socket, or -1 with the reason in err. */
int ae_probe_connect(const struct sockaddr *addr, socklen_t addrlen, uint64_t timeout_ms, char *err, size_t err_size);
/* GET path with Host: host and Connection: close; returns the status (and the body, up to body_size
 * - 1 bytes, NUL-terminated, when body is not NULL), or -1 with the reason in err. */
int ae_probe_http(const struct sockaddr *addr, socklen_t addrlen, const char *host, const char *path, uint64_t timeout_ms, char *body,
                  size_t body_size, char *err, size_t err_size);

#endif
