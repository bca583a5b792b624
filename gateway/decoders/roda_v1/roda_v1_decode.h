/* roda_v1_decode.h - the roda.v1 decoder: a roda.v1.Batch (proto/roda.proto) read from the
 * protobuf wire format straight into input journal records (the two passes of roda_decoder.h).
 *
 * Unknown fields are skipped at both levels; a known field with the wrong wire type is an error
 * (as in the reference implementation). Bounds: device name < RODA_DEVICE_NAME_SIZE bytes, at
 * most RODA_DECODE_MAX_READINGS readings per batch, payload up to RODA_DECODE_MAX_PAYLOAD bytes.
 *
 * Threads: no shared state. */
#ifndef RODA_V1_DECODE_H
#define RODA_V1_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "roda_decoder.h"

/* The decoder's table entry ("roda.v1"). */
extern const roda_decoder_t roda_v1_decoder;

/* One decoded roda.v1.Reading, as on the wire. */
typedef struct roda_v1_reading {
    uint64_t sensor_id;
    double value;
    int64_t time_us;
    uint32_t quality;
} roda_v1_reading_t;

/* Decodes the bytes of one Reading message (what a `readings` field holds). Used by pass 2 and
 * by the fuzzer's comparison with nanopb. RODA_DECODE_OK, _TRUNCATED or _MALFORMED. */
roda_decode_status_t roda_v1_decode_reading(const uint8_t *bytes, size_t size,
                                            roda_v1_reading_t *reading);

/* Pass 1 and pass 2 (roda_decoder_t's open and readings). No settings: `context` is kept but
 * not used; readings are numbered, so every names[i] is NULL. */
roda_decode_status_t roda_v1_decode_open(roda_decode_batch_t *batch,
                                         const roda_decode_context_t *context,
                                         const uint8_t *payload, size_t size);
uint32_t roda_v1_decode_readings(roda_decode_batch_t *batch, roda_reading_t *records,
                                 const char **names, uint32_t max, roda_decode_drops_t *drops,
                                 roda_decode_status_t *status);

#endif
