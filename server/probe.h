/*
 * Blocking HTTP/1.1 with a deadline, for threads that may block (the health and purge threads,
 * commands; never a worker's event loop): a TCP connect, and one request whose response is read.
 */
#ifndef ANYEDGE_PROBE_H
#define ANYEDGE_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The address to reach one of our own listeners at: its own, or loopback for a wildcard. */
void ae_probe_listener_addr(const struct sockaddr_storage *listen_addr, socklen_t len, struct sockaddr_storage *out);
/* Connects within timeout_ms; returns the connected (blocking) socket, or -1 with the reason in err. */
int ae_probe_connect(const struct sockaddr *addr, socklen_t addrlen, uint64_t timeout_ms, char *err, size_t err_size);
/* `method path` with Host: host, Connection: close and the extra header lines (each ending in CRLF;
 * NULL for none); returns the status (and the body, up to body_size - 1 bytes, NUL-terminated, when
 * body is not NULL), or -1 with the reason in err. */
int ae_probe_request(const struct sockaddr *addr, socklen_t addrlen, const char *method, const char *host, const char *path,
                     const char *extra_headers, uint64_t timeout_ms, char *body, size_t body_size, char *err, size_t err_size);
/* A GET, as ae_probe_request. */
int ae_probe_http(const struct sockaddr *addr, socklen_t addrlen, const char *host, const char *path, uint64_t timeout_ms, char *body,
                  size_t body_size, char *err, size_t err_size);

#endif
