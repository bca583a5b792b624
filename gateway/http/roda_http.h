/* roda_http.h - the gateway's HTTP server (libmicrohttpd): /metrics, /healthz, /readyz,
 * /sensors/{id}, /alerts/recent and the /alerts Server-Sent Events stream.
 *
 * The server knows nothing of the pipeline: everything it serves comes through the providers
 * below (callbacks), so the pipeline's counters, the slot store and the alert journal plug in
 * without changing it.
 *
 * Routes (GET and HEAD only; other methods 405 with Allow; unknown paths 404):
 *   /metrics          Prometheus text: each metrics provider appends its families, then the
 *                     server's own (responses by class, SSE clients/rejects/gaps, build info,
 *                     process RSS). Samples that do not fit the buffer are left out whole and
 *                     reported in roda_metrics_omitted_samples (see roda_metrics.h).
 *   /healthz          200 "ok" while the server runs.
 *   /readyz           200 "ready" or 503 with the provider's reason.
 *   /sensors/{id}     200 JSON from the sensor provider, 404 unknown sensor, 400 bad id.
 *   /alerts/recent    200 JSON array from the recent provider; ?limit=N (1 .. its max).
 *   /, /app.js, /style.css, /favicon.svg  the fleet page (roda_page.h), embedded, with its
 *                     Content-Security-Policy.
 *   JSON routes       200 JSON from the route's function (roda_http_add_json), or its status
 *                     (400, 404) with its message as text.
 *   /alerts           text/event-stream from the alert source; ?rule=, ?severity= (exact) and
 *                     ?device= (glob) filter; Last-Event-ID (header) or ?last_event_id= resumes.
 *
 * SSE framing: first `retry: 2000`; each event "id: <position>\nevent: alert\ndata: <json>\n\n";
 * a lost stretch "id: <position>\nevent: gap\ndata: {\"missed\":N,...}\n\n" (counted, never a
 * silent skip); ": heartbeat\n\n" after `sse_heartbeat_ms` without events, which also detects
 * dead clients. More than max_sse_clients streams: 503.
 *
 * Resources: one thread per connection (MHD_USE_THREAD_PER_CONNECTION), at most
 * max_connections connections (more are refused by MHD) and max_connections / 2 per client IP,
 * each with RODA_HTTP_THREAD_STACK bytes of stack and `request_memory` bytes for the request
 * (a longer URL gets 414, longer headers 431, from MHD); idle connections close after
 * `timeout_s`, so a slow client holds one slot for a bounded time. SSE client state
 * (RODA_HTTP_SSE_CLIENT_BYTES each) is preallocated for max_sse_clients at start.
 *
 * Security (off by default): with a certificate and key every route is HTTPS (GnuTLS through
 * libmicrohttpd); with a client CA, requests without a certificate it verifies get 403; with
 * users, requests without the credentials of one get 401 (WWW-Authenticate: Basic). /healthz
 * stays open (liveness reveals nothing). See roda_http_security.h.
 *
 * Threads: start/stop from one thread. Providers are called from connection threads, possibly
 * concurrently (the metrics provider is serialised: one scrape at a time). */
#ifndef RODA_HTTP_H
#define RODA_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_http_security.h"
#include "roda_json.h"
#include "roda_metrics.h"
#include "roda_result.h"

#define RODA_HTTP_MAX_METRICS_PROVIDERS 8
#define RODA_HTTP_THREAD_STACK (256u * 1024u)
#define RODA_HTTP_JSON_MAX (64u * 1024u) /* largest /sensors or /alerts/recent body */

/* ---- SSE source --------------------------------------------------------------------------- */

#define RODA_SSE_DATA_MAX 1024
#define RODA_SSE_NAME_MAX 64

typedef enum roda_sse_next {
    RODA_SSE_EVENT = 0, /* *event holds the next event */
    RODA_SSE_NONE = 1,  /* nothing new now */
    RODA_SSE_GAP = 2,   /* events were lost: event->id is the next position, event->missed how
                           many; the cursor moved past them */
    RODA_SSE_END = 3,   /* the source closed: the stream ends */
} roda_sse_next_t;

/* Filled by the source's next(); the three names are NUL-terminated. */
typedef struct roda_sse_event {
    uint64_t id;                      /* the event's position (journal position of the alert) */
    uint64_t missed;                  /* RODA_SSE_GAP only */
    char rule[RODA_SSE_NAME_MAX];     /* for the ?rule= filter */
    char severity[RODA_SSE_NAME_MAX]; /* for the ?severity= filter */
    char device[RODA_SSE_NAME_MAX];   /* for the ?device= filter */
    size_t data_len;
    char data[RODA_SSE_DATA_MAX]; /* one line of JSON (no newline) */
} roda_sse_event_t;

/* Where /alerts streams come from: each client gets its own cursor (a journal reader that does
 * not gate the writer). Functions are called from the client's connection thread. */
typedef struct roda_sse_source {
    void *context;
    /* Opens a cursor at the live end, or (resume) just after `last_id`. RODA_ERROR_TOO_MANY when
     * no reader is free (the client gets 503). */
    roda_result_t (*open)(void *context, bool resume, uint64_t last_id, void **cursor);
    roda_sse_next_t (*next)(void *context, void *cursor, roda_sse_event_t *event);
    /* Blocks up to `timeout_ms` or until events may be available. */
    void (*wait)(void *context, void *cursor, uint32_t timeout_ms);
    void (*close)(void *context, void *cursor);
} roda_sse_source_t;

/* State of one SSE client, preallocated per max_sse_clients. */
#define RODA_HTTP_SSE_FRAME_MAX (RODA_SSE_DATA_MAX + 256)
#define RODA_HTTP_SSE_CLIENT_BYTES (sizeof(roda_sse_event_t) + RODA_HTTP_SSE_FRAME_MAX + 512)

