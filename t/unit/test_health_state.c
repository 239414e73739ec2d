/*
 * Unit tests of the health state machine (modules/health/state.c): rise and fall, warm-up, drain,
 * and flap damping with a growing hold-down.
 */
#include "modules/health/state.h"
#include "t/unit/tap.h"

static const ae_health_rules_t rules = {.rise = 3, .fall = 2, .warmup_ms = 0, .flap_window_ms = 60000, .flap_threshold = 2,
                                        .hold_down_ms = 10000, .max_hold_down_ms = 25000};

/* Reports the same result for every check `times` times, stepping at `now` after each. */
static void feed(ae_health_machine_t *m, int passed, int times, uint64_t now)
{
    for (int t = 0; t != times; ++t) {
        for (size_t i = 0; i != m->num_checks; ++i)
            ae_health_machine_report(m, i, passed);
        ae_health_machine_step(m, now);
    }
}

static void rise_and_fall(void)
{
    ae_health_machine_t m;
    ae_health_machine_init(&m, &rules, 2, 0, 0, 0);
    ok(m.state == AE_HEALTH_INIT && !(ae_health_machine_route(&m) == AE_ROUTE_ANNOUNCED), "starts in init, withdrawn");
    feed(&m, 1, 2, 100);
    ok(m.state == AE_HEALTH_INIT, "two passes of three: still init");
    feed(&m, 1, 1, 200);
    ok(m.state == AE_HEALTH_UP && (ae_health_machine_route(&m) == AE_ROUTE_ANNOUNCED), "the third pass: up, announced");
    ae_health_machine_report(&m, 0, 0);
    ae_health_machine_step(&m, 300);
    ok(m.state == AE_HEALTH_UP, "one failure of fall=2: still up");
    ae_health_machine_report(&m, 0, 1);
    ae_health_machine_report(&m, 0, 0);
    ae_health_machine_step(&m, 400);
    ok(m.state == AE_HEALTH_UP, "failures that are not consecutive do not count");
    ae_health_machine_report(&m, 0, 0);
    ae_health_machine_step(&m, 500);
    ok(m.state == AE_HEALTH_DOWN && !(ae_health_machine_route(&m) == AE_ROUTE_ANNOUNCED), "two consecutive failures of one check: down");
    ae_health_machine_report(&m, 0, 1);
    ae_health_machine_report(&m, 0, 1);
    ae_health_machine_step(&m, 600);
    ok(m.state == AE_HEALTH_DOWN, "two passes: still down (rise 3)");
    ae_health_machine_report(&m, 0, 1);
    ae_health_machine_step(&m, 700);
    ok(m.state == AE_HEALTH_UP, "the third pass: up again (one flap is not damped)");
}

static void not_run_checks(void)
{
    ae_health_machine_t m;
    ae_health_machine_init(&m, &rules, 3, 1u << 2, 0, 0);
    for (int t = 0; t != 3; ++t) {
        ae_health_machine_report(&m, 0, 1);
        ae_health_machine_report(&m, 1, 1);
    }
    ae_health_machine_step(&m, 10);
    ok(m.state == AE_HEALTH_UP, "a check that does not run does not hold the node down");
}

static void warmup(void)
{
    ae_health_rules_t r = rules;
    r.warmup_ms = 5000;
    ae_health_machine_t m;
    ae_health_machine_init(&m, &r, 1, 0, 0, 1000);
    feed(&m, 1, 3, 2000);
    ok(m.state == AE_HEALTH_INIT, "healthy but within the warm-up: init");
    ae_health_machine_step(&m, 6000);
    ok(m.state == AE_HEALTH_UP, "warm-up over: up");
}

