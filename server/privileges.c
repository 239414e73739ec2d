/*
 * Dropping root (see ae_privileges_drop in server.h). anyedge may start as root to bind ports below
 * 1024 and read private keys that only root can read; the listeners, the keys, the store and the
 * log files are open by the time this runs, so the user needs no access to the keys, and its access
 * to the store and log directories only matters for files opened later (log reopening, a reload).
 *
 * Main thread, once, before the worker threads start (glibc applies set*id to every thread anyway).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "server/log.h"
#include "server/server.h"

int ae_privileges_drop(ae_server_t *srv)
{
    struct passwd *pw;
    gid_t gid;

    if (srv->user == NULL) {
        if (geteuid() == 0)
            ae_log_warn("running as root: set 'user' (and 'group') in the config to drop privileges after binding");
        return 0;
    }
    errno = 0;
    if ((pw = getpwnam(srv->user)) == NULL) {
        ae_log_error("user '%s': %s", srv->user, errno != 0 ? strerror(errno) : "no such user");
        return -1;
    }
    gid = pw->pw_gid;
    if (srv->group != NULL) {
        struct group *gr;
        errno = 0;
        if ((gr = getgrnam(srv->group)) == NULL) {
            ae_log_error("group '%s': %s", srv->group, errno != 0 ? strerror(errno) : "no such group");
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (geteuid() != 0) {
        if (geteuid() == pw->pw_uid && getegid() == gid)
            return 0; /* already that user (e.g. started by systemd with User=) */
        ae_log_error("cannot switch to user '%s': not running as root", srv->user);
        return -1;
    }
    if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0) {
        ae_log_error("cannot switch to user '%s': %s", srv->user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {
        ae_log_error("still able to become root after switching to user '%s'", srv->user);
        return -1;
    }
    ae_log_info("running as user %s (uid %u, gid %u)", pw->pw_name, (unsigned)pw->pw_uid, (unsigned)gid);
    return 0;
}
