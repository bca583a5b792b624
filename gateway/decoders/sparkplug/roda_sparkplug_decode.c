/* roda_sparkplug_decode.c - the "sparkplug.b" decoder over the input's host state, and the host's
 * rebirth requests and counters (see roda_sparkplug_decode.h). */
#include "roda_sparkplug_decode.h"

#include <string.h>

#include "roda_devices.h"

#define NO_NODE UINT32_MAX

/* The decoder's part of the scratch for one message: the payload being read, then the names
 * of its readings (NUL-terminated copies, valid until the batch is finished). */
typedef struct message {
    roda_sparkplug_payload_t payload;
    uint32_t scope;
    size_t names_used;
    size_t names_size;
    char names[];
} message_t;

roda_result_t roda_sparkplug_host_init(roda_sparkplug_host_t *host, uint32_t max_scopes,
                                       uint32_t max_aliases, bool rebirth)
{
    memset(host, 0, sizeof *host);
    host->rebirth = rebirth;
    host->last_node = NO_NODE;
    return roda_sparkplug_state_create(max_scopes, max_aliases, &host->state);
}

void roda_sparkplug_host_fini(roda_sparkplug_host_t *host)
{
    roda_sparkplug_state_destroy(host->state);
    host->state = NULL;
}

static roda_sparkplug_host_t *host_of(const roda_decode_batch_t *batch)
{
    const roda_sparkplug_settings_t *settings = batch->context->settings;
    return settings->host;
}

/* The device name of `topic`'s scope ("<group>/<node>" or "<group>/<node>/<device>": node ids
 * are unique only within their group) into the batch; left empty (a bad device) when it does
 * not fit. */
static void name_device(roda_decode_batch_t *batch, const roda_sparkplug_topic_t *topic)
{
    const char *ids[3] = {topic->group, topic->node, topic->device};
    size_t lengths[3] = {topic->group_length, topic->node_length, topic->device_length};
    size_t length = 0;
    batch->device_length = 0;
    for (int i = 0; i < 3 && lengths[i] != 0; i++) {
        if (length + (i > 0) + lengths[i] >= sizeof batch->device) {
            batch->device[0] = '\0';
            return;
        }
        if (i > 0)
            batch->device[length++] = '/';
        memcpy(batch->device + length, ids[i], lengths[i]);
        length += lengths[i];
    }
    batch->device[length] = '\0';
    batch->device_length = length;
}

static roda_decode_status_t sparkplug_open(roda_decode_batch_t *batch,
                                           const roda_decode_context_t *context,
                                           const uint8_t *payload, size_t size)
{
    memset(batch, 0, sizeof(*batch));
    batch->context = context;
    batch->payload = payload;
    batch->size = size;
    roda_sparkplug_host_t *host = host_of(batch);
    host->last_node = NO_NODE;
    roda_sparkplug_topic_t topic;
    if (context->topic == NULL || roda_sparkplug_topic_parse(context->topic, strlen(context->topic),
                                                             &topic) != RODA_SPARKPLUG_TOPIC_OK)
        return RODA_DECODE_TOPIC;
    message_t *message = context->scratch;
    if (context->scratch_size < sizeof *message + size)
        return RODA_DECODE_OVERSIZE;
    roda_decode_status_t status = roda_sparkplug_payload_open(&message->payload, payload, size);
    if (status != RODA_DECODE_OK)
        return status;
    roda_sparkplug_verdict_t verdict;
    roda_sparkplug_state_message(host->state, &topic, &message->payload, &verdict);
    host->last_node = verdict.node;
    host->last_topic = topic;
    switch (verdict.event) {
    case RODA_SPARKPLUG_IGNORED:
    case RODA_SPARKPLUG_STALE_DEATH:
        return RODA_DECODE_IGNORED;
    case RODA_SPARKPLUG_SCOPES_FULL:
        return RODA_DECODE_NO_ROOM;
    case RODA_SPARKPLUG_DIED:
        batch->silence = 1;
        host->silence_scope = verdict.scope;
        host->silence_cursor = 0;
        host->silence_started = false;
        name_device(batch, &topic);
        return RODA_DECODE_OK;
    case RODA_SPARKPLUG_ACCEPTED:
        break;
    }
    name_device(batch, &topic);
    batch->reading_count = message->payload.metric_count;
    batch->lost = verdict.lost;
    batch->duplicate = (uint8_t)verdict.duplicate;
    message->scope = verdict.scope;
    message->names_used = 0;
    message->names_size = context->scratch_size - sizeof *message;
    return RODA_DECODE_OK;
}

/* The metric's sensor name as a NUL-terminated copy in the scratch; NULL when it is not a valid
 * sensor name. */
static const char *copy_name(message_t *message, const roda_sparkplug_metric_t *metric)
{
    if (!roda_devices_name_valid(metric->name, metric->name_length) ||
        message->names_size - message->names_used < metric->name_length + 1)
        return NULL;
    char *name = message->names + message->names_used;
    memcpy(name, metric->name, metric->name_length);
    name[metric->name_length] = '\0';
    message->names_used += metric->name_length + 1;
    return name;
}

