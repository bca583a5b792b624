/* roda_pipeline_api.c - the JSON endpoints of the fleet page (roda_pipeline_serve_api): the
 * gateway and its inputs, the devices, the sensors with their recent values, a sensor's alerts.
 *
 * Every list is paged (offset, a bounded limit) and every argument checked: numbers are decimal
 * and bounded, texts shorter than the names they match (a longer one gets 400, nothing else is
 * done with it). Rows that would not fit the JSON body are left for the next page
 * ("next_offset"), never cut. Requests walk the slot store or the device registry (bounded by
 * max_sensors, max_devices; one sensor, ?id=, is looked up in the sensor index) and the last
 * API_ALERT_SCAN alerts; nothing here runs on the
 * stages' threads or takes their locks. */
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "roda_http.h"
#include "roda_idle.h"
#include "roda_pipeline_private.h"

/* Rows of one /api/sensors or /api/devices page at most, and by default. */
#define API_ROWS_MAX 100u
#define API_ROWS_DEFAULT 50u
/* Alerts of one /api/alerts answer at most, and by default. */
#define API_ALERTS_MAX 50u
#define API_ALERTS_DEFAULT 20u
/* The newest alerts searched by /api/alerts and the rule and severity filters of /api/sensors. */
#define API_ALERT_SCAN 8192u
/* Open-addressing table of the (sensor, rule) pairs those alerts name (a power of two > 2 x the
 * scan). */
#define API_FIRING_SLOTS (4u * API_ALERT_SCAN)
/* Room left in a body for its closing brackets and paging members. */
#define API_TAIL_BYTES 128u

typedef struct api_filter {
    char device[RODA_DEVICE_NAME_SIZE]; /* glob; "": any */
    char rule[RODA_RULE_NAME_MAX];      /* exact; "": any */
    char severity[16];                  /* exact; "": any */
    uint64_t offset, limit;
} api_filter_t;

/* Copies argument `key` into out; false (400) when it does not fit. */
static bool arg_text(const roda_http_request_t *request, const char *key, char *out, size_t size,
                     char *error, size_t error_size)
{
    const char *value = roda_http_arg(request, key);
    out[0] = '\0';
    if (value == NULL)
        return true;
    if (strlen(value) >= size) {
        snprintf(error, error_size, "bad %s: at most %zu bytes", key, size - 1);
        return false;
    }
    memcpy(out, value, strlen(value) + 1);
    return true;
}

static bool parse_filter(const roda_http_request_t *request, api_filter_t *f, char *error,
                         size_t size)
{
    return arg_text(request, "device", f->device, sizeof f->device, error, size) &&
           arg_text(request, "rule", f->rule, sizeof f->rule, error, size) &&
           arg_text(request, "severity", f->severity, sizeof f->severity, error, size) &&
           roda_http_arg_u64(request, "offset", 0, 0, UINT32_MAX, &f->offset, error, size) &&
           roda_http_arg_u64(request, "limit", API_ROWS_DEFAULT, 1, API_ROWS_MAX, &f->limit, error,
                             size);
}

static bool device_matches(const api_filter_t *f, const char *name)
{
    return f->device[0] == '\0' || (name != NULL && fnmatch(f->device, name, 0) == 0);
}

/* After a row: true when it fits with room left for the page's end; else rolls the document
 * back to `before` (the row is left for the next page). */
static bool row_fits(roda_json_t *json, const roda_json_t *before)
{
    if (json->len + API_TAIL_BYTES < json->capacity && !json->overflow)
        return true;
    *json = *before;
    json->buf[json->len] = '\0';
    return false;
}

/* Closes a page: the rows array, then total, offset and next_offset (null at the end). */
static void page_end(roda_json_t *json, const api_filter_t *f, uint64_t total, uint64_t written)
{
    roda_json_array_end(json);
    roda_json_key(json, "total");
    roda_json_u64(json, total);
    roda_json_key(json, "offset");
    roda_json_u64(json, f->offset);
    roda_json_key(json, "next_offset");
    if (f->offset + written < total)
        roda_json_u64(json, f->offset + written);
    else
        roda_json_null(json);
    roda_json_object_end(json);
}

