/* roda_output_mqtt.c - the MQTT alert publisher: an alert cursor drained into one broker
 * connection on a thread of its own (see roda_output_mqtt.h). */
#include "roda_output_mqtt.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roda_counter.h"
#include "roda_idle.h"
#include "roda_log.h"
#include "roda_mqtt_conn.h"

/* How long the publisher thread waits for the broker's socket between looks at the journal. */
#define LOOP_MS 20
/* The output's position in alert_directory: the id of the last alert acknowledged in order. */
#define POSITION_FILE "mqtt-alerts.position"
/* mqtt.availability_topic's payloads, and how long a clean stop waits for the broker's PUBACK of
 * "offline" (beyond the flush deadline). */
#define AVAILABLE_ONLINE "online"
#define AVAILABLE_OFFLINE "offline"
#define OFFLINE_ACK_MS 1000

/* A message handed to libmosquitto: its mid, its alert id, whether it was acknowledged. */
typedef struct pending {
    int mid;
    bool acked;
    uint64_t id;
} pending_t;

typedef struct output_mqtt {
    char client_id[RODA_CONFIG_TEXT_MAX + 8];
    const char *topic;              /* "": only the availability topic */
    const char *availability_topic; /* "": none */
    int qos;
    roda_journal_t *journal;
    roda_alert_names_t names;
    roda_mqtt_conn_t *conn;
    roda_alert_worker_t worker;
    /* Publisher thread only (the connection calls back from its service, in that thread). */
    roda_alert_cursor_t cursor;
    pending_t pending[RODA_OUTPUT_MQTT_MAX_INFLIGHT]; /* in publish order, from pending_head */
    uint32_t pending_head, inflight;
    roda_alert_position_t position; /* the last alert acknowledged in order */
    int offline_mid;                /* the "offline" message at stop, 0 until sent */
    bool offline_acked;
    /* Written by the publisher thread, read by any. */
    _Atomic uint64_t published;
    _Atomic uint64_t dropped;
} output_mqtt_t;

/* Settles messages in publish order: the position moves past every acknowledged prefix. */
static void settle(output_mqtt_t *p)
{
    uint64_t last = 0;
    bool moved = false;
    while (p->inflight > 0 && p->pending[p->pending_head].acked) {
        last = p->pending[p->pending_head].id;
        p->pending_head = (p->pending_head + 1) % RODA_OUTPUT_MQTT_MAX_INFLIGHT;
        p->inflight--;
        moved = true;
    }
    if (moved)
        roda_alert_position_save(&p->position, last);
}

/* Queues alert `id` behind the messages in flight: acked (done with it: dropped or skipped) or
 * waiting for the broker's acknowledgement of `mid`. */
static void enqueue(output_mqtt_t *p, uint64_t id, int mid, bool acked)
{
    uint32_t tail = (p->pending_head + p->inflight) % RODA_OUTPUT_MQTT_MAX_INFLIGHT;
    p->pending[tail] = (pending_t){.mid = mid, .acked = acked, .id = id};
    p->inflight++;
    settle(p);
}

static void on_published(void *context, int mid)
{
    output_mqtt_t *p = context;
    if (p->offline_mid != 0 && mid == p->offline_mid)
        p->offline_acked = true;
    for (uint32_t i = 0; i < p->inflight; i++) {
        pending_t *m = &p->pending[(p->pending_head + i) % RODA_OUTPUT_MQTT_MAX_INFLIGHT];
        if (!m->acked && m->mid == mid) {
            m->acked = true;
            roda_counter_add(&p->published, 1);
            break;
        }
    }
    settle(p);
}

static void publish_one(output_mqtt_t *p, const roda_alert_t *alert, uint64_t id)
{
    char buf[RODA_ALERT_JSON_MAX];
    roda_json_t json;
    roda_json_init(&json, buf, sizeof buf);
    roda_alert_named_json(&p->names, alert, id, &json);
    int mid = 0;
    bool sent = roda_json_ok(&json) && roda_mqtt_conn_publish(p->conn, p->topic, buf, json.len,
                                                              p->qos, false, &mid) == RODA_SUCCESS;
    if (!sent)
        roda_counter_add(&p->dropped, 1);
    enqueue(p, id, mid, !sent);
}

/* Reads and publishes what the journal holds, within the in-flight bound. While the broker is
 * away the cursor stays where it is: the journal keeps the alerts, and they are published once
 * the connection is back (or counted as a gap if the journal overwrote them meanwhile). */
