/* roda_alert_out.c - SSE source, recent alerts and MQTT publisher over the alert journal's tail
 * readers (see roda_alert_out.h). */
#include "roda_alert_out.h"

#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_idle.h"
#include "roda_log.h"

/* Alerts a cursor copies out of the journal at a time. */
#define COPY_BATCH 32u

void roda_alert_out_json(const roda_alert_names_t *names, const roda_alert_t *alert, uint64_t id,
                         roda_json_t *json)
{
    char rule[RODA_RULE_NAME_MAX];
    if (!names->rule(names->context, alert->rule, alert->generation, rule, sizeof rule))
        snprintf(rule, sizeof rule, "rule-%u@%u", (unsigned)alert->rule,
                 (unsigned)alert->generation);
    roda_alert_json(alert, id, rule, names->device(names->context, alert->device), json);
}

/* A tail reader with a batch of alerts copied out of the journal and checked intact. */
typedef struct alert_cursor {
    roda_journal_tail_t tail;
    uint64_t first;   /* journal position of copied[0] */
    uint32_t count;   /* alerts in copied */
    uint32_t next;    /* the next one to hand out */
    uint64_t missed;  /* a gap to report before anything else */
    uint64_t resumed; /* the position the gap ends at */
    roda_alert_t copied[COPY_BATCH];
} alert_cursor_t;

typedef enum cursor_result {
    CURSOR_ALERT = 0,
    CURSOR_NONE = 1,
    CURSOR_GAP = 2,
    CURSOR_END = 3,
} cursor_result_t;

/* The next alert (*alert, *id), a gap (*id: where reading goes on, *missed), nothing, or the end
 * of a closed journal. */
static cursor_result_t cursor_next(alert_cursor_t *c, uint32_t max_copy, const roda_alert_t **alert,
                                   uint64_t *id, uint64_t *missed)
{
    if (c->missed != 0) {
        *missed = c->missed;
        *id = c->resumed;
        c->missed = 0;
        return CURSOR_GAP;
    }
    if (c->next == c->count) {
        roda_journal_view_t view;
        uint64_t n = roda_journal_tail_peek(&c->tail, max_copy, &view);
        if (n == 0)
            return roda_journal_tail_status(&c->tail) == RODA_CLOSED ? CURSOR_END : CURSOR_NONE;
        uint64_t first = c->tail.position;
        roda_journal_tail_copy(&c->tail, &view, c->copied);
        uint64_t lost = roda_journal_tail_consume(&c->tail, n);
        if (lost != 0) {
            *missed = lost;
            *id = c->tail.position;
            c->count = c->next = 0;
            return CURSOR_GAP;
        }
        c->first = first;
        c->count = (uint32_t)n;
        c->next = 0;
    }
    *id = c->first + c->next;
    *alert = &c->copied[c->next++];
    return CURSOR_ALERT;
}

/* Opens the cursor at `position`; where the journal no longer holds it, at the oldest intact
 * alert with the gap to report first. RODA_ERROR_INVALID_ARG past the write position. */
static roda_result_t cursor_open_at(alert_cursor_t *c, roda_journal_t *journal, uint64_t position)
{
    c->count = c->next = 0;
    uint64_t missed = 0;
    roda_result_t result = roda_journal_tail_open_at(journal, position, &c->tail, &missed);
    c->missed = result == RODA_SUCCESS ? missed : 0;
    c->resumed = c->tail.position;
    return result;
}

/* Opens the cursor just after `last_id` (resume), or at the live end: no resume, or an id the
 * journal never reached (e.g. from before a restart). */
static roda_result_t cursor_open(alert_cursor_t *c, roda_journal_t *journal, bool resume,
                                 uint64_t last_id)
{
    if (resume && last_id != UINT64_MAX && cursor_open_at(c, journal, last_id + 1) == RODA_SUCCESS)
        return RODA_SUCCESS;
    c->count = c->next = 0;
    c->missed = 0;
    return roda_journal_tail_open(journal, &c->tail);
}

/* ---- SSE source -------------------------------------------------------------------------- */

typedef struct stream_client {
    _Atomic bool used;
    alert_cursor_t cursor;
    roda_idle_state_t idle;
} stream_client_t;

