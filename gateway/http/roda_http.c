/* roda_http.c - libmicrohttpd server: routing, providers, Prometheus endpoint and SSE streams
 * (see roda_http.h). */
#include "roda_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roda_idle.h"
#include "roda_log.h"
#include "roda_page.h"

/* Longest wait inside one SSE read, so a stopping server ends streams promptly. */
#define SSE_POLL_MS 100u
#define SSE_CONTENT_TYPE "text/event-stream"
/* libmicrohttpd's messages (e.g. one per refused connection) are written once per interval at
 * most; the lines left out are counted into the next one. */
#define MHD_LOG_INTERVAL_MS 10000u

typedef struct sse_client {
    roda_http_t *http;
    bool in_use; /* guarded by http->clients_lock */
    void *cursor;
    int socket; /* the client's connection, watched for its close between frames */
    char rule[RODA_SSE_NAME_MAX];
    char severity[RODA_SSE_NAME_MAX];
    char device[RODA_SSE_NAME_MAX];
    uint64_t last_sent_ns;
    size_t pending_len; /* frame bytes not yet handed to MHD */
    size_t pending_off;
    char frame[RODA_HTTP_SSE_FRAME_MAX];
    roda_sse_event_t event;
} sse_client_t;

_Static_assert(sizeof(sse_client_t) <= RODA_HTTP_SSE_CLIENT_BYTES,
               "RODA_HTTP_SSE_CLIENT_BYTES covers one client");

typedef struct json_route {
    const char *path;
    roda_http_json_fn fn;
    void *context;
} json_route_t;

struct roda_http_request {
    struct MHD_Connection *connection;
};

typedef struct metrics_provider {
    roda_http_metrics_fn fn;
    void *context;
} metrics_provider_t;

struct roda_http {
    roda_http_config_t config;
    roda_http_security_t security;
    char bind[INET6_ADDRSTRLEN];
    roda_http_providers_t providers;
    const roda_sse_source_t *alerts; /* NULL: /alerts answers 503 */
    struct {
        roda_http_recent_fn fn; /* NULL: /alerts/recent is an empty array */
        void *context;
        uint32_t max;
    } recent;
    metrics_provider_t metrics_providers[RODA_HTTP_MAX_METRICS_PROVIDERS];
    uint32_t metrics_provider_count;
    json_route_t json_routes[RODA_HTTP_MAX_JSON_ROUTES];
    uint32_t json_route_count;
    struct sockaddr_storage address;
    bool ipv6;
    struct MHD_Daemon *daemon;
    uint16_t port;
    _Atomic int stopping;

    roda_log_limiter_t mhd_log_limiter; /* MHD_LOG_INTERVAL_MS */

    pthread_mutex_t metrics_lock; /* one scrape at a time in `metrics` */
    roda_metrics_t metrics;

    pthread_mutex_t clients_lock;
    sse_client_t *clients; /* [max_sse_clients] */

    _Atomic uint64_t requests;
    _Atomic uint64_t responses[3]; /* 2xx (and 1xx/3xx), 4xx, 5xx */
    _Atomic uint64_t sse_clients;
    _Atomic uint64_t sse_rejected;
    _Atomic uint64_t sse_events;
    _Atomic uint64_t sse_gaps;
    _Atomic uint64_t sse_missed;
};

/* ---- Responses ----------------------------------------------------------------------------- */

static enum MHD_Result queue(roda_http_t *http, struct MHD_Connection *connection,
                             unsigned int status, const char *type, const char *body, size_t len,
                             struct MHD_Response *response)
{
    if (response == NULL)
        response = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    int klass = status >= 500 ? 2 : status >= 400 ? 1 : 0;
    atomic_fetch_add_explicit(&http->responses[klass], 1, memory_order_relaxed);
    return result;
}

static enum MHD_Result text(roda_http_t *http, struct MHD_Connection *connection,
                            unsigned int status, const char *body)
{
    return queue(http, connection, status, "text/plain; charset=utf-8", body, strlen(body), NULL);
}

