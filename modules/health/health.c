/*
 * The health module: the `health:` keys, the health thread and what operators use to steer it.
 *
 * The health thread runs each enabled check on its interval (checks.c), feeds the results and the
 * drain wish to the state machine (state.c), hands the route it calls for (announced, degraded or
 * withdrawn) to the announcer (announcer.c) and publishes a JSON snapshot for GET /health on the
 * admin listener (200 while the route is announced, degraded or not, else 503). A drain is wished by the drain file, by SIGUSR2, or
 * by a stop: on SIGTERM/SIGINT the main thread (on_stop) waits until the route is withdrawn, then keeps serving for drain-timeout
 * so that traffic can move before the listeners close. When the thread exits the route is withdrawn.
 *
 * Commands (main thread, no daemon needed): `drain`/`undrain` create/remove the drain file;
 * `withdraw` withdraws directly through the driver (for systemd's ExecStopPost, which also runs after
 * a crash); `exabgp` is in exabgp.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "modules/admin/admin.h"
#include "modules/health/health.h"
#include "server/config.h"
#include "server/log.h"
#include "server/notify.h"
#include "server/reload.h"
#include "server/strbuf.h"
#include "server/clock.h"

#define TICK_MS 100
#define TAKEOVER_GRACE_MS 15000

ae_health_conf_t ae_health_conf;

static const char *check_names[AE_CHECK_COUNT] = {"workers", "self", "origins", "store", "load"};

static struct {
    ae_server_t *srv;
    pthread_t tid;
    int running;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* under lock */
    int stop_wished, drain_signalled, exiting;
    int announced;    /* what the announcer last confirmed */
    ae_strbuf_t json; /* the /health answer */
    int json_status;
    ae_health_state_t state;
    ae_route_t route;
    int route_known;
    /* the health thread's */
    ae_health_machine_t machine;
    ae_announcer_t announcer;
} health = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* ---- the health thread ---- */

static int in_takeover_grace(uint64_t now);

static void describe(ae_strbuf_t *out, uint64_t now)
{
    const ae_health_machine_t *m = &health.machine;
    const ae_announcer_t *a = &health.announcer;

    out->len = 0;
    ae_route_t route = ae_health_machine_route(m);
    ae_strbuf_appendf(
        out, "{\"state\":\"%s\",\"for_ms\":%llu,\"route\":\"%s\",\"announce\":%s,\"draining\":%s,\"takeover\":%s,\"checks\":[",
        ae_health_state_name(m->state), (unsigned long long)(now - m->since), ae_route_name(route),
        route != AE_ROUTE_WITHDRAWN ? "true" : "false", m->draining ? "true" : "false", in_takeover_grace(now) ? "true" : "false");
    size_t n = 0;
    for (int k = 0; k != AE_CHECK_COUNT; ++k) {
        const ae_health_check_t *c = &ae_health_conf.checks[k];
        if (!c->enabled)
            continue;
        ae_strbuf_appendf(out, "%s{\"name\":\"%s\",\"on_fail\":\"%s\",\"up\":%s,\"last\":%s,\"took_ms\":%llu,\"detail\":",
                          n++ != 0 ? "," : "", c->name, c->degrades ? "degrade" : "withdraw", m->checks[k].up ? "true" : "false",
                          !c->ran     ? "null"
                          : c->passed ? "\"pass\""
                                      : "\"fail\"",
                          (unsigned long long)c->took_ms);
        const char *detail = c->ran ? c->detail : "not run yet";
        ae_strbuf_append_json_string(out, detail, strlen(detail));
        ae_strbuf_append(out, H2O_STRLIT("}"));
    }
    ae_strbuf_appendf(out, "],\"held_down_ms\":%llu,\"announcer\":{\"driver\":\"%s\",\"state\":\"%s\",\"detail\":",
                      (unsigned long long)(m->held_until > now ? m->held_until - now : 0),
                      ae_announcer_driver_name(ae_health_conf.announcer.driver),
                      !a->attempted ? "pending"
                      : !a->known   ? "error"
                                    : ae_route_name(a->route));
    const char *detail = a->attempted ? a->detail : "";
    ae_strbuf_append_json_string(out, detail, strlen(detail));
    ae_strbuf_append(out, H2O_STRLIT(",\"prefixes\":["));
    for (size_t i = 0; i != ae_health_conf.announcer.prefixes.size; ++i) {
        if (i != 0)
            ae_strbuf_append(out, H2O_STRLIT(","));
        ae_strbuf_append_json_string(out, ae_health_conf.announcer.prefixes.entries[i],
                                     strlen(ae_health_conf.announcer.prefixes.entries[i]));
    }
    ae_strbuf_append(out, H2O_STRLIT("]}}\n"));
}

