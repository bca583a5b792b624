/* roda_output_alertmanager.c - the Alertmanager output: alert cursor -> JSON batches -> HTTP POST
 * to every Alertmanager, with retries, a kept position and periodic re-sending (see
 * roda_output_alertmanager.h). */
#include "roda_output_alertmanager.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stddef.h>
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
#define API_PATH "/api/v2/alerts"
/* At most one "rejected" line per Alertmanager this often (the rest are counted in it). */
#define REJECTED_LOG_NS 60000000000ull
/* Bytes of an Alertmanager's answer kept for the log (it says why it rejected a batch). */
#define ANSWER_MAX 200u

/* A firing alert kept for re-sending. */
typedef struct active {
    roda_alert_t alert;
    uint64_t id;
} active_t;

/* What became of one request. */
typedef enum post_result {
    POST_ACCEPTED, /* 2xx */
    POST_REJECTED, /* 4xx but 429: the batch is dropped, never retried */
    POST_FAILED,   /* no answer, 429 or 5xx: retried after a back-off */
} post_result_t;

/* One Alertmanager: its own position in the alert journal, pending batch, back-off and firing
 * alerts, so a dead one never holds up another. The sender thread only, but the counters. */
typedef struct target {
    const char *url; /* as configured */
    CURL *curl;
    char endpoint[RODA_CONFIG_TEXT_MAX + sizeof API_PATH];
    roda_alert_cursor_t cursor;
    roda_alert_position_t position; /* the last alert of the last batch done */
    roda_keytable_t active;         /* active_key -> active_t */
    char *body;                     /* batch * RODA_OUTPUT_ALERTMANAGER_ALERT_JSON_MAX bytes */
    size_t body_len;                /* the pending batch's JSON (0: no batch pending) */
    uint32_t body_count;            /* alerts in it */
    uint64_t body_last;             /* the id of its last alert */
    uint64_t backoff_ns, next_attempt_ns, next_resend_ns;
    bool failing;             /* since the last request that failed; logged once per outage */
    uint64_t outage_failures; /* failed requests of this outage */
    roda_log_limiter_t rejected_log;
    char answer[ANSWER_MAX + 1];
    size_t answer_len;
    /* Written by the sender thread, read by any. */
    _Atomic uint64_t sent;
    _Atomic uint64_t resent;
    _Atomic uint64_t rejected;
    _Atomic uint64_t dropped;
    _Atomic uint64_t retried;
    _Atomic uint64_t failed_requests;
    _Atomic uint64_t missed;
    _Atomic uint64_t active_count;
    _Atomic uint64_t active_refused;
} target_t;

