/*
 * The node's health state machine, without I/O: it is fed check results and the drain request
 * with the time, and says whether the anycast route should be announced.
 *
 *   INIT ──all checks up, warm-up over──► UP ──a check down──► DOWN ──all up, hold-down over──► UP
 *     any state ──drain──► DRAINING ──drain lifted──► INIT (checks must rise again)
 *   UP ◄──► DEGRADED: only checks marked "degrade" are down (the route stays, de-preferred);
 *     DEGRADED is reached, and left for DOWN, like UP.
 *
 * A check is up after `rise` consecutive passes and down after `fall` consecutive failures (fail
 * fast, rise slow); it starts down. Flap damping: each UP→DOWN within `flap_window` of the previous
 * ones counts; from `flap_threshold` of them on, DOWN lasts at least a hold-down that starts at
 * `hold_down` and doubles with each further flap, up to `max_hold_down`.
 *
 * The route is announced in UP, announced de-preferred in DEGRADED, withdrawn otherwise. Owned by
 * the health thread; pure functions of their inputs.
 */
#ifndef ANYEDGE_HEALTH_STATE_H
#define ANYEDGE_HEALTH_STATE_H

#include <stddef.h>
#include <stdint.h>

#define AE_HEALTH_MAX_CHECKS 8
#define AE_HEALTH_MAX_FLAPS 32

typedef enum { AE_HEALTH_INIT, AE_HEALTH_UP, AE_HEALTH_DEGRADED, AE_HEALTH_DOWN, AE_HEALTH_DRAINING } ae_health_state_t;
typedef enum { AE_ROUTE_WITHDRAWN, AE_ROUTE_ANNOUNCED, AE_ROUTE_DEGRADED } ae_route_t;

typedef struct ae_health_rules {
    unsigned rise, fall;
    uint64_t warmup_ms;
    uint64_t flap_window_ms;
    unsigned flap_threshold;
    uint64_t hold_down_ms, max_hold_down_ms;
} ae_health_rules_t;

typedef struct ae_health_check_state {
    int up;
    unsigned passes, failures; /* consecutive */
} ae_health_check_state_t;

typedef struct ae_health_machine {
    const ae_health_rules_t *rules;
    ae_health_state_t state;
    uint64_t started_at, since;
    size_t num_checks;
    uint32_t not_run;  /* bit i: check i does not run, and so never holds the node down */
    uint32_t degrades; /* bit i: check i down degrades the node instead of bringing it down */
    ae_health_check_state_t checks[AE_HEALTH_MAX_CHECKS];
    int draining;
    uint64_t flaps[AE_HEALTH_MAX_FLAPS]; /* times of recent UP→DOWN, oldest first */
    size_t num_flaps;
    uint64_t held_until; /* DOWN may not end before this */
} ae_health_machine_t;

void ae_health_machine_init(ae_health_machine_t *m, const ae_health_rules_t *rules, size_t num_checks, uint32_t not_run,
                            uint32_t degrades, uint64_t now_ms);
/* A check's result; returns 1 if the check went up or down with it. */
int ae_health_machine_report(ae_health_machine_t *m, size_t check, int passed);
void ae_health_machine_set_draining(ae_health_machine_t *m, int draining);
/* Moves to the state the inputs call for; returns 1 if the state changed. */
int ae_health_machine_step(ae_health_machine_t *m, uint64_t now_ms);
static inline ae_route_t ae_health_machine_route(const ae_health_machine_t *m)
{
    return m->state == AE_HEALTH_UP ? AE_ROUTE_ANNOUNCED : m->state == AE_HEALTH_DEGRADED ? AE_ROUTE_DEGRADED : AE_ROUTE_WITHDRAWN;
}
const char *ae_health_state_name(ae_health_state_t state);
const char *ae_route_name(ae_route_t route);

#endif
