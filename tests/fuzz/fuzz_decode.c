/* fuzz_decode.c - libFuzzer target for the wire decoder. Every input is decoded as a Batch (both
 * passes, the second in small claims as when a batch wraps the journal's ring) and as a single
 * Reading, and each result is compared with nanopb's generated decoder on the same bytes (built
 * from roda_static.options: readings in a static array): same verdict, same values. Also
 * checked: no crash or overrun (ASan/UBSan), bounds, progress. */
#include <pb_decode.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roda.pb.h"
#include "roda_v1_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void compare_reading(const uint8_t *bytes, size_t size)
{
    roda_v1_reading_t ours;
    int ours_ok = roda_v1_decode_reading(bytes, size, &ours) == RODA_DECODE_OK;
    roda_v1_Reading theirs = roda_v1_Reading_init_zero;
    pb_istream_t stream = pb_istream_from_buffer(bytes, size);
    int theirs_ok = pb_decode(&stream, roda_v1_Reading_fields, &theirs);
    if (ours_ok != theirs_ok)
        abort();
    if (ours_ok && (ours.sensor_id != theirs.sensor_id ||
                    memcmp(&ours.value, &theirs.value, sizeof(double)) != 0 ||
                    ours.time_us != theirs.time_us || ours.quality != theirs.quality))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static roda_v1_Batch message;
    compare_reading(data, size);

    pb_istream_t stream = pb_istream_from_buffer(data, size);
    int theirs_ok = pb_decode(&stream, roda_v1_Batch_fields, &message);

    roda_decode_batch_t batch;
    int ours_ok = roda_v1_decode_open(&batch, NULL, data, size) == RODA_DECODE_OK;
    if (ours_ok && (batch.reading_count > RODA_DECODE_MAX_READINGS ||
                    batch.device_length >= sizeof(batch.device)))
        abort();
    roda_reading_t records[3];
    roda_decode_drops_t drops = {0};
    roda_decode_status_t status = RODA_DECODE_OK;
    uint32_t claim = 1 + (uint32_t)(size % 3), finite = 0;
    static roda_reading_t all[RODA_DECODE_MAX_READINGS];
    while (ours_ok && batch.readings_done < batch.reading_count && status == RODA_DECODE_OK) {
        uint32_t before = batch.readings_done;
        uint32_t written = roda_v1_decode_readings(&batch, records, NULL, claim, &drops, &status);
        if (written > claim || (status == RODA_DECODE_OK && batch.readings_done == before))
            abort();
        memcpy(&all[finite], records, written * sizeof(records[0]));
        finite += written;
    }
    ours_ok = ours_ok && status == RODA_DECODE_OK;
    if (ours_ok != theirs_ok)
        abort();
    if (!ours_ok)
        return 0;
    if (strcmp(batch.device, message.device) != 0 || batch.sequence != message.sequence ||
        batch.boot_epoch != message.boot_epoch || batch.reading_count != message.readings_count ||
        finite + drops.non_finite != message.readings_count)
        abort();
    /* The finite readings, in order, as the reference decoded them. */
    for (uint32_t i = 0, j = 0; i < message.readings_count; i++) {
        const roda_v1_Reading *r = &message.readings[i];
        if (r->value != r->value || r->value - r->value != 0)
            continue; /* NaN or infinite: dropped by ours */
        const roda_reading_t *o = &all[j++];
        if (o->sensor_id != r->sensor_id || memcmp(&o->value, &r->value, sizeof(double)) != 0 ||
            o->device_time_us != r->time_us || o->quality != (uint16_t)r->quality)
            abort();
    }
    return 0;
}
