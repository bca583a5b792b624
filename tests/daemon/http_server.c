/* http_server.c - a roda_http server over fake providers, for the real-process HTTP tests
 * (test_http.sh): an in-memory alert ring as the SSE source, canned sensors, metrics with awkward
 * label values.
 *
 *   http_server [--ring N] [--events N] [--sse-clients N] [--heartbeat-ms N]
 *               [--max-connections N] [--timeout-s N]
 *
 * Prints "port=<port>" once listening on 127.0.0.1 (a free port). Signals: SIGUSR1 appends one
 * alert, SIGUSR2 toggles readiness, SIGTERM/SIGINT stop the server and exit 0. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_http.h"
#include "roda_rules.h"
#include "roda_summary.h"

#define RING_MAX 1024

/* The fake alert journal: the last `capacity` alerts of an append-only sequence. */
typedef struct ring {
    pthread_mutex_t lock;
    pthread_cond_t appended;
    uint64_t capacity;
    uint64_t write; /* position of the next alert */
    roda_alert_t alerts[RING_MAX];
    bool ready;
    roda_histogram_t latency;
} ring_t;

static ring_t ring = {
    .lock = PTHREAD_MUTEX_INITIALIZER, .appended = PTHREAD_COND_INITIALIZER, .ready = true};

static const char *const rule_names[] = {"hot", "cold"};
static const char *const device_names[] = {"pump-1", "boiler-2"};

static void append(void)
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
    roda_alert_json(a, position, rule_names[a->rule], device_names[a->device], json);
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

static const roda_sse_source_t source = {NULL, source_open, source_next, source_wait, source_close};

static bool ready(void *context, char *reason, size_t size)
{
    (void)context;
    pthread_mutex_lock(&ring.lock);
    bool ok = ring.ready;
    pthread_mutex_unlock(&ring.lock);
    if (!ok)
        snprintf(reason, size, "mqtt broker not connected");
    return ok;
}

static bool sensor(void *context, uint64_t id, roda_json_t *json)
{
    (void)context;
    if (id != 42)
        return false;
    roda_reading_t r = {.sensor_id = 42, .value = 21.5, .device_time_us = 1000, .device = 0};
    roda_summary_t s;
    roda_summary_init(&s, &r);
    roda_summary_json(&s, device_names[0], json);
    return true;
}

static void recent(void *context, uint32_t limit, roda_json_t *json)
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

static void metrics(void *context, roda_metrics_t *m)
{
    (void)context;
    roda_metrics_family(m, "roda_ingest_readings_total", RODA_METRIC_COUNTER,
                        "Readings accepted into the input journal, by input.");
    roda_metrics_label_t input[] = {{"input", "udp"}};
    roda_metrics_u64(m, input, 1, 1234);
    roda_metrics_family(m, "roda_alert_latency_seconds", RODA_METRIC_HISTOGRAM,
                        "Ingest-to-alert latency.");
    roda_metrics_histogram(m, NULL, 0, &ring.latency);
    roda_summary_metrics_family(m, 2);
    static const char *const devices[] = {"plain", "quo\"te", "back\\slash", "over-the-cap"};
    for (int i = 0; i < 4; i++) {
        roda_reading_t r = {.sensor_id = (uint64_t)i, .value = i * 1.5};
        roda_summary_t s;
        roda_summary_init(&s, &r);
        roda_summary_metrics(&s, devices[i], m);
    }
}

static uint32_t arg(int argc, char **argv, const char *name, uint32_t fallback)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0)
            return (uint32_t)strtoul(argv[i + 1], NULL, 10);
    }
    return fallback;
}

int main(int argc, char **argv)
{
    ring.capacity = arg(argc, argv, "--ring", 8);
    if (ring.capacity == 0 || ring.capacity > RING_MAX) {
        fprintf(stderr, "--ring must be 1..%d\n", RING_MAX);
        return 2;
    }
    double bounds[] = {0.0001, 0.0005, 0.001};
    roda_histogram_init(&ring.latency, bounds, 3);
    for (uint32_t i = arg(argc, argv, "--events", 0); i > 0; i--)
        append();

    /* Signals are taken by sigwait below; every thread inherits the blocked mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    roda_http_config_t config = {
        .bind = "127.0.0.1",
        .port = 0,
        .max_connections = arg(argc, argv, "--max-connections", 32),
        .timeout_s = arg(argc, argv, "--timeout-s", 5),
        .max_sse_clients = arg(argc, argv, "--sse-clients", 4),
        .sse_heartbeat_ms = arg(argc, argv, "--heartbeat-ms", 1000),
        .recent_max = 100,
        .request_memory = 16384,
        .metrics_buffer = roda_metrics_buffer_size(2),
    };
    roda_http_providers_t providers = {NULL, ready, sensor, recent, &source};
    roda_http_t *http;
    roda_result_t result = roda_http_create(&config, &providers, &http);
    if (result == RODA_SUCCESS)
        result = roda_http_add_metrics(http, metrics, NULL);
    if (result == RODA_SUCCESS)
        result = roda_http_start(http);
    if (result != RODA_SUCCESS) {
        fprintf(stderr, "http_server: %s\n", roda_result_str(result));
        return 1;
    }
    printf("port=%u\n", (unsigned)roda_http_port(http));
    fflush(stdout);
    for (;;) {
        int sig;
        if (sigwait(&signals, &sig) != 0)
            continue;
        if (sig == SIGUSR1) {
            append();
        } else if (sig == SIGUSR2) {
            pthread_mutex_lock(&ring.lock);
            ring.ready = !ring.ready;
            pthread_mutex_unlock(&ring.lock);
        } else {
            break;
        }
    }
    roda_http_destroy(http);
    return 0;
}