typedef struct output_alertmanager {
    const roda_config_t *config;
    roda_journal_t *journal;
    roda_alert_names_t names;
    char external_url[RODA_CONFIG_TEXT_MAX + 32];
    struct curl_slist *headers;
    roda_alert_worker_t worker;
    size_t body_size;
    uint32_t target_count;
    target_t targets[RODA_CONFIG_MAX_ALERTMANAGERS];
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

/* Firing: keep it in the target's table (its startsAt); resolved: forget it, and *starts_ns gets
 * the firing's ingest time (or the resolve's when the firing is unknown). */
static void track(const output_alertmanager_t *p, target_t *t, const roda_alert_t *a, uint64_t id,
                  uint64_t *starts_ns)
{
    uint64_t key = active_key(p, a);
    *starts_ns = a->ingest_time_ns;
    if (a->state == RODA_ALERT_FIRING) {
        uint32_t index;
        bool fresh;
        if (roda_keytable_insert(&t->active, key, &index, &fresh) != RODA_SUCCESS) {
            roda_counter_add(&t->active_refused, 1);
            return;
        }
        active_t *slot = roda_keytable_state(&t->active, index);
        slot->alert = *a;
        slot->id = id;
    } else {
        uint32_t index = roda_keytable_find(&t->active, key);
        if (index == RODA_KEYTABLE_NONE)
            return;
        const active_t *slot = roda_keytable_state(&t->active, index);
        *starts_ns = slot->alert.ingest_time_ns;
        (void)roda_keytable_remove(&t->active, key);
    }
    atomic_store_explicit(&t->active_count, t->active.count, memory_order_relaxed);
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

/* Keeps the start of the answer (Alertmanager says there why it rejected a batch). */
static size_t keep_answer(char *data, size_t size, size_t count, void *context)
{
    target_t *t = context;
    size_t n = size * count, room = ANSWER_MAX - t->answer_len;
    memcpy(t->answer + t->answer_len, data, n < room ? n : room);
    t->answer_len += n < room ? n : room;
    t->answer[t->answer_len] = '\0';
    return n;
}

/* A failed request: counted; logged when it starts an outage. */
static void note_failure(target_t *t, CURLcode code, long status)
{
    roda_counter_add(&t->failed_requests, 1);
    t->outage_failures++;
    if (t->failing)
        return;
    t->failing = true;
    char error[120];
    if (code != CURLE_OK)
        snprintf(error, sizeof error, "error=\"%s\"", curl_easy_strerror(code));
    else
        snprintf(error, sizeof error, "status=%ld", status);
    roda_log(RODA_LOG_WARN, "alertmanager unreachable", "url=%s %s hint=\"%s\"", t->url, error,
             "retrying with back-off (retry_min to retry_max); its alerts wait in the alert "
             "journal, other Alertmanagers go on; logged once per outage");
}

/* POSTs body to one Alertmanager. */
static post_result_t post(target_t *t, const char *body, size_t length)
{
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE, (long)length);
    t->answer_len = 0;
    t->answer[0] = '\0';
    long status = 0;
    CURLcode code = curl_easy_perform(t->curl);
    if (code == CURLE_OK)
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    bool rejected = status >= 400 && status < 500 && status != 429;
    if ((status < 200 || status >= 300) && !rejected) {
        note_failure(t, code, status);
        return POST_FAILED;
    }
    if (t->failing) {
        roda_log(RODA_LOG_INFO, "alertmanager reachable again", "url=%s failed_requests=%" PRIu64,
                 t->url, t->outage_failures);
        t->next_resend_ns = 0; /* it may have restarted empty: every firing alert again now */
    }
    t->failing = false;
    t->outage_failures = 0;
    if (!rejected)
        return POST_ACCEPTED;
    roda_counter_add(&t->failed_requests, 1);
    uint64_t suppressed;
    if (roda_log_limiter_allow(&t->rejected_log, roda_now_ns(), &suppressed)) {
        char answer[ANSWER_MAX + 16];
        roda_log(RODA_LOG_WARN, "alertmanager rejected alerts",
                 "url=%s status=%ld answer=%s suppressed=%" PRIu64 " hint=\"%s\"", t->url, status,
                 roda_log_quote(answer, sizeof answer, t->answer), suppressed,
                 "the batch is dropped, not retried (counted as rejected); check the static "
                 "labels and the Alertmanager's version");
    }
    return POST_REJECTED;
}

/* ---- The sender ------------------------------------------------------------------------------ */

/* Fills the target's pending batch from its cursor (at most `batch` alerts); false when nothing
 * new. */
static bool fill_batch(output_alertmanager_t *p, target_t *t)
{
    roda_json_t json;
    roda_json_init(&json, t->body, p->body_size);
    roda_json_array_begin(&json);
    t->body_count = 0;
    while (t->body_count < p->config->alertmanager.batch) {
        const roda_alert_t *alert = NULL;
        uint64_t id, missed;
        uint32_t room = p->config->alertmanager.batch - t->body_count;
        roda_alert_step_t step = roda_alert_cursor_next(
            &t->cursor, room < RODA_ALERT_CURSOR_BATCH ? room : RODA_ALERT_CURSOR_BATCH, &alert,
            &id, &missed);
        if (step == RODA_ALERT_STEP_GAP) {
            roda_counter_add(&t->missed, missed);
            roda_log(RODA_LOG_WARN, "alertmanager output fell behind",
                     "url=%s missed=%" PRIu64 " hint=\"%s\"", t->url, missed,
                     "Alertmanager was away longer than the alert journal holds; raise "
                     "journal.alert_capacity");
            continue;
        }
        if (step != RODA_ALERT_STEP_ALERT)
            break;
        uint64_t starts;
        track(p, t, alert, id, &starts);
        alert_json(p, alert, starts,
                   alert->state == RODA_ALERT_RESOLVED ? alert->ingest_time_ns : 0, &json);
        t->body_count++;
        t->body_last = id;
    }
    roda_json_array_end(&json);
    t->body_len = t->body_count != 0 && roda_json_ok(&json) ? json.len : 0;
    return t->body_count != 0;
}

/* Every firing alert of the target again, in batches; stops at the first failure. */
static post_result_t resend_active(output_alertmanager_t *p, target_t *t)
{
    uint32_t cursor = 0, index;
    uint64_t key;
    bool more = true;
    while (more) {
        roda_json_t json;
        roda_json_init(&json, t->body, p->body_size);
        roda_json_array_begin(&json);
        uint32_t count = 0;
        while (count < p->config->alertmanager.batch &&
               (more = roda_keytable_next(&t->active, &cursor, &key, &index))) {
            const active_t *a = roda_keytable_state(&t->active, index);
            alert_json(p, &a->alert, a->alert.ingest_time_ns, 0, &json);
            count++;
        }
        roda_json_array_end(&json);
        if (count == 0 || !roda_json_ok(&json))
            break;
        post_result_t result = post(t, t->body, json.len);
        if (result == POST_FAILED)
            return POST_FAILED;
        roda_counter_add(result == POST_ACCEPTED ? &t->resent : &t->rejected, count);
    }
    return POST_ACCEPTED;
}

static void back_off(const roda_config_t *c, target_t *t, uint64_t now)
{
    t->backoff_ns = t->backoff_ns == 0 ? c->alertmanager.retry_min_ns : t->backoff_ns * 2;
    if (t->backoff_ns > c->alertmanager.retry_max_ns)
        t->backoff_ns = c->alertmanager.retry_max_ns;
    t->next_attempt_ns = now + t->backoff_ns;
}

/* One step for one Alertmanager: a batch due or pending is sent; returns whether there was work.
 */
static bool step(output_alertmanager_t *p, target_t *t, uint64_t now)
{
    const roda_config_t *c = p->config;
    if (now < t->next_attempt_ns)
        return false;
    if (t->body_len == 0 && !fill_batch(p, t)) {
        if (now < t->next_resend_ns)
            return false;
        t->next_resend_ns = now + c->alertmanager.resend_interval_ns;
        if (resend_active(p, t) == POST_FAILED)
            back_off(c, t, now);
        return true;
    }
    post_result_t result = post(t, t->body, t->body_len);
    if (result == POST_FAILED) {
        roda_counter_add(&t->retried, 1);
        back_off(c, t, now);
        return true;
    }
    roda_counter_add(result == POST_ACCEPTED ? &t->sent : &t->rejected, t->body_count);
    roda_alert_position_save(&t->position, t->body_last);
    t->body_len = 0;
    t->backoff_ns = 0;
    return true;
}

/* Nothing left for `t`: no batch pending and the closed journal read to its end. */
static bool drained(const target_t *t)
{
    return t->body_len == 0 && roda_journal_tail_status(&t->cursor.tail) == RODA_CLOSED &&
           t->cursor.next == t->cursor.count;
}

static void *sender_thread(void *arg)
{
    output_alertmanager_t *p = arg;
    for (;;) {
        uint64_t now = roda_now_ns();
        bool worked = false, all_drained = true;
        for (uint32_t i = 0; i < p->target_count; i++) {
            worked = step(p, &p->targets[i], now) || worked;
            /* An unreachable one does not hold the stop up: it counts what it has not taken. */
            all_drained = all_drained && (drained(&p->targets[i]) || p->targets[i].failing);
        }
        if (roda_alert_worker_stopping(&p->worker) &&
            (all_drained || roda_alert_worker_past_deadline(&p->worker, now)))
            break;
        if (!worked) {
            struct timespec pause = {0, IDLE_NS};
            nanosleep(&pause, NULL);
        }
    }
    for (uint32_t i = 0; i < p->target_count; i++) {
        target_t *t = &p->targets[i];
        uint64_t unread =
            roda_alert_cursor_unread(&t->cursor, p->journal) + t->body_count * (t->body_len != 0);
        roda_counter_add(&t->dropped, unread);
        if (unread != 0)
            roda_log(RODA_LOG_WARN, "alerts not sent to alertmanager at stop",
                     "url=%s unsent=%" PRIu64 " hint=\"%s\"", t->url, unread,
                     "with journal.alert_directory they are sent after the restart");
    }
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
    for (uint32_t i = 0; i < RODA_CONFIG_MAX_ALERTMANAGERS; i++) {
        target_t *t = &p->targets[i];
        if (t->curl != NULL)
            curl_easy_cleanup(t->curl);
        roda_keytable_destroy(&t->active);
        roda_alert_position_close(&t->position);
        free(t->body);
    }
    curl_slist_free_all(p->headers);
    free(p);
}

/* Whether `name` is a label name Prometheus accepts ([a-zA-Z_][a-zA-Z0-9_]*, no leading "__",
 * those being reserved) of `length` bytes. */
static bool label_name_ok(const char *name, size_t length)
{
    static const char first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
    if (length == 0 || strchr(first, name[0]) == NULL ||
        (length > 1 && name[0] == '_' && name[1] == '_'))
        return false;
    for (size_t i = 1; i < length; i++)
        if (strchr(first, name[i]) == NULL && (name[i] < '0' || name[i] > '9'))
            return false;
    return true;
}

/* The labels every alert gets from the output itself. */
static const char *const own_labels[] = {"alertname", "severity", "device", "sensor", "sensor_id"};

/* Checks one static label "name=value": a Prometheus label name, not one of own_labels, not given
 * before. */
static bool label_ok(const roda_config_t *c, uint32_t i, char *why, size_t size)
{
    const char *label = c->alertmanager.labels[i];
    const char *equals = strchr(label, '=');
    size_t length = equals != NULL ? (size_t)(equals - label) : 0;
    if (!label_name_ok(label, length)) {
        snprintf(why, size,
                 "alertmanager.labels: '%s' is not name=value with a Prometheus label name "
                 "([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)",
                 label);
        return false;
    }
    for (size_t k = 0; k < sizeof own_labels / sizeof own_labels[0]; k++) {
        if (strlen(own_labels[k]) == length && strncmp(label, own_labels[k], length) == 0) {
            snprintf(why, size, "alertmanager.labels: '%.*s' is a label the output sets itself",
                     (int)length, label);
            return false;
        }
    }
    for (uint32_t k = 0; k < i; k++) {
        if (strncmp(c->alertmanager.labels[k], label, length + 1) == 0) {
            snprintf(why, size, "alertmanager.labels: '%.*s' twice", (int)length, label);
            return false;
        }
    }
    return true;
}

/* The URLs and static labels; false with the field named in why. */
static bool check(const roda_config_t *c, char *why, size_t size)
{
    for (uint32_t i = 0; i < c->alertmanager.url_count; i++) {
        const char *url = c->alertmanager.urls[i];
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
            snprintf(why, size,
                     "alertmanager.urls: '%s' is not a base URL such as http://127.0.0.1:9093",
                     url);
            return false;
        }
    }
    for (uint32_t i = 0; i < c->alertmanager.label_count; i++)
        if (!label_ok(c, i, why, size))
            return false;
    return true;
}

