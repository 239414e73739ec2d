/*
 * Fuzz target: the store record decoder (ae_record_decode), as run on every record read from the
 * store (a damaged or foreign record must be a miss, never a crash), then its header walk; a record
 * that decodes must encode back to the same bytes.
 *
 * Input: one byte of mode, then the record. Random bytes rarely carry the right magic, lengths and
 * checksum, so with the mode's low bit set the harness writes a valid magic and version (the
 * oldest one still read when bit 1 is set too), fits the four lengths to the input and sets the
 * checksum, leaving the rest (status, flags, freshness, body fields, the header block) to the
 * fuzzer. A record of an older version encodes as the current one, which must decode again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "modules/cache/record.h"

#define FIXED_SIZE 96

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i != 4; ++i)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_up(uint8_t *b, size_t len, unsigned version)
{
    size_t rest = len - FIXED_SIZE, lens[3];
    memcpy(b, "AEOR", 4);
    b[4] = (uint8_t)version, b[5] = 0;
    for (int i = 0; i != 3; ++i) {
        lens[i] = get_u32(b + 72 + 4 * i) % (rest + 1);
        put_u32(b + 72 + 4 * i, (uint32_t)lens[i]);
        rest -= lens[i];
    }
    put_u32(b + 84, (uint32_t)rest);
    ae_record_set_checksum(b, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    uint8_t *bytes = malloc(len + 1); /* its own allocation: a read past the end is caught */
    memcpy(bytes, data + 1, len);
    if ((data[0] & 1) && len >= FIXED_SIZE)
        fix_up(bytes, len, (data[0] & 2) ? AE_RECORD_OLDEST_VERSION : AE_RECORD_VERSION);

    ae_record_t rec;
    if (ae_record_decode(bytes, len, &rec) == 0) {
        h2o_iovec_t block = rec.headers, name, value;
        size_t total = 0;
        while (ae_record_next_header(&block, &name, &value) == 0)
            total += ae_record_header_size(name.len, value.len);
        if (total != rec.headers.len)
            __builtin_trap();
        size_t encoded_len = ae_record_encoded_size(&rec);
        uint8_t *encoded = malloc(encoded_len + 1);
        ae_record_encode(&rec, encoded);
        if (encoded_len != len)
            __builtin_trap();
        if (bytes[4] == AE_RECORD_VERSION ? memcmp(encoded, bytes, len) != 0 : ae_record_decode(encoded, len, &rec) != 0)
            __builtin_trap(); /* decode then encode is the identity, or an upgrade that decodes */
        free(encoded);
    }
    free(bytes);
    return 0;
}
