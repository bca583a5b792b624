/* roda_wire.h - the protobuf wire-format reading every hand-written decoder shares: bounded
 * cursors over a payload buffer, varints, keys, length prefixes and field skipping, following
 * nanopb's rules byte for byte (varint limits, wire types, 32-bit range checks).
 *
 * Everything is static inline: a decoder's per-field loop compiles to straight-line code. No
 * function allocates, copies or reads outside [at, end); each returns RODA_DECODE_OK,
 * RODA_DECODE_TRUNCATED (the buffer ends inside the item) or RODA_DECODE_MALFORMED. */
#ifndef RODA_WIRE_H
#define RODA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "roda_decoder.h"

/* Wire types of a field key (groups, 3 and 4, are refused). */
enum { RODA_WIRE_VARINT = 0, RODA_WIRE_64BIT = 1, RODA_WIRE_LENGTH = 2, RODA_WIRE_32BIT = 5 };

/* The unread part of a buffer. */
typedef struct roda_wire_cursor {
    const uint8_t *at;
    const uint8_t *end;
} roda_wire_cursor_t;

/* A 64-bit varint: at most 10 bytes, the 10th carrying only bit 63 (as pb_decode_varint). */
static inline roda_decode_status_t roda_wire_varint64(roda_wire_cursor_t *c, uint64_t *value)
{
    uint64_t result = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (c->at == c->end)
            return RODA_DECODE_TRUNCATED;
        uint8_t byte = *c->at++;
        if (shift == 63 && (byte & 0xfe) != 0)
            return RODA_DECODE_MALFORMED;
        result |= (uint64_t)(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            *value = result;
            return RODA_DECODE_OK;
        }
    }
    return RODA_DECODE_MALFORMED;
}

/* A 32-bit varint (tags, lengths, uint32 fields): bytes past bit 31 may only be zero padding or
 * the sign extension of a negative int32 (as pb_decode_varint32). */
static inline roda_decode_status_t roda_wire_varint32(roda_wire_cursor_t *c, uint32_t *value)
{
    if (c->at == c->end)
        return RODA_DECODE_TRUNCATED;
    uint8_t byte = *c->at++;
    uint32_t result = byte & 0x7f;
    for (unsigned shift = 7; byte & 0x80; shift += 7) {
        if (c->at == c->end)
            return RODA_DECODE_TRUNCATED;
        byte = *c->at++;
        if (shift >= 32) {
            uint8_t sign_extension = shift < 63 ? 0xff : 0x01;
            int padding = (byte & 0x7f) == 0 || ((result >> 31) != 0 && byte == sign_extension);
            if (shift >= 64 || !padding)
                return RODA_DECODE_MALFORMED;
        } else if (shift == 28) {
            if ((byte & 0x70) != 0 && (byte & 0x78) != 0x78)
                return RODA_DECODE_MALFORMED;
            result |= (uint32_t)(byte & 0x0f) << 28;
        } else {
            result |= (uint32_t)(byte & 0x7f) << shift;
        }
    }
    *value = result;
    return RODA_DECODE_OK;
}

/* A field key. Field number 0 is invalid. */
static inline roda_decode_status_t roda_wire_key(roda_wire_cursor_t *c, uint32_t *field,
                                                 uint32_t *wire_type)
{
    uint32_t key;
    roda_decode_status_t status = roda_wire_varint32(c, &key);
    if (status != RODA_DECODE_OK)
        return status;
    *field = key >> 3;
    *wire_type = key & 7;
    return *field == 0 ? RODA_DECODE_MALFORMED : RODA_DECODE_OK;
}

/* A length prefix; the bytes it announces must be there. */
static inline roda_decode_status_t roda_wire_length(roda_wire_cursor_t *c, uint32_t *length)
{
    roda_decode_status_t status = roda_wire_varint32(c, length);
    if (status == RODA_DECODE_OK && *length > (size_t)(c->end - c->at))
        return RODA_DECODE_TRUNCATED;
    return status;
}

/* Steps over `bytes` bytes. */
static inline roda_decode_status_t roda_wire_take(roda_wire_cursor_t *c, size_t bytes)
{
    if (bytes > (size_t)(c->end - c->at))
        return RODA_DECODE_TRUNCATED;
    c->at += bytes;
    return RODA_DECODE_OK;
}

/* Eight little-endian bytes (a fixed64 or double field's payload). */
static inline roda_decode_status_t roda_wire_fixed64(roda_wire_cursor_t *c, uint64_t *value)
{
    if (c->end - c->at < 8)
        return RODA_DECODE_TRUNCATED;
    uint64_t result = 0;
    for (unsigned i = 0; i < 8; i++)
        result |= (uint64_t)c->at[i] << (8 * i);
    c->at += 8;
    *value = result;
    return RODA_DECODE_OK;
}

/* Four little-endian bytes (a fixed32 or float field's payload). */
static inline roda_decode_status_t roda_wire_fixed32(roda_wire_cursor_t *c, uint32_t *value)
{
    if (c->end - c->at < 4)
        return RODA_DECODE_TRUNCATED;
    *value = (uint32_t)c->at[0] | (uint32_t)c->at[1] << 8 | (uint32_t)c->at[2] << 16 |
             (uint32_t)c->at[3] << 24;
    c->at += 4;
    return RODA_DECODE_OK;
}

/* Skips a field the schema does not know. Groups (wire types 3, 4) are not supported. */
static inline roda_decode_status_t roda_wire_skip(roda_wire_cursor_t *c, uint32_t wire_type)
{
    uint32_t length;
    roda_decode_status_t status;
    switch (wire_type) {
    case RODA_WIRE_VARINT:
        /* Any length, as nanopb's pb_skip_field. */
        while (c->at != c->end)
            if ((*c->at++ & 0x80) == 0)
                return RODA_DECODE_OK;
        return RODA_DECODE_TRUNCATED;
    case RODA_WIRE_64BIT:
        return roda_wire_take(c, 8);
    case RODA_WIRE_LENGTH:
        status = roda_wire_length(c, &length);
        return status == RODA_DECODE_OK ? roda_wire_take(c, length) : status;
    case RODA_WIRE_32BIT:
        return roda_wire_take(c, 4);
    default:
        return RODA_DECODE_MALFORMED;
    }
}

#endif
