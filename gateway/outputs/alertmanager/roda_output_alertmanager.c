/* roda_output_alertmanager.c - the Alertmanager output: alert cursor -> JSON batches -> HTTP POST
 * to every Alertmanager, with retries, a kept position and periodic re-sending (see
 * roda_output_alertmanager.h). */
#include "roda_output_alertmanager.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_counter.h"
#include "roda_idle.h"
#include "roda_keytable.h"
#include "roda_log.h"

/* How long the sender sleeps when there is nothing to do. */
#define IDLE_NS 20000000L
#define POSITION_FILE "alertmanager.position"
#define API_PATH "/api/v2/alerts"

/* A firing alert kept for re-sending. */
typedef struct active {
    roda_alert_t alert;
    uint64_t id;
} active_t;

typedef struct output_alertmanager {
    const roda_config_t *config;
    roda_journal_t *journal;
    roda_alert_names_t names;
    char external_url[RODA_CONFIG_TEXT_MAX + 32];
    CURL *curl[RODA_CONFIG_MAX_ALERTMANAGERS];
    char endpoints[RODA_CONFIG_MAX_ALERTMANAGERS][RODA_CONFIG_TEXT_MAX + sizeof API_PATH];
    struct curl_slist *headers;
    roda_alert_worker_t worker;
    /* Sender thread only. */
    roda_alert_cursor_t cursor;
    roda_keytable_t active; /* active_key -> active_t */
    char *body;             /* batch * RODA_OUTPUT_ALERTMANAGER_ALERT_JSON_MAX bytes */
    size_t body_size;
    size_t body_len;     /* the pending batch's JSON (0: no batch pending) */
    uint32_t body_count; /* alerts in it */
    uint64_t body_last;  /* the id of its last alert */
    bool accepted[RODA_CONFIG_MAX_ALERTMANAGERS]; /* by whom, so far */
    uint64_t backoff_ns, next_attempt_ns, next_resend_ns;
    roda_alert_position_t position; /* the last alert of the last batch done */
    /* Written by the sender thread, read by any. */
    _Atomic uint64_t sent;
    _Atomic uint64_t retried;
    _Atomic uint64_t failed_requests;
    _Atomic uint64_t resent;
    _Atomic uint64_t missed;
    _Atomic uint64_t active_count;
    _Atomic uint64_t active_refused;
    _Atomic uint64_t dropped;
} output_alertmanager_t;

/* ---- The active table ----------------------------------------------------------------------- */

/* The key of an alert's (rule name, sensor) pair; a device rule's (rule name, device): the
 * sensor that fires one may not be the one that resolves it. */
static uint64_t active_key(const output_alertmanager_t *p, const roda_alert_t *a)
{
    char rule[RODA_RULE_NAME_MAX];
    roda_alert_rule_name(&p->names, a, rule, sizeof rule);
    uint64_t hash = 0xcbf29ce484222325ull;
    for (const char *c = rule; *c != '\0'; c++)
        hash = (hash ^ (unsigned char)*c) * 0x100000001b3ull;
    uint64_t subject = a->kind == RODA_RULE_DEVICE ? a->device : a->sensor_id;
    return hash ^ (subject * 0x9e3779b97f4a7c15ull);
}

/* Firing: keep it (its startsAt); resolved: forget it, and *starts_ns gets the firing's ingest
 * time (or the resolve's when the firing is unknown). */