/* ---- /api/summary ---------------------------------------------------------------------------- */

static unsigned int api_summary(void *context, const roda_http_request_t *request,
                                roda_json_t *json, char *error, size_t size)
{
    (void)request;
    (void)error;
    (void)size;
    roda_pipeline_t *p = context;
    roda_ingest_stats_t is;
    roda_ingest_stats(p->ingest, &is);
    roda_pipeline_totals_t totals;
    roda_pipeline_totals(p, &totals);
    uint64_t now = roda_wall_ns();
    roda_json_object_begin(json);
    roda_json_key(json, "version");
    roda_json_string(json, RODA_VERSION);
    roda_json_key(json, "started_ms"); /* another value: the gateway restarted */
    roda_json_u64(json, p->api_since_ns / 1000000ull);
    roda_json_key(json, "uptime_s");
    roda_json_u64(json, (now - p->api_since_ns) / 1000000000ull);
    roda_json_key(json, "time_ms");
    roda_json_u64(json, now / 1000000ull);
    roda_json_key(json, "devices");
    roda_json_u64(json, is.devices);
    roda_json_key(json, "sensors");
    roda_json_u64(json, atomic_load_explicit(&p->state.tracked, memory_order_relaxed));
    roda_json_key(json, "sensors_refused");
    roda_json_u64(json, totals.sensors_refused);
    roda_json_key(json, "alerts");
    roda_json_u64(json, totals.alerts);
    roda_json_key(json, "inputs");
    roda_json_array_begin(json);
    for (uint32_t i = 0; i < is.input_count; i++) {
        const uint64_t *c = is.inputs[i].counters;
        char why[200] = "";
        bool ready = roda_ingest_input_ready(p->ingest, i, why, sizeof why);
        /* The ingest's identities (see its metrics' help): messages = batches + duplicates +
         * dropped messages; batch readings = readings + dropped readings. */
        uint64_t kept = c[RODA_INGEST_BATCHES] + c[RODA_INGEST_DUPLICATE];
        uint64_t dropped_messages =
            c[RODA_INGEST_MESSAGES] > kept ? c[RODA_INGEST_MESSAGES] - kept : 0;
        uint64_t dropped_readings = c[RODA_INGEST_BATCH_READINGS] > c[RODA_INGEST_READINGS]
                                        ? c[RODA_INGEST_BATCH_READINGS] - c[RODA_INGEST_READINGS]
                                        : 0;
        roda_json_object_begin(json);
        roda_json_key(json, "name");
        roda_json_string(json, is.inputs[i].name);
        roda_json_key(json, "enabled");
        roda_json_bool(json, is.inputs[i].enabled);
        roda_json_key(json, "ready");
        roda_json_bool(json, ready);
        roda_json_key(json, "state");
        roda_json_string(json, !is.inputs[i].enabled ? "off" : ready ? "ready" : why);
        roda_json_key(json, "readings");
        roda_json_u64(json, c[RODA_INGEST_READINGS]);
        roda_json_key(json, "messages");
        roda_json_u64(json, c[RODA_INGEST_MESSAGES]);
        roda_json_key(json, "dropped_messages");
        roda_json_u64(json, dropped_messages);
        roda_json_key(json, "dropped_readings");
        roda_json_u64(json, dropped_readings + c[RODA_INGEST_KERNEL_DROPS]);
        roda_json_object_end(json);
    }
    roda_json_array_end(json);
    roda_json_object_end(json);
    return 200;
}

/* ---- Alerts: the newest API_ALERT_SCAN ------------------------------------------------------- */