/* ---- Providers ---------------------------------------------------------------------------- */

typedef void (*roda_http_metrics_fn)(void *context, roda_metrics_t *metrics);

typedef struct roda_http_providers {
    void *context;
    /* Ready to serve? false: fill `reason` (NUL-terminated, < size). NULL: always ready. */
    bool (*ready)(void *context, char *reason, size_t size);
    /* Latest summary of a sensor as one JSON object; false: unknown sensor (404). NULL: 404. */
    bool (*sensor)(void *context, uint64_t sensor_id, roda_json_t *json);
} roda_http_providers_t;

/* The last `limit` alerts as one JSON array (/alerts/recent). */
typedef void (*roda_http_recent_fn)(void *context, uint32_t limit, roda_json_t *json);

typedef struct roda_http_config {
    const char *bind; /* numeric IPv4 or IPv6 address, e.g. "127.0.0.1", "::1", "::" */
    uint16_t port;    /* 0: a free port (see roda_http_port) */
    uint32_t max_connections;
    uint32_t timeout_s; /* idle connection timeout */
    uint32_t max_sse_clients;
    uint32_t sse_heartbeat_ms;
    size_t request_memory; /* MHD memory per connection (bounds URL and headers) */
    size_t metrics_buffer; /* bytes for one /metrics exposition (roda_metrics_buffer_size) */
    roda_http_security_config_t security; /* HTTPS, client certificates, users: all off by "" */
} roda_http_config_t;

typedef struct roda_http_stats {
    uint64_t requests;
    uint64_t responses_2xx, responses_4xx, responses_5xx;
    uint64_t sse_clients;  /* streams open now */
    uint64_t sse_rejected; /* 503: max_sse_clients reached or no reader free */
    uint64_t sse_events;   /* events sent */
    uint64_t sse_gaps;     /* gap events sent */
    uint64_t sse_missed;   /* events those gaps stood for */
} roda_http_stats_t;

typedef struct roda_http roda_http_t;

/* ---- JSON routes -------------------------------------------------------------------------- */

#define RODA_HTTP_MAX_JSON_ROUTES 8

/* One request to a JSON route. */
typedef struct roda_http_request roda_http_request_t;
/* The value of query argument `key` (decoded by MHD; any bytes but NUL), NULL when absent. Valid
 * during the route's call. */
const char *roda_http_arg(const roda_http_request_t *request, const char *key);
/* Argument `key` as a decimal in min .. max, `fallback` when absent; false (with "bad KEY: use
 * MIN..MAX" in `error`) when it is not one. */
bool roda_http_arg_u64(const roda_http_request_t *request, const char *key, uint64_t fallback,
                       uint64_t min, uint64_t max, uint64_t *out, char *error, size_t size);
/* Writes the response into `json` (RODA_HTTP_JSON_MAX bytes) and returns 200, or returns another
 * status (400 a bad argument, 404 unknown) with a one-line message in `error` (< size). Called
 * from connection threads, possibly concurrently. */
typedef unsigned int (*roda_http_json_fn)(void *context, const roda_http_request_t *request,
                                          roda_json_t *json, char *error, size_t size);
/* Serves GET `path` (exact; kept, so a literal) from `fn` (before start). RODA_ERROR_INVALID_ARG,
 * RODA_ERROR_STATE (started), RODA_ERROR_TOO_MANY past RODA_HTTP_MAX_JSON_ROUTES. */
roda_result_t roda_http_add_json(roda_http_t *http, const char *path, roda_http_json_fn fn,
                                 void *context);

/* Adds a /metrics provider (before start; at most RODA_HTTP_MAX_METRICS_PROVIDERS).
 * RODA_ERROR_TOO_MANY past that. */
roda_result_t roda_http_add_metrics(roda_http_t *http, roda_http_metrics_fn fn, void *context);

/* Serves /alerts from `source` (before start). Without one, /alerts answers 503.
 * RODA_ERROR_INVALID_ARG (a callback missing), RODA_ERROR_STATE (started). */
roda_result_t roda_http_set_alerts(roda_http_t *http, const roda_sse_source_t *source);
/* Serves /alerts/recent from `fn` with ?limit=1..`max` (default min(max, 100)), before start.
 * Without one, /alerts/recent is an empty array. RODA_ERROR_INVALID_ARG, RODA_ERROR_STATE. */
roda_result_t roda_http_set_recent(roda_http_t *http, roda_http_recent_fn fn, void *context,
                                   uint32_t max);

/* Checks what roda_http_create checks of `config`, files included (for --check-config): false
 * with "field: what is wrong" in `why`. */
bool roda_http_check(const roda_http_config_t *config, char *why, size_t size);

/* Creates the server (allocates the metrics buffer and SSE clients, reads the TLS files and
 * users: roda_http_security.h); nothing is bound yet. RODA_ERROR_INVALID_ARG (zero bounds, bad
 * address, a bad security file or user: logged with the field), RODA_ERROR_IO (a file not
 * readable: logged), RODA_ERROR_NOMEM. */
roda_result_t roda_http_create(const roda_http_config_t *config,
                               const roda_http_providers_t *providers, roda_http_t **out);
/* Binds and starts serving. RODA_ERROR_SYSTEM when the address cannot be bound (in use, bad
 * address), with a log line saying which. */
roda_result_t roda_http_start(roda_http_t *http);
/* The bound port (after start). */
uint16_t roda_http_port(const roda_http_t *http);
/* Ends the SSE streams, stops accepting, waits for the connection threads. */
void roda_http_stop(roda_http_t *http);
void roda_http_destroy(roda_http_t *http);

void roda_http_stats(const roda_http_t *http, roda_http_stats_t *stats);

#endif