/* A position file per Alertmanager, named by its URL (a reordered list keeps them). */
static roda_result_t open_position(const roda_config_t *c, target_t *t)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (const char *ch = t->url; *ch != '\0'; ch++)
        hash = (hash ^ (unsigned char)*ch) * 0x100000001b3ull;
    char file[64];
    snprintf(file, sizeof file, "alertmanager-%016" PRIx64 ".position", hash);
    return roda_alert_position_open(&t->position, c->journal.alert_directory, file);
}

static roda_result_t create_target(output_alertmanager_t *p, target_t *t, const char *url)
{
    const roda_config_t *c = p->config;
    t->url = url;
    t->position.fd = -1; /* destroy may run before the position is opened */
    roda_log_limiter_init(&t->rejected_log, REJECTED_LOG_NS);
    size_t length = strlen(url);
    while (length > 0 && url[length - 1] == '/')
        length--;
    snprintf(t->endpoint, sizeof t->endpoint, "%.*s%s", (int)length, url, API_PATH);
    t->body = malloc(p->body_size);
    t->curl = curl_easy_init();
    if (t->body == NULL || t->curl == NULL)
        return RODA_ERROR_NOMEM;
    roda_result_t result =
        roda_keytable_init(&t->active, c->alertmanager.max_active, sizeof(active_t));
    if (result == RODA_SUCCESS)
        result = open_position(c, t);
    curl_easy_setopt(t->curl, CURLOPT_URL, t->endpoint);
    curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, (long)(c->alertmanager.timeout_ns / 1000000ull));
    curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, t);
    return result;
}

