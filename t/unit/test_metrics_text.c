/*
 * Unit tests of the text that metrics and access logs write: Prometheus exposition (HELP/TYPE,
 * label escaping, cumulative histogram buckets with +Inf = _count, exact seconds) and the access
 * log's escaping (server/strbuf: JSON strings, the combined format's quoted fields).
 */
#include <string.h>
#include "modules/metrics/prom.h"
#include "server/strbuf.h"
#include "t/unit/tap.h"

static int text_is(const char *got, size_t len, const char *expected)
{
    if (len == strlen(expected) && memcmp(got, expected, len) == 0)
        return 1;
    printf("# got:\n%.*s\n# expected:\n%s\n", (int)len, got, expected);
    return 0;
}

static int json_escape_is(const char *in, size_t len, const char *expected)
{
    ae_strbuf_t b = {NULL};
    ae_strbuf_append_json_string(&b, in, len);
    int ok = text_is(b.buf, b.len, expected);
    ae_strbuf_free(&b);
    return ok;
}

static int combined_escape_is(const char *in, const char *expected)
{
    ae_strbuf_t b = {NULL};
    ae_strbuf_append_log_escaped(&b, in, strlen(in));
    int ok = text_is(b.buf, b.len, expected);
    ae_strbuf_free(&b);
    return ok;
}

int main(void)
{
    ae_prom_t p = {NULL};

    ae_prom_family(&p, "x_total", "counter", "Help with a \\ backslash\nand a newline, \"quotes\" kept.");
    ok(text_is(p.buf, p.len,
               "# HELP x_total Help with a \\\\ backslash\\nand a newline, \"quotes\" kept.\n# TYPE x_total counter\n"),
       "HELP escapes backslash and newline, TYPE follows");
    ae_strbuf_free(&p);

    ae_prom_u64(&p, "x_total", (ae_prom_labels_t){"site", "a\"b\\c\nd", "kind", "", NULL}, 42);
    ok(text_is(p.buf, p.len, "x_total{site=\"a\\\"b\\\\c\\nd\",kind=\"\"} 42\n"),
       "label values escape quote, backslash and newline");
    ae_strbuf_free(&p);

    ae_prom_u64(&p, "y", NULL, 18446744073709551615ull);
    ok(text_is(p.buf, p.len, "y 18446744073709551615\n"), "no labels, no braces; full 64-bit values");
    ae_strbuf_free(&p);

    ae_prom_seconds(&p, "s", NULL, 3000001);
    ok(text_is(p.buf, p.len, "s 3.000001\n"), "seconds from microseconds, exact");
    ae_strbuf_free(&p);

    ae_histogram_t h = {{0}};
    ae_histogram_observe(&h, 500);      /* <= 1ms */
    ae_histogram_observe(&h, 1000);     /* <= 1ms: bounds are inclusive */
    ae_histogram_observe(&h, 300000);   /* <= 0.5s */
    ae_histogram_observe(&h, 90000000); /* above every bound */
    ae_prom_histogram(&p, "h_seconds", (ae_prom_labels_t){"site", "s", NULL}, &h);
    ok(text_is(p.buf, p.len,
               "h_seconds_bucket{site=\"s\",le=\"0.001\"} 2\n"
               "h_seconds_bucket{site=\"s\",le=\"0.0025\"} 2\n"
               "h_seconds_bucket{site=\"s\",le=\"0.005\"} 2\n"
               "h_seconds_bucket{site=\"s\",le=\"0.01\"} 2\n"
               "h_seconds_bucket{site=\"s\",le=\"0.025\"} 2\n"
               "h_seconds_bucket{site=\"s\",le=\"0.05\"} 2\n"
               "h_seconds_bucket{site=\"s\",le=\"0.1\"} 2\n"
               "h_seconds_bucket{site=\"s\",le=\"0.25\"} 2\n"
               "h_seconds_bucket{site=\"s\",le=\"0.5\"} 3\n"
               "h_seconds_bucket{site=\"s\",le=\"1\"} 3\n"
               "h_seconds_bucket{site=\"s\",le=\"2.5\"} 3\n"
               "h_seconds_bucket{site=\"s\",le=\"5\"} 3\n"
               "h_seconds_bucket{site=\"s\",le=\"10\"} 3\n"
               "h_seconds_bucket{site=\"s\",le=\"30\"} 3\n"
               "h_seconds_bucket{site=\"s\",le=\"60\"} 3\n"
               "h_seconds_bucket{site=\"s\",le=\"+Inf\"} 4\n"
               "h_seconds_sum{site=\"s\"} 90.301500\n"
               "h_seconds_count{site=\"s\"} 4\n"),
       "histogram: cumulative buckets, +Inf = _count, _sum in seconds");
    ae_strbuf_free(&p);

    ae_histogram_t a = {{0}}, b = {{0}}, sum = {{0}};
    ae_histogram_observe(&a, 2000);
    ae_histogram_observe(&b, 2000);
    ae_histogram_observe(&b, 20000);
    ae_histogram_merge(&sum, &a);
    ae_histogram_merge(&sum, &b);
    ok(sum.buckets[1] == 2 && sum.buckets[4] == 1 && sum.sum_us == 24000, "merging threads' histograms adds them");

    ok(json_escape_is("plain /a?b=1", 12, "\"plain /a?b=1\""), "JSON: printable ASCII as it is");
    ok(json_escape_is("q\"b\\", 4, "\"q\\\"b\\\\\""), "JSON: quote and backslash escaped");
    ok(json_escape_is("t\tn\n\x7f", 5, "\"t\\u0009n\\u000a\\u007f\""), "JSON: control characters as \\u00XX");
    ok(json_escape_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""),
       "JSON: valid UTF-8 (2, 3 and 4 bytes) as it is");
    ok(json_escape_is("a\xff" "b\xc3", 4, "\"a\\u00ff" "b\\u00c3\""), "JSON: bytes of invalid UTF-8 as \\u00XX of the byte");
    ok(json_escape_is("\xc0\xaf\xed\xa0\x80", 5, "\"\\u00c0\\u00af\\u00ed\\u00a0\\u0080\""),
       "JSON: an overlong form and a surrogate are invalid UTF-8");
    ok(json_escape_is("a\0b", 3, "\"a\\u0000b\""), "JSON: NUL");
    ok(combined_escape_is("GET /a\"b\\c", "GET /a\\\"b\\\\c"), "combined: quote and backslash escaped");
    ok(combined_escape_is("x\x01y\xff", "x\\x01y\\xff"), "combined: other bytes as \\xHH");
    return done_testing();
}
