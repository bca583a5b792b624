/* roda_input_mqtt.h - the MQTT input: subscriptions on one broker connection (roda_mqtt_conn.h)
 * serviced by the ingest thread, one message per PUBLISH, the device named by a topic level or
 * by the payload, the decoder (and a JSON filter's mapping) chosen per topic filter.
 *
 * libmosquitto acknowledges a QoS 1 message within the call that hands it to the ingest, so the
 * message is in the journal (or counted as dropped) before anything else is read; a crash inside
 * that call can lose it after the broker has forgotten it.
 *
 * Sessions: clean_session off (the default) keeps subscriptions and queued QoS 1 messages at the
 * broker while the gateway is away; it needs a fixed client_id. Shared subscriptions
 * ("$share/<group>/<filter>") work with both protocol versions on mosquitto 2; the broker then
 * spreads each device's batches over the group's gateways, so one gateway's lost_upstream also
 * counts the batches its peers took and is no loss measure; for loss detection with several
 * gateways, give each gateway its own partition of the devices' topics instead.
 *
 * Sparkplug B (filters of format sparkplug.b): one host state per input (aliases, sequences;
 * roda_sparkplug_decode.h), sized by [sparkplug]; after each such message a due Rebirth request
 * is published at QoS 0 on this connection (sparkplug.rebirth), counted when it cannot be.
 *
 * Ready (for /readyz and roda_mqtt_connected) once the broker acknowledged every subscription:
 * from then on nothing published to the filters is missed; a refused filter (e.g. by an ACL)
 * leaves it not ready. */
#ifndef RODA_INPUT_MQTT_H
#define RODA_INPUT_MQTT_H

#include <stdbool.h>
#include <stddef.h>

#include "roda_input.h"
#include "roda_json_decode.h"
#include "roda_mqtt_conn.h"
#include "roda_sparkplug_decode.h"

#define RODA_INPUT_MQTT_MAX_TOPICS 8u
#define RODA_INPUT_MQTT_PATTERN_SIZE 160u
/* MQTT 5: how long the broker keeps a persistent session while the gateway is away. */
#define RODA_INPUT_MQTT_SESSION_EXPIRY_S 86400u

typedef struct roda_input_mqtt_settings {
    roda_mqtt_conn_config_t conn;
    const char *topics[RODA_INPUT_MQTT_MAX_TOPICS]; /* subscription filters, wildcards allowed */
    const roda_decoder_t *decoders[RODA_INPUT_MQTT_MAX_TOPICS]; /* per filter */
    /* Per filter, its decoder's settings (NULL for roda.v1; &json[i] for json; for sparkplug.b
     * the input's host, set at create) */
    const void *decoder_settings[RODA_INPUT_MQTT_MAX_TOPICS];
    /* Per json filter, its mapping ([json] or the [json.NAME] its format names) */
    roda_json_settings_t json[RODA_INPUT_MQTT_MAX_TOPICS];
    /* The [sparkplug] host state's bounds and rebirth switch, for the sparkplug.b filters (one
     * host state for all of them, created with the input; their device_patterns stay empty:
     * the Sparkplug topic names the device). */
    bool sparkplug_rebirth;
    uint32_t sparkplug_max_scopes;
    uint32_t sparkplug_max_aliases;
    uint32_t topic_count; /* >= 1 */
    int qos;              /* 0 or 1 */
    /* Per filter, a topic pattern naming the device, e.g. "roda/{device}/readings": levels are
     * matched literally, '+' matches any one level, "{device}" one level that becomes the device
     * name. A message takes the pattern (and decoder) of the first filter its topic matches.
     * Empty: the payload names the device. */
    char device_patterns[RODA_INPUT_MQTT_MAX_TOPICS][RODA_INPUT_MQTT_PATTERN_SIZE];
} roda_input_mqtt_settings_t;

extern const roda_input_class_t roda_input_mqtt;

/* A JSON mapping ([json] or [json.NAME]) as the JSON decoder's settings; false with
 * "json[.NAME].field: what is wrong" in `why`. */
bool roda_input_json_settings(const roda_config_json_t *mapping, roda_json_settings_t *json,
                              char *why, size_t size);
/* The decoder of payload format `format` as config key `field` gives it (roda.v1, sparkplug.b,
 * json for the [json] mapping, json.NAME for [json.NAME]), with *json set for a JSON one; NULL
 * with the reason in `why` for a format or a mapping it cannot use. (Shared by the inputs.) */
const roda_decoder_t *roda_input_format(const roda_config_t *config, const char *field,
                                        const char *format, roda_json_settings_t *json, char *why,
                                        size_t size);

/* Matches `topic` against a device pattern. True with *device and *length set to the
 * "{device}" level of `topic` when it matches. */
bool roda_mqtt_topic_device(const char *pattern, const char *topic, const char **device,
                            size_t *length);
/* Checks a device pattern: exactly one "{device}" level, no '#'. */
bool roda_mqtt_pattern_valid(const char *pattern);
/* The device pattern of a subscription filter: its level `level` (0 = first) becomes "{device}",
 * e.g. "fleet/+/readings" with level 1 -> "fleet/{device}/readings"; a "$share/<group>/" prefix
 * is not part of received topics and is left out; the pattern ends before a '#' level.
 * RODA_ERROR_INVALID_ARG when the filter has no such level before any '#' or the pattern does
 * not fit in `size`. */
roda_result_t roda_mqtt_device_pattern(const char *filter, uint32_t level, char *out, size_t size);

#endif