/* The metric's device time in microseconds: its own timestamp, else the payload's, else 0;
 * false beyond int64 microseconds. */
static bool device_time(const roda_sparkplug_payload_t *payload,
                        const roda_sparkplug_metric_t *metric, int64_t *time_us)
{
    uint64_t ms = (metric->has & RODA_SPARKPLUG_HAS_TIMESTAMP) ? metric->timestamp
                  : payload->has_timestamp                     ? payload->timestamp
                                                               : 0;
    if (ms > (uint64_t)INT64_MAX / 1000u)
        return false;
    *time_us = (int64_t)ms * 1000;
    return true;
}

/* The drop counter (seam reason) for a metric that cannot be a reading, counting its own
 * Sparkplug reason; NULL for a reading (value, time and name set). */
static uint64_t *judge(roda_sparkplug_host_t *host, message_t *message,
                       roda_sparkplug_metric_t *metric, roda_decode_drops_t *drops, double *value,
                       int64_t *time_us, const char **name)
{
    if (!roda_sparkplug_state_resolve(host->state, message->scope, metric))
        return &drops->missing_field; /* counted by the state as unknown_metrics */
    switch (roda_sparkplug_value(metric, value)) {
    case RODA_SPARKPLUG_VALUE_NUMBER:
        break;
    case RODA_SPARKPLUG_VALUE_NON_FINITE:
        return &drops->non_finite;
    case RODA_SPARKPLUG_VALUE_NULL:
        host->own[RODA_SPARKPLUG_COUNT_NULL]++;
        return &drops->missing_field;
    case RODA_SPARKPLUG_VALUE_UNSUPPORTED:
        host->own[RODA_SPARKPLUG_COUNT_UNSUPPORTED]++;
        return &drops->wrong_type;
    case RODA_SPARKPLUG_VALUE_INVALID:
        host->own[RODA_SPARKPLUG_COUNT_INVALID]++;
        return &drops->out_of_range;
    }
    if (!device_time(&message->payload, metric, time_us)) {
        host->own[RODA_SPARKPLUG_COUNT_INVALID]++;
        return &drops->out_of_range;
    }
    *name = copy_name(message, metric);
    if (*name == NULL) {
        host->own[RODA_SPARKPLUG_COUNT_BAD_NAME]++;
        return &drops->wrong_type;
    }
    return NULL;
}

static uint32_t sparkplug_readings(roda_decode_batch_t *batch, roda_reading_t *records,
                                   const char **names, uint32_t max, roda_decode_drops_t *drops,
                                   roda_decode_status_t *status)
{
    *status = RODA_DECODE_OK;
    roda_sparkplug_host_t *host = host_of(batch);
    message_t *message = batch->context->scratch;
    uint32_t written = 0;
    roda_sparkplug_metric_t metric;
    while (written < max && batch->readings_done < batch->reading_count &&
           roda_sparkplug_payload_next(&message->payload, &metric)) {
        batch->readings_done++;
        double value = 0;
        int64_t time_us = 0;
        const char *name = NULL;
        uint64_t *dropped = judge(host, message, &metric, drops, &value, &time_us, &name);
        if (dropped != NULL) {
            (*dropped)++;
            continue;
        }
        if (names != NULL)
            names[written] = name;
        records[written++] = (roda_reading_t){.value = value, .device_time_us = time_us};
    }
    if (written < max && batch->readings_done < batch->reading_count)
        *status = RODA_DECODE_MALFORMED; /* open counted more than there are: end the batch */
    return written;
}

static int sparkplug_silenced(roda_decode_batch_t *batch)
{
    roda_sparkplug_host_t *host = host_of(batch);
    if (!host->silence_started) {
        host->silence_started = true;
        return 1; /* the message's own device, named by open */
    }
    if (host->silence_scope != host->last_node)
        return 0; /* a DDEATH: that device only */
    roda_sparkplug_topic_t device;
    if (!roda_sparkplug_state_devices(host->state, host->last_node, &host->silence_cursor, &device))
        return 0;
    name_device(batch, &device);
    return 1;
}

const roda_decoder_t roda_sparkplug_decoder = {.name = "sparkplug.b",
                                               .open = sparkplug_open,
                                               .readings = sparkplug_readings,
                                               .silenced = sparkplug_silenced};

