/*
 * The access log module: `log.access` (a file, or `stderr`; none by default) and `log.format`
 * (`combined` or `json`). An h2o logger on the router's path formats one line per request to the
 * sites (the router's own 400 and 421 included, the health module's self check excepted) when h2o
 * frees the request.
 *
 * Writing: each worker thread appends its lines to a buffer of its own and writes the buffer with
 * one write(2) when it holds FLUSH_AT bytes, or at most FLUSH_INTERVAL_MS after its first line,
 * or when the thread stops. The file is opened with O_APPEND, so the writes of different threads
 * never mix within a line; lines reach the file up to a second late and, across threads, not in
 * strict time order. A write(2) per line would cost a system call per request on the event loop;
 * batching makes it one per 32 KiB (README, Metrics and logs, has the measurement).
 *
 * SIGUSR1 (logrotate): the main thread opens the path anew and dup2()s it over the descriptor the
 * workers write to, which swaps the file under them atomically; lines still buffered then go to
 * the new file.
 *
 * Config, on_init, reopen and dispose: main thread. The logger and the buffers: each worker thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "modules/accesslog/format.h"
#include "modules/metrics/requests.h"
#include "server/config.h"
#include "server/log.h"

#ifndef FLUSH_AT
#define FLUSH_AT (32 * 1024)
#endif
#define FLUSH_INTERVAL_MS 1000
#define WARN_INTERVAL_MS 60000

extern ae_module_t ae_accesslog_module;

static struct {
    char *path; /* NULL: no access log */
    unsigned line;
    ae_log_format_t format;
    int fd;
} settings = {.fd = -1};

typedef struct {
    ae_thread_t *thread;
    ae_strbuf_t buf;
    ae_log_clock_t clock;
    h2o_timeout_t flush_timeout;
    h2o_timeout_entry_t flush_timer;
    uint64_t warned_at;
} log_thread_t;

static int is_stderr(const char *path)
{
    return strcmp(path, "stderr") == 0;
}

static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* ---- writing (worker threads) ---- */

static void flush(log_thread_t *lt)
{
    size_t done = 0;
    if (h2o_timeout_is_linked(&lt->flush_timer))
        h2o_timeout_unlink(&lt->flush_timer);
    while (done != lt->buf.len) {
        ssize_t n = write(settings.fd, lt->buf.buf + done, lt->buf.len - done);
        if (n > 0) {
            done += (size_t)n;
        } else if (n == -1 && errno == EINTR) {
            continue;
        } else {
            uint64_t now = h2o_now(lt->thread->loop);
            if (lt->warned_at == 0 || now - lt->warned_at >= WARN_INTERVAL_MS) {
                ae_log_warn("access log %s: %s; %zu bytes of log lines lost", settings.path,
                            n == -1 ? strerror(errno) : "short write", lt->buf.len - done);
                lt->warned_at = now;
            }
            break;
        }
    }
    lt->buf.len = 0;
}

static void on_flush_timer(h2o_timeout_entry_t *entry)
{
    flush(H2O_STRUCT_FROM_MEMBER(log_thread_t, flush_timer, entry));
}

static void on_log_access(h2o_logger_t *self, h2o_req_t *req)
{
    log_thread_t *lt = ae_thread_of(req->conn->ctx)->module_data[ae_accesslog_module.index];
    if (ae_metrics_is_self_check(req))
        return;
    ae_log_format_line(&lt->buf, settings.format, &lt->clock, req);
    if (lt->buf.len >= FLUSH_AT)
        flush(lt);
    else if (!h2o_timeout_is_linked(&lt->flush_timer))
        h2o_timeout_link(lt->thread->loop, &lt->flush_timeout, &lt->flush_timer);
}

