/*
 * Access log lines (see format.h).
 *
 *   combined: 127.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 2326 "REFERER" "USER-AGENT"
 *   json:     {"time":"2024-10-10T13:55:36.123Z","client":"127.0.0.1","method":"GET","uri":"/a?b=1",...}
 *
 * The time is when the request began to arrive, in UTC. The status is 0 when the client left
 * before a response was started; bytes are the response body bytes given to h2o to send. The origin
 * fields come from Cache-Status (fwd-status) and from the timing of the origin exchange the request
 * started itself (modules/origin timing.c); a request served from another request's fetch has no
 * origin time, and one whose exchange is still running (a background refresh) has none yet. A JSON
 * line has "country" when geo found the client's country.
 *
 * The request's worker thread, from the access log's h2o logger.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include "modules/accesslog/format.h"
#include "modules/geo/geo.h"
#include "modules/origin/origin.h"

static void put(ae_strbuf_t *out, const char *s)
{
    ae_strbuf_append(out, s, strlen(s));
}

/* ---- what the request tells ---- */

static void client_address(h2o_req_t *req, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = ae_client_addr(req, &ss);
    if (len == 0 || size < NI_MAXHOST || h2o_socket_getnumerichost((struct sockaddr *)&ss, len, buf) == SIZE_MAX)
        snprintf(buf, size, "-");
}

static const char *protocol(h2o_req_t *req)
{
    return req->version >= 0x200 ? "HTTP/2" : req->version == 0x100 ? "HTTP/1.0" : "HTTP/1.1";
}

/* "TLSv1.3", "TLSv1.2", or "-" for a connection without TLS. */
static const char *tls_version(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    const char *version = sock != NULL && sock->ssl != NULL ? h2o_socket_get_ssl_protocol_version(sock) : NULL;
    return version != NULL ? version : "-";
}

static h2o_iovec_t request_header(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i != -1 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
}

static h2o_iovec_t response_header(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->res.headers, name, len, -1);
    return i != -1 ? req->res.headers.entries[i].value : h2o_iovec_init(NULL, 0);
}

/* The fwd-status of the anyedge member of Cache-Status, or 0. */
static int fwd_status(h2o_req_t *req)
{
    h2o_iovec_t v = response_header(req, H2O_STRLIT("cache-status"));
    static const char param[] = "fwd-status=";
    for (size_t i = 0; v.base != NULL && i + sizeof(param) - 1 < v.len; ++i) {
        if ((i == 0 || v.base[i - 1] == ' ' || v.base[i - 1] == ';') && memcmp(v.base + i, param, sizeof(param) - 1) == 0) {
            int status = 0;
            for (size_t j = i + sizeof(param) - 1; j != v.len && v.base[j] >= '0' && v.base[j] <= '9' && status < 1000; ++j)
                status = status * 10 + (v.base[j] - '0');
            return status;
        }
    }
    return 0;
}

/* When the request began to arrive (h2o's timestamp; when it had none, when it was processed). */
static struct timeval begin_time(h2o_req_t *req)
{
    return req->timestamps.request_begin_at.tv_sec != 0 ? req->timestamps.request_begin_at : req->processed_at.at;
}

/* Microseconds from the request's start to now, when h2o frees it: the last byte of the response
 * has been written (or the client left). h2o's own timestamps come from the event loop's clock,
 * which stands still within one turn of the loop, so a response sent at once would take 0. */
static int64_t duration_us(h2o_req_t *req)
{
    struct timeval end, start = begin_time(req);
    gettimeofday(&end, NULL);
    int64_t us = (int64_t)(end.tv_sec - start.tv_sec) * 1000000 + (end.tv_usec - start.tv_usec);
    return us > 0 ? us : 0;
}

