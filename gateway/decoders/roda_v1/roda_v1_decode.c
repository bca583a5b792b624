/* roda_v1_decode.c - the two decoding passes over a roda.v1.Batch (see roda_v1_decode.h), reading
 * the protobuf wire format straight from the payload buffer.
 *
 * Why not nanopb's pb_decode here: nanopb reads every byte through its stream's callback
 * pointer and walks a field iterator per field, about 240 ns per reading on the development
 * machine; this decoder takes the same bytes to the same values in a fraction of that (numbers
 * in DESIGN.md), which decides readings/s for batched devices. It follows nanopb's rules byte
 * for byte (varint limits, wire-type checks, unknown-field skipping, 32-bit range checks), and
 * the fuzzer (tests/fuzz) checks every input against nanopb's generated decoder for Reading. */
#include "roda_v1_decode.h"

#include <math.h>
#include <string.h>

#include "roda.pb.h"

/* Debian's libprotobuf-nanopb.a uses 16-bit field descriptors and keeps error messages: the
 * generated code (used by the encoder) must agree, or the library misreads every descriptor. */
#ifdef PB_FIELD_32BIT
#error "libprotobuf-nanopb.a is built without PB_FIELD_32BIT; build roda.pb.c the same way"
#endif
#ifdef PB_NO_ERRMSG
#error "libprotobuf-nanopb.a is built with error messages; pb_istream_t layouts would differ"
#endif

_Static_assert(sizeof(((roda_v1_Batch *)0)->device) == RODA_DEVICE_NAME_SIZE,
               "roda.options device max_size must equal RODA_DEVICE_NAME_SIZE");

enum { WIRE_VARINT = 0, WIRE_64BIT = 1, WIRE_LENGTH = 2, WIRE_32BIT = 5 };

typedef struct cursor {
    const uint8_t *at;
    const uint8_t *end;
} cursor_t;

/* A 64-bit varint: at most 10 bytes, the 10th carrying only bit 63 (as pb_decode_varint). */
static inline roda_decode_status_t read_varint64(cursor_t *c, uint64_t *value)
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

/* A 32-bit varint (tags, lengths): bytes past bit 31 may only be zero padding or the sign
 * extension of a negative int32 (as pb_decode_varint32). */
static inline roda_decode_status_t read_varint32(cursor_t *c, uint32_t *value)
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
static inline roda_decode_status_t read_key(cursor_t *c, uint32_t *field, uint32_t *wire_type)
{
    uint32_t key;
    roda_decode_status_t status = read_varint32(c, &key);
    if (status != RODA_DECODE_OK)
        return status;
    *field = key >> 3;
    *wire_type = key & 7;
    return *field == 0 ? RODA_DECODE_MALFORMED : RODA_DECODE_OK;
}

/* A length prefix; the bytes it announces must be there. */
static inline roda_decode_status_t read_length(cursor_t *c, uint32_t *length)
{
    roda_decode_status_t status = read_varint32(c, length);
    if (status == RODA_DECODE_OK && *length > (size_t)(c->end - c->at))
        return RODA_DECODE_TRUNCATED;
    return status;
}

static inline roda_decode_status_t take(cursor_t *c, size_t bytes)
{
    if (bytes > (size_t)(c->end - c->at))
        return RODA_DECODE_TRUNCATED;
    c->at += bytes;
    return RODA_DECODE_OK;
}

/* Skips a field this schema does not know. Groups (wire types 3, 4) are not supported. */
static roda_decode_status_t skip_field(cursor_t *c, uint32_t wire_type)
{
    uint32_t length;
    roda_decode_status_t status;
    switch (wire_type) {
    case WIRE_VARINT:
        /* Any length, as nanopb's pb_skip_field. */
        while (c->at != c->end)
            if ((*c->at++ & 0x80) == 0)
                return RODA_DECODE_OK;
        return RODA_DECODE_TRUNCATED;
    case WIRE_64BIT:
        return take(c, 8);
    case WIRE_LENGTH:
        status = read_length(c, &length);
        return status == RODA_DECODE_OK ? take(c, length) : status;
    case WIRE_32BIT:
        return take(c, 4);
    default:
        return RODA_DECODE_MALFORMED;
    }
}

static roda_decode_status_t read_batch_field(cursor_t *c, roda_decode_batch_t *batch,
                                             uint32_t field, uint32_t wire_type)
{
    uint32_t length;
    roda_decode_status_t status;
    switch (field) {
    case roda_v1_Batch_device_tag:
        if (wire_type != WIRE_LENGTH)
            return RODA_DECODE_MALFORMED;
        status = read_length(c, &length);
        if (status != RODA_DECODE_OK)
            return status;
        if (length >= RODA_DEVICE_NAME_SIZE)
            return RODA_DECODE_MALFORMED;
        memcpy(batch->device, c->at, length);
        batch->device[length] = '\0';
        batch->device_length = length;
        c->at += length;
        return RODA_DECODE_OK;
    case roda_v1_Batch_sequence_tag:
        if (wire_type != WIRE_VARINT)
            return RODA_DECODE_MALFORMED;
        return read_varint64(c, &batch->sequence);
    case roda_v1_Batch_boot_epoch_tag:
        if (wire_type != WIRE_VARINT)
            return RODA_DECODE_MALFORMED;
        return read_varint64(c, &batch->boot_epoch);
    case roda_v1_Batch_readings_tag:
        if (wire_type != WIRE_LENGTH)
            return RODA_DECODE_MALFORMED;
        status = read_length(c, &length);
        if (status != RODA_DECODE_OK)
            return status;
        if (++batch->reading_count > RODA_DECODE_MAX_READINGS)
            return RODA_DECODE_TOO_MANY;
        c->at += length;
        return RODA_DECODE_OK;
    default:
        return skip_field(c, wire_type);
    }
}

