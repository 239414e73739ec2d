/*
 * Live reload (see reload.h). The old process talks to the new one through a pipe whose write end
 * the new one inherits (its number in $ANYEDGE_RELOAD_FD): one byte when it serves, or EOF if it
 * dies first. Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "server/log.h"
#include "server/notify.h"
#include "server/reload.h"

#define READY_TIMEOUT_MS 30000
#define RELOAD_FD_ENV "ANYEDGE_RELOAD_FD"

extern char **environ;
static int handing_over; /* atomic: set on the main thread, read by the health thread */

int ae_reload_handing_over(void)
{
    return __atomic_load_n(&handing_over, __ATOMIC_ACQUIRE);
}

int ae_reload_is_takeover(void)
{
    return getenv(RELOAD_FD_ENV) != NULL;
}

void ae_reload_notify_ready(void)
{
    const char *fd = getenv(RELOAD_FD_ENV);
    if (fd == NULL)
        return;
    int n = atoi(fd);
    if (write(n, "R", 1) != 1)
        ae_log_warn("reload: could not tell the old process that this one serves: %s", strerror(errno));
    close(n);
}

/* Starts this binary with argv; the child gets default signal handling and no blocked signals. */
static pid_t spawn_self(char *const *argv, char **envp, posix_spawn_file_actions_t *actions)
{
    posix_spawnattr_t attr;
    sigset_t none, all;
    pid_t pid;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int err = posix_spawn(&pid, "/proc/self/exe", actions, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    if (err != 0) {
        ae_log_error("reload: cannot start %s: %s", argv[0], strerror(err));
        return -1;
    }
    return pid;
}

/* `anyedge -t -c FILE`: 0 if the file loads; otherwise logs what the check said. */
static int check_config(ae_server_t *srv)
{
    char *argv[] = {"anyedge", "-t", "-c", (char *)srv->config_path, NULL}, said[2048];
    int out[2], status;
    size_t len = 0;
    ssize_t n;
    posix_spawn_file_actions_t actions;

    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 2);
    pid_t pid = spawn_self(argv, environ, &actions);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    while (pid != -1 && (n = read(out[0], said + len, sizeof(said) - 1 - len)) > 0)
        len += n;
    close(out[0]);
    said[len] = '\0';
    if (pid == -1 || waitpid(pid, &status, 0) != pid)
        return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (len != 0 && said[len - 1] == '\n')
        said[len - 1] = '\0';
    ae_log_error("reload refused, the running configuration stays: %s", said);
    return -1;
}

/* The environment with ANYEDGE_RELOAD_FD=fd added and WATCHDOG_PID removed (the strings point into
 * `buf` and environ). */
static char **environment_with_fd(int fd, char *buf, size_t buf_size)
{
    size_t n = 0;
    while (environ[n] != NULL)
        ++n;
    char **envp = calloc(n + 2, sizeof(*envp));
    size_t kept = 0;
    /* WATCHDOG_PID names this process: without it the new one feeds systemd's watchdog itself */
    for (size_t i = 0; i != n; ++i)
        if (strncmp(environ[i], RELOAD_FD_ENV "=", sizeof(RELOAD_FD_ENV)) != 0 && strncmp(environ[i], "WATCHDOG_PID=", 13) != 0)
            envp[kept++] = environ[i];
    snprintf(buf, buf_size, RELOAD_FD_ENV "=%d", fd);
    envp[kept] = buf;
    return envp;
}

int ae_reload(ae_server_t *srv)
{
    char *argv[] = {"anyedge", "-c", (char *)srv->config_path, NULL}, env_fd[64], byte;
    int ready[2];

    ae_log_info("received SIGHUP: reloading %s", srv->config_path);
    if (check_config(srv) != 0)
        return 0;
    if (pipe(ready) != 0) { /* the write end must survive the exec */
        ae_log_error("reload: pipe: %s", strerror(errno));
        return 0;
    }
    fcntl(ready[0], F_SETFD, FD_CLOEXEC);
    char **envp = environment_with_fd(ready[1], env_fd, sizeof(env_fd));
    pid_t pid = spawn_self(argv, envp, NULL);
    free(envp);
    close(ready[1]);
    if (pid == -1) {
        close(ready[0]);
        return 0;
    }
    struct pollfd pfd = {.fd = ready[0], .events = POLLIN};
    int polled = poll(&pfd, 1, READY_TIMEOUT_MS);
    int served = polled == 1 && read(ready[0], &byte, 1) == 1;
    close(ready[0]);
    if (!served) {
        ae_log_error("reload: the new process (pid %d) %s; this one carries on", (int)pid,
                     polled == 0 ? "did not start serving in time" : "exited");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return 0;
    }
    char mainpid[64];
    snprintf(mainpid, sizeof(mainpid), "MAINPID=%d", (int)pid);
    ae_notify(mainpid);
    ae_log_info("reload: process %d serves now; this one (%d) finishes its requests and exits", (int)pid, (int)getpid());
    __atomic_store_n(&handing_over, 1, __ATOMIC_RELEASE);
    return 1;
}