/* 401 with the Basic challenge: the same answer for a wrong name and a wrong password. */
static enum MHD_Result unauthorized(roda_http_t *http, struct MHD_Connection *connection)
{
    static const char body[] = "authentication required\n";
    struct MHD_Response *response =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (response == NULL)
        return MHD_NO;
    enum MHD_Result result = MHD_queue_basic_auth_fail_response(connection, "roda", response);
    MHD_destroy_response(response);
    atomic_fetch_add_explicit(&http->responses[1], 1, memory_order_relaxed);
    return result;
}

static enum MHD_Result json_response(roda_http_t *http, struct MHD_Connection *connection,
                                     const roda_json_t *json)
{
    if (!roda_json_ok(json))
        return text(http, connection, MHD_HTTP_INTERNAL_SERVER_ERROR,
                    "response too large for the JSON buffer\n");
    return queue(http, connection, MHD_HTTP_OK, "application/json", json->buf, json->len, NULL);
}

/* ---- /metrics ------------------------------------------------------------------------------ */

/* Resident set size from /proc/self/statm (the second field, in pages); 0 if unreadable. */
static uint64_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (f == NULL)
        return 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static void own_metrics(roda_http_t *http, roda_metrics_t *m)
{
    roda_metrics_family(m, "roda_build_info", RODA_METRIC_GAUGE,
                        "Build of the running gateway (always 1).");
    roda_metrics_label_t version = {"version", RODA_VERSION};
    roda_metrics_u64(m, &version, 1, 1);
    roda_metrics_family(m, "roda_process_resident_memory_bytes", RODA_METRIC_GAUGE,
                        "Resident set size of the gateway process.");
    roda_metrics_u64(m, NULL, 0, resident_bytes());
    static const char *const classes[] = {"2xx", "4xx", "5xx"};
    roda_metrics_family(m, "roda_http_responses_total", RODA_METRIC_COUNTER,
                        "HTTP responses by status class.");
    for (int i = 0; i < 3; i++) {
        roda_metrics_label_t label = {"code", classes[i]};
        roda_metrics_u64(m, &label, 1,
                         atomic_load_explicit(&http->responses[i], memory_order_relaxed));
    }
    struct {
        const char *name;
        roda_metric_type_t type;
        const char *help;
        _Atomic uint64_t *value;
    } plain[] = {
        {"roda_sse_clients", RODA_METRIC_GAUGE, "Open /alerts streams.", &http->sse_clients},
        {"roda_sse_rejected_total", RODA_METRIC_COUNTER,
         "/alerts streams refused with 503 (max_sse_clients reached).", &http->sse_rejected},
        {"roda_sse_events_total", RODA_METRIC_COUNTER, "Alert events sent on /alerts streams.",
         &http->sse_events},
        {"roda_sse_gaps_total", RODA_METRIC_COUNTER,
         "Gap events sent to /alerts clients that fell behind the alert journal.", &http->sse_gaps},
        {"roda_sse_missed_events_total", RODA_METRIC_COUNTER,
         "Alert events that /alerts clients missed (reported in gap events).", &http->sse_missed},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        roda_metrics_family(m, plain[i].name, plain[i].type, plain[i].help);
        roda_metrics_u64(m, NULL, 0, atomic_load_explicit(plain[i].value, memory_order_relaxed));
    }
}

static enum MHD_Result serve_metrics(roda_http_t *http, struct MHD_Connection *connection)
{
    pthread_mutex_lock(&http->metrics_lock);
    roda_metrics_t *m = &http->metrics;
    roda_metrics_reset(m);
    for (uint32_t i = 0; i < http->metrics_provider_count; i++)
        http->metrics_providers[i].fn(http->metrics_providers[i].context, m);
    own_metrics(http, m);
    roda_metrics_finish(m);
    enum MHD_Result result =
        queue(http, connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", m->buf,
              m->len, NULL);
    pthread_mutex_unlock(&http->metrics_lock);
    return result;
}

