/*
 * systemd notifications (see notify.h). Any thread: each call opens, sends and closes its socket.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "server/notify.h"

int ae_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len;
    int fd, ret;

    if (path == NULL || path[0] == '\0')
        return 0;
    if ((len = strlen(path)) >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
        return -1;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
        return -1;
    ret = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + len) < 0
              ? -1
              : 0;
    close(fd);
    return ret;
}

uint64_t ae_notify_watchdog_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    if (usec == NULL || (pid != NULL && atol(pid) != (long)getpid()))
        return 0;
    return strtoull(usec, NULL, 10) / 1000;
}