_Static_assert(sizeof(stream_client_t) <= RODA_ALERT_STREAM_CLIENT_BYTES,
               "RODA_ALERT_STREAM_CLIENT_BYTES is the memory plan's size of an SSE cursor");

struct roda_alert_stream {
    roda_journal_t *journal;
    roda_alert_names_t names;
    uint32_t max_clients;
    stream_client_t *clients;
    roda_sse_source_t source;
};

static roda_result_t stream_open(void *context, bool resume, uint64_t last_id, void **cursor)
{
    roda_alert_stream_t *stream = context;
    for (uint32_t i = 0; i < stream->max_clients; i++) {
        stream_client_t *client = &stream->clients[i];
        bool expected = false;
        if (!atomic_compare_exchange_strong_explicit(&client->used, &expected, true,
                                                     memory_order_acquire, memory_order_relaxed))
            continue;
        roda_result_t result = cursor_open(&client->cursor, stream->journal, resume, last_id);
        if (result != RODA_SUCCESS) {
            atomic_store_explicit(&client->used, false, memory_order_release);
            return result;
        }
        client->idle.round = 0;
        *cursor = client;
        return RODA_SUCCESS;
    }
    return RODA_ERROR_TOO_MANY;
}

static void copy_name(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s", name != NULL ? name : "");
}

static roda_sse_next_t stream_next(void *context, void *cursor, roda_sse_event_t *event)
{
    roda_alert_stream_t *stream = context;
    stream_client_t *client = cursor;
    const roda_alert_t *alert = NULL;
    switch (cursor_next(&client->cursor, COPY_BATCH, &alert, &event->id, &event->missed)) {
    case CURSOR_NONE:
        return RODA_SSE_NONE;
    case CURSOR_END:
        return RODA_SSE_END;
    case CURSOR_GAP:
        return RODA_SSE_GAP;
    case CURSOR_ALERT:
        break;
    }
    if (!stream->names.rule(stream->names.context, alert->rule, alert->generation, event->rule,
                            sizeof event->rule))
        snprintf(event->rule, sizeof event->rule, "rule-%u@%u", (unsigned)alert->rule,
                 (unsigned)alert->generation);
    copy_name(event->severity, sizeof event->severity,
              roda_severity_name((roda_severity_t)alert->severity));
    copy_name(event->device, sizeof event->device,
              stream->names.device(stream->names.context, alert->device));
    roda_json_t json;
    roda_json_init(&json, event->data, sizeof event->data);
    roda_alert_json(alert, event->id, event->rule,
                    stream->names.device(stream->names.context, alert->device), &json);
    event->data_len = roda_json_ok(&json) ? json.len : 0;
    return RODA_SSE_EVENT;
}

static void stream_wait(void *context, void *cursor, uint32_t timeout_ms)
{
    (void)context;
    stream_client_t *client = cursor;
    /* Straight to a bounded futex sleep that the rules stage's commit interrupts. */
    roda_idle_config_t idle = {.spins = 0, .yields = 0, .sleep_us = timeout_ms * 1000u};
    client->idle.round = 0;
    roda_journal_tail_wait(&client->cursor.tail, &idle, &client->idle);
}

static void stream_close(void *context, void *cursor)
{
    (void)context;
    stream_client_t *client = cursor;
    atomic_store_explicit(&client->used, false, memory_order_release);
}

roda_result_t roda_alert_stream_create(roda_journal_t *alerts, uint32_t max_clients,
                                       const roda_alert_names_t *names, roda_alert_stream_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (alerts == NULL || alerts->record_size != sizeof(roda_alert_t) || max_clients == 0 ||
        names == NULL || names->rule == NULL || names->device == NULL)
        return RODA_ERROR_INVALID_ARG;
    roda_alert_stream_t *stream = calloc(1, sizeof *stream);
    if (stream == NULL)
        return RODA_ERROR_NOMEM;
    stream->clients = calloc(max_clients, sizeof *stream->clients);
    if (stream->clients == NULL) {
        free(stream);
        return RODA_ERROR_NOMEM;
    }
    stream->journal = alerts;
    stream->names = *names;
    stream->max_clients = max_clients;
    stream->source =
        (roda_sse_source_t){stream, stream_open, stream_next, stream_wait, stream_close};
    *out = stream;
    return RODA_SUCCESS;
}

void roda_alert_stream_destroy(roda_alert_stream_t *stream)
{
    if (stream == NULL)
        return;
    free(stream->clients);
    free(stream);
}