static void track(output_alertmanager_t *p, const roda_alert_t *a, uint64_t id, uint64_t *starts_ns)
{
    uint64_t key = active_key(p, a);
    *starts_ns = a->ingest_time_ns;
    if (a->state == RODA_ALERT_FIRING) {
        uint32_t index;
        bool fresh;
        if (roda_keytable_insert(&p->active, key, &index, &fresh) != RODA_SUCCESS) {
            roda_counter_add(&p->active_refused, 1);
            return;
        }
        active_t *slot = roda_keytable_state(&p->active, index);
        slot->alert = *a;
        slot->id = id;
    } else {
        uint32_t index = roda_keytable_find(&p->active, key);
        if (index == RODA_KEYTABLE_NONE)
            return;
        const active_t *slot = roda_keytable_state(&p->active, index);
        *starts_ns = slot->alert.ingest_time_ns;
        (void)roda_keytable_remove(&p->active, key);
    }
    atomic_store_explicit(&p->active_count, p->active.count, memory_order_relaxed);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

/* RFC 3339 in UTC with milliseconds. */
static void rfc3339(uint64_t ns, char *buf, size_t size)
{
    time_t seconds = (time_t)(ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03uZ", (unsigned)(ns / 1000000ull % 1000u));
}

static void string_pair(roda_json_t *json, const char *key, const char *value)
{
    roda_json_key(json, key);
    roda_json_string(json, value);
}

/* Appends one alert object; `ends_ns` 0: no endsAt (firing). */
static void alert_json(const output_alertmanager_t *p, const roda_alert_t *a, uint64_t starts_ns,
                       uint64_t ends_ns, roda_json_t *json)
{
    const roda_config_t *c = p->config;
    char rule[RODA_RULE_NAME_MAX], sensor[24], text[64], threshold[64], summary[256], time[40];
    roda_alert_rule_name(&p->names, a, rule, sizeof rule);
    const char *device = p->names.device(p->names.context, a->device);
    snprintf(sensor, sizeof sensor, "%" PRIu64, a->sensor_id);
    snprintf(text, sizeof text, "%.17g", a->value);
    snprintf(threshold, sizeof threshold, "%.17g", a->threshold);
    snprintf(summary, sizeof summary, "%s: sensor %s of %s is %.6g (%s %.6g)", rule, sensor,
             device != NULL ? device : "an unknown device", a->value,
             roda_rule_kind_name((roda_rule_kind_t)a->kind), a->threshold);
    roda_json_object_begin(json);
    roda_json_key(json, "labels");
    roda_json_object_begin(json);
    string_pair(json, "alertname", rule);
    string_pair(json, "severity", roda_severity_name((roda_severity_t)a->severity));
    string_pair(json, "device", device != NULL ? device : "");
    const char *name =
        p->names.sensor != NULL ? p->names.sensor(p->names.context, a->sensor_id) : NULL;
    bool per_device = a->kind == RODA_RULE_DEVICE;
    if (!per_device)
        string_pair(json, "sensor", name != NULL ? name : sensor);
    if (!per_device && name != NULL)
        string_pair(json, "sensor_id", sensor);
    for (uint32_t i = 0; i < c->alertmanager.label_count; i++) {
        const char *label = c->alertmanager.labels[i];
        const char *equals = strchr(label, '=');
        char name[RODA_CONFIG_TEXT_MAX];
        snprintf(name, sizeof name, "%.*s", (int)(equals - label), label);
        string_pair(json, name, equals + 1);
    }
    roda_json_object_end(json);
    roda_json_key(json, "annotations");
    roda_json_object_begin(json);
    string_pair(json, "value", text);
    string_pair(json, "threshold", threshold);
    string_pair(json, "summary", summary);
    if (per_device)
        string_pair(json, "sensor", name != NULL ? name : sensor);
    roda_json_object_end(json);
    rfc3339(starts_ns, time, sizeof time);
    string_pair(json, "startsAt", time);
    if (ends_ns != 0) {
        rfc3339(ends_ns, time, sizeof time);
        string_pair(json, "endsAt", time);
    }
    char url[sizeof p->external_url + 32];
    snprintf(url, sizeof url, "%s/sensors/%s", p->external_url, sensor);
    string_pair(json, "generatorURL", url);
    roda_json_object_end(json);
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

static size_t discard(char *data, size_t size, size_t count, void *context)
{
    (void)data;
    (void)context;
    return size * count;
}

/* POSTs body to Alertmanager `i`; true on a 2xx answer. */
static bool post(output_alertmanager_t *p, uint32_t i, const char *body, size_t length)
{
    CURL *curl = p->curl[i];
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)length);
    long status = 0;
    CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return true;
    roda_counter_add(&p->failed_requests, 1);
    return false;
}

/* Sends the pending batch to every Alertmanager that has not accepted it yet; true when all
 * have. */
static bool send_batch(output_alertmanager_t *p)
{
    bool all = true;
    for (uint32_t i = 0; i < p->config->alertmanager.url_count; i++) {
        if (!p->accepted[i])
            p->accepted[i] = post(p, i, p->body, p->body_len);
        all = all && p->accepted[i];
    }
    return all;
}

/* ---- The sender ------------------------------------------------------------------------------ */

/* Fills the pending batch from the cursor (at most `batch` alerts); false when nothing new. */
static bool fill_batch(output_alertmanager_t *p)
{
    roda_json_t json;
    roda_json_init(&json, p->body, p->body_size);
    roda_json_array_begin(&json);
    p->body_count = 0;
    while (p->body_count < p->config->alertmanager.batch) {
        const roda_alert_t *alert = NULL;
        uint64_t id, missed;
        uint32_t room = p->config->alertmanager.batch - p->body_count;
        roda_alert_step_t step = roda_alert_cursor_next(
            &p->cursor, room < RODA_ALERT_CURSOR_BATCH ? room : RODA_ALERT_CURSOR_BATCH, &alert,
            &id, &missed);
        if (step == RODA_ALERT_STEP_GAP) {
            roda_counter_add(&p->missed, missed);
            roda_log(RODA_LOG_WARN, "alertmanager output fell behind",
                     "missed=%" PRIu64 " hint=\"%s\"", missed,
                     "Alertmanager was away longer than the alert journal holds; raise "
                     "journal.alert_capacity");
            continue;
        }
        if (step != RODA_ALERT_STEP_ALERT)
            break;
        uint64_t starts;
        track(p, alert, id, &starts);
        alert_json(p, alert, starts,
                   alert->state == RODA_ALERT_RESOLVED ? alert->ingest_time_ns : 0, &json);
        p->body_count++;
        p->body_last = id;
    }
    roda_json_array_end(&json);
    p->body_len = p->body_count != 0 && roda_json_ok(&json) ? json.len : 0;
    memset(p->accepted, 0, sizeof p->accepted);
    return p->body_count != 0;
}

/* Every firing alert again, in batches, best effort (the next round repeats a failure). */
static void resend_active(output_alertmanager_t *p)
{
    uint32_t cursor = 0, index;
    uint64_t key;
    bool more = true;
    while (more) {
        roda_json_t json;
        roda_json_init(&json, p->body, p->body_size);
        roda_json_array_begin(&json);
        uint32_t count = 0;
        while (count < p->config->alertmanager.batch &&
               (more = roda_keytable_next(&p->active, &cursor, &key, &index))) {
            const active_t *a = roda_keytable_state(&p->active, index);
            alert_json(p, &a->alert, a->alert.ingest_time_ns, 0, &json);
            count++;
        }
        roda_json_array_end(&json);
        if (count == 0 || !roda_json_ok(&json))
            break;
        for (uint32_t i = 0; i < p->config->alertmanager.url_count; i++)
            (void)post(p, i, p->body, json.len);
        roda_counter_add(&p->resent, count);
    }
}

/* One step: a batch due or pending is sent; returns whether there was work. */
static bool step(output_alertmanager_t *p, uint64_t now)
{
    const roda_config_t *c = p->config;
    if (now < p->next_attempt_ns)
        return false;
    if (p->body_len == 0 && !fill_batch(p)) {
        if (now < p->next_resend_ns)
            return false;
        resend_active(p);
        p->next_resend_ns = now + c->alertmanager.resend_interval_ns;
        return true;
    }
    if (send_batch(p)) {
        roda_counter_add(&p->sent, p->body_count);
        roda_alert_position_save(&p->position, p->body_last);
        p->body_len = 0;
        p->backoff_ns = 0;
        return true;
    }
    roda_counter_add(&p->retried, 1);
    p->backoff_ns = p->backoff_ns == 0 ? c->alertmanager.retry_min_ns : p->backoff_ns * 2;
    if (p->backoff_ns > c->alertmanager.retry_max_ns)
        p->backoff_ns = c->alertmanager.retry_max_ns;
    p->next_attempt_ns = now + p->backoff_ns;
    return true;
}

static void *sender_thread(void *arg)
{
    output_alertmanager_t *p = arg;
    for (;;) {
        uint64_t now = roda_now_ns();
        bool worked = step(p, now);
        if (roda_alert_worker_stopping(&p->worker)) {
            bool drained = p->body_len == 0 &&
                           roda_journal_tail_status(&p->cursor.tail) == RODA_CLOSED &&
                           p->cursor.next == p->cursor.count;
            if (drained || roda_alert_worker_past_deadline(&p->worker, now))
                break;
        }
        if (!worked) {
            struct timespec pause = {0, IDLE_NS};
            nanosleep(&pause, NULL);
        }
    }
    uint64_t unread =
        roda_alert_cursor_unread(&p->cursor, p->journal) + p->body_count * (p->body_len != 0);
    roda_counter_add(&p->dropped, unread);
    if (unread != 0)
        roda_log(RODA_LOG_WARN, "alerts not sent to alertmanager at stop",
                 "unsent=%" PRIu64 " hint=\"%s\"", unread,
                 "with journal.alert_directory they are sent after the restart");
    return NULL;
}

/* ---- Life cycle ------------------------------------------------------------------------------ */

static bool enabled(const roda_config_t *config)
{
    return config->alertmanager.url_count > 0;
}

static void destroy(void *state)
{
    output_alertmanager_t *p = state;
    if (p == NULL)
        return;
    for (uint32_t i = 0; i < RODA_CONFIG_MAX_ALERTMANAGERS; i++)
        if (p->curl[i] != NULL)
            curl_easy_cleanup(p->curl[i]);
    curl_slist_free_all(p->headers);
    roda_keytable_destroy(&p->active);
    roda_alert_position_close(&p->position);
    free(p->body);
    free(p);
}

/* Checks the URLs and labels; false with the field named in the log. */
static bool valid(const roda_config_t *c)
{
    for (uint32_t i = 0; i < c->alertmanager.url_count; i++) {
        const char *url = c->alertmanager.urls[i];
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
            roda_log(RODA_LOG_ERROR, "alertmanager output not created",
                     "field=alertmanager.urls url=\"%s\" hint=\"%s\"", url,
                     "give base URLs such as http://127.0.0.1:9093");
            return false;
        }
    }
    for (uint32_t i = 0; i < c->alertmanager.label_count; i++) {
        const char *label = c->alertmanager.labels[i];
        const char *equals = strchr(label, '=');
        if (equals == NULL || equals == label) {
            roda_log(RODA_LOG_ERROR, "alertmanager output not created",
                     "field=alertmanager.labels label=\"%s\" hint=\"%s\"", label,
                     "static labels are name=value");
            return false;
        }
    }
    return true;
}