/* ---- JSON endpoints ------------------------------------------------------------------------ */

/* Whole-string decimal u64. */
static bool parse_u64(const char *text, uint64_t *out)
{
    if (text == NULL || text[0] < '0' || text[0] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static enum MHD_Result serve_sensor(roda_http_t *http, struct MHD_Connection *connection,
                                    const char *id_text)
{
    uint64_t id;
    if (!parse_u64(id_text, &id))
        return text(http, connection, MHD_HTTP_BAD_REQUEST,
                    "bad sensor id: use /sensors/<decimal id>\n");
    char buf[RODA_HTTP_JSON_MAX];
    roda_json_t json;
    roda_json_init(&json, buf, sizeof buf);
    if (http->providers.sensor == NULL ||
        !http->providers.sensor(http->providers.context, id, &json))
        return text(http, connection, MHD_HTTP_NOT_FOUND, "unknown sensor\n");
    return json_response(http, connection, &json);
}

static enum MHD_Result serve_recent(roda_http_t *http, struct MHD_Connection *connection)
{
    const char *limit_text =
        MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "limit");
    uint32_t max = http->recent.fn != NULL ? http->recent.max : 1;
    uint64_t limit = max < 100 ? max : 100;
    if (limit_text != NULL && (!parse_u64(limit_text, &limit) || limit == 0 || limit > max)) {
        char body[96];
        snprintf(body, sizeof body, "bad limit: use ?limit=1..%" PRIu32 "\n", max);
        return text(http, connection, MHD_HTTP_BAD_REQUEST, body);
    }
    char buf[RODA_HTTP_JSON_MAX];
    roda_json_t json;
    roda_json_init(&json, buf, sizeof buf);
    if (http->recent.fn != NULL) {
        http->recent.fn(http->recent.context, (uint32_t)limit, &json);
    } else {
        roda_json_array_begin(&json);
        roda_json_array_end(&json);
    }
    return json_response(http, connection, &json);
}

const char *roda_http_arg(const roda_http_request_t *request, const char *key)
{
    return MHD_lookup_connection_value(request->connection, MHD_GET_ARGUMENT_KIND, key);
}

bool roda_http_arg_u64(const roda_http_request_t *request, const char *key, uint64_t fallback,
                       uint64_t min, uint64_t max, uint64_t *out, char *error, size_t size)
{
    const char *value = roda_http_arg(request, key);
    *out = fallback;
    if (value == NULL || (parse_u64(value, out) && *out >= min && *out <= max))
        return true;
    snprintf(error, size, "bad %s: use %" PRIu64 "..%" PRIu64, key, min, max);
    return false;
}

static enum MHD_Result serve_json_route(roda_http_t *http, struct MHD_Connection *connection,
                                        const json_route_t *route)
{
    char buf[RODA_HTTP_JSON_MAX];
    roda_json_t json;
    roda_json_init(&json, buf, sizeof buf);
    char error[256] = "";
    roda_http_request_t request = {connection};
    unsigned int status = route->fn(route->context, &request, &json, error, sizeof error);
    if (status == MHD_HTTP_OK)
        return json_response(http, connection, &json);
    char body[300];
    snprintf(body, sizeof body, "%s\n", error);
    return text(http, connection, status, body);
}

/* ---- The page ------------------------------------------------------------------------------ */

static enum MHD_Result serve_page(roda_http_t *http, struct MHD_Connection *connection,
                                  const roda_page_file_t *file)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(file->size, (void *)file->data, MHD_RESPMEM_PERSISTENT);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, "Content-Security-Policy", RODA_PAGE_CSP);
    MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(response, "X-Frame-Options", "DENY");
    return queue(http, connection, MHD_HTTP_OK, file->type, NULL, 0, response);
}