const roda_sse_source_t *roda_alert_stream_source(const roda_alert_stream_t *stream)
{
    return &stream->source;
}

/* ---- Recent alerts ----------------------------------------------------------------------- */

void roda_alert_recent(roda_journal_t *alerts, const roda_alert_names_t *names, uint32_t limit,
                       roda_json_t *json)
{
    if (limit > RODA_ALERT_RECENT_MAX)
        limit = RODA_ALERT_RECENT_MAX;
    roda_journal_stats_t stats;
    roda_journal_stats(alerts, &stats);
    uint64_t end = stats.write_position;
    uint64_t start = end > limit ? end - limit : 0;
    uint64_t oldest = roda_journal_tail_oldest(alerts);
    if (start < oldest)
        start = oldest;
    roda_json_array_begin(json);
    alert_cursor_t cursor = {0};
    if (start < end && cursor_open_at(&cursor, alerts, start) == RODA_SUCCESS) {
        for (;;) {
            const roda_alert_t *alert = NULL;
            uint64_t id, missed;
            uint64_t left = cursor.tail.position < end ? end - cursor.tail.position : 0;
            cursor_result_t r = cursor_next(
                &cursor, (uint32_t)(left < COPY_BATCH ? left : COPY_BATCH), &alert, &id, &missed);
            if (r == CURSOR_ALERT && id < end)
                roda_alert_out_json(names, alert, id, json);
            else if (r != CURSOR_GAP)
                break;
        }
    }
    roda_json_array_end(json);
}

/* ---- MQTT publisher ---------------------------------------------------------------------- */

struct roda_alert_publisher {
    roda_alert_publisher_config_t config;
    roda_journal_t *journal;
    roda_alert_names_t names;
    struct mosquitto *mosq;
    pthread_t thread;
    bool started;
    _Atomic bool stopping;
    _Atomic uint64_t flush_deadline_ns;
    /* Publisher thread only (libmosquitto calls back from mosquitto_loop in that thread). */
    alert_cursor_t cursor;
    uint64_t inflight;
    bool ever_connected;
    /* Written by the publisher thread, read by any. */
    _Atomic bool connected;
    _Atomic uint64_t published;
    _Atomic uint64_t dropped;
    _Atomic uint64_t reconnects;
};

static pthread_once_t mosquitto_once = PTHREAD_ONCE_INIT;

static void mosquitto_once_init(void)
{
    mosquitto_lib_init();
}

/* Single-writer counter: no locked instruction. */
static void add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static void on_connect(struct mosquitto *mosq, void *object, int rc)
{
    (void)mosq;
    roda_alert_publisher_t *p = object;
    if (rc != 0) {
        roda_log(RODA_LOG_WARN, "alert broker refused", "host=%s port=%u rc=%d hint=\"%s\"",
                 p->config.host, (unsigned)p->config.port, rc,
                 "check mqtt.username/password and the broker's ACL for mqtt.alert_topic");
        return;
    }
    if (p->ever_connected)
        add(&p->reconnects, 1);
    p->ever_connected = true;
    atomic_store_explicit(&p->connected, true, memory_order_release);
    roda_log(RODA_LOG_INFO, "alert publisher connected", "host=%s port=%u topic=%s", p->config.host,
             (unsigned)p->config.port, p->config.topic);
}

static void on_disconnect(struct mosquitto *mosq, void *object, int rc)
{
    (void)mosq;
    roda_alert_publisher_t *p = object;
    if (atomic_load_explicit(&p->connected, memory_order_relaxed))
        roda_log(RODA_LOG_WARN, "alert publisher disconnected", "rc=%d hint=\"%s\"", rc,
                 "alerts are counted as dropped until the broker is back");
    atomic_store_explicit(&p->connected, false, memory_order_release);
}

static void on_publish(struct mosquitto *mosq, void *object, int mid)
{
    (void)mosq;
    (void)mid;
    roda_alert_publisher_t *p = object;
    if (p->inflight > 0)
        p->inflight--;
    add(&p->published, 1);
}