static void publish_available(output_mqtt_t *p)
{
    while (roda_mqtt_conn_connected(p->conn)) {
        uint64_t room = RODA_OUTPUT_MQTT_MAX_INFLIGHT - p->inflight;
        if (room == 0)
            return;
        const roda_alert_t *alert = NULL;
        uint64_t id, missed;
        roda_alert_step_t step = roda_alert_cursor_next(
            &p->cursor, room < RODA_ALERT_CURSOR_BATCH ? (uint32_t)room : RODA_ALERT_CURSOR_BATCH,
            &alert, &id, &missed);
        if (step == RODA_ALERT_STEP_GAP) {
            roda_counter_add(&p->dropped, missed);
            if (id > 0)
                enqueue(p, id - 1, 0, true); /* the position passes what the journal lost */
            roda_log(RODA_LOG_WARN, "alert publisher fell behind", "missed=%llu hint=\"%s\"",
                     (unsigned long long)missed,
                     "the broker is slower than the alert rate; raise journal.alert_capacity");
            continue;
        }
        if (step != RODA_ALERT_STEP_ALERT)
            return;
        publish_one(p, alert, id);
    }
}

/* Every connect: "online", retained, to the availability topic (the will says "offline"). */
static void on_connected(void *context)
{
    output_mqtt_t *p = context;
    int mid;
    if (p->availability_topic[0] != '\0' &&
        roda_mqtt_conn_publish(p->conn, p->availability_topic, AVAILABLE_ONLINE,
                               strlen(AVAILABLE_ONLINE), 1, true, &mid) != RODA_SUCCESS)
        roda_mqtt_conn_fail(p->conn, "cannot publish to mqtt.availability_topic");
}

/* A clean stop: "offline", retained, before the DISCONNECT (after which the broker drops the
 * will), waiting up to OFFLINE_ACK_MS for its PUBACK. */
static void publish_offline(output_mqtt_t *p)
{
    if (p->availability_topic[0] == '\0' ||
        roda_mqtt_conn_publish(p->conn, p->availability_topic, AVAILABLE_OFFLINE,
                               strlen(AVAILABLE_OFFLINE), 1, true, &p->offline_mid) != RODA_SUCCESS)
        return;
    uint64_t deadline = roda_now_ns() + OFFLINE_ACK_MS * 1000000ull;
    while (!p->offline_acked && roda_mqtt_conn_connected(p->conn) && roda_now_ns() < deadline)
        roda_mqtt_conn_run_once(p->conn, LOOP_MS);
}

static void *publisher_thread(void *arg)
{
    output_mqtt_t *p = arg;
    bool alerts = p->topic[0] != '\0';
    for (;;) {
        roda_mqtt_conn_run_once(p->conn, LOOP_MS);
        if (alerts)
            publish_available(p);
        if (roda_alert_worker_stopping(&p->worker)) {
            /* Unacknowledged messages wait for the broker only while it is connected. */
            bool drained = !alerts || (roda_journal_tail_status(&p->cursor.tail) == RODA_CLOSED &&
                                       p->cursor.next == p->cursor.count &&
                                       (p->inflight == 0 || !roda_mqtt_conn_connected(p->conn)));
            if (drained || roda_alert_worker_past_deadline(&p->worker, roda_now_ns()))
                break;
        }
    }
    publish_offline(p);
    /* What the deadline left: unacknowledged messages, and alerts never read. */
    uint64_t unread = alerts ? roda_alert_cursor_unread(&p->cursor, p->journal) : 0;
    roda_counter_add(&p->dropped, p->inflight + unread);
    if (p->inflight + unread != 0)
        roda_log(RODA_LOG_WARN, "alerts not published at stop", "unacknowledged=%llu unread=%llu",
                 (unsigned long long)p->inflight, (unsigned long long)unread);
    p->inflight = 0;
    return NULL;
}

static bool enabled(const roda_config_t *config)
{
    return config->mqtt.enabled &&
           (config->mqtt.alert_topic[0] != '\0' || config->mqtt.availability_topic[0] != '\0');
}

/* A topic to publish to, or "" (not published). */
static bool topic_ok(const char *topic)
{
    return topic[0] == '\0' || roda_mqtt_topic_valid(topic, false);
}

static void destroy(void *state)
{
    output_mqtt_t *p = state;
    if (p == NULL)
        return;
    roda_mqtt_conn_destroy(p->conn);
    roda_alert_position_close(&p->position);
    free(p);
}