/* Calls `each` for every alert among the newest API_ALERT_SCAN, oldest first. */
static void scan_alerts(roda_pipeline_t *p,
                        void (*each)(void *context, const roda_alert_t *alert, uint64_t id),
                        void *context)
{
    roda_journal_t *alerts = roda_pipeline_alert_journal(p);
    roda_journal_stats_t stats;
    roda_journal_stats(alerts, &stats);
    uint64_t end = stats.write_position;
    uint64_t start = end > API_ALERT_SCAN ? end - API_ALERT_SCAN : 0;
    uint64_t oldest = roda_journal_tail_oldest(alerts);
    if (start < oldest)
        start = oldest;
    roda_alert_cursor_t cursor = {0};
    if (start >= end || roda_alert_cursor_open_at(&cursor, alerts, start) != RODA_SUCCESS)
        return;
    for (;;) {
        const roda_alert_t *alert = NULL;
        uint64_t id, missed;
        uint64_t left = cursor.tail.position < end ? end - cursor.tail.position : 0;
        roda_alert_step_t r = roda_alert_cursor_next(
            &cursor, (uint32_t)(left < RODA_ALERT_CURSOR_BATCH ? left : RODA_ALERT_CURSOR_BATCH),
            &alert, &id, &missed);
        if (r == RODA_ALERT_STEP_ALERT && id < end)
            each(context, alert, id);
        else if (r != RODA_ALERT_STEP_GAP)
            break;
    }
}

/* Which sensors have a rule firing (among the scanned alerts, matching a rule and severity): the
 * newest alert of each (sensor, rule) pair says whether that rule is firing on that sensor, so a
 * rule resolved on a sensor does not hide another one still firing there. A rule is keyed by a
 * 64-bit hash of its name (names, not indexes: they outlive a reload); the config's few names
 * collide with a chance of about 2^-64 per pair. */
typedef struct firing {
    roda_pipeline_t *pipeline;
    const api_filter_t *filter;
    uint64_t sensors[API_FIRING_SLOTS]; /* sensor id + 1; 0: free */
    uint64_t rules[API_FIRING_SLOTS];   /* the rule name's hash */
    bool firing[API_FIRING_SLOTS];
} firing_t;

/* FNV-1a, 64 bits. */
static uint64_t name_hash(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *c = (const unsigned char *)name; *c != '\0'; c++)
        h = (h ^ *c) * 0x100000001b3ull;
    return h;
}

/* The entry of (sensor, rule), or the free one where it goes; rule 0 with `any`: the first
 * entry of the sensor that is firing, or a free one when none is. */
static uint32_t firing_slot(const firing_t *f, uint64_t sensor_id, uint64_t rule, bool any)
{
    uint32_t i = (uint32_t)((sensor_id * 0x9E3779B97F4A7C15ull) >> 40) & (API_FIRING_SLOTS - 1);
    while (f->sensors[i] != 0 &&
           (f->sensors[i] != sensor_id + 1 || (any ? !f->firing[i] : f->rules[i] != rule)))
        i = (i + 1) & (API_FIRING_SLOTS - 1);
    return i;
}

static void firing_add(void *context, const roda_alert_t *alert, uint64_t id)
{
    (void)id;
    firing_t *f = context;
    char rule[RODA_RULE_NAME_MAX];
    if (f->filter->severity[0] != '\0' &&
        strcmp(f->filter->severity, roda_severity_name(alert->severity)) != 0)
        return;
    roda_alert_rule_name(&f->pipeline->names, alert, rule, sizeof rule);
    if (f->filter->rule[0] != '\0' && strcmp(f->filter->rule, rule) != 0)
        return;
    uint64_t hash = name_hash(rule);
    uint32_t i = firing_slot(f, alert->sensor_id, hash, false);
    f->sensors[i] = alert->sensor_id + 1;
    f->rules[i] = hash;
    f->firing[i] = alert->state == RODA_ALERT_FIRING;
}

static bool firing_has(const firing_t *f, uint64_t sensor_id)
{
    return f->sensors[firing_slot(f, sensor_id, 0, true)] != 0;
}

/* ---- /api/sensors ---------------------------------------------------------------------------- */

static void string_or_null(roda_json_t *json, const char *key, const char *value)
{
    roda_json_key(json, key);
    if (value != NULL)
        roda_json_string(json, value);
    else
        roda_json_null(json);
}