static roda_result_t create(const roda_output_context_t *context, void **state)
{
    const roda_config_t *c = context->config;
    if (!valid(c))
        return RODA_ERROR_INVALID_ARG;
    output_alertmanager_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RODA_ERROR_NOMEM;
    p->position.fd = -1; /* destroy may run before the position is opened */
    p->config = c;
    p->journal = context->alerts;
    p->names = *context->names;
    if (c->alertmanager.external_url[0] != '\0')
        snprintf(p->external_url, sizeof p->external_url, "%s", c->alertmanager.external_url);
    else
        snprintf(p->external_url, sizeof p->external_url, "http://%s:%u", c->http.bind,
                 (unsigned)c->http.port);
    p->body_size = (size_t)c->alertmanager.batch * RODA_OUTPUT_ALERTMANAGER_ALERT_JSON_MAX + 16;
    p->body = malloc(p->body_size);
    roda_result_t result = p->body == NULL ? RODA_ERROR_NOMEM : RODA_SUCCESS;
    if (result == RODA_SUCCESS)
        result = roda_keytable_init(&p->active, c->alertmanager.max_active, sizeof(active_t));
    if (result == RODA_SUCCESS)
        result = roda_alert_position_open(&p->position, c->journal.alert_directory, POSITION_FILE);
    if (result == RODA_SUCCESS && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        result = RODA_ERROR_SYSTEM;
    if (result == RODA_SUCCESS)
        p->headers = curl_slist_append(NULL, "Content-Type: application/json");
    for (uint32_t i = 0; result == RODA_SUCCESS && i < c->alertmanager.url_count; i++) {
        const char *base = c->alertmanager.urls[i];
        size_t length = strlen(base);
        while (length > 0 && base[length - 1] == '/')
            length--;
        snprintf(p->endpoints[i], sizeof p->endpoints[i], "%.*s%s", (int)length, base, API_PATH);
        p->curl[i] = curl_easy_init();
        if (p->curl[i] == NULL || p->headers == NULL) {
            result = RODA_ERROR_NOMEM;
            break;
        }
        curl_easy_setopt(p->curl[i], CURLOPT_URL, p->endpoints[i]);
        curl_easy_setopt(p->curl[i], CURLOPT_HTTPHEADER, p->headers);
        curl_easy_setopt(p->curl[i], CURLOPT_TIMEOUT_MS,
                         (long)(c->alertmanager.timeout_ns / 1000000ull));
        curl_easy_setopt(p->curl[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(p->curl[i], CURLOPT_WRITEFUNCTION, discard);
    }
    if (result != RODA_SUCCESS) {
        roda_log(RODA_LOG_ERROR, "alertmanager output not created", "error=%s",
                 roda_result_str(result));
        destroy(p);
        return result;
    }
    *state = p;
    return RODA_SUCCESS;
}

/* After a restart: the firing alerts of the journal up to the kept position, so they are re-sent
 * (an Alertmanager that restarted meanwhile learns them again). */
static void rebuild_active(output_alertmanager_t *p)
{
    roda_alert_cursor_t scan;
    if (roda_alert_cursor_open_at(&scan, p->journal, roda_journal_tail_oldest(p->journal)) !=
        RODA_SUCCESS)
        return;
    for (;;) {
        const roda_alert_t *alert = NULL;
        uint64_t id, missed, starts;
        roda_alert_step_t step =
            roda_alert_cursor_next(&scan, RODA_ALERT_CURSOR_BATCH, &alert, &id, &missed);
        if (step == RODA_ALERT_STEP_GAP)
            continue;
        if (step != RODA_ALERT_STEP_ALERT || id > p->position.last)
            break;
        track(p, alert, id, &starts);
    }
}

static roda_result_t start(void *state)
{
    output_alertmanager_t *p = state;
    if (p->worker.started)
        return RODA_ERROR_STATE; /* before the active set is rebuilt under a running thread */
    if (p->position.kept)
        rebuild_active(p);
    return roda_alert_worker_start(&p->worker, &p->cursor, p->journal, &p->position, sender_thread,
                                   p);
}

static void stop(void *state, uint32_t flush_ms)
{
    output_alertmanager_t *p = state;
    roda_alert_worker_stop(&p->worker, flush_ms);
}

static uint64_t load(const _Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

static void metrics(void *state, roda_metrics_t *m)
{
    output_alertmanager_t *p = state;
    roda_metrics_family(m, "roda_alertmanager_alerts_total", RODA_METRIC_COUNTER,
                        "Alerts for Alertmanager: sent (every Alertmanager accepted their batch), "
                        "resent (firing alerts refreshed every resend_interval), dropped (not "
                        "sent when stop's flush deadline passed).");
    static const char *const results[] = {"sent", "resent", "dropped"};
    const _Atomic uint64_t *counters[] = {&p->sent, &p->resent, &p->dropped};
    for (size_t i = 0; i < 3; i++) {
        roda_metrics_label_t label = {"result", results[i]};
        roda_metrics_u64(m, &label, 1, load(counters[i]));
    }
    roda_metrics_family(m, "roda_alertmanager_retries_total", RODA_METRIC_COUNTER,
                        "Batches sent again after a failed request (back-off).");
    roda_metrics_u64(m, NULL, 0, load(&p->retried));
    roda_metrics_family(m, "roda_alertmanager_failed_requests_total", RODA_METRIC_COUNTER,
                        "Requests to an Alertmanager that failed (no answer, not 2xx).");
    roda_metrics_u64(m, NULL, 0, load(&p->failed_requests));
    roda_metrics_family(m, "roda_alertmanager_gap_alerts_total", RODA_METRIC_COUNTER,
                        "Alerts the journal overwrote before they were sent (a gap).");
    roda_metrics_u64(m, NULL, 0, load(&p->missed));
    roda_metrics_family(m, "roda_alertmanager_active_alerts", RODA_METRIC_GAUGE,
                        "Firing alerts kept for re-sending.");
    roda_metrics_u64(m, NULL, 0, load(&p->active_count));
    roda_metrics_family(m, "roda_alertmanager_active_refused_total", RODA_METRIC_COUNTER,
                        "Firing alerts past alertmanager.max_active: sent once, not re-sent.");
    roda_metrics_u64(m, NULL, 0, load(&p->active_refused));
}

static void totals(const void *state, char *buf, size_t size)
{
    const output_alertmanager_t *p = state;
    snprintf(buf, size, "alertmanager_sent=%" PRIu64 " alertmanager_dropped=%" PRIu64,
             load(&p->sent), load(&p->dropped));
}

static uint64_t memory(const roda_config_t *config)
{
    return sizeof(output_alertmanager_t) +
           (uint64_t)config->alertmanager.batch * RODA_OUTPUT_ALERTMANAGER_ALERT_JSON_MAX +
           roda_keytable_memory(config->alertmanager.max_active, sizeof(active_t));
}

const roda_output_class_t roda_output_alertmanager = {
    .name = "alertmanager",
    .enabled = enabled,
    .create = create,
    .start = start,
    .stop = stop,
    .destroy = destroy,
    .metrics = metrics,
    .totals = totals,
    .memory = memory,
};