static void update_clock(ae_log_clock_t *clock, time_t sec)
{
    struct tm tm;
    if (clock->sec == sec && clock->iso[0] != '\0')
        return;
    clock->sec = sec;
    gmtime_r(&sec, &tm);
    strftime(clock->combined, sizeof(clock->combined), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    strftime(clock->iso, sizeof(clock->iso), "%Y-%m-%dT%H:%M:%S", &tm);
}

/* ---- the formats ---- */

static void combined_field(ae_strbuf_t *out, h2o_iovec_t v)
{
    put(out, "\"");
    if (v.base != NULL)
        ae_strbuf_append_log_escaped(out, v.base, v.len);
    else
        put(out, "-");
    put(out, "\"");
}

static void format_combined(ae_strbuf_t *out, h2o_req_t *req, const char *client, ae_log_clock_t *clock)
{
    ae_strbuf_appendf(out, "%s - - [%s] \"", client, clock->combined);
    ae_strbuf_append_log_escaped(out, req->input.method.base, req->input.method.len);
    put(out, " ");
    ae_strbuf_append_log_escaped(out, req->input.path.base, req->input.path.len);
    ae_strbuf_appendf(out, " %s\" %d %zu ", protocol(req), req->res.status, req->bytes_sent);
    combined_field(out, request_header(req, H2O_TOKEN_REFERER));
    put(out, " ");
    combined_field(out, request_header(req, H2O_TOKEN_USER_AGENT));
    put(out, "\n");
}

static void json_string(ae_strbuf_t *out, const char *key, h2o_iovec_t v)
{
    ae_strbuf_appendf(out, ",\"%s\":", key);
    if (v.base == NULL) {
        put(out, "null");
        return;
    }
    ae_strbuf_append_json_string(out, v.base, v.len);
}

static void json_seconds(ae_strbuf_t *out, const char *key, int64_t us)
{
    if (us < 0)
        ae_strbuf_appendf(out, ",\"%s\":null", key);
    else
        ae_strbuf_appendf(out, ",\"%s\":%lld.%06lld", key, (long long)(us / 1000000), (long long)(us % 1000000));
}

static void format_json(ae_strbuf_t *out, h2o_req_t *req, const char *client, ae_log_clock_t *clock)
{
    ae_site_t *site = ae_request_site(req);
    const ae_origin_timing_t *timing = ae_origin_request_timing(req);
    int origin_status = fwd_status(req);

    if (origin_status == 0 && timing != NULL)
        origin_status = timing->status;
    ae_strbuf_appendf(out, "{\"time\":\"%s.%03dZ\",\"client\":\"%s\"", clock->iso, (int)(begin_time(req).tv_usec / 1000), client);
    json_string(out, "method", req->input.method);
    json_string(out, "uri", req->input.path);
    ae_strbuf_appendf(out, ",\"protocol\":\"%s\",\"status\":%d,\"bytes\":%zu", protocol(req), req->res.status, req->bytes_sent);
    json_seconds(out, "duration", duration_us(req));
    json_string(out, "referer", request_header(req, H2O_TOKEN_REFERER));
    json_string(out, "user_agent", request_header(req, H2O_TOKEN_USER_AGENT));
    json_string(out, "host", req->input.authority);
    json_string(out, "site", site != NULL ? h2o_iovec_init(site->host, strlen(site->host)) : h2o_iovec_init(NULL, 0));
    json_string(out, "cache", response_header(req, H2O_STRLIT("x-cache")));
    if (origin_status != 0)
        ae_strbuf_appendf(out, ",\"origin_status\":%d", origin_status);
    else
        put(out, ",\"origin_status\":null");
    json_seconds(out, "origin_first_byte", timing != NULL ? timing->first_byte_us : -1);
    json_seconds(out, "origin_time", timing != NULL ? timing->total_us : -1);
    ae_strbuf_appendf(out, ",\"tls\":\"%s\"", tls_version(req));
    h2o_iovec_t country = ae_geo_request_country(req);
    if (country.len != 0)
        json_string(out, "country", country);
    ae_strbuf_appendf(out, "}\n");
}

void ae_log_format_line(ae_strbuf_t *out, ae_log_format_t format, ae_log_clock_t *clock, h2o_req_t *req)
{
    char client[NI_MAXHOST];
    client_address(req, client, sizeof(client));
    update_clock(clock, begin_time(req).tv_sec);
    if (format == AE_LOG_JSON)
        format_json(out, req, client, clock);
    else
        format_combined(out, req, client, clock);
}
