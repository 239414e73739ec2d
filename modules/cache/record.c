/*
 * Encoding and strict decoding of stored responses (see record.h). Layout, little-endian:
 *
 *   u32 magic "AEOR" | u16 version | u16 status | i64 response_time | i64 initial_age | i64 lifetime
 *   i64 stale_while_revalidate | i64 stale_if_error | u32 flags | u32 chunk_count | u64 body_size
 *   u64 body_id | u32 key_len | u32 reason_len | u32 headers_len | u32 inline_len
 *   u64 checksum (over the fixed part with checksum 0, key, reason, headers)
 *   key | reason | headers | inline body
 *
 * The checksum is checked on every read, so its speed is a hit's: version 3 (written now) takes
 * FNV-1a's steps over 64-bit little-endian words, version 2 (still read, so a store written by an
 * older anyedge keeps its hits until each object is rewritten) over single bytes, eight times the
 * multiplications.
 *
 * Pure functions; any thread.
 */
#include <string.h>
#include "modules/cache/record.h"

#define MAGIC 0x524f4541u /* "AEOR" */
#define FIXED_SIZE 96
#define CHECKSUM_OFFSET 88
#define FLAG_MUST_REVALIDATE 1u
#define FLAG_NO_CACHE 2u
#define FLAG_HEURISTIC 4u
#define FLAG_VARY_INDEX 8u
#define FLAG_IMMUTABLE 16u
#define KNOWN_FLAGS (FLAG_MUST_REVALIDATE | FLAG_NO_CACHE | FLAG_HEURISTIC | FLAG_VARY_INDEX | FLAG_IMMUTABLE)

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i != 4; ++i)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i != 8; ++i)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Written out byte by byte so that the compiler makes each one load (the format is little-endian on
 * any host). */
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv1a_bytes(uint64_t h, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i != len; ++i)
        h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

/* One step over a 64-bit word: FNV-1a's xor and multiply, then the high half folded into the low
 * one, since a multiplication only carries a change upwards (without the fold, the top bit of every
 * word would be a plain parity: two flips there would cancel). */
static uint64_t word_step(uint64_t h, uint64_t word)
{
    h = (h ^ word) * FNV_PRIME;
    return h ^ (h >> 32);
}

/* word_step over 64-bit words; the last, partial word zero-padded with its length in the top byte. */
static uint64_t fnv1a_words(uint64_t h, const uint8_t *p, size_t len)
{
    for (; len >= 8; p += 8, len -= 8)
        h = word_step(h, get_u64(p));
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i != len; ++i)
        last |= (uint64_t)p[i] << (8 * i);
    return word_step(h, last);
}

/* The checksum covers the fixed part (checksum field read as zero) and the variable part before the body. */
static uint64_t checksum(unsigned version, const uint8_t *bytes, size_t covered_len)
{
    static const uint8_t zero[8];
    uint64_t (*step)(uint64_t, const uint8_t *, size_t) = version == 2 ? fnv1a_bytes : fnv1a_words;
    uint64_t h = step(FNV_OFFSET, bytes, CHECKSUM_OFFSET);
    h = step(h, zero, sizeof(zero));
    return step(h, bytes + FIXED_SIZE, covered_len - FIXED_SIZE);
}

void ae_record_set_checksum(uint8_t *bytes, size_t len)
{
    size_t covered = len - get_u32(bytes + 84);
    put_u64(bytes + CHECKSUM_OFFSET, checksum(get_u16(bytes + 4), bytes, covered));
}

static uint8_t *append(uint8_t *p, h2o_iovec_t v)
{
    if (v.len != 0)
        memcpy(p, v.base, v.len);
    return p + v.len;
}

size_t ae_record_encoded_size(const ae_record_t *rec)
{
    return FIXED_SIZE + rec->key.len + rec->reason.len + rec->headers.len + rec->inline_body.len;
}

void ae_record_encode(const ae_record_t *rec, uint8_t *buf)
{
    uint8_t *p = buf + FIXED_SIZE;

    put_u32(buf, MAGIC);
    put_u16(buf + 4, AE_RECORD_VERSION);
    const ae_freshness_t *f = &rec->freshness;
    put_u16(buf + 6, (uint16_t)rec->status);
    put_u64(buf + 8, (uint64_t)f->response_time);
    put_u64(buf + 16, (uint64_t)f->initial_age);
    put_u64(buf + 24, (uint64_t)f->lifetime);
    put_u64(buf + 32, (uint64_t)f->stale_while_revalidate);
    put_u64(buf + 40, (uint64_t)f->stale_if_error);
    put_u32(buf + 48, (f->must_revalidate ? FLAG_MUST_REVALIDATE : 0) | (f->no_cache ? FLAG_NO_CACHE : 0) | (f->heuristic ? FLAG_HEURISTIC : 0) |
                          (f->immutable ? FLAG_IMMUTABLE : 0) | (rec->is_vary_index ? FLAG_VARY_INDEX : 0));
    put_u32(buf + 52, rec->chunk_count);
    put_u64(buf + 56, rec->body_size);
    put_u64(buf + 64, rec->body_id);
    put_u32(buf + 72, (uint32_t)rec->key.len);
    put_u32(buf + 76, (uint32_t)rec->reason.len);
    put_u32(buf + 80, (uint32_t)rec->headers.len);
    put_u32(buf + 84, (uint32_t)rec->inline_body.len);
    p = append(p, rec->key);
    p = append(p, rec->reason);
    p = append(p, rec->headers);
    append(p, rec->inline_body);
    ae_record_set_checksum(buf, ae_record_encoded_size(rec));
}