static void sensor_row(roda_pipeline_t *p, const roda_summary_t *s, uint32_t slot, uint64_t now,
                       roda_json_t *json)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, s->sensor_id);
    roda_json_object_begin(json);
    roda_json_key(json, "id"); /* a string: JavaScript numbers end at 2^53 */
    roda_json_string(json, id);
    const char *name = roda_pipeline_sensor_name(p, s->sensor_id);
    const char *device = roda_pipeline_device_name(p, s->device);
    const char *input = roda_ingest_input_name(p->ingest, s->input);
    string_or_null(json, "name", name);
    string_or_null(json, "device", device);
    string_or_null(json, "input", input);
    roda_json_key(json, "count");
    roda_json_u64(json, s->count);
    roda_json_key(json, "last");
    roda_json_double(json, s->last);
    roda_json_key(json, "mean");
    roda_json_double(json, s->mean);
    roda_json_key(json, "min");
    roda_json_double(json, s->min);
    roda_json_key(json, "max");
    roda_json_double(json, s->max);
    roda_json_key(json, "age_ms");
    roda_json_u64(json, now > s->ingest_time_ns ? (now - s->ingest_time_ns) / 1000000ull : 0);
    roda_json_key(json, "recent");
    roda_json_array_begin(json);
    if (p->state.recent != NULL) {
        float values[RODA_RECENT_VALUES_MAX];
        uint32_t n = roda_recent_values_read(p->state.recent, slot, values, RODA_RECENT_VALUES_MAX);
        for (uint32_t i = 0; i < n; i++)
            roda_json_float(json, values[i]);
    }
    roda_json_array_end(json);
    roda_json_object_end(json);
}

static unsigned int api_sensors(void *context, const roda_http_request_t *request,
                                roda_json_t *json, char *error, size_t size)
{
    roda_pipeline_t *p = context;
    api_filter_t f;
    uint64_t only = 0;
    const char *id_text = roda_http_arg(request, "id");
    if (!parse_filter(request, &f, error, size) ||
        (id_text != NULL &&
         !roda_http_arg_u64(request, "id", 0, 0, UINT64_MAX, &only, error, size)))
        return 400;
    firing_t *firing = NULL;
    if (f.rule[0] != '\0' || f.severity[0] != '\0') {
        firing = calloc(1, sizeof *firing);
        if (firing == NULL) {
            snprintf(error, size, "out of memory");
            return 503;
        }
        firing->pipeline = p;
        firing->filter = &f;
        scan_alerts(p, firing_add, firing);
    }
    uint64_t now = roda_wall_ns(), total = 0, written = 0;
    bool full = false;
    roda_json_object_begin(json);
    roda_json_key(json, "sensors");
    roda_json_array_begin(json);
    /* ?id=: the one slot the sensor index gives (the read below checks it is still the
     * sensor's); else every slot. */
    uint32_t first = 0, bound = roda_sensor_index_slot_bound(p->state.index);
    if (id_text != NULL) {
        if (roda_sensor_index_find(p->state.index, only, &first) == RODA_SUCCESS)
            bound = first + 1;
        else
            first = bound = 0;
    }
    for (uint32_t slot = first; slot < bound; slot++) {
        roda_summary_t s = {0};
        if (roda_slots_read(p->state.slots, slot, &s) != RODA_SUCCESS ||
            (id_text != NULL && s.sensor_id != only) ||
            !device_matches(&f, roda_pipeline_device_name(p, s.device)) ||
            (firing != NULL && !firing_has(firing, s.sensor_id)))
            continue;
        if (total++ < f.offset || written == f.limit || full)
            continue;
        roda_json_t before = *json;
        sensor_row(p, &s, slot, now, json);
        full = !row_fits(json, &before);
        written += full ? 0 : 1;
    }
    free(firing);
    page_end(json, &f, total, written);
    if (id_text != NULL && total == 0) {
        snprintf(error, size, "unknown sensor");
        return 404;
    }
    return 200;
}

