/* roda_encode.c - roda.v1.Batch encoding with nanopb: the readings are streamed from the
 * caller's array by an encode callback, so the batch needs no fixed-size array. */
#include "roda_encode.h"

#include <pb_encode.h>
#include <string.h>

static bool encode_readings(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
    const roda_encode_batch_t *batch = *arg;
    for (uint32_t i = 0; i < batch->reading_count; i++) {
        if (!pb_encode_tag_for_field(stream, field) ||
            !pb_encode_submessage(stream, roda_v1_Reading_fields, &batch->readings[i]))
            return false;
    }
    return true;
}

size_t roda_encode(const roda_encode_batch_t *batch, uint8_t *buffer, size_t capacity)
{
    roda_v1_Batch message = roda_v1_Batch_init_zero;
    if (batch->device != NULL) {
        size_t length = strlen(batch->device);
        if (length >= sizeof(message.device))
            return 0;
        memcpy(message.device, batch->device, length + 1);
    }
    message.sequence = batch->sequence;
    message.boot_epoch = batch->boot_epoch;
    message.readings.funcs.encode = encode_readings;
    message.readings.arg = (void *)batch;
    pb_ostream_t stream = pb_ostream_from_buffer(buffer, capacity);
    if (!pb_encode(&stream, roda_v1_Batch_fields, &message))
        return 0;
    return stream.bytes_written;
}
