/* http_server.c - a roda_http server over fake providers, for the real-process HTTP tests
 * (test_http.sh): an in-memory alert ring as the SSE source, canned sensors, metrics with awkward
 * label values.
 *
 *   http_server [--ring N] [--events N] [--sse-clients N] [--heartbeat-ms N]
 *               [--max-connections N] [--timeout-s N]
 *
 * Prints "port=<port>" once listening on 127.0.0.1 (a free port). Signals: SIGUSR1 appends one
 * alert, SIGUSR2 toggles readiness, SIGTERM/SIGINT stop the server and exit 0. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_alerts.h"
#include "roda_http.h"
#include "roda_summary.h"

static bool sensor(void *context, uint64_t id, roda_json_t *json)
{
    (void)context;
    if (id != 42)
        return false;
    roda_reading_t r = {.sensor_id = 42, .value = 21.5, .device_time_us = 1000, .device = 0};
    roda_summary_t s;
    roda_summary_init(&s, &r);
    roda_json_object_begin(json);
    roda_summary_json(&s, "pump-1", NULL, "udp", json);
    roda_json_object_end(json);
    return true;
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
    roda_metrics_histogram(m, NULL, 0, fake_alerts_latency());
    roda_summary_metrics_family(m, 2);
    static const char *const devices[] = {"plain", "quo\"te", "back\\slash", "over-the-cap"};
    for (int i = 0; i < 4; i++) {
        roda_reading_t r = {.sensor_id = (uint64_t)i, .value = i * 1.5};
        roda_summary_t s;
        roda_summary_init(&s, &r);
        roda_summary_metrics(&s, devices[i], NULL, m);
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
    if (!fake_alerts_init(arg(argc, argv, "--ring", 8))) {
        fprintf(stderr, "--ring must be 1..%d\n", FAKE_ALERTS_MAX);
        return 2;
    }
    for (uint32_t i = arg(argc, argv, "--events", 0); i > 0; i--)
        fake_alerts_append();

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
        .request_memory = 16384,
        .metrics_buffer = roda_metrics_buffer_size(2, 0),
    };
    roda_http_providers_t providers = {NULL, fake_alerts_ready, sensor};
    roda_http_t *http;
    roda_result_t result = roda_http_create(&config, &providers, &http);
    if (result == RODA_SUCCESS)
        result = roda_http_set_alerts(http, &fake_alerts_source);
    if (result == RODA_SUCCESS)
        result = roda_http_set_recent(http, fake_alerts_recent, NULL, 100);
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
            fake_alerts_append();
        } else if (sig == SIGUSR2) {
            fake_alerts_toggle_ready();
        } else {
            break;
        }
    }
    roda_http_destroy(http);
    return 0;
}
