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
#include "roda_wire.h"

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

static roda_decode_status_t read_batch_field(roda_wire_cursor_t *c, roda_decode_batch_t *batch,
                                             uint32_t field, uint32_t wire_type)
{
    uint32_t length;
    roda_decode_status_t status;
    switch (field) {
    case roda_v1_Batch_device_tag:
        if (wire_type != RODA_WIRE_LENGTH)
            return RODA_DECODE_MALFORMED;
        status = roda_wire_length(c, &length);
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
        if (wire_type != RODA_WIRE_VARINT)
            return RODA_DECODE_MALFORMED;
        return roda_wire_varint64(c, &batch->sequence);
    case roda_v1_Batch_boot_epoch_tag:
        if (wire_type != RODA_WIRE_VARINT)
            return RODA_DECODE_MALFORMED;
        return roda_wire_varint64(c, &batch->boot_epoch);
    case roda_v1_Batch_readings_tag:
        if (wire_type != RODA_WIRE_LENGTH)
            return RODA_DECODE_MALFORMED;
        status = roda_wire_length(c, &length);
        if (status != RODA_DECODE_OK)
            return status;
        if (++batch->reading_count > RODA_DECODE_MAX_READINGS)
            return RODA_DECODE_TOO_MANY;
        c->at += length;
        return RODA_DECODE_OK;
    default:
        return roda_wire_skip(c, wire_type);
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
    roda_wire_cursor_t c = {payload, payload + size};
    while (c.at != c.end) {
        uint32_t field, wire_type;
        roda_decode_status_t status = roda_wire_key(&c, &field, &wire_type);
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
    roda_wire_cursor_t c = {bytes, bytes + size};
    uint64_t value = 0;
    *reading = (roda_v1_reading_t){0};
    while (c.at != c.end) {
        uint32_t field, wire_type;
        roda_decode_status_t status = roda_wire_key(&c, &field, &wire_type);
        if (status != RODA_DECODE_OK)
            return status;
        switch (field) {
        case roda_v1_Reading_sensor_id_tag:
            if (wire_type != RODA_WIRE_VARINT)
                return RODA_DECODE_MALFORMED;
            status = roda_wire_varint64(&c, &reading->sensor_id);
            break;
        case roda_v1_Reading_value_tag:
            if (wire_type != RODA_WIRE_64BIT)
                return RODA_DECODE_MALFORMED;
            status = roda_wire_fixed64(&c, &value);
            memcpy(&reading->value, &value, 8);
            break;
        case roda_v1_Reading_time_us_tag:
            if (wire_type != RODA_WIRE_VARINT)
                return RODA_DECODE_MALFORMED;
            status = roda_wire_varint64(&c, &value);
            reading->time_us = (int64_t)(value >> 1) ^ -(int64_t)(value & 1); /* zigzag */
            break;
        case roda_v1_Reading_quality_tag:
            if (wire_type != RODA_WIRE_VARINT)
                return RODA_DECODE_MALFORMED;
            status = roda_wire_varint64(&c, &value);
            if (status == RODA_DECODE_OK && value > UINT32_MAX)
                return RODA_DECODE_MALFORMED; /* as nanopb: uint32 out of range */
            reading->quality = (uint32_t)value;
            break;
        default:
            status = roda_wire_skip(&c, wire_type);
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
    roda_wire_cursor_t c = {batch->payload + batch->offset, batch->payload + batch->size};
    while (written < max && batch->readings_done < batch->reading_count) {
        uint32_t field, wire_type, length;
        /* Pass 1 checked the framing of every top-level field, so these reads succeed. */
        if (roda_wire_key(&c, &field, &wire_type) != RODA_DECODE_OK)
            break;
        if (field != roda_v1_Batch_readings_tag) {
            if (roda_wire_skip(&c, wire_type) != RODA_DECODE_OK)
                break;
            continue;
        }
        if (roda_wire_length(&c, &length) != RODA_DECODE_OK)
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

const roda_decoder_t roda_v1_decoder = {
    .name = "roda.v1", .open = roda_v1_decode_open, .readings = roda_v1_decode_readings};