static void on_thread_init(ae_server_t *srv, ae_thread_t *t)
{
    if (settings.path == NULL)
        return;
    log_thread_t *lt = calloc(1, sizeof(*lt));
    lt->thread = t;
    lt->flush_timer.cb = on_flush_timer;
    h2o_timeout_init(t->loop, &lt->flush_timeout, FLUSH_INTERVAL_MS);
    t->module_data[ae_accesslog_module.index] = lt;
}

static void on_thread_dispose(ae_server_t *srv, ae_thread_t *t)
{
    log_thread_t *lt = t->module_data[ae_accesslog_module.index];
    if (lt == NULL)
        return;
    flush(lt);
    h2o_timeout_dispose(t->loop, &lt->flush_timeout);
    ae_strbuf_free(&lt->buf);
    free(lt);
    t->module_data[ae_accesslog_module.index] = NULL;
}

/* ---- life (main thread) ---- */

static int set_access(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    if (s[0] == '\0')
        return ae_config_error(cf, value, "'log.access' expected a file path or 'stderr'");
    free(settings.path);
    settings.path = strdup(s);
    settings.line = ae_config_line(value);
    return 0;
}

static int set_format(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    static const char *const formats[] = {"combined", "json", NULL};
    int choice;
    if (ae_config_choice(cf, value, formats, &choice) != 0)
        return -1;
    settings.format = choice == 1 ? AE_LOG_JSON : AE_LOG_COMBINED;
    return 0;
}

/* Checks that the file can be written (it, or else its directory), so that `anyedge -t` reports a
 * path that cannot; without creating it: commands (run as root, say) load the config too. */
static int on_config_done(ae_config_t *cf, ae_server_t *srv)
{
    if (settings.path == NULL || is_stderr(settings.path))
        return 0;
    char *copy = strdup(settings.path);
    const char *dir = dirname(copy);
    int ok = access(settings.path, W_OK) == 0 || (errno == ENOENT && access(dir, W_OK) == 0);
    int saved = errno;
    free(copy);
    if (!ok)
        return ae_config_error_at(cf, settings.line, "'log.access': cannot write '%s': %s", settings.path, strerror(saved));
    return 0;
}

/* The daemon only: opens the file. */
static int on_init(ae_server_t *srv)
{
    if (settings.path == NULL)
        return 0;
    if (is_stderr(settings.path)) {
        settings.fd = 2;
    } else if ((settings.fd = open_log(settings.path)) == -1) {
        ae_log_error("cannot open the access log %s: %s", settings.path, strerror(errno));
        return -1;
    }
    h2o_logger_t *logger = h2o_create_logger(srv->site_pathconf, sizeof(*logger));
    logger->log_access = on_log_access;
    return 0;
}

static void on_reopen_logs(ae_server_t *srv)
{
    int fd;
    if (settings.path == NULL || is_stderr(settings.path))
        return;
    if ((fd = open_log(settings.path)) == -1) {
        ae_log_error("cannot reopen the access log %s: %s (still writing to the file open before)", settings.path, strerror(errno));
        return;
    }
    if (dup2(fd, settings.fd) == -1)
        ae_log_error("cannot reopen the access log %s: %s (still writing to the file open before)", settings.path, strerror(errno));
    else
        ae_log_info("access log reopened: %s", settings.path);
    close(fd);
}

static void on_dispose(ae_server_t *srv)
{
    if (settings.fd > 2)
        close(settings.fd);
    free(settings.path);
    settings.path = NULL;
    settings.fd = -1;
    settings.format = AE_LOG_COMBINED;
}

static const ae_directive_t directives[] = {
    {"log.access", AE_SCOPE_GLOBAL, set_access},
    {"log.format", AE_SCOPE_GLOBAL, set_format},
    {NULL},
};

ae_module_t ae_accesslog_module = {
    .name = "accesslog",
    .directives = directives,
    .on_config_done = on_config_done,
    .on_init = on_init,
    .on_thread_init = on_thread_init,
    .on_thread_dispose = on_thread_dispose,
    .on_reopen_logs = on_reopen_logs,
    .on_dispose = on_dispose,
};
