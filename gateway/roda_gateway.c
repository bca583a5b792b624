/* roda_gateway.c - roda-gateway, the telemetry gateway daemon: config -> pipeline (ingest, state
 * and rules stages, alert journal) -> HTTP (metrics, SSE, sensors) and the MQTT alert topic.
 *
 *   roda-gateway -c FILE [--check-config | --probe] | --version | --help
 *
 * Start-up: load and check the config (every error as FILE:LINE: FIELD, exit 1 before binding
 * anything), log the memory plan, allocate everything, bind HTTP, start the alert publisher,
 * then the stages and the ingest. Signals are taken by sigwait in the main thread (blocked in
 * every other thread): SIGTERM/SIGINT stop (ingest, then drain the stages, flush the publisher,
 * stop HTTP, exit 0); SIGHUP reloads the file and applies the rules live on the rules stage,
 * keeping per-sensor state, or logs why it keeps the old configuration. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roda_config.h"
#include "roda_http.h"
#include "roda_http_probe.h"
#include "roda_input.h"
#include "roda_log.h"
#include "roda_output.h"
#include "roda_pipeline.h"

/* How long stop waits for the broker to acknowledge the last alerts. */
#define FLUSH_MS 5000u
/* How long a reload waits for the rules stage to take the new rules. */
#define RELOAD_WAIT_MS 5000u
/* How long --probe waits for /healthz. */
#define PROBE_TIMEOUT_MS 2000u

/* Two configurations (30 KiB each): the running one and a reload candidate. */
static roda_config_t current, candidate;

static void usage(FILE *out)
{
    fprintf(out, "usage: roda-gateway -c FILE [--check-config | --probe]\n"
                 "       roda-gateway --version | --help\n"
                 "  -c, --config FILE   configuration (INI; see deploy/roda-gateway.conf)\n"
                 "  --check-config      validate FILE, print the effective configuration and\n"
                 "                      the memory plan, exit 0 (valid) or 1 (errors)\n"
                 "  --probe             GET /healthz of the gateway FILE configures (https\n"
                 "                      with a TLS certificate; the container's HEALTHCHECK),\n"
                 "                      exit 0 (it answered 200) or 1\n"
                 "Signals: SIGTERM/SIGINT stop after draining; SIGHUP reloads the rules.\n");
}

/* The HTTP server's settings from the config (the strings stay in `c`). */
static void http_config(const roda_config_t *c, roda_http_config_t *hc)
{
    *hc = (roda_http_config_t){
        .bind = c->http.bind,
        .port = c->http.port,
        .max_connections = c->http.max_connections,
        .timeout_s = (uint32_t)(c->http.connection_timeout_ns / 1000000000ull),
        .max_sse_clients = c->limits.max_sse_clients,
        .sse_heartbeat_ms = (uint32_t)(c->http.sse_heartbeat_ns / 1000000ull),
        .request_memory = c->http.request_memory,
        .metrics_buffer =
            roda_metrics_buffer_size(c->limits.max_series, roda_config_window_gauges(c)),
        .security = {.cert_file = c->http.tls_cert_file,
                     .key_file = c->http.tls_key_file,
                     .client_ca_file = c->http.tls_client_ca_file,
                     .user_count = c->http.basic_auth_user_count},
    };
    for (uint32_t i = 0; i < c->http.basic_auth_user_count && i < RODA_HTTP_MAX_USERS; i++)
        hc->security.users[i] = c->http.basic_auth_users[i];
}

/* Loads `path` into `config`; on errors writes each as FILE:LINE: FIELD: MESSAGE to stderr
 * (check mode) or the log, and returns false. */
static bool load(const char *path, roda_config_t *config, bool to_stderr)
{
    static roda_config_errors_t errors;
    memset(&errors, 0, sizeof errors);
    if (roda_config_load(path, config, &errors) == RODA_SUCCESS) {
        char why[256];
        uint32_t input_count;
        const roda_input_class_t *const *inputs = roda_inputs(&input_count);
        roda_http_config_t hc;
        http_config(config, &hc);
        if (roda_pipeline_check(config, inputs, input_count, why, sizeof why) &&
            roda_outputs_check(config, why, sizeof why) && roda_http_check(&hc, why, sizeof why))
            return true;
        if (to_stderr) {
            fprintf(stderr, "%s: %s\n", path, why);
        } else {
            char quoted[300];
            roda_log(RODA_LOG_ERROR, "config error", "file=%s error=%s hint=\"%s\"", path,
                     roda_log_quote(quoted, sizeof quoted, why),
                     "fix the field, then check the file with roda-gateway -c FILE "
                     "--check-config");
        }
        return false;
    }
    if (to_stderr) {
        char line[RODA_CONFIG_PATH_MAX + 512];
        for (uint32_t i = 0; i < errors.count; i++)
            fprintf(stderr, "%s\n", roda_config_error_format(&errors.items[i], line, sizeof line));
        if (errors.total > errors.count)
            fprintf(stderr, "(%u more errors)\n", (unsigned)(errors.total - errors.count));
    } else {
        roda_config_log_errors(&errors);
    }
    return false;
}

