/* roda_reading.h - the record of the gateway's input journal: one sensor reading.
 *
 * Ingest decodes each reading of every input straight into a claimed slot of the input
 * journal in this layout; the stateful stage reads it from there. 40 bytes, a multiple of 8 as the
 * journal requires. */
#ifndef RODA_READING_H
#define RODA_READING_H

#include <stdint.h>

typedef struct roda_reading {
    uint64_t sensor_id;      /* numeric id, unique within the fleet */
    double value;            /* finite (NaN and infinities are dropped and counted at ingest) */
    int64_t device_time_us;  /* the device's clock, microseconds since the Unix epoch */
    uint64_t ingest_time_ns; /* roda_now_ns() when decoded: the start of end-to-end latency */
    uint32_t device;         /* index of the device in the ingest's device registry */
    uint16_t quality;        /* the device's quality/status flag for this reading */
    uint8_t input;           /* index of the input in roda_inputs() */
    uint8_t reserved;
} roda_reading_t;

_Static_assert(sizeof(roda_reading_t) == 40, "roda_reading_t is a 40-byte journal record");

#endif
