/*
 * Live reload (SIGHUP), the way that changes every key, listeners included: the file is checked
 * by a `anyedge -t` child first (a config that does not load is refused, logged, and the running
 * process carries on); then a new process starts with it, on the same listeners (SO_REUSEPORT) and
 * the same store (LMDB serves several processes), and says when it serves. Then this process
 * hands over: it stops accepting, finishes its in-flight requests and exits, leaving the anycast
 * route as it is (the new process takes it over without withdrawing it first). Under systemd the
 * new process becomes the service's main process (MAINPID). A reload keeps the binary: restart to
 * run a new one.
 *
 * Main thread only.
 */
#ifndef ANYEDGE_RELOAD_H
#define ANYEDGE_RELOAD_H

#include "server/server.h"

/* Returns 1 when a new process has taken over (stop this one, see ae_reload_handing_over), 0 when
 * the reload was refused or failed (logged; keep running). */
int ae_reload(ae_server_t *srv);
/* Is this process stopping because a new one took over? Then it leaves the route alone. */
int ae_reload_handing_over(void);
/* Was this process started by a reload? Then the route is as the old process left it. */
int ae_reload_is_takeover(void);
/* In a process started by a reload, once it serves: tells the old one. */
void ae_reload_notify_ready(void);

#endif