static void log_memory_plan(const roda_config_t *config)
{
    roda_memory_plan_t plan;
    roda_config_memory_plan(config, &plan);
    for (uint32_t i = 0; i < plan.count; i++) {
        char detail[128];
        roda_log(RODA_LOG_INFO, "memory plan", "item=\"%s\" bytes=%" PRIu64 " detail=%s",
                 plan.items[i].name, plan.items[i].bytes,
                 roda_log_quote(detail, sizeof detail, plan.items[i].detail));
    }
    char largest[RODA_MEMORY_LARGEST_MAX], quoted[RODA_MEMORY_LARGEST_MAX + 16];
    roda_config_memory_largest(&plan, largest, sizeof largest);
    roda_log(RODA_LOG_INFO, "memory plan total", "bytes=%" PRIu64 " mib=%.1f largest=%s",
             plan.total, (double)plan.total / 1048576.0,
             roda_log_quote(quoted, sizeof quoted, largest));
}

/* SIGHUP: applies what can change live (rules, log level), or keeps everything. */
static void reload(const char *path, roda_pipeline_t *pipeline)
{
    roda_log(RODA_LOG_INFO, "reloading config", "file=%s", path);
    if (!load(path, &candidate, false)) {
        roda_log(RODA_LOG_ERROR, "reload refused", "file=%s hint=\"%s\"", path,
                 "fix the errors above (roda-gateway --check-config); the running config stays");
        return;
    }
    char field[96];
    if (!roda_config_reload_check(&current, &candidate, field, sizeof field)) {
        roda_log(RODA_LOG_WARN, "reload needs restart", "file=%s field=%s hint=\"%s\"", path, field,
                 "only rules and gateway.log_level apply live; restart to apply this change; "
                 "the running config stays");
        return;
    }
    uint64_t dropped = 0;
    roda_result_t r = roda_pipeline_reload_rules(pipeline, &candidate, RELOAD_WAIT_MS, &dropped);
    if (r != RODA_SUCCESS) {
        roda_log(RODA_LOG_ERROR, "reload refused", "file=%s error=%s hint=\"%s\"", path,
                 roda_result_str(r),
                 "the rules stage kept the running rules; check the rules (a reload adds no "
                 "window and no device rule beyond those at start: restart for those)");
        return;
    }
    roda_log_set_level(candidate.log_level);
    memcpy(current.rules, candidate.rules, sizeof current.rules);
    current.rule_count = candidate.rule_count;
    current.log_level = candidate.log_level;
    roda_log(RODA_LOG_INFO, "config reloaded", "file=%s rules=%u dropped_active=%" PRIu64, path,
             (unsigned)current.rule_count, dropped);
}

typedef struct gateway {
    roda_pipeline_t *pipeline;
    roda_http_t *http;
    roda_output_set_t outputs;
} gateway_t;

static void gateway_destroy(gateway_t *g)
{
    roda_http_destroy(g->http);
    roda_output_set_destroy(&g->outputs);
    roda_pipeline_destroy(g->pipeline);
}

/* The pipeline with the registered inputs, the HTTP server, then the registered outputs (which
 * attach their endpoints to it). */
static roda_result_t gateway_create(const roda_config_t *c, gateway_t *g)
{
    uint32_t input_count, output_count;
    const roda_input_class_t *const *inputs = roda_inputs(&input_count);
    const roda_output_class_t *const *outputs = roda_outputs(&output_count);
    roda_result_t r = roda_pipeline_create(c, inputs, input_count, &g->pipeline);
    if (r != RODA_SUCCESS)
        return r;
    roda_http_config_t hc;
    http_config(c, &hc);
    roda_http_providers_t providers = {g->pipeline, roda_pipeline_ready, roda_pipeline_sensor_json};
    r = roda_http_create(&hc, &providers, &g->http);
    if (r == RODA_SUCCESS)
        r = roda_http_add_metrics(g->http, roda_pipeline_metrics, g->pipeline);
    if (r == RODA_SUCCESS)
        r = roda_pipeline_serve_api(g->pipeline, g->http);
    if (r != RODA_SUCCESS)
        return r;
    roda_output_context_t oc = {c, roda_pipeline_alert_journal(g->pipeline),
                                roda_pipeline_names(g->pipeline), g->http};
    return roda_output_set_create(&g->outputs, outputs, output_count, &oc);
}