static roda_result_t create(const roda_output_context_t *context, void **state)
{
    const roda_config_t *c = context->config;
    char why[300];
    if (!check(c, why, sizeof why)) {
        char quoted[320];
        roda_log(RODA_LOG_ERROR, "alertmanager output not created", "error=%s",
                 roda_log_quote(quoted, sizeof quoted, why));
        return RODA_ERROR_INVALID_ARG;
    }
    output_alertmanager_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RODA_ERROR_NOMEM;
    p->config = c;
    p->journal = context->alerts;
    p->names = *context->names;
    if (c->alertmanager.external_url[0] != '\0')
        snprintf(p->external_url, sizeof p->external_url, "%s", c->alertmanager.external_url);
    else
        snprintf(p->external_url, sizeof p->external_url, "%s://%s:%u",
                 c->http.tls_cert_file[0] != '\0' ? "https" : "http", c->http.bind,
                 (unsigned)c->http.port);
    p->body_size = (size_t)c->alertmanager.batch * RODA_OUTPUT_ALERTMANAGER_ALERT_JSON_MAX + 16;
    for (uint32_t i = 0; i < RODA_CONFIG_MAX_ALERTMANAGERS; i++)
        p->targets[i].position.fd = -1; /* destroy may run before the positions are opened */
    roda_result_t result = RODA_SUCCESS;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        result = RODA_ERROR_SYSTEM;
    if (result == RODA_SUCCESS)
        p->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (result == RODA_SUCCESS && p->headers == NULL)
        result = RODA_ERROR_NOMEM;
    for (uint32_t i = 0; result == RODA_SUCCESS && i < c->alertmanager.url_count; i++) {
        p->target_count++;
        result = create_target(p, &p->targets[i], c->alertmanager.urls[i]);
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

/* After a restart: the firing alerts of the journal up to the target's kept position, so they are
 * re-sent (an Alertmanager that restarted meanwhile learns them again). */
static void rebuild_active(output_alertmanager_t *p, target_t *t)
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
        if (step != RODA_ALERT_STEP_ALERT || id > t->position.last)
            break;
        track(p, t, alert, id, &starts);
    }
}

