/*
 * anyedge's entry point: command line, start-up, signals and shutdown.
 *
 *   anyedge -c FILE       run in the foreground, log to stderr
 *   anyedge -t -c FILE    check the config: exit 0, or 1 with "FILE:LINE: message"
 *   anyedge COMMAND ARGS... -c FILE   an operator command of a module (e.g. `cache stats`, `drain`)
 *   anyedge --version | --help
 *
 * The main thread loads the config, lets modules open their resources, starts the workers and then
 * only waits for signals: SIGHUP reloads the config (reload.c: a new process takes over, this one
 * then stops as below but leaves the route alone), SIGUSR1 asks the modules to reopen their log files
 * (logrotate), SIGUSR2 asks the modules to drain; on SIGTERM/SIGINT the modules stop first
 * (the route is withdrawn while the listeners still serve), then the workers stop gracefully (see
 * worker.c), then modules flush and close.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/framing.h"
#include "server/log.h"
#include "server/notify.h"
#include "server/reload.h"
#include "server/server.h"

static ae_server_t server; /* global so that what it owns stays reachable until exit */

static void usage(FILE *fp)
{
    fprintf(fp, "Usage: anyedge -c FILE        run the edge node in the foreground (logs to stderr)\n"
                "       anyedge -t -c FILE     check the configuration and exit\n"
                "       anyedge --version      print the version\n"
                "       anyedge --help         print this help\n"
                "Commands (each with -c FILE):\n");
    for (ae_module_t **m = ae_modules; *m != NULL; ++m)
        for (const ae_command_t *c = (*m)->commands; c != NULL && c->name != NULL; ++c)
            fprintf(fp, "       anyedge %s\n", c->usage);
}

static int init_modules(ae_server_t *srv)
{
    for (ae_module_t **m = ae_modules; *m != NULL; ++m)
        if ((*m)->on_init != NULL && (*m)->on_init(srv) != 0)
            return -1;
    return 0;
}

static void shutdown_modules(ae_server_t *srv)
{
    for (ae_module_t **m = ae_modules; *m != NULL; ++m)
        if ((*m)->on_shutdown != NULL)
            (*m)->on_shutdown(srv);
}

static void add_handled_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
}

/* Serves SIGHUP (reload), SIGUSR1 (reopen logs) and SIGUSR2 (drain) until SIGTERM or SIGINT arrives,
 * or a reload has handed over to a new process; returns that signal. */
static int wait_for_stop_signal(ae_server_t *srv)
{
    sigset_t set;
    int sig;
    add_handled_signals(&set);
    while (1) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT || (sig == SIGHUP && ae_reload(srv)))
            return sig;
        if (sig == SIGHUP)
            continue;
        ae_log_info(sig == SIGUSR1 ? "received SIGUSR1: reopening log files" : "received SIGUSR2: draining");
        for (ae_module_t **m = ae_modules; *m != NULL; ++m) {
            void (*hook)(ae_server_t *) = sig == SIGUSR1 ? (*m)->on_reopen_logs : (*m)->on_drain_signal;
            if (hook != NULL)
                hook(srv);
        }
    }
}

static void stop_modules(ae_server_t *srv)
{
    for (ae_module_t **m = ae_modules; *m != NULL; ++m)
        if ((*m)->on_stop != NULL)
            (*m)->on_stop(srv);
}

static int run(ae_server_t *srv)
{
    sigset_t set;

    /* other threads inherit this mask: only the main thread takes these signals, through sigwait() */
    signal(SIGPIPE, SIG_IGN);
    add_handled_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    ae_router_register(srv);
    if (ae_framing_init() != 0 || init_modules(srv) != 0)
        return 1;
    if (ae_workers_open(srv) != 0 || ae_privileges_drop(srv) != 0 || ae_workers_start(srv) != 0)
        return 1;
    for (size_t i = 0; i != srv->listen.size; ++i)
        ae_log_info("listening on %s%s", srv->listen.entries[i].text, srv->listen.entries[i].hosts != NULL ? " (admin)" : "");
    ae_log_info("anyedge %s ready (%u threads, %zu sites)", ANYEDGE_VERSION, srv->num_threads, srv->sites.size);
    ae_notify("READY=1");
    ae_reload_notify_ready();

    int sig = wait_for_stop_signal(srv);
    if (sig != SIGHUP) {
        ae_log_info("received %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        ae_notify("STOPPING=1");
    }
    stop_modules(srv);
    ae_log_info("finishing in-flight requests (at most %llums)", (unsigned long long)srv->shutdown_timeout_ms);
    ae_workers_stop(srv);
    shutdown_modules(srv);
    ae_log_info("stopped");
    return 0;
}

/* Loads the config into the server; prints the error and returns -1 when it does not load. */
static int load_config(const char *path)
{
    char err[1024];
    ae_server_init(&server);
    if (ae_server_load_config(&server, path, err, sizeof(err)) == 0)
        return 0;
    fprintf(stderr, "%s\n", err);
    return -1;
}

static const ae_command_t *find_command(const char *name)
{
    for (ae_module_t **m = ae_modules; *m != NULL; ++m)
        for (const ae_command_t *c = (*m)->commands; c != NULL && c->name != NULL; ++c)
            if (strcmp(c->name, name) == 0)
                return c;
    return NULL;
}

/* `anyedge COMMAND ARGS... -c FILE`: the arguments but -c FILE go to the command. */
static int run_command(const ae_command_t *command, int argc, char **argv)
{
    const char *config_path = NULL;
    char **args = calloc(argc + 1, sizeof(*args));
    int nargs = 0, status;

    for (int i = 0; i < argc; ++i) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else
            args[nargs++] = argv[i];
    }
    if (config_path == NULL) {
        usage(stderr);
        free(args);
        return 2;
    }
    status = load_config(config_path) == 0 ? command->run(&server, nargs, args) : 1;
    ae_server_dispose(&server);
    free(args);
    return status;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"test", no_argument, NULL, 't'}, {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},         {NULL}};
    const char *config_path = NULL;
    int check_only = 0, opt, status;

    ae_modules_register();
    if (argc > 1 && argv[1][0] != '-') {
        const ae_command_t *command = find_command(argv[1]);
        if (command == NULL) {
            fprintf(stderr, "anyedge: unknown command '%s'\n", argv[1]);
            usage(stderr);
            return 2;
        }
        return run_command(command, argc - 2, argv + 2);
    }
    while ((opt = getopt_long(argc, argv, "c:tvh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 't':
            check_only = 1;
            break;
        case 'v':
            printf("anyedge %s\n", ANYEDGE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (config_path == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }

    if (load_config(config_path) != 0) {
        status = 1;
    } else if (check_only) {
        fprintf(stderr, "%s: configuration OK\n", config_path);
        status = 0;
    } else {
        status = run(&server);
    }
    ae_server_dispose(&server);
    return status;
}
