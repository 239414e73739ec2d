/*
 * Worker threads: each runs one h2o event loop with its own context and its own SO_REUSEPORT socket
 * per listen address. Graceful stop: the main thread sends every worker a message; the worker closes
 * its listeners, asks h2o to end keep-alive, and keeps running its loop until nothing is in flight
 * (requests, and module work such as an origin fetch being stored) or the shutdown timeout passes.
 * Each worker counts the connections it accepts and sees closed (for metrics).
 *
 * ae_workers_start/stop run on the main thread; everything else on the worker's own thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "server/limits.h"
#include "server/listener.h"
#include "server/log.h"
#include "server/server.h"

#define ACCEPTS_PER_WAKEUP 32

struct ae_worker_listener {
    int fd;
    h2o_socket_t *sock;
    h2o_accept_ctx_t accept_ctx;
};

static pthread_barrier_t started;

static void on_accept(h2o_socket_t *listener_sock, const char *err)
{
    ae_worker_listener_t *listener = listener_sock->data;
    ae_thread_t *t = ae_thread_of(listener->accept_ctx.ctx);
    if (err != NULL)
        return;
    for (int i = 0; i != ACCEPTS_PER_WAKEUP; ++i) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener_sock);
        if (sock == NULL)
            break;
        ae_counter_add(&t->connections_accepted, 1);
        if (ae_limits_admit(t, sock) != 0) {
            ae_counter_add(&t->connections_closed, 1);
            h2o_socket_close(sock);
            continue;
        }
        h2o_accept(&listener->accept_ctx, sock);
    }
}

static void close_listeners(ae_thread_t *t)
{
    for (size_t i = 0; i != t->server->listen.size; ++i) {
        ae_worker_listener_t *listener = &t->listeners[i];
        if (listener->sock != NULL) {
            h2o_socket_read_stop(listener->sock);
            h2o_socket_close(listener->sock);
            listener->sock = NULL;
        }
    }
}

static void on_shutdown_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    ae_thread_t *t = H2O_STRUCT_FROM_MEMBER(ae_thread_t, shutdown_receiver, receiver);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    if (t->shutting_down)
        return;
    t->shutting_down = 1;
    close_listeners(t);
    h2o_context_request_shutdown(&t->ctx);
}

void ae_thread_release(ae_thread_t *t)
{
    __atomic_sub_fetch(&t->busy, 1, __ATOMIC_RELAXED);
}

static void run_until_stopped(ae_thread_t *t)
{
    uint64_t deadline = 0;

    while (!t->shutting_down)
        h2o_evloop_run(t->loop, INT32_MAX);

    deadline = h2o_now(t->loop) + t->server->shutdown_timeout_ms;
    while (t->busy != 0) {
        uint64_t now = h2o_now(t->loop);
        if (now >= deadline) {
            ae_log_warn("worker %zu: %zu requests still in flight after the shutdown timeout; stopping anyway", t->index, t->busy);
            break;
        }
        h2o_evloop_run(t->loop, (int32_t)(deadline - now));
    }
}

static void *worker_main(void *arg)
{
    ae_thread_t *t = arg;
    ae_server_t *srv = t->server;
    char name[16];

    snprintf(name, sizeof(name), "anyedge-w%zu", t->index); /* for ps, top and gdb */
    pthread_setname_np(pthread_self(), name);
    t->loop = h2o_evloop_create();
    h2o_context_init(&t->ctx, t->loop, &srv->h2o);
    h2o_multithread_register_receiver(t->ctx.queue, &t->shutdown_receiver, on_shutdown_message);
    for (size_t i = 0; i != srv->listen.size; ++i) {
        ae_worker_listener_t *listener = &t->listeners[i];
        h2o_hostconf_t **hosts = srv->listen.entries[i].hosts;
        listener->accept_ctx = (h2o_accept_ctx_t){.ctx = &t->ctx,
                                                  .hosts = hosts != NULL ? hosts : srv->site_hosts,
                                                  .ssl_ctx = srv->listen.entries[i].ssl_ctx,
                                                  .expect_proxy_line = srv->listen.entries[i].proxy_protocol};
        listener->sock = h2o_evloop_socket_create(t->loop, listener->fd, H2O_SOCKET_FLAG_DONT_READ);
        listener->sock->data = listener;
        h2o_socket_read_start(listener->sock, on_accept);
    }
    for (ae_module_t **m = ae_modules; *m != NULL; ++m)
        if ((*m)->on_thread_init != NULL)
            (*m)->on_thread_init(srv, t);
    pthread_barrier_wait(&started);

    run_until_stopped(t);

    for (ae_module_t **m = ae_modules; *m != NULL; ++m)
        if ((*m)->on_thread_dispose != NULL)
            (*m)->on_thread_dispose(srv, t);
    h2o_multithread_unregister_receiver(t->ctx.queue, &t->shutdown_receiver);
    return NULL;
}

static int open_listeners(ae_server_t *srv, ae_thread_t *t)
{
    t->listeners = calloc(srv->listen.size, sizeof(*t->listeners));
    for (size_t i = 0; i != srv->listen.size; ++i) {
        if ((t->listeners[i].fd = ae_listener_open(&srv->listen.entries[i])) == -1) {
            ae_log_error("cannot listen on %s: %s", srv->listen.entries[i].text, strerror(errno));
            while (i-- != 0)
                close(t->listeners[i].fd);
            return -1;
        }
    }
    return 0;
}

int ae_workers_open(ae_server_t *srv)
{
    srv->threads = calloc(srv->num_threads, sizeof(*srv->threads));
    for (size_t i = 0; i != srv->num_threads; ++i) {
        ae_thread_t *t = &srv->threads[i];
        t->server = srv;
        t->index = i;
        if (open_listeners(srv, t) != 0)
            return -1;
    }
    return 0;
}

int ae_workers_start(ae_server_t *srv)
{
    pthread_barrier_init(&started, NULL, srv->num_threads + 1);
    for (size_t i = 0; i != srv->num_threads; ++i) {
        int err = pthread_create(&srv->threads[i].tid, NULL, worker_main, &srv->threads[i]);
        if (err != 0) {
            ae_log_error("cannot start a worker thread: %s", strerror(err));
            exit(1);
        }
    }
    pthread_barrier_wait(&started);
    pthread_barrier_destroy(&started);
    return 0;
}

void ae_workers_stop(ae_server_t *srv)
{
    for (size_t i = 0; i != srv->num_threads; ++i)
        h2o_multithread_send_message(&srv->threads[i].shutdown_receiver, &srv->threads[i].shutdown_message);
    for (size_t i = 0; i != srv->num_threads; ++i)
        pthread_join(srv->threads[i].tid, NULL);
}
