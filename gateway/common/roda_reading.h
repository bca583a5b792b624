/* roda_reading.h - the record of the gateway's input journal: one sensor reading, or a control
 * record of the ingest's clock.
 *
 * Ingest decodes each reading of every input straight into a claimed slot of the input
 * journal in this layout; the stateful stage reads it from there. 40 bytes, a multiple of 8 as the
 * journal requires.
 *
 * Event time: every time-driven decision of the stages (silent sensors, eviction of idle ones,
 * hold-off) uses ingest times recorded in this journal, never a clock read inside a stage, so a
 * replay of the journal makes the same decisions as the live run. While nothing arrives, the
 * ingest still writes a CLOCK record every clock interval, carrying only its ingest_time_ns. A
 * CHECKPOINT record is a CLOCK record that also asks the stages to write their part of snapshot
 * `sensor_id` (roda_snapshot.h). A SILENCE record is a clock record that also says device
 * `device` went silent (a Sparkplug B DEATH): the rules treat its sensors as silent at once.
 * Control records carry no reading: value and the other fields are zero (SILENCE: but `device`
 * and `input`). */
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
    uint8_t kind;            /* roda_record_kind_t */
} roda_reading_t;

typedef enum roda_record_kind {
    RODA_RECORD_READING = 0,
    RODA_RECORD_CLOCK = 1,      /* the ingest's clock while idle: ingest_time_ns only */
    RODA_RECORD_CHECKPOINT = 2, /* a clock record that starts snapshot `sensor_id` */
    RODA_RECORD_SILENCE = 3,    /* a clock record: device `device` went silent */
} roda_record_kind_t;

_Static_assert(sizeof(roda_reading_t) == 40, "roda_reading_t is a 40-byte journal record");

/* The record schema the input journal's segments carry (roda_journal_config_t.schema): 1 was
 * readings only with a monotonic ingest clock; 2 adds the control records and wall-clock ingest
 * times. A recording of another schema is refused by name. */
#define RODA_READING_SCHEMA 2u

#endif