size_t roda_sparkplug_host_after(roda_sparkplug_host_t *host, uint64_t now_ms, char *topic,
                                 uint8_t *payload)
{
    size_t size = 0;
    uint32_t node = host->last_node;
    host->last_node = NO_NODE;
    if (host->rebirth && node != NO_NODE && roda_sparkplug_state_rebirth_take(host->state, node) &&
        roda_sparkplug_rebirth_topic(&host->last_topic, topic, RODA_SPARKPLUG_TOPIC_SIZE) != 0)
        size = roda_sparkplug_encode_rebirth(payload, RODA_SPARKPLUG_REBIRTH_SIZE, now_ms);
    roda_sparkplug_counters_t c = roda_sparkplug_state_counters(host->state);
    uint64_t counts[RODA_SPARKPLUG_COUNT_COUNT] = {
        [RODA_SPARKPLUG_COUNT_BIRTHS] = c.births,
        [RODA_SPARKPLUG_COUNT_DEATHS] = c.deaths,
        [RODA_SPARKPLUG_COUNT_STALE_DEATHS] = c.stale_deaths,
        [RODA_SPARKPLUG_COUNT_LOST] = c.lost,
        [RODA_SPARKPLUG_COUNT_DUPLICATES] = c.duplicates,
        [RODA_SPARKPLUG_COUNT_NO_SEQ] = c.no_seq,
        [RODA_SPARKPLUG_COUNT_UNBORN] = c.unborn,
        [RODA_SPARKPLUG_COUNT_SCOPES_FULL] = c.scopes_full,
        [RODA_SPARKPLUG_COUNT_REBIRTHS] = c.rebirths,
        [RODA_SPARKPLUG_COUNT_UNKNOWN_METRICS] = c.unknown_metrics,
        [RODA_SPARKPLUG_COUNT_ALIASES_FULL] = c.aliases_full,
        [RODA_SPARKPLUG_COUNT_NAMES_TOO_LONG] = c.names_too_long,
    };
    for (int i = 0; i < RODA_SPARKPLUG_COUNT_COUNT; i++)
        atomic_store_explicit(&host->published[i], counts[i] + host->own[i], memory_order_relaxed);
    return size;
}

void roda_sparkplug_host_unsent(roda_sparkplug_host_t *host)
{
    host->own[RODA_SPARKPLUG_COUNT_REBIRTHS_UNSENT]++;
    atomic_store_explicit(&host->published[RODA_SPARKPLUG_COUNT_REBIRTHS_UNSENT],
                          host->own[RODA_SPARKPLUG_COUNT_REBIRTHS_UNSENT], memory_order_relaxed);
}

void roda_sparkplug_host_metrics(const roda_sparkplug_host_t *host, roda_metrics_t *metrics)
{
    static const struct {
        roda_sparkplug_count_t count;
        bool metric; /* a metric's drop, else a message's event */
        const char *label;
    } rows[] = {
        {RODA_SPARKPLUG_COUNT_BIRTHS, false, "birth"},
        {RODA_SPARKPLUG_COUNT_DEATHS, false, "death"},
        {RODA_SPARKPLUG_COUNT_STALE_DEATHS, false, "stale_death"},
        {RODA_SPARKPLUG_COUNT_LOST, false, "lost"},
        {RODA_SPARKPLUG_COUNT_DUPLICATES, false, "duplicate"},
        {RODA_SPARKPLUG_COUNT_NO_SEQ, false, "no_seq"},
        {RODA_SPARKPLUG_COUNT_UNBORN, false, "unborn"},
        {RODA_SPARKPLUG_COUNT_SCOPES_FULL, false, "scopes_full"},
        {RODA_SPARKPLUG_COUNT_REBIRTHS, false, "rebirth_request"},
        {RODA_SPARKPLUG_COUNT_REBIRTHS_UNSENT, false, "rebirth_unsent"},
        {RODA_SPARKPLUG_COUNT_UNKNOWN_METRICS, true, "unknown_metric"},
        {RODA_SPARKPLUG_COUNT_ALIASES_FULL, true, "aliases_full"},
        {RODA_SPARKPLUG_COUNT_NAMES_TOO_LONG, true, "name_too_long"},
        {RODA_SPARKPLUG_COUNT_UNSUPPORTED, true, "unsupported"},
        {RODA_SPARKPLUG_COUNT_NULL, true, "null"},
        {RODA_SPARKPLUG_COUNT_INVALID, true, "invalid"},
        {RODA_SPARKPLUG_COUNT_BAD_NAME, true, "bad_name"},
    };
    for (int family = 0; family < 2; family++) {
        bool metric = family == 1;
        roda_metrics_family(metrics,
                            metric ? "roda_sparkplug_metrics_dropped_total"
                                   : "roda_sparkplug_events_total",
                            RODA_METRIC_COUNTER,
                            metric ? "Sparkplug B metrics not read as readings (or BIRTH metrics "
                                     "not defined), by reason."
                                   : "Sparkplug B host events: births, deaths, sequence gaps "
                                     "(lost messages), duplicates, rebirth requests.");
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            if (rows[i].metric != metric)
                continue;
            roda_metrics_label_t label = {metric ? "reason" : "event", rows[i].label};
            roda_metrics_u64(metrics, &label, 1,
                             host != NULL ? atomic_load_explicit(&host->published[rows[i].count],
                                                                 memory_order_relaxed)
                                          : 0);
        }
    }
}
