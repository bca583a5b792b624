/* roda_json_decode.h - the JSON decoder: a JSON message (one object, or an array of objects as
 * a batch) mapped to named readings by the filter's settings, in the two passes of
 * roda_decoder.h, in the spirit of mqtt2prometheus and Telegraf's JSON parser.
 *
 * Mapping: each object is one row. The device is the input's (an MQTT topic level) or the
 * string member `device_field` of the first row; a later row naming another device has its
 * readings dropped (other_device). Sensors are the members listed in `sensor_fields`, or, when
 * none are listed, every member whose value is a number or a boolean (but the device and
 * timestamp members); each becomes a reading named by its member name (roda_sensor_names.h gives
 * it its id), a boolean valued 1 (true) or 0 (false) as Sparkplug's Boolean. The
 * optional `timestamp_field` gives the row's device time: a number of seconds, milliseconds or
 * microseconds since the Unix epoch (fractions allowed, rounded to the microsecond) or an
 * RFC 3339 string ("2024-05-01T12:00:00.25+02:00"); without one the device time is 0.
 *
 * Refused messages: not JSON, trailing bytes, top level neither object nor array, nesting deeper
 * than `max_depth` (checked before parsing) or a number longer than 63 characters: malformed;
 * over RODA_DECODE_MAX_PAYLOAD or the scratch: oversize; more than RODA_DECODE_MAX_READINGS
 * readings: too_many. Dropped readings (roda_decode_drops_t), the rest of the message kept: a
 * listed member absent or null, or the row's timestamp absent (missing_field); a string or
 * container where a number belongs, an array entry that is not an object (its
 * readings; one in every-numeric mode), a sensor name that is not a valid label (wrong_type); a
 * number beyond a double, a timestamp beyond int64 microseconds or not RFC 3339 (out_of_range);
 * a row of another device (other_device). Numbers are read with strtod: the double nearest to
 * the text, as Python's json and float() give it (bit for bit: -0.0, 1e308, 2^64).
 *
 * Library: cJSON (Debian's libcjson), parsing into the batch's scratch through its allocator
 * hooks (a bump arena reset per message: no malloc per message); DESIGN.md says why cJSON.
 *
 * Threads: no shared state but cJSON's hooks, set once; the arena is the calling thread's. */
#ifndef RODA_JSON_DECODE_H
#define RODA_JSON_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "roda_decoder.h"

/* Sensor members one mapping lists at most; nesting levels a message may have at most. */
#define RODA_JSON_MAX_SENSOR_FIELDS 16u
#define RODA_JSON_MAX_DEPTH 64u

typedef enum roda_json_time_format {
    RODA_JSON_TIME_S = 0,
    RODA_JSON_TIME_MS = 1,
    RODA_JSON_TIME_US = 2,
    RODA_JSON_TIME_RFC3339 = 3,
} roda_json_time_format_t;

/* The decoder's settings (roda_decode_context_t.settings): required, strings kept by the
 * caller for as long as the decoder is used. */
typedef struct roda_json_settings {
    const char *device_field; /* "": none (the input names the device) */
    const char *sensor_fields[RODA_JSON_MAX_SENSOR_FIELDS]; /* valid labels */
    uint32_t sensor_field_count;                            /* 0: every number or boolean member */
    const char *timestamp_field;                            /* "": none */
    roda_json_time_format_t timestamp_format;
    uint32_t max_depth; /* 1 .. RODA_JSON_MAX_DEPTH */
} roda_json_settings_t;

/* The decoder's table entry ("json"). */
extern const roda_decoder_t roda_json_decoder;

/* Pass 1 and pass 2 (roda_decoder_t's open and readings). */
roda_decode_status_t roda_json_decode_open(roda_decode_batch_t *batch,
                                           const roda_decode_context_t *context,
                                           const uint8_t *payload, size_t size);
uint32_t roda_json_decode_readings(roda_decode_batch_t *batch, roda_reading_t *records,
                                   const char **names, uint32_t max, roda_decode_drops_t *drops,
                                   roda_decode_status_t *status);

/* "s", "ms", "us" or "rfc3339" into *format; false for anything else. */
bool roda_json_time_format_parse(const char *text, roda_json_time_format_t *format);
/* An RFC 3339 date-time (`length` bytes) as microseconds since the Unix epoch; false when it is
 * not one or does not fit. */
bool roda_json_parse_rfc3339(const char *text, size_t length, int64_t *time_us);

#endif