static roda_result_t create(const roda_output_context_t *context, void **state)
{
    const roda_config_t *c = context->config;
    if (!topic_ok(c->mqtt.alert_topic) || !topic_ok(c->mqtt.availability_topic) ||
        c->mqtt.alert_qos > 1) {
        roda_log(RODA_LOG_ERROR, "alert publisher not created", "error=%s hint=\"%s\"",
                 roda_result_str(RODA_ERROR_INVALID_ARG),
                 "check mqtt.alert_topic and mqtt.availability_topic (no wildcards) and "
                 "mqtt.alert_qos");
        return RODA_ERROR_INVALID_ARG;
    }
    output_mqtt_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RODA_ERROR_NOMEM;
    snprintf(p->client_id, sizeof p->client_id, "%s-alerts", c->mqtt.client_id);
    p->topic = c->mqtt.alert_topic;
    p->availability_topic = c->mqtt.availability_topic;
    p->qos = (int)c->mqtt.alert_qos;
    p->journal = context->alerts;
    p->names = *context->names;
    roda_mqtt_conn_config_t conn = {
        .role = "alerts",
        .host = c->mqtt.host,
        .port = c->mqtt.port,
        .client_id = p->client_id,
        .clean_session = true,
        .keepalive_s = (uint32_t)(c->mqtt.keepalive_ns / 1000000000ull),
        .protocol = 4,
        .username = c->mqtt.username,
        .password = c->mqtt.password,
        .ca_file = c->mqtt.ca_file,
        .cert_file = c->mqtt.cert_file,
        .key_file = c->mqtt.key_file,
        .reconnect_min_ms = (uint32_t)(c->mqtt.reconnect_min_ns / 1000000ull),
        .reconnect_max_ms = (uint32_t)(c->mqtt.reconnect_max_ns / 1000000ull),
        .max_inflight = RODA_OUTPUT_MQTT_MAX_INFLIGHT,
        .will_topic = c->mqtt.availability_topic,
        .will_payload = AVAILABLE_OFFLINE,
    };
    roda_mqtt_conn_events_t events = {
        .context = p, .connected = on_connected, .published = on_published};
    roda_result_t result =
        roda_alert_position_open(&p->position, c->journal.alert_directory, POSITION_FILE);
    if (result == RODA_SUCCESS)
        result = roda_mqtt_conn_create(&conn, &events, &p->conn);
    if (result != RODA_SUCCESS) {
        roda_log(RODA_LOG_ERROR, "alert publisher not created", "error=%s hint=\"%s\"",
                 roda_result_str(result), "check the mqtt.* login and TLS files");
        destroy(p);
        return result;
    }
    *state = p;
    return RODA_SUCCESS;
}

/* Opens the cursor after the kept position (alert_directory: what the last run had not published
 * yet is published now; with no position yet, at the journal's oldest alert), else at the live
 * end, and starts the thread. */
static roda_result_t start(void *state)
{
    output_mqtt_t *p = state;
    return roda_alert_worker_start(&p->worker, &p->cursor, p->journal, &p->position,
                                   publisher_thread, p);
}

static void stop(void *state, uint32_t flush_ms)
{
    output_mqtt_t *p = state;
    roda_alert_worker_stop(&p->worker, flush_ms);
}

static void metrics(void *state, roda_metrics_t *m)
{
    output_mqtt_t *p = state;
    roda_metrics_family(m, "roda_alert_publish_total", RODA_METRIC_COUNTER,
                        "Alerts for the MQTT alert topic: published (acknowledged) or dropped.");
    roda_metrics_label_t published = {"result", "published"};
    roda_metrics_u64(m, &published, 1, atomic_load_explicit(&p->published, memory_order_relaxed));
    roda_metrics_label_t dropped = {"result", "dropped"};
    roda_metrics_u64(m, &dropped, 1, atomic_load_explicit(&p->dropped, memory_order_relaxed));
}

static void totals(const void *state, char *buf, size_t size)
{
    const output_mqtt_t *p = state;
    snprintf(buf, size, "alerts_published=%llu alerts_publish_dropped=%llu",
             (unsigned long long)atomic_load_explicit(&p->published, memory_order_relaxed),
             (unsigned long long)atomic_load_explicit(&p->dropped, memory_order_relaxed));
}

static uint64_t memory(const roda_config_t *config)
{
    (void)config;
    return sizeof(output_mqtt_t);
}

const roda_output_class_t roda_output_mqtt = {
    .name = "mqtt",
    .enabled = enabled,
    .create = create,
    .start = start,
    .stop = stop,
    .destroy = destroy,
    .metrics = metrics,
    .totals = totals,
    .memory = memory,
};
