/* roda_decode.h - decoding of a roda.v1.Batch (proto/roda.proto) straight into input journal
 * records, in two passes over the payload buffer, without copies or allocation.
 *
 * Pass 1, roda_decode_open: walks the batch's top-level fields, reads the device name, sequence
 * and boot epoch, checks the framing of every field and counts the readings without decoding
 * them. The caller then knows the device (duplicate? registry full?) and how many journal slots
 * to claim before any reading is decoded.
 * Pass 2, roda_decode_readings: decodes readings into the caller's records (the
 * claimed journal slots), resuming where the previous call stopped, so a batch can be spread
 * over the two runs of a claim that wraps at the ring's end.
 *
 * Unknown fields are skipped at both levels; a known field with the wrong wire type is an error
 * (as in the reference implementation). Bounds: device name < RODA_DEVICE_NAME_SIZE bytes, at
 * most RODA_DECODE_MAX_READINGS readings per batch, payload up to RODA_DECODE_MAX_PAYLOAD bytes.
 *
 * Threads: no shared state; a roda_decode_batch_t belongs to one thread. */
#ifndef RODA_DECODE_H
#define RODA_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "roda_devices.h"
#include "roda_reading.h"

#define RODA_DECODE_MAX_READINGS 1024u
/* The gateway's bound on one message: a full batch of typical readings is about 30 KiB. */
#define RODA_DECODE_MAX_PAYLOAD (256u * 1024u)

typedef enum roda_decode_status {
    RODA_DECODE_OK = 0,
    RODA_DECODE_TRUNCATED = 1, /* the payload ends inside a field */
    RODA_DECODE_MALFORMED = 2, /* bad varint, wrong wire type, bad length, name too long */
    RODA_DECODE_TOO_MANY = 3,  /* more than RODA_DECODE_MAX_READINGS readings */
    RODA_DECODE_OVERSIZE = 4,  /* payload over RODA_DECODE_MAX_PAYLOAD */
} roda_decode_status_t;

typedef struct roda_decode_batch {
    /* Filled by roda_decode_open. */
    char device[RODA_DEVICE_NAME_SIZE]; /* NUL-terminated; empty when the batch names none */
    size_t device_length;
    uint64_t sequence;
    uint64_t boot_epoch;
    uint32_t reading_count;
    /* Progress of pass 2. */
    uint32_t readings_done; /* readings consumed so far (written or dropped as non-finite) */
    const uint8_t *payload;
    size_t size;
    size_t offset; /* where pass 2 resumes */
} roda_decode_batch_t;

/* One decoded roda.v1.Reading, as on the wire. */
typedef struct roda_decode_reading {
    uint64_t sensor_id;
    double value;
    int64_t time_us;
    uint32_t quality;
} roda_decode_reading_t;

/* Decodes the bytes of one Reading message (what a `readings` field holds). Used by pass 2 and
 * by the fuzzer's comparison with nanopb. RODA_DECODE_OK, _TRUNCATED or _MALFORMED. */
roda_decode_status_t roda_decode_reading(const uint8_t *bytes, size_t size,
                                         roda_decode_reading_t *reading);

/* Pass 1. On RODA_DECODE_OK the header fields and reading_count are set and pass 2 may run. */
roda_decode_status_t roda_decode_open(roda_decode_batch_t *batch, const uint8_t *payload,
                                      size_t size);

/* Pass 2: decodes readings until `max` records are written or the batch ends. Each record gets
 * sensor_id, value, device_time_us and quality; the caller fills device, input and
 * ingest_time_ns. Readings whose value is NaN or infinite are skipped and added to *non_finite.
 * Returns the records written. On a malformed reading (possible only for readings pass 1 did not
 * decode) *status becomes RODA_DECODE_MALFORMED and the batch ends there; else RODA_DECODE_OK.
 * The batch is finished when readings_done == reading_count or *status is not OK. */
uint32_t roda_decode_readings(roda_decode_batch_t *batch, roda_reading_t *records, uint32_t max,
                              uint64_t *non_finite, roda_decode_status_t *status);

/* A static name for a status ("ok", "truncated", ...). */
const char *roda_decode_status_str(roda_decode_status_t status);

#endif
