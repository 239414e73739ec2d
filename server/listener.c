/*
 * Listening sockets (see listener.h). Main thread only, at start-up.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include "server/listener.h"

#define LISTEN_BACKLOG 4096

/* At most about this much of a response waits in a connection's send buffer, not yet sent (accepted
 * sockets inherit it). Without it a write of a large object never blocks: the kernel takes up to 4 MiB
 * per connection (autotuned SO_SNDBUF), pushes it until the client's receive window closes, and the
 * rest waits on window updates, zero-window probes and spurious retransmissions; with 32 clients of
 * 4 MiB hits, p99 was 12 times p50. With it a write stops short once this much is unsent, the socket
 * becomes writable again when less is left, and the event loop serves the connections in turn. */
#define NOTSENT_LOWAT (256 * 1024)

static int set_flag(int fd, int level, int name)
{
    int on = 1;
    return setsockopt(fd, level, name, &on, sizeof(on));
}

int ae_listener_open(const ae_listen_addr_t *addr)
{
    int family = addr->addr.ss_family, fd, saved_errno;

    if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
        return -1;
    if (set_flag(fd, SOL_SOCKET, SO_REUSEADDR) != 0 || set_flag(fd, SOL_SOCKET, SO_REUSEPORT) != 0 ||
        set_flag(fd, IPPROTO_TCP, TCP_NODELAY) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &(int){NOTSENT_LOWAT}, sizeof(int)) != 0)
        goto Error;
    if (family == AF_INET6) {
        if (set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY) != 0 || set_flag(fd, IPPROTO_IPV6, IPV6_FREEBIND) != 0)
            goto Error;
    } else if (set_flag(fd, IPPROTO_IP, IP_FREEBIND) != 0) {
        goto Error;
    }
    if (bind(fd, (const struct sockaddr *)&addr->addr, addr->addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
        goto Error;
    return fd;

Error:
    saved_errno = errno;
    close(fd);
    errno = saved_errno;
    return -1;
}
