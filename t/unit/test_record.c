/*
 * Unit tests of the stored-record format: round trip, and strict rejection of damaged, truncated or
 * foreign records (a damaged record must be a miss, never a crash).
 */
#include <stdlib.h>
#include <string.h>
#include "modules/cache/record.h"
#include "t/unit/tap.h"

static uint8_t headers_block[256];

static ae_record_t sample(void)
{
    uint8_t *p = headers_block;
    p = ae_record_put_header(p, h2o_iovec_init(H2O_STRLIT("content-type")), h2o_iovec_init(H2O_STRLIT("text/plain")));
    p = ae_record_put_header(p, h2o_iovec_init(H2O_STRLIT("cache-control")), h2o_iovec_init(H2O_STRLIT("max-age=60")));
    return (ae_record_t){.status = 200,
                         .freshness = {.response_time = 1700000000, .initial_age = 5, .lifetime = 60, .stale_while_revalidate = 30,
                                       .stale_if_error = AE_CC_ABSENT, .must_revalidate = 1, .heuristic = 1, .immutable = 1},
                         .body_size = 5,
                         .key = h2o_iovec_init(H2O_STRLIT("www.example.com/index.html?a=1")),
                         .reason = h2o_iovec_init(H2O_STRLIT("OK")),
                         .headers = h2o_iovec_init(headers_block, p - headers_block),
                         .inline_body = h2o_iovec_init(H2O_STRLIT("hello"))};
}

static uint8_t *encode(const ae_record_t *rec, size_t *len)
{
    *len = ae_record_encoded_size(rec);
    uint8_t *buf = malloc(*len);
    ae_record_encode(rec, buf);
    return buf;
}

static void test_round_trip(void)
{
    ae_record_t in = sample(), out;
    size_t len;
    uint8_t *buf = encode(&in, &len);
    h2o_iovec_t name, value, block;

    ok(ae_record_decode(buf, len, &out) == 0, "a record decodes");
    ok(out.status == 200 && out.freshness.response_time == 1700000000 && out.freshness.initial_age == 5 && out.freshness.lifetime == 60,
       "status and times survive");
    ok(out.freshness.stale_while_revalidate == 30 && out.freshness.stale_if_error == AE_CC_ABSENT && out.freshness.must_revalidate &&
           !out.freshness.no_cache && out.freshness.heuristic && out.freshness.immutable,
       "stale windows and flags survive");
    ok(h2o_memis(out.key.base, out.key.len, in.key.base, in.key.len), "the key survives");
    ok(h2o_memis(out.reason.base, out.reason.len, H2O_STRLIT("OK")), "the reason survives");
    ok(h2o_memis(out.inline_body.base, out.inline_body.len, H2O_STRLIT("hello")) && out.body_size == 5, "the inline body survives");
    block = out.headers;
    ok(ae_record_next_header(&block, &name, &value) == 0 && h2o_memis(name.base, name.len, H2O_STRLIT("content-type")) &&
           h2o_memis(value.base, value.len, H2O_STRLIT("text/plain")),
       "first header");
    ok(ae_record_next_header(&block, &name, &value) == 0 && h2o_memis(value.base, value.len, H2O_STRLIT("max-age=60")), "second header");
    ok(ae_record_next_header(&block, &name, &value) == -1, "no third header");
    free(buf);
}

static void test_vary_index(void)
{
    ae_record_t in = sample(), out;
    size_t len;
    in.is_vary_index = 1;
    uint8_t *buf = encode(&in, &len);
    ok(ae_record_decode(buf, len, &out) == 0 && out.is_vary_index, "a vary index keeps its flag");
    free(buf);
    in = sample();
    buf = encode(&in, &len);
    ok(ae_record_decode(buf, len, &out) == 0 && !out.is_vary_index, "a response is not a vary index");
    free(buf);
}