static roda_result_t start(void *state)
{
    output_alertmanager_t *p = state;
    if (p->worker.started)
        return RODA_ERROR_STATE; /* before the active sets are rebuilt under a running thread */
    for (uint32_t i = 0; i < p->target_count; i++) {
        target_t *t = &p->targets[i];
        if (t->position.kept)
            rebuild_active(p, t);
        /* The worker opens the first target's cursor; the others are opened here. */
        if (i > 0 &&
            roda_alert_cursor_open_kept(&t->cursor, p->journal, &t->position) != RODA_SUCCESS)
            return RODA_ERROR_STATE;
    }
    return roda_alert_worker_start(&p->worker, &p->targets[0].cursor, p->journal,
                                   &p->targets[0].position, sender_thread, p);
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

/* One family with a sample per Alertmanager of the counter at `offset` in target_t. */
static void per_target(const output_alertmanager_t *p, roda_metrics_t *m, const char *name,
                       roda_metric_type_t type, const char *help, size_t offset)
{
    roda_metrics_family(m, name, type, help);
    for (uint32_t i = 0; i < p->target_count; i++) {
        const target_t *t = &p->targets[i];
        roda_metrics_label_t label = {"alertmanager", t->url};
        roda_metrics_u64(m, &label, 1, load((const _Atomic uint64_t *)((const char *)t + offset)));
    }
}

static void metrics(void *state, roda_metrics_t *m)
{
    output_alertmanager_t *p = state;
    roda_metrics_family(m, "roda_alertmanager_alerts_total", RODA_METRIC_COUNTER,
                        "Alerts for each Alertmanager: sent (it accepted their batch), resent "
                        "(firing alerts refreshed every resend_interval), rejected (it answered "
                        "4xx but 429: dropped, not retried), dropped (not sent when stop's flush "
                        "deadline passed).");
    static const char *const results[] = {"sent", "resent", "rejected", "dropped"};
    for (uint32_t i = 0; i < p->target_count; i++) {
        const target_t *t = &p->targets[i];
        const _Atomic uint64_t *counters[] = {&t->sent, &t->resent, &t->rejected, &t->dropped};
        for (size_t k = 0; k < sizeof results / sizeof results[0]; k++) {
            roda_metrics_label_t labels[] = {{"alertmanager", t->url}, {"result", results[k]}};
            roda_metrics_u64(m, labels, 2, load(counters[k]));
        }
    }
    per_target(p, m, "roda_alertmanager_retries_total", RODA_METRIC_COUNTER,
               "Batches sent again after a failed request (back-off).",
               offsetof(target_t, retried));
    per_target(p, m, "roda_alertmanager_failed_requests_total", RODA_METRIC_COUNTER,
               "Requests to an Alertmanager that failed (no answer, not 2xx).",
               offsetof(target_t, failed_requests));
    per_target(p, m, "roda_alertmanager_gap_alerts_total", RODA_METRIC_COUNTER,
               "Alerts the journal overwrote before they were sent to that Alertmanager (a gap).",
               offsetof(target_t, missed));
    per_target(p, m, "roda_alertmanager_active_alerts", RODA_METRIC_GAUGE,
               "Firing alerts kept for re-sending.", offsetof(target_t, active_count));
    per_target(p, m, "roda_alertmanager_active_refused_total", RODA_METRIC_COUNTER,
               "Firing alerts past alertmanager.max_active: sent once, not re-sent.",
               offsetof(target_t, active_refused));
}

static void totals(const void *state, char *buf, size_t size)
{
    const output_alertmanager_t *p = state;
    uint64_t sent = 0, dropped = 0;
    for (uint32_t i = 0; i < p->target_count; i++) {
        sent += load(&p->targets[i].sent);
        dropped += load(&p->targets[i].dropped);
    }
    snprintf(buf, size, "alertmanager_sent=%" PRIu64 " alertmanager_dropped=%" PRIu64, sent,
             dropped);
}

static uint64_t memory(const roda_config_t *config)
{
    return sizeof(output_alertmanager_t) +
           config->alertmanager.url_count *
               ((uint64_t)config->alertmanager.batch * RODA_OUTPUT_ALERTMANAGER_ALERT_JSON_MAX +
                roda_keytable_memory(config->alertmanager.max_active, sizeof(active_t)));
}

const roda_output_class_t roda_output_alertmanager = {
    .name = "alertmanager",
    .enabled = enabled,
    .check = check,
    .create = create,
    .start = start,
    .stop = stop,
    .destroy = destroy,
    .metrics = metrics,
    .totals = totals,
    .memory = memory,
};
