/* roda_mqtt_conn.h - one MQTT connection (libmosquitto), used by the MQTT input and by the alert
 * publisher: library init once, login and TLS, MQTT 3.1.1 or 5, capped exponential reconnect
 * back-off, an optional last will, and a rate-limited log line on every failed connect and every
 * lost connection that names the broker and the reason (a host name that does not resolve too).
 *
 * Loop contract: the owner's thread polls roda_mqtt_conn_fd() (when >= 0) for reading, and for
 * writing when roda_mqtt_conn_want_write(); then calls roda_mqtt_conn_service() with what poll
 * reported, and at least every RODA_MQTT_SERVICE_MS anyway (keepalive, reconnect timers). There
 * is no libmosquitto thread: every callback runs inside roda_mqtt_conn_service on that thread.
 *
 * States: idle (waiting for the next attempt) -> connecting -> connected (CONNACK accepted: the
 * `connected` callback runs, e.g. to subscribe) -> idle on any failure, with the next attempt
 * after the back-off (reconnect_min_ms doubling up to reconnect_max_ms; reset on a CONNACK).
 *
 * MQTT 5: a session outlives its connection only with a session expiry interval, which
 * libmosquitto 2.0 sends only through mosquitto_connect_bind_v5; that call connects TCP in
 * blocking mode, so MQTT 5 connects block the owner's thread for as long as the TCP connect
 * takes (immediate on a LAN or when the port is closed; up to the kernel's SYN timeout when the
 * broker's host is unreachable). MQTT 3.1.1 connects are non-blocking.
 *
 * Threads: everything from the owner's thread, except roda_mqtt_conn_connected and
 * roda_mqtt_conn_counters (any thread). */
#ifndef RODA_MQTT_CONN_H
#define RODA_MQTT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_result.h"

/* How often the owner calls roda_mqtt_conn_service at least. */
#define RODA_MQTT_SERVICE_MS 100u
/* A repeated connect failure is logged at most once per this interval (the others are counted
 * and reported with the next line as suppressed=N). */
#define RODA_MQTT_LOG_INTERVAL_MS 10000u

typedef struct roda_mqtt_conn_config {
    const char *role;      /* "input", "alerts": named in every log line */
    const char *host;      /* required */
    uint16_t port;         /* required */
    const char *client_id; /* required unless clean_session */
    bool clean_session;
    uint32_t keepalive_s;      /* > 0 */
    uint32_t session_expiry_s; /* MQTT 5 only */
    int protocol;              /* 4 (MQTT 3.1.1) or 5 */
    const char *username;      /* NULL or "": no login */
    const char *password;
    const char *ca_file; /* NULL or "": no TLS */
    const char *cert_file, *key_file;
    uint32_t reconnect_min_ms; /* > 0 */
    uint32_t reconnect_max_ms; /* >= reconnect_min_ms */
    uint32_t max_inflight;     /* QoS 1 messages unacknowledged at once; 0: libmosquitto's */
    /* The last will, NULL or "": none. The broker publishes `will_payload` to `will_topic`,
     * retained at QoS 1, when the connection ends without a DISCONNECT (crash, kill, network). */
    const char *will_topic;
    const char *will_payload;
} roda_mqtt_conn_config_t;

/* What the owner is told; every member may be NULL. All run inside roda_mqtt_conn_service. */
typedef struct roda_mqtt_conn_events {
    void *context;
    /* The broker accepted the connection (subscribe from here). */
    void (*connected)(void *context);
    /* The connection is gone (refused, lost or timed out); a retry is scheduled. */
    void (*disconnected)(void *context);
    void (*message)(void *context, const char *topic, const uint8_t *payload, size_t size);
    /* The broker answered SUBSCRIBE `mid`; granted[i] > 2 is a refused filter. */
    void (*subscribed)(void *context, int mid, int count, const int *granted);
    /* A QoS 1 message was acknowledged, or a QoS 0 one written. */
    void (*published)(void *context, int mid);
} roda_mqtt_conn_events_t;

/* Counters of the connection's life, for metrics. */
typedef struct roda_mqtt_conn_counters {
    uint64_t connects;         /* CONNACKs accepted */
    uint64_t connect_failures; /* attempts that failed or were refused */
    uint64_t disconnects;      /* established connections lost */
} roda_mqtt_conn_counters_t;

typedef struct roda_mqtt_conn roda_mqtt_conn_t;

/* Creates the client; it connects on the first roda_mqtt_conn_service call. The config's strings
 * must outlive the connection. RODA_ERROR_INVALID_ARG (a setting libmosquitto refuses: protocol,
 * TLS files, missing client_id or host), RODA_ERROR_NOMEM. */
roda_result_t roda_mqtt_conn_create(const roda_mqtt_conn_config_t *config,
                                    const roda_mqtt_conn_events_t *events, roda_mqtt_conn_t **out);
/* Disconnects cleanly (a persistent session stays at the broker) and frees the client. */
void roda_mqtt_conn_destroy(roda_mqtt_conn_t *conn);

/* The socket to poll, or -1 while there is no connection. */
int roda_mqtt_conn_fd(roda_mqtt_conn_t *conn);
bool roda_mqtt_conn_want_write(roda_mqtt_conn_t *conn);
/* Reads, writes, keeps alive and reconnects; `readable`/`writable` as poll reported them. */
void roda_mqtt_conn_service(roda_mqtt_conn_t *conn, bool readable, bool writable);
/* Polls the connection for up to `timeout_ms`, then services it (for an owner with nothing
 * else to poll). */
void roda_mqtt_conn_run_once(roda_mqtt_conn_t *conn, int timeout_ms);

/* Subscribes to `count` filters at `qos`; *mid identifies the SUBACK. Connected state only.
 * RODA_ERROR_STATE (not connected), RODA_ERROR_INVALID_ARG (a filter libmosquitto refuses). */
roda_result_t roda_mqtt_conn_subscribe(roda_mqtt_conn_t *conn, const char *const *filters,
                                       uint32_t count, int qos, int *mid);
/* Publishes one message (retained when `retain`); *mid identifies it in the `published` event.
 * RODA_ERROR_STATE (not connected), RODA_ERROR_INVALID_ARG (too large), RODA_ERROR_SYSTEM
 * (libmosquitto refused it). */
roda_result_t roda_mqtt_conn_publish(roda_mqtt_conn_t *conn, const char *topic, const void *payload,
                                     size_t size, int qos, bool retain, int *mid);
/* Drops the connection now and retries after the back-off (e.g. a refused subscription). */
void roda_mqtt_conn_fail(roda_mqtt_conn_t *conn, const char *reason);

/* True once the broker accepted the connection, until it is lost. Any thread. */
bool roda_mqtt_conn_connected(const roda_mqtt_conn_t *conn);
void roda_mqtt_conn_counters(const roda_mqtt_conn_t *conn, roda_mqtt_conn_counters_t *counters);

/* Checks a subscription filter (wildcards allowed) or, with `filter` false, a topic to publish
 * to (no wildcards). */
bool roda_mqtt_topic_valid(const char *topic, bool filter);
/* True when `topic` matches subscription filter `filter`. */
bool roda_mqtt_topic_matches(const char *filter, const char *topic);

#endif
