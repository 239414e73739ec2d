/*
 * Unit tests of the config loader and its value parsers: a full config read into the server and the
 * modules' settings, and FILE:LINE errors for each kind of mistake.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "modules/origin/origin.h"
#include "server/config.h"
#include "t/unit/tap.h"

extern ae_module_t ae_origin_module;

static char path[] = "/tmp/anyedge-unit-config-XXXXXX";

static int load(ae_server_t *srv, const char *yaml, char *err, size_t err_size)
{
    FILE *fp = fopen(path, "w");
    fputs(yaml, fp);
    fclose(fp);
    ae_server_init(srv);
    return ae_server_load_config(srv, path, err, err_size);
}

/* Loads `yaml`, expecting an error at `line` that contains `phrase`. */
static void expect_error(const char *what, const char *yaml, unsigned line, const char *phrase)
{
    ae_server_t srv;
    char err[1024], prefix[300];
    int ret = load(&srv, yaml, err, sizeof(err));
    snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
    ok(ret == -1 && strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, phrase) != NULL, "%s: %s", what, err);
    ae_server_dispose(&srv);
}

static void test_parsers(void)
{
    uint64_t v;
    struct sockaddr_storage ss;
    socklen_t len;

    ok(ae_parse_size("64M", &v) == 0 && v == 64ull << 20, "64M");
    ok(ae_parse_size("2g", &v) == 0 && v == 2ull << 30, "2g");
    ok(ae_parse_size("1000", &v) == 0 && v == 1000, "plain bytes");
    ok(ae_parse_size("10X", &v) == -1 && ae_parse_size("M", &v) == -1 && ae_parse_size("1MB", &v) == -1 && ae_parse_size("-1", &v) == -1,
       "bad sizes are refused");
    ok(ae_parse_size("99999999999T", &v) == -1, "an overflowing size is refused");
    ok(ae_parse_duration_ms("500ms", &v) == 0 && v == 500, "500ms");
    ok(ae_parse_duration_ms("5s", &v) == 0 && v == 5000, "5s");
    ok(ae_parse_duration_ms("2m", &v) == 0 && v == 120000, "2m");
    ok(ae_parse_duration_ms("7", &v) == 0 && v == 7000, "a bare number is seconds");
    ok(ae_parse_duration_ms("5x", &v) == -1 && ae_parse_duration_ms("", &v) == -1, "bad durations are refused");
    ok(ae_parse_listen_addr("127.0.0.1:8080", &ss, &len) == 0 && ss.ss_family == AF_INET &&
           ntohs(((struct sockaddr_in *)&ss)->sin_port) == 8080,
       "IPv4 address");
    ok(ae_parse_listen_addr("[::1]:443", &ss, &len) == 0 && ss.ss_family == AF_INET6, "IPv6 address");
    ok(ae_parse_listen_addr("nonsense", &ss, &len) == -1 && ae_parse_listen_addr("1.2.3.4:99999", &ss, &len) == -1 &&
           ae_parse_listen_addr("1.2.3.4:0", &ss, &len) == -1 && ae_parse_listen_addr("::1:80", &ss, &len) == -1 &&
           ae_parse_listen_addr("[::1]80", &ss, &len) == -1 && ae_parse_listen_addr("example.com:80", &ss, &len) == -1,
       "bad addresses are refused");
}