static void run_due_checks(uint64_t now)
{
    for (int k = 0; k != AE_CHECK_COUNT; ++k) {
        ae_health_check_t *c = &ae_health_conf.checks[k];
        if (!c->enabled || now < c->due_at)
            continue;
        uint64_t started = ae_monotonic_ms();
        c->passed = ae_health_run_check(health.srv, k, c);
        c->ran = 1;
        c->took_ms = ae_monotonic_ms() - started;
        c->due_at = started + c->interval_ms;
        if (ae_health_machine_report(&health.machine, k, c->passed))
            ae_log_info("health check %s: %s (%s)", c->name, health.machine.checks[k].up ? "up" : "down", c->detail);
    }
}

static int drain_file_exists(void)
{
    struct stat st;
    return ae_health_conf.drain_file != NULL && stat(ae_health_conf.drain_file, &st) == 0;
}

/* A process started by a reload leaves the route as the old one left it until its checks have had
 * time to rise: it neither withdraws it at start nor, over ExaBGP, lets /health say so. */
static int in_takeover_grace(uint64_t now)
{
    return ae_reload_is_takeover() && health.machine.state == AE_HEALTH_INIT && !health.announcer.attempted &&
           now - health.machine.started_at < TAKEOVER_GRACE_MS;
}

static void announce(ae_route_t wanted, uint64_t now)
{
    ae_announcer_t *a = &health.announcer;
    /* handing over (a reload): the route is the new process's, whatever this one's checks say now */
    if (in_takeover_grace(now) || ae_reload_handing_over())
        return;
    int was_known = a->known, was_attempted = a->attempted;
    ae_route_t was = a->route;
    int ret = ae_announcer_apply(a, wanted, now);
    if (ae_health_conf.announcer.driver == AE_ANNOUNCER_NONE)
        return;
    if (ret != 0 && (was_known || !was_attempted || was != wanted))
        ae_log_warn("announcer (%s): cannot make the route %s: %s", ae_announcer_driver_name(ae_health_conf.announcer.driver),
                    ae_route_name(wanted), a->detail);
    else if (ret == 0 && (!was_known || was != wanted))
        ae_log_info("announcer (%s): %s (%s)", ae_announcer_driver_name(ae_health_conf.announcer.driver), ae_route_name(wanted),
                    a->detail);
    else if (ret == 0 && a->corrected)
        ae_log_warn("announcer (%s): %s", ae_announcer_driver_name(ae_health_conf.announcer.driver), a->detail);
}

/* systemd's watchdog (WatchdogSec=) hears from us while every worker's loop turns: a hung daemon
 * is restarted. */
static void keep_watchdog_fed(uint64_t now)
{
    static uint64_t fed_at;
    uint64_t period = ae_notify_watchdog_ms();
    const ae_health_check_t *workers = &ae_health_conf.checks[AE_CHECK_WORKERS];
    if (period == 0 || now - fed_at < period / 3)
        return;
    if (workers->enabled && workers->ran && !workers->passed)
        return;
    ae_notify("WATCHDOG=1");
    fed_at = now;
}

