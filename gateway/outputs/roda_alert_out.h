/* roda_alert_out.h - the gateway's alert outputs, all reading the alert journal through tail
 * readers, so none of them can slow the rules stage: the /alerts SSE source, /alerts/recent, and
 * the MQTT alert publisher.
 *
 * Alerts are shown as JSON (roda_alert_json) with their journal position as id. Rule and device
 * names come from a roda_alert_names_t (the rules' snapshot, the ingest's device registry).
 *
 * SSE (roda_alert_stream_t, a roda_sse_source_t for roda_http): each client takes one of
 * max_clients preallocated cursors (RODA_ERROR_TOO_MANY past that: 503), a journal tail reader.
 * Resume (Last-Event-ID = P) opens the tail at P + 1 while the journal still holds it; otherwise
 * at the oldest intact alert, and the first thing the client gets is a gap event with the count
 * it missed. A client that falls more than the journal's capacity behind gets a gap event
 * (roda_journal_tail_consume's count), never a silent skip; a resume id beyond the last alert
 * (e.g. from before a restart) starts at the live end. When the journal is closed (shutdown)
 * and read to its end, the stream ends.
 *
 * Recent (roda_alert_recent): the last `limit` alerts, at most RODA_ALERT_RECENT_MAX (what fits
 * in RODA_HTTP_JSON_MAX with the longest names), read from write_position - limit with a tail
 * (alerts overwritten meanwhile are simply not listed).
 *
 * Publisher (roda_alert_publisher_t): a thread with its own libmosquitto client publishes every
 * alert as JSON to `topic` (QoS 0 or 1), from a tail reader. Bounded: at most max_inflight
 * messages handed to libmosquitto and not yet acknowledged (it allocates one packet per message;
 * nothing else grows). Never silent: `published` counts acknowledged messages (QoS 1: PUBACK;
 * QoS 0: written), `dropped` counts alerts read while the broker was not connected, alerts the
 * tail lost because the publisher fell a journal capacity behind, failed publishes, and what was
 * still unacknowledged or unread when stop's flush deadline passed. Reconnects back off from
 * reconnect_min_ms doubling to reconnect_max_ms.
 *
 * Threads: the SSE source's functions from HTTP connection threads (one cursor per thread at a
 * time); roda_alert_recent from any thread; publisher create/start/stop/destroy from one
 * controlling thread, roda_alert_publisher_stats from any thread. */
#ifndef RODA_ALERT_OUT_H
#define RODA_ALERT_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_http.h"
#include "roda_journal.h"
#include "roda_json.h"
#include "roda_rules.h"

/* Alerts one /alerts/recent body holds at most (RODA_HTTP_JSON_MAX / the longest alert JSON). */
#define RODA_ALERT_JSON_MAX 640u
#define RODA_ALERT_RECENT_MAX (RODA_HTTP_JSON_MAX / RODA_ALERT_JSON_MAX - 1u)

/* Bytes of one SSE client's journal cursor (with its batch of copied alerts), preallocated per
 * max_sse_clients (for the memory plan). */
#define RODA_ALERT_STREAM_CLIENT_BYTES 2176u

/* Names for alert JSON. Both functions are called from any output thread. */
typedef struct roda_alert_names {
    void *context;
    /* Copies the name of rule `rule` (< RODA_RULE_NAME_MAX bytes) into buf; false if unknown. */
    /* The name of `rule` in rule set `generation` (the alert's own fields). */
    bool (*rule)(void *context, uint32_t rule, uint16_t generation, char *buf, size_t size);
    /* The device's name, NULL when unknown. */
    const char *(*device)(void *context, uint32_t device);
} roda_alert_names_t;

/* Writes `alert` at journal position `id` as one JSON object with its names. */
void roda_alert_out_json(const roda_alert_names_t *names, const roda_alert_t *alert, uint64_t id,
                         roda_json_t *json);

/* ---- SSE source -------------------------------------------------------------------------- */

typedef struct roda_alert_stream roda_alert_stream_t;

/* Creates the source over `alerts` (record size sizeof(roda_alert_t)) with `max_clients`
 * cursors (>= 1). `names` is copied. RODA_ERROR_INVALID_ARG, RODA_ERROR_NOMEM. */
roda_result_t roda_alert_stream_create(roda_journal_t *alerts, uint32_t max_clients,
                                       const roda_alert_names_t *names, roda_alert_stream_t **out);
void roda_alert_stream_destroy(roda_alert_stream_t *stream);
/* The roda_sse_source_t to give roda_http (valid until destroy). */
const roda_sse_source_t *roda_alert_stream_source(const roda_alert_stream_t *stream);

/* ---- Recent alerts ----------------------------------------------------------------------- */

/* Writes the last min(limit, RODA_ALERT_RECENT_MAX) alerts of `alerts`, oldest first, as one JSON
 * array. */
void roda_alert_recent(roda_journal_t *alerts, const roda_alert_names_t *names, uint32_t limit,
                       roda_json_t *json);

/* ---- MQTT publisher ---------------------------------------------------------------------- */

typedef struct roda_alert_publisher_config {
    const char *host; /* broker; required */
    uint16_t port;
    const char *client_id; /* required */
    const char *topic;     /* required; no wildcards */
    int qos;               /* 0 or 1 */
    uint32_t keepalive_s;
    const char *username, *password;            /* optional */
    const char *ca_file, *cert_file, *key_file; /* optional TLS, as the ingest's */
    uint32_t reconnect_min_ms, reconnect_max_ms;
    uint32_t max_inflight; /* messages not yet acknowledged; 0 means 1024 */
} roda_alert_publisher_config_t;

typedef struct roda_alert_publisher_stats {
    uint64_t published;
    uint64_t dropped;
    uint64_t reconnects; /* connections established after the first */
    bool connected;
} roda_alert_publisher_stats_t;

typedef struct roda_alert_publisher roda_alert_publisher_t;

/* Creates the client (nothing connects before start). The config strings must outlive the
 * publisher. RODA_ERROR_INVALID_ARG (missing host/topic/client_id, qos, a topic with + or #,
 * TLS files libmosquitto refuses), RODA_ERROR_NOMEM. */
roda_result_t roda_alert_publisher_create(const roda_alert_publisher_config_t *config,
                                          roda_journal_t *alerts, const roda_alert_names_t *names,
                                          roda_alert_publisher_t **out);
/* Opens the tail at the live end and starts the thread. RODA_ERROR_STATE, RODA_ERROR_SYSTEM. */
roda_result_t roda_alert_publisher_start(roda_alert_publisher_t *publisher);
/* Flushes and stops: publishes what the alert journal holds until it is closed and read (close
 * it first, e.g. roda_engine_stop) and every message is acknowledged, or `flush_ms` passed; what
 * is left is counted as dropped. Then disconnects and joins the thread. Idempotent. */
void roda_alert_publisher_stop(roda_alert_publisher_t *publisher, uint32_t flush_ms);
void roda_alert_publisher_destroy(roda_alert_publisher_t *publisher);
void roda_alert_publisher_stats(const roda_alert_publisher_t *publisher,
                                roda_alert_publisher_stats_t *stats);

#endif
