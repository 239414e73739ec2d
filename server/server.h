/*
 * The server's shared types: the process-wide server object, worker threads, sites and the module
 * interface through which server/ knows the features in modules/.
 *
 * The server object is filled by the config loader on the main thread before any worker starts,
 * and is read-only afterwards; per-thread state lives in ae_thread_t and is only touched by its
 * own worker thread.
 */
#ifndef ANYEDGE_SERVER_H
#define ANYEDGE_SERVER_H

#include <h2o.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <yaml.h>

#define AE_MODULE_MAX 16

typedef struct ae_config ae_config_t;
typedef struct ae_server ae_server_t;
typedef struct ae_thread ae_thread_t;

/* An IP network (CIDR), IPv4 or IPv6. */
typedef struct ae_network {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned bits;
} ae_network_t;

/* One entry of `listen:`. */
typedef struct ae_listen_addr {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *text; /* as written in the config, for log messages */
    h2o_hostconf_t **hosts; /* what it serves: NULL for the sites (the router), else e.g. the admin endpoints */
    unsigned line;          /* where it is in the config, for messages */
    int tls;                /* `tls: true`: TLS with the sites' certificates (server/tls.c) */
    int proxy_protocol;     /* `proxy-protocol: true`: every connection starts with a PROXY protocol line */
    SSL_CTX *ssl_ctx;       /* set by server/tls.c for a TLS listener; not owned */
} ae_listen_addr_t;

/* One entry of `sites:`; modules keep their per-site settings in conf[module->index]. */
typedef struct ae_site {
    char *host; /* lower-case, no port, no trailing dot */
    H2O_VECTOR(char *) aliases;
    size_t index;               /* position in server->sites */
    unsigned line;              /* where the site starts in the config, for messages */
    void *conf[AE_MODULE_MAX];  /* per-module site settings */
    H2O_VECTOR(h2o_handler_t *) handlers; /* attached by modules, tried in module order; freed with the site */
} ae_site_t;

typedef struct ae_worker_listener ae_worker_listener_t;

/* A worker thread: one h2o event loop and context, one socket per listen address. */
struct ae_thread {
    ae_server_t *server;
    size_t index;
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    ae_worker_listener_t *listeners;
    h2o_multithread_receiver_t shutdown_receiver;
    h2o_multithread_message_t shutdown_message;
    int shutting_down;
    size_t busy; /* requests in flight plus module work that must finish before the thread exits */
    /* connections this worker accepted and saw closed, for metrics: written by this thread only
     * (ae_counter_add), read by any (ae_counter_get) */
    uint64_t connections_accepted, connections_closed;
    void *module_data[AE_MODULE_MAX];
};

struct ae_server {
    const char *config_path;
    H2O_VECTOR(ae_listen_addr_t) listen;
    unsigned num_threads; /* 0 until set; `auto` resolves to the number of CPUs */
    uint64_t shutdown_timeout_ms;
    H2O_VECTOR(ae_site_t *) sites;
    h2o_globalconf_t h2o;
    h2o_hostconf_t *site_hosts[2]; /* the router's host, for the listeners of the sites */
    /* the router's path: modules attach their loggers here (ae_router_register runs before on_init) */
    h2o_pathconf_t *site_pathconf;
    ae_thread_t *threads;
    /* `trusted-proxies`: X-Forwarded-For is believed only from these networks (server/client_addr.c) */
    H2O_VECTOR(struct ae_network) trusted_proxies;
    char *user, *group; /* `user`, `group`: who the process becomes after binding (server/privileges.c) */
};

/* Directives: a config key a module owns. Names of global keys nest with dots ("cache.path"). */
typedef enum { AE_SCOPE_GLOBAL, AE_SCOPE_SITE } ae_scope_t;

typedef struct ae_directive {
    const char *name;
    ae_scope_t scope;
    /* store the value; on error call ae_config_error() and return -1. `site` is NULL for global keys */
    int (*set)(ae_config_t *cf, yaml_node_t *value, ae_site_t *site);
} ae_directive_t;

/* `anyedge NAME ARGS... -c FILE`: an operator command, run after the config is loaded; returns the
 * exit status. */
typedef struct ae_command {
    const char *name;
    const char *usage; /* "NAME ARGS...   what it does", for --help */
    int (*run)(ae_server_t *srv, int argc, char **argv);
} ae_command_t;

