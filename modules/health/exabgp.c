/*
 * `anyedge exabgp -c FILE`: the process ExaBGP runs (its `process ... { run ...; }`), speaking ExaBGP's
 * text API on stdout. Every health.announcer.interval it asks the daemon's admin listener for
 * /health and prints `announce route PREFIX next-hop NH` for each of health.announcer.prefixes when
 * the daemon wants the route (followed by health.announcer.degraded-attributes, e.g. `med 1000`,
 * when it is degraded), `withdraw route ...` when it does not, or does not answer at all (it
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
#include "server/probe.h"
#include "server/log.h"

static void print_routes(ae_route_t route)
{
    const ae_health_conf_t *c = &ae_health_conf;
    for (size_t i = 0; i != c->announcer.prefixes.size; ++i)
        printf("%s route %s next-hop %s%s%s\n", route != AE_ROUTE_WITHDRAWN ? "announce" : "withdraw",
               c->announcer.prefixes.entries[i], c->announcer.next_hop, route == AE_ROUTE_DEGRADED ? " " : "",
               route == AE_ROUTE_DEGRADED ? c->announcer.degraded_attributes : "");
    fflush(stdout);
}

/* The route the daemon wants: withdrawn if it cannot say; -1 to keep it as it is (a process started
 * by a reload that is taking the route over). */
static int route_wanted(const struct sockaddr_storage *admin, socklen_t len, char *why, size_t why_size)
{
    char body[8192];
    int status = ae_probe_http((const struct sockaddr *)admin, len, "anyedge-admin", "/health", ae_health_conf.announcer.timeout_ms,
                               body, sizeof(body), why, why_size);
    if (status < 0)
        return AE_ROUTE_WITHDRAWN;
    snprintf(why, why_size, "/health answered %d", status);
    if (strstr(body, "\"takeover\":true") != NULL)
        return -1;
    if (status != 200)
        return AE_ROUTE_WITHDRAWN;
    return strstr(body, "\"route\":\"announced\"") != NULL  ? AE_ROUTE_ANNOUNCED
           : strstr(body, "\"route\":\"degraded\"") != NULL ? AE_ROUTE_DEGRADED
                                                            : AE_ROUTE_WITHDRAWN;
}

int ae_health_run_exabgp(ae_server_t *srv, int argc, char **argv)
{
    const ae_listen_addr_t *admin = ae_admin_addr(srv);
    struct sockaddr_storage addr;
    int printed = -1; /* none yet: the first state is always printed (a restarted process must restate it) */

    if (ae_health_conf.announcer.driver != AE_ANNOUNCER_EXABGP || admin == NULL) {
        fprintf(stderr, "anyedge exabgp: %s needs health.announcer.driver: exabgp and admin.listen\n", srv->config_path);
        return 1;
    }
    ae_probe_listener_addr(&admin->addr, admin->addrlen, &addr);

    while (1) {
        char why[256], discard[4096];
        int want = route_wanted(&addr, admin->addrlen, why, sizeof(why));
        if (want != -1 && want != printed) {
            print_routes(want);
            ae_log_info("exabgp: %s (%s)", ae_route_name(want), why);
            printed = want;
        }
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        if (poll(&pfd, 1, (int)ae_health_conf.announcer.interval_ms) > 0 && read(0, discard, sizeof(discard)) <= 0)
            break; /* ExaBGP went away */
    }
    return 0;
}
