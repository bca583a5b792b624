/* fake_alerts.c - in-memory alert ring for the HTTP tests (see fake_alerts.h). */
#include "fake_alerts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_alert_cursor.h"
#include "roda_rules.h"

/* The fake alert journal: the last `capacity` alerts of an append-only sequence. */
typedef struct ring {
    pthread_mutex_t lock;
    pthread_cond_t appended;
    uint64_t capacity;
    uint64_t write; /* position of the next alert */
    roda_alert_t alerts[FAKE_ALERTS_MAX];
    bool ready;
    roda_histogram_t latency;
} ring_t;

static ring_t ring = {
    .lock = PTHREAD_MUTEX_INITIALIZER, .appended = PTHREAD_COND_INITIALIZER, .ready = true};

static const char *const rule_names[] = {"hot", "cold"};
static const char *const device_names[] = {"pump-1", "boiler-2"};

void fake_alerts_append(void)
{
    pthread_mutex_lock(&ring.lock);
    uint64_t n = ring.write;
    roda_alert_t *a = &ring.alerts[n % ring.capacity];
    memset(a, 0, sizeof *a);
    a->sensor_id = 100 + n;
    a->value = (double)n;
    a->threshold = 10;
    a->rule = (uint16_t)(n % 2);
    a->device = (uint32_t)(n % 2);
    a->severity = n % 2 ? RODA_SEVERITY_CRITICAL : RODA_SEVERITY_WARNING;
    a->state = RODA_ALERT_FIRING;
    ring.write++;
    roda_histogram_observe(&ring.latency, 0.0001 * (double)(n % 7));
    pthread_cond_broadcast(&ring.appended);
    pthread_mutex_unlock(&ring.lock);
}

static void alert_json(uint64_t position, roda_json_t *json)
{
    const roda_alert_t *a = &ring.alerts[position % ring.capacity];
    roda_alert_json(a, position, rule_names[a->rule], device_names[a->device], NULL, json);
}

typedef struct cursor {
    uint64_t position;
} cursor_t;

static roda_result_t source_open(void *context, bool resume, uint64_t last_id, void **out)
{
    (void)context;
    cursor_t *c = malloc(sizeof *c);
    if (c == NULL)
        return RODA_ERROR_NOMEM;
    pthread_mutex_lock(&ring.lock);
    c->position = resume ? last_id + 1 : ring.write;
    if (c->position > ring.write)
        c->position = ring.write;
    pthread_mutex_unlock(&ring.lock);
    *out = c;
    return RODA_SUCCESS;
}

static roda_sse_next_t source_next(void *context, void *cursor, roda_sse_event_t *event)
{
    (void)context;
    cursor_t *c = cursor;
    roda_sse_next_t result = RODA_SSE_NONE;
    pthread_mutex_lock(&ring.lock);
    uint64_t oldest = ring.write > ring.capacity ? ring.write - ring.capacity : 0;
    if (c->position < oldest) {
        event->missed = oldest - c->position;
        event->id = oldest;
        c->position = oldest;
        result = RODA_SSE_GAP;
    } else if (c->position < ring.write) {
        const roda_alert_t *a = &ring.alerts[c->position % ring.capacity];
        roda_json_t json;
        roda_json_init(&json, event->data, sizeof event->data);
        alert_json(c->position, &json);
        event->data_len = json.len;
        event->id = c->position++;
        snprintf(event->rule, sizeof event->rule, "%s", rule_names[a->rule]);
        snprintf(event->severity, sizeof event->severity, "%s",
                 roda_severity_name((roda_severity_t)a->severity));
        snprintf(event->device, sizeof event->device, "%s", device_names[a->device]);
        result = RODA_SSE_EVENT;
    }
    pthread_mutex_unlock(&ring.lock);
    return result;
}

static void source_wait(void *context, void *cursor, uint32_t timeout_ms)
{
    (void)context;
    cursor_t *c = cursor;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += (long)timeout_ms * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&ring.lock);
    if (c->position >= ring.write)
        pthread_cond_timedwait(&ring.appended, &ring.lock, &deadline);
    pthread_mutex_unlock(&ring.lock);
}

static void source_close(void *context, void *cursor)
{
    (void)context;
    free(cursor);
}

const roda_sse_source_t fake_alerts_source = {NULL, source_open, source_next, source_wait,
                                              source_close};

bool fake_alerts_ready(void *context, char *reason, size_t size)
{
    (void)context;
    pthread_mutex_lock(&ring.lock);
    bool ok = ring.ready;
    pthread_mutex_unlock(&ring.lock);
    if (!ok)
        snprintf(reason, size, "mqtt broker not connected");
    return ok;
}

void fake_alerts_recent(void *context, uint32_t limit, roda_json_t *json)
{
    (void)context;
    pthread_mutex_lock(&ring.lock);
    uint64_t oldest = ring.write > ring.capacity ? ring.write - ring.capacity : 0;
    uint64_t first = ring.write - oldest > limit ? ring.write - limit : oldest;
    roda_json_array_begin(json);
    for (uint64_t p = first; p < ring.write; p++)
        alert_json(p, json);
    roda_json_array_end(json);
    pthread_mutex_unlock(&ring.lock);
}

bool fake_alerts_init(uint64_t capacity)
{
    if (capacity == 0 || capacity > FAKE_ALERTS_MAX)
        return false;
    ring.capacity = capacity;
    double bounds[] = {0.0001, 0.0005, 0.001};
    return roda_histogram_init(&ring.latency, bounds, 3) == RODA_SUCCESS;
}

void fake_alerts_toggle_ready(void)
{
    pthread_mutex_lock(&ring.lock);
    ring.ready = !ring.ready;
    pthread_mutex_unlock(&ring.lock);
}

roda_histogram_t *fake_alerts_latency(void)
{
    return &ring.latency;
}