static void test_good_config(void)
{
    ae_server_t srv;
    char err[1024];
    int ret = load(&srv,
                   "listen:\n"
                   "  - \"127.0.0.1:8080\"\n"
                   "  - \"[::1]:8080\"\n"
                   "threads: 3\n"
                   "shutdown-timeout: 2s\n"
                   "cache:\n"
                   "  path: /tmp/x\n"
                   "  size: 1G\n"
                   "sites:\n"
                   "  - host: WWW.Example.COM.\n"
                   "    aliases: [example.com, static.example.com]\n"
                   "    origin: http://127.0.0.1:9000\n"
                   "    origin-connect-timeout: 250ms\n"
                   "  - host: other.test\n"
                   "    origin: http://127.0.0.1:9001/\n",
                   err, sizeof(err));
    ok(ret == 0, "a full config loads (%s)", err);
    ok(srv.listen.size == 2 && srv.num_threads == 3 && srv.shutdown_timeout_ms == 2000, "listen, threads, shutdown-timeout");
    ok(srv.sites.size == 2 && strcmp(srv.sites.entries[0]->host, "www.example.com") == 0, "host is lower-cased without the dot");
    ok(srv.sites.entries[0]->aliases.size == 2 && ae_server_find_site(&srv, H2O_STRLIT("static.example.com")) == srv.sites.entries[0],
       "aliases find their site");
    ok(ae_server_find_site(&srv, H2O_STRLIT("other.test")) == srv.sites.entries[1] && ae_server_find_site(&srv, H2O_STRLIT("none.test")) == NULL,
       "hosts find their site, unknown hosts none");
    ae_origin_conf_t *origin = srv.sites.entries[0]->conf[ae_origin_module.index];
    ok(origin->connect_timeout_ms == 250 && origin->first_byte_timeout_ms == 30000 && origin->idle_timeout_ms == 30000,
       "origin timeouts: set one, defaults for the others");
    ok(((struct sockaddr_in *)&origin->addr)->sin_port == htons(9000), "the origin address is resolved");
    ae_server_dispose(&srv);

    ret = load(&srv, "listen: \"127.0.0.1:1\"\nthreads: auto\nsites:\n  - {host: a.test, origin: \"http://127.0.0.1:1\"}\n", err,
               sizeof(err));
    ok(ret == 0 && srv.num_threads == (unsigned)sysconf(_SC_NPROCESSORS_ONLN), "threads: auto is the CPU count");
    ae_server_dispose(&srv);
}

static void test_errors(void)
{
#define SITE "sites:\n  - host: a.test\n    origin: http://127.0.0.1:9000\n"
    expect_error("unknown key", "listen: [\"127.0.0.1:1\"]\ncache:\n  sise: 1G\n" SITE, 3, "unknown key 'cache.sise'");
    expect_error("unknown site key", "listen: [\"127.0.0.1:1\"]\n" SITE "    orgin: x\n", 5, "unknown key 'orgin' in site");
    expect_error("wrong type", "listen: [\"127.0.0.1:1\"]\nthreads: [1]\n" SITE, 2, "expected a number");
    expect_error("threads out of range", "listen: [\"127.0.0.1:1\"]\nthreads: 0\n" SITE, 2, "from 1 to");
    expect_error("bad size", "listen: [\"127.0.0.1:1\"]\ncache:\n  size: 10X\n" SITE, 3, "bad size '10X'");
    expect_error("bad address", "listen:\n  - \"127.0.0.1:1\"\n  - nonsense\n" SITE, 3, "bad address 'nonsense'");
    expect_error("duplicate site", "listen: [\"127.0.0.1:1\"]\n" SITE "  - host: b.test\n    aliases: [A.test]\n    origin: http://127.0.0.1:1\n",
                 6, "duplicate site host 'a.test'");
    expect_error("missing origin", "listen: [\"127.0.0.1:1\"]\nsites:\n  - host: a.test\n", 3, "has no 'origin'");
    expect_error("bad origin", "listen: [\"127.0.0.1:1\"]\nsites:\n  - host: a.test\n    origin: ftp://x\n", 4, "'origin'");
    expect_error("missing host", "listen: [\"127.0.0.1:1\"]\nsites:\n  - origin: http://127.0.0.1:1\n", 3, "no 'host'");
    expect_error("duplicate listen address", "listen:\n  - \"127.0.0.1:1\"\n  - \"127.0.0.1:1\"\n" SITE, 3, "duplicate address");
    expect_error("section is not a mapping", "listen: [\"127.0.0.1:1\"]\ncache: 1G\n" SITE, 2, "'cache' expected a mapping");
    expect_error("duplicate key", "listen: [\"127.0.0.1:1\"]\nthreads: 1\nthreads: 2\n" SITE, 3, "duplicate key 'threads'");
    expect_error("YAML syntax", "listen: [\"127.0.0.1:1\"\n" SITE, 2, "YAML syntax error");
    expect_error("no listen", SITE, 1, "no 'listen'");
    expect_error("empty file", "", 1, "empty");
#undef SITE
}

int main(void)
{
    int fd = mkstemp(path);
    close(fd);
    test_parsers();
    test_good_config();
    test_errors();
    unlink(path);
    return done_testing();
}