roda_decode_status_t roda_v1_decode_open(roda_decode_batch_t *batch,
                                         const roda_decode_context_t *context,
                                         const uint8_t *payload, size_t size)
{
    static const uint8_t empty[1];
    memset(batch, 0, sizeof(*batch));
    batch->context = context;
    if (size > RODA_DECODE_MAX_PAYLOAD)
        return RODA_DECODE_OVERSIZE;
    if (payload == NULL) /* an empty MQTT message has no buffer at all */
        payload = empty;
    batch->payload = payload;
    batch->size = size;
    cursor_t c = {payload, payload + size};
    while (c.at != c.end) {
        uint32_t field, wire_type;
        roda_decode_status_t status = read_key(&c, &field, &wire_type);
        if (status == RODA_DECODE_OK)
            status = read_batch_field(&c, batch, field, wire_type);
        if (status != RODA_DECODE_OK)
            return status;
    }
    return RODA_DECODE_OK;
}

/* One Reading message (the bytes of one `readings` field) into `reading`. Fields absent from
 * the message keep the proto3 default 0. */
roda_decode_status_t roda_v1_decode_reading(const uint8_t *bytes, size_t size,
                                            roda_v1_reading_t *reading)
{
    cursor_t c = {bytes, bytes + size};
    uint64_t value = 0;
    *reading = (roda_v1_reading_t){0};
    while (c.at != c.end) {
        uint32_t field, wire_type;
        roda_decode_status_t status = read_key(&c, &field, &wire_type);
        if (status != RODA_DECODE_OK)
            return status;
        switch (field) {
        case roda_v1_Reading_sensor_id_tag:
            if (wire_type != WIRE_VARINT)
                return RODA_DECODE_MALFORMED;
            status = read_varint64(&c, &reading->sensor_id);
            break;
        case roda_v1_Reading_value_tag:
            if (wire_type != WIRE_64BIT)
                return RODA_DECODE_MALFORMED;
            if (c.end - c.at < 8)
                return RODA_DECODE_TRUNCATED;
            memcpy(&value, c.at, 8); /* little-endian wire order; x86 and arm64 agree */
            memcpy(&reading->value, &value, 8);
            c.at += 8;
            break;
        case roda_v1_Reading_time_us_tag:
            if (wire_type != WIRE_VARINT)
                return RODA_DECODE_MALFORMED;
            status = read_varint64(&c, &value);
            reading->time_us = (int64_t)(value >> 1) ^ -(int64_t)(value & 1); /* zigzag */
            break;
        case roda_v1_Reading_quality_tag:
            if (wire_type != WIRE_VARINT)
                return RODA_DECODE_MALFORMED;
            status = read_varint64(&c, &value);
            if (status == RODA_DECODE_OK && value > UINT32_MAX)
                return RODA_DECODE_MALFORMED; /* as nanopb: uint32 out of range */
            reading->quality = (uint32_t)value;
            break;
        default:
            status = skip_field(&c, wire_type);
            break;
        }
        if (status != RODA_DECODE_OK)
            return status;
    }
    return RODA_DECODE_OK;
}

uint32_t roda_v1_decode_readings(roda_decode_batch_t *batch, roda_reading_t *records,
                                 const char **names, uint32_t max, roda_decode_drops_t *drops,
                                 roda_decode_status_t *status)
{
    *status = RODA_DECODE_OK;
    uint32_t written = 0;
    cursor_t c = {batch->payload + batch->offset, batch->payload + batch->size};
    while (written < max && batch->readings_done < batch->reading_count) {
        uint32_t field, wire_type, length;
        /* Pass 1 checked the framing of every top-level field, so these reads succeed. */
        if (read_key(&c, &field, &wire_type) != RODA_DECODE_OK)
            break;
        if (field != roda_v1_Batch_readings_tag) {
            if (skip_field(&c, wire_type) != RODA_DECODE_OK)
                break;
            continue;
        }
        if (read_length(&c, &length) != RODA_DECODE_OK)
            break;
        roda_v1_reading_t reading;
        roda_decode_status_t result = roda_v1_decode_reading(c.at, length, &reading);
        c.at += length;
        if (result != RODA_DECODE_OK) {
            *status = RODA_DECODE_MALFORMED;
            break;
        }
        batch->readings_done++;
        if (!isfinite(reading.value)) {
            drops->non_finite++;
            continue;
        }
        if (names != NULL)
            names[written] = NULL;
        roda_reading_t *record = &records[written++];
        record->sensor_id = reading.sensor_id;
        record->value = reading.value;
        record->device_time_us = reading.time_us;
        record->quality = (uint16_t)reading.quality;
    }
    batch->offset = (size_t)(c.at - batch->payload);
    if (*status == RODA_DECODE_OK && written < max && batch->readings_done < batch->reading_count)
        *status = RODA_DECODE_MALFORMED; /* a read pass 1 should have refused: end the batch */
    return written;
}

const roda_decoder_t roda_v1_decoder = {"roda.v1", roda_v1_decode_open, roda_v1_decode_readings};
