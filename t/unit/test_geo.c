/*
 * Unit tests of the geo module's address handling: IPv4-mapped IPv6 addresses become IPv4, others
 * stay. With ANYEDGE_GEO_FIXTURE (the city database t/76-geo.t writes), also lookups through the
 * same code the workers use: 127.0.0.5 is DE, and so is ::ffff:127.0.0.5 once normalised.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "modules/geo/geo.h"
#include "t/unit/tap.h"

static socklen_t make(struct sockaddr_storage *ss, const char *text)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(1234);
        inet_pton(AF_INET6, text, &sin6->sin6_addr);
        return sizeof(*sin6);
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(1234);
    inet_pton(AF_INET, text, &sin->sin_addr);
    return sizeof(*sin);
}

static int normalizes_to(const char *text, const char *expected, int family)
{
    struct sockaddr_storage ss;
    char buf[INET6_ADDRSTRLEN];
    socklen_t len = ae_geo_normalize_addr(&ss, make(&ss, text));
    const void *addr =
        ss.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
    inet_ntop(ss.ss_family, addr, buf, sizeof(buf));
    if (ss.ss_family == family && strcmp(buf, expected) == 0 &&
        len == (family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) &&
        ntohs(((struct sockaddr_in *)&ss)->sin_port) == 1234)
        return 1;
    printf("# %s: got %s (family %d, length %u)\n", text, buf, ss.ss_family, (unsigned)len);
    return 0;
}

static const char *country_of(const char *text)
{
    static ae_geo_info_t info;
    struct sockaddr_storage ss;
    ae_geo_normalize_addr(&ss, make(&ss, text));
    ae_geo_db_lookup(0, (struct sockaddr *)&ss, &info);
    return info.country;
}

int main(void)
{
    ok(normalizes_to("::ffff:127.0.0.5", "127.0.0.5", AF_INET), "::ffff:127.0.0.5 becomes 127.0.0.5");
    ok(normalizes_to("::ffff:203.0.113.9", "203.0.113.9", AF_INET), "::ffff:203.0.113.9 becomes 203.0.113.9");
    ok(normalizes_to("127.0.0.5", "127.0.0.5", AF_INET), "IPv4 stays");
    ok(normalizes_to("::1", "::1", AF_INET6), "::1 stays");
    ok(normalizes_to("2001:db8::ffff:7f00:5", "2001:db8::ffff:7f00:5", AF_INET6), "not mapped: stays");
    ok(normalizes_to("::127.0.0.5", "::127.0.0.5", AF_INET6), "IPv4-compatible (deprecated, not mapped): stays");

    const char *fixture = getenv("ANYEDGE_GEO_FIXTURE");
    if (fixture != NULL) {
        char err[512];
        ae_geo_db_conf_t conf = {fixture, NULL, 1000};
        ok(ae_geo_db_open(&conf, err, sizeof(err)) == 0, "opens %s", fixture);
        ok(strcmp(country_of("127.0.0.5"), "DE") == 0, "127.0.0.5: DE");
        ok(strcmp(country_of("::ffff:127.0.0.5"), "DE") == 0, "::ffff:127.0.0.5: DE");
        ok(strcmp(country_of("::1"), "CH") == 0, "::1: CH");
        ok(strcmp(country_of("127.0.0.1"), "") == 0, "127.0.0.1: unknown");
        ae_geo_db_close();
        ok(strcmp(country_of("127.0.0.5"), "") == 0, "closed: nothing");
    }
    return done_testing();
}
