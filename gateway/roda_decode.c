/* roda_decode.c - the two decoding passes over a roda.v1.Batch (see roda_decode.h). Pass 1 is a
 * hand-written walk over the top-level fields (cheaper than nanopb's field iterator and able to
 * tell truncation from corruption); pass 2 decodes each Reading with nanopb's generated
 * descriptor. */
#include "roda_decode.h"

#include <math.h>
#include <pb_decode.h>
#include <string.h>

#include "roda.pb.h"

/* Debian's libprotobuf-nanopb.a uses 16-bit field descriptors and keeps error messages: the
 * generated code must agree, or the library misreads every descriptor. */
#ifdef PB_FIELD_32BIT
#error "libprotobuf-nanopb.a is built without PB_FIELD_32BIT; build roda.pb.c the same way"
#endif
#ifdef PB_NO_ERRMSG
#error "libprotobuf-nanopb.a is built with error messages; pb_istream_t layouts would differ"
#endif

_Static_assert(sizeof(((roda_v1_Batch *)0)->device) == RODA_DEVICE_NAME_SIZE,
               "roda.options device max_size must equal RODA_DEVICE_NAME_SIZE");

/* A failed read is truncation when the stream ran dry, corruption otherwise. */
static roda_decode_status_t failure(const pb_istream_t *stream)
{
    return stream->bytes_left == 0 ? RODA_DECODE_TRUNCATED : RODA_DECODE_MALFORMED;
}

/* Reads a length prefix and checks that the field fits in what is left. */
static roda_decode_status_t read_length(pb_istream_t *stream, uint32_t *length)
{
    if (!pb_decode_varint32(stream, length))
        return failure(stream);
    if (*length > stream->bytes_left)
        return RODA_DECODE_TRUNCATED;
    return RODA_DECODE_OK;
}

static roda_decode_status_t read_device(pb_istream_t *stream, roda_decode_batch_t *batch)
{
    uint32_t length;
    roda_decode_status_t status = read_length(stream, &length);
    if (status != RODA_DECODE_OK)
        return status;
    if (length >= RODA_DEVICE_NAME_SIZE)
        return RODA_DECODE_MALFORMED;
    if (!pb_read(stream, (pb_byte_t *)batch->device, length))
        return failure(stream);
    batch->device[length] = '\0';
    batch->device_length = length;
    return RODA_DECODE_OK;
}

static roda_decode_status_t read_field(pb_istream_t *stream, roda_decode_batch_t *batch,
                                       uint32_t tag, pb_wire_type_t wire_type)
{
    uint32_t length;
    roda_decode_status_t status;
    switch (tag) {
    case roda_v1_Batch_device_tag:
        if (wire_type != PB_WT_STRING)
            return RODA_DECODE_MALFORMED;
        return read_device(stream, batch);
    case roda_v1_Batch_sequence_tag:
    case roda_v1_Batch_boot_epoch_tag:
        if (wire_type != PB_WT_VARINT)
            return RODA_DECODE_MALFORMED;
        if (!pb_decode_varint(stream, tag == roda_v1_Batch_sequence_tag ? &batch->sequence
                                                                        : &batch->boot_epoch))
            return failure(stream);
        return RODA_DECODE_OK;
    case roda_v1_Batch_readings_tag:
        if (wire_type != PB_WT_STRING)
            return RODA_DECODE_MALFORMED;
        status = read_length(stream, &length);
        if (status != RODA_DECODE_OK)
            return status;
        if (++batch->reading_count > RODA_DECODE_MAX_READINGS)
            return RODA_DECODE_TOO_MANY;
        return pb_read(stream, NULL, length) ? RODA_DECODE_OK : failure(stream);
    default:
        return pb_skip_field(stream, wire_type) ? RODA_DECODE_OK : failure(stream);
    }
}

roda_decode_status_t roda_decode_open(roda_decode_batch_t *batch, const uint8_t *payload,
                                      size_t size)
{
    memset(batch, 0, sizeof(*batch));
    if (size > RODA_DECODE_MAX_PAYLOAD)
        return RODA_DECODE_OVERSIZE;
    batch->payload = payload;
    batch->size = size;
    pb_istream_t stream = pb_istream_from_buffer(payload, size);
    for (;;) {
        pb_wire_type_t wire_type;
        uint32_t tag;
        bool eof;
        if (!pb_decode_tag(&stream, &wire_type, &tag, &eof))
            return eof ? RODA_DECODE_OK : failure(&stream);
        if (tag == 0)
            return RODA_DECODE_MALFORMED; /* field numbers start at 1 */
        roda_decode_status_t status = read_field(&stream, batch, tag, wire_type);
        if (status != RODA_DECODE_OK)
            return status;
    }
}

uint32_t roda_decode_readings(roda_decode_batch_t *batch, roda_reading_t *records, uint32_t max,
                              uint64_t *non_finite, roda_decode_status_t *status)
{
    *status = RODA_DECODE_OK;
    uint32_t written = 0;
    pb_istream_t stream =
        pb_istream_from_buffer(batch->payload + batch->offset, batch->size - batch->offset);
    while (written < max && batch->readings_done < batch->reading_count) {
        pb_wire_type_t wire_type;
        uint32_t tag;
        bool eof;
        /* Pass 1 checked the framing of every top-level field, so these reads cannot fail. */
        if (!pb_decode_tag(&stream, &wire_type, &tag, &eof))
            break;
        if (tag != roda_v1_Batch_readings_tag) {
            if (!pb_skip_field(&stream, wire_type))
                break;
            continue;
        }
        pb_istream_t sub;
        if (!pb_make_string_substream(&stream, &sub))
            break;
        roda_v1_Reading reading;
        bool ok = pb_decode(&sub, roda_v1_Reading_fields, &reading);
        if (!pb_close_string_substream(&stream, &sub) || !ok) {
            *status = RODA_DECODE_MALFORMED;
            break;
        }
        batch->readings_done++;
        if (!isfinite(reading.value)) {
            (*non_finite)++;
            continue;
        }
        roda_reading_t *record = &records[written++];
        record->sensor_id = reading.sensor_id;
        record->value = reading.value;
        record->device_time_us = reading.time_us;
        record->quality = (uint16_t)reading.quality;
    }
    batch->offset = batch->size - stream.bytes_left;
    if (*status == RODA_DECODE_OK && written < max && batch->readings_done < batch->reading_count)
        *status = RODA_DECODE_MALFORMED; /* a read pass 1 should have refused: end the batch */
    return written;
}

const char *roda_decode_status_str(roda_decode_status_t status)
{
    switch (status) {
    case RODA_DECODE_OK:
        return "ok";
    case RODA_DECODE_TRUNCATED:
        return "truncated";
    case RODA_DECODE_MALFORMED:
        return "malformed";
    case RODA_DECODE_TOO_MANY:
        return "too_many_readings";
    case RODA_DECODE_OVERSIZE:
        return "oversize";
    }
    return "unknown";
}