static void *health_main(void *unused)
{
    ae_strbuf_t json = {NULL};

    pthread_setname_np(pthread_self(), "anyedge-health");
    while (1) {
        pthread_mutex_lock(&health.lock);
        int exiting = health.exiting, drain = health.stop_wished || health.drain_signalled;
        pthread_mutex_unlock(&health.lock);
        if (exiting)
            break;

        uint64_t now = ae_monotonic_ms();
        run_due_checks(now);
        ae_health_machine_set_draining(&health.machine, drain || drain_file_exists());
        ae_health_state_t before = health.machine.state;
        if (ae_health_machine_step(&health.machine, now))
            ae_log_info("health: %s -> %s", ae_health_state_name(before), ae_health_state_name(health.machine.state));
        announce(ae_health_machine_route(&health.machine), now);
        keep_watchdog_fed(now);
        describe(&json, now);

        pthread_mutex_lock(&health.lock);
        ae_strbuf_t previous = health.json; /* swapped, not copied; describe() reuses the old one */
        health.json = json;
        json = previous;
        health.json_status = ae_health_machine_route(&health.machine) != AE_ROUTE_WITHDRAWN ? 200 : 503;
        health.state = health.machine.state;
        health.route = health.announcer.route;
        health.route_known = health.announcer.known;
        health.announced = !health.announcer.known || health.announcer.route != AE_ROUTE_WITHDRAWN;
        pthread_cond_broadcast(&health.cond);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000L;
        }
        if (!health.exiting)
            pthread_cond_timedwait(&health.cond, &health.lock, &until);
        pthread_mutex_unlock(&health.lock);
    }
    if (health.announcer.attempted && !ae_reload_handing_over())
        announce(AE_ROUTE_WITHDRAWN, ae_monotonic_ms());
    ae_strbuf_free(&json);
    return NULL;
}

void ae_health_get(ae_health_state_t *state, ae_route_t *route, int *known)
{
    pthread_mutex_lock(&health.lock);
    *state = health.state;
    *route = health.route;
    *known = health.route_known;
    pthread_mutex_unlock(&health.lock);
}

static void on_health_request(h2o_req_t *req, void *unused)
{
    pthread_mutex_lock(&health.lock);
    h2o_iovec_t json = h2o_strdup(&req->pool, health.json.buf, health.json.len);
    int status = health.json_status;
    pthread_mutex_unlock(&health.lock);
    ae_admin_send_json(req, status, json.base, json.len);
}

/* ---- module hooks ---- */

static int on_init(ae_server_t *srv)
{
    health.srv = srv;
    ae_health_heartbeats_init(srv->num_threads);
    uint32_t not_run = 0, degrades = 0;
    for (int k = 0; k != AE_CHECK_COUNT; ++k) {
        not_run |= (uint32_t)!ae_health_conf.checks[k].enabled << k;
        degrades |= (uint32_t)ae_health_conf.checks[k].degrades << k;
    }
    ae_health_machine_init(&health.machine, &ae_health_conf.rules, AE_CHECK_COUNT, not_run, degrades, ae_monotonic_ms());
    ae_announcer_init(&health.announcer, &ae_health_conf);
    ae_strbuf_append(&health.json, H2O_STRLIT("{\"state\":\"init\"}\n"));
    health.json_status = 503;
    if (ae_admin_enabled())
        ae_admin_add_path("/health", 0, on_health_request, NULL);
    return 0;
}

static void on_thread_init(ae_server_t *srv, ae_thread_t *thread)
{
    ae_health_heartbeat_start(thread);
    /* the first worker brings up the health thread: srv->threads exists from then on */
    if (thread->index == 0 && pthread_create(&health.tid, NULL, health_main, NULL) == 0)
        health.running = 1;
}

static void on_thread_dispose(ae_server_t *srv, ae_thread_t *thread)
{
    ae_health_heartbeat_stop(thread);
}

