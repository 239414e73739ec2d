/*
 * The health module's shared pieces: its settings (the `health:` mapping), the checks, and the
 * announcer that carries the node's state to the local BGP speaker.
 *
 * Settings are filled on the main thread while the config loads and read-only afterwards. A check's
 * and the announcer's runtime fields belong to the health thread (or to a command's main thread).
 */
#ifndef ANYEDGE_HEALTH_H
#define ANYEDGE_HEALTH_H

#include "modules/health/bird.h"
#include "modules/health/state.h"
#include "server/server.h"

typedef enum { AE_CHECK_WORKERS, AE_CHECK_SELF, AE_CHECK_ORIGINS, AE_CHECK_STORE, AE_CHECK_LOAD, AE_CHECK_COUNT } ae_check_kind_t;
typedef enum { AE_ANNOUNCER_NONE, AE_ANNOUNCER_BIRD, AE_ANNOUNCER_EXABGP, AE_ANNOUNCER_EXEC } ae_announcer_driver_t;
typedef enum { AE_ORIGINS_ANY, AE_ORIGINS_ALL } ae_origins_rule_t;

typedef H2O_VECTOR(char *) ae_name_list_t;

typedef struct ae_health_check {
    const char *name;
    int enabled;
    int degrades; /* when down: the node is degraded (route de-preferred), not down */
    uint64_t interval_ms, timeout_ms;
    /* runtime */
    uint64_t due_at;
    int ran, passed;
    uint64_t took_ms;
    char detail[160];
} ae_health_check_t;

typedef struct ae_health_conf {
    ae_health_rules_t rules;
    ae_health_check_t checks[AE_CHECK_COUNT];
    char *self_host, *self_path;
    ae_origins_rule_t origins_rule;
    uint64_t max_in_flight;
    char *drain_file;
    uint64_t drain_timeout_ms;
    struct {
        ae_announcer_driver_t driver;
        char *socket; /* BIRD's control socket */
        ae_name_list_t protocols;
        ae_name_list_t degraded_protocols; /* bird: enabled instead of `protocols` when degraded */
        ae_name_list_t prefixes;
        char *degraded_attributes; /* exabgp: appended to the announcements when degraded */
        char *next_hop;            /* ExaBGP */
        char *command;             /* exec */
        uint64_t interval_ms, timeout_ms;
    } announcer;
} ae_health_conf_t;

extern ae_health_conf_t ae_health_conf;
extern ae_module_t ae_health_module;

/* The node's state and the route the announcer last confirmed (known: 0 when the last attempt
 * failed), for metrics; any thread. */
void ae_health_get(ae_health_state_t *state, ae_route_t *route, int *known);

/* checks.c: runs one check now; returns 1 if it passed, with what it saw in check->detail. Health thread. */
int ae_health_run_check(ae_server_t *srv, ae_check_kind_t kind, ae_health_check_t *check);
/* checks.c: the worker heartbeats (each worker notes its loop is turning a few times a second);
 * init/free on the main thread around the workers' lives, start/stop on each worker. */
void ae_health_heartbeats_init(size_t num_threads);
void ae_health_heartbeats_free(void);
void ae_health_heartbeat_start(ae_thread_t *thread);
void ae_health_heartbeat_stop(ae_thread_t *thread);

/* announcer.c: carries "announce" or "withdraw" to the configured driver. */
typedef struct ae_announcer {
    const ae_health_conf_t *conf;
    ae_bird_t bird;
    int attempted;    /* applied at least once */
    int known;        /* the driver confirmed `route` */
    ae_route_t route; /* the state last applied */
    int corrected;    /* the last apply found the driver in the other state and set it again */
    uint64_t applied_at;
    char detail[256];
} ae_announcer_t;

void ae_announcer_init(ae_announcer_t *a, const ae_health_conf_t *conf);
/* Applies the wanted state when it changed, or when the last apply is older than the re-assert
 * interval (BIRD) or failed; returns 0 when the driver has it, -1 (detail says why) when not. */
int ae_announcer_apply(ae_announcer_t *a, ae_route_t route, uint64_t now_ms);
void ae_announcer_dispose(ae_announcer_t *a);
const char *ae_announcer_driver_name(ae_announcer_driver_t driver);

/* exabgp.c: `anyedge exabgp -c FILE`, the process ExaBGP runs. */
int ae_health_run_exabgp(ae_server_t *srv, int argc, char **argv);

#endif
