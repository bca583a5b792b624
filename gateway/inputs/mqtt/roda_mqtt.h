/* roda_mqtt.h - the MQTT input: a libmosquitto client driven by the ingest thread's own event
 * loop (no libmosquitto thread), with capped exponential reconnect backoff, persistent sessions,
 * TLS, MQTT 3.1.1 or 5, and the topic pattern that names a message's device.
 *
 * Loop contract (ingest thread): poll roda_mqtt_fd() (when >= 0) for reading, and for writing when
 * roda_mqtt_want_write(); then call roda_mqtt_service() with what poll reported, and call it at
 * least every RODA_MQTT_SERVICE_MS anyway (keepalive, reconnect timers). Messages are handed to
 * the `on_message` callback from inside roda_mqtt_service. libmosquitto acknowledges a QoS 1
 * message within the call that hands it to the callback, so the message is in the journal (or
 * counted as dropped) before anything else is read; a crash inside that call can lose it after
 * the broker has forgotten it.
 *
 * Sessions: clean_session off (the default) keeps subscriptions and queued QoS 1 messages at the
 * broker while the gateway is away; it needs a fixed client_id. With MQTT 5 the session outlives
 * the connection only with a session expiry interval, which libmosquitto 2.0 sends only through
 * mosquitto_connect_bind_v5; that call connects TCP in blocking mode, so MQTT 5 connects block the
 * ingest thread for as long as the TCP connect takes (immediate on a LAN or when the port is
 * closed; up to the kernel's SYN timeout when the broker's host is unreachable). MQTT 3.1.1
 * connects are non-blocking. Shared subscriptions ("$share/<group>/<filter>") work with both
 * protocol versions on mosquitto 2; the broker then spreads each device's batches over the
 * group's gateways, so one gateway's lost_upstream also counts the batches its peers took and
 * is no loss measure; for loss detection with several gateways, give each gateway its own
 * partition of the devices' topics instead.
 *
 * Threads: create/destroy/service from the ingest thread (create may be called before it starts);
 * roda_mqtt_connected and roda_mqtt_counters from any thread. */
#ifndef RODA_MQTT_H
#define RODA_MQTT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_result.h"

#define RODA_MQTT_MAX_TOPICS 8u
#define RODA_MQTT_SERVICE_MS 100u

typedef struct roda_mqtt_config {
    const char *host;      /* broker; NULL disables MQTT */
    uint16_t port;         /* default 1883 */
    const char *client_id; /* required when clean_session is 0; default "roda-gateway" */
    const char *topics[RODA_MQTT_MAX_TOPICS]; /* subscription filters, wildcards allowed */
    uint32_t topic_count;                     /* default 1: "roda/+/readings" */
    int qos;                                  /* 0 or 1; default 1 */
    int clean_session;                        /* default 0: persistent session */
    uint32_t keepalive_s;                     /* default 30 */
    uint32_t session_expiry_s;                /* MQTT 5 only; default 86400 */
    int protocol;                             /* 4 (MQTT 3.1.1, default) or 5 */
    const char *username;                     /* optional */
    const char *password;                     /* optional */
    const char *tls_ca_file;                  /* set to enable TLS */
    const char *tls_cert_file;                /* optional client certificate ... */
    const char *tls_key_file;                 /* ... and its key */
    uint32_t reconnect_min_ms;                /* first retry delay; default 100 */
    uint32_t reconnect_max_ms;                /* doubling stops here; default 10000 */
    /* A topic pattern naming the device, e.g. "roda/{device}/readings": levels are matched
     * literally, '+' matches any one level, "{device}" one level that becomes the device name.
     * NULL: the payload names the device. */
    const char *device_pattern;
} roda_mqtt_config_t;

/* Counters of the connection's life, for metrics. */
typedef struct roda_mqtt_counters {
    uint64_t connects;         /* CONNACKs accepted */
    uint64_t connect_failures; /* attempts that failed or were refused */
    uint64_t disconnects;      /* established connections lost */
} roda_mqtt_counters_t;

typedef struct roda_mqtt roda_mqtt_t;

/* Called for each message with the device named by the topic pattern (NULL, 0 without a pattern)
 * or, when the pattern does not match, with `topic_matched` 0. */
typedef void (*roda_mqtt_message_fn)(void *context, int topic_matched, const char *device,
                                     size_t device_length, const uint8_t *payload, size_t size);

/* Fills `config` with the defaults above (host NULL: MQTT disabled). */
void roda_mqtt_config_default(roda_mqtt_config_t *config);

/* Creates the client; it connects on the first roda_mqtt_service call. Errors:
 * RODA_ERROR_INVALID_ARG (qos, protocol, topics, pattern, TLS files, missing client_id),
 * RODA_ERROR_NOMEM. */
roda_result_t roda_mqtt_create(const roda_mqtt_config_t *config, roda_mqtt_message_fn on_message,
                               void *context, roda_mqtt_t **out);
/* Disconnects cleanly (the persistent session stays at the broker) and frees the client. */
void roda_mqtt_destroy(roda_mqtt_t *mqtt);

/* The socket to poll, or -1 while there is no connection. */
int roda_mqtt_fd(roda_mqtt_t *mqtt);
int roda_mqtt_want_write(roda_mqtt_t *mqtt);
/* Reads, writes, keeps alive and reconnects; `readable`/`writable` as poll reported them. */
void roda_mqtt_service(roda_mqtt_t *mqtt, int readable, int writable);

/* 1 once the broker accepted the connection and acknowledged the subscriptions. Any thread. */
int roda_mqtt_connected(const roda_mqtt_t *mqtt);
void roda_mqtt_counters(const roda_mqtt_t *mqtt, roda_mqtt_counters_t *counters);

/* Matches `topic` against a device pattern. Returns 1 and sets *device and *length to the
 * "{device}" level of `topic` when it matches; 0 otherwise. */
int roda_mqtt_topic_device(const char *pattern, const char *topic, const char **device,
                           size_t *length);
/* Checks a device pattern: exactly one "{device}" level, no '#'. Returns 1 when valid. */
int roda_mqtt_pattern_valid(const char *pattern);

#endif