static void test_chunked_body_fields(void)
{
    ae_record_t in = sample(), out;
    size_t len;
    in.inline_body = h2o_iovec_init(NULL, 0);
    in.body_size = 1 << 20;
    in.body_id = 42;
    in.chunk_count = 4;
    uint8_t *buf = encode(&in, &len);
    ok(ae_record_decode(buf, len, &out) == 0 && out.body_id == 42 && out.chunk_count == 4 && out.body_size == 1 << 20,
       "a record with a chunked body decodes");
    free(buf);

    in.chunk_count = 0;
    buf = encode(&in, &len);
    ok(ae_record_decode(buf, len, &out) == -1, "a chunked body without chunks is rejected");
    free(buf);
}

static void test_damage(void)
{
    ae_record_t in = sample(), out;
    size_t len;
    uint8_t *buf = encode(&in, &len);
    int all_rejected = 1;

    for (size_t cut = 0; cut < len; ++cut)
        if (ae_record_decode(buf, cut, &out) == 0)
            all_rejected = 0;
    ok(all_rejected, "every truncation is rejected");

    all_rejected = 1;
    size_t body_offset = len - in.inline_body.len;
    for (size_t i = 0; i < body_offset; ++i) {
        buf[i] ^= 0x20;
        if (ae_record_decode(buf, len, &out) == 0)
            all_rejected = 0;
        buf[i] ^= 0x20;
    }
    ok(all_rejected, "a flipped bit anywhere before the body is rejected");

    /* two flipped bits: every pair of the same bit position in two different bytes (the top bit of
     * two words is where a checksum of plain multiplications would only see their parity) */
    all_rejected = 1;
    for (int bit = 0; bit != 8; ++bit)
        for (size_t i = 0; i < body_offset; ++i)
            for (size_t j = i + 1; j < body_offset; ++j) {
                buf[i] ^= (uint8_t)(1 << bit), buf[j] ^= (uint8_t)(1 << bit);
                if (ae_record_decode(buf, len, &out) == 0)
                    all_rejected = 0;
                buf[i] ^= (uint8_t)(1 << bit), buf[j] ^= (uint8_t)(1 << bit);
            }
    ok(all_rejected, "two flipped bits anywhere before the body are rejected");
    ok(ae_record_decode(buf, len, &out) == 0, "the undamaged record still decodes");

    buf[4] = AE_RECORD_OLDEST_VERSION;
    ok(ae_record_decode(buf, len, &out) == -1, "the current record relabelled as the oldest version: its checksum fails");
    ae_record_set_checksum(buf, len);
    ok(ae_record_decode(buf, len, &out) == 0 && out.body_size == in.body_size && out.freshness.lifetime == in.freshness.lifetime,
       "with the oldest version's checksum it decodes (a store written by an older anyedge keeps its hits)");
    buf[4] = AE_RECORD_VERSION + 1;
    ae_record_set_checksum(buf, len);
    ok(ae_record_decode(buf, len, &out) == -1, "a newer format version is rejected");
    buf[4] = AE_RECORD_OLDEST_VERSION - 1;
    ae_record_set_checksum(buf, len);
    ok(ae_record_decode(buf, len, &out) == -1, "an older one than is still read too");
    free(buf);

    uint8_t garbage[200];
    for (size_t i = 0; i != sizeof(garbage); ++i)
        garbage[i] = (uint8_t)(i * 37 + 11);
    ok(ae_record_decode(garbage, sizeof(garbage), &out) == -1, "garbage is rejected");
}

static void test_chunk_keys_sort_in_order(void)
{
    uint8_t a[12], b[12], c[12];
    ae_record_chunk_key(7, 1, a);
    ae_record_chunk_key(7, 256, b);
    ae_record_chunk_key(8, 0, c);
    ok(memcmp(a, b, 12) < 0 && memcmp(b, c, 12) < 0, "chunk keys sort by body id, then index");
}

int main(void)
{
    test_round_trip();
    test_chunked_body_fields();
    test_vary_index();
    test_damage();
    test_chunk_keys_sort_in_order();
    return done_testing();
}
