/*
 * The announcer: carries the node's wish (announce its anycast prefixes, announce them de-preferred
 * for a degraded node, or withdraw them) to the driver the config names.
 *   bird    enables/disables BIRD static protocols over its control socket (bird.c): the normal
 *           ones to announce, the degraded ones (whose export prepends the AS path) instead of them
 *           when degraded; again every interval, which undoes a `birdc configure` or a BIRD
 *           restart within that interval;
 *   exec    runs `COMMAND announce|degraded|withdraw` (with ANYEDGE_PREFIXES in the environment) on
 *           each change, and again every interval until it exits 0;
 *   exabgp  nothing to do here: the `anyedge exabgp` process that ExaBGP runs reads the state from
 *           the admin listener and withdraws when the daemon stops answering.
 *
 * The thread that owns the ae_announcer_t: the health thread, or the main thread of `anyedge withdraw`.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "modules/health/health.h"
#include "server/clock.h"

extern char **environ;

const char *ae_announcer_driver_name(ae_announcer_driver_t driver)
{
    static const char *names[] = {
        [AE_ANNOUNCER_NONE] = "none", [AE_ANNOUNCER_BIRD] = "bird", [AE_ANNOUNCER_EXABGP] = "exabgp", [AE_ANNOUNCER_EXEC] = "exec"};
    return names[driver];
}

void ae_announcer_init(ae_announcer_t *a, const ae_health_conf_t *conf)
{
    memset(a, 0, sizeof(*a));
    a->conf = conf;
    ae_bird_init(&a->bird, conf->announcer.socket);
}

void ae_announcer_dispose(ae_announcer_t *a)
{
    ae_bird_close(&a->bird);
}

/* Runs the exec driver's command; 0 if it exited 0 within the timeout. */
static int run_command(ae_announcer_t *a, ae_route_t route)
{
    static const char *words[] = {
        [AE_ROUTE_WITHDRAWN] = "withdraw", [AE_ROUTE_ANNOUNCED] = "announce", [AE_ROUTE_DEGRADED] = "degraded"};
    const ae_health_conf_t *conf = a->conf;
    char prefixes[1024] = "ANYEDGE_PREFIXES=", *shell_cmd;
    for (size_t i = 0; i != conf->announcer.prefixes.size; ++i)
        snprintf(prefixes + strlen(prefixes), sizeof(prefixes) - strlen(prefixes), "%s%s", i != 0 ? " " : "",
                 conf->announcer.prefixes.entries[i]);
    if (asprintf(&shell_cmd, "%s %s", conf->announcer.command, words[route]) < 0)
        return -1;

    size_t n = 0;
    while (environ[n] != NULL)
        ++n;
    char **env = calloc(n + 2, sizeof(*env));
    memcpy(env, environ, n * sizeof(*env));
    env[n] = prefixes;
    char *argv[] = {"/bin/sh", "-c", shell_cmd, NULL};
    pid_t pid;
    int err = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, env), status = 0, ret = -1;
    free(env);
    free(shell_cmd);
    if (err != 0) {
        snprintf(a->detail, sizeof(a->detail), "cannot run the command: %s", strerror(err));
        return -1;
    }
    uint64_t deadline = ae_monotonic_ms() + conf->announcer.timeout_ms;
    pid_t done;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && ae_monotonic_ms() < deadline)
        usleep(10000);
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        snprintf(a->detail, sizeof(a->detail), "the command did not finish within %llu ms",
                 (unsigned long long)conf->announcer.timeout_ms);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        snprintf(a->detail, sizeof(a->detail), "the command succeeded");
        ret = 0;
    } else {
        snprintf(a->detail, sizeof(a->detail), "the command failed (%s %d)", WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    return ret;
}

/* The normal protocols on for ANNOUNCED, the degraded ones on for DEGRADED, the others off; returns
 * how many BIRD had otherwise, or -1. */
static int set_bird(ae_announcer_t *a, ae_route_t route)
{
    const ae_health_conf_t *conf = a->conf;
    const ae_name_list_t *on = route == AE_ROUTE_ANNOUNCED  ? &conf->announcer.protocols
                               : route == AE_ROUTE_DEGRADED ? &conf->announcer.degraded_protocols
                                                            : NULL;
    const ae_name_list_t *lists[] = {&conf->announcer.protocols, &conf->announcer.degraded_protocols};
    int corrected = 0;
    /* the one to switch on first: going between announced and degraded, the route is never withdrawn
     * in between (while both are on, BIRD exports one of them) */
    for (int enable = 1; enable >= 0; --enable) {
        for (size_t i = 0; i != 2; ++i) {
            if ((lists[i] == on) != enable || lists[i]->size == 0)
                continue;
            int n = ae_bird_set(&a->bird, lists[i]->entries, lists[i]->size, enable, conf->announcer.timeout_ms, a->detail,
                                sizeof(a->detail));
            if (n < 0)
                return -1;
            corrected += n;
        }
    }
    return corrected;
}

int ae_announcer_apply(ae_announcer_t *a, ae_route_t route, uint64_t now_ms)
{
    const ae_health_conf_t *conf = a->conf;
    a->corrected = 0;
    int change = !a->attempted || route != a->route;
    int again = now_ms - a->applied_at >= conf->announcer.interval_ms && (!a->known || conf->announcer.driver == AE_ANNOUNCER_BIRD);
    if (!change && !again)
        return a->known ? 0 : -1;
    a->attempted = 1;
    a->applied_at = now_ms;

    int ret = 0;
    switch (conf->announcer.driver) {
    case AE_ANNOUNCER_BIRD: {
        int corrected = set_bird(a, route);
        if (corrected < 0) {
            ret = -1;
        } else {
            if ((a->corrected = corrected != 0 && !change && a->known))
                snprintf(a->detail, sizeof(a->detail),
                         "BIRD had %d protocol(s) in the other state (reloaded or restarted?): set again", corrected);
            else
                snprintf(a->detail, sizeof(a->detail), "BIRD has the %s",
                         route == AE_ROUTE_ANNOUNCED  ? "protocols enabled"
                         : route == AE_ROUTE_DEGRADED ? "degraded protocols enabled"
                                                      : "protocols disabled");
        }
        break;
    }
    case AE_ANNOUNCER_EXEC:
        ret = run_command(a, route);
        break;
    default:
        snprintf(a->detail, sizeof(a->detail), "%s",
                 conf->announcer.driver == AE_ANNOUNCER_EXABGP ? "published to `anyedge exabgp`" : "no announcer");
        break;
    }
    a->known = ret == 0;
    a->route = route;
    return ret;
}