static int run(const char *path)
{
    roda_log_set_level(current.log_level);
    roda_log(RODA_LOG_INFO, "starting", "version=%s config=%s", RODA_VERSION, path);
    log_memory_plan(&current);

    /* Every thread created from here on inherits the blocked set: only sigwait sees them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    gateway_t g = {0};
    roda_result_t r = gateway_create(&current, &g);
    if (r == RODA_SUCCESS)
        r = roda_http_start(g.http);
    if (r == RODA_SUCCESS)
        r = roda_output_set_start(&g.outputs);
    if (r == RODA_SUCCESS)
        r = roda_pipeline_start(g.pipeline);
    if (r != RODA_SUCCESS) {
        roda_log(RODA_LOG_ERROR, "start failed", "error=%s hint=\"%s\"", roda_result_str(r),
                 "see the error above; nothing keeps running");
        gateway_destroy(&g);
        return 1;
    }
    char inputs[256];
    roda_ingest_describe(roda_pipeline_ingest(g.pipeline), inputs, sizeof inputs);
    roda_log(RODA_LOG_INFO, "started", "http_port=%u %s alert_topic=%s rules=%u placement=%s",
             (unsigned)roda_http_port(g.http), inputs,
             current.mqtt.enabled && current.mqtt.alert_topic[0] != '\0' ? current.mqtt.alert_topic
                                                                         : "-",
             (unsigned)current.rule_count,
             current.placement == RODA_STAGES_FUSED ? "fused" : "pipelined");

    for (;;) {
        /* Between signals, the periodic snapshots (journal.directory). */
        uint32_t wait_ms = roda_pipeline_checkpoint(g.pipeline);
        struct timespec wait = {wait_ms / 1000u, (long)(wait_ms % 1000u) * 1000000L};
        int sig = sigtimedwait(&signals, NULL, wait_ms == UINT32_MAX ? NULL : &wait);
        if (sig < 0)
            continue;
        if (sig == SIGHUP) {
            reload(path, g.pipeline);
            continue;
        }
        roda_log(RODA_LOG_INFO, "stopping", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    roda_pipeline_stop(g.pipeline);
    roda_output_set_stop(&g.outputs, FLUSH_MS);
    roda_http_stop(g.http);
    roda_pipeline_totals_t t;
    roda_pipeline_totals(g.pipeline, &t);
    char outputs[256];
    roda_output_set_totals(&g.outputs, outputs, sizeof outputs);
    roda_log(RODA_LOG_INFO, "stopped",
             "readings_accepted=%" PRIu64 " state_consumed=%" PRIu64 " summaries=%" PRIu64
             " sensors_refused=%" PRIu64 " sensors_evicted=%" PRIu64 " rules_consumed=%" PRIu64
             " alerts=%" PRIu64 " devices_baselined=%" PRIu64 " unseen_before_start=%" PRIu64 " %s",
             t.readings_accepted, t.state_consumed, t.summaries, t.sensors_refused,
             t.sensors_evicted, t.rules_consumed, t.alerts, t.devices_baselined,
             t.unseen_before_start, outputs);
    gateway_destroy(&g);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, 0, 'c'}, {"check-config", no_argument, 0, 'k'},
        {"probe", no_argument, 0, 'p'},        {"version", no_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *path = NULL;
    bool check = false, probe = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'k':
            check = true;
            break;
        case 'p':
            probe = true;
            break;
        case 'V':
            printf("roda-gateway %s\n", RODA_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL || optind != argc || (check && probe)) {
        usage(stderr);
        return 2;
    }
    if (!load(path, &current, check || probe)) {
        if (!check && !probe)
            roda_log(RODA_LOG_ERROR, "config invalid", "file=%s hint=\"%s\"", path,
                     "fix the errors above; roda-gateway -c FILE --check-config lists them");
        return 1;
    }
    if (check) {
        roda_config_print(&current, stdout);
        return 0;
    }
    if (probe) {
        char why[300];
        bool ok = roda_http_probe(current.http.bind, current.http.port,
                                  current.http.tls_cert_file[0] != '\0', PROBE_TIMEOUT_MS, why,
                                  sizeof why);
        if (!ok)
            fprintf(stderr, "roda-gateway --probe: %s\n", why);
        return ok ? 0 : 1;
    }
    return run(path);
}
