/* roda_output_sse.c - the /alerts stream: one alert cursor per SSE client (see
 * roda_output_sse.h). */
#include "roda_output_sse.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "roda_idle.h"

typedef struct stream_client {
    _Atomic bool used;
    roda_alert_cursor_t cursor;
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
        roda_result_t result =
            roda_alert_cursor_open(&client->cursor, stream->journal, resume, last_id);
        if (result != RODA_SUCCESS) {
            atomic_store_explicit(&client->used, false, memory_order_release);
            return result;
        }
        client->idle = (roda_idle_state_t){0};
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
    switch (roda_alert_cursor_next(&client->cursor, RODA_ALERT_CURSOR_BATCH, &alert, &event->id,
                                   &event->missed)) {
    case RODA_ALERT_STEP_NONE:
        return RODA_SSE_NONE;
    case RODA_ALERT_STEP_END:
        return RODA_SSE_END;
    case RODA_ALERT_STEP_GAP:
        return RODA_SSE_GAP;
    case RODA_ALERT_STEP_ALERT:
        break;
    }
    roda_alert_rule_name(&stream->names, alert, event->rule, sizeof event->rule);
    copy_name(event->severity, sizeof event->severity,
              roda_severity_name((roda_severity_t)alert->severity));
    copy_name(event->device, sizeof event->device,
              stream->names.device(stream->names.context, alert->device));
    roda_json_t json;
    roda_json_init(&json, event->data, sizeof event->data);
    roda_alert_json(
        alert, event->id, event->rule, stream->names.device(stream->names.context, alert->device),
        stream->names.sensor != NULL ? stream->names.sensor(stream->names.context, alert->sensor_id)
                                     : NULL,
        &json);
    event->data_len = roda_json_ok(&json) ? json.len : 0;
    return RODA_SSE_EVENT;
}

static void stream_wait(void *context, void *cursor, uint32_t timeout_ms)
{
    (void)context;
    stream_client_t *client = cursor;
    /* Straight to a bounded futex sleep that the rules stage's commit interrupts. */
    roda_idle_config_t idle = {.spins = 0, .yields = 0, .sleep_us = timeout_ms * 1000u};
    roda_idle_reset(&client->idle);
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

static void destroy(void *state)
{
    roda_alert_stream_destroy(state);
}

static roda_result_t create(const roda_output_context_t *context, void **state)
{
    roda_alert_stream_t *stream = NULL;
    roda_result_t result = roda_alert_stream_create(
        context->alerts, context->config->limits.max_sse_clients, context->names, &stream);
    if (result == RODA_SUCCESS)
        result = roda_http_set_alerts(context->http, roda_alert_stream_source(stream));
    if (result != RODA_SUCCESS) {
        roda_alert_stream_destroy(stream);
        return result;
    }
    *state = stream;
    return RODA_SUCCESS;
}

static uint64_t memory(const roda_config_t *config)
{
    return (uint64_t)config->limits.max_sse_clients * RODA_ALERT_STREAM_CLIENT_BYTES;
}

const roda_output_class_t roda_output_sse = {
    .name = "sse",
    .create = create,
    .destroy = destroy,
    .memory = memory,
};
