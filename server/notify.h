/*
 * systemd's notification protocol, without libsystemd: a datagram of "KEY=VALUE" lines to the unix
 * socket named by $NOTIFY_SOCKET (a path, or '@' for the abstract namespace). Does nothing when the
 * variable is unset (not started by systemd with Type=notify). Any thread.
 */
#ifndef ANYEDGE_NOTIFY_H
#define ANYEDGE_NOTIFY_H

#include <stdint.h>

/* Sends e.g. "READY=1", "STOPPING=1", "WATCHDOG=1"; returns 0 when sent or not asked for. */
int ae_notify(const char *state);
/* The watchdog period systemd asked for ($WATCHDOG_USEC, for this process), in ms; 0 if none. */
uint64_t ae_notify_watchdog_ms(void);

#endif
