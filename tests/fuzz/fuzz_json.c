/* fuzz_json.c - libFuzzer target for the JSON decoder. The first input byte picks the mapping
 * (listed fields or every numeric member, a device field or not, the timestamp format, the
 * depth bound); the rest is the message, decoded in both passes, the second in claims of 1 to 4
 * records as when a batch wraps the journal's ring. Checked besides crashes and overruns
 * (ASan/UBSan): the verdict is one of the statuses; an accepted message has at most
 * RODA_DECODE_MAX_READINGS readings, and every one of them is written or dropped under one
 * reason, exactly once; every written record is finite and carries a valid name; the device
 * name is a NUL-terminated string within its bound; the arena stays within the scratch. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roda_devices.h"
#include "roda_json_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGE 4096u
#define SCRATCH_BYTES (RODA_DECODE_SCRATCH_PER_BYTE * MAX_MESSAGE + RODA_DECODE_SCRATCH_BASE)

static _Alignas(16) uint8_t scratch[SCRATCH_BYTES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size - 1 > MAX_MESSAGE)
        return 0;
    uint8_t mode = data[0];
    roda_json_settings_t settings = {
        .device_field = (mode & 1) ? "device" : "",
        .sensor_fields = {"t", "h", "temperature"},
        .sensor_field_count = (mode & 2) ? 3 : 0,
        .timestamp_field = (mode & 4) ? "ts" : "",
        .timestamp_format = (roda_json_time_format_t)((mode >> 3) & 3),
        .max_depth = 1u + ((mode >> 5) & 7u),
    };
    roda_decode_context_t context = {
        .settings = &settings, .scratch = scratch, .scratch_size = sizeof scratch};
    roda_decode_batch_t batch;
    roda_decode_status_t status = roda_json_decode_open(&batch, &context, data + 1, size - 1);
    if (status != RODA_DECODE_OK) {
        if (status != RODA_DECODE_MALFORMED && status != RODA_DECODE_TOO_MANY &&
            status != RODA_DECODE_OVERSIZE)
            abort();
        return 0;
    }
    if (batch.reading_count > RODA_DECODE_MAX_READINGS ||
        batch.device_length >= RODA_DEVICE_NAME_SIZE || strlen(batch.device) != batch.device_length)
        abort();
    static roda_reading_t records[RODA_DECODE_MAX_READINGS];
    static const char *names[RODA_DECODE_MAX_READINGS];
    roda_decode_drops_t drops = {0};
    uint64_t written = 0;
    uint32_t claim = 1;
    while (batch.readings_done < batch.reading_count && status == RODA_DECODE_OK) {
        uint32_t done_before = batch.readings_done;
        uint32_t n = roda_json_decode_readings(&batch, records, names, claim, &drops, &status);
        if (n > claim || (n == 0 && batch.readings_done == done_before && status == RODA_DECODE_OK))
            abort(); /* over the claim, or no progress */
        for (uint32_t i = 0; i < n; i++)
            if (!isfinite(records[i].value) || records[i].sensor_id != 0 || names[i] == NULL ||
                !roda_devices_name_valid(names[i], strlen(names[i])))
                abort();
        written += n;
        claim = claim % 4 + 1;
    }
    uint64_t dropped = drops.non_finite + drops.missing_field + drops.wrong_type +
                       drops.out_of_range + drops.other_device;
    if (status != RODA_DECODE_OK || batch.readings_done != batch.reading_count ||
        written + dropped != batch.reading_count || drops.non_finite != 0)
        abort();
    return 0;
}