static void publish_one(roda_alert_publisher_t *p, const roda_alert_t *alert, uint64_t id)
{
    char buf[RODA_ALERT_JSON_MAX];
    roda_json_t json;
    roda_json_init(&json, buf, sizeof buf);
    roda_alert_out_json(&p->names, alert, id, &json);
    if (!atomic_load_explicit(&p->connected, memory_order_relaxed) || !roda_json_ok(&json) ||
        mosquitto_publish(p->mosq, NULL, p->config.topic, (int)json.len, buf, p->config.qos,
                          false) != MOSQ_ERR_SUCCESS) {
        add(&p->dropped, 1);
        return;
    }
    p->inflight++;
}

/* Reads and publishes what the journal holds, within the in-flight bound. */
static void publish_available(roda_alert_publisher_t *p)
{
    for (;;) {
        uint64_t room = p->config.max_inflight - p->inflight;
        if (room == 0)
            return;
        const roda_alert_t *alert = NULL;
        uint64_t id, missed;
        cursor_result_t r = cursor_next(&p->cursor, room < COPY_BATCH ? (uint32_t)room : COPY_BATCH,
                                        &alert, &id, &missed);
        if (r == CURSOR_GAP) {
            add(&p->dropped, missed);
            roda_log(RODA_LOG_WARN, "alert publisher fell behind", "missed=%llu hint=\"%s\"",
                     (unsigned long long)missed,
                     "the broker is slower than the alert rate; raise journal.alert_capacity");
            continue;
        }
        if (r != CURSOR_ALERT)
            return;
        publish_one(p, alert, id);
    }
}

static void *publisher_thread(void *arg)
{
    roda_alert_publisher_t *p = arg;
    uint64_t backoff_ms = p->config.reconnect_min_ms;
    uint64_t retry_at = 0;
    bool session = mosquitto_connect_async(p->mosq, p->config.host, p->config.port,
                                           (int)p->config.keepalive_s) == MOSQ_ERR_SUCCESS;
    for (;;) {
        uint64_t now = roda_now_ns();
        if (session) {
            int rc = mosquitto_loop(p->mosq, 20, 1);
            if (rc != MOSQ_ERR_SUCCESS) {
                atomic_store_explicit(&p->connected, false, memory_order_release);
                session = false;
                retry_at = now + backoff_ms * 1000000ull;
            } else if (atomic_load_explicit(&p->connected, memory_order_relaxed)) {
                backoff_ms = p->config.reconnect_min_ms;
            }
        } else {
            struct timespec pause = {0, 20 * 1000000L};
            nanosleep(&pause, NULL);
            if (now >= retry_at) {
                session = mosquitto_reconnect_async(p->mosq) == MOSQ_ERR_SUCCESS;
                if (!session)
                    retry_at = now + backoff_ms * 1000000ull;
                backoff_ms = backoff_ms * 2 > p->config.reconnect_max_ms
                                 ? p->config.reconnect_max_ms
                                 : backoff_ms * 2;
            }
        }
        publish_available(p);
        if (atomic_load_explicit(&p->stopping, memory_order_acquire)) {
            /* Unacknowledged messages wait for the broker only while it is connected. */
            bool drained =
                roda_journal_tail_status(&p->cursor.tail) == RODA_CLOSED &&
                p->cursor.next == p->cursor.count &&
                (p->inflight == 0 || !atomic_load_explicit(&p->connected, memory_order_relaxed));
            if (drained ||
                roda_now_ns() >= atomic_load_explicit(&p->flush_deadline_ns, memory_order_relaxed))
                break;
        }
    }
    /* What the deadline left: unacknowledged messages, and alerts never read. */
    roda_journal_stats_t stats;
    roda_journal_stats(p->journal, &stats);
    uint64_t unread = (uint64_t)(p->cursor.count - p->cursor.next) +
                      (stats.write_position > p->cursor.tail.position
                           ? stats.write_position - p->cursor.tail.position
                           : 0);
    add(&p->dropped, p->inflight + unread);
    if (p->inflight + unread != 0)
        roda_log(RODA_LOG_WARN, "alerts not published at stop", "unacknowledged=%llu unread=%llu",
                 (unsigned long long)p->inflight, (unsigned long long)unread);
    p->inflight = 0;
    if (session) {
        mosquitto_disconnect(p->mosq);
        mosquitto_loop(p->mosq, 20, 1);
    }
    atomic_store_explicit(&p->connected, false, memory_order_release);
    return NULL;
}