static enum MHD_Result serve_ready(roda_http_t *http, struct MHD_Connection *connection)
{
    char reason[256] = "";
    if (http->providers.ready == NULL ||
        http->providers.ready(http->providers.context, reason, sizeof reason))
        return text(http, connection, MHD_HTTP_OK, "ready\n");
    char body[300];
    snprintf(body, sizeof body, "not ready: %s\n", reason);
    return text(http, connection, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

/* ---- /alerts (SSE) ------------------------------------------------------------------------- */

static void release_client(sse_client_t *client)
{
    roda_http_t *http = client->http;
    pthread_mutex_lock(&http->clients_lock);
    client->in_use = false;
    pthread_mutex_unlock(&http->clients_lock);
}

static sse_client_t *acquire_client(roda_http_t *http)
{
    sse_client_t *found = NULL;
    pthread_mutex_lock(&http->clients_lock);
    for (uint32_t i = 0; i < http->config.max_sse_clients && found == NULL; i++) {
        if (!http->clients[i].in_use) {
            found = &http->clients[i];
            found->in_use = true;
        }
    }
    pthread_mutex_unlock(&http->clients_lock);
    return found;
}

/* Appends to the client's pending frame; false if it does not fit. */
__attribute__((format(printf, 2, 3))) static bool frame_printf(sse_client_t *client,
                                                               const char *format, ...)
{
    size_t room = sizeof client->frame - client->pending_len;
    va_list args;
    va_start(args, format);
    int n = vsnprintf(client->frame + client->pending_len, room, format, args);
    va_end(args);
    if (n < 0 || (size_t)n >= room)
        return false;
    client->pending_len += (size_t)n;
    return true;
}

static void frame_reset(sse_client_t *client)
{
    client->pending_len = 0;
    client->pending_off = 0;
}

static void frame_event(sse_client_t *client, const roda_sse_event_t *event)
{
    frame_reset(client);
    frame_printf(client, "id: %" PRIu64 "\nevent: alert\ndata: ", event->id);
    size_t len = event->data_len < RODA_SSE_DATA_MAX ? event->data_len : RODA_SSE_DATA_MAX;
    size_t room = sizeof client->frame - client->pending_len - 3; /* "\n\n" and the NUL */
    if (len > room)
        len = room;
    /* A data line cannot hold a line break; JSON from roda_json never has one. */
    for (size_t i = 0; i < len; i++) {
        char c = event->data[i];
        client->frame[client->pending_len++] = c == '\n' || c == '\r' ? ' ' : c;
    }
    frame_printf(client, "\n\n");
}

static bool filter_match(const sse_client_t *client, const roda_sse_event_t *event)
{
    return (client->rule[0] == '\0' || strcmp(client->rule, event->rule) == 0) &&
           (client->severity[0] == '\0' || strcmp(client->severity, event->severity) == 0) &&
           (client->device[0] == '\0' || fnmatch(client->device, event->device, 0) == 0);
}

/* True once the client closed its end (or its connection failed): between frames the server
 * writes nothing that would find out, so a closed client would keep its slot, thread and socket
 * until the second heartbeat after it left. */
static bool client_gone(int socket)
{
    struct pollfd watch = {.fd = socket, .events = POLLRDHUP};
    return poll(&watch, 1, 0) > 0 && (watch.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_client_t *client = cls;
    roda_http_t *http = client->http;
    const roda_sse_source_t *source = http->alerts;
    uint64_t heartbeat_ns = (uint64_t)http->config.sse_heartbeat_ms * 1000000ull;
    for (;;) {
        if (client->pending_off < client->pending_len) {
            size_t n = client->pending_len - client->pending_off;
            if (n > max)
                n = max;
            memcpy(buf, client->frame + client->pending_off, n);
            client->pending_off += n;
            client->last_sent_ns = roda_now_ns();
            return (ssize_t)n;
        }
        if (atomic_load_explicit(&http->stopping, memory_order_acquire))
            return MHD_CONTENT_READER_END_OF_STREAM;
        roda_sse_event_t *event = &client->event;
        switch (source->next(source->context, client->cursor, event)) {
        case RODA_SSE_EVENT:
            if (filter_match(client, event)) {
                frame_event(client, event);
                atomic_fetch_add_explicit(&http->sse_events, 1, memory_order_relaxed);
            }
            break;
        case RODA_SSE_GAP:
            frame_reset(client);
            if (event->id > 0)
                frame_printf(client, "id: %" PRIu64 "\n", event->id - 1);
            frame_printf(client,
                         "event: gap\ndata: {\"missed\":%" PRIu64 ",\"next_id\":%" PRIu64 "}\n\n",
                         event->missed, event->id);
            atomic_fetch_add_explicit(&http->sse_gaps, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&http->sse_missed, event->missed, memory_order_relaxed);
            break;
        case RODA_SSE_END:
            return MHD_CONTENT_READER_END_OF_STREAM;
        case RODA_SSE_NONE: {
            if (client_gone(client->socket))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            uint64_t idle = roda_now_ns() - client->last_sent_ns;
            if (idle >= heartbeat_ns) {
                frame_reset(client);
                frame_printf(client, ": heartbeat\n\n");
                break;
            }
            uint64_t left_ms = (heartbeat_ns - idle) / 1000000ull + 1;
            source->wait(source->context, client->cursor,
                         left_ms < SSE_POLL_MS ? (uint32_t)left_ms : SSE_POLL_MS);
            break;
        }
        }
    }
}

static void sse_free(void *cls)
{
    sse_client_t *client = cls;
    roda_http_t *http = client->http;
    const roda_sse_source_t *source = http->alerts;
    source->close(source->context, client->cursor);
    atomic_fetch_sub_explicit(&http->sse_clients, 1, memory_order_relaxed);
    release_client(client);
}

/* Copies a query filter; false if it is too long. */
static bool copy_filter(struct MHD_Connection *connection, const char *key, char *out, size_t size)
{
    const char *value = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, key);
    if (value == NULL) {
        out[0] = '\0';
        return true;
    }
    if (strlen(value) >= size)
        return false;
    snprintf(out, size, "%s", value);
    return true;
}

static enum MHD_Result serve_alerts(roda_http_t *http, struct MHD_Connection *connection,
                                    const char *method)
{
    const roda_sse_source_t *source = http->alerts;
    if (source == NULL)
        return text(http, connection, MHD_HTTP_SERVICE_UNAVAILABLE, "no alert stream\n");
    const char *last = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Last-Event-ID");
    if (last == NULL)
        last = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "last_event_id");
    uint64_t last_id = 0;
    if (last != NULL && !parse_u64(last, &last_id))
        return text(http, connection, MHD_HTTP_BAD_REQUEST,
                    "bad Last-Event-ID: use the decimal id of the last event received\n");
    /* HEAD: the stream's headers only. libmicrohttpd would still send a chunked stream's
     * terminating chunk, and a stream would hold a client slot. */
    if (strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
        return queue(http, connection, MHD_HTTP_OK, SSE_CONTENT_TYPE, "", 0, NULL);
    sse_client_t *client = acquire_client(http);
    if (client == NULL) {
        atomic_fetch_add_explicit(&http->sse_rejected, 1, memory_order_relaxed);
        return text(http, connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                    "too many /alerts clients (limits.max_sse_clients); retry later\n");
    }
    if (!copy_filter(connection, "rule", client->rule, sizeof client->rule) ||
        !copy_filter(connection, "severity", client->severity, sizeof client->severity) ||
        !copy_filter(connection, "device", client->device, sizeof client->device)) {
        release_client(client);
        return text(http, connection, MHD_HTTP_BAD_REQUEST, "filter value too long\n");
    }
    if (source->open(source->context, last != NULL, last_id, &client->cursor) != RODA_SUCCESS) {
        release_client(client);
        atomic_fetch_add_explicit(&http->sse_rejected, 1, memory_order_relaxed);
        return text(http, connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                    "no alert reader free; retry later\n");
    }
    atomic_fetch_add_explicit(&http->sse_clients, 1, memory_order_relaxed);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    client->socket = info != NULL ? info->connect_fd : -1; /* -1: poll ignores it */
    client->last_sent_ns = roda_now_ns();
    frame_reset(client);
    frame_printf(client, "retry: 2000\n\n");
    struct MHD_Response *response =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, sse_read, client, sse_free);
    if (response == NULL) {
        sse_free(client);
        return MHD_NO;
    }
    MHD_add_response_header(response, "X-Accel-Buffering", "no");
    return queue(http, connection, MHD_HTTP_OK, SSE_CONTENT_TYPE, NULL, 0, response);
}

/* ---- Routing ------------------------------------------------------------------------------- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *connection, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **request)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)request;
    roda_http_t *http = cls;
    atomic_fetch_add_explicit(&http->requests, 1, memory_order_relaxed);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return text(http, connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/healthz") == 0)
        return text(http, connection, MHD_HTTP_OK, "ok\n");
    switch (roda_http_security_admit(&http->security, connection)) {
    case RODA_HTTP_ADMITTED:
        break;
    case RODA_HTTP_NO_CLIENT_CERTIFICATE:
        return text(http, connection, MHD_HTTP_FORBIDDEN,
                    "a client certificate signed by the configured CA is required\n");
    case RODA_HTTP_UNAUTHORIZED:
        return unauthorized(http, connection);
    }
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(http, connection);
    if (strcmp(url, "/readyz") == 0)
        return serve_ready(http, connection);
    if (strcmp(url, "/alerts") == 0)
        return serve_alerts(http, connection, method);
    if (strcmp(url, "/alerts/recent") == 0)
        return serve_recent(http, connection);
    if (strncmp(url, "/sensors/", 9) == 0)
        return serve_sensor(http, connection, url + 9);
    for (uint32_t i = 0; i < http->json_route_count; i++)
        if (strcmp(url, http->json_routes[i].path) == 0)
            return serve_json_route(http, connection, &http->json_routes[i]);
    const roda_page_file_t *file = roda_page_find(url);
    if (file != NULL)
        return serve_page(http, connection, file);
    return text(http, connection, MHD_HTTP_NOT_FOUND,
                "not found: try /, /metrics, /healthz, /readyz, /alerts, /alerts/recent, "
                "/sensors/<id>, /api/summary, /api/devices, /api/sensors, /api/alerts\n");
}

static void mhd_log(void *cls, const char *format, va_list args)
{
    roda_http_t *http = cls;
    uint64_t suppressed;
    if (!roda_log_limiter_allow(&http->mhd_log_limiter, roda_now_ns(), &suppressed))
        return;
    char message[256];
    char quoted[300];
    vsnprintf(message, sizeof message, format, args);
    size_t n = strlen(message);
    while (n > 0 && message[n - 1] == '\n')
        message[--n] = '\0';
    roda_log(RODA_LOG_WARN, "http server", "detail=%s suppressed=%llu",
             roda_log_quote(quoted, sizeof quoted, message), (unsigned long long)suppressed);
}

/* ---- Life cycle ---------------------------------------------------------------------------- */

/* Responses are copied by libmicrohttpd (MHD_RESPMEM_MUST_COPY) in the connection's thread; a
 * /metrics body is megabytes. glibc raises its mmap threshold after freeing a mapped block, so
 * later copies would come from the threads' arenas and stay resident after they are freed: RSS
 * would grow with the series a scrape carries. A fixed threshold keeps large copies mapped and
 * returned at free (process-wide; set once). */
#define MMAP_THRESHOLD_BYTES (128 * 1024)

bool roda_http_check(const roda_http_config_t *config, char *why, size_t size)
{
    roda_http_security_t security;
    if (roda_http_security_load(&config->security, &security, why, size) != RODA_SUCCESS)
        return false;
    roda_http_security_free(&security);
    return true;
}

roda_result_t roda_http_create(const roda_http_config_t *config,
                               const roda_http_providers_t *providers, roda_http_t **out)
{
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    *out = NULL;
    if (config->bind == NULL || config->max_connections == 0 || config->timeout_s == 0 ||
        config->max_sse_clients == 0 || config->sse_heartbeat_ms == 0 ||
        config->request_memory < 4096)
        return RODA_ERROR_INVALID_ARG;
    roda_http_t *http = calloc(1, sizeof *http);
    if (http == NULL)
        return RODA_ERROR_NOMEM;
    http->config = *config;
    http->providers = *providers;
    roda_log_limiter_init(&http->mhd_log_limiter, MHD_LOG_INTERVAL_MS * 1000000ull);
    snprintf(http->bind, sizeof http->bind, "%s", config->bind);
    http->config.bind = http->bind;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&http->address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&http->address;
    if (inet_pton(AF_INET, config->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(config->port);
    } else if (inet_pton(AF_INET6, config->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(config->port);
        http->ipv6 = true;
    } else {
        free(http);
        return RODA_ERROR_INVALID_ARG;
    }
    char why[256], quoted[300];
    roda_result_t result =
        roda_http_security_load(&config->security, &http->security, why, sizeof why);
    if (result != RODA_SUCCESS) {
        roda_log(RODA_LOG_ERROR, "http security not loaded", "error=%s hint=\"%s\"",
                 roda_log_quote(quoted, sizeof quoted, why),
                 "fix the file or user named; roda-gateway --check-config checks them");
        free(http);
        return result;
    }
    result = roda_metrics_init(&http->metrics, config->metrics_buffer);
    if (result != RODA_SUCCESS) {
        roda_http_security_free(&http->security);
        free(http);
        return result;
    }
    http->clients = calloc(config->max_sse_clients, sizeof *http->clients);
    if (http->clients == NULL) {
        roda_http_security_free(&http->security);
        roda_metrics_destroy(&http->metrics);
        free(http);
        return RODA_ERROR_NOMEM;
    }
    for (uint32_t i = 0; i < config->max_sse_clients; i++)
        http->clients[i].http = http;
    pthread_mutex_init(&http->metrics_lock, NULL);
    pthread_mutex_init(&http->clients_lock, NULL);
    *out = http;
    return RODA_SUCCESS;
}

roda_result_t roda_http_set_alerts(roda_http_t *http, const roda_sse_source_t *source)
{
    if (source == NULL || source->open == NULL || source->next == NULL || source->wait == NULL ||
        source->close == NULL)
        return RODA_ERROR_INVALID_ARG;
    if (http->daemon != NULL)
        return RODA_ERROR_STATE;
    http->alerts = source;
    return RODA_SUCCESS;
}

roda_result_t roda_http_set_recent(roda_http_t *http, roda_http_recent_fn fn, void *context,
                                   uint32_t max)
{
    if (fn == NULL || max == 0)
        return RODA_ERROR_INVALID_ARG;
    if (http->daemon != NULL)
        return RODA_ERROR_STATE;
    http->recent.fn = fn;
    http->recent.context = context;
    http->recent.max = max;
    return RODA_SUCCESS;
}

roda_result_t roda_http_add_json(roda_http_t *http, const char *path, roda_http_json_fn fn,
                                 void *context)
{
    if (path == NULL || fn == NULL)
        return RODA_ERROR_INVALID_ARG;
    if (http->daemon != NULL)
        return RODA_ERROR_STATE;
    if (http->json_route_count == RODA_HTTP_MAX_JSON_ROUTES)
        return RODA_ERROR_TOO_MANY;
    http->json_routes[http->json_route_count++] = (json_route_t){path, fn, context};
    return RODA_SUCCESS;
}

roda_result_t roda_http_add_metrics(roda_http_t *http, roda_http_metrics_fn fn, void *context)
{
    if (fn == NULL || http->daemon != NULL)
        return RODA_ERROR_INVALID_ARG;
    if (http->metrics_provider_count == RODA_HTTP_MAX_METRICS_PROVIDERS)
        return RODA_ERROR_TOO_MANY;
    http->metrics_providers[http->metrics_provider_count++] = (metrics_provider_t){fn, context};
    return RODA_SUCCESS;
}

roda_result_t roda_http_start(roda_http_t *http)
{
    if (http->daemon != NULL)
        return RODA_ERROR_STATE;
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (http->ipv6)
        flags |= MHD_USE_IPv6;
    unsigned int per_ip = http->config.max_connections / 2;
    atomic_store(&http->stopping, 0);
    /* HTTPS: the PEM texts read at create; a client CA makes GnuTLS ask for certificates. */
    struct MHD_OptionItem tls[4] = {{MHD_OPTION_END, 0, NULL}};
    uint32_t n = 0;
    if (http->security.cert_pem != NULL) {
        flags |= MHD_USE_TLS;
        tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, http->security.cert_pem};
        tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, http->security.key_pem};
        if (http->security.client_ca_pem != NULL)
            tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                               http->security.client_ca_pem};
    }
    tls[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* The logger goes first so that every MHD message takes the log's key=value shape. */
    http->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, http, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, http,
        MHD_OPTION_SOCK_ADDR, &http->address, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)http->config.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        per_ip > 0 ? per_ip : 1u, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)http->config.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        http->config.request_memory, MHD_OPTION_THREAD_STACK_SIZE, (size_t)RODA_HTTP_THREAD_STACK,
        MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (http->daemon == NULL) {
        char bind[64];
        roda_log(RODA_LOG_ERROR, "http bind failed",
                 "bind=%s port=%u hint=\"check http.bind and http.port: the address must be "
                 "local and the port free\"",
                 roda_log_quote(bind, sizeof bind, http->bind), (unsigned)http->config.port);
        return RODA_ERROR_SYSTEM;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    http->port = info != NULL ? info->port : http->config.port;
    return RODA_SUCCESS;
}