/* ---- /api/devices ---------------------------------------------------------------------------- */

static unsigned int api_devices(void *context, const roda_http_request_t *request,
                                roda_json_t *json, char *error, size_t size)
{
    roda_pipeline_t *p = context;
    api_filter_t f;
    if (!parse_filter(request, &f, error, size))
        return 400;
    const roda_devices_t *devices = roda_ingest_devices(p->ingest);
    uint32_t count = roda_devices_count(devices);
    uint64_t total = 0, written = 0;
    bool full = false;
    roda_json_object_begin(json);
    roda_json_key(json, "devices");
    roda_json_array_begin(json);
    for (uint32_t i = 0; i < count; i++) {
        const char *name = roda_devices_name(devices, i);
        roda_device_counters_t c;
        if (name == NULL || !device_matches(&f, name) ||
            roda_devices_counters(devices, i, &c) != RODA_SUCCESS)
            continue;
        if (total++ < f.offset || written == f.limit || full)
            continue;
        roda_json_t before = *json;
        roda_json_object_begin(json);
        roda_json_key(json, "index");
        roda_json_u64(json, i);
        roda_json_key(json, "name");
        roda_json_string(json, name);
        roda_json_key(json, "batches");
        roda_json_u64(json, c.batches);
        roda_json_key(json, "lost");
        roda_json_u64(json, c.lost);
        roda_json_key(json, "duplicates");
        roda_json_u64(json, c.duplicates);
        roda_json_object_end(json);
        full = !row_fits(json, &before);
        written += full ? 0 : 1;
    }
    page_end(json, &f, total, written);
    return 200;
}

/* ---- /api/alerts ----------------------------------------------------------------------------- */

typedef struct sensor_alerts {
    roda_pipeline_t *pipeline;
    uint64_t sensor_id;
    uint64_t skip; /* matching alerts to pass over before writing */
    uint64_t matched;
    roda_json_t *json; /* NULL: only count */
} sensor_alerts_t;

static void sensor_alert(void *context, const roda_alert_t *alert, uint64_t id)
{
    sensor_alerts_t *a = context;
    if (alert->sensor_id != a->sensor_id || a->matched++ < a->skip || a->json == NULL)
        return;
    roda_alert_named_json(&a->pipeline->names, alert, id, a->json);
}

static unsigned int api_alerts(void *context, const roda_http_request_t *request, roda_json_t *json,
                               char *error, size_t size)
{
    roda_pipeline_t *p = context;
    uint64_t sensor, limit;
    if (roda_http_arg(request, "sensor") == NULL) {
        snprintf(error, size, "bad sensor: use ?sensor=<decimal id>");
        return 400;
    }
    if (!roda_http_arg_u64(request, "sensor", 0, 0, UINT64_MAX, &sensor, error, size) ||
        !roda_http_arg_u64(request, "limit", API_ALERTS_DEFAULT, 1, API_ALERTS_MAX, &limit, error,
                           size))
        return 400;
    /* Two passes over the same window: count, then write the newest `limit`, oldest first. */
    sensor_alerts_t a = {p, sensor, 0, 0, NULL};
    scan_alerts(p, sensor_alert, &a);
    a = (sensor_alerts_t){p, sensor, a.matched > limit ? a.matched - limit : 0, 0, json};
    roda_json_array_begin(json);
    scan_alerts(p, sensor_alert, &a);
    roda_json_array_end(json);
    return 200;
}

roda_result_t roda_pipeline_serve_api(roda_pipeline_t *p, struct roda_http *http)
{
    p->api_since_ns = roda_wall_ns();
    roda_result_t r = roda_http_add_json(http, "/api/summary", api_summary, p);
    if (r == RODA_SUCCESS)
        r = roda_http_add_json(http, "/api/devices", api_devices, p);
    if (r == RODA_SUCCESS)
        r = roda_http_add_json(http, "/api/sensors", api_sensors, p);
    if (r == RODA_SUCCESS)
        r = roda_http_add_json(http, "/api/alerts", api_alerts, p);
    return r;
}
