/* fuzz_decode.c - libFuzzer target for the wire decoder: both passes over arbitrary bytes, the
 * second in small claims as the ingest does when a batch wraps the journal's ring. Invariants:
 * no crash or overrun (ASan/UBSan), the batch bound holds, every call makes progress. */
#include <stdint.h>
#include <stdlib.h>

#include "roda_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    roda_decode_batch_t batch;
    if (roda_decode_open(&batch, data, size) != RODA_DECODE_OK)
        return 0;
    if (batch.reading_count > RODA_DECODE_MAX_READINGS ||
        batch.device_length >= sizeof(batch.device))
        abort();
    roda_reading_t records[3];
    uint64_t non_finite = 0;
    roda_decode_status_t status = RODA_DECODE_OK;
    uint32_t claim = 1 + (uint32_t)(size % 3);
    while (batch.readings_done < batch.reading_count && status == RODA_DECODE_OK) {
        uint32_t before = batch.readings_done;
        uint32_t written = roda_decode_readings(&batch, records, claim, &non_finite, &status);
        if (written > claim || (status == RODA_DECODE_OK && batch.readings_done == before))
            abort();
    }
    if (batch.readings_done > batch.reading_count || non_finite > batch.reading_count)
        abort();
    return 0;
}
