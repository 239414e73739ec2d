/*
 * Blocking probes (see probe.h). Any thread that may block: the health thread, commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "server/clock.h"
#include "server/probe.h"

/* Waits for `events` on fd until the deadline; 0 when ready, -1 with err set. */
static int wait_for(int fd, short events, uint64_t deadline, char *err, size_t err_size)
{
    while (1) {
        uint64_t now = ae_monotonic_ms();
        if (now >= deadline) {
            snprintf(err, err_size, "timed out");
            return -1;
        }
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, (int)(deadline - now));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR) {
            snprintf(err, err_size, "poll: %s", strerror(errno));
            return -1;
        }
    }
}

static int connect_by(const struct sockaddr *addr, socklen_t addrlen, uint64_t deadline, char *err, size_t err_size)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), soerr = 0;
    socklen_t len = sizeof(soerr);

    if (fd == -1) {
        snprintf(err, err_size, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, addr, addrlen) != 0) {
        if (errno != EINPROGRESS) {
            snprintf(err, err_size, "connect: %s", strerror(errno));
            goto Error;
        }
        if (wait_for(fd, POLLOUT, deadline, err, err_size) != 0)
            goto Error;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) {
            snprintf(err, err_size, "connect: %s", strerror(soerr));
            goto Error;
        }
    }
    return fd;
Error:
    close(fd);
    return -1;
}

void ae_probe_listener_addr(const struct sockaddr_storage *listen_addr, socklen_t len, struct sockaddr_storage *out)
{
    memcpy(out, listen_addr, len);
    if (out->ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)out;
        if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
            sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (out->ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
        if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
            sin6->sin6_addr = in6addr_loopback;
    }
}

int ae_probe_connect(const struct sockaddr *addr, socklen_t addrlen, uint64_t timeout_ms, char *err, size_t err_size)
{
    int fd = connect_by(addr, addrlen, ae_monotonic_ms() + timeout_ms, err, err_size);
    if (fd != -1)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

int ae_probe_http(const struct sockaddr *addr, socklen_t addrlen, const char *host, const char *path, uint64_t timeout_ms,
                  char *body, size_t body_size, char *err, size_t err_size)
{
    return ae_probe_request(addr, addrlen, "GET", host, path, NULL, timeout_ms, body, body_size, err, err_size);
}

int ae_probe_request(const struct sockaddr *addr, socklen_t addrlen, const char *method, const char *host, const char *path,
                     const char *extra_headers, uint64_t timeout_ms, char *body, size_t body_size, char *err, size_t err_size)
{
    uint64_t deadline = ae_monotonic_ms() + timeout_ms;
    char request[4096], response[16384];
    size_t len = 0;
    int fd, status = -1;

    if ((fd = connect_by(addr, addrlen, deadline, err, err_size)) == -1)
        return -1;
    int request_len =
        snprintf(request, sizeof(request),
                 "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: anyedge\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n", method,
                 path, host, extra_headers != NULL ? extra_headers : "");
    if (request_len < 0 || (size_t)request_len >= sizeof(request) || write(fd, request, request_len) != request_len) {
        snprintf(err, err_size, "cannot send the request");
        goto Close;
    }
    /* read to the end (Connection: close) or until the buffer is full */
    while (len < sizeof(response) - 1) {
        if (wait_for(fd, POLLIN, deadline, err, err_size) != 0)
            goto Close;
        ssize_t n = read(fd, response + len, sizeof(response) - 1 - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        len += n;
    }
    response[len] = '\0';
    int major, minor;
    if (sscanf(response, "HTTP/%d.%d %d", &major, &minor, &status) != 3 || status < 100 || status > 999) {
        snprintf(err, err_size, len == 0 ? "no response" : "not an HTTP response");
        status = -1;
        goto Close;
    }
    if (body != NULL && body_size != 0) {
        const char *start = strstr(response, "\r\n\r\n");
        snprintf(body, body_size, "%s", start != NULL ? start + 4 : "");
    }
Close:
    close(fd);
    return status;
}