static void on_drain_signal(ae_server_t *srv)
{
    pthread_mutex_lock(&health.lock);
    health.drain_signalled = 1;
    pthread_cond_broadcast(&health.cond);
    pthread_mutex_unlock(&health.lock);
}

/* SIGTERM/SIGINT: withdraw while still serving, then give traffic drain-timeout to move. */
static void on_stop(ae_server_t *srv)
{
    if (!health.running || ae_reload_handing_over())
        return; /* handing over: the route stays for the new process */
    pthread_mutex_lock(&health.lock);
    int was_announced = health.announced;
    health.stop_wished = 1;
    pthread_cond_broadcast(&health.cond);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (ae_health_conf.announcer.timeout_ms + 1000) / 1000 + 1;
    while (health.announced && ae_health_conf.announcer.driver != AE_ANNOUNCER_NONE &&
           pthread_cond_timedwait(&health.cond, &health.lock, &until) == 0)
        ;
    int withdrawn = !health.announced;
    pthread_mutex_unlock(&health.lock);

    if (!was_announced || ae_health_conf.announcer.driver == AE_ANNOUNCER_NONE)
        return;
    if (!withdrawn)
        ae_log_warn("the route may still be announced: the announcer did not confirm the withdrawal");
    ae_log_info("route withdrawn: serving for another %llums (health.drain-timeout) while traffic moves",
                (unsigned long long)ae_health_conf.drain_timeout_ms);
    usleep(ae_health_conf.drain_timeout_ms * 1000);
}

static void on_shutdown(ae_server_t *srv)
{
    if (health.running) {
        pthread_mutex_lock(&health.lock);
        health.exiting = 1;
        pthread_cond_broadcast(&health.cond);
        pthread_mutex_unlock(&health.lock);
        pthread_join(health.tid, NULL);
        health.running = 0;
    }
    ae_announcer_dispose(&health.announcer);
    ae_health_heartbeats_free();
}

/* ---- commands ---- */

static int run_drain(ae_server_t *srv, int argc, char **argv)
{
    if (ae_health_conf.drain_file == NULL) {
        fprintf(stderr, "anyedge drain: no health.drain-file in %s\n", srv->config_path);
        return 1;
    }
    int fd = open(ae_health_conf.drain_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        fprintf(stderr, "anyedge drain: cannot create %s: %s\n", ae_health_conf.drain_file, strerror(errno));
        return 1;
    }
    close(fd);
    printf("%s created: the node withdraws its route and keeps serving (undo with `anyedge undrain`)\n", ae_health_conf.drain_file);
    return 0;
}

static int run_undrain(ae_server_t *srv, int argc, char **argv)
{
    if (ae_health_conf.drain_file == NULL) {
        fprintf(stderr, "anyedge undrain: no health.drain-file in %s\n", srv->config_path);
        return 1;
    }
    if (unlink(ae_health_conf.drain_file) != 0 && errno != ENOENT) {
        fprintf(stderr, "anyedge undrain: cannot remove %s: %s\n", ae_health_conf.drain_file, strerror(errno));
        return 1;
    }
    printf("%s removed: the node announces again once its checks have risen\n", ae_health_conf.drain_file);
    return 0;
}

static int run_withdraw(ae_server_t *srv, int argc, char **argv)
{
    ae_announcer_t announcer;
    int status = 0;

    switch (ae_health_conf.announcer.driver) {
    case AE_ANNOUNCER_NONE:
        fprintf(stderr, "anyedge withdraw: no health.announcer in %s\n", srv->config_path);
        return 1;
    case AE_ANNOUNCER_EXABGP:
        printf("nothing to do: `anyedge exabgp` withdraws as soon as the daemon stops answering\n");
        return 0;
    default:
        break;
    }
    ae_announcer_init(&announcer, &ae_health_conf);
    if (ae_announcer_apply(&announcer, AE_ROUTE_WITHDRAWN, 0) == 0) {
        printf("withdrawn (%s)\n", announcer.detail);
    } else {
        fprintf(stderr, "anyedge withdraw: %s\n", announcer.detail);
        status = 1;
    }
    ae_announcer_dispose(&announcer);
    return status;
}

