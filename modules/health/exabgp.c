/*
 * `anyedge exabgp -c FILE`: the process ExaBGP runs (its `process ... { run ...; }`), speaking ExaBGP's
 * text API on stdout. Every health.announcer.interval it asks the daemon's admin listener for
 * /health and prints `announce route PREFIX next-hop NH` for each of health.announcer.prefixes when
 * the daemon wants the route, `withdraw route ...` when it does not, or does not answer at all (it
 * crashed, hangs or was stopped): the route never outlives the daemon. It exits when ExaBGP closes
 * its stdin.
 *
 * Runs on the command's main thread, blocking.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "modules/admin/admin.h"
#include "modules/health/health.h"
#include "modules/health/probe.h"
#include "server/log.h"

static void print_routes(int announce)
{
    const ae_health_conf_t *c = &ae_health_conf;
    for (size_t i = 0; i != c->announcer.prefixes.size; ++i)
        printf("%s route %s next-hop %s\n", announce ? "announce" : "withdraw", c->announcer.prefixes.entries[i], c->announcer.next_hop);
    fflush(stdout);
}

/* Does the daemon want the route? Not if it cannot say. */
static int daemon_wants_route(const struct sockaddr_storage *admin, socklen_t len, char *why, size_t why_size)
{
    char body[8192];
    int status = ae_probe_http((const struct sockaddr *)admin, len, "anyedge-admin", "/health", ae_health_conf.announcer.timeout_ms, body,
                               sizeof(body), why, why_size);
    if (status < 0)
        return 0;
    snprintf(why, why_size, "/health answered %d", status);
    return status == 200 && strstr(body, "\"announce\":true") != NULL;
}

int ae_health_run_exabgp(ae_server_t *srv, int argc, char **argv)
{
    const ae_listen_addr_t *admin = ae_admin_addr(srv);
    struct sockaddr_storage addr;
    int announced = -1; /* unknown: ExaBGP starts with nothing announced, so the first state is printed */

    if (ae_health_conf.announcer.driver != AE_ANNOUNCER_EXABGP || admin == NULL) {
        fprintf(stderr, "anyedge exabgp: %s needs health.announcer.driver: exabgp and admin.listen\n", srv->config_path);
        return 1;
    }
    memcpy(&addr, &admin->addr, admin->addrlen);
    if (addr.ss_family == AF_INET && ((struct sockaddr_in *)&addr)->sin_addr.s_addr == htonl(INADDR_ANY))
        ((struct sockaddr_in *)&addr)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (addr.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&addr)->sin6_addr))
        ((struct sockaddr_in6 *)&addr)->sin6_addr = in6addr_loopback;

    while (1) {
        char why[256], discard[4096];
        int want = daemon_wants_route(&addr, admin->addrlen, why, sizeof(why));
        if (want != announced) {
            print_routes(want);
            ae_log_info("exabgp: %s (%s)", want ? "announced" : "withdrawn", why);
            announced = want;
        }
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        if (poll(&pfd, 1, (int)ae_health_conf.announcer.interval_ms) > 0 && read(0, discard, sizeof(discard)) <= 0)
            break; /* ExaBGP went away */
    }
    return 0;
}