typedef struct ae_module {
    const char *name;
    const ae_directive_t *directives;
    /* after the whole file was read: fill defaults, check required keys (report with ae_config_error_at) */
    int (*on_config_done)(ae_config_t *cf, ae_server_t *srv);
    /* after the config, before threads: open stores, attach per-site handlers */
    int (*on_init)(ae_server_t *srv);
    void (*on_thread_init)(ae_server_t *srv, ae_thread_t *t);
    void (*on_thread_dispose)(ae_server_t *srv, ae_thread_t *t);
    /* SIGTERM/SIGINT arrived, the listeners are still open: e.g. withdraw the route and let traffic move */
    void (*on_stop)(ae_server_t *srv);
    /* SIGUSR2: the operator asks the node to drain */
    void (*on_drain_signal)(ae_server_t *srv);
    /* SIGUSR1: reopen log files (after logrotate renamed them); main thread, workers running */
    void (*on_reopen_logs)(ae_server_t *srv);
    /* after every worker has stopped: flush and close what on_init opened */
    void (*on_shutdown)(ae_server_t *srv);
    /* free what the directives allocated (also after `anyedge -t` or a failed load) */
    void (*on_dispose)(ae_server_t *srv);
    const ae_command_t *commands; /* NULL-terminated, or NULL */
    size_t index; /* position in ae_modules, set by ae_modules_register() */
} ae_module_t;

/* server/modules.c */
extern ae_module_t *ae_modules[];
void ae_modules_register(void);

/* server/server.c: lifecycle shared by main() and the unit tests */
void ae_server_init(ae_server_t *srv);
int ae_server_load_config(ae_server_t *srv, const char *path, char *err, size_t err_size);
void ae_server_dispose(ae_server_t *srv);
ae_site_t *ae_server_find_site(ae_server_t *srv, const char *host, size_t len);
/* Is `host` (lower-case, no port) the site's host or one of its aliases? */
int ae_site_has_host(const ae_site_t *site, const char *host, size_t len);

/* Allocates a zeroed handler of `size` bytes (h2o_handler_t first) at the end of the site's list. */
h2o_handler_t *ae_site_add_handler(ae_site_t *site, size_t size);

/* server/router.c: the one h2o handler, which picks the site by Host and runs its handlers */
void ae_router_register(ae_server_t *srv);
/* The site the router gave the request to; NULL for one it answered itself (400, 421). */
ae_site_t *ae_request_site(h2o_req_t *req);

/* Per-request values that one module leaves for another (the router's site, the origin's timing),
 * kept in h2o's request env (req->env: nothing else in anyedge uses it). `name` is a string literal;
 * what `value` points to must live as long as the request. Same thread as the request. */
static inline void ae_request_set_value(h2o_req_t *req, const char *name, size_t name_len, void *value)
{
    h2o_iovec_t *slot = h2o_req_getenv(req, name, name_len, 1);
    *slot = h2o_iovec_init(value, 0);
}

static inline void *ae_request_value(h2o_req_t *req, const char *name, size_t name_len)
{
    h2o_iovec_t *slot = h2o_req_getenv(req, name, name_len, 0);
    return slot != NULL ? slot->base : NULL;
}

/* Counters that one thread writes and any thread reads (metrics): plain loads and stores, no locked
 * instruction, yet no data race for the reader. */
static inline void ae_counter_add(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline uint64_t ae_counter_get(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* server/client_addr.c: THE client address of a request, for everything that looks at it (logs,
 * geo, rules, the admin allow-list). It is the connection's peer -- as the PROXY protocol line gave
 * it on a listener with `proxy-protocol: true` -- unless that peer is in `trusted-proxies` and the
 * request has X-Forwarded-For: then it is the right-most address of X-Forwarded-For that is not a
 * trusted proxy itself (or the left-most, when all are trusted). IPv4-mapped IPv6 addresses become
 * IPv4. Returns the length of the address written to *out, or 0 when there is none. Worker threads. */
socklen_t ae_client_addr(h2o_req_t *req, struct sockaddr_storage *out);
/* Is the connection's peer (as the PROXY line gave it) in `trusted-proxies`? Then its
 * X-Forwarded-For is passed on, extended; otherwise the origin gets only the peer's address. */
int ae_peer_is_trusted(h2o_req_t *req);
/* Parses "ADDR/BITS" or a plain address (all bits); 0 or -1. */
int ae_parse_network(const char *s, ae_network_t *out);
/* Is the address (family AF_INET or AF_INET6, bytes in network order) inside the network? */
int ae_network_contains(const ae_network_t *net, int family, const uint8_t *addr);

/* server/privileges.c: as root with `user:` set, become that user (and `group:`, else the user's
 * group) with its supplementary groups; as root without `user:`, warn. Main thread, after the
 * listeners are bound and the modules opened their files, before the worker threads start. 0 or -1. */
int ae_privileges_drop(ae_server_t *srv);

/* server/worker.c: ae_workers_open binds every worker's sockets (as root, before the privileges
 * are dropped); ae_workers_start then starts the threads. */
int ae_workers_open(ae_server_t *srv);
int ae_workers_start(ae_server_t *srv);
void ae_workers_stop(ae_server_t *srv);

static inline ae_thread_t *ae_thread_of(h2o_context_t *ctx)
{
    return H2O_STRUCT_FROM_MEMBER(ae_thread_t, ctx, ctx);
}

/* Keeps the worker alive during shutdown until the matching ae_thread_release(). */
static inline void ae_thread_hold(ae_thread_t *t)
{
    __atomic_add_fetch(&t->busy, 1, __ATOMIC_RELAXED); /* atomic: the health thread reads it */
}
void ae_thread_release(ae_thread_t *t);

#endif