static const ae_command_t commands[] = {
    {"drain", "drain       withdraw the route and keep serving (creates health.drain-file)", run_drain},
    {"undrain", "undrain     end a drain (removes health.drain-file)", run_undrain},
    {"withdraw", "withdraw    withdraw the route through the announcer now (e.g. after a crash)", run_withdraw},
    {"exabgp", "exabgp      the process ExaBGP runs: prints announce/withdraw as the daemon's health says", ae_health_run_exabgp},
    {NULL},
};

/* ---- config ---- */

/* The defaults, set when the first health key is read or when the config is done, whichever comes
 * first (and again after a dispose). */
static int defaults_set;

static void ensure_defaults(void)
{
    if (defaults_set)
        return;
    defaults_set = 1;
    ae_health_conf_t *c = &ae_health_conf;
    c->rules = (ae_health_rules_t){
        .rise = 3, .fall = 1, .flap_window_ms = 60000, .flap_threshold = 3, .hold_down_ms = 10000, .max_hold_down_ms = 300000};
    for (int k = 0; k != AE_CHECK_COUNT; ++k)
        c->checks[k] =
            (ae_health_check_t){.name = check_names[k], .enabled = k != AE_CHECK_LOAD, .interval_ms = 1000, .timeout_ms = 1000};
    c->checks[AE_CHECK_WORKERS].timeout_ms = 2000;
    c->checks[AE_CHECK_STORE].timeout_ms = 5000;
    c->self_host = strdup("anyedge-health");
    c->self_path = strdup("/");
    c->drain_timeout_ms = 5000;
    c->announcer.interval_ms = 1000;
    c->announcer.timeout_ms = 2000;
}

static int set_rule_count(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ensure_defaults();
    uint64_t n;
    if (ae_config_uint(cf, value, 1, 1000, &n) != 0)
        return -1;
    unsigned *slot = strcmp(cf->key, "health.rise") == 0   ? &ae_health_conf.rules.rise
                     : strcmp(cf->key, "health.fall") == 0 ? &ae_health_conf.rules.fall
                                                           : &ae_health_conf.rules.flap_threshold;
    *slot = (unsigned)n;
    return 0;
}

static int set_rule_duration(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ensure_defaults();
    static const struct {
        const char *key;
        size_t offset;
    } fields[] = {
        {"health.warmup", offsetof(ae_health_conf_t, rules.warmup_ms)},
        {"health.flap-window", offsetof(ae_health_conf_t, rules.flap_window_ms)},
        {"health.hold-down", offsetof(ae_health_conf_t, rules.hold_down_ms)},
        {"health.max-hold-down", offsetof(ae_health_conf_t, rules.max_hold_down_ms)},
        {"health.drain-timeout", offsetof(ae_health_conf_t, drain_timeout_ms)},
        {"health.announcer.interval", offsetof(ae_health_conf_t, announcer.interval_ms)},
        {"health.announcer.timeout", offsetof(ae_health_conf_t, announcer.timeout_ms)},
    };
    for (size_t i = 0; i != sizeof(fields) / sizeof(fields[0]); ++i)
        if (strcmp(cf->key, fields[i].key) == 0)
            return ae_config_duration_ms(cf, value, (uint64_t *)((char *)&ae_health_conf + fields[i].offset));
    return ae_config_error(cf, value, "'%s': not a duration key", cf->key);
}

static int set_string(ae_config_t *cf, yaml_node_t *value, char **slot)
{
    ensure_defaults();
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    if (s[0] == '\0')
        return ae_config_error(cf, value, "'%s': must not be empty", cf->key);
    free(*slot);
    *slot = strdup(s);
    return 0;
}