uint16_t roda_http_port(const roda_http_t *http)
{
    return http->port;
}

void roda_http_stop(roda_http_t *http)
{
    if (http->daemon == NULL)
        return;
    atomic_store_explicit(&http->stopping, 1, memory_order_release);
    MHD_stop_daemon(http->daemon);
    http->daemon = NULL;
}

void roda_http_destroy(roda_http_t *http)
{
    if (http == NULL)
        return;
    roda_http_stop(http);
    pthread_mutex_destroy(&http->metrics_lock);
    pthread_mutex_destroy(&http->clients_lock);
    roda_metrics_destroy(&http->metrics);
    roda_http_security_free(&http->security);
    free(http->clients);
    free(http);
}

void roda_http_stats(const roda_http_t *http, roda_http_stats_t *stats)
{
    stats->requests = atomic_load_explicit(&http->requests, memory_order_relaxed);
    stats->responses_2xx = atomic_load_explicit(&http->responses[0], memory_order_relaxed);
    stats->responses_4xx = atomic_load_explicit(&http->responses[1], memory_order_relaxed);
    stats->responses_5xx = atomic_load_explicit(&http->responses[2], memory_order_relaxed);
    stats->sse_clients = atomic_load_explicit(&http->sse_clients, memory_order_relaxed);
    stats->sse_rejected = atomic_load_explicit(&http->sse_rejected, memory_order_relaxed);
    stats->sse_events = atomic_load_explicit(&http->sse_events, memory_order_relaxed);
    stats->sse_gaps = atomic_load_explicit(&http->sse_gaps, memory_order_relaxed);
    stats->sse_missed = atomic_load_explicit(&http->sse_missed, memory_order_relaxed);
}