static void drain(void)
{
    ae_health_machine_t m;
    ae_health_machine_init(&m, &rules, 1, 0, 0, 0);
    feed(&m, 1, 3, 100);
    ae_health_machine_set_draining(&m, 1);
    ae_health_machine_step(&m, 200);
    ok(m.state == AE_HEALTH_DRAINING && !(ae_health_machine_route(&m) == AE_ROUTE_ANNOUNCED), "drain: draining, withdrawn");
    feed(&m, 1, 5, 300);
    ok(m.state == AE_HEALTH_DRAINING, "healthy checks do not end a drain");
    ae_health_machine_set_draining(&m, 0);
    ae_health_machine_step(&m, 400);
    ok(m.state == AE_HEALTH_INIT, "drain lifted: init");
    ae_health_machine_step(&m, 500);
    ok(m.state == AE_HEALTH_INIT, "and the checks must rise again");
    feed(&m, 1, 3, 600);
    ok(m.state == AE_HEALTH_UP, "up after rise passes");
    ae_health_machine_init(&m, &rules, 1, 0, 0, 0);
    ae_health_machine_set_draining(&m, 1);
    ae_health_machine_step(&m, 10);
    ok(m.state == AE_HEALTH_DRAINING, "a drain also holds a node that never came up");
}

/* Brings a node that is up down and up again at `now` (fall 2, rise 3). */
static void flap(ae_health_machine_t *m, uint64_t now)
{
    feed(m, 0, 2, now);
    feed(m, 1, 3, now + 1);
}

static void flap_damping(void)
{
    ae_health_machine_t m;
    ae_health_machine_init(&m, &rules, 1, 0, 0, 0);
    feed(&m, 1, 3, 0);
    flap(&m, 1000);
    ok(m.state == AE_HEALTH_UP, "first flap: back up at once");
    flap(&m, 2000);
    ok(m.state == AE_HEALTH_DOWN && m.held_until == 2000 + 10000, "second flap within the window: held down for hold-down (10s)");
    ae_health_machine_step(&m, 11999);
    ok(m.state == AE_HEALTH_DOWN, "still held just before it ends");
    ae_health_machine_step(&m, 12000);
    ok(m.state == AE_HEALTH_UP, "up when the hold-down ends");
    flap(&m, 13000);
    ok(m.state == AE_HEALTH_DOWN && m.held_until == 13000 + 20000, "third flap: the hold-down doubles (20s)");
    ae_health_machine_step(&m, 33000);
    flap(&m, 34000);
    ok(m.state == AE_HEALTH_DOWN && m.held_until == 34000 + 25000, "fourth flap: capped at max-hold-down (25s)");
    ae_health_machine_step(&m, 59000);
    ok(m.state == AE_HEALTH_UP, "up after it");
    flap(&m, 200000);
    ok(m.state == AE_HEALTH_UP, "a flap after the window has passed is the first again: not held");
}

static void degraded(void)
{
    ae_health_machine_t m;
    ae_health_machine_init(&m, &rules, 2, 0, 1u << 1, 0); /* check 1 only degrades */
    for (int t = 0; t != 3; ++t)
        ae_health_machine_report(&m, 0, 1);
    ae_health_machine_step(&m, 10);
    ok(m.state == AE_HEALTH_DEGRADED && ae_health_machine_route(&m) == AE_ROUTE_DEGRADED,
       "the essential check up, the degrading one not yet: degraded, announced de-preferred");
    for (int t = 0; t != 3; ++t)
        ae_health_machine_report(&m, 1, 1);
    ae_health_machine_step(&m, 20);
    ok(m.state == AE_HEALTH_UP && ae_health_machine_route(&m) == AE_ROUTE_ANNOUNCED, "both up: up");
    ae_health_machine_report(&m, 1, 0);
    ae_health_machine_report(&m, 1, 0);
    ae_health_machine_step(&m, 30);
    ok(m.state == AE_HEALTH_DEGRADED, "the degrading check down: degraded, not down");
    ae_health_machine_report(&m, 0, 0);
    ae_health_machine_report(&m, 0, 0);
    ae_health_machine_step(&m, 40);
    ok(m.state == AE_HEALTH_DOWN && ae_health_machine_route(&m) == AE_ROUTE_WITHDRAWN, "the essential check down too: down, withdrawn");
    for (int t = 0; t != 3; ++t)
        ae_health_machine_report(&m, 0, 1);
    ae_health_machine_step(&m, 50);
    ok(m.state == AE_HEALTH_DEGRADED, "essential back, degrading still down: degraded");
    ok(m.num_flaps == 1, "DEGRADED -> DOWN counted as a flap");
}

int main(void)
{
    degraded();
    rise_and_fall();
    not_run_checks();
    warmup();
    drain();
    flap_damping();
    return done_testing();
}