static int set_drain_file(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_string(cf, value, &ae_health_conf.drain_file);
}

static int set_max_in_flight(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ensure_defaults();
    ae_health_conf.checks[AE_CHECK_LOAD].enabled = 1;
    return ae_config_uint(cf, value, 1, UINT32_MAX, &ae_health_conf.max_in_flight);
}

/* health.checks.NAME.FIELD */
static int set_check_key(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ensure_defaults();
    const char *rest = cf->key + sizeof("health.checks.") - 1, *dot = strchr(rest, '.');
    for (int k = 0; k != AE_CHECK_COUNT; ++k) {
        ae_health_check_t *c = &ae_health_conf.checks[k];
        if (strlen(check_names[k]) != (size_t)(dot - rest) || strncmp(rest, check_names[k], dot - rest) != 0)
            continue;
        if (strcmp(dot, ".enabled") == 0)
            return ae_config_bool(cf, value, &c->enabled);
        if (strcmp(dot, ".on-fail") == 0) {
            static const char *const choices[] = {"withdraw", "degrade", NULL};
            return ae_config_choice(cf, value, choices, &c->degrades);
        }
        if (strcmp(dot, ".interval") == 0)
            return ae_config_duration_ms(cf, value, &c->interval_ms);
        return ae_config_duration_ms(cf, value, &c->timeout_ms);
    }
    return ae_config_error(cf, value, "'%s': no such check", cf->key);
}

static int set_self_host(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_string(cf, value, &ae_health_conf.self_host);
}

static int set_self_path(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (set_string(cf, value, &ae_health_conf.self_path) != 0)
        return -1;
    if (ae_health_conf.self_path[0] != '/' || strpbrk(ae_health_conf.self_path, " \r\n") != NULL)
        return ae_config_error(cf, value, "'%s': expected a path starting with '/', without spaces", cf->key);
    return 0;
}

static int set_origins_rule(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ensure_defaults();
    static const char *const choices[] = {"any", "all", NULL};
    int i;
    if (ae_config_choice(cf, value, choices, &i) != 0)
        return -1;
    ae_health_conf.origins_rule = i;
    return 0;
}

static int set_driver(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ensure_defaults();
    static const char *const choices[] = {"none", "bird", "exabgp", "exec", NULL};
    int i;
    if (ae_config_choice(cf, value, choices, &i) != 0)
        return -1;
    ae_health_conf.announcer.driver = i;
    return 0;
}

static int set_announcer_string(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    char **slot = strcmp(cf->key, "health.announcer.socket") == 0                ? &ae_health_conf.announcer.socket
                  : strcmp(cf->key, "health.announcer.next-hop") == 0            ? &ae_health_conf.announcer.next_hop
                  : strcmp(cf->key, "health.announcer.degraded-attributes") == 0 ? &ae_health_conf.announcer.degraded_attributes
                                                                                 : &ae_health_conf.announcer.command;
    return set_string(cf, value, slot);
}

static int is_prefix(const char *s)
{
    char addr[64];
    unsigned char buf[16];
    const char *slash = strchr(s, '/');
    if (slash == NULL || (size_t)(slash - s) >= sizeof(addr))
        return 0;
    memcpy(addr, s, slash - s);
    addr[slash - s] = '\0';
    char *end;
    long len = strtol(slash + 1, &end, 10);
    if (*end != '\0' || slash[1] == '\0')
        return 0;
    if (inet_pton(AF_INET, addr, buf) == 1)
        return len >= 0 && len <= 32;
    return inet_pton(AF_INET6, addr, buf) == 1 && len >= 0 && len <= 128;
}

