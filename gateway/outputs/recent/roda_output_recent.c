/* roda_output_recent.c - /alerts/recent over the alert journal (see roda_output_recent.h). */
#include "roda_output_recent.h"

#include <stdlib.h>

#include "roda_log.h"

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
    roda_alert_cursor_t cursor = {0};
    if (start < end && roda_alert_cursor_open_at(&cursor, alerts, start) == RODA_SUCCESS) {
        for (;;) {
            const roda_alert_t *alert = NULL;
            uint64_t id, missed;
            uint64_t left = cursor.tail.position < end ? end - cursor.tail.position : 0;
            roda_alert_step_t r = roda_alert_cursor_next(
                &cursor,
                (uint32_t)(left < RODA_ALERT_CURSOR_BATCH ? left : RODA_ALERT_CURSOR_BATCH), &alert,
                &id, &missed);
            if (r == RODA_ALERT_STEP_ALERT && id < end)
                roda_alert_named_json(names, alert, id, json);
            else if (r != RODA_ALERT_STEP_GAP)
                break;
        }
    }
    roda_json_array_end(json);
}

/* The state of the output: what a request needs. */
typedef struct output_recent {
    roda_journal_t *alerts;
    roda_alert_names_t names;
} output_recent_t;

static void serve(void *context, uint32_t limit, roda_json_t *json)
{
    output_recent_t *recent = context;
    roda_alert_recent(recent->alerts, &recent->names, limit, json);
}

static void destroy(void *state)
{
    free(state);
}

static roda_result_t create(const roda_output_context_t *context, void **state)
{
    uint32_t max = context->config->limits.recent_alerts;
    if (max > RODA_ALERT_RECENT_MAX) {
        roda_log(RODA_LOG_WARN, "recent alerts capped", "recent_alerts=%u served=%u hint=\"%s\"",
                 (unsigned)max, RODA_ALERT_RECENT_MAX,
                 "/alerts/recent returns at most this many (one bounded JSON body); use /alerts "
                 "with Last-Event-ID for more");
        max = RODA_ALERT_RECENT_MAX;
    }
    output_recent_t *recent = calloc(1, sizeof *recent);
    if (recent == NULL)
        return RODA_ERROR_NOMEM;
    recent->alerts = context->alerts;
    recent->names = *context->names;
    roda_result_t result = roda_http_set_recent(context->http, serve, recent, max > 0 ? max : 1);
    if (result != RODA_SUCCESS) {
        free(recent);
        return result;
    }
    *state = recent;
    return RODA_SUCCESS;
}

static uint64_t memory(const roda_config_t *config)
{
    (void)config;
    return sizeof(output_recent_t);
}

const roda_output_class_t roda_output_recent = {
    .name = "recent",
    .create = create,
    .destroy = destroy,
    .memory = memory,
};