static int headers_are_valid(h2o_iovec_t block)
{
    h2o_iovec_t name, value;
    while (block.len != 0) {
        if (block.len < 6)
            return 0;
        size_t name_len = get_u16((const uint8_t *)block.base), value_len = get_u32((const uint8_t *)block.base + 2);
        if (name_len == 0 || block.len - 6 < name_len || block.len - 6 - name_len < value_len)
            return 0;
        ae_record_next_header(&block, &name, &value);
    }
    return 1;
}

int ae_record_decode(const uint8_t *bytes, size_t len, ae_record_t *rec)
{
    unsigned version = len < FIXED_SIZE ? 0 : get_u16(bytes + 4);
    if (len < FIXED_SIZE || get_u32(bytes) != MAGIC || version < AE_RECORD_OLDEST_VERSION || version > AE_RECORD_VERSION)
        return -1;

    uint64_t key_len = get_u32(bytes + 72), reason_len = get_u32(bytes + 76), headers_len = get_u32(bytes + 80),
             inline_len = get_u32(bytes + 84);
    if (FIXED_SIZE + key_len + reason_len + headers_len + inline_len != len)
        return -1;
    size_t covered = FIXED_SIZE + key_len + reason_len + headers_len;
    if (checksum(version, bytes, covered) != get_u64(bytes + CHECKSUM_OFFSET))
        return -1;

    uint32_t flags = get_u32(bytes + 48);
    rec->status = get_u16(bytes + 6);
    rec->is_vary_index = (flags & FLAG_VARY_INDEX) != 0;
    rec->freshness = (ae_freshness_t){.response_time = (int64_t)get_u64(bytes + 8),
                                      .initial_age = (int64_t)get_u64(bytes + 16),
                                      .lifetime = (int64_t)get_u64(bytes + 24),
                                      .stale_while_revalidate = (int64_t)get_u64(bytes + 32),
                                      .stale_if_error = (int64_t)get_u64(bytes + 40),
                                      .must_revalidate = (flags & FLAG_MUST_REVALIDATE) != 0,
                                      .no_cache = (flags & FLAG_NO_CACHE) != 0,
                                      .heuristic = (flags & FLAG_HEURISTIC) != 0,
                                      .immutable = (flags & FLAG_IMMUTABLE) != 0};
    rec->chunk_count = get_u32(bytes + 52);
    rec->body_size = get_u64(bytes + 56);
    rec->body_id = get_u64(bytes + 64);
    const char *p = (const char *)bytes + FIXED_SIZE;
    rec->key = h2o_iovec_init(p, key_len);
    rec->reason = h2o_iovec_init(p + key_len, reason_len);
    rec->headers = h2o_iovec_init(p + key_len + reason_len, headers_len);
    rec->inline_body = h2o_iovec_init(p + covered - FIXED_SIZE, inline_len);

    if (rec->status < 100 || rec->status > 999 || (flags & ~KNOWN_FLAGS) != 0 ||
        !headers_are_valid(rec->headers))
        return -1;
    if (rec->body_id == 0 ? (rec->chunk_count != 0 || rec->body_size != inline_len) : (inline_len != 0 || rec->chunk_count == 0))
        return -1;
    return 0;
}

size_t ae_record_header_size(size_t name_len, size_t value_len)
{
    return 6 + name_len + value_len;
}

uint8_t *ae_record_put_header(uint8_t *dst, h2o_iovec_t name, h2o_iovec_t value)
{
    put_u16(dst, (uint16_t)name.len);
    put_u32(dst + 2, (uint32_t)value.len);
    memcpy(dst + 6, name.base, name.len);
    memcpy(dst + 6 + name.len, value.base, value.len);
    return dst + 6 + name.len + value.len;
}

int ae_record_next_header(h2o_iovec_t *block, h2o_iovec_t *name, h2o_iovec_t *value)
{
    if (block->len == 0)
        return -1;
    const uint8_t *p = (const uint8_t *)block->base;
    size_t name_len = get_u16(p), value_len = get_u32(p + 2);
    *name = h2o_iovec_init(block->base + 6, name_len);
    *value = h2o_iovec_init(block->base + 6 + name_len, value_len);
    block->base += 6 + name_len + value_len;
    block->len -= 6 + name_len + value_len;
    return 0;
}

void ae_record_chunk_key(uint64_t body_id, uint32_t index, uint8_t out[12])
{
    for (int i = 0; i != 8; ++i)
        out[i] = (uint8_t)(body_id >> (56 - 8 * i));
    for (int i = 0; i != 4; ++i)
        out[8 + i] = (uint8_t)(index >> (24 - 8 * i));
}
