/*
 * The health state machine (see state.h). Health thread only.
 */
#include <string.h>
#include "modules/health/state.h"

const char *ae_health_state_name(ae_health_state_t state)
{
    static const char *names[] = {[AE_HEALTH_INIT] = "init",
                                  [AE_HEALTH_UP] = "up",
                                  [AE_HEALTH_DEGRADED] = "degraded",
                                  [AE_HEALTH_DOWN] = "down",
                                  [AE_HEALTH_DRAINING] = "draining"};
    return names[state];
}

const char *ae_route_name(ae_route_t route)
{
    static const char *names[] = {
        [AE_ROUTE_WITHDRAWN] = "withdrawn", [AE_ROUTE_ANNOUNCED] = "announced", [AE_ROUTE_DEGRADED] = "degraded"};
    return names[route];
}

static void reset_checks(ae_health_machine_t *m)
{
    for (size_t i = 0; i != m->num_checks; ++i)
        m->checks[i] = (ae_health_check_state_t){.up = (m->not_run >> i) & 1};
}

void ae_health_machine_init(ae_health_machine_t *m, const ae_health_rules_t *rules, size_t num_checks, uint32_t not_run,
                            uint32_t degrades, uint64_t now_ms)
{
    memset(m, 0, sizeof(*m));
    m->rules = rules;
    m->num_checks = num_checks < AE_HEALTH_MAX_CHECKS ? num_checks : AE_HEALTH_MAX_CHECKS;
    m->not_run = not_run;
    m->degrades = degrades;
    m->started_at = m->since = now_ms;
    reset_checks(m);
}

int ae_health_machine_report(ae_health_machine_t *m, size_t check, int passed)
{
    ae_health_check_state_t *c = &m->checks[check];
    int was_up = c->up;
    if (passed) {
        c->failures = 0;
        if (++c->passes >= m->rules->rise)
            c->up = 1;
    } else {
        c->passes = 0;
        if (++c->failures >= m->rules->fall)
            c->up = 0;
    }
    return c->up != was_up;
}

void ae_health_machine_set_draining(ae_health_machine_t *m, int draining)
{
    m->draining = draining;
}

/* Are the checks of the mask (those that degrade, or the others) all up? */
static int checks_up(const ae_health_machine_t *m, int degrading)
{
    for (size_t i = 0; i != m->num_checks; ++i)
        if (((m->degrades >> i) & 1) == (uint32_t)degrading && !m->checks[i].up)
            return 0;
    return 1;
}

/* An UP→DOWN now: forget flaps older than the window, count this one, and hold DOWN if it flaps. */
static void note_flap(ae_health_machine_t *m, uint64_t now)
{
    const ae_health_rules_t *r = m->rules;
    size_t keep = 0;
    for (size_t i = 0; i != m->num_flaps; ++i)
        if (now - m->flaps[i] < r->flap_window_ms)
            m->flaps[keep++] = m->flaps[i];
    if (keep == AE_HEALTH_MAX_FLAPS)
        memmove(m->flaps, m->flaps + 1, --keep * sizeof(m->flaps[0]));
    m->flaps[keep++] = now;
    m->num_flaps = keep;
    if (r->flap_threshold == 0 || keep < r->flap_threshold)
        return;
    uint64_t hold = r->hold_down_ms;
    for (size_t extra = keep - r->flap_threshold; extra != 0 && hold < r->max_hold_down_ms; --extra)
        hold *= 2;
    m->held_until = now + (hold < r->max_hold_down_ms ? hold : r->max_hold_down_ms);
}

static ae_health_state_t next_state(ae_health_machine_t *m, uint64_t now)
{
    int healthy = checks_up(m, 0);
    ae_health_state_t serving = checks_up(m, 1) ? AE_HEALTH_UP : AE_HEALTH_DEGRADED;
    if (m->draining)
        return AE_HEALTH_DRAINING;
    switch (m->state) {
    case AE_HEALTH_DRAINING:
        return AE_HEALTH_INIT;
    case AE_HEALTH_INIT:
        return healthy && now - m->started_at >= m->rules->warmup_ms ? serving : AE_HEALTH_INIT;
    case AE_HEALTH_UP:
    case AE_HEALTH_DEGRADED:
        return healthy ? serving : AE_HEALTH_DOWN;
    case AE_HEALTH_DOWN:
        return healthy && now >= m->held_until ? serving : AE_HEALTH_DOWN;
    }
    return m->state;
}

int ae_health_machine_step(ae_health_machine_t *m, uint64_t now_ms)
{
    ae_health_state_t next = next_state(m, now_ms);
    if (next == AE_HEALTH_INIT && m->state == AE_HEALTH_DRAINING)
        reset_checks(m); /* out of a drain: every check has to rise again */
    if (next == m->state)
        return 0;
    if ((m->state == AE_HEALTH_UP || m->state == AE_HEALTH_DEGRADED) && next == AE_HEALTH_DOWN)
        note_flap(m, now_ms);
    m->state = next;
    m->since = now_ms;
    return 1;
}