static int set_name_list(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ensure_defaults();
    int prefixes = strcmp(cf->key, "health.announcer.prefixes") == 0;
    ae_name_list_t *list = prefixes ? &ae_health_conf.announcer.prefixes
                           : strcmp(cf->key, "health.announcer.degraded-protocols") == 0
                               ? &ae_health_conf.announcer.degraded_protocols
                               : &ae_health_conf.announcer.protocols;
    if (ae_config_expect(cf, value, YAML_SEQUENCE_NODE) != 0)
        return -1;
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        const char *s = ae_config_scalar(cf, item);
        if (s == NULL)
            return -1;
        if (prefixes ? !is_prefix(s) : (s[0] == '\0' || strpbrk(s, " \t\r\n") != NULL))
            return ae_config_error(cf, item, "'%s': bad %s '%s'%s", cf->key, prefixes ? "prefix" : "protocol name", s,
                                   prefixes ? " (expected e.g. 203.0.113.1/32 or 2001:db8::1/128)" : "");
        h2o_vector_reserve(NULL, list, list->size + 1);
        list->entries[list->size++] = strdup(s);
    }
    if (list->size == 0)
        return ae_config_error(cf, value, "'%s': the list is empty", cf->key);
    return 0;
}

static int on_config_done(ae_config_t *cf, ae_server_t *srv)
{
    ae_health_conf_t *c = &ae_health_conf;
    int degrading = 0;
    ensure_defaults();
    for (int k = 0; k != AE_CHECK_COUNT; ++k)
        degrading |= c->checks[k].enabled && c->checks[k].degrades;
    switch (c->announcer.driver) {
    case AE_ANNOUNCER_BIRD:
        if (c->announcer.protocols.size == 0) { /* those of etc/bird/anyedge.conf */
            h2o_vector_reserve(NULL, &c->announcer.protocols, 2);
            c->announcer.protocols.entries[c->announcer.protocols.size++] = strdup("anyedge_anycast");
            c->announcer.protocols.entries[c->announcer.protocols.size++] = strdup("anyedge_anycast6");
        }
        if (c->announcer.socket == NULL)
            c->announcer.socket = strdup("/run/bird/bird.ctl");
        if (degrading && c->announcer.degraded_protocols.size == 0)
            return ae_config_error_at(cf, 1,
                                      "a check with 'on-fail: degrade' needs 'health.announcer.degraded-protocols' (BIRD protocols "
                                      "that announce the prefixes de-preferred, e.g. [anyedge_anycast_degraded])");
        break;
    case AE_ANNOUNCER_EXABGP:
        if (c->announcer.prefixes.size == 0)
            return ae_config_error_at(cf, 1, "'health.announcer.driver: exabgp' needs 'health.announcer.prefixes'");
        if (!ae_admin_enabled())
            return ae_config_error_at(
                cf, 1, "'health.announcer.driver: exabgp' needs 'admin.listen' (`anyedge exabgp` reads /health there)");
        if (c->announcer.next_hop == NULL)
            c->announcer.next_hop = strdup("self");
        if (c->announcer.degraded_attributes == NULL)
            c->announcer.degraded_attributes = strdup("med 1000");
        break;
    case AE_ANNOUNCER_EXEC:
        if (c->announcer.command == NULL)
            return ae_config_error_at(cf, 1, "'health.announcer.driver: exec' needs 'health.announcer.command'");
        break;
    default:
        break;
    }
    return 0;
}

static void on_dispose(ae_server_t *srv)
{
    ae_health_conf_t *c = &ae_health_conf;
    ae_strbuf_free(&health.json);
    free(c->self_host);
    free(c->self_path);
    free(c->drain_file);
    free(c->announcer.socket);
    free(c->announcer.next_hop);
    free(c->announcer.command);
    free(c->announcer.degraded_attributes);
    for (size_t i = 0; i != c->announcer.degraded_protocols.size; ++i)
        free(c->announcer.degraded_protocols.entries[i]);
    free(c->announcer.degraded_protocols.entries);
    for (size_t i = 0; i != c->announcer.protocols.size; ++i)
        free(c->announcer.protocols.entries[i]);
    for (size_t i = 0; i != c->announcer.prefixes.size; ++i)
        free(c->announcer.prefixes.entries[i]);
    free(c->announcer.protocols.entries);
    free(c->announcer.prefixes.entries);
    memset(c, 0, sizeof(*c));
    defaults_set = 0;
}