roda_result_t roda_alert_publisher_create(const roda_alert_publisher_config_t *config,
                                          roda_journal_t *alerts, const roda_alert_names_t *names,
                                          roda_alert_publisher_t **out)
{
    if (out == NULL)
        return RODA_ERROR_INVALID_ARG;
    *out = NULL;
    if (config == NULL || alerts == NULL || alerts->record_size != sizeof(roda_alert_t) ||
        names == NULL || names->rule == NULL || names->device == NULL || config->host == NULL ||
        config->topic == NULL || config->topic[0] == '\0' || config->client_id == NULL ||
        strpbrk(config->topic, "+#") != NULL || config->qos < 0 || config->qos > 1)
        return RODA_ERROR_INVALID_ARG;
    pthread_once(&mosquitto_once, mosquitto_once_init);
    roda_alert_publisher_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RODA_ERROR_NOMEM;
    p->config = *config;
    if (p->config.max_inflight == 0)
        p->config.max_inflight = 1024;
    if (p->config.reconnect_min_ms == 0)
        p->config.reconnect_min_ms = 100;
    if (p->config.reconnect_max_ms < p->config.reconnect_min_ms)
        p->config.reconnect_max_ms = p->config.reconnect_min_ms;
    if (p->config.keepalive_s == 0)
        p->config.keepalive_s = 30;
    p->journal = alerts;
    p->names = *names;
    p->mosq = mosquitto_new(config->client_id, true, p);
    if (p->mosq == NULL) {
        free(p);
        return RODA_ERROR_NOMEM;
    }
    int rc = MOSQ_ERR_SUCCESS;
    if (config->username != NULL && config->username[0] != '\0')
        rc = mosquitto_username_pw_set(p->mosq, config->username, config->password);
    if (rc == MOSQ_ERR_SUCCESS && config->ca_file != NULL && config->ca_file[0] != '\0')
        rc = mosquitto_tls_set(
            p->mosq, config->ca_file, NULL,
            config->cert_file != NULL && config->cert_file[0] ? config->cert_file : NULL,
            config->key_file != NULL && config->key_file[0] ? config->key_file : NULL, NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_max_inflight_messages_set(p->mosq, p->config.max_inflight);
    if (rc != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(p->mosq);
        free(p);
        return RODA_ERROR_INVALID_ARG;
    }
    mosquitto_connect_callback_set(p->mosq, on_connect);
    mosquitto_disconnect_callback_set(p->mosq, on_disconnect);
    mosquitto_publish_callback_set(p->mosq, on_publish);
    *out = p;
    return RODA_SUCCESS;
}

roda_result_t roda_alert_publisher_start(roda_alert_publisher_t *p)
{
    if (p->started)
        return RODA_ERROR_STATE;
    p->cursor.count = p->cursor.next = 0;
    p->cursor.missed = 0;
    if (roda_journal_tail_open(p->journal, &p->cursor.tail) != RODA_SUCCESS)
        return RODA_ERROR_STATE;
    if (pthread_create(&p->thread, NULL, publisher_thread, p) != 0)
        return RODA_ERROR_SYSTEM;
    p->started = true;
    return RODA_SUCCESS;
}

void roda_alert_publisher_stop(roda_alert_publisher_t *p, uint32_t flush_ms)
{
    if (!p->started)
        return;
    atomic_store_explicit(&p->flush_deadline_ns, roda_now_ns() + (uint64_t)flush_ms * 1000000ull,
                          memory_order_relaxed);
    atomic_store_explicit(&p->stopping, true, memory_order_release);
    pthread_join(p->thread, NULL);
    p->started = false;
}

void roda_alert_publisher_destroy(roda_alert_publisher_t *p)
{
    if (p == NULL)
        return;
    roda_alert_publisher_stop(p, 0);
    mosquitto_destroy(p->mosq);
    free(p);
}

void roda_alert_publisher_stats(const roda_alert_publisher_t *p,
                                roda_alert_publisher_stats_t *stats)
{
    stats->published = atomic_load_explicit(&p->published, memory_order_relaxed);
    stats->dropped = atomic_load_explicit(&p->dropped, memory_order_relaxed);
    stats->reconnects = atomic_load_explicit(&p->reconnects, memory_order_relaxed);
    stats->connected = atomic_load_explicit(&p->connected, memory_order_acquire);
}