#define CHECK_KEYS(name)                                                                                                           \
    {"health.checks." name ".enabled", AE_SCOPE_GLOBAL, set_check_key},                                                            \
        {"health.checks." name ".interval", AE_SCOPE_GLOBAL, set_check_key},                                                       \
        {"health.checks." name ".timeout", AE_SCOPE_GLOBAL, set_check_key},                                                        \
    {                                                                                                                              \
        "health.checks." name ".on-fail", AE_SCOPE_GLOBAL, set_check_key                                                           \
    }

static const ae_directive_t directives[] = {
    {"health.rise", AE_SCOPE_GLOBAL, set_rule_count},
    {"health.fall", AE_SCOPE_GLOBAL, set_rule_count},
    {"health.flap-threshold", AE_SCOPE_GLOBAL, set_rule_count},
    {"health.warmup", AE_SCOPE_GLOBAL, set_rule_duration},
    {"health.flap-window", AE_SCOPE_GLOBAL, set_rule_duration},
    {"health.hold-down", AE_SCOPE_GLOBAL, set_rule_duration},
    {"health.max-hold-down", AE_SCOPE_GLOBAL, set_rule_duration},
    {"health.drain-file", AE_SCOPE_GLOBAL, set_drain_file},
    {"health.drain-timeout", AE_SCOPE_GLOBAL, set_rule_duration},
    {"health.max-in-flight", AE_SCOPE_GLOBAL, set_max_in_flight},
    CHECK_KEYS("workers"),
    CHECK_KEYS("self"),
    CHECK_KEYS("origins"),
    CHECK_KEYS("store"),
    {"health.checks.load.interval", AE_SCOPE_GLOBAL, set_check_key},
    {"health.checks.load.on-fail", AE_SCOPE_GLOBAL, set_check_key},
    {"health.checks.self.host", AE_SCOPE_GLOBAL, set_self_host},
    {"health.checks.self.path", AE_SCOPE_GLOBAL, set_self_path},
    {"health.checks.origins.require", AE_SCOPE_GLOBAL, set_origins_rule},
    {"health.announcer.driver", AE_SCOPE_GLOBAL, set_driver},
    {"health.announcer.socket", AE_SCOPE_GLOBAL, set_announcer_string},
    {"health.announcer.protocols", AE_SCOPE_GLOBAL, set_name_list},
    {"health.announcer.prefixes", AE_SCOPE_GLOBAL, set_name_list},
    {"health.announcer.degraded-protocols", AE_SCOPE_GLOBAL, set_name_list},
    {"health.announcer.degraded-attributes", AE_SCOPE_GLOBAL, set_announcer_string},
    {"health.announcer.next-hop", AE_SCOPE_GLOBAL, set_announcer_string},
    {"health.announcer.command", AE_SCOPE_GLOBAL, set_announcer_string},
    {"health.announcer.interval", AE_SCOPE_GLOBAL, set_rule_duration},
    {"health.announcer.timeout", AE_SCOPE_GLOBAL, set_rule_duration},
    {NULL},
};

ae_module_t ae_health_module = {
    .name = "health",
    .directives = directives,
    .on_config_done = on_config_done,
    .on_init = on_init,
    .on_thread_init = on_thread_init,
    .on_thread_dispose = on_thread_dispose,
    .on_stop = on_stop,
    .on_drain_signal = on_drain_signal,
    .on_shutdown = on_shutdown,
    .on_dispose = on_dispose,
    .commands = commands,
};
